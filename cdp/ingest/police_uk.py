"""police.uk street-level CSVs: monthly files, folders of them, and the archive zip."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

from .. import geography
from ..priorities import ASB_CRIME_TYPE, POLICE_UK_CRIME_TYPES, PRIORITY_KEYS, police_uk_types
from .common import (ImportFailed, Parsed, Problem, SourceFile, concat_rows, parse_coordinates,
                     problems_frame, read_csv_text)

HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
          "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]
STREET_FILE = re.compile(r"(^|/)\d{4}-\d{2}-[a-z0-9-]+-street\.csv$", re.IGNORECASE)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def source_files(paths: list[Path]) -> list[SourceFile]:
    """Street CSVs from files, folders (searched recursively) and police.uk archive zips."""
    found: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            members = sorted(p for p in path.rglob("*.csv") if STREET_FILE.search(p.as_posix()))
            zips = sorted(path.rglob("*.zip"))
            if not members and not zips:
                raise ImportFailed([Problem(str(path), None, "the folder holds no police.uk street "
                                                             "files (YYYY-MM-<force>-street.csv)")])
            found += [SourceFile(str(p), p.read_bytes()) for p in members]
            for z in zips:
                found += _zip_members(z)
        elif path.suffix.lower() == ".zip":
            found += _zip_members(path)
        elif path.exists():
            found.append(SourceFile(str(path), path.read_bytes()))
        else:
            raise ImportFailed([Problem(str(path), None, "no such file or folder")])
    return found


def _zip_members(path: Path) -> list[SourceFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if STREET_FILE.search(n))
            if not names:
                raise ImportFailed([Problem(str(path), None, "the zip holds no street files "
                                                             "(YYYY-MM/YYYY-MM-<force>-street.csv)")])
            return [SourceFile(f"{path}!{n}", archive.read(n)) for n in names]
    except zipfile.BadZipFile as exc:
        raise ImportFailed([Problem(str(path), None, f"not a readable zip archive ({exc})")]) from None


def parse(src: SourceFile) -> Parsed:
    """Validate one street CSV and turn it into store rows (not yet placed in wards)."""
    frame = read_csv_text(src)
    columns = [c for c in frame.columns if c != "_line"]
    if columns != HEADER:
        raise ImportFailed([Problem(src.name, 1, "not a police.uk street file: the header is "
                                                 f"'{','.join(columns)}', expected '{','.join(HEADER)}'")])
    bad = []
    month_ok = frame["Month"].str.match(MONTH)
    bad.append(problems_frame(frame, ~month_ok, "Month '" + frame["Month"] + "' is not YYYY-MM"))
    type_ok = frame["Crime type"].isin(POLICE_UK_CRIME_TYPES)
    bad.append(problems_frame(frame, ~type_ok, "unknown Crime type '" + frame["Crime type"] + "'"))
    force_ok = frame["Falls within"] != ""
    bad.append(problems_frame(frame, ~force_ok, "'Falls within' is blank"))
    lon, lat, coord_reason = parse_coordinates(frame["Longitude"], frame["Latitude"], geography.GB_LON,
                                               geography.GB_LAT, ("Longitude", "Latitude"))
    bad.append(problems_frame(frame, coord_reason != "", coord_reason))
    rejected = pd.concat(bad)
    rejected["_file"] = src.name
    good = ~frame["_line"].isin(rejected["_line"])

    ok = frame.loc[good]
    crime_type = ok["Crime type"]
    rows = pd.DataFrame({
        "dataset": "police_uk",
        "source": ok["Falls within"],
        "incident_id": ok["Crime ID"].replace("", None),
        "month": pd.to_datetime(ok["Month"], format="%Y-%m"),
        "occurred_at": pd.NaT,
        "time_precision": "month",
        "category": crime_type,
        "is_asb": crime_type == ASB_CRIME_TYPE,
        "longitude": lon[good],
        "latitude": lat[good],
        "lsoa_code": ok["LSOA code"].replace("", None),
        "lsoa_name": ok["LSOA name"].replace("", None),
        "location": ok["Location"].replace({"": None, "No Location": None, "No location": None}),
        "outcome": ok["Last outcome category"].replace("", None),
    })
    for key in PRIORITY_KEYS:
        rows[f"p_{key}"] = crime_type.isin(police_uk_types(key))
    rows["_file"] = src.name
    return Parsed(rows, [rejected] if len(rejected) else [])


def combine(parsed: list[Parsed]) -> pd.DataFrame:
    """All files' rows; where two files cover the same force and month, the later one wins."""
    rows = concat_rows(parsed)
    if rows.empty:
        return rows
    rows["_order"] = rows["_file"].map({f: i for i, f in enumerate(rows["_file"].unique())})
    latest = rows.groupby(["source", "month"])["_order"].transform("max")
    return rows[rows["_order"] == latest].drop(columns="_order")


def replace_keys(rows: pd.DataFrame) -> pd.DataFrame:
    """The (source, month) pairs this import replaces: republished months replace, never double."""
    return rows[["source", "month"]].drop_duplicates()


REPLACE_SQL = """DELETE FROM incidents WHERE dataset = 'police_uk'
                 AND (source, month) IN (SELECT source, month FROM _replace)"""

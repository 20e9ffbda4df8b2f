"""police.uk street-level CSVs: monthly files, folders of them, and the archive zip."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..priorities import ASB_CRIME_TYPE, POLICE_UK_CRIME_TYPES, PRIORITY_KEYS, police_uk_types
from .common import (ImportFailed, Limits, Problem, implausible_months, join_reasons, no_reason,
                     parse_degrees, say)
from .files import display_name, file_source, unique, zip_sources
from .reader import Source

DATASET = "police_uk"
HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
          "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]
STREET_FILE = re.compile(r"(^|/)\d{4}-\d{2}-[a-z0-9-]+-street\.csv$", re.IGNORECASE)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# What one import replaces in the store: each force's month, whatever the case of its name.
REPLACE_KEY = ["lower(source)", "month"]
# Unique within one file's month (ASB rows, which have no Crime ID, excepted).
DUPLICATE_KEY = ["lower(source)", "month", "incident_id"]
DUPLICATE_REASON = ("'Crime ID ''' || incident_id || ''' appears more than once in ' || strftime(month, '%Y-%m')"
                    " || ': first on line ' || first_line")


def source_files(paths: list[Path], limits: Limits, names: dict[Path, str]) -> list[Source]:
    """Street CSVs from files, folders (searched recursively) and police.uk archive zips."""
    found: list[Source] = []
    for path in paths:
        name = display_name(path, names)
        if path.is_dir():
            members = sorted(p for p in path.rglob("*.csv") if STREET_FILE.search(p.as_posix()))
            zips = sorted(path.rglob("*.zip"))
            if not members and not zips:
                raise ImportFailed([Problem(name, None, "the folder holds no police.uk street "
                                                        "files (YYYY-MM-<force>-street.csv)")])
            found += [file_source(p, str(p)) for p in members]
            for z in zips:
                found += _zip(z, str(z), limits)
        elif path.suffix.lower() == ".zip":
            found += _zip(path, name, limits)
        elif path.exists():
            found.append(file_source(path, name))
        else:
            raise ImportFailed([Problem(name, None, "no such file or folder")])
    return unique(found)


def _zip(path: Path, name: str, limits: Limits) -> list[Source]:
    return zip_sources(path, name, lambda member: bool(STREET_FILE.search(member)), limits,
                       "street files (YYYY-MM/YYYY-MM-<force>-street.csv)")


def check_header(source: Source, header: list[str]) -> None:
    if header != HEADER:
        raise ImportFailed([Problem(source.name, 1, "not a police.uk street file: the header is "
                                                    f"'{','.join(header)}', expected '{','.join(HEADER)}'")])


def parse(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One chunk of a street file (cells as text, `_line`) as store rows (not yet placed in wards)
    and the rejected rows (their cells, `_line`, `_reason`)."""
    text = frame["Month"]
    month_ok = text.str.match(MONTH).astype(bool)
    month = pd.to_datetime(text.where(month_ok), format="%Y-%m", errors="coerce")
    malformed = no_reason(frame.index)
    say(malformed, ~month_ok, lambda m: "Month '" + text[m] + "' is not YYYY-MM")
    crime_type = frame["Crime type"]
    unknown = no_reason(frame.index)
    say(unknown, ~crime_type.isin(POLICE_UK_CRIME_TYPES), lambda m: "unknown Crime type '" + crime_type[m] + "'")
    force = no_reason(frame.index)
    say(force, frame["Falls within"] == "", "'Falls within' is blank")
    lon, lat, coordinates = parse_degrees(frame["Longitude"], frame["Latitude"], ("Longitude", "Latitude"))
    reason = join_reasons([malformed, implausible_months(month, text, "Month"), unknown, force, coordinates])
    good = reason == ""
    rejected = frame.loc[~good].assign(_reason=reason[~good])

    ok = frame.loc[good]
    crime_type = ok["Crime type"]
    rows = pd.DataFrame({
        "dataset": DATASET,
        "source": ok["Falls within"],
        "incident_id": ok["Crime ID"].replace("", None),
        "month": month[good],
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
        "_line": ok["_line"],
    })
    for key in PRIORITY_KEYS:
        rows[f"p_{key}"] = crime_type.isin(police_uk_types(key))
    return rows, rejected


def several_files_notes(stage, names: list[str]) -> list[str]:
    """Said when several files of one import hold the same force's month: the last one loads."""
    return [f"{pd.Timestamp(month):%Y-%m} of {source} is in {len(files)} files; loaded the last, "
            f"{names[files[-1]]} (a republished month replaces, never doubles)"
            for (source, month), files in stage.in_several_files()]

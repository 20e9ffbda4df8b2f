"""Partner incident extract, version 1 (DESIGN.md): one row per incident, CSV, UTF-8."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import geography
from ..priorities import partner_flags
from .common import (ImportFailed, Parsed, Problem, SourceFile, concat_rows, parse_coordinates,
                     problems_frame, read_csv_text)

REQUIRED = ["incident_id", "source", "occurred_at", "category"]
FLAGS = ["flag_asb", "flag_drugs", "flag_alcohol", "flag_hate_crime", "flag_weapon",
         "flag_modern_slavery", "flag_exploitation", "flag_domestic_abuse", "flag_sexual_violence"]
OPTIONAL = ["longitude", "latitude", "easting", "northing", "location", "premises_id", "premises_name",
            "premises_type", "victim_id", "offender_id", "victim_age_band", "victim_sex",
            "victim_vulnerable", "offender_age_band", *FLAGS, "hate_strand", "weapon_type", "outcome"]
COLUMNS = REQUIRED + OPTIONAL
AGE_BANDS = {"0-17", "18-24", "25-34", "35-49", "50-64", "65+"}
SEXES = {"F", "M", "X"}
HATE_STRANDS = {"race", "religion", "sexual_orientation", "disability", "transgender"}
WEAPON_TYPES = {"knife", "firearm", "other"}
TRUE = {"true", "1", "yes", "y"}
FALSE = {"false", "0", "no", "n", ""}
# Columns the store keeps as they come (blank -> NULL).
PASSTHROUGH = ["location", "premises_id", "premises_name", "premises_type", "victim_id", "offender_id",
               "victim_age_band", "victim_sex", "offender_age_band", "hate_strand", "weapon_type",
               "outcome"]


def source_files(paths: list[Path]) -> list[SourceFile]:
    """Partner extract CSVs from files and folders (every *.csv in a folder, recursively)."""
    found: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.rglob("*.csv"))
            if not files:
                raise ImportFailed([Problem(str(path), None, "the folder holds no CSV files")])
            found += [SourceFile(str(p), p.read_bytes()) for p in files]
        elif path.exists():
            found.append(SourceFile(str(path), path.read_bytes()))
        else:
            raise ImportFailed([Problem(str(path), None, "no such file or folder")])
    return found


def _check_header(src: SourceFile, columns: list[str]) -> None:
    problems = []
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(f"required column{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)}")
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                        "(partner extract v1 columns are listed in the README)")
    if not ({"longitude", "latitude"} <= set(columns) or {"easting", "northing"} <= set(columns)):
        problems.append("no coordinate columns: give longitude and latitude, or easting and northing")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        problems.append(f"columns repeated: {', '.join(dupes)}")
    if problems:
        raise ImportFailed([Problem(src.name, 1, "wrong header: " + "; ".join(problems))])


def _parse_times(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """occurred_at at three precisions: YYYY-MM, a date, or an ISO date-time. NaT where unreadable."""
    precision = pd.Series("datetime", index=text.index, dtype=object)
    is_month = text.str.fullmatch(r"\d{4}-\d{2}")
    is_day = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    precision[is_month] = "month"
    precision[is_day] = "day"
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    parsed[is_month] = pd.to_datetime(text[is_month], format="%Y-%m", errors="coerce")
    parsed[is_day] = pd.to_datetime(text[is_day], format="%Y-%m-%d", errors="coerce")
    rest = ~is_month & ~is_day & (text != "")
    if rest.any():
        stamps = pd.to_datetime(text[rest], format="ISO8601", errors="coerce", utc=True)
        has_zone = text[rest].str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
        local = stamps.dt.tz_convert("Europe/London").dt.tz_localize(None)
        naive = stamps.dt.tz_localize(None)
        parsed[rest] = local.where(has_zone, naive).astype("datetime64[us]")
    return parsed, precision


def _parse_bool(text: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    lowered = text.str.lower()
    reason = pd.Series("", index=text.index, dtype=object)
    bad = ~lowered.isin(TRUE | FALSE)
    reason[bad] = f"{column} must be true or false, not '" + text[bad] + "'"
    return lowered.isin(TRUE), reason


def _check_values(frame: pd.DataFrame, column: str, allowed: set[str], split: bool = False) -> pd.Series:
    reason = pd.Series("", index=frame.index, dtype=object)
    if column not in frame:
        return reason
    values = frame[column]
    if split:
        parts = values.str.lower().str.split(";")
        bad = parts.map(lambda ps: any(p.strip() not in allowed for p in ps)) & (values != "")
    else:
        bad = ~values.isin(allowed) & (values != "")
    reason[bad] = (f"{column} '" + values[bad] + f"' is not one of {', '.join(sorted(allowed))}")
    return reason


def parse(src: SourceFile) -> Parsed:
    """Validate one partner extract and turn it into store rows (not yet placed in wards)."""
    frame = read_csv_text(src)
    _check_header(src, [c for c in frame.columns if c != "_line"])
    for column in COLUMNS:
        if column not in frame:
            frame[column] = ""

    reasons: list[pd.Series] = []
    for column in REQUIRED:
        reason = pd.Series("", index=frame.index, dtype=object)
        reason[frame[column] == ""] = f"{column} is blank"
        reasons.append(reason)
    occurred, precision = _parse_times(frame["occurred_at"])
    reason = pd.Series("", index=frame.index, dtype=object)
    unreadable = occurred.isna() & (frame["occurred_at"] != "")
    reason[unreadable] = ("occurred_at '" + frame["occurred_at"][unreadable]
                          + "' is not a date-time, a date or YYYY-MM")
    reasons.append(reason)

    lon, lat, lonlat_reason = parse_coordinates(frame["longitude"], frame["latitude"], geography.GB_LON,
                                                geography.GB_LAT, ("longitude", "latitude"))
    east, north, bng_reason = parse_coordinates(frame["easting"], frame["northing"], geography.GB_EASTING,
                                                geography.GB_NORTHING, ("easting", "northing"))
    reasons += [lonlat_reason, bng_reason]

    flags = {}
    for column in FLAGS + ["victim_vulnerable"]:
        flags[column], reason = _parse_bool(frame[column], column)
        reasons.append(reason)
    reasons += [_check_values(frame, "victim_age_band", AGE_BANDS),
                _check_values(frame, "offender_age_band", AGE_BANDS),
                _check_values(frame, "victim_sex", SEXES),
                _check_values(frame, "hate_strand", HATE_STRANDS, split=True),
                _check_values(frame, "weapon_type", WEAPON_TYPES)]

    key = frame["source"] + "\x1f" + frame["incident_id"]
    repeated = key.duplicated(keep="first") & (frame["incident_id"] != "")
    reason = pd.Series("", index=frame.index, dtype=object)
    first_line = frame.groupby(key)["_line"].transform("min")
    reason[repeated] = ("incident_id '" + frame["incident_id"][repeated] + "' of source '"
                        + frame["source"][repeated] + "' already appears on line "
                        + first_line[repeated].astype(str))
    reasons.append(reason)

    joined = reasons[0]
    for reason in reasons[1:]:
        joined = joined.where(reason == "", joined.where(joined == "", joined + "; ") + reason)
    bad = joined != ""
    rejected = problems_frame(frame, bad, joined)
    rejected["_file"] = src.name
    good = ~bad

    ok = frame.loc[good]
    # Where only a grid reference is given, derive longitude/latitude from it.
    from_grid = good & lon.isna() & east.notna()
    if from_grid.any():
        glon, glat = geography.from_bng(east[from_grid].to_numpy(), north[from_grid].to_numpy())
        lon, lat = lon.copy(), lat.copy()
        lon[from_grid], lat[from_grid] = glon, glat
    text = {c: ok[c].replace("", None) for c in PASSTHROUGH}
    text["hate_strand"] = text["hate_strand"].str.lower()
    text["weapon_type"] = text["weapon_type"].str.lower()
    derived = partner_flags(ok["category"], {k: v[good] for k, v in flags.items()},
                            ok["hate_strand"], ok["weapon_type"])
    rows = pd.DataFrame({
        "dataset": "partner",
        "source": ok["source"],
        "incident_id": ok["incident_id"],
        "month": occurred[good].dt.to_period("M").dt.to_timestamp(),
        "occurred_at": occurred[good].where(precision[good] != "month"),
        "time_precision": precision[good],
        "category": ok["category"],
        **derived,
        **{c: flags[c][good] for c in ["flag_alcohol", "flag_drugs", "flag_domestic_abuse",
                                       "flag_sexual_violence", "flag_modern_slavery", "flag_exploitation"]},
        "victim_vulnerable": flags["victim_vulnerable"][good].where(ok["victim_vulnerable"] != ""),
        "longitude": lon[good],
        "latitude": lat[good],
        "easting": east[good],
        "northing": north[good],
        **text,
    })
    rows["_file"] = src.name
    return Parsed(rows, [rejected] if len(rejected) else [])


def combine(parsed: list[Parsed]) -> pd.DataFrame:
    """All files' rows; an incident repeated in a later file replaces the earlier one."""
    return concat_rows(parsed).drop_duplicates(["source", "incident_id"], keep="last")


def replace_keys(rows: pd.DataFrame) -> pd.DataFrame:
    """The (source, incident_id) pairs this import updates rather than duplicates."""
    return rows[["source", "incident_id"]]


REPLACE_SQL = """DELETE FROM incidents WHERE dataset = 'partner'
                 AND (source, incident_id) IN (SELECT source, incident_id FROM _replace)"""

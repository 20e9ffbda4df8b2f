"""Partner incident extract, version 1 (DESIGN.md): one row per incident, CSV, UTF-8."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

import numpy as np

from .. import geography
from ..priorities import partner_flags
from .common import (COORDINATES_AGREE_M, ImportFailed, Limits, Problem, implausible_months, join_reasons,
                     no_reason, parse_degrees, parse_grid, say)
from .files import display_name, file_source, unique
from .reader import Source

DATASET = "partner"

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


def source_files(paths: list[Path], limits: Limits, names: dict[Path, str]) -> list[Source]:
    """Partner extract CSVs from files and folders (every *.csv in a folder, recursively)."""
    found: list[Source] = []
    for path in paths:
        name = display_name(path, names)
        if path.is_dir():
            files = sorted(path.rglob("*.csv"))
            if not files:
                raise ImportFailed([Problem(name, None, "the folder holds no CSV files")])
            found += [file_source(p, str(p)) for p in files]
        elif path.exists():
            found.append(file_source(path, name))
        else:
            raise ImportFailed([Problem(name, None, "no such file or folder")])
    return unique(found)


def check_header(src: Source, columns: list[str]) -> None:
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
    reason = no_reason(text.index)
    say(reason, ~lowered.isin(TRUE | FALSE), lambda m: f"{column} must be true or false, not '" + text[m] + "'")
    return lowered.isin(TRUE), reason


def _check_values(frame: pd.DataFrame, column: str, allowed: set[str], split: bool = False) -> pd.Series:
    reason = no_reason(frame.index)
    values = frame[column]
    given = values != ""
    if not given.any():
        return reason
    if split:
        # Each distinct value once: a column holds a handful of them.
        distinct = values[given].unique()
        wrong = {v for v in distinct if any(p.strip() not in allowed for p in v.lower().split(";"))}
        bad = values.isin(wrong)
    else:
        bad = ~values.isin(allowed) & given
    say(reason, bad, lambda m: f"{column} '" + values[m] + f"' is not one of {', '.join(sorted(allowed))}")
    return reason


def parse(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One chunk of an extract (cells as text, `_line`) as store rows (not yet placed in wards) and
    the rejected rows (their cells, `_line`, `_reason`)."""
    given = list(frame.columns)
    frame = frame.copy()
    for column in COLUMNS:
        if column not in frame:
            frame[column] = ""

    reasons: list[pd.Series] = []
    for column in REQUIRED:
        reasons.append(no_reason(frame.index))
        say(reasons[-1], frame[column] == "", f"{column} is blank")
    occurred, precision = _parse_times(frame["occurred_at"])
    reasons.append(no_reason(frame.index))
    say(reasons[-1], occurred.isna() & (frame["occurred_at"] != ""),
        lambda m: "occurred_at '" + frame["occurred_at"][m] + "' is not a date-time, a date or YYYY-MM")
    month = occurred.dt.to_period("M").dt.to_timestamp()
    reasons.append(implausible_months(month, frame["occurred_at"], "occurred_at"))

    lon, lat, lonlat_reason = parse_degrees(frame["longitude"], frame["latitude"], ("longitude", "latitude"),
                                            grid_columns="easting" in given)
    east, north, bng_reason = parse_grid(frame["easting"], frame["northing"], ("easting", "northing"))
    reasons += [lonlat_reason, bng_reason, _disagreement(lon, lat, east, north)]

    flags = {}
    for column in FLAGS + ["victim_vulnerable"]:
        flags[column], reason = _parse_bool(frame[column], column)
        reasons.append(reason)
    reasons += [_check_values(frame, "victim_age_band", AGE_BANDS),
                _check_values(frame, "offender_age_band", AGE_BANDS),
                _check_values(frame, "victim_sex", SEXES),
                _check_values(frame, "hate_strand", HATE_STRANDS, split=True),
                _check_values(frame, "weapon_type", WEAPON_TYPES)]

    joined = join_reasons(reasons)
    good = joined == ""
    rejected = frame.loc[~good, given].assign(_reason=joined[~good])

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
        "dataset": DATASET,
        "source": ok["source"],
        "incident_id": ok["incident_id"],
        "month": month[good],
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
        "_line": ok["_line"],
    })
    return rows, rejected


def _disagreement(lon: pd.Series, lat: pd.Series, east: pd.Series, north: pd.Series) -> pd.Series:
    """Rows giving both coordinate pairs that put the incident in two places."""
    reason = no_reason(lon.index)
    both = (lon.notna() & east.notna()).to_numpy()
    if not both.any():
        return reason
    e, n = geography.to_bng(lon.to_numpy(dtype=float)[both], lat.to_numpy(dtype=float)[both])
    apart = np.hypot(e - east.to_numpy(dtype=float)[both], n - north.to_numpy(dtype=float)[both])
    far = apart > COORDINATES_AGREE_M
    reason[lon.index[both][far]] = [
        f"longitude/latitude and easting/northing are {m:,.0f} m apart (more than {COORDINATES_AGREE_M} m): "
        "give one pair, or correct the wrong one" for m in apart[far]]
    return reason


# What one import replaces in the store: each incident of each source, whatever the case of the
# source's name. Unique within one file, too.
REPLACE_KEY = ["lower(source)", "incident_id"]
DUPLICATE_KEY = REPLACE_KEY
DUPLICATE_REASON = ("'incident_id ''' || incident_id || ''' of source ''' || source || ''' already appears on "
                    "line ' || first_line")


def several_files_notes(stage, names: list[str]) -> list[str]:
    """Said when incidents appear in several files of one import: the last file's version loads."""
    count = stage.several_files_count()
    if not count:
        return []
    return [f"{count:,} incident{'s' if count != 1 else ''} appear in more than one file; the last "
            "file's version was loaded"]

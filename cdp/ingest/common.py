"""What every importer shares: problems and their messages, size limits, plausible values, placing
points in wards."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .. import geography

MAX_PROBLEMS_SHOWN = 20
MAX_PROBLEMS_KEPT = 1_000  # problems kept for the message and callers; the rest are counted

EARLIEST_MONTH = pd.Timestamp("1990-01-01")
# Both coordinate pairs given: they must agree to within this distance (metres). Six-figure grid
# references are 100 m squares, so a pair rounded that way is up to 71 m from the other.
COORDINATES_AGREE_M = 150


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # physical line in the file (the header is line 1); None for the whole file
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class ImportFailed(Exception):
    """Input that cannot be loaded. Nothing was written to the store.

    `problems` holds up to MAX_PROBLEMS_KEPT of them in file and line order; `total` counts all.
    """

    def __init__(self, problems: list[Problem], hint: str = "", total: int | None = None):
        self.problems = problems
        self.total = max(total or 0, len(problems))
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = self.total - min(len(problems), MAX_PROBLEMS_SHOWN)
        plural = "s" if self.total != 1 else ""
        text = f"import failed, nothing was loaded ({self.total:,} problem{plural}):\n{shown}"
        if more > 0:
            text += f"\n  ... and {more:,} more"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one import reads, so a small archive cannot swell into an outage.

    The defaults suit any real police.uk archive of one force and any partner extract; the
    command line can raise them (each message names its option), the Data page cannot.
    """
    max_inflated_bytes: int = 1 << 30  # street files inflated from archives, all together
    max_ratio: float = 100.0           # inflated size / compressed size of an archive member
    max_members: int = 10_000          # entries in one archive's directory
    max_rows_per_file: int = 2_000_000

    @classmethod
    def none(cls) -> "Limits":
        """No bounds: for files the product writes itself (the demo data)."""
        return cls(max_inflated_bytes=1 << 62, max_ratio=float("inf"), max_members=1 << 62,
                   max_rows_per_file=1 << 62)


# How each limit can be raised from the command line (named in the messages).
LIMIT_OPTIONS = {"max_inflated_bytes": "--max-inflated-mb", "max_ratio": "--max-zip-ratio",
                 "max_members": "--max-zip-members", "max_rows_per_file": "--max-rows-per-file"}


def limit_hint(name: str) -> str:
    return f" (the limit for one import; the command line can raise it with {LIMIT_OPTIONS[name]})"


def current_month() -> pd.Timestamp:
    """The first day of this month in the UK: no incident can be dated later than this month."""
    today = pd.Timestamp.now(tz=ZoneInfo("Europe/London")).date()
    return pd.Timestamp(date(today.year, today.month, 1))


def no_reason(index: pd.Index) -> pd.Series:
    return pd.Series("", index=index, dtype=object)


def say(reason: pd.Series, mask: pd.Series, text) -> None:
    """Set `text` as the reason where `mask` holds. `text` is a string, or a function of the mask
    giving one per row (built only when some row needs it: most chunks have no problem)."""
    if mask.any():
        reason[mask] = text(mask) if callable(text) else text


def implausible_months(months: pd.Series, text: pd.Series, column: str) -> pd.Series:
    """Reasons for months before 1990 or after the current month ('' where plausible or NaT)."""
    reason = no_reason(months.index)
    now = current_month()
    say(reason, months > now, lambda m: f"{column} '" + text[m] + f"' is in the future (after {now:%B %Y})")
    say(reason, months < EARLIEST_MONTH,
        lambda m: f"{column} '" + text[m] + f"' is before {EARLIEST_MONTH:%Y}: not a plausible date for "
                  "these records")
    return reason


def join_reasons(reasons: list[pd.Series]) -> pd.Series:
    """Each row's reasons joined with '; ' ('' for a good row)."""
    given = [r for r in reasons if (r != "").any()]
    if not given:
        return reasons[0]
    joined = given[0]
    for reason in given[1:]:
        joined = joined.where(reason == "", joined.where(joined == "", joined + "; ") + reason)
    return joined


def _pair(names: tuple[str, str], x: pd.Series, y: pd.Series):
    """'name/name (x, y)' for the masked rows, from the values as written."""
    return lambda m: f"{names[0]}/{names[1]} (" + x[m] + ", " + y[m] + ")"


def parse_degrees(x: pd.Series, y: pd.Series, names: tuple[str, str],
                  grid_columns: bool = False) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Longitude/latitude from two text columns: (lon, lat, reason), reason '' for good or blank.

    Swapped values and grid metres given as degrees are named as such. `grid_columns` says the
    file also has easting/northing columns, where grid metres belong.
    """
    xs, ys, reason, given = _numbers(x, y, names)
    inside = xs.between(*geography.GB_LON) & ys.between(*geography.GB_LAT)
    wrong = given & ~inside
    if wrong.any():
        pair = _pair(names, x, y)
        swapped = wrong & xs.between(*geography.GB_LAT) & ys.between(*geography.GB_LON)
        say(reason, swapped, lambda m: pair(m) + f" look swapped: {names[0].lower()} runs east-west (-9 to "
                                                 f"2.5 across Great Britain), {names[1].lower()} north-south "
                                                 "(49.5 to 61.5)")
        metres = (wrong & ~swapped & ((xs.abs() > 180) | (ys.abs() > 90))
                  & xs.between(*geography.GB_EASTING) & ys.between(*geography.GB_NORTHING))
        where = ("put them in the easting and northing columns" if grid_columns
                 else "this file's coordinates must be WGS84 degrees")
        say(reason, metres, lambda m: pair(m) + f" look like British National Grid metres, not degrees: {where}")
        say(reason, wrong & ~swapped & ~metres, lambda m: pair(m) + " lie outside Great Britain")
    return xs.where(reason == ""), ys.where(reason == ""), reason


def parse_grid(x: pd.Series, y: pd.Series, names: tuple[str, str]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """British National Grid easting/northing from two text columns: (east, north, reason)."""
    xs, ys, reason, given = _numbers(x, y, names)
    pair = _pair(names, x, y)
    degrees = given & (xs.abs() <= 180) & (ys.abs() <= 90)
    say(reason, degrees, lambda m: pair(m) + " look like longitude/latitude in degrees, not grid metres: put "
                                             "them in the longitude and latitude columns")
    inside = xs.between(*geography.GB_EASTING) & ys.between(*geography.GB_NORTHING)
    say(reason, given & ~degrees & ~inside, lambda m: pair(m) + " lie outside Great Britain")
    return xs.where(reason == ""), ys.where(reason == ""), reason


def _numbers(x: pd.Series, y: pd.Series, names: tuple[str, str]):
    """Both values as numbers; reason for half-given and non-numeric pairs; mask of usable pairs."""
    xs = pd.to_numeric(x.where(x != ""), errors="coerce").astype(float)
    ys = pd.to_numeric(y.where(y != ""), errors="coerce").astype(float)
    reason = no_reason(x.index)
    say(reason, (x == "") ^ (y == ""), f"{names[0]} and {names[1]} must both be given or both blank")
    both = (x != "") & (y != "")
    not_number = both & (xs.isna() | ys.isna() | ~np.isfinite(xs) | ~np.isfinite(ys))
    say(reason, not_number, lambda m: f"{names[0]}/{names[1]} are not numbers: '" + x[m] + "', '" + y[m] + "'")
    return xs, ys, reason, both & ~not_number


def place(rows: pd.DataFrame, wards) -> pd.DataFrame:
    """Fill easting/northing, ward_code and location_status from longitude/latitude."""
    located = (rows["longitude"].notna() & rows["latitude"].notna()).to_numpy()
    lon = rows["longitude"].to_numpy(dtype=float)[located]
    lat = rows["latitude"].to_numpy(dtype=float)[located]
    for col in ("easting", "northing"):
        if col not in rows:
            rows[col] = np.nan
    need_bng = located & rows["easting"].isna().to_numpy()
    if need_bng.any():
        east, north = geography.to_bng(rows["longitude"].to_numpy(dtype=float)[need_bng],
                                       rows["latitude"].to_numpy(dtype=float)[need_bng])
        rows.loc[need_bng, "easting"] = np.round(east, 1)
        rows.loc[need_bng, "northing"] = np.round(north, 1)
    codes = geography.assign_wards(lon, lat, wards, rows["easting"].to_numpy(dtype=float)[located],
                                   rows["northing"].to_numpy(dtype=float)[located])
    rows["ward_code"] = None
    rows.loc[located, "ward_code"] = codes
    rows["location_status"] = np.where(~located, "unlocated",
                                       np.where(rows["ward_code"].isna(), "outside_area", "in_area"))
    return rows

"""What every importer shares: reading CSV files safely, reporting problems, locating points."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import geography

MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1-based line in the file (the header is line 1); None for the whole file
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class ImportFailed(Exception):
    """Input that cannot be loaded. Nothing was written to the store."""

    def __init__(self, problems: list[Problem], hint: str = ""):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        text = f"import failed, nothing was loaded ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{shown}"
        if more > 0:
            text += f"\n  ... and {more} more"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


@dataclass
class SourceFile:
    """One CSV's bytes, with the name to show in messages (a path, or zip!member)."""
    name: str
    data: bytes


@dataclass
class Parsed:
    """Rows ready for the store, plus rejected rows with reasons."""
    rows: pd.DataFrame
    rejected: list[pd.DataFrame] = field(default_factory=list)


def concat_rows(parsed: list[Parsed]) -> pd.DataFrame:
    """Every file's good rows in one frame, in file order (empty if none)."""
    frames = [p.rows for p in parsed if len(p.rows)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_csv_text(src: SourceFile) -> pd.DataFrame:
    """All cells as strings (blank = ''), with a `_line` column; raises ImportFailed for the file."""
    try:
        text = src.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = src.data[: exc.start].count(b"\n") + 1
        raise ImportFailed([Problem(src.name, line, f"not valid UTF-8 (byte {exc.start}); "
                                                    "save the file as UTF-8 and try again")]) from None
    if not text.strip():
        raise ImportFailed([Problem(src.name, None, "the file is empty: no header and no rows")])
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        raise ImportFailed([Problem(src.name, None, f"not a readable CSV ({exc})")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise ImportFailed([Problem(src.name, None, "the file has a header but no rows")])
    frame = frame.apply(lambda col: col.str.strip())
    frame["_line"] = np.arange(2, len(frame) + 2)
    return frame


def problems_frame(frame: pd.DataFrame, mask: pd.Series, reason: str | pd.Series) -> pd.DataFrame:
    """The rows of `frame` where `mask` holds, with a `_reason` column."""
    bad = frame.loc[mask].copy()
    bad["_reason"] = reason if isinstance(reason, str) else reason.loc[mask]
    return bad


def parse_coordinates(x: pd.Series, y: pd.Series, lo_x: tuple[float, float], lo_y: tuple[float, float],
                      names: tuple[str, str]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Numbers from two text columns; returns (x, y, reason) with reason '' for good or blank rows."""
    blank = (x == "") & (y == "")
    xs = pd.to_numeric(x.where(x != ""), errors="coerce")
    ys = pd.to_numeric(y.where(y != ""), errors="coerce")
    reason = pd.Series("", index=x.index, dtype=object)
    half = ((x == "") ^ (y == ""))
    reason[half] = f"{names[0]} and {names[1]} must both be given or both blank"
    not_number = ~blank & ~half & (xs.isna() | ys.isna())
    reason[not_number] = (f"{names[0]}/{names[1]} are not numbers: '" + x[not_number] + "', '"
                          + y[not_number] + "'")
    outside = ~blank & ~half & ~not_number & ~(xs.between(*lo_x) & ys.between(*lo_y))
    reason[outside] = (f"{names[0]}/{names[1]} ({x[outside]}, {y[outside]}) lie outside Great Britain")
    return xs, ys, reason


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

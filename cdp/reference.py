"""Ward reference files: deprivation scores (IMD 2019) and resident populations.

Both are CSV files (UTF-8, a byte-order mark is allowed) with a header row, one row per ward,
keyed by the ward code used by the boundary file. Columns other than those listed are ignored.

IMD 2019 (configured by CDP_IMD; by default ../shared/geo/nottingham_ward_imd2019.csv):
    ward_code,imd_score[,imd_proportion,imd_extent,imd_income_score,...]
    E05012270,54.7601,...
`imd_score` is the ward's average English Indices of Deprivation 2019 score (higher is more
deprived). Other numeric columns are kept as they are.

Ward population (optional, configured by CDP_POPULATION), used for rates per 1,000 residents:
    ward_code,population
    E05012270,18712
    E05012271,15230
`population` is the number of residents (e.g. the ONS mid-year estimate), a whole number above 0;
digits only (no thousands separators). Wards missing from the file get no rate.

A file that cannot be used raises ReferenceFileError naming the file, the line and the reason.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from . import config


@dataclass(frozen=True)
class Configured:
    """Which file a reference setting points at: `path` (None when none is configured), whether
    it is the synthetic demo's copy, and the environment variable that names a real one."""
    env: str
    path: Path | None
    synthetic: bool = False

    @property
    def label(self) -> str:
        """'the synthetic demo's cctv.csv' or the file's path, for captions and messages."""
        if self.path is None:
            return "none"
        return f"the synthetic demo's {self.path.name}" if self.synthetic else str(self.path)

    def stamp(self) -> tuple[str, float] | None:
        """(path, modification time) to cache a reading by, None when there is no file."""
        if self.path is None:
            return None
        return str(self.path), self.path.stat().st_mtime if self.path.exists() else 0.0


def configured(con, env: str, demo_name: str) -> Configured:
    """The file `env` names; else, while the store holds the synthetic demo data, the demo's own
    copy (cdp.demo_reference, written when missing); else none."""
    path = config.setting_path(env)
    if path is not None:
        return Configured(env, path)
    from . import demo_reference
    demo = demo_reference.ensure(con, demo_name)
    return Configured(env, demo, synthetic=demo is not None)


class ReferenceFileError(ValueError):
    """A reference file that cannot be used; the message names the file, the line and why."""

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {reason}")


def read_rows(path: str | Path, required: tuple[str, ...], what: str = "wards"
              ) -> list[tuple[int, dict[str, str]]]:
    """(physical line number, row) for each data row of a CSV reference file, after checking the
    header has the `required` columns. Values are stripped; blank lines are skipped; `what` names
    the rows in the message for a file with a header and nothing below it."""
    path = Path(path)
    if not path.exists():
        raise ReferenceFileError(path, None, "no such file")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in (reader.fieldnames or [])]
            if not header:
                raise ReferenceFileError(path, 1, "the file is empty: expected a header row "
                                                  f"with {', '.join(required)}")
            missing = [name for name in required if name not in header]
            if missing:
                raise ReferenceFileError(path, 1, f"no {', '.join(missing)} column (expected "
                                                  f"{', '.join(required)}; found {', '.join(header)})")
            reader.fieldnames = header
            rows = []
            for row in reader:
                if None in row:
                    raise ReferenceFileError(path, reader.line_num,
                                             f"more values than the {len(header)} header columns")
                if not any((value or "").strip() for value in row.values()):
                    continue  # a blank line
                rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    except UnicodeDecodeError as exc:
        raise ReferenceFileError(path, None, f"not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise ReferenceFileError(path, None, f"not a readable CSV file ({exc})") from exc
    if not rows:
        raise ReferenceFileError(path, None, f"the file has a header but no {what}")
    return rows


def first_time(path, line: int, key, seen: dict, what: str) -> None:
    """Refuse a row whose `key` an earlier row of the file held (`seen`: key -> its line);
    `what` names the row in the message."""
    if key in seen:
        raise ReferenceFileError(path, line, f"{what} appears again (first on line {seen[key]})")
    seen[key] = line


def _ward_code(path, line: int, row: dict[str, str], seen: dict[str, int]) -> str:
    code = row["ward_code"]
    if not code:
        raise ReferenceFileError(path, line, "the ward_code is empty")
    first_time(path, line, code, seen, f"ward {code}")
    return code


def number(path, line: int, column: str, text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise ReferenceFileError(path, line, f"{column} '{text}' is not a number") from None
    if not math.isfinite(value):
        raise ReferenceFileError(path, line, f"{column} '{text}' is not a number")
    return value


def whole_number(path, line: int, column: str, text: str, blank_ok: bool = False) -> int | None:
    """A count written as digits (thousands separators allowed: "1,234"); None for a blank when
    `blank_ok`."""
    raw = text.replace(",", "").strip()
    if not raw and blank_ok:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise ReferenceFileError(path, line, f"{column} '{text}' is not a whole number of 0 or more"
                                 if text else f"{column} is empty")
    return int(raw)


def month(path, line: int, column: str, text: str) -> date:
    """'YYYY-MM' as the first day of that month."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise ReferenceFileError(path, line, f"{column} '{text}' is not a month written YYYY-MM"
                                 if text else f"{column} is empty")
    return date(int(text[:4]), int(text[5:]), 1)


def day(path, line: int, column: str, text: str) -> date:
    """'YYYY-MM-DD' as a date."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ReferenceFileError(path, line, f"{column} '{text}' is not a date written YYYY-MM-DD"
                                 if text else f"{column} is empty") from None


def load_imd(path: str | Path | None = None) -> pd.DataFrame:
    """IMD 2019 by ward: ward_code, imd_score and any other numeric columns of the file.

    Reads `path`, else the configured file (config.imd_path()); ReferenceFileError when there is
    none or it cannot be used.
    """
    path = path or config.imd_path()
    if path is None:
        raise ReferenceFileError("CDP_IMD", None, "no IMD 2019 ward file is configured")
    rows = read_rows(path, ("ward_code", "imd_score"))
    seen: dict[str, int] = {}
    records = []
    for line, row in rows:
        record = {"ward_code": _ward_code(path, line, row, seen)}
        for column, text in row.items():
            if column == "ward_code":
                continue
            if column == "imd_score" or text:
                record[column] = number(path, line, column, text) if text else None
            if column == "imd_score" and not text:
                raise ReferenceFileError(path, line, "the imd_score is empty")
        records.append(record)
    return pd.DataFrame.from_records(records).sort_values("ward_code", ignore_index=True)


def load_population(path: str | Path | None = None) -> pd.Series | None:
    """Residents per ward (a Series indexed by ward_code), or None when no file is configured.

    Reads `path`, else config.population_path() (CDP_POPULATION); ReferenceFileError for a file
    that cannot be used.
    """
    path = path or config.population_path()
    if path is None:
        return None
    rows = read_rows(path, ("ward_code", "population"))
    seen: dict[str, int] = {}
    values = {}
    for line, row in rows:
        code = _ward_code(path, line, row, seen)
        text = row["population"]
        if not text:
            raise ReferenceFileError(path, line, f"the population of {code} is empty")
        if not text.isascii() or not text.isdigit():
            raise ReferenceFileError(path, line, f"population '{text}' is not a whole number "
                                                 "(digits only, no separators)")
        if int(text) == 0:
            raise ReferenceFileError(path, line, f"the population of {code} must be above 0")
        values[code] = int(text)
    return pd.Series(values, name="population", dtype="int64").rename_axis("ward_code").sort_index()


def unmatched_wards(reference_codes, ward_codes) -> tuple[list[str], list[str]]:
    """(wards of the boundaries missing from a reference file, codes in the file that are no ward)."""
    reference, wards = set(reference_codes), set(ward_codes)
    return sorted(wards - reference), sorted(reference - wards)


def matches_any(reference_codes, ward_codes) -> bool:
    """Whether a reference file describes any of the loaded wards (another area's file does not)."""
    return bool(set(reference_codes) & set(ward_codes))

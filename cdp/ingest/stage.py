"""The staging table: an import's rows, checked across chunks and files before they reach the store.

Rows land in a temporary table inside the import's transaction, chunk by chunk, so memory stays
bounded whatever the file size. The checks that need every row at once run there in SQL: a key
repeated within one file, the same key in several files (the last file wins), a source named in
another case than the store already has. Then one DELETE and one INSERT bring the store up to date.
Temporary tables vanish with the transaction, so a failure at any point leaves the store as it was.
The SQL is the subset DuckLake also runs (no constraints, no upserts, no rowid).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import duckdb
import pandas as pd
import pyarrow as pa

from .common import MAX_PROBLEMS_KEPT

TABLE = "_import_stage"
REFUSED = "_import_refused"
# DuckDB's own memory during an import (it spills to its temporary folder beyond this), so that an
# import of any size stays well under 1.5 GB with the importer's chunks.
MEMORY_LIMIT = "512MiB"


def _bytes(setting: str) -> float:
    """A DuckDB memory setting ('18.8 GiB', '512.0 MiB') in bytes."""
    units = {"": 1, "b": 1, "bytes": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
             "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
    found = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", setting)
    if not found or found.group(2).lower() not in units:
        return float("inf")
    return float(found.group(1)) * units[found.group(2).lower()]


@contextmanager
def bounded_memory(con: duckdb.DuckDBPyConnection, limit: str = MEMORY_LIMIT) -> Iterator[None]:
    """Lower DuckDB's memory limit for the import (never raise it), and restore it afterwards."""
    old = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    if _bytes(limit) >= _bytes(old):
        yield
        return
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:  # the setting reads back rounded ('18.8 GiB'): the default comes back exactly by RESET
        con.execute("RESET memory_limit")
        if con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] != old:
            con.execute(f"SET memory_limit = '{old}'")


@dataclass
class Refused:
    """Rows refused by the whole-import checks (kept up to MAX_PROBLEMS_KEPT; `total` counts all)."""
    rows: list[tuple[int, int, str]]  # (file number, line, reason)
    total: int


class Stage:
    """The staged rows of one import of `importer` (cdp.ingest.police_uk or .partner)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, importer, files: int):
        self.con = con
        self.importer = importer
        self.files = files
        self.columns: list[str] | None = None

    def add(self, rows: pd.DataFrame, file_no: int) -> None:
        """Stage one chunk of store rows (with `_line`) from file number `file_no`."""
        if rows.empty:
            return
        rows = rows.assign(_file_no=file_no)
        if self.columns is None:
            self.columns = [c for c in rows.columns if not c.startswith("_")]
            self.con.execute(f"""CREATE TEMP TABLE {TABLE} AS
                SELECT {', '.join(self.columns)}, 0::INTEGER AS _file_no, 0::BIGINT AS _line
                FROM incidents LIMIT 0""")
            self.con.execute(f"CREATE TEMP TABLE {REFUSED} (_file_no INTEGER, _line BIGINT)")
        # Through Arrow: the text columns are Arrow strings already, so nothing is copied row by row.
        table = pa.Table.from_pandas(rows[[*self.columns, "_file_no", "_line"]], preserve_index=False)
        self.con.from_arrow(table).insert_into(TABLE)

    @property
    def empty(self) -> bool:
        return self.columns is None or self.count() == 0

    def count(self) -> int:
        return self.con.execute(f"SELECT count(*) FROM {self.live}").fetchall()[0][0]

    @property
    def live(self) -> str:
        """The staged rows that stay: not refused, and from the last file holding their key."""
        if self.files == 1:
            return f"(SELECT s.* FROM {TABLE} s ANTI JOIN {REFUSED} r USING (_file_no, _line))"
        key = ", ".join(self.importer.REPLACE_KEY)
        return f"""(SELECT * EXCLUDE (last_file) FROM (
                    SELECT s.*, max(_file_no) OVER (PARTITION BY {key}) AS last_file
                    FROM {TABLE} s ANTI JOIN {REFUSED} r USING (_file_no, _line))
                   WHERE _file_no = last_file)"""

    def duplicates(self) -> Refused:
        """Rows whose key already appeared earlier in the same file (NULL keys excepted)."""
        key = ", ".join(self.importer.DUPLICATE_KEY)
        self.con.execute(f"""CREATE OR REPLACE TEMP TABLE _import_duplicates AS
            SELECT _file_no, _line, {self.importer.DUPLICATE_REASON} AS reason FROM (
                SELECT *, min(_line) OVER (PARTITION BY _file_no, {key}) AS first_line
                FROM {TABLE} WHERE incident_id IS NOT NULL)
            WHERE _line > first_line""")
        total = self.con.execute("SELECT count(*) FROM _import_duplicates").fetchall()[0][0]
        rows = self.con.execute("SELECT _file_no, _line, reason FROM _import_duplicates "
                                f"ORDER BY _file_no, _line LIMIT {MAX_PROBLEMS_KEPT}").fetchall()
        return Refused(rows, total)

    def refuse_duplicates(self) -> Iterator[tuple[int, int, str]]:
        """Drop the duplicates from what loads; yields each (file number, line, reason) in order."""
        self.con.execute(f"INSERT INTO {REFUSED} SELECT _file_no, _line FROM _import_duplicates")
        # Streamed from this connection (its temporary tables are its own): run nothing else on it
        # until the rows are consumed.
        self.con.execute("SELECT _file_no, _line, reason FROM _import_duplicates ORDER BY _file_no, _line")
        while batch := self.con.fetchmany(10_000):
            yield from batch

    def in_several_files(self) -> list[tuple[tuple, list[int]]]:
        """Keys staged from more than one file: (key values, the file numbers holding it)."""
        if self.files == 1:
            return []
        key = ", ".join(self.importer.REPLACE_KEY)
        return [(row[:-1], row[-1]) for row in self.con.execute(f"""
            SELECT {key.replace('lower(source)', 'min(source)')}, list(DISTINCT _file_no ORDER BY _file_no)
            FROM {TABLE} GROUP BY {key} HAVING count(DISTINCT _file_no) > 1 ORDER BY ALL""").fetchall()]

    def several_files_count(self) -> int:
        if self.files == 1:
            return 0
        key = ", ".join(self.importer.REPLACE_KEY)
        return self.con.execute(f"""SELECT count(*) FROM (SELECT 1 FROM {TABLE} GROUP BY {key}
                                    HAVING count(DISTINCT _file_no) > 1)""").fetchall()[0][0]

    def summary(self) -> dict:
        rows = self.con.execute(f"""SELECT count(*), count(*) FILTER (location_status = 'unlocated'),
                                    count(*) FILTER (location_status = 'outside_area') FROM {self.live}""")
        loaded, unlocated, outside = rows.fetchall()[0]
        return {"rows": loaded, "unlocated": unlocated, "outside_area": outside}

    def write(self, import_id: int) -> int:
        """Replace what this import supersedes in the store and insert the staged rows; returns the
        number of stored rows replaced. Sources keep the spelling the store already has (or the
        first spelling in this import), so a force named in another case is the same force."""
        dataset = self.importer.DATASET
        key = ", ".join(self.importer.REPLACE_KEY)
        con = self.con
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _import_sources AS
            SELECT s.k, coalesce(i.spelling, s.spelling) AS spelling FROM
                (SELECT lower(source) AS k, arg_min(source, (_file_no, _line)) AS spelling
                 FROM {TABLE} GROUP BY 1) s
            LEFT JOIN (SELECT lower(source) AS k, min(source) AS spelling FROM incidents
                       WHERE dataset = ? GROUP BY 1) i USING (k)""", [dataset])
        before = con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
        con.execute(f"""DELETE FROM incidents WHERE dataset = ?
                        AND ({key}) IN (SELECT DISTINCT {key} FROM {TABLE})""", [dataset])
        replaced = before - con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
        columns = [c for c in self.columns if c != "source"]
        con.execute(f"""INSERT INTO incidents BY NAME
            SELECT {', '.join(f's.{c}' for c in columns)}, n.spelling AS source, ? AS import_id
            FROM {self.live} s JOIN _import_sources n ON n.k = lower(s.source)""", [import_id])
        return replaced

    def drop(self) -> None:
        for table in (TABLE, REFUSED, "_import_duplicates", "_import_sources"):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")

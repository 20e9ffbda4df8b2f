"""The rejected-rows file of `--skip-bad-rows`: where it may go, how it is written, the audit.

Rejected rows carry person keys, so the file is created new (never over an existing file), readable
by its owner only (0600), and its writing is recorded in the audit log. It may not be the store, an
input file, or inside an input folder; a path that is refused stops the import before anything
is read.
"""
from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from .. import access, config
from ..exports import CsvWriter

PERSON_KEYS = ("victim_id", "offender_id")
LEADING = ["file", "line", "reason"]


class RejectsPathError(ValueError):
    """A rejects path that cannot be used; the message is one line naming the path and why."""


def default_path() -> Path:
    return Path.cwd() / f"rejected-rows-{datetime.now():%Y%m%d-%H%M%S}.csv"


def _store_files(con: duckdb.DuckDBPyConnection) -> list[Path]:
    """The files of every database the connection has attached (and their write-ahead logs)."""
    files = []
    for (path,) in con.execute("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL").fetchall():
        if path:
            files += [Path(path), Path(f"{path}.wal")]
    return files


def check_path(path: Path, inputs: list[Path], con: duckdb.DuckDBPyConnection) -> Path:
    """`path` resolved, or RejectsPathError saying why rejected rows may not be written there."""
    shown = str(path)
    if path.exists() and path.is_dir():
        raise RejectsPathError(f"--rejects {shown} is a folder: give the name of a new CSV file")
    folder = path.expanduser().parent
    if not folder.is_dir():
        raise RejectsPathError(f"--rejects {shown}: the folder {folder} does not exist")
    target = folder.resolve() / path.name
    protected = {p.resolve() for p in _store_files(con)} | {config.audit_log_path().resolve()}
    if target in protected:
        raise RejectsPathError(f"--rejects {shown} is the store or its audit log: rejected rows are "
                               "never written over them")
    for given in inputs:
        source = given.resolve()
        if target == source:
            raise RejectsPathError(f"--rejects {shown} is an input file: choose another name")
        if given.is_dir() and source in target.parents:
            raise RejectsPathError(f"--rejects {shown} is inside the input folder {given}: rejected rows "
                                   "would be read as input next time; choose a path outside it")
    if path.exists() or path.is_symlink():
        raise RejectsPathError(f"--rejects {shown} already exists: rejected rows are never written over "
                               "a file; choose a new name")
    return target


class RejectsFile:
    """A new private CSV of rejected rows: file, line, reason, then the rows' own columns.

    `columns` are the input columns in the order they first appear; person keys are left out
    when `person_keys` is false. Call `finish` after the import committed, `discard` otherwise.
    """

    def __init__(self, path: Path, columns: list[str], person_keys: bool = True):
        self.path = path
        self.columns = [c for c in columns if person_keys or c not in PERSON_KEYS]
        self.has_person_keys = any(c in PERSON_KEYS for c in self.columns)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise RejectsPathError(f"--rejects {path} already exists: rejected rows are never written over "
                                   "a file; choose a new name") from None
        except OSError as exc:
            raise RejectsPathError(f"--rejects {path} cannot be created: {exc.strerror}") from None
        self.handle = io.open(fd, "w", encoding="utf-8", newline="")
        self.writer = CsvWriter(self.handle, LEADING + self.columns)
        self.rows = 0

    def add(self, file: str, rejected: pd.DataFrame) -> None:
        """Rows with `_line`, `_reason` and (some of) the input columns."""
        if rejected.empty:
            return
        present = [c for c in self.columns if c in rejected]
        table = rejected[["_line", "_reason", *present]]
        for values in table.itertuples(index=False, name=None):
            line, reason, *cells = values
            by_name = dict(zip(present, cells))
            self.writer.row([file, int(line), reason, *(by_name.get(c, "") for c in self.columns)])
        self.rows += len(rejected)

    def add_cells(self, file: str, line: int, reason: str, header: list[str], cells: list[str]) -> None:
        """One row as read from the file (its header and raw cells)."""
        by_name = dict(zip(header, (c.strip() for c in cells)))
        self.writer.row([file, line, reason, *(by_name.get(c, "") for c in self.columns)])
        self.rows += 1

    def finish(self, viewer: access.Viewer, files: list[str], dataset: str) -> None:
        self.handle.close()
        if self.has_person_keys and self.rows:
            access.log_person_export(viewer, "rejected rows file", {"path": str(self.path), "dataset": dataset,
                                                                   "files": files}, self.rows)

    def discard(self) -> None:
        self.handle.close()
        self.path.unlink(missing_ok=True)

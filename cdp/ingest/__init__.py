"""Importers: police.uk street CSVs and the partner extract, each run one all-or-nothing transaction.

`ingest` is the one path every import takes (command line, Data page, demo, refresh). Files are
read as a stream of chunks (cdp.ingest.reader) checked row by row, staged in a temporary table
inside the import's transaction (cdp.ingest.stage) where the checks across rows and files run,
then written to the store at once. Memory stays bounded whatever the size of the files; on any
problem, or any error part-way, the transaction rolls back and the store is exactly as it was.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb
import geopandas as gpd
import pandas as pd

from .. import access, geography
from ..store import SYNTHETIC_DEMO, next_import_id, refresh_derived, set_meta, synthetic_note, transaction
from . import partner, police_uk
from .common import MAX_PROBLEMS_KEPT, ImportFailed, Limits, Problem, limit_hint, place
from .files import check_inflated_total
from .reader import TRAILING_COMMA, CsvFile, Source, read_lines
from .rejects import RejectsFile, RejectsPathError, check_path, default_path
from .stage import Stage, bounded_memory

IMPORTERS = {"police_uk": police_uk, "partner": partner}
Progress = Callable[[str, float], None]

__all__ = ["ImportFailed", "ImportResult", "Limits", "Problem", "RejectsPathError", "ingest", "ingest_demo",
           "IMPORTERS"]


@dataclass
class ImportResult:
    import_id: int
    dataset: str
    files: list[str]
    rows_loaded: int
    rows_replaced: int
    rows_rejected: int
    rejects_path: Path | None
    unlocated: int
    outside_area: int
    boundaries: str
    boundaries_changed: bool
    demo_removed: int = 0  # synthetic demo incidents this real import replaced
    notes: list[str] = field(default_factory=list)  # e.g. a month given in two files

    def summary(self, rejects_where: str | None = None) -> str:
        """One paragraph on what was loaded; `rejects_where` says where the rejected rows went
        (default: the rejects file's path)."""
        text = (f"Loaded {self.rows_loaded:,} {self.dataset} rows from {len(self.files)} file(s) "
                f"(replacing {self.rows_replaced:,}); {self.unlocated:,} without a location, "
                f"{self.outside_area:,} outside the area's wards.")
        if self.demo_removed:
            text += f" The {self.demo_removed:,} synthetic demo incidents were removed first."
        if self.rows_rejected:
            text += f" Skipped {self.rows_rejected:,} bad rows, written to {rejects_where or self.rejects_path}."
        for note in self.notes:
            text += f" Note: {note}."
        return text


class _Problems:
    """Row problems of an import: the first MAX_PROBLEMS_KEPT kept, all counted."""

    def __init__(self):
        self.kept: list[tuple[int, Problem]] = []
        self.total = 0

    def add(self, file_no: int, name: str, lines, reasons) -> None:
        for line, reason in zip(lines, reasons):
            self.total += 1
            if len(self.kept) < MAX_PROBLEMS_KEPT:
                self.kept.append((file_no, Problem(name, int(line), reason)))

    def drop_file(self, file_no: int, count: int) -> None:
        self.kept = [(n, p) for n, p in self.kept if n != file_no]
        self.total -= count

    def sorted(self) -> list[Problem]:
        return [p for _, p in sorted(self.kept, key=lambda item: (item[0], item[1].line or 0))]


def ingest(con: duckdb.DuckDBPyConnection, dataset: str, paths: list[str | Path], *,
           wards: gpd.GeoDataFrame | None = None, wards_origin: str | None = None,
           boundaries: str | Path | None = None, skip_bad_rows: bool = False,
           rejects_path: str | Path | None = None,
           progress: Progress | None = None, limits: Limits | None = None,
           names: dict[Path, str] | None = None, viewer: access.Viewer | None = None,
           rejects_person_keys: bool = True) -> ImportResult:
    """Load files into the store in one transaction; on any problem raise ImportFailed, loading nothing.

    `dataset` is "police_uk" or "partner". Ward boundaries come from `wards` (described by
    `wards_origin`), else `boundaries` (a file), else the store's own set, else the default (see
    geography.resolve_boundaries).

    `limits` bound what is read (cdp.ingest.common.Limits; the defaults unless given). `names` maps
    a path to the name messages use for it (an upload's own file name). With `skip_bad_rows` the
    good rows load and the rejected ones go to `rejects_path` (default: rejected-rows-<time>.csv
    in the current folder), a new private file whose writing is audited for `viewer` when it holds
    person keys (`rejects_person_keys=False` leaves them out). A rejects path that may not be
    used raises RejectsPathError before anything is read.

    Synthetic demo data never mixes with real data: an import into a store holding demo data
    removes the demo data first, inside the import's transaction (the demo itself loads through
    `ingest_demo`).
    """
    started = datetime.now()
    report = progress or (lambda message, fraction: None)
    importer = IMPORTERS[dataset]
    limits = limits or Limits()
    paths = [Path(p) for p in paths]
    names = {Path(k): v for k, v in (names or {}).items()}
    target = None
    if skip_bad_rows:
        target = check_path(Path(rejects_path) if rejects_path else default_path(), paths, con)
    sources = importer.source_files(paths, limits, names)
    check_inflated_total(sources, limits)
    headers = _headers(sources, importer)
    if wards is not None:
        origin = wards_origin or "boundaries given by the caller"
    else:
        wards, origin = geography.resolve_boundaries(con, boundaries)

    rejects = None
    if target is not None:
        columns = list(dict.fromkeys(c for header in headers for c in header))
        rejects = RejectsFile(target, columns, person_keys=rejects_person_keys)
    try:
        with bounded_memory(con), transaction(con):
            result = _load(con, importer, sources, headers, wards, origin, limits, rejects, report, started,
                           demo_removed=_clear_demo(con))
    except BaseException:
        if rejects is not None:
            rejects.discard()
        raise
    if rejects is not None:
        rejects.finish(viewer or access.command_line_viewer(), result.files, dataset)
    report("Done", 1.0)
    return result


def _headers(sources: list[Source], importer) -> list[list[str]]:
    """Every file's header, checked before any row is read (all wrong headers reported at once)."""
    headers, problems = [], []
    for source in sources:
        try:
            with CsvFile(source) as file:
                importer.check_header(source, file.header)
                headers.append(file.header)
        except ImportFailed as exc:
            problems += exc.problems
    if problems:
        raise ImportFailed(problems)
    return headers


def ingest_demo(con: duckdb.DuckDBPyConnection, files: dict[str, list[Path]], *, wards: gpd.GeoDataFrame,
                wards_origin: str | None, synthetic: str, progress: Progress | None = None) -> list[ImportResult]:
    """The demo's load: each dataset's files (`files`: dataset -> paths, e.g. the partner extract
    and a police.uk share) through its importer, all in one transaction that first removes the
    demo data the store held and marks the store as holding `synthetic` demo data. Files are named
    by their own names (not their temporary folder); no limits apply."""
    started = datetime.now()
    report = progress or (lambda message, fraction: None)
    limits = Limits.none()
    parts = []
    for dataset, paths in files.items():
        importer = IMPORTERS[dataset]
        paths = [Path(p) for p in paths]
        sources = importer.source_files(paths, limits, {p: p.name for p in paths})
        parts.append((importer, sources, _headers(sources, importer)))
    results = []
    with bounded_memory(con), transaction(con):
        _clear_demo(con, synthetic)
        for n, (importer, sources, headers) in enumerate(parts):
            results.append(_load(
                con, importer, sources, headers, wards, wards_origin or "boundaries given by the caller",
                limits, None, lambda message, fraction, n=n: report(message, (n + fraction) / len(parts)),
                started, derive=n == len(parts) - 1))
    report("Done", 1.0)
    return results


def _clear_demo(con: duckdb.DuckDBPyConnection, synthetic: str | None = None) -> int:
    """Remove the demo data the store holds before an import (a demo build replaces it, a real
    import never mixes with it); a demo build marks the store `synthetic`. The rows removed."""
    if not (synthetic or synthetic_note(con)):
        return 0
    removed = con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
    con.execute("DELETE FROM incidents")
    if synthetic:
        set_meta(con, SYNTHETIC_DEMO, synthetic)
    else:
        con.execute("DELETE FROM meta WHERE key = ?", [SYNTHETIC_DEMO])
    return removed


def _load(con, importer, sources: list[Source], headers, wards, origin, limits: Limits,
          rejects: RejectsFile | None, report: Progress, started, demo_removed: int = 0,
          derive: bool = True) -> ImportResult:
    """One import's rows into the store (inside its transaction); `derive` False leaves the
    derived tables to a later import of the same transaction."""
    stage = Stage(con, importer, len(sources))
    problems, file_problems = _Problems(), []
    total_bytes = sum(s.size or 0 for s in sources) or 1
    done_bytes = 0
    for file_no, source in enumerate(sources):
        with CsvFile(source, limits.max_rows_per_file, limit_hint("max_rows_per_file")) as file:
            for chunk in file.chunks():
                rows, rejected = importer.parse(chunk.frame)
                refused = pd.concat([chunk.problems, rejected]) if len(chunk.problems) else rejected
                if len(refused):
                    refused = refused.sort_values("_line")
                    if rejects is not None:
                        rejects.add(source.name, refused)
                    problems.add(file_no, source.name, refused["_line"], refused["_reason"])
                stage.add(place(rows, wards), file_no)
                report(f"Reading {source.name}: {file.rows_read:,} rows",
                       0.8 * min((done_bytes + file.bytes_read) / total_bytes, 1.0))
            if file.rows_read == 0:
                file_problems.append(Problem(source.name, None, "the file has a header but no rows"))
            elif file.every_row_has_a_trailing_comma():
                problems.drop_file(file_no, file.rows_read)
                file_problems.append(Problem(source.name, 2, f"every row {TRAILING_COMMA} (one field more "
                                                             f"than the header's {len(file.header)} columns): "
                                                             "remove the trailing commas and try again"))
        done_bytes += source.size or 0
    if file_problems:
        raise ImportFailed(file_problems + problems.sorted(), total=len(file_problems) + problems.total)

    report("Checking keys across the files", 0.82)
    duplicates = stage.duplicates() if stage.columns else None
    if duplicates and duplicates.total:
        if rejects is None:
            for file_no, line, reason in duplicates.rows:
                problems.add(file_no, sources[file_no].name, [line], [reason])
            problems.total += duplicates.total - len(duplicates.rows)
        else:
            _reject_duplicates(stage, sources, headers, rejects)
            problems.total += duplicates.total
    if problems.total and rejects is None:
        raise ImportFailed(problems.sorted(), total=problems.total,
                           hint="Fix these rows, or load the good rows with --skip-bad-rows.")
    if stage.empty:
        raise ImportFailed([Problem(", ".join(s.name for s in sources), None, "no rows could be loaded")])

    report("Writing to the store", 0.85)
    notes = importer.several_files_notes(stage, [s.name for s in sources])
    boundaries_changed = geography.save_wards(con, wards, origin)
    import_id = next_import_id(con)
    summary = stage.summary()
    replaced = stage.write(import_id)
    stage.drop()
    if derive:
        report("Refreshing derived tables", 0.95)
        refresh_derived(con)
    files = [s.name for s in sources]
    result = ImportResult(
        import_id=import_id, dataset=importer.DATASET, files=files, rows_loaded=summary["rows"],
        rows_replaced=replaced,
        rows_rejected=problems.total if rejects is not None else 0,
        rejects_path=rejects.path if rejects is not None else None,
        unlocated=summary["unlocated"], outside_area=summary["outside_area"],
        boundaries=origin, boundaries_changed=boundaries_changed,
        demo_removed=demo_removed, notes=notes)
    con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, now(), 'ok', ?)",
                [import_id, importer.DATASET, "; ".join(files), result.rows_loaded, replaced,
                 result.rows_rejected, started, access.current_user()])
    return result


def _reject_duplicates(stage: Stage, sources: list[Source], headers, rejects: RejectsFile) -> None:
    """Write the rows refused for repeating a key to the rejects file, reading their cells again
    (file by file, in line order, so memory stays bounded however many there are)."""
    for file_no, refused in itertools.groupby(stage.refuse_duplicates(), key=lambda row: row[0]):
        wanted = ((line, reason) for _, line, reason in refused)
        for line, reason, cells in read_lines(sources[file_no], wanted):
            rejects.add_cells(sources[file_no].name, line, reason, headers[file_no], cells)

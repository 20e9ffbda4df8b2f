"""Importers: police.uk street CSVs and the partner extract, each run one all-or-nothing transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb
import geopandas as gpd
import pandas as pd

from .. import geography
from ..access import current_user
from ..store import SYNTHETIC_DEMO, next_import_id, refresh_derived, set_meta, synthetic_note, transaction
from . import partner, police_uk
from .common import ImportFailed, Problem, place

IMPORTERS = {"police_uk": police_uk, "partner": partner}
Progress = Callable[[str, float], None]

__all__ = ["ImportFailed", "ImportResult", "Problem", "ingest", "IMPORTERS"]


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

    def summary(self) -> str:
        text = (f"Loaded {self.rows_loaded:,} {self.dataset} rows from {len(self.files)} file(s) "
                f"(replacing {self.rows_replaced:,}); {self.unlocated:,} without a location, "
                f"{self.outside_area:,} outside the area's wards.")
        if self.demo_removed:
            text += f" The {self.demo_removed:,} synthetic demo incidents were removed first."
        if self.rows_rejected:
            text += f" Skipped {self.rows_rejected:,} bad rows, written to {self.rejects_path}."
        return text


def ingest(con: duckdb.DuckDBPyConnection, dataset: str, paths: list[str | Path], *,
           wards: gpd.GeoDataFrame | None = None, wards_origin: str | None = None,
           boundaries: str | Path | None = None, skip_bad_rows: bool = False,
           rejects_path: str | Path | None = None, synthetic: str | None = None,
           progress: Progress | None = None) -> ImportResult:
    """Load files into the store in one transaction; on any problem raise ImportFailed, loading nothing.

    `dataset` is "police_uk" or "partner". Ward boundaries come from `wards` (described by
    `wards_origin`), else `boundaries` (a file), else the store's own set, else the default (see
    geography.resolve_boundaries).

    Synthetic demo data never mixes with real data: `synthetic` (a description) marks the rows as
    demo data and replaces whatever demo data the store held; a real import into a store holding
    demo data removes the demo data first. Both happen inside the import's transaction.
    """
    started = datetime.now()
    report = progress or (lambda message, fraction: None)
    importer = IMPORTERS[dataset]
    sources = importer.source_files([Path(p) for p in paths])
    if wards is not None:
        origin = wards_origin or "boundaries given by the caller"
    else:
        wards, origin = geography.resolve_boundaries(con, boundaries)

    parsed, file_problems = [], []
    for i, src in enumerate(sources):
        report(f"Reading {src.name}", i / max(len(sources), 1) * 0.7)
        try:
            parsed.append(importer.parse(src))
        except ImportFailed as exc:
            file_problems += exc.problems
    if file_problems:
        raise ImportFailed(file_problems)

    rejected = pd.concat([r for p in parsed for r in p.rejected]) if any(p.rejected for p in parsed) else None
    if rejected is not None and not skip_bad_rows:
        problems = [Problem(f, int(line), reason) for f, line, reason in
                    rejected[["_file", "_line", "_reason"]].itertuples(index=False)]
        raise ImportFailed(sorted(problems, key=lambda p: (p.file, p.line)),
                           hint="Fix these rows, or load the good rows with --skip-bad-rows.")

    rows = importer.combine(parsed)
    if rows.empty:
        raise ImportFailed([Problem(", ".join(s.name for s in sources), None, "no rows could be loaded")])
    report(f"Placing {len(rows):,} incidents in wards", 0.75)
    rows = place(rows, wards)

    rejects_file = _write_rejects(rejected, rejects_path) if rejected is not None else None
    report("Writing to the store", 0.85)
    with transaction(con):
        boundaries_changed = geography.save_wards(con, wards, origin)
        import_id = next_import_id(con)
        con.register("_replace", importer.replace_keys(rows))
        demo_removed = 0
        if synthetic or synthetic_note(con):
            demo_removed = con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
            con.execute("DELETE FROM incidents")
            if synthetic:
                set_meta(con, SYNTHETIC_DEMO, synthetic)
            else:
                con.execute("DELETE FROM meta WHERE key = ?", [SYNTHETIC_DEMO])
        before = con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
        con.execute(importer.REPLACE_SQL)
        replaced = before - con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
        con.unregister("_replace")
        staged = rows.drop(columns=[c for c in rows.columns if c.startswith("_")])
        staged["import_id"] = import_id
        con.register("_staged", staged)
        con.execute("INSERT INTO incidents BY NAME SELECT * FROM _staged")
        con.unregister("_staged")
        refresh_derived(con)
        result = ImportResult(
            import_id=import_id, dataset=dataset, files=[s.name for s in sources],
            rows_loaded=len(rows), rows_replaced=replaced,
            rows_rejected=0 if rejected is None else len(rejected), rejects_path=rejects_file,
            unlocated=int((rows["location_status"] == "unlocated").sum()),
            outside_area=int((rows["location_status"] == "outside_area").sum()),
            boundaries=origin, boundaries_changed=boundaries_changed,
            demo_removed=0 if synthetic else demo_removed)
        con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, now(), 'ok', ?)",
                    [import_id, dataset, "; ".join(result.files), result.rows_loaded, replaced,
                     result.rows_rejected, started, current_user()])
    report("Done", 1.0)
    return result


def _write_rejects(rejected: pd.DataFrame, path: str | Path | None) -> Path:
    path = Path(path) if path else Path.cwd() / f"rejected-rows-{datetime.now():%Y%m%d-%H%M%S}.csv"
    out = rejected.rename(columns={"_file": "file", "_line": "line", "_reason": "reason"})
    leading = ["file", "line", "reason"]
    out[leading + [c for c in out.columns if c not in leading]].to_csv(path, index=False)
    return path

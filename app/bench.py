"""`python -m cdp bench`: the dashboard measured at scale (see README, Performance).

Builds (or reuses) a store of N synthetic incidents, then, each in its own process so peak memory
is the step's own: times every page's first render (caches cleared) and its rerun after each shared
filter changes (Streamlit AppTest; as for a user, what depends on the changed filter is recomputed
and the rest comes from the cache), with the store-query time inside each run; with `--store`, the
same on a DuckLake holding the same incidents, side by side; times `ingest police-uk` of a year of
force-wide street files and, with `--import-rows`, `ingest partner` of one large file as the
command line runs it; reports store size and peak memory. Lives in the Streamlit layer because it
drives the app.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from cdp import config, geography, store

ROOT = Path(__file__).resolve().parent.parent
# (label, widget kind, widget key, value): each applied on top of the default view, then undone.
FILTER_CHANGES = [
    ("period", "selectbox", "f_period", "Last 3 months"),
    ("priorities", "multiselect", "f_priorities", ["asb", "dsva"]),
    ("wards", "multiselect", "f_wards", ["E05012277", "E05012275"]),
    ("categories", "multiselect", "f_categories", ["Noise"]),
    ("NAT area", "selectbox", "f_area", "North"),
    ("victim age", "multiselect", "f_age", ["18-24"]),
    ("victim sex", "multiselect", "f_sex", ["F"]),
    ("vulnerable only", "checkbox", "f_vulnerable", True),
    ("repeat victims only", "checkbox", "f_repeat", True),
    ("location text", "text_input", "f_location", "Road"),
    ("premises type", "multiselect", "f_ptypes", ["licensed premises"]),
]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_store(where: store.Location, rows: int, seed: int = 42, same_as: Path | None = None) -> str:
    """Reuse the store if it already holds `rows` demo incidents, else build it: a lake gets a
    copy of the embedded store `same_as`, so both modes are measured on the same incidents."""
    con = store.connect(where)
    try:
        extract_rows = con.execute("SELECT count(*) FROM incidents WHERE dataset = 'partner'").fetchall()[0][0]
        if extract_rows == rows and store.synthetic_note(con):  # the demo's extract (its police.uk share beside)
            return "reused"
        started = time.perf_counter()
        if same_as is not None:
            source = store.connect(same_as, read_only=True)
            try:
                store.copy_tables(source, con)
            finally:
                source.close()
            return f"copied from {same_as} in {time.perf_counter() - started:.0f} s"
        from cdp.demo import build_demo
        wards, origin = geography.resolve_boundaries(con)
        build_demo(con, wards, seed=seed, rows=rows, wards_origin=origin)
        return f"built in {time.perf_counter() - started:.0f} s"
    finally:
        con.close()


def store_size(where: store.Location) -> str:
    files = [f for f in where.files() if f.exists()]
    size = sum(f.stat().st_size if f.is_file() else sum(g.stat().st_size for g in f.rglob("*") if g.is_file())
               for f in files)
    if where.is_lake and not where.catalog.startswith("sqlite:"):
        return f"{size / 2**20:,.0f} MiB of data files (the PostgreSQL catalog besides)"
    return f"{size / 2**20:,.0f} MiB on disk"


# --- measured in a child process ----------------------------------------------------------------

def measure_pages(setting: str, repeats: int, pages: list[str]) -> dict:
    """Per page: first render and filter-change reruns (seconds), and store-query seconds within."""
    os.environ["CDP_STORE"] = setting
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from app import context, sidebar

    query_seconds: list[float] = []

    class TimedRegistry(dict):
        def __getitem__(self, name):
            fn = super().__getitem__(name)

            def timed(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    query_seconds.append(time.perf_counter() - started)
            return timed

    context._REGISTRY = TimedRegistry(context._REGISTRY)

    def timed_run(at, page: str, cold: bool = False) -> tuple[float, float]:
        if cold:
            st.cache_data.clear()
            st.cache_resource.clear()  # the briefing's panels and charts too
        query_seconds.clear()
        started = time.perf_counter()
        at.run(timeout=600)
        elapsed = time.perf_counter() - started
        if at.exception:
            raise RuntimeError(f"pages/{page}.py raised: {at.exception[0].value}")
        return elapsed, sum(query_seconds)

    results = {}
    for page in pages:
        first, first_q, rerun, rerun_q, by_filter = [], [], [], [], {}
        for _ in range(repeats):
            at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
            at.switch_page(f"pages/{page}.py")
            seconds, queries = timed_run(at, page, cold=True)
            first.append(seconds)
            first_q.append(queries)
            for label, kind, key, value in FILTER_CHANGES:
                section = sidebar.section_of(key)  # drawn only while its section is open
                if section:
                    at.session_state[section] = True
                    at.run(timeout=600)
                widget = getattr(at, kind)(key=key)
                if not widget.disabled:
                    before = widget.value
                    widget.set_value(value)
                    seconds, queries = timed_run(at, page)
                    rerun.append(seconds)
                    rerun_q.append(queries)
                    by_filter.setdefault(label, []).append(seconds)
                    getattr(at, kind)(key=key).set_value(before)
                if section:
                    at.session_state[section] = False
                at.run(timeout=600)
        results[page] = {"first": first, "first_queries": first_q, "rerun": rerun,
                         "rerun_queries": rerun_q, "by_filter": by_filter}
    return {"pages": results, "peak_mb": _peak_mb()}


def measure_ingest(rows: int) -> dict:
    """`ingest police-uk` of a year of force-wide street files generated in police.uk format."""
    import geopandas as gpd  # noqa: F401  (loaded before timing, as the CLI would be)
    import pandas as pd

    from cdp.demo import generate
    from cdp.ingest import ingest
    from cdp.police_uk_format import street_frame, write_street_csv

    with tempfile.TemporaryDirectory(prefix="cdp-bench-ingest-") as tmp:
        con = store.connect(Path(tmp) / "ingest.duckdb")
        wards, origin = geography.resolve_boundaries(con)
        incidents = generate(wards, seed=3, rows=rows * 5)  # five years: keep one
        incidents["month"] = incidents["occurred_at"].str[:7]
        year = incidents[incidents["month"].between("2024-04", "2025-03")]
        is_crime = ~year["flag_asb"].eq("true")
        category = year["category"].where(is_crime, "Anti-social behaviour")
        files = []
        for month, part in year.assign(category=category).groupby("month"):
            frame = street_frame(month, part["category"], part["longitude"].astype(float),
                                 part["latitude"].astype(float), part["location"], seed=int(month[-2:]))
            files.append(write_street_csv(frame, Path(tmp) / "files"))
        total = sum(len(pd.read_csv(f, usecols=[0])) for f in files)
        started = time.perf_counter()
        result = ingest(con, "police_uk", files, wards=wards, wards_origin=origin)
        seconds = time.perf_counter() - started
        con.close()
    return {"rows": result.rows_loaded, "files": len(files), "seconds": seconds,
            "peak_mb": _peak_mb(), "source_rows": total}


# --- the report ---------------------------------------------------------------------------------

def _child(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "app.bench", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def _slowest(m: dict) -> str:
    label, values = max(m["by_filter"].items(), key=lambda kv: max(kv[1]), default=("-", [0]))
    return f"{label} ({max(values):.2f})"


def _pages_table(measured: dict) -> list[str]:
    lines = [f"{'page':<10} {'first render':>14} {'its queries':>13} {'filter rerun':>14} {'its queries':>13}  slowest filter"]
    for page, m in measured["pages"].items():
        lines.append(f"{page:<10} {_fmt(m['first']):>14} {_fmt(m['first_queries']):>13} "
                     f"{_fmt(m['rerun']):>14} {_fmt(m['rerun_queries']):>13}  {_slowest(m)}")
    return lines


def _side_by_side(embedded: dict, shared: dict) -> list[str]:
    lines = [f"{'':<10} {'first render':^31} {'filter rerun':^31}",
             f"{'page':<10} {'embedded':>15} {'DuckLake':>15} {'embedded':>15} {'DuckLake':>15}  slowest filter (DuckLake)"]
    for page, m in embedded["pages"].items():
        lake = shared["pages"][page]
        lines.append(f"{page:<10} {_fmt(m['first']):>15} {_fmt(lake['first']):>15} "
                     f"{_fmt(m['rerun']):>15} {_fmt(lake['rerun']):>15}  {_slowest(lake)}")
    return lines


def report(rows: int, db: Path, repeats: int, ingest_rows: int, pages: list[str] | None = None,
           shared: store.Location | None = None, import_rows: int = 0, memory_limit_mb: int = 8000) -> str:
    embedded = store.locate(db)
    build = ensure_store(embedded, rows)
    pages = pages or [p.stem for p in sorted((ROOT / "pages").glob("*.py"))]
    measured = _child("pages", str(db), str(repeats), ",".join(pages))
    lines = [
        f"Benchmark: {rows:,} synthetic incidents ({build}); store {db} {store_size(embedded)}",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}; {repeats} run(s) of each; times in seconds, median / max; "
        "first render with empty caches",
        "",
        *_pages_table(measured),
    ]
    if shared is not None:
        copied = ensure_store(shared, rows, same_as=db)
        lake = _child("pages", str(shared), str(repeats), ",".join(pages))
        lines += ["", f"The same pages on DuckLake: {shared} ({copied}); {store_size(shared)}",
                  "", *_pages_table(lake), "", "Side by side (median / max):", "",
                  *_side_by_side(measured, lake)]
    ingest = _child("ingest", str(ingest_rows))
    lines += [
        "",
        f"ingest police-uk: {ingest['rows']:,} rows in {ingest['files']} monthly files: "
        f"{ingest['seconds']:.1f} s ({ingest['rows'] / ingest['seconds']:,.0f} rows/s)",
        f"peak memory: pages {measured['peak_mb']:,.0f} MB; ingest {ingest['peak_mb']:,.0f} MB",
    ]
    if import_rows:
        lines += ["", big_import(import_rows, memory_limit_mb, db.parent)]
    return "\n".join(lines)


# --- a large import, as the command line runs it -------------------------------------------------

def extract_file(rows: int, folder: Path) -> Path:
    """A partner extract of `rows` synthetic incidents in `folder` (reused), generated and written a
    chunk at a time (cdp.demo.generate_chunks), so memory stays bounded."""
    from cdp.demo import append_csv, generate_chunks
    path = folder / f"bench-partner-extract-{rows}.csv"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    wards = geography.default_boundaries()[0]
    partial = path.with_suffix(".partial.csv")
    partial.unlink(missing_ok=True)
    for frame in generate_chunks(wards, seed=100, rows=rows):
        append_csv(frame, partial)
    partial.rename(path)
    return path


def big_import(rows: int, memory_limit_mb: int, folder: Path) -> str:
    """`python -m cdp ingest partner` of one file of `rows` incidents into a new store (the rows
    limit raised, as for real large files): its time and peak memory. Stopped if it passes
    `memory_limit_mb`, so a run never exhausts the machine."""
    extract = extract_file(rows, folder)
    with tempfile.TemporaryDirectory(prefix="cdp-bench-import-") as tmp:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "cdp", "ingest", "partner", str(extract), "--db",
                                  str(Path(tmp) / "import.duckdb"), "--max-rows-per-file", str(rows)],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak, stopped = 0.0, False
        while child.poll() is None:
            peak = max(peak, _peak_rss_mb(child.pid))
            if peak > memory_limit_mb:
                child.kill()
                stopped = True
            time.sleep(0.2)
        out, err = child.communicate()
        seconds = time.perf_counter() - started
    size = f"{extract.stat().st_size / 2**30:.1f} GiB"
    if stopped:
        return (f"import of {rows:,} partner rows ({size} CSV): stopped at {peak:,.0f} MB after "
                f"{seconds:.0f} s (over the {memory_limit_mb:,} MB limit of this benchmark)")
    if child.returncode != 0:
        return f"import of {rows:,} partner rows ({size} CSV) failed after {seconds:.0f} s: {err.strip()[-500:]}"
    return (f"import of {rows:,} partner rows ({size} CSV) into an embedded store: {seconds:.0f} s "
            f"({rows / seconds:,.0f} rows/s), peak memory {peak:,.0f} MB")


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def build_parser() -> argparse.ArgumentParser:
    """`python -m cdp bench`'s options, each with its help and default."""
    parser = argparse.ArgumentParser(prog="python -m cdp bench")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="synthetic incidents in the benchmark store (default 1000000)")
    parser.add_argument("--db", help="the embedded benchmark store (default: data/bench-<rows>.duckdb, reused)")
    parser.add_argument("--store", help="also measure the pages on this store, side by side with the "
                                        "embedded one (with --browser: measure the pages on it "
                                        "instead): a DuckLake catalog (ducklake:postgres:<libpq> "
                                        "or ducklake:sqlite:<file>, data files in $CDP_DATA_PATH), "
                                        "given the same incidents")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each measurement; medians and maxima are reported (default 3)")
    parser.add_argument("--ingest-rows", type=int, default=150_000,
                        help="police.uk rows for the ingest timing (a year of the force; default 150000)")
    parser.add_argument("--import-rows", type=int, default=0, metavar="N",
                        help="also time `ingest partner` of one file of N incidents (e.g. 10000000) "
                             "and its peak memory (default 0: not timed)")
    parser.add_argument("--memory-limit", type=int, default=8000, metavar="MB",
                        help="stop that import past this much memory (default 8000)")
    parser.add_argument("--import-only", action="store_true",
                        help="measure only that import (with --import-rows), not the pages")
    parser.add_argument("--pages", help="comma-separated page names (default: every page)")
    parser.add_argument("--browser", action="store_true",
                        help="instead, time each page in headless Chromium as a user feels it: opening "
                             "it and changing the period, first-time and cached, beside a minimal "
                             "Streamlit page, with the bytes each sends (see README, Performance)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "pages":
        print(json.dumps(measure_pages(argv[1], int(argv[2]), argv[3].split(","))))
        return 0
    if argv and argv[0] == "ingest":
        print(json.dumps(measure_ingest(int(argv[1]))))
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.import_only:
        if not args.import_rows:
            parser.error("--import-only needs --import-rows N")
        print(big_import(args.import_rows, args.memory_limit, config.DATA_DIR))
        return 0
    db = Path(args.db) if args.db else config.DATA_DIR / f"bench-{args.rows}.duckdb"
    try:
        shared = store.locate(args.store) if args.store else None
    except store.StoreError as exc:
        parser.error(str(exc))
    if args.browser:
        from app import browser_bench
        embedded = store.locate(db)
        build = ensure_store(embedded, args.rows)
        measured = embedded
        if shared is not None:  # the pages on that store, given the same incidents
            measured, build = shared, f"{build}; {ensure_store(shared, args.rows, same_as=db)}"
        print(browser_bench.report(args.rows, measured, build, store_size(measured), args.repeats,
                                   args.pages.split(",") if args.pages else None))
        return 0
    print(report(args.rows, db, args.repeats, args.ingest_rows,
                 args.pages.split(",") if args.pages else None, shared=shared,
                 import_rows=args.import_rows, memory_limit_mb=args.memory_limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())

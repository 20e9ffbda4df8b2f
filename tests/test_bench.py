"""Smoke runs of the benchmark on small stores: every page measured, figures printed."""
from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT
from servers import need_chromium


def test_bench_smoke_run_prints_figures_for_every_page(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cdp", "bench", "--rows", "10000", "--db", str(tmp_path / "bench.duckdb"),
         "--repeats", "1", "--ingest-rows", "10000"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Benchmark: 10,000 synthetic incidents (built in" in out
    for page in sorted(p.stem for p in (ROOT / "pages").glob("*.py")):
        row = re.search(rf"^{page}\s+(\d+\.\d\d) / (\d+\.\d\d)\s+\S+ / \S+\s+(\d+\.\d\d) / (\d+\.\d\d)", out, re.M)
        assert row, f"no figures for {page}:\n{out}"
    ingest = re.search(r"ingest police-uk: ([\d,]+) rows in 12 monthly files: ([\d.]+) s", out)
    assert ingest and int(ingest.group(1).replace(",", "")) > 1000
    assert re.search(r"peak memory: pages [\d,]+ MB; ingest [\d,]+ MB", out)


def test_bench_store_puts_the_embedded_store_and_a_lake_side_by_side(tmp_path):
    lake = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    result = subprocess.run(
        [sys.executable, "-m", "cdp", "bench", "--rows", "5000", "--db", str(tmp_path / "bench.duckdb"),
         "--store", lake, "--repeats", "1", "--pages", "data", "--ingest-rows", "2000",
         "--import-rows", "3000"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"The same pages on DuckLake: {lake} (copied from" in out
    assert re.search(r"^data\s+\d+\.\d\d / \d+\.\d\d\s+\d+\.\d\d / \d+\.\d\d\s+\d+\.\d\d / \d+\.\d\d\s+"
                     r"\d+\.\d\d / \d+\.\d\d", out, re.M), out
    assert re.search(r"import of 3,000 partner rows \(.*CSV\) into an embedded store: \d+ s "
                     r"\([\d,]+ rows/s\), peak memory [\d,]+ MB", out), out


def test_bench_browser_times_every_page_in_chromium_beside_the_floor(tmp_path):
    need_chromium()
    result = subprocess.run(
        [sys.executable, "-m", "cdp", "bench", "--browser", "--rows", "5000", "--db",
         str(tmp_path / "bench.duckdb"), "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Browser benchmark: 5,000 synthetic incidents (built in" in out
    figures = r"\s+".join([r"\d+\.\d\d / \d+\.\d\d"] * 5 + [r"[\d,]+ KiB"] * 2 + [r"\d+\.\d\d / \d+\.\d\d"])
    for page in ["floor", *(p.stem for p in (ROOT / "pages").glob("*.py"))]:
        assert re.search(rf"^{page}\s+{figures}$", out, re.M), f"no figures for {page}:\n{out}"


def test_bench_browser_measures_the_pages_on_the_store_given(tmp_path):
    need_chromium()
    lake = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    result = subprocess.run(
        [sys.executable, "-m", "cdp", "bench", "--browser", "--rows", "5000", "--db",
         str(tmp_path / "bench.duckdb"), "--store", lake, "--repeats", "1", "--pages", "overview"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # The lake got the embedded store's incidents, and the dashboard measured ran on the lake.
    assert re.search(rf"\(built in \d+ s; copied from .*bench\.duckdb in \d+ s\); store {re.escape(lake)} ", out), out
    figures = r"\s+".join([r"\d+\.\d\d / \d+\.\d\d"] * 5 + [r"[\d,]+ KiB"] * 2 + [r"\d+\.\d\d / \d+\.\d\d"])
    assert re.search(rf"^overview\s+{figures}$", out, re.M), out

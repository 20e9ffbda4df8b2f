"""The command line as a user runs it: ingest, export ward-counts, status, errors and exit codes."""
from __future__ import annotations

import io
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, WARDS_FILE


def cdp(*args, env_db=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cdp", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def store_file(tmp_path, police_uk_files):
    db = tmp_path / "cli.duckdb"
    result = cdp("ingest", "police-uk", *police_uk_files, "--db", db, "--boundaries", WARDS_FILE)
    assert result.returncode == 0, result.stderr
    assert "Loaded" in result.stdout and "police_uk rows from 3 file(s)" in result.stdout
    return db


def test_export_ward_counts_lists_every_ward(store_file):
    result = cdp("export", "ward-counts", "--priority", "asb", "--from", "2024-02", "--to", "2024-03",
                 "--db", store_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "ward_code,ward_name,count"
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) == 20 and frame["count"].sum() > 0
    all_months = pd.read_csv(io.StringIO(cdp("export", "ward-counts", "--priority", "asb", "--db",
                                            store_file).stdout))
    assert all_months["count"].sum() > frame["count"].sum()  # January is outside --from


def test_export_by_crime_type_and_bad_options(store_file):
    ok = cdp("export", "ward-counts", "--crime-type", "Burglary", "--db", store_file)
    assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 21
    bad_month = cdp("export", "ward-counts", "--priority", "asb", "--from", "2024-13", "--db", store_file)
    assert bad_month.returncode == 2 and "--from '2024-13' is not a month in the form YYYY-MM" in bad_month.stderr
    bad_type = cdp("export", "ward-counts", "--crime-type", "Burglery", "--db", store_file)
    assert bad_type.returncode == 2 and "unknown crime type 'Burglery'" in bad_type.stderr
    both = cdp("export", "ward-counts", "--priority", "asb", "--crime-type", "Drugs", "--db", store_file)
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_status_reports_what_is_loaded(store_file):
    result = cdp("status", "--db", store_file)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Months: 2024-01 to 2024-03" in out
    assert "9 without a location" in out and "outside the area's wards" in out
    assert "20 wards from" in out and "nottingham_wards.gpkg" in out
    assert "Nottinghamshire Police" in out and "never added together" in out


def test_bad_input_exits_non_zero_with_file_line_reason(store_file, tmp_path):
    bad = tmp_path / "2024-04-nottinghamshire-street.csv"
    bad.write_text("Crime ID,Month\nx,2024-04\n")
    before = cdp("status", "--db", store_file).stdout
    result = cdp("ingest", "police-uk", bad, "--db", store_file)
    assert result.returncode == 1
    assert f"{bad} line 1: not a police.uk street file" in result.stderr
    assert cdp("status", "--db", store_file).stdout == before


def test_every_command_has_help():
    for command in (["ingest"], ["export", "ward-counts"], ["status"], ["demo"]):
        result = cdp(*command, "--help")
        assert result.returncode == 0 and "usage: python -m cdp" in result.stdout

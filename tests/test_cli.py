"""The command line as a user runs it: ingest, export ward-counts, status, errors and exit codes."""
from __future__ import annotations

import argparse
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


def test_every_command_has_help_for_every_option_with_its_default():
    from cdp.cli import build_parser
    from cdp.priorities import PRIORITIES

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    from app.bench import build_parser as bench_parser
    for parser in [*parsers(build_parser()), bench_parser()]:
        for action in parser._actions:
            assert action.help, f"{parser.prog} {action.option_strings or action.dest} has no help"
    for command in (["ingest"], ["refresh", "police-uk"], ["export", "ward-counts"], ["status"], ["recount"],
                    ["demo"], ["copy"], ["audit", "verify"]):
        result = cdp(*command, "--help")
        assert result.returncode == 0 and "usage: python -m cdp" in result.stdout
        assert "(default: 600)" in result.stdout or command == ["audit", "verify"]  # --wait
    demo = " ".join(cdp("demo", "--help").stdout.split())
    assert "(default: 42)" in demo and "--rows N" in demo and "--scale" not in demo
    export = " ".join(cdp("export", "ward-counts", "--help").stdout.split())
    for p in PRIORITIES:
        assert f"{p.key} ({p.label})" in export


def test_crime_types_and_priorities_match_whatever_their_case(store_file):
    exact = cdp("export", "ward-counts", "--crime-type", "Burglary", "--db", store_file)
    lower = cdp("export", "ward-counts", "--crime-type", "burglary", "--db", store_file)
    assert lower.returncode == 0 and lower.stdout == exact.stdout
    assert pd.read_csv(io.StringIO(exact.stdout))["count"].sum() > 0
    upper = cdp("export", "ward-counts", "--priority", "ASB", "--db", store_file)
    assert upper.returncode == 0 and upper.stdout == cdp("export", "ward-counts", "--priority", "asb",
                                                         "--db", store_file).stdout


def test_status_fits_100_columns_and_stops_quietly_when_its_reader_does(store_file):
    result = cdp("status", "--db", store_file)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "from 3 files: 2024-01-nottinghamshire-street.csv" in result.stdout  # not every path
    assert "Counted per priority:" in result.stdout and ".0" not in result.stdout
    head = subprocess.run(f"{sys.executable} -m cdp status --db {store_file} | head -n 1", shell=True,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert head.stdout.startswith("Store: ") and head.stderr == ""


def test_a_store_that_is_not_there_is_an_error_not_a_new_empty_store(tmp_path):
    missing = tmp_path / "mistyped.duckdb"
    for command in (["status"], ["export", "ward-counts", "--priority", "asb"], ["recount"],
                    ["refresh", "police-uk", "--dry-run"], ["copy", tmp_path / "copy.duckdb"]):
        result = cdp(*command, "--db", missing)
        assert result.returncode == 3, (command, result.stderr)
        assert f"there is no store at {missing}" in result.stderr
    lake = cdp("status", "--store", f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}")
    assert lake.returncode == 3 and "there is no store at" in lake.stderr
    assert list(tmp_path.iterdir()) == []


def test_demo_says_what_it_built_in_a_sentence(tmp_path):
    result = cdp("demo", "--db", tmp_path / "demo.duckdb", "--rows", 3_000, "--seed", 3)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Built synthetic demo data (seed 3) in {tmp_path / 'demo.duckdb'}: "
                                    "3,000 partner extract incidents and ")
    assert "{" not in result.stdout and "outside the area's wards" in result.stdout
    again = cdp("demo", "--db", tmp_path / "demo.duckdb", "--scale", 2_000)  # the old name of --rows
    assert again.returncode == 0 and "2,000 partner extract incidents" in again.stdout

"""`python -m cdp refresh police-uk` as a scheduled job runs it: against the stub set by
CDP_POLICE_API, exit codes, messages, progress, and the store after a failure."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from conftest import ROOT, WARDS_FILE, police_uk_month
from police_api_stub import city, city_month, month_back, stub  # noqa: F401


def cdp(*args, api: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDP_POLICE_API": api} if api else dict(os.environ)
    return subprocess.run([sys.executable, "-m", "cdp", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


def test_refresh_command_dry_run_then_run_then_nothing_new(tmp_path, stub):
    db = tmp_path / "cron.duckdb"
    dry = cdp("refresh", "police-uk", "--dry-run", "--db", db, "--boundaries", WARDS_FILE, api=stub.url)
    assert dry.returncode == 0, dry.stderr
    assert f"Would fetch 3 month(s): {month_back(5)}, {month_back(4)}, {month_back(3)}" in dry.stdout
    assert not db.exists()  # a dry run changes nothing, not even by starting a store

    run = cdp("refresh", "police-uk", "--db", db, "--boundaries", WARDS_FILE, api=stub.url)
    assert run.returncode == 0, run.stderr
    assert "Loaded 3 month(s) from police.uk API" in run.stdout
    assert f"] {month_back(4)}: importing" in run.stderr  # progress as it runs
    status = cdp("status", "--db", db).stdout
    assert f"Months: {month_back(5)} to {month_back(3)}" in status and "British Transport Police" in status

    again = cdp("refresh", "police-uk", "--db", db, api=stub.url)
    assert again.returncode == 0 and "Nothing to fetch" in again.stdout


def test_a_failed_refresh_exits_non_zero_with_the_reason_and_keeps_the_store(tmp_path, stub, county, city):
    db = tmp_path / "cron.duckdb"
    assert cdp("refresh", "police-uk", "--db", db, "--boundaries", WARDS_FILE, api=stub.url).returncode == 0
    before = cdp("status", "--db", db).stdout
    crimes = city_month(county, city, month_back(2), seed=2)
    crimes[0]["category"] = "unheard-of"
    stub.publish(month_back(2), crimes)
    failed = cdp("refresh", "police-uk", "--db", db, api=stub.url)
    assert failed.returncode == 1
    assert f"error: {month_back(2)}: import failed" in failed.stderr
    assert "unknown Crime type 'unheard-of'" in failed.stderr and "run the refresh again" in failed.stderr
    assert cdp("status", "--db", db).stdout == before  # nothing changed

    unreachable = cdp("refresh", "police-uk", "--db", db, api=f"{stub.url}/nowhere")
    assert unreachable.returncode == 1 and "404 Not Found. Nothing was loaded." in unreachable.stderr


def test_refresh_options_are_checked(tmp_path):
    bad = cdp("refresh", "police-uk", "--since", "2024-13", "--db", tmp_path / "x.duckdb")
    assert bad.returncode == 2 and "--since '2024-13' is not a month in the form YYYY-MM" in bad.stderr
    zero = cdp("refresh", "police-uk", "--months", "0", "--db", tmp_path / "x.duckdb")
    assert zero.returncode == 2 and "--months 0" in zero.stderr
    help_text = cdp("refresh", "police-uk", "--help")
    assert help_text.returncode == 0 and "CDP_POLICE_API" in help_text.stdout and "--archive" in help_text.stdout


def test_refresh_from_an_archive_on_the_command_line(tmp_path, county):
    archive = tmp_path / "2024-02.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, month in enumerate(["2024-01", "2024-02"]):
            z.writestr(f"{month}/{month}-nottinghamshire-street.csv",
                       police_uk_month(county, month, 300, seed=i).to_csv(index=False))
    db = tmp_path / "archive.duckdb"
    result = cdp("refresh", "police-uk", "--archive", archive, "--db", db, "--boundaries", WARDS_FILE)
    assert result.returncode == 0, result.stderr
    assert "Loaded 2 month(s) from police.uk archive" in result.stdout
    assert "Months: 2024-01 to 2024-02" in cdp("status", "--db", db).stdout

"""`--rejects` can never destroy the store or the input: it is refused for the store, an input file,
a path inside an input folder, a missing folder or an existing file, in one line without a
traceback. The file it writes is private (0600), neutralises formulas, and is audited."""
from __future__ import annotations

import json
import stat
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from cdp import access
from cdp.ingest import RejectsPathError, ingest
from conftest import ROOT, WARDS_FILE, store_digest

EXTRACT = """incident_id,source,occurred_at,category,longitude,latitude,location,victim_id,offender_id
P1,police,2024-03-09,Burglary,-1.1505,52.951,Market Square,V1,O1
P2,police,2024-13-09,Burglary,-1.1505,52.951,"=HYPERLINK(""http://evil.example"",""x"")",V2,
P3,police,2024-03-10,Robbery,-1.1505,52.951,Market Square,V3,
"""


def cdp(*args, env=None):
    import os
    return subprocess.run([sys.executable, "-m", "cdp", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture
def setup(tmp_path):
    folder = tmp_path / "extracts"
    folder.mkdir()
    extract = folder / "extract.csv"
    extract.write_text(EXTRACT)
    db = tmp_path / "store.duckdb"
    first = cdp("ingest", "partner", extract, "--db", db, "--boundaries", WARDS_FILE, "--skip-bad-rows",
                "--rejects", tmp_path / "first-rejects.csv", env={"CDP_AUDIT_LOG": str(tmp_path / "audit.log")})
    assert first.returncode == 0, first.stderr
    return tmp_path, folder, extract, db


def digest(db) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        return store_digest(con)


@pytest.mark.parametrize("where, says", [
    ("store", "is the store or its audit log"),
    ("wal", "is the store or its audit log"),
    ("audit", "is the store or its audit log"),
    ("input", "is an input file"),
    ("in the folder", "is inside the input folder"),
    ("missing folder", "does not exist"),
    ("existing", "already exists"),
    ("a folder", "is a folder"),
])
def test_a_rejects_path_that_may_not_be_used_is_refused_in_one_line(setup, where, says):
    tmp_path, folder, extract, db = setup
    audit = tmp_path / "audit.log"
    audit_before = audit.read_text()
    (tmp_path / "alias").symlink_to(folder)  # the input folder under another name
    path = {"store": db, "wal": tmp_path / "store.duckdb.wal", "audit": audit, "input": extract,
            "in the folder": tmp_path / "alias" / "rejects.csv", "missing folder": tmp_path / "nope" / "r.csv",
            "existing": tmp_path / "first-rejects.csv", "a folder": folder}[where]
    inputs = folder if where == "in the folder" else extract
    before, data = digest(db), extract.read_bytes()
    result = cdp("ingest", "partner", inputs, "--db", db, "--skip-bad-rows", "--rejects", path,
                 env={"CDP_AUDIT_LOG": str(audit)})
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: --rejects {path}") and says in line
    assert digest(db) == before and extract.read_bytes() == data and audit.read_text() == audit_before
    assert not (folder / "rejects.csv").exists()


def test_rejects_without_skip_bad_rows(setup):
    tmp_path, _, extract, db = setup
    result = cdp("ingest", "partner", extract, "--db", db, "--rejects", tmp_path / "r.csv")
    assert result.returncode == 2 and "give both, or neither" in result.stderr
    assert not (tmp_path / "r.csv").exists()


def test_the_rejects_file_is_private_safe_to_open_and_audited(setup):
    tmp_path, _, extract, _ = setup
    written = tmp_path / "first-rejects.csv"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    table = pd.read_csv(written, dtype=str, keep_default_na=False)
    assert list(table.columns[:3]) == ["file", "line", "reason"]
    assert table.loc[0, "line"] == "3" and table.loc[0, "victim_id"] == "V2"
    assert table.loc[0, "location"].startswith("'=HYPERLINK(")  # never run by a spreadsheet
    (entry,) = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert (entry["action"], entry["what"], entry["rows"]) == ("export", "rejected rows file", 1)
    assert entry["filters"]["path"] == str(written) and entry["filters"]["files"] == [str(extract)]
    assert (entry["user"], entry["mode"]) == (access.os_user(), "command line")  # run from the CLI


def test_a_refused_path_stops_the_import_before_anything_is_read(db, tmp_path):
    extract = tmp_path / "extract.csv"
    extract.write_text(EXTRACT)
    before = store_digest(db)
    with pytest.raises(RejectsPathError):
        ingest(db, "partner", [extract], boundaries=WARDS_FILE, skip_bad_rows=True, rejects_path=extract)
    assert store_digest(db) == before and extract.read_text() == EXTRACT


def test_a_failed_import_leaves_no_rejects_file_and_no_audit_line(db, tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_AUDIT_LOG", str(tmp_path / "audit.log"))
    extract = tmp_path / "extract.csv"
    extract.write_text("incident_id,source,occurred_at,category,longitude,latitude\n"
                       "P1,police,2024-13-01,Burglary,-1.15,52.95\n")
    rejects = tmp_path / "rejects.csv"
    from cdp.ingest import ImportFailed
    with pytest.raises(ImportFailed, match="no rows could be loaded"):
        ingest(db, "partner", [extract], boundaries=WARDS_FILE, skip_bad_rows=True, rejects_path=rejects)
    assert not rejects.exists() and not (tmp_path / "audit.log").exists()


def test_rejects_without_person_keys_are_not_audited(db, tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_AUDIT_LOG", str(tmp_path / "audit.log"))
    extract = tmp_path / "extract.csv"
    extract.write_text(EXTRACT)
    rejects = tmp_path / "rejects.csv"
    result = ingest(db, "partner", [extract], boundaries=WARDS_FILE, skip_bad_rows=True, rejects_path=rejects,
                    rejects_person_keys=False, viewer=access.Viewer("someone", "analyst"))
    assert result.rows_rejected == 1
    assert "victim_id" not in pd.read_csv(rejects).columns
    assert not (tmp_path / "audit.log").exists()

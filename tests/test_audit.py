"""The audit log: append-only entries chained by hashes, `audit verify` naming the first broken
entry, concurrent writers, and no person-level data when it cannot be written."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import date

import pytest

from cdp import access, audit, cli
from cdp.filters import Filters
from conftest import ROOT

ANALYST = access.Viewer("ana@council.example", "analyst", mode="oidc", page="repeats")


def write(path, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        access.log_person_view(ANALYST, f"view {i}", {"start": "2024-04", "i": i}, i, path)


def lines(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_entries_name_the_user_role_time_page_filters_and_rows(tmp_path):
    log = tmp_path / "audit.log"
    f = Filters(start=date(2024, 4, 1), end=date(2025, 3, 1), wards=("E05012277",), repeat_only=True)
    access.log_person_view(ANALYST, "domestic abuse escalation victims", audit.filters_record(f), 94, log)
    access.log_person_export(ANALYST, "problem profile CSV", {"subject": "person"}, 12, log, page="profile")
    view, export = audit.entries(log)
    assert (view["seq"], view["user"], view["role"], view["mode"], view["action"], view["page"], view["rows"]) == (
        1, "ana@council.example", "analyst", "oidc", "view", "repeats", 94)
    assert view["filters"] == {"start": "2024-04", "end": "2025-03", "priorities": list(f.priorities),
                               "wards": ["E05012277"], "repeat_only": True}
    assert view["time"].endswith("+00:00") and view["prev"] == audit.GENESIS
    assert (export["seq"], export["action"], export["page"], export["prev"]) == (2, "export", "profile", view["hash"])
    assert audit.verify(log).ok and audit.verify(log).entries == 2


def test_the_old_call_form_still_works(tmp_path):
    log = tmp_path / "audit.log"
    access.log_person_export(access.Viewer("someone", "analyst"), "victims", {"start": "2024-01"}, 3, log)
    (entry,) = audit.entries(log)
    assert (entry["user"], entry["what"], entry["rows"], entry["mode"]) == ("someone", "victims", 3, "local")


@pytest.mark.parametrize("tamper, line, reason", [
    (lambda ls: ls.__setitem__(2, ls[2].replace('"rows": 2', '"rows": 20')), 3, "entry 3 does not match its hash"),
    (lambda ls: ls.pop(1), 2, "entry number 3 where 2 was expected"),
    (lambda ls: ls.insert(1, ls.pop(3)), 2, "entry number 4 where 2 was expected"),
    (lambda ls: ls.__setitem__(1, ls[1].replace('"user": "ana@council.example"', '"user": "x@y"')), 2,
     "entry 2 does not match its hash"),
    (lambda ls: ls.__setitem__(4, "{not json"), 5, "not a JSON entry"),
    (lambda ls: ls.__setitem__(0, json.dumps({**json.loads(ls[0]), "extra": 1})), 1, "does not have the audit fields"),
])
def test_verify_names_the_first_broken_entry(tmp_path, tamper, line, reason):
    log = tmp_path / "audit.log"
    write(log, 6)
    content = lines(log)
    tamper(content)
    log.write_text("\n".join(content) + "\n", encoding="utf-8")
    result = audit.verify(log)
    assert not result.ok and result.broken_line == line and reason in result.reason
    assert result.entries == line - 1
    assert f"line {line}: the chain is broken" in result.report()


def test_a_consistently_rewritten_chain_needs_the_key(tmp_path, monkeypatch):
    """Without a key anyone can recompute a whole chain; with CDP_AUDIT_KEY they cannot."""
    monkeypatch.setenv("CDP_AUDIT_KEY", "a secret the auditors keep")
    log = tmp_path / "audit.log"
    write(log, 3)
    assert audit.verify(log).ok
    forged, prev = [], audit.GENESIS
    for entry in audit.entries(log):
        entry = {**entry, "user": "someone else", "prev": prev}
        entry["hash"] = audit.entry_hash(entry)          # recomputed without the key
        forged.append(json.dumps(entry))
        prev = entry["hash"]
    log.write_text("\n".join(forged) + "\n")
    result = audit.verify(log)
    assert not result.ok and result.broken_line == 1 and "CDP_AUDIT_KEY" in result.reason
    monkeypatch.delenv("CDP_AUDIT_KEY")
    assert audit.verify(log).ok                           # so keep the key set when verifying


def test_concurrent_writers_keep_one_chain(tmp_path):
    log = tmp_path / "audit.log"
    threads = [threading.Thread(target=write, args=(log, 25, 100 * t)) for t in range(4)]
    code = ("import sys; sys.path.insert(0, sys.argv[2]); from cdp import access; "
            "[access.log_person_export(access.Viewer('other-process', 'analyst'), 'x', {}, i, sys.argv[1]) "
            "for i in range(25)]")
    processes = [subprocess.Popen([sys.executable, "-c", code, str(log), str(ROOT)]) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.wait(timeout=60) == 0 for p in processes)
    result = audit.verify(log)
    assert result.ok and result.entries == 150
    assert [e["seq"] for e in audit.entries(log)] == list(range(1, 151))


def test_a_log_that_cannot_be_written_raises_and_logs_nothing(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    log = folder / "audit.log"
    write(log, 1)
    os.chmod(log, 0o400)
    if os.access(log, os.W_OK):  # root ignores permissions: use a path that cannot be a file
        log = tmp_path / "is-a-folder"
        log.mkdir()
    with pytest.raises(audit.AuditUnavailable, match="cannot be opened for writing"):
        access.log_person_view(ANALYST, "v", {}, 1, log)
    with pytest.raises(audit.AuditUnavailable):
        audit.check_writable(log)


def test_a_damaged_last_entry_stops_new_entries(tmp_path):
    log = tmp_path / "audit.log"
    write(log, 2)
    with open(log, "a") as handle:
        handle.write('{"seq": 3, "time": "2026-')     # a write cut short
    with pytest.raises(audit.AuditUnavailable, match="last entry .* cannot be read"):
        write(log, 1)
    assert len(lines(log)) == 3


def test_audit_verify_command(tmp_path, capsys):
    log = tmp_path / "audit.log"
    assert cli.main(["audit", "verify", "--log", str(log)]) == 0
    assert "there is no audit log here" in capsys.readouterr().out
    write(log, 3)
    assert cli.main(["audit", "verify", "--log", str(log)]) == 0
    assert "3 entries, chain intact" in capsys.readouterr().out
    content = lines(log)
    content[1] = content[1].replace('"rows": 1', '"rows": 0')
    log.write_text("\n".join(content) + "\n")
    assert cli.main(["audit", "verify", "--log", str(log)]) == 1
    err = capsys.readouterr().err
    assert f"{log}, line 2: the chain is broken: entry 2 does not match its hash" in err
    # The default log is CDP_AUDIT_LOG (conftest points it at this test's folder).
    done = subprocess.run([sys.executable, "-m", "cdp", "audit", "verify"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "CDP_AUDIT_LOG": str(log)})
    assert done.returncode == 1 and "line 2" in done.stderr

"""The shared store for several servers: DuckLake on a PostgreSQL catalog (a cluster the tests
start in a temporary folder), two dashboard servers and imports from the command line running at
once, one of them killed mid-way. Both servers then show the same, complete figures: nothing
lost, nothing doubled, nothing of the killed import."""
from __future__ import annotations

import os
import signal
import time

import pandas as pd
import pytest

from cdp import demo, store
from conftest import WARDS_FILE
from servers import cdp, chromium, dashboard, metrics, open_page, start_cdp, wait_until_idle
from stores import new_store


KILLED_ROWS = 200_000


def partner_extract(wards, path, seed: int, rows: int, prefix: str):
    """A partner extract of `rows` incidents whose keys start with `prefix` (no two files share one)."""
    frame = demo.generate(wards, seed=seed, rows=rows)
    frame["incident_id"] = prefix + frame["incident_id"].astype(str)
    demo.write_csv(frame, path)
    return path


def wait_for_line(process, text: str, timeout: float = 300) -> list[str]:
    """Lines of the process's stderr up to the first one containing `text`."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    pytest.fail(f"never said {text!r}: {''.join(seen)}")


def test_two_servers_and_concurrent_imports_share_one_lake(postgres, tmp_path, wards, police_uk_files):
    lake = new_store("ducklake-postgres", tmp_path / "lake", postgres)
    env = {"CDP_STORE": lake}
    first = cdp("ingest", "police-uk", police_uk_files[0], "--boundaries", WARDS_FILE, env=env)
    assert first.returncode == 0, first.stderr
    steady = partner_extract(wards, tmp_path / "steady.csv", seed=11, rows=10_000, prefix="S")
    # Big enough that its reading alone takes over a second, so it reports its steps (a command
    # says nothing in its first second) and is still writing when it is killed.
    killed = partner_extract(wards, tmp_path / "killed.csv", seed=12, rows=KILLED_ROWS, prefix="K")

    with chromium() as browser, \
            dashboard(env, tmp_path / "server-1.log") as one, dashboard(env, tmp_path / "server-2.log") as two:
        pages = [open_page(browser, f"{url}/data")[0] for url in (one, two)]
        assert [metrics(p)["Incidents stored"] for p in pages] == [f"{pd.read_csv(police_uk_files[0]).shape[0]:,}"] * 2

        # Three imports at once: two months of police.uk, a partner extract, and a bigger one
        # that is killed with SIGKILL while it writes.
        victim = start_cdp("ingest", "partner", killed, env=env)
        months = start_cdp("ingest", "police-uk", *police_uk_files[1:], "--boundaries", WARDS_FILE, env=env)
        partner = start_cdp("ingest", "partner", steady, env=env)
        wait_for_line(victim, "Writing to the store")
        time.sleep(0.2)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        for process in (months, partner):
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, err
            assert "Traceback" not in err

        counted = store.connect(lake, read_only=True)
        try:
            def count(sql: str) -> int:
                return counted.execute(sql).fetchall()[0][0]
            police_rows = sum(pd.read_csv(f).shape[0] for f in police_uk_files)
            assert count("SELECT count(*) FROM incidents WHERE dataset = 'police_uk'") == police_rows
            assert count("SELECT count(*) FROM incidents WHERE dataset = 'partner'") == 10_000
            assert count("SELECT count(*) FROM incidents WHERE incident_id LIKE 'K%'") == 0  # none of it
            assert count("SELECT count(*) FROM imports") == 3
            assert count("SELECT count(DISTINCT import_id) FROM imports") == 3
            assert count("SELECT max(import_id) FROM imports") == 3
        finally:
            counted.close()

        # The killed import, run again, lands once.
        again = cdp("ingest", "partner", killed, env=env, timeout=600)
        assert again.returncode == 0, again.stderr
        total = police_rows + 10_000 + KILLED_ROWS
        check = store.connect(lake, read_only=True)
        try:
            assert check.execute("SELECT count(*) FROM incidents").fetchall()[0][0] == total
            assert check.execute("SELECT count(*) FROM (SELECT source, incident_id FROM incidents WHERE "
                                 "dataset = 'partner' GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0] == 0
            repeat = {r[0] for r in check.execute("SELECT victim_id FROM repeat_victims").fetchall()}
            expected = {r[0] for r in check.execute(store.REPEAT_GAPS_SQL).fetchall()}
            assert repeat == expected and len(expected) > 0  # derived from every import, not one
        finally:
            check.close()

        # Both servers, reloaded, show the same complete figures.
        shown = []
        for page in pages:
            page.reload()
            wait_until_idle(page)
            shown.append(metrics(page))
        assert shown[0] == shown[1]
        assert shown[0]["Incidents stored"] == f"{total:,}"
        for url in (one, two):
            overview, errors = open_page(browser, url)
            shown.append(metrics(overview))
            assert not errors and "Traceback" not in overview.inner_text("body")
        assert shown[2] == shown[3]

"""One embedded store, many processes: the dashboard keeps serving while command-line reports
run beside it; an import waits its turn (one line saying what holds the store) and the dashboard
picks the new data up; a page opened during an import says the data is being updated. No
traceback ever reaches a user."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from streamlit.testing.v1 import AppTest

from cdp import embedded, store
from conftest import ROOT, WARDS_FILE
from servers import cdp, chromium, dashboard, metrics, open_page, start_cdp, wait_until_idle

ARTIFACTS = ROOT / "tests" / "artifacts"

# A writer in another process: holds the store in an open transaction until told to stop.
HOLDER = """
import sys
from cdp import store
con = store.connect(sys.argv[1])
with store.transaction(con):
    con.execute("DELETE FROM meta WHERE key = 'no such key'")
    print("holding", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class Holder:
    """Another process writing the store (an import, as far as anyone else can tell)."""

    def __init__(self, where: str):
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, where], cwd=ROOT, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout.readline().strip() == "holding"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.communicate("\n", timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


@pytest.fixture
def store_file(demo_db, tmp_path) -> str:
    path = tmp_path / "cdp.duckdb"
    shutil.copy(demo_db, path)
    return str(path)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr


def test_a_report_waits_while_an_import_writes_then_runs(store_file, demo_incidents):
    with Holder(store_file) as holder:
        status = start_cdp("status", "--db", store_file)
        line = status.stderr.readline()  # waiting its turn, saying what holds the store
        assert status.poll() is None
        holder.release()
        out, err = status.communicate(timeout=120)
    assert status.returncode == 0, err
    assert f"Incidents stored: {demo_incidents:,}" in out
    assert err == ""  # that one line only
    assert line.startswith(f"waiting: the store {store_file} is being updated by PID {holder.process.pid}")


def test_a_command_that_cannot_wait_says_what_holds_the_store_in_one_line(store_file):
    with Holder(store_file) as holder:
        result = cdp("status", "--db", store_file, "--wait", "1")
        ingest = cdp("export", "ward-counts", "--priority", "asb", "--db", store_file, "--wait", "0")
    no_traceback(result)
    assert result.returncode == 3 and result.stdout == ""
    waiting, error = result.stderr.splitlines()
    assert waiting.startswith("waiting:")
    assert error.startswith(f"error: the store {store_file} is being updated by "
                            f"PID {holder.process.pid} (python -c import sys from cdp import store")
    assert error.endswith("run this again when it has finished (or give it longer with --wait SECONDS)")
    no_traceback(ingest)
    assert ingest.returncode == 3 and len(ingest.stderr.splitlines()) == 1


def test_readers_share_the_file_and_let_go_when_an_import_asks(store_file, police_uk_files, demo_incidents):
    """A long-lived reader (as a dashboard server is) and reports at once; an import asks, the
    reader lets go within a moment, the import lands, and the reader then sees the new data."""
    reader = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from cdp import store
shared = store.shared({store_file!r})
for line in sys.stdin:
    try:
        with shared.reading() as con:
            print(store.incident_count(con), flush=True)
    except store.Busy as busy:
        print("busy", busy.holder, flush=True)
"""], cwd=ROOT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == str(demo_incidents)  # the reader now holds the file open
        status = cdp("status", "--db", store_file, "--wait", "0")
        assert status.returncode == 0 and not status.stderr  # readers side by side
        started = time.monotonic()
        result = cdp("ingest", "police-uk", *police_uk_files, "--db", store_file,
                     "--boundaries", WARDS_FILE)
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 60
        loaded = int(result.stdout.split("Loaded ")[1].split(" ")[0].replace(",", ""))
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == str(loaded)  # real data replaced the demo
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert not embedded.request_path(store.locate(store_file).path).exists()


def test_a_page_opened_during_an_import_says_the_data_is_being_updated(store_file, monkeypatch):
    monkeypatch.setenv("CDP_DB", store_file)
    with Holder(store_file) as holder:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
        assert not at.exception
        (notice,) = at.info
        assert notice.value.startswith("**The data is being updated**")
        assert f"PID {holder.process.pid}" in notice.value
        assert not at.metric
    at.run()
    assert not at.exception
    assert not [i for i in at.info if "being updated" in i.value]  # the local-mode banner stays
    assert at.title[0].value == "Overview" and at.metric


def test_the_dashboard_and_the_command_line_share_the_store(store_file, police_uk_files, tmp_path,
                                                            demo_incidents):
    """The real thing: a dashboard server with a page open; `status` and `export` beside it; an
    import that completes and shows on the next rerun; a page opened while a writer holds the
    store says so, then shows the figures by itself once the writer has finished."""
    with chromium() as browser, dashboard({"CDP_DB": store_file}, tmp_path / "server.log") as url:
        page, errors = open_page(browser, f"{url}/data")
        assert metrics(page)["Incidents stored"] == f"{demo_incidents:,}"
        for command in (["status"], ["export", "ward-counts", "--priority", "asb"]):
            result = cdp(*command, "--db", store_file, "--wait", "0")
            assert result.returncode == 0 and not result.stderr, result.stderr
        result = cdp("ingest", "police-uk", *police_uk_files, "--db", store_file,
                     "--boundaries", WARDS_FILE, timeout=180)
        assert result.returncode == 0, result.stderr
        loaded = result.stdout.split("Loaded ")[1].split(" ")[0]
        page.reload()
        wait_until_idle(page)
        assert metrics(page)["Incidents stored"] == loaded

        with Holder(store_file) as holder:
            busy, busy_errors = open_page(browser, f"{url}/data")
            body = busy.inner_text("body")
            assert "The data is being updated" in body and f"PID {holder.process.pid}" in body
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            busy.screenshot(path=str(ARTIFACTS / "busy-store.png"))
        busy.wait_for_selector('[data-testid="stMetricValue"]', timeout=30_000)  # reruns by itself
        wait_until_idle(busy)
        shown_now = metrics(busy)
        assert shown_now.get("Incidents stored") == loaded, (shown_now, busy.inner_text("body")[:1500])
        for shown in (page, busy):
            text = shown.inner_text("body")
            assert "Traceback" not in text and not shown.locator('[data-testid="stException"]').count()
        assert not errors and not busy_errors

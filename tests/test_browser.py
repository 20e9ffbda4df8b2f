"""Every page in a real browser: the server started from dashboard.py, pages opened in Debian's
headless Chromium through Playwright, checked for exceptions and drawn charts, and screenshotted
to tests/artifacts/."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = Path(os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"
# (url path, a heading the page must show, whether it draws charts)
PAGES = [
    ("overview", "Overview", True),
    ("maps", "Hotspot maps", True),
    ("trends", "Trends and exceptions", True),
    ("repeats", "Repeat victimisation", True),
    ("profile", "Problem profile", False),
    ("briefing", "Board briefing", True),
    ("data", "Data", False),
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_db, tmp_path_factory):
    """The dashboard served on a free local port, on a copy of the demo store."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    store_copy = tmp_path_factory.mktemp("browser") / "cdp.duckdb"
    shutil.copy(demo_db, store_copy)
    port = _free_port()
    env = {**os.environ, "CDP_DB": str(store_copy)}
    log = open(store_copy.parent / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.terminate()
        pytest.fail(f"the dashboard did not start: {(store_copy.parent / 'server.log').read_text()}")
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield chromium
        chromium.close()


def open_page(browser, url: str, width: int = 1600, height: int = 1200):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    wait_until_idle(page)
    return page, errors


def wait_until_idle(page, timeout_ms: int = 60_000) -> None:
    """Until Streamlit has finished running the script (no running indicator, no spinner)."""
    page.wait_for_timeout(1000)
    page.wait_for_function(
        """() => document.querySelector('[data-testid="stMain"] h1')
                 && !document.querySelector('[data-testid="stStatusWidget"]')
                 && !document.querySelector('[data-testid="stSkeleton"]')
                 && !document.querySelector('[data-testid="stSpinner"]')""", timeout=timeout_ms)
    page.wait_for_timeout(1000)


@pytest.mark.parametrize("path, heading, has_charts", PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_without_errors(server, browser, path, heading, has_charts):
    if not (ROOT / "pages" / f"{path}.py").exists():
        pytest.skip(f"pages/{path}.py is not built yet")
    url_path = "" if path == "overview" else path  # the default page lives at the root URL
    page, errors = open_page(browser, f"{server}/{url_path}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{path}.png"), full_page=True)
    body = page.inner_text("body")
    assert page.locator('[data-testid="stException"]').count() == 0, body[:2000]
    assert "Traceback" not in body and "Page not found" not in body
    assert heading in body
    assert "Synthetic demo data" in body
    if has_charts:
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        assert page.locator(".js-plotly-plot").count() >= 1
    assert not errors, errors
    page.close()


def test_filters_are_kept_in_the_url_and_restored(server, browser):
    page, _ = open_page(browser, f"{server}/?priorities=hate_crime&wards=E05012277")
    body = page.inner_text("body")
    assert "Page not found" not in body
    assert "Hate crime" in body and "Anti-social behaviour" not in body.split("Overview", 1)[1]
    wait_until_idle(page)
    page.get_by_role("link", name="Data").first.click(timeout=60_000)
    wait_until_idle(page)
    assert "wards=E05012277" in page.url and "priorities=hate_crime" in page.url
    page.close()

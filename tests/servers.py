"""Real processes for tests: dashboard servers on free local ports, command-line runs, Chromium."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium"))
# Drawn charts: Plotly's, and the charts drawn as SVG images (the briefing's control charts).
PLOTLY = ".js-plotly-plot .main-svg"
CHART_IMAGE = '[data-testid="stImage"] img[src^="data:image/svg+xml"]'
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def need_chromium() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(env: dict, log: Path, args: tuple[str, ...] | list[str] = (), port: int | None = None,
              host: str = "127.0.0.1") -> Iterator[str]:
    """`streamlit run serve.py` (the dashboard as the README starts it) with `env` added to this
    environment and `args` added to its command line, on `port` (else a free one); yields its URL
    as reached at `host`."""
    port = port or free_port()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.headless",
             "true", "--server.port", str(port), "--browser.gatherUsageStats", "false", *args],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    args = list(args)
    base = args[args.index("--server.baseUrlPath") + 1].strip("/") + "/" if "--server.baseUrlPath" in args else ""
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/{base}_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"the dashboard did not start: {log.read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cdp(*args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m cdp ARGS` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "cdp", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def start_cdp(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cdp", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})


@contextmanager
def chromium():
    need_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until_idle(page, timeout_ms: int = 60_000) -> None:
    """Until Streamlit has finished running the script (no running indicator, no spinner)."""
    page.wait_for_timeout(1000)
    page.wait_for_function(
        """() => document.querySelector('[data-testid="stMain"] h1, [data-testid="stMain"] h2, '
                                        + '[data-testid="stMain"] [data-testid="stAlert"]')
                 && !document.querySelector('[data-testid="stStatusWidget"]')
                 && !document.querySelector('[data-testid="stSkeleton"]')
                 && !document.querySelector('[data-testid="stSpinner"]')""", timeout=timeout_ms)
    page.wait_for_timeout(1000)


def open_page(browser, url: str, width: int = 1600, height: int = 1000):
    page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The browser asks nothing of anyone but the dashboard's server (no icons, fonts or scripts
    # from elsewhere: offline, and no third party learns who looks at what).
    ours = urlsplit(url).hostname
    page.on("request", lambda request: urlsplit(request.url).hostname in (ours, None)
            or errors.append(f"a request outside the dashboard's server: {request.url}"))
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    wait_until_idle(page)
    return page, errors


def metrics(page) -> dict[str, str]:
    """Every st.metric on the page: label -> value as shown (once the page shows some)."""
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
    wait_until_idle(page)
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values)}

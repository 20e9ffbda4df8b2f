"""`python -m cdp bench --browser`: every page timed as a user feels it, in headless Chromium.

Starts the dashboard (`streamlit run serve.py`, headless, a free local port) on the benchmark
store, drives Debian's Chromium through Playwright (never a downloaded browser) and times, per
page, opening the page and changing a shared filter (the period), from the action to the last
change on screen: a MutationObserver notes every change to the page (but inside a <canvas>,
never painted), and an action has ended once the server has said its run finished (over the
websocket), Streamlit's running indicator is gone and nothing has changed for `QUIET_MS`. Each
is measured first-time (a new server, so nothing of that view is cached: the server is warmed
with another view first, so Python's imports and the filter choices are not counted) and cached
(the same action again), beside the floor: a minimal Streamlit app measured the same way in the
same run. An open loads the page's address, as a bookmark or a shared link does: the browser starts
Streamlit's frontend anew each time. Moving between pages with the navigation, as users mostly
do, keeps it running; that is timed too ("from the navigation": clicking the page's link on another
page, the view seen before). The payload is what the page's websocket received for the action.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CDP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
QUIET_MS = 750  # nothing changed on screen for this long: the action has ended
# The pages in the navigation's order (dashboard.py), by their URL path; the default page is at "/".
PAGES = ["overview", "maps", "trends", "repeats", "reoffending", "substance", "profile", "briefing", "data"]
FIRST_VIEW = "Last 12 months"  # the default period: opened first
CHANGED_VIEW = "Last 3 months"  # the period chosen: never chosen before on a new server
PERIOD = "f_period"  # the sidebar's period (app/sidebar.py)
WARM_QUERY = "priorities=asb"  # another view, opened on a new server before measuring
FLOOR_SCRIPT = '''import streamlit as st
st.set_page_config(layout="wide")
period = st.sidebar.selectbox("Period", ["Last 12 months", "Last 3 months", "Latest month"], key="f_period")


def minimal():
    st.title("A minimal page")
    st.write(f"Period: {period}")


def another():
    st.title("Another minimal page")


st.navigation([st.Page(minimal, title="Minimal", default=True),
               st.Page(another, title="Another", url_path="another")]).run()
'''
FLOOR_AWAY = "another"  # the floor's other page, where its navigation is timed from
AWAY, AWAY_ELSE = "profile", "overview"  # a page's navigation is timed from here (from the other for itself)

# Installed before the page's own scripts: the time of the last change to the document and of the
# last message its websocket received (what the server sent: the rest is the browser drawing it).
OBSERVER = """
window.__lastChange = performance.now();
window.__lastMessage = 0;
// What a <canvas> holds is fallback content, never painted (a data grid writes its cells there
// for screen readers, 0.3 s after drawing them): changes inside it are not changes on screen.
const __painted = (m) => {
  const target = m.target.nodeType === 1 ? m.target : m.target.parentElement;
  const canvas = target && target.closest('canvas');
  return !canvas || (canvas === target && m.type === 'attributes');
};
new MutationObserver((records) => { if (records.some(__painted)) window.__lastChange = performance.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
const __WebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new __WebSocket(...args);
  socket.addEventListener('message', () => { window.__lastMessage = performance.now(); });
  return socket;
};
window.WebSocket.prototype = __WebSocket.prototype;
Object.assign(window.WebSocket, __WebSocket);
"""
SETTLED = """([since, quiet]) => {
  const now = performance.now();
  return !document.querySelector('[data-testid="stStatusWidget"]')
      && !document.querySelector('[data-testid="stSkeleton"]')
      && !document.querySelector('[data-testid="stSpinner"]')
      && !!document.querySelector('[data-testid="stMain"] h1, [data-testid="stMain"] h2, [data-testid="stMain"] [data-testid="stAlert"]')
      && window.__lastChange > since && now - window.__lastChange >= quiet;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(script: Path, env: dict, log: Path) -> Iterator[str]:
    """`streamlit run script` headless on a free local port, with `env` added; yields its URL."""
    port = free_port()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the server of {script.name} did not start: {log.read_text()[-2000:]}")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def chromium():
    """Debian's Chromium, headless, through Playwright."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is not installed (apt-get install chromium; or set CDP_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """One browser tab on a page of the dashboard, counting what its websocket receives."""

    def __init__(self, context, timeout_ms: int):
        self.page = context.new_page()
        self.page.add_init_script(OBSERVER)
        self.timeout_ms = timeout_ms
        self.received, self.finished = 0, False
        self.last_message = 0.0  # seconds from the last action to the last websocket message
        self.errors: list[str] = []
        self.page.on("websocket", self._watch)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _watch(self, ws) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload: bytes | str) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        self.received += len(payload)
        if isinstance(payload, bytes):
            message = ForwardMsg()
            message.ParseFromString(payload)
            if (message.WhichOneof("type") == "script_finished"
                    and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN):
                self.finished = True

    def _settle(self, since: float) -> float:
        """Seconds from `since` (ms on the page's clock) to the last change on screen, once the
        server has said its run finished (not a run cut short to run again)."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            self.page.wait_for_function(SETTLED, arg=[since, QUIET_MS], timeout=self.timeout_ms, polling=50)
            if self.finished:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.page.url}: the server's run did not finish")
            self.page.wait_for_timeout(50)
        for problem in ("Traceback", "Page not found"):
            if self.page.get_by_text(problem).count():
                raise RuntimeError(f"{self.page.url} shows {problem!r}")
        self.last_message = max(0.0, (self.page.evaluate("window.__lastMessage") - since) / 1000)
        return (self.page.evaluate("window.__lastChange") - since) / 1000

    def open(self, url: str) -> tuple[float, int]:
        """Load `url`: seconds from the navigation's start to the last change, bytes received."""
        self.received, self.finished = 0, False
        self.page.goto(url, wait_until="commit")
        return self._settle(0.0), self.received

    def choose(self, key: str, option: str) -> tuple[float, int]:
        """Choose `option` in the selectbox of widget key `key`: seconds from the click, bytes."""
        self.page.locator(f'.st-key-{key} [role="combobox"]').click()
        item = self.page.get_by_role("option", name=option, exact=True)
        item.wait_for()
        return self._timed(item.click)

    def navigate(self, href: str) -> tuple[float, int]:
        """Click the navigation's link to `href`: seconds from the click, bytes received."""
        return self._timed(self.page.locator(f'[data-testid="stSidebarNavLink"][href="{href}"]').click)

    def _timed(self, click) -> tuple[float, int]:
        """Seconds from `click` to the last change on screen, and the bytes received meanwhile."""
        before, self.finished = self.received, False
        since = self.page.evaluate("performance.now()")
        click()
        return self._settle(since), self.received - before

    def close(self) -> None:
        self.page.close()


def address(url: str, page: str, query: str = "") -> str:
    return f"{url}/{'' if page == PAGES[0] else page}" + (f"?{query}" if query else "")


def _figures(runs: list[tuple[float, int]]) -> dict:
    return {"seconds": [s for s, _ in runs], "bytes": [b for _, b in runs]}


def measure(store_env: dict, repeats: int, pages: list[str], log_dir: Path, timeout_ms: int = 180_000) -> dict:
    """Per page (and the floor): open and period-change runs, first-time and cached, with the
    dashboard on the store `store_env` names (CDP_STORE: an embedded file or a DuckLake, and a
    lake's CDP_DATA_PATH)."""
    runs: dict[str, dict[str, list]] = {}

    def note(name: str, kind: str, run: tuple[float, int]) -> None:
        runs.setdefault(name, {}).setdefault(kind, []).append(run)

    env = {"CDP_DB": "", **store_env}
    floor_script = log_dir / "floor.py"
    floor_script.write_text(FLOOR_SCRIPT)
    with chromium() as browser:
        for _ in range(repeats):
            with server(floor_script, {}, log_dir / "floor.log") as url:
                context = browser.new_context(viewport={"width": 1600, "height": 1000})
                tab = Tab(context, timeout_ms)
                tab.open(url)  # the browser's cache holds Streamlit's scripts, as for the pages
                for kind in ("open", "open cached"):
                    note("floor", kind, tab.open(url))
                note("floor", "open cached, last message", (tab.last_message, 0))
                note("floor", "period", tab.choose(PERIOD, CHANGED_VIEW))
                tab.choose(PERIOD, FIRST_VIEW)
                note("floor", "period cached", tab.choose(PERIOD, CHANGED_VIEW))
                for _ in range(2):
                    tab.navigate(f"{url}/{FLOOR_AWAY}")
                    note("floor", "navigation", tab.navigate(f"{url}/"))
                context.close()
            with server(ROOT / "serve.py", env, log_dir / "dashboard.log") as url:
                context = browser.new_context(viewport={"width": 1600, "height": 1000})
                for page in pages:  # another view first: imports and filter choices are warm
                    tab = Tab(context, timeout_ms)
                    tab.open(address(url, page, WARM_QUERY))
                    tab.close()
                for page in pages:
                    tab = Tab(context, timeout_ms)
                    try:
                        note(page, "open", tab.open(address(url, page)))
                        note(page, "period", tab.choose(PERIOD, CHANGED_VIEW))
                        tab.choose(PERIOD, FIRST_VIEW)
                        note(page, "period cached", tab.choose(PERIOD, CHANGED_VIEW))
                        note(page, "open cached", tab.open(address(url, page)))
                        note(page, "open cached, last message", (tab.last_message, 0))
                        for _ in range(2):
                            tab.navigate(address(url, AWAY if page != AWAY else AWAY_ELSE))
                            note(page, "navigation", tab.navigate(address(url, page)))
                    except Exception as exc:
                        raise RuntimeError(f"pages/{page}.py in the browser: {exc}") from exc
                    if tab.errors:
                        raise RuntimeError(f"pages/{page}.py: errors in the browser: {tab.errors}")
                    tab.close()
                context.close()
    return {name: {kind: _figures(values) for kind, values in kinds.items()} for name, kinds in runs.items()}


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def _size(values: list[int]) -> str:
    return f"{statistics.median(values) / 1024:,.0f} KiB"


def table(measured: dict) -> list[str]:
    kinds = ["open", "open cached", "period", "period cached", "navigation"]
    head = ["first open", "cached open", "first period", "cached period", "navigation"]
    lines = [f"{'page':<12}" + "".join(f"{h:>15}" for h in head) + f"{'open sends':>14}{'period sends':>14}"
             f"{'last message':>15}"]
    for name, m in measured.items():
        lines.append(f"{name:<12}" + "".join(f"{_fmt(m[k]['seconds']):>15}" for k in kinds)
                     + f"{_size(m['open cached']['bytes']):>14}{_size(m['period cached']['bytes']):>14}"
                     + f"{_fmt(m['open cached, last message']['seconds']):>15}")
    return lines


def report(rows: int, where, build: str, size: str, repeats: int, pages: list[str] | None = None) -> str:
    """The table for the store `where` (a cdp.store.Location: the embedded benchmark store, or the
    DuckLake given with --store), built or copied as `build` says."""
    import platform
    pages = pages or PAGES
    store_env = ({"CDP_STORE": f"ducklake:{where.catalog}", "CDP_DATA_PATH": where.data_path or ""}
                 if where.is_lake else {"CDP_STORE": str(where.path)})
    with tempfile.TemporaryDirectory(prefix="cdp-bench-browser-") as tmp:
        measured = measure(store_env, repeats, pages, Path(tmp))
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True).stdout.strip()
    return "\n".join([
        f"Browser benchmark: {rows:,} synthetic incidents ({build}); store {where} {size}",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; {version}, headless, 1600x1000",
        f"{repeats} run(s) of each; seconds from the action to the last change on screen (then "
        f"{QUIET_MS} ms quiet), median / max; first = a new server (warmed with another view), "
        f"cached = the same again; period: '{FIRST_VIEW}' to '{CHANGED_VIEW}'; sends = websocket "
        "bytes received (median); last message = a cached open's seconds to the last websocket "
        "message (loading, the server's run and the transfer: the rest of its time is the browser "
        "drawing); open = loading the page's address, navigation = clicking its link on another "
        f"page ({AWAY}, or {AWAY_ELSE} for {AWAY}), cached; floor = a minimal Streamlit app",
        "",
        *table(measured),
    ])

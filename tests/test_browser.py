"""Every page in a real browser: the server started as the README starts it, pages opened in Debian's
headless Chromium through Playwright, checked for exceptions and drawn charts, and screenshotted
to tests/artifacts/."""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.page_head import module
from conftest import ROOT
from servers import CHART_IMAGE, PLOTLY, chromium, dashboard, need_chromium, open_page, wait_until_idle

ARTIFACTS = ROOT / "tests" / "artifacts"
# (url path, a heading the page must show, what its drawn charts are: Plotly's, images or none)
# The first page opened is a deep link on a fresh server: the case app.context's guard handles.
PAGES = [
    ("maps", "Hotspot maps", PLOTLY),
    ("overview", "Overview", CHART_IMAGE),
    ("trends", "Trends and exceptions", PLOTLY),
    ("repeats", "Repeat victimisation", PLOTLY),
    ("reoffending", "Reoffending", PLOTLY),
    ("substance", "Substance misuse", PLOTLY),
    ("profile", "Problem profile", None),
    ("briefing", "Board briefing", CHART_IMAGE),
    ("data", "Data", None),
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.log"


@pytest.fixture(scope="module")
def server(demo_db, tmp_path_factory, audit_log):
    """The dashboard served on a free local port, on a copy of the demo store, as an analyst."""
    need_chromium()
    store_copy = tmp_path_factory.mktemp("browser") / "cdp.duckdb"
    shutil.copy(demo_db, store_copy)
    env = {"CDP_DB": str(store_copy), "CDP_AUDIT_LOG": str(audit_log), "CDP_ROLE": "analyst"}
    with dashboard(env, store_copy.parent / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("path, heading, charts", PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_without_errors(server, browser, path, heading, charts):
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
    if path == "trends":   # its first tab, the exceptions, draws no chart; the series tab does
        page.get_by_role("tab", name="Series").click()
        wait_until_idle(page)
    if charts:
        page.wait_for_selector(charts, timeout=30_000)
        assert page.locator(charts).first.evaluate("e => e.naturalWidth ?? e.getBBox().width") > 0
    assert not errors, errors
    page.close()


def asked_for(browser, url: str) -> tuple[object, list[str]]:
    """`url` opened (its first tab drawn), and the path of every request the page made."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urlsplit(request.url).path))
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    wait_until_idle(page)
    return page, paths


def test_a_page_address_reaches_the_server_at_once(server, browser):
    """The page names the server (app/page_head.py): Streamlit's frontend asks nothing under the
    page's own path, where it would otherwise try /maps/_stcore/health first, be refused and wait.
    The map's chart module is asked for once, before the page's run has started: preloaded, and
    the preloaded module is the one the chart uses."""
    page, paths = asked_for(browser, f"{server}/maps")
    assert page.evaluate("window.__streamlit.BACKEND_BASE_URL") == f"{server}/"
    assert "/_stcore/health" in paths and not [p for p in paths if p.startswith("/maps/")], paths
    assert "Hotspot maps" in page.inner_text("body")
    page.wait_for_selector(PLOTLY, timeout=30_000)
    chart = "/" + module("PlotlyChart")
    assert paths.count(chart) == 1 and paths.index(chart) < paths.index("/_stcore/health"), paths
    page.close()


def test_under_a_base_path_as_behind_a_proxy(demo_db, tmp_path, browser):
    """Served under a path (server.baseUrlPath, as behind a reverse proxy at /cdp/), a page's
    address still opens the page, at once."""
    store_copy = tmp_path / "cdp.duckdb"
    shutil.copy(demo_db, store_copy)
    env = {"CDP_DB": str(store_copy), "CDP_AUDIT_LOG": str(tmp_path / "audit.log"), "CDP_ROLE": "analyst"}
    with dashboard(env, tmp_path / "server.log", args=("--server.baseUrlPath", "cdp")) as url:
        page, paths = asked_for(browser, f"{url}/cdp/trends")
        page.get_by_role("heading", name="Trends and exceptions").wait_for(timeout=60_000)
        assert page.evaluate("window.__streamlit.BACKEND_BASE_URL") == f"{url}/cdp/"
        assert "/cdp/_stcore/health" in paths and not [p for p in paths if p.startswith("/cdp/trends/")], paths
        assert "/cdp/" + module("DataFrame") in paths   # preloaded under the base path
        page.close()
        page, paths = asked_for(browser, f"{url}/cdp/")   # the default page: nothing to name
        page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        assert page.evaluate("window.__streamlit?.BACKEND_BASE_URL ?? null") is None
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


def test_a_pages_open_tab_is_kept_in_the_url(server, browser):
    """A page's sections are tabs drawn only while open; the open one is in the address, so a
    reload or a shared link opens it."""
    page, errors = open_page(browser, f"{server}/substance")
    assert page.get_by_role("tab", name="Treatment", selected=True).count() == 1
    page.get_by_role("tab", name="Wards and premises").click()
    page.get_by_role("heading", name="By ward").wait_for(timeout=60_000)
    wait_until_idle(page)
    assert "substance_section=Wards+and+premises" in page.url
    page.reload()
    wait_until_idle(page)
    assert page.get_by_role("tab", name="Wards and premises", selected=True).count() == 1
    assert page.get_by_role("heading", name="By ward").count() == 1
    assert page.locator('[data-testid="stDataFrame"]').count() >= 3
    assert page.locator(".js-plotly-plot").count() == 0   # the treatment charts are not drawn
    assert not errors
    page.close()


def test_maps_drill_down_into_a_ward(server, browser):
    """The drill-down opens beside the map, on screen; the map's choices and the ward are in the
    address, which opens the same map again."""
    page, errors = open_page(browser, f"{server}/maps")
    box = page.locator(".st-key-maps_ward input")  # a combobox: type to filter, then choose
    box.click()
    box.press_sequentially("Castl", delay=50)
    page.get_by_role("option", name="Castle").wait_for(timeout=15_000)
    box.press("ArrowDown")
    box.press("Enter")
    page.get_by_text("Top streets and locations").wait_for(timeout=60_000)
    wait_until_idle(page)
    density = page.locator(".st-key-maps_density .js-plotly-plot")
    assert density.count() == 1
    ward_map = page.locator(".st-key-maps_map").bounding_box()
    beside = density.bounding_box()
    assert beside["x"] >= ward_map["x"] + ward_map["width"] - 1             # to the right of the map
    assert beside["y"] < ward_map["y"] + ward_map["height"]                  # level with it
    page.screenshot(path=str(ARTIFACTS / "maps-drill-down-1600x1000.png"))
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # streets, premises
    assert "maps_ward=Castle" in page.url
    page.locator(".st-key-maps_measure").get_by_text("Change on a year earlier").click()
    page.wait_for_url(re.compile("maps_measure="), timeout=15_000)
    wait_until_idle(page)
    again, more_errors = open_page(browser, page.url)                          # the address reopened
    again.get_by_text("Top streets and locations").wait_for(timeout=60_000)
    assert "Castle" in again.locator(".st-key-maps_ward").inner_text() + again.locator(".st-key-maps_ward input").input_value()
    assert again.locator(".st-key-maps_measure").get_by_role("radio", name="Change on a year earlier").is_checked()
    assert not errors and not more_errors
    again.close()
    page.close()


def test_presentation_mode(server, browser):
    """Present hides the sidebar; the arrow keys move between panels; Esc goes back."""
    page, _ = open_page(browser, f"{server}/briefing", height=900)
    assert page.locator('section[data-testid="stSidebar"]').is_visible()
    page.get_by_role("button", name="Present").click()
    page.wait_for_selector("text=Panel 1 of 7", timeout=30_000)
    wait_until_idle(page)
    assert not page.locator('section[data-testid="stSidebar"]').is_visible()
    assert page.locator('[data-testid="stMetric"]').count() == 1
    size = page.eval_on_selector('.st-key-briefing-slide [data-testid="stMetricValue"] p',
                                 "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 64  # readable from the back of the room
    page.screenshot(path=str(ARTIFACTS / "presentation-mode.png"))
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("text=Panel 2 of 7", timeout=15_000)
    # The panel's heading follows its number within the same run: wait for it rather than race it.
    page.locator(".st-key-briefing-slide h2").filter(
        has_text=re.compile("^Anti-social behaviour")).first.wait_for(timeout=15_000)
    page.wait_for_url(re.compile(r"slide=2"), timeout=15_000)
    page.reload()                                   # the slide is in the address: it survives a reload
    page.wait_for_selector("text=Panel 2 of 7", timeout=30_000)
    wait_until_idle(page)
    page.keyboard.press("Escape")
    page.wait_for_selector("text=Download PDF deck", timeout=15_000)
    page.wait_for_selector('section[data-testid="stSidebar"]', state="visible", timeout=15_000)
    page.close()


def new_audit_entries(audit_log: Path, before: list[str]) -> list[dict]:
    """The audit log lines written after `before` (waiting up to 10 s for the first)."""
    for _ in range(40):
        lines = audit_log.read_text().splitlines() if audit_log.exists() else []
        if len(lines) > len(before):
            break
        time.sleep(0.25)
    return [json.loads(line) for line in lines[len(before):]]


def test_a_person_level_download_writes_the_audit_log_at_the_click(server, browser, audit_log):
    page, _ = open_page(browser, f"{server}/profile?location_text=Market%20Street")
    button = page.get_by_role("button", name="Download CSV")
    button.wait_for(timeout=90_000)
    before = audit_log.read_text().splitlines() if audit_log.exists() else []
    with page.expect_download(timeout=60_000) as download:
        button.click()
    rows = sum(1 for _ in open(download.value.path())) - 1
    (entry,) = new_audit_entries(audit_log, before)
    assert (entry["action"], entry["what"], entry["role"]) == ("export", "problem profile CSV", "analyst")
    assert entry["filters"]["subject"] == "location" and entry["filters"]["key"] == "Market Street"
    assert entry["rows"] == rows > 0
    page.close()


def test_a_frequent_offender_opens_their_profile_and_the_list_download_is_audited(server, browser, audit_log):
    page, errors = open_page(browser, f"{server}/reoffending", height=1600)
    page.get_by_role("tab", name="Most frequent offenders").click()
    wait_until_idle(page)
    grid = page.locator(".st-key-frequent-offenders")
    grid.scroll_into_view_if_needed()
    grid.locator("canvas").first.wait_for(timeout=60_000)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
    button = page.get_by_role("button", name=re.compile("Open the problem profile for O"))
    button.wait_for(timeout=60_000)
    key = button.inner_text().rsplit(" ", 1)[-1]
    before = audit_log.read_text().splitlines() if audit_log.exists() else []
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download the list (CSV)").click()
    assert key in open(download.value.path()).read()
    (entry,) = new_audit_entries(audit_log, before)
    assert (entry["action"], entry["what"], entry["rows"]) == ("export", "most frequent offenders", 50)
    button.click()
    page.wait_for_url(re.compile("/profile"), timeout=60_000)
    wait_until_idle(page)
    page.get_by_text("Timeline").first.wait_for(timeout=60_000)
    assert key in page.inner_text("body")
    assert not errors
    page.close()

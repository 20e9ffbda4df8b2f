"""The upload in a real browser: a file whose name is a path (../../…, as a hostile page or client
can send) is imported from the server's private folder, and nothing is written where the name
points. A file name that looks like a markdown link shows as text."""
from __future__ import annotations

import re
import shutil

import pytest

from conftest import ROOT
from servers import chromium, dashboard, need_chromium, open_page, wait_until_idle

ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def upload_server(demo_db, tmp_path_factory):
    need_chromium()
    folder = tmp_path_factory.mktemp("browser-upload")
    store = folder / "cdp.duckdb"
    shutil.copy(demo_db, store)
    env = {"CDP_DB": str(store), "CDP_UPLOAD_DIR": str(folder / "uploads"),
           "CDP_AUDIT_LOG": str(folder / "audit.log"), "CDP_ROLE": "analyst"}
    with dashboard(env, folder / "server.log") as url:
        yield url, folder


def choose_files(page, files: list[tuple[str, bytes]]) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [{"name": name, "mimeType": "text/csv", "buffer": data} for name, data in files])
    page.wait_for_function(f"""() => document.querySelectorAll('[data-testid="stFileChip"]').length
                                     == {len(files)}""", timeout=30_000)


def test_an_upload_named_like_a_path_is_written_only_where_the_server_chooses(upload_server, browser,
                                                                          police_uk_files):
    url, folder = upload_server
    target = folder / "outside" / "2024-01-nottinghamshire-street.csv"
    name = "../" * 12 + str(target).lstrip("/")
    page, errors = open_page(browser, f"{url}/data")
    choose_files(page, [(name, police_uk_files[0].read_bytes())])
    page.get_by_role("button", name="Import").click()
    page.get_by_text(re.compile(r"^Loaded [\d,]+ police_uk rows")).wait_for(timeout=120_000)
    wait_until_idle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "data-upload.png"), full_page=True)
    body = page.inner_text("body")
    assert "police_uk rows from 1 file(s)" in body and "Traceback" not in body
    assert not target.exists() and not target.parent.exists()
    assert list((folder / "uploads").iterdir()) == []  # the private folder is gone again
    assert not errors
    page.close()


def test_a_file_name_like_a_link_shows_as_text(upload_server, browser):
    url, _ = upload_server
    page, _ = open_page(browser, f"{url}/data")
    name = "[click me](http://evil.example).csv"
    choose_files(page, [(name, b"Crime ID,Month\nx,2024-01\n")])
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Nothing was loaded").wait_for(timeout=60_000)
    wait_until_idle(page)
    page.screenshot(path=str(ARTIFACTS / "data-upload-refused.png"), full_page=True)
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert f"{name} line 1: not a police.uk street file" in page.inner_text("body")
    page.close()


# --- hostile text on the pages ------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from hostile import hostile_store
    need_chromium()
    folder = tmp_path_factory.mktemp("browser-hostile")
    store = hostile_store(folder)
    env = {"CDP_DB": str(store), "CDP_AUDIT_LOG": str(folder / "audit.log"), "CDP_ROLE": "analyst",
           "CDP_UPLOAD_DIR": str(folder / "uploads")}
    with dashboard(env, folder / "server.log") as url:
        yield url


@pytest.mark.parametrize("path, shows", [
    ("profile?premises_id=PR1", "The [x](http://evil.example/md)"),
    ("maps", "Castle"),
    ("repeats", "Repeat victimisation"),
    ("trends", "Trends and exceptions"),
    ("briefing", "Board briefing"),
])
def test_text_from_data_is_never_a_link_in_the_browser(hostile_server, browser, path, shows):
    page, errors = open_page(browser, f"{hostile_server}/{path}")
    if path == "maps":
        box = page.locator(".st-key-maps_ward input")
        box.click()
        box.press_sequentially("Castle", delay=50)
        box.press("ArrowDown")
        box.press("Enter")
        page.get_by_text("Top streets and locations").wait_for(timeout=120_000)
        wait_until_idle(page, timeout_ms=120_000)
    page.screenshot(path=str(ARTIFACTS / f"hostile-{path.split('?')[0]}.png"), full_page=True)
    body = page.inner_text("body").replace("\u2060", "")  # the word joiners that stop autolinks
    assert shows in body and "Traceback" not in body
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.locator("a[href^='mailto:']").count() == 0
    assert page.locator("b:has-text('BOLD9'), strong:has-text('BOLD9')").count() == 0
    assert page.locator(".js-plotly-plot a").count() == 0  # plotly draws <a href> as svg links
    assert not errors
    page.close()

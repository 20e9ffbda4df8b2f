"""The board's slides in a real browser at the room's screen sizes: every presentation-mode slide
and every slide of the HTML deck fits 1920x1080 and 1280x720 without scrolling, its smallest text
is 24 px at 1920x1080 (scaled with the screen), and no slide carries configuration instructions."""
from __future__ import annotations

import shutil

import pytest

from conftest import ROOT
from servers import chromium, dashboard, need_chromium, open_page, wait_until_idle

ARTIFACTS = ROOT / "tests" / "artifacts"
SIZES = [(1920, 1080), (1280, 720)]
pytestmark = pytest.mark.browser

# How far the page scrolls: the document's, or that of any scrolling box (Streamlit's main area).
OVERFLOW = """() => Math.max(document.scrollingElement.scrollHeight - innerHeight,
  ...[...document.querySelectorAll('*')].filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
     .map(e => e.scrollHeight - e.clientHeight))"""
# The smallest font of any text drawn on screen (HTML and SVG), with the text that has it.
SMALLEST_TEXT = """() => { let least = [1e9, ''];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, e = node.parentElement, text = node.textContent.trim();
    if (!text || e.closest('[data-testid="stSkipToContent"], style, script')) continue;
    const box = e.getBoundingClientRect(), style = getComputedStyle(e);
    if (box.width < 2 || box.height < 2 || style.visibility === 'hidden' || box.bottom < 0) continue;
    const size = e instanceof SVGElement && e.ownerSVGElement && e.ownerSVGElement.viewBox.baseVal.width
      ? parseFloat(style.fontSize) * e.ownerSVGElement.getBoundingClientRect().width
        / e.ownerSVGElement.viewBox.baseVal.width
      : parseFloat(style.fontSize);
    if (size < least[0]) least = [size, text.slice(0, 60)]; }
  return least; }"""


@pytest.fixture(scope="module")
def server(demo_db, tmp_path_factory):
    """The dashboard as the board sees it, on a copy of the demo store, with a treatment file
    configured that does not exist (its path and the variable's name must stay off the slides)."""
    need_chromium()
    store_copy = tmp_path_factory.mktemp("briefing-browser") / "cdp.duckdb"
    shutil.copy(demo_db, store_copy)
    env = {"CDP_DB": str(store_copy), "CDP_ROLE": "board",
           "CDP_TREATMENT": str(store_copy.parent / "missing-treatment.csv")}
    with dashboard(env, store_copy.parent / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def check_slide(page, width: int, what: str) -> str:
    overflow = page.evaluate(OVERFLOW)
    assert overflow <= 0, f"{what} scrolls by {overflow} px"
    size, text = page.evaluate(SMALLEST_TEXT)
    assert size >= 24 * width / 1920 - 0.1, f"{what}: {text!r} is {size:.1f} px"
    return page.inner_text("body")


def no_configuration(text: str, what: str) -> None:
    for instruction in ("CDP_", "set ", "Set "):
        assert instruction not in text, f"{what} says {instruction!r}: {text}"


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_slide_fits_the_screen_in_readable_type_without_configuration_text(server, browser, width,
                                                                                   height, tmp_path):
    page, errors = open_page(browser, f"{server}/briefing", width, height)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download HTML deck").click()
    deck = tmp_path / "deck.html"
    shutil.copy(download.value.path(), deck)
    page.get_by_role("button", name="Present").click()
    page.wait_for_selector("text=Panel 1 of 7", timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen = []
    for n in range(1, 8):
        page.wait_for_selector(f"text=Panel {n} of 7", timeout=30_000)
        wait_until_idle(page)
        page.wait_for_selector(".st-key-briefing-slide h2")
        what = f"presentation slide {n} at {width}x{height}"
        text = check_slide(page, width, what)
        no_configuration(page.inner_text('[data-testid="stMain"]'), what)
        seen.append(text)
        page.screenshot(path=str(ARTIFACTS / f"presentation-{n}-{width}x{height}.png"))
        page.keyboard.press("ArrowRight")
    treatment = [text for text in seen if "Maintain successful completions" in text]
    assert len(treatment) == 1 and "not yet supplied" in treatment[0]  # the how-to is on the Data page
    assert not any("missing-treatment.csv" in text for text in seen)
    assert not errors, errors

    slides = browser.new_page(viewport={"width": width, "height": height})
    slides.goto(deck.as_uri())
    count = slides.locator(".slide").count()
    assert count == 8  # the title slide and seven panels
    for n in range(1, count + 1):
        what = f"deck slide {n} at {width}x{height}"
        check_slide(slides, width, what)
        no_configuration(slides.inner_text(".slide.current"), what)
        slides.screenshot(path=str(ARTIFACTS / f"deck-{n}-{width}x{height}.png"))
        slides.keyboard.press("ArrowRight")
    page.close()
    slides.close()

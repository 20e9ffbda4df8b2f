"""app/page_head.py: a page's HTML names the server for Streamlit's frontend and, on the pages
that draw them as they open, preloads the frontend's chart and data grid modules; nothing else
changes. serve.PRELOAD is checked against what the pages draw."""
from __future__ import annotations

import ast
import asyncio

import pytest
from conftest import ROOT

from app.page_head import PageHead, module, script

SCRIPT = script()

PAGE = b"<!doctype html><html><head><meta charset='UTF-8'><title>x</title></head><body></body></html>"


def served(path: str, base: str = "", accept: bytes = b"text/html,*/*", content_type: bytes = b"text/html",
           method: str = "GET", chunks: int = 1, preload=None) -> tuple[dict, dict, bytes]:
    """What the inner app was asked (its scope) and what the browser got (start message, body)."""
    asked, sent = {}, []

    async def inner(scope, receive, send):
        asked.update(scope)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(PAGE)).encode())]})
        step = -(-len(PAGE) // chunks)
        for i in range(0, len(PAGE), step):
            await send({"type": "http.response.body", "body": PAGE[i:i + step],
                        "more_body": i + step < len(PAGE)})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path,
             "headers": [(b"accept", accept), (b"accept-encoding", b"gzip, deflate")]}
    asyncio.run(PageHead(inner, base, preload)(scope, None, send))
    return asked, sent[0], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path, base", [("/maps", ""), ("/maps/", ""), ("/cdp/maps", "cdp"), ("/cdp/maps", "/cdp/")])
def test_a_pages_html_names_the_server(path, base):
    asked, start, body = served(path, base, chunks=3)
    assert body == PAGE.replace(b"<head>", b"<head>" + SCRIPT)
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    assert b"accept-encoding" not in dict(asked["headers"])   # served plain, so it can be read


@pytest.mark.parametrize("path, base, accept, content_type, method", [
    ("/", "", b"text/html", b"text/html", "GET"),                      # the default page: no guess to skip
    ("/cdp/", "cdp", b"text/html", b"text/html", "GET"),
    ("/maps", "cdp", b"text/html", b"text/html", "GET"),               # outside the base path
    ("/_stcore/health", "", b"*/*", b"text/plain", "GET"),
    ("/static/js/index.js", "", b"*/*", b"text/javascript", "GET"),
    ("/maps", "", b"application/json", b"application/json", "GET"),  # not a page load
    ("/maps", "", b"text/html", b"text/html", "HEAD"),
])
def test_everything_else_passes_through(path, base, accept, content_type, method):
    asked, start, body = served(path, base, accept, content_type, method)
    assert body == PAGE and dict(start["headers"])[b"content-length"] == str(len(PAGE)).encode()
    assert b"accept-encoding" in dict(asked["headers"])


def test_a_page_address_answered_with_something_else_is_left_as_it_is():
    _, start, body = served("/maps", content_type=b"application/octet-stream")
    assert body == PAGE and dict(start["headers"])[b"content-length"] == str(len(PAGE)).encode()


def test_a_chart_page_preloads_the_modules_it_needs_and_names_the_server():
    chart = module("PlotlyChart")   # the installed Streamlit's: found, or no page would be preloaded
    assert chart and chart.startswith("static/js/PlotlyChart.") and chart.endswith(".js")
    _, _, body = served("/cdp/maps", "cdp", preload={"maps": ["PlotlyChart", "NoSuchModule"]})
    head = body.split(b"<head>", 1)[1]
    assert head.startswith(script([chart]))
    assert b"modulepreload" in head and chart.encode() in head and b"BACKEND_BASE_URL" in head
    _, _, other = served("/cdp/data", "cdp", preload={"maps": ["PlotlyChart"]})
    assert other == PAGE.replace(b"<head>", b"<head>" + SCRIPT) and b"modulepreload" not in other


def dashboard_pages() -> list[tuple[str, str]]:
    """(URL path, file) of each page in dashboard.PAGES, read without running the dashboard."""
    tree = ast.parse((ROOT / "dashboard.py").read_text())
    pages = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", None) == "PAGES")
    return [(key, file) for key, file, *_ in ast.literal_eval(pages)]


def test_preloaded_modules_are_those_the_pages_draw_as_they_open(demo_db, monkeypatch):
    """serve.PRELOAD against each page opened in AppTest, as the tests' default viewer (an
    analyst) on the demo store: a page preloads the Plotly module if and only if it draws a
    Plotly chart as it opens, and the data grid module if and only if it shows a data grid."""
    from serve import PRELOAD
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("CDP_STORE", str(demo_db))
    for key, file in dashboard_pages():
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
        if key != "overview":
            at.switch_page(file).run()
        assert not at.exception, (key, [e.value for e in at.exception])
        drawn = {name for name, shown in (("PlotlyChart", at.get("plotly_chart")), ("DataFrame", at.dataframe))
                 if len(shown)}
        assert set(PRELOAD.get(key, [])) == drawn, key

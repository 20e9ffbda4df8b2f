"""app/base_path.py: a page's HTML names the server for Streamlit's frontend; nothing else changes."""
from __future__ import annotations

import asyncio

import pytest

from app.base_path import SCRIPT, BasePathScript

PAGE = b"<!doctype html><html><head><meta charset='UTF-8'><title>x</title></head><body></body></html>"


def served(path: str, base: str = "", accept: bytes = b"text/html,*/*", content_type: bytes = b"text/html",
           method: str = "GET", chunks: int = 1) -> tuple[dict, dict, bytes]:
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
    asyncio.run(BasePathScript(inner, base)(scope, None, send))
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

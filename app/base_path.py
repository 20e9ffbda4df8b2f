"""Tells Streamlit's frontend where the server is before its scripts load, so that opening a page's
address does not start with a refused request.

Streamlit's frontend does not know the server's base path. At a page's address (`/maps`) it first
asks for the server's health under the page's own path (`/maps/_stcore/health`), is refused, waits
and asks again one level up: about 0.1-0.15 s on every page load but the default page's, before
anything else happens. It skips the guess when `window.__streamlit.BACKEND_BASE_URL` names the
server. This ASGI middleware writes that into the page served at a page's address: the address the
browser shows, less its last part (the page). It works out nothing else, so it is right behind a
reverse proxy that keeps or strips a path prefix alike.
"""
from __future__ import annotations

SCRIPT = (b"<script>(() => {const u = new URL(location.href); "
          b"u.pathname = u.pathname.replace(/\\/+$/, '').replace(/[^/]*$/, ''); u.search = ''; u.hash = ''; "
          b"window.__streamlit = {...window.__streamlit, BACKEND_BASE_URL: u.href};})()</script>")


class BasePathScript:
    """Middleware: a page's HTML (a GET at `<base>/<page>` that asks for HTML) gets `SCRIPT` at the
    start of its <head>. Such requests are served uncompressed (the page is 2 KB) so the HTML can be
    read; everything else passes through untouched."""

    def __init__(self, app, base_url_path: str | None = None) -> None:
        if base_url_path is None:   # Streamlit's own setting (server.baseUrlPath), read at start-up
            from streamlit import config
            base_url_path = config.get_option("server.baseUrlPath") or ""
        self.app = app
        self.base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""

    def is_page(self, scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        path = scope["path"]
        if self.base and not path.startswith(self.base + "/"):
            return False
        page = path[len(self.base):].strip("/")
        accept = dict(scope["headers"]).get(b"accept", b"")
        return bool(page) and "/" not in page and not page.startswith("_") and b"text/html" in accept

    async def __call__(self, scope, receive, send) -> None:
        if not self.is_page(scope):
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]}
        start, body = {}, []

        async def collect(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            headers = dict(start.get("headers", []))
            if headers.get(b"content-type", b"").startswith(b"text/html") and b"<head>" in page:
                page = page.replace(b"<head>", b"<head>" + SCRIPT, 1)
            start["headers"] = [(k, str(len(page)).encode() if k == b"content-length" else v)
                                for k, v in start.get("headers", [])]
            await send(start)
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, collect)

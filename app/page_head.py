"""What a page's HTML carries before Streamlit's scripts load: where the server is, and on the
pages that draw charts or data grids as they open, their code fetched at once.

- Streamlit's frontend does not know the server's base path. At a page's address (`/maps`) it
  first asks for the server's health under the page's own path (`/maps/_stcore/health`), is
  refused, waits and asks again one level up: about 0.1-0.15 s on every page load but the default
  page's. It skips the guess when `window.__streamlit.BACKEND_BASE_URL` names the server: the
  address the browser shows, less its last part (the page). Nothing else is worked out, so it is
  right behind a reverse proxy that keeps or strips a path prefix alike.
- Streamlit's frontend loads the code of a chart or a data grid (its Plotly module is 4.7 MB) only
  when the first one arrives, after the server's run: fetched and compiled then, it held up those
  pages' first drawing by 0.3-0.45 s (medians, alternating with and without). A `<link
  rel="modulepreload">` per module the page will need has the browser fetch and compile it while
  the server runs the page; it runs when the page first needs it, as before. Pages that do not
  need it are left alone (preloaded there, the Plotly module cost the data page 0.1-0.2 s).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping

# The server's address, worked out in the browser: `u`, used below.
BASE = ("const u = new URL(location.href); "
        "u.pathname = u.pathname.replace(/\\/+$/, '').replace(/[^/]*$/, ''); u.search = ''; u.hash = ''; "
        "window.__streamlit = {...window.__streamlit, BACKEND_BASE_URL: u.href};")
PRELOAD = ("for (const m of %s) {const l = document.createElement('link'); l.rel = 'modulepreload'; "
           "l.href = u.href + m; document.head.appendChild(l);}")


def module(name: str) -> str | None:
    """The path (under the server's base) of the Streamlit frontend's module `name` (as
    "PlotlyChart"), or None when the installed Streamlit has no single such file."""
    import streamlit
    found = sorted((Path(streamlit.__file__).parent / "static" / "static" / "js").glob(f"{name}.*.js"))
    return f"static/js/{found[0].name}" if len(found) == 1 else None


def script(modules: Iterable[str] = ()) -> bytes:
    """The <script> put at the start of a page's <head>: it names the server and preloads `modules`."""
    body = BASE + (PRELOAD % json.dumps(list(modules)) if modules else "")
    return f"<script>(() => {{{body}}})()</script>".encode()


class PageHead:
    """Middleware: a page's HTML (a GET at `<base>/<page>` that asks for HTML) gets `script()` at
    the start of its <head>, preloading the modules `preload` names for the page (URL path: frontend
    module names, as "PlotlyChart"; a name the installed Streamlit lacks is skipped). Such requests
    are served uncompressed (the page is 8 KB) so the HTML can be read; everything else passes
    through untouched."""

    def __init__(self, app, base_url_path: str | None = None,
                 preload: Mapping[str, Iterable[str]] | None = None) -> None:
        if base_url_path is None:   # Streamlit's own setting (server.baseUrlPath), read at start-up
            from streamlit import config
            base_url_path = config.get_option("server.baseUrlPath") or ""
        self.app = app
        self.base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
        self.scripts = {page: script([m for m in map(module, names) if m])
                        for page, names in (preload or {}).items()}
        self.plain = script()

    def page(self, scope) -> str | None:
        """The page a request loads (its URL path), or None when it is not a page's HTML."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path = scope["path"]
        if self.base and not path.startswith(self.base + "/"):
            return None
        page = path[len(self.base):].strip("/")
        accept = dict(scope["headers"]).get(b"accept", b"")
        ok = bool(page) and "/" not in page and not page.startswith("_") and b"text/html" in accept
        return page if ok else None

    async def __call__(self, scope, receive, send) -> None:
        page = self.page(scope)
        if page is None:
            await self.app(scope, receive, send)
            return
        head = self.scripts.get(page, self.plain)
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]}
        start, body = {}, []

        async def collect(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            html = b"".join(body)
            headers = dict(start.get("headers", []))
            if headers.get(b"content-type", b"").startswith(b"text/html") and b"<head>" in html:
                html = html.replace(b"<head>", b"<head>" + head, 1)
            start["headers"] = [(k, str(len(html)).encode() if k == b"content-length" else v)
                                for k, v in start.get("headers", [])]
            await send(start)
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, collect)

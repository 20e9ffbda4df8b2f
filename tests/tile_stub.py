"""A local stand-in for a raster tile server (OpenStreetMap's /{z}/{x}/{y}.png), for tests: it
answers every well-formed tile path with a small real PNG and logs each request's path and
User-Agent; anything else is a 404. Run it alone to point a dashboard at it:
`python tests/tile_stub.py` prints its URL template."""
from __future__ import annotations

import re
import struct
import threading
import zlib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

TILE_PATH = re.compile(r"^/(\d+)/(\d+)/(\d+)\.png$")


def png(size: int = 256, rgb: tuple[int, int, int] = (222, 230, 214)) -> bytes:
    """A plain `size` x `size` PNG of one colour with a darker cross (a visible 'street')."""
    rows = []
    for y in range(size):
        line = bytearray()
        for x in range(size):
            line += bytes((90, 90, 90)) if abs(x - size // 2) < 3 or abs(y - size // 2) < 3 else bytes(rgb)
        rows.append(b"\x00" + bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


class TileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tile = png()
        self.requests: list[tuple[str, str]] = []   # (path, User-Agent)
        self.lock = threading.Lock()

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{{z}}/{{x}}/{{y}}.png"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        with self.server.lock:
            self.server.requests.append((self.path, self.headers.get("User-Agent", "")))
        if TILE_PATH.match(self.path):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(self.server.tile)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(self.server.tile)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@contextmanager
def tile_server() -> Iterator[TileServer]:
    server = TileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    with tile_server() as server:
        print(server.template, flush=True)
        threading.Event().wait()

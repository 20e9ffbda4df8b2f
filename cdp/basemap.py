"""Street context under the grid and density maps: raster base-map tiles when a tile server is
reachable, nothing at all when not (the maps draw exactly as they do offline).

CDP_TILES is the tile URL template ({z}/{x}/{y}; default OpenStreetMap's standard tiles; "none" or
empty switches tiles off) and CDP_TILES_ATTRIBUTION the credit shown on every map that uses them.
OpenStreetMap's public tiles are for light use under its tile usage policy: a production
deployment points CDP_TILES at the partnership's own or a commercial tile server.

The server checks once whether the tile server answers (a short timeout, the answer kept for a few
minutes); only then does a figure get tiles, which the viewer's browser fetches. The maps are in
British National Grid metres, the tiles in Web Mercator: each tile is placed on its own corners'
grid position, so over a tile's few hundred metres the two agree within a few metres.
"""
from __future__ import annotations

import math
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from . import geography
from .markup import chart

ENV = "CDP_TILES"
ATTRIBUTION_ENV = "CDP_TILES_ATTRIBUTION"
DEFAULT_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = "© OpenStreetMap contributors"
CHECK_TIMEOUT_S = 2.0
CHECK_KEEP_S = 300        # how long a reachability answer is kept
MAX_TILES = 64            # the finest zoom whose tiles over the map number at most this
MAX_ZOOM = 17
SPREAD = 1.6              # the tiles cover a square this many times the data's larger side
TRACE_OPACITY = 0.65      # surfaces drawn over the tiles let the streets show through
USER_AGENT = "cdp-community-safety-dashboard (reachability check)"


@dataclass(frozen=True)
class Tiles:
    url: str
    attribution: str

    def tile(self, z: int, x: int, y: int) -> str:
        return self.url.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))


def configured() -> Tiles | None:
    """The tile server the environment names (None when switched off)."""
    url = os.environ.get(ENV, DEFAULT_URL).strip()
    if not url or url.lower() == "none":
        return None
    default = DEFAULT_ATTRIBUTION if url == DEFAULT_URL else ""
    return Tiles(url, os.environ.get(ATTRIBUTION_ENV, default).strip())


_checked: dict[str, tuple[float, bool]] = {}
_lock = threading.Lock()


def reachable(tiles: Tiles) -> bool:
    """Whether the tile server answers with a tile (checked at most once every CHECK_KEEP_S)."""
    now = time.monotonic()
    with _lock:
        seen = _checked.get(tiles.url)
        if seen and now - seen[0] < CHECK_KEEP_S:
            return seen[1]
        request = urllib.request.Request(tiles.tile(0, 0, 0), headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=CHECK_TIMEOUT_S) as response:
                ok = response.status == 200
        except (OSError, ValueError, urllib.error.URLError):
            ok = False
        _checked[tiles.url] = (time.monotonic(), ok)
        return ok


def available() -> Tiles | None:
    """The configured tile server if it is reachable now, else None."""
    tiles = configured()
    return tiles if tiles is not None and reachable(tiles) else None


def _tile_xy(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 2 ** z
    lat_r = math.radians(lat)
    return (lon + 180) / 360 * n, (1 - math.asinh(math.tan(lat_r)) / math.pi) / 2 * n


def _tile_lonlat(x: np.ndarray, y: np.ndarray, z: int) -> tuple[np.ndarray, np.ndarray]:
    n = 2 ** z
    return x / n * 360 - 180, np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * y / n))))


def _extent(fig: go.Figure) -> tuple[float, float, float, float] | None:
    """The part of the British National Grid (x0, y0, x1, y1, metres) the tiles should cover:
    round the axes' ranges where the map sets them, else round everything drawn."""
    x_range, y_range = fig.layout.xaxis.range, fig.layout.yaxis.range
    if x_range and y_range:
        xs, ys = [np.asarray(x_range, dtype=float)], [np.asarray(y_range, dtype=float)]
    else:
        xs, ys = [], []
        for trace in fig.data:
            x, y = getattr(trace, "x", None), getattr(trace, "y", None)
            if x is not None and y is not None:
                xs.append(np.asarray([v for v in x if v is not None], dtype=float))
                ys.append(np.asarray([v for v in y if v is not None], dtype=float))
    if not xs:
        return None
    x, y = np.concatenate(xs), np.concatenate(ys)
    if not np.isfinite(x).any() or not np.isfinite(y).any():
        return None
    # A square round the data, wider than it: the plot area keeps the map's scale, so it may show
    # more than the data on one side (tiles beyond the plot area are clipped).
    cx, cy = (np.nanmin(x) + np.nanmax(x)) / 2, (np.nanmin(y) + np.nanmax(y)) / 2
    half = max(np.nanmax(x) - np.nanmin(x), np.nanmax(y) - np.nanmin(y), 100.0) * SPREAD / 2
    return float(cx - half), float(cy - half), float(cx + half), float(cy + half)


def tile_images(tiles: Tiles, extent: tuple[float, float, float, float]) -> list[dict]:
    """Layout images covering `extent` (BNG metres) with tiles at the finest zoom that needs at
    most MAX_TILES of them, each stretched over its corners' grid positions."""
    x0, y0, x1, y1 = extent
    lon, lat = geography.from_bng(np.array([x0, x1]), np.array([y0, y1]))
    for z in range(MAX_ZOOM, -1, -1):
        (tx0, ty1), (tx1, ty0) = _tile_xy(lon[0], lat[0], z), _tile_xy(lon[1], lat[1], z)
        cols = range(int(math.floor(tx0)), int(math.floor(tx1)) + 1)
        rows = range(int(math.floor(ty0)), int(math.floor(ty1)) + 1)
        if len(cols) * len(rows) <= MAX_TILES:
            break
    images = []
    for tx in cols:
        for ty in rows:
            # Corners NW, NE, SW, SE; a tile's edges are the mean of its two corners on each side,
            # which neighbouring tiles share, so the tiles meet without gaps.
            cx, cy = _tile_lonlat(np.array([tx, tx + 1, tx, tx + 1], float),
                                  np.array([ty, ty, ty + 1, ty + 1], float), z)
            e, n = geography.to_bng(cx, cy)
            left, right = (e[0] + e[2]) / 2, (e[1] + e[3]) / 2
            top, bottom = (n[0] + n[1]) / 2, (n[2] + n[3]) / 2
            images.append({"source": tiles.tile(z, tx, ty), "xref": "x", "yref": "y", "x": left, "y": top,
                           "sizex": right - left, "sizey": top - bottom, "xanchor": "left", "yanchor": "top",
                           "sizing": "stretch", "layer": "below"})
    return images


def add_streets(fig: go.Figure) -> go.Figure:
    """`fig` (a map in BNG metres) with the base-map tiles under it and their attribution, when a
    tile server is reachable; unchanged otherwise."""
    tiles = available()
    extent = _extent(fig) if tiles is not None else None
    if extent is None:
        return fig
    for trace in fig.data:
        if trace.type in ("heatmap", "histogram2dcontour", "contour") and trace.opacity is None:
            trace.opacity = TRACE_OPACITY
    fig.update_layout(images=tile_images(tiles, extent), plot_bgcolor="rgba(0,0,0,0)")
    if tiles.attribution:
        fig.add_annotation(text=chart(tiles.attribution), xref="paper", yref="paper", x=1, y=0,
                           xanchor="right", yanchor="bottom", showarrow=False, font={"size": 11},
                           bgcolor="rgba(255,255,255,0.75)", name="tile attribution")
    return fig

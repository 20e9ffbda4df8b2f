"""Street tiles under the grid and density maps (cdp.basemap), against a local stub tile server:
reachable, the figures carry the tiles and their attribution; unreachable or switched off, they
are exactly the offline figures; in a browser, the maps page fetches tiles from the stub."""
from __future__ import annotations

import json
import re
import shutil
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from cdp import basemap, geography, maps
from servers import chromium, dashboard, free_port, need_chromium, open_page, wait_until_idle
from tile_stub import tile_server

CASTLE = "E05012277"


@pytest.fixture(autouse=True)
def _fresh_checks():
    basemap._checked.clear()
    yield
    basemap._checked.clear()


@pytest.fixture(scope="module")
def geojson(wards):
    return wards.__geo_interface__


@pytest.fixture
def density(geojson):
    """A density figure over Castle ward from points inside it (as the drill-down draws it)."""
    def build():
        outline = maps.ward_outline(geojson, CASTLE)
        xs = np.array([x for x in outline[0] if x is not None])
        ys = np.array([y for y in outline[1] if y is not None])
        cx, cy = xs.mean(), ys.mean()
        points = pd.DataFrame({"easting": [cx, cx + 120, cx - 80], "northing": [cy, cy + 40, cy - 150],
                               "count": [12, 5, 7]})
        return maps.density_figure(points, outline)
    return build


def gi_cells(geojson) -> pd.DataFrame:
    """A few grid cells with test results, as maps.gi_star returns them."""
    outline = maps.ward_outline(geojson, CASTLE)
    col = int(np.nanmean([x for x in outline[0] if x is not None]) // 250)
    row = int(np.nanmean([y for y in outline[1] if y is not None]) // 250)
    return pd.DataFrame({"cell_id": ["a", "b", "c"], "col": [col, col + 1, col], "row": [row, row, row + 1],
                         "count": [30, 2, 0], "z": [3.1, 0.2, -2.5], "p": [0.001, 0.6, 0.01],
                         "hotspot": ["hot spot", "not significant", "cold spot"]})


def test_reachable_tiles_go_under_the_maps_with_their_attribution(monkeypatch, density, geojson):
    with tile_server() as stub:
        monkeypatch.setenv("CDP_TILES", stub.template)
        monkeypatch.setenv("CDP_TILES_ATTRIBUTION", "© Stub <b>tiles</b> contributors")
        fig = density()
        gi = maps.hotspot_figure(gi_cells(geojson), maps.ward_outline(geojson, CASTLE))
        checks = [path for path, agent in stub.requests if agent == basemap.USER_AGENT]
    assert checks == ["/0/0/0.png"]  # one check for both figures, answer kept
    prefix = stub.template.split("{z}")[0]
    for figure in (fig, gi):
        spec = json.loads(figure.to_json())["layout"]
        images = spec["images"]
        assert images and all(re.fullmatch(re.escape(prefix) + r"\d+/\d+/\d+\.png", i["source"]) for i in images)
        assert {i["layer"] for i in images} == {"below"} and {i["xref"] for i in images} == {"x"}
        assert len(images) <= basemap.MAX_TILES
        # The attribution is on the map, as text (the variable's markup escaped).
        assert [a["text"] for a in spec["annotations"]] == ["© Stub &lt;b&gt;tiles&lt;/b&gt; contributors"]
    # The tiles cover the ward: every outline vertex lies on some tile.
    xs, ys = (np.array([v for v in c if v is not None]) for c in maps.ward_outline(geojson, CASTLE))
    images = fig.layout.images
    covered = np.zeros(len(xs), bool)
    for i in images:
        covered |= (xs >= i.x) & (xs <= i.x + i.sizex) & (ys <= i.y) & (ys >= i.y - i.sizey)
    assert covered.all()
    assert fig.data[0].opacity == basemap.TRACE_OPACITY  # the streets show through the surface


def test_tiles_meet_without_gaps_and_sit_where_the_map_is():
    """Neighbouring tiles share edges; a tile's centre is where Web Mercator puts it, within metres."""
    tiles = basemap.Tiles("http://tiles.invalid/{z}/{x}/{y}.png", "")
    images = basemap.tile_images(tiles, (455_000, 338_000, 459_000, 341_000))  # central Nottingham
    zooms = {int(i["source"].split("/")[3]) for i in images}
    assert len(zooms) == 1 and len(images) <= basemap.MAX_TILES
    n = 2 ** zooms.pop()
    by_tile = {tuple(map(int, i["source"].rsplit(".", 1)[0].split("/")[4:])): i for i in images}
    for (x, y), image in by_tile.items():
        right = by_tile.get((x + 1, y))
        if right:
            assert right["x"] == pytest.approx(image["x"] + image["sizex"], abs=1e-6)
        below = by_tile.get((x, y + 1))
        if below:
            assert below["y"] == pytest.approx(image["y"] - image["sizey"], abs=1e-6)
        lon = (x + 0.5) / n * 360 - 180
        lat = np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * (y + 0.5) / n))))
        e, north = geography.to_bng(np.array([lon]), np.array([lat]))
        assert abs(image["x"] + image["sizex"] / 2 - e[0]) < 10
        assert abs(image["y"] - image["sizey"] / 2 - north[0]) < 10


def test_unreachable_or_switched_off_tiles_leave_the_offline_map(monkeypatch, density):
    offline = json.loads(density().to_json())               # CDP_TILES=none (conftest)
    assert "images" not in offline["layout"]
    monkeypatch.setenv("CDP_TILES", f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png")  # closed
    unreachable = json.loads(density().to_json())
    assert unreachable == offline
    with tile_server() as stub:  # a server that answers, but not with tiles
        monkeypatch.setenv("CDP_TILES", stub.template.replace(".png", ".jpg"))
        assert json.loads(density().to_json()) == offline
    monkeypatch.setenv("CDP_TILES", "")
    assert basemap.configured() is None


def test_the_default_is_openstreetmap_with_its_credit(monkeypatch):
    monkeypatch.delenv("CDP_TILES")
    monkeypatch.delenv("CDP_TILES_ATTRIBUTION", raising=False)
    assert basemap.configured() == basemap.Tiles("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                                                 "© OpenStreetMap contributors")


@pytest.mark.browser
def test_the_maps_page_fetches_tiles_from_the_configured_server(demo_db, tmp_path):
    need_chromium()
    store_copy = tmp_path / "cdp.duckdb"
    shutil.copy(demo_db, store_copy)
    with tile_server() as stub:
        env = {"CDP_DB": str(store_copy), "CDP_ROLE": "analyst", "CDP_TILES": stub.template,
               "CDP_TILES_ATTRIBUTION": "© Stub tiles"}
        with dashboard(env, tmp_path / "server.log") as url, chromium() as browser:
            page, errors = open_page(browser, f"{url}/maps?maps_section={quote('Hot spots (Gi*)')}")
            page.locator(".st-key-maps_gi .js-plotly-plot").wait_for(timeout=60_000)
            wait_until_idle(page)
            page.get_by_text("© Stub tiles").first.wait_for(timeout=30_000)
            fetched = [path for path, agent in stub.requests if agent != basemap.USER_AGENT]
            assert fetched and all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in fetched)
            assert "Chrome" in stub.requests[-1][1]
            assert not errors, errors
            page.close()

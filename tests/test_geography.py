"""Boundary loading in any format and CRS, the ONS download (against a local stub), placement."""
from __future__ import annotations

import http.server
import json
import threading
import urllib.parse

import numpy as np
import pytest

from cdp import config, geography
from conftest import WARDS_FILE


@pytest.mark.parametrize("suffix, driver", [(".geojson", "GeoJSON"), (".shp", "ESRI Shapefile"),
                                            (".gpkg", "GPKG")])
def test_any_format_any_crs_ons_column_names(wards, tmp_path, suffix, driver):
    ons = wards.rename(columns={"ward_code": "WD22CD", "ward_name": "WD22NM"}).to_crs("EPSG:27700")
    path = tmp_path / f"wards{suffix}"
    ons.to_file(path, driver=driver)
    loaded = geography.load_boundaries(path)
    assert list(loaded.columns) == ["ward_code", "ward_name", "geometry"]
    assert loaded.crs.to_epsg() == 27700  # kept in the file's own CRS: incidents are placed in it
    assert list(loaded["ward_code"]) == list(wards["ward_code"])
    assert np.allclose(loaded.to_crs(27700).area, wards.to_crs(27700).area, rtol=1e-6)


def test_unusable_boundary_files_say_why(wards, tmp_path):
    no_names = tmp_path / "nonames.geojson"
    wards.rename(columns={"ward_code": "code", "ward_name": "label"}).to_file(no_names)
    with pytest.raises(geography.BoundaryError, match="no ward code and name columns.*found code, label"):
        geography.load_boundaries(no_names)
    with pytest.raises(geography.BoundaryError, match="no such boundary file"):
        geography.load_boundaries(tmp_path / "missing.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(geography.BoundaryError, match="cannot be read"):
        geography.load_boundaries(junk)


def test_points_are_placed_by_point_in_polygon(wards):
    lon = np.array([-1.1505, -1.1980, -1.1712, 0.0])
    lat = np.array([52.9510, 53.0010, 52.9164, 51.5])
    codes = geography.assign_wards(lon, lat, wards)
    assert list(codes) == ["E05012277", "E05012275", "E05012279", None]  # Castle, Bulwell, Clifton West, London


class StubOns(http.server.BaseHTTPRequestHandler):
    """Answers like the ONS ArcGIS FeatureServer query endpoint, from the shared ward file."""
    requests: list[dict] = []
    features: dict = {}

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        params = dict(urllib.parse.parse_qsl(body))
        StubOns.requests.append(params)
        payload = json.dumps(StubOns.features).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_ons(wards, monkeypatch, tmp_path):
    ons = wards.rename(columns={"ward_code": "WD22CD", "ward_name": "WD22NM"})
    StubOns.features = json.loads(ons.to_json())
    StubOns.requests = []
    server = http.server.HTTPServer(("127.0.0.1", 0), StubOns)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CDP_ONS_WARDS_URL", f"http://127.0.0.1:{server.server_port}/query")
    monkeypatch.setattr(config, "SHARED_GEO_DIR", tmp_path / "no-shared-folder")
    monkeypatch.setattr(config, "SHIPPED_GEO_DIR", tmp_path / "no-shipped-copy")
    yield server
    server.shutdown()


def test_download_from_ons_is_filtered_to_the_20_wards_and_cached(stub_ons, tmp_path):
    cache = tmp_path / "cache"
    wards, origin = geography.default_boundaries(cache)
    assert len(wards) == 20 and "ONS Open Geography Portal" in origin
    where = StubOns.requests[0]["where"]
    assert where.startswith("WD22CD IN (") and "'E05012270'" in where and "'E05012289'" in where
    assert StubOns.requests[0]["outSR"] == "4326"
    assert geography.cached_download(geography.NOTTINGHAM_WARD_CODES, cache).exists()
    again, origin = geography.default_boundaries(cache)
    assert len(StubOns.requests) == 1 and "cached" in origin  # served from the cache
    assert list(again["ward_code"]) == list(wards["ward_code"])


def test_download_missing_wards_is_an_error(stub_ons, tmp_path):
    StubOns.features["features"] = StubOns.features["features"][:5]
    with pytest.raises(geography.BoundaryError, match="wards missing from the answer: E05012275"):
        geography.default_boundaries(tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.geojson"))


def test_download_failure_tells_the_user_every_way_to_supply_boundaries(monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_ONS_WARDS_URL", "http://127.0.0.1:9/query")  # nothing listens on port 9
    monkeypatch.setattr(config, "SHARED_GEO_DIR", tmp_path / "none")
    monkeypatch.setattr(config, "SHIPPED_GEO_DIR", tmp_path / "none")
    with pytest.raises(geography.BoundaryError) as raised:
        geography.default_boundaries(tmp_path / "cache")
    message = str(raised.value)
    for way in ("download failed", "CDP_BOUNDARIES", "geo/nottingham_wards.gpkg", "CDP_WARD_CODES"):
        assert way in message


def test_the_default_area_works_offline_from_the_copy_shipped_in_geo(monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_ONS_WARDS_URL", "http://127.0.0.1:9/query")  # offline
    monkeypatch.setattr(config, "SHARED_GEO_DIR", tmp_path / "no-shared-folder")
    wards, origin = geography.default_boundaries(tmp_path / "cache")
    assert list(wards["ward_code"]) == list(geography.NOTTINGHAM_WARD_CODES)
    assert origin == str(config.SHIPPED_GEO_DIR / "nottingham_wards.gpkg")
    assert config.imd_path() == config.SHIPPED_GEO_DIR / "nottingham_ward_imd2019.csv"
    assert not (tmp_path / "cache").exists()


def test_another_area_is_downloaded_by_its_ward_codes_and_cached_per_area(stub_ons, monkeypatch, tmp_path):
    monkeypatch.setattr(config, "SHIPPED_GEO_DIR", config.PROJECT_ROOT / "geo")  # present, but not asked for
    some = ("E05012275", "E05012281", "E05012270")
    StubOns.features["features"] = [ft for ft in StubOns.features["features"]
                                    if ft["properties"]["WD22CD"] in some]
    monkeypatch.setenv("CDP_WARD_CODES", " e05012275, E05012281;E05012270 ")
    cache = tmp_path / "cache"
    wards, origin = geography.default_boundaries(cache)
    assert sorted(wards["ward_code"]) == sorted(some) and "3 wards" in origin
    assert StubOns.requests[0]["where"] == "WD22CD IN ('E05012275','E05012281','E05012270')"
    assert geography.cached_download(some, cache).exists()
    assert not geography.cached_download(geography.NOTTINGHAM_WARD_CODES, cache).exists()


def test_changing_boundaries_replaces_every_incident(db, police_uk_files, county, tmp_path):
    from cdp.ingest import ingest
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    in_city = db.execute("SELECT count(*) FROM incidents WHERE location_status='in_area'").fetchall()[0][0]
    districts = tmp_path / "districts.gpkg"
    county.rename(columns={"district_code": "ward_code", "district_name": "ward_name"}).to_file(districts)
    ingest(db, "police_uk", police_uk_files[:1], boundaries=districts)
    statuses = dict(db.execute("SELECT location_status, count(*) FROM incidents GROUP BY 1").fetchall())
    assert "outside_area" not in statuses and statuses["in_area"] > in_city
    assert db.execute("SELECT count(*) FROM wards").fetchall()[0][0] == 8


def test_transforms_from_any_thread_are_pyproj_s_own(monkeypatch):
    """Small transforms run in one long-lived thread (pyproj makes its PROJ objects once per
    thread, and Streamlit runs each script run in a new one); large ones in the caller's. Either
    way the coordinates are exactly those of the transformer used directly."""
    from pyproj import Transformer
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(-1.3, -1.0, 500), rng.uniform(52.85, 53.05, 500)
    direct = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform(lon, lat)
    back = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(*direct)
    found = {}

    def run(name):
        found[name] = (geography.to_bng(lon, lat), geography.from_bng(*direct))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for east_north, lon_lat in found.values():
        assert all(np.array_equal(a, b) for a, b in zip(east_north, direct))
        assert all(np.array_equal(a, b) for a, b in zip(lon_lat, back))
    worker = geography._WORKER
    monkeypatch.setattr(geography, "_IN_WORKER", 10)  # large: done in the caller's thread
    assert all(np.array_equal(a, b) for a, b in zip(geography.to_bng(lon, lat), direct))
    assert geography._WORKER is worker
    monkeypatch.setattr(geography, "_WORKER", (-1, worker[1]))  # as if made before a fork
    monkeypatch.setattr(geography, "_IN_WORKER", 200_000)
    assert all(np.array_equal(a, b) for a, b in zip(geography.to_bng(lon, lat), direct))
    assert geography._WORKER[0] != -1 and geography._WORKER[1] is not worker[1]


def test_points_are_placed_in_a_british_national_grid_file_as_before(wards):
    """assign_wards in a BNG file: the WGS84 points transformed by one transformer per CRS."""
    from pyproj import Transformer
    bng = wards.to_crs(27700)
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(-1.25, -1.05, 2000), rng.uniform(52.89, 53.02, 2000)
    x, y = Transformer.from_crs("EPSG:4326", bng.crs, always_xy=True).transform(lon, lat)
    import shapely
    point_idx, ward_idx = bng.sindex.query(shapely.points(x, y), predicate="intersects")
    expected = np.full(len(lon), None, dtype=object)
    first = {}
    for p, w in zip(point_idx, ward_idx):
        first[p] = min(first.get(p, w), w)
    for p, w in first.items():
        expected[p] = bng["ward_code"].to_numpy()[w]
    assert list(geography.assign_wards(lon, lat, bng)) == list(expected)
    assert geography.assign_wards(lon, lat, bng).tolist() == geography.assign_wards(lon, lat, bng).tolist()

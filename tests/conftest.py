"""Shared fixtures: the real ward boundaries from ../shared/geo and real-shaped police.uk files."""
from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cdp import geography, store
from cdp.markup import WORD_JOINER
from cdp.police_uk_format import street_frame, write_street_csv
from stores import MODES, PostgresCluster, copy_store, new_store, postgres_bin

ROOT = Path(__file__).resolve().parent.parent
SHARED_GEO = ROOT.parent / "shared" / "geo"
WARDS_FILE = SHARED_GEO / "nottingham_wards.gpkg"
DISTRICTS_FILE = SHARED_GEO / "nottinghamshire_districts.gpkg"

CRIME_TYPES = ["Anti-social behaviour", "Violence and sexual offences", "Burglary", "Shoplifting",
               "Drugs", "Possession of weapons", "Vehicle crime", "Public order"]


@pytest.fixture(scope="session", autouse=True)
def _demo_files_in_a_temporary_folder(tmp_path_factory):
    """The demo's synthetic reference files go to a temporary folder, not the checkout's data/demo
    (dashboards the tests start inherit the setting)."""
    previous = os.environ.get("CDP_DEMO_FILES")
    os.environ["CDP_DEMO_FILES"] = str(tmp_path_factory.mktemp("demo-files"))
    yield
    if previous is None:
        os.environ.pop("CDP_DEMO_FILES", None)
    else:
        os.environ["CDP_DEMO_FILES"] = previous


@pytest.fixture(scope="session")
def wards() -> gpd.GeoDataFrame:
    return geography.load_boundaries(WARDS_FILE)


@pytest.fixture(scope="session")
def county() -> gpd.GeoDataFrame:
    return gpd.read_file(DISTRICTS_FILE)


def random_points_in(area: gpd.GeoDataFrame, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n uniform random WGS84 points inside the union of `area`'s polygons."""
    shape = shapely.union_all(area.to_crs("EPSG:4326").geometry.values)
    minx, miny, maxx, maxy = shape.bounds
    xs, ys = [], []
    while sum(len(x) for x in xs) < n:
        x = rng.uniform(minx, maxx, n * 3)
        y = rng.uniform(miny, maxy, n * 3)
        inside = shapely.contains_xy(shape, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def police_uk_month(county: gpd.GeoDataFrame, month: str, n: int, seed: int,
                    unlocated: int = 3, asb_twins: int = 2, city_share: float = 0.5) -> pd.DataFrame:
    """A month of force-wide street rows: `city_share` of them in the city, the rest across the
    county (some of those in the city too), some with no location, and identical ASB rows at one
    point (distinct incidents, as police.uk publishes them)."""
    rng = np.random.default_rng(seed)
    city = county[county["district_code"] == "E06000018"]
    in_city = int(round(n * city_share))
    city_lon, city_lat = random_points_in(city, in_city, rng)
    rest_lon, rest_lat = random_points_in(county, n - in_city, rng)
    lon, lat = np.concatenate([city_lon, rest_lon]), np.concatenate([city_lat, rest_lat])
    lon, lat = np.round(lon, 6), np.round(lat, 6)
    category = pd.Series(rng.choice(CRIME_TYPES, n, p=[.3, .3, .1, .1, .05, .05, .05, .05]))
    lon_s, lat_s = pd.Series(lon), pd.Series(lat)
    lon_s[:unlocated] = np.nan
    lat_s[:unlocated] = np.nan
    locations = pd.Series([f"Street {i % 50}" for i in range(n)])
    frame = street_frame(month, category, lon_s, lat_s, locations, seed=seed)
    twins = frame[frame["Crime type"] == "Anti-social behaviour"].iloc[[-1] * asb_twins]
    twins = twins[twins["Longitude"] != ""]
    return pd.concat([frame, twins], ignore_index=True)


@pytest.fixture
def police_uk_files(tmp_path, county) -> list[Path]:
    """Three months of real-shaped Nottinghamshire street files in the archive's layout."""
    folder = tmp_path / "policeuk"
    return [write_street_csv(police_uk_month(county, m, 400, seed=i), folder)
            for i, m in enumerate(["2024-01", "2024-02", "2024-03"])]


def table_cells(source: str) -> tuple[pd.DataFrame, list[str]]:
    """A markdown table's cells as written (escapes kept) and each column's alignment ("left",
    "right"). Cells are split at " | ": a pipe in the text is escaped ("\\|")."""
    lines = source.split("\n")
    rows = [line[2:-2].split(" | ") for line in lines[:1] + lines[2:]]
    align = ["right" if rule.endswith(":") else "left" for rule in lines[1].strip("|").split("|")]
    return pd.DataFrame(rows[1:], columns=rows[0]), align


def shown_tables(at) -> list[pd.DataFrame]:
    """An AppTest page's static tables (widgets.static_table: a markdown table each) as they read:
    markdown escapes and invisible word joiners taken out."""
    def plain(value) -> str:
        return re.sub(r"\\(.)", r"\1", str(value)).replace(WORD_JOINER, "")
    tables = [table_cells(m.value)[0] for m in at.markdown if m.value.startswith("| ")]
    return [pd.DataFrame({plain(c): [plain(v) for v in t[c]] for c in t.columns}) for t in tables]


def shown_table(at, column: str) -> pd.DataFrame | None:
    """The first of `shown_tables` with a `column`, else None."""
    return next((t for t in shown_tables(at) if column in t.columns), None)


def chart_points(svg: str) -> dict[pd.Timestamp, float]:
    """The months and counts a control chart's SVG plots, read from its points' tooltips; a month
    published as "<5" is a gap and has no point."""
    return {pd.Timestamp(month): float(value.replace(",", ""))
            for month, value in re.findall(r"<title>(\w{3} \d{4}): ([\d,]+)", svg)}


def page_charts(at) -> list[str]:
    """The SVG of every chart an AppTest page shows as an image, in page order."""
    return [image_svg(image) for image in at.get("image")]


def image_svg(image) -> str:
    """The SVG an AppTest image element shows (sent as a base64 data URL)."""
    return base64.b64decode(image.proto.imgs[0].url.split(",", 1)[1]).decode("utf-8")


def point_texts(svg: str) -> dict[pd.Timestamp, str]:
    """The month and published text ("1,235", "<5") of every point's tooltip in a chart's SVG,
    gaps included."""
    return {pd.Timestamp(month): html.unescape(text)
            for month, text in re.findall(r"<title>(\w{3} \d{4}): ([^<]*)</title>", svg)}


def store_digest(con) -> str:
    """A digest of every table in the store (rows in a canonical order): equal before and after a
    refused import means the store is exactly as it was."""
    import hashlib
    digest = hashlib.sha256()
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
                                        "ORDER BY table_name").fetchall()]
    for table in tables:
        digest.update(table.encode())
        digest.update(repr(con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()).encode())
    return digest.hexdigest()


@pytest.fixture
def db(tmp_path):
    con = store.connect(tmp_path / "test.duckdb")
    yield con
    con.close()


DEMO_ROWS = 40_000


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory, wards) -> Path:
    """A small synthetic demo store (built once per test run) for page and AppTest tests.

    Tests must not write to it; copy it (`shutil.copy`) for a test that imports data.
    """
    from cdp.demo import build_demo
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    con = store.connect(path)
    build_demo(con, wards, seed=7, rows=DEMO_ROWS, wards_origin=str(WARDS_FILE))
    con.close()
    return path


@pytest.fixture(scope="session")
def demo_incidents(demo_db) -> int:
    """Incidents the demo store holds: its DEMO_ROWS extract rows and its police.uk share."""
    con = store.connect(demo_db, read_only=True)
    try:
        return store.incident_count(con)
    finally:
        con.close()


@pytest.fixture(autouse=True)
def _audit_log_in_tmp(tmp_path, monkeypatch):
    """Every test's audit log is its own (never the checkout's data/audit.log)."""
    monkeypatch.setenv("CDP_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.delenv("CDP_AUDIT_KEY", raising=False)


@pytest.fixture
def audit_log(tmp_path) -> Path:
    """This test's audit log (the file `_audit_log_in_tmp` points CDP_AUDIT_LOG at)."""
    return tmp_path / "audit.log"


@pytest.fixture(scope="session")
def demo_people_places(demo_db) -> dict:
    """What must not leak from the demo store: its residential premises (id, name, ward) and every
    victim and offender key."""
    con = store.connect(demo_db)
    try:
        residential = con.execute("""SELECT premises_id, any_value(premises_name), mode(ward_code)
            FROM incidents WHERE premises_type = 'residential' GROUP BY premises_id
            ORDER BY premises_id""").fetchall()
        keys = {k for (k,) in con.execute("SELECT victim_id FROM incidents WHERE victim_id IS NOT NULL "
                                          "UNION SELECT offender_id FROM incidents WHERE offender_id IS NOT NULL")
                .fetchall()}
    finally:
        con.close()
    return {"residential": residential, "keys": keys}


class _NavigationPagesManager:
    """AppTest resets Streamlit's "uses a pages/ folder" flag before every run, so each rerun
    would start in the old folder-based multipage mode and go through app.context's rerun guard,
    losing a button click on the way. A real server clears the flag once, when st.navigation first
    runs; this clears it for every AppTest run the same way."""

    def __new__(cls, *args, **kwargs):
        from streamlit.runtime.pages_manager import PagesManager
        manager = PagesManager(*args, **kwargs)
        PagesManager.uses_pages_directory = False
        return manager


@pytest.fixture(autouse=True)
def _apptest_runs_through_dashboard(monkeypatch):
    import streamlit.testing.v1.app_test as app_test_module
    monkeypatch.setattr(app_test_module, "PagesManager", _NavigationPagesManager)


@pytest.fixture(autouse=True)
def _no_tiles_unless_a_test_serves_them(monkeypatch):
    """No test reaches a real tile server: base-map tiles are off unless a test sets CDP_TILES."""
    monkeypatch.setenv("CDP_TILES", "none")


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch):
    """Each test names its store itself (CDP_DB or CDP_STORE), whatever the shell has set."""
    for name in ("CDP_STORE", "CDP_DB", "CDP_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster in a temporary folder for the whole run (stopped and removed after)."""
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is missing: .ci/run installs Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", params=MODES)
def storage_mode(request) -> str:
    """Each storage mode in turn: the page tests pass on the embedded file and on DuckLake."""
    return request.param


@pytest.fixture(scope="session")
def demo_store(storage_mode, demo_db, tmp_path_factory, request) -> str:
    """The demo store in this storage mode (its CDP_STORE setting); tests must not write to it."""
    if storage_mode == "duckdb":
        return str(demo_db)
    return copy_store(str(demo_db), storage_mode, tmp_path_factory.mktemp("demo-lake"),
                      request.getfixturevalue("postgres"))


@pytest.fixture
def store_copy(storage_mode, demo_store, tmp_path, request):
    """A function making a writable copy of the demo store in this storage mode."""
    def copy() -> str:
        cluster = request.getfixturevalue("postgres") if storage_mode != "duckdb" else None
        return copy_store(demo_store, storage_mode, tmp_path / f"copy-{len(list(tmp_path.iterdir()))}", cluster)
    return copy


@pytest.fixture
def empty_store(storage_mode, tmp_path, request) -> str:
    """A new empty store in this storage mode (its setting)."""
    cluster = request.getfixturevalue("postgres") if storage_mode != "duckdb" else None
    return new_store(storage_mode, tmp_path / "empty", cluster)


@pytest.fixture
def app_test(demo_store, monkeypatch):
    """A function opening a dashboard page in Streamlit's AppTest on the demo store."""
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("CDP_STORE", demo_store)

    def open_page(page: str | None = None, timeout: float = 60) -> AppTest:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=timeout).run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_page


@pytest.fixture
def police_uk_db(tmp_path, police_uk_files) -> Path:
    """A store holding only police.uk street files (no victims, no premises)."""
    path = tmp_path / "police-uk.duckdb"
    con = store.connect(path)
    from cdp.ingest import ingest
    ingest(con, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    con.close()
    return path


@pytest.fixture
def police_uk_store(empty_store, police_uk_files) -> str:
    """police_uk_db in this storage mode (its setting)."""
    from cdp.ingest import ingest
    con = store.connect(empty_store)
    ingest(con, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    con.close()
    return empty_store

"""The police.uk refresh against a local stub of the API: what is fetched, how requests are split
and kept within limits, and what the store holds afterwards (checked against an independent
spatial join of the stub's own crimes)."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cdp import geography
from cdp.refresh import PoliceApi, RefreshFailed, held_months, refresh_from_api, select_months
from cdp.refresh.api import TokenBucket, retry_after
from cdp.refresh.area import Area, Box
from conftest import WARDS_FILE
from police_api_stub import api_crimes, city, city_month, client, month_back, start_stub, stub  # noqa: F401


def points_of(crimes: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([float(c["location"]["longitude"]) for c in crimes]),
            np.array([float(c["location"]["latitude"]) for c in crimes]))


def independent_ward_counts(crimes: list[dict], wards: gpd.GeoDataFrame) -> pd.Series:
    lng, lat = points_of(crimes)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lng, lat), crs="EPSG:4326").to_crs(wards.crs)
    return gpd.sjoin(points, wards, predicate="within").groupby("ward_code").size()


def stored_ward_counts(db, month: str) -> pd.Series:
    frame = db.execute("""SELECT ward_code, count(*) AS n FROM incidents
        WHERE strftime(month, '%Y-%m') = ? AND location_status = 'in_area' GROUP BY 1""", [month]).df()
    return frame.set_index("ward_code")["n"]


def rows_of(db, month: str) -> int:
    return db.execute("SELECT count(*) FROM incidents WHERE strftime(month, '%Y-%m') = ?", [month]).fetchall()[0][0]


def assert_month_matches(db, stub, month: str, wards: gpd.GeoDataFrame) -> None:
    """Every stub crime inside the area's outline is stored once; per ward as a spatial join says."""
    crimes = stub.months[month]
    stored = stored_ward_counts(db, month)
    expected = independent_ward_counts(crimes, wards).reindex(stored.index.union(wards["ward_code"]), fill_value=0)
    pd.testing.assert_series_equal(stored.reindex(expected.index, fill_value=0), expected,
                                   check_names=False, check_dtype=False)
    lng, lat = points_of(crimes)
    assert rows_of(db, month) == shapely.intersects_xy(Area(wards).shape, lng, lat).sum()


def test_refresh_fetches_every_month_the_store_lacks_as_police_uk_rows(db, stub, wards):
    result = refresh_from_api(db, api=client(stub), boundaries=WARDS_FILE)
    assert [m.month for m in result.loaded] == [month_back(5), month_back(4), month_back(3)]
    for k in (5, 4, 3):
        assert_month_matches(db, stub, month_back(k), wards)
    sources = dict(db.execute("SELECT source, count(*) FROM incidents GROUP BY 1").fetchall())
    assert set(sources) == {"Nottinghamshire Police", "British Transport Police"}
    assert sources["British Transport Police"] == 3 * 8
    asb = db.execute("""SELECT count(*) FROM incidents WHERE is_asb AND incident_id IS NULL
                        AND outcome IS NULL""").fetchall()[0][0]
    assert asb == db.execute("SELECT count(*) FROM incidents WHERE category = 'Anti-social behaviour'").fetchall()[0][0]
    twins = db.execute("""SELECT count(*) FROM incidents WHERE is_asb GROUP BY month, longitude, latitude,
                          location ORDER BY 1 DESC LIMIT 1""").fetchall()[0][0]
    assert twins >= 3  # an ASB incident and its two identical twins: distinct incidents
    one = db.execute("""SELECT category, location, incident_id, outcome FROM incidents
                        WHERE category = 'Violence and sexual offences' LIMIT 1""").fetchall()[0]
    assert one[1].startswith("On or near ") and len(one[2]) == 64 and one[3]
    imports = db.execute("SELECT count(*), min(dataset) FROM imports").fetchall()[0]
    assert imports == (3, "police_uk")  # one import, one transaction, per month
    assert "Loaded 3 month(s)" in result.summary()

    again = refresh_from_api(db, api=client(stub))
    assert again.plan.months == [] and "Nothing to fetch" in again.summary()


def test_a_busy_month_is_split_by_category_then_polygon_and_each_incident_kept_once(db, county, city, wards):
    """More crimes than the limit: 503, then categories, then halves. Without police.uk's ids
    only the half-open boxes stop an ASB incident on the dividing line being kept twice."""
    area = Area(wards)
    first, second = area.split(area.parts()[0])
    cut_lat = first.box.north if np.isfinite(first.box.north) else None
    cut_lng = None if cut_lat is not None else first.box.east
    inside = shapely.intersection(area.wards_shape, shapely.box(*(
        (-180, cut_lat - 0.001, 180, cut_lat + 0.001) if cut_lat is not None else
        (cut_lng - 0.001, -90, cut_lng + 0.001, 90)))).representative_point()
    on_line = (inside.x, cut_lat) if cut_lat is not None else (cut_lng, inside.y)
    stub = start_stub(county, limit=60)
    try:
        month = month_back(3)
        crimes = city_month(county, city, month, seed=11, ids=False, asb_twins=3, twins_at=on_line,
                            points=[(on_line[0], on_line[1], "violent-crime"),
                                    (on_line[0] + 2e-6, on_line[1] - 1e-6, "anti-social-behaviour")])
        stub.publish(month, crimes)
        refresh_from_api(db, api=client(stub), boundaries=WARDS_FILE)
        assert_month_matches(db, stub, month, wards)
        requests = stub.crime_requests()
        assert any(r.status == 503 and r.category == "all-crime" for r in requests)
        assert any(r.status == 503 and r.category == "anti-social-behaviour" for r in requests)
        assert sum(r.category == "anti-social-behaviour" and r.status == 200 for r in requests) >= 2
        lng, lat = on_line
        at_line = db.execute("SELECT count(*) FROM incidents WHERE is_asb AND longitude = ? AND latitude = ?",
                             [round(lng, 6), round(lat, 6)]).fetchall()[0][0]
        assert at_line == 4  # the ASB incident and its three twins, each once
    finally:
        stub.stop()


def test_other_areas_the_county_districts_as_wards_in_british_national_grid(db, county, tmp_path):
    """Another partnership's boundaries (here the county's districts, saved in EPSG:27700): a
    larger area, more crimes than one answer may hold; splits keep every incident exactly once."""
    districts = county.rename(columns={"district_code": "ward_code", "district_name": "ward_name"}).to_crs(27700)
    path = tmp_path / "districts.gpkg"
    districts.to_file(path)
    wards = geography.load_boundaries(path)
    stub = start_stub(county, limit=400)
    try:
        month = month_back(3)
        stub.publish(month, api_crimes(county, month, 2500, seed=5, btp=10))
        result = refresh_from_api(db, api=client(stub), boundaries=path)
        assert result.plan.wards == 8
        assert_month_matches(db, stub, month, wards)
        assert any(r.status == 503 for r in stub.crime_requests())
        assert not [r for r in stub.log if r.status == 400]
    finally:
        stub.stop()


def test_an_area_policed_by_two_forces_gets_each_forces_name(db, county, tmp_path):
    """Crimes take the force of the ward they lie in (the stub gives Bassetlaw to another force)."""
    districts = county.rename(columns={"district_code": "ward_code", "district_name": "ward_name"})
    path = tmp_path / "districts.geojson"
    districts.to_file(path)
    north = districts[districts["ward_name"] == "Bassetlaw"].union_all()
    rest = districts[districts["ward_name"] != "Bassetlaw"].union_all()
    stub = start_stub(county, forces={"nottinghamshire": ("Nottinghamshire Police", rest),
                                      "south-yorkshire": ("South Yorkshire Police", north)})
    try:
        month = month_back(3)
        stub.publish(month, api_crimes(county, month, 1500, seed=8))
        result = refresh_from_api(db, api=client(stub), boundaries=path)
        assert result.plan.forces == {"nottinghamshire": "Nottinghamshire Police",
                                      "south-yorkshire": "South Yorkshire Police"}
        by_force = dict(db.execute("""SELECT source, count(DISTINCT ward_code) FROM incidents
                                      WHERE location_status = 'in_area' GROUP BY 1""").fetchall())
        assert by_force == {"Nottinghamshire Police": 7, "South Yorkshire Police": 1}
        assert held_months(db, ["Nottinghamshire Police", "South Yorkshire Police"]) == {month}
    finally:
        stub.stop()


def test_months_appear_over_time_and_a_republished_month_replaces_never_doubles(db, stub, county, city, wards):
    refresh_from_api(db, api=client(stub), boundaries=WARDS_FILE)
    new = month_back(2)
    stub.publish(new, city_month(county, city, new, seed=2))
    stub.log.clear()
    result = refresh_from_api(db, api=client(stub))
    assert [m.month for m in result.loaded] == [new]
    assert {r.month for r in stub.crime_requests()} == {new}
    assert_month_matches(db, stub, new, wards)

    old = month_back(5)
    republished = city_month(county, city, old, seed=55)[:450]  # republished: fewer crimes
    stub.publish(old, republished)
    assert refresh_from_api(db, api=client(stub)).plan.months == []  # held: not fetched again
    result = refresh_from_api(db, api=client(stub), since=old, replace=True)
    assert [m.month for m in result.loaded] == [old, month_back(4), month_back(3), new]
    assert_month_matches(db, stub, old, wards)
    for k in (4, 3, 2):
        assert_month_matches(db, stub, month_back(k), wards)
    assert result.loaded[0].result.rows_replaced > 0
    assert db.execute("SELECT count(*) FROM imports").fetchall()[0][0] == 4 + 4


def test_dry_run_says_what_would_be_fetched_and_changes_nothing(db, stub):
    result = refresh_from_api(db, api=client(stub), boundaries=WARDS_FILE, dry_run=True)
    assert result.plan.months == [month_back(5), month_back(4), month_back(3)]
    assert "Dry run, nothing was changed. Would fetch 3 month(s)" in result.summary()
    assert "policed by Nottinghamshire Police" in result.summary()
    assert db.execute("SELECT count(*) FROM incidents").fetchall()[0][0] == 0
    assert not stub.crime_requests()
    limited = refresh_from_api(db, api=client(stub), boundaries=WARDS_FILE, dry_run=True, months=2)
    assert limited.plan.months == [month_back(4), month_back(3)]


def test_select_months_windows():
    available = ["2024-01", "2024-02", "2024-03", "2024-04"]
    held = {"2024-02"}
    assert select_months(available, held) == (["2024-01", "2024-03", "2024-04"], ["2024-02"], "")
    assert select_months(available, held, months=2) == (["2024-03", "2024-04"], [], "")
    assert select_months(available, held, since="2024-02")[0] == ["2024-03", "2024-04"]
    assert select_months(available, held, since="2024-02", replace=True)[0] == ["2024-02", "2024-03", "2024-04"]
    todo, _, note = select_months(available, held, since="2023-06")
    assert todo == ["2024-01", "2024-03", "2024-04"] and "no longer available" in note


def test_429_is_waited_out_as_retry_after_says(db, stub):
    """A server stricter than police.uk (10 a second, bursts of 3): the client, at police.uk's
    15 a second, is told to slow down and waits the Retry-After seconds each time."""
    stub.rate, stub.burst, stub.retry_after = 10.0, 3, 1
    waits = []
    api = PoliceApi(stub.url, on_wait=lambda seconds, reason: waits.append((seconds, reason)))
    result = refresh_from_api(db, api=api, boundaries=WARDS_FILE, months=1)
    assert [m.month for m in result.loaded] == [month_back(3)]
    assert any(entry.status == 429 for entry in stub.log)
    assert waits and all(seconds == 1.0 and "429" in reason for seconds, reason in waits)


def test_police_uks_own_limits_are_never_exceeded(db, stub):
    """police.uk allows 15 a second with bursts of 30: the default client never meets a 429."""
    stub.rate, stub.burst = 15.0, 30
    refresh_from_api(db, api=PoliceApi(stub.url), boundaries=WARDS_FILE)
    assert len(stub.log) > 25 and not [entry for entry in stub.log if entry.status == 429]


def test_network_errors_and_server_errors_are_retried(db, stub, wards):
    stub.fail(2, "reset")
    stub.fail(1, "500")
    waits = []
    api = client(stub, on_wait=lambda seconds, reason: waits.append(reason))
    refresh_from_api(db, api=api, boundaries=WARDS_FILE, months=1)
    assert_month_matches(db, stub, month_back(3), wards)
    assert len(waits) == 3 and "HTTP 500" in waits[2] and "network error" in waits[0]


def test_a_failed_refresh_loads_nothing_of_the_failing_month_and_resumes(db, stub, wards):
    stub.fail(100, "502", month=month_back(4))
    with pytest.raises(RefreshFailed) as failed:
        refresh_from_api(db, api=client(stub, attempts=3), boundaries=WARDS_FILE)
    message = str(failed.value)
    assert message.startswith(f"{month_back(4)}: ") and "gave up after 3 attempts (HTTP 502" in message
    assert f"Nothing of {month_back(4)} was loaded" in message and month_back(5) in message
    assert rows_of(db, month_back(5)) > 0 and rows_of(db, month_back(4)) == 0
    stub.faults.clear()
    stub.log.clear()
    result = refresh_from_api(db, api=client(stub))
    assert [m.month for m in result.loaded] == [month_back(4), month_back(3)]
    assert {r.month for r in stub.crime_requests()} == {month_back(4), month_back(3)}
    for k in (5, 4, 3):
        assert_month_matches(db, stub, month_back(k), wards)


def test_a_refresh_that_fails_at_once_leaves_the_store_exactly_as_it_was(db, stub, police_uk_files):
    from cdp.ingest import ingest
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    before = db.execute("SELECT * FROM incidents ORDER BY ALL").fetchall()
    imports = db.execute("SELECT count(*) FROM imports").fetchall()[0][0]
    stub.fail(100, "reset")
    with pytest.raises(RefreshFailed, match="network error"):
        refresh_from_api(db, api=client(stub, attempts=2))
    assert db.execute("SELECT * FROM incidents ORDER BY ALL").fetchall() == before
    assert db.execute("SELECT count(*) FROM imports").fetchall()[0][0] == imports


def test_an_unreachable_api_fails_with_the_reason(db):
    api = PoliceApi("http://127.0.0.1:9/api", attempts=2, backoff=0.01)
    with pytest.raises(RefreshFailed, match=r"police.uk API http://127.0.0.1:9/api: .*gave up after 2 "
                                            r"attempts \(network error.*Nothing was loaded"):
        refresh_from_api(db, api=api, boundaries=WARDS_FILE)


def test_an_unknown_category_is_refused_by_the_importer_with_the_line(db, stub, county, city):
    month = month_back(3)
    crimes = city_month(county, city, month, seed=3)
    crimes[5]["category"] = "new-category"
    stub.publish(month, crimes)
    with pytest.raises(RefreshFailed) as failed:
        refresh_from_api(db, api=client(stub), boundaries=WARDS_FILE, months=1)
    assert (f"police.uk API answer written as {month}/{month}-nottinghamshire-street.csv line "
            in str(failed.value)) and "unknown Crime type 'new-category'" in str(failed.value)
    assert rows_of(db, month) == 0


def test_a_polygon_too_long_for_a_get_is_posted(stub, county):
    """police.uk answers 400 to a GET over 4,094 characters; the client POSTs such polygons."""
    import urllib.error
    import urllib.request
    outline = county.to_crs(4326).union_all().convex_hull.buffer(0.01, quad_segs=64).exterior
    long_poly = ":".join(f"{lat:.6f},{lng:.6f}" for lng, lat in list(outline.coords)[:-1])
    assert len(long_poly) > 4094
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stub.url}/crimes-street/all-crime?poly={long_poly}&date={month_back(3)}")
    assert refused.value.code == 400
    crimes = client(stub).street_crimes("all-crime", long_poly, month_back(3))
    assert len(crimes) == len(stub.months[month_back(3)])
    assert [(r.method, r.status) for r in stub.crime_requests()] == [("GET", 400), ("POST", 200)]


def test_token_bucket_allows_a_burst_then_the_rate():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds
    bucket = TokenBucket(rate=15, burst=15, clock=lambda: now[0], sleep=sleep)
    for _ in range(45):
        bucket.take()
    assert now[0] == pytest.approx(30 / 15)  # 15 at once, then 30 more at 15 a second
    assert len(slept) == 30 and slept[0] == pytest.approx(1 / 15)


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("3") == 3.0
    assert retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_the_area_outline_covers_every_ward_and_fits_a_get(wards):
    area = Area(wards)
    assert area.shape.covers(area.wards_shape)
    assert area.vertices <= 180 and len(area.parts()) == 1
    assert len("https://data.police.uk/api/crimes-street/all-crime?poly=" + area.parts()[0].poly_param()
               + "&date=2026-09") <= 4094


def test_parts_partition_the_area_even_with_holes_and_on_their_edges(county):
    """A ring (the county without the city) cannot be sent as one polygon: it is cut into parts
    without holes; every point belongs to exactly one part's box, dividing lines included."""
    ring = gpd.GeoDataFrame({"ward_code": ["ring"], "ward_name": ["ring"]},
                            geometry=[county[county["district_code"] != "E06000018"].union_all()
                                      .difference(county[county["district_code"] == "E06000018"].union_all())],
                            crs=county.crs)
    area = Area(ring)
    parts = area.parts()
    assert len(parts) >= 2 and all(not p.polygon.interiors for p in parts)
    hole = county[county["district_code"] == "E06000018"].union_all().buffer(-0.01)
    assert not any(p.polygon.intersects(hole) for p in parts)
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = area.shape.bounds
    lng, lat = rng.uniform(minx, maxx, 5000), rng.uniform(miny, maxy, 5000)
    x_cuts = [b for p in parts for b in (p.box.west, p.box.east) if np.isfinite(b)]
    y_cuts = [b for p in parts for b in (p.box.south, p.box.north) if np.isfinite(b)]
    lng = np.concatenate([lng, np.repeat(x_cuts, 20), rng.uniform(minx, maxx, 20 * len(y_cuts))])
    lat = np.concatenate([lat, rng.uniform(miny, maxy, 20 * len(x_cuts)), np.repeat(y_cuts, 20)])
    owners = np.sum([p.box.owns(lng, lat) for p in parts], axis=0)
    assert (owners == 1).all()
    covered = shapely.intersects_xy(area.shape, lng, lat)
    for part in parts:  # each part's request reaches every point of the area its box owns
        mine = part.box.owns(lng, lat) & covered
        assert shapely.intersects_xy(part.polygon, lng[mine], lat[mine]).all()
    halves = area.split(parts[0])
    assert sum(h.box.owns(lng, lat).sum() for h in halves) == parts[0].box.owns(lng, lat).sum()


def test_box_halves_are_half_open():
    box = Box()
    first, second = box.halves((0.0, 0.0, 2.0, 1.0))
    assert (first.east, second.west) == (1.0, 1.0)
    assert first.owns([0.999999], [0.5]).all() and not first.owns([1.0], [0.5]).any()
    assert second.owns([1.0], [0.5]).all()

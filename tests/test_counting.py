"""What is counted (issue 12): one count per real incident, inside the area, compared fairly.

Real-shaped fixtures: force-wide police.uk street files (real header, "On or near" locations,
"No location" rows, identical ASB rows), partner extracts, the real ward boundaries, and a
British National Grid boundary file with straight 4 km edges.
"""
from __future__ import annotations

import re
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from cdp import counting, disclosure, geography, maps, metrics, places, queries, stats, store, trends
from cdp import filters as flt
from cdp import victimisation as vic
from cdp.disclosure import Published
from cdp.filters import Filters
from cdp.ingest import ingest
from cdp.police_uk_format import write_street_csv
from conftest import ROOT, WARDS_FILE, police_uk_month, random_points_in

CASTLE = "E05012277"
PRIORITY_TYPES = {"asb": "Anti-social behaviour", "drugs_alcohol": "Drugs",
                  "weapons": "Possession of weapons"}


def in_wards(frame: pd.DataFrame, wards: gpd.GeoDataFrame) -> pd.Series:
    """Whether each police.uk row lies in a ward: point-in-polygon done here, in the boundary
    file's own CRS, independently of the store."""
    lon = pd.to_numeric(frame["Longitude"], errors="coerce")
    lat = pd.to_numeric(frame["Latitude"], errors="coerce")
    shape = shapely.union_all(wards.geometry.values)
    shapely.prepare(shape)
    located = lon.notna().to_numpy()
    inside = np.zeros(len(frame), dtype=bool)
    inside[located] = shapely.intersects_xy(shape, lon[located].to_numpy(), lat[located].to_numpy())
    return pd.Series(inside, index=frame.index)


def numbers(at) -> dict[str, int]:
    return {m.label: int(m.value.replace(",", "")) for m in at.metric if re.fullmatch(r"[\d,]+", m.value)}


def page_text(at) -> str:
    return " ".join(e.value for e in [*at.markdown, *at.caption, *at.info, *at.warning, *at.success])


# --- 1. outside the area is never counted -----------------------------------------------------

MONTHS = [f"{y}-{m:02d}" for y, m in [(2023, m) for m in range(1, 13)] + [(2024, 1), (2024, 2)]]


@pytest.fixture(scope="module")
def force_wide(tmp_path_factory, county, wards):
    """14 months of force-wide street files where four rows in five lie outside the city."""
    folder = tmp_path_factory.mktemp("force-wide")
    frames = [police_uk_month(county, m, 300, seed=100 + i, city_share=0.2) for i, m in enumerate(MONTHS)]
    files = [write_street_csv(frame, folder / "files") for frame in frames]
    path = folder / "force-wide.duckdb"
    con = store.connect(path)
    ingest(con, "police_uk", files, boundaries=WARDS_FILE)
    con.close()
    rows = pd.concat(frames, ignore_index=True)
    rows["in_area"] = in_wards(rows, wards)
    rows["located"] = rows["Longitude"] != ""
    return path, rows


def expected(rows: pd.DataFrame, start: str, end: str, crime_type: str | None = None,
             crimes: bool = False) -> int:
    chosen = rows[(rows["Month"] >= start) & (rows["Month"] <= end) & rows["in_area"]]
    if crime_type:
        chosen = chosen[chosen["Crime type"] == crime_type]
    if crimes:
        chosen = chosen[chosen["Crime type"] != "Anti-social behaviour"]
    return len(chosen)


def test_most_rows_lie_outside_and_are_kept_but_not_counted(force_wide):
    path, rows = force_wide
    assert rows["in_area"].mean() < 0.5  # a force-wide file: most rows are in the county
    con = store.connect(path, read_only=True)
    info = queries.status(con)
    assert info["rows"] == len(rows)                                  # everything is kept
    assert info["counted"] == int(rows["in_area"].sum())               # only the city counts
    assert info["not_counted"].outside_area == int((rows["located"] & ~rows["in_area"]).sum())
    assert info["not_counted"].unlocated == int((~rows["located"]).sum())
    period = Filters(date(2023, 3, 1), date(2024, 2, 1))
    for key, crime_type in PRIORITY_TYPES.items():
        wards = queries.ward_counts(con, priority=key, start=period.start, end=period.end)
        assert wards["count"].sum() == expected(rows, "2023-03", "2024-02", crime_type)  # CLI export
        assert maps.ward_counts(con, period, key)["count"].sum() == expected(rows, "2023-03", "2024-02",
                                                                            crime_type)
        monthly = trends.monthly_counts(con, period)
        series = trends.area_series(monthly, key, None)[trends.ALL_AREA]
        assert series.loc["2023-03-01":].sum() == expected(rows, "2023-03", "2024-02", crime_type)
    con.close()


def test_every_page_shows_the_in_area_counts(force_wide, monkeypatch):
    """The pages' own numbers, read through AppTest: all equal the in-area counts, and each page
    states what is not counted with the same figures."""
    path, rows = force_wide
    monkeypatch.setenv("CDP_DB", str(path))
    latest = ("2023-03", "2024-02")  # the default period: the last 12 complete months
    period = rows[(rows["Month"] >= latest[0]) & (rows["Month"] <= latest[1])]
    outside = int((period["located"] & ~period["in_area"]).sum())
    unlocated = int((~period["located"]).sum())
    statement = f"Not counted: {outside:,} outside the area's wards, {unlocated:,} without a location."

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
    assert not at.exception and at.title[0].value == "Overview"
    shown = [int(m.value.replace(",", "")) for m in at.metric]  # laid out in three columns
    assert sorted(shown) == sorted(expected(rows, *latest, t) for t in PRIORITY_TYPES.values())
    assert at.metric[0].label == "ASB incidents in the period"
    assert shown[0] == expected(rows, *latest, "Anti-social behaviour")
    assert statement in page_text(at)

    at.switch_page("pages/maps.py").run()
    assert not at.exception
    assert numbers(at)["ASB incidents in the mapped wards"] == expected(rows, *latest, "Anti-social behaviour")
    asb = period[period["Crime type"] == "Anti-social behaviour"]
    assert (f"Not counted: {int((asb['located'] & ~asb['in_area']).sum()):,} outside the area's wards"
            in page_text(at))

    at.switch_page("pages/trends.py").run()
    assert not at.exception and statement in page_text(at)

    at.session_state["repeats_section"] = "Repeat places and premises"   # the page's tab of places
    at.switch_page("pages/repeats.py").run()
    assert not at.exception
    located = re.search(r"of the ([\d,]+) incidents at locations", page_text(at))
    at.segmented_control(key="repeat_places_kind").set_value("Locations").run()
    located = re.search(r"of the ([\d,]+) incidents at locations", page_text(at))
    assert int(located.group(1).replace(",", "")) == expected(rows, *latest)

    at.switch_page("pages/briefing.py").run()
    assert not at.exception
    crime, asb_panel = at.metric[0], at.metric[1]  # the all-crime panel, then ASB
    assert crime.label == "Crimes, latest 12 months" and asb_panel.label == "ASB incidents, latest 12 months"
    # The briefing publishes every figure (cdp.disclosure): each total is the in-area count rounded.
    for metric, true in ((crime, expected(rows, *latest, crimes=True)),
                         (asb_panel, expected(rows, *latest, "Anti-social behaviour"))):
        low, high = Published().total_interval_of(int(metric.value.replace(",", "")))
        assert low <= true <= high
    # The briefing is marked for publication: the same statement, its counts published.
    published = counting.NotCounted(outside, unlocated, 0).sentence(disclosure.published())
    assert published != statement and published in page_text(at)

    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert numbers(at)["Counted"] == int(rows["in_area"].sum())
    assert numbers(at)["Incidents stored"] == len(rows)


# --- 2. police.uk and the force's own extract never both count ------------------------------------

def extract_of(rows: pd.DataFrame, source: str, when: str, prefix: str) -> pd.DataFrame:
    """Partner extract rows for stored incidents: the force's own records of the same events."""
    return pd.DataFrame({"incident_id": [f"{prefix}{i}" for i in range(len(rows))], "source": source,
                         "occurred_at": when, "category": rows["category"].to_numpy(),
                         "longitude": rows["longitude"].to_numpy(), "latitude": rows["latitude"].to_numpy(),
                         "location": "Market Street", "victim_id": [f"V{i % 40}" for i in range(len(rows))]})


def test_a_month_the_forces_extract_covers_counts_once(db, police_uk_files, tmp_path, monkeypatch):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)  # January - March 2024
    february = db.execute("SELECT longitude, latitude, category FROM incidents "
                          "WHERE month = DATE '2024-02-01' AND longitude IS NOT NULL").df()
    in_city = db.execute("SELECT count(*) FROM incidents WHERE month = DATE '2024-02-01' AND "
                         "location_status = 'in_area'").fetchall()[0][0]
    police_uk_rows = db.execute("SELECT count(*) FROM incidents WHERE month = DATE '2024-02-01'").fetchall()[0][0]
    path = tmp_path / "force-extract.csv"
    extract_of(february, "police", "2024-02-10", "F").to_csv(path, index=False)
    ingest(db, "partner", [path])
    feb = Filters(date(2024, 2, 1), date(2024, 2, 1))

    def counted(f) -> int:
        return int(queries.ward_counts(db, crime_type=None, priority="asb", start=f.start, end=f.end)["count"].sum()
                   + sum(queries.ward_counts(db, priority=k, start=f.start, end=f.end)["count"].sum()
                         for k in ("drugs_alcohol", "weapons")))

    total = db.execute(f"SELECT count(*) FROM incidents WHERE month = DATE '2024-02-01' AND "
                       f"{counting.counted_condition()}").fetchall()[0][0]
    assert total == in_city                             # the same incidents, counted once
    sources = dict(db.execute(f"SELECT dataset, count(*) FROM incidents WHERE month = DATE '2024-02-01' "
                              f"AND {counting.counted_condition()} GROUP BY 1").fetchall())
    assert sources == {"partner": in_city}              # from the richer extract
    assert counting.not_counted(db, feb).superseded == police_uk_rows   # kept and marked
    assert db.execute("SELECT count(*) FROM incidents WHERE superseded AND dataset = 'police_uk'"
                      ).fetchall()[0][0] == police_uk_rows
    # January and March: police.uk still counts.
    jan = db.execute(f"SELECT dataset, count(*) FROM incidents WHERE month = DATE '2024-01-01' AND "
                     f"{counting.counted_condition()} GROUP BY 1").fetchall()
    assert [d for d, _ in jan] == ["police_uk"]
    table = queries.month_sources(db).set_index("month")
    assert table.loc["Feb 2024", "police.uk: Nottinghamshire Police"].startswith("superseded")
    assert table.loc["Feb 2024", "partner: police"] == f"{in_city:,} counted"
    assert table.loc["Jan 2024", "partner: police"] == ""
    before = counted(feb)

    # Another partner system reports its own incidents: they count as themselves.
    council = tmp_path / "council.csv"
    asb = february[february["category"] == "Anti-social behaviour"].head(5).assign(category="Noise")
    extract_of(asb, "council_asb", "2024-02-12", "C").to_csv(council, index=False)
    ingest(db, "partner", [council])
    assert counted(feb) == before + int(len(asb) - (~geography.assign_wards(
        asb["longitude"].to_numpy(), asb["latitude"].to_numpy(), geography.stored_wards(db)).astype(bool)).sum())

    # Which sources are the force's own records is configuration (CDP_FORCE_EXTRACTS).
    for setting, superseded in (("none", 0), ("police=Some Other Police", 0),
                                ("police=Nottinghamshire Police", police_uk_rows), ("", police_uk_rows)):
        monkeypatch.setenv(counting.FORCE_EXTRACTS_ENV, setting)
        with store.transaction(db):
            store.refresh_derived(db)
        assert counting.not_counted(db, feb).superseded == superseded, setting


def test_an_extract_month_still_in_progress_leaves_police_uk_counting(db, county, tmp_path):
    """A force extract loaded before its last month ended covers that month only in part: there
    police.uk (published for whole months) counts, and the extract's rows are the superseded ones."""
    this_month = date.today().replace(day=1)
    police = write_street_csv(police_uk_month(county, f"{this_month:%Y-%m}", 100, seed=5), tmp_path)
    ingest(db, "police_uk", [police], boundaries=WARDS_FILE)
    rows = db.execute("SELECT longitude, latitude, category FROM incidents WHERE longitude IS NOT NULL").df()
    path = tmp_path / "early.csv"
    extract_of(rows, "police", f"{this_month:%Y-%m}-01", "E").to_csv(path, index=False)
    ingest(db, "partner", [path])
    months = counting.months(db)
    covered = months.table.set_index(["dataset", "source"])["covered"]
    assert not covered.loc[("partner", "police")].any() and covered.loc[("police_uk", "Nottinghamshire Police")].all()
    counted = dict(db.execute(f"SELECT dataset, count(*) FROM incidents WHERE {counting.counted_condition()} "
                              "GROUP BY 1").fetchall())
    assert list(counted) == ["police_uk"]
    stated = counting.not_counted(db, Filters(this_month, this_month))
    assert stated.partial == len(rows) and "where police.uk counts" in stated.sentence()


def test_force_extract_settings_are_read_or_refused():
    assert counting.parse_force_extracts(None) == (counting.ForceExtract("police"),)
    assert counting.parse_force_extracts("none") == ()
    assert counting.parse_force_extracts("police=Nottinghamshire Police, British Transport Police; rms") == (
        counting.ForceExtract("police", ("Nottinghamshire Police", "British Transport Police")),
        counting.ForceExtract("rms"))
    with pytest.raises(counting.ForceExtractsError, match="names no partner source"):
        counting.parse_force_extracts("=Nottinghamshire Police")


# --- 3. a month is compared only when it is complete ------------------------------------------------

def council_asb_extract(wards, months: list[str], per_month: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for month in months:
        lon, lat = random_points_in(wards, per_month, rng)
        frames.append(pd.DataFrame({"occurred_at": f"{month}-15", "longitude": lon, "latitude": lat}))
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(incident_id=[f"A{i}" for i in range(len(frame))], source="council_asb",
                        category="Noise")[["incident_id", "source", "occurred_at", "category",
                                           "longitude", "latitude"]]


@pytest.fixture
def partial_latest(tmp_path, county, wards):
    """police.uk December 2023 to December 2024; the council's ASB extract only to November."""
    months = ["2023-12"] + [f"2024-{m:02d}" for m in range(1, 13)]
    files = [write_street_csv(police_uk_month(county, m, 200, seed=40 + i), tmp_path / "p")
             for i, m in enumerate(months)]
    path = tmp_path / "partial.duckdb"
    con = store.connect(path)
    ingest(con, "police_uk", files, boundaries=WARDS_FILE)
    extract = tmp_path / "council.csv"
    council_asb_extract(wards, months[:-1], 150, seed=3).to_csv(extract, index=False)
    ingest(con, "partner", [extract])
    yield con, path
    con.close()


def test_a_partly_loaded_latest_month_is_not_compared(partial_latest):
    con, _ = partial_latest
    months = counting.months(con)
    assert months.last_complete() == date(2024, 11, 1)
    assert months.missing(date(2024, 12, 1)) == ["partner source 'council_asb'"]
    december = Filters(date(2024, 12, 1), date(2024, 12, 1))
    asb = next(p for p in metrics.priority_panels(con, december) if p.key == "asb")
    assert all(c.change is None and "council_asb" in c.reason for c in asb.comparisons)
    counts = metrics.monthly_by_priority(con, december, date(2024, 11, 1), date(2024, 12, 1))["asb"]
    assert counts.iloc[1] < counts.iloc[0] / 2       # what a comparison would have called a fall
    start, reason = trends.exception_scope(con, december, "month")
    assert start is None and "December 2024 is not complete" in reason
    assert trends.exceptions_table(con, december, "month").empty
    # The coverage badge describes what is counted in the period, month by month.
    assert months.coverage("asb", date(2024, 11, 1), date(2024, 12, 1)).level == "full"
    assert months.coverage("dsva", date(2024, 12, 1), date(2024, 12, 1)).level == "unavailable"
    assert months.coverage("dsva", date(2024, 11, 1), date(2024, 11, 1)).level == "proxy"
    mixed = months.coverage("dsva", date(2024, 11, 1), date(2024, 12, 1))
    assert mixed.level == "mixed" and "proxy in Nov 2024; unavailable in Dec 2024" in mixed.note
    november = Filters(date(2024, 11, 1), date(2024, 11, 1))
    assert trends.exception_scope(con, november, "month")[1] == ("there is no earlier year of the same "
                                                                 "months to compare with (the complete "
                                                                 "months run from December 2023)")


def test_pages_use_complete_months(partial_latest, monkeypatch):
    _, path = partial_latest
    monkeypatch.setenv("CDP_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
    assert not at.exception
    assert at.session_state["filters"].end == date(2024, 11, 1)  # the latest complete month
    assert any("Quick picks end in November 2024" in c.value for c in at.sidebar.caption)
    december = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    december.query_params["start"] = "2024-12"
    december.query_params["end"] = "2024-12"
    december.run()
    text = page_text(december)
    assert "not compared: Dec 2024 not complete" in text
    assert "significant fall" not in text and "-100%" not in text
    both = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    both.query_params["start"] = "2024-11"
    both.query_params["end"] = "2024-12"
    both.run()
    assert "Mixed coverage" in page_text(both) and "unavailable in Dec 2024" in page_text(both)


# --- 4. fair to the season --------------------------------------------------------------------

SEASON = [0.6, 0.6, 0.7, 0.9, 1.1, 1.3, 1.4, 1.4, 1.2, 1.0, 0.8, 0.7]


@pytest.fixture(scope="module")
def seasonal(tmp_path_factory, wards):
    """Three years and a quarter of partner ASB incidents with a strong season and no real change."""
    rng = np.random.default_rng(2024)
    folder = tmp_path_factory.mktemp("seasonal")
    frames = []
    for month in pd.date_range("2022-01-01", "2025-03-01", freq="MS"):
        for _, ward in wards.iterrows():
            n = rng.poisson(30 * SEASON[month.month - 1])
            lon, lat = random_points_in(wards[wards["ward_code"] == ward["ward_code"]], n, rng)
            frames.append(pd.DataFrame({"occurred_at": f"{month:%Y-%m}-10", "longitude": lon, "latitude": lat}))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.assign(incident_id=[f"S{i}" for i in range(len(frame))], source="council_asb",
                         category="Noise")
    path = folder / "seasonal.csv"
    frame.to_csv(path, index=False)
    con = store.connect(folder / "seasonal.duckdb")
    ingest(con, "partner", [path], boundaries=WARDS_FILE)
    yield con
    con.close()


def test_january_to_march_is_not_a_blanket_fall(seasonal):
    quarter = Filters(date(2025, 1, 1), date(2025, 3, 1), priorities=("asb",))
    table = trends.exceptions_table(seasonal, quarter, "quarter")
    assert len(table) <= 2 and "Whole area" not in set(table["ward"])
    assert (table["direction"] == "below").sum() <= 1
    for month in (1, 2, 3):
        f = Filters(date(2025, month, 1), date(2025, month, 1), priorities=("asb",))
        assert len(trends.exceptions_table(seasonal, f, "month")) <= 2
    # The same counts against the previous 12 months' rate (the old expectation) are falls almost
    # everywhere: a winter quarter against the year's average.
    counts = trends.exception_counts(seasonal, quarter, ("asb",), "quarter")
    wards = counts[counts["ward_code"].notna()].groupby(["ward_code", "month"])["count"].sum().unstack()
    now = wards.loc[:, "2025-01-01":"2025-03-01"].sum(axis=1)
    before = wards.loc[:, "2024-01-01":"2024-12-01"].sum(axis=1)
    old = [stats.compare_periods(int(n), int(b), 3, 12).verdict for n, b in zip(now, before)]
    assert old.count("significant fall") >= 15

    asb = metrics.priority_panels(seasonal, quarter)[0]
    fair, unfair = asb.comparisons
    assert fair.title == "Against the same months a year earlier (Jan 2024 to Mar 2024)"
    assert fair.change.verdict == "no significant change"
    assert unfair.title.endswith("not seasonally fair)") and unfair.change.verdict == "significant fall"


# --- 5. places read as one --------------------------------------------------------------------

def test_on_or_near_x_and_x_are_one_street_and_premises_are_told_apart(db, wards, tmp_path):
    castle = wards[wards["ward_code"] == CASTLE]
    lon, lat = random_points_in(castle, 1, np.random.default_rng(1))
    lon, lat = float(lon[0]), float(lat[0])
    police = pd.DataFrame({
        "Crime ID": [f"c{i}" for i in range(4)], "Month": "2024-03", "Reported by": "Nottinghamshire Police",
        "Falls within": "Nottinghamshire Police", "Longitude": f"{lon:.6f}", "Latitude": f"{lat:.6f}",
        "Location": "On or near Market Street", "LSOA code": "", "LSOA name": "",
        "Crime type": "Shoplifting", "Last outcome category": "", "Context": ""})
    ingest(db, "police_uk", [write_street_csv(police, tmp_path)], boundaries=WARDS_FILE)
    partner = tmp_path / "shops.csv"
    pd.DataFrame({
        "incident_id": [f"s{i}" for i in range(7)], "source": "council_asb", "occurred_at": "2024-04-02",
        "category": "Shoplifting", "longitude": lon, "latitude": lat,
        "location": ["Market Street", "MARKET STREET", "  Market   Street ", "Lister Gate",
                     "Lister Gate", "On or near Market Street", "Market Street"],
        "premises_id": ["P10", "P10", "P10", "P11", "P11", "P12", "P12"],
        "premises_name": ["Tesco Express", "Tesco Express", "Tesco Express", "Tesco Express",
                          "Tesco Express", "The Crown", "The Crown"],
        "premises_type": "shop"}).to_csv(partner, index=False)
    ingest(db, "partner", [partner])
    # One street, whatever the spelling, in every count: its key, and the street filter.
    keyed = db.execute(f"SELECT {places.street_key_sql()}, count(*) FROM incidents GROUP BY 1 ORDER BY 1")
    assert keyed.fetchall() == [("lister gate", 2), ("market street", 9)]
    for typed in ("Market  Street", "on or near market street", "MARKET"):
        condition, params = flt.where(Filters(date(2024, 3, 1), date(2024, 4, 1), location_text=typed))
        assert db.execute(f"SELECT count(*) FROM incidents WHERE {condition}", params).fetchall()[0][0] == 9

    # Premises that share a name are told apart by street and ID, in every list.
    labels = {key: label for key, (label, _, _) in queries.premises_options(db).items()}
    assert labels == {"P10": "Tesco Express, Market Street (P10) (shop)",
                      "P11": "Tesco Express, Lister Gate (P11) (shop)", "P12": "The Crown (shop)"}
    ranked = vic.ranked_places(db, Filters(date(2024, 4, 1), date(2024, 4, 1)), "premises")["places"]
    assert ranked["label"].tolist() == ["Tesco Express, Market Street (P10)", "Tesco Express, Lister Gate (P11)",
                                        "The Crown"]


def test_top_streets_merge_spellings(db, wards, tmp_path):
    castle = wards[wards["ward_code"] == CASTLE]
    lon, lat = random_points_in(castle, 1, np.random.default_rng(2))
    lon, lat = float(lon[0]), float(lat[0])
    police = pd.DataFrame({
        "Crime ID": "", "Month": "2024-03", "Reported by": "Nottinghamshire Police",
        "Falls within": "Nottinghamshire Police", "Longitude": [f"{lon:.6f}"] * 3, "Latitude": f"{lat:.6f}",
        "Location": "On or near Market Street", "LSOA code": "", "LSOA name": "",
        "Crime type": "Anti-social behaviour", "Last outcome category": "", "Context": ""})
    ingest(db, "police_uk", [write_street_csv(police, tmp_path)], boundaries=WARDS_FILE)
    partner = tmp_path / "asb.csv"
    pd.DataFrame({"incident_id": ["a1", "a2", "a3"], "source": "council_asb", "occurred_at": "2024-03-09",
                  "category": "Noise", "longitude": lon, "latitude": lat,
                  "location": ["Market Street", "market street", "Elm Road"]}).to_csv(partner, index=False)
    ingest(db, "partner", [partner])
    table = maps.top_places(db, Filters(date(2024, 3, 1), date(2024, 3, 1)), "asb", CASTLE, "street")["table"]
    assert table[["place", "count"]].values.tolist() == [["Market Street", 5], ["Elm Road", 1]]


# --- 6. each incident in its true ward: point-in-polygon in the boundary file's grid -------------

def grid_wards(origin=(448000, 336000), size=4000, n=3) -> gpd.GeoDataFrame:
    """A 3 x 3 block of 4 km squares in British National Grid: long straight edges, corners only."""
    cells = [shapely.box(origin[0] + i * size, origin[1] + j * size, origin[0] + (i + 1) * size,
                         origin[1] + (j + 1) * size) for j in range(n) for i in range(n)]
    return gpd.GeoDataFrame({"WD22CD": [f"G{k}" for k in range(len(cells))],
                             "WD22NM": [f"Square {k}" for k in range(len(cells))]},
                            geometry=cells, crs="EPSG:27700")


def points_beside_edges(squares: gpd.GeoDataFrame, offset: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Points `offset` metres either side of every edge, along it (where a straight grid edge
    moved to WGS84 as a straight line between its corners bows furthest from the grid's line)."""
    xs, ys = [], []
    for shape in squares.geometry:
        (x0, y0, x1, y1) = shape.bounds
        for t in np.linspace(0.1, 0.9, 9):
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            for d in (-offset, offset):
                xs += [x, x, x0 + d, x1 + d]
                ys += [y0 + d, y1 + d, y, y]
    return np.array(xs), np.array(ys)


def test_a_grid_boundary_file_places_points_exactly_as_the_grid_does(db, tmp_path):
    squares = grid_wards()
    path = tmp_path / "grid-wards.gpkg"
    squares.to_file(path)
    east, north = points_beside_edges(squares)
    # The reference: point-in-polygon done in the grid itself (a point on no edge: one square).
    idx_point, idx_square = squares.sindex.query(shapely.points(east, north), predicate="intersects")
    reference = pd.Series(squares["WD22CD"].to_numpy()[idx_square]).groupby(idx_point).min()
    reference = reference.reindex(range(len(east)))
    expected = reference.value_counts().sort_index()
    assert len(east) > 500 and reference.isna().any()            # some points fall outside the block

    extract = tmp_path / "grid-points.csv"
    pd.DataFrame({"incident_id": [f"g{i}" for i in range(len(east))], "source": "police",
                  "occurred_at": "2024-05-01", "category": "Burglary",
                  "easting": east, "northing": north}).to_csv(extract, index=False)
    ingest(db, "partner", [extract], boundaries=path)
    counts = queries.ward_counts(db, crime_type="Burglary").set_index("ward_code")["count"]
    assert counts.to_dict() == expected.to_dict()
    stored = db.execute("SELECT incident_id, ward_code FROM incidents").df().set_index("incident_id")
    assert (stored["ward_code"].reindex([f"g{i}" for i in range(len(east))]).fillna("-").to_numpy()
            == reference.fillna("-").to_numpy()).all()

    # Points given as WGS84 (as police.uk gives them) are placed after moving them into the grid.
    lon, lat = geography.from_bng(east, north)
    placed = pd.Series(geography.assign_wards(lon, lat, geography.stored_wards(db))).fillna("-")
    assert (placed.to_numpy() == reference.fillna("-").to_numpy()).all()
    # Testing in WGS84 instead (the polygons moved, their edges kept straight between corners)
    # puts points on the wrong side of the long edges: what this test guards against.
    moved = squares.rename(columns={"WD22CD": "ward_code", "WD22NM": "ward_name"}).to_crs("EPSG:4326")
    wrong = geography.assign_wards(lon, lat, moved)
    assert (pd.Series(wrong).fillna("-").to_numpy() != reference.fillna("-").to_numpy()).sum() > 20


def test_stored_boundaries_keep_their_own_crs(db, tmp_path):
    squares = grid_wards()
    path = tmp_path / "grid-wards.gpkg"
    squares.to_file(path)
    wards = geography.load_boundaries(path)
    assert wards.crs.to_epsg() == 27700
    with store.transaction(db):
        geography.save_wards(db, wards, str(path))
    native = geography.stored_wards(db)
    assert native.crs.to_epsg() == 27700 and native.geometry.equals(wards.geometry)
    drawn = geography.stored_wards(db, wgs84=True)
    assert drawn.crs.to_epsg() == 4326 and len(drawn) == 9
    with store.transaction(db):
        assert not geography.save_wards(db, geography.load_boundaries(path), str(path))  # unchanged


def test_no_exception_across_a_change_of_coverage(db, county, tmp_path):
    """police.uk for two years, then the force's own extract with domestic abuse flags: January
    2025's domestic abuse count is not an exception against Januaries police.uk cannot flag."""
    months = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)] + ["2025-01"]
    files = [write_street_csv(police_uk_month(county, m, 80, seed=300 + i), tmp_path / "p")
             for i, m in enumerate(months)]
    ingest(db, "police_uk", files, boundaries=WARDS_FILE)
    january = db.execute("SELECT longitude, latitude, category FROM incidents WHERE month = DATE '2025-01-01' "
                         "AND longitude IS NOT NULL").df()
    extract = extract_of(january, "police", "2025-01-20", "J").assign(flag_domestic_abuse=True)
    extract.to_csv(tmp_path / "extract.csv", index=False)
    ingest(db, "partner", [tmp_path / "extract.csv"])
    f = Filters(date(2025, 1, 1), date(2025, 1, 1))
    starts = trends.exception_starts(db, f, "month", ("asb", "dsva"))
    assert starts["asb"] == (date(2023, 1, 1), "")           # full coverage throughout
    assert starts["dsva"][0] is None and "coverage changes in January 2025" in starts["dsva"][1]
    table = trends.exceptions_table(db, f, "month", ("asb", "dsva"))
    assert "dsva" not in set(table["priority"])
    panel = next(p for p in metrics.priority_panels(db, f) if p.key == "dsva")
    assert panel.comparisons[0].change is None and "coverage differs" in panel.comparisons[0].reason


def test_board_views_see_no_small_numbers_in_what_is_not_counted():
    stated = counting.NotCounted(outside_area=12_345, unlocated=3, superseded=0, partial=0)
    assert stated.sentence() == "Not counted: 12,345 outside the area's wards, 3 without a location."
    assert stated.sentence(disclosure.published()) == ("Not counted: 12,345 outside the area's wards, "
                                                       "<5 without a location.")
    assert counting.NotCounted(12_344, 7, 0).sentence(disclosure.published()) == (
        "Not counted: 12,345 outside the area's wards, 5 without a location.")
    assert counting.NotCounted(0, 0, 0).sentence() == ""

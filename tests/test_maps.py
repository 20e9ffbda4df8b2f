"""Hotspot maps: reference files, ward counts, class breaks, figures, drill-down, Gi* and
concentration, on hand-built stores (hand-checkable) and on the demo store (adds up)."""
from __future__ import annotations

import json
import math
import urllib.parse
from datetime import date

import mapclassify
import numpy as np
import pandas as pd
import pytest
import shapely

from cdp import access, areas, cctv, counting, geography, maps, reference, store
from cdp.disclosure import Published, TrueValues
from cdp.filters import Filters
from conftest import SHARED_GEO

IMD_FILE = SHARED_GEO / "nottingham_ward_imd2019.csv"
CASTLE, BULWELL, CLIFTON_EAST = "E05012277", "E05012275", "E05012278"
PERIOD = Filters(start=date(2024, 1, 1), end=date(2024, 6, 1))        # a year earlier: Jan-Jun 2023


# --- a small store built by hand -----------------------------------------------------------------

def cell_inside(wards, ward_code: str, rim: int = 0, cell: float = 250) -> tuple[float, float]:
    """The south-west corner of a 250 m grid cell that, with `rim` cells all round it, lies
    inside the ward (so hand-placed incidents stay in that ward)."""
    shape = wards.to_crs(27700).set_index("ward_code").geometry[ward_code]
    x0, y0 = shape.representative_point().coords[0]
    for dx in range(-8, 9):
        for dy in range(-8, 9):
            cx, cy = (np.floor(x0 / cell) + dx) * cell, (np.floor(y0 / cell) + dy) * cell
            block = shapely.box(cx - rim * cell, cy - rim * cell, cx + (rim + 1) * cell,
                                cy + (rim + 1) * cell)
            if shape.contains(block):
                return cx, cy
    raise AssertionError(f"no block of cells inside {ward_code}")


def add_incidents(con, wards, rows: list[dict]) -> None:
    """Insert incidents given easting/northing (BNG), month and a few columns; the ward is found
    by point-in-polygon, as the importers do."""
    frame = pd.DataFrame(rows)
    defaults = {"dataset": "partner", "source": "police", "category": "Rowdy or inconsiderate behaviour",
                "is_asb": True, "p_asb": True, "time_precision": "month", "import_id": 1,
                "location": None, "premises_id": None, "premises_name": None, "premises_type": None}
    for column, value in defaults.items():
        frame[column] = frame[column].where(frame[column].notna(), value) if column in frame else value
    frame["incident_id"] = [f"t{i}" for i in range(len(frame))]
    lon, lat = geography.from_bng(frame["easting"].to_numpy(), frame["northing"].to_numpy())
    frame["longitude"], frame["latitude"] = lon, lat
    frame["ward_code"] = geography.assign_wards(lon, lat, wards)
    frame["location_status"] = np.where(frame["ward_code"].isna(), "outside_area", "in_area")
    con.register("_rows", frame)
    con.execute("INSERT INTO incidents BY NAME SELECT * FROM _rows")
    con.unregister("_rows")
    store.refresh_derived(con)  # as every import does: coverage per source and month


@pytest.fixture
def small(db, wards):
    """A store with the real wards and hand-placed ASB incidents:
    - Castle: 12 at "Lister Gate" (premises P1, "The Plough", 10 of them), 6 at "Market Street"
      (spelt three ways: one street), 2 with no street, all Jan-Jun 2024; a year earlier (March and
      February 2023, the first months loaded) 4 at Lister Gate, 6 at Market Street.
    - Bulwell: a cluster of 30 per cell in a 3 x 3 block of 250 m cells (270) in Mar 2024.
    - Clifton East: 1 in Feb 2024, and 1 crime (not ASB) that the ASB map must not count.
    - 1 outside the city and 1 without a location, in the period."""
    geography.save_wards(db, wards, "test boundaries")
    cx, cy = cell_inside(wards, CASTLE)
    rows = []
    for i in range(12):
        rows.append({"easting": cx + 10, "northing": cy + 10, "month": date(2024, 1 + i % 6, 1),
                     "location": "Lister Gate", **({"premises_id": "P1", "premises_name": "The Plough",
                                                    "premises_type": "licensed premises"} if i < 10 else {})})
    rows += [{"easting": cx + 60, "northing": cy + 40, "month": date(2024, 2, 1), "location": street}
             for street in ["Market Street", "On or near Market Street", "Market Street",
                            "On or near Market Street", " MARKET  street", "On or near Market Street"]]
    rows += [{"easting": cx + 100, "northing": cy + 100, "month": date(2024, 3, 1)} for _ in range(2)]
    rows += [{"easting": cx + 10, "northing": cy + 10, "month": date(2023, 3, 1), "location": "Lister Gate"}
             for _ in range(4)]
    rows += [{"easting": cx + 60, "northing": cy + 40, "month": date(2023, 2, 1), "location": "Market Street"}
             for _ in range(6)]
    bx, by = cell_inside(wards, BULWELL, rim=2)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            rows += [{"easting": bx + dx * 250 + 125, "northing": by + dy * 250 + 125,
                      "month": date(2024, 3, 1), "location": "Main Street"} for _ in range(30)]
    ex, ey = cell_inside(wards, CLIFTON_EAST)
    rows.append({"easting": ex + 5, "northing": ey + 5, "month": date(2024, 2, 1)})
    rows.append({"easting": ex + 5, "northing": ey + 5, "month": date(2024, 2, 1), "is_asb": False,
                 "p_asb": False, "category": "Burglary"})
    rows.append({"easting": 470_000.0, "northing": 360_000.0, "month": date(2024, 2, 1)})  # Newark way
    add_incidents(db, wards, rows)
    db.execute("""INSERT INTO incidents (dataset, source, incident_id, month, time_precision, category,
                  is_asb, p_asb, location_status, import_id)
                  VALUES ('partner', 'police', 'nowhere', DATE '2024-04-01', 'month', 'Noise', TRUE,
                          TRUE, 'unlocated', 1)""")
    store.refresh_derived(db)
    return db


def test_ward_counts_every_ward_and_hand_counted(small):
    counts = maps.ward_counts(small, PERIOD, "asb").set_index("ward_code")
    assert len(counts) == 20 and counts["selected"].all()
    assert counts.loc[CASTLE, ["count", "previous"]].tolist() == [20, 10]
    assert counts.loc[BULWELL, ["count", "previous"]].tolist() == [270, 0]
    assert counts.loc[CLIFTON_EAST, "count"] == 1          # the burglary is a crime, not ASB
    placed = maps.mapping_coverage(small, PERIOD, "asb")
    assert counts["count"].sum() == 291 == placed["counted"]
    assert placed["not_counted"] == counting.NotCounted(outside_area=1, unlocated=1, superseded=0)
    assert placed["not_counted"].sentence() == ("Not counted: 1 outside the area's wards, 1 without "
                                                "a location.")
    crimes = maps.ward_counts(small, PERIOD, "drugs_alcohol")
    assert crimes["count"].sum() == 0 and len(crimes) == 20


def test_ward_filter_leaves_other_wards_without_numbers(small):
    counts = maps.ward_counts(small, Filters(PERIOD.start, PERIOD.end, wards=(CASTLE,)), "asb")
    assert counts["selected"].sum() == 1
    assert counts.set_index("ward_code").loc[CASTLE, "count"] == 20
    assert counts.loc[~counts["selected"], "count"].isna().all()


def test_ward_table_change_rate_and_imd(small):
    counts = maps.ward_counts(small, PERIOD, "asb")
    population = pd.Series({CASTLE: 10_000, BULWELL: 20_000})
    imd = reference.load_imd(IMD_FILE)
    table = maps.ward_table(maps.add_changes(counts, PERIOD.months), population, imd).set_index("ward_code")
    castle = table.loc[CASTLE]
    assert castle["pct_change"] == pytest.approx(100.0)                 # 20 against 10
    assert castle["verdict"] == "no significant change"                # binomial 20 of 30: p = 0.099
    assert castle["rate_per_1000"] == pytest.approx(2.0)
    assert table.loc[BULWELL, "rate_per_1000"] == pytest.approx(13.5)
    assert table.loc[BULWELL, "verdict"] == "significant rise"
    assert np.isnan(table.loc[BULWELL, "pct_change"])                  # previous was 0
    assert table["rate_per_1000"].notna().sum() == 2
    assert table.loc[CASTLE, "imd_score"] == pytest.approx(
        float(imd.set_index("ward_code").loc[CASTLE, "imd_score"]))
    no_compare = maps.ward_table(maps.add_changes(counts, PERIOD.months, compare=False))
    assert no_compare["verdict"].isna().all() and no_compare["previous"].isna().all()


def test_area_table_sums_the_wards_of_each_nat_area(small):
    counts = maps.add_changes(maps.ward_counts(small, PERIOD, "asb"), PERIOD.months)
    table = maps.ward_table(counts, pd.Series({CASTLE: 10_000, BULWELL: 20_000}))
    nat = areas.Areas((areas.Area("North", (BULWELL,)), areas.Area("City <b>centre</b>", (CASTLE,))))
    summed = maps.area_table(table, nat, PERIOD.months).set_index("ward_code")
    assert list(summed.index) == ["North", "City <b>centre</b>", areas.NO_AREA]
    assert summed.loc["City <b>centre</b>", ["count", "previous"]].tolist() == [20, 10]
    assert summed.loc["North", ["count", "previous"]].tolist() == [270, 0]
    assert summed.loc[areas.NO_AREA, "count"] == 291 - 290  # the other 18 wards
    assert summed.loc["North", "verdict"] == "significant rise"
    assert summed.loc["City <b>centre</b>", "pct_change"] == pytest.approx(100.0)
    assert summed.loc["North", "rate_per_1000"] == pytest.approx(13.5)
    assert np.isnan(summed.loc[areas.NO_AREA, "rate_per_1000"])  # its wards have no population
    board = maps.publish(summed.reset_index(), Published(), PERIOD.months, wards=table)
    shown = maps.display_area_table(board)
    assert shown["NAT area"].tolist() == ["North", "City <b>centre</b>", areas.NO_AREA]
    # Totals rounded on their own: the rest hold Clifton East's 1, which reads "<5".
    assert shown["Count"].tolist() == ["270", "20", "<5"] and shown["Change"].tolist()[2] == "*"
    assert shown["Verdict"].iat[2] == "*"                        # no test beside a "<5"
    assert board["p_value"].isna().all()
    analyst = maps.publish(summed.reset_index(), TrueValues(), PERIOD.months, wards=table)
    assert maps.display_area_table(analyst)["Count"].tolist() == ["270", "20", "1"]
    # Only the selected wards count: with Castle alone chosen, North is empty.
    chosen = maps.ward_table(maps.add_changes(maps.ward_counts(
        small, Filters(PERIOD.start, PERIOD.end, wards=(CASTLE,)), "asb"), PERIOD.months))
    assert maps.area_table(chosen, nat, PERIOD.months)["ward_code"].tolist() == ["City <b>centre</b>"]


def test_change_is_against_the_same_months_a_year_earlier_when_complete(small):
    # The store starts in February 2023: Jan-Jun 2024 would compare with Jan-Jun 2023, whose
    # first month is not loaded; Feb-Jun 2024 compares with Feb-Jun 2023.
    assert maps.change_not_compared(small, PERIOD, "asb") == "the loaded data starts in February 2023"
    spring = Filters(date(2024, 2, 1), date(2024, 6, 1))
    assert maps.change_not_compared(small, spring, "asb") is None
    unchanged = maps.ward_changes(small, PERIOD, "asb")
    assert unchanged["verdict"].isna().all() and unchanged["previous"].isna().all()
    changed = maps.ward_changes(small, spring, "asb")
    # Feb-Jun 2024: 10 at Lister Gate, 6 at Market Street, 2 with no street; Feb-Jun 2023: 4 at
    # Lister Gate and 6 at Market Street.
    assert changed.set_index("ward_code").loc[CASTLE, ["count", "previous"]].tolist() == [18, 10]


# --- class breaks ---------------------------------------------------------------------------------

def test_classify_counts_reads_as_whole_number_ranges():
    classes = maps.classify([0, 0, 0, 5, 5, 10], "natural_breaks", k=5)
    # Only 3 distinct values: 3 classes, (.., 0], (0, 5], (5, 10] -> "0", "1–5", "6–10".
    assert classes.labels == ("0", "1–5", "6–10")
    assert classes.sizes == (3, 2, 1)
    assert classes.index.tolist() == [0, 0, 0, 1, 1, 2]


@pytest.mark.filterwarnings("ignore:Numba not installed")
def test_classify_uses_mapclassify_breaks():
    y = [1, 2, 3, 4, 5, 6, 7, 8, 9, 30]
    fisher = maps.classify(y, "natural_breaks", k=5)
    assert fisher.index.tolist() == mapclassify.FisherJenks(np.array(y, float), k=5).yb.tolist()
    assert fisher.labels == ("1–2", "3–4", "5–6", "7–9", "10–30")   # (9, 30] holds 10 to 30
    quantiles = maps.classify(y, "quantiles", k=5)
    assert quantiles.index.tolist() == mapclassify.Quantiles(np.array(y, float), k=5).yb.tolist()
    assert quantiles.labels[0] == "1–2" and quantiles.labels[-1] == "9–30"
    with pytest.raises(ValueError, match="unknown class scheme"):
        maps.classify(y, "equal_interval")


def test_classify_drops_empty_quantile_classes_and_missing_values():
    # Seven zeros: the quantile breaks are 0, 0.75 and 50; nothing lies in (0, 0.75].
    classes = maps.classify([0] * 7 + [1, 2, 50, None], "quantiles", k=4)
    assert classes.labels == ("0", "1–50")
    assert classes.sizes == (7, 3)
    assert classes.index.tolist() == [0] * 7 + [1, 1, 1, -1]
    assert maps.classify([3, 3, 3], k=5).labels == ("3",)
    assert maps.classify([None, None], k=5).k == 0


def test_classify_label_kinds():
    change = maps.classify([-40.0, -10.0, 5.0, 60.0], "natural_breaks", k=2, kind="percent")
    assert change.labels == ("-40% to +5%", "+5% to +60%")
    rate = maps.classify([1.25, 2.5, 7.75], "natural_breaks", k=3, kind="rate")
    assert rate.labels == ("1.2", "1.2 to 2.5", "2.5 to 7.8")
    colours = maps.class_colours(change, "RdBu_r", diverging=True)
    assert len(colours) == 2 and colours[0] != colours[1]


# --- figures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wards_geojson(wards):
    return wards.__geo_interface__


def ward_map(small, wards_geojson, f=PERIOD, figures=TrueValues()):
    table = maps.publish(maps.ward_table(maps.add_changes(maps.ward_counts(small, f, "asb"), f.months)),
                         figures, f.months)
    classes = maps.classify(table["count"], "natural_breaks", 4, step=maps.class_step(figures))
    fig = maps.ward_choropleth(table, wards_geojson, classes, maps.class_colours(classes), "ASB",
                               maps.hover_text(table, "ASB incidents"),
                               centres=maps.ward_centres(wards_geojson), mark_changes=True)
    return table, classes, fig


def test_ward_choropleth_draws_every_ward_offline_with_a_class_legend(small, wards_geojson):
    table, classes, fig = ward_map(small, wards_geojson)
    choropleths = [t for t in fig.data if t.type == "choropleth"]
    assert len(choropleths) == classes.k
    drawn = [code for t in choropleths for code in t.locations]
    assert sorted(drawn) == sorted(table["ward_code"])
    assert all(t.featureidkey == "properties.ward_code" for t in choropleths)
    assert [t.name for t in choropleths][-1].endswith("(1 ward)")        # Bulwell's 270 alone
    assert fig.layout.geo.fitbounds == "locations" and fig.layout.geo.visible is False
    castle = next(t for t in choropleths if CASTLE in t.locations)
    hover = castle.text[list(castle.locations).index(CASTLE)]
    assert "<b>Castle</b>" in hover and "ASB incidents: 20" in hover and "A year earlier: 10" in hover
    rises = [t for t in fig.data if t.type == "scattergeo" and t.name == "significant rise"]
    assert list(rises[0].customdata) == [BULWELL]
    config = maps.plotly_config("x")
    assert config["topojsonURL"].startswith("data:application/json")
    topology = json.loads(urllib.parse.unquote(config["topojsonURL"].split(",", 1)[1].split("#")[0]))
    assert topology == {"type": "Topology", "objects": {}, "arcs": []}


def test_unselected_and_missing_wards_are_grey(small, wards_geojson):
    f = Filters(PERIOD.start, PERIOD.end, wards=(CASTLE, BULWELL))
    table = maps.publish(maps.ward_table(maps.add_changes(maps.ward_counts(small, f, "asb"), f.months),
                                         population=pd.Series({CASTLE: 5000})), TrueValues(), f.months)
    classes = maps.classify(table["rate_per_1000"].where(table["selected"]), k=3, kind="rate")
    fig = maps.ward_choropleth(table, wards_geojson, classes, maps.class_colours(classes), "rate",
                               maps.hover_text(table, "ASB incidents"), missing_label="no population")
    names = {t.name: list(t.locations) for t in fig.data}
    assert names["no population"] == [BULWELL]
    assert len(names["not in the ward filter"]) == 18
    assert "not in the ward filter" in fig.data[-1].text[0]


def test_selected_ward_reads_streamlit_click_selection():
    # The shape Streamlit 1.67 returns for a click on a choropleth (seen in the browser).
    selection = {"points": [{"curve_number": 0, "point_number": 7, "point_index": 7,
                             "location": CASTLE, "z": 1, "customdata": CASTLE,
                             "properties": {"ward_code": CASTLE, "ward_name": "Castle"}}],
                 "point_indices": [7], "box": [], "lasso": []}
    assert maps.selected_ward(selection, {CASTLE, BULWELL}) == CASTLE
    assert maps.selected_ward({"points": [{"location": CASTLE}]}, {BULWELL}) is None
    assert maps.selected_ward({"points": [], "point_indices": []}, {CASTLE}) is None
    assert maps.selected_ward(None, {CASTLE}) is None


def test_export_table_and_suppression(small, wards_geojson):
    table, classes, _ = ward_map(small, wards_geojson)
    export = maps.export_table(table, classes, "Class")
    assert len(export) == 20 and export["count"].sum() == 291
    assert set(export["Class"]) <= set(classes.labels)
    table, classes, fig = ward_map(small, wards_geojson, figures=Published())
    board = maps.export_table(table, classes, "Class", Published()).set_index("ward_code")
    assert board.loc[CLIFTON_EAST, "count"] == "<5" and board.loc[CASTLE, "count"] == "20"
    assert board.loc[CLIFTON_EAST, "pct_change"] == "*" and "p_value" not in board
    # The classes come from the published counts: Clifton East's 1 is in none of them.
    assert board.loc[CLIFTON_EAST, "Class"] == "no value"
    assert all(int(n.replace(",", "")) % 5 == 0 for label in classes.labels
               for n in label.split("–"))
    shown = maps.display_table(table)
    assert shown.set_index("Ward").loc["Clifton East", "Count"] == "<5"
    # Highest published count first, "<5" last, a tie by name: the order tells no more than the counts.
    published = [(-float(c.replace(",", "")) if c != "<5" else math.inf, w) for w, c in zip(shown["Ward"], shown["Count"])]
    assert published == sorted(published) and shown["Count"].iloc[-1] == "<5"
    assert "Per 1,000" not in shown                                       # no population given
    hovers = [t for trace in fig.data if trace.type == "choropleth" for t in trace.text]
    assert not any("p =" in h or "p <" in h for h in hovers)


def test_map_html_is_self_contained(small, wards_geojson):
    _, _, fig = ward_map(small, wards_geojson)
    html = maps.map_html(fig)
    assert len(html) > 3_000_000                      # plotly.js itself is inside
    assert '<script src="http' not in html
    assert "data:application/json" in html            # the offline topojson


def test_deprivation_correlation_hand_checked():
    table = pd.DataFrame({"selected": [True] * 5 + [False], "ward_name": list("ABCDEF"),
                          "count": [1, 2, 3, 4, 5, 99],
                          "imd_score": [10.0, 20.0, 30.0, 40.0, 60.0, 0.0]})
    result = maps.deprivation_correlation(table, "count")
    assert result["n"] == 5 and result["spearman"] == pytest.approx(1.0)
    assert 0.9 < result["pearson"] < 1.0
    assert maps.deprivation_correlation(table.assign(count=3), "count") is None
    fig = maps.deprivation_scatter(table, "count", "ASB incidents")
    assert list(fig.data[0].x) == [10.0, 20.0, 30.0, 40.0, 60.0]


# --- drill-down -----------------------------------------------------------------------------------

def test_top_streets_and_premises_hand_counted(small):
    streets = maps.top_places(small, PERIOD, "asb", CASTLE, "street")
    table = streets["table"].set_index("place")
    assert (streets["total"], streets["previous_total"]) == (20, 10)
    assert table["count"].to_dict() == {"Lister Gate": 12, "Market Street": 6, maps.NO_STREET: 2}
    assert list(table.index) == ["Lister Gate", "Market Street", maps.NO_STREET]
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc["Lister Gate", "previous"] == 4 and table.loc["Lister Gate", "pct_change"] == 200
    assert table.loc["Market Street", "pct_change"] == 0
    premises = maps.top_places(small, PERIOD, "asb", CASTLE, "premises")["table"]
    assert premises[["place", "premises_id", "premises_type", "count"]].values.tolist() == [
        ["The Plough", "P1", "licensed premises", 10]]
    assert premises["share"].iloc[0] == pytest.approx(0.5)
    assert len(maps.top_places(small, PERIOD, "asb", CASTLE, "street", limit=1)["table"]) == 1
    with pytest.raises(ValueError):
        maps.top_places(small, PERIOD, "asb", CASTLE, "owner")


def test_display_places_of_a_table_restricted_for_the_viewer():
    table = pd.DataFrame({"place": ["Flat 3, Some Road", "The Plough"], "premises_id": ["R1", "P1"],
                          "premises_type": ["residential", "licensed premises"], "count": [7, 3],
                          "share": [0.7, 0.3], "previous": [2, 3], "pct_change": [250.0, 0.0],
                          "verdict": ["no significant change"] * 2})
    officer = access.Viewer("nat", "neighbourhood", wards={"E05012285"})   # Meadows, not Castle
    shown = maps.display_places(maps.publish_places(
        access.restrict(table, officer, name="place", ward_code=CASTLE), 10, TrueValues(), 6))
    assert shown["Place"].tolist() == ["Residential address (withheld)", "The Plough"]
    assert shown["Change"].tolist() == ["+250%", "0%"] and shown["Share of ward"].tolist() == ["70.0%", "30.0%"]
    assert shown["Verdict"].tolist() == ["not significant"] * 2
    board = maps.display_places(maps.publish_places(table, 10, Published(), 6))
    # Only places of 5 or more are listed; the previous 2 is "<5": no change beside it.
    assert board["Count"].tolist() == ["5"] and board["Change"].tolist() == ["*"]
    assert board["Share of ward"].tolist() == ["50.0%"] and "A year earlier" not in board
    assert maps.display_places(maps.publish_places(table.iloc[1:], 10, Published(), 6)).empty


def test_places_whose_published_counts_are_equal_are_listed_by_name():
    """12, 11 and 8 all read "10" for the board: listed by name, as their true order would tell
    which is larger; a place reading more still comes first."""
    table = pd.DataFrame({"place": ["Cross Street", "Albert Road", "Bridge Lane", "Deep Way"],
                          "count": [12, 11, 8, 19], "share": [0.2] * 4, "previous": [10] * 4,
                          "pct_change": [0.0] * 4, "verdict": ["no significant change"] * 4})
    table = table.sort_values("count", ascending=False)          # as top_places ranks them
    board = maps.publish_places(table, 60, Published(), 6)
    assert board["place"].tolist() == ["Deep Way", "Albert Road", "Bridge Lane", "Cross Street"]
    assert board["count_text"].tolist() == ["20", "10", "10", "10"]
    analyst = maps.publish_places(table, 60, TrueValues(), 6)
    assert analyst["place"].tolist() == ["Deep Way", "Cross Street", "Albert Road", "Bridge Lane"]


def test_ward_points_and_density(small, wards_geojson):
    points = maps.ward_points(small, PERIOD, "asb", CASTLE)
    assert points["count"].sum() == 20 and len(points) == 3
    outline = maps.ward_outline(wards_geojson, CASTLE)
    assert None in outline[0] and 450_000 < np.nanmin([x for x in outline[0] if x]) < 460_000
    fig = maps.density_figure(points, outline)
    assert fig.data[0].type == "contour" and sum(fig.data[0].z) == 20
    assert np.diff(sorted(set(fig.data[0].x)))[0] == maps.DENSITY_CELL_M
    board = maps.density_cells(points, Published())
    # 12 at Lister Gate read 10; Market Street's 6 read 5; the 2 with no street are drawn empty.
    assert sorted(board.loc[board["count"] > 0, "count"]) == [5, 10]
    assert board["count"].sum() == 15 and set(board["text"]) == {"0", "5", "10"}
    empty = maps.density_figure(points.iloc[0:0], outline)
    assert "No incidents" in empty.layout.annotations[0].text


# --- Gi* and concentration ------------------------------------------------------------------------

def test_cell_counts_aggregate_in_duckdb(small, wards):
    cells = maps.cell_counts(small, PERIOD, "asb")
    assert cells["count"].sum() == 291                         # in the area, with a location
    bx, by = cell_inside(wards, BULWELL, rim=2)
    block = cells[(cells["col"].between(bx // 250 - 1, bx // 250 + 1))
                  & (cells["row"].between(by // 250 - 1, by // 250 + 1))]
    assert len(block) == 9 and (block["count"] == 30).all()


def test_gi_star_marks_the_cluster_hot(small, wards):
    maps._GRIDS.clear()
    cells = maps.gi_star(small, PERIOD, "asb")
    grid = maps.analysis_grid(small)
    assert len(cells) == len(grid) and cells["cell_id"].tolist() == grid["cell_id"].tolist()
    assert cells["count"].sum() == 291
    bx, by = cell_inside(wards, BULWELL, rim=2)
    centre = cells.set_index("cell_id").loc[f"E{bx:.0f}N{by:.0f}"]
    assert centre["count"] == 30 and centre["hotspot"] == "hot spot" and centre["p"] < 0.05
    assert (cells["hotspot"] == "hot spot").sum() >= 9          # the block (and maybe its rim)
    summary = maps.hotspot_summary(cells)
    assert summary["hot_incidents"] >= 270 and summary["incidents"] == 291
    geojson = wards.__geo_interface__
    fig = maps.hotspot_figure(cells, maps.ward_outline(geojson),
                              maps.ward_labels_bng(maps.ward_centres(geojson)))
    heatmap = fig.data[0]
    assert heatmap.type == "heatmap"
    assert heatmap.colorbar.ticktext[2] == f"hot spot ({(cells['hotspot'] == 'hot spot').sum()} cells)"
    # Every grid cell is one heatmap square at its centre: hot = 2, cold = 0, not significant = 1.
    z = np.array(heatmap.z, dtype=float)
    assert np.isfinite(z).sum() == len(cells)
    col, row = bx // 250, by // 250
    x_index = list(heatmap.x).index((col + 0.5) * 250)
    y_index = list(heatmap.y).index((row + 0.5) * 250)
    assert z[y_index, x_index] == 2 and "30 in this 250 m square" in heatmap.text[y_index][x_index]
    assert len(fig.to_json()) < 400_000                     # small however many cells
    # The grid is built once per boundary set and cell size.
    assert maps.analysis_grid(small) is grid


def test_gi_star_over_the_ward_filter_only(small, wards):
    f = Filters(PERIOD.start, PERIOD.end, wards=(CASTLE,))
    cells = maps.gi_star(small, f, "asb")
    castle = wards[wards["ward_code"] == CASTLE]
    assert len(cells) == len(maps.hotspots.grid(castle, maps.CELL_SIZE_M))
    assert cells["count"].sum() == 20


def test_the_hot_spot_map_is_zoomed_to_the_wards_tested(small, wards):
    """Cameras across the whole area drawn on a one-ward map leave it zoomed to that ward."""
    f = Filters(PERIOD.start, PERIOD.end, wards=(CASTLE,))
    cells = maps.gi_star(small, f, "asb")
    castle = wards[wards["ward_code"] == CASTLE]
    fig = maps.hotspot_figure(cells, maps.ward_outline(castle.__geo_interface__))
    whole = wards.to_crs(27700).total_bounds
    cctv.add_cameras(fig, pd.DataFrame({"name": ["far west", "far east"], "view_radius_m": [100.0, 100.0],
                                        "easting": [whole[0], whole[2]], "northing": [whole[1], whole[3]]}))
    x0, y0, x1, y1 = castle.to_crs(27700).total_bounds
    (left, right), (bottom, top) = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert left <= x0 and right >= x1 and bottom <= y0 and top >= y1          # the ward and its grid
    assert right - left < 1.2 * (x1 - x0 + 2 * maps.CELL_SIZE_M)             # and little more
    assert top - bottom < 1.2 * (y1 - y0 + 2 * maps.CELL_SIZE_M)
    assert left > whole[0] and right < whole[2]                               # not the cameras'


def test_concentration_hand_counted(small):
    # Places: premises P1 (10), the Lister Gate point without premises (2), the Market Street
    # point (6), the no-street point (2), 9 Bulwell points (30 each), Clifton East (1) = 14
    # places; ceil(0.05 * 14) = 1 top place: a Bulwell point with 30 of 291.
    result = maps.place_concentration(small, PERIOD, "asb")
    assert (result["n_places"], result["n_top_places"], result["incidents"]) == (14, 1, 291)
    assert result["share"] == pytest.approx(30 / 291)
    castle = maps.place_concentration(small, Filters(PERIOD.start, PERIOD.end, wards=(CASTLE,)), "asb")
    assert (castle["n_places"], castle["share"]) == (4, pytest.approx(10 / 20))


# --- the demo store adds up -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_db):
    con = store.connect(demo_db, read_only=True)
    yield con
    con.close()


def test_demo_store_ward_counts_and_drill_down_add_up(demo):
    last = demo.execute("SELECT max(month) FROM incidents").fetchall()[0][0]
    f = Filters(start=date(last.year - 1, last.month % 12 + 1, 1) if last.month < 12 else date(last.year, 1, 1),
                end=last)
    for key in ("asb", "dsva"):
        counts = maps.ward_counts(demo, f, key)
        in_area = maps.mapping_coverage(demo, f, key)["counted"]
        assert counts["count"].sum() == in_area > 0
        ward = counts.sort_values("count").iloc[-1]
        streets = maps.top_places(demo, f, key, ward["ward_code"], "street", limit=None)
        assert streets["total"] == ward["count"] == streets["table"]["count"].sum()
        assert streets["table"]["share"].sum() == pytest.approx(1.0)
        premises = maps.top_places(demo, f, key, ward["ward_code"], "premises", limit=None)
        assert 0 < premises["table"]["count"].sum() <= ward["count"]
        assert maps.ward_points(demo, f, key, ward["ward_code"])["count"].sum() <= ward["count"]
        assert maps.cell_counts(demo, f, key)["count"].sum() == in_area
        concentration = maps.place_concentration(demo, f, key)
        assert concentration["incidents"] == in_area and 0.05 < concentration["share"] < 1


# --- reference files ------------------------------------------------------------------------------

def test_load_imd_real_file():
    imd = reference.load_imd(IMD_FILE)
    assert len(imd) == 20 and imd["ward_code"].is_unique
    assert imd["imd_score"].between(0, 100).all()
    assert {"imd_income_score", "imd_crime_score"} <= set(imd.columns)


def test_load_population(tmp_path):
    path = tmp_path / "population.csv"
    path.write_text("\ufeffward_code,population,note\nE05012277,18712,centre\n\nE05012274,15230,\n",
                    encoding="utf-8")
    population = reference.load_population(path)
    assert population.to_dict() == {"E05012274": 15230, "E05012277": 18712}
    assert reference.load_population(None) is None               # none configured (CDP_POPULATION unset)


@pytest.mark.parametrize("text, line, reason", [
    ("ward,population\nE05012277,100\n", 1, "no ward_code column"),
    ("", 1, "empty"),
    ("ward_code,population\n", None, "no wards"),
    ("ward_code,population\nE05012277,100\nE05012274,lots\n", 3, "'lots' is not a whole number"),
    ("ward_code,population\nE05012277,12.5\n", 2, "not a whole number"),
    ("ward_code,population\nE05012277,1,000\n", 2, "more values"),
    ("ward_code,population\nE05012277,0\n", 2, "must be above 0"),
    ("ward_code,population\nE05012277,-5\n", 2, "not a whole number"),
    ("ward_code,population\nE05012277,\n", 2, "is empty"),
    ("ward_code,population\n,100\n", 2, "ward_code is empty"),
    ("ward_code,population\nE05012277,1\nE05012277,2\n", 3, "appears again (first on line 2)"),
])
def test_bad_population_files_name_file_line_and_reason(tmp_path, text, line, reason):
    path = tmp_path / "population.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(reference.ReferenceFileError, match="population|ward|empty|values") as info:
        reference.load_population(path)
    assert reason in str(info.value) and str(path) in str(info.value)
    assert info.value.line == line
    if line:
        assert f"line {line}:" in str(info.value)


def test_bad_imd_files(tmp_path):
    path = tmp_path / "imd.csv"
    path.write_text("ward_code,imd_score,imd_income_score\nE05012277,12.3,0.1\nE05012274,high,0.2\n")
    with pytest.raises(reference.ReferenceFileError, match=r"imd.csv, line 3: imd_score 'high' is not a number"):
        reference.load_imd(path)
    path.write_bytes(b"ward_code,imd_score\nE05012277,\xff\n")
    with pytest.raises(reference.ReferenceFileError, match="not UTF-8"):
        reference.load_imd(path)
    with pytest.raises(reference.ReferenceFileError, match="no such file"):
        reference.load_imd(tmp_path / "missing.csv")


def test_unmatched_wards():
    missing, unknown = reference.unmatched_wards(["A", "B", "X"], ["A", "B", "C"])
    assert (missing, unknown) == (["C"], ["X"])

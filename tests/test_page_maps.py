"""The hotspot maps page in AppTest on the demo store: the ward map, its numbers following the
filters, the drill-down, Gi*, concentration, deprivation and the rate control."""
from __future__ import annotations

import base64
import json

import numpy as np

from cdp import store
from conftest import shown_table

CASTLE = "E05012277"


def plotly_array(value) -> np.ndarray:
    """A plotly JSON array, plain or typed ({"dtype", "bdata", "shape"}), as numpy."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    return np.array(value, dtype=float)


def figure_types(at) -> list[set[str]]:
    return [{trace.get("type") for trace in json.loads(e.proto.spec)["data"]} for e in at.get("plotly_chart")]


def metric(at, starts: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(starts))


def ward_table(at):
    """The wards' table beside the map (a static table) as it reads."""
    return shown_table(at, "Ward")


def places_tables(at):
    """The drill-down's top streets and top premises tables (None when not shown)."""
    tables = [d.value for d in at.dataframe if "Place" in d.value.columns]
    streets = next((t for t in tables if "Type" not in t.columns), None)
    premises = next((t for t in tables if "Type" in t.columns), None)
    return streets, premises


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_page_renders_a_choropleth_with_every_ward(app_test):
    at = app_test("pages/maps.py")
    assert at.title[0].value == "Hotspot maps"
    types = figure_types(at)
    assert {"choropleth", "scattergeo"} <= types[0]          # the ward map with its labels
    ward_map = json.loads(at.get("plotly_chart")[0].proto.spec)
    drawn = [code for trace in ward_map["data"] if trace["type"] == "choropleth"
             for code in trace["locations"]]
    assert len(drawn) == 20 == len(set(drawn))
    assert any("ward" in trace.get("name", "") for trace in ward_map["data"])   # class legend
    table = ward_table(at)
    assert len(table) == 20
    total = int(metric(at, "ASB incidents in the mapped wards").replace(",", ""))
    assert table["Count"].str.replace(",", "").astype(int).sum() == total > 0
    assert table["Count"].str.replace(",", "").astype(int).is_monotonic_decreasing   # highest first
    assert at.session_state["maps_section"] == "By NAT area"               # the first tab under the maps
    by_area = shown_table(at, "NAT area")
    assert by_area["NAT area"].tolist()[:5] == ["North", "West", "Central", "East", "South"]
    assert by_area["Count"].str.replace(",", "").astype(int).sum() == total
    assert len(at.get("plotly_chart")) == 1                                # the Gi* map is a tab away
    assert "Share at the top 5% of places" in [m.label for m in at.metric]
    assert "of ASB incidents in the mapped wards happened at the top 5% of places" in markdown(at)


def test_priority_and_period_change_the_numbers(app_test):
    at = app_test("pages/maps.py")
    asb = metric(at, "ASB incidents in the mapped wards")
    at.selectbox(key="maps_priority").set_value("dsva").run()
    assert not at.exception
    crimes = metric(at, "Crimes in the mapped wards")
    assert crimes != asb
    at.selectbox(key="f_period").set_value("Latest month").run()
    assert not at.exception
    latest = metric(at, "Crimes in the mapped wards")
    assert int(latest.replace(",", "")) < int(crimes.replace(",", ""))
    assert int(ward_table(at)["Count"].str.replace(",", "").astype(int).sum()) == int(latest.replace(",", ""))


def test_ward_filter_limits_the_table(app_test):
    at = app_test("pages/maps.py")
    at.multiselect(key="f_wards").set_value([CASTLE, "E05012275"]).run()
    assert not at.exception
    assert sorted(ward_table(at)["Ward"]) == ["Bulwell", "Castle"]
    assert at.selectbox(key="maps_ward").options == ["Bulwell", "Castle"]


def test_choosing_a_ward_drills_down(app_test):
    at = app_test("pages/maps.py")
    assert not [d for d in at.dataframe if "Place" in d.value.columns]
    castle_total = int(ward_table(at).set_index("Ward").loc["Castle", "Count"].replace(",", ""))
    at.selectbox(key="maps_ward").set_value(CASTLE).run()
    assert not at.exception
    # Beside the map the drill-down replaces the wards' table (a tab away); the lists follow.
    assert at.session_state["maps_view"] == "Ward drill-down"
    assert ward_table(at) is None
    assert f"**Castle**: {castle_total:,} ASB incidents" in markdown(at)
    streets, premises = places_tables(at)
    assert 0 < len(streets) <= 10 and 0 < len(premises) <= 10
    counts = streets["Count"].str.replace(",", "").astype(int)
    assert counts.is_monotonic_decreasing
    assert counts.sum() <= castle_total
    assert {"Share of ward", "Change", "Verdict"} <= set(streets.columns)
    assert "contour" in set.union(*figure_types(at))          # the density surface
    ward_map = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["locations"] for t in ward_map["data"] if t.get("name") == "drilled into"] == [[CASTLE]]
    at.session_state["maps_view"] = "All wards"                # the other tab: the table again
    at.run()
    assert len(ward_table(at)) == 20 and places_tables(at)[0] is not None
    assert "contour" not in set.union(*figure_types(at))      # the closed tab is not drawn
    at.selectbox(key="maps_ward").set_value(None).run()       # no ward: no lists
    assert places_tables(at) == (None, None)


def test_hot_spots_section_states_the_method(app_test):
    at = app_test("pages/maps.py")
    at.session_state["maps_section"] = "Hot spots (Gi*)"
    at.run()
    assert "hot spot cells" in markdown(at)
    assert any("Getis-Ord Gi* on 250 m grid cells" in c.value and "< 0.05" in c.value for c in at.caption)
    gi_map = json.loads(at.get("plotly_chart")[-1].proto.spec)["data"][0]
    assert gi_map["type"] == "heatmap"
    hot = int(metric(at, "Significant hot spot cells").replace(",", ""))
    assert gi_map["colorbar"]["ticktext"][2] == f"hot spot ({hot:,} cells)"
    assert (plotly_array(gi_map["z"]) == 2).sum() == hot > 0


def test_change_measure_and_deprivation(app_test):
    at = app_test("pages/maps.py")
    at.session_state["maps_section"] = "Deprivation"
    assert "Spearman ρ" in markdown(at.run())
    assert "maps_imd_scatter" in [c.key for c in at.get("plotly_chart")]
    at.radio(key="maps_measure").set_value("change").run()
    assert not at.exception
    assert any("▲/▼ mark a significant rise/fall" in c.value for c in at.caption)
    assert "Verdict" in ward_table(at).columns
    # The wards' table follows what the map shows: the largest rise first, wards not compared last.
    change = ward_table(at)["Change"]
    rises = [float(t.rstrip("%")) for t in change if t not in ("n/a", "*", "")]
    assert rises == sorted(rises, reverse=True) and len(set(rises)) > 3
    assert list(change[:len(rises)]) == [t for t in change if t not in ("n/a", "*", "")]
    at.radio(key="maps_layer").set_value("imd").run()
    assert not at.exception
    ward_map = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert ward_map["layout"]["legend"]["title"]["text"] == "IMD 2019 average score"
    scores = [float(v) for v in ward_table(at)["IMD 2019"]]
    assert scores == sorted(scores, reverse=True)   # the most deprived ward first
    at.radio(key="maps_layer").set_value("priority").run()
    at.radio(key="maps_measure").set_value("count").run()
    counts = [float(v.replace(",", "")) for v in ward_table(at)["Count"]]
    assert counts == sorted(counts, reverse=True)


def test_rates_need_a_population_file(app_test, wards, monkeypatch, tmp_path):
    at = app_test("pages/maps.py")
    assert at.toggle(key="maps_per_resident").disabled
    assert any("Rates need a ward population file (CDP_POPULATION)" in c.value for c in at.caption)
    assert "set CDP_POPULATION to a CSV of ward_code,population" in at.toggle(key="maps_per_resident").help.replace("\\", "")

    codes = list(wards["ward_code"])
    path = tmp_path / "population.csv"
    path.write_text("ward_code,population\n" + "".join(f"{c},{10_000 + i}\n" for i, c in enumerate(codes)))
    monkeypatch.setenv("CDP_POPULATION", str(path))
    at = app_test("pages/maps.py")
    assert not at.toggle(key="maps_per_resident").disabled
    at.toggle(key="maps_per_resident").set_value(True).run()
    assert not at.exception
    table = ward_table(at)
    assert "Per 1,000" in table.columns and (table["Per 1,000"] != "").all()
    ward_map = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "per 1,000 residents" in ward_map["layout"]["legend"]["title"]["text"]

    path.write_text("ward_code,population\nE05012277,many\n")
    at = app_test("pages/maps.py")
    assert at.toggle(key="maps_per_resident").disabled
    assert any(f"{path}, line 2: population 'many' is not a whole number" in c.value.replace("\\", "") for c in at.caption)


def test_neighbourhood_role_sees_no_residential_addresses(app_test, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "neighbourhood")
    at = app_test("pages/maps.py")
    at.selectbox(key="maps_ward").set_value(CASTLE).run()
    _, premises = places_tables(at)
    residential = premises[premises["Type"] == "residential"]
    assert (residential["Place"] == "Residential address (withheld)").all()


def test_unavailable_priority_says_so(app_test, store_copy, monkeypatch):
    copy = store_copy()
    con = store.connect(copy)
    con.execute("UPDATE incidents SET dataset = 'police_uk'")
    store.refresh_derived(con)
    con.close()
    monkeypatch.setenv("CDP_STORE", copy)
    at = app_test("pages/maps.py")
    at.selectbox(key="maps_priority").set_value("hate_crime").run()
    assert not at.exception
    assert any("cannot be mapped from the data counted in this period" in w.value for w in at.warning)
    assert not at.get("plotly_chart")


def test_board_role_sees_no_small_counts(app_test, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "board")
    at = app_test("pages/maps.py")
    at.selectbox(key="maps_priority").set_value("exploitation").run()
    at.selectbox(key="f_period").set_value("Latest month").run()
    assert not at.exception
    shown = ward_table(at)["Count"].tolist() + ward_table(at)["A year earlier"].tolist()
    assert all(value in ("0", "<5") or int(value.replace(",", "")) >= 5 for value in shown)
    assert "<5" in shown                                   # rare priority, one month, one ward


def test_hot_spots_are_not_tested_under_a_radius_or_street_filter(app_test):
    at = app_test("pages/maps.py")
    at.session_state["f_places_open"] = True  # the sidebar's Places section
    at.session_state["maps_section"] = "Hot spots (Gi*)"
    at.run().text_input(key="f_location").set_value("Road").run()
    assert not at.exception
    assert any("not tested with a radius, premises or street filter" in i.value for i in at.info)
    assert any(m.value == "not tested" for m in at.metric)


def test_a_map_address_opens_as_it_was(app_test):
    """The map's choices and the ward drilled into are read from the URL (the browser writes them
    there, see tests/test_browser.py), and the sidebar's filters keep to their own part of it."""
    shared = app_test()
    for name, value in {"maps_priority": "Domestic and sexual violence and abuse",
                        "maps_measure": "Change on a year earlier", "maps_classes": "4",
                        "maps_ward": "Castle"}.items():
        shared.query_params[name] = value
    shared.switch_page("pages/maps.py").run()
    assert not shared.exception
    assert shared.selectbox(key="maps_priority").value == "dsva"
    assert shared.radio(key="maps_measure").value == "change" and shared.slider(key="maps_classes").value == 4
    assert shared.selectbox(key="maps_ward").value == CASTLE
    assert "**Castle**:" in markdown(shared) and places_tables(shared)[0] is not None
    shared.selectbox(key="f_period").set_value("Latest month").run()    # the sidebar writes the URL
    assert "start" in shared.query_params
    assert shared.query_params["maps_ward"] == "Castle"     # and leaves the map's part alone

"""AppTest: the trends and exceptions page on the demo store, driven through the shared filters."""
from __future__ import annotations

import base64
import json
import re
from datetime import date

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from cdp import areas, store
from cdp.counting import counted_condition
from conftest import ROOT

PAGE = "pages/trends.py"
CASTLE, BULWELL = "E05012277", "E05012275"
SERIES_TITLES = ["Anti-social behaviour (ASB incidents)", "Drugs and alcohol (crimes)", "Hate crime (crimes)",
                 "Weapon-enabled offending (crimes)", "Modern slavery and exploitation (crimes)",
                 "Domestic and sexual violence and abuse (crimes)"]


def values(v) -> list:
    """A plotly JSON array (plain, or base64 typed array) as a list."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def figures(at) -> dict[str, dict]:
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out


def trace(fig: dict, name: str) -> dict:
    return next(d for d in fig["data"] if d.get("name") == name)


def points(fig: dict, name: str) -> pd.Series:
    t = trace(fig, name)
    return pd.Series(values(t["y"]), index=pd.to_datetime(values(t["x"])))


SECTIONS = ["What changed", "Series", "Control chart", "Rhythm"]


def show(at, section: str):
    """Open the page's tab `section` (each tab is drawn only while open)."""
    at.session_state["tr_section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def every_section(at) -> tuple[dict[str, dict], str, int]:
    """The figures, text and download buttons of every tab, opened one after the other."""
    figs, said, downloads = {}, [], 0
    for section in SECTIONS:
        show(at, section)
        figs.update(figures(at))
        said.append(text(at))
        downloads += len(at.get("download_button"))
    return figs, "\n".join(said), downloads


def text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [i.value for i in at.info] + [s.value for s in at.success])


def sql_count(where: str, condition: str, params: list) -> int:
    """Counted incidents (in the wards, not superseded: cdp.counting) meeting `condition`."""
    con = store.connect(where, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM incidents WHERE {counted_condition()} AND {condition}",
                           params).fetchall()[0][0]
    finally:
        con.close()


def test_page_draws_series_control_chart_exceptions_and_rhythm(app_test, demo_store):
    at = app_test(PAGE)
    assert at.title[0].value == "Trends and exceptions"
    assert [t.label for t in at.tabs][:4] == SECTIONS
    figs, _, downloads = every_section(at)
    assert sorted(t for t in figs if t in SERIES_TITLES) == sorted(SERIES_TITLES)
    assert {"Anti-social behaviour (ASB incidents): Whole area", "Month-of-year profile",
            "Anti-social behaviour (ASB incidents) by day and hour"} <= set(figs)
    asb = figs["Anti-social behaviour (ASB incidents)"]
    whole = points(asb, "Whole area")
    # The chart reaches back to the plan's baseline year and ends with the period (Mar 2025); the
    # last month is the store's own count of ASB incidents.
    assert whole.index.min() == pd.Timestamp("2020-04-01") and whole.index.max() == pd.Timestamp("2025-03-01")
    assert whole.iloc[-1] == sql_count(demo_store, "p_asb AND is_asb AND month = ?", [date(2025, 3, 1)])
    rolling = points(asb, "Whole area: rolling 12 months")
    assert rolling[pd.Timestamp("2025-03-01")] == whole["2024-04-01":"2025-03-01"].sum()
    labels = [a["text"] for a in asb["layout"]["annotations"]]
    assert "Baseline 2020/21" in labels and "Selected period" in labels
    assert downloads == 5
    assert not at.exception


def test_only_the_open_tab_is_drawn_and_choices_in_closed_tabs_stay(app_test):
    at = app_test(PAGE)
    assert not at.get("plotly_chart") and len(at.dataframe) == 1  # What changed: the exceptions
    show(at, "Series")
    assert sorted(figures(at)) == sorted(SERIES_TITLES) and not at.dataframe
    show(at, "Control chart")
    assert list(figures(at)) == ["Anti-social behaviour (ASB incidents): Whole area"]
    at.selectbox(key="tr_cc_area").set_value(CASTLE).run()
    show(at, "Rhythm")
    assert set(figures(at)) == {"Month-of-year profile", "Anti-social behaviour (ASB incidents) by day and hour"}
    show(at, "Control chart")
    assert at.selectbox(key="tr_cc_area").value == CASTLE
    assert "Anti-social behaviour (ASB incidents): Castle" in figures(at)
    # A shared filter change reruns the open tab only.
    at.selectbox(key="f_period").set_value("Last 3 months").run()
    assert list(figures(at)) == ["Anti-social behaviour (ASB incidents): Castle"]


def test_exceptions_table_sorted_by_strength_with_sentences(app_test):
    at = app_test(PAGE)
    table = at.dataframe[0].value
    assert len(table) > 0
    assert table["strength"].is_monotonic_decreasing
    assert {"ward", "p", "sentence", "observed", "expected"} <= set(table.columns)
    assert not table["ward"].str.match(r"E05\d+").any()  # names, not codes
    assert table["p"].str.match(r"p [<=] ").all()
    bullets = re.sub(r"\\(.)", r"\1", at.markdown[0].value)  # text from data, markdown-escaped
    assert bullets.startswith(f"- {table['sentence'].iat[0]}")
    at.segmented_control(key="tr_window").set_value("quarter").run()
    quarter = at.dataframe[0].value
    assert (quarter["period_label"] == "January 2025 to March 2025").all()
    assert quarter["strength"].is_monotonic_decreasing


def test_control_chart_signals_are_explained(app_test):
    at = show(app_test(PAGE), "Control chart")
    assert "Signals" in [s.value for s in at.subheader]
    signals = at.markdown[0].value
    assert re.search(r"is (above the upper|below the lower) control limit|months in a row|months (rising|falling)",
                     signals)
    fig = figures(at)["Anti-social behaviour (ASB incidents): Whole area"]
    flagged = values(trace(fig, "Signal")["y"])
    assert len(flagged) > 0
    # Every red point is named in the sentences or the earlier-signals list (months beyond a limit).
    assert "Mean " in text(at) and "limits " in text(at)
    at.segmented_control(key="tr_cc_kind").set_value("xmr").run()
    xmr = figures(at)["Anti-social behaviour (ASB incidents): Whole area"]
    assert values(trace(xmr, "Upper control limit")["y"])[0] != values(trace(fig, "Upper control limit")["y"])[0]
    at.radio(key="tr_cc_basis").set_value("baseline").run()
    based = figures(at)["Anti-social behaviour (ASB incidents): Whole area"]
    assert any(a["text"] == "Limits set here" for a in based["layout"]["annotations"])
    at.selectbox(key="tr_cc_area").set_value(CASTLE).run()
    assert "Anti-social behaviour (ASB incidents): Castle" in figures(at)
    assert not at.exception


def test_ward_filter_puts_wards_side_by_side(app_test, demo_store):
    at = show(app_test(PAGE), "Series")
    whole = points(figures(at)[SERIES_TITLES[0]], "Whole area")
    at.multiselect(key="f_wards").set_value([CASTLE, BULWELL]).run()
    asb = figures(at)[SERIES_TITLES[0]]
    castle, bulwell = points(asb, "Castle"), points(asb, "Bulwell")
    assert castle.iloc[-1] == sql_count(demo_store, "p_asb AND is_asb AND ward_code = ? AND month = ?",
                                        [CASTLE, date(2025, 3, 1)])
    assert (castle + bulwell <= whole).all() and not castle.equals(bulwell)
    assert "Castle: same month last year" in [d["name"] for d in asb["data"]]
    show(at, "What changed")
    table = at.dataframe[0].value if at.dataframe else pd.DataFrame({"ward": []})
    assert set(table["ward"]) <= {"Castle", "Bulwell"}
    show(at, "Control chart")
    assert at.selectbox(key="tr_cc_area").options == ["Chosen wards together", "Castle", "Bulwell",
                                                      "North (NAT area)", "Central (NAT area)"]
    assert not at.exception


def test_nat_areas_side_by_side_and_in_the_control_chart(app_test, demo_store):
    nat = areas.load_areas(ward_names(demo_store))  # config/areas.toml
    at = show(app_test(PAGE), "Series")
    at.segmented_control(key="tr_split").set_value("areas").run()
    asb = figures(at)[SERIES_TITLES[0]]
    north = nat.get("North").ward_codes
    last = points(asb, "North").iloc[-1]
    assert last == sql_count(demo_store, f"p_asb AND is_asb AND month = ? AND ward_code IN "
                                         f"({', '.join('?' * len(north))})", [date(2025, 3, 1), *north])
    assert [n for n in nat.names if n in {d["name"] for d in asb["data"]}] == nat.names
    show(at, "Control chart")
    at.selectbox(key="tr_cc_area").set_value("nat:North").run()
    assert not at.exception
    chart = next(spec for title, spec in figures(at).items() if title.endswith(": North"))
    assert values(chart["data"][0]["y"])[-1] == last


def ward_names(store_setting: str) -> dict[str, str]:
    con = store.connect(store_setting, read_only=True)
    try:
        return dict(con.execute("SELECT ward_code, ward_name FROM wards").fetchall())
    finally:
        con.close()


def test_priority_filter_limits_the_series_and_exceptions(app_test):
    at = app_test(PAGE)
    at.multiselect(key="f_priorities").set_value(["asb", "hate_crime"]).run()
    if at.dataframe:
        assert set(at.dataframe[0].value["priority"]) <= {"asb", "hate_crime"}
    show(at, "Control chart")
    assert at.selectbox(key="tr_cc_priority").options == ["Anti-social behaviour", "Hate crime"]
    figs, _, _ = every_section(at)
    shown = sorted(t for t in figs if t in SERIES_TITLES)
    assert shown == ["Anti-social behaviour (ASB incidents)", "Hate crime (crimes)"]
    profile = figs["Month-of-year profile"]
    assert [d["name"] for d in profile["data"]] == ["Anti-social behaviour", "Hate crime"]


def test_period_filter_moves_the_series_and_last_year(app_test):
    at = app_test(PAGE)
    at.selectbox(key="f_period").set_value("Financial year 2023/24").run()
    assert "March 2024" in text(at)
    assert at.dataframe[0].value["period_label"].eq("March 2024").all()
    show(at, "Series")
    asb = figures(at)[SERIES_TITLES[0]]
    whole = points(asb, "Whole area")
    assert whole.index.max() == pd.Timestamp("2024-03-01")
    last_year = points(asb, "Whole area: same month last year")
    # Over the selected months (Apr 2023 - Mar 2024), the counts of the same months a year earlier.
    assert list(last_year.index) == list(pd.date_range("2023-04-01", "2024-03-01", freq="MS"))
    assert last_year.tolist() == whole["2022-04-01":"2023-03-01"].tolist()


def test_weekly_series_count_whole_weeks(app_test, demo_store):
    at = show(app_test(PAGE), "Series")
    at.segmented_control(key="tr_grain").set_value("week").run()
    figs = figures(at)
    weekly = figs["Anti-social behaviour (ASB incidents), weekly"]
    whole = points(weekly, "Whole area")
    # Apr 2024 - Mar 2025: Monday 1 April 2024 to the week of Monday 24 March 2025, 52 whole weeks.
    assert len(whole) == 52 and whole.index[0] == pd.Timestamp("2024-04-01")
    assert whole.iloc[0] == sql_count(
        demo_store, "p_asb AND is_asb AND time_precision IN ('day', 'datetime') "
                 "AND occurred_at >= ? AND occurred_at < ?",
        [date(2024, 4, 1), date(2024, 4, 8)])
    # The demo's housing records give some dates to the month only: in the monthly series, not the weekly.
    month_only = sql_count(demo_store, "time_precision = 'month' AND month BETWEEN ? AND ?",
                           [date(2024, 4, 1), date(2025, 3, 1)])
    assert month_only and f"{month_only:,} of " in text(at)
    assert re.search(r"[\d,]+ of [\d,]+ incidents selected in the period \(\d+%\) have only a month", text(at))
    show(at, "Control chart")
    at.segmented_control(key="tr_cc_grain").set_value("week").run()
    chart = figures(at)["Anti-social behaviour (ASB incidents): Whole area"]
    assert len(values(trace(chart, "Count per week")["y"])) > 52
    assert not at.exception


def test_board_viewer_sees_no_small_numbers(app_test, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "board")
    at = app_test(PAGE)
    at.multiselect(key="f_wards").set_value([CASTLE]).run()
    at.multiselect(key="f_priorities").set_value(["asb", "exploitation"]).run()
    if at.dataframe:
        table = at.dataframe[0].value
        assert "expected" not in table and "ratio" not in table
        assert not table["observed"].isin(["1", "2", "3", "4"]).any()
    figs, said, _ = every_section(at)
    # Modern slavery in one ward runs at a few a month: those months are hidden, not drawn.
    if "Modern slavery and exploitation (crimes)" in figs:
        exploitation = values(trace(figs["Modern slavery and exploitation (crimes)"], "Castle")["y"])
        assert sum(v is None or np.isnan(v) for v in exploitation) > 0
    else:
        assert "Most months here have counts of 1 to 4, which this viewer may not see" in said
    assert "Not shown (counts of 1 to 4): Modern slavery and exploitation." in said
    for title, fig in figs.items():
        if "day and hour" in title or title == "Month-of-year profile":
            continue
        for t in fig["data"]:
            shown = [v for v in values(t.get("y", [])) if v is not None and not np.isnan(v)]
            assert not [v for v in shown if 1 <= v < 5], (title, t["name"])
    assert not at.exception


def test_police_uk_data_says_what_it_cannot_show(police_uk_store, monkeypatch):
    monkeypatch.setenv("CDP_STORE", police_uk_store)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    figs, said, _ = every_section(at)
    for label in ("Hate crime", "Modern slavery and exploitation", "Domestic and sexual violence and abuse"):
        assert f"**{label}** is not shown: unavailable in the data counted in the period" in said
    assert "proxy only" in said
    assert "Weekly series need exact dates" in said
    assert "No time of day in the loaded data" in said
    # Three months loaded (January - March 2024): no earlier March to compare March with.
    assert ("Exceptions are not tested: there is no earlier year of the same months to compare with "
            "(the complete months run from January 2024)") in said
    show(at, "Series")
    assert at.segmented_control(key="tr_grain").options == ["Monthly"]
    assert sorted(t for t in figs if t in SERIES_TITLES) == [
        "Anti-social behaviour (ASB incidents)", "Drugs and alcohol (crimes)", "Weapon-enabled offending (crimes)"]

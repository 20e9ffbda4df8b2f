"""Store queries behind the repeat victimisation page, on small hand-built stores."""
from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date

import duckdb
import pandas as pd
import pytest

from cdp import filters as flt
from cdp import counting, places, queries, repeat_windows, repeats, store, targets, victimisation as vic
from cdp.filters import Filters
from cdp.priorities import PRIORITY_COLUMNS, PRIORITY_KEYS

YEAR_2024 = Filters(start=date(2024, 1, 1), end=date(2024, 12, 1))
FLAG_COLUMNS = ("flag_alcohol", "flag_drugs", "flag_domestic_abuse", "flag_sexual_violence",
                "flag_modern_slavery", "flag_exploitation")


def insert_incidents(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Insert incidents given as dicts with `when` ('YYYY-MM-DD[ HH:MM]'); wards E1/E2 are added."""
    con.execute("INSERT OR IGNORE INTO wards VALUES ('E1', 'Castle', ''), ('E2', 'Meadows', '')")
    defaults = {"dataset": "partner", "source": "police", "category": "Violence and sexual offences",
                "is_asb": False, "location_status": "in_area", "import_id": 1, "time_precision": "day",
                "ward_code": "E1"}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    occurred = pd.to_datetime(frame.pop("when"), format="ISO8601")
    frame["occurred_at"] = occurred
    frame["month"] = occurred.dt.to_period("M").dt.to_timestamp()
    for column in [*PRIORITY_COLUMNS.values(), *FLAG_COLUMNS]:
        frame[column] = frame[column].fillna(False).astype(bool) if column in frame else False
    con.register("_hand_built", frame)
    con.execute("INSERT INTO incidents BY NAME SELECT * FROM _hand_built")
    con.unregister("_hand_built")
    store.refresh_derived(con)  # as every import does: coverage per source and month


def hate(victim, when, ward="E1", **extra) -> dict:
    return {"victim_id": victim, "when": when, "ward_code": ward, "p_hate_crime": True,
            "category": "Public order", **extra}


# Hate crimes in and around 2024 (the period), hand-counted in the tests below.
HISTORY = [
    hate("a", "2023-12-20", victim_age_band="18-24"), hate("a", "2024-01-05", victim_age_band="18-24"),
    hate("b", "2024-03-01", "E2"),                                   # one incident only
    hate("c", "2024-05-05 09:00"), hate("c", "2024-05-05 18:00"),    # same day: two incidents
    hate("d", "2022-12-01"), hate("d", "2024-01-10"),                # first is before the look-back
    hate("h", "2024-02-01"), hate("h", "2024-06-01", "E2"), hate("h", "2024-12-31"),  # three
    hate("e", "2024-12-20", "E2"), hate("e", "2025-01-03", "E2"),    # the repeat is after the period
    {"victim_id": "x", "when": "2024-02-01", "ward_code": "E2", "category": "Burglary"},  # not hate
    hate("x", "2024-03-01", "E2"),
    hate("y", "2024-04-01", is_asb=True, p_asb=True, category="Rowdy or inconsiderate behaviour"),  # ASB
    hate(None, "2024-04-02"),                                        # no victim recorded
]


@pytest.fixture
def history(db):
    insert_incidents(db, HISTORY)
    return db


def test_victim_incidents_pull_is_bounded(history):
    rows = vic.victim_incidents(history, YEAR_2024, "hate_crime")
    assert list(rows.columns) == list(vic.VICTIM_COLUMNS)
    # d's 2022 incident is before the 12-month look-back (from January 2023); e's January 2025 one is
    # after the period; x's burglary and y's ASB incident are not hate crimes; the blank victim is out.
    assert sorted(rows["victim_id"].unique()) == ["a", "b", "c", "d", "e", "h", "x"]
    assert len(rows) == 11
    assert pd.to_datetime(rows["month"]).min() == pd.Timestamp("2023-12-01")
    follow = vic.victim_incidents(history, YEAR_2024, "hate_crime", follow_up=True)
    assert len(follow) == 12 and pd.to_datetime(follow["month"]).max() == pd.Timestamp("2025-01-01")


def test_repeat_victimisation_hand_counted(history):
    # Victims: a b c d e h x = 7. Repeats: a (16 days across the year end), c (same day),
    # h (three) = 3; high-frequency: h. In-period incidents: a1 b1 c2 d1 e1 h3 x1 = 10, of which
    # a1 + c2 + h3 = 6 to repeat victims.
    result = vic.repeat_victimisation(history, YEAR_2024, "hate_crime")
    summary = result["summary"]
    assert (summary["victims"], summary["repeat_victims"], summary["high_frequency_victims"]) == (7, 3, 1)
    assert (summary["incidents"], summary["incidents_to_repeat_victims"]) == (10, 6)
    assert summary["repeat_incident_share"] == pytest.approx(0.6)
    assert result["rows"] == 12 and result["data_end"] == date(2025, 1, 31)
    assert result["lookback_complete"]  # the store starts in December 2022
    # Time to next: follow-ups from the 10 in-period incidents; repeats after 0 days (c), 14 (e, past
    # the period end), 121 and 213 (h). Day 0: 10 at risk, 1 repeat.
    curve = result["curve"]
    assert curve["days"].tolist() == [0, 14, 121, 213]
    assert curve["repeats"].sum() == 4
    assert vic.repeat_within(curve, 0) == pytest.approx(0.1)
    assert vic.repeat_within(curve, 13) == pytest.approx(0.1)


def test_repeat_rates_by_groups_with_names(history):
    by = vic.repeat_victimisation(history, YEAR_2024, "hate_crime")["by"]
    wards = by["ward"].set_index("group")
    # Castle: a c d h (a c h repeat); Meadows: b e h x (h repeat, counted in both wards).
    assert wards.loc["Castle", ["victims", "repeat_victims"]].tolist() == [4, 3]
    assert wards.loc["Meadows", ["victims", "repeat_victims"]].tolist() == [4, 1]
    assert by["ward"]["group"].tolist() == ["Castle", "Meadows"]  # highest rate first
    ages = by["age band"]
    assert ages["group"].tolist() == ["18-24", "Not recorded"]
    assert ages.set_index("group").loc["18-24", "rate"] == 1.0
    assert by["sex"]["group"].tolist() == ["Not recorded"]


def test_every_filter_applies_to_the_history_too(history):
    # In Meadows only: b, h (June only), e, x. h's other incidents are in Castle, so no repeats.
    meadows = vic.repeat_victimisation(history, Filters(start=date(2024, 1, 1), end=date(2024, 12, 1),
                                                        wards=("E2",)), "hate_crime")["summary"]
    assert (meadows["victims"], meadows["repeat_victims"]) == (4, 0)
    # The whole of the same period for ASB: y's one incident.
    asb = vic.repeat_victimisation(history, YEAR_2024, "asb")["summary"]
    assert (asb["victims"], asb["repeat_victims"]) == (1, 0)


def test_no_victims_is_not_an_error(db):
    insert_incidents(db, [hate(None, "2024-02-01")])
    result = vic.repeat_victimisation(db, YEAR_2024, "hate_crime")
    assert result["summary"]["victims"] == 0 and result["curve"].empty
    assert all(table.empty for table in result["by"].values())
    assert not queries.has_victim_keys(db)
    insert_incidents(db, [hate("v", "2024-02-01")])
    assert queries.has_victim_keys(db)


def test_period_days_and_month_end():
    assert vic.period_days(date(2024, 1, 1), date(2024, 2, 1)) == (date(2024, 1, 1), date(2024, 2, 29))
    assert vic.month_end(date(2023, 12, 1)) == date(2023, 12, 31)
    assert vic.lookback_complete(date(2020, 4, 1), date(2021, 4, 1))
    assert not vic.lookback_complete(date(2020, 4, 1), date(2021, 3, 1))
    assert not vic.lookback_complete(None, date(2021, 3, 1))


# --- the hate crime target ------------------------------------------------------------------------

TARGET_HISTORY = [
    hate("p", "2020-05-01"), hate("p", "2020-06-01"),        # baseline: a repeat
    hate("q", "2020-07-01"),                                  # baseline: single
    hate("r", "2021-02-01"), hate("r", "2021-05-01", "E2"),   # baseline single; FY21/22 repeat via look-back
    hate("s", "2021-06-01"), hate("t", "2021-08-01"),
    hate("u", "2021-09-01", is_asb=True, category="Noise"),  # a hate incident recorded as ASB: left out
]
FY_2021 = Filters(start=date(2021, 4, 1), end=date(2022, 3, 1))


def test_hate_crime_target_like_for_like_when_the_baseline_cannot_look_back(db):
    insert_incidents(db, TARGET_HISTORY)
    target = vic.hate_crime_target(db, FY_2021.start, FY_2021.end)
    base, selected, comparable = target["baseline"], target["selected"], target["comparable"]
    assert (base["numerator"], base["denominator"]) == (1, 3)          # p of p, q, r
    assert not base["lookback_complete"] and base["look_back_months"] == 0  # data starts May 2020
    assert (selected["numerator"], selected["denominator"]) == (1, 3)  # r of r, s, t
    # Measured like the baseline (no look-back before April 2021): r is no longer a repeat.
    assert not target["like_for_like"] and comparable["look_back_months"] == 0
    assert (comparable["numerator"], comparable["denominator"]) == (0, 3)
    assert target["target_rate"] == pytest.approx(0.3)
    assert target["meets_target"] is True
    assert target["verdict"] == "no significant change" and 0 < target["p_value"] <= 1
    assert "365 days before" in target["definition"]


def test_hate_crime_target_with_a_full_look_back(db):
    insert_incidents(db, TARGET_HISTORY + [{"victim_id": "z", "when": "2019-04-01", "category": "Burglary"}])
    target = vic.hate_crime_target(db, FY_2021.start, FY_2021.end)
    assert target["baseline"]["lookback_complete"] and target["like_for_like"]
    assert target["comparable"] is target["selected"]
    assert target["meets_target"] is False                             # 1/3 > 0.3


def test_hate_crime_target_without_baseline_data(db):
    insert_incidents(db, [hate("s", "2021-06-01")])
    target = vic.hate_crime_target(db, FY_2021.start, FY_2021.end)
    assert target["baseline"]["rate"] is None and target["target_rate"] is None
    assert target["meets_target"] is None and target["verdict"] is None


# --- domestic abuse escalation --------------------------------------------------------------------

def da(victim, when, ward="E1", flag=True, **extra) -> dict:
    return {"victim_id": victim, "when": when, "ward_code": ward, "p_dsva": True,
            "flag_domestic_abuse": flag, **extra}


def test_escalation_counts_windows_ending_in_the_period(db):
    insert_incidents(db, [
        da("m", "2023-03-01"), da("m", "2023-06-01"), da("m", "2024-02-01", victim_vulnerable=True),  # 337 days
        da("n", "2023-02-01"), da("n", "2023-03-01"), da("n", "2024-11-01"),    # only 1 in 12 months
        # o: six in the 12 months to December 2023, then three in the 12 months to 1 March 2024.
        *[da("o", f"2023-01-0{d}") for d in (2, 3, 4, 5)], da("o", "2023-11-01"),
        da("o", "2023-12-01"), da("o", "2024-03-01", "E2"),
        da("s", "2024-01-01"), da("s", "2024-01-02", flag=False, flag_sexual_violence=True),
        da("s", "2024-01-03"),                                                   # one is not domestic
        da("k", "2023-12-30"), da("k", "2023-12-31"), da("k", "2024-01-01"),    # across the year end
    ])
    table = vic.escalation(db, YEAR_2024)
    assert table["victim_id"].tolist() == ["o", "m", "k"]  # latest incident first
    assert list(table.columns) == ["victim_id", "incidents_in_window", "first", "last",
                                   "total_incidents", "latest", "ward", "vulnerable"]
    o = table.iloc[0]
    assert o["incidents_in_window"] == 6 and o["last"] == pd.Timestamp("2023-12-01")
    assert o["latest"] == pd.Timestamp("2024-03-01") and o["ward"] == "Meadows"
    assert o["total_incidents"] == 7
    m = table.set_index("victim_id").loc["m"]
    assert m["incidents_in_window"] == 3 and bool(m["vulnerable"])
    # In Meadows only o's last incident is left: no one qualifies.
    assert vic.escalation(db, Filters(start=date(2024, 1, 1), end=date(2024, 12, 1), wards=("E2",))).empty


# --- repeat places --------------------------------------------------------------------------------

def place(month, premises=None, name=None, east=None, north=None, location="High Street", ward="E1",
          asb=False, **flags) -> dict:
    return {"when": f"{month}-15", "premises_id": premises, "premises_name": name,
            "premises_type": "shop" if premises else None, "easting": east, "northing": north,
            "location": location, "ward_code": ward, "is_asb": asb,
            "category": "Noise" if asb else "Shoplifting", "p_asb": asb, **flags}


def test_ranked_places_hand_counted(db):
    insert_incidents(db, [
        # Shop P1: 4 in 2024 (3 in the last six months), one ASB, two drugs.
        place("2024-02", "P1", "Corner shop", 457000.2, 340000.4, p_drugs_alcohol=True),
        place("2024-08", "P1", "Corner shop", 457000.2, 340000.4, p_drugs_alcohol=True),
        place("2024-09", "P1", "Corner shop", 457000.2, 340000.4, asb=True),
        place("2024-11", "P1", "Corner shop", 457000.2, 340000.4),
        # Shop P2: 2; P3: 1 (not a repeat); P2 was also busy in 2023, outside the window.
        place("2024-03", "P2", "Pharmacy", 456000, 341000, ward="E2"),
        place("2024-04", "P2", "Pharmacy", 456000, 341000, ward="E2"),
        place("2023-05", "P2", "Pharmacy", 456000, 341000, ward="E2"),
        place("2024-05", "P3", "Bakery", 455000, 342000),
        # A street point used twice without premises, and one text-only location twice.
        place("2024-06", east=450000.4, north=342000.4, location="Park Road"),
        place("2024-07", east=450000.0, north=342000.0, location="Park Road"),
        place("2024-06", location="Market Square"), place("2024-10", location="Market Square"),
    ])
    premises = vic.ranked_places(db, YEAR_2024, "premises")
    table = premises["places"]
    assert table["place_key"].tolist() == ["premises:P1", "premises:P2"]
    p1 = table.iloc[0]
    assert (p1["label"], p1["ward"], p1["crimes"], p1["asb_incidents"]) == ("Corner shop", "Castle", 3, 1)
    assert p1["monthly"] == [0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0]
    assert (p1["incidents"], p1["year_earlier"]) == (4, 0)
    # The data starts in May 2023, so the same months a year earlier are not all covered.
    assert p1["change"] == "not compared" and premises["compared"] == "the loaded data starts in May 2023"
    p2 = table.iloc[1]
    assert (p2["incidents"], p2["peak"], p2["year_earlier"]) == (2, 3, 1)  # May 2023 is within 365 days
    assert "Drugs and alcohol 2" in p1["priorities"]
    assert (premises["repeat_places"], premises["incidents"], premises["at_repeat_places"]) == (2, 7, 6)
    assert premises["share"] == pytest.approx(6 / 7)
    assert premises["window"] == (date(2024, 1, 1), date(2024, 12, 1))

    locations = vic.ranked_places(db, YEAR_2024, "locations")["places"]
    # P1's point 4, then P2's point, Park Road's snapped point and Market Square with 2 each (latest first).
    assert locations["place_key"].tolist() == ["point:457000,340000", "location:market square",
                                               "point:450000,342000", "point:456000,341000"]
    assert locations.iloc[1]["label"] == "Market Square"
    assert locations.iloc[2]["label"] == "Park Road"
    only_meadows = vic.ranked_places(db, Filters(start=date(2024, 1, 1), end=date(2024, 12, 1), wards=("E2",)))
    assert only_meadows["places"]["place_key"].tolist() == ["premises:P2"]
    with pytest.raises(ValueError):
        vic.ranked_places(db, YEAR_2024, "streets")


def test_available_look_back():
    assert vic.available_look_back(date(2020, 4, 1), date(2020, 4, 1)) == 0
    assert vic.available_look_back(date(2019, 10, 1), date(2020, 4, 1)) == 6
    assert vic.available_look_back(date(2015, 1, 1), date(2020, 4, 1)) == 12
    assert vic.available_look_back(date(2021, 1, 1), date(2020, 4, 1)) == 0


def test_ranked_places_empty(db):
    insert_incidents(db, [place("2024-02", location="Market Square")])
    result = vic.ranked_places(db, YEAR_2024, "premises")
    assert result["places"].empty and result["repeat_places"] == 0 and result["share"] is None


def test_ranked_places_match_repeat_places_on_every_row(demo_db):
    """The DuckDB ranking plus a pull of the top places gives what repeat_places gives on all rows."""
    con = store.connect(demo_db, read_only=True)
    f = Filters(start=date(2023, 4, 1), end=date(2024, 3, 1), priorities=("asb", "drugs_alcohol"))
    for kind, by in (("premises", "premises"), ("locations", "point")):
        ranked = vic.ranked_places(con, f, kind, top=30)["places"]
        condition = "month BETWEEN '2022-04-01' AND '2024-03-01' AND (p_asb OR p_drugs_alcohol)"
        if kind == "premises":
            condition += " AND premises_id IS NOT NULL"
        everything = con.execute(f"SELECT * FROM incidents WHERE {condition}").df()
        expected = repeats.repeat_places(everything, pd.Timestamp("2023-04-01"),
                                         pd.Timestamp("2024-03-31"), by=by).head(30)
        assert ranked["place_key"].tolist() == expected["place_key"].tolist()
        assert ranked["incidents"].tolist() == expected["incidents"].tolist()
        assert (ranked["crimes"] + ranked["asb_incidents"]).tolist() == ranked["incidents"].tolist()
    con.close()


def test_figures_are_never_empty(history):
    result = vic.repeat_victimisation(history, YEAR_2024, "hate_crime")
    survival = vic.survival_figure(result["curve"])
    assert survival.data[-1].y[0] == 1.0 and len(survival.data[-1].x) == len(result["curve"]) + 2
    rates = vic.rates_figure(result["by"]["ward"], "by ward")
    assert list(rates.data[0].y) == ["Meadows", "Castle"]  # drawn bottom-up: highest rate on top
    target = vic.target_figure(vic.hate_crime_target(history, YEAR_2024.start, YEAR_2024.end))
    assert len(target.data[0].x) >= 2


def test_hate_crime_target_with_part_of_a_look_back(db):
    # The data starts in October 2019, six months before the baseline year: w's October 2019 hate
    # crime makes w a baseline repeat victim.
    insert_incidents(db, [hate("w", "2019-10-01"), hate("w", "2020-04-10"),
                          hate("v", "2020-09-01"), hate("v", "2021-05-01"), hate("s", "2021-06-01")])
    target = vic.hate_crime_target(db, FY_2021.start, FY_2021.end)
    assert target["baseline"]["look_back_months"] == 6
    assert (target["baseline"]["numerator"], target["baseline"]["denominator"]) == (1, 2)  # w of w, v
    # The selected period looks back 6 months too (from October 2020): v's September 2020 is out.
    assert (target["selected"]["numerator"], target["comparable"]["numerator"]) == (1, 0)


@pytest.mark.parametrize("recent, earlier", [(0, 0), (3, 1), (30, 10), (10, 30), (12, 12), (9, 0)])
def test_place_change_agrees_with_compare_periods(recent, earlier):
    from cdp import stats
    assert vic._change_verdicts([recent], [earlier]) == [stats.compare_periods(recent, earlier, 6, 6).verdict]


def test_the_store_s_place_key_is_repeats_place_keys_on_every_row(demo_db):
    """ranked_places keeps the place_key its query works out instead of working it out again in
    pandas: on every demo row (premises, snapped points, streets in every spelling, none) the two agree."""
    con = store.connect(demo_db, read_only=True)
    try:
        for kind, by in (("premises", "premises"), ("locations", "point")):
            for snap_m in (1.0, 25.0):
                rows = con.execute(f"SELECT premises_id, easting, northing, location, "
                                   f"{vic._place_key_sql(kind, snap_m)} AS place_key FROM incidents").df()
                expected = repeats.place_keys(rows, by, snap_m)
                if kind == "premises":  # the premises query keys premises only
                    expected = expected.where(expected.str.startswith("premises:"))
                assert rows["place_key"].astype("string").equals(expected.rename("place_key"))
                assert rows["place_key"].notna().any()
    finally:
        con.close()


def test_place_change_verdicts_at_once_are_scipy_s_binomial_test():
    from scipy.stats import binomtest
    recent, earlier = zip(*[(r, e) for r in range(0, 60) for e in range(0, 60)])
    expected = ["no significant change" if r + e == 0 or binomtest(r, r + e, 0.5).pvalue >= 0.05
                else "significant rise" if r > e else "significant fall" for r, e in zip(recent, earlier)]
    assert vic._change_verdicts(recent, earlier) == expected
    assert vic._change_verdicts([], []) == []


def test_street_cleans_each_distinct_text_once_and_keeps_the_index():
    from cdp import places
    text = pd.Series(["On or near  Market  Street", None, "market street ", "", "ON OR NEAR Elm Close",
                      "On or near  Market  Street"], index=[5, 3, 9, 1, 0, 7])
    got = places.street(text)
    assert got.index.tolist() == [5, 3, 9, 1, 0, 7] and str(got.dtype) == str(text.astype("string").dtype)
    assert got.tolist() == ["Market Street", pd.NA, "market street", pd.NA, "Elm Close", "Market Street"]
    assert places.street(pd.Series([], dtype="string")).empty


# --- the store's repeat windows against cdp.repeats -----------------------------------------------
# repeat_victimisation, the repeat targets and escalation work their measures out in DuckDB; the
# definitions are cdp.repeats', on the rows _victim_rows pulls. These are the pandas paths they
# replaced, kept here to hold the store's figures to them.

def pandas_repeat_victimisation(con, f: Filters, priority: str) -> dict:
    rows = vic.victim_incidents(con, f, priority, follow_up=True)
    first, last = queries.data_months(con)
    start, end = vic.period_days(f.start, f.end)
    data_end = vic.month_end(last) if last else end
    d = targets.definitions()
    tables = repeats.repeat_rates_by_columns(rows, list(vic.GROUPINGS.values()), start, end,
                                             d.window_days, d.repeat, d.high_frequency)
    return {"summary": repeats.victim_summary(rows, start, end, d.window_days, d.repeat, d.high_frequency),
            "curve": repeats.time_to_next(rows, start, end, data_end=data_end),
            "tables": tables, "rows": len(rows)}


def pandas_repeat_rate(con, priority: str, start: date, end: date, wards=(), look_back_months=12) -> dict:
    condition, params = flt.where(Filters(start=start, end=end, wards=tuple(wards)), period=False,
                                  priority=priority)
    rows = vic._victim_rows(con, condition, params, start, end, end,
                            ("victim_id", "month", "occurred_at", PRIORITY_COLUMNS[priority]))
    if look_back_months < 12:
        rows = rows[pd.to_datetime(rows["month"]) >= pd.Timestamp(flt.month_add(start, -look_back_months))]
    return repeats.repeat_rate_for_target(rows, *vic.period_days(start, end), priority=priority,
                                          window_days=targets.definitions().window_days)


def pandas_escalation(con, f: Filters, threshold: int = 3) -> pd.DataFrame:
    condition, params = flt.where(replace(f, priorities=PRIORITY_KEYS), period=False)
    rows = vic._victim_rows(con, condition + " AND flag_domestic_abuse", params, f.start, f.end, f.end,
                            ("victim_id", "month", "occurred_at", "flag_domestic_abuse", "ward_code",
                             "victim_vulnerable"))
    start, end = vic.period_days(f.start, f.end)
    peaks = repeats.victim_peaks(rows, start, end)
    table = repeats.escalation_victims(rows, threshold=threshold)
    table = table[table["victim_id"].map(peaks) >= threshold]
    latest = (rows.assign(date=repeats.incident_dates(rows)).sort_values("date", kind="stable")
              .groupby("victim_id").tail(1).set_index("victim_id"))
    latest = latest[["date", "ward_code", "victim_vulnerable"]].rename(
        columns={"date": "latest", "victim_vulnerable": "vulnerable"})
    table = table.merge(latest, left_on="victim_id", right_index=True, how="left")
    ward = table.pop("ward_code").map(queries.ward_names(con)).fillna(vic.NOT_RECORDED)
    table.insert(table.columns.get_loc("vulnerable"), "ward", ward)
    return table.sort_values(["latest", "incidents_in_window", "victim_id"],
                             ascending=[False, False, True], kind="stable").reset_index(drop=True)


def assert_same_escalation(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same table (an empty one only the same columns: pandas types an empty list's victim keys
    as it happens to, object or string)."""
    if expected.empty:
        assert got.empty and list(got.columns) == list(expected.columns)
    else:
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def assert_same_as_pandas(con, f: Filters, priority: str) -> None:
    got = vic.repeat_victimisation(con, f, priority)
    expected = pandas_repeat_victimisation(con, f, priority)
    assert got["summary"] == expected["summary"] and got["rows"] == expected["rows"]
    pd.testing.assert_frame_equal(got["curve"], expected["curve"], check_exact=True)
    expected_by = vic.rates_by_group(expected["tables"], queries.ward_names(con))
    for name in vic.GROUPINGS:
        pd.testing.assert_frame_equal(got["by"][name], expected_by[name], check_exact=True)


DEMO_VIEWS = [
    Filters(start=date(2024, 4, 1), end=date(2025, 3, 1)),
    Filters(start=date(2025, 1, 1), end=date(2025, 3, 1)),
    Filters(start=date(2020, 4, 1), end=date(2020, 6, 1)),       # no look-back
    Filters(start=date(2023, 4, 1), end=date(2024, 3, 1), wards=("E05012277", "E05012275")),
    Filters(start=date(2024, 4, 1), end=date(2025, 3, 1), age_bands=("18-24", "25-34"), sexes=("F",)),
    Filters(start=date(2024, 10, 1), end=date(2025, 3, 1), vulnerable_only=True),
    Filters(start=date(2024, 4, 1), end=date(2025, 3, 1), repeat_only=True),
]


@pytest.fixture(scope="module")
def demo(demo_db):
    con = store.connect(demo_db, read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("view", range(len(DEMO_VIEWS)))
def test_repeat_victimisation_is_cdp_repeats_on_the_demo(demo, view):
    for priority in ("hate_crime", "asb", "dsva", "weapons"):
        assert_same_as_pandas(demo, DEMO_VIEWS[view], priority)


@pytest.mark.parametrize("view", range(len(DEMO_VIEWS)))
def test_escalation_is_cdp_repeats_on_the_demo(demo, view):
    for threshold in (3, 5):
        assert_same_escalation(vic.escalation(demo, DEMO_VIEWS[view], threshold=threshold),
                               pandas_escalation(demo, DEMO_VIEWS[view], threshold))
    assert len(vic.escalation(demo, DEMO_VIEWS[0])) > 10


def test_repeat_targets_are_cdp_repeats_on_the_demo(demo):
    for f in DEMO_VIEWS[:4]:
        for priority, wards in (("hate_crime", ()), ("dsva", f.wards), ("asb", ("E05012277",))):
            for look_back in (12, 6, 0):
                got = vic._repeat_rate(demo, priority, f.start, f.end, date(2020, 4, 1), wards, look_back)
                expected = pandas_repeat_rate(demo, priority, f.start, f.end, wards, look_back)
                assert {k: got[k] for k in expected} == expected


# Keys the store's queries must read as cdp.repeats does: stripped as str.strip() strips them (an
# ideographic space, a no-break space, a tab), blank ones left out, dates known to the month only
# (the first of the month), two on one day and victims with no vulnerability recorded.
AWKWARD = [
    hate("a", "2024-02-01"), hate(" a", "2024-03-01", "E2"), hate("a\u3000", "2024-03-01 10:00"),
    hate("\u00a0b\t", "2023-11-20"), hate("b", "2024-11-19", victim_vulnerable=True),
    hate(" ", "2024-05-01"), hate("\u2003", "2024-05-02"), hate("c", "2024-06-01"),
    hate("c", "2024-06-01"), hate("c", "2025-02-01"), hate("d", "2024-07-09", victim_vulnerable=False),
    hate("d", "2024-07-31", victim_age_band="65+"),
    da("e", "2023-12-01"), da("e", "2024-01-15"), da(" e", "2024-02-01", "E2"), da("e ", "2024-02-01 09:00"),
    da("f", "2024-04-01"), da("f", "2024-04-01 12:00"), da("f", "2024-04-30", victim_vulnerable=True),
]


def test_awkward_keys_and_dates_read_as_cdp_repeats_reads_them(db):
    insert_incidents(db, AWKWARD)
    db.execute("UPDATE incidents SET occurred_at = NULL WHERE victim_id IN ('c', 'e ')")  # months only
    for f in (YEAR_2024, Filters(start=date(2024, 3, 1), end=date(2024, 7, 1)), Filters(
            start=date(2024, 6, 1), end=date(2024, 6, 1), wards=("E1",))):
        assert_same_as_pandas(db, f, "hate_crime")
        for threshold in (2, 3):
            assert_same_escalation(vic.escalation(db, f, threshold=threshold), pandas_escalation(db, f, threshold))
        for look_back in (12, 3):
            got = vic._repeat_rate(db, "hate_crime", f.start, f.end, date(2023, 11, 1), (), look_back)
            expected = pandas_repeat_rate(db, "hate_crime", f.start, f.end, (), look_back)
            assert {k: got[k] for k in expected} == expected
    summary = vic.repeat_victimisation(db, YEAR_2024, "hate_crime")["summary"]
    assert (summary["victims"], summary["repeat_victims"]) == (4, 3)  # a, b, c, d; a, c and d repeat
    escalating = vic.escalation(db, YEAR_2024)
    assert escalating["victim_id"].tolist() == ["f", "e"] and escalating["vulnerable"].dtype == "boolean"


def test_whitespace_is_what_str_strip_strips():
    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert repeat_windows.WHITESPACE == spaces


def pandas_described_places(con, f: Filters, kind: str, keys: list[str], snap_m: float = 1.0) -> pd.DataFrame:
    """ranked_places' table as it was worked out in pandas (repeats.repeat_places on the pulled
    rows of the top places `keys`), to hold the store's description of them to."""
    window_days = targets.definitions().window_days
    year = f.year_earlier()
    start_day, end_day = vic.period_days(f.start, f.end)
    first_day = min(year.start, start_day - pd.Timedelta(days=window_days).to_pytimedelta())
    condition, params = flt.where(f, period=False)
    rows = con.execute(f"""
        SELECT * FROM (SELECT {', '.join(vic.PLACE_COLUMNS)}, {vic._place_key_sql(kind, snap_m)} AS place_key
                       FROM incidents WHERE {condition} AND month BETWEEN ? AND ?)
        WHERE place_key IN (SELECT unnest(?::VARCHAR[]))""",
                       params + [first_day.replace(day=1), f.end, keys]).df()
    keys = rows.pop("place_key").astype("string")
    found = repeats.repeat_places(rows, start_day, end_day, by="premises" if kind == "premises" else "point",
                                  window_days=window_days, snap_m=snap_m, keys=keys)
    month = pd.to_datetime(rows["month"])
    in_period = rows[month >= pd.Timestamp(f.start)].assign(place_key=keys, _month=month)
    months = pd.date_range(pd.Timestamp(f.start), pd.Timestamp(f.end), freq="MS")
    monthly = (in_period.groupby(["place_key", "_month"]).size().unstack(fill_value=0)
               .reindex(columns=months, fill_value=0))
    kinds = in_period.groupby("place_key")["is_asb"].agg(["sum", "size"])
    earlier = keys[month.between(pd.Timestamp(year.start), pd.Timestamp(year.end))].value_counts()
    found["ward"] = found["ward_code"].map(queries.ward_names(con)).fillna(vic.NOT_RECORDED)
    if kind == "premises":
        labels = places.premises_table(con).set_index("premises_id")["label"]
        found["label"] = found["place_key"].str.removeprefix("premises:").map(labels).fillna(found["label"])
    found["asb_incidents"] = found["place_key"].map(kinds["sum"]).astype(int)
    found["crimes"] = found["place_key"].map(kinds["size"] - kinds["sum"]).astype(int)
    found["monthly"] = monthly.reindex(found["place_key"]).fillna(0).astype(int).to_numpy().tolist()
    found["year_earlier"] = found["place_key"].map(earlier).fillna(0).astype(int)
    compare = counting.months(con).why_not_compared((year.start, year.end)) is None
    found["change"] = (vic._change_verdicts(found["incidents"], found["year_earlier"]) if compare
                       else ["not compared"] * len(found))
    return found


@pytest.mark.parametrize("view", range(len(DEMO_VIEWS)))
def test_ranked_places_are_repeat_places_on_the_demo(demo, view):
    for kind in ("premises", "locations"):
        for top in (50, 5):
            got = vic.ranked_places(demo, DEMO_VIEWS[view], kind, top=top)["places"]
            if got.empty:
                continue
            expected = pandas_described_places(demo, DEMO_VIEWS[view], kind, got["place_key"].tolist())
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert not vic.ranked_places(demo, DEMO_VIEWS[0], "premises")["places"].empty


def test_ranked_places_labels_streets_as_cdp_places_does(db):
    # Streets in several spellings (the commonest cleaned one labels the place; a tie goes to the
    # first alphabetically), odd spaces, a premises without a name, and blank locations.
    insert_incidents(db, [
        place("2024-02", east=450000, north=342000, location="On or near Park\u00a0Road"),
        place("2024-03", east=450000, north=342000, location="PARK  ROAD"),
        place("2024-04", east=450000, north=342000, location="park road"),
        place("2024-05", east=450000, north=342000, location="Park Road\u2003"),
        place("2024-02", location="Zeta Street"), place("2024-03", location="Alpha Street"),
        place("2024-02", east=451000, north=343000, location="Alpha Street"),
        place("2024-03", east=451000, north=343000, location="Zeta Street"),
        place("2024-06", "P9", None, 452000, 344000, location=" "),
        place("2024-07", "P9", None, 452000, 344000, location=None),
        place("2024-08", "P8", "Kiosk", 453000, 345000, ward="E2"),
        place("2024-09", "P8", "kiosk", 453000, 345000, ward="E2"),
    ])
    for kind in ("premises", "locations"):
        got = vic.ranked_places(db, YEAR_2024, kind)["places"]
        pd.testing.assert_frame_equal(got, pandas_described_places(db, YEAR_2024, kind, got["place_key"].tolist()),
                                      check_exact=True)
    labels = vic.ranked_places(db, YEAR_2024, "locations")["places"].set_index("place_key")["label"]
    assert labels["point:451000,343000"] == "Alpha Street"

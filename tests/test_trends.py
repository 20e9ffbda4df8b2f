"""Trends: weekly and monthly series, rolling totals, the exceptions query and its screen, rhythm,
small-number hiding and the figures, on hand-worked examples and a hand-built partner store."""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from cdp import stats, store, trends
from cdp.disclosure import Published, Rule
from cdp.filters import Filters
from cdp.ingest import ingest
from conftest import WARDS_FILE

P = Published(Rule(5, 5))

CASTLE, BULWELL = "E05012277", "E05012275"
CASTLE_XY = (-1.1505, 52.9510)
BULWELL_XY = (-1.1980, 53.0010)
HEADER = ("incident_id,source,occurred_at,category,longitude,latitude,flag_asb,flag_drugs,"
          "flag_domestic_abuse")


def months(values, start="2023-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"), dtype=float)


def extract(tmp_path, rows, name="extract.csv"):
    """A partner extract CSV from (occurred_at, category, (lon, lat), flag_drugs, flag_domestic) rows."""
    lines = [HEADER]
    for i, (when, category, (lon, lat), drugs, domestic) in enumerate(rows):
        lines.append(f"I{i},police,{when},{category},{lon},{lat},false,{str(drugs).lower()},"
                     f"{str(domestic).lower()}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def load(db, tmp_path, rows):
    ingest(db, "partner", [extract(tmp_path, rows)], boundaries=WARDS_FILE)
    return db


# --- weeks and months ------------------------------------------------------------------------------

def test_full_weeks_are_monday_to_sunday_inside_the_period():
    # March 2025 starts on a Saturday: the first whole week starts Monday 3 March; 31 March is a
    # Monday whose week runs into April, so the last whole week starts 24 March.
    assert trends.full_weeks(Filters(date(2025, 3, 1), date(2025, 3, 1))) == (date(2025, 3, 3), date(2025, 3, 24))
    # 1 April 2024 is a Monday; 1 May is a Wednesday: the last whole week starts Monday 22 April.
    assert trends.full_weeks(Filters(date(2024, 4, 1), date(2024, 4, 1))) == (date(2024, 4, 1), date(2024, 4, 22))
    # A whole year: Monday 1 April 2024 to the week starting Monday 24 March 2025.
    assert trends.full_weeks(Filters(date(2024, 4, 1), date(2025, 3, 1))) == (date(2024, 4, 1), date(2025, 3, 24))


def test_rolling_total_needs_a_full_window():
    # 1..14: the first total is 1+..+12 = 78 at the 12th month, then 2+..+13 = 90, 3+..+14 = 102.
    totals = trends.rolling_total(months(range(1, 15)), 12)
    assert totals.iloc[:11].isna().all()
    assert totals.iloc[11:].tolist() == [78, 90, 102]


def test_rolling_totals_for_the_board_are_rounded_on_their_own():
    # Month 12 (index 11) is 3: the total of its 12 months, 58, reads 60; it is not hidden, as
    # 60 says 58 to 62 and the eleven "5"s each 5 to 7, which leaves the "<5" anything from 1 to 4.
    counts = months([5] * 11 + [3] + [6] * 12)
    shown = trends.rolling_total(counts, 12, P)
    assert shown.iloc[:11].isna().all() and shown.iloc[11] == 60 and shown.iloc[23] == 70
    assert trends.rolling_total(counts, 12).iloc[11] == 58  # 5 * 11 + 3, for analysts
    # Eleven 0s and a 4: the total reads "<5" (missing), as its one month does.
    assert math.isnan(trends.rolling_total(months([0] * 11 + [4]), 12, P).iloc[11])


def long_counts(values_by_ward: dict, key="asb", start="2023-01-01") -> pd.DataFrame:
    frames = []
    for ward, values in values_by_ward.items():
        frames.append(pd.DataFrame({"priority": key, "ward_code": ward,
                                    "month": pd.date_range(start, periods=len(values), freq="MS"),
                                    "count": values}))
    return pd.concat(frames, ignore_index=True)


def test_monthly_series_by_ward_with_last_year_and_rolling_total():
    # 26 months Jan 2023 - Feb 2025. Castle counts 1..26; Bulwell 10 every month.
    counts = long_counts({CASTLE: list(range(1, 27)), BULWELL: [10] * 26})
    f = Filters(date(2024, 3, 1), date(2025, 2, 1))
    series = trends.monthly_series(counts, "asb", f, [CASTLE, BULWELL])
    castle = series[series["area"] == CASTLE].set_index("month")
    # The chart starts at the data's first month: min(baseline Apr 2020, 12 months before Mar 2024) is
    # earlier than the data.
    assert castle.index.min() == pd.Timestamp("2023-01-01") and len(castle) == 26
    feb25 = castle.loc[pd.Timestamp("2025-02-01")]
    assert feb25["count"] == 26 and feb25["same_month_last_year"] == 14
    assert feb25["rolling_12_months"] == sum(range(15, 27))  # 15..26 = 246
    assert castle.loc[pd.Timestamp("2023-12-01"), "rolling_12_months"] == 78
    assert math.isnan(castle.loc[pd.Timestamp("2023-11-01"), "rolling_12_months"])
    assert castle["in_period"].sum() == 12 and not castle.loc[pd.Timestamp("2024-02-01"), "in_period"]
    bulwell = series[series["area"] == BULWELL]
    assert bulwell["rolling_12_months"].dropna().eq(120).all()
    # Whole area: the wards summed.
    whole = trends.monthly_series(counts, "asb", f).set_index("month")
    assert whole.loc[pd.Timestamp("2025-02-01"), "count"] == 36
    assert set(whole["area"]) == {trends.ALL_AREA}


def test_monthly_series_starts_twelve_months_before_a_late_period():
    # Data from Jan 2019: periods from Apr 2021 or Jan 2023 start the chart at the baseline year
    # (Apr 2020); periods from Jan 2021 or Jul 2020 start it 12 months earlier, before the baseline.
    first = date(2019, 1, 1)
    assert trends.chart_start(Filters(date(2021, 4, 1), date(2021, 12, 1)), first) == date(2020, 4, 1)
    assert trends.chart_start(Filters(date(2021, 1, 1), date(2021, 12, 1)), first) == date(2020, 1, 1)
    assert trends.chart_start(Filters(date(2023, 1, 1), date(2023, 12, 1)), first) == date(2020, 4, 1)
    assert trends.chart_start(Filters(date(2020, 7, 1), date(2020, 12, 1)), first) == date(2019, 7, 1)


def test_month_of_year_profile():
    # Two years of a series that is 10 in every month but 30 in July: the average month is
    # (11 * 10 + 30) / 12 = 11.667, so July's index is 30 / 11.667 * 100 = 257.1 and the others 85.7.
    values = [30 if m == 7 else 10 for m in list(range(1, 13)) * 2]
    profile = trends.month_of_year(long_counts({CASTLE: values}, start="2023-01-01"), ("asb",))
    july = profile[profile["month_name"] == "Jul"].iloc[0]
    assert july["average"] == 30 and july["months"] == 2
    assert july["index"] == pytest.approx(30 / (140 / 12) * 100)
    assert profile[profile["month_name"] == "Jan"]["index"].iat[0] == pytest.approx(10 / (140 / 12) * 100)
    assert len(profile) == 12


def test_limits_baseline_choices():
    periods = pd.date_range("2020-04-01", "2025-03-01", freq="MS")
    f = Filters(date(2024, 4, 1), date(2025, 3, 1))
    assert trends.limits_baseline("all", periods, f) is None
    month = pd.Timestamp
    assert trends.limits_baseline("before", periods, f) == slice(month("2020-04-01"), month("2024-03-01"))
    assert trends.limits_baseline("baseline", periods, f) == slice(month("2020-04-01"), month("2021-03-01"))
    with pytest.raises(ValueError, match="too few points"):
        trends.limits_baseline("baseline", pd.date_range("2023-01-01", periods=30, freq="MS"), f)


# --- the store: monthly, weekly, precision, day and hour ------------------------------------------------

STORE_ROWS = [
    ("2025-01-06T10:15:00", "Drugs", CASTLE_XY, True, False),          # Monday, exact time
    ("2025-01-12", "Drugs", CASTLE_XY, True, False),                   # Sunday, date only
    ("2025-01", "Drugs", CASTLE_XY, True, False),                      # month only
    ("2025-01-07T22:40:00", "Noise", CASTLE_XY, True, False),          # ASB flagged drugs: ASB only
    ("2025-01-13T23:05:00", "Violence and sexual offences", BULWELL_XY, False, True),
    ("2024-01-08T09:00:00", "Drugs", CASTLE_XY, True, False),          # 52 weeks before 6 Jan 2025
    ("2024-11-20T12:00:00", "Noise", BULWELL_XY, False, False),
]


def test_monthly_counts_zero_filled_and_never_adding_asb_to_crime(db, tmp_path):
    load(db, tmp_path, STORE_ROWS)
    counts = trends.monthly_counts(db, Filters(date(2024, 12, 1), date(2025, 1, 1)))
    assert counts["month"].min() == pd.Timestamp("2024-01-01")  # the store's first month
    assert counts["month"].max() == pd.Timestamp("2025-01-01")
    assert len(counts) == 6 * 20 * 13  # priorities × every ward × months, zero-filled
    jan = counts[counts["month"] == pd.Timestamp("2025-01-01")].set_index(["priority", "ward_code"])["count"]
    # Three drugs crimes in Castle; the Noise incident flagged for drugs counts under ASB only.
    assert jan[("drugs_alcohol", CASTLE)] == 3 and jan[("asb", CASTLE)] == 1
    assert jan[("dsva", BULWELL)] == 1 and jan[("asb", BULWELL)] == 0
    assert counts.loc[counts["priority"] == "hate_crime", "count"].sum() == 0
    castle_only = trends.monthly_counts(db, Filters(date(2025, 1, 1), date(2025, 1, 1), wards=(CASTLE,),
                                                    priorities=("drugs_alcohol",)))
    assert set(castle_only["ward_code"]) == {CASTLE} and set(castle_only["priority"]) == {"drugs_alcohol"}
    assert castle_only["count"].sum() == 4  # with January 2024


def test_weekly_counts_use_exact_dates_only(db, tmp_path):
    load(db, tmp_path, STORE_ROWS)
    f = Filters(date(2025, 1, 1), date(2025, 1, 1))
    weekly = trends.weekly_counts(db, f)
    castle_drugs = (weekly["priority"] == "drugs_alcohol") & (weekly["ward_code"] == CASTLE)
    drugs = weekly[castle_drugs].set_index("week")["count"]
    # Week of Monday 6 January: the timed Monday and the date-only Sunday; the month-only row is left out.
    assert drugs[pd.Timestamp("2025-01-06")] == 2 and drugs.sum() == 3
    assert drugs[pd.Timestamp("2024-01-08")] == 1
    assert weekly["week"].min() == pd.Timestamp("2024-01-08")  # 52 weeks before 6 January 2025
    series = trends.weekly_series(weekly, "drugs_alcohol", f, date(2024, 1, 1), [CASTLE])
    # January 2025 holds the whole weeks of 6, 13 and 20 January (27 January runs into February).
    assert series["week"].tolist() == list(pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-20"]))
    assert series["count"].tolist() == [2, 0, 0]
    assert series["same_week_last_year"].tolist() == [1, 0, 0]
    # Before the data starts, the same week last year is unknown, not zero.
    late = trends.weekly_series(weekly, "drugs_alcohol", f, date(2024, 6, 1), [CASTLE])
    assert late["same_week_last_year"].isna().all()


def test_date_precision_and_day_hour_grid(db, tmp_path):
    load(db, tmp_path, STORE_ROWS)
    f = Filters(date(2025, 1, 1), date(2025, 1, 1))
    assert trends.date_precision(db, f) == {"month": 1, "day": 1, "datetime": 3, "total": 5}
    assert trends.date_precision(db, f, "drugs_alcohol") == {"month": 1, "day": 1, "datetime": 1, "total": 3}
    grid = trends.weekday_hour(db, f, "drugs_alcohol")
    assert grid.shape == (7, 24) and grid.to_numpy().sum() == 1 and grid.loc["Monday", 10] == 1
    asb = trends.weekday_hour(db, f, "asb")
    assert asb.loc["Tuesday", 22] == 1 and asb.to_numpy().sum() == 1


# --- exceptions -------------------------------------------------------------------------------------

def spike_rows():
    """ASB: 2 a month in Castle and Bulwell, January 2023 to December 2024; then 12 in Castle and
    2 in Bulwell in January 2025. Castle also has one drugs crime in every month."""
    rows = []
    for month in pd.date_range("2023-01-01", "2025-01-01", freq="MS"):
        castle = 12 if month == pd.Timestamp("2025-01-01") else 2
        for day in range(castle):
            rows.append((f"{month:%Y-%m}-{day + 1:02d}T20:00:00", "Noise", CASTLE_XY, False, False))
        for day in range(2):
            rows.append((f"{month:%Y-%m}-{day + 1:02d}T20:00:00", "Noise", BULWELL_XY, False, False))
        rows.append((f"{month:%Y-%m}-15T12:00:00", "Drugs", CASTLE_XY, True, False))
    return rows


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))


def test_exceptions_table_finds_the_spike(db, tmp_path):
    load(db, tmp_path, spike_rows())
    f = Filters(date(2025, 1, 1), date(2025, 1, 1), priorities=("asb", "drugs_alcohol"))
    counts = trends.exception_counts(db, f)
    # One query: each ward and the whole area per priority, from the first complete month the
    # seasonal baseline uses (January 2023: two Januaries before January 2025) to January 2025.
    castle_asb = counts[(counts["priority"] == "asb") & (counts["ward_code"] == CASTLE)]
    assert castle_asb.groupby("month")["count"].sum().tolist() == [2] * 24 + [12]
    whole_asb = counts[(counts["priority"] == "asb") & counts["ward_code"].isna()]
    assert whole_asb.groupby("month")["count"].sum().iloc[-1] == 14

    table = trends.exceptions_table(db, f, "month")
    assert table["strength"].is_monotonic_decreasing
    castle = table[table["ward"] == "Castle"].iloc[0]
    # 12 in January 2025 against 4 in January 2023 and January 2024 (the seasonal baseline): given
    # n = 16, a ~ Bin(16, 1/3) under equal rates; pmf(0) = (2/3)^16 = 0.0015 is above pmf(12), so
    # the p-value is the upper tail alone.
    assert castle["priority_label"] == "Anti-social behaviour" and castle["observed"] == 12
    assert castle["expected"] == 2 and castle["ratio"] == 6 and castle["baseline"] == 4
    assert castle["p_value"] == pytest.approx(binomial_upper_tail(12, 16, 1 / 3))
    assert castle["sentence"] == ("Anti-social behaviour, Castle: 12 in January 2025 against 2.0 expected "
                                  "from the same months of the 2 years before (6.0 times the usual "
                                  "rate, p < 0.001).")
    assert castle["p"] == "p < 0.001"
    whole = table[table["ward"] == "Whole area"].iloc[0]
    assert whole["observed"] == 14 and whole["expected"] == 4
    assert "Bulwell" not in set(table["ward"])             # 2 against 2: no change
    assert "drugs_alcohol" not in set(table["priority"])   # 1 a month throughout
    assert list(table["ward"]) == ["Castle", "Whole area"]


def test_exceptions_table_for_chosen_wards_has_no_whole_area_rows(db, tmp_path):
    load(db, tmp_path, spike_rows())
    bulwell = trends.exceptions_table(db, Filters(date(2025, 1, 1), date(2025, 1, 1), wards=(BULWELL,)), "month")
    assert bulwell.empty
    castle = trends.exceptions_table(db, Filters(date(2025, 1, 1), date(2025, 1, 1), wards=(CASTLE,)), "month")
    assert castle["ward"].tolist() == ["Castle"] and castle["observed"].iat[0] == 12
    # Nov 2024 - Jan 2025: 2 + 2 + 12 = 16 against Nov 2023 - Jan 2024 (6; November 2022 is
    # before the data, so one earlier year): p = 0.052 by the exact test, not an exception.
    quarter = trends.exception_counts(db, Filters(date(2025, 1, 1), date(2025, 1, 1), wards=(CASTLE,)),
                                      ("asb",), "quarter")
    assert quarter.groupby("month")["count"].sum().iloc[-3:].sum() == 16
    assert trends.exceptions_table(db, Filters(date(2025, 1, 1), date(2025, 1, 1), wards=(CASTLE,)),
                                   "quarter").empty


def test_exceptions_need_a_year_before_the_window(db, tmp_path):
    load(db, tmp_path, spike_rows())
    assert trends.exceptions_table(db, Filters(date(2023, 1, 1), date(2023, 1, 1)), "month").empty
    start, reason = trends.exception_scope(db, Filters(date(2023, 12, 1), date(2023, 12, 1)))
    assert start is None and "no earlier year of the same months" in reason


def test_candidates_drop_only_pairs_that_cannot_be_exceptions():
    quiet = [3] * 24 + [3]
    spike = [3] * 24 + [15]
    drop = [9] * 24 + [0]
    seasonal = ([3] * 11 + [9]) * 2 + [3]  # low every January: not an exception
    zeros = [0] * 25
    frame = long_counts({"quiet": quiet, "spike": spike, "drop": drop, "seasonal": seasonal, "zero": zeros})
    latest = pd.Timestamp("2025-01-01")
    for window in ("month", "quarter"):
        kept = trends.exception_candidates(frame, latest, window)
        expected = stats.exceptions(frame, latest=latest, window=window)
        pd.testing.assert_frame_equal(stats.exceptions(kept, latest=latest, window=window), expected)
        assert set(expected["ward_code"]) <= set(kept["ward_code"]) <= {"spike", "drop", "seasonal"}
    assert set(stats.exceptions(frame, latest=latest)["ward_code"]) == {"spike", "drop"}


@pytest.mark.parametrize("end, window, chosen", [
    (date(2025, 3, 1), "month", ()), (date(2025, 3, 1), "quarter", ()),
    (date(2023, 8, 1), "month", ()), (date(2021, 6, 1), "quarter", ()),
    (date(2024, 2, 1), "month", (CASTLE, BULWELL)),
])
def test_screened_exceptions_equal_the_full_computation(demo_db, end, window, chosen):
    con = store.connect(demo_db, read_only=True)
    try:
        f = Filters(end, end, wards=chosen)
        counts = trends.exception_counts(con, f, window=window)
        full = stats.exceptions(counts, latest=pd.Timestamp(end), window=window, ward_names=trends.ward_names(con))
        table = trends.exceptions_table(con, f, window)
    finally:
        con.close()
    assert not full.empty
    # The demo's priorities are all counted with one coverage, so their series start together
    # and one stats.exceptions over every priority is what each priority's own gives.
    pd.testing.assert_frame_equal(table[stats.EXCEPTION_COLUMNS], full, check_dtype=False)


def test_board_exceptions_hide_small_counts_and_what_gives_them_away():
    table = pd.DataFrame({
        "priority": ["hate_crime", "asb"], "priority_label": ["Hate crime", "Anti-social behaviour"],
        "ward_code": [CASTLE, BULWELL], "ward": ["Castle", "Bulwell"],
        "period_label": ["January 2025", "January 2025"], "observed": [3, 40], "expected": [0.25, 20.0],
        "baseline_label": ["the same months of the 3 years before", "the same months a year earlier"],
        "ratio": [12.0, 2.0], "p_value": [0.002, 0.0001], "direction": ["above", "above"],
        "strength": [2.7, 4.0],
        "sentence": ["Hate crime, Castle: 3 in ...", "Anti-social behaviour, Bulwell: 40 in ..."],
        "p": ["p = 0.002", "p < 0.001"]})
    table["baseline"] = [1, 60]
    board = trends.board_exceptions(table, P)
    # Hate crime's test rests on counts of 1-4 (3 against 1): no verdict, so no row.
    assert board["observed"].tolist() == ["40"]
    assert "expected" not in board and "ratio" not in board and "p_value" not in board
    assert board["sentence"].iat[0] == ("Anti-social behaviour, Bulwell: 40 in January 2025, above the "
                                        "same months a year earlier (significant (p < 0.05)).")
    table["baseline"] = [5, 60]
    table["observed"] = [7, 40]
    assert trends.board_exceptions(table, P)["observed"].tolist() == ["5", "40"]


# --- figures ----------------------------------------------------------------------------------------

def test_monthly_figure_marks_the_baseline_year_and_the_period():
    counts = long_counts({CASTLE: list(range(60)), BULWELL: [5] * 60}, start="2020-04-01")
    f = Filters(date(2024, 4, 1), date(2025, 3, 1))
    series = trends.monthly_series(counts, "asb", f, [CASTLE, BULWELL])
    fig = trends.monthly_figure(series, "ASB", f, {CASTLE: "Castle", BULWELL: "Bulwell"})
    names = [t.name for t in fig.data]
    assert "Castle" in names and "Bulwell" in names and "Castle: same month last year" in names
    last_year = next(t for t in fig.data if t.name == "Castle: same month last year")
    assert len(last_year.x) == 12 and list(last_year.y) == list(range(36, 48))
    diamond = next(t for t in fig.data if t.name == "Castle: baseline year total")
    assert list(diamond.y) == [sum(range(12))]  # April 2020 - March 2021: 0 + 1 + ... + 11
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(bands) == 2  # the baseline year and the selected period, over both panels
    assert pd.Timestamp(bands[0].x0) < pd.Timestamp("2020-04-01") < pd.Timestamp(bands[0].x1)
    labels = [a.text for a in fig.layout.annotations]
    assert "Baseline 2020/21" in labels and "Selected period" in labels


def test_control_chart_figure_highlights_signals():
    chart = stats.control_chart(months([4] * 11 + [11]), "c", baseline=slice(0, 11))
    basis = slice(pd.Timestamp("2023-01-01"), pd.Timestamp("2023-11-01"))
    fig = trends.control_chart_figure(chart, "ASB", "month", basis)
    signal = next(t for t in fig.data if t.name == "Signal")
    assert list(signal.y) == [11] and "beyond a 3-sigma limit" in signal.text[0]
    ucl = next(t for t in fig.data if t.name == "Upper control limit")
    assert set(ucl.y) == {10}
    assert any(a.text == "Limits set here" for a in fig.layout.annotations)


def test_weekday_hour_figure():
    grid = pd.DataFrame(np.arange(168).reshape(7, 24), index=trends.WEEKDAYS, columns=range(24))
    fig = trends.weekday_hour_figure(grid, "t")
    assert fig.data[0].z.shape == (7, 24) and list(fig.data[0].y)[0] == "Monday"
    assert fig.data[0].text[0][3] == "3"
    board = trends.weekday_hour_figure(grid, "t", P)   # the colours and hovers from published counts
    assert np.isnan(board.data[0].z[0][3]) and board.data[0].z[0][7] == 5 and board.data[0].z[0][0] == 0
    assert board.data[0].text[0][3] == "<5" and board.data[0].text[0][7] == "5"

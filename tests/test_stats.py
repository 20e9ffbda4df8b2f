"""Control charts, exact rate-ratio tests and the exceptions report, on hand-worked examples."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from cdp.stats import (compare_periods, control_chart, describe_signals, exceptions, format_p,
                       rate_ratio_test)


def monthly(values, start="2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"))


# --- control charts ------------------------------------------------------------------------------

def test_c_chart_limits_with_baseline():
    # Baseline = the first 11 months, all 4: centre 4, sigma sqrt(4) = 2,
    # ucl = 4 + 3*2 = 10, lcl = 4 - 6 < 0 -> floored at 0. December's 11 is beyond the ucl.
    chart = control_chart(monthly([4] * 11 + [11]), "c", baseline=slice(0, 11))
    assert list(chart.columns) == ["period", "count", "centre", "ucl", "lcl", "beyond_limits",
                                   "run_of_8", "trend_of_6", "signal"]
    assert chart["centre"].iat[0] == 4 and chart["ucl"].iat[0] == 10 and chart["lcl"].iat[0] == 0
    assert chart["beyond_limits"].tolist() == [False] * 11 + [True]
    assert chart["signal"].tolist() == [False] * 11 + [True]  # points on the centre make no run
    assert describe_signals(chart) == ["December 2024 (11) is above the upper control limit (10.0)"]


def test_c_chart_baseline_by_label_and_positive_lcl():
    # Baseline Jan-Apr = 16 each: centre 16, sigma 4, ucl 28, lcl 4. 3 in May is below the lcl.
    counts = monthly([16, 16, 16, 16, 3])
    chart = control_chart(counts, baseline=slice(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01")))
    assert (chart["ucl"].iat[0], chart["lcl"].iat[0]) == (28, 4)
    assert chart["beyond_limits"].tolist() == [False] * 4 + [True]
    assert describe_signals(chart) == ["May 2024 (3) is below the lower control limit (4.0)"]


def test_xmr_chart_limits():
    # mean = 70/6 = 11.667; moving ranges 2,1,2,3,4 -> mean 2.4; sigma = 2.4/1.128 = 2.12766
    # ucl = 11.667 + 6.38298 = 18.0496; lcl = 11.667 - 6.38298 = 5.2837
    chart = control_chart(monthly([10, 12, 11, 13, 10, 14]), "xmr")
    assert chart["centre"].iat[0] == pytest.approx(11.6667, abs=1e-4)
    assert chart["ucl"].iat[0] == pytest.approx(18.0496, abs=1e-4)
    assert chart["lcl"].iat[0] == pytest.approx(5.2837, abs=1e-4)
    assert not chart["signal"].any()


def test_run_of_8_on_one_side():
    # mean = (8*6 + 7*2 + 6)/16 = 68/16 = 4.25. The eight 6s are above (a run), the seven 2s below
    # (one short), the last 6 above alone. ucl = 4.25 + 3*2.06 = 10.4: nothing beyond.
    chart = control_chart(monthly([6] * 8 + [2] * 7 + [6], start="2023-01-01"))
    assert chart["run_of_8"].tolist() == [True] * 8 + [False] * 8
    assert not chart["beyond_limits"].any() and not chart["trend_of_6"].any()
    assert describe_signals(chart) == ["8 months in a row above the mean from January 2023 to August 2023"]


def test_point_on_the_centre_line_breaks_a_run():
    # Baseline [3, 5] -> centre 4. Four 5s, a 4 on the line, four 5s: two runs of 5 and 4, not 9.
    chart = control_chart(monthly([3, 5, 5, 5, 5, 4, 5, 5, 5, 5]), baseline=slice(0, 2))
    assert chart["centre"].iat[0] == 4
    assert not chart["run_of_8"].any()


def test_run_still_going_reads_since():
    # Baseline [2, 6] -> centre 4; then eight 5s in a row above, up to the last point.
    chart = control_chart(monthly([2, 6] + [5] * 8), baseline=slice(0, 2))
    assert chart["run_of_8"].tolist() == [False, True] + [True] * 8  # the 6 starts the run of 9
    assert describe_signals(chart) == ["9 months in a row above the mean since February 2024"]


def test_trend_of_6_counts_points_not_steps():
    # 1..6 is 6 points (5 rises): a trend. The tie 6, 6 breaks it; 6,5,4,3,2 is only 5 points.
    chart = control_chart(monthly([1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2]))
    assert chart["trend_of_6"].tolist() == [True] * 6 + [False] * 5
    five_rising = control_chart(monthly([1, 2, 3, 4, 5, 1, 1]))
    assert not five_rising["trend_of_6"].any()


def test_describe_signals_newest_first():
    # mean = (21 + 15 + 20)/12 = 4.667, ucl = 4.667 + 3*sqrt(4.667) = 11.147: December's 20 is
    # beyond; Jan-Jun 1..6 is a rising trend ending in June.
    chart = control_chart(monthly([1, 2, 3, 4, 5, 6, 3, 3, 3, 3, 3, 20]))
    assert describe_signals(chart) == ["December 2024 (20) is above the upper control limit (11.1)",
                                       "6 months rising in a row up to June 2024"]


def test_falling_trend_sentence():
    chart = control_chart(monthly([9, 8, 7, 6, 5, 4], start="2024-03-01"))
    # mean 6.5: 9,8,7 above, 6,5,4 below -> no run; 6 falling points.
    assert describe_signals(chart) == ["6 months falling in a row up to August 2024"]


def test_empty_chart():
    assert control_chart(pd.Series([], dtype=float)).empty
    assert describe_signals(control_chart(pd.Series([], dtype=float))) == []


# --- rate ratio test -----------------------------------------------------------------------------

def test_rate_ratio_equal_rates():
    # 10 vs 10 over equal exposure: ratio 1, p = 1; Clopper-Pearson is symmetric about 1/2,
    # so the ratio interval satisfies low * high = 1.
    result = rate_ratio_test(10, 1, 10, 1)
    assert result.ratio == 1 and result.p_value == pytest.approx(1.0)
    assert result.ci_low * result.ci_high == pytest.approx(1.0)
    assert result.ci_low < 1 < result.ci_high and not result.significant()


def test_rate_ratio_unequal_exposure_exact_p():
    # a = 4 in 1 month, b = 2 in 2 months: ratio 4/(2/2) = 4. Given n = 6, a ~ Bin(6, 1/3):
    # P(k) * 729 = 64, 192, 240, 160, 60, 12, 1 for k = 0..6. Two-sided p = P(k) <= P(4) = 60/729,
    # i.e. k = 4, 5, 6: (60 + 12 + 1)/729 = 0.10014.
    result = rate_ratio_test(4, 1, 2, 2)
    assert result.ratio == 4
    assert result.p_value == pytest.approx(73 / 729)
    assert result.ci_low < 4 < result.ci_high


def test_rate_ratio_zero_in_one_period():
    # 5 vs 0 over equal exposure: p = 2 * 0.5**5 = 0.0625; ratio inf.
    # Clopper-Pearson lower bound for 5/5 is 0.025**(1/5) = 0.478176 -> ratio 0.478176/0.521824 = 0.91636
    result = rate_ratio_test(5, 1, 0, 1)
    assert math.isinf(result.ratio) and math.isinf(result.ci_high)
    assert result.p_value == pytest.approx(0.0625)
    assert result.ci_low == pytest.approx(0.025 ** 0.2 / (1 - 0.025 ** 0.2))
    mirror = rate_ratio_test(0, 1, 5, 1)
    assert mirror.ratio == 0 and mirror.ci_low == 0
    assert mirror.ci_high == pytest.approx((1 - 0.025 ** 0.2) / 0.025 ** 0.2)


def test_rate_ratio_both_zero():
    result = rate_ratio_test(0, 12, 0, 12)
    assert math.isnan(result.ratio) and result.p_value == 1.0
    assert (result.ci_low, result.ci_high) == (0.0, math.inf)


def test_rate_ratio_rejects_bad_input():
    with pytest.raises(ValueError):
        rate_ratio_test(-1, 1, 2, 1)
    with pytest.raises(ValueError):
        rate_ratio_test(1, 0, 2, 1)


# --- comparing periods ---------------------------------------------------------------------------

def test_compare_periods_significant_fall():
    # 0 vs 6 in equal months: p = 2 * 0.5**6 = 0.03125 < 0.05; down 100%.
    change = compare_periods(0, 6, 1, 1)
    assert change.verdict == "significant fall"
    assert change.pct_change == -100 and change.p_value == pytest.approx(0.03125)
    assert change.sentence == ("0 in the latest month against 6 in the previous month: "
                               "down 100%, a significant fall (p = 0.03).")


def test_compare_periods_big_percentage_but_not_significant():
    # 4 in a month vs 2 in the 2 months before (1 a month): monthly rate up 300%, but p = 73/729.
    change = compare_periods(4, 2, 1, 2)
    assert change.verdict == "no significant change"
    assert change.pct_change == pytest.approx(300)
    assert change.p_value == pytest.approx(73 / 729)
    assert change.sentence == ("4 in the latest month against 2 in the previous 2 months (1.0 a month): "
                               "the monthly rate is up 300%, not a significant change (p = 0.10).")


def test_compare_periods_from_zero():
    # 3 in a month vs 0 in 2 months: a ~ Bin(3, 1/3), p = P(3) = 1/27 = 0.037 (P(0..2) are larger).
    change = compare_periods(3, 0, 1, 2)
    assert change.pct_change is None and math.isinf(change.ratio)
    assert change.verdict == "significant rise"
    assert change.p_value == pytest.approx(1 / 27)


def test_format_p():
    assert [format_p(p) for p in (0.0004, 0.0042, 0.21)] == ["p < 0.001", "p = 0.004", "p = 0.21"]


# --- exceptions ----------------------------------------------------------------------------------

def _long(priority, ward, values, start="2023-01-01"):
    months = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame({"priority": priority, "ward_code": ward, "month": months, "count": values})


def test_exceptions_month_window_against_the_same_month_of_earlier_years():
    # 25 months Jan 2023 - Jan 2025: the January 2025 count is compared with January 2023 and
    # January 2024 (the same month of the two earlier years the frame holds).
    # Ward A: 0 in both Januaries, 5 every other month of 2023-24, then 6 in January 2025.
    #   a ~ Bin(6, 1/3) (1 month against 2): P(6) = 1/729 is the only outcome as unlikely, so
    #   p = 1/729, strength = log10(729).
    # Ward B: 5 every month: p = 1, no row.
    a = [0] + [5] * 11 + [0] + [5] * 11 + [6]
    monthly = pd.concat([_long("hate_crime", "A", a), _long("hate_crime", "B", [5] * 25)])
    result = exceptions(monthly)
    assert result["ward_code"].tolist() == ["A"]
    row = result.iloc[0]
    assert row["period_label"] == "January 2025"
    assert (row["observed"], row["expected"], row["baseline"], row["baseline_years"]) == (6, 0, 0, 2)
    assert row["p_value"] == pytest.approx(1 / 729)
    assert row["strength"] == pytest.approx(math.log10(729))
    assert row["direction"] == "above"
    assert row["sentence"] == ("Hate crime, A: 6 in January 2025 against none in the same months of "
                               "the 2 years before (p = 0.001).")


def test_a_winter_low_is_not_a_fall():
    # A strongly seasonal series: 100 a month in summer, 50 in winter, the same every year. The
    # January to March 2025 quarter is low against the previous 12 months (the old expectation)
    # but exactly as usual against the same quarters of 2022-2024: no exception.
    year = [50, 50, 50, 70, 90, 100, 100, 100, 90, 70, 60, 50]
    monthly = _long("asb", "A", year * 3 + [50, 50, 50], start="2022-01-01")
    assert exceptions(monthly, window="quarter").empty
    old_way = rate_ratio_test(150, 3, sum(year), 12)
    assert old_way.p_value < 0.001  # what the previous-12-months expectation would have flagged


def test_exceptions_fills_missing_months_and_sorts_by_strength():
    a = [0] + [5] * 11 + [0] + [5] * 11 + [6]
    full = _long("asb", "A", a)
    sparse = full[full["count"] > 0]  # zero months left out: must be read as zeros
    sparse = pd.concat([sparse, full.iloc[:1]])  # the first month fixes where the series start
    # Ward C: 10 a month for 24 months, then 1: expected 10 from the two Januaries (20).
    dropped = _long("asb", "C", [10] * 24 + [1])
    result = exceptions(pd.concat([sparse, dropped]))
    assert set(result["ward_code"]) == {"A", "C"}
    row_a = result.set_index("ward_code").loc["A"]
    assert row_a["p_value"] == pytest.approx(1 / 729)
    row_c = result.set_index("ward_code").loc["C"]
    assert row_c["expected"] == 10 and row_c["direction"] == "below"
    assert row_c["p_value"] == pytest.approx(rate_ratio_test(1, 1, 20, 2).p_value)
    assert result["strength"].is_monotonic_decreasing


def test_exceptions_quarter_window_uses_up_to_three_earlier_years():
    # Ward A: 4 a month for 48 months (2020-2023) then 0, 0, 0 in January to March 2024:
    # observed 0, baseline the same quarter of 2021, 2022 and 2023 (36), expected 12 a year.
    monthly = _long("drugs_alcohol", "A", [4] * 48 + [0, 0, 0], start="2020-01-01")
    result = exceptions(monthly, window="quarter")
    row = result.iloc[0]
    assert row["period_label"] == "January 2024 to March 2024"
    assert (row["observed"], row["expected"], row["baseline"], row["ratio"]) == (0, 12, 36, 0)
    assert row["p_value"] == pytest.approx(rate_ratio_test(0, 3, 36, 9).p_value)
    assert row["p_value"] < 0.001 and row["direction"] == "below"
    assert row["baseline_label"] == "the same months of the 3 years before"


def test_exceptions_latest_argument():
    # 40 in January 2025, which `latest` = December 2024 leaves out: December 2024 (3) against
    # December 2023 (2) is not significant.
    values = [2] * 16 + [3] * 8 + [40]
    assert exceptions(_long("weapons", "A", values), latest=pd.Timestamp("2024-12-01")).empty
    assert not exceptions(_long("weapons", "A", values)).empty


def test_exceptions_need_an_earlier_year_of_the_same_months():
    monthly = _long("exploitation", "R", [1] * 11 + [30])  # January to December 2023 only
    assert exceptions(monthly).empty


def test_exceptions_empty_input():
    empty = pd.DataFrame(columns=["priority", "ward_code", "month", "count"])
    assert exceptions(empty).empty

"""Is a change real or noise? Control charts, exact tests on counts and the exceptions report.

Pure functions on pandas objects; no Streamlit. Counts are judged with an exact conditional test
on the rate ratio or with a control chart (DESIGN.md), never with a bare percentage change.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from .priorities import PRIORITY_BY_KEY

ALPHA = 0.05
RUN_LENGTH = 8    # points in a row on one side of the centre line
TREND_LENGTH = 6  # points in a row each strictly above (or below) the one before
XMR_D2 = 1.128    # bias constant d2 for moving ranges of two points
CHART_COLUMNS = ["period", "count", "centre", "ucl", "lcl",
                 "beyond_limits", "run_of_8", "trend_of_6", "signal"]


# --- control charts ----------------------------------------------------------------------------

def _runs(values) -> list[tuple[int, int, object]]:
    """Maximal runs of equal consecutive values as (first index, last index, value)."""
    runs: list[tuple[int, int, object]] = []
    for i, v in enumerate(values):
        if runs and runs[-1][2] == v:
            runs[-1] = (runs[-1][0], i, v)
        else:
            runs.append((i, i, v))
    return runs


def _sides(count: np.ndarray, centre: float) -> np.ndarray:
    """+1 above the centre line, -1 below, 0 exactly on it."""
    return np.sign(count - centre).astype(int)


def _trend_runs(count: np.ndarray) -> list[tuple[int, int, int]]:
    """Rising (+1) or falling (-1) stretches as (first point, last point, direction)."""
    steps = np.sign(np.diff(count)).astype(int).tolist()  # step i goes from point i to i + 1
    return [(start, end + 1, d) for start, end, d in _runs(steps) if d != 0]


def control_chart(counts: pd.Series, kind: str = "c", baseline: slice | None = None) -> pd.DataFrame:
    """Control chart of counts per period (a sorted Series indexed by period start).

    kind "c": c-chart, centre = mean, limits = mean ± 3·sqrt(mean).
    kind "xmr": individuals chart, centre = mean, sigma = mean moving range / 1.128.
    Both lower limits are floored at 0 (a count cannot be negative). `baseline` (a slice of
    positions, e.g. slice(0, 24), or of period labels) chooses the points that set the centre
    and limits; by default all points do.

    Signals (each a boolean column; `signal` is any of them):
    - beyond_limits: count > ucl or count < lcl;
    - run_of_8: the point belongs to 8 or more consecutive points strictly on the same side of
      the centre; a point exactly on the centre line breaks a run;
    - trend_of_6: the point belongs to 6 or more consecutive points each strictly higher (or each
      strictly lower) than the one before, i.e. 5 successive rises or falls; a tie breaks a trend.
    """
    if kind not in ("c", "xmr"):
        raise ValueError(f"kind must be 'c' or 'xmr', not {kind!r}")
    if counts.empty:
        return pd.DataFrame(columns=CHART_COLUMNS)
    if baseline is None:
        base = counts
    elif all(v is None or pd.api.types.is_integer(v) for v in (baseline.start, baseline.stop)):
        base = counts.iloc[baseline]
    else:
        base = counts.loc[baseline]
    if base.empty:
        raise ValueError("the baseline holds no points")
    base = base.astype(float)
    centre = float(base.mean())
    if kind == "c":
        sigma = math.sqrt(centre)
    else:
        moving_range = base.diff().abs().mean()
        sigma = float(moving_range) / XMR_D2 if len(base) > 1 else float("nan")
    ucl, lcl = centre + 3 * sigma, max(0.0, centre - 3 * sigma)

    values = counts.to_numpy(dtype=float)
    run_of_8 = np.zeros(len(values), bool)
    for start, end, side in _runs(_sides(values, centre).tolist()):
        if side != 0 and end - start + 1 >= RUN_LENGTH:
            run_of_8[start:end + 1] = True
    trend_of_6 = np.zeros(len(values), bool)
    for start, end, _ in _trend_runs(values):
        if end - start + 1 >= TREND_LENGTH:
            trend_of_6[start:end + 1] = True
    beyond = (values > ucl) | (values < lcl)
    return pd.DataFrame({
        "period": counts.index, "count": counts.to_numpy(), "centre": centre, "ucl": ucl, "lcl": lcl,
        "beyond_limits": beyond, "run_of_8": run_of_8, "trend_of_6": trend_of_6,
        "signal": beyond | run_of_8 | trend_of_6,
    })


def _period_text(period, unit: str) -> str:
    ts = pd.Timestamp(period)
    return f"{ts:%B %Y}" if unit == "month" else f"{ts.day} {ts:%B %Y}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def describe_signals(chart: pd.DataFrame, unit: str = "month") -> list[str]:
    """Plain-English sentences for the signals on a `control_chart`, newest first.

    e.g. "December 2024 (412) is above the upper control limit (398.2)",
    "8 months in a row above the mean since March 2024" (a run still going at the last point;
    an ended run reads "from March 2024 to October 2024"), "6 months rising in a row up to June 2024".
    """
    if chart.empty:
        return []
    values = chart["count"].to_numpy(float)
    periods = list(chart["period"])
    last = len(values) - 1
    found: list[tuple[int, int, str]] = []  # (last point, order among same-point events, sentence)
    for i in np.flatnonzero(chart["beyond_limits"].to_numpy()):
        upper = values[i] > chart["ucl"].iat[i]
        limit = chart["ucl"].iat[i] if upper else chart["lcl"].iat[i]
        found.append((i, 0, f"{_period_text(periods[i], unit)} ({_number(values[i])}) is "
                            f"{'above the upper' if upper else 'below the lower'} control limit "
                            f"({limit:,.1f})"))
    centre = float(chart["centre"].iat[0])
    for start, end, side in _runs(_sides(values, centre).tolist()):
        n = end - start + 1
        if side != 0 and n >= RUN_LENGTH:
            where = "above" if side > 0 else "below"
            since = (f"since {_period_text(periods[start], unit)}" if end == last else
                     f"from {_period_text(periods[start], unit)} to {_period_text(periods[end], unit)}")
            found.append((end, 1, f"{n} {unit}s in a row {where} the mean {since}"))
    for start, end, direction in _trend_runs(values):
        n = end - start + 1
        if n >= TREND_LENGTH:
            found.append((end, 2, f"{n} {unit}s {'rising' if direction > 0 else 'falling'} in a row "
                                  f"up to {_period_text(periods[end], unit)}"))
    return [text for _, _, text in sorted(found, key=lambda f: (-f[0], f[1]))]


# --- tests on counts -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RateRatio:
    """Rate ratio (a per unit exposure over b per unit exposure) with an exact test and 95% CI."""
    count_a: int
    exposure_a: float
    count_b: int
    exposure_b: float
    ratio: float
    p_value: float
    confidence: float = 0.95

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.p_value < alpha

    @property
    def ci_low(self) -> float:
        return self._interval()[0]

    @property
    def ci_high(self) -> float:
        return self._interval()[1]

    def _interval(self) -> tuple[float, float]:
        # Computed on demand: most callers need only the p-value, and the exact interval costs
        # more than the test itself.
        n = self.count_a + self.count_b
        if n == 0:
            return 0.0, math.inf
        share = self.exposure_a / (self.exposure_a + self.exposure_b)
        ci = binomtest(self.count_a, n, share).proportion_ci(self.confidence, method="exact")
        return (_odds_to_ratio(ci.low, self.exposure_a, self.exposure_b),
                _odds_to_ratio(ci.high, self.exposure_a, self.exposure_b))


def _odds_to_ratio(share: float, exposure_a: float, exposure_b: float) -> float:
    return math.inf if share >= 1 else share / (1 - share) * exposure_b / exposure_a


def rate_ratio_test(count_a: int, exposure_a: float, count_b: int, exposure_b: float,
                    confidence: float = 0.95) -> RateRatio:
    """Exact conditional test of equal rates (Poisson counts a and b over exposures).

    Given n = a + b, a ~ Binomial(n, exposure_a / (exposure_a + exposure_b)) when the rates are
    equal; the p-value is scipy's two-sided binomtest, and the confidence interval of the rate ratio
    is the Clopper-Pearson interval of the binomial proportion π mapped through
    π / (1 - π) · exposure_b / exposure_a. Zeros: a > 0 = b gives ratio inf; both 0 gives ratio nan,
    p = 1 and the interval (0, inf).
    """
    a, b = int(count_a), int(count_b)
    if a < 0 or b < 0 or exposure_a <= 0 or exposure_b <= 0:
        raise ValueError("counts must be >= 0 and exposures > 0")
    n = a + b
    if n == 0:
        return RateRatio(a, exposure_a, b, exposure_b, math.nan, 1.0, confidence)
    result = binomtest(a, n, exposure_a / (exposure_a + exposure_b))
    ratio = math.inf if b == 0 else (a / exposure_a) / (b / exposure_b)
    return RateRatio(a, exposure_a, b, exposure_b, ratio, float(min(1.0, result.pvalue)), confidence)


def format_p(p: float) -> str:
    """'p < 0.001', 'p = 0.004', 'p = 0.21'."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


@dataclass(frozen=True)
class Change:
    """A change between two periods judged by the exact rate-ratio test."""
    count: int
    previous: int
    current_months: int
    previous_months: int
    pct_change: float | None  # change in the monthly rate, %; None when previous is 0
    ratio: float
    p_value: float
    verdict: str
    sentence: str


def _months(n: int) -> str:
    return "month" if n == 1 else f"{n} months"


def compare_periods(current: int, previous: int, current_months: int = 1, previous_months: int = 1,
                    alpha: float = ALPHA) -> Change:
    """Compare a count with an earlier one, allowing for periods of different lengths.

    pct_change is the change in the rate per month (the plain percentage change of the counts when
    both periods have the same length). verdict is "significant rise", "significant fall" or
    "no significant change" by `rate_ratio_test` at `alpha`.
    """
    test = rate_ratio_test(current, current_months, previous, previous_months)
    pct = None if previous == 0 else (test.ratio - 1) * 100
    if test.p_value >= alpha:
        verdict = "no significant change"
    else:
        verdict = "significant rise" if test.ratio > 1 else "significant fall"
    same_length = current_months == previous_months
    text = (f"{current:,} in the latest {_months(current_months)} "
            f"against {previous:,} in the previous {_months(previous_months)}")
    if not same_length:
        text += f" ({previous / previous_months:,.1f} a month)"
    if pct is None:
        change = "up from none" if current else "none in either"
    elif round(pct) == 0:
        change = "no change" if same_length else "the same monthly rate"
    else:
        change = f"{'up' if pct > 0 else 'down'} {abs(pct):,.0f}%"
        if not same_length:
            change = f"the monthly rate is {change}"
    judged = ("a " + verdict) if verdict != "no significant change" else "not a significant change"
    sentence = f"{text}: {change}, {judged} ({format_p(test.p_value)})."
    return Change(int(current), int(previous), current_months, previous_months, pct, test.ratio,
                  test.p_value, verdict, sentence)


# --- exceptions report ---------------------------------------------------------------------------

EXCEPTION_COLUMNS = ["priority", "ward_code", "period_label", "observed", "expected", "baseline",
                     "baseline_years", "baseline_label", "ratio", "p_value", "direction", "strength",
                     "sentence"]
BASELINE_YEARS = 3  # the seasonal baseline: the same months of up to this many earlier years
SEASONAL_METHOD = ("Each count is compared with the same months of up to three earlier years (a "
                   "seasonal baseline, so a winter is compared with winters) by an exact Poisson "
                   "rate-ratio test; only complete months count.")


def _period_label(months: pd.DatetimeIndex) -> str:
    first, last = months[0], months[-1]
    return f"{last:%B %Y}" if first == last else f"{first:%B %Y} to {last:%B %Y}"


def seasonal_baseline(first, latest, window: str = "month") -> tuple[pd.DatetimeIndex, list[int]]:
    """The months of the window ending at `latest` and the earlier years (1, 2, ... up to
    BASELINE_YEARS) whose same months lie at or after `first`."""
    months_in_window = {"month": 1, "quarter": 3}.get(window)
    if months_in_window is None:
        raise ValueError("window must be 'month' or 'quarter'")
    latest = pd.Timestamp(latest).to_period("M").to_timestamp()
    current = pd.date_range(latest - pd.DateOffset(months=months_in_window - 1), latest, freq="MS")
    first = pd.Timestamp(first).to_period("M").to_timestamp()
    years = [k for k in range(1, BASELINE_YEARS + 1) if current[0] - pd.DateOffset(years=k) >= first]
    return current, years


def baseline_words(years: list[int]) -> str:
    """'the same months a year earlier' or 'the same months of the 3 years before'."""
    return ("the same months a year earlier" if len(years) == 1
            else f"the same months of the {len(years)} years before")


def exceptions(monthly: pd.DataFrame, latest: pd.Timestamp | None = None, window: str = "month",
               alpha: float = ALPHA, ward_names: dict | None = None) -> pd.DataFrame:
    """Priority-by-ward counts that moved more than chance allows against the season, strongest first.

    `monthly` has columns priority, ward_code, month, count; missing months are taken as 0 from
    the earliest month in the frame, which the caller makes the first month that may be compared.
    For each (priority, ward_code), the latest month (window="month") or latest 3 months
    (window="quarter") ending at `latest` (default: the latest month in the frame) is tested
    against the same months of up to BASELINE_YEARS earlier years within the frame (a seasonal
    baseline) with `rate_ratio_test`; `expected` is the baseline's average year, `baseline` its
    total over `baseline_years` years. Rows are kept when p < alpha; strength = -log10(p). Empty when no earlier year of the
    same months is in the frame.
    """
    if monthly.empty:
        seasonal_baseline(pd.Timestamp("2000-01-01"), pd.Timestamp("2000-01-01"), window)  # checks window
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    frame = monthly.assign(month=pd.to_datetime(monthly["month"]).dt.to_period("M").dt.to_timestamp())
    latest = (frame["month"].max() if latest is None
              else pd.Timestamp(latest).to_period("M").to_timestamp())
    current, years = seasonal_baseline(frame["month"].min(), latest, window)
    if not years:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    before = pd.DatetimeIndex([m - pd.DateOffset(years=k) for k in years for m in current])
    wanted = current.append(before)
    label_of = ward_names or {}
    period_label = _period_label(current)
    words = baseline_words(years)
    rows = []
    for (priority, ward), group in frame.groupby(["priority", "ward_code"], dropna=False, sort=True):
        series = group.groupby("month")["count"].sum().reindex(wanted, fill_value=0)
        observed, baseline = int(series[current].sum()), int(series[before].sum())
        test = rate_ratio_test(observed, len(current), baseline, len(before))
        if test.p_value >= alpha:
            continue
        expected = baseline / len(years)
        direction = "above" if observed >= expected else "below"
        name = PRIORITY_BY_KEY[priority].label if priority in PRIORITY_BY_KEY else str(priority)
        place = label_of.get(ward, ward) if pd.notna(ward) else "whole area"
        if baseline == 0:
            compared = f"none in {words} ({format_p(test.p_value)})"
        else:
            times = "the same as" if round(test.ratio, 1) == 1 else f"{test.ratio:,.1f} times"
            compared = (f"{expected:,.1f} expected from {words} ({times} the usual rate, "
                        f"{format_p(test.p_value)})")
        rows.append({"priority": priority, "ward_code": ward, "period_label": period_label,
                     "observed": observed, "expected": expected, "baseline": baseline,
                     "baseline_years": len(years), "baseline_label": words, "ratio": test.ratio, "p_value": test.p_value,
                     "direction": direction, "strength": -math.log10(max(test.p_value, 1e-300)),
                     "sentence": f"{name}, {place}: {observed:,} in {period_label} against {compared}."})
    result = pd.DataFrame(rows, columns=EXCEPTION_COLUMNS)
    return result.sort_values("strength", ascending=False, kind="stable").reset_index(drop=True)


# --- tests on proportions --------------------------------------------------------------------------

@dataclass(frozen=True)
class ProportionTest:
    """Two independent proportions (x_a of n_a against x_b of n_b) compared by the z-test."""
    x_a: int
    n_a: int
    x_b: int
    n_b: int
    p_value: float

    @property
    def share_a(self) -> float:
        return self.x_a / self.n_a

    @property
    def share_b(self) -> float:
        return self.x_b / self.n_b

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.p_value < alpha

    def verdict(self, higher: str = "significantly higher", lower: str = "significantly lower",
                same: str = "not significantly different", alpha: float = ALPHA) -> str:
        """Words for the comparison of a against b: `higher`, `lower` or `same`."""
        if not self.significant(alpha):
            return same
        return higher if self.share_a > self.share_b else lower


def compare_proportions(x_a: int, n_a: int, x_b: int, n_b: int) -> ProportionTest | None:
    """Whether x_a / n_a differs from x_b / n_b: the two-sided two-proportion z-test with the
    pooled proportion (statsmodels' proportions_ztest; the same as the chi-squared test of the 2x2
    table without continuity correction). None when either n is 0."""
    if n_a <= 0 or n_b <= 0:
        return None
    if not (0 <= x_a <= n_a and 0 <= x_b <= n_b):
        raise ValueError("each count must lie between 0 and its total")
    if x_a * n_b == x_b * n_a:  # equal shares (all-zero or all-one included): nothing to test
        return ProportionTest(int(x_a), int(n_a), int(x_b), int(n_b), 1.0)
    _, p_value = proportions_ztest([x_a, x_b], [n_a, n_b])
    p_value = float(p_value) if math.isfinite(p_value) else 1.0
    return ProportionTest(int(x_a), int(n_a), int(x_b), int(n_b), min(1.0, p_value))


def proportion_interval(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion x / n ((nan, nan) when n is 0)."""
    if n <= 0:
        return math.nan, math.nan
    low, high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)

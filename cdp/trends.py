"""Trends and exceptions: monthly and weekly series per priority and ward, control charts, the
exceptions report, seasonal and weekly rhythm, and the plotly figures that draw them.

Counts are aggregated in DuckDB (GROUP BY month or week and ward, one filtered count per priority)
and only the small grouped result comes into pandas. Every query builds its WHERE clause through
`filters.where`, so every shared filter applies. The statistics come from `cdp.stats`.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from scipy.stats import binom

from . import counting, stats, targets
from .disclosure import TrueValues
from . import filters as flt
from .charts import PALETTE
from . import markup
from .priorities import PRIORITY_BY_KEY, count_condition, counted_unit
from .queries import data_months, ward_names

ALL_AREA = "all"          # the series of every counted incident the filters select, wards summed
WEEKS_A_YEAR = 52         # "the same week last year" is 52 weeks earlier, so weekdays line up
CONTEXT_MONTHS = 12       # months shown before the selected period at least
LIMIT_BASES = {"all": "All points shown", "before": "The points before the selected period",
               "baseline": "The plan's baseline year"}
Baseline = tuple[date, date]  # the plan's baseline year: first and last month (cdp.targets)


def plan_baseline(baseline: Baseline | None = None) -> Baseline:
    """`baseline`, else the targets file's baseline year."""
    if baseline is not None:
        return baseline
    config = targets.current()
    return config.baseline_start, config.baseline_end
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AREA_COLOURS = [PALETTE["primary"], PALETTE["accent"], PALETTE["good"], *px.colors.qualitative.Dark24]


# --- queries -------------------------------------------------------------------------------------

def _priority_counts(keys: tuple[str, ...]) -> str:
    return ", ".join(f"count(*) FILTER (WHERE {count_condition(k)}) AS {k}" for k in keys)


def _areas(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> list[str]:
    """Every ward the filters allow (a ward with no incidents is a real run of zeros)."""
    return list(f.wards) if f.wards else list(ward_names(con))


def _long(wide: pd.DataFrame, keys: tuple[str, ...], areas: list[str], periods: pd.DatetimeIndex,
          period_column: str) -> pd.DataFrame:
    """A wide (ward_code, period, one column per priority) result as zero-filled long rows."""
    index = pd.MultiIndex.from_product([areas, periods], names=["ward_code", period_column])
    wide = wide.assign(**{period_column: pd.to_datetime(wide[period_column])})
    full = wide.set_index(["ward_code", period_column])[list(keys)].reindex(index, fill_value=0)
    out = full.rename_axis(columns="priority").stack().rename("count").reset_index()
    out["count"] = out["count"].astype(int)
    return out[["priority", "ward_code", period_column, "count"]]


def monthly_counts(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> pd.DataFrame:
    """Counted incidents per priority, ward and month, from the store's first month to `f.end`.

    Long rows: priority, ward_code, month, count; zero-filled. Counted incidents only (they are
    in a ward, cdp.counting). Each priority counts its own kind (ASB incidents or crimes). The
    period of `f` is not applied (the chart shows history), every other filter is.
    """
    first, _ = data_months(con)
    keys = tuple(f.priorities)
    if first is None or f.end < first:
        return pd.DataFrame(columns=["priority", "ward_code", "month", "count"])
    condition, params = flt.where(f, period=False)
    wide = con.execute(f"""
        SELECT ward_code, month, {_priority_counts(keys)}
        FROM incidents WHERE {condition} AND month BETWEEN ? AND ?
        GROUP BY ALL""", params + [first, f.end]).df()
    months = pd.date_range(pd.Timestamp(first), pd.Timestamp(f.end), freq="MS")
    return _long(wide, keys, _areas(con, f), months, "month")


def full_weeks(f: flt.Filters) -> tuple[date, date] | None:
    """Mondays of the first and last whole weeks inside the selected period (None if there are none)."""
    end = flt.month_add(f.end, 1)  # exclusive
    first = f.start + timedelta(days=(7 - f.start.weekday()) % 7)
    last = end - timedelta(days=7)
    last -= timedelta(days=last.weekday())
    return (first, last) if first <= last else None


def weekly_counts(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> pd.DataFrame:
    """Counted incidents with an exact date per priority, ward and week (Monday to Sunday).

    Whole weeks inside the selected period and the 52 weeks before the first of them (for the
    same week last year). Rows whose date is known only to the month are left out. Long rows:
    priority, ward_code, week, count; zero-filled.
    """
    weeks = full_weeks(f)
    keys = tuple(f.priorities)
    if weeks is None:
        return pd.DataFrame(columns=["priority", "ward_code", "week", "count"])
    start = weeks[0] - timedelta(weeks=WEEKS_A_YEAR)
    stop = weeks[1] + timedelta(days=7)
    condition, params = flt.where(f, period=False)
    wide = con.execute(f"""
        SELECT ward_code, CAST(date_trunc('week', occurred_at) AS DATE) AS week, {_priority_counts(keys)}
        FROM incidents
        WHERE {condition} AND time_precision IN ('day', 'datetime')
          AND month BETWEEN ? AND ? AND occurred_at >= ? AND occurred_at < ?
        GROUP BY ALL""", params + [start.replace(day=1), f.end, start, stop]).df()
    all_weeks = pd.date_range(pd.Timestamp(start), pd.Timestamp(weeks[1]), freq="7D")
    return _long(wide, keys, _areas(con, f), all_weeks, "week")


def date_precision(con: duckdb.DuckDBPyConnection, f: flt.Filters, key: str | None = None) -> dict[str, int]:
    """How many incidents the filters select in the period (counted under priority `key` if given),
    by how exactly their time is known: {'month': .., 'day': .., 'datetime': .., 'total': ..}."""
    condition, params = flt.where(f, priority=key)
    rows = dict(con.execute(f"""SELECT time_precision, count(*) FROM incidents WHERE {condition}
                                GROUP BY time_precision""", params).fetchall())
    out = {p: int(rows.get(p, 0)) for p in ("month", "day", "datetime")}
    out["total"] = sum(out.values())
    return out


def weekday_hour(con: duckdb.DuckDBPyConnection, f: flt.Filters, key: str) -> pd.DataFrame:
    """Counted incidents of priority `key` with an exact time in the period, by day of week (rows,
    Monday first) and hour of day (columns 0-23); zero-filled."""
    condition, params = flt.where(f, priority=key)
    rows = con.execute(f"""
        SELECT isodow(occurred_at) - 1 AS day, hour(occurred_at) AS hour, count(*) AS n
        FROM incidents WHERE {condition} AND time_precision = 'datetime'
        GROUP BY ALL""", params).df()
    grid = np.zeros((7, 24), dtype=int)
    grid[rows["day"].to_numpy(int), rows["hour"].to_numpy(int)] = rows["n"].to_numpy(int)
    return pd.DataFrame(grid, index=pd.Index(WEEKDAYS, name="day"), columns=pd.Index(range(24), name="hour"))


def exception_scope(con: duckdb.DuckDBPyConnection, f: flt.Filters, window: str = "month"
                    ) -> tuple[date | None, str]:
    """The first month the exceptions ending at `f.end` may use, and why they cannot be tested
    ('' when they can).

    The latest month or quarter and its seasonal baseline (the same months of earlier years,
    stats.seasonal_baseline) must be complete months (cdp.counting): the months used are the run
    of complete months that ends at `f.end`.
    """
    complete = set(counting.months(con).complete_months())
    if f.end not in complete:
        missing = counting.months(con).missing(f.end)
        return None, (f"{f.end:%B %Y} is not complete ({', '.join(missing) or 'no source'} "
                      f"{'does' if len(missing) == 1 else 'do'} not cover it), so it is not compared")
    first = f.end
    while flt.month_add(first, -1) in complete:
        first = flt.month_add(first, -1)
    current, years = stats.seasonal_baseline(first, f.end, window)
    if pd.Timestamp(first) > current[0]:
        return None, f"the months of the latest {window} to {f.end:%B %Y} are not all complete"
    if not years:
        return None, (f"there is no earlier year of the same months to compare with (the complete "
                      f"months run from {first:%B %Y})")
    return max(first, (current[0] - pd.DateOffset(years=max(years))).date()), ""


def exception_starts(con: duckdb.DuckDBPyConnection, f: flt.Filters, window: str = "month",
                     keys: tuple[str, ...] | None = None) -> dict[str, tuple[date | None, str]]:
    """For each priority: the first month its exceptions ending at `f.end` may use, or None and
    why they cannot be tested.

    Within `exception_scope`'s complete months, a priority's window and its seasonal baseline
    must also be counted with one coverage (cdp.counting: a year when police.uk alone was loaded
    cannot be the baseline of a year counted from partner extracts)."""
    keys = tuple(keys if keys is not None else f.priorities)
    first, reason = exception_scope(con, f, window)
    if first is None:
        return {k: (None, reason) for k in keys}
    months = counting.months(con)
    out = {}
    for key in keys:
        levels = months.coverage(key, first, f.end).by_month
        start = f.end
        while flt.month_add(start, -1) >= first and levels.get(flt.month_add(start, -1)) == levels[f.end]:
            start = flt.month_add(start, -1)
        current, years = stats.seasonal_baseline(start, f.end, window)
        if levels[f.end] == "unavailable":
            out[key] = (None, "the loaded data cannot identify it")
        elif pd.Timestamp(start) > current[0] or not years:
            out[key] = (None, f"its coverage changes in {start:%B %Y}, so no earlier year of the same "
                              f"months is counted the same way")
        else:
            out[key] = (max(first, (current[0] - pd.DateOffset(years=max(years))).date()), "")
    return out


def exception_counts(con: duckdb.DuckDBPyConnection, f: flt.Filters, keys: tuple[str, ...] | None = None,
                     window: str = "month") -> pd.DataFrame:
    """Monthly counts per priority × ward from the first month `exception_starts` allows for each
    priority to `f.end`, in ONE grouped query.

    Long rows: priority, ward_code, month, count. When no wards are chosen, each priority also has
    whole-area rows (ward_code missing, from a grouping set). A zero row at each priority's first
    month fixes where its series start, so months with nothing are zeros. Priorities that cannot
    be tested have no rows.
    """
    columns = ["priority", "ward_code", "month", "count"]
    starts = {k: start for k, (start, _) in exception_starts(con, f, window, keys).items() if start}
    if not starts:
        return pd.DataFrame(columns=columns)
    tested = tuple(starts)
    condition, params = flt.where(f, period=False)
    sets = "(ward_code, month)" + ("" if f.wards else ", (month)")
    wide = con.execute(f"""
        SELECT CASE WHEN grouping(ward_code) = 1 THEN NULL ELSE ward_code END AS ward_code,
               month, {_priority_counts(tested)}
        FROM incidents WHERE {condition} AND month BETWEEN ? AND ?
        GROUP BY GROUPING SETS ({sets})""", params + [min(starts.values()), f.end]).df()
    long = wide.melt(id_vars=["ward_code", "month"], value_vars=list(tested), var_name="priority",
                     value_name="count")
    long["month"] = pd.to_datetime(long["month"])
    first = long["priority"].map({k: pd.Timestamp(v) for k, v in starts.items()})
    long = long[long["month"] >= first]
    areas = long.drop_duplicates(["priority", "ward_code"])[["priority", "ward_code"]]
    anchor = areas.assign(month=areas["priority"].map({k: pd.Timestamp(v) for k, v in starts.items()}),
                          count=0)
    return pd.concat([long[columns], anchor[columns]], ignore_index=True)


def seasonal_exceptions(counts: pd.DataFrame, latest, window: str = "month",
                        ward_names: dict | None = None) -> pd.DataFrame:
    """`stats.exceptions` of `exception_counts` rows, each priority against its own seasonal
    baseline (its series start where `exception_starts` says), screened by
    `exception_candidates`; strongest first."""
    tables = [stats.exceptions(exception_candidates(rows, latest, window), latest=latest, window=window,
                               ward_names=ward_names)
              for _, rows in counts.groupby("priority", sort=False)]
    tables = [t for t in tables if not t.empty]
    if not tables:
        return pd.DataFrame(columns=stats.EXCEPTION_COLUMNS)
    return (pd.concat(tables, ignore_index=True).sort_values("strength", ascending=False, kind="stable")
            .reset_index(drop=True))


def exception_candidates(counts: pd.DataFrame, latest, window: str = "month",
                         alpha: float = stats.ALPHA) -> pd.DataFrame:
    """The rows of `counts` (as for `stats.exceptions`) for the priority-ward pairs that
    `stats.exceptions` might report; the others are dropped, so it gives the same table faster.

    `stats.exceptions` spends most of its time on the exact test of every pair, most of which are
    unremarkable. A pair is dropped only when it certainly is not reported: the tail of the
    binomial on the side of its count (never more than the two-sided p-value of the exact test)
    is at least `alpha`.
    """
    if counts.empty:
        return counts
    month = pd.to_datetime(counts["month"]).dt.to_period("M").dt.to_timestamp()
    current, years = stats.seasonal_baseline(month.min(), latest, window)
    if not years:
        return counts.iloc[0:0]
    before = pd.DatetimeIndex([m - pd.DateOffset(years=k) for k in years for m in current])
    group = counts.groupby(["priority", "ward_code"], dropna=False, sort=False).ngroup().to_numpy()
    values = counts["count"].to_numpy(np.int64)
    n = group.max() + 1
    observed = np.bincount(group, weights=values * month.isin(current).to_numpy(), minlength=n)
    baseline = np.bincount(group, weights=values * month.isin(before).to_numpy(), minlength=n)
    total = observed + baseline
    share = 1 / (1 + len(years))
    mode = np.floor((total + 1) * share)
    tail = np.where(observed >= mode, binom.sf(observed - 1, total, share), binom.cdf(observed, total, share))
    maybe = (total > 0) & (tail < alpha)
    return counts[maybe[group]]


def exceptions_table(con: duckdb.DuckDBPyConnection, f: flt.Filters, window: str = "month",
                     keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Priority × ward counts in the latest month (window="month") or quarter ("quarter") ending at
    `f.end` that are significantly above or below the same months of earlier years (a seasonal
    baseline, exact rate-ratio test); strongest first. Priorities `exception_starts` says cannot
    be tested are left out.

    Columns are those of `stats.exceptions` plus priority_label, ward (the ward's name, or
    "Whole area") and p (the p-value in words). `keys` limits the priorities (default: `f`'s).
    """
    counts = exception_counts(con, f, keys, window)
    names = ward_names(con)
    table = seasonal_exceptions(counts, pd.Timestamp(f.end), window, names)
    table.insert(1, "priority_label", [PRIORITY_BY_KEY[k].label for k in table["priority"]])
    table.insert(3, "ward", [names.get(w, w) if isinstance(w, str) else "Whole area"
                             for w in table["ward_code"]])
    table["p"] = [stats.format_p(p) for p in table["p_value"]]
    return table


# --- shaping series ------------------------------------------------------------------------------

def rolling_total(counts: pd.Series, months: int = 12, figures: TrueValues | None = None) -> pd.Series:
    """Sum of the last `months` values at each point; missing until `months` values exist.

    As `figures` publishes them (default: true values): each total rounded on its own from its
    true value, with the months it sums as its parts (so it never fixes a "<5" month; withheld,
    missing, when every rounding would).
    """
    totals = counts.astype(float).rolling(months, min_periods=months).sum()
    if figures is None or not figures.restricted:
        return totals
    values = counts.to_numpy()
    shown = [np.nan if pd.isna(t) else figures.total(t, values[max(i - months + 1, 0):i + 1])
             for i, t in enumerate(totals)]
    return pd.Series([np.nan if v is None else v for v in shown], index=counts.index, dtype=float)


def area_series(counts: pd.DataFrame, key: str, areas: list[str] | None) -> dict[str, pd.Series]:
    """One zero-filled series per area for priority `key` from `monthly_counts`/`weekly_counts`
    rows: each ward in `areas`, or, when `areas` is None, the whole area (every ward and the
    incidents without one, summed) under ALL_AREA."""
    period = "month" if "month" in counts.columns else "week"
    rows = counts[counts["priority"] == key]
    if areas is None:
        return {ALL_AREA: rows.groupby(period)["count"].sum().sort_index()}
    return {area: rows[rows["ward_code"] == area].set_index(period)["count"].sort_index()
            for area in areas}


def published_series(counts: pd.DataFrame, key: str, areas: list[str] | None,
                     figures: TrueValues | None = None) -> dict[str, pd.Series]:
    """`area_series` as `figures` publishes it (default: true values, as floats): each ward's
    counts published; the whole area's, totals of the wards, rounded on their own with the
    wards' counts as their parts."""
    figures = figures or TrueValues()
    series = area_series(counts, key, areas)
    if areas is not None or not figures.restricted:
        return {area: figures.counts(values) for area, values in series.items()}
    period = "month" if "month" in counts.columns else "week"
    rows = counts[counts["priority"] == key]
    parts = rows.groupby(period)["count"].agg(list)
    whole = series[ALL_AREA]
    shown = [figures.total(n, parts.get(p)) for p, n in whole.items()]
    return {ALL_AREA: pd.Series([np.nan if v is None else v for v in shown], index=whole.index, dtype=float)}


def chart_start(f: flt.Filters, first: date, baseline: Baseline | None = None) -> date:
    """Where the monthly charts begin: early enough to show the plan's baseline year (the
    targets file's) and at least 12 months before the selected period, but not before the data."""
    return max(first, min(plan_baseline(baseline)[0], flt.month_add(f.start, -CONTEXT_MONTHS)))


def monthly_series(counts: pd.DataFrame, key: str, f: flt.Filters, areas: list[str] | None = None,
                   figures: TrueValues | None = None, baseline: Baseline | None = None) -> pd.DataFrame:
    """The monthly series the trend chart draws for priority `key`, one block of rows per area.

    Columns: area, month, count, same_month_last_year, rolling_12_months, in_period. Months run from
    `chart_start` to `f.end`; the same month last year and the rolling total are missing where the
    data does not reach back far enough. `counts` is `monthly_counts`' output. Every figure is as
    `figures` publishes it (default: true values).
    """
    columns = ["area", "month", "count", "same_month_last_year", "rolling_12_months", "in_period"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    first = counts["month"].min().date()
    show_from = pd.Timestamp(chart_start(f, first, baseline))
    published = published_series(counts, key, areas, figures)
    for area, series in area_series(counts, key, areas).items():
        shown = published[area]
        frame = pd.DataFrame({
            "area": area, "month": series.index, "count": shown.to_numpy(),
            "same_month_last_year": shown.shift(12).to_numpy(),
            "rolling_12_months": rolling_total(series, 12, figures).to_numpy()})
        frames.append(frame[frame["month"] >= show_from])
    out = pd.concat(frames, ignore_index=True)
    out["in_period"] = out["month"].between(pd.Timestamp(f.start), pd.Timestamp(f.end))
    return out[columns]


def weekly_series(counts: pd.DataFrame, key: str, f: flt.Filters, first_month: date,
                  areas: list[str] | None = None, figures: TrueValues | None = None) -> pd.DataFrame:
    """Whole weeks of the selected period for priority `key` with the same week 52 weeks earlier
    (missing where that week starts before the data, `first_month`), as `figures` publishes them.
    Columns: area, week, count, same_week_last_year."""
    columns = ["area", "week", "count", "same_week_last_year"]
    weeks = full_weeks(f)
    if counts.empty or weeks is None:
        return pd.DataFrame(columns=columns)
    frames = []
    for area, shown in published_series(counts, key, areas, figures).items():
        series = shown
        last_year = shown.shift(WEEKS_A_YEAR)
        last_year[last_year.index - pd.Timedelta(weeks=WEEKS_A_YEAR) < pd.Timestamp(first_month)] = np.nan
        frames.append(pd.DataFrame({"area": area, "week": series.index, "count": shown.to_numpy(),
                                    "same_week_last_year": last_year.to_numpy()}))
    out = pd.concat(frames, ignore_index=True)
    return out.loc[out["week"] >= pd.Timestamp(weeks[0]), columns].reset_index(drop=True)


def control_series(counts: pd.DataFrame, key: str, area: str, f: flt.Filters, first_month: date,
                   baseline: Baseline | None = None) -> pd.Series:
    """The counts a control chart plots for priority `key` in `area` (a ward code or ALL_AREA):
    from `monthly_counts`, the months from `chart_start` to `f.end`; from `weekly_counts`, the weeks
    that start after the data does (`first_month`) up to the last whole week of the period."""
    series = area_series(counts, key, None if area == ALL_AREA else [area])[area]
    if "month" in counts.columns:
        return series[series.index >= pd.Timestamp(chart_start(f, first_month, baseline))]
    return series[series.index >= pd.Timestamp(first_month)]


def limits_baseline(basis: str, periods: pd.DatetimeIndex, f: flt.Filters,
                    baseline: Baseline | None = None) -> slice | None:
    """The control-chart points that set the centre and limits for `basis` (see LIMIT_BASES), as a
    slice of period labels; None for all points. ValueError when no shown point qualifies."""
    if basis == "all":
        return None
    if basis == "before":
        lo, hi = periods.min(), pd.Timestamp(f.start) - pd.Timedelta(days=1)
    elif basis == "baseline":
        start, end = plan_baseline(baseline)
        lo, hi = pd.Timestamp(start), pd.Timestamp(flt.month_add(end, 1)) - pd.Timedelta(days=1)
    else:
        raise ValueError(f"basis must be one of {', '.join(LIMIT_BASES)}")
    inside = periods[(periods >= lo) & (periods <= hi)]
    if len(inside) < 2:
        raise ValueError(f"{LIMIT_BASES[basis].lower()} holds too few points for control limits")
    return slice(inside.min(), inside.max())


def month_of_year(counts: pd.DataFrame, keys: tuple[str, ...], figures: TrueValues | None = None) -> pd.DataFrame:
    """Seasonal profile per priority over all months in `counts` (whole area): the average count
    in each calendar month and it as an index (the priority's average month = 100). For a
    restricted viewer (`figures`) the averages are of the published monthly totals, and a
    priority with a month that is not publishable is left out.

    Columns: priority, month_number, month_name, months (how many of that calendar month are
    averaged), average, index.
    """
    columns = ["priority", "month_number", "month_name", "months", "average", "index"]
    rows = counts[counts["priority"].isin(keys)]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    if figures is not None and figures.restricted:
        published = []
        for key in keys:
            shown = published_series(rows, key, None, figures)[ALL_AREA]
            if len(shown) and figures.publishable(*shown):
                published.append(pd.DataFrame({"priority": key, "month": shown.index, "count": shown.to_numpy()}))
        rows = pd.concat(published, ignore_index=True) if published else rows.iloc[0:0]
        if rows.empty:
            return pd.DataFrame(columns=columns)
    whole = rows.groupby(["priority", "month"], sort=False)["count"].sum().reset_index()
    whole["month_number"] = whole["month"].dt.month
    profile = (whole.groupby(["priority", "month_number"], sort=False)["count"]
               .agg(average="mean", months="size").reset_index())
    overall = profile.groupby("priority")["average"].transform("mean")
    profile["index"] = (profile["average"] / overall * 100).where(overall > 0)
    profile["month_name"] = [MONTH_NAMES[m - 1] for m in profile["month_number"]]
    profile["priority"] = pd.Categorical(profile["priority"], categories=list(keys), ordered=True)
    profile = profile.sort_values(["priority", "month_number"]).reset_index(drop=True)
    profile["priority"] = profile["priority"].astype(str)
    return profile[columns]


def board_exceptions(table: pd.DataFrame, figures: TrueValues) -> pd.DataFrame:
    """The exceptions table for a restricted viewer (`figures`): only the rows whose counts (the
    period's and the earlier years') are all publishable, with the count published and the test
    as a verdict; the expected count, the ratio and the exact p-value are left out. Columns:
    priority_label, ward, period_label, observed, direction, significance, sentence.
    """
    rows = []
    for row in table.itertuples():
        if not figures.publishable(row.observed, row.baseline):
            continue
        shown = figures.text(row.observed)
        significance = (f"significant (p < {stats.ALPHA})" if row.p_value < stats.ALPHA
                        else "not significant")
        sentence = (f"{row.priority_label}, {row.ward}: {shown} in {row.period_label}, "
                    f"{row.direction} {row.baseline_label} ({significance}).")
        rows.append({"priority_label": row.priority_label, "ward": row.ward,
                     "period_label": row.period_label, "observed": shown, "direction": row.direction,
                     "significance": significance, "sentence": sentence})
    return pd.DataFrame(rows, columns=["priority_label", "ward", "period_label", "observed", "direction",
                                       "significance", "sentence"])


# --- figures -------------------------------------------------------------------------------------

def _band(x0, x1, label: str, colour: str, opacity: float) -> tuple[dict, dict]:
    """A shaded band of time over the whole plot and its label (a layout shape and annotation)."""
    shape = {"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
             "fillcolor": colour, "opacity": opacity, "line": {"width": 0}, "layer": "below", "name": label}
    note = {"text": label, "xref": "x", "yref": "paper", "x": x0, "y": 1, "xanchor": "left",
            "yanchor": "top", "showarrow": False, "font": {"size": 11, "color": "#444"}}
    return shape, note


def _half_month(ts) -> pd.Timestamp:
    return pd.Timestamp(ts) - pd.Timedelta(days=15)


def area_name(area: str, names: dict[str, str]) -> str:
    """What users see for an area: the ward's name; 'Whole area' for ALL_AREA unless `names` says
    otherwise (e.g. 'Chosen wards together')."""
    if area in names:
        return names[area]
    if area == ALL_AREA:
        return "Whole area"
    return area


def _line(x, y, name: str, colour: str, group: str, hover: str, *, dash: str = "solid", markers: bool = False,
          legend: bool = True, axes: tuple[str, str] = ("x", "y")) -> dict:
    return {"type": "scatter", "x": x, "y": y, "name": name, "legendgroup": group, "showlegend": legend,
            "mode": "lines+markers" if markers else "lines", "marker": {"size": 4},
            "line": {"color": colour, "width": 2 if dash == "solid" else 1.5, "dash": dash},
            "hovertemplate": hover, "xaxis": axes[0], "yaxis": axes[1]}


# Built as one figure from dicts rather than with make_subplots/add_trace: plotly validates every
# add_* call, which made six trend charts cost most of a rerun.
def monthly_figure(series: pd.DataFrame, title: str, f: flt.Filters, names: dict[str, str],
                   baseline: Baseline | None = None, baseline_label: str | None = None) -> go.Figure:
    """Monthly counts (solid) with the same months last year (dotted) over the selected period, and
    the rolling 12-month total below (a diamond marks the baseline year's total); the plan's
    baseline year (default: the targets file's, labelled "Baseline 2020/21") and the selected
    period shaded."""
    if baseline is None:
        config = targets.current()
        baseline = (config.baseline_start, config.baseline_end)
        baseline_label = baseline_label or f"Baseline {config.baseline_short}"
    baseline_start, baseline_end = baseline
    baseline_label = baseline_label or "Baseline"
    data = []
    for i, (area, rows) in enumerate(series.groupby("area", sort=False)):
        colour, name = AREA_COLOURS[i % len(AREA_COLOURS)], markup.chart(area_name(area, names))
        current = rows[rows["in_period"]]
        baseline_total = rows[rows["month"] == pd.Timestamp(baseline_end)]
        data += [
            _line(rows["month"], rows["count"], name, colour, area, markers=True,
                  hover=f"{name}<br>%{{x|%b %Y}}: %{{y:,}}<extra></extra>"),
            _line(current["month"], current["same_month_last_year"], f"{name}: same month last year", colour,
                  area, dash="dot", hover=f"{name}, a year earlier<br>%{{x|%b %Y}}: %{{y:,}}<extra></extra>"),
            _line(rows["month"], rows["rolling_12_months"], f"{name}: rolling 12 months", colour, area,
                  legend=False, axes=("x2", "y2"),
                  hover=f"{name}<br>12 months to %{{x|%b %Y}}: %{{y:,}}<extra></extra>"),
            {"type": "scatter", "x": baseline_total["month"], "y": baseline_total["rolling_12_months"],
             "name": f"{name}: baseline year total", "legendgroup": area, "showlegend": False,
             "mode": "markers", "marker": {"color": colour, "size": 10, "symbol": "diamond"},
             "xaxis": "x2", "yaxis": "y2",
             "hovertemplate": f"{name}<br>Baseline year total: %{{y:,}}<extra></extra>"},
        ]
    bands = []
    months = series["month"]
    if not months.empty and months.min() <= pd.Timestamp(baseline_end):
        bands.append(_band(_half_month(max(months.min(), pd.Timestamp(baseline_start))),
                           _half_month(flt.month_add(baseline_end, 1)), baseline_label, PALETTE["good"], 0.12))
    bands.append(_band(_half_month(f.start), _half_month(flt.month_add(f.end, 1)), "Selected period",
                       PALETTE["muted"], 0.18))
    panel_titles = [{"text": text, "xref": "paper", "yref": "paper", "x": 0, "y": y, "xanchor": "left",
                     "yanchor": "bottom", "showarrow": False, "font": {"size": 12, "color": "#555"}}
                    for text, y in (("Monthly count", 1.0), ("Rolling 12-month total", 0.36))]
    y_axis = {"rangemode": "tozero", "tickformat": ","}
    return go.Figure(data=data, layout={
        "title": {"text": markup.chart(title)}, "height": 480, "hovermode": "x unified",
        "margin": {"l": 10, "r": 10, "t": 70, "b": 10},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.08},
        "xaxis": {"anchor": "y", "matches": "x2", "showticklabels": False},
        "xaxis2": {"anchor": "y2"},
        "yaxis": {**y_axis, "domain": [0.46, 1.0]}, "yaxis2": {**y_axis, "domain": [0.0, 0.36]},
        "shapes": [shape for shape, _ in bands],
        "annotations": [note for _, note in bands] + panel_titles})


def weekly_figure(series: pd.DataFrame, title: str, names: dict[str, str]) -> go.Figure:
    """Weekly counts (solid) with the same week 52 weeks earlier (dotted)."""
    data = []
    for i, (area, rows) in enumerate(series.groupby("area", sort=False)):
        colour, name = AREA_COLOURS[i % len(AREA_COLOURS)], markup.chart(area_name(area, names))
        data += [_line(rows["week"], rows["count"], name, colour, area, markers=True,
                       hover=f"{name}<br>week of %{{x|%d %b %Y}}: %{{y:,}}<extra></extra>"),
                 _line(rows["week"], rows["same_week_last_year"], f"{name}: same week last year", colour, area,
                       dash="dot", hover=f"{name}, 52 weeks earlier: %{{y:,}}<extra></extra>")]
    return go.Figure(data=data, layout={
        "title": {"text": markup.chart(title)}, "height": 380, "hovermode": "x unified",
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.12},
        "yaxis": {"rangemode": "tozero", "tickformat": ",",
                  "title": {"text": "Count per week (Monday to Sunday)"}}})


def _rules(row) -> str:
    found = [text for flag, text in (("beyond_limits", "beyond a 3-sigma limit"),
                                     ("run_of_8", "8 or more in a row on one side of the mean"),
                                     ("trend_of_6", "6 or more rising or falling")) if row[flag]]
    return "; ".join(found)


def control_chart_figure(chart: pd.DataFrame, title: str, unit: str = "month",
                         basis: slice | None = None) -> go.Figure:
    """A control chart: counts, the centre line, 3-sigma limits, signalling points in red (hover
    names the rule) and, when the limits come from some of the points, those points shaded."""
    x = chart["period"]
    data = [{"type": "scatter", "x": x, "y": chart["count"], "name": f"Count per {unit}", "mode": "lines+markers",
             "line": {"color": PALETTE["primary"], "width": 2}, "marker": {"size": 5},
             "hovertemplate": "%{x|%d %b %Y}: %{y:,}<extra></extra>"}]
    for column, name, dash in (("ucl", "Upper control limit", "dash"), ("centre", "Mean", "solid"),
                               ("lcl", "Lower control limit", "dash")):
        data.append({"type": "scatter", "x": x, "y": chart[column], "name": name, "mode": "lines",
                     "line": {"color": PALETTE["muted"] if column != "centre" else "#555", "width": 1.5,
                              "dash": dash},
                     "hovertemplate": f"{name}: %{{y:,.1f}}<extra></extra>"})
    signals = chart[chart["signal"]]
    data.append({"type": "scatter", "x": signals["period"], "y": signals["count"], "name": "Signal",
                 "mode": "markers", "text": [_rules(r) for _, r in signals.iterrows()],
                 "marker": {"color": PALETTE["accent"], "size": 10, "line": {"color": "white", "width": 1}},
                 "hovertemplate": "%{x|%d %b %Y}: %{y:,}<br>%{text}<extra>Signal</extra>"})
    shapes, notes = [], []
    if basis is not None:
        half = pd.Timedelta(days=15 if unit == "month" else 3)
        shape, note = _band(pd.Timestamp(basis.start) - half, pd.Timestamp(basis.stop) + half,
                            "Limits set here", PALETTE["good"], 0.10)
        shapes, notes = [shape], [note]
    return go.Figure(data=data, layout={
        "title": {"text": markup.chart(title)}, "height": 420, "hovermode": "x unified",
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.1},
        "yaxis": {"rangemode": "tozero", "tickformat": ","}, "shapes": shapes, "annotations": notes})


def month_of_year_figure(profile: pd.DataFrame) -> go.Figure:
    """The seasonal index per priority, January to December (100 = the priority's average month)."""
    data = []
    for i, (key, rows) in enumerate(profile.groupby("priority", sort=False)):
        label = PRIORITY_BY_KEY[key].label
        data.append({"type": "scatter", "x": rows["month_name"], "y": rows["index"], "name": label,
                     "mode": "lines+markers", "line": {"color": AREA_COLOURS[i % len(AREA_COLOURS)], "width": 2},
                     "customdata": rows[["average", "months"]].to_numpy(),
                     "hovertemplate": (f"{label}<br>%{{x}}: index %{{y:.0f}}<br>average %{{customdata[0]:,.1f}} "
                                       "a month over %{customdata[1]} years<extra></extra>")})
    return go.Figure(data=data, layout={
        "title": {"text": "Month-of-year profile"}, "height": 420,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.15},
        "xaxis": {"categoryorder": "array", "categoryarray": list(MONTH_NAMES)},
        "yaxis": {"title": {"text": "Index (average month = 100)"}},
        "shapes": [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": 100, "y1": 100,
                    "line": {"color": "#555", "width": 1, "dash": "dot"}}]})


def weekday_hour_figure(grid: pd.DataFrame, title: str, figures: TrueValues | None = None) -> go.Figure:
    """Day of week × hour of day heatmap of counts as `figures` publishes them (the colours from
    the published values; a "<5" cell is blank and says so on hover)."""
    figures = figures or TrueValues()
    shown = figures.frame(grid, grid.columns)
    text = [[figures.text(v) for v in row] for row in grid.to_numpy()]
    fig = go.Figure(go.Heatmap(z=shown.to_numpy(dtype=float), x=list(grid.columns), y=list(grid.index),
                               text=text, colorscale="Blues", colorbar={"title": "Count"},
                               hovertemplate="%{y} %{x}:00 to %{x}:59: %{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="Hour of day", tickmode="linear", dtick=3)
    fig.update_layout(title=markup.chart(title), height=330, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def series_title(key: str) -> str:
    return f"{PRIORITY_BY_KEY[key].label} ({counted_unit(key)})"

"""Counts per priority and month for the shared filters, aggregated in DuckDB."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from . import counting
from . import filters as flt
from .priorities import PRIORITY_BY_KEY, count_condition, counted_unit
from .stats import Change, compare_periods


def monthly_by_priority(con: duckdb.DuckDBPyConnection, f: flt.Filters, start: date, end: date,
                        keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Counted incidents per month (rows, every month from start to end) and priority (columns).

    Each priority counts its own kind (ASB incidents for ASB, crimes otherwise); other filters
    apply as set; the period of `f` is replaced by start..end.
    """
    keys = keys or f.priorities
    condition, params = flt.where(f, period=False)
    sums = ", ".join(f"count(*) FILTER (WHERE {count_condition(k)}) AS {k}" for k in keys)
    frame = con.execute(f"""SELECT month, {sums} FROM incidents
                            WHERE {condition} AND month BETWEEN ? AND ? GROUP BY month""",
                        params + [start, end]).df()
    months = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS", name="month")
    return frame.set_index("month").reindex(months, fill_value=0).astype(int)


def months_of(monthly: pd.Series, start: date, end: date) -> list[int]:
    """The counts of a monthly series from `start` to `end` that it holds: the parts shown beside
    a period's total on a chart of the series (cdp.disclosure's `total`)."""
    return monthly.loc[pd.Timestamp(start):pd.Timestamp(end)].tolist()


def period_words(start: date, end: date) -> str:
    """'Mar 2024' or 'Jan 2024 to Mar 2024'."""
    return f"{start:%b %Y}" if start == end else f"{start:%b %Y} to {end:%b %Y}"


@dataclass(frozen=True)
class Comparison:
    """The period's count against an earlier one: `change` by an exact test, or, when the two
    cannot be compared fairly, None and the `reason`."""
    title: str
    change: Change | None
    reason: str = ""
    period: tuple[date, date] | None = None   # the earlier period's first and last month


def comparisons(f: flt.Filters) -> list[tuple[str, flt.Filters]]:
    """What the period is compared with, seasonally fair first: the same months a year earlier,
    then (when that is not the same thing) the period just before."""
    year = f.year_earlier()
    out = [(f"Against the same months a year earlier ({period_words(year.start, year.end)})", year)]
    if f.months != 12:
        previous = f.previous_period()
        out.append((f"Against the period just before ({period_words(previous.start, previous.end)}; "
                    "not seasonally fair)", previous))
    return out


@dataclass(frozen=True)
class PriorityPanel:
    """Everything the overview shows for one priority."""
    key: str
    label: str
    unit: str
    coverage: str                # full, proxy, unavailable or mixed, for what is counted in the period
    coverage_note: str
    count: int
    comparisons: tuple[Comparison, ...]  # the same months a year earlier first
    trend: pd.Series             # monthly counts, up to 24 months to the period end

    def months(self, start: date, end: date) -> list[int]:
        """The trend's counts of the months from `start` to `end` (those it shows)."""
        return months_of(self.trend, start, end)


def priority_panels(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> list[PriorityPanel]:
    """One panel per selected priority: count, changes judged by an exact test (only between
    complete months of one coverage, cdp.counting), trend, coverage of the period."""
    months = counting.months(con)
    others = comparisons(f)
    start = min([flt.month_add(f.end, -23)] + [other.start for _, other in others])
    monthly = monthly_by_priority(con, f, start, f.end)

    def total(key: str, period: flt.Filters) -> int:
        return int(monthly.loc[pd.Timestamp(period.start):pd.Timestamp(period.end), key].sum())

    panels = []
    for key in f.priorities:
        coverage = months.coverage(key, f.start, f.end)
        count = total(key, f)
        compared = []
        for title, other in others:
            reason = months.comparable(key, (f.start, f.end), (other.start, other.end))
            change = None if reason else compare_periods(count, total(key, other), f.months, other.months)
            compared.append(Comparison(title, change, f"not compared: {reason}" if reason else "",
                                       (other.start, other.end)))
        trend = monthly.loc[pd.Timestamp(flt.month_add(f.end, -23)):, key]
        panels.append(PriorityPanel(key, PRIORITY_BY_KEY[key].label, counted_unit(key), coverage.level,
                                    coverage.note, count if coverage.level != "unavailable" else 0,
                                    tuple(compared), trend))
    return panels

"""Counts per priority and month for the shared filters, aggregated in DuckDB."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from . import filters as flt
from .priorities import PRIORITY_BY_KEY, count_condition, counted_unit, coverage, coverage_note
from .queries import data_months, loaded_datasets
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


@dataclass(frozen=True)
class PriorityPanel:
    """Everything the overview shows for one priority."""
    key: str
    label: str
    unit: str
    coverage: str
    coverage_note: str
    count: int
    vs_previous: Change | None   # None when the earlier period is not covered by the data
    vs_last_year: Change | None
    trend: pd.Series             # monthly counts, up to 24 months to the period end


def priority_panels(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> list[PriorityPanel]:
    """One panel per selected priority: count, changes judged by an exact test, trend, coverage."""
    first, last = data_months(con)
    datasets = loaded_datasets(con)
    previous, year_earlier = f.previous_period(), f.year_earlier()
    start = min(previous.start, year_earlier.start, flt.month_add(f.end, -23))
    monthly = monthly_by_priority(con, f, start, f.end)

    def total(key: str, period: flt.Filters) -> int:
        return int(monthly.loc[pd.Timestamp(period.start):pd.Timestamp(period.end), key].sum())

    def covered(period: flt.Filters) -> bool:
        return first is not None and period.start >= first and period.end <= last

    panels = []
    for key in f.priorities:
        priority = PRIORITY_BY_KEY[key]
        level = coverage(key, datasets)
        count = total(key, f)
        changes = [compare_periods(count, total(key, other), f.months, other.months) if covered(other)
                   else None for other in (previous, year_earlier)]
        note = coverage_note(key, level)
        trend = monthly.loc[pd.Timestamp(flt.month_add(f.end, -23)):, key]
        panels.append(PriorityPanel(key, priority.label, counted_unit(key), level, note,
                                    count if level != "unavailable" else 0,
                                    *changes, trend))
    return panels

"""Repeat windows over each person's incidents, worked out in DuckDB: the rows a measure reads
(one person key, from 12 months before a period to its end or to the end of the data), each
person's most incidents in any window of days, the time to their next incident, and repeat rates
by group. cdp.repeats defines each measure on pulled rows; these queries give the same figures
with only the figures leaving the store (pulling the rows and windowing them in pandas took most of
each measure's time at a million incidents). Shared by repeat victimisation (cdp.victimisation)
and repeat offending (cdp.offenders); tests/test_victimisation.py and tests/test_offenders.py hold
every figure to cdp.repeats."""
from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from . import filters as flt
from . import repeats

LOOK_BACK_MONTHS = 12  # the rows pulled before a period: 12 months hold the 365 days before it


# --- dates -------------------------------------------------------------------------------------

def month_end(month: date) -> date:
    """The last day of `month`."""
    return date.fromordinal(flt.month_add(month, 1).toordinal() - 1)


def period_days(start: date, end: date) -> tuple[date, date]:
    """The first day of the start month and the last day of the end month (both inclusive)."""
    return start, month_end(end)


def lookback_complete(first_month: date | None, start: date) -> bool:
    """Whether the data reaches back the full 12 months before `start` the measures look at."""
    return first_month is not None and first_month <= flt.month_add(start, -LOOK_BACK_MONTHS)


# --- the windows ---------------------------------------------------------------------------------

# The characters Python's str.strip() strips: cdp.repeats reads a person key stripped so.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_EPOCH = date(1970, 1, 1)


def _day(value: date) -> int:
    """`value` in whole days since 1970-01-01, as the queries' `day`."""
    return (value - _EPOCH).days


def stripped(column: str) -> str:
    """SQL for `column` stripped as str.strip() strips it. DuckDB's trim with a set of characters
    is slow (10 µs a row), so only a value that starts or ends with one of them is trimmed."""
    spaces = f"'{WHITESPACE}'"
    return (f"CASE WHEN contains({spaces}, left({column}, 1)) OR contains({spaces}, right({column}, 1)) "
            f"THEN trim({column}, {spaces}) ELSE {column} END")


def people(condition: str, params: list, start: date, end: date, earliest: date, until: date,
            person: str = "victim_id", columns: tuple[str, ...] = ()) -> tuple[str, list]:
    """WITH clauses over the rows victimisation.victim_incidents pulls, and their parameters.

    `pulled`: the rows meeting `condition` from the month `earliest` to `until`, of the people
    (`person`: victim_id or offender_id) with such a row from `start` to `end`, as stored (_id,
    month, occurred_at and `columns`), in one scan of the incidents, with person: the key
    stripped as str.strip() strips it (worked out once per person, not per row: 10-25 ms of a
    query at a million incidents). `events`: those with a person (blank keys left out), as
    cdp.repeats reads them: day (the incident's date, cdp.repeats.incident_dates, in days since
    1970) and at_time (occurred_at, else the month) besides."""
    extra = "".join(f", {column}" for column in columns)
    sql = f"""
        base AS MATERIALIZED (
            SELECT {person} AS _id, month, occurred_at{extra} FROM incidents
            WHERE {condition} AND month BETWEEN ? AND ?),
        pulled AS MATERIALIZED (
            SELECT base.*, people.person FROM base JOIN (
                SELECT _id, {stripped('_id')} AS person
                FROM (SELECT DISTINCT _id FROM base WHERE _id IS NOT NULL AND month BETWEEN ? AND ?)
            ) AS people USING (_id)
            WHERE month BETWEEN ? AND ?),
        events AS MATERIALIZED (
            SELECT coalesce(occurred_at, month) AS at_time,
                   coalesce(occurred_at, month)::DATE - DATE '1970-01-01' AS day, *
            FROM pulled WHERE person <> '')"""
    return sql, params + [min(earliest, start), max(until, end), start, end, earliest, until]


def windows(start: date, end: date, window_days: int, which: str = "TRUE") -> str:
    """WITH clauses after `people` for the period from the day `start` to the day `end`, over the
    events meeting `which` (cdp.repeats' period peaks).

    `windowed`: the events from `window_days` days before `start` to `end`, with in_window (the
    person's events in the `window_days` days up to and including its day; cdp.repeats counts a
    day's events one by one, and the last of them reaches this count) and gap (days since the
    person's previous event: 0 on the same day, NULL for the first; one by one, an event is the
    second or later in its window when gap <= window_days). `in_period`: those from `start`, with
    the person's peak (their most in_window: 2 or more makes a repeat)."""
    first, last, days = _day(start), _day(end), int(window_days)
    return f"""
        windowed AS MATERIALIZED (
            SELECT *, count(*) OVER (PARTITION BY person ORDER BY day
                                     RANGE BETWEEN {days} PRECEDING AND CURRENT ROW) AS in_window,
                   day - lag(day) OVER (PARTITION BY person ORDER BY day) AS gap
            FROM events WHERE ({which}) AND day BETWEEN {first - days} AND {last}),
        in_period AS MATERIALIZED (
            SELECT *, max(in_window) OVER (PARTITION BY person) AS peak
            FROM windowed WHERE day >= {first})"""


def summary_sql(repeat: int, high_frequency: int) -> str:
    """A scalar subquery after `windows`: repeats.victim_summary's counts."""
    return f"""(SELECT {{'victims': count(DISTINCT person),
                         'repeat': count(DISTINCT person) FILTER (WHERE peak >= {int(repeat)}),
                         'high': count(DISTINCT person) FILTER (WHERE peak >= {int(high_frequency)}),
                         'incidents': count(*),
                         'to_repeat': count(*) FILTER (WHERE peak >= {int(repeat)})}} FROM in_period)"""


def summary(counts: dict, window_days: int, repeat: int, high_frequency: int) -> dict:
    return repeats.summary_figures(int(counts["victims"]), int(counts["repeat"]), int(counts["high"]),
                                   int(counts["incidents"]), int(counts["to_repeat"]), window_days,
                                   repeat, high_frequency)


def follow_ups_sql(start: date, end: date, data_end: date) -> str:
    """A scalar subquery after `people`: repeats.time_to_next's follow-ups from the events from
    the day `start` to the day `end`, censored at `data_end`, as a list of {days, repeat, n}."""
    first, last, censor = _day(start), _day(end), _day(data_end)
    return f"""(SELECT list({{'days': days, 'repeat': repeat, 'n': n}} ORDER BY days, repeat) FROM (
                SELECT coalesce(next_day, {censor}) - day AS days, next_day IS NOT NULL AS repeat,
                       count(*) AS n
                FROM (SELECT day, lead(day) OVER (PARTITION BY person ORDER BY day) AS next_day
                      FROM events WHERE day <= {censor})
                WHERE day BETWEEN {first} AND {last} GROUP BY ALL))"""


def curve(follow_ups: list | None) -> pd.DataFrame:
    """repeats.time_to_next's curve from `follow_ups_sql`'s list (the curve depends on the
    follow-ups alone, not on their order)."""
    follow_ups = follow_ups or []
    n = np.array([f["n"] for f in follow_ups], dtype=np.int64)
    days = np.repeat(np.array([f["days"] for f in follow_ups], dtype=float), n)
    repeat = np.repeat(np.array([f["repeat"] for f in follow_ups], dtype=int), n)
    return repeats.survival_curve(days, repeat)


def rates_sql(column: str, repeat: int, high_frequency: int) -> str:
    """A scalar subquery after `windows`: repeats.repeat_rates_by's groups of `column` in its
    order (missing last), as a list of {value, victims, repeat, high}."""
    return f"""(SELECT list({{'value': {column}, 'victims': victims, 'repeat': repeat, 'high': high}}
                            ORDER BY {column} NULLS LAST) FROM (
                SELECT {column}, count(*) AS victims,
                       count(*) FILTER (WHERE peak >= {int(repeat)}) AS repeat,
                       count(*) FILTER (WHERE peak >= {int(high_frequency)}) AS high
                FROM (SELECT DISTINCT person, {column}, peak FROM in_period) GROUP BY {column}))"""


def rates_table(column: str, groups: list | None) -> pd.DataFrame:
    """repeats.repeat_rates_by's table (its column types too) from `rates_sql`'s list."""
    groups = groups or []
    table = pd.DataFrame({
        column: pd.Series([g["value"] for g in groups], dtype=object),
        "victims": pd.array([g["victims"] for g in groups], dtype="Int64"),
        "repeat_victims": pd.array([g["repeat"] for g in groups], dtype="int64[pyarrow]"),
        "high_frequency_victims": pd.array([g["high"] for g in groups], dtype="int64[pyarrow]")})
    table["rate"] = table["repeat_victims"] / table["victims"]
    return table


def person_measures(con: duckdb.DuckDBPyConnection, condition: str, params: list, start: date, end: date,
                    earliest: date, until: date, data_end: date, person: str = "victim_id",
                    window_days: int = repeats.WINDOW_DAYS, repeat: int = repeats.REPEAT,
                    high_frequency: int = repeats.HIGH_FREQUENCY) -> tuple[dict, pd.DataFrame]:
    """repeats.victim_summary and repeats.time_to_next (followed to `data_end`) for the period
    from the month `start` to the month `end`, over the rows meeting `condition` from `earliest`
    to `until` of the people (`person`) with one in the period, worked out in the store."""
    pulled, values = people(condition, params, start, end, earliest, until, person)
    first, last = period_days(start, end)
    counts, follow_ups = con.execute(f"""
        WITH {pulled}, {windows(first, last, window_days)}
        SELECT {summary_sql(repeat, high_frequency)}, {follow_ups_sql(first, last, data_end)}""",
                                     values).fetchone()
    return summary(counts, window_days, repeat, high_frequency), curve(follow_ups)

"""The store queries and figures behind the repeat victimisation page.

Each measure is `cdp.repeats`' definition over a bounded set of rows (one priority, the victims
with an incident in the period, from 12 months before the period to its end or to the end of the
data: `victim_incidents` pulls them), worked out in DuckDB with window functions over each
person's incidents (cdp.repeat_windows), so only the figures leave the store. Repeat places are ranked and the top
ones described in DuckDB too. The tests hold every figure to `cdp.repeats` on the pulled rows.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.stats import binom
from statsmodels.stats.proportion import test_proportions_2indep

from . import counting, places, repeats, stats, targets
from . import repeat_windows as rw
from . import filters as flt
from .charts import PALETTE
from .markup import chart, chart_series
from .priorities import PRIORITY_BY_KEY, PRIORITY_COLUMNS, PRIORITY_KEYS
from .queries import data_months, ward_names
from .repeat_windows import LOOK_BACK_MONTHS, lookback_complete, month_end, period_days  # noqa: F401 (also the page's)

NOT_RECORDED = "Not recorded"
VICTIM_COLUMNS = ("victim_id", "month", "occurred_at", "ward_code", "victim_age_band", "victim_sex",
                  "victim_vulnerable")
# Columns repeat_places reads; ranked lists pull these for the top places only.
PLACE_COLUMNS = ("month", "occurred_at", "is_asb", "premises_id", "premises_name", "premises_type",
                 "location", "easting", "northing", "ward_code", *PRIORITY_COLUMNS.values())
GROUPINGS = {"ward": "ward_code", "age band": "victim_age_band", "sex": "victim_sex",
             "vulnerability": "victim_vulnerable"}


# --- bounded pulls -----------------------------------------------------------------------------

def _victim_rows(con: duckdb.DuckDBPyConnection, condition: str, params: list, start: date,
                 end: date, until: date, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows meeting `condition` from 12 months before `start` to `until` (months), for the victims
    with at least one such row from `start` to `end`."""
    return con.execute(f"""
        WITH chosen AS (SELECT DISTINCT victim_id FROM incidents
                        WHERE {condition} AND victim_id IS NOT NULL AND month BETWEEN ? AND ?)
        SELECT {', '.join(columns)} FROM incidents
        WHERE {condition} AND month BETWEEN ? AND ? AND victim_id IN (SELECT victim_id FROM chosen)
        ORDER BY victim_id, coalesce(occurred_at, month)""",
        params + [start, end] + params + [flt.month_add(start, -LOOK_BACK_MONTHS), until]).df()


def victim_incidents(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str,
                     follow_up: bool = False) -> pd.DataFrame:
    """Incidents of `priority` matching every shared filter, for the victims with one in the period:
    from 12 months before the period to its end (or, with `follow_up`, to the end of the data, so
    the time to a victim's next incident can be followed past the period end)."""
    condition, params = flt.where(f, period=False, priority=priority)
    until = data_months(con)[1] if follow_up else f.end
    return _victim_rows(con, condition, params, f.start, f.end, until or f.end, VICTIM_COLUMNS)


# --- the measures for one priority ----------------------------------------------------------------

def _labelled_rates(table: pd.DataFrame, column: str, labels: dict | None = None,
                    order: list | None = None) -> pd.DataFrame:
    """A repeat_rates_by table with a readable `group` column, in a stable order."""
    table = table.copy()
    values = table[column].astype("object")
    table["group"] = [NOT_RECORDED if pd.isna(v) else (labels or {}).get(v, str(v)) for v in values]
    if order is not None:
        rank = {name: i for i, name in enumerate(order)}
        table = table.sort_values("group", key=lambda s: s.map(lambda g: rank.get(g, len(rank))),
                                  kind="stable")
    columns = ["group", "victims", "repeat_victims", "high_frequency_victims", "rate"]
    return table[columns].reset_index(drop=True)


def repeat_victimisation(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str) -> dict:
    """Everything the page shows for one priority's victims in the period of `f`.

    Returns summary (see repeats.victim_summary), curve (repeats.time_to_next, following each
    in-period incident to the end of the data), by (group name -> table with group, victims,
    repeat_victims, high_frequency_victims, rate), rows (incidents victim_incidents pulls, with
    follow_up), lookback_complete, data_end.
    """
    condition, params = flt.where(f, period=False, priority=priority)
    first, last = data_months(con)
    start, end = period_days(f.start, f.end)
    data_end = month_end(last) if last else end
    wards = ward_names(con)
    d = targets.definitions()
    columns = tuple(GROUPINGS.values())
    people, values = rw.people(condition, params, f.start, f.end, flt.month_add(f.start, -LOOK_BACK_MONTHS),
                             last or f.end, columns=columns)
    pulled, counts, follow_ups, *groups = con.execute(f"""
        WITH {people}, {rw.windows(start, end, d.window_days)}
        SELECT (SELECT count(*) FROM pulled), {rw.summary_sql(d.repeat, d.high_frequency)},
               {rw.follow_ups_sql(start, end, data_end)},
               {', '.join(rw.rates_sql(column, d.repeat, d.high_frequency) for column in columns)}""",
                                                      values).fetchone()
    tables = {column: rw.rates_table(column, found) for column, found in zip(columns, groups)}
    return {"summary": rw.summary(counts, d.window_days, d.repeat, d.high_frequency),
            "curve": rw.curve(follow_ups), "by": rates_by_group(tables, wards), "rows": int(pulled),
            "lookback_complete": lookback_complete(first, f.start), "data_end": data_end}


def rates_by_group(tables: dict[str, pd.DataFrame], wards: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The page's tables (group name -> group, victims, repeat_victims, high_frequency_victims,
    rate) from repeats.repeat_rates_by's, one per GROUPINGS column: wards by name, highest rate
    first; the rest in their natural order."""
    by = {}
    for name, column in GROUPINGS.items():
        table = tables[column]
        if name == "ward":
            table = _labelled_rates(table, column, wards)
            table = table.sort_values(["rate", "victims"], ascending=False, kind="stable")
        elif name == "age band":
            table = _labelled_rates(table, column, order=[*flt.AGE_BANDS, NOT_RECORDED])
        elif name == "sex":
            table = _labelled_rates(table, column, {"F": "Female", "M": "Male", "X": "Another sex"},
                                    order=["Female", "Male", "Another sex", NOT_RECORDED])
        else:
            table = _labelled_rates(table, column, {True: "Vulnerable", False: "Not vulnerable"},
                                    order=["Vulnerable", "Not vulnerable", NOT_RECORDED])
        by[name] = table.reset_index(drop=True)
    return by


def repeat_within(curve: pd.DataFrame, days: int) -> float | None:
    """Share of incidents followed by the same victim's next one within `days` days (Kaplan-Meier)."""
    if curve.empty:
        return None
    upto = curve[curve["days"] <= days]
    return 0.0 if upto.empty else float(1 - upto["survival"].iloc[-1])


# --- the plan's repeat victimisation targets -------------------------------------------------------

def _repeat_rate(con: duckdb.DuckDBPyConnection, priority: str, start: date, end: date,
                 first: date | None, wards: tuple[str, ...] = (),
                 look_back_months: int = LOOK_BACK_MONTHS) -> dict:
    """repeat_rate_for_target for the priority's counted crimes in `wards` (all: citywide),
    looking back at most `look_back_months`."""
    area = flt.Filters(start=start, end=end, wards=tuple(wards))
    condition, params = flt.where(area, period=False, priority=priority)
    column = PRIORITY_COLUMNS[priority]
    window_days = targets.definitions().window_days
    people, values = rw.people(condition, params, start, end, flt.month_add(start, -LOOK_BACK_MONTHS), end,
                             columns=(column,))
    # repeats.repeat_rate_for_target counts the priority's incidents, from the look-back's first month.
    which = f"coalesce({column}, false)"
    if look_back_months < LOOK_BACK_MONTHS:
        which += f" AND month >= DATE '{flt.month_add(start, -look_back_months).isoformat()}'"
    counts = con.execute(f"""
        WITH {people}, {rw.windows(*period_days(start, end), window_days, which)}
        SELECT count(DISTINCT person) FILTER (WHERE peak >= 2), count(DISTINCT person),
               count(*) FILTER (WHERE gap <= {int(window_days)}), count(*)
        FROM in_period""", values).fetchone()
    result = repeats.target_rate_figures(*(int(n) for n in counts), window_days=window_days, priority=priority)
    return {**result, "start": start, "end": end, "months": flt.months_between(start, end),
            "look_back_months": look_back_months,
            "lookback_complete": look_back_months == LOOK_BACK_MONTHS and lookback_complete(first, start)}


def available_look_back(first: date | None, start: date) -> int:
    """Whole months of data before `start` (at most 12)."""
    if first is None:
        return 0
    return max(0, min(LOOK_BACK_MONTHS, flt.months_between(first, start) - 1))


def repeat_target(con: duckdb.DuckDBPyConnection, start: date, end: date, priority: str = "hate_crime",
                  wards: tuple[str, ...] = (), config: targets.TargetsConfig | None = None) -> dict:
    """A priority's repeat victimisation rate in the plan's baseline year and from `start` to
    `end`, against the plan's target: the one measure behind "reduce hate crime repeat
    victimisation by 10%" on every page.

    The baseline year and the target's percentage come from the targets file (`config`, default
    cdp.targets.current()). Counted crimes of `priority` in `wards` (none: citywide); no other
    filter applies (the target is the partnership's). Returns baseline and selected (see
    repeats.repeat_rate_for_target, plus start, end, months, look_back_months, lookback_complete);
    comparable: the selected period measured with no more look-back than the data gives the
    baseline year (the same as selected when the baseline has its full 12 months); like_for_like
    (comparable is selected); percent (the target's reduction, None without a repeat_rate target
    for the priority); target_rate (baseline less that); meets_target (comparable against the
    target); p_value and verdict (a two-proportion test of comparable against baseline; None when
    either has no victims); baseline_label.
    """
    config = config or targets.current()
    first, _ = data_months(con)
    baseline_look_back = available_look_back(first, config.baseline_start)
    baseline = _repeat_rate(con, priority, config.baseline_start, config.baseline_end, first, wards,
                            baseline_look_back)
    selected = _repeat_rate(con, priority, start, end, first, wards)
    comparable = (selected if baseline_look_back == LOOK_BACK_MONTHS
                  else _repeat_rate(con, priority, start, end, first, wards, baseline_look_back))
    goal = config.repeat_target(priority)
    percent = goal.percent if goal else None
    target = (None if baseline["rate"] is None or percent is None
              else baseline["rate"] * (1 - percent / 100))
    p_value = verdict = None
    if baseline["denominator"] and comparable["denominator"]:
        test = test_proportions_2indep(comparable["numerator"], comparable["denominator"],
                                       baseline["numerator"], baseline["denominator"])
        p_value = float(test.pvalue) if np.isfinite(test.pvalue) else 1.0
        direction = "fall" if comparable["rate"] < baseline["rate"] else "rise"
        verdict = f"significant {direction}" if p_value < stats.ALPHA else "no significant change"
    meets = None if target is None or comparable["rate"] is None else comparable["rate"] <= target
    return {"baseline": baseline, "selected": selected, "comparable": comparable,
            "like_for_like": comparable is selected, "percent": percent, "target_rate": target,
            "meets_target": meets, "p_value": p_value, "verdict": verdict,
            "definition": baseline["definition"], "baseline_label": config.baseline_label,
            "baseline_short": config.baseline_short}


def hate_crime_target(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict:
    """The citywide hate crime repeat victimisation target (see `repeat_target`)."""
    return repeat_target(con, start, end, "hate_crime")


# --- domestic abuse potential escalation ---------------------------------------------------------

def escalation(con: duckdb.DuckDBPyConnection, f: flt.Filters, threshold: int | None = None) -> pd.DataFrame:
    """Domestic abuse victims reaching `threshold` (the targets file's `escalation`, 3 by default)
    counted incidents flagged domestic abuse within 12 months (the configured window, 365 days),
    the latest of them in the period (MARAC "potential escalation"). Every incident flagged
    domestic abuse counts, crime or not; every shared filter but the priorities applies.

    Columns: victim_id; incidents_in_window, first, last (the most in any window and that window's
    first and last dates, see repeats.escalation_victims, over the period and the 12 months before
    it); total_incidents (in that span); latest (the victim's latest incident, in the period); ward
    (of the latest); vulnerable. Latest first.
    """
    definitions = targets.definitions()
    threshold = int(threshold or definitions.escalation)
    window_days = int(definitions.window_days)
    condition, params = flt.where(replace(f, priorities=PRIORITY_KEYS), period=False)
    condition += " AND flag_domestic_abuse"
    people, values = rw.people(condition, params, f.start, f.end, flt.month_add(f.start, -LOOK_BACK_MONTHS),
                             f.end, columns=("flag_domestic_abuse", "ward_code", "victim_vulnerable"))
    # repeats.victim_peaks over the period (in_period), repeats.escalation_victims over every
    # flagged event pulled (the most in a window: its latest day when several windows reach it),
    # and each victim's latest incident (of the rows as pulled: the latest time, then by ward and
    # vulnerability when two share it).
    table = con.execute(f"""
        WITH {people}, {rw.windows(*period_days(f.start, f.end), window_days)},
        peaks AS (SELECT person, max(peak) AS peak FROM in_period GROUP BY person),
        flagged AS (
            SELECT person, day, count(*) OVER (PARTITION BY person) AS total_incidents,
                   count(*) OVER last_days AS incidents_in_window, min(day) OVER last_days AS first
            FROM events WHERE coalesce(flag_domestic_abuse, false)
            WINDOW last_days AS (PARTITION BY person ORDER BY day
                                 RANGE BETWEEN {window_days} PRECEDING AND CURRENT ROW)),
        peak AS (SELECT * FROM flagged QUALIFY row_number() OVER (
                     PARTITION BY person ORDER BY incidents_in_window DESC, day DESC) = 1),
        latest AS (SELECT _id, day AS latest, ward_code, victim_vulnerable AS vulnerable FROM events
                   QUALIFY row_number() OVER (PARTITION BY _id ORDER BY at_time DESC, ward_code DESC NULLS FIRST,
                                                                   victim_vulnerable DESC NULLS FIRST) = 1)
        SELECT peak.person AS victim_id, incidents_in_window, DATE '1970-01-01' + first::INTEGER AS first,
               DATE '1970-01-01' + peak.day::INTEGER AS last, total_incidents,
               DATE '1970-01-01' + latest::INTEGER AS latest,
               ward_code, vulnerable, (SELECT bool_or(victim_vulnerable IS NULL) FROM pulled) AS _unknown
        FROM peak JOIN peaks USING (person) LEFT JOIN latest ON latest._id = peak.person
        WHERE incidents_in_window >= {threshold} AND peaks.peak >= {threshold}
        ORDER BY latest DESC NULLS LAST, incidents_in_window DESC, victim_id""", values).df()
    # The types repeats.escalation_victims and the rows as pulled give these columns.
    unknown = bool(table.pop("_unknown").any())
    table = table.astype({"victim_id": object, "incidents_in_window": "int64", "total_incidents": "int64",
                          "first": "datetime64[us]", "last": "datetime64[us]", "latest": "datetime64[us]",
                          "vulnerable": "boolean" if unknown else bool})
    ward = table.pop("ward_code").map(ward_names(con)).fillna(NOT_RECORDED)
    table.insert(table.columns.get_loc("vulnerable"), "ward", ward)
    return table


# --- repeat places and premises -------------------------------------------------------------------

def _place_key_sql(kind: str, snap_m: float) -> str:
    """SQL for repeats.place_keys: premises, else the snapped point, else the street."""
    premises = ("CASE WHEN nullif(trim(premises_id), '') IS NOT NULL "
                "THEN 'premises:' || trim(premises_id) END")
    # One CASE, not coalesce(point, street): the street's regular expressions then run only on
    # the rows without a point (a third of the time of the whole query at a million incidents).
    point = (f"'point:' || printf('%.0f', round_even(easting / {snap_m}, 0) * {snap_m}) || ',' || "
             f"printf('%.0f', round_even(northing / {snap_m}, 0) * {snap_m})")
    location = f"'location:' || {places.street_key_sql()}"
    return premises if kind == "premises" else (
        f"CASE WHEN easting IS NOT NULL AND northing IS NOT NULL THEN {point} ELSE {location} END")


def ranked_places(con: duckdb.DuckDBPyConnection, f: flt.Filters, kind: str = "premises",
                  top: int = 50, snap_m: float = 1.0) -> dict:
    """The places with repeat incidents in the period, ranked.

    A repeat place has 2 or more incidents within 12 months (the configured window, 365 days)
    of each other, at least one in the period (repeats.repeat_places). kind "premises": premises
    only (premises_id); kind "locations": the snapped point, else the street, whatever the
    premises. Incidents of the selected priorities (all incidents when all are selected) under
    every shared filter. DuckDB ranks the places and describes the `top` ones as
    repeats.repeat_places does. Returns places (its columns plus ward, crimes,
    asb_incidents, monthly: the period's monthly counts, year_earlier: the same months a year
    earlier, and change: against them by an exact rate-ratio test), repeat_places (how many),
    incidents (in the period, with a place), at_repeat_places, share, window (start, end months),
    compared (None, or why the year earlier is not compared).
    """
    if kind not in ("premises", "locations"):
        raise ValueError("kind must be 'premises' or 'locations'")
    window_days = targets.definitions().window_days
    year = f.year_earlier()
    start_day, end_day = period_days(f.start, f.end)
    first_day = min(year.start, start_day - timedelta(days=window_days))
    condition, params = flt.where(f, period=False)
    key = _place_key_sql(kind, snap_m)
    # One pass: key every row once, find each place's repeats (an incident in the period with
    # another within the window before it), rank the places, and describe the top places
    # (repeats.repeat_places and the months, kinds and year earlier below) beside the totals.
    start_month = f.start.isoformat()
    sums = ", ".join(f"count(*) FILTER (WHERE coalesce({column}, false)) AS n_{key}"
                     for key, column in PRIORITY_COLUMNS.items())
    (incidents, repeat_count, at_repeat, described, commonest, streets, monthly, kinds,
     earlier), = con.execute(f"""
        WITH keyed AS MATERIALIZED (
            SELECT {', '.join(PLACE_COLUMNS)}, {key} AS place_key,
                   coalesce(occurred_at, month)::DATE AS _day
            FROM incidents WHERE {condition} AND month BETWEEN ? AND ?),
        gaps AS (SELECT place_key, _day, _day - lag(_day) OVER (PARTITION BY place_key ORDER BY _day) AS gap
                 FROM keyed WHERE place_key IS NOT NULL AND _day BETWEEN ? AND ?),
        places AS (SELECT place_key, count(*) FILTER (WHERE _day >= ?) AS n,
                          max(_day) AS last, bool_or(_day >= ? AND gap <= ?) AS is_repeat
                   FROM gaps GROUP BY place_key HAVING count(*) FILTER (WHERE _day >= ?) > 0),
        top AS (SELECT place_key FROM places WHERE is_repeat
                ORDER BY n DESC, last DESC, place_key LIMIT {int(top)}),
        totals AS (SELECT coalesce(sum(n), 0) AS _with_place,
                          count(*) FILTER (WHERE is_repeat) AS _repeat_places,
                          coalesce(sum(n) FILTER (WHERE is_repeat), 0) AS _at_repeat_places
                   FROM places),
        chosen AS MATERIALIZED (SELECT * FROM keyed WHERE place_key IN (SELECT place_key FROM top)),
        -- repeats.repeat_places over the chosen rows: each place's peak, by its key stripped as
        -- str.strip() strips it, and the places reaching a repeat, over their incidents in the period.
        windows AS (SELECT skey, _day, count(*) OVER (PARTITION BY skey ORDER BY day
                                                      RANGE BETWEEN {int(window_days)} PRECEDING AND CURRENT ROW) AS n
                    FROM (SELECT {rw.stripped('place_key')} AS skey, _day, _day - DATE '1970-01-01' AS day
                          FROM chosen) WHERE skey <> '' AND _day BETWEEN ? AND ?),
        peaks AS (SELECT skey, max(n) AS peak FROM windows WHERE _day >= ? GROUP BY skey),
        found AS MATERIALIZED (
            SELECT chosen.*, peak FROM chosen JOIN peaks ON place_key = skey
            WHERE _day BETWEEN ? AND ? AND peak >= {int(repeats.REPEAT)}),
        commonest AS (
            SELECT * FROM (SELECT place_key, 'premises_name' AS what, premises_name AS value, count(*) AS n
                           FROM found WHERE premises_name IS NOT NULL GROUP BY ALL
                           UNION ALL SELECT place_key, 'premises_type', premises_type, count(*)
                           FROM found WHERE premises_type IS NOT NULL GROUP BY ALL
                           UNION ALL SELECT place_key, 'ward_code', ward_code, count(*)
                           FROM found WHERE ward_code IS NOT NULL GROUP BY ALL)
            QUALIFY row_number() OVER (PARTITION BY place_key, what ORDER BY n DESC, value) = 1)
        SELECT _with_place, _repeat_places, _at_repeat_places,
            (SELECT list({{'place_key': place_key, 'incidents': incidents, 'peak': peak, 'first': first,
                           'last': last, {', '.join(f"'n_{k}': n_{k}" for k in PRIORITY_COLUMNS)}}})
             FROM (SELECT place_key, count(*) AS incidents, any_value(peak) AS peak, min(_day) AS first,
                          max(_day) AS last, {sums} FROM found GROUP BY place_key)),
            (SELECT list({{'place_key': place_key, 'what': what, 'value': value}}) FROM commonest),
            (SELECT list({{'place_key': place_key, 'location': location, 'n': n}})
             FROM (SELECT place_key, location, count(*) AS n FROM found
                   WHERE location IS NOT NULL GROUP BY ALL)),
            (SELECT list({{'place_key': place_key, 'month': month, 'n': n}})
             FROM (SELECT place_key, month, count(*) AS n FROM chosen
                   WHERE month >= DATE '{start_month}' GROUP BY ALL)),
            (SELECT list({{'place_key': place_key, 'n': n, 'asb': asb}})
             FROM (SELECT place_key, count(*) AS n, count(*) FILTER (WHERE is_asb) AS asb FROM chosen
                   WHERE month >= DATE '{start_month}' GROUP BY ALL)),
            (SELECT list({{'place_key': place_key, 'n': n}})
             FROM (SELECT place_key, count(*) AS n FROM chosen
                   WHERE month BETWEEN ? AND ? GROUP BY ALL))
        FROM totals""",
                        params + [first_day.replace(day=1), f.end, start_day - timedelta(days=window_days),
                                  end_day, start_day, start_day, window_days, start_day,
                                  start_day - timedelta(days=window_days), end_day, start_day,
                                  start_day, end_day, year.start, year.end]).fetchall()
    compared = counting.months(con).why_not_compared((year.start, year.end))
    places_found = (_describe_places(con, kind, f, described, commonest, streets, monthly, kinds, earlier,
                                     compared is None) if described else pd.DataFrame())
    incidents, repeat_count, at_repeat = int(incidents), int(repeat_count), int(at_repeat)
    return {"places": places_found, "repeat_places": repeat_count, "incidents": incidents,
            "at_repeat_places": at_repeat, "share": at_repeat / incidents if incidents else None,
            "window": (f.start, f.end), "compared": compared}


def _change_verdicts(recent, earlier) -> list[str]:
    """The verdicts of stats.compare_periods for pairs of periods of equal length: the same exact
    conditional test (binomial, p = 1/2), without the confidence interval the table does not show.
    At p = 1/2 the distribution is symmetric, so scipy's two-sided p-value (binomtest) is twice
    the smaller tail, at most 1: worked out for every place at once."""
    recent, earlier = np.asarray(recent, dtype=np.int64), np.asarray(earlier, dtype=np.int64)
    n = recent + earlier
    p_value = np.minimum(1.0, 2 * binom.cdf(np.minimum(recent, earlier), n, 0.5))
    significant = (n > 0) & (p_value < stats.ALPHA)
    return np.where(~significant, "no significant change",
                    np.where(recent > earlier, "significant rise", "significant fall")).tolist()


def _commonest_street(streets: list) -> dict:
    """Each place's commonest street (repeats.repeat_places' label): its locations' texts cleaned
    as cdp.places.street cleans them, the most incidents, then the first alphabetically."""
    if not streets:
        return {}
    texts = pd.DataFrame(streets)
    texts["street"] = places.street(texts["location"]).astype(object)
    texts = texts.dropna(subset=["street"])
    counts = texts.groupby(["place_key", "street"], sort=False)["n"].sum()
    best: dict = {}
    for (place, street), n in counts.items():
        if place not in best or (-n, street) < (-best[place][1], best[place][0]):
            best[place] = (street, n)
    return {place: street for place, (street, _) in best.items()}


def _describe_places(con: duckdb.DuckDBPyConnection, kind: str, f: flt.Filters, described: list,
                     commonest: list | None, streets: list | None, monthly: list | None,
                     kinds: list | None, earlier: list | None, compare: bool) -> pd.DataFrame:
    """The top places as repeats.repeat_places describes them, from the query's aggregates (per
    place: its incidents in the period, peak, first and last, counts per priority; its commonest
    premises name, type, ward and street), with ward, crimes, asb_incidents, monthly (the period's
    monthly counts), year_earlier and change (against it by an exact rate-ratio test)."""
    found = pd.DataFrame(described)
    keys = found["place_key"].astype("string")
    common = {(c["place_key"], c["what"]): c["value"] for c in commonest or []}
    street = _commonest_street(streets)

    def most(values: dict, dtype: str) -> pd.Series:
        """The commonest value per place, typed as repeats.repeat_places types it (pandas gives
        an untyped column when no place has a value at all)."""
        if not values:
            return pd.Series(np.nan, index=found.index, dtype=object)
        return pd.Series([values.get(k) for k in found["place_key"]], dtype=dtype)

    def named(what: str) -> pd.Series:
        return most({k: v for (k, w), v in common.items() if w == what}, "str")

    location = most(street, "string")
    label = location if kind != "premises" else named("premises_name").fillna(location)
    table = pd.DataFrame({"place_key": keys, "label": label.fillna(keys),
                          "premises_type": named("premises_type"), "ward_code": named("ward_code"),
                          "incidents": found["incidents"].astype("Int64"), "peak": found["peak"].astype("int64"),
                          "first": pd.to_datetime(found["first"]).astype("datetime64[us]"),
                          "last": pd.to_datetime(found["last"]).astype("datetime64[us]"),
                          **{f"n_{k}": found[f"n_{k}"].astype("int64") for k in PRIORITY_COLUMNS}})
    table["priorities"] = pd.Series([
        ", ".join(f"{PRIORITY_BY_KEY[k].label} {int(row[f'n_{k}'])}"
                  for k in sorted(PRIORITY_COLUMNS, key=lambda k: -row[f"n_{k}"]) if row[f"n_{k}"] > 0)
        for row in found.to_dict("records")], dtype="str")
    table = table.sort_values(["incidents", "last", "place_key"], ascending=[False, False, True],
                              kind="stable").reset_index(drop=True)
    table["ward"] = table["ward_code"].map(ward_names(con)).fillna(NOT_RECORDED)
    if kind == "premises":  # premises that share a name are told apart by street and ID
        labels = places.premises_table(con).set_index("premises_id")["label"]
        table["label"] = table["place_key"].str.removeprefix("premises:").map(labels).fillna(table["label"])
    size = {k["place_key"]: k["n"] for k in kinds or []}
    asb = {k["place_key"]: k["asb"] for k in kinds or []}
    table["asb_incidents"] = table["place_key"].map(asb).astype(int)
    table["crimes"] = table["place_key"].map({k: size[k] - asb[k] for k in size}).astype(int)
    months = [d.date() for d in pd.date_range(pd.Timestamp(f.start), pd.Timestamp(f.end), freq="MS")]
    counts = {(m["place_key"], m["month"]): m["n"] for m in monthly or []}
    table["monthly"] = [[int(counts.get((k, m), 0)) for m in months] for k in table["place_key"]]
    before = {e["place_key"]: e["n"] for e in earlier or []}
    table["year_earlier"] = table["place_key"].map(before).fillna(0).astype(int)
    table["change"] = pd.Series(_change_verdicts(table["incidents"], table["year_earlier"]) if compare
                                else ["not compared"] * len(table), dtype="str")
    return table


# --- figures -------------------------------------------------------------------------------------

def survival_figure(curve: pd.DataFrame, max_days: int = 365) -> go.Figure:
    """Step curve of the share of incidents not yet followed by another against the same victim."""
    curve = curve[curve["days"] <= max_days]
    days = [0, *curve["days"].tolist(), max_days]
    survival = [1.0, *curve["survival"].tolist(), curve["survival"].iloc[-1] if len(curve) else 1.0]
    low = [1.0, *curve["ci_low"].tolist(), curve["ci_low"].iloc[-1] if len(curve) else 1.0]
    high = [1.0, *curve["ci_high"].tolist(), curve["ci_high"].iloc[-1] if len(curve) else 1.0]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=days, y=high, mode="lines", line={"width": 0, "shape": "hv"},
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=days, y=low, mode="lines", line={"width": 0, "shape": "hv"},
                             fill="tonexty", fillcolor="rgba(31,78,121,0.15)", hoverinfo="skip",
                             name="95% confidence interval"))
    fig.add_trace(go.Scatter(x=days, y=survival, mode="lines", name="No repeat yet",
                             line={"color": PALETTE["primary"], "width": 2, "shape": "hv"},
                             hovertemplate="%{x} days: %{y:.1%} not yet repeated<extra></extra>"))
    for marker in (7, 28, 90):
        fig.add_vline(x=marker, line={"color": PALETTE["muted"], "dash": "dot", "width": 1},
                      annotation_text=f"{marker} days", annotation_position="bottom right")
    fig.update_layout(height=340, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                      xaxis={"title": "Days since the incident", "range": [0, max_days]},
                      yaxis={"title": "Share with no further incident", "tickformat": ".0%",
                             "rangemode": "tozero"},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def rates_figure(table: pd.DataFrame, title: str) -> go.Figure:
    """Horizontal bars of the repeat victim rate per group, victims in the hover."""
    table = table.iloc[::-1]
    fig = go.Figure(go.Bar(
        x=table["rate"], y=chart_series(table["group"].astype(str)), orientation="h",
        marker_color=PALETTE["primary"],
        customdata=np.stack([table["repeat_victims"], table["victims"]], axis=-1),
        hovertemplate="%{y}: %{x:.1%} (%{customdata[0]:,} of %{customdata[1]:,} victims)<extra></extra>"))
    fig.update_layout(height=max(220, 26 * len(table) + 60), margin={"l": 0, "r": 0, "t": 30, "b": 0},
                      title={"text": chart(title), "font": {"size": 14}},
                      xaxis={"tickformat": ".0%", "rangemode": "tozero"}, yaxis={"automargin": True})
    return fig


def target_figure(target: dict) -> go.Figure:
    """The baseline year's and the selected period's rates (and the selected period measured like
    the baseline, when that differs), with the target line."""
    bars = [("Baseline 2020/21", target["baseline"]), ("Selected period", target["selected"])]
    if not target["like_for_like"]:
        bars.append(("Selected, measured like the baseline", target["comparable"]))
    labels = [name for name, _ in bars]
    values = [part["rate"] or 0 for _, part in bars]
    colours = [PALETTE["muted"], PALETTE["primary"], "#5b8db8"][:len(bars)]
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=colours, width=0.5,
                           text=[f"{v:.1%}" for v in values], textposition="outside",
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    if target["target_rate"] is not None:
        fig.add_hline(y=target["target_rate"], line={"color": PALETTE["accent"], "dash": "dash"},
                      annotation_text=f"Target {target['target_rate']:.1%}")
    fig.update_layout(height=250, margin={"l": 0, "r": 0, "t": 20, "b": 0},
                      yaxis={"tickformat": ".0%", "rangemode": "tozero",
                             "range": [0, max(values + [target["target_rate"] or 0]) * 1.3 or 1]})
    return fig


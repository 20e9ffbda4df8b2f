"""Reoffending seen through the partner extract's offender keys: repeat offenders, how soon the next
offence comes, the most frequent offenders for integrated offender management (IOM), and an IOM
cohort's offending before and after entry.

An offence is a counted crime (never an ASB incident) with a pseudonymised `offender_id`, chosen
through `cdp.filters.where` like every count. A repeat offender has 2 or more offences within 365
days, the same definition as a repeat victim (`cdp.repeats`, whose measures are keyed on the
person column `victim_id`: here it holds the offender key).

IOM cohort file (CDP_IOM_COHORT)
--------------------------------
CSV, UTF-8, a header row, one row per cohort member::

    offender_id,start_date,cohort
    O3F9A21C7,2023-06-14,IOM fixed
    O77B0D412,2023-07-02,IOM flex

- `offender_id`: the member's pseudonymised key, as the partner extract writes it;
- `start_date`: the day they entered the cohort, YYYY-MM-DD;
- `cohort`: optional name, to compare several cohorts (blank: "IOM cohort").
A member appears once per cohort. Other columns are ignored. Anything else is refused with the file,
the line and the reason.

Before and after: a member's offences in the 365 days before the start date, against the start
date and the 364 days after. Only members whose two years lie inside the loaded data are compared;
the change is judged by the Wilcoxon signed-rank test on each member's before and after counts.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.stats import wilcoxon

from . import filters as flt
from . import repeat_windows, repeats, victimisation
from .disclosure import TrueValues
from .markup import chart
from .priorities import PRIORITIES, PRIORITY_KEYS, priority_column
from .queries import data_months, ward_names
from .reference import ReferenceFileError, day, read_rows
from .stats import ALPHA, format_p

COHORT_ENV = "CDP_IOM_COHORT"
DEFAULT_COHORT = "IOM cohort"
WINDOW_DAYS = repeats.WINDOW_DAYS
OFFENCE = "NOT is_asb AND offender_id IS NOT NULL"
TOP_OFFENDERS = 50


def _offence_condition(f: flt.Filters, **where_options) -> tuple[str, list]:
    condition, params = flt.where(f, **where_options)
    return f"{condition} AND {OFFENCE}", params


def _as_person_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Offence rows keyed the way cdp.repeats' measures read them (the person in `victim_id`)."""
    return rows.rename(columns={"offender_id": "victim_id"})


# --- repeat offenders and time to the next offence ---------------------------------------------

def has_offender_keys(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any loaded incident names an offender (police.uk data names none)."""
    return bool(con.execute("SELECT count(offender_id) > 0 FROM incidents").fetchall()[0][0])


def offender_rows(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> pd.DataFrame:
    """Offences matching every shared filter, for the offenders with one in the period: from 12
    months before the period to the end of the data (so the next offence can be followed)."""
    condition, params = _offence_condition(f, period=False)
    last = data_months(con)[1] or f.end
    return con.execute(f"""
        WITH chosen AS (SELECT DISTINCT offender_id FROM incidents
                        WHERE {condition} AND month BETWEEN ? AND ?)
        SELECT offender_id, month, occurred_at FROM incidents
        WHERE {condition} AND month BETWEEN ? AND ? AND offender_id IN (SELECT offender_id FROM chosen)
        ORDER BY offender_id, coalesce(occurred_at, month)""",
        params + [f.start, f.end] + params + [flt.month_add(f.start, -12), last]).df()


def offence_coverage(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> dict:
    """Crimes in the period, and how many of them name an offender."""
    condition, params = flt.where(f)
    crimes, named = con.execute(f"""
        SELECT count(*), count(offender_id) FROM incidents WHERE {condition} AND NOT is_asb""",
        params).fetchall()[0]
    return {"crimes": int(crimes), "with_offender": int(named),
            "share": named / crimes if crimes else None}


def repeat_offending(con: duckdb.DuckDBPyConnection, f: flt.Filters) -> dict:
    """Offenders in the period and those with 2 or more offences within 365 days.

    Returns offenders, repeat_offenders, repeat_share, offences (in-period offences with an
    offender), offences_by_repeat, offence_share (their share of those offences), curve (Kaplan-
    Meier time to the same offender's next offence, repeats.time_to_next, followed to the end of
    the data), within (share followed by another within 28, 90 and 365 days), coverage
    (`offence_coverage`), lookback_complete, data_end.
    """
    condition, params = _offence_condition(f, period=False)
    first, last = data_months(con)
    start, end = repeat_windows.period_days(f.start, f.end)
    data_end = repeat_windows.month_end(last) if last else end
    summary, curve = repeat_windows.person_measures(con, condition, params, f.start, f.end,
                                                   flt.month_add(f.start, -12), last or f.end,
                                                   data_end, person="offender_id")
    return {"offenders": summary["victims"], "repeat_offenders": summary["repeat_victims"],
            "repeat_share": summary["repeat_share"], "offences": summary["incidents"],
            "offences_by_repeat": summary["incidents_to_repeat_victims"],
            "offence_share": summary["repeat_incident_share"], "curve": curve,
            "within": {days: victimisation.repeat_within(curve, days) for days in (28, 90, 365)},
            "coverage": offence_coverage(con, f),
            "lookback_complete": repeat_windows.lookback_complete(first, f.start), "data_end": data_end}


def survival_figure(curve: pd.DataFrame):
    """The time-to-next-offence curve (repeat victimisation's figure, labelled for offences)."""
    fig = victimisation.survival_figure(curve)
    fig.update_layout(xaxis_title="Days since the offence", yaxis_title="Share with no further offence")
    fig.update_traces(selector={"name": "No repeat yet"}, name="No further offence yet",
                      hovertemplate="%{x} days: %{y:.1%} no further offence yet<extra></extra>")
    return fig


# --- the most frequent offenders (analysts only) ------------------------------------------------

def frequent_offenders(con: duckdb.DuckDBPyConnection, f: flt.Filters, top: int = TOP_OFFENDERS,
                       cohort: pd.DataFrame | None = None) -> pd.DataFrame:
    """The offenders with the most offences in the period under every shared filter, ranked.

    Columns: rank, offender_id, offences (in the period), latest_12_months (offences in the 12
    months to the period end), first, latest (dates), ward (of most of their offences), categories
    (the commonest three), priorities (offences per priority, most first), victims (distinct victim
    keys linked), and in_cohort (the cohorts of `cohort` the key belongs to, when given). Person-
    level: only for viewers who may see person keys, and every view or export is audited.
    """
    condition, params = _offence_condition(f)
    window = [flt.month_add(f.end, -11), f.end]
    sums = ", ".join(f"sum({priority_column(k)}::INT) AS n_{k}" for k in PRIORITY_KEYS)
    table = con.execute(f"""
        WITH offences AS (SELECT * FROM incidents WHERE {condition}),
        ranked AS (SELECT offender_id, count(*) AS offences,
                          count(*) FILTER (WHERE month BETWEEN ? AND ?) AS latest_12_months,
                          min(coalesce(occurred_at, month))::DATE AS first,
                          max(coalesce(occurred_at, month))::DATE AS latest,
                          count(DISTINCT victim_id) AS victims, {sums}
                   FROM offences GROUP BY offender_id
                   ORDER BY offences DESC, latest DESC, offender_id LIMIT {int(top)}),
        wards AS (SELECT offender_id, arg_max(ward_code, n) AS ward_code FROM (
                      SELECT offender_id, ward_code, count(*) AS n FROM offences
                      WHERE offender_id IN (SELECT offender_id FROM ranked) AND ward_code IS NOT NULL
                      GROUP BY ALL) GROUP BY offender_id),
        categories AS (SELECT offender_id, string_agg(category || ' ' || n, ', ' ORDER BY n DESC, category)
                              AS categories FROM (
                           SELECT offender_id, category, count(*) AS n,
                                  row_number() OVER (PARTITION BY offender_id ORDER BY count(*) DESC,
                                                     category) AS k
                           FROM offences WHERE offender_id IN (SELECT offender_id FROM ranked)
                           GROUP BY offender_id, category) WHERE k <= 3 GROUP BY offender_id)
        SELECT ranked.*, wards.ward_code, categories.categories FROM ranked
        LEFT JOIN wards USING (offender_id) LEFT JOIN categories USING (offender_id)
        ORDER BY offences DESC, latest DESC, offender_id""", params + window).df()
    names = ward_names(con)
    table.insert(0, "rank", range(1, len(table) + 1))
    table["ward"] = table.pop("ward_code").map(names).fillna(victimisation.NOT_RECORDED)
    labels = {p.key: p.label for p in PRIORITIES}
    counts = table[[f"n_{k}" for k in PRIORITY_KEYS]]
    table["priorities"] = [", ".join(f"{labels[k]} {int(row[f'n_{k}'])}"
                                     for k in sorted(PRIORITY_KEYS, key=lambda k: -row[f"n_{k}"])
                                     if row[f"n_{k}"] > 0) for _, row in counts.iterrows()]
    table = table.drop(columns=list(counts.columns))
    if cohort is not None:
        member_of = cohort.groupby("offender_id")["cohort"].agg(lambda names: ", ".join(sorted(set(names))))
        table["in_cohort"] = table["offender_id"].map(member_of).fillna("")
    columns = ["rank", "offender_id", "offences", "latest_12_months", "first", "latest", "ward",
               "categories", "priorities", "victims"] + (["in_cohort"] if cohort is not None else [])
    return table[columns]


# --- the IOM cohort file and its before / after -------------------------------------------------

def load_cohort(path: str | Path) -> pd.DataFrame:
    """The IOM cohort file (format in the module docstring): line, offender_id, start_date
    (date), cohort. ReferenceFileError names the file, the line and the reason."""
    records, seen = [], {}
    for line, row in read_rows(path, ("offender_id", "start_date"), what="cohort members"):
        key = row["offender_id"]
        if not key:
            raise ReferenceFileError(path, line, "the offender_id is empty")
        start = day(path, line, "start_date", row["start_date"])
        cohort = row.get("cohort", "") or DEFAULT_COHORT
        if (key, cohort) in seen:
            raise ReferenceFileError(path, line, f"offender {key} appears again in {cohort} "
                                                 f"(first on line {seen[key, cohort]})")
        seen[key, cohort] = line
        records.append({"line": line, "offender_id": key, "start_date": start, "cohort": cohort})
    return pd.DataFrame.from_records(records)


def cohort_offences(con: duckdb.DuckDBPyConnection, keys: tuple[str, ...]) -> pd.DataFrame:
    """Every counted offence of the given offender keys, in the whole loaded area and period (the
    sidebar's filters do not apply: a cohort is followed wherever and whatever it offends)."""
    if not keys:
        return pd.DataFrame(columns=["offender_id", "date"])
    everything = flt.Filters(start=date(1900, 1, 1), end=date(1900, 1, 1))
    condition, params = _offence_condition(everything, period=False)
    return con.execute(f"""
        SELECT offender_id, coalesce(occurred_at, month)::DATE AS date FROM incidents
        WHERE {condition} AND offender_id IN (SELECT unnest(?::VARCHAR[]))""",
        params + [list(keys)]).df()


def before_after(members: pd.DataFrame, offences: pd.DataFrame, data_start: date,
                 data_end: date, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Each member's offences in the `window_days` before their start date and from it on.

    Columns: cohort, offender_id, start_date, before, after, complete (both windows inside the
    data, from `data_start` to `data_end`), known (any offence of theirs in the data at all).
    """
    dates = pd.to_datetime(offences["date"]) if len(offences) else pd.Series(dtype="datetime64[ns]")
    by_key = {k: np.sort(g.to_numpy("datetime64[D]"))
              for k, g in dates.groupby(offences["offender_id"])} if len(offences) else {}
    rows = []
    for m in members.itertuples():
        start = np.datetime64(m.start_date, "D")
        days = by_key.get(m.offender_id, np.array([], "datetime64[D]"))
        before = int(((days >= start - window_days) & (days < start)).sum())
        after = int(((days >= start) & (days < start + window_days)).sum())
        complete = (m.start_date - timedelta(days=window_days) >= data_start
                    and m.start_date + timedelta(days=window_days - 1) <= data_end)
        rows.append({"cohort": m.cohort, "offender_id": m.offender_id, "start_date": m.start_date,
                     "before": before, "after": after, "complete": complete, "known": len(days) > 0})
    return pd.DataFrame(rows, columns=["cohort", "offender_id", "start_date", "before", "after",
                                       "complete", "known"])


def cohort_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per cohort: members, compared (complete windows), incomplete, unknown (no offence in the
    data), offences before and after and per member, fewer / more / same (members), p_value
    (Wilcoxon signed-rank on before - after; None when every member's counts are equal), verdict."""
    out = []
    for name, group in table.groupby("cohort", sort=True):
        compared = group[group["complete"]]
        before, after = int(compared["before"].sum()), int(compared["after"].sum())
        differences = compared["after"] - compared["before"]
        p_value = None
        if (differences != 0).any():
            p_value = float(wilcoxon(compared["before"], compared["after"]).pvalue)
        if p_value is None or p_value >= ALPHA:
            verdict = "no significant change"
        else:
            verdict = "significant fall" if after < before else "significant rise"
        n = len(compared)
        out.append({"cohort": name, "members": len(group), "compared": n,
                    "incomplete": int((~group["complete"]).sum()), "unknown": int((~group["known"]).sum()),
                    "before": before, "after": after,
                    "before_per_member": before / n if n else None, "after_per_member": after / n if n else None,
                    "fewer": int((differences < 0).sum()), "more": int((differences > 0).sum()),
                    "same": int((differences == 0).sum()), "p_value": p_value, "verdict": verdict})
    return pd.DataFrame(out)


def cohort_outcomes(con: duckdb.DuckDBPyConnection, members: pd.DataFrame) -> dict:
    """Before and after for a cohort file's members: members (before_after), summary
    (cohort_summary), data (first and last day of the loaded data)."""
    first, last = data_months(con)
    if first is None:
        return {"members": before_after(members, pd.DataFrame(columns=["offender_id", "date"]),
                                        date.min, date.min), "summary": pd.DataFrame(), "data": None}
    data_start, data_end = first, repeat_windows.month_end(last)
    offences = cohort_offences(con, tuple(sorted(set(members["offender_id"]))))
    table = before_after(members, offences, data_start, data_end)
    return {"members": table, "summary": cohort_summary(table), "data": (data_start, data_end)}


def per_member(row, figures: TrueValues) -> tuple[float, float] | None:
    """A cohort's offences per member before and after entry, as `figures` publishes them: for a
    restricted viewer from the published counts, and None unless every count is publishable."""
    if not figures.publishable(row["compared"], row["before"], row["after"]) or not row["compared"]:
        return None
    if not figures.restricted:
        return row["before_per_member"], row["after_per_member"]
    return figures.share(row["before"], row["compared"]), figures.share(row["after"], row["compared"])


def cohort_sentence(row, figures: TrueValues | None = None, text=str) -> str:
    """One cohort's before and after in words, with the test (its verdict alone, and only when
    every count is publishable, for a restricted viewer: `figures`); `text` makes the cohort's
    name (from the file) safe for where the sentence is shown."""
    figures = figures or TrueValues()
    count = figures.text
    name = text(row["cohort"])
    if not row["compared"]:
        return (f"{name}: none of the {count(row['members'])} members has 12 months before and "
                "after entry inside the loaded data yet.")
    rates = per_member(row, figures)
    shown = ("per member withheld (small numbers)" if rates is None else
             f"{rates[0]:.1f} against {rates[1]:.1f} per member")
    sentence = (f"{name}: {count(row['compared'])} members with 12 months before and after entry "
                f"committed {count(row['before'])} offences in the year before and "
                f"{count(row['after'])} in the year after ({shown})")
    if row["p_value"] is None or pd.isna(row["p_value"]):
        return sentence + ": no member's count changed."
    if figures.restricted:
        return sentence + (f": {row['verdict']} (Wilcoxon signed-rank test)." if rates is not None else ".")
    return sentence + f": {row['verdict']} (Wilcoxon signed-rank test, {format_p(row['p_value'])})."


def cohort_figure(summary: pd.DataFrame, figures: TrueValues | None = None, height: int = 300) -> go.Figure:
    """Offences per member in the year before and the year after entry, per cohort, as `figures`
    publishes them (cohorts whose figures are withheld are left out)."""
    figures = figures or TrueValues()
    shown = [(row["cohort"], per_member(row, figures)) for _, row in summary.iterrows() if row["compared"] > 0]
    shown = [(name, rates) for name, rates in shown if rates is not None]
    names = [chart(name) for name, _ in shown]
    fig = go.Figure()
    for side, label, colour in ((0, "Year before entry", "#9aa5b1"), (1, "Year after entry", "#1f4e79")):
        values = [rates[side] for _, rates in shown]
        fig.add_trace(go.Bar(x=names, y=values, name=label, marker_color=colour,
                             text=[f"{v:.1f}" for v in values], textposition="outside",
                             hovertemplate="%{x}: %{y:.1f} offences per member<extra>" + label + "</extra>"))
    fig.update_layout(height=height, barmode="group", margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": "Offences per member", "font": {"size": 14}},
                      yaxis={"rangemode": "tozero"}, legend={"orientation": "h", "y": -0.2},
                      plot_bgcolor="white")
    return fig


# Members enter a cohort when their offending peaks, so it tends to fall afterwards whatever the
# scheme does (regression to the mean): the page says so beside every before-and-after figure.
REGRESSION_NOTE = ("People join an IOM cohort when their offending is at its height, so it would "
                   "usually fall afterwards even without the scheme (regression to the mean). A fall "
                   "is not evidence that IOM works unless a comparable group not in the cohort is "
                   "measured the same way.")

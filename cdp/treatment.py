"""Substance misuse treatment: the NDTMS figures (National Drug Treatment Monitoring System, Office
for Health Improvement and Disparities) by period and substance group, read from one file that
both the substance misuse page and the board's "maintain successful completions" target read.

File format (CDP_TREATMENT)
---------------------------
CSV, UTF-8 (a byte-order mark is allowed), a header row, one row per period (and substance
group, when the file gives them)::

    month,substance,in_treatment,successful_completions,re_presentations
    2024-04,opiate,1290,6,1
    2024-04,non-opiate,362,9,0
    2024-04,alcohol,771,22,2
    2024-04,alcohol and non-opiate,402,10,1

- The period: a `month` column (YYYY-MM), or instead a `quarter` column (YYYY-Qn, calendar
  quarters: 2024-Q1 is January to March 2024). Each period once per substance group.
- `substance` (optional): `opiate`, `non-opiate`, `alcohol` or `alcohol and non-opiate`, NDTMS's
  four groups (their published labels, such as "Non-opiate only" or "Non-opiate and alcohol", and
  `_` for spaces are accepted), or `all` for a row of all groups together. Without the column
  every row is all groups together. A period without an `all` row must list every group the file
  uses; the groups are exclusive (each person is in one), so they add up to all substances.
- `in_treatment`: people in treatment at any time in the 12 months up to the end of the period
  (NDTMS's rolling count);
- `successful_completions`: people who left treatment successfully in the period, no more than
  `in_treatment`;
- `re_presentations` (optional): of those completions, how many came back to treatment within six
  months; blank where not yet known (the latest six months).
Whole numbers of 0 or more (thousands separators allowed). Other columns are ignored.

The file before this release (`month,successful_completions,in_treatment`, one row per month,
all substances) is this format without the optional columns, and reads as before.

Rates: the successful completion rate for 12 months ending with a period is the completions of
those 12 months over `in_treatment` of the last period; the re-presentation rate is the
re-presentations over those completions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from . import filters as flt
from .disclosure import TrueValues
from .reference import ReferenceFileError, first_time, month, read_rows, whole_number
from .stats import compare_proportions, format_p

ENV = "CDP_TREATMENT"
COUNTS = ("in_treatment", "successful_completions")
SUBSTANCES = ("opiate", "non-opiate", "alcohol", "alcohol and non-opiate")
ALL = "all"
LABELS = {"opiate": "Opiate", "non-opiate": "Non-opiate only", "alcohol": "Alcohol only",
          "alcohol and non-opiate": "Alcohol and non-opiate", ALL: "All substances"}
COLOURS = {"opiate": "#1f4e79", "non-opiate": "#c0504d", "alcohol": "#e0a100",
           "alcohol and non-opiate": "#2e7d32", ALL: "#444444"}
_NAMES = {"opiate": "opiate", "opiates": "opiate", "non opiate": "non-opiate",
          "non opiates": "non-opiate", "alcohol": "alcohol",
          "alcohol and non opiate": "alcohol and non-opiate",
          "non opiate and alcohol": "alcohol and non-opiate",
          "alcohol and non opiates": "alcohol and non-opiate",
          "alcohol non opiate": "alcohol and non-opiate", "non opiate alcohol": "alcohol and non-opiate",
          "all": ALL, "total": ALL,
          "all substances": ALL, "": ALL}
_QUARTER = re.compile(r"(\d{4})-?Q([1-4])", re.IGNORECASE)


def _substance(path, line: int, text: str) -> str:
    name = re.sub(r"\s+", " ", text.casefold().replace("_", " ").replace("-", " ").replace("&", " and "))
    name = re.sub(r" only$", "", name.strip())
    if name not in _NAMES:
        raise ReferenceFileError(path, line, f"substance '{text}' is not one of NDTMS's groups "
                                             f"({', '.join(SUBSTANCES)}) or all")
    return _NAMES[name]


def _quarter(path, line: int, text: str) -> date:
    found = _QUARTER.fullmatch(text)
    if not found:
        raise ReferenceFileError(path, line, f"quarter '{text}' is not a quarter written YYYY-Qn "
                                             "(e.g. 2024-Q1 for January to March)" if text else
                                 "quarter is empty")
    return date(int(found[1]), 3 * int(found[2]) - 2, 1)


def period_label(start: date, months: int) -> str:
    """'Apr 2024', or 'Q1 2024 (Jan to Mar)'."""
    if months == 1:
        return f"{start:%b %Y}"
    end = flt.month_add(start, months - 1)
    return f"Q{(start.month - 1) // 3 + 1} {start.year} ({start:%b} to {end:%b})"


def load(path: str | Path) -> pd.DataFrame:
    """The treatment file (format in the module docstring), one row per period and substance.

    Columns: line, period (date, first month), months (1 or 3), substance (one of SUBSTANCES or
    "all"), in_treatment, successful_completions, re_presentations (nullable). ReferenceFileError
    names the file, the line and the reason.
    """
    if not Path(path).exists():
        raise ReferenceFileError(path, None, f"the treatment file does not exist (check {ENV})")
    rows = read_rows(path, COUNTS, what="periods")
    header = set(rows[0][1])
    if ("month" in header) == ("quarter" in header):
        raise ReferenceFileError(path, 1, "give the period in a month column (YYYY-MM) or a quarter "
                                          "column (YYYY-Qn), not both" if "month" in header else
                                 "no month or quarter column (the period: YYYY-MM or YYYY-Qn)")
    by_quarter = "quarter" in header
    records, seen = [], {}
    for line, row in rows:
        start = _quarter(path, line, row["quarter"]) if by_quarter else month(path, line, "month", row["month"])
        substance = _substance(path, line, row.get("substance", ""))
        in_treatment = whole_number(path, line, "in_treatment", row["in_treatment"])
        completions = whole_number(path, line, "successful_completions", row["successful_completions"])
        again = whole_number(path, line, "re_presentations", row.get("re_presentations", ""), blank_ok=True)
        if completions > in_treatment:
            raise ReferenceFileError(path, line, f"{completions:,} successful completions is more than the "
                                                 f"{in_treatment:,} people in treatment")
        if again is not None and again > completions:
            raise ReferenceFileError(path, line, f"{again:,} re-presentations is more than the "
                                                 f"{completions:,} successful completions")
        written = row["quarter"] if by_quarter else row["month"]
        key = (start, substance)
        first_time(path, line, key, seen, f"{'quarter' if by_quarter else 'month'} {written}"
                   + ("" if substance == ALL else f" {substance}"))
        records.append({"line": line, "period": start, "months": 3 if by_quarter else 1,
                        "substance": substance, "in_treatment": in_treatment,
                        "successful_completions": completions, "re_presentations": again})
    frame = pd.DataFrame.from_records(records)
    frame["re_presentations"] = frame["re_presentations"].astype("Int64")
    groups = set(frame["substance"]) - {ALL}
    for period, lines in frame.groupby("period"):
        present = set(lines["substance"])
        if ALL not in present and present != groups:
            lacking = ", ".join(sorted(groups - present))
            raise ReferenceFileError(path, int(lines["line"].min()),
                                     f"{period_label(period, int(lines['months'].iat[0]))} lacks {lacking} "
                                     "(a period without an 'all' row must list every substance group)")
    return frame.sort_values(["period", "substance"], ignore_index=True)


def totals(frame: pd.DataFrame) -> pd.DataFrame:
    """All substances per period: the 'all' row where given, else the sum of the groups.

    Columns: month (Timestamp of the period's first month), months, successful_completions,
    in_treatment, re_presentations (missing when any group's is unknown).
    """
    rows = []
    for period, lines in frame.groupby("period", sort=True):
        chosen = lines[lines["substance"] == ALL] if (lines["substance"] == ALL).any() else lines
        again = chosen["re_presentations"]
        rows.append({"month": pd.Timestamp(period), "months": int(lines["months"].iat[0]),
                     "successful_completions": int(chosen["successful_completions"].sum()),
                     "in_treatment": int(chosen["in_treatment"].sum()),
                     "re_presentations": pd.NA if again.isna().any() else int(again.sum())})
    out = pd.DataFrame(rows)
    out["re_presentations"] = out["re_presentations"].astype("Int64")
    return out


def twelve_months(periods: pd.DataFrame, start: date, end: date) -> tuple[int, int] | str:
    """(successful completions from `start` to `end`, people in treatment in the 12 months to
    `end`) from a `totals` frame, or why the file cannot give them."""
    step = int(periods["months"].iat[0])
    by_start = periods.set_index("month")
    last_start = flt.month_add(end, 1 - step)
    if step > 1 and (start.month - 1) % step:
        return (f"the file gives quarters, which do not start in {start:%B %Y}")
    wanted = [pd.Timestamp(flt.month_add(start, i)) for i in range(0, flt.months_between(start, end), step)]
    missing = [m for m in wanted if m not in by_start.index]
    if missing:
        unit = "month" if step == 1 else "quarter"
        return (f"the file lacks {len(missing)} {unit}(s) of {start:%B %Y} to {end:%B %Y}, e.g. "
                f"{period_label(missing[0].date(), step) if step > 1 else f'{missing[0]:%B %Y}'}")
    return (int(by_start.loc[wanted, "successful_completions"].sum()),
            int(by_start.loc[pd.Timestamp(last_start), "in_treatment"]))


def last_month(periods: pd.DataFrame) -> date:
    """The last month the file covers."""
    latest = periods["month"].max().date()
    return flt.month_add(latest, int(periods["months"].iat[0]) - 1)


@dataclass(frozen=True)
class TreatmentIndicator:
    """The treatment file as configured, for the board's target: `frame` (its `totals`) when read,
    `error` when not readable, or neither when no file is configured. `synthetic`: the demo's
    synthetic file."""
    path: str | None
    frame: pd.DataFrame | None = None
    error: str | None = None
    synthetic: bool = False


def indicator(path: str | Path | None, synthetic: bool = False) -> TreatmentIndicator:
    """The treatment file at `path` read for the board's target (or its error)."""
    if path is None:
        return TreatmentIndicator(None)
    try:
        return TreatmentIndicator(str(path), frame=totals(load(path)), synthetic=synthetic)
    except ReferenceFileError as exc:
        return TreatmentIndicator(str(path), error=str(exc), synthetic=synthetic)


# --- the substance misuse page -------------------------------------------------------------------

def rolling(frame: pd.DataFrame) -> pd.DataFrame:
    """Per substance group (and all substances) and period: in_treatment, completions_12m,
    completion_rate, re_presentations_12m and re_presentation_rate (where every period of the 12
    months has them), for each period that ends 12 months of the file's periods.

    Columns: substance, period, period_end (its last month), label, in_treatment,
    successful_completions (the period's own), completions_12m, completion_rate,
    re_presentations_12m, re_presentation_rate.
    """
    step = int(frame["months"].iat[0])
    window = 12 // step
    parts = []
    groups = [s for s in SUBSTANCES if s in set(frame["substance"])]
    every = totals(frame).rename(columns={"month": "period"}).assign(substance=ALL)
    every["period"] = every["period"].dt.date
    for substance, lines in [(s, frame[frame["substance"] == s]) for s in groups] + [(ALL, every)]:
        lines = lines.set_index("period").sort_index()
        index = [flt.month_add(lines.index.min(), i * step)
                 for i in range(flt.months_between(lines.index.min(), lines.index.max()) // step + 1)]
        lines = lines.reindex(index)
        completions = lines["successful_completions"].astype("float")
        again = lines["re_presentations"].astype("float")
        sums = completions.rolling(window, min_periods=window).sum()
        again_sums = again.rolling(window, min_periods=window).sum()
        table = pd.DataFrame({
            "substance": substance, "period": index,
            "period_end": [flt.month_add(p, step - 1) for p in index],
            "label": [period_label(p, step) for p in index],
            "in_treatment": lines["in_treatment"].to_numpy(float),
            "successful_completions": completions.to_numpy(),
            "completions_12m": sums.to_numpy()})
        table["completion_rate"] = table["completions_12m"] / table["in_treatment"]
        table["re_presentations_12m"] = again_sums.to_numpy()
        table["re_presentation_rate"] = table["re_presentations_12m"] / table["completions_12m"]
        parts.append(table.dropna(subset=["in_treatment"]))
    return pd.concat(parts, ignore_index=True)


def published(table: pd.DataFrame, figures: TrueValues) -> pd.DataFrame:
    """`rolling` as `figures` publishes it: for a restricted viewer the counts published and each
    rate worked out from the published counts, only where both are publishable."""
    if not figures.restricted:
        return table
    out = figures.frame(table, ["in_treatment", "successful_completions", "completions_12m",
                                "re_presentations_12m"])
    for rate, part, whole in (("completion_rate", "completions_12m", "in_treatment"),
                              ("re_presentation_rate", "re_presentations_12m", "completions_12m")):
        shares = [figures.share(p, w) for p, w in zip(table[part], table[whole])]
        out[rate] = pd.Series(shares, index=table.index, dtype=float)
    return out


def latest_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Per substance: the latest 12 months' completion rate against the 12 months a year earlier
    (a two-proportion z-test; the two years share some people, so it is a guide).

    Columns: substance, label, period_end, in_treatment, completions_12m, completion_rate,
    previous_rate, verdict, p_value, re_presentation_rate and re_presentation_end (the latest 12
    months whose re-presentations are all known, and their last month).
    """
    out = []
    for substance in [s for s in (*SUBSTANCES, ALL) if s in set(table["substance"])]:
        rows = table[(table["substance"] == substance)].dropna(subset=["completion_rate"])
        if rows.empty:
            continue
        latest = rows.iloc[-1]
        earlier = rows[rows["period_end"] == flt.month_add(latest["period_end"], -12)]
        known = rows.dropna(subset=["re_presentation_rate"])
        record = {"substance": substance, "label": LABELS[substance], "period_end": latest["period_end"],
                  "in_treatment": int(latest["in_treatment"]), "completions_12m": int(latest["completions_12m"]),
                  "completion_rate": latest["completion_rate"], "previous_rate": None, "verdict": None,
                  "p_value": None,
                  "re_presentation_rate": known["re_presentation_rate"].iat[-1] if len(known) else None,
                  "re_presentation_end": known["period_end"].iat[-1] if len(known) else None}
        if len(earlier):
            e = earlier.iloc[0]
            test = compare_proportions(int(latest["completions_12m"]), int(latest["in_treatment"]),
                                       int(e["completions_12m"]), int(e["in_treatment"]))
            if test is not None:
                record.update(previous_rate=e["completion_rate"], p_value=test.p_value,
                              previous_completions=int(e["completions_12m"]),
                              previous_in_treatment=int(e["in_treatment"]),
                              verdict=test.verdict("significant rise", "significant fall",
                                                   "no significant change"))
        out.append(record)
    return pd.DataFrame(out)


def comparison_sentence(row, figures: TrueValues | None = None) -> str:
    """'Opiate: 5.1% of 1,290 in treatment completed successfully in the 12 months to March 2025
    (66 completions); a year earlier 5.6%: no significant change (p = 0.62).'

    For a restricted viewer (`figures`) the counts are published, the rates worked out from them
    and the test given as its verdict alone, each only when every count behind it is publishable."""
    figures = figures or TrueValues()
    completions, people = row["completions_12m"], row["in_treatment"]
    if not figures.publishable(completions, people):
        return f"{row['label']}: withheld (small numbers)."
    rate = figures.share(completions, people)
    text = (f"{row['label']}: {rate:.1%} of {figures.text(people)} in treatment "
            f"completed successfully in the 12 months to {row['period_end']:%B %Y} "
            f"({figures.text(completions)} completions)")
    if pd.isna(row["verdict"]):
        return text + "."
    if not figures.restricted:
        return text + f"; a year earlier {row['previous_rate']:.1%}: {row['verdict']} ({format_p(row['p_value'])})."
    before = (row["previous_completions"], row["previous_in_treatment"])
    if not figures.publishable(*before):
        return text + "; a year earlier: withheld (small numbers)."
    return text + f"; a year earlier {figures.share(*before):.1%}: {row['verdict']}."


def rates_figure(table: pd.DataFrame, column: str = "completion_rate", title: str = "",
                 height: int = 340) -> go.Figure:
    """One line per substance group (and all substances) of a rate over time."""
    fig = go.Figure()
    for substance in [s for s in (*SUBSTANCES, ALL) if s in set(table["substance"])]:
        rows = table[table["substance"] == substance].dropna(subset=[column])
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(rows["period_end"]), y=rows[column], mode="lines", name=LABELS[substance],
            line={"color": COLOURS[substance], "width": 3 if substance == ALL else 2,
                  "dash": "dot" if substance == ALL else "solid"},
            customdata=rows[["label"]], hovertemplate="%{customdata[0]}: %{y:.1%}<extra>"
                                                      + LABELS[substance] + "</extra>"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": title, "font": {"size": 14}},
                      yaxis={"tickformat": ".0%", "rangemode": "tozero"},
                      legend={"orientation": "h", "y": -0.2}, plot_bgcolor="white")
    return fig


def numbers_figure(table: pd.DataFrame, height: int = 340) -> go.Figure:
    """People in treatment (rolling 12 months) per substance group, stacked."""
    fig = go.Figure()
    for substance in [s for s in SUBSTANCES if s in set(table["substance"])] or [ALL]:
        rows = table[table["substance"] == substance]
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(rows["period_end"]), y=rows["in_treatment"], name=LABELS[substance],
            mode="lines", stackgroup="in treatment", line={"color": COLOURS[substance], "width": 1},
            customdata=rows[["label"]],
            hovertemplate="%{customdata[0]}: %{y:,.0f}<extra>" + LABELS[substance] + "</extra>"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": "People in treatment in the 12 months to each period", "font": {"size": 14}},
                      yaxis={"rangemode": "tozero", "tickformat": ",d"},
                      legend={"orientation": "h", "y": -0.2}, plot_bgcolor="white")
    return fig

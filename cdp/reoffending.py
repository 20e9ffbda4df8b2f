"""Proven reoffending: the Ministry of Justice's published statistics for the local authority,
their trend against England and Wales and over time, adult and juvenile offenders apart.

The MoJ's proven reoffending statistics (published quarterly) follow each cohort of offenders
(released from custody, convicted at court or cautioned in a three-month or twelve-month period)
for a year, and count those who commit a proven reoffence. The local authority tables give, for
each cohort period and offender type, the offenders in the cohort, the reoffenders, the
reoffences, the proportion who reoffend and the reoffences per reoffender, with England and
Wales alongside for comparison.

File format (CDP_REOFFENDING)
-----------------------------
CSV, UTF-8 (a byte-order mark is allowed), a header row, one row per cohort period, offender type
and area, as the published tables lay them out::

    cohort_start,cohort_end,area,offender_type,offenders,reoffenders,reoffences,proportion_reoffending,reoffences_per_reoffender
    2022-01,2022-03,Nottingham,adult,812,243,934,29.9,3.84
    2022-01,2022-03,England and Wales,adult,103421,25964,98660,25.1,3.80
    2022-01,2022-03,Nottingham,juvenile,61,22,83,36.1,3.77

- `cohort_start`, `cohort_end`: the cohort period's first and last month, YYYY-MM (the published
  "January to March 2022" cohort is 2022-01 to 2022-03); at most 12 months; cohorts of one area
  and offender type must not overlap.
- `area`: the local authority as published (name or code), or `England and Wales` (or its code
  K04000001) for the national comparison. The file holds one local authority; a file with several
  (e.g. the MoJ data tool's export) needs CDP_REOFFENDING_AREA to name the one to show.
- `offender_type`: `adult` or `juvenile` (`adults`, `juveniles` and any capitals accepted).
- `offenders`, `reoffenders`, `reoffences`: whole numbers (thousands separators allowed);
  reoffenders no more than offenders, reoffences at least one per reoffender.
- `proportion_reoffending` (a percentage, 0-100) and `reoffences_per_reoffender`: optional; when
  given they are checked against the counts, to the decimals written.
Other columns are ignored. England and Wales rows are optional; a cohort without one has no
national comparison. Anything else is refused with the file, the line and the reason.

Tests
-----
Each local cohort is compared with the rest of England and Wales (the national figures less the
local ones, so the two groups are independent), and with the cohort of the same length a year
earlier (the same months: seasonally fair), by the two-sided two-proportion z-test (pooled) at
p < 0.05. Intervals are Wilson 95% intervals.
"""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from . import filters as flt
from .charts import PALETTE
from .disclosure import WITHHELD, TrueValues
from .markup import chart
from .reference import ReferenceFileError, first_time, month, read_rows, whole_number
from .stats import compare_proportions, format_p, proportion_interval

ENV = "CDP_REOFFENDING"
AREA_ENV = "CDP_REOFFENDING_AREA"
REQUIRED = ("cohort_start", "cohort_end", "area", "offender_type", "offenders", "reoffenders",
            "reoffences")
OFFENDER_TYPES = ("adult", "juvenile")
_TYPE_NAMES = {"adult": "adult", "adults": "adult", "juvenile": "juvenile", "juveniles": "juvenile"}
ENGLAND_AND_WALES = "England and Wales"
_NATIONAL = {"england and wales", "k04000001"}
MAX_COHORT_MONTHS = 12
TYPE_LABELS = {"adult": "Adult offenders", "juvenile": "Juvenile offenders"}


def configured_area() -> str | None:
    """CDP_REOFFENDING_AREA: which local authority of a many-area file to show."""
    return os.environ.get(AREA_ENV, "").strip() or None


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def _check_published(path, line: int, column: str, text: str, actual: float | None,
                     percent: bool = False) -> None:
    """A published figure must agree with the counts to the decimals it is written with."""
    if not text:
        return
    raw = text.rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ReferenceFileError(path, line, f"{column} '{text}' is not a number") from None
    if actual is None:
        return
    tolerance = 0.5 * 10 ** -_decimals(raw) + 1e-9
    if abs(value - actual) <= tolerance:
        return
    hint = ""
    if percent and abs(value * 100 - actual) <= tolerance * 100:
        hint = " (it looks like a share: write the percentage, e.g. 29.9 for 29.9%)"
    raise ReferenceFileError(path, line, f"{column} {text} does not match the counts, which give "
                                         f"{actual:.{max(_decimals(raw), 1)}f}{hint}")


def _row(path, line: int, row: dict[str, str]) -> dict:
    start = month(path, line, "cohort_start", row["cohort_start"])
    end = month(path, line, "cohort_end", row["cohort_end"])
    if end < start:
        raise ReferenceFileError(path, line, f"cohort_end {row['cohort_end']} is before cohort_start "
                                             f"{row['cohort_start']}")
    if flt.months_between(start, end) > MAX_COHORT_MONTHS:
        raise ReferenceFileError(path, line, f"the cohort {row['cohort_start']} to {row['cohort_end']} "
                                             f"is longer than {MAX_COHORT_MONTHS} months")
    area = row["area"]
    if not area:
        raise ReferenceFileError(path, line, "the area is empty (the local authority, or England and Wales)")
    kind = _TYPE_NAMES.get(row["offender_type"].casefold())
    if kind is None:
        raise ReferenceFileError(path, line, f"offender_type '{row['offender_type']}' is not adult or juvenile")
    offenders = whole_number(path, line, "offenders", row["offenders"])
    reoffenders = whole_number(path, line, "reoffenders", row["reoffenders"])
    reoffences = whole_number(path, line, "reoffences", row["reoffences"])
    if reoffenders > offenders:
        raise ReferenceFileError(path, line, f"{reoffenders:,} reoffenders is more than the "
                                             f"{offenders:,} offenders in the cohort")
    if reoffences < reoffenders:
        raise ReferenceFileError(path, line, f"{reoffences:,} reoffences is fewer than the {reoffenders:,} "
                                             "reoffenders (each reoffender has at least one)")
    _check_published(path, line, "proportion_reoffending", row.get("proportion_reoffending", ""),
                     100 * reoffenders / offenders if offenders else None, percent=True)
    _check_published(path, line, "reoffences_per_reoffender", row.get("reoffences_per_reoffender", ""),
                     reoffences / reoffenders if reoffenders else None)
    national = area.casefold() in _NATIONAL
    return {"line": line, "area": ENGLAND_AND_WALES if national else area, "national": national,
            "offender_type": kind, "cohort_start": start, "cohort_end": end, "offenders": offenders,
            "reoffenders": reoffenders, "reoffences": reoffences}


def load_reoffending(path: str | Path, area: str | None = None) -> pd.DataFrame:
    """The proven reoffending file (format in the module docstring): one row per cohort, offender
    type and area (the local authority, and England and Wales where given).

    Columns: line, area, national, offender_type, cohort_start, cohort_end (dates, first of
    month), offenders, reoffenders, reoffences. `area` picks one local authority of a file that
    holds several. ReferenceFileError names the file, the line and the reason.
    """
    records = [_row(path, line, row) for line, row in read_rows(path, REQUIRED, what="cohorts")]
    local_areas = list(dict.fromkeys(r["area"] for r in records if not r["national"]))
    if area:
        wanted = area.strip().casefold()
        chosen = [a for a in local_areas if a.casefold() == wanted]
        if not chosen:
            raise ReferenceFileError(path, None, f"no rows for the area '{area}' ({AREA_ENV}); the file "
                                                 f"holds {', '.join(local_areas) or 'England and Wales only'}")
        records = [r for r in records if r["national"] or r["area"] == chosen[0]]
    elif len(local_areas) > 1:
        shown = ", ".join(local_areas[:5]) + (", ..." if len(local_areas) > 5 else "")
        raise ReferenceFileError(path, None, f"the file holds {len(local_areas)} local authorities "
                                             f"({shown}): set {AREA_ENV} to the one to show")
    elif not local_areas:
        raise ReferenceFileError(path, None, "the file holds only England and Wales rows: add the "
                                             "local authority's rows")
    seen: dict[tuple, int] = {}
    for r in records:
        key = (r["area"], r["offender_type"], r["cohort_start"], r["cohort_end"])
        first_time(path, r["line"], key, seen, f"the {r['offender_type']} cohort "
                   f"{cohort_label(r['cohort_start'], r['cohort_end'])} of {r['area']}")
    frame = pd.DataFrame.from_records(records).sort_values(
        ["national", "area", "offender_type", "cohort_start"], ignore_index=True)
    for _, group in frame.groupby(["area", "offender_type"]):
        previous = None
        for r in group.itertuples():
            if previous is not None and r.cohort_start <= previous.cohort_end:
                raise ReferenceFileError(path, r.line, f"the {r.offender_type} cohort "
                                         f"{cohort_label(r.cohort_start, r.cohort_end)} overlaps "
                                         f"{cohort_label(previous.cohort_start, previous.cohort_end)} on "
                                         f"line {previous.line} (one series of cohorts per offender type)")
            previous = r
    local = frame[~frame["national"]]
    national = frame[frame["national"]].set_index(["offender_type", "cohort_start", "cohort_end"])
    for r in local.itertuples():
        key = (r.offender_type, r.cohort_start, r.cohort_end)
        if key not in national.index:
            continue
        ew = national.loc[key]
        if ew["offenders"] < r.offenders or ew["reoffenders"] < r.reoffenders or ew["reoffences"] < r.reoffences:
            raise ReferenceFileError(path, int(ew["line"]), f"England and Wales has fewer offenders, "
                                     f"reoffenders or reoffences than {r.area} (line {r.line}) for the "
                                     f"{r.offender_type} cohort {cohort_label(r.cohort_start, r.cohort_end)}: "
                                     "the national figures include the local ones")
    return frame


def cohort_label(start: date, end: date) -> str:
    """'Jan to Mar 2022', 'Apr 2021 to Mar 2022' or 'Mar 2022'."""
    if start == end:
        return f"{start:%b %Y}"
    if start.year == end.year:
        return f"{start:%b} to {end:%b %Y}"
    return f"{start:%b %Y} to {end:%b %Y}"


def cohorts(frame: pd.DataFrame) -> pd.DataFrame:
    """The local cohorts with their measures and tests, one row per offender type and cohort.

    Columns: area, offender_type, cohort_start, cohort_end, cohort (label), offenders, reoffenders,
    reoffences, proportion (share reoffending), ci_low, ci_high (Wilson 95%),
    reoffences_per_reoffender, ew_proportion (England and Wales, where given), rest_proportion
    (the rest of England and Wales), vs_ew (verdict against the rest of England and Wales),
    vs_ew_p, year_earlier (the proportion of the same months a year earlier, where loaded),
    vs_year (verdict), vs_year_p. Sorted by offender type and cohort.
    """
    local = frame[~frame["national"]].copy()
    national = frame[frame["national"]].set_index(["offender_type", "cohort_start", "cohort_end"])
    local_by_key = local.set_index(["offender_type", "cohort_start", "cohort_end"])
    out = []
    for r in local.sort_values(["offender_type", "cohort_start"]).itertuples():
        low, high = proportion_interval(r.reoffenders, r.offenders)
        row = {"area": r.area, "offender_type": r.offender_type, "cohort_start": r.cohort_start,
               "cohort_end": r.cohort_end, "cohort": cohort_label(r.cohort_start, r.cohort_end),
               "offenders": r.offenders, "reoffenders": r.reoffenders, "reoffences": r.reoffences,
               "proportion": r.reoffenders / r.offenders if r.offenders else None,
               "ci_low": low, "ci_high": high,
               "reoffences_per_reoffender": r.reoffences / r.reoffenders if r.reoffenders else None,
               "ew_proportion": None, "rest_proportion": None, "vs_ew": None, "vs_ew_p": None,
               "year_earlier": None, "vs_year": None, "vs_year_p": None}
        key = (r.offender_type, r.cohort_start, r.cohort_end)
        if key in national.index:
            ew = national.loc[key]
            rest_n, rest_x = int(ew["offenders"]) - r.offenders, int(ew["reoffenders"]) - r.reoffenders
            row["ew_proportion"] = ew["reoffenders"] / ew["offenders"] if ew["offenders"] else None
            test = compare_proportions(r.reoffenders, r.offenders, rest_x, rest_n)
            if test is not None:
                row.update(rest_proportion=test.share_b, vs_ew_p=test.p_value,
                           vs_ew=test.verdict("significantly higher", "significantly lower",
                                              "not significantly different"))
        earlier = (r.offender_type, flt.month_add(r.cohort_start, -12), flt.month_add(r.cohort_end, -12))
        if earlier in local_by_key.index:
            before = local_by_key.loc[earlier]
            test = compare_proportions(r.reoffenders, r.offenders, int(before["reoffenders"]),
                                       int(before["offenders"]))
            if test is not None:
                row.update(year_earlier=test.share_b, vs_year_p=test.p_value,
                           vs_year=test.verdict("significant rise", "significant fall",
                                                "no significant change"))
        out.append(row)
    return pd.DataFrame(out)


def published(table: pd.DataFrame, figures: TrueValues) -> pd.DataFrame:
    """`cohorts` as `figures` publishes its derived figures: for a restricted viewer each cohort's
    proportion, interval and reoffences per reoffender are worked out from its published counts,
    and only when they are publishable (missing otherwise); the tests keep their verdict only when
    every count behind them is publishable, never their p-value, and the rest of England and Wales
    (the national figures less the true local ones) is left out. The count columns stay true:
    they are shown through `figures`."""
    if not figures.restricted:
        return table
    out = table.copy()
    count = figures.count
    by_key = {(r.offender_type, r.cohort_start): r for r in table.itertuples()}
    for i, r in zip(table.index, table.itertuples()):
        shown = figures.publishable(r.offenders, r.reoffenders)
        x, n = (int(count(r.reoffenders)), int(count(r.offenders))) if shown else (None, None)
        low, high = proportion_interval(x, n) if shown else (None, None)
        earlier = by_key.get((r.offender_type, flt.month_add(r.cohort_start, -12)))
        compared = earlier is not None and shown and figures.publishable(earlier.offenders, earlier.reoffenders)
        out.loc[i, ["proportion", "ci_low", "ci_high", "reoffences_per_reoffender", "rest_proportion",
                    "vs_ew_p", "vs_year_p", "year_earlier"]] = [
            figures.share(r.reoffenders, r.offenders), low, high,
            figures.share(r.reoffences, r.reoffenders) if shown and figures.publishable(r.reoffences) else None,
            None, None, None, figures.share(earlier.reoffenders, earlier.offenders) if compared else None]
        out.loc[i, ["vs_ew", "vs_year"]] = [r.vs_ew if shown else None, r.vs_year if compared else None]
    return out


def _withheld(row, figures: TrueValues) -> bool:
    """Whether a cohort's figures are withheld from a restricted viewer (a count of 1-4 behind them)."""
    return figures.restricted and not _known(row["proportion"])


def _known(value) -> bool:
    return value is not None and not pd.isna(value)


def _pct(share) -> str:
    return f"{share:.1%}" if _known(share) else ""


def _tested(verdict, p) -> str:
    """'not significantly different (p = 0.41)'; the verdict alone where the p-value is not shown."""
    return f"{verdict} ({format_p(p)})" if _known(p) else verdict


def latest_sentence(table: pd.DataFrame, offender_type: str, figures: TrueValues | None = None) -> str | None:
    """The latest cohort of one offender type in words: its proportion and both tests. `table`
    as `published` gives it for `figures` (default: true values)."""
    figures = figures or TrueValues()
    rows = table[table["offender_type"] == offender_type]
    if rows.empty:
        return None
    r = rows.iloc[-1]
    who = TYPE_LABELS[offender_type]
    if _withheld(r, figures):
        return f"{who}, {r['cohort']} cohort: withheld (small numbers)."
    counts = f"{figures.text(r['reoffenders'])} of {figures.text(r['offenders'])}"
    text = (f"{who}, {r['cohort']} cohort: {_pct(r['proportion'])} reoffended within a year "
            f"({counts}; 95% interval {_pct(r['ci_low'])} to {_pct(r['ci_high'])}).")
    if _known(r["vs_ew"]):
        rest = f" ({_pct(r['rest_proportion'])})" if _known(r["rest_proportion"]) else ""
        text += f" Against the rest of England and Wales{rest}: {_tested(r['vs_ew'], r['vs_ew_p'])}."
    else:
        text += " No England and Wales figure for this cohort."
    if _known(r["vs_year"]):
        text += (f" Against the same months a year earlier ({_pct(r['year_earlier'])}): "
                 f"{_tested(r['vs_year'], r['vs_year_p'])}.")
    return text


def display_table(table: pd.DataFrame, figures: TrueValues | None = None) -> pd.DataFrame:
    """The cohorts as the page shows them, newest first, `table` as `published` gives it for
    `figures` (default: true values): counts through `figures`, figures not shown as WITHHELD."""
    figures = figures or TrueValues()
    rows = []
    for _, r in table.sort_values("cohort_start", ascending=False).iterrows():
        hide = _withheld(r, figures)
        per = r["reoffences_per_reoffender"]
        rows.append({
            "Offenders": TYPE_LABELS[r["offender_type"]].split()[0],
            "Cohort": r["cohort"],
            "In the cohort": figures.text(r["offenders"]),
            "Reoffenders": figures.text(r["reoffenders"]),
            "Reoffences": figures.text(r["reoffences"]),
            "Proportion reoffending": WITHHELD if hide else _pct(r["proportion"]),
            "Reoffences per reoffender": f"{per:.2f}" if _known(per) else WITHHELD if hide else "",
            "England and Wales": _pct(r["ew_proportion"]),
            "Against the rest of England and Wales": _tested(r["vs_ew"], r["vs_ew_p"]) if _known(r["vs_ew"]) else "",
            "Against a year earlier": _tested(r["vs_year"], r["vs_year_p"]) if _known(r["vs_year"]) else "",
        })
    return pd.DataFrame(rows)


def trend_figure(table: pd.DataFrame, offender_type: str, height: int = 360) -> go.Figure:
    """The proportion reoffending per cohort (with its 95% interval) against England and Wales;
    `table` as `published` gives it (a cohort whose proportion is not shown is not drawn)."""
    rows = table[table["offender_type"] == offender_type]
    rows = rows.dropna(subset=["proportion"])
    fig = go.Figure()
    if rows.empty:
        fig.add_annotation(text="No cohorts to show", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    else:
        x = pd.to_datetime(rows["cohort_end"])
        y = rows["proportion"] * 100
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", name=chart(rows["area"].iat[0]),
            line={"color": PALETTE["primary"], "width": 2},
            error_y={"type": "data", "symmetric": False, "array": rows["ci_high"] * 100 - y,
                     "arrayminus": y - rows["ci_low"] * 100, "color": PALETTE["muted"], "thickness": 1},
            customdata=rows[["cohort"]].assign(verdict=rows["vs_ew"].fillna("no national figure")),
            hovertemplate="%{customdata[0]}: %{y:.1f}%<br>Against the rest of England and Wales: "
                          "%{customdata[1]}<extra></extra>"))
        national = rows.dropna(subset=["ew_proportion"])
        if len(national):
            fig.add_trace(go.Scatter(
                x=pd.to_datetime(national["cohort_end"]), y=national["ew_proportion"].astype(float) * 100,
                mode="lines", name=ENGLAND_AND_WALES, line={"color": PALETTE["accent"], "dash": "dash"},
                hovertemplate="England and Wales: %{y:.1f}%<extra></extra>"))
        significant = rows[rows["vs_ew"].isin(["significantly higher", "significantly lower"])]
        if len(significant):
            fig.add_trace(go.Scatter(
                x=pd.to_datetime(significant["cohort_end"]), y=significant["proportion"] * 100,
                mode="markers", name="Significantly different from the rest of England and Wales",
                marker={"symbol": "circle-open", "size": 14, "color": PALETTE["accent"], "line": {"width": 2}},
                hoverinfo="skip"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": f"{TYPE_LABELS[offender_type]}: proportion reoffending within a year",
                             "font": {"size": 14}},
                      yaxis={"title": "% reoffending", "rangemode": "tozero"},
                      xaxis={"title": "Cohort (its last month)"},
                      legend={"orientation": "h", "y": -0.25}, plot_bgcolor="white")
    return fig

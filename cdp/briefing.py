"""Board briefing: the plan's targets, progress per priority, and the deck exports.

Every figure this module hands out for display passes through the disclosure layer
(cdp.disclosure), published whoever is looking: the briefing is a board view and its decks are
marked for publication (DESIGN.md). Counts of 1-4 read "<5", others are rounded; totals are rounded
on their own beside the months shown with them; changes, rates, target statuses, control charts
and tests are worked out from the published counts, only when those are publishable, and tests
give a verdict, never a p-value. No person keys leave this module.

The targets file (baseline year, targets, definitions) is read by `cdp.targets`.

Treatment file
--------------
The `treatment` measure reads the NDTMS treatment file (CDP_TREATMENT, or the synthetic demo's
copy) through `cdp.treatment`, whose docstring gives its format: all substance groups together,
city-wide (the ward filter does not apply to it).
"""
from __future__ import annotations

import html
import io
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from . import counting, disclosure, queries, trends, victimisation
from . import filters as flt
from . import treatment as treatment_file
from .charts import PALETTE, svg_line
from .reference import ReferenceFileError
from .priorities import PRIORITIES, PRIORITY_BY_KEY, PRIORITY_KEYS, count_condition, counted_unit
from .disclosure import TrueValues
from .stats import (ALPHA, EXCEPTION_COLUMNS, compare_periods, control_chart, describe_signals,
                    format_p, rate_ratio_test)
from .targets import (AIMS, CRIME_PANEL, DEFAULT_TARGETS_FILE, MEASURES, TARGETS_ENV,  # noqa: F401
                      BriefingConfigError, Target, TargetsConfig, load_targets, period_label,
                      targets_path)

LATEST_MONTHS = 12
CHART_MONTHS = 24
TOP_EXCEPTIONS = 3
EXCEPTION_WINDOW = "quarter"
WITHHELD = "withheld (small numbers)"
CHANGE_WITHHELD = "change withheld (small numbers)"


# --- the treatment file (cdp.treatment reads it) -------------------------------------------------

TREATMENT_ENV = treatment_file.ENV
TreatmentIndicator = treatment_file.TreatmentIndicator


def treatment_path() -> Path | None:
    value = os.environ.get(TREATMENT_ENV, "").strip()
    return Path(value).expanduser() if value else None


def load_treatment(path: str | Path) -> pd.DataFrame:
    """All substances per period of a treatment file (cdp.treatment.totals). Raises
    BriefingConfigError "<file>, line <n>: <reason>"."""
    try:
        return treatment_file.totals(treatment_file.load(path))
    except ReferenceFileError as exc:
        raise BriefingConfigError(str(exc)) from None


def treatment_indicator(path: str | Path | None = None, synthetic: bool = False) -> TreatmentIndicator:
    """The treatment file at `path` (else CDP_TREATMENT), read or with its error."""
    return treatment_file.indicator(Path(path) if path is not None else treatment_path(), synthetic)


# --- target progress --------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    status: str                 # "on track", "behind" or "not measurable"
    change_pct: float | None    # latest against baseline, % (negative: a fall)


def target_progress(target: Target, baseline: float | None, latest: float | None) -> Progress:
    """Where `latest` stands against `baseline` for `target`.

    reduce by p%: on track when the fall is at least p% (p = 0: any fall); maintain (p%): on
    track when latest is at least baseline x (1 - p/100). From a baseline of 0, a reduction is
    on track only at 0, and maintain always is.
    """
    if baseline is None or latest is None or (isinstance(baseline, float) and math.isnan(baseline)):
        return Progress("not measurable", None)
    change = None if baseline == 0 else (latest / baseline - 1) * 100
    if target.aim == "maintain":
        on_track = latest >= baseline * (1 - target.percent / 100) - 1e-12
    elif baseline == 0:
        on_track = latest == 0
    elif target.percent > 0:
        on_track = -change >= target.percent - 1e-9
    else:
        on_track = latest < baseline
    return Progress("on track" if on_track else "behind", change)


def _percent_text(change: float, target_percent: float) -> str:
    """'down 18%', 'up 4%', 'unchanged'; one decimal when a whole number would look like the target."""
    size = abs(change)
    digits = 1 if abs(round(size) - target_percent) < 1 and target_percent else 0
    if round(size, digits) == 0:
        return "unchanged"
    return f"{'down' if change < 0 else 'up'} {size:.{digits}f}%"


def target_wording(target: Target) -> str:
    """'target 25%' (a fall of 25%), 'target any fall', 'target no fall' (maintain)."""
    if target.aim == "maintain":
        return "target no fall" if not target.percent else f"target no fall beyond {target.percent:g}%"
    return f"target {target.percent:g}%" if target.percent else "target any fall"


def progress_sentence(subject: str, target: Target, progress: Progress | None,
                      change_text: str | None = None) -> str:
    """e.g. 'ASB down 18% against the baseline; target 25%: behind.'

    `progress` None means the status is withheld; `change_text` overrides the change wording
    (e.g. 'change withheld (small numbers)').
    """
    if progress is not None and progress.status == "not measurable":
        return f"{subject}: not measurable against the baseline; {target_wording(target)}."
    if change_text is None:
        change_text = ("no baseline to compare (0 in the baseline)" if progress.change_pct is None
                       else _percent_text(progress.change_pct, target.percent) + " against the baseline")
    status = progress.status if progress is not None else WITHHELD
    return f"{subject} {change_text}; {target_wording(target)}: {status}."


# --- data from the store ----------------------------------------------------------------------

@dataclass(frozen=True)
class BriefingData:
    """Aggregates behind the briefing for one ward selection (no person-level rows)."""
    data_first: date | None
    data_last: date | None         # the latest complete month (cdp.counting), the end of "latest"
    latest_start: date | None
    latest_end: date | None
    coverage: dict                 # key (and CRIME_PANEL) -> counting.Coverage of the latest 12 months
    wards: tuple[str, ...]
    ward_names: dict
    monthly: pd.DataFrame          # month index; columns "crime" and every priority key
    exceptions: pd.DataFrame       # stats.exceptions rows (latest 3 months, ward level)
    repeats: dict                  # priority -> victimisation.repeat_target(...) for repeat targets
    has_victims: bool
    baseline_reason: dict = field(default_factory=dict)  # key -> why the baseline is not compared
    not_counted: counting.NotCounted | None = None         # of the latest 12 months
    exceptions_reason: dict = field(default_factory=dict)  # key -> why its exceptions are not tested


def ignored_filters(f: flt.Filters, text: Callable[[str], str] = str) -> list[str]:
    """The shared filters that are set but do not apply to the briefing, in words with their
    values ('categories Noise', 'victims aged 18-24', 'within 500 m of ...'); names from data or
    typed by the user go through `text` (cdp.markup.md for markdown)."""
    categories = [f"categories {', '.join(text(c) for c in f.categories)}"] if f.categories else []
    return categories + flt.in_words(f, text)


def _monthly(con, f: flt.Filters, start: date, end: date) -> pd.DataFrame:
    condition, params = flt.where(replace(f, priorities=PRIORITY_KEYS), period=False)
    sums = ", ".join([f"count(*) FILTER (WHERE NOT is_asb) AS {CRIME_PANEL}"]
                     + [f"count(*) FILTER (WHERE {count_condition(k)}) AS {k}" for k in PRIORITY_KEYS])
    frame = con.execute(f"SELECT month, {sums} FROM incidents WHERE {condition} "
                        f"AND month BETWEEN ? AND ? GROUP BY month", params + [start, end]).df()
    months = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS", name="month")
    return frame.set_index("month").reindex(months, fill_value=0).astype(int)


def _ward_exceptions(con, f: flt.Filters, ward_names: dict, keys: tuple[str, ...]) -> pd.DataFrame:
    """The exceptions of the latest 3 months to `f.end` at ward level, against the same months of
    earlier years (trends.exceptions_table's method)."""
    if not keys:
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    counts = trends.exception_counts(con, replace(f, priorities=PRIORITY_KEYS), keys, EXCEPTION_WINDOW)
    counts = counts[counts["ward_code"].notna()]
    return trends.seasonal_exceptions(counts, pd.Timestamp(f.end), EXCEPTION_WINDOW, ward_names)


def briefing_data(con: duckdb.DuckDBPyConnection, wards: tuple[str, ...],
                  targets: TargetsConfig) -> BriefingData:
    """Everything the briefing needs from the store for a ward selection (empty: all wards), for
    every priority: monthly counts from the baseline year (or 24 months back) to the latest
    complete month (cdp.counting: every source covers it), the ward exceptions of the latest 3
    months, the rates behind repeat targets, the coverage of the latest 12 months, whether the
    baseline year may be compared with them, and what is not counted.

    Only the wards are taken from the shared filters: the briefing always compares the latest 12
    months with the baseline year, and its measures are the plan's, not a subset of people or
    places. Priorities are chosen afterwards, in `build_panels`.
    """
    f = flt.Filters(start=targets.baseline_start, end=targets.baseline_end, wards=tuple(wards))
    first, data_last = queries.data_months(con)
    months = counting.months(con)
    last = months.last_complete() or data_last
    ward_names = queries.ward_names(con)
    if last is None:
        return BriefingData(None, None, None, None, {}, f.wards, ward_names,
                            pd.DataFrame(), pd.DataFrame(), {}, False)
    latest_start = max(first, flt.month_add(last, -(LATEST_MONTHS - 1)))
    latest = (latest_start, last)
    baseline = (targets.baseline_start, targets.baseline_end)
    start = min(targets.baseline_start, flt.month_add(last, -(CHART_MONTHS - 1)))
    monthly = _monthly(con, f, start, last)
    cover = {k: months.coverage(k, *latest) for k in PRIORITY_KEYS}
    cover[CRIME_PANEL] = counting.Coverage("full", "")
    reasons = {k: months.comparable(k, latest, baseline) for k in PRIORITY_KEYS}
    reasons[CRIME_PANEL] = months.why_not_compared(latest, baseline)
    available = tuple(k for k in PRIORITY_KEYS if cover[k].level != "unavailable")
    scope = replace(f, start=last, end=last)
    ward_exceptions = _ward_exceptions(con, scope, ward_names, available)
    exceptions_reason = {k: reason for k, (_, reason) in
                         trends.exception_starts(con, scope, EXCEPTION_WINDOW, available).items() if reason}
    has_victims = queries.has_victim_keys(con)
    repeats = {}
    for target in targets.targets:
        if target.measure == "repeat_rate" and has_victims and target.priority not in repeats:
            repeats[target.priority] = victimisation.repeat_target(
                con, latest_start, last, target.priority, f.wards, targets)
    latest_filters = replace(f, start=latest_start, end=last)
    return BriefingData(first, last, latest_start, last, cover, f.wards, ward_names, monthly,
                        ward_exceptions, repeats, has_victims, reasons,
                        counting.not_counted(con, latest_filters), exceptions_reason)


# --- panels: what the board sees --------------------------------------------------------------

@dataclass(frozen=True)
class TargetLine:
    label: str
    status: str          # "on track", "behind", "not measurable", "no data", NOT_SUPPLIED or WITHHELD
    sentence: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Panel:
    """One priority (or all crime) as the board sees it: display text as the disclosure layer publishes it."""
    key: str
    title: str
    unit: str
    coverage: str
    coverage_note: str
    headline: str                   # the latest 12 months' count as shown ("1,234", "<5")
    headline_label: str
    comparison: str                 # latest 12 months against the baseline year, in words
    targets: tuple[TargetLine, ...]
    chart_status: str               # "In control", "Signal", or why there is no status
    chart_sentences: tuple[str, ...]
    chart: pd.DataFrame | None = field(default=None, compare=False)  # control chart; None if withheld
    chart_note: str = ""
    exceptions: tuple[str, ...] = ()
    exceptions_note: str = ""
    notes: tuple[str, ...] = ()


def comparison_sentence(latest, baseline, baseline_label: str, reason: str | None = None,
                        figures: TrueValues | None = None) -> str:
    """The latest 12 months against the baseline year, judged by the exact rate-ratio test.
    `latest` and `baseline` are the totals as `figures` published them (None: withheld); the
    change and the verdict are worked out from them, only when both are publishable, and a
    restricted view gets the verdict without its p-value. `reason`: why the baseline is not
    compared (then `baseline` is ignored)."""
    figures = figures or disclosure.published()
    if reason is not None:
        return f"Not compared with the baseline year ({baseline_label}): {reason}."
    text = f"Against {figures.shown_text(baseline)} in the baseline year ({baseline_label})"
    if not (disclosure.usable(latest) and disclosure.usable(baseline)):
        return f"{text}: {CHANGE_WITHHELD}."
    result = compare_periods(int(latest), int(baseline))
    change = (("up from none" if latest else "none in either") if result.pct_change is None
              else _percent_text(result.pct_change, 0))
    judged = ("not a significant change" if result.verdict == "no significant change"
              else f"a {result.verdict}")
    if not figures.restricted:
        judged += f" ({format_p(result.p_value)})"
    return f"{text}: {change}, {judged}."


_MONTH_YEAR = re.compile(r"(January|February|March|April|May|June|July|August|September|October|"
                         r"November|December) (\d{4})")


def _ends_since(sentence: str, since: pd.Timestamp) -> bool:
    """Whether a `describe_signals` sentence describes a signal that lasts into `since` or later:
    a run still going ("since ..."), else the last month the sentence names."""
    if " since " in sentence:
        return True
    months = _MONTH_YEAR.findall(sentence)
    return bool(months) and pd.Timestamp(f"{months[-1][0]} {months[-1][1]}") >= since


def _chart_summary(series: pd.Series) -> tuple[str, tuple[str, ...]]:
    """Control-chart status of a monthly series: 'Signal' when any of the latest 12 months
    signals on an XmR chart of the last 24 months, else 'In control'; with those signals in words."""
    chart = control_chart(series, "xmr")
    recent = chart["signal"].to_numpy()[-LATEST_MONTHS:]
    if not recent.any():
        return "In control", ()
    since = pd.Timestamp(series.index[-LATEST_MONTHS])
    return "Signal", tuple(s for s in describe_signals(chart) if _ends_since(s, since))


def chart_status(series: pd.Series, figures: TrueValues | None = None
                 ) -> tuple[str, tuple[str, ...], pd.DataFrame | None, str]:
    """Control-chart status, signal sentences, the chart to plot and a note, all from the months
    as `figures` publishes them: the chart's counts are the published counts, and its mean, limits
    and signals are worked out from them when every month is publishable. A month shown as "<5"
    is a gap in the line, and then the chart has no mean, limits, signals or status (a test is
    shown only when every count behind it is publishable)."""
    figures = figures or disclosure.published()
    series = series.astype(int)
    if len(series) < 12:
        return "too few months", (), None, ""
    shown = figures.counts(series) if figures.restricted else series.astype(float)
    if not shown.isna().any():
        status, sentences = _chart_summary(shown)
        return status, sentences, control_chart(shown, "xmr"), ""
    chart = control_chart(shown.fillna(0), "xmr")
    chart["count"] = shown.to_numpy()
    chart[["centre", "ucl", "lcl"]] = np.nan
    chart["signal"] = False
    return WITHHELD, (), chart, (f"Months shown as \"<{figures.rule.threshold}\" are gaps in the chart, "
                                 "and with them the chart has no mean, limits or signals.")


def exception_sentence(row: pd.Series, unit: str, ward_names: dict, figures: TrueValues | None = None) -> str:
    """One plain sentence for an exceptions row, its counts as `figures` publishes them (see
    `board_exceptions`): a restricted view gets the published counts, the expected count and
    ratio worked out from them, and no p-value."""
    figures = figures or disclosure.published()
    label = PRIORITY_BY_KEY[row["priority"]].label
    ward = ward_names.get(row["ward_code"], row["ward_code"])
    higher = row["direction"] == "above"
    observed = figures.count(row["observed"])
    expected = (figures.count(row["baseline"]) / row["baseline_years"] if figures.restricted
                else row["expected"])
    text = (f"{label} in {ward}: {figures.text(row['observed']) if observed else 'no'} {unit} in "
            f"{row['period_label']}, {'more' if higher else 'fewer'} than the "
            f"{expected:,.1f} expected from {row['baseline_label']}")
    tested = "" if figures.restricted else format_p(row["p_value"])
    if observed and expected > 0:
        ratio = observed / expected
        text += f" ({ratio:,.1f} times the usual rate" + (f", {tested})" if tested else ")")
    elif tested:
        text += f" ({tested})"
    return text + "."


def board_exceptions(rows: pd.DataFrame, unit: str, ward_names: dict, figures: TrueValues | None = None,
                     top: int = TOP_EXCEPTIONS) -> tuple[tuple[str, ...], str]:
    """The strongest exceptions of one priority as sentences, as `figures` publishes them.

    A restricted view lists only rows whose counts in the latest 3 months and in their baseline
    (the same months of earlier years) are publishable, and only those the same test still finds
    on the published counts, so a listed exception says nothing the published counts do not.
    """
    figures = figures or disclosure.published()
    if figures.restricted and len(rows):
        window = {"month": 1, "quarter": 3}[EXCEPTION_WINDOW]
        kept = [figures.publishable(o, b) and rate_ratio_test(
                    int(figures.count(o)), window, int(figures.count(b)), window * y).p_value < ALPHA
                for o, b, y in zip(rows["observed"], rows["baseline"], rows["baseline_years"])]
        listed = rows[kept]
    else:
        listed = rows
    note = ""
    if len(listed) < len(rows):
        note = ("Exceptions with fewer than 5 in either period, or not found again from the "
                "rounded counts, are not listed.")
    return tuple(exception_sentence(r, unit, ward_names, figures) for _, r in listed.head(top).iterrows()), note


def _count_target(target: Target, subject: str, latest, baseline, reason: str | None = None) -> TargetLine:
    """A count target from the totals as published (None: withheld): its status and change
    worked out from them, only when both are publishable."""
    if reason is not None:
        return TargetLine(target.label, "not measurable",
                          progress_sentence(subject, target, Progress("not measurable", None)),
                          (f"Not compared: {reason}.",))
    if not (disclosure.usable(latest) and disclosure.usable(baseline)):
        return TargetLine(target.label, WITHHELD, progress_sentence(subject, target, None, CHANGE_WITHHELD))
    progress = target_progress(target, baseline, latest)
    return TargetLine(target.label, progress.status, progress_sentence(subject, target, progress))


def _rate_text(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.1%}" if denominator else "no victims"


def _rate_progress(target: Target, subject: str, latest: tuple[int, int], baseline: tuple[int, int],
                   figures: TrueValues) -> tuple[str, str, tuple[str, ...]]:
    """A rate target (`latest` and `baseline` each as (numerator, denominator), the numerator
    among the denominator): status, sentence, and each period's rate as shown, all worked out
    from the published counts and only when all four are publishable."""
    counts = (*latest, *baseline)

    def rate(n, d) -> str:
        if not d:
            return _rate_text(n, d)
        return _rate_text(figures.count(n), figures.count(d)) if figures.publishable(n, d) else WITHHELD

    rates = (rate(*latest), rate(*baseline))
    if not figures.publishable(*counts):
        return WITHHELD, progress_sentence(subject, target, None, CHANGE_WITHHELD), rates
    (nl, dl), (nb, db) = [(figures.count(n), figures.count(d)) for n, d in (latest, baseline)]
    progress = (Progress("not measurable", None) if not dl or not db
                else target_progress(target, nb / db, nl / dl))
    return progress.status, progress_sentence(subject, target, progress), rates


def _repeat_target(target: Target, rates: dict | None, data: BriefingData,
                   targets: TargetsConfig, figures: TrueValues | None = None) -> TargetLine:
    figures = figures or disclosure.published()
    label = PRIORITY_BY_KEY[target.priority].label.lower()
    subject = f"The {label} repeat victimisation rate"
    if rates is None:
        return TargetLine(target.label, "no data",
                          f"{subject} needs pseudonymous victim keys, which the loaded data does "
                          f"not have: load a partner extract.")
    reason = data.baseline_reason.get(target.priority)
    if reason:
        return TargetLine(target.label, "not measurable",
                          progress_sentence(subject, target, Progress("not measurable", None)),
                          (f"Not compared: {reason}.",))
    nb, db = rates["baseline"]["numerator"], rates["baseline"]["denominator"]
    nl, dl = rates["comparable"]["numerator"], rates["comparable"]["denominator"]
    status, sentence, (latest_rate, baseline_rate) = _rate_progress(target, subject, (nl, dl), (nb, db), figures)
    text = figures.text
    details = [
        f"Latest 12 months: {text(nl)} of {text(dl)} victims were repeat victims ({latest_rate}).",
        f"Baseline year: {text(nb)} of {text(db)} victims ({baseline_rate}).",
    ]
    if figures.publishable(nl, dl, nb, db) and dl and db:
        a, b, c, d = (int(figures.count(v)) for v in (nl, dl, nb, db))
        p = fisher_exact([[a, b - a], [c, d - c]]).pvalue
        details.append(f"{'A significant' if p < ALPHA else 'Not a significant'} change in the rate "
                       f"(Fisher's exact test" + ("" if figures.restricted else f", {format_p(p)}") + ").")
    if not rates.get("like_for_like"):
        details.append("The loaded data does not reach 12 months before the baseline year, so "
                       "the latest 12 months look back only as far as the baseline can, like for "
                       "like.")
    return TargetLine(target.label, status, sentence, tuple(details))


NOT_SUPPLIED = "not yet supplied"
NOT_SUPPLIED_TEXT = "The treatment indicator (NDTMS successful completions) is not yet supplied."


def treatment_how_to(treatment: TreatmentIndicator) -> str:
    """For the Data page (never a board slide): the treatment indicator's state and how to supply it."""
    supply = (f"set {TREATMENT_ENV} to the NDTMS treatment file: a month (or quarter), in_treatment and "
              "successful_completions, optionally by substance group (format in README.md, "
              "'Substance misuse treatment'), then restart the dashboard.")
    if treatment.path is None:
        return f"Not yet supplied. To show it, {supply}"
    if treatment.error:
        return f"The file cannot be used: {treatment.error} To fix it, {supply}"
    return (f"Read from {treatment.path}" + (" (synthetic demo figures)." if treatment.synthetic else ".")
            + f" To use another file, {supply}")


def _treatment_target(target: Target, treatment: TreatmentIndicator,
                      targets: TargetsConfig, figures: TrueValues | None = None) -> TargetLine:
    figures = figures or disclosure.published()
    if treatment.path is None or treatment.error:  # how to supply it is on the Data page
        return TargetLine(target.label, NOT_SUPPLIED, NOT_SUPPLIED_TEXT if treatment.path is None
                          else "The treatment file given cannot be read (the Data page says why).")
    last = treatment_file.last_month(treatment.frame)
    latest_start = flt.month_add(last, -(LATEST_MONTHS - 1))

    def twelve(start: date, end: date) -> tuple[int, int] | str:
        return treatment_file.twelve_months(treatment.frame, start, end)

    baseline, latest = twelve(targets.baseline_start, targets.baseline_end), twelve(latest_start, last)
    for name, value in (("baseline year", baseline), ("latest 12 months", latest)):
        if isinstance(value, str):
            return TargetLine(target.label, "not measurable",
                              f"Successful completions cannot be measured for the {name}: {value}.")
    (cb, tb), (cl, tl) = baseline, latest
    status, sentence, (latest_rate, baseline_rate) = _rate_progress(
        target, "The successful completion rate", (cl, tl), (cb, tb), figures)
    text = figures.text
    details = (
        f"12 months to {last:%B %Y}: {text(cl)} successful completions of {text(tl)} in treatment "
        f"({latest_rate}).",
        f"Baseline year ({targets.baseline_label}): {text(cb)} of {text(tb)} ({baseline_rate}).",
        ("City-wide synthetic demo figures" if treatment.synthetic
         else "City-wide figures from the NDTMS treatment file") + "; the ward filter does not apply.",
    )
    return TargetLine(target.label, status, sentence, details)


_SHORT_SUBJECT = {"asb": "ASB", CRIME_PANEL: "Crime"}


def _published_total(figures: TrueValues, monthly: pd.DataFrame, column: str, start: date, end: date,
                     charted: pd.DatetimeIndex):
    """The total of `column` from `start` to `end` as `figures` publishes it: rounded on its own,
    beside its months when the chart shows every one of them."""
    months = monthly.loc[pd.Timestamp(start):pd.Timestamp(end), column]
    parts = list(months) if months.index.isin(charted).all() else None
    return figures.total(int(months.sum()), parts)


def build_panels(data: BriefingData, targets: TargetsConfig, treatment: TreatmentIndicator,
                 priorities: tuple[str, ...] = PRIORITY_KEYS, figures: TrueValues | None = None) -> list[Panel]:
    """The briefing's panels as `figures` publishes them (by default the rule, cdp.disclosure:
    the briefing is a board view and its decks are for publication): all crime (when no
    priority is narrowed in the sidebar), then each chosen priority in the plan's order."""
    if data.data_last is None:
        return []
    figures = figures or disclosure.published()
    keys = ([CRIME_PANEL] if set(priorities) == set(PRIORITY_KEYS) else []) + \
        [p.key for p in PRIORITIES if p.key in priorities]
    latest_months = flt.months_between(data.latest_start, data.latest_end)
    # Only months the store covers: months before the data starts are not zeros.
    charted = data.monthly.index[-CHART_MONTHS:]
    charted = charted[charted >= pd.Timestamp(data.data_first)]

    def totals(column: str):
        """The latest 12 months and the baseline year of `column`, published (baseline None when
        it is not compared), and why not."""
        reason = data.baseline_reason.get(column)
        latest = _published_total(figures, data.monthly, column, data.latest_start, data.latest_end, charted)
        baseline = None if reason else _published_total(
            figures, data.monthly, column, targets.baseline_start, targets.baseline_end, charted)
        return latest, baseline, reason

    panels = []
    for key in keys:
        if key == CRIME_PANEL:
            title, unit, level, note = "All recorded crime", "crimes", "full", \
                "Every recorded crime in the selected wards, all crime types; ASB incidents are not added in."
        else:
            title, unit = PRIORITY_BY_KEY[key].label, counted_unit(key)
            level, note = data.coverage[key].level, data.coverage[key].note
        notes = []
        if latest_months < LATEST_MONTHS:
            notes.append(f"Only {latest_months} months are loaded, so the 'latest 12 months' are "
                         f"{period_label(data.latest_start, data.latest_end)}.")
        if level == "unavailable":
            panels.append(Panel(key, title, unit, level, note, "", "", "", (), "", ()))
            continue
        latest, baseline, reason = totals(key)
        status, sentences, chart, chart_note = chart_status(data.monthly.loc[charted, key], figures)
        lines = []
        for target in targets.targets_for(key):
            if target.measure in ("count", "all_crime"):
                column = target.priority or CRIME_PANEL
                subject = _SHORT_SUBJECT.get(column) or PRIORITY_BY_KEY[column].label
                lines.append(_count_target(target, subject, *totals(column)))
            elif target.measure == "repeat_rate":
                lines.append(_repeat_target(target, data.repeats.get(target.priority), data, targets, figures))
            else:
                lines.append(_treatment_target(target, treatment, targets, figures))
        found, exceptions_note = (), ""
        if key != CRIME_PANEL and not data.exceptions.empty:
            rows = data.exceptions[data.exceptions["priority"] == key]
            found, exceptions_note = board_exceptions(rows, unit, data.ward_names, figures)
        if key != CRIME_PANEL and data.exceptions_reason.get(key):
            exceptions_note = f"Exceptions are not tested: {data.exceptions_reason[key]}."
        elif key != CRIME_PANEL and not found and not exceptions_note:
            exceptions_note = "No ward stands out in the latest 3 months."
        panels.append(Panel(
            key, title, unit, level, note, figures.shown_text(latest),
            f"{unit[0].upper()}{unit[1:]}, latest 12 months",
            comparison_sentence(latest, baseline, targets.baseline_label, reason, figures), tuple(lines),
            status, sentences, chart, chart_note, found, exceptions_note, tuple(notes)))
    return panels


def period_caption(data: BriefingData, targets: TargetsConfig) -> str:
    """What every panel compares, in words."""
    if data.data_last is None:
        return "No data is loaded."
    return (f"Latest 12 months ({period_label(data.latest_start, data.latest_end)}) against the "
            f"baseline year ({targets.baseline_label}).")


def ward_caption(data: BriefingData) -> str:
    if not data.wards:
        return "All wards"
    names = [data.ward_names.get(w, w) for w in data.wards]
    return ", ".join(names) if len(names) <= 4 else f"{len(names)} wards"


METHOD_TEXT = ("Changes are judged with an exact Poisson rate-ratio test (p < 0.05); control charts "
               "are XmR charts of the last 24 months, a signal being a point beyond 3 sigma, 8 in a "
               "row on one side of the mean or 6 rising or falling, in the latest 12 months. "
               "Exceptions test each ward's latest 3 months against the same months of up to three "
               "earlier years (fair to the season). Only incidents inside the wards count, each "
               "once, and only complete months (every source loaded) are compared. ASB incidents "
               "and crimes are counted separately and never added.")


# --- figures ----------------------------------------------------------------------------------

def chart_caption(panel: Panel) -> str:
    """What the panel's chart draws, in words: its mean and limits only where it has them (a
    published chart beside a "<5" month has none)."""
    limits = panel.chart is not None and panel.chart["centre"].notna().any()
    return ("Monthly counts, last 24 months: mean (dashed), control limits (dotted), signals in red."
            if limits else "Monthly counts, last 24 months.")


def _ticks(top: float) -> np.ndarray:
    """Round values for a count axis from 0 to `top`: a step of 1, 2 or 5 times a power of ten
    (at least 1), giving two to five ticks."""
    rough = max(top / 4, 1.0)
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return np.arange(0, top + 1e-9, step)


def panel_svg(panel: Panel, width: int = 960, height: int = 280, namespace: bool = False) -> str:
    """The panel's control chart (monthly counts, mean, limits, signals) as a small self-contained
    SVG, '' when withheld: the one drawing of it on the page, in presentation mode and in both
    decks. A month published as "<5" is a gap; each point's month and count is its tooltip where
    the SVG is inline (the HTML deck). Drawn as an image, the page loads no charting library for
    it (seven Plotly charts took 0.6 s of the page's opening)."""
    chart = panel.chart
    if chart is None or chart.empty:
        return ""
    font = 28  # user units: about 24 px where the deck draws the chart at 1920x1080
    pad_left, pad_bottom, pad_top = 4 * font, font + 14, font // 2
    counts = chart["count"].to_numpy(float)
    top = max(float(np.nanmax(counts, initial=0)), float(np.nanmax(chart["ucl"].to_numpy(float), initial=0)),
              1.0) * 1.08
    n = len(counts)

    def x(i: int) -> float:
        return pad_left + (width - pad_left - 10) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return pad_top + (height - pad_top - pad_bottom) * (1 - v / top)

    xmlns = 'xmlns="http://www.w3.org/2000/svg" ' if namespace else ""
    parts = [f'<svg {xmlns}viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(panel.title)}: monthly counts">',
             f'<line x1="{pad_left}" y1="{y(0):.1f}" x2="{width - 10}" y2="{y(0):.1f}" stroke="#444" stroke-width="1"/>']
    for value in _ticks(top):
        parts.append(f'<text x="{pad_left - 8}" y="{y(value) + font / 3:.1f}" font-size="{font}" text-anchor="end" '
                     f'fill="#444" font-family="DejaVu Sans, Arial, sans-serif">{value:,.0f}</text>')
    for column, colour, dash in (("centre", PALETTE["muted"], "8 6"), ("ucl", PALETTE["muted"], "3 5"),
                                 ("lcl", PALETTE["muted"], "3 5")):
        ys = chart[column].to_numpy(float)
        if np.isnan(ys).all():   # no mean or limits beside a "<5" month
            continue
        parts.append(f'<line x1="{x(0):.1f}" y1="{y(ys[0]):.1f}" x2="{x(n - 1):.1f}" y2="{y(ys[-1]):.1f}" '
                     f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
    parts += svg_line(counts, x, y, PALETTE["primary"], 4)   # a month published as "<5" is a gap
    periods = pd.to_datetime(chart["period"])
    for i, (value, signal) in enumerate(zip(counts, chart["signal"])):
        if math.isnan(value):
            continue
        colour = PALETTE["accent"] if signal else PALETTE["primary"]
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="{7 if signal else 4}" fill="{colour}">'
                     f'<title>{periods[i]:%b %Y}: {value:,.0f}{" (signal)" if signal else ""}</title></circle>')
    # The latest month and every sixth before it, the first and last kept inside the chart.
    for i in range(n - 1, -1, -6):
        anchor = "end" if i == n - 1 else "start" if x(i) - 2 * font < pad_left else "middle"
        parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" font-size="{font}" text-anchor="{anchor}" '
                     f'fill="#444" font-family="DejaVu Sans, Arial, sans-serif">{periods[i]:%b %Y}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- the deck exports -------------------------------------------------------------------------

@dataclass(frozen=True)
class Deck:
    title: str
    subtitle: str
    panels: tuple[Panel, ...]
    notes: tuple[str, ...]


_STATUS_COLOURS = {"on track": PALETTE["good"], "behind": PALETTE["accent"], "Signal": PALETTE["accent"],
                   "In control": PALETTE["good"]}

# One unit, --u: 24 px on a 1920x1080 screen, scaled with the viewport's smaller side, so a
# slide fits the screen (1920x1080, 1280x720) and its smallest text reads from the back of a room.
_DECK_CSS = """
*{box-sizing:border-box}
:root{--u:min(1.25vw,2.222vh)}
html,body{margin:0;height:100%;background:#f4f6f9;color:#14213d;font-family:"DejaVu Sans",Arial,Helvetica,sans-serif}
.slide{display:none;min-height:100vh;padding:3vh 4vw 9vh;background:#fff}
.slide.current{display:block}
h1{font-size:calc(2.4*var(--u));margin:0 0 1vh;color:#1f4e79}
h2{font-size:calc(1.3*var(--u));margin:1.6vh 0 .4vh;color:#1f4e79}
p,li{font-size:calc(1.15*var(--u));line-height:1.3;margin:.3vh 0}
ul{margin:.3vh 0;padding-left:1.4em}
.headline{font-size:calc(3.6*var(--u));font-weight:bold;color:#14213d;margin:0}
.headline small{font-size:calc(1.15*var(--u));font-weight:normal;color:#555;margin-left:1vw}
.status{display:inline-block;padding:.05em .4em;border-radius:.3em;color:#fff;font-weight:bold}
.note{color:#555;font-size:var(--u)}
.columns{display:flex;gap:3vw}.columns>div{flex:1;min-width:0}
svg{width:100%;height:auto;max-height:30vh}
nav{position:fixed;bottom:0;left:0;right:0;display:flex;gap:1em;align-items:center;justify-content:center;
padding:1vh;background:#1f4e79;color:#fff;font-size:var(--u)}
nav button{font-size:inherit;padding:.2em 1em;border:0;border-radius:.3em;background:#fff;color:#1f4e79;cursor:pointer}
@media print{nav{display:none}.slide{display:block;page-break-after:always;min-height:auto}}
"""

_DECK_JS = """
(function(){
  var slides=document.querySelectorAll('.slide'),i=0,counter=document.getElementById('counter');
  function show(n){i=Math.max(0,Math.min(slides.length-1,n));
    slides.forEach(function(s,k){s.classList.toggle('current',k===i)});
    counter.textContent=(i+1)+' / '+slides.length;}
  document.getElementById('prev').onclick=function(){show(i-1)};
  document.getElementById('next').onclick=function(){show(i+1)};
  document.addEventListener('keydown',function(e){
    if(['ArrowRight','PageDown',' ','Enter'].indexOf(e.key)>=0){show(i+1);e.preventDefault();}
    else if(['ArrowLeft','PageUp','Backspace'].indexOf(e.key)>=0){show(i-1);e.preventDefault();}
    else if(e.key==='Home'){show(0);}else if(e.key==='End'){show(slides.length-1);}
  });
  show(0);
})();
"""


def _status_span(status: str) -> str:
    colour = _STATUS_COLOURS.get(status, "#666")
    return f'<span class="status" style="background:{colour}">{html.escape(status)}</span>'


def _panel_html(panel: Panel) -> str:
    e = html.escape
    out = [f"<h1>{e(panel.title)}</h1>"]
    if panel.coverage_note:
        out.append(f'<p class="note">{e(panel.coverage_note)}</p>')
    if panel.coverage == "unavailable":
        return "".join(out)
    out.append(f'<p class="headline">{e(panel.headline)}<small>{e(panel.headline_label)}</small></p>')
    out.append(f"<p>{e(panel.comparison)}</p>")
    left = []
    for line in panel.targets:
        left.append(f"<h2>Target: {e(line.label)}</h2><p>{_status_span(line.status)} {e(line.sentence)}</p>")
        left += [f'<p class="note">{e(d)}</p>' for d in line.details]
    left.append(f"<h2>Control chart</h2><p>{_status_span(panel.chart_status)}</p>")
    left += [f"<p>{e(s)}.</p>" for s in panel.chart_sentences[:3]]
    right = [panel_svg(panel)] + ([f'<p class="note">{e(panel.chart_note)}</p>'] if panel.chart_note else [])
    if panel.exceptions or panel.exceptions_note:
        right.append("<h2>Exceptions, latest 3 months</h2>")
        right.append("<ul>" + "".join(f"<li>{e(s)}</li>" for s in panel.exceptions) + "</ul>")
        if panel.exceptions_note:
            right.append(f'<p class="note">{e(panel.exceptions_note)}</p>')
    out.append(f'<div class="columns"><div>{"".join(left)}</div><div>{"".join(right)}</div></div>')
    out += [f'<p class="note">{e(n)}</p>' for n in panel.notes]
    return "".join(out)


def deck_html(deck: Deck) -> str:
    """A self-contained HTML slide deck: inline CSS and JavaScript, arrow keys or the buttons to
    move between slides, no external links; printing gives one slide per page."""
    e = html.escape
    title_slide = (f'<section class="slide"><h1>{e(deck.title)}</h1><p>{e(deck.subtitle)}</p>'
                   + "".join(f'<p class="note">{e(n)}</p>' for n in deck.notes) + "</section>")
    slides = "".join(f'<section class="slide">{_panel_html(p)}</section>' for p in deck.panels)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{e(deck.title)}</title>"
            f"<style>{_DECK_CSS}</style></head><body>{title_slide}{slides}"
            "<nav><button id=\"prev\" type=\"button\">&#9664; Previous</button><span id=\"counter\"></span>"
            "<button id=\"next\" type=\"button\">Next &#9654;</button>"
            "<span>Arrow keys move between slides</span></nav>"
            f"<script>{_DECK_JS}</script></body></html>")


_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
               "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _pdf_with_font():
    from fpdf import FPDF
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    if all(Path(p).exists() for p in _FONT_FILES):
        pdf.add_font("deck", "", _FONT_FILES[0])
        pdf.add_font("deck", "B", _FONT_FILES[1])
        return pdf, "deck", lambda text: text
    # Core fonts only cover Latin-1: replace what they cannot draw.
    return pdf, "helvetica", lambda text: (text.replace("\u2013", "-").replace("\u2014", "-")
                                           .encode("latin-1", "replace").decode("latin-1"))


def deck_pdf(deck: Deck) -> bytes:
    """The deck as a landscape A4 PDF (fpdf2), one panel per page in large type."""
    pdf, font, clean = _pdf_with_font()
    pdf.set_title(clean(deck.title))
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def write(text: str, size: float, bold: bool = False, colour=(20, 33, 61), gap: float = 1.5):
        pdf.set_font(font, "B" if bold else "", size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(width, size * 0.45, clean(text), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    pdf.add_page()
    write(deck.title, 30, True, (31, 78, 121), 4)
    write(deck.subtitle, 18)
    for note in deck.notes:
        write(note, 12, colour=(85, 85, 85))
    for panel in deck.panels:
        pdf.add_page()
        write(panel.title, 28, True, (31, 78, 121), 2)
        if panel.coverage_note:
            write(panel.coverage_note, 12, colour=(85, 85, 85))
        if panel.coverage == "unavailable":
            continue
        write(f"{panel.headline}  {panel.headline_label}", 24, True)
        write(panel.comparison, 15)
        for line in panel.targets:
            write(f"Target: {line.label}: {line.status}", 16, True, gap=0.5)
            write(line.sentence, 14, gap=0.5)
            for detail in line.details:
                write(detail, 11, colour=(85, 85, 85), gap=0.3)
            pdf.ln(1)
        write(f"Control chart: {panel.chart_status}", 16, True, gap=0.5)
        for sentence in panel.chart_sentences[:2]:
            write(sentence + ".", 13, gap=0.3)
        svg = panel_svg(panel, namespace=True)
        if svg:
            # Shrink the chart to leave room for the exceptions on the same page where it can.
            room = pdf.h - pdf.b_margin - pdf.get_y() - 12 * (len(panel.exceptions) + 1)
            height = min(width * 0.8 * 280 / 960, room)
            if height < 35:
                pdf.add_page()
                height = width * 0.8 * 280 / 960
            pdf.image(io.BytesIO(svg.encode("utf-8")), x=pdf.l_margin, y=pdf.get_y(), h=height,
                      w=height * 960 / 280)
            pdf.ln(height + 2)
        if panel.chart_note:
            write(panel.chart_note, 12, colour=(85, 85, 85))
        if panel.exceptions:
            write("Exceptions, latest 3 months", 16, True, gap=0.5)
            for sentence in panel.exceptions:
                write("- " + sentence, 13, gap=0.3)
        if panel.exceptions_note:
            write(panel.exceptions_note, 11, colour=(85, 85, 85))
        for note in panel.notes:
            write(note, 11, colour=(85, 85, 85))
    return bytes(pdf.output())

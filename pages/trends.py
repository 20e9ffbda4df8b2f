"""Trends and exceptions: what changed, each priority's series by ward, control charts and rhythm."""
from dataclasses import replace

import pandas as pd
import streamlit as st

from app import context, files, widgets
from cdp import areas as nat
from cdp import counting, queries, stats, trends
from cdp.exports import csv_export
from cdp.markup import md
from cdp.priorities import PRIORITY_BY_KEY, counted_unit

f = context.filters()
figures = context.viewer().figures
restricted = figures.restricted
plan = widgets.plan_targets()
baseline = (plan.baseline_start, plan.baseline_end)
st.title("Trends and exceptions")
st.caption(widgets.describe(f))
widgets.not_counted(context.cached(counting.not_counted)(f), figures)
if restricted:
    st.caption(figures.statement)

months = context.cached(counting.months)()
ward_names = context.cached(trends.ward_names)()
together = f"{f.area} area" if f.area else "Chosen wards together" if f.wards else "Whole area"
nat_areas, _ = context.areas()
names = {**ward_names, trends.ALL_AREA: together, **{a: a for a in nat_areas.names}}
first_month, _ = context.cached(queries.data_months)()
cover = {key: months.coverage(key, f.start, f.end) for key in f.priorities}
keys = tuple(key for key in f.priorities if cover[key].level != "unavailable")
for key in f.priorities:
    if cover[key].level == "unavailable":
        st.info(f"**{PRIORITY_BY_KEY[key].label}** is not shown: unavailable in the data counted in "
                f"the period ({PRIORITY_BY_KEY[key].police_uk_note}).")
    elif cover[key].level == "proxy":
        st.caption(f"{PRIORITY_BY_KEY[key].label} is a proxy only: {cover[key].note}.")
mixed = [key for key in f.priorities if cover[key].level == "mixed"]
if mixed:
    st.caption("Mixed coverage in the period (" + ", ".join(PRIORITY_BY_KEY[k].label for k in mixed)
               + "): " + cover[mixed[0]].note.split(" (where", 1)[0].removeprefix("Mixed: ")
               + ". Where only police.uk counts they are a proxy or unavailable; months of different "
               "coverage are not compared.")
if not keys or first_month is None:
    st.warning("None of the selected priorities can be counted in the loaded data.")
    st.stop()


SIGNALS_LISTED = 8


def label(key: str) -> str:
    return PRIORITY_BY_KEY[key].label


def download(title: str, frame: pd.DataFrame, file_name: str, key: str) -> None:
    files.download_button(title, csv_export(frame, file_name), key=key)


def by_area(counts: pd.DataFrame) -> pd.DataFrame:
    """Ward counts summed per NAT area (the area's name in ward_code, as trends reads it)."""
    period = "month" if "month" in counts.columns else "week"
    return nat.by_area(counts, nat_areas, keys=("priority", period), unassigned=False)


def exact_dates() -> tuple[dict, list[str]]:
    """How the selected incidents are dated, and the series grains that allows (weeks need days)."""
    precision = context.cached(trends.date_precision)(f)
    return precision, ["month", "week"] if precision["day"] + precision["datetime"] else ["month"]


# Each section in its own tab, drawn only while open (the page's weight is its figures: the open
# tab's are sent, not all ten); each a fragment, so its own controls rerun that section alone.
@st.fragment
def what_changed() -> None:
    window = st.segmented_control("Compare", ["month", "quarter"], default="month", required=True,
                                  key="tr_window", persist_state="page", format_func=lambda w: f"Latest {w}")
    # The exceptions depend on the period's end only: a new start month reuses the cached table.
    end_only = replace(f, start=f.end)
    table = context.cached(trends.exceptions_table)(end_only, window, keys)
    untested = {k: why for k, (_, why) in context.cached(trends.exception_starts)(end_only, window, keys).items()
                if why}
    latest = "the latest month" if window == "month" else "the latest 3 months"
    st.caption(f"For each priority and ward, {latest} to {f.end:%B %Y}. {stats.SEASONAL_METHOD} Shown "
               "when p < 0.05; strongest evidence first.")
    by_reason: dict[str, list[str]] = {}
    for key, why in untested.items():
        by_reason.setdefault(why, []).append(label(key))
    said = (next(iter(by_reason)) if len(untested) == len(keys) and len(by_reason) == 1 else
            "; ".join(f"{', '.join(names)}: {why}" for why, names in by_reason.items()))
    if len(untested) == len(keys):
        st.info(f"Exceptions are not tested: {said}.")
    elif untested:
        st.caption(f"Not tested: {said}.")
    if len(untested) < len(keys) and table.empty:
        st.success(f"Nothing in {latest} to {f.end:%B %Y} is significantly above or below expectation "
                   "for these filters.")
    elif not table.empty:
        shown = trends.board_exceptions(table, figures) if restricted else table
        st.markdown("\n".join(f"- {md(sentence)}" for sentence in shown["sentence"].head(5)))
        if restricted:
            st.dataframe(shown, hide_index=True, width="stretch", column_config={
                "priority_label": "Priority", "ward": "Ward", "period_label": "Period",
                "observed": "Count", "direction": "Against usual", "significance": "Rate-ratio test",
                "sentence": st.column_config.TextColumn("In words", width="large")})
        else:
            st.dataframe(table, hide_index=True, width="stretch", column_order=[
                "priority_label", "ward", "period_label", "observed", "expected", "baseline_label", "ratio",
                "p", "direction", "strength", "sentence"], column_config={
                "priority_label": "Priority", "ward": "Ward", "period_label": "Period",
                "observed": st.column_config.NumberColumn("Count", format="localized"),
                "expected": st.column_config.NumberColumn("Expected", format="%.1f"),
                "baseline_label": "Expected from",
                "ratio": st.column_config.NumberColumn("Rate ratio", format="%.2f"),
                "p": "p-value", "direction": "Against usual",
                "strength": st.column_config.ProgressColumn(
                    "Strength", help="−log10 of the p-value: the table is sorted by it", format="%.1f",
                    min_value=0, max_value=max(float(table["strength"].max()), 1.0)),
                "sentence": st.column_config.TextColumn("In words", width="large")})
        download("Download the exceptions (CSV)", shown.drop(columns=["ward_code"], errors="ignore"),
                 f"exceptions-{window}-{f.end:%Y-%m}.csv", "dl_exceptions")


@st.fragment
def series_section() -> None:
    precision, grains = exact_dates()
    exact = len(grains) > 1
    grain = st.segmented_control("Series", grains, default="month", required=True, key="tr_grain", persist_state="page",
                                 format_func=lambda g: f"{g.title()}ly")
    if not exact:
        st.caption("Weekly series need exact dates: none of the incidents selected in the period has one "
                   "(police.uk data gives the month only).")
    elif precision["month"]:
        share = figures.share(precision["month"], precision["total"])
        st.caption(f"{figures.text(precision['month'])} of {figures.total_text(precision['total'])} incidents "
                   "selected in the period" + ("" if share is None else f" ({share:.0%})") + " have only a "
                   "month, not an exact date: they are in the monthly series but not the weekly ones.")
    else:
        st.caption(f"All {figures.total_text(precision['total'])} incidents selected in the period have exact dates.")

    split = "wards"
    if nat_areas.areas:
        split = st.segmented_control("Side by side", ["wards", "areas"], default="wards", required=True,
                                     key="tr_split", persist_state="page", format_func={"wards": "Chosen wards" if f.wards else
                                                                  "Whole area", "areas": "NAT areas"}.get)
    areas = list(f.wards) if f.wards else None
    monthly = context.cached(trends.monthly_counts)(f)
    weekly = context.cached(trends.weekly_counts)(f) if grain == "week" else None
    series_monthly, series_weekly = monthly, weekly
    if split == "areas":
        series_monthly = by_area(monthly)
        series_weekly = by_area(weekly) if weekly is not None else None
        areas = [a for a in nat_areas.names if a in set(series_monthly["ward_code"])]
        st.caption("Each Neighbourhood Action Team area's wards (those the sidebar selects) summed; "
                   "wards in no area and incidents without a ward are left out.")
    elif areas is None:
        st.caption("The whole area: every counted incident in the wards. Choose wards in the sidebar to "
                   "compare them side by side.")
    if grain == "week" and trends.full_weeks(f) is None:
        st.info("The selected period holds no whole week (Monday to Sunday).")
    exports = []
    columns = st.columns(2)
    for i, key in enumerate(keys):
        with columns[i % 2].container(border=True):
            if grain == "month":
                series = trends.monthly_series(series_monthly, key, f, areas, figures, baseline)
            else:
                series = trends.weekly_series(series_weekly, key, f, first_month, areas, figures)
            hidden = series["count"].isna()  # "<5", for a restricted viewer
            if series.empty or not (series["count"].fillna(0).any() or hidden.any()):
                st.subheader(label(key))
                st.info(f"No {counted_unit(key)} recorded for these filters.")
                continue
            if hidden.mean() > 0.5 or not series["count"].fillna(0).any():
                st.subheader(label(key))
                st.info(f"Most {grain}s here have counts of 1 to 4, which this viewer may not see, so the "
                        "chart is not shown.")
                continue
            if grain == "month":
                fig = trends.monthly_figure(series, trends.series_title(key), f, names, baseline,
                                            f"Baseline {plan.baseline_short}")
            else:
                fig = trends.weekly_figure(series, trends.series_title(key) + ", weekly", names)
            st.plotly_chart(fig, key=f"series-{key}", config={"displayModeBar": False})
            exports.append(series.assign(priority=label(key),
                                         area=[trends.area_name(a, names) for a in series["area"]]))
    if grain == "month":
        st.caption("Solid: count per month. Dotted: the same month a year earlier, over the selected period. "
                   "Below: the rolling 12-month total (the diamond: the baseline year's total). Green band: "
                   f"the plan's baseline year, {plan.baseline_label}; grey: the selected period. ASB counts "
                   "ASB incidents, other priorities count crimes: never added.")
        if first_month > plan.baseline_start:
            st.caption(f"The loaded data starts in {first_month:%B %Y}, after the plan's baseline year.")
        incomplete = months.incomplete_in(trends.chart_start(f, first_month, baseline), f.end)
        if incomplete:
            st.caption(f"Not every source covers {counting.month_list(sorted(incomplete))}: counts in "
                       "those months are not complete and are not compared.")
    else:
        st.caption("Whole weeks (Monday to Sunday) in the selected period; dotted: the same week 52 weeks earlier.")
    if exports:
        download(f"Download these {grain}ly series (CSV)", pd.concat(exports, ignore_index=True)
                 [["priority", "area", *[c for c in exports[0].columns if c not in ("priority", "area")]]],
                 f"{grain}ly-series-{f.start:%Y-%m}-to-{f.end:%Y-%m}.csv", "dl_series")


@st.fragment
def control_chart() -> None:
    _, grains = exact_dates()
    monthly = context.cached(trends.monthly_counts)(f)
    left, middle, right, far = st.columns(4)
    chart_key = left.selectbox("Priority", keys, format_func=label, key="tr_cc_priority", persist_state="page")
    NAT = "nat:"  # a NAT area's option, kept apart from ward codes and ALL_AREA
    counted_wards = set(f.wards or ward_names)
    area_options = [trends.ALL_AREA, *(f.wards or ward_names),
                    *(NAT + a.name for a in nat_areas.areas if counted_wards & set(a.ward_codes))]
    area = middle.selectbox("Area", area_options, key="tr_cc_area", persist_state="page",
                            format_func=lambda a: f"{a[len(NAT):]} (NAT area)" if a.startswith(NAT)
                            else trends.area_name(a, names))
    kind = right.segmented_control("Chart", ["c", "xmr"], default="c", required=True, key="tr_cc_kind", persist_state="page",
                                   format_func=lambda k: {"c": "c-chart", "xmr": "XmR"}[k],
                                   help="c-chart: limits mean ± 3√mean (Poisson counts). XmR: limits from "
                                        "the average moving range, for counts more variable than Poisson.")
    chart_grain = far.segmented_control("Points", grains, default="month", required=True, key="tr_cc_grain", persist_state="page",
                                        format_func=lambda g: f"{g.title()}ly")
    bases = [b for b in trends.LIMIT_BASES if chart_grain == "month" or b != "baseline"]
    basis = st.radio("Centre and limits from", bases, horizontal=True, key="tr_cc_basis", persist_state="page",
                     format_func=lambda b: trends.LIMIT_BASES[b] + (f" ({plan.baseline_label})"
                                                                    if b == "baseline" else ""))
    counts = monthly if chart_grain == "month" else context.cached(trends.weekly_counts)(f)
    if area.startswith(NAT):
        counts, area = by_area(counts), area[len(NAT):]
    points = trends.control_series(counts, chart_key, area, f, first_month, baseline)
    chart_title = f"{trends.series_title(chart_key)}: {trends.area_name(area, names)}"
    if points.empty or not points.any():
        st.info(f"No {counted_unit(chart_key)} recorded in {md(trends.area_name(area, names))} for these filters.")
    elif restricted and not figures.publishable(*points):
        st.info("This series holds counts of 1 to 4, so its control chart is not shown to this viewer.")
    else:
        points = figures.counts(points)   # the centre and limits from the published counts
        try:
            limits = trends.limits_baseline(basis, points.index, f, baseline)
        except ValueError as problem:
            st.warning(f"Cannot set the limits from {trends.LIMIT_BASES[basis].lower()}: {problem}. "
                       "Using all points shown.")
            limits = None
        chart = stats.control_chart(points, kind, baseline=limits)
        plot, words = st.columns([3, 1])
        plot.plotly_chart(trends.control_chart_figure(chart, chart_title, chart_grain, limits),
                          key="control-chart", config={"displayModeBar": False})
        with words:
            st.subheader("Signals")
            sentences = stats.describe_signals(chart, unit=chart_grain)
            if sentences:
                st.markdown("\n".join(f"- {md(s)}" for s in sentences[:SIGNALS_LISTED]))
                if len(sentences) > SIGNALS_LISTED:
                    with st.expander(f"{len(sentences) - SIGNALS_LISTED} earlier signals"):
                        st.markdown("\n".join(f"- {md(s)}" for s in sentences[SIGNALS_LISTED:]))
            else:
                st.success("No signals: every point is within the limits, with no run of 8 on one side "
                           "of the mean and no 6 rising or falling. The variation looks like chance.")
            st.caption(f"Mean {chart['centre'].iat[0]:,.1f}, limits {chart['lcl'].iat[0]:,.1f} to "
                       f"{chart['ucl'].iat[0]:,.1f}.")
            if kind == "c" and chart["beyond_limits"].mean() > 0.25:
                st.caption("Many points fall outside the c-chart's limits: these counts vary more than "
                           "chance alone (season, trend). The XmR chart sets its limits from the "
                           "month-to-month variation instead.")
        download("Download the control chart (CSV)", chart.assign(priority=label(chart_key),
                 area=trends.area_name(area, names)), f"control-chart-{chart_key}-{chart_grain}.csv", "dl_control")


@st.fragment
def rhythm() -> None:
    monthly = context.cached(trends.monthly_counts)(f)
    season, clock = st.columns(2)
    with season:
        profile = trends.month_of_year(monthly, keys, figures)
        withheld = [k for k in keys if k not in set(profile["priority"])] if restricted else []
        if withheld:
            st.caption("Not shown (counts of 1 to 4): " + ", ".join(label(k) for k in withheld) + ".")
        if profile.empty or profile["index"].isna().all():
            st.info("No incidents for these filters to make a month-of-year profile.")
        else:
            st.plotly_chart(trends.month_of_year_figure(profile), key="month-of-year",
                            config={"displayModeBar": False})
            st.caption(f"Average count in each calendar month, {first_month:%B %Y} to {f.end:%B %Y}, "
                       f"{together.lower()}; 100 = the priority's average month.")
            download("Download the month-of-year profile (CSV)",
                     profile.assign(priority=profile["priority"].map(label)), "month-of-year.csv", "dl_profile")
    with clock:
        heat_key = st.selectbox("Day and hour for", keys, format_func=label, key="tr_heat_priority", persist_state="page")
        timing = context.cached(trends.date_precision)(f, heat_key)
        if not timing["datetime"]:
            st.info(f"No time of day in the loaded data for the {counted_unit(heat_key)} selected "
                    "(police.uk and date-only records have none), so there is no day-and-hour pattern to show.")
        else:
            grid = context.cached(trends.weekday_hour)(f, heat_key)
            st.plotly_chart(trends.weekday_hour_figure(grid, f"{trends.series_title(heat_key)} by day and hour",
                                                       figures), key="weekday-hour", config={"displayModeBar": False})
            untimed = timing["total"] - timing["datetime"]
            cells = grid.to_numpy().ravel()   # beside the total: it never fixes a "<5" cell
            st.caption(f"{figures.total_text(timing['datetime'], cells)} incidents with a time of day in the "
                       "selected period" + (f"; {figures.text(untimed)} with only a date or month are left out."
                                            if untimed else "."))
            download("Download the day-and-hour counts (CSV)", figures.frame(grid, grid.columns).reset_index(),
                     f"day-hour-{heat_key}.csv", "dl_heatmap")


SECTIONS = {"What changed": what_changed, "Series": series_section, "Control chart": control_chart,
            "Rhythm": rhythm}
widgets.sections(SECTIONS, key="tr_section")

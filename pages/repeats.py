"""Repeat victimisation: who is victimised again and how soon, the hate crime repeat target,
domestic abuse escalation, and the places and premises that keep coming up, each in its own tab,
drawn only while open. Analysts only."""
import streamlit as st

from app import access, context, files, widgets
from cdp import audit, counting, exports, priorities, profiles, queries
from cdp import victimisation as vic
from cdp.markup import md

f = context.filters()
viewer = context.viewer()
st.title("Repeat victimisation")
st.caption(widgets.describe(f))
if not viewer.may_open("repeats"):
    st.warning("This page works on pseudonymised victim keys, so only analysts may open it.")
    st.stop()
plan = widgets.plan_targets()
words = plan.definitions.window_words  # "12 months (365 days)": the one window on this page
st.caption(f"\"In 12 months\" means within {plan.definitions.window_days} days of each other, for "
           "victims, escalation and places alike. Only incidents inside the loaded wards count: a "
           "victim's incidents elsewhere do not make them a repeat victim.")

sources = context.cached(counting.months)()
has_victims = context.cached(queries.has_victim_keys)()


def pct(share) -> str:
    return "n/a" if share is None else f"{share:.1%}"


RATE_HEADINGS = {"group": "Group", "victims": "Victims", "repeat_victims": "Repeat (2+)",
                 "high_frequency_victims": "High-frequency (3+)", "rate": "Repeat rate"}


@st.fragment
def rates_by_group(by: dict) -> None:
    """Repeat rates by ward, age band, sex and vulnerability: only the open tab is drawn, and
    choosing another reruns this section alone."""
    st.subheader("Repeat rates by group")
    tabs = st.tabs(["Ward", "Age band", "Sex", "Vulnerability"], key="repeat_rates_by", on_change="rerun")
    for tab, name in zip(tabs, ["ward", "age band", "sex", "vulnerability"]):
        table = by[name]
        if not tab.open:
            continue
        with tab:
            if table.empty:
                st.info(f"No victims to group by {name}.")
                continue
            left, right = st.columns([3, 2])
            left.plotly_chart(vic.rates_figure(table, f"Repeat victim rate by {name}"), key=f"rates-{name}")
            with right:   # in the chart's order: wards by rate, highest first; the rest as they run
                widgets.static_table(table.assign(rate=table["rate"].map(pct)), RATE_HEADINGS, most_rows=15)
                st.caption("A victim counts in each group they had an incident in, so the groups "
                           "can add up to more than all victims.")


def victims_section() -> None:
    if not has_victims:
        st.info("**The loaded data has no victim keys.** police.uk open data does not identify victims, "
                "so repeat victimisation, time to the next incident, the hate crime repeat target and "
                "domestic abuse escalation cannot be measured. Load a partner extract with `victim_id` "
                "on the Data page. Repeat places and premises (their own tab) work from locations.")
    else:
        choices = list(f.priorities)
        if st.session_state.get("r_priority") not in choices:
            st.session_state["r_priority"] = "hate_crime" if "hate_crime" in choices else choices[0]
        priority = st.selectbox("Priority", choices, key="r_priority",
                                format_func=lambda k: priorities.PRIORITY_BY_KEY[k].label,
                                help="The sidebar's priorities. Crimes and ASB incidents are measured apart.")
        cover = sources.coverage(priority, f.start, f.end)
        unit = priorities.counted_unit(priority)
        if cover.level != "full":
            widgets.coverage_badge(cover.level, cover.note)
        data = context.cached(vic.repeat_victimisation)(f, priority)
        summary = data["summary"]
        if summary["victims"] == 0:
            st.info(f"No {unit} with a recorded victim match the filters in this period.")
        else:
            a, b, c, d = st.columns(4)
            a.metric("Victims", f"{summary['victims']:,}", help=f"Distinct victim keys with {unit} in the period")
            b.metric("Repeat victims (2+ in 12 months)", pct(summary["repeat_share"]),
                     f"{summary['repeat_victims']:,} victims", delta_color="off", delta_arrow="off",
                     help=f"2 or more incidents within {words}")
            c.metric(f"High-frequency ({plan.definitions.high_frequency}+ in 12 months)",
                     pct(summary["high_frequency_share"]),
                     f"{summary['high_frequency_victims']:,} victims", delta_color="off", delta_arrow="off")
            d.metric(f"Share of {unit} suffered by repeat victims", pct(summary["repeat_incident_share"]),
                     f"{summary['incidents_to_repeat_victims']:,} of {summary['incidents']:,}",
                     delta_color="off", delta_arrow="off")
            with st.expander("How repeat victims are counted"):
                st.write(summary["definition"])
                st.write(f"Only {unit} of this priority that match every sidebar filter count, including "
                         "a victim's earlier ones in the 12 months before the period.")
            if not data["lookback_complete"]:
                st.warning("The data starts less than 12 months before this period, so earlier incidents "
                           "that would make some victims repeats are missing: the repeat shares are lower "
                           "bounds.")

            st.subheader("Time to the next incident")
            curve = data["curve"]
            if curve.empty:
                st.info("No victim had a further incident after one in this period, so there is no curve to draw.")
            else:
                within = {days: vic.repeat_within(curve, days) for days in (7, 28, 365)}
                st.write(f"Of the {summary['incidents']:,} {unit} against victims in the period, "
                         f"**{pct(within[7])}** were followed by another against the same victim within 7 days, "
                         f"**{pct(within[28])}** within 28 days and **{pct(within[365])}** within a year "
                         f"(Kaplan-Meier estimate, following each to {data['data_end']:%d %B %Y}, the end of "
                         "the data).")
                st.plotly_chart(vic.survival_figure(curve), key="survival")

            rates_by_group(data["by"])


def hate_target_section() -> None:
    hate_level = sources.coverage("hate_crime", f.start, f.end).level
    if not has_victims or hate_level == "unavailable":
        st.info("Unavailable for the loaded data: it needs hate crime flags and victim keys from a partner "
                "extract (police.uk does not identify hate crime or victims).")
    else:
        target = context.cached(vic.hate_crime_target)(f.start, f.end)
        base, now = target["baseline"], target["selected"]
        a, b, c = st.columns(3)
        a.metric(f"Baseline: {target['baseline_label']}", pct(base["rate"]),
                 f"{base['numerator']:,} of {base['denominator']:,} victims", delta_color="off", delta_arrow="off")
        b.metric(f"Selected period: {f.start:%b %Y} to {f.end:%b %Y}", pct(now["rate"]),
                 f"{now['numerator']:,} of {now['denominator']:,} victims", delta_color="off", delta_arrow="off")
        goal = target["target_rate"]
        c.metric("Target: " + (f"{target['percent']:g}% below the baseline" if target["percent"] is not None
                               else "none in the targets file"), pct(goal),
                 None if target["meets_target"] is None else
                 ("met in the selected period" if target["meets_target"] else "not met in the selected period"),
                 delta_color="green" if target["meets_target"] else "red", delta_arrow="off")
        comparable = target["comparable"]
        if not target["like_for_like"]:
            months = base["look_back_months"]
            st.write(f"The data gives the baseline year {'no' if months == 0 else f'only {months} months of'} "
                     f"look-back, so to compare like with like the selected period is also measured with "
                     f"{'none' if months == 0 else 'the same'}: **{pct(comparable['rate'])}** "
                     f"({comparable['numerator']:,} of {comparable['denominator']:,} victims). The target "
                     "and the test use that figure.")
        if target["verdict"]:
            st.write(f"Selected period against the baseline: **{target['verdict']}** "
                     f"(two-proportion test, p = {target['p_value']:.3f}; it treats the two periods as "
                     f"independent, though some victims appear in both).")
        st.plotly_chart(vic.target_figure(target), key="target")
        st.markdown(f"**Definition.** {target['definition']} Citywide: the target is the partnership's, "
                    "so the sidebar's ward and people filters do not apply here; hate crimes only (hate "
                    "incidents recorded as ASB are not counted).")
        if not base["lookback_complete"]:
            st.caption(f"Without the full 12 months before {plan.baseline_start:%B %Y}, victims whose earlier hate crime "
                       "was before the data starts are not counted as repeats: the baseline rate is a "
                       "lower bound.")
        if now["months"] != 12:
            st.caption(f"The selected period is {now['months']} months; the baseline is 12. A longer "
                       "period gives victims more time to be repeat victims, so choose a financial year "
                       "in the sidebar to compare like with like.")


def escalation_section() -> None:
    if not has_victims or sources.coverage("dsva", f.start, f.end).level == "unavailable":
        st.info("Unavailable for the loaded data: it needs domestic abuse flags and victim keys from a "
                "partner extract.")
    else:
        escalating = context.cached(vic.escalation)(f)
        threshold = plan.definitions.escalation
        st.metric(f"Victims with {threshold} or more domestic abuse incidents in 12 months",
                  f"{len(escalating):,}")
        st.caption(f"MARAC practice: {threshold} or more incidents flagged domestic abuse (crimes or not) "
                   f"within {words}, the latest in the selected period. The sidebar's ward and people "
                   "filters apply. Most incidents in any 12 months and totals cover the period and the 12 "
                   "months before it.")
        if escalating.empty:
            st.info("No victim meets the threshold for these filters.")
        else:
            # The victims' keys are sent only while their list is open (at ten million incidents the
            # list was 1.8 MB of every opening of this page).
            listing = access.opened_person_list(
                f"The {len(escalating):,} victims: keys, dates and wards", "escalation_open",
                "domestic abuse escalation victims", audit.filters_record(f), len(escalating))
            if listing:
                with listing:
                    st.dataframe(escalating, hide_index=True, key="escalation", column_config={
                        "victim_id": st.column_config.TextColumn("Victim key"),
                        "incidents_in_window": st.column_config.NumberColumn("Most in 12 months"),
                        "first": st.column_config.DateColumn("Those 12 months: from"),
                        "last": st.column_config.DateColumn("to"),
                        "total_incidents": st.column_config.NumberColumn("All in the span"),
                        "latest": st.column_config.DateColumn("Latest incident"),
                        "ward": "Ward of the latest", "vulnerable": st.column_config.CheckboxColumn("Vulnerable")})
                    listed = exports.csv_export(escalating, f"da-escalation-{f.start:%Y%m}-{f.end:%Y%m}.csv",
                                                person_level=True, what="domestic abuse escalation victims",
                                                filters=audit.filters_record(f))
                    files.download_button("Download the list (CSV)", listed, key="escalation-csv", viewer=viewer,
                                          help="Every download of victim keys is recorded in the audit log.")


def places_section() -> None:
    st.caption(f"Places with 2 or more incidents within {words} of each other, at least one in the "
               "selected period (the same premises, else the same snapped point, else the same street), "
               "across the selected priorities and every sidebar filter, ranked by their incidents in the "
               "period. Crimes and ASB incidents are shown apart. Change compares the period with the same "
               "months a year earlier (fair to the season) using an exact test.")
    PLACE_COLUMNS = {
        "label": st.column_config.TextColumn("Place"), "premises_type": "Type",
        "ward": st.column_config.TextColumn("Ward", width="medium"),
        "crimes": st.column_config.NumberColumn("Crimes"),
        "asb_incidents": st.column_config.NumberColumn("ASB incidents"),
        "monthly": st.column_config.BarChartColumn("Month by month", y_min=0),
        "year_earlier": st.column_config.NumberColumn("A year earlier"),
        "change": st.column_config.TextColumn("Change", help="The period against the same months a year "
                                              "earlier, by an exact rate-ratio test (p < 0.05)"),
        "priorities": st.column_config.TextColumn("Mix of priorities", width="large"),
    }
    # One list at a time (not tabs): each list is a query over the whole period's places.
    shown = st.segmented_control("Places", ["Premises", "Locations"], default="Premises",
                                 key="repeat_places_kind", label_visibility="collapsed")
    for kind in [(shown or "Premises").lower()]:
        with st.container():
            ranked = context.cached(vic.ranked_places)(f, kind)
            places = ranked["places"]
            if places.empty:
                st.info(f"No {kind} with repeat incidents for these filters"
                        + (" (the loaded data has no premises)." if kind == "premises" else "."))
                continue
            st.write(f"**{ranked['repeat_places']:,}** {kind} had repeat incidents: "
                     f"{ranked['at_repeat_places']:,} of the {ranked['incidents']:,} incidents at {kind} "
                     f"({pct(ranked['share'])}), counting crimes and ASB incidents alike, as a place's "
                     f"workload; the table keeps them apart. The top {len(places)}:")
            if ranked["compared"]:
                st.caption(f"Change is not compared: {ranked['compared']}.")
            columns = [c for c in PLACE_COLUMNS if kind == "premises" or c != "premises_type"]
            picked = st.dataframe(places[columns], hide_index=True, column_config=PLACE_COLUMNS,
                                  on_select="rerun", selection_mode="single-row", key=f"places-{kind}")
            rows = picked.selection.rows if picked else []
            if rows:
                place = places.iloc[rows[0]]
                if st.button(f"Open the problem profile for {md(place['label'])}", key=f"profile-{kind}",
                             icon=":material/person_search:"):
                    st.session_state["profile_handover"] = profiles.subject_for_place(place["place_key"],
                                                                                      place["label"])
                    st.switch_page("pages/profile.py")
            else:
                st.caption("Select a row to open its problem profile.")


SECTIONS = {"Repeat victims": victims_section, "Hate crime repeat target": hate_target_section,
            "Domestic abuse escalation": escalation_section, "Repeat places and premises": places_section}
# Not in the URL: a repeat place hands over to its problem profile (st.switch_page). Without
# victim keys only the places can be measured, so the page opens on them.
widgets.sections(SECTIONS, key="repeats_section", in_url=False,
                 default=None if has_victims else "Repeat places and premises")

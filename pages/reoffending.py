"""Reoffending: the Ministry of Justice's proven reoffending rates against England and Wales, repeat
offending in the partner extract, the most frequent offenders for integrated offender management
(analysts only) and an IOM cohort's offending before and after entry: each in its own tab, drawn
only while open."""
import pandas as pd
import streamlit as st

from app import access, context, files, reference_files, widgets
from cdp import audit, exports, offenders, profiles, reoffending
from cdp.markup import md

f = context.filters()
viewer = context.viewer()
figures = viewer.figures
st.title("Reoffending")
st.caption(widgets.describe(f) + " · Reducing reoffending is one of the partnership's four "
           "statutory aims (Partnership Plan 2021-24, 1.4); its performance management is a "
           "thematic focus (1.7).")


count = figures.text


def pct(share) -> str:
    return "n/a" if share is None or pd.isna(share) else f"{share:.1%}"


if figures.restricted:
    st.caption(figures.statement)
moj = reference_files.load("reoffending")
cohort_file = reference_files.load("iom_cohort")


def proven_section() -> None:
    if moj.source.path is None:
        st.info("No proven reoffending file is configured. Set **CDP_REOFFENDING** to a CSV of the "
                "Ministry of Justice's proven reoffending statistics for the local authority (one row "
                "per cohort, offender type and area, with England and Wales alongside; the format is "
                "in README.md, 'Proven reoffending').")
    elif moj.error:
        st.error(f"The proven reoffending file cannot be used: {md(moj.error)}")
    else:
        cohorts = reoffending.published(reference_files.derived(moj, reoffending.cohorts), figures)
        reference_files.note(moj, "proven reoffending figures")
        columns = st.columns(2)
        for column, kind in zip(columns, reoffending.OFFENDER_TYPES):
            with column.container(border=True):
                st.subheader(reoffending.TYPE_LABELS[kind])
                sentence = reoffending.latest_sentence(cohorts, kind, figures)
                if sentence is None:
                    st.info(f"The file has no {kind} cohorts.")
                    continue
                st.write(sentence)
                st.plotly_chart(reoffending.trend_figure(cohorts, kind), key=f"reoffending-{kind}")
        every = st.expander("Every cohort", key="reoffending_cohorts_open", on_change="rerun")
        if every.open:  # the table is drawn only while its section is open
            with every:
                st.dataframe(reoffending.display_table(cohorts, figures), hide_index=True,
                             key="reoffending-table")
        st.caption("A cohort is the offenders released from custody, convicted or cautioned in its "
                   "months; a proven reoffence is one committed within a year that leads to a conviction "
                   "or caution. Each cohort is compared with the rest of England and Wales and with the same "
                   "months a year earlier by a two-proportion z-test (p < 0.05); the bars are 95% "
                   "Wilson intervals. Circled points differ significantly from the rest of England and "
                   "Wales. City-wide: the sidebar's filters do not apply.")


def repeat_section() -> None:
    if not context.cached(offenders.has_offender_keys)():
        st.info("**The loaded data has no offender keys.** police.uk open data does not identify "
                "offenders. Load a partner extract with `offender_id` on the Data page to measure repeat "
                "offending, time to the next offence and the most frequent offenders.")
    else:
        data = context.cached(offenders.repeat_offending)(f)
        coverage = data["coverage"]
        if data["offenders"] == 0:
            st.info("No crimes with a recorded offender match the filters in this period.")
        else:
            a, b, c, d = st.columns(4)
            a.metric("Offenders", count(data["offenders"]),
                     help="Distinct offender keys with a crime in the period")
            b.metric("Repeat offenders (2+ in 12 months)",
                     pct(figures.share(data["repeat_offenders"], data["offenders"])),
                     f"{count(data['repeat_offenders'])} offenders", delta_color="off", delta_arrow="off")
            c.metric("Their share of the offences", pct(figures.share(data["offences_by_repeat"], data["offences"])),
                     f"{count(data['offences_by_repeat'])} of {count(data['offences'])}",
                     delta_color="off", delta_arrow="off")
            d.metric("Crimes with an offender recorded",
                     pct(figures.share(coverage["with_offender"], coverage["crimes"])),
                     f"{count(coverage['with_offender'])} of {count(coverage['crimes'])}",
                     delta_color="off", delta_arrow="off",
                     help="Most crimes have no identified offender: these measures cover only those that do.")
            if not data["lookback_complete"]:
                st.warning("The data starts less than 12 months before this period, so some repeat "
                           "offenders are missed: the repeat shares are lower bounds.")
            st.subheader("Time to the next offence")
            within = data["within"]
            if data["curve"].empty:
                st.info("No offender committed a further offence after one in this period.")
            elif figures.restricted:
                st.info("The time to the next offence is estimated from each offender's own dates, not "
                        "from counts that can be rounded, so it is shown to analysts and neighbourhood "
                        "officers only.")
            else:
                st.write(f"Of the offences in the period with an offender recorded, **{pct(within[28])}** "
                         f"were followed by another by the same offender within 28 days, "
                         f"**{pct(within[90])}** within 90 days and **{pct(within[365])}** within a year "
                         f"(Kaplan-Meier estimate, following each to {data['data_end']:%d %B %Y}).")
                st.plotly_chart(offenders.survival_figure(data["curve"]), key="reoffending-survival")
            st.caption("Offences are the crimes (never ASB incidents) that match every sidebar filter and "
                       "name a pseudonymised offender; a repeat offender has two or more within 365 days, "
                       "one of them in the period (earlier ones up to 12 months before it count).")


def frequent_section() -> None:
    if not viewer.sees_person_keys:
        st.info("The ranked list of offenders shows pseudonymised person keys, so only analysts see it.")
    elif context.cached(offenders.has_offender_keys)():
        members = cohort_file.value if cohort_file.value is not None else None
        top = context.cached(offenders.frequent_offenders)(f, cohort=members)
        if access.audited_view("most frequent offenders", audit.filters_record(f), len(top)):
            st.caption(f"The {len(top)} offenders with the most crimes in the period under every sidebar filter, "
                       "for the integrated offender management panel"
                       + (", with their IOM cohort where they are in one." if members is not None else ".")
                       + " Select a row to open the offender's problem profile. Every download is recorded "
                       "in the audit log.")
            picked = st.dataframe(top, hide_index=True, on_select="rerun", selection_mode="single-row",
                                  key="frequent-offenders", column_config={
                                      "rank": st.column_config.NumberColumn("Rank", width="small"),
                                      "offender_id": st.column_config.TextColumn("Offender key"),
                                      "offences": st.column_config.NumberColumn("Crimes in the period"),
                                      "latest_12_months": st.column_config.NumberColumn("In the last 12 months"),
                                      "first": st.column_config.DateColumn("First"),
                                      "latest": st.column_config.DateColumn("Latest"),
                                      "ward": "Ward (most)", "categories": "Commonest crimes",
                                      "priorities": st.column_config.TextColumn("Priorities", width="large"),
                                      "victims": st.column_config.NumberColumn("Victims linked"),
                                      "in_cohort": "IOM cohort"})
            rows = picked.selection.rows if picked else []
            left, right = st.columns([1, 1])
            if rows:
                key = top.iloc[rows[0]]["offender_id"]
                if left.button(f"Open the problem profile for {key}", key="offender-profile",
                               icon=":material/person_search:"):
                    st.session_state["profile_handover"] = profiles.Subject("person", key)
                    st.switch_page("pages/profile.py")
            files.download_button("Download the list (CSV)", exports.csv_export(
                top, f"frequent-offenders-{f.start:%Y%m}-{f.end:%Y%m}.csv", person_level=True,
                what="most frequent offenders", filters=audit.filters_record(f)), key="frequent-offenders-csv",
                container=right, viewer=viewer, help="Every download of offender keys is recorded in the audit log.")


def cohort_section() -> None:
    if cohort_file.source.path is None:
        st.info("No IOM cohort file is configured. Set **CDP_IOM_COHORT** to a CSV of offender keys "
                "with the date each joined the cohort (offender_id,start_date[,cohort]; format in "
                "README.md, 'IOM cohort') to compare each member's offences in the year before and after.")
    elif cohort_file.error:
        st.error(f"The IOM cohort file cannot be used: {md(cohort_file.error)}")
    else:
        reference_files.note(cohort_file, "IOM cohort")
        outcomes = context.cached(offenders.cohort_outcomes)(cohort_file.value)
        summary = outcomes["summary"]
        if summary.empty:
            st.info("No data is loaded to follow the cohort in.")
        else:
            left, right = st.columns([3, 2])
            for _, row in summary.iterrows():
                left.markdown(f"- {offenders.cohort_sentence(row, figures, md)}")
            right.plotly_chart(offenders.cohort_figure(summary, figures),
                               key="iom-before-after")
            unknown = int(summary["unknown"].sum())
            if unknown:
                st.caption(f"{count(unknown)} member(s) have no offence anywhere in the loaded data: check "
                           "that the cohort file uses the partner extract's offender keys.")
            st.warning(offenders.REGRESSION_NOTE, icon=":material/info:")
            table = outcomes["members"]
            listing = viewer.sees_person_keys and access.opened_person_list(
                "Each member, for analysts only", "iom_members_open", "IOM cohort members",
                {"cohort_file": cohort_file.source.label}, len(table))
            if listing:
                with listing:
                    st.dataframe(table, hide_index=True, key="iom-members", column_config={
                        "offender_id": st.column_config.TextColumn("Offender key"),
                        "start_date": st.column_config.DateColumn("Joined"),
                        "before": st.column_config.NumberColumn("Offences, year before"),
                        "after": st.column_config.NumberColumn("Offences, year after"),
                        "complete": st.column_config.CheckboxColumn("Both years in the data"),
                        "known": st.column_config.CheckboxColumn("In the data")})
                    files.download_button("Download the members (CSV)", exports.csv_export(
                        table, "iom-cohort-before-after.csv", person_level=True, what="IOM cohort before and after",
                        filters={"cohort_file": cohort_file.source.label}), key="iom-members-csv", viewer=viewer,
                        help="Every download of offender keys is recorded in the audit log.")
        st.caption("Offences: every counted crime naming the member, anywhere in the loaded area (the "
                   "sidebar's filters do not apply), in the 365 days before the start date and from the "
                   "start date for 365 days. The change is judged by a Wilcoxon signed-rank test on each "
                   "member's two counts.")


SECTIONS = {"Proven reoffending": proven_section, "Repeat offending in the partner extract": repeat_section,
            "Most frequent offenders": frequent_section, "IOM cohort before and after entry": cohort_section}
# Without the Ministry of Justice's file the page opens on the partner extract's repeat offending.
# Not in the URL: the most frequent offenders hand over to the problem profile (st.switch_page).
widgets.sections(SECTIONS, key="reoffending_section", in_url=False,
                 default=None if moj.source.path is not None else "Repeat offending in the partner extract")

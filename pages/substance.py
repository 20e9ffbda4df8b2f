"""Substance misuse: treatment (NDTMS: people in treatment, successful completions, re-presentations
by substance group) beside the demand the store shows (drug offences and alcohol-related crimes and
ASB: trend, wards, premises), so commissioners see services and demand together. Each in its own
tab, drawn only while open."""
import streamlit as st

from app import context, reference_files, widgets
from cdp import queries, substance, treatment
from cdp.markup import md
from cdp.metrics import Comparison, months_of

f = context.filters()
viewer = context.viewer()
figures = viewer.figures
st.title("Substance misuse")
st.caption(widgets.describe(f) + " · Reducing substance misuse is one of the partnership's four "
           "statutory aims (Partnership Plan 2021-24, 1.4); monitoring its trends to assess commissioned "
           "services and treatment is a thematic focus (1.7).")
file = reference_files.load("treatment")
why_not = context.cached(substance.unavailable)()
available = [m.key for m in substance.MEASURES if not why_not[m.key]]
labels = {m.key: m.label for m in substance.MEASURES}


def treatment_section() -> None:
    if file.source.path is None:
        st.info("No treatment file is configured. Set **CDP_TREATMENT** to the NDTMS figures (people in "
                "treatment, successful completions and re-presentations per month or quarter, by substance "
                "group; the format is in README.md, 'Substance misuse treatment'). The board's \"maintain "
                "successful completions\" target reads the same file.")
        return
    if file.error:
        st.error(f"The treatment file cannot be used: {md(file.error)}")
        return
    reference_files.note(file, "treatment figures")
    table = reference_files.derived(file, treatment.rolling)
    shown = treatment.published(table, figures)
    for _, row in treatment.latest_comparison(table).iterrows():
        st.markdown(f"- {treatment.comparison_sentence(row, figures)}")
    left, right = st.columns(2)
    left.plotly_chart(treatment.rates_figure(shown, "completion_rate",
                                             "Successful completions in 12 months, share of those in treatment"),
                      key="treatment-completions")
    right.plotly_chart(treatment.numbers_figure(shown), key="treatment-numbers")
    if shown["re_presentation_rate"].notna().any():
        st.plotly_chart(treatment.rates_figure(shown, "re_presentation_rate",
                                               "Re-presentations within six months, share of the "
                                               "12 months' successful completions"),
                        key="treatment-representations")
    else:
        st.caption("The file gives no re-presentations, so the share who come back to treatment "
                   "within six months cannot be shown.")
    st.caption("City-wide figures: the sidebar's ward and people filters do not apply. A year against "
               "the year before by a two-proportion z-test (p < 0.05; the two years share some "
               "people, so treat it as a guide). Re-presentations are known six months after a "
               "completion, so their line ends earlier.")


def demand_caption() -> None:
    st.caption("From the store, under every sidebar filter but the priorities (on this page the measure "
               "is the subject). Crimes and ASB incidents are counted apart and never added.")


def demand_section() -> None:
    demand_caption()
    counted = context.cached(substance.period_counts)(f)
    monthly = context.cached(substance.monthly)(f)[available]
    columns = st.columns(len(substance.MEASURES))
    for column, m in zip(columns, substance.MEASURES):
        with column.container(border=True):
            st.markdown(f"**{m.label}**", help=m.note)
            if why_not[m.key]:
                widgets.coverage_badge("unavailable", why_not[m.key])
                continue
            n, earlier = counted["counts"][m.key], f.year_earlier()
            months = months_of(monthly[m.key], f.start, f.end)   # beside it on the chart
            st.metric(f"{m.unit[0].upper()}{m.unit[1:]} in the period", figures.total_text(n, months))
            widgets.change_line(Comparison("Against the same months a year earlier", counted["changes"][m.key],
                                           f"not compared: {counted['reason']}"), figures, months,
                                months_of(monthly[m.key], earlier.start, earlier.end))
    left, right = st.columns(2)
    left.plotly_chart(substance.trend_figure(monthly, "crimes", f.start, figures), key="substance-crimes")
    if any(substance.BY_KEY[k].unit == "ASB incidents" for k in available):
        right.plotly_chart(substance.trend_figure(monthly, "ASB incidents", f.start, figures), key="substance-asb")
    else:
        right.info("ASB incidents linked to drugs or alcohol need a partner extract's flags.")
    if figures.restricted:
        st.caption(figures.statement)


def places_section() -> None:
    demand_caption()
    st.subheader("By ward")
    wards = figures.table(context.cached(substance.by_ward)(f)[["ward_name", *available]], available)
    st.dataframe(wards.rename(columns={"ward_name": "Ward", **labels}), hide_index=True, key="substance-wards")
    nat_areas, _ = context.areas()
    if nat_areas.areas:
        st.subheader("By NAT area")
        summed = substance.by_area(context.cached(substance.by_ward)(f), nat_areas, available, figures)
        st.dataframe(summed.rename(columns={"area": "NAT area", **labels}), hide_index=True,
                     key="substance-areas")
        st.caption("The wards of each Neighbourhood Action Team area summed (CDP_AREAS, else "
                   "config/areas.toml).")
    st.subheader("By premises")
    left, right = st.columns([2, 3])
    kinds = figures.table(context.cached(substance.by_premises_type)(f)[["premises_type", *available]], available)
    left.dataframe(kinds.rename(columns={"premises_type": "Premises type", **labels}), hide_index=True,
                   key="substance-premises-types")
    with right:
        measure = st.segmented_control("Premises with the most", available, default=available[0],
                                       format_func=labels.get, key="substance-measure") or available[0]
        top = context.cached(substance.top_premises)(f, measure, 10, viewer.sees_residential_addresses)
        if top.empty:
            datasets = context.cached(queries.loaded_datasets)()
            st.info("No incidents at recorded premises for these filters"
                    + (" (police.uk data records no premises)." if datasets == {"police_uk"} else "."))
        else:
            top = figures.table(top, ["count"])
            st.dataframe(top.rename(columns={"premises": "Premises", "premises_type": "Type", "ward": "Ward",
                                             "count": labels[measure]}),
                         hide_index=True, key="substance-top-premises")
    if figures.restricted:
        st.caption(figures.statement)


SECTIONS = {"Treatment": treatment_section, "Drug and alcohol demand": demand_section,
            "Wards and premises": places_section}
# Without a treatment file the page opens on what the store shows.
widgets.sections(SECTIONS, key="substance_section",
                 default=None if file.source.path is not None else "Drug and alcohol demand")

"""Overview: each Partnership Plan priority in the selected period, its change and its trend."""
import streamlit as st

from app import context, widgets
from cdp import charts, counting, metrics

f = context.filters()
figures = context.viewer().figures
st.title("Overview")
st.caption(widgets.describe(f))
widgets.not_counted(context.cached(counting.not_counted)(f), figures)

panels = context.cached(metrics.priority_panels)(f)
columns = st.columns(3)
for i, panel in enumerate(panels):
    with columns[i % 3].container(border=True):
        st.subheader(panel.label)
        widgets.coverage_badge(panel.coverage, panel.coverage_note)
        if panel.coverage == "unavailable":
            continue
        months = panel.months(f.start, f.end)   # beside the total on the sparkline
        st.metric(f"{panel.unit[0].upper()}{panel.unit[1:]} in the period",
                  figures.total_text(panel.count, months))
        for comparison in panel.comparisons:  # the same months a year earlier first
            widgets.change_line(comparison, figures, months, panel.months(*comparison.period))
        st.image(charts.sparkline_svg(panel.trend, figures, highlight_from=f.start,
                                      label=f"{panel.label}: monthly counts"), width="stretch")
        st.caption("Last 24 months; the shaded months are the selected period. Each month's "
                   "count: the Trends page.")

if figures.restricted:
    st.caption(figures.statement)
st.caption("Changes are judged with an exact Poisson rate-ratio test (significant at p < 0.05), not "
           "bare percentage change, against the same months a year earlier first (fair to the "
           "season), and only between complete months counted with the same coverage. ASB incidents "
           "and crimes are counted separately and never added. Counted: incidents inside the loaded "
           "wards, each once (see the Data page).")

"""Overview: each Partnership Plan priority in the selected period, its change and its trend."""
import streamlit as st

from app import context, widgets
from cdp import charts, metrics
from cdp.suppression import hide_small, suppress_count

f = context.filters()
viewer = context.viewer()
st.title("Overview")
st.caption(widgets.describe(f))

panels = context.cached(metrics.priority_panels)(f)
columns = st.columns(3)
for i, panel in enumerate(panels):
    with columns[i % 3].container(border=True):
        st.subheader(panel.label)
        widgets.coverage_badge(panel.coverage, panel.coverage_note)
        if panel.coverage == "unavailable":
            continue
        shown = f"{panel.count:,}" if viewer.sees_small_numbers else suppress_count(panel.count)
        st.metric(f"{panel.unit[0].upper()}{panel.unit[1:]} in the period", shown)
        if f.months == 12:  # the previous 12 months are the same months a year earlier
            widgets.change_line("Against the previous 12 months", panel.vs_previous, viewer)
        else:
            widgets.change_line("Against the previous period", panel.vs_previous, viewer)
            widgets.change_line("Against the same months a year earlier", panel.vs_last_year, viewer)
        trend = panel.trend if viewer.sees_small_numbers else hide_small(panel.trend)
        st.plotly_chart(charts.sparkline(trend, highlight_from=f.start),
                        config={"displayModeBar": False}, key=f"trend-{panel.key}")
        st.caption("Last 24 months; the shaded months are the selected period.")

st.caption("Changes are judged with an exact Poisson rate-ratio test (significant at p < 0.05), not "
           "bare percentage change. ASB incidents and crimes are counted separately and never added.")

"""Overview: each Partnership Plan priority in the selected period, its change and its trend."""
import streamlit as st

from app import context, widgets
from cdp import charts, counting, metrics
from cdp.suppression import hide_small, suppress_count

f = context.filters()
viewer = context.viewer()
st.title("Overview")
st.caption(widgets.describe(f))
widgets.not_counted(context.cached(counting.not_counted)(f), viewer.sees_small_numbers)

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
        for comparison in panel.comparisons:  # the same months a year earlier first
            widgets.change_line(comparison, viewer)
        trend = panel.trend if viewer.sees_small_numbers else hide_small(panel.trend)
        st.plotly_chart(charts.sparkline(trend, highlight_from=f.start),
                        config={"displayModeBar": False}, key=f"trend-{panel.key}")
        st.caption("Last 24 months; the shaded months are the selected period.")

st.caption("Changes are judged with an exact Poisson rate-ratio test (significant at p < 0.05), not "
           "bare percentage change, against the same months a year earlier first (fair to the "
           "season), and only between complete months counted with the same coverage. ASB incidents "
           "and crimes are counted separately and never added. Counted: incidents inside the loaded "
           "wards, each once (see the Data page).")

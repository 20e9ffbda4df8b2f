"""Plotly figure builders shared by pages. Each returns a figure that plain pytest can inspect."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .disclosure import TrueValues


PALETTE = {"primary": "#1f4e79", "accent": "#c0504d", "muted": "#9aa5b1", "good": "#2e7d32"}


def sparkline(series: pd.Series, figures: TrueValues | None = None, highlight_from=None,
              height: int = 90) -> go.Figure:
    """A small monthly trend line of counts as `figures` publishes them (default: true values;
    a "<5" month is a gap, its hover says "<5"); months from `highlight_from` on are marked as
    the period."""
    figures = figures or TrueValues()
    fig = go.Figure(go.Scatter(x=series.index, y=figures.counts(series).to_numpy(), mode="lines",
                               line={"color": PALETTE["primary"], "width": 2},
                               customdata=figures.texts(series),
                               hovertemplate="%{x|%b %Y}: %{customdata}<extra></extra>"))
    if highlight_from is not None:
        fig.add_vrect(x0=pd.Timestamp(highlight_from) - pd.Timedelta(days=15),
                      x1=series.index.max() + pd.Timedelta(days=15),
                      fillcolor=PALETTE["muted"], opacity=0.15, line_width=0)
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 4, "b": 0}, showlegend=False,
                      xaxis={"visible": False}, yaxis={"visible": False, "rangemode": "tozero"},
                      plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return fig

"""Chart pieces shared by pages: the palette, and the overview's sparkline drawn as an SVG image
(as the briefing's control charts are, `briefing.panel_svg`)."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .disclosure import TrueValues


PALETTE = {"primary": "#1f4e79", "accent": "#c0504d", "muted": "#9aa5b1", "good": "#2e7d32"}


def svg_line(values, x, y, colour: str, width: float) -> list[str]:
    """The SVG polylines through the points (x(i), y(value)), a gap at each NaN: a month published
    as "<5" is no point of the line."""
    runs = [[]]
    for i, v in enumerate(values):
        runs[-1].append(f"{x(i):.1f},{y(v):.1f}") if not np.isnan(v) else runs.append([])
    return [f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="{width}" '
            'stroke-linejoin="round"/>' for run in runs if run]


def sparkline_svg(series: pd.Series, figures: TrueValues | None = None, highlight_from=None,
                  label: str = "", width: int = 300, height: int = 90) -> str:
    """A small monthly trend line of counts as `figures` publishes them (default: true values),
    as an SVG image: months from `highlight_from` on shaded as the period, a month published as
    "<5" a gap in the line. Each month's published count is its point's tooltip (<title>), read
    where the SVG is inline. Drawn as an image the page loads no charting library (six Plotly
    sparklines took half the overview's opening)."""
    figures = figures or TrueValues()
    shown = figures.counts(series).to_numpy(float)
    months = pd.to_datetime(series.index)
    n, pad = len(shown), 4
    top = max(float(np.nanmax(shown, initial=0)) if n else 0.0, 1.0) * 1.08

    def x(i: float) -> float:
        return pad + (width - 2 * pad) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - v / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{html.escape(label)}">']
    if highlight_from is not None and n:
        first = int(np.searchsorted(months, pd.Timestamp(highlight_from)))
        left = x(first - 0.5) if first > 0 else 0
        parts.append(f'<rect x="{left:.1f}" y="0" width="{width - left:.1f}" height="{height}" '
                     f'fill="{PALETTE["muted"]}" fill-opacity="0.15"/>')
    parts += svg_line(shown, x, y, PALETTE["primary"], 2)
    for i, (v, text) in enumerate(zip(shown, figures.texts(series))):
        cy = y(0 if np.isnan(v) else v)
        parts.append(f'<circle cx="{x(i):.1f}" cy="{cy:.1f}" r="{0 if np.isnan(v) else 1.5}" '
                     f'fill="{PALETTE["primary"]}"><title>{months[i]:%b %Y}: {html.escape(text)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)

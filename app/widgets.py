"""Small display pieces shared by pages."""
from __future__ import annotations

import streamlit as st

from cdp import access, targets
from cdp.counting import NotCounted
from cdp.filters import Filters, in_words
from cdp.metrics import Comparison
from cdp.priorities import PRIORITY_BY_KEY
from cdp.suppression import suppress_change

from cdp.markup import md

_BADGES = {"full": ("Full coverage", "green"), "proxy": ("Proxy only", "orange"),
           "unavailable": ("Unavailable", "gray"), "mixed": ("Mixed coverage", "orange")}


def describe(f: Filters, text=md) -> str:
    """One line saying what the filters select, for markdown; names from data (categories) go
    through `text` (cdp.markup.chart for a plotly title)."""
    period = (f"{f.start:%b %Y}" if f.start == f.end else f"{f.start:%b %Y} to {f.end:%b %Y}")
    wards = f"{len(f.wards)} ward(s)" if f.wards else "all wards"
    parts = [period, f"{text(f.area)} area ({wards})" if f.area else wards]
    if len(f.priorities) < len(PRIORITY_BY_KEY):
        parts.append(", ".join(PRIORITY_BY_KEY[k].label for k in f.priorities))
    if f.categories:
        parts.append(", ".join(text(c) for c in f.categories) if len(f.categories) <= 3
                     else f"{len(f.categories)} categories")
    return " · ".join(parts + in_words(f, text))


def coverage_badge(level: str, note: str = "") -> None:
    label, colour = _BADGES[level]
    st.badge(label, color=colour)
    if note:
        st.caption(note)


def not_counted(figures: NotCounted, small_numbers: bool = True) -> None:
    """The statement of what the figures leave out (outside the area, unlocated, superseded);
    counts of 1-4 read "<5" unless `small_numbers`."""
    if figures.total:
        st.caption(figures.sentence(small_numbers))


def change_line(comparison: Comparison, viewer: access.Viewer) -> None:
    """One comparison in words: the change and whether it is significant, or why not compared."""
    change = comparison.change
    if change is None:
        st.caption(f"{comparison.title}: {comparison.reason}.")
        return
    if not viewer.sees_small_numbers:
        shown = suppress_change(change.count, change.previous)
        st.caption(f"{comparison.title}: {shown.difference} ({shown.percent}), {change.verdict}.")
        return
    arrow = "▲" if change.ratio > 1 else "▼" if change.ratio < 1 else "■"
    pct = "n/a" if change.pct_change is None else f"{change.pct_change:+.0f}%"
    colour = {"significant rise": "red", "significant fall": "green"}.get(change.verdict, "gray")
    st.markdown(f"{comparison.title}: {arrow} **{pct}** (was {change.previous:,}) :{colour}[{change.verdict}]",
                help=change.sentence)


def plan_targets() -> targets.TargetsConfig:
    """The targets file (baseline year, targets, definitions); when it cannot be used, say why
    (file, line, reason) and stop the page."""
    try:
        return targets.current()
    except targets.BriefingConfigError as exc:
        st.error(f"The targets file cannot be used, so this page cannot show the plan's baseline "
                 f"and definitions. {exc}")
        st.stop()

"""Small display pieces shared by pages."""
from __future__ import annotations

import streamlit as st

from cdp import access
from cdp.filters import Filters
from cdp.priorities import PRIORITY_BY_KEY
from cdp.stats import Change
from cdp.suppression import suppress_change

_BADGES = {"full": ("Full coverage", "green"), "proxy": ("Proxy only", "orange"),
           "unavailable": ("Unavailable", "gray")}


def describe(f: Filters) -> str:
    """One line saying what the filters select."""
    period = (f"{f.start:%b %Y}" if f.start == f.end else f"{f.start:%b %Y} to {f.end:%b %Y}")
    parts = [period, f"{len(f.wards)} ward(s)" if f.wards else "all wards"]
    if len(f.priorities) < len(PRIORITY_BY_KEY):
        parts.append(", ".join(PRIORITY_BY_KEY[k].label for k in f.priorities))
    extra = f.people_places_premises()
    if extra:
        parts.append("filtered by " + ", ".join(name.replace("_", " ") for name in extra))
    return " · ".join(parts)


def coverage_badge(level: str, note: str = "") -> None:
    label, colour = _BADGES[level]
    st.badge(label, color=colour)
    if note:
        st.caption(note)


def change_line(title: str, change: Change | None, viewer: access.Viewer) -> None:
    """One comparison in words: the change and whether it is significant."""
    if change is None:
        st.caption(f"{title}: no data for that period.")
        return
    if not viewer.sees_small_numbers:
        shown = suppress_change(change.count, change.previous)
        st.caption(f"{title}: {shown.difference} ({shown.percent}), {change.verdict}.")
        return
    arrow = "▲" if change.ratio > 1 else "▼" if change.ratio < 1 else "■"
    pct = "n/a" if change.pct_change is None else f"{change.pct_change:+.0f}%"
    colour = {"significant rise": "red", "significant fall": "green"}.get(change.verdict, "gray")
    st.markdown(f"{title}: {arrow} **{pct}** (was {change.previous:,}) :{colour}[{change.verdict}]",
                help=change.sentence)

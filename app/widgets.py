"""Small display pieces shared by pages."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from cdp import targets
from cdp.counting import NotCounted
from cdp.disclosure import TrueValues
from cdp.filters import Filters, in_words
from cdp.metrics import Comparison
from cdp.priorities import PRIORITY_BY_KEY

from cdp.markup import md, md_table

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


def not_counted(counts: NotCounted, figures: TrueValues) -> None:
    """The statement of what the figures leave out (outside the area, unlocated, superseded),
    each count as `figures` publishes it."""
    if counts.total:
        st.caption(counts.sentence(figures))


def change_line(comparison: Comparison, figures: TrueValues, now=None, before=None) -> None:
    """One comparison in words: the change and whether it is significant, or why not compared.

    For a restricted viewer the counts are published (`now` and `before`: the true counts shown
    beside each period's total, such as its months on a chart, so the totals never fix one of
    them), the change is worked out from the published totals and the verdict is shown only when
    every count behind it is publishable; never the exact test."""
    change = comparison.change
    if change is None:
        st.caption(f"{comparison.title}: {comparison.reason}.")
        return
    if not figures.restricted:
        arrow = "▲" if change.ratio > 1 else "▼" if change.ratio < 1 else "■"
        pct = "n/a" if change.pct_change is None else f"{change.pct_change:+.0f}%"
        colour = {"significant rise": "red", "significant fall": "green"}.get(change.verdict, "gray")
        st.markdown(f"{comparison.title}: {arrow} **{pct}** (was {change.previous:,}) "
                    f":{colour}[{change.verdict}]", help=change.sentence)
        return
    current, previous = figures.total(change.count, now), figures.total(change.previous, before)
    if not figures.publishable(change.count, change.previous) or current is None or previous is None:
        st.caption(f"{comparison.title}: not shown, as a count behind it is from 1 to "
                   f"{figures.rule.threshold - 1}.")
        return
    rate_now, rate_before = current / change.current_months, previous / change.previous_months
    arrow = "▲" if rate_now > rate_before else "▼" if rate_now < rate_before else "■"
    pct = "n/a" if not rate_before else f"{(rate_now / rate_before - 1) * 100:+.0f}%"
    colour = {"significant rise": "red", "significant fall": "green"}.get(change.verdict, "gray")
    st.markdown(f"{comparison.title}: {arrow} **{pct}** (was {figures.shown_text(previous)}) "
                f":{colour}[{change.verdict}]")


def plan_targets() -> targets.TargetsConfig:
    """The targets file (baseline year, targets, definitions); when it cannot be used, say why
    (file, line, reason) and stop the page."""
    try:
        return targets.current()
    except targets.BriefingConfigError as exc:
        st.error(f"The targets file cannot be used, so this page cannot show the plan's baseline "
                 f"and definitions. {exc}")
        st.stop()


ROW_PX = 35   # st.dataframe's row (and header) height
MD_ROW_PX = 28   # a static table's row (and header) height, in TABLE_CSS's type
# Static tables set as compactly as st.dataframe: figures in the app's small type, one line a row
# where the column is wide enough; a table wider than its column scrolls sideways within it.
TABLE_CSS = """<style>
[data-testid="stMarkdownContainer"] table {font-size: 0.875rem; line-height: 1.35; display: block;
  max-width: 100%; overflow-x: auto;}
[data-testid="stMarkdownContainer"] :is(th, td) {padding: 0.25rem 0.5rem;}
</style>"""


def table_height(rows: int, most_rows: int = 15) -> int | str:
    """A dataframe's height: its rows (no empty rows under a short table), scrolling past
    `most_rows`."""
    return "content" if rows <= most_rows else ROW_PX * (most_rows + 1) + 3


def static_table(frame, headings: dict[str, str] | None = None, months: tuple[str, ...] = (),
                 most_rows: int | None = None, decimals: int | None = None) -> None:
    """A table read as it is (no sorting, search or selection): one markdown table, its text
    escaped and its numbers written out (markup.md_table). The page loads no data grid (about
    0.35 s of the first one's drawing), and the table is one element where st.table renders
    each cell as markdown of its own (0.4 s for a 20-row table). With `most_rows`, a longer
    table scrolls."""
    st.html(TABLE_CSS)
    scrolls = most_rows is not None and len(frame) > most_rows
    box = st.container(height=MD_ROW_PX * (most_rows + 1), border=False) if scrolls else st
    box.markdown(md_table(frame, headings, months, decimals))


def sections(draw: dict[str, Callable[[], None]], key: str, default: str | None = None,
             in_url: bool = True) -> None:
    """A page's sections as tabs, of which only the open one is computed, sent and drawn: choosing
    a tab reruns the page. With `in_url` the open tab is in the URL (`?<key>=<label>`), so a
    reload or a shared link opens it; a page that hands over to another with st.switch_page
    cannot have it (Streamlit 1.67 refuses to clear a URL parameter bound to a widget).
    `default` is the tab opened when the URL names none."""
    tabs = st.tabs(list(draw), key=key, default=default, on_change="rerun",
                   bind="query-params" if in_url else None)
    for tab, section in zip(tabs, draw.values()):
        if tab.open:
            with tab:
                section()

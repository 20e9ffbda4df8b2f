"""Board briefing: each priority's latest 12 months against the baseline year, progress toward
the plan's targets, control-chart status and exceptions; a presentation mode for the big screen
and the deck as PDF or HTML. Every figure is published (cdp.disclosure) for every viewer: the
briefing is a board view and its decks are for publication."""
import re
from datetime import date

import streamlit as st

from app import context, files, reference_files, widgets
from cdp import briefing, disclosure
from cdp.exports import Export
from cdp.markup import md

SLIDE = "slide"   # presentation mode's slide, 1 up, in the URL: a reload or shared link opens it
STATUS_COLOURS = {"on track": "green", "behind": "red", "In control": "green", "Signal": "orange"}
# Presentation mode is sized in one unit, --u: 24 px on a 1920x1080 screen, scaled with the
# viewport's smaller side (16 px at 1280x720), so every slide fits the screen and every text is
# readable from the back of the room; the chart's box is a share of the screen's height.
PRESENTATION_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], header[data-testid="stHeader"] {display: none !important;}
[data-testid="stMain"] {--u: min(1.25vw, 2.222vh);}
[data-testid="stMainBlockContainer"] {max-width: 100%; padding: 1.2vh 3vw 0 !important;}
[data-testid="stMain"] [data-testid="stVerticalBlock"] {gap: calc(0.3 * var(--u));}
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] button *,
[data-testid="stMain"] [data-testid="stCaptionContainer"] p,
[data-testid="stMain"] [data-testid="stAlert"] p {font-size: var(--u) !important; line-height: 1.25;
  margin: 0 !important;}
.st-key-briefing-slide p, .st-key-briefing-slide li {font-size: calc(1.1 * var(--u)) !important;}
.st-key-briefing-slide [data-testid="stCaptionContainer"] p {font-size: var(--u) !important;}
[data-testid="stMain"] [data-testid="stAlert"] > div {padding: calc(0.3 * var(--u)) var(--u);}
[data-testid="stMain"] [data-testid="stIconMaterial"], [data-testid="stMain"] [data-testid="stAlertDynamicIcon"] {font-size: var(--u) !important;}
[data-testid="stMain"] [data-testid="stMarkdown"], [data-testid="stMain"] [data-testid="stMarkdownContainer"],
[data-testid="stMain"] [data-testid="stCaptionContainer"] {margin-bottom: 0 !important;}
[data-testid="stMain"] li {margin: 0 0 0 var(--u) !important; padding: 0 !important;}
[data-testid="stMain"] ul {margin: 0 !important; padding: 0 !important;}
[data-testid="stMain"] button {min-height: 0; padding: calc(0.15 * var(--u)) calc(0.6 * var(--u));}
.st-key-briefing-slide h2 {font-size: calc(2.1 * var(--u)) !important; line-height: 1.1; padding: 0 !important;}
.st-key-briefing-slide [data-testid="stMetricValue"] {font-size: calc(3.4 * var(--u)) !important;
  line-height: 1.05; min-height: 0;}
.st-key-briefing-slide [data-testid="stMetricValue"] * {font-size: inherit !important; line-height: 1.05;}
.st-key-briefing-slide [data-testid="stMetricLabel"] p {font-size: var(--u) !important;}
.st-key-briefing-slide .stMarkdownBadge {font-size: var(--u) !important; padding: 0 0.4em;}
.st-key-briefing-slide [data-testid="stImage"] img {max-height: 36vh; object-fit: contain;}
</style>"""


def badge(status: str) -> str:
    """A coloured status badge in markdown."""
    return f":{STATUS_COLOURS.get(status, 'gray')}-badge[{status}]"


def show_panel(panel: briefing.Panel, chart: str, large: bool = False) -> None:
    """One priority: headline, comparison, targets, control chart (`chart`, an SVG, '' when
    withheld) and exceptions."""
    if large:
        st.header(md(panel.title))
        if panel.coverage != "full":
            st.caption(md(panel.coverage_note))
    else:
        st.subheader(md(panel.title))
        widgets.coverage_badge(panel.coverage, md(panel.coverage_note))
    if panel.coverage == "unavailable":
        return
    left, right = st.columns([5, 6] if large else [1, 1], gap="large")
    with left:
        st.metric(md(panel.headline_label), panel.headline)
        st.markdown(md(panel.comparison))
        for line in panel.targets:
            st.markdown(f"**Target: {md(line.label)}** {badge(line.status)}  \n{md(line.sentence)}")
            for detail in line.details:
                st.caption(md(detail))
        st.markdown(f"**Control chart** {badge(panel.chart_status)}")
        for sentence in panel.chart_sentences[:3]:
            st.markdown(f"- {md(sentence)}.")
    with right:
        if chart:
            st.image(chart, width="stretch")
            st.caption(briefing.chart_caption(panel))
            if panel.chart_note:
                st.caption(md(panel.chart_note))
        else:
            st.info(md(panel.chart_note or "No monthly chart for this panel."))
        if panel.exceptions or panel.exceptions_note:
            st.markdown("**Exceptions, latest 3 months**")
            for sentence in panel.exceptions:
                st.markdown(f"- {md(sentence)}")
            if panel.exceptions_note:
                st.caption(md(panel.exceptions_note))
    for note in panel.notes:
        st.caption(md(note))


@st.cache_resource(max_entries=16, show_spinner=False)
def panels_for(data, targets, treatment, priorities) -> tuple[list[briefing.Panel], dict[str, str]]:
    """The panels and their control charts (SVG by panel key), built once per briefing and shared
    by every session, so moving between slides is instant: the briefing is published, the same
    whoever looks, and the page never changes a panel or a chart."""
    panels = briefing.build_panels(data, targets, treatment, priorities, FIGURES)
    return panels, {panel.key: briefing.panel_svg(panel) for panel in panels}


def presented_slide(count: int) -> int | None:
    """The slide being presented (0 up, within the `count` panels), or None when not presenting."""
    text = st.query_params.get(SLIDE, "")   # typed by anyone: only 1 to 9999 in ASCII digits
    return min(int(text), count) - 1 if re.fullmatch(r"[1-9][0-9]{0,3}", text) else None


def show_slide(index: int | None) -> None:
    """Present slide `index` (0 up), or stop presenting (None)."""
    if index is None:
        st.query_params.pop(SLIDE, None)
    else:
        st.query_params[SLIDE] = str(index + 1)


FIGURES = disclosure.published()   # the briefing is a board view whoever looks, the deck for publication
f = context.filters()
try:
    targets = briefing.load_targets()
except briefing.BriefingConfigError as exc:
    st.title("Board briefing")
    st.error(f"The targets file cannot be used. {md(exc)}")
    st.stop()
data = context.cached(briefing.briefing_data)(f.wards, targets)
treatment = reference_files.treatment_indicator()
panels, charts = panels_for(data, targets, treatment, f.priorities)
subtitle = f"{briefing.period_caption(data, targets)} {briefing.ward_caption(data)}."
not_counted = data.not_counted.sentence(FIGURES) if data.not_counted else ""
deck = briefing.Deck(f"Board briefing: {targets.plan}", subtitle, tuple(panels),
                     tuple(n for n in (not_counted, FIGURES.statement, briefing.METHOD_TEXT,
                                       f"Prepared {date.today():%d %B %Y}.") if n))

if not panels:
    st.title("Board briefing")
    st.info("No data is loaded yet, so there is nothing to brief on.")
    st.stop()

index = presented_slide(len(panels))
if index is not None:
    st.html(PRESENTATION_CSS)
    with st.container(key="briefing-nav", horizontal=True, vertical_alignment="center"):
        st.button("Previous", icon=":material/arrow_back:", shortcut="Left", disabled=index == 0,
                  on_click=show_slide, args=(index - 1,), key="briefing_previous")
        st.button("Next", icon=":material/arrow_forward:", shortcut="Right", type="primary",
                  disabled=index == len(panels) - 1, on_click=show_slide, args=(index + 1,),
                  key="briefing_next")
        st.markdown(f"Panel {index + 1} of {len(panels)} · {md(briefing.ward_caption(data))}")
        st.button("Exit presentation", icon=":material/close:", shortcut="Esc",
                  on_click=show_slide, args=(None,), key="briefing_exit")
    with st.container(key="briefing-slide"):
        show_panel(panels[index], charts[panels[index].key], large=True)
    st.caption(f"{md(briefing.period_caption(data, targets))} {FIGURES.statement}")
    st.stop()

st.title("Board briefing")
st.caption(f"{md(targets.plan)}. {md(subtitle)}")
if data.not_counted:
    widgets.not_counted(data.not_counted, FIGURES)
st.caption("The briefing follows the sidebar's ward and priority choices. Its period is always "
           "the latest 12 months against the baseline year, whatever period the sidebar sets.")
ignored = briefing.ignored_filters(f, md)
if ignored:
    st.warning(f"The sidebar's filters for {'; '.join(ignored)} do not apply to the briefing: it "
               f"reports the plan's measures for whole wards.", icon=":material/filter_alt_off:")
with st.container(horizontal=True):
    st.button("Present", icon=":material/slideshow:", type="primary", on_click=show_slide,
              args=(0,), key="briefing_present_button",
              help="Large type, no sidebar, one panel at a time (arrow keys move, Esc exits).")
    files.download_button("Download PDF deck", Export(lambda: briefing.deck_pdf(deck), "board-briefing.pdf",
                                                      "application/pdf"),
                          icon=":material/picture_as_pdf:", key="briefing_pdf")
    files.download_button("Download HTML deck", Export(lambda: briefing.deck_html(deck).encode("utf-8"),
                                                       "board-briefing.html", "text/html"),
                          icon=":material/slideshow:", key="briefing_html")
st.caption(FIGURES.statement)

for panel in panels:
    with st.container(border=True):
        show_panel(panel, charts[panel.key])

st.caption(briefing.METHOD_TEXT)

"""Nothing from the data is rendered as markup or run as a formula: premises names, locations,
categories, outcomes, ward names and person keys holding links, HTML and formulas show as text on
every page (markdown, metric labels, buttons), in every chart (plotly's HTML subset), and in the
HTML, PDF and CSV exports; every download goes through the one export layer."""
from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from cdp import access, exports, profiles
from cdp.filters import Filters
from cdp.markup import WORD_JOINER, chart, md, md_table
from conftest import ROOT, shown_tables, table_cells
from hostile import (BOLD, CASTLE, FORMULA, HTML, LINK, LOCATION, PREMISES, WARD, figure_markup, hostile_store,
                     markup_from_data, rendered_markdown, strings_in)

PERIOD = Filters(start=pd.Timestamp("2023-04-01").date(), end=pd.Timestamp("2025-03-01").date())


# --- the escaping rules ------------------------------------------------------------------------

@pytest.mark.parametrize("text", [LINK, HTML, "<b>BOLD9</b>", "www.evil.example", "see http://evil.example/x",
                                  "me@evil.example", "**loud** _shy_ `code` ~~gone~~", "# Heading", "- item",
                                  "1. first", "> quote", "| a | b |", ":red[alert] :material/home: :smile:",
                                  "$x^2$", "&lt;a href=x&gt;", "line one\n# line two", "back\\slash [x]"])
def test_markdown_escaping_leaves_text_as_text(text):
    html = rendered_markdown(md(text))
    assert not markup_from_data(html), html
    for tag in ("<strong>", "<em>", "<code>", "<h1>", "<ul>", "<ol>", "<blockquote>", "<table>", "<del>"):
        assert tag not in html, html
    plain = re.sub(r"<[^>]+>", "", html).strip()
    import html as html_module
    assert html_module.unescape(plain).replace(WORD_JOINER, "") == text.replace("\n", " ")


def test_chart_text_is_escaped_for_plotly():
    assert chart(HTML) == '&lt;a href="http://evil.example/html"&gt;Z&lt;/a&gt;'
    assert chart("Fish & chips") == "Fish &amp; chips"


@pytest.mark.parametrize("cell, written", [
    ("=1+1", "'=1+1"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-1", "-1"), ("+12%", "+12%"), ("-0.5", "-0.5"), ("plain", "plain"),
    ("", ""), ("=", "'="),
])
def test_csv_cells_that_look_like_formulas_are_neutralised(cell, written):
    assert exports.neutralise(cell) == written


def test_csv_keeps_numbers_numeric_and_names_columns_safely():
    frame = pd.DataFrame({"=bad column": ["=x", "ok"], "change": [-3, 4], "share": [-0.25, 0.5],
                          "when": pd.to_datetime(["2024-01-01", "2024-02-01"]), "flag": [True, False]})
    text = exports.csv_bytes(frame).decode()
    assert text.splitlines()[0] == "'=bad column,change,share,when,flag"
    back = pd.read_csv(io.StringIO(text))
    assert back["change"].tolist() == [-3, 4] and back["share"].tolist() == [-0.25, 0.5]
    assert back["'=bad column"].tolist() == ["'=x", "ok"]


def test_html_tables_and_pdf_text():
    table = exports.html_table(pd.DataFrame({"<b>col</b>": [HTML], "n": [1]}))
    assert "<a href" not in table and "&lt;a href=" in table and "&lt;b&gt;col" in table
    assert exports.pdf_text("Caf\u00e9 \u2013 \u201cquoted\u201d \u2603") == 'Caf\u00e9 - "quoted" ?'


def test_person_level_exports_are_refused_without_access_and_audited(tmp_path, monkeypatch):
    log = tmp_path / "audit.log"
    monkeypatch.setenv("CDP_AUDIT_LOG", str(log))
    export = exports.csv_export(pd.DataFrame({"victim_id": ["V1", "V2"]}), "v.csv", person_level=True,
                                what="victims", filters={"ward": "Castle"})
    with pytest.raises(PermissionError):
        exports.deliver(export, access.Viewer("b", "board"))
    assert not log.exists()
    assert exports.deliver(export, access.Viewer("a", "analyst")) == b"victim_id\nV1\nV2\n"
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert (entry["user"], entry["action"], entry["what"], entry["rows"], entry["filters"]) == \
        ("a", "export", "victims", 2, {"ward": "Castle"})
    # Aggregates are no person-level export: nothing to log.
    exports.deliver(exports.csv_export(pd.DataFrame({"n": [1]}), "n.csv"), access.Viewer("b", "board"))
    assert len(log.read_text().splitlines()) == 1


def test_every_download_goes_through_the_export_layer():
    """No page or app module offers a file itself: st.download_button appears only in app/files.py."""
    offenders = [p for p in [*ROOT.glob("pages/*.py"), *ROOT.glob("app/*.py"), ROOT / "dashboard.py"]
                 if "download_button(" in p.read_text().replace("files.download_button(", "")
                 and p.name != "files.py"]
    assert offenders == []
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(r"^disableDataExport = true$", config, re.MULTILINE)  # no table-toolbar CSV


# --- the exports of a hostile profile -------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_store(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def profile(hostile):
    from cdp import store
    con = store.connect(hostile)
    yield profiles.build_profile(con, PERIOD, profiles.Subject("premises", "PR1", label=PREMISES))
    con.close()


def test_profile_exports_show_hostile_text_as_text(profile):
    assert profile.total_rows > 10 and "evil.example" in profile.subject.title
    page = profiles.profile_html(profile)
    assert '<a href="http://evil.example' not in page and "<b>BOLD9" not in page
    assert "&lt;a href=&quot;http://evil.example/html&quot;&gt;" in page  # escaped, yet there
    for figure in (profiles.timeline_figure(profile), profiles.monthly_figure(profile)):
        assert not figure_markup(figure.to_plotly_json())
    rows = pd.read_csv(io.BytesIO(profiles.timeline_csv(profile)), dtype=str, keep_default_na=False)
    outcomes = set(rows["outcome"])
    assert "'" + FORMULA in outcomes and FORMULA not in outcomes
    assert "-1" in outcomes and "'@SUM(A1)" in outcomes
    assert not {c for c in rows.to_numpy().ravel() if str(c).startswith(("=", "+", "@"))}
    assert profiles.profile_pdf(profile).startswith(b"%PDF")


# --- every page, rendered on hostile data ---------------------------------------------------------

MARKDOWN_ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
                     "success", "exception")


def markdown_sources(at) -> list[str]:
    """Every piece of markdown source the page sent: texts, alerts, metric labels and values,
    button, expander and tab labels, help tooltips."""
    sources = []
    for kind in MARKDOWN_ELEMENTS:
        sources += [str(e.value) for e in getattr(at, kind)]
    for m in at.metric:
        sources += [m.label, str(m.value), m.proto.help or ""]
    for kind in ("button", "expander", "tabs"):
        for element in at.get(kind):
            sources.append(getattr(element, "label", "") or "")
            sources.append(getattr(getattr(element, "proto", None), "help", "") or "")
    for table in at.table:   # st.table renders markdown in every heading and cell
        sources += [str(c) for c in table.value.columns] + [str(v) for v in table.value.to_numpy().ravel()]
    return [s for s in sources if s]


def assert_text_only(at, must_show: str | None = None):
    assert not at.exception, [e.value for e in at.exception]
    sources = markdown_sources(at)
    for source in sources:
        assert not markup_from_data(rendered_markdown(source)), source
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    for figure in figures:
        assert not figure_markup(figure), figure_markup(figure)
    if must_show:
        shown = (" ".join(re.sub(r"\\(.)", r"\1", s) for s in sources).replace(WORD_JOINER, "")
                 + " ".join(strings_in(figures)))
        assert must_show in shown or chart(must_show) in shown


@pytest.fixture
def hostile_page(hostile, tmp_path, monkeypatch):
    import shutil
    store = tmp_path / "store.duckdb"
    shutil.copy(hostile, store)
    monkeypatch.setenv("CDP_DB", str(store))
    monkeypatch.setenv("CDP_AUDIT_LOG", str(tmp_path / "audit.log"))

    def open_page(page: str, **state) -> AppTest:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()  # the last 12 months
        at.switch_page(page)
        for key, value in state.items():
            at.session_state[key] = value
        return at.run()
    return open_page


def test_the_profile_of_a_hostile_premises(hostile_page):
    at = hostile_page("pages/profile.py", p_kind="premises", p_premises="PR1")
    assert any(h.value.startswith(md(f"Premises {PREMISES}")) for h in at.header)
    assert_text_only(at, must_show=PREMISES)
    at = hostile_page("pages/profile.py", p_kind="location", p_location="evil")
    assert_text_only(at, must_show=LOCATION)


@pytest.mark.parametrize("section", ["Hot spots (Gi*)", "CCTV coverage", "Deprivation", "By NAT area"])
def test_maps_with_a_hostile_ward_name(hostile_page, section):
    at = hostile_page("pages/maps.py", maps_ward=CASTLE, maps_section=section)
    assert_text_only(at, must_show=WARD)


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/trends.py", "pages/repeats.py",
                                  "pages/briefing.py", "pages/data.py"])
def test_other_pages_on_hostile_data(hostile_page, page):
    assert_text_only(hostile_page(page))


def test_the_data_pages_static_tables_show_a_hostile_source_as_text(hostile_page):
    """A static table is markdown, every cell and heading: a source's name is one of them."""
    at = hostile_page("pages/data.py")
    assert shown_tables(at) and not at.dataframe
    assert_text_only(at, must_show=f"council {BOLD}")


def test_the_escalation_list_opened_on_hostile_data(hostile_page):
    assert_text_only(hostile_page("pages/repeats.py", repeats_section="Domestic abuse escalation",
                                  escalation_open=True))


@pytest.mark.parametrize("page, state", [
    ("pages/repeats.py", {"repeats_section": "Repeat places and premises"}),
    ("pages/substance.py", {"substance_section": "Wards and premises"}),
    ("pages/substance.py", {"substance_section": "Drug and alcohol demand"}),
], ids=["repeat-places", "substance-places", "substance-demand"])
def test_tabs_on_hostile_data(hostile_page, page, state):
    assert_text_only(hostile_page(page, **state))


def test_the_briefing_deck_escapes_ward_names(hostile):
    from cdp import briefing, store
    con = store.connect(hostile)
    targets = briefing.load_targets()
    data = briefing.briefing_data(con, (CASTLE,), targets)
    panels = briefing.build_panels(data, targets, briefing.treatment_indicator(), PERIOD.priorities)
    con.close()
    deck = briefing.Deck("Board briefing", f"{briefing.ward_caption(data)}.", tuple(panels), ())
    page = briefing.deck_html(deck)
    assert "evil.example" in page and '<a href="http://evil' not in page


def test_a_static_tables_cells_and_headings_are_text():
    """markup.md_table: a markdown table, written out as it reads, its figures aligned right."""
    frame = pd.DataFrame({"source": [f"council {BOLD} a | b", None], "rows": [12345, 7],
                          "share": [0.125, float("nan")], "complete": [True, False],
                          "first_month": pd.to_datetime(["2025-03-01", "2024-04-01"]),
                          "finished_at": pd.to_datetime(["2026-12-07 14:28:20", None]),
                          "count": ["<5", "1,234"], "change": ["+6%", "*"]})
    source = md_table(frame, {"source": f"Source {LINK}", "rows": "Rows", "share": "Share", "complete": "Complete",
                              "first_month": "First month", "finished_at": "Finished", "count": "Count",
                              "change": "Change"}, months=("first_month",))
    shown, align = table_cells(source)
    assert list(shown.columns) == [md(f"Source {LINK}"), "Rows", "Share", "Complete", "First month", "Finished",
                                   "Count", "Change"]
    assert shown.iloc[0].tolist() == [md(f"council {BOLD} a | b"), "12,345", "0.12", "yes", "Mar 2025",
                                      "07 Dec 2026 14:28", md("<5"), md("+6%")]
    assert shown.iloc[1].tolist() == ["", "7", "", "no", "Apr 2024", "", "1,234", md("*")]
    assert align == ["left", "right", "right", "left", "left", "left", "right", "right"]
    rendered = rendered_markdown(source)
    assert rendered.count("<tr>") == 3 and rendered.count("<td") == 16   # the pipe stays in its cell
    assert not markup_from_data(rendered)
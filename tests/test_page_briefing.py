"""The Board briefing page in Streamlit's AppTest on the synthetic demo store, and in a browser."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from cdp import briefing, store
from cdp.counting import counted_condition
from cdp.disclosure import Published
from cdp.priorities import PRIORITIES, PRIORITY_BY_KEY
from conftest import chart_points, page_charts

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/briefing.py"
LATEST = ("2024-04-01", "2025-03-01")
PERSON_KEY = re.compile(r"\b[VO]\d{6}\b")
SMALL_COUNT = re.compile(r"(?<![\d.,])[1-4](?![\d.,%])(?! months?\b)(?! of \d)")


def texts(at) -> list[str]:
    """Everything the page writes as text, as it reads (markdown escapes of text from data undone)."""
    return [re.sub(r"\\(.)", r"\1", t).replace("\u2060", "") for t in _texts(at)]


def _texts(at) -> list[str]:
    return ([e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.info]
            + [e.value for e in at.warning] + [e.value for e in at.error] + [str(m.value) for m in at.metric]
            + [h.value for h in at.header] + [h.value for h in at.subheader])


def published_as(shown: str, true: int) -> bool:
    """Whether `shown` is what the disclosure rule can publish for a total of `true`."""
    if shown.startswith("<"):
        return 1 <= true <= 4
    value = int(shown.replace(",", ""))
    low, high = Published().total_interval_of(value)
    return value % 5 == 0 and low <= true <= high


def connect(where: str) -> duckdb.DuckDBPyConnection:
    return store.connect(where, read_only=True)


def count(where: str, condition: str, params=()) -> int:
    """Counted incidents (in the wards, not superseded: cdp.counting) meeting `condition`."""
    con = connect(where)
    try:
        return con.execute(f"SELECT count(*) FROM incidents WHERE {counted_condition()} AND {condition}",
                           list(params)).fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture
def briefing_page(app_test, monkeypatch):
    monkeypatch.delenv("CDP_TREATMENT", raising=False)
    monkeypatch.delenv("CDP_TARGETS", raising=False)
    return lambda: app_test(PAGE)


def test_one_panel_per_priority_with_the_latest_12_months(briefing_page, demo_store):
    at = briefing_page()
    titles = [h.value for h in at.subheader]
    assert titles == ["All recorded crime", *[p.label for p in PRIORITIES]]
    shown = dict(zip(titles, [m.value for m in at.metric]))
    asb = count(demo_store, "p_asb AND is_asb AND month BETWEEN ? AND ?", LATEST)
    crime = count(demo_store, "NOT is_asb AND month BETWEEN ? AND ?", LATEST)
    assert published_as(shown["Anti-social behaviour"], asb)          # rounded, for the board
    assert published_as(shown["All recorded crime"], crime)
    page = " ".join(texts(at))
    assert "Latest 12 months (April 2024 to March 2025) against the baseline year (April 2020 to March 2021)" in page
    assert "whatever period the sidebar sets" in page
    assert "Target: Reduce anti-social behaviour by 25%" in page
    assert re.search(r"ASB (down|up) \d+% against the baseline; target 25%: (on track|behind)\.", page)
    assert "Target: Reduce hate crime repeat victimisation by 10%" in page
    # The demo's synthetic treatment file feeds the target, as it feeds the substance misuse page.
    assert "Target: Maintain successful completions of substance misuse treatment" in page
    assert "City-wide synthetic demo figures; the ward filter does not apply." in page
    assert "Exceptions, latest 3 months" in page
    charts = page_charts(at)      # a control chart for every panel with one, each as an image
    assert len(charts) == len(at.subheader) and all(chart_points(c) for c in charts)


def test_the_sidebar_period_does_not_move_the_briefing_but_wards_and_priorities_do(briefing_page, demo_store):
    at = briefing_page()
    before = [m.value for m in at.metric]
    at.selectbox(key="f_period").set_value("Latest month").run()
    assert [m.value for m in at.metric] == before          # always the latest 12 months
    con = connect(demo_store)
    ward, name = con.execute("SELECT ward_code, ward_name FROM wards ORDER BY ward_name LIMIT 1").fetchall()[0]
    con.close()
    at.multiselect(key="f_wards").set_value([ward]).run()
    at.multiselect(key="f_priorities").set_value(["asb", "hate_crime"]).run()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["Anti-social behaviour", "Hate crime"]
    in_ward = count(demo_store, "p_asb AND is_asb AND ward_code = ? AND month BETWEEN ? AND ?", (ward, *LATEST))
    assert published_as(at.metric[0].value, in_ward) or at.metric[0].value == in_ward == 0
    assert name in " ".join(texts(at))


def test_people_filters_are_said_not_to_apply(briefing_page):
    at = briefing_page()
    at.session_state["f_people_open"] = True  # the sidebar's People section
    at.run().checkbox(key="f_vulnerable").check().run()
    at.multiselect(key="f_age").set_value(["18-24"]).run()
    warning = next(w.value for w in at.warning if "do not apply to the briefing" in w.value)
    assert "victims aged 18-24" in warning and "vulnerable victims only" in warning


def small_cell(demo_store) -> tuple[str, str, int]:
    """A ward and priority with 1-4 counted incidents in the latest 12 months."""
    con = connect(demo_store)
    try:
        for p in PRIORITIES:
            condition = ("p_asb AND is_asb" if p.key == "asb" else f"p_{p.key} AND NOT is_asb")
            rows = con.execute(f"""SELECT ward_code, count(*) FILTER (WHERE {condition}) AS n FROM incidents
                                   WHERE month BETWEEN ? AND ? AND ward_code IS NOT NULL GROUP BY 1
                                   HAVING n BETWEEN 1 AND 4 ORDER BY n, ward_code""", list(LATEST)).fetchall()
            if rows:
                return rows[0][0], p.key, rows[0][1]
    finally:
        con.close()
    pytest.skip("the demo store has no ward with 1-4 incidents of a priority")


def test_small_numbers_are_suppressed_for_every_role(briefing_page, demo_store, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "analyst")                # suppression does not depend on the role
    ward, key, n = small_cell(demo_store)
    at = briefing_page()
    at.multiselect(key="f_wards").set_value([ward]).run()
    at.multiselect(key="f_priorities").set_value([key]).run()
    assert not at.exception
    assert [h.value for h in at.subheader] == [PRIORITY_BY_KEY[key].label]
    assert at.metric[0].value == "<5"
    for metric in at.metric:
        assert metric.value not in {"1", "2", "3", "4"}
    explanations = {briefing.METHOD_TEXT, Published().statement}   # fixed wording, not figures
    for text in texts(at):
        if text not in explanations:
            assert not SMALL_COUNT.findall(text), text
    # The chart plots published months only: a "<5" month is a gap, every other a multiple of 5.
    for chart in page_charts(at):
        counts = np.array(list(chart_points(chart).values()))
        assert len(counts) < briefing.CHART_MONTHS and (counts % 5 == 0).all()
    assert any("are gaps in the chart" in c.value for c in at.caption)


def test_no_person_keys_anywhere(briefing_page):
    at = briefing_page()
    assert not [t for t in texts(at) if PERSON_KEY.search(t)]


def test_presentation_mode_shows_one_panel_and_moves_with_next(briefing_page):
    at = briefing_page()
    at.button(key="briefing_present_button").click().run()
    assert [h.value for h in at.header if h.value != "Filters"] == ["All recorded crime"]
    assert len(at.metric) == 1 and not at.subheader and len(page_charts(at)) == 1
    css = at.get("html")[0].proto.body
    assert 'section[data-testid="stSidebar"]' in css and "display: none" in css
    assert "--u: min(1.25vw, 2.222vh)" in css and "font-size: var(--u)" in css  # type scaled to the room
    assert any("Panel 1 of 7" in m.value for m in at.markdown)
    at.button(key="briefing_next").click().run()
    assert [h.value for h in at.header if h.value != "Filters"] == ["Anti-social behaviour"]
    assert any("Panel 2 of 7" in m.value for m in at.markdown)
    at.button(key="briefing_previous").click().run()
    assert [h.value for h in at.header if h.value != "Filters"] == ["All recorded crime"]
    assert at.button(key="briefing_previous").disabled
    assert at.button(key="briefing_next").proto.shortcut and at.button(key="briefing_exit").proto.shortcut
    at.button(key="briefing_exit").click().run()
    assert len(at.subheader) == 7 and not at.get("html")


def test_the_slide_presented_is_in_the_url(briefing_page):
    at = briefing_page()
    at.button(key="briefing_present_button").click().run()
    at.button(key="briefing_next").click().run()
    at.button(key="briefing_next").click().run()
    assert at.query_params["slide"] == "3"
    shared = briefing_page()            # the address opened again (a reload, or a link shared)
    shared.query_params["slide"] = "3"
    shared.run()
    assert [h.value for h in shared.header if h.value != "Filters"] == [PRIORITIES[1].label]
    assert any("Panel 3 of 7" in m.value for m in shared.markdown)
    shared.button(key="briefing_exit").click().run()
    assert "slide" not in shared.query_params and len(shared.subheader) == 7
    for unreadable in ("0", "x", "-2", "²", "9" * 5000):  # not a slide: the briefing, not presentation mode
        other = briefing_page()
        other.query_params["slide"] = unreadable
        other.run()
        assert len(other.subheader) == 7 and not other.get("html")
    beyond = briefing_page()
    beyond.query_params["slide"] = "99"
    beyond.run()
    assert any("Panel 7 of 7" in m.value for m in beyond.markdown)


def test_exports_are_a_pdf_and_a_self_contained_html_deck(briefing_page, monkeypatch):
    made = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    at = briefing_page()
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download PDF deck", "Download HTML deck"]
    pdf = made["board-briefing.pdf"]()
    assert pdf.startswith(b"%PDF") and int(re.search(rb"/Count (\d+)", pdf).group(1)) >= 8
    page = made["board-briefing.html"]().decode("utf-8")  # bytes from the export layer
    assert page.startswith("<!DOCTYPE html>") and page.count('<section class="slide">') == 8
    for external in ("http:", "https:", "<link", " src=", "@import", "url("):
        assert external not in page
    assert "ArrowRight" in page and not PERSON_KEY.search(page)


def test_a_treatment_indicator_file_feeds_the_maintain_target(briefing_page, app_test, tmp_path, monkeypatch):
    lines = ["month,successful_completions,in_treatment"]
    lines += [f"2020-{m:02d},30,1000" for m in range(4, 13)] + [f"2021-{m:02d},30,1000" for m in range(1, 4)]
    lines += [f"2024-{m:02d},28,1000" for m in range(4, 13)] + [f"2025-{m:02d},28,1000" for m in range(1, 4)]
    path = tmp_path / "treatment.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("CDP_TREATMENT", str(path))
    at = briefing_page()
    page = " ".join(texts(at))
    assert "The successful completion rate down 7% against the baseline; target no fall: behind." in page
    assert "335 successful completions of 1,000 in treatment (33.5%)" in page   # published: 336 reads 335
    path.write_text("month,successful_completions\n2020-04,3\n", encoding="utf-8")
    at = briefing_page()
    page = " ".join(texts(at))
    assert "The treatment file given cannot be read (the Data page says why)." in page
    assert "treatment.csv" not in page and "CDP_TREATMENT" not in page
    data_page = " ".join(texts(app_test("pages/data.py")))
    assert "treatment.csv, line 1: no in_treatment column" in data_page and "set CDP_TREATMENT" in data_page


def test_a_broken_targets_file_is_reported_with_its_line(briefing_page, tmp_path, monkeypatch):
    path = tmp_path / "targets.toml"
    path.write_text('[baseline]\nstart = "2020-04"\nend = "2021-03"\n\n[[targets]]\nlabel = "x"\n'
                    'measure = "count"\npriority = "burglary"\naim = "reduce"\n', encoding="utf-8")
    monkeypatch.setenv("CDP_TARGETS", str(path))
    at = briefing_page()
    assert at.error and f"{path}, line 5: target 1: measure count needs priority" in " ".join(texts(at))


# --- in a browser ------------------------------------------------------------------------------

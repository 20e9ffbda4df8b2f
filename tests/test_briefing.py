"""Board briefing logic: the targets file, target progress, the treatment indicator file,
small-number suppression (including figures that could work a hidden count back) and the decks."""
from __future__ import annotations

import io
import re
import shutil
from dataclasses import replace
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from cdp import briefing, counting, store
from cdp.briefing import (BriefingConfigError, BriefingData, Target, TreatmentIndicator,
                          target_progress)
from cdp.disclosure import Published, TrueValues
from cdp.priorities import PRIORITY_KEYS
from conftest import chart_points

ASB_TARGET = Target("Reduce anti-social behaviour by 25%", "count", "reduce", 25, "asb", "asb")
CRIME_TARGET = Target("Reduce crime", "all_crime", "reduce", 0, "crime")
MAINTAIN = Target("Maintain successful completions", "treatment", "maintain", 0, "drugs_alcohol")
HATE_REPEATS = Target("Reduce hate crime repeat victimisation by 10%", "repeat_rate", "reduce", 10,
                      "hate_crime", "hate_crime")
CONFIG = briefing.TargetsConfig(date(2020, 4, 1), date(2021, 3, 1),
                                (ASB_TARGET, HATE_REPEATS, CRIME_TARGET, MAINTAIN), "Plan")
NO_TREATMENT = TreatmentIndicator(None)
SMALL = re.compile(r"(?<![\d.,£])[1-4](?![\d.,%])(?! months?\b)")


def small_numbers(text: str) -> list[str]:
    """Standalone numbers from 1 to 4 in display text (not '3 months', '2020' or '1.5')."""
    return SMALL.findall(text)


def panel_texts(panel: briefing.Panel) -> list[str]:
    return [panel.headline, panel.comparison, panel.chart_status, *panel.chart_sentences,
            *panel.exceptions, *[t.sentence for t in panel.targets],
            *[d for t in panel.targets for d in t.details], *[t.status for t in panel.targets]]


# --- the targets file ------------------------------------------------------------------------

def test_default_targets_are_the_plans_published_targets():
    config = briefing.load_targets(briefing.DEFAULT_TARGETS_FILE)
    assert (config.baseline_start, config.baseline_end) == (date(2020, 4, 1), date(2021, 3, 1))
    assert config.baseline_label == "April 2020 to March 2021"
    by_measure = {t.measure: t for t in config.targets}
    assert (by_measure["count"].priority, by_measure["count"].aim, by_measure["count"].percent) == ("asb", "reduce", 25)
    assert (by_measure["repeat_rate"].priority, by_measure["repeat_rate"].percent) == ("hate_crime", 10)
    assert by_measure["all_crime"].aim == "reduce" and by_measure["all_crime"].panel == "crime"
    assert by_measure["treatment"].aim == "maintain" and by_measure["treatment"].panel == "drugs_alcohol"


def test_cdp_targets_overrides_the_default_file(tmp_path, monkeypatch):
    path = tmp_path / "ours.toml"
    path.write_text('[baseline]\nstart = "2022-01"\nend = "2022-12"\n\n[[targets]]\n'
                    'label = "Cut weapon crime by a fifth"\nmeasure = "count"\npriority = "weapons"\n'
                    'aim = "reduce"\npercent = 20\n', encoding="utf-8")
    monkeypatch.setenv("CDP_TARGETS", str(path))
    assert briefing.targets_path() == path
    config = briefing.load_targets()
    assert config.baseline_start == date(2022, 1, 1)
    assert config.targets == (Target("Cut weapon crime by a fifth", "count", "reduce", 20.0, "weapons", "weapons"),)
    assert config.targets_for("weapons") and not config.targets_for("asb")


@pytest.mark.parametrize("text, message", [
    ('[baseline\nstart = "2020-04"', "not valid TOML"),
    ('[baseline]\nstart = "2020-04"\nend = "2020-12"\n[[targets]]\nlabel = "x"\nmeasure = "count"\n'
     'priority = "asb"\naim = "reduce"\n', "line 1: the baseline must be 12 months"),
    ('[baseline]\nstart = "April 2020"\nend = "2021-03"\n', "line 1: baseline start must be a month"),
    ('[baseline]\nstart = "2020-04"\nend = "2021-03"\n', "no targets"),
    ('[baseline]\nstart = "2020-04"\nend = "2021-03"\n\n[[targets]]\nlabel = "a"\nmeasure = "count"\n'
     'priority = "asb"\naim = "reduce"\n\n[[targets]]\nlabel = "b"\nmeasure = "crimes"\naim = "reduce"\n',
     "line 11: target 2: measure must be one of"),
    ('[baseline]\nstart = "2020-04"\nend = "2021-03"\n\n[[targets]]\nlabel = "a"\nmeasure = "count"\n'
     'priority = "knife"\naim = "reduce"\n', "line 5: target 1: measure count needs priority"),
    ('[baseline]\nstart = "2020-04"\nend = "2021-03"\n\n[[targets]]\nlabel = "a"\nmeasure = "count"\n'
     'priority = "asb"\naim = "reduce"\npercent = 125\n', "percent must be a number from 0 up to 100"),
    ('[baseline]\nstart = "2020-04"\nend = "2021-03"\n\n[[targets]]\nlabel = "a"\nmeasure = "count"\n'
     'priority = "asb"\naim = "reduce"\npercentage = 25\n', "unknown key(s) percentage"),
])
def test_a_bad_targets_file_names_the_file_line_and_reason(tmp_path, text, message):
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BriefingConfigError) as raised:
        briefing.load_targets(path)
    assert str(raised.value).startswith(str(path))
    assert message in str(raised.value)


def test_a_missing_targets_file_says_so(tmp_path):
    with pytest.raises(BriefingConfigError, match="does not exist"):
        briefing.load_targets(tmp_path / "nowhere.toml")


# --- target progress -------------------------------------------------------------------------

@pytest.mark.parametrize("target, baseline, latest, status, change", [
    (ASB_TARGET, 1000, 820, "behind", -18.0),       # down 18% against a 25% target
    (ASB_TARGET, 1000, 750, "on track", -25.0),     # exactly the target
    (ASB_TARGET, 1000, 600, "on track", -40.0),
    (ASB_TARGET, 1000, 1100, "behind", 10.0),
    (CRIME_TARGET, 1000, 999, "on track", -0.1),    # "reduce crime": any fall
    (CRIME_TARGET, 1000, 1000, "behind", 0.0),
    (MAINTAIN, 0.45, 0.45, "on track", 0.0),
    (MAINTAIN, 0.45, 0.44, "behind", pytest.approx(-2.22, abs=0.01)),
    (replace(MAINTAIN, percent=5), 0.45, 0.43, "on track", pytest.approx(-4.44, abs=0.01)),
    (ASB_TARGET, 0, 0, "on track", None),
    (ASB_TARGET, 0, 3, "behind", None),
    (ASB_TARGET, None, 3, "not measurable", None),
])
def test_target_progress(target, baseline, latest, status, change):
    progress = target_progress(target, baseline, latest)
    assert progress.status == status
    assert progress.change_pct == (pytest.approx(change) if isinstance(change, float) else change)


def test_progress_sentence_reads_as_the_board_would_say_it():
    assert (briefing.progress_sentence("ASB", ASB_TARGET, target_progress(ASB_TARGET, 1000, 820))
            == "ASB down 18% against the baseline; target 25%: behind.")
    assert (briefing.progress_sentence("Crime", CRIME_TARGET, target_progress(CRIME_TARGET, 500, 520))
            == "Crime up 4% against the baseline; target any fall: behind.")
    # 24.7% would round to the target itself: one decimal place shows why it is behind.
    assert "down 24.7%" in briefing.progress_sentence("ASB", ASB_TARGET, target_progress(ASB_TARGET, 1000, 753))
    assert briefing.progress_sentence("ASB", ASB_TARGET, None, "change withheld (small numbers)") == (
        "ASB change withheld (small numbers); target 25%: withheld (small numbers).")


# --- the treatment indicator file ------------------------------------------------------------

def treatment_csv(tmp_path, rows: list[str], header: str = "month,successful_completions,in_treatment"):
    path = tmp_path / "treatment.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def monthly_rows(start: str, months: int, completions: int, in_treatment: int) -> list[str]:
    return [f"{m:%Y-%m},{completions},{in_treatment}"
            for m in pd.date_range(start, periods=months, freq="MS")]


def test_treatment_file_is_read(tmp_path):
    path = treatment_csv(tmp_path, ["2020-05,28,1046", "2020-04,31,1042"])
    frame = briefing.load_treatment(path)
    assert list(frame.columns) == ["month", "months", "successful_completions", "in_treatment",
                                   "re_presentations"]
    assert frame["month"].tolist() == [pd.Timestamp("2020-04-01"), pd.Timestamp("2020-05-01")]
    assert frame["successful_completions"].tolist() == [31, 28]


@pytest.mark.parametrize("rows, header, message", [
    (["2020-04,31"], "month,successful_completions", "line 1: no in_treatment column"),
    (["2020-04,31,1042", "April 2020,3,4"], None, "line 3: month 'April 2020' is not a month"),
    (["2020-04,31,1042", "2020-05,2,9", "2020-04,3,9"], None, "line 4: month 2020-04 appears again (first on line 2)"),
    (["2020-04,-3,1042"], None, "line 2: successful_completions '-3' is not a whole number"),
    (["2020-04,3,"], None, "line 2: in_treatment is empty"),
    (["2020-04,3,2"], None, "line 2: 3 successful completions is more than the 2 people in treatment"),
    ([], None, "the file has a header but no periods"),
])
def test_a_bad_treatment_file_names_file_line_and_reason(tmp_path, rows, header, message):
    path = treatment_csv(tmp_path, rows, header or "month,successful_completions,in_treatment")
    with pytest.raises(BriefingConfigError) as raised:
        briefing.load_treatment(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)


def test_treatment_indicator_without_configuration_or_with_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_TREATMENT", raising=False)
    assert briefing.treatment_indicator() == TreatmentIndicator(None)
    monkeypatch.setenv("CDP_TREATMENT", str(tmp_path / "missing.csv"))
    indicator = briefing.treatment_indicator()
    assert indicator.frame is None and "does not exist" in indicator.error


def test_treatment_target_maintained_and_not(tmp_path):
    rows = monthly_rows("2020-04", 12, 30, 1000) + monthly_rows("2024-04", 12, 31, 1000)
    indicator = briefing.treatment_indicator(treatment_csv(tmp_path, rows))
    line = briefing._treatment_target(MAINTAIN, indicator, CONFIG)
    assert line.status == "on track"
    assert "The successful completion rate up 3% against the baseline; target no fall: on track." == line.sentence
    # Published: 372 reads 370, and the rate is worked out from the published counts.
    assert "370 successful completions of 1,000 in treatment (37.0%)" in line.details[0]
    rows = monthly_rows("2020-04", 12, 30, 1000) + monthly_rows("2024-04", 12, 25, 1000)
    line = briefing._treatment_target(MAINTAIN, briefing.treatment_indicator(treatment_csv(tmp_path, rows)), CONFIG)
    assert line.status == "behind"


def test_treatment_target_without_a_file_reads_not_yet_supplied_and_the_how_to_is_for_the_data_page(tmp_path):
    line = briefing._treatment_target(MAINTAIN, NO_TREATMENT, CONFIG)
    assert line.status == "not yet supplied" and "not yet supplied" in line.sentence
    assert "CDP_" not in line.sentence + "".join(line.details)
    assert "set CDP_TREATMENT to the NDTMS treatment file" in briefing.treatment_how_to(NO_TREATMENT)
    broken = briefing.treatment_indicator(tmp_path / "missing.csv")
    line = briefing._treatment_target(MAINTAIN, broken, CONFIG)
    assert line.status == "not yet supplied" and "missing.csv" not in line.sentence
    assert "missing.csv" in briefing.treatment_how_to(broken) and "does not exist" in briefing.treatment_how_to(broken)
    gap = monthly_rows("2020-04", 11, 30, 1000) + monthly_rows("2024-04", 12, 31, 1000)
    line = briefing._treatment_target(MAINTAIN, briefing.treatment_indicator(treatment_csv(tmp_path, gap)), CONFIG)
    assert line.status == "not measurable" and "March 2021" in line.sentence


# --- disclosure control: published figures only ---------------------------------------------

P = Published()


def test_comparison_from_the_published_totals_with_a_verdict_and_no_p_value():
    shown = briefing.comparison_sentence(P.total(122), P.total(98), "April 2020 to March 2021")
    # 122 reads 120 and 98 reads 100: the change is worked out from those.
    assert shown == "Against 100 in the baseline year (April 2020 to March 2021): up 20%, not a significant change."
    hidden = briefing.comparison_sentence(P.total(3), P.total(100), "April 2020 to March 2021")
    assert hidden == ("Against 100 in the baseline year (April 2020 to March 2021): "
                      "change withheld (small numbers).")
    both = briefing.comparison_sentence(P.total(3), P.total(2), "April 2020 to March 2021")
    assert "<5 in the baseline year" in both and "significant" not in both
    analyst = briefing.comparison_sentence(120, 100, "April 2020 to March 2021", figures=TrueValues())
    assert "up 20%" in analyst and "p = " in analyst
    assert briefing.comparison_sentence(120, None, "x", "the loaded data starts in 2022") == \
        "Not compared with the baseline year (x): the loaded data starts in 2022."


def test_target_status_from_published_totals_only_when_publishable():
    line = briefing._count_target(ASB_TARGET, "ASB", P.total(3), P.total(100))
    assert line.status == briefing.WITHHELD and "change withheld" in line.sentence
    assert small_numbers(line.sentence) == []
    line = briefing._count_target(ASB_TARGET, "ASB", P.total(702), P.total(1001))
    assert line.sentence == "ASB down 30% against the baseline; target 25%: on track."   # 700 against 1,000


def test_repeat_rate_from_published_counts_with_no_p_value():
    data = briefing_data_frame({"hate_crime": [10] * 60})
    rates = {"baseline": {"numerator": 40, "denominator": 200, "rate": 0.2},
             "comparable": {"numerator": 3, "denominator": 150, "rate": 0.02}, "like_for_like": True}
    line = briefing._repeat_target(HATE_REPEATS, rates, data, CONFIG)
    text = " ".join([line.sentence, *line.details])
    assert "<5 of 150 victims" in text and "withheld" in text and line.status == briefing.WITHHELD
    assert "2.0%" not in text and small_numbers(text) == [] and "Fisher" not in text
    rates["comparable"] = {"numerator": 31, "denominator": 152, "rate": 0.2}
    line = briefing._repeat_target(HATE_REPEATS, rates, data, CONFIG)
    # 31 of 152 read 30 of 150: 20.0%, as the baseline's 40 of 200.
    assert line.status == "behind" and "30 of 150 victims were repeat victims (20.0%)" in line.details[0]
    assert line.sentence == ("The hate crime repeat victimisation rate unchanged against the baseline; "
                             "target 10%: behind.")
    assert "Not a significant change in the rate (Fisher's exact test)." in line.details
    assert not any("p =" in d or "p <" in d for d in line.details)


def test_a_chart_plots_published_months_with_gaps_for_small_ones():
    months = pd.date_range("2023-04-01", periods=24, freq="MS")
    busy = pd.Series(np.full(24, 41), index=months)
    status, _, chart, note = briefing.chart_status(busy)
    assert status == "In control" and list(chart["count"]) == [40] * 24 and note == ""
    sparse = busy.copy()
    sparse.iloc[20] = 3
    status, sentences, chart, note = briefing.chart_status(sparse)
    assert np.isnan(chart["count"].iat[20]) and "gaps in the chart" in note
    # No test beside a "<5": no mean, limits, signals or status.
    assert status == briefing.WITHHELD and sentences == () and chart["ucl"].isna().all()
    assert not chart["signal"].any()
    svg = briefing.panel_svg(briefing.Panel("x", "x", "crimes", "full", "", "<5", "", "", (), status,
                                            sentences, chart))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 23     # the gap is not drawn
    assert "nan" not in svg and "stroke-dasharray" not in svg
    plotted = chart_points(svg)       # each point's month and count is its tooltip, the gap's none
    assert len(plotted) == 23 and pd.Timestamp("2024-12-01") not in plotted and set(plotted.values()) == {40.0}
    # The axis names the latest month and every sixth before it, and counts in round steps.
    assert re.findall(r">(\w{3} \d{4})</text>", svg) == ["Mar 2025", "Sep 2024", "Mar 2024", "Sep 2023"]
    assert re.findall(r">([\d,]+)</text>", svg) == ["0", "20", "40"]
    # ...and its caption names no mean or limits, which a chart of busy months has.
    withheld = briefing.Panel("x", "x", "crimes", "full", "", "<5", "", "", (), status, sentences, chart)
    assert briefing.chart_caption(withheld) == "Monthly counts, last 24 months."
    _, _, busy_chart, _ = briefing.chart_status(busy)
    drawn = briefing.Panel("x", "x", "crimes", "full", "", "40", "", "", (), "In control", (), busy_chart)
    assert "mean (dashed), control limits (dotted)" in briefing.chart_caption(drawn)


def exception_rows(rows: list[tuple]) -> pd.DataFrame:
    """Exceptions of January to March 2025 against the same quarter of 2024 (`baseline`)."""
    return pd.DataFrame([{"priority": "hate_crime", "ward_code": ward, "period_label": "January 2025 to March 2025",
                          "observed": observed, "expected": baseline, "baseline": baseline,
                          "baseline_years": 1, "baseline_label": "the same months a year earlier",
                          "ratio": observed / baseline, "p_value": 0.01, "direction": "above",
                          "strength": 2.0, "sentence": ""}
                         for ward, observed, baseline in rows])


def test_exceptions_listed_from_published_counts_without_p_values():
    names = {"A": "Arboretum", "B": "Basford", "C": "Castle"}
    rows = exception_rows([("A", 42, 12), ("B", 3, 16), ("C", 14, 11)])
    sentences, note = briefing.board_exceptions(rows, "crimes", names)
    # Basford's 3 is "<5"; Castle's 14 against 11 reads 15 against 10, not significant: left out.
    assert [s.split(":")[0] for s in sentences] == ["Hate crime in Arboretum"]
    assert "fewer than 5" in note
    assert sentences[0] == ("Hate crime in Arboretum: 40 crimes in January 2025 to March 2025, more "
                            "than the 10.0 expected from the same months a year earlier (4.0 times "
                            "the usual rate).")
    analyst, _ = briefing.board_exceptions(rows, "crimes", names, TrueValues())
    assert len(analyst) == 3 and "p = 0.01)" in analyst[0]


def briefing_data_frame(columns: dict, first="2020-04-01", exceptions=None, repeats=None) -> BriefingData:
    months = pd.date_range(first, periods=len(next(iter(columns.values()))), freq="MS", name="month")
    monthly = pd.DataFrame({key: columns.get(key, [100] * len(months)) for key in ("crime", *PRIORITY_KEYS)},
                           index=months)
    last = months[-1].date()
    cover = {key: counting.Coverage("full", "") for key in ("crime", *PRIORITY_KEYS)}
    reason = None if months[0] <= pd.Timestamp("2020-04-01") else f"the loaded data starts in {months[0]:%B %Y}"
    return BriefingData(months[0].date(), last, (months[-12]).date(), last, cover, (),
                        {"A": "Arboretum"}, monthly,
                        exceptions if exceptions is not None else pd.DataFrame(), repeats or {}, True,
                        {key: reason for key in ("crime", *PRIORITY_KEYS)})


def test_panels_publish_a_small_priority_everywhere():
    exploitation = [1] * 48 + [0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]   # 3 in the latest 12 months
    data = briefing_data_frame({"exploitation": exploitation, "asb": [1000] * 12 + [702] * 48})
    panels = {p.key: p for p in briefing.build_panels(data, CONFIG, NO_TREATMENT)}
    assert list(panels) == ["crime", *PRIORITY_KEYS]
    small = panels["exploitation"]
    assert small.headline == "<5"
    plotted = chart_points(briefing.panel_svg(small))
    assert len(plotted) < len(small.chart) and set(plotted.values()) <= {0.0}   # "<5" months are gaps
    for text in panel_texts(small):
        assert small_numbers(text) == [], text
    asb = panels["asb"]
    assert asb.headline == "8,425"                                       # 8,424 rounded on its own
    assert asb.targets[0].sentence == "ASB down 30% against the baseline; target 25%: on track."
    assert list(chart_points(briefing.panel_svg(asb)).values()) == [700] * 24   # each month published


def test_panels_follow_the_priority_choice_and_say_when_a_priority_is_unavailable():
    police_uk = {"asb": counting.Coverage("full", ""), "hate_crime": counting.Coverage(
        "unavailable", "Unavailable in the loaded data: police.uk does not identify hate crime")}
    data = replace(briefing_data_frame({"asb": [50] * 60}), coverage=police_uk)
    panels = briefing.build_panels(data, CONFIG, NO_TREATMENT, ("asb", "hate_crime"))
    assert [p.key for p in panels] == ["asb", "hate_crime"]     # no all-crime panel when narrowed
    hate = panels[1]
    assert hate.coverage == "unavailable" and "does not identify hate crime" in hate.coverage_note
    assert hate.headline == "" and hate.targets == ()


def test_baseline_not_loaded_is_said_plainly():
    data = briefing_data_frame({"asb": [50] * 36}, first="2022-04-01")
    asb = briefing.build_panels(data, CONFIG, NO_TREATMENT, ("asb",))[0]
    assert asb.comparison == ("Not compared with the baseline year (April 2020 to March 2021): the "
                              "loaded data starts in April 2022.")
    assert asb.targets[0].status == "not measurable"
    assert asb.targets[0].details == ("Not compared: the loaded data starts in April 2022.",)


# --- the store -------------------------------------------------------------------------------

@pytest.fixture
def demo_con(demo_db, tmp_path):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, path)
    con = store.connect(path, read_only=True)
    yield con
    con.close()


def test_briefing_data_counts_match_the_store_and_follow_the_wards(demo_con):
    data = briefing.briefing_data(demo_con, (), CONFIG)
    assert data.data_last == date(2025, 3, 1) and data.latest_start == date(2024, 4, 1)
    counted = counting.counted_condition()  # in the wards, not superseded
    asb = demo_con.execute(f"SELECT count(*) FROM incidents WHERE {counted} AND p_asb AND is_asb AND month "
                           "BETWEEN '2024-04-01' AND '2025-03-01'").fetchall()[0][0]
    crime = demo_con.execute(f"SELECT count(*) FROM incidents WHERE {counted} AND NOT is_asb AND month "
                             "BETWEEN '2020-04-01' AND '2021-03-01'").fetchall()[0][0]
    assert data.monthly.loc["2024-04-01":"2025-03-01", "asb"].sum() == asb
    assert data.monthly.loc["2020-04-01":"2021-03-01", "crime"].sum() == crime
    ward = demo_con.execute(f"SELECT ward_code FROM incidents WHERE {counted} GROUP BY 1 ORDER BY count(*) DESC "
                            "LIMIT 1").fetchall()[0][0]
    one = briefing.briefing_data(demo_con, (ward,), CONFIG)
    in_ward = demo_con.execute(f"SELECT count(*) FROM incidents WHERE {counted} AND p_asb AND is_asb AND "
                               "ward_code = ? AND month BETWEEN '2024-04-01' AND '2025-03-01'", [ward]).fetchall()[0][0]
    assert one.monthly.loc["2024-04-01":, "asb"].sum() == in_ward < asb
    assert set(one.exceptions["ward_code"]) <= {ward}
    rates = data.repeats["hate_crime"]
    assert 0 < rates["selected"]["numerator"] <= rates["selected"]["denominator"]
    # The briefing's repeat target is the repeats page's measure (victimisation.repeat_target).
    from cdp import victimisation
    page = victimisation.hate_crime_target(demo_con, data.latest_start, data.latest_end)
    assert rates["comparable"] == page["comparable"] and rates["baseline"] == page["baseline"]
    # No person keys are kept: only counts.
    assert "victim_id" not in data.exceptions.columns and "victim_id" not in data.monthly.columns


# --- the decks -------------------------------------------------------------------------------

def demo_deck(con) -> briefing.Deck:
    data = briefing.briefing_data(con, (), CONFIG)
    panels = briefing.build_panels(data, CONFIG, NO_TREATMENT)
    return briefing.Deck("Board briefing", briefing.period_caption(data, CONFIG), tuple(panels),
                         (Published().statement,))


def test_pdf_deck(demo_con):
    pdf = briefing.deck_pdf(demo_deck(demo_con))
    assert pdf.startswith(b"%PDF")
    pages = int(re.search(rb"/Count (\d+)", pdf).group(1))
    assert pages >= 8                      # a title page and one or more pages per panel


def test_the_pdf_deck_reads_as_the_panels_published(demo_con):
    """The PDF's own text (as a PDF reader extracts it): every panel's title, published headline
    and comparison, the disclosure statement, and no p-value or count of 1-4."""
    from pypdf import PdfReader
    deck = demo_deck(demo_con)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(briefing.deck_pdf(deck))).pages)
    words = " ".join(text.split())          # lines broken where the PDF wraps them, joined again
    for panel in deck.panels:
        assert panel.title in words and panel.headline in words, panel.title
        assert " ".join(panel.comparison.split()) in words, panel.comparison
    assert " ".join(Published().statement.split())[:80] in words
    assert not re.search(r"\bp\s*[=<]\s*0?\.\d", words), "a p-value in the board's deck"
    # No count of 1-4 (the rule's own wording and "the 3 years before" aside).
    told = words.replace("counts of 1 to 4", "")
    assert small_numbers(re.sub(r"the [1-4] years? before", "", told)) == []


def test_html_deck_is_self_contained(demo_con):
    deck = demo_deck(demo_con)
    page = briefing.deck_html(deck)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<section class="slide">') == len(deck.panels) + 1
    assert "ArrowRight" in page and "ArrowLeft" in page and "<style>" in page and "<script>" in page
    for external in ("http:", "https:", "<link", " src=", "@import", "url("):
        assert external not in page
    assert "<svg" in page and "Anti-social behaviour" in page


def test_months_before_the_data_starts_are_not_charted_as_zeros(demo_db, tmp_path):
    """A store holding only the last 14 months: no control chart of zeros before it starts."""
    short = tmp_path / "short.duckdb"
    shutil.copy(demo_db, short)
    con = duckdb.connect(str(short))
    con.execute("DELETE FROM incidents WHERE month < DATE '2024-02-01'")
    targets = briefing.load_targets()
    data = briefing.briefing_data(con, (), targets)
    for panel in briefing.build_panels(data, targets, briefing.treatment_indicator(), PRIORITY_KEYS):
        assert not any("in a row above the mean since February 2024" in s for s in panel.chart_sentences)
        if panel.chart is not None:
            assert len(panel.chart) <= 14
    con.close()

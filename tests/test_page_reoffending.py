"""The reoffending page in AppTest: proven reoffending from the demo's synthetic MoJ file, repeat
offending from the extract's offender keys, the analysts' ranked list and the IOM cohort; what
the board sees; a file that cannot be used; police.uk data."""
from __future__ import annotations

import json
import re
from datetime import date

import pytest

from cdp import offenders, reference, reoffending, store
from cdp.filters import Filters

PAGE = "pages/reoffending.py"
LAST_12_MONTHS = Filters(start=date(2024, 4, 1), end=date(2025, 3, 1))
OFFENDER_KEY = re.compile(r"\bO[0-9A-F]{6}\b")


@pytest.fixture
def demo(demo_db, monkeypatch):
    for env in (reoffending.ENV, offenders.COHORT_ENV):
        monkeypatch.delenv(env, raising=False)
    con = store.connect(demo_db)
    yield con
    con.close()


def texts(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                    + [w.value for w in at.warning] + [e.value for e in at.error])


def test_the_page_shows_every_measure_for_an_analyst(app_test, demo, audit_log):
    at = app_test(PAGE)
    assert [h.value for h in at.header if h.value != "Filters"] == ["Proven reoffending", "Repeat offending in the partner extract",
                                            "Most frequent offenders", "IOM cohort: offending before and after entry"]
    page = texts(at)
    # Proven reoffending: the latest cohort of each type, from the demo's synthetic file.
    cohorts = reoffending.cohorts(reoffending.load_reoffending(
        reference.configured(demo, reoffending.ENV, "reoffending").path))
    for kind in reoffending.OFFENDER_TYPES:
        assert reoffending.latest_sentence(cohorts, kind) in page
    assert "Synthetic demo proven reoffending figures" in page
    # Repeat offending: the same figures as the plain package.
    expected = offenders.repeat_offending(demo, LAST_12_MONTHS)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Offenders"] == f"{expected['offenders']:,}"
    assert shown["Repeat offenders (2+ in 12 months)"] == f"{expected['repeat_share']:.1%}"
    assert shown["Their share of the offences"] == f"{expected['offence_share']:.1%}"
    assert f"**{expected['within'][28]:.1%}** were followed by another" in page
    # The ranked list, with the IOM cohort beside it; showing it and the members is logged as a
    # view of person-level rows, the download only when the file is made.
    top = next(d.value for d in at.dataframe if "offender_id" in d.value.columns and "rank" in d.value.columns)
    assert len(top) == offenders.TOP_OFFENDERS and top["offences"].is_monotonic_decreasing
    assert (top["in_cohort"] != "").any()
    (download, *_) = at.get("download_button")
    assert download.proto.deferred_file_id
    logged = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [(e["action"], e["what"], e["rows"]) for e in logged] == [
        ("view", "most frequent offenders", len(top)), ("view", "IOM cohort members", len(at.dataframe[-1].value))]
    # The cohort: one sentence per cohort, the caution beside it.
    assert "IOM fixed:" in page and "IOM flex:" in page and "regression to the mean" in page
    assert len(at.get("plotly_chart")) == 4  # adult, juvenile, time to the next offence, the cohort


def test_the_sidebar_filters_move_the_extract_measures_not_the_moj_figures(app_test, demo):
    at = app_test(PAGE)
    moj = [m.value for m in at.markdown if "cohort:" in m.value]
    at.multiselect(key="f_wards").set_value(["E05012277"]).run()
    castle = offenders.repeat_offending(demo, Filters(start=LAST_12_MONTHS.start, end=LAST_12_MONTHS.end,
                                                      wards=("E05012277",)))
    assert {m.label: m.value for m in at.metric}["Offenders"] == f"{castle['offenders']:,}"
    assert [m.value for m in at.markdown if "cohort:" in m.value] == moj


def test_the_board_sees_no_person_keys_and_no_small_numbers(app_test, demo_db, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "board")
    at = app_test(PAGE)
    assert not any("offender_id" in d.value.columns for d in at.dataframe)
    assert not at.get("download_button")
    assert "only analysts see it" in texts(at)
    page = texts(at) + " ".join(str(d.value.to_dict()) for d in at.dataframe)
    assert not OFFENDER_KEY.search(page)
    assert not re.search(r"(?<![\d,.<])[1-4] (of|offenders|members)\b", page)


def test_a_file_that_cannot_be_used_is_reported_with_its_line(app_test, tmp_path, monkeypatch):
    bad = tmp_path / "reoffending.csv"
    bad.write_text("cohort_start,cohort_end,area,offender_type,offenders,reoffenders,reoffences\n"
                   "2023-01,2023-03,Nottingham,adult,10,20,30\n", encoding="utf-8")
    monkeypatch.setenv(reoffending.ENV, str(bad))
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("offender_id,start_date\nO1,yesterday\n", encoding="utf-8")
    monkeypatch.setenv(offenders.COHORT_ENV, str(cohort))
    at = app_test(PAGE)
    errors = " ".join(e.value for e in at.error).replace("\\", "")  # shown markdown-escaped
    assert f"{bad}, line 2: 20 reoffenders is more than the 10 offenders" in errors
    assert f"{cohort}, line 2: start_date 'yesterday' is not a date" in errors


def test_police_uk_data_has_no_offender_keys(police_uk_store, monkeypatch, app_test):
    monkeypatch.setenv("CDP_STORE", police_uk_store)
    for env in (reoffending.ENV, offenders.COHORT_ENV):
        monkeypatch.delenv(env, raising=False)
    at = app_test(PAGE)
    page = texts(at)
    assert "No proven reoffending file is configured" in page and "CDP_REOFFENDING" in page
    assert "The loaded data has no offender keys" in page
    assert "No IOM cohort file is configured" in page
    assert not at.metric and not at.get("plotly_chart")

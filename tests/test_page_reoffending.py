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


SECTIONS = ["Proven reoffending", "Repeat offending in the partner extract", "Most frequent offenders",
            "IOM cohort before and after entry"]


def show(at, section: str):
    """Open the page's tab `section` (each is drawn only while open)."""
    at.session_state["reoffending_section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


class Seen:
    """What every tab of the page showed, opened one after the other."""

    def __init__(self, at):
        self.text, self.metrics, self.frames, self.charts, self.downloads = "", {}, [], 0, []
        for section in SECTIONS:
            show(at, section)
            self.text += " " + texts(at)
            self.metrics |= {m.label: m.value for m in at.metric}
            self.frames += [d.value for d in at.dataframe]
            self.charts += len(at.get("plotly_chart"))
            self.downloads += list(at.get("download_button"))


def test_the_page_shows_every_measure_for_an_analyst(app_test, demo, audit_log):
    at = app_test(PAGE)
    assert [t.label for t in at.tabs] == SECTIONS
    assert len(at.get("plotly_chart")) == 2 and not at.metric and not at.dataframe  # the open tab only
    assert not audit_log.exists() or not audit_log.read_text()  # no person keys sent yet
    seen = Seen(at)
    page = seen.text
    # Proven reoffending: the latest cohort of each type, from the demo's synthetic file.
    cohorts = reoffending.cohorts(reoffending.load_reoffending(
        reference.configured(demo, reoffending.ENV, "reoffending").path))
    for kind in reoffending.OFFENDER_TYPES:
        assert reoffending.latest_sentence(cohorts, kind) in page
    assert "Synthetic demo proven reoffending figures" in page
    # Repeat offending: the same figures as the plain package.
    expected = offenders.repeat_offending(demo, LAST_12_MONTHS)
    shown = seen.metrics
    assert shown["Offenders"] == f"{expected['offenders']:,}"
    assert shown["Repeat offenders (2+ in 12 months)"] == f"{expected['repeat_share']:.1%}"
    assert shown["Their share of the offences"] == f"{expected['offence_share']:.1%}"
    assert f"**{expected['within'][28]:.1%}** were followed by another" in page
    # The ranked list, with the IOM cohort beside it; showing it and the members is logged as a
    # view of person-level rows, the download only when the file is made.
    top = next(d for d in seen.frames if "offender_id" in d.columns and "rank" in d.columns)
    assert len(top) == offenders.TOP_OFFENDERS and top["offences"].is_monotonic_decreasing
    assert (top["in_cohort"] != "").any()
    (download, *_) = seen.downloads
    assert download.proto.deferred_file_id
    # The cohort: one sentence per cohort, the caution beside it.
    assert "IOM fixed:" in page and "IOM flex:" in page and "regression to the mean" in page
    assert seen.charts == 4  # adult, juvenile, time to the next offence, the cohort
    # The members' keys are sent only once their list is opened, which is logged; showing the
    # ranked list is logged as a view of person-level rows, a download only when the file is made.
    assert not any("start_date" in d.columns for d in seen.frames)
    at.session_state["iom_members_open"] = True
    at.run()
    members = next(d.value for d in at.dataframe if "start_date" in d.value.columns)
    logged = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [(e["action"], e["what"], e["rows"]) for e in logged] == [
        ("view", "most frequent offenders", len(top)), ("view", "IOM cohort members", len(members))]


def test_the_sidebar_filters_move_the_extract_measures_not_the_moj_figures(app_test, demo):
    at = app_test(PAGE)
    moj = [m.value for m in at.markdown if "cohort:" in m.value]
    at.multiselect(key="f_wards").set_value(["E05012277"]).run()
    assert [m.value for m in at.markdown if "cohort:" in m.value] == moj
    castle = offenders.repeat_offending(demo, Filters(start=LAST_12_MONTHS.start, end=LAST_12_MONTHS.end,
                                                      wards=("E05012277",)))
    show(at, SECTIONS[1])
    assert {m.label: m.value for m in at.metric}["Offenders"] == f"{castle['offenders']:,}"


def test_the_board_sees_no_person_keys_and_no_small_numbers(app_test, demo_db, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "board")
    at = app_test(PAGE)
    seen = Seen(at)
    at.session_state["reoffending_cohorts_open"] = True  # every cohort's row
    show(at, SECTIONS[0])
    frames = seen.frames + [d.value for d in at.dataframe]
    assert frames  # every cohort's table (and the cohort's numbers) was read
    assert not any("offender_id" in d.columns for d in frames)
    assert not seen.downloads
    assert "only analysts see it" in seen.text
    assert "Each member" not in " ".join(e.label for e in at.expander)
    page = seen.text + " ".join(str(d.to_dict()) for d in frames)
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
    errors = " ".join(e.value for e in at.error)
    show(at, SECTIONS[3])
    errors = (errors + " ".join(e.value for e in at.error)).replace("\\", "")  # shown markdown-escaped
    assert f"{bad}, line 2: 20 reoffenders is more than the 10 offenders" in errors
    assert f"{cohort}, line 2: start_date 'yesterday' is not a date" in errors


def test_police_uk_data_has_no_offender_keys(police_uk_store, monkeypatch, app_test):
    monkeypatch.setenv("CDP_STORE", police_uk_store)
    for env in (reoffending.ENV, offenders.COHORT_ENV):
        monkeypatch.delenv(env, raising=False)
    at = app_test(PAGE)
    assert at.session_state["reoffending_section"] == SECTIONS[1]  # no MoJ file: it opens on the extract
    seen = Seen(at)
    page = seen.text
    assert "No proven reoffending file is configured" in page and "CDP_REOFFENDING" in page
    assert "The loaded data has no offender keys" in page
    assert "No IOM cohort file is configured" in page
    assert not seen.metrics and not seen.charts

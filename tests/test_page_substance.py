"""The substance misuse page in AppTest: treatment from the demo's synthetic NDTMS file (and from a
file in the format before this release), demand from the store under the sidebar's filters, what
the board sees, police.uk data."""
from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from cdp import reference, store, substance, treatment
from cdp.filters import Filters

PAGE = "pages/substance.py"
LAST_12_MONTHS = Filters(start=date(2024, 4, 1), end=date(2025, 3, 1))


@pytest.fixture
def demo(demo_db, monkeypatch):
    monkeypatch.delenv(treatment.ENV, raising=False)
    con = store.connect(demo_db)
    yield con
    con.close()


def texts(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                    + [e.value for e in at.error])


def frame_with(at, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


TREATMENT, DEMAND, PLACES = "Treatment", "Drug and alcohol demand", "Wards and premises"


def show(at, section: str):
    """Open the page's tab `section` (each is drawn only while open)."""
    at.session_state["substance_section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_treatment_and_demand_for_an_analyst(app_test, demo):
    at = app_test(PAGE)
    page = texts(at)
    table = treatment.rolling(treatment.load(reference.configured(demo, treatment.ENV, "treatment").path))
    for _, row in treatment.latest_comparison(table).iterrows():
        assert treatment.comparison_sentence(row) in page
    assert "Synthetic demo treatment figures" in page
    assert [t.label for t in at.tabs] == [TREATMENT, DEMAND, PLACES]
    assert len(at.get("plotly_chart")) == 3 and not at.metric and not at.dataframe  # the open tab only
    counts = substance.period_counts(demo, LAST_12_MONTHS)["counts"]
    show(at, DEMAND)
    shown = [m.value for m in at.metric]
    assert shown == [f"{counts[m.key]:,}" for m in substance.MEASURES]
    assert len(at.get("plotly_chart")) == 2  # crimes, ASB
    show(at, PLACES)
    wards = frame_with(at, "Ward")
    assert len(wards) == 20 and wards["Drug offences"].sum() == counts["drug_offences"]
    by_area = frame_with(at, "NAT area")  # config/areas.toml's example areas cover every ward
    assert by_area["NAT area"].tolist() == ["North", "West", "Central", "East", "South"]
    assert by_area["Drug offences"].sum() == counts["drug_offences"]
    assert frame_with(at, "Premises type")["Alcohol-related crimes"].sum() == counts["alcohol_crimes"]
    assert len(frame_with(at, "Premises")) == 10


def test_the_sidebar_moves_the_demand_but_not_the_city_wide_treatment(app_test, demo):
    at = app_test(PAGE)
    sentences = [m.value for m in at.markdown if "completed successfully" in m.value]
    at.multiselect(key="f_wards").set_value(["E05012275"]).run()  # Bulwell
    at.multiselect(key="f_priorities").set_value(["hate_crime"]).run()  # not the subject here
    assert [m.value for m in at.markdown if "completed successfully" in m.value] == sentences
    show(at, DEMAND)
    bulwell = substance.period_counts(demo, Filters(start=LAST_12_MONTHS.start, end=LAST_12_MONTHS.end,
                                                    wards=("E05012275",)))["counts"]
    assert [m.value for m in at.metric] == [f"{bulwell[m.key]:,}" for m in substance.MEASURES]
    show(at, PLACES)
    assert frame_with(at, "Ward")["Ward"].tolist() == ["Bulwell"]


def test_the_format_before_this_release_still_feeds_the_page(app_test, tmp_path, monkeypatch):
    path = tmp_path / "treatment.csv"
    months = pd.date_range("2023-04", periods=24, freq="MS")
    path.write_text("month,successful_completions,in_treatment\n"
                    + "".join(f"{m:%Y-%m},{40 if m < pd.Timestamp('2024-04-01') else 50},2000\n" for m in months),
                    encoding="utf-8")
    monkeypatch.setenv(treatment.ENV, str(path))
    at = app_test(PAGE)
    sentences = [m.value for m in at.markdown if "completed successfully" in m.value]
    assert sentences == ["- All substances: 30.0% of 2,000 in treatment completed successfully in the 12 months "
                         "to March 2025 (600 completions); a year earlier 24.0%: significant rise (p < 0.001)."]
    assert "gives no re-presentations" in texts(at)


def test_the_board_sees_no_small_numbers(app_test, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "board")
    at = app_test(PAGE)
    at.multiselect(key="f_wards").set_value(["E05012285"]).run()  # one ward: small counts appear
    at.selectbox(key="f_period").set_value("Latest month").run()
    assert not at.exception
    said = texts(at)
    show(at, DEMAND)
    said += texts(at)
    show(at, PLACES)
    assert at.dataframe
    for frame in at.dataframe:
        for column in frame.value.columns[1:]:
            assert not frame.value[column].astype(str).isin(["1", "2", "3", "4"]).any(), column
    assert not re.search(r"(?<![\d,.<])[1-4] (of|completions)\b", said + texts(at))


def test_police_uk_data_shows_drug_offences_and_says_what_it_cannot(police_uk_store, monkeypatch, app_test):
    monkeypatch.setenv("CDP_STORE", police_uk_store)
    monkeypatch.delenv(treatment.ENV, raising=False)
    at = app_test(PAGE)
    assert at.session_state["substance_section"] == DEMAND  # no treatment file: it opens on the store
    page = texts(at)
    assert "police.uk data has no drug or alcohol flags" in page
    assert len(at.metric) == 1 and int(at.metric[0].value.replace(",", "")) > 0  # drug offences only
    page = texts(show(at, TREATMENT))
    assert "No treatment file is configured" in page and "CDP_TREATMENT" in page
    show(at, PLACES)
    assert frame_with(at, "Ward").columns.tolist() == ["Ward", "Drug offences"]


def test_what_pages_work_out_from_a_reference_file_is_worked_out_once_per_change(tmp_path):
    """reference_files.derived: the substance page's rolling treatment table (and the board's
    treatment totals, the reoffending cohorts) once per file version, not on every page run."""
    import os

    from app import reference_files
    from cdp.reference import Configured
    path = tmp_path / "figures.csv"
    path.write_text("a\n1\n")
    calls = []

    def double(value):
        calls.append(value)
        return [v * 2 for v in value]

    file = reference_files.ReferenceFile(Configured("CDP_TEST", path), value=[1, 2])
    assert reference_files.derived(file, double) == [2, 4]
    assert reference_files.derived(file, double) == [2, 4] and len(calls) == 1
    os.utime(path, (1_000_000, 1_000_000))  # the file changed: worked out again
    changed = reference_files.ReferenceFile(Configured("CDP_TEST", path), value=[5])
    assert reference_files.derived(changed, double) == [10] and len(calls) == 2

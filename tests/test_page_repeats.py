"""The repeat victimisation and problem profile pages in AppTest, driven through the shared filters,
plus one browser check that a profile download writes its audit log line at the click."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from cdp import audit, profiles, store, victimisation as vic
from cdp.filters import Filters
from conftest import ROOT, shown_tables

CASTLE = "E05012277"
LAST_12_MONTHS = Filters(start=date(2024, 4, 1), end=date(2025, 3, 1))


@pytest.fixture
def demo(demo_store):
    con = store.connect(demo_store, read_only=True)
    yield con
    con.close()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def rates_shown(at: AppTest) -> list[pd.DataFrame]:
    """The rates tables by group on the page (static tables) as they read: group and victims."""
    return [pd.DataFrame({"group": t["Group"], "victims": t["Victims"].str.replace(",", "").astype(int)})
            for t in shown_tables(at) if "Repeat (2+)" in t.columns]


def pct(share) -> str:
    return f"{share:.1%}"


VICTIMS, TARGET, ESCALATION, PLACES = ("Repeat victims", "Hate crime repeat target", "Domestic abuse escalation",
                                       "Repeat places and premises")


def show(at: AppTest, section: str) -> AppTest:
    """Open the page's tab `section` (each is drawn only while open)."""
    at.session_state["repeats_section"] = section
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- repeat victimisation ------------------------------------------------------------------------

def test_repeats_page_shows_the_measures(app_test, demo, audit_log):
    at = app_test("pages/repeats.py")
    assert at.selectbox(key="r_priority").value == "hate_crime"
    expected = vic.repeat_victimisation(demo, LAST_12_MONTHS, "hate_crime")["summary"]
    shown = metrics(at)
    assert shown["Victims"] == f"{expected['victims']:,}"
    assert shown["Repeat victims (2+ in 12 months)"] == pct(expected["repeat_share"])
    assert shown["High-frequency (3+ in 12 months)"] == pct(expected["high_frequency_share"])
    assert shown["Share of crimes suffered by repeat victims"] == pct(expected["repeat_incident_share"])
    assert {VICTIMS, TARGET, ESCALATION, PLACES} <= {t.label for t in at.tabs}
    assert len(at.get("plotly_chart")) == 2  # survival, the open group tab's chart: the open tab only
    wards, = rates_shown(at)
    assert len(wards) == 20 and wards["group"].str.startswith("E0").sum() == 0  # ward names, not codes
    # The target: baseline, selected period and target, with the definition on the page.
    shown = metrics(show(at, TARGET))
    assert len(at.get("plotly_chart")) == 1
    target = vic.hate_crime_target(demo, LAST_12_MONTHS.start, LAST_12_MONTHS.end)
    assert shown["Baseline: April 2020 to March 2021"] == pct(target["baseline"]["rate"])
    assert shown["Selected period: Apr 2024 to Mar 2025"] == pct(target["selected"]["rate"])
    assert shown["Target: 10% below the baseline"] == pct(target["baseline"]["rate"] * 0.9)
    text = " ".join(m.value for m in at.markdown)
    assert "Repeat victimisation rate: of the victims of hate crime incidents" in text
    assert "measured with none" in text  # the demo data has no look-back before April 2020
    # Escalation: the victims' keys are sent only once their list is opened; the list matches the
    # count; showing it is logged as a view, and the CSV export is logged only when it is made, at
    # the click.
    shown = metrics(show(at, ESCALATION))
    assert not [d for d in at.dataframe if "incidents_in_window" in d.value.columns]
    assert not at.get("download_button") and not list(audit.entries(audit_log))
    at.session_state["escalation_open"] = True
    at.run()
    escalation = frame_with(at, "incidents_in_window")
    assert shown["Victims with 3 or more domestic abuse incidents in 12 months"] == f"{len(escalation):,}"
    assert (escalation["incidents_in_window"] >= 3).all()
    (download,) = at.get("download_button")
    assert download.proto.deferred_file_id
    (view,) = audit.entries(audit_log)
    assert (view["action"], view["what"], view["rows"], view["page"]) == (
        "view", "domestic abuse escalation victims", len(escalation), "repeats")
    assert view["filters"]["start"] == "2024-04" and view["role"] == "analyst"
    at.run()
    assert len(list(audit.entries(audit_log))) == 1  # the same view again in the session: logged once
    # Repeat places: premises and locations, ranked, with the mix of priorities.
    show(at, PLACES)
    premises = next(d.value for d in at.dataframe if "premises_type" in d.value.columns)
    assert len(premises) == 50 and premises["crimes"].add(premises["asb_incidents"]).is_monotonic_decreasing
    assert premises["priorities"].str.len().gt(0).all()
    assert all(len(months) == 12 for months in premises["monthly"])


def test_repeat_rates_by_group_draw_the_open_tab_only(app_test, demo):
    at = app_test("pages/repeats.py")
    expected = vic.repeat_victimisation(demo, LAST_12_MONTHS, "hate_crime")["by"]
    for tab, name in [("Ward", "ward"), ("Age band", "age band"), ("Sex", "sex"),
                      ("Vulnerability", "vulnerability")]:
        at.session_state["repeat_rates_by"] = tab
        at.run()
        shown, = rates_shown(at)                    # the open tab's table only
        assert shown["group"].tolist() == expected[name]["group"].tolist(), tab
        titles = [c.proto.spec for c in at.get("plotly_chart")]
        assert sum(f"Repeat victim rate by {name}" in t for t in titles) == 1, tab


def test_priority_wards_and_period_change_the_figures(app_test, demo):
    at = app_test("pages/repeats.py")
    hate_victims = metrics(at)["Victims"]
    wards_table, = rates_shown(at)
    wards_table = wards_table.set_index("group")
    citywide_target = {k: v for k, v in metrics(show(at, TARGET)).items()
                       if k.startswith(("Baseline", "Selected", "Target"))}
    show(at, VICTIMS)
    at.multiselect(key="f_priorities").set_value(["dsva"]).run()
    assert at.selectbox(key="r_priority").value == "dsva"
    dsva = vic.repeat_victimisation(demo, LAST_12_MONTHS, "dsva")["summary"]
    assert metrics(at)["Victims"] == f"{dsva['victims']:,}" != hate_victims

    at.multiselect(key="f_priorities").set_value([]).run()
    at.selectbox(key="r_priority").set_value("hate_crime").run()
    at.multiselect(key="f_wards").set_value([CASTLE]).run()
    # Victims in Castle: the same people as Castle's row of the all-wards table.
    assert metrics(at)["Victims"] == f"{wards_table.loc['Castle', 'victims']:,}"
    in_castle = vic.repeat_victimisation(demo, Filters(start=LAST_12_MONTHS.start, end=LAST_12_MONTHS.end,
                                                       wards=(CASTLE,)), "hate_crime")["summary"]
    assert metrics(at)["Repeat victims (2+ in 12 months)"] == pct(in_castle["repeat_share"])
    assert len(rates_shown(at)[0]) == 1  # one ward left
    assert {k: v for k, v in metrics(show(at, TARGET)).items() if k in citywide_target} == citywide_target  # citywide

    at.multiselect(key="f_wards").set_value([]).run()
    at.selectbox(key="f_period").set_value("Financial year 2020/21").run()
    assert not at.exception
    shown = metrics(at)
    # The baseline year itself: the selected period and the baseline are the same measure.
    assert shown["Selected period: Apr 2020 to Mar 2021"] == shown["Baseline: April 2020 to March 2021"]
    show(at, VICTIMS)
    assert any("lower bounds" in w.value for w in at.warning)  # no 12 months before April 2020


@pytest.mark.parametrize("role", ["neighbourhood", "board"])
def test_repeats_page_is_for_analysts_only(demo_store, monkeypatch, role):
    monkeypatch.setenv("CDP_STORE", demo_store)
    monkeypatch.setenv("CDP_ROLE", role)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/repeats.py")  # the file is not among its pages (a deep link to its
        # address says "not available to your role": see test_access_browser.py)
    direct = AppTest.from_file(str(ROOT / "pages" / "repeats.py"), default_timeout=60)
    direct.session_state["filters"] = LAST_12_MONTHS
    direct.run()   # run on its own, the page refuses too
    assert not direct.exception
    assert any("only analysts" in w.value for w in direct.warning)
    assert not direct.metric and not direct.dataframe


def test_police_uk_only_data_says_there_are_no_victim_keys(police_uk_store, monkeypatch):
    monkeypatch.setenv("CDP_STORE", police_uk_store)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    at.switch_page("pages/repeats.py").run()
    assert not at.exception
    assert at.session_state["repeats_section"] == PLACES   # the one measure without victim keys
    infos = ""
    for section in (VICTIMS, TARGET, ESCALATION):
        infos += " ".join(i.value for i in show(at, section).info)
        assert not at.metric and not at.get("plotly_chart")
    assert "The loaded data has no victim keys" in infos
    assert "Unavailable for the loaded data" in infos
    # Repeat places still work from the snapped points.
    show(at, PLACES)
    at.session_state["repeat_places_kind"] = "Locations"
    at.run()
    locations = next(d.value for d in at.dataframe if "asb_incidents" in d.value.columns)
    assert len(locations) > 0 and (locations["crimes"] + locations["asb_incidents"] >= 2).all()


# --- problem profile -----------------------------------------------------------------------------

def test_profile_prefills_from_the_sidebar_premises(app_test, demo, audit_log):
    at = app_test("pages/profile.py")
    assert at.radio(key="p_kind").value == "person"
    assert any("Choose a person key" in i.value for i in at.info)
    premises_id = demo.execute("""SELECT premises_id FROM incidents
        WHERE month >= '2024-04-01' AND premises_id IS NOT NULL
        GROUP BY premises_id ORDER BY count(*) DESC LIMIT 1""").fetchall()[0][0]
    at.session_state["f_premises_open"] = True  # the sidebar's Premises section
    at.run().selectbox(key="f_premises").set_value(premises_id).run()
    at.session_state["f_premises_open"] = False  # closed again, the choice stays
    at.run()
    assert at.radio(key="p_kind").value == "premises" and at.selectbox(key="p_premises").value == premises_id
    expected = profiles.build_profile(demo, LAST_12_MONTHS, profiles.Subject("premises", premises_id))
    shown = metrics(at)
    assert (shown["Crimes"], shown["ASB incidents"]) == (f"{expected.crimes:,}", f"{expected.asb_incidents:,}")
    timeline = frame_with(at, "incident_id")
    assert len(timeline) == expected.total_rows and set(timeline["premises"].dropna()) == {expected.timeline["premises"][0]}
    assert [b.label for b in at.get("download_button")] == ["Download HTML", "Download PDF", "Download CSV"]
    assert all(b.proto.deferred_file_id for b in at.get("download_button"))
    # Logged: the list of frequent keys the chooser offered, then the profile shown; the
    # downloads only when a file is made, at the click.
    first, shown_profile = audit.entries(audit_log)
    assert (first["what"], first["action"]) == ("frequent victim and offender keys", "view")
    assert shown_profile["what"].startswith("problem profile: Premises")
    assert shown_profile["filters"]["key"] == premises_id and shown_profile["rows"] == expected.total_rows

    # A shorter period changes the profile.
    at.selectbox(key="f_period").set_value("Last 3 months").run()
    assert int(metrics(at)["Crimes"].replace(",", "")) < expected.crimes


def test_profile_of_a_person_a_location_and_a_radius(app_test, demo):
    at = app_test("pages/profile.py")
    people = profiles.frequent_people(demo, LAST_12_MONTHS)
    key = people["key"][0]
    at.selectbox(key="p_person").set_value(key).run()
    assert at.header[0].value == f"Person {key}"
    timeline = frame_with(at, "incident_id")
    assert len(timeline) == people["incidents"][0]
    assert ((timeline["victim_id"] == key) | (timeline["offender_id"] == key)).all()
    assert set(timeline["role"]) <= {"victim", "offender", "victim and offender"}

    at.radio(key="p_kind").set_value("location").run()
    at.text_input(key="p_location").set_value("Market Street").run()
    assert at.header[0].value == "Locations containing 'Market Street'"
    assert frame_with(at, "incident_id")["location"].str.contains("Market Street", case=False).all()
    crimes_on_street = int(metrics(at)["Crimes"].replace(",", ""))

    at.radio(key="p_kind").set_value("radius").run()
    at.text_input(key="p_point").set_value("52.9536, -1.1505").run()
    at.number_input(key="p_radius").set_value(300).run()
    assert at.header[0].value == "Within 300 m of 52.9536, -1.1505"
    near = int(metrics(at)["Crimes"].replace(",", ""))
    at.number_input(key="p_radius").set_value(1000).run()
    assert int(metrics(at)["Crimes"].replace(",", "")) > near > 0
    assert crimes_on_street > 0
    at.text_input(key="p_point").set_value("Old Market Square").run()
    assert any("latitude, longitude" in e.value for e in at.error)


def test_profile_opens_from_a_repeat_place(app_test, demo):
    at = app_test("pages/repeats.py")
    at.session_state["profile_handover"] = profiles.subject_for_place("location:Market Street")
    at.switch_page("pages/profile.py").run()
    assert at.radio(key="p_kind").value == "location"
    assert at.text_input(key="p_location").value == "Market Street"
    assert "profile_handover" not in at.session_state

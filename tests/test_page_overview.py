"""AppTest: the shell (first run, navigation, shared filters, URL) and the overview page."""
from __future__ import annotations

import re

import pandas as pd
from streamlit.testing.v1 import AppTest

from conftest import ROOT, page_charts, point_texts, shown_tables


def metric_values(at) -> dict[str, str]:
    return {m.label + str(i): m.value for i, m in enumerate(at.metric)}


def numbers(at) -> list[int]:
    return [int(m.value.replace(",", "")) for m in at.metric]


def test_overview_shows_six_priorities_with_tests_and_trends(app_test):
    at = app_test()
    assert at.title[0].value == "Overview"
    assert sorted(h.value for h in at.subheader) == [  # laid out in three columns
        "Anti-social behaviour", "Domestic and sexual violence and abuse", "Drugs and alcohol",
        "Hate crime", "Modern slavery and exploitation", "Weapon-enabled offending"]
    assert at.metric[0].label == "ASB incidents in the period"
    assert all(m.label == "Crimes in the period" for m in at.metric[1:])
    assert min(numbers(at)) > 0
    text = " ".join(m.value for m in at.markdown)
    assert "Against the same months a year earlier (Apr 2023 to Mar 2024)" in text
    at.selectbox(key="f_period").set_value("Last 3 months").run()
    text = " ".join(m.value for m in at.markdown)
    # Seasonally fair first: the same months a year earlier, then the period just before.
    assert text.index("Against the same months a year earlier (Jan 2024 to Mar 2024)") < text.index(
        "Against the period just before (Oct 2024 to Dec 2024; not seasonally fair)")
    assert re.search(r"significant (rise|fall)|no significant change", text)
    sparklines = page_charts(at)   # SVG images: the page loads no Plotly
    assert len(sparklines) == 6 and not at.get("plotly_chart")
    asb = point_texts(sparklines[0])   # the last 24 months, each month's count its tooltip
    assert len(asb) == 24 and max(asb) == pd.Timestamp("2025-03-01")
    assert all(re.fullmatch(r"[\d,]+", text) for text in asb.values())
    assert "Synthetic demo data" in at.warning[0].value


def test_filters_change_the_figures_and_persist_across_pages(app_test):
    at = app_test()
    city = numbers(at)
    at.multiselect(key="f_wards").set_value(["E05012277"]).run()  # Castle
    castle = numbers(at)
    assert all(c <= w for c, w in zip(castle, city)) and castle != city
    at.multiselect(key="f_priorities").set_value(["asb", "dsva"]).run()
    assert [h.value for h in at.subheader] == ["Anti-social behaviour", "Domestic and sexual violence and abuse"]
    assert at.query_params["wards"] == "E05012277"
    assert at.query_params["priorities"] == "asb,dsva"
    at.switch_page("pages/data.py").run()
    assert at.multiselect(key="f_wards").value == ["E05012277"]
    at.switch_page("pages/overview.py").run()
    assert numbers(at) == [castle[0], castle[5]]


def test_a_closed_sidebar_section_keeps_its_filters_and_names_them(app_test):
    """People, Places and Premises draw their widgets only while open; what was chosen stays."""
    at = app_test()
    city = numbers(at)
    assert not {"f_age", "f_location", "f_ptypes"} & {w.key for w in [*at.multiselect, *at.text_input]}
    at.session_state["f_people_open"] = True
    at.run().multiselect(key="f_age").set_value(["18-24"]).run()
    at.checkbox(key="f_vulnerable").check().run()
    at.session_state["f_people_open"] = False  # closed again
    at.run()
    assert "f_age" not in [w.key for w in at.sidebar.multiselect]
    assert "People: victim age band, vulnerable victims only set" in [c.value for c in at.sidebar.caption]
    assert at.query_params["age_bands"] == "18-24" and at.query_params["vulnerable_only"] == "1"
    young = numbers(at)
    assert all(y <= c for y, c in zip(young, city)) and young != city
    at.switch_page("pages/data.py").run()  # kept across pages too
    at.switch_page("pages/overview.py").run()
    assert numbers(at) == young
    at.session_state["f_people_open"] = True
    assert at.run().multiselect(key="f_age").value == ["18-24"]


def test_period_quick_picks_and_financial_years(app_test):
    at = app_test()
    options = at.selectbox(key="f_period").options
    assert options[:3] == ["Last 12 months", "Last 3 months", "Latest month"]
    assert "Financial year 2023/24" in options and options[-1] == "Custom range"
    last12 = numbers(at)
    at.selectbox(key="f_period").set_value("Last 3 months").run()
    assert all(q < y for q, y in zip(numbers(at), last12))
    assert at.query_params["start"] == "2025-01"


def test_noise_related_asb_is_one_pick_on_every_page(app_test):
    at = app_test()
    everything = numbers(at)
    picker = at.multiselect(key="f_categories")
    labels = [picker.format_func(o) for o in picker.options]
    asb = [label for label in labels if label.startswith("ASB: ")]
    assert labels[:len(asb)] == asb == sorted(asb) and "ASB: Noise" in asb and "ASB: Vehicle nuisance" in asb
    assert "Crime: Burglary" in labels[len(asb):]
    picker.set_value(["Noise"]).run()
    noise = numbers(at)
    assert 0 < noise[0] < everything[0]  # ASB incidents: the noise ones only
    assert noise[1:] == [0] * 5          # no crime is a noise incident
    assert at.query_params["categories"] == "Noise"
    assert any(c.value.endswith("all wards · Noise") for c in at.caption)
    at.switch_page("pages/trends.py").run()
    assert not at.exception and at.multiselect(key="f_categories").value == ["Noise"]
    at.switch_page("pages/overview.py").run()
    assert numbers(at) == noise


def test_a_nat_area_chooses_its_wards_on_every_page(app_test):
    at = app_test()
    city = numbers(at)
    assert at.selectbox(key="f_area").options == ["North", "West", "Central", "East", "South"]
    at.multiselect(key="f_wards").set_value(["E05012277"]).run()  # Castle, in Central
    at.selectbox(key="f_area").set_value("North").run()
    north = numbers(at)
    assert all(n <= c for n, c in zip(north, city)) and north != city
    assert at.query_params["area"] == "North" and "wards" not in at.query_params
    assert at.multiselect(key="f_wards").value == []  # Castle is not in North
    assert len(at.multiselect(key="f_wards").options) == 4
    assert any("North area (4 ward(s))" in c.value for c in at.caption)
    at.multiselect(key="f_wards").set_value(["E05012275"]).run()  # Bulwell, within North
    assert at.query_params["wards"] == "E05012275" and at.query_params["area"] == "North"
    bulwell = numbers(at)
    assert all(b <= n for b, n in zip(bulwell, north))
    at.switch_page("pages/trends.py").run()
    assert not at.exception and at.selectbox(key="f_area").value == "North"
    at.multiselect(key="f_wards").set_value([]).run()
    at.switch_page("pages/overview.py").run()
    assert numbers(at) == north


def test_an_area_file_that_cannot_be_used_is_named_and_the_pages_still_work(demo_store, monkeypatch, tmp_path):
    bad = tmp_path / "areas.toml"
    bad.write_text('[[areas]]\nname = "North"\nwards = [\n  "Bulwell",\n  "Atlantis",\n]\n')
    monkeypatch.setenv("CDP_STORE", demo_store)
    monkeypatch.setenv("CDP_AREAS", str(bad))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["area"] = "North"
    at.run()
    assert not at.exception and min(numbers(at)) > 0
    assert not [s for s in at.selectbox if s.key == "f_area"] and "area" not in at.query_params
    (warning,) = [w.value for w in at.sidebar.warning]
    assert "line 5: area 'North': 'Atlantis' is not one of the 20 loaded wards" in warning.replace("\\", "")
    assert str(bad.name) in warning.replace("\\", "")


def test_url_restores_a_shared_view(demo_store, monkeypatch):
    monkeypatch.setenv("CDP_STORE", demo_store)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["priorities"] = "hate_crime"
    at.query_params["wards"] = "E05012277,E05012286"
    at.query_params["start"] = "2023-04"
    at.query_params["end"] = "2024-03"
    at.query_params["categories"] = "Noise,Not a category"
    at.query_params["area"] = "central"
    at.run()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["Hate crime"]
    assert at.multiselect(key="f_wards").value == ["E05012277", "E05012286"]
    assert at.multiselect(key="f_categories").value == ["Noise"]
    assert at.selectbox(key="f_area").value == "Central"  # Castle and Radford are in it
    assert at.selectbox(key="f_period").value == "Financial year 2023/24"


def test_people_filters_are_disabled_with_a_reason_for_police_uk_data(police_uk_store, monkeypatch):
    monkeypatch.setenv("CDP_STORE", police_uk_store)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    assert "f_age" not in [w.key for w in at.multiselect]  # the People section is closed
    at.session_state["f_people_open"] = at.session_state["f_places_open"] = True
    at.run()
    age = at.multiselect(key="f_age")
    assert age.disabled and "police.uk data has no victim age bands" in age.help
    assert at.checkbox(key="f_repeat").disabled
    assert not at.text_input(key="f_location").disabled
    badges = " ".join(m.value for m in at.markdown)
    assert "Proxy only" in badges and "Unavailable" in badges
    # real data: no synthetic-data banner; January to March 2024 is older than expected today
    assert [w.value for w in at.warning] == [w.value for w in at.warning if "older than expected" in w.value]
    assert len(at.warning) == 1 and "Nottinghamshire Police ends March 2024" in at.warning[0].value


def test_first_run_builds_the_demo_store(empty_store, monkeypatch):
    monkeypatch.setenv("CDP_STORE", empty_store)
    monkeypatch.setenv("CDP_BOUNDARIES", str(ROOT.parent / "shared" / "geo" / "nottingham_wards.gpkg"))
    monkeypatch.setenv("CDP_DEMO_ROWS", "20000")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180).run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert "Synthetic demo data" in at.warning[0].value


def test_first_run_offline_uses_the_shipped_wards(tmp_path, monkeypatch):
    from cdp import config
    monkeypatch.setenv("CDP_DB", str(tmp_path / "fresh.duckdb"))
    monkeypatch.delenv("CDP_BOUNDARIES", raising=False)
    monkeypatch.setenv("CDP_ONS_WARDS_URL", "http://127.0.0.1:9/query")  # offline
    monkeypatch.setattr(config, "SHARED_GEO_DIR", tmp_path / "no-shared-folder")
    monkeypatch.setenv("CDP_DEMO_ROWS", "5000")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180).run()
    assert not at.exception
    assert at.title[0].value == "Overview"


def test_first_run_without_boundaries_says_how_to_supply_them_and_creates_no_store(tmp_path, monkeypatch):
    from cdp import config
    monkeypatch.setenv("CDP_DB", str(tmp_path / "fresh.duckdb"))
    monkeypatch.delenv("CDP_BOUNDARIES", raising=False)
    monkeypatch.setenv("CDP_ONS_WARDS_URL", "http://127.0.0.1:9/query")
    monkeypatch.setattr(config, "SHARED_GEO_DIR", tmp_path / "none")
    monkeypatch.setattr(config, "SHIPPED_GEO_DIR", tmp_path / "none")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    assert not at.info, "no 'building demo data' note when nothing can be built"
    message = at.error[0].value
    for way in ("CDP_BOUNDARIES", "geo/nottingham_wards.gpkg", "CDP_WARD_CODES"):
        assert way in message
    assert not (tmp_path / "fresh.duckdb").exists()


def test_data_page_reports_what_is_loaded(app_test, demo_incidents):
    at = app_test("pages/data.py")
    labels = [m.label for m in at.metric]
    assert labels == ["Incidents stored", "Counted", "Crimes / ASB incidents counted"]
    assert int(at.metric[0].value.replace(",", "")) == demo_incidents
    text = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert "Office for National Statistics" in text and "Open Government Licence" in text
    assert "20 wards from" in text
    tables = shown_tables(at)
    assert len(tables) == 4 and not at.dataframe  # static tables: the page loads no data grid
    sources = tables[0]
    assert sources["Kind"].tolist()[:1] == ["partner"] and sources["First month"].iloc[0] == "Apr 2020"
    assert sum(int(n.replace(",", "")) for n in sources["Rows stored"]) == demo_incidents
    months = tables[1]  # where each month's figures come from
    assert months["Month"].iloc[0] == "Mar 2025" and (months["Complete"] == "yes").all()
    assert {"partner: police", "partner: council_asb"} <= set(months.columns)


def test_data_page_upload_runs_the_importers_with_their_errors(store_copy, monkeypatch, police_uk_files):
    monkeypatch.setenv("CDP_STORE", store_copy())
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
    at.switch_page("pages/data.py").run()
    before = at.metric[0].value

    bad = police_uk_files[0].read_text().replace("2024-01,Nottinghamshire", "2024-13,Nottinghamshire", 1)
    at.file_uploader[0].set_value(("2024-01-nottinghamshire-street.csv", bad.encode(), "text/csv"))
    at.run()
    at.button[0].click().run()
    assert re.sub(r"\\(.)", r"\1", at.error[0].value).startswith("Nothing was loaded: 1 problem in the files")
    assert at.code[0].value == "2024-01-nottinghamshire-street.csv line 2: Month '2024-13' is not YYYY-MM"
    assert at.metric[0].value == before

    good = police_uk_files[0].read_bytes()
    at.file_uploader[0].set_value(("2024-01-nottinghamshire-street.csv", good, "text/csv"))
    at.run()
    at.button[0].click().run()
    success = re.sub(r"\\(.)", r"\1", at.success[0].value)  # markdown-escaped text
    assert "Loaded" in success and "police_uk rows from 1 file(s)" in success
    assert "synthetic demo incidents were removed first" in success
    at.run()
    added = len(police_uk_files[0].read_text().splitlines()) - 1
    assert int(at.metric[0].value.replace(",", "")) == added  # real data replaced the demo
    assert not [w for w in at.warning if "Synthetic" in w.value]  # no synthetic-data banner any more


def test_board_viewers_see_no_small_numbers_on_the_overview(app_test, monkeypatch):
    monkeypatch.setenv("CDP_ROLE", "board")
    at = app_test()
    at.multiselect(key="f_wards").set_value(["E05012280"]).run()  # Dales: small monthly counts
    assert any(m.value == "<5" or int(m.value.replace(",", "")) >= 5 for m in at.metric)
    assert all(m.value == "<5" or int(m.value.replace(",", "")) >= 5 for m in at.metric)
    drawn = [text for svg in page_charts(at) for text in point_texts(svg).values()]
    assert "<5" in drawn                                   # a small month is "<5", a gap in the line
    assert all(int(t.replace(",", "")) % 5 == 0 for t in drawn if t != "<5")   # rounded to 5s


def premises_choices(at) -> list[str]:
    """The sidebar's named premises, sent once its Premises section is open."""
    assert "f_premises" not in [w.key for w in at.selectbox]  # closed: the long list is not sent
    at.session_state["f_premises_open"] = True
    return at.run().selectbox(key="f_premises").options


def test_residential_addresses_are_named_for_analysts_only(app_test, monkeypatch):
    analyst = [o for o in premises_choices(app_test()) if "(residential)" in o]
    assert analyst  # e.g. "12 Alfreton Road (residential)"
    monkeypatch.setenv("CDP_ROLE", "neighbourhood")
    options = premises_choices(app_test())
    assert not [o for o in options if "(residential)" in o]
    assert any(o.startswith("Residential address ") for o in options)

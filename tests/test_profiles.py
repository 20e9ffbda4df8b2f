"""Problem profiles: what they gather for a person, place or premises, and their exports."""
from __future__ import annotations

import io
import json
import re
from datetime import date

import pandas as pd
import pytest

from cdp import access, exports, geography, profiles, queries
from cdp.filters import Filters
from cdp.profiles import Subject
from test_victimisation import insert_incidents

YEAR_2024 = Filters(start=date(2024, 1, 1), end=date(2024, 12, 1))
ANALYST = access.Viewer(user="analyst1", role="analyst")
# The Crown's point in BNG metres, and a lat/lon about 40 m from it.
CROWN_EAST, CROWN_NORTH = 457000.0, 340000.0


def crown(when, **extra) -> dict:
    return {"when": when, "premises_id": "P1", "premises_name": "The Crown", "premises_type": "licensed premises",
            "location": "On or near Market Street", "easting": CROWN_EAST, "northing": CROWN_NORTH,
            "ward_code": "E1", **extra}


INCIDENTS = [
    # V1 is a victim at The Crown twice and an offender once in Meadows.
    crown("2024-02-03 23:10", victim_id="V1", offender_id="O1", p_dsva=True, flag_domestic_abuse=True),
    crown("2024-05-04 22:00", victim_id="V1", offender_id="O2", p_drugs_alcohol=True, flag_alcohol=True),
    {"when": "2024-06-01", "victim_id": "V9", "offender_id": "V1", "ward_code": "E2", "location": "Arkwright Street",
     "category": "Robbery", "easting": 458000.0, "northing": 338000.0},
    crown("2024-07-01 21:00", category="Rowdy or inconsiderate behaviour", is_asb=True, p_asb=True,
          offender_id="O1"),
    crown("2024-08-01 20:00", category="Shoplifting", victim_id="V2"),
    # Outside the period, and a different premises on the same street.
    crown("2023-11-01", victim_id="V1"),
    {"when": "2024-03-01", "premises_id": "P2", "premises_name": "Corner shop", "location": "Market Street",
     "ward_code": "E1", "easting": 457500.0, "northing": 340000.0, "category": "Shoplifting"},
    # Other incidents in the two wards (ward context).
    {"when": "2024-04-01", "ward_code": "E1", "category": "Burglary"},
    {"when": "2024-04-02", "ward_code": "E1", "category": "Noise", "is_asb": True, "p_asb": True},
]


@pytest.fixture
def store(db):
    insert_incidents(db, INCIDENTS)
    return db


def test_person_profile(store):
    profile = profiles.build_profile(store, YEAR_2024, Subject("person", " V1 "))
    assert (profile.crimes, profile.asb_incidents) == (3, 0)
    assert profile.timeline["when"].tolist() == ["2024-06-01", "2024-05-04", "2024-02-03"]
    assert profile.timeline["role"].tolist() == ["offender", "victim", "victim"]
    assert profile.timeline["ward"].tolist() == ["Meadows", "Castle", "Castle"]
    # Linked people: V1 itself is left out; V9 was V1's victim; O1 and O2 offended against V1.
    assert profile.victims["victim_id"].tolist() == ["V9"]
    assert sorted(profile.offenders["offender_id"]) == ["O1", "O2"]
    assert profile.linked_counts == {"victims": 1, "offenders": 2, "premises": 1}
    assert profile.premises[["premises_id", "premises", "incidents"]].values.tolist() == [["P1", "The Crown", 2]]
    by_priority = profile.by_priority.set_index("priority")
    assert by_priority.loc["Domestic and sexual violence and abuse", "crimes"] == 1
    assert by_priority.loc["Drugs and alcohol", "crimes"] == 1
    assert "Anti-social behaviour" not in by_priority.index
    assert profile.monthly["crimes"].sum() == 3 and len(profile.monthly) == 12
    assert profile.first == pd.Timestamp("2024-02-03 23:10")


def test_premises_profile_and_ward_context(store):
    profile = profiles.build_profile(store, YEAR_2024, Subject("premises", "P1", label="The Crown"))
    assert (profile.crimes, profile.asb_incidents) == (3, 1)  # the 2023 one is outside the period
    assert "role" not in profile.timeline
    assert profile.timeline["kind"].tolist() == ["crime", "ASB incident", "crime", "crime"]
    assert profile.categories.set_index("category").loc["Rowdy or inconsiderate behaviour", "kind"] == "ASB incident"
    assert profile.offenders.set_index("offender_id").loc["O1", "incidents"] == 2
    ward = profile.wards.set_index("ward").loc["Castle"]
    # Castle in 2024: crimes at The Crown 3, P2 1, burglary 1 = 5; ASB: The Crown 1, noise 1 = 2.
    assert (ward["crimes"], ward["asb_incidents"], ward["ward_crimes"], ward["ward_asb_incidents"]) == (3, 1, 5, 2)
    assert ward["share_of_ward_crimes"] == pytest.approx(0.6)
    assert ward["share_of_ward_asb"] == pytest.approx(0.5)


def test_ward_context_has_deprivation_when_the_imd_file_exists(store, tmp_path, monkeypatch):
    imd = tmp_path / "imd.csv"
    imd.write_text("ward_code,imd_score\nE1,20.5\nE2,41.0\n")
    monkeypatch.setenv("CDP_IMD", str(imd))
    wards = profiles.build_profile(store, YEAR_2024, Subject("person", "V1")).wards.set_index("ward")
    assert wards.loc["Meadows", "imd_rank"] == 1 and wards.loc["Castle", "imd_rank"] == 2
    assert wards.loc["Castle", "imd_score"] == 20.5


def test_place_profiles(store):
    street = profiles.build_profile(store, YEAR_2024, Subject("location", "market street"))
    assert street.crimes == 4 and street.asb_incidents == 1          # The Crown and the corner shop
    lon, lat = geography.from_bng([CROWN_EAST + 30], [CROWN_NORTH + 30])
    near = profiles.point_subject(f"{lat[0]}, {lon[0]}", 100)         # ~42 m away: The Crown only
    assert near.easting == pytest.approx(CROWN_EAST + 30, abs=0.01)
    assert profiles.build_profile(store, YEAR_2024, near).crimes == 3
    wide = profiles.point_subject(f"{lat[0]}, {lon[0]}", 600)         # and the corner shop, 470 m away
    assert profiles.build_profile(store, YEAR_2024, wide).crimes == 4
    with pytest.raises(ValueError, match="latitude, longitude"):
        profiles.point_subject("Market Street", 100)


def test_profile_keeps_period_and_priorities_only(store):
    f = Filters(start=date(2024, 1, 1), end=date(2024, 12, 1), priorities=("dsva",), wards=("E2",),
                age_bands=("65+",), premises_id="P2")
    narrowed = profiles.profile_filters(f, Subject("person", "V1"))
    assert narrowed == Filters(start=date(2024, 1, 1), end=date(2024, 12, 1), priorities=("dsva",))
    profile = profiles.build_profile(store, f, Subject("person", "V1"))
    assert profile.timeline["when"].tolist() == ["2024-02-03"]        # the domestic abuse crime only
    assert profile.scope == "January 2024 to December 2024, incidents in Domestic and sexual violence and abuse"


def test_subject_from_the_sidebar():
    base = dict(start=date(2024, 1, 1), end=date(2024, 12, 1))
    assert profiles.subject_from_filters(Filters(**base)) is None
    assert profiles.subject_from_filters(Filters(**base, location_text="Market")) == Subject("location", "Market")
    radius = Filters(**base, location_text="Market", radius_m=300, centre_easting=1.0, centre_northing=2.0,
                     centre_label="P7")
    assert profiles.subject_from_filters(radius) == Subject("radius", radius_m=300, easting=1.0, northing=2.0,
                                                            label="P7")
    both = Filters(**base, premises_id="P1", radius_m=300, centre_easting=1.0, centre_northing=2.0)
    assert profiles.subject_from_filters(both) == Subject("premises", "P1")


def test_subject_for_a_repeat_place():
    assert profiles.subject_for_place("premises:P1", "The Crown") == Subject("premises", "P1", label="The Crown")
    assert profiles.subject_for_place("location:Market Square") == Subject("location", "Market Square")
    point = profiles.subject_for_place("point:457000,340000")
    assert (point.kind, point.radius_m) == ("radius", 25)
    assert (point.easting, point.northing) == (457000, 340000)
    assert profiles.point_subject(point.label, 25).easting == pytest.approx(457000, abs=0.1)
    with pytest.raises(ValueError):
        profiles.subject_for_place("street:High Street")


def test_subject_checks():
    with pytest.raises(ValueError, match="unknown profile subject"):
        Subject("car")
    assert not Subject("person", "  ").ready and Subject("person", "V1").ready
    assert not Subject("radius", radius_m=100).ready
    assert Subject("radius", radius_m=100, easting=1.0, northing=2.0).ready


def test_frequent_people(store):
    people = profiles.frequent_people(store, YEAR_2024)
    assert people.iloc[0].tolist() == ["O1", "offender", 2] or people.iloc[0].tolist() == ["V1", "victim", 2]
    assert set(people.loc[people["role"] == "offender", "key"]) == {"O1", "O2", "V1"}
    assert queries.premises_options(store)["P1"][0] == "The Crown (licensed premises)"


# --- exports -------------------------------------------------------------------------------------

@pytest.fixture
def profile(store):
    return profiles.build_profile(store, YEAR_2024, Subject("premises", "P1", label="The Crown"))


def test_html_export_is_self_contained(profile):
    page = profiles.profile_html(profile)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", page, re.IGNORECASE)
    assert not re.search(r"<(img|iframe)[^>]*\bsrc\s*=\s*[\"']?https?:", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*[\"']?https?:", page, re.IGNORECASE)
    assert "Plotly.newPlot" in page and "plotly.js" in page.lower()   # the library is inline
    assert page.count("Plotly.newPlot") == 2                          # monthly and timeline
    assert "OFFICIAL-SENSITIVE" in page and "The Crown" in page and "O1" in page
    listed = page.split("<h2>Incidents</h2>", 1)[1]
    assert listed.count("<tr") - 1 == len(profile.timeline)      # less the heading row


def test_pdf_export(profile):
    pdf = profiles.profile_pdf(profile)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 1000


def test_csv_rows_match_the_timeline(profile):
    rows = pd.read_csv(io.BytesIO(profiles.timeline_csv(profile)), dtype=str, keep_default_na=False)
    assert list(rows.columns) == list(profile.timeline.columns)
    expected = profile.timeline.astype("object").where(profile.timeline.notna(), "").astype(str)
    pd.testing.assert_frame_equal(rows, expected.reset_index(drop=True), check_dtype=False)


def test_exports_of_an_empty_profile(store):
    empty = profiles.build_profile(store, YEAR_2024, Subject("location", "Nowhere Lane"))
    assert empty.total_rows == 0 and empty.timeline.empty
    assert profiles.profile_pdf(empty).startswith(b"%PDF")
    assert "Plotly.newPlot" not in profiles.profile_html(empty)
    assert profiles.timeline_csv(empty).decode().strip() == ",".join(empty.timeline.columns)


def test_long_timelines_are_capped_in_the_pdf(db):
    insert_incidents(db, [crown(f"2024-{m:02d}-{d:02d}", victim_id=f"V{m}{d}") for m in range(1, 13)
                          for d in range(1, 29)])
    long = profiles.build_profile(db, YEAR_2024, Subject("premises", "P1"), limit=300)
    assert (long.total_rows, len(long.timeline), long.truncated) == (336, 300, True)
    assert profiles.profile_pdf(long).startswith(b"%PDF")
    assert len(profiles.timeline_csv(long).decode().strip().splitlines()) == 301


def read_log(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["html", "pdf", "csv"])
def test_every_export_writes_the_audit_log_when_it_is_made(profile, tmp_path, monkeypatch, fmt):
    log = tmp_path / "audit.log"
    monkeypatch.setenv("CDP_AUDIT_LOG", str(log))
    export = profiles.export(profile, fmt)
    download = lambda: exports.deliver(export, ANALYST)  # noqa: E731 (what the download button calls)
    assert not log.exists()                  # preparing the button writes nothing
    data = download()
    assert data == profiles.export_bytes(profile, fmt) or fmt != "csv"
    (entry,) = read_log(log)
    assert entry["user"] == "analyst1" and entry["role"] == "analyst"
    assert (entry["action"], entry["what"]) == ("export", f"problem profile {fmt.upper()}")
    assert entry["rows"] == len(profile.timeline) == 4
    assert entry["filters"]["subject"] == "premises" and entry["filters"]["key"] == "P1"
    assert (entry["filters"]["start"], entry["filters"]["end"]) == ("2024-01", "2024-12")
    download()
    assert len(read_log(log)) == 2           # a second download is a second line


def test_exports_refused_without_person_key_access(profile, tmp_path, monkeypatch):
    log = tmp_path / "audit.log"
    monkeypatch.setenv("CDP_AUDIT_LOG", str(log))
    with pytest.raises(PermissionError):
        exports.deliver(profiles.export(profile, "csv"), access.Viewer("someone", "neighbourhood"))
    with pytest.raises(PermissionError):
        exports.deliver(exports.csv_export(profile.victims, "v.csv", person_level=True, what="victims"),
                        access.Viewer("b", "board"))
    assert not log.exists()


def test_table_export_is_logged(profile, tmp_path, monkeypatch):
    log = tmp_path / "audit.log"
    monkeypatch.setenv("CDP_AUDIT_LOG", str(log))
    data = exports.deliver(exports.csv_export(profile.offenders, "o.csv", person_level=True, what="offenders",
                                              filters={"start": "2024-01"}), ANALYST)
    assert pd.read_csv(io.BytesIO(data))["offender_id"].tolist() == profile.offenders["offender_id"].tolist()
    (entry,) = read_log(log)
    assert (entry["what"], entry["rows"], entry["filters"]) == ("offenders", len(profile.offenders),
                                                                  {"start": "2024-01"})


def test_figures(profile):
    timeline = profiles.timeline_figure(profile)
    assert [trace.name for trace in timeline.data] == ["Crimes", "ASB incidents"]
    assert sum(len(trace.x) for trace in timeline.data) == len(profile.timeline)
    monthly = profiles.monthly_figure(profile)
    assert [trace.name for trace in monthly.data] == ["Crimes", "ASB incidents"]
    assert sum(monthly.data[0].y) == profile.crimes and sum(monthly.data[1].y) == profile.asb_incidents

"""Partner extract v1: both coordinate systems, three date precisions, flags, re-import updates."""
from __future__ import annotations

import pandas as pd
import pytest

from cdp import geography, queries
from cdp.ingest import ingest
from conftest import WARDS_FILE

# Castle ward (city centre) and Bulwell, as WGS84 and as British National Grid.
CASTLE = (-1.1505, 52.9510)
BULWELL_E, BULWELL_N = geography.to_bng([-1.1980], [53.0010])

EXTRACT = f"""incident_id,source,occurred_at,category,longitude,latitude,easting,northing,location,premises_id,premises_name,premises_type,victim_id,offender_id,victim_age_band,victim_sex,victim_vulnerable,offender_age_band,flag_asb,flag_drugs,flag_alcohol,flag_hate_crime,flag_weapon,flag_modern_slavery,flag_exploitation,flag_domestic_abuse,flag_sexual_violence,hate_strand,weapon_type,outcome
P1,police,2024-03-09T23:40:00,Violence and sexual offences,{CASTLE[0]},{CASTLE[1]},,,Market Square,PR1,The Bell,licensed premises,V1,O1,18-24,F,false,25-34,false,false,true,false,true,false,false,true,false,,knife,Charged
P2,police,2024-03-10,Public order,,,{BULWELL_E[0]:.1f},{BULWELL_N[0]:.1f},Main Street,,,,V2,,35-49,M,true,,false,false,false,true,false,false,false,false,false,race;religion,,
A1,council_asb,2024-04,Noise,{CASTLE[0]},{CASTLE[1]},,,Market Square,,,,,,,,,,,,,,,,,,,,,
A2,council_asb,2024-04-02 18:05,Rowdy or inconsiderate behaviour,,,,,Unknown,,,,,,,,,,true,,,,,,,,,,,
"""


def load(db, tmp_path, text=EXTRACT, name="extract.csv"):
    path = tmp_path / name
    path.write_text(text)
    return ingest(db, "partner", [path], boundaries=WARDS_FILE)


def rows(db) -> pd.DataFrame:
    return db.execute("SELECT * FROM incidents ORDER BY source, incident_id").df().set_index("incident_id")


def test_coordinates_in_either_system_are_placed_in_their_ward(db, tmp_path):
    result = load(db, tmp_path)
    stored = rows(db)
    assert result.rows_loaded == 4 and result.unlocated == 1
    assert stored.loc["P1", "ward_code"] == "E05012277"  # Castle
    assert stored.loc["P2", "ward_code"] == "E05012275"  # Bulwell, from easting/northing
    assert abs(stored.loc["P2", "longitude"] - (-1.1980)) < 1e-5
    assert stored.loc["A2", "location_status"] == "unlocated"


def test_dates_at_three_precisions(db, tmp_path):
    load(db, tmp_path)
    stored = rows(db)
    assert stored.loc["P1", "time_precision"] == "datetime"
    assert stored.loc["P1", "occurred_at"] == pd.Timestamp("2024-03-09 23:40")
    assert stored.loc["P2", "time_precision"] == "day"
    assert stored.loc["A1", "time_precision"] == "month" and pd.isna(stored.loc["A1", "occurred_at"])
    assert stored.loc["A1", "month"] == pd.Timestamp("2024-04-01")
    assert stored.loc["A2", "occurred_at"] == pd.Timestamp("2024-04-02 18:05")


def test_one_incident_in_several_priorities(db, tmp_path):
    load(db, tmp_path)
    stored = rows(db)
    p1 = stored.loc["P1"]
    assert p1["p_dsva"] and p1["p_weapons"] and p1["p_drugs_alcohol"] and not p1["p_asb"]
    assert not p1["is_asb"]
    assert stored.loc["P2", "p_hate_crime"] and stored.loc["P2", "hate_strand"] == "race;religion"
    assert stored.loc["A1", "is_asb"] and stored.loc["A1", "p_asb"]  # an ASB category
    assert stored.loc["A2", "is_asb"]  # flagged ASB, no crime type
    assert stored.loc["P2", "victim_vulnerable"] == True  # noqa: E712
    assert pd.isna(stored.loc["A1", "victim_vulnerable"])


def test_reimport_updates_rather_than_duplicates(db, tmp_path):
    load(db, tmp_path)
    changed = EXTRACT.replace("P1,police,2024-03-09T23:40:00,Violence and sexual offences",
                              "P1,police,2024-03-09T23:40:00,Robbery")
    result = load(db, tmp_path, changed, "extract-v2.csv")
    assert result.rows_replaced == 4
    stored = rows(db)
    assert len(stored) == 4 and stored.loc["P1", "category"] == "Robbery"
    counts = queries.ward_counts(db, priority="hate_crime").set_index("ward_code")["count"]
    assert counts["E05012275"] == 1 and counts.sum() == 1


def test_same_id_in_another_source_is_another_incident(db, tmp_path):
    load(db, tmp_path)
    other = EXTRACT.replace(",police,", ",housing,")
    load(db, tmp_path, other, "housing.csv")
    assert db.execute("SELECT count(*) FROM incidents WHERE incident_id = 'P1'").fetchall()[0][0] == 2


def test_real_data_replaces_synthetic_demo_data_in_one_transaction(db, tmp_path, wards):
    from cdp import store
    from cdp.demo import build_demo
    from cdp.ingest import ImportFailed
    built = build_demo(db, wards, seed=1, rows=2_000)
    assert store.synthetic_note(db)
    broken = tmp_path / "broken.csv"
    broken.write_text(EXTRACT.replace("2024-03-10", "2024-13-10"))
    with pytest.raises(ImportFailed):
        ingest(db, "partner", [broken])
    assert store.incident_count(db) == built.incidents and store.synthetic_note(db)  # untouched
    result = load(db, tmp_path)
    assert result.demo_removed == built.incidents
    assert store.incident_count(db) == 4 and store.synthetic_note(db) is None

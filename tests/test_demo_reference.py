"""The demo's synthetic reference files: written with the demo, readable by their own loaders,
plausible for a city of 330,000, labelled synthetic, used only while the store holds demo data."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from cdp import cctv, config, demo_reference, offenders, reference, reoffending, store, treatment
from cdp.ingest import ingest
from conftest import WARDS_FILE

SETTINGS = {"reoffending": reoffending.ENV, "treatment": treatment.ENV, "cctv": cctv.ENV,
            "iom_cohort": offenders.COHORT_ENV}


@pytest.fixture
def demo(demo_db, monkeypatch):
    for env in SETTINGS.values():
        monkeypatch.delenv(env, raising=False)
    con = store.connect(demo_db)
    yield con
    con.close()


def test_every_file_is_written_with_the_demo_and_labelled_synthetic(demo):
    folder = demo_reference.folder(demo)
    assert folder.parent == config.demo_files_dir()
    for kind, env in SETTINGS.items():
        source = reference.configured(demo, env, kind)
        assert source.synthetic and source.path == folder / demo_reference.FILES[kind] and source.path.exists()
        assert source.label == f"the synthetic demo's {source.path.name}"
        assert set(pd.read_csv(source.path)["note"]) == {demo_reference.NOTE}


def test_the_files_read_cleanly_and_are_plausible_for_the_city(demo, wards):
    files = {kind: reference.configured(demo, env, kind).path for kind, env in SETTINGS.items()}
    cohorts = reoffending.cohorts(reoffending.load_reoffending(files["reoffending"]))
    adults = cohorts[cohorts["offender_type"] == "adult"]
    assert adults["offenders"].between(400, 1_000).all() and adults["proportion"].between(0.2, 0.36).all()
    juveniles = cohorts[cohorts["offender_type"] == "juvenile"]
    assert juveniles["offenders"].between(20, 120).all()
    assert cohorts["vs_ew"].notna().all() and len(cohorts) == 2 * len(demo_reference.COHORTS)

    totals = treatment.totals(treatment.load(files["treatment"]))
    assert totals["in_treatment"].between(2_000, 4_000).all()       # adults in treatment, rolling year
    assert len(totals) == demo_reference.TREATMENT_MONTHS

    cameras = cctv.placed(demo, cctv.load_cameras(files["cctv"]))
    assert 50 <= len(cameras) <= 300 and cameras["ward_code"].notna().all()

    members = offenders.load_cohort(files["iom_cohort"])
    assert 50 <= len(members) <= 300
    known = demo.execute("SELECT count(DISTINCT offender_id) FROM incidents WHERE offender_id IN "
                         "(SELECT unnest(?::VARCHAR[]))", [members["offender_id"].tolist()]).fetchall()[0][0]
    assert known == members["offender_id"].nunique()


def test_a_real_file_wins_and_a_missing_demo_file_is_written_again(demo, tmp_path, monkeypatch):
    mine = tmp_path / "cameras.csv"
    monkeypatch.setenv(cctv.ENV, str(mine))
    assert reference.configured(demo, cctv.ENV, "cctv") == reference.Configured(cctv.ENV, mine)
    monkeypatch.delenv(cctv.ENV)
    path = reference.configured(demo, cctv.ENV, "cctv").path
    original = path.read_bytes()
    path.unlink()
    again = reference.configured(demo, cctv.ENV, "cctv")
    assert again.path.read_bytes() == original  # the same seed writes the same cameras


def test_real_data_uses_no_demo_file(demo_db, tmp_path, police_uk_files, monkeypatch):
    for env in SETTINGS.values():
        monkeypatch.delenv(env, raising=False)
    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, copy)
    con = store.connect(copy)
    try:
        ingest(con, "police_uk", police_uk_files, boundaries=WARDS_FILE)  # replaces the demo data
        for kind, env in SETTINGS.items():
            assert reference.configured(con, env, kind) == reference.Configured(env, None)
    finally:
        con.close()

"""CCTV on the hotspot maps page in AppTest: the demo's synthetic cameras on the Gi* map and the
ward drill-down, coverage figures that match the plain package, a camera file of one's own,
a file that cannot be used, and none configured."""
from __future__ import annotations

import json
from datetime import date

import pytest

from cdp import cctv, maps, reference, store
from cdp.filters import Filters

PAGE = "pages/maps.py"
LAST_12_MONTHS = Filters(start=date(2024, 4, 1), end=date(2025, 3, 1))


@pytest.fixture
def demo(demo_db, monkeypatch):
    monkeypatch.delenv(cctv.ENV, raising=False)
    con = store.connect(demo_db)
    yield con
    con.close()


def cctv_section(at):
    """`at` with the CCTV coverage tab under the maps open."""
    at.session_state["maps_section"] = "CCTV coverage"
    return at.run()


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_cameras_and_their_coverage_of_the_hot_spots(app_test, demo):
    at = app_test(PAGE)
    at.session_state["maps_section"] = "Hot spots (Gi*)"
    specs = [json.loads(c.proto.spec) for c in at.run().get("plotly_chart")]
    gi = next(s for s in specs if any(t.get("type") == "heatmap" for t in s["data"]))
    assert [t.get("name") for t in gi["data"]][-2:] == ["Camera view", "CCTV camera"]
    cameras = cctv.placed(demo, cctv.load_cameras(reference.configured(demo, cctv.ENV, "cctv").path))
    result = cctv.hotspot_coverage(demo, LAST_12_MONTHS, "asb", maps.gi_star(demo, LAST_12_MONTHS, "asb"),
                                   cameras, maps.CELL_SIZE_M)
    shown = metrics(cctv_section(at))
    assert shown["Cameras"] == f"{len(cameras):,}"
    assert shown["Hot spot cells a camera sees"] == f"{result['hot_cell_share']:.0%}"
    assert shown["ASB incidents in a camera's view"] == f"{result['incident_share']:.0%}"
    uncovered = next(d.value for d in at.dataframe if "nearest_camera" in d.value.columns)
    assert len(uncovered) == len(result["uncovered"]) > 0
    assert uncovered["incidents"].is_monotonic_decreasing
    assert any("Synthetic demo camera locations" in c.value for c in at.caption)
    # The ward drill-down draws the ward's cameras too.
    at.selectbox(key="maps_ward").set_value("E05012277").run()
    density = next(s for s in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
                   if any(t.get("type") == "contour" for t in s["data"]))
    assert "CCTV camera" in [t.get("name") for t in density["data"]]


def test_a_camera_file_of_ones_own_and_one_that_cannot_be_used(app_test, tmp_path, monkeypatch):
    path = tmp_path / "cameras.csv"
    path.write_text("camera_id,name,latitude,longitude,view_radius_m\n"
                    "C1,Old Market Square,52.9530,-1.1500,200\n", encoding="utf-8")
    monkeypatch.setenv(cctv.ENV, str(path))
    at = cctv_section(app_test(PAGE))
    assert metrics(at)["Cameras"] == "1"
    assert any("Camera locations from" in c.value and "cameras.csv" in c.value for c in at.caption)
    path.write_text("camera_id,name,latitude,longitude\nC1,Somewhere,48.85,2.35\n", encoding="utf-8")
    at = cctv_section(app_test(PAGE))
    assert any(f"{path}, line 2: latitude 48.85, longitude 2.35 lie outside Great Britain" in e.value.replace("\\", "")
               for e in at.error)  # shown markdown-escaped


def test_no_camera_file_says_how_to_supply_one(police_uk_store, app_test, monkeypatch):
    monkeypatch.setenv("CDP_STORE", police_uk_store)
    monkeypatch.delenv(cctv.ENV, raising=False)
    at = cctv_section(app_test(PAGE))
    assert any("No CCTV camera file is configured" in i.value and "CDP_CCTV" in i.value for i in at.info)
    assert "Cameras" not in metrics(at)

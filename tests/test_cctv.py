"""CCTV cameras: the file in both coordinate systems, coverage of cells, points and hot spots on
hand-checkable geometry, the map overlay, bad input."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from cdp import cctv, geography
from cdp.reference import ReferenceFileError

CELL = 250.0


def write(tmp_path, lines, name="cctv.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cameras_at(*points) -> pd.DataFrame:
    """Cameras at (easting, northing, radius)."""
    return pd.DataFrame([{"camera_id": f"C{i}", "name": f"Camera {i}", "easting": x, "northing": y,
                          "view_radius_m": r, "longitude": 0.0, "latitude": 0.0}
                         for i, (x, y, r) in enumerate(points, start=1)])


def test_both_coordinate_systems_and_the_default_radius(tmp_path):
    east, north = geography.to_bng([-1.1505], [52.9536])
    lines = ["camera_id,name,latitude,longitude,easting,northing,view_radius_m",
             "NCC-1,Old Market Square,52.9536,-1.1505,,,120",
             f"NCC-2,,,,{east[0] + 10:.0f},{north[0]:.0f},",
             f"NCC-3,Both pairs,52.9536,-1.1505,{east[0] + 20:.0f},{north[0]:.0f},80"]
    cameras = cctv.load_cameras(write(tmp_path, lines))
    assert cameras["camera_id"].tolist() == ["NCC-1", "NCC-2", "NCC-3"]
    assert cameras["name"].tolist() == ["Old Market Square", "NCC-2", "Both pairs"]  # blank name: the id
    assert cameras["view_radius_m"].tolist() == [120.0, cctv.DEFAULT_RADIUS_M, 80.0]
    assert cameras.loc[0, "easting"] == pytest.approx(east[0], abs=0.01)
    assert cameras.loc[1, "latitude"] == pytest.approx(52.9536, abs=1e-3)  # derived from the grid
    assert cameras["line"].tolist() == [2, 3, 4]


HEADER = "camera_id,name,latitude,longitude,view_radius_m"
BAD = {
    "no coordinates": (["camera_id,name", "C1,A"], 1, "no coordinate columns"),
    "no id column": (["name,latitude,longitude", "A,52.95,-1.15"], 1, "no camera_id column"),
    "empty id": ([HEADER, ",A,52.95,-1.15,"], 2, "the camera_id is empty"),
    "id twice": ([HEADER, "C1,A,52.95,-1.15,", "C1,B,52.96,-1.15,"], 3, "camera C1 appears again (first on line 2)"),
    "no location": ([HEADER, "C1,A,,,"], 2, "camera C1 has no location"),
    "half a pair": ([HEADER, "C1,A,52.95,,"], 2, "longitude is empty"),
    "not a number": ([HEADER, "C1,A,north,-1.15,"], 2, "latitude 'north' is not a number"),
    "outside Great Britain": ([HEADER, "C1,A,48.85,2.35,"], 2, "lie outside Great Britain"),
    "swapped latitude and longitude": ([HEADER, "C1,A,-1.15,52.95,"], 2, "lie outside Great Britain"),
    "radius too large": ([HEADER, "C1,A,52.95,-1.15,5000"], 2, "view_radius_m 5000 must be above 0"),
    "radius zero": ([HEADER, "C1,A,52.95,-1.15,0"], 2, "must be above 0"),
    "pairs disagree": (["camera_id,latitude,longitude,easting,northing", "C1,52.95,-1.15,457000,340000"], 2,
                       "m apart"),
    "no rows": ([HEADER], None, "the file has a header but no cameras"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_with_file_line_and_reason(tmp_path, case):
    lines, line, reason = BAD[case]
    path = write(tmp_path, lines)
    with pytest.raises(ReferenceFileError) as raised:
        cctv.load_cameras(path)
    assert raised.value.path == str(path) and raised.value.line == line and reason in raised.value.reason, \
        str(raised.value)


def test_cells_a_camera_reaches():
    # A camera 50 m left of cell (0, 0) with a 60 m radius reaches it; one 50 m away with 40 m does not;
    # a camera diagonally 100 m from a corner (70.7 m each way) with a 100 m radius reaches it.
    cells = pd.DataFrame({"col": [0, 4, 8], "row": [0, 0, 0]})
    cameras = cameras_at((-50, 125, 60), (4 * CELL - 50, 125, 40),
                         (8 * CELL - 100 / math.sqrt(2), -100 / math.sqrt(2), 100.01))
    assert cctv.cells_covered(cells, cameras, CELL).tolist() == [True, False, True]
    assert cctv.cells_covered(cells, cameras.iloc[:0], CELL).tolist() == [False, False, False]


def test_points_and_area_covered():
    cameras = cameras_at((125, 125, 50))
    covered = cctv.points_covered([125, 170, 176, 400], [125, 125, 125, 400], cameras)
    assert covered.tolist() == [True, True, False, False]
    # A 50 m disc wholly inside one 250 m cell covers pi 50^2 / 250^2 of it (the disc is a
    # 64-sided polygon, a hair smaller).
    share = cctv.covered_area_share(pd.DataFrame({"col": [0], "row": [0]}), cameras, CELL)
    assert share == pytest.approx(math.pi * 50 ** 2 / CELL ** 2, rel=2e-3)
    two = cctv.covered_area_share(pd.DataFrame({"col": [0, 10], "row": [0, 0]}), cameras, CELL)
    assert two == pytest.approx(share / 2, rel=1e-9)


def test_hot_spots_without_coverage_are_grouped_and_ranked(wards):
    # Two groups of hot cells in Nottingham: three touching cells (one corner-to-corner) and a lone
    # cell; a camera covers one cell of the first group.
    base_col, base_row = 457_000 // 250, 340_000 // 250
    hot = pd.DataFrame({"col": [base_col, base_col + 1, base_col + 2, base_col + 1, base_col + 20],
                        "row": [base_row, base_row, base_row + 1, base_row + 5, base_row + 20],
                        "count": [10, 20, 5, 7, 3], "hotspot": "hot spot"})
    cameras = cameras_at(((base_col + 1) * CELL + 125, (base_row + 5) * CELL + 125, 50))
    covered = cctv.cells_covered(hot, cameras, CELL)
    assert covered.tolist() == [False, False, False, True, False]
    spots = cctv.uncovered_hotspots(hot, covered, cameras, wards, CELL)
    assert spots["cells"].tolist() == [3, 1] and spots["incidents"].tolist() == [35, 3]
    assert spots["hotspot"].tolist() == [1, 2]
    assert spots["nearest_camera"].tolist() == ["Camera 1", "Camera 1"]
    assert spots["area_km2"].iat[0] == pytest.approx(3 * 0.0625)
    assert spots["ward"].iat[0] == "St. Ann's" and pd.isna(spots["ward"].iat[1])  # 5 km away: outside the city
    gi = pd.concat([hot, pd.DataFrame({"col": [base_col + 40], "row": [base_row], "count": [4],
                                       "hotspot": ["not significant"]})], ignore_index=True)
    points = pd.DataFrame({"easting": [(base_col + 1) * CELL + 125, base_col * CELL + 10, (base_col + 40) * CELL],
                           "northing": [(base_row + 5) * CELL + 125, base_row * CELL + 10, base_row * CELL],
                           "count": [7, 10, 4]})
    result = cctv.coverage(points, gi, cameras, wards, CELL)
    assert (result["hot_cells"], result["hot_cells_covered"]) == (5, 1)
    assert (result["incidents"], result["incidents_covered"]) == (21, 7)
    assert (result["hot_incidents"], result["hot_incidents_covered"]) == (17, 7)
    assert result["incident_share"] == pytest.approx(7 / 21)


def test_cameras_drawn_with_names_as_text():
    cameras = cameras_at((100, 100, 80))
    cameras.loc[0, "name"] = "<b>Market</b> & <a href='x'>Square</a>"
    fig = cctv.add_cameras(go.Figure(), cameras)
    names = [t.name for t in fig.data]
    assert names == ["Camera view", "CCTV camera"]
    marker = fig.data[1]
    assert "&lt;b&gt;Market&lt;/b&gt; &amp; &lt;a href='x'&gt;" in marker.customdata[0][0]
    ring = np.asarray(fig.data[0].x)           # each disc's ring, then a gap (NaN)
    assert np.isnan(ring[-1]) and np.isnan(ring).sum() == 1
    assert np.nanmax(ring) - np.nanmin(ring) == pytest.approx(160, abs=0.5)

"""Implausible values are refused with the file, the line and the reason: dates after the current
month or before 1990, coordinate pairs that disagree, degrees in the grid columns (and grid metres
or swapped values in the degree columns). One row dated 2099 must not move every view to 2099."""
from __future__ import annotations

import pandas as pd
import pytest

from cdp import geography
from cdp.ingest import ImportFailed, ingest
from cdp.ingest.common import COORDINATES_AGREE_M, current_month
from conftest import WARDS_FILE, police_uk_month, store_digest

# Old Market Square, Nottingham, in both systems.
LON, LAT = -1.14959, 52.95331
(EAST,), (NORTH,) = geography.to_bng([LON], [LAT])
HEADER = ("incident_id,source,occurred_at,category,longitude,latitude,easting,northing,location,"
          "victim_id")


def row(i, when="2024-03-09T23:40", lon=LON, lat=LAT, east=EAST, north=NORTH) -> str:
    cell = lambda v: "" if v is None else (f"{v:.6f}" if isinstance(v, float) and abs(v) < 1000 else
                                           f"{v:.1f}" if isinstance(v, float) else str(v))
    return f"P{i},police,{when},Burglary,{cell(lon)},{cell(lat)},{cell(east)},{cell(north)},Market Square,V{i}"


@pytest.fixture
def loaded(db, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    return db


def problems(con, tmp_path, rows: list[str], name="extract.csv") -> list:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    before = store_digest(con)
    with pytest.raises(ImportFailed) as caught:
        ingest(con, "partner", [path])
    assert store_digest(con) == before
    assert all(str(path) == p.file for p in caught.value.problems)
    return [(p.line, p.reason) for p in caught.value.problems]


def next_month() -> str:
    return f"{current_month() + pd.offsets.MonthBegin(1):%Y-%m}"


def test_dates_after_this_month_or_before_1990_are_refused(loaded, tmp_path):
    latest = loaded.execute("SELECT max(month) FROM incidents").fetchall()
    found = problems(loaded, tmp_path, [row(1), row(2, when="2099-01-01"), row(3, when=f"{next_month()}-02 10:00"),
                                        row(4, when="1989-12"), row(5, when=f"{current_month():%Y-%m}-01")])
    assert [line for line, _ in found] == [3, 4, 5]
    assert found[0][1] == f"occurred_at '2099-01-01' is in the future (after {current_month():%B %Y})"
    assert found[2][1] == "occurred_at '1989-12' is before 1990: not a plausible date for these records"
    assert loaded.execute("SELECT max(month) FROM incidents").fetchall() == latest


def test_a_police_uk_month_in_the_future_is_refused(loaded, tmp_path, county):
    frame = police_uk_month(county, "2024-04", 200, seed=3)
    frame.loc[50, "Month"] = next_month()
    path = tmp_path / "2024-04-nottinghamshire-street.csv"
    frame.to_csv(path, index=False)
    before = store_digest(loaded)
    with pytest.raises(ImportFailed) as caught:
        ingest(loaded, "police_uk", [path])
    (problem,) = caught.value.problems
    assert (problem.line, problem.reason) == (52, f"Month '{next_month()}' is in the future (after "
                                                  f"{current_month():%B %Y})")
    assert store_digest(loaded) == before


def test_coordinate_pairs_that_disagree_are_refused(loaded, tmp_path):
    near = row(1, east=EAST + 60, north=NORTH - 50)          # 78 m: a rounded grid reference
    far = row(2, east=EAST + 600, north=NORTH)               # 600 m apart
    found = problems(loaded, tmp_path, [near, far])
    assert found == [(3, f"longitude/latitude and easting/northing are 600 m apart (more than "
                         f"{COORDINATES_AGREE_M} m): give one pair, or correct the wrong one")]


def test_degrees_in_the_grid_columns_are_named_as_such(loaded, tmp_path):
    found = problems(loaded, tmp_path, [row(1, lon=None, lat=None, east=-1.15, north=52.95),
                                        row(2, lon=None, lat=None, east=0.12, north=52.2)])  # east of Greenwich
    assert [line for line, _ in found] == [2, 3]
    assert found[0][1] == ("easting/northing (-1.150000, 52.950000) look like longitude/latitude in degrees, "
                           "not grid metres: put them in the longitude and latitude columns")
    assert "look like longitude/latitude" in found[1][1]


def test_grid_metres_or_swapped_values_in_the_degree_columns(loaded, tmp_path):
    found = problems(loaded, tmp_path, [row(1, lon=float(EAST), lat=float(NORTH), east=None, north=None),
                                        row(2, lon=LAT, lat=LON, east=None, north=None)])
    assert found[0][1].endswith("look like British National Grid metres, not degrees: put them in the "
                                "easting and northing columns")
    assert found[1][1].startswith("longitude/latitude (52.953310, -1.149590) look swapped")


def test_a_nul_byte_in_a_partner_row(loaded, tmp_path):
    found = problems(loaded, tmp_path, [row(1), row(2).replace("Market", "Mar\x00ket")])
    assert found == [(3, "contains a NUL byte (\\0): the file is damaged or not plain text")]


def test_good_rows_with_both_pairs_load(db, tmp_path):
    path = tmp_path / "extract.csv"
    path.write_text(HEADER + "\n" + row(1, east=EAST + 60, north=NORTH - 50) + "\n")
    result = ingest(db, "partner", [path], boundaries=WARDS_FILE)
    assert result.rows_loaded == 1 and result.outside_area == 0

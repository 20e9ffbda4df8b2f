"""Concentration, the analysis grid, vectorised binning and Getis-Ord Gi* on hand-checkable grids."""
from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cdp import hotspots
from cdp.hotspots import METHOD_NOTE, concentration, getis_ord, grid, grid_counts

WARDS_FILE = Path(__file__).resolve().parents[2] / "shared" / "geo" / "nottingham_wards.gpkg"


def bng_area(*polygons) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=list(polygons), crs="EPSG:27700")


# --- concentration -------------------------------------------------------------------------------

def test_concentration_one_dominant_place():
    # 20 places: ceil(0.05 * 20) = 1 top place holding 10 of 10 + 19 = 29 incidents.
    result = concentration(pd.Series([10] + [1] * 19))
    assert result == {"share": pytest.approx(10 / 29), "n_places": 20, "n_top_places": 1,
                      "incidents": 29, "top_incidents": 10}


def test_concentration_rounds_the_number_of_top_places_up():
    # 21 places: 0.05 * 21 = 1.05 -> 2 top places: 10 + 5 of 10 + 5 + 19 = 34.
    result = concentration(pd.Series([1] * 19 + [5, 10]))
    assert (result["n_top_places"], result["share"]) == (2, pytest.approx(15 / 34))
    # 0.07 * 100 is 7.000000000000001 in floating point: still 7 top places, not 8.
    assert concentration(pd.Series(range(1, 101)), top_share=0.07)["n_top_places"] == 7


def test_concentration_ignores_places_without_incidents():
    # Only 2 places have incidents: ceil(0.1) = 1 top place: 5 of 8.
    result = concentration(pd.Series([5, 0, 0, 3, None]))
    assert (result["n_places"], result["share"]) == (2, pytest.approx(5 / 8))
    assert concentration(pd.Series([0, 0]))["share"] is None


# --- grid and binning ----------------------------------------------------------------------------

def test_grid_covers_area_with_aligned_cells():
    # 100..600 x 100..300 m: columns 0..2 (0-750 m), rows 0..1 (0-500 m) -> 6 cells.
    cells = grid(bng_area(shapely.box(100, 100, 600, 300)))
    assert cells.crs.to_epsg() == 27700
    assert sorted(cells["cell_id"]) == sorted(["E0N0", "E250N0", "E500N0", "E0N250", "E250N250", "E500N250"])
    assert cells.geometry.area.tolist() == [62500.0] * 6


def test_grid_drops_cells_that_only_touch_the_area():
    # An L of two 250 m arms: the cell in the crook (250-500, 250-500) only touches it.
    l_shape = shapely.union(shapely.box(0, 0, 250, 500), shapely.box(0, 0, 500, 250))
    assert sorted(grid(bng_area(l_shape))["cell_id"]) == ["E0N0", "E0N250", "E250N0"]


def test_grid_reprojects_and_needs_a_crs():
    # Nottingham's real wards (WGS84): the grid's cells cover the whole city.
    wards = gpd.read_file(WARDS_FILE)
    cells = grid(wards, cell_size_m=500)
    city = wards.to_crs(27700).union_all()
    assert cells.union_all().buffer(1e-6).contains(city)
    assert cells["cell_id"].is_unique
    with pytest.raises(ValueError, match="CRS"):
        grid(gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]))


def test_grid_counts_bins_points():
    cells = grid(bng_area(shapely.box(0, 0, 500, 500)))  # 2 x 2 cells
    east = [10, 249.9, 250, 260, 600, np.nan]
    north = [10, 10, 10, 499, 600, 10]
    counts = grid_counts(cells, east, north).set_axis(cells["cell_id"])
    # (10,10) and (249.9,10) -> E0N0; (250,10) on the edge -> the cell to the east, E250N0;
    # (260,499) -> E250N250; (600,600) is outside the grid and the NaN is ignored.
    assert counts.to_dict() == {"E0N0": 2, "E250N0": 1, "E0N250": 0, "E250N250": 1}
    assert counts.name == "count"


# --- Getis-Ord Gi* -------------------------------------------------------------------------------

def five_by_five() -> gpd.GeoDataFrame:
    """25 cells of 250 m; 10 incidents in each cell of the 3 x 3 block in the south-west corner."""
    cells = grid(bng_area(shapely.box(0, 0, 1250, 1250)))
    cells["count"] = np.where((cells["col"] < 3) & (cells["row"] < 3), 10, 0)
    return cells


def test_getis_ord_finds_the_hot_block():
    # n = 25, mean 90/25 = 3.6, S = sqrt(900/25 - 3.6**2) = 4.8. Gi* with binary weights
    # including the cell itself: z = (sum_w x - 3.6 k) / (4.8 sqrt((25 k - k**2) / 24)), k cells.
    #   centre of the block (1,1): k = 9, sum 90 -> 57.6 / (4.8 sqrt(6)) = 4.899
    #   block corner (0,0):        k = 4, sum 40 -> 25.6 / (4.8 sqrt(3.5)) = 2.851
    #   far corner (4,4):          k = 4, sum 0  -> -14.4 / 8.980 = -1.604
    # Permutation p (the cell fixed, neighbours drawn from the other 24 cells, 8 or 9 of them 10s):
    #   (1,1): all 8 neighbours 10 has chance 1/C(24,8), never seen: p = 2 * 1/1000 = 0.002
    #   (0,1): all 5 neighbours 10: C(8,5)/C(24,5) = 56/42504 = 0.0013 -> p about 0.005
    #   (0,0): all 3 neighbours 10: C(8,3)/C(24,3) = 56/2024 = 0.028 -> two-sided p about 0.055
    #   (4,4): all 3 neighbours 0: C(15,3)/C(24,3) = 455/2024 = 0.225 -> p about 0.45
    result = getis_ord(five_by_five()).set_index(["col", "row"])
    assert result.loc[(1, 1), "z"] == pytest.approx(57.6 / (4.8 * math.sqrt(6)))
    assert result.loc[(0, 0), "z"] == pytest.approx(25.6 / (4.8 * math.sqrt(3.5)))
    assert result.loc[(4, 4), "z"] == pytest.approx(-14.4 / (4.8 * math.sqrt(3.5)))
    assert result.loc[(1, 1), "p"] == pytest.approx(0.002)
    assert result.loc[(0, 1), "p"] < 0.02 and result.loc[(1, 0), "p"] < 0.02
    assert result.loc[(0, 0), "p"] == pytest.approx(2 * 56 / 2024, abs=0.02)
    assert result.loc[(4, 4), "p"] == pytest.approx(2 * 455 / 2024, abs=0.06)
    hot = set(result.index[result["hotspot"] == "hot spot"])
    assert {(1, 1), (0, 1), (1, 0)} <= hot
    assert all(c < 3 and r < 3 for c, r in hot)
    # Zeros among zeros are not cold spots: with 16 of 25 cells empty, an empty patch is likely.
    assert result.loc[(4, 4), "hotspot"] == "not significant"
    assert "cold spot" not in set(result["hotspot"])


def test_getis_ord_is_reproducible_and_keeps_the_input():
    cells = five_by_five()
    first, second = getis_ord(cells), getis_ord(cells)
    assert first["p"].tolist() == second["p"].tolist()
    assert "z" not in cells.columns


def test_a_grid_s_weights_are_built_once_and_left_as_they_were(monkeypatch):
    """getis_ord reuses a grid's queen weights (the same cells, the same weights) and gives what
    weights built afresh give; G_Local works on its own copy, so the kept weights never change."""
    cells = five_by_five()
    first = getis_ord(cells)
    kept = hotspots.queen_weights(cells)
    assert hotspots.queen_weights(cells.copy()) is kept
    assert kept.transform == "O" and kept.sparse.diagonal().sum() == 0 and kept.n == 25
    monkeypatch.setattr(hotspots, "_WEIGHTS", {})
    fresh = getis_ord(cells)
    assert hotspots.queen_weights(cells) is not kept
    pd.testing.assert_frame_equal(first, fresh, check_exact=True)
    moved = cells.copy()
    moved["geometry"] = moved.translate(250, 0)  # another grid: other weights
    assert hotspots.queen_weights(moved) is not hotspots.queen_weights(cells)


def test_getis_ord_flat_counts_and_islands():
    flat = grid(bng_area(shapely.box(0, 0, 750, 750)))
    flat["count"] = 4
    assert set(getis_ord(flat)["hotspot"]) == {"not significant"}
    # A 2 x 2 block and a lone cell far away: the lone cell has no neighbours and is not tested.
    cells = grid(bng_area(shapely.box(0, 0, 500, 500), shapely.box(2000, 2000, 2250, 2250)))
    cells["count"] = [5, 0, 0, 0, 9]
    lone = getis_ord(cells).set_index("cell_id").loc["E2000N2000"]
    assert np.isnan(lone["p"]) and lone["hotspot"] == "not significant"


def test_method_note():
    assert METHOD_NOTE.startswith("Getis-Ord Gi* on 250 m grid cells, queen contiguity")
    assert "999" in METHOD_NOTE and "two-sided" in METHOD_NOTE

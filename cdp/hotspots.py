"""Where crime concentrates: concentration at the top places, grid counts and Getis-Ord Gi*."""
from __future__ import annotations

import hashlib
import math
import threading
import warnings

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.weights import W, Queen

BNG = "EPSG:27700"
HOTSPOT_CLASSES = ("hot spot", "cold spot", "not significant")


def method_note(cell_size_m: float = 250, permutations: int = 999, alpha: float = 0.05) -> str:
    """The Gi* method in one sentence, for the page to show beside the map."""
    return (f"Getis-Ord Gi* on {cell_size_m:g} m grid cells, queen contiguity (each cell with its "
            f"8 neighbours and itself, binary weights), {permutations} conditional permutations: a "
            f"hot (cold) spot has a positive (negative) z-score and a two-sided pseudo p-value "
            f"< {alpha:g}; cells with no neighbours are not tested; no correction for testing "
            f"many cells.")


METHOD_NOTE = method_note()


def concentration(counts_by_place: pd.Series, top_share: float = 0.05) -> dict:
    """Share of incidents at the top `top_share` of places (the law of crime concentration).

    Places are those with at least one incident; the top places are the ceil(top_share × n_places)
    with the most incidents. Returns share (None when there are no incidents), n_places,
    n_top_places, incidents, top_incidents.
    """
    counts = pd.to_numeric(counts_by_place, errors="coerce").dropna()
    counts = counts[counts > 0].sort_values(ascending=False)
    n_places = len(counts)
    n_top = math.ceil(round(top_share * n_places, 9))
    incidents, top = float(counts.sum()), float(counts.iloc[:n_top].sum())
    return {"share": top / incidents if incidents else None, "n_places": n_places,
            "n_top_places": n_top, "incidents": int(incidents) if incidents.is_integer() else incidents,
            "top_incidents": int(top) if top.is_integer() else top}


def grid(area: gpd.GeoDataFrame, cell_size_m: float = 250) -> gpd.GeoDataFrame:
    """Square cells of `cell_size_m` in EPSG:27700 covering `area` (polygons in any CRS).

    Cells are aligned to multiples of the cell size (so grids of different areas line up) and kept
    when they share more than a boundary with the area. Columns: cell_id ("E<easting>N<northing>" of
    the south-west corner), col, row (the corner divided by the cell size), geometry.
    """
    if area.crs is None:
        raise ValueError("the area has no CRS: set one (e.g. area.set_crs('EPSG:4326'))")
    shape = area.to_crs(BNG).geometry.union_all()
    minx, miny, maxx, maxy = shape.bounds
    cols = np.arange(math.floor(minx / cell_size_m), math.ceil(maxx / cell_size_m))
    rows = np.arange(math.floor(miny / cell_size_m), math.ceil(maxy / cell_size_m))
    col, row = (a.ravel() for a in np.meshgrid(cols, rows))
    x0, y0 = col * cell_size_m, row * cell_size_m
    cells = shapely.box(x0, y0, x0 + cell_size_m, y0 + cell_size_m)
    shapely.prepare(shape)
    keep = shapely.intersects(shape, cells) & ~shapely.touches(shape, cells)
    result = gpd.GeoDataFrame({
        "cell_id": [f"E{x:.0f}N{y:.0f}" for x, y in zip(x0[keep], y0[keep])],
        "col": col[keep], "row": row[keep]}, geometry=cells[keep], crs=BNG)
    result.attrs["cell_size_m"] = cell_size_m
    return result


def grid_counts(grid_gdf: gpd.GeoDataFrame, easting, northing) -> pd.Series:
    """Points (British National Grid metres) per cell of a `grid`, indexed like the grid.

    Points are binned by integer division (a point on a cell edge goes to the cell to its east or
    north); points outside the grid or without coordinates are ignored.
    """
    size = grid_gdf.attrs.get("cell_size_m")
    if size is None:
        bounds = grid_gdf.geometry.iloc[0].bounds
        size = bounds[2] - bounds[0]
    east = pd.to_numeric(pd.Series(np.asarray(easting, dtype=float)), errors="coerce")
    north = pd.to_numeric(pd.Series(np.asarray(northing, dtype=float)), errors="coerce")
    ok = east.notna() & north.notna()
    points = pd.MultiIndex.from_arrays([np.floor(east[ok] / size).astype(np.int64),
                                        np.floor(north[ok] / size).astype(np.int64)])
    per_cell = pd.Series(1, index=points).groupby(level=[0, 1]).sum()
    cells = pd.MultiIndex.from_arrays([grid_gdf["col"].astype(np.int64), grid_gdf["row"].astype(np.int64)])
    return pd.Series(per_cell.reindex(cells, fill_value=0).to_numpy(), index=grid_gdf.index, name="count")


_WEIGHTS: dict[tuple, W] = {}
_WEIGHTS_LOCK = threading.Lock()


def queen_weights(cells: gpd.GeoDataFrame) -> W:
    """Binary queen contiguity of `cells` (libpysal, by position), built once per set of cell
    geometries and then reused: a grid's weights never change, and building them was a third of a
    Gi* test at a million incidents. Treat them as read-only (esda's G_Local copies them to put
    each cell in its own neighbourhood)."""
    key = (len(cells), hashlib.sha1(b"".join(shapely.to_wkb(cells.geometry.values))).hexdigest())
    with _WEIGHTS_LOCK:
        if key in _WEIGHTS:
            return _WEIGHTS[key]
    weights = Queen.from_dataframe(cells, use_index=False, silence_warnings=True)
    with _WEIGHTS_LOCK:
        if len(_WEIGHTS) >= 16:
            _WEIGHTS.pop(next(iter(_WEIGHTS)))
        _WEIGHTS[key] = weights
    return weights


def getis_ord(grid_gdf: gpd.GeoDataFrame, column: str = "count", alpha: float = 0.05,
              permutations: int = 999, seed: int | None = 12345) -> gpd.GeoDataFrame:
    """Getis-Ord Gi* hot and cold spots; returns a copy with z, p and hotspot.

    Gi* (esda.G_Local, star=True) with binary queen-contiguity weights (libpysal): z is the
    analytic Gi* z-score. p is a two-sided conditional-permutation pseudo p-value: twice
    (number of permuted Gi* at least as extreme as the observed, in the direction of z, + 1) /
    (permutations + 1), capped at 1, so p < 0.05 means the same as |z| > 1.96 does for a normal
    z-score. It is computed from esda's simulations rather than taken from esda's p_sim, which is
    one-sided and folds ties the wrong way (it calls every zero cell among zeros a significant cold
    spot). hotspot is "hot spot" (z > 0, p < alpha), "cold spot" (z < 0, p < alpha) or
    "not significant" (also for cells with no neighbours and when all counts are equal).
    See METHOD_NOTE.
    """
    result = grid_gdf.copy()
    y = pd.to_numeric(result[column], errors="coerce").fillna(0).to_numpy(float)
    result["z"], result["p"], result["hotspot"] = np.nan, np.nan, "not significant"
    if len(result) < 3 or np.all(y == y[0]):
        return result
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")  # disconnected components, esda's z_sim on islands
        weights = queen_weights(result)
        gi = esda.G_Local(y, weights, transform="B", permutations=permutations, star=True,
                          keep_simulations=True, seed=seed, n_jobs=1)
    observed = gi.Gs[:, None]
    higher = (gi.rGs >= observed - 1e-12).sum(axis=1)
    lower = (gi.rGs <= observed + 1e-12).sum(axis=1)
    z = np.asarray(gi.Zs, dtype=float)
    p = np.minimum(1.0, 2 * (np.where(z >= 0, higher, lower) + 1) / (permutations + 1))
    island = np.isin(np.arange(len(result)), weights.islands)
    result["z"], result["p"] = np.where(island, np.nan, z), np.where(island, np.nan, p)
    significant = result["p"].to_numpy() < alpha
    result["hotspot"] = np.select([significant & (z > 0), significant & (z < 0)],
                                  ["hot spot", "cold spot"], "not significant")
    return result

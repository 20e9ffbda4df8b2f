"""CCTV cameras and what they see: the camera file, the share of significant hot spot cells and of
incidents within a camera's view, and the hot spots no camera covers (evidence for the plan's
CCTV investment).

Camera file (CDP_CCTV)
----------------------
CSV, UTF-8 (a byte-order mark is allowed), a header row, one row per camera::

    camera_id,name,latitude,longitude,view_radius_m
    NCC-0001,Old Market Square (north),52.95330,-1.15040,120
    NCC-0002,Slab Square (south),52.95262,-1.14958,

- `camera_id`: the camera's identifier, unique;
- `name`: optional, what the control room calls it (the id when blank);
- where it is: `latitude` and `longitude` (WGS84), or `easting` and `northing` (British National
  Grid, EPSG:27700); when a row gives both pairs they must agree within 50 m;
- `view_radius_m`: optional, how far it sees in metres (above 0, at most 1,000); blank: 100.
Other columns are ignored. Anything else is refused with the file, the line and the reason.

Coverage: a camera covers the disc of its view radius. A grid cell is covered when any camera's
disc reaches it; the covered share of hot spot area is the part of the hot cells inside any disc;
an incident is covered when its point lies inside a disc.
"""
from __future__ import annotations

import math
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree

from . import filters as flt
from . import geography
from .markup import chart
from .reference import ReferenceFileError, first_time, number, read_rows

ENV = "CDP_CCTV"
DEFAULT_RADIUS_M = 100.0
MAX_RADIUS_M = 1_000.0
AGREE_M = 50.0
CAMERA_COLOUR = "#1b1b1b"
COVERAGE_COLOUR = "rgba(30, 30, 30, 0.55)"


def _pair(path, line: int, row: dict, names: tuple[str, str], bounds) -> tuple[float, float] | None:
    a, b = (row.get(n, "") for n in names)
    if not a and not b:
        return None
    if not a or not b:
        missing = names[0] if not a else names[1]
        raise ReferenceFileError(path, line, f"{missing} is empty (give both {names[0]} and {names[1]})")
    x, y = number(path, line, names[0], a), number(path, line, names[1], b)
    (x_low, x_high), (y_low, y_high) = bounds
    if not (x_low <= x <= x_high and y_low <= y <= y_high):
        raise ReferenceFileError(path, line, f"{names[0]} {a}, {names[1]} {b} lie outside Great Britain")
    return x, y


def load_cameras(path: str | Path) -> pd.DataFrame:
    """The camera file (format in the module docstring).

    Columns: line, camera_id, name, longitude, latitude, easting, northing, view_radius_m.
    ReferenceFileError names the file, the line and the reason.
    """
    rows = read_rows(path, ("camera_id",), what="cameras")
    header = set(rows[0][1])
    if not ({"latitude", "longitude"} <= header or {"easting", "northing"} <= header):
        raise ReferenceFileError(path, 1, "no coordinate columns: give latitude and longitude, or "
                                          "easting and northing")
    records, seen = [], {}
    for line, row in rows:
        key = row["camera_id"]
        if not key:
            raise ReferenceFileError(path, line, "the camera_id is empty")
        first_time(path, line, key, seen, f"camera {key}")
        # (longitude, latitude) read as (x, y) from the columns latitude, longitude.
        lat_lon = _pair(path, line, row, ("latitude", "longitude"), (geography.GB_LAT, geography.GB_LON))
        grid = _pair(path, line, row, ("easting", "northing"), (geography.GB_EASTING, geography.GB_NORTHING))
        if lat_lon is None and grid is None:
            raise ReferenceFileError(path, line, f"camera {key} has no location: give latitude and "
                                                 "longitude, or easting and northing")
        if lat_lon is not None:
            lat, lon = lat_lon
            east, north = (float(v[0]) for v in geography.to_bng([lon], [lat]))
            if grid is not None and math.dist(grid, (east, north)) > AGREE_M:
                raise ReferenceFileError(path, line, f"the latitude and longitude and the easting and "
                                                     f"northing of camera {key} are "
                                                     f"{math.dist(grid, (east, north)):,.0f} m apart")
        else:
            east, north = grid
            lon, lat = (float(v[0]) for v in geography.from_bng([east], [north]))
        radius = DEFAULT_RADIUS_M
        if row.get("view_radius_m", ""):
            radius = number(path, line, "view_radius_m", row["view_radius_m"])
            if not 0 < radius <= MAX_RADIUS_M:
                raise ReferenceFileError(path, line, f"view_radius_m {row['view_radius_m']} must be above 0 "
                                                     f"and at most {MAX_RADIUS_M:,.0f} metres")
        records.append({"line": line, "camera_id": key, "name": row.get("name", "") or key,
                        "longitude": lon, "latitude": lat, "easting": east, "northing": north,
                        "view_radius_m": radius})
    return pd.DataFrame.from_records(records)


def in_area(cameras: pd.DataFrame, wards: gpd.GeoDataFrame | None) -> pd.Series:
    """Which cameras stand inside the loaded wards."""
    if wards is None or cameras.empty:
        return pd.Series(False, index=cameras.index)
    codes = geography.assign_wards(cameras["longitude"].to_numpy(), cameras["latitude"].to_numpy(), wards)
    return pd.Series([c is not None for c in codes], index=cameras.index)


# --- coverage ----------------------------------------------------------------------------------

def points_covered(easting, northing, cameras: pd.DataFrame) -> np.ndarray:
    """For each point: inside any camera's view disc."""
    east, north = np.asarray(easting, float), np.asarray(northing, float)
    covered = np.zeros(len(east), bool)
    if not len(east) or cameras.empty:
        return covered
    tree = cKDTree(np.column_stack([east, north]))
    for x, y, radius in cameras[["easting", "northing", "view_radius_m"]].itertuples(index=False):
        covered[tree.query_ball_point([x, y], radius)] = True
    return covered


def cells_covered(cells: pd.DataFrame, cameras: pd.DataFrame, cell_size_m: float) -> np.ndarray:
    """For each grid cell (col, row: floor(metres / cell size)): whether any camera's disc reaches it."""
    if cells.empty or cameras.empty:
        return np.zeros(len(cells), bool)
    x0 = cells["col"].to_numpy(float)[:, None] * cell_size_m
    y0 = cells["row"].to_numpy(float)[:, None] * cell_size_m
    cx, cy = cameras["easting"].to_numpy(float)[None, :], cameras["northing"].to_numpy(float)[None, :]
    dx = np.clip(cx, x0, x0 + cell_size_m) - cx      # from the camera to the nearest point of the cell
    dy = np.clip(cy, y0, y0 + cell_size_m) - cy
    return (np.hypot(dx, dy) <= cameras["view_radius_m"].to_numpy(float)[None, :]).any(axis=1)


def _discs(cameras: pd.DataFrame, quad_segs: int = 16):
    return shapely.buffer(shapely.points(cameras["easting"], cameras["northing"]),
                          cameras["view_radius_m"].to_numpy(float), quad_segs=quad_segs)


def covered_area_share(cells: pd.DataFrame, cameras: pd.DataFrame, cell_size_m: float) -> float | None:
    """The share of the cells' area inside any camera's disc (None without cells)."""
    if cells.empty:
        return None
    if cameras.empty:
        return 0.0
    x0 = cells["col"].to_numpy(float) * cell_size_m
    y0 = cells["row"].to_numpy(float) * cell_size_m
    area = shapely.union_all(shapely.box(x0, y0, x0 + cell_size_m, y0 + cell_size_m))
    seen = shapely.intersection(area, shapely.union_all(_discs(cameras)))
    return float(seen.area / area.area)


def uncovered_hotspots(hot: pd.DataFrame, covered: np.ndarray, cameras: pd.DataFrame,
                       wards: gpd.GeoDataFrame | None, cell_size_m: float) -> pd.DataFrame:
    """The hot spots no camera covers: groups of touching (sides or corners) hot cells no camera
    disc reaches, largest first.

    Columns: hotspot (1, 2, ...), cells, area_km2, incidents, ward (at its centre), latitude,
    longitude (its centre), nearest_camera, nearest_m (from the centre to that camera).
    """
    columns = ["hotspot", "cells", "area_km2", "incidents", "ward", "latitude", "longitude",
               "nearest_camera", "nearest_m"]
    left = hot[~covered]
    if left.empty:
        return pd.DataFrame(columns=columns)
    cols, rows = left["col"].to_numpy(int), left["row"].to_numpy(int)
    grid = np.zeros((rows.max() - rows.min() + 1, cols.max() - cols.min() + 1), bool)
    grid[rows - rows.min(), cols - cols.min()] = True
    labels, _ = ndimage.label(grid, structure=np.ones((3, 3), int))
    group = labels[rows - rows.min(), cols - cols.min()]
    frame = pd.DataFrame({"group": group, "x": (cols + 0.5) * cell_size_m, "y": (rows + 0.5) * cell_size_m,
                          "count": left["count"].to_numpy()})
    spots = frame.groupby("group").agg(cells=("x", "size"), x=("x", "mean"), y=("y", "mean"),
                                       incidents=("count", "sum")).reset_index(drop=True)
    lon, lat = geography.from_bng(spots["x"].to_numpy(), spots["y"].to_numpy())
    spots["longitude"], spots["latitude"] = lon, lat
    spots["ward"] = None
    if wards is not None:
        codes = geography.assign_wards(lon, lat, wards)
        spots["ward"] = pd.Series(codes).map(dict(zip(wards["ward_code"], wards["ward_name"]))).to_numpy()
    if cameras.empty:
        spots["nearest_camera"], spots["nearest_m"] = None, np.nan
    else:
        tree = cKDTree(cameras[["easting", "northing"]].to_numpy(float))
        distance, index = tree.query(spots[["x", "y"]].to_numpy(float))
        spots["nearest_camera"] = cameras["name"].to_numpy()[index]
        spots["nearest_m"] = np.round(distance, -1)
    spots["area_km2"] = spots["cells"] * cell_size_m ** 2 / 1e6
    spots = spots.sort_values(["incidents", "cells"], ascending=False, ignore_index=True)
    spots["hotspot"] = range(1, len(spots) + 1)
    return spots[columns]


def located_points(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str) -> pd.DataFrame:
    """Counted incidents of one priority placed in the area, per distinct point: easting,
    northing, count."""
    condition, params = flt.where(f, priority=priority)
    return con.execute(f"""SELECT easting, northing, count(*) AS count FROM incidents
                           WHERE location_status = 'in_area' AND easting IS NOT NULL AND {condition}
                           GROUP BY easting, northing""", params).df()


def placed(con: duckdb.DuckDBPyConnection, cameras: pd.DataFrame) -> pd.DataFrame:
    """The cameras with the ward each stands in (ward_code; None outside the loaded wards)."""
    wards = geography.stored_wards(con)
    codes = ([None] * len(cameras) if wards is None or cameras.empty else
             geography.assign_wards(cameras["longitude"].to_numpy(), cameras["latitude"].to_numpy(), wards))
    return cameras.assign(ward_code=list(codes))


def hotspot_coverage(con: duckdb.DuckDBPyConnection, f: flt.Filters, priority: str,
                     gi_cells: pd.DataFrame, cameras: pd.DataFrame, cell_size_m: float) -> dict:
    """`coverage` of one priority's Gi* result (maps.gi_star) under the filters `f`."""
    return coverage(located_points(con, f, priority), gi_cells, cameras, geography.stored_wards(con),
                    cell_size_m)


def coverage(points: pd.DataFrame, gi_cells: pd.DataFrame, cameras: pd.DataFrame,
             wards: gpd.GeoDataFrame | None, cell_size_m: float) -> dict:
    """How much of the hot spots and incidents the cameras see.

    `points`: located_points; `gi_cells`: the Gi* result (col, row, count, hotspot). Returns
    cameras, cameras_in_area, hot_cells, hot_cells_covered, hot_cell_share, hot_area_share,
    incidents, incidents_covered, incident_share, hot_incidents, hot_incidents_covered,
    hot_incident_share, uncovered (uncovered_hotspots).
    """
    hot = gi_cells[gi_cells["hotspot"] == "hot spot"].reset_index(drop=True)
    covered_cells = cells_covered(hot, cameras, cell_size_m)
    seen = points_covered(points["easting"], points["northing"], cameras)
    counts = points["count"].to_numpy()
    in_hot = np.zeros(len(points), bool)
    if len(hot) and len(points):
        keys = set(zip(hot["col"].astype(int), hot["row"].astype(int)))
        cols = np.floor(points["easting"].to_numpy(float) / cell_size_m).astype(int)
        rows = np.floor(points["northing"].to_numpy(float) / cell_size_m).astype(int)
        in_hot = np.array([(c, r) in keys for c, r in zip(cols, rows)], bool)
    incidents, covered_incidents = int(counts.sum()), int(counts[seen].sum())
    hot_incidents, hot_covered = int(counts[in_hot].sum()), int(counts[in_hot & seen].sum())

    def share(part, whole):
        return part / whole if whole else None

    return {"cameras": len(cameras), "cameras_in_area": int(in_area(cameras, wards).sum()),
            "hot_cells": len(hot), "hot_cells_covered": int(covered_cells.sum()),
            "hot_cell_share": share(int(covered_cells.sum()), len(hot)),
            "hot_area_share": covered_area_share(hot, cameras, cell_size_m),
            "incidents": incidents, "incidents_covered": covered_incidents,
            "incident_share": share(covered_incidents, incidents),
            "hot_incidents": hot_incidents, "hot_incidents_covered": hot_covered,
            "hot_incident_share": share(hot_covered, hot_incidents),
            "uncovered": uncovered_hotspots(hot, covered_cells, cameras, wards, cell_size_m)}


# --- drawing ---------------------------------------------------------------------------------

def add_cameras(fig: go.Figure, cameras: pd.DataFrame, discs: bool = True) -> go.Figure:
    """Draw cameras (and their view discs) on a map in British National Grid metres, such as the
    Gi* hot spot map. Camera names are escaped: text from the file is never markup."""
    if cameras.empty:
        return fig
    if discs:
        # Drawn with 24 sides, to the metre (no map shows finer), as one line with a gap (NaN)
        # after each disc, in arrays plotly takes without checking each value and sends packed.
        coords, disc = shapely.get_coordinates(shapely.get_exterior_ring(_discs(cameras, quad_segs=6)),
                                               return_index=True)
        ends = np.append(np.flatnonzero(np.diff(disc)) + 1, len(coords))
        xy = np.insert(np.rint(coords), ends, np.nan, axis=0).astype(np.float32)
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", name="Camera view",
                                 line={"color": COVERAGE_COLOUR, "width": 1}, hoverinfo="skip"))
    names = [chart(n) for n in cameras["name"]]
    radius = [f"{r:,.0f}" for r in cameras["view_radius_m"]]
    fig.add_trace(go.Scatter(
        x=cameras["easting"], y=cameras["northing"], mode="markers", name="CCTV camera",
        marker={"symbol": "square", "size": 6, "color": CAMERA_COLOUR, "line": {"color": "white", "width": 1}},
        customdata=np.column_stack([names, radius]),
        hovertemplate="CCTV: %{customdata[0]}<br>view radius %{customdata[1]} m<extra></extra>"))
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.02})
    return fig

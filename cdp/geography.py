"""Ward boundaries: loading any common format and CRS, the ONS download, and placing incidents.

The boundary set in use is kept in the store (table `wards`), so every view and export lists the
same wards that incidents were placed in.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from . import config
from .store import get_meta, set_meta

ATTRIBUTION = ("Source: Office for National Statistics licensed under the Open Government Licence "
               "v.3.0. Contains OS data © Crown copyright and database right 2022.")
IMD_ATTRIBUTION = ("The English Indices of Deprivation 2019: Ministry of Housing, Communities and Local "
                   "Government, Open Government Licence v.3.0.")

# Nottingham's 20 wards (ONS, December 2022): E05012270 Aspley ... E05012289 Wollaton West.
NOTTINGHAM_WARD_CODES: tuple[str, ...] = tuple(f"E050122{n}" for n in range(70, 90))
ONS_WARDS_URL = ("https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services/"
                 "Wards_December_2022_Boundaries_UK_BGC/FeatureServer/0/query")

# Great Britain, generously: anything outside is a mistake, not an incident.
GB_LON = (-9.0, 2.5)
GB_LAT = (49.5, 61.5)
GB_EASTING = (0.0, 700_000.0)
GB_NORTHING = (0.0, 1_300_000.0)

_TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
_FROM_BNG = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
BNG = CRS.from_epsg(27700)
WGS84 = CRS.from_epsg(4326)

# pyproj makes a transformer's PROJ object afresh in every thread that uses it (about 30 ms each),
# and Streamlit runs every script run in a thread of its own, so a page paid that on every run
# for each transformer it used. Small transforms are done in one long-lived thread instead, where
# each transformer is made once; large ones (an import's points) stay in the caller's thread, where
# 30 ms does not count. The same transformer, so the same coordinates.
_IN_WORKER = 200_000
_WORKER: tuple[int, ThreadPoolExecutor] | None = None
_WORKER_LOCK = threading.Lock()
_TRANSFORMERS: dict[str, Transformer] = {}


def _transform(transformer: Transformer, x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size > _IN_WORKER:
        return transformer.transform(x, y)
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None or _WORKER[0] != os.getpid():  # none yet, or made before a fork
            _WORKER = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdp-proj"))
        worker = _WORKER[1]
    return worker.submit(transformer.transform, x, y).result()


def _from_wgs84(crs: CRS) -> Transformer:
    """The transformer from WGS84 longitude/latitude to `crs`, made once per CRS."""
    key = crs.to_wkt()
    with _WORKER_LOCK:
        if key not in _TRANSFORMERS:
            _TRANSFORMERS[key] = Transformer.from_crs(WGS84, crs, always_xy=True)
        return _TRANSFORMERS[key]


class BoundaryError(Exception):
    """A boundary file or download that cannot be used; the message names it and says why."""


def _find_column(columns: list[str], plain: str, ons_suffix: str) -> str | None:
    for col in columns:
        if col.lower() == plain:
            return col
    pattern = re.compile(rf"^wd\d{{2}}{ons_suffix}$", re.IGNORECASE)
    return next((col for col in columns if pattern.match(col)), None)


def normalise_boundaries(gdf: gpd.GeoDataFrame, origin: str) -> gpd.GeoDataFrame:
    """Ward polygons as columns ward_code, ward_name, geometry, in the file's own CRS (incidents
    are placed by point-in-polygon in it; the store keeps a WGS84 copy for drawing)."""
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    code = _find_column(columns, "ward_code", "cd")
    name = _find_column(columns, "ward_name", "nm")
    if not code or not name:
        raise BoundaryError(f"{origin}: no ward code and name columns (expected ward_code/ward_name "
                            f"or ONS style WD22CD/WD22NM); found {', '.join(columns) or 'none'}")
    if gdf.crs is None:
        raise BoundaryError(f"{origin}: the file has no coordinate reference system")
    if len(gdf) == 0:
        raise BoundaryError(f"{origin}: the file has no wards")
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise BoundaryError(f"{origin}: ward geometries must be polygons")
    out = gpd.GeoDataFrame({"ward_code": gdf[code].astype(str).str.strip().to_numpy(),
                            "ward_name": gdf[name].astype(str).str.strip().to_numpy()},
                           geometry=shapely.make_valid(gdf.geometry.values), crs=gdf.crs)
    if out["ward_code"].duplicated().any():
        dupes = ", ".join(sorted(out.loc[out["ward_code"].duplicated(), "ward_code"].unique()))
        raise BoundaryError(f"{origin}: ward codes appear more than once: {dupes}")
    return out.sort_values("ward_code").reset_index(drop=True)


def load_boundaries(path: str | Path) -> gpd.GeoDataFrame:
    """Read ward boundaries from a GeoPackage, GeoJSON or Shapefile in any CRS."""
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"{path}: no such boundary file")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise BoundaryError(f"{path}: cannot be read as GeoPackage, GeoJSON or Shapefile ({exc})") from exc
    return normalise_boundaries(gdf, str(path))


def download_ons_wards(codes: tuple[str, ...] = NOTTINGHAM_WARD_CODES, url: str | None = None,
                       timeout: float = 60.0) -> gpd.GeoDataFrame:
    """Download ward boundaries for `codes` from the ONS Open Geography Portal (ArcGIS REST)."""
    url = url or os.environ.get("CDP_ONS_WARDS_URL") or ONS_WARDS_URL
    # The layer's ward code field follows its year: Wards_December_2022 -> WD22CD.
    year = re.search(r"Wards_[A-Za-z]+_(\d{4})", url)
    code_field, name_field = (f"WD{year.group(1)[2:]}CD", f"WD{year.group(1)[2:]}NM") if year else ("WD22CD", "WD22NM")
    quoted = ",".join(f"'{c}'" for c in codes)
    params = {"where": f"{code_field} IN ({quoted})", "outFields": f"{code_field},{name_field}",
              "outSR": "4326", "f": "geojson"}
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except Exception as exc:
        raise BoundaryError(f"ONS Open Geography Portal ({url}): download failed ({exc}). "
                            "Set CDP_BOUNDARIES to a ward boundary file instead.") from exc
    if "features" not in payload:
        raise BoundaryError(f"ONS Open Geography Portal ({url}): unexpected answer "
                            f"{str(payload)[:200]}")
    gdf = gpd.GeoDataFrame.from_features(payload["features"], crs="EPSG:4326")
    wards = normalise_boundaries(gdf, url)
    missing = sorted(set(codes) - set(wards["ward_code"]))
    if missing:
        raise BoundaryError(f"ONS Open Geography Portal ({url}): wards missing from the answer: "
                            f"{', '.join(missing)}")
    return wards


def cached_download(codes: tuple[str, ...], cache_dir: Path | None = None) -> Path:
    """Where the ONS download of `codes` is cached (one file per set of ward codes)."""
    key = hashlib.sha256(",".join(sorted(codes)).encode()).hexdigest()[:12]
    return (cache_dir or config.GEO_CACHE_DIR) / f"wards-{key}.geojson"


HOW_TO_SUPPLY = ("Supply ward boundaries in one of these ways: set CDP_BOUNDARIES (or --boundaries) to "
                 "a GeoPackage, GeoJSON or Shapefile with ward_code/ward_name or WDyyCD/WDyyNM columns; "
                 f"restore geo/{config.DEFAULT_WARDS_FILE} from the checkout (Nottingham's 20 wards); "
                 "or, online, set CDP_WARD_CODES to your area's ward codes to download them from the "
                 "ONS Open Geography Portal.")


def default_boundaries(cache_dir: Path | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """Boundaries when no file is configured.

    Another area (CDP_WARD_CODES set): its cached ONS download, else the download (then cached).
    Otherwise the default area, Nottingham: the copy shipped in geo/ (so a fresh machine works
    offline), else the shared folder's, else a cached or new ONS download of its 20 wards.
    """
    codes = config.ons_ward_codes()
    if codes is None:
        for folder in (config.SHIPPED_GEO_DIR, config.SHARED_GEO_DIR):
            path = folder / config.DEFAULT_WARDS_FILE
            if path.exists():
                return load_boundaries(path), str(path)
        codes = NOTTINGHAM_WARD_CODES
    cached = cached_download(codes, cache_dir)
    if cached.exists():
        return load_boundaries(cached), f"{cached} (cached ONS download)"
    try:
        wards = download_ons_wards(codes)
    except BoundaryError as exc:
        raise BoundaryError(f"{exc} {HOW_TO_SUPPLY}") from exc
    cached.parent.mkdir(parents=True, exist_ok=True)
    wards.to_file(cached, driver="GeoJSON")
    return wards, f"ONS Open Geography Portal, {len(wards)} wards, cached at {cached}"


def stored_wards(con: duckdb.DuckDBPyConnection, wgs84: bool = False) -> gpd.GeoDataFrame | None:
    """The boundary set saved in the store, in its own CRS (table `ward_shapes`) or, with
    `wgs84`, the WGS84 copy maps draw (table `wards`); None when none is saved yet. Boundaries
    saved before the store kept their own CRS are WGS84."""
    rows = con.execute("SELECT w.ward_code, w.ward_name, w.geometry_wkb, s.geometry_wkb, s.crs "
                       "FROM wards w LEFT JOIN ward_shapes s USING (ward_code) "
                       "ORDER BY w.ward_code").fetchall()
    if not rows:
        return None
    native = not wgs84 and all(r[3] is not None for r in rows)
    shapes = shapely.from_wkb([bytes(r[3] if native else r[2]) for r in rows])
    return gpd.GeoDataFrame({"ward_code": [r[0] for r in rows], "ward_name": [r[1] for r in rows]},
                            geometry=shapes, crs=CRS.from_wkt(rows[0][4]) if native else WGS84)


def resolve_boundaries(con: duckdb.DuckDBPyConnection | None,
                       override: str | Path | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """The boundaries to use: `--boundaries`/CDP_BOUNDARIES, else the store's (when `con` is
    given), else the default."""
    path = config.boundaries_path(override)
    if path:
        return load_boundaries(path), str(path)
    wards = stored_wards(con) if con is not None else None
    if wards is not None:
        return wards, get_meta(con, "boundary_source") or "stored boundaries"
    return default_boundaries()


def save_wards(con: duckdb.DuckDBPyConnection, wards: gpd.GeoDataFrame, origin: str) -> bool:
    """Make `wards` the store's boundary set, re-placing incidents if it changed.

    Call inside the import's transaction. Returns True when the set changed.
    """
    current = stored_wards(con)
    if current is not None and _same_wards(current, wards):
        if get_meta(con, "boundary_source") != origin:
            set_meta(con, "boundary_source", origin)
        return False
    con.execute("DELETE FROM wards")
    con.execute("DELETE FROM ward_shapes")
    drawn = shapely.make_valid(wards.geometry.to_crs(WGS84).values)
    frame = pd.DataFrame({"ward_code": wards["ward_code"], "ward_name": wards["ward_name"],
                          "geometry_wkb": shapely.to_wkb(drawn),
                          "native_wkb": shapely.to_wkb(wards.geometry.values),
                          "crs": CRS(wards.crs).to_wkt()})
    con.register("_new_wards", frame)
    con.execute("INSERT INTO wards SELECT ward_code, ward_name, geometry_wkb FROM _new_wards")
    con.execute("INSERT INTO ward_shapes SELECT ward_code, native_wkb, crs FROM _new_wards")
    con.unregister("_new_wards")
    set_meta(con, "boundary_source", origin)
    _replace_all_incidents(con, wards)
    return True


def _same_wards(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> bool:
    if list(a["ward_code"]) != list(b["ward_code"]) or list(a["ward_name"]) != list(b["ward_name"]):
        return False
    return (CRS(a.crs) == CRS(b.crs)
            and bool(np.all(shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=1e-9))))


def _replace_all_incidents(con: duckdb.DuckDBPyConnection, wards: gpd.GeoDataFrame) -> None:
    """Place every located incident in the new wards: each distinct point once (the same point is
    always in the same ward), joined back on its coordinates (no row ids: they differ by engine).
    A point's grid reference, where stored, is part of it (see assign_wards)."""
    points = con.execute("SELECT DISTINCT longitude, latitude, easting, northing FROM incidents "
                         "WHERE longitude IS NOT NULL AND latitude IS NOT NULL").df()
    if points.empty:
        return
    points["ward_code"] = assign_wards(points["longitude"].to_numpy(), points["latitude"].to_numpy(),
                                       wards, points["easting"].to_numpy(dtype=float, na_value=np.nan),
                                       points["northing"].to_numpy(dtype=float, na_value=np.nan))
    con.register("_placed", points)
    con.execute("""UPDATE incidents SET ward_code = p.ward_code,
                   location_status = CASE WHEN p.ward_code IS NULL THEN 'outside_area' ELSE 'in_area' END
                   FROM _placed p
                   WHERE incidents.longitude = p.longitude AND incidents.latitude = p.latitude
                     AND incidents.easting IS NOT DISTINCT FROM p.easting
                     AND incidents.northing IS NOT DISTINCT FROM p.northing""")
    con.unregister("_placed")


def assign_wards(lon: np.ndarray, lat: np.ndarray, wards: gpd.GeoDataFrame,
                 easting: np.ndarray | None = None, northing: np.ndarray | None = None) -> np.ndarray:
    """Point-in-polygon in the boundaries' own CRS (that of `wards`): the ward code of each
    point, None where it is in no ward.

    Points are WGS84 `lon`/`lat`, transformed into the boundaries' CRS; where that CRS is British
    National Grid and a point's `easting`/`northing` are given, those are used as they are (a
    grid reference needs no transformation). Testing in the file's CRS keeps its straight edges
    where they are: moved to WGS84, a polygon keeps its corners but its long edges shift.
    """
    result = np.full(len(lon), None, dtype=object)
    if len(lon) == 0:
        return result
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    crs = CRS(wards.crs)
    if crs != WGS84:
        x, y = _transform(_from_wgs84(crs), x, y)
        if crs == BNG and easting is not None and northing is not None:
            east, north = np.asarray(easting, dtype=float), np.asarray(northing, dtype=float)
            grid = np.isfinite(east) & np.isfinite(north)
            x, y = np.where(grid, east, x), np.where(grid, north, y)
    points = shapely.points(x, y)
    point_idx, ward_idx = wards.sindex.query(points, predicate="intersects")
    # A point on a shared edge touches two wards: it goes to the first (lowest code).
    first = pd.Series(ward_idx).groupby(point_idx).min()
    result[first.index.to_numpy()] = wards["ward_code"].to_numpy()[first.to_numpy()]
    return result


def to_bng(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude/latitude to British National Grid easting/northing (metres)."""
    return _transform(_TO_BNG, lon, lat)


def from_bng(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """British National Grid easting/northing to WGS84 longitude/latitude."""
    return _transform(_FROM_BNG, easting, northing)

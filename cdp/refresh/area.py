"""The area a refresh asks police.uk about: the outer boundary of the loaded wards as polygons the
API accepts, and the division of that area into parts that never overlap.

The wards' union is grown a little and simplified in metres (in a projected CRS fitted to the
area), so that every ward lies inside it and the polygon stays short enough for a GET request.
police.uk takes one polygon without holes per request, so the area is cut by half-open boxes in
longitude/latitude until each box holds a single polygon without holes (small holes, slivers
between generalised wards, are filled first). A box owns the points with west <= lng < east and
south <= lat < north: every point belongs to exactly one part, so incidents returned by two
neighbouring requests (a point on the dividing line) are kept once. That matters for ASB, which
has no Crime ID to de-duplicate by.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box as rectangle

# A GET request's URL must stay within 4,094 characters: about 180 "lat,lng:" pairs.
GET_VERTEX_BUDGET = 180
TOLERANCES_M = (25.0, 50.0, 100.0, 200.0)  # simplification tried in turn, in metres
MIN_HOLE_M2 = 1_000_000.0                   # holes smaller than 1 km² are filled
MARGIN_DEG = 1e-4                           # requests reach ~10 m past their box's edges
MIN_BOX_M = 50.0                            # a box is not divided below 50 m a side
DECIMALS = 6                                # police.uk gives coordinates to 6 decimals


class AreaError(ValueError):
    """The loaded wards cannot be turned into an area to ask police.uk about."""


@dataclass(frozen=True)
class Box:
    """A half-open box in degrees: it owns west <= lng < east and south <= lat < north."""
    west: float = -math.inf
    east: float = math.inf
    south: float = -math.inf
    north: float = math.inf

    def owns(self, lng: np.ndarray, lat: np.ndarray) -> np.ndarray:
        lng, lat = np.asarray(lng, dtype=float), np.asarray(lat, dtype=float)
        return (lng >= self.west) & (lng < self.east) & (lat >= self.south) & (lat < self.north)

    def clipped(self, bounds: tuple[float, float, float, float], margin: float = 0.0) -> Polygon:
        """The box as a polygon, its open sides cut at `bounds`, grown by `margin`."""
        minx, miny, maxx, maxy = bounds
        return rectangle(max(self.west, minx) - margin, max(self.south, miny) - margin,
                         min(self.east, maxx) + margin, min(self.north, maxy) + margin)

    def halves(self, bounds: tuple[float, float, float, float]) -> tuple["Box", "Box"]:
        """Two boxes dividing this one across its longer side (in metres) at the middle."""
        minx, miny, maxx, maxy = self.clipped(bounds).bounds
        width = (maxx - minx) * math.cos(math.radians((miny + maxy) / 2))
        if width >= maxy - miny:
            cut = round((minx + maxx) / 2, DECIMALS)
            return (Box(self.west, cut, self.south, self.north),
                    Box(cut, self.east, self.south, self.north))
        cut = round((miny + maxy) / 2, DECIMALS)
        return (Box(self.west, self.east, self.south, cut),
                Box(self.west, self.east, cut, self.north))

    def size_m(self, bounds: tuple[float, float, float, float]) -> float:
        """The longer side in metres (about), within `bounds`."""
        minx, miny, maxx, maxy = self.clipped(bounds).bounds
        width = (maxx - minx) * math.cos(math.radians((miny + maxy) / 2)) * 111_320
        return max(width, (maxy - miny) * 110_574)


@dataclass(frozen=True)
class Part:
    """One request's polygon (WGS84, one ring, no holes) and the box whose points it keeps."""
    box: Box
    polygon: Polygon

    def poly_param(self) -> str:
        """The polygon as police.uk's `poly`: lat,lng pairs joined by colons (the API closes it)."""
        coords = np.asarray(self.polygon.exterior.coords)[:-1]
        return ":".join(f"{lat:.{DECIMALS}f},{lng:.{DECIMALS}f}" for lng, lat in coords)


class Area:
    """The outer boundary of `wards` (any CRS), ready to be asked about part by part."""

    def __init__(self, wards: gpd.GeoDataFrame):
        if wards is None or len(wards) == 0:
            raise AreaError("no ward boundaries are loaded: load boundaries first "
                            "(--boundaries FILE or CDP_BOUNDARIES)")
        if wards.crs is None:
            raise AreaError("the ward boundaries have no coordinate reference system")
        wgs84 = wards.to_crs("EPSG:4326")
        self.wards_shape = shapely.union_all(shapely.make_valid(wgs84.geometry.values))
        projected_crs = wgs84.estimate_utm_crs()
        projected = shapely.union_all(shapely.make_valid(wgs84.to_crs(projected_crs).geometry.values))
        projected = _fill_small_holes(projected, MIN_HOLE_M2)
        to_wgs84 = Transformer.from_crs(projected_crs, "EPSG:4326", always_xy=True)
        self.shape, self.tolerance_m = _outline(projected, self.wards_shape, to_wgs84)
        self.bounds = self.shape.bounds

    @property
    def vertices(self) -> int:
        return int(shapely.get_num_coordinates(self.shape))

    def parts(self, box: Box = Box()) -> list[Part]:
        """The parts covering `box`: each a single polygon without holes, owning its own box."""
        request = self.shape.intersection(box.clipped(self.bounds, MARGIN_DEG))
        owned = box.clipped(self.bounds)
        pieces = [g for g in _polygons(request) if g.intersection(owned).area > 0]
        if not pieces:
            return []
        if len(pieces) == 1 and not pieces[0].interiors:
            return [Part(box, shapely.set_precision(pieces[0], 10 ** -DECIMALS))]
        if box.size_m(self.bounds) < MIN_BOX_M:
            raise AreaError(f"the ward boundaries cannot be divided into simple polygons near "
                            f"{owned.centroid.y:.5f},{owned.centroid.x:.5f}")
        first, second = box.halves(self.bounds)
        return self.parts(first) + self.parts(second)

    def split(self, part: Part) -> list[Part]:
        """Divide a part in two (for a request that held too many crimes); [] if it is too small."""
        if part.box.size_m(self.bounds) < MIN_BOX_M:
            return []
        first, second = part.box.halves(self.bounds)
        return self.parts(first) + self.parts(second)


def _polygons(geometry) -> list[Polygon]:
    """The non-empty polygons in any geometry (collections and multi-polygons taken apart)."""
    if isinstance(geometry, Polygon):
        return [] if geometry.is_empty else [geometry]
    return [p for part in getattr(geometry, "geoms", []) for p in _polygons(part)]


def _fill_small_holes(shape, min_area: float):
    """Polygons with their holes smaller than `min_area` filled."""
    return shapely.union_all([Polygon(p.exterior, [r for r in p.interiors if Polygon(r).area >= min_area])
                              for p in _polygons(shape)])


def _outline(projected, wards_wgs84, to_wgs84: Transformer):
    """The grown, simplified outline in WGS84 that covers every ward, and the tolerance used:
    the smallest tolerance whose outline fits a GET request, else the largest (sent by POST)."""
    def project(geom):
        return shapely.transform(geom, lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])))

    outline = None
    for tolerance in TOLERANCES_M:
        grow = 1.5 * tolerance
        for _ in range(4):
            candidate = project(projected.buffer(grow).simplify(tolerance))
            candidate = shapely.set_precision(candidate, 10 ** -DECIMALS)
            if candidate.covers(wards_wgs84):
                break
            grow *= 2
        else:
            raise AreaError("could not draw an outline around the ward boundaries")
        outline = candidate
        if shapely.get_num_coordinates(outline) <= GET_VERTEX_BUDGET:
            return outline, tolerance
    return outline, TOLERANCES_M[-1]

"""Which police force each crime "falls within".

police.uk's crime answers do not name the force. Wards nest inside police force areas, so the
force of each loaded ward is looked up once (`locate-neighbourhood` at a point inside the ward,
`forces` for its name) and a crime takes the force of the ward it lies in, or of the nearest
ward when it lies just outside them all (the area asked about is a little larger than the
wards). Crimes police.uk marks as British Transport Police belong to that force.
"""
from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import shapely

from .. import geography
from .api import PoliceApi
from .area import AreaError

BTP_ID = "btp"
BTP_NAME = "British Transport Police"


class AreaForces:
    """The territorial force of every ward, and the force of any point in or near the area."""

    def __init__(self, wards: gpd.GeoDataFrame, ward_forces: list[str], names: dict[str, str]):
        self.wards = wards.to_crs("EPSG:4326").reset_index(drop=True)
        self.ward_forces = np.asarray(ward_forces, dtype=object)
        self.names = {**names, BTP_ID: names.get(BTP_ID, BTP_NAME)}
        self.ids = sorted(set(ward_forces))

    @property
    def territorial(self) -> dict[str, str]:
        """Force id -> name for the forces policing the wards (British Transport Police aside)."""
        return {i: self.names[i] for i in self.ids}

    @classmethod
    def locate(cls, api: PoliceApi, wards: gpd.GeoDataFrame,
               report: Callable[[str], None] = lambda message: None) -> "AreaForces":
        names = api.forces()
        wgs84 = wards.to_crs("EPSG:4326").reset_index(drop=True)
        found = []
        for i, row in wgs84.iterrows():
            report(f"Finding the police force of ward {row['ward_code']} ({i + 1} of {len(wgs84)})")
            force = None
            for point in _inside_points(row.geometry):
                force = api.locate_force(point.y, point.x)
                if force:
                    break
            if not force:
                raise AreaError(f"police.uk places ward {row['ward_code']} {row['ward_name']} in no police "
                                "force area (police.uk covers England, Wales and Northern Ireland)")
            if force not in names:
                raise AreaError(f"police.uk names force '{force}' for ward {row['ward_code']} but does "
                                "not list it among its forces")
            found.append(force)
        return cls(wgs84, found, names)

    def assign(self, lng: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The territorial force id of each point."""
        if len(self.ids) == 1:
            return np.full(len(lng), self.ids[0], dtype=object)
        codes = geography.assign_wards(lng, lat, self.wards)
        index = {code: i for i, code in enumerate(self.wards["ward_code"])}
        ward = np.array([index.get(c, -1) if c is not None else -1 for c in codes])
        outside = np.flatnonzero(ward < 0)
        if len(outside):
            projected = self.wards.to_crs(self.wards.estimate_utm_crs())
            points = gpd.GeoSeries(shapely.points(np.asarray(lng)[outside], np.asarray(lat)[outside]),
                                   crs="EPSG:4326").to_crs(projected.crs)
            which, nearest = projected.sindex.nearest(points.values, return_all=False)
            ward[outside[which]] = nearest
        return self.ward_forces[ward]


def _inside_points(polygon) -> list:
    """A few points inside a ward: a point sure to be inside, then its centroid if inside."""
    points = [polygon.representative_point()]
    if polygon.contains(polygon.centroid):
        points.append(polygon.centroid)
    return points

"""How the demo's incidents are recorded: the gaps real records have, and the police.uk share.

`cdp.demo.generate` says what happened; this module says what the partners' systems and police.uk
hold of it, so every note, badge and warning of the dashboard has something to show on a fresh
machine:
- `as_recorded`: some incidents have no location (a record without an address), some lie just
  beyond the area's wards (the force's extract covers the whole force area, the council's reports
  its border streets), and some dates are known to the day or the month only (housing case
  systems, council reports). cdp.counting keeps the first two and states them ("not counted: ...");
  the trends page says how many have only a month.
- `police_uk_share`: police.uk street files, as the dashboard is given them: the force's own
  publication of the last months of the period (the same crimes as its extract, which supersedes
  them), and British Transport Police's crimes at the transport hubs for the whole period (counted
  alongside the partner extract, as police.uk carries no flags: the "proxy" coverage badges).
Every choice is a named constant below; the same seed gives the same records.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from .ingest.police_uk import HEADER as POLICE_UK_HEADER
from .priorities import ASB_CRIME_TYPE, POLICE_UK_CRIME_TYPES

# Records without a location, and records just outside the area's wards, as shares of a source's rows.
UNLOCATED_SHARE = {"police": 0.005, "housing": 0.03}
OUTSIDE_SHARE = {"police": 0.012, "council_asb": 0.004}
OUTSIDE_RING_M = (100, 2_500)  # how far beyond the area's boundary they lie
# Dates known to the day only, or to the month only, as shares of a source's rows.
DAY_ONLY_SHARE = {"housing": 0.35, "council_asb": 0.10}
MONTH_ONLY_SHARE = {"housing": 0.25}

# police.uk: the force publishes its crimes and ASB; its extract (partner source 'police') covers
# the same months and supersedes them (cdp.counting, CDP_FORCE_EXTRACTS).
FORCE = "Nottinghamshire Police"
FORCE_MONTHS = 3               # the latest months of the period, as police.uk street files
TRANSPORT_FORCE = "British Transport Police"
TRANSPORT_PER_YEAR = 540       # at the default volume (cdp.demo.DEFAULT_ROWS); scaled with it
TRANSPORT_CRIMES = {"Violence and sexual offences": 0.30, "Public order": 0.15, "Other theft": 0.15,
                    "Theft from the person": 0.12, "Bicycle theft": 0.08,
                    "Criminal damage and arson": 0.07, "Drugs": 0.06, "Possession of weapons": 0.03,
                    "Robbery": 0.02, "Other crime": 0.02}
TRANSPORT_OUTCOMES = {"Investigation complete; no suspect identified": 0.5,
                      "Unable to prosecute suspect": 0.2, "Suspect charged": 0.15,
                      "Local resolution": 0.1, "Under investigation": 0.05}
FILE_NAMES = {FORCE: "nottinghamshire", TRANSPORT_FORCE: "btp"}


def _rng(seed: int, part: int, chunk: int = 0) -> np.random.Generator:
    """Apart from cdp.demo's draws, so its rows stay as they were; a chunk's own (cdp.demo.chunk_rng)."""
    return np.random.default_rng([seed, part] if chunk == 0 else [seed, part, chunk])


def _pick(rng: np.random.Generator, source: np.ndarray, shares: dict[str, float],
          free: np.ndarray) -> np.ndarray:
    """Rows (among `free`) chosen with the share of their source."""
    share = np.zeros(len(source))
    for name, value in shares.items():
        share[source == name] = value
    return free & (rng.random(len(source)) < share)


def _outside_points(rng: np.random.Generator, wards: gpd.GeoDataFrame, n: int) -> np.ndarray:
    """n longitude/latitude points between OUTSIDE_RING_M metres beyond the wards' boundary."""
    area = wards.to_crs(27700).geometry.union_all()
    ring = area.buffer(OUTSIDE_RING_M[1]).difference(area.buffer(OUTSIDE_RING_M[0]))
    shapely.prepare(ring)
    minx, miny, maxx, maxy = ring.bounds
    found: list[np.ndarray] = []
    have = 0
    while have < n:
        x, y = rng.uniform(minx, maxx, 4 * n + 16), rng.uniform(miny, maxy, 4 * n + 16)
        ok = shapely.contains_xy(ring, x, y)
        found.append(np.column_stack([x[ok], y[ok]]))
        have += int(ok.sum())
    x, y = np.concatenate(found)[:n].T
    lon, lat = Transformer.from_crs(27700, 4326, always_xy=True).transform(x, y)
    return np.column_stack([np.round(lon, 6), np.round(lat, 6)])


def as_recorded(frame: pd.DataFrame, wards: gpd.GeoDataFrame, seed: int, chunk: int = 0) -> pd.DataFrame:
    """The partner extract rows `frame` (cdp.demo.generate, or chunk number `chunk` of
    cdp.demo.generate_chunks) as the systems record them: some without a location, some just
    outside the wards, some dated to the day or month only."""
    rng = _rng(seed, 1, chunk)
    out = frame.copy()
    source = out["source"].to_numpy(dtype=object)
    everyone = np.ones(len(out), bool)
    unlocated = _pick(rng, source, UNLOCATED_SHARE, everyone)
    outside = _pick(rng, source, OUTSIDE_SHARE, ~unlocated)
    premises = ["premises_id", "premises_name", "premises_type"]
    out.loc[unlocated, ["longitude", "latitude"]] = np.nan
    out.loc[unlocated, ["location"] + premises] = ""
    if outside.any():
        out.loc[outside, ["longitude", "latitude"]] = _outside_points(rng, wards, int(outside.sum()))
        from .demo import GENERIC_STREETS
        streets = np.array(GENERIC_STREETS, dtype=object)[rng.integers(0, len(GENERIC_STREETS),
                                                                       int(outside.sum()))]
        police = source[outside] == "police"
        out.loc[outside, "location"] = np.where(police, "On or near " + streets, streets)
        out.loc[outside, premises] = ""
    month_only = _pick(rng, source, MONTH_ONLY_SHARE, everyone)
    day_only = _pick(rng, source, DAY_ONLY_SHARE, ~month_only)
    stamp = out["occurred_at"].astype(str)
    out["occurred_at"] = stamp.where(~month_only, stamp.str[:7]).where(~day_only, stamp.str[:10])
    return out


def _crime_id(seed: int, incident_id: str) -> str:
    return hashlib.sha256(f"{seed}:{incident_id}".encode()).hexdigest()


def police_uk_share(recorded: pd.DataFrame, seed: int, total: int, default_total: int,
                    chunk: int = 0, transport_start: int = 0) -> pd.DataFrame:
    """police.uk street rows (its header, cells as text) for the recorded extract `recorded`:
    the force's last FORCE_MONTHS months and British Transport Police's crimes at the transport
    hubs, TRANSPORT_PER_YEAR a year at `default_total` rows (scaled to `total`), one a month at least.
    For chunk number `chunk` of a build, `recorded` is that chunk and `total` its rows; its
    transport crimes are numbered after the `transport_start` of earlier chunks (only the first
    chunk has one a month at least)."""
    rng = _rng(seed, 2, chunk)
    month = recorded["occurred_at"].astype(str).str[:7]
    months = sorted(month.unique())
    police = recorded[(recorded["source"].astype(str) == "police")
                      & month.isin(months[-FORCE_MONTHS:])]
    is_asb = ~police["category"].isin(POLICE_UK_CRIME_TYPES)
    force = pd.DataFrame({
        "Crime ID": np.where(is_asb, "", [_crime_id(seed, i) for i in police["incident_id"]]),
        "Month": month[police.index],
        "Longitude": police["longitude"], "Latitude": police["latitude"],
        "Location": police["location"].where(police["location"] != "", "No Location"),
        "Crime type": police["category"].where(~is_asb, ASB_CRIME_TYPE),
        "Last outcome category": police["outcome"].where(~is_asb, ""),
        "Reported by": FORCE})

    located = recorded["longitude"].notna() & (recorded["location"] != "")
    hubs = recorded[located & (recorded["premises_type"].astype(str) == "transport hub")]
    hubs = hubs if len(hubs) else recorded[located]
    n = round(TRANSPORT_PER_YEAR * len(months) / 12 * total / default_total)
    every_month = chunk == 0  # the first chunk has one a month at least, for the whole build
    n = max(len(months), n) if every_month else n
    at = hubs.iloc[rng.integers(0, len(hubs), n)]
    when = rng.integers(0, len(months), n - len(months) * every_month)
    when = np.concatenate([np.arange(len(months)), when]) if every_month else when
    crimes, outcomes = list(TRANSPORT_CRIMES), list(TRANSPORT_OUTCOMES)
    transport = pd.DataFrame({
        "Crime ID": [_crime_id(seed, f"BTP{i}") for i in range(transport_start, transport_start + n)],
        "Month": np.array(months, dtype=object)[np.sort(when)],
        "Longitude": at["longitude"].to_numpy(), "Latitude": at["latitude"].to_numpy(),
        "Location": "On or near " + at["location"].str.removeprefix("On or near ").to_numpy(),
        "Crime type": np.array(crimes, dtype=object)[rng.choice(
            len(crimes), n, p=list(TRANSPORT_CRIMES.values()))],
        "Last outcome category": np.array(outcomes, dtype=object)[rng.choice(
            len(outcomes), n, p=list(TRANSPORT_OUTCOMES.values()))],
        "Reported by": TRANSPORT_FORCE})

    rows = pd.concat([force, transport], ignore_index=True)
    rows["Falls within"] = rows["Reported by"]
    for column in ("Longitude", "Latitude"):
        rows[column] = rows[column].map(lambda v: "" if pd.isna(v) else f"{v:.6f}")
    for column in ("LSOA code", "LSOA name", "Context"):
        rows[column] = ""
    return rows[POLICE_UK_HEADER]


class PoliceUkFiles:
    """police.uk street files in `folder`, one per force for all its months
    (YYYY-MM-to-YYYY-MM-<force>-street.csv), written a chunk of rows at a time: the importer reads
    them as it reads monthly files, and one file each is far quicker to load than one a month (and
    one force's month in two files would load only the last)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._months: dict[str, tuple[str, str]] = {}

    def _part(self, force: str) -> Path:
        return self.folder / f"{FILE_NAMES[force]}-street.part"

    def add(self, rows: pd.DataFrame) -> None:
        for force, part in rows.groupby("Reported by", sort=True):
            first, last = part["Month"].min(), part["Month"].max()
            if force in self._months:
                seen = self._months[force]
                first, last = min(first, seen[0]), max(last, seen[1])
            part.to_csv(self._part(force), index=False, mode="a", header=force not in self._months)
            self._months[force] = (first, last)

    def close(self) -> list[Path]:
        """The files, named for their months."""
        paths = []
        for force in sorted(self._months):
            first, last = self._months[force]
            paths.append(self._part(force).rename(
                self.folder / f"{first}-to-{last}-{FILE_NAMES[force]}-street.csv"))
        return paths

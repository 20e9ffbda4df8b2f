"""Synthetic reference files for the demo: proven reoffending, NDTMS treatment, CCTV cameras and an
IOM cohort, plausible for a city of 330,000, so every page has something to show on a fresh machine.

They are written when the demo is built (and again whenever one is missing) into a folder the
product owns, `data/demo/<demo fingerprint>/` (CDP_DEMO_FILES moves `data/demo`), never into git.
They are used only while the store holds the synthetic demo data, and only where no real file is
configured; every file has a `note` column saying it is synthetic, and the pages say so too.
Nothing in them is a real figure, camera or person: the cameras stand at the demo's busiest
places, the cohort is drawn from the demo's synthetic offender keys.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from . import config
from . import filters as flt
from .store import synthetic_note

VERSION = 1  # bump when the generators change, so stale files are written again
NOTE = "synthetic demo data - not real figures"
FILES = {"reoffending": "reoffending.csv", "treatment": "treatment.csv", "cctv": "cctv.csv",
         "iom_cohort": "iom-cohort.csv"}
NOTTINGHAM_WARD = "E05012277"  # Castle: the default area's wards are loaded

# Proven reoffending: quarterly cohorts as published by early 2025 (a cohort is followed for a year,
# plus six months for court cases, then published about nine months later).
COHORTS = pd.period_range("2018Q1", "2023Q1", freq="Q")
REOFFENDING = {  # offenders per quarter, local and national proportion, reoffences per reoffender
    "adult": {"offenders": 780, "local": (0.300, 0.275), "national": (0.262, 0.247),
              "per": 3.85, "ew_offenders": 104_000},
    "juvenile": {"offenders": 66, "local": (0.385, 0.330), "national": (0.342, 0.318),
                 "per": 3.9, "ew_offenders": 7_600},
}
COVID_QUARTERS = {pd.Period("2020Q2", "Q"): 0.62, pd.Period("2020Q3", "Q"): 0.85,
                  pd.Period("2021Q1", "Q"): 0.9}

# NDTMS adult treatment: people in treatment (rolling 12 months), successful completions a year
# as a share of them, re-presentations within six months as a share of completions.
TREATMENT_START, TREATMENT_MONTHS = date(2020, 4, 1), 60
TREATMENT = {
    "opiate": (1_320, -0.012, 0.056, 0.17),
    "non-opiate": (380, 0.03, 0.31, 0.05),
    "alcohol": (760, 0.01, 0.35, 0.07),
    "alcohol and non-opiate": (420, 0.02, 0.29, 0.06),
}
UNKNOWN_REPRESENTATION_MONTHS = 6

# CCTV: cameras at the busiest places (most of them) and along busy streets elsewhere.
CAMERAS_AT_HOT_PLACES, CAMERAS_ELSEWHERE = 120, 30
CAMERA_CELL_M = 100
CAMERA_RADII = (75, 100, 120, 150)

# IOM: prolific offenders taken on when their offending peaks.
IOM_MEMBERS = 160
IOM_THRESHOLD = 8           # offences in the 365 days up to the day they qualify
IOM_ENTRY = (date(2021, 4, 1), date(2024, 3, 31))
IOM_COHORTS = {"IOM fixed": 0.75, "IOM flex": 0.25}


def fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """What the demo files depend on (the demo's seed and size, the wards); None for real data."""
    note = synthetic_note(con)
    if not note:
        return None
    count = con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
    wards = ",".join(r[0] for r in con.execute("SELECT ward_code FROM wards ORDER BY 1").fetchall())
    return hashlib.sha1(f"{VERSION}|{note}|{count}|{wards}".encode()).hexdigest()[:16]


def folder(con: duckdb.DuckDBPyConnection) -> Path | None:
    key = fingerprint(con)
    return None if key is None else config.demo_files_dir() / key


def _seed(con) -> int:
    found = re.search(r"seed (\d+)", synthetic_note(con) or "")
    return int(found[1]) if found else 42


def ensure(con: duckdb.DuckDBPyConnection, name: str) -> Path | None:
    """The demo's copy of reference file `name` (a key of FILES), written if missing; None when the
    store does not hold the synthetic demo data."""
    where = folder(con)
    if where is None:
        return None
    path = where / FILES[name]
    if not path.exists():
        write_all(con, where)
    return path


def _write(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically: two sessions writing the same file never leave half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        frame.to_csv(temporary, index=False, lineterminator="\n")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_all(con: duckdb.DuckDBPyConnection, where: Path | None = None) -> Path | None:
    """Write every demo reference file for the store's demo data; returns the folder."""
    where = where or folder(con)
    if where is None:
        return None
    seed = _seed(con)
    local = "Nottingham" if con.execute("SELECT count(*) FROM wards WHERE ward_code = ?",
                                        [NOTTINGHAM_WARD]).fetchall()[0][0] else "Local authority"
    _write(reoffending(np.random.default_rng(seed + 1), local), where / FILES["reoffending"])
    _write(treatment(np.random.default_rng(seed + 2)), where / FILES["treatment"])
    _write(cameras(con, np.random.default_rng(seed + 3)), where / FILES["cctv"])
    _write(iom_cohort(con, np.random.default_rng(seed + 4)), where / FILES["iom_cohort"])
    return where


# --- the generators ------------------------------------------------------------------------------

def reoffending(rng: np.random.Generator, area: str = "Nottingham") -> pd.DataFrame:
    """Quarterly proven reoffending cohorts, adult and juvenile, local and England and Wales."""
    rows = []
    steps = len(COHORTS) - 1
    for kind, p in REOFFENDING.items():
        for i, quarter in enumerate(COHORTS):
            scale = COVID_QUARTERS.get(quarter, 1.0)
            start, end = quarter.start_time.date(), (quarter.end_time.to_period("M").start_time.date())
            for area_name, n_mean, (first, last) in ((area, p["offenders"], p["local"]),
                                                     ("England and Wales", p["ew_offenders"], p["national"])):
                trend = first + (last - first) * i / steps
                offenders = int(rng.poisson(n_mean * scale * (1 - 0.012 * i)))
                reoffenders = int(rng.binomial(offenders, trend))
                per = p["per"] * (1 + rng.normal(0, 0.04 if area_name == area else 0.005))
                reoffences = max(reoffenders, int(round(reoffenders * per)))
                rows.append({"cohort_start": f"{start:%Y-%m}", "cohort_end": f"{end:%Y-%m}",
                             "area": area_name, "offender_type": kind, "offenders": offenders,
                             "reoffenders": reoffenders, "reoffences": reoffences,
                             "proportion_reoffending": round(100 * reoffenders / offenders, 1),
                             "reoffences_per_reoffender": round(reoffences / reoffenders, 2) if reoffenders else "",
                             "note": NOTE})
    # The national figures include the local ones.
    frame = pd.DataFrame(rows)
    key = ["cohort_start", "offender_type"]
    local = frame[frame["area"] == area].set_index(key)
    national = frame["area"] == "England and Wales"
    for column in ("offenders", "reoffenders", "reoffences"):
        frame.loc[national, column] += local[column].reindex(
            pd.MultiIndex.from_frame(frame.loc[national, key])).to_numpy()
    frame.loc[national, "proportion_reoffending"] = (100 * frame["reoffenders"] / frame["offenders"]).round(1)
    frame.loc[national, "reoffences_per_reoffender"] = (frame["reoffences"] / frame["reoffenders"]).round(2)
    return frame


def treatment(rng: np.random.Generator) -> pd.DataFrame:
    """Monthly NDTMS figures per substance group, April 2020 to March 2025."""
    rows = []
    for substance, (base, growth, completion, representation) in TREATMENT.items():
        level = base
        for i in range(TREATMENT_MONTHS):
            month = flt.month_add(TREATMENT_START, i)
            level = level * (1 + growth / 12) + rng.normal(0, base * 0.004)
            covid = 0.8 if month < date(2021, 4, 1) else 1.0   # fewer discharges in lockdown
            dip = 0.85 if substance == "alcohol" and date(2023, 4, 1) <= month < date(2024, 4, 1) else 1.0
            in_treatment = int(round(level))
            completions = min(in_treatment, int(rng.poisson(in_treatment * completion / 12 * covid * dip)))
            known = i < TREATMENT_MONTHS - UNKNOWN_REPRESENTATION_MONTHS
            again = int(rng.binomial(completions, representation)) if known else ""
            rows.append({"month": f"{month:%Y-%m}", "substance": substance, "in_treatment": in_treatment,
                         "successful_completions": completions, "re_presentations": again, "note": NOTE})
    return pd.DataFrame(rows)


def cameras(con: duckdb.DuckDBPyConnection, rng: np.random.Generator) -> pd.DataFrame:
    """Cameras at the demo's busiest 100 m squares (weighted by their incidents) and some at
    random busy places elsewhere, named after the street there."""
    everything = flt.Filters(start=date(1900, 1, 1), end=date(1900, 1, 1))
    condition, params = flt.where(everything, period=False)
    places = con.execute(f"""
        SELECT CAST(floor(easting / {CAMERA_CELL_M}) AS BIGINT) AS col,
               CAST(floor(northing / {CAMERA_CELL_M}) AS BIGINT) AS row,
               avg(easting) AS easting, avg(northing) AS northing, count(*) AS n,
               mode(regexp_replace(location, '^On or near ', '')) AS street
        FROM incidents WHERE location_status = 'in_area' AND easting IS NOT NULL AND {condition}
        GROUP BY ALL ORDER BY n DESC, col, row""", params).df()
    if places.empty:
        return pd.DataFrame(columns=["camera_id", "name", "easting", "northing", "view_radius_m", "note"])
    busy = places.head(max(len(places) // 10, 1))
    weights = busy["n"].to_numpy(float) ** 1.5
    take = min(CAMERAS_AT_HOT_PLACES, len(busy))
    chosen = list(rng.choice(len(busy), take, replace=False, p=weights / weights.sum()))
    rest = places.index.difference(busy.index[chosen])
    elsewhere = rng.choice(rest, min(CAMERAS_ELSEWHERE, len(rest)), replace=False) if len(rest) else []
    picked = pd.concat([busy.iloc[chosen], places.loc[elsewhere]], ignore_index=True)
    jitter = rng.normal(0, 15, (len(picked), 2))
    out = pd.DataFrame({
        "camera_id": [f"DEMO-CAM-{i:03d}" for i in range(1, len(picked) + 1)],
        "name": [f"{street or 'Street'} camera {i}" for i, street in enumerate(picked["street"], start=1)],
        "easting": (picked["easting"] + jitter[:, 0]).round(0).astype(int),
        "northing": (picked["northing"] + jitter[:, 1]).round(0).astype(int),
        "view_radius_m": rng.choice(CAMERA_RADII, len(picked)),
        "note": NOTE})
    return out


def iom_cohort(con: duckdb.DuckDBPyConnection, rng: np.random.Generator) -> pd.DataFrame:
    """An IOM cohort: prolific synthetic offenders, each taken on two to eight weeks after the day
    their offences in the previous 365 days first reached IOM_THRESHOLD within the entry years."""
    everything = flt.Filters(start=date(1900, 1, 1), end=date(1900, 1, 1))
    condition, params = flt.where(everything, period=False)
    offences = con.execute(f"""
        SELECT offender_id, coalesce(occurred_at, month)::DATE AS day FROM incidents
        WHERE {condition} AND NOT is_asb AND offender_id IS NOT NULL AND offender_id IN (
            SELECT offender_id FROM incidents WHERE {condition} AND NOT is_asb
            GROUP BY offender_id HAVING count(*) >= {IOM_THRESHOLD})
        ORDER BY offender_id, day""", params + params).df()
    columns = ["offender_id", "start_date", "cohort", "note"]
    if offences.empty:
        return pd.DataFrame(columns=columns)
    qualifying = []
    low, high = (np.datetime64(d, "D") for d in IOM_ENTRY)
    for key, days in offences.groupby("offender_id")["day"]:
        days = np.sort(days.to_numpy("datetime64[D]"))
        counts = np.arange(1, len(days) + 1) - np.searchsorted(days, days - 364, side="left")
        hits = np.flatnonzero((counts >= IOM_THRESHOLD) & (days >= low) & (days <= high))
        if len(hits):
            qualifying.append((key, days[hits[0]]))
    if not qualifying:
        return pd.DataFrame(columns=columns)
    picked = rng.choice(len(qualifying), min(IOM_MEMBERS, len(qualifying)), replace=False)
    delay = rng.integers(14, 57, len(picked))
    names = rng.choice(list(IOM_COHORTS), len(picked), p=list(IOM_COHORTS.values()))
    rows = [{"offender_id": qualifying[i][0],
             "start_date": (pd.Timestamp(qualifying[i][1]).date() + timedelta(days=int(d))).isoformat(),
             "cohort": name, "note": NOTE} for i, d, name in zip(picked, delay, names)]
    return pd.DataFrame(rows, columns=columns).sort_values(["cohort", "start_date", "offender_id"],
                                                           ignore_index=True)

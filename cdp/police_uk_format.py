"""Writing incidents out in police.uk street-CSV format (for benchmarks and test fixtures)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from .ingest.police_uk import HEADER


def street_frame(month: str, category: pd.Series, longitude: pd.Series, latitude: pd.Series,
                 location: pd.Series, force: str = "Nottinghamshire Police", seed: int = 0) -> pd.DataFrame:
    """Rows as police.uk publishes them: hashed Crime IDs (none for ASB), 'On or near' locations,
    blank coordinates and 'No location' where the point is unknown."""
    n = len(category)
    category = pd.Series(category).reset_index(drop=True)
    is_asb = category == "Anti-social behaviour"
    ids = [hashlib.sha256(f"{seed}-{month}-{i}".encode()).hexdigest() for i in range(n)]
    lon = pd.Series(longitude).reset_index(drop=True)
    lat = pd.Series(latitude).reset_index(drop=True)
    located = lon.notna() & lat.notna()
    loc_text = pd.Series(location).reset_index(drop=True).fillna("")
    loc_text = np.where(located, "On or near " + loc_text.str.replace(r"^On or near ", "", regex=True),
                        "No Location")
    outcomes = np.where(is_asb, "", "Investigation complete; no suspect identified")
    return pd.DataFrame({
        "Crime ID": np.where(is_asb, "", ids),
        "Month": month,
        "Reported by": force,
        "Falls within": force,
        "Longitude": lon.map(lambda v: "" if pd.isna(v) else f"{v:.6f}"),
        "Latitude": lat.map(lambda v: "" if pd.isna(v) else f"{v:.6f}"),
        "Location": loc_text,
        "LSOA code": "",
        "LSOA name": "",
        "Crime type": category,
        "Last outcome category": outcomes,
        "Context": "",
    })[HEADER]


def write_street_csv(frame: pd.DataFrame, folder: Path, force_slug: str = "nottinghamshire") -> Path:
    """Write one month's rows as YYYY-MM/YYYY-MM-<force>-street.csv, as the archive lays them out."""
    month = frame["Month"].iloc[0]
    path = Path(folder) / month / f"{month}-{force_slug}-street.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path

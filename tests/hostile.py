"""A store of hostile but real-shaped data: markup, links and formulas in every text a file can
carry (premises names, locations, categories, outcomes, premises types, sources, person keys, a
ward name in the boundary file), for the tests that check it all stays text."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from markdown_it import MarkdownIt

from cdp import geography, store
from cdp.ingest import ingest
from conftest import WARDS_FILE

LINK = "[x](http://evil.example/md)"
HTML = '<a href="http://evil.example/html">Z</a>'
BOLD = "<b>BOLD9</b>"
FORMULA = '=HYPERLINK("http://evil.example/f","x")'
AUTOLINK = "www.evil.example"
PREMISES = f"The {LINK} {HTML} Inn"
LOCATION = f"On or near {HTML} {AUTOLINK} Street"
CATEGORY = f"Burglary {BOLD} {LINK}"
WARD = f"Castle {HTML} {LINK}"
CASTLE = "E05012277"
# Traces of markup that would mean text from data became markup: a link to the hostile host (the
# test parser links bare domains, which Streamlit's GFM does not, so the product's own "police.uk"
# is no trace), an image, bold, an e-mail link.
RENDERED = ("<img", "<b>BOLD9", "mailto:")
_LINK_FROM_DATA = re.compile(r"<a\b[^>]*>(?:(?!</a>).)*?evil\.example|<a\b[^>]*evil\.example", re.S)
_MARKDOWN = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "table", "strikethrough"])


def rendered_markdown(source: str) -> str:
    """What a CommonMark parser with autolinks makes of markdown source."""
    return _MARKDOWN.render(source)


def markup_from_data(text: str) -> list[str]:
    """The traces of data-made markup in rendered text (empty when it stayed text)."""
    return [trace for trace in RENDERED if trace in text] + _LINK_FROM_DATA.findall(text)


def hostile_wards(folder: Path) -> Path:
    """The real ward boundaries with Castle's name replaced by markup."""
    wards = geography.load_boundaries(WARDS_FILE)
    wards.loc[wards["ward_code"] == CASTLE, "ward_name"] = WARD
    path = folder / "wards.geojson"
    wards.to_file(path, driver="GeoJSON")
    return path


def hostile_extract(folder: Path, rows: int = 400, seed: int = 3) -> Path:
    """A partner extract around Castle ward over two years: repeat victims and offenders, repeat
    premises and locations, every text column hostile in some rows."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2023-04-01") + pd.to_timedelta(rng.integers(0, 730, rows), unit="D")
    frame = pd.DataFrame({
        "incident_id": [f"H{i}" for i in range(rows)],
        "source": np.where(np.arange(rows) % 10 == 0, f"council {BOLD}", "police"),
        "occurred_at": days.strftime("%Y-%m-%dT%H:%M:00"),
        "category": rng.choice([CATEGORY, "Noise", "Violence and sexual offences", "Shoplifting"], rows),
        "longitude": np.round(-1.1505 + rng.normal(0, 0.002, rows), 6),
        "latitude": np.round(52.9510 + rng.normal(0, 0.0015, rows), 6),
        "location": rng.choice([LOCATION, "On or near Market Street", f"On or near {LINK}"], rows),
        "premises_id": rng.choice(["PR1", "PR2", ""], rows),
        "victim_id": [f"V{i % 40}" if i % 3 else f"V{i % 40}{BOLD}" for i in range(rows)],
        "offender_id": [f"O{i % 30}" for i in range(rows)],
        "flag_asb": np.where(rng.random(rows) < 0.2, "true", "false"),
        "flag_domestic_abuse": np.where(rng.random(rows) < 0.3, "true", "false"),
        "flag_hate_crime": np.where(rng.random(rows) < 0.2, "true", "false"),
        "outcome": rng.choice([FORMULA, "-1", "Charged", f"+{LINK}", "@SUM(A1)"], rows),
    })
    frame["premises_name"] = frame["premises_id"].map({"PR1": PREMISES, "PR2": "The Bell", "": ""})
    frame["premises_type"] = frame["premises_id"].map({"PR1": f"licensed premises {LINK}", "PR2": "shop", "": ""})
    path = folder / "hostile.csv"
    frame.to_csv(path, index=False)
    return path


def hostile_store(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile.duckdb"
    con = store.connect(path)
    ingest(con, "partner", [hostile_extract(folder)], boundaries=hostile_wards(folder))
    con.close()
    return path


def strings_in(value) -> list[str]:
    """Every string inside a figure's JSON (or any nested value)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def figure_markup(spec: str | dict) -> list[str]:
    """Traces of data-made markup in a plotly figure (its JSON spec or dict)."""
    data = json.loads(spec) if isinstance(spec, str) else spec
    return markup_from_data("\n".join(strings_in(data)))

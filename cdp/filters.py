"""The shared filters: one description of a view (period, priorities, wards, categories, people,
places, premises), how it becomes SQL, and how it is written to and read from a page URL."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Callable

import duckdb
import pandas as pd

from . import places
from .counting import counted_condition
from .priorities import PRIORITY_KEYS, count_condition
from .queries import loaded_datasets
from .targets import definitions

AGE_BANDS = ("0-17", "18-24", "25-34", "35-49", "50-64", "65+")
SEXES = ("F", "M", "X")
SEX_WORDS = {"F": "female", "M": "male"}


def month_add(month: date, months: int) -> date:
    """The first of the month `months` after (or before) `month`."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> int:
    """Months from `start` to `end` inclusive."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


@dataclass(frozen=True)
class Filters:
    """A view of the store. Empty tuples mean 'all'. Months are first-of-month dates, inclusive."""
    start: date
    end: date
    priorities: tuple[str, ...] = PRIORITY_KEYS
    wards: tuple[str, ...] = ()
    area: str = ""                     # the NAT area (cdp.areas) whose wards `wards` holds, if any
    categories: tuple[str, ...] = ()   # incident categories (cdp.categories): police.uk or partner
    age_bands: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    vulnerable_only: bool = False
    repeat_only: bool = False
    location_text: str = ""
    premises_types: tuple[str, ...] = ()
    premises_id: str = ""
    radius_m: int = 0
    centre_easting: float | None = None
    centre_northing: float | None = None
    centre_label: str = ""

    @property
    def months(self) -> int:
        return months_between(self.start, self.end)

    def previous_period(self) -> "Filters":
        """The same length of time immediately before."""
        return replace(self, start=month_add(self.start, -self.months), end=month_add(self.start, -1))

    def year_earlier(self) -> "Filters":
        return replace(self, start=month_add(self.start, -12), end=month_add(self.end, -12))

    def with_period(self, start: date, end: date) -> "Filters":
        return replace(self, start=start, end=end)

    def people_places_premises(self) -> dict[str, object]:
        """The filters beyond period, priority and ward that are switched on (for captions)."""
        out = {}
        for f in fields(self):
            if f.name in {"start", "end", "priorities", "wards", "area", "centre_easting", "centre_northing",
                          "centre_label"}:
                continue
            value = getattr(self, f.name)
            if value not in ((), "", False, 0, None):
                out[f.name] = value
        return out


def where(f: Filters, *, period: bool = True, wards: bool = True, priority: str | None = None,
          alias: str = "", counted: bool = True) -> tuple[str, list]:
    """SQL WHERE condition (without the keyword) and its parameters for filters `f`.

    Only counted incidents (cdp.counting: in a loaded ward, not superseded) unless `counted` is
    False, which only the statements of what is not counted use. `priority` restricts to that
    priority's incidents (see priorities.count_condition); without it, to incidents in any
    selected priority.
    """
    p = f"{alias}." if alias else ""
    clauses: list[str] = [counted_condition(alias)] if counted else []
    params: list = []
    if period:
        clauses.append(f"{p}month BETWEEN ? AND ?")
        params += [f.start, f.end]
    if priority:
        clauses.append(count_condition(priority, alias))
    elif f.priorities and set(f.priorities) != set(PRIORITY_KEYS):
        clauses.append("(" + " OR ".join(f"{p}p_{k}" for k in f.priorities) + ")")
    if wards and f.wards:
        clauses.append(f"{p}ward_code IN ({', '.join('?' * len(f.wards))})")
        params += list(f.wards)
    if f.categories:
        clauses.append(f"{p}category IN ({', '.join('?' * len(f.categories))})")
        params += list(f.categories)
    if f.age_bands:
        clauses.append(f"{p}victim_age_band IN ({', '.join('?' * len(f.age_bands))})")
        params += list(f.age_bands)
    if f.sexes:
        clauses.append(f"{p}victim_sex IN ({', '.join('?' * len(f.sexes))})")
        params += list(f.sexes)
    if f.vulnerable_only:
        clauses.append(f"{p}victim_vulnerable")
    if f.repeat_only:  # two counted incidents within the window (cdp.targets), any priority
        clauses.append(f"{p}victim_id IN (SELECT victim_id FROM repeat_victims WHERE shortest_gap <= ?)")
        params.append(definitions().window_days)
    if f.location_text:  # any spelling of the street (cdp.places), e.g. with "On or near"
        clauses.append(f"{places.street_key_sql(p + 'location')} LIKE ? ESCAPE '!'")
        wanted = places.street_key(pd.Series([f.location_text])).iat[0] or ""
        params.append("%" + wanted.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%")
    if f.premises_types:
        clauses.append(f"{p}premises_type IN ({', '.join('?' * len(f.premises_types))})")
        params += list(f.premises_types)
    if f.premises_id:
        clauses.append(f"{p}premises_id = ?")
        params.append(f.premises_id)
    if f.radius_m and f.centre_easting is not None and f.centre_northing is not None:
        clauses.append(f"(({p}easting - ?) * ({p}easting - ?) + ({p}northing - ?) * ({p}northing - ?)) <= ?")
        params += [f.centre_easting, f.centre_easting, f.centre_northing, f.centre_northing,
                   float(f.radius_m) ** 2]
    return (" AND ".join(clauses) or "TRUE"), params


def in_words(f: Filters, text: Callable[[str], str] = str) -> list[str]:
    """The people, places and premises filters switched on, with their values, for a caption:
    'victims aged 18-24 or 25-34', 'within 500 m of <centre>' (categories are said elsewhere).
    Text from data or typed by the user (places, premises, the centre) goes through `text`, e.g.
    cdp.markup.md for markdown or cdp.markup.chart for a plotly title."""
    out = []
    if f.age_bands:
        out.append("victims aged " + " or ".join(f.age_bands))
    if f.sexes:
        out.append("victims recorded as " + " or ".join(SEX_WORDS.get(s, text(s)) for s in f.sexes))
    if f.vulnerable_only:
        out.append("vulnerable victims only")
    if f.repeat_only:
        out.append(f"repeat victims only (two incidents within {definitions().window_days} days)")
    if f.location_text:
        out.append(f"locations matching “{text(f.location_text)}”")
    if f.premises_types:
        out.append("premises: " + ", ".join(text(t) for t in f.premises_types))
    if f.premises_id:
        out.append(f"premises {text(f.premises_id)}")
    if f.radius_m and f.centre_easting is not None and f.centre_northing is not None:
        centre = f.centre_label or f"easting {f.centre_easting:.0f}, northing {f.centre_northing:.0f}"
        out.append(f"within {f.radius_m:,} m of {text(centre)}")
    return out


# --- availability: which filters the loaded data can serve -------------------------------------

FILTER_NEEDS = {
    "age_bands": ("victim_age_band", "victim age bands"),
    "sexes": ("victim_sex", "victim sex"),
    "vulnerable_only": ("victim_vulnerable", "victim vulnerability"),
    "repeat_only": ("victim_id", "victim keys"),
    "location_text": ("location", "location text"),
    "premises_types": ("premises_type", "premises types"),
    "premises_id": ("premises_id", "premises"),
    "radius_m": ("easting", "coordinates"),
}


def availability(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """For each people/places/premises filter: None if the loaded data can serve it, else why not."""
    counts = ", ".join(f"count({column})" for column, _ in FILTER_NEEDS.values())
    row = con.execute(f"SELECT {counts} FROM incidents").fetchall()[0]
    datasets = loaded_datasets(con)
    out = {}
    for (name, (_, what)), n in zip(FILTER_NEEDS.items(), row):
        if n:
            out[name] = None
        elif datasets == {"police_uk"}:
            out[name] = f"police.uk data has no {what}: load a partner extract to use this filter"
        else:
            out[name] = f"the loaded data has no {what}"
    return out


# --- the page URL ------------------------------------------------------------------------------

def to_query(f: Filters, default: Filters) -> dict[str, str]:
    """URL query parameters for `f`, leaving out what equals `default`."""
    out: dict[str, str] = {}
    for fld in fields(f):
        value, base = getattr(f, fld.name), getattr(default, fld.name)
        if value == base:
            continue
        if isinstance(value, tuple):
            out[fld.name] = ",".join(value)
        elif isinstance(value, bool):
            out[fld.name] = "1" if value else "0"
        elif isinstance(value, date):
            out[fld.name] = value.strftime("%Y-%m")
        elif value is None:
            out[fld.name] = ""
        else:
            out[fld.name] = str(value)
    return out


def from_query(query: dict[str, str], default: Filters) -> Filters:
    """Filters from URL query parameters; anything unreadable falls back to the default."""
    values = {}
    for fld in fields(default):
        if fld.name not in query:
            continue
        text, base = query[fld.name], getattr(default, fld.name)
        try:
            if isinstance(base, tuple):
                values[fld.name] = tuple(v for v in text.split(",") if v)
            elif isinstance(base, bool):
                values[fld.name] = text == "1"
            elif isinstance(base, date):
                year, month = map(int, text.split("-"))
                values[fld.name] = date(year, month, 1)
            elif isinstance(base, int):
                values[fld.name] = int(text)
            elif fld.name in ("centre_easting", "centre_northing"):
                values[fld.name] = float(text) if text else None
            else:
                values[fld.name] = text
        except ValueError:
            continue
    f = replace(default, **values)
    if f.start > f.end:
        f = replace(f, start=default.start, end=default.end)
    return replace(f, priorities=tuple(k for k in f.priorities if k in PRIORITY_KEYS) or PRIORITY_KEYS)

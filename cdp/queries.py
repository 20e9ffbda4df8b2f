"""Read-only questions the store answers: counts by ward, what is loaded. Aggregation happens in DuckDB."""
from __future__ import annotations

import re
from datetime import date

import duckdb
import pandas as pd

from . import access
from .priorities import POLICE_UK_CRIME_TYPES, PRIORITIES, count_condition, priority_column
from .store import get_meta, synthetic_note

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def parse_month(text: str, option: str = "month") -> date:
    """'YYYY-MM' as the first day of that month; ValueError naming the option otherwise."""
    if not MONTH.match(text or ""):
        raise ValueError(f"{option} '{text}' is not a month in the form YYYY-MM")
    year, month = map(int, text.split("-"))
    return date(year, month, 1)


def ward_counts(con: duckdb.DuckDBPyConnection, *, priority: str | None = None,
                crime_type: str | None = None, start: date | None = None,
                end: date | None = None) -> pd.DataFrame:
    """One row per ward of the loaded boundaries (0 where none): ward_code, ward_name, count.

    Months from `start` to `end` inclusive. Exactly one of `priority` or `crime_type`.
    """
    if (priority is None) == (crime_type is None):
        raise ValueError("give exactly one of a priority or a crime type")
    if priority is not None:
        condition, params = count_condition(priority, "i"), []
    else:
        if crime_type not in POLICE_UK_CRIME_TYPES:
            known = con.execute("SELECT DISTINCT category FROM incidents").fetchall()
            if crime_type not in {k[0] for k in known}:
                raise ValueError(f"unknown crime type '{crime_type}'; police.uk types are: "
                                 + ", ".join(POLICE_UK_CRIME_TYPES[:14]))
        condition, params = "i.category = ?", [crime_type]
    if start:
        condition += " AND i.month >= ?"
        params.append(start)
    if end:
        condition += " AND i.month <= ?"
        params.append(end)
    return con.execute(f"""
        SELECT w.ward_code, w.ward_name, count(i.ward_code) AS count
        FROM wards w LEFT JOIN incidents i ON i.ward_code = w.ward_code AND {condition}
        GROUP BY w.ward_code, w.ward_name ORDER BY w.ward_code""", params).df()


def status(con: duckdb.DuckDBPyConnection) -> dict:
    """What is loaded: sources, months, rows, priorities, location quality, boundaries, imports."""
    sources = con.execute("""
        SELECT dataset, source, count(*) AS rows, min(month) AS first_month, max(month) AS last_month,
               count(DISTINCT month) AS months,
               sum(CASE WHEN location_status = 'unlocated' THEN 1 ELSE 0 END) AS unlocated,
               sum(CASE WHEN location_status = 'outside_area' THEN 1 ELSE 0 END) AS outside_area
        FROM incidents GROUP BY dataset, source ORDER BY dataset, source""").df()
    sums = ", ".join(f"sum(CASE WHEN {priority_column(p.key)} THEN 1 ELSE 0 END)" for p in PRIORITIES)
    per_priority = con.execute(f"SELECT {sums} FROM incidents").fetchall()[0]
    totals = con.execute("""SELECT count(*), sum(CASE WHEN is_asb THEN 0 ELSE 1 END),
        sum(CASE WHEN is_asb THEN 1 ELSE 0 END),
        sum(CASE WHEN location_status = 'unlocated' THEN 1 ELSE 0 END),
        sum(CASE WHEN location_status = 'outside_area' THEN 1 ELSE 0 END),
        min(month), max(month) FROM incidents""").fetchall()[0]
    imports = con.execute("""SELECT import_id, dataset, files, rows_loaded, rows_replaced, rows_rejected,
        finished_at, result, imported_by FROM imports ORDER BY import_id DESC LIMIT 10""").df()
    wards = con.execute("SELECT count(*) FROM wards").fetchall()[0][0]
    return {
        "sources": sources,
        "priorities": pd.DataFrame({"priority": [p.key for p in PRIORITIES],
                                    "label": [p.label for p in PRIORITIES],
                                    "rows": [int(v or 0) for v in per_priority]}),
        "rows": totals[0], "crimes": int(totals[1] or 0), "asb_incidents": int(totals[2] or 0),
        "unlocated": int(totals[3] or 0), "outside_area": int(totals[4] or 0),
        "first_month": totals[5], "last_month": totals[6],
        "imports": imports, "wards": wards,
        "boundary_source": get_meta(con, "boundary_source"),
        "synthetic_demo": synthetic_note(con),
    }


def loaded_datasets(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Which kinds of data are loaded: 'police_uk', 'partner'."""
    return {r[0] for r in con.execute("SELECT DISTINCT dataset FROM incidents").fetchall()}


def data_months(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """First and last month held in the store (whatever the filters)."""
    first, last = con.execute("SELECT min(month), max(month) FROM incidents").fetchall()[0]
    return first, last


def ward_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Ward code -> ward name for the loaded boundaries, in name order."""
    return dict(con.execute("SELECT ward_code, ward_name FROM wards ORDER BY ward_name").fetchall())


def premises_options(con: duckdb.DuckDBPyConnection,
                     residential_wards: frozenset[str] | bool | None = None,
                     within_wards: frozenset[str] | None = None
                     ) -> dict[str, tuple[str, float | None, float | None]]:
    """Every premises (or those in `within_wards`): id -> (label "name (type)", easting, northing).

    Residential premises are labelled by their key alone outside `residential_wards` (a viewer's
    Viewer.residential_wards: None names them everywhere; True/False as before: everywhere/nowhere).
    A premises' ward is the ward most of its incidents fall in."""
    if isinstance(residential_wards, bool):
        residential_wards = None if residential_wards else frozenset()
    rows = con.execute("""SELECT premises_id, any_value(premises_name), any_value(premises_type),
            avg(easting), avg(northing), mode(ward_code) FROM incidents WHERE premises_id IS NOT NULL
            GROUP BY premises_id ORDER BY 2, 1""").fetchall()
    return {key: (access.premises_label(key, name, kind, ward, residential_wards), east, north)
            for key, name, kind, east, north, ward in rows
            if within_wards is None or ward in within_wards}


def has_victim_keys(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any loaded incident has a victim key (police.uk data has none)."""
    return bool(con.execute("SELECT count(victim_id) > 0 FROM incidents").fetchall()[0][0])

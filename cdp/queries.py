"""Read-only questions the store answers: counts by ward, what is loaded. Aggregation happens in DuckDB."""
from __future__ import annotations

import re
from datetime import date

import duckdb
import pandas as pd

from . import access, counting, places
from .priorities import POLICE_UK_CRIME_TYPES, PRIORITIES, count_condition
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

    Counted incidents only (cdp.counting). Months from `start` to `end` inclusive. Exactly one of
    `priority` or `crime_type` (a police.uk crime type or stored category, in any case).
    """
    if (priority is None) == (crime_type is None):
        raise ValueError("give exactly one of a priority or a crime type")
    if priority is not None:
        condition, params = count_condition(priority, "i"), []
    else:
        # Matched without regard to case: 'burglary' is the police.uk and any partner 'Burglary'.
        known = {t.lower() for t in POLICE_UK_CRIME_TYPES} | {
            k.lower() for (k,) in con.execute("SELECT DISTINCT category FROM incidents "
                                              "WHERE category IS NOT NULL").fetchall()}
        if crime_type.strip().lower() not in known:
            raise ValueError(f"unknown crime type '{crime_type}'; police.uk types are: "
                             + ", ".join(POLICE_UK_CRIME_TYPES[:14]))
        condition, params = "lower(i.category) = ?", [crime_type.strip().lower()]
    condition += " AND " + counting.counted_condition("i")
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
    """What is loaded and what of it is counted: sources, months, priorities, boundaries, imports.

    `sources`: one row per dataset and source with its rows, counted rows, what is not counted
    (outside the area, unlocated, superseded), first and last month and the months it covers.
    Totals: rows (stored), counted, crimes and asb_incidents (counted), and not_counted
    (cdp.counting.NotCounted over everything stored).
    """
    sources = con.execute("""
        SELECT dataset, source, sum(rows)::BIGINT AS rows,
               sum(CASE WHEN superseded THEN 0 ELSE in_area END)::BIGINT AS counted,
               sum(CASE WHEN superseded THEN 0 ELSE outside_area END)::BIGINT AS outside_area,
               sum(CASE WHEN superseded THEN 0 ELSE unlocated END)::BIGINT AS unlocated,
               sum(CASE WHEN superseded THEN rows ELSE 0 END)::BIGINT AS superseded,
               min(month) FILTER (WHERE rows > 0) AS first_month,
               max(month) FILTER (WHERE rows > 0) AS last_month,
               count(*) FILTER (WHERE covered) AS months_covered
        FROM source_months GROUP BY dataset, source ORDER BY dataset, source""").df()
    counted = counting.counted_condition()
    sums = ", ".join(f"count(*) FILTER (WHERE {count_condition(p.key)})" for p in PRIORITIES)
    per_priority = con.execute(f"SELECT {sums} FROM incidents WHERE {counted}").fetchall()[0]
    totals = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE {counted}),
        count(*) FILTER (WHERE {counted} AND NOT is_asb), count(*) FILTER (WHERE {counted} AND is_asb),
        {counting.NOT_COUNTED_SQL}, min(month), max(month) FROM incidents""").fetchall()[0]
    imports = con.execute("""SELECT import_id, dataset, files, rows_loaded, rows_replaced, rows_rejected,
        finished_at, result, imported_by FROM imports ORDER BY import_id DESC LIMIT 10""").df()
    wards = con.execute("SELECT count(*) FROM wards").fetchall()[0][0]
    return {
        "sources": sources,
        "priorities": pd.DataFrame({"priority": [p.key for p in PRIORITIES],
                                    "label": [p.label for p in PRIORITIES],
                                    "counted": [int(v or 0) for v in per_priority]}),
        "rows": totals[0], "counted": int(totals[1] or 0), "crimes": int(totals[2] or 0),
        "asb_incidents": int(totals[3] or 0),
        "not_counted": counting.NotCounted(*(int(v or 0) for v in totals[4:8])),
        "first_month": totals[8], "last_month": totals[9],
        "imports": imports, "wards": wards,
        "boundary_source": get_meta(con, "boundary_source"),
        "synthetic_demo": synthetic_note(con),
        "force_extracts": counting.force_extracts(),
    }


def month_sources(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Month by month, where each figure comes from: one row per month (newest first), one column
    per source ("police.uk: <force>", "partner: <source>") reading "1,234 counted",
    "superseded", "part of the month" or "", and `complete` (every source of records covers it)."""
    table = counting.months(con).table
    if table.empty:
        return pd.DataFrame(columns=["month", "complete"])
    names = {"police_uk": "police.uk", "partner": "partner"}
    table = table.assign(column=[f"{names[d]}: {s}" for d, s in zip(table["dataset"], table["source"])])

    def cell(row) -> str:
        if row.superseded:
            return f"superseded ({row.rows:,} kept)"
        text = f"{row.in_area:,} counted"
        return text if row.covered else f"{text}, part of the month"

    table["cell"] = [cell(r) for r in table.itertuples()]
    frame = table.pivot(index="month", columns="column", values="cell").fillna("")
    complete = set(counting.Months(table).complete_months())
    frame.insert(0, "complete", [m.date() in complete for m in frame.index])
    frame = frame.sort_index(ascending=False).reset_index()
    frame["month"] = frame["month"].dt.strftime("%b %Y")
    frame.columns.name = None
    return frame


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
    """Every premises with counted incidents (or those in `within_wards`): id -> (label, easting,
    northing). Premises sharing a name show their street and ID (cdp.places); residential premises
    are labelled by their key alone outside `residential_wards` (a viewer's
    Viewer.residential_wards: None names them everywhere; True/False: everywhere/nowhere).
    A premises' ward is the ward most of its incidents fall in."""
    if isinstance(residential_wards, bool):
        residential_wards = None if residential_wards else frozenset()
    table = places.premises_table(con)
    return {r.premises_id: (access.premises_label(r.premises_id, r.label, r.type, r.ward, residential_wards),
                            None if pd.isna(r.easting) else r.easting,
                            None if pd.isna(r.northing) else r.northing)
            for r in table.itertuples()
            if within_wards is None or r.ward in within_wards}


def has_victim_keys(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any loaded incident has a victim key (police.uk data has none)."""
    return bool(con.execute("SELECT count(victim_id) > 0 FROM incidents").fetchall()[0][0])

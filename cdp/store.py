"""The embedded DuckDB store: its schema (as numbered migrations) and transactions.

This module is the one place that defines the store's schema.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from .priorities import PRIORITY_COLUMNS

_PRIORITY_DDL = ",\n    ".join(f"{col} BOOLEAN NOT NULL DEFAULT FALSE" for col in PRIORITY_COLUMNS.values())

# Victims with two incidents within 365 days of each other, in any priority (DESIGN.md). The
# "repeat victims only" filter reads the table built from it; imports refresh it.
# Days are compared, as in cdp.repeats: 365 days apart counts, 366 does not.
REPEAT_VICTIMS_SQL = """
    SELECT DISTINCT victim_id FROM (
        SELECT victim_id, coalesce(occurred_at, month)::DATE AS day,
               lag(coalesce(occurred_at, month)::DATE) OVER (
                   PARTITION BY victim_id ORDER BY coalesce(occurred_at, month)) AS previous_day
        FROM incidents WHERE victim_id IS NOT NULL)
    WHERE day - previous_day <= 365"""

# Each migration is applied once, in order, inside one transaction. Never edit a released one:
# add a new one.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "incidents, imports, wards, meta", [
        f"""
        CREATE TABLE incidents (
            dataset VARCHAR NOT NULL,          -- 'police_uk' or 'partner'
            source VARCHAR NOT NULL,           -- police.uk force ('Falls within') or partner system
            incident_id VARCHAR,               -- Crime ID (NULL for police.uk ASB) or partner id
            month DATE NOT NULL,               -- first day of the month
            occurred_at TIMESTAMP,             -- exact date or date-time where known
            time_precision VARCHAR NOT NULL,   -- 'month', 'day' or 'datetime'
            category VARCHAR NOT NULL,
            is_asb BOOLEAN NOT NULL,           -- an ASB incident: never added into crime totals
            {_PRIORITY_DDL},
            flag_alcohol BOOLEAN NOT NULL DEFAULT FALSE,
            flag_drugs BOOLEAN NOT NULL DEFAULT FALSE,
            flag_domestic_abuse BOOLEAN NOT NULL DEFAULT FALSE,
            flag_sexual_violence BOOLEAN NOT NULL DEFAULT FALSE,
            flag_modern_slavery BOOLEAN NOT NULL DEFAULT FALSE,
            flag_exploitation BOOLEAN NOT NULL DEFAULT FALSE,
            hate_strand VARCHAR,
            weapon_type VARCHAR,
            longitude DOUBLE,
            latitude DOUBLE,
            easting DOUBLE,
            northing DOUBLE,
            location_status VARCHAR NOT NULL,  -- 'in_area', 'outside_area' or 'unlocated'
            ward_code VARCHAR,                 -- NULL unless in_area
            lsoa_code VARCHAR,
            lsoa_name VARCHAR,
            location VARCHAR,
            premises_id VARCHAR,
            premises_name VARCHAR,
            premises_type VARCHAR,
            victim_id VARCHAR,
            offender_id VARCHAR,
            victim_age_band VARCHAR,
            victim_sex VARCHAR,
            victim_vulnerable BOOLEAN,
            offender_age_band VARCHAR,
            outcome VARCHAR,
            import_id INTEGER NOT NULL
        )""",
        """
        CREATE TABLE imports (
            import_id INTEGER PRIMARY KEY,
            dataset VARCHAR NOT NULL,
            files VARCHAR NOT NULL,
            rows_loaded BIGINT NOT NULL,
            rows_replaced BIGINT NOT NULL,
            rows_rejected BIGINT NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            result VARCHAR NOT NULL,
            imported_by VARCHAR
        )""",
        """
        CREATE TABLE wards (
            ward_code VARCHAR PRIMARY KEY,
            ward_name VARCHAR NOT NULL,
            geometry_wkb BLOB NOT NULL         -- WGS84
        )""",
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    ]),
    (2, "repeat victims kept as a table, refreshed by every import", [
        "DROP VIEW IF EXISTS repeat_victims",  # stores made before this release had a view
        "CREATE TABLE repeat_victims (victim_id VARCHAR PRIMARY KEY)",
        f"INSERT INTO repeat_victims {REPEAT_VICTIMS_SQL}",
    ]),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the store's schema up to date; returns the version reached."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)")
    applied = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, description, statements in MIGRATIONS:
        if version in applied:
            continue
        with transaction(con):
            for sql in statements:
                con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, description])
    return SCHEMA_VERSION


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store at `path`, migrated to the current schema."""
    path = Path(path)
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    migrate(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends, roll back if it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def refresh_derived(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the tables derived from incidents (call inside the import's transaction)."""
    con.execute("DELETE FROM repeat_victims")
    con.execute(f"INSERT INTO repeat_victims {REPEAT_VICTIMS_SQL}")


# meta key marking a store that holds synthetic demo data (its value describes the data).
SYNTHETIC_DEMO = "synthetic_demo"


def synthetic_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """The description of the synthetic demo data the store holds, or None for real data."""
    return get_meta(con, SYNTHETIC_DEMO)


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def incident_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]


def next_import_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM imports").fetchall()[0][0]

"""The store: where it is (a setting), its schema (numbered migrations), connections, transactions.

This module is the one place that defines the store's schema and how it is opened. The store is
either the embedded DuckDB file (the default, `data/cdp.duckdb`; many processes of one machine
share it, see cdp.embedded) or a DuckLake: a PostgreSQL (or SQLite) catalog with its data files
under a data path, shared by several servers with snapshot isolation (see cdp.lake). Both run
the same schema, migrations and queries: a lake is attached and put in use (`ATTACH`, `USE`).

SQL that must work on both: no PRIMARY KEY / UNIQUE constraints beyond the released migrations
(the lake's form of those drops them; the code keeps keys unique by DELETE then INSERT inside one
transaction), no `INSERT OR REPLACE` / `ON CONFLICT`, no `rowid`, no indexes.
"""
from __future__ import annotations

import fcntl
import os
import random
import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import duckdb

from . import config, counting, embedded, lake
from .embedded import Busy
from .priorities import PRIORITY_COLUMNS

T = TypeVar("T")

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

# From migration 3: every victim with two or more counted incidents (cdp.counting: a victim's
# incidents outside the loaded wards, unlocated or superseded do not count, as in every figure)
# and the fewest days between two of them. The "repeat victims only" filter picks those within
# the configured window (cdp.targets; 365 days by default).
REPEAT_GAPS_SQL = f"""
    SELECT victim_id, min(day - previous_day) AS shortest_gap FROM (
        SELECT victim_id, coalesce(occurred_at, month)::DATE AS day,
               lag(coalesce(occurred_at, month)::DATE) OVER (
                   PARTITION BY victim_id ORDER BY coalesce(occurred_at, month)) AS previous_day
        FROM incidents WHERE victim_id IS NOT NULL AND {counting.counted_condition()})
    WHERE previous_day IS NOT NULL GROUP BY victim_id"""

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
    (3, "what is counted: coverage per source and month, superseded rows, wards in their own CRS", [
        # DEFAULT 0, not FALSE: DuckLake adds a column only with a literal default (FALSE is a cast).
        "ALTER TABLE incidents ADD COLUMN superseded BOOLEAN DEFAULT 0",
        counting.SOURCE_MONTHS_DDL,
        # The boundary file's own geometry and CRS (WKT), beside the WGS84 copy in `wards` that
        # maps draw: incidents are placed by point-in-polygon in this one. No rows: WGS84.
        "CREATE TABLE ward_shapes (ward_code VARCHAR NOT NULL, geometry_wkb BLOB NOT NULL, "
        "crs VARCHAR NOT NULL)",
        *counting.refresh_statements(counting.parse_force_extracts(None)),
        "ALTER TABLE repeat_victims ADD COLUMN shortest_gap INTEGER",
        "DELETE FROM repeat_victims",
        f"INSERT INTO repeat_victims BY NAME {REPEAT_GAPS_SQL}",
    ]),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


# The store's own bookkeeping, kept outside the numbered migrations: which migrations ran, and the
# one row every write transaction updates first. Two writers of a lake that run at once both
# update that row, so the one that commits second always conflicts, is rolled back and is retried
# on the new data (see `retrying`): imports land one after another, and an import's id and the
# derived tables are never computed from a snapshot another import has moved on from.
_BOOKKEEPING = [
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS store_writes (writer VARCHAR, written_at TIMESTAMP)",
]
_CONSTRAINTS = re.compile(r",\s*(?:PRIMARY KEY|UNIQUE)\s*\([^)]*\)|\s+(?:PRIMARY KEY|UNIQUE)\b")


def ddl_for(sql: str, is_lake: bool) -> str:
    """A migration statement as the engine takes it: DuckLake has no PRIMARY KEY or UNIQUE
    constraints, so a lake's tables are made without them (released migrations keep their meaning
    on DuckDB files; on both engines the code keeps keys unique by DELETE then INSERT)."""
    return _CONSTRAINTS.sub("", sql) if is_lake else sql


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the store's schema up to date; returns the version reached.

    Several processes may start on a new lake at once: the one that loses a race retries and
    finds the migration done."""
    is_lake = lake.is_lake(con)

    def run() -> None:
        if not _has_tables(con, "schema_migrations", "store_writes"):
            with transaction(con, claim=False):
                for sql in _BOOKKEEPING:
                    con.execute(ddl_for(sql, is_lake))
                if not con.execute("SELECT count(*) FROM store_writes").fetchall()[0][0]:
                    con.execute("INSERT INTO store_writes VALUES (?, now())", [_writer()])
        applied = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, description, statements in MIGRATIONS:
            if version in applied:
                continue
            with transaction(con):
                if con.execute("SELECT count(*) FROM schema_migrations WHERE version = ?",
                               [version]).fetchall()[0][0]:
                    continue  # applied meanwhile by another process
                for sql in statements:
                    con.execute(ddl_for(sql, is_lake))
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, description])

    retrying(run)
    return SCHEMA_VERSION


def _has_tables(con: duckdb.DuckDBPyConnection, *names: str) -> bool:
    found = con.execute("SELECT count(DISTINCT table_name) FROM duckdb_tables() WHERE database_name = "
                        "current_database() AND schema_name = current_schema() AND table_name IN "
                        f"({', '.join('?' for _ in names)})", list(names)).fetchall()[0][0]
    return found == len(names)


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store's schema is up to date (a read-only connection cannot migrate it)."""
    if not _has_tables(con, "schema_migrations", "store_writes"):
        return False
    version = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]
    return version >= SCHEMA_VERSION


class StoreError(Exception):
    """The store cannot be used now; the message says which store and why (never a password)."""


class Conflict(StoreError):
    """Another process changed the store at the same time and committed first: nothing of this
    transaction was written; run it again (see `retrying`)."""


class Unavailable(StoreError):
    """The store cannot be opened (catalog server down, wrong setting, missing extension)."""


_CONFLICT = re.compile(r"conflict|database is locked", re.IGNORECASE)


def _writer() -> str:
    return f"{socket.gethostname()} PID {os.getpid()}"


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, claim: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends, roll back if it raises.

    Every write transaction first claims the store (updates its one `store_writes` row), so two
    at once conflict; the second to commit raises Conflict, having written nothing."""
    try:
        with _one_writer_per_sqlite_catalog(con):
            con.execute("BEGIN TRANSACTION")
            try:
                if claim:
                    con.execute("UPDATE store_writes SET writer = ?, written_at = now()", [_writer()])
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
    except duckdb.Error as exc:  # a SQLite catalog says "database is locked", at any statement
        if _CONFLICT.search(str(exc)):
            raise Conflict(f"another process changed the store at the same time: {lake.mask(str(exc))}") from exc
        raise


@contextmanager
def _one_writer_per_sqlite_catalog(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A SQLite catalog (always on this machine) takes one write transaction at a time: SQLite has
    no wait of its own for DuckLake, so overlapping writers would fail. Writers queue on a lock
    file beside it (released by the system if the process dies)."""
    catalog = lake.sqlite_catalog(con)
    if catalog is None:
        yield
        return
    with open(f"{catalog}.write-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def retrying(fn: Callable[[], T], attempts: int = 8,
             on_retry: Callable[[Conflict], None] | None = None) -> T:
    """Run `fn` (which writes in one transaction) again, on the new data, each time it loses a
    race with another writer (Conflict); gives up after `attempts`."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Conflict as conflict:
            if attempt == attempts:
                raise
            if on_retry:
                on_retry(conflict)
            time.sleep(min(0.1 * 2 ** attempt, 5.0) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


# --- where the store is --------------------------------------------------------------------------

@dataclass(frozen=True)
class Location:
    """Where the store is: an embedded DuckDB file, or a DuckLake catalog and its data path."""
    kind: str                     # "duckdb" or "ducklake"
    path: Path | None = None      # the DuckDB file
    catalog: str | None = None    # "postgres:<libpq connection string>" or "sqlite:<path>"
    data_path: str | None = None  # where a lake's data files are (CDP_DATA_PATH)

    @property
    def is_lake(self) -> bool:
        return self.kind == "ducklake"

    def __str__(self) -> str:
        return lake.mask(f"ducklake:{self.catalog}") if self.is_lake else str(self.path)

    def files(self) -> list[Path]:
        """The local files and folders that belong to the store (nothing may be written over them)."""
        if not self.is_lake:
            return [self.path, self.path.with_name(self.path.name + ".wal"), embedded.request_path(self.path)]
        found = []
        if self.catalog.startswith("sqlite:"):
            catalog = Path(self.catalog.split(":", 1)[1])
            found += [catalog, catalog.with_name(catalog.name + ".write-lock")]
        if self.data_path and "://" not in self.data_path:
            found.append(Path(self.data_path))
        return found


def exists(where: str | Path | Location | None = None) -> bool:
    """Whether the store is there already (`connect` would otherwise create it). A PostgreSQL
    catalog is taken as there: only connecting tells (and a new lake needs CDP_DATA_PATH)."""
    loc = locate(where)
    if not loc.is_lake:
        return loc.path.exists()
    if loc.catalog.startswith("sqlite:"):
        return Path(loc.catalog.split(":", 1)[1]).exists()
    return True


LAKE_FORMS = ("ducklake:postgres:<libpq connection string>", "ducklake:sqlite:<catalog file>")


def locate(where: str | Path | Location | None = None, db: str | Path | None = None) -> Location:
    """The store named by `where` (`--store`), else `db` (`--db`), else CDP_STORE, else CDP_DB,
    else data/cdp.duckdb. A lake's data path comes from CDP_DATA_PATH."""
    if isinstance(where, Location):
        return where
    setting = str(where) if where else config.store_setting(db)
    if not setting.startswith("ducklake:"):
        return Location("duckdb", path=Path(setting).expanduser())
    catalog = setting[len("ducklake:"):]
    kind, _, target = catalog.partition(":")
    if kind not in lake.CATALOG_EXTENSION or not target.strip():
        raise Unavailable(f"{lake.mask(setting)}: a DuckLake store is named {' or '.join(LAKE_FORMS)}")
    data_path = config.data_path_setting()
    if kind == "sqlite":
        catalog_file = Path(target).expanduser().resolve()
        catalog = f"sqlite:{catalog_file}"
        if not data_path and not catalog_file.exists():
            data_path = str(catalog_file.with_name(catalog_file.name + ".files"))
    if data_path and "://" not in data_path:
        data_path = str(Path(data_path).expanduser().resolve()) + "/"
    return Location("ducklake", catalog=catalog, data_path=data_path)


# --- connections ---------------------------------------------------------------------------------

# How long a command waits for the store to be free before saying it cannot run.
DEFAULT_WAIT = 600.0


def connect(where: str | Path | Location | None = None, read_only: bool = False, *,
            wait: float = DEFAULT_WAIT, waiting: Callable[[str], None] | None = None
            ) -> duckdb.DuckDBPyConnection:
    """A connection to the store (creating it if needed, migrated to the current schema).

    On the embedded file a read-only connection shares the file with other readers and a
    read-write one has it alone: either waits up to `wait` seconds for the file (telling
    `waiting`, once, in one line, what holds it), then raises Busy. Close it when done."""
    loc = locate(where)
    if loc.is_lake:
        con = _attach(loc, read_only)
        if read_only and not is_current(con):
            con.close()
            connect(loc, wait=wait, waiting=waiting).close()
            con = _attach(loc, read_only)
        elif not read_only:
            migrate(con)
        return con
    if read_only:
        if not loc.path.exists():
            connect(loc, wait=wait, waiting=waiting).close()
        con = embedded.open_for_reading(loc.path, wait, waiting)
        if not is_current(con):
            con.close()
            connect(loc, wait=wait, waiting=waiting).close()
            con = embedded.open_for_reading(loc.path, wait, waiting)
        return con
    con = embedded.open_for_writing(loc.path, wait, waiting)
    try:
        migrate(con)
    except BaseException:
        con.close()
        raise
    return con


def _attach(loc: Location, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return lake.attach(loc.catalog, loc.data_path, read_only)
    except lake.ExtensionMissing as exc:
        raise Unavailable(str(exc)) from None
    except duckdb.Error as exc:
        if "data_path is not set" in str(exc):
            raise Unavailable(f"{loc} is a new lake: set CDP_DATA_PATH to the folder (or object-store "
                              "URL) for its data files") from None
        reason = lake.mask(str(exc)).replace("\n", " ")
        raise Unavailable(f"cannot open the store {loc}: {reason}") from None


def copy_tables(source: duckdb.DuckDBPyConnection, target: duckdb.DuckDBPyConnection) -> list[str]:
    """Copy every table of store `source` over the same tables of store `target` (both migrated to
    the current schema), in one transaction on `target`, streamed; returns the tables copied.
    Moves an embedded store to a lake, or makes a copy of either kind."""
    tables = [r[0] for r in source.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND "
        "schema_name = current_schema() AND table_name NOT IN ('schema_migrations', 'store_writes') "
        "ORDER BY table_name").fetchall()]
    with transaction(target):
        for table in tables:
            batches = source.execute(f'SELECT * FROM "{table}"').to_arrow_reader(100_000)
            target.register("_copied", batches)
            target.execute(f'DELETE FROM "{table}"')
            target.execute(f'INSERT INTO "{table}" SELECT * FROM _copied')
            target.unregister("_copied")
    return tables


class Shared:
    """A server process's use of one store: many short reads from every thread, the odd write.

    On the embedded file, reads go through the process's long-lived read-only open, released
    whenever a writer asks (cdp.embedded.Reader); a write has the file alone while it runs. On a
    lake, one attached database serves every thread, and DuckLake's snapshots keep readers and
    writers apart."""

    def __init__(self, loc: Location):
        self.location = loc
        self._lock = threading.Lock()
        self._ready = False
        self._lake: duckdb.DuckDBPyConnection | None = None

    def _prepare(self) -> None:
        with self._lock:
            if self._ready:
                return
            if self.location.is_lake:
                self._lake = connect(self.location)
            elif not self.location.path.exists():
                connect(self.location, wait=0).close()
            else:
                with embedded.reader(self.location.path).connect() as con:
                    current = is_current(con)
                if not current:
                    embedded.release(self.location.path)
                    connect(self.location, wait=0).close()
            self._ready = True

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A connection for reads (close it when done); raises Busy while another process writes
        the embedded file."""
        self._prepare()
        if self._lake is not None:
            return lake.use(self._lake)
        return embedded.reader(self.location.path).connect()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reads, closed after the block. On a lake, a catalog that cannot be
        reached raises Unavailable (and is attached afresh next time); a SQLite catalog in the
        middle of a commit raises Busy."""
        con = self.connection()
        try:
            yield con
        except duckdb.Error as exc:
            if self._lake is None:
                raise
            if "database is locked" in str(exc):
                raise Busy(str(self.location), "another process committing an import", writing=True) from None
            if isinstance(exc, (duckdb.IOException, duckdb.ConnectionException)):
                with self._lock:
                    self._lake, self._ready = None, False
                reason = lake.mask(str(exc)).replace("\n", " ")
                raise Unavailable(f"the store {self.location} cannot be reached: {reason}") from None
            raise
        finally:
            con.close()

    @contextmanager
    def writing(self, wait: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one write (its own transaction; see `retrying` for a lake's races)."""
        self._prepare()
        if self._lake is not None:
            con = lake.use(self._lake)
        else:
            embedded.release(self.location.path)
            con = embedded.open_for_writing(self.location.path, wait)
        try:
            yield con
        finally:
            con.close()


_SHARED: dict[Location, Shared] = {}
_SHARED_LOCK = threading.Lock()


def shared(where: str | Path | Location | None = None) -> Shared:
    """This process's Shared use of the store (one per store)."""
    loc = locate(where)
    with _SHARED_LOCK:
        if loc not in _SHARED:
            _SHARED[loc] = Shared(loc)
        return _SHARED[loc]


def refresh_derived(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild what is derived from incidents (call inside the import's transaction): coverage
    per source and month and superseded rows (cdp.counting), then the repeat victims."""
    counting.refresh(con)
    con.execute("DELETE FROM repeat_victims")
    con.execute(f"INSERT INTO repeat_victims BY NAME {REPEAT_GAPS_SQL}")


# meta key marking a store that holds synthetic demo data (its value describes the data).
SYNTHETIC_DEMO = "synthetic_demo"


def synthetic_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """The description of the synthetic demo data the store holds, or None for real data."""
    return get_meta(con, SYNTHETIC_DEMO)


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Set `key` (call inside a transaction: the delete and the insert land together)."""
    con.execute("DELETE FROM meta WHERE key = ?", [key])
    con.execute("INSERT INTO meta VALUES (?, ?)", [key, value])


def incident_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]


def next_import_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM imports").fetchall()[0][0]

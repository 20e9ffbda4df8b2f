"""DuckLake: the shared store's engine (a PostgreSQL or SQLite catalog and a data path).

DuckDB extensions are never downloaded: the signed binaries come from the registry packages
`duckdb-extension-ducklake`, `-postgres-scanner` and `-sqlite-scanner` (pinned beside `duckdb` in
requirements.txt) and are loaded from where pip installed them, with DuckDB's signature checks on.
Credentials never appear in a setting or a message: libpq reads them from the environment
(PGPASSWORD, PGSERVICEFILE, ~/.pgpass), and any `password=` in a connection string is masked.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import duckdb

CATALOG = "cdp"  # the name the lake is attached as; every query runs with `USE cdp`
# catalog kind -> (DuckDB extension, the registry package that ships it)
EXTENSIONS = {
    "ducklake": "duckdb_extension_ducklake",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
}
CATALOG_EXTENSION = {"postgres": "postgres_scanner", "sqlite": "sqlite_scanner"}
# No extension is ever fetched or loaded behind our back; unsigned binaries are refused.
CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
          "allow_unsigned_extensions": False}

_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]+:)([^@\s]+)(@)")


class ExtensionMissing(RuntimeError):
    """An extension package is not installed; the message says which and how to install it."""


def mask(text: str) -> str:
    """`text` with any password in a libpq connection string replaced by ***."""
    return _URI_PASSWORD.sub(r"\1***\3", _PASSWORD.sub(r"\1***", text))


def extension_file(name: str) -> Path:
    """The `.duckdb_extension` file of extension `name` for this DuckDB version, from its package."""
    package = EXTENSIONS[name]
    spec = importlib.util.find_spec(package)
    version = f"v{duckdb.__version__}"
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionMissing(f"the DuckDB extension {name} is not installed: pip install "
                               f"{package.replace('_', '-')}=={duckdb.__version__} "
                               "(requirements.txt pins it)")
    path = Path(list(spec.submodule_search_locations)[0]) / "extensions" / version / f"{name}.duckdb_extension"
    if not path.exists():
        raise ExtensionMissing(f"{path} is missing: the package {package.replace('_', '-')} does "
                               f"not match duckdb {duckdb.__version__}; install the same version")
    return path


def load_extensions(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    for name in names:
        con.execute(f"LOAD '{_quote(str(extension_file(name)))}'")


def _quote(text: str) -> str:
    return text.replace("'", "''")


def attach(catalog: str, data_path: str | None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with the lake `ducklake:<catalog>` attached as `cdp` and in use.

    `catalog` is `postgres:<libpq connection string>` or `sqlite:<path>`. `data_path` is needed
    only when the lake is created (the catalog remembers it)."""
    kind = catalog.split(":", 1)[0]
    con = duckdb.connect(config=CONFIG)
    try:
        load_extensions(con, "ducklake", CATALOG_EXTENSION[kind])
        options = []
        if data_path:
            options.append(f"DATA_PATH '{_quote(data_path)}'")
        if read_only:
            options.append("READ_ONLY")
        suffix = f" ({', '.join(options)})" if options else ""
        con.execute(f"ATTACH '{_quote('ducklake:' + catalog)}' AS {CATALOG}{suffix}")
        con.execute(f"USE {CATALOG}")
    except BaseException:
        con.close()
        raise
    return con


def use(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection (cursor) of `con`'s database, querying the lake by default."""
    cursor = con.cursor()
    cursor.execute(f"USE {CATALOG}")
    return cursor


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con` queries a DuckLake by default."""
    rows = con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return bool(rows) and rows[0][0] == "ducklake"


def sqlite_catalog(con: duckdb.DuckDBPyConnection) -> str | None:
    """The catalog file when `con` queries a lake whose catalog is SQLite, else None."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database() "
                       "AND type = 'ducklake'").fetchall()
    path = rows[0][0] if rows else None
    return path[len("sqlite:"):] if path and path.startswith("sqlite:") else None

"""Where things are: the store, the reference files, the caches. Environment variables override."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
# The default area's reference data, shipped with the checkout (Open Government Licence): Nottingham's
# 20 wards, the LSOA-ward lookup and IMD 2019 ward scores. See geo/README.md.
SHIPPED_GEO_DIR = PROJECT_ROOT / "geo"
GEO_CACHE_DIR = SHIPPED_GEO_DIR / "cache"
# The partnership's shared reference folder, when the checkout sits beside it.
SHARED_GEO_DIR = PROJECT_ROOT.parent / "shared" / "geo"
DEFAULT_WARDS_FILE = "nottingham_wards.gpkg"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def setting_path(name: str) -> Path | None:
    """The file an environment variable names (None when it is unset or blank)."""
    return _env_path(name)


def db_path(override: str | Path | None = None) -> Path:
    """The DuckDB store file: `--db`, else CDP_DB, else data/cdp.duckdb (see store_setting)."""
    if override:
        return Path(override).expanduser()
    return _env_path("CDP_DB") or DATA_DIR / "cdp.duckdb"


def store_setting(db: str | Path | None = None) -> str:
    """Which store (cdp.store.locate reads it): `--db`, else CDP_STORE (a DuckDB file or a DuckLake
    catalog), else CDP_DB, else data/cdp.duckdb."""
    if db:
        return str(Path(db).expanduser())
    return os.environ.get("CDP_STORE", "").strip() or str(db_path())


def data_path_setting() -> str | None:
    """Where a DuckLake store keeps its data files (CDP_DATA_PATH): a folder or an object-store URL."""
    return os.environ.get("CDP_DATA_PATH", "").strip() or None


def boundaries_path(override: str | Path | None = None) -> Path | None:
    """A configured ward boundary file (`--boundaries` or CDP_BOUNDARIES), if any."""
    if override:
        return Path(override).expanduser()
    return _env_path("CDP_BOUNDARIES")


def reference_file(env_name: str, default_name: str) -> Path | None:
    """A reference file: the env variable if set, else the copy shipped in geo/, else the shared
    folder's copy, if present."""
    configured = _env_path(env_name)
    if configured:
        return configured
    for folder in (SHIPPED_GEO_DIR, SHARED_GEO_DIR):
        if (folder / default_name).exists():
            return folder / default_name
    return None


def ons_ward_codes() -> tuple[str, ...] | None:
    """CDP_WARD_CODES: the ward codes of another area to download from the ONS, if set."""
    text = os.environ.get("CDP_WARD_CODES", "")
    codes = tuple(dict.fromkeys(c.strip().upper() for c in text.replace(";", ",").split(",") if c.strip()))
    return codes or None


def imd_path() -> Path | None:
    return reference_file("CDP_IMD", "nottingham_ward_imd2019.csv")


def population_path() -> Path | None:
    return _env_path("CDP_POPULATION")


def upload_dir() -> Path:
    """Where uploaded files wait while they are imported (private folders, removed afterwards)."""
    return _env_path("CDP_UPLOAD_DIR") or DATA_DIR / "uploads"


def audit_log_path() -> Path:
    return _env_path("CDP_AUDIT_LOG") or DATA_DIR / "audit.log"


CONFIG_DIR = PROJECT_ROOT / "config"


def access_path() -> Path:
    """Who may see what once logins are configured: CDP_ACCESS, else config/access.toml."""
    return _env_path("CDP_ACCESS") or CONFIG_DIR / "access.toml"


def areas_path() -> Path:
    """Neighbourhood Action Team areas (groups of wards): CDP_AREAS, else config/areas.toml."""
    return _env_path("CDP_AREAS") or CONFIG_DIR / "areas.toml"


def areas_path_configured() -> bool:
    return _env_path("CDP_AREAS") is not None


def demo_files_dir() -> Path:
    """Where the synthetic demo's reference files are written: CDP_DEMO_FILES, else data/demo."""
    return _env_path("CDP_DEMO_FILES") or DATA_DIR / "demo"


def demo_rows() -> int | None:
    """Size of the demo built on first run: CDP_DEMO_ROWS, else the realistic default (None)."""
    value = os.environ.get("CDP_DEMO_ROWS", "").strip()
    return int(value) if value else None

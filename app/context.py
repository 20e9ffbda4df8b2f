"""What every page shares: the store connection, cached queries, the current filters and viewer."""
from __future__ import annotations

import threading
from typing import Callable, TypeVar

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from cdp import access, config, geography, store
from cdp.filters import Filters

T = TypeVar("T")
_REGISTRY: dict[str, Callable] = {}


@st.cache_resource(show_spinner=False)
def _connect(path: str):
    return store.connect(path)


@st.cache_resource(show_spinner=False)
def store_write_lock() -> threading.Lock:
    """Held while the dashboard writes the store (the first-run demo build, uploads), so two
    sessions never write at once and an empty store is built once."""
    return threading.Lock()


def connection():
    """One read-write connection to the store (CDP_DB or data/cdp.duckdb) for the server process."""
    return _connect(str(config.db_path()))


def _through_dashboard() -> None:
    """Make sure this run went through dashboard.py (navigation, sidebar, filters).

    Streamlit treats a top-level pages/ folder as its old folder-based multipage mode until
    st.navigation first runs, so a deep link on a fresh server (or an AppTest rerun) would run a
    page alone. Leave that mode and rerun through dashboard.py.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def store_is_empty() -> bool:
    """No store yet (without creating one), or a store without incidents."""
    if not config.db_path().exists():
        return True
    return store.incident_count(cursor()) == 0


def cursor():
    """A cursor for this thread (DuckDB connections are not shared across threads)."""
    _through_dashboard()
    return connection().cursor()


def data_version() -> str:
    """The store and its latest import: changes whenever an import lands, so cached results are
    never stale (and never shared between two stores)."""
    rows = cursor().execute("SELECT coalesce(max(import_id), 0) FROM imports").fetchall()
    return f"{config.db_path()}#{rows[0][0]}"


@st.cache_data(max_entries=512, show_spinner=False)
def _run(name: str, version: str, args: tuple, kwargs: tuple):
    return _REGISTRY[name](cursor(), *args, **dict(kwargs))


def cached(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap a plain-package query `fn(con, *args, **kwargs)` so results are cached per data version.

    Arguments must be hashable values (Filters, dates, strings, tuples).
    """
    name = f"{fn.__module__}.{fn.__qualname__}"
    _REGISTRY[name] = fn

    def call(*args, **kwargs):
        return _run(name, data_version(), args, tuple(sorted(kwargs.items())))
    return call


def filters() -> Filters:
    """The filters set in the shared sidebar (dashboard.py sets them before the page runs)."""
    _through_dashboard()
    return st.session_state["filters"]


def viewer() -> access.Viewer:
    return access.current_viewer()


def _wards_geojson(con, tolerance: float) -> dict:
    wards = geography.stored_wards(con)
    if wards is None:
        return {"type": "FeatureCollection", "features": []}
    simplified = wards.to_crs(27700).simplify(tolerance).to_crs(4326)
    return wards.set_geometry(simplified).__geo_interface__


ward_geojson = cached(_wards_geojson)
"""Ward polygons simplified once (per data version and tolerance) for drawing."""

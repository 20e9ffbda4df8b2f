"""What every page shares: the store connection, cached queries, the current filters and viewer."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import duckdb
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from cdp import access, geography, queries, store
from cdp import areas as nat_areas
from cdp.filters import Filters

T = TypeVar("T")
_REGISTRY: dict[str, Callable] = {}


def location() -> store.Location:
    """The store this server uses (CDP_STORE, else CDP_DB, else data/cdp.duckdb)."""
    return store.locate()


def _shared() -> store.Shared:
    return store.shared(location())


_WRITE_LOCK = threading.Lock()  # one writer at a time from this server's sessions
_THIS_THREAD = threading.local()  # the write connection of the session writing, if any


@contextmanager
def reading() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for this run's reads (closed after the block). Raises store.Busy while another
    process writes the embedded store: dashboard.py then says the data is being updated."""
    _through_dashboard()
    with _shared().reading() as con:
        yield con


@contextmanager
def writing() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one write from the dashboard (the first-run demo build, an upload); one
    session at a time, so an empty store is built once. Wrap the write in store.retrying."""
    with _WRITE_LOCK, _shared().writing() as con:
        _THIS_THREAD.writer = con
        try:
            yield con
        finally:
            _THIS_THREAD.writer = None
            _forget_run_memo()  # what this run reads next is asked of the store again


store_write_lock = writing  # the earlier name: `with store_write_lock(): ingest(cursor(), ...)` works


def store_problem(where, problem: Exception) -> None:
    """Say, in `where`, that the store is being updated (and rerun the page once it is free) or
    that it cannot be reached; never a traceback."""
    if isinstance(problem, store.Busy):
        where.info(f"**The data is being updated** ({problem.holder} is writing to the store). "
                   "This page shows the new figures as soon as it has finished.",
                   icon=":material/hourglass_top:")
        _rerun_when_free()
    else:
        where.error(f"**The data cannot be read just now.** {problem}", icon=":material/error:")


@st.fragment(run_every=2)
def _rerun_when_free() -> None:
    try:
        with _shared().reading():
            pass
    except store.Busy:
        return
    st.rerun(scope="app")


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
    """No store yet (without creating one), or a store without incidents: asked once per script
    run (the gate, the first-run check and the pages ask it)."""
    return _once_per_run("empty", _store_is_empty)


def _store_is_empty() -> bool:
    where = location()
    if not where.is_lake and not where.path.exists():
        return True
    with reading() as con:
        return store.incident_count(con) == 0


def cursor():
    """A connection outside a `reading()` block (prefer `reading()`): inside `writing()`, the
    write connection; else one for reads that closes when it is no longer referenced."""
    _through_dashboard()
    writer = getattr(_THIS_THREAD, "writer", None)
    return writer if writer is not None else _shared().connection()


def _store_version() -> str:
    with reading() as con:
        rows = con.execute("SELECT coalesce(max(import_id), 0) FROM imports").fetchall()
    return f"{location()}#{rows[0][0]}"


_RUN_MEMO = "_cdp_run_memo"  # on the run's context: (its run's coordinator, {question: answer})


def data_version() -> str:
    """The store and its latest import: changes whenever an import lands, so cached results are
    never stale (and never shared between two stores). Asked once per script run (every cached
    query of the run uses it: some 20 on a page, 25 ms each on DuckLake)."""
    return _once_per_run("version", _store_version)


def _once_per_run(question: str, ask: Callable[[], T]) -> T:
    """`ask()`, answered once per script run and asked again in the next, fragment runs included,
    so an import between two runs is seen; a write from this run (`writing()`) forgets the
    answers. Streamlit's ScriptRunContext.reset() gives each run (fragment runs too) a new
    `parallel_coordinator`: the memo holds the one of the run it was made in."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return ask()
    memo = getattr(ctx, _RUN_MEMO, None)
    if memo is None or memo[0] is not ctx.parallel_coordinator:
        memo = (ctx.parallel_coordinator, {})
        setattr(ctx, _RUN_MEMO, memo)
    if question not in memo[1]:
        memo[1][question] = ask()
    return memo[1][question]


def _forget_run_memo() -> None:
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is not None and hasattr(ctx, _RUN_MEMO):
        delattr(ctx, _RUN_MEMO)


@st.cache_data(max_entries=512, show_spinner=False)
def _run(name: str, version: str, args: tuple, kwargs: tuple):
    with reading() as con:
        return _REGISTRY[name](con, *args, **dict(kwargs))


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


def areas() -> tuple[nat_areas.Areas, str | None]:
    """The NAT areas (CDP_AREAS, else config/areas.toml) of the loaded wards, and why there are
    none when the file cannot be used (the sidebar shows it; pages then report by ward only)."""
    try:
        return nat_areas.load_areas(cached(queries.ward_names)()), None
    except nat_areas.AreaError as exc:
        return nat_areas.Areas(()), str(exc)


def viewer() -> access.Viewer:
    """Who is looking (see app/access.py): the logged-in user or the local-mode viewer, with the
    role and wards the access rules give them. Someone who may see nothing never gets past it."""
    from . import access as gate  # app.access uses this module's cached queries
    return gate.viewer()


def _wards_geojson(con, tolerance: float) -> dict:
    wards = geography.stored_wards(con, wgs84=True)
    if wards is None:
        return {"type": "FeatureCollection", "features": []}
    simplified = wards.to_crs(27700).simplify(tolerance).to_crs(4326)
    return wards.set_geometry(simplified).__geo_interface__


ward_geojson = cached(_wards_geojson)
"""Ward polygons simplified once (per data version and tolerance) for drawing."""

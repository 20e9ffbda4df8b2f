"""Nottingham Crime and Drugs Partnership: community safety dashboard.

Run with `streamlit run dashboard.py`. Builds the navigation and the shared sidebar filters, then
runs the chosen page. On first run with an empty store it builds the synthetic demo data.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import access, context, files, freshness, sidebar
from cdp import config, geography, store
from cdp.markup import md

HERE = Path(__file__).parent
# (page key, file, title, icon). Each page is one file in pages/.
PAGES = [
    ("overview", "pages/overview.py", "Overview", ":material/dashboard:"),
    ("maps", "pages/maps.py", "Hotspot maps", ":material/map:"),
    ("trends", "pages/trends.py", "Trends and exceptions", ":material/monitoring:"),
    ("repeats", "pages/repeats.py", "Repeat victimisation", ":material/group:"),
    ("reoffending", "pages/reoffending.py", "Reoffending", ":material/replay:"),
    ("substance", "pages/substance.py", "Substance misuse", ":material/medication:"),
    ("profile", "pages/profile.py", "Problem profile", ":material/person_search:"),
    ("briefing", "pages/briefing.py", "Board briefing", ":material/co_present:"),
    ("data", "pages/data.py", "Data", ":material/database:"),
]

# The icon is served from here: a Material or emoji icon makes the browser fetch it from Google.
st.set_page_config(page_title="Nottingham CDP community safety", page_icon=str(HERE / "app" / "icon.svg"),
                   layout="wide")


def first_run() -> None:
    """An empty store: build the synthetic demo data so the dashboard is worth opening.

    The boundaries are found first, so a machine without them gets every way to supply them and
    no store is created."""
    from cdp.demo import build_demo
    st.title("Nottingham Crime and Drugs Partnership")
    try:
        wards, origin = geography.resolve_boundaries(None)
    except geography.BoundaryError as exc:
        st.error(f"Ward boundaries are needed before the dashboard can show anything. {exc}")
        st.stop()
    st.info("The store is empty, so the dashboard is building **synthetic demo data** for "
            f"the {len(wards)} wards of {origin}. Real data can be loaded afterwards on the Data page "
            "or with `python -m cdp ingest`.")
    bar = st.progress(0.0, text="Building demo data")

    def build(con) -> None:
        if store.incident_count(con) == 0:  # another session or server may have built it meanwhile
            build_demo(con, wards, rows=config.demo_rows(), wards_origin=origin,
                       progress=lambda message, fraction: bar.progress(min(fraction, 1.0), text=message))

    with context.writing() as con:
        store.retrying(lambda: build(con))
    st.cache_data.clear()
    st.rerun()


files.clean_upload_leftovers()  # once per server: uploads a stopped server left behind
# Who is looking: without an identity (or with a refused one) every address shows the sign-in
# page or the reason, and nothing below runs. Pages a role may not open answer "not available".
viewer = access.gate([key for key, *_ in PAGES])
navigation = st.navigation(access.pages_for(viewer, PAGES, HERE))
access.set_page(navigation.url_path)
notice = st.empty()  # where a busy store is reported, above whatever the page drew
try:
    if context.store_is_empty():
        first_run()
    access.banner(viewer)
    st.session_state["filters"] = sidebar.render()
    with context.reading() as con:
        demo_note = store.synthetic_note(con)
    if demo_note:
        st.warning(f"**{md(demo_note)}.** Every figure on this page comes from synthetic demo data.",
                   icon=":material/science:")
    freshness.show_data_age()
    navigation.run()
except (store.Busy, store.StoreError) as problem:
    context.store_problem(notice, problem)

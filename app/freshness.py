"""How old the data is: the period each source covers, shown on every page, and a warning when a
source's newest month is older than expected (cdp.freshness decides)."""
from __future__ import annotations

from datetime import date

import streamlit as st

from cdp import freshness
from cdp.markup import md

from . import context


def show_data_age() -> None:
    """One line with the period each source covers; a warning for each dataset that is late."""
    age = context.cached(freshness.data_age)(date.today())
    if not age.sources:
        return
    groups = " · ".join(f"{label}: " + "; ".join(f"{', '.join(md(n) for n in names)} {period}"
                                                 for names, period in periods)
                        for label, periods in age.covers())
    if age.synthetic:
        st.caption(f"Synthetic demo data covers {groups}. A fixed period, never refreshed: age "
                   "warnings apply to real data. For current data, refresh from police.uk on the "
                   "Data page (it replaces the demo data).")
    else:
        st.caption(f"Data covers {groups}.")
    for warning in age.warnings(md):
        st.warning(warning, icon=":material/schedule:")

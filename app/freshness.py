"""How old the data is: the period each source covers, shown on every page, and a warning when a
source's newest month is older than expected (cdp.freshness decides)."""
from __future__ import annotations

import re
from datetime import date

import streamlit as st

from cdp import freshness

from . import context

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def as_text(value: str) -> str:
    """Text from data (a force or partner source name) made safe to show in markdown: every
    markdown character escaped, so it is shown as written, never as markup."""
    return _MARKDOWN.sub(r"\\\1", str(value))


def show_data_age() -> None:
    """One line with the period each source covers; a warning for each dataset that is late."""
    age = context.cached(freshness.data_age)(date.today())
    if not age.sources:
        return
    groups = " · ".join(f"{label}: " + "; ".join(f"{', '.join(as_text(n) for n in names)} {period}"
                                                 for names, period in periods)
                        for label, periods in age.covers())
    if age.synthetic:
        st.caption(f"Synthetic demo data covers {groups}. A fixed period, never refreshed: age "
                   "warnings apply to real data. For current data, refresh from police.uk on the "
                   "Data page (it replaces the demo data).")
    else:
        st.caption(f"Data covers {groups}.")
    for warning in age.warnings(as_text):
        st.warning(warning, icon=":material/schedule:")

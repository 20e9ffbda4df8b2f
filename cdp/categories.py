"""The category filter's choices: every category in the store (police.uk crime types and partner
categories such as the council's ASB types), in groups, so that "noise-related ASB" is one pick.

A category's group follows how the store counts its incidents (cdp.priorities decides `is_asb`):
"ASB" when its incidents are ASB incidents, else "Crime". Categories come from the data, so another
partnership's own incident types are offered and grouped the same way with nothing to configure.
"""
from __future__ import annotations

import duckdb

ASB_GROUP = "ASB"
CRIME_GROUP = "Crime"
GROUPS = (ASB_GROUP, CRIME_GROUP)


def category_groups(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Category -> group for every category in the store: ASB first, then crime, each by name.
    A category whose incidents are mostly ASB incidents is in the ASB group."""
    rows = con.execute("""
        SELECT category, avg(CASE WHEN is_asb THEN 1 ELSE 0 END) >= 0.5 AS asb
        FROM incidents GROUP BY category""").fetchall()
    grouped = sorted(((ASB_GROUP if asb else CRIME_GROUP), category) for category, asb in rows)
    grouped.sort(key=lambda pair: GROUPS.index(pair[0]))  # stable: by name within each group
    return {category: group for group, category in grouped}


def label(category: str, groups: dict[str, str]) -> str:
    """'ASB: Noise' for the filter's list (a category no longer loaded shows on its own)."""
    group = groups.get(category)
    return f"{group}: {category}" if group else category

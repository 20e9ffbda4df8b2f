"""How places read: one name per street and one label per premises, in every list and count.

police.uk writes a snapped point's street as "On or near Market Street"; partner extracts write
"Market Street", sometimes in other cases or with stray spaces. A street is the location text
with the "On or near " prefix dropped and spaces collapsed, and streets differing only in case
are one (its commonest spelling is shown). Premises are told apart by their ID: premises that
share a name show their street and ID, so two lists rows never look alike.
"""
from __future__ import annotations

import re
import threading

import duckdb
import pandas as pd

from .counting import counted_condition

_PREFIX = r"^\s*on or near\s+"


def street_sql(column: str = "location") -> str:
    """SQL for the street of a location text (NULL when blank)."""
    return (f"nullif(trim(regexp_replace(regexp_replace({column}, '{_PREFIX}', '', 'i'), "
            f"'\\s+', ' ', 'g')), '')")


def street_key_sql(column: str = "location") -> str:
    """SQL for the key that makes spellings of one street one place."""
    return f"lower({street_sql(column)})"


def street(text: pd.Series) -> pd.Series:
    """The street of each location text, as `street_sql` (missing when blank). Each distinct text
    is cleaned once (a list of incidents repeats few streets many times)."""
    values = text.astype("string")
    codes, uniques = pd.factorize(values)
    names = pd.Series(uniques, dtype=values.dtype)
    names = names.str.replace(_PREFIX, "", regex=True, flags=re.IGNORECASE)
    names = names.str.replace(r"\s+", " ", regex=True).str.strip()
    names = names.where(names != "")
    return pd.Series(names.reindex(codes).to_numpy(), index=text.index, dtype=values.dtype)


def street_key(text: pd.Series) -> pd.Series:
    """The key of each location text's street, as `street_key_sql`."""
    return street(text).str.lower()


def premises_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every premises with counted incidents: premises_id, name, type, street, easting, northing,
    ward (where most of its incidents are) and label (the name, with street and ID where another premises has the same name).

    Worked out once per state of the store (its file, latest import and size): treat the result
    as read-only."""
    (path,), = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                           ).fetchall() or [(None,)]
    (version, rows), = con.execute("SELECT (SELECT max(import_id) FROM imports), count(*) FROM incidents"
                                   ).fetchall()
    return _premises_table(con, (path, version, rows))


_PREMISES: dict[tuple, pd.DataFrame] = {}
_PREMISES_LOCK = threading.Lock()


def _premises_table(con: duckdb.DuckDBPyConnection, key: tuple) -> pd.DataFrame:
    with _PREMISES_LOCK:
        if key in _PREMISES and key[0]:
            return _PREMISES[key]
    frame = con.execute(f"""
        SELECT premises_id, mode(premises_name) AS name, mode(premises_type) AS type,
               mode({street_sql()}) AS street, avg(easting) AS easting, avg(northing) AS northing,
               mode(ward_code) AS ward
        FROM incidents WHERE premises_id IS NOT NULL AND {counted_condition()}
        GROUP BY premises_id ORDER BY name, premises_id""").df()
    frame["label"] = premises_labels(frame)
    with _PREMISES_LOCK:
        if len(_PREMISES) >= 8:
            _PREMISES.pop(next(iter(_PREMISES)))
        _PREMISES[key] = frame
    return frame


def premises_labels(frame: pd.DataFrame) -> pd.Series:
    """Labels for premises rows (premises_id, name, street): the name, or the ID when there is
    none; a name several premises share reads "name, street (ID)"."""
    name = frame["name"].astype("string").str.strip()
    name = name.where(name.notna() & (name != ""), frame["premises_id"].astype("string"))
    shared = name.str.lower().duplicated(keep=False)
    where = frame["street"].astype("string")
    detailed = (name + where.map(lambda s: "" if pd.isna(s) else f", {s}")
                + " (" + frame["premises_id"].astype("string") + ")")
    return name.where(~shared, detailed).astype(object)

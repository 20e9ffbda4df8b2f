r"""Text from data shown as text: the one place that escapes it for each kind of markup.

Locations, premises names, categories, outcomes, ward names, sources and file names come from
files anyone can write. Wherever such text is put into something that interprets markup it goes
through one of these:
- `md`: Streamlit markdown (st.markdown, st.caption, st.info/warning/error/success, st.header,
  st.subheader, st.metric labels and values, button and expander labels, help tooltips). The
  characters that start markup are backslash-escaped (anywhere: \ ` * _ [ ] < > | ~ $ : & ! @ { };
  at the start of the text: # + - = and a number's . or )), and an invisible word joiner follows
  "http", "www" and "@" (Streamlit links web and e-mail addresses found in plain text), so no
  link, autolink, image, emphasis, code, heading, list, quote, table, HTML, LaTeX, colour
  directive, emoji or icon can be formed; line breaks become spaces. Other text (apostrophes, commas) is left
  as it is, so the markdown source still reads as the text.
- `md_table`: a markdown table (one st.markdown), every cell and heading through `md` and its
  numbers, dates and flags written out as they read.
- `chart`: plotly text (axis labels, hover text, trace names, titles, annotations), which reads a
  subset of HTML (<a href>, <b>, <br>, entities): &, < and > become entities, which plotly shows
  as the characters themselves.
- `html`: HTML pages (exports).
"""
from __future__ import annotations

import html as _html
import re
from datetime import date, datetime

import numpy as np
import pandas as pd

_MD_ANYWHERE = re.compile(r"([\\`*_\[\]<>|~$:&!@{}])")
_MD_AT_START = re.compile(r"^(\s*)([#+=-]|\d+[.)])")
# Streamlit (remark-gfm) finds web addresses and e-mail addresses in the text itself, after
# escapes are read: an invisible word joiner after the scheme, "www" or "@" keeps them plain text.
_AUTOLINK = re.compile(r"\b(?:https?|ftp|mailto|xmpp)(?=\\?:)|\bwww(?=\\?\.)|@", re.IGNORECASE)
WORD_JOINER = "\u2060"
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def _missing(value) -> bool:
    """None, NaN, NaT or pd.NA (a scalar; text is never missing)."""
    return value is None or (not isinstance(value, str) and pd.isna(value))


def _text(value) -> str:
    if _missing(value):
        return ""
    return str(value)


def md(value) -> str:
    """`value` as literal text inside Streamlit markdown."""
    text = _MD_ANYWHERE.sub(r"\\\1", _LINE_BREAKS.sub(" ", _text(value)))
    text = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, text)
    return _MD_AT_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\" + m.group(2)[-1]), text)


def md_table(frame: pd.DataFrame, headings: dict[str, str] | None = None, months: tuple[str, ...] = (),
             decimals: int | None = None) -> str:
    """`frame` (its columns `headings` names, under those headings; all of them without) as the
    markdown source of a table: text escaped with `md`, whole numbers with thousands separators,
    other numbers to 2 decimals (every float column to `decimals`, when given), the `months`
    columns as "Mar 2025", other times to the minute, flags as yes/no, missing values empty.
    Columns of figures (numbers, or text such as "1,234", "<5", "+6%", "n/a" and "*") are aligned
    right."""
    columns = list(headings) if headings else list(frame.columns)
    lines = ["| " + " | ".join(md((headings or {}).get(c, c)) for c in columns) + " |",
             "|" + "|".join("---:" if _figures(frame[c]) else "---" for c in columns) + "|"]
    cells = [[_cell(v, c in months, decimals) for v in frame[c]] for c in columns]
    lines += ["| " + " | ".join(row) + " |" for row in zip(*cells)]
    return "\n".join(lines)


_FIGURE = re.compile(r"[<>]?[+\-−]?\d[\d,]*(\.\d+)?%?|n/a|\*")   # "*": a figure withheld


def _figures(column: pd.Series) -> bool:
    """Whether a column holds figures: numbers (not flags), or text that reads as one."""
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    known = [v for v in column if not _missing(v) and v != ""]
    return bool(known) and all(isinstance(v, str) and _FIGURE.fullmatch(v) for v in known)


def _cell(value, month: bool, decimals: int | None = None) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if _missing(value):
        return ""
    if isinstance(value, date):  # a datetime (and a pandas Timestamp) too
        return f"{value:%b %Y}" if month else f"{value:%d %b %Y %H:%M}" if isinstance(value, datetime) else f"{value:%d %b %Y}"
    if isinstance(value, (float, np.floating)) and decimals is not None:
        return f"{value:,.{decimals}f}"
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.2f}"
    return md(value)


def chart(value) -> str:
    """`value` as literal text in a plotly figure (labels, hover text, names, titles)."""
    return _html.escape(_text(value), quote=False)


def chart_series(values: pd.Series) -> pd.Series:
    """`chart` for each value of a Series (missing stay missing)."""
    return values.map(lambda v: v if _missing(v) else chart(v))


def html(value) -> str:
    """`value` as literal text in an HTML page (element content or attribute)."""
    return _html.escape(_text(value), quote=True)

"""Text from data shown as text: the one place that escapes it for each kind of markup.

Locations, premises names, categories, outcomes, ward names, sources and file names come from
files anyone can write. Wherever such text is put into something that interprets markup it goes
through one of these:
- `md`: Streamlit markdown (st.markdown, st.caption, st.info/warning/error/success, st.header,
  st.subheader, st.metric labels, button and expander labels, help tooltips). Every ASCII
  punctuation character is backslash-escaped, so no link, image, emphasis, heading, list, table,
  HTML tag, LaTeX, colour directive or icon can be formed; line breaks become spaces.
- `chart`: plotly text (axis labels, hover text, trace names, titles, annotations), which reads a
  subset of HTML (<a href>, <b>, <br>, entities): &, < and > become entities, which plotly shows
  as the characters themselves.
- `html`: HTML pages (exports).
"""
from __future__ import annotations

import html as _html
import re

import pandas as pd

_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def _text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def md(value) -> str:
    """`value` as literal text inside Streamlit markdown."""
    return _MD_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", _text(value)))


def chart(value) -> str:
    """`value` as literal text in a plotly figure (labels, hover text, names, titles)."""
    return _html.escape(_text(value), quote=False)


def chart_series(values: pd.Series) -> pd.Series:
    """`chart` for each value of a Series (missing stay missing)."""
    return values.map(lambda v: v if v is None or (not isinstance(v, str) and pd.isna(v)) else chart(v))


def html(value) -> str:
    """`value` as literal text in an HTML page (element content or attribute)."""
    return _html.escape(_text(value), quote=True)

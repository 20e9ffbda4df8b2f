"""Every file the product hands out: CSV, HTML and PDF built so that text from data stays text.

The one place for the export rules:
- CSV: a text cell a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a
  carriage return) gets a leading single quote; numbers in numeric columns stay numbers, and a
  text cell that is just a number ("-3", "+12%") is left as it is (no formula can be made of it).
- HTML: every value is escaped (see cdp.markup); tables are built escaped.
- PDF: values are drawn as plain text (fpdf2 without markdown), in the core fonts' Latin-1.

`Export` describes one download: its bytes (made only when asked for), name, type, and whether it
holds person-level rows, which the download layer (app.files) refuses or logs in the audit log.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pandas as pd

from . import access, markup

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d[\d,]*)?(\.\d+)?%?")


def neutralise(value):
    """A CSV cell that no spreadsheet will run: text starting like a formula gets a leading quote."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if value[:1] in "+-" and len(value) > 1 and _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def _safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    safe = frame.copy()
    for column in safe.columns:
        if not (pd.api.types.is_numeric_dtype(safe[column]) or pd.api.types.is_bool_dtype(safe[column])
                or pd.api.types.is_datetime64_any_dtype(safe[column])):
            safe[column] = safe[column].map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV with formula-looking cells (and column names) neutralised."""
    return _safe_frame(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


class CsvWriter:
    """Rows written one at a time to an open text file, neutralised as csv_bytes does."""

    def __init__(self, handle: io.TextIOBase, header: Iterable[str]):
        self.writer = csv.writer(handle, lineterminator="\n")
        self.writer.writerow([neutralise(str(c)) for c in header])

    def row(self, values: Iterable) -> None:
        self.writer.writerow([neutralise(v) for v in values])


def html_table(frame: pd.DataFrame) -> str:
    """A table as escaped HTML (values and column names)."""
    shown = frame.astype("object").where(frame.notna(), "")
    return shown.to_html(index=False, escape=True, border=0, render_links=False)


def html_text(value) -> str:
    return markup.html(value)


def pdf_text(value) -> str:
    """Text for a PDF drawn with the core fonts (Latin-1): never interpreted as markup."""
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    text = (text.replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'")
            .replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"').replace("\u2212", "-"))
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class Export:
    """One download. `make` builds the bytes when the user asks for the file. `person_level`
    exports (holding person keys) are refused to viewers who may not see person keys; they and
    other `audited` exports (incident-level records without keys) are logged in the audit log with
    `what`, `filters` and `rows` when made."""
    make: Callable[[], bytes]
    file_name: str
    mime: str
    person_level: bool = False
    audited: bool = False
    what: str = ""
    filters: dict = field(default_factory=dict)
    rows: int = 0


def csv_export(frame: pd.DataFrame, file_name: str, **audit) -> Export:
    """A table as a CSV download (see Export for the audit keywords)."""
    return Export(lambda: csv_bytes(frame), file_name, "text/csv", rows=audit.pop("rows", len(frame)), **audit)


def deliver(export: Export, viewer: access.Viewer) -> bytes:
    """The export's bytes for `viewer`, made now; a person-level export is refused to a viewer who
    may not see person keys. Person-level and audited exports are written to the audit log once
    made; when the log cannot be written (audit.AuditUnavailable) the bytes are not handed over."""
    if export.person_level and not viewer.sees_person_keys:
        raise PermissionError(f"the {viewer.role} role may not export person-level rows")
    data = export.make()
    if export.person_level or export.audited:
        access.log_person_export(viewer, export.what, export.filters, export.rows)
    return data

"""Files crossing the browser: every download through the export layer, uploads through a
private folder.

`download_button` is the one way a page offers a file: the bytes are made by cdp.exports when the
user clicks (formula and markup rules applied there), a person-level export is never offered to a
viewer who may not see person keys, and making it writes the audit log line.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app import context
from cdp import access, exports, geography, store, uploads
from cdp.ingest import ImportFailed, ImportResult, ingest
from cdp.markup import md


def download_button(label: str, export: exports.Export, *, key: str, container=None,
                    viewer: access.Viewer | None = None, **kwargs):
    """A download button for `export` (see cdp.exports.Export), in `container` (default: st)."""
    viewer = viewer or context.viewer()
    if export.person_level and not viewer.sees_person_keys:
        return None
    place = container if container is not None else st
    kwargs.setdefault("icon", ":material/download:")
    return place.download_button(label, data=lambda: exports.deliver(export, viewer), file_name=export.file_name,
                                 mime=export.mime, key=key, on_click="ignore", **kwargs)


@st.cache_resource(show_spinner=False)
def clean_upload_leftovers() -> int:
    """Once per server process: remove upload folders a stopped server left behind."""
    return len(uploads.clean_leftovers())


@dataclass
class UploadOutcome:
    result: ImportResult | None = None
    error: str = ""
    problems: list[str] | None = None
    rejected: pd.DataFrame | None = None


def import_uploads(files: list, dataset: str, skip_bad_rows: bool) -> UploadOutcome:
    """Import uploaded files through `ingest` from a private folder, by names the server chooses;
    the folder is removed afterwards whatever happens. Messages use the uploads' own names."""
    viewer = context.viewer()
    with uploads.private_folder() as folder:
        names = {}
        for index, (upload, shown) in enumerate(zip(files, uploads.display_names([f.name for f in files]))):
            names[uploads.save(folder, index, upload.name, upload.getvalue())] = shown
        rejects = folder / "rejected-rows.csv"
        try:
            with context.writing() as con:
                result = store.retrying(lambda: ingest(
                    con, dataset, list(names), names=names, skip_bad_rows=skip_bad_rows,
                    rejects_path=rejects, rejects_person_keys=False, viewer=viewer))
        except ImportFailed as exc:
            more = exc.total - min(len(exc.problems), 20)
            return UploadOutcome(error=f"Nothing was loaded: {exc.total:,} problem{'s' if exc.total != 1 else ''} "
                                       "in the files.", problems=[str(p) for p in exc.problems[:20]]
                                 + ([f"... and {more:,} more"] if more > 0 else []))
        except geography.BoundaryError as exc:
            return UploadOutcome(error=str(exc))
        except store.Busy as exc:
            return UploadOutcome(error=f"Nothing was imported: {exc}. Try again when it has finished.")
        except store.StoreError as exc:
            return UploadOutcome(error=f"Nothing was imported: {exc}")
        rejected = (pd.read_csv(rejects, dtype=str, keep_default_na=False) if result.rows_rejected else None)
        return UploadOutcome(result=result, rejected=rejected)


def show_upload_outcome(outcome: UploadOutcome) -> None:
    if outcome.error:
        st.error(md(outcome.error + (" Fix them and upload again, or tick 'Skip bad rows' to load the "
                                     "good rows." if outcome.problems else "")))
        if outcome.problems:
            st.code("\n".join(outcome.problems), language=None, wrap_lines=True)
        return
    st.success(md(outcome.result.summary(rejects_where="the download below")))
    if outcome.rejected is not None:
        download_button("Download the rejected rows (without person keys)",
                        exports.csv_export(outcome.rejected, "rejected-rows.csv"), key="rejected-rows")

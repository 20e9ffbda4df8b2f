"""The reference files pages read (proven reoffending, treatment, CCTV cameras, the IOM cohort):
which file is in use (a configured one, or the synthetic demo's) and its contents, read once per
change of the file."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, TypeVar

import streamlit as st

from cdp import cctv, offenders, reference, reoffending, treatment

from . import context

# kind -> (environment variable, loader)
KINDS = {
    "reoffending": (reoffending.ENV, lambda path: reoffending.load_reoffending(
        path, reoffending.configured_area())),
    "treatment": (treatment.ENV, treatment.load),
    "cctv": (cctv.ENV, cctv.load_cameras),
    "iom_cohort": (offenders.COHORT_ENV, offenders.load_cohort),
}


T = TypeVar("T")


class ReferenceFile(NamedTuple):
    source: reference.Configured
    value: Any = None         # what the loader returns, when the file could be read
    error: str | None = None  # why it could not: the file, the line and the reason


@st.cache_data(max_entries=32, show_spinner=False)
def _read(kind: str, path: str, modified: float, area: str | None) -> tuple[Any, str | None]:
    try:
        return KINDS[kind][1](path), None
    except reference.ReferenceFileError as exc:
        return None, str(exc)


def load(kind: str) -> ReferenceFile:
    """The reference file of `kind` (a key of KINDS) as configured for the current store."""
    env, _ = KINDS[kind]
    with context.reading() as con:
        source = reference.configured(con, env, kind)
    stamp = source.stamp()
    if stamp is None:
        return ReferenceFile(source)
    value, error = _read(kind, *stamp, reoffending.configured_area())
    return ReferenceFile(source, value, error)


@st.cache_data(max_entries=64, show_spinner=False)
def _derived(name: str, path: str, modified: float, area: str | None, _fn: Callable, _value: Any) -> Any:
    return _fn(_value)


def derived(file: ReferenceFile, fn: Callable[[Any], T]) -> T:
    """`fn(file.value)` (a plain-package function of a file's contents, e.g. treatment.rolling),
    worked out once per change of the file rather than on every run of every page that shows it."""
    path, modified = file.source.stamp()
    return _derived(f"{fn.__module__}.{fn.__qualname__}", path, modified, reoffending.configured_area(),
                    fn, file.value)


def note(file: ReferenceFile, what: str) -> None:
    """A caption saying where the figures come from (and that demo figures are synthetic)."""
    name = "`" + file.source.path.name.replace("`", "'") + "`"  # a file name is text, not markup
    if file.source.synthetic:
        st.caption(f"**Synthetic demo {what}**, written with the demo data ({name}): set "
                   f"{file.source.env} to your own file.")
    else:
        st.caption(f"{what[0].upper()}{what[1:]} from {name} ({file.source.env}).")


def treatment_indicator() -> treatment.TreatmentIndicator:
    """The treatment file for the board's "maintain successful completions" target: the same file
    (and the same reading of it) as the substance misuse page."""
    file = load("treatment")
    path, synthetic = file.source.path, file.source.synthetic
    if path is None:
        return treatment.TreatmentIndicator(None)
    if file.error:
        return treatment.TreatmentIndicator(str(path), error=file.error, synthetic=synthetic)
    return treatment.TreatmentIndicator(str(path), frame=derived(file, treatment.totals), synthetic=synthetic)

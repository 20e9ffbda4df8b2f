"""Keeping the store current from police.uk: the months the store lacks, for the area of the
loaded wards, fetched from the API (or read from a downloaded archive zip) and imported month
by month through the same importer and checks as downloaded files.

Each month is written as police.uk street CSVs (one per force, the header exactly as police.uk
writes it) in a private temporary folder and imported with `cdp.ingest.ingest`, one
transaction per month: a republished month replaces the month it republishes, never doubles
it; a month that fails leaves the store exactly as it was before that month, and running the
refresh again resumes with the months still missing. The parts of a month are not kept between
runs: a month takes a few requests, and its parts must come from one publication.
"""
from __future__ import annotations

import json
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd

from .. import freshness, geography
from ..ingest import ImportFailed, ImportResult, ingest
from ..police_uk_format import HEADER, write_street_csv
from ..store import get_meta, set_meta, transaction
from .api import ApiError, PoliceApi, TooManyCrimes, api_url
from .area import Area, AreaError, Part
from .forces import BTP_ID, AreaForces

Progress = Callable[[str, float], None]
ALL_CRIME = "all-crime"
API_CHECK_META = "police_uk_api_check"  # meta key: what police.uk offered when last asked

__all__ = ["RefreshFailed", "RefreshResult", "Plan", "refresh_from_api", "select_months",
           "held_months", "fetch_month", "street_rows", "last_api_check", "PoliceApi", "ApiError"]


class RefreshFailed(Exception):
    """A refresh that could not finish; the message says why and what the store now holds."""


@dataclass
class Plan:
    """What a refresh would do: which months, for which forces, from where."""
    source: str                    # "police.uk API <url>" or the archive's path
    wards: int
    forces: dict[str, str]         # territorial force id -> name
    available: list[str]           # months the source holds, oldest first
    months: list[str]              # months to fetch and import, oldest first
    held: list[str]                # months in the window the store already holds (skipped)
    not_available: str = ""        # a note when the window asks for months the source lacks
    last_updated: date | None = None

    def describe(self) -> str:
        forces = ", ".join(self.forces.values()) or "no force"
        text = (f"{self.source}: {len(self.available)} months available "
                f"({_span(self.available)})" + (f", last updated {self.last_updated:%d %B %Y}"
                                                 if self.last_updated else "") +
                f". Area: {self.wards} wards, policed by {forces}.")
        if self.held:
            text += f" Already in the store: {len(self.held)} months ({_span(self.held)})."
        if self.not_available:
            text += f" {self.not_available}"
        return text


@dataclass
class MonthLoaded:
    month: str
    rows: int
    requests: int
    result: ImportResult | None    # None when the source had nothing for the area that month
    note: str = ""


@dataclass
class RefreshResult:
    plan: Plan
    dry_run: bool
    loaded: list[MonthLoaded] = field(default_factory=list)

    def summary(self) -> str:
        plan = self.plan
        if not plan.months:
            return (f"Nothing to fetch: the store already holds every month asked for. {plan.describe()}")
        if self.dry_run:
            return (f"Dry run, nothing was changed. Would fetch {len(plan.months)} month(s): "
                    f"{', '.join(plan.months)}. {plan.describe()}")
        done = [m for m in self.loaded if m.result is not None]
        rows = sum(m.result.rows_loaded for m in done)
        replaced = sum(m.result.rows_replaced for m in done)
        text = (f"Loaded {len(done)} month(s) from {plan.source}: " +
                ", ".join(f"{m.month} ({m.rows:,} rows)" for m in done) +
                f"; {rows:,} rows in all (replacing {replaced:,}).")
        empty = [m for m in self.loaded if m.result is None]
        if empty:
            text += " " + " ".join(m.note for m in empty)
        demo = sum(m.result.demo_removed for m in done)
        if demo:
            text += f" The {demo:,} synthetic demo incidents were removed first."
        if plan.held:
            text += f" {len(plan.held)} month(s) were already in the store."
        return text


def _span(months: list[str]) -> str:
    return "none" if not months else months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"


def last_api_check(con: duckdb.DuckDBPyConnection) -> str | None:
    """When the store last asked police.uk what it holds, and the answer, in a sentence."""
    text = get_meta(con, API_CHECK_META)
    if not text:
        return None
    try:
        check = json.loads(text)
        when = datetime.fromisoformat(check["checked"])
        updated = date.fromisoformat(check["last_updated"])
    except (ValueError, KeyError, TypeError):
        return None
    return (f"Last asked police.uk ({check.get('url')}) on {when:%d %B %Y at %H:%M}: it held months up "
            f"to {check.get('newest_month') or 'none'}, last updated {updated:%d %B %Y}.")


def held_months(con: duckdb.DuckDBPyConnection, force_names: list[str]) -> set[str]:
    """Months ('YYYY-MM') the store holds police.uk rows for, for every one of `force_names`."""
    covered = freshness.months_by_source(con)
    per_force = [{f"{m:%Y-%m}" for m in covered.get(("police_uk", name), [])} for name in force_names]
    return set.intersection(*per_force) if per_force else set()


def select_months(available: list[str], held: set[str], *, months: int | None = None,
                  since: str | None = None, replace: bool = False) -> tuple[list[str], list[str], str]:
    """(months to fetch, months skipped as held, a note) for the window `--months`/`--since`.

    Without options the window is every month available; `replace` fetches held months again."""
    window = sorted(available)
    note = ""
    if since:
        if window and since < window[0]:
            note = (f"Months before {window[0]} are no longer available here (police.uk keeps 36 "
                    "months): load older months from files you kept.")
        window = [m for m in window if m >= since]
    if months is not None:
        window = window[-months:] if months > 0 else []
    skipped = [] if replace else [m for m in window if m in held]
    return [m for m in window if m not in skipped], skipped, note


# -- fetching one month ----------------------------------------------------------------------
def fetch_month(api: PoliceApi, area: Area, month: str, categories: dict[str, str],
                report: Callable[[str], None] = lambda message: None) -> list[dict]:
    """Every crime police.uk holds inside the area in `month`.

    A request answered 503 (more than 10,000 crimes) is split: all crime into its categories
    first, then a category's polygon into halves, until each part answers. Each part keeps only
    the crimes its box owns, so the parts never overlap; crimes are also de-duplicated by
    police.uk's id (or Crime ID) in case two answers list the same one."""
    queue = deque((part, ALL_CRIME) for part in area.parts())
    crimes: list[dict] = []
    seen: set[tuple[str, str]] = set()
    done = 0
    while queue:
        part, category = queue.popleft()
        try:
            answer = api.street_crimes(category, part.poly_param(), month)
        except TooManyCrimes:
            if category == ALL_CRIME:
                queue.extend((part, slug) for slug in categories if slug != ALL_CRIME)
            else:
                halves = area.split(part)
                if not halves:
                    raise ApiError(f"police.uk kept answering 503 for {category} in {month} even for "
                                   "a part of the area under 50 m across: the service may be "
                                   "unavailable; try again later") from None
                queue.extend((half, category) for half in halves)
            continue
        done += 1
        lng, lat = _coordinates(answer)
        owned = part.box.owns(lng, lat) | np.isnan(lng)
        for crime, own in zip(answer, owned):
            key = _key(crime)
            if not own or (key is not None and key in seen):
                continue
            if key is not None:
                seen.add(key)
            crimes.append(crime)
        report(f"{month}: {done} part(s) answered, {len(crimes):,} crimes so far")
    return crimes


def _coordinates(crimes: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    def number(crime: dict, axis: str) -> float:
        try:
            return float((crime.get("location") or {}).get(axis))
        except (TypeError, ValueError):
            return np.nan
    return (np.array([number(c, "longitude") for c in crimes], dtype=float),
            np.array([number(c, "latitude") for c in crimes], dtype=float))


def _key(crime: dict) -> tuple[str, str] | None:
    if crime.get("id") not in (None, ""):
        return ("id", str(crime["id"]))
    if crime.get("persistent_id"):
        return ("crime", str(crime["persistent_id"]))
    return None


def street_rows(crimes: list[dict], month: str, names: dict[str, str], forces: AreaForces) -> pd.DataFrame:
    """The crimes as police.uk street-file rows (HEADER), with a `force_id` column besides.

    Crime type is the category's name (e.g. violent-crime -> Violence and sexual offences); a
    slug police.uk does not name is written as it is, so the importer rejects it by name."""
    lng, lat = _coordinates(crimes)
    located = ~np.isnan(lng) & ~np.isnan(lat)
    territorial = forces.assign(np.nan_to_num(lng), np.nan_to_num(lat))
    records = []
    for crime, ok, home in zip(crimes, located, territorial):
        where = crime.get("location") or {}
        force = BTP_ID if crime.get("location_type") == "BTP" else home
        slug = crime.get("category") or ""
        records.append({
            "Crime ID": crime.get("persistent_id") or "",
            "Month": crime.get("month") or month,
            "Reported by": forces.names[force],
            "Falls within": forces.names[force],
            "Longitude": str(where.get("longitude")) if ok else "",
            "Latitude": str(where.get("latitude")) if ok else "",
            "Location": _location(where) if ok else "No Location",
            "LSOA code": "",
            "LSOA name": "",
            "Crime type": names.get(slug, slug),
            "Last outcome category": (crime.get("outcome_status") or {}).get("category") or "",
            "Context": crime.get("context") or "",
            "force_id": force,
        })
    return pd.DataFrame(records, columns=HEADER + ["force_id"])


def _location(where: dict) -> str:
    """police.uk street files write "On or near <street>"; the API's street names mostly do too."""
    name = str((where.get("street") or {}).get("name") or "").strip()
    return name if name.lower().startswith("on or near") else f"On or near {name}".strip()


# -- importing ---------------------------------------------------------------------------------
def import_month(con: duckdb.DuckDBPyConnection, month: str, files: list[Path], folder: Path,
                 wards: gpd.GeoDataFrame, origin: str, label: str) -> ImportResult:
    """One month's street files through the importer, in one transaction; in messages the
    temporary folder is replaced by `label`."""
    try:
        return ingest(con, "police_uk", files, wards=wards, wards_origin=origin)
    except ImportFailed as exc:
        raise RefreshFailed(f"{month}: {str(exc).replace(f'{folder}/', label)}") from None


def write_month(frame: pd.DataFrame, folder: Path) -> list[Path]:
    """One police.uk street CSV per force, laid out as the archive lays them out."""
    return [write_street_csv(rows[HEADER], folder, force_slug=force)
            for force, rows in frame.groupby("force_id", sort=True)]


def failure(month: str, reason: str, loaded: list[MonthLoaded]) -> RefreshFailed:
    done = [m.month for m in loaded if m.result is not None]
    kept = (f"The months loaded before it stay in the store ({', '.join(done)}); " if done else "")
    return RefreshFailed(f"{month}: {reason}. Nothing of {month} was loaded. {kept}run the refresh "
                         "again to resume with the months still missing.")


def resolve_wards(con, wards: gpd.GeoDataFrame | None, origin: str | None,
                  boundaries: str | Path | None) -> tuple[gpd.GeoDataFrame, str]:
    if wards is not None:
        return wards, origin or "boundaries given by the caller"
    return geography.resolve_boundaries(con, boundaries)


def refresh_from_api(con: duckdb.DuckDBPyConnection, *, api: PoliceApi | None = None,
                     wards: gpd.GeoDataFrame | None = None, wards_origin: str | None = None,
                     boundaries: str | Path | None = None, months: int | None = None,
                     since: str | None = None, replace: bool = False, dry_run: bool = False,
                     progress: Progress | None = None) -> RefreshResult:
    """Fetch from the police.uk API every month in the window that the store lacks, for the
    area of the loaded wards (or `wards` / `boundaries`), and import each in one transaction.

    Raises RefreshFailed (the reason, and what the store now holds) when it cannot finish."""
    report = progress or (lambda message, fraction: None)
    api = api or PoliceApi()
    source = f"police.uk API {api.base_url}"
    try:
        wards, origin = resolve_wards(con, wards, wards_origin, boundaries)
        area = Area(wards)
        report(f"Area: {len(wards)} wards, an outline of {area.vertices} points "
               f"(simplified to {area.tolerance_m:.0f} m)", 0.0)
        report(f"Asking {api.base_url} which months it holds", 0.01)
        last_updated = api.last_updated()
        available = api.street_dates()
        forces = AreaForces.locate(api, wards, lambda message: report(message, 0.02))
    except (ApiError, AreaError, geography.BoundaryError) as exc:
        raise RefreshFailed(f"{source}: {exc}. Nothing was loaded.") from None
    held = held_months(con, list(forces.territorial.values()))
    todo, skipped, note = select_months(available, held, months=months, since=since, replace=replace)
    plan = Plan(source, len(wards), forces.territorial, available, todo, skipped, note, last_updated)
    result = RefreshResult(plan, dry_run)
    if dry_run:
        return result
    with transaction(con):  # the delete and insert of set_meta land together
        set_meta(con, API_CHECK_META, json.dumps({
            "checked": datetime.now().isoformat(timespec="seconds"), "url": api.base_url,
            "last_updated": last_updated.isoformat(), "newest_month": available[-1] if available else None}))
    for i, month in enumerate(todo):
        share = lambda part: 0.05 + 0.95 * (i + part) / len(todo)  # noqa: E731
        before = api.requests
        try:
            report(f"{month}: asking police.uk ({i + 1} of {len(todo)})", share(0))
            names = api.categories(month)
            crimes = fetch_month(api, area, month, names, lambda message: report(message, share(0.5)))
        except (ApiError, AreaError) as exc:
            raise failure(month, str(exc), result.loaded) from None
        if not crimes:
            result.loaded.append(MonthLoaded(month, 0, api.requests - before, None,
                                             f"police.uk has no crimes inside the area for {month}."))
            continue
        frame = street_rows(crimes, month, names, forces)
        with tempfile.TemporaryDirectory(prefix="cdp-refresh-") as tmp:
            report(f"{month}: importing {len(frame):,} rows", share(0.8))
            try:
                imported = import_month(con, month, write_month(frame, Path(tmp)), Path(tmp), wards,
                                        origin, "police.uk API answer written as ")
            except RefreshFailed as exc:
                raise failure(month, str(exc).removeprefix(f"{month}: "), result.loaded) from None
        result.loaded.append(MonthLoaded(month, len(frame), api.requests - before, imported))
        report(f"{month}: loaded {len(frame):,} rows", share(1))
    report("Done", 1.0)
    return result

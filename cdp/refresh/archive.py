"""The police.uk bulk archive (data.police.uk/data/archive/YYYY-MM.zip) as a refresh source.

The archive holds YYYY-MM/YYYY-MM-<force>-street.csv for every force and month (and outcomes
and stop-and-search files, which are not street files and are skipped). Only the forces that
police the loaded area are imported: the force recording most of each ward's incidents in the
archive's newest month, plus British Transport Police where it has incidents in the area.
Each month's files for those forces go through `cdp.ingest.ingest` in one transaction, as in
the API refresh; months the store already holds are skipped unless asked again.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd

from .. import geography
from . import (MonthLoaded, Plan, Progress, RefreshFailed, RefreshResult, failure, held_months,
               import_month, resolve_wards, select_months)
from .forces import BTP_NAME

MEMBER = re.compile(r"(?:^|/)(\d{4}-(?:0[1-9]|1[0-2]))-([a-z0-9-]+)-street\.csv$", re.IGNORECASE)
MAX_MEMBER_BYTES = 512 * 2 ** 20   # a force's month is tens of MB; anything bigger is refused


def street_members(archive: zipfile.ZipFile) -> dict[str, dict[str, zipfile.ZipInfo]]:
    """month -> force slug -> the street file's entry (other files are left out)."""
    found: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for info in archive.infolist():
        match = MEMBER.search(info.filename)
        if match and not info.is_dir():
            found.setdefault(match.group(1), {})[match.group(2).lower()] = info
    return found


def extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, folder: Path, month: str, slug: str,
            label: str) -> Path:
    """Copy one street file out of the zip under a name of our own, refusing oversized files."""
    target = folder / month / f"{month}-{slug}-street.csv"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(info) as source, open(target, "wb") as out:
        while chunk := source.read(2 ** 20):
            written += len(chunk)
            if written > MAX_MEMBER_BYTES:
                raise RefreshFailed(f"{label}!{info.filename}: larger than {MAX_MEMBER_BYTES // 2 ** 20} MB "
                                    "uncompressed, not a police.uk street file. Nothing was loaded.")
            out.write(chunk)
    return target


def area_forces(files: dict[str, Path], wards: gpd.GeoDataFrame, label: str) -> dict[str, str]:
    """slug -> force name for the forces policing the wards, judged from one month's files."""
    counts = []
    for slug, path in files.items():
        try:
            rows = pd.read_csv(path, dtype=str, keep_default_na=False,
                               usecols=["Falls within", "Longitude", "Latitude"])
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise RefreshFailed(f"{label}!{path.name}: not a police.uk street file ({exc}). "
                                "Nothing was loaded.") from None
        located = rows[(rows["Longitude"] != "") & (rows["Latitude"] != "")]
        lng = pd.to_numeric(located["Longitude"], errors="coerce")
        lat = pd.to_numeric(located["Latitude"], errors="coerce")
        ok = lng.notna() & lat.notna()
        wards_of = geography.assign_wards(lng[ok].to_numpy(), lat[ok].to_numpy(), wards)
        placed = pd.DataFrame({"ward": wards_of, "name": located.loc[ok, "Falls within"].to_numpy(),
                               "slug": slug}).dropna(subset=["ward"])
        counts.append(placed)
    placed = pd.concat(counts, ignore_index=True) if counts else pd.DataFrame(columns=["ward", "name", "slug"])
    if placed.empty:
        return {}
    per_ward = placed[placed["name"] != BTP_NAME].groupby(["ward", "slug", "name"]).size().reset_index(name="n")
    top = per_ward.sort_values(["ward", "n"], ascending=[True, False]).drop_duplicates("ward")
    chosen = dict(zip(top["slug"], top["name"]))
    btp = placed[placed["name"] == BTP_NAME]
    if len(btp):
        chosen[btp["slug"].iloc[0]] = BTP_NAME
    return dict(sorted(chosen.items()))


def refresh_from_archive(con: duckdb.DuckDBPyConnection, path: str | Path, *,
                         wards: gpd.GeoDataFrame | None = None, wards_origin: str | None = None,
                         boundaries: str | Path | None = None, months: int | None = None,
                         since: str | None = None, replace: bool = False, dry_run: bool = False,
                         progress: Progress | None = None) -> RefreshResult:
    """Import from a downloaded police.uk archive zip every month in the window that the store
    lacks, for the forces that police the loaded wards; one transaction per month."""
    report = progress or (lambda message, fraction: None)
    path = Path(path)
    label = str(path)
    try:
        wards, origin = resolve_wards(con, wards, wards_origin, boundaries)
    except geography.BoundaryError as exc:
        raise RefreshFailed(f"{exc}. Nothing was loaded.") from None
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise RefreshFailed(f"{label}: not a readable zip archive ({exc}). Nothing was loaded.") from None
    folder = Path(tempfile.mkdtemp(prefix="cdp-archive-"))
    try:
        with archive:
            members = street_members(archive)
            if not members:
                raise RefreshFailed(f"{label}: the zip holds no police.uk street files "
                                    "(YYYY-MM/YYYY-MM-<force>-street.csv). Nothing was loaded.")
            newest = max(members)
            report(f"Finding which forces police the area in {newest}", 0.0)
            files = {slug: extract(archive, info, folder, newest, slug, label)
                     for slug, info in members[newest].items()}
            forces = area_forces(files, wards, label)
            if not forces:
                raise RefreshFailed(f"{label}: none of its {newest} street files has incidents inside "
                                    f"the loaded wards ({', '.join(sorted(files))}). Nothing was loaded.")
            territorial = {s: n for s, n in forces.items() if n != BTP_NAME}
            held = held_months(con, list(territorial.values()))
            todo, skipped, note = select_months(sorted(members), held, months=months, since=since,
                                                replace=replace)
            plan = Plan(f"police.uk archive {label}", len(wards), territorial, sorted(members), todo,
                        skipped, note)
            result = RefreshResult(plan, dry_run)
            if dry_run:
                return result
            for i, month in enumerate(todo):
                report(f"{month}: importing {', '.join(forces.values())} ({i + 1} of {len(todo)})",
                       0.05 + 0.95 * i / len(todo))
                chosen = [extract(archive, members[month][slug], folder, month, slug, label)
                          for slug in forces if slug in members[month]]
                if not chosen:
                    result.loaded.append(MonthLoaded(month, 0, 0, None,
                                                     f"The archive has no {month} file for the area's forces."))
                    continue
                try:
                    imported = import_month(con, month, chosen, folder, wards, origin, f"{label}!")
                except RefreshFailed as exc:
                    raise failure(month, str(exc).removeprefix(f"{month}: "), result.loaded) from None
                result.loaded.append(MonthLoaded(month, imported.rows_loaded, 0, imported))
                shutil.rmtree(folder / month, ignore_errors=True)
            report("Done", 1.0)
            return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)

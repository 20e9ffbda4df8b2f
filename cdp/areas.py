"""Neighbourhood Action Team (NAT) areas: named groups of the loaded wards.

The areas come from a TOML file (CDP_AREAS, else config/areas.toml), one `[[areas]]` table per
area with a `name` and its `wards` (ward codes such as "E05012277", or ward names as the boundary
file spells them). Each ward belongs to at most one area; wards in no area are allowed. The file
is checked against the wards actually loaded, and any problem is an AreaError naming the file,
the line and the reason.

`resolve` turns what a configuration lists (area names, ward codes or ward names) into ward codes:
the access rules use it to assign wards to neighbourhood officers. The sidebar's area filter
chooses an area's wards (`Area.ward_codes`), and `by_area` sums any per-ward table by area, so
pages report by area as well as by ward.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from . import config

NO_AREA = "Not in a NAT area"


class AreaError(ValueError):
    """A NAT area file, or a list of areas and wards, that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Area:
    name: str
    ward_codes: tuple[str, ...]


@dataclass(frozen=True)
class Areas:
    """The NAT areas of one file, checked against the loaded wards."""
    areas: tuple[Area, ...]
    source: Path | None = None

    @property
    def names(self) -> list[str]:
        return [area.name for area in self.areas]

    def get(self, name: str) -> Area | None:
        """The area called `name` (case and surrounding spaces ignored), or None."""
        wanted = name.strip().casefold()
        return next((a for a in self.areas if a.name.casefold() == wanted), None)

    def area_of(self, ward_code: str) -> str | None:
        """The name of the area `ward_code` belongs to, or None."""
        return next((a.name for a in self.areas if ward_code in a.ward_codes), None)


def areas_path() -> Path:
    return config.areas_path()


def _line_of(text: str, needle: str) -> int | None:
    """The first physical line of `text` holding `needle` quoted (for error messages)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if f'"{needle}"' in line or f"'{needle}'" in line:
            return number
    return None


def _where(path: Path | None, text: str, needle: str | None) -> str:
    name = str(path) if path else "the NAT area list"
    line = _line_of(text, needle) if needle is not None else None
    return f"{name}, line {line}" if line else name


def ward_code_for(item: str, wards: Mapping[str, str]) -> str | None:
    """The ward code `item` names (a code, or a ward name; case ignored), or None."""
    text = item.strip()
    if text in wards:
        return text
    by_name = {name.casefold(): code for code, name in wards.items()}
    by_code = {code.casefold(): code for code in wards}
    return by_code.get(text.casefold()) or by_name.get(text.casefold())


def parse_areas(text: str, wards: Mapping[str, str], path: Path | None = None) -> Areas:
    """Areas from TOML text, checked against `wards` (ward code -> ward name)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AreaError(f"{path or 'the NAT area list'}: not valid TOML: {exc}") from None
    tables = data.get("areas", [])
    unknown = set(data) - {"areas"}
    if unknown:
        key = sorted(unknown)[0]
        raise AreaError(f"{_where(path, text, None)}: unknown setting '{key}' (the file holds "
                        "[[areas]] tables, each with a name and its wards)")
    if not isinstance(tables, list):
        raise AreaError(f"{_where(path, text, None)}: 'areas' must be [[areas]] tables")
    out: list[Area] = []
    owner: dict[str, str] = {}
    for index, table in enumerate(tables, start=1):
        name = table.get("name") if isinstance(table, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise AreaError(f"{_where(path, text, None)}: area {index} has no name")
        listed = table.get("wards")
        if not isinstance(listed, list) or not listed or not all(isinstance(w, str) for w in listed):
            raise AreaError(f"{_where(path, text, name)}: area '{name}' needs a list of wards "
                            "(codes or names)")
        extra = set(table) - {"name", "wards", "description"}
        if extra:
            raise AreaError(f"{_where(path, text, name)}: area '{name}' has an unknown setting "
                            f"'{sorted(extra)[0]}'")
        if any(a.name.casefold() == name.strip().casefold() for a in out):
            raise AreaError(f"{_where(path, text, name)}: area '{name}' is listed twice")
        codes = []
        for item in listed:
            code = ward_code_for(item, wards)
            if code is None:
                raise AreaError(f"{_where(path, text, item)}: area '{name}': '{item}' is not one of "
                                f"the {len(wards)} loaded wards (give a ward code or a ward name)")
            if code in owner:
                raise AreaError(f"{_where(path, text, item)}: ward '{item}' is in both "
                                f"'{owner[code]}' and '{name}' (a ward belongs to one area)")
            owner[code] = name.strip()
            codes.append(code)
        out.append(Area(name.strip(), tuple(codes)))
    return Areas(tuple(out), path)


def load_areas(wards: Mapping[str, str], path: Path | None = None) -> Areas:
    """The NAT areas of `path` (default CDP_AREAS, else config/areas.toml) for the loaded wards.
    A missing file means no areas."""
    path = Path(path) if path else areas_path()
    if not path.exists():
        if config.areas_path_configured():
            raise AreaError(f"{path}: the NAT area file (CDP_AREAS) does not exist")
        return Areas((), None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AreaError(f"{path}: cannot be read: {exc}") from None
    return parse_areas(text, wards, path)


def resolve(items: Iterable[str], wards: Mapping[str, str], areas: Areas | None = None,
            where: str = "the assignment") -> frozenset[str]:
    """Ward codes for a list of NAT area names, ward codes or ward names. The area file is read
    only when an item is not a ward; an item that is neither is an AreaError."""
    codes: set[str] = set()
    for item in items:
        code = ward_code_for(item, wards)
        if code is not None:
            codes.add(code)
            continue
        if areas is None:
            areas = load_areas(wards)
        area = areas.get(item)
        if area is None:
            known = ", ".join(areas.names) or "none are defined"
            raise AreaError(f"{where}: '{item}' is neither a loaded ward nor a NAT area "
                            f"(areas: {known})")
        codes.update(area.ward_codes)
    return frozenset(codes)


def by_area(frame: pd.DataFrame, areas: Areas, *, ward: str = "ward_code", keys: Iterable[str] = (),
            sums: Iterable[str] = ("count",), unassigned: bool = True) -> pd.DataFrame:
    """Per-ward rows summed per NAT area, by `keys` too (e.g. priority and month): the `ward`
    column then holds the area's name, so what reads a ward table reads the area table. Rows of
    wards in no area, or with no ward, are summed under NO_AREA when `unassigned`, else left out.
    Areas come in the file's order (NO_AREA last); a sum over nothing but missing values is missing."""
    keys, sums = list(keys), list(sums)
    owner = {code: area.name for area in areas.areas for code in area.ward_codes}
    named = frame[[*keys, *sums]].assign(**{ward: frame[ward].map(owner)})
    if unassigned:
        named[ward] = named[ward].fillna(NO_AREA)
    else:
        named = named[named[ward].notna()]
    out = named.groupby([ward, *keys], sort=False)[sums].sum(min_count=1).reset_index()
    order = {name: i for i, name in enumerate([*areas.names, NO_AREA])}
    return (out.sort_values(ward, key=lambda names: names.map(order), kind="stable")
            .reset_index(drop=True)[[*keys, ward, *sums]])

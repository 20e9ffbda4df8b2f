"""The Partnership Plan 2021-24 priorities and how each data source identifies them.

This module is the one place that decides which incidents belong to which priority.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Priority:
    key: str
    label: str
    police_uk_coverage: str  # "full", "proxy" or "unavailable"
    police_uk_note: str


PRIORITIES: tuple[Priority, ...] = (
    Priority("asb", "Anti-social behaviour", "full",
             "police.uk crime type 'Anti-social behaviour' (incidents, not crimes)"),
    Priority("drugs_alcohol", "Drugs and alcohol", "proxy",
             "police.uk crime type 'Drugs' only: no alcohol flag exists"),
    Priority("hate_crime", "Hate crime", "unavailable",
             "police.uk does not identify hate crime"),
    Priority("weapons", "Weapon-enabled offending", "proxy",
             "police.uk 'Possession of weapons' only: a proxy for weapon-enabled offending"),
    Priority("exploitation", "Modern slavery and exploitation", "unavailable",
             "police.uk does not identify modern slavery or exploitation"),
    Priority("dsva", "Domestic and sexual violence and abuse", "unavailable",
             "police.uk 'Violence and sexual offences' is not domestic-specific"),
)
PRIORITY_KEYS: tuple[str, ...] = tuple(p.key for p in PRIORITIES)
PRIORITY_BY_KEY: dict[str, Priority] = {p.key: p for p in PRIORITIES}

POLICE_UK_CRIME_TYPES: tuple[str, ...] = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery",
    "Shoplifting", "Theft from the person", "Vehicle crime", "Violence and sexual offences",
    # Older files, before May 2013:
    "Public disorder and weapons", "Violent crime",
)
ASB_CRIME_TYPE = "Anti-social behaviour"

# ASB incident types used by council and police ASB systems (partner extract `category`).
ASB_CATEGORIES: frozenset[str] = frozenset(c.lower() for c in (
    ASB_CRIME_TYPE, "Noise", "Rowdy or inconsiderate behaviour", "Vehicle nuisance",
    "Drug dealing", "Street drinking", "Neighbour dispute", "Littering", "Fly-tipping",
    "Begging", "Fireworks", "Nuisance behaviour", "Abandoned vehicle", "Animal nuisance",
    "Hoax calls", "Prostitution related", "Malicious communications (ASB)", "Trespass",
))

# police.uk crime type -> priorities it identifies.
POLICE_UK_PRIORITIES: dict[str, tuple[str, ...]] = {
    "Anti-social behaviour": ("asb",),
    "Drugs": ("drugs_alcohol",),
    "Possession of weapons": ("weapons",),
}

PRIORITY_COLUMNS: dict[str, str] = {k: f"p_{k}" for k in PRIORITY_KEYS}


def priority_column(key: str) -> str:
    """The store column that marks membership of priority `key`."""
    try:
        return PRIORITY_COLUMNS[key]
    except KeyError:
        raise ValueError(
            f"unknown priority {key!r}; choose one of {', '.join(PRIORITY_KEYS)}") from None


def count_condition(key: str, alias: str = "") -> str:
    """SQL condition for the incidents counted under priority `key`.

    ASB counts ASB incidents; every other priority counts crimes. Crime and ASB counts are never
    added together, so an ASB incident flagged for drugs is reported beside, not inside, a crime count.
    """
    prefix = f"{alias}." if alias else ""
    kind = f"{prefix}is_asb" if key == "asb" else f"NOT {prefix}is_asb"
    return f"({prefix}{priority_column(key)} AND {kind})"


def counted_unit(key: str) -> str:
    """What a count of priority `key` counts, for labels."""
    return "ASB incidents" if key == "asb" else "crimes"


def police_uk_types(key: str) -> list[str]:
    """The police.uk crime types that identify priority `key` (none for some priorities)."""
    return [t for t, keys in POLICE_UK_PRIORITIES.items() if key in keys]


def coverage_note(key: str, level: str) -> str:
    """What the interface says about a priority's coverage: nothing when full."""
    note = PRIORITY_BY_KEY[key].police_uk_note
    return {"full": "", "proxy": note}.get(level, f"Unavailable in the loaded data: {note}")


def coverage(key: str, datasets: set[str]) -> str:
    """How well the loaded datasets ('police_uk', 'partner') serve a priority.

    Returns "full", "proxy" or "unavailable". Partner extracts carry every flag.
    """
    if "partner" in datasets:
        return "full"
    if "police_uk" in datasets:
        return PRIORITY_BY_KEY[key].police_uk_coverage
    return "unavailable"


def partner_flags(category, flags: dict, hate_strand, weapon_type) -> dict:
    """Priority membership of partner-extract rows (vectorised over pandas Series).

    `flags` maps each partner `flag_*` column name to a boolean Series.
    """
    is_asb_cat = category.str.strip().str.lower().isin(ASB_CATEGORIES)
    is_crime_type = category.isin(POLICE_UK_CRIME_TYPES)
    return {
        # An ASB incident (never added into crime totals): an ASB category, or flagged ASB with no
        # crime type. A crime flagged ASB belongs to the ASB priority but stays a crime.
        "is_asb": is_asb_cat | (flags["flag_asb"] & ~is_crime_type),
        "p_asb": flags["flag_asb"] | is_asb_cat,
        "p_drugs_alcohol": flags["flag_drugs"] | flags["flag_alcohol"]
        | category.isin(["Drugs", "Drug dealing"]),
        "p_hate_crime": flags["flag_hate_crime"] | (hate_strand != ""),
        "p_weapons": flags["flag_weapon"] | (weapon_type != "") | (category == "Possession of weapons"),
        "p_exploitation": flags["flag_modern_slavery"] | flags["flag_exploitation"],
        "p_dsva": flags["flag_domestic_abuse"] | flags["flag_sexual_violence"],
    }

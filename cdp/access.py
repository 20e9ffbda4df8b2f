"""What a viewer may see: the one place that decides, and the functions that apply it to data.

A `Viewer` is who is looking (the logged-in user, their role, the wards assigned to them) and
answers every question the pages ask: may they see person keys, small numbers, the name of a
residential premises in this ward, open this page, profile this kind of subject. `restrict`
applies the answers to a table before anything is drawn from it, so restricted values never
reach the browser.

Who the viewer is comes from the identity (`viewer_from_identity`: the ID-token claims of an
OpenID Connect login, or an authenticating proxy's trusted headers) and the access file
(CDP_ACCESS, else config/access.toml): which claim names the user, which claim holds the roles,
which claim values and which users get which role, and the wards or Neighbourhood Action Team
areas assigned to neighbourhood officers. Without any login configured the dashboard is a local
single-user tool and `local_viewer` takes the role from CDP_ROLE. Anything unrecognised is
refused (`Refused`), never promoted.

Person-level views and exports are written to the tamper-evident audit log (cdp/audit.py)
through `log_person_view` and `log_person_export`.
"""
from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from . import areas as nat_areas
from . import audit, config, disclosure

ROLES = ("board", "neighbourhood", "analyst")   # narrowest first
ROLE_LABELS = {"board": "Board member", "neighbourhood": "Neighbourhood officer", "analyst": "Analyst"}
PERSON_KEYS = ("victim_id", "offender_id")
WITHHELD = "Residential address (withheld)"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Pages open to only some roles (the rest are open to all).
PAGE_ROLES = {
    "repeats": ("analyst",),
    "profile": ("analyst", "neighbourhood"),
    "data": ("analyst", "neighbourhood"),
}


def is_residential(premises_type) -> bool:
    """Whether a premises type is somewhere people live ("residential", "Residential - flat").
    A premises of unknown type counts as residential: its name is withheld too."""
    if premises_type is None or (not isinstance(premises_type, str) and pd.isna(premises_type)):
        return True
    text = str(premises_type).strip().casefold()
    return not text or text.startswith("residential")


@dataclass(frozen=True)
class Viewer:
    """Who is looking. `wards`: the ward codes assigned to a neighbourhood officer. `mode`: how
    they were identified (oidc, proxy, local or command line). `page`: the page being shown, for
    the audit log."""
    user: str
    role: str
    wards: frozenset[str] = frozenset()
    mode: str = "local"
    name: str = ""
    page: str = ""

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")
        object.__setattr__(self, "wards", frozenset(self.wards))

    @property
    def sees_person_keys(self) -> bool:
        """Pseudonymised victim and offender keys: analysts only."""
        return self.role == "analyst"

    @property
    def sees_residential_addresses(self) -> bool:
        """Names of residential premises everywhere: analysts only (an address with repeated
        incidents can identify the people who live there). See `sees_residential_name`."""
        return self.role == "analyst"

    @property
    def residential_wards(self) -> frozenset[str] | None:
        """The wards whose residential premises this viewer may see named: None for every ward
        (analysts), the assigned wards for neighbourhood officers, none for the board."""
        if self.role == "analyst":
            return None
        return self.wards if self.role == "neighbourhood" else frozenset()

    def sees_residential_name(self, ward_code: str | None) -> bool:
        scope = self.residential_wards
        return scope is None or ward_code in scope

    @property
    def figures(self) -> disclosure.TrueValues:
        """The disclosure layer for every figure this viewer is shown: published figures
        (cdp.disclosure's rule) for the board, true values for everyone else."""
        return disclosure.published() if self.role == "board" else disclosure.TrueValues()

    @property
    def may_refresh(self) -> bool:
        """Fetching police.uk data into the store from the Data page: analysts only."""
        return self.role == "analyst"

    @property
    def place_wards(self) -> frozenset[str] | None:
        """The wards a place or premises profile may cover: None for every ward (analysts), the
        assigned wards for neighbourhood officers (empty: none), none for the board."""
        if self.role == "analyst":
            return None
        return self.wards if self.role == "neighbourhood" else frozenset()

    def may_open(self, page: str) -> bool:
        return page not in PAGE_ROLES or self.role in PAGE_ROLES[page]

    def may_profile(self, kind: str) -> bool:
        """Person profiles: analysts. Places and premises: analysts and neighbourhood officers."""
        if kind == "person":
            return self.sees_person_keys
        return self.role in ("analyst", "neighbourhood")

    @property
    def description(self) -> str:
        """'jo@example.org, Neighbourhood officer' for banners and messages."""
        who = f"{self.name} ({self.user})" if self.name and self.name != self.user else self.user
        return f"{who}, {ROLE_LABELS[self.role].lower()}"

    def on_page(self, page: str) -> "Viewer":
        return replace(self, page=page)


def restrict(frame: pd.DataFrame, viewer: Viewer, *, name: str = "premises_name",
             kind: str = "premises_type", ward: str = "ward_code",
             ward_code: str | None = None) -> pd.DataFrame:
    """`frame` with only what `viewer` may see: without person key columns unless the viewer sees
    person keys, and with the names of residential premises (column `name`, their type in `kind`)
    replaced by WITHHELD outside the wards where the viewer may see them. Each row's ward is in
    column `ward`, or is `ward_code` for every row. Never changes `frame` itself."""
    out = frame
    if not viewer.sees_person_keys:
        dropped = [c for c in PERSON_KEYS if c in out.columns]
        if dropped:
            out = out.drop(columns=dropped)
    scope = viewer.residential_wards
    if scope is not None and name in out.columns and kind in out.columns and len(out):
        residential = out[kind].map(is_residential).astype(bool)
        if ward_code is not None:
            allowed = pd.Series(ward_code in scope, index=out.index)
        elif ward in out.columns:
            allowed = out[ward].isin(scope)
        else:
            allowed = pd.Series(False, index=out.index)
        hide = residential & ~allowed & out[name].notna()
        if hide.any():
            out = out.copy()
            out[name] = out[name].astype("object")
            out.loc[hide, name] = WITHHELD
    return out


def premises_label(key: str, name: str | None, kind: str | None, ward_code: str | None,
                   viewer_wards: frozenset[str] | None) -> str:
    """A premises as listed in choosers: "name (type)", or "Residential address <key>" when the
    name of this residential premises is withheld (`viewer_wards`: Viewer.residential_wards)."""
    if is_residential(kind) and viewer_wards is not None and ward_code not in viewer_wards:
        return f"Residential address {key}"
    return f"{name or key} ({kind or 'premises'})"


# --- who the viewer is ---------------------------------------------------------------------------

class AccessConfigError(ValueError):
    """The access file cannot be used (the message names the file, the line and the reason)."""


class Refused(Exception):
    """An identity, or a local set-up, that gets no data. `title` and the message say why."""

    def __init__(self, title: str, message: str, user: str = ""):
        super().__init__(message)
        self.title, self.user = title, user


@dataclass(frozen=True)
class Grant:
    """What a role claim value or a user entry grants: a role, and wards or NAT areas."""
    role: str | None
    areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessConfig:
    user_claims: tuple[str, ...] = ("email", "preferred_username", "upn", "sub")
    role_claim: str = "roles"
    role_values: Mapping[str, Grant] = field(default_factory=dict)   # casefolded claim value
    users: Mapping[str, Grant] = field(default_factory=dict)         # casefolded user
    source: Path | None = None


def _line_of(text: str, needle: str) -> int | None:
    """The physical line where the key or section `needle` is written (else where it appears)."""
    lines = text.splitlines()
    starts = (f'"{needle}"', f"'{needle}'", f"[{needle}]", f"[{needle}.", f"{needle} ", f"{needle}=")
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith(starts):
            return number
    return next((n for n, line in enumerate(lines, start=1) if needle in line), None)


def parse_config(text: str, path: Path | None = None) -> AccessConfig:
    """The access rules from TOML text (see config/access.toml for every setting)."""
    name = str(path) if path else "the access configuration"

    def fail(reason: str, near: str | None = None) -> AccessConfigError:
        line = _line_of(text, near) if near else None
        return AccessConfigError(f"{name}{f', line {line}' if line else ''}: {reason}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessConfigError(f"{name}: not valid TOML: {exc}") from None
    for key in data:
        if key not in ("claims", "roles", "users"):
            raise fail(f"unknown section '{key}' (expected [claims], [roles], [users])", key)
    claims = data.get("claims", {})
    for key in claims:
        if key not in ("user", "roles"):
            raise fail(f"unknown setting claims.{key} (expected user, roles)", key)
    user_claims = claims.get("user", list(AccessConfig.user_claims))
    if isinstance(user_claims, str):
        user_claims = [user_claims]
    if not user_claims or not all(isinstance(c, str) and c for c in user_claims):
        raise fail("claims.user must be a claim name or a list of them", "user")
    role_claim = claims.get("roles", AccessConfig.role_claim)
    if not isinstance(role_claim, str) or not role_claim:
        raise fail("claims.roles must be the name of one claim", "roles")

    def grant(where: str, value, needs_role: bool) -> Grant:
        if isinstance(value, str):
            value = {"role": value}
        if not isinstance(value, dict):
            raise fail(f"{where} must be a role or a table with role and areas", where)
        extra = set(value) - {"role", "areas"}
        if extra:
            raise fail(f"{where}: unknown setting '{sorted(extra)[0]}' (expected role, areas)", where)
        role = value.get("role")
        if role is None and needs_role:
            raise fail(f"{where} needs a role ({', '.join(ROLES)})", where)
        if role is not None and role not in ROLES:
            raise fail(f"{where}: '{role}' is not a role (use {', '.join(ROLES)})", where)
        listed = value.get("areas", [])
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list) or not all(isinstance(a, str) and a.strip() for a in listed):
            raise fail(f"{where}: areas must be a list of NAT area names, ward codes or ward names", where)
        if listed and role not in (None, "neighbourhood"):
            raise fail(f"{where}: areas are assigned to the neighbourhood role only", where)
        return Grant(role, tuple(a.strip() for a in listed))

    def table(section: str, needs_role: bool) -> dict[str, Grant]:
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            raise fail(f"[{section}] must be a table", section)
        out = {}
        for key, value in raw.items():
            folded = key.strip().casefold()
            if folded in out:
                raise fail(f"'{key}' is listed twice in [{section}] (names are compared ignoring case)", key)
            out[folded] = grant(key, value, needs_role)
        return out

    return AccessConfig(tuple(user_claims), role_claim, table("roles", True), table("users", False),
                        path)


def load_config(path: Path | None = None) -> AccessConfig:
    """The access rules of `path` (default CDP_ACCESS, else config/access.toml)."""
    path = Path(path) if path else config.access_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AccessConfigError(f"{path}: the access configuration (CDP_ACCESS) does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessConfigError(f"{path}: cannot be read: {exc}") from None
    return parse_config(text, path)


def claim_values(value) -> list[str]:
    """A role claim as a list of values: a list as it comes, a string split on commas and spaces
    (as a proxy header carries it)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def _assigned_wards(areas: Iterable[str], wards: Mapping[str, str], where: str) -> frozenset[str]:
    try:
        return nat_areas.resolve(areas, wards, where=where)
    except nat_areas.AreaError as exc:
        raise Refused("The ward assignment cannot be used", f"{exc}. No data is shown until it "
                      "is corrected.") from None


def viewer_from_identity(identity: Mapping, cfg: AccessConfig, wards: Mapping[str, str] | None,
                         mode: str = "oidc") -> Viewer:
    """The viewer an identity (ID-token claims, or trusted-header values) is, under `cfg`.

    `wards`: the loaded wards (code -> name), against which assignments are resolved (None: decide
    the role only, assigning no wards). Raises Refused for an identity without a user claim or
    without a recognised role."""
    user = next((str(identity[c]).strip() for c in cfg.user_claims
                 if identity.get(c) not in (None, "") and str(identity[c]).strip()), None)
    if user is None:
        source = "authenticating proxy" if mode == "proxy" else "identity provider"
        raise Refused("Not signed in", f"The {source} did not say who you are (none of "
                      f"{', '.join(cfg.user_claims)} was present), so no data is shown.")
    values = claim_values(identity.get(cfg.role_claim))
    grants = [cfg.role_values[v.casefold()] for v in values if v.casefold() in cfg.role_values]
    entry = cfg.users.get(user.casefold())
    if entry is not None and entry.role is not None:
        role = entry.role
    elif grants:
        role = max((g.role for g in grants), key=ROLES.index)
    else:
        shown = ", ".join(f"'{v}'" for v in values) if values else "none"
        raise Refused("No dashboard role", f"You are signed in as {user}, but your account holds no "
                      f"role this dashboard recognises (role claim '{cfg.role_claim}': {shown}). "
                      "Ask the dashboard's administrator to assign you the board, neighbourhood or "
                      "analyst role.", user=user)
    assigned: frozenset[str] = frozenset()
    if role == "neighbourhood" and wards is not None:
        listed = [a for g in grants if g.role == "neighbourhood" for a in g.areas]
        listed += list(entry.areas) if entry is not None else []
        where = str(cfg.source or "the access configuration")
        assigned = _assigned_wards(listed, wards, where)
    name = str(identity.get("name") or "").strip()
    return Viewer(user=user, role=role, wards=assigned, mode=mode, name=name)


def os_user() -> str:
    """The operating-system account running the process (who sits at a local-mode dashboard, or
    runs the command line)."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


current_user = os_user  # the name the importers use for `imported_by`


def local_viewer(wards: Mapping[str, str] | None, environ: Mapping[str, str] | None = None) -> Viewer:
    """The viewer of a local single-user dashboard: the role from CDP_ROLE (default analyst) and,
    for neighbourhood, the wards or NAT areas in CDP_ROLE_AREAS, resolved against `wards` (None:
    decide the role only). Refused for an unknown role."""
    environ = os.environ if environ is None else environ
    text = environ.get("CDP_ROLE", "").strip()
    role = text.lower() or "analyst"
    if role not in ROLES:
        raise Refused("Unknown role", f"CDP_ROLE is '{text}', which is not a role. Set it to one of "
                      f"{', '.join(ROLES)} (or leave it unset for analyst) and restart the dashboard.")
    assigned: frozenset[str] = frozenset()
    if role == "neighbourhood" and wards is not None:
        listed = [a.strip() for a in environ.get("CDP_ROLE_AREAS", "").split(",") if a.strip()]
        assigned = _assigned_wards(listed, wards, "CDP_ROLE_AREAS")
    return Viewer(user=os_user(), role=role, wards=assigned, mode="local")


def command_line_viewer() -> Viewer:
    """Whoever runs `python -m cdp` (an import writing a rejects file): the operating-system
    account, which reads the files and the store directly, so an analyst's view."""
    return Viewer(user=os_user(), role="analyst", mode="command line", page="python -m cdp")


def is_loopback(address: str | None) -> bool:
    """Whether a server address listens on this machine only (unset means every interface)."""
    if not address:
        return False
    text = address.strip().strip("[]").lower()
    return text in LOOPBACK or text.startswith("127.")


# --- the audit log ------------------------------------------------------------------------------

def _log(viewer: Viewer, action: str, what: str, filters: dict, rows: int, path: Path | None,
         page: str | None) -> dict:
    return audit.append(user=viewer.user, role=viewer.role, mode=viewer.mode, action=action,
                        what=what, page=page if page is not None else viewer.page,
                        filters=filters, rows=rows, path=path)


def log_person_export(viewer: Viewer, what: str, filters: dict, rows: int,
                      path: Path | None = None, *, page: str | None = None) -> dict:
    """Log an export of person-level rows (call it as the file is made, before it is handed over).
    Raises audit.AuditUnavailable when the log cannot be written: then the file must not be given."""
    return _log(viewer, "export", what, filters, rows, path, page)


def log_person_view(viewer: Viewer, what: str, filters: dict, rows: int,
                    path: Path | None = None, *, page: str | None = None) -> dict:
    """Log a view of person-level rows (before they are drawn). Raises audit.AuditUnavailable when
    the log cannot be written: then the rows must not be shown."""
    return _log(viewer, "view", what, filters, rows, path, page)

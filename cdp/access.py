"""What a viewer may see. The one place that decides, ready for logins and roles.

Until logins exist the role comes from CDP_ROLE (default: analyst) and the operating-system user
is recorded in the audit log.
"""
from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import config

ROLES = ("board", "neighbourhood", "analyst")


@dataclass(frozen=True)
class Viewer:
    user: str
    role: str

    @property
    def sees_person_keys(self) -> bool:
        """Pseudonymised victim and offender keys: analysts only."""
        return self.role == "analyst"

    @property
    def sees_residential_addresses(self) -> bool:
        """Names of residential premises: an address with repeated incidents can identify the
        people who live there, so analysts only."""
        return self.role == "analyst"

    @property
    def sees_small_numbers(self) -> bool:
        """Counts of 1-4: hidden from the board role everywhere."""
        return self.role != "board"

    @property
    def may_refresh(self) -> bool:
        """Fetching police.uk data into the store from the Data page: analysts only."""
        return self.role == "analyst"

    def may_open(self, page: str) -> bool:
        return page not in PAGE_ROLES or self.role in PAGE_ROLES[page]


# Pages open to only some roles (the rest are open to all).
PAGE_ROLES = {
    "repeats": ("analyst",),
    "profile": ("analyst",),
    "data": ("analyst", "neighbourhood"),
}


def current_user() -> str:
    """The operating-system user, until logins exist."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def current_viewer() -> Viewer:
    role = os.environ.get("CDP_ROLE", "analyst").strip().lower()
    if role not in ROLES:
        role = "analyst"
    return Viewer(user=current_user(), role=role)


def log_person_export(viewer: Viewer, what: str, filters: dict, rows: int,
                      path: Path | None = None) -> None:
    """Append one line to the audit log for every export of person-level rows."""
    path = path or config.audit_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"when": datetime.now().isoformat(timespec="seconds"), "user": viewer.user,
             "role": viewer.role, "export": what, "rows": rows, "filter": filters}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, default=str) + "\n")

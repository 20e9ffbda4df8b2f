"""The audit log of person-level data: who saw or exported which rows, in a tamper-evident chain.

One JSON object per line, appended and never rewritten. Each entry holds `seq` (1, 2, ...), `time`
(UTC), `user`, `role`, `mode` (how the user was identified: oidc, proxy, local or command line), `action` (view or
export), `what`, `page`, `filters`, `rows`, `prev` (the previous entry's hash; 64 zeros for the
first) and `hash`: SHA-256 of the entry's other fields as canonical JSON, so changing, removing or
reordering any entry breaks the chain from there on. With CDP_AUDIT_KEY set the hash is an
HMAC-SHA256 under that key, so someone who can edit the file but does not hold the key cannot
recompute a consistent chain either. `verify` walks the chain and names the first broken entry.

Appends take an exclusive lock on the file (fcntl.flock: the dashboard's sessions and any other
process on the same machine queue up); a log that cannot be written raises AuditUnavailable, and
the callers show no person-level data.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from . import config

GENESIS = "0" * 64
ACTIONS = ("view", "export")
FIELDS = ("seq", "time", "user", "role", "mode", "action", "what", "page", "filters", "rows", "prev")


class AuditUnavailable(RuntimeError):
    """The audit log cannot be written (or its last entry cannot be read), so nothing is logged."""


def _key() -> bytes | None:
    value = os.environ.get("CDP_AUDIT_KEY", "")
    return value.encode("utf-8") if value else None


def entry_hash(entry: dict, key: bytes | None = None) -> str:
    """The hash of an entry: over every field except `hash`, as canonical JSON."""
    body = {name: entry.get(name) for name in FIELDS}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _jsonable(value):
    """Filters and other values as plain JSON: dates as text, dataclasses as dicts, sets sorted."""
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def filters_record(f) -> dict:
    """The filters of a view for the log: every field that is set (empty and false ones left out)."""
    out = {}
    for fld in fields(f):
        value = getattr(f, fld.name)
        if value in ((), "", False, 0, None):
            continue
        out[fld.name] = f"{value:%Y-%m}" if isinstance(value, date) else _jsonable(value)
    return out


def _last_line(handle) -> bytes:
    """The file's last non-empty line (read backwards from the end, so any size is cheap)."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    block, data = 4096, b""
    position = end
    while position > 0:
        step = min(block, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
        stripped = data.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return data.rstrip(b"\n")


def _open_for_append(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise AuditUnavailable(f"the audit log {path} cannot be opened for writing: "
                               f"{exc.strerror or exc}") from exc


def check_writable(path: Path | None = None) -> None:
    """Raise AuditUnavailable unless an entry could be appended to the log now."""
    path = Path(path or config.audit_log_path())
    fd = _open_for_append(path)
    os.close(fd)


def append(*, user: str, role: str, mode: str, action: str, what: str, page: str,
           filters: dict, rows: int, path: Path | None = None) -> dict:
    """Append one entry, chained to the last one, and return it. AuditUnavailable if it cannot be
    written; then nothing was logged and the caller must not show or export the rows."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    path = Path(path or config.audit_log_path())
    fd = _open_for_append(path)
    try:
        with os.fdopen(fd, "r+b", buffering=0) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
                last = _last_line(handle)
                if last:
                    try:
                        previous = json.loads(last)
                        seq, prev = int(previous["seq"]) + 1, str(previous["hash"])
                    except (ValueError, KeyError, TypeError):
                        raise AuditUnavailable(
                            f"the last entry of the audit log {path} cannot be read, so a new entry "
                            "cannot be chained to it (run `python -m cdp audit verify`)") from None
                else:
                    seq, prev = 1, GENESIS
                entry = {"seq": seq, "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         "user": user, "role": role, "mode": mode, "action": action, "what": what,
                         "page": page, "filters": _jsonable(filters), "rows": int(rows), "prev": prev}
                entry["hash"] = entry_hash(entry, _key())
                line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
                handle.write(line.encode("utf-8"))  # one write on an O_APPEND file
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError as exc:
        raise AuditUnavailable(f"the audit log {path} cannot be written: {exc.strerror or exc}") from exc
    return entry


def entries(path: Path | None = None) -> Iterator[dict]:
    """Every entry of the log, in order (for reading; `verify` checks them)."""
    path = Path(path or config.audit_log_path())
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@dataclass(frozen=True)
class Verification:
    path: Path
    entries: int                 # entries checked and found sound
    head: str                    # the hash of the last sound entry (GENESIS when none)
    broken_line: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_line is None

    def report(self) -> str:
        if not self.ok:
            before = ("no entry before it" if self.entries == 0 else "the entry before it is sound"
                      if self.entries == 1 else f"the {self.entries:,} entries before it are sound")
            return (f"{self.path}, line {self.broken_line}: the chain is broken: {self.reason}; "
                    f"{before} (head {self.head}).")
        if self.entries == 0:
            return f"{self.path}: no entries yet." if self.path.exists() else \
                f"{self.path}: there is no audit log here (nothing has been logged yet)."
        return (f"{self.path}: {self.entries:,} entries, chain intact. Head: entry {self.entries} "
                f"{self.head} (keep a copy elsewhere: an entry removed from the end leaves no gap).")


def verify(path: Path | None = None) -> Verification:
    """Walk the chain: each entry must parse, number on from the last, name the last one's hash
    and carry its own correct hash. Stops at the first broken entry."""
    path = Path(path or config.audit_log_path())
    key = _key()
    good, prev = 0, GENESIS
    if not path.exists():
        return Verification(path, 0, GENESIS)

    def broken(line_no: int, reason: str) -> Verification:
        return Verification(path, good, prev, line_no, reason)

    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                return broken(line_no, "an empty line")
            try:
                entry = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return broken(line_no, "not a JSON entry")
            if not isinstance(entry, dict) or set(entry) != {*FIELDS, "hash"}:
                return broken(line_no, "the entry does not have the audit fields")
            if entry["seq"] != good + 1:
                return broken(line_no, f"entry number {entry['seq']} where {good + 1} was expected "
                                       "(an entry was removed, added or moved)")
            if entry["prev"] != prev:
                return broken(line_no, f"entry {entry['seq']} does not follow the previous entry's "
                                       "hash (an earlier entry was changed or removed)")
            if entry["hash"] != entry_hash(entry, key):
                return broken(line_no, f"entry {entry['seq']} does not match its hash (it was changed"
                                       + (", or CDP_AUDIT_KEY differs from the one it was written with)"
                                          if key else ")"))
            good, prev = good + 1, entry["hash"]
    return Verification(path, good, prev)

"""Where uploaded files wait while they are imported: a private folder the product owns.

The browser's file name is never a path on the server: each upload is written under a folder of
its own (mode 0700) by a name the server chooses, and the folder is removed when the import ends,
whatever happened. A server that stopped mid-upload leaves a folder behind; `clean_leftovers`
removes those (their process is gone, or they are a day old) when a server starts.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import config
from .embedded import process_alive

KEEP_SECONDS = 24 * 3600
SUFFIXES = (".csv", ".zip")


def _host() -> str:
    return "".join(c for c in socket.gethostname() if c.isalnum())[:40] or "host"


def _private_root() -> Path:
    root = config.upload_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    return root


@contextmanager
def private_folder() -> Iterator[Path]:
    """A new folder only this user can read, removed when the block ends (also on an error)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{_host()}-{os.getpid()}-", dir=_private_root()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def save(folder: Path, index: int, name: str, data: bytes) -> Path:
    """Write one upload as upload-<index> with the extension its name gives (.csv or .zip);
    `name` is only looked at for the extension, never used as a path."""
    suffix = next((s for s in SUFFIXES if name.lower().endswith(s)), ".csv")
    path = folder / f"upload-{index:03d}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def display_names(names: list[str]) -> list[str]:
    """The names to show in messages: as uploaded, numbered when two uploads share a name."""
    shown, seen = [], {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        shown.append(name if seen[name] == 1 else f"{name} (upload {seen[name]})")
    return shown


def clean_leftovers(now: float | None = None) -> list[Path]:
    """Remove upload folders left by servers that stopped mid-import; returns what was removed."""
    root = config.upload_dir()
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for folder in root.iterdir():
        host, _, rest = folder.name.partition("-")
        pid = rest.partition("-")[0]
        stale = now - folder.lstat().st_mtime > KEEP_SECONDS
        gone = host == _host() and pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid))
        if stale or gone:
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)
            removed.append(folder)
    return removed

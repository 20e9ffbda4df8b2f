"""The embedded store (one DuckDB file) shared by several processes on one machine.

DuckDB lets many processes read a file at once (read-only opens) or one process write it. On
top of that rule:

- Readers that live long (a dashboard server) keep the file open read-only through one anchor
  connection, so each query opens a connection in about 0.2 ms instead of reopening the file
  (about 50 ms at a million incidents); they let go whenever a writer asks, and when unused.
- A writer that finds the file in use leaves a request beside it (`<store>.write-request`, its
  process id and command line), waits for readers to let go, and removes the request once it
  holds the file. Readers that see a live request, or find the file held by a writer, raise
  Busy, which names the process holding the store.
- A request whose process is gone (killed mid-way) is ignored, and DuckDB's own lock goes with
  the process, so nothing stale ever blocks the store.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Callable

import duckdb

POLL_SECONDS = 0.25
IDLE_SECONDS = 60.0  # a reader unused this long lets go of the file (the next read reopens it)
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


class Busy(Exception):
    """The store is held by another process (an import, usually): try again when it finishes."""

    def __init__(self, store: str, holder: str, writing: bool):
        self.store, self.holder, self.writing = store, holder, writing
        what = "is being updated by" if writing else "is in use by"
        super().__init__(f"the store {store} {what} {holder}")


def describe_process(pid: int) -> str:
    """'PID 123 (python -m cdp ingest ...)', as far as this machine can tell."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"PID {pid}"
    words = [w.decode(errors="replace") for w in words if w]
    if words and os.path.basename(words[0]).startswith("python"):
        words = ["python", *words[1:]]
    for i, word in enumerate(words):  # `python .../bin/streamlit run ...` -> `streamlit run ...`
        if os.path.basename(word) == "streamlit" and i <= 1:
            words = ["streamlit", *words[i + 1:]]
            break
    command = " ".join(" ".join(os.path.basename(w) if i == 0 or w.startswith("/") else w
                                for i, w in enumerate(words)).split())  # one line
    if len(command) > 100:
        command = command[:97] + "..."
    return f"PID {pid} ({command})" if command else f"PID {pid}"


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (perhaps another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_lock_error(exc: Exception) -> bool:
    return isinstance(exc, duckdb.IOException) and "Could not set lock on file" in str(exc)


def _is_config_clash(exc: Exception) -> bool:
    return isinstance(exc, duckdb.ConnectionException) and "different configuration" in str(exc)


def _lock_holder(exc: Exception) -> str:
    found = _LOCK_HOLDER.search(str(exc))
    return describe_process(int(found.group(2))) if found else "another process"


# --- the writer's request ------------------------------------------------------------------------

def request_path(path: Path) -> Path:
    return path.with_name(path.name + ".write-request")


def pending_writer(path: Path) -> int | None:
    """The process id of a live writer asking for the file, if any (a request left by a killed
    process is ignored, even once its process id is reused)."""
    try:
        pid_line, who = request_path(path).read_text().split("\n")[:2]
        pid = int(pid_line)
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) and describe_process(pid) == who else None


def _request(path: Path) -> None:
    request = request_path(path)
    if pending_writer(path) == os.getpid():
        return
    try:
        request.write_text(f"{os.getpid()}\n{describe_process(os.getpid())}\n")
    except OSError:
        pass  # a read-only folder: readers cannot be asked, the writer just waits


def _withdraw(path: Path) -> None:
    if pending_writer(path) == os.getpid():
        try:
            request_path(path).unlink()
        except OSError:
            pass


def open_for_writing(path: Path, wait: float, waiting: Callable[[str], None] | None = None
                     ) -> duckdb.DuckDBPyConnection:
    """Open the file read-write, waiting up to `wait` seconds for other processes to let go.

    `waiting` is told once, in one line, what holds the store while this waits. Raises Busy
    when the time runs out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    told = False
    try:
        while True:
            try:
                con = duckdb.connect(str(path))
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if _is_lock_error(exc):
                    holder = _lock_holder(exc)
                elif _is_config_clash(exc):  # this process reads the file: let go of it
                    release(path)
                    holder = "this process's readers"
                else:
                    raise
                _request(path)
                if time.monotonic() >= deadline:
                    raise Busy(str(path), holder, writing=False) from None
                if waiting and not told:
                    waiting(f"waiting: the store {path} is in use by {holder}; this starts as "
                            "soon as it is free (Ctrl-C to stop)")
                    told = True
                time.sleep(POLL_SECONDS)
                continue
            return con
    finally:
        _withdraw(path)


def open_for_reading(path: Path, wait: float = 0.0, waiting: Callable[[str], None] | None = None
                     ) -> duckdb.DuckDBPyConnection:
    """Open the file read-only, waiting up to `wait` seconds while a writer holds or asks for it.

    A process that already has the file open read-write (its own writer) reads through that."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        writer = pending_writer(path)
        try:
            if writer is not None:
                raise Busy(str(path), describe_process(writer), writing=True)
            try:
                return duckdb.connect(str(path), read_only=True)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if _is_config_clash(exc):
                    return duckdb.connect(str(path))  # share this process's own read-write open
                if _is_lock_error(exc):
                    raise Busy(str(path), _lock_holder(exc), writing=True) from None
                raise
        except Busy as busy:
            if time.monotonic() >= deadline:
                raise
            if waiting and not told:
                waiting(f"waiting: the store {path} is being updated by {busy.holder}; this "
                        "runs as soon as it has finished (Ctrl-C to stop)")
                told = True
            time.sleep(POLL_SECONDS)


# --- long-lived readers --------------------------------------------------------------------------

class Reader:
    """A process's reads of one store file: cheap connections, released when a writer asks (and
    after IDLE_SECONDS unused)."""

    def __init__(self, path: Path):
        self.path = path
        self._anchor: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._used = time.monotonic()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection for one use (close it after); raises Busy while a writer works."""
        with self._lock:
            self._used = time.monotonic()
            if self._anchor is None:
                anchor = open_for_reading(self.path)
                if _read_only(anchor):  # never anchor a share of this process's own writer
                    self._anchor = anchor
                    self._watch()
                else:
                    return anchor
        return open_for_reading(self.path)

    def release(self) -> None:
        """Let go of the file (connections in use finish first; DuckDB closes it after them)."""
        with self._lock:
            anchor, self._anchor = self._anchor, None
        if anchor is not None:
            anchor.close()

    def _watch(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._wait_for_writers, daemon=True,
                                             name=f"cdp store watcher {self.path.name}")
            self._watcher.start()

    def _wait_for_writers(self) -> None:
        while self._anchor is not None:
            if pending_writer(self.path) is not None or time.monotonic() - self._used > IDLE_SECONDS:
                self.release()
                return
            time.sleep(POLL_SECONDS)


def _read_only(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT readonly FROM duckdb_databases() "
                            "WHERE database_name = current_database()").fetchall()[0][0])


_READERS: dict[Path, Reader] = {}
_READERS_LOCK = threading.Lock()


def reader(path: Path) -> Reader:
    """The process's Reader of `path` (one per file)."""
    key = path.resolve()
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = Reader(path)
        return _READERS[key]


def release(path: Path) -> None:
    """Let go of this process's long-lived reads of `path` (before writing it)."""
    found = _READERS.get(path.resolve())
    if found is not None:
        found.release()

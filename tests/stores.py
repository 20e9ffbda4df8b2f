"""Stores for tests in every storage mode: the embedded DuckDB file, DuckLake on a SQLite
catalog, and DuckLake on a PostgreSQL cluster that the tests start in a temporary folder
(Debian's initdb and pg_ctl; .ci/run installs the postgresql package; no system service)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from cdp import store

MODES = ["duckdb", "ducklake-postgres"]  # the page tests run on both


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL server on a Unix socket in its own folder (no TCP port)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise FileNotFoundError("PostgreSQL's initdb is not installed (apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="cdp-pg-"))
        self.port = 5432
        self._databases = 0
        self._user: dict = {}
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user
            account = _account("postgres") or _account("nobody")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._user = {"user": account.pw_uid, "group": account.pw_gid}
        self._run("initdb", "-D", self.folder / "data", "-A", "trust", "-U", "cdp", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        options = (f"-k {self.folder} -c listen_addresses='' -p {self.port} -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200")
        self._run("pg_ctl", "-D", self.folder / "data", "-o", options, "-l", self.folder / "server.log",
                  "-w", "-t", "60", "start")

    def _run(self, program: str, *args) -> None:
        done = subprocess.run([str(self.bin / program), *map(str, args)], capture_output=True,
                              text=True, cwd=self.folder, **self._user)
        if done.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(f"{program} failed: {done.stderr}{log.read_text() if log.exists() else ''}")

    def libpq(self, database: str) -> str:
        return f"host={self.folder} port={self.port} dbname={database} user=cdp"

    def new_database(self) -> str:
        """A new empty database; returns its libpq connection string."""
        self._databases += 1
        name = f"cdp_{self._databases}"
        self._run("createdb", "-h", self.folder, "-p", self.port, "-U", "cdp", name)
        return self.libpq(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.folder / "data", "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _account(name: str):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def new_store(mode: str, folder: Path, cluster: PostgresCluster | None = None) -> str:
    """A new, empty, migrated store of `mode` under `folder`; returns its CDP_STORE setting
    (a lake remembers its data path, so the setting alone opens it from then on)."""
    folder.mkdir(parents=True, exist_ok=True)
    if mode == "duckdb":
        setting = str(folder / "cdp.duckdb")
        store.connect(setting).close()
        return setting
    if mode == "ducklake-sqlite":
        setting = f"ducklake:sqlite:{folder / 'catalog.sqlite'}"
    else:
        assert mode == "ducklake-postgres" and cluster is not None, mode
        setting = f"ducklake:postgres:{cluster.new_database()}"
    where = store.locate(setting)
    store.connect(store.Location("ducklake", catalog=where.catalog,
                                 data_path=str(folder / "lake-data") + "/")).close()
    return setting


def copy_store(source: str, mode: str, folder: Path, cluster: PostgresCluster | None = None) -> str:
    """A writable copy of the store `source` (of the same mode) in a new store; its setting."""
    if mode == "duckdb":
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / "cdp.duckdb")
        return str(folder / "cdp.duckdb")
    target = new_store(mode, folder, cluster)
    src, dst = store.connect(source, read_only=True), store.connect(target)
    try:
        store.copy_tables(src, dst)
    finally:
        src.close()
        dst.close()
    return target

"""The store as a setting, on every engine: the embedded DuckDB file, DuckLake on SQLite and on
PostgreSQL (a cluster the tests start). Every SQL form the code uses is run on each."""
from __future__ import annotations

import hashlib
import threading

import duckdb
import geopandas as gpd
import pytest

from cdp import geography, lake, store
from cdp.ingest import ImportFailed, ingest
from conftest import WARDS_FILE
from stores import new_store

ENGINES = ["duckdb", "ducklake-sqlite", "ducklake-postgres"]


@pytest.fixture(params=ENGINES)
def any_store(request, tmp_path) -> str:
    cluster = request.getfixturevalue("postgres") if request.param == "ducklake-postgres" else None
    return new_store(request.param, tmp_path / "store", cluster)


def digest(con) -> str:
    """Every table's rows, in order: equal digests mean an unchanged store."""
    parts = []
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                "current_database() ORDER BY 1").fetchall():
        rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        parts.append(f"{table}:{rows!r}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# --- the setting ---------------------------------------------------------------------------------

def test_the_setting_names_a_file_or_a_lake(monkeypatch, tmp_path):
    monkeypatch.delenv("CDP_STORE", raising=False)
    monkeypatch.delenv("CDP_DB", raising=False)
    assert store.locate().path.name == "cdp.duckdb" and store.locate().path.parent.name == "data"
    monkeypatch.setenv("CDP_DB", str(tmp_path / "old.duckdb"))
    assert store.locate() == store.Location("duckdb", path=tmp_path / "old.duckdb")
    monkeypatch.setenv("CDP_STORE", "ducklake:postgres:host=db.example port=5433 dbname=cdp user=cdp")
    monkeypatch.setenv("CDP_DATA_PATH", "s3://bucket/cdp/")
    lake_store = store.locate()
    assert lake_store.is_lake and lake_store.catalog == "postgres:host=db.example port=5433 dbname=cdp user=cdp"
    assert lake_store.data_path == "s3://bucket/cdp/"
    assert store.locate(db=tmp_path / "x.duckdb").path == tmp_path / "x.duckdb"  # --db wins
    assert store.locate(str(tmp_path / "y.duckdb")).path == tmp_path / "y.duckdb"  # so does --store
    monkeypatch.setenv("CDP_DATA_PATH", str(tmp_path / "relative" / ".." / "lake"))
    sqlite_store = store.locate(f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}")
    assert sqlite_store.data_path == f"{tmp_path / 'lake'}/"
    assert sqlite_store.files() == [tmp_path / "catalog.sqlite", tmp_path / "catalog.sqlite.write-lock",
                                    tmp_path / "lake"]


def test_a_password_never_appears_in_a_message(monkeypatch):
    where = store.locate("ducklake:postgres:host=/nowhere dbname=cdp user=cdp password=s3cret")
    assert "s3cret" not in str(where) and "password=***" in str(where)
    with pytest.raises(store.Unavailable) as refused:
        store.connect(where)
    assert "s3cret" not in str(refused.value) and "cannot open the store" in str(refused.value)
    assert "s3cret" not in lake.mask("postgresql://cdp:s3cret@db/cdp")
    with pytest.raises(store.Unavailable, match="ducklake:postgres:<libpq connection string>"):
        store.locate("ducklake:mysql:host=x")


def test_extensions_load_from_their_packages_with_signatures_checked(tmp_path):
    for name in ("ducklake", "postgres_scanner", "sqlite_scanner"):
        path = lake.extension_file(name)
        assert "site-packages" in str(path) and path.name == f"{name}.duckdb_extension"
        assert f"v{duckdb.__version__}" in str(path)
    con = store.connect(new_store("ducklake-sqlite", tmp_path))
    settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                "('autoinstall_known_extensions', 'autoload_known_extensions', "
                                "'allow_unsigned_extensions')").fetchall())
    assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
                        "allow_unsigned_extensions": "false"}
    loaded = dict(con.execute("SELECT extension_name, install_path FROM duckdb_extensions() "
                              "WHERE loaded AND extension_name IN ('ducklake', 'sqlite_scanner')").fetchall())
    assert set(loaded) == {"ducklake", "sqlite_scanner"}
    con.close()


# --- the same schema and SQL on every engine -------------------------------------------------------

def test_migrations_make_the_same_tables_and_keep_released_constraints_on_files(any_store):
    con = store.connect(any_store)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                        "current_database()").fetchall()}
    assert {"incidents", "imports", "wards", "meta", "repeat_victims", "schema_migrations",
            "store_writes"} <= tables
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    assert versions == [m[0] for m in store.MIGRATIONS]
    constraints = con.execute("SELECT count(*) FROM duckdb_constraints() WHERE database_name = "
                              "current_database() AND constraint_type = 'PRIMARY KEY'").fetchall()[0][0]
    assert (constraints == 0) == any_store.startswith("ducklake:")
    assert store.migrate(con) == store.SCHEMA_VERSION  # again: nothing to do
    con.close()


def test_meta_is_replaced_not_doubled(any_store):
    con = store.connect(any_store)
    with store.transaction(con):
        store.set_meta(con, "boundary_source", "first")
    with store.transaction(con):
        store.set_meta(con, "boundary_source", "second")
    assert con.execute("SELECT value FROM meta WHERE key = 'boundary_source'").fetchall() == [("second",)]
    con.close()


def test_imports_replace_months_and_new_boundaries_replace_every_ward(any_store, police_uk_files, wards):
    con = store.connect(any_store)
    first = ingest(con, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    again = ingest(con, "police_uk", police_uk_files[:1], boundaries=WARDS_FILE)
    assert again.rows_replaced == again.rows_loaded > 0
    assert store.incident_count(con) == first.rows_loaded
    assert con.execute("SELECT count(DISTINCT import_id) FROM imports").fetchall()[0][0] == 2
    # Fewer wards: incidents in the dropped wards are now outside the area; the rest keep theirs.
    kept = wards[~wards["ward_code"].isin(["E05012277", "E05012286"])].reset_index(drop=True)
    before = dict(con.execute("SELECT location_status, count(*) FROM incidents GROUP BY 1").fetchall())
    in_dropped = con.execute("SELECT count(*) FROM incidents WHERE ward_code IN "
                             "('E05012277', 'E05012286')").fetchall()[0][0]
    with store.transaction(con):
        assert geography.save_wards(con, gpd.GeoDataFrame(kept, crs=wards.crs), "fewer wards")
    after = dict(con.execute("SELECT location_status, count(*) FROM incidents GROUP BY 1").fetchall())
    assert in_dropped > 0
    assert after["in_area"] == before["in_area"] - in_dropped
    assert after["outside_area"] == before["outside_area"] + in_dropped
    assert after["unlocated"] == before["unlocated"]
    assert con.execute("SELECT count(*) FROM incidents WHERE ward_code IN "
                       "('E05012277', 'E05012286')").fetchall()[0][0] == 0
    located = con.execute("SELECT longitude, latitude, ward_code FROM incidents "
                          "WHERE longitude IS NOT NULL").df()
    expected = geography.assign_wards(located["longitude"].to_numpy(), located["latitude"].to_numpy(), kept)
    assert [c if isinstance(c, str) else None for c in located["ward_code"]] == list(expected)
    con.close()


def test_a_failed_import_leaves_the_store_exactly_as_it_was(any_store, police_uk_files, tmp_path):
    con = store.connect(any_store)
    ingest(con, "police_uk", police_uk_files[:2], boundaries=WARDS_FILE)
    before = digest(con)
    lines = police_uk_files[2].read_text().splitlines()
    lines[5] = lines[5].replace("2024-03", "2024-13", 1)  # one bad month: the whole import fails
    bad = tmp_path / "2024-03-nottinghamshire-street.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFailed):
        ingest(con, "police_uk", [bad], boundaries=WARDS_FILE)
    with pytest.raises(RuntimeError):
        with store.transaction(con):
            con.execute("DELETE FROM incidents")
            raise RuntimeError("stopped half-way")
    assert digest(con) == before
    con.close()


def test_two_writers_at_once_land_one_after_the_other(any_store):
    """Two writers at once (separate databases, as two servers have, for a lake; two threads of
    the one writing process for the file): whichever loses the race writes nothing and, run
    again, lands after the other, with the next import id (on a SQLite catalog it queues)."""
    first = store.connect(any_store)
    second = store.connect(any_store) if any_store.startswith("ducklake:") else first.cursor()
    inside, tried = threading.Event(), threading.Event()
    attempts = {"slow.csv": 0, "quick.csv": 0}

    def write(con, name: str, hold: bool) -> None:
        attempts[name] += 1
        try:
            with store.transaction(con):
                number = store.next_import_id(con)
                con.execute("INSERT INTO imports VALUES (?, 'partner', ?, 1, 0, 0, now(), now(), 'ok', 'me')",
                            [number, name])
                if hold and attempts[name] == 1:
                    inside.set()
                    tried.wait(3)  # the other writer commits, tries to, or queues meanwhile
        finally:
            if not hold:
                tried.set()

    slow = threading.Thread(target=store.retrying, args=(lambda: write(first, "slow.csv", True),))
    slow.start()
    inside.wait(30)
    store.retrying(lambda: write(second, "quick.csv", False))
    slow.join(60)
    rows = first.execute("SELECT import_id, files FROM imports ORDER BY 1").fetchall()
    assert sorted(name for _, name in rows) == ["quick.csv", "slow.csv"]
    assert [number for number, _ in rows] == [1, 2]
    if not any_store.startswith("ducklake:sqlite:"):  # there the second writer queues instead
        assert max(attempts.values()) >= 2  # one of them lost the race and ran again
    first.close()
    second.close()


def test_retrying_runs_a_lost_race_again_on_the_new_data(any_store):
    con = store.connect(any_store)
    # Another server's write, meanwhile (a SQLite catalog or a file has one writer at a time).
    other = store.connect(any_store) if any_store.startswith("ducklake:postgres:") else None
    runs = []

    def write():
        runs.append(1)
        with store.transaction(con):
            number = store.next_import_id(con)
            con.execute("INSERT INTO imports VALUES (?, 'partner', 'mine.csv', 1, 0, 0, now(), now(), 'ok', 'me')",
                        [number])
            if len(runs) == 1 and other is not None:  # another server commits meanwhile
                with store.transaction(other):
                    other.execute("INSERT INTO imports VALUES (1, 'partner', 'theirs.csv', 1, 0, 0, now(), "
                                  "now(), 'ok', 'them')")

    store.retrying(write)
    rows = con.execute("SELECT import_id, files FROM imports ORDER BY 1").fetchall()
    if other is not None:
        assert len(runs) == 2 and rows == [(1, "theirs.csv"), (2, "mine.csv")]
        other.close()
    else:
        assert rows == [(1, "mine.csv")]
    con.close()


def test_copy_moves_an_embedded_store_into_a_new_lake(police_uk_files, tmp_path):
    from servers import cdp
    embedded = tmp_path / "cdp.duckdb"
    loaded = cdp("ingest", "police-uk", *police_uk_files, "--db", embedded, "--boundaries", WARDS_FILE)
    assert loaded.returncode == 0, loaded.stderr
    target = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    copied = cdp("copy", "--db", embedded, target, env={"CDP_DATA_PATH": str(tmp_path / "lake-data")})
    assert copied.returncode == 0, copied.stderr
    assert "incidents; tables imports, incidents, meta, repeat_victims, source_months, ward_shapes, wards" in copied.stdout
    before, after = cdp("status", "--db", embedded).stdout, cdp("status", "--store", target).stdout
    assert before.split("\n", 1)[1] == after.split("\n", 1)[1]  # all but the "Store:" line
    assert (tmp_path / "lake-data").is_dir()
    again = cdp("copy", "--db", embedded, target)
    assert again.returncode == 1 and "already holds" in again.stderr

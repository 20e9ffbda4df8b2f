"""The Data page's upload writes only where the product says: a private folder, names the server
chooses, removed afterwards. A browser-supplied name like ../../x.csv or /abs/x.csv is text for
messages, never a path; two uploads with one name are two files; the upload keeps the limits."""
from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from contextlib import closing

import pytest
from streamlit.testing.v1 import AppTest

from cdp import store as stores
from cdp import uploads
from conftest import ROOT, store_digest


@pytest.fixture
def upload_page(demo_db, tmp_path, monkeypatch):
    store = tmp_path / "store" / "upload.duckdb"
    store.parent.mkdir()
    shutil.copy(demo_db, store)
    monkeypatch.setenv("CDP_DB", str(store))
    monkeypatch.setenv("CDP_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("CDP_AUDIT_LOG", str(tmp_path / "audit.log"))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180).run()
    at.switch_page("pages/data.py").run()
    return at, store


def upload(at, files, kind=None):
    if kind:
        at.radio[0].set_value(kind)
    at.file_uploader[0].set_value(files)
    at.run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]


def text(value: str) -> str:
    """Markdown-escaped text (cdp.markup.md) as it reads on the page."""
    return re.sub(r"\\(.)", r"\1", value)


def everything_under(folder):
    return sorted(p for p in folder.rglob("*")) if folder.exists() else []


def test_an_upload_named_like_a_path_writes_nothing_there(upload_page, tmp_path, police_uk_files):
    at, store = upload_page
    absolute = tmp_path / "absolute" / "owned.csv"
    relative = "../" * 12 + str(tmp_path / "relative" / "owned.csv").lstrip("/")
    data = police_uk_files[0].read_bytes()
    upload(at, [(str(absolute), data, "text/csv"), (relative, police_uk_files[1].read_bytes(), "text/csv")])
    assert not absolute.exists() and not (tmp_path / "relative").exists()
    assert not absolute.parent.exists()
    success = text(at.success[0].value)
    assert "from 2 file(s)" in success
    # Nothing is left in the private folder, and it is private.
    root = tmp_path / "uploads"
    assert everything_under(root) == []
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    # The store records the uploads by their own names, as text.
    with closing(stores.connect(store, read_only=True)) as con:
        (files,) = con.execute("SELECT files FROM imports ORDER BY import_id DESC LIMIT 1").fetchall()[0]
    assert files == f"{absolute}; {relative}"


def test_a_failed_upload_leaves_nothing_behind(upload_page, tmp_path, police_uk_files):
    at, store = upload_page
    with closing(stores.connect(store, read_only=True)) as con:
        before = store_digest(con)
    bad = police_uk_files[0].read_text().replace("2024-01,Nottinghamshire", "2024-13,Nottinghamshire", 1)
    target = tmp_path / "owned.csv"
    upload(at, [("../" * 12 + str(target).lstrip("/"), bad.encode(), "text/csv")])
    assert not target.exists()
    assert text(at.error[0].value).startswith("Nothing was loaded")
    assert "owned.csv line 2: Month '2024-13' is not YYYY-MM" in at.code[0].value
    assert everything_under(tmp_path / "uploads") == []
    with closing(stores.connect(store, read_only=True)) as con:
        assert store_digest(con) == before


def test_two_uploads_with_one_name_are_two_files(upload_page):
    at, store = upload_page
    header = "incident_id,source,occurred_at,category,longitude,latitude\n"
    first = (header + "A1,housing,2024-03-01,Noise,-1.1505,52.951\n").encode()
    second = (header + "B1,housing,2024-03-02,Noise,-1.1505,52.951\n").encode()
    upload(at, [("extract.csv", first, "text/csv"), ("extract.csv", second, "text/csv")],
           kind="Partner extract (v1)")
    assert "from 2 file(s)" in text(at.success[0].value)
    with closing(stores.connect(store, read_only=True)) as con:
        ids = con.execute("SELECT incident_id FROM incidents WHERE source = 'housing' ORDER BY 1").fetchall()
        (files,) = con.execute("SELECT files FROM imports ORDER BY import_id DESC LIMIT 1").fetchall()[0]
    assert ids == [("A1",), ("B1",)]
    assert files == "extract.csv; extract.csv (upload 2)"


def test_the_upload_keeps_the_archive_limits(upload_page, tmp_path):
    at, store = upload_page
    with closing(stores.connect(store, read_only=True)) as con:
        before = store_digest(con)
    archive = tmp_path / "archive.zip"
    row = (",2024-05,Nottinghamshire Police,Nottinghamshire Police,-1.150181,52.953049,On or near Parking Area,"
           "E01033406,Nottingham 039G,Anti-social behaviour,,\n")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("2024-05/2024-05-nottinghamshire-street.csv", "Crime ID,Month,Reported by,Falls within,"
                   "Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n"
                   + row * 60_000)
    upload(at, [("archive.zip", archive.read_bytes(), "application/zip")])
    assert "a zip bomb?" in at.code[0].value
    with closing(stores.connect(store, read_only=True)) as con:
        assert store_digest(con) == before


def test_a_file_name_in_a_message_is_shown_as_text(upload_page):
    at, _ = upload_page
    upload(at, [("[x](http://evil.example).csv", b"Crime ID,Month\nx,2024-01\n", "text/csv")])
    assert "[x](http://evil.example).csv line 1: not a police.uk street file" in at.code[0].value


def test_leftovers_of_a_stopped_server_are_cleaned(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_UPLOAD_DIR", str(tmp_path / "uploads"))
    with uploads.private_folder() as mine:
        uploads.save(mine, 0, "x.csv", b"a,b\n")
        host = mine.name.split("-")[0]
        root = mine.parent
        dead = root / f"{host}-999999999-abc"
        dead.mkdir()
        (dead / "upload-000.csv").write_text("rows with person keys")
        old = root / "otherhost-1-xyz"
        old.mkdir()
        os.utime(old, (0, 0))
        removed = uploads.clean_leftovers()
        assert set(removed) == {dead, old}
        assert mine.exists()  # this server's own folder, mid-import, stays
    assert not mine.exists()


def test_saved_uploads_are_named_by_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_UPLOAD_DIR", str(tmp_path / "uploads"))
    with uploads.private_folder() as folder:
        paths = [uploads.save(folder, i, name, b"x") for i, name in
                 enumerate(["../../etc/passwd", "/abs/archive.ZIP", "C:\\temp\\x.csv"])]
        assert [p.name for p in paths] == ["upload-000.csv", "upload-001.zip", "upload-002.csv"]
        assert all(p.parent == folder for p in paths)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)

"""Archives and files that would swell into an outage are refused with a clear message before they
can: too many entries, too much inflated, compressed too well, directories that lie, too many
rows. The command line can raise each limit for real large files; the store is untouched."""
from __future__ import annotations

import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cdp.ingest import ImportFailed, Limits, ingest
from cdp.ingest.police_uk import HEADER
from conftest import ROOT, WARDS_FILE, police_uk_month, store_digest

ROW = ("{id},2024-01,Nottinghamshire Police,Nottinghamshire Police,-1.150181,52.953049,"
       "On or near Parking Area,E01033406,Nottingham 039G,Shoplifting,Under investigation,")
# ASB rows have no Crime ID, and identical ones are distinct incidents: a real file may repeat one.
ASB_ROW = (",2024-05,Nottinghamshire Police,Nottinghamshire Police,-1.150181,52.953049,"
           "On or near Parking Area,E01033406,Nottingham 039G,Anti-social behaviour,,")


@pytest.fixture
def loaded(db, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    return db


def refused(con, paths, **kwargs) -> str:
    before = store_digest(con)
    with pytest.raises(ImportFailed) as caught:
        ingest(con, "police_uk", paths, **kwargs)
    assert store_digest(con) == before
    return str(caught.value)


def bomb(path: Path, rows: int, member: str = "2024-05/2024-05-nottinghamshire-street.csv") -> Path:
    """A real-shaped street file of `rows` identical rows, which compresses very well."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(member, "w", force_zip64=True) as out:
            out.write((",".join(HEADER) + "\n").encode())
            block = ((ASB_ROW + "\n") * 10_000).encode()
            for _ in range(rows // 10_000):
                out.write(block)
    return path


def test_a_zip_bomb_is_refused_from_its_directory(loaded, tmp_path):
    # The shape of the one that took the server to 4.3 GB: a few MB inflating to about 500 MB.
    archive = bomb(tmp_path / "archive.zip", 3_000_000)
    member = zipfile.ZipFile(archive).infolist()[0]
    assert archive.stat().st_size < 4 << 20 and member.file_size > 400 << 20
    message = refused(loaded, [archive])
    assert "to 1" in message and "more than 100 to 1: a zip bomb?" in message
    assert "--max-zip-ratio" in message


def test_inflated_size_and_entries_are_limited(loaded, tmp_path, county):
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for month in ("2024-04", "2024-05"):
            frame = police_uk_month(county, month, 2000, seed=1)
            z.writestr(f"{month}/{month}-nottinghamshire-street.csv", frame.to_csv(index=False))
    size = sum(i.file_size for i in zipfile.ZipFile(archive).infolist())
    message = refused(loaded, [archive], limits=Limits(max_inflated_bytes=size - 1))
    assert "inflate to" in message and "--max-inflated-mb" in message
    message = refused(loaded, [archive], limits=Limits(max_members=1))
    assert "lists 2 entries, more than 1" in message and "--max-zip-members" in message
    # Two archives together count against one limit.
    other = tmp_path / "other.zip"
    other.write_bytes(archive.read_bytes())
    refused(loaded, [archive, other], limits=Limits(max_inflated_bytes=int(size * 1.5)))
    assert ingest(loaded, "police_uk", [archive], limits=Limits(max_inflated_bytes=size)).rows_loaded > 0


def _lie_about_size(archive: Path, declared: int) -> None:
    """Rewrite the central directory so the member claims `declared` uncompressed bytes."""
    data = bytearray(archive.read_bytes())
    at = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, at + 24, declared)
    archive.write_bytes(bytes(data))


def test_a_directory_that_lies_is_caught_while_inflating(loaded, tmp_path, county):
    archive = tmp_path / "archive.zip"
    frame = police_uk_month(county, "2024-04", 3000, seed=1)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("2024-04/2024-04-nottinghamshire-street.csv", frame.to_csv(index=False))
    _lie_about_size(archive, 5_000)  # far smaller than it inflates to
    message = refused(loaded, [archive])
    assert "2024-04-nottinghamshire-street.csv" in message
    assert "damaged" in message or "more than the" in message


def test_overlapping_entries_are_refused(loaded, tmp_path):
    """Entries sharing one compressed stream (the 'better zip bomb'): the directory claims more
    compressed bytes than the file holds."""
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("2024-01/2024-01-nottinghamshire-street.csv",
                   ",".join(HEADER) + "\n" + "\n".join(ROW.format(id=f"x{i}") for i in range(50_000)))
    data = archive.read_bytes()
    start = data.rfind(b"PK\x01\x02")
    end = data.rfind(b"PK\x05\x06")
    entry = data[start:end]
    copies = [entry.replace(b"2024-01-nott", f"2024-0{m}-nott".encode()).replace(b"2024-01/", f"2024-0{m}/".encode())
              for m in range(1, 6)]
    directory = b"".join(copies)
    eocd = bytearray(data[end:])
    struct.pack_into("<HHII", eocd, 8, len(copies), len(copies), len(directory), start)
    archive.write_bytes(data[:start] + directory + bytes(eocd))
    assert len(zipfile.ZipFile(archive).infolist()) == 5
    assert "overlapping entries" in refused(loaded, [archive])


def test_rows_per_file_are_limited_while_reading(loaded, tmp_path, county):
    path = tmp_path / "2024-04-nottinghamshire-street.csv"
    police_uk_month(county, "2024-04", 3000, seed=5).to_csv(path, index=False)
    message = refused(loaded, [path], limits=Limits(max_rows_per_file=1000))
    assert "more than 1,000 rows" in message and "--max-rows-per-file" in message


def cdp(*args):
    return subprocess.run([sys.executable, "-m", "cdp", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_the_command_line_can_raise_the_limits_for_real_large_files(tmp_path, county):
    db = tmp_path / "cli.duckdb"
    path = tmp_path / "2024-04-nottinghamshire-street.csv"
    police_uk_month(county, "2024-04", 3000, seed=5).to_csv(path, index=False)
    refused_run = cdp("ingest", "police-uk", path, "--db", db, "--boundaries", WARDS_FILE,
                      "--max-rows-per-file", "1000")
    assert refused_run.returncode == 1 and "more than 1,000 rows" in refused_run.stderr
    assert "Traceback" not in refused_run.stderr
    archive = bomb(tmp_path / "archive.zip", 60_000)
    ratio = zipfile.ZipFile(archive).infolist()[0]
    assert ratio.file_size / ratio.compress_size > 100  # a real, very repetitive file
    assert cdp("ingest", "police-uk", archive, "--db", db, "--boundaries", WARDS_FILE).returncode == 1
    raised = cdp("ingest", "police-uk", archive, "--db", db, "--boundaries", WARDS_FILE, "--max-zip-ratio", "1000")
    assert raised.returncode == 0, raised.stderr
    assert "Loaded 60,000 police_uk rows" in raised.stdout

"""Bad input fails with the file, the line and the reason, and leaves the store exactly as it was."""
from __future__ import annotations

import pandas as pd
import pytest

from cdp.ingest import ImportFailed, ingest
from conftest import WARDS_FILE, store_digest

GOOD_ROW = ("abc123,2024-01,Nottinghamshire Police,Nottinghamshire Police,-1.150181,52.953049,"
            "On or near Parking Area,E01033406,Nottingham 039G,Shoplifting,Under investigation,")
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
          "Crime type,Last outcome category,Context")


fingerprint = store_digest


@pytest.fixture
def loaded(db, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    return db


def write(tmp_path, name, content: bytes | str):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


BAD_POLICE_UK = {
    "wrong header": ("Crime ID,Month,Falls within\nabc,2024-01,x\n", 1, "not a police.uk street file"),
    "unreadable month": (f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace('2024-01', '2024-13')}\n", 3,
                         "Month '2024-13' is not YYYY-MM"),
    "coordinates not numbers": (f"{HEADER}\n{GOOD_ROW.replace('-1.150181', 'west')}\n", 2, "are not numbers"),
    "outside Great Britain": (f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n{GOOD_ROW.replace('52.953049', '48.85')}\n",
                              4, "lie outside Great Britain"),
    "no rows": (f"{HEADER}\n", None, "has a header but no rows"),
    "empty file": ("", None, "the file is empty"),
    "invalid UTF-8": (f"{HEADER}\n{GOOD_ROW}\n".encode() + GOOD_ROW.replace("Parking", "Caf\xe9").encode("latin-1")
                      + b"\n", 3, "not valid UTF-8"),
}


@pytest.mark.parametrize("case", list(BAD_POLICE_UK))
def test_bad_police_uk_file_names_file_line_reason_and_loads_nothing(loaded, tmp_path, case):
    content, line, reason = BAD_POLICE_UK[case]
    bad = write(tmp_path, "2024-04-nottinghamshire-street.csv", content)
    before = fingerprint(loaded)
    with pytest.raises(ImportFailed) as failure:
        ingest(loaded, "police_uk", [bad])
    message = str(failure.value)
    assert str(bad) in message
    assert reason in message
    if line:
        assert f"line {line}:" in message
    assert fingerprint(loaded) == before


def test_broken_zip(loaded, tmp_path):
    bad = write(tmp_path, "archive.zip", b"PK\x03\x04 this is not really a zip")
    before = fingerprint(loaded)
    with pytest.raises(ImportFailed, match="not a readable zip archive"):
        ingest(loaded, "police_uk", [bad])
    assert fingerprint(loaded) == before


def test_one_bad_file_among_good_ones_loads_nothing(loaded, police_uk_files, tmp_path):
    bad = write(tmp_path, "2024-05-nottinghamshire-street.csv", f"{HEADER}\n{GOOD_ROW.replace('2024-01', 'May')}\n")
    before = fingerprint(loaded)
    with pytest.raises(ImportFailed):
        ingest(loaded, "police_uk", [*police_uk_files, bad])
    assert fingerprint(loaded) == before


def test_at_most_twenty_problems_are_listed(db, tmp_path):
    rows = "\n".join(GOOD_ROW.replace("2024-01", f"bad{i}") for i in range(30))
    bad = write(tmp_path, "many.csv", f"{HEADER}\n{rows}\n")
    with pytest.raises(ImportFailed) as failure:
        ingest(db, "police_uk", [bad], boundaries=WARDS_FILE)
    assert len(failure.value.problems) == 30
    assert "line 21:" in str(failure.value) and "line 22:" not in str(failure.value)
    assert "and 10 more" in str(failure.value)


def test_skip_bad_rows_loads_the_good_and_writes_the_rejected(db, tmp_path):
    bad = write(tmp_path, "mixed.csv", f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace('-1.150181', 'x')}\n"
                                       f"{GOOD_ROW.replace('abc123', 'abc124')}\n")
    rejects = tmp_path / "rejected.csv"
    result = ingest(db, "police_uk", [bad], boundaries=WARDS_FILE, skip_bad_rows=True, rejects_path=rejects)
    assert result.rows_loaded == 2 and result.rows_rejected == 1
    rejected = pd.read_csv(rejects)
    assert rejected.loc[0, "line"] == 3
    assert "not numbers" in rejected.loc[0, "reason"]
    assert rejected.loc[0, "Longitude"] == "x"


PARTNER_HEADER = "incident_id,source,occurred_at,category,longitude,latitude,victim_id,flag_domestic_abuse"


@pytest.mark.parametrize("body, line, reason", [
    ("1,police,2024-02-30T10:00,Burglary,-1.15,52.95,,false", 2, "is not a date-time, a date or YYYY-MM"),
    ("1,police,2024-02-01,Burglary,-1.15,52.95,,maybe", 2, "flag_domestic_abuse must be true or false"),
    ("1,police,2024-02-01,Burglary,-1.15,,,false", 2, "must both be given or both blank"),
    ("1,police,2024-02-01,,-1.15,52.95,,false", 2, "category is blank"),
])
def test_bad_partner_rows(loaded, tmp_path, body, line, reason):
    bad = write(tmp_path, "extract.csv", f"{PARTNER_HEADER}\n{body}\n")
    before = fingerprint(loaded)
    with pytest.raises(ImportFailed) as failure:
        ingest(loaded, "partner", [bad])
    assert f"{bad} line {line}: " in str(failure.value) and reason in str(failure.value)
    assert fingerprint(loaded) == before


def test_partner_wrong_header_names_the_columns(loaded, tmp_path):
    bad = write(tmp_path, "extract.csv", "incident_id,when,category,flag_hatecrime,longitude,latitude\n1,2024,x,true,1,2\n")
    with pytest.raises(ImportFailed) as failure:
        ingest(loaded, "partner", [bad])
    message = str(failure.value)
    assert "line 1: wrong header" in message
    assert "source, occurred_at" in message and "flag_hatecrime" in message

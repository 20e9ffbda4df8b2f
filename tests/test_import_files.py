"""Reading files as a person writes them: physical line numbers, messages without printed objects,
trailing commas, quoting, and the checks across files (the same month twice, a force named in
another case, a key repeated within a file) that must hold however a file is cut into chunks."""
from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from cdp.ingest import ImportFailed, ingest, reader
from cdp.ingest.police_uk import HEADER
from cdp.police_uk_format import write_street_csv
from conftest import WARDS_FILE, police_uk_month, store_digest

HEADER_LINE = ",".join(HEADER)


@pytest.fixture
def january(tmp_path, county) -> pd.DataFrame:
    return police_uk_month(county, "2024-01", 300, seed=11)


@pytest.fixture
def loaded(db, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    return db


def text_of(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def failure(con, dataset, paths, **kwargs) -> ImportFailed:
    before = store_digest(con)
    with pytest.raises(ImportFailed) as caught:
        ingest(con, dataset, paths, **kwargs)
    assert store_digest(con) == before, "a refused import changed the store"
    return caught.value


@pytest.fixture(params=["fast", "careful"])
def read_way(request, monkeypatch):
    """Every test here runs both ways through the reader, and with blocks small enough that a
    real file is read in many chunks."""
    monkeypatch.setattr(reader, "BLOCK_BYTES", 4096)
    if request.param == "careful":
        monkeypatch.setattr(reader.CsvFile, "_fast_chunk", lambda self, block: None)
    return request.param


# --- physical line numbers ---------------------------------------------------------------------

def test_lines_are_physical_after_blank_lines_and_quoted_line_breaks(db, tmp_path, january, read_way):
    frame = january.copy()
    frame.loc[5, "Location"] = "On or near Market Street\nopposite the Council House"  # quoted, 2 lines
    frame.loc[250, "Month"] = "2024-1"
    lines = text_of(frame).split("\n")
    # Blank lines after the header and after row 100: editors count them, so must the message.
    lines = lines[:1] + ["", ""] + lines[1:102] + [""] + lines[102:]
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", "\n".join(lines))
    physical = next(i for i, line in enumerate(path.read_text().split("\n"), 1) if ",2024-1," in line)
    problem = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert [(p.line, p.reason) for p in problem] == [(physical, "Month '2024-1' is not YYYY-MM")]
    assert physical == 250 + 1 + 2 + 1 + 1 + 1  # row + header + 2 blanks + 1 blank + the 2-line value


def test_the_same_file_read_in_chunks_or_whole_loads_the_same(db, tmp_path, county, monkeypatch):
    frame = police_uk_month(county, "2024-02", 1500, seed=4)
    frame.loc[7, "Location"] = 'On or near "The Square", with a line\nbreak'
    path = write_street_csv(frame, tmp_path / "a")
    ingest(db, "police_uk", [path], boundaries=WARDS_FILE)
    whole = db.execute("SELECT * EXCLUDE (import_id) FROM incidents ORDER BY ALL").df()
    monkeypatch.setattr(reader, "BLOCK_BYTES", 8192)  # dozens of chunks, values cut across blocks
    ingest(db, "police_uk", [path])
    chunked = db.execute("SELECT * EXCLUDE (import_id) FROM incidents ORDER BY ALL").df()
    pd.testing.assert_frame_equal(whole, chunked)
    assert len(whole) == len(frame)
    assert 'On or near "The Square", with a line\nbreak' in set(whole["location"].dropna())


def test_reasons_name_values_never_printed_objects(db, tmp_path, january, read_way):
    frame = january.copy()
    frame.loc[3, ["Longitude", "Latitude"]] = ["2.35", "48.85"]     # Paris
    frame.loc[9, ["Longitude", "Latitude"]] = ["-1.15", "52.95x"]
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", text_of(frame))
    problems = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert [p.line for p in problems] == [5, 11]
    assert problems[0].reason == "Longitude/Latitude (2.35, 48.85) lie outside Great Britain"
    assert problems[1].reason == "Longitude/Latitude are not numbers: '-1.15', '52.95x'"
    for p in problems:
        assert "dtype" not in p.reason and "Name:" not in p.reason and "\n" not in p.reason


def test_a_trailing_comma_on_every_row_is_reported_as_such(db, tmp_path, january, read_way):
    lines = text_of(january).rstrip("\n").split("\n")
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv",
                 "\n".join([lines[0]] + [line + "," for line in lines[1:]]) + "\n")
    problems = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert len(problems) == 1
    assert problems[0].line == 2
    assert "every row ends with a trailing comma" in problems[0].reason
    assert "13 columns" not in problems[0].reason and "Month" not in problems[0].reason  # not shifted values
    # The header with one too: said about the header.
    path.write_text("\n".join(line + "," for line in lines) + "\n")
    (problem,) = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert problem.line == 1 and "the header ends with a comma" in problem.reason


def test_rows_with_too_many_or_too_few_fields(db, tmp_path, january, read_way):
    lines = text_of(january).rstrip("\n").split("\n")
    lines[10] = lines[10] + ","                          # one trailing comma on one row
    lines[20] = lines[20].replace("On or near ", "On or near 1, ")  # an unquoted comma
    lines[30] = ",".join(lines[30].split(",")[:-2])      # two fields short
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", "\n".join(lines) + "\n")
    problems = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert [p.line for p in problems] == [11, 21, 31]
    assert problems[0].reason.startswith("ends with a trailing comma (a trailing comma: 13 fields")
    # The last field of a police.uk row is usually empty, so a stray comma reads like a trailing one.
    assert "13 fields" in problems[1].reason and "comma inside a value" in problems[1].reason
    assert problems[2].reason.startswith("has 10 fields, the header has 12 columns")


def test_an_unclosed_quote_names_the_line_it_starts_on(db, tmp_path, january, read_way):
    lines = text_of(january).rstrip("\n").split("\n")
    lines[40] = lines[40].replace("On or near ", '"On or near ')
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", "\n".join(lines) + "\n")
    (problem,) = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert problem.line == 41
    assert "never closed" in problem.reason or "after a closing double quote" in problem.reason


def test_a_stray_quote_inside_a_value_is_read_as_a_character(db, tmp_path, january, read_way):
    frame = january.copy()
    lines = text_of(frame).rstrip("\n").split("\n")
    lines[12] = lines[12].replace("On or near ", 'On or near 5" ')  # Python's csv reads it literally
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", "\n".join(lines) + "\n")
    result = ingest(db, "police_uk", [path], boundaries=WARDS_FILE)
    assert result.rows_loaded == len(frame)
    assert db.execute("SELECT count(*) FROM incidents WHERE location LIKE 'On or near 5\" %'").fetchall() == [(1,)]


def test_crlf_bom_and_blank_trailing_lines_are_fine(db, tmp_path, january, read_way):
    text = "\ufeff" + text_of(january).replace("\n", "\r\n") + "\r\n\r\n,,,,,,,,,,,\r\n"
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", text)
    assert ingest(db, "police_uk", [path], boundaries=WARDS_FILE).rows_loaded == len(january)


def test_invalid_utf8_names_its_line(db, tmp_path, january, read_way):
    data = text_of(january).encode()
    lines = data.split(b"\n")
    lines[77] = lines[77].replace(b"On or near", "Caf\xe9 near".encode("latin-1"))
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", b"\n".join(lines))
    (problem,) = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert problem.line == 78 and "not valid UTF-8" in problem.reason


def test_nul_bytes_are_refused_with_their_line(db, tmp_path, january, read_way):
    lines = text_of(january).rstrip("\n").split("\n")
    lines[60] = lines[60].replace("On or near", "On or\x00near")
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", "\n".join(lines) + "\n")
    (problem,) = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert problem.line == 61 and "NUL byte" in problem.reason
    path.write_text("Crime ID,Mo\x00nth" + "\n".join(lines)[len("Crime ID,Month"):] + "\n")
    (problem,) = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert problem.line == 1 and "NUL byte" in problem.reason


# --- the same month twice, force names in another case, repeated Crime IDs -------------------------

def month_counts(con) -> dict:
    return dict(con.execute("SELECT strftime(month, '%Y-%m'), count(*) FROM incidents GROUP BY 1").fetchall())


def test_the_same_file_twice_loads_its_month_once(db, police_uk_files):
    once = ingest(db, "police_uk", police_uk_files[:1], boundaries=WARDS_FILE).rows_loaded
    counts = month_counts(db)
    result = ingest(db, "police_uk", [police_uk_files[0], police_uk_files[0]])
    assert result.rows_loaded == once and result.files == [str(police_uk_files[0])]
    assert month_counts(db) == counts


def test_the_same_month_in_two_files_loads_the_last_once(db, tmp_path, police_uk_files, read_way):
    first = police_uk_files[0]
    copy = write(tmp_path, "copy/2024-01-nottinghamshire-street.csv", first.read_bytes())
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(first, "2024-01/2024-01-nottinghamshire-street.csv")
    result = ingest(db, "police_uk", [first, copy, archive], boundaries=WARDS_FILE)
    rows = len(pd.read_csv(first))
    assert result.rows_loaded == rows and month_counts(db) == {"2024-01": rows}
    (note,) = result.notes
    assert "2024-01 of Nottinghamshire Police is in 3 files" in note and "archive.zip!2024-01/" in note


def test_a_force_named_in_another_case_is_the_same_force(db, tmp_path, january, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    before = month_counts(db)
    shouting = january.assign(**{"Falls within": "NOTTINGHAMSHIRE POLICE", "Reported by": "NOTTINGHAMSHIRE POLICE"})
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", text_of(shouting))
    result = ingest(db, "police_uk", [path])
    assert result.rows_replaced == before["2024-01"]
    assert month_counts(db) == {**before, "2024-01": len(january)}
    # Stored under the spelling the store already had, so it stays one force.
    assert db.execute("SELECT DISTINCT source FROM incidents").fetchall() == [("Nottinghamshire Police",)]
    # Within one import too.
    lower = january.assign(**{"Falls within": "nottinghamshire police"})
    other = write(tmp_path, "b/2024-01-nottinghamshire-street.csv", text_of(lower))
    ingest(db, "police_uk", [path, other])
    assert month_counts(db)["2024-01"] == len(january)


def test_a_crime_id_twice_in_a_month_is_an_error_naming_both_lines(db, tmp_path, january, read_way):
    frame = january.copy()
    crimes = frame.index[frame["Crime ID"] != ""]
    frame.loc[crimes[-1], "Crime ID"] = frame.loc[crimes[0], "Crime ID"]  # lines far apart: other chunks
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", text_of(frame))
    (problem,) = failure(db, "police_uk", [path], boundaries=WARDS_FILE).problems
    assert problem.line == crimes[-1] + 2
    assert problem.reason == (f"Crime ID '{frame.loc[crimes[0], 'Crime ID']}' appears more than once in "
                              f"2024-01: first on line {crimes[0] + 2}")


def test_identical_asb_rows_are_still_distinct_incidents(db, tmp_path, january):
    asb = january[january["Crime type"] == "Anti-social behaviour"]
    doubled = pd.concat([january, asb.head(5)], ignore_index=True)
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", text_of(doubled))
    assert ingest(db, "police_uk", [path], boundaries=WARDS_FILE).rows_loaded == len(doubled)


def test_skipping_a_repeated_crime_id_writes_the_row_as_read(db, tmp_path, january, read_way):
    frame = january.copy()
    crimes = frame.index[frame["Crime ID"] != ""]
    frame.loc[crimes[150], "Crime ID"] = frame.loc[crimes[3], "Crime ID"]
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", text_of(frame))
    rejects = tmp_path / "rejected.csv"
    result = ingest(db, "police_uk", [path], boundaries=WARDS_FILE, skip_bad_rows=True, rejects_path=rejects)
    assert (result.rows_loaded, result.rows_rejected) == (len(frame) - 1, 1)
    written = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert written.loc[0, "line"] == str(crimes[150] + 2)
    assert "appears more than once in 2024-01" in written.loc[0, "reason"]
    assert written.loc[0, "Location"] == frame.loc[crimes[150], "Location"]


PARTNER = "incident_id,source,occurred_at,category,longitude,latitude,location,victim_id\n"


def test_a_partner_incident_twice_in_one_file_is_an_error_across_chunks(db, tmp_path, read_way):
    rows = [f"P{i},police,2024-03-{1 + i % 28:02d},Burglary,-1.15,52.95,Market Street,V{i}" for i in range(800)]
    rows[700] = rows[700].replace("P700,", "P5,")
    path = write(tmp_path, "extract.csv", PARTNER + "\n".join(rows) + "\n")
    (problem,) = failure(db, "partner", [path], boundaries=WARDS_FILE).problems
    assert problem.line == 702
    assert problem.reason == "incident_id 'P5' of source 'police' already appears on line 7"


def test_a_partner_source_in_another_case_updates_rather_than_doubles(db, tmp_path):
    path = write(tmp_path, "a.csv", PARTNER + "P1,police,2024-03-01,Burglary,-1.15,52.95,Market Street,V1\n")
    ingest(db, "partner", [path], boundaries=WARDS_FILE)
    again = write(tmp_path, "b.csv", PARTNER + "P1,Police,2024-03-01,Robbery,-1.15,52.95,Market Street,V1\n")
    result = ingest(db, "partner", [again])
    assert result.rows_replaced == 1
    assert db.execute("SELECT source, category FROM incidents").fetchall() == [("police", "Robbery")]


# --- one transaction, whatever happens part-way ------------------------------------------------

def test_an_error_part_way_through_the_stream_leaves_the_store_as_it_was(loaded, tmp_path, county,
                                                                        monkeypatch):
    from cdp import ingest as ingest_module
    path = write_street_csv(police_uk_month(county, "2024-04", 2000, seed=9), tmp_path / "n")
    monkeypatch.setattr(reader, "BLOCK_BYTES", 8192)
    real_place, calls = ingest_module.place, []

    def failing_place(rows, wards):
        calls.append(len(rows))
        if len(calls) == 5:
            raise MemoryError("the machine ran out of memory part-way")
        return real_place(rows, wards)

    monkeypatch.setattr(ingest_module, "place", failing_place)
    before = store_digest(loaded)
    limit = loaded.execute("SELECT current_setting('memory_limit')").fetchall()
    with pytest.raises(MemoryError):
        ingest(loaded, "police_uk", [path])
    assert len(calls) == 5
    assert store_digest(loaded) == before
    assert loaded.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]
    assert loaded.execute("SELECT current_setting('memory_limit')").fetchall() == limit


def test_a_chunked_import_is_still_one_import(loaded, tmp_path, county, monkeypatch):
    monkeypatch.setattr(reader, "BLOCK_BYTES", 8192)
    path = write_street_csv(police_uk_month(county, "2024-05", 2000, seed=3), tmp_path / "m")
    result = ingest(loaded, "police_uk", [path])
    imports = loaded.execute("SELECT import_id, rows_loaded FROM imports ORDER BY import_id").fetchall()
    assert imports[-1] == (result.import_id, len(pd.read_csv(path)))
    assert loaded.execute("SELECT count(DISTINCT import_id) FROM incidents WHERE month = '2024-05-01'"
                          ).fetchall() == [(1,)]


def test_problems_are_counted_beyond_those_kept(db, tmp_path, county):
    frame = police_uk_month(county, "2024-06", 3000, seed=2).assign(Month="June")
    path = write(tmp_path, "2024-06-nottinghamshire-street.csv", text_of(frame))
    failed = failure(db, "police_uk", [path], boundaries=WARDS_FILE)
    assert failed.total == len(frame) and len(failed.problems) == 1000
    assert f"({len(frame):,} problems)" in str(failed) and f"and {len(frame) - 20:,} more" in str(failed)


def test_the_message_is_one_of_text(db, tmp_path, january):
    frame = january.copy()
    frame.loc[0, "Crime type"] = "[x](http://evil.example)"
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", text_of(frame))
    message = str(failure(db, "police_uk", [path], boundaries=WARDS_FILE))
    assert "unknown Crime type '[x](http://evil.example)'" in message  # the value as written, for the person
    assert io.StringIO(message).readline().startswith("import failed, nothing was loaded (1 problem)")


@pytest.mark.parametrize("quoted", [False, True])
def test_a_line_too_long_to_be_a_row_is_refused_with_its_line(db, tmp_path, january, monkeypatch, quoted):
    monkeypatch.setattr(reader, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 20_000)
    rows = text_of(january.head(5)).splitlines()
    junk = ('"' if quoted else "") + "x" * 50_000  # never a row: an open quote or no line break
    path = write(tmp_path, "2024-01-nottinghamshire-street.csv", "\n".join(rows + [junk]) + "\n")
    failed = failure(db, "police_uk", [path], boundaries=WARDS_FILE)
    assert [(p.line, "without a line break" in p.reason) for p in failed.problems] == [(7, True)]

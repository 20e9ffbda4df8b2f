"""Reading CSV files as a stream of chunks that know the physical line of every row.

Every importer reads through here, so what a file may look like is decided once: UTF-8 (a BOM is
fine), one header row, then rows with exactly the header's number of fields. Blank lines and
rows whose every field is blank are skipped; line numbers stay those of the file as an editor
shows them (blank lines and quoted values holding line breaks included). Memory stays bounded:
bytes are read in blocks of BLOCK_BYTES and each block is handed on as one chunk.

Two ways through a block, with the same result:
- the fast way, for blocks whose double quotes are all where RFC 4180 puts them (at the edges of
  a field, or doubled inside one) and whose lines end in LF or CRLF: row boundaries and field
  counts come from where the quotes and separators are (numpy), the values from Arrow's CSV
  parser. Every block of a well-formed file goes this way.
- the careful way, Python's csv module row by row, from the first block that is not like that to
  the end of the file: it reads what it can and names the line where the file stops being CSV.
"""
from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .common import ImportFailed, Problem

T = TypeVar("T")
BLOCK_BYTES = 8 << 20
MAX_LINE_BYTES = 64 << 20  # a "line" this long without a line break is not a CSV row
SLOW_CHUNK_ROWS = 50_000
TRAILING_COMMA = "ends with a trailing comma"
NUL_REASON = "contains a NUL byte (\\0): the file is damaged or not plain text"
_QUOTE, _LF, _CR, _COMMA, _NUL = 34, 10, 13, 44, 0
_BOM = b"\xef\xbb\xbf"


@dataclass
class Source:
    """One CSV to read: the name shown in messages (a path, or zip!member) and how to open it."""
    name: str
    open: Callable[[], BinaryIO]  # a fresh binary stream of the file's bytes (inflated)
    size: int | None = None       # bytes, when known (for progress)
    key: object = None            # what makes two sources the same file (default: the name)
    archived: bool = False        # a member of a zip archive (size: as its directory declares)

    def __post_init__(self):
        if self.key is None:
            self.key = self.name


@dataclass
class Chunk:
    """Rows of one file: all cells as stripped text and `_line`, the physical line each row starts
    on. `problems` are the rows refused for their shape (wrong field count, NUL bytes), with their
    cells laid out under the header as far as they go, `_line` and `_reason`."""
    frame: pd.DataFrame
    problems: pd.DataFrame


def _shape_reason(cells: list[str], width: int) -> str:
    n = len(cells)
    if n > width and not any(c.strip() for c in cells[width:]):
        extra = n - width
        what = "a trailing comma" if extra == 1 else f"{extra} trailing commas"
        return (f"{TRAILING_COMMA} ({what}: {n} fields for the header's {width} columns), or has a comma "
                "inside a value that is not in double quotes")
    if n > width:
        return (f"has {n} fields, the header has {width} columns (a comma inside a value that is not "
                "in double quotes?)")
    return (f"has {n} fields, the header has {width} columns (a line break inside a value that is not "
            "in double quotes, or missing fields?)")


def _csv_error(name: str, line: int, exc: csv.Error) -> ImportFailed:
    text = str(exc)
    if "unexpected end of data" in text:
        reason = "a quoted value that starts here is never closed (a stray double quote?)"
    elif "field larger than field limit" in text:
        reason = (f"a value longer than {csv.field_size_limit():,} characters (a stray double quote "
                  "that swallows the rest of the file?)")
    elif "expected after" in text:
        reason = "text after a closing double quote (double quotes inside a value must be doubled: \"\")"
    else:
        reason = f"not a readable CSV row ({text})"
    return ImportFailed([Problem(name, line, reason)])


def _text_frame(columns: dict[str, pa.Array], lines: np.ndarray) -> pd.DataFrame:
    """Stripped text columns (pandas' Arrow-backed strings) and `_line`."""
    frame = pa.table({name: pc.utf8_trim_whitespace(values) for name, values in columns.items()}).to_pandas()
    frame["_line"] = lines
    return frame


def _object_frame(rows: list[list[str]], header: list[str], lines: list[int], reasons: list[str]) -> pd.DataFrame:
    """Refused rows (few): cells as plain strings under the header, `_line`, `_reason`."""
    cells = [(list(r) + [""] * len(header))[: len(header)] for r in rows]
    frame = pd.DataFrame(cells, columns=header, dtype=object) if cells else pd.DataFrame(
        {c: pd.Series([], dtype=object) for c in header})
    frame = frame.apply(lambda col: col.str.strip()) if cells else frame
    frame["_line"] = np.asarray(lines, dtype=np.int64)
    frame["_reason"] = pd.Series(reasons, dtype=object)
    return frame


def _blank(frame: pd.DataFrame, header: list[str]) -> np.ndarray:
    """Rows whose every field is blank."""
    blank = np.ones(len(frame), dtype=bool)
    for column in header:
        blank &= (frame[column] == "").to_numpy()
    return blank


class CsvFile:
    """One file opened for reading: `header` (stripped names, line 1), then `chunks()`.

    `max_rows` bounds the rows of the file (ImportFailed beyond it, ending with `limit_hint`).
    """

    def __init__(self, source: Source, max_rows: int | None = None, limit_hint: str = ""):
        self.source = source
        self.name = source.name
        self.max_rows = max_rows
        self.limit_hint = limit_hint
        self.stream = source.open()
        self.bytes_read = 0
        self.lines_before = 0   # physical lines before self.pending
        self.pending = b""      # bytes read, not yet parsed; always starts at a row boundary
        self.eof = False
        self.rows_read = 0      # data rows, blank ones not counted
        self.trailing_commas = 0
        self.header = self._read_header()
        self.width = len(self.header)

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> "CsvFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fail(self, line: int | None, reason: str) -> ImportFailed:
        return ImportFailed([Problem(self.name, line, reason)])

    def _read_more(self) -> bool:
        data = self.stream.read(BLOCK_BYTES)
        if not data:
            self.eof = True
            return False
        self.bytes_read += len(data)
        self.pending += data
        return True

    def _check_utf8(self, block: bytes) -> None:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self.lines_before + block[: exc.start].count(b"\n") + 1
            raise self._fail(line, "not valid UTF-8; save the file as UTF-8 (CSV UTF-8) and try again") from None

    # --- the header --------------------------------------------------------------------------

    def _read_header(self) -> list[str]:
        while b"\n" not in self.pending and self._read_more():
            if len(self.pending) > MAX_LINE_BYTES:
                raise self._fail(1, "the first line is longer than 64 MB: not a CSV file")
        if self.pending.startswith(_BOM):
            self.pending = self.pending[len(_BOM):]
        end = self.pending.find(b"\n") + 1 or len(self.pending)
        raw = self.pending[:end]
        self._check_utf8(raw)
        if not raw.strip():
            if not self.pending and self.eof:
                raise self._fail(None, "the file is empty: no header and no rows")
            raise self._fail(1, "the first line is blank: the header must be on line 1")
        try:
            header = next(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), strict=True))
        except csv.Error as exc:
            raise _csv_error(self.name, 1, exc) from None
        if any("\x00" in c for c in header):
            raise self._fail(1, "the header contains a NUL byte: the file is damaged or not plain text")
        names = [c.strip() for c in header]
        if len(names) > 1 and names[-1] == "":
            raise self._fail(1, f"the header ends with a comma (an empty column name after '{names[-2]}'): "
                                "remove the trailing comma from the header and the rows")
        if "" in names:
            raise self._fail(1, f"the header has an empty column name (column {names.index('') + 1})")
        self.pending = self.pending[end:]
        self.lines_before = 1
        return names

    # --- rows --------------------------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        """The file's rows, one chunk per block read."""
        while True:
            block = self._next_block()
            if block is None:
                return
            if not block:
                continue
            chunk = self._fast_chunk(block)
            if chunk is None:  # not for the fast way: read the rest carefully
                self.pending = block + self.pending
                yield from self._careful_chunks()
                return
            self.lines_before += block.count(b"\n")
            yield self._counted(chunk)

    def _counted(self, chunk: Chunk) -> Chunk:
        self.rows_read += len(chunk.frame) + len(chunk.problems)
        self.trailing_commas += int(chunk.problems["_reason"].str.startswith(TRAILING_COMMA).sum()) \
            if len(chunk.problems) else 0
        if self.max_rows is not None and self.rows_read > self.max_rows:
            raise self._fail(None, f"more than {self.max_rows:,} rows{self.limit_hint}")
        return chunk

    def _next_block(self) -> bytes | None:
        """The next bytes ending at a row boundary (a line feed outside quotes), b"" when a block
        must wait for more data, None at the end. At the end of the file the rest comes whole."""
        while True:
            if self.eof:
                block, self.pending = self.pending, b""
                return block or None
            if not self._read_more():
                continue
            buffer = np.frombuffer(self.pending, dtype=np.uint8)
            quotes = np.flatnonzero(buffer == _QUOTE)
            feeds = np.flatnonzero(buffer == _LF)
            outside = feeds[np.searchsorted(quotes, feeds) % 2 == 0]
            if len(outside):
                cut = int(outside[-1]) + 1
                block, self.pending = self.pending[:cut], self.pending[cut:]
                return block
            if len(self.pending) > MAX_LINE_BYTES:
                if not len(feeds):
                    raise self._fail(self.lines_before + 1, _too_long())
                block, self.pending = self.pending, b""  # line breaks in quotes: the careful way
                return block                              # names the line the quote opens on

    def _fast_chunk(self, block: bytes) -> Chunk | None:
        """The block's rows the fast way, or None when its quoting or line ends need the careful way."""
        self._check_utf8(block)
        a = np.frombuffer(block, dtype=np.uint8)
        n = len(a)
        quotes = np.flatnonzero(a == _QUOTE)
        if len(quotes) % 2:
            return None  # a quoted value still open at the end of the block (or of the file)
        if len(quotes):
            before = np.where(quotes > 0, a[np.maximum(quotes - 1, 0)], _LF)
            after = np.where(quotes + 1 < n, a[np.minimum(quotes + 1, n - 1)], _LF)
            opening = np.arange(len(quotes)) % 2 == 0
            edges = (_COMMA, _LF, _CR)
            ok = np.where(opening, np.isin(before, edges) | (before == _QUOTE),
                          np.isin(after, edges + (_QUOTE,)))
            if not ok.all():
                return None
        returns = np.flatnonzero(a == _CR)
        if len(returns) and ((returns + 1 >= n) | (a[np.minimum(returns + 1, n - 1)] != _LF)).any():
            return None  # a carriage return that does not end a line
        feeds = np.flatnonzero(a == _LF)
        inside = np.searchsorted(quotes, feeds) % 2 == 1
        ends = feeds[~inside]  # each row's closing line feed
        line_of_end = np.flatnonzero(~inside)  # which line feed it is
        if not len(ends) or ends[-1] != n - 1:
            ends = np.append(ends, n)  # the last row of the file has no line feed
            line_of_end = np.append(line_of_end, len(feeds))
        starts = np.concatenate([[0], ends[:-1] + 1])
        lines = self.lines_before + 1 + np.concatenate([[0], line_of_end[:-1] + 1])
        span = ends - starts
        last = a[np.maximum(ends - 1, 0)]
        empty = (span == 0) | ((span == 1) & (last == _CR))
        commas = np.flatnonzero(a == _COMMA)
        commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
        fields = np.bincount(np.searchsorted(ends, commas), minlength=len(ends)) + 1
        nul = np.zeros(len(ends), dtype=bool)
        zeros = np.flatnonzero(a == _NUL)
        if len(zeros):
            nul[np.searchsorted(ends, zeros)] = True
        good = ~empty & (fields == self.width)
        table = pacsv.read_csv(
            io.BytesIO(block),
            read_options=pacsv.ReadOptions(column_names=self.header, use_threads=False,
                                           block_size=max(len(block) + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip"),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in self.header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                 null_values=[]))
        if table.num_rows != int(good.sum()):
            return None  # Arrow read the rows otherwise: the careful way decides
        keep = ~nul[good]
        frame = _text_frame({c: table.column(c) for c in self.header}, lines[good])
        refused_rows, refused_lines, refused_reasons = [], [], []
        if not keep.all():
            for line, row in zip(lines[good][~keep], table.filter(pa.array(~keep)).to_pylist()):
                refused_rows.append([row[c] for c in self.header])
                refused_lines.append(int(line))
                refused_reasons.append(NUL_REASON)
            frame = frame.loc[keep]
        for i in np.flatnonzero(~empty & (fields != self.width)):
            cells = next(csv.reader(io.StringIO(block[starts[i]:ends[i]].decode("utf-8"), newline="")), [])
            if not any(c.strip() for c in cells):
                continue  # a line of spaces
            refused_rows.append(cells)
            refused_lines.append(int(lines[i]))
            refused_reasons.append(NUL_REASON if nul[i] else _shape_reason(cells, self.width))
        frame = frame.loc[~_blank(frame, self.header)]
        problems = _object_frame(refused_rows, self.header, refused_lines, refused_reasons)
        return Chunk(frame.reset_index(drop=True), problems.sort_values("_line").reset_index(drop=True))

    def _careful_chunks(self) -> Iterator[Chunk]:
        """The rest of the file through Python's csv module, which names the line it stops at."""
        def text() -> Iterator[str]:
            while self.pending or not self.eof:
                if not self.eof and len(self.pending) < BLOCK_BYTES:
                    self._read_more()
                    continue
                data = self.pending
                cut = (data.rfind(b"\n") + 1) if not self.eof else len(data)
                if cut == 0:
                    if len(data) > MAX_LINE_BYTES:
                        raise self._fail(self.lines_before + 1, _too_long())
                    self._read_more()
                    continue
                block, self.pending = data[:cut], data[cut:]
                self._check_utf8(block)
                self.lines_before += block.count(b"\n")
                yield block.decode("utf-8")

        first_line = self.lines_before
        reader = csv.reader(itertools.chain.from_iterable(io.StringIO(t, newline="") for t in text()),
                            strict=True)
        good, good_lines, bad, bad_lines, bad_reasons = [], [], [], [], []
        previous = 0
        while True:
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                raise _csv_error(self.name, first_line + previous + 1, exc) from None
            if cells is None:
                break
            line = first_line + previous + 1
            previous = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) == self.width and not any("\x00" in c for c in cells):
                good.append(cells)
                good_lines.append(line)
            else:
                bad.append(cells)
                bad_lines.append(line)
                bad_reasons.append(NUL_REASON if len(cells) == self.width else _shape_reason(cells, self.width))
            if len(good) + len(bad) >= SLOW_CHUNK_ROWS:
                yield self._counted(self._careful_chunk(good, good_lines, bad, bad_lines, bad_reasons))
                good, good_lines, bad, bad_lines, bad_reasons = [], [], [], [], []
        if good or bad:
            yield self._counted(self._careful_chunk(good, good_lines, bad, bad_lines, bad_reasons))

    def _careful_chunk(self, good, good_lines, bad, bad_lines, bad_reasons) -> Chunk:
        columns = ({name: pa.array([r[j] for r in good], type=pa.string()) for j, name in enumerate(self.header)}
                   if good else {name: pa.array([], type=pa.string()) for name in self.header})
        frame = _text_frame(columns, np.asarray(good_lines, dtype=np.int64))
        frame = frame.loc[~_blank(frame, self.header)].reset_index(drop=True)
        return Chunk(frame, _object_frame(bad, self.header, bad_lines, bad_reasons))

    def every_row_has_a_trailing_comma(self) -> bool:
        """After reading: whether every row had one field too many, all blank (read as one
        file-level problem rather than as a problem on each row)."""
        return self.rows_read > 0 and self.trailing_commas == self.rows_read


def _too_long() -> str:
    return f"a line longer than {MAX_LINE_BYTES / 2**20:g} MB without a line break: not a CSV file"


def read_lines(source: Source, wanted: Iterator[tuple[int, T]]) -> Iterator[tuple[int, T, list[str]]]:
    """(line, payload, cells) of the rows starting on the lines of `wanted` ((line, payload) pairs in
    ascending line order), reading the file again."""
    pending = next(wanted, None)
    with CsvFile(source) as file:
        for chunk in file.chunks():
            if pending is None:
                return
            rows = chunk.frame.set_index("_line")
            last = int(rows.index[-1]) if len(rows) else 0
            while pending is not None and pending[0] <= last:
                if pending[0] in rows.index:
                    yield pending[0], pending[1], rows.loc[pending[0], file.header].tolist()
                pending = next(wanted, None)

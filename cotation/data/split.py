"""Split delimited text into records: string columns plus the source line of each record.

The fast path finds line boundaries with numpy and lets ``pyarrow.csv`` split the regular lines
(no quote character, exactly one cell per header column). Every other line is split by Python's
``csv`` module, and the whole file falls back to ``csv`` when a quoted cell may span lines or a
lone carriage return appears, so records, cells and line numbers always match what
``csv.reader`` (the reference) yields: the line of a record is ``reader.line_num``, its last
line. A cell over csv's field limit (``MAX_CELL``) stops csv inside the cell: its record is read
to its end as csv would read it without the limit (:func:`_record_at`), one reject, and csv goes
on after it.
"""
from __future__ import annotations

import csv
import io
import mmap
import os
import re
import stat
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cotation.data.csv_record import line_count as _line_count, record_at as _record_at
from cotation.data.parallel import map_columns
from cotation.data.scan import (positions as _positions, quoted_cells as _quoted_cells,
                                scan as _scan)
from cotation.i18n import _

_LF, _CR = 10, 13
# The longest cell read, in characters (the csv module's default field limit): a longer cell
# makes its record a reject on every path, whatever the splitter.
MAX_CELL = 131072


@dataclass
class Records:
    """Well-shaped records as string columns, plus the records that could not be used as is."""

    header: list[str]
    columns: list[pa.ChunkedArray | pa.Array]
    lines: np.ndarray                      # int64, ascending: source line of each record
    # (line, cells, problem) for records with a wrong cell count ("shape"), bytes the
    # declared encoding cannot decode ("encoding"), a cell over MAX_CELL characters
    # ("oversized") or text the csv module cannot split ("malformed: <why>"); they count as
    # read and become rejects (see :func:`odd_reason`).
    odd: list[tuple[int, list[str], str]] = field(default_factory=list)

    @property
    def n_read(self) -> int:
        return len(self.lines) + len(self.odd)


def is_text(t: pa.DataType) -> bool:
    """A string column (Arrow ``string`` or ``large_string``)."""
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def single(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Array (a ChunkedArray of one chunk without a copy)."""
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def cell_offsets(arr: pa.Array) -> np.ndarray:
    """The n + 1 offsets of a text or bytes array (``string``, ``binary`` or their ``large_``
    kinds), over its buffer."""
    wide = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    return np.frombuffer(arr.buffers()[1], np.int64 if wide else np.int32)[
        arr.offset:arr.offset + len(arr) + 1]


def cell_bytes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(byte length of each cell, the cells' bytes end to end) of a text or bytes array, over
    its buffers (no copy)."""
    offsets = cell_offsets(arr)
    data = arr.buffers()[2]
    body = (np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]] if data is not None
            else np.empty(0, np.uint8))
    return np.diff(offsets), body


def odd_reason(cells: list[str], why: str, width: int) -> str:
    """The reject reason of an odd record whose problem is not its encoding."""
    if why == "oversized":
        return _("a cell is longer than {n} characters").format(n=MAX_CELL)
    if why.startswith("malformed"):
        return _("the line cannot be read as CSV ({problem})").format(problem=why.partition(": ")[2])
    return _("{n} cells, header has {m}").format(n=len(cells), m=width)


def is_blank(cells: list[str]) -> bool:
    """A blank line is not a record (same rule as ``cotation.data.table``)."""
    return not cells or (len(cells) == 1 and not cells[0].strip())


def file_bytes(path: str | os.PathLike) -> bytes | mmap.mmap:
    """The bytes of the file at ``path``: a regular file is mapped read-only (no copy of a
    file of hundreds of MB: 0.1 s per 200 MB saved), anything else (a pipe, an empty file) is
    read. :func:`split_records` takes either. As with any mapped file, another process
    truncating the file while it is split ends this one (SIGBUS): read a file being written
    to from a copy."""
    with open(path, "rb") as fh:
        info = os.fstat(fh.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size > 0:
            try:
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                pass
        return fh.read()


def split_records(data: bytes | mmap.mmap | None, text: str | None = None, *,
                  delimiter: str = ",", quote: str | None = '"', skip_lines: int = 0,
                  fast: bool = True, source: str = "<data>") -> Records:
    """Split UTF-8 ``data`` (or already decoded ``text``, which may hold surrogate escapes).
    ``data`` may be a mapped file (:func:`file_bytes`): the common file is split from the
    mapping, any other is copied to ``bytes`` first."""
    quick = fast and len(delimiter) == 1 and delimiter.isascii() \
        and (quote is None or (len(quote) == 1 and quote.isascii()))
    if isinstance(data, mmap.mmap):
        if quick:
            try:
                records = _split_plain(data, delimiter, quote, skip_lines, source)
            except (UnicodeDecodeError, pa.ArrowInvalid):
                records = None
            if records is not None:
                return _drop_oversized(records)
        data = data[:]          # any other file: its bytes
    if quick and data is not None:
        try:
            records = _split_fast(data, delimiter, quote, skip_lines, source)
        except (UnicodeDecodeError, pa.ArrowInvalid):
            records = None   # bytes that are not UTF-8: the exact path makes them rejects
        if records is not None:
            return _drop_oversized(records)
    if text is None:
        assert data is not None
        text = data.decode("utf-8", "surrogateescape")
    return _drop_oversized(_split_python(text, delimiter, quote, skip_lines, source))


def split_single_byte(data: bytes | mmap.mmap, encoding: str, *, delimiter: str = ",",
                      quote: str | None = '"', skip_lines: int = 0,
                      source: str = "<data>") -> Records | None:
    """A file in a single-byte encoding that keeps ASCII (cp1252, latin-1…) split as bytes by
    the plain path (delimiter, quotes and line ends are ASCII: the same cells as once decoded),
    then each column made UTF-8 text on the column threads: a column of ASCII bytes as it is,
    another by decoding its bytes at once (a single-byte encoding decodes cell by cell as it
    decodes the whole). The file is never decoded whole. None when this does not apply (an
    encoding of several bytes or with states, a file the plain path leaves to the exact one,
    a byte without a character in ``encoding``): the caller decodes the file and splits the
    text."""
    table = _single_byte_lengths(encoding)
    if table is None or len(delimiter) != 1 or not delimiter.isascii() \
            or (quote is not None and (len(quote) != 1 or not quote.isascii())):
        return None
    try:
        records = _split_plain(data, delimiter, quote, skip_lines, source, encoding=encoding,
                               binary=True)
    except (UnicodeDecodeError, pa.ArrowInvalid):
        return None
    if records is None:
        return None
    columns = map_columns(lambda col: _as_utf8(col, encoding, table), records.columns,
                          len(records.lines))
    if any(c is None for c in columns):
        return None
    return _drop_oversized(Records(records.header, columns, records.lines, records.odd))


# Single-byte encodings that keep ASCII, by their codecs names (latin-1 is iso8859-1).
_SINGLE_BYTE = ("cp1252", "iso8859-1", "iso8859-15", "cp850", "cp1250", "mac-roman")


def _single_byte_lengths(encoding: str) -> np.ndarray | None:
    """For an ASCII-compatible single-byte encoding, the UTF-8 length of each byte's character
    (0 for a byte that has none); None for any other encoding."""
    import codecs
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    if name not in _SINGLE_BYTE:
        return None
    lengths = np.zeros(256, dtype=np.int64)
    for b in range(256):
        try:
            char = bytes([b]).decode(encoding)
        except UnicodeDecodeError:
            continue
        if len(char) != 1 or (b < 128 and char != chr(b)):
            return None
        lengths[b] = len(char.encode("utf-8"))
    return lengths


def _as_utf8(col: pa.ChunkedArray, encoding: str, lengths: np.ndarray) -> pa.ChunkedArray | None:
    """A binary column in ``encoding`` as UTF-8 text, chunk by chunk; None when a byte has no
    character in ``encoding``."""
    chunks = []
    for chunk in col.chunks:
        offsets = cell_offsets(chunk)
        body = cell_bytes(chunk)[1]
        high = np.flatnonzero(body >= 128)
        if high.size == 0:       # ASCII: already UTF-8
            validity, offset_buffer, data_buffer = chunk.buffers()
            chunks.append(pa.Array.from_buffers(
                pa.string(), len(chunk),
                [validity, offset_buffer, data_buffer or pa.py_buffer(b"")],
                offset=chunk.offset))
            continue
        widths = lengths[body[high]]
        if (widths == 0).any():
            return None
        text = body.tobytes().decode(encoding).encode("utf-8")
        extra = np.zeros(high.size + 1, dtype=np.int64)
        np.cumsum(widths - 1, out=extra[1:])
        local = offsets.astype(np.int64) - offsets[0]
        moved = local + extra[np.searchsorted(high, local)]
        if moved[-1] != len(text) or moved[-1] > np.iinfo(np.int32).max:
            return None
        chunks.append(pa.Array.from_buffers(pa.string(), len(chunk),
                                            [None, pa.py_buffer(moved.astype(np.int32)),
                                             pa.py_buffer(text)]))
    return pa.chunked_array(chunks, type=pa.string())


def _drop_oversized(records: Records) -> Records:
    """Records with a cell over MAX_CELL characters become odd ("oversized")."""
    n = len(records.lines)
    if n == 0:
        return records
    def too_long(col: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
        if not is_text(col.type):
            return None
        # bytes bound characters from above: count characters only past the limit
        if (pc.max(pc.binary_length(col)).as_py() or 0) <= MAX_CELL:
            return None
        longest = pc.max(pc.utf8_length(col)).as_py()
        if longest is None or longest <= MAX_CELL:
            return None
        return pc.greater(pc.utf8_length(col), MAX_CELL).to_numpy(zero_copy_only=False)

    over = np.zeros(n, dtype=bool)
    for rows in map_columns(too_long, records.columns, n):    # columns on threads
        if rows is not None:
            over |= rows
    if not over.any():
        return records
    rows = np.flatnonzero(over)
    cells = [c.take(pa.array(rows)).to_pylist() for c in records.columns]
    odd = records.odd + [(int(records.lines[i]), [col[k] for col in cells], "oversized")
                         for k, i in enumerate(rows.tolist())]
    odd.sort(key=lambda o: o[0])
    keep = pa.array(np.flatnonzero(~over))
    return Records(records.header, [c.take(keep) for c in records.columns],
                   records.lines[~over], odd)


def _reader(lines, delimiter: str, quote: str | None):
    if quote is None:
        return csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE)
    return csv.reader(lines, delimiter=delimiter, quotechar=quote)


def _header(cells: list[str] | None, source: str) -> list[str]:
    if cells is None:
        raise ValueError(_("{source}: empty file, expected a header row").format(source=source))
    return [h.strip() for h in cells]


def _first(reader, source: str) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as exc:
        raise ValueError(_("{source}:1: the header cannot be read as CSV ({problem})").format(
            source=source, problem=exc)) from None


def _has_surrogate(cells: list[str]) -> bool:
    return any(not c.isascii() and any("\udc80" <= ch <= "\udcff" for ch in c) for c in cells)


def _split_python(text: str, delimiter: str, quote: str | None, skip_lines: int,
                  source: str) -> Records:
    fh = io.StringIO(text, newline="")
    for _skipped in range(skip_lines):
        fh.readline()
    reader = _reader(fh, delimiter, quote)
    header = _header(_first(reader, source), source)
    width = len(header)
    cols: list[list[str]] = [[] for _ in header]
    lines: list[int] = []
    odd: list[tuple[int, list[str], str]] = []
    check_enc = "\udc80" <= max(text, default="\x00")  # surrogates sort above all BMP text
    base = skip_lines              # lines read before ``reader``'s first one
    line = reader.line_num + base  # the last line read
    while True:
        start = fh.tell()          # records start on a line: here the next one's first line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # csv stops at the character that raised (a cell over its field limit) and would
            # start its next record on the next line, inside a cell spanning lines: the
            # record is read here to its end, and csv starts again after it
            cells, end = _record_at(text, start, delimiter, quote)
            line += _line_count(text, start, end)
            fh.seek(end)
            reader, base = _reader(fh, delimiter, quote), line
            if is_blank(cells):    # a single cell of white space, however long, is no record
                continue
            odd.append((line, cells, "oversized" if max(map(len, cells), default=0) > MAX_CELL
                        else f"malformed: {exc}"))
            continue
        line = reader.line_num + base
        if is_blank(cells):
            continue
        if check_enc and _has_surrogate(cells):
            odd.append((line, cells, "encoding"))
        elif len(cells) != width:
            odd.append((line, cells, "shape"))
        else:
            for col, cell in zip(cols, cells):
                col.append(cell)
            lines.append(line)
    columns = [pa.chunked_array([pa.array(c, pa.string())]) for c in cols]
    return Records(header, columns, np.asarray(lines, dtype=np.int64), odd)


def _split_fast(data: bytes, delimiter: str, quote: str | None, skip_lines: int,
                source: str) -> Records | None:
    """None when the file needs the Python splitter (multi-line cells, lone CR)."""
    if not data:
        raise ValueError(_("{source}: empty file, expected a header row").format(source=source))
    plain = _split_plain(data, delimiter, quote, skip_lines, source)
    if plain is not None:
        return plain
    arr = np.frombuffer(data, dtype=np.uint8)
    n = arr.size
    cr = _positions(arr, _CR) if b"\r" in data else np.empty(0, np.int64)
    if cr.size and (cr[-1] == n - 1 or np.any(arr[cr + 1] != _LF)):
        return None  # csv treats a lone CR as a line end: leave that to it
    nl = _positions(arr, _LF)
    ends = nl if arr[-1] == _LF else np.append(nl, n)
    starts = np.concatenate(([0], nl + 1))[: ends.size]
    if ends.size <= skip_lines:
        raise ValueError(_("{source}: empty file, expected a header row").format(source=source))
    qpos = _positions(arr, ord(quote)) if quote is not None and quote.encode() in data \
        else np.empty(0, np.int64)
    qcount = None
    if qpos.size:
        qcount = np.searchsorted(qpos, ends) - np.searchsorted(qpos, starts)
        if np.any(qcount & 1):
            return None  # a quoted cell may span lines
    h = skip_lines
    header_text = data[starts[h]:ends[h]].decode("utf-8")
    header = _header(_first(_reader([header_text], delimiter, quote), source), source)
    width = len(header)
    if width < 2:
        return None   # one column: a line of spaces, or "", is blank there (csv decides)
    starts, ends = starts[h + 1:], ends[h + 1:]
    line_no = np.arange(h + 2, h + 2 + starts.size, dtype=np.int64)
    content_end = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR))
    empty = content_end == starts
    if qcount is not None:
        qcount = qcount[h + 1:]
        quoted = np.flatnonzero(qcount > 0)
        well = _well_formed(data, starts[quoted], content_end[quoted], delimiter, quote)
        if not well.all():
            qcount = qcount.copy()
            qcount[quoted[~well]] = -1  # split by csv below
        else:
            quick = _split_quick(data, starts, empty, line_no, header, delimiter, quote)
            if quick is not None:
                return quick
    elif width > 1:
        quick = _split_quick(data, starts, empty, line_no, header, delimiter, quote)
        if quick is not None:
            return quick

    # Exact path: count cells per line to find the lines pyarrow can take as they are.
    dpos = _positions(arr, ord(delimiter))
    if qpos.size:
        # Lines hold an even number of quotes, so in a well-formed line a delimiter sits
        # inside a quoted cell exactly when an odd number of quotes precede it.
        dpos = dpos[(np.searchsorted(qpos, dpos) & 1) == 0]
    dcount = np.searchsorted(dpos, ends) - np.searchsorted(dpos, starts)
    del dpos
    regular = (~empty) & (dcount == width - 1)
    if qcount is not None:
        regular &= qcount >= 0
    other = np.flatnonzero(~regular & ~empty)

    # The lines pyarrow reads: all of them when regular and contiguous, else a filtered copy.
    first = int(starts[0]) if starts.size else n
    if regular.all():
        buf = memoryview(data)[first:]
    else:
        seg_len = np.append(starts[1:], n) - starts
        buf = arr[first:][np.repeat(regular, seg_len)].tobytes()
    columns = _pyarrow_split(buf, width, delimiter, quote)

    lines = line_no[regular]
    odd: list[tuple[int, list[str], str]] = []
    if other.size:
        parsed = _parse_lines(arr, starts[other], content_end[other], delimiter, quote)
        if parsed is None:
            return None
        extra_cols: list[list[str]] = [[] for _ in header]
        extra_lines: list[int] = []
        for line, cells in zip(line_no[other].tolist(), parsed):
            if is_blank(cells):
                continue
            if len(cells) != width:
                odd.append((line, cells, "shape"))
                continue
            for col, cell in zip(extra_cols, cells):
                col.append(cell)
            extra_lines.append(line)
        if extra_lines:
            lines = np.concatenate((lines, np.asarray(extra_lines, dtype=np.int64)))
            order = np.argsort(lines, kind="stable")
            lines = lines[order]
            take = pa.array(order)
            columns = [pa.chunked_array(c.chunks + [pa.array(e, pa.string())]).take(take)
                       for c, e in zip(columns, extra_cols)]
    return Records(header, columns, lines, odd)


def _split_plain(data: bytes | mmap.mmap, delimiter: str, quote: str | None, skip_lines: int,
                 source: str, *, encoding: str = "utf-8", binary: bool = False
                 ) -> Records | None:
    """The common file: lines ending in ``\\n`` or ``\\r\\n`` (no other carriage return), no
    blank line, quotes (if any) only around whole cells on one line (:func:`_quoted_cells`).
    Then record ``i`` is line ``skip_lines + 2 + i`` and pyarrow splits it all, counting
    cells; None otherwise (or when a line has a wrong cell count, or is blank), and the exact
    path decides. ``encoding``: the header's (the body is pyarrow's); ``binary``: the cells as
    bytes, not checked as UTF-8 (:func:`split_single_byte`)."""
    qpos = _scan(np.frombuffer(data, dtype=np.uint8), None if quote is None else ord(quote),
                 data=data)
    if qpos is False:
        return None       # a carriage return that does not end a line
    if qpos is not None and qpos.size and not _quoted_cells(data, delimiter, quote, qpos):
        return None
    end = -1
    for _line in range(skip_lines + 1):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return None
    header = _header(_first(_reader([data[:end].decode(encoding).split("\n")[-1]],
                                    delimiter, quote), source), source)
    if len(header) < 2:
        return None      # a one-column file cannot tell a blank line from a record
    # Blank lines are not skipped there (as pyarrow does by default): each line is a record,
    # a blank one a record of empty cells. A record of empty cells is left to the exact path,
    # which tells a blank line (no record) from ``,,`` (a record): no count of line feeds.
    columns = _pyarrow_cells(memoryview(data)[end + 1:], len(header), delimiter, quote,
                             blank_lines=True, binary=binary)
    if columns is None or _some_record_empty(columns):
        return None
    n = len(columns[0]) if columns else 0
    return Records(header, columns, np.arange(skip_lines + 2, skip_lines + 2 + n,
                                               dtype=np.int64))


def _some_record_empty(columns: list[pa.ChunkedArray]) -> bool:
    """Whether a record has every cell empty: among the records whose first cell is empty
    (offsets, no copy), the others' cells are looked at."""
    rows = []
    start = 0
    for chunk in columns[0].chunks:
        rows.append(np.flatnonzero(cell_bytes(chunk)[0] == 0) + start)
        start += len(chunk)
    rows = np.concatenate(rows) if rows else np.empty(0, np.int64)
    for col in columns[1:]:
        if rows.size == 0:
            return False
        cells = col.take(pa.array(rows))
        rows = rows[pc.equal(pc.binary_length(cells), 0).to_numpy(zero_copy_only=False)]
    return bool(rows.size)


def _split_quick(data: bytes, starts: np.ndarray, empty: np.ndarray, line_no: np.ndarray,
                 header: list[str], delimiter: str, quote: str | None) -> Records | None:
    """All lines well-formed: let pyarrow count cells; None if any line has a wrong count."""
    if len(header) < 2:
        return None  # a one-column file cannot tell a blank line from a record
    first = int(starts[0]) if starts.size else len(data)
    columns = _pyarrow_cells(memoryview(data)[first:], len(header), delimiter, quote)
    lines = line_no[~empty]
    if columns is None or (columns and len(columns[0]) != lines.size):
        return None
    return Records(header, columns, lines)


def _pyarrow_cells(buf, width: int, delimiter: str, quote: str | None, *,
                   blank_lines: bool = False, binary: bool = False
                   ) -> list[pa.ChunkedArray] | None:
    """:func:`_pyarrow_split` of lines believed regular; None when pyarrow finds one that is
    not (a wrong cell count, or bytes that are not UTF-8): the exact path decides then. (No
    invalid-row handler: pyarrow decodes the row for it, and a row that is not UTF-8 would
    print an ignored exception.)"""
    try:
        return _pyarrow_split(buf, width, delimiter, quote, blank_lines=blank_lines,
                              binary=binary)
    except pa.ArrowInvalid:
        return None


def _well_formed(data: bytes, starts: np.ndarray, ends: np.ndarray, delimiter: str,
                 quote: str) -> np.ndarray:
    """Lines whose quoting follows RFC 4180, where pyarrow and csv split alike."""
    if starts.size == 0:
        return np.ones(0, dtype=bool)
    d, q = re.escape(delimiter), re.escape(quote)
    cell = f"(?:[^{q}{d}\\r\\n]*|{q}(?:[^{q}]|{q}{q})*{q})"
    pattern = f"^{cell}(?:{d}{cell})*$"
    offsets = np.empty(2 * starts.size, dtype=np.int64)
    offsets[0::2], offsets[1::2] = starts, ends
    # Every other string of this array is one of the lines; the ones between are gaps.
    strings = pa.LargeStringArray.from_buffers(offsets.size - 1, pa.py_buffer(offsets),
                                               pa.py_buffer(data))
    lines = strings.take(pa.array(np.arange(0, offsets.size - 1, 2)))
    return pc.match_substring_regex(lines, pattern).to_numpy(zero_copy_only=False)


def _parse_lines(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, delimiter: str,
                 quote: str | None) -> list[list[str]] | None:
    """csv-parse some lines in one pass; None if a record spans lines (the caller falls back).

    Each line is followed by an empty line: outside quotes csv yields it as an empty record,
    inside an open quote it swallows it, which shifts the line count and gives us away.
    """
    pieces = [arr[s:e].tobytes().decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist())]
    text = "\n\n".join(pieces) + "\n\n"
    reader = _reader(io.StringIO(text, newline=""), delimiter, quote)
    out = []
    try:
        for k, cells in enumerate(reader):
            if reader.line_num != k + 1 or (k % 2 == 1) != (cells == []):
                return None
            if k % 2 == 0:
                out.append(cells)
    except csv.Error:
        return None   # the Python splitter makes it a located reject
    return out if len(out) == len(pieces) else None


def _pyarrow_split(buf, width: int, delimiter: str, quote: str | None, *,
                   blank_lines: bool = False, binary: bool = False) -> list[pa.ChunkedArray]:
    """The cells of ``buf`` as ``width`` text columns (``binary``: as bytes, not checked as
    UTF-8). pyarrow skips blank lines unless ``blank_lines`` (then a blank line is a record of
    empty cells)."""
    names = [f"c{i}" for i in range(width)]
    kind = pa.binary() if binary else pa.string()
    if len(buf) == 0:
        return [pa.chunked_array([pa.array([], kind)]) for _ in names]
    if bytes(buf[:3]) == b"\xef\xbb\xbf":
        # pyarrow drops these bytes at the start of its input as a byte-order mark; here
        # they begin a record's first cell: the exact path reads them
        raise pa.ArrowInvalid("a record starts with the bytes of a byte-order mark")
    table = pacsv.read_csv(
        pa.py_buffer(buf),
        # 1 MB blocks (pyarrow's default): each parsed while it is in the core's cache. 4 MB
        # blocks, fewer chunks to join afterwards, read the 1M file 1.5-6 % slower (2026-12-06)
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=quote or False,
                                         double_quote=True,
                                         escape_char=False, newlines_in_values=False,
                                         ignore_empty_lines=not blank_lines),
        convert_options=pacsv.ConvertOptions(column_types={c: kind for c in names},
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
    return [table.column(i) for i in range(width)]

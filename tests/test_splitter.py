"""The fast splitter (numpy + pyarrow) yields the records, cells, lines and odd records of the
Python ``csv`` splitter, on texts made of the characters that decide how a line is split."""
from __future__ import annotations

import mmap

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings, strategies as st

from cotation.data import split
from cotation.data.split import split_records


def _records(data: bytes, fast: bool):
    try:
        r = split_records(data, None, fast=fast, source="t.csv")
    except ValueError as exc:
        return ("error", str(exc))
    return (r.header, [c.to_pylist() for c in r.columns], r.lines.tolist(), r.odd)


def _same(data: bytes) -> None:
    assert _records(data, True) == _records(data, False), data


CELL = st.text(st.sampled_from(['a', 'b', 'é', ' ', ',', '"', '\n', '\r']), max_size=5)
QUOTED = st.builds(lambda s: '"' + s.replace('"', '""') + '"',
                   st.text(st.sampled_from(['a', ',', '"', ' ', 'é']), max_size=4))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(CELL, QUOTED), min_size=1, max_size=4), max_size=8),
       st.booleans())
def test_any_text_splits_like_csv(rows, final_newline):
    text = "x,y,z\n" + "\n".join(",".join(r) for r in rows) + ("\n" if final_newline else "")
    _same(text.encode("utf-8"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.text(st.sampled_from("ab é"), max_size=3), QUOTED),
                         min_size=3, max_size=3), min_size=1, max_size=8))
def test_well_quoted_files_take_the_plain_path_and_split_like_csv(rows):
    text = "x,y,z\n" + "".join(",".join(r) + "\n" for r in rows)
    data = text.encode("utf-8")
    _same(data)
    if '"' in text:
        assert split._quoted_cells(data, ",", '"')


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["1,2,3", "", ",,", '"","",""', ",2,3", ",,3", '"a,b",,']),
                max_size=10), st.booleans())
def test_blank_lines_and_empty_records_split_like_csv(rows, final_newline):
    # the plain split keeps blank lines as records of empty cells and leaves any record of
    # empty cells to the exact path: blank lines are not records, ",," is one
    text = "x,y,z\n" + "\n".join(rows) + ("\n" if final_newline else "")
    _same(text.encode("utf-8"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.text(st.sampled_from("ab é,"), max_size=3), QUOTED),
                         min_size=3, max_size=3), max_size=8),
       st.sampled_from(["\r\n", "\n"]), st.booleans(), st.integers(0, 2))
def test_crlf_files_take_the_plain_path_and_split_like_csv(rows, end, final, skip):
    # lines ending in \r\n (Windows exports) are split by pyarrow as csv splits them; a
    # carriage return anywhere else leaves the file to the exact path
    pre = "".join(f"titre {i}{end}" for i in range(skip))
    text = pre + "x,y,z" + end + end.join(",".join(r) for r in rows) + (end if final else "")
    data = text.encode("utf-8")
    _same(data)
    if rows:
        got = split._split_plain(data, ",", '"', skip, "t.csv")
        well = all(_plain_cells(",".join(r)) for r in rows) and not any(
            all(c in ("", '""') for c in r) for r in rows)
        if well:
            assert got is not None, text


def _plain_cells(line: str) -> bool:
    """Whether ``line`` splits into three cells by its commas outside quotes."""
    import csv
    return len(next(csv.reader([line]))) == 3


@pytest.mark.parametrize("body", ["1,2,3\r4,5,6\r\n", "1,2,3\r\n4,5,6\r", '1,"a\rb",3\r\n',
                                  '1,"a\r\nb",3\r\n', "1,2,3\r\n\r\n4,5,6\r\n"])
def test_a_carriage_return_that_ends_no_line_goes_to_the_exact_path(body):
    data = ("x,y,z\r\n" + body).encode("utf-8")
    assert split._split_plain(data, ",", '"', 0, "t.csv") is None
    _same(data)


SINGLE = st.text(st.sampled_from(["a", "é", "€", "œ", "ç", " ", ";", "'", "\xa0"]), max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(SINGLE, st.builds(lambda t: '"' + t.replace('"', '""') + '"',
                                                     SINGLE)), min_size=3, max_size=3),
                max_size=8),
       st.sampled_from(["\r\n", "\n"]), st.sampled_from(["cp1252", "latin-1", "iso-8859-15"]))
def test_single_byte_files_split_as_their_decoded_text(rows, end, encoding):
    # cp1252 and its kin split as bytes, each column decoded at once: the records of the
    # file decoded whole, then split
    from cotation.data.split import split_single_byte
    text = "x;y;é" + end + "".join(";".join(r) + end for r in rows)
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        return
    got = split_single_byte(raw, encoding, delimiter=";")
    want = split_records(text.encode("utf-8"), None, delimiter=";", fast=False, source="t.csv")
    if got is None:     # left to the decoded path: a file the plain split does not take
        assert split._split_plain(text.encode("utf-8"), ";", '"', 0, "t.csv") is None
        return
    assert got.header == want.header
    assert [c.to_pylist() for c in got.columns] == [c.to_pylist() for c in want.columns]
    assert got.lines.tolist() == want.lines.tolist() and got.odd == want.odd
    assert all(c.type == pa.string() for c in got.columns)


def test_single_byte_split_leaves_what_it_cannot_read():
    from cotation.data.split import split_single_byte
    # a byte with no character in cp1252, an encoding of several bytes, a lone carriage return
    assert split_single_byte(b"x;y\r\n1;\x81\r\n", "cp1252", delimiter=";") is None
    assert split_single_byte("x;y\n1;é\n".encode("utf-16-le"), "utf-16-le", delimiter=";") is None
    assert split_single_byte(b"x;y\r1;2\n", "cp1252", delimiter=";") is None
    assert split_single_byte(b"x;y\n1;2\n", "shift_jis", delimiter=";") is None


@pytest.mark.parametrize("data", [b"h,k\n\xef\xbb\xbfa,b\n", b"h,k\r\n\xef\xbb\xbfa,b\r\n",
                                  b"h,k\n\xef\xbb\xbfa,\"b\"\n1,2\n"])
def test_a_record_starting_with_the_bytes_of_a_bom_keeps_them(data):
    # pyarrow drops them at the start of its input: the exact path reads such a file
    from cotation.data.split import split_single_byte
    _same(data)
    assert split_single_byte(data, "cp1252") is None


@pytest.mark.parametrize("data, delimiter", [(b"h\n1\n \n", ","), (b'h\n""\n2\n', ","),
                                             (b'h,k\r\n""\r\n1\r\n', ";")])
def test_one_column_files_drop_blank_lines_as_csv_does(data, delimiter):
    # in a one-column file a line of spaces, or "", is blank (no record)
    def records(fast):
        r = split_records(data, None, delimiter=delimiter, fast=fast, source="t.csv")
        return [c.to_pylist() for c in r.columns], r.lines.tolist(), r.odd
    assert records(True) == records(False)


@pytest.mark.parametrize("body, plain", [
    ('"a",b,c\n', True),
    ('"a""b",",",""\n', True),
    ('""""," "" ",c\n', True),
    ('a"b,c,d\n', False),             # a quote inside an unquoted cell
    ('"a"b,c,d\n', False),            # text after the closing quote
    ('"a\nb",c,d\n', False),          # a quoted cell over two lines
    ('"a,b,c\nd","e,f\n', False),     # quotes that pair across lines
    ('a,b,"c\n', False),              # an odd number of quotes
    ('a,b,"c"', True),                # the closing quote is the last byte
])
def test_quoted_cells_rule(body, plain):
    data = ("x,y,z\n" + body).encode("utf-8")
    assert split._quoted_cells(data, ",", '"') is plain
    _same(data)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(CELL, QUOTED), min_size=1, max_size=4), max_size=8),
       st.booleans(), st.booleans())
def test_a_mapped_file_splits_like_its_bytes(rows, final_newline, bom):
    """file_bytes maps a regular file: the common file is split from the mapping, any other
    copied first; either way as csv splits the bytes."""
    import os
    import tempfile

    from cotation.data.canonical import _source_bytes

    text = "x,y,z\n" + "\n".join(",".join(r) for r in rows) + ("\n" if final_newline else "")
    data = text.encode("utf-8")
    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write((b"\xef\xbb\xbf" if bom else b"") + data)
        assert _records(_source_bytes(path), True) == _records(data, False), data
    finally:
        os.unlink(path)


def test_file_bytes_maps_regular_files_and_reads_the_rest(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes(b"x,y\n1,2\n")
    assert isinstance(split.file_bytes(p), mmap.mmap)
    (tmp_path / "e.csv").write_bytes(b"")
    assert split.file_bytes(tmp_path / "e.csv") == b""      # nothing to map
    with pytest.raises(ValueError, match="empty file"):
        split_records(split.file_bytes(tmp_path / "e.csv"), None, source="e.csv")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"a", b'"', b"'"]),
                          max_size=60).map(b"".join)),
       st.sampled_from([None, ord('"'), ord("'")]), st.integers(1, 64))
def test_one_scan_finds_what_the_two_did(data, quote, block):
    # carriage returns not followed by a line feed, and quote positions, block by block
    # (blocks on threads); a \r\n is a line end, not a carriage return alone
    # (also with the bytes given: asked first whether they hold a \r or a quote at all)
    from cotation.data.split import _positions, _scan
    arr = np.frombuffer(data, dtype=np.uint8)
    for source in (None, data):
        got = _scan(arr, quote, block, data=source)
        if any(data[i + 1:i + 2] != b"\n" for i in range(len(data)) if data[i] == 13):
            assert got is False
            continue
        assert (got is None) == (quote is None)
        if quote is not None:
            assert got.tolist() == _positions(arr, quote).tolist()


@pytest.mark.parametrize("body, expected", [
    (b"x,y\n1,2\n", []), (b'x,y\n"1",2\n', [4, 6]), (b'x,y\r\n"1",2\r\n', [5, 7]),
    (b"x,y\r\n1,2\r\n", []), (b"x,y\r1,2\n", False), (b"x,y\n1,2\r", False)])
def test_the_scan_asks_a_mapped_file_first(tmp_path, body, expected):
    # a mapped file (mmap: its own find) gives what the block scan gives
    from cotation.data.split import _scan
    p = tmp_path / "d.csv"
    p.write_bytes(body)
    data = split.file_bytes(p)
    assert isinstance(data, mmap.mmap)
    got = _scan(np.frombuffer(data, dtype=np.uint8), ord('"'), data=data)
    assert (got is False) if expected is False else got.tolist() == expected
    assert _scan(np.frombuffer(data, dtype=np.uint8), None, data=data) is \
        (False if expected is False else None)


@pytest.mark.parametrize("skip", [0, 2])
def test_the_plain_split_numbers_the_lines_after_the_header(tmp_path, skip):
    # pyarrow would skip a blank line (every later line number one off): the plain split has
    # it kept as a record of empty cells, and leaves any such record to the exact path,
    # which tells a blank line (no record) from one of empty cells (a record)
    pre = b"" if skip == 0 else b"titre\nexport du jour\n"
    clean = pre + b"x,y,z\n1,2,3\n4,\"a,b\",6\n7,8,9"
    blank = pre + b"x,y,z\n1,2,3\n\n4,\"a,b\",6\n7,8,9\n"
    empties = pre + b"x,y,z\n1,2,3\n,,\n4,\"a,b\",6\n"
    quoted_empties = pre + b"x,y,z\n1,2,3\n\"\",\"\",\"\"\n4,\"a,b\",6\n"
    first_empty = pre + b"x,y,z\n1,2,3\n,,z\n4,\"a,b\",6\n"
    blank_last = pre + b"x,y,z\n1,2,3\n4,\"a,b\",6\n7,8,9\n\n"
    for body, plain in ((clean, True), (blank, False), (empties, False),
                        (quoted_empties, False), (first_empty, True), (blank_last, False)):
        p = tmp_path / "d.csv"
        p.write_bytes(body)
        got = split._split_plain(split.file_bytes(p), ",", '"', skip, "d.csv")
        assert (got is not None) is plain
        if got is not None:
            assert got.lines.tolist() == [skip + 2, skip + 3, skip + 4]
        exact = split_records(body, None, fast=False, skip_lines=skip, source="d.csv")
        if got is not None:
            assert [c.to_pylist() for c in got.columns] == [c.to_pylist() for c in exact.columns]
        mapped = split_records(split.file_bytes(p), None, skip_lines=skip, source="d.csv")
        assert mapped.lines.tolist() == exact.lines.tolist()


def test_the_scan_on_threads_finds_what_the_three_did():
    # above its threshold the scan runs block by block on the column threads
    from cotation.data.split import _positions, _scan
    rng = np.random.default_rng(3)
    arr = rng.choice(np.frombuffer(b'ab,"\n', np.uint8), 21_000_000)
    qpos = _scan(arr, ord('"'), 1 << 20)
    assert np.array_equal(qpos, _positions(arr, ord('"')))
    arr[20_999_999] = 13
    assert _scan(arr, ord('"'), 1 << 20) is False


# ----------------------------------------------------------------------------- the field limit

LONG = split.MAX_CELL + 8_000     # over csv's field limit (and MAX_CELL)

RECORD_CHARS = st.text(st.sampled_from(["a", " ", ",", ";", '"', "'", "\r", "\n"]), max_size=40)


@settings(max_examples=1000, deadline=None)
@given(RECORD_CHARS, st.sampled_from([",", ";", "'", '"', "\r", "\n"]),
       st.sampled_from(['"', "'", ",", "\r", "\n", None]))
def test_the_record_reader_reads_what_csv_reads(text, delimiter, quote):
    # what csv reads past a cell over its field limit: the same records (blank lines as no
    # cell), each ending on the line csv ends it on, quoted cells spanning lines, a quote
    # closed then followed by text, a quote never closed; also with a mapping's odd
    # separator or quote (a line end, the same character)
    import io
    reader = split._reader(io.StringIO(text, newline=""), delimiter, quote)
    want = [(cells, reader.line_num) for cells in reader]
    got, pos, line = [], 0, 0
    while pos < len(text):
        cells, end = split._record_at(text, pos, delimiter, quote)
        assert end > pos
        line += split._line_count(text, pos, end)
        got.append((cells, line))
        pos = end
    assert got == want, text


def _long_cell(piece: str, end: str) -> str:
    """A quoted cell over the limit, spanning lines ended by ``end``."""
    return '"' + (piece.replace('"', '""') + end) * (LONG // (len(piece) + len(end)) + 1) + '"'


def _file(records: list[str | list[str]], end: str) -> tuple[bytes, list, list]:
    """``x,y,z`` then ``records`` (a valid record, or the cells of an over-long one); the
    expected accepted (cells, line) and rejected lines, each numbered at its last line."""
    text, line, accepted, rejected = "x,y,z" + end, 1, [], []
    for record in records:
        if isinstance(record, list):
            body = ",".join(record)
            line += 1 + body.count(end)
            rejected.append(line)
        else:
            body = record
            line += 1
            accepted.append((record.split(","), line))
        text += body + end
    return text.encode("utf-8"), accepted, rejected


def _check(data: bytes, accepted, rejected, *, delimiter=",", skip=0, width=3):
    for fast in (True, False):
        r = split_records(data, None, delimiter=delimiter, fast=fast, skip_lines=skip,
                          source="t.csv")
        rows = list(zip(*[c.to_pylist() for c in r.columns]))
        assert [(list(cells), line) for cells, line in zip(rows, r.lines.tolist())] == \
            [(cells, line + skip) for cells, line in accepted]
        assert [(line, why) for line, _cells, why in r.odd] == \
            [(line + skip, "oversized") for line in rejected]
        assert all(len(cells) == width for _line, cells, _why in r.odd)
        assert r.n_read == len(accepted) + len(rejected)


@pytest.mark.parametrize("end", ["\n", "\r\n"])
@pytest.mark.parametrize("records", [
    # the reviewer's shapes: long text between two short lines, and many short lines
    [["1", lambda end: f'"a{end}' + "x" * LONG + f'{end}b"', "3"], "4,5,6", "7,8,9"],
    [["1", "x", "3"], "4,5,6", "7,8,9"],
    # a long cell in the first or last column, holding delimiters and doubled quotes
    [['a,"b', "2", "3"], "4,5,6"],
    [["1", "2", ","], "4,5,6"],
    # several: in one record, in records one after the other, between valid records
    [["1", "x", "y"], "4,5,6"],
    ["1,2,3", ["1", "x", "3"], ["1", "y,", "3"], "4,5,6", ["1", "", "3"], "7,8,9"],
])
def test_a_cell_over_the_limit_inside_a_cell_spanning_lines_is_one_reject(records, end):
    # csv stops inside the cell: reading goes on after the record, not inside the cell.
    # In a list (the cells of a record), a text other than a number is the piece of a long
    # cell spanning lines (_long_cell)
    def cell(c):
        return c(end) if callable(c) else c if c.isdigit() else _long_cell(c, end)
    _check(*_file([[cell(c) for c in r] if isinstance(r, list) else r for r in records], end))


def _csv_without_limit(text: str) -> tuple[list, list]:
    """What the splitter should give for ``text`` (header ``x,y,z``): the records csv reads
    with no field limit, a record of a cell over MAX_CELL an "oversized" reject, one of
    another width a "shape" reject, numbered at their last line."""
    import csv
    import io
    old = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader)
        records = [(cells, reader.line_num) for cells in reader]
    finally:
        csv.field_size_limit(old)
    accepted, odd = [], []
    for cells, line in records:
        if split.is_blank(cells):
            continue
        if max(map(len, cells)) > split.MAX_CELL:
            odd.append((line, "oversized"))
        elif len(cells) != 3:
            odd.append((line, "shape"))
        else:
            accepted.append((cells, line))
    return accepted, odd


LONG_CELL = st.builds(
    lambda piece, end, tail: '"' + (piece.replace('"', '""') + end) * (LONG // (len(piece) + 2))
    + '"' + tail,
    st.text(st.sampled_from(["a", ",", '"', " ", "\r", "\n"]), max_size=3),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from(["", "", "b", '"']))


@settings(max_examples=30, deadline=None)
# found by CI: a record of one quoted cell of line ends only, over the limit, is a blank line
@example(rows=[['"' + "\r\n" * (LONG // 2) + '"']], end="\n", final=False)
@given(st.lists(st.one_of(st.lists(st.one_of(CELL, QUOTED), min_size=1, max_size=4),
                          st.lists(st.one_of(CELL, LONG_CELL), min_size=1, max_size=3)),
                max_size=5),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_files_with_long_cells_split_as_csv_without_its_limit(rows, end, final):
    # cells over the limit anywhere (spanning lines or not, several in a record, followed by
    # other records or by the end of the file): the records csv reads without its limit,
    # every record counted once
    text = "x,y,z" + end + end.join(",".join(r) for r in rows) + (end if final else "")
    accepted, odd = _csv_without_limit(text)
    for fast in (True, False):
        r = split_records(text.encode("utf-8"), None, fast=fast, source="t.csv")
        rows_read = [list(cells) for cells in zip(*[c.to_pylist() for c in r.columns])]
        assert list(zip(rows_read, r.lines.tolist())) == accepted
        assert [(line, why) for line, _cells, why in r.odd] == odd


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_the_long_record_keeps_its_lines_after_title_lines_and_with_semicolons(end):
    data, accepted, rejected = _file(["1,2,3", ["1", _long_cell("x;", end), "3"], "4,5,6"], end)
    data = f"titre{end}export{end}".encode() + data.replace(b",", b";")
    _check(data, [([c.replace(",", ";") for c in cells], line) for cells, line in accepted],
           rejected, delimiter=";", skip=2)


@pytest.mark.parametrize("tail", ["", "a\nb", "a\r\nb\r\n", "a,b\n", "9,9,9\n"])
def test_a_quote_never_closed_after_a_long_cell_is_one_reject(tail):
    # the quote left open at the end of the file: one record to the end (csv's), no hang
    long = _long_cell("x", "\n")
    text = f"x,y,z\n1,2,3\n4,{long},6\n7,8,{long[:-1]}\n{tail}"
    last = text.count("\n") + (not text.endswith("\n"))
    _check(text.encode(), [(["1", "2", "3"], 2)], [3 + long.count("\n"), last])


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_a_quote_never_closed_over_the_limit_at_the_start_is_one_reject(end):
    text = f'x,y,z{end}"' + f"ab{end}" * (LONG // 3) + "c"
    _check(text.encode(), [], [1 + LONG // 3 + 1], width=1)


def test_a_cell_of_ten_mb_spanning_lines_takes_linear_time():
    # 5,000,000 lines inside one quoted cell: one reject, the records after it read, in
    # time linear in the size (it took about a minute, a record per line, before)
    import time

    def read(n_lines: int) -> float:
        data, accepted, rejected = _file(
            ["1,2,3", ["1", '"' + "x\n" * n_lines + '"', "3"], "4,5,6", "7,8,9"], "\n")
        t0 = time.perf_counter()
        r = split_records(data, None, source="t.csv")
        took = time.perf_counter() - t0
        assert r.lines.tolist() == [line for _cells, line in accepted] == \
            [2, n_lines + 4, n_lines + 5]
        assert [(line, why) for line, _c, why in r.odd] == [(rejected[0], "oversized")]
        return took

    small = min(read(500_000) for _ in range(3))         # 1 MB
    big = min(read(5_000_000) for _ in range(2))         # 10 MB
    # linear: 10 times the time; quadratic: 100 times (2-core machines under load: margins)
    assert big < 20 and big < 35 * small + 0.5, (small, big)

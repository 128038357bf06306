"""Vectorised checks of one column: Arrow arrays of the canonical types, and the rows they vouch for.

Each field has a scalar parser (the definition of what a cell means) and is first checked
vectorised (:func:`vector_parse`), producing an Arrow array of the canonical type
(:func:`cotation.data.table.arrow_type`) and the rows it vouches for: distinct values are
parsed once each with the scalar parser; numbers whose bytes are all digits, sign and decimal
separator go through one Arrow cast, other high-cardinality numbers through an anchored regex
plus that cast, which equals ``int``/``float`` on the strings admitted; localisations and sets
through an Arrow list split; and columns that arrive in their canonical Arrow type (a typed
DataFrame or Parquet file) are range- and code-checked as they are. A row a field cannot vouch
for goes to the scalar parser (:mod:`cotation.data.build`), so the result is the row-by-row
reader's by construction.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.schema import COLUMNS_BY_NAME, Column, Kind
from cotation.data.table import arrow_values
from cotation.data.split import cell_bytes, cell_offsets as _offsets, is_text
from cotation.data.values import (
    COUNT_COLUMNS, MAX_MAGNITUDE, MULTI_SEPARATOR, ValueParseError, grouped_number_pattern,
)

# Characters str.strip() removes (for pc.utf8_trim, and as a regex class): a cell starting
# or ending with one goes the scalar way.
_PY_SPACE_CHARS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
                   "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_PY_SPACE = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _PY_SPACE_CHARS) + "]"   # RE2 class
_EDGE_SPACE = f"^{_PY_SPACE}|{_PY_SPACE}$"
# Columns up to this many rows have each distinct text read by the scalar parser; longer
# ones try the vectorised paths first (which vouch only for what the parser reads). Measured
# on the bench30 canonical CSV (whole read, min of 7): 10 rows 4.2 ms scalar / 5.8 vectorised,
# 100 rows 5.9 / 6.6, 300 rows 8.7 / 7.0, 1,000 rows 14.9 / 8.7, 4,000 rows 36 / 13.7,
# 20,000 rows 121-157 / 35-43 (the limit was 32,768 before).
_UNIQUE_LIMIT = 256


@dataclass(frozen=True)
class FieldSpec:
    """How one canonical column is read from one or more source columns."""

    name: str
    sources: tuple[int, ...]
    label: str                                  # Reject.column
    parse: Callable[[str], Any]                 # raises ValueParseError; checks `required`
    kind: Kind
    required: bool = False
    number: str | None = None                   # "int" | "decimal": regex+cast fast path
    decimal_sep: str = "."                      # for number == "decimal"
    thousands: str = ""                         # for number: removed wherever it appears
    # A date column read by ``datetime.strptime`` with this format first (mapped files):
    # the vectorised path vouches for the texts that this format writes back unchanged.
    date_format: str = ""
    # Localisations without code table: the separators between communes and whether
    # 4-digit codes get their leading zero back, for the vectorised list path.
    communes_split: tuple[str, ...] = ()
    insee_zero_pad: bool = False
    # ``parse`` is the canonical parser of the column (``parse_cell`` + required): the
    # canonical-only vectorised paths apply (ISO dates, sets of codes).
    canonical: bool = False


def _column(spec: FieldSpec) -> Column:
    """The canonical column ``spec`` fills (its enumeration orders sets of codes)."""
    col = COLUMNS_BY_NAME.get(spec.name)
    return col if col is not None and col.kind is spec.kind else Column(spec.name, spec.kind)


class ItemCodes:
    """The items of a checked list column (localisations, a set of codes), dictionary-encoded
    as the check found them: per item, from the column's first offset on, its index
    (``indices``, int32) in ``dictionary`` (strings; an entry may repeat another's value).
    The encoder reads them instead of hashing every item again. ``indices`` may be given as
    a function that makes them, called once, under a lock, when they are first read (a reader
    that only reads does not pay for them; threads encoding one table share them)."""

    def __init__(self, dictionary: pa.Array, indices: np.ndarray | None = None,
                 make: Callable[[], np.ndarray] | None = None) -> None:
        self.dictionary = dictionary
        self._indices = indices
        self._make = make
        self._lock = threading.Lock()

    @property
    def indices(self) -> np.ndarray:
        got = self._indices
        if got is not None:
            return got
        with self._lock:
            if self._indices is None:
                self._indices = self._make()
                self._make = None            # what it held is no longer needed
            return self._indices

    def of_rows(self, lengths: np.ndarray, keep: np.ndarray) -> "ItemCodes":
        """The codes of the rows ``keep`` (bool per row) of a column whose rows hold
        ``lengths`` items."""
        return ItemCodes(self.dictionary, make=lambda: self.indices[np.repeat(keep, lengths)])


class Parsed(NamedTuple):
    """Values of the canonical Arrow type, the rows vouched for, and for a list column
    the codes of its items when the check computed them."""

    values: pa.Array
    ok: np.ndarray
    items: ItemCodes | None = None


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)


def _by_unique(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """Each distinct text parsed once by the scalar parser; a null cell is an empty one."""
    encoded = arr.dictionary_encode()  # one hash pass: distinct values and row indices
    texts = encoded.dictionary.to_pylist()
    size = len(texts)
    if encoded.indices.null_count:
        texts.append("")               # the null cells' text
    parsed: list[Any] = []
    good: list[bool] = []
    for text in texts:
        try:
            parsed.append(spec.parse(text))
            good.append(True)
        except ValueParseError:
            parsed.append(None)
            good.append(False)
    if spec.kind in (Kind.CODE, Kind.TEXT, Kind.COMMUNE) and encoded.dictionary.type == pa.string() \
            and parsed[size:] in ([], [None]) and all(v == t for v, t in zip(parsed[:size], texts)):
        # every distinct text is its own value and nulls stay missing: Arrow's encoding is
        # the checked column as it is
        ok = np.ones(len(arr), dtype=bool) if all(good) else \
            np.asarray(good, dtype=bool)[_np(pc.fill_null(encoded.indices, size))]
        return encoded, ok
    idx = _np(pc.fill_null(encoded.indices, size))        # a null row: the text ''
    ok = np.asarray(good, dtype=bool)[idx]
    if spec.kind in (Kind.CODE, Kind.TEXT, Kind.COMMUNE):
        # Codes stay dictionary-encoded (the encoder reads the dictionary, not every row);
        # the dictionary holds only values, missing and unreadable cells are null indices.
        present = np.fromiter((v is not None for v in parsed), bool, len(parsed))
        remap = np.cumsum(present) - 1
        codes = np.where(present, remap, -1)[idx].astype(np.int32)
        dictionary = pa.array([v for v in parsed if v is not None], pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), dictionary), ok
    return arrow_values(_column(spec), parsed).take(pa.array(idx)), ok


_INT_RE = r"^-?[0-9]{1,18}$"


def _number(spec: FieldSpec, arr: pa.Array) -> Parsed | None:
    if spec.number == "int":
        pattern, target = _INT_RE, pa.int64()
    else:
        sep = "\\" + spec.decimal_sep if spec.decimal_sep in ".^$|?*+()[]{}\\" else spec.decimal_sep
        pattern, target = f"^-?[0-9]{{1,17}}({sep}[0-9]{{1,17}})?$", pa.float64()
    match = pc.match_substring_regex(arr, pattern)
    text = arr if spec.decimal_sep == "." else pc.replace_substring(arr, spec.decimal_sep, ".")
    try:
        nums = pc.cast(pc.if_else(match, text, "0"), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    empty = _np(pc.equal(arr, ""))
    ok = _np(match) & in_range(spec, _np(nums))
    ok |= empty & (not spec.required)
    return pc.if_else(pa.array(empty), pa.scalar(None, target), nums), ok


def _empty_as_null(arr: pa.Array, empty: np.ndarray) -> pa.Array:
    """``arr`` (no nulls) with the ``empty`` cells null: a validity bitmap over the same
    buffers, no copy of the text."""
    valid = np.zeros(arr.offset + len(arr), dtype=bool)
    valid[arr.offset:] = ~empty
    return pa.Array.from_buffers(arr.type, len(arr),
                                 [pa.py_buffer(np.packbits(valid, bitorder="little")),
                                  *arr.buffers()[1:]], offset=arr.offset)


def _number_direct(spec: FieldSpec, arr: pa.Array) -> Parsed | None:
    """:func:`_number` without its regex, for a column whose bytes are all digits, ``-`` and
    (decimals) the decimal separator, ``.`` or ``,``. Over those bytes Arrow's cast and the
    scalar parsers accept the same texts, ``-?[0-9]*[.]?[0-9]*`` with a digit, and read the
    same number (both round correctly; tests/test_number_direct.py checks every short text
    over that alphabet and long ones by property). A text the cast refuses (``1-2``, ``.``)
    fails the whole column, and None sends it to :func:`_number`. One pass over the bytes
    and one cast instead of a regex per cell: 3x quicker on 1M cells."""
    if spec.number == "int":
        allowed, target = b"-0123456789", pa.int64()
    elif spec.decimal_sep in (".", ","):
        allowed, target = b"-0123456789" + spec.decimal_sep.encode(), pa.float64()
    else:
        return None
    if arr.null_count or not is_text(arr.type):
        return None
    lengths, body = cell_bytes(arr)
    # every byte in [lo, '9'] (one subtraction, wrapping below lo) and none of the others there
    lo = min(allowed)
    if body.size and ((body - np.uint8(lo)) > 57 - lo).any():
        return None
    if any((body == b).any() for b in set(range(lo, 58)) - set(allowed)):
        return None
    empty = lengths == 0
    text = _empty_as_null(arr, empty)       # the cast leaves empty cells null
    if target == pa.float64() and spec.decimal_sep != ".":
        text = pc.replace_substring(text, spec.decimal_sep, ".")
    try:
        nums = pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    ok = ~empty & in_range(spec, _np(pc.fill_null(nums, 0)))
    ok |= empty & (not spec.required)
    return nums, ok


def in_range(spec: FieldSpec, nums: np.ndarray) -> np.ndarray:
    """Rows the fast paths may vouch for: finite, within MAX_MAGNITUDE, not a negative count.
    Any other row goes to the scalar parser, which rejects it or not (same rule at every
    size and from every source)."""
    with np.errstate(invalid="ignore"):
        # two comparisons, not abs(): abs(-2**63) is -2**63 in int64
        ok = (nums >= -MAX_MAGNITUDE) & (nums <= MAX_MAGNITUDE)
        if spec.name in COUNT_COLUMNS:
            ok &= nums >= 0
    return ok


# Bytes a cell may start or end with only if str.strip() could remove something there:
# ASCII white space, and any byte of a multi-byte character (the other white space).
_EDGE_BYTE = np.zeros(256, dtype=bool)
_EDGE_BYTE[[ord(c) for c in _PY_SPACE_CHARS if ord(c) < 128]] = True
_EDGE_BYTE[128:] = True


def _text(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """Free text: empty is missing; a cell with white space at an edge goes to the scalar
    parser. The edges are judged on the bytes (a first or last byte that cannot belong to
    white space clears the cell); only cells whose edge byte could, non-ASCII ones, are
    trimmed by Arrow. The values are the input's buffers, empty cells made null."""
    if arr.type != pa.string() or arr.null_count:
        empty = pc.equal(arr, "")
        ok = ~_edge_space(arr) & ~(_np(empty) & spec.required)
        return pc.if_else(empty, pa.scalar(None, pa.string()), arr.cast(pa.string())), ok
    n = len(arr)
    lengths, body = cell_bytes(arr)
    empty = lengths == 0
    suspect = np.zeros(n, dtype=bool)
    if body.size:
        offsets = _offsets(arr)
        starts = offsets[:-1] - offsets[0]
        first = body[np.minimum(starts, body.size - 1)]
        last = body[np.maximum(starts + lengths - 1, 0)]
        suspect = (_EDGE_BYTE[first] | _EDGE_BYTE[last]) & ~empty
    edge = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(suspect)
    if rows.size:
        edge[rows] = _edge_space(arr.take(pa.array(rows)))
    ok = ~edge & ~(empty & spec.required)
    return _empty_as_null(arr, empty), ok


def _edge_space(arr: pa.Array) -> np.ndarray:
    """Per cell, whether str.strip() would remove something from it."""
    trimmed = pc.utf8_trim(arr, _PY_SPACE_CHARS)
    return _np(pc.not_equal(pc.binary_length(trimmed), pc.binary_length(arr)))


_ISO_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _iso_date(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """YYYY-MM-DD text as date32: the anchored pattern of ``parse_date``, Arrow's strptime,
    and the date written back must be the text (strptime rolls 2024-02-30 over to March);
    years 1 to 9999 only, as Python's dates. Any other cell goes to the scalar parser."""
    match = pc.match_substring_regex(arr, _ISO_DATE_RE)
    days = pc.strptime(pc.if_else(match, arr, "1970-01-01"), format="%Y-%m-%d", unit="s",
                       error_is_null=True).cast(pa.date32())
    d = _np(pc.fill_null(days.cast(pa.int32()), _DATE_MIN - 1))
    empty = _np(pc.equal(arr, ""))
    # strptime rolls 2024-02-30 over to 2024-03-01: the date must write back as the text
    same = _np(pc.fill_null(pc.equal(days.cast(pa.string()), arr), False))
    ok = _np(match) & same & (d >= _DATE_MIN) & (d <= _DATE_MAX)
    ok |= empty & (not spec.required)
    return pc.if_else(pa.array(ok & ~empty), days, pa.scalar(None, pa.date32())), ok


# Formats the vectorised date path takes: day, month and four-digit year, literal ASCII
# between them (what ``datetime.strptime`` and Arrow read alike once written back unchanged).
_DATE_FORMAT_RE = re.compile(r"(?:%[dmY]|[^%\w\s])+")
_YEAR_1000 = (dt.date(1000, 1, 1) - dt.date(1970, 1, 1)).days


def date_format_vectorised(fmt: str) -> bool:
    """Whether :func:`_formatted_date` may read dates written in ``fmt``: only ``%d``,
    ``%m`` and ``%Y``, each once, with punctuation between them."""
    return bool(_DATE_FORMAT_RE.fullmatch(fmt)) and all(
        fmt.count(d) == 1 for d in ("%d", "%m", "%Y"))


def _formatted_date(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """Dates written in ``spec.date_format`` as date32: Arrow's strptime, and the date written
    back in that format must be the text (zero-padded, no space, no rolled-over day), with a
    year from 1000 to 9999: then ``datetime.strptime`` reads the same date. Any other cell,
    including what a later format of the field would read, goes to the parser."""
    days = pc.strptime(arr, format=spec.date_format, unit="s", error_is_null=True)
    back = pc.strftime(days, format=spec.date_format)
    days = days.cast(pa.date32())
    d = _np(pc.fill_null(days.cast(pa.int32()), _DATE_MIN - 1))
    same = _np(pc.fill_null(pc.equal(back, arr), False))
    empty = _np(pc.equal(arr, ""))
    ok = same & (d >= _YEAR_1000) & (d <= _DATE_MAX)
    ok |= empty & (not spec.required)
    return pc.if_else(pa.array(ok & ~empty), days, pa.scalar(None, pa.date32())), ok


def _present(spec: FieldSpec, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    valid = _np(pc.is_valid(arr))
    return valid, ~valid & (not spec.required)


def _typed_float(spec: FieldSpec, arr: pa.Array) -> Parsed:
    valid, missing_ok = _present(spec, arr)
    nums = arr.cast(pa.float64())
    return nums, (valid & in_range(spec, _np(nums))) | missing_ok


_DATE_MIN = (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days
_DATE_MAX = (dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days


def _native(spec: FieldSpec, arr: pa.Array) -> Parsed | None:
    """A column already of its canonical Arrow type (from a typed source): checked as it is.
    None when its type is not the canonical one (then it is read as text)."""
    t, kind = arr.type, spec.kind
    valid, missing_ok = _present(spec, arr)
    if kind is Kind.INT and pa.types.is_integer(t):
        nums = arr.cast(pa.int64())
        return nums, (valid & in_range(spec, _np(pc.fill_null(nums, 0)))) | missing_ok
    if kind is Kind.BOOL and pa.types.is_boolean(t):
        return arr, valid | missing_ok
    if kind is Kind.DATE and pa.types.is_date32(t):
        days = _np(pc.fill_null(arr.cast(pa.int32()), 0))
        return arr, (valid & (days >= _DATE_MIN) & (days <= _DATE_MAX)) | missing_ok
    if kind in (Kind.CODESET, Kind.COMMUNES) and t == pa.list_(pa.string()):
        return _native_lists(spec, arr)
    return None


def _native_lists(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """list<string> cells: every item a canonical value; null is the empty list. The items
    of a set of codes may come in any order (:func:`canonical_sets` orders them for output);
    a row that repeats a code goes to the scalar parser."""
    n = len(arr)
    if arr.null_count:
        arr = pc.fill_null(arr, pa.scalar([], arr.type))
    if arr.offset or arr.offsets[0].as_py():
        arr = pa.concat_arrays([arr])       # offsets from 0
    flat = pc.list_flatten(arr)
    offsets = _np(arr.offsets)
    encoded = flat.dictionary_encode()      # few distinct items: each checked once
    pos = _np(pc.fill_null(encoded.indices, len(encoded.dictionary)))
    bad_item = ~np.append(_good_items(spec, encoded.dictionary), False)[pos]
    ok = np.ones(n, dtype=bool)
    ok[_rows_of(offsets, np.flatnonzero(bad_item))] = False
    if spec.kind is Kind.CODESET:           # localisations keep repeats, sets may not
        ok &= ~_repeated(offsets, np.where(bad_item, 0, pos), n)
    # a null item's code points past the dictionary: its row is not vouched for
    return Parsed(arr, ok, ItemCodes(encoded.dictionary, pos))


def _rows_of(offsets: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The row of each item (``offsets`` of a list array, from 0)."""
    return np.searchsorted(offsets, items, side="right") - 1


def _good_items(spec: FieldSpec, words: pa.Array) -> np.ndarray:
    """Which distinct items of a list column are canonical values: INSEE codes for
    localisations, codes of the enumeration for a set (without one: not blank, no edge
    space, no separator)."""
    if spec.kind is Kind.COMMUNES:
        good = pc.match_substring_regex(words, _INSEE_RE)
    elif _column(spec).enum is not None:
        good = pc.is_in(words, value_set=pa.array(_column(spec).enum, pa.string()))
    else:
        good = pc.invert(pc.or_(pc.equal(words, ""),
                                pc.match_substring_regex(words, _EDGE_SPACE + "|\\|")))
    return _np(pc.fill_null(good, False))


def _repeated(offsets: np.ndarray, pos: np.ndarray, n: int) -> np.ndarray:
    """Rows (``offsets`` from 0) where a value (``pos``, per item) appears twice."""
    count = np.diff(offsets)
    if len(pos) < 2:
        return np.zeros(n, dtype=bool)
    if pos.max() < 64:            # one bit per value (a bitwise-or reduceat: twice as long)
        return row_bit_sums(offsets, np.left_shift(np.uint64(1), pos.astype(np.uint64)))[1]
    width = int(pos.max()) + 1
    key = np.repeat(np.arange(n, dtype=np.int64), count) * width + pos
    key.sort()
    rows = np.zeros(n, dtype=bool)
    rows[key[1:][key[1:] == key[:-1]] // width] = True
    return rows


def row_bit_sums(offsets: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row (the run ``[offsets[i], offsets[i+1])`` of ``bits``, one bit set in each) the
    sum of its bits modulo 2**64, as a difference of running sums, and whether the row repeats
    a bit: the sum has as many bits set as the row has elements exactly when they are
    distinct (a repeat carries; a carry only takes bits away), and it is then their OR."""
    running = np.zeros(len(bits) + 1, dtype=np.uint64)
    np.cumsum(bits, out=running[1:])
    sums = running[offsets[1:]] - running[offsets[:-1]]
    return sums, _popcount(sums) < np.diff(offsets)


def _popcount(x: np.ndarray) -> np.ndarray:
    count = getattr(np, "bitwise_count", None)        # numpy >= 2.0
    if count is not None:
        return count(x)
    return np.unpackbits(x.view(np.uint8)).reshape(len(x), 64).sum(axis=1)


def canonical_sets(col: Column, arr: pa.Array) -> pa.Array:
    """A list<string> column of sets of codes with each row in canonical order (the
    enumeration's, else the text's), as the canonical Parquet holds them."""
    flat = pc.list_flatten(arr)
    if len(flat) < 2:
        return arr
    parent = _np(pc.list_parent_indices(arr)).astype(np.int64)
    if col.enum is not None:
        pos = _np(pc.fill_null(pc.index_in(flat, value_set=pa.array(col.enum, pa.string())),
                               len(col.enum)))
    else:
        dictionary = pc.unique(flat)
        rank = np.empty(len(dictionary), dtype=np.int64)
        rank[_np(pc.sort_indices(dictionary))] = np.arange(len(rank))
        pos = rank[_np(pc.index_in(flat, value_set=dictionary))]
    key = parent * (int(pos.max()) + 2) + pos
    if not (np.diff(key) < 0).any():
        return arr
    if arr.offset or arr.offsets[0].as_py():
        arr = pa.concat_arrays([arr])
    return pa.ListArray.from_arrays(arr.offsets, flat.take(pa.array(np.argsort(key, kind="stable"))))


_INSEE_RE = r"^(?:[0-9]{2}|2A|2B)[0-9]{3}$"


def _split_items(arr: pa.Array, separators: tuple[str, ...],
                 check: Callable[[pa.Array], np.ndarray],
                 fix: Callable[[pa.Array], pa.Array] | None = None) -> Parsed:
    """Cells of items joined by ``separators``, as list<string>: ``check`` says which
    distinct items are good (items are few: communes, codes), ``fix`` rewrites them first.
    A row is vouched for when all its items are good; an empty cell is the empty list. The
    items' codes come with them."""
    n = len(arr)
    empty = _np(pc.equal(arr, ""))
    # Empty cells are made null (a validity bitmap over the same buffers): they split into
    # no list at all, so the items are the split's values as they are, in order.
    if arr.null_count == 0:
        arr = _empty_as_null(arr, empty)
    else:
        arr = pc.if_else(pa.array(empty), pa.scalar(None, arr.type), arr)
    if len(separators) > 1 and is_text(arr.type):
        # a separator the column does not hold splits nothing: one left, no regex (the
        # multi-column join of a single source column, 4x quicker on 1M localisations)
        body = cell_bytes(arr)[1]
        separators = tuple(sep for sep in separators
                           if len(sep.encode()) != 1 or (body == sep.encode()[0]).any()) \
            or separators[:1]
    if len(separators) == 1:
        parts = pc.split_pattern(arr, separators[0])
    else:
        parts = pc.split_pattern_regex(arr, "|".join(re.escape(sep) for sep in separators))
    counts = _np(pc.fill_null(pc.list_value_length(parts), 0))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    flat = pc.list_flatten(parts)
    encoded = flat.dictionary_encode()
    words = encoded.dictionary if fix is None else fix(encoded.dictionary)
    codes = _np(encoded.indices)
    ok = np.ones(n, dtype=bool)
    ok[_rows_of(offsets, np.flatnonzero(~check(words)[codes]))] = False
    items = flat if fix is None else words.take(encoded.indices)
    return Parsed(pa.ListArray.from_arrays(pa.array(offsets), items.cast(pa.string())), ok,
                  ItemCodes(words.cast(pa.string()), codes))


def _communes(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """Localisations as list<string>, kept as written (duplicates included: the scorer counts
    a commune once at its first rang, and the list round-trips unchanged); odd cells
    (spaces, empty items) go slow."""
    def pad(words: pa.Array) -> pa.Array:
        four = pc.match_substring_regex(words, r"^[0-9]{4}$")
        return pc.if_else(four, pc.binary_join_element_wise("0", words, ""), words)

    return _split_items(arr, spec.communes_split, lambda words: _good_items(spec, words),
                        pad if spec.insee_zero_pad else None)


def _codeset(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """A set of codes written ``a|b`` (canonical parser): every item a code of the
    enumeration (or, without one, non-blank without edge spaces), none twice."""
    values, ok, items = _split_items(arr, (MULTI_SEPARATOR,),
                                     lambda words: _good_items(spec, words))
    if len(items.indices) > 1:
        ok &= ~_repeated(_np(values.offsets), items.indices, len(values))
    return Parsed(values, ok, items)


def _via_dictionary(parse: Callable[[FieldSpec, pa.Array], Parsed | None], spec: FieldSpec,
                    arr: pa.Array, *, sample: bool = True) -> Parsed | None:
    """``parse`` of a text column, run on its distinct values when they are few (judged on
    a sample first when ``sample``: hashing a column of mostly distinct values is wasted)."""
    head = arr.slice(0, 1 << 14)
    if sample and len(pc.unique(head)) * 4 > len(head):
        return parse(spec, arr)
    encoded = arr.dictionary_encode()
    if encoded.indices.null_count or len(encoded.dictionary) * 4 > len(arr):
        return parse(spec, arr)
    out = parse(spec, encoded.dictionary)
    if out is None:
        return None
    idx = encoded.indices
    items = out[2] if len(out) > 2 else None
    if items is not None:       # the items' codes of each row, as the take lays them out
        items = ItemCodes(items.dictionary, make=lambda d=items, o=out[0].offsets: _np(
            pc.list_flatten(pa.ListArray.from_arrays(o, pa.array(d.indices, pa.int32())).take(idx))))
    return Parsed(out[0].take(idx), out[1][_np(idx)], items)


# Kinds read by distinct text (:func:`_by_unique`) whatever their size: a text column of them
# may hold nulls (empty cells).
_BY_UNIQUE_KINDS = (Kind.CODE, Kind.COMMUNE)


def _mostly_vouched(out: Parsed | None) -> Parsed | None:
    """``out`` when it leaves at most 1 % of the cells to the scalar parser, else None: the
    column is then read by :func:`_by_unique` alone (e.g. numbers padded with spaces)."""
    if out is not None and np.count_nonzero(~out[1]) <= len(out[1]) // 100:
        return out
    return None


def vector_parse(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """(values, ok, items): ok[i] means values[i] is what ``spec.parse`` returns for row i;
    ``items``: :class:`ItemCodes` of a list column, or None."""
    return Parsed(*_vector_parse(spec, arr))


def _vector_parse(spec: FieldSpec, arr: pa.Array) -> Parsed | tuple[pa.Array, np.ndarray]:
    if arr.null_count and is_text(arr.type):
        if spec.kind in _BY_UNIQUE_KINDS:
            return _by_unique(spec, arr)    # null cells are read as empty ones there
        arr = arr.fill_null("")
    if pa.types.is_floating(arr.type):
        return _typed_float(spec, arr)
    if not is_text(arr.type):
        native = _native(spec, arr)
        if native is not None:
            return native
        arr = arr.cast(pa.string())
    if spec.kind is Kind.TEXT and len(spec.sources) == 1:
        return _text(spec, arr)
    if len(arr) <= _UNIQUE_LIMIT:
        return _by_unique(spec, arr)        # short: the parser on each distinct text
    if spec.communes_split:
        return _communes(spec, arr)
    if spec.canonical and spec.kind is Kind.DATE:
        return _via_dictionary(_iso_date, spec, arr, sample=False)
    if spec.date_format and spec.kind is Kind.DATE:
        out = _mostly_vouched(_via_dictionary(_formatted_date, spec, arr, sample=False))
        if out is not None:
            return out
    if spec.canonical and spec.kind is Kind.CODESET:
        return _via_dictionary(_codeset, spec, arr, sample=False)
    if spec.number is not None:
        # a thousands separator goes wherever it is, as the parser removes it (the text it
        # then reads is what the fast paths read; any other cell is read by the parser)
        digits = pc.replace_substring(arr, spec.thousands, "") if spec.thousands else arr
        out = _number_direct(spec, digits)
        if out is None:
            out = _via_dictionary(_number, spec, digits)
        if out is not None and spec.thousands:
            # a cell of separators alone is empty once they are removed, and the parser
            # refuses it (unless strip() removes them too: it reads it then, slowly); so it
            # does a separator that does not group digits by three ('1.5' is not 15)
            lost = _np(pc.equal(digits, "")) & ~_np(pc.equal(arr, ""))
            lost |= _np(pc.match_substring(arr, spec.thousands)) & ~_np(pc.match_substring_regex(
                arr, grouped_number_pattern(spec.thousands, spec.decimal_sep)))
            if lost.any():
                out = Parsed(out[0], out[1] & ~lost, *out[2:])
        out = _mostly_vouched(out)
        if out is not None:
            return out
    return _by_unique(spec, arr)

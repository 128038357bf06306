"""Columnar validation: checked Arrow columns of the canonical types, with exact row fallback.

Each field has a scalar parser (the definition of what a cell means) and is first checked
vectorised, producing an Arrow array of the canonical type (:func:`cotation.data.table.arrow_type`)
and the rows it vouches for: distinct values are parsed once each with the scalar parser,
high-cardinality numbers go through an anchored regex plus an Arrow cast that equals
``int``/``float`` on the strings the regex admits, localisations through an Arrow list split,
and columns that arrive in their canonical Arrow type (a typed DataFrame or Parquet file) are
range- and code-checked as they are. A row any field cannot vouch for is parsed again, field
by field in order, with the scalar parsers alone on its canonical text, exactly as a
row-by-row reader would; so the result, rejects included, is the same as the row-by-row path
(``vectorised=False``) by construction. The table keeps the checked arrays
(:meth:`cotation.data.table.DemandeTable.from_arrow`): no Python object per demande is made
unless a consumer asks for the lists.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.schema import COLUMNS, COLUMNS_BY_NAME, Column, Kind
from cotation.data.table import (
    DemandeTable, ReadResult, Reject, StrictModeError, arrow_type, arrow_values,
)
from cotation.data.values import COUNT_COLUMNS, MAX_MAGNITUDE, MULTI_SEPARATOR, ValueParseError

from cotation.data.parallel import map_columns
from cotation.data.split import Records, is_text, single
from cotation.i18n import _

JOIN = "\x1f"  # joins the cells of a field read from several source columns

# Characters str.strip() removes (for pc.utf8_trim, and as a regex class): a cell starting
# or ending with one goes the scalar way.
_PY_SPACE_CHARS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
                   "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_PY_SPACE = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _PY_SPACE_CHARS) + "]"   # RE2 class
_EDGE_SPACE = f"^{_PY_SPACE}|{_PY_SPACE}$"
_UNIQUE_LIMIT = 1 << 15


@dataclass
class AdapterResult(ReadResult):
    """A :class:`cotation.data.table.ReadResult` with what the adapter saw of the source."""

    source_format: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # Canonical columns the source provides (None: not known, e.g. SNE XML, where every
    # field is optional per demande) and code cells left-padded to 5 digits, per column.
    source_columns: list[str] | None = None
    padded: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["format"] = self.source_format
        out.update(self.details)
        if self.padded:
            out["padded"] = dict(self.padded)
        return out


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


def _empty_array(kind: Kind, n: int) -> pa.Array:
    t = arrow_type(kind)
    if pa.types.is_list(t):
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)),
                                        pa.array([], pa.string()))
    return pa.nulls(n, t)


def field_input(records: Records, spec: FieldSpec) -> pa.Array:
    """The source text (or typed values) of a field; a null text cell is an empty one."""
    cols = [_filled(records.columns[i]) for i in spec.sources]
    return single(cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, JOIN))


def _filled(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if arr.null_count and is_text(arr.type):
        return arr.fill_null("")
    return arr


Parsed = tuple[pa.Array, np.ndarray]   # (values of the canonical Arrow type, rows vouched for)


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)


def _by_unique(spec: FieldSpec, arr: pa.Array) -> Parsed:
    encoded = arr.dictionary_encode()  # one hash pass: distinct values and row indices
    parsed: list[Any] = []
    good: list[bool] = []
    for text in encoded.dictionary.to_pylist():
        try:
            parsed.append(spec.parse(text))
            good.append(True)
        except ValueParseError:
            parsed.append(None)
            good.append(False)
    idx = _np(encoded.indices)
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


def in_range(spec: FieldSpec, nums: np.ndarray) -> np.ndarray:
    """Rows the fast paths may vouch for: finite, within MAX_MAGNITUDE, not a negative count.
    Any other row goes to the scalar parser, which rejects it or not (same rule at every
    size and from every source)."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(nums) <= MAX_MAGNITUDE
        if spec.name in COUNT_COLUMNS:
            ok &= nums >= 0
    return ok


def _text(spec: FieldSpec, arr: pa.Array) -> Parsed:
    empty = pc.equal(arr, "")
    trimmed = pc.utf8_trim(arr, _PY_SPACE_CHARS)
    edge = _np(pc.not_equal(pc.binary_length(trimmed), pc.binary_length(arr)))
    ok = ~edge & ~(_np(empty) & spec.required)
    return pc.if_else(empty, pa.scalar(None, pa.string()), arr.cast(pa.string())), ok


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
    return arr, ok


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
    if pos.max() < 64:            # one bit per value: a row repeats when bits < items
        bits = np.left_shift(np.uint64(1), pos.astype(np.uint64))
        filled = count > 0
        seen = np.zeros(n, dtype=np.uint64)
        seen[filled] = np.bitwise_or.reduceat(bits, offsets[:-1][filled])
        return _popcount(seen) < count
    width = int(pos.max()) + 1
    key = np.repeat(np.arange(n, dtype=np.int64), count) * width + pos
    key.sort()
    rows = np.zeros(n, dtype=bool)
    rows[key[1:][key[1:] == key[:-1]] // width] = True
    return rows


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
    A row is vouched for when all its items are good; an empty cell is the empty list."""
    n = len(arr)
    empty = _np(pc.equal(arr, ""))
    # Empty cells are made null (a validity bitmap over the same buffers): they split into
    # no list at all, so the items are the split's values as they are, in order.
    if arr.null_count == 0:
        valid = np.zeros(arr.offset + n, dtype=bool)
        valid[arr.offset:] = ~empty
        arr = pa.Array.from_buffers(arr.type, n, [pa.py_buffer(np.packbits(valid, bitorder="little")),
                                                  *arr.buffers()[1:]], offset=arr.offset)
    else:
        arr = pc.if_else(pa.array(empty), pa.scalar(None, arr.type), arr)
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
    return pa.ListArray.from_arrays(pa.array(offsets), items.cast(pa.string())), ok


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
    values, ok = _split_items(arr, (MULTI_SEPARATOR,), lambda words: _good_items(spec, words))
    flat = pc.list_flatten(values)
    if len(flat) > 1:
        pos = _np(pc.fill_null(flat.dictionary_encode().indices, 0))
        ok &= ~_repeated(_np(values.offsets), pos, len(values))
    return values, ok


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
    return out[0].take(idx), out[1][_np(idx)]


def vector_parse(spec: FieldSpec, arr: pa.Array) -> Parsed:
    """(values, ok): ok[i] means values[i] is what ``spec.parse`` returns for row i."""
    if pa.types.is_floating(arr.type):
        return _typed_float(spec, arr)
    if not is_text(arr.type):
        native = _native(spec, arr)
        if native is not None:
            return native
        arr = arr.cast(pa.string())
    if spec.communes_split and len(arr) > _UNIQUE_LIMIT:
        return _communes(spec, arr)
    if spec.kind is Kind.TEXT and len(spec.sources) == 1:
        return _text(spec, arr)
    if spec.canonical and spec.kind is Kind.DATE and len(arr) > _UNIQUE_LIMIT:
        return _via_dictionary(_iso_date, spec, arr, sample=False)
    if spec.canonical and spec.kind is Kind.CODESET and len(arr) > _UNIQUE_LIMIT:
        return _via_dictionary(_codeset, spec, arr, sample=False)
    if spec.number is not None and len(arr) > _UNIQUE_LIMIT:
        out = _via_dictionary(_number, spec, arr)
        # Worth it unless many cells need the scalar parser (e.g. padded with spaces).
        if out is not None and np.count_nonzero(~out[1]) <= len(arr) // 100:
            return out
    return _by_unique(spec, arr)


def cell_text(spec: FieldSpec, arr: pa.Array, rows: np.ndarray) -> list[str]:
    """Canonical text of some rows, as the scalar parsers receive it."""
    sub = arr.take(pa.array(rows, pa.int64()))
    if pa.types.is_floating(arr.type):
        return ["" if v is None else repr(float(v)) for v in sub.to_pylist()]
    if not is_text(sub.type):
        from cotation.data.arrow import column_cells
        sub = column_cells(spec.name, COLUMNS_BY_NAME.get(spec.name), sub).array
        if pa.types.is_floating(sub.type):
            return ["" if v is None else repr(float(v)) for v in sub.to_pylist()]
    return ["" if v is None else v for v in sub.to_pylist()]


def of_type(arr: pa.Array, t: pa.DataType) -> pa.Array:
    """``arr`` as type ``t``; a dictionary array of values of type ``t`` stays one."""
    if arr.type == t or (pa.types.is_dictionary(arr.type) and arr.type.value_type == t):
        return arr
    return arr.cast(t)


def _patched(col: Column, arr: pa.Array, rows: list[int], values: list[Any]) -> pa.Array:
    """``arr`` with ``values`` at ``rows``."""
    idx = np.arange(len(arr), dtype=np.int64)
    idx[np.asarray(rows, dtype=np.int64)] = len(arr) + np.arange(len(rows), dtype=np.int64)
    both = pa.concat_arrays([arr.cast(arrow_type(col.kind)), arrow_values(col, values)])
    return both.take(pa.array(idx))


@dataclass
class Checked:
    """Fields of some records, checked: the values of the rows not rejected are exactly what
    the scalar parsers give; ``rejects`` holds one per rejected row (its first bad field)."""

    values: dict[str, pa.Array]        # per field, of the canonical Arrow type
    inputs: list[pa.Array]             # per field, the source text (or typed values)
    rejects: list[Reject]
    rejected: np.ndarray               # bool per record
    lead: list[Any]                    # results of the ``lead`` tasks


# Relative cost of checking a column of each kind (measured on 1M generated demandes:
# localisations 57 ms, decimals 48, sets 30-47, others 9-35): the order columns are checked in.
_CHECK_COST = {Kind.COMMUNES: 4, Kind.DECIMAL: 3, Kind.CODESET: 2}


def check_records(records: Records, fields: Sequence[FieldSpec], *, nu_source: int | None,
                  vectorised: bool, display: Callable[[str], str],
                  lead: Sequence[Callable[[], Any]] = ()) -> Checked:
    """Check every field of ``records`` (vectorised, then the rows a field cannot vouch for
    again with the scalar parsers alone). Columns are independent: they are checked on
    threads, after the ``lead`` tasks (the longest ones go first)."""
    n = len(records.lines)
    lines = records.lines

    def check(spec: FieldSpec) -> tuple[pa.Array, Parsed]:
        arr = field_input(records, spec)
        if vectorised and n:
            return arr, vector_parse(spec, arr)
        return arr, (_empty_array(spec.kind, n), np.zeros(n, dtype=bool))

    # the longest checks first, so that no thread is left with a long one at the end
    order = sorted(range(len(fields)), key=lambda i: -_CHECK_COST.get(fields[i].kind, 1))
    tasks: list[Callable[[], Any]] = [*lead, *(lambda s=fields[i]: check(s) for i in order)]
    results = map_columns(lambda task: task(), tasks, n)
    lead_out = results[:len(lead)]
    done = [out for _, out in sorted(zip(order, results[len(lead):]), key=lambda p: p[0])]
    inputs = [arr for arr, _parsed in done]
    values: dict[str, pa.Array] = {}
    goods: dict[str, np.ndarray] = {}
    ok = np.ones(n, dtype=bool)
    for spec, (_arr, (v, good)) in zip(fields, done):
        ok &= good
        values[spec.name] = v
        goods[spec.name] = good

    rejects: list[Reject] = []
    rejected = np.zeros(n, dtype=bool)
    slow = np.flatnonzero(~ok)
    if slow.size:
        texts = [cell_text(spec, arr, slow) for spec, arr in zip(fields, inputs)]
        nu_spec = next((f for f in fields if f.name == "numero_unique"), fields[0])
        nus = (cell_text(nu_spec, single(records.columns[nu_source]), slow)
               if nu_source is not None else [""] * slow.size)
        patches: dict[str, tuple[list[int], list[Any]]] = {f.name: ([], []) for f in fields}
        for k, i in enumerate(slow.tolist()):
            row: list[Any] = []
            for spec, col_text in zip(fields, texts):
                text = col_text[k]
                try:
                    row.append(spec.parse(text))
                except ValueParseError as exc:
                    rejects.append(Reject(int(lines[i]), spec.label, display(text), str(exc),
                                          (nus[k] or "").strip()))
                    rejected[i] = True
                    break
            else:
                for spec, value in zip(fields, row):
                    if not goods[spec.name][i]:
                        patches[spec.name][0].append(i)
                        patches[spec.name][1].append(value)
        for spec in fields:
            rows, vals = patches[spec.name]
            if rows:
                values[spec.name] = _patched(_column(spec), values[spec.name], rows, vals)
    return Checked(values, inputs, rejects, rejected, lead_out)


def build_table(records: Records, fields: Sequence[FieldSpec], extras: Sequence[tuple[str, int]],
                *, nu_source: int | None, source: str, strict: bool, vectorised: bool = True,
                odd_reject: Callable[[int, list[str], str], Reject],
                display: Callable[[str], str] = lambda s: s.replace(JOIN, "|"),
                pre_rejects: Sequence[Reject] = ()) -> tuple[DemandeTable, list[Reject]]:
    """Typed, validated table of ``records``; rejects sorted by line."""
    n = len(records.lines)
    lines = records.lines
    nu_field = next((f for f in fields if f.name == "numero_unique"), None)

    # The sort of numero_unique that finds duplicates below runs beside the column checks.
    lead: list[Callable[[], Any]] = []
    sorting = nu_field is not None and vectorised and n and len(nu_field.sources) == 1
    if sorting:
        nu_raw = _filled(records.columns[nu_field.sources[0]])
        lead.append(lambda: pc.sort_indices(nu_raw.cast(pa.string())))
    checked = check_records(records, fields, nu_source=nu_source, vectorised=vectorised,
                            display=display, lead=lead)
    values, rejected = checked.values, checked.rejected
    nu_sorted = checked.lead[0] if sorting else None
    nu_input = checked.inputs[fields.index(nu_field)] if nu_field is not None else None
    rejects: list[Reject] = list(pre_rejects)
    rejects.extend(odd_reject(line, cells, why) for line, cells, why in records.odd)
    rejects.extend(checked.rejects)

    # Duplicates among the rows still standing, in source order: the first one wins.
    # One sort finds them; its order is kept with the table (the ranking's last tie-break).
    nu_order = None
    if nu_field is not None and n:
        standing = np.flatnonzero(~rejected)
        nu_text = values["numero_unique"].cast(pa.string())
        same = nu_sorted is not None and nu_input.type == pa.string() and pc.all(
            pc.or_kleene(pc.equal(nu_text, nu_input), pa.array(rejected))).as_py()
        if same:
            # the sort of the source text, on the rows standing (values equal the text there)
            order = _np(nu_sorted)
            nu_order = order[~rejected[order]]
        else:
            nu_order = standing[_np(pc.sort_indices(nu_text.take(pa.array(standing))))]
        ordered = nu_text.take(pa.array(nu_order))
        same_as_previous = np.zeros(len(ordered), dtype=bool)
        if len(ordered) > 1:
            same_as_previous[1:] = _np(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1)))
        if same_as_previous.any():
            # equal values are adjacent: the earliest row of each run is the one kept
            starts = np.flatnonzero(~same_as_previous)
            first = np.minimum.reduceat(nu_order, starts)[np.cumsum(~same_as_previous) - 1]
            dup = np.flatnonzero(nu_order != first)
            for i, f, nu in zip(nu_order[dup].tolist(), first[dup].tolist(),
                                ordered.take(pa.array(dup)).to_pylist()):
                rejects.append(Reject(int(lines[i]), nu_field.label, nu, _(
                    "duplicated numero_unique (first at line {line})").format(line=int(lines[f])),
                    nu))
                rejected[i] = True

    rejects.sort(key=lambda r: r.line)
    if strict and rejects:
        raise StrictModeError(rejects[0], source)

    keep = ~rejected
    n_keep = int(keep.sum())
    keep_arr = pa.array(keep) if not keep.all() else None

    def kept(a: pa.Array) -> pa.Array:
        return a if keep_arr is None else a.filter(keep_arr)

    columns: dict[str, pa.Array] = {}
    for col in COLUMNS:
        if col.name in values:
            columns[col.name] = kept(of_type(values[col.name], arrow_type(col.kind)))
        else:
            columns[col.name] = _empty_array(col.kind, n_keep)
    extra_cols: dict[str, pa.Array] = {}
    for name, idx in extras:
        raw = records.columns[idx]
        raw = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
        if not pa.types.is_string(raw.type):
            raw = raw.cast(pa.string())
        extra_cols[name] = kept(pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw))
    orders = {}
    if nu_order is not None:
        new_index = np.cumsum(keep) - 1
        orders["numero_unique"] = new_index[nu_order[keep[nu_order]]]
    table = DemandeTable.from_arrow(columns, extra_cols, n_keep, lines[keep].tolist(), orders)
    return table, rejects

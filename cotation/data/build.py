"""Records to a checked table: every field checked by column, the rest by the scalar parsers.

Each field is checked vectorised first (:mod:`cotation.data.vector`: an Arrow array of the
canonical type and the rows it vouches for). A row any field cannot vouch for is parsed again,
field by field in order, with the scalar parsers alone on its canonical text, exactly as a
row-by-row reader would; so the result, rejects included, is the same as the row-by-row path
(``vectorised=False``) by construction. Duplicated ``numero_unique`` are found with one sort.
The table keeps the checked arrays (:meth:`cotation.data.table.DemandeTable.from_arrow`): no
Python object per demande is made unless a consumer asks for the lists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.schema import COLUMNS, COLUMNS_BY_NAME, Column, Kind
from cotation.data.table import (
    DemandeTable, LineNumbers, ReadResult, Reject, StrictModeError, arrow_type, arrow_values,
)
from cotation.data.values import ValueParseError

from cotation.data.parallel import CHECKS_PARALLEL_FROM, map_columns
from cotation.data.split import Records, is_text, single
from cotation.data.vector import (
    _BY_UNIQUE_KINDS, FieldSpec, ItemCodes, Parsed, _column, _np, cell_bytes, vector_parse,
)
from cotation.i18n import _

JOIN = "\x1f"  # joins the cells of a field read from several source columns


@dataclass
class AdapterResult(ReadResult):
    """A :class:`cotation.data.table.ReadResult` with what the adapter saw of the source."""

    source_format: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # Canonical columns the source provides (None: not known; in SNE XML, those its
    # elements can give, each optional per demande) and code cells left-padded to 5 digits,
    # per column.
    source_columns: list[str] | None = None
    padded: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["format"] = self.source_format
        out.update(self.details)
        if self.padded:
            out["padded"] = dict(self.padded)
        return out


def _empty_array(kind: Kind, n: int) -> pa.Array:
    t = arrow_type(kind)
    if pa.types.is_list(t):
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)),
                                        pa.array([], pa.string()))
    return pa.nulls(n, t)


def field_input(records: Records, spec: FieldSpec) -> pa.Array:
    """The source text (or typed values) of a field; a null text cell is an empty one (the
    checks of codes and communes read nulls as such: no copy of the column is made)."""
    if len(spec.sources) == 1 and spec.kind in _BY_UNIQUE_KINDS:
        return single(records.columns[spec.sources[0]])
    cols = [_filled(records.columns[i]) for i in spec.sources]
    return single(cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, JOIN))


def _filled(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if arr.null_count and is_text(arr.type):
        return arr.fill_null("")
    return arr


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


def _patched_codes(codes: ItemCodes, before: pa.Array, after: pa.Array,
                   rows: list[int]) -> ItemCodes:
    """The item codes of list column ``after``, ``before`` with ``rows`` replaced: the
    replaced rows' items are appended to the dictionary (an entry may repeat a value)."""
    new_rows = after.take(pa.array(rows, pa.int64()))
    new_items = pc.list_flatten(new_rows)
    start = len(codes.dictionary)

    def make() -> np.ndarray:
        offsets = _np(before.offsets)
        old = pa.ListArray.from_arrays(pa.array(offsets - offsets[0], pa.int32()),
                                       pa.array(codes.indices, pa.int32()))
        new_offsets = _np(new_rows.offsets)
        new = pa.ListArray.from_arrays(
            pa.array(new_offsets - new_offsets[0], pa.int32()),
            pa.array(np.arange(start, start + len(new_items), dtype=np.int32)))
        idx = np.arange(len(before), dtype=np.int64)
        idx[np.asarray(rows, dtype=np.int64)] = len(before) + np.arange(len(rows), dtype=np.int64)
        return _np(pc.list_flatten(pa.concat_arrays([old, new]).take(pa.array(idx))))

    return ItemCodes(pa.concat_arrays([codes.dictionary.cast(pa.string()),
                                       new_items.cast(pa.string())]), make=make)


@dataclass
class Checked:
    """Fields of some records, checked: the values of the rows not rejected are exactly what
    the scalar parsers give; ``rejects`` holds one per rejected row (its first bad field)."""

    values: dict[str, pa.Array]        # per field, of the canonical Arrow type
    inputs: list[pa.Array]             # per field, the source text (or typed values)
    rejects: list[Reject]
    rejected: np.ndarray               # bool per record
    lead: list[Any]                    # results of the ``lead`` tasks
    items: dict[str, ItemCodes] = field(default_factory=dict)   # list fields' item codes


# Relative cost of checking a column of each kind (CPU, 1M rows of the canonical CSV, 2026-12-06:
# localisations 69 ms, sets 35-66, dates 19-29, free text 17-31, codes 18-24, decimals 20-23,
# booleans 17, whole numbers 11-17): the order columns are checked in.
_CHECK_COST = {Kind.COMMUNES: 5, Kind.CODESET: 4, Kind.DATE: 2, Kind.TEXT: 2, Kind.CODE: 2,
               Kind.COMMUNE: 2, Kind.DECIMAL: 2}


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
        return arr, Parsed(_empty_array(spec.kind, n), np.zeros(n, dtype=bool))

    # the longest checks first, so that no thread is left with a long one at the end
    order = sorted(range(len(fields)), key=lambda i: -_CHECK_COST.get(fields[i].kind, 1))
    tasks: list[Callable[[], Any]] = [*lead, *(lambda s=fields[i]: check(s) for i in order)]
    results = map_columns(lambda task: task(), tasks, n, parallel_from=CHECKS_PARALLEL_FROM)
    lead_out = results[:len(lead)]
    done = [out for _, out in sorted(zip(order, results[len(lead):]), key=lambda p: p[0])]
    inputs = [arr for arr, _parsed in done]
    values: dict[str, pa.Array] = {}
    goods: dict[str, np.ndarray] = {}
    items: dict[str, ItemCodes] = {}
    ok = np.ones(n, dtype=bool)
    for spec, (_arr, (v, good, codes)) in zip(fields, done):
        ok &= good
        values[spec.name] = v
        goods[spec.name] = good
        if codes is not None:
            items[spec.name] = codes

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
                before = values[spec.name]
                values[spec.name] = _patched(_column(spec), before, rows, vals)
                if spec.name in items:
                    items[spec.name] = _patched_codes(items[spec.name], before,
                                                      values[spec.name], rows)
    return Checked(values, inputs, rejects, rejected, lead_out, items)


def _same_cells(values: pa.Array, text: pa.Array) -> bool:
    """Whether ``values`` is ``text`` with some cells made null: the same offsets and bytes
    (the free-text check keeps the input's buffers), so every non-null value is its text."""
    if values.type != pa.string() or text.type != pa.string() or len(values) != len(text) \
            or values.offset != text.offset:
        return False
    a, b = values.buffers(), text.buffers()
    return all(x is not None and y is not None and x.address == y.address and x.size == y.size
               for x, y in zip(a[1:], b[1:]))


def string_order(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Row indices sorting the strings ``arr`` as ``pc.sort_indices`` does (byte order,
    stable, nulls last): by :func:`_fixed_width_order` when it applies, else by Arrow."""
    return sorted_strings(arr)[0]


def sorted_strings(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """(:func:`string_order` of ``arr``, and when the packed sort applied, the packed keys in
    that order: equal adjacent keys are equal adjacent strings, so duplicates are found
    without gathering the strings; None otherwise)."""
    arr = single(arr)
    packed = _fixed_width_order(arr, keys=True)
    if packed is not None:
        return packed
    return _np(pc.sort_indices(arr)), None


def _fixed_width_order(arr: pa.Array, *, keys: bool = False
                       ) -> np.ndarray | tuple[np.ndarray, np.ndarray] | None:
    """When every value of ``arr`` (``string``, no nulls) has the same byte length and the
    bytes at each position span ranges whose product fits in 64 bits (numero_unique: 18
    characters, digits and one letter), each value packs into one unsigned integer, mixed
    radix, position by position: integers in the strings' byte order, sorted by numpy's
    (unstable, vectorised) argsort, then each run of equal keys put back in row order, which
    is the stable order (0.05 s for 1M against 0.4 s for Arrow's sort of the strings).
    ``keys=True``: (order, the keys in that order). None when it does not apply."""
    n = len(arr)
    if n < 2 or arr.null_count or arr.type != pa.string():
        return None
    lengths, body = cell_bytes(arr)
    width = int(lengths[0])
    if width == 0 or not (lengths == width).all():
        return None
    data = body.reshape(n, width)
    lo, hi = _column_extremes(data)
    radix = [h - lo_j + 1 for h, lo_j in zip(hi, lo)]
    if math.prod(radix) > 1 << 64:
        return None
    key = np.zeros(n, dtype=np.uint64)
    for j, r in enumerate(radix):
        if r > 1:                           # a byte all values share does not order them
            key *= np.uint64(r)
            key += data[:, j] - np.uint8(lo[j])
    order = np.argsort(key)
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    if same.any():
        # rows of equal keys in ascending row order, as a stable sort leaves them
        start = np.ones(n, dtype=bool)
        start[1:] = ~same
        pos = np.flatnonzero(~start | np.append(~start[1:], False))
        run = np.cumsum(start)[pos]
        order[pos] = order[pos][np.lexsort((order[pos], run))]
    return (order, ordered) if keys else order


def _column_extremes(data: np.ndarray) -> tuple[list[int], list[int]]:
    """Per column of a C-ordered 2-d array, (minimums, maximums). Blocks of 64 rows side by
    side make each reduction run over long rows (0.001 s for 1M x 18 bytes, against 0.016 s
    for ``min(axis=0)``, which walks 18 short columns)."""
    n, width = data.shape
    k = 64
    m = n - n % k
    lo = data[m:].min(axis=0) if m < n else np.full(width, 255, np.uint8)
    hi = data[m:].max(axis=0) if m < n else np.zeros(width, np.uint8)
    if m:
        block = data[:m].reshape(m // k, k * width)
        lo = np.minimum(lo, block.min(axis=0).reshape(k, width).min(axis=0))
        hi = np.maximum(hi, block.max(axis=0).reshape(k, width).max(axis=0))
    return lo.tolist(), hi.tolist()


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
        lead.append(lambda: sorted_strings(nu_raw.cast(pa.string())))
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
        same = nu_sorted is not None and nu_input.type == pa.string() and (
            _same_cells(nu_text, nu_input) or pc.all(
                pc.or_kleene(pc.equal(nu_text, nu_input), pa.array(rejected))).as_py())
        keys = None
        if same:
            # the sort of the source text, on the rows standing (values equal the text there)
            order, keys = nu_sorted
            standing_sorted = ~rejected[order]
            nu_order = order[standing_sorted]
            if keys is not None:
                keys = keys[standing_sorted]
        else:
            nu_order = standing[string_order(nu_text.take(pa.array(standing)))]
        same_as_previous = np.zeros(len(nu_order), dtype=bool)
        if len(nu_order) > 1:
            if keys is not None:     # packed keys: equal keys are equal strings
                same_as_previous[1:] = keys[1:] == keys[:-1]
            else:
                ordered = nu_text.take(pa.array(nu_order))
                same_as_previous[1:] = _np(pc.equal(ordered.slice(1),
                                                    ordered.slice(0, len(ordered) - 1)))
        if same_as_previous.any():
            # equal values are adjacent: the earliest row of each run is the one kept
            starts = np.flatnonzero(~same_as_previous)
            first = np.minimum.reduceat(nu_order, starts)[np.cumsum(~same_as_previous) - 1]
            dup = np.flatnonzero(nu_order != first)
            for i, f, nu in zip(nu_order[dup].tolist(), first[dup].tolist(),
                                nu_text.take(pa.array(nu_order[dup])).to_pylist()):
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
    item_codes: dict[str, ItemCodes] = {}
    for col in COLUMNS:
        if col.name in values:
            arr = of_type(values[col.name], arrow_type(col.kind))
            codes = checked.items.get(col.name)
            if codes is not None and keep_arr is not None:
                codes = codes.of_rows(_np(pc.list_value_length(arr).fill_null(0)), keep)
            if codes is not None:
                item_codes[col.name] = codes
            columns[col.name] = kept(arr)
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
    # duplicated numero_unique are rejected above: the values kept are all different
    table = DemandeTable.from_arrow(columns, extra_cols, n_keep, LineNumbers(lines[keep]), orders,
                                    item_codes, distinct=list(orders))
    return table, rejects

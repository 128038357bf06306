"""Any in-memory demande source as an Arrow table, and an Arrow table as canonical cells.

:func:`to_arrow` turns a pyarrow Table, RecordBatch or RecordBatchReader, anything exposing the
Arrow PyCapsule stream interface (``__arrow_c_stream__``: polars, DuckDB, recent pandas), a
pandas DataFrame, a dict of columns (lists or numpy arrays) or a list of dicts into one
``pyarrow.Table``. :func:`records_from_arrow` then writes each column as the text of canonical
CSV cells, column by column with Arrow kernels, so that every source is read by the same
vectorised parsers and rules as the canonical CSV (``cotation.data.build``). A value gives the
same row, value or reject whatever holds it (a list of dicts, a dict of lists, pandas, polars,
an Arrow table or stream) and whatever its neighbours in its column:

- missing: ``None``, null, NaN (a float NaN, in any column), NaT, ``pandas.NA``, an empty
  string. An infinite float (``inf``, ``-inf``) is not missing: it is a reject, in a decimal
  column as the CSV cell ``inf`` is (``'inf' is not a decimal number``), in any other as the
  number it is;
- codes are text: an INSEE commune column that arrives as integers (what DataFrame readers
  infer from ``06088``) is left-padded to 5 digits and counted (``padded``); a float in a code,
  text or date column is a reject, since ``6088.0`` is not a code: a whole one too, and the
  same float in a column that also holds text (each cell is read by the rule of its type);
- integer columns accept whole floats (a column with gaps in pandas) and reject the others;
  decimal columns stay floats and are range-checked like CSV cells;
- a Python integer beyond 64 bits is its digits: a reject (out of range) in a number column,
  text in a text column, as an ``int64`` there would be;
- dates and timestamps at midnight are dates; booleans are booleans; lists are ``|``-joined;
- a grid's local fields (``local``: name -> :class:`~cotation.data.schema.Column` of the kind
  the grid declares) follow the rules of their kind, ``commune`` padding included; their cells
  stay text, parsed when the grid is scored.

A column that mixes types (text and numbers, from a list of dicts or a pandas ``object``
column) becomes a dense union of one child per type, read child by child by the rules above.
A source that is not a table of demandes (one dict, a pandas or polars Series, a column of
scalars in a dict of columns) is a :class:`SourceTypeError`; a column named twice is the
:class:`~cotation.data.table.HeaderError` a CSV header gets.

Lines of rejects are row numbers counted from 1 (the pandas position + 1).
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.schema import COLUMNS_BY_NAME, Column, Kind
from cotation.i18n import _
from cotation.data.split import Records, single
from cotation.data.table import DemandeTable, Reject
from cotation.data.values import MULTI_SEPARATOR

# Kinds whose values are text: a number with decimals in them is a reject, not a value.
_TEXT_KINDS = (Kind.TEXT, Kind.CODE, Kind.COMMUNE, Kind.COMMUNES, Kind.DATE, Kind.CODESET)


class SourceTypeError(TypeError):
    """A source, or one of its columns, that no canonical column can be read from."""


@dataclass
class ArrowRecords:
    """Canonical cells of an Arrow table: the rows to parse, the rows already rejected (a
    value of the wrong shape) and how many code cells were left-padded, per column."""

    records: Records
    rejects: list[Reject]
    padded: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------ any source

_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def to_arrow(data: Any, local: Mapping[str, Column] | None = None) -> pa.Table:
    """One ``pyarrow.Table`` from any supported in-memory source (see the module docstring).
    ``local``: the grid's local fields (their kind decides how a list of codes given as
    Python values is written)."""
    kinds = {**(local or {}), **COLUMNS_BY_NAME}
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, DemandeTable):
        raise SourceTypeError(_("a DemandeTable is already canonical: it is not read again"))
    if isinstance(data, (pa.Array, pa.ChunkedArray)) or (
            _module(data) in ("pandas", "polars") and not hasattr(type(data), "columns")):
        raise SourceTypeError(_(
            "cannot read demandes from {type}: it is one column (or one row), not a table; "
            "pass a DataFrame").format(type=type(data).__name__))
    if _module(data) == "pandas":
        return _from_pandas(data, kinds)
    if _module(data) == "polars" and hasattr(data, "get_columns"):
        series = data.get_columns()
        if any(_polars_python(s) for s in series):
            return _from_columns([(str(s.name), s) for s in series], kinds)
    if isinstance(data, Mapping):
        return _from_columns([(str(k), v) for k, v in data.items()], kinds)
    if isinstance(data, (list, tuple)):
        keys: dict[Any, None] = {}
        for rec in data:
            if not isinstance(rec, Mapping):
                raise SourceTypeError(_("a list of demandes holds dicts, not {type}")
                                      .format(type=type(rec).__name__))
            keys.update(dict.fromkeys(rec))
        return _from_columns([(str(k), [rec.get(k) for rec in data]) for k in keys], kinds)
    if hasattr(data, "__arrow_c_stream__"):
        try:
            return pa.RecordBatchReader.from_stream(data).read_all()
        except (pa.ArrowException, TypeError, ValueError) as exc:
            if _module(data) == "polars" and hasattr(data, "get_columns"):
                # a type pyarrow cannot import (Int128, Object): column by column, such a
                # column as Python values
                return _from_columns([(str(s.name), s) for s in data.get_columns()], kinds)
            raise SourceTypeError(_("cannot read demandes from {type}: {problem}").format(
                type=type(data).__name__, problem=exc)) from None
    raise SourceTypeError(_(
        "cannot read demandes from {type}; expected a file path, a DemandeTable, a pandas or "
        "polars DataFrame, a pyarrow Table or RecordBatchReader, an object with "
        "__arrow_c_stream__, a dict of columns or a list of dicts").format(type=type(data).__name__))


def _polars_python(series: Any) -> bool:
    """Whether a polars column is exported as Python values: objects (a column mixing types)
    and 128-bit integers have no Arrow type pyarrow imports."""
    return str(series.dtype) in ("Object", "Int128", "UInt128")


def _from_pandas(df: Any, kinds: Mapping[str, Column]) -> pa.Table:
    names = [str(c) for c in df.columns]
    if len(set(names)) == len(names):
        try:
            table = pa.Table.from_pandas(df, preserve_index=False)
            return table.rename_columns(names)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                OverflowError):
            pass
    # Mixed-type object columns (or a name used twice: the header check reports it): column
    # by column, the odd ones value by value.
    return _from_columns([(n, df.iloc[:, i]) for i, n in enumerate(names)], kinds)


def _is_column(values: Any) -> bool:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return True
    if isinstance(values, (str, bytes, Mapping, set, frozenset)) or not hasattr(values, "__len__"):
        return False
    return getattr(values, "ndim", 1) == 1


def _from_columns(cols: list[tuple[str, Any]], kinds: Mapping[str, Column]) -> pa.Table:
    for name, v in cols:
        if not _is_column(v):
            raise SourceTypeError(_(
                "column {name}: {type} is not a list or a one-dimensional array (a dict of "
                "columns holds one per column; one demande is a list of one dict)").format(
                    name=name, type=type(v).__name__))
    lengths = {len(v) for _name, v in cols}
    if len(lengths) > 1:
        raise SourceTypeError(_("columns of unequal length: {lengths}")
                              .format(lengths=sorted(lengths)))
    arrays = [_as_array(v, kinds.get(name)) for name, v in cols]
    return pa.Table.from_arrays(arrays, names=[name for name, _v in cols]) if arrays \
        else pa.table({})


def _as_array(values: Any, col: Column | None) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    if _module(values) == "polars":
        if not _polars_python(values):
            try:
                return pa.array(values.to_arrow())
            except (pa.ArrowException, TypeError, ValueError):
                pass
        values = values.to_list()
    elif _module(values) == "pandas":
        values = values.to_numpy(dtype=object) if values.dtype == object else values.to_numpy()
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
            ValueError, OverflowError):
        arr = None
    if arr is not None:
        return arr
    return _python_cells(col, list(values))


def _python_cell(col: Column | None, v: Any) -> Any:
    """A Python value as the text of a canonical cell (a list's items: a list of communes's
    integers left-padded, a set in the enumeration's order)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        if col is not None and col.kind in (Kind.COMMUNE, Kind.COMMUNES) and 0 <= v < 10000:
            return f"{int(v):05d}"
        if int(v).bit_length() > 10_000:
            # str() refuses over 4,300 digits; decimal writes every digit (a number column
            # then rejects it as out of range, a text column keeps the digits)
            import decimal
            return format(decimal.Decimal(int(v)), "f")
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else repr(float(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else str(v.astype("datetime64[D]"))
    if isinstance(v, (set, frozenset, list, tuple, np.ndarray)):
        item_col = COLUMNS_BY_NAME["commune_residence"] if col is not None \
            and col.kind is Kind.COMMUNES else None
        items = [_python_cell(item_col, x) for x in v]
        if col is not None and col.enum is not None and isinstance(v, (set, frozenset)):
            items.sort(key=lambda x: col.enum.index(x) if x in col.enum else len(col.enum))
        return MULTI_SEPARATOR.join(str(x) for x in items if x is not None)
    try:
        if v != v:   # NaT, pandas.NA
            return None
    except (TypeError, ValueError):
        return None
    return str(v)


def _missing(v: Any) -> bool:
    """None, NaN, NaT, ``pandas.NA``."""
    if v is None:
        return True
    if isinstance(v, (str, bytes, list, tuple, set, frozenset, Mapping, np.ndarray)):
        return False
    try:
        return bool(v != v)
    except (TypeError, ValueError):
        return True


def _cell_type(v: Any) -> int:
    """Which child of a mixed column holds ``v``: 0 text (and missing), 1 integer, 2 float,
    3 timestamp, 4 date."""
    if v is None or isinstance(v, (bool, np.bool_, str)):
        return 0
    if isinstance(v, (int, np.integer)):
        return 1 if _INT64[0] <= v <= _INT64[1] else 0
    if isinstance(v, (float, np.floating)):
        return 2
    if isinstance(v, (dt.datetime, np.datetime64)):
        return 3
    if isinstance(v, dt.date):
        return 4
    return 0


def _python_cells(col: Column | None, values: list) -> pa.Array:
    """A column that ``pyarrow.array`` cannot type (text and numbers mixed, an integer beyond
    64 bits, odd objects): numbers, timestamps and dates keep their type, everything else
    becomes its text, and a column holding several of these is a dense union of them, so that
    each cell is read by the rule of its own type (:func:`column_cells`), whatever its
    neighbours."""
    values = [None if _missing(v) else v for v in values]
    types = [_cell_type(v) for v in values]
    present = sorted(set(types))
    groups: dict[int, list] = {t: [] for t in present}
    offsets = np.empty(len(values), dtype=np.int32)
    for i, (t, v) in enumerate(zip(types, values)):
        offsets[i] = len(groups[t])
        groups[t].append(v)
    children = [_child(t, groups[t], col) for t in present]
    if len(children) == 1:
        return children[0]
    codes = np.asarray(types, dtype=np.int8)
    return pa.UnionArray.from_dense(pa.array(codes, pa.int8()), pa.array(offsets, pa.int32()),
                                    children, [str(t) for t in present], present)


def _child(t: int, values: list, col: Column | None) -> pa.Array:
    if t == 1:
        return pa.array([int(v) for v in values], pa.int64())
    if t == 2:
        return pa.array([float(v) for v in values], pa.float64(), from_pandas=True)
    if t in (3, 4):
        try:
            return pa.array(values, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
    return pa.array([_python_cell(col, v) for v in values], pa.string())


# ------------------------------------------------------------------------------ columns

def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or (
        hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t))


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) \
        or (hasattr(pa.types, "is_list_view") and pa.types.is_list_view(t))


@dataclass
class _Cells:
    array: pa.Array                       # string, or float64 for a decimal column
    bad: np.ndarray | None = None         # rows whose value has the wrong shape
    reason: str | np.ndarray = ""         # or one per row (a mixed column: per child)
    padded: int = 0

    def reason_of(self, i: int) -> str:
        return self.reason if isinstance(self.reason, str) else self.reason[i]


def column_cells(name: str, col: Column | None, arr: pa.Array) -> _Cells:
    """One column as canonical cells (text, or floats for a decimal column)."""
    t = arr.type
    kind = col.kind if col is not None else Kind.TEXT
    if pa.types.is_dictionary(t):
        return column_cells(name, col, arr.cast(t.value_type))
    if pa.types.is_null(t):
        return _Cells(pa.array([""] * len(arr), pa.string()))
    if _is_text(t):
        text = arr.cast(pa.string()) if t != pa.string() else arr
        return _Cells(text.fill_null("") if text.null_count else text)
    if pa.types.is_boolean(t):
        return _Cells(pc.if_else(arr, "true", "false").fill_null(""))
    if pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale == 0):
        # (a decimal of scale 0 holds whole numbers, 128-bit ones included: their digits)
        text = arr.cast(pa.string())
        if kind not in (Kind.COMMUNE, Kind.COMMUNES):
            return _Cells(text.fill_null(""))
        short = pc.and_(pc.greater_equal(arr, 0), pc.less(arr, 10000))
        padded = int(pc.sum(short).as_py() or 0)
        return _Cells(pc.if_else(short, pc.utf8_lpad(text, 5, "0"), text).fill_null(""),
                      padded=padded)
    if pa.types.is_decimal(t):
        return column_cells(name, col, arr.cast(pa.float64()))
    if pa.types.is_floating(t):
        if t != pa.float64():
            arr = arr.cast(pa.float64())
        nan = pc.is_nan(arr)
        if pc.any(nan).as_py():          # NaN is missing, as pandas makes it (from_pandas)
            arr = pc.if_else(nan, pa.scalar(None, pa.float64()), arr)
        if kind is Kind.DECIMAL:
            return _Cells(arr)
        text = arr.cast(pa.string()).fill_null("")
        if col is None or kind not in _TEXT_KINDS:
            return _Cells(text)   # integers and booleans: '3' is read, '3.5' is a reject
        bad = pc.is_valid(arr).to_numpy(zero_copy_only=False)
        return _Cells(text, bad, _("is a number, not {what}: read column {name} as text (e.g. "
                                   "dtype=str)").format(what=_what(col), name=name))
    if pa.types.is_date(t):
        return _Cells(arr.cast(pa.date32()).cast(pa.string()).fill_null(""))
    if pa.types.is_timestamp(t):
        return _timestamps(name, arr)
    if _is_list(t):
        return _lists(name, col, arr)
    if pa.types.is_union(t):
        return _union(name, col, arr)
    try:
        return _Cells(arr.cast(pa.string()).fill_null(""))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise SourceTypeError(_("column {name}: values of type {type} cannot be read")
                              .format(name=name, type=t)) from None


def _what(col: Column) -> str:
    return {Kind.COMMUNE: _("an INSEE commune code"), Kind.COMMUNES: _("a list of INSEE codes"),
            Kind.DATE: _("a date YYYY-MM-DD"), Kind.CODE: _("a value of {name}").format(name=col.name),
            Kind.CODESET: _("values of {name}").format(name=col.name)}.get(col.kind, _("text"))


def _timestamps(name: str, arr: pa.Array) -> _Cells:
    if arr.type.tz is not None:
        arr = arr.cast(pa.timestamp(arr.type.unit))
    days = arr.cast(pa.date32(), safe=False)
    midnight = pc.equal(days.cast(arr.type), arr)
    text = pc.if_else(midnight, days.cast(pa.string()), arr.cast(pa.string())).fill_null("")
    bad = pc.invert(midnight).fill_null(False).to_numpy(zero_copy_only=False)
    return _Cells(text, bad if bad.any() else None, _("has a time of day, not a date YYYY-MM-DD"))


def _lists(name: str, col: Column | None, arr: pa.Array) -> _Cells:
    if not pa.types.is_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    item_col = COLUMNS_BY_NAME["commune_residence"] if col is not None \
        and col.kind is Kind.COMMUNES else col
    flat = pc.list_flatten(arr)
    offsets = arr.offsets.to_numpy(zero_copy_only=False)
    items = column_cells(name, item_col, flat)
    values = items.array if _is_text(items.array.type) else items.array.cast(pa.string())
    rebuilt = pa.ListArray.from_arrays(pa.array(offsets - offsets[0], pa.int32()),
                                       values.fill_null(""))
    text = pc.if_else(pc.is_valid(arr), pc.binary_join(rebuilt, MULTI_SEPARATOR), "")
    bad, reason = None, items.reason
    if items.bad is not None and items.bad.any():
        parents = pc.list_parent_indices(rebuilt).to_numpy(zero_copy_only=False)
        bad = np.zeros(len(arr), dtype=bool)
        bad[parents[items.bad]] = True
        if not isinstance(reason, str):        # a list of mixed items: its first bad one's
            first = np.flatnonzero(items.bad)[::-1]
            reason = np.full(len(arr), "", dtype=object)
            reason[parents[first]] = items.reason[first]
    return _Cells(text, bad, reason, items.padded)


def _union(name: str, col: Column | None, arr: pa.Array) -> _Cells:
    """A column mixing types (:func:`_python_cells`): each child's cells by the rules of its
    type, put back in row order."""
    n = len(arr)
    if n == 0:
        return _Cells(pa.array([], pa.string()))
    buffers = arr.buffers()
    codes = np.frombuffer(buffers[1], np.int8)[arr.offset:arr.offset + n]
    dense = arr.type.mode == "dense"
    at = np.frombuffer(buffers[2], np.int32)[arr.offset:arr.offset + n] if dense \
        else np.arange(n)
    parts: list[pa.Array] = []
    bads: list[np.ndarray] = []
    reasons: list[np.ndarray] = []
    padded, start = 0, 0
    where = np.empty(n, dtype=np.int64)        # each row's cell in the concatenated parts
    for k, code in enumerate(arr.type.type_codes):
        rows = np.flatnonzero(codes == code)
        if not rows.size:
            continue
        cells = column_cells(name, col, arr.field(k).take(pa.array(at[rows])))
        text = cells.array if _is_text(cells.array.type) else cells.array.cast(pa.string())
        parts.append(text.fill_null("") if text.null_count else text)
        bads.append(cells.bad if cells.bad is not None else np.zeros(rows.size, dtype=bool))
        reasons.append(np.full(rows.size, cells.reason, dtype=object)
                       if isinstance(cells.reason, str) else np.asarray(cells.reason, object))
        padded += cells.padded
        where[rows] = start + np.arange(rows.size)
        start += rows.size
    text = pa.concat_arrays(parts).take(pa.array(where))
    bad = np.concatenate(bads)[where]
    return _Cells(text, bad if bad.any() else None, np.concatenate(reasons)[where], padded)


def _native(col: Column, t: pa.DataType) -> bool:
    """Whether a column of type ``t`` is already of ``col``'s canonical Arrow type (or an
    integer type that widens to int64 exactly): it is then checked as it is, not as text."""
    kind = col.kind
    if kind is Kind.INT:
        return pa.types.is_integer(t) and t != pa.uint64()
    if kind is Kind.BOOL:
        return pa.types.is_boolean(t)
    if kind is Kind.DATE:
        return pa.types.is_date32(t)
    if kind in (Kind.CODESET, Kind.COMMUNES):
        return t == pa.list_(pa.string())
    return False


def records_from_arrow(table: pa.Table,
                       schema: Mapping[str, Column] = COLUMNS_BY_NAME,
                       local: Mapping[str, Column] | None = None) -> ArrowRecords:
    """The canonical cells of ``table``'s rows, lines numbered from 1: text, floats for
    decimal columns, and columns already of their canonical Arrow type as they are.
    ``schema``: the columns by name (the demandes'; the attributions' for leases);
    ``local``: a grid's local fields, read by the rules of their kind into text cells."""
    local = local or {}
    n = table.num_rows
    header = [str(h) for h in table.column_names]
    columns: list[pa.Array] = []
    bad_rows = np.zeros(n, dtype=bool)
    flagged: list[tuple[str, _Cells]] = []
    padded: dict[str, int] = {}
    for name, chunked in zip(header, table.columns):
        arr = single(chunked)
        col = schema.get(name)
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        if arr.type == pa.string() or (col is not None and _native(col, arr.type)):
            columns.append(arr)      # checked as it is by cotation.data.build (null: empty)
            continue
        if col is None and name in local:
            cells = column_cells(name, local[name], arr)
            if not _is_text(cells.array.type):     # a decimal local field: its text
                cells.array = cells.array.cast(pa.string())
        else:
            cells = column_cells(name, col, arr)
        columns.append(cells.array)
        if cells.padded:
            padded[name] = cells.padded
        if cells.bad is not None and cells.bad.any():
            bad_rows |= cells.bad
            flagged.append((name, cells))
    lines = np.arange(1, n + 1, dtype=np.int64)
    rejects: list[Reject] = []
    if bad_rows.any():
        rows = np.flatnonzero(bad_rows)
        nu = (columns[header.index("numero_unique")].take(pa.array(rows)).to_pylist()
              if "numero_unique" in header else [""] * rows.size)
        first: dict[int, tuple[str, _Cells]] = {}
        for name, cells in flagged:          # header order: the first bad column wins
            for i in np.flatnonzero(cells.bad).tolist():
                first.setdefault(i, (name, cells))
        for k, i in enumerate(rows.tolist()):
            name, cells = first[i]
            value = cells.array[i].as_py()
            value = "" if value is None else str(value)
            rejects.append(Reject(i + 1, name, value, _("'{value}' {reason}").format(
                                      value=value, reason=cells.reason_of(i)),
                                  str(nu[k] or "").strip()))
        keep = pa.array(np.flatnonzero(~bad_rows))
        columns = [c.take(keep) for c in columns]
        lines = lines[~bad_rows]
    records = Records(header, columns, lines)
    return ArrowRecords(records, rejects, padded)

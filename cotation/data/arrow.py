"""Any in-memory demande source as an Arrow table, and an Arrow table as canonical cells.

:func:`to_arrow` turns a pyarrow Table, RecordBatch or RecordBatchReader, anything exposing the
Arrow PyCapsule stream interface (``__arrow_c_stream__``: polars, DuckDB, recent pandas), a
pandas DataFrame, a dict of columns (lists or numpy arrays) or a list of dicts into one
``pyarrow.Table``. :func:`records_from_arrow` then writes each column as the text of canonical
CSV cells, column by column with Arrow kernels, so that every source is read by the same
vectorised parsers and rules as the canonical CSV (``cotation.data.build``):

- codes are text: an INSEE commune column that arrives as integers (what DataFrame readers
  infer from ``06088``) is left-padded to 5 digits and counted (``padded``); a number with
  decimals in a code, text or date column is a reject, since ``6088.0`` is not a code;
- integer columns accept whole floats (a column with gaps in pandas) and reject the others;
  decimal columns stay floats and are range-checked like CSV cells;
- dates and timestamps at midnight are dates; booleans are booleans; lists are ``|``-joined.

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

def _module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def to_arrow(data: Any) -> pa.Table:
    """One ``pyarrow.Table`` from any supported in-memory source (see the module docstring)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, DemandeTable):
        raise SourceTypeError("a DemandeTable is already canonical: it is not read again")
    if _module(data) == "pandas" and hasattr(data, "columns"):
        return _from_pandas(data)
    if isinstance(data, Mapping):
        return _from_columns({str(k): v for k, v in data.items()})
    if isinstance(data, (list, tuple)):
        names: dict[str, None] = {}
        for rec in data:
            if not isinstance(rec, Mapping):
                raise SourceTypeError(f"a list of demandes holds dicts, not {type(rec).__name__}")
            names.update(dict.fromkeys(str(k) for k in rec))
        return _from_columns({k: [rec.get(k) for rec in data] for k in names})
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data).read_all()
    raise SourceTypeError(
        f"cannot read demandes from {type(data).__name__}; expected a file path, a DemandeTable, "
        "a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader, an object with "
        "__arrow_c_stream__, a dict of columns or a list of dicts")


def _from_pandas(df: Any) -> pa.Table:
    names = [str(c) for c in df.columns]
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
        return table.rename_columns(names)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    # Mixed-type object columns: column by column, the odd ones value by value.
    return _from_columns({n: df.iloc[:, i] for i, n in enumerate(names)})


def _from_columns(cols: dict[str, Any]) -> pa.Table:
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise SourceTypeError(f"columns of unequal length: {sorted(lengths)}")
    arrays = [_as_array(name, v) for name, v in cols.items()]
    return pa.Table.from_arrays(arrays, names=list(cols)) if arrays else pa.table({})


def _as_array(name: str, values: Any) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    if _module(values) in ("polars",):
        return pa.array(values.to_arrow())
    if _module(values) == "pandas":
        values = values.to_numpy(dtype=object) if values.dtype == object else values.to_numpy()
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
            ValueError):
        arr = None
    if arr is not None:
        return arr
    return _python_cells(COLUMNS_BY_NAME.get(name), list(values))


def _python_cell(col: Column | None, v: Any) -> Any:
    """A Python value as the text of a canonical cell, or a float kept as it is (so the
    column rules below apply to it)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        if col is not None and col.kind in (Kind.COMMUNE, Kind.COMMUNES) and 0 <= v < 10000:
            return f"{int(v):05d}"
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
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


def _python_cells(col: Column | None, values: list) -> pa.Array:
    cells = [_python_cell(col, v) for v in values]
    if any(isinstance(c, float) for c in cells):
        if all(c is None or isinstance(c, float) for c in cells):
            return pa.array(cells, pa.float64())
        # Text and numbers mixed: each number becomes its text, a decimal one a reject below.
        cells = [_float_text(c) if isinstance(c, float) else c for c in cells]
    return pa.array(cells, pa.string())


def _float_text(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 2 ** 53 else repr(x)


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
    reason: str = ""
    padded: int = 0


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
    if pa.types.is_integer(t):
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
        if kind is Kind.DECIMAL:
            return _Cells(arr.cast(pa.float64()))
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
    bad = None
    if items.bad is not None and items.bad.any():
        parents = pc.list_parent_indices(rebuilt).to_numpy(zero_copy_only=False)
        bad = np.zeros(len(arr), dtype=bool)
        bad[parents[items.bad]] = True
    return _Cells(text, bad, items.reason, items.padded)


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
                       schema: Mapping[str, Column] = COLUMNS_BY_NAME) -> ArrowRecords:
    """The canonical cells of ``table``'s rows, lines numbered from 1: text, floats for
    decimal columns, and columns already of their canonical Arrow type as they are.
    ``schema``: the columns by name (the demandes'; the attributions' for leases)."""
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
                                      value=value, reason=cells.reason),
                                  str(nu[k] or "").strip()))
        keep = pa.array(np.flatnonzero(~bad_rows))
        columns = [c.take(keep) for c in columns]
        lines = lines[~bad_rows]
    records = Records(header, columns, lines)
    return ArrowRecords(records, rejects, padded)

"""Encoding one column for the kernels, whatever container it comes in (DemandeTable lists, numpy
arrays, pandas or polars series, pyarrow arrays): booleans, numbers, dates, factorized strings
and lists of codes. Errors name the column and the row.
"""
from __future__ import annotations

import datetime as dt
import math
import numpy as np
from dataclasses import dataclass
from typing import Any

from cotation.data.table import DemandeTable
from cotation.data.values import (
    FALSE_WORDS, MAX_MAGNITUDE, MULTI_SEPARATOR, TRUE_WORDS, ValueParseError, parse_date,
)
from cotation.engine.compiled.plan import DMISS

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class DataError(ValueError):
    """Input data that cannot be encoded (named column and row)."""


# ------------------------------------------------------------------------------ containers

def _module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


_ARROW_FROM = 4096   # typed Python columns at least this long go through Arrow


def _typed_arrow(x: Any, type_name: str):
    """A typed Python column (values of one type or None) as an Arrow array of
    ``type_name``, built in C; None when it is short or holds anything else (the Python
    loops then give the exact message)."""
    if not isinstance(x, list) or len(x) < _ARROW_FROM:
        return None
    import pyarrow as pa
    try:
        return pa.array(x, getattr(pa, type_name)(), from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
            ValueError, OverflowError):
        return None


def _is_arrow(x: Any) -> bool:
    return _module(x) == "pyarrow"


def _arrow_array(x: Any):
    """A single pyarrow Array from an Array or ChunkedArray."""
    if hasattr(x, "combine_chunks"):
        return x.combine_chunks()
    return x


def _normalise_container(x: Any) -> Any:
    """list, numpy array or pyarrow Array: the three shapes the encoders handle."""
    if isinstance(x, list):
        return x
    if isinstance(x, tuple):
        return list(x)
    if isinstance(x, np.ndarray):
        return x
    mod = _module(x)
    if mod == "pyarrow":
        return _arrow_array(x)
    if mod == "polars":
        try:
            return _arrow_array(x.to_arrow())
        except Exception:  # polars without pyarrow
            return x.to_list()
    if mod == "pandas":
        if str(getattr(x, "dtype", "")) == "category":
            return x.astype(object).to_numpy()
        return x.to_numpy()
    if hasattr(x, "__array__"):
        return np.asarray(x)
    return list(x)


@dataclass
class Source:
    """Input columns by canonical name; ``typed`` means DemandeTable semantics (Python
    values already parsed: only ``None`` is missing)."""

    columns: dict[str, Any]
    n: int
    typed: bool
    table: DemandeTable | None = None

    def get(self, name: str) -> Any | None:
        c = self.columns.get(name)
        return None if c is None else _normalise_container(c)

    def item_codes(self, name: str) -> Any | None:
        """The boundary's codes of list column ``name``'s items, when it computed them."""
        return self.table.item_codes(name) if self.table is not None else None


def checked_items(items: Any, n_items: int) -> tuple[Any, np.ndarray] | None:
    """(dictionary, per-item index) of :class:`cotation.data.vector.ItemCodes` that cover
    ``n_items`` items with indices inside the dictionary and no blank entry; else None (the
    items are then encoded here)."""
    if items is None or len(items.indices) != n_items:
        return None
    codes, size = items.indices, len(items.dictionary)
    if items.dictionary.null_count or (len(codes) and (codes.min() < 0 or codes.max() >= size)):
        return None
    import pyarrow.compute as pc
    if size and pc.any(pc.equal(pc.binary_length(items.dictionary), 0)).as_py():
        return None
    return items.dictionary, codes


def source_of(data: Any) -> Source:
    """Normalise any supported input into a :class:`Source`."""
    if isinstance(data, DemandeTable):
        # A table read by the boundary holds checked Arrow arrays: they are encoded as they
        # are (typed: only null is missing); the Python lists are never made.
        cols = {}
        for k in list(data.columns) + [k for k in data.extras if k not in data.columns]:
            arr = data.arrow_column(k)
            cols[k] = arr if arr is not None else (
                data.columns[k] if k in data.columns else data.extras[k])
        return Source(cols, len(data), True, data)
    if isinstance(data, list):
        table = DemandeTable.from_records(data)
        return source_of(table)
    mod = _module(data)
    if isinstance(data, dict):
        cols = dict(data)
    elif mod == "pandas":
        cols = {str(c): data[c] for c in data.columns}
    elif mod == "polars":
        cols = {c: data.get_column(c) for c in data.columns}
    elif mod == "pyarrow":
        if hasattr(data, "column_names"):
            cols = {name: data.column(name) for name in data.column_names}
        else:
            raise TypeError(f"unsupported pyarrow object {type(data).__name__}")
    else:
        raise TypeError(f"cannot score data of type {type(data).__name__}; expected a "
                        "DemandeTable, a list of dicts, a dict of columns, or a pandas/polars "
                        "DataFrame or pyarrow Table")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise DataError(f"columns of unequal length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    if "numero_unique" not in cols:
        raise DataError("missing required column 'numero_unique'")
    return Source(cols, n, False)


# ------------------------------------------------------------------------------ scalars

def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip() == ""
    try:
        return bool(v != v)   # NaN, NaT
    except (TypeError, ValueError):  # pandas.NA
        return True


def _bad(name: str, i: int, v: Any, what: str) -> DataError:
    return DataError(f"column {name}, row {i}: {v!r} is not {what}")


def encode_bool(name: str, x: Any, n: int, typed: bool) -> np.ndarray:
    if x is None:
        return np.full(n, -1, dtype=np.int8)
    if isinstance(x, np.ndarray) and x.dtype.kind == "b":
        return x.astype(np.int8)
    if isinstance(x, np.ndarray) and x.dtype.kind in "iuf":
        out = np.where(x != 0, 1, 0).astype(np.int8)
        if x.dtype.kind == "f":
            out[np.isnan(x)] = -1
        return out
    if _is_arrow(x):
        import pyarrow as pa
        import pyarrow.compute as pc
        if pa.types.is_boolean(x.type):
            vals = pc.fill_null(x, False).to_numpy(zero_copy_only=False).astype(np.int8)
            vals[x.is_null().to_numpy(zero_copy_only=False)] = -1
            return vals
        x = x.to_pylist()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if typed:
        fast = _typed_arrow(x, "bool_")
        if fast is not None:
            return encode_bool(name, fast, n, typed)
        return np.fromiter((-1 if v is None else (1 if v else 0) for v in x), np.int8, n)
    out = np.empty(n, dtype=np.int8)
    for i, v in enumerate(x):
        if _missing(v):
            out[i] = -1
        elif isinstance(v, (bool, np.bool_)):
            out[i] = 1 if v else 0
        elif isinstance(v, str):
            low = v.strip().lower()
            if low in TRUE_WORDS:
                out[i] = 1
            elif low in FALSE_WORDS:
                out[i] = 0
            else:
                raise _bad(name, i, v, "a boolean")
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[i] = 1 if v else 0
        else:
            raise _bad(name, i, v, "a boolean")
    return out


def encode_number(name: str, x: Any, n: int, typed: bool) -> np.ndarray:
    out = _encode_number(name, x, n, typed)
    if not typed:   # like the CSV reader: amounts beyond MAX_MAGNITUDE are data errors
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(np.abs(out) > MAX_MAGNITUDE)
        if len(bad):
            raise _bad(name, int(bad[0]), float(out[bad[0]]), "a number in range")
    return out


def _encode_number(name: str, x: Any, n: int, typed: bool) -> np.ndarray:
    if x is None:
        return np.full(n, np.nan)
    if isinstance(x, np.ndarray) and x.dtype.kind in "iufb":
        return np.array(x, dtype=np.float64)
    if _is_arrow(x):
        import pyarrow as pa
        import pyarrow.compute as pc
        t = x.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) \
                or pa.types.is_boolean(t):
            return np.array(pc.cast(x, pa.float64()).to_numpy(zero_copy_only=False),
                            dtype=np.float64)
        x = x.to_pylist()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if typed:
        fast = _typed_arrow(x, "float64")
        if fast is not None:   # nulls are NaN
            return np.array(fast.to_numpy(zero_copy_only=False), dtype=np.float64)
        return np.fromiter((math.nan if v is None else float(v) for v in x), np.float64, n)
    out = np.empty(n, dtype=np.float64)
    for i, v in enumerate(x):
        if _missing(v):
            out[i] = math.nan
            continue
        try:
            out[i] = float(v.strip()) if isinstance(v, str) else float(v)
        except (TypeError, ValueError):
            raise _bad(name, i, v, "a number") from None
        if not math.isfinite(out[i]):
            raise _bad(name, i, v, "a finite number")
    return out


def _date_ordinal(name: str, i: int, v: Any) -> int:
    if isinstance(v, dt.datetime):
        return v.date().toordinal()
    if isinstance(v, dt.date):
        return v.toordinal()
    if isinstance(v, str):
        try:
            return parse_date(v.strip()).toordinal()
        except ValueParseError:
            raise _bad(name, i, v, "a date YYYY-MM-DD") from None
    if isinstance(v, np.datetime64):
        return int(v.astype("datetime64[D]").astype(np.int64)) + _EPOCH_ORDINAL
    if hasattr(v, "date") and callable(v.date):  # pandas.Timestamp
        return v.date().toordinal()
    raise _bad(name, i, v, "a date")


def encode_date(name: str, x: Any, n: int, typed: bool) -> np.ndarray:
    if x is None:
        return np.full(n, DMISS, dtype=np.int64)
    if isinstance(x, np.ndarray) and x.dtype.kind == "M":
        days = x.astype("datetime64[D]")
        out = days.astype(np.int64) + _EPOCH_ORDINAL
        out[np.isnat(days)] = DMISS
        return out
    if _is_arrow(x):
        import pyarrow as pa
        import pyarrow.compute as pc
        t = x.type
        if pa.types.is_timestamp(t) or pa.types.is_date64(t) or pa.types.is_string(t) \
                or pa.types.is_large_string(t):
            x = pc.cast(x, pa.date32())
            t = x.type
        if pa.types.is_date32(t):
            days = pc.fill_null(pc.cast(x, pa.int32()), 0).to_numpy(zero_copy_only=False)
            out = days.astype(np.int64) + _EPOCH_ORDINAL
            out[x.is_null().to_numpy(zero_copy_only=False)] = DMISS
            return out
        x = x.to_pylist()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if typed:
        fast = _typed_arrow(x, "date32")
        if fast is not None:
            return encode_date(name, fast, n, typed)
        return np.fromiter((DMISS if v is None else v.toordinal() for v in x), np.int64, n)
    return np.fromiter((DMISS if _missing(v) else _date_ordinal(name, i, v)
                        for i, v in enumerate(x)), np.int64, n)


# ------------------------------------------------------------------------------ strings

def _factorize_sorted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values and the inverse (stable sort; numpy string order is code-point
    order, the order of Python's ``str``)."""
    if len(values) == 0:
        return values[:0], np.zeros(0, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    s = values[order]
    new = np.empty(len(s), dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    ids_sorted = np.cumsum(new) - 1
    inverse = np.empty(len(s), dtype=np.int64)
    inverse[order] = ids_sorted
    return s[new], inverse


def _as_str(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


def factorize(name: str, x: Any, n: int, typed: bool) -> tuple[list[str], np.ndarray]:
    """(uniques, codes) of a column of single strings; codes are -1 where missing."""
    if x is None:
        return [], np.full(n, -1, dtype=np.int64)
    if _is_arrow(x):
        import pyarrow as pa
        import pyarrow.compute as pc
        if not pa.types.is_dictionary(x.type):
            if not (pa.types.is_string(x.type) or pa.types.is_large_string(x.type)):
                x = pc.cast(x, pa.string())
            x = x.dictionary_encode()
        dictionary = x.dictionary
        if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
            dictionary = pc.cast(dictionary, pa.string())
        codes = pc.fill_null(x.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        if not typed:  # blank strings are missing in columnar inputs
            blank = np.flatnonzero(pc.equal(pc.utf8_trim_whitespace(dictionary), "").to_numpy(
                zero_copy_only=False))
            if len(blank):
                codes[np.isin(codes, blank)] = -1
        if len(dictionary) > 1000:
            return np.asarray(dictionary.to_numpy(zero_copy_only=False), dtype=str), codes
        return [_as_str(u) for u in dictionary.to_pylist()], codes
    if isinstance(x, np.ndarray) and x.dtype.kind in "US":
        vals = x.astype(str) if x.dtype.kind == "S" else x
        uniq, inverse = _factorize_sorted(vals)
        uniques = [str(u) for u in uniq]
        codes = inverse.astype(np.int64)
        for j, u in enumerate(uniques):
            if u.strip() == "":
                codes[codes == j] = -1
        return uniques, codes
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if typed:
        fast = _typed_arrow(x, "string")
        if fast is not None:   # one hash pass in Arrow; same first-seen order, same codes
            return factorize(name, fast, n, typed)
    index: dict[str, int] = {}
    if typed:
        codes = np.fromiter((-1 if v is None else index.setdefault(v, len(index)) for v in x),
                            np.int64, n)
    else:
        codes = np.fromiter((-1 if _missing(v) else index.setdefault(_as_str(v).strip(), len(index))
                             for v in x), np.int64, n)
    return list(index), codes


def _split_cell(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return tuple(s.strip() for s in v.split(MULTI_SEPARATOR) if s.strip())
    if isinstance(v, (list, tuple, set, frozenset, np.ndarray)):
        return tuple(_as_str(s) for s in v if s is not None)
    raise TypeError


@dataclass
class FlatLists:
    """A list column as flat elements (Arrow input): element values factorized."""

    uniques: list[str]        # distinct element values
    elem_codes: np.ndarray    # per element (int32 or int64), index into uniques
    offsets: np.ndarray       # int64, n + 1: row i's elements are [offsets[i], offsets[i+1])


def flat_lists(x: Any, n: int, *, trim: bool = True, items: Any = None) -> FlatLists | None:
    """Vectorised reading of an Arrow list<string> (or 'a|b' string) column, or None when
    the column has another shape. ``trim=False``: items are checked canonical codes, and
    ``items`` (the boundary's :class:`cotation.data.vector.ItemCodes`) their codes. Blank
    and null items are left out."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if pa.types.is_string(x.type) or pa.types.is_large_string(x.type):
        x = pc.split_pattern(pc.fill_null(x, ""), MULTI_SEPARATOR)
    if not (pa.types.is_list(x.type) or pa.types.is_large_list(x.type)):
        return None
    if x.null_count:
        x = pc.fill_null(x, pa.scalar([], type=x.type))
    offsets = np.asarray(x.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    flat = x.flatten()            # the items of the rows, from offsets[0] on
    offsets = offsets - offsets[0]
    known = None if trim else checked_items(items, int(offsets[-1]))
    if known is not None:
        # only the entries some item uses (rejected rows' items are in the dictionary too)
        dictionary, codes = known
        used = np.bincount(codes, minlength=len(dictionary)) > 0
        if not used.all():
            codes = (np.cumsum(used, dtype=np.int32) - 1)[codes]
            dictionary = dictionary.filter(pa.array(used))
        return FlatLists([str(u) for u in dictionary.to_pylist()], codes, offsets)
    flat = pc.cast(flat, pa.string())
    if trim:
        flat = pc.utf8_trim_whitespace(flat)
    enc = flat.dictionary_encode()
    uniques = [str(u) if u is not None else "" for u in enc.dictionary.to_pylist()]
    blank = [j for j, u in enumerate(uniques) if u == ""]
    if not blank and not enc.indices.null_count:
        return FlatLists(uniques, enc.indices.to_numpy(), offsets)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    keep = codes >= 0
    if blank:
        keep &= ~np.isin(codes, blank)
    kept_before = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    return FlatLists(uniques, codes[keep], kept_before[offsets])


def factorize_lists(name: str, x: Any, n: int, typed: bool
                    ) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """(distinct lists, codes) of a column whose cells are lists of strings (sets,
    localisations). Missing cells are empty lists. Untyped inputs are read like CSV cells:
    ``'a|b'`` strings are split and blanks dropped; values are kept as written, repeats
    included (a localisation's rang is its written position; the kernels count a commune
    listed twice once, at its first rang). Typed (DemandeTable) cells are taken as they are."""
    if x is None:
        return [()], np.zeros(n, dtype=np.int64)
    if _is_arrow(x):
        x = x.to_pylist()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    rows = None
    if typed and n > _ARROW_FROM:
        # Typed tables share one object per distinct cell text (the boundary parses each
        # distinct text once): deduplicate by identity first, so the loop below runs once
        # per distinct object instead of once per row. Equal lists held by different objects
        # still meet in ``index``.
        ids = np.fromiter(map(id, x), np.uintp, n)
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        if len(first) < n // 2:
            rows = first.tolist()
            x = [x[i] for i in rows]
    index: dict[Any, int] = {}
    codes = np.empty(len(x), dtype=np.int64)
    for i, v in enumerate(x):
        if v is None:
            key: Any = ()
        elif isinstance(v, (list, np.ndarray)):
            key = tuple(v)
        elif isinstance(v, (str, tuple, set, frozenset)):
            key = v
        elif not typed and _missing(v):
            key = ()
        else:
            raise DataError(f"column {name}, row {i if rows is None else rows[i]}: {v!r} "
                            "is not a list of values")
        j = index.get(key)
        if j is None:
            j = index[key] = len(index)
        codes[i] = j
    distinct: list[tuple[str, ...]] = []
    for key in index:
        try:
            items = _split_cell(key)
        except TypeError:
            raise DataError(f"column {name}: {key!r} is not a list of values") from None
        if not typed:
            items = tuple(s.strip() for s in items if s.strip())
        distinct.append(items)
    return distinct, (codes if rows is None else codes[inverse.reshape(-1)])

"""Columns as small integer codes, for the columnar group-bys of positioning.

The demande and attribution tables hold Python values (lists); each column is turned into codes
once, by Arrow kernels where the values allow it, so that the per-row work of positioning is
numpy on integers. Every function here gives the same grouping and the same order as the
Python rules it replaces (the reference: :func:`cotation.engine.ranking.order_indices`).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.parallel import default_workers, sort_distinct

__all__ = ["value_codes", "day_numbers", "months_between_days", "order_ranks", "EPOCH", "present",
           "compact", "sort_order", "group_starts", "arrow_column", "typology_sets"]

EPOCH = dt.date(1970, 1, 1)
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
                 ValueError, OverflowError)


def value_codes(values: Sequence[Any]) -> tuple[np.ndarray, list]:
    """``(codes, vocabulary)``: ``vocabulary[codes[i]] == values[i]``; None has a code of its
    own (the last one). Equal values share a code, as in a dict keyed by the values.

    >>> c, v = value_codes(["b", None, "a", "b"]); c.tolist(), v
    ([0, 2, 1, 0], ['b', 'a', None])
    """
    try:
        arr = values if isinstance(values, pa.Array) else \
            pa.array(values.tolist() if isinstance(values, np.ndarray) else values)
        if not (pa.types.is_string(arr.type) or pa.types.is_boolean(arr.type)
                or pa.types.is_null(arr.type) or pa.types.is_integer(arr.type)):
            raise TypeError(arr.type)
    except _ARROW_ERRORS:
        if isinstance(values, pa.Array):
            values = values.to_pylist()
        index: dict[Any, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64,
                            count=len(values))
        vocab = list(index)
        if None not in index:
            vocab.append(None)
        else:         # keep None last
            k = index[None]
            vocab = vocab[:k] + vocab[k + 1:] + [None]
            codes = np.where(codes == k, len(vocab) - 1, codes - (codes > k))
        return codes, vocab
    if pa.types.is_null(arr.type):
        return np.zeros(len(arr), dtype=np.int64), [None]
    enc = arr.dictionary_encode()
    vocab = enc.dictionary.to_pylist()
    codes = enc.indices.fill_null(len(vocab)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, vocab + [None]


def day_numbers(dates: Sequence[dt.date]) -> np.ndarray:
    """Days since 1970-01-01 (int64) of a column of dates; a missing date is an error."""
    arr = dates if isinstance(dates, pa.Array) else \
        pa.array(dates.tolist() if isinstance(dates, np.ndarray) else dates, type=pa.date32())
    if arr.null_count:
        raise ValueError("a date is missing")
    return arr.cast(pa.int32()).to_numpy().astype(np.int64)   # (not through pandas)


def months_between_days(d1: np.ndarray, today: dt.date) -> np.ndarray:
    """:func:`cotation.grid.evaluate.months_between` (d1, today) of day numbers, in integers."""
    d64 = np.asarray(d1, dtype=np.int64).astype("datetime64[D]")
    month = d64.astype("datetime64[M]")
    months = month.astype(np.int64)                       # months since 1970-01
    day = (d64 - month).astype(np.int64) + 1
    t_months = (today.year - 1970) * 12 + today.month - 1
    return t_months - months - (today.day < day).astype(np.int64)


def _python_codes(values: Sequence[Any], direction: str) -> pa.Array:
    """The reference encoding (:func:`encode_order_keys`' rule) as ascending int64 codes."""
    present = sorted({v for v in values if v is not None})
    code = {v: i for i, v in enumerate(present)}
    missing = len(present)
    sign = -1 if direction == "desc" else 1
    return pa.array(np.fromiter((missing if v is None else sign * code[v] for v in values),
                                dtype=np.int64, count=len(values)))


def _key_column(values: Sequence[Any], direction: str) -> tuple[pa.Array, str]:
    """One ordering key as an Arrow array and its sort order; values Arrow cannot order as
    Python does (mixed types, NaN, other types) are encoded by the Python rule instead."""
    try:
        arr = pa.array(values.tolist() if isinstance(values, np.ndarray) else values)
    except _ARROW_ERRORS:
        return _python_codes(values, direction), "ascending"
    t = arr.type
    if pa.types.is_floating(t):
        if pc.any(pc.is_nan(arr)).as_py():
            return _python_codes(values, direction), "ascending"
    elif not (pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_date32(t)
              or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
        return _python_codes(values, direction), "ascending"
    return arr, "descending" if direction == "desc" else "ascending"


def order_ranks(ordering: Sequence[Any], score: np.ndarray, order_keys: Sequence[Sequence[Any]]
                ) -> np.ndarray:
    """Per pair, the dense rank (int64, 0 = first) of its tuple of ordering keys under the
    grid's ordering: a < b exactly when the pair a comes before b in ``cotation score``'s
    ranking (equal tuples share a rank). ``ordering`` items have ``expr`` (None for the total
    score, whose values are ``score``) and ``direction``. A missing value sorts after every
    present value whatever the direction (Arrow's default null placement)."""
    n = len(score)
    if n == 0 or not ordering:
        return np.zeros(n, dtype=np.int64)
    columns, keys = [], []
    for j, o in enumerate(ordering):
        if o.expr is None:
            arr, order = pa.array(np.asarray(score, dtype=np.int64)), \
                "descending" if o.direction == "desc" else "ascending"
        else:
            arr, order = _key_column(order_keys[j], o.direction)
        columns.append(arr)
        keys.append((f"k{j}", order))
    table = pa.table(columns, names=[k for k, _ in keys])
    order = pc.sort_indices(table, sort_keys=keys)
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for arr in columns:
        if pa.types.is_null(arr.type):
            continue              # every value missing: equal on this key
        a = arr.take(order)
        head, tail = a.slice(1), a.slice(0, n - 1)
        differ = pc.not_equal(head, tail).fill_null(False)
        if a.null_count:
            differ = pc.or_(differ, pc.xor(pc.is_null(head), pc.is_null(tail)))
        new[1:] |= differ.to_numpy(zero_copy_only=False)
    ranks = np.empty(n, dtype=np.int64)
    ranks[order.to_numpy()] = np.cumsum(new) - 1
    return ranks


def present(values: np.ndarray, span: int) -> np.ndarray:
    """The distinct values (ascending) of non-negative integers below ``span``."""
    return np.flatnonzero(np.bincount(np.asarray(values, dtype=np.int64), minlength=span))


def compact(key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct values ascending, index of each item among them)`` of non-negative
    integers below ``span``: ``np.unique(key, return_inverse=True)`` in linear time when
    ``span`` is small."""
    if span > 4 * len(key) + 1024:
        uniq, index = np.unique(key, return_inverse=True)
        return uniq, index.reshape(-1).astype(np.int64)
    seen = np.bincount(key, minlength=span) > 0
    return np.flatnonzero(seen), (np.cumsum(seen) - 1)[key]


def sort_order(*keys: tuple[np.ndarray, int]) -> np.ndarray:
    """The permutation sorting items by ``keys`` (each ``(values, span)``: non-negative
    integers below ``span``, most significant first), ties by index, as a stable
    ``np.lexsort`` would; one packed 64-bit sort when the keys and the index fit."""
    n = len(keys[0][0])
    bits = [int(max(span - 1, 0)).bit_length() for _, span in keys]
    idx_bits = int(max(n - 1, 0)).bit_length()
    if sum(bits) + idx_bits > 63:
        return np.lexsort([np.asarray(v) for v, _ in reversed(keys)])
    packed = np.zeros(n, dtype=np.int64)
    for (values, _), b in zip(keys, bits):
        packed <<= b
        packed |= values
    packed <<= idx_bits
    packed |= np.arange(n, dtype=np.int64)
    sort_distinct(packed, default_workers())        # distinct: the index in the low bits
    return packed & ((1 << idx_bits) - 1)


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """True where a run of equal values begins."""
    new = np.ones(len(sorted_keys), dtype=bool)
    if len(sorted_keys):
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    return new


def arrow_column(table: Any, name: str, kind: Any) -> Any | None:
    """The table's checked Arrow array of ``name`` when it holds one of type ``kind``
    (``kind(t)`` true), else None (the table's Python values are read then)."""
    arr = table.arrow_column(name)
    if arr is None:
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if kind(arr.type) else None


def typology_sets(table: Any, rows: np.ndarray) -> tuple[np.ndarray, list[frozenset]]:
    """The distinct sets of typologies of the demandes ``rows`` (none: the empty set), and
    the index of each row's among them. From the Arrow column, each distinct list of items
    is made a set once (a million rows: no Python object per row); the Python values
    otherwise."""
    from cotation.data.schema import Kind
    from cotation.data.table import LIST_JOIN, distinct_lists

    set_ids: dict[frozenset, int] = {}
    arr = arrow_column(table, "typologies",
                        lambda t: pa.types.is_list(t) and pa.types.is_string(t.value_type))
    if arr is not None:
        sub = arr.take(pa.array(rows, pa.int64()))
        items = pc.list_flatten(sub)
        # the items told apart once joined: none holds the joining byte, none is empty
        if not (pc.any(pc.equal(items, "")).as_py() or
                pc.any(pc.match_substring(items, LIST_JOIN)).as_py()):
            sets, idx = distinct_lists(Kind.CODESET, sub)
            remap = np.asarray([set_ids.setdefault(s, len(set_ids)) for s in sets], np.int64)
            return remap[idx], list(set_ids)
    typos = table.columns["typologies"]
    sid = np.fromiter((set_ids.setdefault(typos[d] or frozenset(), len(set_ids))
                       for d in rows.tolist()), dtype=np.int64, count=len(rows))
    return sid, list(set_ids)


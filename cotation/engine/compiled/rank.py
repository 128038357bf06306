"""Ranking at scale: one packed integer key per pair, one sort.

Each ordering key becomes an unsigned bit field, most significant first, after the peer cell
(the commune): the score as integer hundredths offset by the run's smallest (or largest, for
``desc``) total; other keys as ``value − min`` when their values are whole numbers in a
modest range (dates, ids, codes, booleans) or as a dense rank otherwise. A descending key is
stored as ``max − v``; a missing value sets the field's own top bit, so it sorts after every
present value whatever the direction. Codes sort by their text (a lookup table maps the
enumeration index to the code's place in string order); texts and communes are ids in sorted
dictionaries already.

When the fields and the pair index fit in 64 bits the keys themselves are sorted (the index
in the low bits makes them unique, so an unstable sort is exact and much faster than an
argsort); when only the fields fit, a stable argsort keeps ties in pair order; beyond 63
bits, ``np.lexsort`` over the fields. Every path equals :func:`cotation.engine.ranking.rank_within`:
ties (possible only with duplicated ``numero_unique``) keep the pairs' original order, as the
reference's stable sorts do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cotation.data.parallel import sort_distinct


@dataclass
class Field:
    """One ordering key as unsigned integers: smaller sorts first."""

    values: np.ndarray   # uint64
    bits: int


def _bits(span: int) -> int:
    return int(span).bit_length()


def run_starts(values: np.ndarray) -> np.ndarray:
    """True where an element differs from the one before it (the first of each run of equal
    values; ``values`` not empty)."""
    new = np.empty(len(values), dtype=bool)
    new[0] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return new


def score_field(score: np.ndarray, direction: str) -> Field:
    """The total in hundredths, offset by its minimum (or maximum, descending)."""
    if len(score) == 0:
        return Field(np.zeros(0, dtype=np.uint64), 0)
    lo, hi = int(score.min()), int(score.max())
    f = np.empty(len(score), dtype=np.uint64)          # one array: written in place
    if direction == "desc":
        np.subtract(np.int64(hi), score, out=f.view(np.int64))
    else:
        np.subtract(score, np.int64(lo), out=f.view(np.int64))
    return Field(f, _bits(hi - lo))


def value_field(values: np.ndarray, known: np.ndarray, direction: str, *,
                order_lut: np.ndarray | None = None, max_range_bits: int = 40) -> Field:
    """A key given as float64 values with a known mask (missing sorts last)."""
    n = len(values)
    known = known.astype(bool, copy=False)
    out = np.zeros(n, dtype=np.uint64)
    if n == 0:
        return Field(out, 0)
    v = values[known]
    if order_lut is not None:
        v = order_lut[v.astype(np.int64)].astype(np.float64)
    if len(v) == 0:
        return Field(out, 0)  # all missing: every pair equal on this key
    lo, hi = float(v.min()), float(v.max())
    integral = bool(np.all(v == np.floor(v))) and hi - lo < float(2 ** max_range_bits)
    if integral:
        span = int(hi - lo)
        f = (v - lo) if direction == "asc" else (hi - v)
        fv = f.astype(np.uint64)
    else:
        uniq, inv = np.unique(v, return_inverse=True)
        span = len(uniq) - 1
        fv = (inv if direction == "asc" else span - inv).astype(np.uint64)
    bits = _bits(span)
    out[known] = fv
    if not known.all():
        out[~known] = np.uint64(1) << np.uint64(bits)
        bits += 1
    return Field(out, bits)


def dense_rank(fields: Sequence[Field], workers: int = 1) -> Field:
    """One field equivalent to several (most significant first): the dense rank of each
    item's tuple of values (equal tuples share a rank). ``workers``: threads for the sort."""
    n = len(fields[0].values) if fields else 0
    if n == 0:
        return Field(np.zeros(0, dtype=np.uint64), 0)
    total = sum(f.bits for f in fields)
    if total <= 64:
        key = np.zeros(n, dtype=np.uint64)
        shift = total
        for f in fields:
            shift -= f.bits
            if f.bits:
                key |= f.values << np.uint64(shift)
        idx_bits = _bits(n - 1)
        if total + idx_bits <= 64:
            packed = (key << np.uint64(idx_bits)) | np.arange(n, dtype=np.uint64)
            sort_distinct(packed, workers)
            order = (packed & np.uint64((1 << idx_bits) - 1)).astype(np.int64) if idx_bits \
                else np.zeros(n, dtype=np.int64)
            packed >>= np.uint64(idx_bits)
            sk = packed                          # the sorted keys, without a gather
        else:
            order = np.argsort(key, kind="stable")
            sk = key[order]
        new = run_starts(sk)
    else:
        order = np.lexsort([f.values for f in reversed(fields)])
        new = np.zeros(n, dtype=bool)
        new[0] = True
        for f in fields:
            sv = f.values[order]
            new[1:] |= sv[1:] != sv[:-1]
    dense = np.cumsum(new) - 1
    out = np.empty(n, dtype=np.uint64)
    out[order] = dense.astype(np.uint64)
    return Field(out, _bits(int(dense[-1])))


def rank_cells(cells: np.ndarray, n_cells: int, fields: Sequence[Field], workers: int = 1
               ) -> np.ndarray:
    """Rank 1..N of every pair within its cell under the fields (most significant first).
    (Few arrays of the pairs' length are made: each costs page faults when the memory comes
    fresh from the system.) ``workers``: threads for the sort."""
    n = len(cells)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if int(cells.min()) < 0 or int(cells.max()) >= n_cells:
        raise ValueError(f"cell ids outside 0..{n_cells - 1}")
    cell_bits = _bits(max(n_cells - 1, 0))
    total = cell_bits + sum(f.bits for f in fields)
    idx_bits = _bits(n - 1)
    if total + idx_bits <= 64:
        # cell | fields | pair index in one word, sorted in place: the low bits give the
        # pairs' order, the high bits each cell's run
        low = total - cell_bits + idx_bits
        key = cells.astype(np.uint64)
        key <<= np.uint64(low)
        shifted = np.empty(n, dtype=np.uint64)
        shift = low
        for f in fields:
            shift -= f.bits
            if f.bits:
                np.left_shift(f.values, np.uint64(shift), out=shifted)
                key |= shifted
        position = np.arange(n, dtype=np.uint64)
        key |= position
        sort_distinct(key, workers)
        np.bitwise_and(key, np.uint64((1 << idx_bits) - 1), out=shifted)
        order = shifted.view(np.int64)
        # where each cell's run starts in the sorted keys (cell c is the top bits)
        firsts = np.searchsorted(key, np.arange(1, n_cells, dtype=np.uint64) << np.uint64(low))
        rank_at = position.view(np.int64)             # position in the order, made a rank:
        _minus_run_start(rank_at, np.concatenate([[0], firsts, [n]]).astype(np.int64))
        ranks = np.empty(n, dtype=np.int64)
        ranks[order] = rank_at
        return ranks
    if total <= 63:
        key = cells.astype(np.uint64) << np.uint64(total - cell_bits)
        shift = total - cell_bits
        for f in fields:
            shift -= f.bits
            if f.bits:
                key |= f.values << np.uint64(shift)
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort([f.values for f in reversed(fields)] + [cells.astype(np.int64)])
    counts = np.bincount(cells, minlength=n_cells)
    ranks = np.empty(n, dtype=np.int64)
    rank_at = np.arange(n, dtype=np.int64)            # each pair's position in the order
    starts = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    _minus_run_start(rank_at, starts)
    ranks[order] = rank_at
    return ranks


def _minus_run_start(position: np.ndarray, bounds: np.ndarray) -> None:
    """Positions 0..n-1 (int64, in place) made ranks from 1 within consecutive runs: run c
    is ``[bounds[c], bounds[c+1])``."""
    if len(bounds) <= 4097:                  # a few hundred communes: one slice each
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            if hi > lo:
                position[lo:hi] -= lo - 1
    else:
        position -= np.repeat(bounds[:-1] - 1, np.diff(bounds))

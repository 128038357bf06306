"""How many threads column work may use, and running it on them.

Arrow compute functions and numpy release the GIL on large arrays, so independent columns
checked or encoded on a few threads run in parallel on as many cores, and so do the slices of
a large sort (:func:`sort_distinct`). ``COTATION_WORKERS`` (or the ``workers`` arguments)
caps them; the default is the CPUs this process may run on.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

# Under this many rows the threads cost more than they save (encoding: measured on bench30,
# 100,000 demandes 68-69 ms on one thread against 71-84 ms on two).
PARALLEL_FROM = 200_000
# The boundary's column checks gain from threads sooner, now that they are vectorised from
# 257 rows (cotation/data/vector.py): reading bench30 canonical CSVs, min of 7, one thread
# against two: 20,000 rows 37-39 / 36-40 ms, 30,000 rows 51-56 / 45-46 ms, 50,000 rows
# 76-82 / 55-64 ms, 100,000 rows 134-143 / 93-104 ms.
CHECKS_PARALLEL_FROM = 25_000

# Sorting distinct keys (:func:`sort_distinct`): under this many keys one sort on one thread
# is as quick (2 cores, uint64 keys, min of 9, one thread against two, 2026-12-06: 50,000
# keys 2.1 / 1.8 ms, 100,000 4.6 / 3.4 ms, 200,000 8.3 / 6.0 ms, 1M 51-59 / 32-41 ms, 3M
# 170-176 / 107-109 ms).
SORT_PARALLEL_FROM = 150_000
# At most this many sorted runs to merge: each doubling of the runs adds a merge level, a
# linear pass (3M keys: 2 runs 12 ms, 4 runs 23, 8 runs 33, 16 runs 43). Here numpy sorts 3M
# keys in 170 ms, so 4 runs on 4 threads take ≈66 ms and 16 on 16 ≈54; where numpy's sort is
# several times quicker (a vectorised sort, ≈30 ms for 3M), 16 runs would lose and 4 break even.
SORT_RUNS_MAX = 4


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, where the platform has one; a
    container limited to 4 of 64 cores gets 4)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """``COTATION_WORKERS`` when set to a positive integer, else the CPUs available."""
    env = os.environ.get("COTATION_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return available_cpus()


def map_columns(fn: Callable[[T], R], items: Iterable[T], rows: int,
                workers: int | None = None, *, parallel_from: int = PARALLEL_FROM) -> list[R]:
    """``[fn(x) for x in items]``, on threads when there are enough ``rows`` to gain from it
    (``parallel_from``); results in the order of ``items``, the first exception raised as
    it is."""
    items = list(items)
    workers = min(len(items), default_workers() if workers is None else max(1, workers))
    if workers <= 1 or rows < parallel_from:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cotation-col") as pool:
        return list(pool.map(fn, items))


def sort_distinct(keys: np.ndarray, workers: int = 1) -> None:
    """Sort ``keys`` (integers, all distinct: packed keys with the item's index in the low
    bits) in place, on up to ``workers`` threads (at most :data:`SORT_RUNS_MAX`): each sorts
    one slice (numpy releases the interpreter lock there), then numpy's stable sort, a
    timsort, merges the sorted runs (linear per level: 3M keys in two runs, 11-12 ms). That
    last sort is a whole sort: the result is the sorted keys whatever the threads did, and
    with distinct keys the only order there is. Keys already nearly in order
    (:func:`nearly_sorted`) go to the timsort alone: 2.2M keys of ``position`` (rows by
    demande, cells within each), 1-13 ms against 118 ms for numpy's default sort and 56 ms
    on two threads (2026-12-06)."""
    n = len(keys)
    if nearly_sorted(keys):
        keys.sort(kind="stable")     # a timsort: near-linear on keys nearly in order
        return
    workers = max(1, min(workers, SORT_RUNS_MAX, n // (SORT_PARALLEL_FROM // 2)))
    if workers == 1:
        keys.sort()
        return
    bounds = [n * k // workers for k in range(workers + 1)]
    map_columns(lambda k: keys[bounds[k]:bounds[k + 1]].sort(), range(workers), n, workers,
                parallel_from=SORT_PARALLEL_FROM)
    keys.sort(kind="stable")


# Near order (:func:`nearly_sorted`): a key is late when it is below a key this many places
# before it or more; looked at on every ``_STRIDE``-th key.
_LAG = 64
_STRIDE = 8


def nearly_sorted(keys: np.ndarray) -> bool:
    """Whether a timsort would sort ``keys`` in about linear time: they are nearly in
    ascending order, either locally (among every :data:`_STRIDE`-th key, at most one in
    eight below a key :data:`_LAG` places or more before it) or in long runs (at most one
    key in eight below the one before it). Keys in random order fail both (2.2M keys of
    `position`: the rows by demande, then by cell within a demande, pass the first; a few
    sorted runs pass the second). One pass over an eighth of the keys, then one over all
    (2.2M keys: ≈1.3 ms and ≈3 ms); False under 65,536 keys, where sorting costs little."""
    n = len(keys)
    if n < _LAG * 1024:
        return False
    sample = keys[::_STRIDE]
    lag = _LAG // _STRIDE
    if int(np.count_nonzero(sample[lag:] < np.maximum.accumulate(sample)[:-lag])) * 8 \
            <= len(sample):
        return True
    return bool(np.count_nonzero(keys[1:] < keys[:-1]) * 8 <= n)

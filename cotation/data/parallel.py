"""How many threads column work may use, and running it on them.

Arrow compute functions and numpy release the GIL on large arrays, so independent columns
checked or encoded on a few threads run in parallel on as many cores. ``COTATION_WORKERS``
(or the ``workers`` arguments) caps them; the default is the CPUs this process may run on.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

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

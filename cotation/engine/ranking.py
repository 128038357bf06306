"""Ranking within a commune (or any cell) by the grid's ordering: total and deterministic.

Engine-independent: it takes the ordering key values of each pair, whatever produced them.
A missing key sorts after every present value in either direction; ``true`` > ``false``.
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np


def order_indices(keys: Sequence[Sequence[Any]], directions: Sequence[str],
                  subset: Sequence[int] | None = None) -> list[int]:
    """Indices of ``subset`` (default all) from first to last under the ordering.

    ``keys[k][i]`` is the value of key ``k`` for item ``i`` (None = missing).

    >>> order_indices([[3, None, 5, 3], ['b', 'a', 'c', 'a']], ['desc', 'asc'])
    [2, 3, 0, 1]
    """
    items = list(range(len(keys[0]) if keys else 0)) if subset is None else list(subset)
    # Stable sorts from the least significant key to the most significant one.
    for values, direction in reversed(list(zip(keys, directions))):
        present = [i for i in items if values[i] is not None]
        missing = [i for i in items if values[i] is None]
        present.sort(key=lambda i: values[i], reverse=(direction == "desc"))
        items = present + missing
    return items


def rank_within(cells: Sequence[Hashable], keys: Sequence[Sequence[Any]],
                directions: Sequence[str]) -> np.ndarray:
    """Rank 1..N of every item within its cell (1 = first)."""
    n = len(cells)
    by_cell: dict[Hashable, list[int]] = {}
    for i, c in enumerate(cells):
        by_cell.setdefault(c, []).append(i)
    ranks = np.zeros(n, dtype=np.int64)
    for members in by_cell.values():
        for r, i in enumerate(order_indices(keys, directions, members), start=1):
            ranks[i] = r
    return ranks

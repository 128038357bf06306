from __future__ import annotations

import datetime as dt

from hypothesis import given, strategies as st

from cotation.engine.ranking import order_indices, rank_within


def test_missing_sorts_last_in_both_directions():
    keys = [[None, 3, 1, None, 2]]
    assert order_indices(keys, ["desc"]) == [1, 4, 2, 0, 3]
    assert order_indices(keys, ["asc"]) == [2, 4, 1, 0, 3]


def test_true_is_greater_than_false_and_tiers_come_first():
    tier = [False, True, None, True]
    score = [900, 10, 1000, 20]
    ids = ["a", "b", "c", "d"]
    assert order_indices([tier, score, ids], ["desc", "desc", "asc"]) == [3, 1, 0, 2]


def test_dates_and_ties():
    d = dt.date
    keys = [[100, 100, 100], [d(2024, 1, 2), d(2023, 5, 1), d(2023, 5, 1)], ["z", "y", "x"]]
    assert order_indices(keys, ["desc", "asc", "asc"]) == [2, 1, 0]


@given(st.lists(st.tuples(st.sampled_from("AB"), st.one_of(st.none(), st.integers(0, 5))), min_size=1, max_size=40))
def test_rank_within_is_a_permutation_per_cell_and_matches_sorted(items):
    cells = [c for c, _ in items]
    scores = [s for _, s in items]
    ids = [f"{i:03d}" for i in range(len(items))]
    ranks = rank_within(cells, [scores, ids], ["desc", "asc"])
    for cell in "AB":
        members = [i for i, c in enumerate(cells) if c == cell]
        assert sorted(ranks[i] for i in members) == list(range(1, len(members) + 1))
        expected = sorted(members, key=lambda i: (scores[i] is None, -(scores[i] or 0), ids[i]))
        assert [ranks[i] for i in expected] == list(range(1, len(members) + 1))

"""The boundary's sort of numero_unique (build.string_order) is Arrow's: byte order, stable,
whether the fixed-width packed sort applies or not."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings, strategies as st

from cotation.data.build import _fixed_width_order, sorted_strings, string_order


def _same_as_arrow(values: list[str]) -> bool:
    arr = pa.array(values, pa.string())
    expected = pc.sort_indices(arr).to_numpy()
    assert np.array_equal(string_order(arr), expected), values
    got = _fixed_width_order(arr)
    if got is not None:
        assert np.array_equal(got, expected), values
    return got is not None


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20), st.data())
def test_fixed_width_values_sort_as_arrow(width, data):
    # few characters per position, repeats (duplicates keep their order), multi-byte ones
    alphabet = data.draw(st.sampled_from(["0123456789", "09AZ", "aé€", "\x00\x7f\u00ff"]))
    word = st.text(alphabet, min_size=width, max_size=width)
    pool = data.draw(st.lists(word, min_size=1, max_size=8))
    values = data.draw(st.lists(st.sampled_from(pool), min_size=2, max_size=60))
    if len({len(v.encode()) for v in values}) == 1:
        _same_as_arrow(values)
    else:
        assert _fixed_width_order(pa.array(values)) is None
        _same_as_arrow(values)


def test_numero_unique_takes_the_packed_sort_and_others_fall_back():
    rng = np.random.default_rng(1)
    nus = [f"0{d:02d}{y:02d}{k:07d}{chr(65 + k % 26)}{s:05d}" for d, y, k, s in
           rng.integers(0, 96, (5000, 4)) * [1, 1, 99991, 997]]
    assert all(len(v) == 18 for v in nus)
    assert _same_as_arrow(nus + nus[:50])                      # duplicates included
    assert not _same_as_arrow(["b", "a", "ab", ""])            # widths differ
    wide = ["".join(chr(c) for c in rng.integers(32, 127, 40)) for _ in range(50)]
    assert not _same_as_arrow(wide)                            # 95^40 does not fit 64 bits
    sliced = pa.array(nus, pa.string()).slice(7, 300)          # an array with an offset
    assert np.array_equal(string_order(sliced), pc.sort_indices(sliced).to_numpy())
    assert _same_as_arrow(["x", "x", "x"])                     # one value: the rows' order


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["0A1", "0A2", "0B1", "9Z9", "0A1"]), min_size=2, max_size=80))
def test_packed_keys_mark_equal_neighbours(values):
    # the boundary finds duplicated numero_unique from the keys: equal neighbours in the
    # sorted order have equal keys exactly when their strings are equal
    arr = pa.array(values, pa.string())
    order, keys = sorted_strings(arr)
    assert keys is not None and np.array_equal(order, pc.sort_indices(arr).to_numpy())
    ordered = [values[i] for i in order]
    assert [a == b for a, b in zip(ordered, ordered[1:])] == (keys[1:] == keys[:-1]).tolist()
    assert sorted_strings(pa.array(["b", "a", "ab"]))[1] is None     # Arrow's sort: no keys


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.integers(1, 20), st.data())
def test_column_extremes(n, width, data):
    from cotation.data.build import _column_extremes
    seed = data.draw(st.integers(0, 2**32 - 1))
    arr = np.random.default_rng(seed).integers(0, 256, (n, width)).astype(np.uint8)
    lo, hi = _column_extremes(arr)
    assert lo == arr.min(axis=0).tolist() and hi == arr.max(axis=0).tolist()

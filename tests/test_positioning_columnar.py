"""The columnar pieces of positioning agree with the Python rules they replace: the ordering
as dense ranks (against ``order_indices``), value codes, months between dates, the groups of
leases of the waiting index, and the ``cotation position`` file against a per-row rendering."""
from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings, strategies as st_

from cotation.data.table import AttributionTable
from cotation.engine.ranking import order_indices
from cotation.grid.evaluate import months_between
from cotation.info.codes import day_numbers, months_between_days, order_ranks, value_codes

DATES = st_.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31))
KEY_VALUES = [
    st_.one_of(st_.none(), st_.integers(-3, 3)),
    st_.one_of(st_.none(), st_.booleans()),
    st_.one_of(st_.none(), DATES),
    st_.one_of(st_.none(), st_.sampled_from(["b", "a", "é", "ab", "B", ""])),
    st_.one_of(st_.none(), st_.integers(-2, 2), st_.sampled_from([0.5, -1.5, 2.0])),
    st_.one_of(st_.none(), st_.integers(-2, 2), st_.booleans()),          # mixed: Python rule
    st_.one_of(st_.none(), st_.sampled_from([1.0, math.nan, -2.0])),       # NaN: Python rule
    st_.one_of(st_.none(), st_.integers(2 ** 63, 2 ** 64)),               # beyond int64
]


@settings(max_examples=80, deadline=None)
@given(st_.data())
def test_order_ranks_follow_order_indices(data):
    n = data.draw(st_.integers(1, 25))
    kinds = data.draw(st_.lists(st_.sampled_from(range(len(KEY_VALUES))), min_size=1, max_size=3))
    score = np.asarray(data.draw(st_.lists(st_.integers(-5, 5), min_size=n, max_size=n)), dtype=np.int64)
    keys = [score.tolist()] + [data.draw(st_.lists(KEY_VALUES[k], min_size=n, max_size=n))
                               for k in kinds]
    if 6 in kinds:       # NaN compares unequal to itself: Python's sort has no order to agree with
        keys = [[None if isinstance(v, float) and math.isnan(v) else v for v in k] for k in keys]
    dirs = data.draw(st_.lists(st_.sampled_from(["asc", "desc"]), min_size=len(keys),
                               max_size=len(keys)))
    ordering = [SimpleNamespace(expr=None if j == 0 else "key", direction=d) for j, d in enumerate(dirs)]
    ranks = order_ranks(ordering, score, keys)
    expected = order_indices(keys, dirs)
    assert sorted(range(n), key=lambda i: (ranks[i], i)) == expected
    tuples = [tuple(k[i] for k in keys) for i in range(n)]
    for a in range(n):       # equal ranks exactly for equal tuples
        for b in range(n):
            assert (ranks[a] == ranks[b]) == (tuples[a] == tuples[b])


def test_order_ranks_keep_nan_out_of_arrow():
    ordering = [SimpleNamespace(expr="x", direction="asc")]
    ranks = order_ranks(ordering, np.zeros(3, dtype=np.int64), [[2.0, math.nan, None]])
    assert ranks[2] == max(ranks)          # missing last, NaN placed by the Python rule


@given(st_.lists(st_.one_of(st_.none(), st_.sampled_from(["x", "y", "z"])), max_size=20))
def test_value_codes_round_trip(values):
    codes, vocab = value_codes(values)
    assert [vocab[c] for c in codes.tolist()] == values
    assert vocab[-1] is None and len(set(vocab)) == len(vocab)


def test_value_codes_of_values_arrow_does_not_take():
    values = [(1, 2), None, (1, 2), (3,)]
    codes, vocab = value_codes(values)
    assert [vocab[c] for c in codes.tolist()] == values and vocab[-1] is None


@given(st_.lists(DATES, min_size=1, max_size=30), DATES)
def test_months_between_days(dates, today):
    got = months_between_days(day_numbers(dates), today).tolist()
    assert got == [months_between(d, today) for d in dates]


def test_waiting_groups_match_a_python_grouping():
    from cotation.grid import load_grid
    from cotation.info.positioning import WaitingIndex, add_months
    from pathlib import Path
    from test_positioning import GRID

    rng = np.random.default_rng(4)
    today = dt.date(2025, 1, 15)
    communes = ["69123", "69266", "69259", "75056"]
    n = 400
    cols = {"numero_unique": [f"a{i}" for i in range(n)],
            "commune": [communes[i] for i in rng.integers(0, 4, n)],
            "typologie": [["T2", "T3", "T4"][i] for i in rng.integers(0, 3, n)],
            "est_mutation": [[True, False, None][i] for i in rng.integers(0, 3, n)],
            "date_depot": [today - dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)],
            "financement": [None] * n, "qpv": [None] * n, "reservataire": [None] * n}
    cols["date_attribution"] = [d + dt.timedelta(days=int(x)) for d, x in
                                zip(cols["date_depot"], rng.integers(-30, 500, n))]
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "g.yaml"
        path.write_text(GRID, encoding="utf-8")
        grid = load_grid(path).ir
    w = WaitingIndex(grid, AttributionTable(cols), today)
    start = add_months(today, -grid.waiting_window_months)
    expected: list[dict] = [{} for _ in w.levels]
    outside = negative = 0
    for i in range(n):
        d_att = cols["date_attribution"][i]
        if cols["commune"][i] not in grid.communes or not (start <= d_att < today):
            outside += 1
            continue
        days = (d_att - cols["date_depot"][i]).days
        if days < 0:
            negative += 1
            continue
        value = {"loc.commune": cols["commune"][i], "loc.epci": grid.epci_siren,
                 "typologie": cols["typologie"][i], "est_mutation": cols["est_mutation"][i]}
        for li, level in enumerate(w.levels):
            expected[li].setdefault(tuple(value[k] for k in level), []).append(days)
    assert (w.n_outside, w.n_negative, w.n_used) == (outside, negative, n - outside - negative)
    got = [{k: v.tolist() for k, v in g.items()} for g in w._groups]
    assert got == [{k: sorted(v) for k, v in e.items()} for e in expected]


def test_result_order_is_the_sort_by_commune_then_rank():
    """Result.order() places pairs by scatter (ranks are 1..N per commune): the same as the
    sort it replaces, and the sort itself when ranks are not a permutation per commune."""
    from cotation.api import Result

    rng = np.random.default_rng(11)
    terr = rng.integers(0, 5, 300).astype(np.int32)
    ranks = np.zeros(300, dtype=np.int64)
    for c in range(5):
        members = np.flatnonzero(terr == c)
        ranks[members] = rng.permutation(len(members)) + 1
    z = np.zeros(300, dtype=np.int64)
    res = Result(grid=None, today=dt.date(2025, 1, 1), rows=np.arange(300), score_hundredths=z,
                 score_valide_hundredths=z, ranks=ranks, ordre_choix=z, met=z, set_aside=z,
                 met_valide=z, set_aside_valide=z, points=None, rejects=[], _terr=terr)
    assert np.array_equal(res.order(), np.lexsort((ranks, terr)))
    tied = res.__class__(**{**res.__dict__, "ranks": np.minimum(ranks, 3)})
    assert np.array_equal(tied.order(), np.lexsort((tied.ranks, terr)))


def test_engine_order_rank_gives_the_same_positions():
    """The compiled engine's dense ranks (ScoreTable.order_rank) and the ranks positioning
    computes from the decoded ordering keys agree, and so do the positions."""
    import dataclasses
    from pathlib import Path

    from cotation.data.synth import generate_demandes
    from cotation.engine import score
    from cotation.grid import load_grid
    from cotation.info.positioning import position

    grid = load_grid(Path(__file__).resolve().parents[1] / "grids" / "lyon-metropole.yaml").ir
    today = dt.date(2025, 6, 30)
    table = generate_demandes(400, seed=9, today=today, territories=[grid.communes])
    st = score(grid, table, today, engine="compiled", order_rank=True)
    assert st.order_rank is not None
    mine = order_ranks(grid.ordering, st.score, st.order_keys)
    assert np.array_equal(mine, st.order_rank)
    a = position(grid, st, table, None, today)
    b = position(grid, dataclasses.replace(st, order_rank=None), table, None, today)
    for f in ("level", "rank", "size", "n_above", "rep_row"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.cell_values == b.cell_values


@settings(max_examples=60, deadline=None)
@given(st_.data())
def test_sort_order_and_compact_match_numpy(data):
    from cotation.info.codes import compact, sort_order

    n = data.draw(st_.integers(0, 40))
    spans = data.draw(st_.lists(st_.sampled_from([1, 2, 7, 1000, 2 ** 40]), min_size=1, max_size=3))
    keys = [np.asarray(data.draw(st_.lists(st_.integers(0, s - 1), min_size=n, max_size=n)),
                       dtype=np.int64) for s in spans]
    assert np.array_equal(sort_order(*zip(keys, spans)), np.lexsort(keys[::-1]).astype(np.int64))
    uniq, index = compact(keys[0], spans[0])
    ref_uniq, ref_index = np.unique(keys[0], return_inverse=True)
    assert np.array_equal(uniq, ref_uniq) and np.array_equal(index, ref_index.reshape(-1))


def test_positions_from_arrow_columns_are_those_from_python_values(tmp_path):
    """Positioning reads typologies, est_mutation and date_depot from the table's Arrow arrays
    when it holds them (a table through the boundary): the same positions as from the Python
    values of the same demandes, with sets of typologies whose items come in another order,
    empty and null."""
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from cotation.data.boundary import admit
    from cotation.data.canonical import write_demandes_parquet
    from cotation.data.synth import generate_demandes
    from cotation.engine import score
    from cotation.grid import load_grid
    from cotation.info.positioning import position

    grid = load_grid(Path(__file__).resolve().parents[1] / "grids" / "lyon-metropole.yaml").ir
    today = dt.date(2025, 6, 30)
    write_demandes_parquet(generate_demandes(600, seed=5, today=today,
                                             territories=[grid.communes]), tmp_path / "d.parquet")
    arrow = pq.read_table(tmp_path / "d.parquet")
    typos = arrow.column("typologies").to_pylist()
    typos = [list(reversed(t)) if i % 3 == 0 and t else ([] if i % 7 == 0 else
             (None if i % 11 == 0 else t)) for i, t in enumerate(typos)]
    assert any(t and len(t) > 1 for t in typos[::3])
    arrow = arrow.set_column(arrow.schema.get_field_index("typologies"), "typologies",
                             pa.array(typos, pa.list_(pa.string())))
    table = admit(arrow).table
    python = admit(arrow).table
    for name in ("typologies", "est_mutation", "date_depot"):
        python.columns[name] = list(python.columns[name])      # Python values only
    assert table.arrow_column("typologies") is not None
    assert python.arrow_column("typologies") is None
    st = score(grid, table, today, engine="compiled")
    a = position(grid, st, table, None, today)
    b = position(grid, st, python, None, today)
    for f in ("level", "rank", "size", "n_above", "rep_row", "anciennete_mois"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.cell_values == b.cell_values and a.delai_threshold == b.delai_threshold
    assert a.rows.typologie_vocab == b.rows.typologie_vocab
    assert np.array_equal(a.rows.typologie_code, b.rows.typologie_code)
    assert np.array_equal(a.rows.pair, b.rows.pair)
    from cotation.info.positioning import _row_codes
    for k in ("est_mutation", "typologie", "loc.commune"):
        (ca, va), (cb, vb) = _row_codes(grid, st, table, a.rows)[k], \
            _row_codes(grid, st, python, b.rows)[k]
        assert [va[i] for i in ca] == [vb[i] for i in cb], k
    assert len(set(python.columns["est_mutation"])) > 1


def test_typology_sets_keep_the_python_values_for_items_they_cannot_join():
    # an item holding the joining byte, or an empty item: the Python values are read
    import pyarrow as pa

    from cotation.info.codes import typology_sets

    for items, sets in (([["T1\x1fT2"], ["T1"]], [frozenset({"T1\x1fT2"}), frozenset({"T1"})]),
                        ([[""], ["T1", "T2"]], [frozenset({""}), frozenset({"T1", "T2"})])):
        table = SimpleNamespace(arrow_column=lambda name, a=pa.array(items): a,
                                columns={"typologies": sets})
        sid, distinct = typology_sets(table, np.arange(2))
        assert [distinct[i] for i in sid] == sets
    joined = SimpleNamespace(arrow_column=lambda name: pa.array([["T2", "T1"], None, ["T1", "T2"],
                                                                 []]),
                             columns={"typologies": None})        # not read: the Arrow way
    sid, distinct = typology_sets(joined, np.arange(4))
    assert [distinct[i] for i in sid] == [frozenset({"T1", "T2"}), frozenset(),
                                          frozenset({"T1", "T2"}), frozenset()]
    assert len(distinct) == 2


def test_levels_on_threads_give_the_positions_of_one_thread(monkeypatch):
    # above LEVELS_PARALLEL_FROM rows the peer levels are worked out on threads
    from pathlib import Path

    from cotation.data.synth import generate_demandes
    from cotation.engine import score
    from cotation.grid import load_grid
    from cotation.info import positioning

    grid = load_grid(Path(__file__).resolve().parents[1] / "grids" / "lyon-metropole.yaml").ir
    today = dt.date(2025, 6, 30)
    table = generate_demandes(500, seed=3, today=today, territories=[grid.communes])
    st = score(grid, table, today, engine="compiled")
    monkeypatch.setenv("COTATION_WORKERS", "1")
    one = positioning.position(grid, st, table, None, today)
    monkeypatch.setenv("COTATION_WORKERS", "3")
    monkeypatch.setattr(positioning, "LEVELS_PARALLEL_FROM", 0)
    many = positioning.position(grid, st, table, None, today)
    assert len(positioning.peer_levels(grid)) > 1
    for f in ("level", "rank", "size", "n_above", "rep_row", "cell_id"):
        assert np.array_equal(getattr(one, f), getattr(many, f)), f
    assert one.cell_values == many.cell_values and one.cells == many.cells

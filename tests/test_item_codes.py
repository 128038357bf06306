"""The boundary keeps the codes it gave the items of list columns (localisations, sets of
codes: ``DemandeTable.item_codes``) and the compiled encoder reads them instead of hashing
every item again (issue 11); it also says that numero_unique is all different
(``DemandeTable.is_distinct``), so the encoder numbers it by its sort order. The codes must describe the stored column exactly, after
rejected rows are dropped and when rows are re-read by the scalar parsers; and the encoder
must give the same batch with them as without."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cotation.data.canonical import read_arrow_table
from cotation.data.table import DemandeTable

from test_typed_boundary import _hostile

LISTS = ("localisations", "motifs", "criteres_valides", "typologies")


def _texts(n: int, seed: int) -> pa.Table:
    """Canonical CSV cells as text: list columns through the split paths (above the size
    where they apply), with odd cells that are rejected or re-read by the scalar parsers."""
    rng = np.random.default_rng(seed)

    def col(good, odd, p=0.05):
        return [odd[rng.integers(len(odd))] if rng.random() < p else
                good[rng.integers(len(good))] for _ in range(n)]

    return pa.table({
        "numero_unique": [f"N{i:07d}" for i in range(n)],
        "date_depot": ["2023-05-01"] * n,
        "nb_personnes": ["2"] * n,
        "localisations": col(["69123|69266", "69266", "2A004|69123|69123", ""],
                             ["6912", "69123||69266", " 69123", "69123|"]),
        "motifs": col(["sans_logement|trop_cher", "trop_cher|sans_logement", "", "handicap"],
                      ["trop_cher|trop_cher", "inconnu", "trop_cher||handicap", " trop_cher"]),
        "criteres_valides": col(["b|a", "a", "", "c1|c2|c3"], ["a|a", " a", "a||b"]),
        "typologies": col(["T2|T3", "T1", ""], ["T2|T2", "T9"]),
    })


def _check_codes(table: DemandeTable) -> set[str]:
    """Every item code decodes to the item stored; the columns that carry codes."""
    carried = set()
    for name in LISTS:
        codes = table.item_codes(name)
        if codes is None:
            continue
        carried.add(name)
        flat = pc.list_flatten(table.arrow_column(name))
        assert len(codes.indices) == len(flat), name
        assert codes.dictionary.take(pa.array(codes.indices)).equals(flat), name
    return carried


@pytest.mark.parametrize("n,seed", [(300, 1), (40_000, 2)])
def test_codes_describe_the_stored_items_typed(n, seed):
    got = read_arrow_table(_hostile(n, seed), source="t")
    assert got.rejects                             # rows dropped after the codes were made
    carried = _check_codes(got.table)
    assert "localisations" in carried


@pytest.mark.parametrize("n,seed", [(40_000, 3), (50_000, 4)])
def test_codes_describe_the_stored_items_from_text(n, seed):
    got = read_arrow_table(_texts(n, seed), source="t")
    assert got.rejects
    carried = _check_codes(got.table)
    assert {"localisations", "motifs"} <= carried


def test_codes_follow_the_rows_the_scalar_parser_rewrote():
    # items the vectorised check does not vouch for (a repeated code, a null item, an edge
    # space) send the row to the scalar parser; its value replaces the row, and the codes of
    # the replaced items are appended to the dictionary
    table = pa.table({"numero_unique": ["A1", "A2", "A3", "A4"],
                      "date_depot": pa.array([dt.date(2023, 1, 1)] * 4, pa.date32()),
                      "nb_personnes": [1, 2, 3, 4],
                      "motifs": pa.array([["trop_cher", "trop_cher"], ["handicap"], [],
                                          ["handicap", None]], pa.list_(pa.string())),
                      "localisations": pa.array([["69123", None], ["69266"], ["69123"], []],
                                                pa.list_(pa.string()))})
    got = read_arrow_table(table, source="t")
    assert not got.rejects
    assert got.table.columns["motifs"][0] == frozenset({"trop_cher"})
    assert got.table.columns["localisations"][0] == ("69123",)
    assert _check_codes(got.table) == {"motifs", "localisations"}


def _without_codes(table: DemandeTable) -> DemandeTable:
    cols = {k: table.arrow_column(k) for k in table.columns}
    extras = {k: table.arrow_column(k) for k in table.extras}
    return DemandeTable.from_arrow(cols, extras, len(table), table.source_lines,
                                   {"numero_unique": table.sort_order("numero_unique")})


@pytest.mark.parametrize("source", ["typed", "text"])
def test_the_encoder_gives_the_same_batch_with_the_codes(source):
    from _support import ROOT
    from cotation.engine.compiled import CompiledGrid
    from cotation.grid import load_grid

    grid = load_grid(ROOT / "grids" / "lyon-metropole.yaml").ir
    data = _hostile(40_000, 5) if source == "typed" else _texts(40_000, 6)
    table = read_arrow_table(data, source="t").table
    plain = _without_codes(table)
    assert table.item_codes("localisations") is not None
    assert plain.item_codes("localisations") is None
    cg = CompiledGrid(grid)
    extra = ("motifs", "criteres_valides", "typologies")
    a = cg.encode(table, extra_columns=extra)
    b = cg.encode(plain, extra_columns=extra)
    for x, y in zip([*a.cols, a.loc_ptr, a.loc_terr, a.loc_val, *a.extra.values()],
                    [*b.cols, b.loc_ptr, b.loc_terr, b.loc_val, *b.extra.values()]):
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
    assert a.domains == b.domains and a.commune_dict.equals(b.commune_dict)
    assert len(a.loc_val) and (a.extra["motifs"] != 0).any()
    # numero_unique, all different after the boundary: its ids are its sorted positions and
    # the text dictionary is gathered only when read
    from cotation.engine.compiled.encode import SortedText
    assert table.is_distinct("numero_unique") and not plain.is_distinct("numero_unique")
    assert isinstance(a.texts, SortedText) and not isinstance(b.texts, SortedText)
    assert a.text_dict.equals(b.text_dict)
    assert a.text_dict.to_pylist() == sorted(table.columns["numero_unique"])


def test_lazy_codes_are_made_once_when_threads_read_them_together():
    # threads encoding one table share its codes: the function that makes them runs once,
    # and every reader gets its result
    import threading
    import time

    from cotation.data.vector import ItemCodes
    calls = []

    def make():
        calls.append(1)
        time.sleep(0.05)                 # the others arrive while it runs
        return np.arange(5, dtype=np.int32)

    codes = ItemCodes(pa.array(["a"]), make=make)
    got = []
    threads = [threading.Thread(target=lambda: got.append(codes.indices)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)
    rows = codes.of_rows(np.array([2, 0, 3]), np.array([True, True, False]))
    assert rows.indices.tolist() == [0, 1] and len(calls) == 1


def test_scores_of_a_boundary_table_do_not_gather_its_text_dictionary():
    # numero_unique's sorted strings are gathered only when a text key is decoded
    from _support import ROOT
    from cotation.api import Scorer
    from cotation.engine.compiled.encode import SortedText

    scorer = Scorer.from_file(ROOT / "grids" / "lyon-metropole.yaml", engine="compiled")
    table = read_arrow_table(_hostile(3000, 8), source="t").table
    batch = scorer.prepare(table)
    result = scorer.score(batch, dt.date(2025, 6, 30))
    assert isinstance(batch.texts, SortedText) and batch.texts._array is None
    assert len(result.ranks) and batch.texts._array is None
    st = result.to_score_table()                    # key values decoded on demand only
    assert len(st.rank) and batch.texts._array is None
    assert batch.text_dict.to_pylist() == sorted(table.columns["numero_unique"])

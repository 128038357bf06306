"""Columns that arrive in their canonical Arrow type are checked as they are (issue 11), with
the same result as reading their canonical text row by row: same rows, values, rejects (line,
column, value, reason) and lines, at sizes on both sides of the vectorised thresholds, from
sliced, chunked and dictionary-encoded arrays too. The compiled engine then encodes the checked
arrays without making a Python object per demande, and scores like the interpreter."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.csv  # noqa: F401 - pa.csv in the Parquet tests
import pytest
from hypothesis import given, settings, strategies as st

from cotation.data.canonical import demandes_to_arrow, read_arrow_table
from cotation.data.schema import COLUMNS
from cotation.data.table import ArrowColumns

L = pa.list_(pa.string())
EPOCH = dt.date(1970, 1, 1)


def _hostile(n: int, seed: int) -> pa.Table:
    """``n`` rows of typed columns, about one in five with an odd value somewhere."""
    rng = np.random.default_rng(seed)

    def pick(choices, odd, p=0.05):
        return [odd[rng.integers(len(odd))] if rng.random() < p else
                choices[rng.integers(len(choices))] for _ in range(n)]

    nus = [f"069{i:09d}" for i in range(n)]
    for i in (rng.integers(0, n, max(1, n // 50)) if n else []):       # duplicates
        nus[int(i)] = nus[int(i) // 2]
    nus = pick(nus, [" 0691", "", None], 0.01) if n else nus
    days = pick([dt.date(2020, 1, 1), dt.date(2024, 2, 29), dt.date(2023, 6, 1)],
                [None, dt.date(1, 1, 1), dt.date(9999, 12, 31)])
    far = pa.array([(d - EPOCH).days if d else None for d in days], pa.int32())
    far = pa.array(np.where(rng.random(n) < 0.02, 4_000_000, far.fill_null(0).to_numpy()),
                   pa.int32()).cast(pa.date32())        # years beyond 9999
    motifs = pick([["sans_logement", "trop_cher"], ["trop_cher", "sans_logement"], [], None],
                  [["trop_cher", "trop_cher"], ["inconnu"], [None], [" trop_cher"]])
    valides = pick([["b", "a"], ["a"], []], [["", "a"], ["a|b"], ["a", "a"], [" a"]])
    locs = pick([["69123", "69266"], ["69266"], ["2A004", "69123", "69123"]],
                [[], None, ["6912"], ["69123", None], ["69 123"]])
    return pa.table({
        "numero_unique": pa.array(nus, pa.string()),
        "date_depot": pa.array([d if d != dt.date(1, 1, 1) else None for d in days], pa.date32()),
        "date_naissance": far,
        "nb_personnes": pa.array(pick([1, 2, 3], [None, -1, 2**31 - 1]), pa.int32()),
        "nb_adultes": pa.array(pick([1, 2], [10**13]), pa.uint64()),
        "nb_enfants": pa.array(pick([0, 1], [None, -2]), pa.int64()),
        "revenu_fiscal_reference": pa.array(pick([20000, 0], [-5, 2 * 10**12]), pa.int64()),
        "ressources_mensuelles": pa.array(pick([1500.0, 900.5], [None, float("nan"),
                                                                 float("inf"), 1e13])),
        "est_mutation": pa.array(pick([True, False], [None]), pa.bool_()),
        "situation_logement": pa.array(pick(["locataire_prive", "sans_abri"],
                                            ["inconnu", " sans_abri", ""]), pa.string())
                                .dictionary_encode(),
        "commune_residence": pa.array(pick(["69123", "2B033"], ["6912", " 69123", None])),
        "motifs": pa.array(motifs, L),
        "criteres_valides": pa.array(valides, L),
        "localisations": pa.array(locs, L),
        "extra": pa.array(pick(["x", ""], [None]), pa.string()),
    })


def _same(a, b) -> None:
    assert a.n_read == b.n_read and len(a.table) == len(b.table)
    assert [r.as_row() for r in a.rejects] == [r.as_row() for r in b.rejects]
    assert a.table.source_lines == b.table.source_lines
    for c in COLUMNS:
        assert a.table.columns[c.name] == b.table.columns[c.name], c.name
    assert dict(a.table.extras) == dict(b.table.extras)


@pytest.mark.parametrize("n", [0, 1, 300, 40_000])
def test_typed_columns_read_like_their_text_row_by_row(n):
    table = _hostile(n, seed=n)
    fast = read_arrow_table(table, source="t")
    slow = read_arrow_table(table, source="t", fast=False)
    _same(fast, slow)
    assert isinstance(fast.table.columns, ArrowColumns)
    assert fast.n_accepted + len(fast.rejects) == n
    if n >= 300:
        assert fast.rejects and fast.n_accepted


def test_sliced_and_chunked_arrays():
    table = _hostile(3000, seed=7)
    sliced = table.slice(1000, 1500)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=700))
    for t in (sliced, chunked):
        _same(read_arrow_table(t, source="t"), read_arrow_table(t, source="t", fast=False))


def test_sets_are_kept_in_canonical_order():
    table = _hostile(2000, seed=3)
    got = read_arrow_table(table, source="t").table
    out = demandes_to_arrow(got)
    from cotation.data.schema import COLUMNS_BY_NAME
    enum = COLUMNS_BY_NAME["motifs"].enum
    for cell in out.column("motifs").to_pylist():
        assert cell == [m for m in enum if m in set(cell)]
    for cell in out.column("criteres_valides").to_pylist():
        assert cell == sorted(set(cell))


def test_compiled_engine_scores_the_checked_arrays_like_the_interpreter():
    from cotation.engine import score
    from cotation.grid import load_grid
    from _support import ROOT

    grid = load_grid(ROOT / "grids" / "lyon-metropole.yaml")
    import pyarrow.csv as pacsv
    arrow = pacsv.read_csv(ROOT / "examples" / "data" / "demandes.csv")
    table = read_arrow_table(arrow, source="t").table
    today = dt.date(2025, 6, 30)
    a = score(grid.ir, table, today, engine="compiled")
    assert table.columns._lists == {}              # no Python list was made to encode it
    b = score(grid.ir, table, today, engine="interpreter")
    assert a.numero_unique.tolist() == b.numero_unique.tolist()
    assert a.score.tolist() == b.score.tolist() and a.rank.tolist() == b.rank.tolist()


def test_edge_space_characters_are_those_str_strip_removes():
    from cotation.data.vector import _PY_SPACE_CHARS, _popcount
    assert _PY_SPACE_CHARS == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    x = np.array([0, 1, 3, 2**63 + 5, 2**64 - 1], dtype=np.uint64)
    assert _popcount(x).tolist() == [0, 1, 2, 3, 64]


@pytest.mark.parametrize("n", [300, 40_000])
def test_the_kept_sort_order_sorts_numero_unique(n):
    table = read_arrow_table(_hostile(n, seed=11), source="t").table
    order = table.sort_order("numero_unique")
    nus = table.columns["numero_unique"]
    assert [nus[i] for i in order] == sorted(nus)


def test_text_columns_read_like_row_by_row():
    """The vectorised text paths (numbers, ISO dates, localisations, text, codes) above their
    thresholds, against the scalar parsers."""
    n = 40_000
    rng = np.random.default_rng(5)
    dates = ["2024-02-29", "2024-02-30", "0000-01-01", "0001-01-01", "9999-12-31", "2023-13-01",
             "2023-1-01", "", " 2024-01-01", "1900-02-29", "2000-02-29", "0999-05-05",
             "+2024-01-01", "2024-01-01 "]

    def col(good, odd, p=0.1):
        return [odd[rng.integers(len(odd))] if rng.random() < p else
                good[rng.integers(len(good))] for _ in range(n)]

    table = pa.table({
        "numero_unique": [f"N{i:07d}" if rng.random() > 0.01 else f" N{i:07d}" for i in range(n)],
        "date_depot": col([f"2023-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)],
                          dates),
        "date_naissance": col([f"19{y:02d}-06-15" for y in range(100)], dates),
        "nb_personnes": col([str(k) for k in range(1, 9)], ["-1", "3.0", " 4", "1e3", "", "٣"]),
        "ressources_mensuelles": col([f"{k}.5" for k in range(900, 2000)],
                                     ["1e13", "nan", "inf", "1,5", "", "-3.25"]),
        "localisations": col(["69123|69266", "69266", "2A004|69123|69123"],
                             ["", "6912", "69123||69266", " 69123", "69123|"]),
        "profession": col(["infirmier", "", "aide-soignante"], [" x", "y\u00a0"]),
        "situation_logement": col(["locataire_prive", "sans_abri"], ["inconnu", " sans_abri"]),
        "motifs": col(["sans_logement|trop_cher", "trop_cher|sans_logement", "", "handicap"],
                      ["trop_cher|trop_cher", "inconnu", "trop_cher||handicap", " trop_cher",
                       "trop_cher|", "|"]),
        "criteres_valides": col(["b|a", "a", "", "c1|c2|c3"], ["a|a", " a", "a||b", "a|b|a"]),
    })
    _same(read_arrow_table(table, source="t"), read_arrow_table(table, source="t", fast=False))


def test_arrow_backed_table_behaves_like_lists():
    from cotation.data.table import DemandeTable
    got = read_arrow_table(_hostile(500, seed=2), source="t").table
    plain = DemandeTable({k: list(v) for k, v in got.columns.items()},
                         {k: list(v) for k, v in got.extras.items()}, got.source_lines)
    assert len(got) == len(plain) and got == plain
    assert list(got.rows())[:50] == list(plain.rows())[:50]
    assert got.take([3, 1, 4]).columns == plain.take([3, 1, 4]).columns
    got.columns["profession"] = ["x"] * len(got)          # replaced: the arrays are not used
    assert got.arrow_column("profession") is None and got.columns["profession"][0] == "x"
    assert got.arrow_column("nb_personnes") is not None
    assert list(got.columns) == [c.name for c in COLUMNS]


@pytest.mark.parametrize("words", [1, 2, 3])
def test_bitsets_by_runs_equal_the_scatter(words):
    from cotation.engine.compiled.encode import _bitsets
    rng = np.random.default_rng(words)
    n = 50
    cases = [(rng.integers(0, 12, n), 64 * words), (np.where(rng.random(n) < 0.6, 0, 3), 64 * words),
             (np.zeros(n, int), 64 * words), (rng.integers(0, 5, n), 2),      # many repeats
             (rng.integers(0, 40, n), 64 * words)]                              # long rows
    for counts, span in cases:
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        rows = np.repeat(np.arange(n), counts)
        dom = rng.integers(0, span, len(rows))
        if span == 2 and words == 1:
            dom += 62                       # bits 62 and 63: sums carry past 64 bits
        want = np.zeros((n, words), np.uint64)
        np.bitwise_or.at(want, (rows, dom >> 6),
                         np.left_shift(np.uint64(1), (dom & 63).astype(np.uint64)))
        got = _bitsets(words, offsets, dom)
        assert got.shape == (n, words) and got.flags.c_contiguous and (got == want).all()
    # distinct elements in every row (checked sets): the sums alone, no row ORed again
    if words == 1:
        offsets = np.arange(0, 3 * n + 1, 3)
        dom = np.concatenate([rng.permutation(64)[:3] for _ in range(n)])
        want = np.bitwise_or.reduceat(np.left_shift(np.uint64(1), dom.astype(np.uint64)),
                                      offsets[:-1]).reshape(n, 1)
        assert (_bitsets(1, offsets, dom) == want).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(
    ["locataire_prive", "sans_abri", "", " sans_abri", "inconnu", "69123", "6912", "2A004"])),
    max_size=40), st.sampled_from(["situation_logement", "commune_residence"]), st.booleans())
def test_codes_with_null_cells_read_like_the_scalar_parser(cells, name, required):
    # code and commune columns are read by distinct text, null cells as empty ones, without
    # a copy of the column (Arrow's own encoding when every text is its own value)
    from dataclasses import replace
    from cotation.data.canonical import canonical_fields
    from cotation.data.values import ValueParseError
    from cotation.data.vector import vector_parse
    spec = replace(canonical_fields([name])[0], required=required)
    values, ok, _ = vector_parse(spec, pa.array(cells, pa.string()))
    assert pa.types.is_dictionary(values.type) and values.type.value_type == pa.string()
    got = values.to_pylist()
    for cell, good, value in zip(cells, ok.tolist(), got):
        try:
            want = spec.parse("" if cell is None else cell)
        except ValueParseError:
            assert not good, cell
        else:
            assert good and value == want, (cell, value, want)


def test_null_cells_take_the_value_the_parser_gives_an_empty_cell():
    # a mapped extraction's parser may give an empty cell a value: null cells get it too
    from dataclasses import replace
    from cotation.data.canonical import canonical_fields
    from cotation.data.vector import vector_parse
    base = canonical_fields(["situation_logement"])[0]
    spec = replace(base, parse=lambda t: "sans_abri" if t == "" else base.parse(t))
    values, ok, _ = vector_parse(spec, pa.array(["locataire_prive", None, "sans_abri"]))
    assert values.to_pylist() == ["locataire_prive", "sans_abri", "sans_abri"] and ok.all()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.sampled_from(["a", "é", " ", "\t", "\xa0", "\u2003", "\u3000",
                                         "\x85", "x", "\x1f", "€", "\u200b"]), max_size=4),
                min_size=1, max_size=30),
       st.integers(0, 3), st.booleans())
def test_free_text_reads_like_the_scalar_parser(cells, skip, required):
    # the edge-space check on bytes (ASCII first and last bytes clear a cell, others are
    # trimmed by Arrow) against str.strip(), on arrays with an offset too
    from dataclasses import replace
    from cotation.data.canonical import canonical_fields
    from cotation.data.values import ValueParseError
    from cotation.data.vector import vector_parse
    spec = replace(canonical_fields(["profession"])[0], required=required)
    arr = pa.array(["pad"] * skip + cells, pa.string()).slice(skip)
    values, ok, _ = vector_parse(spec, arr)
    for cell, good, value in zip(cells, ok.tolist(), values.to_pylist()):
        try:
            want = spec.parse(cell)
        except ValueParseError:
            assert not good, cell
        else:
            assert not good or value == want, (cell, value)
        # vouched for exactly when no white space is at an edge (empty: missing, or not)
        if cell:
            assert good == (cell == cell.strip()), cell


def test_rows_repeating_a_code_are_found_by_the_running_sums():
    """vector._repeated (a set of codes may not hold a code twice): each row's sum of one bit
    per code has as many bits as the row has items exactly when no code repeats; checked
    against the set of each row, codes 62 and 63 (carries past 64 bits) included."""
    import numpy as np

    from cotation.data.vector import _repeated
    rng = np.random.default_rng(7)
    for _ in range(3000):
        n = int(rng.integers(0, 12))
        lengths = rng.integers(0, 6, n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        pos = rng.integers(0, int(rng.choice([2, 5, 64])), int(offsets[-1])).astype(np.int64)
        if len(pos) and rng.random() < 0.3:
            pos[:] = rng.choice([62, 63], len(pos))
        if len(pos) < 2:
            continue
        expected = [len(set(pos[offsets[i]:offsets[i + 1]].tolist())) < lengths[i]
                    for i in range(n)]
        assert _repeated(offsets, pos, n).tolist() == expected
    assert _repeated(np.array([0, 70]), np.full(70, 63), 1).tolist() == [True]     # wraps
    assert _repeated(np.array([0, 64]), np.arange(64), 1).tolist() == [False]
    assert _repeated(np.array([0, 2, 4]), np.array([1, 200, 200, 200]), 2).tolist() == [False, True]


def test_a_parquet_column_of_an_unreadable_type_is_an_input_error(tmp_path, capsys):
    """A struct where a date is expected: exit 1 with one located line (it was exit 3, an
    internal error), for the demandes and for the attributions."""
    import pyarrow.parquet as pq

    from cotation.cli import main
    from cotation.data.canonical import (UnreadableColumnError, read_attributions_parquet,
                                         read_canonical_parquet)
    from _support import ROOT
    table = pa.csv.read_csv(ROOT / "examples/data/demandes.csv").slice(0, 5)
    table = table.set_column(table.column_names.index("date_depot"), "date_depot",
                             pa.array([{"a": 1}] * 5))
    path = tmp_path / "struct.parquet"
    pq.write_table(table, path)
    with pytest.raises(UnreadableColumnError, match=r"struct\.parquet:1: .*date_depot"):
        read_canonical_parquet(path)
    for command in (["score", str(ROOT / "grids/lyon-metropole.yaml"), str(path), "--today",
                     "2025-06-30", "-o", str(tmp_path / "s.csv")],
                    ["convert", str(path), "-o", str(tmp_path / "c.csv")]):
        assert main(command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "struct.parquet:1:" in err[0] and "date_depot" in err[0], err
    att = pa.csv.read_csv(ROOT / "examples/data/attributions.csv").slice(0, 5)
    att = att.set_column(att.column_names.index("date_attribution"), "date_attribution",
                         pa.array([{"a": 1}] * 5))
    pq.write_table(att, tmp_path / "att.parquet")
    with pytest.raises(UnreadableColumnError, match=r"att\.parquet:1: .*date_attribution"):
        read_attributions_parquet(tmp_path / "att.parquet")


def test_a_file_named_parquet_that_is_not_is_one_line_in_the_users_words(tmp_path, capsys):
    from cotation.cli import main
    from cotation.data.canonical import UnreadableColumnError, read_attributions_parquet
    from _support import ROOT
    fake = tmp_path / "x.parquet"
    fake.write_text("numero_unique\nA\n", encoding="utf-8")
    assert main(["score", str(ROOT / "grids/lyon-metropole.yaml"), str(fake), "--today",
                 "2025-06-30", "-o", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {fake}: not a readable Parquet file (it does not end with the "
                   "Parquet signature)"], err
    with pytest.raises(UnreadableColumnError, match="not a readable Parquet file"):
        read_attributions_parquet(fake)

"""The output side of ``cotation score``: score text, output order, the CSV quoting check, and
the kernels loaded while the demandes are read. Each quick path is checked against the plain
definition it replaces."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from cotation.engine.scoring import format_hundredths, hundredths_text, output_order

INT64 = st.integers(-2 ** 63, 2 ** 63 - 1)
EDGES = [0, 1, -1, 5, -5, 9, 10, 99, 100, -100, 101, -199, 999, 1000, 10 ** 18, -(10 ** 18),
         2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63, -2 ** 63 + 1, -2 ** 63 + 100]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(INT64, st.sampled_from(EDGES), st.integers(-3000, 3000)),
                max_size=300),
       st.integers(0, 2 ** 32))
def test_score_text_is_format_hundredths(values, seed):
    """Wide ranges (each cell written) and narrow ones (each distinct value written once,
    then taken): the text of every cell is format_hundredths', null where not valid."""
    h = np.array(values, dtype=np.int64)
    assert hundredths_text(h).to_pylist() == [format_hundredths(v) for v in values]
    valid = np.random.default_rng(seed).random(len(values)) < 0.7
    assert hundredths_text(h, valid).to_pylist() == [
        format_hundredths(v) if ok else None for v, ok in zip(values, valid.tolist())]


def test_score_text_of_a_narrow_column_takes_distinct_values(monkeypatch):
    """A column within 4n slots has each distinct value written once (then taken); a wide
    one cell by cell; the text is format_hundredths' either way."""
    from cotation.engine import scoring

    written = []
    real = scoring._hundredths_cells

    def spy(h):
        written.append(len(h))
        return real(h)

    monkeypatch.setattr(scoring, "_hundredths_cells", spy)
    rng = np.random.default_rng(3)
    for lo, hi in ((0, 30_000), (-500, 500), (2 ** 63 - 2_000, 2 ** 63 - 1), (-2 ** 63, -2 ** 63 + 50),
                   (0, 10 ** 12)):
        h = rng.integers(lo, hi, 5_000, dtype=np.int64, endpoint=True)
        written.clear()
        text = hundredths_text(h)
        assert text.type == pa.string()
        assert text.to_pylist() == [format_hundredths(v) for v in h.tolist()]
        narrow = hi - lo < 4 * len(h)
        assert written == [len(np.unique(h)) if narrow else len(h)], (lo, hi)
    assert hundredths_text(np.array([], dtype=np.int64)).to_pylist() == []


def _pairs(n_cells: int, n: int, seed: int, permute: bool):
    rng = np.random.default_rng(seed)
    terr = rng.integers(0, n_cells, n).astype(np.int32)
    if permute:         # ranks 1..size in each cell, as the engines give them
        rank = np.empty(n, dtype=np.int64)
        for c in range(n_cells):
            rows = np.flatnonzero(terr == c)
            rank[rows] = rng.permutation(len(rows)) + 1
    else:               # ties, gaps, zero: anything
        rank = rng.integers(0, 4, n)
    territory = tuple(rng.permutation([f"{69000 + 7 * c:05d}" for c in range(n_cells)]).tolist())
    return _Table(terr=terr, rank=rank, territory=territory,
                  commune=np.array(territory, dtype=object)[terr])


class _Table(SimpleNamespace):
    """What output_order reads of a ScoreTable."""

    def __len__(self):
        return len(self.rank)


@pytest.mark.parametrize("permute", [True, False])
@pytest.mark.parametrize("n_cells,n", [(1, 1), (1, 50), (7, 300), (40, 5_000), (300, 200)])
def test_output_order_is_the_lexsort(permute, n_cells, n):
    for seed in range(5):
        p = _pairs(n_cells, n, seed, permute)
        expected = np.lexsort((p.rank, p.commune.astype(str)))      # commune text, then rank
        assert np.array_equal(output_order(p), expected)
        # without the communes' indices: the string sort, same order
        assert np.array_equal(output_order(_Table(terr=None, rank=p.rank, commune=p.commune)),
                              expected)


def test_output_order_falls_back_when_a_rank_repeats():
    from cotation.engine.scoring import by_cell_and_rank
    cell = np.array([0, 0, 1, 1, 1])
    assert np.array_equal(by_cell_and_rank(cell, np.array([2, 1, 1, 3, 2]), 2), [1, 0, 2, 4, 3])
    assert by_cell_and_rank(cell, np.array([1, 1, 1, 2, 3]), 2) is None      # a tie
    assert by_cell_and_rank(cell, np.array([1, 3, 1, 2, 3]), 2) is None      # past the size
    assert by_cell_and_rank(cell, np.array([0, 1, 1, 2, 3]), 2) is None      # rank 0


_SPECIAL = re.compile(r'[,"\r\n]')


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(
    list("ab,\"\r\n-é+ \x00\x7f")), max_size=6)), min_size=1, max_size=40),
       st.integers(0, 5), st.booleans(), st.booleans())
def test_quote_check_is_the_regex(cells, cut, large, chunked):
    """The byte scan that lets Arrow write the CSV body says a cell needs quotes exactly
    when the regex it replaces finds one (nulls, slices, chunks and large strings too)."""
    from cotation.cli.core import _needs_quotes
    arr = pa.array(cells, pa.large_string() if large else pa.string())
    arr = arr.slice(min(cut, len(arr)))
    expected = any(c is not None and _SPECIAL.search(c) for c in arr.to_pylist())
    if chunked and len(arr) > 1:
        arr = pa.chunked_array([arr.slice(0, 1), arr.slice(1)])
    assert _needs_quotes(arr) == expected


# ------------------------------------------------------------------ kernels loaded while reading

@pytest.fixture
def big(tmp_path, monkeypatch):
    """A demandes file that counts as large (the threshold lowered to 0 bytes)."""
    import cotation.cli.core as core
    from test_cli import DEMANDES, SPEC_GRID
    monkeypatch.setattr(core, "LOAD_WHILE_READING_BYTES", 0)
    demandes = tmp_path / "d.csv"
    demandes.write_text(DEMANDES, encoding="utf-8")
    return ["score", str(SPEC_GRID), str(demandes), "--today", "2025-06-30", "-o"]


def _spy(monkeypatch):
    """The KernelLoad objects started, and the threads CompiledGrid.warm ran on."""
    import threading

    import cotation.cli.core as core
    from cotation.engine.compiled.engine import CompiledGrid
    seen, warmed = [], []
    original, warm = core.KernelLoad._load, CompiledGrid.warm

    def load(self):
        seen.append(self)
        original(self)

    def spy_warm(self):
        warmed.append(threading.current_thread().name)
        warm(self)
    monkeypatch.setattr(core.KernelLoad, "_load", load)
    monkeypatch.setattr(CompiledGrid, "warm", spy_warm)
    return seen, warmed


def test_kernels_load_while_reading_and_scores_are_the_same(big, tmp_path, monkeypatch, capsys):
    import cotation.cli.core as core
    from cotation.cli import main
    assert main(big + [str(tmp_path / "plain.csv"), "--engine", "interpreter"]) == 0
    assert main(big + [str(tmp_path / "first.csv"), "--engine", "compiled"]) == 0   # cached now
    seen, warmed = _spy(monkeypatch)
    assert main(big + [str(tmp_path / "loaded.csv"), "--engine", "compiled"]) == 0
    assert len(seen) == 1 and seen[0].compiled is not None
    assert warmed == ["cotation-kernels"]                  # loaded on the thread
    assert not seen[0]._thread.is_alive()                  # joined before the command returns
    monkeypatch.setattr(core, "LOAD_WHILE_READING_BYTES", 1 << 60)
    assert main(big + [str(tmp_path / "late.csv"), "--engine", "compiled"]) == 0
    assert len(seen) == 1                                  # a small file: no thread
    texts = {p: (tmp_path / p).read_bytes() for p in ("plain.csv", "first.csv", "loaded.csv",
                                                     "late.csv")}
    assert len(set(texts.values())) == 1


def test_no_kernel_thread_for_the_interpreter(big, tmp_path, monkeypatch):
    from cotation.cli import main
    seen, warmed = _spy(monkeypatch)
    assert main(big + [str(tmp_path / "o.csv"), "--engine", "interpreter"]) == 0
    assert seen == [] and warmed == []


def test_the_thread_never_compiles(big, tmp_path, monkeypatch, capsys):
    """Kernels not in the cache: the thread leaves them alone and the main thread compiles
    them, saying so (simulated, as in test_workers.py)."""
    import threading

    from cotation.cli import main
    from cotation.engine.compiled.engine import CompiledGrid
    monkeypatch.setattr(CompiledGrid, "kernels_cached", lambda self: False)
    seen, warmed = _spy(monkeypatch)
    assert main(big + [str(tmp_path / "o.csv"), "--engine", "compiled"]) == 0
    assert len(seen) == 1 and warmed == [threading.main_thread().name]
    err = capsys.readouterr().err
    assert "kernels" in err or "noyaux" in err


def test_a_failed_load_is_met_again_by_scoring(big, tmp_path, monkeypatch, capsys):
    """The thread's load fails: scoring loads the kernels itself; same bytes."""
    from cotation.cli import main
    from cotation.engine.compiled.engine import CompiledGrid
    assert main(big + [str(tmp_path / "a.csv"), "--engine", "interpreter"]) == 0
    assert main(big + [str(tmp_path / "b.csv"), "--engine", "compiled"]) == 0   # cached now
    seen, warmed = _spy(monkeypatch)
    calls = []

    def broken(self):
        calls.append(1)
        raise RuntimeError("no luck")
    monkeypatch.setattr(CompiledGrid, "warm", broken)
    import threading
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    assert main(big + [str(tmp_path / "c.csv"), "--engine", "compiled"]) == 0
    assert calls == [1] and len(seen) == 1 and uncaught == []
    monkeypatch.setattr("cotation.cli.core._compiled", lambda grid: None)
    assert main(big + [str(tmp_path / "e.csv")]) == 0          # no compiler: interpreter
    outputs = {(tmp_path / p).read_bytes() for p in ("a.csv", "b.csv", "c.csv", "e.csv")}
    assert len(outputs) == 1


def test_an_error_on_the_thread_is_one_line_from_the_main_thread(big, tmp_path, monkeypatch,
                                                                 capsys):
    """Looking at the kernel cache fails (here: an OSError): the thread prints nothing; the
    main thread meets the error again and reports it in one line, as without the thread."""
    import cotation.cli.core as core
    from cotation.cli import main
    from cotation.engine.compiled.engine import CompiledGrid

    import threading

    def unreadable(self):
        raise NotADirectoryError(20, "Not a directory", "/cache")
    monkeypatch.setattr(CompiledGrid, "kernels_cached", unreadable)
    uncaught = []      # what would print "Exception in thread ..." and a traceback
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    code = main(big + [str(tmp_path / "o.csv"), "--engine", "compiled"])
    with_thread = capsys.readouterr().err
    monkeypatch.setattr(core, "LOAD_WHILE_READING_BYTES", 1 << 60)
    assert main(big + [str(tmp_path / "o.csv"), "--engine", "compiled"]) == code != 0
    without = capsys.readouterr().err
    assert with_thread == without and len(with_thread.strip().splitlines()) == 1
    assert uncaught == []


def test_auto_decides_on_what_it_saw_before_the_thread(big, tmp_path, monkeypatch, capsys):
    """``auto`` picks the interpreter for a small table when Numba had not started: the
    thread starting it meanwhile does not change the choice (nor the summary line)."""
    import sys

    import cotation.cli.core as core
    from cotation.cli import main
    numba = sys.modules["numba"] if "numba" in sys.modules else __import__("numba")
    monkeypatch.delitem(sys.modules, "numba")

    def load(self):                 # the thread "starts Numba": it is in sys.modules now
        sys.modules["numba"] = numba
    monkeypatch.setattr(core.KernelLoad, "_load", load)
    assert main(big + [str(tmp_path / "o.csv")]) == 0
    assert sys.modules.get("numba") is numba
    assert "engine interpreter" in capsys.readouterr().err


def test_an_unreadable_file_still_joins_the_thread(big, tmp_path, monkeypatch, capsys):
    from cotation.cli import main
    seen, _warmed = _spy(monkeypatch)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"not,a,demandes,file\n1,2,3,4\n")
    big[2] = str(bad)
    assert main(big + [str(tmp_path / "o.csv"), "--engine", "compiled"]) != 0
    assert len(seen) == 1 and not seen[0]._thread.is_alive()


def test_score_never_makes_the_python_numero_unique(big, tmp_path, monkeypatch):
    """The command writes numero_unique from the table's Arrow column."""
    import cotation.engine.compiled.engine as engine
    from cotation.cli import main
    made = []
    monkeypatch.setattr(engine, "_pair_strings", lambda *a: made.append(a))
    assert main(big + [str(tmp_path / "o.csv"), "--engine", "compiled"]) == 0
    assert made == []


def test_compiled_numero_unique_is_made_on_first_read():
    """The compiled engine's ScoreTable makes its numero_unique strings only when read (the
    CLI writes the Arrow column); then they are the interpreter's."""
    import datetime as dt

    from cotation.engine import score
    from cotation.engine.scoring import OnDemand
    from cotation.grid import load_grid
    from sne_adapters import read_demandes
    from test_cli import DEMANDES, SPEC_GRID
    import tempfile
    from pathlib import Path

    grid = load_grid(SPEC_GRID).ir
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "d.csv")
        path.write_text(DEMANDES, encoding="utf-8")
        table = read_demandes(path).table
    today = dt.date(2025, 6, 30)
    compiled = score(grid, table, today, engine="compiled")
    assert isinstance(compiled.__dict__["_numero_unique"], OnDemand)
    reference = score(grid, table, today, engine="interpreter")
    assert compiled.numero_unique.tolist() == reference.numero_unique.tolist()
    assert not isinstance(compiled.__dict__["_numero_unique"], OnDemand)     # kept once made


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "b", "é", "a b"])), max_size=30),
       st.integers(0, 5), st.integers(0, 5))
def test_python_values_of_a_dictionary_column(cells, start, cut):
    """Code columns stay dictionary-encoded; their Python values are each row's value (the
    dictionary decoded once), as to_pylist gives them, slices and null rows included."""
    from cotation.data.table import _python_values
    arr = pa.array(cells, pa.string()).dictionary_encode()
    arr = arr.slice(min(start, len(arr)), max(0, len(arr) - start - cut))
    assert _python_values(None, arr) == arr.to_pylist()
    # a dictionary that holds a null entry and repeats: rows pointing at it are None
    odd = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 2, 0], pa.int32()),
                                         pa.array(["x", None, "x"]))
    assert _python_values(None, odd) == ["x", None, None, "x", "x"]


def test_the_interpreter_driver_skips_demandes_without_pairs():
    """score_interpreted builds no row for a demande with no localisation in the territory;
    the result is the row-by-row loop's, every demande counted in the progress."""
    import datetime as dt

    from cotation.engine.interpreter import Interpreter
    from cotation.engine.scoring import from_pairs, local_field_values, score_interpreted
    from cotation.grid import load_grid
    from sne_adapters import read_demandes
    from _support import ROOT

    grid = load_grid(ROOT / "grids" / "lyon-metropole.yaml").ir
    table = read_demandes(ROOT / "examples" / "data" / "demandes.csv").table.take(
        list(range(600)))
    today = dt.date(2025, 6, 30)
    seen = []
    got = score_interpreted(grid, table, today, progress=lambda done, n: seen.append((done, n)))
    # the loop it replaces: every row built and given to score_row
    interp = Interpreter(grid)
    local, rejects = local_field_values(grid, table)
    pairs = []
    for i in range(len(table)):
        row = table.row(i)
        for name, vals in local.items():
            row[name] = vals[i]
        pairs.extend(interp.score_row(i, row, today))
    expected = from_pairs(grid, today, pairs, rejects=rejects)
    territory = set(grid.communes)
    outside = sum(1 for v in table.columns["localisations"] if not territory.intersection(v or ()))
    assert 0 < outside < len(table) and len(got) > 0
    import dataclasses
    for f in dataclasses.fields(got):
        a, b = getattr(got, f.name), getattr(expected, f.name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            assert np.array_equal(np.asarray(a), np.asarray(b)), f.name
        elif f.name == "order_keys":
            assert [list(k) for k in a] == [list(k) for k in b]
        else:
            assert a == b, f.name
    n = len(table)
    assert seen[-1] == (n, n)
    assert len(seen) == sum(1 for i in range(n) if i % max(1, n // 100) == 0 or i == n - 1)


@pytest.mark.parametrize("k", [1, 63, 64, 65, 130])
def test_criterion_masks_put_criterion_j_at_bit_j(k):
    """from_pairs packs each pair's criteria into words of 64 bits: criterion j is bit j % 64
    of word j // 64 (what the compiled engine writes), past 64 criteria too."""
    import dataclasses

    from cotation.engine.interpreter import Outcome, PairScore
    from cotation.engine.scoring import from_pairs
    from cotation.grid import load_grid
    from _support import ROOT

    grid = load_grid(ROOT / "grids" / "lyon-metropole.yaml").ir
    base = grid.criteria[0]
    grid = dataclasses.replace(grid, criteria=tuple(dataclasses.replace(base, index=j)
                                                    for j in range(k)), groups=())
    rng = np.random.default_rng(k)
    flags = rng.random((4, k, 2)) < 0.5
    pairs = [PairScore(p, f"n{p}", "69123", 1, 0, 0,
                       tuple(Outcome(bool(m), 100, bool(a)) for m, a in flags[p]),
                       tuple(Outcome(bool(a), 100, bool(m)) for m, a in flags[p]), {},
                       tuple(0 for _ in grid.ordering))
             for p in range(4)]
    st = from_pairs(grid, grid.effective_from, pairs)
    for p in range(4):
        for j in range(k):
            bit = lambda masks: bool((int(masks[p, j // 64]) >> (j % 64)) & 1)  # noqa: E731
            assert bit(st.met) == flags[p, j, 0] and bit(st.set_aside) == flags[p, j, 1]
            assert bit(st.met_valide) == flags[p, j, 1]
            assert bit(st.set_aside_valide) == flags[p, j, 0]


def test_civil_dates_from_ordinals_are_pythons():
    """The integer civil-date arithmetic behind household ages gives date.fromordinal's
    year, month and day: every day of four centuries (leap rules of 1900, 2000, 2100
    included), the first and last days Python knows, and random ones in between."""
    import datetime as dt

    from cotation.data.ceilings import _ages, civil_from_ordinals
    first, last = dt.date(1800, 1, 1).toordinal(), dt.date(2200, 12, 31).toordinal()
    rng = np.random.default_rng(11)
    ordinals = np.concatenate([np.arange(first, last + 1), np.arange(1, 800),
                               np.arange(dt.date.max.toordinal() - 800, dt.date.max.toordinal() + 1),
                               rng.integers(1, dt.date.max.toordinal() + 1, 50_000)])
    y, m, d = civil_from_ordinals(ordinals)
    expected = np.array([(x.year, x.month, x.day) for x in map(dt.date.fromordinal,
                                                                  ordinals.tolist())])
    assert np.array_equal(np.stack([y, m, d], axis=1), expected)
    # ages: whole years, the day before a birthday one less; missing (< 1) is -1
    today = dt.date(2024, 2, 29)
    births = [dt.date(2000, 2, 29), dt.date(2000, 3, 1), dt.date(1999, 2, 28), dt.date(1, 1, 1)]
    got = _ages(np.array([b.toordinal() for b in births] + [0], dtype=np.int64), today)
    assert got.tolist() == [24, 23, 25, 2023, -1]


@pytest.mark.parametrize("rows", [0, 1, 5, 7, 64, 65])
def test_the_csv_body_in_slices_is_the_body_in_one_piece(monkeypatch, rows):
    # slices written on threads, then in order: the bytes of one write (slices made tiny,
    # two workers asked for, so that small tables take the threads' path)
    import io

    import pyarrow.csv as pcsv

    from cotation.cli import outputs

    rng = np.random.default_rng(rows)
    words = pa.array(["69123", "a b", "é", ""])
    body = pa.table({"d": pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 4, rows)),
                                                         words),
                     "s": pa.array([f"x{i}" for i in range(rows)], pa.string()),
                     "i": pa.array(rng.integers(-10**12, 10**12, rows))})
    one = io.BytesIO()
    pcsv.write_csv(body, one, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    monkeypatch.setenv("COTATION_WORKERS", "2")
    for size in (1, 2, 3, 1 << 17):
        monkeypatch.setattr(outputs, "CSV_SLICE_ROWS", size)
        out = io.BytesIO()
        outputs.write_csv_body(body, out)
        assert out.getvalue() == one.getvalue(), size


def test_the_csv_body_skips_empty_chunks_and_short_writes(monkeypatch):
    # pyarrow 26 writes NUL bytes for a column whose first chunk is empty; and a raw stream
    # may take part of a slice: the body is still every line, once
    import io

    from cotation.cli import outputs

    a = pa.array([1, 2, 3], pa.int64())
    body = pa.table({"x": pa.chunked_array([a.slice(0, 0), a, a.slice(0, 0), a], pa.int64()),
                     "y": pa.chunked_array([pa.array(["a", "b", "c", "d", "e", "f"])])})
    expected = b"1,a\n2,b\n3,c\n1,d\n2,e\n3,f\n"

    class Trickle(io.RawIOBase):          # takes at most 2 bytes a call, sometimes none
        def __init__(self):
            self.got, self.calls = bytearray(), 0

        def writable(self):
            return True

        def write(self, b):
            self.calls += 1
            if self.calls % 3 == 0:
                return None
            self.got += bytes(b[:2])
            return min(2, len(b))

    monkeypatch.setenv("COTATION_WORKERS", "2")
    for size in (1, 2, 1 << 15):
        monkeypatch.setattr(outputs, "CSV_SLICE_ROWS", size)
        plain = io.BytesIO()
        outputs.write_csv_body(body, plain)
        assert plain.getvalue() == expected, size
        if size < 3:
            trickle = Trickle()
            outputs.write_csv_body(body, trickle)
            assert bytes(trickle.got) == expected, size

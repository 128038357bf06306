"""Native kernels (cotation/engine/compiled/native.py): the cached kernels as object code,
loaded without Numba. They give the reference interpreter's results bit for bit on the
differential generator's grids and extreme tables; a damaged, foreign or switched-off file is
not used (Numba's kernels are, same results); an argument the machine code was not made for
goes to Numba's kernel; a warm `cotation score` does not import Numba."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cotation.data.table import DemandeTable
from cotation.engine.compiled import CompiledGrid, cache, native, score_compiled
from cotation.engine.compiled.engine import _Ctx
from cotation.engine.scoring import score_interpreted
from cotation.grid import load_grid

from _diffgen import SETTINGS, TEMPLATES, TODAYS, assert_same, rows_strategy

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "grids" / "lyon-metropole.yaml"
DEMANDES = ROOT / "examples" / "data" / "demandes.csv"
TODAY = dt.date(2025, 6, 30)
EXAMPLES = int(os.environ.get("COTATION_DIFF_EXAMPLES", "300")) // 3


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(tmp_path_factory):
    old = os.environ.get("COTATION_CACHE_DIR")
    if old is None:
        os.environ["COTATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if old is None:
        os.environ.pop("COTATION_CACHE_DIR", None)


def _refuse():
    raise AssertionError("the native kernels handed a call to Numba")


_NATIVE: dict[str, CompiledGrid] = {}


def native_grid(grid) -> CompiledGrid:
    """A CompiledGrid of ``grid`` whose kernels are native machine code, freshly linked from
    the stored file (never Numba's module); calls it cannot take fail the test."""
    probe = CompiledGrid(grid)
    found = _NATIVE.get(probe.digest)
    if found is not None:
        return found
    probe._mod = cache.load(probe.plan.source)   # Numba's kernels (compiled or cached)…
    probe.warm()                                 # …run once, then stored as native code
    kernels = native.load(cache.cache_dir(), probe.digest, _refuse)
    assert kernels is not None, "no native kernels stored"
    cg = CompiledGrid(grid)
    cg._mod = kernels
    assert cg.kernels_native()
    _NATIVE[probe.digest] = cg
    return cg


@settings(SETTINGS, max_examples=EXAMPLES)
@given(data=st.data())
def test_native_kernels_equal_the_interpreter(data):
    template = data.draw(st.sampled_from(TEMPLATES), label="template")
    grid = template.grid(data.draw(st.integers(0, 2 ** 31), label="values"))
    rows = data.draw(rows_strategy(template, list(template.ids), data.draw(st.booleans())),
                     label="rows")
    table = DemandeTable.from_records(rows)
    today = data.draw(st.sampled_from(TODAYS), label="today")
    explain = data.draw(st.booleans(), label="explain")
    expected = score_interpreted(grid, table, today, explain=explain)
    assert_same(expected, score_compiled(grid, table, today, explain=explain,
                                         compiled=native_grid(grid)))


def _bundled():
    from sne_adapters import read_demandes

    grid = load_grid(GRID).ir
    return grid, read_demandes(DEMANDES).table


def test_bundled_grid_on_two_workers_and_numba_agree():
    """The chunks run on threads through ctypes (lock released) and give Numba's bits."""
    grid, table = _bundled()
    big = table.take(list(range(len(table))) * 5)        # > one chunk of 32,768 demandes
    cg = native_grid(grid)
    numba_cg = CompiledGrid(grid)
    numba_cg._mod = cache.load(numba_cg.plan.source)
    one = score_compiled(grid, big, TODAY, explain=True, compiled=cg, workers=1)
    two = score_compiled(grid, big, TODAY, explain=True, compiled=cg, workers=2)
    ref = score_compiled(grid, big, TODAY, explain=True, compiled=numba_cg, workers=2)
    assert_same(one, two)
    assert_same(ref, two)


def _stored(grid) -> Path:
    cg = native_grid(grid)
    return cg.kernels().path


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "host", "empty"])
def test_a_damaged_or_foreign_file_is_not_used(damage, tmp_path):
    grid, _ = _bundled()
    src = _stored(grid)
    key = CompiledGrid(grid).digest
    data = src.read_bytes()
    head, _, blob = data[len(native.MAGIC):].partition(b"\n")
    header = json.loads(head)
    if damage == "truncate":
        data = data[:-100]
    elif damage == "flip":
        data = data[:-50] + bytes([data[-50] ^ 0xFF]) + data[-49:]
    elif damage == "header":
        data = data[:len(native.MAGIC) + 5] + b"}" + data[len(native.MAGIC) + 6:]
    elif damage == "host":
        header["host"]["cpu"] = "another-cpu"
        data = native.MAGIC + json.dumps(header).encode() + b"\n" + blob
    else:
        data = b""
    (tmp_path / src.name).write_bytes(data)
    assert native.load(tmp_path, key, _refuse) is None
    assert native.load(src.parent, key, _refuse) is not None     # the intact file loads


def test_switched_off(monkeypatch):
    grid, _ = _bundled()
    src = _stored(grid)
    monkeypatch.setenv("COTATION_NATIVE_KERNELS", "0")
    assert native.load(src.parent, CompiledGrid(grid).digest, _refuse) is None
    assert not cache.store_native(object(), "source")


def test_an_argument_it_was_not_made_for_goes_to_numba():
    grid, table = _bundled()
    kernels = native_grid(grid).kernels()
    seen = []

    def fallback():
        seen.append(True)
        return cache.load(CompiledGrid(grid).plan.source).count_pairs

    entry = native._Entry("count_pairs", kernels.count_pairs._fn, kernels.count_pairs._spec,
                          fallback)
    cg = CompiledGrid(grid)
    b = cg.encode(table)
    pf, pi, plut = cg.plan.params(_Ctx(b, TODAY))
    n = b.n
    ours = np.zeros(n, np.int64)
    entry(0, n, b.skip, b.loc_ptr, b.loc_terr, b.loc_val, b.terr_ids, pf, pi, plut, *b.cols, ours)
    assert not seen and ours.sum() > 0
    strided = np.zeros(2 * n, np.int64)[::2]         # not C-contiguous: Numba takes it
    entry(0, n, b.skip, b.loc_ptr, b.loc_terr, b.loc_val, b.terr_ids, pf, pi, plut, *b.cols,
          strided)
    assert seen and np.array_equal(strided, ours)
    with pytest.raises(TypeError):
        entry(0, n)


def test_warm_cli_score_does_not_import_numba(tmp_path):
    """The first `cotation score --engine compiled` compiles and stores the native code; the
    next one loads it without Numba and writes the same bytes."""
    env = dict(os.environ, COTATION_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT),
               COTATION_LANG="en")
    code = ("import sys; from cotation.cli import main; "
            f"rc = main(['score', {str(GRID)!r}, {str(DEMANDES)!r}, '--today', '2025-06-30', "
            "'--engine', 'compiled', '-o', sys.argv[1]]); "
            "print('numba' in sys.modules); sys.exit(rc)")
    outs = []
    for k in range(2):
        out = tmp_path / f"o{k}.csv"
        run = subprocess.run([sys.executable, "-c", code, str(out)], env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        outs.append((run.stdout.strip().splitlines()[-1], out.read_bytes()))
    assert outs[0][0] == "True" and outs[1][0] == "False"
    assert outs[0][1] == outs[1][1]
    assert list((tmp_path / "cache").rglob("*.native"))

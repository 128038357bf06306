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


# the guarded native kernels of each kernel digest, loaded once: every grid variant of a
# template (a new GridIR per example, same digest) is bound to them
_NATIVE: dict[str, native.NativeKernels] = {}


def native_grid(grid) -> CompiledGrid:
    """A CompiledGrid lowered from this very ``grid`` (so ``score_compiled(grid, …,
    compiled=it)`` uses it and lowers nothing again) whose kernels are native machine code,
    freshly linked from the stored file (never Numba's module); calls it cannot take fail the
    test."""
    cg = CompiledGrid(grid)
    kernels = _NATIVE.get(cg.digest)
    if kernels is None:
        probe = CompiledGrid(grid)
        probe._mod = cache.load(probe.plan.source)   # Numba's kernels (compiled or cached)…
        probe.warm()                                 # …run once, then stored as native code
        kernels = native.load(cache.cache_dir(), probe.digest, _refuse)
        assert kernels is not None, "no native kernels stored"
        _NATIVE[cg.digest] = kernels
    cg._mod = kernels
    assert cg.kernels_native() and cg.grid is grid
    return cg


def score_native(grid, table, today, **kw):
    """``score_compiled`` through :func:`native_grid`, asserting that it ran the guarded
    native kernels of that CompiledGrid (not a lowering of its own, not Numba's)."""
    cg = native_grid(grid)
    runs = []
    real_run = cg.run

    def run(*args, **kwargs):
        runs.append(True)
        return real_run(*args, **kwargs)

    cg.run = run
    out = score_compiled(grid, table, today, compiled=cg, **kw)
    assert runs, "score_compiled did not run the native CompiledGrid it was given"
    assert cg.kernels() is _NATIVE[cg.digest]
    return out


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
    assert_same(expected, score_native(grid, table, today, explain=explain))


def _bundled():
    from sne_adapters import read_demandes

    grid = load_grid(GRID).ir
    return grid, read_demandes(DEMANDES).table


def test_bundled_grid_on_two_workers_and_numba_agree(monkeypatch):
    """The chunks run on threads through ctypes (lock released) and give Numba's bits."""
    from concurrent import futures

    from cotation.engine.compiled import engine

    monkeypatch.setattr(engine, "SERIAL_BELOW", 1000)      # chunks of 1,024: 20 of them
    monkeypatch.setattr(engine, "CHUNK", 1024)
    threads = []
    real_map = futures.ThreadPoolExecutor.map

    def spy(self, fn, *iterables, **kw):
        threads.append(self._max_workers)
        return real_map(self, fn, *iterables, **kw)

    monkeypatch.setattr(futures.ThreadPoolExecutor, "map", spy)
    grid, table = _bundled()
    big = table.take(list(range(len(table))) * 5)
    numba_cg = CompiledGrid(grid)
    numba_cg._mod = cache.load(numba_cg.plan.source)
    one = score_native(grid, big, TODAY, explain=True, workers=1)
    two = score_native(grid, big, TODAY, explain=True, workers=2)
    ref = score_compiled(grid, big, TODAY, explain=True, compiled=numba_cg, workers=2)
    assert threads and set(threads) == {2}              # the two-worker runs used the pool
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
    assert not native.stored(src.parent, CompiledGrid(grid).digest)

    def never(*a, **k):
        raise AssertionError("built while switched off")

    monkeypatch.setattr(native, "build", never)
    assert not cache.store_native(cache.load(CompiledGrid(grid).plan.source),
                                  CompiledGrid(grid).plan.source)


def _numba_module(grid):
    native_grid(grid)                               # its kernels have run (signatures known)
    return cache.load(CompiledGrid(grid).plan.source)


def test_code_referring_outside_itself_is_not_stored(monkeypatch, tmp_path):
    """Without the runtime stub the code refers to a function nothing defines (the JIT
    linker would leave a call to nowhere): not stored, a marker says why, and the next build
    does not try again."""
    grid, _ = _bundled()
    mod, key = _numba_module(grid), CompiledGrid(grid).digest
    monkeypatch.setattr(native, "_RUNTIME_STUBS", ())
    assert native.build(mod, key, tmp_path) is None
    assert not list(tmp_path.glob("*.native")) and not list(tmp_path.glob(".n_*"))
    marker, = tmp_path.glob("*.unusable")
    assert "NRT_MemInfo_call_dtor" in marker.read_text(encoding="utf-8")

    def never(*a):
        raise AssertionError("compiled again despite the marker")

    monkeypatch.setattr(native, "_compile", never)
    assert native.build(mod, key, tmp_path) is None


def test_an_object_that_does_not_run_fails_the_check_in_a_child(tmp_path):
    """Machine code that cannot be linked or crashes is met in the check's child process:
    this one goes on and hears that the object failed."""
    grid, _ = _bundled()
    header, blob = native._read(_stored(grid))
    header = {k: v for k, v in header.items() if k != "check"}
    garbage = bytes(range(256)) * (len(blob) // 256 + 1)
    garbage = garbage[:len(blob)]
    for k in header["kernels"].values():
        part = garbage[k["offset"]:k["offset"] + k["size"]]
        k["sha256"] = __import__("hashlib").sha256(part).hexdigest()
    bad = tmp_path / "bad.native"
    bad.write_bytes(native._pack(header, garbage))
    works, detail = native._check(bad)
    assert works is False and "check exited with" in detail


def test_a_check_that_cannot_run_leaves_no_marker(monkeypatch, tmp_path):
    grid, _ = _bundled()
    mod, key = _numba_module(grid), CompiledGrid(grid).digest
    monkeypatch.setattr(native.sys, "executable", "")
    assert native.build(mod, key, tmp_path) is None
    assert not list(tmp_path.iterdir())                  # no file, no marker: retried later


def test_build_keeps_a_valid_file_and_replaces_a_damaged_one(monkeypatch, tmp_path):
    grid, _ = _bundled()
    mod, key = _numba_module(grid), CompiledGrid(grid).digest
    path = native.build(mod, key, tmp_path)
    assert path is not None and native.load(tmp_path, key, _refuse) is not None
    stamp = path.stat().st_mtime_ns
    assert native.build(mod, key, tmp_path) == path and path.stat().st_mtime_ns == stamp
    path.write_bytes(path.read_bytes()[:-10])
    assert native.load(tmp_path, key, _refuse) is None
    assert native.build(mod, key, tmp_path) == path
    assert native.load(tmp_path, key, _refuse) is not None


def test_scorer_loads_native_kernels_without_numba_compile():
    from cotation.api import Scorer

    grid, table = _bundled()
    native_grid(grid)
    scorer = Scorer(grid, engine="compiled")
    assert scorer._compiled.kernels_native()


def test_an_argument_it_was_not_made_for_goes_to_numba():
    grid, table = _bundled()
    kernels = native_grid(grid).kernels()
    seen = []

    def fallback():
        seen.append(True)
        return cache.load(CompiledGrid(grid).plan.source).count_pairs

    entry = native._Entry("count_pairs", kernels.count_pairs._fn, kernels.count_pairs.args,
                          fallback)
    cg = CompiledGrid(grid)
    b = cg.encode(table)
    pf, pi, plut = cg.plan.params(_Ctx(b, TODAY))
    n = b.n
    ours = np.zeros(n, np.int64)
    entry(0, n, b.skip, b.loc_ptr, b.loc_terr, b.loc_val, b.terr_ids, pf, pi, plut, *b.cols, ours)
    assert not seen and ours.sum() > 0
    head = (b.skip, b.loc_ptr, b.loc_terr, b.loc_val, b.terr_ids, pf, pi, plut, *b.cols)
    unaligned = np.zeros(8 * n + 1, np.uint8)[1:].view(np.int64)
    readonly = np.zeros(n, np.int64)
    readonly.flags.writeable = False
    for case in ("strided", "dtype", "ndim", "swapped", "unaligned", "readonly", "bool lo",
                 "huge hi"):
        seen.clear()
        lo, hi, out = 0, n, np.zeros(n, np.int64)
        if case == "strided":
            out = np.zeros(2 * n, np.int64)[::2]         # not C-contiguous
        elif case == "dtype":
            out = np.zeros(n, np.int32)
        elif case == "ndim":
            out = np.zeros((n, 1), np.int64)
        elif case == "swapped":
            out = np.zeros(n, np.dtype(">i8") if sys.byteorder == "little" else np.dtype("<i8"))
        elif case == "unaligned":
            out = unaligned
        elif case == "readonly":
            out = readonly                                # an output the kernel writes
        elif case == "bool lo":
            lo = False
        else:
            hi = 1 << 63
        try:
            entry(lo, hi, *head, out)
        except Exception:  # noqa: BLE001 - Numba may refuse the call itself: that is fine
            pass
        assert seen, case                                 # handed to Numba, never the machine code
        if case in ("strided", "unaligned"):               # (Numba refuses the others)
            assert np.array_equal(out, ours), case
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
    env["COTATION_NATIVE_KERNELS"] = "0"                 # switched off: Numba's cache again
    out = tmp_path / "off.csv"
    run = subprocess.run([sys.executable, "-c", code, str(out)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "True" and out.read_bytes() == outs[0][1]


def test_the_cache_is_tagged_with_numbas_own_version(tmp_path, monkeypatch):
    # read from Numba's version file without importing Numba, else from its metadata
    import importlib.util
    import numba
    from cotation.engine.compiled import cache

    assert cache._numba_version() == numba.__version__
    assert f"-nb{numba.__version__}-" in cache.cache_dir(create=False).name
    fake = tmp_path / "numba"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    spec = importlib.util.spec_from_file_location("numba", fake / "__init__.py")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)   # no version file
    assert cache._numba_version() == numba.__version__

"""Warm start (issue 11): the validated-grid cache, the command table of the lazy command line,
and what a warm `cotation score` does not import."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys

import pytest

from cotation.grid import load_grid, stored
from cotation.grid.diagnostics import GridError

from _diffgen import TEMPLATES
from _support import ROOT

GRID = ROOT / "grids" / "lyon-metropole.yaml"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COTATION_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _entries(cache):
    return sorted((cache).glob("grids-c*/g_*.json"))


def _copy(tmp_path, name="g.yaml"):
    p = tmp_path / name
    p.write_text(GRID.read_text(encoding="utf-8"), encoding="utf-8")
    return p


def test_second_load_comes_from_the_cache_and_is_identical(cache, tmp_path, monkeypatch):
    path = _copy(tmp_path)
    first = load_grid(path)
    assert len(_entries(cache)) == 1
    # a hit must not run the front end: make it fail if it is called
    import cotation.grid.load as load_mod
    monkeypatch.setattr(load_mod, "_validate", lambda *a, **k: pytest.fail("validated again"))
    second = load_grid(path)
    assert second.ir == first.ir and second.warnings == first.warnings
    assert second.source_hash == first.source_hash
    assert [d.format() for d in second.warnings] == [d.format() for d in first.warnings]
    assert second.ir.structure_key() == first.ir.structure_key()
    assert second.model.grid.id == first.model.grid.id       # rebuilt from the text on demand


def test_a_changed_grid_file_is_validated_again(cache, tmp_path):
    path = _copy(tmp_path)
    first = load_grid(path)
    text = path.read_text(encoding="utf-8")
    title = first.ir.title
    path.write_text(text.replace(title, title + " (modifiée)", 1), encoding="utf-8")
    changed = load_grid(path)
    assert changed.ir.title == title + " (modifiée)" and changed.source_hash != first.source_hash
    assert len(_entries(cache)) == 2
    path.write_text(text.replace("criteria:", "criterias:", 1), encoding="utf-8")
    with pytest.raises(GridError):          # never a stale entry for a broken file
        load_grid(path)
    path.write_text(text, encoding="utf-8")
    assert load_grid(path).ir == first.ir


def test_a_new_cotation_version_does_not_reuse_entries(cache, tmp_path, monkeypatch):
    path = _copy(tmp_path)
    text = path.read_text(encoding="utf-8")
    key = stored.entry_key(str(path), text, True)
    import cotation
    monkeypatch.setattr(cotation, "__version__", cotation.__version__ + ".post1")
    assert stored.entry_key(str(path), text, True) != key
    assert stored.entry_key(str(path), text, False) != stored.entry_key(str(path), text, True)
    assert stored.entry_key(str(tmp_path / "other.yaml"), text, True) != stored.entry_key(str(path), text, True)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "foreign-class", "empty"])
def test_a_corrupt_entry_is_ignored_and_replaced(cache, tmp_path, damage):
    path = _copy(tmp_path)
    first = load_grid(path)
    (entry,) = _entries(cache)
    raw = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        i = len(raw) // 2
        entry.write_bytes(raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1:])
    elif damage == "garbage":
        entry.write_bytes(b"\x00\xff not json")
    elif damage == "empty":
        entry.write_bytes(b"")
    else:   # a well-formed entry naming a class outside the IR: the checksum is recomputed
        import hashlib
        body = raw.partition(b"\n")[2].replace(b'"c":"GridIR"', b'"c":"Popen"', 1)
        entry.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    again = load_grid(path)
    assert again.ir == first.ir and again.warnings == first.warnings
    assert stored.lookup(stored.entry_key(str(path), path.read_text(encoding="utf-8"), True)) is not None


def test_cache_false_and_in_memory_text_always_validate(cache, tmp_path):
    path = _copy(tmp_path)
    load_grid(path, cache=False)
    load_grid(path, path.read_text(encoding="utf-8"))
    assert _entries(cache) == []


def test_cache_false_and_in_memory_text_do_not_read_a_filled_cache(cache, tmp_path, monkeypatch):
    """With an entry in the cache, ``cache=False`` and a text given in memory still validate
    (the previous test only shows that they do not write)."""
    import cotation.grid.load as load_mod

    path = _copy(tmp_path)
    load_grid(path)
    assert len(_entries(cache)) == 1
    calls = []
    validate = load_mod._validate
    monkeypatch.setattr(load_mod, "_validate", lambda *a, **k: calls.append(1) or validate(*a, **k))
    load_grid(path)
    assert calls == []                          # the entry is used
    load_grid(path, cache=False)
    load_grid(path, path.read_text(encoding="utf-8"))
    assert calls == [1, 1]


def test_an_unwritable_cache_is_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("COTATION_CACHE_DIR", str(blocker / "sub"))
    assert load_grid(_copy(tmp_path)).ir.criteria


def test_the_codec_round_trips_every_template_grid():
    """Every IR node kind (the templates cover the language) survives JSON exactly, spans
    included, and lowers to the same kernel source."""
    from cotation.engine.compiled.codegen import generate

    for t in TEMPLATES:
        g = t.grid(0)
        data = json.loads(json.dumps(stored.encode(g)))
        back = stored.decode(data)
        assert back == g and stored.encode(back) == data
        assert generate(back).source == generate(g).source


def test_the_codec_refuses_what_it_does_not_write():
    for data in ({"$": "obj", "c": "Popen", "f": {}}, {"$": "obj", "c": "Span", "f": {"file": "x"}},
                 {"$": "nope"}, [1, 2], {"$": "enum", "c": "Kind", "v": "no-such-kind"}):
        with pytest.raises((ValueError, KeyError, TypeError)):
            stored.decode(data)
    with pytest.raises(stored.Unstorable):
        stored.encode(object())


# ------------------------------------------------------------------------------ command line

def test_the_command_table_matches_the_modules():
    from cotation import cli

    found = {}
    for name in cli._COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        found.update({command: name for command in sub.choices})
    assert found == cli._COMMANDS
    assert set(cli.build_parser()._subparsers._group_actions[0].choices) == set(found)
    only = cli.build_parser(["score", "--help"])._subparsers._group_actions[0].choices
    assert set(only) == {"validate", "score", "explain", "test"}


def test_warm_cli_score_imports_only_what_it_needs(tmp_path):
    """A second `cotation score` of a few demandes: the grid comes from the cache, no other
    command module is imported, nor the grid front end's parsers, nor Numba (the interpreter
    is done before Numba would have started)."""
    env = dict(os.environ, COTATION_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    small = tmp_path / "d.csv"
    lines = (ROOT / "examples" / "data" / "demandes.csv").read_text(encoding="utf-8").splitlines()
    small.write_text("\n".join(lines[:30]) + "\n", encoding="utf-8")
    code = ("import sys; from cotation.cli import main; "
            f"rc = main(['score', {str(GRID)!r}, {str(small)!r}, '--today', '2025-06-30', "
            f"'-o', {str(tmp_path / 'o.csv')!r}]); "
            "print(sorted(m for m in sys.modules if m.startswith(('cotation.cli.', 'jsonschema', "
            "'pydantic', 'lark', 'yaml', 'numba', 'scipy')) and m.count('.') < 3)); sys.exit(rc)")
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
    mods = eval(run.stdout.strip().splitlines()[-1])   # noqa: S307 - our own child's names
    # the argument types and the outputs are shared by every command; no other command module
    assert mods == ["cotation.cli.arguments", "cotation.cli.core", "cotation.cli.outputs"]
    assert run.stderr.rstrip().endswith("interpreter")


def test_interpreter_is_quicker_only_for_small_work(monkeypatch, tmp_path):
    from cotation.engine import run
    from sne_adapters import read_demandes

    grid = load_grid(GRID, cache=False).ir
    table = read_demandes(ROOT / "examples" / "data" / "demandes.csv").table
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    assert run.interpreter_is_quicker(grid, table.take(list(range(50))))
    assert not run.interpreter_is_quicker(grid, table.take(list(range(4000)) * 2))  # 2x the pairs
    # native kernels start in a third of Numba's time: the bundled file goes to them
    assert run.interpreter_is_quicker(grid, table.take(list(range(50))), native=True)
    assert run.interpreter_is_quicker(grid, table)
    assert not run.interpreter_is_quicker(grid, table, native=True)
    monkeypatch.setattr(run, "_SCAN_AT_MOST", 10)
    assert not run.interpreter_is_quicker(grid, table.take(list(range(50))))
    monkeypatch.setattr(run, "_SCAN_AT_MOST", 20_000)
    monkeypatch.setitem(sys.modules, "numba", object())     # Numba already started: no gain
    assert not run.interpreter_is_quicker(grid, table.take(list(range(50))))


# ------------------------------------------------------------------------------ Numba's BLAS probe

def test_generated_kernels_never_call_blas():
    """What makes skipping Numba's BLAS probe in the CLI harmless (cotation/cli/kernels.py)."""
    import re

    from cotation.engine.compiled.codegen import generate

    for t in TEMPLATES:
        source = generate(t.grid(0)).source
        assert not re.search(r"\b(dot|vdot|convolve|correlate|linalg|matmul|inner|outer)\b|@ ",
                             source), t.seed


def test_cli_skips_the_blas_probe_and_leaves_scipy_importable():
    code = ("import sys; from cotation.cli.kernels import skip_numba_blas_probe; "
            "skip_numba_blas_probe(); import numba.np.arraymath as a; "
            "assert a._HAVE_BLAS is False and 'scipy.linalg' not in sys.modules; "
            "assert 'scipy.linalg.cython_blas' not in sys.modules; "
            "import scipy.linalg.cython_blas; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.stdout.strip() == "ok", out.stderr


def test_unreadable_front_end_sources_disable_the_cache(cache, tmp_path, monkeypatch):
    def unreadable():
        raise OSError("zipped install")

    monkeypatch.setattr(stored, "_front_end_fingerprint", unreadable)
    assert load_grid(_copy(tmp_path)).ir.criteria and _entries(cache) == []


def test_the_entry_point_tunes_the_collector_and_main_does_not(tmp_path):
    import gc

    from cotation.cli import main

    before = gc.get_threshold()
    assert main(["validate", str(GRID)]) == 0
    assert gc.get_threshold() == before           # tests and programs keep their settings
    code = ("import gc, sys; from cotation.cli import run; "
            f"sys.argv = ['cotation', 'validate', {str(GRID)!r}]; rc = run(); "
            "print(gc.get_threshold(), gc.get_freeze_count() > 0, rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT),
                                  COTATION_CACHE_DIR=str(tmp_path / "cache")))
    assert out.stdout.strip().splitlines()[-1] == "(100000, 50, 10) True 0", out.stderr

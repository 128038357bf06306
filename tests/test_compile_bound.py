"""Compilation is bounded (issue 11): ``auto`` does not compile kernels larger than
``COTATION_MAX_KERNEL_LINES`` generated lines; it scores with the interpreter and says why.
The bound is set low here so that the tests stay fast (the default, 3,000 lines, is about a
minute of Numba on 2 cores: benchmarks/bench_compile.py)."""
from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest

from cotation.engine import score
from cotation.engine.compiled.engine import (MAX_KERNEL_LINES, CompiledGrid, compile_grid,
                                             compile_too_long, max_kernel_lines)

from _diffgen import TEMPLATES
from _support import ROOT

TODAY = dt.date(2025, 6, 30)
LARGE = TEMPLATES[-1]          # the generated 70-criterion template


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty kernel cache, as on a new machine: kernels this test process loaded earlier
    (another test, another cache folder) are not counted as at hand."""
    from cotation.engine.compiled import cache

    monkeypatch.setenv("COTATION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "is_loaded", lambda key: False)
    return tmp_path / "cache"


def _table(tmp_path, n=400):
    """The first ``n`` bundled example demandes (Lyon communes: the templates' territory)."""
    from sne_adapters import read_demandes

    lines = (ROOT / "examples" / "data" / "demandes.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines[: n + 1]) + "\n", encoding="utf-8")
    return read_demandes(path).table


def test_the_bound_reads_the_environment(monkeypatch):
    monkeypatch.delenv("COTATION_MAX_KERNEL_LINES", raising=False)
    assert max_kernel_lines() == MAX_KERNEL_LINES
    monkeypatch.setenv("COTATION_MAX_KERNEL_LINES", "120")
    assert max_kernel_lines() == 120
    monkeypatch.setenv("COTATION_MAX_KERNEL_LINES", "lots")
    assert max_kernel_lines() == MAX_KERNEL_LINES


def test_bundled_grids_are_far_below_the_default_bound():
    from cotation.grid import load_grid

    for name in ("lyon-metropole", "besancon-primo", "nice-bonus-malus"):
        cg = compile_grid(load_grid(ROOT / "grids" / f"{name}.yaml").ir)
        assert cg.kernel_lines * 4 < MAX_KERNEL_LINES


def test_auto_scores_a_large_generated_grid_with_the_interpreter_and_says_why(
        fresh_cache, monkeypatch, tmp_path):
    grid = LARGE.grid(0)
    cg = compile_grid(grid)
    monkeypatch.setenv("COTATION_MAX_KERNEL_LINES", str(cg.kernel_lines - 1))
    table = _table(tmp_path)
    expected = score(grid, table, TODAY, engine="interpreter")
    with pytest.warns(RuntimeWarning, match=r"would take too long to compile \(\d+ generated lines"):
        got = score(grid, table, TODAY, engine="auto")
    assert len(got) > 10 and got.score.any()
    assert np.array_equal(got.score, expected.score) and np.array_equal(got.rank, expected.rank)
    assert not list(fresh_cache.rglob("*.nbi")), "nothing may have been compiled"


def test_cached_kernels_are_used_at_any_size(monkeypatch):
    cg = compile_grid(LARGE.grid(0))
    monkeypatch.setenv("COTATION_MAX_KERNEL_LINES", "1")
    monkeypatch.setattr(CompiledGrid, "kernels_cached", lambda self: True)
    assert compile_too_long(cg) is None
    monkeypatch.setattr(CompiledGrid, "kernels_cached", lambda self: False)
    assert "1" in compile_too_long(cg)
    monkeypatch.setenv("COTATION_MAX_KERNEL_LINES", str(cg.kernel_lines))
    assert compile_too_long(cg) is None


def test_the_command_line_warns_and_uses_the_interpreter(fresh_cache, monkeypatch, tmp_path, capsys):
    import cotation.cli.core as core
    from cotation.cli import main

    import cotation.engine.run as run

    monkeypatch.setattr(core, "INTERPRETER_BELOW", 0)     # the small-input rules are not under test
    monkeypatch.setattr(run, "interpreter_is_quicker", lambda grid, table, **kw: False)
    monkeypatch.setenv("COTATION_MAX_KERNEL_LINES", "50")
    lines = (ROOT / "examples" / "data" / "demandes.csv").read_text(encoding="utf-8").splitlines()
    data = tmp_path / "d.csv"
    data.write_text("\n".join(lines[:61]) + "\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # the CLI prints its own line, no Python warning
        rc = main(["score", str(ROOT / "grids" / "lyon-metropole.yaml"), str(data),
                   "--today", "2025-06-30", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0 and out.exists()
    assert "would take too long to compile" in err and "engine interpreter" in err
    assert "compiling the kernels" not in err
    assert not list(fresh_cache.rglob("*.nbi"))

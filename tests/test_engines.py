"""Engine selection: ``auto`` (the CLI default) never lets a compiler failure stop a run."""
from __future__ import annotations

import numpy as np
import pytest

import cotation.engine.compiled as compiled
from cotation.testing.cases import demandes_table
from cotation.engine import score
from cotation.grid import load_grid

from _support import ROOT, TODAY

GRID = ROOT / "tests" / "grids" / "spec_example.yaml"
ROWS = [{"numero_unique": "A", "date_depot": "2024-01-01", "nb_personnes": 1, "est_mutation": False,
         "localisations": ["69123", "69266"], "situation_logement": "hotel"}]


def test_auto_falls_back_to_the_interpreter(monkeypatch):
    grid = load_grid(GRID)
    table = demandes_table(ROWS)
    expected = score(grid.ir, table, TODAY, engine="interpreter")

    def broken(*args, **kwargs):
        raise RuntimeError("simulated Numba failure")

    monkeypatch.setattr(compiled, "score_compiled", broken)
    with pytest.warns(RuntimeWarning, match="simulated Numba failure"):
        got = score(grid.ir, table, TODAY, engine="auto")
    assert np.array_equal(got.score, expected.score) and np.array_equal(got.rank, expected.rank)
    with pytest.raises(RuntimeError):
        score(grid.ir, table, TODAY, engine="compiled")


def test_unknown_engine():
    with pytest.raises(ValueError, match="unknown engine"):
        score(load_grid(GRID).ir, demandes_table(ROWS), TODAY, engine="gpu")

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


def test_order_keys_decoded_once_shared_between_threads():
    """Threads sharing a ScoreTable read its order keys: a thread that found them not decoded
    yet, and was preempted while another decoded them and dropped the decoder, must not call
    the dropped decoder (it raised TypeError). The preemption is forced: thread B's first read
    of ``_values`` returns what it saw, after thread A has finished."""
    import threading

    from cotation.engine.scoring import DecodedOnDemand

    a_done = threading.Event()

    class Preempted(DecodedOnDemand):
        def _get(self):
            seen = self.__dict__.get("v")
            if threading.current_thread().name == "B" and not self.__dict__.get("paused"):
                self.__dict__["paused"] = True
                a_done.wait(5)
            return seen

        def _put(self, value):
            self.__dict__["v"] = value

        _values = property(_get, _put)

    keys = Preempted(1, lambda: [[1.5, "x"]])
    got, errors = {}, []

    def read(name):
        try:
            got[name] = keys[0]
        except Exception as exc:  # noqa: BLE001 - what the test looks for
            errors.append(exc)
        finally:
            if name == "A":
                a_done.set()

    b = threading.Thread(target=read, args=("B",), name="B")
    b.start()
    while not keys.__dict__.get("paused"):
        pass
    a = threading.Thread(target=read, args=("A",), name="A")
    a.start()
    a.join(5)
    b.join(5)
    assert errors == [] and got == {"A": [1.5, "x"], "B": [1.5, "x"]}

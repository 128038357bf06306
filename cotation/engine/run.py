"""Choosing a back end. Every engine returns the same ``ScoreTable``; the interpreter is the
reference the others are tested against."""
from __future__ import annotations

import datetime as dt

from cotation.grid import ir
from cotation.engine.scoring import Progress, ScoreTable, score_interpreted
from cotation.data.table import DemandeTable

ENGINES = ("interpreter", "compiled", "auto")
DEFAULT_ENGINE = "interpreter"


def score(grid: ir.GridIR, table: DemandeTable, today: dt.date, *, engine: str = DEFAULT_ENGINE,
          explain: bool = False, progress: Progress | None = None,
          workers: int | None = None, order_rank: bool = False) -> ScoreTable:
    """``workers``: threads of the compiled engine (default: ``COTATION_WORKERS``, else the
    CPUs available to the process). ``order_rank``: the compiled engine also fills
    :attr:`ScoreTable.order_rank` (the interpreter leaves it None; positioning computes it).

    ``auto`` is the compiled engine, with the reference interpreter as a safety net: a
    failure of the compiler or of Numba must never stop a run the interpreter can do."""
    if engine == "auto":
        try:
            return score(grid, table, today, engine="compiled", explain=explain, progress=progress,
                         workers=workers, order_rank=order_rank)
        except ImportError:
            pass
        except Exception as exc:  # noqa: BLE001 - any compiler failure; the reference takes over
            import warnings
            warnings.warn(f"compiled engine failed for grid {grid.id} ({type(exc).__name__}: {exc}); "
                          "scoring with the reference interpreter", RuntimeWarning, stacklevel=2)
        return score_interpreted(grid, table, today, explain=explain, progress=progress)
    if engine == "interpreter":
        return score_interpreted(grid, table, today, explain=explain, progress=progress)
    if engine == "compiled":
        from cotation.engine.compiled import score_compiled
        return score_compiled(grid, table, today, explain=explain, progress=progress,
                              workers=workers, order_rank=order_rank)
    raise ValueError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")

"""Choosing a back end. Every engine returns the same ``ScoreTable``; the interpreter is the
reference the others are tested against."""
from __future__ import annotations

import datetime as dt
from typing import Any

from cotation.grid import ir
from cotation.engine.scoring import Progress, ScoreTable, score_interpreted
from cotation.data.table import DemandeTable

ENGINES = ("interpreter", "compiled", "auto")
DEFAULT_ENGINE = "interpreter"


def score(grid: ir.GridIR, table: DemandeTable, today: dt.date, *, engine: str = DEFAULT_ENGINE,
          explain: bool = False, progress: Progress | None = None,
          workers: int | None = None, compiled: Any = None) -> ScoreTable:
    """``workers``: threads of the compiled engine (default: ``COTATION_WORKERS``, else the
    CPUs available to the process). ``compiled``: the grid already lowered
    (``cotation.engine.compiled.compile_grid(grid)``), so that it is lowered once.

    ``auto`` is the compiled engine, with the reference interpreter as a safety net: a
    failure of the compiler or of Numba must never stop a run the interpreter can do, and a
    grid whose kernels are not cached and would take too long to compile (above
    ``COTATION_MAX_KERNEL_LINES`` generated lines) is scored by the interpreter, with a
    RuntimeWarning saying so."""
    if engine == "auto":
        import warnings
        try:
            from cotation.engine.compiled import compile_grid, score_compiled
            from cotation.engine.compiled.engine import compile_too_long
            cg = compiled if compiled is not None and compiled.grid is grid else compile_grid(grid)
            why = compile_too_long(cg)
            if why is None:
                return score_compiled(grid, table, today, explain=explain, progress=progress,
                                      workers=workers, compiled=cg)
            warnings.warn(why, RuntimeWarning, stacklevel=2)
        except ImportError:
            pass
        except Exception as exc:  # noqa: BLE001 - any compiler failure; the reference takes over
            warnings.warn(f"compiled engine failed for grid {grid.id} ({type(exc).__name__}: {exc}); "
                          "scoring with the reference interpreter", RuntimeWarning, stacklevel=2)
        return score_interpreted(grid, table, today, explain=explain, progress=progress)
    if engine == "interpreter":
        return score_interpreted(grid, table, today, explain=explain, progress=progress)
    if engine == "compiled":
        from cotation.engine.compiled import score_compiled
        return score_compiled(grid, table, today, explain=explain, progress=progress,
                              workers=workers, compiled=compiled)
    raise ValueError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")


"""Choosing a back end. Every engine returns the same ``ScoreTable``; the interpreter is the
reference the others are tested against."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from cotation.grid import ir
from cotation.engine.scoring import Progress, ScoreTable, score_interpreted
from cotation.data.table import DemandeTable

ENGINES = ("interpreter", "compiled", "auto")
DEFAULT_ENGINE = "interpreter"

# A process that has not imported Numba pays about 0.2 s to load cached kernels (import,
# CPU target, two kernels), while the reference interpreter scores a (demande, commune) pair
# against one criterion in 2.7-3.5 us (bench30, lyon-metropole, besancon-primo,
# nice-bonus-malus on 2 cores; benchmarks/README.md "issue 11: warm start"). Below that
# break-even a fresh ``cotation score`` is quicker with the interpreter (same results).
NUMBA_START_S = 0.2
# With the kernels stored as native machine code for this machine (engine/compiled/native.py)
# the start is the grid's lowering and llvmlite's link: 0.068 / 0.099 s (min / median, the
# "kernels" step of benchmarks/bench_start.py, 2026-12-06, fifth session). That step is
# 0.037 / 0.039 s since the seventh session, but the break-even of the whole command stays
# here (the compiled path's first calls: encoding): bench30, `cotation score` of 200 / 300 /
# 600 demandes (estimates 0.050 / 0.074 / 0.15 s), 7 alternating runs, interpreter against
# compiled, min 0.34 / 0.37 s, 0.35 / 0.36 s, 0.38 / 0.34 s.
NATIVE_START_S = 0.07
INTERPRETER_S_PER_PAIR_CRITERION = 3.5e-6
_SCAN_AT_MOST = 20_000     # demandes: larger tables are not looked at (the kernels win)


def score(grid: ir.GridIR, table: DemandeTable, today: dt.date, *, engine: str = DEFAULT_ENGINE,
          explain: bool = False, progress: Progress | None = None,
          workers: int | None = None, compiled: Any = None,
          order_rank: bool = False) -> ScoreTable:
    """``workers``: threads of the compiled engine (default: ``COTATION_WORKERS``, else the
    CPUs available to the process). ``compiled``: the grid already lowered
    (``cotation.engine.compiled.compile_grid(grid)``), so that it is lowered once.
    ``order_rank``: the compiled engine also fills :attr:`ScoreTable.order_rank` (the
    interpreter leaves it None; positioning computes it).

    ``auto`` is the compiled engine, with the reference interpreter as a safety net: a
    failure of the compiler or of Numba must never stop a run the interpreter can do, and a
    grid whose kernels are not cached and would take too long to compile (above
    ``COTATION_MAX_KERNEL_LINES`` generated lines) is scored by the interpreter, with a
    RuntimeWarning saying so."""
    if engine == "auto":
        import warnings
        try:
            from cotation.engine.compiled import score_compiled
            from cotation.engine.compiled.engine import compile_too_long, lowered
            cg = lowered(grid, compiled)
            why = compile_too_long(cg)
            if why is None:
                return score_compiled(grid, table, today, explain=explain, progress=progress,
                                      workers=workers, compiled=cg,
                                      order_rank=order_rank)
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
                              workers=workers, compiled=compiled, order_rank=order_rank)
    raise ValueError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")


def interpreter_is_quicker(grid: ir.GridIR, table: DemandeTable, *,
                           numba_started: bool | None = None,
                           native: bool | Callable[[], bool] = False) -> bool:
    """Whether the interpreter would score ``table`` before a process that has not imported
    Numba yet could load the grid's cached kernels. The pairs are over-estimated (every
    distinct territory commune among a demande's localisations, scope ignored), so the doubt
    goes to the compiled engine; a wrong guess costs at most about ``NUMBA_START_S``.
    ``numba_started``: whether Numba was imported when the caller began (None: look now; a
    caller that may have started it on a thread since passes what it saw before).
    ``native``: the cache holds the kernels as native machine code (a start of
    ``NATIVE_START_S``, without Numba), or a function that says so, asked only when the
    answer matters (the estimate between the two starts: it lowers the grid)."""
    import sys

    if numba_started is None:
        numba_started = "numba" in sys.modules
    if numba_started or len(table) > _SCAN_AT_MOST:
        return False
    territory = frozenset(grid.communes)
    locs = table.columns.get("localisations") or ()
    pairs = sum(len(territory.intersection(v)) for v in locs if v)
    cost = pairs * max(1, len(grid.criteria)) * INTERPRETER_S_PER_PAIR_CRITERION
    if cost < NATIVE_START_S:
        return True
    if cost >= NUMBA_START_S:
        return False
    return not (native() if callable(native) else native)

"""Choosing a back end. Every engine returns the same ``ScoreTable``; the interpreter is the
reference the others are tested against."""
from __future__ import annotations

import datetime as dt

from . import ir
from .scoring import Progress, ScoreTable, score_interpreted
from .table import DemandeTable

ENGINES = ("interpreter", "compiled")
DEFAULT_ENGINE = "interpreter"


def score(grid: ir.GridIR, table: DemandeTable, today: dt.date, *, engine: str = DEFAULT_ENGINE,
          explain: bool = False, progress: Progress | None = None) -> ScoreTable:
    if engine == "interpreter":
        return score_interpreted(grid, table, today, explain=explain, progress=progress)
    if engine == "compiled":
        from .compiled import score_compiled
        return score_compiled(grid, table, today, explain=explain, progress=progress)
    raise ValueError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")

"""Scoring one demande table under two grids, once each, on any set of dates.

The compiled engine encodes the table once per grid; when both grids lower to the same kernels
and read the same territory, constants and local fields (a grid and a variant of its numbers,
typically), one encoded batch serves both. Scoring as of an earlier date (the attribution dates)
reuses the same batches and only masks the demandes that were not pending then. If the compiled
engine cannot run, the reference interpreter scores instead (with a RuntimeWarning), as
``cotation.engine.score(engine="auto")`` does.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import warnings

import numpy as np

from cotation.data.table import DemandeTable
from cotation.engine import ScoreTable, score
from cotation.grid import ir


def _same_encoding(cga, cgb) -> bool:
    """Whether a batch encoded for ``cga`` is exactly what ``cgb`` would encode."""
    a, b = cga.grid, cgb.grid
    return (cga.digest == cgb.digest and tuple(a.communes) == tuple(b.communes)
            and a.local_fields == b.local_fields
            and cga.plan.text_consts == cgb.plan.text_consts
            and cga.plan.commune_consts == cgb.plan.commune_consts)


class TwoGridScorer:
    """Scores ``table`` under grids A and B; ``score(today, pending)`` returns both ScoreTables."""

    def __init__(self, grid_a: ir.GridIR, grid_b: ir.GridIR, table: DemandeTable,
                 engine: str = "auto"):
        if engine not in ("auto", "compiled", "interpreter"):
            raise ValueError(f"unknown engine '{engine}'")
        self.grids = (grid_a, grid_b)
        self.table = table
        self.engine = engine
        self.shared_batch = False
        self._compiled = None
        if engine != "interpreter":
            try:
                from cotation.engine.compiled import compile_grid
                cga, cgb = compile_grid(grid_a), compile_grid(grid_b)
                batch_a = cga.encode(table)
                self.shared_batch = _same_encoding(cga, cgb)
                batch_b = batch_a if self.shared_batch else cgb.encode(table)
                self._compiled = ((cga, batch_a), (cgb, batch_b))
            except Exception as exc:  # noqa: BLE001 - any compiler failure; the reference takes over
                self._fall_back(exc)

    def _fall_back(self, exc: Exception) -> None:
        if self.engine == "compiled":
            raise exc
        if not isinstance(exc, ImportError):
            warnings.warn(f"compiled engine failed ({type(exc).__name__}: {exc}); scoring with "
                          "the reference interpreter", RuntimeWarning, stacklevel=3)
        self._compiled = None
        self.shared_batch = False

    @property
    def engine_used(self) -> str:
        return "compiled" if self._compiled is not None else "interpreter"

    def score(self, today: dt.date, pending: np.ndarray | None = None
              ) -> tuple[ScoreTable, ScoreTable]:
        """Both grids' scores as of ``today``, over the demandes where ``pending`` is true (all
        when None). Ranks are over those demandes only; ``row`` indexes the whole table."""
        if self._compiled is not None:
            try:
                out = []
                for cg, batch in self._compiled:
                    if pending is not None:
                        skip = batch.skip | (~np.asarray(pending, dtype=bool)).astype(np.uint8)
                        batch = dataclasses.replace(batch, skip=skip)
                    raw = cg.run(batch, today, explain=True)
                    out.append(cg.score_table(raw, batch, today))
                return out[0], out[1]
            except Exception as exc:  # noqa: BLE001
                self._fall_back(exc)
        idx = None if pending is None else np.flatnonzero(pending)
        table = self.table if idx is None else self.table.take(idx.tolist())
        sts = []
        for g in self.grids:
            st = score(g, table, today, engine="interpreter", explain=True)
            if idx is not None:
                st.row = idx[st.row] if len(st) else st.row
            sts.append(st)
        return sts[0], sts[1]

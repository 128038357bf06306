"""What a statement shows beyond the scores: the values the engine read for this demande (taux
d'effort, reste à vivre, ancienneté…), the information missing from the demande, and what a
refusal of an adapted offer would do to its score and rank today.

All of it is computed for the one demande of a statement with the reference interpreter (the
specification), never from another demande's data: the rank after a refusal is counted on the
cell's sorted scores, an aggregate the statement already shows as a histogram.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import Any

import numpy as np

from cotation.data.schema import COLUMNS_BY_NAME, DERIVED_BY_NAME
from cotation.engine.interpreter import Interpreter
from cotation.grid import ir
from cotation.grid.evaluate import compile_expr

# Empty fields that are not a gap in what the demandeur declared: refusals are recorded by the
# bailleurs (no refusal, no date), validations by the services, a conjoint may not exist.
NOT_DECLARED = frozenset({"date_dernier_refus_adapte", "nb_refus_adaptes", "criteres_valides",
                          "date_renouvellement", "date_naissance_conjoint", "aide_logement"})

# Values worth showing beside the criteria that read them (numbers a demandeur can check).
SHOWN = ("taux_effort", "reste_a_vivre_uc", "anciennete_mois", "surface_par_personne", "age",
         "ressources_mensuelles", "loyer_actuel", "nb_refus_adaptes_12m")


def _refs(e: ir.Expr | None) -> set[str]:
    """Fields an expression needs: those only read under ``coalesce`` (a default stands in for
    them) are left out."""
    if e is None:
        return set()
    if isinstance(e, ir.Ref):
        return {e.name}
    if isinstance(e, ir.Call) and e.fn == "coalesce":
        return set()
    out: set[str] = set()
    for f in fields(e):
        v = getattr(e, f.name)
        if isinstance(v, ir.Expr):
            out |= _refs(v)
        elif isinstance(v, tuple):
            for x in v:
                if isinstance(x, ir.Expr):
                    out |= _refs(x)
    return out


def criterion_reads(grid: ir.GridIR) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Per criterion: (fields it reads directly, demande columns behind them, derived expanded)."""
    derived = dict(grid.derived)
    out = []
    for c in grid.criteria:
        direct = _refs(c.when) | _refs(c.points) | _refs(c.band_of)
        for s in c.bands:
            direct |= _refs(s.points)
        base: set[str] = set()
        todo = list(direct)
        while todo:
            name = todo.pop()
            if name in derived:
                todo.extend(_refs(derived[name]) - base)
            else:
                base.add(name)
        out.append((tuple(sorted(direct)), tuple(sorted(base))))
    return tuple(out)


def _plain(v: Any) -> Any:
    """A value as JSON-able plain data (dates as ISO text, sets as sorted lists)."""
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (frozenset, set)):
        return sorted(v)
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


class Facts:
    """Per-run helper: reads one demande's values and simulates a refusal (reference interpreter)."""

    def __init__(self, pos) -> None:
        from cotation.engine.scoring import local_field_values
        self.pos = pos
        self.grid: ir.GridIR = pos.grid
        self.today: dt.date = pos.st.today
        self.interp = Interpreter(self.grid)
        self.local, _rejects = local_field_values(self.grid, pos.table)
        reads = criterion_reads(self.grid)
        self.wanted = sorted({n for direct, base in reads for n in (*direct, *base)})
        self.tests = [(None if c.when is None else compile_expr(c.when),
                       None if c.band_of is None else compile_expr(c.band_of)) for c in self.grid.criteria]
        self.reads = reads
        self.refusal_reads = any(c.refusal_effect for c in self.grid.criteria) or any(
            "nb_refus_adaptes" in base for _d, base in reads)

    def row(self, d: int) -> dict:
        row = self.pos.table.row(d)
        for name, vals in self.local.items():
            row[name] = vals[d]
        return row

    def values(self, row: dict) -> dict[str, Any]:
        """The fields the grid's criteria read, derived ones computed, for this demande."""
        env = self.interp.prepare_row(row, self.today)
        return {n: _plain(env.row.get(n)) for n in self.wanted}

    def missing(self, row: dict, commune: str, rang: int) -> list[list[str]]:
        """Per criterion: the demande's empty fields that leave it undecided (its condition or its
        banded value unknown), in the grid's order; [] when it was decided."""
        env = self.interp.prepare_row(row, self.today)
        env.loc = {"commune": commune, "rang": rang, "epci": self.grid.epci_siren}
        out = []
        for (when, of), (_direct, base) in zip(self.tests, self.reads):
            undecided = (when is not None and when(env) is None) or (of is not None and of(env) is None)
            out.append([n for n in base if row.get(n) is None and n in COLUMNS_BY_NAME
                        and n not in NOT_DECLARED] if undecided else [])
        return out

    def after_refusal(self, row: dict) -> dict[str, int] | None:
        """commune → score (hundredths) if the demande refused an adapted offer today; None when
        no criterion of the grid reads refusals."""
        if not self.refusal_reads:
            return None
        r = dict(row)
        r["nb_refus_adaptes"] = (row.get("nb_refus_adaptes") or 0) + 1
        r["date_dernier_refus_adapte"] = self.today
        return {p.commune: int(p.score) for p in self.interp.score_row(0, r, self.today)}

    def n_above_after(self, i: int, own: int, new: int) -> int:
        """Demandes of row i's cell with strictly more points than ``new`` (the demande's own
        current score taken out of the cell)."""
        scores = self.pos.cell_scores(i)
        k = int(np.searchsorted(scores, own))
        others = np.delete(scores, k) if k < len(scores) and scores[k] == own else scores
        return int(len(others) - np.searchsorted(others, new, side="right"))


def field_label(name: str) -> str:
    if name in DERIVED_BY_NAME:
        return DERIVED_BY_NAME[name].label
    if name in COLUMNS_BY_NAME and COLUMNS_BY_NAME[name].label:
        return COLUMNS_BY_NAME[name].label
    return name.replace("_", " ")

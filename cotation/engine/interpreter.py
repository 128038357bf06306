"""The reference interpreter: the specification of scoring, in code.

It scores one demande at a time and explains every point. Expressions mean what
``cotation.grid.evaluate`` says (closures built once per grid); each criterion is rounded to
integer hundredths before anything is added.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple, Sequence

from cotation.data.schema import Kind
from cotation.grid import ir
from cotation.grid.evaluate import MAX_POINTS, Env, compile_expr, round_hundredths


# ------------------------------------------------------------------------ scoring

class Outcome(NamedTuple):
    """One criterion for one (demande, commune): met, its points in hundredths, set aside."""

    met: bool
    points: int
    set_aside: bool = False
    awaiting_validation: bool = False

    @property
    def counted(self) -> int:
        return self.points if self.met and not self.set_aside else 0


@dataclass(frozen=True)
class PairScore:
    row: int
    numero_unique: str
    commune: str
    rang: int
    score: int                        # hundredths, provisional
    score_valide: int                 # hundredths, validated criteria only
    outcomes: tuple[Outcome, ...]     # provisional, per criterion
    outcomes_valide: tuple[Outcome, ...]
    group_points: dict[str, int]      # group id -> hundredths counted (provisional)
    keys: tuple                       # ordering key values ('score' resolved)


def _hundredths_or_none(x: float | None) -> int | None:
    return None if x is None else round_hundredths(x)


def _bounded(h: int, floor: int | None, cap: int | None) -> int:
    """Floor then cap, in hundredths (groups and the total)."""
    if floor is not None:
        h = max(h, floor)
    if cap is not None:
        h = min(h, cap)
    return h


def _bits(flags: Sequence[bool]) -> int:
    m = 0
    for j, f in enumerate(flags):
        if f:
            m |= 1 << j
    return m


def met_mask(outcomes: Sequence[Outcome]) -> int:
    return _bits([o.met for o in outcomes])


def set_aside_mask(outcomes: Sequence[Outcome]) -> int:
    return _bits([o.set_aside for o in outcomes])


_EXACT = ir.MAX_EXACT      # 2^53: ints beyond it are reported as doubles


def whole_key(v):
    """An ordering key value of kind int as reported (docs/grid-language.md, "Ordering keys"):
    a Python int while it is a whole number within ±2^53, else the double (the arithmetic
    gives doubles: ``revenu_fiscal_reference * 2`` is 30000.0, reported 30000, as the
    compiled engine reports it). None (missing) stays None."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v if abs(v) <= _EXACT else float(v)
    f = float(v)
    return int(f) if f.is_integer() and abs(f) <= _EXACT else f


def _key_reader(expr: ir.Expr):
    """The compiled expression of an ordering key, its value reported by its kind: an int
    key by :func:`whole_key`, a decimal key as a double (``coalesce(nb_enfants, 0.5)`` or a
    decimal column holding a whole number gives a Python int: reported 1.0, as the compiled
    engine reports it)."""
    f = compile_expr(expr)
    if expr.type.kind is Kind.INT:
        return lambda env: whole_key(f(env))
    if expr.type.kind is Kind.DECIMAL:
        def decimal_key(env):
            v = f(env)
            return None if v is None else float(v)
        return decimal_key
    return f


class Interpreter:
    """Scores demandes with a grid IR, one (demande, commune) pair at a time."""

    def __init__(self, grid: ir.GridIR):
        self.grid = grid
        self._applies = compile_expr(grid.applies_to) if grid.applies_to is not None else None
        self._derived = [(n, compile_expr(e)) for n, e in grid.derived]
        self._crit = [self._compile_criterion(c) for c in grid.criteria]
        self._keys = [None if k.expr is None else _key_reader(k.expr) for k in grid.ordering]
        self._territory = set(grid.communes)
        self._floor_h = _hundredths_or_none(grid.total_floor)
        self._cap_h = _hundredths_or_none(grid.total_cap)
        self._group_bounds = [(_hundredths_or_none(g.floor), _hundredths_or_none(g.cap)) for g in grid.groups]

    def _compile_criterion(self, c: ir.CriterionIR):
        when = compile_expr(c.when) if c.when is not None else None
        if c.band_of is not None:
            of = compile_expr(c.band_of)
            steps = [(s.low, s.high, compile_expr(s.points)) for s in c.bands]

            def value(env):
                v = of(env)
                if v is None:
                    return None
                for lo, hi, pts in steps:
                    if (lo is None or lo <= v) and (hi is None or v < hi):
                        return pts(env)
                return None
        else:
            value = compile_expr(c.points)
        return when, value

    # -- one demande
    def prepare_row(self, row: dict, today: dt.date) -> Env:
        """Add derived fields to a row (local fields must already be in it)."""
        env = Env(dict(row), {}, today)
        for name, f in self._derived:
            env.row[name] = f(env)
        return env

    def in_scope(self, env: Env) -> bool:
        return self._applies is None or self._applies(env) is True

    def localisations(self, row: dict) -> list[tuple[str, int]]:
        """(commune, rang) pairs of the territory, each commune once at its best rang."""
        out, seen = [], set()
        for rang, commune in enumerate(row.get("localisations") or (), start=1):
            if commune in self._territory and commune not in seen:
                out.append((commune, rang))
            seen.add(commune)
        return out

    def score_row(self, row_index: int, row: dict, today: dt.date) -> list[PairScore]:
        env = self.prepare_row(row, today)
        if not self.in_scope(env):
            return []
        pairs = []
        valid_ids = row.get("criteres_valides") or frozenset()
        shared: dict[int, tuple[bool, int]] = {}
        for commune, rang in self.localisations(row):
            env.loc = {"commune": commune, "rang": rang, "epci": self.grid.epci_siren}
            raw = []
            for c, (when, value) in zip(self.grid.criteria, self._crit):
                if not c.uses_loc and c.index in shared:
                    raw.append(shared[c.index])
                    continue
                r = self._criterion(c, when, value, env)
                if not c.uses_loc:
                    shared[c.index] = r
                raw.append(r)
            prov, prov_groups, score = self._combine(raw, None)
            valide_flags = [not c.needs_validation or c.id in valid_ids for c in self.grid.criteria]
            val, _, score_valide = self._combine(raw, valide_flags)
            keys = tuple(score if f is None else f(env) for f in self._keys)
            pairs.append(PairScore(row_index, row["numero_unique"], commune, rang, score,
                                   score_valide, prov, val, prov_groups, keys))
        return pairs

    def _criterion(self, c: ir.CriterionIR, when, value, env: Env) -> tuple[bool, int]:
        if when is not None and when(env) is not True:
            return False, 0
        v = value(env)
        if v is None:
            return False, 0
        x = float(v)
        if c.floor is not None:
            x = max(x, c.floor)
        if c.cap is not None:
            x = min(x, c.cap)
        x = x * c.weight
        if not abs(x) <= MAX_POINTS:  # overflow or inf: no meaningful value, so not met
            return False, 0
        return True, round_hundredths(x)

    def _combine(self, raw: list[tuple[bool, int]], valide: list[bool] | None):
        """Apply group policies. ``valide`` masks criteria awaiting validation (score_valide)."""
        n = len(raw)
        met = [raw[j][0] and (valide is None or valide[j]) for j in range(n)]
        awaiting = [raw[j][0] and not met[j] for j in range(n)]
        pts = [raw[j][1] if met[j] else 0 for j in range(n)]
        aside = [False] * n
        group_points: dict[str, int] = {}
        for g, (g_floor, g_cap) in zip(self.grid.groups, self._group_bounds):
            members = [j for j in g.members if met[j]]
            if g.policy == "max" and members:
                best = members[0]
                for j in members[1:]:
                    if pts[j] > pts[best]:  # strict: the earliest wins among equals
                        best = j
                for j in members:
                    aside[j] = j != best
                total = pts[best]
            elif g.policy == "first" and members:
                for j in members[1:]:
                    aside[j] = True
                total = pts[members[0]]
            else:
                total = sum(pts[j] for j in members)
            group_points[g.id] = _bounded(total, g_floor, g_cap)
        outcomes = tuple(Outcome(met[j], pts[j], aside[j], awaiting[j]) for j in range(n))
        # group caps/floors change what a group adds, so the total is built from the groups
        total = sum(group_points.values()) + sum(pts[j] for j in self.grid.ungrouped if met[j])
        return outcomes, group_points, _bounded(total, self._floor_h, self._cap_h)

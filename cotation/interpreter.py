"""The reference interpreter: the specification of scoring, in code.

It scores one demande at a time and explains every point. IR expressions are turned once into
Python closures (faster than walking the tree per row, same semantics). Numbers follow IEEE
double arithmetic; each criterion is rounded to integer hundredths before anything is added.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

from . import ir
from .schema import Kind

Fn = Callable[["Env"], Any]

# A criterion yielding more than this (in absolute value) has no meaningful value; integer
# hundredths of it still fit in int64 with room for sums.
MAX_POINTS = 1e13


class Env:
    """What an expression can read: the demande's row, the localisation, the reference date."""

    __slots__ = ("row", "loc", "today")

    def __init__(self, row: dict, loc: dict, today: dt.date):
        self.row = row
        self.loc = loc
        self.today = today


# ------------------------------------------------------------------------ exact small functions

def round_hundredths(x: float) -> int:
    """Round half away from zero to integer hundredths: ``sign(x) * floor(abs(x)*100 + 0.5)``.

    >>> round_hundredths(2.675), round_hundredths(-0.125), round_hundredths(1e-9)
    (268, -13, 0)
    """
    h = math.floor(abs(x) * 100.0 + 0.5)
    return -h if x < 0 else h


def round_to(x: float, n: int) -> float:
    """``round(x, n)`` of the grid language: half away from zero.

    >>> round_to(2.5, 0), round_to(-2.5, 0), round_to(1.005, 2)
    (3.0, -3.0, 1.0)
    """
    p = 10.0 ** n
    v = math.floor(abs(x) * p + 0.5) / p
    return -v if x < 0 else v


def months_between(d1: dt.date, d2: dt.date) -> int:
    """Whole calendar months from d1 to d2 (negative when d2 is before d1).

    >>> months_between(dt.date(2024, 1, 31), dt.date(2024, 2, 29))
    0
    >>> months_between(dt.date(2023, 12, 15), dt.date(2025, 6, 30))
    18
    """
    return 12 * (d2.year - d1.year) + (d2.month - d1.month) - (1 if d2.day < d1.day else 0)


# ------------------------------------------------------------------------ expression closures

def compile_expr(node: ir.Expr) -> Fn:
    """Turn an IR expression into a closure ``env -> value`` (None = missing)."""
    if isinstance(node, ir.Const):
        value = node.value
        return lambda env: value
    if isinstance(node, ir.Ref):
        name = node.name
        return lambda env: env.row.get(name)
    if isinstance(node, ir.LocRef):
        name = node.name
        return lambda env: env.loc[name]
    if isinstance(node, ir.Today):
        return lambda env: env.today
    if isinstance(node, ir.Neg):
        f = compile_expr(node.operand)

        def neg(env):
            v = f(env)
            return None if v is None else -float(v)
        return neg
    if isinstance(node, ir.Arith):
        return _arith(node.op, compile_expr(node.left), compile_expr(node.right))
    if isinstance(node, ir.Compare):
        return _compare(node.op, compile_expr(node.left), compile_expr(node.right))
    if isinstance(node, ir.Member):
        return _member(node)
    if isinstance(node, ir.Between):
        fx, flo, fhi = compile_expr(node.operand), compile_expr(node.low), compile_expr(node.high)

        def between(env):
            x, lo, hi = fx(env), flo(env), fhi(env)
            if x is None or lo is None or hi is None:
                return None
            return lo <= x <= hi
        return between
    if isinstance(node, (ir.And, ir.Or)):
        # Kleene logic: the dominant value (false for and, true for or) wins over missing.
        return _kleene(compile_expr(node.left), compile_expr(node.right), isinstance(node, ir.Or))
    if isinstance(node, ir.Not):
        f = compile_expr(node.operand)

        def not_(env):
            v = f(env)
            return None if v is None else not v
        return not_
    if isinstance(node, ir.If):
        fc, fa, fb = compile_expr(node.cond), compile_expr(node.then), compile_expr(node.otherwise)

        def if_(env):  # a missing condition gives a missing result
            c = fc(env)
            if c is None:
                return None
            return fa(env) if c else fb(env)
        return if_
    if isinstance(node, ir.Call):
        return _call(node)
    if isinstance(node, ir.SetLiteral):
        values = frozenset(i.value for i in node.items)
        return lambda env: values
    raise TypeError(f"no interpreter rule for {type(node).__name__}")


def _kleene(fa: Fn, fb: Fn, dominant: bool) -> Fn:
    def kleene(env):
        a = fa(env)
        if a is dominant:
            return dominant
        b = fb(env)
        if b is dominant:
            return dominant
        if a is None or b is None:
            return None
        return not dominant
    return kleene


def _arith(op: str, fa: Fn, fb: Fn) -> Fn:
    def arith(env):
        a = fa(env)
        if a is None:
            return None
        b = fb(env)
        if b is None:
            return None
        a, b = float(a), float(b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0.0:
            return None  # division by zero gives a missing value
        return a / b
    return arith


_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _compare(op: str, fa: Fn, fb: Fn) -> Fn:
    cmp = _COMPARE[op]

    def compare(env):
        a = fa(env)
        if a is None:
            return None
        b = fb(env)
        if b is None:
            return None
        return cmp(a, b)
    return compare


def _member(node: ir.Member) -> Fn:
    fi, fc = compile_expr(node.item), compile_expr(node.container)
    negate = node.negate

    def member(env):
        item = fi(env)
        if item is None:
            return None
        container = fc(env)
        if container is None:  # e.g. a set field chosen by an if with a missing condition
            return None
        found = item in container
        return (not found) if negate else found
    return member


def _call(node: ir.Call) -> Fn:
    fs = [compile_expr(a) for a in node.args]
    fn = node.fn
    if fn == "is_missing":
        f = fs[0]
        return lambda env: f(env) is None
    if fn == "coalesce":
        def coalesce(env):
            for f in fs:
                v = f(env)
                if v is not None:
                    return v
            return None
        return coalesce
    numeric_out = node.type.kind in (Kind.INT, Kind.DECIMAL)

    def call(env):
        args = [f(env) for f in fs]
        if any(a is None for a in args):
            return None
        if fn == "min":
            v = min(args)
        elif fn == "max":
            v = max(args)
        elif fn == "clamp":
            v = min(max(float(args[0]), float(args[1])), float(args[2]))
        elif fn == "abs":
            v = abs(float(args[0]))
        elif fn == "floor":
            v = math.floor(float(args[0]))
        elif fn == "ceil":
            v = math.ceil(float(args[0]))
        elif fn == "round":
            v = round_to(float(args[0]), int(args[1]) if len(args) > 1 else 0)
        elif fn == "months_between":
            v = months_between(args[0], args[1])
        elif fn == "years_between":
            v = months_between(args[0], args[1]) // 12
        elif fn == "days_between":
            v = (args[1] - args[0]).days
        else:  # pragma: no cover - the checker only lets known functions through
            raise TypeError(fn)
        return float(v) if numeric_out and not isinstance(v, dt.date) else v
    return call


def evaluate_constant(node: ir.Expr) -> Any:
    """Value of an expression that reads no demande (parameters, bounds)."""
    return compile_expr(node)(Env({}, {}, dt.date(1970, 1, 1)))


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


class Interpreter:
    """Scores demandes with a grid IR, one (demande, commune) pair at a time."""

    def __init__(self, grid: ir.GridIR):
        self.grid = grid
        self._applies = compile_expr(grid.applies_to) if grid.applies_to is not None else None
        self._derived = [(n, compile_expr(e)) for n, e in grid.derived]
        self._crit = [self._compile_criterion(c) for c in grid.criteria]
        self._keys = [None if k.expr is None else compile_expr(k.expr) for k in grid.ordering]
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

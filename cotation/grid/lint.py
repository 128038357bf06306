"""Static checks an author expects, reported as warnings with their location.

- bands with gaps (a value range that gives no points);
- criteria that can never be met given the enumerations and numeric bounds
  (per-field interval and value-set reasoning on conjunctions, no SAT solver);
- group members shadowed by the group policy (a `first` member after an always-true or
  identical condition; a `max` member that can never exceed an identical earlier one);
- criteria with identical conditions and points.
"""
from __future__ import annotations

from typing import Iterable

from cotation.grid import ir
from cotation.grid.diagnostics import Diagnostic, msg
from cotation.grid.loader import SourceMap
from cotation.grid.model import GridFile
from cotation.data.schema import Kind

_INF = float("inf")


def lint_grid(grid: ir.GridIR, model: GridFile, smap: SourceMap) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out.extend(_band_gaps(grid, smap))
    out.extend(_never_met(grid, smap))
    out.extend(_shadowed_members(grid, smap))
    out.extend(_identical_criteria(grid, smap))
    return out


def _warn(code: str, message: str, smap: SourceMap, path: tuple, criterion: str | None,
          hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, smap.span(path), "warning", criterion, hint)


def _fmt(x: float) -> str:
    if x in (_INF, -_INF):
        return "∞" if x > 0 else "-∞"
    return str(int(x)) if float(x).is_integer() else str(x)


def _band_gaps(grid: ir.GridIR, smap: SourceMap) -> Iterable[Diagnostic]:
    for c in grid.criteria:
        if not c.bands:
            continue
        intervals = sorted(((-_INF if s.low is None else s.low), (_INF if s.high is None else s.high), k)
                           for k, s in enumerate(c.bands))
        reach = intervals[0][1]
        for lo, hi, k in intervals[1:]:
            if lo > reach:  # point at the step that resumes after the gap
                yield _warn("band-gap", msg('no band step covers [{reach}, {lo}): values there get 0 points and the criterion is not met', reach=_fmt(reach), lo=_fmt(lo)), smap,
                            ("criteria", c.index, "bands", "steps", k), c.id,
                            msg('add a step with points: 0 if this is intended'))
            reach = max(reach, hi)


# -------------------------------------------------------------------- never met

class _Domain:
    """What a conjunction of atoms allows for each field: a value set or an interval."""

    def __init__(self) -> None:
        self.values: dict[str, set] = {}
        self.low: dict[str, tuple[float, bool]] = {}   # (bound, inclusive)
        self.high: dict[str, tuple[float, bool]] = {}

    def restrict_values(self, field: str, allowed: set) -> None:
        self.values[field] = self.values.get(field, allowed) & allowed

    def restrict_low(self, field: str, bound: float, inclusive: bool) -> None:
        cur = self.low.get(field)
        if cur is None or bound > cur[0] or (bound == cur[0] and not inclusive):
            self.low[field] = (bound, inclusive)

    def restrict_high(self, field: str, bound: float, inclusive: bool) -> None:
        cur = self.high.get(field)
        if cur is None or bound < cur[0] or (bound == cur[0] and not inclusive):
            self.high[field] = (bound, inclusive)

    def empty_field(self) -> str | None:
        for f, vals in self.values.items():
            if not vals:
                return f
        for f in set(self.low) & set(self.high):
            (lo, li), (hi, hi_inc) = self.low[f], self.high[f]
            if lo > hi or (lo == hi and not (li and hi_inc)):
                return f
        return None


def _conjuncts(e: ir.Expr) -> list[ir.Expr]:
    if isinstance(e, ir.And):
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _field_name(e: ir.Expr) -> str | None:
    if isinstance(e, ir.Ref):
        return e.name
    if isinstance(e, ir.LocRef):
        return f"loc.{e.name}"
    return None


def _number(e: ir.Expr) -> float | None:
    if isinstance(e, ir.Const) and e.type.numeric:
        return float(e.value)
    return None


def _restrict(dom: _Domain, atom: ir.Expr) -> None:
    if isinstance(atom, ir.Compare):
        f, other, op = _field_name(atom.left), atom.right, atom.op
        if f is None:
            f, other = _field_name(atom.right), atom.left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        if f is None or not isinstance(other, ir.Const):
            return
        if op == "==" and other.type.kind in (Kind.CODE, Kind.TEXT, Kind.COMMUNE, Kind.BOOL):
            dom.restrict_values(f, {other.value})
            return
        x = _number(other)
        if x is None:
            return
        if op == "==":
            dom.restrict_low(f, x, True)
            dom.restrict_high(f, x, True)
        elif op in (">", ">="):
            dom.restrict_low(f, x, op == ">=")
        elif op in ("<", "<="):
            dom.restrict_high(f, x, op == "<=")
    elif isinstance(atom, ir.Member) and isinstance(atom.container, ir.SetLiteral):
        f = _field_name(atom.item)
        if f is None:
            return
        vals = {i.value for i in atom.container.items}
        if atom.negate:
            enum = atom.item.type.enum
            if enum is not None:
                dom.restrict_values(f, set(enum) - vals)
        else:
            dom.restrict_values(f, vals)
    elif isinstance(atom, ir.Between):
        f = _field_name(atom.operand)
        lo, hi = _number(atom.low), _number(atom.high)
        if f is not None and lo is not None and hi is not None:
            dom.restrict_low(f, lo, True)
            dom.restrict_high(f, hi, True)


def _never_met(grid: ir.GridIR, smap: SourceMap) -> Iterable[Diagnostic]:
    for c in grid.criteria:
        if c.when is None:
            continue
        if isinstance(c.when, ir.Const) and c.when.value is False:
            yield _warn("never-met", msg("'when' is false: this criterion can never be met"), smap,
                        ("criteria", c.index, "when"), c.id)
            continue
        dom = _Domain()
        for atom in _conjuncts(c.when):
            _restrict(dom, atom)
        f = dom.empty_field()
        if f is not None:
            yield _warn("never-met", msg("the conditions on '{f}' contradict each other: this criterion can never be met", f=f), smap, ("criteria", c.index, "when"), c.id)


# -------------------------------------------------------------------- groups

def _same(a: ir.Expr | None, b: ir.Expr | None) -> bool:
    return a == b  # IR nodes compare structurally (spans are left out)


def _shadowed_members(grid: ir.GridIR, smap: SourceMap) -> Iterable[Diagnostic]:
    crit = grid.criteria
    for gi, g in enumerate(grid.groups):
        if g.policy not in ("first", "max"):
            continue
        for pos, j in enumerate(g.members):
            cj = crit[j]
            for i in g.members[:pos]:
                ci = crit[i]
                if ci.validation != cj.validation:
                    continue  # validated scores can still differ
                if g.policy == "first" and (ci.when is None and ci.band_of is None
                                            and isinstance(ci.points, ir.Const) or _same(ci.when, cj.when)
                                            and ci.band_of is None and cj.band_of is None):
                    yield _warn("shadowed-member", msg("member '{id}' can never be kept: '{id2}' comes first in this 'first' group and is met whenever it is", id=cj.id, id2=ci.id),
                                smap, ("groups", gi, "members", pos), g.id)
                    break
                if g.policy == "max" and _same(ci.when, cj.when) and isinstance(ci.points, ir.Const) \
                        and isinstance(cj.points, ir.Const) and cj.cap is None and ci.cap is None \
                        and cj.points.value * cj.weight <= ci.points.value * ci.weight:
                    yield _warn("shadowed-member", msg("member '{id}' can never be kept: '{id2}' has the same condition and at least as many points", id=cj.id, id2=ci.id), smap,
                                ("groups", gi, "members", pos), g.id)
                    break


def _identical_criteria(grid: ir.GridIR, smap: SourceMap) -> Iterable[Diagnostic]:
    seen: dict[tuple, str] = {}
    for c in grid.criteria:
        if c.when is None:
            continue
        key = (c.when, c.points, c.band_of, c.bands, c.cap, c.floor, c.weight)
        if key in seen:
            yield _warn("duplicate-criterion", msg("criterion has the same condition and points as '{value}': a demande meeting one gets both", value=seen[key]), smap,
                        ("criteria", c.index), c.id)
        else:
            seen[key] = c.id

"""What an expression of the grid language means: its evaluation, in code.

This is part of the language definition, so it lives with the front end: the checker folds
constant expressions (parameters, bounds) with it, and the reference interpreter scores every
demande with it. IR expressions are turned once into Python closures (faster than walking the
tree per row, same semantics).

Numbers (docs/grid-language.md, "Numbers"): every number is an IEEE double; a number read from
a demande that is not finite is missing; an operation whose result is not a finite number
(division by zero, overflow) gives a missing value, so ``floor``, ``ceil``, ``round`` and
comparisons only ever see finite numbers. Whole numbers beyond 2^53 are read as the nearest
double, exactly as the compiled engine stores them.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable

from cotation.grid import ir
from cotation.grid.ir import MAX_POINTS  # noqa: F401  (re-exported: the interpreter's bound)
from cotation.data.schema import Kind

Fn = Callable[["Env"], Any]

_EXACT = ir.MAX_EXACT
_WHOLE = 2.0 ** 52   # from here on every double is a whole number


def read_number(v: Any) -> Any:
    """A number as the engines read it: None when missing or not finite; a Python int stays
    an int while it is an exact double (|v| <= 2^53), else the nearest double."""
    if v is None:
        return None
    if isinstance(v, int):
        return v if -_EXACT <= v <= _EXACT else float(v)
    v = float(v)
    return v if math.isfinite(v) else None


def finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


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

    Beyond 2^52 units of 10^-n the number is already whole at that scale and is returned as is
    (the compiled engine's ``_round_to`` does the same).

    >>> round_to(2.5, 0), round_to(-2.5, 0), round_to(1.005, 2), round_to(1e300, 6)
    (3.0, -3.0, 1.0, 1e+300)
    """
    p = 10.0 ** n
    y = abs(x) * p
    if not y < _WHOLE:
        return x
    v = math.floor(y + 0.5) / p
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
        if node.type.kind in (Kind.INT, Kind.DECIMAL) and not isinstance(value, bool):
            value = read_number(value)
        return lambda env: value
    if isinstance(node, ir.Ref):
        name = node.name
        if node.type.kind in (Kind.INT, Kind.DECIMAL):
            return lambda env: read_number(env.row.get(name))
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
            return finite_or_none(a + b)
        if op == "-":
            return finite_or_none(a - b)
        if op == "*":
            return finite_or_none(a * b)
        if b == 0.0:
            return None  # division by zero gives a missing value
        return finite_or_none(a / b)
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

"""Lowering IR expressions to kernel source: each expression becomes a (value, known) pair of
variables; numbers and codes go to parameter slots, never into the source.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from cotation.data.schema import Kind
from cotation.engine.compiled.plan import (
    AND, BSEL, ColumnSpec, DMISS, LoweringError, NOT, OR, Resolver, _BOOL, _FLOAT, _INT, _LOCS,
    _PARAM_RE, _SET, _simple, value_kind,
)
from cotation.grid import ir
from cotation.grid.evaluate import evaluate_constant

def _emit_bounds(L: list[str], fn, sh, var: str, prefix: str, floor: float | None,
                 cap: float | None) -> str:
    """Lines applying a floor then a cap (hundredths read from the parameter array)."""
    from cotation.grid.evaluate import round_hundredths  # the interpreter's rounding, shared
    for bound, op in ((floor, "<"), (cap, ">")):
        if bound is not None:
            s = sh.hundredths(round_hundredths(bound))
            n = fn.tmp()
            L.append(f"{prefix}{n} = _sel({var} {op} pi[{s}], pi[{s}], {var})")
            var = f"{prefix}{n}"
    return var


def _read_value(vk: str, kind: Kind, src: str, n: int) -> list[str]:
    """Lines reading one value and its known flag (missing sentinels: NaN, -1, DMISS)."""
    if vk == _FLOAT:  # NaN is the missing sentinel; a value that is not finite is missing too
        return [f"v{n} = {src}", f"k{n} = np.isfinite(v{n})"]
    if vk == _BOOL:
        return [f"y{n} = {src}", f"v{n} = y{n} == 1", f"k{n} = y{n} >= 0"]
    if kind is Kind.DATE:
        return [f"v{n} = {src}", f"k{n} = v{n} != DMISS"]
    return [f"v{n} = {src}", f"k{n} = v{n} >= 0"]


def _data_free(node: ir.Expr) -> bool:
    """True when the expression reads no demande, no localisation and not ``today``."""
    return not any(isinstance(n, (ir.Ref, ir.LocRef, ir.Today)) for n in ir.walk(node))


def _has_const(node: ir.Expr) -> bool:
    return any(isinstance(n, (ir.Const, ir.SetLiteral)) for n in ir.walk(node))


# ------------------------------------------------------------------------------ lowering

class _Shared:
    """State shared by the kernels of one grid: columns and parameter slots."""

    def __init__(self, grid: ir.GridIR):
        self.grid = grid
        self.columns: list[ColumnSpec] = []
        self.col_index: dict[tuple[str, str], int] = {}
        self.f_slots: list[Resolver] = []
        self.i_slots: list[Resolver | None] = []
        self.luts: list[tuple[int, Resolver]] = []
        self.const_slots: dict[int, tuple[str, int]] = {}   # id(node) -> (array, slot)
        self.text_consts: set[str] = set()
        self.commune_consts: set[str] = set()
        self.derived = dict(grid.derived)
        self.today: int | None = None
        self._max_points: int | None = None
        self._keep: list[Any] = []   # nodes whose id() is a key above stay alive

    def column(self, ref: ir.Ref) -> int:
        key = (ref.source, ref.name)
        if key not in self.col_index:
            self.col_index[key] = len(self.columns)
            self.columns.append(ColumnSpec(ref.name, ref.source, ref.type.kind, ref.type.enum))
        return self.col_index[key]

    def f_slot(self, resolver: Resolver) -> int:
        self.f_slots.append(resolver)
        return len(self.f_slots) - 1

    def i_slot(self, resolver: Resolver | None) -> int:
        self.i_slots.append(resolver)
        return len(self.i_slots) - 1

    def number(self, value: float) -> int:
        """A float slot for a grid number (cap, floor, weight, band bound)."""
        v = _finite(value)
        return self.f_slot(lambda ctx, v=v: v)

    def max_points(self) -> int:
        """The slot holding the interpreter's MAX_POINTS bound."""
        if self._max_points is None:
            from cotation.grid.evaluate import MAX_POINTS
            self._max_points = self.f_slot(lambda ctx, v=float(MAX_POINTS): v)
        return self._max_points

    def hundredths(self, value: int) -> int:
        v = int(value)
        return self.i_slot(lambda ctx, v=v: v)

    def const(self, node: ir.Expr) -> tuple[str, int]:
        """Slot of a data-free expression, evaluated once by the reference interpreter."""
        key = id(node)
        if key in self.const_slots:
            return self.const_slots[key]
        self._keep.append(node)
        try:
            value = evaluate_constant(node)
        except Exception as exc:  # the interpreter would fail the same way at scoring time
            raise LoweringError(f"constant expression cannot be evaluated: {exc}") from None
        kind = node.type.kind
        if kind in (Kind.INT, Kind.DECIMAL):
            v = math.nan if value is None else _finite(value)
            slot = (_FLOAT, self.f_slot(lambda ctx, v=v: v))
        elif kind is Kind.BOOL:
            v = -1 if value is None else (1 if value else 0)
            slot = (_INT, self.i_slot(lambda ctx, v=v: v))
        elif kind is Kind.DATE:
            v = DMISS if value is None else _ordinal(value)
            slot = (_INT, self.i_slot(lambda ctx, v=v: v))
        elif kind is Kind.CODE:
            enum = node.type.enum
            if value is None:
                slot = (_INT, self.i_slot(lambda ctx: -1))
            elif enum is None:
                raise LoweringError("a code constant without an enumeration can only be used "
                                    "in a constant expression")
            else:
                s = str(value)
                slot = (_INT, self.i_slot(lambda ctx, e=enum, s=s: ctx.code_index(e, s)))
        elif kind in (Kind.TEXT, Kind.COMMUNE):
            if value is None:
                slot = (_INT, self.i_slot(lambda ctx: -1))
            else:
                s = str(value)
                if kind is Kind.TEXT:
                    self.text_consts.add(s)
                    slot = (_INT, self.i_slot(lambda ctx, s=s: ctx.text_id(s)))
                else:
                    self.commune_consts.add(s)
                    slot = (_INT, self.i_slot(lambda ctx, s=s: ctx.commune_id(s)))
        else:
            raise LoweringError(f"a constant of kind {kind.value} cannot be used here")
        self.const_slots[key] = slot
        return slot

    def code_lut(self, enum: tuple[str, ...], values: list[str]) -> int:
        """A lookup table over the enum's domain; returns the pi slot holding its offset."""
        slot = self.i_slot(None)
        vals = tuple(values)

        def build(ctx, enum=enum, vals=vals):
            import numpy as np
            lut = np.zeros(max(1, ctx.domain_size(enum)), dtype=np.uint8)
            for v in vals:
                lut[ctx.code_index(enum, v)] = 1
            return lut
        self.luts.append((slot, build))
        return slot


def _finite(value: Any) -> float:
    try:
        v = float(value)
    except OverflowError:
        raise LoweringError(f"number {value} is too large for double precision") from None
    return v


def _ordinal(value: Any) -> int:
    if isinstance(value, dt.date):
        return value.toordinal()
    raise LoweringError(f"not a date: {value!r}")


class _Fn:
    """Lowers expressions into one kernel function: a demande block D and a pair block P."""

    def __init__(self, shared: _Shared, has_pairs: bool):
        self.sh = shared
        self.has_pairs = has_pairs
        self.d_lines: list[str] = []
        self.p_lines: list[str] = []
        self.n = 0
        self.memo_d: dict[Any, tuple] = {}
        self.memo_p: dict[Any, tuple] = {}
        self.valid_col: int | None = None
        self._loc_cache: dict[int, bool] = {}

    # -- emission
    def tmp(self) -> int:
        self.n += 1
        return self.n

    def uses_loc(self, node: ir.Expr) -> bool:
        key = id(node)
        if key not in self._loc_cache:
            self._loc_cache[key] = ir.uses_loc(node)
        return self._loc_cache[key]

    def block(self, node: ir.Expr | None) -> list[str]:
        if node is not None and self.has_pairs and self.uses_loc(node):
            return self.p_lines
        return self.d_lines

    def bind(self, lines: list[str], expr: str, prefix: str = "v") -> str:
        """A name for ``expr``: the expression itself when it is a constant, a name or a
        parameter read; otherwise a fresh variable assigned once."""
        if expr in ("True", "False") or _simple(expr) or _PARAM_RE.match(expr):
            return expr
        n = self.tmp()
        lines.append(f"{prefix}{n} = {expr}")
        return f"{prefix}{n}"

    # -- expressions
    def lower(self, node: ir.Expr) -> tuple[str, str, str]:
        """Lower ``node``; return (kind, value, known): names or constant expressions."""
        vk = value_kind(node.type)
        if vk in (_SET, _LOCS):
            raise LoweringError("a set is only usable with 'in', has() or is_missing()")
        if _data_free(node):
            arr, slot = self.sh.const(node)
            if isinstance(node, ir.Const) and node.param is None:
                # a literal of the grid: never missing, read in place
                if vk == _FLOAT:
                    return vk, f"pf[{slot}]", "True"
                if vk == _BOOL:
                    return vk, f"(pi[{slot}] == 1)", "True"
                return vk, f"pi[{slot}]", "True"
            lines = self.block(node)
            n = self.tmp()
            lines.extend(_read_value(vk, node.type.kind, f"pf[{slot}]" if vk == _FLOAT else f"pi[{slot}]", n))
            return vk, f"v{n}", f"k{n}"
        memo = self.memo_p if (self.has_pairs and self.uses_loc(node)) else self.memo_d
        key = node if not _has_const(node) else None
        if key is not None and key in memo:
            return memo[key]
        out = self._lower(node, vk)
        if key is not None:
            memo[key] = out
        return out

    def _lower(self, node: ir.Expr, vk: str) -> tuple[str, str, str]:
        L = self.block(node)
        if isinstance(node, ir.Ref):
            return self._ref(node, vk, L)
        if isinstance(node, ir.LocRef):
            if not self.has_pairs:
                raise LoweringError("loc. fields are not available here")
            if node.name == "commune":
                return vk, "lcid", "True"
            if node.name == "rang":
                return vk, self.bind(L, "float(rang)"), "True"
            if node.name == "epci":
                slot = self.sh.i_slot(lambda ctx, s=self.sh.grid.epci_siren: ctx.text_id(s))
                self.sh.text_consts.add(self.sh.grid.epci_siren)
                return vk, f"pi[{slot}]", "True"
            raise LoweringError("unknown localisation field")
        if isinstance(node, ir.Today):
            return vk, f"pi[{self.today_slot()}]", "True"
        if isinstance(node, ir.Neg):
            _, a, ka = self.lower(node.operand)
            return vk, self.bind(L, f"-{a}"), ka
        if isinstance(node, ir.Arith):
            _, a, ka = self.lower(node.left)
            _, b, kb = self.lower(node.right)
            # a result that is not a finite number (division by zero, overflow) is missing
            if node.op == "/":
                v = self.bind(L, f"_div({a}, {b})")
                return vk, v, self.bind(L, AND(ka, kb, f"{b} != 0.0", f"np.isfinite({v})"), "k")
            op = {"+": "+", "-": "-", "*": "*"}[node.op]
            v = self.bind(L, f"{a} {op} {b}")
            return vk, v, self.bind(L, AND(ka, kb, f"np.isfinite({v})"), "k")
        if isinstance(node, ir.Compare):
            _, a, ka = self.lower(node.left)
            _, b, kb = self.lower(node.right)
            op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[node.op]
            k = self.bind(L, AND(ka, kb), "k")
            return vk, self.bind(L, AND(k, f"{a} {op} {b}")), k
        if isinstance(node, ir.Between):
            _, x, kx = self.lower(node.operand)
            _, lo, klo = self.lower(node.low)
            _, hi, khi = self.lower(node.high)
            k = self.bind(L, AND(kx, klo, khi), "k")
            return vk, self.bind(L, AND(k, f"{lo} <= {x}", f"{x} <= {hi}")), k
        if isinstance(node, ir.And):
            _, a, ka = self.lower(node.left)
            _, b, kb = self.lower(node.right)
            fa = self.bind(L, AND(ka, f"not {a}"), "fa")
            fb = self.bind(L, AND(kb, f"not {b}"), "fb")
            k = self.bind(L, OR(fa, fb, AND(ka, kb)), "k")
            return vk, self.bind(L, AND(ka, a, kb, b)), k
        if isinstance(node, ir.Or):
            _, a, ka = self.lower(node.left)
            _, b, kb = self.lower(node.right)
            ta = self.bind(L, AND(ka, a), "ta")
            tb = self.bind(L, AND(kb, b), "tb")
            k = self.bind(L, OR(ta, tb, AND(ka, kb)), "k")
            return vk, self.bind(L, OR(ta, tb)), k
        if isinstance(node, ir.Not):
            _, a, ka = self.lower(node.operand)
            return vk, self.bind(L, AND(ka, f"not {a}")), ka
        if isinstance(node, ir.If):
            _, c, kc = self.lower(node.cond)
            _, a, ka = self.lower(node.then)
            _, b, kb = self.lower(node.otherwise)
            a, b = self._same(vk, node.then, a), self._same(vk, node.otherwise, b)
            k = self.bind(L, AND(kc, BSEL(c, ka, kb)), "k")
            return vk, self.bind(L, f"_sel({c}, {a}, {b})"), k
        if isinstance(node, ir.Member):
            return self._member(node, L)
        if isinstance(node, ir.Call):
            return self._call(node, vk, L)
        raise LoweringError(f"no kernel rule for {type(node).__name__}")

    def _same(self, vk: str, node: ir.Expr, var: str) -> str:
        if vk == _FLOAT and value_kind(node.type) != _FLOAT:
            raise LoweringError("mixed branch types")
        return var

    def today_slot(self) -> int:
        if self.sh.today is None:
            self.sh.today = self.sh.i_slot(lambda ctx: ctx.today)
        return self.sh.today

    def _ref(self, node: ir.Ref, vk: str, L: list[str]) -> tuple[str, str, str]:
        if node.source == "derived":
            expr = self.sh.derived.get(node.name)
            if expr is None:  # not computed by the interpreter either: missing
                return vk, self._zero(vk), "False"
            return self.lower(expr)
        c = self.sh.column(node)
        n = self.tmp()
        src = f"col{c}[i]"
        if vk not in (_FLOAT, _BOOL) and node.type.kind is not Kind.DATE:
            src = f"np.int64({src})"  # codes and ids are stored narrow
        L.extend(_read_value(vk, node.type.kind, src, n))
        return vk, f"v{n}", f"k{n}"

    # -- membership
    def _member(self, node: ir.Member, L: list[str]) -> tuple[str, str, str]:
        cont = node.container
        _, item, ki = self.lower(node.item)
        if isinstance(cont, ir.SetLiteral):
            ikind = node.item.type.kind
            if ikind is Kind.CODE:
                enum = node.item.type.enum
                if enum is None:
                    raise LoweringError("code without enumeration")
                values = []
                for lit in cont.items:
                    val = evaluate_constant(lit)
                    if val is not None:
                        values.append(str(val))
                slot = self.sh.code_lut(enum, values)
                found = self.bind(L, AND(ki, f"plut[pi[{slot}] + max({item}, 0)] != 0"), "f")
            else:
                tests = []
                for lit in cont.items:
                    _, c, kc = self.lower(lit)
                    tests.append(AND(kc, f"{item} == {c}"))
                found = self.bind(L, AND(ki, OR(*tests) if tests else "False"), "f")
            known = ki
        elif value_kind(cont.type) == _LOCS:
            if not (isinstance(cont, ir.Ref) and cont.name == "localisations"):
                raise LoweringError("only the localisations field is a list of communes")
            found = self.bind(L, AND(ki, f"_in_locs(loc_val, loc_ptr[i], loc_ptr[i + 1], {item})"), "f")
            known = ki
        else:
            f, k = self._in_set(cont, item, ki, L)
            found = f
            known = self.bind(L, AND(ki, k), "k")
        if node.negate:
            return _BOOL, self.bind(L, AND(known, f"not {found}")), known
        return _BOOL, self.bind(L, AND(known, found)), known

    def _in_set(self, s: ir.Expr, item: str, ki: str, L: list[str]) -> tuple[str, str]:
        """Membership of a code (already lowered) in a set-valued expression: (found, known)."""
        if isinstance(s, ir.Ref) and s.source in ("column", "local"):
            c = self.sh.column(s)
            return self.bind(L, AND(ki, f"_has(col{c}, i, {item})"), "sg"), "True"
        if isinstance(s, ir.If):
            _, c, kc = self.lower(s.cond)
            fa, ka = self._in_set(s.then, item, ki, L)
            fb, kb = self._in_set(s.otherwise, item, ki, L)
            return (self.bind(L, AND(kc, BSEL(c, fa, fb)), "sg"),
                    self.bind(L, AND(kc, BSEL(c, ka, kb)), "sk"))
        if isinstance(s, ir.Call) and s.fn == "coalesce":
            parts = [self._in_set(a, item, ki, L) for a in s.args]
            f, k = "False", "False"
            for fa, ka in reversed(parts):
                f = BSEL(ka, fa, f)
                k = OR(ka, k)
            return self.bind(L, f, "sg"), self.bind(L, k, "sk")
        raise LoweringError("this set expression cannot be tested for membership in a kernel")

    def _set_known(self, s: ir.Expr, L: list[str]) -> str:
        if isinstance(s, ir.Ref) or _data_free(s):
            return "True"
        if isinstance(s, ir.If):
            _, c, kc = self.lower(s.cond)
            ka = self._set_known(s.then, L)
            kb = self._set_known(s.otherwise, L)
            return self.bind(L, AND(kc, BSEL(c, ka, kb)), "sk")
        if isinstance(s, ir.Call) and s.fn == "coalesce":
            return self.bind(L, OR(*[self._set_known(a, L) for a in s.args]), "sk")
        raise LoweringError("this set expression cannot be lowered")

    # -- functions
    def _call(self, node: ir.Call, vk: str, L: list[str]) -> tuple[str, str, str]:
        fn = node.fn
        if fn == "is_missing":
            arg = node.args[0]
            ak = value_kind(arg.type)
            if ak in (_SET, _LOCS):
                known = "True" if ak == _LOCS else self._set_known(arg, L)
            else:
                _, _, known = self.lower(arg)
            return vk, self.bind(L, NOT(known)), "True"
        if fn == "coalesce":
            vals = [self.lower(a) for a in node.args]
            for j, (_, _, ka) in enumerate(vals):
                if ka == "True":         # later arguments are never reached
                    vals = vals[: j + 1]
                    break
            value, known = self._zero(vk), "False"
            for _, a, ka in reversed(vals):
                value = a if ka == "True" else f"_sel({ka}, {a}, {value})"
                known = OR(ka, known)
            return vk, self.bind(L, value), self.bind(L, known, "k")
        args = [self.lower(a) for a in node.args]
        k = self.bind(L, AND(*[ka for _, _, ka in args]), "k")
        a = [x for _, x, _ in args]
        if fn in ("min", "max"):
            op = "<" if fn == "min" else ">"
            cur = a[0]
            for x in a[1:]:
                cur = self.bind(L, f"_sel({x} {op} {cur}, {x}, {cur})")
            return vk, cur, k
        if fn == "clamp":
            lo = self.bind(L, f"_sel({a[1]} > {a[0]}, {a[1]}, {a[0]})")
            return vk, self.bind(L, f"_sel({a[2]} < {lo}, {a[2]}, {lo})"), k
        if fn == "abs":
            return vk, self.bind(L, f"abs({a[0]})"), k
        if fn == "floor":
            return vk, self.bind(L, f"np.floor({a[0]})"), k
        if fn == "ceil":
            return vk, self.bind(L, f"np.ceil({a[0]})"), k
        if fn == "round":
            if len(node.args) > 1:
                try:
                    digits = int(evaluate_constant(node.args[1]))
                except Exception:
                    raise LoweringError("round() needs a constant number of decimals") from None
                slot = self.sh.f_slot(lambda ctx, d=digits: 10.0 ** d)
                return vk, self.bind(L, f"_round_to({a[0]}, pf[{slot}])"), k
            return vk, self.bind(L, f"_round_to({a[0]}, 1.0)"), k
        if fn == "months_between":
            return vk, self.bind(L, f"float(_months({a[0]}, {a[1]}))"), k
        if fn == "years_between":
            return vk, self.bind(L, f"float(_months({a[0]}, {a[1]}) // 12)"), k
        if fn == "days_between":
            return vk, self.bind(L, f"float({a[1]} - {a[0]})"), k
        raise LoweringError("unknown function")

    @staticmethod
    def _zero(vk: str) -> str:
        return {"f": "0.0", "b": "False", "i": "np.int64(-1)"}[vk]

"""IR → Python source of two Numba kernels (``count_pairs`` and ``score_pairs``).

The generated source depends only on the grid's *structure*: every number, code, text,
date, commune and lookup table the grid contains lives in a *slot* of the parameter arrays
(``pf`` float64, ``pi`` int64, ``plut`` uint8) that the kernels receive as arguments. Editing a
number, a threshold or a set literal therefore produces the same source, the same digest and
a warm kernel cache.

Safety: the source is built only from identifiers made here (``v12``, ``col3``, ``m4``) and
from integers formatted here (slot and criterion indices). No grid string (id, label, field
name, literal, commune) is ever written into it; :func:`audit_source` double-checks that the
only literals in the generated module are small integers and a fixed set of float literals.

Value representation inside the kernels, per expression kind:

=========================  ====================================  ===========================
kind                       value                                 missing
=========================  ====================================  ===========================
int, decimal               float64 (IEEE, like the interpreter)  NaN in columns / known=False
bool                       bool (columns: int8 1/0/-1)           -1 / known=False
date                       int64 proleptic ordinal               ``DMISS`` sentinel
code                       int64 index in the enum's domain      -1
text, commune              int64 id in a sorted dictionary       -1
set of codes               uint64 bitset row (n, words)          never missing
localisations              CSR (pointer, commune id)             never missing
=========================  ====================================  ===========================

Every expression lowers to a pair of variables (value, known): three-valued logic without
exceptions, branch-free where it matters.
"""
from __future__ import annotations

import ast
import re
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Callable

from .. import ir
from ..interpreter import evaluate_constant
from ..schema import Kind

GENERATOR_VERSION = 1
DMISS = -(2 ** 62)          # missing date sentinel (int64)

_FLOAT = "f"
_INT = "i"
_BOOL = "b"
_SET = "s"
_LOCS = "l"


class LoweringError(ValueError):
    """The grid uses a construct the code generator cannot lower (never a silent fallback)."""


def AND(*terms: str) -> str:
    """Branch-free conjunction of boolean terms (``&`` on bools; no short-circuit blocks)."""
    terms = tuple(t for t in terms if t != "True")
    if not terms:
        return "True"
    if "False" in terms:
        return "False"
    return terms[0] if len(terms) == 1 and _simple(terms[0]) else " & ".join(f"({t})" for t in terms)


def OR(*terms: str) -> str:
    """Branch-free disjunction of boolean terms."""
    terms = tuple(t for t in terms if t != "False")
    if not terms:
        return "False"
    if "True" in terms:
        return "True"
    return terms[0] if len(terms) == 1 and _simple(terms[0]) else " | ".join(f"({t})" for t in terms)


def BSEL(c: str, a: str, b: str) -> str:
    """Branch-free boolean ``a if c else b``."""
    return OR(AND(c, a), AND(f"not ({c})" if not _simple(c) else f"not {c}", b))


def _simple(term: str) -> bool:
    return term.replace("_", "").isalnum()


def NOT(term: str) -> str:
    if term == "True":
        return "False"
    if term == "False":
        return "True"
    return f"not {term}" if _simple(term) else f"not ({term})"


_PARAM_RE = re.compile(r"\(?p[fi]\[[0-9]+\]( == 1\))?\Z")


def value_kind(t: ir.Type) -> str:
    k = t.kind
    if k in (Kind.INT, Kind.DECIMAL):
        return _FLOAT
    if k is Kind.BOOL:
        return _BOOL
    if k in (Kind.DATE, Kind.CODE, Kind.TEXT, Kind.COMMUNE):
        return _INT
    if k is Kind.CODESET:
        return _SET
    if k is Kind.COMMUNES:
        return _LOCS
    raise LoweringError(f"no kernel representation for values of kind {k.value}")


# ------------------------------------------------------------------------------ the plan

@dataclass(frozen=True)
class ColumnSpec:
    """A demande column a kernel reads (its name never enters the generated source)."""

    name: str
    source: str          # 'column' (canonical) or 'local' (a grid field)
    kind: Kind
    enum: tuple[str, ...] | None


@dataclass(frozen=True)
class KeySpec:
    """An ordering key: ``score`` or an expression (its values are kernel outputs)."""

    label: str
    direction: str
    kind: Kind | None            # None for the score
    enum: tuple[str, ...] | None
    output: int                  # column of ``o_keys`` or ``o_dkeys`` (-1 for the score)
    demande_only: bool = False   # reads neither loc. nor the score: one value per demande,
                                 # written to ``o_dkeys[i]`` (else ``o_keys[p]``)


class ParamContext:
    """What slot resolvers need from an encoded batch (implemented by the encoder)."""

    today: int

    def code_index(self, enum: tuple[str, ...], value: str) -> int: ...      # pragma: no cover
    def domain_size(self, enum: tuple[str, ...]) -> int: ...                  # pragma: no cover
    def text_id(self, value: str) -> int: ...                                  # pragma: no cover
    def commune_id(self, value: str) -> int: ...                               # pragma: no cover


Resolver = Callable[[ParamContext], Any]


@dataclass
class KernelPlan:
    """Everything produced from a grid IR: the source, and how to fill its parameter slots."""

    source: str
    columns: list[ColumnSpec]
    f_slots: list[Resolver]
    i_slots: list[Resolver]
    luts: list[tuple[int, Resolver]]          # (pi slot holding the offset, builder)
    text_consts: frozenset[str]
    commune_consts: frozenset[str]
    keys: list[KeySpec]
    n_key_outputs: int
    n_demande_keys: int
    n_criteria: int
    words: int

    def params(self, ctx: ParamContext):
        """The parameter arrays (pf, pi, plut) for one encoded batch."""
        import numpy as np

        pi_vals = [0] * len(self.i_slots)
        for s, r in enumerate(self.i_slots):
            if r is not None:
                pi_vals[s] = int(r(ctx))
        parts = []
        offset = 0
        for slot, build in self.luts:
            table = np.asarray(build(ctx), dtype=np.uint8)
            pi_vals[slot] = offset
            parts.append(table)
            offset += len(table)
        plut = np.concatenate(parts) if parts else np.zeros(1, dtype=np.uint8)
        pf = np.array([float(r(ctx)) for r in self.f_slots] or [0.0], dtype=np.float64)
        pi = np.array(pi_vals or [0], dtype=np.int64)
        return pf, pi, np.ascontiguousarray(plut)


# ------------------------------------------------------------------------------ helpers

_PRELUDE = '''\
# Generated by cotation.compiled.codegen (format {version}). Do not edit: regenerated from the
# grid's structure; numbers, codes and texts are read from the pf/pi/plut parameter arrays.
import numpy as np
from numba import njit

DMISS = {dmiss}
_B = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))
_OPTS = dict(nogil=True, cache=True, error_model="numpy", boundscheck=False)


@njit(**_OPTS)
def _ymd(n):
    z = n + 305
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d


@njit(**_OPTS)
def _months(d1, d2):
    y1, m1, a1 = _ymd(d1)
    y2, m2, a2 = _ymd(d2)
    return 12 * (y2 - y1) + (m2 - m1) - (1 if a2 < a1 else 0)


@njit(**_OPTS)
def _round_h(x):
    h = np.int64(np.floor(abs(x) * 100.0 + 0.5))
    return -h if x < 0 else h


@njit(**_OPTS)
def _round_to(x, p):
    v = np.floor(abs(x) * p + 0.5) / p
    return -v if x < 0 else v


@njit(**_OPTS)
def _sel(c, a, b):
    return a if c else b


@njit(**_OPTS)
def _div(a, b):
    return a / b if b != 0.0 else 0.0


@njit(**_OPTS)
def _in_locs(vals, a, b, item):
    for r in range(a, b):
        if vals[r] == item:
            return True
    return False


@njit(**_OPTS)
def _has(col, i, c):
    if c < 0 or c >= 64 * col.shape[1]:
        return False
    return ((col[i, c >> 6] >> np.uint64(c & 63)) & np.uint64(1)) != np.uint64(0)

'''


def _emit_bounds(L: list[str], fn, sh, var: str, prefix: str, floor: float | None,
                 cap: float | None) -> str:
    """Lines applying a floor then a cap (hundredths read from the parameter array)."""
    from ..interpreter import round_hundredths  # the interpreter's rounding, shared
    for bound, op in ((floor, "<"), (cap, ">")):
        if bound is not None:
            s = sh.hundredths(round_hundredths(bound))
            n = fn.tmp()
            L.append(f"{prefix}{n} = _sel({var} {op} pi[{s}], pi[{s}], {var})")
            var = f"{prefix}{n}"
    return var


def _read_value(vk: str, kind: Kind, src: str, n: int) -> list[str]:
    """Lines reading one value and its known flag (missing sentinels: NaN, -1, DMISS)."""
    if vk == _FLOAT:
        return [f"v{n} = {src}", f"k{n} = not np.isnan(v{n})"]
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
            from ..interpreter import MAX_POINTS
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
        elif kind is Kind.TEXT:
            if value is None:
                slot = (_INT, self.i_slot(lambda ctx: -1))
            else:
                s = str(value)
                self.text_consts.add(s)
                slot = (_INT, self.i_slot(lambda ctx, s=s: ctx.text_id(s)))
        elif kind is Kind.COMMUNE:
            if value is None:
                slot = (_INT, self.i_slot(lambda ctx: -1))
            else:
                s = str(value)
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
            if node.op == "/":
                k = self.bind(L, AND(ka, kb, f"{b} != 0.0"), "k")
                return vk, self.bind(L, f"_div({a}, {b})"), k
            op = {"+": "+", "-": "-", "*": "*"}[node.op]
            return vk, self.bind(L, f"{a} {op} {b}"), self.bind(L, AND(ka, kb), "k")
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


# ------------------------------------------------------------------------------ kernels

def _indent(lines: list[str], depth: int) -> list[str]:
    pad = "    " * depth
    return [pad + ln for ln in lines]


def generate(grid: ir.GridIR) -> KernelPlan:
    """Lower a grid IR to kernel source plus the recipe for its parameter arrays."""
    sh = _Shared(grid)
    K = len(grid.criteria)
    W = max(1, (K + 63) // 64)

    # ---- count_pairs: scope (applies_to) and distinct territory localisations per demande
    cf = _Fn(sh, has_pairs=False)
    if grid.applies_to is not None:
        _, av, ak = cf.lower(grid.applies_to)
        in_scope = AND(ak, av)
    else:
        in_scope = "True"

    # ---- score_pairs
    sf = _Fn(sh, has_pairs=True)
    valid_needed = [c for c in grid.criteria if c.needs_validation]
    if valid_needed:
        cv_ref = ir.Ref(ir.Type(Kind.CODESET, tuple(c.id for c in grid.criteria),
                                "criteres_valides"), grid.criteria[0].span,
                        "criteres_valides", "column")
        sf.valid_col = sh.column(cv_ref)

    for c in grid.criteria:
        _criterion(sf, c)
    P = sf.p_lines
    met_v = {c.index: (f"cmv{c.index}" if c.needs_validation else f"cm{c.index}")
             for c in grid.criteria}
    h_v = {c.index: (f"chv{c.index}" if c.needs_validation else f"ch{c.index}")
           for c in grid.criteria}
    h_p = {c.index: f"ch{c.index}" for c in grid.criteria}
    met_p = {c.index: f"cm{c.index}" for c in grid.criteria}

    aside_p, tot, per_group = _combine(sf, grid, P, met_p, h_p)
    if valid_needed:
        aside_v, totv, _ = _combine(sf, grid, P, met_v, h_v, reuse=per_group)
    else:
        aside_v, totv = aside_p, tot

    # ---- ordering keys
    keys: list[KeySpec] = []
    out = dout = 0
    key_lines: list[str] = []
    for k in grid.ordering:
        if k.expr is None:
            keys.append(KeySpec(k.label, k.direction, None, None, -1))
            continue
        kind, v, kn = sf.lower(k.expr)
        if kind == _BOOL:
            val = f"_sel({v}, 1.0, 0.0)"
        elif kind == _INT:
            val = f"float({v})"
        else:
            val = v
        if ir.uses_loc(k.expr):
            key_lines.append(f"o_keys[p, {out}] = {val}")
            key_lines.append(f"o_keysk[p, {out}] = {kn}")
            keys.append(KeySpec(k.label, k.direction, k.expr.type.kind, k.expr.type.enum, out))
            out += 1
        else:
            sf.d_lines.append(f"o_dkeys[i, {dout}] = {val}")
            sf.d_lines.append(f"o_dkeysk[i, {dout}] = {kn}")
            keys.append(KeySpec(k.label, k.direction, k.expr.type.kind, k.expr.type.enum, dout,
                                True))
            dout += 1

    # ---- outputs
    outl: list[str] = ["o_row[p] = i", "o_terr[p] = t", "o_rang[p] = rang",
                       f"o_score[p] = {tot}", f"o_scorev[p] = {totv}"]
    for w in range(W):
        for name, flags in (("o_met", met_p), ("o_aside", aside_p), ("o_metv", met_v),
                            ("o_asidev", aside_v)):
            terms = [f"(np.uint64({flags[j]}) << np.uint64({j - w * 64}))"
                     for j in range(w * 64, min(K, (w + 1) * 64)) if j in flags]
            outl.append(f"{name}[p, {w}] = {' | '.join(terms) if terms else 'np.uint64(0)'}")
    outl.append("if do_points:")
    for j in range(K):
        outl.append(f"    o_points[p, {j}] = ch{j}")
    if K == 0:
        outl.append("    pass")
    outl.extend(key_lines)

    ncol = len(sh.columns)
    cols = "".join(f"col{c}, " for c in range(ncol))
    src: list[str] = [_PRELUDE.format(version=GENERATOR_VERSION, dmiss=DMISS)]
    src.append("@njit(**_OPTS)")
    src.append(f"def count_pairs(lo, hi, skip, loc_ptr, loc_terr, loc_val, terr_ids, pf, pi, "
               f"plut, {cols}counts):")
    body = ["cnt = 0", "if skip[i] == 0:"]
    inner = list(cf.d_lines)
    inner.append(f"if {in_scope}:")
    inner.extend(_indent(["a0 = loc_ptr[i]", "for q in range(a0, loc_ptr[i + 1]):",
                          "    t = loc_terr[q]",
                          "    if t >= 0:",
                          "        dup = False",
                          "        for r in range(a0, q):",
                          "            if loc_terr[r] == t:",
                          "                dup = True",
                          "        if not dup:",
                          "            cnt += 1"], 1))
    body.extend(_indent(inner, 1))
    body.append("counts[i] = cnt")
    src.append("    for i in range(lo, hi):")
    src.extend(_indent(body, 2))
    src.append("")
    src.append("")
    src.append("@njit(**_OPTS)")
    src.append(f"def score_pairs(lo, hi, counts, starts, loc_ptr, loc_terr, loc_val, terr_ids, "
               f"pf, pi, plut, do_points, {cols}o_row, o_terr, o_rang, o_score, o_scorev, "
               f"o_met, o_aside, o_metv, o_asidev, o_points, o_keys, o_keysk, o_dkeys, o_dkeysk):")
    body = ["if counts[i] == 0:", "    continue", "p = starts[i]"]
    body.extend(sf.d_lines)
    body.extend(["a0 = loc_ptr[i]", "for q in range(a0, loc_ptr[i + 1]):"])
    pair = ["t = loc_terr[q]", "if t < 0:", "    continue", "dup = False",
            "for r in range(a0, q):", "    if loc_terr[r] == t:", "        dup = True",
            "if dup:", "    continue", "rang = q - a0 + 1", "lcid = np.int64(terr_ids[t])"]
    pair.extend(sf.p_lines)
    pair.extend(outl)
    pair.append("p += 1")
    body.extend(_indent(pair, 1))
    src.append("    for i in range(lo, hi):")
    src.extend(_indent(body, 2))
    src.append("")
    source = "\n".join(src)
    audit_source(source)
    return KernelPlan(
        source=source, columns=list(sh.columns), f_slots=list(sh.f_slots),
        i_slots=list(sh.i_slots), luts=list(sh.luts), text_consts=frozenset(sh.text_consts),
        commune_consts=frozenset(sh.commune_consts), keys=keys, n_key_outputs=out,
        n_demande_keys=dout, n_criteria=K, words=W)


def _criterion(fn: _Fn, c: ir.CriterionIR) -> None:
    sh = fn.sh
    j = c.index
    L = fn.p_lines if c.uses_loc else fn.d_lines
    cond = "True"
    if c.when is not None:
        _, wv, wk = fn.lower(c.when)
        cond = AND(wk, wv)
    if c.band_of is not None:
        _, bv, bk = fn.lower(c.band_of)
        steps = []
        for s in c.bands:
            tests = [bk]
            if s.low is not None:
                tests.append(f"pf[{sh.number(s.low)}] <= {bv}")
            if s.high is not None:
                tests.append(f"{bv} < pf[{sh.number(s.high)}]")
            test = fn.bind(L, AND(*tests), "f")
            _, pv, pk = fn.lower(s.points)
            steps.append((test, pv, pk))
        val, known = "0.0", "False"
        for test, pv, pk in reversed(steps):
            val = f"_sel({test}, {pv}, {val})"
            known = BSEL(test, pk, known)
    else:
        _, val, known = fn.lower(c.points)
    x = fn.bind(L, val)
    if c.floor is not None:
        s = sh.number(c.floor)
        L.append(f"cf{j} = _sel(pf[{s}] > {x}, pf[{s}], {x})")
        x = f"cf{j}"
    if c.cap is not None:
        s = sh.number(c.cap)
        L.append(f"cc{j} = _sel(pf[{s}] < {x}, pf[{s}], {x})")
        x = f"cc{j}"
    L.append(f"cw{j} = {x} * pf[{sh.number(c.weight)}]")
    # a weighted value beyond MAX_POINTS (or not finite) has no meaning: not met
    L.append(f"cm{j} = {AND(cond, known, f'abs(cw{j}) <= pf[{sh.max_points()}]')}")
    L.append(f"ch{j} = _round_h(_sel(cm{j}, cw{j}, 0.0))")
    if c.needs_validation:
        col = fn.valid_col
        L.append(f"cmv{j} = (cm{j}) & (_has(col{col}, i, np.int64({j})))")
        L.append(f"chv{j} = _sel(cmv{j}, ch{j}, np.int64(0))")


def _combine(fn: "_Fn", grid: ir.GridIR, L: list[str], met: dict[int, str],
             pts: dict[int, str], reuse: dict[str, tuple] | None = None
             ) -> tuple[dict[int, str], str, dict[str, tuple]]:
    """Group policies, group bounds, total bounds. Returns (criterion -> set-aside flag,
    total, per-group results). With ``reuse`` (the provisional results), a group whose
    members never await validation is not recomputed for the validated score. Every step
    assigns a fresh variable (no reassignment: cheaper for Numba's SSA passes)."""

    sh = fn.sh
    aside: dict[int, str] = {}
    totals: list[str] = []
    results: dict[str, tuple] = {}
    for g in grid.groups:
        if reuse is not None and not any(grid.criteria[j].needs_validation for j in g.members):
            tg, g_aside = reuse[g.id]
            aside.update(g_aside)
            totals.append(tg)
            results[g.id] = reuse[g.id]
            continue
        g_aside: dict[int, str] = {}
        if g.policy in ("max", "first") and g.members:
            b, tg = None, None
            for j in g.members:
                n = fn.tmp()
                if b is None:
                    take = met[j]
                    L.append(f"gb{n} = _sel({take}, np.int64({j}), np.int64(-1))")
                    L.append(f"tg{n} = _sel({take}, {pts[j]}, np.int64(0))")
                else:
                    if g.policy == "max":
                        take = fn.bind(L, AND(met[j], OR(f"{b} < 0", f"{pts[j]} > {tg}")), "sw")
                    else:
                        take = fn.bind(L, AND(met[j], f"{b} < 0"), "sw")
                    L.append(f"gb{n} = _sel({take}, np.int64({j}), {b})")
                    L.append(f"tg{n} = _sel({take}, {pts[j]}, {tg})")
                b, tg = f"gb{n}", f"tg{n}"
            for j in g.members:
                g_aside[j] = fn.bind(L, AND(met[j], f"{b} != {j}"), "ca")
        else:
            n = fn.tmp()
            terms = " + ".join(pts[j] for j in g.members) or "0"
            L.append(f"tg{n} = np.int64({terms})")
            tg = f"tg{n}"
        tg = _emit_bounds(L, fn, sh, tg, "tg", g.floor, g.cap)
        aside.update(g_aside)
        totals.append(tg)
        results[g.id] = (tg, g_aside)
    totals += [pts[j] for j in grid.ungrouped]
    n = fn.tmp()
    tot = f"tt{n}"
    L.append(f"{tot} = np.int64({' + '.join(totals) or '0'})")
    tot = _emit_bounds(L, fn, sh, tot, "tt", grid.total_floor, grid.total_cap)
    return aside, tot, results


# ------------------------------------------------------------------------------ audit

_NAME_RE = re.compile(r"(?:v|k|y|f|sg|sk|fa|fb|ta|tb|cm|ch|cf|cc|cw|cmv|chv|ca|tg|gb|sw|tt|col)"
                      r"[0-9]+\Z")
_FIXED_NAMES = frozenset({
    # modules, helpers and builtins the prelude and kernels use
    "np", "njit", "DMISS", "_B", "_OPTS", "_ymd", "_months", "_round_h", "_round_to",
    "_in_locs", "_has", "_sel", "_div", "dict", "range", "abs", "float", "max",
    # helper locals
    "n", "z", "era", "doe", "yoe", "doy", "mp", "d", "m", "y", "d1", "d2", "y1", "m1", "a1",
    "y2", "m2", "a2", "x", "h", "p", "v", "vals", "a", "b", "item", "r", "col", "i", "c",
    # kernel arguments and locals
    "lo", "hi", "skip", "loc_ptr", "loc_terr", "loc_val", "terr_ids", "pf", "pi", "plut",
    "counts", "starts", "do_points", "o_row", "o_terr", "o_rang", "o_score", "o_scorev",
    "o_met", "o_aside", "o_metv", "o_asidev", "o_points", "o_keys", "o_keysk", "o_dkeys",
    "o_dkeysk", "cnt", "a0",
    "q", "t", "dup", "rang", "lcid", "count_pairs", "score_pairs",
})
_ALLOWED_FLOATS = frozenset({0.0, 0.5, 1.0, 100.0})
_ALLOWED_ATTRS = frozenset({"uint64", "int64", "left_shift", "arange", "floor", "ceil",
                            "isnan", "shape"})
_ALLOWED_KEYWORDS = frozenset({None, "nogil", "cache", "error_model", "boundscheck", "dtype"})


def audit_source(source: str) -> None:
    """Check generated source against a whitelist: identifiers are the generator's own
    (``v12``, ``col3``, fixed helper names), literals are integers, a few fixed floats and
    the one option string ``"numpy"``; imports are numpy and numba's njit. A grid string can
    therefore never reach the module. Raises LoweringError on any deviation."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str):
                if v != "numpy":
                    raise LoweringError("generated source holds a text literal")
            elif isinstance(v, bool) or v is None:
                continue
            elif isinstance(v, int):
                if abs(v) > 2 ** 62:
                    raise LoweringError("generated source holds an unexpected integer")
            elif isinstance(v, float):
                if v not in _ALLOWED_FLOATS:
                    raise LoweringError("generated source holds an unexpected number")
            else:
                raise LoweringError("generated source holds an unexpected literal")
        elif isinstance(node, ast.Name):
            if node.id not in _FIXED_NAMES and not _NAME_RE.match(node.id):
                raise LoweringError("generated source uses an unexpected name")
        elif isinstance(node, ast.arg):
            if node.arg not in _FIXED_NAMES and not _NAME_RE.match(node.arg):
                raise LoweringError("generated source uses an unexpected argument name")
        elif isinstance(node, ast.FunctionDef):
            if node.name not in _FIXED_NAMES:
                raise LoweringError("generated source defines an unexpected function")
        elif isinstance(node, ast.keyword):
            if node.arg not in _ALLOWED_KEYWORDS:
                raise LoweringError("generated source passes an unexpected keyword")
        elif isinstance(node, ast.Attribute):
            if node.attr not in _ALLOWED_ATTRS:
                raise LoweringError("generated source reads an unexpected attribute")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.name, a.asname) for a in node.names]
            mod = getattr(node, "module", None)
            if not (names == [("numpy", "np")] or (mod == "numba" and names == [("njit", None)])):
                raise LoweringError("generated source imports an unexpected module")
        elif isinstance(node, (ast.Lambda, ast.ClassDef, ast.Global, ast.Nonlocal,
                               ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom,
                               ast.JoinedStr, ast.Starred, ast.Subscript)) and \
                not isinstance(node, ast.Subscript):
            raise LoweringError("generated source holds an unexpected construct")

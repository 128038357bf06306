"""The typed IR: the contract between the front end and every back end.

Nodes are immutable. Every expression node has a ``type``; every node keeps the source span
it came from so later passes can point at the grid file. Parameters are already folded into
``Const`` nodes (with their name kept), and derived fields are defined once in ``GridIR.derived``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from cotation.grid.diagnostics import Message, Span, msg
from cotation.i18n import N_, _
from cotation.data.schema import Kind

# ------------------------------------------------------------------------ numbers of a grid
# (docs/grid-language.md, "Numbers"). Every number is an IEEE double.

# A criterion yielding more than this (in absolute value) has no meaningful value; integer
# hundredths of it still fit in int64 with room for sums. Points, caps, floors and weights
# written in a grid must lie within it.
MAX_POINTS = 1e13
# Every other number written in a grid (literals, parameters, band bounds) must lie within
# ±2^53, where every whole number is an exact double: both engines then read it alike.
MAX_EXACT = 2 ** 53
# Criteria and groups of one grid: each adds at most 10^15 hundredths, and their sum must fit in
# a signed 64-bit integer.
MAX_CRITERIA_AND_GROUPS = 4000


def number_problem(value: Any, limit: float) -> "Message | None":
    """Why ``value`` cannot be honoured as a grid number within ±``limit`` (None when it can)."""
    if isinstance(value, str) and value.isdigit():
        if len(value.lstrip("0")) > 30:   # beyond any limit; int() refuses over 4,300 digits
            return msg("the number {value} is beyond the limit of ±{limit}", value=_short(value),
                       limit=_short(limit))
        value = int(value)  # a whole literal is compared exactly: 2^53 + 1 is beyond 2^53
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        return msg("the number {value} is beyond the limit of ±{limit}",
                   value=f"{'-' if value < 0 else ''}2^{value.bit_length() - 1}…",
                   limit=_short(limit))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit:
        return msg("the number {value} is beyond the limit of ±{limit}", value=_short(value), limit=_short(limit))
    try:
        x = float(value)
    except OverflowError:
        return msg("the number {value} is beyond the limit of ±{limit}", value=_short(value), limit=_short(limit))
    if x != x or x in (float("inf"), float("-inf")):
        return msg("'{value}' is not a finite number; write an ordinary number, for example 10",
                   value=_short(value))
    if abs(x) > limit:
        return msg("the number {value} is beyond the limit of ±{limit}", value=_short(value), limit=_short(limit))
    return None


def _short(value: Any) -> str:
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return short_number(text)


def short_number(text: str) -> str:
    """A number as written, cut after 24 characters (with its length) for a message."""
    return text if len(text) <= 24 else _("{start}… ({n} characters)").format(start=text[:12],
                                                                             n=len(text))


@dataclass(frozen=True, slots=True)
class Type:
    kind: Kind
    enum: tuple[str, ...] | None = None   # allowed values of a code / set of codes
    enum_name: str | None = None          # which enumeration, for messages
    literal: bool = False                 # a string literal not yet tied to an enumeration

    @property
    def numeric(self) -> bool:
        return self.kind in (Kind.INT, Kind.DECIMAL)

    def describe(self) -> str:
        if self.literal and self.kind is not Kind.CODESET:   # a set literal of texts: a set
            return msg("a text literal")
        names = {Kind.BOOL: N_("a boolean (true/false)"), Kind.INT: N_("a whole number"),
                 Kind.DECIMAL: N_("a number"), Kind.DATE: N_("a date"), Kind.TEXT: N_("a text"),
                 Kind.COMMUNE: N_("an INSEE commune code"), Kind.COMMUNES: N_("a list of communes")}
        if self.kind is Kind.CODE:
            return msg("a code of {name}", name=self.enum_name) if self.enum_name else msg("a code")
        if self.kind is Kind.CODESET:
            return (msg("a set of {name} codes", name=self.enum_name) if self.enum_name
                    else msg("a set of codes"))
        return msg(names[self.kind])


BOOL = Type(Kind.BOOL)
INT = Type(Kind.INT)
DECIMAL = Type(Kind.DECIMAL)
DATE = Type(Kind.DATE)
TEXT = Type(Kind.TEXT)
STRING_LITERAL = Type(Kind.TEXT, literal=True)
COMMUNE = Type(Kind.COMMUNE)


@dataclass(frozen=True, slots=True)
class Expr:
    type: Type
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Const(Expr):
    value: Any                # None, bool, int, float, str, datetime.date, frozenset
    param: str | None = None  # the grid parameter this came from, if any


@dataclass(frozen=True, slots=True)
class Ref(Expr):
    """A demande's field. ``source`` is 'column' (canonical), 'derived' or 'local'."""

    name: str
    source: str


@dataclass(frozen=True, slots=True)
class LocRef(Expr):
    """A field of the localisation choice being scored: commune, rang or epci."""

    name: str


@dataclass(frozen=True, slots=True)
class Today(Expr):
    pass


@dataclass(frozen=True, slots=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Arith(Expr):
    op: str  # + - * /
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    op: str  # == != < <= > >=
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Member(Expr):
    """``item in container`` (or ``not in`` when ``negate``). The container is a SetLiteral,
    a set-of-codes field or the localisations list."""

    item: Expr
    container: Expr
    negate: bool = False


@dataclass(frozen=True, slots=True)
class SetLiteral(Expr):
    items: tuple[Const, ...]


@dataclass(frozen=True, slots=True)
class Between(Expr):
    operand: Expr
    low: Expr
    high: Expr


@dataclass(frozen=True, slots=True)
class And(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Or(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class If(Expr):
    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, slots=True)
class Call(Expr):
    fn: str
    args: tuple[Expr, ...]


FUNCTIONS = ("min", "max", "clamp", "abs", "floor", "ceil", "round", "months_between",
             "years_between", "days_between", "is_missing", "coalesce", "has")


# ------------------------------------------------------------------------------ grid level

@dataclass(frozen=True, slots=True)
class BandStepIR:
    low: float | None    # inclusive; None = unbounded
    high: float | None   # exclusive; None = unbounded
    points: Expr


@dataclass(frozen=True, slots=True)
class CriterionIR:
    index: int
    id: str
    label: str
    section: str | None
    when: Expr | None
    points: Expr | None                  # set unless bands
    band_of: Expr | None
    bands: tuple[BandStepIR, ...]
    cap: float | None
    floor: float | None
    weight: float
    validation: str
    legal_priority: bool
    refusal_effect: bool
    group: str | None
    uses_loc: bool
    span: Span = field(compare=False, repr=False)
    source: str | None = None            # deliberation / article, shown on the published grid

    @property
    def needs_validation(self) -> bool:
        return self.validation != "automatique"


@dataclass(frozen=True, slots=True)
class GroupIR:
    id: str
    label: str | None
    policy: str                  # sum | max | first
    members: tuple[int, ...]     # criterion indices, in the grid's order
    cap: float | None
    floor: float | None
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class OrderKeyIR:
    """One ordering key. ``expr`` is None for the total score."""

    label: str
    expr: Expr | None
    direction: str   # asc | desc


@dataclass(frozen=True, slots=True)
class LocalFieldIR:
    name: str
    type: Type
    default: Any
    label: str | None


@dataclass(frozen=True)
class GridIR:
    id: str
    title: str
    version: str
    effective_from: dt.date
    epci_siren: str
    territory_name: str
    communes: tuple[str, ...]
    applies_to: Expr | None
    refusal_policy: str | None
    parameters: dict[str, Any]
    local_fields: tuple[LocalFieldIR, ...]
    derived: tuple[tuple[str, Expr], ...]       # only the derived fields the grid reads
    criteria: tuple[CriterionIR, ...]
    groups: tuple[GroupIR, ...]
    ungrouped: tuple[int, ...]
    total_floor: float | None
    total_cap: float | None
    ordering: tuple[OrderKeyIR, ...]
    peers_by: tuple[str, ...]
    peers_min_size: int
    peers_fallback: tuple[tuple[str, ...], ...]
    waiting_statistic: str
    waiting_window_months: int
    delai_anormalement_long: dict[str, int]
    source_hash: str
    source_file: str

    def criterion(self, cid: str) -> CriterionIR:
        for c in self.criteria:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def structure_key(self) -> str:
        """Hash of the IR's shape with every number left out (for kernel caches)."""
        return hashlib.sha256(_shape(self).encode()).hexdigest()


def _shape(node: Any) -> str:
    if isinstance(node, Const):
        return f"Const({node.type.kind.value})"
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return "#"
    if is_dataclass(node):
        parts = []
        for f in fields(node):
            if f.name in ("span", "label", "title", "source_hash", "source_file", "section",
                          "version", "effective_from", "territory_name", "refusal_policy", "source"):
                continue
            parts.append(f"{f.name}={_shape(getattr(node, f.name))}")
        return f"{type(node).__name__}({','.join(parts)})"
    if isinstance(node, (tuple, list)):
        return "[" + ",".join(_shape(x) for x in node) + "]"
    if isinstance(node, dict):
        return "{" + ",".join(f"{k}:{_shape(v)}" for k, v in sorted(node.items(), key=lambda kv: str(kv[0]))) + "}"
    return repr(node)


def walk(node: Expr):
    """Yield every expression node below ``node`` (pre-order)."""
    yield node
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Expr):
            yield from walk(value)
        elif isinstance(value, tuple):
            for v in value:
                if isinstance(v, Expr):
                    yield from walk(v)


def uses_loc(node: Expr | None) -> bool:
    return node is not None and any(isinstance(n, LocRef) for n in walk(node))

"""Type checking of one expression of the grid language: names, operators, literals, sets,
membership and function calls, each error located in the expression's text.

:class:`ExpressionChecker` is the part of the checker that reads expressions; the grid-level
checker (``cotation.grid.check``) inherits it and provides ``error``, ``_span`` and the name
tables it uses.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lark import Token, Tree

from cotation.data.schema import DERIVED, LOC_FIELDS, Kind
from cotation.grid import dsl
from cotation.grid import ir
from cotation.grid.diagnostics import OrList, Span, did_you_mean, msg
from cotation.i18n import N_

# roles named in type messages, for the translation catalogue
_ROLES = (N_("parameter"), N_("ordering key"), N_("bound"), N_("expression"), N_("applies_to"))
from cotation.grid.ir import BOOL, COMMUNE, DATE, DECIMAL, INT, STRING_LITERAL, TEXT, Type


class _Abort(Exception):
    """Stops checking one expression after its first error (others continue)."""


@dataclass
class _Where:
    """Where an expression string sits in the file."""

    path: tuple
    text: str
    criterion: str | None


class ExpressionChecker:
    """Typing of expressions (mixed into :class:`cotation.grid.check.Checker`)."""

    # -------------------------------------------------------------------------- expressions
    def typed(self, path: tuple, text: str, cid: str | None, *, want: Type | None = None,
              want_numeric: bool = False, allow_loc: bool = True, role: str = "expression",
              constant: bool = False, orderable: bool = False) -> ir.Expr | None:
        where = _Where(path, text, cid)
        try:
            tree = dsl.parse(text)
        except dsl.SyntaxProblem as exc:
            self.error(exc.code, exc.message, self._span(where, exc.offset), cid, exc.hint)
            return None
        try:
            expr = self._expr(tree, where, {"allow_loc": allow_loc, "constant": constant})
        except _Abort:
            return None
        if want is not None and expr.type.kind is not want.kind:
            hint = _condition_hint(expr.type) if want.kind is Kind.BOOL else None
            self.error("type-mismatch", msg('{role} must be {want}, but this is {got}', role=msg(role), want=want.describe(), got=expr.type.describe()), self._span(where, 0), cid, hint)
            return None
        if want_numeric and not expr.type.numeric:
            self.error("type-mismatch", msg('{role} must be a number, but this is {value}', role=msg(role), value=expr.type.describe()),
                       self._span(where, 0), cid)
            return None
        if orderable and expr.type.kind in (Kind.CODESET, Kind.COMMUNES):
            self.error("type-mismatch", msg('{role} must be a single value, not {value}', role=msg(role), value=expr.type.describe()),
                       self._span(where, 0), cid)
            return None
        return expr

    def _fail(self, code: str, message: str, where: _Where, offset: int, hint: str | None = None):
        self.error(code, message, self._span(where, offset), where.criterion, hint)
        raise _Abort

    def _expr(self, node: Tree | Token, where: _Where, opts: dict) -> ir.Expr:
        off = dsl.start_of(node)
        span = self._span(where, off) if where.path[0] != "<derived>" else Span("<derived>", 1, off + 1)
        kind = node.data if isinstance(node, Tree) else None
        ch = node.children if isinstance(node, Tree) else []
        rec = lambda n: self._expr(n, where, opts)  # noqa: E731

        if kind == "number":
            text = str(ch[0])
            problem = ir.number_problem(text, ir.MAX_EXACT)
            if problem:
                self._fail("number-out-of-range", problem, where, off,
                           msg("numbers of a grid lie within ±2^53 (9007199254740992)"))
            return ir.Const(DECIMAL if "." in text else INT, span, float(text) if "." in text else int(text))
        if kind == "string":
            return ir.Const(STRING_LITERAL, span, str(ch[0])[1:-1])
        if kind == "date":
            try:
                return ir.Const(DATE, span, dt.date.fromisoformat(str(ch[0])))
            except ValueError:
                self._fail("expr-syntax", msg("'{value}' is not a valid date", value=ch[0]), where, off)
        if kind in ("true", "false"):
            return ir.Const(BOOL, span, kind == "true")
        if kind == "name":
            return self._name(str(ch[0]), where, off, span, opts)
        if kind == "dotted":
            head, tail = str(ch[0]), str(ch[1])
            if head != "loc":
                self._fail("unknown-name", msg("unknown name '{head}.{tail}'", head=head, tail=tail), where, off,
                           msg("only the localisation's fields are written with a dot: {names}",
                               names=", ".join(f"loc.{n}" for n in LOC_FIELDS)))
            if tail not in LOC_FIELDS:
                self._fail("unknown-name", msg("unknown localisation field 'loc.{tail}'", tail=tail), where, off,
                           did_you_mean(tail, LOC_FIELDS) or msg("expected one of: {names}",
                                                                 names=", ".join(f"loc.{n}" for n in LOC_FIELDS)))
            if opts["constant"] or not opts["allow_loc"]:
                self._fail("unknown-name", msg("'loc.{tail}' is not available here (it depends on the commune being scored)", tail=tail), where, off)
            return ir.LocRef(Type(LOC_FIELDS[tail]), span, tail)
        if kind == "neg":
            x = rec(ch[0])
            self._need_numeric(x, where, dsl.start_of(ch[0]), "'-'")
            if isinstance(x, ir.Const) and x.param is None:
                return ir.Const(x.type, span, -x.value)
            return ir.Neg(x.type, span, x)
        if kind == "binop":
            a, op, b = rec(ch[0]), str(ch[1]), rec(ch[2])
            self._need_numeric(a, where, dsl.start_of(ch[0]), f"'{op}'")
            self._need_numeric(b, where, dsl.start_of(ch[2]), f"'{op}'")
            t = INT if (a.type.kind is Kind.INT and b.type.kind is Kind.INT and op != "/") else DECIMAL
            return ir.Arith(t, span, op, a, b)
        if kind == "compare":
            a, op, b = rec(ch[0]), str(ch[1]), rec(ch[2])
            a, b = self._unify_pair(a, b, where, dsl.start_of(ch[0]), dsl.start_of(ch[2]), op)
            if op not in ("==", "!=") and a.type.kind not in (Kind.INT, Kind.DECIMAL, Kind.DATE):
                self._fail("type-mismatch", msg("'{op}' compares numbers or dates, not {value}", op=op, value=a.type.describe()), where, off)
            return ir.Compare(BOOL, span, op, a, b)
        if kind in ("in_", "not_in"):
            return self._member(ch[0], ch[1], kind == "not_in", where, span, opts)
        if kind == "between":
            x, lo, hi = rec(ch[0]), rec(ch[1]), rec(ch[2])
            for n, sub in ((x, ch[0]), (lo, ch[1]), (hi, ch[2])):
                if n.type.kind not in (Kind.INT, Kind.DECIMAL, Kind.DATE):
                    self._fail("type-mismatch", msg("'between' works on numbers or dates, not {value}", value=n.type.describe()), where, dsl.start_of(sub))
            if (x.type.kind is Kind.DATE) != (lo.type.kind is Kind.DATE) or \
                    (x.type.kind is Kind.DATE) != (hi.type.kind is Kind.DATE):
                self._fail("type-mismatch", msg("'between' mixes dates and numbers"), where, off)
            return ir.Between(BOOL, span, x, lo, hi)
        if kind in ("and_", "or_"):
            a, b = rec(ch[0]), rec(ch[1])
            word = "and" if kind == "and_" else "or"
            self._need_bool(a, where, dsl.start_of(ch[0]), f"'{word}'")
            self._need_bool(b, where, dsl.start_of(ch[1]), f"'{word}'")
            return (ir.And if kind == "and_" else ir.Or)(BOOL, span, a, b)
        if kind == "not_":
            a = rec(ch[0])
            self._need_bool(a, where, dsl.start_of(ch[0]), "'not'")
            return ir.Not(BOOL, span, a)
        if kind == "cond":
            c, a, b = rec(ch[0]), rec(ch[1]), rec(ch[2])
            self._need_bool(c, where, dsl.start_of(ch[0]), "'if'")
            a, b = self._unify_pair(a, b, where, dsl.start_of(ch[1]), dsl.start_of(ch[2]), "if/else")
            t = a.type if a.type == b.type else (DECIMAL if a.type.numeric else a.type)
            return ir.If(t, span, c, a, b)
        if kind == "set_literal":
            items = [rec(c) for c in ch if c is not None]
            return self._set_literal(items, where, off, span)
        if kind == "call":
            return self._call(str(ch[0]), [c for c in ch[1:] if c is not None], where, off, span, opts)
        raise AssertionError(f"unhandled grammar node {kind}")  # grammar and checker out of step

    def _name(self, name: str, where: _Where, off: int, span: Span, opts: dict) -> ir.Expr:
        if name in self.params:
            c = self.params[name]
            return ir.Const(c.type, span, c.value, name)
        if opts["constant"]:
            if name in self.grid.parameters:  # not yet resolved: unknown because of an error
                raise _Abort
            names = list(self.grid.parameters)
            self._fail("unknown-name", msg("'{name}' is not a parameter; only numbers and parameters can be used here", name=name), where, off, did_you_mean(name, names))
        if name == "today":
            return ir.Today(DATE, span)
        if name in self._column_types:
            t = self._column_types[name]
            return ir.Ref(t, span, name, "column")
        if name in self.local_types:
            return ir.Ref(self.local_types[name], span, name, "local")
        if name in self.derived_ir or (name in {d.name for d in DERIVED} and not opts.get("derived")):
            self.derived_used[name] = self.derived_ir[name]
            return ir.Ref(self.derived_ir[name].type if name in self.derived_ir else Type(Kind.DECIMAL),
                          span, name, "derived")
        if name in self.grid.parameters:
            raise _Abort  # the parameter itself is in error; already reported
        if name == "loc":
            self._fail("unknown-name", msg("'loc' needs a field: loc.commune, loc.rang or loc.epci"),
                       where, off)
        candidates = list(self.name_table()) + [f"loc.{n}" for n in LOC_FIELDS]
        if name in ir.FUNCTIONS:
            self._fail("unknown-name", msg("'{name}' is a function; call it with parentheses", name=name), where, off)
        self._fail("unknown-name", msg("unknown field or parameter '{name}'", name=name), where, off,
                   did_you_mean(name, candidates))
        raise AssertionError  # unreachable

    def _need_numeric(self, x: ir.Expr, where: _Where, off: int, what: str) -> None:
        if not x.type.numeric:
            self._fail("type-mismatch", msg('{what} needs a number, but this is {value}', what=what, value=x.type.describe()),
                       where, off)

    def _need_bool(self, x: ir.Expr, where: _Where, off: int, what: str) -> None:
        if x.type.kind is not Kind.BOOL:
            hint = _condition_hint(x.type)
            self._fail("type-mismatch", msg('{what} needs a condition (true/false), but this is {value}', what=what, value=x.type.describe()), where, off, hint)

    def _coerce_literal(self, lit: ir.Const, target: Type, where: _Where, off: int) -> ir.Const:
        """Tie a string literal to the code/commune/text type it is compared with."""
        value = lit.value
        if target.kind is Kind.CODE or target.kind is Kind.CODESET:
            if target.enum is not None and value not in target.enum:
                self._fail("not-in-enum", msg("'{value}' is not a value of {enum_name}", value=value, enum_name=target.enum_name), where, off,
                           did_you_mean(value, target.enum) or msg("expected one of: {names}", names=", ".join(target.enum)))
            return ir.Const(Type(Kind.CODE, target.enum, target.enum_name), lit.span, value, lit.param)
        if target.kind in (Kind.COMMUNE, Kind.COMMUNES):
            from cotation.data.values import ValueParseError, check_insee
            from cotation.data.schema import Column
            try:
                check_insee(Column("loc.commune", Kind.COMMUNE), value)
            except ValueParseError:
                self._fail("type-mismatch", msg("'{value}' is not an INSEE commune code (5 characters, e.g. '69123')", value=value), where, off)
            return ir.Const(COMMUNE, lit.span, value, lit.param)
        if target.kind is Kind.TEXT:
            return ir.Const(TEXT, lit.span, value, lit.param)
        self._fail("type-mismatch", msg('a text cannot be compared with {value}', value=target.describe()), where, off)
        raise AssertionError

    def _unify_pair(self, a: ir.Expr, b: ir.Expr, where: _Where, off_a: int, off_b: int,
                    op: str) -> tuple[ir.Expr, ir.Expr]:
        ta, tb = a.type, b.type
        if ta.literal and tb.literal and isinstance(a, ir.Const) and isinstance(b, ir.Const):
            return ir.Const(TEXT, a.span, a.value), ir.Const(TEXT, b.span, b.value)
        if tb.literal and isinstance(b, ir.Const):
            return a, self._coerce_literal(b, ta, where, off_b)
        if ta.literal and isinstance(a, ir.Const):
            return self._coerce_literal(a, tb, where, off_a), b
        if ta.numeric and tb.numeric:
            return a, b
        if ta.kind is tb.kind and ta.kind in (Kind.BOOL, Kind.DATE, Kind.TEXT, Kind.COMMUNE):
            return a, b
        if ta.kind is tb.kind is Kind.CODE and ta.enum == tb.enum:
            return a, b
        # sets of one list's codes; not set literals (``{'T1'}``), which only follow 'in'
        if ta.kind is tb.kind is Kind.CODESET and ta.enum == tb.enum and ta.enum is not None \
                and op in ("if/else", "coalesce"):
            return a, b
        self._fail("type-mismatch", msg('{op} between {value} and {value2}', op=op, value=ta.describe(), value2=tb.describe()), where, off_b)
        raise AssertionError

    def _set_literal(self, items: list[ir.Expr], where: _Where, off: int, span: Span) -> ir.SetLiteral:
        if not items:
            self._fail("type-mismatch", msg('an empty set {} can never contain anything'), where, off)
        for it in items:
            if not isinstance(it, ir.Const):
                self._fail("type-mismatch", msg("a set literal lists constant values, e.g. {'T1', 'T2'}"),
                           where, off)
        kinds = {it.type.kind for it in items}
        if all(it.type.numeric for it in items):
            t = DECIMAL if Kind.DECIMAL in kinds else INT
        elif len(kinds) == 1 and items[0].type.kind in (Kind.TEXT, Kind.DATE, Kind.BOOL):
            t = items[0].type
        else:
            self._fail("type-mismatch", msg('a set literal mixes values of different types'), where, off)
        return ir.SetLiteral(Type(Kind.CODESET, None, None, literal=t.literal), span, tuple(items))

    def _member(self, item_node, cont_node, negate: bool, where: _Where, span: Span, opts: dict) -> ir.Expr:
        item = self._expr(item_node, where, opts)
        cont = self._expr(cont_node, where, opts)
        off_i, off_c = dsl.start_of(item_node), dsl.start_of(cont_node)
        if isinstance(cont, ir.SetLiteral):
            coerced = []
            if item.type.literal:
                self._fail("type-mismatch", msg("'in' with a text on the left needs a field on the right, e.g. 'sante' in motifs"), where, off_c)
            for k, lit in enumerate(cont.items):
                if lit.type.literal:
                    if item.type.kind in (Kind.CODESET, Kind.COMMUNES):
                        self._fail("type-mismatch", msg("'in' needs a single value on the left, not {value}", value=item.type.describe()), where, off_i)
                    coerced.append(self._coerce_literal(lit, item.type, where, _item_offset(cont_node, k)))
                elif lit.type.numeric and item.type.numeric or lit.type.kind is item.type.kind:
                    coerced.append(lit)
                else:
                    self._fail("type-mismatch", msg('the set lists {value} but the left side is {value2}', value=lit.type.describe(), value2=item.type.describe()), where, off_c)
            new = ir.SetLiteral(Type(Kind.CODESET, item.type.enum, item.type.enum_name), cont.span,
                                tuple(coerced))
            return ir.Member(BOOL, span, item, new, negate)
        if cont.type.kind is Kind.CODESET:
            if item.type.literal:
                item = self._coerce_literal(item, cont.type, where, off_i)
            elif not (item.type.kind is Kind.CODE and item.type.enum == cont.type.enum):
                self._fail("type-mismatch", msg("'in' {value} needs a code of the same list on the left, not {value2}", value=cont.type.describe(), value2=item.type.describe()), where, off_i)
            return ir.Member(BOOL, span, item, cont, negate)
        if cont.type.kind is Kind.COMMUNES:
            if item.type.literal:
                item = self._coerce_literal(item, cont.type, where, off_i)
            elif item.type.kind is not Kind.COMMUNE:
                self._fail("type-mismatch", msg("'in' localisations needs a commune on the left, not {value}", value=item.type.describe()), where, off_i)
            return ir.Member(BOOL, span, item, cont, negate)
        self._fail("type-mismatch", msg("'in' needs a set on the right ({{'a', 'b'}} or a set field), not {value}", value=cont.type.describe()), where, off_c)
        raise AssertionError

    def _call(self, fn: str, arg_nodes: list, where: _Where, off: int, span: Span, opts: dict) -> ir.Expr:
        if fn not in ir.FUNCTIONS:
            self._fail("unknown-name", msg("unknown function '{fn}'", fn=fn), where, off,
                       did_you_mean(fn, ir.FUNCTIONS) or msg("functions: {names}", names=", ".join(ir.FUNCTIONS)))
        args = [self._expr(a, where, opts) for a in arg_nodes]
        offs = [dsl.start_of(a) for a in arg_nodes]

        def arity(lo: int, hi: int | None) -> None:
            if len(args) < lo or (hi is not None and len(args) > hi):
                want = (f"{lo}" if hi == lo else msg("{lo} to {hi}", lo=lo, hi=hi) if hi
                        else msg("at least {lo}", lo=lo))
                self._fail("type-mismatch", msg('{fn}() takes {want} argument(s), got {args}', fn=fn, want=want, args=len(args)),
                           where, off)

        if fn in ("min", "max"):
            arity(2, None)
            if all(a.type.kind is Kind.DATE for a in args):
                return ir.Call(DATE, span, fn, tuple(args))
            for a, o in zip(args, offs):
                self._need_numeric(a, where, o, f"{fn}()")
            t = INT if all(a.type.kind is Kind.INT for a in args) else DECIMAL
            return ir.Call(t, span, fn, tuple(args))
        if fn == "clamp":
            arity(3, 3)
            for a, o in zip(args, offs):
                self._need_numeric(a, where, o, "clamp()")
            t = INT if all(a.type.kind is Kind.INT for a in args) else DECIMAL
            return ir.Call(t, span, fn, tuple(args))
        if fn in ("abs", "floor", "ceil"):
            arity(1, 1)
            self._need_numeric(args[0], where, offs[0], f"{fn}()")
            return ir.Call(args[0].type if fn == "abs" else INT, span, fn, tuple(args))
        if fn == "round":
            arity(1, 2)
            self._need_numeric(args[0], where, offs[0], "round()")
            if len(args) == 2 and not (isinstance(args[1], ir.Const) and args[1].type.kind is Kind.INT
                                       and 0 <= args[1].value <= 6):
                self._fail("type-mismatch", msg('round(x, n) needs a whole number n from 0 to 6'), where,
                           offs[1])
            n = args[1].value if len(args) == 2 else 0
            return ir.Call(INT if n == 0 else DECIMAL, span, fn, tuple(args))
        if fn in ("months_between", "years_between", "days_between"):
            arity(2, 2)
            for a, o in zip(args, offs):
                if a.type.kind is not Kind.DATE:
                    self._fail("type-mismatch", msg('{fn}() needs dates, but this is {value}', fn=fn, value=a.type.describe()),
                               where, o)
            return ir.Call(INT, span, fn, tuple(args))
        if fn == "is_missing":
            arity(1, 1)
            return ir.Call(BOOL, span, fn, tuple(args))
        if fn == "coalesce":
            arity(2, None)
            first = args[0]
            out = [first]
            for a, o in zip(args[1:], offs[1:]):
                x, y = self._unify_pair(first, a, where, offs[0], o, "coalesce")
                out.append(y)
                first = x if not first.type.literal else x
            out[0] = first
            t = first.type
            if t.numeric and any(a.type.kind is Kind.DECIMAL for a in out):
                t = DECIMAL
            return ir.Call(t, span, fn, tuple(out))
        if fn == "has":
            arity(2, 2)
            s, code = args
            if s.type.kind is Kind.COMMUNES:
                if code.type.literal:
                    code = self._coerce_literal(code, s.type, where, offs[1])
                elif code.type.kind is not Kind.COMMUNE:
                    self._fail("type-mismatch", msg('has(localisations, …) needs a commune second'),
                               where, offs[1])
                return ir.Member(BOOL, span, code, s, False)
            if s.type.kind is not Kind.CODESET or isinstance(s, ir.SetLiteral):
                self._fail("type-mismatch", msg('has() needs a set field first, not {value}', value=s.type.describe()),
                           where, offs[0])
            if code.type.literal:
                code = self._coerce_literal(code, s.type, where, offs[1])
            elif not (code.type.kind is Kind.CODE and code.type.enum == s.type.enum):
                self._fail("type-mismatch", msg('has() needs a code of the same list second'), where, offs[1])
            return ir.Member(BOOL, span, code, s, False)
        raise AssertionError(fn)


def _item_offset(cont_node, k: int) -> int:
    items = [c for c in cont_node.children if c is not None]
    return dsl.start_of(items[k]) if k < len(items) else dsl.start_of(cont_node)


def _condition_hint(t: Type):
    """What to write instead of a value where a condition (true/false) is expected."""
    if t.numeric:
        return msg("numbers are not true or false; compare them, e.g. 'x > 0'")
    if t.kind is Kind.CODE and t.enum:
        return msg("compare it with one of its values, e.g. {name} == '{value}'",
                   name=t.enum_name, value=sorted(t.enum)[0])
    return None

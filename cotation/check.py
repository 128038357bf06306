"""Validated model → typed IR: name resolution, type checking and the grid's rules.

Every problem is collected (not just the first) and reported with file:line:col, criterion id,
what was expected and the closest valid names.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from . import dsl
from . import ir
from .diagnostics import Diagnostic, GridError, Span, did_you_mean
from .ir import BOOL, COMMUNE, DATE, DECIMAL, INT, STRING_LITERAL, TEXT, Type
from .loader import SourceMap
from .model import DEFAULT_ORDERING, GridFile
from .schema import COLUMNS, DERIVED, ENUMS, LOC_FIELDS, Kind


class _Abort(Exception):
    """Stops checking one expression after its first error (others continue)."""


@dataclass
class _Where:
    """Where an expression string sits in the file."""

    path: tuple
    text: str
    criterion: str | None


class Checker:
    def __init__(self, grid: GridFile, smap: SourceMap):
        self.grid = grid
        self.smap = smap
        self.diags: list[Diagnostic] = []
        self.criterion_ids = tuple(c.id for c in grid.criteria)
        self.params: dict[str, ir.Const] = {}
        self.local_types: dict[str, Type] = {}
        self.derived_used: dict[str, ir.Expr] = {}
        self.derived_ir: dict[str, ir.Expr] = {}
        self._column_types = {c.name: self._column_type(c.name, c.kind) for c in COLUMNS}

    # -------------------------------------------------------------------------- reporting
    def error(self, code: str, message: str, span: Span, criterion: str | None = None,
              hint: str | None = None, severity: str = "error") -> None:
        self.diags.append(Diagnostic(code, message, span, severity, criterion, hint))

    def _span(self, where: _Where, offset: int) -> Span:
        if isinstance(self._value_at(where.path), str):
            return self.smap.expr_span(where.path, where.text, offset)
        return self.smap.span(where.path)

    def _value_at(self, path: tuple) -> Any:
        data = self._raw
        for p in path:
            try:
                data = data[p]
            except (KeyError, IndexError, TypeError):
                return None
        return data

    # -------------------------------------------------------------------------- types
    def _column_type(self, name: str, kind: Kind) -> Type:
        if name == "criteres_valides":
            return Type(Kind.CODESET, self.criterion_ids, "criteres_valides (critères de la grille)")
        if kind in (Kind.CODE, Kind.CODESET):
            return Type(kind, ENUMS[name], name)
        return Type(kind)

    def name_table(self) -> dict[str, Type]:
        names: dict[str, Type] = dict(self._column_types)
        for d in DERIVED:
            names[d.name] = Type(d.kind)
        names.update(self.local_types)
        for pname, const in self.params.items():
            names[pname] = const.type
        names["today"] = DATE
        return names

    # -------------------------------------------------------------------------- entry
    def run(self, raw: dict) -> tuple[ir.GridIR, list[Diagnostic]]:
        self._raw = raw
        g = self.grid
        self._check_duplicates()
        self._resolve_local_fields()
        self._resolve_parameters()
        self._build_derived()
        applies = None
        if g.grid.applies_to:
            applies = self.typed(("grid", "applies_to"), g.grid.applies_to, None, want=BOOL,
                                 allow_loc=False, role="applies_to")
        criteria = self._criteria()
        groups, ungrouped = self._groups(criteria)
        total_floor = self.const_number(("total", "floor"), g.total.floor, None)
        total_cap = self.const_number(("total", "cap"), g.total.cap, None)
        if total_floor is not None and total_cap is not None and total_floor > total_cap:
            self.error("schema", f"total floor {total_floor} is above total cap {total_cap}",
                       self.smap.span(("total", "floor")))
        ordering = self._ordering()
        self._legal_rules()
        errors = [d for d in self.diags if d.severity == "error"]
        if errors:
            raise GridError(self.diags)
        peers = g.peers
        gir = ir.GridIR(
            id=g.grid.id, title=g.grid.title, version=g.grid.version,
            effective_from=g.grid.effective_from, epci_siren=g.grid.territory.epci_siren,
            territory_name=g.grid.territory.name, communes=tuple(g.grid.territory.communes),
            applies_to=applies, refusal_policy=g.grid.refusal_policy,
            parameters={k: v.value for k, v in self.params.items()},
            local_fields=tuple(ir.LocalFieldIR(n, t, self._local_defaults[n], g.fields[n].label)
                               for n, t in self.local_types.items()),
            derived=tuple((n, self.derived_ir[n]) for n in (d.name for d in DERIVED)
                          if n in self.derived_used),
            criteria=criteria, groups=groups, ungrouped=ungrouped,
            total_floor=total_floor, total_cap=total_cap, ordering=ordering,
            peers_by=tuple(peers.by) if peers else ("loc.commune", "typologie"),
            peers_min_size=peers.min_size if peers else 30,
            peers_fallback=tuple(tuple(f) for f in peers.fallback) if peers else
            (("loc.epci", "typologie"), ("typologie",)),
            waiting_statistic=g.waiting_time.statistic,
            waiting_window_months=g.waiting_time.window_months,
            delai_anormalement_long=dict(g.waiting_time.delai_anormalement_long or {}),
            source_hash="", source_file=self.smap.file)
        return gir, [d for d in self.diags if d.severity != "error"]

    # -------------------------------------------------------------------------- sections
    def _check_duplicates(self) -> None:
        seen: dict[str, int] = {}
        for i, c in enumerate(self.grid.criteria):
            if c.id in seen:
                self.error("duplicate-id", f"criterion id '{c.id}' is already used by criterion "
                           f"#{seen[c.id] + 1}", self.smap.span(("criteria", i, "id")), c.id)
            else:
                seen[c.id] = i
        gseen: set[str] = set()
        for i, gr in enumerate(self.grid.groups):
            if gr.id in gseen:
                self.error("duplicate-id", f"group id '{gr.id}' is already used",
                           self.smap.span(("groups", i, "id")), gr.id)
            gseen.add(gr.id)
        builtin = set(self._column_types) | {d.name for d in DERIVED} | {"today", "loc", "score"}
        reserved = {"and", "or", "not", "in", "if", "then", "else", "between", "true", "false"}
        for section in ("fields", "parameters"):
            for name in getattr(self.grid, section):
                if name in reserved or name in ir.FUNCTIONS:
                    self.error("schema", f"'{name}' is a word of the expression language and cannot "
                               f"name a {section[:-1]}", self.smap.span((section, name), key=True))
        derived = {d.name for d in DERIVED}
        for name in self.grid.fields:
            if name in derived:  # a local input the EPCI has may replace the engine's formula
                self.error("shadows-derived", f"local field '{name}' replaces the derived field of "
                           "the same name: its values are read from the data",
                           self.smap.span(("fields", name), key=True), severity="warning")
                continue
            if name in builtin:
                self.error("duplicate-id", f"local field '{name}' has the name of a canonical or "
                           "derived field", self.smap.span(("fields", name), key=True))
        for name in self.grid.parameters:
            if name in builtin or name in self.grid.fields:
                self.error("duplicate-id", f"parameter '{name}' has the name of a field",
                           self.smap.span(("parameters", name), key=True))

    def _resolve_local_fields(self) -> None:
        self._local_defaults: dict[str, Any] = {}
        from .table import ValueParseError, parse_cell
        from .schema import Column
        for name, spec in self.grid.fields.items():
            kind = Kind(spec.type)
            if kind in (Kind.CODE, Kind.CODESET) and not spec.values:
                self.error("schema", f"field '{name}' of type {spec.type} needs 'values'",
                           self.smap.span(("fields", name)))
                continue
            t = Type(kind, tuple(spec.values) if spec.values else None, name)
            self.local_types[name] = t
            default = spec.default
            if default is None:
                self._local_defaults[name] = frozenset() if kind is Kind.CODESET else None
                continue
            col = Column(name, kind, False, t.enum)
            try:
                if kind is Kind.CODESET and isinstance(default, list):
                    text = "|".join(str(v) for v in default)
                elif isinstance(default, bool):
                    text = "true" if default else "false"
                elif isinstance(default, dt.date):
                    text = default.isoformat()
                else:
                    text = str(default)
                value = parse_cell(col, text)
                if kind is Kind.BOOL and not isinstance(default, bool):
                    raise ValueParseError(f"'{default}' is not true or false")
                if kind is Kind.INT and isinstance(default, float):
                    raise ValueParseError(f"'{default}' is not a whole number")
            except ValueParseError as exc:
                self.error("type-mismatch", f"default of field '{name}': {exc} (field type "
                           f"{spec.type})", self.smap.span(("fields", name, "default")))
                continue
            self._local_defaults[name] = value

    def _resolve_parameters(self) -> None:
        params = self.grid.parameters
        state: dict[str, str] = {}

        def resolve(name: str, chain: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                cycle = chain[chain.index(name):] + [name]
                referrer = chain[-1]  # the parameter whose expression closes the cycle
                self.error("parameter-cycle", "parameters depend on each other in a cycle: "
                           + " → ".join(cycle), self._name_span(("parameters", referrer), name))
                raise _Abort
            state[name] = "active"
            value = params[name]
            path = ("parameters", name)
            if isinstance(value, bool):
                const = ir.Const(BOOL, self.smap.span(path), value, name)
            elif isinstance(value, int):
                const = ir.Const(INT, self.smap.span(path), value, name)
            elif isinstance(value, float):
                const = ir.Const(DECIMAL, self.smap.span(path), value, name)
            elif isinstance(value, dt.date):
                const = ir.Const(DATE, self.smap.span(path), value, name)
            else:
                deps = self._param_names_in(value)
                for dep in deps:
                    if dep in params:
                        resolve(dep, chain + [name])
                expr = self.typed(path, value, None, allow_loc=False, role="parameter",
                                  constant=True)
                if expr is None:
                    raise _Abort
                from .interpreter import evaluate_constant
                const = ir.Const(expr.type, expr.span, evaluate_constant(expr), name)
            self.params[name] = const
            state[name] = "done"

        for name in params:
            try:
                resolve(name, [])
            except _Abort:
                for k, v in state.items():
                    if v == "active":
                        state[k] = "done"  # reported once; its users stop quietly

    def _name_span(self, path: tuple, name: str) -> Span:
        """Where ``name`` is first written in the expression at ``path``."""
        text = self._value_at(path)
        if isinstance(text, str):
            try:
                for tok in dsl.parse(text).scan_values(lambda v: isinstance(v, Token)):
                    if tok.type == "NAME" and tok.value == name:
                        return self.smap.expr_span(path, text, tok.start_pos or 0)
            except dsl.SyntaxProblem:
                pass
        return self.smap.span(path)

    def _param_names_in(self, text: str) -> list[str]:
        try:
            tree = dsl.parse(text)
        except dsl.SyntaxProblem:
            return []
        return [t.value for t in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "NAME")]

    def _build_derived(self) -> None:
        for d in DERIVED:
            where = _Where(("<derived>", d.name), d.formula, None)
            tree = dsl.parse(d.formula)
            self.derived_ir[d.name] = self._expr(tree, where, {"allow_loc": False, "derived": True,
                                                               "constant": False})

    def _criteria(self) -> tuple[ir.CriterionIR, ...]:
        out = []
        group_of: dict[str, str] = {}
        for gr in self.grid.groups:
            for m in gr.members:
                group_of.setdefault(m, gr.id)
        for i, c in enumerate(self.grid.criteria):
            base = ("criteria", i)
            when = None
            if isinstance(c.when, bool):
                when = ir.Const(BOOL, self.smap.span(base + ("when",)), c.when)
            elif c.when is not None:
                when = self.typed(base + ("when",), c.when, c.id, want=BOOL, role="'when'")
            points = band_of = None
            bands: tuple[ir.BandStepIR, ...] = ()
            if c.bands is not None:
                band_of = self.typed(base + ("bands", "of"), c.bands.of, c.id, want_numeric=True,
                                     role="'bands.of'")
                bands = self._bands(c, base)
            else:
                points = self.points_expr(base + ("points",), c.points, c.id)
            cap = self.const_number(base + ("cap",), c.cap, c.id)
            floor = self.const_number(base + ("floor",), c.floor, c.id)
            weight = self.const_number(base + ("weight",), c.weight, c.id)
            if cap is not None and floor is not None and floor > cap:
                self.error("schema", f"floor {floor} is above cap {cap}",
                           self.smap.span(base + ("floor",)), c.id)
            loc = any(ir.uses_loc(e) for e in (when, points, band_of)) or any(
                ir.uses_loc(s.points) for s in bands)
            out.append(ir.CriterionIR(
                index=i, id=c.id, label=c.label, section=c.section, when=when, points=points,
                band_of=band_of, bands=bands, cap=cap, floor=floor,
                weight=1.0 if weight is None else weight, validation=c.validation,
                legal_priority=c.legal_priority, refusal_effect=c.refusal_effect,
                group=group_of.get(c.id), uses_loc=loc, span=self.smap.span(base)))
        return tuple(out)

    def points_expr(self, path: tuple, value: Any, cid: str | None) -> ir.Expr | None:
        if isinstance(value, bool):
            self.error("type-mismatch", "points must be a number or a numeric expression, "
                       "not true/false", self.smap.span(path), cid)
            return None
        if isinstance(value, (int, float)):
            return ir.Const(INT if isinstance(value, int) else DECIMAL, self.smap.span(path), value)
        return self.typed(path, value, cid, want_numeric=True, role="'points'")

    def _bands(self, c, base: tuple) -> tuple[ir.BandStepIR, ...]:
        steps = []
        usable: list[tuple[int, ir.BandStepIR]] = []
        for j, s in enumerate(c.bands.steps):
            p = base + ("bands", "steps", j)
            lo = self.const_number(p + ("from",), s.from_, c.id)
            hi = self.const_number(p + ("to",), s.to, c.id)
            pts = self.points_expr(p + ("points",), s.points, c.id)
            if (s.from_ is not None and lo is None) or (s.to is not None and hi is None) or pts is None:
                continue
            step = ir.BandStepIR(lo, hi, pts)
            steps.append(step)
            if lo is not None and hi is not None and lo >= hi:
                self.error("band-empty", f"band step {j + 1} is empty: from {_num(lo)} is not "
                           f"below to {_num(hi)}", self.smap.span(p), c.id)
                continue
            usable.append((j, step))
        inf = float("inf")
        for pos, (j, s) in enumerate(usable):
            for k, t in usable[:pos]:
                lo = max(-inf if s.low is None else s.low, -inf if t.low is None else t.low)
                hi = min(inf if s.high is None else s.high, inf if t.high is None else t.high)
                if lo < hi:  # first match wins, so an overlap silently changes who gets points
                    self.error("band-overlap", f"band step {j + 1} [{_bound(s.low)}, {_bound(s.high)}) "
                               f"overlaps step {k + 1} [{_bound(t.low)}, {_bound(t.high)}) on "
                               f"[{_bound(lo)}, {_bound(hi)})",
                               self.smap.span(base + ("bands", "steps", j)), c.id)
                    break
        return tuple(steps)

    def _groups(self, criteria) -> tuple[tuple[ir.GroupIR, ...], tuple[int, ...]]:
        index = {c.id: c.index for c in criteria}
        owner: dict[str, str] = {}
        groups = []
        for gi, gr in enumerate(self.grid.groups):
            members = []
            for mi, m in enumerate(gr.members):
                path = ("groups", gi, "members", mi)
                if m not in index:
                    self.error("group-unknown-member", f"group '{gr.id}' lists '{m}', which is not a "
                               "criterion of this grid", self.smap.span(path), gr.id,
                               did_you_mean(m, index))
                    continue
                if m in owner:
                    where = "twice in this group" if owner[m] == gr.id else f"already in group '{owner[m]}'"
                    self.error("group-member-twice", f"criterion '{m}' is {where}; a criterion "
                               "belongs to at most one group", self.smap.span(path), gr.id)
                    continue
                owner[m] = gr.id
                members.append(index[m])
            cap = self.const_number(("groups", gi, "cap"), gr.cap, gr.id)
            floor = self.const_number(("groups", gi, "floor"), gr.floor, gr.id)
            groups.append(ir.GroupIR(gr.id, gr.label, gr.policy, tuple(members), cap, floor,
                                     self.smap.span(("groups", gi))))
        ungrouped = tuple(c.index for c in criteria if c.id not in owner)
        return tuple(groups), ungrouped

    def _ordering(self) -> tuple[ir.OrderKeyIR, ...]:
        keys = self.grid.ordering if self.grid.ordering is not None else DEFAULT_ORDERING
        explicit = self.grid.ordering is not None
        out = []
        for i, k in enumerate(keys):
            path = ("ordering", i, "key")
            if k.key.strip() == "score":
                direction = k.direction or "desc"
                out.append(ir.OrderKeyIR("score", None, direction))
                continue
            expr = self.typed(path, k.key, None, role="ordering key", orderable=True) if explicit \
                else self._quiet_expr(k.key)
            if expr is None:
                continue
            direction = k.direction or ("desc" if expr.type.kind is Kind.BOOL else "asc")
            out.append(ir.OrderKeyIR(k.key.strip(), expr, direction))
        last = out[-1] if out else None
        if not (last and isinstance(last.expr, ir.Ref) and last.expr.name == "numero_unique"):
            span = self.smap.span(("ordering",)) if explicit else Span(self.smap.file, 1, 1)
            self.error("ordering-tiebreak-appended", "the ordering does not end with a unique key; "
                       "'numero_unique' ascending is appended so that ranks have no ties",
                       span, severity="warning")
            out.append(ir.OrderKeyIR("numero_unique", ir.Ref(TEXT, span, "numero_unique", "column"), "asc"))
        return tuple(out)

    def _quiet_expr(self, text: str) -> ir.Expr:
        where = _Where(("ordering",), text, None)
        return self._expr(dsl.parse(text), where, {"allow_loc": True, "constant": False})

    def _legal_rules(self) -> None:
        if not any(c.legal_priority for c in self.grid.criteria):
            self.error("missing-legal-priority", "no criterion has 'legal_priority: true'; the grid "
                       "must include the priorities of art. L441-1 CCH (art. R441-2-10)",
                       self.smap.span(("criteria",), key=True))
        if not self.grid.grid.refusal_policy:
            for i, c in enumerate(self.grid.criteria):
                if c.refusal_effect:
                    self.error("missing-refusal-policy", "criterion has 'refusal_effect: true' but the "
                               "grid has no 'refusal_policy' text (printed on information statements)",
                               self.smap.span(("criteria", i, "refusal_effect"), key=True), c.id,
                               "add grid.refusal_policy describing the effects of a refusal")
                    break

    # -------------------------------------------------------------------------- constants
    def const_number(self, path: tuple, value: Any, cid: str | None) -> float | None:
        """A bound given as a number, a parameter name or a constant expression."""
        if value is None:
            return None
        if isinstance(value, bool):
            self.error("type-mismatch", "expected a number, not true/false", self.smap.span(path), cid)
            return None
        if isinstance(value, (int, float)):
            return float(value)
        expr = self.typed(path, value, cid, want_numeric=True, constant=True, role="bound")
        if expr is None:
            return None
        from .interpreter import evaluate_constant
        result = evaluate_constant(expr)
        if result is None:
            self.error("type-mismatch", f"'{value}' has no value (division by zero?)",
                       self.smap.span(path), cid)
            return None
        return float(result)

    # -------------------------------------------------------------------------- expressions
    def typed(self, path: tuple, text: str, cid: str | None, *, want: Type | None = None,
              want_numeric: bool = False, allow_loc: bool = True, role: str = "expression",
              constant: bool = False, orderable: bool = False) -> ir.Expr | None:
        where = _Where(path, text, cid)
        try:
            tree = dsl.parse(text)
        except dsl.SyntaxProblem as exc:
            self.error("expr-syntax", exc.message, self._span(where, exc.offset), cid)
            return None
        try:
            expr = self._expr(tree, where, {"allow_loc": allow_loc, "constant": constant})
        except _Abort:
            return None
        if want is not None and expr.type.kind is not want.kind:
            self.error("type-mismatch", f"{role} must be {want.describe()}, but this is "
                       f"{expr.type.describe()}", self._span(where, 0), cid)
            return None
        if want_numeric and not expr.type.numeric:
            self.error("type-mismatch", f"{role} must be a number, but this is {expr.type.describe()}",
                       self._span(where, 0), cid)
            return None
        if orderable and expr.type.kind in (Kind.CODESET, Kind.COMMUNES):
            self.error("type-mismatch", f"{role} must be a single value, not {expr.type.describe()}",
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
            return ir.Const(DECIMAL if "." in text else INT, span, float(text) if "." in text else int(text))
        if kind == "string":
            return ir.Const(STRING_LITERAL, span, str(ch[0])[1:-1])
        if kind == "date":
            try:
                return ir.Const(DATE, span, dt.date.fromisoformat(str(ch[0])))
            except ValueError:
                self._fail("expr-syntax", f"'{ch[0]}' is not a valid date", where, off)
        if kind in ("true", "false"):
            return ir.Const(BOOL, span, kind == "true")
        if kind == "name":
            return self._name(str(ch[0]), where, off, span, opts)
        if kind == "dotted":
            head, tail = str(ch[0]), str(ch[1])
            if head != "loc":
                self._fail("unknown-name", f"unknown name '{head}.{tail}'", where, off,
                           "only the localisation's fields are written with a dot: "
                           + ", ".join(f"loc.{n}" for n in LOC_FIELDS))
            if tail not in LOC_FIELDS:
                self._fail("unknown-name", f"unknown localisation field 'loc.{tail}'", where, off,
                           did_you_mean(tail, LOC_FIELDS) or "expected one of: "
                           + ", ".join(f"loc.{n}" for n in LOC_FIELDS))
            if opts["constant"] or not opts["allow_loc"]:
                self._fail("unknown-name", f"'loc.{tail}' is not available here (it depends on "
                           "the commune being scored)", where, off)
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
                self._fail("type-mismatch", f"'{op}' compares numbers or dates, not "
                           f"{a.type.describe()}", where, off)
            return ir.Compare(BOOL, span, op, a, b)
        if kind in ("in_", "not_in"):
            return self._member(ch[0], ch[1], kind == "not_in", where, span, opts)
        if kind == "between":
            x, lo, hi = rec(ch[0]), rec(ch[1]), rec(ch[2])
            for n, sub in ((x, ch[0]), (lo, ch[1]), (hi, ch[2])):
                if n.type.kind not in (Kind.INT, Kind.DECIMAL, Kind.DATE):
                    self._fail("type-mismatch", f"'between' works on numbers or dates, not "
                               f"{n.type.describe()}", where, dsl.start_of(sub))
            if (x.type.kind is Kind.DATE) != (lo.type.kind is Kind.DATE) or \
                    (x.type.kind is Kind.DATE) != (hi.type.kind is Kind.DATE):
                self._fail("type-mismatch", "'between' mixes dates and numbers", where, off)
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
            self._fail("unknown-name", f"'{name}' is not a parameter; only numbers and parameters "
                       "can be used here", where, off, did_you_mean(name, names))
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
            self._fail("unknown-name", "'loc' needs a field: loc.commune, loc.rang or loc.epci",
                       where, off)
        candidates = list(self.name_table()) + [f"loc.{n}" for n in LOC_FIELDS]
        if name in ir.FUNCTIONS:
            self._fail("unknown-name", f"'{name}' is a function; call it with parentheses", where, off)
        self._fail("unknown-name", f"unknown field or parameter '{name}'", where, off,
                   did_you_mean(name, candidates))
        raise AssertionError  # unreachable

    def _need_numeric(self, x: ir.Expr, where: _Where, off: int, what: str) -> None:
        if not x.type.numeric:
            self._fail("type-mismatch", f"{what} needs a number, but this is {x.type.describe()}",
                       where, off)

    def _need_bool(self, x: ir.Expr, where: _Where, off: int, what: str) -> None:
        if x.type.kind is not Kind.BOOL:
            hint = None
            if x.type.numeric:
                hint = "numbers are not true or false; compare them, e.g. 'x > 0'"
            self._fail("type-mismatch", f"{what} needs a condition (true/false), but this is "
                       f"{x.type.describe()}", where, off, hint)

    def _coerce_literal(self, lit: ir.Const, target: Type, where: _Where, off: int) -> ir.Const:
        """Tie a string literal to the code/commune/text type it is compared with."""
        value = lit.value
        if target.kind is Kind.CODE or target.kind is Kind.CODESET:
            if target.enum is not None and value not in target.enum:
                self._fail("not-in-enum", f"'{value}' is not a value of {target.enum_name}", where, off,
                           did_you_mean(value, target.enum) or "expected one of: " + ", ".join(target.enum))
            return ir.Const(Type(Kind.CODE, target.enum, target.enum_name), lit.span, value, lit.param)
        if target.kind in (Kind.COMMUNE, Kind.COMMUNES):
            from .table import ValueParseError, _check_insee
            from .schema import Column
            try:
                _check_insee(Column("loc.commune", Kind.COMMUNE), value)
            except ValueParseError:
                self._fail("type-mismatch", f"'{value}' is not an INSEE commune code (5 characters, "
                           "e.g. '69123')", where, off)
            return ir.Const(COMMUNE, lit.span, value, lit.param)
        if target.kind is Kind.TEXT:
            return ir.Const(TEXT, lit.span, value, lit.param)
        self._fail("type-mismatch", f"a text cannot be compared with {target.describe()}", where, off)
        raise AssertionError

    def _unify_pair(self, a: ir.Expr, b: ir.Expr, where: _Where, off_a: int, off_b: int,
                    op: str) -> tuple[ir.Expr, ir.Expr]:
        ta, tb = a.type, b.type
        if ta.literal and tb.literal:
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
        if ta.kind is tb.kind is Kind.CODESET and ta.enum == tb.enum and op in ("if/else", "coalesce"):
            return a, b
        self._fail("type-mismatch", f"{op} between {ta.describe()} and {tb.describe()}", where, off_b)
        raise AssertionError

    def _set_literal(self, items: list[ir.Expr], where: _Where, off: int, span: Span) -> ir.SetLiteral:
        if not items:
            self._fail("type-mismatch", "an empty set {} can never contain anything", where, off)
        for it in items:
            if not isinstance(it, ir.Const):
                self._fail("type-mismatch", "a set literal lists constant values, e.g. {'T1', 'T2'}",
                           where, off)
        kinds = {it.type.kind for it in items}
        if all(it.type.numeric for it in items):
            t = DECIMAL if Kind.DECIMAL in kinds else INT
        elif len(kinds) == 1 and items[0].type.kind in (Kind.TEXT, Kind.DATE, Kind.BOOL):
            t = items[0].type
        else:
            self._fail("type-mismatch", "a set literal mixes values of different types", where, off)
        return ir.SetLiteral(Type(Kind.CODESET, None, None, literal=t.literal), span, tuple(items))

    def _member(self, item_node, cont_node, negate: bool, where: _Where, span: Span, opts: dict) -> ir.Expr:
        item = self._expr(item_node, where, opts)
        cont = self._expr(cont_node, where, opts)
        off_i, off_c = dsl.start_of(item_node), dsl.start_of(cont_node)
        if isinstance(cont, ir.SetLiteral):
            coerced = []
            if item.type.literal:
                self._fail("type-mismatch", "'in' with a text on the left needs a field on the right, "
                           "e.g. 'sante' in motifs", where, off_c)
            for k, lit in enumerate(cont.items):
                if lit.type.literal:
                    if item.type.kind in (Kind.CODESET, Kind.COMMUNES):
                        self._fail("type-mismatch", f"'in' needs a single value on the left, not "
                                   f"{item.type.describe()}", where, off_i)
                    coerced.append(self._coerce_literal(lit, item.type, where, _item_offset(cont_node, k)))
                elif lit.type.numeric and item.type.numeric or lit.type.kind is item.type.kind:
                    coerced.append(lit)
                else:
                    self._fail("type-mismatch", f"the set lists {lit.type.describe()} but the left side "
                               f"is {item.type.describe()}", where, off_c)
            new = ir.SetLiteral(Type(Kind.CODESET, item.type.enum, item.type.enum_name), cont.span,
                                tuple(coerced))
            return ir.Member(BOOL, span, item, new, negate)
        if cont.type.kind is Kind.CODESET:
            if item.type.literal:
                item = self._coerce_literal(item, cont.type, where, off_i)
            elif not (item.type.kind is Kind.CODE and item.type.enum == cont.type.enum):
                self._fail("type-mismatch", f"'in' {cont.type.describe()} needs a code of the same "
                           f"list on the left, not {item.type.describe()}", where, off_i)
            return ir.Member(BOOL, span, item, cont, negate)
        if cont.type.kind is Kind.COMMUNES:
            if item.type.literal:
                item = self._coerce_literal(item, cont.type, where, off_i)
            elif item.type.kind is not Kind.COMMUNE:
                self._fail("type-mismatch", f"'in' localisations needs a commune on the left, not "
                           f"{item.type.describe()}", where, off_i)
            return ir.Member(BOOL, span, item, cont, negate)
        self._fail("type-mismatch", f"'in' needs a set on the right ({{'a', 'b'}} or a set field), "
                   f"not {cont.type.describe()}", where, off_c)
        raise AssertionError

    def _call(self, fn: str, arg_nodes: list, where: _Where, off: int, span: Span, opts: dict) -> ir.Expr:
        if fn not in ir.FUNCTIONS:
            self._fail("unknown-name", f"unknown function '{fn}'", where, off,
                       did_you_mean(fn, ir.FUNCTIONS) or "functions: " + ", ".join(ir.FUNCTIONS))
        args = [self._expr(a, where, opts) for a in arg_nodes]
        offs = [dsl.start_of(a) for a in arg_nodes]

        def arity(lo: int, hi: int | None) -> None:
            if len(args) < lo or (hi is not None and len(args) > hi):
                want = f"{lo}" if hi == lo else (f"{lo} to {hi}" if hi else f"at least {lo}")
                self._fail("type-mismatch", f"{fn}() takes {want} argument(s), got {len(args)}",
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
                self._fail("type-mismatch", "round(x, n) needs a whole number n from 0 to 6", where,
                           offs[1])
            n = args[1].value if len(args) == 2 else 0
            return ir.Call(INT if n == 0 else DECIMAL, span, fn, tuple(args))
        if fn in ("months_between", "years_between", "days_between"):
            arity(2, 2)
            for a, o in zip(args, offs):
                if a.type.kind is not Kind.DATE:
                    self._fail("type-mismatch", f"{fn}() needs dates, but this is {a.type.describe()}",
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
                    self._fail("type-mismatch", "has(localisations, …) needs a commune second",
                               where, offs[1])
                return ir.Member(BOOL, span, code, s, False)
            if s.type.kind is not Kind.CODESET or isinstance(s, ir.SetLiteral):
                self._fail("type-mismatch", f"has() needs a set field first, not {s.type.describe()}",
                           where, offs[0])
            if code.type.literal:
                code = self._coerce_literal(code, s.type, where, offs[1])
            elif not (code.type.kind is Kind.CODE and code.type.enum == s.type.enum):
                self._fail("type-mismatch", "has() needs a code of the same list second", where, offs[1])
            return ir.Member(BOOL, span, code, s, False)
        raise AssertionError(fn)


def _item_offset(cont_node, k: int) -> int:
    items = [c for c in cont_node.children if c is not None]
    return dsl.start_of(items[k]) if k < len(items) else dsl.start_of(cont_node)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _bound(x: float | None) -> str:
    if x is None or x in (float("inf"), float("-inf")):
        return "-∞" if x is not None and x < 0 else ("∞" if x is not None else "…")
    return _num(x)


def check(grid: GridFile, smap: SourceMap, raw: dict) -> tuple[ir.GridIR, list[Diagnostic]]:
    """Type-check a shape-valid grid; return its IR and warnings, or raise GridError."""
    return Checker(grid, smap).run(raw)

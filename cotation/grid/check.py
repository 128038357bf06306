"""Validated model → typed IR: name resolution, type checking and the grid's rules.

Every problem is collected (not just the first) and reported with file:line:col, criterion id,
what was expected and the closest valid names.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from lark import Token

from cotation.grid import dsl
from cotation.grid import ir
from cotation.grid.diagnostics import Diagnostic, GridError, Span, did_you_mean, msg
from cotation.grid.ir import BOOL, DATE, DECIMAL, INT, TEXT, Type
from cotation.grid.loader import SourceMap
from cotation.grid.model import DEFAULT_ORDERING, GridFile
from cotation.data.schema import COLUMNS, DERIVED, ENUMS, Kind
from cotation.grid.expressions import ExpressionChecker, _Abort, _Where


class Checker(ExpressionChecker):
    """Grid-level checks: duplicates, local fields, parameters, criteria, bands, groups, ordering
    and legal rules; expressions are typed by :class:`ExpressionChecker`."""

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
            self.error("schema", msg('total floor {total_floor} is above total cap {total_cap}', total_floor=total_floor, total_cap=total_cap),
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
                self.error("duplicate-id", msg("criterion id '{id}' is already used by criterion #{value}", id=c.id, value=seen[c.id] + 1), self.smap.span(("criteria", i, "id")), c.id,
                           msg("give this criterion another id (letters, digits and _)"))
            else:
                seen[c.id] = i
        gseen: set[str] = set()
        for i, gr in enumerate(self.grid.groups):
            if gr.id in gseen:
                self.error("duplicate-id", msg("group id '{id}' is already used", id=gr.id),
                           self.smap.span(("groups", i, "id")), gr.id)
            gseen.add(gr.id)
        builtin = set(self._column_types) | {d.name for d in DERIVED} | {"today", "loc", "score"}
        reserved = {"and", "or", "not", "in", "if", "then", "else", "between", "true", "false"}
        for section in ("fields", "parameters"):
            for name in getattr(self.grid, section):
                if name in reserved or name in ir.FUNCTIONS:
                    self.error("schema", msg("'{name}' is a word of the expression language and cannot name a {value}", name=name, value=section[:-1]), self.smap.span((section, name), key=True))
        derived = {d.name for d in DERIVED}
        for name in self.grid.fields:
            if name in derived:  # a local input the EPCI has may replace the engine's formula
                self.error("shadows-derived", msg("local field '{name}' replaces the derived field of the same name: its values are read from the data", name=name),
                           self.smap.span(("fields", name), key=True), severity="warning")
                continue
            if name in builtin:
                self.error("duplicate-id", msg("local field '{name}' has the name of a canonical or derived field", name=name), self.smap.span(("fields", name), key=True))
        self._not_a_parameter = set()
        for name in self.grid.parameters:
            if name in builtin or name in self.grid.fields:
                self.error("duplicate-id",
                           msg("parameter '{name}' has the name of the reference date of the run", name=name)
                           if name == "today" else msg("parameter '{name}' has the name of a field", name=name),
                           self.smap.span(("parameters", name), key=True))
                self._not_a_parameter.add(name)
            elif name in reserved or name in ir.FUNCTIONS:
                self._not_a_parameter.add(name)
        n_defs = len(self.grid.criteria) + len(self.grid.groups)
        if n_defs > ir.MAX_CRITERIA_AND_GROUPS:
            self.error("too-large", msg("the grid has {n} criteria and groups, more than {limit}",
                                        n=n_defs, limit=ir.MAX_CRITERIA_AND_GROUPS),
                       self.smap.span(("criteria",), key=True))

    def _resolve_local_fields(self) -> None:
        self._local_defaults: dict[str, Any] = {}
        from cotation.data.values import ValueParseError, parse_cell
        from cotation.data.schema import Column
        for name, spec in self.grid.fields.items():
            kind = Kind(spec.type)
            if kind in (Kind.CODE, Kind.CODESET) and not spec.values:
                self.error("schema", msg("field '{name}' of type {type} needs 'values'", name=name, type=spec.type),
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
                self.error("type-mismatch", msg("default of field '{name}': {exc} (field type {type})", name=name, exc=exc, type=spec.type), self.smap.span(("fields", name, "default")))
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
                self.error("parameter-cycle", msg("parameters depend on each other in a cycle: {cycle}",
                                                  cycle=" → ".join(cycle)),
                           self._name_span(("parameters", referrer), name),
                           hint=msg("give one of them a number instead of an expression"))
                raise _Abort
            state[name] = "active"
            value = params[name]
            path = ("parameters", name)
            if isinstance(value, bool):
                const = ir.Const(BOOL, self.smap.span(path), value, name)
            elif isinstance(value, (int, float)):
                problem = ir.number_problem(value, ir.MAX_EXACT)
                if problem:
                    self.error("number-out-of-range", problem, self.smap.span(path), None,
                               msg("numbers of a grid lie within ±2^53 (9007199254740992)"))
                    raise _Abort
                const = ir.Const(INT if isinstance(value, int) else DECIMAL, self.smap.span(path),
                                 value, name)
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
                from cotation.grid.evaluate import evaluate_constant
                const = ir.Const(expr.type, expr.span, evaluate_constant(expr), name)
            self.params[name] = const
            state[name] = "done"

        for name in params:
            if name in self._not_a_parameter:
                continue  # reported by _check_duplicates; 'today' keeps its meaning
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
                self.error("schema", msg('floor {floor} is above cap {cap}', floor=floor, cap=cap),
                           self.smap.span(base + ("floor",)), c.id)
            loc = any(ir.uses_loc(e) for e in (when, points, band_of)) or any(
                ir.uses_loc(s.points) for s in bands)
            out.append(ir.CriterionIR(
                index=i, id=c.id, label=c.label, section=c.section, when=when, points=points,
                band_of=band_of, bands=bands, cap=cap, floor=floor,
                weight=1.0 if weight is None else weight, validation=c.validation,
                legal_priority=c.legal_priority, refusal_effect=c.refusal_effect,
                group=group_of.get(c.id), uses_loc=loc, span=self.smap.span(base),
                source=c.source))
        return tuple(out)

    def points_expr(self, path: tuple, value: Any, cid: str | None) -> ir.Expr | None:
        if isinstance(value, bool):
            self.error("type-mismatch", msg('points must be a number or a numeric expression, not true/false'), self.smap.span(path), cid)
            return None
        if isinstance(value, (int, float)):
            if self._out_of_range(path, value, cid, ir.MAX_POINTS):
                return None
            return ir.Const(INT if isinstance(value, int) else DECIMAL, self.smap.span(path), value)
        expr = self.typed(path, value, cid, want_numeric=True, role="'points'")
        if expr is not None and not any(isinstance(n, (ir.Ref, ir.LocRef, ir.Today))
                                        for n in ir.walk(expr)):
            from cotation.grid.evaluate import evaluate_constant
            v = evaluate_constant(expr)
            if v is not None and self._out_of_range(path, v, cid, ir.MAX_POINTS):
                return None
        return expr

    def _out_of_range(self, path: tuple, value: Any, cid: str | None, limit: float) -> bool:
        """Report a number the engines cannot honour (not finite, or beyond ``limit``)."""
        problem = ir.number_problem(value, limit)
        if problem:
            hint = (msg("points, caps, floors and weights lie within ±10^13") if limit == ir.MAX_POINTS
                    else msg("numbers of a grid lie within ±2^53 (9007199254740992)"))
            self.error("number-out-of-range", problem, self.smap.span(path), cid, hint)
        return problem is not None

    def _bands(self, c, base: tuple) -> tuple[ir.BandStepIR, ...]:
        steps = []
        usable: list[tuple[int, ir.BandStepIR]] = []
        for j, s in enumerate(c.bands.steps):
            p = base + ("bands", "steps", j)
            lo = self.const_number(p + ("from",), s.from_, c.id, ir.MAX_EXACT)
            hi = self.const_number(p + ("to",), s.to, c.id, ir.MAX_EXACT)
            pts = self.points_expr(p + ("points",), s.points, c.id)
            if (s.from_ is not None and lo is None) or (s.to is not None and hi is None) or pts is None:
                continue
            step = ir.BandStepIR(lo, hi, pts)
            steps.append(step)
            if lo is not None and hi is not None and lo >= hi:
                self.error("band-empty", msg('band step {value} is empty: from {lo} is not below to {hi}', value=j + 1, lo=_num(lo), hi=_num(hi)), self.smap.span(p), c.id,
                           msg("write a 'from' smaller than 'to' (swap them if they are the wrong way round)"))
                continue
            usable.append((j, step))
        inf = float("inf")
        for pos, (j, s) in enumerate(usable):
            for k, t in usable[:pos]:
                lo = max(-inf if s.low is None else s.low, -inf if t.low is None else t.low)
                hi = min(inf if s.high is None else s.high, inf if t.high is None else t.high)
                if lo < hi:  # first match wins, so an overlap silently changes who gets points
                    hint = (msg("make step {value} start at {end}, where step {value2} ends", value=j + 1,
                                value2=k + 1, end=_bound(t.high))
                            if t.high is not None and (s.low is None or t.high > s.low) and
                            (s.high is None or t.high < s.high)
                            else msg("steps must not overlap: give each its own range of values"))
                    self.error("band-overlap", msg('band step {value} [{low}, {high}) overlaps step {value2} [{low2}, {high2}) on [{lo}, {hi})', value=j + 1, low=_bound(s.low), high=_bound(s.high), value2=k + 1, low2=_bound(t.low), high2=_bound(t.high), lo=_bound(lo), hi=_bound(hi)),
                               self.smap.span(base + ("bands", "steps", j)), c.id, hint)
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
                    self.error("group-unknown-member", msg("group '{id}' lists '{m}', which is not a criterion of this grid", id=gr.id, m=m), self.smap.span(path), gr.id,
                               did_you_mean(m, index))
                    continue
                if m in owner:
                    where = (msg("twice in this group") if owner[m] == gr.id
                             else msg("already in group '{group}'", group=owner[m]))
                    self.error("group-member-twice", msg("criterion '{m}' is {where}; a criterion belongs to at most one group", m=m, where=where), self.smap.span(path), gr.id,
                               msg("remove '{m}' from the members of one of the groups", m=m))
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
            self.error("ordering-tiebreak-appended", msg("the ordering does not end with a unique key; 'numero_unique' ascending is appended so that ranks have no ties"),
                       span, severity="warning")
            out.append(ir.OrderKeyIR("numero_unique", ir.Ref(TEXT, span, "numero_unique", "column"), "asc"))
        return tuple(out)

    def _quiet_expr(self, text: str) -> ir.Expr:
        where = _Where(("ordering",), text, None)
        return self._expr(dsl.parse(text), where, {"allow_loc": True, "constant": False})

    def _legal_rules(self) -> None:
        if not any(c.legal_priority for c in self.grid.criteria):
            self.error("missing-legal-priority", msg("no criterion has 'legal_priority: true'; the grid must include the priorities of art. L441-1 CCH (art. R441-2-10)"),
                       self.smap.span(("criteria",), key=True), None,
                       msg("add the line 'legal_priority: true' to each criterion that carries one of "
                           "these priorities (DALO, handicap, sans logement, violences…)"))
        if not self.grid.grid.refusal_policy:
            for i, c in enumerate(self.grid.criteria):
                if c.refusal_effect:
                    self.error("missing-refusal-policy", msg("criterion has 'refusal_effect: true' but the grid has no 'refusal_policy' text (printed on information statements)"),
                               self.smap.span(("criteria", i, "refusal_effect"), key=True), c.id,
                               msg("under 'grid:', add a 'refusal_policy:' line with the text that describes the effects of a refusal"))
                    break

    # -------------------------------------------------------------------------- constants
    def const_number(self, path: tuple, value: Any, cid: str | None,
                     limit: float = ir.MAX_POINTS) -> float | None:
        """A bound given as a number, a parameter name or a constant expression; finite and
        within ±``limit`` (caps, floors, weights: the score range; band bounds: ±2^53)."""
        if value is None:
            return None
        if isinstance(value, bool):
            self.error("type-mismatch", msg('expected a number, not true/false'), self.smap.span(path), cid)
            return None
        if isinstance(value, (int, float)):
            return None if self._out_of_range(path, value, cid, limit) else float(value)
        expr = self.typed(path, value, cid, want_numeric=True, constant=True, role="bound")
        if expr is None:
            return None
        from cotation.grid.evaluate import evaluate_constant
        result = evaluate_constant(expr)
        if result is None:
            self.error("type-mismatch", msg("'{value}' has no value (division by zero?)", value=value),
                       self.smap.span(path), cid)
            return None
        return None if self._out_of_range(path, result, cid, limit) else float(result)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _bound(x: float | None) -> str:
    if x is None or x in (float("inf"), float("-inf")):
        return "-∞" if x is not None and x < 0 else ("∞" if x is not None else "…")
    return _num(x)


def check(grid: GridFile, smap: SourceMap, raw: dict) -> tuple[ir.GridIR, list[Diagnostic]]:
    """Type-check a shape-valid grid; return its IR and warnings, or raise GridError."""
    return Checker(grid, smap).run(raw)

"""The differential generator: random valid grids over every construct of the grid language,
and demande tables with ordinary and extreme values, to compare both engines cell by cell.

Random valid grids come from a small set of *templates*: a template fixes a grid's structure
(criteria, expression shapes, groups, ordering) from a structure seed; every number, code,
date, text and commune in it is drawn again for each example. All variants of a template
share one kernel (that is the point of passing every number in arrays), so Numba compiles
about a dozen kernels while hypothesis explores hundreds of grids and tables.

Extreme values (``rows_strategy(..., extreme=True)``): tiny and huge decimals (subnormals,
1e300, the largest double, infinities and NaN read as missing), integers around 2^53 and
2^63, negative zero; with the ``/`` of the derived fields (``taux_effort``…) they give infinite
ratios. Localisation lists may be empty.
"""
from __future__ import annotations

import datetime as dt
import itertools
import math
import random

import numpy as np
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from cotation.data.schema import ENUMS, TYPOLOGIES
from cotation.grid import GridError, load_grid

SETTINGS = settings(deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

# ================================================================================ grid templates

TERRITORY = ("69123", "69266", "69259")
OUTSIDE = ("69029", "38185")
EPCI = "200046977"
INTS = (0, 1, 2, 3, 5, 10, 12, 30, 100)
DECS = (0.0, 0.25, 0.3, 0.33, 0.5, 1.5, 2.675, 10.0, 12.5, 100.0)
DATES = (dt.date(2019, 12, 31), dt.date(2023, 2, 28), dt.date(2024, 1, 31), dt.date(2024, 2, 29),
         dt.date(2024, 6, 30), dt.date(2025, 1, 1), dt.date(2025, 6, 30))
TODAYS = (dt.date(2025, 6, 30), dt.date(2024, 2, 29), dt.date(2025, 12, 31))
# texts written as literals in expressions: quotes, code-like text, unicode
LIT_TEXTS = ("ouvrier", "cadre", "a'b", 'x"y', "__import__('os').system('id')", "é\tq", "")
DATA_TEXTS = LIT_TEXTS + ("z\nz", "ouvrier ")
LOCAL_CODE_VALUES = ("ok", "a'b", 'x"y', "__import__('os')", "}{", "\\n", "line\nbreak")
LOCAL_SET_VALUES = tuple(f"v{j:02d}" for j in range(68)) + ("q'q", 'd"d')   # 70 values: 2 words

INT_FIELDS = ("nb_personnes", "nb_adultes", "nb_enfants", "nb_personnes_handicap",
              "revenu_fiscal_reference", "nb_refus_adaptes", "age", "anciennete_mois",
              "nb_refus_adaptes_12m")
DEC_FIELDS = ("ressources_mensuelles", "loyer_actuel", "aide_logement", "surface_actuelle",
              "taux_effort", "reste_a_vivre_uc", "surface_par_personne")
DATE_FIELDS = ("date_depot", "date_renouvellement", "date_naissance", "date_naissance_conjoint",
               "date_dernier_refus_adapte")
CODE_FIELDS = {"situation_logement": ENUMS["situation_logement"],
               "situation_familiale": ENUMS["situation_familiale"],
               "situation_pro": ENUMS["situation_pro"], "dalo_statut": ENUMS["dalo_statut"],
               "typologie_actuelle": TYPOLOGIES}
SET_FIELDS = {"motifs": ENUMS["motifs"], "typologies": TYPOLOGIES}
VALIDATIONS = ("automatique", "justificatif", "travailleur_social", "guichet", "commission")

# local field names that are valid grid names and also identifiers of the generated code or
# Python: they must never reach the kernel source
LOCAL_NAMES = {"bool": ("__import__", "flag_local"), "int": ("pf", "n_local"),
               "decimal": ("np", "x_local"), "date": ("col0", "d_local"),
               "code": ("i", "statut_local"), "set": ("_B", "labels_local"),
               "text": ("self", "t_local"), "commune": ("lcid", "c_local")}


def q(text: str) -> str:
    """A DSL string literal for ``text``."""
    return f'"{text}"' if "'" in text else f"'{text}'"


def dec(v: float) -> str:
    s = repr(float(v))
    return f"({s})" if v < 0 else s


def num(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


# literals at the edge of what a grid may hold (±2^53, tiny and huge decimals), drawn now and
# then in place of ordinary ones: the engines must read them alike
EXTREME_LITERALS = ("9007199254740992", "9007199254740991", "4503599627370495.5",
                    "0.000000000001", "10000000000000", "9007199254740992.0")


# constructs every run must exercise, added round-robin to the templates' last criterion
FORCED = (
    lambda vr: f"{q(vr.choice(ENUMS['motifs']))} in (if is_missing(nb_enfants) then motifs else motifs)",
    lambda vr: f"{q(vr.choice(TYPOLOGIES))} not in coalesce(typologies, typologies)",
    lambda vr: f"-(nb_enfants * {num(vr.choice(INTS))}) < {num(vr.choice(INTS))}",
    lambda vr: "is_missing(if coalesce(prioritaire, false) then motifs else motifs)",
    lambda vr: f"round(taux_effort, {vr.randint(1, 4)}) >= {dec(vr.choice(DECS))}",
)


class Template:
    """A grid structure; :meth:`render` fills in values from a value RNG."""

    def __init__(self, seed: int, *, n_criteria: int | None = None, rich: bool = True,
                 depth: int = 2):
        self.seed = seed
        self.depth = depth
        sr = self.sr = random.Random(seed)
        self.local: dict[str, dict] = {}
        for kind, names in LOCAL_NAMES.items():
            if sr.random() < (0.7 if rich else 0.3):
                self.local[names[seed % 2]] = {"type": kind}
        self.params = {"p_int": "int", "p_dec": "dec", "p_date": "date", "p_code": "code"}
        k = n_criteria or sr.randint(2, 9)
        self.ids = [f"c{j}" for j in range(k)]
        self.crit = [self._criterion(j) for j in range(k)]
        self.groups = self._groups(k)
        self.total = (sr.random() < 0.4, sr.random() < 0.3)
        self.applies = self.bool(1, loc=False) if sr.random() < 0.4 else None
        self.ordering = self._ordering()

    # -- helpers on the structure RNG
    def pick(self, seq):
        return self.sr.choice(list(seq))

    def local_of(self, kind: str) -> str | None:
        for name, spec in self.local.items():
            if spec["type"] == kind:
                return name
        return None

    # -- numbers
    def number(self, d: int, loc: bool):
        """(render, is_int)"""
        sr = self.sr
        r = sr.random()
        if d <= 0 or r < 0.35:
            r2 = sr.random()
            if r2 < 0.3:
                fields = list(INT_FIELDS) + (["loc.rang"] if loc else [])
                if self.local_of("int"):
                    fields.append(self.local_of("int"))
                f = self.pick(fields)
                return (lambda vr, f=f: f), True
            if r2 < 0.55:
                fields = list(DEC_FIELDS)
                if self.local_of("decimal"):
                    fields.append(self.local_of("decimal"))
                f = self.pick(fields)
                return (lambda vr, f=f: f), False
            if r2 < 0.7:
                return (lambda vr: num(vr.choice(INTS) * vr.choice((1, 1, -1)))
                        if vr.random() < 0.9 else vr.choice(EXTREME_LITERALS)), True
            if r2 < 0.85:
                return (lambda vr: dec(vr.choice(DECS) * vr.choice((1, 1, -1)))), False
            p = self.pick(("p_int", "p_dec"))
            return (lambda vr, p=p: p), p == "p_int"
        choice = sr.randrange(12)
        if choice == 11:
            choice = 1
        if choice == 0:
            a, ai = self.number(d - 1, loc)
            b, bi = self.number(d - 1, loc)
            op = self.pick("+-*/")
            return (lambda vr: f"({a(vr)} {op} {b(vr)})"), ai and bi and op != "/"
        if choice == 1:
            a, ai = self.number(d - 1, loc)
            return (lambda vr: f"(-{a(vr)})"), ai
        if choice == 2:
            fn = self.pick(("min", "max"))
            args = [self.number(d - 1, loc) for _ in range(self.sr.randint(2, 3))]
            return (lambda vr: f"{fn}({', '.join(a(vr) for a, _ in args)})"), all(i for _, i in args)
        if choice == 3:
            args = [self.number(d - 1, loc) for _ in range(3)]
            return (lambda vr: f"clamp({', '.join(a(vr) for a, _ in args)})"), all(i for _, i in args)
        if choice == 4:
            fn = self.pick(("abs", "floor", "ceil"))
            a, ai = self.number(d - 1, loc)
            return (lambda vr: f"{fn}({a(vr)})"), ai if fn == "abs" else True
        if choice == 5:
            a, _ = self.number(d - 1, loc)
            if sr.random() < 0.5:
                return (lambda vr: f"round({a(vr)})"), True
            return (lambda vr: f"round({a(vr)}, {vr.randint(1, 3)})"), False
        if choice == 6:
            fn = self.pick(("months_between", "years_between", "days_between"))
            a, b = self.date(d - 1), self.date(d - 1)
            return (lambda vr: f"{fn}({a(vr)}, {b(vr)})"), True
        if choice == 7:
            c = self.bool(d - 1, loc)
            a, ai = self.number(d - 1, loc)
            b, bi = self.number(d - 1, loc)
            return (lambda vr: f"(if {c(vr)} then {a(vr)} else {b(vr)})"), ai and bi
        if choice == 8:
            a, ai = self.number(d - 1, loc)
            b, bi = self.number(d - 1, loc)
            return (lambda vr: f"coalesce({a(vr)}, {b(vr)})"), ai and bi
        if choice == 9 and loc:
            return (lambda vr: "loc.rang"), True
        return self.number(0, loc)

    # -- dates
    def date(self, d: int):
        sr = self.sr
        r = sr.random()
        if d <= 0 or r < 0.5:
            r2 = sr.random()
            if r2 < 0.45:
                fields = list(DATE_FIELDS) + ([self.local_of("date")] if self.local_of("date") else [])
                f = self.pick(fields)
                return lambda vr, f=f: f
            if r2 < 0.65:
                return lambda vr: "today"
            if r2 < 0.85:
                return lambda vr: vr.choice(DATES).isoformat()
            return lambda vr: "p_date"
        choice = sr.randrange(3)
        a, b = self.date(d - 1), self.date(d - 1)
        if choice == 0:
            fn = self.pick(("min", "max"))
            return lambda vr: f"{fn}({a(vr)}, {b(vr)})"
        if choice == 1:
            return lambda vr: f"coalesce({a(vr)}, {b(vr)})"
        c = self.bool(d - 1, False)
        return lambda vr: f"(if {c(vr)} then {a(vr)} else {b(vr)})"

    # -- codes (render, enum)
    def code(self, d: int):
        fields = dict(CODE_FIELDS)
        if self.local_of("code"):
            fields[self.local_of("code")] = LOCAL_CODE_VALUES
        f = self.pick(sorted(fields))
        enum = fields[f]
        lits = [v for v in enum if "\n" not in v and not ("'" in v and '"' in v)]
        r = self.sr.random()
        if d <= 0 or r < 0.6:
            return (lambda vr, f=f: f), lits
        if r < 0.8:
            return (lambda vr, f=f: f"coalesce({f}, {q(vr.choice(lits))})"), lits
        c = self.bool(d - 1, False)
        if f == "situation_logement" and self.sr.random() < 0.5:  # a string parameter
            return (lambda vr, f=f: f"(if {c(vr)} then {f} else p_code)"), lits
        return (lambda vr, f=f: f"(if {c(vr)} then {f} else {q(vr.choice(lits))})"), lits

    def set_expr(self, d: int):
        """(render, literal values) of a set-of-codes expression."""
        fields = dict(SET_FIELDS)
        if self.local_of("set"):
            fields[self.local_of("set")] = LOCAL_SET_VALUES
        fields["criteres_valides"] = tuple(self.ids[: max(1, len(getattr(self, "crit", [])))])
        f = self.pick(sorted(fields))
        lits = [v for v in fields[f] if not ("'" in v and '"' in v)]
        r = self.sr.random()
        if d <= 0 or r < 0.4:
            return (lambda vr, f=f: f), lits
        known = self.pick(("is_missing(nb_enfants)", "coalesce(prioritaire, false)",
                           "is_missing(situation_logement)"))
        if r < 0.75:
            return (lambda vr, f=f: f"(if {known} then {f} else {f})"), lits
        return (lambda vr, f=f: f"coalesce({f}, {f})"), lits

    def text(self):
        fields = ["profession", "numero_unique"]
        if self.local_of("text"):
            fields.append(self.local_of("text"))
        return self.pick(fields)

    # -- conditions
    def bool(self, d: int, loc: bool):
        sr = self.sr
        if d > 0 and sr.random() < 0.35:
            choice = sr.randrange(6)
            a = self.bool(d - 1, loc)
            if choice == 0:
                return lambda vr: f"(not {a(vr)})"
            b = self.bool(d - 1, loc)
            if choice in (1, 2):
                op = "and" if choice == 1 else "or"
                return lambda vr: f"({a(vr)} {op} {b(vr)})"
            if choice == 3:
                c = self.bool(d - 1, loc)
                return lambda vr: f"(if {a(vr)} then {b(vr)} else {c(vr)})"
            if choice == 4:
                return lambda vr: f"coalesce({a(vr)}, {b(vr)})"
            return lambda vr: f"({a(vr)} {'and' if vr.random() < 0.5 else 'and'} true)"
        choice = sr.randrange(17)
        if choice == 16:
            choice = 5
        if choice == 0:
            fields = ["est_mutation", "prioritaire"] + ([self.local_of("bool")] if self.local_of("bool") else [])
            f = self.pick(fields)
            return lambda vr, f=f: f
        if choice == 1:
            a, _ = self.number(d - 1, loc)
            b, _ = self.number(d - 1, loc)
            op = self.pick(("==", "!=", "<", "<=", ">", ">="))
            return lambda vr: f"{a(vr)} {op} {b(vr)}"
        if choice == 2:
            a, _ = self.number(d - 1, loc)
            lo, _ = self.number(0, loc)
            hi, _ = self.number(0, loc)
            return lambda vr: f"{a(vr)} between {lo(vr)} and {hi(vr)}"
        if choice == 3:
            f, lits = self.code(d - 1)
            op = self.pick(("==", "!="))
            return lambda vr: f"{f(vr)} {op} {q(vr.choice(lits))}"
        if choice == 4:
            f, lits = self.code(d - 1)
            k = sr.randint(1, 3)
            neg = self.pick(("in", "not in"))
            return lambda vr: f"{f(vr)} {neg} {{{', '.join(q(vr.choice(lits)) for _ in range(k))}}}"
        if choice == 5:
            s, lits = self.set_expr(d - 1)
            form = sr.randrange(3)
            if form == 0:
                return lambda vr: f"{q(vr.choice(lits))} in {s(vr)}"
            if form == 1:
                return lambda vr: f"{q(vr.choice(lits))} not in {s(vr)}"
            if s(random.Random(0)) in SET_FIELDS or s(random.Random(0)) in self.local or \
                    s(random.Random(0)) == "criteres_valides":
                return lambda vr: f"has({s(vr)}, {q(vr.choice(lits))})"
            return lambda vr: f"{q(vr.choice(lits))} in {s(vr)}"
        if choice == 6:
            return lambda vr: self.pick_static("typologie_actuelle in typologies",
                                               "typologie_actuelle not in typologies")
        if choice == 7:
            a, b = self.date(d - 1), self.date(d - 1)
            op = self.pick(("==", "!=", "<", "<=", ">", ">="))
            return lambda vr: f"{a(vr)} {op} {b(vr)}"
        if choice == 8:
            a, lo, hi = self.date(d - 1), self.date(0), self.date(0)
            return lambda vr: f"{a(vr)} between {lo(vr)} and {hi(vr)}"
        if choice == 9:
            t = self.text()
            form = sr.randrange(3)
            if form == 0:
                op = self.pick(("==", "!="))
                return lambda vr: f"{t} {op} {q(vr.choice(LIT_TEXTS))}"
            if form == 1:
                t2 = self.text()
                return lambda vr: f"{t} == {t2}"
            return lambda vr: f"{t} in {{{q(vr.choice(LIT_TEXTS))}, {q(vr.choice(LIT_TEXTS))}}}"
        if choice == 10:
            communes = ["commune_residence", "commune_travail"] + (
                [self.local_of("commune")] if self.local_of("commune") else [])
            cf = self.pick(communes)
            forms = ["eq_lit", "in_locs", "not_in_locs", "lit_in_locs", "eq_field"]
            if loc:
                forms += ["loc_eq", "loc_lit", "loc_set", "epci"] * 2
            form = self.pick(forms)
            every = TERRITORY + OUTSIDE
            if form == "eq_lit":
                return lambda vr: f"{cf} == {q(vr.choice(every))}"
            if form == "in_locs":
                return lambda vr: f"{cf} in localisations"
            if form == "not_in_locs":
                return lambda vr: f"{cf} not in localisations"
            if form == "lit_in_locs":
                return lambda vr: f"{q(vr.choice(every))} in localisations"
            if form == "eq_field":
                other = self.pick(communes)
                return lambda vr: f"{cf} != {other}"
            if form == "loc_eq":
                return lambda vr: f"loc.commune == {cf}"
            if form == "loc_lit":
                return lambda vr: f"loc.commune != {q(vr.choice(TERRITORY))}"
            if form == "loc_set":
                return lambda vr: f"loc.commune in {{{q(vr.choice(TERRITORY))}, {q(vr.choice(every))}}}"
            return lambda vr: f"loc.epci == {q(vr.choice((EPCI, '123456789')))}"
        if choice == 11:
            kinds = ["num", "date", "code", "set", "text", "locs"]
            kind = self.pick(kinds)
            if kind == "num":
                a, _ = self.number(d - 1, loc)
            elif kind == "date":
                a = self.date(d - 1)
            elif kind == "code":
                a, _ = self.code(d - 1)
            elif kind == "set":
                a, _ = self.set_expr(d - 1)
            elif kind == "text":
                t = self.text()
                a = lambda vr, t=t: t  # noqa: E731
            else:
                a = lambda vr: "localisations"  # noqa: E731
            return lambda vr: f"is_missing({a(vr)})"
        if choice == 12:
            a, ai = self.number(d - 1, loc)
            k = sr.randint(1, 3)
            return lambda vr: f"{a(vr)} in {{{', '.join(num(vr.choice(INTS)) for _ in range(k))}}}"
        if choice == 13:
            f = self.pick(("date_depot", "date_naissance"))
            return lambda vr: f"{f} in {{{vr.choice(DATES).isoformat()}, {vr.choice(DATES).isoformat()}}}"
        if choice == 14:
            return lambda vr: f"prioritaire in {{{vr.choice(('true', 'false'))}}}"
        if choice == 15 and getattr(self, "crit", None) is not None:
            ids = self.ids
            return lambda vr: f"{q(vr.choice(ids))} in criteres_valides"
        return lambda vr: vr.choice(("true", "false"))

    def pick_static(self, *options):
        return options[self.seed % len(options)]

    # -- criteria
    def _criterion(self, j: int) -> dict:
        sr = self.sr
        loc = sr.random() < 0.3
        spec: dict = {"loc": loc}
        spec["when"] = self.bool(self.depth, loc) if sr.random() < 0.75 else None
        r = sr.random()
        if self.depth < 2:
            r = r * 0.45
        if r < 0.3:
            spec["points"] = ("int", None)
        elif r < 0.45:
            spec["points"] = ("dec", None)
        elif r < 0.75:
            spec["points"] = ("expr", self.number(self.depth, loc)[0])
        else:
            n = sr.randint(1, 3)
            of, _ = self.number(1, loc)
            steps = []
            for s in range(n):
                steps.append({"open_lo": s == 0 and sr.random() < 0.5,
                              "open_hi": s == n - 1 and sr.random() < 0.5,
                              "points": ("dec", None) if sr.random() < 0.5 else ("expr", self.number(1, loc)[0])})
            spec["bands"] = (of, steps)
        spec["floor"] = sr.random() < 0.25
        spec["cap"] = sr.random() < 0.35
        spec["weight"] = sr.random() < 0.3
        spec["validation"] = self.pick(VALIDATIONS) if sr.random() < 0.4 else "automatique"
        spec["refusal"] = sr.random() < 0.15
        return spec

    def _groups(self, k: int) -> list[dict]:
        sr = self.sr
        idx = list(range(k))
        sr.shuffle(idx)
        groups = []
        while len(idx) >= 2 and sr.random() < 0.7:
            size = sr.randint(2, min(4, len(idx)))
            members = sorted(idx[:size]) if sr.random() < 0.5 else idx[:size]
            idx = idx[size:]
            groups.append({"policy": self.pick(("sum", "max", "first")), "members": members,
                           "floor": sr.random() < 0.25, "cap": sr.random() < 0.4})
        return groups

    def _ordering(self) -> list[tuple]:
        sr = self.sr
        keys = []
        for _ in range(sr.randint(0, 2)):
            keys.append((self.bool(1, sr.random() < 0.3), self.pick(("desc", "asc"))))
        keys.append(("score", self.pick(("desc", "desc", "asc"))))
        extra = ["date_depot", "loc.rang", "age", "taux_effort", "situation_logement",
                 "commune_travail", "profession", "loc.commune", "anciennete_mois",
                 "numero_unique", "date_naissance", "nb_personnes", "revenu_fiscal_reference",
                 "loyer_actuel"]
        if self.local_of("code"):
            extra.append(self.local_of("code"))
        if self.local_of("text"):
            extra.append(self.local_of("text"))
        for _ in range(sr.randint(0, 3)):
            keys.append((self.pick(extra), self.pick(("asc", "desc"))))
        return keys

    # -- rendering
    def render(self, vr: random.Random) -> dict:
        fields = {}
        for name, spec in self.local.items():
            kind = spec["type"]
            f: dict = {"type": kind, "label": vr.choice(("Label « x »", 'q"uote', "a\nb", "x'); import os #"))}
            if kind == "code":
                f["values"] = list(LOCAL_CODE_VALUES)
            if kind == "set":
                f["values"] = list(LOCAL_SET_VALUES)
            default = {"bool": vr.choice((True, False, None)), "int": vr.choice((0, 3, None)),
                       "decimal": vr.choice((0.5, None)), "date": vr.choice((dt.date(2024, 1, 1), None)),
                       "code": vr.choice(("ok", "a'b", None)), "set": vr.choice((["v01", "v66"], None)),
                       "text": vr.choice(("défaut", None)), "commune": vr.choice(("69123", None))}[kind]
            if default is not None:
                f["default"] = default
            fields[name] = f
        params = {"p_int": vr.choice(INTS), "p_dec": vr.choice(DECS) + 0.001,
                  "p_date": vr.choice(DATES), "p_code": q(vr.choice(ENUMS["situation_logement"]))}
        criteria = []
        for j, spec in enumerate(self.crit):
            c: dict = {"id": self.ids[j], "label": vr.choice(("Critère", "Crit'ère \"x\"\n__import__('os')")),
                       "legal_priority": j == 0}
            if spec["when"] is not None:
                c["when"] = spec["when"](vr)
            kind, fn = spec.get("points", (None, None))
            if "bands" in spec:
                of, steps = spec["bands"]
                pool = sorted(set(DECS) | {float(v) for v in INTS})
                bounds = sorted(vr.sample(pool, len(steps) + 1))
                out = []
                for s, st_ in enumerate(steps):
                    step: dict = {}
                    if not st_["open_lo"]:
                        step["from"] = bounds[s]
                    if not st_["open_hi"]:
                        step["to"] = bounds[s + 1]
                    pk, pf = st_["points"]
                    step["points"] = float(vr.choice(DECS)) * vr.choice((1, -1)) if pk == "dec" else pf(vr)
                    out.append(step)
                c["bands"] = {"of": of(vr), "steps": out}
            elif kind == "int":
                c["points"] = vr.choice(INTS) * vr.choice((1, 1, -1))
            elif kind == "dec":
                c["points"] = float(vr.choice(DECS)) * vr.choice((1, -1))
            else:
                c["points"] = fn(vr)
            lo = vr.choice((-5.0, 0.0, 2.5))
            if spec["floor"]:
                c["floor"] = lo
            if spec["cap"]:
                c["cap"] = lo + vr.choice((0.0, 3.333, 10.0, 50.0))
            if spec["weight"]:
                c["weight"] = vr.choice((0.5, 1.5, 2.0, 0.333))
            if spec["validation"] != "automatique":
                c["validation"] = spec["validation"]
            if spec["refusal"]:
                c["refusal_effect"] = True
            if j == len(self.crit) - 1:
                forced = FORCED[self.seed % len(FORCED)](vr)
                c["when"] = f"({c['when']}) or ({forced})" if "when" in c else forced
            criteria.append(c)
        groups = []
        for gi, g in enumerate(self.groups):
            gd: dict = {"id": f"g{gi}", "policy": g["policy"],
                        "members": [self.ids[m] for m in g["members"]]}
            lo = vr.choice((-1.0, 0.0, 5.0))
            if g["floor"]:
                gd["floor"] = lo
            if g["cap"]:
                gd["cap"] = lo + vr.choice((1.0, 12.5, 40.0))
            groups.append(gd)
        total: dict = {}
        if self.total[0]:
            total["floor"] = vr.choice((0, -10.0))
        if self.total[1]:
            total["cap"] = vr.choice((50, 500.5))
        doc = {
            "format": "cotation/1",
            "grid": {"id": f"t{self.seed}", "title": vr.choice(("Grille", "Grille \"\"\" '''")),
                     "territory": {"epci_siren": EPCI, "name": "T", "communes": list(TERRITORY)},
                     "version": "1", "effective_from": dt.date(2024, 1, 1),
                     "refusal_policy": "Refus : « retrait » 'de' \"points\"\n__import__('os')"},
            "parameters": params, "fields": fields, "criteria": criteria, "groups": groups,
            "ordering": [{"key": k if isinstance(k, str) else k(vr), "direction": d}
                         for k, d in self.ordering],
        }
        if self.applies is not None:
            doc["grid"]["applies_to"] = self.applies(vr)
        if total:
            doc["total"] = total
        return doc

    def grid(self, vseed: int):
        """The grid of value seed ``vseed``. An extreme literal may make a constant points
        expression exceed the score range (validate refuses it, as it must): the next value
        seeds are then tried, deterministically."""
        for attempt in range(8):
            rng = random.Random(vseed + 7919 * attempt)
            text = yaml.safe_dump(self.render(rng), allow_unicode=True, sort_keys=False)
            try:
                return load_grid(f"<template {self.seed}>", text, lint=False).ir
            except GridError as exc:
                if {d.code for d in exc.errors} != {"number-out-of-range"} or attempt == 7:
                    raise
        raise AssertionError("unreachable")


TEMPLATES = [Template(s) for s in range(10)] + [Template(100, n_criteria=70, rich=False, depth=1)]


# ================================================================================ demande tables

def _opt(strategy, p_none=0.2):
    return st.one_of(st.none(), strategy) if p_none else strategy


NUS = [f"{d:03d}{k:013d}A{k % 7}" for d, k in zip(itertools.cycle((69, 38)), range(40))]


# Extreme data, given to the engines as typed values (beyond what the data boundary accepts: the
# engines must not depend on it for correctness). Around 2^53 whole numbers stop being exact
# doubles; 2^63 wraps a signed 64-bit integer; 5e-324 is the smallest subnormal (a ratio over it
# is infinite); infinities and NaN are missing.
EXTREME_INTS = (2 ** 53 - 1, 2 ** 53, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 63 + 1, 2 ** 64,
                10 ** 13, 10 ** 15, -(2 ** 53 + 1), -(2 ** 63))
EXTREME_DECS = (5e-324, 1e-300, 1e-12, 1e300, 1.7976931348623157e308, -0.0, 2.0 ** 53 + 2,
                4503599627370495.5, -1e300, math.inf, -math.inf, math.nan)


def rows_strategy(template: Template, ids: list[str], extreme: bool = False):
    code = lambda f: _opt(st.sampled_from(CODE_FIELDS[f] + ("inconnu",)))  # noqa: E731
    sets = lambda enum: st.frozensets(st.sampled_from(enum + ("hors_liste",)), max_size=4)  # noqa: E731
    # 999999999999 and 9.9e11: products beyond MAX_POINTS (1e13) make a criterion not met
    ints = st.sampled_from(INTS + (4, 7, 1500, 23000, 999999999999)
                           + (EXTREME_INTS if extreme else ()))
    decs = st.sampled_from(DECS + (0.0, 300.0, 1234.56, 0.29, 0.299, 9.9e11)
                           + (EXTREME_DECS if extreme else ()))
    dates = st.sampled_from(DATES + (dt.date(2000, 3, 31), dt.date(2024, 7, 1), dt.date(1960, 2, 29)))
    communes = st.sampled_from(TERRITORY + OUTSIDE)
    row = {
        "numero_unique": st.sampled_from(NUS),
        "date_depot": _opt(dates, 0.05), "date_renouvellement": _opt(dates),
        "est_mutation": _opt(st.booleans()), "situation_logement": code("situation_logement"),
        "motifs": sets(ENUMS["motifs"]), "nb_personnes": _opt(ints, 0.05),
        "nb_adultes": _opt(ints), "nb_enfants": _opt(ints), "nb_personnes_handicap": _opt(ints),
        "date_naissance": _opt(dates), "date_naissance_conjoint": _opt(dates),
        "situation_familiale": code("situation_familiale"), "situation_pro": code("situation_pro"),
        "profession": _opt(st.sampled_from(DATA_TEXTS)),
        "commune_residence": _opt(communes), "commune_travail": _opt(communes),
        "revenu_fiscal_reference": _opt(ints), "ressources_mensuelles": _opt(decs),
        "loyer_actuel": _opt(decs), "aide_logement": _opt(decs), "surface_actuelle": _opt(decs),
        "typologie_actuelle": code("typologie_actuelle"), "typologies": sets(TYPOLOGIES),
        "localisations": st.lists(communes, max_size=5),
        "dalo_statut": code("dalo_statut"), "prioritaire": _opt(st.booleans()),
        "nb_refus_adaptes": _opt(ints), "date_dernier_refus_adapte": _opt(dates),
        "criteres_valides": st.frozensets(st.sampled_from(tuple(ids) + ("zz",)), max_size=4),
    }
    raw_local = {
        "bool": st.sampled_from(("true", "false", "", "peut-être")),
        "int": st.sampled_from(("0", "3", "12", "", "x")),
        "decimal": st.sampled_from(("0.5", "0.33", "12.5", "", "n/a")),
        "date": st.sampled_from(("2024-02-29", "2025-06-30", "", "2024-13-01")),
        "code": st.sampled_from(LOCAL_CODE_VALUES + ("", "pas une valeur")),
        "set": st.sampled_from(("v01|v66", "v00|v67|v68", "q'q", "", "v01|nope")),
        "text": st.sampled_from(DATA_TEXTS[:6] + ("",)),
        "commune": st.sampled_from(("69123", "69266", "", "6912")),
    }
    for name, spec in template.local.items():
        row[name] = raw_local[spec["type"]]
    return st.lists(st.fixed_dictionaries(row), max_size=14)


def assert_same_arrays(a, b, names) -> None:
    """The arrays ``names`` and ``points`` (None or a matrix) of two score holders are equal,
    dtypes and shapes included."""
    for f in names:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape, f
        assert np.array_equal(x, y), f
    if a.points is None:
        assert b.points is None
    else:
        assert a.points.dtype == b.points.dtype and np.array_equal(a.points, b.points)


def assert_same(a, b):
    """Two ScoreTables are equal array for array, bit for bit."""
    assert_same_arrays(a, b, ("row", "rang", "score", "score_valide", "met", "set_aside",
                              "met_valide", "set_aside_valide", "rank"))
    assert list(a.numero_unique) == list(b.numero_unique)
    assert list(a.commune) == list(b.commune)
    assert a.order_keys == b.order_keys
    # and of the same types: an int key is an int on both sides (30000, not 30000.0)
    assert [[type(v) for v in col] for col in a.order_keys] == \
        [[type(v) for v in col] for col in b.order_keys]
    assert a.rejects == b.rejects


def compiled_table(grid, table, today, explain):
    """The compiled engine's ScoreTable, from its kernels and nothing else.

    ``score_compiled`` scores a grid it cannot lower with the reference interpreter (a
    RuntimeWarning, "compiled engine unavailable"): a differential test through it would
    then compare the interpreter with itself and pass. Here the grid is lowered first (a
    :class:`LoweringError` fails the test), ``score_compiled`` is given that lowering, its
    fallback warning is an error, and the kernels of that very lowering must have run."""
    import warnings

    from cotation.engine.compiled import compile_grid, score_compiled
    cg = compile_grid(grid)                    # LoweringError: not lowerable, the test fails
    assert cg._mod is None                     # a fresh lowering: no kernels bound yet
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="compiled engine unavailable",
                                category=RuntimeWarning)
        out = score_compiled(grid, table, today, explain=explain, compiled=cg)
    assert cg._mod is not None, "score_compiled did not run the kernels of this lowering"
    return out



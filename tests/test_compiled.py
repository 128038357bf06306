"""The compiled engine against the reference interpreter, exactly.

Random valid grids come from a small set of *templates*: a template fixes a grid's structure
(criteria, expression shapes, groups, ordering) from a structure seed; every number, code,
date, text and commune in it is drawn again for each example. All variants of a template
share one kernel (that is the point of passing every number in arrays), so Numba compiles
about a dozen kernels for the whole file while hypothesis explores hundreds of grids and
tables. Kernels go to a temporary cache directory.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotation.grid import ir
from cotation.grid.diagnostics import GridError
from cotation.grid import load_grid
from cotation.engine.ranking import rank_within
from cotation.data.schema import ENUMS, TYPOLOGIES
from cotation.engine.scoring import score_interpreted
from cotation.data.table import DemandeTable

REPO = Path(__file__).resolve().parent.parent

SETTINGS = settings(deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(tmp_path_factory):
    old = os.environ.get("COTATION_CACHE_DIR")
    os.environ["COTATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if old is None:
        os.environ.pop("COTATION_CACHE_DIR", None)
    else:
        os.environ["COTATION_CACHE_DIR"] = old


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
                return (lambda vr: num(vr.choice(INTS) * vr.choice((1, 1, -1)))), True
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
                 "numero_unique", "date_naissance"]
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
        text = yaml.safe_dump(self.render(random.Random(vseed)), allow_unicode=True, sort_keys=False)
        return load_grid(f"<template {self.seed}>", text, lint=False).ir


TEMPLATES = [Template(s) for s in range(10)] + [Template(100, n_criteria=70, rich=False, depth=1)]


# ================================================================================ demande tables

def _opt(strategy, p_none=0.2):
    return st.one_of(st.none(), strategy) if p_none else strategy


NUS = [f"{d:03d}{k:013d}A{k % 7}" for d, k in zip(itertools.cycle((69, 38)), range(40))]


def rows_strategy(template: Template, ids: list[str]):
    code = lambda f: _opt(st.sampled_from(CODE_FIELDS[f] + ("inconnu",)))  # noqa: E731
    sets = lambda enum: st.frozensets(st.sampled_from(enum + ("hors_liste",)), max_size=4)  # noqa: E731
    # 999999999999 and 9.9e11: products beyond MAX_POINTS (1e13) make a criterion not met
    ints = st.sampled_from(INTS + (4, 7, 1500, 23000, 999999999999))
    decs = st.sampled_from(DECS + (0.0, 300.0, 1234.56, 0.29, 0.299, 9.9e11))
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


def assert_same(a, b):
    """Two ScoreTables are equal array for array, bit for bit."""
    for f in ("row", "rang", "score", "score_valide", "met", "set_aside", "met_valide",
              "set_aside_valide", "rank"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape, f
        assert np.array_equal(x, y), f
    if a.points is None:
        assert b.points is None
    else:
        assert a.points.dtype == b.points.dtype and np.array_equal(a.points, b.points)
    assert list(a.numero_unique) == list(b.numero_unique)
    assert list(a.commune) == list(b.commune)
    assert a.order_keys == b.order_keys
    assert a.rejects == b.rejects


def compiled_table(grid, table, today, explain):
    from cotation.engine.compiled import score_compiled
    return score_compiled(grid, table, today, explain=explain)


# ================================================================================ properties

@settings(SETTINGS, max_examples=220)
@given(data=st.data())
def test_compiled_equals_interpreter(data):
    template = data.draw(st.sampled_from(TEMPLATES), label="template")
    vseed = data.draw(st.integers(0, 2 ** 31), label="values")
    grid = template.grid(vseed)
    rows = data.draw(rows_strategy(template, list(template.ids)), label="rows")
    table = DemandeTable.from_records(rows)
    today = data.draw(st.sampled_from(TODAYS), label="today")
    explain = data.draw(st.booleans(), label="explain")
    expected = score_interpreted(grid, table, today, explain=explain)
    assert_same(expected, compiled_table(grid, table, today, explain))


def test_templates_cover_the_language():
    """The templates exercise every IR node, function, policy and value kind."""
    nodes, fns, policies, kinds, other = set(), set(), set(), set(), set()
    for t in TEMPLATES:
        for vseed in range(3):
            g = t.grid(vseed)
            exprs = [g.applies_to] + [k.expr for k in g.ordering]
            for c in g.criteria:
                exprs += [c.when, c.points, c.band_of] + [s.points for s in c.bands]
                if c.bands and any(s.low is None or s.high is None for s in c.bands):
                    other.add("open band")
                if c.uses_loc:
                    other.add("loc criterion")
                if c.needs_validation:
                    other.add("validation")
                if c.cap is not None and c.floor is not None:
                    other.add("cap+floor")
            exprs += [e for _, e in g.derived]
            for e in exprs:
                if e is None:
                    continue
                for n in ir.walk(e):
                    nodes.add(type(n).__name__)
                    kinds.add(n.type.kind.value)
                    if isinstance(n, ir.Call):
                        fns.add(n.fn)
                    if isinstance(n, ir.Member):
                        other.add("member:" + type(n.container).__name__)
            policies |= {gr.policy for gr in g.groups}
            if any(gr.cap is not None for gr in g.groups):
                other.add("group cap")
            if len(g.criteria) > 64:
                other.add("two mask words")
            if g.total_floor is not None:
                other.add("total floor")
            score_at = [o.expr is None for o in g.ordering].index(True)
            if score_at > 0:
                other.add("priority tier")
            if g.local_fields:
                other.add("local fields")
    assert nodes >= {"Const", "Ref", "LocRef", "Today", "Neg", "Arith", "Compare", "Member",
                     "SetLiteral", "Between", "And", "Or", "Not", "If", "Call"}
    assert fns >= set(ir.FUNCTIONS) - {"has"}          # has() lowers to a Member node
    assert policies == {"sum", "max", "first"}
    assert kinds >= {"bool", "int", "decimal", "date", "code", "set", "text", "commune", "communes"}
    assert other >= {"open band", "loc criterion", "validation", "cap+floor", "member:Ref",
                     "member:SetLiteral", "member:If", "member:Call", "group cap",
                     "two mask words", "total floor", "priority tier", "local fields"}


def test_number_edits_reuse_the_kernel():
    """Variants of a template differ in every number, code and text, not in kernel source."""
    from cotation.engine.compiled import compile_grid
    for t in TEMPLATES[:4]:
        digests = {compile_grid(t.grid(vseed)).digest for vseed in range(6)}
        assert len(digests) == 1


REAL_GRIDS = ["tests/grids/spec_example.yaml", "benchmarks/grids/bench30.yaml"] + sorted(
    str(p.relative_to(REPO)) for p in (REPO / "grids").glob("*.yaml") if not p.name.endswith(".cases.yaml"))


@pytest.mark.parametrize("path", REAL_GRIDS)
def test_real_grids_on_synthetic_demandes(path):
    from cotation.data.synth import generate_demandes
    full = REPO / path
    if not full.exists():
        pytest.skip(f"{path} not present")
    grid = load_grid(full).ir
    today = dt.date(2025, 6, 30)
    table = generate_demandes(1000, seed=7, today=today, territories=[list(grid.communes)])
    for explain in (True, False):
        assert_same(score_interpreted(grid, table, today, explain=explain),
                    compiled_table(grid, table, today, explain))


def test_duplicated_localisations_and_numero_unique():
    """Repeated communes (rang as written), repeated numero_unique (tables built directly),
    and points beyond MAX_POINTS."""
    grid = load_grid(REPO / "tests/grids/spec_example.yaml").ir
    rows = [{"numero_unique": "A", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69123", "69123", "69266")},
            {"numero_unique": "A", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69266", "99999", "69123")},
            {"numero_unique": "B", "date_depot": None, "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69123",)},
            # -20 points per refusal: beyond MAX_POINTS, so the refusal criterion is not met
            {"numero_unique": "C", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69259",), "nb_refus_adaptes": 10 ** 12,
             "date_dernier_refus_adapte": dt.date(2025, 5, 1)}]
    table = DemandeTable.from_records(rows)   # localisations kept as written, repeats included
    today = dt.date(2025, 6, 30)
    a = score_interpreted(grid, table, today)
    assert list(a.rang) == [1, 3, 1, 3, 1, 1]
    assert not a.criterion_met(grid.criterion("refus_adapte").index)[-1]
    assert_same(a, compiled_table(grid, table, today, True))


# ================================================================================ adversarial grids

ADVERSARIAL = r"""
format: cotation/1
grid:
  id: adv-grid
  title: "'''\"\"\" __import__('os').system('echo pwned') \n"
  territory: {epci_siren: "200046977", name: "x'); import os #", communes: ["69123", "69266"]}
  version: "1\"; import os"
  effective_from: 2024-01-01
  refusal_policy: "\"\"\"; raise SystemExit"
parameters:
  __class__: 3
  pi: "'x\"); __import__(\"os\")'"
fields:
  __import__: {type: bool, default: false, label: "\"); exec('1')"}
  np: {type: code, values: ["a'b", "x\"y", "__import__('os').system('id')", "\n", "ok"]}
  col0: {type: text}
  pf: {type: set, values: ["'", "\"", "\\", "{}"]}
criteria:
  - id: c1
    label: "eval('1'); \"\"\" '''"
    section: "\n\n#"
    legal_priority: true
    when: "__import__ and np == \"a'b\""
    points: __class__
  - id: c2
    label: x
    when: "col0 == 'x\"); __import__(\"os\").system(\"id\")' or np in {'x\"y', \"__import__('os').system('id')\"}"
    points: 7
  - id: c3
    label: y
    when: "'\"' in pf or has(pf, '{}') or profession == \"it's\""
    points: "2 * __class__"
  - id: c4
    label: z
    when: "profession == pi"
    points: 1
"""


def _adversarial_strings():
    return ["__import__", "pwned", "system", "exec", "eval", "SystemExit", "it's", "x'", "'''",
            '"""', "a'b", 'x"y', "os", "col0 ==", "profession", "adv-grid", "__class__"]


def test_adversarial_grid_is_data():
    from cotation.engine.compiled import compile_grid
    g = load_grid("<adversarial>", ADVERSARIAL, lint=False).ir
    cg = compile_grid(g)
    src = cg.plan.source
    body = src[src.index("def count_pairs"):]
    for s in _adversarial_strings():
        if s in ("os",):
            assert " os" not in body and "os." not in body
        else:
            assert s not in src, s
    rows = [{"numero_unique": "N1", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "profession": "it's", "localisations": ("69123", "69266"),
             "__import__": "true", "np": "a'b", "col0": 'x"); __import__("os").system("id")',
             "pf": "'|{}"},
            {"numero_unique": "N2", "date_depot": dt.date(2024, 1, 2), "nb_personnes": 1,
             "profession": "x\"); __import__(\"os\")", "localisations": ("69266",),
             "__import__": "false", "np": "__import__('os').system('id')", "col0": "",
             "pf": "\""},
            {"numero_unique": "N3", "date_depot": dt.date(2024, 1, 3), "nb_personnes": 1,
             "localisations": ("69123",), "np": "not a value"}]
    table = DemandeTable.from_records(rows)
    today = dt.date(2025, 6, 30)
    expected = score_interpreted(g, table, today, explain=True)
    assert expected.score.tolist() and len(expected.rejects) == 1
    assert_same(expected, compiled_table(g, table, today, True))


@pytest.mark.parametrize("bad", [
    "id: \"x'); __import__('os')\"",
    "id: \"a\\nb\"",
    "id: \"c1 = 1\"",
])
def test_adversarial_identifiers_are_rejected(bad):
    text = ADVERSARIAL.replace("id: c4", bad, 1)
    with pytest.raises(GridError):
        load_grid("<adversarial>", text)


_EXPRESSIBLE = st.text(alphabet=st.characters(blacklist_characters="'\n\r",
                                             blacklist_categories=("Cs",)), max_size=30)


def _yaml_safe(x: str) -> bool:
    try:
        return yaml.safe_load(yaml.safe_dump(x, allow_unicode=True)) == x
    except yaml.YAMLError:
        return False


@settings(SETTINGS, max_examples=40)
@given(label=st.text(max_size=40).filter(_yaml_safe),
       literal=_EXPRESSIBLE.filter(_yaml_safe),
       values=st.lists(_EXPRESSIBLE.filter(lambda s: s.strip() and _yaml_safe(s)), min_size=1,
                       max_size=4, unique=True))
def test_grid_strings_never_change_the_source(label, literal, values):
    """Labels, titles, string literals and enumeration values are data: the kernel source
    (hence its digest and the kernel cache) does not depend on them."""
    from cotation.engine.compiled import generate

    def grid(label, literal, values):
        doc = {"format": "cotation/1",
               "grid": {"id": "g", "title": label or "t", "version": "1",
                        "effective_from": dt.date(2024, 1, 1),
                        "territory": {"epci_siren": EPCI, "name": label or "n",
                                      "communes": list(TERRITORY)}},
               "fields": {"local": {"type": "code", "values": list(values), "label": label}},
               "criteria": [{"id": "c", "label": label or "l", "legal_priority": True,
                             "section": label,
                             "when": f"profession == '{literal}' or local == '{values[0]}'",
                             "points": 1}]}
        return load_grid("<g>", yaml.safe_dump(doc, allow_unicode=True), lint=False).ir

    assert generate(grid(label, literal, values)).source == generate(grid("t", "x", ["a"])).source


def test_audit_rejects_tampered_source():
    from cotation.engine.compiled.audit import audit_source
    from cotation.engine.compiled.codegen import generate
    from cotation.engine.compiled.plan import LoweringError
    src = generate(load_grid(REPO / "tests/grids/spec_example.yaml").ir).source
    audit_source(src)
    for evil in ['__import__("os").system("id")', 'open("/etc/passwd")', 'x = "text"',
                 'import os', 'getattr(np, "load")', 'np.load', 'lambda: 0', 'f"{pf}"']:
        with pytest.raises(LoweringError):
            audit_source(src + "\n" + evil + "\n")


# ================================================================================ ranking

@settings(SETTINGS, max_examples=150)
@given(data=st.data())
def test_packed_rank_equals_reference(data):
    from cotation.engine.compiled.rank import rank_cells, score_field, value_field, dense_rank
    n = data.draw(st.integers(0, 60))
    n_cells = data.draw(st.integers(1, 4))
    cells = np.array(data.draw(st.lists(st.integers(0, n_cells - 1), min_size=n, max_size=n)), dtype=np.int64)
    n_keys = data.draw(st.integers(1, 4))
    keys, dirs, fields = [], [], []
    for q_ in range(n_keys):
        kind = data.draw(st.sampled_from(["score", "int", "dec", "wide"]))
        direction = data.draw(st.sampled_from(["asc", "desc"]))
        if kind == "score":
            vals = data.draw(st.lists(st.integers(-500, 500), min_size=n, max_size=n))
            fields.append(score_field(np.array(vals, dtype=np.int64), direction))
            keys.append(vals)
        else:
            pool = {"int": st.integers(-3, 3), "dec": st.sampled_from([-0.5, 0.0, 0.25, 1e-9, 3.5]),
                    "wide": st.integers(-2 ** 50, 2 ** 50)}[kind]
            vals = data.draw(st.lists(st.one_of(st.none(), pool), min_size=n, max_size=n))
            known = np.array([v is not None for v in vals], dtype=bool)
            arr = np.array([0.0 if v is None else float(v) for v in vals], dtype=np.float64)
            fields.append(value_field(arr, known, direction))
            keys.append(vals)
        dirs.append(direction)
    if data.draw(st.booleans()) and n_keys >= 2:   # collapse the tail like the engine does
        fields = fields[:-2] + [dense_rank(fields[-2:])]
    expected = rank_within(cells.tolist(), keys, dirs)
    assert np.array_equal(rank_cells(cells, n_cells, fields), expected)


# ================================================================================ API

@pytest.fixture(scope="module")
def lyon():
    from cotation.api import Scorer
    from cotation.data.synth import generate_demandes
    path = REPO / "grids/lyon-metropole.yaml"
    if not path.exists():
        path = REPO / "tests/grids/spec_example.yaml"
    scorer = Scorer.from_file(path)
    today = dt.date(2025, 6, 30)
    table = generate_demandes(3000, seed=11, today=today, territories=[list(scorer.communes)])
    locs = table.columns["localisations"]
    for k in range(0, len(locs), 7):   # communes listed twice: rang is the written position
        if locs[k]:
            locs[k] = locs[k][-1:] + tuple(locs[k]) if k % 2 else tuple(locs[k]) + locs[k][:1]
    return scorer, table, today


def _columns(table: DemandeTable) -> dict:
    from cotation.data.schema import COLUMNS, Kind
    out = {}
    for c in COLUMNS:
        v = table.columns[c.name]
        if c.kind is Kind.CODESET:
            v = [sorted(x) for x in v]
        elif c.kind is Kind.COMMUNES:
            v = [list(x) for x in v]
        out[c.name] = v
    for k, v in table.extras.items():
        out[k] = v
    return out


def test_api_inputs_agree(lyon):
    scorer, table, today = lyon
    ref = score_interpreted(scorer.grid, table, today, explain=True)
    res = scorer.score(table, today, explain=True)
    assert_same(ref, res.to_score_table())
    assert np.array_equal(res.scores, ref.score / 100) and np.array_equal(res.ranks, ref.rank)
    cols = _columns(table)
    inputs = {"dict of lists": cols,
              "list of dicts": [table.row(i) for i in range(len(table))]}
    np_cols = dict(cols)
    np_cols["date_depot"] = np.array(cols["date_depot"], dtype="datetime64[D]")
    np_cols["ressources_mensuelles"] = np.array([np.nan if v is None else v for v in cols["ressources_mensuelles"]])
    np_cols["situation_logement"] = np.array([v or "" for v in cols["situation_logement"]])
    inputs["dict of numpy"] = np_cols
    try:
        import pyarrow as pa
        tab = pa.table(cols)
        inputs["arrow"] = tab
        try:
            import polars as pl
            inputs["polars"] = pl.from_arrow(tab)
        except ImportError:
            pass
        try:
            inputs["pandas"] = tab.to_pandas()
        except ImportError:
            pass
    except ImportError:
        pass
    for name, data in inputs.items():
        r = scorer.score(data, today, explain=True)
        for f in ("rows", "score_hundredths", "score_valide_hundredths", "ranks", "met",
                  "set_aside", "met_valide", "set_aside_valide", "points"):
            assert np.array_equal(getattr(r, f), getattr(res, f)), (name, f)
        assert list(r.numero_unique) == list(res.numero_unique), name


def test_api_result_and_explain(lyon):
    scorer, table, today = lyon
    res = scorer.score(table, today, explain=True)
    recs = res.to_records(sort=True)
    assert len(recs) == len(res) and recs[0]["rank"] == 1
    nu = res.numero_unique[0]
    lines = scorer.explain(res, nu)
    from cotation.engine.explain import criterion_lines
    from cotation.engine.interpreter import Interpreter
    pairs = Interpreter(scorer.grid).score_row(int(res.rows[0]), table.row(int(res.rows[0])), today)
    for got, pair in zip(lines, pairs):
        want = {ln.id: ln.status for ln in criterion_lines(scorer.grid, pair)}
        assert {c["id"]: c["status"] for c in got["criteria"]} == want
        assert got["score"] == pair.score / 100
    counts = res.criteria_counts()
    assert sum(counts.values()) == int(sum(bin(int(w)).count("1") for w in res.met[:, 0]))


def test_api_concurrent_calls(lyon):
    scorer, table, today = lyon
    batch = scorer.prepare(table)
    ref = scorer.score(batch, today)
    out, errors = [], []

    def work():
        try:
            for _ in range(3):
                r = scorer.score(batch, today)
                out.append(np.array_equal(r.score_hundredths, ref.score_hundredths)
                           and np.array_equal(r.ranks, ref.ranks))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(out) and len(out) == 12


def test_shortlist_matches_brute_force(lyon):
    from cotation.data.ceilings import ceiling, household_category, zone_of_commune
    scorer, table, today = lyon
    index = scorer.index(table, today)
    res = index.result
    for dwelling in ({"commune": scorer.communes[0], "typologie": "T3", "financement": "PLUS"},
                     {"commune": scorer.communes[-1], "typologie": "T2"},
                     {"commune": scorer.communes[0], "typologie": "T1", "financement": "PLAI"},
                     {"commune": scorer.communes[0], "typologie": "T4", "financement": "PLS"}):
        got = index.shortlist(dwelling, k=15)
        cands = []
        for p in range(len(res)):
            if res.communes[p] != dwelling["commune"]:
                continue
            row = table.row(int(res.rows[p]))
            if dwelling["typologie"] not in row["typologies"]:
                continue
            if "financement" in dwelling:
                if row["revenu_fiscal_reference"] is None or row["nb_personnes"] is None:
                    continue
                ages = []
                for f in ("date_naissance", "date_naissance_conjoint"):
                    b = row[f]
                    ages.append(None if b is None else
                                (12 * (today.year - b.year) + today.month - b.month - (today.day < b.day)) // 12)
                cat = household_category(row["nb_personnes"], row["nb_enfants"], row["nb_adultes"],
                                         ages=tuple(ages),
                                         handicap=(row["nb_personnes_handicap"] or 0) >= 1)
                limit = ceiling(today.year, dwelling["financement"],
                                zone_of_commune(dwelling["commune"]), cat)
                if row["revenu_fiscal_reference"] > limit:
                    continue
            cands.append((int(res.ranks[p]), row["numero_unique"]))
        cands.sort()
        assert [(g["rank"], g["numero_unique"]) for g in got] == cands[:15]
    with pytest.raises(ValueError):
        index.shortlist({"commune": "75056", "typologie": "T3"})
    with pytest.raises(ValueError):
        index.shortlist({"commune": scorer.communes[0], "typologie": "T9"})


def test_household_categories_vectorised():
    from cotation.data.ceilings import household_categories, household_category
    rng = random.Random(5)
    today = dt.date(2025, 6, 30)
    rows = []
    for _ in range(300):
        rows.append((rng.randint(1, 8), rng.choice([None, 0, 1, 2, 3]), rng.choice([None, 1, 2]),
                     rng.choice([None, 0, 1]), rng.choice([None, dt.date(2000, 7, 1), dt.date(1970, 1, 1)]),
                     rng.choice([None, dt.date(2001, 6, 30), dt.date(1990, 1, 1)])))
    f = lambda xs: np.array([np.nan if x is None else x for x in xs], dtype=float)  # noqa: E731
    o = lambda xs: np.array([0 if x is None else x.toordinal() for x in xs], dtype=np.int64)  # noqa: E731
    cols = list(zip(*rows))
    got = household_categories(f(cols[0]), f(cols[1]), f(cols[2]), f(cols[3]), o(cols[4]), o(cols[5]), today)

    def age(b):
        return None if b is None else (12 * (today.year - b.year) + today.month - b.month - (today.day < b.day)) // 12
    for r, g in zip(rows, got):
        assert g == household_category(r[0], r[1], r[2], ages=(age(r[4]), age(r[5])), handicap=(r[3] or 0) >= 1)


# ================================================================================ cache

def test_cache_files_are_written_once(tmp_path, monkeypatch):
    from cotation.engine.compiled import cache
    from cotation.engine.compiled.codegen import generate
    monkeypatch.setenv("COTATION_CACHE_DIR", str(tmp_path))
    src = generate(load_grid(REPO / "tests/grids/spec_example.yaml").ir).source
    d = cache.cache_dir()
    assert d.parent == tmp_path and "nb" in d.name and "py" in d.name
    path = d / f"k_{cache.digest(src)[:40]}.py"
    cache._write_once(path, src)
    stamp = path.stat().st_mtime_ns
    cache._write_once(path, src)
    assert path.stat().st_mtime_ns == stamp and path.read_text() == src
    path.write_text("damaged")
    cache._write_once(path, src)
    assert path.read_text() == src
    assert not [p for p in d.iterdir() if p.name.startswith(".k_")]


def test_engine_dispatch_and_progress():
    from cotation.engine import score
    grid = load_grid(REPO / "tests/grids/spec_example.yaml").ir
    from cotation.data.synth import generate_demandes
    today = dt.date(2025, 6, 30)
    table = generate_demandes(500, seed=2, today=today, territories=[list(grid.communes)])
    seen = []
    st_ = score(grid, table, today, engine="compiled", progress=lambda d, n: seen.append((d, n)))
    assert seen and seen[-1] == (500, 500)
    assert_same(score(grid, table, today, engine="interpreter"), st_)


def test_months_between_kernel_helper():
    """The kernels' calendar arithmetic equals the interpreter's on many date pairs."""
    from cotation.engine.compiled import compile_grid
    from cotation.grid.evaluate import months_between
    cg = compile_grid(load_grid(REPO / "tests/grids/spec_example.yaml").ir)
    mod = cg.kernels()
    rng = random.Random(3)
    for _ in range(400):
        a = dt.date.fromordinal(rng.randint(1, dt.date(9999, 12, 31).toordinal()))
        b = dt.date.fromordinal(rng.randint(1, dt.date(9999, 12, 31).toordinal()))
        assert mod._months(a.toordinal(), b.toordinal()) == months_between(a, b)
        assert mod._ymd(a.toordinal()) == (a.year, a.month, a.day)

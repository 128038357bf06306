"""Seeded synthetic generator of realistic canonical demandes and attributions.

Used by tests, benchmarks and the bundled examples. Every default is a product calibration
anchored on the public figures of ``domain.md`` §3 (generator defaults in §3.6) and the income
ceilings of §4; the anchors are cited next to each default in :class:`SynthParams`.

Reproducibility: one ``numpy.random.Generator(PCG64(seed))`` per call, draws in a fixed order,
no wall clock and no global state, so the same arguments give the same table and the same CSV
bytes. Amounts are rounded to cents and dates to days, so last-bit differences of platform math
libraries cannot realistically show; numpy does not promise identical streams across its own
versions, so a numpy upgrade may change the files (regenerate, never hand-edit).
Columns are drawn as whole numpy arrays and only turned into Python values at the end, which
keeps 1,000,000 demandes within a few seconds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

import numpy as np

from .schema import COLUMNS, COLUMNS_BY_NAME, ENUMS, FINANCEMENTS, TYPOLOGIES
from .table import (
    AttributionTable, DemandeTable, ValueParseError, parse_cell, write_attributions_csv,
    write_demandes_csv,
)

__all__ = ["SynthParams", "generate_demandes", "generate_attributions", "register"]

SITUATIONS = ENUMS["situation_logement"]
MOTIFS = ENUMS["motifs"]
SITUATIONS_PRO = ENUMS["situation_pro"]
SITUATIONS_FAMILIALES = ENUMS["situation_familiale"]
HOUSEHOLD_TYPES = ("seul", "monoparental", "couple", "autre")

# Income ceilings 2025, "other regions" zone, categories 1..6 then the increment per extra
# person (domain.md §4.2 PLUS, §4.3 PLAI; PLAI cat. 5, 6 and increment are *derived* cells).
_PLAI_2025 = (12759, 18591, 22356, 24875, 29106, 32801)
_PLAI_2025_PLUS1 = 3657
_PLUS_2025 = (23201, 30984, 37259, 44982, 52915, 59636)
_PLUS_2025_PLUS1 = 6652


def _d(**kw: float) -> dict[str, float]:
    return dict(kw)


@dataclass(frozen=True)
class SynthParams:
    """Calibration of the generator; every default cites its anchor in ``domain.md``.

    Distributions are ``{code: weight}`` mappings (weights are normalised). Change one value
    with ``dataclasses.replace(SynthParams(), part_mutation=0.45)``.
    """

    # --- territory and localisations
    territory_weights: tuple[float, ...] | None = None  # None: equal weights
    # The first commune of a territory is its centre; commune j gets weight 1/(j+1)**zipf.
    commune_zipf: float = 0.8
    nb_localisations: Mapping[int, float] = field(
        default_factory=lambda: {1: 0.35, 2: 0.25, 3: 0.20, 4: 0.20})
    part_localisation_hors_territoire: float = 0.05   # guess: an occasional wider search
    communes_exterieures: tuple[str, ...] = ()        # extra "elsewhere" communes (INSEE)

    # --- household (§3.2: 45 % single, 24.5 % single parents, 28.4 % couples)
    part_mutation: float = 0.32                       # §3.1: 32 % of the stock mid 2024
    menages: Mapping[str, float] = field(
        default_factory=lambda: _d(seul=0.45, monoparental=0.25, couple=0.28, autre=0.02))
    # §3.6: single parent = 1 adult + 1–3 children; couple = 2 adults + 0–4 children.
    enfants_monoparental: tuple[float, ...] = (0.0, 0.50, 0.32, 0.18)
    enfants_couple: tuple[float, ...] = (0.35, 0.25, 0.22, 0.12, 0.06)
    part_handicap: Mapping[bool, float] = field(   # mutation → share with ≥ 1 disabled person;
        default_factory=lambda: {False: 0.06, True: 0.10})  # guess (§3.2: santé/handicap 15 %)

    # --- typologies sought (§3.2, §3.6), counted once per demande, split over its set
    typologies: Mapping[str, float] = field(default_factory=lambda: _d(
        chambre=0.01, T1=0.17, T2=0.30, T3=0.29, T4=0.17, T5=0.05, T6P=0.01))
    part_deux_typologies: float = 0.45                # guess: many ask two adjacent sizes

    # --- income (§3.2 and §3.6: ~75 % ≤ PLAI, ~20 % PLAI–PLUS, ~5 % above PLUS, §4 ceilings)
    part_sous_plai: float = 0.75
    part_sous_plus: float = 0.95
    part_sans_ressources: float = 0.02                # guess: declared zero resources
    # RFR / (12 × monthly resources): most benefits (RSA, family allowances) are not taxable,
    # there is a 10 % allowance, and the RFR is N-2 income; lognormal around this (guess).
    rfr_ratio_median: float = 0.85
    rfr_ratio_sigma: float = 0.15

    # --- ancienneté (§3.6: ~50 % < 12 months, tail to ~10 years; renewal 0.49–0.60, §3.1)
    # Stock model: a demande survives each anniversary with P(renewal) × (1 − attribution
    # rate), so whole years of ancienneté are geometric; 0.58 × 0.86 ≈ 0.50 → median 12 months.
    proba_renouvellement: float = 0.58
    taux_attribution: float = 0.14                    # §3.6: attributions ≈ 0.14 × stock
    anciennete_max_annees: int = 15

    # --- DALO and priority (§3.2: DALO active ≈ 2.5 %; priority publics guess 5 %)
    part_dalo_actif: float = 0.025
    part_dalo_caduc: float = 0.010                    # guess
    part_dalo_actif_reloge: float = 0.003             # guess
    part_prioritaire: float = 0.05

    # --- refusals of adapted offers (guess: mostly 0, some 1–2, last one within 24 months)
    part_refus: float = 0.10
    part_deux_refus: float = 0.25                     # among demandes with a refusal

    # --- validated criteria: ids are grid-specific, so none unless a pool is given
    criteres_valides_pool: tuple[str, ...] = ()
    proba_critere_valide: float = 0.3

    # --- extra local field used by example grids (grid-format.md `fields`)
    travailleur_essentiel: bool = True
    part_travailleur_essentiel_vide: float = 0.15

    # --- missing values (MCAR, on top of structural blanks) so three-valued logic is exercised
    manquants: Mapping[str, float] = field(default_factory=lambda: {
        "situation_logement": 0.01, "motifs": 0.01, "nb_adultes": 0.005, "nb_enfants": 0.005,
        "nb_personnes_handicap": 0.03, "nb_personnes_logement_actuel": 0.03,
        "date_naissance": 0.005, "date_naissance_conjoint": 0.02, "situation_pro": 0.02,
        "profession": 0.10, "revenu_fiscal_reference": 0.06, "ressources_mensuelles": 0.05,
        "loyer_actuel": 0.05, "aide_logement": 0.08, "surface_actuelle": 0.06,
        "typologie_actuelle": 0.03, "dalo_statut": 0.01, "prioritaire": 0.02,
    })

    # --- attributions (history of leases signed)
    attribution_part_mutation: float = 0.28           # §3.1: 28 % to social tenants (2021)
    # §3.4: right-skewed waits; IDF mean 33 / median 22.7 months → mean ≈ 1.45 × median.
    # §3.4: housed households waited 1 year 3 months (2020) to 520 days (2022) nationally;
    # median 14 months gives a mean of about 20 months.
    attente_mediane_mois: float = 14.0
    attente_ratio_moyenne_mediane: float = 1.45
    # T1 and T5+ wait longer (§3.2: 40 % ask a T1, 6 % obtain one; large units are rare).
    attente_facteur_typologie: Mapping[str, float] = field(default_factory=lambda: _d(
        chambre=1.2, T1=1.35, T2=1.05, T3=0.9, T4=0.95, T5=1.3, T6P=1.6))
    attente_facteur_centre: float = 1.25              # the centre commune is the tensest
    attente_sigma_commune: float = 0.15
    attente_facteur_mutation: float = 0.9             # §3.4: Hauts-de-Seine mutations shorter
    # Lettings by size follow the stock (§3.2 RPLS 1 room 7.4 %, 2: 20.2, 3: 37, 4: 27.8, 5+: 7.5).
    attribution_typologies: Mapping[str, float] = field(default_factory=lambda: _d(
        chambre=0.005, T1=0.08, T2=0.24, T3=0.36, T4=0.24, T5=0.06, T6P=0.015))
    financements: Mapping[str, float] = field(   # guess: PLUS is the bulk of the stock
        default_factory=lambda: _d(PLAI=0.24, PLUS=0.66, PLS=0.10))
    part_qpv: float = 0.31                            # §1: 31 % of social dwellings in QPV
    # Contingent codes recorded at radiation (§1, arrêté du 17 sept. 2012); mix is a guess
    # consistent with flux.md caps (État ≤ 30 %, collectivités ≤ 20 %).
    reservataires: Mapping[str, float] = field(default_factory=lambda: _d(
        PPRIOR=0.25, PFONCT=0.03, COLTER=0.17, COLACT=0.20, AUTRES=0.02, AUCUN=0.33))

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            shares = v.values() if isinstance(v, Mapping) else (v,)
            if f.name.startswith(("part_", "proba_", "taux_")) and not all(
                    0.0 <= x <= 1.0 for x in shares):
                raise ValueError(f"SynthParams.{f.name} must be within [0, 1], got {v}")
        if not self.part_sous_plai < self.part_sous_plus < 1.0:
            raise ValueError("SynthParams needs part_sous_plai < part_sous_plus < 1")
        if self.part_sans_ressources >= self.part_sous_plai:
            raise ValueError("SynthParams.part_sans_ressources must be below part_sous_plai")
        if self.part_dalo_actif > self.part_prioritaire:
            raise ValueError("every DALO-active demande is prioritaire: "
                             "part_dalo_actif must not exceed part_prioritaire")
        for name, rate in self.manquants.items():
            if name not in COLUMNS_BY_NAME or COLUMNS_BY_NAME[name].required:
                raise ValueError(f"SynthParams.manquants: '{name}' is not an optional canonical column")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"SynthParams.manquants['{name}'] must be within [0, 1]")
        for name, codes in (("menages", HOUSEHOLD_TYPES), ("typologies", TYPOLOGIES),
                            ("attribution_typologies", TYPOLOGIES), ("financements", FINANCEMENTS),
                            ("reservataires", None), ("nb_localisations", None)):
            _weights(getattr(self, name), name, codes)
        if any(not isinstance(k, int) or k < 1 for k in self.nb_localisations):
            raise ValueError("SynthParams.nb_localisations: keys are counts >= 1")
        for t in TYPOLOGIES:
            if self.attente_facteur_typologie.get(t, 1.0) <= 0:
                raise ValueError("SynthParams.attente_facteur_typologie: factors must be > 0")
        for name in ("enfants_monoparental", "enfants_couple"):
            w = np.asarray(getattr(self, name), float)
            if w.ndim != 1 or not len(w) or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"SynthParams.{name}: weights by number of children, >= 0")
        if len(set(self.criteres_valides_pool)) != len(self.criteres_valides_pool):
            raise ValueError("SynthParams.criteres_valides_pool has duplicated ids")


# ----------------------------------------------------------------------------- small helpers

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAYS_PER_YEAR = 365.25
_DAYS_PER_MONTH = 30.4375


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _weights(mapping: Mapping[Any, float], name: str, keys: Sequence[Any] | None = None) -> np.ndarray:
    """Normalised weights of ``keys`` (all codes of ``mapping`` when None)."""
    keys = list(mapping) if keys is None else keys
    unknown = set(mapping) - set(keys)
    if unknown:
        raise ValueError(f"SynthParams.{name}: unknown code(s) {sorted(map(str, unknown))}")
    w = np.array([float(mapping.get(k, 0.0)) for k in keys])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"SynthParams.{name}: weights must be >= 0 with a positive sum")
    return w / w.sum()


def _cdf(p: np.ndarray) -> np.ndarray:
    """Cumulative table for ``searchsorted(side='right')``; last bin closed at 1."""
    p = np.asarray(p, dtype=float)
    c = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    c[..., -1] = 1.0
    return c


def _pick(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Categorical draw from uniforms ``u`` with one probability vector."""
    return np.searchsorted(_cdf(p), u, side="right")


def _pick_by(u: np.ndarray, keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Categorical draw where row ``i`` uses the probability row ``table[keys[i]]``."""
    cdf = _cdf(table)
    out = np.zeros(len(u), dtype=np.int64)
    if len(u) == 0:
        return out
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    cuts = np.flatnonzero(np.diff(sk)) + 1
    for s, e in zip(np.r_[0, cuts], np.r_[cuts, len(sk)]):
        idx = order[s:e]
        out[idx] = np.searchsorted(cdf[sk[s]], u[idx], side="right")
    return out


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Numerical Recipes erfc, relative error < 1.2e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    half_erfc = 0.5 * t * np.exp(poly)
    return np.where(x >= 0, 1.0 - half_erfc, half_erfc)


def _to_list(values: np.ndarray, missing: np.ndarray | None = None) -> list:
    """numpy array → list of Python values, ``None`` where ``missing``."""
    if missing is None or not missing.any():
        return values.tolist()
    obj = values.astype(object)
    obj[missing] = None
    return obj.tolist()


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> list:
    """Days since 1970-01-01 → list of ``datetime.date`` (None where ``missing``)."""
    d = days.astype("datetime64[D]")
    if missing is not None and missing.any():
        d = d.copy()
        d[missing] = np.datetime64("NaT")
    return d.astype(object).tolist()


def _codes(index: np.ndarray, labels: Sequence[Any], missing: np.ndarray | None = None) -> list:
    lab = np.empty(len(labels) + 1, dtype=object)
    lab[:-1] = list(labels)
    lab[-1] = None
    idx = np.where(missing, len(labels), index) if missing is not None else index
    return lab[idx].tolist()


def _decode_unique(codes: np.ndarray, build) -> list:
    """Map each row code (1-D ints or 2-D rows) to a shared object built once per distinct code."""
    if len(codes) == 0:
        return []
    if codes.ndim == 1:
        uniq, inv = np.unique(codes, return_inverse=True)
    else:
        uniq, inv = np.unique(codes, axis=0, return_inverse=True)
    objs = np.empty(len(uniq), dtype=object)
    for i, u in enumerate(uniq):
        objs[i] = build(u)
    return objs[inv.reshape(-1)].tolist()


def _bitsets(masks: np.ndarray, labels: Sequence[str]) -> list:
    """Bit masks over ``labels`` → frozensets (shared per distinct mask)."""
    def build(m: Any) -> frozenset:
        m = int(m)
        return frozenset(lab for j, lab in enumerate(labels) if m >> j & 1)
    return _decode_unique(masks, build)


def _localisations(loc: np.ndarray, communes: Sequence[str]) -> list:
    """Rows of commune indices (-1 padded, in preference order) → shared tuples of codes."""
    base = len(communes) + 1
    if base ** loc.shape[1] < 2 ** 62:  # one int64 key per row: much faster than unique rows
        weights = base ** np.arange(loc.shape[1], dtype=np.int64)
        keys = ((loc + 1) * weights).sum(axis=1)

        def build(key: Any) -> tuple:
            key, out = int(key), []
            while key:
                key, digit = divmod(key, base)
                if digit:
                    out.append(communes[digit - 1])
            return tuple(out)
        return _decode_unique(keys, build)
    return _decode_unique(loc, lambda row: tuple(communes[i] for i in row.tolist() if i >= 0))


def _years_before(day: dt.date, k: int) -> int:
    """Day number of the same date ``k`` years earlier (29 February → 28 February)."""
    try:
        d = day.replace(year=day.year - k)
    except ValueError:
        d = day.replace(year=day.year - k, day=28)
    return d.toordinal() - _EPOCH_ORDINAL


def _months(days_epoch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(year, month) of day numbers."""
    m = days_epoch.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return 1970 + m // 12, m % 12 + 1


# ----------------------------------------------------------------------------- territories

_COMMUNE = COLUMNS_BY_NAME["commune_residence"]


def _departement(code: str) -> str:
    """Département of an INSEE commune code, as 3 characters (069, 02A, 974)."""
    return code[:3] if code.startswith("97") else "0" + code[:2]


@dataclass(frozen=True)
class _Territories:
    """Validated territories: a commune universe with per-territory index arrays."""

    communes: tuple[str, ...]                 # universe: territories first, then exterior
    members: tuple[np.ndarray, ...]           # universe indices per territory, centre first
    commune_weights: tuple[np.ndarray, ...]   # normalised Zipf weights per territory
    territory_cdf: np.ndarray
    territory_of: np.ndarray                  # universe index → territory (-1: exterior)
    departements: tuple[str, ...]             # distinct départements (3 chars)
    dept_of: np.ndarray                       # universe index → index in departements

    @classmethod
    def build(cls, territories: Sequence[Sequence[str]], p: SynthParams) -> "_Territories":
        if isinstance(territories, str) or not territories:
            raise ValueError("territories: give at least one territory (a sequence of INSEE codes)")
        universe: list[str] = []
        owner: dict[str, int] = {}
        members = []
        for t, communes in enumerate(territories):
            if isinstance(communes, str):
                raise ValueError(f"territory {t + 1}: expected a sequence of INSEE codes, got a string")
            codes = list(dict.fromkeys(c.strip() for c in communes))
            if not codes:
                raise ValueError(f"territory {t + 1} has no commune")
            idx = []
            for c in codes:
                try:
                    parse_cell(_COMMUNE, c)
                except ValueParseError:
                    raise ValueError(f"territory {t + 1}: '{c}' is not an INSEE commune code") from None
                if c in owner:
                    raise ValueError(f"commune {c} is listed in territories {owner[c] + 1} and {t + 1}")
                owner[c] = t
                idx.append(len(universe))
                universe.append(c)
            members.append(np.array(idx, dtype=np.int64))
        for c in dict.fromkeys(p.communes_exterieures):
            try:
                parse_cell(_COMMUNE, c)
            except ValueParseError:
                raise ValueError(f"communes_exterieures: '{c}' is not an INSEE commune code") from None
            if c not in owner:
                universe.append(c)
        k = len(territories)
        tw = np.ones(k) if p.territory_weights is None else np.asarray(p.territory_weights, float)
        if tw.shape != (k,) or (tw < 0).any() or tw.sum() <= 0:
            raise ValueError(f"territory_weights: expected {k} non-negative weights with a positive sum")
        weights = []
        for m in members:
            w = 1.0 / np.arange(1, len(m) + 1) ** p.commune_zipf
            weights.append(w / w.sum())
        territory_of = np.full(len(universe), -1, dtype=np.int64)
        for t, m in enumerate(members):
            territory_of[m] = t
        depts = [_departement(c) for c in universe]
        dept_names = tuple(sorted(set(depts)))
        dept_of = np.array([dept_names.index(d) for d in depts], dtype=np.int64)
        return cls(tuple(universe), tuple(members), tuple(weights), _cdf(tw), territory_of,
                   dept_names, dept_of)

    def outside(self, t: int) -> np.ndarray:
        """Universe indices not in territory ``t`` (other territories and exterior)."""
        return np.flatnonzero(self.territory_of != t)

    def pick_commune(self, u: np.ndarray, terr: np.ndarray) -> np.ndarray:
        """One commune of each row's territory, centre-weighted."""
        out = np.zeros(len(u), dtype=np.int64)
        for t, (m, w) in enumerate(zip(self.members, self.commune_weights)):
            rows = np.flatnonzero(terr == t)
            out[rows] = m[_pick(u[rows], w)]
        return out

    def pick_outside(self, u: np.ndarray, terr: np.ndarray, others_only: bool = False) -> np.ndarray:
        """A commune outside each row's territory, uniform; -1 when there is none."""
        out = np.full(len(u), -1, dtype=np.int64)
        for t in range(len(self.members)):
            pool = self.outside(t)
            if others_only:
                pool = pool[self.territory_of[pool] >= 0]
            if len(pool):
                rows = np.flatnonzero(terr == t)
                out[rows] = pool[np.minimum((u[rows] * len(pool)).astype(np.int64), len(pool) - 1)]
        return out


# ----------------------------------------------------------------------------- numéro unique

_CLE = np.frombuffer(b"ABCDEFGHJKLMNPRSTUVWXYZ", dtype=np.uint8)  # 23 letters, no I, O, Q
_GUICHETS_PAR_DEPARTEMENT = 10


def _numeros(rng: np.random.Generator, dept: np.ndarray, depts: Sequence[str], depot: np.ndarray,
             parity: int) -> list[str]:
    """18-character numéros uniques ``DDD MM YY GGGGG K NNNNN``.

    Département, month and year of first deposit, an enregistrement office (guichet), a check
    letter and an order number counting deposits of that office and month (domain.md §1: 18
    characters, month and year of registration inside; the real field split is uncertain, so
    the id stays opaque). ``parity`` 1 numbers odd, 2 even, so two generated tables never share
    an id.
    """
    n = len(dept)
    # Distinct office codes per département; (département, month, office, order) is unique.
    guichets = np.stack([rng.permutation(90000)[:_GUICHETS_PAR_DEPARTEMENT] + 10000
                         for _ in depts])
    g_idx = rng.integers(0, _GUICHETS_PAR_DEPARTEMENT, n)
    tie = rng.random(n)
    year, month = _months(depot)
    ym = year * 12 + month
    group = (dept * 100000 + (ym - ym.min() if n else ym)) * _GUICHETS_PAR_DEPARTEMENT + g_idx
    order = np.lexsort((tie, depot, group))
    sg = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sg)) + 1] if n else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[starts, n])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, lengths)
    seq = 2 * rank + parity
    if n and seq.max() > 99999:
        raise ValueError("too many demandes per guichet and month for 5-digit order numbers; "
                         "spread them over more territories or fewer rows")
    g = guichets[dept, g_idx]
    yy = year % 100
    # Check letter over the numeric fields (Corsica's 2A/2B read as 21/22 for it).
    dnum = np.array([int(d.replace("A", "1").replace("B", "2")) for d in depts], dtype=np.int64)
    key = (dnum[dept] * 7 + month * 11 + yy * 13 + g * 17 + seq * 19) % 23
    buf = np.empty((n, 18), dtype=np.uint8)
    dch = np.array([list(d.encode()) for d in depts], dtype=np.uint8).reshape(-1, 3)
    buf[:, 0:3] = dch[dept]
    for col, (val, width) in zip((3, 5, 7, 13), ((month, 2), (yy, 2), (g, 5), (seq, 5))):
        for j in range(width):
            buf[:, col + width - 1 - j] = 48 + (val // 10 ** j) % 10
    buf[:, 12] = _CLE[key]
    return buf.view("S18").ravel().astype("U18").tolist()


# ----------------------------------------------------------------------------- typologies


def _household_sizes(p: SynthParams) -> np.ndarray:
    """P(nb_personnes = 1..7+) implied by the household parameters (index 0 = 1 person)."""
    w = _weights(p.menages, "menages", HOUSEHOLD_TYPES)
    ps = np.zeros(7)
    ps[0] += w[0]
    mono = np.asarray(p.enfants_monoparental, float) / np.sum(p.enfants_monoparental)
    couple = np.asarray(p.enfants_couple, float) / np.sum(p.enfants_couple)
    for c, q in enumerate(mono):
        ps[min(1 + c, 7) - 1] += w[1] * q
    for c, q in enumerate(couple):
        ps[min(2 + c, 7) - 1] += w[2] * q
    for a, qa in ((2, _AUTRE_ADULTES[0]), (3, _AUTRE_ADULTES[1])):
        for c, qc in enumerate(_AUTRE_ENFANTS):
            ps[min(a + c, 7) - 1] += w[3] * qa * qc
    return ps


# Compatibility of household size (rows 1..7+) with typologies (chambre..T6P): which sizes a
# household of that size plausibly asks (common sense of occupancy norms; guess).
_COMPATIBLE = np.array([
    # chambre T1   T2   T3   T4   T5   T6P
    [1.0, 1.0, 1.0, 0.05, 0.0, 0.0, 0.0],   # 1 person
    [0.0, 0.3, 1.0, 1.0, 0.05, 0.0, 0.0],   # 2
    [0.0, 0.0, 0.5, 1.0, 0.6, 0.0, 0.0],    # 3
    [0.0, 0.0, 0.0, 1.0, 1.0, 0.2, 0.0],    # 4
    [0.0, 0.0, 0.0, 0.3, 1.0, 0.8, 0.1],    # 5
    [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.5],    # 6
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0],    # 7+
])


def _typology_tables(p: SynthParams) -> tuple[np.ndarray, np.ndarray]:
    """(P(first typology | size), P(neighbour is the upper one | size, first)).

    Fitted by iterative proportional fitting so that, counting each demande once split over
    its 1–2 typologies, the mix matches ``p.typologies`` (§3.6) as closely as household sizes
    allow under ``_COMPATIBLE``.
    """
    target = _weights(p.typologies, "typologies", TYPOLOGIES)
    sizes = _household_sizes(p)
    q = p.part_deux_typologies
    k = _COMPATIBLE
    w = np.ones(7)
    for _ in range(2000):
        first = k * w
        first = first / first.sum(axis=1, keepdims=True)
        up = np.zeros((7, 7))
        down = np.zeros((7, 7))
        for t in range(7):
            if t + 1 < 7:
                up[:, t] = k[:, t + 1] * w[t + 1]
            if t > 0:
                down[:, t] = k[:, t - 1] * w[t - 1]
        tot = up + down
        has = tot > 0
        p_up = np.divide(up, tot, out=np.zeros_like(up), where=has)
        frac = np.zeros(7)
        for s in range(7):
            for t in range(7):
                m = sizes[s] * first[s, t]
                if has[s, t]:
                    frac[t] += m * (1 - q / 2)
                    if t + 1 < 7:
                        frac[t + 1] += m * q / 2 * p_up[s, t]
                    if t > 0:
                        frac[t - 1] += m * q / 2 * (1 - p_up[s, t])
                else:
                    frac[t] += m
        ratio = np.divide(target, frac, out=np.ones(7), where=frac > 0)
        if np.abs(ratio - 1).max() < 1e-10:
            break
        w = w * np.sqrt(ratio)
        w = np.maximum(w / w.max(), 1e-12)  # bounded, and every size row stays non-empty
    p_up = np.where(has, p_up, -1.0)  # -1: no compatible neighbour
    return first, p_up


# ----------------------------------------------------------------------------- situations

_AUTRE_ADULTES = (0.7, 0.3)           # "other" households: 2 or 3 adults (guess)
_AUTRE_ENFANTS = (0.6, 0.25, 0.15)

# Current housing of primo-demandeurs (guess consistent with §3.2: hébergés and precarious
# housing ≈ a third, "rent too high" from private tenants). A small locataire_hlm weight keeps
# the source inconsistency "HLM tenant not flagged mutation" in the data.
_SITUATION_PRIMO = _d(
    locataire_prive=0.40, heberge_parents_enfants=0.20, heberge_particulier=0.107,
    structure_hebergement=0.05, residence_sociale_foyer=0.04, logement_temporaire=0.03,
    loge_titre_gratuit=0.025, proprietaire=0.025, residence_etudiante=0.02,
    sous_locataire_temporaire=0.02, sans_abri=0.02, hotel=0.012, logement_fonction=0.01,
    occupant_sans_titre=0.01, squat=0.008, camping_caravaning=0.006, habitat_mobile=0.005,
    cdef_centre_maternel=0.004, rhvs=0.003, locataire_hlm=0.005)
# Mutation = already a social tenant (F2; SNE modeleLogement=HLM), so mostly locataire_hlm.
_SITUATION_MUTATION = _d(locataire_hlm=0.97, logement_temporaire=0.01,
                         sous_locataire_temporaire=0.01, residence_sociale_foyer=0.01)
# Household-type multipliers (seul, monoparental, couple, autre): centres maternels take
# single parents only, student residences single people only.
_SITUATION_MENAGE = {
    "cdef_centre_maternel": (0, 6, 0, 0), "residence_etudiante": (2, 0, 0, 0),
    "rhvs": (1.5, 0.5, 0.3, 0.3), "residence_sociale_foyer": (1.5, 0.5, 0.3, 0.3),
    "heberge_parents_enfants": (1.3, 0.9, 0.7, 1), "hotel": (1, 1.5, 1, 1),
    "sans_abri": (1.8, 0.4, 0.5, 1),
}
_PRECAIRES = ("sans_abri", "squat", "hotel", "structure_hebergement", "cdef_centre_maternel",
              "camping_caravaning", "habitat_mobile", "occupant_sans_titre", "heberge_particulier",
              "logement_temporaire", "sous_locataire_temporaire", "rhvs", "residence_sociale_foyer")
_HEBERGES = ("heberge_parents_enfants", "heberge_particulier")
_COLLECTIFS = ("residence_sociale_foyer", "rhvs", "residence_etudiante", "structure_hebergement",
               "cdef_centre_maternel", "hotel")
_SANS_LOGEMENT_PROPRE = ("sans_abri", "squat", "camping_caravaning", "habitat_mobile")

# Main motif by current housing, primo-demandeurs (§3.2: précarité/hébergé 32 %, trop cher 14 %).
_MOTIF_PRECAIRE = _d(sans_logement=0.80, violences_familiales=0.05, divorce_separation=0.04,
                     expulsion=0.03, non_decent=0.03, autre=0.05)
_MOTIF_PRIMO = {
    "heberge_parents_enfants": _d(decohabitation=0.45, sans_logement=0.40, futur_couple=0.05,
                                  rapprochement_travail=0.05, autre=0.05),
    "locataire_prive": _d(trop_cher=0.33, trop_petit=0.18, reprise_vente=0.07, non_decent=0.06,
                          divorce_separation=0.05, rapprochement_travail=0.05, expulsion=0.04,
                          insalubre_dangereux=0.03, rapprochement_famille=0.03, sante=0.03,
                          handicap=0.03, voisinage=0.03, violences_familiales=0.02,
                          trop_grand=0.01, regroupement_familial=0.01, autre=0.03),
    "proprietaire": _d(accedant_difficulte=0.30, divorce_separation=0.25, handicap=0.10,
                       sante=0.08, trop_grand=0.07, trop_cher=0.05, rapprochement_famille=0.05,
                       non_decent=0.04, autre=0.06),
    "residence_etudiante": _d(sans_logement=0.30, rapprochement_travail=0.30, trop_petit=0.20,
                              autre=0.20),
    "loge_titre_gratuit": _d(sans_logement=0.25, reprise_vente=0.20, trop_petit=0.10,
                             mutation_professionnelle=0.15, rapprochement_travail=0.10,
                             divorce_separation=0.05, autre=0.15),
}
_MOTIF_PRIMO["logement_fonction"] = _MOTIF_PRIMO["loge_titre_gratuit"]
# Main motif of mutations (§3.2/§3.6: trop petit 27 %, santé/handicap 15 %, voisinage 12 %).
_MOTIF_MUTATION = _d(trop_petit=0.27, sante=0.08, handicap=0.07, voisinage=0.12, trop_cher=0.10,
                     trop_grand=0.07, rapprochement_travail=0.05, rapprochement_famille=0.04,
                     divorce_separation=0.04, rapprochement_services=0.03, non_decent=0.03,
                     renouvellement_urbain=0.03, demolition=0.02, mutation_professionnelle=0.02,
                     autre=0.02, violences_familiales=0.01)
# Additional motifs (guess: the rest of §3.2 spread).
_MOTIF_SECOND = {
    False: _d(trop_cher=0.15, trop_petit=0.12, rapprochement_travail=0.12,
              rapprochement_famille=0.10, rapprochement_services=0.08, sante=0.08, handicap=0.04,
              non_decent=0.06, voisinage=0.05, divorce_separation=0.04, violences_familiales=0.02,
              futur_couple=0.03, regroupement_familial=0.02, insalubre_dangereux=0.02,
              expulsion=0.02, autre=0.05),
    True: _d(trop_petit=0.14, rapprochement_services=0.14, rapprochement_famille=0.12,
             rapprochement_travail=0.10, sante=0.10, handicap=0.06, voisinage=0.10,
             trop_cher=0.10, trop_grand=0.04, non_decent=0.05, autre=0.05),
}
_NB_MOTIFS_EXTRA = (0.55, 0.33, 0.12)   # 1–3 motifs per demande (guess)

_SITUATION_FAMILIALE = {  # by household type; old single people more often widowed (guess)
    "seul": _d(celibataire=0.62, divorce=0.17, separe=0.10, veuf=0.08, marie=0.03),
    "seul_age": _d(celibataire=0.25, divorce=0.30, separe=0.05, veuf=0.38, marie=0.02),
    "monoparental": _d(celibataire=0.45, divorce=0.25, separe=0.25, veuf=0.05),
    "couple": _d(marie=0.45, pacse=0.15, concubin=0.40),
    "autre": _d(celibataire=0.50, divorce=0.20, separe=0.10, veuf=0.10, marie=0.10),
}
_SITUATION_PRO = {  # by age band (guess on demandeur profiles)
    "jeune": _d(cdi_fonctionnaire=0.22, cdd_interim=0.25, independant=0.02, chomage=0.20,
                apprenti=0.08, etudiant=0.13, autre=0.10),
    "actif": _d(cdi_fonctionnaire=0.40, cdd_interim=0.15, independant=0.05, chomage=0.20,
                apprenti=0.005, etudiant=0.01, retraite=0.01, autre=0.175),
    "senior": _d(cdi_fonctionnaire=0.06, cdd_interim=0.02, independant=0.02, chomage=0.03,
                 retraite=0.82, autre=0.05),
    "etudiant": _d(etudiant=0.75, apprenti=0.08, cdd_interim=0.10, autre=0.07),
}
# Income shift (in standard deviations of log income per UC) by situation_pro (guess).
_REVENU_DECALAGE = _d(cdi_fonctionnaire=0.45, cdd_interim=0.10, independant=0.10, chomage=-0.30,
                      apprenti=-0.20, etudiant=-0.70, retraite=0.05, autre=-0.45)
_EMPLOIS = ("cdi_fonctionnaire", "cdd_interim", "independant", "apprenti")
# (profession, essential worker): frequent jobs of demandeurs; essential = care, cleaning,
# security, food retail, education, transport (the Nice bonus, domain.md §2.5).
_PROFESSIONS = (
    ("aide-soignant(e)", True), ("agent(e) d'entretien", True), ("auxiliaire de vie", True),
    ("caissier(ère)", True), ("infirmier(ère)", True), ("agent(e) de sécurité", True),
    ("chauffeur livreur", True), ("conducteur(trice) de bus", True), ("ATSEM", True),
    ("assistant(e) d'éducation", True),
    ("employé(e) administratif(ve)", False), ("vendeur(se)", False), ("cuisinier(ère)", False),
    ("magasinier(ère)", False), ("ouvrier(ère) du bâtiment", False),
    ("agent(e) de restauration", False), ("animateur(trice)", False), ("technicien(ne)", False),
    ("serveur(se)", False), ("comptable", False), ("coiffeur(se)", False),
)
_SURFACE_TYPO = np.array([12.0, 27.0, 45.0, 64.0, 79.0, 94.0, 112.0])  # m², guess per typology


def _situation_table(p: SynthParams) -> np.ndarray:
    """Rows (mutation × 4 + household type) → P(situation_logement)."""
    base = {False: _weights(_SITUATION_PRIMO, "situation", SITUATIONS),
            True: _weights(_SITUATION_MUTATION, "situation", SITUATIONS)}
    rows = []
    for mut in (False, True):
        for h in range(4):
            w = base[mut].copy()
            if not mut:
                for code, mult in _SITUATION_MENAGE.items():
                    w[SITUATIONS.index(code)] *= mult[h]
            rows.append(w / w.sum())
    return np.array(rows)


def _motif_tables() -> tuple[np.ndarray, np.ndarray]:
    """(main motif by mutation × 20 + situation, extra motif by mutation) probability tables."""
    main = []
    for mut in (False, True):
        for s in SITUATIONS:
            if mut or s == "locataire_hlm":
                d = _MOTIF_MUTATION
            elif s in _PRECAIRES:
                d = _MOTIF_PRECAIRE
            else:
                d = _MOTIF_PRIMO[s]
            main.append(_weights(d, "motifs", MOTIFS))
    extra = np.array([_weights(_MOTIF_SECOND[m], "motifs", MOTIFS) for m in (False, True)])
    return np.array(main), extra


def _bit(code: str) -> int:
    return 1 << MOTIFS.index(code)


def _in(codes: np.ndarray, labels: Sequence[str], subset: Sequence[str]) -> np.ndarray:
    return np.isin(codes, [labels.index(s) for s in subset])


def _calibrate_income(t1: np.ndarray, t2: np.ndarray, shift: np.ndarray,
                      s1: float, s2: float) -> tuple[float, float]:
    """(mu, sigma) of log income per UC with expected shares s1 below t1 and s2 below t2.

    Row ``i`` has log income ``mu + sigma × (z + shift[i])`` with z standard normal, so its
    chance to be below ``t`` is Φ((t − mu)/sigma − shift). Nested bisection: mu for a given
    sigma matches s1; then sigma (more spread, more above PLUS) matches s2.
    """
    def share(t: np.ndarray, mu: float, sigma: float) -> float:
        return float(_norm_cdf((t - mu) / sigma - shift).mean())

    def mu_for(sigma: float) -> float:
        lo, hi = float(t1.min()) - 40.0, float(t1.max()) + 40.0
        for _ in range(56):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if share(t1, mid, sigma) > s1 else (lo, mid)
        return 0.5 * (lo + hi)

    lo, hi = 0.02, 4.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if share(t2, mu_for(mid), mid) > s2 else (lo, mid)
    sigma = 0.5 * (lo + hi)
    return mu_for(sigma), sigma


def _ceiling(table: Sequence[int], increment: int, cat: np.ndarray) -> np.ndarray:
    base = np.asarray(table, dtype=np.float64)
    return base[np.minimum(cat, 6) - 1] + np.maximum(cat - 6, 0) * increment


# ----------------------------------------------------------------------------- demandes

_CALIBRATION_ROWS = 6000   # rows used to fit the income distribution (a fixed prefix)
_CHUNK = 65536             # rows per block in the localisation draw (bounds memory)


class _Draft:
    """Arrays of one generation call, filled stage by stage (one per call, never shared)."""

    def __init__(self, n: int, today: dt.date, p: SynthParams, terr: _Territories):
        self.n, self.today_date, self.p, self.ti = n, today, p, terr
        self.today = today.toordinal() - _EPOCH_ORDINAL   # day number since 1970-01-01

    def mean(self, a: np.ndarray) -> float:
        return float(a.mean()) if self.n else 1.0


def _stage_households(rng: np.random.Generator, g: _Draft) -> None:
    """Territory, mutation flag, household composition (§3.6) and current housing situation."""
    n, p = g.n, g.p
    g.terr = np.searchsorted(g.ti.territory_cdf, rng.random(n), side="right")
    g.mutation = rng.random(n) < p.part_mutation
    g.htype = _pick(rng.random(n), _weights(p.menages, "menages", HOUSEHOLD_TYPES))
    g.seul, mono, g.couple, autre = (g.htype == i for i in range(4))
    u_kids, u_adults = rng.random(n), rng.random(n)
    g.enfants = np.zeros(n, dtype=np.int64)
    g.enfants[mono] = _pick(u_kids[mono], np.asarray(p.enfants_monoparental, float))
    g.enfants[g.couple] = _pick(u_kids[g.couple], np.asarray(p.enfants_couple, float))
    g.enfants[autre] = _pick(u_kids[autre], np.asarray(_AUTRE_ENFANTS))
    g.adultes = np.ones(n, dtype=np.int64)
    g.adultes[g.couple] = 2
    g.adultes[autre] = 2 + _pick(u_adults[autre], np.asarray(_AUTRE_ADULTES))
    g.personnes = g.adultes + g.enfants
    g.situation = _pick_by(rng.random(n), g.mutation * 4 + g.htype, _situation_table(p))
    g.sit = {s: g.situation == i for i, s in enumerate(SITUATIONS)}
    g.hosted = _in(g.situation, SITUATIONS, _HEBERGES)
    g.collective = _in(g.situation, SITUATIONS, _COLLECTIFS)
    g.no_dwelling = _in(g.situation, SITUATIONS, _SANS_LOGEMENT_PROPRE)


def _stage_dates(rng: np.random.Generator, g: _Draft) -> None:
    """Ancienneté, renewal and ages.

    Whole years of ancienneté are geometric with ratio P(renewal) × (1 − attribution rate)
    (§3.1, §3.6: ~50 % under 12 months, tail to ~10 years), uniform within the year.
    """
    n, p = g.n, g.p
    r = p.proba_renouvellement * (1.0 - p.taux_attribution)
    u = rng.random(n)
    years = (np.floor(np.log1p(-u) / math.log(r)).astype(np.int64) if 0 < r < 1
             else np.zeros(n, np.int64))
    g.years = np.minimum(years, p.anciennete_max_annees - 1)
    # Calendar anniversaries of today, so that months_between(date_depot, today) // 12 == years.
    anniv = np.array([_years_before(g.today_date, k) for k in range(p.anciennete_max_annees + 1)],
                     dtype=np.int64)
    start, end = anniv[g.years], anniv[g.years + 1]
    g.depot = start - np.floor(rng.random(n) * (start - end)).astype(np.int64)  # in (end, start]
    g.anc_days = g.today - g.depot
    back = rng.integers(0, 60, n)  # renewed up to two months before the anniversary
    renew = g.depot + (g.today - start) - back
    g.renouvellement = np.maximum(np.minimum(renew, g.today), g.depot + 1)
    g.no_renewal = g.years == 0

    # Ages (guess by household type): young hébergés and students younger, tenants older;
    # everyone was an adult at deposit.
    age = (np.array([44.0, 37.0, 39.0, 46.0])[g.htype]
           + np.array([16.0, 8.0, 11.0, 15.0])[g.htype] * rng.standard_normal(n)
           + 5.0 * g.mutation)
    age = np.where(g.sit["heberge_parents_enfants"] & g.seul, 18.0 + rng.gamma(2.0, 4.0, n), age)
    age = np.where(g.sit["residence_etudiante"],
                   18.0 + np.minimum(rng.gamma(2.0, 2.0, n), 12.0), age)
    age = np.clip(age, 18.0, 95.0)
    age_c = np.clip(age + rng.normal(-2.0, 4.0, n), 18.0, 95.0)
    adult_at_depot = np.ceil(18 * _DAYS_PER_YEAR) + g.anc_days
    age_days = np.maximum(np.floor(age * _DAYS_PER_YEAR), adult_at_depot).astype(np.int64)
    age_c_days = np.maximum(np.floor(age_c * _DAYS_PER_YEAR), adult_at_depot).astype(np.int64)
    g.naissance = g.today - age_days
    g.naissance_c = g.today - age_c_days
    g.age = age_days // _DAYS_PER_YEAR
    # Income-ceiling "young couple": sum of ages ≤ 55 (§4.1).
    g.young_couple = g.couple & (g.enfants == 0) & (g.age + age_c_days // _DAYS_PER_YEAR <= 55)


def _stage_profile(rng: np.random.Generator, g: _Draft) -> None:
    """Family and professional situation, profession, essential worker."""
    n = g.n
    fam_rows = ("seul", "monoparental", "couple", "autre", "seul_age")
    fam_table = np.array([_weights(_SITUATION_FAMILIALE[k], "situation_familiale",
                                   SITUATIONS_FAMILIALES) for k in fam_rows])
    g.familiale = _pick_by(rng.random(n), np.where(g.seul & (g.age >= 70), 4, g.htype), fam_table)
    pro_rows = ("jeune", "actif", "senior", "etudiant")
    band = np.where(g.age < 26, 0, np.where(g.age < 62, 1, 2))
    band = np.where(g.sit["residence_etudiante"], 3, band)
    pro_table = np.array([_weights(_SITUATION_PRO[k], "situation_pro", SITUATIONS_PRO)
                          for k in pro_rows])
    g.pro = _pick_by(rng.random(n), band, pro_table)
    g.employed = _in(g.pro, SITUATIONS_PRO, _EMPLOIS)
    job = _pick(rng.random(n), np.ones(len(_PROFESSIONS)))
    former_job = (g.pro == SITUATIONS_PRO.index("chomage")) & (rng.random(n) < 0.5)
    g.essential = np.array([e for _, e in _PROFESSIONS])[job] & g.employed
    g.profession = np.where(g.employed | former_job, job,
                            np.where(g.pro == SITUATIONS_PRO.index("etudiant"), len(_PROFESSIONS),
                                     np.where(g.pro == SITUATIONS_PRO.index("retraite"),
                                              len(_PROFESSIONS) + 1, -1)))


def _stage_motifs(rng: np.random.Generator, g: _Draft) -> None:
    """1–3 motifs (main one by current housing, §3.6), then facts made consistent with them."""
    n, p = g.n, g.p
    main_t, extra_t = _motif_tables()
    main = _pick_by(rng.random(n), g.mutation * len(SITUATIONS) + g.situation, main_t)
    nb_extra = _pick(rng.random(n), np.asarray(_NB_MOTIFS_EXTRA))
    mask = np.left_shift(np.int64(1), main)
    for j in range(2):
        e = _pick_by(rng.random(n), g.mutation.astype(np.int64), extra_t)
        mask = np.where(nb_extra > j, mask | np.left_shift(np.int64(1), e), mask)
    # A couple does not move for a separation or a future couple; too small beats too big.
    mask = np.where(g.couple, mask & ~(_bit("divorce_separation") | _bit("futur_couple")), mask)
    mask = np.where(mask & _bit("trop_petit"), mask & ~_bit("trop_grand"), mask)
    g.motifs = np.where(mask == 0, _bit("autre"), mask)
    g.has = {m: (g.motifs & _bit(m)) != 0 for m in (
        "handicap", "divorce_separation", "trop_petit", "trop_grand", "trop_cher", "non_decent",
        "expulsion")}
    g.separation = g.has["divorce_separation"] & ~g.couple
    g.familiale = np.where(g.separation & ~_in(g.familiale, SITUATIONS_FAMILIALES,
                                               ("divorce", "separe")),
                           SITUATIONS_FAMILIALES.index("separe"), g.familiale)
    share = np.where(g.mutation, p.part_handicap[True], p.part_handicap[False])
    handicap = np.where(rng.random(n) < share, 1 + (rng.random(n) < 0.1), 0)
    handicap = np.where(g.has["handicap"], np.maximum(handicap, 1), handicap)
    g.handicap = np.minimum(handicap, g.personnes)


def _stage_typologies(rng: np.random.Generator, g: _Draft) -> None:
    """Typologies sought (first by household size, sometimes an adjacent one) and the current
    dwelling (typology, surface, occupants), consistent with the situation and the motifs."""
    n = g.n
    first_t, p_up = _typology_tables(g.p)
    size_i = np.minimum(g.personnes, 7) - 1
    g.typo = _pick_by(rng.random(n), size_i, first_t)
    pu = p_up[size_i, g.typo]
    second = (rng.random(n) < g.p.part_deux_typologies) & (pu >= 0)
    neighbour = np.clip(np.where(rng.random(n) < pu, g.typo + 1, g.typo - 1), 0, 6)
    g.typologies = np.left_shift(np.int64(1), g.typo)
    g.typologies = np.where(second, g.typologies | np.left_shift(np.int64(1), neighbour),
                            g.typologies)

    own = ~(g.hosted | g.collective | g.no_dwelling)
    delta = _pick(rng.random(n), np.array([0.2, 0.55, 0.25])) - 1
    big = 1 + (rng.random(n) < 0.4)
    delta = np.where(g.has["trop_petit"], -big, np.where(g.has["trop_grand"], big, delta))
    cur = np.clip(g.typo + delta, 1, 6)  # an own dwelling is at least a T1; rooms are collective
    cur = np.where(g.hosted, 2 + _pick(rng.random(n), np.array([0.2, 0.4, 0.3, 0.1])), cur)
    room = np.where(g.sit["hotel"], 0, (rng.random(n) < 0.45).astype(np.int64))
    g.cur = np.where(g.collective, room, cur)          # collective: chambre or T1
    g.surface = np.round(_SURFACE_TYPO[g.cur] * np.exp(0.12 * rng.standard_normal(n)), 1)
    hosts = 1 + _pick(rng.random(n), np.array([0.35, 0.35, 0.2, 0.1]))
    g.occupants = g.personnes + np.where(g.hosted, hosts, 0) + (own & g.separation)


def _stage_income(rng: np.random.Generator, g: _Draft) -> None:
    """Monthly resources (lognormal per UC) and RFR, calibrated on the 2025 ceilings (§3.6, §4)."""
    n, p = g.n, g.p
    uc = 1.0 + 0.5 * (g.adultes - 1) + 0.3 * g.enfants
    # Household category of the ceilings (§4.1): one person + k dependants ranks as k + 2
    # persons, a young couple as 3, a disabled member moves one category up.
    cat = np.where((g.adultes == 1) & (g.enfants > 0), g.personnes + 1,
                   np.where(g.young_couple, 3, g.personnes)) + (g.handicap > 0)
    plai = _ceiling(_PLAI_2025, _PLAI_2025_PLUS1, cat)
    plus = _ceiling(_PLUS_2025, _PLUS_2025_PLUS1, cat)
    tau = np.exp(math.log(p.rfr_ratio_median) + p.rfr_ratio_sigma * rng.standard_normal(n))
    z = rng.standard_normal(n)
    shift = np.array([_REVENU_DECALAGE[s] for s in SITUATIONS_PRO])[g.pro]
    # Zero resources are likelier without a dwelling or as a student (guess).
    zw = (np.where(g.no_dwelling | g.sit["hotel"], 4.0, 1.0)
          * np.where(g.pro == SITUATIONS_PRO.index("etudiant"), 2.0, 1.0))
    zero = rng.random(n) < p.part_sans_ressources * zw / g.mean(zw)
    s1 = (p.part_sous_plai - p.part_sans_ressources) / (1.0 - p.part_sans_ressources)
    s2 = (p.part_sous_plus - p.part_sans_ressources) / (1.0 - p.part_sans_ressources)
    pos = np.flatnonzero(~zero)[:_CALIBRATION_ROWS]
    mu, sigma = 0.0, 1.0
    if len(pos):
        scale = 12.0 * tau[pos] * uc[pos]
        mu, sigma = _calibrate_income(np.log(plai[pos] / scale), np.log(plus[pos] / scale),
                                      shift[pos], s1, s2)
    g.ressources = np.where(zero, 0.0, np.round(np.exp(mu + sigma * (z + shift)) * uc, 2))
    g.rfr = np.round(12.0 * g.ressources * tau).astype(np.int64)


def _stage_rent(rng: np.random.Generator, g: _Draft) -> None:
    """Rent and housing aid by situation; none when hébergé or without a dwelling.

    Social rent: SDES mean 6.52 €/m² plus charges (§3.2); private, foyer and hotel rents and
    the aid taper are guesses.
    """
    n, sit, surface = g.n, g.sit, g.surface
    u = rng.random(n)

    def between(lo: float, hi: float) -> np.ndarray:
        return lo + (hi - lo) * u

    rent = np.full(n, np.nan)
    rent = np.where(sit["locataire_hlm"], surface * between(7.5, 10.5), rent)
    rent = np.where(sit["locataire_prive"], surface * between(10.0, 16.0) + 40.0, rent)
    for s in ("sous_locataire_temporaire", "logement_temporaire"):
        rent = np.where(sit[s], surface * between(7.0, 11.0), rent)
    for s in ("residence_sociale_foyer", "rhvs"):
        rent = np.where(sit[s], between(350.0, 520.0), rent)
    rent = np.where(sit["residence_etudiante"], between(280.0, 480.0), rent)
    rent = np.where(sit["hotel"], between(500.0, 1200.0), rent)
    rent = np.where(sit["camping_caravaning"], between(150.0, 400.0), rent)
    rent = np.where(sit["loge_titre_gratuit"], 0.0, rent)
    rent = np.where(sit["logement_fonction"],
                    np.where(u < 0.5, 0.0, surface * between(4.0, 8.0)), rent)
    # Low-income households live in cheaper dwellings, unless "trop cher" is their motif.
    res = g.ressources
    u_eff = rng.random(n)
    rent = np.where(res > 0, np.minimum(rent, 0.55 * res + 150.0), rent)
    rent = np.where(g.has["trop_cher"] & (rent > 0) & (res > 0),
                    np.maximum(rent, res * (0.38 + 0.32 * u_eff)), rent)
    g.no_rent = np.isnan(rent)
    g.rent = np.round(np.where(g.no_rent, 0.0, rent), 2)
    aide = np.minimum(0.9 * g.rent, np.maximum(0.0, 360.0 + 70.0 * (g.personnes - 1) - 0.28 * res))
    aide = np.where(sit["proprietaire"] | (g.rent <= 0) | (aide < 15.0), 0.0, aide)
    g.aide = np.round(aide, 2)  # APL is not paid under a small monthly amount


def _stage_priority(rng: np.random.Generator, g: _Draft) -> None:
    """DALO status and recognised priority, likelier when precarious and older (§3.2)."""
    n, p = g.n, g.p
    w = np.where(_in(g.situation, SITUATIONS, _PRECAIRES), 5.0,
                 np.where(g.hosted, 1.5, np.where(g.mutation, 0.3, 1.0)))
    w = w * np.where(g.has["non_decent"] | g.has["expulsion"], 3.0, 1.0) * (1.0 + g.years)
    wn = w / g.mean(w)
    u = rng.random(n)
    p_act = np.minimum(p.part_dalo_actif * wn, 0.9)
    p_cad = p_act + np.minimum(p.part_dalo_caduc * wn, 0.05)
    p_rel = p_cad + np.minimum(p.part_dalo_actif_reloge * wn, 0.05)
    g.dalo = np.where(u < p_act, 1, np.where(u < p_cad, 2, np.where(u < p_rel, 3, 0)))
    # Other priority publics (PDALHPD, SIAO) top the DALO-active ones up to part_prioritaire.
    rest = g.dalo != 1
    wanted = max(0.0, p.part_prioritaire * n - (n - int(rest.sum())))
    c = wanted / wn[rest].sum() if rest.any() else 0.0
    g.prioritaire = (g.dalo == 1) | (rng.random(n) < np.minimum(c * wn, 0.9))


def _stage_communes(rng: np.random.Generator, g: _Draft) -> None:
    """Residence and work communes (guess: mostly in the territory) and localisations.

    Localisations: 1–4 distinct communes of the territory, centre-weighted (Gumbel top-k),
    the residence first half of the time, sometimes one more from another territory.
    """
    n, p, ti, terr = g.n, g.p, g.ti, g.terr
    u, u_home, u_away = rng.random(n), rng.random(n), rng.random(n)
    home, away = ti.pick_commune(u_home, terr), ti.pick_outside(u_away, terr)
    p_in = np.where(g.mutation, 0.92, 0.80)
    res = np.where(u < p_in, home, np.where(u < p_in + 0.15, away, -1))
    g.residence = np.where((res < 0) & (u < p_in + 0.15), home, res)  # no "elsewhere": home
    u, u_home, u_away = rng.random(n), rng.random(n), rng.random(n)
    work_in, work_away = ti.pick_commune(u_home, terr), ti.pick_outside(u_away, terr)
    work = np.where(u < 0.35, g.residence, np.where(u < 0.75, work_in,
                                                    np.where(u < 0.85, work_away, -1)))
    g.travail = np.where(g.employed, work, -1)

    sizes = np.asarray(sorted(p.nb_localisations))
    nb = sizes[_pick(rng.random(n), _weights(p.nb_localisations, "nb_localisations",
                                             list(sizes)))]
    res_first = rng.random(n) < 0.5
    loc = np.full((n, int(sizes.max()) + 1), -1, dtype=np.int64)
    for t, (members, cw) in enumerate(zip(ti.members, ti.commune_weights)):
        rows = np.flatnonzero(terr == t)
        for c0 in range(0, len(rows), _CHUNK):
            rr = rows[c0:c0 + _CHUNK]
            keys = np.log(cw)[None, :] + rng.gumbel(size=(len(rr), len(members)))
            r = g.residence[rr]
            first = np.flatnonzero((r >= 0) & (ti.territory_of[np.maximum(r, 0)] == t)
                                   & res_first[rr])
            keys[first, np.searchsorted(members, r[first])] = np.inf
            top = members[np.argsort(-keys, axis=1, kind="stable")[:, :loc.shape[1] - 1]]
            keep = np.arange(top.shape[1])[None, :] < nb[rr, None]
            loc[rr, :top.shape[1]] = np.where(keep, top, -1)
    kept = (loc >= 0).sum(axis=1)
    foreign = ti.pick_outside(rng.random(n), terr, others_only=len(ti.members) > 1)
    add = np.flatnonzero((rng.random(n) < p.part_localisation_hors_territoire) & (foreign >= 0))
    loc[add, kept[add]] = foreign[add]
    g.localisations = loc


def _stage_refusals(rng: np.random.Generator, g: _Draft) -> None:
    """Refusals of adapted offers: they need offers, so likelier in older demandes (guess);
    the last one within the last 24 months and after the deposit."""
    n, p = g.n, g.p
    rw = 0.3 + 0.7 * np.minimum(1.0, g.anc_days / 730.0)
    yes = rng.random(n) < np.minimum(p.part_refus * rw / g.mean(rw), 1.0)
    g.nb_refus = np.where(yes, 1 + (rng.random(n) < p.part_deux_refus), 0)
    start = np.maximum(g.depot, g.today - 730)
    g.refus_day = start + np.floor(rng.random(n) * (g.today - start + 1)).astype(np.int64)
    pool = p.criteres_valides_pool
    g.valid = rng.random((n, len(pool))) < p.proba_critere_valide if pool else None


def generate_demandes(n: int, *, seed: int, today: dt.date, territories: Sequence[Sequence[str]],
                      params: SynthParams | None = None) -> DemandeTable:
    """``n`` synthetic canonical demandes pending at ``today`` over ``territories``.

    Each territory is a sequence of INSEE codes, its centre first. Deterministic in its
    arguments. The table also carries the local field ``travailleur_essentiel`` in ``extras``
    unless ``params.travailleur_essentiel`` is false.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not isinstance(today, dt.date) or isinstance(today, dt.datetime):
        raise TypeError("today must be a datetime.date")
    p = params or SynthParams()
    g = _Draft(n, today, p, _Territories.build(territories, p))
    rng = _rng(seed)
    for stage in (_stage_households, _stage_dates, _stage_profile, _stage_motifs,
                  _stage_typologies, _stage_income, _stage_rent, _stage_priority,
                  _stage_communes, _stage_refusals):
        stage(rng, g)
    # Registered in the département of the territory's centre.
    centre_dept = np.array([g.ti.dept_of[m[0]] for m in g.ti.members], dtype=np.int64)
    numeros = _numeros(rng, centre_dept[g.terr], g.ti.departements, g.depot, parity=1)

    # Blanks: MCAR per configured column (schema order), on top of structural ones.
    blank = {c.name: rng.random(n) < p.manquants[c.name] for c in COLUMNS if c.name in p.manquants}
    none = np.zeros(n, dtype=bool)

    def b(name: str, structural: np.ndarray | None = None) -> np.ndarray:
        m = blank.get(name, none)
        return m if structural is None else m | structural

    ess_blank = rng.random(n) < p.part_travailleur_essentiel_vide
    # The RFR often goes missing with the resources (same declaration step; guess: half).
    rfr_blank = b("revenu_fiscal_reference") | (b("ressources_mensuelles") & (rng.random(n) < 0.5))
    prof_labels = [label for label, _ in _PROFESSIONS] + ["étudiant(e)", "retraité(e)"]
    pool = p.criteres_valides_pool
    cols: dict[str, list] = {
        "numero_unique": numeros,
        "date_depot": _dates(g.depot),
        "date_renouvellement": _dates(g.renouvellement, g.no_renewal),
        "est_mutation": _to_list(g.mutation, b("est_mutation")),
        "situation_logement": _codes(g.situation, SITUATIONS, b("situation_logement")),
        "motifs": _bitsets(np.where(b("motifs"), 0, g.motifs), MOTIFS),
        "nb_personnes": g.personnes.tolist(),
        "nb_adultes": _to_list(g.adultes, b("nb_adultes")),
        "nb_enfants": _to_list(g.enfants, b("nb_enfants")),
        "nb_personnes_handicap": _to_list(g.handicap, b("nb_personnes_handicap")),
        "nb_personnes_logement_actuel": _to_list(
            g.occupants, b("nb_personnes_logement_actuel", g.sit["sans_abri"])),
        "date_naissance": _dates(g.naissance, b("date_naissance")),
        "date_naissance_conjoint": _dates(g.naissance_c, b("date_naissance_conjoint", ~g.couple)),
        "situation_familiale": _codes(g.familiale, SITUATIONS_FAMILIALES, b("situation_familiale")),
        "situation_pro": _codes(g.pro, SITUATIONS_PRO, b("situation_pro")),
        "profession": _codes(np.maximum(g.profession, 0), prof_labels,
                             b("profession", g.profession < 0)),
        "commune_residence": _codes(np.maximum(g.residence, 0), g.ti.communes,
                                    b("commune_residence", g.residence < 0)),
        "commune_travail": _codes(np.maximum(g.travail, 0), g.ti.communes,
                                  b("commune_travail", g.travail < 0)),
        "revenu_fiscal_reference": _to_list(g.rfr, rfr_blank),
        "ressources_mensuelles": _to_list(g.ressources, b("ressources_mensuelles")),
        "loyer_actuel": _to_list(g.rent, b("loyer_actuel", g.no_rent)),
        "aide_logement": _to_list(g.aide, b("aide_logement", g.no_rent)),
        "surface_actuelle": _to_list(g.surface, b("surface_actuelle", g.no_dwelling)),
        "typologie_actuelle": _codes(g.cur, TYPOLOGIES, b("typologie_actuelle", g.no_dwelling)),
        "typologies": _bitsets(g.typologies, TYPOLOGIES),
        "localisations": _localisations(g.localisations, g.ti.communes),
        "dalo_statut": _codes(g.dalo, ENUMS["dalo_statut"], b("dalo_statut")),
        "prioritaire": _to_list(g.prioritaire, b("prioritaire")),
        "nb_refus_adaptes": _to_list(g.nb_refus, b("nb_refus_adaptes")),
        "date_dernier_refus_adapte": _dates(g.refus_day,
                                            b("date_dernier_refus_adapte", g.nb_refus == 0)),
        "criteres_valides": (_decode_unique(g.valid, lambda row: frozenset(
            c for c, v in zip(pool, row.tolist()) if v)) if pool else [frozenset()] * n),
    }
    extras: dict[str, list] = {}
    if p.travailleur_essentiel:
        extras["travailleur_essentiel"] = _codes(g.essential.astype(np.int64), ("false", "true"),
                                                 ess_blank)
    return DemandeTable(cols, extras)


# ----------------------------------------------------------------------------- attributions


def generate_attributions(n: int, *, seed: int, today: dt.date,
                          territories: Sequence[Sequence[str]], years: int = 3,
                          params: SynthParams | None = None) -> AttributionTable:
    """``n`` leases signed over the ``years`` years up to ``today`` (included).

    Waits (date_attribution − date_depot) are lognormal with median
    ``params.attente_mediane_mois`` and mean ≈ ``attente_ratio_moyenne_mediane`` × median
    overall (§3.4), longer for T1 and T5+ and in the centre commune, shorter for mutations.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not isinstance(years, int) or years <= 0:
        raise ValueError("years must be a whole number of years > 0")
    if not isinstance(today, dt.date) or isinstance(today, dt.datetime):
        raise TypeError("today must be a datetime.date")
    p = params or SynthParams()
    terr_info = _Territories.build(territories, p)
    # Own stream (jumped), so demandes and attributions of one seed are not correlated.
    rng = np.random.Generator(np.random.PCG64(seed).jumped())
    today_d = today.toordinal() - _EPOCH_ORDINAL

    window = today_d - _years_before(today, years)  # signed in (today − years, today]
    signed = today_d - rng.integers(0, window, n)
    terr = np.searchsorted(terr_info.territory_cdf, rng.random(n), side="right")
    commune = terr_info.pick_commune(rng.random(n), terr)
    typo = _pick(rng.random(n), _weights(p.attribution_typologies, "attribution_typologies",
                                         TYPOLOGIES))
    mutation = rng.random(n) < p.attribution_part_mutation

    # Log multipliers of the median wait; centred in-sample so the overall median stays put,
    # and the within-cell spread shrinks by their variance so mean/median stays on target.
    log_commune = p.attente_sigma_commune * rng.standard_normal(len(terr_info.communes))
    for m in terr_info.members:
        log_commune[m[0]] += math.log(p.attente_facteur_centre)
    log_typo = np.log([p.attente_facteur_typologie.get(t, 1.0) for t in TYPOLOGIES])
    lm = log_typo[typo] + log_commune[commune] + math.log(p.attente_facteur_mutation) * mutation
    if n:
        lm = lm - lm.mean()
    var_total = 2.0 * math.log(p.attente_ratio_moyenne_mediane)  # lognormal: mean/median = e^(σ²/2)
    sigma = math.sqrt(max(var_total - (float(lm.var()) if n else 0.0), 0.01))
    wait_months = p.attente_mediane_mois * np.exp(lm + sigma * rng.standard_normal(n))
    wait_days = np.maximum(1, np.round(wait_months * _DAYS_PER_MONTH)).astype(np.int64)
    depot = signed - wait_days

    fin = _pick(rng.random(n), _weights(p.financements, "financements", FINANCEMENTS))
    qpv = rng.random(n) < p.part_qpv
    res = _pick(rng.random(n), _weights(p.reservataires, "reservataires", tuple(p.reservataires)))
    numeros = _numeros(rng, terr_info.dept_of[commune], terr_info.departements, depot, parity=2)
    cols = {
        "numero_unique": numeros,
        "date_depot": _dates(depot),
        "date_attribution": _dates(signed),
        "commune": _codes(commune, terr_info.communes),
        "typologie": _codes(typo, TYPOLOGIES),
        "est_mutation": mutation.tolist(),
        "financement": _codes(fin, FINANCEMENTS),
        "qpv": qpv.tolist(),
        "reservataire": _codes(res, tuple(p.reservataires)),
    }
    return AttributionTable(cols)


# ----------------------------------------------------------------------------- command line


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _territory(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError("a territory needs at least one INSEE code")
    return codes


def register(subparsers: Any) -> None:
    """Add the ``generate`` command."""
    cmd = subparsers.add_parser(
        "generate", help="generate synthetic canonical demandes (and attributions)",
        description="Generate a reproducible synthetic canonical demande table (and optionally "
                    "an attribution history) calibrated on public statistics.")
    cmd.add_argument("-n", type=int, required=True, help="number of demandes")
    cmd.add_argument("--seed", type=int, required=True, help="random seed (same seed, same file)")
    cmd.add_argument("--today", type=_iso_date, required=True,
                     help="reference date YYYY-MM-DD (deposits and leases are before it)")
    cmd.add_argument("--territory", type=_territory, action="append", required=True,
                     metavar="INSEE,INSEE,...",
                     help="communes of one territory, centre first; repeat for each territory")
    cmd.add_argument("-o", "--output", required=True, help="demandes CSV to write")
    cmd.add_argument("--attributions", metavar="CSV", help="also write an attribution history")
    cmd.add_argument("--n-attributions", type=int,
                     help="number of attributions (default: 0.75 × n)")
    cmd.add_argument("--years", type=int, default=3,
                     help="attribution window in years before --today (default 3)")
    cmd.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.n < 0 or (args.n_attributions is not None and args.n_attributions < 0):
        print("cotation generate: counts must be >= 0", file=sys.stderr)
        return 2
    try:
        table = generate_demandes(args.n, seed=args.seed, today=args.today,
                                  territories=args.territory)
        write_demandes_csv(table, args.output)
        print(f"wrote {len(table)} demandes to {args.output}")
        if args.attributions:
            n_attr = args.n_attributions if args.n_attributions is not None else round(0.75 * args.n)
            attr = generate_attributions(n_attr, seed=args.seed, today=args.today,
                                         territories=args.territory, years=args.years)
            write_attributions_csv(attr, args.attributions)
            print(f"wrote {len(attr)} attributions to {args.attributions}")
    except ValueError as exc:
        print(f"cotation generate: {exc}", file=sys.stderr)
        return 2
    return 0

"""Calibration of the synthetic generator: every default cites its anchor in ``domain.md`` §3.
"""
from __future__ import annotations

import numpy as np
from dataclasses import dataclass, field, fields
from typing import Mapping

from cotation.data.schema import COLUMNS_BY_NAME, ENUMS, FINANCEMENTS, TYPOLOGIES
from cotation.data.synth.draws import _weights

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

"""Household profiles: typologies, housing situations, motifs, occupations and income calibration tables.
"""
from __future__ import annotations

import numpy as np
from typing import Sequence

from cotation.data.schema import TYPOLOGIES
from cotation.data.synth.draws import _norm_cdf, _weights
from cotation.data.synth.params import HOUSEHOLD_TYPES, MOTIFS, SITUATIONS, SynthParams, _d

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

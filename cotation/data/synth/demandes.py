"""Synthetic demandes, drawn in stages (households, dates, profile, motifs, typologies, income,
rent, priority, communes, refusals) over whole numpy arrays.
"""
from __future__ import annotations

import datetime as dt
import math
import numpy as np
from typing import Sequence

from cotation.data.schema import COLUMNS, ENUMS, TYPOLOGIES
from cotation.data.synth.draws import (
    _DAYS_PER_YEAR, _EPOCH_ORDINAL, _bitsets, _codes, _dates, _decode_unique, _localisations, _pick,
    _pick_by, _rng, _to_list, _weights, _years_before
)
from cotation.data.synth.params import (
    HOUSEHOLD_TYPES, MOTIFS, SITUATIONS, SITUATIONS_FAMILIALES, SITUATIONS_PRO, SynthParams,
    _PLAI_2025, _PLAI_2025_PLUS1, _PLUS_2025, _PLUS_2025_PLUS1
)
from cotation.data.synth.profiles import (
    _AUTRE_ADULTES, _AUTRE_ENFANTS, _COLLECTIFS, _EMPLOIS, _HEBERGES, _NB_MOTIFS_EXTRA, _PRECAIRES,
    _PROFESSIONS, _REVENU_DECALAGE, _SANS_LOGEMENT_PROPRE, _SITUATION_FAMILIALE, _SITUATION_PRO,
    _SURFACE_TYPO, _bit, _calibrate_income, _ceiling, _in, _motif_tables, _situation_table,
    _typology_tables
)
from cotation.data.synth.territories import _Territories, _numeros
from cotation.data.table import DemandeTable

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

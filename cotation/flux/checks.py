"""Legal checks on the conventions of one scope (flux.md §1–§2), as coded issues.

Every check works on the *expected* flux of each cell (exact fractions, before rounding), so
that a percentage stipulated per segment (e.g. 45 % in QPV, 20 % outside) is judged on what
it yields over the bailleur's flux.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Mapping, Sequence

from cotation.flux.assiette import Assiette
from cotation.flux.conventions import ConventionFile, Settings
from cotation.flux.errors import Issue
from cotation.flux.model import DIMENSIONS, ETAT_TYPES, Logement
from cotation.flux.rounding import dec_display, pct_display
from cotation.flux.targets import Party, parties_in_force

CellKey = tuple

_ETAT_CAP = Fraction(30)
_AGENTS_CAP = Fraction(5)
_QPV_MIN = Fraction(30, 100)
_REQUALIFICATION_MIN = Fraction(30)


def _pct(x: Fraction) -> str:
    return dec_display(x, 2).rstrip("0").rstrip(".") + " %"


def expected_cell_flux(assiette: Assiette, logements: Mapping[str, Logement],
                       dims: Sequence[str]) -> dict[CellKey, Fraction]:
    """Flux net spread over attribute cells in proportion to their expected flux brut (exact)."""
    counts: dict[CellKey, list[int]] = {}
    for ids, slot in ((assiette.base_ids, 0), (assiette.mes_ids if assiette.settings.mes_in_flux else (), 1)):
        for lid in ids:
            lg = logements[lid]
            counts.setdefault(tuple(lg.attr(d) for d in dims), [0, 0])[slot] += 1
    rate = assiette.effective_rate
    w = {k: rate * b + m for k, (b, m) in counts.items()}
    total = sum(w.values(), Fraction(0))
    net = Fraction(max(assiette.flux_net, 0))
    return {k: (net * v / total if total else Fraction(0)) for k, v in sorted(w.items(), key=lambda kv: str(kv[0]))}


def _share(parties: Sequence[Party], types: frozenset[str], cell_flux: Mapping[CellKey, Fraction],
           dims: Sequence[str]) -> Fraction:
    """Expected share (0..1) of the flux reserved to parties of the given types."""
    weights = dict(cell_flux)
    if sum(weights.values(), Fraction(0)) == 0:
        weights = {k: Fraction(1) for k in cell_flux}  # no flux yet: judge the percentages alone
    total = sum(weights.values(), Fraction(0))
    if not total:
        return Fraction(0)
    got = Fraction(0)
    for key, f in weights.items():
        values = dict(zip(dims, key))
        got += f * sum((p.pct(values) for p in parties if p.type in types and p.covers(values)), Fraction(0)) / 100
    return got / total


def etat_hors_qpv(parties: Sequence[Party], cell_flux: Mapping[CellKey, Fraction],
                  dims: Sequence[str]) -> dict[str, Fraction | None]:
    """Both readings of R441-5-2 II al. 2 (None when undefined).

    A: État flux located outside QPV ÷ État flux; B: État flux outside QPV ÷ flux outside QPV.
    """
    if "qpv" not in dims:
        return {"A": None, "B": None, "etat_total": None, "etat_hors_qpv": None, "flux_hors_qpv": None}
    qi = dims.index("qpv")
    etat_total = etat_hors = flux_hors = Fraction(0)
    for key, f in cell_flux.items():
        values = dict(zip(dims, key))
        e = f * sum((p.pct(values) for p in parties if p.type in ETAT_TYPES and p.covers(values)), Fraction(0)) / 100
        etat_total += e
        if not key[qi]:
            etat_hors += e
            flux_hors += f
    return {"A": etat_hors / etat_total if etat_total else None,
            "B": etat_hors / flux_hors if flux_hors else None,
            "etat_total": etat_total, "etat_hors_qpv": etat_hors, "flux_hors_qpv": flux_hors}


def check_parties(parties: Sequence[Party], cell_flux: Mapping[CellKey, Fraction | int],
                  dims: Sequence[str], settings: Settings, on: dt.date) -> list[Issue]:
    """Caps, uniformity, QPV rule and collectivités cap on given (exact) cell fluxes."""
    cell_flux = {k: Fraction(v) for k, v in cell_flux.items()}
    dims = tuple(dims)
    issues: list[Issue] = []
    etat = [p for p in parties if p.type in ETAT_TYPES]
    etat_convs = [c for p in etat for c in p.conventions]
    valid_derog = [d for c in etat_convs for d in c.derogations if d.active(on) and not d.too_long()]

    def cap(code: str, types: frozenset[str], limit: Fraction, label: str) -> None:
        share = _share(parties, types, cell_flux, dims) * 100
        if share <= limit:
            return
        ctx = {"part": str(share), "plafond": str(limit)}
        if valid_derog:
            d = valid_derog[0]
            issues.append(Issue(code, "warning",
                                f"{label} atteint {_pct(share)} du flux annuel (plafond {_pct(limit)}), admis "
                                f"au titre de la dérogation préfectorale du {d.start} au {d.end}.",
                                ctx | {"derogation": d.motif}))
        else:
            issues.append(Issue(code, "error",
                                f"{label} atteint {_pct(share)} du flux annuel: le plafond est de {_pct(limit)} "
                                "(R441-5-2 I) sauf dérogation préfectorale d'un an au plus.", ctx))

    cap("CAP_ETAT_30", ETAT_TYPES, _ETAT_CAP, "La part de l'État (prioritaires et agents)")
    cap("CAP_ETAT_AGENTS_5", frozenset({"ETAT_AGENTS"}), _AGENTS_CAP, "La part des agents de l'État")

    # Uniformity per commune (R441-5-2 II al. 1).
    if etat and "commune" in dims and not any("non_uniforme" in c.stipulations for c in etat_convs):
        ci = dims.index("commune")
        per_commune: dict[str, list[Fraction]] = {}
        for key, f in cell_flux.items():
            values = dict(zip(dims, key))
            e = sum((p.pct(values) for p in etat if p.covers(values)), Fraction(0))
            acc = per_commune.setdefault(key[ci], [Fraction(0), Fraction(0)])
            acc[0] += f * e
            acc[1] += f
        rates = {c: (a / b if b else None) for c, (a, b) in per_commune.items()}
        distinct = {r for r in rates.values() if r is not None}
        if len(distinct) > 1:
            lo, hi = min(distinct), max(distinct)
            issues.append(Issue("ETAT_NON_UNIFORME", "warning",
                                f"Le taux de l'État varie selon les communes (de {_pct(lo)} à {_pct(hi)}) "
                                "sans stipulation contraire de la convention (R441-5-2 II).",
                                {"taux_par_commune": {c: str(r) for c, r in sorted(rates.items()) if r is not None}}))

    # QPV rule (R441-5-2 II al. 2), reading chosen by the settings; both are reported.
    if etat:
        readings = etat_hors_qpv(parties, cell_flux, dims)
        chosen = readings[settings.qpv_reading]
        stipulated = any("hors_qpv" in c.stipulations for c in etat_convs)
        if chosen is not None and chosen < _QPV_MIN and not stipulated:
            other = "B" if settings.qpv_reading == "A" else "A"
            other_v = readings[other]
            issues.append(Issue("ETAT_HORS_QPV_30", "error",
                                f"Hors QPV, la part de l'État est de {_pct(chosen * 100)} en lecture "
                                f"{settings.qpv_reading} (minimum 30 %, R441-5-2 II) sans stipulation contraire"
                                + (f"; lecture {other}: {_pct(other_v * 100)}." if other_v is not None else "."),
                                {"lecture": settings.qpv_reading,
                                 "A": None if readings["A"] is None else str(readings["A"]),
                                 "B": None if readings["B"] is None else str(readings["B"])}))

    # Collectivités' loan-guarantee cap, on the flux of each collectivité's territory.
    if settings.cap_collectivites_enabled:
        guar = [(p, c) for p in parties if p.type == "COLLECTIVITE" for c in p.conventions
                if c.garantie_emprunt is not None]
        for p, c in guar:
            num = den = Fraction(0)
            for key, f in cell_flux.items():
                values = dict(zip(dims, key))
                if not c.covers(values):
                    continue
                den += f
                num += f * sum((g.garantie_emprunt for _, g in guar if g.covers(values)), Fraction(0))
            share = num / den if den else sum((g.garantie_emprunt for _, g in guar), Fraction(0))
            if share > settings.cap_collectivites_rate:
                issues.append(Issue("CAP_COLLECTIVITES_GARANTIE_20", "error",
                                    f"Sur le territoire de {p.nom}, les réservations des collectivités en "
                                    f"contrepartie de garanties d'emprunt atteignent {_pct(share)} du flux annuel "
                                    f"(plafond {_pct(settings.cap_collectivites_rate)}).",
                                    {"reservataire": p.id, "convention": c.id, "part": str(share)}))
    return issues


def check_conventions(cf: ConventionFile, on: dt.date, departement: str | None = None) -> list[Issue]:
    """Checks that need no flux: scale, dates, derogations, missing conventions."""
    issues: list[Issue] = []
    scope = [c for c in cf.conventions if departement is None or c.departement in (None, departement)]
    for c in scope:
        for d in c.derogations:
            if d.too_long():
                issues.append(Issue("DEROG_TOO_LONG", "error",
                                    f"La dérogation de la convention {c.id} court du {d.start} au {d.end}: "
                                    "plus d'un an, durée maximale d'une dérogation préfectorale (R441-5-2 I).",
                                    {"convention": c.id, "debut": d.start.isoformat(), "fin": d.end.isoformat()}))
    # One convention per (bailleur, réservataire, perimeter) at any time (R441-5).
    for i, a in enumerate(scope):
        for b in scope[i + 1:]:
            if (a.reservataire, a.departement, a.perimeter) != (b.reservataire, b.departement, b.perimeter):
                continue
            if _overlap(a, b):
                issues.append(Issue("ONE_CONVENTION_PER_SCALE", "error",
                                    f"Deux conventions ({a.id}, {b.id}) lient le bailleur au réservataire "
                                    f"{a.reservataire} sur le même périmètre et la même période: une seule est "
                                    "permise (R441-5).", {"conventions": [a.id, b.id]}))
    for c in scope:
        r = cf.reservataire(c.reservataire)
        if c.perimeter.commune is not None and r.type != "COLLECTIVITE":
            issues.append(Issue("PERIMETRE_NON_DEPARTEMENTAL", "warning",
                                f"La convention {c.id} de {r.nom} porte sur une liste de communes: seuls les "
                                "communes, EPCI, EPT, Métropole de Lyon et Ville de Paris ont un périmètre "
                                "territorial (R441-5-3).", {"convention": c.id}))
    for c in scope:
        # R441-3: at least three candidates, except DALO households designated by the préfet
        # (and PLAI adaptés); more than three only when the convention says so.
        typ = cf.reservataire(c.reservataire).type
        if (c.k < 3 and typ != "ETAT_PRIO") or (c.k > 3 and "plus_de_3_candidats" not in c.stipulations):
            issues.append(Issue("SHORTLIST_K", "warning",
                                f"La convention {c.id} fixe {c.k} candidat(s) par logement: la CALEOL en examine "
                                "au moins trois (R441-3), sauf ménages DALO désignés par le préfet et PLAI "
                                "adaptés; davantage suppose la stipulation plus_de_3_candidats.",
                                {"convention": c.id, "k": c.k}))
    for c in scope:
        # Action Logement: requalifications without AL'in at least 30 % of its flux (seed Occitanie 2023).
        if c.requalification is not None and c.requalification < _REQUALIFICATION_MIN:
            issues.append(Issue("REQUALIFICATION_AL_30", "warning",
                                f"La convention {c.id} prévoit {_pct(c.requalification)} de requalifications hors "
                                f"AL'in: le référentiel Occitanie 2023 en propose au moins {_pct(_REQUALIFICATION_MIN)} "
                                "du flux annuel.", {"convention": c.id, "requalification": str(c.requalification)}))
        if c.garantie_fin_pret is not None and not c.in_force(on) and c.garantie_fin_droits < on:
            issues.append(Issue("GARANTIE_ECHUE", "warning",
                                f"Les droits de la convention {c.id} (garantie d'emprunt) ont pris fin le "
                                f"{c.garantie_fin_droits}, cinq ans après le remboursement du prêt "
                                f"({c.garantie_fin_pret}).", {"convention": c.id,
                                                               "fin_droits": c.garantie_fin_droits.isoformat()}))
    in_force = {c.reservataire for c in scope if c.in_force(on)}
    for r in cf.reservataires:
        if r.droits and r.id not in in_force:
            issues.append(Issue("SANS_CONVENTION", "error",
                                f"{r.nom} détient des droits de réservation mais n'a pas de convention en vigueur "
                                f"au {on}: son flux relève du préfet; la réaffectation se fait à la main.",
                                {"reservataire": r.id}))
    if cf.settings.report:
        issues.append(Issue("REPORT_NON_GERE", "warning",
                            "Le report des déficits et excédents d'une année sur l'autre (report: true) n'est "
                            "pas encore calculé: les objectifs affichés ne l'incluent pas.", {}))
    prefet = [c for c in scope if cf.reservataire(c.reservataire).type in ETAT_TYPES and c.signed_on]
    if prefet:
        first = min(c.signed_on for c in prefet)
        for c in scope:
            if c.signed_on and c.signed_on < first and cf.reservataire(c.reservataire).type not in ETAT_TYPES:
                issues.append(Issue("PREFET_SIGNE_APRES", "warning",
                                    f"La convention {c.id} a été signée le {c.signed_on}, avant celle du préfet "
                                    f"({first}), qui doit être signée la première.", {"convention": c.id}))
    return issues


def _overlap(a, b) -> bool:
    lo = max(a.start or dt.date.min, b.start or dt.date.min)
    hi = min(a.end or dt.date.max, b.end or dt.date.max)
    return lo <= hi


def validate(assiette: Assiette, logements: Mapping[str, Logement], cf: ConventionFile,
             on: dt.date) -> list[Issue]:
    """All checks of one scope: conventions, then caps and rules on the expected flux."""
    issues = check_conventions(cf, on, assiette.departement)
    parties = parties_in_force(cf, on, assiette.departement)
    used = {"commune", "qpv", *cf.settings.segment_by}
    for p in parties:
        for c in p.conventions:
            used |= c.dims()
    dims = tuple(d for d in DIMENSIONS if d in used)
    flux = expected_cell_flux(assiette, logements, dims)
    issues += check_parties(parties, flux, dims, cf.settings, on)
    return issues


def qpv_summary(readings: Mapping[str, Fraction | None]) -> dict[str, str | None]:
    return {k: (None if v is None else pct_display(v, 2) + " %") for k, v in readings.items() if k in ("A", "B")}

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
from cotation.i18n import N_, _
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
                                _("{label} reaches {share} of the annual flux (cap {cap}), allowed by the préfet's derogation from {start} to {end}.").format(label=_(label), share=_pct(share), cap=_pct(limit), start=d.start, end=d.end),
                                ctx | {"derogation": d.motif}))
        else:
            issues.append(Issue(code, "error",
                                _('{label} reaches {share} of the annual flux: the cap is {cap} (R441-5-2 I) unless the préfet grants a derogation of one year at most.').format(label=_(label), share=_pct(share), cap=_pct(limit)), ctx))

    cap("CAP_ETAT_30", ETAT_TYPES, _ETAT_CAP, N_("The State's share (priority households and agents)"))
    cap("CAP_ETAT_AGENTS_5", frozenset({"ETAT_AGENTS"}), _AGENTS_CAP, N_("The share of the State's agents"))

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
                                _("The State's rate varies between communes (from {low} to {high}) without a contrary stipulation of the convention (R441-5-2 II).").format(low=_pct(lo), high=_pct(hi)),
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
                                _("Outside QPV, the State's share is {share} in reading {reading} (minimum 30 %, R441-5-2 II) without a contrary stipulation{other}.").format(share=_pct(chosen * 100), reading=settings.qpv_reading, other=_("; reading {reading}: {share}").format(reading=other, share=_pct(other_v * 100)) if other_v is not None else ""),
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
                                    _("On the territory of {name}, the collectivités' reservations in return for loan guarantees reach {share} of the annual flux (cap {cap}).").format(name=p.nom, share=_pct(share), cap=_pct(settings.cap_collectivites_rate)),
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
                                    _("The derogation of the convention {id} runs from {start} to {end}: more than one year, the longest a préfet's derogation may last (R441-5-2 I).").format(id=c.id, start=d.start, end=d.end),
                                    {"convention": c.id, "debut": d.start.isoformat(), "fin": d.end.isoformat()}))
    # One convention per (bailleur, réservataire, perimeter) at any time (R441-5).
    for i, a in enumerate(scope):
        for b in scope[i + 1:]:
            if (a.reservataire, a.departement, a.perimeter) != (b.reservataire, b.departement, b.perimeter):
                continue
            if _overlap(a, b):
                issues.append(Issue("ONE_CONVENTION_PER_SCALE", "error",
                                    _('Two conventions ({a}, {b}) bind the bailleur to the réservataire {reservataire} on the same perimeter and period: only one is allowed (R441-5).').format(a=a.id, b=b.id, reservataire=a.reservataire), {"conventions": [a.id, b.id]}))
    for c in scope:
        r = cf.reservataire(c.reservataire)
        if c.perimeter.commune is not None and r.type != "COLLECTIVITE":
            issues.append(Issue("PERIMETRE_NON_DEPARTEMENTAL", "warning",
                                _('The convention {id} of {name} covers a list of communes: only communes, EPCI, EPT, the Métropole de Lyon and the Ville de Paris have a territorial perimeter (R441-5-3).').format(id=c.id, name=r.nom), {"convention": c.id}))
    for c in scope:
        # R441-3: at least three candidates, except DALO households designated by the préfet
        # (and PLAI adaptés); more than three only when the convention says so.
        typ = cf.reservataire(c.reservataire).type
        if (c.k < 3 and typ != "ETAT_PRIO") or (c.k > 3 and "plus_de_3_candidats" not in c.stipulations):
            issues.append(Issue("SHORTLIST_K", "warning",
                                _('The convention {id} sets {k} candidate(s) per dwelling: the CALEOL examines at least three (R441-3), except DALO households designated by the préfet and PLAI adaptés; more needs the stipulation plus_de_3_candidats.').format(id=c.id, k=c.k),
                                {"convention": c.id, "k": c.k}))
    for c in scope:
        # Action Logement: requalifications without AL'in at least 30 % of its flux (seed Occitanie 2023).
        if c.requalification is not None and c.requalification < _REQUALIFICATION_MIN:
            issues.append(Issue("REQUALIFICATION_AL_30", "warning",
                                _("The convention {id} plans {share} of requalifications outside AL'in: the Occitanie 2023 reference proposes at least {minimum} of the annual flux.").format(id=c.id, share=_pct(c.requalification), minimum=_pct(_REQUALIFICATION_MIN)), {"convention": c.id, "requalification": str(c.requalification)}))
        if c.garantie_fin_pret is not None and not c.in_force(on) and c.garantie_fin_droits < on:
            issues.append(Issue("GARANTIE_ECHUE", "warning",
                                _('The rights of the convention {id} (loan guarantee) ended on {end}, five years after the loan was repaid ({repaid}).').format(id=c.id, end=c.garantie_fin_droits, repaid=c.garantie_fin_pret), {"convention": c.id,
                                                               "fin_droits": c.garantie_fin_droits.isoformat()}))
    in_force = {c.reservataire for c in scope if c.in_force(on)}
    for r in cf.reservataires:
        if r.droits and r.id not in in_force:
            issues.append(Issue("SANS_CONVENTION", "error",
                                _('{name} holds reservation rights but has no convention in force on {date}: its flux falls to the préfet; the reassignment is done by hand.').format(name=r.nom, date=on),
                                {"reservataire": r.id}))
    if cf.settings.report:
        issues.append(Issue("REPORT_NON_GERE", "warning",
                            _('Carrying deficits and surpluses over from one year to the next (report: true) is not computed yet: the targets shown do not include it.'), {}))
    prefet = [c for c in scope if cf.reservataire(c.reservataire).type in ETAT_TYPES and c.signed_on]
    if prefet:
        first = min(c.signed_on for c in prefet)
        for c in scope:
            if c.signed_on and c.signed_on < first and cf.reservataire(c.reservataire).type not in ETAT_TYPES:
                issues.append(Issue("PREFET_SIGNE_APRES", "warning",
                                    _("The convention {id} was signed on {date}, before the préfet's ({first}), which must be signed first.").format(id=c.id, date=c.signed_on, first=first), {"convention": c.id}))
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

"""Bilans (flux.md §12): annual or intermediate, per réservataire, with breakdowns.

One code path for any date range. Counts are additive over vacancies, so every breakdown
sums to its row; charges follow :mod:`decompte`, with the convention's own step and, for
comparison, each of the four steps applied to everybody.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Mapping, Sequence

from cotation.flux.assiette import Assiette
from cotation.flux.checks import etat_hors_qpv, expected_cell_flux
from cotation.flux.conventions import ConventionFile, Settings
from cotation.flux.decompte import Charge, charge_vacancy, resolve_holders
from cotation.flux.errors import Issue
from cotation.i18n import _
from cotation.flux.model import (
    ATTRIBUTION_DECISIONS, BAILLEUR, BILAN_COUNTS, BILAN_DIMENSIONS, ETAT_TYPES, STEPS, Evenement,
    Logement,
)
from cotation.flux.report import render_html
from cotation.flux.rounding import dec_display, largest_remainder, pct_display
from cotation.flux.targets import Targets, party_order

COUNTS = BILAN_COUNTS
DIMENSIONS = BILAN_DIMENSIONS
_EVENT_COUNT = {"DESIGNATION": "designations", "PRESENTATION_CALEOL": "examens_caleol", "REFUS": "refus",
                "DEFAUT_DESIGNATION": "defauts_designation", "RETOUR_BAILLEUR": "retours_bailleur",
                "BAIL_SIGNE": "baux_signes"}


def _dim_value(lg: Logement, dim: str) -> str:
    if dim == "qpv":
        return "QPV" if lg.qpv else "hors QPV"
    if dim == "financement":
        return lg.financement if lg.financement in ("PLAI", "PLUS", "PLS") else "autre"
    return str(lg.attr(dim))


@dataclass
class Bilan:
    start: dt.date
    end: dt.date
    annual: bool
    rows: list[dict]
    breakdowns: dict[str, list[dict]]
    vacances: dict[str, int]
    annexe: dict
    generated_on: dt.date
    issues: list[Issue] = field(default_factory=list)
    delais: dict | None = None   # deadlines per réservataire and status, when conventions declare delays
    bailleur: dict | None = None  # id and name, for the consolidation across bailleurs
    droits_uniques: dict | None = None  # rights used and left per droits-uniques convention

    def as_dict(self) -> dict:
        """The bilan as ``bilan.json`` holds it: the rows' figures as JSON numbers (the CSV and
        the page show the same values as text), null where there is none."""
        return {"periode": {"debut": self.start.isoformat(), "fin": self.end.isoformat(),
                            "annuel": self.annual, "edite_le": self.generated_on.isoformat()},
                "reservataires": [_json_row(r) for r in self.rows], "ventilations": self.breakdowns, "vacances": self.vacances,
                "annexe_bailleur": self.annexe, "issues": [i.as_dict() for i in self.issues],
                **({} if self.delais is None else {"delais": self.delais}),
                **({} if self.bailleur is None else {"bailleur": self.bailleur}),
                **({} if self.droits_uniques is None else {"droits_uniques": self.droits_uniques})}

    def csv_text(self) -> str:
        buf = io.StringIO()
        cols = list(self.rows[0]) if self.rows else ["reservataire"]
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(self.rows)
        return buf.getvalue()

    def breakdown_csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["reservataire", "dimension", "valeur", *COUNTS])
        for dim in DIMENSIONS:
            for r in self.breakdowns[dim]:
                w.writerow([r["reservataire"], dim, r["valeur"], *(r[c] for c in COUNTS)])
        return buf.getvalue()

    def write(self, outdir: str | Path, templates: str | Path | None = None) -> dict[str, Path]:
        """Write bilan.json, bilan.csv, bilan_ventilation.csv and bilan.html; ``templates``: a
        folder whose templates override the shipped ones (docs/templates.md). The page is
        rendered first, so that a broken template leaves no partial output."""
        page = render_html(self, templates)
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "bilan.json", "csv": out / "bilan.csv",
                 "ventilation": out / "bilan_ventilation.csv", "html": out / "bilan.html"}
        paths["json"].write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        paths["csv"].write_text(self.csv_text(), encoding="utf-8")
        paths["ventilation"].write_text(self.breakdown_csv_text(), encoding="utf-8")
        paths["html"].write_text(page, encoding="utf-8")
        return paths


# Figures of a réservataire's row that may be missing ("" in the CSV) or a decimal written for
# display ("7.00", "42.9"): numbers or null in bilan.json.
_FIGURES = ("cible", "cible_flux_realise", "attendu_a_date", "realisation_pct", "deficit",
            "retard_a_date")


def _json_row(row: dict) -> dict:
    out = dict(row)
    for k in _FIGURES:
        v = out.get(k)
        if v == "":
            out[k] = None
        elif isinstance(v, str):
            out[k] = float(v)          # a decimal of 1 or 2 digits, rounded for display
    return out


def compute_bilan(logements: Mapping[str, Logement], events: Sequence[Evenement], cf: ConventionFile,
                  start: dt.date, end: dt.date, *, targets: Targets | None = None,
                  assiette: Assiette | None = None, generated_on: dt.date | None = None) -> Bilan:
    """Bilan of the vacancies with an event between ``start`` and ``end`` (inclusive)."""
    settings = cf.settings
    generated_on = generated_on or end
    annual = start == dt.date(start.year, 1, 1) and end == dt.date(start.year, 12, 31)
    excluded = assiette.excluded if assiette is not None else {}
    scope = assiette.departement if assiette is not None else None
    steps = cf.step_of(start)
    delegated = cf.delegated(start)
    vac: dict[str, list[Evenement]] = {}
    for e in events:
        if scope is None or logements[e.logement_id].departement == scope:
            vac.setdefault(e.vacance_id, []).append(e)
    party_ids = [p.id for p in targets.parties] if targets else []
    seen_ids = {e.reservataire for lst in vac.values() for e in lst if e.reservataire}
    ids = party_ids + sorted((seen_ids | {BAILLEUR}) - set(party_ids), key=lambda r: (r == BAILLEUR, r))
    totals = {r: _zero() for r in ids}
    brk = {d: {} for d in DIMENSIONS}
    in_period = lambda d: start <= d <= end  # noqa: E731
    stats = {"vacances": 0, "hors_flux": 0, "soustraites": 0, "dans_le_flux": 0, "non_decomptees": 0,
             **{f"non_decomptees_{s}": 0 for s in STEPS}, "liberees": 0, "flux_realise": 0}
    sous_realised: dict[str, int] = {}
    hors_flux_codes: dict[str, int] = {}
    etat_charged = {"total": 0, "hors_qpv": 0}
    all_charged_hors_qpv = 0

    for vid in sorted(vac):
        evs = resolve_holders(sorted(vac[vid], key=lambda e: (e.date, e.line)), delegated)
        if not any(in_period(e.date) for e in evs):
            continue
        lg = logements[evs[0].logement_id]
        lib = next((e for e in evs if e.type == "LIBERATION"), None)
        stats["vacances"] += 1
        if lib is not None and in_period(lib.date):
            stats["liberees"] += 1
        if lg.id in excluded:
            stats["hors_flux"] += 1
            hors_flux_codes[excluded[lg.id]] = hors_flux_codes.get(excluded[lg.id], 0) + 1
            continue
        if lib is not None and lib.soustraction:
            stats["soustraites"] += 1
            sous_realised[lib.soustraction] = sous_realised.get(lib.soustraction, 0) + 1
            continue
        stats["dans_le_flux"] += 1
        if lib is not None and in_period(lib.date):
            stats["flux_realise"] += 1
        counts, ch, missed = _count_vacancy(evs, start, end, steps, settings)
        if ch is not None:
            if not lg.qpv:
                all_charged_hors_qpv += 1
            if _is_etat(cf, ch.reservataire):
                etat_charged["total"] += 1
                etat_charged["hors_qpv"] += 0 if lg.qpv else 1
        else:
            stats["non_decomptees"] += 1
        for s in missed:
            stats[f"non_decomptees_{s}"] += 1
        for r, c in counts.items():
            row = totals.setdefault(r, _zero())
            for k, v in c.items():
                row[k] += v
            for dim in DIMENSIONS:
                cell = brk[dim].setdefault((r, _dim_value(lg, dim)), _zero())
                for k, v in c.items():
                    cell[k] += v

    rows = _rows(totals, targets, stats, cf, steps)
    breakdowns = {dim: [{"reservataire": r, "valeur": v, **c}
                        for (r, v), c in sorted(brk[dim].items(), key=lambda kv: (ids.index(kv[0][0]), kv[0][1]))]
                  for dim in DIMENSIONS}
    issues: list[Issue] = []
    if annual:
        deadline = dt.date(start.year + 1, 2, 28)
        if generated_on > deadline:
            issues.append(Issue("BILAN_TARDIF", "warning",
                                _('Annual bilan {year} issued on {issued}, after {deadline} (deadline for sending it to the réservataires and the EPCI).').format(year=start.year, issued=generated_on, deadline=deadline), {}))
    annexe = _annexe(assiette, logements, targets, etat_charged, all_charged_hors_qpv, sous_realised,
                     hors_flux_codes)
    return Bilan(start, end, annual, rows, breakdowns, stats, annexe, generated_on, issues,
                 bailleur={"id": cf.bailleur.id, "nom": cf.bailleur.nom})


def _zero() -> dict[str, int]:
    return {c: 0 for c in COUNTS}


def _count_vacancy(evs: Sequence[Evenement], start: dt.date, end: dt.date, steps: Mapping[str, str],
                   settings: Settings) -> tuple[dict[str, dict[str, int]], Charge | None, list[str]]:
    """Counts per réservataire of one vacancy's events in the period, its charge in the period
    (own steps), and the uniform steps under which it is not charged in the period."""
    counts: dict[str, dict[str, int]] = {}

    def bump(r: str, key: str) -> None:
        counts.setdefault(r, _zero())[key] += 1

    in_period = lambda d: start <= d <= end  # noqa: E731
    mad_seen: set[str] = set()
    for e in evs:
        if e.type == "MISE_A_DISPOSITION" and e.reservataire not in mad_seen:
            mad_seen.add(e.reservataire)  # a new MAD to the same réservataire in the cycle is not a new one
            if in_period(e.date):
                bump(e.reservataire, "mises_a_disposition")
        if not in_period(e.date) or e.reservataire is None:
            continue
        if e.type in _EVENT_COUNT:
            bump(e.reservataire, _EVENT_COUNT[e.type])
        if e.type == "PRESENTATION_CALEOL":
            bump(e.reservataire, "attributions" if e.decision in ATTRIBUTION_DECISIONS else "non_attributions")
    opts = {"defaut_designation": settings.defaut_designation, "refus_adapte": settings.refus_adapte}
    ch = charge_vacancy(evs, steps, **opts)
    if ch is not None and in_period(ch.date):
        bump(ch.reservataire, "decomptes")
    else:
        ch = None
    missed = []
    for s in STEPS:
        chs = charge_vacancy(evs, s, **opts)
        if chs is not None and in_period(chs.date):
            bump(chs.reservataire, f"decompte_{s}")
        else:
            missed.append(s)
    return counts, ch, missed


def _is_etat(cf: ConventionFile, rid: str) -> bool:
    try:
        return cf.reservataire(rid).type in ETAT_TYPES
    except KeyError:
        return False


def _rows(totals: dict[str, dict[str, int]], targets: Targets | None, stats: dict, cf: ConventionFile,
          steps: Mapping[str, str]) -> list[dict]:
    realised: dict[str, int] = {}
    F = 0
    if targets is not None and targets.flux_net:
        # Target on the realised flux: the same exact shares applied to the vacancies that entered it.
        shares = {rid: v for rid, v in targets.exact.items()}
        parties = {p.id: p for p in targets.parties}
        realised = largest_remainder(stats["flux_realise"], shares, lambda r: party_order(parties[r]))
        F = sum(targets.totals.values())
    n = sum(c["mises_a_disposition"] for c in totals.values())
    rows = []
    for rid, c in totals.items():
        try:
            res = cf.reservataire(rid)
            nom, typ = res.nom, res.type
        except KeyError:
            nom, typ = rid, "AUTRE"
        T = targets.totals.get(rid) if targets is not None else None
        row: dict = {"reservataire": rid, "nom": nom, "type": typ,
                     "decompte_etape": steps.get(rid, ""),
                     "cible": "" if T is None else T,
                     "cible_flux_realise": realised.get(rid, "") if realised else "",
                     "attendu_a_date": "" if T is None or not F else dec_display(Fraction(T * n, F), 2)}
        row.update(c)
        if T:
            row["realisation_pct"] = pct_display(Fraction(c["decomptes"], T), 1)
            row["deficit"] = T - c["decomptes"]
            row["retard_a_date"] = dec_display(Fraction(T * n, F) - c["decomptes"], 2) if F else ""
        else:
            row["realisation_pct"] = ""
            row["deficit"] = "" if T is None else -c["decomptes"]
            row["retard_a_date"] = ""
        rows.append(row)
    return rows


def _annexe(assiette: Assiette | None, logements: Mapping[str, Logement], targets: Targets | None,
            etat_charged: dict, all_hors_qpv: int, sous_realised: dict, hors_flux: dict) -> dict:
    out: dict = {"soustractions_realisees": dict(sorted(sous_realised.items())),
                 "hors_flux_par_code": dict(sorted(hors_flux.items()))}
    if assiette is not None:
        a = assiette.as_dict()
        a.pop("lignes", None)
        out["assiette"] = a
    if assiette is not None and targets is not None:
        dims = ("commune", "qpv")
        flux = expected_cell_flux(assiette, logements, dims)
        r = etat_hors_qpv(targets.parties, flux, dims)
        out["etat_hors_qpv_prevu"] = {k: (None if r[k] is None else pct_display(r[k], 2) + " %") for k in ("A", "B")}
    tot, hq = etat_charged["total"], etat_charged["hors_qpv"]
    out["etat_hors_qpv_realise"] = {
        "A": pct_display(Fraction(hq, tot), 2) + " %" if tot else None,
        "B": pct_display(Fraction(hq, all_hors_qpv), 2) + " %" if all_hors_qpv else None,
        "decomptes_etat": tot, "decomptes_etat_hors_qpv": hq, "decomptes_hors_qpv": all_hors_qpv}
    return out

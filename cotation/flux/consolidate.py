"""Consolidation of several bailleurs' bilans for the EPCI and its CIL (seed PACA 2023: figures
"comparées et consolidées" across bailleurs).

Input: the ``bilan.json`` written by ``cotation flux bilan`` for each bailleur (same period).
Réservataires are matched by id across bailleurs, so the conventions files should use the same
ids for the same réservataire. Output: per bailleur and in total, each réservataire's target
and counts; per EPCI (from the commune breakdown and the commune table), each réservataire's
counts summed over the bailleurs. Every total is a plain sum of the inputs, checkable by hand; a
total target is left empty (null in JSON) when one bailleur set none for that réservataire.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cotation.data.communes import communes
from cotation.flux.errors import FluxInputError, Problem
from cotation.flux.model import BILAN_COUNTS
from cotation.i18n import _

TOTAL = "TOTAL"
ALL = "TOUS"
SUMMED = ("cible", *BILAN_COUNTS)


@dataclass(frozen=True)
class BailleurBilan:
    label: str
    periode: dict
    rows: list[dict]
    communes: list[dict]


def read_bilan(path: str | Path) -> BailleurBilan:
    """A bailleur's ``bilan.json`` (or the folder holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / "bilan.json"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        label = doc.get("bailleur", {}).get("id") or p.parent.name
        rows, by_commune = doc["reservataires"], doc["ventilations"]["commune"]
        for r in (*rows, *by_commune):
            _check_counts(r)
        return BailleurBilan(label, doc["periode"], rows, by_commune)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FluxInputError([Problem(str(p), 1, _("not a bilan written by 'cotation flux bilan' "
                                                    "({kind}: {reason})").format(
            kind=exc.__class__.__name__, reason=str(exc).splitlines()[0][:200] if str(exc) else ""))]) from None


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _check_counts(row: dict) -> None:
    """A row of a bilan: its counts are whole numbers, its target one or "" (none set). Anything
    else is not what ``cotation flux bilan`` writes, and summing it as 0 would lower the totals
    silently."""
    for k in BILAN_COUNTS:
        if k in row and not _count(row[k]):
            raise ValueError(_("{field} of {who} is {value!r}, not a count").format(
                field=k, who=row.get("reservataire", "?"), value=row[k]))
    if row.get("cible") == "":          # bilans written before numbers were typed
        row["cible"] = None
    if row.get("cible") is not None and not _count(row["cible"]):
        raise ValueError(_("{field} of {who} is {value!r}, not a count").format(
            field="cible", who=row.get("reservataire", "?"), value=row["cible"]))


def _num(v: object) -> int:
    return v if _count(v) else 0


@dataclass(frozen=True)
class Consolidation:
    periode: dict
    bailleurs: tuple[str, ...]
    reservataires: list[dict]     # bailleur (or TOTAL) × réservataire
    epci: list[dict]              # EPCI × réservataire (or TOUS)

    def as_dict(self) -> dict:
        return {"periode": self.periode, "bailleurs": list(self.bailleurs),
                "reservataires": self.reservataires, "epci": self.epci}


def consolidate(bilans: Sequence[BailleurBilan], epci: str | None = None) -> Consolidation:
    """Sum the bilans; with ``epci``, keep that EPCI only in the territorial table."""
    if not bilans:
        raise ValueError(_('no bilan to consolidate'))
    labels = [b.label for b in bilans]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    periods = {(b.periode.get("debut"), b.periode.get("fin")) for b in bilans}
    problems = []
    if dup:
        problems.append(Problem("--bilan", 1, _('bailleur(s) given twice: {names}').format(names=", ".join(dup))))
    if len(periods) > 1:
        problems.append(Problem("--bilan", 1, _('the bilans do not cover the same period: {periods}').format(
            periods=_("; ").join(f"{a} → {b}" for a, b in sorted(periods)))))
    if problems:
        raise FluxInputError(problems)
    rows: list[dict] = []
    total: dict[str, dict] = {}
    for b in bilans:
        for r in b.rows:
            row = {"bailleur": b.label, "reservataire": r["reservataire"], "nom": r.get("nom", ""),
                   "type": r.get("type", ""), **{k: _num(r.get(k)) for k in SUMMED}}
            rows.append(row)
            own = r["reservataire"] == "BAILLEUR"
            t = total.setdefault(r["reservataire"], {"bailleur": TOTAL, "reservataire": r["reservataire"],
                                                     "nom": "Bailleurs (part propre)" if own else row["nom"],
                                                     "type": row["type"],
                                                     **{k: 0 for k in SUMMED}})
            # a bailleur with no target set for this réservataire ("" in its bilan): the total
            # target is unknown, not the sum of the others
            if r.get("cible") is None:
                row["cible"] = None
            for k in SUMMED:
                t[k] = None if t[k] is None or row[k] is None else t[k] + row[k]
    rows += [total[k] for k in sorted(total, key=lambda r: (r == "BAILLEUR", r))]
    table = communes()
    terr: dict[tuple[str, str], dict] = {}
    for b in bilans:
        for c in b.communes:
            com = table.get(str(c.get("valeur")))
            code = com.epci if com is not None and com.epci else "inconnu"
            if epci is not None and code != epci:
                continue
            name = com.epci_nom if com is not None and com.epci else "commune hors EPCI ou inconnue"
            for who in (c["reservataire"], ALL):
                cell = terr.setdefault((code, who), {"epci": code, "epci_nom": name, "reservataire": who,
                                                     **{k: 0 for k in BILAN_COUNTS}})
                for k in BILAN_COUNTS:
                    cell[k] += _num(c.get(k))
    epci_rows = [terr[k] for k in sorted(terr, key=lambda k: (k[0], k[1] == ALL, k[1] == "BAILLEUR", k[1]))]
    return Consolidation(bilans[0].periode, tuple(labels), rows, epci_rows)


def report_text(c: Consolidation) -> str:
    """A short French report (Markdown) for the EPCI / CIL."""
    p = c.periode
    lines = [f"# Bilan consolidé du {p.get('debut')} au {p.get('fin')}", "",
             f"Bailleurs : {', '.join(c.bailleurs)}.", "", "## Par réservataire, tous bailleurs", "",
             "| Réservataire | Objectif | Mises à disposition | Attributions | Baux signés | Décomptes | "
             "Défauts de désignation |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in c.reservataires:
        if r["bailleur"] == TOTAL:
            cible = r["cible"] if r["cible"] is not None else "non fixé par tous les bailleurs"
            lines.append(f"| {r['nom'] or r['reservataire']} | {cible} | {r['mises_a_disposition']} | "
                         f"{r['attributions']} | {r['baux_signes']} | {r['decomptes']} | {r['defauts_designation']} |")
    lines += ["", "## Par EPCI", "", "| EPCI | Réservataire | Mises à disposition | Attributions | Décomptes |",
              "|---|---|---:|---:|---:|"]
    names = {r["reservataire"]: r["nom"] or r["reservataire"] for r in c.reservataires
             if r["bailleur"] == TOTAL}
    names[ALL] = "Tous réservataires"
    for r in c.epci:
        who = names.get(r["reservataire"], r["reservataire"])
        lines.append(f"| {r['epci_nom']} ({r['epci']}) | {who} | {r['mises_a_disposition']} | "
                     f"{r['attributions']} | {r['decomptes']} |")
    return "\n".join(lines) + "\n"

"""Explanations a reception agent can read out: criterion by criterion, per commune."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cotation.grid import ir
from cotation.engine.interpreter import Interpreter, PairScore
from cotation.engine.scoring import format_hundredths

VALIDATION_LABELS = {
    "automatique": "automatique",
    "justificatif": "sur justificatif",
    "travailleur_social": "par un travailleur social",
    "guichet": "au guichet",
    "commission": "par la commission",
}


@dataclass(frozen=True)
class CriterionLine:
    id: str
    label: str
    section: str | None
    status: str            # met | not_met | set_aside | awaiting_validation
    points: int            # hundredths the criterion yields (0 when not met)
    counted: int           # hundredths it adds to the provisional total
    counted_valide: int    # hundredths it adds to the validated total
    validation: str
    group: str | None
    refusal_effect: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "section": self.section, "status": self.status,
                "points": self.points / 100, "counted": self.counted / 100,
                "counted_valide": self.counted_valide / 100, "validation": self.validation,
                "group": self.group, "refusal_effect": self.refusal_effect}


def criterion_lines(grid: ir.GridIR, pair: PairScore) -> list[CriterionLine]:
    out = []
    for c, o, v in zip(grid.criteria, pair.outcomes, pair.outcomes_valide):
        if not o.met:
            status = "not_met"
        elif o.set_aside:
            status = "set_aside"
        elif v.awaiting_validation:
            status = "awaiting_validation"
        else:
            status = "met"
        out.append(CriterionLine(c.id, c.label, c.section, status, o.points, o.counted, v.counted,
                                 c.validation, c.group, c.refusal_effect))
    return out


_STATUS_FR = {"met": "rempli", "not_met": "non rempli", "set_aside": "écarté",
              "awaiting_validation": "rempli, en attente de validation"}


def render_text(grid: ir.GridIR, pairs: list[PairScore], ranks: dict[str, tuple[int, int]],
                today: dt.date) -> str:
    """The breakdown of one demande's cotation for every commune of the territory it asks."""
    lines: list[str] = []
    if not pairs:
        return "Cette demande n'est pas cotée par cette grille (hors champ ou aucune commune du territoire).\n"
    nu = pairs[0].numero_unique
    lines.append(f"Demande {nu} — {grid.title}")
    lines.append(f"Grille {grid.id}, version {grid.version} (empreinte {grid.source_hash[:12]}), "
                 f"date de référence {today.isoformat()}")
    groups = {g.id: g for g in grid.groups}
    policy_fr = {"max": "le plus favorable retenu", "first": "le premier rempli retenu",
                 "sum": "points additionnés"}
    for pair in pairs:
        rank, n = ranks.get(pair.commune, (0, 0))
        lines.append("")
        lines.append(f"Commune {pair.commune} (choix n°{pair.rang}) : {format_hundredths(pair.score)} points"
                     f" (validés : {format_hundredths(pair.score_valide)}), rang {rank} sur {n}")
        section = object()
        for line in criterion_lines(grid, pair):
            if line.section != section:
                section = line.section
                lines.append(f"  {section or 'Autres critères'}")
            mark = {"met": "[x]", "not_met": "[ ]", "set_aside": "[-]", "awaiting_validation": "[?]"}[line.status]
            detail = _STATUS_FR[line.status]
            if line.status == "set_aside" and line.group:
                g = groups[line.group]
                detail += f" (groupe « {g.label or g.id} » : {policy_fr[g.policy]})"
            if line.status == "awaiting_validation":
                detail += f" — validation {VALIDATION_LABELS[line.validation]}"
            pts = format_hundredths(line.points) if line.status != "not_met" else "0.00"
            lines.append(f"    {mark} {line.label} [{line.id}] : {pts} — {detail}")
        for g in grid.groups:
            if g.cap is not None or g.floor is not None:
                lines.append(f"  Groupe « {g.label or g.id} » : {format_hundredths(pair.group_points[g.id])}"
                             " après plafond/plancher du groupe")
    if grid.refusal_policy:
        lines.append("")
        lines.append("Effets d'un refus : " + " ".join(grid.refusal_policy.split()))
    return "\n".join(lines) + "\n"


def explain_demande(grid: ir.GridIR, row: dict, row_index: int, today: dt.date) -> list[PairScore]:
    return Interpreter(grid).score_row(row_index, row, today)

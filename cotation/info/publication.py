"""The published grid: the grid as the public reads it, in French, as a print-ready A4 HTML page.

:func:`publication_html` is the whole interface (the CLI's ``cotation publish`` and the studio call
it). Every sentence about a criterion reuses the statements' wording
(:mod:`cotation.info.statements.wording`), so the published grid and the statements say the same
thing in the same words. The page (``publication.html``, ``publication.css`` and two empty hooks,
``publication_header.html`` / ``publication_footer.html``) ships in ``cotation/info/templates``;
an EPCI's folder overrides any of them by name (docs/templates.md).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cotation.data.communes import communes as commune_table
from cotation.grid import ir
from cotation.info.statements.wording import (
    VALIDATION_FR, cell_text, date_fr, expr_fr, group_rule_fr, number_fr, ordering_fr, rule_fr,
    typo_short,
)
from cotation.templating import check_templates, environment, escape_text, render

PAGE = "publication.html"
TEMPLATES = (PAGE, "publication.css", "publication_header.html", "publication_footer.html")

_WHO_VALIDATES = {
    "automatique": "aucune : le critère est calculé à partir de la demande",
    "justificatif": "une pièce justificative, contrôlée par le service enregistreur",
    "travailleur_social": "l'avis d'un travailleur social",
    "guichet": "une vérification au guichet",
    "commission": "une décision de la commission compétente",
}
_STATISTIC = {"mean": "la moyenne", "median": "la médiane"}


def default_commune_names(codes: tuple[str, ...] | list[str]) -> dict[str, str]:
    """INSEE code → name from the shipped Code officiel géographique (codes it does not know are
    left out)."""
    table = commune_table()
    return {c: table[c].nom for c in codes if c in table}


def publication_environment(templates: str | Path | None = None):
    return environment("cotation.info", None if templates is None else str(templates), escape_text)


def check_publication_templates(templates: str | Path | None = None) -> None:
    """Compile the publication templates now (raises TemplatesError with file and line)."""
    check_templates(publication_environment(templates), TEMPLATES)


def publication_context(grid_ir: ir.GridIR, commune_names: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything the published grid shows, as plain French sentences and lists."""
    names = default_commune_names(grid_ir.communes)
    names.update(commune_names or {})
    group_of = {g.id: g for g in grid_ir.groups}
    mark = {g.id: f"({'abcdefghijklmnopqrstuvwxyz'[k % 26]}{'' if k < 26 else k // 26})"
            for k, g in enumerate(grid_ir.groups)}
    sections: list[dict[str, Any]] = []
    for c in grid_ir.criteria:
        title = c.section or "Autres critères"
        if not sections or sections[-1]["title"] != title:
            sections.append({"title": title, "criteria": []})
        g = group_of.get(c.group) if c.group else None
        sections[-1]["criteria"].append({
            "id": c.id, "label": c.label,
            "condition": "toujours" if c.when is None else expr_fr(c.when, grid_ir),
            "rule": rule_fr(c, grid_ir),
            "proof": VALIDATION_FR.get(c.validation, "").removeprefix("vérification : ") or "aucune",
            "group": mark[g.id] if g else None,
            "legal_priority": c.legal_priority, "refusal_effect": c.refusal_effect,
            "source": c.source,
        })
    groups = [{"mark": mark[g.id], "label": g.label or g.id, "rule": group_rule_fr(g),
               "members": [grid_ir.criteria[j].label for j in g.members]} for g in grid_ir.groups]
    totals = []
    if grid_ir.total_floor is not None:
        totals.append(f"Le total ne peut pas être inférieur à {number_fr(grid_ir.total_floor)} points.")
    if grid_ir.total_cap is not None:
        totals.append(f"Le total ne peut pas dépasser {number_fr(grid_ir.total_cap)} points.")
    if not totals:
        totals.append("Le total n'a ni plancher ni plafond : les points des rubriques s'additionnent.")
    validations = sorted({c.validation for c in grid_ir.criteria if c.validation != "automatique"})
    example = {"loc.commune": grid_ir.communes[0] if grid_ir.communes else "", "typologie": "T2",
               "est_mutation": False}
    levels = [grid_ir.peers_by, *grid_ir.peers_fallback]
    peers = list(dict.fromkeys(cell_text(level, example, names, grid_ir.territory_name, "demandes")
                               for level in levels))
    delai = [f"{typo_short(None if t in ('', 'null') else t)} : {m} mois"
             for t, m in sorted(grid_ir.delai_anormalement_long.items())]
    return {
        "title": grid_ir.title, "id": grid_ir.id, "version": grid_ir.version,
        "effective_from": date_fr(grid_ir.effective_from),
        "territory": grid_ir.territory_name, "epci_siren": grid_ir.epci_siren,
        "communes": [{"code": c, "name": names.get(c)} for c in grid_ir.communes],
        "sections": sections, "groups": groups, "totals": totals,
        "validations": [{"kind": VALIDATION_FR[v].removeprefix("vérification : "),
                         "who": _WHO_VALIDATES[v],
                         "criteria": [c.label for c in grid_ir.criteria if c.validation == v]}
                        for v in validations],
        "legal": [c.label for c in grid_ir.criteria if c.legal_priority],
        "ordering": ordering_fr(grid_ir),
        "refusal_policy": " ".join((grid_ir.refusal_policy or "").split()) or None,
        "refusal_criteria": [c.label for c in grid_ir.criteria if c.refusal_effect],
        "peers_min_size": grid_ir.peers_min_size, "peers_example": peers,
        "waiting_statistic": _STATISTIC.get(grid_ir.waiting_statistic, grid_ir.waiting_statistic),
        "waiting_window_months": grid_ir.waiting_window_months,
        "delai": delai, "hash": grid_ir.source_hash[:16],
    }


def publication_html(grid, *, commune_names: dict[str, str] | None = None,
                     templates: str | Path | None = None, today: dt.date | None = None) -> str:
    """The published grid as a self-contained, print-ready A4 HTML page (French).

    ``grid`` is what :func:`cotation.grid.load_grid` returns (its ``.ir`` is read; a bare
    :class:`~cotation.grid.ir.GridIR` is accepted too). ``commune_names`` (INSEE code → name)
    overrides the shipped names; ``templates`` is an EPCI's folder of overriding templates;
    ``today``, when given, is printed as the document's date.
    Deterministic: the same grid gives the same bytes.
    """
    grid_ir = getattr(grid, "ir", grid)
    g = publication_context(grid_ir, commune_names)
    g["today"] = None if today is None else date_fr(today)
    return render(publication_environment(templates), PAGE, g=g)

"""Self-contained HTML bilan, rendered from template files (Jinja2): tables and inline SVG bar
charts, no external asset, no script.

The page (``bilan.html``), its style (``bilan.css``) and two empty hooks (``bilan_header.html``,
``bilan_footer.html``) ship in ``cotation/flux/templates``; a folder given as ``templates``
overrides any of them by name (docs/templates.md). The template receives ``bilan`` (the
:class:`cotation.flux.bilan.Bilan`) and ``view``: the figures each chart draws, computed here.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Sequence

from babel.dates import format_date
from babel.numbers import format_decimal
from markupsafe import Markup

from cotation.data.communes import communes as commune_table

from cotation.flux.model import BILAN_COUNTS as COUNTS, BILAN_DIMENSIONS as DIMENSIONS, STEP_LABELS, STEPS
from cotation.templating import environment, escape_all as E, render

PAGE = "bilan.html"
TEMPLATES = (PAGE, "bilan.css", "bilan_header.html", "bilan_footer.html")
_PALETTE = ("#1f5fa8", "#e07b28", "#3a9a48", "#b8333a", "#7d5ba6", "#8c6d31", "#c85ca6", "#6b6b6b")


def bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
         stacked: bool = False) -> Markup:
    """Horizontal bar chart as inline SVG: one group per label, one bar (or stack segment) per
    series. Geometry only: its texts are the title, labels and series names it is given."""
    if not labels:
        return Markup("")
    row_h = 16 if stacked else 12 * len(series) + 6
    left, width = 230, 620  # room for a 34-character label at 11 px
    height = 30 + row_h * len(labels) + 24 * ((len(series) + 3) // 4)
    top = max((sum(v[i] for _, v in series) if stacked else max(v[i] for _, v in series))
              for i in range(len(labels))) or 1
    scale = (width - 60) / top
    # A viewBox, so that the chart scales down to the page's width (A4) instead of overflowing.
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width}" height="{height}" '
             f'viewBox="0 0 {left + width} {height}" '
             f'role="img" aria-label="{E(title)}"><title>{E(title)}</title>']
    for i, lab in enumerate(labels):
        y = 10 + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + row_h / 2 + 3:.1f}" text-anchor="end">{E(lab)}</text>')
        x = left
        for j, (_, vals) in enumerate(series):
            v = vals[i]
            w = v * scale
            color = _PALETTE[j % len(_PALETTE)]
            if stacked:
                if w > 0:
                    parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" fill="{color}">'
                                 f'<title>{E(series[j][0])}: {v:g}</title></rect>')
                x += w
            else:
                by = y + 3 + j * 12
                parts.append(f'<rect x="{left}" y="{by}" width="{w:.1f}" height="10" fill="{color}"/>')
                parts.append(f'<text x="{left + w + 4:.1f}" y="{by + 9}">{v:g}</text>')
        if stacked:
            parts.append(f'<text x="{x + 4:.1f}" y="{y + row_h / 2 + 3:.1f}">{sum(v[i] for _, v in series):g}</text>')
    ly = 20 + row_h * len(labels)
    for j, (name, _) in enumerate(series):
        lx = left + (j % 4) * 150
        yy = ly + (j // 4) * 18
        parts.append(f'<rect x="{lx}" y="{yy}" width="10" height="10" fill="{_PALETTE[j % len(_PALETTE)]}"/>'
                     f'<text x="{lx + 14}" y="{yy + 9}">{E(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# Labels instead of codes on the page (the CSV and JSON keep the codes).
CODE_LABELS = {
    "NON_CONVENTIONNE_PLI": "logements non conventionnés (PLI)",
    "FOYER_RESIDENCE_SOCIALE": "foyers et résidences sociales", "MEDICO_SOCIAL": "établissements médico-sociaux",
    "ETUDIANT": "logements étudiants", "DEFENSE_SECURITE": "logements réservés défense et sécurité",
    "ETABLISSEMENT_SANTE": "logements réservés aux établissements de santé", "VENTE": "logements vendus",
    "DEMOLITION": "démolitions", "AUTORISATION_PREFET": "sorties autorisées par le préfet",
    "MUTATION": "mutations internes", "ANRU": "relogements ANRU (renouvellement urbain)",
    "RELOGEMENT_HORS_ANRU": "relogements hors ANRU", "ORCOD": "relogements ORCOD", "LHI": "lutte contre l'habitat indigne",
    **STEP_LABELS,
}
COUNT_LABELS = {
    "mises_a_disposition": "Mises à disposition", "designations": "Candidats désignés",
    "examens_caleol": "Examens CALEOL", "attributions": "Attributions", "non_attributions": "Non-attributions",
    "refus": "Refus", "defauts_designation": "Défauts de désignation", "retours_bailleur": "Retours au bailleur",
    "baux_signes": "Baux signés", "decomptes": "Décomptés",
    **{f"decompte_{s}": f"Décomptés à l'étape « {STEP_LABELS[s]} »" for s in STEPS},
}
_DECIMAL = re.compile(r"^(-?\d+(?:\.\d+)?)(\s*%)?$")


def number_fr(v: Any) -> str:
    """A figure in French (Babel): 8.73 → '8,73', '7.9914 %' → '7,9914 %', 1234 → '1 234'.
    Text that is not a number (a fraction '37/463', a label) is returned as it is."""
    if isinstance(v, bool) or v is None:
        return "" if v is None else ("oui" if v else "non")
    if isinstance(v, (int, float, Decimal)):
        return format_decimal(v, locale="fr_FR", group_separator=True, decimal_quantization=False)
    m = _DECIMAL.match(str(v).strip())
    if not m:
        return str(v)
    try:
        text = format_decimal(Decimal(m.group(1)), locale="fr_FR", decimal_quantization=False)
    except InvalidOperation:
        return str(v)
    return text + ("\u00a0%" if m.group(2) else "")


def date_fr(d: dt.date) -> str:
    """'1er janvier 2025', '15 février 2026' (Babel, with the French ordinal of the first)."""
    text = format_date(d, "d MMMM y", locale="fr_FR")
    return "1er" + text[1:] if d.day == 1 else text


def label(code: Any) -> str:
    """The French label of a code of the bilan (step, exclusion, soustraction), else the code."""
    return CODE_LABELS.get(str(code), str(code))


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _num(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) else 0.0


def bilan_view(bilan: Any) -> dict:
    """What the charts draw: per réservataire series, per step, per breakdown value."""
    rows = bilan.rows
    value_labels = _value_labels(bilan)
    dims = {}
    for dim in DIMENSIONS:
        values = sorted({r["valeur"] for r in bilan.breakdowns[dim]})
        by = {(r["reservataire"], r["valeur"]): r for r in bilan.breakdowns[dim]}
        dims[dim] = [(value_labels[dim].get(str(v), str(v)),
                      [_num(by.get((r["reservataire"], v), {}).get("decomptes", 0)) for r in rows])
                     for v in values]
    return {
        "kind": "annuel" if bilan.annual else "intermédiaire",
        "names": [_short(r["nom"]) for r in rows],
        "cible": [_num(r["cible"]) for r in rows],
        "decomptes": [_num(r["decomptes"]) for r in rows],
        "steps": [(STEP_LABELS[s], [_num(r[f"decompte_{s}"]) for r in rows]) for s in STEPS],
        "dimensions": DIMENSIONS,
        "by_dimension": dims,
        # The per-step décomptes stay in the CSV and JSON; the page shows the retained one.
        "count_columns": [(c, COUNT_LABELS.get(c, c.replace("_", " "))) for c in COUNTS
                          if not c.startswith("decompte_")],
        "reservataire_names": {r["reservataire"]: r["nom"] for r in rows},
        "value_labels": value_labels,
    }


def _value_labels(bilan: Any) -> dict[str, dict[str, str]]:
    """Per breakdown dimension, value → what the page shows (commune names from the shipped
    Code officiel géographique)."""
    table = commune_table()
    out: dict[str, dict[str, str]] = {}
    for dim in DIMENSIONS:
        values = {str(r["valeur"]) for r in bilan.breakdowns[dim]}
        if dim == "commune":
            out[dim] = {v: (f"{table[v].nom} ({v})" if v in table else v) for v in values}
        else:
            out[dim] = {v: v for v in values}
    return out


def bilan_environment(templates: str | Path | None = None):
    """The Jinja2 environment of the bilan (shipped templates, ``templates`` folder first)."""
    return environment("cotation.flux", None if templates is None else str(templates), E,
                       (("bars", bars), ("number_fr", number_fr), ("date_fr", date_fr),
                        ("label", label)))


def render_html(bilan: Any, templates: str | Path | None = None) -> str:
    """The bilan (a :class:`cotation.flux.bilan.Bilan`) as one HTML page; same bilan, same bytes."""
    env = bilan_environment(templates)
    return render(env, PAGE, bilan=bilan, view=bilan_view(bilan))

"""Self-contained HTML bilan: tables and inline SVG bar charts, no external asset, no script."""
from __future__ import annotations

from html import escape
from typing import Any, Sequence

from cotation.flux.model import BILAN_COUNTS as COUNTS, BILAN_DIMENSIONS as DIMENSIONS, STEP_LABELS, STEPS

_PALETTE = ("#1f5fa8", "#e07b28", "#3a9a48", "#b8333a", "#7d5ba6", "#8c6d31", "#c85ca6", "#6b6b6b")
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f2f2f2}
.issue{padding:.3rem .6rem;margin:.3rem 0;border-left:4px solid #e07b28;background:#fff6ee}
.error{border-color:#b8333a;background:#fdeeee}svg text{font-size:11px;font-family:inherit}
.wide{overflow-x:auto}
"""


def _bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
          stacked: bool = False) -> str:
    """Horizontal bar chart: one group per label, one bar (or stack segment) per series."""
    if not labels:
        return ""
    row_h = 16 if stacked else 12 * len(series) + 6
    left, width = 230, 620  # room for a 34-character label at 11 px
    height = 30 + row_h * len(labels) + 24 * ((len(series) + 3) // 4)
    top = max((sum(v[i] for _, v in series) if stacked else max(v[i] for _, v in series))
              for i in range(len(labels))) or 1
    scale = (width - 60) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width}" height="{height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, lab in enumerate(labels):
        y = 10 + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + row_h / 2 + 3:.1f}" text-anchor="end">{escape(lab)}</text>')
        x = left
        for j, (_, vals) in enumerate(series):
            v = vals[i]
            w = v * scale
            color = _PALETTE[j % len(_PALETTE)]
            if stacked:
                if w > 0:
                    parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" fill="{color}">'
                                 f'<title>{escape(series[j][0])}: {v:g}</title></rect>')
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
                     f'<text x="{lx + 14}" y="{yy + 9}">{escape(name)}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


def _table(rows: Sequence[dict], cols: Sequence[tuple[str, str]]) -> str:
    head = "".join(f"<th>{escape(label)}</th>" for _, label in cols)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(r.get(k, '')))}</td>" for k, _ in cols) + "</tr>" for r in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _num(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) else 0.0


def render_html(bilan: Any) -> str:
    """The bilan (a :class:`cotation.flux.bilan.Bilan`) as one HTML page; same bilan, same bytes."""
    rows = bilan.rows
    names = [_short(r["nom"]) for r in rows]
    kind = "annuel" if bilan.annual else "intermédiaire"
    out = [f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
           f'<title>Bilan {kind} de la gestion en flux</title><style>{_CSS}</style></head><body>',
           f"<h1>Bilan {kind} de la gestion en flux — du {bilan.start:%d/%m/%Y} au {bilan.end:%d/%m/%Y}</h1>",
           f"<p>Édité le {bilan.generated_on:%d/%m/%Y}. Vacances examinées: {bilan.vacances['vacances']} "
           f"(dans le flux: {bilan.vacances['dans_le_flux']}, soustraites: {bilan.vacances['soustraites']}, "
           f"hors flux: {bilan.vacances['hors_flux']}, non décomptées sur la période: "
           f"{bilan.vacances['non_decomptees']}).</p>"]
    for i in bilan.issues:
        out.append(f'<p class="issue {"error" if i.is_error else ""}">{escape(i.code)}: {escape(i.message)}</p>')
    out.append("<h2>Objectifs et réalisation</h2>")
    out.append(_bars("Cible annuelle et logements décomptés", names,
                     [("cible", [_num(r["cible"]) for r in rows]),
                      ("décomptés", [_num(r["decomptes"]) for r in rows])]))
    out.append(_table(rows, [("nom", "Réservataire"), ("decompte_etape", "Étape de décompte"), ("cible", "Cible"),
                             ("cible_flux_realise", "Cible sur flux réalisé"), ("attendu_a_date", "Attendu à date"),
                             ("decomptes", "Décomptés"), ("realisation_pct", "Réalisation %"),
                             ("deficit", "Déficit")]))
    out.append("<h2>Les quatre étapes du processus</h2>")
    out.append(_bars("Logements décomptés selon l'étape retenue", names,
                     [(STEP_LABELS[s], [_num(r[f"decompte_{s}"]) for r in rows]) for s in STEPS]))
    out.append(_table(rows, [("nom", "Réservataire"), ("mises_a_disposition", "Mises à disposition"),
                             ("designations", "Candidats désignés"), ("examens_caleol", "Examens CALEOL"),
                             ("attributions", "Attributions"), ("non_attributions", "Non-attributions"),
                             ("baux_signes", "Baux signés"), ("refus", "Refus"),
                             ("defauts_designation", "Défauts de désignation"),
                             ("retours_bailleur", "Retours au bailleur")]))
    labels = {"typologie": "typologie", "financement": "financement", "qpv": "localisation QPV",
              "commune": "commune"}
    for dim in DIMENSIONS:
        values = sorted({r["valeur"] for r in bilan.breakdowns[dim]})
        by = {(r["reservataire"], r["valeur"]): r for r in bilan.breakdowns[dim]}
        series = [(v, [_num(by.get((r["reservataire"], v), {}).get("decomptes", 0)) for r in rows]) for v in values]
        out.append(f"<h2>Décomptes par {labels[dim]}</h2>")
        out.append(_bars(f"Logements décomptés par {labels[dim]}", names, series, stacked=True))
        out.append(_table(bilan.breakdowns[dim], [("reservataire", "Réservataire"), ("valeur", labels[dim]),
                                                  *((c, c.replace("_", " ")) for c in COUNTS)]))
    annexe = bilan.annexe
    out.append("<h2>Annexe bailleur</h2>")
    a = annexe.get("assiette")
    if a:
        lines = [{"poste": "Patrimoine au 1er janvier", "valeur": a["patrimoine"]}]
        lines += [{"poste": f"Exclusion {k}", "valeur": v} for k, v in a["exclusions"].items()]
        lines += [{"poste": "Base", "valeur": a["base"]},
                  {"poste": "Taux de rotation",
                   "valeur": a["rotation"]["taux_affiche"] or "méthode des baux signés"},
                  {"poste": "Libérations estimées", "valeur": a["liberations_estimees"]},
                  {"poste": "Mises en service", "valeur": a["mises_en_service"]},
                  {"poste": "Flux brut", "valeur": a["flux_brut"]}]
        lines += [{"poste": f"Soustraction {k}", "valeur": v} for k, v in a["soustractions"].items()]
        lines += [{"poste": "Flux net", "valeur": a["flux_net"]}]
        out.append(_table(lines, [("poste", "Poste"), ("valeur", "Valeur")]))
    hq = annexe.get("etat_hors_qpv_prevu")
    real = annexe["etat_hors_qpv_realise"]
    out.append("<p>Part de l'État hors QPV — lecture A (part du flux de l'État située hors QPV), "
               "lecture B (taux de l'État sur le flux hors QPV): "
               + (f"prévue A {escape(str(hq['A']))}, B {escape(str(hq['B']))}; " if hq else "")
               + f"réalisée A {escape(str(real['A']))}, B {escape(str(real['B']))}.</p>")
    sr = annexe["soustractions_realisees"]
    if sr:
        out.append(_table([{"categorie": k, "n": v} for k, v in sr.items()],
                          [("categorie", "Soustraction réalisée"), ("n", "Vacances")]))
    out.append("</body></html>\n")
    return "".join(out)

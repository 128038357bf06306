"""Writing an evaluation: tables (CSV, Parquet), ``summary.json`` and the French A4 report."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cotation.analysis.evaluate import Evaluation
from cotation.analysis.output import bar_chart, render, write_json, write_table

OBJECTIVE_LABELS = {
    "prioritaires": "Publics prioritaires (DALO, priorité légale, public reconnu prioritaire)",
    "dalo": "Ménages reconnus DALO",
    "quartile1_hors_qpv": "Hors QPV : ménages du premier quartile de ressources",
}

# the same, short enough for the left margin of a bar chart
SHORT_OBJECTIVE_LABELS = {"prioritaires": "publics prioritaires", "dalo": "ménages DALO",
                          "quartile1_hors_qpv": "1er quartile hors QPV"}


_S, _F, _I, _B, _D = pa.string(), pa.float64(), pa.int64(), pa.bool_(), pa.date32()
# Parquet types of the tables, whatever their values (a column may be missing everywhere:
# quartile1 without a threshold, an empty table of demandes to review).
TYPES = {
    "attributions": {"numero_unique": _S, "date_attribution": _D, "commune": _S, "typologie": _S,
                     "financement": _S, "reservataire": _S, "qpv": _B, "statut": _S, "score": _F,
                     "rang": _I, "candidats": _I, "part": _F, "decile": _I, "rang_commune": _I,
                     "candidats_commune": _I, "anciennete_mois": _I, "dalo": _B,
                     "prioritaire": _B, "priorite_legale": _B, "quartile1": _B},
    "deciles": {"dimension": _S, "valeur": _S, "attributions": _I,
                **{f"d{d}": _I for d in range(1, 11)}, "part_moyenne": _F},
    "bien_classees_en_attente": {"numero_unique": _S, "commune": _S, "typologie": _S,
                                 "score": _F, "rang": _I, "candidats": _I, "part": _F,
                                 "decile": _I, "date_depot": _D, "anciennete_mois": _I,
                                 "delai_anormalement_long": _I, "criteres": _S},
    "criteres": {"critere": _S, "libelle": _S, "priorite_legale": _B, "attribuees": _I,
                 "part_attribuees": _F, "en_attente": _I, "part_en_attente": _F},
}


def write_evaluation(ev: Evaluation, directory: str | Path) -> list[str]:
    """Every output file of ``cotation evaluate`` in ``directory``; the names written."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    files = []
    for name, cols in (("attributions", ev.attributions), ("deciles", ev.deciles),
                       ("bien_classees_en_attente", ev.waiting), ("criteres", ev.criteria)):
        files += write_table(cols, d, name, TYPES[name])
    write_json(ev.summary, d / "summary.json")
    (d / "rapport.html").write_text(report_html(ev), encoding="utf-8")
    return files + ["summary.json", "rapport.html"]


def report_html(ev: Evaluation) -> str:
    s = ev.summary
    dist = s["rang"]["deciles"]
    n_ranked = sum(dist)
    decile_chart = bar_chart([f"{d}e décile" if d > 1 else "1er décile" for d in range(1, 11)],
                             [100 * c / n_ranked if n_ranked else 0.0 for c in dist], unit=" %",
                             reference=10.0, reference_label="10 % : rang sans effet")
    objectives = [o for o in s["objectifs"] if o["atteint_pct"] is not None]
    objective_chart = bar_chart([SHORT_OBJECTIVE_LABELS.get(o["objectif"], o["objectif"])
                                 for o in objectives],
                                [o["atteint_pct"] for o in objectives], unit=" %",
                                targets=[o["cible_pct"] for o in objectives])
    crit = ev.criteria
    rows = [i for i in range(len(crit["critere"]))
            if (crit["attribuees"][i] or crit["en_attente"][i])]
    by_dim = {}
    dec = ev.deciles
    for i, dim in enumerate(dec["dimension"]):
        if dim != "ensemble":
            by_dim.setdefault(dim, []).append({
                "valeur": dec["valeur"][i], "n": dec["attributions"][i],
                "premier": sum(dec[f"d{d}"][i] for d in range(1, 3)),
                "part_moyenne": dec["part_moyenne"][i]})
    label = dict(zip(crit["critere"], crit["libelle"]))
    waiting = [{k: v[i] for k, v in ev.waiting.items()}
               for i in range(len(ev.waiting["numero_unique"]))]
    for w in waiting:      # the criteria met, by their labels (the CSV keeps the ids)
        w["criteres"] = ", ".join(label.get(c, c) for c in w["criteres"].split("|") if c)
    return render("evaluation.html.j2", s=s, decile_chart=decile_chart,
                  objective_chart=objective_chart, objectives=s["objectifs"],
                  labels=OBJECTIVE_LABELS, by_dim=by_dim, waiting=waiting,
                  criteria=[{k: v[i] for k, v in crit.items()} for i in rows])

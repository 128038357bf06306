"""Generate ``docs/reference.md`` from the code and the schema, so it stays true.

Run ``python tools/gen_docs.py`` after changing the grid schema, the canonical columns, the
functions of the language, the CLI's exit codes or its outputs; ``tests/test_docs.py`` fails
when the committed file differs from what this script writes.
"""
from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reference.md"

# One example per operator and function of the expression language (each is checked to parse
# and type-check by tests/test_docs.py against the example grid's fields).
OPERATORS = [
    ("`==` `!=`", "égal, différent", "dalo_statut == 'actif'"),
    ("`<` `<=` `>` `>=`", "comparaison de nombres ou de dates", "anciennete_mois >= 24"),
    ("`+` `-` `*` `/`", "arithmétique (décimale exacte)", "ressources_mensuelles / nb_personnes"),
    ("`and` `or` `not`", "logique à trois valeurs (une valeur absente donne « inconnu »)",
     "est_mutation and not dalo_statut == 'actif'"),
    ("`in` `not in`", "appartenance à un ensemble ou à un champ ensemble", "'sante' in motifs"),
    ("`between … and …`", "bornes incluses", "age between 18 and 30"),
    ("`if … then … else …`", "valeur conditionnelle", "if nb_enfants > 2 then 10 else 5"),
    ("`{…}`", "ensemble de valeurs", "typologie_actuelle in {'T1', 'T2'}"),
    ("`loc.commune` `loc.rang` `loc.epci`", "la localisation cotée", "loc.rang == 1"),
]
FUNCTIONS = {
    "min": ("plus petite valeur", "min(anciennete_mois, 60)"),
    "max": ("plus grande valeur", "max(nb_enfants, 1)"),
    "clamp": ("valeur bornée entre un minimum et un maximum", "clamp(anciennete_mois, 0, 120)"),
    "abs": ("valeur absolue", "abs(ressources_mensuelles - 1000)"),
    "floor": ("arrondi à l'entier inférieur", "floor(anciennete_mois / 12)"),
    "ceil": ("arrondi à l'entier supérieur", "ceil(anciennete_mois / 12)"),
    "round": ("arrondi à n décimales (0 à 6)", "round(ressources_mensuelles / 3, 2)"),
    "months_between": ("mois révolus entre deux dates", "months_between(date_depot, today)"),
    "years_between": ("années révolues entre deux dates", "years_between(date_naissance, today)"),
    "days_between": ("jours entre deux dates", "days_between(date_depot, today)"),
    "is_missing": ("vrai si la valeur est absente", "is_missing(ressources_mensuelles)"),
    "coalesce": ("première valeur présente", "coalesce(aide_logement, 0)"),
    "has": ("l'ensemble contient la valeur", "has(motifs, 'sante')"),
}
EXIT_CODES = [
    (0, "terminé (pour `validate` : toutes les grilles sont valides ; pour `test` : tous les cas passent)"),
    (1, "entrée ou grille invalide : fichier introuvable, vide ou illisible, grille qui ne se "
        "valide pas, cas de test en échec, contrôles réglementaires du flux en échec"),
    (2, "erreur d'usage : option inconnue ou manquante, date mal écrite, extension de sortie "
        "inconnue, dossier à la place d'un fichier (ou l'inverse), sortie qui écraserait une entrée"),
    (3, "erreur interne (un défaut du logiciel, à signaler ; `COTATION_DEBUG=1` affiche le détail)"),
    (130, "interrompu (Ctrl-C) ; aucune sortie n'est laissée à moitié écrite"),
]
SCORE_COLUMNS = [
    ("numero_unique", "texte", "numéro unique de la demande"),
    ("commune", "texte (code INSEE, garder le zéro initial : `06088`)", "commune cotée"),
    ("score", "décimal (CSV : texte à deux décimales)", "score avant validation"),
    ("score_valide", "décimal (CSV : texte à deux décimales)", "score après validation des pièces"),
    ("rank", "entier", "rang dans la commune (1 = premier)"),
    ("pts_<critère>", "décimal", "points du critère (`--explain`)"),
    ("grid_id, grid_version, grid_hash, today", "texte", "audit (`--audit`, toujours en Parquet)"),
]


def _schema() -> dict:
    return json.loads((resources.files("cotation.grid") / "grid.schema.json").read_text("utf-8"))


def _keys(node: dict, defs: dict, path: str, out: list, seen: set) -> None:
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        target = defs[name]
        if name in seen:
            return
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen = seen | {name}
    for key, sub in (node.get("properties") or {}).items():
        full = f"{path}.{key}" if path else key
        required = key in (node.get("required") or [])
        desc = sub.get("description") or defs.get(sub.get("$ref", "").split("/")[-1], {}).get("description", "")
        out.append((full, "oui" if required else "non", desc.replace("\n", " ")))
        _keys(sub, defs, full, out, seen)
    items = node.get("items")
    if isinstance(items, dict):
        _keys(items, defs, path + "[]", out, seen)
    for alt in node.get("oneOf", []) + node.get("anyOf", []):
        if isinstance(alt, dict):
            _keys(alt, defs, path, out, seen)
    add = node.get("additionalProperties")
    if isinstance(add, dict):
        _keys(add, defs, path + ".<nom>", out, seen)


def render() -> str:
    sys.path.insert(0, str(ROOT))
    from cotation.data.schema import (ATTRIBUTION_COLUMNS, ATTRIBUTION_OPTIONAL_COLUMNS, COLUMNS,
                                      DERIVED, FINANCEMENTS, LOC_FIELDS)
    from cotation.grid.ir import FUNCTIONS as LANGUAGE_FUNCTIONS

    missing = set(LANGUAGE_FUNCTIONS) ^ set(FUNCTIONS)
    if missing:
        raise SystemExit(f"tools/gen_docs.py: functions without an example or gone: {sorted(missing)}")
    schema = _schema()
    lines = ["# Référence", "",
             "<!-- Généré par `python tools/gen_docs.py` à partir du schéma et du code ; ne pas "
             "modifier à la main (tests/test_docs.py le vérifie). -->", "",
             "Voir aussi : [le format des grilles](grid-format.md), [les demandes](demande-schema.md), "
             "[le domaine](domain.md), [la gestion en flux](flux.md), "
             "[les décisions du langage](grid-language.md).", "",
             "## Clés d'une grille", "",
             f"Schéma JSON : `cotation/grid/grid.schema.json` (copie pour les éditeurs : "
             f"`grids/grid.schema.json`). Titre : {schema.get('title', '')}.", "",
             "| clé | obligatoire | description |", "|---|---|---|"]
    rows: list = []
    _keys(schema, schema.get("$defs", {}), "", rows, set())
    seen_rows = set()
    for key, req, desc in rows:
        if key in seen_rows:
            continue
        seen_rows.add(key)
        lines.append(f"| `{key}` | {req} | {desc} |")
    lines += ["", "## Langage des expressions", "", "| opérateur | sens | exemple |", "|---|---|---|"]
    lines += [f"| {op} | {meaning} | `{example}` |" for op, meaning, example in OPERATORS]
    lines += ["", "| fonction | sens | exemple |", "|---|---|---|"]
    lines += [f"| `{name}` | {FUNCTIONS[name][0]} | `{FUNCTIONS[name][1]}` |" for name in LANGUAGE_FUNCTIONS]
    lines += ["", "Champs de la localisation cotée : "
              + ", ".join(f"`loc.{n}` ({k.value})" for n, k in LOC_FIELDS.items()) + ".",
              "", "## Colonnes canoniques d'une demande", "",
              "| colonne | type | obligatoire | libellé | valeurs permises |", "|---|---|---|---|---|"]
    for c in COLUMNS:
        values = ", ".join(f"`{v}`" for v in c.enum) if c.enum else ""
        lines.append(f"| `{c.name}` | {c.kind.value} | {'oui' if c.required else 'non'} | "
                     f"{getattr(c, 'label', '') or ''} | {values} |")
    lines += ["", "Valeurs multiples (type `set`, `communes`) : séparées par `|`. Dates : AAAA-MM-JJ. "
              "Booléens : `true`/`false`. Une cellule vide est une valeur absente.",
              "", "### Champs dérivés", "", "| champ | type | formule | libellé |", "|---|---|---|---|"]
    lines += [f"| `{d.name}` | {d.kind.value} | `{d.formula}` | {d.label} |" for d in DERIVED]
    lines += ["", "## Colonnes d'une attribution", "",
              "Obligatoires : " + ", ".join(f"`{c}`" for c in ATTRIBUTION_COLUMNS) + ".",
              "Facultatives : " + ", ".join(f"`{c}`" for c in ATTRIBUTION_OPTIONAL_COLUMNS) + ".",
              "Financements permis : " + ", ".join(f"`{f}`" for f in FINANCEMENTS) + ".",
              "", "## Sortie de `cotation score`", "",
              "Parquet est recommandé : les colonnes gardent leur type. En CSV (UTF-8, virgule), "
              "relire les codes comme du texte : `pandas.read_csv(f, dtype={'numero_unique': str, "
              "'commune': str})`, `polars.read_csv(f, schema_overrides={'numero_unique': pl.Utf8, "
              "'commune': pl.Utf8})`.", "", "| colonne | type | sens |", "|---|---|---|"]
    lines += [f"| `{n}` | {t} | {m} |" for n, t, m in SCORE_COLUMNS]
    lines += ["", "## Codes de sortie", "", "| code | sens |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in EXIT_CODES]
    lines += ["", "Chaque erreur tient sur une ligne qui commence par `erreur :` (`error:` en "
              "anglais), sans trace Python. Les sorties sont écrites sous un nom temporaire puis "
              "renommées : une exécution interrompue ne laisse pas de fichier à moitié écrit.",
              "", "## Langue", "",
              "Messages, aide et diagnostics en français par défaut ; en anglais avec "
              "`COTATION_LANG=en` ou une locale anglaise (`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, "
              "`LANG` commençant par `en`). Les codes de diagnostic (`unknown-name`, …) ne sont "
              "jamais traduits.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")

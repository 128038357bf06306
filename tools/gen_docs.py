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
    from cotation.data.table import ATTRIBUTION_FIELDS
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
             "[les décisions du langage](grid-language.md), [les formats du mapping et des entrées "
             "du flux](formats.md).", "",
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
              "Obligatoires : " + ", ".join(f"`{c}`" for c in ATTRIBUTION_COLUMNS
                                             if ATTRIBUTION_FIELDS[c].required) + ".",
              "Attendues : " + ", ".join(f"`{c}`" for c in ATTRIBUTION_COLUMNS
                                         if not ATTRIBUTION_FIELDS[c].required)
              + " ; absente ou vide, la valeur est inconnue : l'attribution ne compte alors que "
              "dans les cellules de référence qui ne distinguent pas les mutations.",
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
    lines += ["## Variables d'environnement", "", "| variable | effet |", "|---|---|"]
    lines += [f"| `{name}` | {effect} |" for name, effect in ENVIRONMENT]
    lines.append("")
    return "\n".join(lines)


# The variables the code reads (tests/test_docs.py checks that the list is complete).
ENVIRONMENT = (
    ("COTATION_LANG", "langue des messages (`fr` par défaut, `en`)"),
    ("COTATION_DEBUG", "`1` : le détail d'une erreur interne (code de sortie 3)"),
    ("COTATION_CACHE_DIR", "dossier du cache (noyaux compilés, grilles validées) ; sinon le "
     "dossier de cache de la plateforme (`~/.cache/cotation` sous Linux)"),
    ("COTATION_WORKERS", "nombre de fils de calcul (contrôles, encodage, noyaux) ; sinon les "
     "processeurs disponibles pour le processus"),
    ("COTATION_MAX_KERNEL_LINES", "taille (lignes générées) au-delà de laquelle `auto` ne "
     "compile pas les noyaux d'une grille et calcule avec l'interpréteur (3 000 par défaut)"),
    ("COTATION_NATIVE_KERNELS", "`0` : ne pas enregistrer ni charger les noyaux en code machine "
     "natif (chargés sans Numba, en 0,05 s environ, dès le deuxième lancement) ; le cache de "
     "Numba sert alors"),
    ("COTATION_MAX_GRID_BYTES", "taille maximale d'un fichier de grille (4 Mio par défaut)"),
    ("COTATION_PDF", "moteur PDF imposé : `chromium` ou `weasyprint`"),
)


FORMATS = ROOT / "docs" / "formats.md"
MAPPING_SCHEMA = ROOT / "sne_adapters" / "mapping.schema.json"
MAPPING_EXAMPLE = ROOT / "sne_adapters" / "presets" / "extraction_sne_latin1.yaml"
CONVENTIONS_SCHEMA = ROOT / "cotation" / "flux" / "conventions.schema.json"
CONVENTIONS_EXAMPLE = ROOT / "examples" / "flux" / "conventions.yaml"

# The flux CSV inputs: each column of cotation/flux/inputs.py (and shortlist.py) with its
# meaning; render_formats() stops when a column is added or removed there without a line here.
LOGEMENT_DOC = {
    "id": "identifiant du logement (unique dans le fichier)",
    "commune": "code INSEE de la commune (5 caractères, garder le zéro initial)",
    "qpv": "logement en quartier prioritaire de la politique de la ville (true/false)",
    "typologie": "typologie : chambre, T1 à T5, T6P (T6 et plus)",
    "financement": "financement d'origine",
    "category": "catégorie de logement (défaut familial)",
    "status": "statut à la date de calcul (défaut en_service)",
    "mise_en_service": "date de mise en service AAAA-MM-JJ (logements neufs)",
    "sortie": "date de sortie du patrimoine AAAA-MM-JJ (vente, démolition)",
    "exclusion": "code d'exclusion de l'assiette du flux",
    "autorisation_date": "date de l'autorisation du préfet, pour l'exclusion AUTORISATION_PREFET",
    "zone": "zone des plafonds de ressources",
    "pmr": "logement adapté aux personnes à mobilité réduite (true/false)",
    "loyer": "loyer mensuel hors charges, en euros (point décimal)",
    "reservataire_stock": "réservataire du logement en gestion en stock (état des lieux, conversion)",
    "collectif": "logement collectif (true) ou individuel (false)",
}
EVENT_DOC = {
    "vacance_id": "identifiant de la vacance (un logement peut se libérer plusieurs fois)",
    "logement_id": "identifiant du logement (colonne id du patrimoine)",
    "date": "date de l'événement AAAA-MM-JJ",
    "evenement": "type d'événement",
    "reservataire": "réservataire concerné (obligatoire pour MISE_A_DISPOSITION, DEFAUT_DESIGNATION, "
                    "RETOUR_BAILLEUR)",
    "candidat": "numéro unique du candidat désigné",
    "decision": "décision de la CALEOL",
    "motif": "motif du départ du locataire sortant",
    "origine": "origine de la vacance",
    "soustraction": "catégorie de soustraction quand le logement sort du flux des réservataires",
    "adapte": "l'offre refusée était adaptée (true/false)",
    "preavis_mois": "préavis du locataire sortant en mois (1, 2 ou 3)",
}
SCORES_DOC = {
    "numero_unique": "numéro unique de la demande",
    "commune": "commune cotée (code INSEE)",
    "score": "score avant validation",
    "score_valide": "score après validation des pièces",
    "rank": "rang dans la commune (1 = premier)",
}


def _schema_table(path: Path) -> list[str]:
    schema = json.loads(path.read_text(encoding="utf-8"))
    rows: list = []
    _keys(schema, schema.get("$defs", {}), "", rows, set())
    missing = [key for key, _req, desc in rows if not desc]
    if missing:
        raise SystemExit(f"tools/gen_docs.py: keys of {path.name} without a description: {missing}")
    out, seen = ["| clé | obligatoire | description |", "|---|---|---|"], set()
    for key, req, desc in rows:
        if key not in seen:
            seen.add(key)
            out.append(f"| `{key}` | {req} | {desc.replace('|', chr(92) + '|')} |")
    return out


def _csv_table(doc: dict, required: tuple, columns: tuple, allowed: dict) -> list[str]:
    if set(doc) != set(columns):
        raise SystemExit(f"tools/gen_docs.py: flux columns changed: {sorted(set(doc) ^ set(columns))}")
    out = ["| colonne | obligatoire | sens | valeurs permises |", "|---|---|---|---|"]
    for name in columns:
        values = ", ".join(f"`{v}`" for v in allowed.get(name, ()))
        out.append(f"| `{name}` | {'oui' if name in required else 'non'} | {doc[name]} | {values} |")
    return out


def _example(path: Path, lang: str) -> list[str]:
    return [f"Exemple (`{path.relative_to(ROOT).as_posix()}`) :", "", f"```{lang}",
            path.read_text(encoding="utf-8").rstrip("\n"), "```"]


def render_formats() -> str:
    sys.path.insert(0, str(ROOT))
    from cotation.flux import inputs, model
    from cotation.flux.scores_file import SCORE_COLUMNS as FLUX_SCORE_COLUMNS, SCORE_REQUIRED as FLUX_SCORE_REQUIRED

    lines = ["# Formats des fichiers d'entrée : mapping et gestion en flux", "",
             "<!-- Généré par `python tools/gen_docs.py` à partir des schémas JSON et du code ; ne "
             "pas modifier à la main (tests/test_docs.py le vérifie). -->", "",
             "Voir aussi : [la référence](reference.md) (grilles, demandes, codes de sortie), "
             "[la gestion en flux](flux.md).", "",
             "## Mapping d'une extraction locale (`--mapping`)", "",
             "Un mapping (YAML) dit comment lire une extraction CSV qui n'a pas les colonnes "
             "canoniques : `cotation score --mapping M.yaml`, `convert`, `explain`, `stats`, "
             "`compare`. Chaque clé de `fields` est une colonne canonique (voir la "
             "[référence](reference.md#colonnes-canoniques-dune-demande)) ; sa valeur est le nom "
             "de la colonne du fichier, ou un objet. Schéma JSON : "
             "`sne_adapters/mapping.schema.json`.", ""]
    lines += _schema_table(MAPPING_SCHEMA)
    lines += [""] + _example(MAPPING_EXAMPLE, "yaml")
    lines += ["", "## Gestion en flux (`cotation flux …`)", "",
              "### Conventions (`--conventions`, YAML)", "",
              "Schéma JSON : `cotation/flux/conventions.schema.json`. Pourcentages : nombres de 0 "
              "à 100 ou fractions exactes `p/q` ; dates : AAAA-MM-JJ.", ""]
    lines += _schema_table(CONVENTIONS_SCHEMA)
    lines += [""] + _example(CONVENTIONS_EXAMPLE, "yaml")
    lines += ["", "### Patrimoine (`--logements`, CSV)", "",
              "CSV UTF-8, séparateur virgule, une ligne d'en-tête ; booléens `true`/`false` "
              "(aussi `oui`/`non`, `1`/`0`) ; une cellule vide est une valeur absente.", ""]
    lines += _csv_table(LOGEMENT_DOC, inputs.LOGEMENT_REQUIRED,
                        inputs.LOGEMENT_COLUMNS + inputs.LOGEMENT_OPTIONAL,
                        {"typologie": ("chambre", "T1", "T2", "T3", "T4", "T5", "T6P"),
                         "financement": model.FINANCEMENTS, "category": model.CATEGORIES,
                         "status": model.STATUTS, "exclusion": model.EXCLUSION_CODES,
                         "zone": model.ZONES})
    lines += ["", "### Événements de vacance (`--evenements`, CSV)", ""]
    lines += _csv_table(EVENT_DOC, inputs.EVENT_REQUIRED, inputs.EVENT_COLUMNS + inputs.EVENT_OPTIONAL,
                        {"evenement": model.EVENT_TYPES, "decision": model.DECISIONS,
                         "motif": model.DEPART_MOTIFS, "origine": model.ORIGINES,
                         "soustraction": model.SOUSTRACTION_CODES, "preavis_mois": ("1", "2", "3")})
    lines += ["", "### Scores (`flux dispatch --scores`, CSV)", "",
              "La sortie de `cotation score` ; les colonnes en plus sont ignorées. Chaque cellule est "
              "vérifiée : code INSEE, scores décimaux finis (point décimal), rang entier à partir de 1 ; "
              "une cellule vide de score ou de rang est une valeur absente. Une cellule fausse, une "
              "même demande et commune notée deux fois avec des valeurs différentes, ou un fichier "
              "sans ligne de score sont des erreurs (code 1). Une ligne dont la demande n'est pas "
              "parmi les demandes lues, dont la demande ne cherche pas la commune, ou qui répète "
              "une ligne identique est écartée : le nombre de lignes lues, gardées et écartées est "
              "affiché, avec les premières lignes écartées.", ""]
    lines += _csv_table(SCORES_DOC, FLUX_SCORE_REQUIRED, FLUX_SCORE_COLUMNS, {})
    lines += ["", "Exemples complets : `examples/flux/` (copiés par `cotation examples DOSSIER`).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    FORMATS.write_text(render_formats(), encoding="utf-8")
    print(f"wrote {FORMATS.relative_to(ROOT)}")

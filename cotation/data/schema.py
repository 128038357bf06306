"""The canonical demande schema: columns, types, enumerations and derived fields.

This is the single source of truth shared by the type checker, the table readers, the
synthetic generator and the adapters (see ``demande-schema.md`` in the project docs).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """Value types of the expression language and of canonical columns."""

    BOOL = "bool"
    INT = "int"
    DECIMAL = "decimal"
    DATE = "date"
    CODE = "code"          # one value of an enumeration
    CODESET = "set"        # a set of codes of an enumeration
    TEXT = "text"          # opaque text; equality only
    COMMUNE = "commune"    # an INSEE commune code (open enumeration)
    COMMUNES = "communes"  # ordered list of INSEE codes (localisations)


TYPOLOGIES = ("chambre", "T1", "T2", "T3", "T4", "T5", "T6P")

ENUMS: dict[str, tuple[str, ...]] = {
    "situation_logement": (
        "locataire_hlm", "locataire_prive", "proprietaire", "residence_sociale_foyer", "rhvs",
        "residence_etudiante", "sous_locataire_temporaire", "structure_hebergement",
        "cdef_centre_maternel", "heberge_parents_enfants", "heberge_particulier",
        "loge_titre_gratuit", "logement_fonction", "camping_caravaning", "hotel", "sans_abri",
        "squat", "occupant_sans_titre", "habitat_mobile", "logement_temporaire",
    ),
    "motifs": (
        "sans_logement", "demolition", "non_decent", "insalubre_dangereux", "reprise_vente",
        "expulsion", "violences_familiales", "handicap", "sante", "trop_cher", "trop_grand",
        "divorce_separation", "decohabitation", "trop_petit", "futur_couple",
        "regroupement_familial", "assistant_maternel_familial", "voisinage",
        "mutation_professionnelle", "rapprochement_travail", "rapprochement_services",
        "rapprochement_famille", "accedant_difficulte", "renouvellement_urbain", "autre",
    ),
    "situation_familiale": ("celibataire", "marie", "pacse", "concubin", "divorce", "separe", "veuf"),
    "situation_pro": (
        "cdi_fonctionnaire", "cdd_interim", "independant", "chomage", "apprenti", "etudiant",
        "retraite", "autre",
    ),
    "typologie_actuelle": TYPOLOGIES,
    "typologies": TYPOLOGIES,
    "dalo_statut": ("non", "actif", "caduc", "actif_reloge"),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    enum: tuple[str, ...] | None = None
    label: str = ""


def _c(name: str, kind: Kind, label: str, required: bool = False) -> Column:
    return Column(name, kind, required, ENUMS.get(name), label)


# Order is the canonical CSV column order.
COLUMNS: tuple[Column, ...] = (
    _c("numero_unique", Kind.TEXT, "numéro unique", required=True),
    _c("date_depot", Kind.DATE, "date de dépôt", required=True),
    _c("date_renouvellement", Kind.DATE, "date du dernier renouvellement"),
    _c("est_mutation", Kind.BOOL, "demande de mutation (déjà locataire HLM)"),
    _c("situation_logement", Kind.CODE, "logement actuel"),
    _c("motifs", Kind.CODESET, "motifs de la demande"),
    _c("nb_personnes", Kind.INT, "personnes à loger", required=True),
    _c("nb_adultes", Kind.INT, "adultes"),
    _c("nb_enfants", Kind.INT, "enfants"),
    _c("nb_personnes_handicap", Kind.INT, "personnes en situation de handicap"),
    _c("nb_personnes_logement_actuel", Kind.INT, "personnes dans le logement actuel"),
    _c("date_naissance", Kind.DATE, "date de naissance du demandeur"),
    _c("date_naissance_conjoint", Kind.DATE, "date de naissance du conjoint"),
    _c("situation_familiale", Kind.CODE, "situation familiale"),
    _c("situation_pro", Kind.CODE, "situation professionnelle"),
    _c("profession", Kind.TEXT, "profession"),
    _c("commune_residence", Kind.COMMUNE, "commune de résidence"),
    _c("commune_travail", Kind.COMMUNE, "commune de travail"),
    _c("revenu_fiscal_reference", Kind.INT, "revenu fiscal de référence (€)"),
    _c("ressources_mensuelles", Kind.DECIMAL, "ressources mensuelles (€)"),
    _c("loyer_actuel", Kind.DECIMAL, "loyer actuel (€)"),
    _c("aide_logement", Kind.DECIMAL, "aide au logement (€)"),
    _c("surface_actuelle", Kind.DECIMAL, "surface actuelle (m²)"),
    _c("typologie_actuelle", Kind.CODE, "typologie actuelle"),
    _c("typologies", Kind.CODESET, "typologies recherchées"),
    _c("localisations", Kind.COMMUNES, "communes demandées"),
    _c("dalo_statut", Kind.CODE, "statut DALO"),
    _c("prioritaire", Kind.BOOL, "public prioritaire reconnu"),
    _c("nb_refus_adaptes", Kind.INT, "refus d'offres adaptées"),
    _c("date_dernier_refus_adapte", Kind.DATE, "date du dernier refus adapté"),
    _c("criteres_valides", Kind.CODESET, "critères validés"),
)

COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}


@dataclass(frozen=True)
class Derived:
    name: str
    kind: Kind
    formula: str
    label: str


# Formulas are written in the grid expression language and compiled like any criterion,
# so the interpreter and every back end share one definition.
DERIVED: tuple[Derived, ...] = (
    Derived("age", Kind.INT, "years_between(date_naissance, today)", "âge du demandeur"),
    Derived("anciennete_mois", Kind.INT, "months_between(date_depot, today)",
            "ancienneté de la demande (mois)"),
    Derived("taux_effort", Kind.DECIMAL,
            "(loyer_actuel - coalesce(aide_logement, 0)) / ressources_mensuelles",
            "taux d'effort"),
    Derived("reste_a_vivre_uc", Kind.DECIMAL,
            "(ressources_mensuelles - loyer_actuel + coalesce(aide_logement, 0))"
            " / (1 + 0.5 * (nb_adultes - 1) + 0.3 * nb_enfants)",
            "reste à vivre par unité de consommation (€)"),
    Derived("surface_par_personne", Kind.DECIMAL,
            "surface_actuelle / nb_personnes_logement_actuel", "surface par personne (m²)"),
    # Used by the specification's own example grid. Only the count of refusals and the date of
    # the last one are recorded, so refusals count while the last one is under 12 months old.
    Derived("nb_refus_adaptes_12m", Kind.INT,
            "if coalesce(nb_refus_adaptes, 0) == 0 then 0 "
            "else if months_between(date_dernier_refus_adapte, today) < 12 then nb_refus_adaptes "
            "else 0",
            "refus d'offres adaptées dans les 12 derniers mois"),
)

DERIVED_BY_NAME: dict[str, Derived] = {d.name: d for d in DERIVED}

# Fields of the localisation choice being scored, written `loc.<name>`.
LOC_FIELDS: dict[str, Kind] = {"commune": Kind.COMMUNE, "rang": Kind.INT, "epci": Kind.TEXT}

ATTRIBUTION_COLUMNS: tuple[str, ...] = (
    "numero_unique", "date_depot", "date_attribution", "commune", "typologie", "est_mutation",
)
ATTRIBUTION_OPTIONAL_COLUMNS: tuple[str, ...] = ("financement", "qpv", "reservataire")
# An attribution table may also carry the attributed demande as it stood on its attribution
# date: every canonical demande column (and local fields as extra columns), one row per
# lease. ``numero_unique``, ``date_depot`` and ``est_mutation`` are shared by both; ``commune``
# and ``typologie`` are the lease's, ``localisations`` and ``typologies`` the demande's.
# ``cotation evaluate`` needs them to score the demande at its attribution date (see
# docs/evaluation.md for why the attributions carry them rather than demandes gaining a
# radiation date).
ATTRIBUTION_DEMANDE_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.name not in ("numero_unique", "date_depot", "est_mutation"))
FINANCEMENTS = ("PLAI", "PLUS", "PLS", "PLI")

"""Household profiles of the demandes, as membership matrices (one column per value).

A demande belongs to exactly one value of each dimension, except ``typologie``: a demande asking
for a T2 and a T3 counts under both (shares of the typologies can add up to more than 1).
Missing information is a value of its own (``inconnu``), never dropped.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from cotation.data.ceilings import civil_from_ordinals
from cotation.data.schema import ENUMS, TYPOLOGIES
from cotation.data.table import DemandeTable

UNKNOWN = "inconnu"
AGE_BANDS = ((None, 25, "moins_25"), (25, 40, "25_39"), (40, 55, "40_54"), (55, 65, "55_64"),
             (65, None, "65_plus"))
COMPOSITIONS = ("personne_seule", "parent_isole", "adultes_sans_enfant", "adultes_avec_enfants")

# French labels for the report (codes stay in summary.json).
DIMENSION_LABELS = {
    "typologie": "Typologie demandée", "situation_logement": "Situation de logement",
    "composition": "Composition du ménage", "age": "Âge du demandeur",
    "mutation": "Mutation ou première demande", "dalo": "DALO",
}
VALUE_LABELS = {
    UNKNOWN: "non renseigné", "personne_seule": "personne seule", "parent_isole": "parent isolé",
    "adultes_sans_enfant": "plusieurs adultes, sans enfant",
    "adultes_avec_enfants": "plusieurs adultes, avec enfant(s)",
    "moins_25": "moins de 25 ans", "25_39": "25 à 39 ans", "40_54": "40 à 54 ans",
    "55_64": "55 à 64 ans", "65_plus": "65 ans et plus", "mutation": "mutation (déjà locataire HLM)",
    "externe": "première demande (externe)", "dalo_actif": "reconnu DALO (actif)",
    "non_dalo": "non reconnu DALO",
}


def _codes(col: list, values: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    arr = np.array(col, dtype=object)
    mats = [arr == v for v in values]
    known = np.logical_or.reduce(mats) if mats else np.zeros(len(arr), bool)
    return values + (UNKNOWN,), np.column_stack(mats + [~known])


def _ages(col: list, today: dt.date) -> np.ndarray:
    """Age in whole years on ``today`` (NaN where the birth date is missing)."""
    d = np.array(col, dtype="datetime64[D]")
    missing = np.isnat(d)
    epoch_days = np.where(missing, 0, d.astype(np.int64))
    years, months, days = civil_from_ordinals(epoch_days + dt.date(1970, 1, 1).toordinal())
    before = (today.month < months) | ((today.month == months) & (today.day < days))
    age = (today.year - years - before).astype(float)
    age[missing] = np.nan
    return age


def demande_profiles(table: DemandeTable, today: dt.date
                     ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """For each dimension: its values and a bool matrix (demandes, values)."""
    cols = table.columns
    n = len(table)
    out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}

    typ = cols["typologies"]
    asked = [np.fromiter((t in s for s in typ), bool, n) for t in TYPOLOGIES]
    none = ~np.logical_or.reduce(asked)
    out["typologie"] = (TYPOLOGIES + (UNKNOWN,), np.column_stack(asked + [none]))

    out["situation_logement"] = _codes(cols["situation_logement"], ENUMS["situation_logement"])

    adults = np.array(cols["nb_adultes"], dtype=float)
    children = np.array(cols["nb_enfants"], dtype=float)
    known = ~np.isnan(adults) & ~np.isnan(children)
    comp = [known & (adults <= 1) & (children == 0), known & (adults <= 1) & (children >= 1),
            known & (adults >= 2) & (children == 0), known & (adults >= 2) & (children >= 1)]
    out["composition"] = (COMPOSITIONS + (UNKNOWN,), np.column_stack(comp + [~known]))

    age = _ages(cols["date_naissance"], today)
    bands = [(~np.isnan(age)) & (age >= (lo if lo is not None else -np.inf))
             & (age < (hi if hi is not None else np.inf)) for lo, hi, _ in AGE_BANDS]
    out["age"] = (tuple(b[2] for b in AGE_BANDS) + (UNKNOWN,), np.column_stack(bands + [np.isnan(age)]))

    mut = np.array(cols["est_mutation"], dtype=object)
    is_true, is_false = mut == True, mut == False  # noqa: E712 - element-wise on an object array
    out["mutation"] = (("mutation", "externe", UNKNOWN),
                       np.column_stack([is_true, is_false, ~(is_true | is_false)]))

    dalo = np.array(cols["dalo_statut"], dtype=object)
    active = dalo == "actif"
    missing = np.array([v is None for v in cols["dalo_statut"]], dtype=bool)
    out["dalo"] = (("dalo_actif", "non_dalo", UNKNOWN),
                   np.column_stack([active, ~active & ~missing, missing]))
    return out

"""Income ceilings (plafonds de ressources) and household-size bounds used by the shortlist.

Data, not logic: tables are versioned by (year, zone) per financement, one tuple per row
``(cat. 1, …, cat. 6, + per extra person)``, transcribed from domain.md §4 with its sources.
Zones: ``paris_limitrophes`` (Paris and adjoining communes), ``idf`` (rest of Île-de-France),
``autres`` (other regions; overseas départements are not covered).
"""
from __future__ import annotations

from fractions import Fraction
from types import MappingProxyType
from typing import Mapping

import numpy as np

from cotation.data import ceilings as _ceilings
from cotation.i18n import _

Row = tuple[int, int, int, int, int, int, int]

# The tables themselves live in cotation.data.ceilings (one source for the scorer's shortlist and
# the flux); here they are viewed with the flux's zone names.
_ZONES = {"paris_limitrophes": "paris", "idf": "idf", "autres": "other"}


def _rows(product: str) -> Mapping[tuple[int, str], Row]:
    return MappingProxyType({(year, fz): (*cats, inc)
                             for (p, year, zone), (cats, inc) in _ceilings.all_tables().items()
                             if p == product for fz, cz in _ZONES.items() if cz == zone})


PLUS = _rows("PLUS")
PLAI = _rows("PLAI")
PLS = _rows("PLS")
TABLES: Mapping[str, Mapping[tuple[int, str], Row]] = MappingProxyType({"PLUS": PLUS, "PLAI": PLAI, "PLS": PLS})
PLS_FACTOR = Fraction(13, 10)
PARIS_LIMITROPHES = _ceilings.PARIS_LIMITROPHES
IDF_DEPARTEMENTS = frozenset({"75", "77", "78", "91", "92", "93", "94", "95"})

# Persons per typologie accepted by the shortlist: a product default (no legal table), to
# override in the conventions' settings.shortlist.household_size.
HOUSEHOLD_SIZE: Mapping[str, tuple[int, int]] = MappingProxyType({
    "chambre": (1, 1), "T1": (1, 2), "T2": (1, 3), "T3": (2, 5), "T4": (3, 6), "T5": (4, 8), "T6P": (5, 99),
})


class PlafondsIndisponibles(LookupError):
    """No ceilings table for the requested year (load the year's arrêté first)."""


def zone_of(commune: str) -> str:
    if commune in PARIS_LIMITROPHES:
        return "paris_limitrophes"
    return "idf" if commune[:2] in IDF_DEPARTEMENTS else "autres"


def _round_half_even(x: Fraction) -> int:
    return round(x)


def ceiling_row(year: int, financement: str, zone: str) -> Row | None:
    """The ceilings row, ``None`` when the financement has no ceiling here (AUTRE).

    PLS years missing from the table are derived as PLUS × 1.3, rounded half to even (the
    rule that reproduces the 2025 and 2026 tables).
    """
    if financement not in TABLES:
        return None
    table = TABLES[financement]
    if (year, zone) in table:
        return table[(year, zone)]
    if financement == "PLS" and (year, zone) in PLUS:
        return tuple(_round_half_even(v * PLS_FACTOR) for v in PLUS[(year, zone)])  # type: ignore[return-value]
    years = sorted({y for y, _ in table})
    raise PlafondsIndisponibles(_('no {financement} ceilings for {year} (zone {zone}); years available: {years}').format(
        financement=financement, year=year, zone=zone, years=", ".join(map(str, years))))


def ceiling(year: int, financement: str, zone: str, categorie: int) -> int | None:
    """Annual taxable-income ceiling of a household category (7 and more use the increment)."""
    row = ceiling_row(year, financement, zone)
    if row is None:
        return None
    return int(row_ceilings(row, np.array([categorie], dtype=np.int64))[0])


def row_ceilings(row: Row, categories: np.ndarray) -> np.ndarray:
    """The ceiling of each household category of ``categories`` (int64, 1 and more) in the
    row ``row`` of :func:`ceiling_row`: categories 1 to 6 as tabulated, 7 and more the
    category 6 ceiling plus the increment per extra person (closed form: no table as large as
    the largest household)."""
    cat = np.asarray(categories, dtype=np.int64)
    base = np.array((row[0],) + tuple(row[:6]), dtype=np.int64)
    return np.where(cat <= 6, base[np.clip(cat, 0, 6)], row[5] + (np.maximum(cat, 6) - 6) * row[6])


def categorie_menage(nb_personnes: int, nb_adultes: int | None = None, nb_enfants: int | None = None,
                     jeune_couple: bool = False, handicap: bool = False) -> int:
    """Household category of the ceilings (domain.md §4.1).

    1 single person; 2 two persons without dependants; 3 three persons, one person + 1
    dependant, or a young couple; 4 four persons or one + 2; … A disability card moves the
    household up one category. Dependants are the children declared.
    """
    n = max(nb_personnes, 1)
    enfants = nb_enfants if nb_enfants is not None else (n - nb_adultes if nb_adultes else 0)
    adultes = nb_adultes if nb_adultes is not None else n - enfants
    if n == 1:
        cat = 1
    elif adultes == 1 and enfants >= 1:
        cat = enfants + 2
    elif n == 2:
        cat = 3 if jeune_couple else 2
    else:
        cat = n
    return cat + (1 if handicap else 0)

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

Row = tuple[int, int, int, int, int, int, int]

# PLUS, annex I of the arrêté du 29 juillet 1987 as revised yearly (OpenFisca-France parameters).
PLUS: Mapping[tuple[int, str], Row] = MappingProxyType({
    (2024, "paris_limitrophes"): (26044, 38925, 51025, 60921, 72482, 81562, 9089),
    (2025, "paris_limitrophes"): (26687, 39885, 52284, 62424, 74271, 83575, 9313),
    (2026, "paris_limitrophes"): (26920, 40233, 52740, 62968, 74919, 84304, 9394),
    (2024, "idf"): (26044, 38925, 46789, 56046, 66347, 74662, 8319),
    (2025, "idf"): (26687, 39885, 47944, 57429, 67984, 76504, 8524),
    (2026, "idf"): (26920, 40233, 48362, 57930, 68577, 77171, 8598),
    (2024, "autres"): (22642, 30238, 36362, 43899, 51641, 58200, 6492),
    (2025, "autres"): (23201, 30984, 37259, 44982, 52915, 59636, 6652),
    (2026, "autres"): (23403, 31254, 37584, 45374, 53376, 60156, 6710),
})

# PLAI, annex II. 2024 sourced; 2025 partly derived (2024 × 1.0247: IDF and other regions,
# categories 5, 6 and the increment); 2026 all derived (2025 × 1.0087). Derived cells can be
# 1 € off the official annex: load the official table before production use.
PLAI: Mapping[tuple[int, str], Row] = MappingProxyType({
    (2024, "paris_limitrophes"): (14329, 23355, 30614, 33511, 39863, 44861, 4998),
    (2025, "paris_limitrophes"): (14683, 23931, 31369, 34338, 40847, 45968, 5121),
    (2026, "paris_limitrophes"): (14811, 24139, 31642, 34637, 41202, 46368, 5166),
    (2024, "idf"): (14329, 23355, 28074, 30824, 36493, 41064, 4573),
    (2025, "idf"): (14683, 23931, 28767, 31585, 37394, 42078, 4686),
    (2026, "idf"): (14811, 24139, 29017, 31860, 37719, 42444, 4727),
    (2024, "autres"): (12452, 18143, 21818, 24276, 28404, 32010, 3569),
    (2025, "autres"): (12759, 18591, 22356, 24875, 29106, 32801, 3657),
    (2026, "autres"): (12870, 18753, 22550, 25091, 29359, 33086, 3689),
})

# PLS = PLUS × 1.3 (derived, domain.md §4.4; the published 2025 Paris cat. 2 reads 51 851).
PLS: Mapping[tuple[int, str], Row] = MappingProxyType({
    (2025, "paris_limitrophes"): (34693, 51850, 67969, 81151, 96552, 108648, 12107),
    (2026, "paris_limitrophes"): (34996, 52303, 68562, 81858, 97395, 109595, 12212),
    (2025, "idf"): (34693, 51850, 62327, 74658, 88379, 99455, 11081),
    (2026, "idf"): (34996, 52303, 62871, 75309, 89150, 100322, 11177),
    (2025, "autres"): (30161, 40279, 48437, 58477, 68790, 77527, 8648),
    (2026, "autres"): (30424, 40630, 48859, 58986, 69389, 78203, 8723),
})

TABLES: Mapping[str, Mapping[tuple[int, str], Row]] = MappingProxyType({"PLUS": PLUS, "PLAI": PLAI, "PLS": PLS})
PLS_FACTOR = Fraction(13, 10)

# Paris and its adjoining communes (zone of the first PLUS column). The list in
# OpenFisca-France has label and code errors; this one is uncertain too: verify against the
# arrêté annex. A logement's `zone` column overrides it.
PARIS_LIMITROPHES = frozenset({
    "75056", *(f"751{i:02d}" for i in range(1, 21)),
    "92012", "92024", "92040", "92044", "92046", "92049", "92051", "92062", "92064", "92073", "92075",
    "93001", "93006", "93045", "93048", "93055", "93061", "93066", "93070",
    "94018", "94033", "94037", "94041", "94042", "94043", "94052", "94067", "94069", "94080",
})
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
    raise PlafondsIndisponibles(f"pas de plafonds {financement} pour {year} (zone {zone}); années "
                                f"disponibles: {', '.join(map(str, years))}")


def ceiling(year: int, financement: str, zone: str, categorie: int) -> int | None:
    """Annual taxable-income ceiling of a household category (7 and more use the increment)."""
    row = ceiling_row(year, financement, zone)
    if row is None:
        return None
    if categorie <= 6:
        return row[categorie - 1]
    return row[5] + (categorie - 6) * row[6]


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

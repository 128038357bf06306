"""Income ceilings (*plafonds de ressources*) of social housing by financement, year, zone
and household category, and the household category of a demande.

Values are the tables of the project's domain reference (``domain.md`` §4), annual taxable
income (revenu fiscal de référence) in euros:

- PLUS 2024–2026: sourced (OpenFisca-France parameters, arrêtés of 29 July 1987 as revised);
- PLAI 2024 sourced; 2025 Paris sourced, IDF and other regions categories 1–4 sourced, cells
  5, 6 and the increment *derived* (2024 × 1.0247); 2026 *derived* (2025 × 1.0087): a derived
  cell can be 1 € off the official annex;
- PLS = PLUS × 1.3 (*derived*; the published 2025 Paris category 2 is 51 851, here 51 850).
  PLS 2024 is derived the same way (rounded down) for completeness.

Zones: ``paris`` (Paris and adjoining communes), ``idf`` (rest of Île-de-France), ``other``
(other regions). :func:`zone_of_commune` puts Paris and the communes adjoining it (the
``PARIS_LIMITROPHES`` list, uncertain: see ``domain.md`` §4.1) in ``paris``, the rest of
Île-de-France (77, 78, 91, 92, 93, 94, 95) in ``idf`` and every other commune in ``other``;
callers may override a commune's zone. Overseas départements have their own rules and
are not covered.

>>> ceiling(2025, "PLUS", "other", 1), ceiling(2025, "PLAI", "paris", 3)
(23201, 31369)
>>> ceiling(2025, "PLUS", "other", 8)       # category 6 + 2 increments
72940
>>> household_category(nb_personnes=2, nb_enfants=1, nb_adultes=1)
3
>>> zone_of_commune("75056"), zone_of_commune("93066"), zone_of_commune("93005"), zone_of_commune("69123")
('paris', 'paris', 'idf', 'other')
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Mapping

import numpy as np

PRODUCTS = ("PLAI", "PLUS", "PLS")
ZONES = ("paris", "idf", "other")
IDF_DEPARTEMENTS = frozenset({"77", "78", "91", "92", "93", "94", "95"})

# (product, year, zone) -> (category 1..6, increment per extra person)
_TABLE: dict[tuple[str, int, str], tuple[tuple[int, ...], int]] = {}


def _columns(product: str, years_zones: list[tuple[int, str]], rows: list[tuple[int, ...]]) -> None:
    for col, (year, zone) in enumerate(years_zones):
        cats = tuple(r[col] for r in rows[:6])
        _TABLE[(product, year, zone)] = (cats, rows[6][col])


_YZ9 = [(2024, "paris"), (2025, "paris"), (2026, "paris"), (2024, "idf"), (2025, "idf"),
        (2026, "idf"), (2024, "other"), (2025, "other"), (2026, "other")]

# domain.md §4.2 — PLUS
_columns("PLUS", _YZ9, [
    (26044, 26687, 26920, 26044, 26687, 26920, 22642, 23201, 23403),
    (38925, 39885, 40233, 38925, 39885, 40233, 30238, 30984, 31254),
    (51025, 52284, 52740, 46789, 47944, 48362, 36362, 37259, 37584),
    (60921, 62424, 62968, 56046, 57429, 57930, 43899, 44982, 45374),
    (72482, 74271, 74919, 66347, 67984, 68577, 51641, 52915, 53376),
    (81562, 83575, 84304, 74662, 76504, 77171, 58200, 59636, 60156),
    (9089, 9313, 9394, 8319, 8524, 8598, 6492, 6652, 6710),
])

# domain.md §4.3 — PLAI
_columns("PLAI", _YZ9, [
    (14329, 14683, 14811, 14329, 14683, 14811, 12452, 12759, 12870),
    (23355, 23931, 24139, 23355, 23931, 24139, 18143, 18591, 18753),
    (30614, 31369, 31642, 28074, 28767, 29017, 21818, 22356, 22550),
    (33511, 34338, 34637, 30824, 31585, 31860, 24276, 24875, 25091),
    (39863, 40847, 41202, 36493, 37394, 37719, 28404, 29106, 29359),
    (44861, 45968, 46368, 41064, 42078, 42444, 32010, 32801, 33086),
    (4998, 5121, 5166, 4573, 4686, 4727, 3569, 3657, 3689),
])

# domain.md §4.4 — PLS = PLUS × 1.3 (derived)
_columns("PLS", [(2025, "paris"), (2026, "paris"), (2025, "idf"), (2026, "idf"),
                 (2025, "other"), (2026, "other")], [
    (34693, 34996, 34693, 34996, 30161, 30424),
    (51850, 52303, 51850, 52303, 40279, 40630),
    (67969, 68562, 62327, 62871, 48437, 48859),
    (81151, 81858, 74658, 75309, 58477, 58986),
    (96552, 97395, 88379, 89150, 68790, 69389),
    (108648, 109595, 99455, 100322, 77527, 78203),
    (12107, 12212, 11081, 11177, 8648, 8723),
])
def _pls(v: int) -> int:
    # PLUS × 1.3 rounded half to even: the rule that reproduces the 2025 and 2026 PLS tables
    # (83 575 × 1.3 = 108 647.5 → 108 648).
    return round(Fraction(v * 13, 10))


for _zone in ZONES:  # PLS 2024, derived from PLUS 2024
    _cats, _inc = _TABLE[("PLUS", 2024, _zone)]
    _TABLE[("PLS", 2024, _zone)] = (tuple(_pls(v) for v in _cats), _pls(_inc))

YEARS = tuple(sorted({y for (_, y, _) in _TABLE}))

# Paris and its adjoining communes (the first zone of the arrêté). The list in OpenFisca-France
# has label and code errors; this one is uncertain too: verify against the arrêté annex.
PARIS_LIMITROPHES = frozenset({
    "75056", *(f"751{i:02d}" for i in range(1, 21)),
    "92012", "92024", "92040", "92044", "92046", "92049", "92051", "92062", "92064", "92073", "92075",
    "93001", "93006", "93045", "93048", "93055", "93061", "93066", "93070",
    "94018", "94033", "94037", "94041", "94042", "94043", "94052", "94067", "94069", "94080",
})


def all_tables() -> dict[tuple[str, int, str], tuple[tuple[int, ...], int]]:
    """Every tabulated (product, year, zone) → (categories 1..6, increment); a copy."""
    return dict(_TABLE)


def table(year: int, product: str, zone: str) -> tuple[tuple[int, ...], int]:
    """(ceilings of categories 1..6, increment per extra category) for a year, or for the
    latest year before it when the year is not tabulated yet."""
    product = product.upper()
    if product not in PRODUCTS:
        raise ValueError(f"no income ceiling for financement '{product}'; expected one of "
                         f"{', '.join(PRODUCTS)} (PLI uses another zoning and is not covered)")
    if zone not in ZONES:
        raise ValueError(f"unknown zone '{zone}'; expected one of {', '.join(ZONES)}")
    years = [y for (p, y, z) in _TABLE if p == product and z == zone and y <= year]
    if not years:
        raise ValueError(f"no {product} ceilings for {year} (tabulated: {', '.join(map(str, YEARS))})")
    return _TABLE[(product, max(years), zone)]


def ceiling(year: int, product: str, zone: str, category: int) -> int:
    """The ceiling in euros of household ``category`` (1..; above 6, one increment per
    extra category)."""
    if category < 1:
        raise ValueError("household categories start at 1")
    cats, inc = table(year, product, zone)
    return cats[min(category, 6) - 1] + max(category - 6, 0) * inc


def ceilings_of(year: int, product: str, zone: str, categories: np.ndarray) -> np.ndarray:
    """:func:`ceiling` of each of ``categories`` (integers ≥ 1), as float64: the closed form
    vectorised, so the cost is one array operation per call whatever the categories' size
    (a household of 10^12 persons costs what one of 3 does). Exact to the euro while the
    ceiling is below 2^53, else the nearest float of the exact integer, as ``float(ceiling(…))``.
    """
    c = np.asarray(categories, dtype=np.int64)
    if c.size and int(c.min()) < 1:
        raise ValueError("household categories start at 1")
    cats, inc = table(year, product, zone)
    base = np.asarray(cats, dtype=np.int64)[np.minimum(c, 6) - 1]
    extra = np.maximum(c - 6, 0)
    if not c.size or int(extra.max()) <= (np.iinfo(np.int64).max - max(cats)) // max(inc, 1):
        return (base + extra * inc).astype(np.float64)
    # beyond int64: Python integers (exact), rounded once to float like ceiling()
    return (base.astype(object) + extra.astype(object) * inc).astype(np.float64)


def zone_of_commune(insee: str, overrides: Mapping[str, str] | None = None) -> str:
    """Ceiling zone of a commune by its département (see the module notes)."""
    if overrides and insee in overrides:
        return overrides[insee]
    dep = insee[:2]
    if dep == "75" or insee in PARIS_LIMITROPHES:
        return "paris"
    if dep in IDF_DEPARTEMENTS:
        return "idf"
    if dep in ("97", "98"):
        raise ValueError(f"commune {insee}: overseas départements have their own income "
                         "ceilings, which are not covered")
    return "other"


def household_category(nb_personnes: int, nb_enfants: int | None = None,
                       nb_adultes: int | None = None, *, ages: tuple[int | None, int | None] = (None, None),
                       handicap: bool = False) -> int:
    """Household category for the ceilings (``domain.md`` §4.1).

    1 single person; 2 two persons without dependants; 3 three persons, one person with one
    dependant, or a young couple (two persons, no dependant, sum of ages ≤ 55); then one
    category per person, a single adult with dependants counting one more (one + 2 → 4,
    one + 3 → 5, …); a person with a disability card moves the household up one category.
    Dependants are taken as ``nb_enfants`` (the canonical table has no separate count).
    """
    persons = max(int(nb_personnes), 1)
    deps = int(nb_enfants) if nb_enfants is not None else 0
    adults = int(nb_adultes) if nb_adultes is not None else max(persons - deps, 1)
    if persons == 1:
        cat = 1
    elif persons == 2 and deps == 0:
        a, b = ages
        cat = 3 if a is not None and b is not None and a + b <= 55 else 2
    else:
        cat = persons + (1 if adults == 1 and deps >= 1 else 0)
    return cat + (1 if handicap else 0)


def household_categories(nb_personnes: np.ndarray, nb_enfants: np.ndarray, nb_adultes: np.ndarray,
                         nb_handicap: np.ndarray, birth1: np.ndarray, birth2: np.ndarray,
                         today: dt.date) -> np.ndarray:
    """Vectorised :func:`household_category` over float arrays (NaN missing) and date
    ordinals (``birth*``; values < 1 missing). Missing ``nb_personnes`` gives category 0."""
    persons = np.where(np.isnan(nb_personnes), 0, np.maximum(nb_personnes, 1)).astype(np.int64)
    deps = np.where(np.isnan(nb_enfants), 0, nb_enfants).astype(np.int64)
    adults = np.where(np.isnan(nb_adultes), np.maximum(persons - deps, 1), nb_adultes).astype(np.int64)
    age1 = _ages(birth1, today)
    age2 = _ages(birth2, today)
    young = (age1 >= 0) & (age2 >= 0) & (age1 + age2 <= 55)
    cat = persons + ((adults == 1) & (deps >= 1)).astype(np.int64)
    cat = np.where((persons == 2) & (deps == 0), np.where(young, 3, 2), cat)
    cat = np.where(persons == 1, 1, cat)
    cat = cat + (np.nan_to_num(nb_handicap, nan=0.0) >= 1).astype(np.int64)
    return np.where(persons == 0, 0, cat)


def _ages(ordinals: np.ndarray, today: dt.date) -> np.ndarray:
    """Whole years from birth to ``today`` (years_between); -1 where missing."""
    out = np.full(len(ordinals), -1, dtype=np.int64)
    ok = ordinals >= 1
    if not ok.any():
        return out
    y, m, day = civil_from_ordinals(np.asarray(ordinals, dtype=np.int64)[ok])
    months = 12 * (today.year - y) + (today.month - m) - (today.day < day)
    out[ok] = np.floor_divide(months, 12)
    return out


def civil_from_ordinals(ordinals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of proleptic Gregorian ordinals (``date.toordinal()``, 1 is
    0001-01-01) in integer arithmetic: H. Hinnant's ``civil_from_days`` over 400-year eras
    (numpy's ``datetime64`` unit conversions to months and years took 0.14 s per million
    dates, this less than half of it). The kernels' prelude has the scalar form (``_ymd``):
    generated code imports nothing of the project."""
    z = np.asarray(ordinals, dtype=np.int64) + (719468 - 719163)   # days from 0000-03-01
    era = z // 146097
    doe = z - era * 146097                                         # [0, 146096]
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365  # [0, 399]
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)                # [0, 365], from March
    mp = (5 * doy + 2) // 153                                      # [0, 11], March = 0
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day

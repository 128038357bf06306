"""``Scorer.index`` and its shortlists: income ceilings by household category whatever the
households' size, and ``engine="interpreter"`` honoured by the index."""
from __future__ import annotations

import datetime as dt
import itertools
import time

import numpy as np
import pytest

from cotation.api import Scorer
from cotation.data.ceilings import (
    YEARS, ZONES, PRODUCTS, all_tables, ceiling, ceilings_of,
    household_category,
)
from cotation.grid import load_grid

from _support import grid_text

TODAY = dt.date(2025, 6, 30)
GRID = grid_text("""
  - id: personnes
    label: "1 point par personne, au plus 40"
    points: "min(nb_personnes, 40)"
  - id: anciennete
    label: "1 point par mois"
    points: "anciennete_mois"
""".lstrip("\n"))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "grid.yaml"
    path.write_text(GRID, encoding="utf-8")
    return load_grid(path)


def _row(i: int, persons: int, adults: int, rfr: float | None, typologies: str = "T2") -> dict:
    return {"numero_unique": f"D{i:04d}",
            "date_depot": dt.date(2020, 1, 1) + dt.timedelta(days=7 * i),
            "nb_personnes": persons, "nb_adultes": adults, "nb_enfants": persons - adults,
            "typologies": typologies, "localisations": "69123|69266",
            "revenu_fiscal_reference": rfr, "dalo_statut": "non"}


def _rows(huge: int) -> list[dict]:
    """Households of 1 to 30 persons (one or two adults), incomes one euro either side of
    their PLUS ceiling, and one household of ``huge`` persons."""
    rows = []
    for persons, adults, side in itertools.product(range(1, 31), (1, 2), (-1, 1)):
        if adults > persons:
            continue
        cat = household_category(persons, persons - adults, adults)
        rows.append(_row(len(rows), persons, adults,
                         ceiling(TODAY.year, "PLUS", "other", cat) + side))
    rows.append(_row(len(rows), 3, 2, None))                     # no income: never eligible
    rows.append(_row(len(rows), huge, huge, 50_000.0))
    return rows


def _ranks(res, commune: str) -> dict[str, int]:
    here = res.communes == commune
    return dict(zip(res.numero_unique[here].tolist(), res.ranks[here].tolist()))


def _brute_force(rows: list[dict], ranks: dict[str, int], dwelling: dict) -> list[str]:
    """The eligible demandes of ``dwelling`` by the scalar rules, best rank first."""
    year = dwelling.get("year", TODAY.year)
    out = []
    for r in rows:
        if dwelling["typologie"] not in r["typologies"].split("|"):
            continue
        fin = dwelling.get("financement")
        if fin:
            if r["revenu_fiscal_reference"] is None:
                continue
            cat = household_category(r["nb_personnes"], r["nb_enfants"], r["nb_adultes"])
            zone = dwelling.get("zone", "other")
            if r["revenu_fiscal_reference"] > ceiling(year, fin, zone, cat):
                continue
        out.append(r["numero_unique"])
    return sorted(out, key=ranks.__getitem__)


def test_ceilings_of_is_ceiling():
    """The closed form, vectorised, gives ``float(ceiling(...))`` for every tabulated table
    (and a year after them), ordinary and huge categories."""
    big = [10**7, 10**12, 10**12 + 2, 2**62, 2**63 - 1]
    for (product, year, zone) in [*all_tables(), *((p, YEARS[-1] + 1, z)
                                                  for p in PRODUCTS for z in ZONES)]:
        cats = np.array([*range(1, 31), *big], dtype=np.int64)
        got = ceilings_of(year, product, zone, cats)
        assert got.dtype == np.float64
        assert got.tolist() == [float(ceiling(year, product, zone, int(c))) for c in cats]
    assert ceilings_of(2025, "PLUS", "other", np.zeros(0, np.int64)).tolist() == []
    with pytest.raises(ValueError, match="start at 1"):
        ceilings_of(2025, "PLUS", "other", np.array([0, 3]))
    with pytest.raises(ValueError, match="PLI"):
        ceilings_of(2025, "PLI", "other", np.array([3]))


@pytest.mark.parametrize("huge", [40, 10**7, 10**12])
def test_a_huge_household_does_not_slow_shortlists(grid, huge):
    """One demande of 10^7 or 10^12 persons (the boundary accepts counts up to 10^12) took
    27 s per shortlist naming a financement, or raised MemoryError: the ceilings were an
    array over every category up to the largest. Now each distinct category present, with
    the same eligibility as the scalar rules for every zone, financement and year (40: only
    ordinary households, the categories tabulated by value rather than sorted)."""
    rows = _rows(huge)
    index = Scorer(grid).index(rows, today=TODAY)
    assert index.result.report.rejected == 0
    res = index.result
    for commune in ("69123", "69266"):
        ranks = _ranks(res, commune)
        dwellings = [{"commune": commune, "typologie": "T2"}]
        dwellings += [{"commune": commune, "typologie": "T2", "financement": fin, "zone": zone,
                       "year": year}
                      for fin in PRODUCTS for zone in ZONES for year in (*YEARS, YEARS[-1] + 1)]
        for dwelling in dwellings:
            t = time.perf_counter()
            got = index.shortlist(dwelling, k=len(rows))
            assert time.perf_counter() - t < 0.05, dwelling
            assert [g["numero_unique"] for g in got] == _brute_force(rows, ranks, dwelling)
    plus = {"commune": "69123", "typologie": "T2", "financement": "PLUS"}
    assert rows[-1]["numero_unique"] in {g["numero_unique"] for g in index.shortlist(plus, k=200)}
    applicants = index.location_voulue(plus)
    assert len(applicants) == len(rows)
    eligible = [a for a in applicants if a["recevable"]]
    assert len(eligible) == len(_brute_force(rows, _ranks(res, "69123"), plus))

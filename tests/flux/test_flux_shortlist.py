"""Shortlists (§9) from a score file, eligibility filters and the ceilings tables (domain.md §4)."""
from __future__ import annotations

import datetime as dt
from fractions import Fraction

import numpy as np
import pytest

from cotation.flux.model import Logement
from cotation.flux.plafonds import (
    PLS, PLUS, PlafondsIndisponibles, categorie_menage, ceiling, ceiling_row, zone_of
)
from cotation.flux.scores_file import ScoreArrays, read_scores_csv, write_scores_csv
from cotation.flux.shortlist import CandidateSource, ScoreFileSource
from cotation.flux.targets import Party
from cotation.data.table import DemandeTable

DW = Logement("L1", "83001", False, "T3", "PLUS")
BAILLEUR = Party("BAILLEUR", "BAILLEUR", "b")
AL = Party("AL", "ACTION_LOGEMENT", "Action Logement")
ETAT = Party("EP", "ETAT_PRIO", "Préfet")


def _dem(nu, loc, typ, persons, adults=None, rfr=None, depot="2023-01-01", **extra):
    kids = persons - (adults if adults is not None else persons)
    return {"numero_unique": nu, "date_depot": dt.date.fromisoformat(depot), "nb_personnes": persons,
            "nb_adultes": adults if adults is not None else persons, "nb_enfants": kids,
            "localisations": tuple(loc), "typologies": frozenset(typ), "revenu_fiscal_reference": rfr,
            "prioritaire": extra.pop("prioritaire", False), "dalo_statut": "non", **extra}


RECORDS = [
    _dem("D1", ["83001"], ["T3"], 3, 2, 30_000, pools="ACTION_LOGEMENT"),
    _dem("D2", ["83001"], ["T3"], 4, 2, 50_000),                      # above the PLUS cat. 4 ceiling
    _dem("D3", ["83001"], ["T2"], 2, 2, 20_000),                      # does not want a T3
    _dem("D4", ["83008"], ["T3"], 3, 2, 20_000, demande_elargie="true"),
    _dem("D5", ["83001"], ["T3"], 1, 1, 10_000),                      # too small a household for a T3
    _dem("D6", ["83008", "83001"], ["T3"], 2, 2, None, depot="2022-05-01"),   # income unknown: kept
    _dem("D7", ["83001"], ["T3"], 2, 1, 20_000, prioritaire=True),
    _dem("D8", ["83001"], ["T3", "T4"], 5, 2, 40_000, depot="2020-01-01", pools="ACTION_LOGEMENT"),
    _dem("D9", ["83001"], ["T3"], 3, 2, 20_000, besoin_pmr="oui"),
]


def _scores():
    rows = [("D1", "83001", 50.0, 2), ("D2", "83001", 80.0, 1), ("D6", "83001", 40.0, 3), ("D7", "83001", 30.0, 4),
            ("D9", "83001", 90.0, 5), ("D6", "83008", 10.0, 1)]
    return ScoreArrays(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                       np.array([r[2] for r in rows]), np.array([r[2] for r in rows]), np.array([r[3] for r in rows]))


@pytest.fixture()
def source():
    return ScoreFileSource(DemandeTable.from_records(RECORDS), _scores(), year=2025)


def test_source_satisfies_the_protocol(source):
    assert isinstance(source, ScoreFileSource)
    src: CandidateSource = source  # the dispatcher only needs .shortlist
    assert callable(src.shortlist)


def test_bailleur_shortlist_filters_and_order(source):
    sl = source.shortlist(DW, BAILLEUR, 3)
    assert [c.numero_unique for c in sl] == ["D1", "D6", "D7"]
    assert [c.rank for c in sl] == [2, 3, 4] and sl[0].score == 50.0
    assert dict(sl.filtered) == {"commune": 1, "typologie": 1, "pool": 0, "taille_menage": 1,
                                 "plafond_ressources": 1, "pmr": 1}
    assert sl.eligible == 4 and not sl.insuffisance and sl.ordering == "cotation"
    # Unscored demandes come after every scored one.
    assert [c.numero_unique for c in source.shortlist(DW, BAILLEUR, 10)] == ["D1", "D6", "D7", "D8"]


def test_pools(source):
    al = source.shortlist(DW, AL, 3)
    assert [c.numero_unique for c in al] == ["D1", "D8"] and al.insuffisance
    assert dict(al.filtered)["pool"] == 5
    etat = source.shortlist(DW, ETAT, 3)
    assert [c.numero_unique for c in etat] == ["D7"] and etat.as_dict()["insuffisance_candidats"]


def test_other_financements_and_unknown_commune(source):
    plai = Logement("L2", "83001", False, "T3", "PLAI")
    sl = source.shortlist(plai, BAILLEUR, 5)
    # PLAI cat. 3 ceiling 2025 (other regions) is 22 356: D1 (30 000) goes too.
    assert [c.numero_unique for c in sl] == ["D6", "D7"]
    nowhere = source.shortlist(Logement("L3", "83999", False, "T3", "PLUS"), BAILLEUR, 3)
    assert len(nowhere) == 0 and dict(nowhere.filtered) == {"commune": 9}


def test_date_depot_fallback_and_elargie():
    src = ScoreFileSource(DemandeTable.from_records(RECORDS), None, year=2025, communes=["83001", "83008"])
    sl = src.shortlist(DW, BAILLEUR, 10)
    assert sl.ordering == "date_depot"
    # D4 asked to be considered everywhere (demande élargie); oldest first.
    assert [c.numero_unique for c in sl] == ["D8", "D6", "D1", "D4", "D7"]


def test_score_file_round_trip(tmp_path):
    p = tmp_path / "scores.csv"
    write_scores_csv(_scores(), p)
    back = read_scores_csv(p)
    assert back.numero_unique.tolist() == _scores().numero_unique.tolist()
    assert back.rank.tolist() == [2, 1, 3, 4, 5, 1]
    p.write_text("numero_unique,commune,score,score_valide,rank\nD1,83001,abc,,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"scores.csv:2:"):
        read_scores_csv(p)


def test_household_categories():
    assert categorie_menage(1) == 1
    assert categorie_menage(2, 2, 0) == 2
    assert categorie_menage(2, 2, 0, jeune_couple=True) == 3
    assert categorie_menage(2, 1, 1) == 3            # one person + 1 dependant
    assert categorie_menage(3, 1, 2) == 4
    assert categorie_menage(3, 2, 1) == 3
    assert categorie_menage(4, 2, 2) == 4
    assert categorie_menage(7, 2, 5) == 7
    assert categorie_menage(1, handicap=True) == 2


def test_ceilings_tables():
    assert ceiling(2025, "PLUS", "autres", 1) == 23_201
    assert ceiling(2026, "PLAI", "paris_limitrophes", 6) == 46_368
    assert ceiling(2025, "PLUS", "idf", 8) == 76_504 + 2 * 8_524
    assert ceiling(2025, "AUTRE", "autres", 1) is None
    # The PLS tables are PLUS × 1.3 rounded half to even, cell by cell.
    for key, row in PLS.items():
        assert row == tuple(round(v * Fraction(13, 10)) for v in PLUS[key])
    assert ceiling_row(2024, "PLS", "autres")[0] == round(22_642 * Fraction(13, 10))
    with pytest.raises(PlafondsIndisponibles, match="years available"):
        ceiling(2019, "PLUS", "autres", 1)


def test_zones():
    assert zone_of("75112") == "paris_limitrophes"
    assert zone_of("92012") == "paris_limitrophes"
    assert zone_of("91228") == "idf"
    assert zone_of("83137") == "autres"


def test_a_huge_household_does_not_size_the_ceilings(source):
    """A demande of 10^12 persons (accepted: counts go up to 10^12) made the ceilings a table
    indexed by category up to the largest household: terabytes, a MemoryError for every
    shortlist. The ceiling is computed per demande in closed form now."""
    big = RECORDS + [_dem("DX", ["83001"], ["T3", "T6P"], 10 ** 12, 2, 30_000)]
    src = ScoreFileSource(DemandeTable.from_records(big), _scores(), year=2025)
    sl = src.shortlist(DW, BAILLEUR, 3)
    assert [c.numero_unique for c in sl] == [c.numero_unique for c in source.shortlist(DW, BAILLEUR, 3)]
    # a household of 8 in cat. 8: the ceiling of cat. 6 plus two increments (PLUS 2025)
    eight = RECORDS + [_dem("D8P", ["83001"], ["T3"], 8, 2, 10 ** 9)]
    assert "D8P" not in [c.numero_unique for c in
                         ScoreFileSource(DemandeTable.from_records(eight), None, year=2025,
                                         communes=["83001"]).shortlist(DW, BAILLEUR, 20)]


def test_the_ceiling_of_a_large_household_is_cat_6_plus_increments():
    """A household of 8 (category 8) is held to the ceiling of category 6 plus two increments
    of the table (PLUS 2025, zone autres: 59,636 + 2 × 6,652 = 72,940), not to category 6's
    and not to none: one euro under it is kept, one over it is filtered on income."""
    row = ceiling_row(2025, "PLUS", "autres")
    limit = row[5] + 2 * row[6]
    assert limit == 72_940
    dw = Logement("L8", "83001", False, "T6P", "PLUS")
    eight = [_dem("UNDER", ["83001"], ["T6P"], 8, 2, limit),
             _dem("OVER", ["83001"], ["T6P"], 8, 2, limit + 1),
             _dem("CAT6", ["83001"], ["T6P"], 6, 2, row[5] + 1)]     # over cat. 6's own ceiling
    src = ScoreFileSource(DemandeTable.from_records(eight), None, year=2025, communes=["83001"])
    sl = src.shortlist(dw, BAILLEUR, 10)
    assert [c.numero_unique for c in sl] == ["UNDER"]
    assert dict(sl.filtered)["plafond_ressources"] == 2

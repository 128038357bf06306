"""Management mode (flux.md §9-10, seed Occitanie 2023) changes who designates and what is counted.

Data ``tests/flux/data/gestion``: V1 is put at the préfet's disposal and the bailleur designates,
presents and signs; V2 and V3 go to the Conseil départemental (its own designation in V2, the
bailleur completing the list in V3); V4 is put at the préfet's disposal and nothing follows.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotation.cli import main

D = Path(__file__).parent / "data" / "gestion"


def _bilan(tmp_path: Path, conventions: str) -> dict[str, dict]:
    (tmp_path / "c.yaml").write_text(conventions, encoding="utf-8")
    assert main(["flux", "bilan", "--logements", str(D / "logements.csv"), "--conventions", str(tmp_path / "c.yaml"),
                 "--evenements", str(D / "evenements.csv"), "--year", "2025", "--today", "2025-12-31",
                 "-o", str(tmp_path / "b")]) == 0
    doc = json.loads((tmp_path / "b" / "bilan.json").read_text(encoding="utf-8"))
    return {r["reservataire"]: r for r in doc["reservataires"]}


def _pick(row: dict) -> tuple:
    return row["decompte_etape"], row["designations"], row["attributions"], row["decomptes"]


TEXT = (D / "conventions.yaml").read_text(encoding="utf-8")


def test_delegated_management_bailleur_designates_for_the_reservataire(tmp_path):
    rows = _bilan(tmp_path, TEXT)
    # The préfet (delegated): counted at the attribution; the bailleur's designation, CALEOL
    # presentation and lease in V1 are made for it. V4 (no attribution) is not counted.
    assert _pick(rows["ETAT"]) == ("attribution", 1, 1, 1)
    # The Conseil départemental (direct): counted at the mise à disposition (V2 and V3); in V3
    # the bailleur completes the list for itself, the mise à disposition still counts.
    assert _pick(rows["CD31"]) == ("mise_a_disposition", 1, 1, 2)
    assert _pick(rows["BAILLEUR"])[1:] == (1, 1, 0)


def test_direct_management_same_events(tmp_path):
    rows = _bilan(tmp_path, TEXT.replace("management: delegue", "management: direct"))
    # Direct: the préfet designates itself, so the bailleur's designation in V1 is the
    # bailleur's; the préfet is counted at each mise à disposition (V1, V4).
    assert _pick(rows["ETAT"]) == ("mise_a_disposition", 0, 0, 2)
    assert _pick(rows["BAILLEUR"])[1:] == (2, 2, 0)


@pytest.mark.parametrize("text, expected", [
    (TEXT.replace("management: delegue}", "management: delegue, decompte: bail_signe}"), ("bail_signe", 1, 1, 1)),
    (TEXT.replace("conventions:\n", "settings:\n  decompte:\n    etape_par_gestion: {delegue: proposition_caleol}\n"
                  "conventions:\n"), ("proposition_caleol", 1, 1, 1)),
])
def test_an_explicit_step_wins_over_the_management_default(tmp_path, text, expected):
    assert text != TEXT
    assert _pick(_bilan(tmp_path, text)["ETAT"]) == expected

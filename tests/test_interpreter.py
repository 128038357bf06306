"""Semantics of scoring, one construct at a time, against values computed by hand."""
from __future__ import annotations

import datetime as dt

import pytest

from cotation.testing.cases import demandes_table
from cotation.grid import load_grid
from cotation.grid.evaluate import months_between, round_hundredths, round_to
from cotation.engine.scoring import score_interpreted

from _support import TODAY, grid_text, write_grid


def score_one(tmp_path, extra: str, demande: dict, today=TODAY, commune="69123"):
    grid = load_grid(write_grid(tmp_path, grid_text(extra)))
    demande = {"numero_unique": "D1", "date_depot": "2025-01-01", "nb_personnes": 1,
               "localisations": ["69123"], **demande}
    st = score_interpreted(grid.ir, demandes_table([demande]), today)
    rows = [p for p in range(len(st)) if st.commune[p] == commune]
    assert rows, "pair not scored"
    p = rows[0]
    ids = [c.id for c in grid.ir.criteria]
    points = {cid: st.points[p, j] / 100 for j, cid in enumerate(ids)}
    met = {cid for j, cid in enumerate(ids) if st.criterion_met(j)[p]}
    return st.score[p] / 100, st.score_valide[p] / 100, met, points, st, p


@pytest.mark.parametrize("x, expected", [(2.675, 268), (-2.675, -268), (0.125, 13), (-0.125, -13),
                                         (1e-9, 0), (12.344999, 1234), (0.0, 0)])
def test_round_hundredths_half_away_from_zero(x, expected):
    # The spec's formula in doubles: 2.675 * 100 rounds to exactly 267.5, hence 268.
    assert round_hundredths(x) == expected


@pytest.mark.parametrize("d1, d2, months", [
    ("2024-01-31", "2024-02-29", 0), ("2024-01-31", "2024-03-31", 2), ("2024-01-15", "2024-01-14", -1),
    ("2023-12-15", "2025-06-30", 18), ("2025-06-30", "2023-12-15", -19), ("2024-02-29", "2025-02-28", 11),
])
def test_months_between(d1, d2, months):
    assert months_between(dt.date.fromisoformat(d1), dt.date.fromisoformat(d2)) == months


def test_round_function_in_expressions():
    assert round_to(2.5, 0) == 3.0 and round_to(-2.5, 0) == -3.0 and round_to(0.125, 2) == 0.13


def test_criterion_rounding_cap_floor_weight(tmp_path):
    extra = """\
      - id: a
        label: "A"
        points: "nb_personnes / 3"     # 0.3333… → 0.33
      - id: b
        label: "B"
        points: "nb_personnes * 100"
        cap: 150
        weight: 0.5                    # min(100·n, 150) × 0.5
      - id: c
        label: "C"
        points: "0 - nb_personnes"
        floor: -0.5
        weight: 3                      # max(-1, -0.5) × 3 = -1.5
    """
    score, _, met, pts, *_ = score_one(tmp_path, extra, {"nb_personnes": 1})
    assert pts == {"dalo": 0, "a": 0.33, "b": 50, "c": -1.5}
    assert score == 48.83 and met == {"a", "b", "c"}
    score, _, _, pts, *_ = score_one(tmp_path, extra, {"nb_personnes": 2})
    assert pts["b"] == 75 and pts["a"] == 0.67


def test_three_valued_logic(tmp_path):
    extra = """\
      - id: or_true
        label: "missing or true"
        when: "ressources_mensuelles > 1000 or nb_personnes == 1"
        points: 1
      - id: and_false
        label: "not (missing and false)"
        when: "not (ressources_mensuelles > 1000 and nb_personnes == 2)"
        points: 2
      - id: missing_cmp
        label: "missing comparison"
        when: "ressources_mensuelles > 1000"
        points: 4
      - id: not_missing
        label: "not missing is missing"
        when: "not (ressources_mensuelles > 1000)"
        points: 8
      - id: is_missing
        label: "is_missing"
        when: "is_missing(ressources_mensuelles)"
        points: "coalesce(ressources_mensuelles, 16)"
      - id: if_missing
        label: "if with missing condition gives missing"
        points: "if ressources_mensuelles > 0 then 32 else 64"
    """
    score, _, met, pts, *_ = score_one(tmp_path, extra, {"nb_personnes": 1})
    assert met == {"or_true", "and_false", "is_missing"} and score == 19


def test_division_by_zero_is_missing_and_taux_effort(tmp_path):
    extra = """\
      - id: effort
        label: "Taux d'effort"
        bands:
          of: taux_effort
          steps:
            - {from: 0.3, to: 0.5, points: 10}
            - {from: 0.5, points: 25}
    """
    d = {"loyer_actuel": 500, "aide_logement": 100, "ressources_mensuelles": 1000}
    assert score_one(tmp_path, extra, d)[3]["effort"] == 10          # (500-100)/1000 = 0.4
    d["aide_logement"] = None
    assert score_one(tmp_path, extra, d)[3]["effort"] == 25          # 0.5 → second step
    d["ressources_mensuelles"] = 0
    assert "effort" not in score_one(tmp_path, extra, d)[2]          # missing → not met
    d.update(ressources_mensuelles=2000, loyer_actuel=500)
    assert "effort" not in score_one(tmp_path, extra, d)[2]          # 0.25: no band


def test_groups_max_first_sum_with_caps(tmp_path):
    extra = """\
      - id: a
        label: "A"
        when: "nb_personnes >= 1"
        points: 30
      - id: b
        label: "B"
        when: "nb_personnes >= 2"
        points: 30
      - id: c
        label: "C"
        when: "nb_personnes >= 3"
        points: 50
      - id: d
        label: "D"
        points: 20
      - id: e
        label: "E"
        points: 25
    groups:
      - id: gmax
        policy: max
        members: [a, b, c]
      - id: gsum
        members: [d, e]
        cap: 40
    """
    score, _, met, _, st, p = score_one(tmp_path, extra, {"nb_personnes": 2})
    # max: a and b tie at 30 → a (earliest) kept, b set aside; sum 45 capped at 40
    assert score == 70 and met == {"a", "b", "d", "e"}
    assert int(st.set_aside[p, 0]) == 1 << 2   # bit of 'b' (criterion index 2; dalo is 0)
    score, *_ = score_one(tmp_path, extra, {"nb_personnes": 3})
    assert score == 90
    first = extra.replace("policy: max", "policy: first")
    score, _, _, _, st, p = score_one(tmp_path, first, {"nb_personnes": 3})
    assert score == 70 and int(st.set_aside[p, 0]) == (1 << 2) | (1 << 3)


def test_max_group_with_only_negative_members_keeps_the_largest(tmp_path):
    extra = """\
      - id: m1
        label: "malus 1"
        points: -10
      - id: m2
        label: "malus 2"
        points: -5
    groups:
      - id: malus
        policy: max
        members: [m1, m2]
    total:
      floor: -100
    """
    assert score_one(tmp_path, extra, {})[0] == -5


def test_validated_score_and_group_policy(tmp_path):
    extra = """\
      - id: violences
        label: "Violences"
        validation: travailleur_social
        points: 50
      - id: heberge
        label: "Hébergé"
        points: 20
    groups:
      - id: g
        policy: max
        members: [violences, heberge]
    """
    d = {"dalo_statut": "actif"}
    score, valide, met, *_ = score_one(tmp_path, extra, d)
    # dalo (automatique) 100 + violences 50; validated: violences awaits → heberge (20) is kept
    assert score == 150 and valide == 120
    d["criteres_valides"] = ["violences"]
    assert score_one(tmp_path, extra, d)[:2] == (150, 150)
    score, valide, *_ = score_one(tmp_path, extra.replace("points: 20", "points: 20\n        validation: guichet"), {})
    assert (score, valide) == (50, 0)


def test_total_floor_and_cap(tmp_path):
    extra = """\
      - id: malus
        label: "Malus"
        points: -30
    total:
      floor: 0
    """
    assert score_one(tmp_path, extra, {})[0] == 0
    assert score_one(tmp_path, extra.replace("floor: 0", "cap: 50"), {"dalo_statut": "actif"})[0] == 50


def test_loc_fields_and_duplicate_communes(tmp_path):
    extra = """\
      - id: premier_choix
        label: "Premier choix"
        when: "loc.rang == 1"
        points: 10
      - id: travail
        label: "Travail"
        when: "loc.commune == commune_travail"
        points: 5
      - id: epci
        label: "EPCI"
        when: "loc.epci == '200046977' and loc.commune in localisations"
        points: 1
    """
    d = {"localisations": ["75056", "69266", "69123", "69266"], "commune_travail": "69266"}
    *_, st, _ = score_one(tmp_path, extra, d, commune="69266")
    got = {st.commune[p]: (st.score[p], st.rang[p]) for p in range(len(st))}
    assert got == {"69266": (600, 2), "69123": (100, 3)}


def test_applies_to_missing_means_not_scored(tmp_path):
    grid = load_grid(write_grid(tmp_path, grid_text().replace('  version: "1"', '  applies_to: "not est_mutation"\n  version: "1"')))
    t = demandes_table([{"numero_unique": "X", "date_depot": "2025-01-01", "nb_personnes": 1,
                         "localisations": ["69123"]},
                        {"numero_unique": "Y", "date_depot": "2025-01-01", "nb_personnes": 1,
                         "localisations": ["69123"], "est_mutation": False}])
    st = score_interpreted(grid.ir, t, TODAY)
    assert list(st.numero_unique) == ["Y"]


def test_set_membership_and_functions(tmp_path):
    extra = """\
      - id: motif
        label: "Motif"
        when: "'sante' in motifs and has(motifs, 'handicap') and typologie_actuelle not in {'T1', 'T2'}"
        points: "clamp(years_between(date_naissance, today), 0, 50) + max(1, 2.5) + abs(-1) + floor(1.7) + ceil(1.2) + round(2.345, 2)"
      - id: jours
        label: "Jours"
        when: "date_depot between 2024-01-01 and today"
        points: "days_between(date_depot, today) / 10"
    """
    d = {"motifs": ["sante", "handicap"], "typologie_actuelle": "T3", "date_naissance": "1960-07-01",
         "date_depot": "2025-06-20"}
    score, _, met, pts, *_ = score_one(tmp_path, extra, d)
    assert pts["motif"] == 50 + 2.5 + 1 + 1 + 2 + 2.35   # age 64 clamped to 50
    assert pts["jours"] == 1.0


def test_local_field_default_and_values(tmp_path):
    text = grid_text("""\
      - id: essentiel
        label: "Travailleur essentiel"
        when: travailleur_essentiel
        points: 15
    fields:
      travailleur_essentiel: {type: bool, default: false}
    """)
    grid = load_grid(write_grid(tmp_path, text))
    base = {"date_depot": "2025-01-01", "nb_personnes": 1, "localisations": ["69123"]}
    t = demandes_table([{**base, "numero_unique": "A", "travailleur_essentiel": "true"},
                        {**base, "numero_unique": "B", "travailleur_essentiel": ""},
                        {**base, "numero_unique": "C", "travailleur_essentiel": "peut-être"}])
    st = score_interpreted(grid.ir, t, TODAY)
    assert dict(zip(st.numero_unique, st.score)) == {"A": 1500, "B": 0}
    assert [(r.numero_unique, r.column) for r in st.rejects] == [("C", "travailleur_essentiel")]


def test_spec_example_refusal_within_twelve_months(tmp_path):
    from _support import ROOT
    grid = load_grid(ROOT / "tests" / "grids" / "spec_example.yaml")
    base = {"date_depot": "2024-06-30", "nb_personnes": 1, "localisations": ["69123"], "est_mutation": False}
    t = demandes_table([{**base, "numero_unique": "R1", "nb_refus_adaptes": 2, "date_dernier_refus_adapte": "2025-01-15"},
                        {**base, "numero_unique": "R2", "nb_refus_adaptes": 1, "date_dernier_refus_adapte": "2024-06-01"}])
    st = score_interpreted(grid.ir, t, TODAY)
    # ancienneté 12 months × 2 = 24; R1 loses 2 × 20 → floor 0; R2's refusal is over 12 months old
    assert dict(zip(st.numero_unique, st.score)) == {"R1": 0, "R2": 2400}

"""Regression tests for findings of the spec-conformance review."""
from __future__ import annotations

import pytest

from cotation.testing.cases import demandes_table
from cotation.grid.diagnostics import GridError
from cotation.grid import load_grid
from cotation.engine.scoring import score_interpreted
from cotation.data.schema import COLUMNS_BY_NAME
from cotation.data.values import ValueParseError, parse_cell

from _support import MINIMAL, TODAY, grid_text, write_grid


def scores(grid, rows):
    st = score_interpreted(grid.ir, demandes_table(rows), TODAY)
    return st


def test_ordering_key_without_direction_defaults_to_asc_except_score(tmp_path):
    grid = load_grid(write_grid(tmp_path, MINIMAL + "ordering:\n  - {key: score}\n  - {key: date_depot}\n"))
    rows = [{"numero_unique": n, "date_depot": d, "nb_personnes": 1, "localisations": ["69123"], "dalo_statut": s}
            for n, d, s in (("A", "2024-01-01", "non"), ("B", "2023-01-01", "non"), ("C", "2022-01-01", "actif"))]
    st = scores(grid, rows)
    assert [st.numero_unique[i] for i in st.rank.argsort()] == ["C", "B", "A"]


def test_rang_is_the_position_in_the_list_as_written(tmp_path):
    text = grid_text("""\
      - id: rang
        label: "Rang"
        points: "10 - loc.rang"
    """).replace('communes: ["69123", "69266"]', 'communes: ["69123", "69266", "2A004"]')
    grid = load_grid(write_grid(tmp_path, text))
    st = scores(grid, [{"numero_unique": "A", "date_depot": "2024-01-01", "nb_personnes": 1,
                        "localisations": ["69266", "69123", "69123", "2A004"]}])
    assert dict(zip(st.commune, st.rang)) == {"69266": 1, "69123": 2, "2A004": 4}
    assert dict(zip(st.commune, st.score)) == {"69266": 900, "69123": 800, "2A004": 600}


def test_impossible_yaml_date_is_a_located_error(tmp_path):
    with pytest.raises(GridError) as exc:
        load_grid(write_grid(tmp_path, MINIMAL.replace("2024-01-01", "2024-02-30")))
    assert exc.value.diagnostics[0].span.line == 10


def test_overflowing_points_are_not_met_instead_of_crashing(tmp_path):
    grid = load_grid(write_grid(tmp_path, grid_text("""\
      - id: huge
        label: "Huge"
        points: "ressources_mensuelles * ressources_mensuelles * ressources_mensuelles"
    """)))
    st = scores(grid, [{"numero_unique": "A", "date_depot": "2024-01-01", "nb_personnes": 1,
                        "localisations": ["69123"], "ressources_mensuelles": "999999999999"}])
    assert st.score[0] == 0


def test_has_on_localisations_and_text_scalars(tmp_path):
    text = grid_text("""\
      - id: lyon
        label: "Demande Lyon"
        when: "has(localisations, '69123')"
        points: 3
    """).replace('version: "1"', "version: 2024.10").replace('["69123", "69266"]', "[69123, 69266]")
    grid = load_grid(write_grid(tmp_path, text))
    assert grid.ir.version == "2024.10" and grid.ir.communes == ("69123", "69266")
    st = scores(grid, [{"numero_unique": "A", "date_depot": "2024-01-01", "nb_personnes": 1,
                        "localisations": ["69266", "69123"]}])
    assert set(st.score) == {300}


@pytest.mark.parametrize("text, ok", [("2024-01-05", True), ("20240105", False), ("2024-W01-1", False)])
def test_canonical_dates_are_strict(text, ok):
    col = COLUMNS_BY_NAME["date_depot"]
    if ok:
        assert parse_cell(col, text).isoformat() == text
    else:
        with pytest.raises(ValueParseError):
            parse_cell(col, text)


def test_whole_number_written_as_float_is_accepted():
    assert parse_cell(COLUMNS_BY_NAME["nb_personnes"], "3.0") == 3
    with pytest.raises(ValueParseError):
        parse_cell(COLUMNS_BY_NAME["nb_personnes"], "3.5")


def test_local_field_may_replace_a_derived_field(tmp_path):
    text = grid_text("""\
      - id: refus
        label: "Refus"
        refusal_effect: true
        points: "-10 * nb_refus_adaptes_12m"
    fields:
      nb_refus_adaptes_12m: {type: int, default: 0}
    """).replace('  version: "1"', '  refusal_policy: "Un refus retire 10 points."\n  version: "1"')
    grid = load_grid(write_grid(tmp_path, text))
    assert [w.code for w in grid.warnings] == ["shadows-derived"]
    st = scores(grid, [{"numero_unique": "A", "date_depot": "2024-01-01", "nb_personnes": 1,
                        "localisations": ["69123"], "nb_refus_adaptes_12m": 2}])
    assert st.score[0] == -2000

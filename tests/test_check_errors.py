"""Every error the spec lists, with file:line:col, criterion and hint."""
from __future__ import annotations

import pytest

from cotation.grid.diagnostics import GridError
from cotation.grid import load_grid

from _support import MINIMAL, grid_text, write_grid


def errors(tmp_path, text):
    path = write_grid(tmp_path, text)
    with pytest.raises(GridError) as exc:
        load_grid(path)
    return exc.value.diagnostics


def one(tmp_path, text, code):
    diags = [d for d in errors(tmp_path, text) if d.code == code]
    assert diags, f"no {code} diagnostic"
    return diags[0]


def test_minimal_grid_is_valid(tmp_path):
    grid = load_grid(write_grid(tmp_path, MINIMAL))
    assert grid.ir.criteria[0].id == "dalo"


def test_unknown_field_with_closest_names(tmp_path):
    text = grid_text("""\
      - id: sans_abri
        label: "Sans abri"
        when: "situation_logment == 'sans_abri'"
        points: 80
    """)
    d = one(tmp_path, text, "unknown-name")
    assert (d.span.line, d.span.column) == (19, 12)   # the name inside the quoted expression
    assert d.criterion == "sans_abri"
    assert "situation_logement" in d.hint
    assert str(d).startswith(f"{d.span.file}:19:12: error[unknown-name] [sans_abri]")


def test_value_outside_enumeration(tmp_path):
    text = grid_text("""\
      - id: sans_abri
        label: "Sans abri"
        when: "situation_logement == 'sans_abrit'"
        points: 80
    """)
    d = one(tmp_path, text, "not-in-enum")
    assert "'sans_abrit' is not a value of situation_logement" in d.message
    assert "did you mean 'sans_abri'" in d.hint
    assert (d.span.line, d.span.column) == (19, 34)


def test_type_mismatch(tmp_path):
    text = grid_text("""\
      - id: age
        label: "Age"
        when: "nb_personnes + 1"
        points: 5
    """)
    d = one(tmp_path, text, "type-mismatch")
    assert "'when' must be a boolean" in d.message and d.criterion == "age"


def test_type_mismatch_in_comparison(tmp_path):
    text = grid_text("""\
      - id: x
        label: "X"
        when: "date_depot < 12"
        points: 5
    """)
    d = one(tmp_path, text, "type-mismatch")
    assert "a date and a whole number" in d.message


def test_expression_syntax_error_points_at_token(tmp_path):
    text = grid_text("""\
      - id: x
        label: "X"
        when: nb_personnes >> 2
        points: 5
    """)
    d = one(tmp_path, text, "expr-syntax")
    assert (d.span.line, d.span.column) == (19, 25)  # the second '>'


def test_duplicate_criterion_id(tmp_path):
    text = grid_text("""\
      - id: dalo
        label: "Encore DALO"
        points: 1
    """)
    d = one(tmp_path, text, "duplicate-id")
    assert d.span.line == 17 and d.criterion == "dalo"


def test_group_member_unknown_and_twice(tmp_path):
    text = grid_text("""\
      - id: a
        label: "A"
        points: 1
    groups:
      - id: g1
        members: [a, dalo_]
      - id: g2
        members: [a]
    """)
    diags = errors(tmp_path, text)
    unknown = [d for d in diags if d.code == "group-unknown-member"][0]
    assert "did you mean 'dalo'" in unknown.hint and unknown.span.line == 22
    twice = [d for d in diags if d.code == "group-member-twice"][0]
    assert "already in group 'g1'" in twice.message and twice.span.line == 24


def test_parameter_cycle_and_unknown(tmp_path):
    text = MINIMAL.replace("criteria:", "parameters:\n  a: \"b + 1\"\n  b: \"a * 2\"\n  c: \"zz + 1\"\ncriteria:")
    diags = errors(tmp_path, text)
    assert any(d.code == "parameter-cycle" and "a → b → a" in d.message for d in diags)
    assert any(d.code == "unknown-name" and "'zz' is not a parameter" in d.message for d in diags)


def test_band_overlap_and_empty(tmp_path):
    text = grid_text("""\
      - id: effort
        label: "Taux d'effort"
        bands:
          of: taux_effort
          steps:
            - {from: 0.3, to: 0.5, points: 10}
            - {from: 0.4, points: 20}
            - {from: 0.9, to: 0.8, points: 5}
    """)
    diags = errors(tmp_path, text)
    ov = [d for d in diags if d.code == "band-overlap"][0]
    assert "overlaps step 1" in ov.message and ov.span.line == 23
    em = [d for d in diags if d.code == "band-empty"][0]
    assert em.span.line == 24


def test_missing_legal_priority(tmp_path):
    text = MINIMAL.replace("    legal_priority: true\n", "")
    d = one(tmp_path, text, "missing-legal-priority")
    assert d.span.line == 11


def test_missing_refusal_policy(tmp_path):
    text = grid_text("""\
      - id: refus
        label: "Refus"
        refusal_effect: true
        points: "-10 * nb_refus_adaptes"
    """)
    d = one(tmp_path, text, "missing-refusal-policy")
    assert d.criterion == "refus" and d.span.line == 19


def test_schema_unknown_key_with_hint(tmp_path):
    text = grid_text("""\
      - id: x
        label: "X"
        pionts: 5
    """)
    diags = errors(tmp_path, text)
    d = [d for d in diags if "pionts" in d.message][0]
    assert d.code == "schema" and "did you mean 'points'" in d.hint and d.span.line == 19


def test_duplicate_yaml_key(tmp_path):
    text = MINIMAL.replace("    points: 100\n", "    points: 100\n    points: 200\n")
    d = one(tmp_path, text, "duplicate-key")
    assert d.span.line == 17 and "first defined at line 16" in d.message


def test_yaml_syntax_error(tmp_path):
    d = one(tmp_path, MINIMAL + "  - id: [unclosed\n", "yaml-syntax")
    assert d.span.line >= 16


def test_all_errors_reported_in_one_pass(tmp_path):
    text = grid_text("""\
      - id: a
        label: "A"
        when: "unknown_one == 1"
        points: 1
      - id: b
        label: "B"
        when: "unknown_two == 2"
        points: 1
    """)
    codes = [d.code for d in errors(tmp_path, text)]
    assert codes.count("unknown-name") == 2


def test_loc_not_allowed_in_applies_to(tmp_path):
    text = MINIMAL.replace('  version: "1"', '  applies_to: "loc.commune == \'69123\'"\n  version: "1"')
    d = one(tmp_path, text, "unknown-name")
    assert "depends on the commune" in d.message


def test_commune_literal_checked(tmp_path):
    text = grid_text("""\
      - id: x
        label: "X"
        when: "loc.commune == '6912'"
        points: 1
    """)
    assert "INSEE" in one(tmp_path, text, "type-mismatch").message


def test_folded_block_expression_position(tmp_path):
    text = grid_text("""\
      - id: x
        label: "X"
        when: >
          nb_personnes > 2 and
          situation_logemen == 'hotel'
        points: 1
    """)
    d = one(tmp_path, text, "unknown-name")
    assert (d.span.line, d.span.column) == (21, 7)


def test_ordering_tiebreak_appended_is_a_warning(tmp_path):
    text = MINIMAL + "ordering:\n  - {key: score, direction: desc}\n"
    grid = load_grid(write_grid(tmp_path, text))
    assert [w.code for w in grid.warnings] == ["ordering-tiebreak-appended"]
    assert grid.ir.ordering[-1].label == "numero_unique"


@pytest.mark.parametrize("when", [
    "typologie_actuelle in (if prioritaire then {'T1'} else {'T2'})",
    "'T1' in coalesce({'T1'}, {'T2'})",
    "is_missing(if prioritaire then {1} else {2})",
])
def test_set_literals_as_branches_are_a_type_mismatch(tmp_path, when):
    """A set literal is only usable after 'in': two of them as the operands of if/else or
    coalesce crashed the checker (AttributeError: 'SetLiteral' object has no attribute
    'value') instead of a located error."""
    text = grid_text(f"""\
      - id: typo
        label: "Typologie"
        when: "{when}"
        points: 5
    """)
    d = one(tmp_path, text, "type-mismatch")
    assert d.criterion == "typo" and d.span.line == 19
    assert "a set of codes" in d.message and "text literal" not in d.message

"""Intentionally broken grids (grids/broken/) give the diagnostics the spec lists."""
from __future__ import annotations

import pytest
import yaml

from cotation.testing.cases import _diag_matches
from cotation.grid.diagnostics import GridError
from cotation.grid import load_grid

from _support import ROOT

BROKEN = ROOT / "grids" / "broken"
EXPECTED = yaml.safe_load((BROKEN / "expected.yaml").read_text(encoding="utf-8")) if (BROKEN / "expected.yaml").exists() else []
if isinstance(EXPECTED, dict):
    EXPECTED = EXPECTED.get("expected") or EXPECTED.get("grids") or []
SPEC_CODES = {"yaml-syntax", "duplicate-key", "schema", "expr-syntax", "unknown-name", "type-mismatch",
              "not-in-enum", "duplicate-id", "group-unknown-member", "group-member-twice",
              "parameter-cycle", "band-overlap", "band-empty", "missing-legal-priority",
              "missing-refusal-policy"}


@pytest.mark.parametrize("expected", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_broken_grid_gives_expected_diagnostic(expected):
    with pytest.raises(GridError) as exc:
        load_grid(BROKEN / expected["file"])
    diags = exc.value.diagnostics
    want = {k: v for k, v in expected.items() if k in ("code", "line", "column", "criterion", "contains")}
    assert any(_diag_matches(d, want) for d in diags), "\n".join(map(str, diags))


@pytest.mark.parametrize("expected", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_broken_grid_tells_a_french_author_what_to_write(expected, monkeypatch):
    """In French (the default), the diagnostic says what is wrong, where (file:line:col) and
    what to write instead: every broken grid names that French hint, and the message has it."""
    assert expected.get("hint_fr"), f"{expected['file']}: no French hint expected (hint_fr)"
    monkeypatch.setenv("COTATION_LANG", "fr")
    with pytest.raises(GridError) as exc:
        load_grid(BROKEN / expected["file"])
    want = {k: v for k, v in expected.items() if k in ("code", "line", "column", "criterion")}
    lines = [d.format() for d in exc.value.diagnostics if _diag_matches(d, want)]
    assert lines, "\n".join(d.format() for d in exc.value.diagnostics)
    line = lines[0]
    assert f":{expected['line']}:{expected['column']}: erreur[{expected['code']}]" in line, line
    assert expected["hint_fr"] in line, line
    english = ("error", "warning", "did you mean", "expected", "must", " is not ", "unknown key")
    assert not [w for w in english if w in line.split("]", 1)[1]], line


def test_every_spec_error_has_a_broken_grid():
    assert SPEC_CODES <= {e["code"] for e in EXPECTED}


def test_example_grids_validate_without_errors():
    grids = [p for p in (ROOT / "grids").glob("*.yaml") if not p.name.endswith(".cases.yaml")]
    assert len(grids) >= 5
    for path in grids:
        load_grid(path)

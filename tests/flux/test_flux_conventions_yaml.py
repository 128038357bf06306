"""A conventions file is YAML written by hand: anchors and aliases (a "billion laughs" of a
few hundred bytes took 14.5 s and 2.3 GB) and deep nesting are refused at their line."""
from __future__ import annotations

from pathlib import Path

import pytest

from cotation.cli import main
from cotation.flux.conventions import loads_conventions
from cotation.flux.errors import FluxInputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flux"


@pytest.mark.parametrize("head, line", [
    ("config_version: &a [x, x]\nnote: [*a, *a]\n", 1),
    ("note: " + "[" * 60 + "]" * 60 + "\n", 1),
])
def test_hostile_yaml_is_refused_at_its_line(head, line):
    text = head + (EXAMPLES / "conventions.yaml").read_text(encoding="utf-8")
    with pytest.raises(FluxInputError) as exc:
        loads_conventions(text, "c.yaml")
    problem = exc.value.problems[0]
    assert (problem.source, problem.line) == ("c.yaml", line), problem


def test_the_cli_says_it_in_one_line(tmp_path, capsys):
    bomb = tmp_path / "c.yaml"
    bomb.write_text("config_version: &a [x, x]\nnote: [*a, *a]\n"
                    + (EXAMPLES / "conventions.yaml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    assert main(["flux", "assiette", "--logements", str(EXAMPLES / "logements.csv"),
                 "--conventions", str(bomb), "--evenements", str(EXAMPLES / "evenements.csv"),
                 "--year", "2025", "-o", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "c.yaml:1" in err[0] and "aliases" in err[0], err


@pytest.mark.parametrize("old, new, line, words", [
    ("    k: 3", "    k: -1", 25, "settings.dispatch.k: -1 must be at least 1"),
    ("    k: 3", "    k: trois", 25, "settings.dispatch.k: 'trois' is not a whole number"),
    ("  departement: '83'", "  departement: 'x83x'", 6,
     "bailleur.departement: 'x83x' is not written as expected"),
])
def test_schema_problems_are_worded_not_jsonschemas_english(old, new, line, words):
    text = (EXAMPLES / "conventions.yaml").read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(FluxInputError) as exc:
        loads_conventions(text.replace(old, new, 1), "c.yaml")
    problem = exc.value.problems[0]
    assert problem.line == line and words in problem.message, problem


def test_negative_stock_or_rotation_is_a_usage_error(capsys):
    assert main(["flux", "conversion", "--methode", "rotation", "--stock", "ETAT=250",
                 "--rotation", "ETAT=-6", "--annees", "10"]) == 2
    assert "expected ID=NUMBER (0 or more)" in capsys.readouterr().err


def test_a_file_that_is_no_bilan_is_named(tmp_path, capsys):
    bad = tmp_path / "b"
    bad.mkdir()
    (bad / "bilan.json").write_text("{not json", encoding="utf-8")
    assert main(["flux", "consolider", "--bilan", str(bad), "--bilan", str(bad),
                 "-o", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "not a bilan written by 'cotation flux bilan'" in err and "bilan.json" in err, err


def test_a_count_of_5000_digits_in_a_reservations_table_is_located(tmp_path, capsys):
    table = (EXAMPLES / "paca_2023_etat_reservations.csv").read_text(encoding="utf-8").splitlines()
    cells = table[1].split(",")
    cells[2] = "9" * 5000                 # int() refuses it: it was an internal error
    bad = tmp_path / "t.csv"
    bad.write_text("\n".join([table[0], ",".join(cells), *table[2:]]) + "\n", encoding="utf-8")
    assert main(["flux", "stock", "--table", str(bad), "--flux", "268"]) == 1
    assert "t.csv:2:" in capsys.readouterr().err


def test_a_number_of_5000_digits_in_conventions_is_located():
    text = (EXAMPLES / "conventions.yaml").read_text(encoding="utf-8")
    with pytest.raises(FluxInputError) as exc:
        loads_conventions(text.replace("    window_years: 1", "    window_years: " + "9" * 5000),
                          "c.yaml")
    problem = exc.value.problems[0]
    assert problem.line == 16 and "5000 digits" in problem.message, problem

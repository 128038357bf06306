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

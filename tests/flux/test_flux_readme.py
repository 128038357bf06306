"""Every command of examples/flux/README.md runs on the shipped example files, from a copy made
by ``cotation examples`` (what a user of the wheel has): a command the README shows must not
need the repository's tests/ folder, and must end with the exit code it states."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cotation.cli import main

README = Path(__file__).resolve().parents[2] / "examples" / "flux" / "README.md"


def _commands(text: str) -> list[tuple[list[str], int]]:
    """The README's indented command lines (continuations joined, ``A=…`` variables
    substituted), each with the exit code it states (``exit 1`` in its comment, else 0). A
    command that names another bailleur's files (``../autre``) is illustrative and left out."""
    lines, joined = [], ""
    for line in text.splitlines():
        if not line.startswith("    "):
            continue
        joined += line.strip()
        if joined.endswith("\\"):
            joined = joined[:-1] + " "
            continue
        lines.append(joined)
        joined = ""
    variables: dict[str, str] = {}
    out = []
    for line in lines:
        m = re.fullmatch(r'([A-Z]+)=(?:"([^"]*)"|(\S+))', line)
        if m:
            variables[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
            continue
        code = 1 if re.search(r"#.*\bexit 1\b", line) else 0
        for name, value in variables.items():
            line = line.replace(f"${name}", value)
        words = shlex.split(line, comments=True)
        if words[0] != "cotation" or any("../autre" in w for w in words):
            continue
        if words[1:3] == ["flux", "generate"]:
            continue        # rewrites the examples: test_flux_generate checks its output
        out.append((words[1:], code))
    return out


def test_the_readme_commands_run_on_the_shipped_examples(tmp_path, monkeypatch, capsys):
    assert main(["examples", str(tmp_path)]) == 0
    monkeypatch.chdir(tmp_path / "examples" / "flux")
    commands = _commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 14
    for args, code in commands:
        assert main(args) == code, (args, capsys.readouterr().err[-2000:])
        capsys.readouterr()


@pytest.mark.parametrize("path", ["paca_2023_etat_reservations.csv", "delais/logements.csv",
                                  "delais/conventions.yaml", "delais/evenements.csv"])
def test_the_seed_inputs_are_copied_by_cotation_examples(tmp_path, path):
    assert main(["examples", str(tmp_path)]) == 0
    assert (tmp_path / "examples" / "flux" / path).is_file()

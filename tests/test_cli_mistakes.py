"""Every command against a table of ordinary user mistakes: one line on stderr, in French,
starting with ``erreur :`` or naming the command, a documented exit code, never a traceback,
and no half-written output (docs/exit-codes.md)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cotation.cli import main
from cotation.cli.outputs import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_USAGE

from _support import ROOT

GRID = ROOT / "grids" / "lyon-metropole.yaml"
CASES = ROOT / "grids" / "lyon-metropole.cases.yaml"
FLUX = ROOT / "examples" / "flux"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A folder with a grid, a few demandes, attributions, an empty file, a folder, a
    read-only folder; French messages."""
    monkeypatch.setenv("COTATION_LANG", "fr")
    monkeypatch.chdir(tmp_path)
    shutil.copy(GRID, "grid.yaml")
    lines = (ROOT / "examples/data/demandes.csv").read_text(encoding="utf-8").splitlines()[:30]
    Path("demandes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = (ROOT / "examples/data/attributions.csv").read_text(encoding="utf-8").splitlines()[:30]
    Path("attributions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    Path("empty.csv").write_text("", encoding="utf-8")
    Path("empty.yaml").write_text("", encoding="utf-8")
    Path("existing.csv").write_text("x\n", encoding="utf-8")
    Path("adir").mkdir()
    ro = Path("readonly")
    ro.mkdir()
    ro.chmod(0o500)
    yield tmp_path
    ro.chmod(0o700)


S = ["score", "grid.yaml", "demandes.csv", "--today", "2025-06-30"]
FLUX_IN = ["--logements", str(FLUX / "logements.csv"), "--conventions", str(FLUX / "conventions.yaml"),
           "--evenements", str(FLUX / "evenements.csv"), "--year", "2025"]
P = ["grid.yaml", "demandes.csv", "attributions.csv", "--today", "2025-06-30"]

MISTAKES = [
    # (what, argv, exit code)
    ("no command", [], EXIT_USAGE),
    ("unknown command", ["scroe"], EXIT_USAGE),
    ("unknown option", S + ["-o", "out.csv", "--frobnicate"], EXIT_USAGE),
    ("bad date", ["score", "grid.yaml", "demandes.csv", "--today", "30/06/2025", "-o", "o.csv"], EXIT_USAGE),
    ("missing output option", S, EXIT_USAGE),
    ("missing demandes", ["score", "grid.yaml", "--today", "2025-06-30", "-o", "o.csv"], EXIT_USAGE),
    ("input twice", S + ["--grid", "grid.yaml", "-o", "o.csv"], EXIT_USAGE),
    ("missing grid file", ["validate", "nope.yaml"], EXIT_INPUT),
    ("grid is a folder", ["validate", "adir"], EXIT_INPUT),
    ("empty grid", ["validate", "empty.yaml"], EXIT_INPUT),
    ("data file as grid", ["validate", "demandes.csv"], EXIT_INPUT),
    ("missing demandes file", ["score", "grid.yaml", "nope.csv", "--today", "2025-06-30", "-o", "o.csv"], EXIT_INPUT),
    ("empty demandes file", ["score", "grid.yaml", "empty.csv", "--today", "2025-06-30", "-o", "o.csv"], EXIT_INPUT),
    ("demandes is a folder", ["score", "grid.yaml", "adir", "--today", "2025-06-30", "-o", "o.csv"], EXIT_INPUT),
    ("grid given as demandes", ["score", "grid.yaml", "grid.yaml", "--today", "2025-06-30", "-o", "o.csv"], EXIT_INPUT),
    ("unknown output extension xlsx", S + ["-o", "out.xlsx"], EXIT_USAGE),
    ("unknown output extension json", S + ["-o", "out.json"], EXIT_USAGE),
    ("output is a folder", S + ["-o", "adir"], EXIT_USAGE),
    ("output overwrites an input", S + ["-o", "demandes.csv"], EXIT_USAGE),
    pytest.param("output in a read-only folder", S + ["-o", "readonly/o.csv"], EXIT_USAGE,
                 marks=pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")),
    ("output under a file", S + ["-o", "existing.csv/o.csv"], EXIT_USAGE),
    ("rejects extension", S + ["-o", "o.csv", "--rejects", "r.txt"], EXIT_USAGE),
    ("explain unknown id", ["explain", "grid.yaml", "demandes.csv", "--today", "2025-06-30", "--id", "NOPE"], EXIT_INPUT),
    ("test missing cases", ["test", "nope.cases.yaml"], EXIT_INPUT),
    ("test given a grid", ["test", "grid.yaml"], EXIT_INPUT),
    ("test given a data file", ["test", "demandes.csv"], EXIT_INPUT),
    ("test empty file", ["test", "empty.yaml"], EXIT_INPUT),
    ("generate in a missing folder is fine, bad extension is not",
     ["generate", "-n", "5", "--seed", "1", "--today", "2025-06-30", "--territory", "69123", "-o", "missing/dir/x.parquet"], EXIT_USAGE),
    ("generate negative count", ["generate", "-n", "-5", "--seed", "1", "--today", "2025-06-30", "--territory", "69123", "-o", "x.csv"], EXIT_USAGE),
    ("generate into a folder", ["generate", "-n", "5", "--seed", "1", "--today", "2025-06-30", "--territory", "69123", "-o", "adir"], EXIT_USAGE),
    ("convert missing source", ["convert", "nope.csv", "-o", "x.parquet"], EXIT_INPUT),
    ("convert bad extension", ["convert", "demandes.csv", "-o", "x.xlsx"], EXIT_USAGE),
    ("convert onto its source", ["convert", "demandes.csv", "-o", "demandes.csv"], EXIT_USAGE),
    ("convert missing mapping", ["convert", "demandes.csv", "-o", "x.csv", "--mapping", "nope.yaml"], EXIT_INPUT),
    ("position missing attributions", ["position", "grid.yaml", "demandes.csv", "nope.csv", "--today", "2025-06-30", "-o", "p.csv"], EXIT_INPUT),
    ("position bad extension", ["position"] + P + ["-o", "p.html"], EXIT_USAGE),
    # year 1 left no room for the window counted back from it (an internal error before)
    ("position today in year 1", ["position"] + P[:3] + ["--today", "0001-01-01", "-o", "p.csv"], EXIT_USAGE),
    ("score today in year 9999", S[:3] + ["--today", "9999-12-31", "-o", "s.csv"], EXIT_USAGE),
    ("score today without dashes", S[:3] + ["--today", "20250630", "-o", "s.csv"], EXIT_USAGE),
    ("score today as an ISO week", S[:3] + ["--today", "2025-W27-1", "-o", "s.csv"], EXIT_USAGE),
    ("generate today in year 1", ["generate", "-n", "5", "--seed", "1", "--today", "0001-01-01", "-o", "g.csv"], EXIT_USAGE),
    ("statements into an existing file", ["statements"] + P + ["-o", "existing.csv"], EXIT_USAGE),
    ("statements bad format", ["statements"] + P + ["-o", "st", "--format", "docx"], EXIT_USAGE),
    ("publish bad extension", ["publish", str(ROOT / "grids" / "lyon-metropole.yaml"), "-o", "g.docx"], EXIT_USAGE),
    ("flux missing logements", ["flux", "assiette", "--logements", "nope.csv", "--conventions",
                                str(FLUX / "conventions.yaml"), "--evenements", str(FLUX / "evenements.csv"),
                                "--year", "2025"], EXIT_INPUT),
    ("flux output is a file", ["flux", "dispatch"] + FLUX_IN + ["-o", "existing.csv"], EXIT_USAGE),
    ("flux grid and scores", ["flux", "dispatch"] + FLUX_IN + ["--grid", "grid.yaml", "--scores",
                              str(FLUX / "scores.csv"), "--demandes", str(FLUX / "demandes.csv"), "-o", "d"], EXIT_USAGE),
    ("flux verify missing audit", ["flux", "verify", "--audit", "nope.jsonl"], EXIT_INPUT),
    ("examples into a file", ["examples", "existing.csv"], EXIT_USAGE),
    ("examples without a folder", ["examples"], EXIT_USAGE),
    ("compare missing grid B", ["compare", "grid.yaml", "nope.yaml", "demandes.csv", "--today", "2025-06-30",
                                "-o", "cmp"], EXIT_INPUT),
    ("compare bad --top", ["compare", "grid.yaml", "grid.yaml", "demandes.csv", "--today", "2025-06-30",
                           "-o", "cmp", "--top", "0"], EXIT_USAGE),
    ("compare output is a file", ["compare", "grid.yaml", "grid.yaml", "demandes.csv", "--today", "2025-06-30",
                                  "-o", "existing.csv"], EXIT_USAGE),
    ("compare missing demandes", ["compare", "grid.yaml", "grid.yaml", "nope.csv", "--today", "2025-06-30",
                                  "-o", "cmp"], EXIT_INPUT),
    ("evaluate period backwards", ["evaluate", "grid.yaml", "demandes.csv", "attributions.csv", "--from",
                                   "2025-06-01", "--to", "2025-01-01", "-o", "ev"], EXIT_USAGE),
    ("evaluate missing attributions", ["evaluate", "grid.yaml", "demandes.csv", "nope.csv", "--from",
                                       "2025-01-01", "--to", "2025-06-30", "-o", "ev"], EXIT_INPUT),
    ("evaluate unknown objective", ["evaluate", "grid.yaml", "demandes.csv", "attributions.csv", "--from",
                                    "2025-01-01", "--to", "2025-06-30", "-o", "ev", "--objectif", "foo=3"],
     EXIT_USAGE),
    ("evaluate output is a file", ["evaluate", "grid.yaml", "demandes.csv", "attributions.csv", "--from",
                                   "2025-01-01", "--to", "2025-06-30", "-o", "existing.csv"], EXIT_USAGE),
    ("location-voulue missing offre", ["location-voulue", "grid.yaml", "demandes.csv", "--offre", "nope.yaml",
                                       "--today", "2025-06-30", "-o", "lv"], EXIT_INPUT),
    ("location-voulue output is a file", ["location-voulue", "grid.yaml", "demandes.csv", "--offre",
                                          "grid.yaml", "--today", "2025-06-30", "-o", "existing.csv"], EXIT_USAGE),
    ("stats missing demandes", ["stats", "nope.csv", "--today", "2025-06-30"], EXIT_INPUT),
    ("stats empty demandes", ["stats", "empty.csv", "--today", "2025-06-30"], EXIT_INPUT),
    ("stats output is a file", ["stats", "demandes.csv", "--today", "2025-06-30", "-o", "existing.csv"],
     EXIT_USAGE),
    ("stats bad date", ["stats", "demandes.csv", "--today", "demain"], EXIT_USAGE),
    ("flux targets missing conventions", ["flux", "targets", "--logements", str(FLUX / "logements.csv"),
                                          "--conventions", "nope.yaml", "--evenements",
                                          str(FLUX / "evenements.csv"), "--year", "2025", "--today",
                                          "2025-06-30"], EXIT_INPUT),
    ("flux bilan output is a file", ["flux", "bilan"] + FLUX_IN + ["--today", "2025-06-30", "-o",
                                                                   "existing.csv"], EXIT_USAGE),
    ("flux echeances bad extension", ["flux", "echeances", "--logements", str(FLUX / "logements.csv"),
                                      "--conventions", str(FLUX / "conventions.yaml"), "--evenements",
                                      str(FLUX / "evenements.csv"), "--today", "2025-06-30", "-o", "e.xlsx"],
     EXIT_USAGE),
    ("flux etat-des-lieux missing logements", ["flux", "etat-des-lieux", "--logements", "nope.csv"], EXIT_INPUT),
    ("flux conversion malformed stock", ["flux", "conversion", "--methode", "part_stricte", "--stock", "X"],
     EXIT_USAGE),
    ("flux consolider missing bilan", ["flux", "consolider", "--bilan", "nope", "-o", "c"], EXIT_INPUT),
    ("flux stock missing table", ["flux", "stock", "--table", "nope.csv"], EXIT_INPUT),
    ("flux generate into a file", ["flux", "generate", "--seed", "1", "--dwellings", "10", "-o",
                                   "existing.csv"], EXIT_USAGE),
    ("flux without subcommand", ["flux"], EXIT_USAGE),
]


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse reports its own mistakes this way
        return exc.code


@pytest.mark.parametrize("what,argv,code", MISTAKES,
                         ids=[m.values[0] if hasattr(m, "values") else m[0] for m in MISTAKES])
def test_mistake_gives_one_line_and_exit_code(ws, capsys, what, argv, code):
    got = run(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert got == code, err
    problem = [line for line in err.splitlines() if "erreur" in line]
    assert len(problem) == 1, err             # one line says what is wrong ...
    assert "error:" not in err                # ... in French
    assert not list(Path(".").rglob("*.part*")), "a temporary output was left behind"


def test_table_is_large_enough():
    assert len(MISTAKES) >= 30


def test_interrupted_run_leaves_no_half_file(ws, capsys, monkeypatch):
    """Ctrl-C while the output is being written: exit 130, no output, no temporary file."""
    import cotation.cli.core as core

    def interrupted(columns, out, **_options):
        out.write(b"numero_unique,commune\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(core, "_write_csv_columns", interrupted)
    assert main(S + ["-o", "out.csv", "--engine", "interpreter"]) == EXIT_INTERRUPTED
    assert "interrompu" in capsys.readouterr().err
    assert not Path("out.csv").exists()
    assert not [p for p in os.listdir(".") if ".part" in p]


def test_crash_while_writing_a_folder_keeps_the_old_one(ws, capsys, monkeypatch):
    """A failure while a folder output is written leaves the previous files untouched."""
    import cotation.cli.info as info
    Path("st").mkdir()
    Path("st/index.csv").write_text("old\n", encoding="utf-8")

    def crash(*args, **kwargs):
        Path(args[1], "half.html").write_text("<html>", encoding="utf-8")
        raise OSError(28, "No space left on device", "st/half.html")

    monkeypatch.setattr(info, "write_statements", crash)
    assert main(["statements"] + P + ["-o", "st", "--engine", "interpreter"]) == EXIT_INPUT
    assert "erreur" in capsys.readouterr().err
    assert sorted(os.listdir("st")) == ["index.csv"]
    assert Path("st/index.csv").read_text(encoding="utf-8") == "old\n"
    assert not [p for p in os.listdir(".") if ".part" in p]


def test_a_failed_csv_write_leaves_the_stream_open():
    """A write that fails half-way (a closed pipe on ``-o -``) must not close the caller's
    stream when the text wrapper around it is collected."""
    import gc
    import io

    import numpy as np

    from cotation.cli.core import _write_csv_columns

    class Broken(io.BytesIO):
        def write(self, b):
            raise BrokenPipeError

    out = Broken()
    with pytest.raises(BrokenPipeError):
        _write_csv_columns({"a": np.array([1, 2]), "b": np.array([3, 4])}, out)
    gc.collect()
    assert not out.closed

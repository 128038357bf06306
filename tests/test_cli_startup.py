"""The ``cotation`` entry point (``run``) hides pandas from pyarrow (cotation/cli/startup.py):
the commands still work through ``python -m cotation``, give the bytes ``main`` gives, and
the process never imports pandas; ``main`` itself (tests, other programs) leaves it alone."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "grids" / "lyon-metropole.yaml"
DEMANDES = ROOT / "examples" / "data" / "demandes.csv"
ATTRIBUTIONS = ROOT / "examples" / "data" / "attributions.csv"

# Run as `python -m cotation`, then report whether pandas got imported.
_PROBE = ("import runpy, sys\nsys.argv = ['cotation'] + sys.argv[1:]\n"
          "try:\n    runpy.run_module('cotation', run_name='__main__')\n"
          "except SystemExit as e:\n    code = e.code\n"
          "print('PANDAS', 'pandas' in sys.modules and sys.modules['pandas'] is not None,"
          " file=sys.stderr)\nsys.exit(code)\n")


def _run(args, tmp_path):
    out = subprocess.run([sys.executable, "-c", _PROBE, *map(str, args)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "PANDAS False" in out.stderr, out.stderr
    return out


@pytest.mark.parametrize("name, args", [
    ("score", ["score", GRID, DEMANDES, "--today", "2025-06-30", "-o", "o.csv"]),
    ("position", ["position", GRID, DEMANDES, ATTRIBUTIONS, "--today", "2025-06-30",
                  "-o", "o.csv"]),
    ("statements", ["statements", "--grid", GRID, "--demandes", DEMANDES, "--attributions",
                    ATTRIBUTIONS, "--today", "2025-06-30", "-o", "st",
                    "--ids", "035082397924X00007"]),
    ("stats", ["stats", DEMANDES, ATTRIBUTIONS, "--today", "2025-06-30", "-o", "s"]),
    ("publish", ["publish", GRID, "-o", "g.html"]),
    ("convert", ["convert", DEMANDES, "-o", "d.parquet"]),
])
def test_commands_run_without_pandas(name, args, tmp_path):
    _run(args, tmp_path)


def test_same_bytes_as_main_and_main_leaves_pandas_alone(tmp_path):
    from cotation.cli import main
    from cotation.cli.startup import _NoPandas

    _run(["score", GRID, DEMANDES, "--today", "2025-06-30", "-o", "a.csv"], tmp_path)
    assert main(["score", str(GRID), str(DEMANDES), "--today", "2025-06-30",
                 "-o", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert not any(isinstance(f, _NoPandas) for f in sys.meta_path)

"""A column a grid reads and the demandes file lacks stops every command that scores with the
grid, as it stops ``cotation score`` (docs/demande-schema.md, "Bad input"): ``compare``,
``evaluate`` (its demandes and attributions files), ``location-voulue`` and ``flux dispatch
--grid`` read through the same check instead of scoring every demande as if the value were
missing."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cotation.cli import main

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "grids" / "lyon-metropole.yaml"
DATA = ROOT / "examples" / "data"
FLUX = ROOT / "examples" / "flux"


def _without(src: Path, dst: Path, column: str, rows: int | None = None) -> Path:
    with open(src, encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    cols = [c for c in table[0] if c != column]
    with open(dst, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(table[:rows])
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("missing")
    return {"demandes": _without(DATA / "demandes.csv", d / "demandes.csv", "dalo_statut", 400),
            "attributions": _without(DATA / "attributions.csv", d / "attributions.csv",
                                     "dalo_statut")}


MESSAGE = "missing column(s) the grid reads: dalo_statut (read by dalo)"


def test_compare(files, tmp_path, capsys):
    assert main(["compare", str(GRID), str(GRID), str(files["demandes"]), "--today",
                 "2025-06-30", "-o", str(tmp_path / "a")]) == 1
    assert MESSAGE in capsys.readouterr().err
    # an attributions file that carries demandes is held to the same rule
    assert main(["compare", str(GRID), str(GRID), str(DATA / "demandes.csv"), "--today",
                 "2025-06-30", "--attributions", str(files["attributions"]),
                 "-o", str(tmp_path / "b")]) == 1
    assert MESSAGE in capsys.readouterr().err


def test_evaluate_and_location_voulue(files, tmp_path, capsys):
    period = ["--from", "2024-07-01", "--to", "2025-06-30"]
    assert main(["evaluate", str(GRID), str(files["demandes"]), str(DATA / "attributions.csv"),
                 *period, "-o", str(tmp_path / "a")]) == 1
    assert MESSAGE in capsys.readouterr().err
    assert main(["evaluate", str(GRID), str(DATA / "demandes.csv"), str(files["attributions"]),
                 *period, "-o", str(tmp_path / "b")]) == 1
    assert MESSAGE in capsys.readouterr().err
    offre = ROOT / "examples" / "offres" / "lyon-villeurbanne-t3.yaml"
    assert main(["location-voulue", str(GRID), str(files["demandes"]), "--offre", str(offre),
                 "--today", "2025-06-30", "-o", str(tmp_path / "c")]) == 1
    assert MESSAGE in capsys.readouterr().err


def test_flux_dispatch_with_a_grid(files, tmp_path, capsys):
    args = ["--logements", str(FLUX / "logements.csv"), "--conventions",
            str(FLUX / "conventions.yaml"), "--evenements", str(FLUX / "evenements.csv"),
            "--year", "2025", "--today", "2025-01-01"]
    assert main(["flux", "dispatch", *args, "--demandes", str(files["demandes"]),
                 "--grid", str(GRID), "-o", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert MESSAGE in err and "internal error" not in err

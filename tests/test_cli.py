"""The CLI contract: exit codes, output columns and order, determinism."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from cotation.cli import main

from _support import MINIMAL, ROOT, write_grid

SPEC_GRID = ROOT / "tests" / "grids" / "spec_example.yaml"
DEMANDES = """\
numero_unique,date_depot,nb_personnes,situation_logement,localisations,dalo_statut,loyer_actuel,ressources_mensuelles,commune_travail,est_mutation,criteres_valides,aide_logement,nb_refus_adaptes,date_dernier_refus_adapte,typologies
A1,2023-12-15,2,heberge_particulier,69123|69266|69123,actif,500,1300,69266,false,,,,,
A2,2024-01-31,1,heberge_parents_enfants,69266|75056,non,,,,false,,,,,
A3,2024-01-31,1,heberge_parents_enfants,69266,non,,,,true,,,,,
A4,2022-01-31,3,sans_abri,69259|69266,actif,,,,false,dalo,,,,
A5,2022-01-31,3,sans_abri,69259,actif,,,,false,dalo,,,,
"""


@pytest.fixture
def demandes(tmp_path) -> Path:
    path = tmp_path / "demandes.csv"
    path.write_text(DEMANDES, encoding="utf-8")
    return path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_validate_ok_and_errors(tmp_path, capsys):
    assert main(["validate", str(SPEC_GRID)]) == 0
    bad = write_grid(tmp_path, MINIMAL.replace("dalo_statut == 'actif'", "dalo_statu == 'actif'"))
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{bad}:15:12: error[unknown-name] [dalo]: unknown field or parameter 'dalo_statu'; "
                   "did you mean 'dalo_statut'?"]


def test_score_output_contract(tmp_path, demandes):
    out = tmp_path / "out.csv"
    assert main(["score", str(SPEC_GRID), str(demandes), "--today", "2025-06-30", "-o", str(out),
                 "--explain", "--engine", "interpreter"]) == 0
    rows = read_csv(out)
    assert list(rows[0])[:5] == ["numero_unique", "commune", "score", "score_valide", "rank"]
    assert [k for k in rows[0] if k.startswith("pts_")][:2] == ["pts_dalo", "pts_sans_logement"]
    got = [(r["commune"], r["rank"], r["numero_unique"], r["score"], r["score_valide"]) for r in rows]
    # 69259: A4 and A5 tie at 500+80+80 (40 months: the 30th is before the 31st); A4/A5 same date → numero_unique
    assert got == [
        ("69123", "1", "A1", "626.00", "126.00"),
        ("69259", "1", "A4", "660.00", "660.00"),
        ("69259", "2", "A5", "660.00", "660.00"),
        ("69266", "1", "A4", "660.00", "660.00"),
        ("69266", "2", "A1", "641.00", "141.00"),
        ("69266", "3", "A2", "62.00", "62.00"),
    ]


def test_score_is_deterministic(tmp_path, demandes):
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}.csv"
        assert main(["score", str(SPEC_GRID), str(demandes), "--today", "2025-06-30", "-o", str(out),
                     "--engine", "interpreter", "--audit"]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    row = read_csv(tmp_path / "out0.csv")[0]
    assert row["grid_id"] == "exemple-metropole-externes" and row["today"] == "2025-06-30"
    assert len(row["grid_hash"]) == 64


def test_explain_reads_like_a_breakdown(demandes, capsys):
    assert main(["explain", str(SPEC_GRID), str(demandes), "--id", "A1", "--today", "2025-06-30"]) == 0
    text = capsys.readouterr().out
    assert "Commune 69266 (choix n°2) : 641.00 points (validés : 141.00), rang 2 sur 3" in text
    assert "en attente de validation" in text and "Effets d'un refus" in text


def test_explain_json(demandes, capsys):
    import json
    assert main(["explain", str(SPEC_GRID), str(demandes), "--id", "A4", "--today", "2025-06-30", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["commune"] for c in doc["communes"]] == ["69259", "69266"]
    statuses = {c["id"]: c["status"] for c in doc["communes"][0]["criteria"]}
    assert statuses["dalo"] == "met" and statuses["heberge_parents"] == "not_met"


def test_explain_unknown_id(demandes, capsys):
    assert main(["explain", str(SPEC_GRID), str(demandes), "--id", "NOPE", "--today", "2025-06-30"]) == 1


def test_rejects_file_and_counts(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(DEMANDES + "A6,2024-13-01,1,,69123,,,,,false,,,,,\nA1,2024-01-01,1,,69123,,,,,false,,,,,\n",
                    encoding="utf-8")
    out, rej = tmp_path / "o.csv", tmp_path / "r.csv"
    assert main(["score", str(SPEC_GRID), str(path), "--today", "2025-06-30", "-o", str(out),
                 "--rejects", str(rej), "--engine", "interpreter"]) == 0
    rejects = read_csv(rej)
    assert [(r["line"], r["column"]) for r in rejects] == [("7", "date_depot"), ("8", "numero_unique")]
    assert main(["score", str(SPEC_GRID), str(path), "--today", "2025-06-30", "-o", str(out),
                 "--strict", "--engine", "interpreter"]) == 1


def test_console_script_runs():
    res = subprocess.run([sys.executable, "-m", "cotation.cli", "validate", str(SPEC_GRID)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_score_to_parquet_carries_audit_columns(tmp_path, demandes):
    import pyarrow.parquet as pq          # a core dependency: no skip
    out = tmp_path / "out.parquet"
    assert main(["score", str(SPEC_GRID), str(demandes), "--today", "2025-06-30", "-o", str(out),
                 "--engine", "interpreter"]) == 0
    rows = pq.read_table(out).to_pylist()
    assert rows[0]["score"] == 626.0 and rows[0]["rank"] == 1
    assert {r["grid_version"] for r in rows} == {"2024.1"} and {r["today"] for r in rows} == {"2025-06-30"}


def test_the_rejects_hint_is_given_only_by_commands_that_have_the_option(tmp_path, capsys):
    lines = (ROOT / "examples" / "data" / "demandes.csv").read_text(encoding="utf-8").splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join(lines[:4] + [lines[1]]) + "\n", encoding="utf-8")
    nu = lines[2].split(",")[0]
    grid = str(ROOT / "grids" / "lyon-metropole.yaml")
    main(["explain", grid, str(dup), "--today", "2025-06-30", "--id", nu])
    err = capsys.readouterr().err
    assert "1 rejected" in err and "--rejects" not in err      # explain has no --rejects
    assert main(["score", grid, str(dup), "--today", "2025-06-30", "-o", str(tmp_path / "s.csv"),
                 "--engine", "interpreter"]) == 0
    assert "--rejects" in capsys.readouterr().err


def test_demandes_deposited_after_today_are_said(tmp_path, capsys):
    # they are scored with a negative ancienneté: the run says how many
    lines = (ROOT / "examples" / "data" / "demandes.csv").read_text(encoding="utf-8").splitlines()
    data = tmp_path / "d.csv"
    data.write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")
    depots = sorted(line.split(",")[1] for line in lines[1:11])
    args = ["score", str(ROOT / "grids" / "lyon-metropole.yaml"), str(data), "-o",
            str(tmp_path / "s.csv"), "--engine", "interpreter", "--today"]
    assert main(args + [depots[4]]) == 0
    later = sum(d > depots[4] for d in depots)
    assert f"{later} demande(s) deposited after the reference date {depots[4]}" in \
        capsys.readouterr().err
    assert main(args + ["2025-06-30"]) == 0
    assert "deposited after" not in capsys.readouterr().err

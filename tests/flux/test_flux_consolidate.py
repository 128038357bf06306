"""Consolidation of two bailleurs' bilans for the EPCI / CIL, sums checked by hand."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from cotation.cli import main

DATA = Path(__file__).parent / "data"
# the deadlines example is shipped with the flux examples (examples/flux/README.md runs it)
DELAIS = Path(__file__).resolve().parents[2] / "examples" / "flux" / "delais"


def _bilan(name: str, out: Path) -> Path:
    d = DELAIS if name == "delais" else DATA / name
    assert main(["flux", "bilan", "--logements", str(d / "logements.csv"), "--conventions", str(d / "conventions.yaml"),
                 "--evenements", str(d / "evenements.csv"), "--year", "2025", "--today", "2025-06-20",
                 "-o", str(out)]) == 0
    return out


def test_two_bailleurs_consolidated_by_reservataire_and_epci(tmp_path):
    a = _bilan("delais", tmp_path / "a")
    b = _bilan("bailleur_b", tmp_path / "b")
    out = tmp_path / "c"
    assert main(["flux", "consolider", "--bilan", str(a), "--bilan", str(b), "-o", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "consolidation_reservataires.csv", encoding="utf-8")))
    total = {r["reservataire"]: r for r in rows if r["bailleur"] == "TOTAL"}
    # By hand. Mises à disposition: CD31 = A (V1, V2, V3, V4, V7) 5 + B (W1, W3) 2 = 7;
    # ETAT = A (V5, V6) 2 + B (W2) 1 = 3.
    assert (total["CD31"]["mises_a_disposition"], total["ETAT"]["mises_a_disposition"]) == ("7", "3")
    # Décomptes: CD31 counts at the lease: A's two defaults (V2 derived, V7 explicit) + B's W1 lease = 3;
    # ETAT counts at the mise à disposition: 2 + 1 = 3.
    assert (total["CD31"]["decomptes"], total["ETAT"]["decomptes"]) == ("3", "3")
    assert total["CD31"]["defauts_designation"] == "2"
    per = {(r["bailleur"], r["reservataire"]): r["decomptes"] for r in rows}
    assert (per["OLS31", "CD31"], per["OLS31B", "CD31"]) == ("2", "1")
    epci = {(r["epci"], r["reservataire"]): r for r in csv.DictReader(open(out / "consolidation_epci.csv",
                                                                            encoding="utf-8"))}
    # Toulouse Métropole (Toulouse, Colomiers): CD31 5 + 1 (W1) = 6; Muretain (Muret): W3 only.
    assert epci["243100518", "CD31"]["mises_a_disposition"] == "6"
    assert epci["243100518", "TOUS"]["mises_a_disposition"] == "9"
    assert epci["200068641", "CD31"]["mises_a_disposition"] == "1"
    # The CIL of one EPCI keeps its communes only.
    assert main(["flux", "consolider", "--bilan", str(a), "--bilan", str(b), "--epci", "200068641",
                 "-o", str(tmp_path / "cil")]) == 0
    doc = json.loads((tmp_path / "cil" / "consolidation.json").read_text(encoding="utf-8"))
    assert {r["epci"] for r in doc["epci"]} == {"200068641"}
    report = (out / "rapport.md").read_text(encoding="utf-8")
    assert "Toulouse Métropole (243100518)" in report
    # The EPCI table names réservataires as the per-réservataire table does, never by their id.
    epci_part = report.split("## Par EPCI", 1)[1]
    assert "| Tous réservataires |" in epci_part
    assert "| CD31 |" not in epci_part and "| TOUS |" not in epci_part


def test_consolidation_rejects_mixed_periods_and_duplicates(tmp_path, capsys):
    a = _bilan("delais", tmp_path / "a")
    assert main(["flux", "consolider", "--bilan", str(a), "--bilan", str(a), "-o", str(tmp_path / "c")]) == 1
    assert "given twice" in capsys.readouterr().err
    assert main(["flux", "consolider", "--bilan", str(tmp_path / "nothing"), "-o", str(tmp_path / "c")]) == 1
    assert "--bilan" in (err := capsys.readouterr().err) and "no such file or folder" in err


def test_epci_filter_restricts_the_assiette(tmp_path, capsys):
    d = DATA / "bailleur_b"
    args = ["--logements", str(d / "logements.csv"), "--conventions", str(d / "conventions.yaml"),
            "--evenements", str(d / "evenements.csv"), "--year", "2025"]
    assert main(["flux", "assiette", *args, "--epci", "243100518"]) == 0
    assert json.loads(capsys.readouterr().out)["patrimoine"] == 2
    assert main(["flux", "assiette", *args, "--epci", "000000000"]) == 1
    assert "EPCI" in capsys.readouterr().err


def test_a_bailleur_without_a_target_leaves_the_total_target_unknown(tmp_path, capsys):
    a = _bilan("delais", tmp_path / "a")
    b = _bilan("bailleur_b", tmp_path / "b")
    doc = json.loads((b / "bilan.json").read_text(encoding="utf-8"))
    cd31 = next(r for r in doc["reservataires"] if r["reservataire"] == "CD31")
    etat = next(r for r in doc["reservataires"] if r["reservataire"] == "ETAT")
    assert isinstance(cd31["cible"], int) and isinstance(etat["cible"], int)
    cd31["cible"] = None                     # what `flux bilan` writes when no target is set
    (b / "bilan.json").write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "c"
    assert main(["flux", "consolider", "--bilan", str(a), "--bilan", str(b), "-o", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "consolidation_reservataires.csv", encoding="utf-8")))
    total = {r["reservataire"]: r for r in rows if r["bailleur"] == "TOTAL"}
    per = {(r["bailleur"], r["reservataire"]): r["cible"] for r in rows}
    # CD31: B set no target, so the total is unknown (it was A's target alone, as if B's were 0)
    assert per["OLS31B", "CD31"] == "" and total["CD31"]["cible"] == ""
    assert total["ETAT"]["cible"] == str(int(per["OLS31", "ETAT"]) + etat["cible"])
    assert "non fixé par tous les bailleurs" in (out / "rapport.md").read_text(encoding="utf-8")
    # a count that is not one is refused in one line, not summed as 0
    etat["attributions"] = "3"
    (b / "bilan.json").write_text(json.dumps(doc), encoding="utf-8")
    assert main(["flux", "consolider", "--bilan", str(a), "--bilan", str(b), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "attributions of ETAT is '3', not a count" in err and "Traceback" not in err

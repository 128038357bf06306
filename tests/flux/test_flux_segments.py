"""Segment rounding never drops a positive target to zero silently (issue 16)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cotation.cli import main

_TYPES = ("T1", "T2", "T3", "T4", "T5", "T6P")


def _files(tmp_path: Path, rule: str | None) -> list[str]:
    with open(tmp_path / "logements.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "commune", "qpv", "typologie", "financement"])
        w.writerows([f"L{i}", "31555", "false", _TYPES[i % 6], "PLUS"] for i in range(300))
    with open(tmp_path / "ev.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["vacance_id", "logement_id", "date", "evenement", "motif"])
        w.writerows([f"V{i}", f"L{i}", "2024-05-01", "LIBERATION", "DEPART"] for i in range(30))
    extra = f"\n    segment_rounding: {rule}" if rule else ""
    (tmp_path / "c.yaml").write_text(f"""version: 1
bailleur: {{id: B, nom: Bailleur, departement: "31"}}
settings:
  dispatch:
    segment_by: [typologie]
    enforce_segment_quotas: true{extra}
reservataires:
  - {{id: ETAT, nom: Préfet, type: ETAT_PRIO}}
  - {{id: CD, nom: Département, type: COLLECTIVITE}}
conventions:
  - {{id: C1, reservataire: ETAT, percentage: 30}}
  - {{id: C2, reservataire: CD, percentage: 3}}
""", encoding="utf-8")
    return ["flux", "targets", "--logements", str(tmp_path / "logements.csv"), "--conventions", str(tmp_path / "c.yaml"),
            "--evenements", str(tmp_path / "ev.csv"), "--year", "2025"]


@pytest.mark.parametrize("rule, cd, code", [(None, 0, "CIBLE_ARRONDIE_A_ZERO"),
                                             ("keep_positive", 1, "CIBLE_RELEVEE_A_UN")])
def test_a_3_percent_target_is_not_silently_rounded_to_zero(tmp_path, capsys, rule, cd, code):
    # Flux 30 over six typologie segments of 5: 3 % is 0.15 per segment (0 each), 0.9 in all.
    assert main(_files(tmp_path, rule)) == 0
    doc = json.loads(capsys.readouterr().out)
    got = {r["reservataire"]: int(r["cible"]) for r in doc["reservataires"]}
    assert doc["flux_net"] == 30 and sum(got.values()) == 30
    assert got["CD"] == cd
    issue = \
        next(i for i in doc["issues"] if i["code"] == code)
    assert issue["severity"] == "warning" and issue["context"]["cible_exacte"] == "9/10"

"""Droits uniques (flux.md §6 method 3): each right is used once, a used right is not available again.

Data ``tests/flux/data/droits_uniques``: Action Logement holds 10 rights over 2 years from
2024-01-01, counted at the mise à disposition; nine were used in 2024 (V1-V9). In 2025 the flux
is 9 (stock 20 × rotation 9/20) and 10 / 2 = 5 rights a year make a target of 5, but one right
is left: the dispatch orients one vacancy to Action Logement, then excludes it.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from cotation.cli import main

D = Path(__file__).parent / "data" / "droits_uniques"
A = ["--logements", str(D / "logements.csv"), "--conventions", str(D / "conventions.yaml"),
     "--evenements", str(D / "evenements.csv"), "--year", "2025"]


def test_dispatch_stops_when_the_rights_are_used(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["flux", "dispatch", *A, "--today", "2025-01-01", "-o", str(out)]) == 0
    records = [json.loads(x) for x in (out / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records[0]["cibles"]["AL"] == 5 and records[0]["droits_uniques_restants"] == {"AL": 1}
    orient = [r for r in records if r["type"] == "orientation"]
    assert len(orient) == 8 and sum(r["choice"] == "AL" for r in orient) == 1
    first = next(i for i, r in enumerate(orient) if r["choice"] == "AL")
    for r in orient[first + 1:]:
        assert {"id": "AL", "reason": "DROITS_UNIQUES_EPUISES", "T": 5, "D": 1} in r["excluded"]
    capsys.readouterr()
    assert main(["flux", "verify", "--audit", str(out / "audit.jsonl")]) == 0
    assert "8 dispatch decisions replayed, 0 difference(s)" in capsys.readouterr().out


def _bilan(tmp_path: Path, *period: str) -> dict:
    assert main(["flux", "bilan", *A, "--today", "2025-12-31", *period, "-o", str(tmp_path / "b")]) == 0
    return json.loads((tmp_path / "b" / "bilan.json").read_text(encoding="utf-8"))


def test_bilan_counts_rights_used_and_left(tmp_path):
    # By end of February, V10's mise à disposition used the last right.
    b = _bilan(tmp_path, "--from", "2025-01-01", "--to", "2025-02-28")
    assert b["droits_uniques"] == {"AL": {"convention": "CONV-AL", "total": 10, "annees": 2, "debut": "2024-01-01",
                                          "utilises_avant": 9, "utilises_periode": 1, "restants": 0}}
    assert not [i for i in b["issues"] if i["code"] == "DROITS_UNIQUES_DEPASSES"]
    # Over the year, V11 was also put at its disposal: 11 used for 10 granted.
    b = _bilan(tmp_path)
    assert (b["droits_uniques"]["AL"]["utilises_periode"], b["droits_uniques"]["AL"]["restants"]) == (2, -1)
    assert [i["code"] for i in b["issues"]] == ["DROITS_UNIQUES_DEPASSES"]


def test_a_percentage_convention_has_no_rights_section(tmp_path):
    text = (D / "conventions.yaml").read_text(encoding="utf-8").replace(
        "droits_uniques: {total: 10, annees: 2}", "percentage: 40")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    args = [x if x != str(D / "conventions.yaml") else str(tmp_path / "c.yaml") for x in A]
    assert main(["flux", "bilan", *args, "--today", "2025-12-31", "-o", str(tmp_path / "b")]) == 0
    assert "droits_uniques" not in json.loads((tmp_path / "b" / "bilan.json").read_text(encoding="utf-8"))
    assert main(["flux", "dispatch", *args, "--today", "2025-01-01", "-o", str(tmp_path / "d")]) == 0
    header = json.loads((tmp_path / "d" / "audit.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert "droits_uniques_restants" not in header
    with open(tmp_path / "d" / "decisions.csv", encoding="utf-8") as fh:
        assert sum(r["reservataire"] == "AL" for r in csv.DictReader(fh)) > 1

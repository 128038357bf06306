"""Outputs read back with the right types: the project's own readers keep commune codes as
text (the leading zero of 06088), and a Parquet score output keeps them as strings."""
from __future__ import annotations

import pyarrow.parquet as pq

from cotation.cli import main
from cotation.flux.scores_file import read_scores_csv


def test_score_csv_read_back_by_the_flux_keeps_leading_zeros(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("numero_unique,commune,score,score_valide,rank\n"
                    "0600000000000000001,06088,12.50,12.50,1\n", encoding="utf-8")
    arrays = read_scores_csv(path)
    assert arrays.commune.tolist() == ["06088"]
    assert arrays.numero_unique.tolist() == ["0600000000000000001"]


def test_score_parquet_keeps_codes_as_text(tmp_path, monkeypatch):
    from _support import ROOT
    lines = (ROOT / "examples/data/demandes.csv").read_text(encoding="utf-8").splitlines()[:40]
    data = tmp_path / "demandes.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scores.parquet"
    assert main(["score", str(ROOT / "grids/lyon-metropole.yaml"), str(data), "--today", "2025-06-30",
                 "-o", str(out), "--engine", "interpreter"]) == 0
    table = pq.read_table(out)
    assert str(table.schema.field("commune").type) == "string"
    assert str(table.schema.field("numero_unique").type) == "string"
    assert str(table.schema.field("score").type) == "double"
    assert all(len(c) == 5 for c in table["commune"].to_pylist())

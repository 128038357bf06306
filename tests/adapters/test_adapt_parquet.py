"""Parquet: typed columns, list columns for sets, the same validation as CSV."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cotation.data.canonical import read_attributions_csv
from cotation.data.table import AttributionTable
from sne_adapters import read_attributions, read_demandes, write_attributions, write_demandes
from cotation.data.canonical import read_canonical_parquet

from _adapt_helpers import FIXTURES, assert_accounted, assert_same


def test_csv_to_parquet_to_table(tmp_path):
    src = read_demandes(FIXTURES / "canonical_small.csv")
    out = tmp_path / "d.parquet"
    write_demandes(src.table, out)
    schema = pq.read_schema(out)
    assert schema.field("motifs").type == pa.list_(pa.string())
    assert schema.field("localisations").type == pa.list_(pa.string())
    assert schema.field("date_depot").type == pa.date32()
    assert schema.field("nb_personnes").type == pa.int64()
    assert schema.field("commentaire").type == pa.string()
    back = read_demandes(out)
    assert back.source_format == "parquet"
    assert back.rejects == [] and back.n_read == len(src.table)
    assert back.table.columns == src.table.columns
    assert back.table.extras == src.table.extras
    assert back.table.columns["localisations"][0] == ("75056", "92012")
    # deterministic bytes
    write_demandes(src.table, tmp_path / "again.parquet")
    assert out.read_bytes() == (tmp_path / "again.parquet").read_bytes()


def test_joined_strings_and_pandas_floats_are_accepted(tmp_path):
    table = pa.table({
        "numero_unique": ["A", "B", "C", "A"],
        "date_depot": ["2023-01-01", "2023-01-02", "2023-13-01", "2023-01-03"],
        "nb_personnes": [2.0, 3.0, 1.0, None],          # how pandas stores ints with gaps
        "motifs": ["trop_cher|sante", "", None, "x"],
        "localisations": [["75056", "69123"], [], None, None],
        "ressources_mensuelles": [1200.5, None, 3.0, float("nan")],
        "situation_logement": pa.array(["hotel", None, "hotel", "squat"]).dictionary_encode(),
    })
    path = tmp_path / "p.parquet"
    pq.write_table(table, path)
    fast = read_canonical_parquet(path)
    assert_same(fast, read_canonical_parquet(path, fast=False))
    assert_accounted(fast)
    assert fast.table.columns["nb_personnes"] == [2, 3]
    assert fast.table.columns["motifs"][0] == frozenset({"trop_cher", "sante"})
    assert fast.table.columns["localisations"] == [("75056", "69123"), ()]
    assert [(r.line, r.column) for r in fast.rejects] == [(3, "date_depot"), (4, "nb_personnes")]


def test_parquet_strict_and_duplicates(tmp_path):
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table({"numero_unique": ["A", "A"], "date_depot": [dt.date(2023, 1, 1)] * 2,
                             "nb_personnes": [1, 2]}), path)
    res = read_demandes(path)
    assert res.rejects[0].reason == "duplicated numero_unique (first at line 1)"
    from cotation.data.table import StrictModeError
    with pytest.raises(StrictModeError):
        read_demandes(path, strict=True)


def test_attributions_round_trip(tmp_path):
    csv_path = tmp_path / "a.csv"
    csv_path.write_text(
        "numero_unique,date_depot,date_attribution,commune,typologie,est_mutation,financement\n"
        "A,2020-01-01,2021-06-30,69123,T3,false,PLUS\n"
        "B,2019-05-01,2021-01-15,2A004,T1,true,\n"
        "C,2019-05-01,bad,69123,T1,true,\n")
    table, rejects, n = read_attributions(csv_path)
    assert (len(table), len(rejects), n) == (2, 1, 3)
    pq_path = tmp_path / "a.parquet"
    write_attributions(table, pq_path)
    assert pq.read_schema(pq_path).field("date_attribution").type == pa.date32()
    back, rejects2, n2 = read_attributions(pq_path)
    assert back.columns == table.columns and rejects2 == [] and n2 == 2
    write_attributions(back, tmp_path / "b.csv")
    again, _, _ = read_attributions_csv(tmp_path / "b.csv")
    assert isinstance(again, AttributionTable) and again.columns == table.columns

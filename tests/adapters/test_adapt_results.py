"""write_results: deterministic CSV and Parquet with inferred types."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sne_adapters import write_results

COLUMNS = {
    "numero_unique": ["B", "A"],
    "score": [12.5, 3.0],
    "rang": [1, 2],
    "eligible": [True, None],
    "grid_id": ["lyon", "lyon"],
    "grid_version": ["3", "3"],
    "grid_hash": ["sha256:ab", "sha256:ab"],
    "reference_date": [dt.date(2024, 1, 1)] * 2,
    "criteres": [frozenset({"b", "a"}), frozenset()],
    "communes": [("69266", "69123"), ()],
}


def test_csv_is_deterministic_and_readable(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_results(COLUMNS, a)
    write_results(dict(COLUMNS), b)
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1] == "B,12.5,1,true,lyon,3,sha256:ab,2024-01-01,a|b,69266|69123"
    assert lines[2] == "A,3.0,2,,lyon,3,sha256:ab,2024-01-01,,"


def test_parquet_types_and_determinism(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_results(COLUMNS, a)
    write_results(COLUMNS, b)
    assert a.read_bytes() == b.read_bytes()
    table = pq.read_table(a)
    assert table.column_names == list(COLUMNS)
    types = {f.name: f.type for f in table.schema}
    assert types["score"] == pa.float64() and types["rang"] == pa.int64()
    assert types["eligible"] == pa.bool_() and types["reference_date"] == pa.date32()
    assert types["criteres"] == pa.list_(pa.string())
    assert table.column("criteres").to_pylist() == [["a", "b"], []]
    assert table.column("communes").to_pylist() == [["69266", "69123"], []]


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unequal length"):
        write_results({"a": [1], "b": [1, 2]}, tmp_path / "x.csv")
    with pytest.raises(TypeError, match="column 'a'"):
        write_results({"a": [1, "x"]}, tmp_path / "x.parquet")

"""The same values give the same rows, values, rejects and padding counts whatever holds them:
a list of dicts, a dict of lists, a pandas or polars DataFrame, a pyarrow Table, a
RecordBatchReader and any object with ``__arrow_c_stream__`` (:mod:`cotation.data.arrow`).

Each case was a difference between containers, or an exception from inside pyarrow: NaN in a
float column (missing from pandas, a reject from polars and Arrow), a Python integer beyond
64 bits (an ``OverflowError``), a grid's local ``commune`` field given as integers (rejected
where a canonical commune column is padded), a float in a text or code column (accepted or
rejected depending on its neighbours), and containers that are not tables of demandes.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from cotation.data.arrow import SourceTypeError
from cotation.data.boundary import MissingColumnsError, admit
from cotation.data.table import HeaderError

from _support import MINIMAL, write_grid

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

TODAY = dt.date(2025, 6, 30)


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "en")


class _Stream:
    """Any object exposing the Arrow PyCapsule stream interface."""

    def __init__(self, table: pa.Table):
        self.table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


def _union(values: list) -> pa.Array:
    """A column of mixed Python values as Arrow holds it: a dense union, one child per type."""
    kinds = {str: pa.string(), float: pa.float64(), int: pa.int64()}
    present = list(dict.fromkeys(type(v) for v in values if v is not None)) or [str]
    children: dict[type, list] = {k: [] for k in present}
    codes, offsets = [], []
    for v in values:
        k = present[0] if v is None else type(v)
        codes.append(present.index(k))
        offsets.append(len(children[k]))
        children[k].append(v)
    return pa.UnionArray.from_dense(pa.array(codes, pa.int8()), pa.array(offsets, pa.int32()),
                                    [pa.array(children[k], kinds[k]) for k in present],
                                    [k.__name__ for k in present])


def _containers(cols: dict[str, list], *, arrow: dict[str, pa.Array] | None = None,
                polars: dict[str, Any] | None = None) -> dict[str, Any]:
    """The same rows in every container: ``arrow`` gives a column's Arrow array where
    ``pyarrow.array`` cannot type the Python values (mixed types, integers beyond 64 bits),
    ``polars`` its polars dtype."""
    arrow, polars = arrow or {}, polars or {}
    rows = [dict(zip(cols, values)) for values in zip(*cols.values())]
    table = pa.table({n: arrow[n] if n in arrow else pa.array(v) for n, v in cols.items()})
    frame = pl.DataFrame([pl.Series(n, v, dtype=polars.get(n), strict=False)
                          for n, v in cols.items()])
    return {"records": rows, "dict": dict(cols), "pandas": pd.DataFrame(cols), "polars": frame,
            "table": table, "reader": pa.RecordBatchReader.from_batches(table.schema,
                                                                       table.to_batches()),
            "stream": _Stream(table)}


def _outcome(res, column: str) -> tuple:
    table = res.table
    values = table.columns[column] if column in table.columns else \
        list(table.extras.get(column, ()))
    return (res.report.read, res.report.accepted, list(table.columns["numero_unique"]),
            [None if isinstance(v, float) and math.isnan(v) else v for v in values],
            [(r.line, r.column, r.value, r.reason, r.numero_unique) for r in res.rejects],
            dict(res.report.padded))


def _same_everywhere(cols: dict[str, list], column: str, **kwargs) -> tuple:
    outcomes = {name: _outcome(admit(data), column)
                for name, data in _containers(cols, **kwargs).items()}
    first = outcomes["records"]
    assert first[0] == first[1] + len(first[4])             # accepted + rejected = read
    for name, got in outcomes.items():
        assert got == first, (name, got, first)
    return first


BASE = {"numero_unique": ["A", "B", "C", "D", "E"], "date_depot": ["2024-01-01"] * 5,
        "nb_personnes": [1, 2, 3, 4, 5]}


def _lines(outcome: tuple) -> list[tuple[int, str, str]]:
    return [r[:3] for r in outcome[4]]


# ------------------------------------------------------------------------------ NaN, infinity

def test_nan_is_missing_and_infinity_a_reject_in_every_container():
    nan, inf = float("nan"), float("inf")
    got = _same_everywhere({**BASE, "ressources_mensuelles": [1.5, nan, inf, -inf, None]},
                           "ressources_mensuelles")
    assert got[2] == ["A", "B", "E"] and got[3] == [1.5, None, None]
    assert _lines(got) == [(3, "ressources_mensuelles", "inf"),
                           (4, "ressources_mensuelles", "-inf")]
    # NaN is missing in an integer column and in a code column too, not 'nan'
    got = _same_everywhere({**BASE, "nb_enfants": [1.0, nan, 2.0, nan, None],
                            "commune_travail": [nan] * 5}, "nb_enfants")
    assert got[2] == BASE["numero_unique"] and got[3] == [1, None, 2, None, None]


# ------------------------------------------------------------------- integers beyond 64 bits

def test_integers_beyond_64_bits_are_their_digits_in_every_container():
    big = 2 ** 70
    cols = {"numero_unique": [big, 1, 2, 3], "date_depot": ["2024-01-01"] * 4,
            "nb_personnes": [1, big, 2, -big], "commune_travail": [6088, 2 ** 64, None, 69123]}
    dec = pa.decimal128(38, 0)
    arrow = {n: pa.array(cols[n], dec) for n in ("numero_unique", "nb_personnes",
                                                 "commune_travail")}
    got = _same_everywhere(cols, "commune_travail", arrow=arrow)
    assert got[2] == [str(big), "2"] and got[3] == ["06088", None]
    assert _lines(got) == [(2, "nb_personnes", str(big)), (4, "nb_personnes", str(-big))]
    assert got[5] == {"commune_travail": 1}
    # a column the grid reads is missing: said as such, not an OverflowError from inside pyarrow
    for name, data in _containers(cols, arrow=arrow).items():
        with pytest.raises(MissingColumnsError, match="dalo_statut"):
            admit(data, needs={"dalo_statut": ["dalo"]})


# ----------------------------------------------------------------- a grid's local fields

LOCAL_GRID = MINIMAL.replace('["69123", "69266"]', '["06088", "06029"]') + """\
  - id: proche
    label: "Travaille dans la commune demandée"
    when: "loc.commune == lieu"
    points: 10
fields:
  lieu: {type: commune}
  libelle: {type: text}
"""


@pytest.fixture(scope="module")
def local_scorer(tmp_path_factory):
    from cotation.api import Scorer
    path = write_grid(tmp_path_factory.mktemp("grid"), LOCAL_GRID)
    return Scorer.from_file(path, engine="interpreter", warm=False)


def test_a_local_commune_field_given_as_integers_is_padded_like_a_canonical_one(local_scorer):
    cols = {"numero_unique": ["A", "B", "C"], "date_depot": ["2024-01-01"] * 3,
            "nb_personnes": [1, 2, 3], "typologies": ["T2"] * 3, "dalo_statut": ["", "", ""],
            "localisations": ["06088", "06029", "06088"], "lieu": [6088, 6029, 6029],
            "commune_travail": [6088, 6029, 6029]}
    outcomes = set()
    for name, data in _containers(cols).items():
        res = local_scorer.score(data, TODAY)
        assert res.report.padded == {"lieu": 3, "commune_travail": 3}, name
        assert not res.rejects, name
        outcomes.add(tuple((r["numero_unique"], r["commune"], r["score"])
                           for r in res.to_records()))
    assert outcomes == {(("A", "06088", 10.0), ("B", "06029", 10.0), ("C", "06088", 0.0))}


def test_a_parquet_file_reads_a_local_commune_field_as_memory_does(local_scorer, tmp_path, capsys):
    """The CLI read a Parquet file's local fields as text: 6088 stayed '6088', a reject."""
    import pyarrow.parquet as pq

    from cotation.cli import main
    cols = {"numero_unique": ["A", "B", "C"], "date_depot": ["2024-01-01"] * 3,
            "nb_personnes": [1, 2, 3], "typologies": ["T2"] * 3, "dalo_statut": ["", "", ""],
            "localisations": ["06088", "06029", "06088"], "lieu": [6088, 6029, 6029]}
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table(cols), path)
    grid = write_grid(tmp_path, LOCAL_GRID)
    out = tmp_path / "s.csv"
    assert main(["score", str(grid), str(path), "--today", TODAY.isoformat(), "-o", str(out),
                 "--engine", "interpreter"]) == 0
    assert "rejected" not in capsys.readouterr().err
    rows = out.read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(tuple(r.split(",")[:3]) for r in rows) == [("A", "06088", "10.00"),
                                                             ("B", "06029", "10.00"),
                                                             ("C", "06088", "0.00")]


def test_a_float_in_a_local_text_or_commune_field_is_a_reject(local_scorer):
    cols = {"numero_unique": ["A", "B"], "date_depot": ["2024-01-01"] * 2,
            "nb_personnes": [1, 2], "typologies": ["T2"] * 2, "dalo_statut": ["", ""],
            "localisations": ["06088", "06029"], "lieu": [6088.0, None],
            "libelle": [None, 2.0]}
    for name, data in _containers(cols).items():
        res = local_scorer.score(data, TODAY)
        assert [(r.line, r.column, r.value) for r in res.rejects] == \
            [(1, "lieu", "6088"), (2, "libelle", "2")], name
        assert all("is a number" in r.reason for r in res.rejects)


# ------------------------------------------------------ a float among text in a text column

def _column_outcome(values: list, column: str, base=None) -> tuple:
    base = base or {k: v[:len(values)] for k, v in BASE.items() if k != column}
    cols = {**base, column: values}
    return _same_everywhere(cols, column, arrow={column: _union(values)},
                            polars={column: pl.Object})


def test_a_float_in_a_code_column_is_a_reject_whatever_its_neighbours():
    floats = _outcome(admit({**{k: v[:3] for k, v in BASE.items()},
                             "commune_travail": [25056.0, 25056.0, None]}), "commune_travail")
    mixed = _column_outcome([25056.0, "25056", None], "commune_travail")
    assert mixed[2] == ["B", "C"] and mixed[3] == ["25056", None]
    assert mixed[4] == floats[4][:1]               # row 1 as in the column of floats
    got = _column_outcome([1.5, "B", "C"], "numero_unique")
    assert got[2] == ["B", "C"] and _lines(got) == [(1, "numero_unique", "1.5")]
    assert got[4][0][3] == _outcome(admit({**{k: v[:3] for k, v in BASE.items()},
                                           "numero_unique": [1.5, 2.5, 3.5]}),
                                    "numero_unique")[4][0][3]


def test_a_float_among_text_in_a_number_column_is_read_as_in_a_column_of_floats():
    mixed = _column_outcome([2.0, "3", 2.5], "nb_personnes")
    floats = _outcome(admit({**{k: v[:3] for k, v in BASE.items()},
                             "nb_personnes": [2.0, 3.0, 2.5]}), "nb_personnes")
    assert mixed[2:4] == floats[2:4] == (["A", "B"], [2, 3])
    assert _lines(mixed) == _lines(floats) == [(3, "nb_personnes", "2.5")]
    mixed = _column_outcome([1.5, "2.25", None], "ressources_mensuelles")
    assert mixed[3] == [1.5, 2.25, None] and not mixed[4]


def test_integers_among_text_in_a_commune_column_are_padded_and_counted():
    got = _column_outcome([6088, "06029", None], "commune_residence")
    assert got[3] == ["06088", "06029", None] and got[5] == {"commune_residence": 1}


# ------------------------------------------------------------------ not a table of demandes

def _frame():
    return pd.DataFrame({k: v[:2] for k, v in BASE.items()})


@pytest.mark.parametrize("make,match", [
    (lambda: {"numero_unique": "A", "date_depot": "2024-01-01", "nb_personnes": 1},
     "column numero_unique: str is not a list"),
    (lambda: {"numero_unique": ["A"], "date_depot": ["2024-01-01"], "nb_personnes": 1},
     "column nb_personnes: int is not a list"),
    (lambda: {**{k: v[:1] for k, v in BASE.items()}, "motifs": {"dalo"}}, "set is not a list"),
    (lambda: {**{k: v[:1] for k, v in BASE.items()}, "x": np.zeros((1, 2))},
     "ndarray is not a list or a one-dimensional array"),
    (lambda: _frame().iloc[0], "from Series: it is one column"),
    (lambda: _frame()["numero_unique"], "from Series: it is one column"),
    (lambda: pl.Series("numero_unique", ["A"]), "from Series: it is one column"),
    (lambda: pa.chunked_array([["A"]]), "from ChunkedArray: it is one column"),
    (lambda: ["A", "B"], "a list of demandes holds dicts, not str"),
    (lambda: 3, "cannot read demandes from int"),
    (lambda: {"numero_unique": ["A", "B"], "date_depot": ["2024-01-01"]},
     r"columns of unequal length: \[1, 2\]"),
])
def test_what_is_not_a_table_of_demandes_is_one_clear_error(make, match):
    with pytest.raises(SourceTypeError, match=match):
        admit(make())


def test_a_column_named_twice_is_the_header_error_of_a_csv():
    frame = _frame()
    twice = pd.concat([frame, frame[["nb_personnes"]]], axis=1)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("nb_personnes", table.column("nb_personnes"))
    clash = {**{k: v[:2] for k, v in BASE.items()}, 7: [1, 2], "7": [3, 4]}
    for data in (twice, table, _Stream(table), clash):
        with pytest.raises(HeaderError, match="duplicated column"):
            admit(data)


def test_integers_of_thousands_of_digits_are_rejects_not_exceptions(local_scorer):
    # str() refuses ints over 4,300 digits: Scorer.score raised ValueError
    cols = {"numero_unique": ["A", "B"], "date_depot": ["2024-01-01"] * 2,
            "nb_personnes": [10 ** 5000, 2], "typologies": ["T2"] * 2, "dalo_statut": ["", ""],
            "localisations": ["06088", "06029"], "lieu": ["06088", 10 ** 5000]}
    res = local_scorer.score([dict(zip(cols, r)) for r in zip(*cols.values())], TODAY)
    assert [(r.line, r.column) for r in res.rejects] == [(1, "nb_personnes"), (2, "lieu")]

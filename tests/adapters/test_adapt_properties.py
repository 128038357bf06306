"""Property: canonical table -> CSV -> table and -> Parquet -> table round-trip exactly."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from cotation.data.values import COUNT_COLUMNS
from cotation.data.schema import COLUMNS, Kind
from cotation.data.table import DemandeTable
from sne_adapters import read_demandes, write_demandes
from cotation.data.canonical import read_canonical_csv

from _adapt_helpers import typed

INSEE = st.builds(lambda d, n: f"{d}{n:03d}", st.sampled_from(["01", "2A", "2B", "69", "75", "97"]),
                  st.integers(0, 999))
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
               max_size=12).map(str.strip).filter(bool)


def value(col):
    opt = lambda s: st.none() | s  # noqa: E731
    if col.kind is Kind.BOOL:
        return opt(st.booleans())
    if col.kind is Kind.INT:   # a negative count is a reject (COUNT_COLUMNS)
        return opt(st.integers(0 if col.name in COUNT_COLUMNS else -10 ** 12, 10 ** 12))
    if col.kind is Kind.DECIMAL:
        return opt(st.floats(-1e12, 1e12, allow_nan=False))  # beyond: a reject (MAX_MAGNITUDE)
    if col.kind is Kind.DATE:
        return opt(st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)))
    if col.kind is Kind.CODE:
        return opt(st.sampled_from(col.enum))
    if col.kind is Kind.CODESET:
        pool = st.sampled_from(col.enum) if col.enum else st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
        return st.frozensets(pool, max_size=4)
    if col.kind is Kind.COMMUNES:
        return st.lists(INSEE, max_size=4, unique=True).map(tuple)
    if col.kind is Kind.COMMUNE:
        return opt(INSEE)
    return opt(TEXT)


ROW = st.fixed_dictionaries({c.name: value(c) for c in COLUMNS}).map(
    lambda r: {**r, "nb_personnes": r["nb_personnes"] if r["nb_personnes"] is not None else 1})


@st.composite
def tables(draw):
    rows = draw(st.lists(ROW, max_size=12))
    ids = draw(st.lists(st.from_regex(r"[0-9A-Z]{1,18}", fullmatch=True), min_size=len(rows),
                        max_size=len(rows), unique=True))
    depots = draw(st.lists(st.dates(dt.date(2000, 1, 1), dt.date(2030, 1, 1)),
                           min_size=len(rows), max_size=len(rows)))
    cols = {c.name: [] for c in COLUMNS}
    for row, nu, depot in zip(rows, ids, depots):
        row.update(numero_unique=nu, date_depot=depot)
        for c in COLUMNS:
            cols[c.name].append(row[c.name])
    extras = {"note": draw(st.lists(st.none() | TEXT, min_size=len(rows), max_size=len(rows)))}
    return DemandeTable(cols, extras)


def _round_trip(table: DemandeTable, suffix: str, **kw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"t{suffix}"
        write_demandes(table, path)
        return (read_canonical_csv(path, **kw) if suffix == ".csv" and kw else read_demandes(path))


def _check(table, res):
    assert res.rejects == [] and res.n_read == len(table)
    for c in COLUMNS:
        assert typed(res.table.columns[c.name]) == typed(table.columns[c.name]), c.name
    assert res.table.extras == table.extras


@settings(max_examples=60, deadline=None)
@given(tables())
def test_csv_round_trip(table):
    _check(table, _round_trip(table, ".csv"))
    _check(table, _round_trip(table, ".csv", fast=False))


@settings(max_examples=60, deadline=None)
@given(tables())
def test_parquet_round_trip(table):
    _check(table, _round_trip(table, ".parquet"))

"""Canonical CSV: the vectorised reader equals the row-by-row path and the reference reader."""
from __future__ import annotations

import pytest

from cotation.data.schema import COLUMNS
from cotation.data.table import StrictModeError, read_demandes_csv
from sne_adapters import read_demandes
from cotation.data.canonical import read_canonical_csv

import _adapt_synth as synth
from _adapt_helpers import FIXTURES, assert_accounted, assert_same, write_csv

NAMES = [c.name for c in COLUMNS] + ["extra_note"]


def _file(tmp_path, n, seed, **kw):
    rows = synth.rows(n, seed, defects=kw.pop("defects", 0.0), dup=kw.pop("dup", 0.0))
    return write_csv(tmp_path / f"d{seed}.csv", NAMES, [[r[k] for k in NAMES] for r in rows], **kw)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_equals_row_by_row_and_reference(seed, tmp_path):
    path = _file(tmp_path, 1500, seed, defects=0.25, dup=0.03, blank_every=97, odd_every=131)
    fast = read_canonical_csv(path)
    slow = read_canonical_csv(path, fast=False)
    assert_same(fast, slow)
    assert_same(fast, read_demandes_csv(path))
    assert fast.rejects  # the defects were seen
    assert fast.unmapped_columns == ["extra_note"]


def test_large_unique_number_path(tmp_path):
    """Above the distinct-value threshold numbers take the regex+cast path; same result."""
    import random
    rng = random.Random(5)
    rows = []
    for i in range(40000):
        r = {c.name: "" for c in COLUMNS}
        r.update(numero_unique=f"N{i}", date_depot="2023-01-01", nb_personnes="2",
                 revenu_fiscal_reference=str(rng.randint(-10 ** 6, 10 ** 9)),
                 ressources_mensuelles=f"{rng.randint(0, 10**6)}.{rng.randint(0, 99)}")
        if i % 997 == 0:
            r["ressources_mensuelles"] = rng.choice(["1e3", "12,5", "nan", " 7.5"])
        if i % 1009 == 0:
            r["revenu_fiscal_reference"] = rng.choice(["+5", "1_000", "x", "99999999999999999999"])
        rows.append([r[c.name] for c in COLUMNS])
    path = write_csv(tmp_path / "big.csv", [c.name for c in COLUMNS], rows)
    assert_same(read_canonical_csv(path), read_demandes_csv(path))


def test_hand_made_fixture():
    path = FIXTURES / "canonical_small.csv"
    res = read_demandes(path)
    assert_same(res, read_demandes_csv(path))
    assert_same(res, read_canonical_csv(path, fast=False))
    reasons = {r.line: (r.column, r.reason) for r in res.rejects}
    assert reasons[3] == ("date_depot", "'2023-02-30' is not a date YYYY-MM-DD")
    assert reasons[4][0] == "situation_logement"
    assert "duplicated numero_unique (first at line 2)" in reasons[5][1]
    assert reasons[9] == ("*", "2 cells, header has 32")
    assert reasons[10] == ("nb_personnes", "nb_personnes is required")
    # the multi-line quoted cell is one record, numbered at its last line
    assert res.table.columns["profession"][1] == "sur\ndeux lignes"
    assert res.table.source_lines == [2, 8, 11]
    assert res.table.columns["est_mutation"][2] is True


def test_wrong_encoding_rows_are_rejected_not_fatal():
    res = read_demandes(FIXTURES / "canonical_latin1.csv")
    assert_accounted(res)
    assert [r.line for r in res.rejects] == [2, 4]
    assert res.rejects[0].column == "profession"
    assert "not valid utf-8" in res.rejects[0].reason and "0xe9" in res.rejects[0].reason
    assert res.rejects[0].value == "Employ\\xe9"
    assert res.table.columns["numero_unique"] == ["A2"]


def test_strict_raises_first_reject():
    with pytest.raises(StrictModeError) as err:
        read_demandes(FIXTURES / "canonical_small.csv", strict=True)
    assert err.value.reject.line == 3


@pytest.mark.parametrize("content", [
    "numero_unique,date_depot,nb_personnes\r\nA,2023-01-01,1\r\nB,2023-01-02,2\r\n",  # CRLF
    "\ufeffnumero_unique,date_depot,nb_personnes\nA,2023-01-01,1\n",                  # BOM
    "numero_unique,date_depot,nb_personnes\rA,2023-01-01,1\rB,x,2\r",                 # CR only
    'numero_unique,date_depot,nb_personnes\na"b,"c,2023-01-01,1\nB,2023-01-02,2\n',   # odd quoting
    'numero_unique,date_depot,nb_personnes\n"A"x,2023-01-01,1\n"B",2023-01-02,"2"\n',
    "numero_unique,date_depot,nb_personnes\n   \n,,\nA,2023-01-01,1",                  # no final LF
    "numero_unique,date_depot,nb_personnes\n",
])
def test_edge_layouts_match_reference(tmp_path, content):
    path = tmp_path / "e.csv"
    path.write_bytes(content.encode("utf-8"))
    assert_same(read_canonical_csv(path), read_demandes_csv(path))
    assert_same(read_canonical_csv(path), read_canonical_csv(path, fast=False))


def test_header_errors(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("numero_unique,date_depot\nA,2023-01-01\n")
    with pytest.raises(ValueError, match="missing required column.*nb_personnes.*mapping"):
        read_demandes(path)
    path.write_text("numero_unique,date_depot,nb_personnes,nb_personnes\n")
    with pytest.raises(ValueError, match="duplicated column"):
        read_demandes(path)
    path.write_text("")
    with pytest.raises(ValueError, match="empty file"):
        read_demandes(path)


@pytest.mark.parametrize("seed", [4, 5])
def test_a_few_defects_in_a_small_file_read_as_row_by_row(seed, tmp_path):
    # under 1 % of odd cells: the vectorised paths are kept (from 257 rows) and the odd
    # cells alone go to the parsers
    path = _file(tmp_path, 1200, seed, defects=0.004, dup=0.002)
    fast = read_canonical_csv(path)
    assert_same(fast, read_canonical_csv(path, fast=False))
    assert fast.rejects


def test_a_small_clean_file_is_read_column_wise(tmp_path, monkeypatch):
    """Dates, numbers and lists of a 1,000-row file are read by the vectorised paths, not
    distinct text by distinct text (the scalar way is left to codes and booleans, whose
    distinct texts are few)."""
    from cotation.data import vector
    from cotation.data.schema import Kind
    from _support import ROOT

    lines = (ROOT / "examples" / "data" / "demandes.csv").read_text("utf-8").splitlines()
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines[:1001]) + "\n", "utf-8")
    scalar = []
    by_unique = vector._by_unique
    monkeypatch.setattr(vector, "_by_unique",
                        lambda spec, arr: scalar.append(spec.kind) or by_unique(spec, arr))
    fast = read_canonical_csv(path)
    assert fast.n_accepted == 1000 and not fast.rejects
    assert scalar and set(scalar) <= {Kind.CODE, Kind.COMMUNE, Kind.BOOL}
    monkeypatch.undo()
    assert_same(fast, read_canonical_csv(path, fast=False))

"""The regex-free number path (build._number_direct) vouches only for what the scalar parsers
read, with the same value: every text of up to 5 characters over the bytes it admits, long
digit strings by property, and mapped decimals with a comma."""
from __future__ import annotations

import itertools
import struct

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from _support import check_vouched
from cotation.data import vector as build
from cotation.data.canonical import canonical_fields
from cotation.data.values import ValueParseError

FIELDS = {f.name: f for f in canonical_fields(["numero_unique", "loyer_actuel",
                                                "revenu_fiscal_reference", "nb_enfants",
                                                "nb_personnes"])}


def _bits(x):
    return struct.pack("<d", x) if isinstance(x, float) else x


def _check(spec, texts):
    """Each text alone (one refused text sends a whole column elsewhere): when the direct
    path vouches for it, the scalar parser accepts it and reads the same value."""
    vouched = 0
    for text in texts:
        out = build._number_direct(spec, pa.array([text], pa.string()))
        if out is None:
            continue
        values, ok = out
        if not ok[0]:
            continue
        vouched += 1
        try:
            expected = spec.parse(text)
        except ValueParseError:
            pytest.fail(f"{spec.name}: {text!r} vouched for, the parser rejects it")
        got = values[0].as_py()
        assert type(got) is type(expected) or expected is None, (text, got, expected)
        assert _bits(got) == _bits(expected), (text, got, expected)
    return vouched


@pytest.mark.parametrize("name", ["loyer_actuel", "revenu_fiscal_reference", "nb_enfants",
                                  "nb_personnes"])     # a count, a required one
def test_every_short_text_over_the_admitted_bytes(name):
    spec = FIELDS[name]
    alphabet = "0159.-,e+ "
    texts = ["".join(t) for k in range(6) for t in itertools.product(alphabet, repeat=k)]
    assert _check(spec, texts) > 100


def test_the_column_is_read_as_the_parser_reads_each_cell():
    spec = FIELDS["loyer_actuel"]
    texts = ["12.5", "", "-0", "-0.0", ".5", "7.", "00012.250", "1" * 40, "9" * 400, "0.1"] * 4000
    values, ok = build.vector_parse(spec, pa.array(texts, pa.string()))[:2]
    assert build._number_direct(spec, pa.array(texts, pa.string())) is not None
    for text, v, good in zip(texts[:10], values.to_pylist()[:10], ok[:10]):
        if good:
            assert _bits(v) == _bits(spec.parse(text)) if v is not None else spec.parse(text) is None
    assert not ok[8]            # 9...9 is infinite: the scalar parser says why
    # counts: negative values are not vouched for; a refused text sends the column elsewhere
    nb = FIELDS["nb_enfants"]
    assert not build._number_direct(nb, pa.array(["-1", "2"] * 20000))[1][0]
    assert build._number_direct(nb, pa.array(["1", "1.0"] * 20000)) is None
    assert build._number_direct(nb, pa.array(["1", "1-2"] * 20000)) is None
    assert build._number_direct(nb, pa.array(["1", " 2"] * 20000)) is None


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"-?[0-9]{0,30}(\.[0-9]{0,30})?", fullmatch=True))
def test_long_decimals_round_as_python(text):
    _check(FIELDS["loyer_actuel"], [text])


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"-?[0-9]{0,25}", fullmatch=True))
def test_long_integers_as_python(text):
    _check(FIELDS["revenu_fiscal_reference"], [text])


def _mapped(name, decimal, thousands=""):
    from cotation.data.schema import COLUMNS_BY_NAME
    from sne_adapters.mapping import FieldMap, make_parser

    col = COLUMNS_BY_NAME[name]
    fm = FieldMap(name, ("c",), None, "", ("%Y-%m-%d",), decimal, thousands, "|", True)
    parse = make_parser(fm, {"true_values": ["oui"], "false_values": ["non"],
                             "insee_zero_pad": False})
    number = "int" if col.kind.value == "int" else "decimal"
    return build.FieldSpec(name, (0,), "c", parse, col.kind, col.required, number, decimal,
                           thousands=thousands)


@pytest.mark.parametrize("name, decimal, thousands", [
    ("revenu_fiscal_reference", ",", " "), ("revenu_fiscal_reference", ",", "\u202f"),
    ("loyer_actuel", ",", " "), ("loyer_actuel", ",", "."), ("loyer_actuel", ".", ","),
    ("nb_enfants", ",", "'")])
def test_mapped_numbers_with_a_thousands_separator(name, decimal, thousands):
    # the column is read as its parser reads each cell, separator removed wherever it is:
    # every short text over digits, signs, both separators and spaces, in one column large
    # enough for the vectorised paths (one refused text sends the column to the regex path,
    # so the texts go in twice: alone among clean cells, and all together)
    spec = _mapped(name, decimal, thousands)
    alphabet = ["0", "1", "9", "-", ",", ".", " ", "\t", thousands]
    texts = sorted({"".join(t) for k in range(5) for t in itertools.product(alphabet, repeat=k)})
    clean = [f"1{thousands}234", f"12{thousands}345{thousands}678", "7", ""]
    same = lambda got, want: _bits(got) == _bits(want)  # noqa: E731
    filler = clean * 9000
    assert check_vouched(spec, texts, filler, same)[1].all()
    # each odd text among enough clean cells for the column to stay on the vectorised paths
    # (fewer than 1 % refused): batches of 300
    for k in range(0, len(texts), 300):
        check_vouched(spec, texts[k:k + 300], filler, same)
    # the clean column is read without the parser (vectorised), not cell by distinct cell
    from dataclasses import replace
    calls = []
    counting = replace(spec, parse=lambda text: calls.append(text) or spec.parse(text))
    build.vector_parse(counting, pa.array(clean * 9000, pa.string()))
    assert calls == []


@pytest.mark.parametrize("name", ["loyer_actuel", "revenu_fiscal_reference"])
def test_mapped_numbers_with_a_decimal_comma(name):
    spec = _mapped(name, ",")
    alphabet = "019,.-"
    texts = ["".join(t) for k in range(6) for t in itertools.product(alphabet, repeat=k)]
    assert _check(spec, texts) > 50
    values, ok = build.vector_parse(spec, pa.array(["12,5", "", "3"] * 20000))[:2]
    if name == "loyer_actuel":
        assert values.to_pylist()[:3] == [12.5, None, 3.0] and ok.all()


def test_the_smallest_int64_is_out_of_range_on_every_path():
    """abs(-2**63) is -2**63 in int64: the range check must not take it for a small number."""
    from cotation.data.canonical import read_arrow_table

    spec = FIELDS["revenu_fiscal_reference"]
    texts = ["-9223372036854775808", "5"] * 20000
    values, ok = build.vector_parse(spec, pa.array(texts, pa.string()))[:2]
    assert not ok[0] and ok[1]
    native = build._native(spec, pa.array([-2 ** 63, 5], pa.int64()))
    assert not native[1][0] and native[1][1]
    table = pa.table({"numero_unique": ["A1", "A2"], "date_depot": ["2024-01-02"] * 2,
                      "nb_personnes": [1, 1], "revenu_fiscal_reference": pa.array([-2 ** 63, 5])})
    res = read_arrow_table(table, source="t")         # lines of a table are row numbers
    assert [(r.line, r.column) for r in res.rejects] == [(1, "revenu_fiscal_reference")]
    assert res.n_accepted == 1


def test_a_sliced_column_reads_as_its_copy():
    """An array with an offset (a slice of a larger table): same values and rows vouched."""
    spec = FIELDS["loyer_actuel"]
    texts = ["", "12.5", "-3", "7.25", "", "0.1"] * 12000
    whole = pa.array(["999"] * 5 + texts, pa.string())
    sliced = whole.slice(5)
    assert sliced.offset == 5
    got = build._number_direct(spec, sliced)
    want = build._number_direct(spec, pa.array(texts, pa.string()))
    assert got is not None and want is not None
    assert got[0].equals(want[0]) and (got[1] == want[1]).all()
    assert got[0].to_pylist()[:6] == [None, 12.5, -3.0, 7.25, None, 0.1]


@pytest.mark.parametrize("thousands, decimal, cell", [(".", ",", "."), (".", ",", ".."),
                                                      ("'", ",", "'"), (".", ".", ".")])
def test_a_cell_of_separators_alone_is_left_to_the_parser(thousands, decimal, cell):
    # empty once the separators are removed, but not empty: the parser refuses it
    spec = _mapped("loyer_actuel", decimal, thousands)
    values, ok = build.vector_parse(spec, pa.array([cell] + ["1" + thousands + "234"] * 40000,
                                                   pa.string()))[:2]
    assert not ok[0] and ok[1:].all()
    with pytest.raises(ValueParseError):
        spec.parse(cell)

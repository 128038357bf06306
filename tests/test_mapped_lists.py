"""Mapped list columns (localisations written ``69123,69001``) are read by the vectorised path
as their parser reads each cell, whether or not a cell holds the separator that joins the
cells of a field read from several source columns (then the split needs a regex)."""
from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from cotation.data import vector
from _support import check_vouched
from cotation.data.build import JOIN


def _spec(zero_pad=True):
    from cotation.data.schema import COLUMNS_BY_NAME
    from sne_adapters.mapping import FieldMap, make_parser

    col = COLUMNS_BY_NAME["localisations"]
    fm = FieldMap("localisations", ("c",), None, "", ("%d/%m/%Y",), ",", "", ",", True)
    parse = make_parser(fm, {"true_values": ["oui"], "false_values": ["non"],
                             "insee_zero_pad": zero_pad})
    return vector.FieldSpec("localisations", (0,), "c", parse, col.kind, col.required,
                            communes_split=(JOIN, ","), insee_zero_pad=zero_pad)


CELLS = st.lists(st.sampled_from(["69123", "6912", "75056", "2A004", " 69001", "", "x",
                                  "69123" + JOIN + "75056", JOIN, ",", "13055,"]),
                 max_size=3).map(",".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(CELLS, min_size=1, max_size=30), st.booleans())
def test_a_mapped_list_column_is_read_as_its_parser_reads_each_cell(cells, zero_pad):
    spec = _spec(zero_pad)
    clean = ["69123,75056", "13055", "", "2A004,69001,69002"]
    check_vouched(spec, cells + clean, clean * 9000,          # enough for the vectorised path
                  same=lambda got, want: tuple(got) == tuple(want))


@pytest.mark.parametrize("join", [False, True])
def test_a_clean_column_is_read_without_the_parser(join):
    spec = _spec()
    calls = []
    counting = replace(spec, parse=lambda text: calls.append(text) or spec.parse(text))
    column = ["69123,75056", "13055", "", "2A004,69001,6912"] * 9000
    if join:
        column[5] = "69123" + JOIN + "75056"
    values, ok = vector.vector_parse(counting, pa.array(column, pa.string()))[:2]
    assert calls == [] and ok.all()
    assert values.to_pylist()[3] == ["2A004", "69001", "06912"]
    assert values.to_pylist()[5] == (["69123", "75056"] if join else ["13055"])

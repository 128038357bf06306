"""Mapped date columns (``date_formats`` of a mapping, e.g. ``%d/%m/%Y``) are read by the
vectorised path only where it reads what the field's parser reads: every vouched cell has
the parser's date; the others go to the parser."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from _support import check_vouched
from cotation.data import vector


def _spec(formats, required=False):
    from cotation.data.schema import COLUMNS_BY_NAME
    from sne_adapters.mapping import FieldMap, make_parser

    col = COLUMNS_BY_NAME["date_naissance"]
    fm = FieldMap("date_naissance", ("c",), None, "", tuple(formats), ",", "", "|", True)
    parse = make_parser(fm, {"true_values": ["oui"], "false_values": ["non"],
                             "insee_zero_pad": False})
    first = formats[0] if vector.date_format_vectorised(formats[0]) else ""
    return vector.FieldSpec("date_naissance", (0,), "c", parse, col.kind, required,
                            date_format=first)


def _text(day: dt.date, fmt: str, pad: bool, year2: bool, space: str) -> str:
    d, m = (f"{day.day:02d}", f"{day.month:02d}") if pad else (str(day.day), str(day.month))
    y = f"{day.year % 100:02d}" if year2 else f"{day.year:04d}"
    sep = "/" if "/" in fmt else "-"
    text = (f"{d}{sep}{m}{sep}{y}" if fmt.startswith("%d") else f"{y}{sep}{m}{sep}{d}")
    return space + text


TEXTS = st.one_of(
    st.builds(_text, st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
              st.sampled_from(["%d/%m/%Y", "%Y-%m-%d"]), st.booleans(), st.booleans(),
              st.sampled_from(["", "", "", " "])),
    st.sampled_from(["31/02/2020", "29/02/2021", "29/02/2024", "00/01/2020", "01/13/2020",
                     "1/1/2020", "01/01/20", "01/01/0999", "01/01/10000", "", " ", "abc",
                     "01-01-2020", "2020-01-01", "01/01/2020 ", "+1/01/2020", "٠١/٠١/٢٠٢٠"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=40),
       st.sampled_from([["%d/%m/%Y", "%d/%m/%y"], ["%d/%m/%Y"], ["%Y-%m-%d", "%d/%m/%Y"]]),
       st.booleans())
def test_a_mapped_date_column_is_read_as_its_parser_reads_each_cell(texts, formats, required):
    spec = _spec(formats, required)
    clean = ["15/02/1961", "27/08/1985", "02/02/2001", ""] if formats[0] == "%d/%m/%Y" \
        else ["1961-02-15", "1985-08-27", "2001-02-02", ""]
    check_vouched(spec, texts + clean * 2, clean * 9000)   # enough for the vectorised paths


def test_a_clean_column_is_read_without_the_parser():
    spec = _spec(["%d/%m/%Y", "%d/%m/%y"])
    calls = []
    counting = replace(spec, parse=lambda text: calls.append(text) or spec.parse(text))
    column = ["15/02/1961", "27/08/1985", "02/02/2001", "", "29/02/2024"] * 9000
    values, ok = vector.vector_parse(counting, pa.array(column, pa.string()))[:2]
    assert calls == [] and ok.all()
    assert values.to_pylist()[:5] == [dt.date(1961, 2, 15), dt.date(1985, 8, 27),
                                      dt.date(2001, 2, 2), None, dt.date(2024, 2, 29)]


@pytest.mark.parametrize("fmt, ok", [("%d/%m/%Y", True), ("%Y-%m-%d", True), ("%d.%m.%Y", True),
                                     ("%d%m%Y", True), ("%d/%m/%y", False), ("%d %b %Y", False),
                                     ("%d/%m", False), ("%d/%m/%Y %H:%M", False),
                                     ("%d/%d/%Y", False), ("le %d/%m/%Y", False)])
def test_formats_the_vectorised_path_takes(fmt, ok):
    assert vector.date_format_vectorised(fmt) is ok

"""The attribution CSV goes through the boundary like the demandes' (issue 11): checked
columns kept as Arrow arrays, the same rows, values, rejects and lines as the row-by-row path,
at sizes on both sides of the vectorised thresholds, with the rules of the demandes' CSV
(blank lines skipped, a record of the wrong width or with bytes that are not UTF-8 a reject)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cotation.data.canonical import read_attributions_csv
from cotation.data.table import ATTRIBUTION_FIELDS, StrictModeError
from cotation.info.positioning import WaitingIndex

HEADER = ["numero_unique", "date_depot", "date_attribution", "commune", "typologie",
          "est_mutation", "financement", "qpv", "reservataire"]


def _hostile_csv(n: int, seed: int) -> bytes:
    """``n`` records, about one in six with an odd cell somewhere, plus odd lines."""
    rng = np.random.default_rng(seed)

    def pick(good, odd, p=0.03):
        return odd[rng.integers(len(odd))] if rng.random() < p else good[rng.integers(len(good))]

    lines = [",".join(HEADER)]
    for i in range(n):
        cells = [
            pick([f"069{i:09d}"], [" 0691 ", "", '"069,1"']),
            pick(["2020-01-15", "2023-06-01", "2024-02-29"], ["2023-02-30", "15/01/2020", "", " 2020-01-15"]),
            pick(["2024-03-01", "2025-11-30"], ["2024-13-01", "", "0000-01-01"]),
            pick(["69123", "69266", "69259"], ["6912", "", " 69123", "2A004"]),
            pick(["T1", "T2", "T3", "T6P", "chambre"], ["T9", "", "t2", "T5+"]),
            pick(["true", "false", ""], ["oui", "peut-être"]),
            pick(["PLAI", "PLUS", ""], ["XYZ"]),
            pick(["false", "true", ""], ["2"]),
            pick(["Action Logement", "Préfecture", ""], ["  Ville  ", '"a, b"']),
        ]
        lines.append(",".join(cells))
        r = rng.random()
        if r < 0.01:
            lines.append("")                                  # blank: not a record
        elif r < 0.02:
            lines.append("   ")                               # blank too
        elif r < 0.03:
            lines.append(",".join(cells[:5]))                 # too few cells
        elif r < 0.04:
            lines.append(",".join(cells + ["x"]))             # too many
    return ("\n".join(lines) + "\n").encode()


def _read(path, fast: bool):
    table, rejects, n_read = read_attributions_csv(path, fast=fast)
    cols = {name: list(table.columns[name]) for name in ATTRIBUTION_FIELDS}
    return cols, [r.as_row() for r in rejects], n_read, len(table)


@pytest.mark.parametrize("n", [0, 40, 70_000])
def test_vectorised_read_equals_row_by_row(tmp_path, n):
    path = tmp_path / "attributions.csv"
    path.write_bytes(_hostile_csv(n, seed=n))
    fast, exact = _read(path, True), _read(path, False)
    assert fast == exact
    cols, rejects, n_read, kept = fast
    assert kept + len(rejects) == n_read                   # accepted + rejected = read
    if n:
        assert rejects and kept
        assert {r["reason"] for r in rejects if r["column"] == "*"}    # width rejects
        assert all(isinstance(d, dt.date) for d in cols["date_attribution"])


def test_arrow_columns_are_kept_and_feed_the_waiting_index(tmp_path):
    path = tmp_path / "attributions.csv"
    path.write_bytes(_hostile_csv(2_000, seed=3))
    table, _rejects, _n = read_attributions_csv(path)
    assert table.arrow_column("date_depot") is not None
    from cotation.data.table import AttributionTable
    from cotation.grid.load import load_grid
    from pathlib import Path
    grid = load_grid(Path(__file__).resolve().parents[1] / "grids" / "lyon-metropole.yaml").ir
    today = dt.date(2025, 12, 1)
    lists = AttributionTable({k: list(table.columns[k]) for k in ATTRIBUTION_FIELDS})
    a, b = WaitingIndex(grid, table, today), WaitingIndex(grid, lists, today)
    assert (a.n_used, a.n_negative, a.n_outside) == (b.n_used, b.n_negative, b.n_outside)
    assert a.n_used
    assert {k: {v: w.tolist() for v, w in g.items()} for k, g in enumerate(a._groups)} == \
        {k: {v: w.tolist() for v, w in g.items()} for k, g in enumerate(b._groups)}


def test_bad_bytes_and_strict_mode(tmp_path):
    path = tmp_path / "attributions.csv"
    good = "069000000001,2020-01-15,2024-03-01,69123,T2,false,PLUS,false,Préfecture"
    path.write_bytes((",".join(HEADER) + "\n" + good + "\n").encode()
                     + b"069000000002,2020-01-15,2024-03-01,69123,T2,false,PLUS,false,Pr\xe9f\n")
    table, rejects, n_read = read_attributions_csv(path)
    assert (len(table), n_read) == (1, 2)
    assert rejects[0].line == 3 and rejects[0].column == "reservataire"
    with pytest.raises(StrictModeError):
        read_attributions_csv(path, strict=True)


def test_missing_and_duplicated_columns_are_located(tmp_path):
    path = tmp_path / "attributions.csv"
    path.write_text("numero_unique,date_depot\n1,2020-01-01\n")
    with pytest.raises(ValueError, match=r":1: missing required column\(s\): date_attribution"):
        read_attributions_csv(path)
    path.write_text(",".join(HEADER + ["commune"]) + "\n")
    with pytest.raises(ValueError, match=r":1: duplicated column\(s\): commune"):
        read_attributions_csv(path)


def test_parquet_reads_like_the_csv(tmp_path):
    """Text or typed Parquet columns: the same rows, values and rejects as the CSV (lines are
    row numbers there: the CSV's minus one, the header)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from cotation.data.canonical import read_attributions_parquet

    csv_path = tmp_path / "a.csv"
    csv_path.write_bytes(_hostile_csv(3_000, seed=5).replace(b"\n\n", b"\n"))
    text = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(
        column_types={h: pa.string() for h in HEADER}, strings_can_be_null=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"))
    pacsv.write_csv(text, tmp_path / "clean.csv")          # the same records, one per line
    kept_csv, rejects_csv, _n = read_attributions_csv(tmp_path / "clean.csv")
    pq.write_table(text, tmp_path / "a.parquet")
    table, rejects, n_read = read_attributions_parquet(tmp_path / "a.parquet")
    assert n_read == text.num_rows == len(table) + len(rejects)
    assert rejects and [(r.line + 1, r.column, r.value, r.reason, r.numero_unique)
                        for r in rejects] == \
        [(r.line, r.column, r.value, r.reason, r.numero_unique) for r in rejects_csv]
    assert {k: list(table.columns[k]) for k in ATTRIBUTION_FIELDS} == \
        {k: list(kept_csv.columns[k]) for k in ATTRIBUTION_FIELDS}
    good = read_attributions_parquet(tmp_path / "a.parquet", fast=False)
    assert [r.as_row() for r in good[1]] == [r.as_row() for r in rejects]
    # typed columns of the rows accepted read back as the same values
    typed = pa.table({name: pa.array(list(table.columns[name]),
                                     type=pa.date32() if name.startswith("date") else
                                     pa.bool_() if name in ("est_mutation", "qpv") else pa.string())
                      for name in ATTRIBUTION_FIELDS})
    pq.write_table(typed, tmp_path / "typed.parquet")
    again, again_rejects, _ = read_attributions_parquet(tmp_path / "typed.parquet")
    assert not again_rejects
    assert {k: list(again.columns[k]) for k in ATTRIBUTION_FIELDS} == \
        {k: list(table.columns[k]) for k in ATTRIBUTION_FIELDS}


def test_parquet_numbers_with_decimals_where_text_is_expected_are_rejects(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cotation.data.canonical import read_attributions_parquet

    pq.write_table(pa.table({
        "numero_unique": ["A1", "A2", "A3"],
        "date_depot": pa.array([dt.date(2020, 1, 1)] * 3),
        "date_attribution": pa.array([dt.date(2024, 1, 1)] * 3),
        "commune": pa.array([69123, 6088, 69123]),             # integers: left-padded INSEE codes
        "typologie": ["T2", "T3", "T2"],
        "est_mutation": [False, True, None],
        "reservataire": pa.array([None, 1.5, None]),          # a number where text is expected
    }), tmp_path / "a.parquet")
    table, rejects, n_read = read_attributions_parquet(tmp_path / "a.parquet")
    assert n_read == 3 and len(table) == 2
    assert [(r.line, r.column, r.value, r.numero_unique) for r in rejects] == \
        [(2, "reservataire", "1.5", "A2")]
    assert list(table.columns["commune"]) == ["69123", "69123"]


def test_header_error_is_typed_located_and_pickles():
    import pickle

    from cotation.data.table import HeaderError, check_columns

    with pytest.raises(HeaderError) as err:
        check_columns(["a", "", ""], ["a"], "f.csv")
    assert str(err.value) == 'f.csv:1: duplicated column(s): ""'
    again = pickle.loads(pickle.dumps(err.value))
    assert (str(again), again.duplicated) == (str(err.value), ("",))


def test_a_short_line_with_bad_bytes_prints_nothing(tmp_path, capfd):
    """pyarrow is given no invalid-row handler (it would decode the row for it and print an
    ignored UnicodeDecodeError): the line is a reject, stderr stays empty."""
    path = tmp_path / "attributions.csv"
    path.write_bytes(b"numero_unique,date_depot,date_attribution,commune,typologie\n"
                     b"A\xff,2020-01-01\nB,2020-01-01,2024-01-01,69123,T2\n")
    table, rejects, n_read = read_attributions_csv(path)
    assert (len(table), n_read, [r.line for r in rejects]) == (1, 2, [2])
    assert capfd.readouterr().err == ""

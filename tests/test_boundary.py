"""One boundary for every source: same scores as the CLI or a reject, never a silent difference.

Each case of issue 10's "Why" about data has a test here: DataFrames read with default dtypes
(pandas, polars, pyarrow) on the bundled data with the Lyon grid and the Nice grid (communes
06xxx), an unknown code and a misspelled column through the API, a column the grid reads
missing, range checks above the vectorised threshold and on Parquet floats, non-ASCII digits and
negative counts, a file whose rows are all rejected, an oversized cell next to a multi-line
cell; and accepted + rejected = read on every format.
"""
from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cotation.cli import main
from cotation.data.boundary import MissingColumnsError, admit
from cotation.data.canonical import read_canonical_csv

from _support import ROOT

DATA = ROOT / "examples" / "data" / "demandes.csv"
TODAY = dt.date(2025, 6, 30)
HEADER = ("numero_unique,date_depot,nb_personnes,situation_logement,commune_residence,"
          "localisations,ressources_mensuelles")


def _scores(result) -> dict[tuple[str, str], int]:
    return {(nu, c): int(s) for nu, c, s in zip(result.numero_unique, result.communes,
                                                result.score_hundredths)}


@pytest.fixture(scope="module")
def scorers():
    from cotation.api import Scorer
    return {g: Scorer.from_file(ROOT / "grids" / f"{g}.yaml")
            for g in ("lyon-metropole", "nice-bonus-malus")}


def _readers():
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    return {"pandas": lambda p: pd.read_csv(p), "polars": lambda p: pl.read_csv(p),
            "pyarrow": lambda p: pacsv.read_csv(p)}


@pytest.mark.parametrize("grid", ["lyon-metropole", "nice-bonus-malus"])
@pytest.mark.parametrize("reader", ["pandas", "polars", "pyarrow"])
def test_default_readers_give_the_cli_scores_or_rejects(scorers, grid, reader):
    scorer = scorers[grid]
    cli = scorer.score(admit(DATA).table, TODAY)
    want = _scores(cli)
    got = scorer.score(_readers()[reader](DATA), TODAY)
    have = _scores(got)
    rejected = {r.numero_unique for r in got.rejects}
    assert got.report.read == 4000 and got.report.accepted + got.report.rejected == 4000
    for pair, score in want.items():
        if pair[0] in rejected:
            assert pair not in have
        else:
            assert have[pair] == score, pair          # never a silent difference
    assert set(have) <= set(want)
    if reader != "pandas":                               # integers: padded, counted, scored
        assert got.report.padded.get("commune_residence", 0) > 0 and not got.rejects
        assert have == want
    else:                                                # floats with gaps: rejected, located
        r = got.rejects[0]
        assert r.column in ("commune_residence", "commune_travail") and "as text" in r.reason
        assert 1 <= r.line <= 4000 and r.value


def test_dataframe_with_text_dtypes_scores_like_the_cli(scorers):
    pd = pytest.importorskip("pandas")
    scorer = scorers["nice-bonus-malus"]
    got = scorer.score(pd.read_csv(DATA, dtype=str, keep_default_na=False), TODAY)
    assert _scores(got) == _scores(scorer.score(admit(DATA).table, TODAY)) and not got.rejects


def _row(**kw):
    row = {"numero_unique": "N1", "date_depot": "2024-01-01", "nb_personnes": 2,
           "situation_logement": "sans_abri", "localisations": "69123"}
    row.update(kw)
    return row


def test_api_unknown_code_is_a_reject_and_misspelled_column_is_reported(scorers):
    scorer = scorers["lyon-metropole"]
    cols = {c: None for c in scorer._needs}
    ok = {**cols, **_row()}
    bad = {**cols, **_row(numero_unique="N2", situation_logement="heberge_tiers")}
    res = scorer.score([ok, bad], TODAY)
    assert [(r.line, r.column, r.value) for r in res.rejects] == \
        [(2, "situation_logement", "heberge_tiers")]
    assert set(res.numero_unique) == {"N1"} and res.report.rejected == 1
    typo = {("situation_logment" if k == "situation_logement" else k): v for k, v in ok.items()}
    with pytest.raises(MissingColumnsError, match="situation_logement.*sans_abri.*situation_logment"):
        scorer.score([typo], TODAY)
    report = admit([typo]).report
    assert report.unknown_columns == {"situation_logment": "situation_logement"}
    assert report.warnings


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_missing_column_is_an_error_naming_the_criteria(tmp_path, capsys):
    src = list(csv.reader(io.StringIO(DATA.read_text(encoding="utf-8"))))
    i = src[0].index("situation_logement")
    path = tmp_path / "d.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([r[:i] + r[i + 1:] for r in src])
    grid = str(ROOT / "grids" / "lyon-metropole.yaml")
    args = ["score", grid, str(path), "--today", "2025-06-30", "-o", str(tmp_path / "o.csv")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "situation_logement (read by sans_abri" in err
    assert main(["convert", str(path), "-o", str(tmp_path / "c.csv"), "--grid", grid]) == 1
    assert main(["convert", str(path), "-o", str(tmp_path / "c.csv")]) == 0


def test_ranges_hold_above_the_vectorised_threshold_and_on_parquet_floats(tmp_path):
    n = 40_000
    body = "".join(f"N{i},2024-01-01,{10 ** 14 if i == 7 else 2},sans_abri,69123,69123,"
                   f"{1e300 if i == 9 else 1000.5}\n" for i in range(n))
    path = _write(tmp_path / "big.csv", HEADER + "\n" + body)
    for fast in (True, False):
        res = read_canonical_csv(path, fast=fast)
        assert [(r.line, r.column) for r in res.rejects] == \
            [(9, "nb_personnes"), (11, "ressources_mensuelles")], fast
    pq.write_table(pa.table({"numero_unique": ["A", "B"], "date_depot": ["2024-01-01"] * 2,
                             "nb_personnes": [1, 2], "ressources_mensuelles": [1e300, 12.5]}),
                   tmp_path / "f.parquet")
    res = admit(tmp_path / "f.parquet")
    assert [(r.line, r.column) for r in res.rejects] == [(1, "ressources_mensuelles")]


@pytest.mark.parametrize("cell", ["١٢", "1_0", "-1", "٣", "1e400", "nan", "inf"])
def test_only_ascii_digits_and_no_negative_counts(tmp_path, cell):
    path = _write(tmp_path / "d.csv", HEADER + f"\nN1,2024-01-01,{cell},,,69123,\n"
                  "N2,2024-01-01,2,,,69123,\n")
    res = admit(path)
    assert [(r.line, r.column, r.value) for r in res.rejects] == [(2, "nb_personnes", cell)]
    res = admit({"numero_unique": ["N1"], "date_depot": ["2024-01-01"], "nb_personnes": [cell]})
    assert res.report.rejected == 1
    assert admit({"numero_unique": ["N1"], "date_depot": ["2024-01-01"],
                  "nb_personnes": [-3]}).report.rejected == 1


def test_no_row_accepted_exits_non_zero(tmp_path, capsys):
    text = HEADER + "\n" + "".join(f"N{i},2024-01-01,2,héberg\xe9,,69123,\n" for i in range(5))
    path = tmp_path / "latin.csv"
    path.write_bytes(text.encode("latin-1"))
    grid = str(ROOT / "tests" / "grids" / "spec_example.yaml")
    assert main(["convert", str(path), "-o", str(tmp_path / "o.csv")]) == 1
    assert "no row accepted" in capsys.readouterr().err


def test_oversized_cell_next_to_a_multiline_cell_is_a_located_reject(tmp_path):
    text = (HEADER + "\n" + f'N1,2024-01-01,2,sans_abri,69123,69123,"{"9" * 140_000}"\n'
            'N2,2024-01-01,2,"sans\nabri",69123,69123,1\nN3,2024-01-01,2,,,69123,\n')
    path = _write(tmp_path / "d.csv", text)
    for fast in (True, False):
        res = read_canonical_csv(path, fast=fast)
        assert [(r.line, r.column) for r in res.rejects] == [(2, "*"), (4, "situation_logement")]
        assert res.table.columns["numero_unique"] == ["N3"] and res.n_read == 3
    assert main(["convert", str(path), "-o", str(tmp_path / "o.csv")]) == 0
    # Without a multi-line cell the fast splitter keeps the same rule.
    path = _write(tmp_path / "e.csv", text.replace('"sans\nabri"', "sans_abri"))
    res = read_canonical_csv(path)
    assert [(r.line, r.column) for r in res.rejects] == [(2, "*")] and res.n_read == 3


def _text_file(tmp_path, kind: str, long: str, end: str, *, closed: bool = True):
    """A file for each reader sharing the splitter: a header, a record whose free-text cell
    is ``long``, then two valid records (``closed=False``: one valid record, then the record
    of ``long`` without its closing quote, to the end of the file). The path, the reader
    (accepted numero_unique, rejects, records read), the numero_unique of each record."""
    from cotation.data.canonical import read_attributions_csv
    from sne_adapters.mapping import read_mapped_csv
    if kind == "attributions":
        header = ("numero_unique,date_depot,date_attribution,commune,typologie,est_mutation,"
                  "financement,qpv,reservataire")
        row, free, nus = "{nu},2020-01-15,2024-03-01,69123,T2,true,PLAI,false,{free}", \
            "Préfecture", [f"069{i:09d}" for i in (1, 2, 3)]

        def read(path, fast):
            table, rejects, n = read_attributions_csv(path, fast=fast)
            return list(table.columns["numero_unique"]), rejects, n
        encoding = "utf-8"
    elif kind == "mapped":
        fixture = ROOT / "tests" / "adapters" / "fixtures" / "extraction_sne_cp1252.csv"
        header, first = fixture.read_bytes().decode("cp1252").splitlines()[:2]
        cells = first.split(";")
        cells[0], cells[header.split(";").index("Observations")] = "{nu}", "{free}"
        row, free = ";".join(cells), "RAS"
        nus = [f"069123200001G{i:04d}" for i in (1, 2, 3)]
        preset = ROOT / "sne_adapters" / "presets" / "extraction_sne_latin1.yaml"

        def read(path, fast):
            res = read_mapped_csv(path, preset, fast=fast)
            return res.table.columns["numero_unique"], res.rejects, res.n_read
        encoding = "cp1252"
    else:
        header, first = DATA.read_text(encoding="utf-8").splitlines()[:2]
        cells = next(csv.reader([first]))
        cells[0], cells[header.split(",").index("profession")] = "{nu}", "{free}"
        row, free, nus = ",".join(cells), "cariste", ["N1", "N2", "N3"]

        def read(path, fast):
            res = read_canonical_csv(path, fast=fast)
            return res.table.columns["numero_unique"], res.rejects, res.n_read
        encoding = "utf-8"
    rows = [row.format(nu=nus[0], free=long)] + [row.format(nu=nu, free=free) for nu in nus[1:]]
    if not closed:
        rows = [rows[1], row.format(nu=nus[0], free=long[:-1])]
    path = tmp_path / f"{kind}.csv"
    path.write_bytes((end.join([header, *rows]) + end).encode(encoding))
    return path, read, nus


@pytest.mark.parametrize("kind", ["canonical", "attributions", "mapped"])
@pytest.mark.parametrize("end", ["\n", "\r\n"])
@pytest.mark.parametrize("long, inner_lines", [('"a{end}' + "x" * 140_000 + '{end}b"', 2),
                                               ('"' + "x{end}" * 70_000 + '"', 70_000)],
                         ids=["long-line", "many-lines"])
def test_a_cell_too_long_inside_a_multiline_cell_is_one_reject_on_every_reader(
        tmp_path, kind, end, long, inner_lines):
    # csv stops inside the cell; the reader went on inside it (one record, thousands of
    # rejects, the records after it lost): the record is one reject at its last line
    path, read, nus = _text_file(tmp_path, kind, long.replace("{end}", end), end)
    for fast in (True, False):
        accepted, rejects, n_read = read(path, fast)
        assert n_read == 3 and list(accepted) == nus[1:]
        assert [(r.line, r.column, r.numero_unique) for r in rejects] == \
            [(2 + inner_lines, "*", nus[0])]
        assert "longer than 131072 characters" in rejects[0].reason


@pytest.mark.parametrize("kind", ["canonical", "attributions", "mapped"])
def test_a_long_cell_never_closed_is_one_reject_on_every_reader(tmp_path, kind):
    # the quote open to the end of the file: one record, one reject, read at once
    import time
    path, read, nus = _text_file(tmp_path, kind, '"' + "x\n" * 2_000_000 + '"', "\n",
                                 closed=False)
    t0 = time.perf_counter()
    for fast in (True, False):
        accepted, rejects, n_read = read(path, fast)
        assert n_read == 2 and list(accepted) == nus[1:2]
        assert [(r.line, r.column, r.numero_unique) for r in rejects] == \
            [(2_000_003, "*", nus[0])]
    assert time.perf_counter() - t0 < 20


def test_integer_communes_are_padded_float_ones_rejected():
    base = {"numero_unique": ["A", "B", "C"], "date_depot": ["2024-01-01"] * 3,
            "nb_personnes": [1, 2, 3]}
    res = admit(pa.table({**base, "commune_residence": pa.array([6088, None, 2000]),
                          "localisations": [[6088, 6029], [], None]}))
    assert res.table.columns["commune_residence"] == ["06088", None, "02000"]
    assert res.table.columns["localisations"] == [("06088", "06029"), (), ()]
    assert res.report.padded == {"commune_residence": 2, "localisations": 2}
    res = admit({**base, "commune_residence": [6088.0, np.nan, 6029.5]})
    assert [(r.line, r.column, r.numero_unique) for r in res.rejects] == \
        [(1, "commune_residence", "A"), (3, "commune_residence", "C")]
    assert res.table.columns["numero_unique"] == ["B"]


class _Stream:
    """Any object exposing the Arrow PyCapsule stream interface."""

    def __init__(self, table):
        self.table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


def test_arrow_stream_sources():
    t = pa.table({"numero_unique": ["A"], "date_depot": ["2024-01-01"], "nb_personnes": [1]})
    for data in (t, t.to_batches()[0], pa.RecordBatchReader.from_batches(t.schema, t.to_batches()),
                 _Stream(t)):
        res = admit(data)
        assert res.table.columns["numero_unique"] == ["A"] and res.report.accepted == 1


# ------------------------------------------------------------------ accepted + rejected = read

CELLS = {
    "numero_unique": st.sampled_from(["A", "B", "C", "", " D"]),
    "date_depot": st.sampled_from(["2024-01-01", "2024-13-01", "", "2024-02-30", "١٢"]),
    "nb_personnes": st.sampled_from(["1", "-2", "1_0", "100000000000000", "3.0", "3.5", ""]),
    "situation_logement": st.sampled_from(["sans_abri", "heberge_tiers", ""]),
    "commune_residence": st.sampled_from(["69123", "6912", "2A004", "", "x"]),
    "localisations": st.sampled_from(["69123|69266", "", "69123|bad"]),
    "ressources_mensuelles": st.sampled_from(["12.5", "1e300", "", "nan", "1,5"]),
}


def _formats(rows, tmp):
    names = list(CELLS)
    text = ",".join(names) + "\n" + "".join(",".join(r[n] for n in names) + "\n" for r in rows)
    path = tmp / "d.csv"
    path.write_text(text, encoding="utf-8")
    cols = {n: [r[n] for r in rows] for n in names}
    table = pa.table(cols)
    pq.write_table(table, tmp / "d.parquet")
    out = {"csv": admit(path), "csv-slow": read_canonical_csv(path, fast=False),
           "parquet": admit(tmp / "d.parquet"), "arrow": admit(table), "dict": admit(cols),
           "records": admit(rows)}
    try:
        import pandas as pd
        import polars as pl
        out["pandas"] = admit(pd.DataFrame(cols))
        out["polars"] = admit(pl.DataFrame(cols))
    except ImportError:
        pass
    return out


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries(CELLS), min_size=1, max_size=12))
def test_accepted_plus_rejected_is_read_on_every_format(tmp_path, rows):
    results = _formats(rows, tmp_path)
    accepted = {}
    for name, res in results.items():
        r = getattr(res, "result", res)
        assert r.n_accepted + len(r.rejects) == r.n_read == len(rows), name
        accepted[name] = r.table.columns["numero_unique"]
    assert len({tuple(v) for v in accepted.values()}) == 1, accepted   # same rules everywhere

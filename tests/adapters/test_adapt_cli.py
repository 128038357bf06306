"""``cotation convert`` end to end."""
from __future__ import annotations

import csv
import json

import pytest

import argparse

from sne_adapters import read_demandes
from cotation.cli.convert import register

from _adapt_helpers import FIXTURES, PRESET


def main(argv: list[str]) -> int:
    """Just the convert command, so other command modules in progress do not interfere."""
    parser = argparse.ArgumentParser(prog="cotation")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_registered_in_the_cotation_cli(tmp_path, capsys):
    from cotation.cli import main as cotation_main
    out = tmp_path / "o.csv"
    assert cotation_main(["convert", str(FIXTURES / "canonical_small.csv"), "-o", str(out)]) == 0
    assert "read 8, accepted 3, rejected 5" in capsys.readouterr().err


def test_convert_mapped_extraction_to_parquet(tmp_path, capsys):
    out, rej, rep = tmp_path / "o.parquet", tmp_path / "r.csv", tmp_path / "rep.json"
    code = main(["convert", str(FIXTURES / "extraction_sne_cp1252.csv"), "-o", str(out),
                 "--mapping", str(PRESET), "--rejects", str(rej), "--report", str(rep)])
    assert code == 0
    err = capsys.readouterr().err
    assert "read 7, accepted 2, rejected 5" in err and "Observations" in err
    report = json.loads(rep.read_text(encoding="utf-8"))
    assert (report["read"], report["accepted"], report["rejected"]) == (7, 2, 5)
    assert report["unmapped_columns"] == ["Observations"]
    assert report["format"] == "mapped-csv"
    with open(rej, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["line"] for r in rows] == ["3", "4", "6", "7", "8"]
    assert rows[0]["column"] == "Date de dépôt" and rows[0]["value"] == "31/02/2023"
    back = read_demandes(out)
    assert len(back.table) == 2 and back.rejects == []


def test_convert_says_whether_unmapped_columns_are_kept(tmp_path, capsys):
    out = tmp_path / "o.csv"
    assert main(["convert", str(FIXTURES / "extraction_sne_cp1252.csv"), "-o", str(out),
                 "--mapping", str(PRESET)]) == 0
    assert "columns not mapped (1, kept as extra columns): Observations" in capsys.readouterr().err
    dropping = tmp_path / "m.yaml"
    dropping.write_text(PRESET.read_text(encoding="utf-8").replace(
        "keep_unmapped: true", "keep_unmapped: false"), encoding="utf-8")
    assert main(["convert", str(FIXTURES / "extraction_sne_cp1252.csv"), "-o", str(out),
                 "--mapping", str(dropping)]) == 0
    err = capsys.readouterr().err
    assert "columns not mapped (1, left out: keep_unmapped is false): Observations" in err
    assert "Observations" not in out.read_text(encoding="utf-8").splitlines()[0]


def test_convert_strict_exits_1(tmp_path, capsys):
    code = main(["convert", str(FIXTURES / "canonical_small.csv"), "-o", str(tmp_path / "o.csv"),
                 "--strict"])
    assert code == 1
    assert "canonical_small.csv:3" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_convert_xml_to_csv_reports_unknown_elements(tmp_path, capsys):
    out = tmp_path / "o.csv"
    assert main(["convert", str(FIXTURES / "sne_v0201.xml"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "unknown: demande/radiation x1" in err
    assert read_demandes(out).table.columns["numero_unique"] == ["0691232400001G0001"]


@pytest.mark.parametrize("args, message, code", [
    (["missing.csv", "-o", "o.csv"], "error:", 1),           # invalid input
    (["{fx}/extraction_missing_column.csv", "-o", "o.csv", "--mapping", "{preset}"], "Loyer", 1),
    (["{fx}/canonical_small.csv", "-o", "o.json"], "unknown output extension", 2),   # usage
])
def test_convert_errors_exit_codes(tmp_path, capsys, monkeypatch, args, message, code):
    from cotation.cli import main as cotation_main
    monkeypatch.chdir(tmp_path)
    args = [a.format(fx=FIXTURES, preset=PRESET) for a in args]
    assert cotation_main(["convert", *args]) == code
    assert message in capsys.readouterr().err

"""``cotation stats``: the Franche-Comté 2020 indicators on a constructed data set with those figures.

Seed (SNE 01.01.2020, Doubs shared file 31.12.2019): demandes 9 864 / 3 205 / 3 061 / 3 117;
mutations 47 / 40 / 37 / 49 %; under 12 months 70 / 74 / 79 / 77 %; mean delay of attribution
6.2 / 5.8 / 4.1 / 5.5 months. The figures are copied in ``data/franche_comte_2020.csv``; the
demandes and attributions are built here to carry them.
"""
from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path

import datetime as dt

from cotation.cli import main

DATA = Path(__file__).parent / "data"
_N_ATTR = 50


def _half_up(x: Fraction) -> int:
    return (2 * x.numerator + x.denominator) // (2 * x.denominator)


def _build(tmp_path: Path) -> tuple[Path, Path, list[dict]]:
    with open(DATA / "franche_comte_2020.csv", encoding="utf-8") as fh:
        seed = list(csv.DictReader(fh))
    dem = [["numero_unique", "date_depot", "est_mutation", "nb_personnes", "localisations"]]
    att = [["numero_unique", "date_depot", "date_attribution", "commune", "typologie", "est_mutation"]]
    for s in seed:
        n = int(s["demandes"])
        mut = _half_up(Fraction(int(s["part_mutations"]) * n, 100))
        young = _half_up(Fraction(int(s["part_moins_12_mois"]) * n, 100))
        for i in range(n):
            depot = "2019-06-01" if i < young else "2017-06-01"
            dem.append([f"{s['departement']}D{i:05d}", depot, "true" if i % n < mut else "false", "2", s["commune"]])
        total_days = _half_up(Fraction(s["delai_moyen_mois"]) * Fraction(1461, 48) * _N_ATTR)
        for i in range(_N_ATTR):
            days = total_days // _N_ATTR + (1 if i < total_days % _N_ATTR else 0)
            depot = dt.date(2018, 1, 1)
            att.append([f"{s['departement']}A{i:03d}", depot.isoformat(), (depot + dt.timedelta(days=days)).isoformat(),
                        s["commune"], "T3", "false"])
    paths = []
    for name, rows in (("demandes.csv", dem), ("attributions.csv", att)):
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
        paths.append(tmp_path / name)
    return paths[0], paths[1], seed


def test_franche_comte_indicators_per_departement(tmp_path, capsys):
    demandes, attributions, seed = _build(tmp_path)
    out = tmp_path / "out"
    assert main(["stats", str(demandes), str(attributions), "--today", "2020-01-01", "--par", "departement",
                 "-o", str(out)]) == 0
    rows = {r["territoire"]: r for r in csv.DictReader(open(out / "stats.csv", encoding="utf-8"))}
    for s in seed:
        r = rows[s["departement"]]
        assert (r["demandes"], r["part_mutations"], r["part_externes"], r["part_moins_12_mois"],
                r["delai_moyen_mois"]) == (s["demandes"], s["part_mutations"], s["part_externes"],
                                           s["part_moins_12_mois"], s["delai_moyen_mois"]), s["nom"]
    assert rows["25"]["mutations"] == "4636" and rows["25"]["moins_12_mois"] == "6905"
    report = (out / "rapport.md").read_text(encoding="utf-8")
    assert "| 25 | 9864 | 47 % | 53 % | 70 % | 6,2 |" in report
    assert json.loads((out / "stats.json").read_text(encoding="utf-8"))["par"] == "departement"


def test_stats_per_epci_and_commune_are_deterministic(tmp_path, capsys):
    demandes, attributions, _ = _build(tmp_path)
    outs = []
    for k in range(2):
        assert main(["stats", str(demandes), "--today", "2020-01-01", "-o", str(tmp_path / f"e{k}")]) == 0
        outs.append((tmp_path / f"e{k}" / "stats.csv").read_bytes())
    assert outs[0] == outs[1]
    rows = {r["territoire"]: r for r in csv.DictReader(open(tmp_path / "e0" / "stats.csv", encoding="utf-8"))}
    assert rows["242500361"]["nom"] == "CU Grand Besançon Métropole" and rows["242500361"]["demandes"] == "9864"
    assert rows["242500361"]["delai_moyen_mois"] == ""   # no attributions given
    capsys.readouterr()
    assert main(["stats", str(demandes), "--today", "2020-01-01", "--par", "commune"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("territoire,nom,demandes") and any(line.startswith("90010,Belfort,3117") for line in lines)


def test_stats_bad_input_is_a_located_error(tmp_path, capsys):
    bad = tmp_path / "a.csv"
    bad.write_text("numero_unique,date_depot\n1,2020-01-01\n", encoding="utf-8")
    demandes, _, _ = _build(tmp_path)
    assert main(["stats", str(demandes), str(bad), "--today", "2020-01-01"]) == 1   # invalid input (docs/reference.md: exit codes)
    assert "missing required column" in capsys.readouterr().err


def test_leases_before_their_deposit_are_left_out_and_said(tmp_path, capsys):
    # they were counted, with a negative delay, and -6400/487 months printed as -14.9
    demandes, attributions, _ = _build(tmp_path)
    rows = list(csv.reader(open(attributions, encoding="utf-8")))
    k = rows[0].index("date_depot")
    rows[1][k] = "2030-01-01"                    # after its attribution
    bad = tmp_path / "before.csv"
    with open(bad, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    assert main(["stats", str(demandes), str(attributions), "--today", "2020-01-01",
                 "--par", "departement", "-o", str(tmp_path / "a")]) == 0
    assert main(["stats", str(demandes), str(bad), "--today", "2020-01-01",
                 "--par", "departement", "-o", str(tmp_path / "b")]) == 0
    assert "1 ignored (attribution before deposit)" in capsys.readouterr().err
    a = json.loads((tmp_path / "a" / "stats.json").read_text(encoding="utf-8"))["territoires"]
    b = json.loads((tmp_path / "b" / "stats.json").read_text(encoding="utf-8"))["territoires"]
    assert sum(r["attributions"] for r in a) == sum(r["attributions"] for r in b) + 1
    # stats.json carries numbers as numbers (they were strings)
    assert all(isinstance(r["demandes"], int) and isinstance(r["part_mutations"], int)
               and isinstance(r["delai_moyen_mois"], float) for r in a), a[0]


def test_negative_values_round_half_away_from_zero():
    from cotation.info.indicators import _round
    assert (_round(Fraction(-6400, 487), 1), _round(Fraction(-1, 20), 1), _round(Fraction(0), 2)) \
        == ("-13.1", "-0.1", "0.00")


def test_no_demande_accepted_is_an_input_error(tmp_path, capsys):
    empty = tmp_path / "d.csv"
    empty.write_text("numero_unique,date_depot,nb_personnes,localisations\n"
                     "A,2025-02-30,2,25056\n", encoding="utf-8")
    assert main(["stats", str(empty), "--today", "2025-06-01"]) == 1
    assert "no row accepted (1 read)" in capsys.readouterr().err

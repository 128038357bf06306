"""The CIL's evaluation and location voulue against a small history computed by hand.

Grid: dalo (legal priority, 100), 10 points per person, 1 point per month of ancienneté;
ordering score desc, date_depot asc, numero_unique asc. Communes A = 69123, B = 69266.
Every expected number below is worked out in the comments.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from cotation.analysis.evaluate import EvaluationParams, evaluate
from cotation.analysis.location_voulue import offre_from_mapping, read_offre
from cotation.api import Scorer
from cotation.cli import main
from cotation.data.attributed import read_attributed
from cotation.data.table import read_demandes_csv
from cotation.grid import load_grid

from _support import grid_text

GRID = grid_text("""
  - id: personnes
    label: "10 points par personne"
    points: "10 * nb_personnes"
  - id: anciennete
    label: "1 point par mois"
    points: "anciennete_mois"
ordering:
  - {key: score, direction: desc}
  - {key: date_depot, direction: asc}
  - {key: numero_unique, direction: asc}
waiting_time:
  statistic: mean
  window_months: 12
  delai_anormalement_long: {T2: 12, T3: 24}
""".lstrip("\n"))

STOCK = """\
numero_unique,date_depot,nb_personnes,nb_adultes,nb_enfants,typologies,localisations,dalo_statut
S1,2024-01-01,2,2,0,T2,69123,non
S2,2024-06-01,1,1,0,T2|T3,69123,non
S3,2024-09-15,3,2,1,T3,69123|69266,non
S4,2025-02-01,2,2,0,T2,69266,non
"""
# X1 ties S1 on 2024-12-01 (31 points, same deposit): numero_unique puts S1 first.
# X4 is attributed in A but never asked A. X5 is outside the territory, X6 before the window,
# X7 after it (so X7 is active on 2025-01-15 and at --to, not on 2024-12-01).
ATTR = """\
numero_unique,date_depot,date_attribution,commune,typologie,est_mutation,financement,qpv,reservataire,nb_personnes,nb_adultes,nb_enfants,ressources_mensuelles,typologies,localisations,dalo_statut
X1,2024-01-01,2024-12-01,69123,T2,false,PLUS,false,COLACT,2,2,0,700,T2,69123,non
X2,2024-10-01,2025-01-15,69123,T3,false,PLAI,false,PPRIOR,4,2,2,2000,T3,69123|69266,actif
X3,2024-11-15,2025-03-01,69266,T2,false,PLUS,true,COLACT,2,2,0,900,T2,69266,non
X4,2024-05-01,2025-02-01,69123,T2,false,PLUS,false,AUCUN,1,1,0,,T2,69266,non
X5,2024-05-01,2025-02-01,75056,T2,false,PLUS,false,AUCUN,1,1,0,,T2,75056,non
X6,2024-01-01,2024-11-01,69123,T2,false,PLUS,false,AUCUN,1,1,0,,T2,69123,non
X7,2024-12-15,2025-05-01,69123,T2,false,PLUS,false,AUCUN,1,1,0,,T2,69123,non
"""
START, END = dt.date(2024, 12, 1), dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    (d / "grid.yaml").write_text(GRID, encoding="utf-8")
    (d / "stock.csv").write_text(STOCK, encoding="utf-8")
    (d / "attr.csv").write_text(ATTR, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def ev(files):
    grid = load_grid(files / "grid.yaml")
    stock = read_demandes_csv(files / "stock.csv").table
    ar = read_attributed(files / "attr.csv")
    params = EvaluationParams(START, END, objectives={"prioritaires": 25, "quartile1_hors_qpv": 60},
                              quartile_threshold=10000, engine="interpreter")
    return evaluate(grid.ir, stock, ar.demandes, ar.attributions, params)


def _row(table, nu):
    i = table["numero_unique"].index(nu)
    return {k: v[i] for k, v in table.items()}


def test_ranks_at_attribution_date(ev):
    # 2024-12-01, A×T2: S1 20+11=31, X1 20+11=31 (tie, S1 < X1), S2 10+6=16 → X1 2nd of 3;
    # commune A also has X2 140+2=142 and S3 30+2=32 → X1 4th of 5.
    x1 = _row(ev.attributions, "X1")
    assert (x1["score"], x1["rang"], x1["candidats"], x1["part"], x1["decile"]) == (31, 2, 3, 0.3333, 4)
    assert (x1["rang_commune"], x1["candidats_commune"], x1["anciennete_mois"]) == (4, 5, 11)
    # 2025-01-15, A×T3: X2 140+40+3=183? no: 100+40+3=143, S3 30+4=34, S2 10+7=17 → 1st of 3;
    # commune A: X2, S3 34, S1 20+12=32, S2 17, X7 10+1=11 (active since 2024-12-15) → 1 of 5.
    x2 = _row(ev.attributions, "X2")
    assert (x2["score"], x2["rang"], x2["candidats"], x2["part"], x2["decile"]) == (143, 1, 3, 0.0, 1)
    assert (x2["rang_commune"], x2["candidats_commune"]) == (1, 5)
    assert x2["dalo"] and x2["priorite_legale"]
    # 2025-03-01, B×T2: X3 20+3=23, S4 20+1=21 (deposited 2025-02-01) → 1st of 2; S3 (T3 only,
    # 30+5=35) is in commune B but not in the cell → 2nd of 3 in the commune.
    x3 = _row(ev.attributions, "X3")
    assert (x3["score"], x3["rang"], x3["candidats"], x3["decile"]) == (23, 1, 2, 1)
    assert (x3["rang_commune"], x3["candidats_commune"]) == (2, 3)
    x4 = _row(ev.attributions, "X4")
    assert x4["statut"] == "non_classee" and x4["rang"] is None
    assert set(ev.attributions["numero_unique"]) == {"X1", "X2", "X3", "X4"}


def test_deciles_and_shares(ev):
    s = ev.summary
    assert s["attributions"] == {"sur_le_territoire": 4, "hors_territoire": 1, "classees": 3,
                                 "non_classees": 1, "retirees_du_stock": 0}
    assert s["rang"]["deciles"] == [2, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert s["rang"]["part_premier_decile_pct"] == 66.67      # 2 of 3
    assert s["rang"]["part_premiere_moitie_pct"] == 100.0
    assert s["rang"]["part_mediane"] == 0.0                     # parts 0, 0, 1/3
    assert s["rang"]["premier_de_la_file"] == 2
    d = ev.deciles
    i = d["dimension"].index("ensemble")
    assert d["part_moyenne"][i] == 0.1111                      # (1/3 + 0 + 0) / 3
    by = {(d["dimension"][k], d["valeur"][k]): (d["attributions"][k], d["d1"][k], d["d4"][k])
          for k in range(len(d["dimension"]))}
    assert by[("commune", "69123")] == (2, 1, 1) and by[("commune", "69266")] == (1, 1, 0)
    assert by[("reservataire", "COLACT")] == (2, 1, 1) and by[("financement", "PLAI")] == (1, 1, 0)


def test_priority_publics_against_objectives(ev):
    obj = {o["objectif"]: o for o in ev.summary["objectifs"]}
    # X2 (DALO, legal priority) of the 4 attributions of the territory.
    assert (obj["prioritaires"]["attributions"], obj["prioritaires"]["sur"]) == (1, 4)
    assert obj["prioritaires"]["atteint_pct"] == 25.0 and obj["prioritaires"]["respecte"] is True
    assert obj["dalo"]["atteint_pct"] == 25.0 and obj["dalo"]["respecte"] is None
    # Outside QPV: X1 700×12/1.5 = 5,600 € per UC < 10,000; X2 2,000×12/2.1 = 11,429 ≥ 10,000;
    # X4 has no resources (left out) → 1 of 2 = 50 % against 60 %.
    q = obj["quartile1_hors_qpv"]
    assert (q["attributions"], q["sur"], q["atteint_pct"], q["respecte"]) == (1, 2, 50.0, False)
    assert ev.summary["publics"]["revenu_inconnu_hors_qpv"] == 1
    # Per réservataire (L441-1 owes the share of priority publics per réservataire):
    # COLACT X1, X3; PPRIOR X2 (DALO); AUCUN X4.
    per = {r["reservataire"]: (r["attributions"], r["sur"], r["atteint_pct"], r["respecte"])
           for r in obj["prioritaires"]["par_reservataire"]}
    assert per == {"AUCUN": (0, 1, 0.0, False), "COLACT": (0, 2, 0.0, False),
                   "PPRIOR": (1, 1, 100.0, True)}
    # quartile 1 outside QPV: X1 (COLACT) yes, X2 (PPRIOR) no, X4 (AUCUN) unknown resources
    per = {r["reservataire"]: (r["attributions"], r["sur"], r["atteint_pct"])
           for r in q["par_reservataire"]}
    assert per == {"AUCUN": (None, None, None), "COLACT": (1, 1, 100.0), "PPRIOR": (0, 1, 0.0)}


def test_well_ranked_waiting(ev, files):
    # At 2025-03-31: A×T2 S1 20+14=34, S2 19, X7 13 → S1 1st (decile 1), 14 months ≥ 12 (T2).
    # S3 is first in A×T3 and B×T3 but 6 months < 24 (T3); S4 first in B×T2, 1 month < 12.
    w = ev.waiting
    assert w["numero_unique"] == ["S1"]
    assert (w["commune"][0], w["typologie"][0], w["rang"][0], w["candidats"][0]) == ("69123", "T2", 1, 3)
    assert (w["anciennete_mois"][0], w["delai_anormalement_long"][0]) == (14, 12)
    assert w["criteres"][0] == "personnes|anciennete"
    assert ev.summary["attente"]["demandes_classees"] == 5       # S1-S4 and X7
    grid = load_grid(files / "grid.yaml")
    ar = read_attributed(files / "attr.csv")
    stock = read_demandes_csv(files / "stock.csv").table
    ev6 = evaluate(grid.ir, stock, ar.demandes, ar.attributions,
                   EvaluationParams(START, END, delai_mois=6, engine="interpreter"))
    # With a 6-month délai, S3 (6 months) joins, on its first cell in commune order (A×T3).
    assert ev6.waiting["numero_unique"] == ["S1", "S3"]
    assert ev6.waiting["typologie"] == ["T2", "T3"]


def test_criteria_frequencies(ev):
    c = ev.criteria
    assert c["attribuees"][c["critere"].index("dalo")] == 1
    assert c["part_attribuees"][c["critere"].index("dalo")] == 0.3333
    assert c["en_attente"][c["critere"].index("dalo")] == 0


def test_engines_agree(files, ev):
    grid = load_grid(files / "grid.yaml")
    ar = read_attributed(files / "attr.csv")
    stock = read_demandes_csv(files / "stock.csv").table
    params = EvaluationParams(START, END, objectives={"prioritaires": 25, "quartile1_hors_qpv": 60},
                              quartile_threshold=10000, engine="auto")
    auto = evaluate(grid.ir, stock, ar.demandes, ar.attributions, params)
    assert (auto.attributions, auto.waiting, auto.summary) == (ev.attributions, ev.waiting, ev.summary)


def test_cli_outputs_are_deterministic(files, tmp_path):
    args = [str(files / "grid.yaml"), str(files / "stock.csv"), str(files / "attr.csv"),
            "--from", "2024-12-01", "--to", "2025-03-31", "--seuil-quartile", "10000",
            "--objectif", "quartile1_hors_qpv=60"]
    assert main(["evaluate", *args, "-o", str(tmp_path / "a")]) == 0
    assert main(["evaluate", *args, "-o", str(tmp_path / "b")]) == 0
    for name in ("attributions.csv", "summary.json", "rapport.html", "deciles.csv",
                 "bien_classees_en_attente.csv", "criteres.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    html = (tmp_path / "a" / "rapport.html").read_text(encoding="utf-8")
    assert "size: A4" in html and "<svg" in html and "<script" not in html
    # criteria and objectives by their labels, not their ids
    assert "10 points par personne, 1 point par mois" in html
    assert "1er quartile hors QPV" in html and "quartile1 hors qpv" not in html
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["rang"]["deciles"][0] == 2
    # Parquet keeps the types: dates as dates, counts as integers, shares as numbers
    import pyarrow as pa
    import pyarrow.parquet as pq
    att = pq.read_table(tmp_path / "a" / "attributions.parquet")
    assert att.schema.field("date_attribution").type == pa.date32()
    assert att.column("date_attribution").to_pylist()[0] == dt.date(2024, 12, 1)
    assert att.schema.field("anciennete_mois").type == pa.int64()
    wait = pq.read_table(tmp_path / "a" / "bien_classees_en_attente.parquet")
    assert wait.schema.field("date_depot").type == pa.date32()
    assert wait.schema.field("score").type == pa.float64()
    assert "2024-12-01" in (tmp_path / "a" / "attributions.csv").read_text(encoding="utf-8")


def test_cli_errors(files, tmp_path, capsys):
    base = [str(files / "grid.yaml"), str(files / "stock.csv")]
    bad = tmp_path / "bad.csv"
    bad.write_text(ATTR.replace("2025-03-01,69266", "2025-13-01,69266"), encoding="utf-8")
    assert main(["evaluate", *base, str(bad), "--from", "2024-12-01", "--to", "2025-03-31",
                 "-o", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "7 rows read, 6 accepted, 1 rejected" in err
    assert "date_attribution" in (tmp_path / "o" / "attributions_rejetees.csv").read_text()
    old = tmp_path / "old.csv"
    old.write_text("numero_unique,date_depot,date_attribution,commune,typologie\nX,2024-01-01,"
                   "2024-02-01,69123,T2\n", encoding="utf-8")
    assert main(["evaluate", *base, str(old), "--from", "2024-12-01", "--to", "2025-03-31",
                 "-o", str(tmp_path / "o2")]) == 1
    assert "nb_personnes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", *base, str(files / "attr.csv"), "--from", "2024-13-01", "--to",
              "2025-03-31", "-o", str(tmp_path / "o3")])
    assert exc.value.code == 2
    assert main(["evaluate", *base, str(files / "attr.csv"), "--from", "2025-03-31", "--to",
                 "2024-12-01", "-o", str(tmp_path / "o3")]) == 2


# ----------------------------------------------------------------------------- location voulue

def test_location_voulue_by_hand(files):
    stock = read_demandes_csv(files / "stock.csv").table
    index = Scorer(load_grid(files / "grid.yaml")).index(stock, today=END)
    # A, T2, 40 m²: at most 2 + (40-16)//9 = 4 persons, at least 2-1 = 1. Applicants of A:
    # S3 34+2=36 (T3 only: typologie), S1 34, S2 19. S4 did not ask A; ZZ is unknown.
    out = index.location_voulue({"commune": "69123", "typologie": "T2", "surface": 40},
                                ["S2", "S1", "S3", "S4", "ZZ"])
    got = {a["numero_unique"]: (a["recevable"], a["rang"], a["candidats_recevables"], a["motifs"])
           for a in out}
    assert got == {"S1": (True, 1, 2, []), "S2": (True, 2, 2, []),
                   "S3": (False, None, None, ["typologie"]), "S4": (False, None, None, ["commune"]),
                   "ZZ": (False, None, None, ["inconnue"])}
    s2 = next(a for a in out if a["numero_unique"] == "S2")
    assert s2["avis"] == "Vous êtes classé 2e sur 2 candidats recevables pour ce logement."
    # 20 m² holds 1 person (< 16 m²: one; 16-24: two): S1 (2 persons) is too many.
    small = index.location_voulue({"commune": "69123", "typologie": "T2", "surface": 15})
    assert [(a["numero_unique"], a["motifs"]) for a in small] == [
        ("S2", []), ("S1", ["taille"]), ("S3", ["typologie", "taille"])]
    # PLUS needs the revenu fiscal de référence, none here.
    fin = index.location_voulue({"commune": "69123", "typologie": "T2", "financement": "PLUS"})
    assert [(a["numero_unique"], a["motifs"]) for a in fin] == [
        ("S1", ["ressources"]), ("S2", ["ressources"]), ("S3", ["typologie", "ressources"])]


def test_location_voulue_cli_and_privacy(files, tmp_path):
    offre = tmp_path / "offre.yaml"
    offre.write_text("commune: '69123'\ntypologie: T2\nsurface: 40\nloyer: 480\n", encoding="utf-8")
    out = tmp_path / "lv"
    assert main(["location-voulue", str(files / "grid.yaml"), str(files / "stock.csv"),
                 "--offre", str(offre), "--today", "2025-03-31", "-o", str(out)]) == 0
    s2 = (out / "avis" / "S2.html").read_text(encoding="utf-8")
    assert "2e sur 2 candidats recevables" in s2 and "S1" not in s2 and "34" not in s2
    assert json.loads((out / "avis" / "S2.json").read_text())["candidature"]["rang"] == 2
    offre.write_text("commune: '69123'\ntypologie: T9\n", encoding="utf-8")
    assert main(["location-voulue", str(files / "grid.yaml"), str(files / "stock.csv"),
                 "--offre", str(offre), "--today", "2025-03-31", "-o", str(out)]) == 1
    with pytest.raises(ValueError, match="missing required field: commune"):
        offre_from_mapping({"typologie": "T2"})


def test_location_voulue_outputs_are_documented(files, tmp_path):
    """Every column of candidatures.csv (and key of a notice's ``candidature``) is listed in
    docs/evaluation.md, and ``rang`` (kept: a documented output) is said to be the rank among
    the eligible applicants, not the demande's order of choice (``ordre_choix``)."""
    import csv
    import re
    from pathlib import Path

    offre = tmp_path / "offre.yaml"
    offre.write_text("commune: '69123'\ntypologie: T2\n", encoding="utf-8")
    out = tmp_path / "lv"
    assert main(["location-voulue", str(files / "grid.yaml"), str(files / "stock.csv"),
                 "--offre", str(offre), "--today", "2025-03-31", "-o", str(out)]) == 0
    with open(out / "candidatures.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    notice = json.loads((out / "avis" / "S1.json").read_text(encoding="utf-8"))["candidature"]
    doc = (Path(__file__).resolve().parent.parent / "docs" / "evaluation.md").read_text(
        encoding="utf-8")
    listed = doc[doc.index("Columns (and keys of each notice's `candidature`)"):]
    listed = " ".join(listed[:listed.index("\n\n")].split())
    for column in (*header, *notice):
        assert f"`{column}`" in listed, column
    assert re.search(r"`rang` is the applicant's rank among the eligible applicants", listed)
    assert "not the demande's order of choice" in listed and "`ordre_choix`" in listed
    index = Scorer(load_grid(files / "grid.yaml")).index(
        read_demandes_csv(files / "stock.csv").table, today=END)
    assert "rank among the eligible applicants" in " ".join(
        (type(index).location_voulue.__doc__ or "").split())


@pytest.mark.parametrize("text, expected", [
    ("personnes_max: .inf", "personnes_max must be a whole number from 0 to 100, not inf"),
    ("annee: .inf", "annee must be a whole number from 1900 to 2200, not inf"),
    ("surface: .nan", "surface must be a number from 0 to 1000000000, not nan"),
    ("loyer: .inf", "loyer must be a number from 0 to 1000000000, not inf"),
    ("loyer: -1", "loyer must be a number"),
    ("loyer: " + "9" * 400, r"offre\.yaml:3:\d+: a number of 400 digits: out of range"),
    ("x: [1,", r"offre\.yaml:4: the file cannot be read as YAML"),
    ("reference: &a [x, *a]", r"offre\.yaml:3:\d+: YAML anchors and aliases"),
    ("reference: &l0 [x, x]\nzone: [*l0, *l0]", r"offre\.yaml:3:\d+: YAML anchors and aliases"),
])
def test_an_offer_is_checked_before_it_is_used(tmp_path, text, expected):
    # .inf, .nan and a billion laughs were an internal error, a raw message, or gigabytes
    offre = tmp_path / "offre.yaml"
    offre.write_text("commune: '69123'\ntypologie: T2\n" + text + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=expected):
        read_offre(offre)


def test_an_offer_in_json_with_an_integer_of_400_digits_is_out_of_range(tmp_path):
    # math.isfinite() overflowed on it before the bounds were checked (OverflowError, exit 3)
    offre = tmp_path / "offre.json"
    offre.write_text('{"commune": "69123", "typologie": "T2", "loyer": ' + "9" * 400 + "}",
                     encoding="utf-8")
    with pytest.raises(ValueError, match="loyer must be a number from 0 to 1000000000"):
        read_offre(offre)


def test_location_voulue_cli_reports_unreadable_files_in_one_line(files, tmp_path, capsys):
    offre = tmp_path / "offre.yaml"
    offre.write_text("commune: '69123'\ntypologie: T2\n", encoding="utf-8")
    base = ["location-voulue", str(files / "grid.yaml"), str(files / "stock.csv"),
            "--today", "2025-03-31", "-o", str(tmp_path / "lv")]
    for extra, expected in ((["--offre", str(tmp_path / "none.yaml")], "no such file"),
                            (["--offre", str(tmp_path)], "is a folder"),
                            (["--offre", str(offre), "--candidats", str(tmp_path / "n.txt")],
                             "no such file")):
        assert main(base + extra) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0] and "Errno" not in err[0], err


@pytest.fixture(scope="module")
def ev_two(files):
    """The same history up to 2025-02-28: X1 (part 1/3) and X2 (part 0) are ranked, X4 is not."""
    grid = load_grid(files / "grid.yaml")
    stock = read_demandes_csv(files / "stock.csv").table
    ar = read_attributed(files / "attr.csv")
    params = EvaluationParams(START, dt.date(2025, 2, 28), engine="interpreter")
    return evaluate(grid.ir, stock, ar.demandes, ar.attributions, params)


def test_median_share_of_an_even_count_is_the_mean_of_the_two_middle_values(ev_two):
    assert ev_two.summary["attributions"]["classees"] == 2
    # parts 0 and 1/3: the median is 1/6, not the upper middle value 1/3
    assert ev_two.summary["rang"]["part_mediane"] == 0.1667


def test_mean_share_is_rounded_once_from_the_exact_shares(ev_two):
    d = ev_two.deciles
    i = d["dimension"].index("ensemble")
    # (1/3 + 0) / 2 = 1/6 = 0.16667; the mean of the rounded column (0.3333 + 0) / 2 gives 0.1666
    assert d["part_moyenne"][i] == 0.1667


def test_parquet_types_do_not_depend_on_the_values(files, tmp_path):
    # No --seuil-quartile (quartile1 unknown everywhere) and a délai no demande reaches (no
    # demande left to review): the columns keep their types, they do not become strings.
    import pyarrow as pa
    import pyarrow.parquet as pq
    args = [str(files / "grid.yaml"), str(files / "stock.csv"), str(files / "attr.csv"),
            "--from", "2024-12-01", "--to", "2025-03-31", "--delai-anormalement-long", "600"]
    assert main(["evaluate", *args, "-o", str(tmp_path)]) == 0
    att = pq.read_table(tmp_path / "attributions.parquet").schema
    assert att.field("quartile1").type == pa.bool_()
    wait = pq.read_table(tmp_path / "bien_classees_en_attente.parquet")
    assert wait.num_rows == 0
    expected = {"numero_unique": pa.string(), "score": pa.float64(), "rang": pa.int64(),
                "part": pa.float64(), "date_depot": pa.date32(), "anciennete_mois": pa.int64(),
                "delai_anormalement_long": pa.int64(), "criteres": pa.string()}
    assert {k: wait.schema.field(k).type for k in expected} == expected


def test_candidatures_parquet_types_with_no_eligible_applicant(files, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    offre = tmp_path / "offre.yaml"     # a T5: nobody of the commune asked it
    offre.write_text("commune: '69123'\ntypologie: T5\n", encoding="utf-8")
    assert main(["location-voulue", str(files / "grid.yaml"), str(files / "stock.csv"),
                 "--offre", str(offre), "--today", "2025-03-31", "-o", str(tmp_path / "lv")]) == 0
    t = pq.read_table(tmp_path / "lv" / "candidatures.parquet")
    assert t.num_rows and not any(t.column("recevable").to_pylist())
    assert {k: t.schema.field(k).type for k in ("recevable", "rang", "candidats_recevables", "score")} \
        == {"recevable": pa.bool_(), "rang": pa.int64(), "candidats_recevables": pa.int64(),
            "score": pa.float64()}


def test_report_says_no_median_when_no_attribution_is_ranked(ev):
    # no ranked attribution: no median share, and the report must not print "0 %" for it
    import copy

    from cotation.analysis.evaluation_report import report_html
    assert "En médiane" in report_html(ev)
    none = copy.deepcopy(ev)
    none.summary["rang"]["part_mediane"] = None
    html = report_html(none)
    assert "En médiane" not in html and "mieux classée que la demande attribuée" not in html

"""``cotation compare`` and ``cotation.analysis``: every expected figure below was computed by
hand from the eight demandes of DEMANDES (see the comments), not by the code under test."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cotation.analysis import compare
from cotation.analysis.variants import VariantError, load_with_overrides, parse_set
from cotation.cli import main
from cotation.data.canonical import read_attributions_csv
from cotation.data.table import read_demandes_csv
from cotation.grid import GridError, load_grid

from _support import MINIMAL

TODAY = dt.date(2025, 6, 30)

# MINIMAL (one DALO criterion, legal priority) with its points, territory and scope set, and a
# criterion for children.
ENFANTS = """\
  - id: enfants
    label: "Enfants"
    when: "nb_enfants >= 1"
    points: 5
"""


# Scores: A = 3 x DALO + 5 x (children); B = 10 x DALO + 5 x (children).
#        A   B   filed       communes
# D1     3  10   2020-01-01  01001
# D2     5   5   2021-01-01  01001
# D3     0   0   2019-01-01  01001          (mutation)
# D4     8  15   2024-01-01  01001, 01002
# D5     5   5   2018-01-01  01001
# D6     3  10   2023-01-01  01002
# D7     5   5   2022-06-01  01002
# D8     0   0   2017-01-01  01002, 01003
DEMANDES = """\
numero_unique,date_depot,nb_personnes,nb_adultes,nb_enfants,dalo_statut,localisations,typologies,est_mutation,date_naissance
D1,2020-01-01,1,1,0,actif,01001,T1,false,1990-07-01
D2,2021-01-01,3,1,2,non,01001,T2|T3,false,2000-06-30
D3,2019-01-01,1,1,0,non,01001,T2,true,2001-07-01
D4,2024-01-01,2,1,1,actif,01001|01002,T2,false,
D5,2018-01-01,2,1,1,non,01001,T2,false,
D6,2023-01-01,1,1,0,actif,01002,T2,false,
D7,2022-06-01,4,1,3,non,01002,T2,false,
D8,2017-01-01,1,1,0,non,01002|01003,T2,false,
"""


def grid(tmp_path: Path, name: str, dalo: int, communes=("01001", "01002"), applies_to: str = ""):
    path = tmp_path / f"{name}.yaml"
    scope = f'  applies_to: "{applies_to}"\n' if applies_to else ""
    text = (MINIMAL.replace("id: test-grid", f"id: {name}")
            .replace('["69123", "69266"]', json.dumps(list(communes)))
            .replace('  version: "1"', scope + '  version: "1"')
            .replace("points: 100", f"points: {dalo}")) + ENFANTS
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "demandes.csv"
    d.write_text(DEMANDES, encoding="utf-8")
    return {"a": grid(tmp_path, "a", 3), "b": grid(tmp_path, "b", 10), "demandes": d,
            "table": read_demandes_csv(d).table}


def run(data, b="b", **kw):
    return compare(load_grid(data["a"]), load_grid(data[b]), data["table"], TODAY, **kw)


def test_a_grid_against_itself_changes_nothing(data):
    s = compare(load_grid(data["a"]), load_grid(data["a"]), data["table"], TODAY).summary["territory"]
    assert (s["pairs_a"], s["pairs_b"], s["pairs_both"]) == (9, 9, 9)
    assert s["spearman"] == 1.0 and s["kendall_tau_b"] == 1.0
    assert s["mean_abs_rank_change"] == 0.0 and s["median_abs_rank_change"] == 0.0
    assert (s["moved_up"], s["moved_down"], s["unchanged"]) == (0, 0, 9)
    assert all(t["kept_share"] == 1.0 for t in s["top"].values())
    assert all(c["weight"] is None for c in s["criteria"])


def test_one_criterion_differs_every_figure_by_hand(data):
    c = run(data, top=(1, 2))
    s = c.summary
    t, c1, c2 = s["territory"], s["communes"]["01001"], s["communes"]["01002"]
    # 01001 ranks A: D4 1, D5 2 (5, filed 2018), D2 3 (5, 2021), D1 4, D3 5
    #       ranks B: D4 1, D1 2, D5 3, D2 4, D3 5 -> changes D4 0, D5 -1, D2 -1, D1 +2, D3 0
    # 01002 ranks A: D4 1, D7 2, D6 3, D8 4; B: D4 1, D6 2, D7 3, D8 4 -> 0, -1, +1, 0
    assert c.pairs.numero_unique.tolist() == ["D4", "D5", "D2", "D1", "D3", "D4", "D7", "D6", "D8"]
    assert c.pairs.rank_change.tolist() == [0, -1, -1, 2, 0, 0, -1, 1, 0]
    assert (c1["pairs_a"], c1["pairs_b"], c1["pairs_both"]) == (5, 5, 5)
    assert (c2["pairs_a"], c2["pairs_b"], c2["pairs_both"]) == (4, 4, 4)
    assert (t["demandes_a"], t["demandes_b"]) == (8, 8)
    # Spearman 01001: sum d^2 = 0+1+1+4+0 = 6, rho = 1 - 6*6/(5*24) = 0.7; Kendall: B in A's
    # order is 1,3,4,2,5: 2 discordant of 10 pairs, tau = (8-2)/10 = 0.6
    assert (c1["spearman"], c1["kendall_tau_b"]) == (0.7, 0.6)
    # 01002: sum d^2 = 2, rho = 1 - 12/60 = 0.8; B in A's order 1,3,2,4: 1 of 6, tau = 4/6
    assert (c2["spearman"], c2["kendall_tau_b"]) == (0.8, 0.666667)
    # territory: weighted by pairs scored by both: (0.7*5 + 0.8*4)/9, (0.6*5 + 0.666667*4)/9
    assert (t["spearman"], t["kendall_tau_b"]) == (0.744444, 0.62963)
    assert (c1["mean_abs_rank_change"], c1["median_abs_rank_change"]) == (0.8, 1.0)
    assert (c2["mean_abs_rank_change"], c2["median_abs_rank_change"]) == (0.5, 0.5)
    assert (t["mean_abs_rank_change"], t["median_abs_rank_change"]) == (0.6667, 1.0)
    assert (t["moved_up"], t["moved_down"], t["unchanged"]) == (2, 3, 4)
    assert (t["max_moved_up"], t["max_moved_down"]) == (2, 1)
    hist = {h["bin"]: h["count"] for h in t["rank_change_histogram"] if h["count"]}
    assert hist == {"-4 à -1": 3, "0": 4, "1 à 4": 2}
    # top 1: D4 in both communes under both grids; top 2 A: D4 D5 | D4 D7, B: D4 D1 | D4 D6
    assert t["top"]["1"] == {**t["top"]["1"], "n_top_a": 2, "n_top_b": 2, "kept_share": 1.0,
                             "priority_share_a": 1.0, "priority_share_b": 1.0}
    assert t["top"]["2"] == {**t["top"]["2"], "n_top_a": 4, "n_top_b": 4, "kept_share": 0.5,
                             "priority_share_a": 0.5, "priority_share_b": 1.0}
    assert (c1["top"]["2"]["kept_share"], c1["top"]["2"]["priority_share_a"],
            c1["top"]["2"]["priority_share_b"]) == (0.5, 0.5, 1.0)
    # priority (DALO) pairs: D1, D4 twice, D6 = 4 of 9
    assert (t["priority_share_a"], t["priority_share_b"]) == (0.4444, 0.4444)
    dalo, enfants = t["criteria"]
    # DALO met on 4 of 9 pairs; mean points 3*4/9 = 1.33 and 10*4/9 = 4.44; |change| 7*4 = 28
    assert dalo == {"id": "dalo", "in_a": True, "in_b": True, "legal_priority": True,
                    "share_met_a": 0.4444, "share_met_b": 0.4444, "mean_points_a": 1.33,
                    "mean_points_b": 4.44, "abs_points_change": 28.0, "weight": 1.0}
    # children: D2, D4 twice, D5, D7 = 5 of 9; 5*5/9 = 2.78 points on average; no change
    assert enfants == {"id": "enfants", "in_a": True, "in_b": True, "legal_priority": False,
                       "share_met_a": 0.5556, "share_met_b": 0.5556, "mean_points_a": 2.78,
                       "mean_points_b": 2.78, "abs_points_change": 0.0, "weight": 0.0}
    # deciles (rank-1)*10//size: 01001 (size 5) D4 (0,0) D5 (2,4) D2 (4,6) D1 (6,2) D3 (8,8);
    # 01002 (size 4) D4 (0,0) D7 (2,5) D6 (5,2) D8 (7,7)
    cells = {(i, j): v for i, row in enumerate(t["rank_density"]) for j, v in enumerate(row) if v}
    assert cells == {(0, 0): 2, (2, 4): 1, (4, 6): 1, (6, 2): 1, (8, 8): 1, (2, 5): 1, (5, 2): 1,
                     (7, 7): 1}
    # profiles among all pairs (9): T1 D1, T3 D2 -> 1/9; T2 all but D1 -> 8/9; mutation D3 1/9;
    # age on 2025-06-30: D1 34, D2 25 (birthday today) -> 25_39 2/9; D3 23 -> moins_25; 6 unknown
    p = t["profiles"]
    assert {k: v["a"] for k, v in p["typologie"].items()} == {"T1": 0.1111, "T2": 0.8889, "T3": 0.1111}
    assert p["mutation"] == {"mutation": {"a": 0.1111, "b": 0.1111}, "externe": {"a": 0.8889, "b": 0.8889}}
    assert {k: v["a"] for k, v in p["age"].items()} == {"moins_25": 0.1111, "25_39": 0.2222,
                                                        "inconnu": 0.6667}
    # top 2, A: D4 D5 D4 D7 (all parents isolés); B: D4 D1 D4 D6 (2 parents, 2 single, all DALO)
    tp = t["top"]["2"]["profiles"]
    assert tp["composition"] == {"personne_seule": {"a": 0.0, "b": 0.5},
                                 "parent_isole": {"a": 1.0, "b": 0.5}}
    assert tp["dalo"] == {"dalo_actif": {"a": 0.5, "b": 1.0}, "non_dalo": {"a": 0.5, "b": 0.0}}


def test_pairs_files_and_determinism(data, tmp_path):
    out = tmp_path / "out"
    args = [str(data["a"]), str(data["b"]), str(data["demandes"]), "--today", "2025-06-30",
            "-o", str(out), "--top", "1,2"]
    assert main(["compare", *args]) == 0
    lines = (out / "pairs.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == ("numero_unique,commune,score_a,score_b,rank_a,rank_b,rank_change,"
                        "pts_a_dalo,pts_b_dalo")
    assert lines[4] == "D1,01001,3.00,10.00,4,2,2,3.00,10.00"
    assert lines[7] == "D7,01002,5.00,5.00,2,3,-1,0.00,0.00"
    t = pq.read_table(out / "pairs.parquet")
    assert t.column_names[:7] == ["numero_unique", "commune", "score_a", "score_b", "rank_a",
                                  "rank_b", "rank_change"]
    assert str(t.schema.field("commune").type) == "string"
    assert t.column("commune").to_pylist()[0] == "01001"
    assert t.column("score_b").to_pylist()[3] == 10.0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "size: A4" in html and "<script" not in html and "http" not in html.split("<body>")[1]
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["compare", *args]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["territory"]["top"]["2"]["kept_share"] == 0.5


def test_different_scopes_and_territories(data, tmp_path):
    # C: territory 01001 and 01003, external demandes only (D3 is a mutation), DALO = 3 as in A
    data["c"] = grid(tmp_path, "c", 3, ("01001", "01003"), "not coalesce(est_mutation, false)")
    c = run(data, b="c", top=(1,))
    s = c.summary
    t = s["territory"]
    # A: 9 pairs; C: D1 D2 D4 D5 in 01001 and D8 in 01003; both: the four of 01001
    assert (t["pairs_a"], t["pairs_b"], t["pairs_both"]) == (9, 5, 4)
    assert len(c.pairs) == 10
    assert s["communes"]["01003"]["pairs_a"] == 0 and s["communes"]["01003"]["pairs_b"] == 1
    assert s["communes"]["01003"]["spearman"] is None
    assert s["communes"]["01002"]["pairs_b"] == 0
    # in 01001 C ranks D4 D5 D2 D1 as A does (D3 out of scope): no change
    assert s["communes"]["01001"]["spearman"] == 1.0 and t["moved_up"] == t["moved_down"] == 0
    rows = {(r["numero_unique"], r["commune"]): r for r in c.pairs_table().to_pylist()}
    assert rows[("D3", "01001")]["rank_a"] == 5 and rows[("D3", "01001")]["rank_b"] is None
    assert rows[("D8", "01003")]["rank_a"] is None and rows[("D8", "01003")]["rank_b"] == 1
    assert rows[("D8", "01003")]["rank_change"] is None


def test_ranks_at_attribution_dates(data, tmp_path):
    att = tmp_path / "att.csv"
    att.write_text("numero_unique,date_depot,date_attribution,commune,typologie,est_mutation\n"
                   "D1,2020-01-01,2025-03-01,01001,T1,false\n"
                   "D5,2018-01-01,2024-12-01,01001,T2,false\n"
                   "X9,2018-01-01,2025-01-01,01001,T2,false\n"
                   "D8,2017-01-01,2023-01-01,01002,T2,false\n", encoding="utf-8")
    table, _, _ = read_attributions_csv(att)
    c = run(data, top=(1, 2), attributions=table)
    # window [2024-06-30, 2025-06-30): D1, D5, X9 (not in the demandes); D8 is older.
    # 2024-12-01: all of 01001 pending -> D5 rank 2 under A, 3 under B (of 5).
    # 2025-03-01: D5 attributed before -> 01001 holds D4 D2 D1 D3; A: D4 D2 D1 D3, B: D4 D1 D2 D3
    rows = c.attributions.to_pylist()
    assert [(r["numero_unique"], r["rank_a"], r["of_a"], r["rank_b"], r["rank_change"]) for r in rows] \
        == [("D5", 2, 5, 3, -1), ("D1", 3, 4, 2, 1)]
    a = c.summary["attributions"]
    assert (a["in_window"], a["in_window_not_in_demandes"], a["scored"], a["dates"]) == (3, 1, 2, 2)
    assert (a["median_rank_a"], a["median_rank_b"], a["moved_up"], a["moved_down"]) == (2.5, 2.5, 1, 1)
    assert a["top"] == {"1": {"share_a": 0.0, "share_b": 0.0}, "2": {"share_a": 0.5, "share_b": 0.5}}


def test_cli_warns_when_attributions_of_the_window_are_not_in_the_demandes(data, tmp_path, capsys):
    att = tmp_path / "att.csv"
    att.write_text("numero_unique,date_depot,date_attribution,commune,typologie,est_mutation\n"
                   "D1,2020-01-01,2025-03-01,01001,T1,false\n"
                   "X9,2018-01-01,2025-01-01,01001,T2,false\n"
                   "X8,2018-01-01,2023-01-01,01001,T2,false\n", encoding="utf-8")
    base = [str(data["a"]), str(data["b"]), str(data["demandes"]), "--today", "2025-06-30",
            "--attributions", str(att)]
    assert main(["compare", *base, "-o", str(tmp_path / "o")]) == 0
    # X9 is in the window and absent; X8 (before the window) is not counted
    assert "1 of the 2 attributions of the window concern a demande absent" in capsys.readouterr().err
    att.write_text("numero_unique,date_depot,date_attribution,commune,typologie,est_mutation\n"
                   "D1,2020-01-01,2025-03-01,01001,T1,false\n", encoding="utf-8")
    assert main(["compare", *base, "-o", str(tmp_path / "p")]) == 0
    assert "absent" not in capsys.readouterr().err


def test_attributed_demandes_carried_by_the_attributions_file_are_ranked(data, tmp_path, capsys):
    """A file that carries the attributed demandes (as ``evaluate`` reads it): they are ranked
    at their dates though the demandes file (pending demandes) lacks them."""
    att = tmp_path / "att.csv"
    att.write_text(
        "numero_unique,date_depot,date_attribution,commune,typologie,est_mutation,nb_personnes,"
        "nb_adultes,nb_enfants,dalo_statut,localisations,typologies\n"
        # X9: DALO, no child: A 3, B 10 -> on 2025-01-01 in 01001 with D1..D5 pending
        "X9,2018-01-01,2025-01-01,01001,T2,false,1,1,0,actif,01001,T2\n"
        # D1 is in the demandes file too: its row here (as attributed) replaces it
        "D1,2020-01-01,2025-03-01,01001,T1,false,1,1,0,actif,01001,T1\n", encoding="utf-8")
    out = tmp_path / "o"
    assert main(["compare", str(data["a"]), str(data["b"]), str(data["demandes"]), "--today",
                 "2025-06-30", "--top", "1,2", "--attributions", str(att), "-o", str(out)]) == 0
    assert "absent" not in capsys.readouterr().err
    a = json.loads((out / "summary.json").read_text(encoding="utf-8"))["attributions"]
    assert (a["in_window"], a["in_window_not_in_demandes"], a["scored"]) == (2, 0, 2)
    assert a["demandes_from_attributions"] is True
    rows = {r["numero_unique"]: r for r in csv.DictReader(open(out / "attributions.csv",
                                                                 encoding="utf-8"))}
    # 2025-01-01, 01001: D4 (A 8, B 15), D2 5/5, D5 5/5, X9 3/10, D1 3/10, D3 0/0 (filed order
    # breaks ties: D5 2018 before D2 2021; X9 2018 before D1 2020).
    # A: D4 D5 D2 X9 D1 D3 -> X9 4th of 6; B: D4 X9 D1 D5 D2 D3 -> X9 2nd.
    assert (rows["X9"]["rank_a"], rows["X9"]["of_a"], rows["X9"]["rank_b"]) == ("4", "6", "2")
    # 2025-03-01: X9 housed; A: D4 D5 D2 D1 D3 -> D1 4th of 5; B: D4 D1 D5 D2 D3 -> 2nd
    assert (rows["D1"]["rank_a"], rows["D1"]["of_a"], rows["D1"]["rank_b"]) == ("4", "5", "2")


def test_overrides_are_validated_like_a_grid(data):
    _, ov = parse_set("B:criteria.dalo.points=10")
    g = load_with_overrides(data["a"], [ov])
    assert g.ir.criterion("dalo").weight == 1 and g.source_hash != load_grid(data["a"]).source_hash
    c = compare(load_grid(data["a"]), g, data["table"], TODAY, top=(2,))
    assert c.summary["territory"]["spearman"] == 0.744444 and c.shared_batch in (True, False)
    with pytest.raises(VariantError, match="enfant"):
        load_with_overrides(data["a"], [parse_set("criteria.enfant.points=1")[1]])
    with pytest.raises(VariantError, match="critera"):
        load_with_overrides(data["a"], [parse_set("critera.dalo.points=1")[1]])
    with pytest.raises(GridError) as exc:
        load_with_overrides(data["a"], [parse_set("criteria.dalo.when=dalo_statut ==")[1]])
    line = MINIMAL.splitlines().index("    when: \"dalo_statut == 'actif'\"") + 1
    assert exc.value.diagnostics[0].span.line == line
    with pytest.raises(VariantError):
        parse_set("criteria.dalo.points")


@pytest.mark.parametrize("value, refused", [
    ("&a [ *a, *a ]", "aliases"),                       # a recursive value
    ("[*x]", "aliases"),
    ("[" * 5000, "nested"),                             # was a RecursionError
    ("x" * 20_000, "longer"),
])
def test_a_set_value_is_one_small_yaml_value(value, refused):
    with pytest.raises(VariantError, match=refused):
        parse_set("B:criteria.dalo.label=" + value)


def test_set_values_yaml_cannot_construct_are_checked_by_the_grid(data):
    # 2024-02-30 looks like a date but is none: it reaches the grid's checks as text, which
    # locate it; 5,000 digits are more than int() reads: refused as a --set value. Both were
    # internal errors
    assert parse_set("B:grid.effective_from=2024-02-30")[1].value == "2024-02-30"
    with pytest.raises(GridError) as exc:
        load_with_overrides(data["a"], [parse_set("B:grid.effective_from=2024-02-30")[1]])
    assert "2024-02-30" in str(exc.value.diagnostics[0])
    with pytest.raises(VariantError, match="a number of 5000 digits: out of range"):
        parse_set("B:criteria.dalo.points=" + "9" * 5000)
    assert parse_set("B:criteria.dalo.points=300")[1].value == 300
    assert parse_set("B:grid.territory.communes=[69123, '69266']")[1].value == [69123, "69266"]


def test_cli_user_mistakes_exit_codes(data, tmp_path, capsys):
    base = [str(data["a"]), str(data["b"]), str(data["demandes"]), "--today", "2025-06-30",
            "-o", str(tmp_path / "o")]
    assert main(["compare", *base[:2], str(tmp_path / "none.csv"), *base[3:]]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["compare", *base, "--set", "B:criteria.nope.points=3"]) == 1
    assert "no element 'nope'" in capsys.readouterr().err
    assert main(["compare", *base, "--set", "B:criteria.dalo.points=abc"]) == 1
    err = capsys.readouterr().err
    assert "does not validate" in err and "Traceback" not in err
    assert main(["compare", *base, "--set", "nothing"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["compare", *base, "--top", "0,x"])
    assert exc.value.code == 2


def test_variants_file_one_folder_each(data, tmp_path):
    v = tmp_path / "variants.yaml"
    v.write_text("variants:\n  dalo-10: {criteria.dalo.points: 10}\n  same: {criteria.dalo.points: 3}\n",
                 encoding="utf-8")
    out = tmp_path / "sweep"
    assert main(["compare", str(data["a"]), str(data["a"]), str(data["demandes"]), "--today",
                 "2025-06-30", "-o", str(out), "--variants", str(v), "--top", "2"]) == 0
    s10 = json.loads((out / "dalo-10" / "summary.json").read_text(encoding="utf-8"))
    same = json.loads((out / "same" / "summary.json").read_text(encoding="utf-8"))
    assert s10["territory"]["spearman"] == 0.744444 and same["territory"]["spearman"] == 1.0


def test_bundled_variant_file_validates():
    root = Path(__file__).resolve().parents[1]
    from cotation.analysis.variants import load_grid_or_variant
    g = load_grid_or_variant(root / "grids" / "variants" / "lyon-priorites-x2.yaml")
    base = load_grid(root / "grids" / "lyon-metropole.yaml")
    for c in base.ir.criteria:
        assert g.ir.criterion(c.id).points is not None or c.points is None
    doubled = {c.id for c in base.ir.criteria if c.legal_priority}
    assert {c.id for c in g.ir.criteria if c.legal_priority} == doubled
    for cid in doubled:
        assert g.ir.criterion(cid).points.value == 2 * base.ir.criterion(cid).points.value


def test_every_profile_value_of_the_report_reads_as_french_words():
    # situation de logement values showed as raw codes ("locataire prive", "hebergement")
    from cotation.analysis.report import _profile_rows
    from cotation.data.schema import COLUMNS_BY_NAME
    from cotation.info.statements.wording import CODE_FR
    codes = COLUMNS_BY_NAME["situation_logement"].enum
    assert set(codes) <= set(CODE_FR), sorted(set(codes) - set(CODE_FR))
    block = {"profiles": {"situation_logement": {c: {"a": 0.1, "b": 0.1} for c in codes}},
             "top": {"1": {"profiles": {}}}}
    assert [row["value"] for row in _profile_rows(block, "1")] == [CODE_FR[c] for c in codes]

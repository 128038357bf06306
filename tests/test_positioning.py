"""Peer cells, positions and reference waiting times against hand-computed small cells."""
from __future__ import annotations

import csv
import datetime as dt
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st_

from cotation.engine import score
from cotation.grid import load_grid
from cotation.info.positioning import (
    DAYS_PER_MONTH, add_months, cell_key, encode_order_keys, histogram, peer_levels, position,
    waiting_window
)
from cotation.engine.ranking import order_indices
from cotation.data.table import AttributionTable, DemandeTable

TODAY = dt.date(2025, 1, 15)
A, B, C = "69123", "69266", "69259"

GRID = """\
format: cotation/1
grid:
  id: test-positionnement
  title: "Territoire Test — grille de test"
  territory:
    epci_siren: "200000001"
    name: "Territoire Test"
    communes: ["69123", "69266", "69259"]
  version: "1"
  effective_from: 2024-01-01
  refusal_policy: "Un refus d'un logement adapté retire 10 points pendant 12 mois."
criteria:
  - id: dalo
    label: "Ménage reconnu prioritaire et urgent (DALO)"
    section: "Priorités"
    legal_priority: true
    validation: commission
    when: "dalo_statut == 'actif'"
    points: 100
  - id: personnes
    label: "Taille du ménage (10 points par personne)"
    section: "Ménage"
    points: "10 * nb_personnes"
  - id: travail
    label: "Travaille dans la commune demandée"
    section: "Commune"
    when: "loc.commune == commune_travail"
    points: 25
  - id: refus
    label: "Refus d'un logement adapté"
    section: "Refus"
    refusal_effect: true
    points: "-10 * nb_refus_adaptes_12m"
peers:
  by: [loc.commune, typologie, est_mutation]
  min_size: 3
  fallback: [[loc.commune, typologie], [typologie]]
waiting_time:
  statistic: mean
  window_months: 12
  delai_anormalement_long: {T2: 12, T3: 24}
"""

# numero, est_mutation, typologies, localisations, nb_personnes, commune_travail, date_depot, dalo
DEMANDES = [
    ("D1", "false", "T2", A, 1, "", "2024-01-01", "non"),       # 10
    ("D2", "false", "T2", A, 3, "", "2024-02-01", "non"),       # 30
    ("D3", "false", "T2", A, 3, "", "2023-06-01", "non"),       # 30, older than D2
    ("D4", "true", "T2", A, 2, "", "2024-03-01", "non"),        # 20
    ("D5", "false", "T3", B, 4, "", "2023-01-16", "non"),       # 40
    ("D6", "true", "T3", f"{C}|{A}", 2, A, "2024-04-01", "non"),  # C: 20, A: 45
    ("D7", "false", "T3|T4", C, 5, "", "2024-05-01", "non"),    # 50
    ("D8", "false", "T5", B, 6, "", "2024-06-01", "actif"),     # 160
    ("D9", "false", "T2", "75056", 1, "", "2024-06-01", "non"),  # outside the territory
]

# commune, typologie, est_mutation, date_depot, date_attribution (days)
ATTRIBUTIONS = [
    ("a1", A, "T2", False, "2023-01-15", "2024-01-15"),   # first day of the window: in (365)
    ("a2", A, "T2", False, "2024-01-14", "2025-01-14"),   # last day: in (366, leap year)
    ("a3", A, "T2", False, "2024-01-01", "2025-01-15"),   # today: out
    ("a4", A, "T2", False, "2023-01-01", "2024-01-14"),   # day before the window: out
    ("a5", A, "T2", True, "2024-06-01", "2024-09-01"),    # 92
    ("a6", B, "T3", False, "2024-01-01", "2024-07-01"),   # 182
    ("a7", "75056", "T2", False, "2024-01-01", "2024-07-01"),  # outside the territory
    ("a8", C, "T3", True, "2024-10-01", "2024-10-11"),    # 10
    ("a9", A, "T2", False, "2024-12-01", "2024-11-01"),   # before its deposit: ignored
    ("a10", C, "T3", False, "2024-02-01", "2024-05-01"),  # 90
    ("a11", A, "T2", False, "2024-03-01", "2024-04-01"),  # 31
]


def demandes_table(rows=DEMANDES) -> DemandeTable:
    recs = []
    for nu, mut, typ, locs, nb, travail, depot, dalo in rows:
        recs.append({"numero_unique": nu, "est_mutation": mut, "typologies": typ, "localisations": locs,
                     "nb_personnes": str(nb), "commune_travail": travail, "date_depot": depot,
                     "dalo_statut": dalo})
    return DemandeTable.from_records(recs, parse=True)


def attributions_table(rows=ATTRIBUTIONS) -> AttributionTable:
    cols = {k: [] for k in ("numero_unique", "date_depot", "date_attribution", "commune", "typologie",
                            "est_mutation", "financement", "qpv", "reservataire")}
    for nu, commune, typ, mut, depot, att in rows:
        for k, v in (("numero_unique", nu), ("date_depot", dt.date.fromisoformat(depot)),
                     ("date_attribution", dt.date.fromisoformat(att)), ("commune", commune),
                     ("typologie", typ), ("est_mutation", mut), ("financement", None), ("qpv", None),
                     ("reservataire", None)):
            cols[k].append(v)
    return AttributionTable(cols)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "test-positionnement.yaml"
    path.write_text(GRID, encoding="utf-8")
    return load_grid(path)


@pytest.fixture(scope="module")
def pos(grid):
    table = demandes_table()
    st = score(grid.ir, table, TODAY, explain=True)
    return position(grid.ir, st, table, attributions_table(), TODAY)


def rows_of(pos, nu, commune=None, typ=None):
    out = []
    for i in range(len(pos)):
        p = pos.rows.pair[i]
        if pos.st.numero_unique[p] == nu and (commune is None or pos.st.commune[p] == commune) \
                and (typ is None or pos.rows.typologie[i] == typ):
            out.append(i)
    return out


def one(pos, nu, commune=None, typ=None) -> int:
    found = rows_of(pos, nu, commune, typ)
    assert len(found) == 1, found
    return found[0]


# ----------------------------------------------------------------------------- helpers

def test_levels_end_with_the_whole_territory(grid):
    assert peer_levels(grid.ir) == (("loc.commune", "typologie", "est_mutation"),
                                    ("loc.commune", "typologie"), ("typologie",), ())
    assert cell_key(("loc.commune", "est_mutation"), ("69123", None)) == "loc.commune=69123;est_mutation="


def test_window_boundaries():
    assert waiting_window(TODAY, 12) == (dt.date(2024, 1, 15), TODAY)
    assert add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 2, 28), -12) == dt.date(2024, 2, 28)


def test_scores_of_the_fixture(pos):
    s = {(pos.st.numero_unique[p], pos.st.commune[p]): int(pos.st.score[p]) for p in range(len(pos.st))}
    assert s == {("D1", A): 1000, ("D2", A): 3000, ("D3", A): 3000, ("D4", A): 2000, ("D5", B): 4000,
                 ("D6", C): 2000, ("D6", A): 4500, ("D7", C): 5000, ("D8", B): 16000}


def test_one_row_per_demande_commune_typologie(pos):
    assert len(pos) == 10          # D6 two communes, D7 two typologies, D9 not scored
    assert [pos.rows.typologie[i] for i in rows_of(pos, "D7")] == ["T3", "T4"]
    assert rows_of(pos, "D9") == []


# ----------------------------------------------------------------------------- positions

def test_level_0_cell(pos):
    # (A, T2, non mutation) = {D1 10, D2 30, D3 30}: D3 before D2 (older deposit at equal score)
    got = {nu: (pos.cell_key(i), int(pos.rank[i]), int(pos.size[i]), int(pos.n_above[i]), pos.decile(i))
           for nu in ("D1", "D2", "D3") for i in [one(pos, nu)]}
    key = "loc.commune=69123;typologie=T2;est_mutation=false"
    assert got == {"D3": (key, 1, 3, 0, 4), "D2": (key, 2, 3, 0, 7), "D1": (key, 3, 3, 2, 10)}


def test_level_1_fallback(pos):
    # (A, T2, mutation) has only D4 → (A, T2) = {D3, D2, D4 20, D1}
    i = one(pos, "D4")
    assert pos.cell_key(i) == "loc.commune=69123;typologie=T2"
    assert (int(pos.rank[i]), int(pos.size[i]), int(pos.n_above[i]), pos.decile(i)) == (3, 4, 2, 8)
    assert pos.share_above(i) == Fraction(1, 2)


def test_level_2_fallback_and_a_demande_counted_once(pos):
    # (T3) = {D7 50, D5 40, D6}: D6 (two communes) counts once, by its first choice (C: 20)
    i5 = one(pos, "D5")
    assert pos.cell_key(i5) == "typologie=T3"
    assert (int(pos.rank[i5]), int(pos.size[i5]), int(pos.n_above[i5])) == (2, 3, 1)
    i7 = one(pos, "D7", typ="T3")
    assert (pos.cell_key(i7), int(pos.rank[i7]), int(pos.size[i7])) == ("typologie=T3", 1, 3)
    i6c = one(pos, "D6", C)
    assert (pos.cell_key(i6c), int(pos.rank[i6c]), int(pos.n_above[i6c])) == ("typologie=T3", 3, 2)


def test_second_commune_is_placed_with_its_own_score(pos):
    # D6 for A scores 45: among {D7 50, D5 40} and itself → 2nd of 3, one demande above
    i = one(pos, "D6", A)
    assert pos.cell_key(i) == "typologie=T3"
    assert (int(pos.rank[i]), int(pos.size[i]), int(pos.n_above[i])) == (2, 3, 1)
    assert sorted(pos.cell_scores(i).tolist()) == [4000, 4500, 5000]


def test_whole_territory_fallback(pos):
    # T5 and T4 cells hold one demande: the whole territory (8 demandes, D9 is not scored)
    i8 = one(pos, "D8")
    assert pos.cell_key(i8) == "territoire"
    assert (int(pos.rank[i8]), int(pos.size[i8]), int(pos.n_above[i8]), pos.decile(i8)) == (1, 8, 0, 2)
    i7 = one(pos, "D7", typ="T4")   # same demande as its T3 row: counted once
    assert (pos.cell_key(i7), int(pos.rank[i7]), int(pos.size[i7]), int(pos.n_above[i7])) == \
        ("territoire", 2, 8, 1)


def test_histogram_hidden_below_five(pos):
    assert pos.histogram(one(pos, "D5")) is None                 # cell of 3
    h = pos.histogram(one(pos, "D8"))                            # territory: 8 demandes
    assert sum(h.counts) == 8 and h.width == 1000                # 10 → 160 points: 10-point bins
    assert h.edges[0] == 1000 and h.counts[h.own] >= 1 and h.own == 15


def test_histogram_bins():
    h = histogram(np.array([0, 150, 250, 1999]), 250)
    assert h.edges[:3] == (0, 100, 200) and h.counts[:3] == (1, 1, 1) and h.own == 2
    h = histogram(np.array([-2000, 3000]), 3000)
    assert h.width == 500 and h.edges[0] == -2000 and sum(h.counts) == 2


# ----------------------------------------------------------------------------- waiting times

def _w(pos, nu, commune=None, typ=None):
    w = pos.waiting[one(pos, nu, commune, typ)]
    return w.key, w.n, w.mean_days, w.median_days


def test_waiting_level_0_and_window_boundary(pos):
    # (A, T2, false) = a1 365 (first day), a2 366 (last day), a11 31; a3 (today) and a4 are out
    assert _w(pos, "D1") == ("loc.commune=69123;typologie=T2;est_mutation=false", 3,
                             Fraction(762, 3), 365)
    w = pos.waiting[one(pos, "D1")]
    assert w.start == dt.date(2024, 1, 15) and w.end == TODAY
    assert w.mean_months == Fraction(254) / DAYS_PER_MONTH


def test_waiting_level_1(pos):
    # (A, T2, true) has a5 only → (A, T2) = 365, 366, 92, 31
    assert _w(pos, "D4") == ("loc.commune=69123;typologie=T2", 4, Fraction(854, 4), Fraction(457, 2))


def test_waiting_level_2(pos):
    # (B, T3, false) a6 only; (B, T3) a6 only → (T3) = a6 182, a8 10, a10 90
    assert _w(pos, "D5") == ("typologie=T3", 3, 94, 90)


def test_waiting_territory_and_ignored_leases(pos):
    # 7 leases: 365, 366, 92, 182, 10, 90, 31 (a7 outside, a9 negative, a3/a4 outside window)
    assert _w(pos, "D8") == ("territoire", 7, Fraction(1136, 7), 92)
    assert pos.waiting_index.n_negative == 1 and pos.waiting_index.n_used == 7


def test_waiting_is_independent_of_the_demandes_cell(pos):
    # D6 for A: demandes fall back to (T3), leases of (A, T3, true) = none → (A,T3) none → (T3)
    assert _w(pos, "D6", A)[0] == "typologie=T3"


def test_delai_anormalement_long(pos):
    flags = {nu: pos.delai_depasse(one(pos, nu)) for nu in ("D1", "D2", "D3", "D5", "D8")}
    # D1: 12 months for a 12-month threshold (reached); D5: 23 months for 24
    assert flags == {"D1": True, "D2": False, "D3": True, "D5": False, "D8": None}


# ----------------------------------------------------------------------------- CLI

def test_position_cli(grid, tmp_path):
    from cotation.cli import main
    from cotation.data.table import write_attributions_csv, write_demandes_csv
    d, a, out = tmp_path / "d.csv", tmp_path / "a.csv", tmp_path / "pos.csv"
    write_demandes_csv(demandes_table(), d)
    write_attributions_csv(attributions_table(), a)
    args = ["position", grid.path, str(d), str(a), "--today", TODAY.isoformat(), "-o", str(out),
            "--engine", "interpreter"]
    assert main(args) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0])[:15] == ["numero_unique", "commune", "typologie", "score", "rank", "cell_size",
                                  "share_above", "decile", "cell_key", "waiting_mean_days",
                                  "waiting_median_days", "waiting_mean_months",
                                  "waiting_median_months", "n_attributions", "delai_anormalement_long"]
    r = {(x["numero_unique"], x["commune"], x["typologie"]): x for x in rows}
    assert len(rows) == 10
    d1 = r[("D1", A, "T2")]
    assert (d1["score"], d1["rank"], d1["cell_size"], d1["share_above"], d1["decile"]) == \
        ("10.00", "3", "3", "0.6667", "10")
    assert (d1["waiting_mean_days"], d1["waiting_median_days"], d1["waiting_mean_months"],
            d1["waiting_median_months"], d1["n_attributions"], d1["delai_anormalement_long"]) == \
        ("254.0", "365.0", "8.3", "12.0", "3", "true")
    assert r[("D8", B, "T5")]["delai_anormalement_long"] == ""
    first = out.read_bytes()
    assert main(args) == 0
    assert out.read_bytes() == first
    # Parquet: the same values, with numbers as numbers and the flag as a boolean
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq_out = tmp_path / "pos.parquet"
    assert main(args[:-3] + [str(pq_out), "--engine", "interpreter"]) == 0
    t = pq.read_table(pq_out)
    types = {f.name: f.type for f in t.schema}
    assert (types["score"], types["share_above"], types["waiting_mean_days"],
            types["delai_anormalement_long"], types["rank"], types["commune"]) == \
        (pa.float64(), pa.float64(), pa.float64(), pa.bool_(), pa.int64(), pa.string())
    p = {(x["numero_unique"], x["commune"], x["typologie"]): x for x in t.to_pylist()}
    p1 = p[("D1", A, "T2")]
    assert (p1["score"], p1["rank"], p1["share_above"], p1["waiting_mean_days"],
            p1["waiting_median_months"], p1["delai_anormalement_long"]) == \
        (10.0, 3, 0.6667, 254.0, 12.0, True)
    assert p[("D8", B, "T5")]["delai_anormalement_long"] is None
    assert list(p) == list(r)


# ----------------------------------------------------------------------------- properties

@settings(max_examples=60, deadline=None)
@given(st_.lists(st_.tuples(st_.one_of(st_.none(), st_.integers(-3, 3)), st_.sampled_from("abc"),
                            st_.integers(0, 50)), min_size=1, max_size=30),
       st_.sampled_from(["asc", "desc"]))
def test_encoded_keys_follow_the_ranking_order(items, direction):
    keys = [[x[0] for x in items], [x[1] for x in items], [x[2] for x in items]]
    dirs = [direction, "asc", "desc"]
    enc = encode_order_keys(keys, dirs)
    order = order_indices(keys, dirs)
    # The encoded order agrees with order_indices up to exact ties (kept in input order there).
    assert sorted(range(len(items)), key=lambda i: (enc[i], i)) == order


def _brute_force(pos, i):
    """Rank, size and count above for row i from the definition, by plain enumeration."""
    level = pos.levels[pos.level[i]]
    st = pos.st
    values = lambda j: {"loc.commune": st.commune[pos.rows.pair[j]], "loc.epci": pos.grid.epci_siren,
                        "typologie": pos.rows.typologie[j],
                        "est_mutation": pos.table.columns["est_mutation"][pos.rows.demande[j]]}
    mine = values(i)
    best: dict[int, int] = {}      # demande → its pair of lowest rang in the cell
    for j in range(len(pos)):
        v = values(j)
        if all(v[k] == mine[k] for k in level):
            d = int(pos.rows.demande[j])
            p = int(pos.rows.pair[j])
            if d not in best or st.rang[p] < st.rang[best[d]]:
                best[d] = p
    best[int(pos.rows.demande[i])] = int(pos.rows.pair[i])
    members = sorted(best.values())
    keys = [[k[p] for p in members] for k in st.order_keys]
    order = [members[x] for x in order_indices(keys, [o.direction for o in pos.grid.ordering])]
    s = int(st.score[pos.rows.pair[i]])
    return order.index(int(pos.rows.pair[i])) + 1, len(members), sum(int(st.score[p]) > s for p in members)


@pytest.mark.parametrize("peers", [
    "by: [typologie]\n  min_size: 1",
    "by: [loc.commune, typologie]\n  min_size: 25\n  fallback: [[est_mutation], [typologie]]",
    "by: [loc.epci]\n  min_size: 1",
])
def test_positions_match_brute_force_on_synthetic_data(tmp_path, peers):
    from cotation.data.synth import generate_demandes
    text = GRID.split("peers:")[0] + "peers:\n  " + peers + "\n"
    path = tmp_path / "g.yaml"
    path.write_text(text, encoding="utf-8")
    g = load_grid(path)
    table = generate_demandes(250, seed=7, today=TODAY, territories=[g.ir.communes])
    st = score(g.ir, table, TODAY, explain=True)
    pos = position(g.ir, st, table, None, TODAY)
    for i in range(len(pos)):
        assert (int(pos.rank[i]), int(pos.size[i]), int(pos.n_above[i])) == _brute_force(pos, i), i
    assert len(set(pos.level.tolist())) > 1 or "loc.epci" in peers or "min_size: 1" in peers


def test_commune_cells_rank_like_cotation_score(grid, tmp_path):
    """With peers by commune alone, positions are the ranks of `cotation score`."""
    from cotation.data.synth import generate_demandes
    path = tmp_path / "g.yaml"
    path.write_text(GRID.split("peers:")[0] + "peers:\n  by: [loc.commune]\n  min_size: 1\n", encoding="utf-8")
    g = load_grid(path)
    table = generate_demandes(300, seed=3, today=TODAY, territories=[g.ir.communes])
    st = score(g.ir, table, TODAY, explain=True)
    pos = position(g.ir, st, table, None, TODAY)
    assert np.array_equal(pos.rank, st.rank[pos.rows.pair])


def test_positions_do_not_depend_on_the_engines_pair_order(grid):
    """Another engine may list pairs in another order: same positions, row for row."""
    import dataclasses
    from cotation.data.synth import generate_demandes
    table = generate_demandes(200, seed=5, today=TODAY, territories=[grid.ir.communes])
    st = score(grid.ir, table, TODAY, explain=True)
    perm = np.random.default_rng(0).permutation(len(st))
    shuffled = dataclasses.replace(
        st, row=st.row[perm], numero_unique=st.numero_unique[perm], commune=st.commune[perm],
        rang=st.rang[perm], score=st.score[perm], score_valide=st.score_valide[perm], met=st.met[perm],
        set_aside=st.set_aside[perm], met_valide=st.met_valide[perm],
        set_aside_valide=st.set_aside_valide[perm], points=st.points[perm],
        order_keys=[[k[p] for p in perm] for k in st.order_keys], rank=st.rank[perm])

    def by_key(pos):
        return {(pos.st.numero_unique[pos.rows.pair[i]], pos.st.commune[pos.rows.pair[i]], pos.rows.typologie[i]):
                (int(pos.rank[i]), int(pos.size[i]), int(pos.n_above[i]), pos.cell_key(i), pos.waiting[i].key)
                for i in range(len(pos))}

    leases = attributions_table()
    assert by_key(position(grid.ir, st, table, leases, TODAY)) == \
        by_key(position(grid.ir, shuffled, table, leases, TODAY))

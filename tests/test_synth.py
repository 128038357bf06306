"""Synthetic generator: determinism, canonical round trip, calibration (domain.md §3.6)."""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import io
import statistics
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cotation.cli import main as cli_main
from cotation.data.schema import COLUMNS, TYPOLOGIES
from cotation.data.synth import (
    SynthParams, attributed_demandes, generate_attributions, generate_demandes
)
from cotation.data.canonical import read_attributions_csv
from cotation.data.table import (
    read_demandes_csv, read_demandes_stream, write_attributions_csv,
    write_demandes_csv
)

TODAY = dt.date(2025, 6, 30)
TERRITORIES = [
    ["69123", "69266", "69259", "69256", "69029", "69290"],   # Métropole de Lyon
    ["25056", "25047", "25212", "25287", "25462"],            # Grand Besançon
    ["06088", "06027", "06123", "06157"],                     # Nice Côte d'Azur
    ["35238", "35051", "35047", "35281"],                     # Rennes Métropole
]
N_BIG = 50_000
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"

# 2025 ceilings, other regions (domain.md §4.2/§4.3), re-typed here as an independent oracle.
PLAI = (12759, 18591, 22356, 24875, 29106, 32801, 3657)
PLUS = (23201, 30984, 37259, 44982, 52915, 59636, 6652)


def _csv(table) -> str:
    buf = io.StringIO()
    write_demandes_csv(table, buf)
    return buf.getvalue()


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month - (b.day < a.day)


def _years_between(a: dt.date, b: dt.date) -> int:
    return b.year - a.year - ((b.month, b.day) < (a.month, a.day))


def _share(values, pred) -> float:
    values = [v for v in values if v is not None]
    return sum(1 for v in values if pred(v)) / len(values)


@pytest.fixture(scope="module")
def big():
    return generate_demandes(N_BIG, seed=11, today=TODAY, territories=TERRITORIES)


@pytest.fixture(scope="module")
def big_attr():
    return generate_attributions(N_BIG, seed=11, today=TODAY, territories=TERRITORIES)


# ----------------------------------------------------------------------------- determinism

def test_same_seed_same_bytes_other_seed_differs():
    a = _csv(generate_demandes(1500, seed=5, today=TODAY, territories=TERRITORIES))
    b = _csv(generate_demandes(1500, seed=5, today=TODAY, territories=TERRITORIES))
    c = _csv(generate_demandes(1500, seed=6, today=TODAY, territories=TERRITORIES))
    assert a == b
    assert a != c


def test_attributions_deterministic(tmp_path):
    paths = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        path = tmp_path / f"{name}.csv"
        write_attributions_csv(generate_attributions(800, seed=seed, today=TODAY,
                                                     territories=TERRITORIES), path)
        paths.append(path.read_bytes())
    assert paths[0] == paths[1]
    assert paths[0] != paths[2]


def test_cli_writes_the_same_bytes_as_the_api(tmp_path):
    out, attr = tmp_path / "d.csv", tmp_path / "a.csv"
    argv = ["generate", "-n", "300", "--seed", "9", "--today", "2025-06-30",
            "--territory", ",".join(TERRITORIES[0]), "--territory", ",".join(TERRITORIES[3]),
            "-o", str(out), "--attributions", str(attr), "--n-attributions", "120"]
    assert cli_main(argv) == 0
    territories = [TERRITORIES[0], TERRITORIES[3]]
    assert out.read_text(encoding="utf-8") == _csv(
        generate_demandes(300, seed=9, today=TODAY, territories=territories))
    expected = tmp_path / "expected.csv"
    leases = generate_attributions(120, seed=9, today=TODAY, territories=territories)
    write_attributions_csv(leases, expected, attributed_demandes(
        leases, seed=9, today=TODAY, territories=territories))
    assert attr.read_bytes() == expected.read_bytes()


def test_attributed_demandes_match_their_leases(tmp_path):
    from cotation.data.attributed import read_attributed

    territories = [TERRITORIES[0]]
    leases = generate_attributions(200, seed=3, today=TODAY, territories=territories)
    dem = attributed_demandes(leases, seed=3, today=TODAY, territories=territories)
    path = tmp_path / "a.csv"
    write_attributions_csv(leases, path, dem)
    back = read_attributed(path)
    assert back.summary() == {"read": 200, "accepted": 200, "rejected": 0}
    a, d = back.attributions.columns, back.demandes.columns
    for i in range(200):
        assert d["localisations"][i][0] == a["commune"][i]
        assert a["typologie"][i] in d["typologies"][i]
        assert (d["situation_logement"][i] == "locataire_hlm") == a["est_mutation"][i]
        refus = d["date_dernier_refus_adapte"][i]
        assert refus is None or refus <= a["date_attribution"][i]
        renew = d["date_renouvellement"][i]
        assert renew is None or a["date_depot"][i] < renew <= a["date_attribution"][i]


def test_cli_rejects_bad_territory(tmp_path, capsys):
    rc = cli_main(["generate", "-n", "5", "--seed", "1", "--today", "2025-06-30",
                   "--territory", "69123,6912", "-o", str(tmp_path / "x.csv")])
    assert rc == 2
    assert "'6912' is not an INSEE commune code" in capsys.readouterr().err


BUNDLED_NUMPY = "2.4."


def test_bundled_examples_match_the_readme_command():
    """examples/data is exactly what examples/data/README.md says to run (numpy-version bound)."""
    import numpy
    if not numpy.__version__.startswith(BUNDLED_NUMPY):
        pytest.skip(f"examples/data was generated with numpy {BUNDLED_NUMPY}.x; random streams may differ")
    table = generate_demandes(4000, seed=2025, today=TODAY, territories=TERRITORIES)
    expected = (EXAMPLES / "demandes.csv").read_text(encoding="utf-8")
    assert _csv(table) == expected, "regenerate examples/data with the command in its README"
    attr = read_attributions_csv(EXAMPLES / "attributions.csv")[0]
    again = generate_attributions(3000, seed=2025, today=TODAY, territories=TERRITORIES)
    assert attr.columns == again.columns


# ----------------------------------------------------------------------------- round trip

ROUND_TRIP_CASES = {
    "default": (dict(), TERRITORIES),
    "one territory": (dict(), TERRITORIES[1:2]),
    "pool and exterior": (dict(criteres_valides_pool=("dalo", "sans_logement", "handicap"),
                               communes_exterieures=("69381", "2A004")), TERRITORIES),
    "no extra column, no blanks": (dict(travailleur_essentiel=False, manquants={}), TERRITORIES),
    "corsica and overseas": (dict(), [["2A004", "2A041"], ["97411", "97415"]]),
}


@pytest.mark.parametrize("case", sorted(ROUND_TRIP_CASES))
def test_round_trip_through_canonical_csv(case):
    overrides, territories = ROUND_TRIP_CASES[case]
    table = generate_demandes(2000, seed=21, today=TODAY, territories=territories,
                              params=SynthParams(**overrides))
    result = read_demandes_stream(io.StringIO(_csv(table)), strict=True)
    assert result.rejects == [] and result.n_read == len(table) == 2000
    for c in COLUMNS:
        assert result.table.columns[c.name] == table.columns[c.name], c.name
    assert result.table.extras == table.extras


def test_round_trip_through_files(tmp_path, big):
    path = tmp_path / "d.csv"
    write_demandes_csv(big, path)
    result = read_demandes_csv(path)
    assert result.rejects == [] and result.n_accepted == N_BIG


def test_attributions_round_trip(tmp_path, big_attr):
    path = tmp_path / "a.csv"
    write_attributions_csv(big_attr, path)
    table, rejects, n_read = read_attributions_csv(path)
    assert rejects == [] and n_read == N_BIG
    assert table.columns == big_attr.columns


def test_empty_and_single():
    assert len(generate_demandes(0, seed=1, today=TODAY, territories=TERRITORIES)) == 0
    assert len(generate_attributions(0, seed=1, today=TODAY, territories=TERRITORIES)) == 0
    one = generate_demandes(1, seed=1, today=TODAY, territories=TERRITORIES)
    assert read_demandes_stream(io.StringIO(_csv(one)), strict=True).n_accepted == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**63), n=st.integers(0, 250),
       terr=st.lists(st.sampled_from(range(4)), min_size=1, max_size=4, unique=True),
       today=st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)))
def test_any_seed_reads_back_without_rejects(seed, n, terr, today):
    territories = [TERRITORIES[i] for i in terr]
    table = generate_demandes(n, seed=seed, today=today, territories=territories)
    result = read_demandes_stream(io.StringIO(_csv(table)), strict=True)
    assert result.n_accepted == n
    allowed = {c for t in territories for c in t}
    for row in table.rows():
        assert row["date_depot"] <= today
        assert set(row["localisations"]) <= allowed
        assert row["nb_personnes"] >= 1


# ----------------------------------------------------------------------------- calibration

def test_mutation_share_and_current_housing(big):
    c = big.columns
    assert _share(c["est_mutation"], bool) == pytest.approx(0.32, abs=0.01)
    pairs = [(m, s) for m, s in zip(c["est_mutation"], c["situation_logement"]) if s is not None]
    assert _share([s for m, s in pairs if m], lambda s: s == "locataire_hlm") > 0.9
    assert _share([s for m, s in pairs if not m], lambda s: s == "locataire_hlm") < 0.02


def test_household_mix_and_consistency(big):
    kinds = collections.Counter()
    for r in big.rows():
        a, e = r["nb_adultes"], r["nb_enfants"]
        if a is None or e is None:
            continue
        assert r["nb_personnes"] == a + e
        if a == 1:
            assert e <= 3 and r["date_naissance_conjoint"] is None
        if r["date_naissance_conjoint"] is not None:
            assert a == 2 and r["situation_familiale"] in (None, "marie", "pacse", "concubin")
        kinds["seul" if a == 1 and e == 0 else "monoparental" if a == 1 else "couple_autre"] += 1
    total = sum(kinds.values())
    assert kinds["seul"] / total == pytest.approx(0.45, abs=0.01)
    assert kinds["monoparental"] / total == pytest.approx(0.25, abs=0.01)
    assert kinds["couple_autre"] / total == pytest.approx(0.30, abs=0.01)


def test_typologies_mix_adjacent_and_sized(big):
    target = dict(chambre=0.01, T1=0.17, T2=0.30, T3=0.29, T4=0.17, T5=0.05, T6P=0.01)
    mix = collections.Counter()
    for typos, size in zip(big.columns["typologies"], big.columns["nb_personnes"]):
        assert 1 <= len(typos) <= 2
        idx = sorted(TYPOLOGIES.index(t) for t in typos)
        assert idx[-1] - idx[0] <= 1
        if size == 1:
            assert idx[0] <= TYPOLOGIES.index("T3")
        if size >= 5:
            assert idx[-1] >= TYPOLOGIES.index("T3")
        for t in typos:
            mix[t] += 1 / len(typos)
    for t, share in target.items():
        assert mix[t] / N_BIG == pytest.approx(share, abs=0.012), t


def test_income_against_2025_ceilings(big):
    """~75 % ≤ PLAI, ~20 % PLAI–PLUS, ~5 % above PLUS, with the §4.1 household categories."""
    def ceiling(table, cat):
        return table[min(cat, 6) - 1] + max(0, cat - 6) * table[6]

    bands = collections.Counter()
    for r in big.rows():
        rfr, a, e, h = (r["revenu_fiscal_reference"], r["nb_adultes"], r["nb_enfants"],
                        r["nb_personnes_handicap"])
        if None in (rfr, a, e, h) or (a == 2 and e == 0 and r["date_naissance"] is None):
            continue
        cat = r["nb_personnes"] + 1 if a == 1 and e > 0 else r["nb_personnes"]
        if a == 2 and e == 0 and r["date_naissance_conjoint"] is not None and (
                _years_between(r["date_naissance"], TODAY)
                + _years_between(r["date_naissance_conjoint"], TODAY) <= 55):
            cat = 3
        cat += h > 0
        bands["plai" if rfr <= ceiling(PLAI, cat) else "plus" if rfr <= ceiling(PLUS, cat)
              else "above"] += 1
    total = sum(bands.values())
    assert bands["plai"] / total == pytest.approx(0.75, abs=0.02)
    assert bands["plus"] / total == pytest.approx(0.20, abs=0.02)
    assert bands["above"] / total == pytest.approx(0.05, abs=0.015)


def test_anciennete_long_tail_and_dates(big):
    months = [_months_between(d, TODAY) for d in big.columns["date_depot"]]
    assert 10 <= statistics.median(months) <= 13
    assert _share(months, lambda m: m < 12) == pytest.approx(0.50, abs=0.03)
    assert _share(months, lambda m: m >= 60) > 0.01
    assert max(months) < 15 * 12
    for depot, renew, birth in zip(big.columns["date_depot"], big.columns["date_renouvellement"],
                                   big.columns["date_naissance"]):
        assert depot <= TODAY
        if renew is not None:
            assert depot < renew <= TODAY
        else:
            assert _months_between(depot, TODAY) < 12
        if birth is not None:
            assert _years_between(birth, depot) >= 18


def test_dalo_and_priority(big):
    c = big.columns
    statuses = collections.Counter(s for s in c["dalo_statut"] if s is not None)
    total = sum(statuses.values())
    assert statuses["actif"] / total == pytest.approx(0.025, abs=0.004)
    assert statuses["caduc"] > 0 and statuses["actif_reloge"] > 0
    assert _share(c["prioritaire"], bool) == pytest.approx(0.05, abs=0.006)
    for s, prio in zip(c["dalo_statut"], c["prioritaire"]):
        if s == "actif" and prio is not None:
            assert prio


def test_missing_values_and_rent_logic(big):
    c = big.columns
    assert 0.03 <= sum(v is None for v in c["ressources_mensuelles"]) / N_BIG <= 0.08
    assert sum(v == 0 for v in c["ressources_mensuelles"] if v is not None) > 0  # taux_effort n/a
    no_rent = ("sans_abri", "heberge_parents_enfants", "heberge_particulier", "squat",
               "structure_hebergement", "proprietaire")
    paying = 0
    for s, rent, aid in zip(c["situation_logement"], c["loyer_actuel"], c["aide_logement"]):
        if s in no_rent:
            assert rent is None and aid is None
        if s in ("locataire_hlm", "locataire_prive"):
            paying += rent is not None
            assert rent is None or rent > 0
        if rent is not None and aid is not None:
            assert 0 <= aid <= rent
    rented = sum(s in ("locataire_hlm", "locataire_prive") for s in c["situation_logement"])
    assert 0.92 <= paying / rented <= 0.97  # blanks on top of the structural ones


def test_motifs_and_refusals(big):
    c = big.columns
    sizes = collections.Counter(len(m) for m in c["motifs"])
    assert set(sizes) <= {0, 1, 2, 3} and sizes[0] / N_BIG < 0.02
    primo = [m for m, mut in zip(c["motifs"], c["est_mutation"]) if mut is False and m]
    mutation = [m for m, mut in zip(c["motifs"], c["est_mutation"]) if mut and m]
    assert _share(primo, lambda m: "sans_logement" in m) == pytest.approx(0.32, abs=0.05)
    assert _share(mutation, lambda m: "trop_petit" in m) == pytest.approx(0.30, abs=0.05)
    refus = collections.Counter(c["nb_refus_adaptes"])
    assert set(refus) <= {0, 1, 2} and refus[0] / N_BIG > 0.85 and refus[2] > 0
    for nb, last, depot in zip(c["nb_refus_adaptes"], c["date_dernier_refus_adapte"],
                               c["date_depot"]):
        assert (last is None) == (nb == 0)
        if last is not None:
            assert depot <= last <= TODAY and (TODAY - last).days <= 731


def test_localisations_within_territories(big):
    owner = {code: t for t, communes in enumerate(TERRITORIES) for code in communes}
    foreign = 0
    for locs, residence in zip(big.columns["localisations"], big.columns["commune_residence"]):
        assert 1 <= len(locs) <= 5 and len(set(locs)) == len(locs)
        home = {owner[code] for code in locs[:4]}
        if len(locs) == 5 or len(home) > 1:
            foreign += 1
            assert len({owner[code] for code in locs[:-1]}) == 1
            assert owner[locs[-1]] != owner[locs[0]]
        else:
            assert len(home) == 1
        assert residence is None or residence in owner
    assert foreign / N_BIG == pytest.approx(0.05, abs=0.008)


def test_numeros_uniques(big, big_attr):
    ids = big.columns["numero_unique"]
    assert len(set(ids)) == N_BIG
    depts = {"0" + c[:2] for t in TERRITORIES for c in t}
    for nu, depot in zip(ids[:2000], big.columns["date_depot"]):
        assert len(nu) == 18 and nu[:3] in depts
        assert nu[3:7] == f"{depot.month:02d}{depot.year % 100:02d}"  # month and year inside
    assert not set(ids) & set(big_attr.columns["numero_unique"])
    assert len(set(big_attr.columns["numero_unique"])) == N_BIG


def test_travailleur_essentiel_and_criteres_valides(big):
    values = collections.Counter(big.extras["travailleur_essentiel"])
    assert set(values) == {"true", "false", None}
    assert 0.1 < values["true"] / N_BIG < 0.35
    assert all(v == frozenset() for v in big.columns["criteres_valides"])
    pool = ("dalo", "sans_logement", "handicap", "violences")
    t = generate_demandes(3000, seed=2, today=TODAY, territories=TERRITORIES,
                          params=SynthParams(criteres_valides_pool=pool, travailleur_essentiel=False))
    assert "travailleur_essentiel" not in t.extras
    sets = t.columns["criteres_valides"]
    assert all(s <= set(pool) for s in sets)
    assert sum(len(s) for s in sets) / (3000 * len(pool)) == pytest.approx(0.3, abs=0.03)


def test_attribution_waits_are_skewed(big_attr):
    c = big_attr.columns
    waits = [(a - d).days / 30.4375 for a, d in zip(c["date_attribution"], c["date_depot"])]
    assert min(waits) > 0
    median, mean = statistics.median(waits), statistics.fmean(waits)
    assert median == pytest.approx(14.0, abs=1.0)
    assert mean / median == pytest.approx(1.45, abs=0.06)
    by_typo = collections.defaultdict(list)
    for t, w in zip(c["typologie"], waits):
        by_typo[t].append(w)
    t3 = statistics.median(by_typo["T3"])
    assert statistics.median(by_typo["T1"]) > 1.2 * t3 and statistics.median(by_typo["T5"]) > 1.2 * t3
    assert _share(c["est_mutation"], bool) == pytest.approx(0.28, abs=0.01)
    assert _share(c["qpv"], bool) == pytest.approx(0.31, abs=0.01)
    assert set(c["financement"]) == {"PLAI", "PLUS", "PLS"}
    assert TODAY - dt.timedelta(days=3 * 366) <= min(c["date_attribution"])
    assert max(c["date_attribution"]) <= TODAY
    assert set(c["commune"]) <= {code for t in TERRITORIES for code in t}


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("territories, message", [
    ([], "at least one territory"),
    ([["69123", "6912"]], "not an INSEE commune code"),
    ([["69123"], ["69123"]], "listed in territories 1 and 2"),
    (["69123"], "got a string"),
])
def test_bad_territories(territories, message):
    with pytest.raises(ValueError, match=message):
        generate_demandes(10, seed=1, today=TODAY, territories=territories)


@pytest.mark.parametrize("overrides, message", [
    (dict(part_mutation=1.5), "part_mutation"),
    (dict(typologies={"T7": 1.0}), "unknown code"),
    (dict(manquants={"numero_unique": 0.1}), "optional canonical column"),
    (dict(part_sous_plai=0.96), "part_sous_plai < part_sous_plus"),
    (dict(part_dalo_actif=0.2), "prioritaire"),
    (dict(financements={"PLAI": 1.0, "LLI": 1.0}), "unknown code"),
])
def test_bad_params(overrides, message):
    with pytest.raises(ValueError, match=message):
        SynthParams(**overrides)


def test_params_change_the_draw():
    p = dataclasses.replace(SynthParams(), part_mutation=0.45)
    t = generate_demandes(20_000, seed=3, today=TODAY, territories=TERRITORIES, params=p)
    assert _share(t.columns["est_mutation"], bool) == pytest.approx(0.45, abs=0.015)
    with pytest.raises(TypeError):
        generate_demandes(5, seed=1, today=dt.datetime(2025, 6, 30), territories=TERRITORIES)

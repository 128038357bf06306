"""Assiette, rotation and flux: Test A, A′ and the seed checks of flux.md §3–§5."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from fractions import Fraction

from flux_helpers import conventions_a, patrimoine_a

from cotation.flux.assiette import (
    compute_assiette, exclusion_code, exclusion_reasons, flux_from_counts
)
from cotation.flux.conventions import RotationSettings, Settings
from cotation.flux.model import DEFAULT_EXCLUSIONS, EXCLUSION_CODES, Evenement, Logement
from cotation.flux.rounding import pct_display
from cotation.flux.targets import compute_targets, simple_targets


def test_test_a_on_counts():
    f = flux_from_counts(9200, Fraction(810, 9000), 150, [150, 60, 0, 10])
    assert Fraction(810, 9000) == Fraction(9, 100)
    assert (f.liberations, f.flux_brut, f.flux_net) == (828, 978, 758)


def test_test_a_prime_on_counts():
    rate = Fraction(810, 9200)
    assert pct_display(rate) == "8.8043"
    f = flux_from_counts(9200, rate, 150, [150, 60, 0, 10])
    assert (f.liberations, f.flux_brut, f.flux_net) == (810, 960, 740)


def test_test_a_from_files():
    lgs, events = patrimoine_a()
    cf = conventions_a()
    a = compute_assiette(lgs, events, 2025, cf.settings, "83")
    assert a.patrimoine == 10_000
    assert a.exclusions == {"NON_CONVENTIONNE_PLI": 300, "ETUDIANT": 200, "DEFENSE_SECURITE": 50,
                            "ETABLISSEMENT_SANTE": 30, "VENTE": 120, "DEMOLITION": 100}
    assert a.base == 9200
    assert a.rotation_years[0]["denominator"] == 9000
    assert a.rotation == Fraction(9, 100)
    assert a.figures.liberations == 828
    assert a.figures.mises_en_service == 150
    assert a.figures.flux_brut == 978
    assert a.soustractions == {"MUTATION": 150, "ANRU": 60, "ORCOD": 0, "LHI": 10}
    assert a.flux_net == 758
    # The wrong bases give other figures: the test discriminates them.
    assert 9000 * Fraction(9, 100) != 828 and Fraction(810, 9200) != Fraction(9, 100)
    t = compute_targets(a, lgs, cf)
    assert t.totals == {"ETAT_PRIO": 189, "ETAT_AGENTS": 38, "AL": 265, "COMMUNE": 91, "DEPARTEMENT": 23,
                        "BAILLEUR": 152}
    assert t.exact["ETAT_PRIO"] == Fraction(3790, 20) and t.exact["COMMUNE"] == Fraction(9096, 100)


def test_test_a_prime_from_files():
    lgs, events = patrimoine_a()
    cf = conventions_a(**{"rotation: {base_date: start_of_prev_year}": "rotation: {base_date: end_of_prev_year}"})
    a = compute_assiette(lgs, events, 2025, cf.settings, "83")
    assert a.rotation == Fraction(810, 9200)
    assert (a.figures.liberations, a.figures.flux_brut, a.flux_net) == (810, 960, 740)
    t = compute_targets(a, lgs, cf)
    assert list(t.totals.values()) == [185, 37, 259, 89, 22, 148]


def test_trace_covers_every_figure():
    lgs, events = patrimoine_a()
    a = compute_assiette(lgs, events, 2025, conventions_a().settings, "83")
    postes = {}
    for t in a.trace:
        postes[t.poste] = postes.get(t.poste, 0) + 1
    assert postes["base"] == 9200
    assert postes["exclusion.VENTE"] == 120
    assert postes["mise_en_service"] == 150
    assert postes["rotation.departs.2024"] == 810
    rows = {r["poste"]: r for r in a.rows()}
    assert rows["rotation"]["affichage"] == "9.0000 %"
    assert rows["flux_net"]["valeur"] == "758"


def test_seed_occitanie_2023():
    f = flux_from_counts(15_000 - 500, Fraction(10, 100), 0, [450])
    assert f.flux_net == 1000
    assert simple_targets(1000, {"CD": 20})["CD"] == 200


def test_seed_paca_2023_rounds_down():
    f = flux_from_counts(5367, Fraction(5, 100))
    assert f.flux_net_exact == Fraction(26835, 100)
    assert f.flux_net == 268


def test_nearest_rounding_setting():
    assert flux_from_counts(5367, Fraction(5, 100), rounding="nearest").flux_net == 268
    assert flux_from_counts(11, Fraction(1, 2), rounding="nearest").flux_net == 6


def test_flux_negatif():
    lgs, events = patrimoine_a()
    cf = conventions_a(**{"MUTATION: 150": "MUTATION: 5000"})
    a = compute_assiette(lgs, events, 2025, cf.settings, "83")
    assert [i.code for i in a.issues] == ["FLUX_NEGATIF"]


def _lg(i: int, **kw) -> Logement:
    return Logement(f"X{i}", "83001", False, "T2", kw.pop("financement", "PLUS"),
                    mise_en_service=kw.pop("mes", dt.date(2000, 1, 1)), **kw)


def test_exclusion_codes_follow_table_order():
    assert exclusion_reasons(_lg(1, financement="PLI", status="vente")) == ["NON_CONVENTIONNE_PLI", "VENTE"]
    assert exclusion_code(_lg(2, category="chrs"), DEFAULT_EXCLUSIONS) == "FOYER_RESIDENCE_SOCIALE"
    assert exclusion_code(_lg(3, category="medico_social"), DEFAULT_EXCLUSIONS) == "MEDICO_SOCIAL"
    assert exclusion_code(_lg(4, status="reserve_sante"), DEFAULT_EXCLUSIONS) == "ETABLISSEMENT_SANTE"
    # AUTORISATION_PREFET is off by default and needs a dated authorisation.
    dated = _lg(5, status="autorisation_prefet", autorisation_date=dt.date(2024, 3, 1))
    assert exclusion_code(dated, DEFAULT_EXCLUSIONS) is None
    assert exclusion_code(dated, EXCLUSION_CODES) == "AUTORISATION_PREFET"
    assert exclusion_code(_lg(6, status="autorisation_prefet"), EXCLUSION_CODES) is None
    # A configured list without a code keeps those dwellings in the base.
    assert exclusion_code(_lg(7, category="etudiant"), ("VENTE",)) is None


def test_undated_authorisation_is_reported():
    lgs = [_lg(i) for i in range(3)] + [_lg(9, status="autorisation_prefet")]
    s = Settings(exclusions=EXCLUSION_CODES)
    a = compute_assiette(lgs, [], 2025, s)
    assert a.base == 4 and [i.code for i in a.issues][:1] == ["AUTORISATION_NON_DATEE"]


def _history(lgs, per_year: dict[int, int], kind: str = "LIBERATION") -> list[Evenement]:
    out = []
    for y, n in per_year.items():
        for lg in lgs[:n]:
            out.append(Evenement(f"{lg.id}-{y}", lg.id, dt.date(y, 6, 1), kind, line=len(out) + 2))
    return out


def test_three_year_window_sums_numerators_and_denominators():
    lgs = [_lg(i) for i in range(100)] + [_lg(100 + i, mes=dt.date(2023, 7, 1)) for i in range(20)]
    ev = _history(lgs, {2022: 5, 2023: 10, 2024: 12})
    s = Settings(rotation=RotationSettings(window_years=3))
    a = compute_assiette(lgs, ev, 2025, s)
    # Stock at the end of each year: 100, 120, 120.
    assert [y["denominator"] for y in a.rotation_years] == [100, 120, 120]
    assert a.rotation == Fraction(27, 340)


def test_mean_leases_method():
    lgs = [_lg(i) for i in range(100)]
    ev = _history(lgs, {2022: 6, 2023: 9, 2024: 12}, "BAIL_SIGNE")
    s = Settings(rotation=RotationSettings(method="mean_leases", window_years=3))
    a = compute_assiette(lgs, ev, 2025, s)
    assert a.rotation is None and a.figures.liberations == 9


def test_soustraction_mean_years():
    lgs = [_lg(i) for i in range(50)]
    ev = [Evenement(f"V{i}", lgs[i].id, dt.date(2022 + i % 3, 3, 1), "LIBERATION", soustraction="MUTATION",
                    line=i + 2) for i in range(7)]
    s = Settings(soustractions=(("MUTATION", ("mean", 3)), ("LHI", 2)))
    a = compute_assiette(lgs, ev, 2025, s)
    assert a.soustractions == {"MUTATION": Fraction(7, 3), "LHI": 2}


def test_formulas_of_the_assiette_table_are_in_french():
    """The ``formule`` column is French: the rotation's numerator and the rounding are named in
    French, not by their setting values (departures, entries, mean, floor, nearest)."""
    lgs, events = patrimoine_a()
    settings = conventions_a().settings
    a = compute_assiette(lgs, events, 2025, settings, "83")
    rows = {r["poste"]: r["formule"] for r in a.rows()}
    assert rows["rotation.numerateur.2024"].startswith("départs 2024 hors motifs ")
    assert rows["flux_net"] == "arrondi à l'entier inférieur"
    for numerator, word in (("entries", "entrées (baux signés) 2024"),
                            ("mean", "moyenne des départs et des entrées 2024")):
        s = replace(settings, rotation=replace(settings.rotation, numerator=numerator),
                    flux_rounding="nearest")
        rows = {r["poste"]: r["formule"] for r in compute_assiette(lgs, events, 2025, s, "83").rows()}
        assert rows["rotation.numerateur.2024"].startswith(word)
        assert rows["flux_net"] == "arrondi à l'entier le plus proche"

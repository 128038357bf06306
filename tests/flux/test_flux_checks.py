"""Legal checks (§1–§2, Test A negative cases, Test B) and conventions file errors."""
from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from flux_helpers import conventions_a, patrimoine_a

from cotation.flux.assiette import compute_assiette
from cotation.flux.checks import check_conventions, check_parties, etat_hors_qpv, validate
from cotation.flux.conventions import Settings, loads_conventions
from cotation.flux.errors import FluxInputError
from cotation.flux.model import BAILLEUR, Convention, Derogation, Segment, Selector
from cotation.flux.rounding import pct_display
from cotation.flux.targets import Party

ON = dt.date(2025, 1, 1)


def _codes(issues, severity=None):
    return [i.code for i in issues if severity is None or i.severity == severity]


def _validate(**replace):
    lgs, events = patrimoine_a()
    cf = conventions_a(**replace)
    a = compute_assiette(lgs, events, 2025, cf.settings, "83")
    return validate(a, {lg.id: lg for lg in lgs}, cf, ON)


def test_test_a_caps_pass():
    assert _codes(_validate(), "error") == []


def test_etat_over_30_is_an_error():
    issues = _validate(**{"percentage: 25,": "percentage: 26,"})
    assert "CAP_ETAT_30" in _codes(issues, "error")
    msg = next(i for i in issues if i.code == "CAP_ETAT_30").message
    assert "31 %" in msg and "30 %" in msg


def test_agents_over_5_is_an_error():
    issues = _validate(**{"percentage: 5,": "percentage: 6,", "percentage: 25,": "percentage: 24,"})
    assert _codes(issues, "error") == ["CAP_ETAT_AGENTS_5"]


DEROG = 'percentage: 26, derogations: [{start: "%s", end: "%s", motif: personnels de sécurité}],'


def test_valid_derogation_gives_a_warning():
    issues = _validate(**{"percentage: 25,": DEROG % ("2024-07-01", "2025-06-30")})
    assert _codes(issues, "error") == []
    assert "CAP_ETAT_30" in _codes(issues, "warning")


def test_derogation_longer_than_one_year():
    issues = _validate(**{"percentage: 25,": DEROG % ("2024-07-01", "2025-07-01")})
    assert "DEROG_TOO_LONG" in _codes(issues, "error")
    assert "CAP_ETAT_30" in _codes(issues, "error")   # an invalid derogation covers nothing


def test_inactive_derogation_does_not_cover():
    issues = _validate(**{"percentage: 25,": DEROG % ("2023-01-01", "2023-12-31")})
    assert "CAP_ETAT_30" in _codes(issues, "error")


def test_derogation_length_boundary():
    assert not Derogation(dt.date(2025, 1, 1), dt.date(2025, 12, 31)).too_long()
    assert Derogation(dt.date(2025, 1, 1), dt.date(2026, 1, 1)).too_long()
    assert not Derogation(dt.date(2024, 2, 29), dt.date(2025, 2, 28)).too_long()


def _etat(pct=30, segments=(), stipulations=()):
    c = Convention("CE", "EP", Fraction(pct), segments=tuple(segments), stipulations=frozenset(stipulations))
    return [Party("EP", "ETAT_PRIO", "Préfet", (c,)), Party(BAILLEUR, "BAILLEUR", "bailleur")]


QPV_FLUX = {(True,): Fraction(303), (False,): Fraction(455)}


def test_test_b_uniform():
    r = etat_hors_qpv(_etat(), QPV_FLUX, ("qpv",))
    assert r["etat_total"] == Fraction("227.4") and r["etat_hors_qpv"] == Fraction("136.5")
    assert pct_display(r["A"], 2) == "60.03" and r["B"] == Fraction(30, 100)
    for reading in "AB":
        assert check_parties(_etat(), QPV_FLUX, ("qpv",), Settings(qpv_reading=reading), ON) == []


SEGMENTS = [Segment(Selector(qpv=True), Fraction(45)), Segment(Selector(qpv=False), Fraction(20))]


def test_test_b_stipulated():
    parties = _etat(segments=SEGMENTS)
    r = etat_hors_qpv(parties, QPV_FLUX, ("qpv",))
    assert r["etat_total"] == Fraction("227.35") and r["etat_hors_qpv"] == 91
    assert pct_display(r["A"], 2) == "40.03" and r["B"] == Fraction(20, 100)
    assert _codes(check_parties(parties, QPV_FLUX, ("qpv",), Settings(qpv_reading="A"), ON), "error") == []
    issues = check_parties(parties, QPV_FLUX, ("qpv",), Settings(qpv_reading="B"), ON)
    assert _codes(issues, "error") == ["ETAT_HORS_QPV_30"]
    assert "20 %" in issues[0].message and "reading B" in issues[0].message
    # The same convention stipulating the derogation passes.
    parties = _etat(segments=SEGMENTS, stipulations=["hors_qpv", "non_uniforme"])
    assert check_parties(parties, QPV_FLUX, ("qpv",), Settings(qpv_reading="B"), ON) == []


def test_etat_non_uniforme_is_a_warning():
    segs = [Segment(Selector(commune=frozenset({"83001"})), Fraction(35))]
    flux = {("83001",): Fraction(100), ("83008",): Fraction(100)}
    issues = check_parties(_etat(pct=20, segments=segs), flux, ("commune",), Settings(), ON)
    assert _codes(issues) == ["ETAT_NON_UNIFORME"] and _codes(issues, "error") == []


def test_collectivites_guarantee_cap():
    commune = Convention("CC", "COM", Fraction(15), perimeter=Selector(commune=frozenset({"83001"})),
                         garantie_emprunt=Fraction(15))
    dep = Convention("CD", "DEP", Fraction(8), garantie_emprunt=Fraction(8))
    parties = [Party("COM", "COLLECTIVITE", "Commune", (commune,)),
               Party("DEP", "COLLECTIVITE", "Département", (dep,)), Party(BAILLEUR, "BAILLEUR", "b")]
    flux = {("83001",): Fraction(50), ("83008",): Fraction(50)}
    issues = check_parties(parties, flux, ("commune",), Settings(), ON)
    assert _codes(issues) == ["CAP_COLLECTIVITES_GARANTIE_20"]
    assert issues[0].context["reservataire"] == "COM"
    off = Settings(cap_collectivites_enabled=False)
    assert check_parties(parties, flux, ("commune",), off, ON) == []


def test_sum_over_100():
    lgs, events = patrimoine_a()
    cf = conventions_a(**{"percentage: 35,": "percentage: 60,"})
    from cotation.flux.targets import compute_targets
    a = compute_assiette(lgs, events, 2025, cf.settings, "83")
    t = compute_targets(a, lgs, cf)
    assert [i.code for i in t.issues] == ["SUM_GT_100"] and not t.valid
    assert sum(t.totals.values()) == 758


def test_scale_and_missing_conventions():
    cf = loads_conventions("""
version: 1
bailleur: {id: B, nom: Bailleur, departement: "83"}
reservataires:
  - {id: AL, nom: Action Logement, type: ACTION_LOGEMENT}
  - {id: EMP, nom: Employeur, type: EMPLOYEUR}
  - {id: ETAT, nom: Préfet, type: ETAT_PRIO}
  - {id: VILLE, nom: Ville, type: COLLECTIVITE}
conventions:
  - {id: A1, reservataire: AL, percentage: 10, start: "2024-01-01", end: "2026-12-31", signed_on: "2023-10-01"}
  - {id: A2, reservataire: AL, percentage: 5, start: "2025-06-01", signed_on: "2023-10-01"}
  - {id: E1, reservataire: EMP, percentage: 2, start: "2020-01-01", end: "2023-11-23"}
  - {id: P1, reservataire: ETAT, percentage: 25, start: "2024-01-01", signed_on: "2023-11-10"}
  - {id: V1, reservataire: AL, percentage: 1, perimeter: {communes: ["83001"]}, start: "2024-01-01", k: 5}
  - {id: P2, reservataire: ETAT, percentage: 1, perimeter: {communes: ["83008"]}, start: "2024-01-01", k: 1}
""")
    issues = check_conventions(cf, ON)
    assert _codes(issues) == ["ONE_CONVENTION_PER_SCALE", "PERIMETRE_NON_DEPARTEMENTAL",
                              "PERIMETRE_NON_DEPARTEMENTAL", "SHORTLIST_K", "SANS_CONVENTION",
                              "SANS_CONVENTION", "PREFET_SIGNE_APRES", "PREFET_SIGNE_APRES"]
    assert next(i for i in issues if i.code == "SHORTLIST_K").context == {"convention": "V1", "k": 5}
    sans = [i.context["reservataire"] for i in issues if i.code == "SANS_CONVENTION"]
    assert sans == ["EMP", "VILLE"]


BASE = """version: 1
bailleur: {id: B, nom: Bailleur}
reservataires:
  - {id: AL, nom: Action Logement, type: ACTION_LOGEMENT}
conventions:
  - id: C1
    reservataire: AL
    percentage: 30
"""


@pytest.mark.parametrize("extra, line, words", [
    ("    pourcentage: 12\n", 9, "clé inconnue 'pourcentage'"),
    ("    decompte: signature\n", 9, "non autorisée"),
    ("    start: 2025-13-45\n", 9, "date invalide"),
    ("    percentage: 40\n", 9, "en double"),
])
def test_conventions_errors_carry_lines(monkeypatch, extra, line, words):
    monkeypatch.setenv("COTATION_LANG", "fr")  # checks the French messages users see
    with pytest.raises(FluxInputError) as exc:
        loads_conventions(BASE + extra, "conv.yaml")
    msg = str(exc.value)
    assert msg.startswith(f"conv.yaml:{line}:")
    assert words in msg


def test_unknown_reservataire_reference():
    with pytest.raises(FluxInputError) as exc:
        loads_conventions(BASE.replace("reservataire: AL", "reservataire: ALS"), "conv.yaml")
    assert "conv.yaml:7:" in str(exc.value) and "ALS" in str(exc.value)


def test_exact_fraction_percentages():
    cf = loads_conventions(BASE.replace("percentage: 30", 'percentage: "1500/84"'))
    assert cf.conventions[0].percentage == Fraction(1500, 84)
    cf = loads_conventions(BASE.replace("percentage: 30", "percentage: 8.8043"))
    assert cf.conventions[0].percentage == Fraction("8.8043")


def test_report_setting_is_flagged_not_ignored():
    cf = conventions_a(**{"settings:\n": "settings:\n  report: true\n"})
    assert [i.code for i in check_conventions(cf, ON)] == ["REPORT_NON_GERE"]


def test_qpv_default_follows_the_seeds_wording():
    """USH slides: "Hors QPV, la part du contingent préfectoral ne peut être inférieure à 30 % du
    flux annuel" is reading B, the default; reading A stays a setting."""
    assert Settings().qpv_reading == "B"
    parties = _etat(segments=SEGMENTS)
    assert _codes(check_parties(parties, QPV_FLUX, ("qpv",), Settings(), ON), "error") == ["ETAT_HORS_QPV_30"]
    base = "version: 1\nbailleur: {id: B, nom: b}\nreservataires: []\nconventions: []\n"
    assert loads_conventions(base).settings.qpv_reading == "B"
    assert loads_conventions(base + "settings: {qpv_reading: A}\n").settings.qpv_reading == "A"


_AL = """version: 1
bailleur: {id: B, nom: b, departement: "83"}
reservataires:
  - {id: AL, nom: Action Logement, type: ACTION_LOGEMENT}
  - {id: COM, nom: Commune, type: COLLECTIVITE}
conventions:
  - {id: C-AL, reservataire: AL, droits_uniques: {total: 100, annees: 10}, requalification: %s}
  - {id: C-COM, reservataire: COM, volume: 12, garantie_emprunt: true, garantie_fin_pret: "2019-06-30"}
"""


def test_action_logement_requalification_check():
    low = check_conventions(loads_conventions(_AL % 25), ON)
    assert "REQUALIFICATION_AL_30" in _codes(low, "warning")
    assert "REQUALIFICATION_AL_30" not in _codes(check_conventions(loads_conventions(_AL % 30), ON))


def test_loan_guarantee_rights_last_five_years_after_the_loan():
    cf = loads_conventions(_AL % 30)
    com = cf.conventions[1]
    assert com.garantie_fin_droits == dt.date(2024, 6, 30)
    assert com.in_force(dt.date(2024, 6, 30)) and not com.in_force(dt.date(2024, 7, 1))
    assert "GARANTIE_ECHUE" in _codes(check_conventions(cf, ON), "warning")
    assert "GARANTIE_ECHUE" not in _codes(check_conventions(cf, dt.date(2024, 1, 1)))


def test_volume_and_droits_uniques_conventions_become_shares_of_the_flux(monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")  # checks the French messages users see
    from cotation.flux.conversion import resolve_quantities
    cf = resolve_quantities(loads_conventions(_AL % 30), 100)
    # 100 droits uniques over 10 years on a flux of 100 = 10 %; 12 dwellings a year = 12 %.
    assert [c.percentage for c in cf.conventions] == [Fraction(10), Fraction(12)]
    assert [c.percentage for c in resolve_quantities(loads_conventions(_AL % 30), 0).conventions] == [0, 0]
    with pytest.raises(FluxInputError, match="s'excluent"):
        loads_conventions(_AL.replace("droits_uniques:", "percentage: 5, droits_uniques:") % 30)

"""Décompte (§10): Test E, the PACA drop check, options, and charging invariants."""
from __future__ import annotations

import datetime as dt

import pytest
from flux_helpers import EXPECTED_E, events_e
from hypothesis import given, settings, strategies as st

from cotation.flux.decompte import charge_vacancy, charges, charges_by_year, resolve_holders
from cotation.flux.generate import generate
from cotation.flux.inputs import by_vacancy
from cotation.flux.model import STEPS, Evenement


@pytest.mark.parametrize("step", STEPS)
def test_test_e(step):
    ch = charges(by_vacancy(events_e()), step)
    years = charges_by_year(ch.values())
    for rid, (n2025, n2026) in EXPECTED_E[step].items():
        assert years.get(2025, {}).get(rid, 0) == n2025, (step, rid, 2025)
        assert years.get(2026, {}).get(rid, 0) == n2026, (step, rid, 2026)
    # Every vacancy counts once over the two years.
    assert sum(1 for c in ch.values() if c is not None) == 7


def test_test_e_details():
    vac = by_vacancy(events_e())
    # L4's second offer does not count twice; L3's refusal does not undo its charge.
    l4 = charge_vacancy(vac["L4"], "mise_a_disposition")
    assert (l4.reservataire, l4.date) == ("AL", dt.date(2025, 2, 1))
    l3 = charge_vacancy(vac["L3"], "attribution")
    assert (l3.reservataire, l3.date) == ("COMMUNE", dt.date(2025, 2, 10))
    # L2: the default of designation charges at the deadline whatever the step.
    l2 = charge_vacancy(vac["L2"], "bail_signe")
    assert (l2.reservataire, l2.date, l2.step) == ("ETAT", dt.date(2025, 2, 14), "defaut_designation")
    # Without the option, the bailleur's candidate signs and the bailleur is charged.
    l2 = charge_vacancy(vac["L2"], "bail_signe", defaut_designation=False)
    assert l2.reservataire == "BAILLEUR"


def test_refus_adapte_option():
    ev = [Evenement("V", "L", dt.date(2025, 1, 1), "MISE_A_DISPOSITION", "AL", line=1),
          Evenement("V", "L", dt.date(2025, 2, 1), "PRESENTATION_CALEOL", "AL", decision="attribution", line=2),
          Evenement("V", "L", dt.date(2025, 2, 9), "REFUS", "AL", adapte=True, line=3),
          Evenement("V", "L", dt.date(2025, 2, 10), "RETOUR_BAILLEUR", "AL", line=4),
          Evenement("V", "L", dt.date(2025, 3, 1), "BAIL_SIGNE", None, line=5)]
    assert charge_vacancy(ev, "bail_signe").reservataire == "BAILLEUR"
    ch = charge_vacancy(ev, "bail_signe", refus_adapte=True)
    assert (ch.reservataire, ch.step) == ("AL", "refus_adapte")


def test_mixed_steps_follow_each_convention():
    ev = by_vacancy(events_e())
    steps = {"AL": "bail_signe", "ETAT": "attribution", "COMMUNE": "mise_a_disposition", "BAILLEUR": "bail_signe"}
    got = {vid: (c.reservataire, c.date.year) if c else None for vid, c in charges(ev, steps).items()}
    assert got == {"L1": ("AL", 2025), "L2": ("ETAT", 2025), "L3": ("COMMUNE", 2025), "L4": ("AL", 2025),
                   "L5": ("ETAT", 2026), "L6": ("ETAT", 2025), "L7": ("COMMUNE", 2025)}


def test_holders_are_resolved():
    ev = [Evenement("V", "L", dt.date(2025, 1, 1), "MISE_A_DISPOSITION", "AL", line=1),
          Evenement("V", "L", dt.date(2025, 2, 1), "PRESENTATION_CALEOL", None, decision="non_attribution", line=2),
          Evenement("V", "L", dt.date(2025, 2, 3), "RETOUR_BAILLEUR", "AL", line=3),
          Evenement("V", "L", dt.date(2025, 3, 1), "BAIL_SIGNE", None, line=4)]
    assert [e.reservataire for e in resolve_holders(ev)] == ["AL", "AL", "AL", "BAILLEUR"]


def test_seed_paca_drop_check():
    """1 000 distinct vacancies made available, 800 attributed: 1 000 vs 800 charges."""
    ev = []
    for i in range(1000):
        ev.append(Evenement(f"V{i}", f"L{i}", dt.date(2025, 3, 1), "MISE_A_DISPOSITION", "AL", line=2 * i))
        decision = "attribution" if i < 800 else "non_attribution"
        ev.append(Evenement(f"V{i}", f"L{i}", dt.date(2025, 4, 1), "PRESENTATION_CALEOL", "AL",
                            decision=decision, line=2 * i + 1))
    vac = by_vacancy(ev)
    assert charges_by_year(charges(vac, "mise_a_disposition").values())[2025]["AL"] == 1000
    assert charges_by_year(charges(vac, "attribution").values())[2025]["AL"] == 800


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000))
def test_charged_at_most_once(seed):
    b = generate(seed, 300, 2025)
    vac = by_vacancy(b.events)
    steps = b.conventions.step_of(dt.date(2025, 1, 1))
    ch = charges(vac, steps)
    # One charge per vacancy by construction; and no dwelling is charged twice in a year.
    per_dwelling_year: dict[tuple[str, int], int] = {}
    for vid, c in ch.items():
        if c is None:
            continue
        key = (vac[vid][0].logement_id, c.date.year)
        per_dwelling_year[key] = per_dwelling_year.get(key, 0) + 1
        assert c.vacance_id == vid
    assert all(n == 1 for n in per_dwelling_year.values())

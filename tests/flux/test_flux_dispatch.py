"""Dispatch (§8, §11): Test D, filters, quotas, returns, audit replay and properties."""
from __future__ import annotations

import dataclasses
import datetime as dt
import random
from fractions import Fraction

from hypothesis import given, settings, strategies as st

from cotation.flux.assiette import compute_assiette
from cotation.flux.conventions import Bailleur, ConventionFile, Settings
from cotation.flux.decompte import charges, charges_by_year
from cotation.flux.inputs import by_vacancy
from cotation.flux.dispatch import Dispatcher, run_dispatch, verify_audit
from cotation.flux.model import BAILLEUR, Convention, Evenement, Logement, Programme, Selector
from cotation.flux.targets import Party, Targets, compute_targets

DAY = dt.date(2025, 1, 1)
LG = Logement("X", "83001", False, "T3", "PLUS")
TYPES_D = {"EP": "ETAT_PRIO", "EA": "ETAT_AGENTS", "AL": "ACTION_LOGEMENT", "C": "COLLECTIVITE", BAILLEUR: "BAILLEUR"}
TARGETS_D = {"EP": 5, "EA": 1, "AL": 7, "C": 3, BAILLEUR: 4}
SHORT = {"EP": "ÉP", "EA": "ÉA", "AL": "AL", "C": "C", BAILLEUR: "B"}


def test_test_d_sequence():
    d = Dispatcher.simple(TARGETS_D, TYPES_D)
    picks = [SHORT[d.decide(f"V{i}", LG, DAY)["choice"]] for i in range(20)]
    assert picks == "AL ÉP B C AL ÉP AL B ÉA AL ÉP C B AL ÉP AL C B ÉP AL".split()
    tie = d.records[9]
    assert {x["id"]: x["d"] for x in tie["parties"] if x["d"] == "1/2"} == {"EP": "1/2", "AL": "1/2", "C": "1/2"}
    assert tie["choice"] == "AL" and tie["tie_break"] == ["T"]
    assert d.counts() == TARGETS_D
    assert verify_audit(d.records) == []


def test_audit_record_holds_every_figure():
    d = Dispatcher.simple(TARGETS_D, TYPES_D)
    rec = d.decide("V0", LG, DAY)
    assert (rec["F"], rec["n"], rec["rule"], rec["choice"]) == (20, 0, "DEFICIT", "AL")
    assert [(x["id"], x["T"], x["D"], x["d"]) for x in rec["parties"]] == [
        ("EP", 5, 0, "1/4"), ("EA", 1, 0, "1/20"), ("AL", 7, 0, "7/20"), ("C", 3, 0, "3/20"), (BAILLEUR, 4, 0, "1/5")]


def test_verify_detects_tampering():
    d = Dispatcher.simple(TARGETS_D, TYPES_D)
    for i in range(8):
        d.decide(f"V{i}", LG, DAY)
    recs = [dict(r) for r in d.records]
    recs[3] = dict(recs[3], choice="EA")
    problems = verify_audit(recs)
    assert problems and "choix EA" in problems[0]


def _party(rid: str, typ: str, **kw) -> Party:
    return Party(rid, typ, rid, (Convention(f"C-{rid}", rid, Fraction(10), **kw),))


def test_commune_excluding_t5_never_gets_t5():
    no_t5 = Selector(typologie=frozenset({"T5"}))
    parties = [_party("EP", "ETAT_PRIO"), _party("C", "COLLECTIVITE", exclusions=no_t5),
               Party(BAILLEUR, "BAILLEUR", "b")]
    d = Dispatcher(parties, {"EP": 3, "C": 10, BAILLEUR: 2})
    rng = random.Random(3)
    got = []
    for i in range(60):
        lg = Logement(f"L{i}", "83001", False, rng.choice(["T2", "T3", "T5"]), "PLUS")
        rec = d.decide(f"V{i}", lg, DAY)
        got.append((lg.typologie, rec["choice"]))
        if lg.typologie == "T5":
            why = {"id": "C", "reason": "EXCLUSION_TYPOLOGIE", "T": 10, "D": d.counts().get("C", 0)}
            assert why in rec["excluded"]
    assert all(c != "C" for t, c in got if t == "T5")
    assert any(c == "C" for t, c in got if t != "T5")
    assert verify_audit(d.records) == []


def test_perimeter_and_segment_quotas():
    com = _party("C", "COLLECTIVITE", perimeter=Selector(commune=frozenset({"83001"})))
    parties = [_party("AL", "ACTION_LOGEMENT"), com, Party(BAILLEUR, "BAILLEUR", "b")]
    seg = {(True,): {"AL": 1, "C": 1, BAILLEUR: 0}, (False,): {"AL": 1, "C": 0, BAILLEUR: 1}}
    d = Dispatcher(parties, {"AL": 2, "C": 1, BAILLEUR: 1}, seg, segment_by=("qpv",), enforce_quotas=True)
    outside = Logement("O", "83008", True, "T3", "PLUS")
    rec = d.decide("V1", outside, DAY)
    assert {"id": "C", "reason": "HORS_PERIMETRE", "T": 1, "D": 0} in rec["excluded"] and rec["choice"] == "AL"
    rec = d.decide("V2", outside, DAY)
    assert rec["choice"] == BAILLEUR and rec["rule"] == "BAILLEUR_PAR_DEFAUT"   # AL quota reached, C outside
    assert {x["reason"] for x in rec["excluded"]} == {"QUOTA_ATTEINT", "HORS_PERIMETRE"}
    assert rec["segment"] == {"qpv": True}
    assert verify_audit(d.records) == []


def test_return_without_charge_gives_the_slot_back():
    d = Dispatcher.simple({"AL": 1, BAILLEUR: 1}, {"AL": "ACTION_LOGEMENT"})
    assert d.decide("V1", LG, DAY)["choice"] == "AL"
    rec = d.hand_back("V1", "AL", DAY, charged=False)
    assert rec["effet"] == "D-1" and d.counts() == {"AL": 0}
    assert d.decide("V2", LG, DAY)["choice"] == "AL"
    assert d.hand_back("V2", "AL", DAY, charged=True)["effet"] == "aucun"
    assert d.hand_back("V9", "AL", DAY, charged=False)["effet"] == "aucun"
    assert verify_audit(d.records) == []


def test_programme_neuf_first_letting_then_deficit():
    """§11: a programme of 10 split AL 4 / État 3 / Commune 2 / bailleur 1; cycle 2 goes through §8."""
    prog = Programme("P1", tuple(f"N{i:02d}" for i in range(10)),
                     (("AL", 4), ("ETAT", 3), ("COMMUNE", 2), (BAILLEUR, 1)))
    assign = prog.assignment()
    assert [assign[f"N{i:02d}"] for i in range(10)] == ["AL"] * 4 + ["ETAT"] * 3 + ["COMMUNE"] * 2 + [BAILLEUR]
    d = Dispatcher.simple({"AL": 3, "ETAT": 3, "COMMUNE": 2, BAILLEUR: 2},
                          {"AL": "ACTION_LOGEMENT", "ETAT": "ETAT_PRIO", "COMMUNE": "COLLECTIVITE"})
    for lid, rid in assign.items():
        d.assign(f"{lid}-0", Logement(lid, "83001", False, "T3", "PLUS"), DAY, rid)
    # Charged at the mise à disposition that follows each first-letting orientation.
    mads = [Evenement(r["vacance_id"], r["logement_id"], DAY, "MISE_A_DISPOSITION", r["choice"], line=i)
            for i, r in enumerate(d.records)]
    firsts = charges_by_year(charges(by_vacancy(mads), "mise_a_disposition").values())[2025]
    assert firsts == {"AL": 4, "ETAT": 3, "COMMUNE": 2, BAILLEUR: 1}
    second = d.decide("N00-1", Logement("N00", "83001", False, "T3", "PLUS"), dt.date(2025, 9, 1))
    assert second["type"] == "orientation" and second["rule"] == "DEFICIT" and second["n"] == 10
    assert verify_audit(d.records) == []


def test_programme_from_conventions_in_a_replay(small_bailleur):
    b = small_bailleur
    lgs = {lg.id: lg for lg in b.logements}
    a = compute_assiette(b.logements, b.events, 2025, b.conventions.settings, "83")
    t = compute_targets(a, lgs, b.conventions)
    res = run_dispatch(lgs, b.events, b.conventions, t, a.excluded, 2025, departement="83")
    assign = {lid: rid for p in b.conventions.programmes for lid, rid in p.assignment().items()}
    progs = [r for r in res.records if r["type"] == "programme_neuf"]
    assert progs and all(assign[r["logement_id"]] == r["choice"] for r in progs)
    assert verify_audit(res.records) == []
    kinds = {r["type"] for r in res.records}
    assert {"orientation", "hors_flux", "soustraction", "programme_neuf", "retour"} <= kinds
    # The generated MAD events were made by the same dispatcher: replaying agrees everywhere.
    assert all(res.observed[v] == c for v, c in res.orientations().items())


target_maps = st.dictionaries(st.sampled_from(["EP", "EA", "AL", "C", "D", "E1", "E2"]), st.integers(0, 25),
                              min_size=1, max_size=7)
types_st = st.sampled_from(["ETAT_PRIO", "ETAT_AGENTS", "ACTION_LOGEMENT", "COLLECTIVITE", "EMPLOYEUR", "AUTRE"])


@settings(max_examples=150, deadline=None)
@given(target_maps, st.integers(0, 25), st.data())
def test_counts_reach_targets_and_stay_within_one(targets, bailleur, data):
    targets = dict(targets, **{BAILLEUR: bailleur})
    F = sum(targets.values())
    if F == 0:
        return
    types = {r: data.draw(types_st) for r in targets if r != BAILLEUR}
    d = Dispatcher.simple(targets, types)
    for n in range(1, F + 1):
        d.decide(f"V{n}", LG, DAY)
        D = d.counts()
        for r, t in targets.items():
            # "Within one" holds almost always; the spec warns that slightly more occurs
            # (see test_prefix_deviation_can_exceed_one), so the bound asserted is looser.
            assert abs(D.get(r, 0) - Fraction(t * n, F)) < Fraction(3, 2)
    assert {r: d.counts().get(r, 0) for r in targets} == targets
    assert verify_audit(d.records) == []


def _replay(targets: dict[str, int], lgs: dict[str, Logement], events: list[Evenement]) -> list[dict]:
    """run_dispatch over ``events`` as rows of an events file in this order (line numbers
    follow the list), with plain targets; parties other than AL and EP exclude T5, so which
    vacancy comes first in a day changes the choices, not only the order of the records."""
    parties = tuple(
        Party(r, "BAILLEUR", r) if r == BAILLEUR else _party(
            r, "AUTRE", **({} if r in ("AL", "EP") else {"exclusions": Selector(typologie=frozenset({"T5"}))}))
        for r in targets)
    tg = Targets(year=2025, flux_net=sum(targets.values()), segment_by=(), parties=parties, cell_flux={},
                 cells={}, exact={}, totals=dict(targets))
    cf = ConventionFile(bailleur=Bailleur("B", "bailleur"), settings=Settings(), reservataires=(),
                        conventions=())
    rows = [dataclasses.replace(e, line=i + 2) for i, e in enumerate(events)]
    return run_dispatch(lgs, rows, cf, tg, {}, 2025).records


@settings(max_examples=40, deadline=None)
@given(target_maps, st.permutations(list(range(13))))
def test_same_inputs_same_decisions(targets, perm):
    """Decisions depend on the vacancies, not on the order rows come in the events file:
    run_dispatch orders them itself (by date; on one day returns first, then vacancies by id),
    whatever the file order and line numbers. Vacancies come three a day, and a return to the
    bailleur falls on a day with vacancies."""
    targets = dict(targets, **{BAILLEUR: 3})
    lgs = {f"L{i}": Logement(f"L{i}", "83001", i % 2 == 0, ("T2", "T3", "T5")[i % 3], "PLUS") for i in range(12)}
    libs = [Evenement(f"V{i:02d}", f"L{i}", dt.date(2025, 2, 1 + i // 3), "LIBERATION", origine="ROTATION")
            for i in range(12)]
    first = _replay(targets, lgs, libs[:1])[0]["choice"]      # V00 is the year's first vacancy
    back = Evenement("V00", "L0", dt.date(2025, 2, 2), "RETOUR_BAILLEUR", reservataire=first)
    events = libs + [back]
    records = _replay(targets, lgs, events)
    assert [r["vacance_id"] for r in records] == [f"V{i:02d}" for i in range(3)] + ["V00"] + [
        f"V{i:02d}" for i in range(3, 12)]
    assert records[3]["type"] == "retour" and records[3]["effet"] == "D-1"
    assert records == _replay(targets, lgs, [events[i] for i in perm])
    assert records == _replay(targets, lgs, events[::-1])
    assert verify_audit(records) == []


def test_within_one_on_test_d():
    d = Dispatcher.simple(TARGETS_D, TYPES_D)
    for n in range(1, 21):
        d.decide(f"V{n}", LG, DAY)
        assert all(abs(d.counts().get(r, 0) - Fraction(t * n, 20)) <= 1 for r, t in TARGETS_D.items())


def test_prefix_deviation_can_exceed_one():
    """Documented limit of the §8 rule (flux.md: |d| "slightly above 1" occurs): with these
    targets the bailleur is 30/29 behind its exact share after 17 picks, and still ends on target."""
    targets = {"R0": 12, "R2": 3, "R3": 1, "R4": 1, BAILLEUR: 12}
    d = Dispatcher.simple(targets, {r: "AUTRE" for r in targets if r != BAILLEUR})
    for n in range(1, 18):
        d.decide(f"V{n}", LG, DAY)
    assert d.counts()[BAILLEUR] - Fraction(12 * 17, 29) == Fraction(-30, 29)
    for n in range(18, 30):
        d.decide(f"V{n}", LG, DAY)
    assert d.counts() == targets

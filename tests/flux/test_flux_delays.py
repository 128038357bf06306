"""Designation delays (§10): the seeds' delays through ``cotation flux echeances`` and ``bilan``.

Occitanie 2023: 5 jours ouvrés, 10 jours calendaires (one month's notice), 1 mois (three
months' notice), 3 mois before a mise en service; PACA 2023: the DDETS 13 validates within
5 days, one month to designate. Data: ``examples/flux/delais`` (figures copied from the seeds; shipped as an example).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from cotation.cli import main
from cotation.flux.conventions import load_conventions
from cotation.flux.delays import add_months, deadline, derive_defaults, is_working_day
from cotation.flux.inputs import read_evenements, read_logements
from cotation.flux.model import Delai

D = Path(__file__).resolve().parents[2] / "examples" / "flux" / "delais"
ARGS = ["--logements", str(D / "logements.csv"), "--conventions", str(D / "conventions.yaml"),
        "--evenements", str(D / "evenements.csv")]


def test_jours_ouvres_across_a_weekend_and_a_public_holiday():
    five = Delai("r", "reponse", 5, "jours_ouvres")
    # Thursday 17 April 2025: Friday, (weekend), (Easter Monday 21 April), Tue, Wed, Thu, Fri.
    assert deadline(dt.date(2025, 4, 17), five) == dt.date(2025, 4, 25)
    # The same count from Thursday 10 April, with no holiday, ends on Thursday 17 April.
    assert deadline(dt.date(2025, 4, 10), five) == dt.date(2025, 4, 17)
    # Tuesday 6 May: 8 May (Victoire 1945) is skipped.
    assert deadline(dt.date(2025, 5, 6), five) == dt.date(2025, 5, 14)
    # Good Friday is a public holiday in Moselle only.
    assert not is_working_day(dt.date(2025, 4, 18), "57") and is_working_day(dt.date(2025, 4, 18), "31")
    assert deadline(dt.date(2025, 4, 17), five, "57") == dt.date(2025, 4, 28)


def test_calendar_days_and_months():
    assert deadline(dt.date(2025, 4, 17), Delai("d", "designation", 10, "jours_calendaires")) == dt.date(2025, 4, 27)
    assert deadline(dt.date(2025, 1, 31), Delai("m", "designation", 1, "mois")) == dt.date(2025, 2, 28)
    assert deadline(dt.date(2025, 9, 15), Delai("n", "transmission", 3, "mois")) == dt.date(2025, 6, 15)
    assert add_months(dt.date(2024, 12, 31), 2) == dt.date(2025, 2, 28)


def _echeances(capsys, today: str, *extra: str) -> list[dict]:
    assert main(["flux", "echeances", *ARGS, "--today", today, *extra]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_echeances_of_the_seeds_delays(capsys):
    rows = _echeances(capsys, "2025-06-20")
    got = {(r["vacance_id"], r["delai"]): (r["duree"], r["echeance"], r["statut"], r["jours_restants"]) for r in rows}
    assert got == {
        # Occitanie, one month's notice: 5 jours ouvrés (Easter Monday skipped), 10 jours calendaires.
        ("V1", "reponse"): ("5 jours ouvrés", "2025-04-25", "respecte", ""),
        ("V1", "dossiers"): ("10 jours calendaires", "2025-04-27", "respecte", ""),
        ("V2", "reponse"): ("5 jours ouvrés", "2025-05-14", "depasse", ""),
        ("V2", "dossiers"): ("10 jours calendaires", "2025-05-16", "depasse", ""),
        # Occitanie, three months' notice: 1 mois calendaire (31 January → 28 February).
        ("V3", "dossiers_3m"): ("1 mois", "2025-02-28", "hors_delai", ""),
        # Occitanie, new dwelling: details 3 mois before the mise en service of 15 September.
        ("V4", "neuf"): ("3 mois", "2025-06-15", "respecte", ""),
        # PACA, DDETS 13: validation within 5 days, then one month to designate.
        ("V5", "validation"): ("5 jours calendaires", "2025-03-08", "respecte", ""),
        ("V5", "designation"): ("1 mois", "2025-04-03", "respecte", ""),
        ("V6", "validation"): ("5 jours calendaires", "2025-05-31", "depasse", ""),
        ("V6", "designation"): ("1 mois", "2025-06-26", "a_venir", "6"),
        ("V7", "reponse"): ("5 jours ouvrés", "2025-03-17", "respecte", ""),
        ("V7", "dossiers"): ("10 jours calendaires", "2025-03-20", "depasse", ""),
    }
    assert [r["echeance"] for r in rows] == sorted(r["echeance"] for r in rows)
    late = _echeances(capsys, "2025-06-20", "--statut", "depasse")
    assert {(r["vacance_id"], r["delai"]) for r in late} == {("V2", "reponse"), ("V2", "dossiers"),
                                                              ("V6", "validation"), ("V7", "dossiers")}


def test_a_passed_designation_deadline_derives_a_default_and_an_explicit_one_wins():
    lgs = {lg.id: lg for lg in read_logements(D / "logements.csv")}
    cf = load_conventions(D / "conventions.yaml")
    events = read_evenements(D / "evenements.csv", logements=lgs)
    _, derived = derive_defaults(events, lgs, cf, dt.date(2025, 6, 20))
    # V2: no designation by 16 May; V7 carries an explicit default (14 March) which wins.
    assert [(e.vacance_id, e.due) for e in derived] == [("V2", dt.date(2025, 5, 16))]
    # Before the deadline nothing is derived.
    assert derive_defaults(events, lgs, cf, dt.date(2025, 5, 16))[1] == []


def test_bilan_counts_defaults_and_delays(tmp_path, capsys):
    assert main(["flux", "bilan", *ARGS, "--year", "2025", "--today", "2025-06-20", "-o", str(tmp_path)]) == 0
    b = json.loads((tmp_path / "bilan.json").read_text(encoding="utf-8"))
    rows = {r["reservataire"]: r for r in b["reservataires"]}
    # CD31 counts at the signed lease: only the two defaults (V2 derived, V7 explicit) are charged.
    assert (rows["CD31"]["defauts_designation"], rows["CD31"]["decomptes"]) == (2, 2)
    assert b["delais"]["defauts_derives"] == {"CD31": 1}
    assert b["delais"]["par_reservataire"]["CD31"] == {"respecte": 4, "hors_delai": 1, "a_venir": 0,
                                                        "depasse": 3, "retour_bailleur": 0}
    assert b["delais"]["par_reservataire"]["ETAT"]["a_venir"] == 1


@pytest.mark.parametrize("management, expected", [("direct", 1), ("delegue", 0)])
def test_delegated_management_has_no_designation_default(tmp_path, management, expected):
    text = (D / "conventions.yaml").read_text(encoding="utf-8").replace(
        "    decompte: bail_signe\n", f"    decompte: bail_signe\n    management: {management}\n")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    lgs = {lg.id: lg for lg in read_logements(D / "logements.csv")}
    events = read_evenements(D / "evenements.csv", logements=lgs)
    _, derived = derive_defaults(events, lgs, load_conventions(tmp_path / "c.yaml"), dt.date(2025, 6, 20))
    assert len(derived) == expected


_REPORT_EVENTS = """vacance_id,logement_id,date,evenement,reservataire,candidat,decision,motif,origine,soustraction,adapte,preavis_mois
V1,L1,2025-04-01,LIBERATION,,,,DEPART,ROTATION,,,1
V1,L1,2025-04-17,MISE_A_DISPOSITION,CD31,,,,,,,
V2,L2,2025-04-10,LIBERATION,,,,DEPART,ROTATION,,,1
V2,L2,2025-04-28,MISE_A_DISPOSITION,CD31,,,,,,,
V3,L3,2025-03-10,LIBERATION,,,,DEPART,ROTATION,,,3
V3,L3,2025-06-14,MISE_A_DISPOSITION,CD31,,,,,,,
"""


@pytest.mark.parametrize("setting, expected", [
    # Default (flux.md and the seeds say nothing): a calendar deadline stays where it falls.
    (None, {"V1": "2025-04-27", "V2": "2025-05-08", "V3": "2025-07-14"}),
    # Setting: Sunday 27 April → Monday 28; Thursday 8 May (Victoire 1945) → Friday 9;
    # Monday 14 July (fête nationale) → Tuesday 15.
    ("jour_ouvre_suivant", {"V1": "2025-04-28", "V2": "2025-05-09", "V3": "2025-07-15"}),
    ("aucun", {"V1": "2025-04-27", "V2": "2025-05-08", "V3": "2025-07-14"}),
])
def test_calendar_deadline_on_a_weekend_or_public_holiday(tmp_path, capsys, setting, expected):
    text = (D / "conventions.yaml").read_text(encoding="utf-8")
    if setting is not None:
        text = text.replace("reservataires:\n", f"settings:\n  delais:\n    report_jour_non_ouvre: {setting}\n"
                                                "reservataires:\n", 1)
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "e.csv").write_text(_REPORT_EVENTS, encoding="utf-8")
    assert main(["flux", "echeances", "--logements", str(D / "logements.csv"), "--conventions",
                 str(tmp_path / "c.yaml"), "--evenements", str(tmp_path / "e.csv"), "--today", "2025-08-01"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    due = {r["vacance_id"]: r["echeance"] for r in rows if r["type"] == "designation"}
    assert due == expected
    # Jours ouvrés already end on a working day: the 5-day answer of V1 is the same either way.
    assert {r["echeance"] for r in rows if r["vacance_id"] == "V1" and r["type"] == "reponse"} == {"2025-04-25"}


def test_deadline_roll_counts_backwards_for_a_transmission():
    three = Delai("neuf", "transmission", 3, "mois")
    # 3 months before Wednesday 15 October 2025 is Tuesday 15 July; before 14 October 2025
    # it is Monday 14 July (public holiday): moved back to Friday 11 July, never later.
    assert deadline(dt.date(2025, 10, 14), three) == dt.date(2025, 7, 14)
    assert deadline(dt.date(2025, 10, 14), three, "31", "jour_ouvre_suivant") == dt.date(2025, 7, 11)
    assert deadline(dt.date(2025, 10, 15), three, "31", "jour_ouvre_suivant") == dt.date(2025, 7, 15)

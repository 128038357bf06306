"""Input files: every bad row is reported as file:line, nothing is skipped silently."""
from __future__ import annotations

import io

import pytest

from cotation.flux.errors import FluxInputError
from cotation.flux.inputs import read_evenements, read_logements, write_evenements, write_logements

LOG_HEADER = "id,commune,qpv,typologie,financement,category,status,mise_en_service\n"


def _problems(fn, text, **kw):
    with pytest.raises(FluxInputError) as exc:
        fn(io.StringIO(text), "f.csv", **kw)
    return [str(p) for p in exc.value.problems]


def test_logements_ok_and_round_trip():
    text = LOG_HEADER + "L1,83001,true,T3,PLUS,,,1990-01-01\nL2,2A004,non,T7,PLAI,foyer,vente,\n"
    lgs = read_logements(io.StringIO(text), "f.csv")
    assert [(lg.id, lg.qpv, lg.typologie, lg.category, lg.status) for lg in lgs] == [
        ("L1", True, "T3", "familial", "en_service"), ("L2", False, "T6P", "foyer", "vente")]
    buf = io.StringIO()
    write_logements(lgs, buf)
    again = read_logements(io.StringIO(buf.getvalue()), "g.csv")
    assert [(a.id, a.commune, a.mise_en_service) for a in again] == [(b.id, b.commune, b.mise_en_service) for b in lgs]


def test_logements_bad_rows_are_all_reported(monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")  # checks the French messages users see
    text = LOG_HEADER + ("L1,83001,true,T3,PLUS,,,\n"
                         "L2,8300,true,T3,PLUS,,,\n"
                         "L3,83001,peut-être,T3,PLUS,,,\n"
                         "L4,83001,true,T12,PLUS,,,\n"
                         "L5,83001,true,T3,PLUSS,,,\n"
                         "L1,83001,true,T3,PLUS,,,\n"
                         "L6,83001,true,T3,PLUS,,,2020-02-30\n"
                         "L7,83001,true\n")
    p = _problems(read_logements, text)
    assert [x.split(":")[1] for x in p] == ["3", "4", "5", "6", "7", "8", "9"]
    assert "colonne commune" in p[0] and "INSEE" in p[0]
    assert "booléen" in p[1] and "typologie" in p[2] and "financement" in p[3]
    assert "en double (première occurrence ligne 2)" in p[4]
    assert "date" in p[5] and "3 cellules" in p[6]


def test_logements_header_problems(monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")  # checks the French messages users see
    p = _problems(read_logements, "id,commune,qpv,typo\n")
    assert p[0].startswith("f.csv:1:") and "typologie" in p[0] and "financement" in p[0]
    assert "inconnue" in p[1] and "typo" in p[1]


EV_HEADER = "vacance_id,logement_id,date,evenement,reservataire,decision,soustraction\n"


def test_events_bad_rows(monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")  # checks the French messages users see
    lgs = {lg.id: lg for lg in read_logements(io.StringIO(LOG_HEADER + "L1,83001,true,T3,PLUS,,,\n"), "l.csv")}
    text = EV_HEADER + ("V1,L1,2025-01-01,LIBERATION,,,\n"
                        "V1,L1,2025-01-02,MISE_A_DISPOSITION,,,\n"
                        "V1,L1,2025-01-03,PRESENTATION_CALEOL,AL,,\n"
                        "V1,L1,2025-01-04,SIGNATURE,AL,,\n"
                        "V1,L9,2025-01-05,BAIL_SIGNE,AL,,\n"
                        "V1,L1,2025-01-05,BAIL_SIGNE,XX,,\n"
                        "V1,L1,2025-01-06,LIBERATION,,,\n"
                        "V2,L1,2025-01-06,LIBERATION,,,PRET\n")
    p = _problems(read_evenements, text, logements=lgs, reservataires={"AL", "BAILLEUR"})
    assert [x.split(":")[1] for x in p] == ["3", "4", "5", "6", "7", "8", "9"]
    assert "doit nommer le réservataire" in p[0]
    assert "décision" in p[1]
    assert "SIGNATURE" in p[2]
    assert "L9" in p[3] and "XX" in p[4]
    assert "deuxième LIBERATION" in p[5] and "soustraction" in p[6]


def test_events_round_trip_keeps_order():
    text = EV_HEADER + ("V1,L1,2025-01-01,LIBERATION,,,MUTATION\n"
                        "V1,L1,2025-01-02,MISE_A_DISPOSITION,AL,,\n"
                        "V1,L1,2025-01-09,PRESENTATION_CALEOL,AL,attribution,\n")
    ev = read_evenements(io.StringIO(text), "e.csv")
    assert ev[0].origine == "ROTATION" and ev[0].soustraction == "MUTATION" and ev[2].line == 4
    buf = io.StringIO()
    write_evenements(ev, buf)
    assert read_evenements(io.StringIO(buf.getvalue()), "e2.csv") == ev

"""Bilans (§12): Test E's table, invariants, breakdown sums, report."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from flux_helpers import CONVENTIONS_E, EXPECTED_E, events_e, logements_e
from hypothesis import given, settings, strategies as st

from cotation.flux.assiette import compute_assiette
from cotation.flux.bilan import COUNTS, DIMENSIONS, compute_bilan
from cotation.flux.conventions import loads_conventions
from cotation.flux.generate import generate
from cotation.flux.model import STEPS
from cotation.flux.report import render_html
from cotation.flux.targets import compute_targets

Y25 = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
Y26 = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def _bilan_e(step: str, period=Y25, **kw):
    cf = loads_conventions(CONVENTIONS_E.replace("STEP", step))
    return compute_bilan(logements_e(), events_e(), cf, *period, **kw)


def _row(b, rid):
    return next(r for r in b.rows if r["reservataire"] == rid)


@pytest.mark.parametrize("step", STEPS)
def test_test_e_bilan_equals_its_table(step):
    b25, b26 = _bilan_e(step), _bilan_e(step, Y26)
    for rid, (n25, n26) in EXPECTED_E[step].items():
        # The convention's own step and the four comparison columns agree with the table.
        assert _row(b25, rid)["decomptes"] == n25
        assert _row(b26, rid)["decomptes"] == n26
        assert _row(b25, rid)[f"decompte_{step}"] == n25
        assert _row(b26, rid)[f"decompte_{step}"] == n26


def test_test_e_counts_all_steps_whatever_the_convention():
    b = _bilan_e("bail_signe")
    al, etat, com = _row(b, "AL"), _row(b, "ETAT"), _row(b, "COMMUNE")
    assert [al[f"decompte_{s}"] for s in STEPS] == [2, 2, 2, 2]
    assert [etat[f"decompte_{s}"] for s in STEPS] == [3, 2, 2, 1]
    assert [com[f"decompte_{s}"] for s in STEPS] == [2, 2, 1, 1]
    assert al["mises_a_disposition"] == 2            # L4's second offer is not a new one
    assert etat["defauts_designation"] == 1 and etat["retours_bailleur"] == 1
    assert com["refus"] == 1 and com["non_attributions"] == 1 and com["attributions"] == 1
    assert _row(b, "BAILLEUR")["baux_signes"] == 2   # L2 and L6


def test_charged_plus_uncharged_equals_vacancies():
    for step in STEPS:
        for period in (Y25, Y26):
            b = _bilan_e(step, period)
            charged = sum(r["decomptes"] for r in b.rows)
            assert charged + b.vacances["non_decomptees"] == b.vacances["dans_le_flux"]
            for s in STEPS:
                assert sum(r[f"decompte_{s}"] for r in b.rows) + b.vacances[f"non_decomptees_{s}"] == \
                    b.vacances["dans_le_flux"]


def test_intermediate_bilan_same_code_path():
    cf = loads_conventions(CONVENTIONS_E.replace("STEP", "mise_a_disposition"))
    h1 = compute_bilan(logements_e(), events_e(), cf, dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    h2 = compute_bilan(logements_e(), events_e(), cf, dt.date(2025, 7, 1), dt.date(2025, 12, 31))
    year = _bilan_e("mise_a_disposition")
    assert not h1.annual and year.annual
    for rid in ("AL", "ETAT", "COMMUNE"):
        assert _row(h1, rid)["decomptes"] + _row(h2, rid)["decomptes"] == _row(year, rid)["decomptes"]


def test_late_annual_bilan_warns():
    assert [i.code for i in _bilan_e("attribution", generated_on=dt.date(2026, 3, 1)).issues] == ["BILAN_TARDIF"]
    assert _bilan_e("attribution", generated_on=dt.date(2026, 2, 28)).issues == []


def _check_breakdowns(b):
    for dim in DIMENSIONS:
        for row in b.rows:
            parts = [x for x in b.breakdowns[dim] if x["reservataire"] == row["reservataire"]]
            for c in COUNTS:
                assert sum(x[c] for x in parts) == row[c], (dim, row["reservataire"], c)


def test_test_e_breakdowns_sum_to_rows():
    _check_breakdowns(_bilan_e("bail_signe"))


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([None, (3, 31), (7, 15)]))
def test_generated_bilans_are_additive(seed, cut):
    b = generate(seed, 400, 2025)
    lgs = {lg.id: lg for lg in b.logements}
    a = compute_assiette(b.logements, b.events, 2025, b.conventions.settings, "83")
    t = compute_targets(a, lgs, b.conventions)
    start, end = Y25 if cut is None else (dt.date(2025, 1, 1), dt.date(2025, *cut))
    bl = compute_bilan(lgs, b.events, b.conventions, start, end, targets=t, assiette=a)
    _check_breakdowns(bl)
    charged = sum(r["decomptes"] for r in bl.rows)
    assert charged + bl.vacances["non_decomptees"] == bl.vacances["dans_le_flux"]
    v = bl.vacances
    assert v["dans_le_flux"] + v["soustraites"] + v["hors_flux"] == v["vacances"]


def test_html_report_is_self_contained(small_bailleur):
    b = small_bailleur
    lgs = {lg.id: lg for lg in b.logements}
    a = compute_assiette(b.logements, b.events, 2025, b.conventions.settings, "83")
    t = compute_targets(a, lgs, b.conventions)
    bl = compute_bilan(lgs, b.events, b.conventions, *Y25, targets=t, assiette=a, generated_on=dt.date(2026, 2, 1))
    html = render_html(bl)
    assert html.count("<svg") >= 6 and "<script" not in html
    # No external asset: the only URL is the SVG namespace.
    assert set(re.findall(r'https?://[^"\s<]+', html)) == {"http://www.w3.org/2000/svg"}
    assert render_html(bl) == html
    assert "Annexe bailleur" in html and "lecture A" in html


def test_html_report_from_an_override_folder(tmp_path):
    bl = _bilan_e("attribution")
    (tmp_path / "bilan_header.html").write_text(
        "<p class=\"epci\">Bailleur Test — {{ view.kind }}</p>\n", encoding="utf-8")
    (tmp_path / "bilan_footer.html").write_text("<address>Service gestion en flux, 1 rue du Port</address>\n",
                                                encoding="utf-8")
    plain, custom = render_html(bl), render_html(bl, templates=tmp_path)
    assert '<p class="epci">Bailleur Test — annuel</p>' in custom and "<address>Service gestion" in custom
    assert "epci" not in plain and custom.replace(
        '<p class="epci">Bailleur Test — annuel</p>\n', "").replace(
        "<address>Service gestion en flux, 1 rue du Port</address>\n", "") == plain
    out, again = tmp_path / "out", tmp_path / "again"
    bl.write(out, templates=tmp_path)
    bl.write(again)
    assert (out / "bilan.html").read_text(encoding="utf-8") == custom
    for name in ("bilan.json", "bilan.csv", "bilan_ventilation.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_html_report_is_autoescaped():
    bl = _bilan_e("attribution")
    bl.rows[0]["nom"] = "<script>x</script>"
    html = render_html(bl)
    assert "<script" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_bilan_json_holds_numbers_and_nulls_not_display_text(tmp_path):
    import json
    bl = _bilan_e("attribution")
    bl.write(tmp_path)
    rows = json.loads((tmp_path / "bilan.json").read_text(encoding="utf-8"))["reservataires"]
    figures = ("cible", "cible_flux_realise", "attendu_a_date", "realisation_pct", "deficit",
               "retard_a_date")
    for row in rows:
        for k in figures:
            assert row[k] is None or type(row[k]) in (int, float), (k, row[k])
    # the same values as the CSV's text, one by one
    import csv
    with open(tmp_path / "bilan.csv", encoding="utf-8") as fh:
        text = {r["reservataire"]: r for r in csv.DictReader(fh)}
    for row in rows:
        for k in figures:
            cell = text[row["reservataire"]][k]
            assert (row[k] is None) == (cell == "") and (cell == "" or float(cell) == row[k])
    # with targets on a realised flux (the deadlines example): figures are numbers
    from pathlib import Path

    from cotation.cli import main
    d = Path(__file__).resolve().parents[2] / "examples" / "flux" / "delais"
    assert main(["flux", "bilan", "--logements", str(d / "logements.csv"), "--conventions",
                 str(d / "conventions.yaml"), "--evenements", str(d / "evenements.csv"),
                 "--year", "2025", "--today", "2025-06-20", "-o", str(tmp_path / "d")]) == 0
    rows = json.loads((tmp_path / "d" / "bilan.json").read_text(encoding="utf-8"))["reservataires"]
    assert {r["reservataire"]: r["attendu_a_date"] for r in rows} == {"ETAT": 0.0, "CD31": 0.0, "BAILLEUR": 7.0}
    assert all(r["realisation_pct"] is None or isinstance(r["realisation_pct"], float) for r in rows)

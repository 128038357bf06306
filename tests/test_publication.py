"""The published grid (cotation publish, publication_html), the statement's values used, missing
information and refusal effect, and the PDF engine's choice (no browser needed here)."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from cotation.cli import main
from cotation.data.table import DemandeTable
from cotation.engine import score
from cotation.grid import load_grid
from cotation.info.positioning import position
from cotation.info.publication import publication_html
from cotation.info.statements import statement_for

ROOT = Path(__file__).resolve().parents[1]
GRIDS = sorted(p for p in (ROOT / "grids").glob("*.yaml") if not p.name.endswith(".cases.yaml"))
_RAW = re.compile(r"\b([a-z]+_[a-z0-9_]+|[A-Z]{2,}_[A-Z0-9_]+|None|True|False)\b|formule de la grille")


def _text(page: str) -> str:
    page = re.sub(r"<(style|title)>.*?</\1>", " ", page, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", page).replace("&#39;", "'").split())


@pytest.mark.parametrize("path", GRIDS, ids=lambda p: p.stem)
def test_every_criterion_in_words_with_commune_names(path):
    grid = load_grid(path)
    page = publication_html(grid)
    assert page == publication_html(grid)               # deterministic
    text = _text(page)
    for c in grid.ir.criteria:
        assert c.label.replace("'", "&#39;") in page or c.label in text, c.label
    assert grid.ir.version in text and grid.ir.territory_name in text
    assert "L441-1" in text and "points égaux" in text and "refus" in text
    assert not _RAW.search(text), _RAW.search(text).group(0)
    named = re.findall(r"[A-ZÉ][\w' -]+ \((\d[\dAB]\d{3})\)", text)
    assert set(grid.ir.communes) <= set(named)          # every commune of the territory, by name


def test_source_is_shown_and_names_override(tmp_path):
    src = (ROOT / "grids" / "lyon-metropole.yaml").read_text(encoding="utf-8")
    src = src.replace('    section: "Priorités légales (art. L441-1 CCH)"\n    legal_priority: true\n'
                      '    validation: commission\n',
                      '    section: "Priorités légales (art. L441-1 CCH)"\n    legal_priority: true\n'
                      '    validation: commission\n    source: "Art. L441-1 CCH ; délibération CIL du 12/12/2023"\n', 1)
    grid = load_grid(tmp_path / "g.yaml", text=src)
    assert grid.ir.criteria[0].source.startswith("Art. L441-1")
    page = publication_html(grid, commune_names={"69123": "Lyon (ville)"})
    assert "Fondement : Art. L441-1 CCH ; délibération CIL du 12/12/2023" in page
    assert "Lyon (ville) (69123)" in page


def test_publish_command_writes_html_and_refuses_unknown_pdf_engine(tmp_path, monkeypatch, capsys):
    out = tmp_path / "grille.html"
    assert main(["publish", str(ROOT / "grids" / "nice-bonus-malus.yaml"), "-o", str(out),
                 "--today", "2025-06-30"]) == 0
    assert "document établi le 30 juin 2025" in out.read_text(encoding="utf-8")
    capsys.readouterr()
    monkeypatch.setenv("COTATION_PDF", "aucun")
    assert main(["publish", str(ROOT / "grids" / "nice-bonus-malus.yaml"), "-o", str(tmp_path / "g.pdf")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "COTATION_PDF" in err[0] and not (tmp_path / "g.pdf").exists()


def test_no_pdf_engine_is_one_french_line(monkeypatch):
    from cotation import pdf
    monkeypatch.setattr(pdf, "find_chromium", lambda: None)
    monkeypatch.setattr(pdf, "_has_weasyprint", lambda: False)
    monkeypatch.delenv("COTATION_PDF", raising=False)
    monkeypatch.setenv("COTATION_LANG", "fr")
    with pytest.raises(pdf.PdfError, match="impossible de produire un PDF : installer Chromium"):
        pdf.pdf_engine()


TODAY = dt.date(2025, 1, 15)


def _statement(record: dict):
    grid = load_grid(ROOT / "tests" / "grids" / "spec_example.yaml")
    table = DemandeTable.from_records([record], parse=True)
    st = score(grid.ir, table, TODAY, explain=True)
    return statement_for(position(grid.ir, st, table, None, TODAY), 0).to_dict()


def test_missing_income_is_said_and_values_used_are_shown():
    base = {"numero_unique": "NU000000000000MISS", "date_depot": "2024-01-10", "est_mutation": "false",
            "nb_personnes": "1", "nb_adultes": "1", "localisations": "69123", "typologies": "T1",
            "loyer_actuel": "500"}
    doc = _statement(base)
    c = {x["id"]: x for x in doc["criteria"]}["taux_effort"]
    assert c["missing_text"].startswith("information manquante : ressources mensuelles")
    doc = _statement({**base, "ressources_mensuelles": "1000"})
    c = {x["id"]: x for x in doc["criteria"]}["taux_effort"]
    assert "missing_text" not in c and c["values_text"] == "Valeur retenue : taux d'effort : 50,0\u00a0%"


def test_refusal_effect_is_computed_for_this_demande():
    doc = _statement({"numero_unique": "NU00000000000REFU", "date_depot": "2024-01-10",
                      "est_mutation": "false", "nb_personnes": "1", "localisations": "69123",
                      "typologies": "T1"})
    p = doc["positions"][0]
    assert p["refusal_score"] < p["score"]              # a refusal would cost points today
    assert doc["refusal"]["effect_text"].startswith("Calculé pour votre demande aujourd'hui : si vous "
                                                    "refusiez un logement adapté, vos points passeraient de")


def test_pdf_normalisation_keeps_offsets_and_order():
    """Dates fixed and tagged-PDF node ids renumbered in order, at the same byte length."""
    from cotation.pdf import _fixed_dates
    raw = (b"/CreationDate (D:20261205071500+00'00')\n/ID (node00000027)\n/ID (node00000062)\n"
           b"/Names [(node00000027) 1 0 R (node00000028) 2 0 R (node00000062) 3 0 R]\n/ID (node00000028)")
    out = _fixed_dates(raw)
    assert len(out) == len(raw)
    assert out == (b"/CreationDate (D:20000101000000+00'00')\n/ID (node00000001)\n/ID (node00000003)\n"
                   b"/Names [(node00000001) 1 0 R (node00000002) 2 0 R (node00000003) 3 0 R]\n"
                   b"/ID (node00000002)")

"""SNE web-service XML (interfaceNuu 02.00/02.01)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cotation.data.table import StrictModeError
from sne_adapters import read_demandes
from sne_adapters.sne_xml import read_sne_xml

from _adapt_helpers import FIXTURES, assert_accounted

# shared/ sits beside the repository in CI, not in users' clones.
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def test_reads_the_real_sample():
    path = SHARED / "fixtures" / "sne" / "interfaceNuu-v0200-sample.xml"
    if not path.is_file():
        pytest.skip("../shared/fixtures/sne is not beside the repository")
    res = read_demandes(path)
    assert_accounted(res)
    assert (res.n_read, res.n_accepted, res.rejects) == (1, 1, [])
    row = res.table.row(0)
    assert row["numero_unique"] == "1110318016982G1104"
    assert row["date_depot"] == dt.date(2018, 3, 15)
    assert row["situation_logement"] == "locataire_prive" and row["est_mutation"] is False
    assert (row["nb_adultes"], row["nb_enfants"], row["nb_personnes"]) == (2, 4, 6)
    assert row["nb_personnes_logement_actuel"] == 5
    assert row["situation_familiale"] == "marie" and row["situation_pro"] == "cdi_fonctionnaire"
    assert row["date_naissance_conjoint"] == dt.date(1975, 2, 1)
    assert (row["commune_residence"], row["commune_travail"]) == ("75113", "75056")
    assert row["revenu_fiscal_reference"] == 20000
    assert row["ressources_mensuelles"] == 4010 + 3165 - 120 - 30
    assert (row["loyer_actuel"], row["surface_actuelle"], row["typologie_actuelle"]) == (1000.0, 50.0, "T3")
    assert res.details["interface_version"] == "02.00"
    assert res.details["elements_unknown"] == {}
    ignored = res.details["elements_ignored"]
    assert ignored["demandeLogement/personnePhysique/demandeur/nom"] == 1
    assert ignored["demandeLogement/personnePhysique/demandeur/listeRessourceRecue/detailRessource/ressource"] == 14
    assert set(res.unmapped_columns) == set(ignored)


def test_hand_made_0201_with_broken_rows():
    res = read_demandes(FIXTURES / "sne_v0201.xml")
    assert_accounted(res)
    assert (res.n_read, res.n_accepted) == (5, 1)
    row = res.table.row(0)
    assert row["motifs"] == frozenset({"trop_cher", "trop_petit"})
    assert row["typologies"] == frozenset({"T3", "T4"})
    assert row["localisations"] == ("69123", "69266")
    assert row["dalo_statut"] == "actif" and row["date_renouvellement"] == dt.date(2024, 3, 28)
    assert row["est_mutation"] is True and row["situation_logement"] == "locataire_hlm"
    assert (row["nb_adultes"], row["nb_enfants"]) == (2, 1)
    assert row["ressources_mensuelles"] == 1420.5
    by_line = {r.line: r for r in res.rejects}
    assert by_line[83].value == "XYZ" and "modeleLogement" in by_line[83].reason
    assert "not a date" in by_line[92].reason
    assert by_line[99].reason == "duplicated numero_unique (first at line 7)"
    assert by_line[112].reason == "unknown motif code '77'"
    assert res.details["elements_unknown"] == {
        "demande/radiation": 1, "demandeLogement/personnePhysique/demandeur/handicap": 1}
    with pytest.raises(StrictModeError) as err:
        read_sne_xml(FIXTURES / "sne_v0201.xml", strict=True)
    assert err.value.reject.line == 83


def test_truncated_file_rejects_the_open_demande():
    res = read_demandes(FIXTURES / "sne_truncated.xml")
    assert_accounted(res)
    assert (res.n_read, res.n_accepted, len(res.rejects)) == (2, 1, 1)
    assert res.rejects[0].numero_unique == "0691232400002G0002"
    assert "truncated" in res.rejects[0].reason
    assert "source_error" in res.details
    with pytest.raises(StrictModeError):
        read_demandes(FIXTURES / "sne_truncated.xml", strict=True)


def test_wrong_encoding_is_reported():
    res = read_demandes(FIXTURES / "sne_latin1_declared_utf8.xml")
    assert_accounted(res)
    assert res.n_accepted == 0 and "not well-formed" in res.details["source_error"]


def test_unsupported_version_and_non_sne_xml(tmp_path):
    with pytest.raises(ValueError, match="version '03.00' is not supported"):
        read_demandes(FIXTURES / "sne_bad_version.xml")
    other = tmp_path / "x.xml"
    other.write_text("<?xml version='1.0'?><root/>")
    with pytest.raises(ValueError, match="expected <interfaceNuu>"):
        read_demandes(other)


def test_streaming_many_demandes(tmp_path):
    """Many demandes in one file: each cleared after use, all counted."""
    src = (FIXTURES / "sne_v0201.xml").read_text(encoding="utf-8")
    head, rest = src.split("<ns1:demande>", 1)
    one = "<ns1:demande>" + rest.split("</ns1:demande>", 1)[0] + "</ns1:demande>\n"
    body = "".join(one.replace("0691232400001G0001", f"0691232400001G{i:04d}") for i in range(300))
    path = tmp_path / "many.xml"
    path.write_text(head + body + "</ns1:interfaceNuu>\n", encoding="utf-8")
    res = read_demandes(path)
    assert (res.n_read, res.n_accepted, res.rejects) == (300, 300, [])
    assert res.details["elements_unknown"]["demandeLogement/personnePhysique/demandeur/handicap"] == 300


def _one_demande_xml(path: Path, logement: str = "", persons: str = "",
                     depot: str = "2020-01-01") -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ns1:interfaceNuu versionInterface="02.00" xmlns:ns1="http://nuu.application.i2/">\n'
        "<ns1:demande><ns1:demandeLogement>\n"
        "<ns1:numUnique>069123200001G0001</ns1:numUnique>\n"
        f"<ns1:dateCreationDemande>{depot}</ns1:dateCreationDemande>\n"
        "<ns1:personnePhysique><ns1:demandeur/>\n"
        f"{persons}<ns1:logementActuel>{logement}</ns1:logementActuel>\n"
        "</ns1:personnePhysique>\n"
        "</ns1:demandeLogement></ns1:demande>\n</ns1:interfaceNuu>\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("logement, persons, depot, reason", [
    ("<ns1:nombreHabitant>-3</ns1:nombreHabitant>", "", "2020-01-01",
     "'-3' is negative: nb_personnes_logement_actuel is a count"),
    ("", "<ns1:personneANaitre><ns1:nombre>-1</ns1:nombre></ns1:personneANaitre>", "2020-01-01",
     "'-1' is negative: nb_enfants is a count"),
    ("<ns1:montantMensuelLoyer>1e15</ns1:montantMensuelLoyer>", "", "2020-01-01",
     "'1e15' is out of range"),
    ("<ns1:montantMensuelLoyer>1_000</ns1:montantMensuelLoyer>", "", "2020-01-01",
     "'1_000' is not a number"),
    ("<ns1:surface>\u0661\u0660\u0660</ns1:surface>", "", "2020-01-01",
     "'\u0661\u0660\u0660' is not a number"),
    ("", "", "2024-W01-1", "'2024-W01-1' is not a date YYYY-MM-DD"),
])
def test_xml_values_follow_the_canonical_rules(tmp_path, logement, persons, depot, reason):
    """A value the canonical CSV rejects (negative count, amount out of range, digits that
    are not ASCII, a week date) is rejected from the XML too, not passed on to the scores."""
    res = read_demandes(_one_demande_xml(tmp_path / "d.xml", logement, persons, depot))
    assert_accounted(res)
    assert (res.n_read, res.n_accepted) == (1, 0)
    assert [r.reason for r in res.rejects] == [reason]
    path = tmp_path / "d.xml"
    value = res.rejects[0].value
    at = next(i for i, line in enumerate(path.read_text("utf-8").splitlines(), 1) if f">{value}<" in line)
    assert res.rejects[0].line == at


def test_the_columns_the_xml_gives_and_a_grid_reading_another_is_refused(tmp_path):
    """``XML_COLUMNS`` is what a demande of the XML can give (every key ``map_demande`` sets),
    declared to the boundary: a grid reading a column no element gives (here
    nb_personnes_handicap) is refused, as for a CSV without that column, instead of scoring
    every demande as if the column were missing."""
    import xml.etree.ElementTree as ET
    from collections import Counter

    from cotation.data.boundary import MissingColumnsError, admit
    from sne_adapters.sne_xml import XML_COLUMNS, map_demande

    root = ET.parse(FIXTURES / "sne_v0201.xml").getroot()
    first = next(el for el in root.iter() if el.tag.endswith("demandeLogement"))
    assert set(map_demande(first, Counter(), Counter())) == set(XML_COLUMNS)
    res = read_demandes(FIXTURES / "sne_v0201.xml")
    assert res.source_columns == list(XML_COLUMNS)
    admit(FIXTURES / "sne_v0201.xml", needs={"nb_personnes": ("taille",)}, reader=read_demandes)
    with pytest.raises(MissingColumnsError) as exc:
        admit(FIXTURES / "sne_v0201.xml", needs={"nb_personnes_handicap": ("handicap",)},
              reader=read_demandes)
    assert exc.value.missing == {"nb_personnes_handicap": ("handicap",)}

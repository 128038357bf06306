"""What the readers of SNE XML and mapped extractions tell the user goes through ``_()``:
French by default, never English built outside the catalogue."""
from __future__ import annotations

import gettext

import pytest

from cotation import i18n
from sne_adapters import MappingError, load_mapping, read_demandes

from _adapt_helpers import FIXTURES, PRESET

MARK = "\u27e6fr\u27e7"


class _Marking(gettext.NullTranslations):
    """A catalogue that marks every message it translates: a message built without ``_()``
    comes out unmarked (it would stay English for a French user)."""

    def gettext(self, message: str) -> str:
        return MARK + message


@pytest.fixture
def marked(monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")
    monkeypatch.setattr(i18n, "translations", lambda lang: _Marking())


def _message(exc_info) -> str:
    return str(exc_info.value)


@pytest.mark.parametrize("make", [
    lambda tmp: (FIXTURES / "extraction_missing_column.csv", PRESET),
    lambda tmp: (FIXTURES / "sne_bad_version.xml", None),
    lambda tmp: ((tmp / "x.xml").write_text("<?xml version='1.0'?><root/>") and tmp / "x.xml", None),
])
def test_source_errors_are_translated(marked, tmp_path, make):
    path, mapping = make(tmp_path)
    with pytest.raises(ValueError) as err:
        read_demandes(path, mapping=mapping)
    assert _message(err).startswith(MARK), _message(err)


@pytest.mark.parametrize("bad", [
    {"fields": {"numero_unique": "A"}},                                 # required fields
    {"fields": {"numero_unique": "A", "colour": "B"}},                  # schema
    {"fields": {"numero_unique": "A", "date_depot": "B", "nb_personnes": "C",
                "situation_logement": {"column": "D", "codes": "nowhere"}}},
    {"fields": {"numero_unique": "A", "date_depot": "B", "nb_personnes": "C",
                "situation_logement": {"column": "D", "codes": "sne.nowhere"}}},
])
def test_mapping_errors_are_translated(marked, bad):
    with pytest.raises(MappingError) as err:
        load_mapping(bad)
    assert _message(err).startswith(MARK), _message(err)


def test_truncated_xml_reasons_are_translated(marked):
    res = read_demandes(FIXTURES / "sne_truncated.xml")
    assert res.details["source_error"].startswith(MARK)
    assert res.rejects[0].reason.count(MARK) == 2      # the reason and the problem it names


def test_xml_household_reasons_are_translated(marked, tmp_path):
    path = tmp_path / "d.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ns1:interfaceNuu versionInterface="02.00" xmlns:ns1="http://nuu.application.i2/">\n'
        "<ns1:demande>\n"
        "<ns1:demandeLogement><ns1:numUnique>N1</ns1:numUnique>\n"
        "<ns1:dateCreationDemande>2020-01-01</ns1:dateCreationDemande></ns1:demandeLogement>\n"
        "<ns1:demandeLogement><ns1:numUnique>N2</ns1:numUnique>\n"
        "<ns1:dateCreationDemande>2020-01-01</ns1:dateCreationDemande>\n"
        "<ns1:personnePhysique><ns1:demandeur/><ns1:listePersonneACharge>\n"
        "<ns1:personneACharge/></ns1:listePersonneACharge></ns1:personnePhysique>\n"
        "</ns1:demandeLogement>\n"
        "</ns1:demande>\n</ns1:interfaceNuu>\n", encoding="utf-8")
    res = read_demandes(path)
    assert (res.n_read, res.n_accepted, len(res.rejects)) == (2, 0, 2)
    assert all(r.reason.startswith(MARK) for r in res.rejects), res.rejects

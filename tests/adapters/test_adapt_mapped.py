"""Mapping-driven CSV extractions: encodings, formats, code tables, schema validation."""
from __future__ import annotations

import datetime as dt
import json
import random

import pytest
import yaml

from cotation.data.schema import COLUMNS
from cotation.data.table import StrictModeError
from sne_adapters import MappingError, load_mapping, read_demandes
from sne_adapters.codes import TABLES, TARGETS
from sne_adapters.mapping import mapping_schema, read_mapped_csv

from _adapt_helpers import FIXTURES, PRESET, assert_accounted, assert_same, write_csv

EXPECTED_REJECTS = [
    (3, "Date de dépôt", "'31/02/2023' is not a date dd/mm/yyyy or dd/mm/yy"),
    (4, "Logement actuel", "'ZZZ' is not in code table sne.modele_logement (situation_logement)"),
    (6, "Numéro unique", "duplicated numero_unique (first at line 2)"),
    (7, "Motif 1+Motif 2+Motif 3", "'99' is not in code table sne.motif (motifs)"),
    (8, "Nombre adultes+Nombre enfants", "'deux' is not a whole number"),
]


@pytest.mark.parametrize("name", ["extraction_sne_cp1252.csv", "extraction_sne_utf8_bom.csv"])
def test_preset_reads_the_extraction(name):
    res = read_demandes(FIXTURES / name, mapping=PRESET)
    assert_accounted(res)
    assert_same(res, read_mapped_csv(FIXTURES / name, PRESET, fast=False))
    assert [(r.line, r.column, r.reason) for r in res.rejects] == EXPECTED_REJECTS
    assert res.unmapped_columns == ["Observations"]
    assert res.details["missing_optional_columns"] == ["Personnes handicapées", "Surface"]
    first, second = res.table.row(0), res.table.row(1)
    assert first["date_depot"] == dt.date(2023, 1, 15)
    assert first["profession"] == "Électricien"
    assert first["revenu_fiscal_reference"] == 24500              # "24 500", thousands " "
    assert (first["ressources_mensuelles"], first["aide_logement"]) == (2150.75, 120.5)
    assert first["motifs"] == frozenset({"trop_cher", "trop_petit"})
    assert first["localisations"] == ("69123", "69266")
    assert (first["nb_personnes"], first["est_mutation"], first["prioritaire"]) == (3, False, False)
    assert first["Observations"] == "RAS"
    assert second["date_depot"] == dt.date(2023, 3, 5)           # dd/mm/yy, second format
    assert second["commune_residence"] == "01053"                # zero-padded INSEE code
    assert second["nb_personnes"] == 1                           # empty enfants counts as 0
    assert res.details["encoding"] == ("cp1252" if "cp1252" in name else "utf-8")


def test_undeclared_utf8_gives_a_hint():
    with pytest.raises(ValueError, match="looks like UTF-8 read as cp1252"):
        read_demandes(FIXTURES / "extraction_sne_utf8_nobom.csv", mapping=PRESET)


def test_column_missing_from_the_file():
    with pytest.raises(ValueError, match="'Loyer' mapped to loyer_actuel not in the header"):
        read_demandes(FIXTURES / "extraction_missing_column.csv", mapping=PRESET)


def test_mapping_only_for_csv():
    with pytest.raises(ValueError, match="a mapping describes a CSV extraction, this is sne-xml"):
        read_demandes(FIXTURES / "sne_v0201.xml", mapping=PRESET)


def test_column_missing_from_the_mapping_is_kept_and_listed(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["ID", "DEPOT", "NB", "profession", "Note"],
                     [["A", "2023-01-01", "2", "cariste", "n1"]], delimiter=";")
    res = read_demandes(path, mapping={"source": {"separator": ";"},
                                       "fields": {"numero_unique": "ID", "date_depot": "DEPOT",
                                                  "nb_personnes": "NB"}})
    assert res.unmapped_columns == ["profession", "Note"]
    assert res.table.extras == {"source_profession": ["cariste"], "Note": ["n1"]}
    assert res.table.columns["profession"] == [None]


def test_undecodable_bytes_reject_the_row(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"ID;DEPOT;NB;PROF\nA;2023-01-01;1;ok\nB;2023-01-02;1;caf\x81\nC;2023-01-03;1;\xe9t\xe9\n")
    mapping = {"source": {"separator": ";", "encoding": "cp1252"},
               "fields": {"numero_unique": "ID", "date_depot": "DEPOT", "nb_personnes": "NB",
                          "profession": "PROF"}}
    res = read_demandes(path, mapping=mapping)
    assert_accounted(res)
    assert [(r.line, r.column) for r in res.rejects] == [(3, "PROF")]
    assert "not valid cp1252" in res.rejects[0].reason
    assert res.table.columns["profession"] == ["ok", "été"]
    with pytest.raises(StrictModeError):
        read_demandes(path, mapping=mapping, strict=True)


def test_code_tables_default_and_null(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["ID", "D", "N", "LOG", "TYPO"],
                     [["A", "2023-01-01", "1", "hlm", "T2/NSP"], ["B", "2023-01-01", "1", "autre", ""]])
    mapping = {"codes": {"log": {"hlm": "locataire_hlm", "*": "heberge_particulier"}},
               "fields": {"numero_unique": "ID", "date_depot": "D", "nb_personnes": "N",
                          "situation_logement": {"column": "LOG", "codes": "log"},
                          "typologies": {"column": "TYPO", "multi_separator": "/",
                                         "codes": {"T2": "T2", "NSP": None}}}}
    res = read_demandes(path, mapping=mapping)
    assert res.table.columns["situation_logement"] == ["locataire_hlm", "heberge_particulier"]
    assert res.table.columns["typologies"] == [frozenset({"T2"}), frozenset()]


@pytest.mark.parametrize("bad, message", [
    ({"fields": {"numero_unique": "A", "date_depot": "B"}}, "nb_personnes"),
    ({"fields": {"numero_unique": "A", "date_depot": "B", "nb_personnes": "C", "nope": "D"}},
     "nope"),
    ({"source": {"encoding": "ebcdic"}, "fields": {"numero_unique": "A"}}, "encoding"),
    ({"fields": {"numero_unique": {"column": "A", "colour": 1}}}, "colour"),
    ({"fields": {"numero_unique": "A", "date_depot": "B", "nb_personnes": "C",
                 "situation_logement": {"column": "D", "codes": "nowhere"}}}, "nowhere"),
    ({"fields": {"numero_unique": "A", "date_depot": "B", "nb_personnes": "C",
                 "situation_logement": {"column": "D", "codes": "sne.nowhere"}}}, "sne.nowhere"),
    # '1.500' would be 1500 and '1.5' 15: the decimal separator cannot separate thousands
    ({"source": {"thousands": "."}, "fields": {"numero_unique": "A", "date_depot": "B",
                                               "nb_personnes": "C", "loyer_actuel": "D"}},
     "field nb_personnes: the thousands separator '.' is also the decimal separator"),
    ({"fields": {"numero_unique": "A", "date_depot": "B", "nb_personnes": "C",
                 "loyer_actuel": {"column": "D", "thousands": "."}}},
     "field loyer_actuel: the thousands separator '.' is also the decimal separator"),
])
def test_invalid_mappings(bad, message):
    with pytest.raises(MappingError, match=message):
        load_mapping(bad)


def test_duplicated_yaml_key(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("fields:\n  numero_unique: A\n  numero_unique: B\n")
    with pytest.raises(MappingError, match="line 3: duplicated key 'numero_unique'"):
        load_mapping(path)


def test_yaml_aliases_are_refused_at_the_alias(tmp_path):
    # description: a 7-level billion laughs took 690 MB and printed a 122 MB error line
    path = tmp_path / "m.yaml"
    path.write_text("description: &a [x, x]\nfields: {numero_unique: [*a, *a]}\n")
    with pytest.raises(MappingError, match=r"m\.yaml:1:\d+: YAML anchors and aliases"):
        load_mapping(path)


def test_schema_lists_exactly_the_canonical_fields_and_preset_is_valid():
    names = mapping_schema()["properties"]["fields"]["propertyNames"]["enum"]
    assert names == [c.name for c in COLUMNS]
    raw = yaml.safe_load(PRESET.read_text(encoding="utf-8"))
    assert load_mapping(PRESET).raw == raw
    json.dumps(mapping_schema())


def test_sne_code_tables_target_canonical_codes():
    for name, allowed in TARGETS.items():
        assert set(TABLES[name].values()) <= set(allowed), name


def test_generated_extraction_fast_equals_row_by_row(tmp_path):
    rng = random.Random(7)
    header = ["NUM", "DEPOT", "ADULTES", "ENFANTS", "LOG", "MOTIFS", "RESS", "COMMUNES"]
    rows = []
    for i in range(3000):
        rows.append([
            f"N{i % 2900}", rng.choice(["01/02/2023", "31/12/2022", "2023-01-01", "1/2/2023", ""]),
            rng.choice(["1", "2", "", "x"]), rng.choice(["0", "1", "3", ""]),
            rng.choice(["HLM", "LP", "SD", "??", ""]), rng.choice(["01,09", "13", "", "01,,02", "99"]),
            rng.choice(["1200,50", "980", "1 200,5", "12.5", "", "abc", f"{rng.randint(0, 99999)},{rng.randint(0, 99)}"]),
            rng.choice(["69123", "69123,1053", "6912", ""]),
        ])
    path = write_csv(tmp_path / "g.csv", header, rows, delimiter=";", encoding="cp1252",
                     blank_every=211, odd_every=307, lineterminator="\r\n")
    mapping = {"source": {"separator": ";", "encoding": "cp1252", "decimal": ",",
                          "date_formats": ["%d/%m/%Y"], "multi_separator": ",",
                          "insee_zero_pad": True},
               "fields": {"numero_unique": "NUM", "date_depot": "DEPOT",
                          "nb_personnes": {"columns": ["ADULTES", "ENFANTS"]},
                          "situation_logement": {"column": "LOG", "codes": "sne.modele_logement"},
                          "motifs": {"column": "MOTIFS", "codes": "sne.motif"},
                          "ressources_mensuelles": "RESS", "localisations": "COMMUNES"}}
    fast = read_mapped_csv(path, mapping)
    assert_same(fast, read_mapped_csv(path, mapping, fast=False))
    assert fast.n_accepted > 0 and len(fast.rejects) > 0


@pytest.mark.parametrize("rows", [300, 3000])       # scalar and vectorised paths
def test_a_misplaced_thousands_separator_is_a_reject_not_a_digit_lost(tmp_path, rows):
    """With thousands '.' and decimal ',', '1.5' (a dot-decimal amount) was read as 15 and
    '1234.56' as 123456: the separator was removed wherever it stood. It only separates
    groups of three digits; anywhere else the cell is a reject."""
    cells = ["1.234,5", "12.345.678", "-1.234", "780,5", "1.5", "1234.56", "12.34,5", "1.2345"]
    path = write_csv(tmp_path / "x.csv", ["nu", "depot", "n", "loyer"],
                     [[f"N{i:05d}", "2023-01-15", "1", cells[i] if i < len(cells) else "10"]
                      for i in range(rows)], delimiter=";")
    mapping = {"source": {"separator": ";", "decimal": ",", "thousands": "."},
               "fields": {"numero_unique": "nu", "date_depot": "depot", "nb_personnes": "n",
                          "loyer_actuel": "loyer"}}
    for fast in (True, False):
        res = read_mapped_csv(path, mapping, fast=fast)
        assert_accounted(res)
        assert res.table.columns["loyer_actuel"][:4] == [1234.5, 12345678.0, -1234.0, 780.5]
        assert [(r.line, r.value, r.reason) for r in res.rejects] == [
            (i + 2, cells[i], f"'{cells[i]}' is not a number: the thousands separator '.' "
                              "must separate groups of three digits") for i in range(4, 8)]


def test_a_two_digit_year_never_makes_a_date_in_the_future(tmp_path):
    """strptime reads '%y' 00-68 as 2000-2068: a demandeur born on 07/07/60 (the preset's
    dd/mm/yy) was born in 2060. A birth date with a two-digit year is a reject whatever its
    century (the reading does not depend on the day it runs); event dates keep the pivot."""
    path = write_csv(tmp_path / "x.csv", ["nu", "depot", "n", "naiss"], [
        ["N1", "05/03/23", "1", "07/07/60"],
        ["N2", "05/03/23", "1", "07/07/01"],
        ["N3", "05/03/23", "1", "07/07/1960"],
    ], delimiter=";")
    mapping = {"source": {"separator": ";", "date_formats": ["%d/%m/%Y", "%d/%m/%y"]},
               "fields": {"numero_unique": "nu", "date_depot": "depot", "nb_personnes": "n",
                          "date_naissance": "naiss"}}
    res = read_mapped_csv(path, mapping)
    assert_accounted(res)
    two = "a birth date needs a year of four digits (a year of two may be of two centuries)"
    assert [(r.line, r.column, r.reason) for r in res.rejects] == [
        (2, "naiss", f"'07/07/60': {two}"), (3, "naiss", f"'07/07/01': {two}")]
    assert res.table.columns["date_naissance"] == [dt.date(1960, 7, 7)]
    assert res.table.columns["date_depot"] == [dt.date(2023, 3, 5)]

"""Several grids in one shortlist (mutations / first demandes, one grid per EPCI), the declared
merge rule, and the reasons higher-ranked demandes were not retained (refusals included)."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from cotation.cli import main

GRIDS = Path(__file__).resolve().parents[2] / "grids"
MUT, PRIMO = GRIDS / "besancon-mutations.yaml", GRIDS / "besancon-primo.yaml"
GBM = ["25056", "25047", "25212", "25287", "25462"]
PMA = ["25388", "25031", "25057", "25580"]      # Pays de Montbéliard Agglomération

def _inputs(d: Path) -> list[str]:
    return ["--logements", str(d / "logements.csv"), "--conventions", str(d / "conventions.yaml"),
            "--evenements", str(d / "evenements.csv"), "--year", "2025", "--today", "2025-01-01"]


def _bailleur(d: Path, territories: list[list[str]], n: int = 300) -> Path:
    from cotation.data.synth import generate_demandes
    from cotation.data.table import write_demandes_csv
    from cotation.flux.generate import generate
    write_demandes_csv(generate_demandes(n, seed=4, today=dt.date(2025, 1, 1), territories=territories),
                       d / "demandes.csv")
    generate(4, 300, 2025, departement="25", communes=[c for t in territories for c in t]).write(d)
    return d


@pytest.fixture(scope="module")
def besancon(tmp_path_factory):
    return _bailleur(tmp_path_factory.mktemp("gbm"), [GBM])


def _lists(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "shortlists.jsonl").read_text(encoding="utf-8").splitlines()]


def _mutation(d: Path) -> dict[str, bool]:
    with open(d / "demandes.csv", encoding="utf-8") as fh:
        return {r["numero_unique"]: r["est_mutation"].strip().lower() in ("1", "true", "oui", "vrai")
                for r in csv.DictReader(fh)}


def _dispatch(d: Path, out: Path, *extra: str) -> int:
    return main(["flux", "dispatch", *_inputs(d), "--demandes", str(d / "demandes.csv"), *extra, "-o", str(out)])


@pytest.mark.parametrize("fusion", ["entrelacement", "priorite"])
def test_mutations_and_first_demandes_in_one_shortlist(besancon, tmp_path, fusion):
    out = tmp_path / fusion
    assert _dispatch(besancon, out, "--grid", str(MUT), "--grid", str(PRIMO), "--fusion", fusion, "--motifs") == 0
    header = json.loads((out / "audit.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert header["fusion_grilles"] == fusion
    assert [(g["ordre"], g["id"], g["fichier"]) for g in header["grilles"]] == [
        (1, "grand-besancon-mutations", MUT.name), (2, "grand-besancon-primo", PRIMO.name)]
    order = {"grand-besancon-mutations": 0, "grand-besancon-primo": 1}
    mutation = _mutation(besancon)
    lists = _lists(out)
    grids_seen = set()
    for s in lists:
        assert s["fusion_grilles"] == fusion
        keys = []
        for c in s["candidats"]:
            # each demande is ranked by the grid of its scope (applies_to)
            assert mutation[c["numero_unique"]] == (c["grille"] == "grand-besancon-mutations")
            grids_seen.add(c["grille"])
            g = order[c["grille"]]
            keys.append((c["rang_grille"], g) if fusion == "entrelacement" else (g, c["rang_grille"]))
        assert keys == sorted(keys), s
        # ranks stay within each grid: the k candidates of one grid come in that grid's order
        for gid in order:
            ranks = [c["rang_cotation"] for c in s["candidats"] if c["grille"] == gid]
            assert ranks == sorted(ranks)
        last = keys[-1] if len(keys) == s["k"] else None
        for r in s["non_retenues"]:
            k = ((r["rang_grille"], order[r["grille"]]) if fusion == "entrelacement"
                 else (order[r["grille"]], r["rang_grille"]))
            if last is not None:
                assert k < last        # only demandes ranked above the last one retained
    assert grids_seen == set(order)
    # Delegated management (the generator's préfet contingent): the bailleur designates.
    assert {s.get("designant") for s in lists if s["reservataire"] == "ETAT_PRIO"} == {"BAILLEUR"}
    assert all("designant" not in s for s in lists if s["reservataire"] != "ETAT_PRIO")


def test_merge_rule_from_the_conventions_and_single_grid_output_unchanged(besancon, tmp_path):
    conv = tmp_path / "c"
    conv.mkdir()
    for f in ("logements.csv", "evenements.csv", "demandes.csv"):
        (conv / f).write_bytes((besancon / f).read_bytes())
    text = (besancon / "conventions.yaml").read_text(encoding="utf-8")
    assert "settings:\n" in text
    (conv / "conventions.yaml").write_text(text.replace("settings:\n", "settings:\n  shortlist:\n"
                                                         "    fusion_grilles: priorite\n", 1), encoding="utf-8")
    assert _dispatch(conv, tmp_path / "o", "--grid", str(MUT), "--grid", str(PRIMO)) == 0
    assert all(s["fusion_grilles"] == "priorite" for s in _lists(tmp_path / "o"))
    # one grid: the shortlist format is the one before several grids existed
    assert _dispatch(besancon, tmp_path / "one", "--grid", str(PRIMO)) == 0
    text = (tmp_path / "one" / "shortlists.jsonl").read_text(encoding="utf-8")
    assert "grille" not in text and "fusion" not in text
    header = json.loads((tmp_path / "one" / "audit.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert header["entrees"]["grille"]["fichier"] == PRIMO.name and "grilles" not in header


def test_overlapping_grids_are_refused(besancon, tmp_path, capsys):
    assert _dispatch(besancon, tmp_path / "o", "--grid", str(PRIMO), "--grid", str(PRIMO)) == 1
    assert "given twice" in capsys.readouterr().err


def test_one_grid_per_epci(tmp_path):
    """A bailleur across two EPCIs: each dwelling's shortlist is ranked by its EPCI's grid."""
    d = _bailleur(tmp_path, [GBM, PMA], n=300)
    pma = tmp_path / "pma-primo.yaml"
    text = PRIMO.read_text(encoding="utf-8")
    for old, new in (("id: grand-besancon-primo", "id: pma-primo"), ('"242500361"', '"200065647"'),
                     ('"Grand Besançon Métropole"', '"Pays de Montbéliard Agglomération"'),
                     ('["25056", "25047", "25212", "25287", "25462"]', json.dumps(PMA))):
        assert old in text
        text = text.replace(old, new)
    pma.write_text(text, encoding="utf-8")
    assert _dispatch(d, tmp_path / "o", "--grid", str(PRIMO), "--grid", str(pma)) == 0
    logements = {r["id"]: r["commune"] for r in csv.DictReader(open(d / "logements.csv", encoding="utf-8"))}
    seen = set()
    for s in _lists(tmp_path / "o"):
        commune = logements[s["logement_id"]]
        want = "pma-primo" if commune in PMA else "grand-besancon-primo"
        for c in s["candidats"]:
            assert c["grille"] in (want, None)     # None: a mutation, scored by neither grid
            seen.add(c["grille"])
    assert {"pma-primo", "grand-besancon-primo"} <= seen


def test_refused_demandes_are_not_retained_and_say_so(besancon, tmp_path):
    out = tmp_path / "a"
    assert _dispatch(besancon, out, "--grid", str(PRIMO), "--motifs") == 0
    decided = {r["vacance_id"]: r["date"] for r in map(json.loads, (out / "audit.jsonl").read_text(
        encoding="utf-8").splitlines()[1:]) if r["type"] in ("orientation", "programme_neuf")}
    rows = list(csv.DictReader(open(besancon / "evenements.csv", encoding="utf-8")))
    # The last shortlist of the run, and a REFUS of the history before its decision: that
    # refusal now names the shortlist's first candidate.
    first = [s for s in _lists(out) if s["candidats"]][-1]
    top = first["candidats"][0]["numero_unique"]
    refus = [r for r in rows if r["evenement"] == "REFUS" and r["date"] < decided[first["vacance_id"]]]
    assert refus
    refus[0]["candidat"] = top
    d = tmp_path / "d"
    d.mkdir()
    for f in ("logements.csv", "conventions.yaml", "demandes.csv"):
        (d / f).write_bytes((besancon / f).read_bytes())
    with open(d / "evenements.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    assert _dispatch(d, tmp_path / "b", "--grid", str(PRIMO), "--motifs") == 0
    again = next(s for s in _lists(tmp_path / "b") if s["vacance_id"] == first["vacance_id"])
    assert again["vacance_id"] == first["vacance_id"]
    assert top not in [c["numero_unique"] for c in again["candidats"]]
    assert {"numero_unique": top, "rang_cotation": first["candidats"][0]["rang_cotation"],
            "motif": "refus_anterieur"} in again["non_retenues"]
    assert again["filtres"]["refus_anterieur"] == 1

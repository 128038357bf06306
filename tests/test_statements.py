"""Information statements: content, privacy, JSON/HTML parity, determinism, CLI."""
from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cotation.engine import score
from cotation.grid import load_grid
from cotation.info.statements import (
    Statement, build_statement, file_stem, render_html, statement_for, statement_json, statement_static,
    demande_contexts
)
from cotation.info.positioning import position
from cotation.info.statements.wording import number_fr, ordinal_fr
from cotation.data.table import (
    AttributionTable, DemandeTable, write_attributions_csv, write_demandes_csv
)

TODAY = dt.date(2025, 1, 15)
A, B, C = "69123", "69266", "69259"
ME = "NU0000000000000ME1"

GRID = """\
format: cotation/1
grid:
  id: test-information
  title: "Territoire Test — grille de cotation des demandes"
  territory:
    epci_siren: "200000001"
    name: "Territoire Test"
    communes: ["69123", "69266", "69259"]
  version: "2025.1"
  effective_from: 2024-01-01
  refusal_policy: >
    Le refus d'un logement adapté, proposé après passage en commission,
    retire 10 points par refus pendant 12 mois.
criteria:
  - id: dalo
    label: "Ménage reconnu prioritaire et urgent au titre du DALO"
    section: "Priorités légales"
    legal_priority: true
    validation: commission
    when: "dalo_statut == 'actif'"
    points: 100
  - id: grand_menage
    label: "Ménage de 3 personnes ou plus"
    section: "Ménage"
    when: "nb_personnes >= 3"
    points: 20
  - id: enfants
    label: "Ménage avec enfant(s)"
    section: "Ménage"
    when: "nb_enfants >= 1"
    points: 10
  - id: travail
    label: "Travaille dans la commune demandée"
    section: "Lien avec la commune"
    when: "loc.commune == commune_travail"
    points: 25
  - id: residence
    label: "Habite déjà la commune demandée"
    section: "Lien avec la commune"
    when: "loc.commune == commune_residence"
    points: 15
  - id: anciennete
    label: "Ancienneté de la demande (1 point par mois, 24 au plus)"
    section: "Ancienneté"
    points: "anciennete_mois"
    cap: 24
  - id: refus
    label: "Refus d'un logement adapté dans les 12 derniers mois"
    section: "Refus"
    refusal_effect: true
    points: "-10 * nb_refus_adaptes_12m"
groups:
  - id: menage
    label: "Ménage"
    policy: max
    members: [grand_menage, enfants]
  - id: lien
    label: "Lien avec la commune"
    members: [travail, residence]
    cap: 30
peers:
  by: [loc.commune, typologie]
  min_size: 3
  fallback: [[typologie]]
waiting_time:
  statistic: mean
  window_months: 12
  delai_anormalement_long: {T2: 12}
"""


def demandes() -> DemandeTable:
    recs = [{"numero_unique": ME, "date_depot": "2024-03-10", "est_mutation": "false",
             "nb_personnes": "4", "nb_adultes": "2", "nb_enfants": "2", "dalo_statut": "actif",
             "commune_travail": A, "commune_residence": A, "localisations": f"{A}|{B}",
             "typologies": "T2|T3", "nb_refus_adaptes": "1", "date_dernier_refus_adapte": "2024-10-01"}]
    for k in range(30):        # the (A, T2) cell: large enough for a histogram
        recs.append({"numero_unique": f"NU{k:016d}", "date_depot": f"20{20 + k % 5}-0{1 + k % 9}-1{k % 10}",
                     "est_mutation": "false", "nb_personnes": str(1 + k % 4), "nb_enfants": str(k % 3),
                     "dalo_statut": "non", "localisations": A, "typologies": "T2",
                     "commune_residence": A if k % 7 == 0 else ""})
    for k in range(2):         # T3 demandes: with ME the (T3) cell has 3 demandes, no histogram
        recs.append({"numero_unique": f"NT{k:016d}", "date_depot": "2024-06-01", "est_mutation": "true",
                     "nb_personnes": "2", "dalo_statut": "non", "localisations": C, "typologies": "T3"})
    return DemandeTable.from_records(recs, parse=True)


def attributions() -> AttributionTable:
    rows = [(f"AT{k:016d}", "2023-06-01", f"2024-0{1 + k}-20", A, "T2", False) for k in range(6)]
    rows += [("AT000000000000T301", "2024-01-01", "2024-09-01", C, "T3", True)]
    names = ("numero_unique", "date_depot", "date_attribution", "commune", "typologie", "est_mutation")
    cols = {n: [] for n in names + ("financement", "qpv", "reservataire")}
    for r in rows:
        for n, v in zip(names, r):
            cols[n].append(dt.date.fromisoformat(v) if n.startswith("date") else v)
        for n in ("financement", "qpv", "reservataire"):
            cols[n].append(None)
    return AttributionTable(cols)


ALL_IDS = [ME] + [f"NU{k:016d}" for k in range(30)] + [f"NT{k:016d}" for k in range(2)]
LEASE_IDS = [f"AT{k:016d}" for k in range(6)] + ["AT000000000000T301"]


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("grid") / "test-information.yaml"
    path.write_text(GRID, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pos(grid_path):
    grid = load_grid(grid_path)
    table = demandes()
    st = score(grid.ir, table, TODAY, explain=True)
    return position(grid.ir, st, table, attributions(), TODAY)


@pytest.fixture(scope="module")
def stmt(pos) -> Statement:
    return statement_for(pos, 0, {A: "Lyon", B: "Villeurbanne"})


@pytest.fixture(scope="module")
def doc(stmt) -> dict:
    """The statement's JSON form, as the tests below read it."""
    return json.loads(statement_json(stmt))


@pytest.fixture(scope="module")
def files(grid_path, tmp_path_factory):
    """Bulk CLI run on the fixture (2 workers)."""
    from cotation.cli import main
    base = tmp_path_factory.mktemp("bulk")
    d, a = base / "demandes.csv", base / "attributions.csv"
    write_demandes_csv(demandes(), d)
    write_attributions_csv(attributions(), a)
    out = base / "out"
    assert main(["statements", str(grid_path), str(d), str(a), "--today", TODAY.isoformat(),
                 "-o", str(out), "--jobs", "2", "--engine", "interpreter"]) == 0
    return base, out


# ----------------------------------------------------------------------------- content

def test_every_criterion_with_its_rule(doc):
    crit = {c["id"]: c for c in doc["criteria"]}
    assert list(crit) == ["dalo", "grand_menage", "enfants", "travail", "residence", "anciennete", "refus"]
    assert crit["dalo"]["rule"] == "100 points"
    assert crit["dalo"]["validation_text"] == "vérification : décision d'une commission"
    assert crit["anciennete"]["rule"] == "points = ancienneté de la demande (mois) (au plus 24)"
    assert crit["refus"]["rule"] == "points = −10 × refus d'offres adaptées dans les 12 derniers mois"
    assert {g["id"]: g["rule"] for g in doc["groups"]} == {
        "menage": "un seul de ces critères compte : celui qui rapporte le plus",
        "lien": "les points de ces critères s'additionnent, 30 points au plus pour l'ensemble"}


def test_points_criterion_by_criterion(doc):
    crit = {c["id"]: c for c in doc["criteria"]}
    status = {cid: [(o["commune"], o["status"], o["counted"]) for o in c["outcomes"]] for cid, c in crit.items()}
    assert status["dalo"] == [(None, "awaiting_validation", 100.0)]
    assert status["grand_menage"] == [(None, "met", 20.0)]
    assert status["enfants"] == [(None, "set_aside", 0.0)]
    assert status["travail"] == [(A, "met", 25.0), (B, "not_met", 0.0)]
    assert status["residence"] == [(A, "met", 15.0), (B, "not_met", 0.0)]
    assert status["anciennete"] == [(None, "met", 10.0)]     # 2024-03-10 → 2025-01-15: 10 months
    assert status["refus"] == [(None, "met", -10.0)]
    texts = [o["status_text"] for o in crit["travail"]["outcomes"]]
    assert texts == ["Lyon : Oui", "Villeurbanne : Non"]
    assert crit["dalo"]["outcomes"][0]["status_text"] == "Oui, à vérifier"
    assert crit["enfants"]["outcomes"][0]["status_text"] == "Oui, non cumulé"


def test_scores_and_group_cap(doc):
    # Lyon: 100 + 20 + min(25 + 15, 30) + 10 − 10; validated: DALO awaits the commission
    got = [(s["commune"], s["rang"], s["score"], s["score_valide"]) for s in doc["scores"]]
    assert got == [(A, 1, 150.0, 50.0), (B, 2, 120.0, 20.0)]
    assert doc["total_text"] is None
    [adj] = doc["group_adjustments"]
    assert adj["communes"] == [A] and adj["delta_text"] == "−10"
    assert "40 points ramenés à 30 (plafond du groupe)" in adj["text"]


def test_positions_waiting_and_fallbacks(doc):
    pos = {(p["commune"], p["typologie"]): p for p in doc["positions"]}
    assert list(pos) == [(A, "T2"), (A, "T3"), (B, "T2"), (B, "T3")]
    a2 = pos[(A, "T2")]
    assert (a2["rank"], a2["of"], a2["cell_key"], a2["fallback"]) == (1, 31, "loc.commune=69123;typologie=T2", False)
    counts = a2["histogram"]["counts"]
    # Privacy: bins of 1 to 4 demandes are not drawn; the others (here 11 + 12 + ...) are.
    assert not any(0 < c < 5 for c in counts) and 0 < sum(counts) <= 31
    assert [c for c in counts if c] == [11, 12]
    w = a2["waiting"]
    assert (w["n_attributions"], w["shown"], w["window_start"], w["window_end_exclusive"]) == \
        (6, True, "2024-01-15", "2025-01-15")
    assert "du 15 janvier 2024 au 14 janvier 2025" in w["text"]
    assert a2["delai_anormalement_long"]["exceeded"] is False      # 10 months for 12
    b2 = pos[(B, "T2")]                                            # alone in (B, T2) → (T2)
    assert (b2["cell_key"], b2["fallback"], b2["of"]) == ("typologie=T2", True, 31)
    assert b2["fallback_text"].startswith("Il y a moins de 3 demandes de T2 pour Villeurbanne (69266)")
    a3 = pos[(A, "T3")]
    assert (a3["cell_key"], a3["of"], a3["histogram"]) == ("typologie=T3", 3, None)
    assert "vie privée" in a3["histogram_note"]
    w3 = a3["waiting"]          # one T3 lease: (A, T3) → (T3) → the territory's 7 leases
    assert (w3["cell_key"], w3["n_attributions"], w3["shown"], w3["fallback"]) == ("territoire", 7, True, True)
    assert w3["fallback_text"].startswith("Moins de 3 logements T3 attribués à Lyon (69123)")
    assert a3["delai_anormalement_long"] is None


@pytest.mark.parametrize("n_leases, words", [(2, "Trop peu de logements attribués"),
                                              (0, "Aucun logement n'a été attribué")])
def test_waiting_time_of_too_few_leases_is_not_published(grid_path, n_leases, words):
    grid = load_grid(grid_path)
    table = demandes()
    st = score(grid.ir, table, TODAY, explain=True)
    leases = attributions()
    few = AttributionTable({k: v[:n_leases] for k, v in leases.columns.items()})
    doc = statement_for(position(grid.ir, st, table, few, TODAY), 0).to_dict()
    for p in doc["positions"]:
        w = p["waiting"]
        assert (w["n_attributions"], w["shown"], w["mean_days"], w["median_months"]) == (n_leases, False, None, None)
        assert w["text"].startswith(words)
    assert "Pas assez d'attributions récentes" in doc["summary"][2]["answer"]


def test_refusal_effects_and_reference(doc, pos):
    rf = doc["refusal"]
    assert rf["policy"].startswith("Le refus d'un logement adapté, proposé après passage en commission")
    assert [(c["id"], c["points"]) for c in rf["criteria"]] == [("refus", -10.0)]
    assert rf["criteria"][0]["text"] == "Aujourd'hui, ce critère vous retire 10 points."
    ref = doc["reference"]
    assert (ref["grid_id"], ref["grid_version"], ref["date"]) == ("test-information", "2025.1", "2025-01-15")
    assert ref["grid_hash"] == pos.grid.source_hash and len(ref["grid_hash"]) == 64


def test_summary_answers_the_four_questions(doc):
    q = [x["question"] for x in doc["summary"]]
    assert q == ["Combien de points avez-vous ?", "Où se situe votre demande ?",
                 "Combien de temps attendent les demandeurs comme vous ?",
                 "Que se passe-t-il si vous refusez un logement ?"]
    a = [x["answer"] for x in doc["summary"]]
    assert a[0] == ("Votre demande a 150 points pour Lyon (69123), dont 50 déjà vérifiés ; 120 points "
                    "pour Villeurbanne (69266), dont 20 déjà vérifiés.")
    assert "votre demande est classée 1re sur 31 demandes comparables" in a[1]
    assert "en moyenne" in a[2] and "mois" in a[2]
    assert "des refus passés vous retirent des points" in a[3]


def test_total_floor_is_explained():
    """The specification's grid: two recent refusals and nothing else give −40, floored at 0."""
    grid = load_grid(Path(__file__).parent / "grids" / "spec_example.yaml")
    table = DemandeTable.from_records([{
        "numero_unique": "NU00000000000FLOOR", "date_depot": "2025-01-10", "est_mutation": "false",
        "nb_personnes": "1", "localisations": "69123", "typologies": "T1", "nb_refus_adaptes": "2",
        "date_dernier_refus_adapte": "2024-12-01"}], parse=True)
    st = score(grid.ir, table, TODAY, explain=True)
    stmt = statement_for(position(grid.ir, st, table, None, TODAY), 0)
    doc = stmt.to_dict()
    [s] = doc["scores"]
    assert (s["score"], s["bound_text"]) == (0.0, "Le total des critères (−40) est ramené à 0 : la grille "
                                                  "fixe un total minimal.")
    assert doc["refusal"]["criteria"][0]["text"] == "Aujourd'hui, ce critère vous retire 40 points."
    # Alone in every cell, down to the whole territory
    assert doc["positions"][0]["text"] == ("Votre demande est la seule parmi les demandes sur tout le "
                                           "territoire (Métropole Exemple).")
    _check_same_content(doc, render_html(stmt))


def test_no_english_or_code_leaks_in_html(stmt):
    text = _visible_text(render_html(stmt))
    for word in ("None", "True", "False", "null", "nan", "set_aside", "not_met", "awaiting"):
        assert not re.search(rf"\b{word}\b", text), word


# ----------------------------------------------------------------------------- privacy

def test_statement_holds_no_other_demandeur(files):
    _, out = files
    written = sorted(out.glob("*.json"))
    assert len(written) == len(ALL_IDS)
    for path in written + sorted(out.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        own = json.loads(out.joinpath(path.stem + ".json").read_text(encoding="utf-8"))["numero_unique"]
        others = [nu for nu in ALL_IDS + LEASE_IDS if nu != own]
        assert not [nu for nu in others if nu in text], path.name


def test_small_cell_hides_its_histogram(files):
    _, out = files
    page = (out / f"{ME}.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 2           # (A, T2) and (B → T2); both T3 cells have 3 demandes
    assert page.count("la répartition des points n'est pas montrée") == 1     # said once, under the table
    assert page.count(">non montrée<") == 2
    small = json.loads((out / "NT0000000000000000.json").read_text(encoding="utf-8"))
    assert all(p["histogram"] is None for p in small["positions"])
    assert "<svg" not in (out / "NT0000000000000000.html").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- JSON = HTML

_TEXT_KEYS = {"title", "label", "rule", "caption", "question", "answer", "heading", "mark", "section"}
_FIXED = {"L'essentiel", "Vos points et votre classement", "Le détail de vos points, critère par critère",
          "Critère de la grille et points prévus", "Votre situation", "Points comptés",
          "Si vous refusez un logement", "À savoir", "Total", "Type de demande", "vous", "·",
          "points (hauteur : nombre de demandes)",
          # the positions table's layout (its figures come from the JSON, checked above)
          "Logement demandé", "Vos points", "Votre rang", "Demandes avec plus de points",
          "Attente moyenne constatée", "Après un refus (points, demandes devant vous)", "Répartition des points", "non montrée",
          "non publié", "Information manquante",
          "Les autres critères de la grille, que votre demande ne remplit pas (0 point)"}
# Cells of the positions table, composed of JSON figures: "1re sur 31", "10 (21 %)", "21,3 mois
# (médiane 13) [1]", "(de 0 à 200 points)".
_CELL = re.compile(r"(Répartition des points \(de [−\d,]+ à [−\d,]+ points\)|\d+(re|e) sur \d+( \*)?|\d+ \(\d+\s%\)|([\d,]+ mois|\(médiane [\d,]+\) \[\d+\]|(non publié )?\[\d+\])"
                   r"|\(de [−\d,]+ à [−\d,]+ points\)|\*)")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.nodes: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("head", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("head", "style"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def _visible_text(page: str) -> str:
    p = _Text()
    p.feed(page)
    return " ".join(p.nodes)


def _json_texts(node, key=None):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_texts(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _json_texts(v, key)
    elif isinstance(node, str) and key is not None and (key.endswith(("text", "note")) or key in _TEXT_KEYS
                                                        or key == "notes"):
        yield " ".join(node.split())


def _check_same_content(doc: dict, page: str) -> None:
    text = _visible_text(page)
    # The positions are one compact table: their sentences (JSON, for other uses) show as
    # figures; every other sentence of the JSON shows as it is.
    rest = {k: v for k, v in doc.items() if k not in ("positions", "decile_text", "criteria")}
    # Criteria not met are listed compactly: label and rule (how to prove them is on the
    # published grid); the others show every text.
    rest["criteria"] = [c if any(o["status"] != "not_met" for o in c["outcomes"]) or c.get("missing_text")
                        else {k: c[k] for k in ("label", "rule", "section")} for c in doc["criteria"]]
    for s in _json_texts(rest):
        assert s in text, s
    # Every figure of the JSON shows in the HTML.
    same_score = len({p["score_text"] for p in doc["positions"]}) == 1
    for p, ref in zip(doc["positions"], doc["waiting_refs"]):
        assert p["heading"] in text
        assert (p["score_text"] if not same_score else (doc["total_text"] or doc["scores"][0]["text"])) in text
        assert f"{ordinal_fr(p['rank'])} sur {p['of']}" in text and f"{p['n_above']} (" in text
        assert f"[{ref}] les {p['waiting']['cell_text']} ({p['waiting']['n_attributions']} " in text
        if p["waiting"]["shown"]:
            assert number_fr(p["waiting"]["mean_months"]) + " mois" in text
    for s in doc["scores"]:
        assert (s["text"] or doc["total_text"]) in text
    ref = doc["reference"]
    for v in (ref["grid_id"], ref["grid_version"], ref["grid_hash"], ref["date"], doc["numero_unique"]):
        assert v in page
    # And the HTML adds no sentence of its own: each text node is fixed layout or JSON text.
    blob = "\n".join(_json_texts(doc))
    p = _Text()
    p.feed(page)
    for node in p.nodes:
        core = node.strip(" —:.()")
        if not core or core in _FIXED or node.strip() in _FIXED or re.fullmatch(r"[−\d\s,]+", core) \
                or re.fullmatch(r"\([a-z]\)", node) or _CELL.fullmatch(node.strip()):
            continue
        assert core in blob, node


def test_json_and_html_have_the_same_content(stmt, doc):
    _check_same_content(doc, render_html(stmt))


def test_written_files_have_the_same_content(files):
    _, out = files
    for nu in (ME, "NU0000000000000003", "NT0000000000000001"):
        doc = json.loads((out / f"{nu}.json").read_text(encoding="utf-8"))
        _check_same_content(doc, (out / f"{nu}.html").read_text(encoding="utf-8"))


def test_html_is_self_contained(files):
    _, out = files
    page = (out / f"{ME}.html").read_text(encoding="utf-8")
    assert "@page { size: A4" in page
    assert not re.search(r"(src|href)\s*=", page)          # no external asset, no link
    assert "<script" not in page and "url(" not in page and "@import" not in page


# ----------------------------------------------------------------------------- determinism, CLI

def test_bulk_is_deterministic_and_independent_of_jobs(files, grid_path):
    from cotation.cli import main
    base, out = files
    again = base / "again"
    assert main(["statements", str(grid_path), str(base / "demandes.csv"), str(base / "attributions.csv"),
                 "--today", TODAY.isoformat(), "-o", str(again), "--jobs", "1",
                 "--engine", "interpreter"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert len(names) == 2 * len(ALL_IDS) + 1        # + index.csv
    for n in names:
        assert (out / n).read_bytes() == (again / n).read_bytes(), n


def test_bulk_in_many_chunks_is_independent_of_jobs(files, grid_path, tmp_path, monkeypatch):
    """Chunks of 3 demandes (11 of them, at most 4 in flight on 2 workers) give the files of a
    single process, byte for byte, and the same index.csv, rows in the same order. (The runs
    above have fewer demandes than the default chunk: one chunk, one worker busy.)"""
    from cotation.cli import info, main
    base, _ = files
    real = info.write_statements
    calls = []

    def small_chunks(*args, **kw):
        calls.append(kw["jobs"])
        return real(*args, **dict(kw, chunk_size=3))

    monkeypatch.setattr(info, "write_statements", small_chunks)
    assert len(ALL_IDS) > 2 * 2 * 3                   # more chunks than 2 workers hold at once
    outs = {}
    for jobs in (1, 2):
        outs[jobs] = tmp_path / f"jobs{jobs}"
        assert main(["statements", str(grid_path), str(base / "demandes.csv"), str(base / "attributions.csv"),
                     "--today", TODAY.isoformat(), "-o", str(outs[jobs]), "--jobs", str(jobs),
                     "--engine", "interpreter"]) == 0
    assert calls == [1, 2]
    names = sorted(p.name for p in outs[1].iterdir())
    assert names == sorted(p.name for p in outs[2].iterdir())
    assert len(names) == 2 * len(ALL_IDS) + 1        # + index.csv
    for n in names:
        assert (outs[1] / n).read_bytes() == (outs[2] / n).read_bytes(), n
    rows = (outs[2] / "index.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == sorted(ALL_IDS)


def test_ids_and_format(files, grid_path, tmp_path, capsys):
    from cotation.cli import main
    base, _ = files
    out = tmp_path / "one"
    args = ["statements", str(grid_path), str(base / "demandes.csv"), str(base / "attributions.csv"),
            "--today", TODAY.isoformat(), "-o", str(out), "--format", "json", "--ids", ME]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{ME}.json"]
    assert main(args[:-1] + ["INCONNU"]) == 1
    assert "no demande 'INCONNU'" in capsys.readouterr().err


def test_statement_does_not_depend_on_the_chunking(pos):
    static = statement_static(pos)
    one_by_one = [build_statement(c, static) for c in demande_contexts(pos, [5, 0, 12])]
    in_bulk = {d.numero_unique: d for d in (build_statement(c, static) for c in demande_contexts(pos))}
    assert [d.numero_unique for d in one_by_one] == [ALL_IDS[5], ALL_IDS[0], ALL_IDS[12]]
    for d in one_by_one:
        assert d == in_bulk[d.numero_unique]


def test_file_stem_is_safe():
    assert file_stem("069112275353N00005") == "069112275353N00005"
    odd = file_stem("../x y")
    assert "/" not in odd and " " not in odd and odd != file_stem("_.x y")
    # a 300-character numero unique made every statement fail ("File name too long")
    long_a, long_b = file_stem("A" * 300), file_stem("A" * 299 + "B")
    assert len(long_a) <= 91 and long_a != long_b and long_a.startswith("A" * 80)


def test_statement_does_not_depend_on_the_engines_pair_order(grid_path, stmt):
    import dataclasses
    import numpy as np
    grid = load_grid(grid_path)
    table = demandes()
    st = score(grid.ir, table, TODAY, explain=True)
    perm = np.arange(len(st))[::-1]
    rev = dataclasses.replace(
        st, **{k: getattr(st, k)[perm] for k in ("row", "numero_unique", "commune", "rang", "score",
                                                 "score_valide", "met", "set_aside", "met_valide",
                                                 "set_aside_valide", "points", "rank")},
        order_keys=[[k[p] for p in perm] for k in st.order_keys])
    again = statement_for(position(grid.ir, rev, table, attributions(), TODAY), 0, {A: "Lyon", B: "Villeurbanne"})
    assert statement_json(again) == statement_json(stmt)


# ----------------------------------------------------------------------------- typed model, templates

def test_typed_statement_is_its_json(stmt, doc):
    assert isinstance(stmt, Statement)
    assert stmt.to_dict() == doc
    assert statement_json(stmt) == json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
    assert list(doc)[:4] == ["format", "title", "numero_unique", "reference"]
    # bound_text is a key only where a total bound applies (none here)
    assert all("bound_text" not in s for s in doc["scores"])


def test_template_folder_overrides_shipped_templates(pos, tmp_path):
    from cotation.info.statements import write_statements
    tpl = tmp_path / "epci"
    tpl.mkdir()
    (tpl / "statement_header.html").write_text(
        '<div class="epci"><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" role="img">'
        '<title>Logo</title><circle cx="10" cy="10" r="9"/></svg> Métropole de Test — {{ doc.reference.territory }}'
        '</div>\n', encoding="utf-8")
    (tpl / "statement_footer.html").write_text(
        "<address>Accueil des demandeurs : 1 place de la Mairie, 69000 Lyon</address>\n", encoding="utf-8")
    (tpl / "statement.css").write_text("body { color: #000; }\n", encoding="utf-8")
    plain, custom = tmp_path / "plain", tmp_path / "custom"
    write_statements(pos, plain, indices=[0])
    write_statements(pos, custom, indices=[0], templates=tpl)
    page = (custom / f"{ME}.html").read_text(encoding="utf-8")
    assert "Métropole de Test — Territoire Test</div>" in page
    assert "<address>Accueil des demandeurs : 1 place de la Mairie" in page
    assert "body { color: #000; }" in page and "@page { size: A4" not in page
    assert page != (plain / f"{ME}.html").read_text(encoding="utf-8")
    assert (custom / f"{ME}.json").read_bytes() == (plain / f"{ME}.json").read_bytes()


def test_an_override_can_replace_one_block(stmt, tmp_path):
    (tmp_path / "statement.html").write_text(
        '{% extends "shipped/statement.html" %}{% block refusal %}<h2>Refus</h2>'
        "<p>{{ doc.refusal.text }} Voir le règlement intérieur de la CALEOL.</p>{% endblock %}",
        encoding="utf-8")
    page = render_html(stmt, templates=tmp_path)
    assert "<h2>Refus</h2>" in page and "règlement intérieur" in page
    assert "<h2>Si vous refusez un logement</h2>" not in page
    assert "L'essentiel" in page and stmt.reference.footer_text in page     # the other blocks stay


def test_html_is_autoescaped(pos, tmp_path):
    evil = "<script>alert('x')</script> & Cie"
    stmt = statement_for(pos, 0, {A: evil})
    (tmp_path / "statement_header.html").write_text("<p>{{ doc.demande.communes[0].name }}</p>",
                                                    encoding="utf-8")
    for page in (render_html(stmt), render_html(stmt, templates=tmp_path)):
        assert "<script" not in page
        assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; Cie" in page
    assert json.loads(statement_json(stmt))["demande"]["communes"][0]["name"] == evil


def test_broken_template_folder_is_a_located_error(files, grid_path, tmp_path, capsys):
    from cotation.cli import main
    base, _ = files
    args = ["statements", str(grid_path), str(base / "demandes.csv"), str(base / "attributions.csv"),
            "--today", TODAY.isoformat(), "--ids", ME]
    assert main(args + ["-o", str(tmp_path / "a"), "--templates", str(tmp_path / "absent")]) == 1
    assert "templates folder not found" in capsys.readouterr().err
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "statement_footer.html").write_text("<p>ok</p>\n<p>{% if doc %}</p>\n", encoding="utf-8")
    assert main(args + ["-o", str(tmp_path / "b"), "--templates", str(tpl)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --templates: ") and len(err.splitlines()) == 1     # before reading data
    assert "statement_footer.html, line 2" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()        # checked before anything is written
    (tpl / "statement_footer.html").write_text("<p>{{ doc.no_such_field }}</p>\n", encoding="utf-8")
    assert main(args + ["-o", str(tmp_path / "c"), "--templates", str(tpl)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: --templates: ") and "no_such_field" in err and "statement_footer.html, line 1" in err and "Traceback" not in err
    assert "'no_such_field' does not exist in 'Statement'" in err        # not Jinja's words


def test_jinja_messages_in_the_users_language(monkeypatch):
    from cotation.templating import jinja_message
    monkeypatch.setenv("COTATION_LANG", "fr")
    assert jinja_message("Expected an expression, got 'end of statement block'") == \
        "une expression est attendue ici, pas « la fin de la balise »"
    assert jinja_message("'cotation.x.Statement object' has no attribute 'nom'") == \
        "« nom » n'existe pas dans « Statement »"
    assert jinja_message("'nope' is undefined") == "« nope » n'est pas défini"
    assert jinja_message("something Jinja says rarely") == "something Jinja says rarely"

"""The grid test-case harness (``cotation test``, the pytest plugin): a case file written wrong
is refused with one located line, never passes; failures are in the user's language."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cotation.cli import main
from cotation.testing.cases import CasesError, run_cases

from _support import ROOT

GRID = ROOT / "grids" / "lyon-metropole.yaml"

# The first Lyon case: one demande, scored for two communes (69123: 42, 69266: 37).
DEMANDE = """\
    demande:
      numero_unique: "069123240100000001"
      date_depot: 2024-01-15
      est_mutation: false
      situation_logement: locataire_prive
      nb_personnes: 3
      nb_adultes: 1
      nb_enfants: 2
      date_naissance: 1990-03-12
      situation_pro: cdd_interim
      commune_residence: "69266"
      commune_travail: "69123"
      ressources_mensuelles: 1500
      loyer_actuel: 600
      aide_logement: 150
      localisations: ["69123", "69266"]
"""
HEAD = f"""\
grid: {GRID}
today: 2025-06-30
cases:
  - name: "Parent isolé"
"""
TWO_DEMANDES = """\
    demandes:
      - {numero_unique: "069123000000000101", date_depot: 2025-03-15, est_mutation: false,
         situation_logement: sans_abri, nb_personnes: 1, localisations: ["69123"]}
      - {numero_unique: "069123000000000102", date_depot: 2024-11-30, est_mutation: false,
         situation_logement: heberge_particulier, nb_personnes: 1, localisations: ["69123"]}
"""
AFTER = len((HEAD + DEMANDE).splitlines()) + 1   # the line that follows the demande


def write(tmp_path: Path, text: str, name: str = "x.cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cli(path: Path, capsys) -> tuple[int, str, str]:
    rc = main(["test", str(path)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_bundled_first_case_passes(tmp_path, capsys):
    path = write(tmp_path, HEAD + DEMANDE + """\
    expect:
      - {commune: "69123", score: 42, met: [taux_effort, parent_isole, travail_commune, anciennete]}
      - {commune: "69266", score: 37, points: {residence_commune: 5}}
""")
    rc, out, err = cli(path, capsys)
    assert (rc, err) == (0, ""), out
    assert "1 passed, 0 failed" in out


# (what, text after the demande or a whole file, line reported, words of the message)
REFUSED = [
    ("unknown key in an expect entry (the reviewer's copy)",
     HEAD + DEMANDE + "    expect: [{commune: 69123, socre: 999, mett: [nope]}]\n",
     AFTER, ["unknown key 'socre' in an 'expect' entry", "did you mean 'score'?"]),
    ("unknown key in an expect entry, block style",
     HEAD + DEMANDE + "    expect:\n      - commune: \"69123\"\n        score: 42\n        pionts: {dalo: 1}\n",
     AFTER + 3, ["unknown key 'pionts' in an 'expect' entry", "'points'"]),
    ("unknown key in a case",
     HEAD + DEMANDE + "    expcet:\n      - {commune: \"69123\", score: 42}\n",
     AFTER, ["unknown key 'expcet' in a case", "did you mean 'expect'?"]),
    ("unknown key at the top of the file",
     "gird: lyon-metropole.yaml\n" + HEAD + DEMANDE + "    expect_not_scored: true\n",
     1, ["unknown key 'gird' in the file", "'grid'"]),
    ("no expectation (the reviewer's copy)",
     HEAD + DEMANDE,
     4, ["this case states no expectation", "'expect'", "'expect_ranks'", "'expect_not_scored: true'",
         "'expect_error'"]),
    ("an empty expect list",
     HEAD + DEMANDE + "    expect: []\n",
     4, ["this case states no expectation"]),
    ("expect_not_scored: false",
     HEAD + DEMANDE + "    expect_not_scored: false\n",
     AFTER, ["'expect_not_scored' can only be true"]),
    ("an expect entry that checks nothing",
     HEAD + DEMANDE + "    expect:\n      - commune: \"69123\"\n",
     AFTER + 1, ["this 'expect' entry checks nothing", "score, score_valide, met, set_aside, points, rank"]),
    ("an expect entry whose points are empty",
     HEAD + DEMANDE + "    expect:\n      - {commune: \"69123\", points: {}}\n",
     AFTER + 1, ["this 'expect' entry checks nothing"]),
    ("several demandes, an expect entry without numero_unique",
     HEAD + TWO_DEMANDES + "    expect:\n      - {commune: \"69123\", score: 43}\n",
     11, ["this case has several demandes", "add 'numero_unique' to this 'expect' entry"]),
    ("numero_unique that is not a demande of the case",
     HEAD + DEMANDE + "    expect:\n      - {numero_unique: \"069123240100000009\", commune: \"69123\", score: 42}\n",
     AFTER + 1, ["numero_unique '069123240100000009' is not a demande of this case"]),
    ("expect_not_scored and expect together",
     HEAD + DEMANDE + "    expect_not_scored: true\n    expect: [{commune: \"69123\", score: 42}]\n",
     AFTER + 1, ["'expect_not_scored' and 'expect' contradict each other"]),
    ("demande and demandes together",
     HEAD + DEMANDE + TWO_DEMANDES + "    expect_not_scored: true\n",
     AFTER, ["give 'demande' or 'demandes', not both"]),
    ("no demande",
     HEAD + "    expect_not_scored: true\n",
     4, ["this case has no demande"]),
    ("a score written with a decimal comma",
     HEAD + DEMANDE + "    expect:\n      - {commune: \"69123\", score: \"42,5\"}\n",
     AFTER + 1, ["'score' must be a number"]),
    ("a bad today",
     HEAD + "    today: 30/06/2025\n" + DEMANDE + "    expect_not_scored: true\n",
     5, ["'today' must be a date written YYYY-MM-DD"]),
    ("a today that is no date (was an internal error)",
     HEAD + "    today: 2025-02-30\n" + DEMANDE + "    expect_not_scored: true\n",
     5, ["'today' must be a date written YYYY-MM-DD", "2025-02-30"]),
    ("a today written without dashes (fromisoformat takes it)",
     HEAD + "    today: 20250630\n" + DEMANDE + "    expect_not_scored: true\n",
     5, ["'today' must be a date written YYYY-MM-DD", "20250630"]),
    ("a today written as an ISO week",
     HEAD + "    today: 2025-W27-1\n" + DEMANDE + "    expect_not_scored: true\n",
     5, ["'today' must be a date written YYYY-MM-DD"]),
    ("a number of 5,000 digits (int() refuses it)",
     HEAD + DEMANDE.replace("nb_personnes: 3", "nb_personnes: " + "9" * 5000)
     + "    expect_not_scored: true\n",
     HEAD.count("\n") + DEMANDE.splitlines().index("      nb_personnes: 3") + 1,
     ["a number of 5000 digits: out of range"]),
    ("YAML aliases (a billion laughs expanded to gigabytes)",
     "x: &a [xxxxxxxx, xxxxxxxx]\ny: [*a, *a]\n" + HEAD + DEMANDE + "    expect_not_scored: true\n",
     1, ["YAML anchors and aliases"]),
    ("a case that is not a mapping",
     f"grid: {GRID}\ntoday: 2025-06-30\ncases:\n  - just a name\n",
     3, ["every case must be a mapping"]),
    ("no case at all",
     f"grid: {GRID}\ntoday: 2025-06-30\ncases: []\n",
     3, ["'cases' is empty"]),
    ("unknown key in an expected error",
     "cases:\n  - name: broken\n    grid: broken/duplicate_id.yaml\n    expect_error: {cdoe: duplicate-id}\n",
     4, ["unknown key 'cdoe' in an expected error", "'code'"]),
    ("an expected error that checks nothing",
     "cases:\n  - name: broken\n    grid: broken/duplicate_id.yaml\n    expect_errors:\n      - {}\n",
     5, ["this expected error checks nothing", "code, line, column, criterion, contains"]),
    ("an error case with a demande",
     "cases:\n  - name: broken\n    grid: broken/duplicate_id.yaml\n    expect_error: {code: duplicate-id}\n"
     + DEMANDE,
     5, ["'demande' is not used by a case that expects grid errors"]),
]


@pytest.mark.parametrize("what,text,line,words", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_case_written_wrong_is_refused_with_one_located_line(tmp_path, capsys, what, text, line, words):
    path = write(tmp_path, text)
    rc, out, err = cli(path, capsys)
    assert rc == 1, out
    assert "Traceback" not in err and "passed" not in out
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {path}:{line}: "), err
    for w in words:
        assert w in err, err


def test_several_communes_scored_and_no_commune_is_refused(tmp_path, capsys):
    """The demande is scored for 69123 and 69266: an entry without 'commune' is ambiguous
    (it used to check the first cotation only)."""
    path = write(tmp_path, HEAD + DEMANDE + "    expect:\n      - {score: 37}\n")
    rc, out, err = cli(path, capsys)
    assert rc == 1 and "Traceback" not in err and "passed" not in out
    assert err == (f"error: {path}:{AFTER + 1}: this demande is scored for several communes "
                   "(69123, 69266): add 'commune' to this 'expect' entry to say which one it checks\n")


def test_one_commune_scored_needs_no_commune(tmp_path, capsys):
    text = (HEAD + DEMANDE).replace('["69123", "69266"]', '["69266"]') + "    expect: {score: 37}\n"
    rc, out, err = cli(write(tmp_path, text), capsys)
    assert (rc, err) == (0, ""), out


def test_several_demandes_with_numero_unique(tmp_path, capsys):
    path = write(tmp_path, HEAD + TWO_DEMANDES + """\
    expect:
      - {numero_unique: "069123000000000101", commune: "69123", score: 43}
      - {numero_unique: "069123000000000102", score: 30}
""")
    rc, out, err = cli(path, capsys)
    assert rc == 1 and err == "", err
    assert "demande 069123000000000102, commune 69123: score 32.00, expected 30" in out
    assert "1 failed" in out and "069123000000000101" not in out


def test_failures_in_french(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")
    path = write(tmp_path, HEAD + DEMANDE + """\
    expect:
      - commune: "69123"
        score: 40
        met: [taux_effort]
        points: {taux_effort: 9}
      - {commune: "69999", score: 1}
""")
    rc, out, err = cli(path, capsys)
    assert rc == 1 and err == ""
    assert out.splitlines() == [
        "ÉCHEC Parent isolé",
        "     commune 69123 : score 42.00, attendu : 40",
        "     commune 69123 : critères remplis [anciennete, parent_isole, taux_effort, travail_commune], "
        "attendu : [taux_effort]",
        "     commune 69123 : taux_effort donne 10.00, attendu : 9",
        "     commune 69999 : non cotée (communes cotées : [69123, 69266])",
        "0 réussi(s), 1 en échec",
    ]


def test_a_case_written_wrong_in_french(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")
    path = write(tmp_path, HEAD + DEMANDE + "    expect: [{commune: 69123, socre: 999}]\n")
    rc, out, err = cli(path, capsys)
    assert rc == 1
    assert err.startswith(f"erreur : {path}:{AFTER} : clé « socre » inconnue dans une entrée de « expect » "
                          "(vouliez-vous dire « score » ?)"), err


def test_run_cases_raises_for_a_case_written_wrong(tmp_path):
    with pytest.raises(CasesError, match="states no expectation"):
        run_cases(write(tmp_path, HEAD + DEMANDE))


def test_pytest_plugin_reports_a_case_written_wrong_in_one_line(tmp_path):
    write(tmp_path, HEAD + DEMANDE + "    expect: [{commune: 69123, socre: 999}]\n", "bad.cases.yaml")
    write(tmp_path, HEAD + DEMANDE + "    expect: [{score: 42}]\n", "ambiguous.cases.yaml")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--continue-on-collection-errors", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out, out
    assert f"bad.cases.yaml:{AFTER}: unknown key 'socre' in an 'expect' entry" in out, out
    assert f"ambiguous.cases.yaml:{AFTER}: this demande is scored for several communes" in out, out
    assert "1 failed" in out and "1 error" in out, out


def test_expected_grid_errors(tmp_path, capsys):
    broken = ROOT / "grids" / "broken" / "duplicate_id.yaml"
    path = write(tmp_path, textwrap.dedent(f"""\
        cases:
          - name: matches
            grid: {broken}
            expect_error: {{code: duplicate-id}}
          - name: does not match
            grid: {broken}
            expect_errors: [{{code: band-empty}}]
          - name: validates
            grid: {GRID}
            expect_error: {{code: duplicate-id}}
        """))
    rc, out, err = cli(path, capsys)
    assert rc == 1 and err == ""
    assert "PASS matches" in out
    assert "no diagnostic matches {code: band-empty}; got:" in out
    assert "lyon-metropole.yaml validates, expected 1 error(s)" in out

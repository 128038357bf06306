"""The --scores file of `flux dispatch` (the output of `cotation score`): every cell checked
with a located message, lines that match no demande counted as rejects, an empty or foreign
file an error (never a dispatch silently run without cotation)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from cotation.data.table import DemandeTable
from cotation.flux.errors import FluxInputError
from cotation.flux.model import Logement
from cotation.flux.scores_file import read_scores_csv
from cotation.flux.shortlist import ScoreFileSource
from cotation.flux.targets import Party
from flux_helpers import RAW_PYTHON, flux_args, problems, run_cli


# ----------------------------------------------------------------------------- scores file

HEADER = "numero_unique,commune,score,score_valide,rank\n"


def _scores_file(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    p = tmp_path / "scores.csv"
    p.write_text(header + body, encoding="utf-8")
    return p


BAD_CELLS = [
    ("rank", "D1,83001,1.5,1.5,99999999999999999999999\n"),
    ("rank", "D1,83001,1.5,1.5,-1\n"),
    ("rank", "D1,83001,1.5,1.5,0\n"),
    ("rank", "D1,83001,1.5,1.5,2.5\n"),
    ("rank", "D1,83001,1.5,1.5,un\n"),
    ("rank", "D1,83001,1.5,1.5,1_0\n"),
    ("score", "D1,83001,nan,1.5,1\n"),
    ("score", "D1,83001,inf,1.5,1\n"),
    ("score", "D1,83001,-inf,1.5,1\n"),
    ("score", "D1,83001,1e400,1.5,1\n"),
    ("score", "D1,83001,abc,1.5,1\n"),
    ("score", 'D1,83001,"1,5",1.5,1\n'),
    ("score_valide", "D1,83001,1.5,NaN,1\n"),
    ("score_valide", "D1,83001,1.5,1_000,1\n"),
    ("commune", "D1,8301,1.5,1.5,1\n"),
    ("commune", "D1,830011,1.5,1.5,1\n"),
    ("commune", "D1,2C001,1.5,1.5,1\n"),
    ("commune", "D1,,1.5,1.5,1\n"),
    ("numero_unique", " ,83001,1.5,1.5,1\n"),
]


@pytest.mark.parametrize("column,body", BAD_CELLS)
def test_bad_score_cells_are_located_errors(tmp_path, column, body):
    p = _scores_file(tmp_path, "D0,83001,2.5,2.5,1\n" + body)
    with pytest.raises(FluxInputError) as exc:
        read_scores_csv(p)
    (msg,) = problems(exc)
    assert msg.startswith(f"{p}:3: column {column}: "), msg
    assert not any(raw in msg for raw in RAW_PYTHON), msg


def test_score_file_structure_errors(tmp_path):
    p = _scores_file(tmp_path, "D1,83001,1.5,1.5,1,extra\nD2,83001\n")
    with pytest.raises(FluxInputError) as exc:
        read_scores_csv(p)
    assert [m.split(": ", 1)[1] for m in problems(exc)] == ["6 cells, header has 5", "2 cells, header has 5"]
    p = _scores_file(tmp_path, "D1,1.5\n", header="numero_unique,score\n")
    with pytest.raises(FluxInputError, match=r"scores.csv:1: missing required column\(s\): commune"):
        read_scores_csv(p)
    p = _scores_file(tmp_path, "D1,83001,1.5,2.5\n", header="numero_unique,commune,score,score\n")
    with pytest.raises(FluxInputError, match=r"scores.csv:1: duplicated column\(s\): score"):
        read_scores_csv(p)
    p = _scores_file(tmp_path, "", header="")
    with pytest.raises(FluxInputError, match=r"scores.csv:1: empty file"):
        read_scores_csv(p)


def test_header_only_score_file_is_an_error(tmp_path):
    """Dispatching with an empty score file would silently order by date_depot."""
    p = _scores_file(tmp_path, "")
    with pytest.raises(FluxInputError, match=r"scores.csv:1: no score line"):
        read_scores_csv(p)
    p = _scores_file(tmp_path, "\n\n")
    with pytest.raises(FluxInputError, match=r"scores.csv:1: no score line"):
        read_scores_csv(p)


def test_many_bad_lines_are_all_counted(tmp_path):
    p = _scores_file(tmp_path, "".join(f"D{i},83001,x,1,{i + 1}\n" for i in range(120)))
    with pytest.raises(FluxInputError) as exc:
        read_scores_csv(p)
    assert str(exc.value).splitlines()[-1].endswith("… and 70 more")
    assert len(str(exc.value).splitlines()) == 51


def test_good_score_file_keeps_missing_cells_and_extra_columns(tmp_path):
    p = _scores_file(tmp_path, "D1,83001,12.50,12.50,1,3.0\nD2,2A004,,,,\nD3,83001,-3.5,+4,2.0,x\n",
                     header="numero_unique,commune,score,score_valide,rank,pts_age\n")
    s = read_scores_csv(p)
    assert s.numero_unique.tolist() == ["D1", "D2", "D3"]
    assert s.commune.tolist() == ["83001", "2A004", "83001"]
    assert s.score.tolist()[0] == 12.5 and np.isnan(s.score[1]) and s.score[2] == -3.5
    assert s.score_valide.tolist()[2] == 4.0
    assert s.rank.tolist() == [1, -1, 2]


def test_both_readers_agree_and_locate_lines(tmp_path):
    """A plain file is read by Arrow; blank lines or a value over two lines send it to the line
    by line reader: same values, and each problem at its physical line."""
    header = "numero_unique,commune,score,score_valide,rank,note\n"
    body = "D1,83001,12.50,12.50,1,a\nD2,2A004,,,,b\nD3, 83001 ,-3.5,+4,2.0,c\nD4,83001,1e2,7,3,d\n"
    plain = read_scores_csv(_scores_file(tmp_path, body, header=header))
    assert plain.line.tolist() == [2, 3, 4, 5]
    odd = tmp_path / "odd.csv"
    odd.write_text(header + body.replace("\nD3", '\n\nD3').replace(",d\n", ',"d\nd"\n'), encoding="utf-8")
    other = read_scores_csv(odd)
    assert other.line.tolist() == [2, 3, 5, 7]     # a value over two lines: its last line, as csv says
    for name in ("numero_unique", "commune", "rank"):
        assert getattr(plain, name).tolist() == getattr(other, name).tolist()
    for name in ("score", "score_valide"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(other, name))
    assert plain.commune.tolist() == ["83001", "2A004", "83001", "83001"]
    assert plain.score_valide.tolist()[2:] == [4.0, 7.0] and plain.rank.tolist() == [1, -1, 2, 3]
    blank = tmp_path / "blank.csv"
    blank.write_bytes((header + "\n" + body.replace("\nD3", "\n\nD3") + "\n\n").replace("\n", "\r\n").encode())
    assert read_scores_csv(blank).line.tolist() == [3, 4, 6, 7]
    blank.write_bytes((header + "D1,83001,1,1,1,x\r\n\r\nD2,8301,1,1,2,x\r\n").encode())
    with pytest.raises(FluxInputError, match=r"blank.csv:4: column commune: '8301'"):
        read_scores_csv(blank)
    odd.write_text(header + 'D1,83001,1,1,1,"two\nlines"\n\nD2,8301,1,1,2,x\nD3,83001,1,1,x,y\n', encoding="utf-8")
    with pytest.raises(FluxInputError) as exc:
        read_scores_csv(odd)
    assert problems(exc) == [f"{odd}:5: column commune: '8301' is not an INSEE commune code",
                              f"{odd}:6: column rank: 'x' is not a whole number"]


def _dem(nu, loc, depot="2023-01-01"):
    return {"numero_unique": nu, "date_depot": dt.date.fromisoformat(depot), "nb_personnes": 3, "nb_adultes": 2,
            "nb_enfants": 1, "localisations": tuple(loc), "typologies": frozenset(["T3"]),
            "revenu_fiscal_reference": 10_000, "prioritaire": False, "dalo_statut": "non"}


TABLE = [_dem("D1", ["83001"]), _dem("D2", ["83001", "83008"]), _dem("D3", ["83001"], "2020-01-01")]
DW = Logement("L1", "83001", False, "T3", "PLUS")
BAILLEUR = Party("BAILLEUR", "BAILLEUR", "b")
GOOD = "D1,83001,10,10,2\nD2,83001,20,20,1\nD3,83001,5,5,3\n"


def _source(p: Path) -> ScoreFileSource:
    return ScoreFileSource(DemandeTable.from_records(TABLE), read_scores_csv(p), year=2025)


def test_score_lines_that_match_no_demande_are_counted_rejects(tmp_path):
    body = GOOD + "D9,83001,99,99,1\nD1,83008,99,99,1\nD2,83001,20,20,1\n"
    src = _source(_scores_file(tmp_path, body))
    assert src.score_summary == {"read": 6, "accepted": 3, "rejected": 3}
    assert [str(p) for p in src.score_rejects] == [
        f"{tmp_path / 'scores.csv'}:5: column numero_unique: the demande 'D9' is not among the demandes read",
        f"{tmp_path / 'scores.csv'}:6: column commune: the demande 'D1' does not seek the commune 83008",
        f"{tmp_path / 'scores.csv'}:7: the same demande and commune as line 3",
    ]
    # The shortlist is the one of the good lines alone.
    clean = _source(_scores_file(tmp_path, GOOD))
    assert clean.score_summary == {"read": 3, "accepted": 3, "rejected": 0}
    assert [c.numero_unique for c in src.shortlist(DW, BAILLEUR, 3)] == \
        [c.numero_unique for c in clean.shortlist(DW, BAILLEUR, 3)] == ["D2", "D1", "D3"]


def test_conflicting_duplicate_score_lines_are_an_error(tmp_path):
    p = _scores_file(tmp_path, GOOD + "D2,83001,21,20,1\n")
    with pytest.raises(FluxInputError) as exc:
        _source(p)
    assert problems(exc) == [f"{p}:5: the demande 'D2' is scored twice for the commune 83001 with different "
                              "values (line 3)"]


def test_a_score_file_of_other_demandes_is_an_error(tmp_path):
    p = _scores_file(tmp_path, "X1,83001,10,10,1\nX2,83001,5,5,2\n")
    with pytest.raises(FluxInputError) as exc:
        _source(p)
    (msg,) = problems(exc)
    assert msg.startswith(f"{p}:1: no score line matches a demande"), msg


def test_dispatch_reports_rejected_score_lines(flux_dir, capsys):
    scores = flux_dir / "scores.csv"
    with open(scores, "a", encoding="utf-8") as fh:
        fh.write("83259999999999999G,83001,500.0,500.0,1\n")
    code = run_cli(["flux", "dispatch", *flux_args(flux_dir), "--demandes", str(flux_dir / "demandes.csv"),
                 "--scores", str(scores), "-o", str(flux_dir / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "scores: 1679 read, 1678 kept, 1 rejected" in err
    assert f"{scores}:1680: column numero_unique: the demande '83259999999999999G' is not among" in err


@pytest.mark.parametrize("body", ["", "D1,83001,nan,1,1\n", "D1,83001,1,1,99999999999999999999999\n"])
def test_dispatch_exit_code_on_a_bad_score_file(flux_dir, capsys, body):
    scores = _scores_file(flux_dir, body)
    code = run_cli(["flux", "dispatch", *flux_args(flux_dir), "--demandes", str(flux_dir / "demandes.csv"),
                 "--scores", str(scores), "-o", str(flux_dir / "out")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"{scores}:" in err and "internal error" not in err
    assert not (flux_dir / "out").exists()



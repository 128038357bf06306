"""Numbers of the flux inputs (logements loyer, conventions): finite, in range, located
French messages; never a raw Python message or a silently dropped filter."""
from __future__ import annotations

import io

import pytest

from cotation.flux.conventions import loads_conventions
from cotation.flux.errors import FluxInputError
from cotation.flux.inputs import read_logements
from flux_helpers import RAW_PYTHON, flux_args, problems, run_cli, TEST_A_CONVENTIONS


# ----------------------------------------------------------------------------- logements: loyer

LOG = "id,commune,qpv,typologie,financement,loyer\n"


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-5", "-0.01", "1_000",
                                  "abc", "1,5", "١٢", "5e12", "0x10"])
def test_loyer_must_be_a_finite_non_negative_decimal(text):
    with pytest.raises(FluxInputError) as exc:
        read_logements(io.StringIO(LOG + f'L1,83001,false,T3,PLUS,"{text}"\n'), "f.csv")
    (p,) = problems(exc)
    assert p.startswith("f.csv:2: column loyer: ")
    assert not any(raw in p for raw in RAW_PYTHON), p


def test_loyer_good_values():
    text = LOG + "L1,83001,false,T3,PLUS,512.5\nL2,83001,false,T3,PLUS,\nL3,83001,false,T3,PLUS, 600 \n" \
                 "L4,83001,false,T3,PLUS,0\nL5,83001,false,T3,PLUS,1e3\n"
    assert [lg.loyer for lg in read_logements(io.StringIO(text), "f.csv")] == [512.5, None, 600.0, 0.0, 1000.0]


def test_loyer_messages_say_what_is_wrong():
    text = LOG + "L1,83001,false,T3,PLUS,abc\nL2,83001,false,T3,PLUS,nan\nL3,83001,false,T3,PLUS,-5\n"
    with pytest.raises(FluxInputError) as exc:
        read_logements(io.StringIO(text), "f.csv")
    p = problems(exc)
    assert "'abc' is not a decimal number" in p[0]
    assert "'nan' is not a decimal number" in p[1]
    assert "'-5' is negative" in p[2]


def test_commune_digits_are_ascii():
    with pytest.raises(FluxInputError) as exc:
        read_logements(io.StringIO(LOG + "L1,８３００１,false,T3,PLUS,\n"), "f.csv")
    assert "column commune" in problems(exc)[0]


def test_dispatch_refuses_a_nan_rent_instead_of_dropping_the_taux_effort_filter(flux_dir, capsys):
    conv = flux_dir / "conventions.yaml"
    conv.write_text(conv.read_text(encoding="utf-8").replace(
        "  dispatch:\n", "  shortlist:\n    max_taux_effort: 0.3\n  dispatch:\n", 1), encoding="utf-8")
    lines = (flux_dir / "logements.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(",loyer")
    lines[1] = lines[1].rsplit(",", 1)[0] + ",nan"
    (flux_dir / "logements.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = run_cli(["flux", "dispatch", *flux_args(flux_dir), "--demandes", str(flux_dir / "demandes.csv"),
                 "--scores", str(flux_dir / "scores.csv"), "-o", str(flux_dir / "out")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"{flux_dir / 'logements.csv'}:2: column loyer: 'nan'" in err
    assert not (flux_dir / "out").exists()


# ----------------------------------------------------------------------------- conventions numbers

@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "1.0e+400"])
def test_conventions_non_finite_numbers_are_located_errors(value):
    text = TEST_A_CONVENTIONS.replace("settings:\n", f"settings:\n  shortlist: {{max_taux_effort: {value}}}\n", 1)
    with pytest.raises(FluxInputError) as exc:
        loads_conventions(text, "c.yaml")
    (p,) = problems(exc)
    assert p.startswith("c.yaml:5: settings.shortlist.max_taux_effort: ") and "not a finite number" in p, p
    text = TEST_A_CONVENTIONS.replace("percentage: 25,", f"percentage: {value},", 1)
    with pytest.raises(FluxInputError) as exc:
        loads_conventions(text, "c.yaml")
    (p,) = problems(exc)
    assert p.startswith("c.yaml:14: conventions.0.percentage: ") and "not a finite number" in p, p
    assert not any(raw in p for raw in RAW_PYTHON), p


# ----------------------------------------------------------------------------- état des réservations

def test_reservation_table_counts_are_whole_non_negative_numbers():
    from cotation.flux.conversion import read_reservation_tables
    text = ("reservataire,financement,T1,T2,TOTAL\n"
            "A,PLUS,-5,3,-2\nA,TOTAL,1 000,3,1\u202f003\n"
            "B,PLUS,1_0,١,11\nB,TOTAL,abc,1,11\nB,PLUS,1,1,2\nB,PLUS,1,1,2\n")
    with pytest.raises(FluxInputError) as exc:
        read_reservation_tables(io.StringIO(text), "e.csv")
    assert problems(exc) == [
        "e.csv:2: column T1: '-5' is negative: a count of 0 or more is expected",
        "e.csv:2: column TOTAL: '-2' is negative: a count of 0 or more is expected",
        "e.csv:4: column T1: '1_0' is not a whole number",
        "e.csv:4: column T2: '١' is not a whole number",
        "e.csv:5: column T1: 'abc' is not a whole number",
        "e.csv:7: row PLUS given twice for B (first at line 6)",
        "e.csv:6: no TOTAL row for B",
    ]
    ok = read_reservation_tables(io.StringIO("reservataire,financement,T1,T2,TOTAL\n"
                                             "A,PLUS,1 000,3,1\u202f003\nA,TOTAL,1\u00a0000,3,1003\n"), "e.csv")
    assert ok[0].total == 1003

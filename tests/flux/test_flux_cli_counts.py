"""--year and the counts of the flux commands: a usage error (exit 2) out of range, never an
internal error (exit 3) or a silently negative result."""
from __future__ import annotations


import pytest
from flux_helpers import flux_args, run_cli


# ----------------------------------------------------------------------------- --year

YEAR_COMMANDS = {
    "assiette": lambda d, y: ["flux", "assiette", *flux_args(d, y)],
    "targets": lambda d, y: ["flux", "targets", *flux_args(d, y)],
    "dispatch": lambda d, y: ["flux", "dispatch", *flux_args(d, y), "-o", str(d / "out")],
    "bilan": lambda d, y: ["flux", "bilan", *flux_args(d, y), "-o", str(d / "out")],
    "etat-des-lieux": lambda d, y: ["flux", "etat-des-lieux", "--logements", str(d / "logements.csv"),
                                    "--evenements", str(d / "evenements.csv"), "--year", y],
    "generate": lambda d, y: ["flux", "generate", "--seed", "1", "--dwellings", "5", "--year", y,
                              "-o", str(d / "out")],
}


@pytest.mark.parametrize("year", ["0", "-1", "99999999999", "1899", "2201", "abc", "2025.0", "٢٠٢٥", ""])
@pytest.mark.parametrize("command", sorted(YEAR_COMMANDS))
def test_year_out_of_range_is_a_usage_error(flux_dir, capsys, command, year):
    code = run_cli(YEAR_COMMANDS[command](flux_dir, year))
    err = capsys.readouterr().err
    assert code == 2, err
    first = "1964" if command == "generate" else "1900"
    assert f"--year: expected a year from {first} to 2200" in err and "internal error" not in err
    assert not (flux_dir / "out").exists()


@pytest.mark.parametrize("year", ["1900", "2200"])
def test_year_bounds_are_accepted(flux_dir, capsys, year):
    """In range, a year without data is a finding or an input error, never an internal error."""
    assert run_cli(["flux", "etat-des-lieux", "--logements", str(flux_dir / "logements.csv"),
                 "--evenements", str(flux_dir / "evenements.csv"), "--year", year]) == 0
    assert run_cli(["flux", "assiette", *flux_args(flux_dir, year)]) in (0, 1)
    assert run_cli(["flux", "bilan", *flux_args(flux_dir, year), "-o", str(flux_dir / f"b{year}")]) in (0, 1)
    assert "internal error" not in capsys.readouterr().err


def test_generate_year_bounds(tmp_path, capsys):
    assert run_cli(["flux", "generate", "--seed", "1", "--dwellings", "20", "--year", "1964",
                 "-o", str(tmp_path / "g")]) == 0
    assert "internal error" not in capsys.readouterr().err
    assert run_cli(["flux", "generate", "--seed", "1", "--dwellings", "20", "--year", "1963",
                 "-o", str(tmp_path / "h")]) == 2
    assert "--year: expected a year from 1964 to 2200, not '1963'" in capsys.readouterr().err


OTHER_INTS = [
    ["flux", "dispatch", "@IN", "-k", "0", "-o", "@OUT"],
    ["flux", "dispatch", "@IN", "-k", "-1", "-o", "@OUT"],
    ["flux", "conversion", "--methode", "droits_uniques", "--droits", "-100", "--annees", "10"],
    ["flux", "conversion", "--methode", "droits_uniques", "--droits", "100", "--annees", "-10"],
    ["flux", "conversion", "--methode", "droits_uniques", "--droits", "100", "--annees", "0"],
    ["flux", "conversion", "--methode", "droits_uniques", "--droits", "100", "--annees", "10",
     "--attributions", "-100"],
    ["flux", "conversion", "--methode", "part_stricte", "--stock", "A=3", "--flux", "-5"],
    ["flux", "stock", "--table", "table.csv", "--flux", "-268"],
    ["flux", "generate", "--seed", "1", "--dwellings", "-5", "-o", "@OUT"],
    ["flux", "generate", "--seed", "1", "--dwellings", "5", "--demandes", "-5", "-o", "@OUT"],
]


@pytest.mark.parametrize("argv", OTHER_INTS, ids=lambda a: " ".join(a[1:3] + a[-4:-2]))
def test_other_counts_of_the_flux_commands_are_usage_errors(flux_dir, capsys, argv):
    argv = [x for a in argv for x in (flux_args(flux_dir) if a == "@IN" else [a])]
    argv = [str(flux_dir / "out") if a == "@OUT" else a for a in argv]
    code = run_cli(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err
    assert not (flux_dir / "out").exists()

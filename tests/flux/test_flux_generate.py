"""The synthetic bailleur: deterministic, consistent with the dispatcher, and the shipped examples."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from cotation.flux.generate import generate, generate_demandes, synthetic_scores
from cotation.flux.inputs import read_evenements, read_logements

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flux"


def test_same_seed_same_bailleur():
    a, b = generate(5, 400, 2025), generate(5, 400, 2025)
    assert a.logements == b.logements and a.events == b.events and a.conventions_yaml == b.conventions_yaml
    assert generate(6, 400, 2025).events != a.events


def test_orders_of_magnitude(small_bailleur):
    b = small_bailleur
    year = [e for e in b.events if e.type == "LIBERATION" and e.date.year == 2025]
    assert 0.07 * len(b.logements) < len(year) < 0.16 * len(b.logements)
    mads = {e.vacance_id for e in b.events if e.type == "MISE_A_DISPOSITION"}
    assert mads <= {e.vacance_id for e in year}
    assert all(e.date >= dt.date(2022, 1, 1) for e in b.events)


def test_written_files_read_back(small_bailleur, small_files):
    lgs = read_logements(small_files["logements"])
    assert [lg.id for lg in lgs] == [lg.id for lg in small_bailleur.logements]
    ev = read_evenements(small_files["evenements"], logements={lg.id: lg for lg in lgs})
    assert len(ev) == len(small_bailleur.events)


def test_demandes_and_scores():
    t = generate_demandes(2, 500, ("83001", "83008"), 2025)
    assert len(t) == 500 and all(set(l) <= {"83001", "83008"} for l in t.columns["localisations"])
    s = synthetic_scores(t, 2025)
    for c in ("83001", "83008"):
        ranks = s.rank[s.commune == c]
        assert sorted(ranks.tolist()) == list(range(1, len(ranks) + 1))


def test_examples_are_the_generator_output(tmp_path):
    """examples/flux is `cotation flux generate --seed 1 --dwellings 500 --year 2025 --demandes 1000`."""
    from cotation.cli import main
    assert main(["flux", "generate", "--seed", "1", "--dwellings", "500", "--year", "2025",
                 "--demandes", "1000", "-o", str(tmp_path)]) == 0
    for p in sorted(tmp_path.iterdir()):
        assert (EXAMPLES / p.name).read_bytes() == p.read_bytes(), p.name

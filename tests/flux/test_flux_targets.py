"""Targets (§7), stock → flux conversion (§6) and the seed tables of PACA 2023."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings, strategies as st

from cotation.flux.conversion import (
    check_totals, droits_uniques, droits_uniques_rate, read_reservation_tables, rotation_weighted,
    strict_share
)
from cotation.flux.model import BAILLEUR, Selector, Segment, Convention
from cotation.flux.rounding import largest_remainder
from cotation.flux.targets import Cell, Party, simple_targets, targets_from_cells

DATA = Path(__file__).parent / "data"
EXAMPLES_FLUX = Path(__file__).resolve().parents[2] / "examples" / "flux"
TYPES_A = {"EP": "ETAT_PRIO", "EA": "ETAT_AGENTS", "AL": "ACTION_LOGEMENT", "C": "COLLECTIVITE",
           "D": "COLLECTIVITE"}
PCT_A = {"EP": 25, "EA": 5, "AL": 35, "C": 12, "D": 3}


def test_test_a_targets():
    t = simple_targets(758, PCT_A, TYPES_A)
    assert t == {"EP": 189, "EA": 38, "AL": 265, "C": 91, "D": 23, BAILLEUR: 152}
    assert sum(t.values()) == 758
    exact = [758 * Fraction(p, 100) for p in (25, 5, 35, 12, 3, 20)]
    assert exact == [Fraction("189.5"), Fraction("37.9"), Fraction("265.3"), Fraction("90.96"),
                     Fraction("22.74"), Fraction("151.6")]


def test_test_a_prime_targets():
    assert list(simple_targets(740, PCT_A, TYPES_A).values()) == [185, 37, 259, 89, 22, 148]


def test_test_c_methods():
    stock = {"ETAT": 250, "AL": 300, "COMMUNE": 150, BAILLEUR: 300}
    rot = {"ETAT": Fraction(6, 100), "AL": Fraction(10, 100), "COMMUNE": Fraction(8, 100), BAILLEUR: Fraction(9, 100)}
    assert strict_share(stock) == {"ETAT": 25, "AL": 30, "COMMUNE": 15, BAILLEUR: 30}
    w = rotation_weighted(stock, rot)
    assert w == {"ETAT": Fraction(1500, 84), "AL": Fraction(3000, 84), "COMMUNE": Fraction(1200, 84),
                 BAILLEUR: Fraction(2700, 84)}
    t = simple_targets(758, w, {"ETAT": "ETAT_PRIO", "AL": "ACTION_LOGEMENT", "COMMUNE": "COLLECTIVITE"})
    assert t == {"ETAT": 135, "AL": 271, "COMMUNE": 108, BAILLEUR: 244}
    du = droits_uniques(150, Fraction(8, 100), 5)
    assert du == 60 and du / 5 == 12


def test_ush_slide_examples():
    assert strict_share({"A": 25, "autres": 75})["A"] == 25
    per_year = Fraction(100, 10)
    assert per_year == 10
    assert droits_uniques_rate(per_year, 100) == 10
    # The deck's "5 % si 50 attributions" does not follow from the rule: 10 / 50 = 20 %.
    assert droits_uniques_rate(per_year, 50) == 20


def test_seed_paca_2023_tables_and_targets():
    tables = {t.reservataire: t for t in read_reservation_tables(EXAMPLES_FLUX / "paca_2023_etat_reservations.csv")}
    totals = {k: t.total for k, t in tables.items()}
    assert totals == {"A": 2000, "B": 2760, "C": 607} and sum(totals.values()) == 5367
    shares = strict_share(totals)
    assert simple_targets(268, shares) == {"A": 100, "B": 138, "C": 30, BAILLEUR: 0}


def test_seed_paca_2023_inconsistent_totals_are_reported_not_fixed():
    tables = {t.reservataire: t for t in read_reservation_tables(EXAMPLES_FLUX / "paca_2023_etat_reservations.csv")}
    found = {k: [(i.context["kind"], i.context["label"], i.context["calcule"], i.context["indique"])
                 for i in check_totals(t)] for k, t in tables.items()}
    assert found["A"] == []
    lines_cols = lambda k: [f for f in found[k] if f[0] != "total"]  # noqa: E731
    assert lines_cols("B") == [("ligne", "PLUS", 1799, 1798), ("colonne", "T2", 695, 694),
                               ("colonne", "T3", 1000, 1001)]
    assert lines_cols("C") == [("ligne", "PLAI", 139, 138), ("ligne", "PLUS", 395, 396), ("ligne", "PLS", 75, 74),
                               ("colonne", "T4", 151, 150), ("colonne", "T5", 38, 37)]
    # The grand totals do not match their cells either; both are reported.
    assert [f for f in found["B"] if f[0] == "total"] == [("total", "TOTAL", 2761, 2760)]
    assert [f for f in found["C"] if f[0] == "total"] == [("total", "TOTAL", 609, 607)]
    # Never fixed silently: the stated totals are kept.
    assert tables["B"].row_totals["PLUS"] == 1798 and tables["C"].total == 607
    issue = check_totals(tables["C"])[0]
    assert issue.code == "TOTAL_INCOHERENT" and "139" in issue.message and "138" in issue.message


def test_equal_remainders_tie_break():
    # 1 unit, two equal shares: priority_rank decides (État before the bailleur) …
    t = simple_targets(1, {"EP": 50, BAILLEUR: 50}, {"EP": "ETAT_PRIO"})
    assert t == {"EP": 1, BAILLEUR: 0}
    # … a larger percentage beats an equal remainder: 3 × 1/2 and 1 × 1/2 remainders.
    t = simple_targets(4, {"AL": Fraction(375, 10), "EP": Fraction(125, 10), BAILLEUR: 50},
                       {"AL": "ACTION_LOGEMENT", "EP": "ETAT_PRIO"})
    assert t == {"AL": 2, "EP": 0, BAILLEUR: 2}
    # … then the id when types are equal.
    t = simple_targets(1, {"B2": 50, "A1": 50}, {"B2": "AUTRE", "A1": "AUTRE", BAILLEUR: "BAILLEUR"})
    assert t["A1"] == 1 and t["B2"] == 0


def test_segments_round_per_segment_then_sum():
    etat = Convention("C1", "EP", Fraction(30), segments=(Segment(Selector(qpv=True), Fraction(45)),
                                                         Segment(Selector(qpv=False), Fraction(20))))
    parties = [Party("EP", "ETAT_PRIO", "État", (etat,)), Party(BAILLEUR, "BAILLEUR", "b")]
    cells = {Cell((), (("EP", Fraction(45)),)): 303, Cell((), (("EP", Fraction(20)),)): 455}
    t = targets_from_cells(2025, parties, cells)
    # 303 × 45 % = 136.35 → 136; 455 × 20 % = 91 → sum 227.
    assert t.totals == {"EP": 227, BAILLEUR: 531}
    assert t.exact["EP"] == Fraction("227.35")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5000), st.lists(st.integers(0, 1000), min_size=1, max_size=8).filter(lambda w: sum(w) > 0))
def test_largest_remainder_properties(total, weights):
    w = {f"r{i}": v for i, v in enumerate(weights)}
    out = largest_remainder(total, w)
    assert sum(out.values()) == total
    s = sum(weights)
    for k, v in w.items():
        q = Fraction(total * v, s)
        assert q - 1 < out[k] < q + 1


def test_docstring_examples():
    import doctest

    from cotation.flux import rounding, targets
    for module in (rounding, targets):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed

"""Both engines agree cell by cell (scores, masks, points, ordering keys, ranks) on random grids
over every construct of the grid language and on ordinary and extreme data.

CI runs a derandomised set (``COTATION_DIFF_EXAMPLES``, default 300 examples, half of them with
extreme data). The long run (results in ``benchmarks/README.md``, section "Differential
testing")::

    COTATION_DIFF_EXAMPLES=100000 COTATION_DIFF_SEED=1 python -m pytest -q -p no:cacheprovider \
        tests/test_differential.py -k equals

``COTATION_DIFF_SEED`` (unset: derandomised) draws a fresh random sequence from that seed.

The compiled side is ``_diffgen.compiled_table``: a grid the code generator cannot lower, or a
run where ``score_compiled`` falls back to the interpreter, fails the example instead of
comparing the interpreter with itself.
"""
from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from cotation.data.table import DemandeTable
from cotation.engine.scoring import score_interpreted
from cotation.grid import ir, load_grid

from _diffgen import (
    SETTINGS, TEMPLATES, TODAYS, assert_same, compiled_table, rows_strategy,
)
from _support import ROOT, grid_text

EXAMPLES = int(os.environ.get("COTATION_DIFF_EXAMPLES", "300"))
_SEED = os.environ.get("COTATION_DIFF_SEED")
RUN_SETTINGS = settings(SETTINGS, max_examples=EXAMPLES,
                        derandomize=_SEED is None)
TODAY = dt.date(2025, 6, 30)


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(tmp_path_factory):
    old = os.environ.get("COTATION_CACHE_DIR")
    if old is None:   # a persistent cache (the long run sets one) is kept; else a fresh one
        os.environ["COTATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if old is None:
        os.environ.pop("COTATION_CACHE_DIR", None)


def _maybe_seeded(test):
    return seed(int(_SEED))(test) if _SEED is not None else test


# ================================================================================ properties

@_maybe_seeded
@RUN_SETTINGS
@given(data=st.data())
def test_compiled_equals_interpreter(data):
    template = data.draw(st.sampled_from(TEMPLATES), label="template")
    vseed = data.draw(st.integers(0, 2 ** 31), label="values")
    grid = template.grid(vseed)
    extreme = data.draw(st.booleans(), label="extreme")
    rows = data.draw(rows_strategy(template, list(template.ids), extreme), label="rows")
    table = DemandeTable.from_records(rows)
    today = data.draw(st.sampled_from(TODAYS), label="today")
    explain = data.draw(st.booleans(), label="explain")
    expected = score_interpreted(grid, table, today, explain=explain)
    assert_same(expected, compiled_table(grid, table, today, explain))
def test_templates_cover_the_language():
    """The templates exercise every IR node, function, policy and value kind."""
    nodes, fns, policies, kinds, other = set(), set(), set(), set(), set()
    for t in TEMPLATES:
        for vseed in range(3):
            g = t.grid(vseed)
            exprs = [g.applies_to] + [k.expr for k in g.ordering]
            for c in g.criteria:
                exprs += [c.when, c.points, c.band_of] + [s.points for s in c.bands]
                if c.bands and any(s.low is None or s.high is None for s in c.bands):
                    other.add("open band")
                if c.uses_loc:
                    other.add("loc criterion")
                if c.needs_validation:
                    other.add("validation")
                if c.cap is not None and c.floor is not None:
                    other.add("cap+floor")
            exprs += [e for _, e in g.derived]
            for e in exprs:
                if e is None:
                    continue
                for n in ir.walk(e):
                    nodes.add(type(n).__name__)
                    kinds.add(n.type.kind.value)
                    if isinstance(n, ir.Call):
                        fns.add(n.fn)
                    if isinstance(n, ir.Member):
                        other.add("member:" + type(n.container).__name__)
            policies |= {gr.policy for gr in g.groups}
            if any(gr.cap is not None for gr in g.groups):
                other.add("group cap")
            if len(g.criteria) > 64:
                other.add("two mask words")
            if g.total_floor is not None:
                other.add("total floor")
            score_at = [o.expr is None for o in g.ordering].index(True)
            if score_at > 0:
                other.add("priority tier")
            if g.local_fields:
                other.add("local fields")
    assert nodes >= {"Const", "Ref", "LocRef", "Today", "Neg", "Arith", "Compare", "Member",
                     "SetLiteral", "Between", "And", "Or", "Not", "If", "Call"}
    assert fns >= set(ir.FUNCTIONS) - {"has"}          # has() lowers to a Member node
    assert policies == {"sum", "max", "first"}
    assert kinds >= {"bool", "int", "decimal", "date", "code", "set", "text", "commune", "communes"}
    assert other >= {"open band", "loc criterion", "validation", "cap+floor", "member:Ref",
                     "member:SetLiteral", "member:If", "member:Call", "group cap",
                     "two mask words", "total floor", "priority tier", "local fields"}




# ================================================================================ extremes, named

def _both(grid, rows, today=TODAY):
    """Score with both engines (explain on); assert they agree; return the reference table."""
    table = DemandeTable.from_records(rows)
    expected = score_interpreted(grid, table, today, explain=True)
    assert_same(expected, compiled_table(grid, table, today, True))
    return expected


def _nu(k: int) -> str:
    return f"025{k:013d}A1"


def test_tiny_income_in_the_shipped_grid():
    """besancon-primo: round((taux_effort - seuil) * 100) with an infinite taux_effort crashed
    the interpreter (OverflowError) while the kernels gave 20 points. A ratio that is not a
    finite number is missing: the criterion is not met, in both engines."""
    path = ROOT / "grids" / "besancon-primo.yaml"
    grid = load_grid(path, lint=False).ir
    j = [c.id for c in grid.criteria].index("taux_effort")
    rows = [{"numero_unique": _nu(k), "date_depot": dt.date(2024, 1, 1), "nb_personnes": 2,
             "est_mutation": False,
             "localisations": ("25056",), "loyer_actuel": 500.0, "ressources_mensuelles": r}
            for k, r in enumerate((5e-324, 1e-300, 0.0, 1000.0, 1e-12, -5e-324))]
    st_ = _both(grid, rows)
    met = [(int(m[0]) >> j) & 1 for m in st_.met]
    assert met == [0, 1, 0, 1, 1, 0]      # inf ratio missing; 5e14 met; /0 missing; 0.5 met
    assert st_.points[1, j] == st_.points[4, j] > 0


EXTREME_GRID = """\
- id: ratio_floor
  label: r
  points: "floor(loyer_actuel / ressources_mensuelles)"
- id: ratio_ceil
  label: r
  points: "ceil(loyer_actuel / ressources_mensuelles) * 0 + 1"
- id: round_huge
  label: r
  points: "round(loyer_actuel * 1000000, 6) * 0 + 2"
- id: round_six
  label: r
  points: "round(loyer_actuel, 6) * 0 + 3"
- id: overflow
  label: r
  points: "(loyer_actuel * loyer_actuel) * 0 + 4"
- id: beyond_2p53
  label: r
  when: "nb_personnes > 9007199254740992 or nb_personnes == 9007199254740991"
  points: 5
- id: exact_2p53
  label: r
  when: "nb_personnes == 9007199254740992"
  points: 6
"""


@pytest.mark.parametrize("loyer,ressources,nb,met_ids", [
    (500.0, 5e-324, 2, {"ratio_floor": 0, "ratio_ceil": 0, "round_huge": 1, "round_six": 1}),
    (1e303, 1.0, 2, {"ratio_floor": 0, "round_huge": 0, "round_six": 1, "overflow": 0}),
    (1e150, 1.0, 2 ** 53 + 1, {"round_huge": 1, "overflow": 1, "beyond_2p53": 0,
                               "exact_2p53": 1}),
    (float("inf"), 1.0, 2 ** 53 - 1, {"ratio_floor": 0, "round_six": 0, "beyond_2p53": 1,
                                      "exact_2p53": 0}),
    (2.5, 1.0, 2 ** 63 + 1, {"ratio_floor": 1, "ratio_ceil": 1, "beyond_2p53": 1}),
])
def test_non_finite_and_huge_intermediate_values(loyer, ressources, nb, met_ids):
    grid = load_grid("extreme.yaml", grid_text(EXTREME_GRID), lint=False).ir
    rows = [{"numero_unique": _nu(1), "localisations": ("69123",), "loyer_actuel": loyer,
             "ressources_mensuelles": ressources, "nb_personnes": nb}]
    st_ = _both(grid, rows)
    ids = [c.id for c in grid.criteria]
    for cid, want in met_ids.items():
        assert (int(st_.met[0, 0]) >> ids.index(cid)) & 1 == want, cid


def test_ordering_keys_beyond_2_63():
    """An integer ordering key at or above 2^63 wrapped in the compiled keys (a demande ranked
    1st was 3rd of 3 where positions are computed from the keys)."""
    from cotation.engine.ranking import rank_within
    text = grid_text("", ) + """\
ordering:
  - {key: revenu_fiscal_reference, direction: desc}
  - {key: numero_unique, direction: asc}
"""
    grid = load_grid("keys.yaml", text, lint=False).ir
    values = (2 ** 63 + 4096, 2 ** 63 - 1, 5, 2 ** 64, -(2 ** 63) - 4096, None, 2 ** 53 + 1)
    rows = [{"numero_unique": _nu(k), "localisations": ("69123",), "revenu_fiscal_reference": v}
            for k, v in enumerate(values)]
    st_ = _both(grid, rows)
    assert st_.rank.tolist() == [2, 3, 5, 1, 6, 7, 4]
    keys = st_.order_keys
    assert rank_within(list(st_.commune), keys, [o.direction for o in grid.ordering]).tolist() \
        == st_.rank.tolist()
    assert keys[0][2] == 5 and isinstance(keys[0][2], int)
    assert keys[0][3] == float(2 ** 64) and keys[0][6] == float(2 ** 53)


def test_constant_folding_at_the_edge():
    """Whole literals up to 2^53 are exact in both engines; a parameter computed from them is
    folded once by the reference evaluation and read alike by the kernels."""
    text = grid_text("""\
        - id: big
          label: b
          when: "revenu_fiscal_reference >= seuil"
          points: "min(revenu_fiscal_reference - 9007199254740990, 1000)"
        """) + "parameters:\n  seuil: \"9007199254740992 - 1\"\n"
    grid = load_grid("edge.yaml", text, lint=False).ir
    rows = [{"numero_unique": _nu(k), "localisations": ("69123",), "revenu_fiscal_reference": v}
            for k, v in enumerate((2 ** 53 - 2, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 1, 2 ** 53 + 3))]
    st_ = _both(grid, rows)
    # 2^53 + 1 reads as 2^53 and 2^53 + 3 as 2^53 + 4 (nearest double, ties to even)
    assert st_.score.tolist() == [0, 100, 200, 200, 600]


def test_decimal_ordering_keys_are_doubles_on_both_engines():
    """A decimal ordering key is reported as a double (docs/grid-language.md, "Ordering
    keys"): ``coalesce(nb_enfants, 0.5)`` and ``if ... then nb_enfants else 0.5`` gave the
    reference interpreter's Python int 1 where the kernels gave 1.0, and so did a decimal
    column holding a whole number."""
    text = grid_text("") + """\
ordering:
  - {key: score, direction: desc}
  - {key: "coalesce(nb_enfants, 0.5)", direction: asc}
  - {key: "if coalesce(prioritaire, false) then nb_enfants else 0.5", direction: desc}
  - {key: loyer_actuel, direction: asc}
  - {key: numero_unique, direction: asc}
"""
    grid = load_grid("keys.yaml", text, lint=False).ir
    rows = [{"numero_unique": _nu(k), "localisations": ("69123",), "nb_enfants": e,
             "prioritaire": p, "loyer_actuel": loyer}
            for k, (e, p, loyer) in enumerate(((1, True, 300), (None, True, 450.5),
                                               (2, None, None), (0, False, 0)))]
    st_ = _both(grid, rows)
    assert [list(col) for col in st_.order_keys[1:4]] == [
        [1.0, 0.5, 2.0, 0.0], [1.0, None, 0.5, 0.5], [300.0, 450.5, None, 0.0]]
    assert {type(v) for col in st_.order_keys[1:4] for v in col} == {float, type(None)}

"""Grids that validate never fail at scoring, and hostile grid files are refused quickly.

Every case of issue 10 about grids: numbers the engines cannot honour (non-finite or oversized
points, caps, floors, weights, bounds, literals), YAML bombs and recursive aliases, oversized
files, long and deep expressions, a parameter named ``today``. Each must end in one located,
coded diagnostic (file:line:col), never a traceback, within 2 s and 200 MB.
"""
from __future__ import annotations

import datetime as dt
import time
import tracemalloc

import pytest

from cotation.data.table import DemandeTable
from cotation.engine.scoring import score_interpreted
from cotation.grid import GridError, load_grid
from cotation.grid.dsl import MAX_EXPR_DEPTH

from _support import MINIMAL, grid_text

TODAY = dt.date(2025, 6, 30)


def _with_criterion(when: str = "true", points: str = "10", extra: str = "") -> str:
    return grid_text(f"""\
        - id: c
          label: "c"
          when: "{when}"
          points: {points}
        {extra}""")


LAUGHS = "\n".join(
    [f"l0: &l0 [{', '.join(['x'] * 10)}]"]
    + [f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 10)}]" for k in range(1, 10)]) + "\n"

HOSTILE = {  # name: (text, diagnostic code, the text whose last line the diagnostic points at)
    # numbers the engines cannot honour
    "points-inf": (_with_criterion(points=".inf"), "number-out-of-range", "points:"),
    "points-big": (_with_criterion(points="1.0e+17"), "number-out-of-range", "points:"),
    "points-expr-big": (_with_criterion(points='"100000000000000 * 1"'), "number-out-of-range",
                        "points:"),
    "cap-nan": (_with_criterion(extra="  cap: .nan"), "number-out-of-range", "cap:"),
    "floor-minus-inf": (_with_criterion(extra="  floor: -.inf"), "number-out-of-range", "floor:"),
    "weight-inf": (_with_criterion(extra="  weight: .inf"), "number-out-of-range", "weight:"),
    "weight-expr-big": (_with_criterion(extra='  weight: "10000000000000 * 10"'),
                        "number-out-of-range", "weight:"),
    "total-cap-1e17": (MINIMAL + "total:\n  cap: 1.0e+17\n", "number-out-of-range", "cap:"),
    "group-floor-inf": (MINIMAL + "groups:\n  - {id: g, label: g, policy: sum, members: [dalo], "
                        "floor: .inf}\n", "number-out-of-range", "{id: g"),
    "band-bound-inf": (grid_text("""\
        - id: c
          label: c
          bands:
            of: nb_personnes
            steps:
              - {from: 0, to: .inf, points: 1}
        """), "number-out-of-range", "{from"),
    "band-bound-nan": (grid_text("""\
        - id: c
          label: c
          bands:
            of: nb_personnes
            steps:
              - {from: .nan, points: 1}
        """), "number-out-of-range", "{from"),
    "literal-400-digits": (_with_criterion(when="nb_personnes < " + "9" * 400),
                           "number-out-of-range", "when:"),
    "literal-2p53-plus-1": (_with_criterion(when="nb_personnes == 9007199254740993"),
                            "number-out-of-range", "when:"),
    "parameter-inf": (MINIMAL + "parameters:\n  seuil: .inf\n", "number-out-of-range", "seuil"),
    "parameter-400-digits": (MINIMAL + "parameters:\n  seuil: " + "9" * 400 + "\n",
                             "number-out-of-range", "seuil"),
    "parameter-today": (MINIMAL + "parameters:\n  today: 1\n", "duplicate-id", "today"),
    # beyond Python's 4,300 digits of int(): refused as a number, not an internal error
    "literal-5000-digits": (_with_criterion(points='"' + "9" * 5000 + '"'),
                            "number-out-of-range", "points:"),
    "yaml-int-5000-digits": (_with_criterion(points="9" * 5000), "number-out-of-range",
                             "points:"),
    "yaml-int-minus-5000-digits": (MINIMAL + "parameters:\n  seuil: -" + "9" * 5000 + "\n",
                                   "number-out-of-range", "seuil"),
    # hostile structure
    "billion-laughs": (LAUGHS + MINIMAL, "yaml-alias", "l0:"),
    "recursive-alias": ("x: &r [*r]\n" + MINIMAL, "yaml-alias", "x:"),
    "recursive-mapping-alias": ("x: &r {a: *r}\n" + MINIMAL, "yaml-alias", "x:"),
    "yaml-nesting-100k": ("x: " + "[" * 100_000 + "]" * 100_000 + "\n" + MINIMAL, "too-large", "x:"),
    "yaml-nesting-100": ("x: " + "[" * 100 + "]" * 100 + "\n" + MINIMAL, "too-large", "x:"),
    "or-chain-500": (_with_criterion(when=" or ".join(["prioritaire"] * 500)), "too-large",
                     "when:"),
    "or-chain-long-text": (_with_criterion(when=" or ".join(["dalo_statut == 'actif'"] * 500)),
                           "too-large", "when:"),
    "neg-depth-1000": (_with_criterion(points='"' + "-" * 1000 + '1"'), "too-large", "points:"),
    "not-depth-1000": (_with_criterion(when="not " * 1000 + "prioritaire"), "too-large", "when:"),
    "call-depth-1000": (_with_criterion(points='"' + "abs(" * 1000 + "1" + ")" * 1000 + '"'),
                        "too-large", "points:"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_grid_is_refused_quickly_with_a_located_error(name):
    text, code, marker = HOSTILE[name]
    line = text[:text.rindex(marker)].count("\n") + 1
    t0 = time.perf_counter()
    with pytest.raises(GridError) as exc:
        load_grid(f"{name}.yaml", text)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    tracemalloc.start()     # a second run for memory (tracing slows Python down severalfold)
    try:
        with pytest.raises(GridError):
            load_grid(f"{name}.yaml", text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2 ** 20, f"{peak / 2 ** 20:.0f} MB"
    diags = exc.value.diagnostics
    assert [d.code for d in diags if d.code == code], "\n".join(map(str, diags))
    d = next(d for d in diags if d.code == code)
    assert d.span.file == f"{name}.yaml" and d.span.line == line, str(d)
    assert "\n" not in d.format()
    assert len(d.format()) < 400, d.format()      # a long value is shortened in the message


def test_grid_file_size_limit_is_configurable(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text(MINIMAL + "# " + "x" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(GridError) as exc:
        load_grid(path, max_bytes=4096)
    assert exc.value.diagnostics[0].code == "too-large"
    assert str(exc.value.diagnostics[0].span) == f"{path}:1:1"
    assert load_grid(path).id == "test-grid"          # the default (4 MiB) accepts it
    monkeypatch.setenv("COTATION_MAX_GRID_BYTES", "1000")
    with pytest.raises(GridError, match="too-large"):
        load_grid(path)
    with pytest.raises(GridError, match="too-large"):  # text given directly: same limit
        load_grid("inline.yaml", path.read_text(encoding="utf-8"))


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:        # sparse: 3 GB that are never read
        fh.truncate(3 * 2 ** 30)
    t0 = time.perf_counter()
    with pytest.raises(GridError, match="too-large"):
        load_grid(path)
    assert time.perf_counter() - t0 < 2.0


def test_limits_leave_ordinary_grids_alone():
    depth_ok = " or ".join(["prioritaire"] * (MAX_EXPR_DEPTH - 5))
    text = _with_criterion(when=depth_ok).replace('when: "dalo', 'when: &w "dalo') + """\
  - id: d
    label: d
    when: *w
    points: 1
"""
    g = load_grid("ok.yaml", text, lint=False)
    assert [c.id for c in g.ir.criteria] == ["dalo", "c", "d"]
    assert g.ir.criteria[2].when == g.ir.criteria[0].when
    whole = _with_criterion(when="nb_personnes < 9007199254740992", points="10000000000000")
    assert load_grid("edge.yaml", whole, lint=False).ir.criteria[1].points.value == 10 ** 13


def test_parenthesised_depth_is_not_nesting():
    g = load_grid("p.yaml", _with_criterion(when="(" * 1000 + "prioritaire" + ")" * 1000),
                  lint=False)
    table = DemandeTable.from_records([{"numero_unique": "069000000000001A1", "prioritaire": True,
                                        "localisations": ("69123",)}])
    assert score_interpreted(g.ir, table, TODAY).score.tolist() == [1000]


# ----------------------------------------------------------------------------- positions

from hypothesis import given, settings, strategies as st  # noqa: E402


def _align(text: str, node, value: str, offset: int) -> int:
    """The reference: the loader's former walk, once per offset, to where value[offset] is."""
    from cotation.grid.loader import _value_bounds
    i, end = _value_bounds(text, node)
    offset = max(0, min(offset, len(value)))
    for k, ch in enumerate(value):
        i = next((j for j in range(i, end) if text[j] == ch), end)
        if i >= end:
            return min(end, len(text) - 1) if text else 0
        if k == offset:
            return i
        i += 1
    return min(i, max(0, len(text) - 1))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab\n'\" xy", max_size=40), st.integers(0, 40), st.integers(0, 40),
       st.sampled_from([None, "'", '"', "|", ">"]), st.text(alphabet="abxy ", max_size=12))
def test_one_walk_aligns_every_offset_as_the_walk_per_offset(text, start, length, style, value):
    from cotation.grid.loader import NodePos, _alignment
    start = min(start, len(text))
    node = NodePos(1, 1, start, min(len(text), start + length), style)
    table = _alignment(text, node, value)
    assert table == [_align(text, node, value, k) for k in range(len(value) + 1)]


def test_an_expression_is_aligned_once_and_lines_are_found_by_bisection(monkeypatch):
    """2,300 criteria of 120-argument expressions (a 4 MB grid, within the size limit) took
    5 minutes and 1.7 GB: every sub-expression walked its whole expression again and counted
    the lines of the file from its start. Now each expression is walked once, and the lines
    are counted once per file."""
    import cotation.grid.loader as loader
    args = ", ".join(["nb_personnes"] * 120)
    text = grid_text("".join(f"- id: c{i}\n  label: \"C{i}\"\n  when: \"max({args}) >= 1\"\n"
                             f"  points: 1\n" for i in range(40)))
    walks, reference = [], loader._alignment
    monkeypatch.setattr(loader, "_alignment", lambda *a: walks.append(1) or reference(*a))
    counts = []
    real_finditer = loader.re.finditer
    monkeypatch.setattr(loader.re, "finditer", lambda *a: counts.append(1) or real_finditer(*a))
    grid = load_grid("many.yaml", text, cache=False)
    assert len(grid.ir.criteria) == 41          # and the minimal grid's own
    assert len(walks) <= 2 * 40 + 10 and len(counts) <= 1, (len(walks), len(counts))
    # and a position is the one a walk per offset gives (the line of criterion c3's 'when')
    at = text.index('"max(', text.index("id: c3\n"))
    smap = loader.SourceMap("many.yaml", text,
                            {("criteria", 3, "when"): loader.NodePos(1, 1, at, at + 10, '"')}, {})
    span = smap.expr_span(("criteria", 3, "when"), "max(", 2)
    assert (span.line, span.column) == (text[:at].count("\n") + 1, at + 3 - text.rfind("\n", 0, at))

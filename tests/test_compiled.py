"""The compiled engine: real grids, adversarial grids (no grid string reaches kernel source),
packed ranking, the API, the kernel cache.

Random grids compared with the reference interpreter cell by cell are in
``tests/test_differential.py`` (the generator is ``tests/_diffgen.py``).
"""
from __future__ import annotations

import datetime as dt
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cotation.grid.diagnostics import GridError
from cotation.grid import load_grid
from cotation.engine.ranking import rank_within
from cotation.engine.scoring import score_interpreted
from cotation.data.table import DemandeTable

REPO = Path(__file__).resolve().parent.parent

from _diffgen import EPCI, SETTINGS, TEMPLATES, TERRITORY, assert_same, compiled_table
from _support import own_kernel_cache


kernel_cache = pytest.fixture(scope="module", autouse=True, name="kernel_cache")(own_kernel_cache)



def test_number_edits_reuse_the_kernel():
    """Variants of a template differ in every number, code and text, not in kernel source."""
    from cotation.engine.compiled import compile_grid
    for t in TEMPLATES[:4]:
        digests = {compile_grid(t.grid(vseed)).digest for vseed in range(6)}
        assert len(digests) == 1


REAL_GRIDS = ["tests/grids/spec_example.yaml", "benchmarks/grids/bench30.yaml"] + sorted(
    str(p.relative_to(REPO)) for p in (REPO / "grids").glob("*.yaml") if not p.name.endswith(".cases.yaml"))


def test_real_grids_are_found():
    """The glob above finds the shipped grids (an empty or short list would test nothing)."""
    assert {"grids/lyon-metropole.yaml", "grids/besancon-mutations.yaml",
            "grids/besancon-primo.yaml"} <= set(REAL_GRIDS)


@pytest.mark.parametrize("path", REAL_GRIDS)
def test_real_grids_on_synthetic_demandes(path):
    from cotation.data.synth import generate_demandes
    grid = load_grid(REPO / path).ir
    today = dt.date(2025, 6, 30)
    table = generate_demandes(1000, seed=7, today=today, territories=[list(grid.communes)])
    for explain in (True, False):
        assert_same(score_interpreted(grid, table, today, explain=explain),
                    compiled_table(grid, table, today, explain))


def test_duplicated_localisations_and_numero_unique():
    """Repeated communes (rang as written), repeated numero_unique (tables built directly),
    and points beyond MAX_POINTS."""
    grid = load_grid(REPO / "tests/grids/spec_example.yaml").ir
    rows = [{"numero_unique": "A", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69123", "69123", "69266")},
            {"numero_unique": "A", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69266", "99999", "69123")},
            {"numero_unique": "B", "date_depot": None, "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69123",)},
            # -20 points per refusal: beyond MAX_POINTS, so the refusal criterion is not met
            {"numero_unique": "C", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "est_mutation": False, "localisations": ("69259",), "nb_refus_adaptes": 10 ** 12,
             "date_dernier_refus_adapte": dt.date(2025, 5, 1)}]
    table = DemandeTable.from_records(rows)   # localisations kept as written, repeats included
    today = dt.date(2025, 6, 30)
    a = score_interpreted(grid, table, today)
    assert list(a.rang) == [1, 3, 1, 3, 1, 1]
    assert not a.criterion_met(grid.criterion("refus_adapte").index)[-1]
    assert_same(a, compiled_table(grid, table, today, True))


# ================================================================================ adversarial grids

ADVERSARIAL = r"""
format: cotation/1
grid:
  id: adv-grid
  title: "'''\"\"\" __import__('os').system('echo pwned') \n"
  territory: {epci_siren: "200046977", name: "x'); import os #", communes: ["69123", "69266"]}
  version: "1\"; import os"
  effective_from: 2024-01-01
  refusal_policy: "\"\"\"; raise SystemExit"
parameters:
  __class__: 3
  pi: "'x\"); __import__(\"os\")'"
fields:
  __import__: {type: bool, default: false, label: "\"); exec('1')"}
  np: {type: code, values: ["a'b", "x\"y", "__import__('os').system('id')", "\n", "ok"]}
  col0: {type: text}
  pf: {type: set, values: ["'", "\"", "\\", "{}"]}
criteria:
  - id: c1
    label: "eval('1'); \"\"\" '''"
    section: "\n\n#"
    legal_priority: true
    when: "__import__ and np == \"a'b\""
    points: __class__
  - id: c2
    label: x
    when: "col0 == 'x\"); __import__(\"os\").system(\"id\")' or np in {'x\"y', \"__import__('os').system('id')\"}"
    points: 7
  - id: c3
    label: y
    when: "'\"' in pf or has(pf, '{}') or profession == \"it's\""
    points: "2 * __class__"
  - id: c4
    label: z
    when: "profession == pi"
    points: 1
"""


def _adversarial_strings():
    return ["__import__", "pwned", "system", "exec", "eval", "SystemExit", "it's", "x'", "'''",
            '"""', "a'b", 'x"y', "os", "col0 ==", "profession", "adv-grid", "__class__"]


def test_adversarial_grid_is_data():
    from cotation.engine.compiled import compile_grid
    g = load_grid("<adversarial>", ADVERSARIAL, lint=False).ir
    cg = compile_grid(g)
    src = cg.plan.source
    body = src[src.index("def count_pairs"):]
    for s in _adversarial_strings():
        if s in ("os",):
            assert " os" not in body and "os." not in body
        else:
            assert s not in src, s
    rows = [{"numero_unique": "N1", "date_depot": dt.date(2024, 1, 1), "nb_personnes": 1,
             "profession": "it's", "localisations": ("69123", "69266"),
             "__import__": "true", "np": "a'b", "col0": 'x"); __import__("os").system("id")',
             "pf": "'|{}"},
            {"numero_unique": "N2", "date_depot": dt.date(2024, 1, 2), "nb_personnes": 1,
             "profession": "x\"); __import__(\"os\")", "localisations": ("69266",),
             "__import__": "false", "np": "__import__('os').system('id')", "col0": "",
             "pf": "\""},
            {"numero_unique": "N3", "date_depot": dt.date(2024, 1, 3), "nb_personnes": 1,
             "localisations": ("69123",), "np": "not a value"}]
    table = DemandeTable.from_records(rows)
    today = dt.date(2025, 6, 30)
    expected = score_interpreted(g, table, today, explain=True)
    assert expected.score.tolist() and len(expected.rejects) == 1
    assert_same(expected, compiled_table(g, table, today, True))


@pytest.mark.parametrize("bad", [
    "id: \"x'); __import__('os')\"",
    "id: \"a\\nb\"",
    "id: \"c1 = 1\"",
])
def test_adversarial_identifiers_are_rejected(bad):
    text = ADVERSARIAL.replace("id: c4", bad, 1)
    with pytest.raises(GridError):
        load_grid("<adversarial>", text)


_EXPRESSIBLE = st.text(alphabet=st.characters(blacklist_characters="'\n\r",
                                             blacklist_categories=("Cs",)), max_size=30)


def _yaml_safe(x: str) -> bool:
    try:
        return yaml.safe_load(yaml.safe_dump(x, allow_unicode=True)) == x
    except yaml.YAMLError:
        return False


@settings(SETTINGS, max_examples=40)
@given(label=st.text(max_size=40).filter(_yaml_safe),
       literal=_EXPRESSIBLE.filter(_yaml_safe),
       values=st.lists(_EXPRESSIBLE.filter(lambda s: s.strip() and _yaml_safe(s)), min_size=1,
                       max_size=4, unique=True))
def test_grid_strings_never_change_the_source(label, literal, values):
    """Labels, titles, string literals and enumeration values are data: the kernel source
    (hence its digest and the kernel cache) does not depend on them."""
    from cotation.engine.compiled import generate

    def grid(label, literal, values):
        doc = {"format": "cotation/1",
               "grid": {"id": "g", "title": label or "t", "version": "1",
                        "effective_from": dt.date(2024, 1, 1),
                        "territory": {"epci_siren": EPCI, "name": label or "n",
                                      "communes": list(TERRITORY)}},
               "fields": {"local": {"type": "code", "values": list(values), "label": label}},
               "criteria": [{"id": "c", "label": label or "l", "legal_priority": True,
                             "section": label,
                             "when": f"profession == '{literal}' or local == '{values[0]}'",
                             "points": 1}]}
        return load_grid("<g>", yaml.safe_dump(doc, allow_unicode=True), lint=False).ir

    assert generate(grid(label, literal, values)).source == generate(grid("t", "x", ["a"])).source


def test_audit_rejects_tampered_source():
    from cotation.engine.compiled.audit import audit_source
    from cotation.engine.compiled.codegen import generate
    from cotation.engine.compiled.plan import LoweringError
    src = generate(load_grid(REPO / "tests/grids/spec_example.yaml").ir).source
    audit_source(src)
    for evil in ['__import__("os").system("id")', 'open("/etc/passwd")', 'x = "text"',
                 'import os', 'getattr(np, "load")', 'np.load', 'lambda: 0', 'f"{pf}"']:
        with pytest.raises(LoweringError):
            audit_source(src + "\n" + evil + "\n")


def test_kernel_source_is_audited_before_it_is_written_or_run(tmp_path, monkeypatch):
    # generate() leaves the audit to the one place that executes the source: loading
    # native kernels by the source's digest never runs it
    from cotation.engine.compiled import cache
    from cotation.engine.compiled.codegen import generate
    from cotation.engine.compiled.plan import LoweringError
    monkeypatch.setenv("COTATION_CACHE_DIR", str(tmp_path))
    src = generate(load_grid(REPO / "tests/grids/spec_example.yaml").ir).source
    for evil in ['open("/etc/passwd")', 'import os']:
        with pytest.raises(LoweringError):
            cache.load(src + "\n" + evil + "\n")
    assert not list(tmp_path.rglob("k_*.py"))


# ================================================================================ ranking

@settings(SETTINGS, max_examples=150)
@given(data=st.data())
def test_packed_rank_equals_reference(data):
    from cotation.engine.compiled.rank import rank_cells, score_field, value_field, dense_rank
    n = data.draw(st.integers(0, 60))
    n_cells = data.draw(st.integers(1, 4))
    cells = np.array(data.draw(st.lists(st.integers(0, n_cells - 1), min_size=n, max_size=n)), dtype=np.int64)
    n_keys = data.draw(st.integers(1, 4))
    keys, dirs, fields = [], [], []
    for q_ in range(n_keys):
        kind = data.draw(st.sampled_from(["score", "int", "dec", "wide"]))
        direction = data.draw(st.sampled_from(["asc", "desc"]))
        if kind == "score":
            vals = data.draw(st.lists(st.integers(-500, 500), min_size=n, max_size=n))
            fields.append(score_field(np.array(vals, dtype=np.int64), direction))
            keys.append(vals)
        else:
            pool = {"int": st.integers(-3, 3), "dec": st.sampled_from([-0.5, 0.0, 0.25, 1e-9, 3.5]),
                    "wide": st.integers(-2 ** 50, 2 ** 50)}[kind]
            vals = data.draw(st.lists(st.one_of(st.none(), pool), min_size=n, max_size=n))
            known = np.array([v is not None for v in vals], dtype=bool)
            arr = np.array([0.0 if v is None else float(v) for v in vals], dtype=np.float64)
            fields.append(value_field(arr, known, direction))
            keys.append(vals)
        dirs.append(direction)
    if data.draw(st.booleans()) and n_keys >= 2:   # collapse the tail like the engine does
        fields = fields[:-2] + [dense_rank(fields[-2:])]
    expected = rank_within(cells.tolist(), keys, dirs)
    assert np.array_equal(rank_cells(cells, n_cells, fields), expected)
    # cell ids spread over many cells (the runs are then found without a loop per cell)
    wide = cells * 1499 + 7
    assert np.array_equal(rank_cells(wide, 1499 * n_cells + 8, fields), expected)


@settings(SETTINGS, max_examples=100)
@given(keys=st.lists(st.integers(0, 2 ** 64 - 1), unique=True, max_size=200),
       workers=st.integers(1, 6))
def test_sort_distinct_is_a_sort(keys, workers):
    # slices sorted on threads, then merged: the sorted keys (above 2^63 too), on every count
    # of threads (the threshold made small so that small inputs take the threads' path)
    from cotation.data import parallel
    arr = np.array(keys, dtype=np.uint64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parallel, "SORT_PARALLEL_FROM", 4)
        mp.setattr(parallel, "SORT_RUNS_MAX", 6)
        parallel.sort_distinct(arr, workers)
    assert arr.tolist() == sorted(keys)


def test_keys_nearly_in_order_are_told_and_sorted():
    # locally shuffled keys and a few sorted runs go to the timsort alone; random ones not;
    # every way gives the sorted keys
    from cotation.data.parallel import nearly_sorted, sort_distinct
    rng = np.random.default_rng(5)
    n = 200_000
    base = np.arange(n, dtype=np.int64) * 16
    local = base + rng.integers(0, 40, n) * 16 + (np.arange(n) % 16)   # moved by < 3 places
    runs = np.concatenate([base[n // 2:], base[:n // 2] + 1])          # two sorted runs
    shuffled = rng.permutation(base)
    for keys, near in ((base, True), (local, True), (runs, True), (shuffled, False),
                       (base[:1000], False)):
        assert nearly_sorted(keys) is near
        for workers in (1, 2, 3):
            got = keys.copy()
            sort_distinct(got, workers)
            assert np.array_equal(got, np.sort(keys))


def test_ranks_on_threads_are_the_ranks_on_one():
    # above the threshold the sorts of ranking run on threads: same ranks and dense ranks
    from cotation.data.parallel import SORT_PARALLEL_FROM
    from cotation.engine.compiled.rank import dense_rank, rank_cells, score_field, value_field
    rng = np.random.default_rng(11)
    n = 2 * SORT_PARALLEL_FROM + 1001
    cells = rng.integers(0, 300, n)
    fields = [score_field(rng.integers(0, 5000, n), "desc"),
              value_field(rng.integers(0, 2000, n).astype(np.float64), rng.random(n) > 0.1,
                          "asc")]
    one = rank_cells(cells, 300, fields, 1)
    expected = np.empty(n, dtype=np.int64)
    order = np.lexsort((np.arange(n), fields[1].values, fields[0].values, cells))
    starts = np.searchsorted(cells[order], np.arange(300))
    expected[order] = np.arange(n) - np.repeat(starts, np.bincount(cells, minlength=300)) + 1
    assert np.array_equal(one, expected)
    for workers in (2, 3, 8):
        assert np.array_equal(rank_cells(cells, 300, fields, workers), one)
        assert np.array_equal(dense_rank(fields, workers).values, dense_rank(fields, 1).values)


def test_rank_cells_refuses_ids_outside_the_cells():
    from cotation.engine.compiled.rank import rank_cells, score_field
    f = [score_field(np.array([3, 1, 2], dtype=np.int64), "desc")]
    for cells in ([0, 1, 2], [0, -1, 1]):
        with pytest.raises(ValueError, match="outside"):
            rank_cells(np.array(cells), 2, f)


# ================================================================================ API

@pytest.fixture(scope="module")
def lyon():
    from cotation.api import Scorer
    from cotation.data.synth import generate_demandes
    path = REPO / "grids/lyon-metropole.yaml"
    if not path.exists():
        path = REPO / "tests/grids/spec_example.yaml"
    scorer = Scorer.from_file(path)
    today = dt.date(2025, 6, 30)
    table = generate_demandes(3000, seed=11, today=today, territories=[list(scorer.communes)])
    locs = table.columns["localisations"]
    for k in range(0, len(locs), 7):   # communes listed twice: rang is the written position
        if locs[k]:
            locs[k] = locs[k][-1:] + tuple(locs[k]) if k % 2 else tuple(locs[k]) + locs[k][:1]
    return scorer, table, today


def _columns(table: DemandeTable) -> dict:
    from cotation.data.schema import COLUMNS, Kind
    out = {}
    for c in COLUMNS:
        v = table.columns[c.name]
        if c.kind is Kind.CODESET:
            v = [sorted(x) for x in v]
        elif c.kind is Kind.COMMUNES:
            v = [list(x) for x in v]
        out[c.name] = v
    for k, v in table.extras.items():
        out[k] = v
    return out


def test_api_inputs_agree(lyon):
    scorer, table, today = lyon
    ref = score_interpreted(scorer.grid, table, today, explain=True)
    res = scorer.score(table, today, explain=True)
    assert_same(ref, res.to_score_table())
    assert np.array_equal(res.scores, ref.score / 100) and np.array_equal(res.ranks, ref.rank)
    cols = _columns(table)
    inputs = {"dict of lists": cols,
              "list of dicts": [table.row(i) for i in range(len(table))]}
    np_cols = dict(cols)
    np_cols["date_depot"] = np.array(cols["date_depot"], dtype="datetime64[D]")
    np_cols["ressources_mensuelles"] = np.array([np.nan if v is None else v for v in cols["ressources_mensuelles"]])
    np_cols["situation_logement"] = np.array([v or "" for v in cols["situation_logement"]])
    inputs["dict of numpy"] = np_cols
    try:
        import pyarrow as pa
        tab = pa.table(cols)
        inputs["arrow"] = tab
        try:
            import polars as pl
            inputs["polars"] = pl.from_arrow(tab)
        except ImportError:
            pass
        try:
            inputs["pandas"] = tab.to_pandas()
        except ImportError:
            pass
    except ImportError:
        pass
    for name, data in inputs.items():
        r = scorer.score(data, today, explain=True)
        for f in ("rows", "score_hundredths", "score_valide_hundredths", "ranks", "met",
                  "set_aside", "met_valide", "set_aside_valide", "points"):
            assert np.array_equal(getattr(r, f), getattr(res, f)), (name, f)
        assert list(r.numero_unique) == list(res.numero_unique), name


def test_api_result_and_explain(lyon):
    scorer, table, today = lyon
    res = scorer.score(table, today, explain=True)
    recs = res.to_records(sort=True)
    assert len(recs) == len(res) and recs[0]["rank"] == 1
    nu = res.numero_unique[0]
    lines = scorer.explain(res, nu)
    from cotation.engine.explain import criterion_lines
    from cotation.engine.interpreter import Interpreter
    pairs = Interpreter(scorer.grid).score_row(int(res.rows[0]), table.row(int(res.rows[0])), today)
    for got, pair in zip(lines, pairs):
        want = {ln.id: ln.status for ln in criterion_lines(scorer.grid, pair)}
        assert {c["id"]: c["status"] for c in got["criteria"]} == want
        assert got["score"] == pair.score / 100
    counts = res.criteria_counts()
    assert sum(counts.values()) == int(sum(bin(int(w)).count("1") for w in res.met[:, 0]))


def test_api_concurrent_calls(lyon):
    scorer, table, today = lyon
    batch = scorer.prepare(table)
    ref = scorer.score(batch, today)
    out, errors = [], []

    def work():
        try:
            for _ in range(3):
                r = scorer.score(batch, today)
                out.append(np.array_equal(r.score_hundredths, ref.score_hundredths)
                           and np.array_equal(r.ranks, ref.ranks))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(out) and len(out) == 12


def test_shortlist_matches_brute_force(lyon):
    from cotation.data.ceilings import ceiling, household_category, zone_of_commune
    scorer, table, today = lyon
    index = scorer.index(table, today)
    res = index.result
    for dwelling in ({"commune": scorer.communes[0], "typologie": "T3", "financement": "PLUS"},
                     {"commune": scorer.communes[-1], "typologie": "T2"},
                     {"commune": scorer.communes[0], "typologie": "T1", "financement": "PLAI"},
                     {"commune": scorer.communes[0], "typologie": "T4", "financement": "PLS"}):
        got = index.shortlist(dwelling, k=15)
        cands = []
        for p in range(len(res)):
            if res.communes[p] != dwelling["commune"]:
                continue
            row = table.row(int(res.rows[p]))
            if dwelling["typologie"] not in row["typologies"]:
                continue
            if "financement" in dwelling:
                if row["revenu_fiscal_reference"] is None or row["nb_personnes"] is None:
                    continue
                ages = []
                for f in ("date_naissance", "date_naissance_conjoint"):
                    b = row[f]
                    ages.append(None if b is None else
                                (12 * (today.year - b.year) + today.month - b.month - (today.day < b.day)) // 12)
                cat = household_category(row["nb_personnes"], row["nb_enfants"], row["nb_adultes"],
                                         ages=tuple(ages),
                                         handicap=(row["nb_personnes_handicap"] or 0) >= 1)
                limit = ceiling(today.year, dwelling["financement"],
                                zone_of_commune(dwelling["commune"]), cat)
                if row["revenu_fiscal_reference"] > limit:
                    continue
            cands.append((int(res.ranks[p]), row["numero_unique"]))
        cands.sort()
        assert [(g["rank"], g["numero_unique"]) for g in got] == cands[:15]
    with pytest.raises(ValueError):
        index.shortlist({"commune": "75056", "typologie": "T3"})
    with pytest.raises(ValueError):
        index.shortlist({"commune": scorer.communes[0], "typologie": "T9"})


def test_household_categories_vectorised():
    from cotation.data.ceilings import household_categories, household_category
    rng = random.Random(5)
    today = dt.date(2025, 6, 30)
    rows = []
    for _ in range(300):
        rows.append((rng.randint(1, 8), rng.choice([None, 0, 1, 2, 3]), rng.choice([None, 1, 2]),
                     rng.choice([None, 0, 1]), rng.choice([None, dt.date(2000, 7, 1), dt.date(1970, 1, 1)]),
                     rng.choice([None, dt.date(2001, 6, 30), dt.date(1990, 1, 1)])))
    f = lambda xs: np.array([np.nan if x is None else x for x in xs], dtype=float)  # noqa: E731
    o = lambda xs: np.array([0 if x is None else x.toordinal() for x in xs], dtype=np.int64)  # noqa: E731
    cols = list(zip(*rows))
    got = household_categories(f(cols[0]), f(cols[1]), f(cols[2]), f(cols[3]), o(cols[4]), o(cols[5]), today)

    def age(b):
        return None if b is None else (12 * (today.year - b.year) + today.month - b.month - (today.day < b.day)) // 12
    for r, g in zip(rows, got):
        assert g == household_category(r[0], r[1], r[2], ages=(age(r[4]), age(r[5])), handicap=(r[3] or 0) >= 1)


# ================================================================================ cache

def test_cache_files_are_written_once(tmp_path, monkeypatch):
    from cotation.engine.compiled import cache
    from cotation.engine.compiled.codegen import generate
    monkeypatch.setenv("COTATION_CACHE_DIR", str(tmp_path))
    src = generate(load_grid(REPO / "tests/grids/spec_example.yaml").ir).source
    d = cache.cache_dir()
    assert d.parent == tmp_path and "nb" in d.name and "py" in d.name
    path = d / f"k_{cache.digest(src)[:40]}.py"
    cache._write_once(path, src)
    stamp = path.stat().st_mtime_ns
    cache._write_once(path, src)
    assert path.stat().st_mtime_ns == stamp and path.read_text() == src
    path.write_text("damaged")
    cache._write_once(path, src)
    assert path.read_text() == src
    assert not [p for p in d.iterdir() if p.name.startswith(".k_")]


def test_engine_dispatch_and_progress():
    from cotation.engine import score
    grid = load_grid(REPO / "tests/grids/spec_example.yaml").ir
    from cotation.data.synth import generate_demandes
    today = dt.date(2025, 6, 30)
    table = generate_demandes(500, seed=2, today=today, territories=[list(grid.communes)])
    seen = []
    st_ = score(grid, table, today, engine="compiled", progress=lambda d, n: seen.append((d, n)))
    assert seen and seen[-1] == (500, 500)
    assert_same(score(grid, table, today, engine="interpreter"), st_)


def test_months_between_kernel_helper():
    """The kernels' calendar arithmetic equals the interpreter's on many date pairs."""
    from cotation.engine.compiled import cache, compile_grid
    from cotation.grid.evaluate import months_between
    cg = compile_grid(load_grid(REPO / "tests/grids/spec_example.yaml").ir)
    mod = cache.load(cg.plan.source)        # the Numba module, whose helpers are callable
    rng = random.Random(3)
    for _ in range(400):
        a = dt.date.fromordinal(rng.randint(1, dt.date(9999, 12, 31).toordinal()))
        b = dt.date.fromordinal(rng.randint(1, dt.date(9999, 12, 31).toordinal()))
        assert mod._months(a.toordinal(), b.toordinal()) == months_between(a, b)
        assert mod._ymd(a.toordinal()) == (a.year, a.month, a.day)


def test_api_result_as_arrow(lyon):
    """to_arrow: same values as to_records, ordre_choix (not rang), pts_<criterion>;
    the PyCapsule stream reads back the same table."""
    import pyarrow as pa
    scorer, table, today = lyon
    res = scorer.score(table, today, explain=True)
    tab = res.to_arrow(sort=True)
    recs = res.to_records(sort=True)
    assert tab.num_rows == len(recs) == len(res)
    assert "rang" not in tab.column_names and "rang" not in recs[0]
    for name in ("numero_unique", "commune", "ordre_choix", "score", "score_valide", "rank"):
        assert tab.column(name).to_pylist() == [r[name] for r in recs], name
    for c in scorer.grid.criteria:
        got = tab.column(f"pts_{c.id}").to_numpy()
        assert np.array_equal(got, res.points[res.order(), c.index] / 100.0), c.id
    assert pa.table(res).equals(res.to_arrow())
    assert np.array_equal(tab.column("line").to_numpy(), res.lines[res.order()])
    with pytest.warns(DeprecationWarning):
        assert np.array_equal(res.rang, res.ordre_choix)
    try:
        import polars as pl
    except ImportError:
        return
    assert pl.from_arrow(tab).shape == res.to_polars(sort=True).shape

"""``Scorer(engine=...)``: a table scored by the reference interpreter gives the same
:class:`~cotation.api.Result`, field by field, as the compiled kernels; ``auto`` scores a small
table in a fresh process without importing Numba."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotation.api import Scorer
from cotation.data.table import DemandeTable
from cotation.grid import load_grid

from _diffgen import TEMPLATES, assert_same, assert_same_arrays, rows_strategy
from _support import own_kernel_cache

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.date(2025, 6, 30)
ARRAYS = ("rows", "score_hundredths", "score_valide_hundredths", "ranks", "ordre_choix", "met",
          "set_aside", "met_valide", "set_aside_valide", "commune_index", "communes",
          "numero_unique", "lines")


kernel_cache = pytest.fixture(scope="module", autouse=True, name="kernel_cache")(own_kernel_cache)


def assert_same_result(a, b) -> None:
    """Two Results are equal array for array (types included), rejects and report too."""
    assert len(a) == len(b)
    assert_same_arrays(a, b, ARRAYS)
    assert a.rejects == b.rejects
    assert a.report == b.report
    assert a.to_arrow(sort=True).equals(b.to_arrow(sort=True))
    assert a.to_records() == b.to_records()
    assert_same(a.to_score_table(), b.to_score_table())


def _pair(grid):
    return Scorer(grid, engine="interpreter"), Scorer(grid, engine="compiled")


REAL_GRIDS = ["tests/grids/spec_example.yaml"] + sorted(
    str(p.relative_to(REPO)) for p in (REPO / "grids").glob("*.yaml")
    if not p.name.endswith(".cases.yaml"))


@pytest.mark.parametrize("path", REAL_GRIDS)
def test_real_grids_same_result(path):
    from cotation.data.synth import generate_demandes

    grid = load_grid(REPO / path)
    interp, comp = _pair(grid)
    table = generate_demandes(400, seed=3, today=TODAY, territories=[list(comp.communes)])
    for explain in (False, True):
        assert_same_result(interp.score(table, TODAY, explain=explain),
                           comp.score(table, TODAY, explain=explain))
        if explain:
            r = interp.score(table, TODAY, explain=True)
            nu = r.numero_unique[0]
            assert interp.explain(r, nu) == comp.explain(comp.score(table, TODAY, explain=True), nu)


def test_rejects_and_lines_same_result():
    """Rows the boundary refuses and the source lines of the others agree."""
    path = REPO / "examples" / "data" / "demandes.csv"
    grid = load_grid(REPO / "grids" / "lyon-metropole.yaml")
    interp, comp = _pair(grid)
    import csv
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for _, r in zip(range(300), csv.DictReader(fh))]
    rows[3]["date_depot"] = "2024-02-30"          # a reject
    rows[10]["nb_personnes"] = "-2"                # another
    rows[20]["numero_unique"] = rows[21]["numero_unique"]   # a duplicate
    a, b = interp.score(rows, TODAY), comp.score(rows, TODAY)
    assert len(a.rejects) == 3
    assert_same_result(a, b)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_templates_same_result(data):
    """Random grids with local fields (unreadable local values are rejects), rows with
    extreme values (the differential test's generator), as a table taken as it is."""
    template = data.draw(st.sampled_from(TEMPLATES[:6]))
    grid = template.grid(data.draw(st.integers(0, 5)))
    rows = data.draw(rows_strategy(template, list(template.ids), data.draw(st.booleans())))
    table = DemandeTable.from_records(rows)
    interp, comp = _pair(grid)
    for explain in (False, True):
        assert_same_result(interp.score(table, TODAY, explain=explain),
                           comp.score(table, TODAY, explain=explain))


def test_engine_is_checked():
    grid = load_grid(REPO / "tests" / "grids" / "spec_example.yaml")
    with pytest.raises(ValueError, match="engine"):
        Scorer(grid, engine="numba")


def test_auto_uses_loaded_kernels(monkeypatch):
    """``auto`` takes the interpreter for a table judged small only while this process has
    not loaded the kernels; once they are loaded it keeps to them."""
    from cotation.data.synth import generate_demandes
    from cotation.engine import run
    from cotation.engine.compiled import cache

    monkeypatch.setattr(run, "interpreter_is_quicker", lambda grid, table, **kw: True)
    monkeypatch.setattr(cache, "_loaded", {})       # as in a process that loaded none
    monkeypatch.setattr(cache, "_native", {})
    grid = load_grid(REPO / "grids" / "lyon-metropole.yaml")
    scorer = Scorer(grid, warm=False)
    table = generate_demandes(5, seed=1, today=TODAY, territories=[list(scorer.communes)])
    assert scorer._interprets(table)
    scorer.score(scorer.prepare(table), TODAY)        # a prepared batch: the kernels
    assert scorer._compiled.kernels_loaded() and not scorer._interprets(table)
    assert not Scorer(grid, warm=False)._interprets(table)   # another Scorer, same kernels


_FRESH = r"""
import csv, json, sys
from cotation.api import Scorer
from cotation.grid import load_grid
scorer = Scorer(load_grid(sys.argv[1]), engine=sys.argv[3])
with open(sys.argv[2], newline="", encoding="utf-8") as fh:
    rows = [r for _, r in zip(range(200), csv.DictReader(fh))]
result = scorer.score(rows, "2025-06-30")
print(json.dumps({"numba": "numba" in sys.modules, "records": result.to_records()}))
"""


def test_small_table_fresh_process_skips_numba(tmp_path):
    """The warm-start path of the API: kernels cached, a fresh process, 200 demandes: ``auto``
    answers without importing Numba, with the kernels' results."""
    grid = REPO / "grids" / "lyon-metropole.yaml"
    demandes = REPO / "examples" / "data" / "demandes.csv"
    env = dict(os.environ, COTATION_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def run(engine: str) -> dict:
        out = subprocess.run([sys.executable, "-c", _FRESH, str(grid), str(demandes), engine],
                             env=env, capture_output=True, text=True, check=True, cwd=tmp_path)
        return json.loads(out.stdout)

    compiled = run("compiled")       # compiles into the cache
    auto = run("auto")
    assert compiled["numba"] and not auto["numba"]
    assert auto["records"] == compiled["records"] and len(auto["records"]) > 50


LOCAL_FIELDS_GRID = """
- id: note
  label: "Note locale"
  points: "note"
- id: lieu
  label: "Lieu local"
  when: "lieu == '69123'"
  points: 5
"""


def _local_fields_rows() -> list[dict]:
    base = {"date_depot": "2024-01-01", "nb_personnes": 1, "typologies": "T2",
            "localisations": "69123", "dalo_statut": "non"}
    return [dict(base, numero_unique="A", note="abc", lieu="69123"),     # note unreadable
            dict(base, numero_unique="B", note="1.5", lieu="69123"),
            dict(base, numero_unique="C", note="2", lieu="lyon"),       # not a commune code
            dict(base, numero_unique="D", note="x", lieu="69-1"),       # both: one row
            dict(base, numero_unique="E", note="1", lieu="69123", date_depot="2024-02-30")]


@pytest.fixture(scope="module")
def local_fields_grid(tmp_path_factory):
    from _support import grid_text

    path = tmp_path_factory.mktemp("local") / "grid.yaml"
    path.write_text(grid_text(LOCAL_FIELDS_GRID.lstrip("\n")) + "fields:\n"
                    "  note: {type: decimal}\n  lieu: {type: commune}\n", encoding="utf-8")
    return path


def test_report_counts_local_field_rejects(local_fields_grid):
    """Rows whose local field values cannot be read are in ``result.rejects`` and were left
    out of ``result.report`` (read 5, accepted 4, rejected 1): the report counts each such
    row once as rejected, by both engines."""
    interp, comp = _pair(load_grid(local_fields_grid))
    rows = _local_fields_rows()
    for result in (interp.score(rows, TODAY), comp.score(rows, TODAY)):
        assert [(r.line, r.column) for r in result.rejects] == [
            (1, "note"), (3, "lieu"), (4, "note"), (4, "lieu"), (5, "date_depot")]
        report = result.report
        assert (report.read, report.accepted, report.rejected) == (5, 1, 4)
        assert report.accepted + report.rejected == report.read
        assert result.numero_unique.tolist() == ["B"]
    assert_same_result(interp.score(rows, TODAY), comp.score(rows, TODAY))
    # the boundary's own report is not changed by scoring
    admitted = comp.admit(rows)
    assert (admitted.report.accepted, admitted.report.rejected) == (4, 1)
    batch = comp.prepare(rows)
    assert (batch.report.accepted, batch.report.rejected) == (1, 4)


@pytest.mark.parametrize("engine", ["interpreter", "compiled"])
def test_cli_score_counts_local_field_rejects(local_fields_grid, tmp_path, capsys, engine):
    """``cotation score``: the totals line counts the rows refused for their local fields
    (it said 5 read, 4 accepted, 1 rejected), the not-scored line counts rows, not values,
    and the rejects file is in line order."""
    import csv

    from cotation.cli import main

    demandes = tmp_path / "demandes.csv"
    rows = _local_fields_rows()
    with open(demandes, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rejects = tmp_path / "rejects.csv"
    assert main(["score", str(local_fields_grid), str(demandes), "--today", "2025-06-30",
                 "-o", str(tmp_path / "out.csv"), "--rejects", str(rejects),
                 "--engine", engine]) == 0
    err = capsys.readouterr().err
    assert "5 rows read, 1 accepted, 4 rejected" in err
    assert "3 demande(s) not scored: unreadable local field values" in err
    assert "1 cotations of 1 demandes" in err
    with open(rejects, newline="", encoding="utf-8") as fh:
        assert [(r["line"], r["column"]) for r in csv.DictReader(fh)] == [
            ("2", "note"), ("4", "lieu"), ("5", "note"), ("5", "lieu"), ("6", "date_depot")]


_FRESH_INDEX = r"""
import csv, json, sys
from cotation.api import Scorer
from cotation.grid import load_grid
scorer = Scorer(load_grid(sys.argv[1]), engine=sys.argv[3])
with open(sys.argv[2], newline="", encoding="utf-8") as fh:
    rows = [r for _, r in zip(range(300), csv.DictReader(fh))]
index = scorer.index(rows, "2025-06-30")
batch = scorer.prepare(rows)                      # a prepared batch, scored and indexed
again = scorer.index(batch, "2025-06-30")
records = scorer.score(batch, "2025-06-30").to_records()
lists = []
for commune in scorer.communes[:6]:
    for typ in ("T1", "T2", "T3", "T4"):
        for fin in (None, "PLAI", "PLUS", "PLS"):
            dw = {"commune": commune, "typologie": typ}
            if fin:
                dw["financement"] = fin
            got = index.shortlist(dw, k=5)
            assert got == again.shortlist(dw, k=5)
            lists.append(got)
            lists.append(index.eligible(dw).tolist())
lv = index.location_voulue({"commune": scorer.communes[0], "typologie": "T3",
                            "financement": "PLUS", "surface": 60})
print(json.dumps({"numba": "numba" in sys.modules, "lists": lists, "records": records,
                  "location_voulue": lv, "report": index.result.report.as_dict()}, default=str))
"""


def test_interpreter_index_does_not_use_kernels(tmp_path):
    """``engine="interpreter"`` never uses the kernels: ``index`` (and ``score`` or ``index``
    of a prepared batch) imported Numba and compiled them (3.6 s). The shortlists, eligible
    pairs, location voulue and scores are the compiled engine's."""
    grid = REPO / "grids" / "lyon-metropole.yaml"
    demandes = REPO / "examples" / "data" / "demandes.csv"
    env = dict(os.environ, COTATION_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def run(engine: str) -> dict:
        out = subprocess.run([sys.executable, "-c", _FRESH_INDEX, str(grid), str(demandes),
                              engine], env=env, capture_output=True, text=True, check=True,
                             cwd=tmp_path)
        return json.loads(out.stdout)

    interp = run("interpreter")
    assert not interp["numba"]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.nbi"))
    compiled = run("compiled")
    assert compiled["numba"]
    for key in ("lists", "records", "location_voulue", "report"):
        assert interp[key] == compiled[key], key
    assert sum(len(x) for x in interp["lists"]) > 100


def test_interpreter_refuses_a_batch_without_its_table():
    """A batch prepared by a scorer of another engine holds no table to interpret: an
    interpreter scorer says so rather than quietly running the kernels."""
    from cotation.data.synth import generate_demandes

    grid = load_grid(REPO / "grids" / "lyon-metropole.yaml")
    interp, comp = _pair(grid)
    table = generate_demandes(30, seed=2, today=TODAY, territories=[list(comp.communes)])
    batch = comp.prepare(table)
    with pytest.raises(ValueError, match="engine='interpreter'"):
        interp.score(batch, TODAY)
    with pytest.raises(ValueError, match="engine='interpreter'"):
        interp.index(batch, TODAY)
    assert_same_result(interp.score(interp.prepare(table), TODAY), comp.score(batch, TODAY))


ORDER_KEYS = ("revenu_fiscal_reference * 2", "nb_personnes * 2 - 1",
              "floor(ressources_mensuelles)", "revenu_fiscal_reference * 1000000000000",
              "ressources_mensuelles * 2", "nb_personnes > 2")


def test_order_keys_have_the_same_types_on_both_engines(tmp_path):
    """An int ordering key is reported as a whole number up to 2^53, a double beyond
    (docs/grid-language.md, "Ordering keys"): the interpreter gave 30000.0 where the kernels
    gave 30000 for ``revenu_fiscal_reference * 2``."""
    from _support import grid_text

    path = tmp_path / "grid.yaml"
    path.write_text(grid_text() + "ordering:\n  - {key: score, direction: desc}\n" + "".join(
        f'  - {{key: "{k}", direction: asc}}\n' for k in ORDER_KEYS)
        + "  - {key: numero_unique, direction: asc}\n", encoding="utf-8")
    base = {"date_depot": "2024-01-01", "typologies": "T2", "localisations": "69123|69266",
            "dalo_statut": "non"}
    rows = [dict(base, numero_unique="A", nb_personnes=2, revenu_fiscal_reference=15000,
                 ressources_mensuelles=1200.5),
            dict(base, numero_unique="B", nb_personnes=3, revenu_fiscal_reference=None,
                 ressources_mensuelles=1000)]
    interp, comp = _pair(load_grid(path))
    a = interp.score(rows, TODAY).to_score_table()
    b = comp.score(rows, TODAY).to_score_table()
    want = [[v, v, w, w] for v, w in ((30000, None), (3, 5), (1200, 1000), (1.5e16, None),
                                      (2401.0, 2000.0), (False, True))]   # A's 2 pairs, B's
    for keys in (a, b):
        got = [list(col) for col in keys.order_keys][1:-1]
        assert got == want
        assert [[type(v) for v in col] for col in got] == \
            [[type(v) for v in col] for col in want]
    assert_same(a, b)

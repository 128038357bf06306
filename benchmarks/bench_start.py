"""Start-up benchmark: a fresh process to its first result, per step, warm kernel cache.

    python benchmarks/bench_start.py --repeat 7 [--baseline /work/main]
    python benchmarks/bench_scoring.py --start-only --repeat 7      # the same

Two paths, each in fresh processes (``python -c`` / ``python -m cotation.cli``), with one
kernel cache (``COTATION_CACHE_DIR``, a temporary folder) shared by the runs:

- API: ``import cotation.api`` → ``load_grid`` → ``Scorer(grid)`` → first
  ``scorer.score(small table)`` (the first ``--api-rows`` demandes of the bundled example file
  as a dict of text columns, through the boundary). "first result" is the time from the process's
  first line to the scores in hand; "process" adds the interpreter's exit. Run twice: the
  default engine (``auto``: a small table in a fresh process goes to the interpreter, no
  Numba) and ``Scorer(grid, engine="compiled")`` (the cached kernels loaded in the
  constructor, the "kernels" step); a tree without ``engine=`` runs ``Scorer(grid)`` both times.
- CLI: ``python -m cotation.cli score GRID examples/data/demandes.csv --today 2025-06-30 -o
  OUT.csv`` (the README's quick start, 4,000 demandes): wall time of the whole command (and of
  the same with ``--engine compiled``, the cached kernels forced), and an in-process split
  (imports and parser, grid, reading, scoring, writing) taken by wrapping the command's
  functions with timers in the child.

Before the timed runs, one cold run per tree compiles the kernels into the cache and one
more run warms the grid cache; both are reported but not counted. Python's bytecode cache is
on in the children (``PYTHONDONTWRITEBYTECODE`` removed from their environment, so the
warm-up writes the bytecode, as ``pip install`` does, into a temporary
``PYTHONPYCACHEPREFIX``: nothing is written into the trees); ``--no-bytecode-cache`` measures
the opposite (every module compiled from source at each start); ``--without-pandas`` hides
pandas from the children (an install without it). Every figure is the min and
median of ``--repeat`` runs; the load average is printed before and after. ``--baseline DIR``
runs the same scripts on another checkout (for example ``git archive BASE | tar -x -C DIR``)
in the same session,
alternating with this tree run by run, with its own cache folder.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "grids" / "lyon-metropole.yaml"
DEMANDES = ROOT / "examples" / "data" / "demandes.csv"
TODAY = "2025-06-30"
WATCH = ("numba", "scipy.linalg", "pandas", "jsonschema", "pydantic", "lark", "pyarrow")

# --without-pandas: what a user without pandas gets (pandas is not a dependency of cotation;
# with it installed, pyarrow imports it on its first array, 0.15-0.2 s). The import system's
# finders are asked first and say there is no such module.
_NO_PANDAS = r"""
import sys
class _NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NoPandas())
"""

_API = r"""
import time
t0 = time.perf_counter()
import csv, json, sys
sys.path.insert(0, {root!r})
import numpy
from cotation.api import Scorer
from cotation.grid import load_grid
t1 = time.perf_counter()
grid = load_grid({grid!r})
t2 = time.perf_counter()
try:
    scorer = Scorer(grid, **{scorer_kw!r})
except TypeError:                   # a tree before Scorer(engine=...): always compiled
    scorer = Scorer(grid)
t3 = time.perf_counter()
with open({demandes!r}, newline="", encoding="utf-8") as fh:
    rows = [r for _, r in zip(range({rows}), csv.DictReader(fh))]
cols = {{k: [r[k] for r in rows] for k in rows[0]}}
t4 = time.perf_counter()
result = scorer.score(cols, {today!r})
t5 = time.perf_counter()
assert len(result.ranks) > 0
sys.stdout.write(json.dumps({{"imports": t1 - t0, "load_grid": t2 - t1, "kernels": t3 - t2,
    "small_table": t4 - t3, "first_score": t5 - t4, "first_result": t5 - t0,
    "modules": [m for m in {watch!r} if m in sys.modules]}}) + "\n")
sys.stdout.flush()
"""

_CLI = r"""
import time
t0 = time.perf_counter()
import json, os, sys
sys.path.insert(0, {root!r})
marks = {{}}

def timed(mod, name, key):
    fn = getattr(mod, name, None)
    if fn is None:
        return
    def wrapper(*a, **k):
        s = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            marks[key] = marks.get(key, 0.0) + time.perf_counter() - s
    setattr(mod, name, wrapper)

import cotation.cli as cli
import cotation.cli.core as core
timed(core, "_load", "grid")
timed(core, "_read", "read")
timed(core, "write_columns", "write")
import cotation.engine as engine
timed(engine, "score", "score")
t1 = time.perf_counter()
parser_built = []
orig = cli.build_parser
def build(*a, **k):
    s = time.perf_counter()
    try:
        return orig(*a, **k)
    finally:
        parser_built.append(time.perf_counter() - s)
cli.build_parser = build
code = cli.main(["score", {grid!r}, {demandes!r}, "--today", {today!r}, "-o", {out!r}])
t2 = time.perf_counter()
sys.stdout.write(json.dumps({{"imports": t1 - t0, "parser": sum(parser_built), **marks,
    "first_result": t2 - t0, "code": code,
    "modules": [m for m in {watch!r} if m in sys.modules]}}) + "\n")
sys.stdout.flush()
"""


BYTECODE = True     # --no-bytecode-cache sets it False
PYCACHE = ""        # the bytecode folder of this run (a temporary folder)


def _env(cache: str, root: Path) -> dict:
    """The children run in ``root`` (``python -m`` puts the working folder first on sys.path)
    with ``root`` on PYTHONPATH too."""
    env = dict(os.environ, COTATION_CACHE_DIR=cache, PYTHONPATH=str(root))
    env.pop("COTATION_DEBUG", None)
    if BYTECODE:        # as after `pip install`: modules load from their cached bytecode,
        env.pop("PYTHONDONTWRITEBYTECODE", None)     # kept in a folder of this run's own
        env["PYTHONPYCACHEPREFIX"] = PYCACHE        # (nothing is written into the trees)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _child(code: str, env: dict, root: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=root)
    line = proc.stdout.readline()       # printed as soon as the first result is in hand
    ready = time.perf_counter() - t0
    _out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode or not line:
        raise RuntimeError(f"start-up run failed:\n{err[-2000:]}")
    res = json.loads(line)
    res["ready_wall"] = ready
    res["process"] = wall
    return res


NO_PANDAS = False   # --without-pandas sets it True


def _prelude() -> str:
    return _NO_PANDAS if NO_PANDAS else ""


def api_run(root: Path, cache: str, rows: int, **scorer_kw) -> dict:
    code = _prelude() + _API.format(root=str(root), grid=str(GRID), demandes=str(DEMANDES),
                                    rows=rows, today=TODAY, watch=WATCH, scorer_kw=scorer_kw)
    return _child(code, _env(cache, root), root)


def cli_run(root: Path, cache: str, out: str) -> dict:
    code = _prelude() + _CLI.format(root=str(root), grid=str(GRID), demandes=str(DEMANDES),
                                    today=TODAY, out=out, watch=WATCH)
    res = _child(code, _env(cache, root), root)
    if res["code"] != 0:
        raise RuntimeError(f"cotation score exited {res['code']}")
    return res


def cli_wall(root: Path, cache: str, out: str, *extra: str) -> float:
    """The plain command, as a user types it (no timers inside)."""
    command = [sys.executable, "-m", "cotation.cli"]
    if NO_PANDAS:       # the same command, run from the prelude (runpy is what -m does)
        command = [sys.executable, "-c", _prelude() + "import runpy; runpy.run_module("
                   "'cotation.cli', run_name='__main__', alter_sys=True)"]
    t0 = time.perf_counter()
    subprocess.run([*command, "score", str(GRID), str(DEMANDES),
                    "--today", TODAY, "-o", out, *extra], env=_env(cache, root), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
    return time.perf_counter() - t0


def python_floor() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return time.perf_counter() - t0


def _summary(runs: list[dict]) -> dict:
    keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
    return {k: (min(r[k] for r in runs), statistics.median(r[k] for r in runs)) for k in keys}


def _print(label: str, runs: list[dict], first: str) -> None:
    s = _summary(runs)
    head = s.pop(first)
    print(f"  {label}: {first} min {head[0]:.3f} s, median {head[1]:.3f} s over {len(runs)} runs")
    print("    steps (min / median, s): " + ", ".join(
        f"{k} {v[0]:.3f} / {v[1]:.3f}" for k, v in s.items()))
    print(f"    imported: {', '.join(runs[-1]['modules']) or 'none of ' + ', '.join(WATCH)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--api-rows", type=int, default=200, help="demandes scored by the API run")
    ap.add_argument("--baseline", help="another checkout to run the same scripts on")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="compile every module from source at each start (PYTHONDONTWRITEBYTECODE=1)")
    ap.add_argument("--without-pandas", action="store_true",
                    help="the children cannot import pandas (an install without it: pandas is "
                         "not a dependency; pyarrow imports it on first use when present)")
    args = ap.parse_args(argv)
    global BYTECODE, PYCACHE, NO_PANDAS
    BYTECODE = not args.no_bytecode_cache
    NO_PANDAS = args.without_pandas
    trees = [("this tree", ROOT)] + ([("baseline", Path(args.baseline).resolve())]
                                     if args.baseline else [])
    out: dict = {"load_average_before": os.getloadavg(), "trees": {}}
    with tempfile.TemporaryDirectory() as tmp:
        PYCACHE = str(Path(tmp) / "pycache")
        caches = {name: tempfile.mkdtemp(dir=tmp) for name, _ in trees}
        csv_out = str(Path(tmp) / "out.csv")
        for name, root in trees:       # cold: compile into the cache, then warm the grid cache
            cold = cli_wall(root, caches[name], csv_out, "--engine", "compiled")
            api_run(root, caches[name], args.api_rows)
            out["trees"][name] = {"root": str(root), "cold_cli_s": cold, "api": [],
                                  "api_compiled": [], "cli": [], "cli_wall": [],
                                  "cli_wall_compiled": []}
        for _ in range(args.repeat):       # alternate the trees run by run
            for name, root in trees:
                t = out["trees"][name]
                t["api"].append(api_run(root, caches[name], args.api_rows))
                t["api_compiled"].append(api_run(root, caches[name], args.api_rows,
                                                 engine="compiled"))
                t["cli"].append(cli_run(root, caches[name], csv_out))
                t["cli_wall"].append(cli_wall(root, caches[name], csv_out))
                t["cli_wall_compiled"].append(cli_wall(root, caches[name], csv_out,
                                                       "--engine", "compiled"))
    out["python_numpy_floor"] = python_floor()
    out["load_average_after"] = os.getloadavg()
    print(f"start-up, warm kernel cache, grid {GRID.relative_to(ROOT)}, bytecode cache "
          f"{'on' if BYTECODE else 'off (PYTHONDONTWRITEBYTECODE=1)'}"
          f"{', pandas hidden from the children' if NO_PANDAS else ''}; load average "
          f"{out['load_average_before'][0]:.2f} → {out['load_average_after'][0]:.2f}; "
          f"python + numpy floor {out['python_numpy_floor']:.3f} s")
    for name, t in out["trees"].items():
        print(f"{name} ({t['root']}); cold CLI run (compile) {t['cold_cli_s']:.2f} s")
        _print(f"API, Scorer(grid).score({args.api_rows} demandes)", t["api"], "first_result")
        _print(f"API, Scorer(grid, engine='compiled').score({args.api_rows} demandes)",
               t["api_compiled"], "first_result")
        _print("CLI score of the bundled 4,000 demandes, in-process split", t["cli"], "first_result")
        for key, label in (("cli_wall", ""), ("cli_wall_compiled", " --engine compiled")):
            w = t[key]
            print(f"  CLI `python -m cotation.cli score …{label}` wall: min {min(w):.3f} s, "
                  f"median {statistics.median(w):.3f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

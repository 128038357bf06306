"""End to end, file to file: ``cotation score`` of a canonical CSV against the polars script
of the same grid (``polars_score.py``), each a fresh process, alternating, in one session.

    python benchmarks/bench_e2e.py --demandes 300000 --repeat 5 [--baseline /path/to/main] [--floor]

The data is ``cotation generate`` over the grid's communes (seeded). Kernels are warm (one
untimed run first). Python's bytecode cache is on in every command, as after ``pip install``
(``PYTHONDONTWRITEBYTECODE`` removed, the bytecode kept in a temporary
``PYTHONPYCACHEPREFIX``, written by the untimed run: nothing is written into the trees);
``--no-bytecode-cache`` compiles cotation's modules from source at each run instead (polars,
installed, keeps its bytecode either way). The commands take turns, the order turning round
by round, so that none always follows the same one. Reports min and median wall time of each
command, the 1-minute load average, the ratio, and checks that both outputs hold the same
(numero_unique, commune, score, score_valide, rank) rows. ``--floor`` also times
``pyarrow_floor.py`` (read every column as text with pyarrow, write five: no check, no
scoring), a lower bound for any Python command that reads the file with pyarrow, and says how
much room half the polars script's time leaves above it.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TODAY = "2025-06-30"


def timed(cmd: list[str], env: dict, cwd: Path) -> float:
    t = time.perf_counter()
    # ``python -m`` puts the working directory first on sys.path: every command runs in the
    # data folder, so each tree's code comes from its PYTHONPATH (not from the folder the
    # benchmark was started in)
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, cwd=cwd)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - t


def rows(path: Path) -> set[tuple]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {(r["numero_unique"], r["commune"], float(r["score"]), float(r["score_valide"]),
                 int(r["rank"])) for r in csv.DictReader(fh)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demandes", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", help="another checkout of cotation to time as well")
    ap.add_argument("--grid", default=str(HERE / "grids" / "bench30.yaml"))
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="compile every cotation module from source at each run")
    ap.add_argument("--floor", action="store_true",
                    help="also time pyarrow_floor.py: read as text and write, nothing else")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data and outputs folder (removed by default: 400 MB at 1M)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="cotation-e2e-"))
    try:
        return run(args, tmp)
    finally:
        if args.keep:
            print("kept:", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path) -> int:
    from cotation.data.schema import COLUMNS
    from cotation.grid import load_grid
    grid = load_grid(args.grid).ir

    def environ(**extra) -> dict:
        env = dict(os.environ, **extra)
        if args.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        return env

    env = environ(PYTHONPATH=str(ROOT))
    data = tmp / "demandes.csv"
    communes = ",".join(dict.fromkeys(grid.communes))
    subprocess.run([sys.executable, "-m", "cotation.cli", "generate", "-n", str(args.demandes),
                    "--seed", "2025", "--today", TODAY, "--territory", communes, "-o", str(data)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    meta = tmp / "grid.json"
    meta.write_text(json.dumps({
        "parameters": {k: (v if isinstance(v, (int, float, str, bool, list)) else str(v))
                       for k, v in grid.parameters.items()},
        "communes": list(grid.communes),
        "needs_validation": [c.id for c in grid.criteria if c.needs_validation],
        "kinds": {c.name: c.kind.value for c in COLUMNS}}))
    commands = {
        "cotation score": [sys.executable, "-m", "cotation.cli", "score", args.grid, str(data),
                           "--today", TODAY, "-o", str(tmp / "cotation.csv"),
                           "--engine", "compiled"],
        "polars script": [sys.executable, str(HERE / "polars_score.py"), str(meta), str(data),
                          TODAY, str(tmp / "polars.csv")],
    }
    envs = {"cotation score": env, "polars script": environ()}
    if args.floor:
        commands["pyarrow floor"] = [sys.executable, str(HERE / "pyarrow_floor.py"), str(data),
                                     str(tmp / "floor.csv")]
        envs["pyarrow floor"] = environ()
    if args.baseline:
        commands["baseline score"] = commands["cotation score"][:-4] + [
            "-o", str(tmp / "baseline.csv"), "--engine", "compiled"]
        envs["baseline score"] = environ(PYTHONPATH=str(Path(args.baseline).resolve()))
    trees = {"cotation score": ROOT}
    if args.baseline:
        trees["baseline score"] = Path(args.baseline).resolve()
    for name, tree in trees.items():            # each command runs its own tree's code
        where = subprocess.run([sys.executable, "-c", "import cotation; print(cotation.__file__)"],
                               env=envs[name], cwd=tmp, capture_output=True, text=True,
                               check=True).stdout.strip()
        if not Path(where).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"{name}: imports {where}, not the code of {tree}")
    for name, cmd in commands.items():          # warm-up: kernels cached, files in page cache
        timed(cmd, envs[name], tmp)
    times: dict[str, list[float]] = {k: [] for k in commands}
    loads = []
    names = list(commands)
    for rep in range(args.repeat):
        loads.append(os.getloadavg()[0])
        # the order turns round by round: a run just after another command's (a process that
        # freed a gigabyte a moment before, on a virtual machine) can take up to 1.5x longer
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            times[name].append(timed(commands[name], envs[name], tmp))
    same = rows(tmp / "cotation.csv") == rows(tmp / "polars.csv")
    print(f"{args.demandes:,} demandes, {args.repeat} runs, load average {min(loads):.2f}–"
          f"{max(loads):.2f}, bytecode cache {'off' if args.no_bytecode_cache else 'on'}")
    for name, t in times.items():
        print(f"  {name:15s} min {min(t):6.2f} s  median {statistics.median(t):6.2f} s")
    base = times["polars script"]
    for name in commands:
        if name not in ("polars script", "pyarrow floor"):
            print(f"  {name} / polars: min {min(times[name]) / min(base):.2f}×, median "
                  f"{statistics.median(times[name]) / statistics.median(base):.2f}×")
    if args.floor:
        floor = times["pyarrow floor"]
        print(f"  pyarrow floor / polars: min {min(floor) / min(base):.2f}×, median "
              f"{statistics.median(floor) / statistics.median(base):.2f}×; half the polars "
              f"script's time leaves {(min(base) / 2 - min(floor)) * 1000:.0f} ms above the floor "
              f"(min), cotation score takes {(min(times['cotation score']) - min(floor)) * 1000:.0f}"
              f" ms above it")
    print("same rows as polars:", same)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

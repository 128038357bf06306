"""API scoring from an Arrow table (boundary + encoding + kernels + ranking), this tree
against another checkout of cotation, alternating runs in one session.

    python benchmarks/bench_arrow_path.py --demandes 200000 --repeat 5 --baseline /path/to/main

Each measurement runs in a fresh subprocess per tree (the same seeded data, built once per
process), so both trees see the same machine load; min and median over ``--repeat`` runs,
the 1-minute load average before each run, and the equality of both trees' ranks are
reported.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import gc, json, sys, time, hashlib
sys.path.insert(0, {bench!r})
import bench_scoring as b        # it puts its own checkout first on sys.path: undo that
sys.path.insert(0, {root!r})
for m in [m for m in sys.modules if m == "cotation" or m.startswith("cotation.")]:
    del sys.modules[m]
import numpy as np
import cotation
assert cotation.__file__.startswith({root!r}), cotation.__file__
from cotation.grid import load_grid
from cotation.api import Scorer
grid = load_grid({grid!r})
table, arrow = b.make_data({n}, grid.ir)
del table
scorer = Scorer(grid, workers={workers})
scorer.score(arrow.slice(0, 5000), b.TODAY)           # warm-up: kernels loaded
out = {{}}
times, enc = [], []
for _ in range({repeat}):
    gc.collect()
    t0 = time.perf_counter()
    batch = scorer.prepare(arrow, shortlist=False)
    t1 = time.perf_counter()
    r = scorer.score(batch, b.TODAY)
    t2 = time.perf_counter()
    enc.append(t1 - t0); times.append(t2 - t0)
h = hashlib.sha256()
for a in (r.rows, r.score_hundredths, r.ranks):
    h.update(np.ascontiguousarray(a).tobytes())
out.update(total=times, prepare=enc, digest=h.hexdigest(), pairs=int(len(r.rows)))
print(json.dumps(out))
"""


def run_tree(root: str, n: int, repeat: int, workers: int, grid: str) -> dict:
    code = _CHILD.format(root=root, bench=str(HERE), grid=grid, n=n, repeat=repeat,
                         workers=workers)
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=root, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demandes", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--baseline", help="another checkout of cotation (e.g. main)")
    ap.add_argument("--grid", default=str(HERE / "grids" / "bench30.yaml"))
    args = ap.parse_args(argv)
    trees = {"this tree": str(HERE.parent)}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
    digests = set()
    for w in args.workers:
        for name, root in trees.items():
            load = os.getloadavg()[0]
            r = run_tree(root, args.demandes, args.repeat, w, args.grid)
            digests.add(r["digest"])
            t, p = r["total"], r["prepare"]
            print(f"{name:10s} workers={w} n={args.demandes:,} pairs={r['pairs']:,} "
                  f"load={load:.2f}: total min {min(t)*1e3:,.0f} ms median "
                  f"{statistics.median(t)*1e3:,.0f} ms; boundary+encoding min "
                  f"{min(p)*1e3:,.0f} ms median {statistics.median(p)*1e3:,.0f} ms", flush=True)
    print("ranks equal across trees and worker counts:", len(digests) == 1)
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())

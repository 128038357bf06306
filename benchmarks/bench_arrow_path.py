"""API scoring from an Arrow table (boundary + encoding + kernels + ranking), this tree
against another checkout of cotation, alternating runs in one session.

    python benchmarks/bench_arrow_path.py --demandes 1000000 --repeat 5 --workers 1 2 \
        [--baseline /path/to/other/checkout]

The seeded data (``bench_scoring.make_data``: 2–4 localisations per demande, the bench30
grid) is generated once and written as an Arrow IPC file; each measurement is a fresh
subprocess per tree and worker count (``COTATION_WORKERS`` set to it, so the boundary and the
encoder use as many threads as the kernels) that reads it into memory (the input table), scores a
5,000-row slice to load the kernels, then times ``Scorer.prepare`` (boundary + encoding) and
``Scorer.score`` ``--repeat`` times. Reported: min and median of the total and of the
boundary + encoding part, the 1-minute load average, and the peak resident memory above the
input table during the first full run (Linux: VmHWM reset through /proc/self/clear_refs;
"n/a" elsewhere). The ranks of every tree and worker count must be equal (sha256 of rows,
scores and ranks).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_MAKE = r"""
import sys
sys.path.insert(0, {bench!r})
import bench_scoring as b
import pyarrow as pa
from cotation.grid import load_grid
grid = load_grid({grid!r})
table, arrow = b.make_data({n}, grid.ir)
with pa.OSFile({out!r}, "wb") as sink, pa.ipc.new_file(sink, arrow.schema) as w:
    w.write_table(arrow)
"""

_CHILD = r"""
import gc, json, os, sys, time, hashlib
sys.path.insert(0, {root!r})
import numpy as np
import pyarrow as pa
import cotation
assert cotation.__file__.startswith({root!r}), cotation.__file__
from cotation.grid import load_grid
from cotation.api import Scorer
import datetime as dt

def status(key):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None

TODAY = dt.date(2025, 6, 30)
grid = load_grid({grid!r})
with pa.OSFile({data!r}, "rb") as src:
    arrow = pa.ipc.open_file(src).read_all()      # in memory: the input table
scorer = Scorer(grid, workers={workers})
scorer.score(arrow.slice(0, 5000), TODAY)           # warm-up: kernels loaded
gc.collect()
peak = None
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")                               # reset the peak (VmHWM) to now
    base = status("VmRSS")
except OSError:
    base = None
times, enc = [], []
for i in range({repeat}):
    gc.collect()
    t0 = time.perf_counter()
    batch = scorer.prepare(arrow, shortlist=False)
    t1 = time.perf_counter()
    r = scorer.score(batch, TODAY)
    t2 = time.perf_counter()
    enc.append(t1 - t0); times.append(t2 - t0)
    if i == 0 and base is not None:
        peak = status("VmHWM") - base
    del batch
h = hashlib.sha256()
for a in (r.rows, r.score_hundredths, r.ranks):
    h.update(np.ascontiguousarray(a).tobytes())
print(json.dumps(dict(total=times, prepare=enc, digest=h.hexdigest(), pairs=int(len(r.rows)),
                      peak=peak, input=arrow.nbytes)))
"""


def run_tree(root: str, data: str, repeat: int, workers: int, grid: str) -> dict:
    code = _CHILD.format(root=root, grid=grid, data=data, repeat=repeat, workers=workers)
    # the boundary and the encoder use COTATION_WORKERS threads, the kernels ``workers``
    env = dict(os.environ, PYTHONPATH=root, COTATION_WORKERS=str(workers))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=root)
    if out.returncode:
        raise SystemExit(f"{root}: {out.stderr[-3000:]}")
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
    with tempfile.TemporaryDirectory(prefix="cotation-arrow-") as tmp:
        data = str(Path(tmp) / "demandes.arrow")
        subprocess.run([sys.executable, "-c", _MAKE.format(bench=str(HERE), grid=args.grid,
                                                           n=args.demandes, out=data)],
                       env=dict(os.environ, PYTHONPATH=str(HERE.parent)), check=True)
        digests = set()
        for w in args.workers:
            for name, root in trees.items():
                load = os.getloadavg()[0]
                r = run_tree(root, data, args.repeat, w, args.grid)
                digests.add(r["digest"])
                t, p = r["total"], r["prepare"]
                peak = "n/a" if r["peak"] is None else f"{r['peak'] / 2**20:,.0f} MiB"
                print(f"{name:10s} workers={w} n={args.demandes:,} pairs={r['pairs']:,} "
                      f"load={load:.2f}: total min {min(t)*1e3:,.0f} ms median "
                      f"{statistics.median(t)*1e3:,.0f} ms; boundary+encoding min "
                      f"{min(p)*1e3:,.0f} ms median {statistics.median(p)*1e3:,.0f} ms; "
                      f"peak memory above the input table ({r['input'] / 2**20:,.0f} MiB) "
                      f"{peak}", flush=True)
    print("ranks equal across trees and worker counts:", len(digests) == 1)
    return 0 if len(digests) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Building the shortlist index (``Scorer.index``) at scale, this tree against another checkout.

    python benchmarks/bench_shortlist.py [--demandes 1000000] [--repeat 5] [--baseline DIR]

Data: the demandes of ``bench_scoring.py`` (seeded, 8 communes, about 3 scored communes each)
as one Arrow table, generated once and written to an Arrow IPC file that every tree reads.
Grid: ``benchmarks/grids/bench30.yaml``. Each tree runs in its own process (its own
PYTHONPATH), builds the index once to warm up, then ``--repeat`` times measures, in one
process:

- ``prepare``: ``Scorer.prepare(table)`` (the boundary and the encoder: Arrow table → Batch);
- ``after_prepare``: ``Scorer.index(batch, today)`` on that Batch: scoring, ranking and the
  layout per commune; split into ``score_rank`` (``Scorer.score``) and ``layout``
  (``ShortlistIndex._build``);
- ``index``: ``Scorer.index(table, today)`` from the table, everything included;
- ``shortlist``: each of 40 dwelling queries on the index (``ShortlistIndex.shortlist``, k=20,
  half with an income ceiling), median and max.

Prints min and median of each, the load average, and whether the trees' indexes answer the
same shortlists (a digest of those 40 queries).
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = r"""
import datetime as dt, hashlib, json, os, sys, time
import numpy as np
import pyarrow as pa, pyarrow.ipc
import cotation
from cotation.api import Scorer, ShortlistIndex
from cotation.grid import load_grid

path, grid, today, repeat = sys.argv[1], sys.argv[2], dt.date.fromisoformat(sys.argv[3]), int(sys.argv[4])
tree = os.path.realpath(sys.argv[5])
assert os.path.realpath(cotation.__file__).startswith(tree + os.sep), (cotation.__file__, tree)
table = pa.ipc.open_file(path).read_all()
scorer = Scorer(load_grid(grid))
index = scorer.index(table, today)                   # warm-up (kernels, caches)
times = {"prepare": [], "score_rank": [], "layout": [], "after_prepare": [], "index": []}
for _ in range(repeat):
    t0 = time.perf_counter()
    batch = scorer.prepare(table)
    t1 = time.perf_counter()
    result = scorer.score(batch, today)
    t2 = time.perf_counter()
    ShortlistIndex._build(scorer, batch, result, today)
    t3 = time.perf_counter()
    scorer.index(batch, today)
    t4 = time.perf_counter()
    index = scorer.index(table, today)
    t5 = time.perf_counter()
    for k, v in (("prepare", t1 - t0), ("score_rank", t2 - t1), ("layout", t3 - t2),
                 ("after_prepare", t4 - t3), ("index", t5 - t4)):
        times[k].append(v)
rng = np.random.default_rng(1)
digest = hashlib.sha256()
queries = []
for q in range(40):
    dw = {"commune": scorer.communes[int(rng.integers(len(scorer.communes)))],
          "typologie": ["T1", "T2", "T3", "T4", "T5"][int(rng.integers(5))]}
    if q % 2:
        dw["financement"] = ["PLAI", "PLUS", "PLS"][int(rng.integers(3))]
    t0 = time.perf_counter()
    got = index.shortlist(dw, k=20)
    queries.append(time.perf_counter() - t0)
    digest.update(json.dumps(got, sort_keys=True).encode())
print(json.dumps({"times": times, "queries": queries, "pairs": len(index),
                  "digest": digest.hexdigest()}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demandes", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", help="another checkout of cotation to compare with")
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    import pyarrow as pa
    import pyarrow.ipc

    import bench_scoring
    from cotation.grid import load_grid

    trees = [("this tree", ROOT)] + ([("baseline", Path(a.baseline).resolve())] if a.baseline else [])
    with tempfile.TemporaryDirectory(prefix="bench-shortlist-") as d:
        path = os.path.join(d, "demandes.arrow")
        t = time.perf_counter()
        _table, arrow = bench_scoring.make_data(a.demandes, load_grid(bench_scoring.GRID).ir)
        with pa.OSFile(path, "wb") as fh, pa.ipc.new_file(fh, arrow.schema) as w:
            w.write_table(arrow)
        del _table, arrow
        print(f"{a.demandes} demandes generated in {time.perf_counter() - t:.0f} s; "
              f"load average {os.getloadavg()[0]:.2f}")
        out = {}
        for name, tree in trees:
            env = dict(os.environ, PYTHONPATH=str(tree))
            # cwd=tree: ``python -c`` puts the working directory first on sys.path, so each
            # tree must run from its own folder (or every run would import this tree's code)
            done = subprocess.run([sys.executable, "-c", _CHILD, path, str(bench_scoring.GRID),
                                   bench_scoring.TODAY.isoformat(), str(a.repeat), str(tree)],
                                  env=env, check=True, capture_output=True, text=True, cwd=tree)
            out[name] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{name} ({out[name]['pairs']} pairs), min / median of {a.repeat} runs:")
            for phase, ts in out[name]["times"].items():
                print(f"  {phase:14s} {min(ts):6.3f} s / {statistics.median(ts):6.3f} s")
            qs = out[name]["queries"]
            print(f"  shortlist      {1e3 * statistics.median(qs):6.3f} ms median, "
                  f"{1e3 * max(qs):6.3f} ms max of {len(qs)} queries (k=20, half with a "
                  "financement)")
        if a.baseline:
            mine, base = out["this tree"]["times"], out["baseline"]["times"]
            for phase in ("after_prepare", "index"):
                print(f"ratio of medians, {phase}: "
                      f"{statistics.median(base[phase]) / statistics.median(mine[phase]):.2f}x")
            print(f"same shortlists: {out['this tree']['digest'] == out['baseline']['digest']}")
        print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

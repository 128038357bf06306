"""Cold compilation time against grid size: the basis of the compile bound (issue 11).

    python benchmarks/bench_compile.py --criteria 10 25 50 100 200 400

For each size, a generated grid (the differential tests' template generator,
``tests/_diffgen.Template(seed, n_criteria=N, rich=False, depth=1)``: plain criteria with
bands, groups and conditions) is lowered, and its two kernels are compiled in a fresh process
with an empty kernel cache. Printed per size: criteria, generated source lines and characters,
Numba compile time (``CompiledGrid.warm()`` with native kernels off), the time to make and
check the native kernels from them (``cache.store_native``, which ``warm()`` does when they are
on), process wall time. One run per size (a cold compile is the quantity itself; repeat the
command for spread).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from _diffgen import Template
from cotation.engine.compiled import cache, compile_grid
g = Template({seed}, n_criteria={n}, rich=False, depth=1).grid(0)
t0 = time.perf_counter()
cg = compile_grid(g)
t1 = time.perf_counter()
os.environ["COTATION_NATIVE_KERNELS"] = "0"
cg.warm()
t2 = time.perf_counter()
os.environ["COTATION_NATIVE_KERNELS"] = "1"
stored = cache.store_native(cg.kernels(), cg.plan.source)
t3 = time.perf_counter()
src = cg.plan.source
print(json.dumps({{"criteria": len(g.criteria), "lines": cg.kernel_lines, "chars": len(src),
                  "lower_s": t1 - t0, "compile_s": t2 - t1, "native_s": t3 - t2,
                  "native_stored": stored}}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--criteria", type=int, nargs="+", default=[10, 25, 50, 100, 200, 400])
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    rows = []
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| criteria | source lines | source chars | lower | compile (Numba) | native kernels "
          "| process |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.criteria:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, COTATION_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
            code = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), seed=args.seed, n=n)
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                 capture_output=True, text=True).stdout
            wall = time.perf_counter() - t0
        r = json.loads(out.strip().splitlines()[-1])
        r["process_s"] = wall
        rows.append(r)
        print(f"| {r['criteria']} | {r['lines']:,} | {r['chars']:,} | {r['lower_s']:.2f} s | "
              f"{r['compile_s']:.1f} s | {r['native_s']:.1f} s"
              f"{'' if r['native_stored'] else ' (not stored)'} | {wall:.1f} s |", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

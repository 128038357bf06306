"""Benchmark: information statements (JSON + HTML) for 100,000 demandes.

Synthetic demandes and attributions come from ``cotation.data.synth``; the Lyon example grid
scores them (it takes external demandes only, so more demandes are generated than statements
are written). Phases are timed separately: scoring (any engine), positioning, statements
(build + render + write, in ``--jobs`` processes). Run from the repository root:

    python benchmarks/bench_statements.py -n 100000 --jobs 2

Statements are written to a RAM-backed temporary directory (``/dev/shm``) when there is one,
so that the figure measures the engine rather than the disk; ``--out DIR`` writes where you
say (100,000 statements are about 4 GB). CPU seconds (this process and its workers) are
reported beside wall seconds: on a shared machine they are the steadier figure.
Figures are recorded by hand in ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cotation.engine import score  # noqa: E402
from cotation.grid import load_grid  # noqa: E402
from cotation.info.statements import write_statements  # noqa: E402
from cotation.info.positioning import position  # noqa: E402
from cotation.progress import Progress  # noqa: E402
from cotation.data.synth import generate_attributions, generate_demandes  # noqa: E402

TODAY = dt.date(2025, 6, 30)


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished workers."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100_000, help="statements to write (default 100000)")
    ap.add_argument("--grid", default=str(ROOT / "grids" / "lyon-metropole.yaml"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--engine", default="interpreter", choices=("interpreter", "compiled"))
    ap.add_argument("--format", default="html,json")
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--out", help="output directory (default: a temporary one, removed after)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)

    grid = load_grid(args.grid)
    communes = grid.ir.communes
    t = time.perf_counter()
    # About two thirds of synthetic demandes are external ones (the grid's scope).
    n_gen = int(args.n / 0.66) + 1000
    table = generate_demandes(n_gen, seed=args.seed, today=TODAY, territories=[communes])
    leases = generate_attributions(int(0.3 * n_gen), seed=args.seed, today=TODAY, territories=[communes])
    t_gen = time.perf_counter() - t

    t, c = time.perf_counter(), cpu_seconds()
    st = score(grid.ir, table, TODAY, engine=args.engine, explain=True)
    t_score, c_score = time.perf_counter() - t, cpu_seconds() - c

    t, c = time.perf_counter(), cpu_seconds()
    pos = position(grid.ir, st, table, leases, TODAY)
    t_pos, c_pos = time.perf_counter() - t, cpu_seconds() - c

    scored = sorted(set(st.row.tolist()))
    if len(scored) < args.n:
        print(f"only {len(scored)} demandes in the grid's scope; writing that many", file=sys.stderr)
    indices = scored[:args.n]
    ram = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    out = args.out or tempfile.mkdtemp(prefix="bench_statements_", dir=ram)
    formats = tuple(f for f in args.format.split(",") if f)
    try:
        t, c = time.perf_counter(), cpu_seconds()
        written = write_statements(pos, out, indices=indices, formats=formats, jobs=args.jobs,
                                   progress=Progress("statements", args.progress or None))
        t_st, c_st = time.perf_counter() - t, cpu_seconds() - c
        size = sum(f.stat().st_size for f in Path(out).iterdir())
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)

    n = len(written)
    total, c_total = t_score + t_pos + t_st, c_score + c_pos + c_st
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"data: {n_gen} demandes generated ({len(scored)} in scope, {len(st)} cotations, "
          f"{len(pos)} positions), {len(leases)} attributions ({t_gen:.1f} s, not counted)")
    print(f"grid: {grid.ir.id} ({len(grid.ir.criteria)} criteria), engine {args.engine}, "
          f"jobs {args.jobs}, formats {','.join(formats)}, output {args.out or out + ' (removed)'}")
    print(f"{'phase':<22}{'wall s':>9}{'statements/s':>14}{'CPU s':>9}{'CPU ms/statement':>18}")
    for name, sec, cs in (("score", t_score, c_score), ("position", t_pos, c_pos),
                          ("statements (write)", t_st, c_st), ("total", total, c_total)):
        print(f"{name:<22}{sec:>9.1f}{n / sec if sec else 0:>14,.0f}{cs:>9.1f}{1e3 * cs / max(n, 1):>18.2f}")
    print(f"{n} statements, {size / 1e6:.0f} MB written ({size / max(n, 1) / 1e3:.1f} kB each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

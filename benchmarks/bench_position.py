"""`cotation position` end to end on generated demandes, this tree against another checkout.

    python benchmarks/bench_position.py [--demandes 100000] [--repeat 5] [--baseline DIR]
                                        [--baseline-repeat N]

Generates the demandes and an attribution history once (seeded, Lyon territory; one lease per
five demandes), then runs `cotation position` with the Lyon grid from this tree and, with
--baseline, from another checkout, alternating, ``--repeat`` times each (the baseline
``--baseline-repeat`` times, default the same: at 1M demandes a run of the old code takes
about 45 s); prints min and median seconds, the peak resident memory of each tree's runs
(max RSS of the child process), the load average and whether both trees wrote the same bytes.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TERRITORY = "69123,69266,69259,69029,69256,69290"

# One run of `cotation position` in this process with each phase timed (wall and CPU seconds):
# the CLI's own functions, wrapped where the command calls them.
_PHASES = r"""
import sys, time
import cotation.cli as cli
import cotation.cli.core as core, cotation.cli.info as info, cotation.data.canonical as canonical
import cotation.engine as engine
marks = []
def timed(mod, name, label):
    f = getattr(mod, name)
    def g(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        r = f(*a, **k)
        marks.append((label, time.perf_counter() - t, time.process_time() - c))
        return r
    setattr(mod, name, g)
for mod, name, label in ((core, "load_and_read", "read demandes"),
                         (canonical, "read_attributions_csv", "read leases"),
                         (engine, "score", "score (encode, kernels)"),
                         (info, "position", "positioning"),
                         (info, "position_columns", "columns"),
                         (core, "write_columns", "write")):
    timed(mod, name, label)
t0 = time.perf_counter()
rc = cli.main(sys.argv[1:])
for label, wall, cpu in marks:
    print(f"  {label:24s} wall {wall:6.2f} s  cpu {cpu:6.2f} s")
print(f"  {'in process, in all':24s} wall {time.perf_counter() - t0:6.2f} s")
sys.exit(rc)
"""


def cli(tree: Path, *args: str, cwd: Path) -> tuple[float, int]:
    """(seconds, peak resident memory in MiB) of one command in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    t = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "cotation", *args], cwd=cwd, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - t
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{tree}: cotation {args[0]} exited with {child.returncode}")
    return elapsed, usage.ru_maxrss // 1024      # ru_maxrss is in KiB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demandes", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", help="another checkout of cotation to compare with")
    ap.add_argument("--baseline-repeat", type=int, help="runs of the baseline (default --repeat)")
    ap.add_argument("--phases", action="store_true",
                    help="then one more run of this tree with the time of each phase")
    a = ap.parse_args()
    trees = [("this tree", ROOT)] + ([("baseline", Path(a.baseline).resolve())] if a.baseline else [])
    with tempfile.TemporaryDirectory(prefix="bench-position-") as d:
        work = Path(d)
        cli(ROOT, "generate", "-n", str(a.demandes), "--seed", "1", "--today", "2025-06-30",
            "--territory", TERRITORY, "-o", "d.csv", "--attributions", "a.csv",
            "--n-attributions", str(max(1, a.demandes // 5)), cwd=work)
        times: dict[str, list[float]] = {name: [] for name, _ in trees}
        rss: dict[str, int] = {name: 0 for name, _ in trees}
        runs = {"this tree": a.repeat, "baseline": a.baseline_repeat or a.repeat}
        print(f"{a.demandes} demandes; load average before {os.getloadavg()[0]:.2f}")
        for k in range(max(runs.values())):
            for name, tree in trees:
                if k >= runs[name]:
                    continue
                out = f"p_{len(times[name])}_{name[0]}.csv"
                s, mib = cli(tree, "position", str(ROOT / "grids/lyon-metropole.yaml"),
                             "d.csv", "a.csv", "--today", "2025-06-30", "-o", out, cwd=work)
                times[name].append(s)
                rss[name] = max(rss[name], mib)
                if k:
                    os.unlink(work / out)
        for name, ts in times.items():
            print(f"{name}: min {min(ts):.2f} s, median {statistics.median(ts):.2f} s over {len(ts)} "
                  f"runs; peak RSS {rss[name]} MiB")
        if a.baseline:
            same = filecmp.cmp(work / "p_0_t.csv", work / "p_0_b.csv", shallow=False)
            print(f"ratio of medians {statistics.median(times['baseline']) / statistics.median(times['this tree']):.1f}x; "
                  f"same bytes: {same}")
        if a.phases:
            print(f"phases of one run of this tree (load {os.getloadavg()[0]:.2f}):", flush=True)
            subprocess.run([sys.executable, "-c", _PHASES, "position",
                            str(ROOT / "grids/lyon-metropole.yaml"), "d.csv", "a.csv", "--today",
                            "2025-06-30", "-o", "phases.csv"], cwd=work, check=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.DEVNULL)
        print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How long the studio takes to refresh its panes after an edit, on the bundled data.

One preview = check the grid text (load_grid) + score the 4,000 bundled demandes + criteria,
distributions, rankings + the comparison with the grid as opened (both grids scored). Each
run changes one criterion's points (a new value every run, as an author typing), so nothing is
answered from a previous run; the compiled engine reuses its kernels (points are data, not
code). The first compiled run (kernels compiled or read from the disk cache) is reported apart.

    python benchmarks/bench_studio.py --runs 7
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--grid", default=str(ROOT / "grids" / "rennes-priorites.yaml"))
    args = ap.parse_args()
    from sne_adapters import read_demandes
    from cotation.studio.session import Session
    demandes = ROOT / "examples" / "data" / "demandes.csv"
    table = read_demandes(demandes).table
    session = Session.open(Path(args.grid), table, demandes, dt.date(2025, 6, 1))
    needle = 'when: "nb_personnes_handicap >= 1"\n    points: 20'
    assert needle in session.opened_text, "the benchmark edits rennes-priorites.yaml's handicap criterion"
    print(f"load average before: {os.getloadavg()}")
    results = {}
    value = 20
    for engine in ("interpreter", "compiled"):
        session.engine = engine
        times = []
        for i in range(args.runs + 1):
            value += 1
            text = session.opened_text.replace(needle, needle[:-2] + str(value))
            t0 = time.perf_counter()
            out = session.preview(text)
            times.append(time.perf_counter() - t0)
            assert out["valid"] and out["comparison"]["territory"]["moved_up"] >= 0
        first, rest = times[0], times[1:]
        results[engine] = rest
        print(f"{engine:12s} first {first:.3f} s; next {len(rest)} runs: min {min(rest):.3f} s, "
              f"median {statistics.median(rest):.3f} s")
    ratio = statistics.median(results["interpreter"]) / statistics.median(results["compiled"])
    print(f"median ratio interpreter / compiled: {ratio:.1f}x")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

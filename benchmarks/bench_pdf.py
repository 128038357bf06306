"""Bulk PDF of information statements: one Chromium per worker (DevTools pipe) against one
Chromium process per document (--print-to-pdf), same HTML, same run.

    python benchmarks/bench_pdf.py [-n 20] [--runs 5] [--jobs 1 2]

Writes the statements of the first N in-scope demandes of the bundled data (Lyon grid) as HTML
once, then converts them to PDF with both methods, alternating, ``--runs`` times each; prints min
and median seconds, the ratio, and the load average. Checks that both give the same bytes.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cotation import pdf  # noqa: E402


class _NoPipe:
    def __init__(self, *a, **k):
        raise pdf._BrowserError("pipe disabled for the baseline")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    if pdf.find_chromium() is None:
        print("chromium is not installed", file=sys.stderr)
        return 1
    with open(ROOT / "examples/data/demandes.csv", encoding="utf-8") as fh:
        ids = sorted(r["numero_unique"] for r in csv.DictReader(fh) if r["numero_unique"].startswith("069"))
    work = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    try:
        subprocess.run([sys.executable, "-m", "cotation.cli", "statements", "grids/lyon-metropole.yaml",
                        "examples/data/demandes.csv", "examples/data/attributions.csv",
                        "--today", "2025-06-30", "--format", "html", "-o", str(work / "h"),
                        "--ids", *ids[: a.n * 3]], check=True, capture_output=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
        htmls = sorted((work / "h").rglob("*.html"))[: a.n]
        print(f"{len(htmls)} statements (HTML), load average before {os.getloadavg()[0]:.2f}")
        piped = pdf._PipeBrowser

        def run(jobs: int, out: str) -> float:
            d = work / out
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            t = time.perf_counter()
            pdf.html_to_pdf([(h, d / f"{h.stem}.pdf") for h in htmls], jobs=jobs)
            return time.perf_counter() - t

        for jobs in a.jobs:
            one, per = [], []
            for _ in range(a.runs):
                pdf._PipeBrowser = piped
                one.append(run(jobs, "one"))
                pdf._PipeBrowser = _NoPipe
                per.append(run(jobs, "per"))
            pdf._PipeBrowser = piped
            differ = [h.stem for h in htmls if (work / "one" / f"{h.stem}.pdf").read_bytes()
                      != (work / "per" / f"{h.stem}.pdf").read_bytes()]
            same = "yes" if not differ else f"no ({len(differ)}: {', '.join(differ[:3])})"
            print(f"jobs={jobs}: one Chromium per worker min {min(one):.2f} s, median {statistics.median(one):.2f} s; "
                  f"one process per document min {min(per):.2f} s, median {statistics.median(per):.2f} s; "
                  f"ratio of medians {statistics.median(per) / statistics.median(one):.1f}x; same bytes: {same}")
        print(f"load average after {os.getloadavg()[0]:.2f} (2-core machine: {os.cpu_count()} CPUs)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

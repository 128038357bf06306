"""Compare two grids on the same demandes: who moves up or down, where, and why.

``compare(grid_a, grid_b, table, today)`` scores one canonical table under both grids (same
rejects for both: the table is the reader's output), aligns the pairs (demande, commune), and
returns a :class:`Comparison`: the aligned pairs (arrays), the pairs table (pyarrow), the
summary (a JSON-ready dict, see :mod:`cotation.analysis.summary` for every definition) and, given
attributions, the ranks at attribution dates. ``Comparison.write(dir)`` writes ``pairs.csv``,
``pairs.parquet``, ``summary.json``, ``attributions.csv`` (with attributions) and ``report.html``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa

from cotation.analysis.attributions import ranks_at_attribution, with_attributed
from cotation.analysis.pairs import AlignedPairs, align, pairs_table
from cotation.analysis.profiles import demande_profiles
from cotation.analysis.scoring import TwoGridScorer
from cotation.analysis.summary import DEFINITIONS, summarise
from cotation.data.output import write_results
from cotation.data.table import AttributionTable, DemandeTable
from cotation.grid import Grid, ir

DEFAULT_TOP = (10, 50, 100)
Progress = Callable[[int, int], None]


@dataclass
class Comparison:
    grid_a: ir.GridIR
    grid_b: ir.GridIR
    today: dt.date
    top: tuple[int, ...]
    pairs: AlignedPairs
    summary: dict
    attributions: pa.Table | None
    engine: str
    shared_batch: bool

    def pairs_table(self, *, decimal_text: bool = False) -> pa.Table:
        """``numero_unique, commune, score_a, score_b, rank_a, rank_b, rank_change`` then
        ``pts_a_<id>, pts_b_<id>`` for the criteria whose points differ."""
        return pairs_table(self.pairs, decimal_text=decimal_text)

    def summary_json(self) -> str:
        return json.dumps(self.summary, ensure_ascii=False, indent=1) + "\n"

    def write(self, out_dir: str | Path, *, report: bool = True) -> list[Path]:
        """Write the outputs into ``out_dir`` (created); returns the files written."""
        from cotation.data.canonical import write_parquet
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        csv_table = self.pairs_table(decimal_text=True)
        write_results({n: csv_table.column(n).to_pylist() for n in csv_table.column_names},
                      out / "pairs.csv")
        write_parquet(self.pairs_table(), out / "pairs.parquet")
        written += [out / "pairs.csv", out / "pairs.parquet"]
        if self.attributions is not None:
            t = self.attributions
            write_results({n: t.column(n).to_pylist() for n in t.column_names},
                          out / "attributions.csv")
            written.append(out / "attributions.csv")
        _write_text(out / "summary.json", self.summary_json())
        written.append(out / "summary.json")
        if report:
            from cotation.analysis.report import render_report
            _write_text(out / "report.html", render_report(self.summary))
            written.append(out / "report.html")
        return written


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _grid_info(g: Grid | ir.GridIR, label: str | None) -> dict:
    gir = g.ir if isinstance(g, Grid) else g
    return {"id": gir.id, "title": gir.title, "version": gir.version,
            "hash": gir.source_hash, "label": label or gir.id,
            "territory": gir.territory_name, "communes": list(gir.communes),
            "criteria": len(gir.criteria),
            "legal_priority_criteria": [c.id for c in gir.criteria if c.legal_priority]}


def compare(grid_a: Grid | ir.GridIR, grid_b: Grid | ir.GridIR, table: DemandeTable,
            today: dt.date, *, top: tuple[int, ...] = DEFAULT_TOP,
            attributions: AttributionTable | None = None, window_months: int | None = None,
            engine: str = "auto", labels: tuple[str, str] | None = None,
            progress: Progress | None = None, attribution_progress: Progress | None = None,
            attributed: DemandeTable | None = None) -> Comparison:
    """Score ``table`` under both grids as of ``today`` and compare the ranks.

    ``top``: the N of the top-N figures (positive, distinct). ``attributions``: leases; the
    demandes of ``table`` attributed in the window (``window_months``, default grid A's
    waiting-time window) get their rank on the attribution date under each grid.
    ``attributed``: the attributed demandes, row for row with ``attributions`` (a file read by
    :func:`cotation.data.attributed.read_attributed`): ranked at their dates with the demandes
    of ``table`` not attributed, so that they need not be in ``table``.
    """
    top = tuple(sorted(set(int(n) for n in top)))
    if not top or top[0] < 1:
        raise ValueError("top N values must be positive whole numbers")
    ga = grid_a.ir if isinstance(grid_a, Grid) else grid_a
    gb = grid_b.ir if isinstance(grid_b, Grid) else grid_b
    scorer = TwoGridScorer(ga, gb, table, engine)
    st_a, st_b = scorer.score(today)
    if progress is not None:
        progress(1, 3)
    pairs = align(st_a, st_b)
    territory, communes = summarise(pairs, demande_profiles(table, today), top)
    if progress is not None:
        progress(2, 3)
    crit_labels = {c.id: c.label for c in pairs.criteria}
    summary = {
        "format": "cotation-compare/1",
        "today": today.isoformat(),
        "top": list(top),
        "grid_a": _grid_info(grid_a, labels[0] if labels else None),
        "grid_b": _grid_info(grid_b, labels[1] if labels else None),
        "demandes": {"in_table": len(table),
                     "local_field_rejects_a": len({r.numero_unique for r in st_a.rejects}),
                     "local_field_rejects_b": len({r.numero_unique for r in st_b.rejects})},
        "engine": scorer.engine_used, "shared_batch": scorer.shared_batch,
        "criterion_labels": crit_labels,
        "territory": territory,
        "communes": communes,
        "definitions": DEFINITIONS,
    }
    att_table = None
    if attributions is not None:
        months = window_months if window_months is not None else ga.waiting_window_months
        at_scorer, at_table = scorer, table
        if attributed is not None:
            at_table = with_attributed(table, attributions, attributed)
            at_scorer = TwoGridScorer(ga, gb, at_table, engine)
        att_table, summary["attributions"] = ranks_at_attribution(
            at_scorer, at_table, attributions, today, months, top, attribution_progress)
        summary["attributions"]["demandes_from_attributions"] = attributed is not None
    if progress is not None:
        progress(3, 3)
    return Comparison(ga, gb, today, top, pairs, summary, att_table, scorer.engine_used,
                      scorer.shared_batch)

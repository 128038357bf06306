"""The preview panes as JSON: criteria, distributions, rankings, comparison, explanation."""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from cotation.data.table import AttributionTable, DemandeTable
from cotation.engine import ScoreTable, score
from cotation.engine.scoring import format_hundredths
from cotation.grid import Grid

TOP = 10
BINS = 10


def _criteria(grid: Grid, st: ScoreTable) -> list[dict[str, Any]]:
    out = []
    for j, c in enumerate(grid.ir.criteria):
        met = st.criterion_met(j) if len(st) else np.zeros(0, dtype=bool)
        pts = st.points[met, j] if st.points is not None and len(st) else np.zeros(0, dtype=np.int64)
        out.append({"id": c.id, "label": c.label, "section": c.section,
                    "demandes": int(len(np.unique(st.row[met]))), "pairs": int(met.sum()),
                    "points_total": format_hundredths(int(pts.sum())),
                    "points_max": format_hundredths(int(pts.max())) if len(pts) else None})
    return out


def _histogram(scores: np.ndarray, lo: float, hi: float) -> list[int]:
    if hi <= lo:
        hi = lo + 1
    return [int(n) for n in np.histogram(scores, bins=BINS, range=(lo, hi))[0]]


def _communes(grid: Grid, st: ScoreTable, ref: ScoreTable | None) -> list[dict[str, Any]]:
    """Per commune: pairs, median, the distribution in bars shared by every commune and by the
    reference grid's scores (``reference`` counts, when there is one), the top of the ranking."""
    pts = st.score / 100
    ref_pts = ref.score / 100 if ref is not None else np.zeros(0)
    both = np.concatenate([pts, ref_pts])
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, BINS + 1)
    out = []
    for commune in grid.ir.communes:
        sel = np.flatnonzero(st.commune == commune)
        top = sel[np.argsort(st.rank[sel], kind="stable")][:TOP]
        counts = _histogram(pts[sel], lo, hi)
        ref_counts = (_histogram(ref_pts[ref.commune == commune], lo, hi) if ref is not None
                      else [None] * BINS)
        out.append({"commune": commune, "pairs": int(len(sel)),
                    "median": round(float(np.median(pts[sel])), 2) if len(sel) else None,
                    "distribution": [{"from": round(float(edges[i]), 2), "to": round(float(edges[i + 1]), 2),
                                      "count": counts[i], "reference": ref_counts[i]}
                                     for i in range(BINS)],
                    "top": [{"rank": int(st.rank[p]), "numero_unique": str(st.numero_unique[p]),
                             "score": format_hundredths(int(st.score[p]))} for p in top]})
    return out


def _comparison(opened: Grid, grid: Grid, table: DemandeTable, today: dt.date,
                engine: str, attributions: AttributionTable | None) -> dict[str, Any]:
    from cotation.analysis.compare import compare
    result = compare(opened, grid, table, today, top=(TOP,), engine=engine,
                     attributions=attributions, labels=("grille de référence", "grille en cours"))
    keys = ("pairs_both", "pairs_a", "pairs_b", "moved_up", "moved_down", "max_moved_up",
            "max_moved_down", "spearman", "kendall_tau_b")
    t = result.summary["territory"]
    return {"territory": {k: t.get(k) for k in keys},
            "communes": {c: {k: b.get(k) for k in ("pairs_both", "moved_up", "moved_down")}
                         for c, b in result.summary["communes"].items()},
            "identical": bool(opened.source_hash == grid.source_hash),
            "attributions": result.summary.get("attributions")}


def preview_json(grid: Grid, opened: Grid | None, table: DemandeTable, today: dt.date,
                 engine: str, attributions: AttributionTable | None = None, *,
                 reference=None) -> dict[str, Any]:
    """``reference``: ``opened``'s ScoreTable when the caller keeps it (scored here otherwise)."""
    st = score(grid.ir, table, today, engine=engine, explain=True)
    ref = reference if reference is not None or opened is None else score(opened.ir, table, today,
                                                                          engine=engine)
    out: dict[str, Any] = {"today": today.isoformat(), "demandes": len(table), "pairs": len(st),
                           "criteria": _criteria(grid, st), "communes": _communes(grid, st, ref)}
    out["comparison"] = (_comparison(opened, grid, table, today, engine, attributions)
                         if opened is not None else None)
    return out


def explain_json(grid: Grid, table: DemandeTable, idx: int, today: dt.date,
                 engine: str) -> dict[str, Any]:
    from cotation.engine.explain import criterion_lines, render_text
    from cotation.engine.interpreter import Interpreter
    from cotation.engine.scoring import local_field_values
    st = score(grid.ir, table, today, engine=engine)
    ranks: dict[str, tuple[int, int]] = {}
    sizes = {c: int((st.commune == c).sum()) for c in set(st.commune.tolist())}
    for p in np.flatnonzero(st.row == idx):
        ranks[st.commune[p]] = (int(st.rank[p]), sizes[st.commune[p]])
    local, _rejects = local_field_values(grid.ir, table)
    row = table.row(idx)
    for name, vals in local.items():
        row[name] = vals[idx]
    pairs = Interpreter(grid.ir).score_row(idx, row, today)
    return {"numero_unique": table.row(idx)["numero_unique"],
            "text": render_text(grid.ir, pairs, ranks, today),
            "communes": [{"commune": p.commune, "score": format_hundredths(p.score),
                          "rank": ranks.get(p.commune, (0, 0))[0],
                          "of": ranks.get(p.commune, (0, 0))[1],
                          "criteria": [c.as_dict() for c in criterion_lines(grid.ir, p)]}
                         for p in pairs]}

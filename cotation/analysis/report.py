"""The comparison report: French, A4, self-contained HTML (inline CSS and SVG, no script).

``render_report(summary)`` reads nothing but the summary dict (the content of
``summary.json``), so every figure of the report is one of its numbers; chart geometry is
computed here and drawn by the template ``templates/compare.html``.
"""
from __future__ import annotations

from pathlib import Path

import jinja2

from cotation.analysis.profiles import DIMENSION_LABELS, VALUE_LABELS
from cotation.info.statements.wording import CODE_FR

TEMPLATES = Path(__file__).resolve().parent / "templates"


def fr_number(x, digits: int = 1) -> str:
    """French decimal text: ``1 234,5``.

    >>> fr_number(1234.56), fr_number(-0.25, 2), fr_number(None)
    ('1\u202f234,6', '-0,25', '—')
    """
    if x is None:
        return "—"
    text = f"{x:,.{digits}f}" if digits else f"{round(x):,d}"
    return text.replace(",", "\u202f").replace(".", ",")


def fr_pct(x, digits: int = 1) -> str:
    """A share as a French percentage: ``12,3 %``."""
    return "—" if x is None else fr_number(100 * x, digits) + "\u00a0%"


def fr_signed(x: int) -> str:
    return f"+{x}" if x > 0 else ("−" + str(-x) if x < 0 else "0")


def _bars(values: list[float], width: float, height: float, gap: float = 2.0) -> list[dict]:
    """Vertical bars scaled to the largest value (x, y, w, h)."""
    top = max(values) if values and max(values) > 0 else 1
    w = width / max(1, len(values))
    return [{"x": round(i * w + gap / 2, 1), "w": round(w - gap, 1),
             "h": round(height * v / top, 1), "y": round(height - height * v / top, 1), "v": v}
            for i, v in enumerate(values)]


def _histogram(block: dict, width: float, height: float) -> dict:
    bins = block["rank_change_histogram"]
    bars = _bars([b["count"] for b in bins], width, height)
    for bar, b in zip(bars, bins):
        bar["label"] = b["bin"]
        bar["kind"] = "zero" if b["bin"] == "0" else ("up" if not b["bin"].startswith(("-", "≤")) else "down")
    return {"bars": bars, "width": width, "height": height}


def _density(block: dict, size: float) -> dict:
    grid = block["rank_density"]
    top = max((v for row in grid for v in row), default=0) or 1
    n = len(grid)
    cell = size / n
    cells = [{"x": round(j * cell, 1), "y": round(i * cell, 1), "w": round(cell, 1), "v": v,
              "o": round(0.08 + 0.92 * v / top, 3) if v else 0}
             for i, row in enumerate(grid) for j, v in enumerate(row)]
    return {"cells": cells, "size": size, "n": n}


def _profile_rows(block: dict, n: str) -> list[dict]:
    rows = []
    top = block["top"][n]["profiles"]
    for dim, values in block["profiles"].items():
        for value, shares in values.items():
            t = top.get(dim, {}).get(value, {"a": 0.0, "b": 0.0})
            a, b = t["a"] or 0.0, t["b"] or 0.0
            rows.append({"dim": DIMENSION_LABELS.get(dim, dim),
                         "value": VALUE_LABELS.get(value) or CODE_FR.get(value)
                         or value.replace("_", " "),
                         "all_a": shares["a"], "top_a": t["a"], "top_b": t["b"], "diff": b - a})
    return rows


def _drivers(block: dict, labels: dict, limit: int = 10) -> list[dict]:
    crits = sorted((c for c in block["criteria"] if c["weight"]), key=lambda c: (-c["weight"], c["id"]))
    return [{**c, "label": labels.get(c["id"], c["id"])} for c in crits[:limit]]


def _headlines(s: dict) -> list[str]:
    t = s["territory"]
    n_last = str(s["top"][-1])
    n_first = str(s["top"][0])
    lines = [
        f"{fr_number(t['pairs_both'], 0)} couples (demande, commune demandée) sont notés par les "
        f"deux grilles ; {fr_number(t['pairs_a'] - t['pairs_both'], 0)} seulement par A, "
        f"{fr_number(t['pairs_b'] - t['pairs_both'], 0)} seulement par B.",
        f"Avec la grille B, {fr_number(t['moved_up'], 0)} couples montent, {fr_number(t['moved_down'], 0)} "
        f"descendent et {fr_number(t['unchanged'], 0)} gardent leur rang ; écart de rang moyen "
        f"{fr_number(t['mean_abs_rank_change'], 2)}, médian {fr_number(t['median_abs_rank_change'], 1)}.",
        f"Accord des deux classements : rho de Spearman {fr_number(t['spearman'], 3)}, tau-b de "
        f"Kendall {fr_number(t['kendall_tau_b'], 3)} (1 : même ordre).",
    ]
    tf = t["top"][n_first]
    lines.append(f"{fr_pct(tf['kept_share'])} du top {n_first} de A (par commune) reste dans le "
                 f"top {n_first} de B. Publics prioritaires (L441-1) dans le top {n_first} : "
                 f"{fr_pct(tf['priority_share_a'])} avec A, {fr_pct(tf['priority_share_b'])} avec B.")
    drivers = _drivers(t, s["criterion_labels"], 3)
    if drivers:
        lines.append("Ce qui fait bouger les rangs : " + " ; ".join(
            f"{d['label']} ({fr_pct(d['weight'], 0)} des écarts de points)" for d in drivers) + ".")
    else:
        lines.append("Aucun critère ne donne des points différents : les deux grilles notent pareil.")
    rows = [r for r in _profile_rows(t, n_last) if abs(r["diff"]) >= 0.005]
    gain = sorted(rows, key=lambda r: -r["diff"])[:3]
    loss = sorted(rows, key=lambda r: r["diff"])[:3]
    if any(r["diff"] > 0 for r in gain):
        lines.append(f"Profils plus présents dans le top {n_last} avec B : " + " ; ".join(
            f"{r['dim'].lower()} : {r['value']} ({fr_pct(r['top_a'])} → {fr_pct(r['top_b'])})" for r in gain if r["diff"] > 0) + ".")
    if any(r["diff"] < 0 for r in loss):
        lines.append("Profils moins présents : " + " ; ".join(
            f"{r['dim'].lower()} : {r['value']} ({fr_pct(r['top_a'])} → {fr_pct(r['top_b'])})" for r in loss if r["diff"] < 0) + ".")
    return lines


def render_report(summary: dict) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=fr_number, pct=fr_pct, signed=fr_signed)
    t = summary["territory"]
    communes = [{"code": code, "b": blk, "hist": _histogram(blk, 160, 50)}
                for code, blk in summary["communes"].items()]
    top_bars = [{"n": n, "a": t["top"][str(n)]["priority_share_a"] or 0.0,
                 "b": t["top"][str(n)]["priority_share_b"] or 0.0,
                 "kept": t["top"][str(n)]["kept_share"]} for n in summary["top"]]
    return env.get_template("compare.html").render(
        s=summary, t=t, headlines=_headlines(summary), hist=_histogram(t, 600, 140),
        density=_density(t, 220), top_bars=top_bars, drivers=_drivers(t, summary["criterion_labels"]),
        profile_n=str(summary["top"][-1]), profiles=_profile_rows(t, str(summary["top"][-1])),
        communes=communes)

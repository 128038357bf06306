"""Writing analysis results: CSV and Parquet tables, deterministic JSON, HTML from the Jinja2
templates of ``cotation/analysis/templates`` (autoescape on), inline SVG bar charts."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from cotation.info.positioning import value_text

_TEMPLATES = Path(__file__).parent / "templates"


def write_table(cols: dict[str, list], directory: Path, name: str,
                types: Mapping[str, pa.DataType] | None = None) -> list[str]:
    """``name.csv`` and ``name.parquet``; returns the file names written. ``types``: the
    Parquet type of columns whose values may all be missing (else inferred from the values,
    and a column with no value would be written as text)."""
    names = list(cols)
    n = len(cols[names[0]]) if names else 0
    with open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([value_text(cols[k][i]) for k in names])
    arrays = {}
    for k in names:
        values = cols[k]
        kinds = {type(v) for v in values if v is not None}
        typ = (types or {}).get(k) or (pa.float64() if kinds == {int, float} else None)
        arrays[k] = pa.array(values, type=typ or (None if kinds else pa.string()))
    pq.write_table(pa.table(arrays), directory / f"{name}.parquet")
    return [f"{name}.csv", f"{name}.parquet"]


def write_json(data: Any, path: Path) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")


def render(template: str, **context: Any) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["pct"] = pct
    env.filters["num"] = num
    return env.get_template(template).render(**context)


def pct(v: float | None, digits: int = 1) -> str:
    """French percentage: ``12,5 %`` (``–`` when unknown)."""
    if v is None:
        return "–"
    return f"{v:.{digits}f}".replace(".", ",") + "\u00a0%"


def num(v: float | int | None) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.2f}".replace(".", ",")
    return f"{int(v):,}".replace(",", "\u202f")


def bar_chart(labels: Sequence[str], values: Sequence[float], *, unit: str = "",
              reference: float | None = None, reference_label: str = "",
              targets: Sequence[float | None] | None = None, width: int = 640,
              bar_h: int = 18) -> str:
    """Horizontal bars as an SVG fragment (labels left, value right); an optional vertical
    reference line (e.g. what a random draw would give) and per-bar target ticks."""
    from markupsafe import escape

    top = 20 if reference is not None else 4
    h = top + len(values) * (bar_h + 6) + 4
    left, right = 170, 70
    span = max([*values, *(t for t in (targets or []) if t is not None),
                reference or 0, 1e-9])
    scale = (width - left - right) / span
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
           f'viewBox="0 0 {width} {h}" role="img">']
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = top + i * (bar_h + 6)
        out.append(f'<text x="{left - 6}" y="{y + bar_h - 5}" text-anchor="end" '
                   f'font-size="11">{escape(lab)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{max(v * scale, 0):.1f}" height="{bar_h}" '
                   'fill="#3b6ea8"/>')
        shown = f"{v:.1f}".replace(".", ",") + unit
        out.append(f'<text x="{left + max(v * scale, 0) + 4:.1f}" y="{y + bar_h - 5}" '
                   f'font-size="11">{escape(shown)}</text>')
        t = targets[i] if targets else None
        if t is not None:
            x = left + t * scale
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}" '
                       'stroke="#c0392b" stroke-width="3"/>')
    if reference is not None:
        x = left + reference * scale
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="14" y2="{h - 2}" stroke="#c0392b" '
                   'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 3:.1f}" y="11" font-size="10" fill="#c0392b">'
                   f'{escape(reference_label)}</text>')
    out.append("</svg>")
    return "".join(out)

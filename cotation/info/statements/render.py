"""A statement as a print-ready A4 HTML page, rendered from template files (Jinja2).

The page (``statement.html``), its style (``statement.css``) and two empty hooks
(``statement_header.html``, ``statement_footer.html``) ship in ``cotation/info/templates``; an
EPCI's folder (``templates=``) overrides any of them by name (docs/templates.md). The page is
self-contained (inline CSS, inline SVG, no external asset, no script) and adds no fact of its
own: every sentence comes from the statement.
"""
from __future__ import annotations

from pathlib import Path
from markupsafe import Markup

from cotation.info.statements.model import Histogram, Statement
from cotation.info.statements.wording import number_fr, ordinal_fr
from cotation.templating import check_templates, environment, escape_text as E, render

PAGE = "statement.html"
TEMPLATES = (PAGE, "statement.css", "statement_header.html", "statement_footer.html")


def statement_environment(templates: str | Path | None = None):
    """The Jinja2 environment of statements (shipped templates, ``templates`` folder first)."""
    return environment("cotation.info", None if templates is None else str(templates), E,
                       (("histogram_svg", svg_histogram), ("chart_scale", chart_scale),
                        ("number_fr", number_fr), ("ordinal_fr", ordinal_fr)))


def check_statement_templates(templates: str | Path | None = None) -> None:
    """Compile the statement templates now; raises :class:`~cotation.templating.TemplatesError`
    (file and line) when one cannot be used."""
    check_templates(statement_environment(templates), TEMPLATES)


def render_html(doc: Statement, templates: str | Path | None = None) -> str:
    """The statement as a self-contained A4 HTML page, from the statement only."""
    return render(statement_environment(templates), PAGE, doc=doc)


def chart_scale(doc: Statement) -> tuple[float, float, int] | None:
    """One scale for every chart of a statement: (lowest edge, highest edge, tallest bar)."""
    hs = [p.histogram for p in doc.positions if p.histogram is not None]
    if not hs:
        return None
    return (min(h.edges[0] for h in hs), max(h.edges[-1] for h in hs),
            max(max(h.counts) for h in hs) or 1)


def svg_histogram(hist: Histogram, uid: str, scale: tuple[float, float, int] | None = None) -> Markup:
    """The cell's score distribution as a small inline SVG on the statement's shared ``scale``
    (points from, points to, tallest bar); the demandeur's bin is dark, and the red "vous" marker
    sits under the axis, where no bar can hide it.

    Geometry, not wording: the only texts are the caption (from the statement) and "vous". Text
    is 12 units high in a 150-unit wide chart printed 40 mm wide: about 9 pt.
    """
    counts, edges, own = hist.counts, hist.edges, hist.own_bin
    lo, hi, peak = scale if scale is not None else (edges[0], edges[-1], max(counts) or 1)
    W, H, left, right, top, base = 150.0, 28.0, 2.0, 2.0, 1.0, 16.0
    span = (hi - lo) or 1.0
    x_of = lambda v: left + (W - left - right) * (v - lo) / span      # noqa: E731
    ph = base - top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W:.0f} {H:.0f}" role="img" '
             f'aria-labelledby="{E(uid)}"><title id="{E(uid)}">{E(hist.caption)}</title>']
    for k, c in enumerate(counts):
        if not c:
            continue
        h = ph * c / peak
        x0, x1 = x_of(edges[k]), x_of(edges[k + 1])
        fill = "#1d4f91" if k == own else "#b9c6d6"
        parts.append(f'<rect x="{x0 + 0.3:.2f}" y="{base - h:.2f}" width="{max(x1 - x0 - 0.6, 0.5):.2f}" '
                     f'height="{h:.2f}" fill="{fill}"/>')
    parts.append(f'<line x1="{left:.2f}" y1="{base:.2f}" x2="{W - right:.2f}" y2="{base:.2f}" '
                 'stroke="#333" stroke-width="0.6"/>')
    if 0 <= own < len(counts):
        cx = (x_of(edges[own]) + x_of(edges[own + 1])) / 2
        parts.append(f'<path d="M{cx:.2f} {base + 0.8:.2f} L{cx - 3:.2f} {base + 5.5:.2f} '
                     f'L{cx + 3:.2f} {base + 5.5:.2f} Z" fill="#c0392b"/>')
        anchor = "start" if cx < 20 else ("end" if cx > W - 20 else "middle")
        tx = cx - 3 if anchor == "start" else (cx + 3 if anchor == "end" else cx)
        parts.append(f'<text x="{tx:.2f}" y="{H - 0.5:.2f}" font-size="12" text-anchor="{anchor}" '
                     'fill="#c0392b" font-weight="bold">vous</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

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
from cotation.info.statements.wording import number_fr
from cotation.templating import check_templates, environment, escape_text as E, render

PAGE = "statement.html"
TEMPLATES = (PAGE, "statement.css", "statement_header.html", "statement_footer.html")


def statement_environment(templates: str | Path | None = None):
    """The Jinja2 environment of statements (shipped templates, ``templates`` folder first)."""
    return environment("cotation.info", None if templates is None else str(templates), E,
                       (("histogram_svg", svg_histogram),))


def check_statement_templates(templates: str | Path | None = None) -> None:
    """Compile the statement templates now; raises :class:`~cotation.templating.TemplatesError`
    (file and line) when one cannot be used."""
    check_templates(statement_environment(templates), TEMPLATES)


def render_html(doc: Statement, templates: str | Path | None = None) -> str:
    """The statement as a self-contained A4 HTML page, from the statement only."""
    return render(statement_environment(templates), PAGE, doc=doc)


def svg_histogram(hist: Histogram, uid: str) -> Markup:
    """The cell's score distribution as an inline SVG; the demandeur's bin is dark.

    Geometry, not wording: the only texts are the caption (from the statement), the axis
    figures and two fixed labels.
    """
    counts, edges, own = hist.counts, hist.edges, hist.own_bin
    # A small viewBox, so that the 8-unit labels print at about 7 pt in a 58 mm wide chart.
    W, H, left, right, top, bottom = 190.0, 76.0, 16.0, 5.0, 12.0, 17.0
    nb = len(counts)
    bw = (W - left - right) / nb
    peak = max(counts) or 1
    ph = H - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W:.0f} {H:.0f}" role="img" '
             f'aria-labelledby="{E(uid)}"><title id="{E(uid)}">{E(hist.caption)}</title>']
    for k, c in enumerate(counts):
        h = ph * c / peak
        x = left + k * bw
        fill = "#1d4f91" if k == own else "#b9c6d6"
        parts.append(f'<rect x="{x + 0.4:.2f}" y="{top + ph - h:.2f}" width="{max(bw - 0.8, 0.5):.2f}" '
                     f'height="{h:.2f}" fill="{fill}"/>')
    cx = left + (own + 0.5) * bw
    oh = ph * counts[own] / peak if 0 <= own < nb else 0
    ty = top + ph - oh - 2
    parts.append(f'<path d="M{cx - 3:.2f} {ty - 5:.2f} L{cx + 3:.2f} {ty - 5:.2f} L{cx:.2f} {ty:.2f} Z" '
                 f'fill="#c0392b"/>')
    anchor = "start" if cx < left + 20 else ("end" if cx > W - right - 20 else "middle")
    parts.append(f'<text x="{cx:.2f}" y="{max(ty - 6, 8):.2f}" font-size="9" text-anchor="{anchor}" '
                 'fill="#c0392b" font-weight="bold" stroke="#fff" stroke-width="2.5" '
                 'paint-order="stroke">vous</text>')
    base = top + ph
    parts.append(f'<line x1="{left:.2f}" y1="{base:.2f}" x2="{W - right:.2f}" y2="{base:.2f}" '
                 'stroke="#333" stroke-width="0.6"/>')
    parts.append(f'<text x="{left - 2:.2f}" y="{top + 3:.2f}" font-size="8" text-anchor="end" '
                 f'fill="#333">{peak}</text>')
    parts.append(f'<text x="{left - 2:.2f}" y="{base:.2f}" font-size="8" text-anchor="end" '
                 'fill="#333">0</text>')
    for x, label, anchor in ((left, edges[0], "start"), (W - right, edges[-1], "end")):
        parts.append(f'<text x="{x:.2f}" y="{base + 8:.2f}" font-size="8" text-anchor="{anchor}" '
                     f'fill="#333">{E(number_fr(label))}</text>')
    parts.append(f'<text x="{(left + W - right) / 2:.2f}" y="{base + 16:.2f}" font-size="8" '
                 'text-anchor="middle" fill="#333">points (hauteur : nombre de demandes)</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

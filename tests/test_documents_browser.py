"""The public documents in a real browser: the statement of the bundled two-typologie demande, the
published grid and a flux bilan, printed to PDF by headless Chromium (cotation.pdf).

Checks: A4 pages (the bilan's breakdowns may be A4 landscape), the statement on at most 2 pages,
no horizontal overflow at A4 width, commune names present, no raw code in the text. Skipped when
Chromium is not installed (CI installs the distribution's package).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cotation.pdf import find_chromium, html_to_pdf

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2025, 6, 30)
DEMANDE = "069052517266M00005"        # Lyon, T1 and T2, four communes (tools/screenshots.py)
A4 = (595.28, 841.89)
A4_WIDTH_PX = 794

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.skip = 0
        self.nodes: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("head", "style", "script", "title"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("head", "style", "script", "title"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def visible_text(page: str) -> str:
    p = _Text()
    p.feed(page)
    return " ".join(p.nodes)


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, Path]:
    from cotation.data.sources import read_demandes
    from cotation.data.canonical import read_attributions_csv
    from cotation.engine import score
    from cotation.grid import load_grid
    from cotation.info.positioning import position
    from cotation.info.publication import publication_html
    from cotation.info.statements import render_html, statement_for

    tmp = tmp_path_factory.mktemp("documents")
    grid = load_grid(ROOT / "grids" / "lyon-metropole.yaml")
    table = read_demandes(str(ROOT / "examples" / "data" / "demandes.csv")).table
    leases, _rejects, _n = read_attributions_csv(str(ROOT / "examples" / "data" / "attributions.csv"))
    st = score(grid.ir, table, TODAY, explain=True)
    pos = position(grid.ir, st, table, leases, TODAY)
    doc = statement_for(pos, table.index_of(DEMANDE))
    assert doc is not None and len(doc.positions) == 8     # 2 typologies x 4 communes
    (tmp / "statement.html").write_text(render_html(doc), encoding="utf-8")
    (tmp / "publication.html").write_text(publication_html(grid), encoding="utf-8")
    flux = ROOT / "examples" / "flux"
    subprocess.run([sys.executable, "-m", "cotation.cli", "flux", "bilan",
                    "--logements", str(flux / "logements.csv"), "--conventions", str(flux / "conventions.yaml"),
                    "--evenements", str(flux / "evenements.csv"), "--year", "2025", "--today", "2026-02-15",
                    "-o", str(tmp / "bilan")], check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    (tmp / "bilan.html").write_bytes((tmp / "bilan" / "bilan.html").read_bytes())
    names = ("statement", "publication", "bilan")
    engine = html_to_pdf([(tmp / f"{n}.html", tmp / f"{n}.pdf") for n in names], jobs=3)
    assert engine == "chromium"                     # these tests run only where Chromium is
    return {n: tmp / n for n in names}


def _pages(pdf: bytes) -> list[tuple[float, float]]:
    """The page boxes of a PDF (one MediaBox per page as Chromium writes them)."""
    boxes = [(float(w), float(h)) for w, h in
             re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)]
    count = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert count >= 1 and len(boxes) >= count, (count, boxes)
    return boxes[:count] if len(boxes) > count else boxes


def _is_a4(box: tuple[float, float]) -> bool:
    w, h = sorted(box)
    return abs(w - A4[0]) < 2 and abs(h - A4[1]) < 2


@pytest.mark.parametrize("name", ["statement", "publication", "bilan"])
def test_prints_on_a4(documents, name):
    data = documents[name].with_suffix(".pdf").read_bytes()
    assert data.startswith(b"%PDF")
    boxes = _pages(data)
    assert all(_is_a4(b) for b in boxes), boxes
    if name != "bilan":
        assert all(w < h for w, h in boxes)            # portrait
    if name == "statement":
        assert len(boxes) <= 2, len(boxes)             # two typologies x four communes: one sheet


def test_pdf_is_reproducible(documents, tmp_path):
    html = documents["publication"].with_suffix(".html")
    again = tmp_path / "again.pdf"
    html_to_pdf([(html, again)])
    assert again.read_bytes() == documents["publication"].with_suffix(".pdf").read_bytes()


# Widths of the printable area at 96 px per inch: A4 portrait and landscape less the bilan's
# margins (11 mm a side), and the statement's and published grid's screen width (A4).
PORTRAIT_PX, LANDSCAPE_PX = 710, 1039


def _overflow(html: str, width: int, tmp: Path, landscape: bool) -> dict:
    """Laid out at ``width`` px: elements past the right edge (only those of the bilan's
    landscape sections when ``landscape``, only the others otherwise)."""
    probe = tmp / f"probe{width}.html"
    script = """<script>window.addEventListener('load', () => {
      let wide = [];
      for (const el of document.querySelectorAll('body *')) {
        if (!!el.closest('.landscape') !== LANDSCAPE) continue;
        const r = el.getBoundingClientRect();
        if (r.right > document.documentElement.clientWidth + 1) wide.push(el.tagName);
      }
      const pre = document.createElement('pre'); pre.id = 'measure';
      pre.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth,
                                        client: document.documentElement.clientWidth,
                                        wide: wide.slice(0, 5), n: wide.length});
      document.body.appendChild(pre);
    });</script></body>""".replace("LANDSCAPE", "true" if landscape else "false")
    probe.write_text(html.replace("</body>", script), encoding="utf-8")
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--user-data-dir={tmp / 'profile'}", f"--window-size={width},1123",
                          "--virtual-time-budget=2000", "--dump-dom", probe.as_uri()],
                         capture_output=True, timeout=120, check=True)
    m = re.search(r'<pre id="measure">(.*?)</pre>', out.stdout.decode("utf-8"), re.S)
    assert m, out.stdout[-2000:]
    return json.loads(m.group(1).replace("&quot;", '"'))


@pytest.mark.parametrize("name", ["statement", "publication", "bilan"])
def test_no_horizontal_overflow(documents, name, tmp_path):
    html = documents[name].with_suffix(".html").read_text(encoding="utf-8")
    width = A4_WIDTH_PX if name != "bilan" else PORTRAIT_PX
    r = _overflow(html, width, tmp_path, landscape=False)
    assert r["n"] == 0, r
    if name == "bilan":         # the breakdown tables print on A4 landscape pages
        assert 'class="landscape"' in html
        r = _overflow(html, LANDSCAPE_PX, tmp_path, landscape=True)
        assert r["n"] == 0, r


# snake_case or UPPER_CASE identifiers, English booleans, a bare "commune 69123"
_RAW = re.compile(r"\b([a-z]+_[a-z0-9_]+|[A-Z]{2,}_[A-Z0-9_]+|None|True|False|null|nan)\b|commune \d{5}")


@pytest.mark.parametrize("name,communes", [
    ("statement", ("Bron (69029)", "Vaulx-en-Velin (69256)", "Lyon (69123)", "Vénissieux (69259)")),
    ("publication", ("Lyon (69123)", "Villeurbanne (69266)", "Saint-Priest (69290)")),
    ("bilan", ("Les Adrets-de-l'Estérel (83001)", "Bauduen (83015)")),
])
def test_names_not_codes(documents, name, communes):
    text = visible_text(documents[name].with_suffix(".html").read_text(encoding="utf-8"))
    for c in communes:
        assert c in text, c
    raw = sorted({m.group(0) for m in _RAW.finditer(text)})
    assert not raw, raw


def test_one_browser_prints_many_and_falls_back(documents, tmp_path, monkeypatch):
    """In bulk, one Chromium prints several documents over the DevTools pipe; the bytes are those
    of one --print-to-pdf process per document, and a Chromium that refuses the pipe still
    gets every document printed (one process each)."""
    from cotation import pdf
    htmls = [documents[n].with_suffix(".html") for n in ("statement", "publication", "statement")]
    pairs = [(h, tmp_path / f"{k}.pdf") for k, h in enumerate(htmls)]
    seen: list[tuple[int, int]] = []
    assert html_to_pdf(pairs, jobs=1, progress=lambda d, t: seen.append((d, t))) == "chromium"
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    for (h, out) in pairs:
        assert out.read_bytes() == h.with_suffix(".pdf").read_bytes()

    class Refused:
        def __init__(self, *a, **k):
            raise pdf._BrowserError("no pipe")
    monkeypatch.setattr(pdf, "_PipeBrowser", Refused)
    again = [(h, tmp_path / f"fallback{k}.pdf") for k, h in enumerate(htmls)]
    for _h, out in again:
        out.write_bytes(b"stale")                    # an earlier run's file is not "done"
    html_to_pdf(again, jobs=2)
    for (h, out) in again:
        assert out.read_bytes() == h.with_suffix(".pdf").read_bytes()

"""A statement in a real browser: headless Chromium loads it, prints it to PDF and screenshots it.

Skipped when Chromium is not installed (CI installs the distribution's package).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cotation.engine import score
from cotation.grid import load_grid
from cotation.info.statements import render_html, statement_for
from cotation.info.positioning import position
from cotation.data.synth import generate_attributions, generate_demandes

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2025, 6, 30)
A4_POINTS = (595.28, 841.89)
A4_WIDTH_PX = 794        # 210 mm at 96 px per inch


def _chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser",
                 "google-chrome"):
        if name and (os.path.isfile(name) and os.access(name, os.X_OK) or shutil.which(name)):
            return shutil.which(name) or name
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def statement(tmp_path_factory):
    """A statement of the Lyon example grid for a demande with two positions (commune × typologie)."""
    grid = load_grid(ROOT / "grids" / "lyon-metropole.yaml")
    communes = grid.ir.communes
    table = generate_demandes(1500, seed=11, today=TODAY, territories=[communes])
    leases = generate_attributions(1200, seed=11, today=TODAY, territories=[communes])
    st = score(grid.ir, table, TODAY, explain=True)
    pos = position(grid.ir, st, table, leases, TODAY)
    names = {"69123": "Lyon", "69266": "Villeurbanne", "69259": "Vénissieux", "69256": "Vaulx-en-Velin",
             "69029": "Bron", "69290": "Saint-Priest"}
    for d in sorted(set(st.row.tolist())):
        doc = statement_for(pos, d, names)
        if len(doc.positions) == 2 and all(p.histogram for p in doc.positions):
            break
    tmp = tmp_path_factory.mktemp("browser")
    page = tmp / "statement.html"
    page.write_text(render_html(doc), encoding="utf-8")
    return tmp, page, doc


def test_page_title_and_chart_in_the_dom(statement):
    tmp, page, doc = statement
    # Measure the laid-out page from inside the browser; the statement itself has no script.
    probe = tmp / "probe.html"
    script = """<script>
    window.addEventListener('load', () => {
      const r = {title: document.title,
                 svgs: document.querySelectorAll('td.chart svg').length,
                 bars: document.querySelectorAll('td.chart svg rect').length,
                 svgHeight: Math.round(document.querySelector('td.chart svg').getBoundingClientRect().height),
                 scrollWidth: document.documentElement.scrollWidth,
                 clientWidth: document.documentElement.clientWidth};
      const pre = document.createElement('pre'); pre.id = 'measure';
      pre.textContent = JSON.stringify(r); document.body.appendChild(pre);
    });
    </script></body>"""
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script), encoding="utf-8")
    out = run_chromium(tmp, f"--window-size={A4_WIDTH_PX},1123", "--virtual-time-budget=2000",
                       "--dump-dom", probe.as_uri())
    dom = out.stdout.decode("utf-8")
    m = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    r = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert r["title"] == f"{doc.title} — n° {doc.numero_unique}"
    assert r["svgs"] == 2 and r["bars"] >= 2 and r["svgHeight"] > 20      # a row of the positions table
    assert r["scrollWidth"] <= r["clientWidth"] <= A4_WIDTH_PX     # nothing overflows an A4 width


def _pdf_pages(data: bytes) -> tuple[int, list[tuple[float, float]]]:
    boxes = [(float(w), float(h)) for w, h in
             re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)]
    count = re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data, re.S) or \
        re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data, re.S)
    return (int(count[0]) if count else len(re.findall(rb"/Type\s*/Page\b(?!s)", data))), boxes


def test_prints_on_a4(statement):
    tmp, page, _ = statement
    pdf = tmp / "statement.pdf"
    run_chromium(tmp, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages, boxes = _pdf_pages(data)
    assert boxes and all(abs(w - A4_POINTS[0]) < 2 and abs(h - A4_POINTS[1]) < 2 for w, h in boxes)
    assert 1 <= pages <= 2, pages        # two positions and 24 criteria fit on one sheet, recto verso


def test_screenshot(statement):
    tmp, page, _ = statement
    png = tmp / "statement.png"
    run_chromium(tmp, f"--window-size={A4_WIDTH_PX},1123", "--hide-scrollbars", f"--screenshot={png}",
                 page.as_uri())
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (A4_WIDTH_PX, 1123)
    if os.environ.get("COTATION_KEEP_SCREENSHOT"):      # to look at it: set this to a path
        shutil.copy(png, os.environ["COTATION_KEEP_SCREENSHOT"])

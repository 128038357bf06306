"""PNG screenshots of each public document, for a reviewer to look at (not committed).

    python tools/screenshots.py OUTDIR

Writes into OUTDIR, from the bundled examples (grids/lyon-metropole.yaml, examples/data,
examples/flux), with the date 2025-06-30:
  statement.html/.pdf/.png   the statement of the bundled two-typologie demande (069052517266M00005)
  publication.html/.pdf/.png the published Lyon grid
  bilan.html/.png            the flux bilan of examples/flux (year 2025, dated 2026-02-15)
Each PNG is the whole document at A4 width (794 px), as long as it needs. Needs Chromium.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMANDE = "069052517266M00005"
TODAY = "2025-06-30"


def cli(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "cotation.cli", *args], cwd=ROOT, env=env, check=True)


def screenshot(chromium: str, html: Path, png: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--user-data-dir={profile}"]
        # First measure the page's height, then shoot it whole.
        probe = html.with_suffix(".probe.html")
        probe.write_text(html.read_text(encoding="utf-8").replace(
            "</body>", "<script>document.title=String(document.documentElement.scrollHeight)"
            "</script></body>"), encoding="utf-8")
        dom = subprocess.run(base + ["--window-size=794,1123", "--dump-dom", probe.as_uri()],
                             capture_output=True, check=True, timeout=120).stdout.decode()
        probe.unlink()
        height = int(dom.split("<title>", 1)[1].split("</title>", 1)[0]) if "<title>" in dom else 3000
        subprocess.run(base + [f"--window-size=794,{min(height + 20, 16000)}", f"--screenshot={png}",
                               html.as_uri()], capture_output=True, check=True, timeout=120)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from cotation.pdf import find_chromium
    chromium = find_chromium()
    if chromium is None:
        print("Chromium est introuvable : installer le paquet chromium", file=sys.stderr)
        return 1
    out = Path(argv[0]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    st = out / "statements"
    cli("statements", "grids/lyon-metropole.yaml", "examples/data/demandes.csv",
        "examples/data/attributions.csv", "--today", TODAY, "--ids", DEMANDE, "--format", "html,pdf",
        "-o", str(st))
    for ext in ("html", "pdf"):
        os.replace(st / f"{DEMANDE}.{ext}", out / f"statement.{ext}")
    cli("publish", "grids/lyon-metropole.yaml", "-o", str(out / "publication.html"))
    cli("publish", "grids/lyon-metropole.yaml", "-o", str(out / "publication.pdf"))
    flux = ROOT / "examples" / "flux"
    cli("flux", "bilan", "--logements", str(flux / "logements.csv"), "--conventions",
        str(flux / "conventions.yaml"), "--evenements", str(flux / "evenements.csv"), "--year", "2025",
        "--today", "2026-02-15", "-o", str(out / "bilan"))
    found = sorted((out / "bilan").glob("*.html"))
    if found:
        os.replace(found[0], out / "bilan.html")
    for name in ("statement", "publication", "bilan"):
        html = out / f"{name}.html"
        if html.exists():
            screenshot(chromium, html, out / f"{name}.png")
            print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

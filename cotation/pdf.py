"""HTML documents to PDF, in bulk: the system's headless Chromium when present, else WeasyPrint
(the optional extra ``cotation[pdf]``).

Why Chromium first: the documents are designed and tested in Chromium (tests/
test_statement_browser.py), it prints CSS grid, flexbox and inline SVG exactly as a reception
desk's browser shows them, and it needs nothing from PyPI. WeasyPrint is the fallback for
machines without a browser (pure Python, but it ignores some layout features, so pages may break
slightly differently). ``COTATION_PDF=chromium|weasyprint`` forces one.

Each document is converted by its own Chromium process (``--print-to-pdf``), ``jobs`` at a time.
The creation and modification dates Chromium writes are replaced by a fixed date (same length,
so the file's offsets stay valid): the same HTML gives the same PDF bytes on a given Chromium.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120


class PdfError(RuntimeError):
    """No PDF engine, or a document that could not be converted; the message is French."""


def find_chromium() -> str | None:
    """The Chromium executable (``CHROMIUM`` environment variable first), or None."""
    for name in (os.environ.get("CHROMIUM"), *CHROMIUM_NAMES):
        if not name:
            continue
        found = shutil.which(name)
        if found:
            return found
    return None


def _has_weasyprint() -> bool:
    try:
        import weasyprint  # noqa: F401
    except Exception:       # missing, or its system libraries (Pango) missing
        return False
    return True


def pdf_engine() -> str:
    """'chromium' or 'weasyprint': which engine :func:`html_to_pdf` will use; raises PdfError."""
    forced = os.environ.get("COTATION_PDF", "").strip().lower()
    if forced not in ("", "chromium", "weasyprint"):
        raise PdfError(f"COTATION_PDF vaut « {forced} » : choisir chromium ou weasyprint")
    if forced in ("", "chromium") and find_chromium():
        return "chromium"
    if forced in ("", "weasyprint") and _has_weasyprint():
        return "weasyprint"
    raise PdfError("impossible de produire un PDF : installer Chromium (paquet « chromium ») ou "
                   "WeasyPrint (pip install 'cotation[pdf]'), ou demander le HTML")


_DATE = re.compile(rb"/(CreationDate|ModDate)\s*\(D:([0-9]{14})([^)]*)\)")


def _fixed_dates(data: bytes) -> bytes:
    """Creation/modification dates set to 2000-01-01 00:00:00 UTC, same byte length."""
    def repl(m: re.Match) -> bytes:
        tail = b"+00'00'" if len(m.group(3)) == 7 else m.group(3)
        return b"/" + m.group(1) + b" (D:20000101000000" + tail + b")"
    return _DATE.sub(repl, data)


def _chromium_one(chromium: str, html: Path, pdf: Path, profile: str) -> None:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
           f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
           html.resolve().as_uri()]
    try:
        subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=True, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PdfError(f"{html.name} : Chromium n'a pas fini en {TIMEOUT_S} s") from None
    except (subprocess.CalledProcessError, OSError) as e:
        raise PdfError(f"{html.name} : Chromium a échoué ({e})") from None
    if not pdf.is_file() or not pdf.read_bytes()[:5] == b"%PDF-":
        raise PdfError(f"{html.name} : Chromium n'a pas écrit de PDF")
    pdf.write_bytes(_fixed_dates(pdf.read_bytes()))


def _weasyprint_one(html: Path, pdf: Path) -> None:
    import weasyprint
    try:
        weasyprint.HTML(filename=str(html)).write_pdf(str(pdf))
    except Exception as e:      # noqa: BLE001 - any failure of the renderer, located by file
        raise PdfError(f"{html.name} : WeasyPrint a échoué ({type(e).__name__})") from None


def html_to_pdf(pairs: Sequence[tuple[Path, Path]], *, jobs: int = 1,
                progress: Callable[[int, int], None] | None = None) -> str:
    """Convert each (html, pdf) pair, ``jobs`` at a time; return the engine used.

    Raises :class:`PdfError` (French message naming the file) on the first failure.
    """
    engine = pdf_engine()
    total = len(pairs)
    if progress is not None:
        progress(0, total)
    with tempfile.TemporaryDirectory(prefix="cotation-pdf-") as tmp:
        if engine == "chromium":
            chromium = find_chromium()
            assert chromium is not None

            def one(k: int) -> None:
                html, pdf = pairs[k]
                # One profile per worker slot would race; one per document is simplest and safe.
                _chromium_one(chromium, Path(html), Path(pdf), os.path.join(tmp, f"p{k}"))
                shutil.rmtree(os.path.join(tmp, f"p{k}"), ignore_errors=True)
        else:
            def one(k: int) -> None:
                _weasyprint_one(Path(pairs[k][0]), Path(pairs[k][1]))
        done = 0
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for _ in pool.map(one, range(total)):
                done += 1
                if progress is not None:
                    progress(done, total)
    return engine

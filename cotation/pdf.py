"""HTML documents to PDF, in bulk: the system's headless Chromium when present, else WeasyPrint
(the optional extra ``cotation[pdf]``).

Why Chromium first: the documents are designed and tested in Chromium (tests/
test_statement_browser.py), it prints CSS grid, flexbox and inline SVG exactly as a reception
desk's browser shows them, and it needs nothing from PyPI. WeasyPrint is the fallback for
machines without a browser (pure Python, but it ignores some layout features, so pages may break
slightly differently). ``COTATION_PDF=chromium|weasyprint`` forces one.

In bulk, each of ``jobs`` workers starts ONE headless Chromium and prints its share of the
documents through the DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON messages
separated by NUL bytes on file descriptors 3 and 4, no network port opened): starting Chromium
costs about a second, printing a page a tenth of that, so hundreds of statements no longer pay
one browser start each. A single document (or a Chromium that refuses the pipe) is printed with
``--print-to-pdf``, one process per document. Both paths print with the page size of the CSS
``@page`` rules and the backgrounds. The creation and modification dates Chromium writes are
replaced by a fixed date (same length, so the file's offsets stay valid): the same HTML gives
the same PDF bytes on a given Chromium.
"""
from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from cotation.i18n import _

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
        raise PdfError(_("COTATION_PDF is « {value} »: choose chromium or weasyprint").format(value=forced))
    if forced in ("", "chromium") and find_chromium():
        return "chromium"
    if forced in ("", "weasyprint") and _has_weasyprint():
        return "weasyprint"
    raise PdfError(_("cannot produce a PDF: install Chromium (package « chromium ») or "
                     "WeasyPrint (pip install 'cotation[pdf]'), or ask for HTML"))


_DATE = re.compile(rb"/(CreationDate|ModDate)\s*\(D:([0-9]{14})([^)]*)\)")


_NODE_ID = re.compile(rb"\(node([0-9]{8})\)")


def _fixed_dates(data: bytes) -> bytes:
    """Same document, same bytes: creation/modification dates set to 2000-01-01 00:00:00 UTC,
    and the structure-element ids of a tagged PDF (``(node00000027)``, numbered by the
    renderer's DOM-node counter, which depends on what the browser printed before) renumbered
    1, 2, 3… in their original order, so the ID name tree stays sorted. Every replacement has
    the length of what it replaces, so the file's offsets stay valid."""
    def repl(m: re.Match) -> bytes:
        tail = b"+00'00'" if len(m.group(3)) == 7 else m.group(3)
        return b"/" + m.group(1) + b" (D:20000101000000" + tail + b")"
    data = _DATE.sub(repl, data)
    rank = {n: k for k, n in enumerate(sorted({int(x) for x in _NODE_ID.findall(data)}), 1)}
    return _NODE_ID.sub(lambda m: b"(node%08d)" % rank[int(m.group(1))], data)


class _BrowserError(OSError):
    """The pipe to Chromium failed (not the document, not the disk)."""


def _chromium_one(chromium: str, html: Path, pdf: Path, profile: str) -> None:
    cmd = [chromium, *_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
           f"--print-to-pdf={pdf}", html.resolve().as_uri()]
    try:
        subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=True, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PdfError(_("{name}: Chromium did not finish in {seconds} s").format(
            name=html.name, seconds=TIMEOUT_S)) from None
    except subprocess.CalledProcessError as e:
        last = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise PdfError(_("{name}: Chromium failed ({reason})").format(
            name=html.name, reason=f"code {e.returncode}; {last[0][:200]}")) from None
    except OSError as e:
        raise PdfError(_("{name}: Chromium failed ({reason})").format(
            name=html.name, reason=e.strerror or e)) from None
    data = pdf.read_bytes() if pdf.is_file() else b""
    if data[:5] != b"%PDF-":
        raise PdfError(_("{name}: Chromium wrote no PDF").format(name=html.name))
    pdf.write_bytes(_fixed_dates(data))


_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions")


class _PipeBrowser:
    """One headless Chromium driven over ``--remote-debugging-pipe`` (DevTools protocol)."""

    def __init__(self, chromium: str, profile: str) -> None:
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()
        # The child reads commands on fd 3 and writes answers on fd 4: a shell places the pipe
        # ends there and execs Chromium (no preexec_fn, which is unsafe with threads).
        try:
            self._proc = subprocess.Popen(
                ["/bin/sh", "-c", f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w}', chromium,
                 *_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w))
        except OSError as e:
            for fd in (to_child_r, from_child_w, self._w, self._r):
                os.close(fd)
            raise _BrowserError(str(e)) from None
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next = 0
        self._reader = os.fdopen(self._r, "rb", buffering=0)

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._w, json.dumps(message).encode() + b"\0")
        except OSError as e:
            raise _BrowserError(str(e)) from None
        return self._next

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise _BrowserError(f"Chromium did not answer in {TIMEOUT_S} s")
            chunk = self._reader.read(1 << 20)
            if not chunk:
                raise _BrowserError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             until_event: str | None = None) -> dict:
        """Send a command; return its result (after ``until_event`` too, when given)."""
        want = self._send(method, params, session)
        deadline = time.monotonic() + TIMEOUT_S
        result = None
        seen = until_event is None
        while result is None or not seen:
            m = self._read(deadline)
            if m.get("id") == want:
                if "error" in m:
                    raise _BrowserError(f"{method}: {m['error'].get('message')}")
                result = m.get("result", {})
            elif until_event and m.get("method") == until_event and m.get("sessionId") == session:
                seen = True
        return result

    def print_pdf(self, html: Path) -> bytes:
        url = html.resolve().as_uri()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            self.call("Page.enable", session=session)
            self.call("Page.navigate", {"url": url}, session=session, until_event="Page.loadEventFired")
            # A load event of the initial about:blank could come first: wait until the document
            # itself is complete.
            deadline = time.monotonic() + TIMEOUT_S
            probe = {"expression": "document.readyState == 'complete' && location.href != 'about:blank'",
                     "returnByValue": True}
            while self.call("Runtime.evaluate", probe, session=session).get(
                    "result", {}).get("value") is not True:
                if time.monotonic() > deadline:
                    raise _BrowserError(f"{html.name} did not load in {TIMEOUT_S} s")
                time.sleep(0.02)
            data = self.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True,
                                                 "displayHeaderFooter": False}, session=session)["data"]
        finally:
            self.call("Target.closeTarget", {"targetId": target})
        return base64.b64decode(data)

    def close(self) -> None:
        try:
            self._send("Browser.close")
        except _BrowserError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._w)
        self._reader.close()


def _chromium_batch(chromium: str, pairs: Sequence[tuple[Path, Path]], profile: str,
                    done: Callable[[], None]) -> None:
    """Print ``pairs`` with one Chromium; falls back to one process per document if the pipe
    cannot be used (an old or restricted Chromium)."""
    printed: set[int] = set()
    try:
        browser = _PipeBrowser(chromium, profile)
    except _BrowserError:
        browser = None
    if browser is not None:
        try:
            for k, (html, pdf) in enumerate(pairs):
                data = browser.print_pdf(Path(html))
                if data[:5] != b"%PDF-":
                    raise _BrowserError("not a PDF")
                Path(pdf).write_bytes(_fixed_dates(data))     # a disk error stops the run
                printed.add(k)
                done()
        except _BrowserError:
            pass
        finally:
            browser.close()
    for k, (html, pdf) in enumerate(pairs):
        if k not in printed:
            _chromium_one(chromium, Path(html), Path(pdf), f"{profile}-{k}")
            shutil.rmtree(f"{profile}-{k}", ignore_errors=True)
            done()


def _weasyprint_one(html: Path, pdf: Path) -> None:
    import weasyprint
    try:
        weasyprint.HTML(filename=str(html)).write_pdf(str(pdf))
    except Exception as e:      # noqa: BLE001 - any failure of the renderer, located by file
        raise PdfError(_("{name}: WeasyPrint failed ({reason})").format(
            name=html.name, reason=type(e).__name__)) from None


def html_to_pdf(pairs: Sequence[tuple[Path, Path]], *, jobs: int = 1,
                progress: Callable[[int, int], None] | None = None) -> str:
    """Convert each (html, pdf) pair, ``jobs`` workers at a time; return the engine used.

    Raises :class:`PdfError` (French message naming the file) on the first failure.
    """
    engine = pdf_engine()
    total = len(pairs)
    lock = threading.Lock()
    count = [0]

    def done() -> None:
        with lock:
            count[0] += 1
            if progress is not None:
                progress(count[0], total)

    if progress is not None:
        progress(0, total)
    workers = max(1, min(jobs, total))
    shares = [list(pairs[k::workers]) for k in range(workers)]
    with tempfile.TemporaryDirectory(prefix="cotation-pdf-") as tmp:
        if engine == "chromium":
            chromium = find_chromium()
            assert chromium is not None
            if total == 1:
                _chromium_one(chromium, Path(pairs[0][0]), Path(pairs[0][1]), os.path.join(tmp, "p"))
                done()
                return engine

            def run(k: int) -> None:
                _chromium_batch(chromium, shares[k], os.path.join(tmp, f"w{k}"), done)
        else:

            def run(k: int) -> None:
                for html, pdf in shares[k]:
                    _weasyprint_one(Path(html), Path(pdf))
                    done()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(run, range(workers)):
                pass
    return engine

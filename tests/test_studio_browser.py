"""The studio's real page in headless Chromium (the distribution's package, never a downloaded
browser), driven by Playwright: a typo shows its located diagnostic and suggestion, a change of
points moves the distribution and the comparison, saving writes the file.

Screenshots for review: ``COTATION_STUDIO_SCREENSHOTS=DIR python -m pytest -q
tests/test_studio_browser.py`` writes ``DIR/1-open.png`` … ``DIR/6-saved.png``.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]


def _chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
SHOTS = os.environ.get("COTATION_STUDIO_SCREENSHOTS")


@pytest.fixture
def studio(tmp_path, monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")   # what users get by default
    from sne_adapters import read_demandes
    from cotation.studio.server import bind, make_server
    from cotation.studio.session import Session
    grid = tmp_path / "rennes.yaml"
    shutil.copy(ROOT / "grids" / "rennes-priorites.yaml", grid)
    demandes = ROOT / "examples" / "data" / "demandes.csv"
    session = Session.open(grid, read_demandes(demandes).table, demandes, dt.date(2025, 6, 1))
    sock = bind(0)
    server = make_server(session, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/", grid
    server.should_exit = True
    thread.join(10)
    sock.close()


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))   # the page is one screen high


def _place_cursor(page, needle: str, offset: int, length: int = 0) -> None:
    """Put the editor's selection at ``needle`` + ``offset`` (then type with the keyboard)."""
    page.evaluate("""([needle, offset, length]) => {
        const v = window.cotationStudio.editor.view;
        const at = v.state.doc.toString().indexOf(needle);
        if (at < 0) throw new Error('not found: ' + needle);
        v.dispatch({selection: {anchor: at + offset, head: at + offset + length}, scrollIntoView: true});
        v.focus(); }""", [needle, offset, length])


def _status_ok(page) -> None:
    page.wait_for_function("document.getElementById('status').className === 'ok'", timeout=20000)


def test_author_session_in_chromium(studio):
    url, grid = studio
    original = grid.read_text(encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            # bypass_csp: the test harness evaluates script strings; the page itself runs under its CSP
            page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="fr-FR",
                                       bypass_csp=True).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            _status_ok(page)
            assert page.locator("#criteria tbody tr").count() > 10
            _shot(page, "1-open")

            # A typo in a field name: the located diagnostic and its suggestion, in French.
            _place_cursor(page, "dalo_statut == 'actif'", len("dalo_statut"))
            page.keyboard.press("Backspace")
            item = page.locator("#diagnostics li[data-code='unknown-name']")
            item.wait_for(timeout=20000)
            text = item.inner_text()
            assert "dalo_statu" in text and "inconnu" in text
            assert "vouliez-vous dire « dalo_statut »" in item.locator(".suggestion").inner_text()
            line = original[:original.index("dalo_statut == 'actif'")].count("\n") + 1
            assert f"ligne {line}, colonne" in text
            page.locator(".cm-lintRange-error").first.wait_for(timeout=20000)   # marked in place
            assert page.locator("#status").get_attribute("class") == "error"
            _shot(page, "2-typo")

            # Fixed through the completion (Ctrl-Espace proposes the schema's field names).
            page.keyboard.press("Control+Space")
            option = page.locator(".cm-tooltip-autocomplete li[aria-selected='true']")
            option.wait_for(timeout=10000)
            assert option.inner_text().startswith("dalo_statut")
            _shot(page, "2b-completion")
            page.wait_for_timeout(200)   # CodeMirror ignores Enter within 75 ms of the list opening
            page.keyboard.press("Enter")
            _status_ok(page)
            assert page.locator("#diagnostics li[data-code='unknown-name']").count() == 0
            assert "when: \"dalo_statut == 'actif'\"" in page.evaluate(
                "window.cotationStudio.editor.getText()")
            page.click("#tab-distribution")
            before = page.locator("#distribution").inner_text()
            page.click("#tab-comparison")
            assert "identique" in page.locator("#comparison-summary").inner_text()
            _shot(page, "3-fixed")

            # A criterion's points change: the distribution and the comparison move.
            _place_cursor(page, 'when: "nb_personnes_handicap >= 1"\n    points: 20',
                          len('when: "nb_personnes_handicap >= 1"\n    points: '), 2)
            page.keyboard.type("90")
            page.wait_for_function(
                "(document.getElementById('comparison-summary') || {}).textContent?.includes('montent')",
                timeout=20000)
            summary = page.locator("#comparison-summary").inner_text()
            assert "demandes montent" in summary and not summary.startswith("0 demandes montent")
            _shot(page, "4-comparison")
            page.click("#tab-distribution")
            after = page.locator("#distribution").inner_text()
            assert after != before and "avant" in after and "avant" not in before
            _shot(page, "5-distribution")
            page.click("#tab-criteria")
            row = page.locator("#criteria tr[data-id='handicap']").inner_text()
            assert "90,00" in row or "90.00" in row

            # Explanation of a demande from the ranking, and the published page pane.
            page.click("#tab-ranking")
            first = page.locator("#ranking tbody button").first
            numero = first.inner_text()
            first.click()
            page.wait_for_function("document.getElementById('explanation').textContent.includes('Commune')",
                                   timeout=20000)
            assert numero in page.locator("#explanation").inner_text()
            page.click("#tab-publication")
            page.wait_for_function("document.getElementById('publication-message').textContent !== '' || "
                                   "document.getElementById('publication').srcdoc !== ''", timeout=20000)
            _shot(page, "5b-explanation-publication")
            page.keyboard.press("ArrowLeft")     # tabs move with the arrow keys
            assert page.locator("#tab-explain").get_attribute("aria-selected") == "true"

            # Save: the file on disk is the edited grid, the previous version beside it.
            page.click("#save")
            page.wait_for_function("document.getElementById('save-status').textContent.startsWith('Enregistré')",
                                   timeout=10000)
            _shot(page, "6-saved")
            assert errors == []
        finally:
            browser.close()
    saved = grid.read_text(encoding="utf-8")
    assert saved == original.replace('when: "nb_personnes_handicap >= 1"\n    points: 20',
                                     'when: "nb_personnes_handicap >= 1"\n    points: 90')
    assert (grid.parent / (grid.name + ".bak")).read_text(encoding="utf-8") == original
    assert sorted(p.name for p in grid.parent.iterdir()) == ["rennes.yaml", "rennes.yaml.bak"]

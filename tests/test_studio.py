"""The studio's server: security rules (foreign Origin, files outside the command line,
loopback only), the JSON panes and the atomic save with its backup."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
with warnings.catch_warnings():   # starlette's notice about its httpx-based client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMANDES = ROOT / "examples" / "data" / "demandes.csv"
PORT = 8765
ORIGIN = {"Origin": f"http://127.0.0.1:{PORT}"}


@pytest.fixture(scope="module")
def table():
    from sne_adapters import read_demandes
    return read_demandes(DEMANDES).table


@pytest.fixture
def session(tmp_path, table):
    from cotation.studio.session import Session
    grid = tmp_path / "grille.yaml"
    shutil.copy(ROOT / "grids" / "rennes-priorites.yaml", grid)
    return Session.open(grid, table, DEMANDES, dt.date(2025, 6, 1))


@pytest.fixture
def client(session):
    from cotation.studio.app import build_app
    return TestClient(build_app(session, "127.0.0.1", PORT), base_url=f"http://127.0.0.1:{PORT}")


def test_foreign_origin_refused_for_every_state_changing_request(client, session):
    text = session.opened_text + "\n# modifié\n"
    for path in ("/api/save", "/api/validate", "/api/preview", "/api/explain", "/api/publication"):
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "http://127.0.0.1:9999"},
                        {"Origin": "null"}, {}):
            r = client.post(path, json={"text": text}, headers=headers)
            assert r.status_code == 403, (path, headers)
    assert session.grid_path.read_text(encoding="utf-8") == session.opened_text
    assert not session.grid_path.with_name("grille.yaml.bak").exists()
    assert client.post("/api/validate", json={"text": text}, headers=ORIGIN).status_code == 200


def test_foreign_host_refused(client):
    """DNS rebinding: a page of another site resolved to 127.0.0.1 sends its own Host."""
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 403
    assert client.get("/api/state", headers={"Host": f"evil.example:{PORT}"}).status_code == 403
    assert client.get("/api/state").status_code == 200


@pytest.mark.parametrize("path", ["/etc/passwd", str(DEMANDES.parent / "README.md"),
                                  str(ROOT / "grids" / "rennes-priorites.yaml")])
def test_path_outside_given_files_refused(client, path):
    r = client.get("/api/file", params={"path": path})
    assert r.status_code == 403
    assert "error" in r.json()


def test_backup_and_dotted_paths_refused(client, session):
    """Files beside the grid that exist (its backup) and a path through '..' back to the grid's
    own name in another folder are not readable."""
    assert client.post("/api/save", json={"text": session.opened_text + "\n"}, headers=ORIGIN).status_code == 200
    backup = session.grid_path.with_name(session.grid_path.name + ".bak")
    assert backup.is_file()
    for path in (str(backup), str(session.grid_path.parent / "sub" / ".." / ".." / session.grid_path.name)):
        r = client.get("/api/file", params={"path": path})
        assert r.status_code == 403, path
    assert client.get("/api/file", params={"path": str(session.grid_path)}).status_code == 200


def test_concurrent_saves_serialised(session):
    """Saves from two tabs at once neither fail nor leave a backup holding the new text."""
    from concurrent.futures import ThreadPoolExecutor
    texts = [session.opened_text + f"\n# version {k}\n" for k in range(40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(session.save, texts))
    assert len(results) == 40
    final = session.grid_path.read_text(encoding="utf-8")
    assert final in texts
    assert session.grid_path.with_name(session.grid_path.name + ".bak").read_text(encoding="utf-8") != final
    assert sorted(p.name for p in session.grid_path.parent.iterdir()) == ["grille.yaml", "grille.yaml.bak"]


def test_invalid_unicode_is_a_french_json_error(client):
    body = b'{"text": "a: 1\\n# \\udc80"}'          # a lone surrogate, as JSON allows
    r = client.post("/api/validate", content=body,
                    headers={**ORIGIN, "Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


def test_only_package_assets_served(client):
    assert client.get("/static/editor.js").status_code == 200
    assert client.get("/static/THIRD_PARTY_LICENSES.txt").status_code == 200
    for path in ("/static/../session.py", "/static/%2e%2e/session.py", "/static/session.py",
                 "/static//etc/passwd", "/grille.yaml"):
        assert client.get(path).status_code == 404, path


def test_given_grid_readable(client, session):
    r = client.get("/api/file", params={"path": str(session.grid_path)})
    assert r.status_code == 200 and r.json()["text"] == session.opened_text
    state = client.get("/api/state").json()
    assert state["grid"]["text"] == session.opened_text
    labels = {w["label"] for w in state["words"]}
    assert {"criteria", "when", "points", "dalo_statut", "months_between", "actif"} <= labels


def test_page_has_no_external_asset(client):
    html = client.get("/").text
    assert 'lang="fr"' in html and "http://" not in html and "https://" not in html
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]


def test_validate_preview_explain(client, session, monkeypatch):
    monkeypatch.setenv("COTATION_LANG", "fr")
    typo = session.opened_text.replace("dalo_statut == 'actif'", "dalo_statu == 'actif'", 1)
    d = client.post("/api/validate", json={"text": typo}, headers=ORIGIN).json()
    assert not d["valid"]
    [diag] = [x for x in d["diagnostics"] if x["code"] == "unknown-name"]
    assert diag["line"] == session.opened_text[:session.opened_text.index("dalo_statut ==")].count("\n") + 1
    assert "inconnu" in diag["message"] and "dalo_statut" in diag["suggestion"]

    p = client.post("/api/preview", json={"text": session.opened_text}, headers=ORIGIN).json()
    assert p["valid"] and p["comparison"]["identical"] and p["comparison"]["territory"]["moved_up"] == 0
    assert p["demandes"] == 4000 and {c["commune"] for c in p["communes"]} == {"35238", "35051", "35047", "35281"}
    first = {c["id"]: c for c in p["criteria"]}
    changed = session.opened_text.replace('when: "nb_personnes_handicap >= 1"\n    points: 20',
                                          'when: "nb_personnes_handicap >= 1"\n    points: 90')
    q = client.post("/api/preview", json={"text": changed}, headers=ORIGIN).json()
    again = {c["id"]: c for c in q["criteria"]}
    assert again["handicap"]["demandes"] == first["handicap"]["demandes"] > 0
    assert again["handicap"]["points_max"] == "90.00"
    assert q["comparison"]["territory"]["moved_up"] > 0 and not q["comparison"]["identical"]
    assert q["communes"][0]["distribution"] != p["communes"][0]["distribution"]
    top = p["communes"][0]["top"][0]
    e = client.post("/api/explain", json={"text": session.opened_text, "numero_unique": top["numero_unique"]},
                    headers=ORIGIN).json()
    assert top["numero_unique"] in e["text"] and e["communes"]
    assert client.post("/api/explain", json={"text": session.opened_text, "numero_unique": "nope"},
                       headers=ORIGIN).status_code == 404


def test_publication_pane(client, session):
    """The pane shows the published grid as `cotation publish` renders it (issue 13)."""
    r = client.post("/api/publication", json={"text": session.opened_text}, headers=ORIGIN).json()
    html = r["html"]
    assert html and html.lstrip().lower().startswith("<!doctype html")
    from cotation.grid import load_grid
    from cotation.info.publication import publication_html
    grid = load_grid(session.grid_path)
    assert html == publication_html(grid)
    assert grid.ir.criteria[0].label in html or grid.ir.criteria[0].id in html


def test_save_atomic_with_backup(client, session):
    new = session.opened_text + "\n# modifié\n"
    r = client.post("/api/save", json={"text": new}, headers=ORIGIN)
    assert r.status_code == 200
    assert session.grid_path.read_text(encoding="utf-8") == new
    backup = session.grid_path.with_name("grille.yaml.bak")
    assert backup.read_text(encoding="utf-8") == session.opened_text
    assert sorted(p.name for p in session.grid_path.parent.iterdir()) == ["grille.yaml", "grille.yaml.bak"]
    # bad bodies: refused, nothing written
    for body in (b"not json", b"[1]", b'{"text": 3}',
                 b'{"text": ' + b"[" * 3000 + b"]" * 3000 + b"}"):   # was a RecursionError (500)
        r = client.post("/api/save", content=body, headers={**ORIGIN, "Content-Type": "application/json"})
        assert r.status_code == 400
    assert session.grid_path.read_text(encoding="utf-8") == new


def test_save_keeps_the_grids_permissions_and_refuses_a_read_only_grid(client, session):
    import stat
    path = session.grid_path
    path.chmod(0o644)
    r = client.post("/api/save", json={"text": session.opened_text + "\n# a\n"}, headers=ORIGIN)
    assert r.status_code == 200
    assert stat.S_IMODE(path.stat().st_mode) == 0o644            # was 0o600 (mkstemp's)
    assert stat.S_IMODE(path.with_name("grille.yaml.bak").stat().st_mode) == 0o644
    path.chmod(0o444)
    before = path.read_bytes()
    r = client.post("/api/save", json={"text": session.opened_text + "\n# b\n"}, headers=ORIGIN)
    assert r.status_code == 403 and "read-only" in r.json()["error"]
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    """300 MB posted made the studio hold 300 MB before refusing it: the declared length is
    refused at once, and an undeclared stream is not read beyond the limit."""
    import asyncio

    from starlette.requests import Request

    from cotation.studio.app import MAX_BODY, _body
    from cotation.studio.session import StudioError
    r = client.post("/api/validate", content=b"x" * (MAX_BODY + 1),
                    headers={**ORIGIN, "Content-Type": "application/json"})
    assert r.status_code == 413

    pulled = []

    async def receive():
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": len(pulled) < 1000}

    request = Request({"type": "http", "method": "POST", "headers": [], "path": "/api/validate"},
                      receive)
    with pytest.raises(StudioError) as exc:
        asyncio.run(_body(request))
    assert exc.value.status == 413 and len(pulled) == MAX_BODY // 65536 + 1


def _addresses() -> list[str]:
    out = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            out.add(info[4][0])
    except OSError:
        pass
    # 127.0.0.2 is on the loopback interface but is not 127.0.0.1: a server bound to every
    # address (0.0.0.0) would answer there, so this check can fail on any Linux machine.
    return ["127.0.0.2"] + sorted(a for a in out if not a.startswith("127."))


def test_real_server_listens_on_loopback_only(session):
    from cotation.studio.server import bind, make_server
    sock = bind(0)
    assert sock.getsockname()[0] == "127.0.0.1"
    port = sock.getsockname()[1]
    server = make_server(session, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=10) as r:
            assert r.status == 200
        for addr in _addresses():   # every other address of this machine: nothing listens there
            with pytest.raises(OSError):
                socket.create_connection((addr, port), timeout=2).close()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/save", data=b'{"text": "x"}',
                                     headers={"Origin": "http://evil.example"}, method="POST")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req, timeout=10)
        assert exc.value.code == 403
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert session.grid_path.read_text(encoding="utf-8") == session.opened_text


def test_compare_with_another_file_and_attributions(tmp_path, table):
    from cotation.data.sources import read_attributions
    from cotation.studio.app import build_app
    from cotation.studio.session import Session
    grid = tmp_path / "proposition.yaml"
    text = (ROOT / "grids" / "rennes-priorites.yaml").read_text(encoding="utf-8")
    grid.write_text(text.replace('when: "nb_personnes_handicap >= 1"\n    points: 20',
                                 'when: "nb_personnes_handicap >= 1"\n    points: 90'), encoding="utf-8")
    reference = ROOT / "grids" / "rennes-priorites.yaml"
    att_path = ROOT / "examples" / "data" / "attributions.csv"
    att = read_attributions(att_path)[0]
    session = Session.open(grid, table, DEMANDES, dt.date(2025, 6, 1), attributions=att,
                           attributions_path=att_path, reference_path=reference)
    client = TestClient(build_app(session, "127.0.0.1", PORT), base_url=f"http://127.0.0.1:{PORT}")
    p = client.post("/api/preview", json={"text": session.opened_text}, headers=ORIGIN).json()
    assert not p["comparison"]["identical"] and p["comparison"]["territory"]["moved_up"] > 0
    assert p["comparison"]["attributions"]["attributions_read"] == 3000
    same = client.post("/api/preview", json={"text": text}, headers=ORIGIN).json()
    assert same["comparison"]["identical"] and same["comparison"]["territory"]["moved_up"] == 0
    assert client.get("/api/state").json()["reference"] == "rennes-priorites.yaml"
    # the reference grid is a given file; the demandes and attributions are read, never shown
    assert client.get("/api/file", params={"path": str(reference)}).status_code == 200
    for given in (DEMANDES, att_path):
        assert client.get("/api/file", params={"path": str(given)}).status_code == 403


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COTATION_LANG": "fr"}
    return subprocess.run([sys.executable, "-m", "cotation.cli", "studio", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_mistakes_are_one_french_line(tmp_path):
    r = _cli("absent.yaml", "--no-browser", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "introuvable" in r.stderr
    shutil.copy(ROOT / "grids" / "rennes-priorites.yaml", tmp_path / "g.yaml")
    r = _cli("g.yaml", "--demandes", "absent.csv", "--no-browser", cwd=tmp_path)
    assert r.returncode == 1 and "introuvable" in r.stderr and "Traceback" not in r.stderr
    r = _cli("g.yaml", "--compare", str(ROOT / "grids" / "broken" / "duplicate_id.yaml"), "--no-browser",
             cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = _cli("g.yaml", "--port", str(busy.getsockname()[1]), "--no-browser", cwd=tmp_path)
    assert r.returncode == 1 and "127.0.0.1" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_exits_cleanly(tmp_path):
    shutil.copy(ROOT / "grids" / "rennes-priorites.yaml", tmp_path / "g.yaml")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COTATION_LANG": "fr"}
    proc = subprocess.Popen([sys.executable, "-m", "cotation.cli", "studio", "g.yaml", "--port", "0",
                             "--no-browser", "--today", "2025-06-01"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "http://127.0.0.1:" in line
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/state", timeout=30) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(30) == 130      # interrupted, as every command (docs/reference.md)
        assert "Traceback" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.yaml"]


def test_missing_extra_is_one_french_line(tmp_path, monkeypatch, capsys):
    from cotation.cli import main
    monkeypatch.setenv("COTATION_LANG", "fr")
    monkeypatch.setitem(sys.modules, "uvicorn", None)     # as if the 'studio' extra were absent
    shutil.copy(ROOT / "grids" / "rennes-priorites.yaml", tmp_path / "g.yaml")
    assert main(["studio", str(tmp_path / "g.yaml"), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "cotation[studio]" in err and err.count("\n") == 1


def test_cli_reads_attributions_and_starts(tmp_path, monkeypatch):
    """``cotation studio --attributions FILE`` up to the server (replaced here): the
    attributions file is read as compare reads it, and the session gets the table."""
    import cotation.studio.server as server
    from cotation.cli import main

    seen = {}

    def serve(session, port, *, open_browser, announce):
        seen["attributions"] = session.attributions

    monkeypatch.setattr(server, "serve", serve)
    grid = tmp_path / "g.yaml"
    grid.write_text((ROOT / "grids" / "lyon-metropole.yaml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    assert main(["studio", str(grid), "--attributions",
                 str(ROOT / "examples" / "data" / "attributions.csv"), "--no-browser",
                 "--today", "2025-06-30"]) == 0
    assert len(seen["attributions"]) == 3000

"""``cotation flux …`` end to end: outputs, exit codes, byte-identical reruns."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotation.cli import main

DATA = Path(__file__).parent / "data"
EXAMPLES_FLUX = Path(__file__).resolve().parents[2] / "examples" / "flux"


def _inputs(d: Path) -> list[str]:
    return ["--logements", str(d / "logements.csv"), "--conventions", str(d / "conventions.yaml"),
            "--evenements", str(d / "evenements.csv"), "--year", "2025"]


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    assert main(["flux", "generate", "--seed", "3", "--dwellings", "600", "--year", "2025",
                 "--demandes", "2000", "-o", str(d)]) == 0
    return d


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_generate_is_deterministic(gen, tmp_path):
    assert main(["flux", "generate", "--seed", "3", "--dwellings", "600", "--year", "2025",
                 "--demandes", "2000", "-o", str(tmp_path)]) == 0
    assert _snapshot(tmp_path) == _snapshot(gen)


def test_full_chain_is_byte_identical(gen, tmp_path, capsys):
    runs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        assert main(["flux", "assiette", *_inputs(gen), "-o", str(out / "a")]) == 0
        assert main(["flux", "targets", *_inputs(gen), "--today", "2025-01-01", "-o", str(out / "t")]) == 0
        assert main(["flux", "dispatch", *_inputs(gen), "--demandes", str(gen / "demandes.csv"),
                     "--scores", str(gen / "scores.csv"), "-o", str(out / "d")]) == 0
        assert main(["flux", "bilan", *_inputs(gen), "--today", "2026-02-15", "-o", str(out / "b")]) == 0
        assert main(["flux", "bilan", *_inputs(gen), "--from", "2025-01-01", "--to", "2025-06-30",
                     "--today", "2025-07-10", "-o", str(out / "h1")]) == 0
        runs.append({sub: _snapshot(out / sub) for sub in ("a", "t", "d", "b", "h1")})
    assert runs[0] == runs[1]
    r = runs[0]
    assert set(r["a"]) == {"assiette.json", "assiette.csv", "assiette_detail.csv"}
    assert set(r["d"]) == {"audit.jsonl", "decisions.csv", "shortlists.jsonl", "dispatch.json"}
    assert set(r["b"]) == {"bilan.json", "bilan.csv", "bilan_ventilation.csv", "bilan.html"}
    summary = json.loads(r["d"]["dispatch.json"])
    assert summary["non_conformes"] == 0
    first = json.loads(r["d"]["shortlists.jsonl"].splitlines()[0])
    assert first["k"] == 3 and len(first["candidats"]) <= 3 and "plafond_ressources" in first["filtres"]
    assert main(["flux", "verify", "--audit", str(tmp_path / "run0" / "d" / "audit.jsonl")]) == 0
    header = json.loads(r["d"]["audit.jsonl"].splitlines()[0])
    assert header["type"] == "header" and len(header["entrees"]["logements"]["sha256"]) == 64


def test_verify_fails_on_a_tampered_log(gen, tmp_path):
    out = tmp_path / "d"
    assert main(["flux", "dispatch", *_inputs(gen), "-o", str(out)]) == 0
    lines = (out / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    i = next(j for j, line in enumerate(lines) if json.loads(line).get("type") == "orientation")
    rec = json.loads(lines[i])
    rec["choice"] = "ETAT_AGENTS" if rec["choice"] != "ETAT_AGENTS" else "ETAT_PRIO"
    lines[i] = json.dumps(rec)
    (out / "bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["flux", "verify", "--audit", str(out / "bad.jsonl")]) == 1


def test_targets_exit_code_on_failed_checks(gen, tmp_path, capsys):
    conv = (gen / "conventions.yaml").read_text(encoding="utf-8").replace("percentage: 25", "percentage: 28", 1)
    bad = tmp_path / "conventions.yaml"
    bad.write_text(conv, encoding="utf-8")
    args = _inputs(gen)
    args[args.index("--conventions") + 1] = str(bad)
    assert main(["flux", "targets", *args, "-o", str(tmp_path / "t")]) == 1
    assert "CAP_ETAT_30" in capsys.readouterr().err
    doc = json.loads((tmp_path / "t" / "targets.json").read_text(encoding="utf-8"))
    assert doc["valide"] is False


def test_bad_input_exit_code_and_location(monkeypatch, gen, tmp_path, capsys):
    monkeypatch.setenv("COTATION_LANG", "fr")  # checks the French messages users see
    text = (gen / "logements.csv").read_text(encoding="utf-8").splitlines()
    text[3] = text[3].replace(",T", ",T9X", 1)
    bad = tmp_path / "logements.csv"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    args = _inputs(gen)
    args[args.index("--logements") + 1] = str(bad)
    assert main(["flux", "assiette", *args]) == 1   # invalid input (docs/reference.md, exit codes)
    err = capsys.readouterr().err
    assert f"{bad}:4: colonne typologie :" in err


def test_stock_command_reports_paca_totals(capsys):
    assert main(["flux", "stock", "--table", str(EXAMPLES_FLUX / "paca_2023_etat_reservations.csv"), "--flux", "268"]) == 1
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["cibles"] == {"A": 100, "B": 138, "C": 30, "BAILLEUR": 0}
    assert sum(1 for i in doc["issues"] if i["code"] == "TOTAL_INCOHERENT") == 10


GRID = Path(__file__).resolve().parents[2] / "grids" / "besancon-primo.yaml"


def test_shortlists_from_a_real_cotation_score_file(tmp_path):
    """`cotation score` output (hundredths, rank per commune) plugs into the dispatch as is."""
    import datetime as dt

    from cotation.flux.generate import generate
    from cotation.data.synth import generate_demandes
    from cotation.data.table import write_demandes_csv
    communes = ["25056", "25047", "25212", "25287", "25462"]
    write_demandes_csv(generate_demandes(300, seed=4, today=dt.date(2025, 1, 1), territories=[communes]),
                       tmp_path / "demandes.csv")
    generate(4, 300, 2025, departement="25", communes=communes).write(tmp_path)
    assert main(["score", str(GRID), str(tmp_path / "demandes.csv"), "--today", "2025-01-01",
                 "-o", str(tmp_path / "scores.csv"), "--engine", "interpreter"]) == 0
    assert main(["flux", "dispatch", *_inputs(tmp_path), "--demandes", str(tmp_path / "demandes.csv"),
                 "--scores", str(tmp_path / "scores.csv"), "-o", str(tmp_path / "d")]) == 0
    lists = [json.loads(x) for x in (tmp_path / "d" / "shortlists.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lists and all(s["ordre"] == "cotation" for s in lists)
    ranked = [c for s in lists for c in s["candidats"] if c["rang_cotation"] is not None]
    assert ranked and all(isinstance(c["score"], float) for c in ranked)
    for s in lists:   # candidates come in cotation order
        ranks = [c["rang_cotation"] for c in s["candidats"] if c["rang_cotation"] is not None]
        assert ranks == sorted(ranks)
    # Scoring in-process with the grid (default engine) gives the very same shortlists.
    assert main(["flux", "dispatch", *_inputs(tmp_path), "--today", "2025-01-01", "--demandes",
                 str(tmp_path / "demandes.csv"), "--grid", str(GRID), "-o", str(tmp_path / "g")]) == 0
    assert (tmp_path / "g" / "shortlists.jsonl").read_bytes() == (tmp_path / "d" / "shortlists.jsonl").read_bytes()


def test_outputs_do_not_depend_on_hash_seed(gen, tmp_path):
    """Byte-identical across interpreter runs (set and dict orders never leak into outputs)."""
    import os
    import subprocess
    import sys
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-m", "cotation.cli", "flux", "dispatch", *_inputs(gen),
                        "--demandes", str(gen / "demandes.csv"), "--scores", str(gen / "scores.csv"),
                        "-o", str(out)], check=True, env=env, capture_output=True)
        outs.append(_snapshot(out))
    assert outs[0] == outs[1]


def test_dispatch_says_why_higher_ranked_demandes_were_not_retained(gen, tmp_path):
    out = tmp_path / "d"
    assert main(["flux", "dispatch", *_inputs(gen), "--demandes", str(gen / "demandes.csv"),
                 "--scores", str(gen / "scores.csv"), "--motifs", "-o", str(out)]) == 0
    lists = [json.loads(line) for line in (out / "shortlists.jsonl").read_text(encoding="utf-8").splitlines()]
    allowed = {"pool", "taille_menage", "plafond_ressources", "pmr", "taux_effort", "deja_propose"}
    seen: set[str] = set()
    explained = 0
    for s in lists:
        chosen = [c["numero_unique"] for c in s["candidats"]]
        assert not seen & set(chosen)          # a demande is proposed once in the run
        seen |= set(chosen)
        ranks = [c["rang_cotation"] for c in s["candidats"] if c["rang_cotation"] is not None]
        for r in s["non_retenues"]:
            assert r["motif"] in allowed and r["numero_unique"] not in chosen
            if len(chosen) == s["k"] and ranks and r["rang_cotation"] is not None:
                assert r["rang_cotation"] < max(ranks)
            explained += 1
    assert explained and any(r["motif"] == "deja_propose" for s in lists for r in s["non_retenues"])
    plain = tmp_path / "p"
    assert main(["flux", "dispatch", *_inputs(gen), "--demandes", str(gen / "demandes.csv"),
                 "--scores", str(gen / "scores.csv"), "-o", str(plain)]) == 0
    assert "non_retenues" not in (plain / "shortlists.jsonl").read_text(encoding="utf-8")


def test_bilan_templates_option(gen, tmp_path, capsys):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "bilan_header.html").write_text("<p>Logo et adresse de l'EPCI</p>\n", encoding="utf-8")
    assert main(["flux", "bilan", *_inputs(gen), "--today", "2026-02-15", "-o", str(tmp_path / "b"),
                 "--templates", str(tpl)]) == 0
    assert "<p>Logo et adresse de l'EPCI</p>" in (tmp_path / "b" / "bilan.html").read_text(encoding="utf-8")
    (tpl / "bilan_header.html").write_text("<p>{{ bilan.start.strftime( }}</p>\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["flux", "bilan", *_inputs(gen), "--today", "2026-02-15", "-o", str(tmp_path / "c"),
                 "--templates", str(tpl)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --templates: ") and "bilan_header.html, line 1" in err
    assert not (tmp_path / "c").exists()

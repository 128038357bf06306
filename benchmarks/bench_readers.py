"""Reader throughput: sne_adapters against pyarrow.csv and pandas on the same files.

    python benchmarks/bench_readers.py --rows 1000000

Generates, seeded, into a temporary directory: a canonical demande CSV (UTF-8, comma) and an
extraction laid out like the shipped preset (cp1252, semicolon, dd/mm/yyyy dates, decimal
comma, SNE codes). Each file is read by our reader (every boundary check, rejects included,
into checked Arrow columns), by ``pyarrow.csv.read_csv`` and by ``pandas.read_csv`` (type
inference only, no validation), and optionally by the reference row-by-row reader. Prints
rows/s and the ratio to our reader; ``--json FILE`` also writes the figures.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cotation.data.schema import COLUMNS, ENUMS  # noqa: E402

PRESET = ROOT / "sne_adapters" / "presets" / "extraction_sne_latin1.yaml"
COMMUNES = np.array([f"{d:02d}{n:03d}" for d in (1, 6, 13, 33, 59, 69, 75, 92, 93, 94)
                     for n in range(1, 41)] + ["2A004", "2B033"])
PROFESSIONS = np.array(["Agent de sécurité", "Aide-soignante", "Cariste", "Employé", "",
                        "Agent d'entretien", "Étudiante", "Retraité", "Chauffeur, livreur",
                        "Assistante maternelle"])


def _dates(rng, n, start, span_days, fmt):
    base = np.datetime64(start) + rng.integers(0, span_days, n).astype("timedelta64[D]")
    iso = np.datetime_as_string(base, unit="D")
    if fmt == "iso":
        return iso
    return np.array([f"{s[8:10]}/{s[5:7]}/{s[:4]}" for s in iso.tolist()], dtype=object)


def _blank(rng, values, share):
    values = values.astype(object)
    values[rng.random(values.size) < share] = ""
    return values


def _sets(rng, pool, n, k_max, sep):
    pool = np.asarray(pool)
    k = rng.integers(0, k_max + 1, n)
    picks = rng.integers(0, len(pool), (n, k_max))
    out = []
    for row, kk in zip(picks.tolist(), k.tolist()):
        out.append(sep.join(dict.fromkeys(pool[row[:kk]].tolist())))
    return np.array(out, dtype=object)


def canonical_columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for c in COLUMNS:
        name = c.name
        if name == "numero_unique":
            v = np.char.add("0691232", np.char.zfill(np.arange(n).astype(str), 11))
        elif c.kind.value == "date":
            v = _dates(rng, n, "1950-01-01" if "naissance" in name else "2015-01-01",
                       20000 if "naissance" in name else 3300, "iso")
            v = v if c.required else _blank(rng, v, 0.3)
        elif c.kind.value == "bool":
            v = _blank(rng, rng.choice(np.array(["true", "false"]), n), 0.1)
        elif c.kind.value == "int":
            hi = 90000 if "revenu" in name else 7
            v = rng.integers(1 if c.required else 0, hi, n).astype(str)
            v = v if c.required else _blank(rng, v, 0.1)
        elif c.kind.value == "decimal":
            v = _blank(rng, np.round(rng.uniform(0, 3000, n), 2).astype(str), 0.1)
        elif c.kind.value == "code":
            v = _blank(rng, rng.choice(np.array(ENUMS[name]), n), 0.1)
        elif c.kind.value == "set":
            v = _sets(rng, ENUMS.get(name, ("c1", "c2", "c3")), n, 3, "|")
        elif c.kind.value == "communes":
            v = _sets(rng, COMMUNES, n, 4, "|")
        elif c.kind.value == "commune":
            v = _blank(rng, rng.choice(COMMUNES, n), 0.1)
        else:
            v = rng.choice(PROFESSIONS, n)
        cols[name] = np.asarray(v, dtype=object)
    return cols


def _quote(values: np.ndarray, sep: str) -> list[str]:
    return [f'"{s}"' if (sep in s or '"' in s) else s for s in values.tolist()]


def write_rows(path: Path, header: list[str], cols: list[np.ndarray], sep: str, encoding: str,
               newline: str = "\n") -> None:
    columns = [_quote(np.asarray(c, dtype=object), sep) for c in cols]
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(sep.join(header) + newline)
        chunk = 100_000
        for start in range(0, len(columns[0]), chunk):
            rows = zip(*(c[start:start + chunk] for c in columns))
            fh.write(newline.join(sep.join(r) for r in rows) + newline)


def write_canonical(path: Path, n: int, seed: int) -> None:
    cols = canonical_columns(n, seed)
    write_rows(path, [c.name for c in COLUMNS], [cols[c.name] for c in COLUMNS], ",", "utf-8")


def write_extraction(path: Path, n: int, seed: int) -> None:
    """Columns of the preset mapping, SNE codes, French formats, cp1252, CRLF."""
    rng = np.random.default_rng(seed + 1)
    modele = np.array(["HLM", "LP", "CP", "CPE", "SH", "RS", "POCC", "SD", "HOT"])
    motifs = np.array(["01", "02", "03", "05", "09", "12", "13", "17", "21", ""])
    fam, contrat = np.array(list("CMDSPUV")), np.array(["CDI", "CDD", "ART", "CHO", "RET", "AUT"])
    typo = np.array(["C", "T1", "T2", "T3", "T4", "T5", "T6P"])
    money = lambda lo, hi, share: _blank(rng, np.char.replace(  # noqa: E731
        np.round(rng.uniform(lo, hi, n), 2).astype(str), ".", ","), share)
    cols = {
        "Numéro unique": np.char.add("0691232", np.char.zfill(np.arange(n).astype(str), 11)),
        "Date de dépôt": _dates(rng, n, "2015-01-01", 3300, "fr"),
        "Date de renouvellement": _blank(rng, _dates(rng, n, "2023-01-01", 700, "fr"), 0.5),
        "Logement actuel": rng.choice(modele, n),
        "Motif 1": rng.choice(motifs[:-1], n), "Motif 2": rng.choice(motifs, n),
        "Motif 3": _blank(rng, rng.choice(motifs, n), 0.7),
        "Nombre adultes": rng.integers(1, 3, n).astype(str),
        "Nombre enfants": _blank(rng, rng.integers(0, 5, n).astype(str), 0.2),
        "Date de naissance": _dates(rng, n, "1940-01-01", 24000, "fr"),
        "Situation familiale": rng.choice(fam, n), "Contrat de travail": rng.choice(contrat, n),
        "Profession": rng.choice(PROFESSIONS, n),
        "Commune de résidence": rng.choice(COMMUNES, n),
        "Revenu fiscal de référence": _blank(rng, rng.integers(0, 60000, n).astype(str), 0.2),
        "Ressources mensuelles": money(0, 4000, 0.05),
        "Loyer": money(0, 1200, 0.3), "APL": money(0, 400, 0.5),
        "Typologie actuelle": _blank(rng, rng.choice(typo, n), 0.2),
        "Typologies recherchées": _sets(rng, typo[1:], n, 2, ","),
        "Communes souhaitées": _sets(rng, COMMUNES, n, 3, ","),
        "DALO": _blank(rng, rng.choice(np.array(["NON", "ACTIF", "CADUC"]), n), 0.5),
        "Prioritaire": _blank(rng, rng.choice(np.array(["oui", "non"]), n), 0.5),
        "Observations": _blank(rng, rng.choice(np.array(["RAS", "relance", "à revoir"]), n), 0.8),
    }
    write_rows(path, list(cols), list(cols.values()), ";", "cp1252", "\r\n")


def timed(fn, repeat: int):
    """(min, median) seconds over ``repeat`` runs, and the last output."""
    import statistics
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return (min(times), statistics.median(times)), out


def run(rows: int, seed: int, repeat: int, reference: bool) -> dict:
    import pyarrow.csv as pacsv
    import sne_adapters
    from cotation.data.table import read_demandes_csv
    try:
        import pandas as pd
    except ImportError:
        pd = None
    results: dict = {"rows": rows, "seed": seed, "python": platform.python_version(),
                     "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                     "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        canon, extr = Path(tmp) / "demandes.csv", Path(tmp) / "extraction.csv"
        t0 = time.perf_counter()
        write_canonical(canon, rows, seed)
        write_extraction(extr, rows, seed)
        results["generate_s"] = round(time.perf_counter() - t0, 1)
        cases = {
            "canonical CSV (UTF-8, comma)": (canon, {
                "sne_adapters.read_demandes": lambda: sne_adapters.read_demandes(canon),
                "pyarrow.csv.read_csv": lambda: pacsv.read_csv(canon),
                "pandas.read_csv": (lambda: pd.read_csv(canon, low_memory=False)) if pd else None,
                "cotation.data.table.read_demandes_csv (row by row)":
                    (lambda: read_demandes_csv(canon)) if reference else None,
            }),
            "mapped extraction (cp1252, semicolon, preset)": (extr, {
                "sne_adapters.read_demandes": lambda: sne_adapters.read_demandes(extr, mapping=PRESET),
                "pyarrow.csv.read_csv": lambda: pacsv.read_csv(
                    extr, read_options=pacsv.ReadOptions(encoding="cp1252"),
                    parse_options=pacsv.ParseOptions(delimiter=";")),
                "pandas.read_csv": (lambda: pd.read_csv(extr, sep=";", encoding="cp1252",
                                                        decimal=",", low_memory=False)) if pd else None,
            }),
        }
        for label, (path, readers) in cases.items():
            entry = {"bytes": path.stat().st_size, "readers": {}}
            for name, fn in readers.items():
                if fn is None:
                    continue
                (secs, median), out = timed(fn, 1 if "row by row" in name else repeat)
                n_out = out.num_rows if hasattr(out, "num_rows") else (
                    len(out) if not hasattr(out, "table") else out.n_read)
                rec = {"seconds": round(secs, 3), "median_s": round(median, 3),
                       "rows_per_s": round(rows / secs), "rows": n_out,
                       "load": round(__import__("os").getloadavg()[0], 2)}
                if hasattr(out, "rejects"):
                    rec["accepted"], rec["rejected"] = out.n_accepted, len(out.rejects)
                entry["readers"][name] = rec
            ours = entry["readers"]["sne_adapters.read_demandes"]["seconds"]
            for rec in entry["readers"].values():
                rec["time_vs_ours"] = round(rec["seconds"] / ours, 2)
            results["files"][label] = entry
    return results


def print_table(res: dict) -> None:
    print(f"rows per file: {res['rows']:,}  (seed {res['seed']}, Python {res['python']}, "
          f"{res['machine']}; generation {res['generate_s']} s)")
    for label, entry in res["files"].items():
        print(f"\n{label}: {entry['bytes'] / 1e6:.0f} MB")
        print(f"  {'reader':<48} {'min s':>8} {'median s':>9} {'rows/s':>12} "
              f"{'time / ours':>12} {'load':>5}")
        for name, rec in entry["readers"].items():
            print(f"  {name:<48} {rec['seconds']:>8.2f} {rec['median_s']:>9.2f} "
                  f"{rec['rows_per_s']:>12,} {rec['time_vs_ours']:>12.2f} {rec['load']:>5.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=20240101)
    p.add_argument("--repeat", type=int, default=3, help="best of N runs (row-by-row: 1)")
    p.add_argument("--no-reference", action="store_true", help="skip the row-by-row reader")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(argv)
    res = run(args.rows, args.seed, args.repeat, not args.no_reference)
    print_table(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

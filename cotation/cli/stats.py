"""``cotation stats DEMANDES [ATTRIBUTIONS] --today D``: demand indicators per territory.

The Franche-Comté 2020 indicators (demandes, share of mutations and of external demandes,
share under 12 months, mean delay of attribution) per EPCI, commune or département, as a CSV,
a JSON and a short Markdown report. ``--today`` is always given: same inputs, same files.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

_COLUMNS = ("territoire", "nom", "demandes", "mutations", "part_mutations", "part_externes", "moins_12_mois",
            "part_moins_12_mois", "attributions", "delai_moyen_mois", "delai_moyen_mois_exact")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' n'est pas une date AAAA-MM-JJ") from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("stats", help="indicateurs de la demande par EPCI, commune ou département",
                              description="Indicateurs de la demande par territoire: demandes, part des "
                                          "mutations, part des demandes de moins de 12 mois, délai moyen "
                                          "d'attribution (référence: interbailleurs Franche-Comté 2020).")
    p.add_argument("demandes", type=Path, help="demandes (CSV ou Parquet canonique, XML SNE)")
    p.add_argument("attributions", type=Path, nargs="?", help="attributions (CSV ou Parquet) pour les délais")
    p.add_argument("--today", type=_date, required=True, help="date de référence")
    p.add_argument("--par", choices=("epci", "commune", "departement"), default="epci",
                   help="territoire (défaut: epci)")
    p.add_argument("--mapping", type=Path, help="mapping d'une extraction locale (CSV)")
    p.add_argument("-o", "--out", type=Path, help="dossier de sortie (stats.csv, stats.json, rapport.md); "
                                                  "sinon CSV sur stdout")
    p.set_defaults(func=cmd_stats)


def cmd_stats(args: argparse.Namespace) -> int:
    from cotation.data.sources import read_attributions
    from cotation.data.table import StrictModeError
    from cotation.info.indicators import demand_indicators, report_text
    from sne_adapters import read_demandes
    try:
        res = read_demandes(args.demandes, mapping=args.mapping)
        attributions = None
        if args.attributions is not None:
            attributions, rejects, n_read = read_attributions(args.attributions)
            if rejects:
                r = rejects[0]
                print(f"{args.attributions}: {n_read} lignes lues, {len(rejects)} rejetée(s) (première: ligne "
                      f"{r.line}, colonne {r.column}: {r.reason})", file=sys.stderr)
    except (OSError, ValueError, StrictModeError) as exc:
        print(f"erreur: {exc}", file=sys.stderr)
        return 2
    if res.rejects:
        r = res.rejects[0]
        print(f"{args.demandes}: {res.n_read} lignes lues, {len(res.rejects)} rejetée(s) (première: ligne "
              f"{r.line}, colonne {r.column}: {r.reason})", file=sys.stderr)
    stats = demand_indicators(res.table, attributions, args.today, args.par)
    rows = [s.row() for s in stats]
    if args.out is None:
        w = csv.DictWriter(sys.stdout, fieldnames=_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "stats.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    doc = {"date": args.today.isoformat(), "par": args.par, "territoires": rows}
    (args.out / "stats.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (args.out / "rapport.md").write_text(report_text(stats, args.today, args.par), encoding="utf-8")
    print(f"{len(rows)} territoire(s), {sum(s.demandes for s in stats)} demandes → {args.out}")
    return 0

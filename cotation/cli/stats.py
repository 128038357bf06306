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

from cotation.cli.core import add_output
from cotation.cli.outputs import atomic_dir, input_file, output_dir
from cotation.i18n import _, print_error, warning_line

_COLUMNS = ("territoire", "nom", "demandes", "mutations", "part_mutations", "part_externes", "moins_12_mois",
            "part_moins_12_mois", "attributions", "delai_moyen_mois", "delai_moyen_mois_exact")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("'{text}' is not a date YYYY-MM-DD").format(text=text)) from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("stats", help=_("compute the demand indicators per EPCI, commune or département"),
                              description=_("Demand indicators per territory: demandes, share of "
                                            "mutations, share of demandes under 12 months, mean "
                                            "delay of attribution (reference: interbailleurs "
                                            "Franche-Comté 2020)."))
    p.add_argument("demandes", type=Path, metavar=_("DEMANDES"),
                   help=_("demandes (canonical CSV or Parquet, SNE XML)"))
    p.add_argument("attributions", type=Path, nargs="?", metavar=_("ATTRIBUTIONS"),
                   help=_("attributions (CSV or Parquet) for the delays"))
    p.add_argument("--today", type=_date, required=True, help=_("reference date YYYY-MM-DD"))
    p.add_argument("--par", choices=("epci", "commune", "departement"), default="epci",
                   help=_("territory (default: epci)"))
    p.add_argument("--mapping", type=Path, metavar=_("FILE"),
                   help=_("mapping file for a local CSV extraction"))
    add_output(p, _("output folder (stats.csv, stats.json, rapport.md); otherwise CSV on stdout"),
               required=False, metavar=_("FOLDER"))
    p.set_defaults(func=cmd_stats)


def _rejects_line(path, n_read: int, rejects) -> str:
    r = rejects[0]
    return _("{path}: {read} rows read, {rejected} rejected (first: line {line}, column "
             "{column}: {reason})").format(path=path, read=n_read, rejected=len(rejects),
                                           line=r.line, column=r.column, reason=r.reason)


def cmd_stats(args: argparse.Namespace) -> int:
    from cotation.data.sources import read_attributions
    from cotation.data.table import StrictModeError
    from cotation.info.indicators import (attributed_before_deposit, demand_indicators,
                                          report_text)
    from sne_adapters import read_demandes
    input_file(args.demandes, _("demandes"))
    if args.attributions is not None:
        input_file(args.attributions, _("attributions"))
    if args.output is not None:
        output_dir(args.output, inputs=(args.demandes, args.attributions, args.mapping))
    try:
        res = read_demandes(args.demandes, mapping=args.mapping)
        attributions = None
        if args.attributions is not None:
            attributions, rejects, n_read = read_attributions(args.attributions)
            if rejects:
                print(_rejects_line(args.attributions, n_read, rejects), file=sys.stderr)
    except (ValueError, StrictModeError) as exc:
        print_error(str(exc))
        return 1
    if res.rejects:
        print(_rejects_line(args.demandes, res.n_read, res.rejects), file=sys.stderr)
    if not len(res.table):
        print_error(_("{path}: no row accepted ({n} read)").format(path=args.demandes,
                                                                   n=res.n_read))
        return 1
    before = attributed_before_deposit(attributions)
    if before:
        print(warning_line(_("{path}: {n} ignored (attribution before deposit)").format(
            path=args.attributions, n=before)), file=sys.stderr)
    stats = demand_indicators(res.table, attributions, args.today, args.par)
    rows = [s.row() for s in stats]
    if args.output is None:
        w = csv.DictWriter(sys.stdout, fieldnames=_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return 0
    doc = {"date": args.today.isoformat(), "par": args.par,
           "territoires": [s.json_row() for s in stats]}
    with atomic_dir(args.output) as tmp:
        with open(tmp / "stats.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=_COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        (tmp / "stats.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
                                        encoding="utf-8")
        (tmp / "rapport.md").write_text(report_text(stats, args.today, args.par), encoding="utf-8")
    print(_("{n} territories, {demandes} demandes → {out}").format(
        n=len(rows), demandes=sum(s.demandes for s in stats), out=args.output))
    return 0

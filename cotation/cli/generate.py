"""``cotation generate``: write synthetic canonical demandes (and attributions).
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from cotation.data.synth.attributions import attributed_demandes, generate_attributions
from cotation.data.synth.demandes import generate_demandes
from cotation.data.table import write_attributions_csv, write_demandes_csv

# ----------------------------------------------------------------------------- command line


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _territory(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError("a territory needs at least one INSEE code")
    return codes


def register(subparsers: Any) -> None:
    """Add the ``generate`` command."""
    cmd = subparsers.add_parser(
        "generate", help="generate synthetic canonical demandes (and attributions)",
        description="Generate a reproducible synthetic canonical demande table (and optionally "
                    "an attribution history) calibrated on public statistics.")
    cmd.add_argument("-n", type=int, required=True, help="number of demandes")
    cmd.add_argument("--seed", type=int, required=True, help="random seed (same seed, same file)")
    cmd.add_argument("--today", type=_iso_date, required=True,
                     help="reference date YYYY-MM-DD (deposits and leases are before it)")
    cmd.add_argument("--territory", type=_territory, action="append", required=True,
                     metavar="INSEE,INSEE,...",
                     help="communes of one territory, centre first; repeat for each territory")
    cmd.add_argument("-o", "--output", required=True, help="demandes CSV to write")
    cmd.add_argument("--attributions", metavar="CSV", help="also write an attribution history")
    cmd.add_argument("--n-attributions", type=int,
                     help="number of attributions (default: 0.75 × n)")
    cmd.add_argument("--years", type=int, default=3,
                     help="attribution window in years before --today (default 3)")
    cmd.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.n < 0 or (args.n_attributions is not None and args.n_attributions < 0):
        print("cotation generate: counts must be >= 0", file=sys.stderr)
        return 2
    try:
        table = generate_demandes(args.n, seed=args.seed, today=args.today,
                                  territories=args.territory)
        write_demandes_csv(table, args.output)
        print(f"wrote {len(table)} demandes to {args.output}")
        if args.attributions:
            n_attr = args.n_attributions if args.n_attributions is not None else round(0.75 * args.n)
            attr = generate_attributions(n_attr, seed=args.seed, today=args.today,
                                         territories=args.territory, years=args.years)
            demandes = attributed_demandes(attr, seed=args.seed, today=args.today,
                                           territories=args.territory)
            write_attributions_csv(attr, args.attributions, demandes)
            print(f"wrote {len(attr)} attributions to {args.attributions}")
    except ValueError as exc:
        print(f"cotation generate: {exc}", file=sys.stderr)
        return 2
    return 0

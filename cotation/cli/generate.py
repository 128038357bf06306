"""``cotation generate``: write synthetic canonical demandes (and attributions).
"""
from __future__ import annotations

import argparse
from typing import Any

from cotation.data.synth.attributions import attributed_demandes, generate_attributions
from cotation.data.synth.demandes import generate_demandes
from cotation.cli.arguments import date_arg
from cotation.cli.core import add_output
from cotation.cli.outputs import EXIT_USAGE, atomic_file, output_file
from cotation.data.table import write_attributions_csv, write_demandes_csv
from cotation.i18n import _, print_error

# ----------------------------------------------------------------------------- command line


def _territory(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError(_("a territory needs at least one INSEE code"))
    return codes


def register(subparsers: Any) -> None:
    """Add the ``generate`` command."""
    cmd = subparsers.add_parser(
        "generate", help=_("generate synthetic canonical demandes (and attributions)"),
        description=_("Generate a reproducible synthetic canonical demande table (and optionally "
                      "an attribution history) calibrated on public statistics."))
    cmd.add_argument("-n", type=int, required=True, help=_("number of demandes"))
    cmd.add_argument("--seed", type=int, required=True, help=_("random seed (same seed, same file)"))
    cmd.add_argument("--today", type=date_arg, required=True,
                     help=_("reference date YYYY-MM-DD (deposits and leases are before it)"))
    cmd.add_argument("--territory", type=_territory, action="append", required=True,
                     metavar="INSEE,INSEE,...",
                     help=_("communes of one territory, centre first; repeat for each territory"))
    add_output(cmd, _("demandes CSV to write"))
    cmd.add_argument("--attributions", metavar="CSV", help=_("also write an attribution history"))
    cmd.add_argument("--n-attributions", type=int,
                     help=_("number of attributions (default: 0.75 × n)"))
    cmd.add_argument("--years", type=int, default=3,
                     help=_("attribution window in years before --today (default 3)"))
    cmd.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.n < 0 or (args.n_attributions is not None and args.n_attributions < 0):
        print_error(_("counts must be >= 0"))
        return EXIT_USAGE
    output_file(args.output, (".csv",))
    if args.attributions:
        output_file(args.attributions, (".csv",), option="--attributions")
    try:
        table = generate_demandes(args.n, seed=args.seed, today=args.today,
                                  territories=args.territory)
        with atomic_file(args.output) as tmp:
            write_demandes_csv(table, tmp)
        print(_("wrote {n} demandes to {path}").format(n=len(table), path=args.output))
        if args.attributions:
            n_attr = args.n_attributions if args.n_attributions is not None else round(0.75 * args.n)
            attr = generate_attributions(n_attr, seed=args.seed, today=args.today,
                                         territories=args.territory, years=args.years)
            demandes = attributed_demandes(attr, seed=args.seed, today=args.today,
                                           territories=args.territory)
            with atomic_file(args.attributions) as tmp:
                write_attributions_csv(attr, tmp, demandes)
            print(_("wrote {n} attributions to {path}").format(n=len(attr), path=args.attributions))
    except ValueError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    return 0

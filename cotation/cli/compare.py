"""``cotation compare``: two grids (or variants) on the same demandes.

Exit status: 0 done, 1 invalid input (unreadable file, grid or variant that does not validate,
override naming nothing), 2 usage (argparse, malformed ``--set`` or ``--top``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cotation.cli.arguments import date_arg
from cotation.cli.core import add_output
from cotation.grid.diagnostics import GridError
from cotation.i18n import _, print_error, warning_line


def _top(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            _("'{text}': a list of positive whole numbers is expected, for example 10,50,100")
            .format(text=text))
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help=_("compare two grids on the same demandes (ranks, priority "
                                         "publics, profiles, criteria; HTML report)"),
                       description=_("Compare two grids (or variants of one grid) on the same "
                                     "demandes: ranks, priority publics, profiles, criteria, and "
                                     "an HTML report in the output folder."))
    p.add_argument("grid_a", metavar=_("GRID_A"), help=_("grid file (or variant file) A, the reference"))
    p.add_argument("grid_b", metavar=_("GRID_B"), help=_("grid file (or variant file) B, the proposal"))
    p.add_argument("demandes", metavar=_("DEMANDES"),
                   help=_("demandes: canonical CSV or Parquet, SNE XML, or an extraction with --mapping"))
    p.add_argument("--today", type=date_arg, required=True, help=_("reference date YYYY-MM-DD"))
    add_output(p, _("output folder (pairs.csv, pairs.parquet, summary.json, report.html)"),
               metavar=_("FOLDER"))
    p.add_argument("--attributions", metavar=_("FILE"),
                   help=_("leases (CSV or Parquet): rank of the attributed demandes at their date"))
    p.add_argument("--window-months", type=int, default=None, metavar=_("MONTHS"),
                   help=_("attributions window in months (default: grid A's waiting-time window)"))
    p.add_argument("--top", type=_top, default=(10, 50, 100), metavar=_("N,N,..."),
                   help=_("N of the top-N figures (default 10,50,100)"))
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="[A:|B:]PATH=VALUE",
                   help=_("override a value of grid B (or A with 'A:'), e.g. B:criteria.dalo.points=100"))
    p.add_argument("--variants", metavar=_("FILE"),
                   help=_("YAML of named variants of grid B; one comparison subfolder each"))
    p.add_argument("--mapping", metavar=_("FILE"), help=_("mapping file for a local CSV extraction"))
    p.add_argument("--engine", choices=("auto", "compiled", "interpreter"), default="auto",
                   help=_("scoring back end (default auto: compiled, the interpreter if it cannot run)"))
    p.add_argument("--progress", action="store_true", default=None, help=_("show progress"))
    p.set_defaults(func=cmd_compare)


def _err(msg: str) -> None:
    print_error(msg)


def _load(path: str, overrides: list, what: str):
    from cotation.analysis.variants import VariantError, load_grid_or_variant
    if not Path(path).is_file():
        _err(_("{what}: no such file: {path}").format(what=what, path=path))
        return None
    try:
        return load_grid_or_variant(path, overrides)
    except VariantError as exc:
        _err(_("{what}: {reason}").format(what=what, reason=exc))
    except GridError as exc:
        _err(_("{what} ({path}) does not validate:").format(what=what, path=path))
        for d in exc.errors or exc.diagnostics:
            print("  " + d.format(), file=sys.stderr)
    return None


def _label(path: str, overrides: list) -> str:
    name = Path(path).stem
    return name + "".join(f" + {o.dotted}={o.value}" for o in overrides)


def cmd_compare(args) -> int:
    from cotation.analysis import compare
    from cotation.analysis.variants import VariantError, parse_set, read_variants
    from cotation.progress import Progress

    from cotation.cli.outputs import output_dir
    output_dir(args.output, inputs=(args.grid_a, args.grid_b, args.demandes))
    sets = {"A": [], "B": []}
    for spec in args.overrides:
        try:
            target, ov = parse_set(spec)
        except VariantError as exc:
            _err(str(exc))
            return 2
        sets[target].append(ov)
    grid_a = _load(args.grid_a, sets["A"], _("grid A"))
    grid_b = _load(args.grid_b, sets["B"], _("grid B"))
    if grid_a is None or grid_b is None:
        return 1
    runs = [(None, grid_b, _label(args.grid_b, sets["B"]))]
    if args.variants:
        if not Path(args.variants).is_file():
            _err(_("variants file not found: {path}").format(path=args.variants))
            return 1
        try:
            variants = read_variants(args.variants)
        except (VariantError, GridError) as exc:
            _err(str(exc).splitlines()[0])
            return 1
        runs = []
        for name, ovs in variants:
            g = _load(args.grid_b, sets["B"] + ovs, _("variant '{name}'").format(name=name))
            if g is None:
                return 1
            runs.append((name, g, f"{Path(args.grid_b).stem} / {name}"))
    for g in (grid_a, *(r[1] for r in runs)):
        if args.today < g.ir.effective_from:
            print(warning_line(_("grid {id} v{version} comes into force on {date}, after the "
                                 "reference date").format(id=g.ir.id, version=g.ir.version,
                                                          date=g.ir.effective_from.isoformat())),
                  file=sys.stderr)

    from cotation.engine.reads import reads_of
    # what either grid reads (B's variants included)
    needs, known = reads_of(grid_a.ir, *(r[1].ir for r in runs))
    table = _read_demandes(args, needs, known)
    if table is None:
        return 1
    attributions = attributed = None
    if args.attributions:
        read = _read_attributions(args.attributions, needs)
        if read is None:
            return 1
        attributions, attributed = read
    show = Progress(_("comparison"), args.progress)
    for name, g_b, label in runs:
        out = Path(args.output) / name if name else Path(args.output)
        try:
            result = compare(grid_a, g_b, table, args.today, top=args.top, attributions=attributions,
                             window_months=args.window_months, engine=args.engine,
                             labels=(_label(args.grid_a, sets["A"]), label), progress=show,
                             attribution_progress=Progress(_("attributions"), args.progress),
                             attributed=attributed)
            result.write(out)
        except OSError as exc:
            _err(_("cannot write in {path}: {reason}").format(path=out, reason=exc.strerror or exc))
            return 1
        _unranked_attributions(result.summary.get("attributions"), args)
        t = result.summary["territory"]
        files = "pairs.csv, pairs.parquet, summary.json, report.html" + (
            ", attributions.csv" if attributions is not None else "")
        print(_("{out}: {both} pairs scored by both grids ({a} by A, {b} by B), {up} move up, "
                "{down} move down; {files}").format(
                    out=out, both=t["pairs_both"], a=t["pairs_a"], b=t["pairs_b"],
                    up=t["moved_up"], down=t["moved_down"], files=files), file=sys.stderr)
    return 0


def _unranked_attributions(att: dict | None, args) -> None:
    """Say so when attributions of the window could not be ranked: their demande is not in the
    demandes file (an extraction of pending demandes leaves out those already housed)."""
    if not att or not att["in_window_not_in_demandes"]:
        return
    print(warning_line(_("{path}: {n} of the {m} attributions of the window concern a demande "
                         "absent from {demandes}: they are not ranked (the demandes file must "
                         "also hold the attributed demandes)").format(
        path=args.attributions, n=att["in_window_not_in_demandes"], m=att["in_window"],
        demandes=args.demandes)), file=sys.stderr)


def _read_demandes(args, needs: dict, known: dict):
    from functools import partial

    from cotation.data.boundary import MissingColumnsError, admit
    from cotation.data.table import StrictModeError
    from sne_adapters import read_demandes
    if not Path(args.demandes).is_file():
        _err(_("demandes file not found: {path}").format(path=args.demandes))
        return None
    try:
        # the boundary, with what both grids read: a column the file lacks stops the run
        result = admit(args.demandes, needs=needs, known_extras=known or (),
                       reader=partial(read_demandes, mapping=args.mapping)).result
    except MissingColumnsError as exc:
        _err(str(exc))
        return None
    except (StrictModeError, OSError, ValueError) as exc:
        _err(_("cannot read {path}: {reason}").format(path=args.demandes, reason=exc))
        return None
    if result.rejects:
        print(_("{path}: {read} rows read, {rejected} rejected (the same for both grids; see "
                "cotation score --rejects)").format(path=args.demandes, read=result.n_read,
                                                     rejected=len(result.rejects)), file=sys.stderr)
    return result.table


def _read_attributions(path: str, needs: dict | None = None):
    """(attributions, the attributed demandes or None); None after saying why. A file that
    carries the attributed demandes' columns (as ``cotation evaluate`` reads it) gives them,
    so that they are ranked at their dates even when the demandes file lacks them."""
    from cotation.data.attributed import read_attributed
    from cotation.data.sources import read_attributions
    if not Path(path).is_file():
        _err(_("attributions file not found: {path}").format(path=path))
        return None
    from cotation.data.boundary import MissingColumnsError
    try:
        both = read_attributed(path, needs=needs)
        table, attributed, rejects, n_read = both.attributions, both.demandes, both.rejects, \
            both.n_read
    except MissingColumnsError as exc:     # it carries demandes, without a column read
        _err(str(exc))
        return None
    except ValueError:          # attributions alone: the demandes file must hold them
        attributed = None
        try:
            table, rejects, n_read = read_attributions(path)
        except (OSError, ValueError) as exc:
            _err(_("cannot read {path}: {reason}").format(path=path, reason=exc))
            return None
    except OSError as exc:
        _err(_("cannot read {path}: {reason}").format(path=path, reason=exc))
        return None
    if rejects:
        print(_("{path}: {read} attributions read, {rejected} rejected").format(
            path=path, read=n_read, rejected=len(rejects)), file=sys.stderr)
    return table, attributed

"""``cotation compare``: two grids (or variants) on the same demandes.

Exit status: 0 done, 1 invalid input (unreadable file, grid or variant that does not validate,
override naming nothing), 2 usage (argparse, malformed ``--set`` or ``--top``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cotation.cli.core import _date
from cotation.grid.diagnostics import GridError


def _top(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"« {text} » : liste de nombres entiers positifs attendue, "
                                         "par exemple 10,50,100")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two grids on the same demandes (ranks, priority "
                                       "publics, profiles, criteria; HTML report)")
    p.add_argument("grid_a", metavar="GRID_A", help="grid file (or variant file) A, the reference")
    p.add_argument("grid_b", metavar="GRID_B", help="grid file (or variant file) B, the proposal")
    p.add_argument("demandes", metavar="DEMANDES")
    p.add_argument("--today", type=_date, required=True, help="reference date YYYY-MM-DD")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--attributions", metavar="FILE",
                   help="leases (CSV or Parquet): rank of the attributed demandes at their date")
    p.add_argument("--window-months", type=int, default=None,
                   help="attributions window in months (default: grid A's waiting-time window)")
    p.add_argument("--top", type=_top, default=(10, 50, 100), help="N of the top-N figures (default 10,50,100)")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="[A:|B:]PATH=VALUE",
                   help="override a value of grid B (or A with 'A:'), e.g. B:criteria.dalo.points=100")
    p.add_argument("--variants", metavar="FILE",
                   help="YAML of named variants of grid B; one comparison subfolder each")
    p.add_argument("--mapping", help="mapping file for a local CSV extraction")
    p.add_argument("--engine", choices=("auto", "compiled", "interpreter"), default="auto")
    p.add_argument("--progress", action="store_true", default=None, help="show progress")
    p.set_defaults(func=cmd_compare)


def _err(msg: str) -> None:
    print(f"erreur : {msg}", file=sys.stderr)


def _load(path: str, overrides: list, what: str):
    from cotation.analysis.variants import VariantError, load_grid_or_variant
    if not Path(path).is_file():
        _err(f"{what} : fichier introuvable : {path}")
        return None
    try:
        return load_grid_or_variant(path, overrides)
    except VariantError as exc:
        _err(f"{what} : {exc}")
    except GridError as exc:
        _err(f"{what} ({path}) ne se valide pas :")
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

    sets = {"A": [], "B": []}
    for spec in args.overrides:
        try:
            target, ov = parse_set(spec)
        except VariantError as exc:
            _err(str(exc))
            return 2
        sets[target].append(ov)
    grid_a = _load(args.grid_a, sets["A"], "grille A")
    grid_b = _load(args.grid_b, sets["B"], "grille B")
    if grid_a is None or grid_b is None:
        return 1
    runs = [(None, grid_b, _label(args.grid_b, sets["B"]))]
    if args.variants:
        if not Path(args.variants).is_file():
            _err(f"fichier de variantes introuvable : {args.variants}")
            return 1
        try:
            variants = read_variants(args.variants)
        except (VariantError, GridError) as exc:
            _err(str(exc).splitlines()[0])
            return 1
        runs = []
        for name, ovs in variants:
            g = _load(args.grid_b, sets["B"] + ovs, f"variante « {name} »")
            if g is None:
                return 1
            runs.append((name, g, f"{Path(args.grid_b).stem} / {name}"))
    for g in (grid_a, *(r[1] for r in runs)):
        if args.today < g.ir.effective_from:
            print(f"attention : la grille {g.ir.id} v{g.ir.version} entre en vigueur le "
                  f"{g.ir.effective_from.isoformat()}, après la date de référence", file=sys.stderr)

    table = _read_demandes(args)
    if table is None:
        return 1
    attributions = None
    if args.attributions:
        attributions = _read_attributions(args.attributions)
        if attributions is None:
            return 1
    show = Progress("comparaison", args.progress)
    for name, g_b, label in runs:
        out = Path(args.output) / name if name else Path(args.output)
        try:
            result = compare(grid_a, g_b, table, args.today, top=args.top, attributions=attributions,
                             window_months=args.window_months, engine=args.engine,
                             labels=(_label(args.grid_a, sets["A"]), label), progress=show,
                             attribution_progress=Progress("attributions", args.progress))
            result.write(out)
        except OSError as exc:
            _err(f"écriture dans {out} impossible : {exc.strerror or exc}")
            return 1
        t = result.summary["territory"]
        print(f"{out}: {t['pairs_both']} couples notés par les deux grilles "
              f"({t['pairs_a']} par A, {t['pairs_b']} par B), {t['moved_up']} montent, "
              f"{t['moved_down']} descendent ; pairs.csv, pairs.parquet, summary.json, report.html"
              + (", attributions.csv" if attributions is not None else ""), file=sys.stderr)
    return 0


def _read_demandes(args):
    from cotation.data.table import StrictModeError
    from sne_adapters import read_demandes
    if not Path(args.demandes).is_file():
        _err(f"fichier de demandes introuvable : {args.demandes}")
        return None
    try:
        result = read_demandes(args.demandes, mapping=args.mapping)
    except (StrictModeError, OSError, ValueError) as exc:
        _err(f"lecture de {args.demandes} impossible : {exc}")
        return None
    if result.rejects:
        print(f"{args.demandes} : {result.n_read} lignes lues, {len(result.rejects)} rejetées "
              "(les mêmes pour les deux grilles ; voir cotation score --rejects)", file=sys.stderr)
    return result.table


def _read_attributions(path: str):
    from cotation.data.sources import read_attributions
    if not Path(path).is_file():
        _err(f"fichier d'attributions introuvable : {path}")
        return None
    try:
        table, rejects, n_read = read_attributions(path)
    except (OSError, ValueError) as exc:
        _err(f"lecture de {path} impossible : {exc}")
        return None
    if rejects:
        print(f"{path} : {n_read} attributions lues, {len(rejects)} rejetées", file=sys.stderr)
    return table

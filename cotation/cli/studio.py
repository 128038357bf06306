"""``cotation studio``: the local web application for grid authors (``cotation.studio``).

Exit status: 130 stopped by Ctrl-C (uvicorn re-raises the signal after a clean shutdown), 1
invalid input (missing file, unreadable demandes, reference grid that does not validate, port in
use, the ``studio`` extra not installed), 2 usage.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from cotation.cli.arguments import date_arg
from cotation.cli.outputs import EXIT_INPUT
from cotation.grid.diagnostics import GridError
from cotation.i18n import _, print_error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("studio", help=_("local web studio for grid authors: edit, validate as you "
                                        "type, preview, compare, publish, save"))
    p.add_argument("grid", metavar=_("GRID"), nargs="?",
                   help=_("grid file to edit (default: a copy of a bundled example grid in the "
                          "current folder)"))
    p.add_argument("--demandes", metavar=_("FILE"),
                   help=_("demandes for the previews (default: the bundled example data)"))
    p.add_argument("--attributions", metavar=_("FILE"), help=_("leases (CSV or Parquet)"))
    p.add_argument("--compare", metavar=_("FILE"),
                   help=_("compare with this grid file (default: the grid as it was when opened)"))
    p.add_argument("--mapping", help=_("mapping file for a local CSV extraction"))
    p.add_argument("--today", type=date_arg, default=None,
                   help=_("reference date YYYY-MM-DD (default: today)"))
    p.add_argument("--port", type=_port, default=8765, metavar=_("PORT"), help=_("port on 127.0.0.1 (default 8765; 0: any free port)"))
    p.add_argument("--no-browser", action="store_true", help=_("serve only, do not open a browser"))
    p.set_defaults(func=cmd_studio)


def _port(text: str) -> int:
    """A TCP port, 0 to 65535 (argparse type: anything else is a usage error)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(_("a port is a number from 0 to 65535 (got {value})").format(value=text))
    return port


def _example(kind: str, name: str) -> Path:
    from cotation._examples import source
    return Path(str(source(kind) / name))


def cmd_studio(args) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print_error(_("the studio needs the 'studio' extra: pip install 'cotation[studio]'"))
        return EXIT_INPUT
    from cotation.studio.session import Session
    if args.grid is None:
        target = Path("grille.yaml")
        if not target.exists():
            target.write_text(_example("grids", "rennes-priorites.yaml").read_text("utf-8"), "utf-8")
            print(_("{path}: copy of the example grid rennes-priorites.yaml").format(path=target),
                  file=sys.stderr)
        args.grid = str(target)
    grid = Path(args.grid)
    if not grid.is_file():
        print_error(_("grid file not found: {path}").format(path=args.grid))
        return EXIT_INPUT
    demandes = Path(args.demandes) if args.demandes else _example("data", "demandes.csv")
    if not demandes.is_file():
        print_error(_("demandes file not found: {path}").format(path=demandes))
        return EXIT_INPUT
    table = _read_demandes(demandes, args.mapping)
    if table is None:
        return EXIT_INPUT
    attributions = None
    if args.attributions:
        from cotation.cli.compare import _read_attributions
        read = _read_attributions(args.attributions)
        if read is None:
            return EXIT_INPUT
        attributions = read[0]
    if args.compare and not Path(args.compare).is_file():
        print_error(_("grid file not found: {path}").format(path=args.compare))
        return EXIT_INPUT
    today = args.today or dt.date.today()
    try:
        session = Session.open(grid, table, demandes, today, attributions=attributions,
                               attributions_path=Path(args.attributions) if args.attributions else None,
                               reference_path=Path(args.compare) if args.compare else None)
    except (OSError, UnicodeDecodeError) as exc:
        failed = getattr(exc, "filename", None) or grid     # OSError names the file that failed
        print_error(_("cannot read {path}: {error}").format(path=failed, error=exc))
        return EXIT_INPUT
    except GridError as exc:
        print_error(_("{path} does not validate:").format(path=args.compare))
        for d in exc.errors or exc.diagnostics:
            print("  " + d.format(), file=sys.stderr)
        return EXIT_INPUT
    from cotation.studio.server import serve
    try:
        serve(session, args.port, open_browser=not args.no_browser,
              announce=lambda url: print(_("studio: {url} (Ctrl-C to stop)").format(url=url),
                                         file=sys.stderr))
    except OSError as exc:
        print_error(_("cannot listen on 127.0.0.1:{port}: {error}").format(
            port=args.port, error=exc.strerror or exc))
        return EXIT_INPUT
    return 0


def _read_demandes(path: Path, mapping: str | None):
    from cotation.data.table import StrictModeError
    from sne_adapters import read_demandes
    try:
        return read_demandes(path, mapping=mapping).table
    except (StrictModeError, OSError, ValueError) as exc:
        print_error(_("cannot read {path}: {error}").format(path=path, error=exc))
        return None

"""The ``cotation`` command line. Each command group lives in its own module and registers
itself here through a ``register(subparsers)`` function."""
from __future__ import annotations

import importlib
import os
import sys

from cotation.cli.outputs import (EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, CommandError,
                                  describe_os_error)
from cotation.i18n import ArgumentParser, _, print_error

# Modules providing ``register(subparsers)``; imported lazily so `cotation validate` never
# pays for numba.
_COMMAND_MODULES = (
    "cotation.cli.core",
    "cotation.cli.flux",
    "cotation.cli.generate",
    "cotation.cli.info",
    "cotation.cli.convert",
    "cotation.cli.stats",
    "cotation.cli.compare",
    "cotation.cli.evaluate",
    "cotation.cli.examples",
    "cotation.cli.studio",
)

# The commands each module registers (tests/test_warm_start.py checks this table against the
# modules): a command line naming one of them imports that module only, not all ten, which
# cost about 0.1 s of imports at every start. A module missing here is still registered.
_COMMANDS = {
    "validate": "cotation.cli.core", "score": "cotation.cli.core",
    "explain": "cotation.cli.core", "test": "cotation.cli.core",
    "flux": "cotation.cli.flux", "generate": "cotation.cli.generate",
    "position": "cotation.cli.info", "statements": "cotation.cli.info",
    "publish": "cotation.cli.info", "convert": "cotation.cli.convert",
    "stats": "cotation.cli.stats", "compare": "cotation.cli.compare",
    "evaluate": "cotation.cli.evaluate", "location-voulue": "cotation.cli.evaluate",
    "examples": "cotation.cli.examples", "studio": "cotation.cli.studio",
}


def _modules_for(argv: list[str] | None) -> tuple[str, ...]:
    """The command modules to register for ``argv``: the one owning the command it names, or
    every module (no command, ``--help``, an unknown name: argparse then lists them all)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in _COMMANDS:
        return (_COMMANDS[args[0]],)
    return _COMMAND_MODULES


def build_parser(argv: list[str] | None = ()) -> ArgumentParser:
    """The command-line parser: every command (default), or only what ``argv`` needs
    (``argv=None``: ``sys.argv``)."""
    parser = ArgumentParser(
        prog="cotation",
        description=_("Score social-housing demandes with a published cotation grid, "
                      "inform demandeurs, and manage reservations en flux."))
    from cotation import __version__
    parser.add_argument("--version", action="version", version=f"cotation {__version__}",
                        help=_("print the version and exit"))
    sub = parser.add_subparsers(dest="command", metavar=_("COMMAND"), title=_("commands"))
    sub.required = True
    for name in _modules_for(argv):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; every user mistake ends in one line on stderr and an exit code
    (``cotation.cli.outputs``), never a traceback (set ``COTATION_DEBUG=1`` to see one)."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print_error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        print_error(_("interrupted; no output was left half-written"))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except OSError as exc:
        print_error(describe_os_error(exc))
        return EXIT_INPUT
    except UnicodeDecodeError as exc:
        print_error(_("a file is not UTF-8 text ({reason})").format(reason=exc.reason))
        return EXIT_INPUT
    except Exception as exc:  # a bug, not a user mistake: say so in one line
        if os.environ.get("COTATION_DEBUG"):
            raise
        print_error(_("internal error ({kind}: {message}); please report it with the command "
                      "line (COTATION_DEBUG=1 shows the details)")
                    .format(kind=type(exc).__name__, message=str(exc).splitlines()[0] if str(exc) else ""))
        return EXIT_INTERNAL


def run() -> int:
    """The ``cotation`` command's entry point (``python -m cotation``, ``python -m
    cotation.cli``): :func:`main` with the cyclic garbage collector tuned for a short-lived
    process. Only here: :func:`main` itself, which tests and other programs call, leaves the
    collector alone.

    - Thresholds (100,000, 50, 10) instead of (700, 10, 10): importing Numba, pandas and
      pyarrow creates about a million objects, and the default thresholds made the collector
      walk all of them two or three times during a warm ``cotation score`` (0.12-0.35 s
      measured with ``gc.callbacks``; 0.02-0.07 s with these). Cyclic garbage is still
      collected, after 100,000 container allocations instead of 700.
    - ``gc.freeze()`` once the command is done, so that the interpreter's shutdown does not
      walk them again (0.17-0.35 s → 0.03 s); atexit handlers, ``weakref.finalize``
      callbacks and the flushing of standard streams still run.
    - pyarrow does not import pandas (:mod:`cotation.cli.startup`).

    Figures: benchmarks/README.md, "Warm start and bounded compilation (issue 11)"."""
    import gc

    from cotation.cli.startup import pyarrow_without_pandas
    gc.set_threshold(100_000, 50, 10)
    pyarrow_without_pandas()
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())

"""The ``cotation`` command line. Each command group lives in its own module and registers
itself here through a ``register(subparsers)`` function."""
from __future__ import annotations

import argparse
import importlib
import sys

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
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cotation",
        description="Score social-housing demandes with a published cotation grid, "
                    "inform demandeurs, and manage reservations en flux.")
    from cotation import __version__
    parser.add_argument("--version", action="version", version=f"cotation {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in dict.fromkeys(_COMMAND_MODULES):
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

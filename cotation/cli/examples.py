"""``cotation examples DIR``: copy the example grids (with their test cases and the grid
schema) and the example data out of the installed package, laid out as in the repository
(``DIR/grids``, ``DIR/examples/data``, ``DIR/examples/flux``), so the README's quick start runs
from ``DIR`` after a plain ``pip install``."""
from __future__ import annotations

import argparse
from importlib.abc import Traversable
from pathlib import Path

from cotation._examples import FOLDERS, source
from cotation.cli.outputs import atomic_file, output_dir, usage_error
from cotation.i18n import _


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("examples", help=_("copy the example grids and data into a folder"),
                       description=_("Copy the example grids (with their test cases and the grid "
                                     "schema) and the example data into FOLDER, laid out as in "
                                     "the repository: FOLDER/grids, FOLDER/examples/data, "
                                     "FOLDER/examples/flux. Existing files are kept unless "
                                     "--force."))
    p.add_argument("folder", metavar=_("FOLDER"), help=_("destination folder (created if needed)"))
    p.add_argument("--force", action="store_true", help=_("overwrite existing files"))
    p.set_defaults(func=cmd_examples)


def _files(folder: Traversable, rel: Path = Path()) -> list[tuple[Path, Traversable]]:
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir():
            out.extend(_files(entry, rel / entry.name))
        else:
            out.append((rel / entry.name, entry))
    return out


def cmd_examples(args: argparse.Namespace) -> int:
    dest = output_dir(args.folder)
    plan = [(dest / FOLDERS[kind] / rel, entry)
            for kind in FOLDERS for rel, entry in _files(source(kind))]
    existing = [p for p, _entry in plan if p.exists()]
    if existing and not args.force:
        raise usage_error(_("{path} already exists; use --force to overwrite the examples")
                          .format(path=existing[0]))
    for path, entry in plan:
        with atomic_file(path) as tmp:
            tmp.write_bytes(entry.read_bytes())
    print(_("{n} files copied into {path}; from there run: cotation validate "
            "grids/lyon-metropole.yaml").format(n=len(plan), path=dest))
    return 0

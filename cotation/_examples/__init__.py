"""The example grids and data, shipped in the wheel for ``cotation examples DIR``.

This folder holds no data in the repository: ``setup.py`` maps ``grids/`` to
``cotation/_examples/grids``, ``examples/data`` to ``.../data``, ``examples/flux`` to
``.../flux`` and ``examples/offres`` to ``.../offres`` when the wheel is built, so the files
have one home (the top of the repository, where the README's quick start uses them from a
clone). :func:`source` finds them in either place.
"""
from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

# name in the package -> folder of a source checkout, relative to its root
FOLDERS = {"grids": "grids", "data": "examples/data", "flux": "examples/flux",
           "offres": "examples/offres"}


def source(kind: str) -> Traversable:
    """The folder of examples ``kind`` (a key of :data:`FOLDERS`): inside the installed wheel,
    or, in a source checkout (editable install), the repository's own folder."""
    shipped = resources.files(__name__) / kind
    if shipped.is_dir():
        return shipped
    checkout = Path(__file__).resolve().parents[2] / FOLDERS[kind]
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"examples '{kind}' are not installed")

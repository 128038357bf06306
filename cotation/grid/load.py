"""The front door: load a grid file into a checked, immutable ``Grid``.

A grid that validated before (same text, same path, same cotation) comes from the
validated-grid cache (:mod:`cotation.grid.stored`) without importing the parser, the JSON
Schema validator or pydantic; ``cache=False`` always validates.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cotation.grid import ir
from cotation.grid.diagnostics import Diagnostic

if TYPE_CHECKING:  # pragma: no cover
    from cotation.grid.loader import SourceMap
    from cotation.grid.model import GridFile


@dataclass(frozen=True)
class Grid:
    """A validated grid: its typed IR, warnings and content hash; its pydantic ``model`` and
    ``source_map`` are rebuilt from the text it was loaded from, on first use."""

    path: str
    ir: ir.GridIR
    warnings: tuple[Diagnostic, ...]
    source_hash: str
    text: str = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.ir.id

    @property
    def version(self) -> str:
        return self.ir.version

    @functools.cached_property
    def _parsed(self):
        from cotation.grid.model import parse_grid_file
        return parse_grid_file(self.path, self.text)

    @property
    def model(self) -> "GridFile":
        return self._parsed[0]

    @property
    def source_map(self) -> "SourceMap":
        return self._parsed[1]


def load_grid(path: str | Path, text: str | None = None, *, lint: bool = True,
              max_bytes: int | None = None, cache: bool | None = None) -> Grid:
    """Load, shape-check and type-check a grid file. Raises GridError with every problem.

    ``max_bytes`` bounds the file's size (default 4 MiB, or ``COTATION_MAX_GRID_BYTES``).
    ``cache``: look the grid up in (and add it to) the validated-grid cache; default: when the
    grid is read from a file (a ``text`` given in memory, an editor's for example, is validated)."""
    from cotation.grid.source import check_size, max_grid_bytes, read_grid_text

    if cache is None:
        cache = text is None
    if text is None:
        text = read_grid_text(path, max_bytes)      # its size checked there
    elif cache:
        check_size(str(path), len(text.encode("utf-8", "surrogatepass")), max_grid_bytes(max_bytes))
    key = None
    if cache:
        from cotation.grid import stored

        key = stored.entry_key(str(path), text, lint)
        hit = stored.lookup(key) if key else None
        if hit is not None:
            gir, warnings = hit
            if gir.source_hash == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest():
                return Grid(str(path), gir, warnings, gir.source_hash, text)
    grid = _validate(path, text, lint=lint, max_bytes=max_bytes)
    if key is not None:
        stored.store(key, grid.ir, grid.warnings)
    return grid


def _validate(path: str | Path, text: str, *, lint: bool, max_bytes: int | None) -> Grid:
    from cotation.grid.check import check
    from cotation.grid.model import parse_grid_file

    model, smap, digest, raw = parse_grid_file(path, text, max_bytes=max_bytes)
    gir, warnings = check(model, smap, raw)
    gir = dataclasses.replace(gir, source_hash=digest)
    warns = list(warnings)
    if lint:
        from cotation.grid.lint import lint_grid
        warns.extend(lint_grid(gir, model, smap))
    warns.sort(key=lambda d: (d.span, d.code))
    grid = Grid(str(path), gir, tuple(warns), digest, text)
    grid.__dict__["_parsed"] = (model, smap, digest, raw)   # already parsed: keep it
    return grid

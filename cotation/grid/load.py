"""The front door: load a grid file into a checked, immutable ``Grid``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from cotation.grid import ir
from cotation.grid.check import check
from cotation.grid.diagnostics import Diagnostic
from cotation.grid.loader import SourceMap
from cotation.grid.model import GridFile, parse_grid_file


@dataclass(frozen=True)
class Grid:
    """A validated grid: its model, typed IR, warnings and content hash."""

    path: str
    model: GridFile
    ir: ir.GridIR
    warnings: tuple[Diagnostic, ...]
    source_hash: str
    source_map: SourceMap

    @property
    def id(self) -> str:
        return self.ir.id

    @property
    def version(self) -> str:
        return self.ir.version


def load_grid(path: str | Path, text: str | None = None, *, lint: bool = True,
              max_bytes: int | None = None) -> Grid:
    """Load, shape-check and type-check a grid file. Raises GridError with every problem.

    ``max_bytes`` bounds the file's size (default 4 MiB, or ``COTATION_MAX_GRID_BYTES``)."""
    model, smap, digest, raw = parse_grid_file(path, text, max_bytes=max_bytes)
    gir, warnings = check(model, smap, raw)
    gir = dataclasses.replace(gir, source_hash=digest)
    warns = list(warnings)
    if lint:
        from cotation.grid.lint import lint_grid
        warns.extend(lint_grid(gir, model, smap))
    warns.sort(key=lambda d: (d.span, d.code))
    return Grid(str(path), model, gir, tuple(warns), digest, smap)


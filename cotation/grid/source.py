"""Reading a grid file's text, within the size limit, before anything parses it.

Kept apart from ``loader`` (PyYAML) and ``model`` (JSON Schema, pydantic) so that a grid found
in the validated-grid cache (``cotation.grid.stored``) is loaded without importing them.
"""
from __future__ import annotations

import os
from pathlib import Path

from cotation.grid.diagnostics import Diagnostic, GridError, Span, msg

# A grid is a few kilobytes; this bound keeps the loading of any file under a second.
MAX_GRID_BYTES = 4 * 1024 * 1024      # default; COTATION_MAX_GRID_BYTES or max_bytes= change it


def max_grid_bytes(override: int | None = None) -> int:
    """The size limit of a grid file: ``override``, else ``COTATION_MAX_GRID_BYTES``, else 4 MiB."""
    if override is not None:
        return int(override)
    env = os.environ.get("COTATION_MAX_GRID_BYTES", "").strip()
    return int(env) if env.isdigit() else MAX_GRID_BYTES


def check_size(file: str, n_bytes: int, limit: int) -> None:
    """Raise a located GridError when a grid file is larger than ``limit`` bytes."""
    if n_bytes > limit:
        raise GridError([Diagnostic(
            "too-large", msg("the file has {n} bytes, more than the limit of {limit} bytes for a grid file",
                             n=n_bytes, limit=limit), Span(file, 1, 1),
            hint=msg("set COTATION_MAX_GRID_BYTES to raise the limit"))])


def read_grid_text(path: str | Path, max_bytes: int | None = None) -> str:
    """The file's UTF-8 text; a located GridError when it cannot be read, is too large (checked
    before reading) or is not UTF-8."""
    try:
        check_size(str(path), Path(path).stat().st_size, max_grid_bytes(max_bytes))
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise GridError([Diagnostic("schema", msg('cannot read the file: {strerror}', strerror=exc.strerror),
                                    Span(str(path), 1, 1))]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GridError([Diagnostic("yaml-syntax", msg('file is not UTF-8 text ({reason})', reason=exc.reason),
                                    Span(str(path), 1, 1))]) from None

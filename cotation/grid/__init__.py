"""Front end: a grid file becomes a checked, typed IR.

Stages: ``loader`` (YAML with positions, duplicate keys refused) → ``model`` (JSON Schema shape
check, pydantic model) → ``dsl`` (Lark expression parser) → ``check`` (names, types, bands,
groups, legal rules → ``ir``) → ``lint`` (warnings). ``evaluate`` gives expressions their
meaning; ``diagnostics`` holds the located errors and their stable codes.

Public surface: :func:`load_grid`, :class:`Grid`, :class:`~cotation.grid.diagnostics.GridError`,
and the IR in :mod:`cotation.grid.ir`.
"""
from cotation.grid.diagnostics import Diagnostic, GridError
from cotation.grid.load import Grid, load_grid

__all__ = ["Diagnostic", "Grid", "GridError", "load_grid"]

"""Analyses over scores: comparing two grids on the same demandes (``compare``), grid variants
by overrides (``variants``). Imports ``data``, ``grid``, ``engine`` and ``info``; nothing above.

Public surface: :func:`compare`, :class:`Comparison`.
"""
from cotation.analysis.compare import DEFAULT_TOP, Comparison, compare

__all__ = ["DEFAULT_TOP", "Comparison", "compare"]

"""Analyses over scores and attributions: comparing two grids on the same demandes
(``compare``), grid variants by overrides (``variants``), the CIL's periodic evaluation
(``evaluate``) and location voulue (``location_voulue``: the rank of each applicant for an
advertised dwelling). Imports ``data``, ``grid``, ``engine`` and ``info``; nothing above.

Public surface: :func:`compare`, :class:`Comparison`; :mod:`cotation.analysis.evaluate` and
:mod:`cotation.analysis.location_voulue` for the evaluation and location voulue.
"""
from cotation.analysis.compare import DEFAULT_TOP, Comparison, compare

__all__ = ["DEFAULT_TOP", "Comparison", "compare"]

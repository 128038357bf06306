"""Gestion en flux des réservations: assiette, targets, dispatch, décompte, bilans (flux.md).

The chain, each step a function of the previous one's output::

    logements, conventions, événements
      → compute_assiette   (exclusions, rotation, soustractions, flux net)
      → compute_targets    (exact shares, largest-remainder rounding) + validate (legal checks)
      → run_dispatch       (§8 deficits, audit log, shortlists via a CandidateSource)
      → compute_bilan      (décompte at each convention's step, breakdowns, HTML report)
      → consolidate        (several bailleurs' bilans for the EPCI / CIL)

Beside the chain: ``delays`` (deadlines of each mise à disposition, derived defaults of
designation), ``etat`` (état des lieux of the stock), ``conversion`` (stock → flux methods).

Names are imported on first use, so ``cotation --help`` does not load numpy or jsonschema.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Assiette": "assiette", "compute_assiette": "assiette", "flux_from_counts": "assiette",
    "Bilan": "bilan", "compute_bilan": "bilan",
    "check_parties": "checks", "validate": "checks",
    "consolidate": "consolidate", "read_bilan": "consolidate",
    "deadline": "delays", "derive_defaults": "delays", "echeances": "delays",
    "etat_des_lieux": "etat", "resolve_quantities": "conversion",
    "ConventionFile": "conventions", "Settings": "conventions", "load_conventions": "conventions",
    "loads_conventions": "conventions",
    "Charge": "decompte", "charge_vacancy": "decompte",
    "Dispatcher": "dispatch", "DispatchResult": "dispatch", "run_dispatch": "dispatch", "verify_audit": "dispatch",
    "FluxInputError": "errors", "Issue": "errors", "Problem": "errors",
    "read_evenements": "inputs", "read_logements": "inputs",
    "BAILLEUR": "model", "Evenement": "model", "Logement": "model",
    "largest_remainder": "rounding",
    "Candidate": "shortlist", "CandidateSource": "shortlist", "ScoreFileSource": "shortlist", "Shortlist": "shortlist",
    "Targets": "targets", "compute_targets": "targets",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cotation.flux' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)

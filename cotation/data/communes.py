"""The French communes with their département and EPCI, shipped as package data.

``communes.csv.gz`` is built by ``scripts/build_communes.py`` from the Code officiel
géographique (npm ``@etalab/decoupage-administratif``, Licence Ouverte; see
``communes.SOURCE.txt``). It is read once per process through an ``lru_cache``'d loader; the
returned mapping is read-only. Municipal arrondissements (Paris, Lyon, Marseille) carry their
commune's EPCI.

>>> commune("25056").epci_nom
'CU Grand Besançon Métropole'
>>> commune("99999") is None
True
"""
from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Iterable, Mapping


@dataclass(frozen=True, slots=True)
class Commune:
    code: str
    nom: str
    departement: str
    epci: str          # SIREN of the EPCI à fiscalité propre, "" when none
    epci_nom: str


@lru_cache(maxsize=1)
def communes() -> Mapping[str, Commune]:
    """INSEE code → :class:`Commune` (read-only)."""
    blob = resources.files("cotation.data").joinpath("communes.csv.gz").read_bytes()
    text = gzip.decompress(blob).decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    return MappingProxyType({row[0]: Commune(*row) for row in reader})


def commune(code: str) -> Commune | None:
    """The commune of an INSEE code, or ``None`` when unknown."""
    return communes().get(code)


def epci_of(codes: Iterable[str]) -> dict[str, str]:
    """INSEE code → EPCI SIREN for the given codes ("" for unknown codes or communes outside any EPCI)."""
    table = communes()
    return {c: (table[c].epci if c in table else "") for c in codes}


def epci_names() -> Mapping[str, str]:
    """EPCI SIREN → name."""
    return _epci_names()


@lru_cache(maxsize=1)
def _epci_names() -> Mapping[str, str]:
    return MappingProxyType({c.epci: c.epci_nom for c in communes().values() if c.epci})

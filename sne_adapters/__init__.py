"""Adapters from real demande sources to the canonical table (``cotation.data``).

Sources read by :func:`read_demandes`: SNE web-service XML (interfaceNuu 02.00/02.01) and any
CSV extraction described by a YAML mapping, plus the canonical CSV and Parquet that
``cotation.data`` reads itself. Every row read is either accepted or rejected with its line,
column, value and reason.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping as TMapping

from cotation.data.build import AdapterResult
from cotation.data.output import write_results
from cotation.data.sources import (
    detect_format, read_attributions, read_canonical, write_attributions, write_demandes
)
from cotation.data.table import ReadResult
from cotation.i18n import _

_LAZY = {"Mapping", "MappingError", "load_mapping"}   # sne_adapters.mapping: PyYAML, JSON Schema

__all__ = [
    "AdapterResult", "Mapping", "MappingError", "detect_format", "load_mapping",
    "read_attributions", "read_demandes", "write_attributions", "write_demandes",
    "write_results",
]


def __getattr__(name: str) -> Any:
    """The mapping names, imported on first use (reading a canonical file does not need them)."""
    if name in _LAZY:
        from sne_adapters import mapping
        return getattr(mapping, name)
    raise AttributeError(f"module 'sne_adapters' has no attribute {name!r}")


def read_demandes(path: str | Path, mapping: "str | Path | TMapping[str, Any] | Mapping | None" = None,
                  strict: bool = False, local: "TMapping[str, Any] | None" = None) -> ReadResult:
    """Read any supported source into the canonical table (an :class:`AdapterResult`).

    With ``mapping`` the file is a CSV extraction read through it. Otherwise the format is
    detected: Parquet, SNE XML, or canonical CSV (whose header must name canonical columns).
    ``strict`` raises ``cotation.data.StrictModeError`` on the first reject. ``local``: a grid's
    local fields by name (``cotation.engine.reads.local_field_columns``), which a Parquet
    file's typed columns are read by.
    """
    fmt = detect_format(path)
    if mapping is not None:
        if fmt != "csv":
            raise ValueError(_("{path}: a mapping describes a CSV extraction, this is {format}")
                             .format(path=path, format=fmt))
        from sne_adapters.mapping import read_mapped_csv
        return read_mapped_csv(path, mapping, strict=strict)
    if fmt == "sne-xml":
        from sne_adapters.sne_xml import read_sne_xml
        return read_sne_xml(path, strict=strict)
    return read_canonical(path, fmt, strict=strict, local=local)

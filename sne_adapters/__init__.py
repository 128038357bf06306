"""Adapters between real demande sources and the canonical table, and results written back.

Sources read by :func:`read_demandes`: canonical CSV, canonical Parquet, SNE web-service XML
(interfaceNuu 02.00/02.01), and any CSV extraction described by a YAML mapping. Every row read
is either accepted or rejected with its line, column, value and reason.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping as TMapping

from cotation.table import AttributionTable, DemandeTable, ReadResult, Reject

from ._engine import AdapterResult
from .mapping import Mapping, MappingError, load_mapping
from .results import write_results

__all__ = [
    "AdapterResult", "Mapping", "MappingError", "detect_format", "load_mapping",
    "read_attributions", "read_demandes", "write_attributions", "write_demandes",
    "write_results",
]

PARQUET_SUFFIXES = (".parquet", ".pq")


def detect_format(path: str | Path) -> str:
    """``parquet``, ``sne-xml`` or ``csv``, from the first bytes, then the extension."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PAR1"):
        return "parquet"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if body.lstrip().startswith(b"<"):
        return "sne-xml"
    suffix = Path(path).suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix == ".xml":
        return "sne-xml"
    return "csv"


def read_demandes(path: str | Path, mapping: "str | Path | TMapping[str, Any] | Mapping | None" = None,
                  strict: bool = False) -> ReadResult:
    """Read any supported source into the canonical table (an :class:`AdapterResult`).

    With ``mapping`` the file is a CSV extraction read through it. Otherwise the format is
    detected: Parquet, SNE XML, or canonical CSV (whose header must name canonical columns).
    ``strict`` raises ``cotation.table.StrictModeError`` on the first reject.
    """
    fmt = detect_format(path)
    if mapping is not None:
        if fmt != "csv":
            raise ValueError(f"{path}: a mapping describes a CSV extraction, this is {fmt}")
        from .mapping import read_mapped_csv
        return read_mapped_csv(path, mapping, strict=strict)
    if fmt == "parquet":
        from .canonical import read_canonical_parquet
        return read_canonical_parquet(path, strict=strict)
    if fmt == "sne-xml":
        from .sne_xml import read_sne_xml
        return read_sne_xml(path, strict=strict)
    try:
        from .canonical import read_canonical_csv
    except ImportError:  # pyarrow is optional: the reference reader gives the same result
        from cotation.table import read_demandes_csv
        res = read_demandes_csv(path, strict=strict)
        return AdapterResult(res.table, res.rejects, res.n_read, list(res.table.extras), "csv")
    try:
        return read_canonical_csv(path, strict=strict)
    except ValueError as exc:
        if "missing required column" in str(exc):
            raise ValueError(f"{exc}; if this is an extraction with its own columns, "
                             "pass a mapping (--mapping FILE)") from None
        raise


def write_demandes(table: DemandeTable, path: str | Path) -> None:
    """Canonical CSV or Parquet, chosen by the extension of ``path``."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        from .canonical import write_demandes_parquet
        write_demandes_parquet(table, path)
    else:
        from cotation.table import write_demandes_csv
        write_demandes_csv(table, path)


def read_attributions(path: str | Path, *, strict: bool = False
                      ) -> tuple[AttributionTable, list[Reject], int]:
    """Attributions from CSV or Parquet: (table, rejects, rows read)."""
    if detect_format(path) == "parquet":
        from .canonical import read_attributions_parquet
        return read_attributions_parquet(path, strict=strict)
    from cotation.table import read_attributions_csv
    return read_attributions_csv(path, strict=strict)


def write_attributions(table: AttributionTable, path: str | Path) -> None:
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        from .canonical import write_attributions_parquet
        write_attributions_parquet(table, path)
    else:
        from cotation.table import write_attributions_csv
        write_attributions_csv(table, path)

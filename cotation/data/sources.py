"""Reading and writing canonical sources: format detection, canonical CSV and Parquet.

Formats of other systems (SNE XML, mapped local extractions) are read by ``sne_adapters``,
whose ``read_demandes`` takes every format and hands the canonical ones to this module; the CLI
uses that one. Nothing in ``cotation`` imports ``sne_adapters``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from cotation.data.schema import Column
from cotation.data.table import AttributionTable, DemandeTable, HeaderError, ReadResult, Reject
from cotation.i18n import _

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


def read_canonical(path: str | Path, fmt: str, *, strict: bool = False,
                   local: Mapping[str, Column] | None = None) -> ReadResult:
    """A canonical CSV or Parquet file of demandes (``fmt`` from :func:`detect_format`);
    ``local``: a grid's local fields by name, which a Parquet file's typed columns are read by
    (CSV cells are text either way)."""
    if fmt == "parquet":
        from cotation.data.canonical import read_canonical_parquet
        return read_canonical_parquet(path, strict=strict, local=local)
    if fmt != "csv":
        raise ValueError(f"{path}: {fmt} is not a canonical format; read it with "
                         "sne_adapters.read_demandes")
    from cotation.data.canonical import read_canonical_csv
    try:
        return read_canonical_csv(path, strict=strict)
    except HeaderError as exc:
        if exc.missing:
            raise ValueError(_("{problem}; if this is an extraction with its own columns, pass "
                               "a mapping (--mapping FILE)").format(problem=exc)) from None
        raise


def read_demandes(path: str | Path, *, strict: bool = False,
                  local: Mapping[str, Column] | None = None) -> ReadResult:
    """Canonical demandes from CSV or Parquet (detected from the first bytes, then the
    extension). ``strict`` raises :class:`~cotation.data.table.StrictModeError` on the first
    reject; ``local`` as in :func:`read_canonical`."""
    return read_canonical(path, detect_format(path), strict=strict, local=local)


def write_demandes(table: DemandeTable, path: str | Path) -> None:
    """Canonical CSV or Parquet, chosen by the extension of ``path``."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        from cotation.data.canonical import write_demandes_parquet
        write_demandes_parquet(table, path)
    else:
        from cotation.data.table import write_demandes_csv
        write_demandes_csv(table, path)


def read_attributions(path: str | Path, *, strict: bool = False
                      ) -> tuple[AttributionTable, list[Reject], int]:
    """Attributions from CSV or Parquet: (table, rejects, rows read)."""
    if detect_format(path) == "parquet":
        from cotation.data.canonical import read_attributions_parquet
        return read_attributions_parquet(path, strict=strict)
    from cotation.data.canonical import read_attributions_csv
    return read_attributions_csv(path, strict=strict)


def write_attributions(table: AttributionTable, path: str | Path) -> None:
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        from cotation.data.canonical import write_attributions_parquet
        write_attributions_parquet(table, path)
    else:
        from cotation.data.table import write_attributions_csv
        write_attributions_csv(table, path)

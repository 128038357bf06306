"""Reading demandes from any supported source (canonical CSV here; other formats through
``sne_adapters`` when installed)."""
from __future__ import annotations

from pathlib import Path

from .table import ReadResult, read_demandes_csv


def read_demandes(path: str | Path, *, mapping: str | Path | None = None,
                  strict: bool = False) -> ReadResult:
    try:
        from sne_adapters import read_demandes as read_any
    except ImportError:
        read_any = None
    if read_any is not None:
        return read_any(path, mapping=mapping, strict=strict)
    if mapping is not None or Path(path).suffix.lower() != ".csv":
        raise ValueError(f"{path}: only canonical CSV can be read without sne_adapters")
    return read_demandes_csv(path, strict=strict)

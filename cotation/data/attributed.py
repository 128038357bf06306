"""Reading an attribution table that carries the attributed demandes (``cotation evaluate``).

One row per lease: the attribution columns (``ATTRIBUTION_COLUMNS``, optional
``financement``, ``qpv``, ``reservataire``) and the demande as it stood on its attribution date
(``ATTRIBUTION_DEMANDE_COLUMNS``). The demande part is read by the canonical demande reader
(same parse rules, same rejects), the attribution part by the attribution record parser; a
row is accepted when both are, so accepted + rejected = read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from cotation.data.boundary import check_columns
from cotation.data.schema import COLUMNS_BY_NAME
from cotation.data.sources import read_demandes
from cotation.data.table import (
    ATTRIBUTION_FIELDS, AttributionTable, DemandeTable, HeaderError, Reject, StrictModeError,
    parse_attribution,
)
from cotation.data.values import format_cell
from cotation.i18n import _


@dataclass
class AttributedRead:
    """Attributions and their demandes, row for row, with the rejected rows."""

    attributions: AttributionTable
    demandes: DemandeTable
    rejects: list[Reject] = field(default_factory=list)
    n_read: int = 0

    def summary(self) -> dict[str, int]:
        return {"read": self.n_read, "accepted": len(self.attributions),
                "rejected": len(self.rejects)}


def read_attributed(path: str | Path, *, strict: bool = False,
                    needs: Mapping[str, Sequence[str]] | None = None) -> AttributedRead:
    """Read a CSV or Parquet attribution table with the attributed demandes' columns.

    Raises ValueError (located, one line) when a required column is missing, or a column of
    ``needs`` (what a grid reads: :class:`~cotation.data.boundary.MissingColumnsError`)."""
    try:
        res = read_demandes(path, strict=strict)
    except StrictModeError:
        raise
    except ValueError as exc:
        raise ValueError(_("{problem} (the attributions must carry the attributed demande's "
                           "columns: see docs/evaluation.md)").format(problem=exc)) from None
    check_columns(res, needs, str(path))
    table = res.table
    attr_only = [k for k in ATTRIBUTION_FIELDS if k not in COLUMNS_BY_NAME]
    missing = [k for k in attr_only if ATTRIBUTION_FIELDS[k].required and k not in table.extras]
    if missing:
        raise HeaderError(str(path), missing=missing)
    lines = table.source_lines or list(range(2, len(table) + 2))
    shared = {k: [format_cell(COLUMNS_BY_NAME[k], v) for v in table.columns[k]]
              for k in ATTRIBUTION_FIELDS if k in COLUMNS_BY_NAME}
    raw = {k: table.extras.get(k, [None] * len(table)) for k in attr_only}
    cols: dict[str, list] = {k: [] for k in ATTRIBUTION_FIELDS}
    keep: list[int] = []
    rejects = list(res.rejects)
    for i in range(len(table)):
        rec = {k: v[i] for k, v in shared.items()}
        rec.update({k: v[i] for k, v in raw.items()})
        values, bad = parse_attribution(rec, lines[i])
        if bad is not None:
            if strict:
                raise StrictModeError(bad, str(path))
            rejects.append(bad)
            continue
        keep.append(i)
        for k in cols:
            cols[k].append(values[k])
    demandes = table.take(keep)
    for k in attr_only:
        demandes.extras.pop(k, None)
    rejects.sort(key=lambda r: r.line)
    return AttributedRead(AttributionTable(cols), demandes, rejects, res.n_read)

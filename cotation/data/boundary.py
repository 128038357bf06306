"""The one boundary every demande source crosses, for the CLI and the API alike.

:func:`admit` turns a source into the canonical typed table, the rejects (line or row, column,
value, reason) and a :class:`Report`: rows read, accepted and rejected (always
``accepted + rejected == read``), code cells left-padded, unknown columns with a did-you-mean for
near misses, canonical columns absent. Sources:

- a file path: canonical CSV or Parquet, read by :func:`cotation.data.read_demandes`, or any
  format the caller's ``reader`` knows (the CLI passes ``sne_adapters.read_demandes`` for SNE
  XML and mapped extractions; ``cotation`` never imports ``sne_adapters``);
- in memory: a pandas or polars DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader,
  anything with ``__arrow_c_stream__``, a dict of columns, a list of dicts: converted to one
  Arrow table (:mod:`cotation.data.arrow`), then read with the canonical CSV's vectorised
  parsers, so the same rules hold whatever the format and the size;
- a :class:`~cotation.data.table.DemandeTable` is already canonical and passes as it is.

With ``needs`` (what a grid reads: column -> the criteria, derived fields, ordering or peers
that read it), a column the source lacks is a :class:`MissingColumnsError` naming the column and
its readers: such a source cannot be scored without silently changing scores.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from cotation.i18n import _
from cotation.data.schema import COLUMNS, COLUMNS_BY_NAME, Column
from cotation.data.table import DemandeTable, ReadResult, Reject


class MissingColumnsError(ValueError):
    """The source lacks columns the grid reads (and declares no default for)."""

    def __init__(self, source: str, missing: Mapping[str, Sequence[str]],
                 near: Mapping[str, str] | None = None):
        self.missing = {k: tuple(v) for k, v in missing.items()}
        near = near or {}
        parts = [_("{name} (read by {readers})").format(name=name, readers=", ".join(readers))
                 + (_(" — the source has {near!r}, a misspelling?").format(near=near[name])
                    if name in near else "")
                 for name, readers in self.missing.items()]
        super().__init__(_("{source}: missing column(s) the grid reads: {parts}").format(
            source=source, parts="; ".join(parts)))


def rejected_rows(rejects: Sequence[Reject]) -> set[int]:
    """The source rows (``line``) that ``rejects`` refuse, each once: a row can have several
    rejects (one per unreadable local field)."""
    return {r.line for r in rejects}


@dataclass
class Report:
    """What the boundary saw of one source."""

    source: str
    format: str
    read: int
    accepted: int
    rejected: int
    padded: dict[str, int] = field(default_factory=dict)
    unknown_columns: dict[str, str | None] = field(default_factory=dict)  # name -> did you mean
    absent_columns: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """What ``--strict`` fails on besides rejects: likely misspelled columns, and codes
        that arrived as numbers."""
        out = [_("column {name}: {n} code(s) given as numbers, left-padded to 5 digits "
                 "(read this column as text)").format(name=name, n=n) for name, n in self.padded.items()]
        out += [_("unknown column {name!r}: did you mean {hint!r}?").format(name=name, hint=hint)
                for name, hint in self.unknown_columns.items() if hint]
        return out

    def with_rejects(self, rejects: Sequence[Reject]) -> "Report":
        """This report once ``rejects`` found after the boundary (a grid's local field values
        that scoring cannot read) are counted: the rows they name move from accepted to
        rejected, each row once however many of its cells were refused, so
        ``accepted + rejected == read`` still holds. ``self`` is left as it is."""
        rows = rejected_rows(rejects)
        if not rows:
            return self
        return replace(self, accepted=self.accepted - len(rows),
                       rejected=self.rejected + len(rows))

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "format": self.format, "read": self.read,
                "accepted": self.accepted, "rejected": self.rejected,
                "padded": dict(self.padded), "unknown_columns": dict(self.unknown_columns),
                "absent_columns": list(self.absent_columns), "warnings": self.warnings}


@dataclass
class Admitted:
    """The canonical table, its rejects and the report."""

    result: ReadResult
    report: Report

    @property
    def table(self) -> DemandeTable:
        return self.result.table

    @property
    def rejects(self) -> list[Reject]:
        return self.result.rejects


def _locals(known_extras: Sequence[str] | Mapping[str, Column]) -> dict[str, Column] | None:
    """The local fields of ``known_extras`` by name when it gives their columns, else None."""
    if not isinstance(known_extras, Mapping):
        return None
    return {k: c for k, c in known_extras.items() if k not in COLUMNS_BY_NAME} or None


def did_you_mean(name: str, known: Sequence[str]) -> str | None:
    hits = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
    return hits[0] if hits else None


def check_columns(result: ReadResult, needs: Mapping[str, Sequence[str]] | None,
                  name: str) -> None:
    """Raise :class:`MissingColumnsError` when the source ``result`` was read from lacks a
    column of ``needs`` (what grids read: :func:`cotation.engine.reads.columns_read`). For the
    readers that do not go through :func:`admit` (attributions carrying their demandes)."""
    present = getattr(result, "source_columns", None)
    if needs and present is not None:
        have = set(present) | set(result.table.extras)
        missing = {c: r for c, r in needs.items() if c not in have}
        if missing:
            near = {m: c for c in result.unmapped_columns
                    if (m := did_you_mean(c, list(missing))) is not None}
            raise MissingColumnsError(name, missing, near)


def admit(data: Any, *, needs: Mapping[str, Sequence[str]] | None = None,
          known_extras: Sequence[str] | Mapping[str, Column] = (), strict: bool = False,
          reader: Callable[..., ReadResult] | None = None, source: str | None = None) -> Admitted:
    """Read ``data`` into the canonical table, rejects and report (see the module docstring).

    ``needs``: columns a grid reads, each with what reads it; ``known_extras``: extra columns
    that are expected (a grid's local fields), never reported unknown: their names, or each
    name's :class:`~cotation.data.schema.Column` (:func:`cotation.engine.reads.local_field_columns`),
    whose kind an in-memory source's column is then read by (an integer ``commune`` field is
    left-padded, a float in a text one is a reject, as for a canonical column); ``strict`` raises
    :class:`~cotation.data.table.StrictModeError` on the first reject; ``reader(path,
    strict=..., local=...)`` reads files (default :func:`cotation.data.read_demandes`;
    ``local`` is given only when ``known_extras`` gives columns)."""
    if isinstance(data, (str, Path)):
        name = source or str(data)
        local = _locals(known_extras)
        if reader is None:
            from cotation.data.sources import read_demandes as reader
        # a typed file (Parquet) reads a grid's local fields by their kind, as in memory (an
        # integer commune field is left-padded); a text format holds text, read as such
        result = reader(data, strict=strict, local=local) if local else reader(data, strict=strict)
    elif isinstance(data, DemandeTable):
        name = source or "<table>"
        result = ReadResult(data, [], len(data))
    else:
        from cotation.data.arrow import to_arrow
        from cotation.data.canonical import read_arrow_table
        name = source or f"<{type(data).__name__}>"
        local = _locals(known_extras)
        result = read_arrow_table(to_arrow(data, local), source=name, strict=strict,
                                  local=local)
    present = getattr(result, "source_columns", None)
    fmt = getattr(result, "source_format", "") or ("table" if isinstance(data, DemandeTable)
                                                   else "")
    check_columns(result, needs, name)
    unknown: dict[str, str | None] = {}
    if fmt in ("csv", "parquet", "arrow"):
        vocabulary = [c.name for c in COLUMNS] + list(known_extras)
        for col in result.unmapped_columns:
            if col not in known_extras:
                unknown[col] = did_you_mean(col, vocabulary)
    absent = [c.name for c in COLUMNS if present is not None and c.name not in present]
    report = Report(name, fmt, result.n_read, result.n_accepted, len(result.rejects),
                    dict(getattr(result, "padded", {}) or {}), unknown, absent)
    return Admitted(result, report)

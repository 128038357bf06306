"""Canonical demandes and attributions in CSV and Parquet.

CSV follows ``demande-schema.md`` and reads exactly like ``cotation.data.table.read_demandes_csv``
(same rows, values, rejects and line numbers) but vectorised; in addition a line whose bytes are
not UTF-8 becomes a reject instead of stopping the run.

Parquet holds the same columns with native types: text and codes as ``string``, ``int64``,
``float64``, ``date32``, ``bool``; a set of codes (``motifs``, ``typologies``,
``criteres_valides``) as ``list<string>`` in canonical order, and ``localisations`` as
``list<string>`` in preference order. Extra columns are ``string``. The reader also accepts
``|``-joined strings or plain strings in any column (they are parsed as CSV cells), integral
floats in integer columns (pandas writes those), and reports row numbers (1-based) as lines.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa

from cotation.data.schema import ATTRIBUTION_COLUMNS, COLUMNS, COLUMNS_BY_NAME, Column, Kind
from cotation.data.table import (
    ATTRIBUTION_FIELDS, AttributionTable, DemandeTable, Reject, StrictModeError, arrow_type,
    arrow_values, check_columns,
)
from cotation.data.values import MULTI_SEPARATOR, ValueParseError, parse_cell

from cotation.data.arrow import SourceTypeError, records_from_arrow
from cotation.data.build import AdapterResult, build_table, check_records, of_type
from cotation.data.split import Records, file_bytes, odd_reason, split_records
from cotation.data.vector import FieldSpec, canonical_sets
from cotation.i18n import _

BOM = b"\xef\xbb\xbf"


def _source_bytes(path: str | Path):
    """The file's bytes (mapped when it can be, :func:`file_bytes`), without a leading BOM."""
    data = file_bytes(path)
    if data[:len(BOM)] == BOM:
        data = data[len(BOM):]      # bytes (a copy of a mapped file)
    return data


def canonical_parser(col: Column):
    """``parse_cell`` plus the required check, as the reference reader applies them."""
    def parse(text: str) -> Any:
        value = parse_cell(col, text)
        if col.required and (value is None or value == ""):
            raise ValueParseError(_("{name} is required").format(name=col.name))
        return value
    return parse


def canonical_fields(header: list[str]) -> list[FieldSpec]:
    out = []
    for i, name in enumerate(header):
        col = COLUMNS_BY_NAME.get(name)
        if col is None:
            continue
        number = {Kind.INT: "int", Kind.DECIMAL: "decimal"}.get(col.kind)
        split = (MULTI_SEPARATOR,) if col.kind is Kind.COMMUNES else ()
        out.append(FieldSpec(col.name, (i,), col.name, canonical_parser(col), col.kind,
                             col.required, number, communes_split=split,
                             canonical=True))
    return out


def check_header(header: list[str], source: str) -> None:
    check_columns(header, [c.name for c in COLUMNS if c.required], source)


def shown(text: str) -> str:
    """Text that may hold surrogate escapes, printable (undecodable bytes as \\xNN)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def decode_reject(line: int, cells: list[str], header: list[str], encoding: str,
                  nu: str, *, mapping: bool = True) -> Reject:
    """A record holding bytes that ``encoding`` cannot decode (``mapping``: the file could
    declare its encoding in a mapping, which the reason then suggests)."""
    for name, cell in zip(header + ["*"] * len(cells), cells):
        raw = cell.encode("utf-8", "surrogateescape")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start:exc.end].hex()
            why = _("bytes 0x{bad} are not valid {encoding}; declare the file's encoding "
                    "in a mapping (encoding: cp1252 for most Windows exports)") if mapping else \
                _("bytes 0x{bad} are not valid {encoding}; save the file as UTF-8 (most "
                  "spreadsheets offer it as \"CSV UTF-8\")")
            return Reject(line, name, shown(cell), why.format(bad=bad, encoding=encoding), nu)
    return Reject(line, "*", "", _("line is not valid {encoding}").format(encoding=encoding), nu)


def odd_rejecter(header: list[str], nu_idx: int, encoding: str, *, mapping: bool = True
                 ) -> Callable[[int, list[str], str], Reject]:
    """The reject of an odd record (see :class:`cotation.data.split.Records`): its bytes, its
    cell count, an oversized or malformed cell; ``mapping`` as in :func:`decode_reject`."""
    width = len(header)

    def odd(line: int, cells: list[str], why: str) -> Reject:
        nu = shown(cells[nu_idx].strip()) if len(cells) > nu_idx else ""
        if why == "encoding":
            return decode_reject(line, cells, header, encoding, nu, mapping=mapping)
        return Reject(line, "*", "", odd_reason(cells, why, width), nu)
    return odd


def read_canonical_csv(path: str | Path, *, strict: bool = False, fast: bool = True) -> AdapterResult:
    """Read a canonical demande CSV. ``fast=False`` is the row-by-row path (tests, debugging).
    The bytes are UTF-8 (a BOM is dropped); pyarrow checks that on the fast path, and a file
    that is not goes to the exact path, where each undecodable line is a reject."""
    source = str(path)
    data = _source_bytes(path)
    records = split_records(data, None, fast=fast, source=source)
    return records_to_result(records, source=source, strict=strict, fast=fast, fmt="csv")


def records_to_result(records: Records, *, source: str, strict: bool, fast: bool,
                      fmt: str, encoding: str = "utf-8", pre_rejects: Sequence[Reject] = (),
                      padded: dict[str, int] | None = None) -> AdapterResult:
    """Typed table of canonical ``records``; ``pre_rejects`` are rows already rejected (they
    count as read)."""
    header = records.header
    check_header(header, source)
    fields = canonical_fields(header)
    extras = [(h, i) for i, h in enumerate(header) if h not in COLUMNS_BY_NAME]
    nu_idx = header.index("numero_unique")
    table, rejects = build_table(records, fields, extras, nu_source=nu_idx, source=source,
                                 strict=strict, vectorised=fast,
                                 odd_reject=odd_rejecter(header, nu_idx, encoding),
                                 pre_rejects=pre_rejects)
    return AdapterResult(table, rejects, records.n_read + len(pre_rejects),
                         [name for name, _ in extras], fmt,
                         source_columns=[f.name for f in fields], padded=dict(padded or {}))


# ----------------------------------------------------------------------------- Parquet

class UnreadableColumnError(ValueError):
    """A Parquet file that is no Parquet, or a column of it whose type no canonical column can
    be read from (a struct, a map, a binary…): the whole file is refused, located at its
    header (``path:1``)."""


def read_canonical_parquet(path: str | Path, *, strict: bool = False, fast: bool = True,
                           local: Mapping[str, Column] | None = None) -> AdapterResult:
    import pyarrow.parquet as pq        # here: reading CSV does not pay for its import
    table = _parquet_table(pq, path)
    try:
        return read_arrow_table(table, source=str(path), strict=strict, fast=fast,
                                fmt="parquet", local=local)
    except SourceTypeError as exc:
        raise UnreadableColumnError(f"{path}:1: {exc}") from None


def _parquet_table(pq: Any, path: str | Path) -> pa.Table:
    """The Parquet file ``path`` read whole; a file that is not Parquet (or is damaged) is a
    ValueError in the user's language, not pyarrow's English."""
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        reason = _("it does not end with the Parquet signature") if "magic bytes" in str(exc) \
            else str(exc).split(". ")[0][:160]
        raise UnreadableColumnError(_("{path}: not a readable Parquet file ({reason})").format(
            path=path, reason=reason)) from None


def read_arrow_table(table: pa.Table, *, source: str, strict: bool = False, fast: bool = True,
                     fmt: str = "arrow", local: Mapping[str, Column] | None = None
                     ) -> AdapterResult:
    """Canonical demandes from an Arrow table with canonical column names (native types or
    canonical text; see :mod:`cotation.data.arrow` for the rules); lines are row numbers.
    ``local``: a grid's local fields by name, read by the rules of their kind."""
    check_header([str(h) for h in table.column_names], source)
    cells = records_from_arrow(table, local=local)
    return records_to_result(cells.records, source=source, strict=strict, fast=fast, fmt=fmt,
                             pre_rejects=cells.rejects, padded=cells.padded)


def demandes_to_arrow(table: DemandeTable) -> pa.Table:
    """The table with the canonical Parquet types (the checked arrays when it holds them)."""
    arrays, names = [], []
    for c in COLUMNS:
        arr = table.arrow_column(c.name)
        if arr is None:
            arr = arrow_values(c, table.columns[c.name])
        elif pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        elif c.kind is Kind.CODESET:
            arr = canonical_sets(c, arr)
        arrays.append(arr)
        names.append(c.name)
    for name in table.extras:
        arr = table.arrow_column(name)
        arrays.append(arr if arr is not None else pa.array(table.extras[name], pa.string()))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def write_parquet(table: pa.Table, path: str | Path) -> None:
    """Deterministic Parquet (no wall-clock metadata), written through a temporary file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    import pyarrow.parquet as pq
    pq.write_table(table, tmp, compression="zstd", write_statistics=True)
    os.replace(tmp, path)


def write_demandes_parquet(table: DemandeTable, path: str | Path) -> None:
    write_parquet(demandes_to_arrow(table), path)


# ----------------------------------------------------------------------------- attributions

_ATTRIBUTION_REQUIRED = [c for c in ATTRIBUTION_COLUMNS if ATTRIBUTION_FIELDS[c].required]


def read_attributions_csv(path: str | Path, *, strict: bool = False, fast: bool = True
                          ) -> tuple[AttributionTable, list[Reject], int]:
    """Read an attribution CSV (``ATTRIBUTION_COLUMNS``) with the rules of the demandes' CSV:
    UTF-8 (a BOM is dropped), blank lines skipped, a record whose cell count differs from the
    header's, holding bytes that are not UTF-8 or a cell too long is a reject; each field is
    checked by its canonical parser (vectorised, the rows it cannot vouch for row by row;
    ``fast=False`` is the row-by-row path), the first bad field of a row is its reject."""
    source = str(path)
    data = _source_bytes(path)
    return _attributions(split_records(data, None, fast=fast, source=source), source,
                         strict=strict, fast=fast)


def _attributions(records: Records, source: str, *, strict: bool, fast: bool,
                  pre_rejects: Sequence[Reject] = ()) -> tuple[AttributionTable, list[Reject], int]:
    """Checked attribution table of ``records`` (CSV split or Parquet cells); ``pre_rejects``:
    rows already rejected (they count as read)."""
    header = records.header
    check_columns(header, _ATTRIBUTION_REQUIRED, source)
    fields = [FieldSpec(name, (header.index(name),), name, canonical_parser(col), col.kind,
                        col.required, canonical=True)
              for name, col in ATTRIBUTION_FIELDS.items() if name in header]
    nu_idx = header.index("numero_unique")
    odd = odd_rejecter(header, nu_idx, "utf-8", mapping=False)
    checked = check_records(records, fields, nu_source=nu_idx, vectorised=fast,
                            display=lambda s: s)
    rejects = [*pre_rejects, *(odd(line, cells, why) for line, cells, why in records.odd),
               *checked.rejects]
    rejects.sort(key=lambda r: r.line)
    if strict and rejects:
        raise StrictModeError(rejects[0], source)
    keep = ~checked.rejected
    n_keep = int(keep.sum())
    mask = None if keep.all() else pa.array(keep)
    columns: dict[str, pa.Array] = {}
    for name, col in ATTRIBUTION_FIELDS.items():
        if name in checked.values:
            arr = of_type(checked.values[name], arrow_type(col.kind))
            columns[name] = arr if mask is None else arr.filter(mask)
        else:
            columns[name] = pa.nulls(n_keep, arrow_type(col.kind))
    return AttributionTable.from_arrow(columns, n_keep), rejects, records.n_read + len(pre_rejects)


def read_attributions_parquet(path: str | Path, *, strict: bool = False, fast: bool = True
                              ) -> tuple[AttributionTable, list[Reject], int]:
    """Same result shape and rules as :func:`read_attributions_csv`, with the rules of typed
    columns of :mod:`cotation.data.arrow` (dates as ``date32``, booleans, INSEE codes as text
    or integers; a floating-point number where text or a code is expected is a reject);
    lines are row numbers (1-based)."""
    import pyarrow.parquet as pq
    source = str(path)
    table = _parquet_table(pq, path)
    header = [str(h) for h in table.column_names]
    check_columns(header, _ATTRIBUTION_REQUIRED, source)
    try:
        cells = records_from_arrow(table.select([h for h in header if h in ATTRIBUTION_FIELDS]),
                                   ATTRIBUTION_FIELDS)
    except SourceTypeError as exc:
        raise UnreadableColumnError(f"{source}:1: {exc}") from None
    return _attributions(cells.records, source, strict=strict, fast=fast,
                         pre_rejects=cells.rejects)


def write_attributions_parquet(table: AttributionTable, path: str | Path) -> None:
    arrays, names = [], []
    for name, col in ATTRIBUTION_FIELDS.items():
        arrays.append(pa.array(table.columns[name], arrow_type(col.kind)))
        names.append(name)
    write_parquet(pa.Table.from_arrays(arrays, names=names), path)

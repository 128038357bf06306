"""Columnar validation: typed canonical columns from string columns, with exact row fallback.

Each field has a scalar parser (the definition of what a cell means) and is first checked
vectorised: distinct values are parsed once each with the scalar parser, high-cardinality
numbers go through an anchored regex plus an Arrow cast that equals ``int``/``float`` on the
strings the regex admits, and localisations through an Arrow list split. A row any field cannot vouch for is parsed again, field by field
in order, with the scalar parsers alone, exactly as a row-by-row reader would; so the result,
rejects included, is the same as the row-by-row path (``vectorised=False``) by construction.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.schema import COLUMNS, Kind
from cotation.data.table import DemandeTable, ReadResult, Reject, StrictModeError
from cotation.data.values import COUNT_COLUMNS, MAX_MAGNITUDE, ValueParseError

from cotation.data.split import Records
from cotation.i18n import _

JOIN = "\x1f"  # joins the cells of a field read from several source columns

# Characters str.strip() removes; a cell starting or ending with one goes the scalar way.
_PY_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_EDGE_SPACE = f"^{_PY_SPACE}|{_PY_SPACE}$"
_UNIQUE_LIMIT = 1 << 15


@dataclass
class AdapterResult(ReadResult):
    """A :class:`cotation.data.table.ReadResult` with what the adapter saw of the source."""

    source_format: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # Canonical columns the source provides (None: not known, e.g. SNE XML, where every
    # field is optional per demande) and code cells left-padded to 5 digits, per column.
    source_columns: list[str] | None = None
    padded: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["format"] = self.source_format
        out.update(self.details)
        if self.padded:
            out["padded"] = dict(self.padded)
        return out


@dataclass(frozen=True)
class FieldSpec:
    """How one canonical column is read from one or more source columns."""

    name: str
    sources: tuple[int, ...]
    label: str                                  # Reject.column
    parse: Callable[[str], Any]                 # raises ValueParseError; checks `required`
    kind: Kind
    required: bool = False
    number: str | None = None                   # "int" | "decimal": regex+cast fast path
    decimal_sep: str = "."                      # for number == "decimal"
    # Localisations without code table: the separators between communes and whether
    # 4-digit codes get their leading zero back, for the vectorised list path.
    communes_split: tuple[str, ...] = ()
    insee_zero_pad: bool = False


def empty_value(kind: Kind) -> Any:
    return frozenset() if kind is Kind.CODESET else (() if kind is Kind.COMMUNES else None)


def field_input(records: Records, spec: FieldSpec) -> pa.ChunkedArray:
    cols = [records.columns[i] for i in spec.sources]
    if len(cols) == 1:
        return cols[0]
    return pc.binary_join_element_wise(*cols, JOIN)


def _by_unique(spec: FieldSpec, arr: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    encoded = arr.dictionary_encode()  # one hash pass: distinct values and row indices
    parsed: list[Any] = []
    good: list[bool] = []
    for text in encoded.dictionary.to_pylist():
        try:
            parsed.append(spec.parse(text))
            good.append(True)
        except ValueParseError:
            parsed.append(None)
            good.append(False)
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    values = np.fromiter(parsed, dtype=object, count=len(parsed))[idx]
    return values, np.asarray(good, dtype=bool)[idx]


_INT_RE = r"^-?[0-9]{1,18}$"


def _number(spec: FieldSpec, arr: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    if spec.number == "int":
        pattern, target = _INT_RE, pa.int64()
    else:
        sep = "\\" + spec.decimal_sep if spec.decimal_sep in ".^$|?*+()[]{}\\" else spec.decimal_sep
        pattern, target = f"^-?[0-9]{{1,17}}({sep}[0-9]{{1,17}})?$", pa.float64()
    match = pc.match_substring_regex(arr, pattern)
    text = arr if spec.decimal_sep == "." else pc.replace_substring(arr, spec.decimal_sep, ".")
    try:
        nums = pc.cast(pc.if_else(match, text, "0"), target).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    empty = pc.equal(arr, "").to_numpy(zero_copy_only=False)
    match = match.to_numpy(zero_copy_only=False) & in_range(spec, nums)
    values = nums.astype(object)
    values[empty] = None
    ok = match | (empty & (not spec.required))
    return values, ok


def in_range(spec: FieldSpec, nums: np.ndarray) -> np.ndarray:
    """Rows the fast paths may vouch for: finite, within MAX_MAGNITUDE, not a negative count.
    Any other row goes to the scalar parser, which rejects it or not (same rule at every
    size and from every source)."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(nums) <= MAX_MAGNITUDE
        if spec.name in COUNT_COLUMNS:
            ok &= nums >= 0
    return ok


def _text(spec: FieldSpec, arr: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    empty = pc.equal(arr, "").to_numpy(zero_copy_only=False)
    edge = pc.match_substring_regex(arr, _EDGE_SPACE).to_numpy(zero_copy_only=False)
    values = np.empty(len(arr), dtype=object)
    values[:] = arr.to_pylist()
    values[empty] = None
    ok = ~edge & ~(empty & spec.required)
    return values, ok


def _typed_float(spec: FieldSpec, arr: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    nums = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)  # nulls -> nan
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    values = nums.astype(object)
    values[~valid] = None
    ok = (valid & in_range(spec, nums)) | (~valid & (not spec.required))
    return values, ok


_INSEE_RE = r"^(?:[0-9]{2}|2A|2B)[0-9]{3}$"


def _communes(spec: FieldSpec, arr: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Ordered tuples of INSEE codes; odd cells (spaces, empty items) go slow. Each distinct
    cell text is split once and its rows share one tuple (few distinct lists in practice)."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    encoded = arr.dictionary_encode()
    if encoded.indices.null_count or len(encoded.dictionary) * 2 > len(arr):
        return _communes_cells(spec, arr)
    values, ok = _communes_cells(spec, encoded.dictionary)
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    return values[idx], ok[idx]


def _communes_cells(spec: FieldSpec, arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    n = len(arr)
    pattern = "|".join(re.escape(sep) for sep in spec.communes_split)
    parts = pc.split_pattern_regex(arr, pattern)
    flat = pc.list_flatten(parts)
    if spec.insee_zero_pad:
        four = pc.match_substring_regex(flat, r"^[0-9]{4}$")
        flat = pc.if_else(four, pc.binary_join_element_wise("0", flat, ""), flat)
    good_item = pc.match_substring_regex(flat, _INSEE_RE).to_numpy(zero_copy_only=False)
    parent = pc.list_parent_indices(parts).to_numpy()
    offsets = parts.offsets.to_numpy()
    offsets = offsets - offsets[0]
    empty = pc.equal(arr, "").to_numpy(zero_copy_only=False)
    ok = ~empty
    ok[parent[~good_item]] = False
    ok |= empty
    items = flat.to_pylist()
    values = np.fromiter(
        (() if e else tuple(items[a:b])
         for e, a, b in zip(empty.tolist(), offsets[:-1].tolist(), offsets[1:].tolist())),
        dtype=object, count=n)
    # Localisations are kept as written (duplicates included): the scorer counts a commune
    # once at its first rang, and the list round-trips unchanged.
    return values, ok


def vector_parse(spec: FieldSpec, arr: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(values, ok): ok[i] means values[i] is what ``spec.parse`` returns for row i."""
    if pa.types.is_floating(arr.type):
        return _typed_float(spec, arr)
    if spec.communes_split and len(arr) > _UNIQUE_LIMIT:
        return _communes(spec, arr)
    if spec.kind is Kind.TEXT and len(spec.sources) == 1:
        return _text(spec, arr)
    if spec.number is not None and len(arr) > _UNIQUE_LIMIT:
        out = _number(spec, arr)
        # Worth it unless many cells need the scalar parser (e.g. padded with spaces).
        if out is not None and np.count_nonzero(~out[1]) <= len(arr) // 100:
            return out
    return _by_unique(spec, arr)


def cell_text(arr: pa.ChunkedArray, rows: np.ndarray) -> list[str]:
    """Raw source text of some rows, as the scalar parsers receive it."""
    sub = arr.take(pa.array(rows, pa.int64()))
    if pa.types.is_floating(arr.type):
        return ["" if v is None else repr(float(v)) for v in sub.to_pylist()]
    return sub.to_pylist()


def build_table(records: Records, fields: Sequence[FieldSpec], extras: Sequence[tuple[str, int]],
                *, nu_source: int | None, source: str, strict: bool, vectorised: bool = True,
                odd_reject: Callable[[int, list[str], str], Reject],
                display: Callable[[str], str] = lambda s: s.replace(JOIN, "|"),
                pre_rejects: Sequence[Reject] = ()) -> tuple[DemandeTable, list[Reject]]:
    """Typed, validated table of ``records``; rejects sorted by line."""
    n = len(records.lines)
    lines = records.lines
    inputs = [field_input(records, f) for f in fields]
    values: dict[str, np.ndarray] = {}
    ok = np.ones(n, dtype=bool)
    for spec, arr in zip(fields, inputs):
        if vectorised and n:
            v, good = vector_parse(spec, arr)
            ok &= good
        else:
            v = np.full(n, None, dtype=object)
            ok[:] = False
        values[spec.name] = v

    rejects: list[Reject] = list(pre_rejects)
    rejects.extend(odd_reject(line, cells, why) for line, cells, why in records.odd)
    rejected = np.zeros(n, dtype=bool)
    slow = np.flatnonzero(~ok)
    if slow.size:
        texts = [cell_text(arr, slow) for arr in inputs]
        nus = (cell_text(records.columns[nu_source], slow) if nu_source is not None
               else [""] * slow.size)
        for k, i in enumerate(slow.tolist()):
            row: list[Any] = []
            for spec, col_text in zip(fields, texts):
                text = col_text[k]
                try:
                    row.append(spec.parse(text))
                except ValueParseError as exc:
                    rejects.append(Reject(int(lines[i]), spec.label, display(text), str(exc),
                                          (nus[k] or "").strip()))
                    rejected[i] = True
                    break
            else:
                for spec, value in zip(fields, row):
                    values[spec.name][i] = value

    # Duplicates among the rows still standing, in source order: the first one wins.
    nu_field = next((f for f in fields if f.name == "numero_unique"), None)
    if nu_field is not None and n:
        standing = np.flatnonzero(~rejected)
        nu_list = values["numero_unique"][standing].tolist()
        if len(set(nu_list)) != len(nu_list):
            seen: dict[str, int] = {}
            for i, nu in zip(standing.tolist(), nu_list):
                first = seen.get(nu)
                if first is None:
                    seen[nu] = int(lines[i])
                    continue
                rejects.append(Reject(int(lines[i]), nu_field.label, nu,
                                      _("duplicated numero_unique (first at line {line})").format(line=first), nu))
                rejected[i] = True

    rejects.sort(key=lambda r: r.line)
    if strict and rejects:
        raise StrictModeError(rejects[0], source)

    keep = ~rejected
    n_keep = int(keep.sum())
    columns: dict[str, list] = {}
    for col in COLUMNS:
        if col.name in values:
            columns[col.name] = values[col.name][keep].tolist()
        else:
            columns[col.name] = [empty_value(col.kind)] * n_keep
    keep_list = keep.tolist()
    extra_cols: dict[str, list] = {}
    for name, idx in extras:
        raw = records.columns[idx]
        if not pa.types.is_string(raw.type):
            raw = raw.cast(pa.string())
        cells = pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw).to_pylist()
        extra_cols[name] = list(itertools.compress(cells, keep_list))
    table = DemandeTable(columns, extra_cols, lines[keep].tolist())
    return table, rejects

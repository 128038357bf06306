"""The canonical demande and attribution tables in memory, and the reference CSV reader and writer.

A table is columnar: one Python list per canonical column holding typed values (``None`` for
missing, ``datetime.date`` for dates, ``str`` for codes and text, ``frozenset`` for sets of
codes, ``tuple`` for localisations), plus the source's extra columns kept as raw strings.
Back ends that need arrays encode from here; the reference interpreter reads rows.

A table read by the boundary (:mod:`cotation.data.build`) is held as checked Arrow arrays of
the canonical types (:func:`arrow_type`) and its lists are made on first use, column by
column: the compiled engine encodes the arrays directly (:meth:`DemandeTable.arrow_column`)
and never builds a Python object per demande.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from collections import Counter
from collections.abc import MutableMapping
from typing import Any, Iterable, Iterator, Mapping, Sequence

from cotation.data.schema import (
    ATTRIBUTION_DEMANDE_COLUMNS, COLUMNS, COLUMNS_BY_NAME, FINANCEMENTS, TYPOLOGIES, Column, Kind
)
from cotation.data.values import ValueParseError, format_cell, parse_cell
from cotation.i18n import _


@dataclass(frozen=True)
class Reject:
    """A source row that could not be read: where, what and why."""

    line: int
    column: str
    value: str
    reason: str
    numero_unique: str = ""

    def as_row(self) -> dict[str, str]:
        return {"line": str(self.line), "column": self.column, "value": self.value,
                "reason": self.reason, "numero_unique": self.numero_unique}


REJECT_COLUMNS = ("line", "column", "value", "reason", "numero_unique")


class StrictModeError(ValueError):
    """Raised in strict mode on the first rejected row."""

    def __init__(self, reject: Reject, source: str):
        self.reject = reject
        super().__init__(_("{source}:{line}: column {column}: {reason}").format(
            source=source, line=reject.line, column=reject.column, reason=reject.reason))


class HeaderError(ValueError):
    """A header a reader cannot use: required columns missing, or a column named twice."""

    def __init__(self, source: str, *, missing: Sequence[str] = (),
                 duplicated: Sequence[str] = ()):
        self.source, self.missing, self.duplicated = source, tuple(missing), tuple(duplicated)
        if self.missing:
            what = _("missing required column(s): {names}").format(names=", ".join(self.missing))
        else:
            what = _("duplicated column(s): {names}").format(
                names=", ".join(name or '""' for name in self.duplicated))
        super().__init__(f"{source}:1: {what}")

    def __reduce__(self):
        return (_header_error, (self.source, self.missing, self.duplicated))


def _header_error(source: str, missing: Sequence[str], duplicated: Sequence[str]) -> HeaderError:
    return HeaderError(source, missing=missing, duplicated=duplicated)


def check_columns(header: Sequence[str], required: Iterable[str], source: str) -> None:
    """Raise :class:`HeaderError` when a required column is missing or a name repeats."""
    missing = [name for name in required if name not in header]
    if missing:
        raise HeaderError(source, missing=missing)
    dup = sorted(name for name, n in Counter(header).items() if n > 1)
    if dup:
        raise HeaderError(source, duplicated=dup)


def empty_value(kind: Kind) -> Any:
    """A missing value of a column of ``kind``: the empty set or list for the list kinds."""
    return frozenset() if kind is Kind.CODESET else (() if kind is Kind.COMMUNES else None)


def arrow_type(kind: Kind):
    """The Arrow type of a canonical column of ``kind`` (the canonical Parquet's): sets of codes
    and localisations are ``list<string>`` (sets in the enumeration's order), missing values
    null (empty lists for the two list kinds)."""
    import pyarrow as pa
    return {Kind.BOOL: pa.bool_(), Kind.INT: pa.int64(), Kind.DECIMAL: pa.float64(),
            Kind.DATE: pa.date32(), Kind.CODESET: pa.list_(pa.string()),
            Kind.COMMUNES: pa.list_(pa.string())}.get(kind, pa.string())


def arrow_values(col: Column, values: Sequence[Any]) -> Any:
    """Typed Python values of ``col`` (as :func:`parse_cell` gives them) as an Arrow array of
    :func:`arrow_type`."""
    import pyarrow as pa
    if col.kind is Kind.CODESET:
        order = col.enum
        values = [([v for v in order if v in s] if order else sorted(s)) if s else []
                  for s in values]
    elif col.kind is Kind.COMMUNES:
        values = [list(v) if v else [] for v in values]
    return pa.array(values, arrow_type(col.kind))


def _python_values(kind: Kind | None, arr: Any) -> list:
    """An Arrow column of :func:`arrow_type` as the Python values of a list-backed table; the
    rows of one distinct set or localisation list share one object."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if pa.types.is_dictionary(arr.type):
        # each distinct value made once (DictionaryArray.to_pylist makes a scalar per row:
        # 1.5 us each); null rows index the trailing None
        values = arr.dictionary.to_pylist() + [None]
        idx = pc.fill_null(arr.indices, len(values) - 1).to_numpy(zero_copy_only=False)
        return [values[i] for i in idx.tolist()]
    if kind not in (Kind.CODESET, Kind.COMMUNES):
        return arr.to_pylist()
    if len(arr) == 0:
        return []
    distinct, idx = distinct_lists(kind, arr)
    return [distinct[i] for i in idx.tolist()]


# Joins the items of a list cell into one text (:func:`distinct_lists`).
LIST_JOIN = "\x1f"


def distinct_lists(kind: Kind, arr: Any) -> tuple[list, Any]:
    """The distinct cells of a ``list<string>`` column of ``kind`` (sets of codes: frozensets;
    localisations: tuples), each made once, then the empty value standing for null lists;
    and the index of each row's cell among them (a numpy array). Cells are told apart by
    their items joined with :data:`LIST_JOIN` (an item holding that byte, or an empty item,
    is not told apart: the boundary lets neither through)."""
    import pyarrow.compute as pc
    empty = empty_value(kind)
    joined = pc.binary_join(arr, LIST_JOIN).dictionary_encode()
    make = frozenset if kind is Kind.CODESET else tuple
    distinct = [make(t.split(LIST_JOIN)) if t else empty for t in joined.dictionary.to_pylist()]
    distinct.append(empty)                 # null lists
    idx = pc.fill_null(joined.indices, len(distinct) - 1).to_numpy(zero_copy_only=False)
    return distinct, idx


class LineNumbers(Sequence):
    """The source line of each row, over an int64 array: a read-only sequence of ints that
    compares equal to the list of them, without making a million Python ints when the reader
    builds a table (``np.asarray`` gets the array back)."""

    __slots__ = ("_array",)

    def __init__(self, array: Any) -> None:
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return self._array[i].tolist()
        return int(self._array[i])

    def __iter__(self) -> Iterator[int]:
        return iter(self._array.tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        array = self._array if dtype is None else self._array.astype(dtype, copy=False)
        return array.copy() if copy else array

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LineNumbers, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"LineNumbers({list(self)!r})"


class ArrowColumns(MutableMapping):
    """Columns held as Arrow arrays of the canonical types, each turned into a Python list on
    first access (then kept). Setting a column replaces it by the list given."""

    def __init__(self, arrays: Mapping[str, Any], kinds: Mapping[str, Kind | None], n: int,
                 sort_orders: Mapping[str, Any] | None = None,
                 item_codes: Mapping[str, Any] | None = None, distinct: Sequence[str] = ()):
        self._arrays = dict(arrays)
        self._kinds = dict(kinds)
        self._lists: dict[str, list] = {}
        self._order = list(arrays)
        self._sort_orders = dict(sort_orders or {})
        self._item_codes = dict(item_codes or {})
        self._distinct = frozenset(distinct)
        self.n = n

    def arrow(self, name: str) -> Any | None:
        """The Arrow array of ``name`` when it has not been replaced, else None."""
        return self._arrays.get(name)

    def sort_order(self, name: str) -> Any | None:
        """The row indices that sort ``name``'s Arrow array ascending, when the reader
        computed them (the duplicate check sorts ``numero_unique``)."""
        return self._sort_orders.get(name) if name in self._arrays else None

    def is_distinct(self, name: str) -> bool:
        """Whether the reader found the values of ``name``'s Arrow array all different (the
        boundary rejects duplicated ``numero_unique``)."""
        return name in self._distinct and name in self._arrays

    def item_codes(self, name: str) -> Any | None:
        """The dictionary-encoded items of list column ``name``
        (:class:`cotation.data.vector.ItemCodes`), when the reader's check computed them."""
        return self._item_codes.get(name) if name in self._arrays else None

    def __getitem__(self, name: str) -> list:
        got = self._lists.get(name)
        if got is None:
            if name not in self._arrays:
                raise KeyError(name)
            got = self._lists[name] = _python_values(self._kinds.get(name), self._arrays[name])
        return got

    def __setitem__(self, name: str, values: list) -> None:
        if name not in self._arrays and name not in self._lists:
            self._order.append(name)
        self._arrays.pop(name, None)
        self._lists[name] = values

    def __delitem__(self, name: str) -> None:
        if name not in self._arrays and name not in self._lists:
            raise KeyError(name)
        self._arrays.pop(name, None)
        self._lists.pop(name, None)
        self._order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._arrays or name in self._lists


@dataclass
class DemandeTable:
    """Columnar canonical demandes. ``columns`` has every canonical column, same length."""

    columns: MutableMapping[str, list]
    extras: MutableMapping[str, list] = field(default_factory=dict)
    source_lines: Sequence[int] | None = None     # a list, or LineNumbers from a reader

    @classmethod
    def from_arrow(cls, columns: Mapping[str, Any], extras: Mapping[str, Any], n: int,
                   source_lines: Sequence[int] | None = None,
                   sort_orders: Mapping[str, Any] | None = None,
                   item_codes: Mapping[str, Any] | None = None,
                   distinct: Sequence[str] = ()) -> "DemandeTable":
        """A table over checked Arrow arrays: every canonical column of :func:`arrow_type`
        (string columns may be dictionary-encoded), extras as ``string`` (null where empty);
        ``sort_orders``: known ascending orders of some columns (row indices);
        ``item_codes``: list columns' items dictionary-encoded
        (:class:`cotation.data.vector.ItemCodes`); ``distinct``: columns whose values are
        all different."""
        kinds = {c.name: c.kind for c in COLUMNS}
        return cls(ArrowColumns(columns, kinds, n, sort_orders, item_codes, distinct),
                   ArrowColumns(extras, {}, n), source_lines)

    def is_distinct(self, name: str) -> bool:
        """Whether the reader found column ``name``'s values all different."""
        store = self.columns
        return store.is_distinct(name) if isinstance(store, ArrowColumns) else False

    def sort_order(self, name: str) -> Any | None:
        """Row indices sorting column ``name`` ascending when the reader computed them."""
        store = self.columns
        return store.sort_order(name) if isinstance(store, ArrowColumns) else None

    def item_codes(self, name: str) -> Any | None:
        """The items of list column ``name`` dictionary-encoded, when the reader computed
        them (:class:`cotation.data.vector.ItemCodes`), else None."""
        store = self.columns
        return store.item_codes(name) if isinstance(store, ArrowColumns) else None

    def arrow_column(self, name: str) -> Any | None:
        """The checked Arrow array of a canonical or extra column when the table holds one
        (a table read by the boundary), else None."""
        for store in (self.columns, self.extras):
            if isinstance(store, ArrowColumns) and name in store:
                return store.arrow(name)
        return None

    def __post_init__(self) -> None:
        if isinstance(self.columns, ArrowColumns):
            self._n = self.columns.n
            return
        for c in COLUMNS:
            if c.name not in self.columns:
                self.columns[c.name] = [empty_value(c.kind)] * self._guess_len()
        lengths = {len(v) for v in self.columns.values()} | {len(v) for v in self.extras.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length: {sorted(lengths)}")

    def _guess_len(self) -> int:
        for v in self.columns.values():
            return len(v)
        for v in self.extras.values():
            return len(v)
        return 0

    def __len__(self) -> int:
        n = getattr(self, "_n", None)
        return len(self.columns["numero_unique"]) if n is None else n

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict of typed values (extras as raw strings)."""
        out = {name: col[i] for name, col in self.columns.items()}
        for name, col in self.extras.items():
            out[name] = col[i]
        return out

    def rows(self) -> Iterator[dict[str, Any]]:
        cols = list(self.columns.items()) + list(self.extras.items())
        for i in range(len(self)):
            yield {name: col[i] for name, col in cols}

    def index_of(self, numero_unique: str) -> int:
        try:
            return self.columns["numero_unique"].index(numero_unique)
        except ValueError:
            raise KeyError(numero_unique) from None

    def take(self, indices: Sequence[int]) -> "DemandeTable":
        cols = {k: [v[i] for i in indices] for k, v in self.columns.items()}
        extras = {k: [v[i] for i in indices] for k, v in self.extras.items()}
        lines = [self.source_lines[i] for i in indices] if self.source_lines else None
        return DemandeTable(cols, extras, lines)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], *, parse: bool = False) -> "DemandeTable":
        """Build from dicts of typed values (or canonical strings when ``parse``)."""
        cols: dict[str, list] = {c.name: [] for c in COLUMNS}
        extras: dict[str, list] = {}
        n = 0
        for rec in records:
            for c in COLUMNS:
                v = rec.get(c.name)
                if parse or isinstance(v, str) and c.kind not in (Kind.TEXT, Kind.CODE, Kind.COMMUNE):
                    v = parse_cell(c, v if v is None or isinstance(v, str) else format_cell(c, v))
                elif c.kind is Kind.CODESET:
                    v = frozenset(v or ())
                elif c.kind is Kind.COMMUNES:
                    v = tuple(v or ())
                cols[c.name].append(v)
            for k, v in rec.items():
                if k not in COLUMNS_BY_NAME:
                    extras.setdefault(k, [None] * n).append(None if v is None or v == "" else str(v))
            n += 1
            for col in extras.values():
                if len(col) < n:
                    col.append(None)
        return cls(cols, extras)


@dataclass
class ReadResult:
    table: DemandeTable
    rejects: list[Reject]
    n_read: int
    unmapped_columns: list[str] = field(default_factory=list)

    @property
    def n_accepted(self) -> int:
        return len(self.table)

    def summary(self) -> dict[str, Any]:
        return {"read": self.n_read, "accepted": self.n_accepted, "rejected": len(self.rejects),
                "unmapped_columns": list(self.unmapped_columns)}


def read_demandes_csv(path: str | Path, *, strict: bool = False) -> ReadResult:
    """Read a canonical demande CSV. Bad rows become rejects (one per row, first error)."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return read_demandes_stream(fh, source=str(path), strict=strict)


def read_demandes_stream(fh: io.TextIOBase, *, source: str = "<stream>", strict: bool = False) -> ReadResult:
    reader = csv.reader(fh)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError(_("{source}: empty file, expected a header row").format(source=source)) from None
    check_columns(header, [c.name for c in COLUMNS if c.required], source)
    canon = [(i, COLUMNS_BY_NAME[h]) for i, h in enumerate(header) if h in COLUMNS_BY_NAME]
    extra = [(i, h) for i, h in enumerate(header) if h not in COLUMNS_BY_NAME]
    cols: dict[str, list] = {c.name: [] for c in COLUMNS}
    present = {c.name for _, c in canon}
    extras: dict[str, list] = {h: [] for _, h in extra}
    lines: list[int] = []
    rejects: list[Reject] = []
    seen: dict[str, int] = {}
    n_read = 0
    for record in reader:
        line = reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line: not a row
        n_read += 1
        nu = record[header.index("numero_unique")].strip() if len(record) > header.index("numero_unique") else ""
        reject = None
        if len(record) != len(header):
            reject = Reject(line, "*", "", _("{n} cells, header has {m}").format(n=len(record), m=len(header)), nu)
        values: dict[str, Any] = {}
        if reject is None:
            for i, col in canon:
                try:
                    v = parse_cell(col, record[i])
                except ValueParseError as exc:
                    reject = Reject(line, col.name, record[i], str(exc), nu)
                    break
                if col.required and (v is None or v == ""):
                    reject = Reject(line, col.name, record[i], _("{name} is required").format(name=col.name), nu)
                    break
                values[col.name] = v
        if reject is None and nu in seen:
            reject = Reject(line, "numero_unique", nu, _("duplicated numero_unique (first at line {line})").format(line=seen[nu]), nu)
        if reject is not None:
            if strict:
                raise StrictModeError(reject, source)
            rejects.append(reject)
            continue
        seen[nu] = line
        for c in COLUMNS:
            if c.name in present:
                cols[c.name].append(values[c.name])
            else:
                cols[c.name].append(empty_value(c.kind))
        for i, h in extra:
            cell = record[i]
            extras[h].append(cell if cell != "" else None)
        lines.append(line)
    return ReadResult(DemandeTable(cols, extras, lines), rejects, n_read)


def write_demandes_csv(table: DemandeTable, path: str | Path | io.TextIOBase) -> None:
    """Write the canonical CSV (canonical columns in schema order, then extras)."""
    def _write(fh: Any) -> None:
        w = csv.writer(fh, lineterminator="\n")
        extra_names = list(table.extras)
        w.writerow([c.name for c in COLUMNS] + extra_names)
        for i in range(len(table)):
            w.writerow([format_cell(c, table.columns[c.name][i]) for c in COLUMNS]
                       + [table.extras[h][i] or "" for h in extra_names])
    if isinstance(path, (str, Path)):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            _write(fh)
    else:
        _write(path)


def write_rejects_csv(rejects: Sequence[Reject], path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=REJECT_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rejects:
            w.writerow(r.as_row())


# ----------------------------------------------------------------------------- attributions

_ATTR_TYPES: dict[str, Column] = {
    "numero_unique": Column("numero_unique", Kind.TEXT, True),
    "date_depot": Column("date_depot", Kind.DATE, True),
    "date_attribution": Column("date_attribution", Kind.DATE, True),
    "commune": Column("commune", Kind.COMMUNE, True),
    "typologie": Column("typologie", Kind.CODE, True, TYPOLOGIES),
    "est_mutation": Column("est_mutation", Kind.BOOL),
    "financement": Column("financement", Kind.CODE, False, FINANCEMENTS),
    "qpv": Column("qpv", Kind.BOOL),
    "reservataire": Column("reservataire", Kind.TEXT),
}
ATTRIBUTION_FIELDS = _ATTR_TYPES


@dataclass
class AttributionTable:
    """Leases signed (history for reference waiting times), columnar like DemandeTable."""

    columns: MutableMapping[str, list]

    @classmethod
    def from_arrow(cls, columns: Mapping[str, Any], n: int) -> "AttributionTable":
        """A table over checked Arrow arrays of :func:`arrow_type` (string columns may be
        dictionary-encoded), one per attribution field."""
        kinds = {name: col.kind for name, col in _ATTR_TYPES.items()}
        return cls(ArrowColumns(columns, kinds, n))

    def arrow_column(self, name: str) -> Any | None:
        """The checked Arrow array of ``name`` when the table holds one, else None."""
        store = self.columns
        return store.arrow(name) if isinstance(store, ArrowColumns) and name in store else None

    def __len__(self) -> int:
        store = self.columns
        return store.n if isinstance(store, ArrowColumns) else len(store["numero_unique"])


def parse_attribution(rec: Mapping[str, Any], line: int) -> tuple[dict[str, Any], Reject | None]:
    """Typed values of one attribution record, or the reject for its first bad cell."""
    values: dict[str, Any] = {}
    nu = str(rec.get("numero_unique") or "")
    for name, col in _ATTR_TYPES.items():
        cell = rec.get(name)
        cell = None if cell is None else str(cell)
        try:
            v = parse_cell(col, cell)
        except ValueParseError as exc:
            return values, Reject(line, name, cell or "", str(exc), nu)
        if col.required and v is None:
            return values, Reject(line, name, "", _("{name} is required").format(name=name), nu)
        values[name] = v
    return values, None


def attributions_from_records(records: Iterable[tuple[int, Mapping[str, Any]]], source: str,
                              strict: bool = False) -> tuple[AttributionTable, list[Reject], int]:
    """(line, record) pairs → typed table, rejects and the number of records read."""
    cols: dict[str, list] = {k: [] for k in _ATTR_TYPES}
    rejects: list[Reject] = []
    n_read = 0
    for line, rec in records:
        n_read += 1
        values, bad = parse_attribution(rec, line)
        if bad is not None:
            if strict:
                raise StrictModeError(bad, source)
            rejects.append(bad)
            continue
        for k in cols:
            cols[k].append(values[k])
    return AttributionTable(cols), rejects, n_read


def write_attributions_csv(table: AttributionTable, path: str | Path,
                           demandes: DemandeTable | None = None) -> None:
    """Attribution columns, then, when ``demandes`` is given (row for row), the attributed
    demande's canonical columns and extras (see ``ATTRIBUTION_DEMANDE_COLUMNS``)."""
    names = list(_ATTR_TYPES)
    more = [c for c in COLUMNS if c.name in ATTRIBUTION_DEMANDE_COLUMNS] if demandes else []
    extra_names = list(demandes.extras) if demandes else []
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(names + [c.name for c in more] + extra_names)
        for i in range(len(table)):
            w.writerow([format_cell(_ATTR_TYPES[k], table.columns[k][i]) for k in names]
                       + [format_cell(c, demandes.columns[c.name][i]) for c in more]
                       + [demandes.extras[h][i] or "" for h in extra_names])


def concat(a: DemandeTable, b: DemandeTable) -> DemandeTable:
    """Rows of ``a`` then rows of ``b`` (extras absent on one side are missing there)."""
    cols = {k: a.columns[k] + b.columns[k] for k in a.columns}
    names = list(dict.fromkeys([*a.extras, *b.extras]))
    extras = {h: list(a.extras.get(h, [None] * len(a))) + list(b.extras.get(h, [None] * len(b)))
              for h in names}
    return DemandeTable(cols, extras)


def without(table: DemandeTable, numeros: set[str]) -> DemandeTable:
    """``table`` less its demandes whose ``numero_unique`` is in ``numeros`` (itself when none
    is): the demandes still pending once ``numeros`` were housed."""
    keep = [i for i, nu in enumerate(table.columns["numero_unique"]) if nu not in numeros]
    return table.take(keep) if len(keep) < len(table) else table

"""Columnar encoding of demande data for a compiled grid.

Inputs: a :class:`~cotation.data.table.DemandeTable`, a list of dicts, a dict of columns (numpy
arrays or lists), a pandas or polars DataFrame, or a pyarrow Table. No DataFrame library is
imported unless the input already is one of its objects.

Only the columns the grid reads are encoded:

- codes → ``int32`` index in the enumeration's *domain* (the enumeration, then any value the
  data holds outside it, so that such values stay distinct and present), ``-1`` missing;
- sets of codes → ``uint64`` bitsets ``(n, words)`` over the same domain;
- dates → ``int64`` proleptic ordinals, :data:`~cotation.engine.compiled.plan.DMISS` missing;
- numbers → ``float64``, NaN missing; booleans → ``int8`` 1/0/-1;
- texts and communes → ``int32`` ids in a *sorted* dictionary (so ids order like strings);
- localisations → CSR rows (pointer, commune id, territory index or -1) per demande.
"""
from __future__ import annotations

import datetime as dt
import numpy as np
from dataclasses import dataclass, field
from typing import Any, Sequence

from cotation.engine.reads import local_field_column
from cotation.data.schema import COLUMNS_BY_NAME, Kind
from cotation.data.table import Reject
from cotation.data.values import MULTI_SEPARATOR, ValueParseError, parse_cell
from cotation.engine.compiled.columns import (
    DataError, FlatLists, Source, _is_arrow, checked_items, _missing, _normalise_container,
    encode_bool, encode_date, encode_number, factorize, factorize_lists, flat_lists, source_of,
)
from cotation.data.parallel import map_columns
from cotation.engine.compiled.plan import ColumnSpec, KernelPlan
from cotation.grid import ir

# ------------------------------------------------------------------------------ the batch

@dataclass
class Batch:
    """Encoded demandes for one compiled grid (reusable across scoring dates)."""

    n: int
    cols: list[np.ndarray]
    skip: np.ndarray
    loc_ptr: np.ndarray
    loc_terr: np.ndarray
    loc_val: np.ndarray
    terr_ids: np.ndarray
    territory: tuple[str, ...]
    texts: Any                    # the text dictionary, or a SortedText that makes it
    commune_dict: Any
    domains: dict[tuple[str, ...], tuple[str, ...]]
    numero_unique: Any            # container of the numero_unique column (decoded lazily)
    rejects: list[Reject]
    plan_digest: str
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    report: Any = None            # the boundary's report when the data went through it
    lines: np.ndarray | None = None   # source line (row number from 1) of each demande
    # the boundary's Admitted it was encoded from, kept by a Scorer(engine="interpreter")
    # only: the reference interpreter scores that table
    admitted: Any = None
    _domain_index: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)
    _nu_obj: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n

    @property
    def text_dict(self) -> Any:
        """Sorted Arrow string array (code-point order) of the text values."""
        return text_dictionary(self.texts)

    # ParamContext
    def code_index(self, enum: tuple[str, ...], value: str) -> int:
        idx = self._domain_index.get(enum)
        if idx is None:
            idx = self._domain_index[enum] = {v: i for i, v in enumerate(self.domains.get(enum, enum))}
        return idx.get(value, -1)

    def domain_size(self, enum: tuple[str, ...]) -> int:
        return len(self.domains.get(enum, enum))

    def text_id(self, value: str) -> int:
        return _lookup(self.text_dict, value)

    def commune_id(self, value: str) -> int:
        return _lookup(self.commune_dict, value)

    def numero_unique_strings(self) -> np.ndarray:
        """numero_unique per demande as an object array of str."""
        if self._nu_obj is None:
            self._nu_obj = strings_of(self.numero_unique)
        return self._nu_obj


def strings_of(column: Any) -> np.ndarray:
    """A column of strings (list, numpy or Arrow array) as an object array of str."""
    x = _normalise_container(column)
    if _is_arrow(x):
        return np.array(x.to_numpy(zero_copy_only=False), dtype=object)
    if isinstance(x, np.ndarray):
        return x.astype(object)
    return np.array(x, dtype=object)


def _indices_in(sorted_values: Any, values: list[str]) -> np.ndarray:
    """:func:`_lookup` of many values at once (one Arrow hash lookup), int64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(pa.array(values, pa.string()), value_set=sorted_values)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _lookup(sorted_values: Any, value: str) -> int:
    """Index of ``value`` in a sorted dictionary (an Arrow string array), or -1."""
    lo, hi = 0, len(sorted_values)
    while lo < hi:                       # bisect on the Arrow array: no copy of it
        mid = (lo + hi) // 2
        if sorted_values[mid].as_py() < value:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(sorted_values) and sorted_values[lo].as_py() == value:
        return lo
    return -1


def _local_values(f: ir.LocalFieldIR, x: Any, n: int, lines: Sequence[int], nus: Any
                  ) -> tuple[list, list[Reject]]:
    """Parse a local field column of a non-table input like ``local_field_values`` does."""
    col = local_field_column(f)
    if x is None:
        return [f.default] * n, []
    if _is_arrow(x) or (isinstance(x, np.ndarray) and x.dtype.kind in "US"):
        import pyarrow as pa
        if not _is_arrow(x) or pa.types.is_string(x.type) or pa.types.is_large_string(x.type) \
                or pa.types.is_dictionary(x.type):
            # parse each distinct cell once
            uniques, codes = factorize(f.name, x, n, False)
            parsed, bad = [], {}
            for j, u in enumerate(uniques):
                try:
                    parsed.append(parse_cell(col, u))
                except ValueParseError as exc:
                    parsed.append(f.default)
                    bad[j] = str(exc)
            table = np.empty(len(parsed) + 1, dtype=object)
            table[:len(parsed)] = parsed
            table[len(parsed)] = f.default
            values = table[codes]
            rejects = []
            for j, reason in bad.items():
                for i in np.flatnonzero(codes == j).tolist():
                    rejects.append(Reject(lines[i], f.name, uniques[j], reason, str(nus[i])))
            rejects.sort(key=lambda r: r.line)
            return values, rejects
        x = x.to_pylist()
    elif isinstance(x, np.ndarray):
        if x.dtype.kind == "M":
            x = [None if np.isnat(v) else v.astype("datetime64[D]").item() for v in x]
        else:
            x = x.tolist()
    out, rejects = [], []
    kind = f.type.kind
    for i, cell in enumerate(x):
        if _missing(cell) if not isinstance(cell, (frozenset, set, list, tuple)) else False:
            out.append(f.default)
            continue
        if kind is Kind.BOOL and isinstance(cell, (bool, np.bool_)):
            out.append(bool(cell))
        elif kind in (Kind.INT, Kind.DECIMAL) and isinstance(cell, (int, float, np.integer,
                                                                      np.floating)) \
                and not isinstance(cell, bool):
            out.append(int(cell) if kind is Kind.INT and float(cell).is_integer() else float(cell))
        elif kind is Kind.DATE and isinstance(cell, dt.date):
            out.append(cell if not isinstance(cell, dt.datetime) else cell.date())
        elif kind is Kind.CODESET and isinstance(cell, (frozenset, set, list, tuple)):
            vals = frozenset(str(v) for v in cell)
            bad = [v for v in vals if f.type.enum is not None and v not in f.type.enum]
            if bad:
                rejects.append(Reject(lines[i], f.name, str(cell), f"'{bad[0]}' is not a value "
                                      f"of {f.name}", str(nus[i])))
                out.append(f.default)
            else:
                out.append(vals)
        else:
            try:
                out.append(parse_cell(col, str(cell)))
            except ValueParseError as exc:
                rejects.append(Reject(lines[i], f.name, str(cell), str(exc), str(nus[i])))
                out.append(f.default)
    return out, rejects


def encode(plan: KernelPlan, grid: ir.GridIR, data: Any, *, digest: str,
           extra_columns: Sequence[str] = ()) -> Batch:
    """Encode ``data`` for ``plan``. ``extra_columns`` (canonical names) are encoded too and
    kept in ``batch.extra`` (used by shortlists)."""
    import pyarrow as pa

    from cotation.engine.scoring import local_field_values

    src = source_of(data)
    n = src.n
    rejects: list[Reject] = []
    local: dict[str, list] = {}
    if src.table is not None:
        local, rejects = local_field_values(grid, src.table)
    else:
        lines = list(range(2, n + 2))
        nu_col = _normalise_container(src.columns["numero_unique"])
        nus = nu_col.to_pylist() if _is_arrow(nu_col) else list(nu_col)
        for f in grid.local_fields:
            vals, rej = _local_values(f, src.get(f.name), n, lines, nus)
            local[f.name] = vals
            rejects.extend(rej)
    skip = np.zeros(n, dtype=np.uint8)
    if rejects:
        bad = {r.numero_unique for r in rejects}
        nu_col = _normalise_container(src.columns["numero_unique"])
        if _is_arrow(nu_col):
            import pyarrow.compute as pc
            hit = pc.is_in(nu_col.cast(pa.string()), value_set=pa.array(sorted(bad), pa.string()))
            skip[pc.fill_null(hit, False).to_numpy(zero_copy_only=False)] = 1
        else:
            for i, v in enumerate(nu_col):
                if str(v) in bad:
                    skip[i] = 1

    def raw(spec: ColumnSpec) -> tuple[Any, bool]:
        if spec.source == "local":
            return local[spec.name], True
        return src.get(spec.name), src.typed

    specs = list(plan.columns)
    extra_specs = []
    for name in extra_columns:
        c = COLUMNS_BY_NAME[name]
        extra_specs.append(ColumnSpec(name, "column", c.kind, c.enum))

    # ---- phase 1: factorize every string-like column (columns on threads)
    # id(array) -> (its known ascending order, whether its values are all different)
    sorted_parts: dict[int, tuple[np.ndarray, bool]] = {}
    all_specs = specs + extra_specs

    def factor(spec: ColumnSpec) -> Any:
        x, typed = raw(spec)
        if spec.kind in (Kind.TEXT, Kind.COMMUNE) and typed and _is_arrow(x) \
                and not pa.types.is_dictionary(x.type):
            # checked text: the sort in _union factorizes it (no hash of every value; its
            # ids are -1 for null rows)
            codes = np.arange(n, dtype=np.int64)
            order = src.table.sort_order(spec.name) if src.table is not None else None
            if order is not None:
                sorted_parts[id(x)] = (order, src.table.is_distinct(spec.name))
            return (x, codes)
        if spec.kind in (Kind.CODE, Kind.TEXT, Kind.COMMUNE):
            return factorize(spec.name, x, n, typed)
        if spec.kind is Kind.CODESET:
            fl = flat_lists(x, n, trim=not typed, items=src.item_codes(spec.name)
                            if spec.source == "column" else None) \
                if x is not None and _is_arrow(x) else None
            return fl if fl is not None else factorize_lists(spec.name, x, n, typed)
        return None

    fact: dict[int, Any] = {j: f for j, f in enumerate(map_columns(factor, all_specs, n))
                            if f is not None}

    # ---- phase 2: domains and dictionaries
    domains: dict[tuple[str, ...], tuple[str, ...]] = {}
    extras_by_enum: dict[tuple[str, ...], set[str]] = {}
    texts: list[Any] = [sorted(plan.text_consts)]
    communes: list[Any] = [sorted(set(grid.communes) | plan.commune_consts)]
    span: dict[int, tuple[int, int]] = {}        # j -> its slice of text_inv / commune_inv
    for j, spec in enumerate(all_specs):
        if j not in fact:
            continue
        uniques = fact[j].uniques if isinstance(fact[j], FlatLists) else fact[j][0]
        if spec.kind in (Kind.CODE, Kind.CODESET):
            enum = spec.enum or ()
            known = set(enum)
            if spec.kind is Kind.CODE or isinstance(fact[j], FlatLists):
                vals = uniques
            else:
                vals = {v for t in uniques for v in t}
            extras_by_enum.setdefault(enum, set()).update(v for v in vals if v not in known)
        else:
            parts = texts if spec.kind is Kind.TEXT else communes
            start = sum(len(p) for p in parts)
            span[j] = (start, start + len(uniques))
            parts.append(uniques)
    for enum, extra in extras_by_enum.items():
        domains[enum] = tuple(enum) + tuple(sorted(extra))
    text_dict, text_inv = _union(texts, sorted_parts)
    commune_dict, commune_inv = _union(communes, sorted_parts)

    # ---- phase 3: encode (columns and localisations on threads)
    batch_domain_index: dict[tuple[str, ...], dict[str, int]] = {
        enum: {v: i for i, v in enumerate(domains.get(enum, enum))}
        for enum in {spec.enum or () for spec in all_specs
                     if spec.kind in (Kind.CODE, Kind.CODESET)}}
    territory = tuple(dict.fromkeys(grid.communes))

    def encode_one(j: int) -> Any:
        if j == len(all_specs):
            return _encode_localisations(src, n, territory, commune_dict)
        spec = all_specs[j]
        x, typed = raw(spec)
        k = spec.kind
        if k is Kind.BOOL:
            arr = encode_bool(spec.name, x, n, typed)
        elif k in (Kind.INT, Kind.DECIMAL):
            arr = encode_number(spec.name, x, n, typed)
        elif k is Kind.DATE:
            arr = encode_date(spec.name, x, n, typed)
        elif k is Kind.CODE:
            uniques, codes = fact[j]
            idx = batch_domain_index[spec.enum or ()]
            m = np.array([idx[u] for u in uniques] + [-1], dtype=np.int32)
            arr = m[codes]           # -1 indexes the trailing -1
        elif k is Kind.CODESET and isinstance(fact[j], FlatLists):
            fl = fact[j]
            enum = spec.enum or ()
            idx = batch_domain_index[enum]
            words = max(1, (len(domains.get(enum, enum)) + 63) // 64)
            dom = np.array([idx[u] for u in fl.uniques] or [0], dtype=np.int32)[fl.elem_codes]
            arr = _bitsets(words, fl.offsets, dom)
        elif k is Kind.CODESET:
            distinct, codes = fact[j]
            enum = spec.enum or ()
            idx = batch_domain_index[enum]
            words = max(1, (len(domains.get(enum, enum)) + 63) // 64)
            table = np.zeros((len(distinct), words), dtype=np.uint64)
            for r, vals in enumerate(distinct):
                for v in vals:
                    b = idx[v]
                    table[r, b >> 6] |= np.uint64(1) << np.uint64(b & 63)
            arr = table[codes] if len(distinct) else np.zeros((n, words), dtype=np.uint64)
        elif k in (Kind.TEXT, Kind.COMMUNE):
            uniques, codes = fact[j]
            lo, hi = span[j]
            gid = (text_inv if k is Kind.TEXT else commune_inv)[lo:hi]
            arr = np.append(gid, -1).astype(np.int32)[codes]
        else:
            raise DataError(f"column {spec.name}: kind {k.value} is not encodable")
        arr = np.ascontiguousarray(arr)
        if not arr.flags.writeable:   # Numba types read-only arrays apart: one signature only
            arr = arr.copy()
        return arr

    # localisations (the longest task) first
    encoded = map_columns(encode_one, [len(all_specs), *range(len(all_specs))], n)
    loc_ptr, loc_terr, loc_val = encoded.pop(0)
    cols: list[np.ndarray] = encoded[:len(specs)]
    extra: dict[str, np.ndarray] = {spec.name: encoded[len(specs) + i]
                                    for i, spec in enumerate(extra_specs)}
    terr_ids = np.array([_lookup(commune_dict, c) for c in territory] or [0], dtype=np.int64)

    b = Batch(n=n, cols=cols, skip=skip, loc_ptr=loc_ptr, loc_terr=loc_terr, loc_val=loc_val,
              terr_ids=terr_ids, territory=territory, texts=text_dict,
              commune_dict=commune_dict, domains=domains,
              numero_unique=src.columns["numero_unique"], rejects=rejects,
              plan_digest=digest, extra=extra)
    b._domain_index = batch_domain_index
    return b


def _bitsets(words: int, offsets: np.ndarray, dom: np.ndarray) -> np.ndarray:
    """(n, words) uint64 bitsets, row i with bit ``dom[k]`` set for each of its elements
    ``k`` in ``[offsets[i], offsets[i+1])`` (``offsets``: n + 1 values from 0 to len(dom))."""
    n = len(offsets) - 1
    out = np.zeros((words, n), dtype=np.uint64)
    filled = offsets[1:] > offsets[:-1]
    starts = offsets[:-1][filled]
    if not len(starts):
        return out.T.copy()
    bits = np.left_shift(np.uint64(1), (dom & 63).astype(np.uint64))
    if words == 1:
        return _bitsets_by_sums(offsets, bits).reshape(n, 1)
    word = dom >> 6
    for w in range(words):                  # OR each row's run of elements
        out[w, filled] = np.bitwise_or.reduceat(
            np.where(word == w, bits, np.uint64(0)), starts)
    return out.T.copy()


def _bitsets_by_sums(offsets: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Each row's OR of its elements' ``bits`` (one bit each): its sum when its bits are
    distinct (:func:`cotation.data.vector.row_bit_sums`); rows that repeat one are ORed by
    ``reduceat`` over their runs alone. Twice as quick as a ``reduceat`` over every row when
    repeats are rare, as in checked sets."""
    from cotation.data.vector import row_bit_sums   # (it imports pyarrow.compute)

    out, repeats = row_bit_sums(offsets, bits)
    again = np.flatnonzero(repeats)
    if again.size:
        # runs [start, end) of those rows side by side; every other reduction is a gap
        bounds = np.empty(2 * again.size, dtype=np.int64)
        bounds[0::2], bounds[1::2] = offsets[again], offsets[again + 1]
        padded = np.append(bits, np.uint64(0))   # a run may end at the last element
        out[again] = np.bitwise_or.reduceat(padded, bounds)[0::2]
    return out


def _union(parts: list[Any], sorted_parts: dict[int, tuple[np.ndarray, bool]] | None = None
           ) -> tuple[Any, np.ndarray]:
    """Sorted dictionary (an Arrow string array, code-point order) of the concatenated parts
    (lists, numpy or Arrow string arrays; nulls are left out) and each element's id in it
    (-1 for a null). One sort in Arrow, no Python string per element; none when a single
    non-empty part comes with its ascending order (``sorted_parts``, by ``id``: the order
    and whether the values are all different). Values all different: the ids are the
    positions in that order, and the dictionary (the strings gathered in order) is made
    only when read, as a :class:`SortedText`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    filled = [p for p in parts if len(p)]
    known, distinct = (sorted_parts or {}).get(id(filled[0]), (None, False)) \
        if len(filled) == 1 else (None, False)
    arrays = [p.cast(pa.string()) if _is_arrow(p) else pa.array(
        p.tolist() if isinstance(p, np.ndarray) else list(p), pa.string()) for p in parts]
    allv = pa.concat_arrays(arrays) if len(arrays) != 1 else arrays[0]
    n = len(allv)
    if n == 0:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64)
    if known is not None and distinct and not allv.null_count:
        inverse = np.empty(n, dtype=np.int64)
        inverse[np.asarray(known, dtype=np.int64)] = np.arange(n, dtype=np.int64)
        return SortedText(allv, known), inverse
    if known is not None and not allv.null_count:    # the other parts are empty
        order = pa.array(np.asarray(known, dtype=np.int64))
    else:
        order = pc.sort_indices(allv)         # nulls last
    ordered = allv.take(order)
    m = n - allv.null_count
    new = np.ones(m, dtype=bool)
    if m > 1:
        new[1:] = pc.not_equal(ordered.slice(1, m - 1), ordered.slice(0, m - 1)).to_numpy(
            zero_copy_only=False)
    ids = np.cumsum(new) - 1
    inverse = np.full(n, -1, dtype=np.int64)
    inverse[order.to_numpy(zero_copy_only=False)[:m]] = ids
    return ordered.slice(0, m).filter(pa.array(new)), inverse


def text_dictionary(texts: Any) -> Any:
    """The text dictionary of ``texts`` (an Arrow array, or a :class:`SortedText`)."""
    return texts.array if isinstance(texts, SortedText) else texts


class SortedText:
    """A text dictionary not gathered yet: distinct strings and their ascending order.
    :attr:`array` gathers them once (thread-safe: a race gathers equal arrays twice)."""

    def __init__(self, values: Any, order: np.ndarray) -> None:
        self._values, self._order, self._array = values, order, None

    @property
    def array(self) -> Any:
        if self._array is None:
            import pyarrow as pa
            self._array = self._values.take(pa.array(np.asarray(self._order, dtype=np.int64)))
        return self._array

    def __len__(self) -> int:
        return len(self._values)


def _encode_localisations(src: Source, n: int, territory: tuple[str, ...],
                          commune_dict: Any):
    x = src.get("localisations")
    terr_index = {c: i for i, c in enumerate(territory)}
    if x is None:
        return (np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
                np.zeros(0, dtype=np.int32))
    if _is_arrow(x):
        import pyarrow as pa
        import pyarrow.compute as pc
        if pa.types.is_string(x.type) or pa.types.is_large_string(x.type):
            x = pc.split_pattern(pc.fill_null(x, ""), MULTI_SEPARATOR)
        if pa.types.is_list(x.type) or pa.types.is_large_list(x.type):
            x = pc.fill_null(x, pa.scalar([], type=x.type)) if x.null_count else x
            offsets = np.asarray(x.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
            offsets = offsets - offsets[0]
            known = checked_items(src.item_codes("localisations"), int(offsets[-1])) \
                if src.typed else None
            if known is not None:           # the boundary's codes of the items
                dictionary, codes = known
            else:
                flat = x.flatten()
                if not src.typed:
                    flat = pc.utf8_trim_whitespace(pc.cast(flat, pa.string()))
                enc = pc.cast(flat, pa.string()).dictionary_encode()
                dictionary = enc.dictionary
                codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
            uniq = [str(u) for u in dictionary.to_pylist()]
            found = pc.index_in(dictionary, value_set=commune_dict)
            ids_u = np.append(pc.fill_null(found, -2).to_numpy(zero_copy_only=False), -2
                              ).astype(np.int32)
            terr_u = np.array([terr_index.get(u, -1) for u in uniq] + [-1], dtype=np.int32)
            # blank entries are not communes (none in a table the boundary checked)
            blank = [j for j, u in enumerate(uniq) if u == ""] if not src.typed else []
            if blank or (known is None and enc.indices.null_count):
                keep = ~np.isin(codes, blank) & (codes >= 0)
                row = np.repeat(np.arange(n), np.diff(offsets))
                codes = codes[keep]
                newcounts = np.bincount(row[keep], minlength=n)
                offsets = np.concatenate([[0], np.cumsum(newcounts)]).astype(np.int64)
            loc_val = ids_u[codes]
            loc_terr = terr_u[codes]
            return (np.ascontiguousarray(offsets, dtype=np.int64),
                    np.ascontiguousarray(loc_terr, dtype=np.int32),
                    np.ascontiguousarray(loc_val, dtype=np.int32))
        x = x.to_pylist()
    distinct, codes = factorize_lists("localisations", x, n, src.typed)
    lens = np.array([len(t) for t in distinct] or [0], dtype=np.int64)
    d_terr = [np.array([terr_index.get(c, -1) for c in t], dtype=np.int32) for t in distinct]
    d_val = np.split(_indices_in(commune_dict, [c for t in distinct for c in t]),
                     np.cumsum(lens)[:-1]) if len(distinct) else []
    row_len = lens[codes] if len(distinct) else np.zeros(n, dtype=np.int64)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_len, out=ptr[1:])
    total = int(ptr[-1])
    if total == 0:
        return ptr, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    # gather the distinct lists row by row (vectorised through a flat concatenation)
    d_off = np.zeros(len(distinct) + 1, dtype=np.int64)
    np.cumsum(lens[:len(distinct)], out=d_off[1:])
    flat_terr = np.concatenate(d_terr) if d_terr else np.zeros(0, np.int32)
    flat_val = np.concatenate(d_val) if d_val else np.zeros(0, np.int64)
    starts = np.repeat(d_off[codes], row_len)
    within = np.arange(total, dtype=np.int64) - np.repeat(ptr[:-1], row_len)
    src_idx = starts + within
    loc_terr = flat_terr[src_idx].astype(np.int32)
    loc_val = flat_val[src_idx]
    loc_val[loc_val < 0] = -2
    return ptr, np.ascontiguousarray(loc_terr), np.ascontiguousarray(loc_val.astype(np.int32))

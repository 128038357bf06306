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

from cotation.data.schema import COLUMNS_BY_NAME, Column, Kind
from cotation.data.table import Reject
from cotation.data.values import MULTI_SEPARATOR, ValueParseError, parse_cell
from cotation.engine.compiled.columns import (
    DataError, FlatLists, Source, _factorize_sorted, _is_arrow, _missing, _normalise_container,
    encode_bool, encode_date, encode_number, factorize, factorize_lists, flat_lists, source_of,
)
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
    text_dict: np.ndarray
    commune_dict: np.ndarray
    domains: dict[tuple[str, ...], tuple[str, ...]]
    numero_unique: Any            # container of the numero_unique column (decoded lazily)
    rejects: list[Reject]
    plan_digest: str
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    report: Any = None            # the boundary's report when the data went through it
    lines: np.ndarray | None = None   # source line (row number from 1) of each demande
    _domain_index: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)
    _nu_obj: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n

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
            x = _normalise_container(self.numero_unique)
            if _is_arrow(x):
                arr = np.array(x.to_numpy(zero_copy_only=False), dtype=object)
            elif isinstance(x, np.ndarray):
                arr = x.astype(object)
            else:
                arr = np.array(x, dtype=object)
            self._nu_obj = arr
        return self._nu_obj


def _lookup(sorted_values: np.ndarray, value: str) -> int:
    if len(sorted_values) == 0:
        return -1
    j = int(np.searchsorted(sorted_values, value))
    if j < len(sorted_values) and sorted_values[j] == value:
        return j
    return -1


def _local_values(f: ir.LocalFieldIR, x: Any, n: int, lines: Sequence[int], nus: Any
                  ) -> tuple[list, list[Reject]]:
    """Parse a local field column of a non-table input like ``local_field_values`` does."""
    col = Column(f.name, f.type.kind, False, f.type.enum)
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
        nus = nu_col.to_pylist() if _is_arrow(nu_col) else list(nu_col)
        for i, v in enumerate(nus):
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

    # ---- phase 1: factorize every string-like column
    fact: dict[int, tuple] = {}
    all_specs = specs + extra_specs
    for j, spec in enumerate(all_specs):
        x, typed = raw(spec)
        if spec.kind in (Kind.CODE, Kind.TEXT, Kind.COMMUNE):
            fact[j] = factorize(spec.name, x, n, typed)
        elif spec.kind is Kind.CODESET:
            fl = flat_lists(x, n) if x is not None and _is_arrow(x) else None
            fact[j] = fl if fl is not None else factorize_lists(spec.name, x, n, typed)

    # ---- phase 2: domains and dictionaries
    domains: dict[tuple[str, ...], tuple[str, ...]] = {}
    extras_by_enum: dict[tuple[str, ...], set[str]] = {}
    texts: list[np.ndarray] = [np.array(sorted(plan.text_consts), dtype=str)]
    communes: list[np.ndarray] = [np.array(sorted(set(grid.communes) | plan.commune_consts),
                                           dtype=str)]
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
        elif spec.kind is Kind.TEXT:
            texts.append(np.asarray(uniques, dtype=str) if len(uniques) else np.array([], dtype=str))
        else:
            communes.append(np.asarray(uniques, dtype=str) if len(uniques) else np.array([], dtype=str))
    for enum, extra in extras_by_enum.items():
        domains[enum] = tuple(enum) + tuple(sorted(extra))
    text_dict, text_inv = _union(texts)
    commune_dict, commune_inv = _union(communes)

    # ---- phase 3: encode
    cols: list[np.ndarray] = []
    extra: dict[str, np.ndarray] = {}
    t_pos = 1            # texts[0] are constants
    c_pos = 1            # communes[0] are territory + constants
    t_off = [0]
    for a in texts:
        t_off.append(t_off[-1] + len(a))
    c_off = [0]
    for a in communes:
        c_off.append(c_off[-1] + len(a))
    batch_domain_index: dict[tuple[str, ...], dict[str, int]] = {}

    def dom_index(enum):
        if enum not in batch_domain_index:
            batch_domain_index[enum] = {v: i for i, v in enumerate(domains.get(enum, enum))}
        return batch_domain_index[enum]

    for j, spec in enumerate(all_specs):
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
            idx = dom_index(spec.enum or ())
            m = np.array([idx[u] for u in uniques] + [-1], dtype=np.int32)
            arr = m[codes]           # -1 indexes the trailing -1
        elif k is Kind.CODESET and isinstance(fact[j], FlatLists):
            fl = fact[j]
            enum = spec.enum or ()
            idx = dom_index(enum)
            words = max(1, (len(domains.get(enum, enum)) + 63) // 64)
            dom = np.array([idx[u] for u in fl.uniques] or [0], dtype=np.int64)[fl.elem_codes]
            arr = np.zeros((n, words), dtype=np.uint64)
            np.bitwise_or.at(arr, (fl.elem_rows, dom >> 6),
                             np.left_shift(np.uint64(1), (dom & 63).astype(np.uint64)))
        elif k is Kind.CODESET:
            distinct, codes = fact[j]
            enum = spec.enum or ()
            idx = dom_index(enum)
            words = max(1, (len(domains.get(enum, enum)) + 63) // 64)
            table = np.zeros((len(distinct), words), dtype=np.uint64)
            for r, vals in enumerate(distinct):
                for v in vals:
                    b = idx[v]
                    table[r, b >> 6] |= np.uint64(1) << np.uint64(b & 63)
            arr = table[codes] if len(distinct) else np.zeros((n, words), dtype=np.uint64)
        elif k is Kind.TEXT:
            uniques, codes = fact[j]
            gid = text_inv[t_off[t_pos]:t_off[t_pos + 1]]
            t_pos += 1
            arr = np.append(gid, -1).astype(np.int32)[codes]
        elif k is Kind.COMMUNE:
            uniques, codes = fact[j]
            gid = commune_inv[c_off[c_pos]:c_off[c_pos + 1]]
            c_pos += 1
            arr = np.append(gid, -1).astype(np.int32)[codes]
        else:
            raise DataError(f"column {spec.name}: kind {k.value} is not encodable")
        arr = np.ascontiguousarray(arr)
        if not arr.flags.writeable:   # Numba types read-only arrays apart: one signature only
            arr = arr.copy()
        if j < len(specs):
            cols.append(arr)
        else:
            extra[spec.name] = arr

    # ---- localisations
    territory = tuple(dict.fromkeys(grid.communes))
    terr_ids = np.array([_lookup(commune_dict, c) for c in territory] or [0], dtype=np.int64)
    loc_ptr, loc_terr, loc_val = _encode_localisations(src, n, territory, commune_dict)

    b = Batch(n=n, cols=cols, skip=skip, loc_ptr=loc_ptr, loc_terr=loc_terr, loc_val=loc_val,
              terr_ids=terr_ids, territory=territory, text_dict=text_dict,
              commune_dict=commune_dict, domains=domains,
              numero_unique=src.columns["numero_unique"], rejects=rejects,
              plan_digest=digest, extra=extra)
    b._domain_index = batch_domain_index
    return b


def _union(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted dictionary of the concatenated parts and each element's id in it."""
    if not parts:
        return np.array([], dtype=str), np.zeros(0, dtype=np.int64)
    allv = np.concatenate([p.astype(str) for p in parts]) if len(parts) > 1 else parts[0]
    if len(allv) == 0:
        return np.array([], dtype=str), np.zeros(0, dtype=np.int64)
    return _factorize_sorted(allv)


def _encode_localisations(src: Source, n: int, territory: tuple[str, ...],
                          commune_dict: np.ndarray):
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
            flat = x.flatten()
            if not src.typed:
                flat = pc.utf8_trim_whitespace(pc.cast(flat, pa.string()))
            valid = pc.fill_null(pc.not_equal(flat, ""), False).to_numpy(zero_copy_only=False)
            enc = pc.cast(flat, pa.string()).dictionary_encode()
            uniq = [str(u) for u in enc.dictionary.to_pylist()]
            ids_u = np.array([_lookup(commune_dict, u) if u else -2 for u in uniq] + [-2],
                             dtype=np.int64)
            ids_u[ids_u < 0] = -2
            terr_u = np.array([terr_index.get(u, -1) for u in uniq] + [-1], dtype=np.int32)
            codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            keep = valid.astype(bool)          # blank entries are not communes
            counts = np.diff(offsets)
            row = np.repeat(np.arange(n), counts)
            if not keep.all():
                codes = codes[keep]
                newcounts = np.bincount(row[keep], minlength=n)
                offsets = np.concatenate([[0], np.cumsum(newcounts)]).astype(np.int64)
            loc_val = ids_u[codes].astype(np.int32)
            loc_terr = terr_u[codes]
            return (np.array(offsets, dtype=np.int64), np.array(loc_terr, dtype=np.int32),
                    np.array(loc_val, dtype=np.int32))
        x = x.to_pylist()
    distinct, codes = factorize_lists("localisations", x, n, src.typed)
    lens = np.array([len(t) for t in distinct] or [0], dtype=np.int64)
    d_terr = [np.array([terr_index.get(c, -1) for c in t], dtype=np.int32) for t in distinct]
    d_val = [np.array([_lookup(commune_dict, c) for c in t], dtype=np.int64) for t in distinct]
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

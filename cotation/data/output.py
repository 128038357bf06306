"""Per-row results (scores, ranks, grid id, version, content hash, reference date) written back.

Values are written as given, in the given column and row order, so the same results always give
the same bytes: CSV cells use the canonical text forms (``true``/``false``, ISO dates, ``repr``
of floats, ``|``-joined sets in sorted order and tuples in their order, empty for missing);
Parquet columns get a type inferred from their values (int64, float64, bool, date32, timestamp,
string, or list<string> for sets and tuples).
"""
from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from cotation.data.values import MULTI_SEPARATOR


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (frozenset, set)):
        return MULTI_SEPARATOR.join(sorted(map(str, value)))
    if isinstance(value, (tuple, list)):
        return MULTI_SEPARATOR.join(map(str, value))
    return str(value)


def _arrow_type(name: str, values: Sequence[Any]) -> pa.DataType:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.string()
    if kinds <= {bool}:
        return pa.bool_()
    if kinds <= {int}:
        return pa.int64()
    if kinds <= {int, float}:
        return pa.float64()
    if kinds <= {dt.datetime}:
        return pa.timestamp("us")
    if kinds <= {dt.date}:
        return pa.date32()
    if kinds <= {frozenset, set, tuple, list}:
        return pa.list_(pa.string())
    if kinds <= {str}:
        return pa.string()
    raise TypeError(f"column {name!r}: cannot write values of types "
                    f"{', '.join(sorted(k.__name__ for k in kinds))}")


def _arrow_values(values: Sequence[Any], typ: pa.DataType) -> list:
    if pa.types.is_list(typ):
        return [None if v is None else (sorted(map(str, v)) if isinstance(v, (set, frozenset))
                                        else [str(x) for x in v]) for v in values]
    if pa.types.is_floating(typ):
        return [None if v is None else float(v) for v in values]
    return list(values)


def write_results(columns: dict[str, Any], path: str | Path) -> None:
    """Write result columns (equal lengths) to CSV or Parquet, by the extension of ``path``.
    For Parquet a column may also be an Arrow array or a numeric numpy array (written with
    its own type, without a Python object per value)."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"result columns of unequal length: {sorted(lengths)}")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() in (".parquet", ".pq"):
        from cotation.data.canonical import write_parquet
        arrays, names = [], []
        for name, values in columns.items():
            if isinstance(values, (pa.Array, pa.ChunkedArray)):
                arrays.append(values)                 # already typed: written as it is
            elif isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
                arrays.append(pa.array(values))       # int64, float64, bool from numpy
            else:
                typ = _arrow_type(name, values)
                arrays.append(pa.array(_arrow_values(values, typ), typ))
            names.append(name)
        write_parquet(pa.Table.from_arrays(arrays, names=names), path)
        return
    names = list(columns)
    n = lengths.pop() if lengths else 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(names)
        cols = [columns[k] for k in names]
        for i in range(n):
            w.writerow([_cell(c[i]) for c in cols])
    os.replace(tmp, path)

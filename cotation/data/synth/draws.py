"""Small seeded drawing helpers: weights, inverse-CDF picks, and numpy arrays turned into column values.
"""
from __future__ import annotations

import datetime as dt
import math
import numpy as np
from typing import Any, Mapping, Sequence


# ----------------------------------------------------------------------------- small helpers

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAYS_PER_YEAR = 365.25
_DAYS_PER_MONTH = 30.4375


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _weights(mapping: Mapping[Any, float], name: str, keys: Sequence[Any] | None = None) -> np.ndarray:
    """Normalised weights of ``keys`` (all codes of ``mapping`` when None)."""
    keys = list(mapping) if keys is None else keys
    unknown = set(mapping) - set(keys)
    if unknown:
        raise ValueError(f"SynthParams.{name}: unknown code(s) {sorted(map(str, unknown))}")
    w = np.array([float(mapping.get(k, 0.0)) for k in keys])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"SynthParams.{name}: weights must be >= 0 with a positive sum")
    return w / w.sum()


def _cdf(p: np.ndarray) -> np.ndarray:
    """Cumulative table for ``searchsorted(side='right')``; last bin closed at 1."""
    p = np.asarray(p, dtype=float)
    c = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    c[..., -1] = 1.0
    return c


def _pick(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Categorical draw from uniforms ``u`` with one probability vector."""
    return np.searchsorted(_cdf(p), u, side="right")


def _pick_by(u: np.ndarray, keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Categorical draw where row ``i`` uses the probability row ``table[keys[i]]``."""
    cdf = _cdf(table)
    out = np.zeros(len(u), dtype=np.int64)
    if len(u) == 0:
        return out
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    cuts = np.flatnonzero(np.diff(sk)) + 1
    for s, e in zip(np.r_[0, cuts], np.r_[cuts, len(sk)]):
        idx = order[s:e]
        out[idx] = np.searchsorted(cdf[sk[s]], u[idx], side="right")
    return out


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Numerical Recipes erfc, relative error < 1.2e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    half_erfc = 0.5 * t * np.exp(poly)
    return np.where(x >= 0, 1.0 - half_erfc, half_erfc)


def _to_list(values: np.ndarray, missing: np.ndarray | None = None) -> list:
    """numpy array → list of Python values, ``None`` where ``missing``."""
    if missing is None or not missing.any():
        return values.tolist()
    obj = values.astype(object)
    obj[missing] = None
    return obj.tolist()


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> list:
    """Days since 1970-01-01 → list of ``datetime.date`` (None where ``missing``)."""
    d = days.astype("datetime64[D]")
    if missing is not None and missing.any():
        d = d.copy()
        d[missing] = np.datetime64("NaT")
    return d.astype(object).tolist()


def _codes(index: np.ndarray, labels: Sequence[Any], missing: np.ndarray | None = None) -> list:
    lab = np.empty(len(labels) + 1, dtype=object)
    lab[:-1] = list(labels)
    lab[-1] = None
    idx = np.where(missing, len(labels), index) if missing is not None else index
    return lab[idx].tolist()


def _decode_unique(codes: np.ndarray, build) -> list:
    """Map each row code (1-D ints or 2-D rows) to a shared object built once per distinct code."""
    if len(codes) == 0:
        return []
    if codes.ndim == 1:
        uniq, inv = np.unique(codes, return_inverse=True)
    else:
        uniq, inv = np.unique(codes, axis=0, return_inverse=True)
    objs = np.empty(len(uniq), dtype=object)
    for i, u in enumerate(uniq):
        objs[i] = build(u)
    return objs[inv.reshape(-1)].tolist()


def _bitsets(masks: np.ndarray, labels: Sequence[str]) -> list:
    """Bit masks over ``labels`` → frozensets (shared per distinct mask)."""
    def build(m: Any) -> frozenset:
        m = int(m)
        return frozenset(lab for j, lab in enumerate(labels) if m >> j & 1)
    return _decode_unique(masks, build)


def _localisations(loc: np.ndarray, communes: Sequence[str]) -> list:
    """Rows of commune indices (-1 padded, in preference order) → shared tuples of codes."""
    base = len(communes) + 1
    if base ** loc.shape[1] < 2 ** 62:  # one int64 key per row: much faster than unique rows
        weights = base ** np.arange(loc.shape[1], dtype=np.int64)
        keys = ((loc + 1) * weights).sum(axis=1)

        def build(key: Any) -> tuple:
            key, out = int(key), []
            while key:
                key, digit = divmod(key, base)
                if digit:
                    out.append(communes[digit - 1])
            return tuple(out)
        return _decode_unique(keys, build)
    return _decode_unique(loc, lambda row: tuple(communes[i] for i in row.tolist() if i >= 0))


def _years_before(day: dt.date, k: int) -> int:
    """Day number of the same date ``k`` years earlier (29 February → 28 February)."""
    try:
        d = day.replace(year=day.year - k)
    except ValueError:
        d = day.replace(year=day.year - k, day=28)
    return d.toordinal() - _EPOCH_ORDINAL


def _months(days_epoch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(year, month) of day numbers."""
    m = days_epoch.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return 1970 + m // 12, m % 12 + 1

"""Territories (communes, départements) and numéros uniques of synthetic demandes.
"""
from __future__ import annotations

import numpy as np
from dataclasses import dataclass
from typing import Sequence

from cotation.data.schema import COLUMNS_BY_NAME
from cotation.data.synth.draws import _cdf, _months, _pick
from cotation.data.synth.params import SynthParams
from cotation.data.values import ValueParseError, parse_cell

# ----------------------------------------------------------------------------- territories

_COMMUNE = COLUMNS_BY_NAME["commune_residence"]


def _departement(code: str) -> str:
    """Département of an INSEE commune code, as 3 characters (069, 02A, 974)."""
    return code[:3] if code.startswith("97") else "0" + code[:2]


@dataclass(frozen=True)
class _Territories:
    """Validated territories: a commune universe with per-territory index arrays."""

    communes: tuple[str, ...]                 # universe: territories first, then exterior
    members: tuple[np.ndarray, ...]           # universe indices per territory, centre first
    commune_weights: tuple[np.ndarray, ...]   # normalised Zipf weights per territory
    territory_cdf: np.ndarray
    territory_of: np.ndarray                  # universe index → territory (-1: exterior)
    departements: tuple[str, ...]             # distinct départements (3 chars)
    dept_of: np.ndarray                       # universe index → index in departements

    @classmethod
    def build(cls, territories: Sequence[Sequence[str]], p: SynthParams) -> "_Territories":
        if isinstance(territories, str) or not territories:
            raise ValueError("territories: give at least one territory (a sequence of INSEE codes)")
        universe: list[str] = []
        owner: dict[str, int] = {}
        members = []
        for t, communes in enumerate(territories):
            if isinstance(communes, str):
                raise ValueError(f"territory {t + 1}: expected a sequence of INSEE codes, got a string")
            codes = list(dict.fromkeys(c.strip() for c in communes))
            if not codes:
                raise ValueError(f"territory {t + 1} has no commune")
            idx = []
            for c in codes:
                try:
                    parse_cell(_COMMUNE, c)
                except ValueParseError:
                    raise ValueError(f"territory {t + 1}: '{c}' is not an INSEE commune code") from None
                if c in owner:
                    raise ValueError(f"commune {c} is listed in territories {owner[c] + 1} and {t + 1}")
                owner[c] = t
                idx.append(len(universe))
                universe.append(c)
            members.append(np.array(idx, dtype=np.int64))
        for c in dict.fromkeys(p.communes_exterieures):
            try:
                parse_cell(_COMMUNE, c)
            except ValueParseError:
                raise ValueError(f"communes_exterieures: '{c}' is not an INSEE commune code") from None
            if c not in owner:
                universe.append(c)
        k = len(territories)
        tw = np.ones(k) if p.territory_weights is None else np.asarray(p.territory_weights, float)
        if tw.shape != (k,) or (tw < 0).any() or tw.sum() <= 0:
            raise ValueError(f"territory_weights: expected {k} non-negative weights with a positive sum")
        weights = []
        for m in members:
            w = 1.0 / np.arange(1, len(m) + 1) ** p.commune_zipf
            weights.append(w / w.sum())
        territory_of = np.full(len(universe), -1, dtype=np.int64)
        for t, m in enumerate(members):
            territory_of[m] = t
        depts = [_departement(c) for c in universe]
        dept_names = tuple(sorted(set(depts)))
        dept_of = np.array([dept_names.index(d) for d in depts], dtype=np.int64)
        return cls(tuple(universe), tuple(members), tuple(weights), _cdf(tw), territory_of,
                   dept_names, dept_of)

    def outside(self, t: int) -> np.ndarray:
        """Universe indices not in territory ``t`` (other territories and exterior)."""
        return np.flatnonzero(self.territory_of != t)

    def pick_commune(self, u: np.ndarray, terr: np.ndarray) -> np.ndarray:
        """One commune of each row's territory, centre-weighted."""
        out = np.zeros(len(u), dtype=np.int64)
        for t, (m, w) in enumerate(zip(self.members, self.commune_weights)):
            rows = np.flatnonzero(terr == t)
            out[rows] = m[_pick(u[rows], w)]
        return out

    def pick_outside(self, u: np.ndarray, terr: np.ndarray, others_only: bool = False) -> np.ndarray:
        """A commune outside each row's territory, uniform; -1 when there is none."""
        out = np.full(len(u), -1, dtype=np.int64)
        for t in range(len(self.members)):
            pool = self.outside(t)
            if others_only:
                pool = pool[self.territory_of[pool] >= 0]
            if len(pool):
                rows = np.flatnonzero(terr == t)
                out[rows] = pool[np.minimum((u[rows] * len(pool)).astype(np.int64), len(pool) - 1)]
        return out


# ----------------------------------------------------------------------------- numéro unique

_CLE = np.frombuffer(b"ABCDEFGHJKLMNPRSTUVWXYZ", dtype=np.uint8)  # 23 letters, no I, O, Q
_GUICHETS_PAR_DEPARTEMENT = 10


def _numeros(rng: np.random.Generator, dept: np.ndarray, depts: Sequence[str], depot: np.ndarray,
             parity: int) -> list[str]:
    """18-character numéros uniques ``DDD MM YY GGGGG K NNNNN``.

    Département, month and year of first deposit, an enregistrement office (guichet), a check
    letter and an order number counting deposits of that office and month (domain.md §1: 18
    characters, month and year of registration inside; the real field split is uncertain, so
    the id stays opaque). ``parity`` 1 numbers odd, 2 even, so two generated tables never share
    an id.
    """
    n = len(dept)
    # Distinct office codes per département; (département, month, office, order) is unique.
    guichets = np.stack([rng.permutation(90000)[:_GUICHETS_PAR_DEPARTEMENT] + 10000
                         for _ in depts])
    g_idx = rng.integers(0, _GUICHETS_PAR_DEPARTEMENT, n)
    tie = rng.random(n)
    year, month = _months(depot)
    ym = year * 12 + month
    group = (dept * 100000 + (ym - ym.min() if n else ym)) * _GUICHETS_PAR_DEPARTEMENT + g_idx
    order = np.lexsort((tie, depot, group))
    sg = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sg)) + 1] if n else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[starts, n])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, lengths)
    seq = 2 * rank + parity
    if n and seq.max() > 99999:
        raise ValueError("too many demandes per guichet and month for 5-digit order numbers; "
                         "spread them over more territories or fewer rows")
    g = guichets[dept, g_idx]
    yy = year % 100
    # Check letter over the numeric fields (Corsica's 2A/2B read as 21/22 for it).
    dnum = np.array([int(d.replace("A", "1").replace("B", "2")) for d in depts], dtype=np.int64)
    key = (dnum[dept] * 7 + month * 11 + yy * 13 + g * 17 + seq * 19) % 23
    buf = np.empty((n, 18), dtype=np.uint8)
    dch = np.array([list(d.encode()) for d in depts], dtype=np.uint8).reshape(-1, 3)
    buf[:, 0:3] = dch[dept]
    for col, (val, width) in zip((3, 5, 7, 13), ((month, 2), (yy, 2), (g, 5), (seq, 5))):
        for j in range(width):
            buf[:, col + width - 1 - j] = 48 + (val // 10 ** j) % 10
    buf[:, 12] = _CLE[key]
    return buf.view("S18").ravel().astype("U18").tolist()

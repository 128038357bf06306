"""Two ScoreTables aligned on (demande, commune), and the pairs table written from them.

Alignment is a sorted join on an integer key ``row * n_communes + commune_id``: no Python loop
over pairs. Criteria are matched between the grids by id; a criterion a grid does not have
gives 0 points (and is not met) on the pairs that grid scores.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.engine import ScoreTable
from cotation.engine.scoring import hundredths_text

PAIR_COLUMNS = ("numero_unique", "commune", "score_a", "score_b", "rank_a", "rank_b", "rank_change")


@dataclass(frozen=True)
class CriterionPair:
    """One criterion id of either grid: its index in each grid (None when absent)."""

    id: str
    label: str
    index_a: int | None
    index_b: int | None
    legal_priority: bool


@dataclass
class AlignedPairs:
    """One entry per (demande, commune) scored by at least one grid, in output order
    (commune, then rank under A, then rank under B, missing ranks last)."""

    row: np.ndarray            # int64, index into the demande table
    numero_unique: np.ndarray  # object (str)
    commune: np.ndarray        # object (str)
    has_a: np.ndarray          # bool: scored by grid A
    has_b: np.ndarray
    score_a: np.ndarray        # int64 hundredths (0 where not scored)
    score_b: np.ndarray
    rank_a: np.ndarray         # int64 (0 where not scored)
    rank_b: np.ndarray
    criteria: tuple[CriterionPair, ...]
    met_a: np.ndarray          # bool (pairs, criteria): met under A (provisional score)
    met_b: np.ndarray
    points_a: np.ndarray       # int64 (pairs, criteria): points counted under A, hundredths
    points_b: np.ndarray
    priority: np.ndarray       # bool: meets a legal-priority criterion of A (under A) or of B

    def __len__(self) -> int:
        return len(self.row)

    @property
    def both(self) -> np.ndarray:
        return self.has_a & self.has_b

    @property
    def rank_change(self) -> np.ndarray:
        """rank_a - rank_b (positive: moves up under B); 0 where a grid does not score."""
        return np.where(self.both, self.rank_a - self.rank_b, 0)


def _bits(mask: np.ndarray, j: int) -> np.ndarray:
    return ((mask[:, j // 64] >> np.uint64(j % 64)) & np.uint64(1)).astype(bool)


def match_criteria(st_a: ScoreTable, st_b: ScoreTable) -> tuple[CriterionPair, ...]:
    """Criteria of A in A's order, then those only B has, in B's order."""
    b_index = {c.id: c.index for c in st_b.grid.criteria}
    out = []
    for c in st_a.grid.criteria:
        j = b_index.get(c.id)
        lp = c.legal_priority or (j is not None and st_b.grid.criteria[j].legal_priority)
        out.append(CriterionPair(c.id, c.label, c.index, j, lp))
    a_ids = {c.id for c in st_a.grid.criteria}
    out.extend(CriterionPair(c.id, c.label, None, c.index, c.legal_priority)
               for c in st_b.grid.criteria if c.id not in a_ids)
    return tuple(out)


def _per_criterion(st: ScoreTable, idx: np.ndarray, found: np.ndarray, indices: list[int | None]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(met, counted points) per aligned pair and matched criterion, from one grid's table."""
    m, k = len(idx), len(indices)
    met = np.zeros((m, k), dtype=bool)
    pts = np.zeros((m, k), dtype=np.int64)
    rows = idx[found]
    for c, j in enumerate(indices):
        if j is None or not len(rows):
            continue
        met_j = _bits(st.met, j)[rows]
        counted = met_j & ~_bits(st.set_aside, j)[rows]
        met[found, c] = met_j
        if st.points is not None:
            pts[found, c] = np.where(counted, st.points[rows, j], 0)
    return met, pts


def align(st_a: ScoreTable, st_b: ScoreTable) -> AlignedPairs:
    """Join the two score tables on (demande row, commune)."""
    communes = np.concatenate([np.asarray(st_a.commune, dtype=str).reshape(-1),
                               np.asarray(st_b.commune, dtype=str).reshape(-1)])
    names, cid = np.unique(communes, return_inverse=True)
    c = max(1, len(names))
    key_a = st_a.row.astype(np.int64) * c + cid[:len(st_a)]
    key_b = st_b.row.astype(np.int64) * c + cid[len(st_a):]
    keys = np.union1d(key_a, key_b)

    def locate(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(k, kind="stable")
        pos = np.searchsorted(k[order], keys)
        pos_c = np.minimum(pos, max(0, len(k) - 1))
        found = (pos < len(k)) & (k[order][pos_c] == keys) if len(k) else np.zeros(len(keys), bool)
        return (order[pos_c] if len(k) else np.zeros(len(keys), np.int64)), found

    ia, has_a = locate(key_a)
    ib, has_b = locate(key_b)
    rank_a = np.where(has_a, st_a.rank[ia] if len(st_a) else 0, 0).astype(np.int64)
    rank_b = np.where(has_b, st_b.rank[ib] if len(st_b) else 0, 0).astype(np.int64)
    big = np.iinfo(np.int64).max
    commune_id = keys % c
    order = np.lexsort((keys // c, np.where(has_b, rank_b, big), np.where(has_a, rank_a, big),
                        commune_id))
    keys, ia, has_a, ib, has_b = keys[order], ia[order], has_a[order], ib[order], has_b[order]
    rank_a, rank_b = rank_a[order], rank_b[order]
    rows = keys // c
    nu = np.empty(len(keys), dtype=object)
    nu[has_a] = st_a.numero_unique[ia[has_a]]
    nu[~has_a] = st_b.numero_unique[ib[~has_a]]
    crit = match_criteria(st_a, st_b)
    met_a, pts_a = _per_criterion(st_a, ia, has_a, [x.index_a for x in crit])
    met_b, pts_b = _per_criterion(st_b, ib, has_b, [x.index_b for x in crit])
    lp_a = [x.index_a is not None and st_a.grid.criteria[x.index_a].legal_priority for x in crit]
    lp_b = [x.index_b is not None and st_b.grid.criteria[x.index_b].legal_priority for x in crit]
    priority = (met_a[:, lp_a].any(axis=1) if any(lp_a) else np.zeros(len(keys), bool)) | \
               (met_b[:, lp_b].any(axis=1) if any(lp_b) else np.zeros(len(keys), bool))
    return AlignedPairs(
        row=rows, numero_unique=nu, commune=names[keys % c].astype(object),
        has_a=has_a, has_b=has_b,
        score_a=np.where(has_a, st_a.score[ia] if len(st_a) else 0, 0).astype(np.int64),
        score_b=np.where(has_b, st_b.score[ib] if len(st_b) else 0, 0).astype(np.int64),
        rank_a=rank_a, rank_b=rank_b, criteria=crit, met_a=met_a, met_b=met_b,
        points_a=pts_a, points_b=pts_b, priority=priority)


def differing_criteria(p: AlignedPairs) -> list[int]:
    """Positions (in ``p.criteria``) of the criteria whose counted points differ on at least
    one pair scored by both grids."""
    both = p.both
    diff = (p.points_a[both] != p.points_b[both]).any(axis=0) if both.any() else \
        np.zeros(len(p.criteria), dtype=bool)
    return [int(j) for j in np.flatnonzero(diff)]


def pairs_table(p: AlignedPairs, *, decimal_text: bool) -> pa.Table:
    """The pairs table: the fixed columns, then ``pts_a_<id>``/``pts_b_<id>`` for each criterion
    whose points differ. Scores and points are decimal text (CSV: exact) or float64 points
    (Parquet); ranks are int64, null where a grid does not score the pair."""
    def pts(values: np.ndarray, valid: np.ndarray) -> pa.Array:
        if decimal_text:
            return hundredths_text(values, valid)
        return pa.array(values / 100.0, pa.float64(), mask=~valid)

    both = p.both
    cols = {
        "numero_unique": pa.array(p.numero_unique.tolist(), pa.string()),
        "commune": pa.array(p.commune.tolist(), pa.string()),
        "score_a": pts(p.score_a, p.has_a), "score_b": pts(p.score_b, p.has_b),
        "rank_a": pa.array(p.rank_a, pa.int64(), mask=~p.has_a),
        "rank_b": pa.array(p.rank_b, pa.int64(), mask=~p.has_b),
        "rank_change": pa.array(p.rank_change, pa.int64(), mask=~both),
    }
    for j in differing_criteria(p):
        cid = p.criteria[j].id
        cols[f"pts_a_{cid}"] = pts(p.points_a[:, j], p.has_a)
        cols[f"pts_b_{cid}"] = pts(p.points_b[:, j], p.has_b)
    return pa.table(cols)

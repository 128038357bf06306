"""What each grid would have said about the people who were housed: the rank of every demande
attributed in the window, in the commune of its lease, on the day of the attribution.

The demandes pending on a date ``d`` are those of the demande table filed on or before ``d`` and
not attributed before ``d`` (per the attributions file). Both grids score them as of ``d`` (one
scoring per distinct attribution date, reusing the encoded batches). Attributions whose demande
is not in the table cannot be scored and are only counted; when the attributions file carries
the attributed demandes (:func:`with_attributed`), they are added to the table first. The window is the one of reference
waiting times: ``start <= date_attribution < today``, ``start = today - window_months``.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import numpy as np
import pyarrow as pa

from cotation.analysis.scoring import TwoGridScorer
from cotation.analysis.summary import _share, rnd
from cotation.data.table import AttributionTable, DemandeTable, concat, without
from cotation.engine import ScoreTable
from cotation.info.positioning import waiting_window


def _dates(values: list) -> np.ndarray:
    return np.array(values, dtype="datetime64[D]")


def _rank_of(st: ScoreTable, universe: np.ndarray, rows: np.ndarray, communes: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(rank, commune size) of pairs (rows, communes) in ``st``; rank 0 where not scored."""
    c = len(universe)
    st_cid = np.searchsorted(universe, np.asarray(st.commune, dtype=str)) if len(st) else np.zeros(0, int)
    key_st = st.row.astype(np.int64) * c + st_cid
    key_t = rows.astype(np.int64) * c + np.searchsorted(universe, communes)
    order = np.argsort(key_st, kind="stable")
    pos = np.minimum(np.searchsorted(key_st[order], key_t), max(0, len(st) - 1))
    found = (key_st[order][pos] == key_t) if len(st) else np.zeros(len(key_t), bool)
    rank = np.where(found, st.rank[order][pos] if len(st) else 0, 0).astype(np.int64)
    sizes = np.bincount(st_cid, minlength=c)[np.searchsorted(universe, communes)]
    return rank, sizes.astype(np.int64)


def with_attributed(table: DemandeTable, att: AttributionTable,
                    attributed: DemandeTable) -> DemandeTable:
    """The demandes to rank at attribution dates when the attributions file carries the
    attributed demandes (``attributed``, row for row with ``att``: each as it stood on its
    attribution date, as ``cotation evaluate`` reads them): the demandes of ``table`` never
    attributed, then each attributed demande once (its earliest attribution's row). An
    extraction of pending demandes lacks those already housed; this is where they are."""
    nus = att.columns["numero_unique"]
    first: dict[str, int] = {}
    for j in sorted(range(len(nus)), key=lambda j: (att.columns["date_attribution"][j], j)):
        first.setdefault(nus[j], j)
    once = sorted(first.values())
    return concat(without(table, set(nus)),
                  attributed.take(once) if len(once) < len(attributed) else attributed)


def ranks_at_attribution(scorer: TwoGridScorer, table: DemandeTable, att: AttributionTable,
                         today: dt.date, window_months: int, top: tuple[int, ...],
                         progress: Callable[[int, int], None] | None = None
                         ) -> tuple[pa.Table, dict]:
    """The table of attributed demandes with their ranks, and its summary."""
    start, end = waiting_window(today, window_months)
    nus = np.array(table.columns["numero_unique"], dtype=object).astype(str)
    order = np.argsort(nus, kind="stable")
    a_nu = np.array(att.columns["numero_unique"], dtype=object).astype(str)
    a_date = _dates(att.columns["date_attribution"])
    a_commune = np.array(att.columns["commune"], dtype=object).astype(str)
    pos = np.minimum(np.searchsorted(nus[order], a_nu), max(0, len(nus) - 1))
    matched = (nus[order][pos] == a_nu) if len(nus) else np.zeros(len(a_nu), bool)
    a_row = np.where(matched, order[pos] if len(nus) else 0, -1)
    # first attribution of each demande of the table (any date): it is not pending after it
    first = np.full(len(nus), np.datetime64("9999-12-31"), dtype="datetime64[D]")
    np.minimum.at(first, a_row[matched], a_date[matched])
    depot = _dates(table.columns["date_depot"])
    in_window = (a_date >= np.datetime64(start)) & (a_date < np.datetime64(end))
    sel = np.flatnonzero(in_window & matched)
    sel = sel[np.lexsort((a_nu[sel], a_commune[sel], a_date[sel]))]
    universe = np.unique(np.concatenate([np.array(scorer.grids[0].communes, dtype=str),
                                         np.array(scorer.grids[1].communes, dtype=str),
                                         a_commune])).astype(str)
    n = len(sel)
    rank_a, of_a = np.zeros(n, np.int64), np.zeros(n, np.int64)
    rank_b, of_b = np.zeros(n, np.int64), np.zeros(n, np.int64)
    days = np.unique(a_date[sel])
    for k, day in enumerate(days):
        d = day.astype(dt.date)
        pending = (depot <= day) & ~(first < day)
        st_a, st_b = scorer.score(d, pending)
        here = np.flatnonzero(a_date[sel] == day)
        rows, communes = a_row[sel][here], a_commune[sel][here]
        rank_a[here], of_a[here] = _rank_of(st_a, universe, rows, communes)
        rank_b[here], of_b[here] = _rank_of(st_b, universe, rows, communes)
        if progress is not None:
            progress(k + 1, len(days))
    has_a, has_b = rank_a > 0, rank_b > 0
    both = has_a & has_b
    out = pa.table({
        "numero_unique": pa.array(a_nu[sel].tolist(), pa.string()),
        "date_attribution": pa.array(a_date[sel], pa.date32()),
        "commune": pa.array(a_commune[sel].tolist(), pa.string()),
        "rank_a": pa.array(rank_a, pa.int64(), mask=~has_a),
        "of_a": pa.array(of_a, pa.int64(), mask=~has_a),
        "rank_b": pa.array(rank_b, pa.int64(), mask=~has_b),
        "of_b": pa.array(of_b, pa.int64(), mask=~has_b),
        "rank_change": pa.array(rank_a - rank_b, pa.int64(), mask=~both),
    })
    summary = {
        "window": {"start": start.isoformat(), "end": end.isoformat(), "months": window_months},
        "attributions_read": len(att), "in_window": int(in_window.sum()),
        "in_window_not_in_demandes": int((in_window & ~matched).sum()),
        "scored": n, "dates": len(days),
        "scored_by_a": int(has_a.sum()), "scored_by_b": int(has_b.sum()),
        "median_rank_a": rnd(np.median(rank_a[has_a])) if has_a.any() else None,
        "median_rank_b": rnd(np.median(rank_b[has_b])) if has_b.any() else None,
        "moved_up": int(((rank_a - rank_b) > 0)[both].sum()),
        "moved_down": int(((rank_a - rank_b) < 0)[both].sum()),
        "top": {str(t): {"share_a": _share(int((has_a & (rank_a <= t)).sum()), n),
                         "share_b": _share(int((has_b & (rank_b <= t)).sum()), n)} for t in top},
    }
    return out, summary

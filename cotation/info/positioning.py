"""Positioning among "demandes analogues" and the reference waiting time, per peer cell.

Engine-independent: everything here reads a ``ScoreTable`` (scores, ordering key values) and
the demande table, whatever back end produced the scores.

Units. One *row* per (scored pair, typologie sought): a demande scored for two communes and
asking a T2 or a T3 has four rows. A demande asking no typologie has one row per pair with
typologie missing.

Peer cells. The grid's ``peers`` declares the keys (``loc.commune``, ``loc.epci``,
``typologie``, ``est_mutation``), ``min_size`` and fallbacks; the whole territory is always the
last fallback. A row uses the first level whose cell holds at least ``min_size`` *demandes*; the
whole territory is used whatever its size. Every cell counts each demande once:

- in a cell keyed by ``loc.commune`` a demande has one row per typologie, so one per cell;
- in a cell without ``loc.commune`` a demande scored for several communes would appear once per
  commune; it is represented there by its pair of lowest ``rang`` (its preferred commune of the
  territory). A row whose own pair is not that representative is positioned *in place of* its
  representative: its own score and ordering keys are compared with every other demande of the
  cell, so "rank r out of N" always reads "N demandes, yours included, with this score of yours".

Rank r is by the grid's ``ordering`` (the ranking of ``cotation score``, through
:func:`cotation.engine.ranking.rank_within`), 1 = first; ``n_above`` counts demandes with a strictly
higher score; decile = ceil(10 r / N), 1 = among the best placed tenth.

Waiting time. From the attributions whose commune belongs to the territory and whose
``date_attribution`` lies in ``[today - window_months, today)``: the start day is included, the
reference day itself is excluded (a day's leases are not all recorded on that day). Months are
calendar months, clamped to the end of a shorter month (31 March - 1 month = 28/29 February).
Waiting time of one lease = ``date_attribution - date_depot`` in days; leases dated before their
deposit are data errors and are left out (counted in ``WaitingIndex.n_negative``). The cell of
attributions is keyed like the peer cell (``loc.commune`` = the lease's commune, ``loc.epci`` =
every lease of the territory, ``typologie``, ``est_mutation``) and falls back with the same
levels and ``min_size``, independently of the peer cell of demandes (leases are far fewer than
pending demandes). Mean (the legal "délai d'attente moyen constaté") and median are exact
fractions of days; months = days / 30.4375 (the mean Gregorian month).
"""
from __future__ import annotations

import bisect
import calendar
import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from cotation.grid import ir
from cotation.grid.evaluate import months_between
from cotation.engine.ranking import rank_within
from cotation.data.schema import TYPOLOGIES
from cotation.engine.scoring import ScoreTable
from cotation.data.table import AttributionTable, DemandeTable

__all__ = [
    "PEER_KEYS", "TERRITORY", "DAYS_PER_MONTH", "HISTOGRAM_MIN_CELL", "peer_levels", "cell_key",
    "add_months", "waiting_window", "encode_order_keys", "Histogram", "histogram", "WaitingStats",
    "WaitingIndex", "PeerRows", "peer_rows", "Positioning", "position", "format_fraction",
]

PEER_KEYS = ("loc.commune", "loc.epci", "typologie", "est_mutation")
TERRITORY: tuple[str, ...] = ()          # the final fallback level: every demande of the grid
DAYS_PER_MONTH = Fraction(487, 16)       # 30.4375 = 365.25 / 12
HISTOGRAM_MIN_CELL = 5                   # privacy: smaller cells show no distribution
_MAX_BINS = 20


def peer_levels(grid: ir.GridIR) -> tuple[tuple[str, ...], ...]:
    """The cell levels tried in order: ``by``, each fallback, then the whole territory."""
    levels: list[tuple[str, ...]] = []
    for level in (grid.peers_by, *grid.peers_fallback, TERRITORY):
        level = tuple(level)
        bad = [k for k in level if k not in PEER_KEYS]
        if bad:
            raise ValueError(f"unknown peer key {bad[0]!r}; expected one of {', '.join(PEER_KEYS)}")
        if level not in levels:
            levels.append(level)
    return tuple(levels)


def value_text(v: Any) -> str:
    """A cell value as text: empty for missing, true/false for booleans."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def cell_key(level: Sequence[str], values: Sequence[Any]) -> str:
    """The stated cell key, e.g. ``loc.commune=69123;typologie=T2`` (``territoire`` for all).

    >>> cell_key(("loc.commune", "typologie"), ("69123", "T2")), cell_key((), ())
    ('loc.commune=69123;typologie=T2', 'territoire')
    """
    if not level:
        return "territoire"
    return ";".join(f"{k}={value_text(v)}" for k, v in zip(level, values))


# ---------------------------------------------------------------------------------- dates

def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` moved by whole calendar months, clamped to the month's last day.

    >>> add_months(dt.date(2025, 3, 31), -1), add_months(dt.date(2025, 1, 15), -12)
    (datetime.date(2025, 2, 28), datetime.date(2024, 1, 15))
    """
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def waiting_window(today: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """``(start, end)``: leases dated ``start <= date_attribution < end`` count; end = today."""
    return add_months(today, -months), today


def format_fraction(q: Fraction | int, digits: int = 1) -> str:
    """Exact decimal text, rounded half away from zero (no binary float involved).

    >>> format_fraction(Fraction(1, 20), 1), format_fraction(Fraction(-1, 20), 1), format_fraction(3, 1)
    ('0.1', '-0.1', '3.0')
    """
    q = Fraction(q)
    scale = 10 ** digits
    n = (abs(q) * scale * 2 + 1) // 2          # floor(|q|*scale + 1/2)
    sign = "-" if q < 0 and n else ""
    whole, frac = divmod(int(n), scale)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


# ---------------------------------------------------------------------------------- ordering

def encode_order_keys(keys: Sequence[Sequence[Any]], directions: Sequence[str]) -> list[tuple]:
    """One tuple of ints per item whose natural order is the grid's ordering.

    Same rule as :func:`cotation.engine.ranking.order_indices`: a missing value sorts after every
    present value whatever the direction. Used to place one row among a ranked cell.

    >>> encode_order_keys([[3, None, 5], ['b', 'a', 'c']], ['desc', 'asc'])
    [(0, 1), (2, 0), (-1, 2)]
    """
    n = len(keys[0]) if keys else 0
    columns = []
    for values, direction in zip(keys, directions):
        present = sorted({v for v in values if v is not None})
        code = {v: i for i, v in enumerate(present)}
        missing = len(present)
        sign = -1 if direction == "desc" else 1
        columns.append([missing if v is None else sign * code[v] for v in values])
    return [tuple(col[i] for col in columns) for i in range(n)]


# ---------------------------------------------------------------------------------- histogram

@dataclass(frozen=True)
class Histogram:
    """Scores of a cell in bins ``[edges[k], edges[k+1])`` (hundredths); ``own`` = the bin of
    the demandeur's score."""

    edges: tuple[int, ...]
    counts: tuple[int, ...]
    own: int

    @property
    def width(self) -> int:
        return self.edges[1] - self.edges[0]


def _bin_width(lo: int, hi: int) -> int:
    """Smallest of 1, 2, 5, 10, 20, 50… points giving at most ``_MAX_BINS`` bins."""
    w, steps = 100, (2, 2.5, 2)   # 1 → 2 → 5 → 10 → 20 → 50 → 100 …
    k = 0
    while (hi - (lo // w) * w) // w + 1 > _MAX_BINS:
        w = int(w * steps[k % 3])
        k += 1
    return w


def histogram(scores: np.ndarray, own_score: int) -> Histogram:
    """Bins of ``scores`` (int hundredths, the demandeur's included) with nice widths."""
    scores = np.asarray(scores, dtype=np.int64)
    lo, hi = int(scores.min()), int(scores.max())
    w = _bin_width(lo, hi)
    start = (lo // w) * w
    nb = (hi - start) // w + 1
    counts = np.bincount((scores - start) // w, minlength=nb)
    edges = tuple(start + w * k for k in range(nb + 1))
    return Histogram(edges, tuple(int(c) for c in counts), int((own_score - start) // w))


# ---------------------------------------------------------------------------------- waiting

@dataclass(frozen=True)
class WaitingStats:
    """Waiting times (days) of the leases of one attribution cell in the window."""

    level: tuple[str, ...]
    values: tuple
    n: int
    total_days: int
    median_twice: int          # 2 × median, an exact integer
    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        return cell_key(self.level, self.values)

    @property
    def mean_days(self) -> Fraction | None:
        return Fraction(self.total_days, self.n) if self.n else None

    @property
    def median_days(self) -> Fraction | None:
        return Fraction(self.median_twice, 2) if self.n else None

    @property
    def mean_months(self) -> Fraction | None:
        return None if self.mean_days is None else self.mean_days / DAYS_PER_MONTH

    @property
    def median_months(self) -> Fraction | None:
        return None if self.median_days is None else self.median_days / DAYS_PER_MONTH


class WaitingIndex:
    """Leases in the territory and the window, grouped for every peer level."""

    def __init__(self, grid: ir.GridIR, attributions: AttributionTable | None, today: dt.date):
        self.grid = grid
        self.levels = peer_levels(grid)
        self.min_size = grid.peers_min_size
        self.start, self.end = waiting_window(today, grid.waiting_window_months)
        cols = attributions.columns if attributions is not None else {}
        territory = set(grid.communes)
        kept: list[int] = []
        self.n_outside = self.n_negative = 0
        waits: list[int] = []
        for i in range(len(attributions) if attributions is not None else 0):
            d_att = cols["date_attribution"][i]
            if cols["commune"][i] not in territory or not (self.start <= d_att < self.end):
                self.n_outside += 1
                continue
            w = (d_att - cols["date_depot"][i]).days
            if w < 0:
                self.n_negative += 1
                continue
            kept.append(i)
            waits.append(w)
        self.n_used = len(kept)
        self._groups: list[dict[tuple, np.ndarray]] = []
        for level in self.levels:
            by: dict[tuple, list[int]] = {}
            for i, w in zip(kept, waits):
                by.setdefault(tuple(self._value(k, cols, i) for k in level), []).append(w)
            self._groups.append({k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in by.items()})
        self._cache: dict[tuple, WaitingStats] = {}

    def _value(self, key: str, cols: dict, i: int) -> Any:
        if key == "loc.commune":
            return cols["commune"][i]
        if key == "loc.epci":
            return self.grid.epci_siren
        if key == "typologie":
            return cols["typologie"][i]
        return cols["est_mutation"][i]

    def lookup(self, values: dict[str, Any]) -> WaitingStats:
        """Stats for a row whose key values are ``values``, after fallbacks."""
        cache_key = tuple(values.get(k) for k in PEER_KEYS)
        hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        for li, level in enumerate(self.levels):
            vals = tuple(values[k] for k in level)
            waits = self._groups[li].get(vals)
            n = 0 if waits is None else len(waits)
            if n >= self.min_size or level == TERRITORY:
                break
        if n:
            mid = n // 2
            median_twice = 2 * int(waits[mid]) if n % 2 else int(waits[mid - 1]) + int(waits[mid])
            stats = WaitingStats(level, vals, n, int(waits.sum()), median_twice, self.start, self.end)
        else:
            stats = WaitingStats(level, vals, 0, 0, 0, self.start, self.end)
        self._cache[cache_key] = stats
        return stats


# ---------------------------------------------------------------------------------- peer rows

@dataclass
class PeerRows:
    """One row per (scored pair, typologie sought), in ScoreTable order then typologie order."""

    pair: np.ndarray            # int64 index into the ScoreTable
    demande: np.ndarray         # int64 index into the demande table
    typologie: list[str | None]

    def __len__(self) -> int:
        return len(self.pair)


def peer_rows(st: ScoreTable, table: DemandeTable) -> PeerRows:
    typos = table.columns["typologies"]
    pair, demande, typologie = [], [], []
    cache: dict[frozenset, list] = {}
    for p in range(len(st)):
        d = int(st.row[p])
        s = typos[d] or frozenset()
        ts = cache.get(s)
        if ts is None:
            ts = cache[s] = [t for t in TYPOLOGIES if t in s] + sorted(s - set(TYPOLOGIES)) or [None]
        for t in ts:
            pair.append(p)
            demande.append(d)
            typologie.append(t)
    return PeerRows(np.asarray(pair, dtype=np.int64), np.asarray(demande, dtype=np.int64), typologie)


# ---------------------------------------------------------------------------------- positioning

@dataclass
class _Cell:
    """Members of one cell at one level: representative rows ordered by rank."""

    reps: list[int]              # row indices, first to last
    scores_sorted: np.ndarray    # reps' scores ascending (hundredths)
    encoded: list[tuple] | None  # reps' encoded ordering keys, first to last (lazy)


@dataclass
class Positioning:
    """Position and waiting time of every row; see the module docstring for the rules."""

    grid: ir.GridIR
    st: ScoreTable
    table: DemandeTable
    rows: PeerRows
    levels: tuple[tuple[str, ...], ...]
    level: np.ndarray           # index into ``levels`` of the cell used, per row
    cell_values: list[tuple]    # that cell's key values, per row
    rank: np.ndarray            # 1 = first
    size: np.ndarray            # N, demandes in the cell (the demandeur included)
    n_above: np.ndarray         # demandes with a strictly higher score
    rep_row: np.ndarray         # row standing for the same demande in the cell (itself if rep)
    waiting: list[WaitingStats]
    delai_threshold: list[int | None]   # months of délai anormalement long for the typologie
    anciennete_mois: np.ndarray
    waiting_index: WaitingIndex
    _cells: dict[tuple[int, tuple], _Cell]

    def __len__(self) -> int:
        return len(self.rows)

    def cell_key(self, i: int) -> str:
        return cell_key(self.levels[self.level[i]], self.cell_values[i])

    def decile(self, i: int) -> int:
        r, n = int(self.rank[i]), int(self.size[i])
        return (10 * r + n - 1) // n

    def share_above(self, i: int) -> Fraction:
        return Fraction(int(self.n_above[i]), int(self.size[i]))

    def deciles(self) -> np.ndarray:
        """:meth:`decile` of every row, in integers."""
        rank, size = np.asarray(self.rank, dtype=np.int64), np.asarray(self.size, dtype=np.int64)
        return (10 * rank + size - 1) // size

    def shares_above_text(self, digits: int = 4) -> list[str]:
        """``format_fraction(share_above(i), digits)`` of every row, in integers:
        floor(q * 10^digits + 1/2) for q >= 0."""
        above, size = np.asarray(self.n_above, dtype=np.int64), np.asarray(self.size, dtype=np.int64)
        scale = 10 ** digits
        n = (2 * above * scale + size) // (2 * size)
        return [f"{w}.{f:0{digits}d}" for w, f in zip((n // scale).tolist(), (n % scale).tolist())]

    def delai_depasse(self, i: int) -> bool | None:
        t = self.delai_threshold[i]
        return None if t is None else bool(self.anciennete_mois[i] >= t)

    def cell_scores(self, i: int) -> np.ndarray:
        """Scores of the population row ``i`` is compared with (its own score in it)."""
        cell = self._cells[(int(self.level[i]), self.cell_values[i])]
        scores = cell.scores_sorted
        r = int(self.rep_row[i])
        if r == i:
            return scores
        own = int(self.st.score[self.rows.pair[i]])
        rep = int(self.st.score[self.rows.pair[r]])
        k = int(np.searchsorted(scores, rep))
        return np.sort(np.concatenate([np.delete(scores, k), [own]]))

    def histogram(self, i: int) -> Histogram | None:
        """Distribution of the cell's scores, or None when the cell has < 5 demandes."""
        if int(self.size[i]) < HISTOGRAM_MIN_CELL:
            return None
        return histogram(self.cell_scores(i), int(self.st.score[self.rows.pair[i]]))


def _row_values(grid: ir.GridIR, st: ScoreTable, table: DemandeTable, rows: PeerRows) -> dict[str, list]:
    mut = table.columns["est_mutation"]
    return {
        "loc.commune": [st.commune[p] for p in rows.pair.tolist()],
        "loc.epci": [grid.epci_siren] * len(rows),
        "typologie": rows.typologie,
        "est_mutation": [mut[d] for d in rows.demande.tolist()],
    }


def position(grid: ir.GridIR, st: ScoreTable, table: DemandeTable,
             attributions: AttributionTable | None, today: dt.date) -> Positioning:
    """Position every (demande, commune, typologie) row in its peer cell, with waiting times.

    ``table`` is the demande table the ScoreTable was computed from (its ``row`` indices).
    """
    rows = peer_rows(st, table)
    n = len(rows)
    levels = peer_levels(grid)
    values = _row_values(grid, st, table, rows)
    demande = rows.demande.tolist()
    rang = st.rang[rows.pair].tolist()

    # Cells, representatives and sizes at every level.
    keys_by_level: list[list[tuple]] = []
    rep_by_level: list[list[int]] = []
    size_by_level: list[dict[tuple, int]] = []
    for level in levels:
        cols = [values[k] for k in level]
        keys = [tuple(c[i] for c in cols) for i in range(n)] if level else [()] * n
        # A demande's representative in a cell: its row of lowest rang (its preferred
        # commune), whatever order the engine listed the pairs in.
        first: dict[tuple, int] = {}
        for i in range(n):
            j = first.setdefault((demande[i], keys[i]), i)
            if j != i and (rang[i], i) < (rang[j], j):
                first[(demande[i], keys[i])] = i
        rep = [first[(demande[i], keys[i])] for i in range(n)]
        sizes: dict[tuple, int] = {}
        for (_, k) in first:
            sizes[k] = sizes.get(k, 0) + 1
        keys_by_level.append(keys)
        rep_by_level.append(rep)
        size_by_level.append(sizes)

    # First level whose cell is large enough; the whole territory whatever its size.
    last = len(levels) - 1
    level = np.full(n, last, dtype=np.int64)
    for i in range(n):
        for li in range(last):
            if size_by_level[li][keys_by_level[li][i]] >= grid.peers_min_size:
                level[i] = li
                break

    directions = [o.direction for o in grid.ordering]
    scores = st.score
    pair = rows.pair
    rank = np.zeros(n, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    above = np.zeros(n, dtype=np.int64)
    rep_row = np.zeros(n, dtype=np.int64)
    cell_values: list[tuple] = [()] * n
    cells: dict[tuple[int, tuple], _Cell] = {}
    encoded_all: list[tuple] | None = None

    for li in range(len(levels)):
        chosen = np.flatnonzero(level == li).tolist()
        if not chosen:
            continue
        keys, rep = keys_by_level[li], rep_by_level[li]
        wanted = {keys[i] for i in chosen}
        reps = [i for i in range(n) if rep[i] == i and keys[i] in wanted]
        rep_pairs = pair[reps].tolist()
        # The ranking of `cotation score`, on one representative per demande and cell.
        ranks = rank_within([keys[i] for i in reps], [[k[p] for p in rep_pairs] for k in st.order_keys],
                            directions)
        rank_of = dict(zip(reps, ranks.tolist()))
        members: dict[tuple, list[int]] = {}
        for i, r in zip(reps, ranks.tolist()):
            members.setdefault(keys[i], []).append(i)
        for k, m in members.items():
            m.sort(key=rank_of.__getitem__)
            cells[(li, k)] = _Cell(m, np.sort(scores[pair[m]]), None)
        for i in chosen:
            k = keys[i]
            cell = cells[(li, k)]
            s = int(scores[pair[i]])
            n_above = len(cell.scores_sorted) - int(np.searchsorted(cell.scores_sorted, s, side="right"))
            r = rep[i]
            if r == i:
                rank[i] = rank_of[i]
            else:
                # Placed instead of its representative (another commune of the same demande).
                if encoded_all is None:
                    encoded_all = encode_order_keys(st.order_keys, directions)
                if cell.encoded is None:
                    cell.encoded = [encoded_all[pair[j]] for j in cell.reps]
                mine, theirs = encoded_all[pair[i]], encoded_all[pair[r]]
                before = bisect.bisect_left(cell.encoded, mine) - (1 if theirs < mine else 0)
                rank[i] = before + 1
                n_above -= 1 if int(scores[pair[r]]) > s else 0
            rep_row[i] = r
            size[i] = len(cell.reps)
            above[i] = n_above
            cell_values[i] = k

    # Waiting times and délai anormalement long.
    windex = WaitingIndex(grid, attributions, today)
    waiting = [windex.lookup({k: values[k][i] for k in PEER_KEYS}) for i in range(n)]
    thresholds = grid.delai_anormalement_long or {}
    delai = [thresholds.get(t) if t is not None else None for t in rows.typologie]
    depot = table.columns["date_depot"]
    anciennete = np.asarray([months_between(depot[d], today) for d in demande], dtype=np.int64)
    return Positioning(grid, st, table, rows, levels, level, cell_values, rank, size, above, rep_row,
                       waiting, delai, anciennete, windex, cells)

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

import calendar
import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from cotation.grid import ir
from cotation.data.schema import TYPOLOGIES
from cotation.engine.scoring import ScoreTable
from cotation.data.table import (
    ATTRIBUTION_FIELDS, AttributionTable, DemandeTable, arrow_type, arrow_values,
)

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
        import pyarrow as pa
        import pyarrow.compute as pc

        from cotation.info.codes import EPOCH, day_numbers, value_codes

        self.grid = grid
        self.levels = peer_levels(grid)
        self.min_size = grid.peers_min_size
        self.start, self.end = waiting_window(today, grid.waiting_window_months)
        m = len(attributions) if attributions is not None else 0
        self.n_outside = self.n_negative = self.n_used = 0
        self._groups: list[dict[tuple, np.ndarray]] = [{} for _ in self.levels]
        self._cache: dict[tuple, WaitingStats] = {}
        if not m:
            return
        def column(name: str) -> pa.Array:
            col = ATTRIBUTION_FIELDS[name]
            arr = attributions.arrow_column(name)
            if arr is None:
                return arrow_values(col, attributions.columns[name])
            typ = arrow_type(col.kind)
            return arr.cast(typ) if arr.type != typ else arr     # (dictionary-encoded text)

        cols = {name: column(name) for name in ("date_attribution", "date_depot", "commune",
                                                 "typologie", "est_mutation")}
        d_att = day_numbers(cols["date_attribution"])
        waits = d_att - day_numbers(cols["date_depot"])
        territory = pa.array(sorted(set(grid.communes)), type=pa.string())
        inside = pc.is_in(cols["commune"], value_set=territory)
        inside = inside.fill_null(False).to_numpy(zero_copy_only=False)
        inside &= (d_att >= (self.start - EPOCH).days) & (d_att < (self.end - EPOCH).days)
        self.n_outside = int(m - inside.sum())
        self.n_negative = int((inside & (waits < 0)).sum())
        kept = np.flatnonzero(inside & (waits >= 0))
        self.n_used = len(kept)
        if not len(kept):
            return
        waits = waits[kept]
        take = pa.array(kept)
        codes = {"loc.commune": value_codes(cols["commune"].take(take)),
                 "loc.epci": (np.zeros(len(kept), dtype=np.int64), [grid.epci_siren]),
                 "typologie": value_codes(cols["typologie"].take(take)),
                 "est_mutation": value_codes(cols["est_mutation"].take(take))}
        for li, level in enumerate(self.levels):
            key = np.zeros(len(kept), dtype=np.int64)
            for k in level:
                key = key * len(codes[k][1]) + codes[k][0]
            order = np.lexsort((waits, key))
            sk = key[order]
            cuts = np.flatnonzero(sk[1:] != sk[:-1]) + 1
            for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(sk)]):
                rest, vals = int(sk[lo]), []
                for k in reversed(level):
                    rest, c = divmod(rest, len(codes[k][1]))
                    vals.append(codes[k][1][c])
                self._groups[li][tuple(reversed(vals))] = waits[order[lo:hi]]

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
    typologie_code: np.ndarray | None = None    # index into typologie_vocab, per row
    typologie_vocab: tuple = ()                 # TYPOLOGIES, other values sorted, then None

    def __len__(self) -> int:
        return len(self.pair)


def peer_rows(st: ScoreTable, table: DemandeTable) -> PeerRows:
    from cotation.info.codes import present, typology_sets

    rows_used = present(st.row, len(table))
    # Each distinct set of typologies is listed once (TYPOLOGIES order, then others sorted).
    sid_of = np.zeros(len(table), dtype=np.int64)
    sid_of[rows_used], sets = typology_sets(table, rows_used)
    others = sorted({t for s in sets for t in s if t not in TYPOLOGIES})
    vocab = (*TYPOLOGIES, *others, None)
    code_of = {t: i for i, t in enumerate(vocab)}
    lists = [[code_of[t] for t in TYPOLOGIES if t in s] + sorted(code_of[t] for t in s
             if t not in TYPOLOGIES) or [len(vocab) - 1] for s in sets]
    lengths = np.asarray([len(x) for x in lists], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    flat = np.asarray([c for x in lists for c in x], dtype=np.int64)
    sid = sid_of[st.row]
    count = lengths[sid] if len(st) else np.zeros(0, np.int64)
    pair = np.repeat(np.arange(len(st), dtype=np.int64), count)
    within = np.arange(len(pair), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    code = flat[offsets[sid[pair]] + within] if len(pair) else np.zeros(0, np.int64)
    typologie = np.asarray(vocab, dtype=object)[code].tolist()
    return PeerRows(pair, np.asarray(st.row, dtype=np.int64)[pair], typologie, code, vocab)


# ---------------------------------------------------------------------------------- positioning

# From this many rows the peer levels are worked out on threads (1M demandes, 2.2M rows, 4
# levels, 2 cores: the positioning step 1.63-1.76 s on one thread, 1.06-1.08 s on two).
LEVELS_PARALLEL_FROM = 200_000


@dataclass
class _Cell:
    """Members of one cell at one level: representative rows ordered by rank."""

    reps: np.ndarray             # row indices, first to last
    scores_sorted: np.ndarray    # reps' scores ascending (hundredths)


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
    # The same per-row facts as codes, for columnar writers: ``cells[cell_id[i]]`` is
    # ``(level[i], cell_values[i])`` and ``waiting_stats[waiting_id[i]] is waiting[i]``.
    cell_id: np.ndarray | None = None
    cells: list[tuple[int, tuple]] = field(default_factory=list)
    waiting_id: np.ndarray | None = None
    waiting_stats: list[WaitingStats] = field(default_factory=list)

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


def _row_codes(grid: ir.GridIR, st: ScoreTable, table: DemandeTable, rows: PeerRows
               ) -> dict[str, tuple[np.ndarray, list]]:
    """Per peer key, ``(codes per row, vocabulary)``: ``vocabulary[codes[i]]`` is row i's value."""
    import pyarrow as pa

    from cotation.info.codes import arrow_column, value_codes

    commune, communes = value_codes(st.commune)
    arrow = arrow_column(table, "est_mutation", pa.types.is_boolean)
    mutation, mutations = value_codes(arrow if arrow is not None else table.columns["est_mutation"])
    return {
        "loc.commune": (commune[rows.pair], communes),
        "loc.epci": (np.zeros(len(rows), dtype=np.int64), [grid.epci_siren]),
        "typologie": (rows.typologie_code, list(rows.typologie_vocab)),
        "est_mutation": (mutation[rows.demande], mutations),
    }


def _cell_codes(codes: dict[str, tuple[np.ndarray, list]], level: Sequence[str], n: int
                ) -> tuple[np.ndarray, list[tuple]]:
    """``(cell index per row, key values per cell)`` at one level."""
    from cotation.info.codes import compact

    key, span = np.zeros(n, dtype=np.int64), 1
    for k in level:
        key = key * len(codes[k][1]) + codes[k][0]
        span *= len(codes[k][1])
    uniq, index = compact(key, span)
    values = []
    for u in uniq.tolist():
        vals = []
        for k in reversed(level):
            u, c = divmod(u, len(codes[k][1]))
            vals.append(codes[k][1][c])
        values.append(tuple(reversed(vals)))
    return index, values


def position(grid: ir.GridIR, st: ScoreTable, table: DemandeTable,
             attributions: AttributionTable | None, today: dt.date) -> Positioning:
    """Position every (demande, commune, typologie) row in its peer cell, with waiting times.

    ``table`` is the demande table the ScoreTable was computed from (its ``row`` indices).
    Columnar: group-bys by sorting integer codes; the rules are those of the module docstring.
    """
    import pyarrow as pa

    from cotation.data.parallel import map_columns
    from cotation.info.codes import (arrow_column, compact, day_numbers, group_starts,
                                     months_between_days, order_ranks, present, sort_order)

    rows = peer_rows(st, table)
    n = len(rows)
    levels = peer_levels(grid)
    codes = _row_codes(grid, st, table, rows)
    pair, demande = rows.pair, rows.demande
    scores = np.asarray(st.score, dtype=np.int64)
    rang = np.asarray(st.rang, dtype=np.int64)[pair]
    # Per pair: dense rank of its ordering tuple (0 = first) and of its score (0 = lowest).
    order_rank = st.order_rank if st.order_rank is not None and len(st.order_rank) == len(st) \
        else order_ranks(grid.ordering, scores, st.order_keys)
    order_rank = np.asarray(order_rank, dtype=np.int64)[pair]
    low = int(scores.min()) if len(scores) else 0
    score_values, score_rank = compact(scores - low, int(scores.max()) - low + 1 if len(scores) else 1)
    score_rank = score_rank[pair]
    # Rows by demande, then rang (the preferred commune first), then row index.
    by_demande = sort_order((demande, len(table)), (rang - int(rang.min()) if n else rang,
                                                     int(rang.max() - rang.min()) + 1 if n else 1))
    arange = np.arange(n, dtype=np.int64)

    # Cells, representatives and sizes at every level (levels on the column threads: numpy
    # releases the interpreter lock in their gathers and scatters).
    def level_cells(lv):
        cell, values = _cell_codes(codes, lv, n)
        # A demande's representative in a cell: its row of lowest rang (its preferred
        # commune), whatever order the engine listed the pairs in.
        g = demande[by_demande] * len(values) + cell[by_demande]
        o = sort_order((g, len(table) * len(values)))
        members = by_demande[o]
        new = group_starts(g[o])
        rep = np.empty(n, dtype=np.int64)
        rep[members] = members[new][np.cumsum(new) - 1]
        return cell, values, rep, np.bincount(cell[rep == arange], minlength=len(values))

    per_level = map_columns(level_cells, levels, n, parallel_from=LEVELS_PARALLEL_FROM)
    cell_of = [c for c, _v, _r, _s in per_level]
    values_of = [v for _c, v, _r, _s in per_level]
    rep_of = [r for _c, _v, r, _s in per_level]
    size_of = [z for _c, _v, _r, z in per_level]

    # First level whose cell is large enough; the whole territory whatever its size.
    last = len(levels) - 1
    level = np.full(n, last, dtype=np.int64)
    undecided = np.ones(n, dtype=bool)
    for li in range(last):
        ok = undecided & (size_of[li][cell_of[li]] >= grid.peers_min_size)
        level[ok] = li
        undecided &= ~ok

    rank = np.zeros(n, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    above = np.zeros(n, dtype=np.int64)
    rep_row = np.zeros(n, dtype=np.int64)
    cell_id = np.zeros(n, dtype=np.int64)
    cell_list: list[tuple[int, tuple]] = []
    cells: dict[tuple[int, tuple], _Cell] = {}
    g_span = int(order_rank.max()) + 1 if n else 1
    s_span = len(score_values) + 1
    for li in range(len(levels)):
        chosen = np.flatnonzero(level == li)
        if not len(chosen):
            continue
        cell, rep = cell_of[li], rep_of[li]
        wanted = np.zeros(len(values_of[li]), dtype=bool)
        wanted[cell[chosen]] = True
        reps = np.flatnonzero((rep == arange) & wanted[cell])
        # The ranking of `cotation score` on one representative per demande and cell: by
        # ordering, ties in row order (the reference's stable sorts).
        o = sort_order((cell[reps], len(wanted)), (order_rank[reps], g_span))
        reps, rcell = reps[o], cell[reps[o]]
        count = np.bincount(rcell, minlength=len(wanted))
        start = np.cumsum(count) - count
        rank_of = np.zeros(n, dtype=np.int64)
        rank_of[reps] = np.arange(len(reps), dtype=np.int64) - start[rcell] + 1
        by_order = rcell * g_span + order_rank[reps]                 # ascending
        by_score = rcell * s_span + score_rank[reps]
        so = sort_order((by_score, len(wanted) * s_span))
        by_score = by_score[so]
        sorted_scores = scores[pair[reps[so]]]
        # n_above of a representative: the cell's end minus the end of its run of equal scores
        new = group_starts(by_score)
        run_end = np.append(np.flatnonzero(new)[1:], len(new))[np.cumsum(new) - 1]
        above_of = np.zeros(n, dtype=np.int64)
        above_of[reps[so]] = (start + count)[rcell[so]] - run_end
        base = len(cell_list)
        for c in np.flatnonzero(wanted).tolist():
            lo, hi = int(start[c]), int(start[c] + count[c])
            cells[(li, values_of[li][c])] = _Cell(reps[lo:hi], sorted_scores[lo:hi])
        cell_list.extend((li, v) for v in values_of[li])

        c, r = cell[chosen], rep[chosen]
        is_rep = r == chosen
        rank[chosen] = rank_of[chosen]
        above[chosen] = above_of[chosen]
        rep_row[chosen] = r
        size[chosen] = count[c]
        cell_id[chosen] = base + c
        # A row standing in for its representative (another commune of the same demande):
        # placed with its own score and ordering keys among the others of the cell.
        other = chosen[~is_rep]
        if len(other):
            c, r = cell[other], rep[other]
            mine_s, mine_g = score_rank[other], order_rank[other]
            before = np.searchsorted(by_order, c * g_span + mine_g, side="left") - start[c] \
                - (order_rank[r] < mine_g)
            rank[other] = before + 1
            above[other] = start[c] + count[c] \
                - np.searchsorted(by_score, c * s_span + mine_s, side="right") \
                - (score_rank[r] > mine_s)
    cell_objects = np.empty(len(cell_list), dtype=object)
    for i, (_, v) in enumerate(cell_list):      # one by one: a tuple is an item, not a row
        cell_objects[i] = v
    cell_values = cell_objects[cell_id].tolist()

    # Waiting times: one lookup per distinct (commune, typologie, est_mutation) of the rows.
    windex = WaitingIndex(grid, attributions, today)
    wkey, wspan = np.zeros(n, dtype=np.int64), 1
    for k in PEER_KEYS:
        wkey = wkey * len(codes[k][1]) + codes[k][0]
        wspan *= len(codes[k][1])
    wuniq, waiting_id = compact(wkey, wspan)
    first = np.zeros(len(wuniq), dtype=np.int64)
    first[waiting_id] = np.arange(n, dtype=np.int64)      # any row of the group: same values
    stats = [windex.lookup({k: codes[k][1][codes[k][0][i]] for k in PEER_KEYS})
             for i in first.tolist()]
    stat_objects = np.empty(len(stats), dtype=object)
    stat_objects[:] = stats
    waiting = stat_objects[waiting_id].tolist()

    thresholds = grid.delai_anormalement_long or {}
    delai_of = np.empty(len(rows.typologie_vocab), dtype=object)
    delai_of[:] = [thresholds.get(t) if t is not None else None for t in rows.typologie_vocab]
    delai = delai_of[rows.typologie_code].tolist()
    used = present(demande, len(table))
    months = np.zeros(len(table), dtype=np.int64)
    depot = arrow_column(table, "date_depot", pa.types.is_date32)
    if depot is None:
        depot = pa.array(table.columns["date_depot"], pa.date32())
    months[used] = months_between_days(day_numbers(depot.take(pa.array(used))), today)
    anciennete = months[demande]
    return Positioning(grid, st, table, rows, levels, level, cell_values, rank, size, above, rep_row,
                       waiting, delai, anciennete, windex, cells, cell_id, cell_list, waiting_id,
                       stats)

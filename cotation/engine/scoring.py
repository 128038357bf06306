"""Scores of a demande table under a grid: the engine-independent result, and the
interpreter back end that fills it.

Scores are integer hundredths. Criteria bitmasks (bit j = criterion j) say which criteria were
met and which were set aside by a group policy, for the provisional and the validated score;
any back end must produce the same arrays, bit for bit.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cotation.grid import ir
from cotation.engine.interpreter import Interpreter, PairScore
from cotation.engine.ranking import rank_within
from cotation.engine.reads import local_field_column
from cotation.data.table import DemandeTable, Reject
from cotation.data.values import ValueParseError, parse_cell

Progress = Callable[[int, int], None]


class DecodedOnDemand(Sequence):
    """``ScoreTable.order_keys`` decoded on first use: the compiled engine's ordering key
    values become Python objects (a date, a text per pair) only if something reads them;
    positioning reads :attr:`ScoreTable.order_rank` instead. Equal to the decoded list."""

    def __init__(self, n_keys: int, decode: Callable[[], list[list[Any]]]):
        self._n = n_keys
        self._decode: Callable[[], list[list[Any]]] | None = decode
        self._values: list[list[Any]] | None = None

    def _load(self) -> list[list[Any]]:
        # Safe when threads share the table: each may decode (same values), none calls a
        # decoder another has dropped (``_values`` is set before ``_decode`` is cleared).
        values = self._values
        if values is None:
            decode = self._decode
            if decode is None:           # decoded by another thread meanwhile
                return self._values      # type: ignore[return-value]
            values = self._values = decode()
            self._decode = None          # what it held (the run's arrays) can go
        return values

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, j):
        return self._load()[j]

    def __eq__(self, other: object) -> bool:
        return list(self._load()) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(self._load())


@dataclass
class ScoreTable:
    """One row per scored (demande, commune) pair, in demande order then localisation order."""

    grid: ir.GridIR
    today: dt.date
    row: np.ndarray            # int64 index into the demande table
    # object (str); an engine may give an :class:`OnDemand` that makes it on first read
    numero_unique: np.ndarray
    commune: np.ndarray        # object (str)
    rang: np.ndarray           # int32, 1 = first choice
    score: np.ndarray          # int64 hundredths
    score_valide: np.ndarray   # int64 hundredths
    met: np.ndarray            # uint64 (n, words)
    set_aside: np.ndarray
    met_valide: np.ndarray
    set_aside_valide: np.ndarray
    points: np.ndarray | None  # int64 (n, criteria) hundredths when explanations were asked
    order_keys: Sequence[list[Any]] = field(default_factory=list)  # per ordering key, per pair
    rank: np.ndarray | None = None
    rejects: list[Reject] = field(default_factory=list)
    # When the engine knows it (compiled): each pair's commune as an index into ``territory``.
    terr: np.ndarray | None = None
    territory: tuple[str, ...] = ()
    # Dense rank (int64, 0 = first) of each pair's tuple of ordering keys over all pairs, when
    # the engine was asked for it (``score(..., order_rank=True)``): equal tuples, equal ranks.
    order_rank: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.row)

    def criterion_met(self, j: int, valide: bool = False) -> np.ndarray:
        mask = self.met_valide if valide else self.met
        return ((mask[:, j // 64] >> np.uint64(j % 64)) & np.uint64(1)).astype(bool)


class OnDemand:
    """A column of :class:`ScoreTable` made when first read (the compiled engine's
    ``numero_unique``: a Python string per pair, 0.1 s for 1M demandes, which ``cotation
    score`` never reads: it writes the Arrow column)."""

    def __init__(self, make: Callable[[], np.ndarray]):
        self.make = make


def _on_demand(name: str) -> property:
    """A property over the instance's ``_<name>``, which may hold an :class:`OnDemand`."""
    slot = "_" + name

    def get(self):
        value = self.__dict__[slot]
        if isinstance(value, OnDemand):
            value = self.__dict__[slot] = value.make()
        return value

    def put(self, value) -> None:
        self.__dict__[slot] = value

    return property(get, put)


# after @dataclass: its __init__, __eq__ and __repr__ go through the property
ScoreTable.numero_unique = _on_demand("numero_unique")


def words_for(n_criteria: int) -> int:
    return max(1, (n_criteria + 63) // 64)


def local_field_values(grid: ir.GridIR, table: DemandeTable) -> tuple[dict[str, list], list[Reject]]:
    """Parse the grid's local fields from the table's extra columns.

    An absent column or an empty cell gives the field's default; a cell that cannot be read
    is a reject (the demande is not scored), never a silent default. Each distinct cell text
    is parsed once (values are immutable and shared); the values of a field are a sequence
    indexed like the table's rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values: dict[str, list] = {}
    rejects: list[Reject] = []
    n = len(table)
    for f in grid.local_fields:
        arr = table.arrow_column(f.name)
        if arr is None:
            raw = table.extras.get(f.name)
            if raw is None:
                values[f.name] = [f.default] * n
                continue
            arr = pa.array([None if c is None else str(c) for c in raw], pa.string())
        col = local_field_column(f)
        encoded = arr.dictionary_encode()
        distinct = encoded.dictionary.to_pylist()
        parsed = np.empty(len(distinct) + 1, dtype=object)
        parsed[len(distinct)] = f.default        # a missing cell
        bad: dict[int, str] = {}
        for j, cell in enumerate(distinct):
            if cell.strip() == "":
                parsed[j] = f.default
                continue
            try:
                parsed[j] = parse_cell(col, cell)
            except ValueParseError as exc:
                parsed[j] = f.default
                bad[j] = str(exc)
        idx = pc.fill_null(encoded.indices, len(distinct)).to_numpy(zero_copy_only=False)
        values[f.name] = parsed[idx]
        if bad:
            rows = np.flatnonzero(np.isin(idx, np.fromiter(bad, np.int64, len(bad))))
            lines = table.source_lines
            nus = _numero_unique(table, rows)
            for i, nu in zip(rows.tolist(), nus):
                rejects.append(Reject(lines[i] if lines else i + 2, f.name, distinct[idx[i]],
                                      bad[int(idx[i])], nu))
    rejects.sort(key=lambda r: r.line)
    return values, rejects


def _numero_unique(table: DemandeTable, rows: np.ndarray) -> list[str]:
    arr = table.arrow_column("numero_unique")
    if arr is not None:
        import pyarrow as pa
        return arr.take(pa.array(rows, pa.int64())).to_pylist()
    col = table.columns["numero_unique"]
    return [col[i] for i in rows.tolist()]


def score_interpreted(grid: ir.GridIR, table: DemandeTable, today: dt.date, *,
                      explain: bool = True, progress: Progress | None = None) -> ScoreTable:
    """Score every pair in scope with the reference interpreter, then rank."""
    interp = Interpreter(grid)
    local, rejects = local_field_values(grid, table)
    rejected_rows = {r.numero_unique for r in rejects}
    pairs: list[PairScore] = []
    n = len(table)
    step = max(1, n // 100)
    # A demande none of whose localisations is in the territory has no pair: score_row would
    # return [] for it (deriving its fields and judging its scope change nothing), so its row
    # is not even built. The columns are looked up once, not once per row.
    territory = frozenset(grid.communes)
    localisations = table.columns["localisations"]
    columns = list(table.columns.items()) + list(table.extras.items())
    for i in range(n):
        locs = localisations[i]
        if locs and not territory.isdisjoint(locs):
            row = {name: col[i] for name, col in columns}
            if row["numero_unique"] not in rejected_rows:
                for name, vals in local.items():
                    row[name] = vals[i]
                pairs.extend(interp.score_row(i, row, today))
        if progress is not None and (i % step == 0 or i == n - 1):
            progress(i + 1, n)
    return from_pairs(grid, today, pairs, explain=explain, rejects=rejects)


def from_pairs(grid: ir.GridIR, today: dt.date, pairs: Sequence[PairScore], *,
               explain: bool = True, rejects: list[Reject] | None = None) -> ScoreTable:
    k = len(grid.criteria)
    w = words_for(k)
    n = len(pairs)

    def masks(attr: str, flag: str) -> np.ndarray:
        out = np.zeros((n, w), dtype=np.uint64)
        if n == 0 or k == 0:
            return out
        bits = np.array([[getattr(o, flag) for o in getattr(pair, attr)] for pair in pairs],
                        dtype=bool).reshape(n, k)
        for j in range(k):         # criterion j is bit j % 64 of word j // 64
            out[:, j // 64] |= bits[:, j].astype(np.uint64) << np.uint64(j % 64)
        return out

    st = ScoreTable(
        grid=grid, today=today,
        row=np.array([p.row for p in pairs], dtype=np.int64),
        numero_unique=np.array([p.numero_unique for p in pairs], dtype=object),
        commune=np.array([p.commune for p in pairs], dtype=object),
        rang=np.array([p.rang for p in pairs], dtype=np.int32),
        score=np.array([p.score for p in pairs], dtype=np.int64),
        score_valide=np.array([p.score_valide for p in pairs], dtype=np.int64),
        met=masks("outcomes", "met"), set_aside=masks("outcomes", "set_aside"),
        met_valide=masks("outcomes_valide", "met"),
        set_aside_valide=masks("outcomes_valide", "set_aside"),
        points=(np.array([[o.points for o in p.outcomes] for p in pairs], dtype=np.int64).reshape(n, k)
                if explain else None),
        order_keys=[[p.keys[j] for p in pairs] for j in range(len(grid.ordering))],
        rejects=list(rejects or []),
    )
    st.rank = rank_within(list(st.commune), st.order_keys, [o.direction for o in grid.ordering])
    return st


def output_order(st: ScoreTable) -> np.ndarray:
    """Pair indices sorted by commune then rank (the order of `cotation score` output)."""
    if not len(st):
        return np.array([], dtype=np.int64)
    if st.terr is not None:      # communes as their place in sorted order: no string sort
        place = np.empty(len(st.territory), dtype=np.int64)
        place[sorted(range(len(st.territory)), key=st.territory.__getitem__)] = \
            np.arange(len(st.territory))
        cell = place[st.terr]
        order = by_cell_and_rank(cell, np.asarray(st.rank, dtype=np.int64), len(place))
        return order if order is not None else np.lexsort((st.rank, cell))
    return np.lexsort((st.rank, np.asarray(st.commune, dtype=str)))


def by_cell_and_rank(cell: np.ndarray, rank: np.ndarray, n_cells: int) -> np.ndarray | None:
    """The order of :func:`numpy.lexsort` by (cell, rank) without a sort, when the ranks of
    each cell are 1..its size (each pair goes to slot cell start + rank - 1: the slots are
    all filled exactly when that holds); None otherwise."""
    n = len(cell)
    counts = np.bincount(cell, minlength=n_cells)
    starts = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    if rank.min() < 1 or (rank > counts[cell]).any():
        return None
    slot = starts[cell]
    slot += rank
    slot -= 1
    order = np.full(n, -1, dtype=np.int64)
    order[slot] = np.arange(n, dtype=np.int64)
    return order if (order >= 0).all() else None     # n pairs into n slots: a permutation


def format_hundredths(h: int) -> str:
    """Integer hundredths as a decimal string with two decimals.

    >>> format_hundredths(54250), format_hundredths(-5), format_hundredths(0)
    ('542.50', '-0.05', '0.00')
    """
    sign = "-" if h < 0 else ""
    h = abs(int(h))
    return f"{sign}{h // 100}.{h % 100:02d}"


def hundredths_text(h: np.ndarray, valid: np.ndarray | None = None):
    """:func:`format_hundredths` of a whole int64 column, as a pyarrow string array built
    with numpy (no per-row Python); null where ``valid`` is given and false. Scores span a
    narrow range: when the values fit in one of at most 4n slots, each distinct value is
    written once and the cells are taken from those."""
    import pyarrow as pa
    import pyarrow.compute as pc

    h = np.asarray(h, dtype=np.int64)
    n = len(h)
    lo, hi = (int(h.min()), int(h.max())) if n else (0, 0)
    if n > 64 and hi - lo < 4 * n:
        present = np.bincount(h - lo, minlength=hi - lo + 1) > 0
        values = np.flatnonzero(present) + lo
        slot = np.cumsum(present) - 1
        text = _hundredths_cells(values).take(pa.array(slot[h - lo]))
    else:
        text = _hundredths_cells(h)
    if valid is None:
        return text
    return pc.if_else(pa.array(valid, pa.bool_()), text, pa.scalar(None, text.type))


def _hundredths_cells(h: np.ndarray):
    """:func:`format_hundredths` of each value of ``h`` (int64): every cell right-aligned in
    a row of bytes (sign, digits, ".", cents), the rows' leading padding then dropped in
    one pass."""
    import pyarrow as pa

    n = len(h)
    neg = h < 0
    # |h| // 100 and |h| % 100 without |h| (which overflows at -2**63)
    low = np.minimum(h, 0)
    whole = np.where(neg, -((low + 99) // 100), np.maximum(h, 0) // 100)
    cents = np.where(neg, -(low + 100 * whole), h - 100 * whole)
    places = len(str(int(whole.max()))) if n else 1      # digits of the largest whole part
    width = places + 3 + int(neg.any())
    cells = np.empty((n, width), dtype=np.uint8)
    cells[:, -1] = cents % 10 + 48
    cells[:, -2] = cents // 10 + 48
    cells[:, -3] = 46                                     # "."
    rest = whole
    for j in range(width - 4, width - 4 - places, -1):
        rest, digit = np.divmod(rest, 10)
        cells[:, j] = digit + 48
    length = 4 + neg                                      # one digit at least
    for k in range(1, places):
        length = length + (whole >= 10 ** k)
    first = width - length                                # where each cell starts in its row
    rows = np.flatnonzero(neg)
    cells[rows, first[rows]] = 45                         # "-"
    buf = cells[np.arange(width) >= first[:, None]]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    large = offsets[-1] > np.iinfo(np.int32).max
    return pa.Array.from_buffers(pa.large_string() if large else pa.string(), n,
                                 [None, pa.py_buffer(offsets if large else offsets.astype(np.int32)),
                                  pa.py_buffer(buf)])

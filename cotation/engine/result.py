"""The result of scoring, as the API hands it out (:class:`Result`): columns of every
(demande, commune) pair, its ranks, the criteria met, and the same as Arrow, pandas, polars or
records. Built by :class:`cotation.api.Scorer`; it holds arrays and imports nothing above the
engine."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from cotation.grid import ir


@dataclass(eq=False)
class Result:
    """Scores of every (demande, commune) pair, in demande order then localisation order.

    Scores are exact: ``score_hundredths`` holds integer hundredths, ``scores`` the same as
    float points. Bitmasks (``met`` …) have bit *j* set when criterion *j* is met (set
    aside by a group policy; met in the validated score; set aside in it).
    """

    grid: ir.GridIR
    today: dt.date
    rows: np.ndarray                 # int64 index of the demande in the input
    score_hundredths: np.ndarray     # int64
    score_valide_hundredths: np.ndarray
    ranks: np.ndarray                # int64, 1 = first in its commune
    ordre_choix: np.ndarray          # int32, 1 = the demande's first choice (not the rank)
    met: np.ndarray                  # uint64 (n, words)
    set_aside: np.ndarray
    met_valide: np.ndarray
    set_aside_valide: np.ndarray
    points: np.ndarray | None        # int64 (n, criteria) hundredths when explain=True
    rejects: list
    report: Any = None               # cotation.data.boundary.Report (None for a DemandeTable)
    _lines: np.ndarray | None = field(repr=False, default=None)
    _terr: np.ndarray = field(repr=False, default=None)
    _territory: tuple[str, ...] = field(repr=False, default=())
    _nu: Callable[[], np.ndarray] = field(repr=False, default=None)
    _table: Any = field(repr=False, default=None)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def rang(self) -> np.ndarray:
        """Deprecated name of :attr:`ordre_choix` (it read too much like ``rank``)."""
        import warnings
        warnings.warn("Result.rang is renamed Result.ordre_choix", DeprecationWarning,
                      stacklevel=2)
        return self.ordre_choix

    @property
    def scores(self) -> np.ndarray:
        """Provisional scores in points (float64)."""
        return self.score_hundredths / 100.0

    @property
    def scores_valide(self) -> np.ndarray:
        """Validated scores in points (float64)."""
        return self.score_valide_hundredths / 100.0

    @property
    def communes(self) -> np.ndarray:
        """INSEE code of each pair's commune (object array of str)."""
        return np.array(self._territory, dtype=object)[self._terr] if len(self) else \
            np.array([], dtype=object)

    @property
    def lines(self) -> np.ndarray:
        """Source line of each pair's demande (row number from 1 for in-memory data)."""
        if self._lines is None:
            return self.rows + 1
        return self._lines[self.rows]

    @property
    def commune_index(self) -> np.ndarray:
        """Index of each pair's commune in ``grid.communes`` order (int32)."""
        return self._terr

    @property
    def numero_unique(self) -> np.ndarray:
        """numero_unique of each pair (object array of str)."""
        return self._nu()[self.rows]

    def criterion_met(self, criterion: str | int, *, valide: bool = False) -> np.ndarray:
        """Boolean array: is the criterion (id or index) met for each pair."""
        j = criterion if isinstance(criterion, int) else self.grid.criterion(criterion).index
        mask = self.met_valide if valide else self.met
        return ((mask[:, j // 64] >> np.uint64(j % 64)) & np.uint64(1)).astype(bool)

    def criteria_counts(self, *, valide: bool = False) -> dict[str, int]:
        """Number of pairs meeting each criterion (vectorised bit counts)."""
        return {c.id: int(self.criterion_met(c.index, valide=valide).sum())
                for c in self.grid.criteria}

    def order(self) -> np.ndarray:
        """Pair indices by commune (territory order) then rank."""
        n = len(self)
        if not n:
            return np.zeros(0, np.int64)
        # Ranks are 1..N within each commune: each pair's place is its commune's start plus
        # its rank, a scatter in linear time instead of a sort (else the sort).
        from cotation.engine.scoring import by_cell_and_rank
        terr = np.asarray(self._terr, dtype=np.int64)
        order = by_cell_and_rank(terr, np.asarray(self.ranks, dtype=np.int64),
                                  int(terr.max()) + 1)
        return order if order is not None else np.lexsort((self.ranks, self._terr))

    def to_arrow(self, *, sort: bool = False):
        """The pairs as a ``pyarrow.Table``, built from the arrays (no Python rows):
        ``numero_unique``, ``commune`` (dictionary-encoded), ``ordre_choix`` (1 = the
        demande's first choice), ``score``, ``score_valide`` (points, float64, exact to the
        hundredth), ``rank`` (1 = first in its commune), ``line`` (source line), and one
        ``pts_<criterion>`` column per criterion when scored with ``explain=True``. In pair
        order, or by commune then rank when ``sort``."""
        import pyarrow as pa

        idx = self.order() if sort else None

        def pick(a: np.ndarray) -> np.ndarray:
            return a if idx is None else a[idx]

        terr = pick(self._terr).astype(np.int32)
        nu = self._nu()
        cols: dict[str, pa.Array] = {
            "numero_unique": pa.array(pick(nu[self.rows]) if len(self) else [], pa.string()),
            "commune": pa.DictionaryArray.from_arrays(
                pa.array(terr, pa.int32()), pa.array(list(self._territory), pa.string())),
            "ordre_choix": pa.array(pick(self.ordre_choix).astype(np.int32)),
            "score": pa.array(pick(self.score_hundredths) / 100.0),
            "score_valide": pa.array(pick(self.score_valide_hundredths) / 100.0),
            "rank": pa.array(pick(self.ranks).astype(np.int64)),
            "line": pa.array(pick(self.lines).astype(np.int64)),
        }
        if self.points is not None:
            pts = pick(self.points)
            for c in self.grid.criteria:
                cols[f"pts_{c.id}"] = pa.array(pts[:, c.index] / 100.0)
        return pa.table(cols)

    def __arrow_c_stream__(self, requested_schema: Any = None):
        """Arrow PyCapsule stream interface: ``polars.DataFrame(result)``, DuckDB,
        ``pyarrow.table(result)`` read the result without a copy through Python
        (``polars.from_arrow(result)`` gives one struct Series, not a DataFrame)."""
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def to_pandas(self, *, sort: bool = False):
        """:meth:`to_arrow` as a pandas DataFrame (pandas must be installed)."""
        return self.to_arrow(sort=sort).to_pandas()

    def to_polars(self, *, sort: bool = False):
        """:meth:`to_arrow` as a polars DataFrame (polars must be installed)."""
        import polars as pl

        return pl.from_arrow(self.to_arrow(sort=sort))

    def to_records(self, *, sort: bool = False) -> list[dict[str, Any]]:
        """One dict per pair: numero_unique, commune, ordre_choix, score, score_valide (points),
        rank; in pair order, or by commune then rank when ``sort``."""
        idx = self.order() if sort else np.arange(len(self))
        nu = self.numero_unique
        communes = self.communes
        sc = self.score_hundredths
        sv = self.score_valide_hundredths
        return [{"numero_unique": nu[i], "commune": communes[i],
                 "ordre_choix": int(self.ordre_choix[i]),
                 "score": int(sc[i]) / 100, "score_valide": int(sv[i]) / 100,
                 "rank": int(self.ranks[i])} for i in idx.tolist()]

    def to_score_table(self):
        """The engine-independent :class:`~cotation.engine.scoring.ScoreTable` (with the ordering
        key values, as ``cotation score`` writes them)."""
        return self._table()

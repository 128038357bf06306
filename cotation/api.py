"""Embedding API: load and compile a grid once, then score, explain, rank and shortlist.

A :class:`Scorer` wraps one validated grid and its compiled kernels. It is immutable and
thread-safe (share one per grid across threads, web workers or notebook cells); scoring keeps
no state between calls. Kernels are cached on disk (``$COTATION_CACHE_DIR``, else
``~/.cache/cotation``), so a second process starts without recompiling, and loaded on first
use; a small table scored before they are loaded goes to the reference interpreter (same
results; ``Scorer(grid, engine=...)``).

Scoring a table::

    import datetime as dt
    from cotation.api import Scorer

    scorer = Scorer.from_file("grids/lyon-metropole.yaml")     # validate + compile, once
    result = scorer.score(data, today=dt.date(2025, 6, 30))    # data: see below
    result.scores        # float64 points, one per (demande, commune) pair
    result.ranks         # int64, 1 = first within the commune
    result.to_records()  # [{'numero_unique': ..., 'commune': ..., 'score': 42.5, 'rank': 3, ...}]
    scorer.explain(result, "0691234567890123A1")   # criteria met / set aside / awaiting, per commune

``data`` may be a :class:`~cotation.data.table.DemandeTable` (taken as it is: it is what the
readers return), a list of dicts, a dict of columns (numpy arrays or lists, canonical column
names; dates as ``datetime.date``, ``datetime64`` or ISO strings, sets as Python sets/lists or
``'a|b'`` strings), a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader, or
anything exposing ``__arrow_c_stream__``. None of those libraries is needed unless the data
already is one of their objects. Missing values: ``None``, NaN, NaT, null or an empty string
(an infinite float is a reject). The same value gives the same result whatever holds it
(:mod:`cotation.data.arrow`).

Every source but a DemandeTable goes through the same boundary as the CLI
(:func:`cotation.data.boundary.admit`), with the same rules: a row that cannot be read is a
reject in ``result.rejects`` (line = row number from 1, column, value, reason), never an
exception (so is a row with a value of one of the grid's local fields that cannot be read:
the demande is not scored), and ``result.report`` counts rows read, accepted and rejected
(``accepted + rejected == read``, a row once however many rejects), commune codes that
arrived as integers and were left-padded (``6088`` -> ``06088``), unknown columns with a
did-you-mean. A commune column of floats (what ``pandas.read_csv`` gives a column with gaps)
is rejected cell by cell: read such columns as text (``dtype=str``); so is a float among text
in a code or text column. A grid's local fields (``fields:``) are read by their declared type
(a ``commune`` field given as integers is left-padded too). Only what cannot be scored
at all raises: a column the grid reads is missing
(:class:`~cotation.data.boundary.MissingColumnsError`, naming the column and the criteria that
read it), or a required column (``numero_unique``, ``date_depot``, ``nb_personnes``) is; a
source that is not a table of demandes (one dict, a Series) is a
:class:`~cotation.data.arrow.SourceTypeError`, a column named twice a
:class:`~cotation.data.table.HeaderError`.
``result.rows`` index the accepted demandes; ``result.lines`` give each pair's source row.

Shortlisting the best eligible demandes for a vacant dwelling::

    index = scorer.index(data, today=dt.date(2025, 6, 30))     # score + rank once
    index.shortlist({"commune": "69123", "typologie": "T3", "financement": "PLUS"}, k=10)
    # [{'numero_unique': ..., 'rank': 1, 'score': 87.0, ...}, ...]  (< 1 ms per call)

A demande is eligible when the dwelling's commune is one of its localisations (in the grid's
territory), the dwelling's typologie is among the typologies it asks for, and, when a
financement (PLAI, PLUS, PLS) is given, its revenu fiscal de référence is at or below that
financement's ceiling for its household category (:mod:`cotation.data.ceilings`; year of
``today`` unless ``dwelling["year"]``, zone from the commune
(:func:`~cotation.data.ceilings.zone_of_commune`) unless
``dwelling["zone"]``). A demande with no typologies, or with no income when a financement is
given, is not eligible.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from cotation.grid import ir
from cotation.data.schema import TYPOLOGIES
from cotation.engine.reads import columns_read, local_field_columns
from cotation.engine.result import Result

__all__ = ["Scorer", "Result", "ShortlistIndex"]

_ENGINES = ("auto", "compiled", "interpreter")

Progress = Callable[[int, int], None]


def _line_array(table: Any) -> np.ndarray | None:
    """The source line of each row of an admitted table, as int64 (None: not known)."""
    lines = table.source_lines
    return None if lines is None else np.asarray(lines, dtype=np.int64)


def _date(today: dt.date | str) -> dt.date:
    if isinstance(today, dt.datetime):
        return today.date()
    if isinstance(today, dt.date):
        return today
    return dt.date.fromisoformat(str(today))


class Scorer:
    """One grid, validated and compiled once. Immutable and thread-safe.

    >>> scorer = Scorer.from_file("tests/grids/spec_example.yaml")   # doctest: +SKIP
    >>> scorer.criteria[:2]                                           # doctest: +SKIP
    ('dalo', 'sans_logement')
    """

    def __init__(self, grid: Any, *, workers: int | None = None, warm: bool = True,
                 engine: str = "auto"):
        """``grid``: a :class:`~cotation.grid.Grid` (from ``load_grid``) or its IR.

        ``engine``: ``"auto"`` (default) scores with the compiled kernels, except a small
        table in a process that has not loaded them yet, which the reference interpreter
        scores before Numba would have started (same results, tested); ``"compiled"`` always
        uses the kernels, ``"interpreter"`` never. ``warm``: load the kernels now when the
        cache holds them as native machine code for this machine (about 0.05 s, Numba not
        imported: :mod:`cotation.engine.compiled.native`), else compile them when the disk
        cache does not hold them (seconds, paid here rather than on the first call; the native
        code is stored then), and with ``engine="compiled"`` load them through Numba. Kernels
        are otherwise loaded on first use (natively, or about 0.5 s through Numba's start).
        Raises :class:`~cotation.engine.compiled.LoweringError` for a construct the compiler cannot
        lower (none is known for grids that validate)."""
        from cotation.engine.compiled import CompiledGrid

        gir = grid.ir if hasattr(grid, "ir") and isinstance(grid.ir, ir.GridIR) else grid
        if not isinstance(gir, ir.GridIR):
            raise TypeError("Scorer needs a Grid (cotation.grid.load_grid) or a GridIR; use "
                            "Scorer.from_file(path) for a file")
        if engine not in _ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(_ENGINES)}")
        self._grid_ir = gir
        self._needs = columns_read(gir)
        self._known = local_field_columns(gir)
        self._source = grid if gir is not grid else None
        self._compiled = CompiledGrid(gir)
        self._workers = workers
        self._engine = engine
        if warm and engine != "interpreter":
            # native machine code (≈0.04 s, no Numba) when the cache holds it for this
            # machine; otherwise compile (not cached) or load through Numba (``compiled``)
            if not self._compiled.try_native() and (engine == "compiled"
                                                    or not self._compiled.kernels_cached()):
                self._compiled.warm()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> "Scorer":
        """Load, validate (raises :class:`~cotation.grid.diagnostics.GridError` listing every
        problem) and compile a grid file."""
        from cotation.grid import load_grid

        return cls(load_grid(path), **kwargs)

    # -- description
    @property
    def grid(self) -> ir.GridIR:
        return self._grid_ir

    @property
    def criteria(self) -> tuple[str, ...]:
        return tuple(c.id for c in self._grid_ir.criteria)

    @property
    def communes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._grid_ir.communes))

    # -- scoring
    def prepare(self, data: Any, *, shortlist: bool = True):
        """Encode ``data`` once for this grid; pass the result to :meth:`score` or
        :meth:`index` several times (other dates) without re-encoding. ``shortlist=False``
        leaves out the columns only shortlists need. Encoding uses no kernel. A prepared batch
        is scored by the compiled kernels (with ``engine="auto"`` too, whatever its size),
        except with ``engine="interpreter"``: the batch then also keeps the table read, which
        the reference interpreter scores (and such a scorer refuses a batch prepared by
        another one, which has no table: ``ValueError``)."""
        from cotation.engine.compiled import Batch

        if isinstance(data, Batch):
            return data
        return self._encode(self.admit(data), shortlist)

    def _encode(self, admitted: Any, shortlist: bool):
        """``admitted`` encoded for the kernels (no kernel runs): the batch's columns, the
        shortlist's attributes, rejects and report; with ``engine="interpreter"``, the
        ``admitted`` table that the interpreter scores."""
        batch = self._compiled.encode(admitted.table,
                                      extra_columns=_SHORTLIST_COLUMNS if shortlist else ())
        # the rows with unreadable local field values are rejects too, in the report as well
        batch.report = admitted.report.with_rejects(batch.rejects)
        batch.rejects = sorted([*admitted.rejects, *batch.rejects], key=lambda r: r.line)
        batch.lines = _line_array(admitted.table)
        if self._engine == "interpreter":
            batch.admitted = admitted
        return batch

    def _admitted_of(self, batch: Any):
        """The table read of a batch this interpreter scorer prepared."""
        if batch.admitted is None:
            raise ValueError("a Scorer with engine='interpreter' scores the batches it "
                             "prepared itself (Scorer.prepare): this one holds no table")
        return batch.admitted

    def admit(self, data: Any):
        """``data`` through the boundary, checked against the columns this grid reads: an
        :class:`~cotation.data.boundary.Admitted` (table, rejects, report). Raises
        :class:`~cotation.data.boundary.MissingColumnsError` when a column the grid reads is
        missing, ``ValueError`` when a required column is."""
        from cotation.data.boundary import admit

        return admit(data, needs=self._needs, known_extras=self._known)

    def score(self, data: Any, today: dt.date | str, *, explain: bool = False,
              progress: Progress | None = None) -> Result:
        """Score and rank every (demande, commune) pair of ``data`` on ``today``.

        ``explain=True`` adds the per-criterion points matrix (hundredths)."""
        from cotation.engine.compiled import Batch

        today = _date(today)
        if isinstance(data, Batch):
            batch = data
            if self._engine == "interpreter":
                return self._interpreted(self._admitted_of(batch), today, explain=explain,
                                         progress=progress)
        else:
            admitted = self.admit(data)
            if self._interprets(admitted.table):
                return self._interpreted(admitted, today, explain=explain, progress=progress)
            batch = self._encode(admitted, shortlist=False)
        return self._run(batch, today, explain=explain, progress=progress)

    def _run(self, batch: Any, today: dt.date, *, explain: bool = False,
             progress: Progress | None = None) -> Result:
        """:meth:`score` of an encoded batch by the compiled kernels."""
        cg = self._compiled
        raw = cg.run(batch, today, explain=explain, progress=progress, workers=self._workers)
        ranks = cg.rank(raw, batch, workers=self._workers)
        return Result(grid=self._grid_ir, today=today, rows=raw.row,
                      score_hundredths=raw.score, score_valide_hundredths=raw.score_valide,
                      ranks=ranks, ordre_choix=raw.rang, met=raw.met, set_aside=raw.set_aside,
                      met_valide=raw.met_valide, set_aside_valide=raw.set_aside_valide,
                      points=raw.points, rejects=list(batch.rejects), report=batch.report,
                      _lines=batch.lines, _terr=raw.terr,
                      _territory=batch.territory, _nu=batch.numero_unique_strings,
                      _table=lambda: cg.score_table(raw, batch, today, ranks=ranks,
                                                     workers=self._workers))

    def _interprets(self, table: Any) -> bool:
        """Whether this table goes to the reference interpreter (see ``engine``)."""
        if self._engine != "auto":
            return self._engine == "interpreter"
        from cotation.engine.run import interpreter_is_quicker

        return not self._compiled.kernels_loaded() and interpreter_is_quicker(
            self._grid_ir, table, native=self._compiled.native_cached)

    def _interpreted(self, admitted: Any, today: dt.date, *, explain: bool,
                     progress: Progress | None) -> Result:
        """:meth:`score` by the reference interpreter: the same :class:`Result`, field by
        field, as the kernels give (``tests/test_api_engines.py``)."""
        from cotation.engine.scoring import score_interpreted

        table = admitted.table
        st = score_interpreted(self._grid_ir, table, today, explain=explain, progress=progress)
        territory = self.communes          # the kernels' territory order
        where = {c: i for i, c in enumerate(territory)}
        terr = np.fromiter((where[c] for c in st.commune), dtype=np.int32, count=len(st))
        nu_strings = np.array(list(table.columns["numero_unique"]), dtype=object)
        # as the kernels' score table: the boundary's rejects with the local fields' ones,
        # counted in the report
        report = admitted.report.with_rejects(st.rejects)
        st.rejects = sorted([*admitted.rejects, *st.rejects], key=lambda r: r.line)
        return Result(grid=self._grid_ir, today=today, rows=np.asarray(st.row, dtype=np.int64),
                      score_hundredths=st.score, score_valide_hundredths=st.score_valide,
                      ranks=np.asarray(st.rank, dtype=np.int64), ordre_choix=st.rang,
                      met=st.met, set_aside=st.set_aside, met_valide=st.met_valide,
                      set_aside_valide=st.set_aside_valide, points=st.points,
                      rejects=list(st.rejects), report=report,
                      _lines=_line_array(table),
                      _terr=terr, _territory=territory, _nu=lambda: nu_strings,
                      _table=lambda: st)

    def explain(self, result: Result, which: str | int) -> list[dict[str, Any]]:
        """Decode one demande's bitmasks: ``which`` is a numero_unique (all its communes) or
        a pair index. One dict per pair with the criteria and their status (``met``,
        ``not_met``, ``set_aside``, ``awaiting_validation``) and points when the result was
        scored with ``explain=True`` (the reference interpreter rebuilds any other detail:
        ``cotation explain``)."""
        if isinstance(which, (int, np.integer)):
            pairs = [int(which)]
        else:
            nu = result.numero_unique
            pairs = np.flatnonzero(nu == which).tolist()
            if not pairs:
                raise KeyError(f"no scored pair for numero_unique {which!r}")
        out = []
        communes = result.communes
        for p in pairs:
            crit = []
            for c in self._grid_ir.criteria:
                w, b = divmod(c.index, 64)
                bit = np.uint64(1) << np.uint64(b)
                met = bool(result.met[p, w] & bit)
                aside = bool(result.set_aside[p, w] & bit)
                met_v = bool(result.met_valide[p, w] & bit)
                if not met:
                    status = "not_met"
                elif aside:
                    status = "set_aside"
                elif c.needs_validation and not met_v:
                    status = "awaiting_validation"
                else:
                    status = "met"
                line = {"id": c.id, "label": c.label, "section": c.section, "status": status,
                        "group": c.group, "validation": c.validation}
                if result.points is not None:
                    line["points"] = int(result.points[p, c.index]) / 100
                crit.append(line)
            out.append({"numero_unique": result.numero_unique[p], "commune": communes[p],
                        "ordre_choix": int(result.ordre_choix[p]),
                        "score": int(result.score_hundredths[p]) / 100,
                        "score_valide": int(result.score_valide_hundredths[p]) / 100,
                        "rank": int(result.ranks[p]), "criteria": crit})
        return out

    # -- shortlists
    def index(self, data: Any, today: dt.date | str) -> "ShortlistIndex":
        """Score and rank ``data`` once and index it for :meth:`ShortlistIndex.shortlist`.

        Scored as :meth:`score` scores: ``engine="interpreter"`` never uses the kernels (nor
        imports Numba), ``"auto"`` gives the interpreter a small table while this process has
        not loaded them; a batch from :meth:`prepare` as :meth:`score` takes it. The index
        reads the shortlist's attributes from the encoded batch (numpy, no kernel)."""
        from cotation.engine.compiled import Batch

        today = _date(today)
        if isinstance(data, Batch):
            batch = data
            result = None
        else:
            admitted = self.admit(data)
            batch = self._encode(admitted, shortlist=True)
            result = self._interpreted(admitted, today, explain=False, progress=None) \
                if self._interprets(admitted.table) else None
        if any(c not in batch.extra for c in _SHORTLIST_COLUMNS):
            raise ValueError("this batch was prepared with shortlist=False")
        if result is None:
            result = self.score(batch, today)
        return ShortlistIndex._build(self, batch, result, today)

    def shortlist(self, dwelling: Mapping[str, Any], k: int, today: dt.date | str,
                  data: Any) -> list[dict[str, Any]]:
        """Top-``k`` eligible demandes of ``data`` for one dwelling (builds an index; use
        :meth:`index` to answer many dwellings)."""
        return self.index(data, today).shortlist(dwelling, k)


_SHORTLIST_COLUMNS = ("typologies", "revenu_fiscal_reference", "nb_personnes", "nb_adultes",
                      "nb_enfants", "nb_personnes_handicap", "date_naissance",
                      "date_naissance_conjoint")


def _distinct_categories(cats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct household categories, 0 first even when absent, ascending; the index of
    each of ``cats`` among them): a table by value when the categories are small (linear,
    no sort: the usual case), else a sort (memory bound by their number, not their size)."""
    cats = np.asarray(cats, dtype=np.int64)
    top = int(cats.max()) if len(cats) else 0
    if top < max(1 << 16, 4 * len(cats)):
        present = np.zeros(top + 1, dtype=bool)
        present[0] = True
        present[cats] = True
        return np.flatnonzero(present), (np.cumsum(present) - 1)[cats]
    values, inverse = np.unique(np.concatenate([np.zeros(1, np.int64), cats]),
                                return_inverse=True)
    return values, inverse[1:]


class ShortlistIndex:
    """Scored, ranked demandes laid out per commune in rank order, with the attributes
    eligibility needs. Immutable; queries are thread-safe."""

    def __init__(self) -> None:  # use Scorer.index()
        raise TypeError("build an index with Scorer.index(data, today)")

    @classmethod
    def _build(cls, scorer: Scorer, batch, result: Result, today: dt.date) -> "ShortlistIndex":
        from cotation.data.ceilings import household_categories

        self = object.__new__(cls)
        self.scorer = scorer
        self.today = today
        self.result = result
        territory = result._territory       # the batch's, whichever engine scored
        n_cells = max(1, len(territory))
        order = result.order()                      # by commune then rank
        counts = np.bincount(result._terr, minlength=n_cells) if len(order) else np.zeros(n_cells, np.int64)
        bounds = np.zeros(n_cells + 1, dtype=np.int64)
        np.cumsum(counts, out=bounds[1:])
        self._bounds = bounds
        self._order = order
        self._commune_pos = {c: i for i, c in enumerate(territory)}
        rows = result.rows[order]
        ex = batch.extra
        typo = ex["typologies"]
        # Laid out in rank order: what every query scans (eligibility); the rest is read
        # through ``order`` for the few pairs a query returns.
        # typologies bitset: canonical typologies are the first domain codes, in order
        self._typo = (typo[:, 0] & np.uint64((1 << len(TYPOLOGIES)) - 1)).astype(np.uint8)[rows]
        self._rfr = ex["revenu_fiscal_reference"][rows]
        cats = household_categories(ex["nb_personnes"], ex["nb_enfants"], ex["nb_adultes"],
                                    ex["nb_personnes_handicap"], ex["date_naissance"],
                                    ex["date_naissance_conjoint"], today)
        # Each pair holds the index of its household category among the distinct ones
        # (``_cat_values``, ascending, 0 = category unknown first): a query computes the
        # ceilings of those only, whatever the households' size.
        values, index = _distinct_categories(cats)
        self._cat_values = values
        self._cat = index.astype(np.int8 if len(values) <= 127 else np.int64)[rows]
        self._ceilings: dict[tuple[int, str, str], np.ndarray] = {}
        self._nb_personnes = ex["nb_personnes"]          # per demande: read through _rows
        self._rows = rows
        batch.numero_unique_strings()          # materialise now: queries stay sub-millisecond
        self._nu = batch.numero_unique_strings
        return self

    def __len__(self) -> int:
        return len(self._order)

    def _criteria(self, dwelling: Mapping[str, Any]) -> tuple[np.uint8, np.ndarray | None]:
        from cotation.data.ceilings import ceilings_of, zone_of_commune

        typ = dwelling.get("typologie")
        if typ not in TYPOLOGIES:
            raise ValueError(f"unknown typologie {typ!r}; expected one of {', '.join(TYPOLOGIES)}")
        bit = np.uint8(1 << TYPOLOGIES.index(typ))
        fin = dwelling.get("financement")
        if not fin:
            return bit, None
        zone = dwelling.get("zone") or zone_of_commune(str(dwelling["commune"]))
        year = int(dwelling.get("year") or self.today.year)
        key = (year, str(fin), zone)
        ceil = self._ceilings.get(key)
        if ceil is None:
            # by category index (see _build); index 0, category unknown, is never eligible
            ceil = np.zeros(len(self._cat_values), dtype=np.float64)
            ceil[1:] = ceilings_of(year, str(fin), zone, self._cat_values[1:])
            ceil.setflags(write=False)
            self._ceilings[key] = ceil
        return bit, ceil

    def _eligible(self, bit: np.uint8, ceil: np.ndarray | None, lo: int, hi: int) -> np.ndarray:
        mask = (self._typo[lo:hi] & bit) != 0
        if ceil is not None:
            cat = self._cat[lo:hi]
            rfr = self._rfr[lo:hi]
            ok = (cat >= 1) & ~np.isnan(rfr)
            mask &= ok & (rfr <= ceil[np.where(ok, cat, 0)])
        return mask

    def eligible(self, dwelling: Mapping[str, Any]) -> np.ndarray:
        """Pair indices (into the index's result) of every eligible demande, best first."""
        cell = self._cell(dwelling)
        lo, hi = int(self._bounds[cell]), int(self._bounds[cell + 1])
        bit, ceil = self._criteria(dwelling)
        return self._order[lo + np.flatnonzero(self._eligible(bit, ceil, lo, hi))]

    def _cell(self, dwelling: Mapping[str, Any]) -> int:
        commune = str(dwelling.get("commune", ""))
        cell = self._commune_pos.get(commune)
        if cell is None:
            raise ValueError(f"commune {commune!r} is not in the territory of grid "
                             f"{self.scorer.grid.id}")
        return cell

    def shortlist(self, dwelling: Mapping[str, Any], k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` best-ranked eligible demandes for ``dwelling`` (``commune``,
        ``typologie``, optional ``financement``, ``year``, ``zone``), best first."""
        cell = self._cell(dwelling)
        commune = str(dwelling["commune"])
        lo, hi = int(self._bounds[cell]), int(self._bounds[cell + 1])
        bit, ceil = self._criteria(dwelling)
        picked: list[int] = []
        block = max(256, 8 * k)
        start = lo
        while start < hi and len(picked) < k:
            end = min(hi, start + block)
            hits = np.flatnonzero(self._eligible(bit, ceil, start, end))
            picked.extend((hits[: k - len(picked)] + start).tolist())
            start = end
            block *= 4
        nus = self._nu()
        res, order = self.result, self._order
        return [{"numero_unique": nus[self._rows[p]], "row": int(self._rows[p]),
                 "commune": commune, "rank": int(res.ranks[order[p]]),
                 "score": int(res.score_hundredths[order[p]]) / 100,
                 "score_valide": int(res.score_valide_hundredths[order[p]]) / 100}
                for p in picked]

    def location_voulue(self, offre: Any, candidats: list[str] | None = None) -> list[dict[str, Any]]:
        """Location voulue: each applicant for an advertised dwelling (an
        :class:`~cotation.analysis.location_voulue.Offre` or a mapping with ``commune``,
        ``typologie``, ``financement``, ``loyer``, ``surface``, ``accessible``…), eligible or not
        with the reasons, ranked among the eligible ones, with the French notice they are owed.
        ``candidats``: numéros uniques (default: every scored demande that asked the commune).

        One dict per applicant, eligible ones first: ``numero_unique``, ``recevable``,
        ``motifs`` (why not eligible), ``score`` (points), ``rang`` (the rank among the
        eligible applicants of this offer, 1 = first, None when not eligible: the rank the
        notice states, written ``rang`` in ``cotation location-voulue``'s files; not the
        demande's order of choice, :attr:`Result.ordre_choix`, nor its rank in the commune),
        ``candidats_recevables`` (how many are eligible), ``avis`` (the notice's sentence)."""
        from cotation.analysis.location_voulue import Offre, offre_from_mapping, rank_applicants

        if not isinstance(offre, Offre):
            offre = offre_from_mapping(offre)
        dwelling = offre.dwelling()
        cell = self._cell(dwelling)
        lo, hi = int(self._bounds[cell]), int(self._bounds[cell + 1])
        bit, ceil = self._criteria(dwelling)
        cat, rfr = self._cat[lo:hi], self._rfr[lo:hi]
        known = (cat >= 1) & ~np.isnan(rfr)
        income_ok = None if ceil is None else rfr <= ceil[np.where(known, cat, 0)]
        nus = self._nu()
        return rank_applicants(offre, numeros=nus[self._rows[lo:hi]],
                               scores=self.result.score_hundredths[self._order[lo:hi]],
                               typo_ok=(self._typo[lo:hi] & bit) != 0, income_ok=income_ok,
                               income_known=known, personnes=self._nb_personnes[self._rows[lo:hi]],
                               known=set(nus.tolist()), candidats=candidats)

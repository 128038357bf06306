"""Running the generated kernels: chunks of demandes on a thread pool, then ranking.

Both kernels are serial ``nogil`` functions; a :class:`~concurrent.futures.ThreadPoolExecutor`
runs them over contiguous chunks of demandes (one worker per available CPU by default), so no Numba threading
layer is involved and concurrent callers are safe. Pass 1 counts the scored pairs of each
demande (scope and distinct territory localisations), a prefix sum gives each demande its
output rows, pass 2 scores every pair into preallocated arrays.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from cotation.grid import ir
from cotation.data.schema import Kind
from cotation.engine.compiled import cache
from cotation.engine.compiled.codegen import generate
from cotation.engine.compiled.plan import KernelPlan
from cotation.data.parallel import default_workers
from cotation.engine.compiled.encode import Batch, encode, strings_of, text_dictionary
from cotation.engine.compiled.rank import (
    Field, dense_rank, rank_cells, score_field, value_field,
)

Progress = Callable[[int, int], None]

CHUNK = 1 << 16
SERIAL_BELOW = 1 << 15

# Generated kernel lines above which ``auto`` does not compile (it scores with the reference
# interpreter and says why): Numba's compile time grows faster than the source (measured with
# benchmarks/bench_compile.py, 2 cores: 1,021 lines 9 s, 1,710 lines 17 s, 3,238 lines 54 s,
# benchmarks/README.md "issue 11: warm start"); the bundled grids generate 320-500 lines.
# ``COTATION_MAX_KERNEL_LINES`` changes it; cached kernels are used at any size.
MAX_KERNEL_LINES = 3000


def max_kernel_lines() -> int:
    env = os.environ.get("COTATION_MAX_KERNEL_LINES", "").strip()
    return int(env) if env.isdigit() else MAX_KERNEL_LINES


def compile_too_long(cg: "CompiledGrid") -> str | None:
    """Why ``auto`` should not compile this grid's kernels now (a message in the user's
    language), or None: they are cached, or small enough to compile within the bound."""
    lines = cg.kernel_lines
    limit = max_kernel_lines()
    if lines <= limit or cg.kernels_cached():
        return None
    from cotation.i18n import _

    return _("the kernels of grid {id} would take too long to compile ({lines} generated lines, "
             "more than the limit of {limit}; COTATION_MAX_KERNEL_LINES changes it): scoring "
             "with the interpreter, same results; --engine compiled compiles them once (cached "
             "for the next runs)").format(id=cg.grid.id, lines=lines, limit=limit)


@dataclass
class RawScores:
    """Kernel outputs, one row per scored (demande, commune) pair."""

    row: np.ndarray         # int64 demande index
    terr: np.ndarray        # int32 index in the territory
    rang: np.ndarray        # int32
    score: np.ndarray       # int64 hundredths
    score_valide: np.ndarray
    met: np.ndarray         # uint64 (n, words)
    set_aside: np.ndarray
    met_valide: np.ndarray
    set_aside_valide: np.ndarray
    points: np.ndarray | None
    keys: np.ndarray        # float64 (n, keys): ordering keys that read loc.
    keys_known: np.ndarray  # bool (n, keys)
    dkeys: np.ndarray       # float64 (demandes, keys): keys of the demande alone, by row
    dkeys_known: np.ndarray # bool (demandes, keys); rows without pairs are not written
    # int64 (demandes): pairs of each demande; its pairs are rows starts[i]..starts[i+1]
    # (``row`` ascending), so the scored demandes are those with a count
    pair_counts: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


class _Ctx:
    """ParamContext: a batch plus the reference date."""

    def __init__(self, batch: Batch, today: dt.date):
        self.batch = batch
        self.today = today.toordinal()

    def code_index(self, enum, value):
        return self.batch.code_index(enum, value)

    def domain_size(self, enum):
        return self.batch.domain_size(enum)

    def text_id(self, value):
        return self.batch.text_id(value)

    def commune_id(self, value):
        return self.batch.commune_id(value)


def _chunks(n: int, workers: int) -> list[tuple[int, int]]:
    if n <= 0:
        return [(0, 0)]
    size = CHUNK if n > SERIAL_BELOW else n
    size = max(size, -(-n // 512))
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


class CompiledGrid:
    """A grid lowered to kernels. Immutable after construction; safe to share by threads."""

    def __init__(self, grid: ir.GridIR):
        self.grid = grid
        self.plan: KernelPlan = generate(grid)
        self.digest = cache.digest(self.plan.source)
        self._mod = None
        self._lock = threading.Lock()

    # -- kernels
    def kernels(self):
        """The kernels: native machine code when the cache holds it for this machine (no
        Numba start), else Numba's (compiled now if not cached)."""
        if self._mod is None and not self.try_native():
            with self._lock:
                if self._mod is None:
                    self._mod = cache.load(self.plan.source)
        return self._mod

    def try_native(self) -> bool:
        """Load the native kernels if the cache holds them for this machine (≈0.04 s, no
        Numba). Whether the kernels in use are native."""
        if self._mod is None:
            native = cache.load_native(self.plan.source)
            if native is not None:
                with self._lock:
                    if self._mod is None:
                        self._mod = native
        return self.kernels_native()

    def native_cached(self) -> bool:
        """Whether the cache holds this grid's kernels as native machine code (loading them
        would not start Numba)."""
        return cache.native_cached(self.digest)

    def kernels_native(self) -> bool:
        from cotation.engine.compiled.native import NativeKernels

        return isinstance(self._mod, NativeKernels)

    @property
    def kernel_lines(self) -> int:
        """Lines of the generated kernel module (what Numba's compile time grows with)."""
        return self.plan.source.count("\n")

    def kernels_cached(self) -> bool:
        """Whether Numba's disk cache already holds machine code for this grid's kernels
        (False: the first run compiles, for seconds to minutes)."""
        if self.kernels_loaded():
            return True
        return cache.machine_code_cached(self.digest)

    def kernels_loaded(self) -> bool:
        """Whether this process has loaded the kernels already, through this grid or another
        of the same structure (then they cost nothing more)."""
        return self._mod is not None or cache.is_loaded(self.digest)

    def warm(self) -> None:
        """Load (or compile) both kernels now, with the exact argument types of real runs;
        Numba's kernels are then also stored as native machine code for the next processes
        (once per grid structure and machine)."""
        batch = self.encode({"numero_unique": np.array([], dtype=object)})
        self.run(batch, dt.date(2000, 1, 1), explain=True, workers=1)
        if not self.kernels_native():
            cache.store_native(self.kernels(), self.plan.source)

    # -- data
    def encode(self, data: Any, *, extra_columns: Sequence[str] = ()) -> Batch:
        return encode(self.plan, self.grid, data, digest=self.digest, extra_columns=extra_columns)

    # -- scoring
    def run(self, batch: Batch, today: dt.date, *, explain: bool = False,
            progress: Progress | None = None, workers: int | None = None) -> RawScores:
        if batch.plan_digest != self.digest:
            raise ValueError("this batch was encoded for another grid structure")
        mod = self.kernels()
        pf, pi, plut = self.plan.params(_Ctx(batch, today))
        n = batch.n
        workers = workers or default_workers()
        cols = batch.cols
        counts = np.zeros(n, dtype=np.int64)
        chunks = _chunks(n, workers)
        count = mod.count_pairs
        b = batch

        def pass1(lo_hi):
            count(lo_hi[0], lo_hi[1], b.skip, b.loc_ptr, b.loc_terr, b.loc_val, b.terr_ids,
                  pf, pi, plut, *cols, counts)

        pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 and len(chunks) > 1 else None
        try:
            if pool is None:
                for c in chunks:
                    pass1(c)
            else:
                list(pool.map(pass1, chunks))
            starts = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=starts[1:])
            m = int(starts[-1])
            K = self.plan.n_criteria
            W = self.plan.words
            nk = max(1, self.plan.n_key_outputs)
            nd = max(1, self.plan.n_demande_keys)
            out = RawScores(
                row=np.empty(m, dtype=np.int64), terr=np.empty(m, dtype=np.int32),
                rang=np.empty(m, dtype=np.int32), score=np.empty(m, dtype=np.int64),
                score_valide=np.empty(m, dtype=np.int64),
                met=np.empty((m, W), dtype=np.uint64), set_aside=np.empty((m, W), dtype=np.uint64),
                met_valide=np.empty((m, W), dtype=np.uint64),
                set_aside_valide=np.empty((m, W), dtype=np.uint64),
                points=np.empty((m if explain else 0, max(K, 1)), dtype=np.int64),
                keys=np.empty((m, nk), dtype=np.float64), keys_known=np.empty((m, nk), dtype=np.bool_),
                dkeys=np.empty((n, nd), dtype=np.float64), dkeys_known=np.empty((n, nd), dtype=np.bool_),
                pair_counts=counts)
            score = mod.score_pairs
            o = out

            def pass2(lo_hi):
                score(lo_hi[0], lo_hi[1], counts, starts, b.loc_ptr, b.loc_terr, b.loc_val,
                      b.terr_ids, pf, pi, plut, explain, *cols, o.row, o.terr, o.rang, o.score,
                      o.score_valide, o.met, o.set_aside, o.met_valide, o.set_aside_valide,
                      o.points, o.keys, o.keys_known, o.dkeys, o.dkeys_known)
                return lo_hi[1]

            done = 0
            if pool is None:
                for c in chunks:
                    pass2(c)
                    done = c[1]
                    if progress is not None:
                        progress(done, n)
            else:
                for hi in pool.map(pass2, chunks):
                    done = max(done, hi)
                    if progress is not None:
                        progress(done, n)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        if not explain:
            out.points = None
        elif K == 0:
            out.points = np.zeros((m, 0), dtype=np.int64)
        return out

    # -- ranking
    def key_fields(self, raw: RawScores, batch: Batch, *, workers: int | None = None
                   ) -> list[Field]:
        """One field per ordering key; a trailing run of keys that depend on the demande
        only (``date_depot asc, numero_unique asc``) collapses into one dense rank computed
        over demandes, which keeps the packed key within 64 bits. ``workers``: threads for
        its sort (default: :func:`~cotation.data.parallel.default_workers`)."""
        keys = self.plan.keys
        tail = len(keys)
        while tail > 0 and keys[tail - 1].kind is not None and keys[tail - 1].demande_only:
            tail -= 1
        collapse = len(keys) - tail >= 2 and len(raw) > 0
        fields = []
        for k in keys[:tail] if collapse else keys:
            fields.append(self._field(k, raw, batch))
        if collapse:
            has = raw.pair_counts > 0
            scored = np.flatnonzero(has)                # each scored demande once
            slot = (np.cumsum(has) - 1)[raw.row]        # each pair's demande among them
            per_demande = dense_rank([self._field(k, raw, batch, scored) for k in keys[tail:]],
                                     workers or default_workers())
            fields.append(Field(per_demande.values[slot], per_demande.bits))
        return fields

    def key_values(self, k, raw: RawScores, rows=None) -> tuple[np.ndarray, np.ndarray]:
        """(values, known) of ordering key ``k``: per pair, or for demande ``rows``."""
        if k.demande_only:
            rows = raw.row if rows is None else rows
            return raw.dkeys[rows, k.output], raw.dkeys_known[rows, k.output]
        return raw.keys[:, k.output], raw.keys_known[:, k.output]

    def _field(self, k, raw: RawScores, batch: Batch, rows=None) -> Field:
        if k.kind is None:
            return score_field(raw.score, k.direction)
        lut = None
        if k.kind is Kind.CODE:
            domain = batch.domains.get(k.enum or (), k.enum or ())
            order = sorted(range(len(domain)), key=lambda j: domain[j])
            lut = np.empty(max(1, len(domain)), dtype=np.int64)
            lut[order] = np.arange(len(domain))
        vals, known = self.key_values(k, raw, rows)
        return value_field(vals, known, k.direction, order_lut=lut)

    def rank(self, raw: RawScores, batch: Batch, *, workers: int | None = None) -> np.ndarray:
        """Each pair's rank in its commune (``workers``: threads for the sorts)."""
        workers = workers or default_workers()
        return rank_cells(raw.terr, max(1, len(batch.territory)),
                          self.key_fields(raw, batch, workers=workers), workers)

    def decode_keys(self, raw: RawScores, batch: Batch) -> list[list[Any]]:
        """Ordering key values as the reference interpreter gives them (None = missing)."""
        out: list[list[Any]] = []
        for k in self.plan.keys:
            if k.kind is None:
                out.append(raw.score.tolist())
                continue
            vals, known = self.key_values(k, raw)
            kind = k.kind
            if kind is Kind.BOOL:
                obj = (vals != 0).astype(object)
            elif kind is Kind.INT:
                obj = np.empty(len(vals), dtype=object)
                # like the interpreter: an int while it is an exact double, a float beyond 2^53
                # (never through int64, which would wrap at 2^63)
                integral = known & (vals == np.floor(vals)) & (np.abs(vals) <= 2.0 ** 53)
                obj[integral] = vals[integral].astype(np.int64).astype(object)
                obj[~integral] = vals[~integral].astype(object)
            elif kind is Kind.DECIMAL:
                obj = vals.astype(object)
            elif kind is Kind.DATE:
                obj = np.empty(len(vals), dtype=object)
                ords = vals[known].astype(np.int64)
                uniq, inv = np.unique(ords, return_inverse=True)
                dates = np.array([dt.date.fromordinal(int(d)) for d in uniq] + [None], dtype=object)
                obj[known] = dates[inv] if len(uniq) else []
            else:
                if kind is Kind.CODE:
                    table = np.array(list(batch.domains.get(k.enum or (), k.enum or ())),
                                     dtype=object)
                elif kind is Kind.TEXT:
                    table = batch.text_dict.to_numpy(zero_copy_only=False)
                else:
                    table = batch.commune_dict.to_numpy(zero_copy_only=False)
                obj = np.empty(len(vals), dtype=object)
                idx = vals[known].astype(np.int64)
                obj[known] = table[idx] if len(idx) else []
            obj[~known] = None
            out.append(obj.tolist())
        return out

    def score_table(self, raw: RawScores, batch: Batch, today: dt.date, *,
                    ranks: np.ndarray | None = None, order_rank: bool = False,
                    workers: int | None = None):
        """The engine-independent :class:`~cotation.engine.scoring.ScoreTable`;
        ``order_rank``: with :attr:`ScoreTable.order_rank` from the same fields as the ranks;
        ``workers``: threads for the sorts of ranking."""
        from cotation.engine.scoring import DecodedOnDemand, OnDemand, ScoreTable

        territory = np.array(batch.territory, dtype=object)
        st = ScoreTable(
            grid=self.grid, today=today, row=raw.row,
            numero_unique=OnDemand(functools.partial(_pair_strings, batch.numero_unique,
                                                     raw.row)),
            commune=territory[raw.terr] if len(raw) else np.array([], dtype=object),
            rang=raw.rang, score=raw.score, score_valide=raw.score_valide, met=raw.met,
            set_aside=raw.set_aside, met_valide=raw.met_valide,
            set_aside_valide=raw.set_aside_valide, points=raw.points,
            order_keys=DecodedOnDemand(len(self.plan.keys), functools.partial(
                self.decode_keys, raw, _KeyDictionaries(batch.domains, batch.texts,
                                                        batch.commune_dict))),
            rejects=list(batch.rejects), terr=raw.terr, territory=tuple(batch.territory))
        workers = workers or default_workers()
        fields = self.key_fields(raw, batch, workers=workers) if ranks is None or order_rank \
            else None
        st.rank = rank_cells(raw.terr, max(1, len(batch.territory)), fields, workers) \
            if ranks is None else ranks
        if order_rank:
            st.order_rank = dense_rank(fields, workers).values.astype(np.int64) if fields else \
                np.zeros(len(raw), dtype=np.int64)
        return st


def _pair_strings(column: Any, rows: np.ndarray) -> np.ndarray:
    """The strings of ``column`` (per demande) at ``rows`` (per pair): what an
    :class:`~cotation.engine.scoring.OnDemand` makes; it holds these two, not the Batch."""
    return strings_of(column)[rows]


@dataclass(frozen=True)
class _KeyDictionaries:
    """What :meth:`CompiledGrid.decode_keys` reads of a Batch (not its columns); the text
    dictionary is gathered only if a text key is decoded."""

    domains: Any
    texts: Any                    # as Batch.texts
    commune_dict: Any

    @property
    def text_dict(self) -> Any:
        return text_dictionary(self.texts)


_grids_lock = threading.Lock()


def compile_grid(grid: ir.GridIR) -> CompiledGrid:
    """Lower a grid (fast) and bind it to its cached kernel module (loaded on first run)."""
    return CompiledGrid(grid)


def lowered(grid: Any, compiled: "CompiledGrid | None" = None) -> "CompiledGrid":
    """``compiled`` when it was lowered from this very ``grid`` (a caller that lowered it
    already, to look at its kernels first), else ``compile_grid(grid)``."""
    return compiled if compiled is not None and compiled.grid is grid else compile_grid(grid)


def score_compiled(grid: ir.GridIR, table: Any, today: dt.date, *, explain: bool = False,
                   progress: Progress | None = None, workers: int | None = None,
                   compiled: CompiledGrid | None = None, order_rank: bool = False):
    """Score with the compiled engine; same :class:`ScoreTable` as ``score_interpreted``
    (``compiled``: the grid already lowered, to lower it once; ``order_rank``: with
    :attr:`ScoreTable.order_rank`).

    A grid the code generator cannot lower (none is known among grids that validate) is
    scored by the reference interpreter instead, with a RuntimeWarning."""
    from cotation.engine.compiled.plan import LoweringError
    try:
        cg = lowered(grid, compiled)
    except LoweringError as exc:
        import warnings

        from cotation.engine.scoring import score_interpreted
        warnings.warn(f"compiled engine unavailable for grid {grid.id} ({exc}); using the "
                      "reference interpreter", RuntimeWarning, stacklevel=2)
        return score_interpreted(grid, table, today, explain=explain, progress=progress)
    batch = cg.encode(table)
    raw = cg.run(batch, today, explain=explain, progress=progress, workers=workers)
    return cg.score_table(raw, batch, today, order_rank=order_rank, workers=workers)

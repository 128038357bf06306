"""Candidate shortlists (flux.md §9): the protocol, and a source reading a cotation score file.

:class:`CandidateSource` is the whole interface the dispatcher needs; the compiled scorer can
implement it later. :class:`ScoreFileSource` reads what ``cotation score`` writes
(``numero_unique, commune, score, score_valide, rank``, rank 1..N within each commune) and the
canonical demandes table. It pre-indexes demandes by (typologie wanted, commune) in cotation
order once, so a query is a slice plus a few vectorised masks, never a loop over demandes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol, Sequence, overload

import numpy as np

from cotation.data.schema import TYPOLOGIES
from cotation.data.sources import read_demandes
from cotation.data.table import DemandeTable, ReadResult
from cotation.data.values import TRUE_WORDS
from cotation.flux.errors import FluxInputError, Problem
from cotation.flux.scores_file import (_KEPT_PROBLEMS, GRID_MERGES, ScoreArrays, concat_scores,
                                       read_scores_csv)
from cotation.flux.model import FINANCEMENTS_HORS_SOCIAL, RESERVATAIRE_TYPES, Logement
from cotation.flux.plafonds import HOUSEHOLD_SIZE, ceiling_row, row_ceilings, zone_of
from cotation.i18n import _

_TYPO_INDEX = {t: i for i, t in enumerate(TYPOLOGIES)}
_POOL_BIT = {t: 1 << i for i, t in enumerate(RESERVATAIRE_TYPES)}
_ALL_POOLS = (1 << len(RESERVATAIRE_TYPES)) - 1


class HasType(Protocol):
    id: str
    type: str


@dataclass(frozen=True)
class Candidate:
    numero_unique: str
    position: int            # 1..k in the shortlist
    score: float | None      # cotation of the demande for the dwelling's commune
    rank: int | None         # rank of that cotation in the commune (score file)
    grid: str | None = None       # with several grids: the grid that ranked the demande here
    grid_rank: int | None = None  # its rank in that grid among the demandes of the commune and typologie


@dataclass(frozen=True)
class Shortlist(Sequence[Candidate]):
    """Top-k candidates, with the number of demandes each filter set aside."""

    candidates: tuple[Candidate, ...]
    filtered: tuple[tuple[str, int], ...]
    eligible: int
    k: int
    ordering: str = "cotation"       # or "date_depot" when the commune has no cotation
    # With ``explain``: each demande ranked above the last one retained (same commune and
    # typologie) and not retained, with its rank and why: the first filter it failed,
    # "refus_anterieur" (refused an earlier proposal in the events) or "deja_propose" (in an
    # earlier shortlist of the run); with several grids, also the grid that ranked it.
    not_retained: tuple[tuple, ...] | None = None
    merge: str | None = None         # with several grids: the declared merge rule (GRID_MERGES)

    @property
    def insuffisance(self) -> bool:
        """INSUFFISANCE_CANDIDATS: fewer than k eligible demandes."""
        return self.eligible < self.k

    @overload
    def __getitem__(self, i: int) -> Candidate: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Candidate]: ...
    def __getitem__(self, i):  # type: ignore[override]
        return self.candidates[i]

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)

    def as_dict(self) -> dict:
        multi = self.merge is not None

        def cand(c: Candidate) -> dict:
            d = {"position": c.position, "numero_unique": c.numero_unique, "score": c.score, "rang_cotation": c.rank}
            return d | {"grille": c.grid, "rang_grille": c.grid_rank} if multi else d

        def skipped(x: tuple) -> dict:
            d = {"numero_unique": x[0], "rang_cotation": x[1], "motif": x[2]}
            return d | {"grille": x[3], "rang_grille": x[4]} if multi else d

        return {"k": self.k, "eligibles": self.eligible, "ordre": self.ordering,
                **({"fusion_grilles": self.merge} if multi else {}),
                "insuffisance_candidats": self.insuffisance,
                "filtres": dict(self.filtered),
                "candidats": [cand(c) for c in self.candidates],
                **({} if self.not_retained is None else {"non_retenues": [skipped(x) for x in self.not_retained]})}


class CandidateSource(Protocol):
    """Anything that proposes the top-k eligible demandes for a dwelling and a réservataire."""

    def shortlist(self, logement: Logement, reservataire: HasType, k: int) -> Shortlist: ...


def _years_between(birth: np.ndarray, ref: dt.date) -> np.ndarray:
    """Whole years from packed YYYYMMDD ints to ``ref`` (-1 when missing)."""
    y, md = birth // 10000, birth % 10000
    age = ref.year - y - ((ref.month * 100 + ref.day) < md)
    return np.where(birth > 0, age, -1)


def _packed_dates(values: Sequence[dt.date | None]) -> np.ndarray:
    return np.fromiter((d.year * 10000 + d.month * 100 + d.day if d else 0 for d in values),
                       dtype=np.int64, count=len(values))


def _int_col(values: Sequence[int | None], missing: int = -1) -> np.ndarray:
    return np.fromiter((missing if v is None else v for v in values), dtype=np.int64, count=len(values))


def household_categories(table: DemandeTable, ref: dt.date) -> np.ndarray:
    """Vectorised :func:`plafonds.categorie_menage` over a demandes table."""
    cols = table.columns
    n = np.maximum(_int_col(cols["nb_personnes"], 1), 1)
    kids_raw = _int_col(cols["nb_enfants"])
    adults_raw = _int_col(cols["nb_adultes"])
    kids = np.where(kids_raw >= 0, kids_raw, np.where(adults_raw >= 0, n - adults_raw, 0))
    adults = np.where(adults_raw >= 0, adults_raw, n - kids)
    a1 = _years_between(_packed_dates(cols["date_naissance"]), ref)
    a2 = _years_between(_packed_dates(cols["date_naissance_conjoint"]), ref)
    young = (a1 >= 0) & (a2 >= 0) & (a1 + a2 <= 55)
    cat = np.where(n == 1, 1,
                   np.where((adults == 1) & (kids >= 1), kids + 2,
                            np.where(n == 2, np.where(young, 3, 2), n)))
    handicap = _int_col(cols["nb_personnes_handicap"], 0) > 0
    return (cat + handicap).astype(np.int64)


def pool_masks(table: DemandeTable) -> tuple[np.ndarray, bool]:
    """Bit per réservataire type whose pool holds the demande; and whether pools are labelled.

    État prioritaires: ``prioritaire`` or DALO actif, plus any label. Other pools come from
    the extra column ``pools`` (types joined by ``|``, e.g. ``ACTION_LOGEMENT|ETAT_AGENTS``);
    without it they hold every demande. The bailleur's pool is every demande.
    """
    cols = table.columns
    n = len(table)
    prio = np.fromiter((bool(p) or d == "actif" for p, d in zip(cols["prioritaire"], cols["dalo_statut"])),
                       dtype=bool, count=n)
    labelled = "pools" in table.extras
    if labelled:
        def bits(text: str | None) -> int:
            out = _POOL_BIT["BAILLEUR"]
            for t in (text or "").split("|"):
                out |= _POOL_BIT.get(t.strip(), 0)
            return out
        mask = np.fromiter((bits(v) for v in table.extras["pools"]), dtype=np.int64, count=n)
    else:
        mask = np.full(n, _ALL_POOLS & ~_POOL_BIT["ETAT_PRIO"], dtype=np.int64)
    return np.where(prio, mask | _POOL_BIT["ETAT_PRIO"], mask), labelled


class ScoreFileSource:
    """:class:`CandidateSource` over a demandes table and its cotation per commune."""

    def __init__(self, table: DemandeTable, scores: ScoreArrays | None, *, year: int,
                 ref_date: dt.date | None = None, communes: Sequence[str] = (),
                 household_size: Mapping[str, tuple[int, int]] | None = None,
                 max_taux_effort: float | None = None, explain: bool = False,
                 grids: Sequence[str] = (), merge: str = "entrelacement"):
        if merge not in GRID_MERGES:
            raise ValueError(f"fusion des grilles inconnue: {merge}")
        self.year = year
        self.grids = tuple(grids)
        self.merge = merge if len(self.grids) > 1 else None
        self.explain = explain
        self.read_summary: dict = {}
        # A score file's lines against the demandes: read = accepted + rejected, and the rejected
        # lines (first ones) with why (see _check_score_lines).
        self.score_summary: dict = {}
        self.score_rejects: list[Problem] = []
        ref = ref_date or dt.date(year, 1, 1)
        cols = table.columns
        n = len(table)
        self.n = n
        self._nu = np.array(cols["numero_unique"], dtype=str) if n else np.array([], dtype=str)
        self._persons = np.maximum(_int_col(cols["nb_personnes"], 1), 1)
        self._cat = household_categories(table, ref) if n else np.zeros(0, dtype=np.int64)
        self._rfr = _int_col(cols["revenu_fiscal_reference"])
        self._res = np.array([np.nan if v is None else v for v in cols["ressources_mensuelles"]], dtype=np.float64)
        self._pools, self.pools_labelled = pool_masks(table) if n else (np.zeros(0, np.int64), False)
        pmr = table.extras.get("besoin_pmr")
        self._pmr = (np.fromiter(((v or "").strip().lower() in TRUE_WORDS for v in pmr), dtype=bool, count=n)
                     if pmr is not None else np.zeros(n, dtype=bool))
        self._sizes = dict(HOUSEHOLD_SIZE) | dict(household_size or {})
        self._max_te = max_taux_effort
        self._income_cache: dict[tuple[int, str, str], np.ndarray | None] = {}
        self._build(table, scores, tuple(communes))

    @classmethod
    def from_files(cls, demandes: str | Path, scores: str | Path | None, *,
                   reader: Callable[[str | Path], ReadResult] = read_demandes, **kw) -> "ScoreFileSource":
        """Read the demandes with ``reader`` (canonical CSV or Parquet by default; rejected rows
        are left out) and the score file."""
        res = reader(demandes)
        src = cls(res.table, read_scores_csv(scores) if scores else None, **kw)
        src.read_summary = res.summary()
        return src

    @classmethod
    def from_grid(cls, demandes: str | Path, grid: str | Path | Sequence[str | Path], today: dt.date, *,
                  reader: Callable[[str | Path], ReadResult] = read_demandes, **kw) -> "ScoreFileSource":
        """Score the demandes with a grid in-process (the default engine) instead of reading a
        score file: same ranks as ``cotation score`` at the same reference date.

        With several grids (e.g. mutations and first demandes, or one per EPCI), each scores
        the demandes and communes of its own scope (``applies_to``, territory); ranks stay
        within each grid and merge by ``merge`` (:data:`GRID_MERGES`), grids in the order given.
        """
        from cotation.engine import score
        from cotation.grid import load_grid
        paths = [grid] if isinstance(grid, (str, Path)) else list(grid)
        from cotation.data.boundary import check_columns
        from cotation.engine.reads import columns_read
        res = reader(demandes)
        parts, ids = [], []
        for path in paths:
            ir = load_grid(path).ir
            check_columns(res, columns_read(ir), str(demandes))   # no column scored as missing
            st = score(ir, res.table, today, engine="auto")
            parts.append(ScoreArrays(np.asarray(st.numero_unique, dtype=str), np.asarray(st.commune, dtype=str),
                                     st.score / 100.0, st.score_valide / 100.0, st.rank.astype(np.int64)))
            ids.append(ir.id)
        if len(parts) > 1:
            if len(set(ids)) < len(ids):
                raise FluxInputError([Problem("--grid", 1, _('the same grid is given twice'))])
            src = cls(res.table, concat_scores(parts), grids=ids, **kw)
        else:
            src = cls(res.table, parts[0], **kw)
        src.read_summary = res.summary()
        return src

    def _build(self, table: DemandeTable, scores: ScoreArrays | None, extra_communes: tuple[str, ...]) -> None:
        # A commune listed twice is one choice: never list a demande twice for one commune.
        locs = [tuple(dict.fromkeys(l)) for l in table.columns["localisations"]]
        lengths = np.fromiter((len(l) for l in locs), dtype=np.int64, count=self.n)
        flat = [c for l in locs for c in l]
        dem = np.repeat(np.arange(self.n, dtype=np.int64), lengths)
        elargie = table.extras.get("demande_elargie")
        if elargie is not None and extra_communes:
            wide = [i for i, v in enumerate(elargie) if (v or "").strip().lower() in TRUE_WORDS]
            have = {(i, c) for i in wide for c in locs[i]}
            add = [(i, c) for i in wide for c in extra_communes if (i, c) not in have]
            if add:
                dem = np.concatenate([dem, np.array([i for i, _ in add], dtype=np.int64)])
                flat += [c for _, c in add]
        communes = sorted(set(flat) | set(extra_communes))
        self._commune_idx = {c: i for i, c in enumerate(communes)}
        com = np.array([self._commune_idx[c] for c in flat], dtype=np.int64) if flat else np.zeros(0, np.int64)
        score = np.full(len(dem), np.nan)
        rank = np.full(len(dem), -1, dtype=np.int64)
        G = len(self.grids)
        gid = np.full(len(dem), G, dtype=np.int64)   # G: no grid scored the pair
        scored_communes = np.zeros(len(communes), dtype=bool)
        if scores is not None and len(scores.numero_unique) and (len(dem) or scores.line is not None):
            # Join score rows to (demande, commune) pairs on a single int64 key (a dict lookup per
            # row: string searchsorted is several times slower at this size).
            row_of = {nu: i for i, nu in enumerate(table.columns["numero_unique"])}
            d_idx = np.fromiter((row_of.get(nu, -1) for nu in scores.numero_unique.tolist()),
                                dtype=np.int64, count=len(scores.numero_unique))
            cidx = np.array([self._commune_idx.get(c, -1) for c in scores.commune.tolist()], dtype=np.int64)
            rows = np.flatnonzero((d_idx >= 0) & (cidx >= 0))
            skey = d_idx[rows] * len(communes) + cidx[rows]
            srt = np.argsort(skey, kind="stable")
            skey, rows = skey[srt], rows[srt]
            if self.merge is not None and len(skey) > 1 and np.any(dup := skey[1:] == skey[:-1]):
                i = int(np.flatnonzero(dup)[0])
                d_i, c_i = divmod(int(skey[i]), len(communes))
                g = scores.grid[rows]
                raise FluxInputError([Problem("--grid", 1, _('the demande {nu} is scored for the commune {commune} by two grids ({a}, {b}): their scopes must not overlap').format(
                    nu=self._nu[d_i], commune=communes[c_i], a=self.grids[g[i]], b=self.grids[g[i + 1]]))])
            # Each pair takes the first row of its key (the earliest line: the sort is stable).
            pkey = dem * len(communes) + com
            hit = np.searchsorted(skey, pkey)
            hit_c = np.minimum(hit, max(len(skey) - 1, 0))
            found = (hit < len(skey)) & (skey[hit_c] == pkey) if len(skey) else np.zeros(len(pkey), bool)
            used = np.zeros(len(skey), dtype=bool)
            used[hit_c[found]] = True
            if scores.line is not None:
                self._check_score_lines(scores, d_idx, skey, rows, used)
            score[found] = scores.score[rows[hit_c[found]]]
            rank[found] = scores.rank[rows[hit_c[found]]]
            if self.merge is not None:
                gid[found] = scores.grid[rows[hit_c[found]]]
            scored_communes[np.unique(cidx[rows[used]])] = True
        self._scored_communes = scored_communes
        depot = _packed_dates(table.columns["date_depot"])
        nu_rank = np.empty(self.n, dtype=np.int64)
        nu_rank[np.argsort(self._nu, kind="stable")] = np.arange(self.n)
        # Cotation order within a commune: the file's rank, then score desc, date_depot, numero_unique.
        has_rank = rank >= 0
        # With several grids: by commune, then grid (unscored last), then that grid's order.
        keys = (nu_rank[dem], depot[dem], np.where(np.isnan(score), np.inf, -score),
                np.where(has_rank, rank, np.iinfo(np.int64).max), *((gid,) if self.merge else ()), com)
        srt = np.lexsort(keys)
        dem, com, score, rank, gid = dem[srt], com[srt], score[srt], rank[srt], gid[srt]
        self._per_commune = np.bincount(com, minlength=len(communes))
        typo = np.fromiter((sum(1 << _TYPO_INDEX[t] for t in s) for s in table.columns["typologies"]),
                           dtype=np.int64, count=self.n)
        # One slab per typologie wanted: demandes in (commune, cotation) order, with every
        # attribute a filter reads stored alongside, so a query only slices contiguous arrays.
        self._slabs: list[_Slab] = []
        for t, name in enumerate(TYPOLOGIES):
            sel = np.flatnonzero(((typo[dem] >> t) & 1).astype(bool))
            g_t = gid[sel]
            pos = np.zeros(len(sel), dtype=np.int64)
            if self.merge is not None and len(sel):
                # Rank within its grid among the demandes of the commune wanting this typologie.
                key = com[sel] * (G + 1) + g_t
                pos = np.arange(len(sel)) - np.searchsorted(key, key, side="left")
                if self.merge == "entrelacement":
                    o = np.lexsort((g_t, pos, g_t == G, com[sel]))
                    sel, g_t, pos = sel[o], g_t[o], pos[o]
            d_t, c_t = dem[sel], com[sel]
            lo_p, hi_p = self._sizes.get(name, (1, 99))
            persons = self._persons[d_t]
            self._slabs.append(_Slab(
                dem=d_t, starts=np.searchsorted(c_t, np.arange(len(communes) + 1)),
                score=score[sel], rank=rank[sel], size_ok=(persons >= lo_p) & (persons <= hi_p),
                pools=self._pools[d_t], no_pmr=~self._pmr[d_t], cat=self._cat[d_t], rfr=self._rfr[d_t],
                grid=g_t, gpos=pos))

    def _check_score_lines(self, scores: ScoreArrays, d_idx: np.ndarray, skey: np.ndarray, rows: np.ndarray,
                           used: np.ndarray) -> None:
        """Account for every line of a score file (``score_summary``, ``score_rejects``).

        ``skey``: the (demande, commune) keys of the lines whose demande and commune are known,
        sorted (stable), ``rows`` their lines' indices, ``used`` whether a pair took each one. A
        line is rejected (counted, the first ones reported) when its numero_unique is not among
        the demandes read (the demandes reader may have rejected it), when the demande does not
        seek its commune, or when it repeats an earlier line of the same demande and commune. Two
        such lines with different values, or a file none of whose lines is used, are errors: the
        dispatch would use an arbitrary cotation, or none."""
        n = len(d_idx)
        line = scores.line
        again = np.zeros(len(skey), dtype=bool)
        again[1:] = skey[1:] == skey[:-1]
        first = np.maximum.accumulate(np.where(again, 0, np.arange(len(skey))))
        repeat = again & used[first]          # a later line of a pair in use
        dup, dup_first = rows[repeat], rows[first[repeat]]

        def same(a: np.ndarray) -> np.ndarray:
            x, y = a[dup], a[dup_first]
            return (x == y) | (np.isnan(x) & np.isnan(y)) if a.dtype.kind == "f" else x == y

        conflict = ~(same(scores.score) & same(scores.score_valide) & same(scores.rank))
        if conflict.any():
            bad = np.argsort(dup[conflict], kind="stable")[:_KEPT_PROBLEMS]
            raise FluxInputError([Problem(scores.source, int(line[i]), _(
                "the demande '{nu}' is scored twice for the commune {commune} with different values (line {line})"
            ).format(nu=scores.numero_unique[i], commune=scores.commune[i], line=int(line[j])))
                for i, j in zip(dup[conflict][bad].tolist(), dup_first[conflict][bad].tolist())],
                total=int(conflict.sum()))
        accepted = np.zeros(n, dtype=bool)
        accepted[rows[used]] = True
        rejected = np.flatnonzero(~accepted)
        self.score_summary = {"read": n, "accepted": n - len(rejected), "rejected": len(rejected)}
        if len(rejected) == n:
            raise FluxInputError([Problem(scores.source, 1, _(
                "no score line matches a demande and a commune it seeks ({n} lines): are these the scores "
                "of these demandes?").format(n=n))])
        first_of = dict(zip(dup.tolist(), dup_first.tolist()))
        rejects = []
        for i in rejected[:_KEPT_PROBLEMS].tolist():
            if d_idx[i] < 0:
                rejects.append(Problem(scores.source, int(line[i]), _(
                    "the demande '{nu}' is not among the demandes read").format(nu=scores.numero_unique[i]),
                    "numero_unique"))
            elif i in first_of:
                rejects.append(Problem(scores.source, int(line[i]), _(
                    "the same demande and commune as line {line}").format(line=int(line[first_of[i]]))))
            else:
                rejects.append(Problem(scores.source, int(line[i]), _(
                    "the demande '{nu}' does not seek the commune {commune}").format(
                        nu=scores.numero_unique[i], commune=scores.commune[i]), "commune"))
        self.score_rejects = rejects

    def _income_ok(self, t: int, financement: str, zone: str) -> np.ndarray | None:
        """Income test of slab ``t`` for one ceiling table, computed once and cached: the
        ceiling of each demande's household category (:func:`plafonds.row_ceilings`, closed
        form: a household of 10^12 persons asked a table of terabytes before)."""
        key = (t, financement, zone)
        if key not in self._income_cache:
            row = ceiling_row(self.year, financement, zone)
            slab = self._slabs[t]
            # Unknown income is not proof of ineligibility: the bailleur checks the file.
            self._income_cache[key] = None if row is None else \
                (slab.rfr < 0) | (slab.rfr <= row_ceilings(row, slab.cat))
        return self._income_cache[key]

    def shortlist(self, logement: Logement, reservataire: HasType, k: int = 3,
                  already: frozenset[str] | set[str] = frozenset(),
                  refused: frozenset[str] | set[str] = frozenset()) -> Shortlist:
        """Top ``k`` eligible demandes in cotation order.

        Filters, applied and counted in this order: commune sought (or demande élargie),
        typologie wanted, the réservataire's pool, household size for the typologie, income
        under the ceiling of the dwelling's financement (unknown income passes), PMR need,
        then the optional maximum taux d'effort. With ``explain``, demandes in ``refused`` (they
        refused an earlier proposal) and in ``already`` (proposed earlier in the run) are set aside
        too, and the shortlist says why each higher-ranked demande was not retained.
        """
        cidx = self._commune_idx.get(logement.commune)
        if cidx is None or logement.typologie not in _TYPO_INDEX:
            return Shortlist((), (("commune", self.n),), 0, k, "date_depot", merge=self.merge)
        t = _TYPO_INDEX[logement.typologie]
        slab = self._slabs[t]
        lo, hi = int(slab.starts[cidx]), int(slab.starts[cidx + 1])
        in_commune = int(self._per_commune[cidx])
        filtered = [("commune", self.n - in_commune), ("typologie", in_commune - (hi - lo))]
        keep = (slab.pools[lo:hi] & _POOL_BIT.get(reservataire.type, _ALL_POOLS)) != 0
        left = int(np.count_nonzero(keep))
        filtered.append(("pool", hi - lo - left))
        reason = np.where(keep, "", "pool").astype(object) if self.explain else None

        def apply(name: str, ok: np.ndarray) -> None:
            nonlocal keep, left
            if reason is not None:
                reason[keep & ~ok] = name
            keep &= ok
            now = int(np.count_nonzero(keep))
            filtered.append((name, left - now))
            left = now

        apply("taille_menage", slab.size_ok[lo:hi])
        if logement.financement not in FINANCEMENTS_HORS_SOCIAL:
            ok = self._income_ok(t, logement.financement, logement.zone or zone_of(logement.commune))
            if ok is not None:
                apply("plafond_ressources", ok[lo:hi])
        if not logement.pmr:
            apply("pmr", slab.no_pmr[lo:hi])
        if self._max_te is not None and logement.loyer is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                te = logement.loyer / self._res[slab.dem[lo:hi]]
            apply("taux_effort", ~(te > self._max_te))
        if self.explain and refused:
            apply("refus_anterieur", ~np.isin(self._nu[slab.dem[lo:hi]], np.array(sorted(refused), dtype=str)))
        if self.explain and already:
            apply("deja_propose", ~np.isin(self._nu[slab.dem[lo:hi]], np.array(sorted(already), dtype=str)))
        picked = np.flatnonzero(keep)[:k] + lo
        not_retained = None
        if reason is not None:
            last = int(picked[-1]) - lo if len(picked) == k else hi - lo
            above = np.flatnonzero(~keep[:last])
            not_retained = tuple((str(self._nu[slab.dem[lo + i]]), None if slab.rank[lo + i] < 0
                                  else int(slab.rank[lo + i]), str(reason[i]),
                                  *(self._grid_of(slab, lo + i) if self.merge else ()))
                                 for i in above.tolist())
        cands = tuple(Candidate(str(self._nu[slab.dem[i]]), j + 1,
                                None if np.isnan(slab.score[i]) else float(slab.score[i]),
                                None if slab.rank[i] < 0 else int(slab.rank[i]), *self._grid_of(slab, i))
                      for j, i in enumerate(picked.tolist()))
        ordering = "cotation" if self._scored_communes[cidx] else "date_depot"
        return Shortlist(cands, tuple(filtered), left, k, ordering, not_retained, self.merge)

    def _grid_of(self, slab: "_Slab", i: int) -> tuple[str | None, int | None]:
        """The grid that ranked row ``i`` of a slab and its rank there (several grids only)."""
        g = int(slab.grid[i])
        if self.merge is None or g >= len(self.grids):
            return None, None
        return self.grids[g], int(slab.gpos[i]) + 1


@dataclass(frozen=True)
class _Slab:
    dem: np.ndarray        # demande row indices, by commune then cotation order
    starts: np.ndarray     # offsets of each commune in ``dem``
    score: np.ndarray
    rank: np.ndarray
    size_ok: np.ndarray    # household size fits this typologie
    pools: np.ndarray      # pool bits
    no_pmr: np.ndarray     # the demande does not need a PMR dwelling
    cat: np.ndarray        # household category of the ceilings
    rfr: np.ndarray        # revenu fiscal de référence, -1 when unknown
    grid: np.ndarray       # grid index (several grids; len(grids) when unscored)
    gpos: np.ndarray       # rank within that grid in the commune and typologie, from 0

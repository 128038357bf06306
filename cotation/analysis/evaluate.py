"""The CIL's periodic evaluation of a cotation grid (art. R441-2-10 11° CCH).

Three questions, answered from a demande stock and an attribution history whose rows carry
the attributed demandes as they stood on their attribution dates
(:mod:`cotation.data.attributed`):

1. did attributions go to well-ranked demandes? Each attribution in ``[start, end]`` is placed
   among the demandes *active that day* that asked the same commune and the same typologie
   (its **cell**): rank (1 = first, by the grid's ordering), share of the cell ranked ahead
   ``(rank − 1) / size`` and its decile (see :func:`decile`);
2. did they go to the priority publics? Shares of attributions to DALO, to demandes meeting
   a legal-priority criterion of the grid, and of attributions outside QPV to the first
   quartile of incomes, against the objectives the CIL sets for the run;
3. which well-ranked demandes have waited too long? Demandes active at ``end``, in the top
   deciles of one of their cells and past the délai anormalement long when one is known.

A demande is *active* on day ``d`` when it was deposited on or before ``d`` and not yet
attributed: a demande of the stock (pending at ``end``) from its deposit, an attributed one
from its deposit up to its attribution date included (the demandes housed the same day were
all in the running that day). The stock has no radiations for other reasons (see
docs/evaluation.md). Scoring runs once per distinct attribution date, on the active
demandes that asked one of that day's communes, with ``today`` = that date, so ancienneté and
ages are those of the day.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Mapping

import numpy as np

from cotation.data.schema import TYPOLOGIES
from cotation.data.table import AttributionTable, DemandeTable, concat, without
from cotation.engine import score
from cotation.engine.scoring import ScoreTable
from cotation.grid import ir
from cotation.grid.evaluate import months_between

OBJECTIVES = ("prioritaires", "dalo", "quartile1_hors_qpv")
# Legal minimums (art. L441-1 CCH): 25 % of attributions to the priority publics (for each
# réservataire), 25 % of attributions outside QPV to the first quartile of incomes.
DEFAULT_OBJECTIVES = {"prioritaires": 25.0, "quartile1_hors_qpv": 25.0}
_ALL_TYPOS = (1 << len(TYPOLOGIES)) - 1


@dataclass(frozen=True)
class EvaluationParams:
    start: dt.date
    end: dt.date
    top_deciles: int = 1                       # "well ranked": decile <= this
    delai_mois: int | None = None              # the département's délai, overrides the grid's
    objectives: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_OBJECTIVES))
    quartile_threshold: float | None = None    # € per UC and per year (arrêté)
    engine: str = "auto"


@dataclass
class Evaluation:
    attributions: dict[str, list]   # one row per attribution in the window (territory)
    deciles: dict[str, list]
    waiting: dict[str, list]        # well-ranked demandes left waiting at ``end``
    criteria: dict[str, list]
    summary: dict[str, Any]


def typologie_bits(sets: list) -> np.ndarray:
    """Bitset of the typologies asked per demande; none stated counts as any typologie."""
    pos = {t: 1 << i for i, t in enumerate(TYPOLOGIES)}
    bits = np.fromiter((sum(pos.get(t, 0) for t in s) for s in sets), dtype=np.int64,
                       count=len(sets))
    bits[bits == 0] = _ALL_TYPOS
    return bits


def rows_asking(localisations: list, communes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """For each commune, the (sorted) rows whose localisations include it."""
    lens = np.fromiter(map(len, localisations), dtype=np.int64, count=len(localisations))
    owner = np.repeat(np.arange(len(localisations)), lens)
    flat = np.array(list(chain.from_iterable(localisations)), dtype=object)
    return {c: np.unique(owner[flat == c]) if len(flat) else owner[:0] for c in communes}


def cell_ranks(st: ScoreTable, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    """Every (pair, typologie asked) of ``st`` ranked in its commune × typologie cell.

    ``bits`` is the typologie bitset per row of the scored table. Returns (pair, typologie
    index, rank, size) arrays; the order within a cell is the commune rank of ``st`` (the
    grid's ordering), so ties are broken as the grid says."""
    communes = np.asarray(st.commune, dtype=str) if len(st) else np.array([], dtype=str)
    _, cidx = np.unique(communes, return_inverse=True)
    pb = bits[st.row] if len(st) else np.zeros(0, np.int64)
    parts = [(np.flatnonzero(pb & (1 << j)), j) for j in range(len(TYPOLOGIES))]
    pair = np.concatenate([p for p, _ in parts]) if parts else np.zeros(0, np.int64)
    typo = np.concatenate([np.full(len(p), j, np.int64) for p, j in parts])
    cell = cidx[pair] * len(TYPOLOGIES) + typo
    order = np.lexsort((st.rank[pair], cell))
    pair, typo, cell = pair[order], typo[order], cell[order]
    first = np.r_[True, cell[1:] != cell[:-1]] if len(cell) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(cell)), 0))
    rank = np.arange(len(cell)) - start + 1
    size = np.bincount(cell)[cell] if len(cell) else np.zeros(0, np.int64)
    return pair, typo, rank, size


def decile(rank: np.ndarray | int, size: np.ndarray | int):
    """Decile of the share of the cell ranked ahead, ``(rank − 1) / size``: the first of
    its cell is always in decile 1, the last of ten or more in decile 10.

    >>> decile(1, 3), decile(2, 3), decile(3, 3), decile(10, 10)
    (1, 4, 7, 10)
    """
    return 10 * (rank - 1) // size + 1


class DayScorer:
    """Scores tables at any date with one compiled grid (compiled once, not per date); the
    reference interpreter when the compiled engine is not asked for or not available."""

    def __init__(self, grid: ir.GridIR, engine: str = "auto"):
        self.grid, self.engine, self.cg = grid, engine, None
        if engine in ("auto", "compiled"):
            try:
                from cotation.engine.compiled import compile_grid
                self.cg = compile_grid(grid)
            except Exception:  # noqa: BLE001 - engine.score reports and falls back per call
                if engine == "compiled":
                    raise

    def __call__(self, table: DemandeTable, day: dt.date) -> ScoreTable:
        if self.cg is None:
            return score(self.grid, table, day, engine=self.engine)
        batch = self.cg.encode(table)
        return self.cg.score_table(self.cg.run(batch, day), batch, day)


def _ord(dates: list) -> np.ndarray:
    return np.fromiter((d.toordinal() for d in dates), dtype=np.int64, count=len(dates))


def _met(st: ScoreTable, p: int, idx: list[int]) -> bool:
    return any(bool(st.met[p, j // 64] >> np.uint64(j % 64) & np.uint64(1)) for j in idx)


def _criteria_met(st: ScoreTable, pairs: np.ndarray, k: int) -> np.ndarray:
    """(pairs, criteria) booleans."""
    return np.stack([st.criterion_met(j)[pairs] for j in range(k)], axis=1) if k else \
        np.zeros((len(pairs), 0), bool)


def _uc_income(t: DemandeTable, rows: np.ndarray) -> np.ndarray:
    """Annual resources per consumption unit (NaN unknown): 1 for the first adult, 0.5 per
    other adult, 0.3 per child; with adults or children unknown, every person but the
    first counts 0.5."""
    def arr(name: str) -> np.ndarray:
        col = t.columns[name]
        return np.array([np.nan if col[i] is None else float(col[i]) for i in rows], float)
    res, ad, en, pers = (arr(n) for n in ("ressources_mensuelles", "nb_adultes", "nb_enfants",
                                          "nb_personnes"))
    uc = np.where(np.isnan(ad) | np.isnan(en), 1 + 0.5 * (pers - 1), 1 + 0.5 * (ad - 1) + 0.3 * en)
    return 12 * res / np.maximum(uc, 1.0)


def delai_for(grid: ir.GridIR, typologie: str, override: int | None) -> int | None:
    """Délai anormalement long in months: the département's (``override``), else the grid's
    for the typologie (waiting_time), else the grid's ``delai_anormalement_long`` parameter."""
    if override is not None:
        return override
    by_typo = grid.delai_anormalement_long or {}
    if typologie in by_typo:
        return int(by_typo[typologie])
    v = grid.parameters.get("delai_anormalement_long")
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def evaluate(grid: ir.GridIR, stock: DemandeTable, attributed: DemandeTable,
             attributions: AttributionTable, params: EvaluationParams) -> Evaluation:
    """Run the evaluation; ``attributed`` is row for row with ``attributions``."""
    if params.end < params.start:
        raise ValueError("la date de fin précède la date de début")
    a = attributions.columns
    pending = without(stock, set(a["numero_unique"]))
    dropped = len(stock) - len(pending)
    pool = concat(pending, attributed)
    n_stock = len(pending)
    depot = _ord(pool.columns["date_depot"])
    signed = _ord(a["date_attribution"])
    until = np.r_[np.full(n_stock, dt.date.max.toordinal(), np.int64), signed]
    bits = typologie_bits(pool.columns["typologies"])
    asking = rows_asking(pool.columns["localisations"], grid.communes)
    legal = [c.index for c in grid.criteria if c.legal_priority]
    k = len(grid.criteria)
    scorer = DayScorer(grid, params.engine)

    lo, hi = params.start.toordinal(), params.end.toordinal()
    territory = set(grid.communes)
    window = [i for i in range(len(attributions))
              if lo <= signed[i] <= hi and a["commune"][i] in territory]
    outside = sum(1 for i in range(len(attributions))
                  if lo <= signed[i] <= hi and a["commune"][i] not in territory)
    by_day: dict[int, list[int]] = {}
    for i in window:
        by_day.setdefault(int(signed[i]), []).append(i)

    rows: dict[str, list] = {name: [] for name in (
        "numero_unique", "date_attribution", "commune", "typologie", "financement",
        "reservataire", "qpv", "statut", "score", "rang", "candidats", "part", "decile",
        "rang_commune", "candidats_commune", "anciennete_mois", "dalo", "prioritaire",
        "priorite_legale", "quartile1")}
    met_attr = np.zeros(k, np.int64)
    n_met_attr = 0
    in_rows: list[int] = []                      # attribution index of each output row
    for day_ord in sorted(by_day):
        day = dt.date.fromordinal(day_ord)
        todays = by_day[day_ord]
        asked = np.zeros(len(pool), bool)
        for c in {a["commune"][i] for i in todays}:
            asked[asking[c]] = True
        idx = np.flatnonzero((depot <= day_ord) & (day_ord <= until) & asked)
        st = scorer(pool.take(idx.tolist()), day)
        communes = np.asarray(st.commune, dtype=object)
        for i in todays:
            r = n_stock + i
            local = int(np.searchsorted(idx, r))
            c, t = a["commune"][i], a["typologie"][i]
            in_c = communes == c
            own = np.flatnonzero(in_c & (st.row == local)) if local < len(idx) and idx[local] == r \
                else np.zeros(0, np.int64)
            _attr_row(rows, a, i, r, pool, day)
            in_rows.append(i)
            if not len(own):
                rows["statut"].append("non_classee")
                for name in ("score", "rang", "candidats", "part", "decile", "rang_commune",
                             "candidats_commune", "priorite_legale"):
                    rows[name].append(None)
                continue
            p = int(own[0])
            members = in_c & ((bits[idx][st.row] & (1 << TYPOLOGIES.index(t))) != 0)
            members[p] = True
            rank = 1 + int(np.count_nonzero(members & (st.rank < st.rank[p])))
            size = int(np.count_nonzero(members))
            rows["statut"].append("classee")
            rows["score"].append(int(st.score[p]) / 100)
            rows["rang"].append(rank)
            rows["candidats"].append(size)
            rows["part"].append(round((rank - 1) / size, 4))
            rows["decile"].append(int(decile(rank, size)))
            rows["rang_commune"].append(int(st.rank[p]))
            rows["candidats_commune"].append(int(np.count_nonzero(in_c)))
            rows["priorite_legale"].append(_met(st, p, legal))
            met_attr += _criteria_met(st, np.array([p]), k)[0]
            n_met_attr += 1
    _quartile(rows, pool, n_stock, in_rows, params.quartile_threshold)

    waiting, met_wait, n_wait, n_active = _waiting(grid, scorer, pool, depot, until, bits,
                                                   params)
    criteria = {"critere": [c.id for c in grid.criteria],
                "libelle": [c.label for c in grid.criteria],
                "priorite_legale": [c.legal_priority for c in grid.criteria],
                "attribuees": met_attr.tolist(),
                "part_attribuees": [round(int(m) / n_met_attr, 4) if n_met_attr else None
                                    for m in met_attr],
                "en_attente": met_wait.tolist(),
                "part_en_attente": [round(int(m) / n_wait, 4) if n_wait else None
                                    for m in met_wait]}
    deciles = _decile_table(rows)
    summary = _summary(grid, params, rows, deciles, waiting, outside, dropped, n_active,
                       n_met_attr, n_wait)
    return Evaluation(rows, deciles, waiting, criteria, summary)


def _attr_row(rows: dict, a: dict, i: int, r: int, pool: DemandeTable, day: dt.date) -> None:
    rows["numero_unique"].append(a["numero_unique"][i])
    rows["date_attribution"].append(day)
    for name in ("commune", "typologie", "financement", "reservataire", "qpv"):
        rows[name].append(a[name][i])
    rows["anciennete_mois"].append(months_between(pool.columns["date_depot"][r], day))
    rows["dalo"].append(pool.columns["dalo_statut"][r] == "actif")
    rows["prioritaire"].append(bool(pool.columns["prioritaire"][r]))


def _quartile(rows: dict, pool: DemandeTable, n_stock: int, in_rows: list[int],
              threshold: float | None) -> None:
    income = _uc_income(pool, np.asarray(in_rows, np.int64) + n_stock)
    rows["quartile1"] = [None if threshold is None or np.isnan(v) else bool(v < threshold)
                         for v in income.tolist()]


def _waiting(grid: ir.GridIR, scorer: DayScorer, pool: DemandeTable, depot: np.ndarray, until: np.ndarray,
             bits: np.ndarray, params: EvaluationParams):
    end = params.end
    e = end.toordinal()
    idx = np.flatnonzero((depot <= e) & (until > e))
    sub = pool.take(idx.tolist())
    st = scorer(sub, end)
    k = len(grid.criteria)
    # Criteria frequencies among waiting demandes: on each one's first-choice pair scored.
    order = np.lexsort((st.rang, st.row))
    firsts = order[np.r_[True, st.row[order][1:] != st.row[order][:-1]]] if len(st) else order
    met_wait = _criteria_met(st, firsts, k).sum(axis=0).astype(np.int64)
    pair, typo, rank, size = cell_ranks(st, bits[idx])
    dec = decile(rank, size)
    cand = np.flatnonzero(dec <= params.top_deciles)
    out: dict[str, list] = {name: [] for name in (
        "numero_unique", "commune", "typologie", "score", "rang", "candidats", "part", "decile",
        "date_depot", "anciennete_mois", "delai_anormalement_long", "criteres")}
    best: dict[int, int] = {}
    for q in cand.tolist():                      # top deciles only: a small fraction
        row = int(st.row[pair[q]])
        t = TYPOLOGIES[int(typo[q])]
        delai = delai_for(grid, t, params.delai_mois)
        anc = months_between(sub.columns["date_depot"][row], end)
        if delai is not None and anc < delai:
            continue
        b = best.get(row)
        if b is None or ((rank[q] - 1) * size[b], int(st.rank[pair[q]])) < (
                (rank[b] - 1) * size[q], int(st.rank[pair[b]])):
            best[row] = q
    chosen = sorted(best.values(), key=lambda q: (str(st.commune[pair[q]]), int(typo[q]),
                                                  int(rank[q]), str(st.numero_unique[pair[q]])))
    for q in chosen:
        p, row = int(pair[q]), int(st.row[pair[q]])
        t = TYPOLOGIES[int(typo[q])]
        out["numero_unique"].append(str(st.numero_unique[p]))
        out["commune"].append(str(st.commune[p]))
        out["typologie"].append(t)
        out["score"].append(int(st.score[p]) / 100)
        out["rang"].append(int(rank[q]))
        out["candidats"].append(int(size[q]))
        out["part"].append(round((int(rank[q]) - 1) / int(size[q]), 4))
        out["decile"].append(int(dec[q]))
        out["date_depot"].append(sub.columns["date_depot"][row])
        out["anciennete_mois"].append(months_between(sub.columns["date_depot"][row], end))
        out["delai_anormalement_long"].append(delai_for(grid, t, params.delai_mois))
        out["criteres"].append("|".join(grid.criteria[j].id for j in range(k)
                                        if st.criterion_met(j)[p]))
    return out, met_wait, len(firsts), len(idx)


_DIMENSIONS = ("commune", "typologie", "reservataire", "financement")


def _decile_table(rows: dict) -> dict[str, list]:
    ranked = [i for i, s in enumerate(rows["statut"]) if s == "classee"]
    out: dict[str, list] = {"dimension": [], "valeur": [], "attributions": []}
    for d in range(1, 11):
        out[f"d{d}"] = []
    out["part_moyenne"] = []
    groups: list[tuple[str, str, list[int]]] = [("ensemble", "", ranked)]
    for dim in _DIMENSIONS:
        values = sorted({rows[dim][i] for i in ranked if rows[dim][i] is not None})
        for v in values:
            groups.append((dim, str(v), [i for i in ranked if rows[dim][i] == v]))
    for dim, v, members in groups:
        out["dimension"].append(dim)
        out["valeur"].append(v)
        out["attributions"].append(len(members))
        counts = np.bincount([rows["decile"][i] for i in members], minlength=11)
        for d in range(1, 11):
            out[f"d{d}"].append(int(counts[d]))
        # from the exact shares: the column is rounded to 4 decimals
        out["part_moyenne"].append(round(sum((rows["rang"][i] - 1) / rows["candidats"][i]
                                             for i in members) / len(members), 4)
                                   if members else None)
    return out


def _objective(key: str, num: int, den: int, target: float | None, computed: bool) -> dict:
    pct = _share(num, den) if computed else None
    return {"objectif": key, "cible_pct": target, "atteint_pct": pct,
            "attributions": num if pct is not None else None,
            "sur": den if pct is not None else None,
            "respecte": None if pct is None or target is None else pct >= target}


def _share(num: int, den: int) -> float | None:
    return round(100 * num / den, 2) if den else None


def _summary(grid: ir.GridIR, params: EvaluationParams, rows: dict, deciles: dict,
             waiting: dict, outside: int, dropped: int, n_active: int, n_ranked: int,
             n_wait: int) -> dict[str, Any]:
    n = len(rows["numero_unique"])
    ranked = [i for i, s in enumerate(rows["statut"]) if s == "classee"]
    # exact shares (the column is rounded): the median of an even count is the mean of the
    # two middle values
    parts = np.array([(rows["rang"][i] - 1) / rows["candidats"][i] for i in ranked], float)
    dist = [deciles[f"d{d}"][0] for d in range(1, 11)]
    prio = [i for i in range(n) if rows["dalo"][i] or rows["prioritaire"][i]
            or rows["priorite_legale"][i]]
    hors_qpv = [i for i in range(n) if rows["qpv"][i] is False]
    q_known = [i for i in hors_qpv if rows["quartile1"][i] is not None]
    q_yes = [i for i in q_known if rows["quartile1"][i]]
    # each objective: the attributions that meet it, among those it is counted on
    members = {"prioritaires": (set(prio), range(n)),
               "dalo": ({i for i in range(n) if rows["dalo"][i]}, range(n)),
               "quartile1_hors_qpv": (set(q_yes), q_known)}
    # L441-1: the share of priority publics is owed by each réservataire (and by the bailleur
    # for the dwellings it keeps): each objective per réservataire, where the file names them
    who = sorted({r for r in rows["reservataire"] if r})
    objectives = []
    for key in OBJECTIVES:
        met, among = members[key]
        target = params.objectives.get(key)
        computed = key != "quartile1_hors_qpv" or params.quartile_threshold is not None
        objectives.append(_objective(key, len(met), len(among), target, computed))
        per = []
        for r in who if computed else ():
            theirs = [i for i in among if rows["reservataire"][i] == r]
            one = _objective(key, sum(1 for i in theirs if i in met), len(theirs), target, True)
            del one["objectif"]
            per.append({"reservataire": r, **one})
        objectives[-1]["par_reservataire"] = per
    return {
        "grille": {"id": grid.id, "version": grid.version, "territoire": grid.territory_name},
        "periode": {"du": params.start.isoformat(), "au": params.end.isoformat()},
        "parametres": {"deciles_bien_classees": params.top_deciles,
                       "delai_anormalement_long_mois": params.delai_mois,
                       "seuil_premier_quartile": params.quartile_threshold,
                       "objectifs": dict(sorted(params.objectives.items()))},
        "attributions": {"sur_le_territoire": n, "hors_territoire": outside,
                         "classees": len(ranked), "non_classees": n - len(ranked),
                         "retirees_du_stock": dropped},
        "rang": {
            "deciles": dist,
            "part_premier_decile_pct": _share(dist[0], len(ranked)),
            "part_premiere_moitie_pct": _share(sum(dist[:5]), len(ranked)),
            "part_mediane": round(float(np.median(parts)), 4) if len(parts) else None,
            "premier_de_la_file": sum(1 for i in ranked if rows["rang"][i] == 1),
        },
        "publics": {"hors_qpv": len(hors_qpv), "revenu_inconnu_hors_qpv": len(hors_qpv) - len(q_known)},
        "objectifs": objectives,
        "attente": {"demandes_actives": n_active, "demandes_classees": n_wait,
                    "bien_classees_a_revoir": len(waiting["numero_unique"])},
    }

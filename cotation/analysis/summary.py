"""The figures of a comparison, per commune and for the whole territory (``summary.json``).

Definitions (also written into ``summary.json`` under ``definitions``):

- ranks are within a commune; a pair is one (demande, commune) a grid scores;
- ``rank_change = rank_a - rank_b`` over the pairs both grids score (positive: moves up);
- Spearman's rho and Kendall's tau-b (``scipy.stats``) compare rank A and rank B over the
  pairs both grids score in a commune; for the territory they are the mean of the communes'
  values weighted by their pairs scored by both (ranks of different communes are not comparable);
- top N of a grid in a commune: its pairs with rank ≤ N there; for the territory, the union of
  the communes' top N; ``kept_share``: share of A's top N also in B's top N;
- a pair is *prioritaire* when it meets at least one criterion marked ``legal_priority``
  (art. L441-1 CCH) of grid A (as scored by A) or of grid B (as scored by B): one definition for
  both grids, so the shares under A and under B count the same people;
- criteria: ``share_met`` is over the pairs a grid scores (met = condition true, before group
  policies); ``mean_points`` is the mean of the points it counts (after group policies, before
  group and total caps); ``weight`` is the criterion's share of the absolute point changes,
  ``Σ_pairs |pts_b - pts_a| / Σ_criteria Σ_pairs |pts_b - pts_a|`` over the pairs both grids
  score (the criteria's weights add up to 1 when any point changes).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from cotation.analysis.pairs import AlignedPairs

# Rank-change histogram bins: (label, low, high) inclusive; None = unbounded.
CHANGE_BINS = (("≤ -100", None, -100), ("-99 à -50", -99, -50), ("-49 à -20", -49, -20),
               ("-19 à -10", -19, -10), ("-9 à -5", -9, -5), ("-4 à -1", -4, -1), ("0", 0, 0),
               ("1 à 4", 1, 4), ("5 à 9", 5, 9), ("10 à 19", 10, 19), ("20 à 49", 20, 49),
               ("50 à 99", 50, 99), ("≥ 100", 100, None))
DENSITY_BINS = 10

DEFINITIONS = {
    "pair": "un couple (demande, commune demandée) noté par une grille",
    "rank_change": "rank_a - rank_b sur les couples notés par les deux grilles (positif : "
                   "la demande monte avec la grille B)",
    "spearman": "rho de Spearman (scipy.stats.spearmanr) entre rang A et rang B, couples notés "
                "par les deux grilles ; territoire : moyenne des communes pondérée par ces couples",
    "kendall_tau_b": "tau-b de Kendall (scipy.stats.kendalltau), même calcul que spearman",
    "top": "top N d'une grille dans une commune : ses couples de rang ≤ N ; territoire : réunion "
           "des top N des communes ; kept_share : part du top N de A encore dans le top N de B",
    "priority": "couple qui remplit au moins un critère legal_priority (art. L441-1 CCH) de la "
                "grille A (notée par A) ou de la grille B (notée par B)",
    "share_met": "part des couples notés par la grille où la condition du critère est remplie",
    "mean_points": "moyenne des points retenus pour le critère (après règles de groupe, avant "
                   "plafonds de groupe et de total), sur les couples notés par la grille",
    "weight": "Σ|Δpoints du critère| / Σ des Σ|Δpoints| de tous les critères, sur les couples "
              "notés par les deux grilles : part du critère dans les écarts de points",
    "density": "nombre de couples notés par les deux grilles par décile de rang (rang-1)/taille "
               "de la commune sous A (lignes) et sous B (colonnes)",
    "profiles": "part des couples ayant le profil, parmi tous les couples notés (all) ou parmi le "
                "top N de chaque grille ; une demande de plusieurs typologies compte pour chacune",
}


def rnd(x, digits: int = 4):
    """A float rounded for JSON, or None (for None or NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else round(x, digits) + 0.0


def _share(num, den):
    return rnd(num / den) if den else None


def correlations(rank_a: np.ndarray, rank_b: np.ndarray) -> tuple[float | None, float | None]:
    """Spearman's rho and Kendall's tau-b; None with fewer than two pairs or a constant side."""
    if len(rank_a) < 2 or np.all(rank_a == rank_a[0]) or np.all(rank_b == rank_b[0]):
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = stats.spearmanr(rank_a, rank_b).statistic
        tau = stats.kendalltau(rank_a, rank_b, variant="b").statistic
    return rnd(rho, 6), rnd(tau, 6)


def histogram(changes: np.ndarray) -> list[dict]:
    out = []
    for label, lo, hi in CHANGE_BINS:
        m = np.ones(len(changes), bool)
        if lo is not None:
            m &= changes >= lo
        if hi is not None:
            m &= changes <= hi
        out.append({"bin": label, "count": int(m.sum())})
    return out


class Summariser:
    """Computes the figures of one block (a commune, or the territory) of aligned pairs."""

    def __init__(self, p: AlignedPairs, profiles: dict, top: tuple[int, ...]):
        self.p = p
        self.top = top
        self.profiles = {dim: (values, mat[p.row]) for dim, (values, mat) in profiles.items()}
        _, cid = np.unique(p.commune.astype(str), return_inverse=True) if len(p) else ([], np.zeros(0, int))
        size_a = np.bincount(cid, weights=p.has_a, minlength=1)[cid] if len(p) else np.zeros(0)
        size_b = np.bincount(cid, weights=p.has_b, minlength=1)[cid] if len(p) else np.zeros(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.decile_a = np.minimum(((p.rank_a - 1) * DENSITY_BINS // np.maximum(size_a, 1)), 9).astype(int)
            self.decile_b = np.minimum(((p.rank_b - 1) * DENSITY_BINS // np.maximum(size_b, 1)), 9).astype(int)

    def _profile_shares(self, sel_a: np.ndarray, sel_b: np.ndarray) -> dict:
        out = {}
        na, nb = int(sel_a.sum()), int(sel_b.sum())
        for dim, (values, mat) in self.profiles.items():
            ca, cb = mat[sel_a].sum(axis=0), mat[sel_b].sum(axis=0)
            out[dim] = {v: {"a": _share(int(ca[k]), na), "b": _share(int(cb[k]), nb)}
                        for k, v in enumerate(values) if ca[k] or cb[k]}
        return out

    def block(self, sel: np.ndarray) -> dict:
        p = self.p
        a, b = p.has_a & sel, p.has_b & sel
        both = a & b
        change = (p.rank_a - p.rank_b)[both]
        absch = np.abs(change)
        rho, tau = correlations(p.rank_a[both], p.rank_b[both])
        density = np.zeros((DENSITY_BINS, DENSITY_BINS), dtype=np.int64)
        np.add.at(density, (self.decile_a[both], self.decile_b[both]), 1)
        out = {
            "pairs_a": int(a.sum()), "pairs_b": int(b.sum()), "pairs_both": int(both.sum()),
            "demandes_a": int(len(np.unique(p.row[a]))), "demandes_b": int(len(np.unique(p.row[b]))),
            "spearman": rho, "kendall_tau_b": tau,
            "mean_abs_rank_change": rnd(absch.mean()) if len(absch) else None,
            "median_abs_rank_change": rnd(np.median(absch)) if len(absch) else None,
            "moved_up": int((change > 0).sum()), "moved_down": int((change < 0).sum()),
            "unchanged": int((change == 0).sum()),
            "max_moved_up": int(change.max()) if len(change) else None,
            "max_moved_down": int(-change.min()) if len(change) else None,
            "priority_share_a": _share(int(p.priority[a].sum()), int(a.sum())),
            "priority_share_b": _share(int(p.priority[b].sum()), int(b.sum())),
            "rank_change_histogram": histogram(change),
            "rank_density": density.tolist(),
            "top": {},
            "profiles": self._profile_shares(a, b),
            "criteria": self._criteria(a, b, both),
        }
        for n in self.top:
            ta, tb = a & (p.rank_a <= n), b & (p.rank_b <= n)
            out["top"][str(n)] = {
                "n_top_a": int(ta.sum()), "n_top_b": int(tb.sum()),
                "kept_share": _share(int((ta & tb).sum()), int(ta.sum())),
                "priority_share_a": _share(int(p.priority[ta].sum()), int(ta.sum())),
                "priority_share_b": _share(int(p.priority[tb].sum()), int(tb.sum())),
                "profiles": self._profile_shares(ta, tb),
            }
        return out

    def _criteria(self, a: np.ndarray, b: np.ndarray, both: np.ndarray) -> list[dict]:
        p = self.p
        delta = np.abs(p.points_b[both] - p.points_a[both]).sum(axis=0)
        total = int(delta.sum())
        na, nb = int(a.sum()), int(b.sum())
        out = []
        for j, c in enumerate(p.criteria):
            out.append({
                "id": c.id, "in_a": c.index_a is not None, "in_b": c.index_b is not None,
                "legal_priority": c.legal_priority,
                "share_met_a": _share(int(p.met_a[a, j].sum()), na) if c.index_a is not None else None,
                "share_met_b": _share(int(p.met_b[b, j].sum()), nb) if c.index_b is not None else None,
                "mean_points_a": rnd(p.points_a[a, j].sum() / 100 / na, 2) if na and c.index_a is not None else None,
                "mean_points_b": rnd(p.points_b[b, j].sum() / 100 / nb, 2) if nb and c.index_b is not None else None,
                "abs_points_change": rnd(int(delta[j]) / 100, 2),
                "weight": _share(int(delta[j]), total),
            })
        return out


def territory_correlation(communes: dict[str, dict], key: str) -> float | None:
    """Mean of the communes' ``key`` weighted by their pairs scored by both grids."""
    num = den = 0.0
    for blk in communes.values():
        if blk[key] is not None:
            num += blk[key] * blk["pairs_both"]
            den += blk["pairs_both"]
    return rnd(num / den, 6) if den else None


def summarise(p: AlignedPairs, profiles: dict, top: tuple[int, ...]) -> tuple[dict, dict]:
    """(territory block, {commune: block}) in sorted commune order."""
    s = Summariser(p, profiles, top)
    communes = {}
    for c in sorted(set(p.commune.tolist())):
        communes[c] = s.block(p.commune == c)
    territory = s.block(np.ones(len(p), dtype=bool))
    territory["spearman"] = territory_correlation(communes, "spearman")
    territory["kendall_tau_b"] = territory_correlation(communes, "kendall_tau_b")
    return territory, communes

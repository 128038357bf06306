"""Scoring benchmark: compiled engine vs interpreter vs numpy vs polars, same grid, same data.

    python benchmarks/bench_scoring.py --demandes 1000000

Data: ``cotation.data.synth.generate_demandes`` (seeded) over an 8-commune territory with 2–4
localisations per demande (about 3 scored communes each), converted once to a pyarrow Table;
every engine starts from that table. Grid: ``benchmarks/grids/bench30.yaml`` (30 criteria,
max/first/sum groups, bands, validation levels, a local field, commune-dependent criteria).

Measured, in this order and in the same process unless said otherwise:

- cold start: a fresh process with an empty kernel cache loads the grid and compiles;
- warm start: a fresh process with that cache loads the grid and the cached kernels;
- compiled engine: encoding the Arrow table (once per dataset), scoring (kernel), score+rank;
- interpreter: a sample of ``--sample`` demandes, extrapolated linearly;
- numpy: a hand-written vectorisation of the same grid over the same encoded columns;
- polars: the same grid as polars expressions on a DataFrame of the same table (score, then
  score + sort + rank per commune);
- shortlist: latency of one dwelling query over the indexed demandes.

numpy and polars results are checked equal to the compiled engine's (scores, validated
scores and ranks), so the comparison is between implementations of one specification.
Timings are the best of ``--repeat`` runs; memory is the peak resident-set growth during the
phase (sampled every 2 ms). ``--json FILE`` writes every figure.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID = ROOT / "benchmarks" / "grids" / "bench30.yaml"
TODAY = dt.date(2025, 6, 30)


# ------------------------------------------------------------------------------ utilities

class PeakRSS:
    """Peak resident-set growth (bytes) of this process while the block runs."""

    def __init__(self):
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    def __enter__(self):
        gc.collect()
        self.base = self._rss()
        self.peak = self.base
        self._stop = False

        def sample():
            while not self._stop:
                self.peak = max(self.peak, self._rss())
                time.sleep(0.002)
        self._t = threading.Thread(target=sample, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._t.join()
        self.peak = max(self.peak, self._rss())
        self.growth = self.peak - self.base


def best_of(fn, repeat: int):
    """(best seconds, last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ data

def make_data(n: int, grid_ir):
    """Synthetic demandes (DemandeTable) and the same data as a pyarrow Table."""
    try:
        from cotation.data.synth import SynthParams, generate_demandes
    except ImportError:  # pragma: no cover - the generator is part of the project
        raise SystemExit("cotation.data.synth is needed for the benchmark data")
    validated = tuple(c.id for c in grid_ir.criteria if c.needs_validation)
    # about 3 scored communes per demande: 2–4 localisations, few mutations (out of scope)
    params = SynthParams(nb_localisations={2: 0.2, 3: 0.5, 4: 0.3}, part_mutation=0.04,
                         criteres_valides_pool=validated)
    table = generate_demandes(n, seed=2025, today=TODAY, territories=[list(grid_ir.communes)],
                              params=params)
    return table, to_arrow(table)


def to_arrow(table):
    import pyarrow as pa

    from cotation.data.schema import COLUMNS, Kind
    arrays, names = [], []
    for c in COLUMNS:
        v = table.columns[c.name]
        if c.kind is Kind.CODESET:
            arr = pa.array([sorted(x) for x in v], type=pa.list_(pa.string()))
        elif c.kind is Kind.COMMUNES:
            arr = pa.array([list(x) for x in v], type=pa.list_(pa.string()))
        elif c.kind is Kind.DATE:
            arr = pa.array(v, type=pa.date32())
        elif c.kind is Kind.INT:
            arr = pa.array(v, type=pa.int64())
        elif c.kind is Kind.DECIMAL:
            arr = pa.array(v, type=pa.float64())
        elif c.kind is Kind.BOOL:
            arr = pa.array(v, type=pa.bool_())
        else:
            arr = pa.array(v, type=pa.string())
        arrays.append(arr)
        names.append(c.name)
    for k, v in table.extras.items():
        arrays.append(pa.array(v, type=pa.string()))
        names.append(k)
    return pa.table(arrays, names=names)


# ------------------------------------------------------------------------------ start-up

_START = r"""
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy
from cotation.api import Scorer
t1 = time.perf_counter()
import numba
t2 = time.perf_counter()
from cotation.grid import load_grid
grid = load_grid({grid!r})
t3 = time.perf_counter()
try:
    scorer = Scorer(grid, engine="compiled")   # kernels loaded in the constructor
except TypeError:                              # a tree before Scorer(engine=...)
    scorer = Scorer(grid)
t4 = time.perf_counter()
sys.stdout.write(json.dumps({{"imports": t1 - t0, "numba_import": t2 - t1, "load_grid": t3 - t2,
                              "kernels": t4 - t3, "in_process": t4 - t0}}) + "\n")
sys.stdout.flush()
"""


def start_times(cache_dir: str) -> dict:
    env = dict(os.environ, COTATION_CACHE_DIR=cache_dir)
    code = _START.format(root=str(ROOT), grid=str(GRID))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()          # printed as soon as the scorer is ready
    ready = time.perf_counter() - t0
    proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError("start-up run failed")
    res = json.loads(line)
    res["ready"] = ready
    res["process"] = wall
    return res


def python_floor() -> float:
    """A bare interpreter start with numpy imported (the floor of any start-up figure)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------ numpy

def _months(d1: np.ndarray, today: dt.date) -> np.ndarray:
    """months_between(d1, today) for int64 ordinals (any value; callers mask missing)."""
    days = (np.clip(d1, 1, 3652059) - dt.date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    y = days.astype("datetime64[Y]").astype(np.int64) + 1970
    m = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    return (12 * (today.year - y) + (today.month - m) - (today.day < d)).astype(np.float64)


def _h(x: np.ndarray, met: np.ndarray) -> np.ndarray:
    """Criterion hundredths: round half away from zero, 0 where not met."""
    with np.errstate(invalid="ignore"):
        a = np.floor(np.abs(np.where(met, x, 0.0)) * 100.0 + 0.5)
        return np.where(met, np.where(x < 0, -a, a), 0).astype(np.int64)


def numpy_score(cols: dict, batch, grid_ir, today: dt.date):
    """The bench30 grid, vectorised with numpy over the encoded columns.

    Returns (row, terr, score, score_valide) per pair in pair order."""
    from cotation.engine.compiled.plan import DMISS
    from cotation.data.schema import ENUMS

    def code(field, value):
        return ENUMS[field].index(value)

    def has(setcol, value, enum="motifs"):
        b = ENUMS[enum].index(value)
        return ((setcol[:, b >> 6] >> np.uint64(b & 63)) & np.uint64(1)).astype(bool)

    f = cols
    n = batch.n
    with np.errstate(invalid="ignore", divide="ignore"):
        # derived fields (NaN = missing)
        naiss = f["date_naissance"]
        age = np.where(naiss == DMISS, np.nan, np.floor(_months(naiss, today) / 12))
        depot = f["date_depot"]
        anc = np.where(depot == DMISS, np.nan, _months(depot, today))
        loyer, aide, res = f["loyer_actuel"], f["aide_logement"], f["ressources_mensuelles"]
        aide0 = np.where(np.isnan(aide), 0.0, aide)
        taux = np.where(res != 0, (loyer - aide0) / res, np.nan)
        den = 1 + 0.5 * (f["nb_adultes"] - 1) + 0.3 * f["nb_enfants"]
        rav = np.where(den != 0, (res - loyer + aide0) / den, np.nan)
        npl = f["nb_personnes_logement_actuel"]
        spp = np.where(npl != 0, f["surface_actuelle"] / npl, np.nan)
        nref = f["nb_refus_adaptes"]
        dref = f["date_dernier_refus_adapte"]
        mref = np.where(dref == DMISS, np.nan, _months(dref, today))
        nref0 = np.where(np.isnan(nref), 0.0, nref)
        refus12 = np.where(nref0 == 0, 0.0, np.where(np.isnan(mref), np.nan,
                                                      np.where(mref < 12, nref, 0.0)))
        sl = f["situation_logement"]
        motifs = f["motifs"]
        P = grid_ir.parameters

        def isin(c, field, values):
            return np.isin(c, [code(field, v) for v in values])

        crit = {}
        crit["dalo"] = (f["dalo_statut"] == code("dalo_statut", "actif"), 50.0)
        crit["prioritaire"] = (f["prioritaire"] == 1, 30.0)
        crit["handicap"] = (f["nb_personnes_handicap"] >= 1, 10.0)
        crit["sans_abri"] = (isin(sl, "situation_logement", ["sans_abri", "squat", "camping_caravaning"]), 40.0)
        crit["hebergement"] = (isin(sl, "situation_logement", ["structure_hebergement", "cdef_centre_maternel",
                                                               "residence_sociale_foyer", "rhvs", "hotel"]), 30.0)
        crit["indigne"] = (has(motifs, "insalubre_dangereux") | has(motifs, "non_decent"), 25.0)
        crit["heberge_tiers"] = (sl == code("situation_logement", "heberge_particulier"), 25.0)
        crit["expulsion"] = (has(motifs, "expulsion"), 20.0)
        crit["heberge_parents"] = (sl == code("situation_logement", "heberge_parents_enfants"), 15.0)
        crit["precaire"] = (isin(sl, "situation_logement", ["sous_locataire_temporaire", "logement_temporaire",
                                                           "occupant_sans_titre", "loge_titre_gratuit"]), 10.0)
        crit["sur_occupation"] = (spp < 12, np.where(spp < 9, 15.0, 8.0))
        s1, s2 = P["seuil_taux_effort"], P["seuil_taux_effort_fort"]
        crit["taux_effort"] = (taux >= s1, np.where(taux < s2, 10.0, np.where(taux < 0.6, 15.0, 20.0)))
        seuil = P["seuil_reste_a_vivre"]
        x = (seuil - rav) / 8
        crit["reste_a_vivre"] = (rav < seuil, np.where(15.0 < x, 15.0, x))
        crit["sans_ressources"] = (res < 700, np.where(res < 300, 10.0, 5.0))
        crit["parent_isole"] = ((f["nb_adultes"] == 1) & (f["nb_enfants"] >= 1), 5.0)
        crit["famille_nombreuse"] = (f["nb_enfants"] >= 3, 5.0)
        crit["violences"] = (has(motifs, "violences_familiales"), 30.0)
        crit["separation"] = (has(motifs, "divorce_separation"), 10.0)
        crit["decohabitation"] = (has(motifs, "decohabitation"), 5.0)
        crit["regroupement"] = (has(motifs, "regroupement_familial"), 15.0)
        crit["senior"] = (age >= 65, 8.0)
        crit["sante"] = (has(motifs, "sante") | has(motifs, "handicap"), 10.0 * 1.5)
        crit["jeune_actif"] = ((age < 30) & isin(f["situation_pro"], "situation_pro",
                                                 ["cdi_fonctionnaire", "cdd_interim", "apprenti", "independant"]), 5.0)
        crit["essentiel"] = (f["travailleur_essentiel"] == 1, 6.0)
        crit["anciennete"] = (~np.isnan(anc), np.where(60.0 < anc, 60.0, anc))
        crit["delai_depasse"] = (anc >= P["delai_anormalement_long"], 10.0)
        r = -10 * refus12
        crit["refus"] = (~np.isnan(refus12), np.where(-30.0 > r, -30.0, r))
        H, MET = {}, {}
        for cid, (met, pts) in crit.items():
            H[cid] = _h(np.broadcast_to(pts, (n,)), met)
            MET[cid] = met
        valid = f["criteres_valides"]
        HV, METV = dict(H), dict(MET)
        for c in grid_ir.criteria:
            if c.needs_validation:
                b = c.index
                ok = ((valid[:, b >> 6] >> np.uint64(b & 63)) & np.uint64(1)).astype(bool)
                METV[c.id] = MET[c.id] & ok
                HV[c.id] = np.where(ok, H[c.id], 0)

        def groups(Hx, Mx):
            log_ = ["sans_abri", "hebergement", "indigne", "heberge_tiers", "expulsion",
                    "heberge_parents", "precaire"]
            g1 = np.zeros(n, dtype=np.int64)
            for cid in log_:                          # points are positive: max of met
                g1 = np.maximum(g1, Hx[cid])
            fam = ["violences", "separation", "decohabitation", "regroupement"]
            g2 = np.zeros(n, dtype=np.int64)
            taken = np.zeros(n, dtype=bool)
            for cid in fam:                           # first met member
                take = Mx[cid] & ~taken
                g2 = np.where(take, Hx[cid], g2)
                taken |= take
            rest = sum(Hx[c] for c in H if c not in log_ and c not in fam)
            return g1 + g2 + rest
        base = groups(H, MET)
        base_v = groups(HV, METV)

        # pairs: scope, distinct territory localisations in order
        scope = f["est_mutation"] != 1
        ptr, terr = batch.loc_ptr, batch.loc_terr
        counts = np.diff(ptr)
        row = np.repeat(np.arange(n), counts)
        keep = (terr >= 0) & scope[row]
        longest = int(counts.max()) if n else 0
        for lag in range(1, longest):
            dup = np.zeros(len(terr), dtype=bool)
            dup[lag:] = (terr[lag:] == terr[:-lag]) & (row[lag:] == row[:-lag])
            keep &= ~dup
        ent = np.flatnonzero(keep)
        prow = row[ent]
        pterr = terr[ent]
        rang = ent - ptr[prow] + 1
        lcid = batch.terr_ids[pterr]
        travail = (lcid == f["commune_travail"][prow])
        reside = (lcid == f["commune_residence"][prow])
        lien = np.minimum(travail * 1000 + reside * 500 + (rang == 1) * 300, 1200)
        score = np.maximum(base[prow] + lien, 0)
        score_v = np.maximum(base_v[prow] + lien, 0)
    return prow, pterr, score, score_v


def numpy_rank(prow, pterr, score, cols, n_cells):
    from cotation.engine.compiled.plan import DMISS
    depot = cols["date_depot"][prow]
    depot = np.where(depot == DMISS, np.iinfo(np.int64).max, depot)
    nu = cols["numero_unique"][prow]
    order = np.lexsort((nu, depot, -score, pterr))
    counts = np.bincount(pterr, minlength=n_cells)
    start = np.cumsum(counts) - counts
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - start[pterr[order]] + 1
    return rank


# ------------------------------------------------------------------------------ polars

def polars_pipeline(df, grid_ir, today: dt.date, *, rank: bool):
    """The bench30 grid as polars expressions. Returns a DataFrame of pairs with
    row, commune, score, score_valide (and rank)."""
    import polars as pl

    P = grid_ir.parameters

    def months(col):
        d = pl.col(col)
        return (12 * (today.year - d.dt.year().cast(pl.Int64)) + (today.month - d.dt.month().cast(pl.Int64))
                - (pl.lit(today.day) < d.dt.day().cast(pl.Int64)).cast(pl.Int64)).cast(pl.Float64)

    def hundredths(met, pts):
        a = (pts.abs() * 100.0 + 0.5).floor()
        return pl.when(met.fill_null(False)).then(pl.when(pts < 0).then(-a).otherwise(a)).otherwise(0.0).cast(pl.Int64)

    def has(v):
        return pl.col("motifs").list.contains(v)

    def valid(cid):
        return pl.col("criteres_valides").list.contains(cid)

    sl = pl.col("situation_logement")
    res, loyer = pl.col("ressources_mensuelles"), pl.col("loyer_actuel")
    aide0 = pl.col("aide_logement").fill_null(0.0)
    den = 1 + 0.5 * (pl.col("nb_adultes") - 1) + 0.3 * pl.col("nb_enfants")
    essentiel = pl.col("travailleur_essentiel").str.to_lowercase().is_in(["true", "1", "oui", "o", "yes", "vrai"])
    nref0 = pl.col("nb_refus_adaptes").fill_null(0)
    derived = [
        (months("date_naissance") / 12).floor().alias("age"),
        months("date_depot").alias("anc"),
        pl.when(res != 0).then((loyer - aide0) / res).alias("taux"),
        pl.when(den != 0).then((res - loyer + aide0) / den).alias("rav"),
        pl.when(pl.col("nb_personnes_logement_actuel") != 0)
          .then(pl.col("surface_actuelle") / pl.col("nb_personnes_logement_actuel")).alias("spp"),
        pl.when(nref0 == 0).then(0.0).when(months("date_dernier_refus_adapte") < 12)
          .then(pl.col("nb_refus_adaptes").cast(pl.Float64)).when(months("date_dernier_refus_adapte") >= 12)
          .then(0.0).alias("refus12"),
    ]
    age, anc, taux, rav, spp, refus12 = (pl.col(c) for c in ("age", "anc", "taux", "rav", "spp", "refus12"))
    seuil = P["seuil_reste_a_vivre"]
    x = (seuil - rav) / 8
    r = -10 * refus12
    crit = {
        "dalo": (pl.col("dalo_statut") == "actif", pl.lit(50.0)),
        "prioritaire": (pl.col("prioritaire"), pl.lit(30.0)),
        "handicap": (pl.col("nb_personnes_handicap") >= 1, pl.lit(10.0)),
        "sans_abri": (sl.is_in(["sans_abri", "squat", "camping_caravaning"]), pl.lit(40.0)),
        "hebergement": (sl.is_in(["structure_hebergement", "cdef_centre_maternel", "residence_sociale_foyer",
                                  "rhvs", "hotel"]), pl.lit(30.0)),
        "indigne": (has("insalubre_dangereux") | has("non_decent"), pl.lit(25.0)),
        "heberge_tiers": (sl == "heberge_particulier", pl.lit(25.0)),
        "expulsion": (has("expulsion"), pl.lit(20.0)),
        "heberge_parents": (sl == "heberge_parents_enfants", pl.lit(15.0)),
        "precaire": (sl.is_in(["sous_locataire_temporaire", "logement_temporaire", "occupant_sans_titre",
                               "loge_titre_gratuit"]), pl.lit(10.0)),
        "sur_occupation": (spp < 12, pl.when(spp < 9).then(15.0).otherwise(8.0)),
        "taux_effort": (taux >= P["seuil_taux_effort"],
                        pl.when(taux < P["seuil_taux_effort_fort"]).then(10.0).when(taux < 0.6).then(15.0).otherwise(20.0)),
        "reste_a_vivre": (rav < seuil, pl.when(15.0 < x).then(15.0).otherwise(x)),
        "sans_ressources": (res < 700, pl.when(res < 300).then(10.0).otherwise(5.0)),
        "parent_isole": ((pl.col("nb_adultes") == 1) & (pl.col("nb_enfants") >= 1), pl.lit(5.0)),
        "famille_nombreuse": (pl.col("nb_enfants") >= 3, pl.lit(5.0)),
        "violences": (has("violences_familiales"), pl.lit(30.0)),
        "separation": (has("divorce_separation"), pl.lit(10.0)),
        "decohabitation": (has("decohabitation"), pl.lit(5.0)),
        "regroupement": (has("regroupement_familial"), pl.lit(15.0)),
        "senior": (age >= 65, pl.lit(8.0)),
        "sante": (has("sante") | has("handicap"), pl.lit(15.0)),
        "jeune_actif": ((age < 30) & pl.col("situation_pro").is_in(["cdi_fonctionnaire", "cdd_interim", "apprenti",
                                                                   "independant"]), pl.lit(5.0)),
        "essentiel": (essentiel, pl.lit(6.0)),
        "anciennete": (anc.is_not_null(), pl.when(60.0 < anc).then(60.0).otherwise(anc)),
        "delai_depasse": (anc >= P["delai_anormalement_long"], pl.lit(10.0)),
        "refus": (refus12.is_not_null(), pl.when(-30.0 > r).then(-30.0).otherwise(r)),
    }
    h = [hundredths(m, p).alias(f"h_{cid}") for cid, (m, p) in crit.items()]
    needs = {c.id for c in grid_ir.criteria if c.needs_validation}
    hv = [pl.when(valid(cid).fill_null(False)).then(pl.col(f"h_{cid}")).otherwise(0).alias(f"hv_{cid}")
          for cid in crit if cid in needs]
    log_ = ["sans_abri", "hebergement", "indigne", "heberge_tiers", "expulsion", "heberge_parents", "precaire"]
    fam = ["violences", "separation", "decohabitation", "regroupement"]

    def total(prefix_for):
        g1 = pl.max_horizontal([pl.col(prefix_for(c)) for c in log_])
        g2 = pl.lit(0, dtype=pl.Int64)
        for cid in reversed(fam):                     # first met member (met ⇔ h computed from a true when)
            met = crit[cid][0].fill_null(False)
            if prefix_for(cid).startswith("hv_"):
                met = met & valid(cid).fill_null(False)
            g2 = pl.when(met).then(pl.col(prefix_for(cid))).otherwise(g2)
        rest = [pl.col(prefix_for(c)) for c in crit if c not in log_ and c not in fam]
        return g1 + g2 + pl.sum_horizontal(rest)

    base = total(lambda c: f"h_{c}").alias("base")
    base_v = total(lambda c: f"hv_{c}" if c in needs else f"h_{c}").alias("base_v")
    territory = list(dict.fromkeys(grid_ir.communes))
    lf = (df.lazy()
          .with_row_index("row")
          .filter(~pl.col("est_mutation").fill_null(False))
          .with_columns(derived)
          .with_columns(h)
          .with_columns(hv)
          .select("row", "date_depot", "numero_unique", "commune_travail", "commune_residence",
                  "localisations", base, base_v)
          .with_columns(pl.int_ranges(1, pl.col("localisations").list.len() + 1).alias("rang"))
          .explode(["localisations", "rang"])
          .rename({"localisations": "commune"})
          .filter(pl.col("commune").is_in(territory))
          .unique(subset=["row", "commune"], keep="first", maintain_order=True)
          .with_columns(
              lien=pl.min_horizontal(
                  (pl.col("commune") == pl.col("commune_travail")).fill_null(False).cast(pl.Int64) * 1000
                  + (pl.col("commune") == pl.col("commune_residence")).fill_null(False).cast(pl.Int64) * 500
                  + (pl.col("rang") == 1).cast(pl.Int64) * 300, pl.lit(1200)))
          .with_columns(score=pl.max_horizontal(pl.col("base") + pl.col("lien"), pl.lit(0)),
                        score_valide=pl.max_horizontal(pl.col("base_v") + pl.col("lien"), pl.lit(0))))
    if rank:
        lf = (lf.sort(["commune", "score", "date_depot", "numero_unique"],
                      descending=[False, True, False, False], nulls_last=True)
                .with_columns(rank=pl.int_range(1, pl.len() + 1).over("commune")))
        return lf.select("row", "commune", "score", "score_valide", "rank").collect()
    return lf.select("row", "commune", "score", "score_valide").collect()


# ------------------------------------------------------------------------------ memory

_MEMORY = r"""
import gc, json, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
import pyarrow as pa
import bench_scoring as B
arrow = pa.ipc.open_file(pa.OSFile({data!r})).read_all()
engine = {engine!r}
from cotation.api import Scorer
from cotation.grid import load_grid
grid = load_grid(B.GRID)
if engine == "polars":
    import polars as pl
    df = pl.from_arrow(arrow)
    run = lambda: B.polars_pipeline(df, grid.ir, B.TODAY, rank=True)
else:
    scorer = Scorer(grid)
    cg = scorer._compiled
    batch = scorer.prepare(arrow, shortlist=False)
    if engine == "compiled":
        run = lambda: cg.rank(cg.run(batch, B.TODAY), batch)
    else:
        cols = {{spec.name: a for spec, a in zip(cg.plan.columns, batch.cols)}}
        def run():
            r = B.numpy_score(cols, batch, grid.ir, B.TODAY)
            return B.numpy_rank(r[0], r[1], r[2], cols, len(batch.territory))
del arrow
gc.collect()
with B.PeakRSS() as m:
    out = run()
print(json.dumps({{"growth_mb": m.growth / 2 ** 20}}))
"""


def memory_of(engine: str, data_path: str) -> float:
    """Peak RSS growth (MB) of one score+rank, first run in a fresh process."""
    code = _MEMORY.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), data=data_path,
                          engine=engine)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["growth_mb"]


# ------------------------------------------------------------------------------ main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demandes", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=20_000, help="interpreter sample size")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--queries", type=int, default=300, help="shortlist queries")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--skip-start", action="store_true", help="skip the cold/warm start runs")
    ap.add_argument("--start-only", action="store_true",
                    help="only the start-up, per step, API and CLI (benchmarks/bench_start.py)")
    ap.add_argument("--baseline", help="with --start-only: another checkout measured in the same run")
    args = ap.parse_args(argv)
    if args.start_only:       # the start-up benchmark, per step (benchmarks/bench_start.py)
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import bench_start
        return bench_start.main(["--repeat", str(args.repeat)]
                                + (["--baseline", args.baseline] if args.baseline else []))

    import numba
    import polars as pl
    import pyarrow

    from cotation.api import Scorer
    from cotation.grid import load_grid
    from cotation.engine.scoring import score_interpreted

    out: dict = {"demandes": args.demandes, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
        "numba": numba.__version__, "polars": pl.__version__, "pyarrow": pyarrow.__version__,
        "load_average_at_start": os.getloadavg()}}
    grid = load_grid(GRID)
    gir = grid.ir

    # ---- start-up, in fresh processes
    if not args.skip_start:
        log("start-up: cold (fresh kernel cache) and warm (cached) processes …")
        with tempfile.TemporaryDirectory() as d:
            out["cold_start"] = start_times(d)
            out["warm_start"] = start_times(d)
            out["warm_start_2"] = start_times(d)
        out["python_numpy_floor"] = python_floor()

    # ---- data
    log(f"data: {args.demandes} synthetic demandes …")
    t0 = time.perf_counter()
    table, arrow = make_data(args.demandes, gir)
    out["data_generation_s"] = time.perf_counter() - t0

    scorer = Scorer(grid)
    cg = scorer._compiled

    # ---- compiled engine
    log("compiled: encode, score, score+rank …")
    t_enc, batch = best_of(lambda: scorer.prepare(arrow, shortlist=False), min(2, args.repeat))
    t_score, raw = best_of(lambda: cg.run(batch, TODAY), args.repeat)
    pairs = len(raw)

    def score_rank():
        r = cg.run(batch, TODAY)
        return r, cg.rank(r, batch)
    t_sr, (raw, ranks) = best_of(score_rank, args.repeat)
    t_rank, _ = best_of(lambda: cg.rank(raw, batch), args.repeat)
    def end_to_end():
        b = scorer.prepare(arrow, shortlist=False)
        return cg.rank(cg.run(b, TODAY), b)
    t_e2e, _ = best_of(end_to_end, 1)
    t_serial, _ = best_of(lambda: cg.run(batch, TODAY, workers=1), args.repeat)
    out["pairs"] = pairs
    out["compiled"] = {"encode_s": t_enc, "score_s": t_score, "score_1worker_s": t_serial,
                       "rank_s": t_rank, "score_rank_s": t_sr, "encode_score_rank_s": t_e2e}

    # ---- interpreter (sample)
    log(f"interpreter: {args.sample} demandes …")
    sample = table.take(range(min(args.sample, len(table))))
    t_i, _ = best_of(lambda: score_interpreted(gir, sample, TODAY, explain=False), 1)
    scale = len(table) / len(sample)
    out["interpreter"] = {"sample_demandes": len(sample), "sample_s": t_i,
                          "extrapolated_score_rank_s": t_i * scale}
    sample = None

    # ---- numpy
    log("numpy …")
    cols = {spec.name: arr for spec, arr in zip(cg.plan.columns, batch.cols)}
    n_cells = len(batch.territory)
    t_np, res_np = best_of(lambda: numpy_score(cols, batch, gir, TODAY), args.repeat)
    t_npr, rk_np = best_of(lambda: numpy_rank(res_np[0], res_np[1], res_np[2], cols, n_cells), args.repeat)
    ok_np = (np.array_equal(res_np[0], raw.row) and np.array_equal(res_np[1], raw.terr)
             and np.array_equal(res_np[2], raw.score) and np.array_equal(res_np[3], raw.score_valide)
             and np.array_equal(rk_np, ranks))
    out["numpy"] = {"score_s": t_np, "score_rank_s": t_np + t_npr, "equal_to_compiled": ok_np}
    res_np = rk_np = None

    # ---- polars
    log("polars …")
    df = pl.from_arrow(arrow)
    t_pl, res_pl = best_of(lambda: polars_pipeline(df, gir, TODAY, rank=False), args.repeat)
    t_plr, res_plr = best_of(lambda: polars_pipeline(df, gir, TODAY, rank=True), args.repeat)
    terr = np.array(batch.territory, dtype=object)
    ref = pl.DataFrame({"row": raw.row.astype(np.uint32), "commune": terr[raw.terr].astype(str),
                        "score_c": raw.score, "score_valide_c": raw.score_valide, "rank_c": ranks})
    j = ref.join(res_plr.with_columns(pl.col("row").cast(pl.UInt32)), on=["row", "commune"], how="full")
    ok_pl = (len(j) == pairs == len(res_plr) == len(res_pl)
             and j.filter((pl.col("score") != pl.col("score_c")) | (pl.col("score_valide") != pl.col("score_valide_c"))
                          | (pl.col("rank") != pl.col("rank_c")) | pl.col("score").is_null()
                          | pl.col("score_c").is_null()).height == 0)
    out["polars"] = {"score_s": t_pl, "score_rank_s": t_plr, "equal_to_compiled": ok_pl,
                     "threads": pl.thread_pool_size()}
    res_pl = res_plr = j = ref = df = None

    # ---- shortlist
    log("shortlist …")
    t_idx, index = best_of(lambda: scorer.index(arrow, TODAY), 1)
    rng = np.random.default_rng(1)
    communes = list(batch.territory)
    typs = ["T1", "T2", "T3", "T4", "T5"]
    fins = [None, "PLAI", "PLUS", "PLS"]
    lat = []
    for _ in range(args.queries):
        dw = {"commune": communes[rng.integers(len(communes))], "typologie": typs[rng.integers(5)]}
        fin = fins[rng.integers(4)]
        if fin:
            dw["financement"] = fin
        t0 = time.perf_counter()
        index.shortlist(dw, k=10)
        lat.append(time.perf_counter() - t0)
    lat = np.array(lat) * 1000
    rare = {"commune": communes[-1], "typologie": "T6P", "financement": "PLAI"}
    t0 = time.perf_counter()
    index.shortlist(rare, k=10)
    rare_ms = (time.perf_counter() - t0) * 1000
    out["shortlist"] = {"index_build_s": t_idx, "median_ms": float(np.median(lat)),
                        "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max()),
                        "rare_dwelling_ms": rare_ms}

    # ---- memory: one score+rank in a fresh process per engine (data from an Arrow file)
    log("memory …")
    index = raw = ranks = None
    gc.collect()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "demandes.arrow")
        with pyarrow.OSFile(path, "wb") as fh, pyarrow.ipc.new_file(fh, arrow.schema) as w:
            w.write_table(arrow)
        for name in ("compiled", "numpy", "polars"):
            out[name]["peak_rss_growth_mb"] = memory_of(name, path)
    out["machine"]["load_average_at_end"] = os.getloadavg()

    report(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    return 0


def report(o: dict) -> None:
    c, p, nmp, it = o["compiled"], o["polars"], o["numpy"], o["interpreter"]
    pairs = o["pairs"]
    lines = [f"{o['demandes']:,} demandes, {pairs:,} scored (demande, commune) pairs; "
             f"{o['machine']['cpus']} CPUs, polars threads {p['threads']}, load average "
             f"{o['machine']['load_average_at_start'][0]:.1f} → {o['machine']['load_average_at_end'][0]:.1f}",
             "",
             "| engine | scoring | score + rank | vs polars (score / score+rank) | peak RSS growth (score+rank) | equal to compiled |",
             "|---|---:|---:|---:|---:|:---:|"]

    def row(name, s, sr, mem, eq):
        ratio = (f"{p['score_s'] / s:.1f}× / " if s else "— / ") + f"{p['score_rank_s'] / sr:.1f}×"
        mem_s = f"{mem:.0f} MB" if mem is not None else "—"
        score = f"{s * 1000:,.0f} ms ({pairs / s / 1e6:.1f} M pairs/s)" if s else "—"
        lines.append(f"| {name} | {score} | {sr * 1000:,.0f} ms | {ratio} | {mem_s} | {eq} |")
    row("compiled (2 workers)", c["score_s"], c["score_rank_s"], c["peak_rss_growth_mb"], "—")
    lines.append(f"| compiled, 1 worker | {c['score_1worker_s'] * 1000:,.0f} ms | | | | |")
    row("compiled, encoding from Arrow + score + rank", None, c["encode_score_rank_s"], None, "—")
    lines.append(f"| compiled, ranking alone | | {c['rank_s'] * 1000:,.0f} ms | | | |")
    row("numpy (same encoded columns)", nmp["score_s"], nmp["score_rank_s"], nmp["peak_rss_growth_mb"],
        "yes" if nmp["equal_to_compiled"] else "NO")
    row("polars expressions", p["score_s"], p["score_rank_s"], p["peak_rss_growth_mb"],
        "yes" if p["equal_to_compiled"] else "NO")
    lines.append(f"| interpreter (extrapolated from {it['sample_demandes']:,}) | | {it['extrapolated_score_rank_s']:,.1f} s | "
                 f"{p['score_rank_s'] / it['extrapolated_score_rank_s']:.3f}× | | reference |")
    lines += ["", f"Encoding the Arrow table for the grid (once per dataset): {c['encode_s'] * 1000:,.0f} ms."]
    if "cold_start" in o:
        cs, ws = o["cold_start"], o["warm_start"]
        lines += ["", "| start-up (fresh process) | ready to score | of which: imports (cotation, numpy) | import numba | load grid | kernels | process incl. exit |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, s in (("cold (empty cache: compile)", cs), ("warm (cached kernels)", ws),
                        ("warm, again", o["warm_start_2"])):
            lines.append(f"| {name} | {s['ready']:.2f} s | {s['imports']:.2f} s | {s['numba_import']:.2f} s | "
                         f"{s['load_grid']:.2f} s | {s['kernels']:.2f} s | {s['process']:.2f} s |")
        lines.append(f"| bare `python -c 'import numpy'` | | | | | | {o['python_numpy_floor']:.2f} s |")
    s = o["shortlist"]
    lines += ["", f"Shortlist (k = 10) over {o['demandes']:,} indexed demandes: median {s['median_ms']:.2f} ms, "
              f"p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.2f} ms; rare dwelling {s['rare_dwelling_ms']:.2f} ms; "
              f"index build {s['index_build_s']:.2f} s."]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

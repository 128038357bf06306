"""Seeded synthetic bailleur: patrimoine, conventions, event history and a year of vacancies.

Deterministic for a seed (Python's ``random.Random``, stable across platforms). The year's
orientations are made by the real dispatcher (:func:`dispatch.run_dispatch`), and the
downstream events of each vacancy (designation, CALEOL, refusals, returns, lease) are drawn
from a generator seeded by the vacancy id, so replaying the written files gives the same
decisions. Proportions follow domain.md §3 where it has a figure; the rest are guesses.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from cotation.data.schema import TYPOLOGIES
from cotation.data.table import DemandeTable
from cotation.flux.assiette import compute_assiette
from cotation.flux.conventions import ConventionFile, parse_conventions
from cotation.flux.dispatch import run_dispatch
from cotation.flux.inputs import write_evenements, write_logements
from cotation.flux.model import BAILLEUR, Evenement, Logement
from cotation.flux.plafonds import ceiling
from cotation.flux.rounding import largest_remainder
from cotation.flux.scores_file import ScoreArrays
from cotation.flux.targets import compute_targets

def _cum(table: Sequence[tuple[str, int]]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Keys and cumulative weights, so each draw skips re-accumulating (same draws as weights=)."""
    acc, out = 0, []
    for _, w in table:
        acc += w
        out.append(acc)
    return tuple(k for k, _ in table), tuple(out)


_TYPO = _cum((("chambre", 1), ("T1", 73), ("T2", 202), ("T3", 370), ("T4", 278), ("T5", 65), ("T6P", 11)))
_FIN = _cum((("PLAI", 110), ("PLUS", 770), ("PLS", 90), ("PLI", 20), ("AUTRE", 10)))
_CAT = _cum((("familial", 955), ("foyer", 10), ("residence_sociale", 10), ("etudiant", 20), ("medico_social", 5)))
_STATUS = _cum((("en_service", 975), ("vente", 12), ("demolition", 8), ("reserve_defense", 3), ("reserve_sante", 2)))
_MOTIF = _cum((("DEPART", 815), ("MUTATION", 150), ("ANRU", 20), ("LHI", 5), ("DECES", 10)))
_ROTATION = {"familial": 0.095, "etudiant": 0.45, "foyer": 0.3, "residence_sociale": 0.3, "medico_social": 0.2}
_DECISION = _cum((("attribution", 75), ("attribution_classee", 12), ("attribution_sous_condition", 3),
                  ("non_attribution", 7), ("irrecevable", 3)))


def _pick(rng: random.Random, table: tuple[tuple[str, ...], tuple[int, ...]]) -> str:
    return rng.choices(table[0], cum_weights=table[1])[0]


def _day(rng: random.Random, year: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))


@dataclass(frozen=True)
class SyntheticBailleur:
    """A generated bailleur: what the three input files hold."""

    logements: list[Logement]
    conventions: ConventionFile
    conventions_yaml: str
    events: list[Evenement]
    communes: tuple[str, ...]

    def write(self, outdir: str | Path) -> dict[str, Path]:
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"logements": out / "logements.csv", "conventions": out / "conventions.yaml",
                 "evenements": out / "evenements.csv"}
        write_logements(self.logements, paths["logements"])
        paths["conventions"].write_text(self.conventions_yaml, encoding="utf-8")
        write_evenements(sorted(self.events, key=lambda e: (e.date, e.vacance_id, e.line)), paths["evenements"])
        return paths


def default_communes(departement: str, n: int) -> tuple[str, ...]:
    return tuple(f"{departement}{1 + 7 * i:03d}" for i in range(n))


def generate(seed: int, n_dwellings: int, year: int, *, departement: str = "83",
             communes: Sequence[str] | None = None) -> SyntheticBailleur:
    """A bailleur of ``n_dwellings`` with 3 years of history and the events of ``year``."""
    rng = random.Random(seed)
    communes = tuple(communes) if communes else default_communes(departement, max(3, min(40, n_dwellings // 2000)))
    cweights = [1.0 / (i + 1) for i in range(len(communes))]
    logements: list[Logement] = []
    for i in range(n_dwellings):
        c = rng.choices(range(len(communes)), weights=cweights)[0]
        r = rng.random()
        if r < 0.015:
            mes = _day(rng, year)
        elif r < 0.06:
            mes = _day(rng, year - 1 - int((r - 0.015) / 0.015))
        else:
            mes = _day(rng, rng.randrange(1960, year - 3))
        category = _pick(rng, _CAT)
        logements.append(Logement(
            id=f"L{i + 1:07d}", commune=communes[c], qpv=rng.random() < (0.45 if c == 0 else 0.2),
            typologie=_pick(rng, _TYPO), financement=_pick(rng, _FIN), category=category,
            status=_pick(rng, _STATUS) if mes.year < year else "en_service", mise_en_service=mes,
            pmr=rng.random() < 0.05))
    centre = communes[0]
    cf_data = _conventions(year, departement, centre, logements, rng)
    cf = parse_conventions(cf_data, source="<generate>")
    line = 0
    events: list[Evenement] = []

    def add(**kw) -> Evenement:
        nonlocal line
        line += 1
        e = Evenement(line=line, **kw)
        events.append(e)
        return e

    for y in range(year - 3, year + 1):
        jan1 = dt.date(y, 1, 1)
        for lg in logements:
            if lg.mise_en_service is not None and lg.mise_en_service.year == y:
                vid = f"{lg.id}-{y}-0"
                add(vacance_id=vid, logement_id=lg.id, date=lg.mise_en_service, type="LIBERATION",
                    origine="MISE_EN_SERVICE")
                if y < year:
                    add(vacance_id=vid, logement_id=lg.id, date=lg.mise_en_service + dt.timedelta(days=20),
                        type="BAIL_SIGNE")
                continue
            if not lg.in_stock(jan1) or rng.random() >= _ROTATION[lg.category]:
                continue
            vid = f"{lg.id}-{y}-1"
            date = _day(rng, y)
            u = rng.random()
            sous = "MUTATION" if u < 0.12 else ("ANRU" if u < 0.135 else None)
            add(vacance_id=vid, logement_id=lg.id, date=date, type="LIBERATION", motif=_pick(rng, _MOTIF),
                origine="ROTATION", soustraction=sous)
            if y < year:
                add(vacance_id=vid, logement_id=lg.id, date=date + dt.timedelta(days=rng.randrange(20, 70)),
                    type="BAIL_SIGNE")
    history = list(events)
    lgs = {lg.id: lg for lg in logements}
    assiette = compute_assiette(logements, history, year, cf.settings, departement)
    targets = compute_targets(assiette, lgs, cf)
    delays = {c.reservataire: c.designation_delay_days for c in cf.conventions}

    def downstream(rec: dict, lib: Evenement, lg: Logement) -> list[Evenement]:
        # One generator per vacancy: its story does not depend on the order of decisions.
        vr = random.Random(f"{seed}/{lib.vacance_id}")
        out: list[Evenement] = []
        t = lib.date

        def ev(days: int, typ: str, **kw) -> dt.date:
            nonlocal t
            t = t + dt.timedelta(days=days)
            out.append(add(vacance_id=lib.vacance_id, logement_id=lg.id, date=t, type=typ, **kw))
            return t

        cand = iter(f"{lib.vacance_id}/c{i}" for i in range(1, 10))
        if rec["type"] in ("hors_flux", "soustraction"):
            ev(vr.randrange(15, 60), "BAIL_SIGNE")
            return out
        r = rec["choice"]
        ev(0, "MISE_A_DISPOSITION", reservataire=r)
        if r != BAILLEUR and vr.random() < 0.06:
            ev(delays.get(r, 30), "DEFAUT_DESIGNATION", reservataire=r)
            r = BAILLEUR
        elif r != BAILLEUR:
            ev(vr.randrange(3, delays.get(r, 30)), "DESIGNATION", reservataire=r, candidat=next(cand))
        decision = _pick(vr, _DECISION)
        c1 = next(cand)
        ev(vr.randrange(5, 20), "PRESENTATION_CALEOL", reservataire=r, candidat=c1, decision=decision)
        if decision in ("non_attribution", "irrecevable"):
            if r != BAILLEUR:
                ev(vr.randrange(1, 5), "RETOUR_BAILLEUR", reservataire=r)
            ev(vr.randrange(7, 20), "PRESENTATION_CALEOL", reservataire=BAILLEUR, candidat=next(cand),
               decision="attribution")
            ev(vr.randrange(7, 25), "BAIL_SIGNE", reservataire=BAILLEUR)
            return out
        if vr.random() < 0.12:
            ev(vr.randrange(3, 10), "REFUS", reservataire=r, candidat=c1, adapte=vr.random() < 0.5)
            if decision == "attribution_classee":
                ev(vr.randrange(5, 15), "BAIL_SIGNE", reservataire=r, candidat=next(cand))
            elif r == BAILLEUR or vr.random() < 0.5:
                if r != BAILLEUR:
                    ev(vr.randrange(1, 5), "MISE_A_DISPOSITION", reservataire=r)
                ev(vr.randrange(7, 20), "PRESENTATION_CALEOL", reservataire=r, candidat=next(cand),
                   decision="attribution")
                ev(vr.randrange(7, 25), "BAIL_SIGNE", reservataire=r)
            else:
                ev(vr.randrange(1, 3), "RETOUR_BAILLEUR", reservataire=r)
                ev(vr.randrange(7, 20), "PRESENTATION_CALEOL", reservataire=BAILLEUR, candidat=next(cand),
                   decision="attribution")
                ev(vr.randrange(7, 25), "BAIL_SIGNE", reservataire=BAILLEUR)
            return out
        ev(vr.randrange(7, 25), "BAIL_SIGNE", reservataire=r, candidat=c1)
        return out

    year_events = [e for e in history if e.date.year == year]
    run_dispatch(lgs, year_events, cf, targets, assiette.excluded, year, on_decision=downstream,
                 departement=departement)
    text = yaml.safe_dump(cf_data, sort_keys=False, allow_unicode=True, width=100)
    return SyntheticBailleur(logements, cf, text, events, communes)


def _conventions(year: int, departement: str, centre: str, logements: Sequence[Logement],
                 rng: random.Random) -> dict:
    start, end, signed = f"{year - 1}-01-01", f"{year + 1}-12-31", f"{year - 2}-11-20"

    def conv(cid: str, rid: str, pct: int, step: str, **kw) -> dict:
        out = {"id": cid, "reservataire": rid, "perimeter": {"departement": departement}, "percentage": pct,
               "decompte": step, "designation_delay_days": 30, "management": "direct",
               "start": start, "end": end, "signed_on": signed}
        out.update(kw)
        return out

    programmes = []
    new_by_commune: dict[str, list[str]] = {}
    for lg in logements:
        new = lg.mise_en_service is not None and lg.mise_en_service.year == year
        if new and lg.financement in ("PLAI", "PLUS", "PLS"):
            new_by_commune.setdefault(lg.commune, []).append(lg.id)
    for commune, ids in sorted(new_by_commune.items()):
        local = "COMMUNE" if commune == centre else "DEPARTEMENT"
        split = largest_remainder(len(ids), {"ACTION_LOGEMENT": 40, "ETAT_PRIO": 30, local: 20, BAILLEUR: 10})
        programmes.append({"id": f"P{year}-{commune}", "logements": ids,
                           "repartition": {k: v for k, v in split.items()}})
    return {
        "version": 1,
        "config_version": f"synthetique-{year}",
        "bailleur": {"id": "OLS-SYNTH", "nom": "Bailleur synthétique", "departement": departement,
                     "decompte": "mise_a_disposition"},
        "settings": {
            "qpv_reading": "A",
            "rotation": {"numerator": "departures", "exclude_departures": ["MUTATION", "ANRU"],
                         "base_date": "end_of_prev_year", "window_years": 1},
            "soustractions": {"MUTATION": {"mean_years": 3}, "ANRU": {"mean_years": 3}},
            "dispatch": {"segment_by": [], "enforce_segment_quotas": False, "k": 3},
        },
        "reservataires": [
            {"id": "ETAT_PRIO", "nom": "Préfet — publics prioritaires", "type": "ETAT_PRIO"},
            {"id": "ETAT_AGENTS", "nom": "Préfet — agents de l'État", "type": "ETAT_AGENTS"},
            {"id": "ACTION_LOGEMENT", "nom": "Action Logement Services", "type": "ACTION_LOGEMENT"},
            {"id": "DEPARTEMENT", "nom": "Conseil départemental", "type": "COLLECTIVITE"},
            {"id": "COMMUNE", "nom": f"Commune {centre}", "type": "COLLECTIVITE"},
        ],
        "conventions": [
            conv("CONV-ETAT-PRIO", "ETAT_PRIO", 25, "attribution", management="delegue",
                 signed_on=f"{year - 2}-11-02"),
            conv("CONV-ETAT-AGENTS", "ETAT_AGENTS", 5, "bail_signe", signed_on=f"{year - 2}-11-02"),
            conv("CONV-AL", "ACTION_LOGEMENT", 30, "bail_signe"),
            conv("CONV-DEPARTEMENT", "DEPARTEMENT", 3, "mise_a_disposition", garantie_emprunt=True),
            conv("CONV-COMMUNE", "COMMUNE", 12, "mise_a_disposition", garantie_emprunt=True,
                 perimeter={"departement": departement, "communes": [centre], "kind": "commune"},
                 exclusions={"typologie": ["T6P"]}),
        ],
        "programmes": programmes,
    }


# ----------------------------------------------------------------------------- demandes

def generate_demandes(seed: int, n: int, communes: Sequence[str], year: int, *,
                      departement: str = "83") -> DemandeTable:
    """Canonical demandes for shortlist tests and benchmarks (numpy draws; cotation.data.synth is the
    product's generator). Extra column ``pools`` labels Action Logement, agents and collectivité
    applicants."""
    g = np.random.default_rng(seed)
    ref = dt.date(year, 1, 1).toordinal()
    kind = g.choice(4, size=n, p=[0.45, 0.25, 0.28, 0.02])
    kids = np.where(kind == 1, g.integers(1, 4, n), np.where(kind == 2, g.integers(0, 5, n), 0))
    adults = np.where(kind == 0, 1, np.where(kind == 1, 1, np.where(kind == 2, 2, g.integers(3, 6, n))))
    persons = adults + kids
    # Wanted typologie from the household size, sometimes with the next one up.
    base_t = np.clip(np.where(persons == 1, 1, persons), 1, 6)
    base_t = np.where((persons == 1) & (g.random(n) < 0.02), 0, base_t)
    bits = (1 << base_t) | np.where(g.random(n) < 0.5, 1 << np.minimum(base_t + 1, 6), 0)
    wait = np.minimum(g.lognormal(np.log(420), 0.9, n), 365 * 12).astype(np.int64)
    depot = ref - wait
    age = g.integers(19, 80, n)
    birth = ref - age * 365 - g.integers(0, 365, n)
    age2 = np.clip(age + g.integers(-6, 7, n), 18, 90)
    birth2 = ref - age2 * 365 - g.integers(0, 365, n)
    band = g.random(n)
    cats = np.minimum(np.where(persons == 1, 1, np.where(adults == 1, kids + 2, persons)), 6)
    plai = np.array([0] + [ceiling(year, "PLAI", "autres", c) for c in range(1, 7)])
    plus = np.array([0] + [ceiling(year, "PLUS", "autres", c) for c in range(1, 7)])
    rfr = np.where(band < 0.75, plai[cats] * g.uniform(0.2, 1.0, n),
                   np.where(band < 0.95, g.uniform(plai[cats], plus[cats]), plus[cats] * g.uniform(1.0, 1.4, n)))
    rfr = rfr.astype(np.int64)
    missing_rfr = g.random(n) < 0.05
    nloc = g.integers(1, 5, n)
    w = np.array([1.0 / (i + 1) for i in range(len(communes))])
    w /= w.sum()
    loc_draw = g.choice(len(communes), size=(n, 4), p=w)
    pool_draw = g.random((n, 3))
    prio = g.random(n) < 0.08
    dalo = g.random(n) < 0.03
    handicap = g.random(n) < 0.05
    mutation = g.random(n) < 0.32
    dates = lambda arr: [dt.date.fromordinal(int(x)) for x in arr]  # noqa: E731
    typ_sets = {}
    cols = {
        "numero_unique": [f"{departement}{year % 100:02d}{i:013d}G" for i in range(n)],
        "date_depot": dates(depot),
        "est_mutation": mutation.tolist(),
        "nb_personnes": persons.tolist(),
        "nb_adultes": adults.tolist(),
        "nb_enfants": kids.tolist(),
        "nb_personnes_handicap": handicap.astype(int).tolist(),
        "date_naissance": dates(birth),
        "date_naissance_conjoint": [d if a == 2 else None for d, a in zip(dates(birth2), adults.tolist())],
        "revenu_fiscal_reference": [None if m else int(v) for v, m in zip(rfr.tolist(), missing_rfr.tolist())],
        "ressources_mensuelles": [None if m else round(v * 1.1 / 12, 2)
                                  for v, m in zip(rfr.tolist(), missing_rfr.tolist())],
        "typologies": [typ_sets.setdefault(b, frozenset(TYPOLOGIES[t] for t in range(7) if b >> t & 1))
                       for b in bits.tolist()],
        "localisations": [tuple(dict.fromkeys(communes[j] for j in row[:k]))
                          for row, k in zip(loc_draw.tolist(), nloc.tolist())],
        "dalo_statut": ["actif" if d else "non" for d in dalo.tolist()],
        "prioritaire": prio.tolist(),
    }
    labels = ("ACTION_LOGEMENT", "ETAT_AGENTS", "COLLECTIVITE")
    thresholds = (0.35, 0.04, 0.2)
    pools = ["|".join(lab for lab, th, u in zip(labels, thresholds, row) if u < th) or None
             for row in pool_draw.tolist()]
    return DemandeTable(cols, {"pools": pools})


def synthetic_scores(table: DemandeTable, year: int, seed: int = 0) -> ScoreArrays:
    """A stand-in for ``cotation score``: points from ancienneté and priority, rank per commune."""
    g = np.random.default_rng(seed)
    n = len(table)
    ref = dt.date(year, 1, 1).toordinal()
    depot = np.array([d.toordinal() for d in table.columns["date_depot"]], dtype=np.int64)
    pts = ((ref - depot) // 30 + 40 * np.array(table.columns["prioritaire"], dtype=bool)
           + 60 * np.array([d == "actif" for d in table.columns["dalo_statut"]], dtype=bool)
           + g.integers(0, 25, n)).astype(np.float64)
    locs = table.columns["localisations"]
    lengths = np.array([len(l) for l in locs], dtype=np.int64)
    dem = np.repeat(np.arange(n), lengths)
    com = np.array([c for l in locs for c in l], dtype=str)
    nu = np.array(table.columns["numero_unique"], dtype=str)
    score = pts[dem]
    order = np.lexsort((nu[dem], depot[dem], -score, com))
    dem, com, score = dem[order], com[order], score[order]
    starts = np.r_[0, np.flatnonzero(com[1:] != com[:-1]) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(com)]))
    rank = np.arange(len(com)) - group_start + 1
    return ScoreArrays(nu[dem], com, score, score.copy(), rank.astype(np.int64))

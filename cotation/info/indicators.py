"""Demand indicators per territory (seed Franche-Comté 2020, "Quelques éléments statistiques").

Per EPCI, commune or département: the number of demandes filed by ``today``, the share of
mutations (demandeurs already in social housing) and of external demandes, the share of
demandes under 12 months old, and the mean delay of attribution in months over the
attributions given (date of attribution − date of filing). A demande belongs to the territory of
its first localisation (the commune it asks first), else of its commune of residence; an
attribution to the territory of its dwelling's commune. Territories come from the commune table
(``cotation.data.communes``).

Months: a demande is under 12 months old when ``today`` is before the same day twelve months
after its filing; a delay in months is its number of days ÷ 30.4375 (365.25 / 12). Shares and
means are exact fractions; the report rounds them half up (shares to the unit, as the seed).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotation.data.communes import communes
from cotation.data.table import AttributionTable, DemandeTable

LEVELS = ("epci", "commune", "departement")
_DAYS_PER_MONTH = Fraction(1461, 48)   # 365.25 / 12
UNKNOWN = "inconnu"


def _round(x: Fraction, digits: int) -> str:
    """``x`` with ``digits`` decimals, halves away from zero (-6400/487 → -13.1 with 1 digit).

    >>> _round(Fraction(-6400, 487), 1), _round(Fraction(1, 20), 1), _round(Fraction(-1, 20), 1)
    ('-13.1', '0.1', '-0.1')
    """
    sign, x = ("-" if x < 0 else ""), abs(x)
    scaled = x * 10 ** digits
    n = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return sign + (f"{n // 10 ** digits}.{n % 10 ** digits:0{digits}d}" if digits else str(n))


def attributed_before_deposit(attributions: Any) -> int:
    """How many leases of ``attributions`` are dated before their demande's deposit: a data
    error, left out of the delays (as the waiting times of ``position`` and ``statements``)."""
    if attributions is None or not len(attributions):
        return 0
    ac = attributions.columns
    a_depot, a_date = _dates(ac["date_depot"]), _dates(ac["date_attribution"])
    return int(np.count_nonzero(~np.isnat(a_depot) & ~np.isnat(a_date) & (a_date < a_depot)))


def territory_of(codes: np.ndarray, level: str) -> tuple[np.ndarray, dict[str, str]]:
    """Territory code of each commune code (vectorised over the distinct codes) and the names."""
    table = communes()
    uniq, inv = np.unique(codes.astype(str), return_inverse=True)
    keys, names = [], {}
    for c in uniq:
        com = table.get(c)
        if com is None:
            keys.append(UNKNOWN)
            names[UNKNOWN] = "commune inconnue ou absente"
            continue
        key, name = {"epci": (com.epci or f"hors EPCI {com.departement}", com.epci_nom or "hors EPCI"),
                     "commune": (com.code, com.nom),
                     "departement": (com.departement, com.departement)}[level]
        keys.append(key)
        names[key] = name
    return np.asarray(keys, dtype=object)[inv], names


def _dates(values: Sequence[dt.date | None]) -> np.ndarray:
    """datetime64[D] column (NaT for missing), converted by pyarrow in one call."""
    return pa.array(values, type=pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")


def _first_commune(localisations: Sequence, residence: Sequence) -> np.ndarray:
    """First localisation of each demande, else its commune of residence ("" when neither)."""
    locs = pa.array(localisations, type=pa.list_(pa.string()))
    head = pc.list_slice(locs, 0, 1)
    out = np.asarray(pc.fill_null(pa.array(residence, type=pa.string()), "").to_numpy(zero_copy_only=False),
                     dtype=object)
    out[np.asarray(pc.list_parent_indices(head))] = np.asarray(pc.list_flatten(head), dtype=object)
    return out


def _minus_12_months(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 1, day=28)


@dataclass(frozen=True)
class TerritoryStats:
    code: str
    nom: str
    demandes: int
    mutations: int
    moins_12_mois: int
    attributions: int
    delai_jours: int           # total days from filing to attribution

    def row(self) -> dict[str, str]:
        d = self.demandes
        mut = Fraction(self.mutations, d) if d else None
        young = Fraction(self.moins_12_mois, d) if d else None
        mean = Fraction(self.delai_jours, self.attributions) / _DAYS_PER_MONTH if self.attributions else None
        pct = lambda x: "" if x is None else _round(100 * x, 0)  # noqa: E731
        return {"territoire": self.code, "nom": self.nom, "demandes": str(d), "mutations": str(self.mutations),
                "part_mutations": pct(mut), "part_externes": pct(None if mut is None else 1 - mut),
                "moins_12_mois": str(self.moins_12_mois), "part_moins_12_mois": pct(young),
                "attributions": str(self.attributions),
                "delai_moyen_mois": "" if mean is None else _round(mean, 1),
                "delai_moyen_mois_exact": "" if mean is None else str(mean)}


    def json_row(self) -> dict[str, Any]:
        """The row with JSON types: counts and percentages as integers, the mean delay as a
        number (1 decimal), codes, names and the exact fraction as text, null when unknown."""
        out: dict[str, Any] = {}
        for k, v in self.row().items():
            if v == "" and k not in ("territoire", "nom"):
                out[k] = None
            elif k in ("territoire", "nom", "delai_moyen_mois_exact"):
                out[k] = v
            else:
                out[k] = float(v) if k == "delai_moyen_mois" else int(v)
        return out


def demand_indicators(demandes: DemandeTable, attributions: AttributionTable | None, today: dt.date,
                      level: str = "epci") -> list[TerritoryStats]:
    """Indicators per territory, sorted by territory code."""
    if level not in LEVELS:
        raise ValueError(f"niveau {level!r} inconnu ({', '.join(LEVELS)})")
    cols = demandes.columns
    depot = _dates(cols["date_depot"])
    filed = ~np.isnat(depot) & (depot <= np.datetime64(today, "D"))
    terr, names = territory_of(_first_commune(cols["localisations"], cols["commune_residence"]), level)
    mutation = pc.fill_null(pa.array(cols["est_mutation"], type=pa.bool_()), False).to_numpy(zero_copy_only=False)
    young = filed & (depot > np.datetime64(_minus_12_months(today), "D"))
    keys = sorted(set(terr[filed].tolist()))
    a_terr = np.empty(0, dtype=object)
    a_days = np.empty(0, dtype=np.int64)
    if attributions is not None and len(attributions):
        ac = attributions.columns
        a_depot, a_date = _dates(ac["date_depot"]), _dates(ac["date_attribution"])
        ok = ~np.isnat(a_depot) & ~np.isnat(a_date) & (a_date <= np.datetime64(today, "D")) \
            & (a_date >= a_depot)          # a lease before its deposit is a data error
        communes_ = pc.fill_null(pa.array(ac["commune"], type=pa.string()), "").to_numpy(zero_copy_only=False)
        t, n2 = territory_of(np.asarray(communes_, dtype=object), level)
        names.update(n2)
        a_terr, a_days = t[ok], (a_date[ok] - a_depot[ok]).astype(np.int64)
        keys = sorted(set(keys) | set(a_terr.tolist()))
    out = []
    for k in keys:
        m = filed & (terr == k)
        am = a_terr == k
        out.append(TerritoryStats(k, names.get(k, k), int(m.sum()), int((m & mutation).sum()),
                                  int((m & young).sum()), int(am.sum()), int(a_days[am].sum())))
    return out


def report_text(stats: Sequence[TerritoryStats], today: dt.date, level: str) -> str:
    """A short French report (Markdown), one table row per territory."""
    label = {"epci": "EPCI", "commune": "Commune", "departement": "Département"}[level]
    lines = [f"# Indicateurs de la demande au {today.strftime('%d/%m/%Y')}", "",
             "Demandes déposées à cette date, rattachées au territoire de leur premier choix de commune; "
             "délais d'attribution sur les attributions fournies (date d'attribution − date de dépôt, "
             "en mois de 30,44 jours).", "",
             f"| {label} | Demandes | dont mutations | dont externes | Demandes < 12 mois | "
             "Délai moyen d'attribution (mois) |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in stats:
        r = s.row()
        pct = lambda v: f"{v} %" if v else "–"  # noqa: E731
        name = r["territoire"] if r["nom"] == r["territoire"] else f"{r['nom']} ({r['territoire']})"
        lines.append(f"| {name} | {s.demandes} | {pct(r['part_mutations'])} | "
                     f"{pct(r['part_externes'])} | {pct(r['part_moins_12_mois'])} | "
                     f"{r['delai_moyen_mois'].replace('.', ',') or '–'} |")
    return "\n".join(lines) + "\n"

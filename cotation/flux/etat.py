"""État des lieux des réservations (flux.md §12; seeds PACA 2023, Occitanie 2023, Franche-Comté 2020).

The inventory that starts every negotiation: the stock by current réservataire (gestion en
stock, optional ``reservataire_stock`` column; empty = not reserved) broken down by financement,
typologie, QPV, commune, EPCI (from the commune table) and collectif / individuel, each with its
share, and the rotation rate of each réservataire's stock. Shares are exact fractions, shown
rounded half up.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

from cotation.data.communes import epci_of
from cotation.flux.model import Evenement, Logement
from cotation.flux.rounding import dec_display

ALL = "TOUS"
NON_RESERVE = "NON_RESERVE"
ETAT_DIMENSIONS = ("financement", "typologie", "qpv", "commune", "epci", "collectif")
# Departure motifs left out of the rotation numerator (flux.md §4 default, Occitanie).
DEFAULT_EXCLUDED_MOTIFS = frozenset({"MUTATION", "ANRU"})


def _value(lg: Logement, dim: str, epci: Mapping[str, str]) -> str:
    if dim == "qpv":
        return "QPV" if lg.qpv else "hors QPV"
    if dim == "epci":
        return epci.get(lg.commune) or "hors EPCI"
    if dim == "collectif":
        return {True: "collectif", False: "individuel", None: "non renseigné"}[lg.collectif]
    return str(lg.attr(dim))


@dataclass(frozen=True)
class EtatDesLieux:
    date: dt.date | None
    reservataires: tuple[str, ...]
    counts: dict[str, dict[str, dict[str, int]]]      # réservataire → dimension → value → dwellings
    totals: dict[str, int]
    rotation: dict[str, dict] | None

    def rows(self) -> list[dict[str, str]]:
        out = []
        for r in (ALL, *self.reservataires):
            total = self.totals[r]
            for dim in ETAT_DIMENSIONS:
                for value, n in self.counts[r][dim].items():
                    share = Fraction(n, total) if total else Fraction(0)
                    out.append({"reservataire": r, "dimension": dim, "valeur": value, "logements": str(n),
                                "part": str(share), "part_affichee": dec_display(share * 100, 0) + " %",
                                "part_2d": dec_display(share * 100, 2)})
        return out

    def as_dict(self) -> dict:
        return {"date": None if self.date is None else self.date.isoformat(),
                "logements": self.totals[ALL],
                "par_reservataire": {r: self.totals[r] for r in self.reservataires},
                "ventilations": {r: {dim: {v: {"logements": n,
                                               "part": dec_display(Fraction(n, self.totals[r]) * 100, 0) + " %"}
                                           for v, n in self.counts[r][dim].items()}
                                     for dim in ETAT_DIMENSIONS}
                                 for r in (ALL, *self.reservataires)},
                "rotation_par_reservataire": self.rotation}


def _sort_key(dim: str, value: str) -> tuple:
    return (value == "non renseigné", value)


def etat_des_lieux(logements: Sequence[Logement], *, on: dt.date | None = None,
                   events: Iterable[Evenement] = (), rotation_year: int | None = None,
                   excluded_motifs: frozenset[str] = DEFAULT_EXCLUDED_MOTIFS) -> EtatDesLieux:
    """Inventory of the dwellings in stock on ``on`` (all rows when None); with ``rotation_year``,
    the rotation of each réservataire's stock that year: departures (origine ROTATION, motifs
    other than ``excluded_motifs``) ÷ its dwellings in stock on 31 December of that year."""
    stock = [lg for lg in logements if on is None or lg.in_stock(on)]
    epci = epci_of({lg.commune for lg in stock})
    res = sorted({lg.reservataire_stock or NON_RESERVE for lg in stock}, key=lambda r: (r == NON_RESERVE, r))
    counts = {r: {d: {} for d in ETAT_DIMENSIONS} for r in (ALL, *res)}
    totals = {r: 0 for r in (ALL, *res)}
    for lg in stock:
        r = lg.reservataire_stock or NON_RESERVE
        for who in (ALL, r):
            totals[who] += 1
            for dim in ETAT_DIMENSIONS:
                v = _value(lg, dim, epci)
                counts[who][dim][v] = counts[who][dim].get(v, 0) + 1
    counts = {r: {d: dict(sorted(vals.items(), key=lambda kv: _sort_key(d, kv[0]))) for d, vals in dims.items()}
              for r, dims in counts.items()}
    rotation = None
    if rotation_year is not None:
        rotation = _rotation(logements, events, rotation_year, excluded_motifs, res)
    return EtatDesLieux(on, tuple(res), counts, totals, rotation)


def _rotation(logements: Sequence[Logement], events: Iterable[Evenement], year: int,
              excluded: frozenset[str], res: Sequence[str]) -> dict[str, dict]:
    of = {lg.id: lg.reservataire_stock or NON_RESERVE for lg in logements}
    dec31 = dt.date(year, 12, 31)
    den = {r: 0 for r in (ALL, *res)}
    for lg in logements:
        if lg.in_stock(dec31):
            den[ALL] += 1
            den[of[lg.id]] = den.get(of[lg.id], 0) + 1
    num = {r: 0 for r in den}
    for e in events:
        if (e.type == "LIBERATION" and e.date.year == year and e.origine != "MISE_EN_SERVICE"
                and (e.motif or "DEPART") not in excluded and e.logement_id in of):
            num[ALL] += 1
            num[of[e.logement_id]] = num.get(of[e.logement_id], 0) + 1
    return {r: {"annee": year, "departs": num[r], "logements": den[r],
                "taux": str(Fraction(num[r], den[r])) if den[r] else None,
                "taux_affiche": dec_display(Fraction(num[r] * 100, den[r]), 2) + " %" if den[r] else None}
            for r in den}

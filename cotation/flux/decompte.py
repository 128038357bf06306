"""Décompte (flux.md §10): which réservataire a vacancy is charged to, when, and at which step.

The unit is the vacancy (dwelling × cycle), charged at most once: to the réservataire of the
first event matching *its* convention's step, at that event's date (the date decides the year).
A default of designation charges at the deadline whatever the step, when enabled.

Management (flux.md §9, seed Occitanie 2023): in direct management the réservataire designates;
in delegated management the bailleur designates *for* the réservataire, so the candidate events
the bailleur records while such a réservataire holds the vacancy count for that réservataire.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from cotation.flux.model import ATTRIBUTION_DECISIONS, BAILLEUR, Evenement

_HOLDER_EVENTS = frozenset({"DESIGNATION", "PRESENTATION_CALEOL", "REFUS", "BAIL_SIGNE"})


@dataclass(frozen=True)
class Charge:
    vacance_id: str
    reservataire: str
    date: dt.date
    step: str          # the step matched, or "defaut_designation" / "refus_adapte"
    line: int


def resolve_holders(events: Sequence[Evenement], delegated: frozenset[str] = frozenset()) -> list[Evenement]:
    """Fill the réservataire of candidate events from the current holder of the vacancy.

    The holder is the réservataire of the last mise à disposition; after a return or a default
    of designation the bailleur presents its own candidates. While a réservataire in
    ``delegated`` management holds the vacancy, candidate events recorded by the bailleur are
    made on its behalf and count for it.
    """
    holder: str | None = None
    out = []
    for e in events:
        if e.type in _HOLDER_EVENTS and (e.reservataire is None
                                         or (e.reservataire == BAILLEUR and holder in delegated)):
            e = replace(e, reservataire=holder or BAILLEUR)
        out.append(e)
        if e.type == "MISE_A_DISPOSITION":
            holder = e.reservataire
        elif e.type in ("RETOUR_BAILLEUR", "DEFAUT_DESIGNATION"):
            holder = BAILLEUR
    return out


def charge_vacancy(events: Sequence[Evenement], step_of: Mapping[str, str] | str, *,
                   defaut_designation: bool = True, refus_adapte: bool = False,
                   default_step: str = "mise_a_disposition",
                   delegated: frozenset[str] = frozenset()) -> Charge | None:
    """The charge of one vacancy, from its events in (date, line) order.

    ``step_of`` maps réservataire → step, or is one step applied to everybody (the bilan's
    four columns); ``delegated``: réservataires in delegated management.
    """
    for e in resolve_holders(events, delegated):
        r = e.reservataire
        if r is None:
            continue
        step = step_of if isinstance(step_of, str) else step_of.get(r, default_step)
        t = e.type
        if t == "DEFAUT_DESIGNATION" and defaut_designation:
            return Charge(e.vacance_id, r, e.date, "defaut_designation", e.line)
        if ((t == "MISE_A_DISPOSITION" and step == "mise_a_disposition")
                or (t == "PRESENTATION_CALEOL" and step == "proposition_caleol")
                or (t == "PRESENTATION_CALEOL" and step == "attribution" and e.decision in ATTRIBUTION_DECISIONS)
                or (t == "BAIL_SIGNE" and step == "bail_signe")):
            return Charge(e.vacance_id, r, e.date, step, e.line)
        if t == "REFUS" and e.adapte and refus_adapte and step == "bail_signe":
            return Charge(e.vacance_id, r, e.date, "refus_adapte", e.line)
    return None


def charges(vacancies: Mapping[str, Sequence[Evenement]], step_of: Mapping[str, str] | str, *,
            defaut_designation: bool = True, refus_adapte: bool = False,
            default_step: str = "mise_a_disposition") -> dict[str, Charge | None]:
    """Charge of every vacancy (``None`` when not, or not yet, charged)."""
    return {vid: charge_vacancy(evs, step_of, defaut_designation=defaut_designation,
                                refus_adapte=refus_adapte, default_step=default_step)
            for vid, evs in vacancies.items()}


def charges_by_year(charged: Iterable[Charge | None]) -> dict[int, dict[str, int]]:
    """{year: {réservataire: count}}: the event date decides the year."""
    out: dict[int, dict[str, int]] = {}
    for c in charged:
        if c is not None:
            y = out.setdefault(c.date.year, {})
            y[c.reservataire] = y.get(c.reservataire, 0) + 1
    return out


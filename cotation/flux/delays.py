"""Designation delays (flux.md §10; seeds Occitanie and PACA 2023): deadlines, defaults, échéances.

Each mise à disposition to a réservataire starts the delays of its convention: a *réponse*
(can it present candidates? Occitanie: 5 jours ouvrés), a *désignation* (complete files:
10 jours calendaires, or 1 mois with three months' notice), a *validation* of the mise à
disposition (PACA, DDETS 13: 5 days); a *transmission* runs backwards from the mise en
service of a new dwelling (details sent 3 months before). Jours ouvrés skip Saturdays,
Sundays and French public holidays, taken from the ``holidays`` library (with Alsace-Moselle
and overseas départements' own days). A deadline counted in calendar days or months that falls
on a Saturday, Sunday or public holiday is not moved by default: neither flux.md nor the seeds
say so. The setting ``delais.report_jour_non_ouvre: jour_ouvre_suivant`` moves it to the next
working day (the rule of art. 642 of the code de procédure civile), or, for a ``transmission``
counted backwards from a mise en service, to the previous working day (never later than due).

A designation deadline that passes with no designation derives a ``DEFAUT_DESIGNATION`` event
at the deadline (flagged ``derived``), unless an explicit one exists for that réservataire in
the vacancy (the explicit event wins), or the réservataire handed the dwelling back, or its
management is delegated (the bailleur designates for it, §9).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import holidays

from cotation.flux.conventions import ConventionFile
from cotation.flux.decompte import resolve_holders
from cotation.flux.model import Convention, Delai, Evenement, Logement

# Events by the réservataire that meet a delay of each kind.
_MEETS = {
    "reponse": frozenset({"DESIGNATION", "PRESENTATION_CALEOL", "RETOUR_BAILLEUR", "VALIDATION", "BAIL_SIGNE",
                          "DEFAUT_DESIGNATION"}),
    "designation": frozenset({"DESIGNATION", "PRESENTATION_CALEOL", "BAIL_SIGNE"}),
    "validation": frozenset({"VALIDATION"}),
}
_SUBDIV = {"57": "57", "67": "6AE", "68": "6AE", "971": "971", "972": "972", "973": "973", "974": "974",
           "976": "976"}
STATUSES = ("respecte", "hors_delai", "a_venir", "depasse", "retour_bailleur")


@lru_cache(maxsize=64)
def public_holidays(year: int, departement: str | None = None) -> frozenset[dt.date]:
    """French public holidays of ``year`` (with the département's local days)."""
    subdiv = _SUBDIV.get(departement or "")
    return frozenset(holidays.France(years=year, subdiv=subdiv).keys())


def is_working_day(d: dt.date, departement: str | None = None) -> bool:
    return d.weekday() < 5 and d not in public_holidays(d.year, departement)


def add_months(d: dt.date, n: int) -> dt.date:
    """Same day ``n`` months later (or earlier), clamped to the month's last day."""
    m = d.month - 1 + n
    y, m = d.year + m // 12, m % 12 + 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def deadline(start: dt.date, delai: Delai, departement: str | None = None, roll: str = "aucun") -> dt.date:
    """The deadline of ``delai`` counted from ``start`` (backwards for ``transmission``).

    Jours ouvrés: the ``duree``-th working day after ``start``. Calendar days and months:
    with ``roll="jour_ouvre_suivant"`` a deadline on a non-working day moves to the next
    working day (the previous one when counting backwards).

    >>> from cotation.flux.model import Delai
    >>> deadline(dt.date(2025, 4, 17), Delai("r", "reponse", 5, "jours_ouvres"))  # Easter Monday skipped
    datetime.date(2025, 4, 25)
    """
    sign = -1 if delai.kind == "transmission" else 1
    if delai.unite in ("mois", "jours_calendaires"):
        d = (add_months(start, sign * delai.duree) if delai.unite == "mois"
             else start + dt.timedelta(days=sign * delai.duree))
        if roll == "jour_ouvre_suivant":
            while not is_working_day(d, departement):
                d += dt.timedelta(days=sign)
        return d
    d, left = start, delai.duree
    while left:
        d += dt.timedelta(days=sign)
        if is_working_day(d, departement):
            left -= 1
    return d


@dataclass(frozen=True)
class Echeance:
    """One deadline of one mise à disposition and where it stands on ``today``."""

    vacance_id: str
    logement_id: str
    reservataire: str
    convention: str
    delai: str
    kind: str
    duree: str
    start: dt.date
    due: dt.date
    met_on: dt.date | None
    status: str
    remaining: int | None       # calendar days left (a_venir), else None
    line: int

    def row(self) -> dict[str, str]:
        return {"vacance_id": self.vacance_id, "logement_id": self.logement_id,
                "reservataire": self.reservataire, "convention": self.convention, "delai": self.delai,
                "type": self.kind, "duree": self.duree, "depart": self.start.isoformat(),
                "echeance": self.due.isoformat(), "satisfait_le": self.met_on.isoformat() if self.met_on else "",
                "statut": self.status, "jours_restants": "" if self.remaining is None else str(self.remaining),
                "ligne": str(self.line)}


_UNIT_FR = {"jours_ouvres": "jours ouvrés", "jours_calendaires": "jours calendaires", "mois": "mois"}


def _conventions_by_reservataire(cf: ConventionFile, on: dt.date) -> dict[str, Convention]:
    out: dict[str, Convention] = {}
    for c in cf.conventions:
        if c.in_force(on):
            out.setdefault(c.reservataire, c)
    return out


def vacancy_deadlines(evs: Sequence[Evenement], lg: Logement, cf: ConventionFile,
                      today: dt.date) -> list[Echeance]:
    """Deadlines of one vacancy's mises à disposition, judged with the events up to ``today``."""
    known = [e for e in resolve_holders(evs, cf.delegated(today)) if e.date <= today]
    lib = next((e for e in known if e.type == "LIBERATION"), None)
    origine = lib.origine if lib is not None else None
    preavis = next((e.preavis_mois for e in known if e.preavis_mois is not None), None)
    out: list[Echeance] = []
    seen: set[str] = set()
    roll = cf.settings.deadline_roll
    for mad in known:
        if mad.type != "MISE_A_DISPOSITION" or mad.reservataire in seen:
            continue
        seen.add(mad.reservataire)  # a new MAD to the same réservataire in the cycle restarts nothing
        conv = _conventions_by_reservataire(cf, mad.date).get(mad.reservataire)
        if conv is None:
            continue
        later = [e for e in known if (e.date, e.line) >= (mad.date, mad.line) and e is not mad
                 and e.reservataire == mad.reservataire and not e.derived]
        returned = next((e.date for e in later if e.type == "RETOUR_BAILLEUR"), None)
        for d in conv.delais:
            if not d.applies(origine, preavis):
                continue
            if d.kind == "designation" and conv.management == "delegue":
                continue  # the bailleur designates on the réservataire's behalf
            if d.kind == "transmission":
                if lg.mise_en_service is None:
                    continue
                due = deadline(lg.mise_en_service, d, lg.departement, roll)
                met: dt.date | None = mad.date
            else:
                due = deadline(mad.date, d, lg.departement, roll)
                met = next((e.date for e in later if e.type in _MEETS[d.kind]), None)
            if met is not None:
                status = "respecte" if met <= due else "hors_delai"
            elif d.kind == "designation" and returned is not None and returned <= due:
                status = "retour_bailleur"
            else:
                status = "a_venir" if today <= due else "depasse"
            out.append(Echeance(mad.vacance_id, lg.id, mad.reservataire, conv.id, d.nom, d.kind,
                                f"{d.duree} {_UNIT_FR[d.unite]}", lg.mise_en_service if d.kind == "transmission"
                                else mad.date, due, met, status,
                                (due - today).days if status == "a_venir" else None, mad.line))
    return out


def echeances(vacancies: Mapping[str, Sequence[Evenement]], logements: Mapping[str, Logement],
              cf: ConventionFile, today: dt.date) -> list[Echeance]:
    """Every deadline of every vacancy, in (due date, vacancy, delay) order."""
    out: list[Echeance] = []
    for vid in sorted(vacancies):
        evs = vacancies[vid]
        out += vacancy_deadlines(evs, logements[evs[0].logement_id], cf, today)
    out.sort(key=lambda e: (e.due, e.vacance_id, e.reservataire, e.delai))
    return out


def derive_defaults(events: Sequence[Evenement], logements: Mapping[str, Logement], cf: ConventionFile,
                    today: dt.date) -> tuple[list[Evenement], list[Echeance]]:
    """Events with a ``DEFAUT_DESIGNATION`` added for each designation deadline passed by
    ``today`` without a designation; also the deadlines that derived them."""
    if not any(c.delais for c in cf.conventions):
        return list(events), []
    vac: dict[str, list[Evenement]] = {}
    for e in events:
        vac.setdefault(e.vacance_id, []).append(e)
    added: list[Evenement] = []
    used: list[Echeance] = []
    for vid in sorted(vac):
        evs = sorted(vac[vid], key=lambda e: (e.date, e.line))
        explicit = {e.reservataire for e in evs if e.type == "DEFAUT_DESIGNATION"}
        for ech in vacancy_deadlines(evs, logements[evs[0].logement_id], cf, today):
            if ech.kind != "designation" or ech.status != "depasse" or ech.reservataire in explicit:
                continue
            explicit.add(ech.reservataire)
            added.append(Evenement(vid, ech.logement_id, ech.due, "DEFAUT_DESIGNATION", ech.reservataire,
                                   line=ech.line, derived=True))
            used.append(ech)
    return list(events) + added, used


def delay_summary(items: Iterable[Echeance]) -> dict[str, dict[str, int]]:
    """Counts per réservataire and status (for the bilan)."""
    out: dict[str, dict[str, int]] = {}
    for e in items:
        row = out.setdefault(e.reservataire, {s: 0 for s in STATUSES})
        row[e.status] += 1
    return dict(sorted(out.items()))


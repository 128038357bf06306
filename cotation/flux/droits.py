"""Droits uniques (flux.md §6 method 3): each right is used once and never renewed.

A droits-uniques convention grants ``total`` single-use designations over its life. A right is
used by each vacancy charged to the réservataire (:mod:`decompte`, under its convention's step)
from the convention's start; a used right is not available again. The bilan shows, per such
convention, the rights used before the period, during it, and those left; the dispatch stops
orienting vacancies to a réservataire whose rights are all used (``DROITS_UNIQUES_EPUISES``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Sequence

from cotation.flux.conventions import ConventionFile
from cotation.flux.decompte import charge_vacancy
from cotation.flux.errors import Issue
from cotation.i18n import _
from cotation.flux.model import Evenement


@dataclass(frozen=True)
class DroitsUsage:
    reservataire: str
    convention: str
    total: int
    years: int
    start: dt.date | None
    used_before: int     # charged from the convention's start to the day before the period
    used_in_period: int

    @property
    def left(self) -> int:
        return self.total - self.used_before - self.used_in_period

    def as_dict(self) -> dict:
        return {"convention": self.convention, "total": self.total, "annees": self.years,
                "debut": None if self.start is None else self.start.isoformat(),
                "utilises_avant": self.used_before, "utilises_periode": self.used_in_period,
                "restants": self.left}


def droits_usage(vacancies: Mapping[str, Sequence[Evenement]], cf: ConventionFile, start: dt.date,
                 end: dt.date) -> dict[str, DroitsUsage]:
    """Rights used per droits-uniques convention in force at ``start``, up to ``end``."""
    convs = {c.reservataire: c for c in cf.in_force(start) if c.droits_uniques is not None}
    if not convs:
        return {}
    steps, delegated = cf.step_of(start), cf.delegated(start)
    before = {r: 0 for r in convs}
    during = {r: 0 for r in convs}
    for vid in sorted(vacancies):
        ch = charge_vacancy(vacancies[vid], steps, defaut_designation=cf.settings.defaut_designation,
                            refus_adapte=cf.settings.refus_adapte, delegated=delegated)
        if ch is None or ch.reservataire not in convs or ch.date > end:
            continue
        c = convs[ch.reservataire]
        if c.start is not None and ch.date < c.start:
            continue
        (before if ch.date < start else during)[ch.reservataire] += 1
    return {r: DroitsUsage(r, c.id, c.droits_uniques.total, c.droits_uniques.years, c.start, before[r], during[r])
            for r, c in sorted(convs.items())}


def droits_issues(usage: Mapping[str, DroitsUsage]) -> list[Issue]:
    """A warning for each convention whose rights were used beyond their number."""
    return [Issue("DROITS_UNIQUES_DEPASSES", "warning",
                  _('{reservataire}: {used} droits uniques used for {total} granted (convention {convention}); a used right is not renewed.').format(reservataire=u.reservataire, used=u.total - u.left, total=u.total, convention=u.convention),
                  {"reservataire": u.reservataire, "convention": u.convention})
            for u in usage.values() if u.left < 0]

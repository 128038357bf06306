"""Annual targets per réservataire (flux.md §7): exact shares, largest-remainder rounding.

The flux net is first split between *cells*, the groups of dwellings that share one dispatch
segment and the same percentage for every réservataire (segments, perimeters), in proportion
to each cell's expected flux; each cell is then shared between réservataires, bailleur's
residual included, and the integer cell targets are summed ("round per segment, then sum").
With uniform percentages there is one cell and this is exactly the rounding of §7.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Sequence

from cotation.flux.assiette import Assiette
from cotation.flux.conventions import ConventionFile
from cotation.flux.errors import Issue
from cotation.i18n import _
from cotation.flux.model import BAILLEUR, DIMENSIONS, PRIORITY_RANK, Convention, Logement
from cotation.flux.rounding import dec_display, largest_remainder


@dataclass(frozen=True)
class Party:
    """A réservataire taking part in one scope's flux, with its conventions in force."""

    id: str
    type: str
    nom: str
    conventions: tuple[Convention, ...] = ()

    @property
    def rank(self) -> int:
        return PRIORITY_RANK[self.type]

    @property
    def is_bailleur(self) -> bool:
        return self.id == BAILLEUR

    def pct(self, values: Mapping[str, object]) -> Fraction:
        return sum((c.pct(dict(values)) for c in self.conventions), Fraction(0))

    def covers(self, values: Mapping[str, object]) -> bool:
        """Bailleur and convention-less parties (plain simulations) cover everything."""
        return not self.conventions or any(c.covers(dict(values)) for c in self.conventions)

    def convention_for(self, values: Mapping[str, object]) -> Convention | None:
        for c in self.conventions:
            if c.covers(dict(values)):
                return c
        return None


def party_order(p: Party) -> tuple:
    return (p.rank, p.id)


def parties_in_force(cf: ConventionFile, on: dt.date, departement: str | None = None) -> tuple[Party, ...]:
    """Réservataires with a convention in force on ``on`` in the scope, then the bailleur."""
    by_id: dict[str, list[Convention]] = {}
    for c in cf.conventions:
        if not c.in_force(on):
            continue
        if departement is not None and c.departement not in (None, departement):
            continue
        by_id.setdefault(c.reservataire, []).append(c)
    parties = [Party(rid, cf.reservataire(rid).type, cf.reservataire(rid).nom, tuple(cs))
               for rid, cs in by_id.items()]
    parties.sort(key=party_order)
    parties.append(Party(BAILLEUR, "BAILLEUR", cf.bailleur.nom))
    return tuple(parties)


@dataclass(frozen=True, order=True)
class Cell:
    """Dwellings sharing one dispatch segment and the same percentage for every réservataire."""

    segment: tuple
    pcts: tuple[tuple[str, Fraction], ...]

    def describe(self, segment_by: Sequence[str]) -> dict:
        return {"segment": dict(zip(segment_by, self.segment)),
                "pourcentages": {rid: str(v) for rid, v in self.pcts}}


def cell_key(attrs: tuple, parties: Sequence[Party], segment_by: Sequence[str],
             cache: dict | None = None) -> Cell:
    """The cell of a dwelling from its attributes (in ``DIMENSIONS`` order), memoised in ``cache``."""
    if cache is not None and attrs in cache:
        return cache[attrs]
    values = dict(zip(DIMENSIONS, attrs))
    pcts = tuple((p.id, p.pct(values) if p.covers(values) else Fraction(0)) for p in parties if not p.is_bailleur)
    key = Cell(tuple(values[d] for d in segment_by), pcts)
    if cache is not None:
        cache[attrs] = key
    return key


def cell_weights(assiette: Assiette, logements: Mapping[str, Logement], parties: Sequence[Party],
                 segment_by: Sequence[str] = ()) -> dict[Cell, Fraction]:
    """Expected flux brut of each cell: base × rate + mises en service (exact)."""
    # Count by plain attribute tuples first: hashing a Cell (it holds Fractions) per dwelling is slow.
    counts: dict[tuple, list[int]] = {}
    for ids, slot in ((assiette.base_ids, 0), (assiette.mes_ids if assiette.settings.mes_in_flux else (), 1)):
        for lid in ids:
            lg = logements[lid]
            counts.setdefault(tuple(lg.attr(d) for d in DIMENSIONS), [0, 0])[slot] += 1
    rate = assiette.effective_rate
    cache: dict = {}
    w: dict[Cell, Fraction] = {}
    for attrs, (n_base, n_mes) in counts.items():
        k = cell_key(attrs, parties, segment_by, cache)
        w[k] = w.get(k, Fraction(0)) + rate * n_base + n_mes
    return dict(sorted(w.items(), key=lambda kv: _sortable(kv[0])))


def _sortable(cell: Cell) -> tuple:
    seg = tuple((0, v) if isinstance(v, bool) else (1, str(v)) for v in cell.segment)
    return seg, tuple((rid, v) for rid, v in cell.pcts)


def share_cell(flux: int, pcts: Mapping[str, Fraction], parties: Mapping[str, Party]) -> dict[str, int]:
    """Largest remainder over réservataires; ties: larger pct, priority_rank, id (§7)."""
    return largest_remainder(flux, pcts, lambda rid: party_order(parties[rid]))


def cell_percentages(cell: Cell) -> tuple[dict[str, Fraction], Fraction]:
    """Percentages of each réservataire in a cell; the bailleur takes 100 − Σ (never negative).

    Returns the percentages and the declared total of the others (> 100 is SUM_GT_100).
    """
    out = dict(cell.pcts)
    total = sum(out.values(), Fraction(0))
    if total > 100:
        # Scale down so a target can still be shown; the run is flagged invalid.
        out = {k: v * 100 / total for k, v in out.items()}
    out[BAILLEUR] = max(Fraction(100) - total, Fraction(0))
    return out, total


@dataclass(frozen=True)
class Targets:
    """Integer targets per cell and in total, with the exact shares they round."""

    year: int
    flux_net: int
    segment_by: tuple[str, ...]
    parties: tuple[Party, ...]
    cell_flux: dict[Cell, int]
    cells: dict[Cell, dict[str, int]]
    exact: dict[str, Fraction]
    totals: dict[str, int]
    issues: tuple[Issue, ...] = ()

    @property
    def valid(self) -> bool:
        return not any(i.is_error for i in self.issues)

    def party(self, rid: str) -> Party:
        for p in self.parties:
            if p.id == rid:
                return p
        raise KeyError(rid)

    def rows(self) -> list[dict[str, str]]:
        rows = []
        for p in self.parties:
            exact = self.exact[p.id]
            rows.append({"reservataire": p.id, "type": p.type, "nom": p.nom,
                         "pourcentage": str(exact * 100 / self.flux_net) if self.flux_net else "0",
                         "cible_exacte": str(exact), "cible_exacte_affichee": dec_display(exact, 2),
                         "cible": str(self.totals[p.id])})
        return rows

    def as_dict(self) -> dict:
        return {
            "annee": self.year,
            "flux_net": self.flux_net,
            "segment_by": list(self.segment_by),
            "reservataires": self.rows(),
            "cellules": [{**k.describe(self.segment_by), "flux": self.cell_flux[k], "cibles": self.cells[k]}
                         for k in self.cells],
            "valide": self.valid,
            "issues": [i.as_dict() for i in self.issues],
        }


def targets_from_cells(year: int, parties: Sequence[Party], cell_flux: Mapping[Cell, int],
                       segment_by: Sequence[str] = (), rounding: str = "largest_remainder") -> Targets:
    """§7 rounding cell by cell, then summed per réservataire.

    Rounding per segment can take a réservataire whose exact target is at least 1/2 (one
    dwelling when rounded alone) down to 0. ``rounding`` declares the rule: with
    ``largest_remainder`` the plain rounding stands and ``CIBLE_ARRONDIE_A_ZERO`` warns; with
    ``keep_positive`` the réservataire gets one dwelling in the cell where its remainder is the
    largest, taken from the party of that cell most rounded up (``CIBLE_RELEVEE_A_UN`` says so).
    """
    by_id = {p.id: p for p in parties}
    cells: dict[Cell, dict[str, int]] = {}
    exact = {p.id: Fraction(0) for p in parties}
    issues: list[Issue] = []
    for cell, flux in cell_flux.items():
        pcts, declared = cell_percentages(cell)
        if declared > 100:
            where = ", ".join(f"{d}={v}" for d, v in zip(segment_by, cell.segment))
            issues.append(Issue("SUM_GT_100", "error",
                                _('The reserved percentages add up to {total} % (> 100 %){where}.').format(total=dec_display(declared, 2), where=_(" on {where}").format(where=where) if where else ""),
                                {**cell.describe(segment_by), "total": str(declared)}))
        cells[cell] = share_cell(flux, pcts, by_id)
        for rid, v in pcts.items():
            exact[rid] += flux * v / 100
    totals = {p.id: sum(c[p.id] for c in cells.values()) for p in parties}
    if len(cells) > 1:
        issues += _zero_targets(parties, cells, exact, totals, rounding)
        totals = {p.id: sum(c[p.id] for c in cells.values()) for p in parties}
    return Targets(year, sum(cell_flux.values()), tuple(segment_by), tuple(parties), dict(cell_flux), cells,
                   exact, totals, tuple(issues))


def _zero_targets(parties: Sequence[Party], cells: dict[Cell, dict[str, int]], exact: Mapping[str, Fraction],
                  totals: Mapping[str, int], rounding: str) -> list[Issue]:
    """Apply the declared rule to réservataires rounded to zero by segment (mutates ``cells``)."""
    issues: list[Issue] = []
    for p in parties:
        if p.is_bailleur or totals[p.id] or exact[p.id] < Fraction(1, 2):
            continue
        shown = dec_display(exact[p.id], 2)
        if rounding != "keep_positive":
            issues.append(Issue("CIBLE_ARRONDIE_A_ZERO", "warning",
                                _('The target of {name} ({shown} dwelling(s) as an exact value) rounds to 0 per segment; the declared rule is the largest remainder per segment (segment_rounding: keep_positive guarantees it one dwelling).').format(name=p.nom, shown=shown),
                                {"reservataire": p.id, "cible_exacte": str(exact[p.id]),
                                 "regle": "largest_remainder"}))
            continue
        best = None
        for cell, alloc in cells.items():
            flux = sum(alloc.values())
            if not flux:
                continue
            pcts, _unused = cell_percentages(cell)
            total_pct = sum(pcts.values(), Fraction(0))
            quota = {rid: flux * v / total_pct for rid, v in pcts.items()} if total_pct else {}
            if quota.get(p.id, 0) <= 0:
                continue
            donors = [rid for rid in alloc if rid != p.id and alloc[rid] > 0]
            if not donors:
                continue
            donor = max(donors, key=lambda rid: (alloc[rid] - quota[rid], alloc[rid], rid))
            key = (quota[p.id], -(alloc[donor] - quota[donor]))
            if best is None or key > best[0]:
                best = (key, cell, donor)
        if best is None:
            continue
        _key, cell, donor = best
        cells[cell][donor] -= 1
        cells[cell][p.id] += 1
        issues.append(Issue("CIBLE_RELEVEE_A_UN", "warning",
                            _('The target of {name} ({shown} dwelling(s) as an exact value), rounded to 0 per segment, is raised to 1 (rule segment_rounding: keep_positive), taken from {donor}.').format(name=p.nom, shown=shown, donor=donor),
                            {"reservataire": p.id, "cible_exacte": str(exact[p.id]), "donneur": donor,
                             "regle": "keep_positive"}))
    return issues


def compute_targets(assiette: Assiette, logements: Sequence[Logement] | Mapping[str, Logement],
                    cf: ConventionFile, on: dt.date | None = None) -> Targets:
    """Targets of ``assiette.year`` for the conventions in force on ``on`` (default 1 January)."""
    lgs = logements if isinstance(logements, Mapping) else {lg.id: lg for lg in logements}
    on = on or dt.date(assiette.year, 1, 1)
    parties = parties_in_force(cf, on, assiette.departement)
    segment_by = cf.settings.segment_by
    flux = max(assiette.flux_net, 0)
    weights = cell_weights(assiette, lgs, parties, segment_by)
    issues: list[Issue] = []
    if sum(weights.values(), Fraction(0)) == 0:
        cell_flux = {k: 0 for k in weights}
        if flux:
            issues.append(Issue("FLUX_SANS_LOGEMENT", "error",
                                _('Positive net flux but no logement in the base to share it out.'), {}))
    else:
        cell_flux = largest_remainder(flux, weights, _sortable)
    t = targets_from_cells(assiette.year, parties, cell_flux, segment_by, cf.settings.segment_rounding)
    return Targets(t.year, flux, t.segment_by, t.parties, t.cell_flux, t.cells, t.exact, t.totals,
                   tuple(issues) + t.issues)


def simple_targets(flux_net: int, percentages: Mapping[str, Fraction | int | str],
                   types: Mapping[str, str] | None = None) -> dict[str, int]:
    """§7 on one cell from plain percentages (bailleur included, or added as the residual).

    >>> simple_targets(740, {"EP": 25, "EA": 5, "AL": 35, "C": 12, "D": 3},
    ...                {"EP": "ETAT_PRIO", "EA": "ETAT_AGENTS", "AL": "ACTION_LOGEMENT",
    ...                 "C": "COLLECTIVITE", "D": "COLLECTIVITE"})
    {'EP': 185, 'EA': 37, 'AL': 259, 'C': 89, 'D': 22, 'BAILLEUR': 148}
    """
    pcts = {k: Fraction(str(v)) for k, v in percentages.items()}
    if BAILLEUR not in pcts:
        pcts[BAILLEUR] = Fraction(100) - sum(pcts.values(), Fraction(0))
    types = dict(types or {})
    types.setdefault(BAILLEUR, "BAILLEUR")
    parties = {k: Party(k, types.get(k, "AUTRE"), k) for k in pcts}
    return share_cell(flux_net, pcts, parties)

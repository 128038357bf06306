"""Records of the flux side: logements, événements, réservataires and their codes.

Plain frozen dataclasses; readers build them, every later stage only reads them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

from cotation.data.schema import TYPOLOGIES

BAILLEUR = "BAILLEUR"
"""Réservataire id of the bailleur's own (residual) share."""

# priority_rank of flux.md §7: earlier is served first on equal remainders / deficits.
RESERVATAIRE_TYPES = ("ETAT_PRIO", "ETAT_AGENTS", "ACTION_LOGEMENT", "COLLECTIVITE",
                      "EMPLOYEUR", "AUTRE", "BAILLEUR")
PRIORITY_RANK = {t: i for i, t in enumerate(RESERVATAIRE_TYPES)}
ETAT_TYPES = frozenset({"ETAT_PRIO", "ETAT_AGENTS"})

# Financements accepted in the logements file; the last three are outside the social flux.
FINANCEMENTS = ("PLAI", "PLUS", "PLS", "AUTRE", "PLI", "LIBRE", "NON_CONVENTIONNE")
FINANCEMENTS_HORS_SOCIAL = frozenset({"PLI", "LIBRE", "NON_CONVENTIONNE"})
CATEGORIES = ("familial", "foyer", "residence_sociale", "chrs", "medico_social", "etudiant")
STATUTS = ("en_service", "vente", "demolition", "reserve_defense", "reserve_sante",
           "autorisation_prefet")
ZONES = ("paris_limitrophes", "idf", "autres")

# flux.md §3, in table order: a logement matching several reasons gets the first one.
EXCLUSION_CODES = ("NON_CONVENTIONNE_PLI", "FOYER_RESIDENCE_SOCIALE", "MEDICO_SOCIAL",
                   "ETUDIANT", "DEFENSE_SECURITE", "ETABLISSEMENT_SANTE", "VENTE", "DEMOLITION",
                   "AUTORISATION_PREFET")
DEFAULT_EXCLUSIONS = EXCLUSION_CODES[:-1]
SOUSTRACTION_CODES = ("MUTATION", "ANRU", "RELOGEMENT_HORS_ANRU", "ORCOD", "LHI", "VENTE")
# Departure motifs that the rotation setting may exclude (flux.md §4).
DEPART_MOTIFS = ("DEPART", "MUTATION", "ANRU", "ORCOD", "LHI", "DECES", "EXPULSION", "AUTRE")

STEPS = ("mise_a_disposition", "proposition_caleol", "attribution", "bail_signe")
STEP_LABELS = {"mise_a_disposition": "mise à disposition", "proposition_caleol": "proposition en CALEOL",
               "attribution": "attribution en CALEOL", "bail_signe": "bail signé"}

EVENT_TYPES = ("LIBERATION", "MISE_A_DISPOSITION", "DESIGNATION", "DEFAUT_DESIGNATION",
               "PRESENTATION_CALEOL", "REFUS", "RETOUR_BAILLEUR", "BAIL_SIGNE", "VALIDATION")
# CALEOL decisions of R441-3 (a)-(e).
DECISIONS = ("attribution", "attribution_classee", "attribution_sous_condition",
             "non_attribution", "irrecevable")
ATTRIBUTION_DECISIONS = frozenset(DECISIONS[:3])
ORIGINES = ("ROTATION", "MISE_EN_SERVICE")

DIMENSIONS = ("commune", "qpv", "typologie", "financement")

# Delays of a convention (flux.md §10; seeds Occitanie and PACA 2023): what is due, counted how.
DELAY_KINDS = ("reponse", "designation", "validation", "transmission")
DELAY_UNITS = ("jours_ouvres", "jours_calendaires", "mois")
MANAGEMENT = ("direct", "delegue")

# What a bilan counts per réservataire and breakdown, and the breakdowns it makes (the bilan
# computes them, the report reads them).
BILAN_COUNTS = ("mises_a_disposition", "designations", "examens_caleol", "attributions", "non_attributions",
                "refus", "defauts_designation", "retours_bailleur", "baux_signes", "decomptes",
                *(f"decompte_{s}" for s in STEPS))
BILAN_DIMENSIONS = ("typologie", "financement", "qpv", "commune")
"""Dwelling attributes that segments, perimeters and dispatch quotas may refer to."""


def normalise_typologie(text: str) -> str | None:
    """Map RPLS sizes above T6 onto the SNE's ``T6P``; ``None`` if unknown."""
    t = text.strip()
    if t in TYPOLOGIES:
        return t
    up = t.upper()
    if up in ("T6", "T7", "T8", "T9", "T7P", "T8P", "T9P"):
        return "T6P"
    return None


def departement_of(commune: str) -> str:
    """INSEE département of a commune code (3 characters overseas)."""
    return commune[:3] if commune.startswith("97") else commune[:2]


@dataclass(frozen=True, slots=True)
class Logement:
    """One dwelling of the patrimoine (one RPLS-like row)."""

    id: str
    commune: str
    qpv: bool
    typologie: str
    financement: str
    category: str = "familial"
    status: str = "en_service"
    mise_en_service: dt.date | None = None
    sortie: dt.date | None = None
    exclusion: str | None = None       # explicit code overriding the derived one
    autorisation_date: dt.date | None = None
    zone: str | None = None            # income-ceiling zone, derived from the commune if empty
    pmr: bool = False
    loyer: float | None = None
    line: int = 0
    # Optional stock-inventory columns (état des lieux): current réservataire of the dwelling
    # under stock management, collectif / individuel, rotation reference of the dwelling.
    reservataire_stock: str | None = None
    collectif: bool | None = None

    @property
    def departement(self) -> str:
        return departement_of(self.commune)

    @property
    def epci(self) -> str:
        """SIREN of the commune's EPCI (commune table), "" when none or unknown."""
        from cotation.data.communes import commune
        c = commune(self.commune)
        return c.epci if c is not None else ""

    def attr(self, dim: str) -> object:
        return getattr(self, dim)

    def in_stock(self, on: dt.date) -> bool:
        """In the patrimoine on date ``on`` (put in service before it, not yet sold or demolished)."""
        if self.mise_en_service is not None and self.mise_en_service >= on:
            return False
        return self.sortie is None or self.sortie >= on


@dataclass(frozen=True, slots=True)
class Evenement:
    """One row of the vacancy events file."""

    vacance_id: str
    logement_id: str
    date: dt.date
    type: str
    reservataire: str | None = None
    candidat: str | None = None
    decision: str | None = None
    motif: str | None = None
    origine: str | None = None
    soustraction: str | None = None
    adapte: bool = False
    line: int = 0
    preavis_mois: int | None = None    # tenant's notice (1 or 3 months), optional column
    derived: bool = False              # DEFAUT_DESIGNATION derived from a passed deadline


@dataclass(frozen=True, slots=True)
class Delai:
    """One delay of a convention: ``duree`` ``unite`` after the mise à disposition (or before the
    mise en service for ``transmission``), for the vacancies it applies to."""

    nom: str
    kind: str
    duree: int
    unite: str
    preavis_mois: int | None = None    # only vacancies with that notice
    origine: str | None = None         # only ROTATION or MISE_EN_SERVICE vacancies
    line: int = 0

    def applies(self, origine: str | None, preavis: int | None) -> bool:
        if self.origine is not None and (origine or "ROTATION") != self.origine:
            return False
        return self.preavis_mois is None or preavis == self.preavis_mois


@dataclass(frozen=True, slots=True)
class DroitsUniques:
    """Droits uniques (flux.md §6 method 3): ``total`` single-use designations over ``years``."""

    total: int
    years: int

    @property
    def per_year(self) -> Fraction:
        return Fraction(self.total, self.years)


@dataclass(frozen=True, slots=True)
class Reservataire:
    id: str
    nom: str
    type: str
    droits: bool = True

    @property
    def rank(self) -> int:
        return PRIORITY_RANK[self.type]


@dataclass(frozen=True, slots=True)
class Selector:
    """A set of dwellings by attribute; an empty selector matches everything."""

    commune: frozenset[str] | None = None
    qpv: bool | None = None
    typologie: frozenset[str] | None = None
    financement: frozenset[str] | None = None

    def matches(self, values: dict[str, object]) -> bool:
        """True when ``values`` (dimension → value) satisfies every constrained dimension."""
        for dim in DIMENSIONS:
            want = getattr(self, dim)
            if want is None:
                continue
            v = values[dim]
            if dim == "qpv":
                if v != want:
                    return False
            elif v not in want:
                return False
        return True

    def dims(self) -> frozenset[str]:
        return frozenset(d for d in DIMENSIONS if getattr(self, d) is not None)

    def excluding_dimension(self, lg: Logement) -> str | None:
        """Read as an exclusion list (any constrained dimension excludes): the first dimension
        whose listed values contain the dwelling's, else None."""
        for dim in DIMENSIONS:
            want = getattr(self, dim)
            if want is None:
                continue
            v = lg.attr(dim)
            if (v == want) if dim == "qpv" else (v in want):
                return dim
        return None


@dataclass(frozen=True, slots=True)
class Segment:
    where: Selector
    percentage: Fraction


@dataclass(frozen=True, slots=True)
class Derogation:
    start: dt.date
    end: dt.date
    motif: str = ""
    line: int = 0

    def active(self, on: dt.date) -> bool:
        return self.start <= on <= self.end

    def too_long(self) -> bool:
        """Longer than one year (R441-5-2 I): end after the same day one year later, minus one."""
        try:
            limit = self.start.replace(year=self.start.year + 1)
        except ValueError:  # 29 February
            limit = self.start.replace(year=self.start.year + 1, day=28) + dt.timedelta(days=1)
        return self.end >= limit


@dataclass(frozen=True, slots=True)
class Convention:
    """One reservation convention (bailleur × réservataire × perimeter)."""

    id: str
    reservataire: str
    percentage: Fraction
    perimeter: Selector = field(default_factory=Selector)
    perimeter_kind: str = "departement"
    departement: str | None = None             # scope; None = the bailleur's département
    segments: tuple[Segment, ...] = ()
    decompte: str = "mise_a_disposition"
    designation_delay_days: int = 30
    management: str = "direct"
    start: dt.date | None = None
    end: dt.date | None = None
    signed_on: dt.date | None = None
    derogations: tuple[Derogation, ...] = ()
    exclusions: Selector | None = None
    garantie_emprunt: Fraction | None = None   # part of the percentage due to loan guarantees
    stipulations: frozenset[str] = frozenset()
    k: int = 3
    line: int = 0
    delais: tuple[Delai, ...] = ()
    volume: int | None = None                  # volume-based convention: dwellings a year
    droits_uniques: DroitsUniques | None = None
    requalification: Fraction | None = None    # Action Logement: part requalified without AL'in
    garantie_fin_pret: dt.date | None = None   # loan repaid: rights end five years later

    @property
    def garantie_fin_droits(self) -> dt.date | None:
        """End of loan-guarantee rights: five years after the loan is repaid (seed USH slides)."""
        d = self.garantie_fin_pret
        if d is None:
            return None
        try:
            return d.replace(year=d.year + 5)
        except ValueError:  # 29 February
            return d.replace(year=d.year + 5, day=28)

    def in_force(self, on: dt.date) -> bool:
        end = self.garantie_fin_droits
        return ((self.start is None or self.start <= on) and (self.end is None or on <= self.end)
                and (end is None or on <= end))

    def covers(self, values: dict[str, object]) -> bool:
        return self.perimeter.matches(values)

    def pct(self, values: dict[str, object]) -> Fraction:
        """Percentage applying to a cell (first matching segment, else the base percentage)."""
        if not self.covers(values):
            return Fraction(0)
        for seg in self.segments:
            if seg.where.matches(values):
                return seg.percentage
        return self.percentage

    def dims(self) -> frozenset[str]:
        out = set(self.perimeter.dims())
        for seg in self.segments:
            out |= seg.where.dims()
        return frozenset(out)


@dataclass(frozen=True, slots=True)
class Programme:
    """First lettings of a programme neuf, split between réservataires (flux.md §11)."""

    id: str
    logements: tuple[str, ...]
    repartition: tuple[tuple[str, int], ...]
    line: int = 0

    def assignment(self) -> dict[str, str]:
        """logement id → réservataire id, in logement id order then repartition order."""
        out: dict[str, str] = {}
        ids = sorted(self.logements)
        pos = 0
        for rid, count in self.repartition:
            for lid in ids[pos:pos + count]:
                out[lid] = rid
            pos += count
        return out

"""Assiette, taux de rotation and annual flux (flux.md §3–§5), with a trace of every figure.

The chain is: patrimoine − exclusions = base(N); base(N) × rotation(N-1) = libérations
estimées; + mises en service = flux brut; − soustractions (yearly volumes, never taken off a
stock count) = flux net. All arithmetic is exact (``Fraction``); only the flux net is rounded.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Sequence

from cotation.flux.conventions import Settings
from cotation.flux.errors import Issue
from cotation.i18n import _
from cotation.flux.model import FINANCEMENTS_HORS_SOCIAL, Evenement, Logement
from cotation.flux.rounding import dec_display, pct_display

_CATEGORY_EXCLUSION = {"foyer": "FOYER_RESIDENCE_SOCIALE", "residence_sociale": "FOYER_RESIDENCE_SOCIALE",
                       "chrs": "FOYER_RESIDENCE_SOCIALE", "medico_social": "MEDICO_SOCIAL",
                       "etudiant": "ETUDIANT"}
_STATUS_EXCLUSION = {"reserve_defense": "DEFENSE_SECURITE", "reserve_sante": "ETABLISSEMENT_SANTE",
                     "vente": "VENTE", "demolition": "DEMOLITION"}
_CODE_ORDER = ("NON_CONVENTIONNE_PLI", "FOYER_RESIDENCE_SOCIALE", "MEDICO_SOCIAL", "ETUDIANT",
               "DEFENSE_SECURITE", "ETABLISSEMENT_SANTE", "VENTE", "DEMOLITION", "AUTORISATION_PREFET")


def exclusion_reasons(lg: Logement) -> list[str]:
    """Every exclusion code a logement qualifies for, in the order of flux.md §3."""
    found = set()
    if lg.exclusion:
        found.add(lg.exclusion)
    if lg.financement in FINANCEMENTS_HORS_SOCIAL:
        found.add("NON_CONVENTIONNE_PLI")
    if lg.category in _CATEGORY_EXCLUSION:
        found.add(_CATEGORY_EXCLUSION[lg.category])
    if lg.status in _STATUS_EXCLUSION:
        found.add(_STATUS_EXCLUSION[lg.status])
    if lg.status == "autorisation_prefet" and lg.autorisation_date is not None:
        found.add("AUTORISATION_PREFET")
    return [c for c in _CODE_ORDER if c in found]


def exclusion_code(lg: Logement, enabled: Sequence[str]) -> str | None:
    """The reported exclusion code: the first enabled reason, else None (in the assiette)."""
    for code in exclusion_reasons(lg):
        if code in enabled:
            return code
    return None


@dataclass(frozen=True)
class FluxFigures:
    """The §5 formula on counts, exact."""

    base: int
    rotation: Fraction | None
    liberations: Fraction
    mises_en_service: int
    flux_brut: Fraction
    soustractions: Fraction
    flux_net_exact: Fraction
    flux_net: int


def round_flux(x: Fraction, mode: str = "floor") -> int:
    """Flux net as a whole number of dwellings: floor (PACA: 268.35 → 268) or nearest, half up."""
    if mode == "floor":
        return x.numerator // x.denominator
    return (2 * x.numerator + x.denominator) // (2 * x.denominator)


def flux_from_counts(base: int, rotation: Fraction | None, mises_en_service: int = 0,
                     soustractions: Iterable[Fraction | int] = (), *, liberations: Fraction | None = None,
                     mes_in_flux: bool = True, rounding: str = "floor") -> FluxFigures:
    """libérations = base × rotation (or given), flux brut = + MES, flux net = − soustractions."""
    libs = Fraction(liberations) if liberations is not None else base * Fraction(rotation)
    brut = libs + (mises_en_service if mes_in_flux else 0)
    sous = sum((Fraction(s) for s in soustractions), Fraction(0))
    net = brut - sous
    return FluxFigures(base, rotation, libs, mises_en_service, brut, sous, net, round_flux(net, rounding))


# The table's formulas are French: setting values named in words.
_NUMERATOR_FR = {"departures": "départs", "entries": "entrées (baux signés)",
                 "mean": "moyenne des départs et des entrées"}
_ROUNDING_FR = {"floor": "à l'entier inférieur", "nearest": "à l'entier le plus proche"}


@dataclass(frozen=True)
class TraceItem:
    """One input item behind a figure: which poste, which logement / vacancy, which source line."""

    poste: str
    logement_id: str
    vacance_id: str
    line: int


@dataclass(frozen=True)
class Assiette:
    """The bailleur annex of flux.md §12: assiette, rotation, soustractions, flux."""

    year: int
    departement: str | None
    settings: Settings
    patrimoine: int
    exclusions: dict[str, int]
    base: int
    rotation_years: tuple[dict, ...]
    rotation: Fraction | None
    figures: FluxFigures
    soustractions: dict[str, Fraction]
    base_ids: tuple[str, ...]
    mes_ids: tuple[str, ...]
    excluded: dict[str, str]                 # logement id → exclusion code
    trace: tuple[TraceItem, ...] = ()
    issues: tuple[Issue, ...] = ()

    @property
    def flux_net(self) -> int:
        return self.figures.flux_net

    @property
    def effective_rate(self) -> Fraction:
        """Libérations per dwelling of the base (the Toulon method has no rotation of its own)."""
        return self.figures.liberations / self.base if self.base else Fraction(0)

    def rows(self) -> list[dict[str, str]]:
        """Figures as table rows: poste, valeur exacte, valeur affichée, formule."""
        f = self.figures
        rot = self.settings.rotation
        rows = [("patrimoine", Fraction(self.patrimoine), f"logements en stock au 01/01/{self.year}")]
        rows += [(f"exclusion.{code}", Fraction(n), f"logements exclus, motif {code}")
                 for code, n in self.exclusions.items()]
        rows.append(("base", Fraction(self.base), "patrimoine − Σ exclusions"))
        for y in self.rotation_years:
            motifs = ",".join(sorted(rot.exclude_departures)) or "-"
            rows.append((f"rotation.numerateur.{y['year']}", y["numerator"],
                         f"{_NUMERATOR_FR.get(rot.numerator, rot.numerator)} {y['year']} hors motifs "
                         f"{motifs}, hors logements exclus"))
            rows.append((f"rotation.denominateur.{y['year']}", Fraction(y["denominator"]),
                         f"base au {y['base_date']}"))
        if self.rotation is not None:
            rows.append(("rotation", self.rotation, "Σ numérateurs ÷ Σ dénominateurs"))
            rows.append(("liberations_estimees", f.liberations, "base × rotation"))
        else:
            rows.append(("liberations_estimees", f.liberations,
                         f"moyenne des baux signés sur {rot.window_years} an(s) (méthode mean_leases)"))
        rows.append(("mises_en_service", Fraction(f.mises_en_service), f"mises en service {self.year}"
                     + ("" if self.settings.mes_in_flux else " (hors flux: mes_in_flux = false)")))
        rows.append(("flux_brut", f.flux_brut, "libérations estimées + mises en service"))
        rows += [(f"soustraction.{cat}", v, "volume annuel soustrait") for cat, v in self.soustractions.items()]
        rows.append(("flux_net_exact", f.flux_net_exact, "flux brut − Σ soustractions"))
        rows.append(("flux_net", Fraction(f.flux_net),
                     f"arrondi {_ROUNDING_FR.get(self.settings.flux_rounding, self.settings.flux_rounding)}"))
        out = []
        for key, value, formula in rows:
            shown = pct_display(value) + " %" if key == "rotation" else (
                str(value) if value.denominator == 1 else dec_display(value))
            out.append({"poste": key, "valeur": str(value), "affichage": shown, "formule": formula})
        return out

    def as_dict(self) -> dict:
        f = self.figures
        rot = self.settings.rotation
        return {
            "annee": self.year,
            "departement": self.departement,
            "patrimoine": self.patrimoine,
            "exclusions": dict(self.exclusions),
            "base": self.base,
            "rotation": {
                "settings": {"method": rot.method, "numerator": rot.numerator,
                             "exclude_departures": sorted(rot.exclude_departures),
                             "base_date": rot.base_date, "window_years": rot.window_years},
                "annees": [{"annee": y["year"], "numerateur": str(y["numerator"]),
                            "denominateur": y["denominator"], "date_base": y["base_date"]}
                           for y in self.rotation_years],
                "taux": None if self.rotation is None else str(self.rotation),
                "taux_affiche": None if self.rotation is None else pct_display(self.rotation) + " %",
            },
            "liberations_estimees": str(f.liberations),
            "mises_en_service": f.mises_en_service,
            "mes_in_flux": self.settings.mes_in_flux,
            "flux_brut": str(f.flux_brut),
            "soustractions": {k: str(v) for k, v in self.soustractions.items()},
            "flux_net_exact": str(f.flux_net_exact),
            "flux_net": f.flux_net,
            "lignes": self.rows(),
            "issues": [i.as_dict() for i in self.issues],
        }


def compute_assiette(logements: Sequence[Logement], events: Sequence[Evenement], year: int,
                     settings: Settings, departement: str | None = None) -> Assiette:
    """Assiette and flux of ``year`` from the patrimoine and the event history of earlier years."""
    scope = [lg for lg in logements if departement is None or lg.departement == departement]
    scope_ids = {lg.id for lg in scope}
    jan1 = dt.date(year, 1, 1)
    issues: list[Issue] = []
    trace: list[TraceItem] = []
    excluded: dict[str, str] = {}
    for lg in scope:
        code = exclusion_code(lg, settings.exclusions)
        if code is not None:
            excluded[lg.id] = code
        elif lg.status == "autorisation_prefet" and "AUTORISATION_PREFET" in settings.exclusions:
            issues.append(Issue("AUTORISATION_NON_DATEE", "warning",
                                _('Logement {id} (line {line}) marked autorisation_prefet without an authorisation date: it stays in the assiette.').format(id=lg.id, line=lg.line), {"logement": lg.id}))
    in_stock = [lg for lg in scope if lg.in_stock(jan1)]
    exclusions = {c: 0 for c in settings.exclusions}
    for lg in in_stock:
        if lg.id in excluded:
            exclusions[excluded[lg.id]] += 1
            trace.append(TraceItem(f"exclusion.{excluded[lg.id]}", lg.id, "", lg.line))
        else:
            trace.append(TraceItem("base", lg.id, "", lg.line))
    exclusions = {c: n for c, n in exclusions.items() if n}
    base_ids = tuple(lg.id for lg in in_stock if lg.id not in excluded)
    base = len(base_ids)
    eligible = {lg.id: lg for lg in scope if lg.id not in excluded}

    # Vacancy facts from the history: origin and use of each vacancy.
    lib: dict[str, Evenement] = {}
    for e in events:
        if e.type == "LIBERATION" and e.logement_id in scope_ids:
            lib[e.vacance_id] = e
    rot = settings.rotation
    years = list(range(year - rot.window_years, year))
    rotation_years: list[dict] = []
    for y in years:
        bdate = dt.date(y + 1, 1, 1) if rot.base_date == "end_of_prev_year" else dt.date(y, 1, 1)
        den = sum(1 for lg in eligible.values() if lg.in_stock(bdate))
        deps = [e for e in lib.values() if e.date.year == y and e.logement_id in eligible
                and e.origine != "MISE_EN_SERVICE" and (e.motif or "DEPART") not in rot.exclude_departures]
        ents = [e for e in events if e.type == "BAIL_SIGNE" and e.date.year == y and e.logement_id in eligible
                and not (e.vacance_id in lib and lib[e.vacance_id].origine == "MISE_EN_SERVICE")]
        num = {"departures": Fraction(len(deps)), "entries": Fraction(len(ents)),
               "mean": Fraction(len(deps) + len(ents), 2)}[rot.numerator]
        if rot.method == "mean_leases":
            num = Fraction(len(ents))
        if rot.method == "mean_leases" or rot.numerator in ("entries", "mean"):
            trace.extend(TraceItem(f"rotation.entrees.{y}", e.logement_id, e.vacance_id, e.line) for e in ents)
        if rot.method == "rate" and rot.numerator in ("departures", "mean"):
            trace.extend(TraceItem(f"rotation.departs.{y}", e.logement_id, e.vacance_id, e.line) for e in deps)
        rotation_years.append({"year": y, "numerator": num, "denominator": den, "base_date": bdate.isoformat()})
    if rot.method == "mean_leases":
        rotation = None
        libs = sum((y["numerator"] for y in rotation_years), Fraction(0)) / max(len(rotation_years), 1)
    else:
        den_total = sum(y["denominator"] for y in rotation_years)
        rotation = (sum((y["numerator"] for y in rotation_years), Fraction(0)) / den_total
                    if den_total else Fraction(0))
        if not den_total:
            issues.append(Issue("ROTATION_SANS_BASE", "error", _('No logement in the base of the reference years: the rotation rate cannot be computed.'), {}))
        libs = None
    mes_ids = tuple(lg.id for lg in eligible.values()
                    if lg.mise_en_service is not None and lg.mise_en_service.year == year)
    trace.extend(TraceItem("mise_en_service", i, "", eligible[i].line) for i in mes_ids)

    soustractions: dict[str, Fraction] = {}
    for cat, spec in settings.soustractions:
        if isinstance(spec, int):
            soustractions[cat] = Fraction(spec)
            continue
        n_years = spec[1]
        used = [e for e in lib.values() if e.soustraction == cat and year - n_years <= e.date.year < year]
        trace.extend(TraceItem(f"soustraction.{cat}", e.logement_id, e.vacance_id, e.line) for e in used)
        soustractions[cat] = Fraction(len(used), n_years)
    figures = flux_from_counts(base, rotation, len(mes_ids), soustractions.values(), liberations=libs,
                               mes_in_flux=settings.mes_in_flux, rounding=settings.flux_rounding)
    if figures.flux_net_exact < 0:
        issues.append(Issue("FLUX_NEGATIF", "error",
                            _('The net flux {year} is negative ({value}): the soustractions exceed the gross flux.').format(year=year, value=dec_display(figures.flux_net_exact, 2)), {"flux_net": str(figures.flux_net_exact)}))
    return Assiette(year, departement, settings, len(in_stock), exclusions, base, tuple(rotation_years),
                    rotation, figures, soustractions, base_ids, mes_ids, excluded, tuple(trace), tuple(issues))

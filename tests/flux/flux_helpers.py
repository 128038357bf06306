"""Builders for the flux tests: the constructed patrimoine and conventions of flux.md Test A."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
import textwrap

from cotation.flux.conventions import loads_conventions
from cotation.flux.model import Evenement, Logement

# Test A of flux.md: percentages of the six réservataires, bailleur residual 20 %.
TEST_A_CONVENTIONS = textwrap.dedent("""\
    version: 1
    config_version: test-A
    bailleur: {id: OLS, nom: Bailleur test, departement: "83"}
    settings:
      rotation: {base_date: start_of_prev_year}
      soustractions: {MUTATION: 150, ANRU: 60, ORCOD: 0, LHI: 10}
    reservataires:
      - {id: ETAT_PRIO, nom: État prioritaires, type: ETAT_PRIO}
      - {id: ETAT_AGENTS, nom: État agents, type: ETAT_AGENTS}
      - {id: AL, nom: Action Logement, type: ACTION_LOGEMENT}
      - {id: COMMUNE, nom: Commune, type: COLLECTIVITE}
      - {id: DEPARTEMENT, nom: Département, type: COLLECTIVITE}
    conventions:
      - {id: C1, reservataire: ETAT_PRIO, percentage: 25, decompte: attribution, start: "2024-01-01"}
      - {id: C2, reservataire: ETAT_AGENTS, percentage: 5, start: "2024-01-01"}
      - {id: C3, reservataire: AL, percentage: 35, decompte: bail_signe, start: "2024-01-01"}
      - {id: C4, reservataire: COMMUNE, percentage: 12, garantie_emprunt: true, start: "2024-01-01"}
      - {id: C5, reservataire: DEPARTEMENT, percentage: 3, garantie_emprunt: true, start: "2024-01-01"}
    """)


def conventions_a(**replace: str):
    text = TEST_A_CONVENTIONS
    for old, new in replace.items():
        text = text.replace(old, new)
    return loads_conventions(text, "test-A.yaml")


def patrimoine_a(year: int = 2025) -> tuple[list[Logement], list[Evenement]]:
    """Test A as dwellings and events: 10 000 in stock at 1/1/N, 800 excluded, base(N-1) 9 000,
    810 counted departures in N-1 (plus departures that must not count), 150 mises en service."""
    lgs: list[Logement] = []
    old = dt.date(1990, 6, 1)

    def add(**kw) -> Logement:
        lg = Logement(id=f"L{len(lgs) + 1:05d}", commune="83001", qpv=len(lgs) % 3 == 0, typologie="T3",
                      financement=kw.pop("financement", "PLUS"), mise_en_service=kw.pop("mes", old), **kw)
        lgs.append(lg)
        return lg

    for _ in range(300):
        add(financement="PLI")
    for _ in range(200):
        add(category="etudiant")
    for _ in range(50):
        add(status="reserve_defense")
    for _ in range(30):
        add(status="reserve_sante")
    for _ in range(120):
        add(status="vente")
    for _ in range(100):
        add(status="demolition")
    base = [add() for _ in range(9000)]
    base += [add(mes=dt.date(year - 1, 5, 1)) for _ in range(200)]  # entered during N-1
    for i in range(150):
        add(mes=dt.date(year, 3, 1) + dt.timedelta(days=i))          # mises en service of N
    events: list[Evenement] = []

    def lib(lg: Logement, motif: str = "DEPART", day: int = 0) -> None:
        events.append(Evenement(f"{lg.id}-{year - 1}", lg.id, dt.date(year - 1, 1, 1) + dt.timedelta(days=day % 365),
                                "LIBERATION", motif=motif, origine="ROTATION", line=len(events) + 2))

    for i, lg in enumerate(base[:810]):
        lib(lg, day=i)
    for i, lg in enumerate(base[810:900]):
        lib(lg, motif="MUTATION" if i % 2 else "ANRU", day=i)       # excluded by the rotation setting
    for lg in lgs[300:360]:
        lib(lg)                                                      # students: outside the base
    return lgs, events




def _ev(vid: str, date: str, typ: str, reservataire: str | None = None, **kw) -> Evenement:
    return Evenement(vid, f"LG-{vid}", dt.date.fromisoformat(date), typ, reservataire, **kw)


def events_e() -> list[Evenement]:
    """Test E of flux.md §10: seven vacancies, events in 2025 unless stated."""
    rows = [
        _ev("L1", "2025-01-10", "MISE_A_DISPOSITION", "AL"),
        _ev("L1", "2025-02-05", "PRESENTATION_CALEOL", "AL", decision="attribution"),
        _ev("L1", "2025-02-20", "BAIL_SIGNE", "AL"),
        _ev("L2", "2025-01-15", "MISE_A_DISPOSITION", "ETAT"),
        _ev("L2", "2025-02-14", "DEFAUT_DESIGNATION", "ETAT"),
        _ev("L2", "2025-03-01", "PRESENTATION_CALEOL", "BAILLEUR", decision="attribution"),
        _ev("L2", "2025-03-15", "BAIL_SIGNE", "BAILLEUR"),
        _ev("L3", "2025-01-20", "MISE_A_DISPOSITION", "COMMUNE"),
        _ev("L3", "2025-02-10", "PRESENTATION_CALEOL", "COMMUNE", decision="attribution_classee"),
        _ev("L3", "2025-02-20", "REFUS", "COMMUNE", candidat="cand-1"),
        _ev("L3", "2025-03-05", "BAIL_SIGNE", "COMMUNE", candidat="cand-2"),
        _ev("L4", "2025-02-01", "MISE_A_DISPOSITION", "AL"),
        _ev("L4", "2025-02-20", "PRESENTATION_CALEOL", "AL", decision="attribution"),
        _ev("L4", "2025-03-01", "REFUS", "AL"),
        _ev("L4", "2025-03-05", "MISE_A_DISPOSITION", "AL"),
        _ev("L4", "2025-03-25", "PRESENTATION_CALEOL", "AL", decision="attribution"),
        _ev("L4", "2025-04-10", "BAIL_SIGNE", "AL"),
        _ev("L5", "2025-12-15", "MISE_A_DISPOSITION", "ETAT"),
        _ev("L5", "2026-01-10", "PRESENTATION_CALEOL", "ETAT", decision="attribution"),
        _ev("L5", "2026-01-25", "BAIL_SIGNE", "ETAT"),
        _ev("L6", "2025-03-01", "MISE_A_DISPOSITION", "ETAT"),
        _ev("L6", "2025-03-20", "PRESENTATION_CALEOL", "ETAT", decision="attribution"),
        _ev("L6", "2025-03-28", "REFUS", "ETAT"),
        _ev("L6", "2025-03-29", "RETOUR_BAILLEUR", "ETAT"),
        _ev("L6", "2025-04-15", "PRESENTATION_CALEOL", "BAILLEUR", decision="attribution"),
        _ev("L6", "2025-05-01", "BAIL_SIGNE", "BAILLEUR"),
        _ev("L7", "2025-11-20", "MISE_A_DISPOSITION", "COMMUNE"),
        _ev("L7", "2025-12-10", "PRESENTATION_CALEOL", "COMMUNE", decision="non_attribution"),
        _ev("L7", "2025-12-12", "RETOUR_BAILLEUR", "COMMUNE"),
        _ev("L7", "2026-01-05", "PRESENTATION_CALEOL", "BAILLEUR", decision="attribution"),
        _ev("L7", "2026-01-20", "BAIL_SIGNE", "BAILLEUR"),
    ]
    return [replace(e, line=i + 2) for i, e in enumerate(rows)]


# flux.md Test E, expected charges: step → {réservataire: (2025, 2026)}.
EXPECTED_E = {
    "mise_a_disposition": {"AL": (2, 0), "ETAT": (3, 0), "COMMUNE": (2, 0), "BAILLEUR": (0, 0)},
    "proposition_caleol": {"AL": (2, 0), "ETAT": (2, 1), "COMMUNE": (2, 0), "BAILLEUR": (0, 0)},
    "attribution": {"AL": (2, 0), "ETAT": (2, 1), "COMMUNE": (1, 0), "BAILLEUR": (0, 1)},
    "bail_signe": {"AL": (2, 0), "ETAT": (1, 1), "COMMUNE": (1, 0), "BAILLEUR": (1, 1)},
}

CONVENTIONS_E = textwrap.dedent("""\
    version: 1
    bailleur: {id: OLS, nom: Bailleur E, departement: "83", decompte: STEP}
    settings:
      decompte: {defaut_designation: true, refus_adapte: false}
    reservataires:
      - {id: AL, nom: Action Logement, type: ACTION_LOGEMENT}
      - {id: ETAT, nom: Préfet, type: ETAT_PRIO}
      - {id: COMMUNE, nom: Commune, type: COLLECTIVITE}
    conventions:
      - {id: CAL, reservataire: AL, percentage: 30, decompte: STEP}
      - {id: CET, reservataire: ETAT, percentage: 25, decompte: STEP}
      - {id: CCO, reservataire: COMMUNE, percentage: 10, decompte: STEP}
    """)


def logements_e() -> dict[str, Logement]:
    spec = {"L1": ("T2", "PLUS", False), "L2": ("T3", "PLAI", True), "L3": ("T3", "PLUS", False),
            "L4": ("T4", "PLS", True), "L5": ("T1", "PLUS", False), "L6": ("T3", "PLAI", False),
            "L7": ("T5", "PLUS", True)}
    return {f"LG-{k}": Logement(f"LG-{k}", "83001" if i % 2 else "83008", q, t, f, line=i + 2)
            for i, (k, (t, f, q)) in enumerate(spec.items())}


# ----------------------------------------------------------------------------- the CLI on files

EXAMPLES_FLUX = Path(__file__).resolve().parents[2] / "examples" / "flux"
# words of a raw Python message that must never reach a user
RAW_PYTHON = ("could not convert", "invalid literal", "Invalid literal", "OverflowError", "ligne illisible")


def run_cli(argv: list[str]) -> int:
    """``cotation`` with ``argv``: its exit code, usage errors (argparse's SystemExit) included."""
    from cotation.cli import main
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def problems(exc) -> list[str]:
    """The located problems of a ``pytest.raises(FluxInputError)`` as text."""
    return [str(p) for p in exc.value.problems]


def flux_args(d: Path, year: str = "2025") -> list[str]:
    """The three inputs of the flux commands in folder ``d``, and ``--year``."""
    return ["--logements", str(d / "logements.csv"), "--conventions", str(d / "conventions.yaml"),
            "--evenements", str(d / "evenements.csv"), "--year", year]

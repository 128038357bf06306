"""``cotation evaluate`` (the CIL's periodic evaluation) and ``cotation location-voulue``
(applicants for an advertised dwelling). Exit codes: 0 ok, 1 invalid input or grid, 2 usage."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"« {text} » n'est pas une date AAAA-MM-JJ") from None


def _objective(text: str) -> tuple[str, float]:
    from cotation.analysis.evaluate import OBJECTIVES
    key, _, value = text.partition("=")
    if key not in OBJECTIVES:
        raise argparse.ArgumentTypeError(
            f"objectif « {key} » inconnu (attendus : {', '.join(OBJECTIVES)})")
    try:
        pct = float(value.strip().rstrip("%").replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"« {text} » : attendu NOM=POURCENTAGE, par exemple "
                                         "prioritaires=25") from None
    if not 0 <= pct <= 100:
        raise argparse.ArgumentTypeError(f"« {text} » : un pourcentage entre 0 et 100")
    return key, pct


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"« {text} » : un entier >= 1 attendu")
    return int(text)


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="évaluation périodique de la cotation par la CIL",
                       description="Évalue une période d'attributions : rang des demandes "
                       "attribuées le jour de l'attribution, publics prioritaires face aux "
                       "objectifs, demandes bien classées toujours en attente.")
    p.add_argument("grid", help="grille de cotation (YAML)")
    p.add_argument("demandes", help="demandes en attente (CSV ou Parquet canonique)")
    p.add_argument("attributions", help="attributions avec les champs de la demande attribuée")
    p.add_argument("--from", dest="start", type=_date, required=True, help="début AAAA-MM-JJ")
    p.add_argument("--to", dest="end", type=_date, required=True, help="fin AAAA-MM-JJ (incluse)")
    p.add_argument("-o", "--output", required=True, help="dossier de sortie")
    p.add_argument("--deciles", type=_positive, default=1,
                   help="« bien classée » : dans les N premiers déciles de sa file (défaut 1)")
    p.add_argument("--delai-anormalement-long", type=_positive, metavar="MOIS",
                   help="délai fixé par le département (sinon celui de la grille)")
    p.add_argument("--objectif", type=_objective, action="append", metavar="NOM=POURCENT",
                   help="objectif de la CIL, répétable : prioritaires, dalo, quartile1_hors_qpv "
                        "(défaut : prioritaires=25 et quartile1_hors_qpv=25)")
    p.add_argument("--seuil-quartile", type=float, metavar="EUROS",
                   help="seuil du premier quartile (ressources annuelles par UC, arrêté)")
    p.add_argument("--engine", choices=("auto", "compiled", "interpreter"), default="auto")
    p.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("location-voulue", help="classement des candidats à un logement proposé",
                       description="Recevabilité et rang de chaque candidat à un logement "
                       "proposé en location voulue, et l'avis adressé à chacun.")
    q.add_argument("grid", help="grille de cotation (YAML)")
    q.add_argument("demandes", help="demandes (CSV ou Parquet canonique)")
    q.add_argument("--offre", required=True, help="le logement proposé (YAML ou JSON)")
    q.add_argument("--candidats", help="fichier des numéros uniques candidats, un par ligne "
                                       "(défaut : toutes les demandes de la commune)")
    q.add_argument("--today", type=_date, required=True, help="date de référence AAAA-MM-JJ")
    q.add_argument("-o", "--output", required=True, help="dossier de sortie")
    q.set_defaults(func=cmd_location_voulue)


def _fail(cmd: str, message: str) -> int:
    print(f"cotation {cmd} : {message}", file=sys.stderr)
    return 1


def _grid_and_demandes(cmd: str, grid_path: str, demandes: str):
    from cotation.grid import load_grid
    from cotation.grid.diagnostics import GridError
    from sne_adapters import read_demandes
    try:
        grid = load_grid(grid_path)
    except GridError as exc:
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
        return None
    except OSError as exc:
        _fail(cmd, f"grille illisible : {exc}")
        return None
    try:
        res = read_demandes(demandes)
    except (OSError, ValueError) as exc:
        _fail(cmd, f"demandes illisibles : {exc}")
        return None
    if res.rejects:
        r = res.rejects[0]
        print(f"{demandes} : {res.n_read} lignes lues, {res.n_accepted} acceptées, "
              f"{len(res.rejects)} rejetées (première : ligne {r.line}, {r.column} : {r.reason})",
              file=sys.stderr)
    return grid, res.table


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cotation.analysis.evaluate import DEFAULT_OBJECTIVES, EvaluationParams, evaluate
    from cotation.analysis.evaluation_report import write_evaluation
    from cotation.data.attributed import read_attributed

    if args.end < args.start:
        print("cotation evaluate : --to précède --from", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    loaded = _grid_and_demandes("evaluate", args.grid, args.demandes)
    if loaded is None:
        return 1
    grid, stock = loaded
    try:
        ar = read_attributed(args.attributions)
    except (OSError, ValueError) as exc:
        return _fail("evaluate", f"attributions illisibles : {exc}")
    if ar.rejects:
        r = ar.rejects[0]
        print(f"{args.attributions} : {ar.n_read} lignes lues, {len(ar.attributions)} acceptées, "
              f"{len(ar.rejects)} rejetées (première : ligne {r.line}, {r.column} : {r.reason})",
              file=sys.stderr)
    objectives = dict(args.objectif) if args.objectif else dict(DEFAULT_OBJECTIVES)
    params = EvaluationParams(args.start, args.end, top_deciles=min(args.deciles, 10),
                              delai_mois=args.delai_anormalement_long, objectives=objectives,
                              quartile_threshold=args.seuil_quartile, engine=args.engine)
    try:
        ev = evaluate(grid.ir, stock, ar.demandes, ar.attributions, params)
        files = write_evaluation(ev, args.output)
    except (OSError, ValueError) as exc:
        return _fail("evaluate", str(exc))
    if ar.rejects:
        from cotation.data.table import write_rejects_csv
        write_rejects_csv(ar.rejects, f"{args.output}/attributions_rejetees.csv")
        files.append("attributions_rejetees.csv")
    s = ev.summary
    print(f"{s['attributions']['classees']} attributions classées sur "
          f"{s['attributions']['sur_le_territoire']} ; {s['attente']['bien_classees_a_revoir']} "
          f"demandes bien classées à revoir ; écrit dans {args.output} : {', '.join(files)} "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_location_voulue(args: argparse.Namespace) -> int:
    from cotation.analysis.location_voulue import read_offre
    from cotation.analysis.notices import write_location_voulue
    from cotation.api import Scorer

    t0 = time.perf_counter()
    try:
        offre = read_offre(args.offre)
        candidats = None
        if args.candidats:
            with open(args.candidats, encoding="utf-8-sig") as fh:
                candidats = [x.strip() for x in fh if x.strip() and x.strip() != "numero_unique"]
    except (OSError, ValueError) as exc:
        return _fail("location-voulue", str(exc))
    loaded = _grid_and_demandes("location-voulue", args.grid, args.demandes)
    if loaded is None:
        return 1
    grid, table = loaded
    if offre.commune not in grid.ir.communes:
        return _fail("location-voulue", f"la commune {offre.commune} n'est pas dans le "
                     f"territoire de la grille {grid.ir.id}")
    try:
        index = Scorer(grid).index(table, today=args.today)
        applicants = index.location_voulue(offre, candidats)
        files = write_location_voulue(offre, applicants, args.output, grille=grid.ir.title)
    except (OSError, ValueError) as exc:
        return _fail("location-voulue", str(exc))
    n_ok = sum(1 for a in applicants if a["recevable"])
    print(f"{len(applicants)} candidats, {n_ok} recevables ; écrit dans {args.output} : "
          f"{', '.join(files)} ({time.perf_counter() - t0:.1f} s)")
    return 0

"""``cotation evaluate`` (the CIL's periodic evaluation) and ``cotation location-voulue``
(applicants for an advertised dwelling). Exit codes: 0 ok, 1 invalid input or grid, 2 usage."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

from cotation.cli.core import add_output
from cotation.cli.outputs import output_dir
from cotation.i18n import _


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("'{text}' is not a date YYYY-MM-DD").format(text=text)) from None


def _objective(text: str) -> tuple[str, float]:
    from cotation.analysis.evaluate import OBJECTIVES
    key, _sep, value = text.partition("=")
    if key not in OBJECTIVES:
        raise argparse.ArgumentTypeError(
            _("unknown objective '{key}' (expected: {expected})").format(
                key=key, expected=", ".join(OBJECTIVES)))
    try:
        pct = float(value.strip().rstrip("%").replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("'{text}': NAME=PERCENT expected, for example prioritaires=25").format(text=text)) from None
    if not 0 <= pct <= 100:
        raise argparse.ArgumentTypeError(
            _("'{text}': a percentage between 0 and 100 is expected").format(text=text))
    return key, pct


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            _("'{text}': a whole number of at least 1 is expected").format(text=text))
    return int(text)


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help=_("evaluate the cotation over a period (the CIL's periodic evaluation)"),
                       description=_("Evaluate a period of attributions: rank of the attributed "
                                     "demandes on the day of the attribution, priority publics "
                                     "against the objectives, well-ranked demandes still waiting."))
    p.add_argument("grid", metavar=_("GRID"), help=_("grid file (YAML)"))
    p.add_argument("demandes", metavar=_("DEMANDES"),
                   help=_("waiting demandes (canonical CSV or Parquet)"))
    p.add_argument("attributions", metavar=_("ATTRIBUTIONS"),
                   help=_("attributions with the fields of the attributed demande"))
    p.add_argument("--from", dest="start", type=_date, required=True, metavar=_("DATE"),
                   help=_("start YYYY-MM-DD"))
    p.add_argument("--to", dest="end", type=_date, required=True, metavar=_("DATE"),
                   help=_("end YYYY-MM-DD (included)"))
    add_output(p, _("output folder"), metavar=_("FOLDER"))
    p.add_argument("--deciles", type=_positive, default=1, metavar="N",
                   help=_("'well ranked': in the first N deciles of its queue (default 1)"))
    p.add_argument("--delai-anormalement-long", type=_positive, metavar=_("MONTHS"),
                   help=_("delay set by the département (otherwise the grid's)"))
    p.add_argument("--objectif", type=_objective, action="append", metavar=_("NAME=PERCENT"),
                   help=_("objective of the CIL, repeatable: prioritaires, dalo, quartile1_hors_qpv "
                          "(default: prioritaires=25 and quartile1_hors_qpv=25)"))
    p.add_argument("--seuil-quartile", type=float, metavar=_("EUROS"),
                   help=_("first-quartile threshold (annual resources per consumption unit, arrêté)"))
    p.add_argument("--engine", choices=("auto", "compiled", "interpreter"), default="auto",
                   help=_("scoring back end (default auto: compiled, the interpreter if it cannot run)"))
    p.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("location-voulue", help=_("rank the applicants for an offered dwelling (location voulue)"),
                       description=_("Admissibility and rank of each applicant for a dwelling "
                                     "offered in location voulue, and the notice sent to each."))
    q.add_argument("grid", metavar=_("GRID"), help=_("grid file (YAML)"))
    q.add_argument("demandes", metavar=_("DEMANDES"), help=_("demandes (canonical CSV or Parquet)"))
    q.add_argument("--offre", required=True, metavar=_("FILE"),
                   help=_("the offered dwelling (YAML or JSON)"))
    q.add_argument("--candidats", metavar=_("FILE"),
                   help=_("file of the applicants' numeros uniques, one per line (default: every "
                          "demande of the commune)"))
    q.add_argument("--today", type=_date, required=True, help=_("reference date YYYY-MM-DD"))
    add_output(q, _("output folder"), metavar=_("FOLDER"))
    q.set_defaults(func=cmd_location_voulue)


def _fail(cmd: str, message: str) -> int:
    from cotation.i18n import print_error
    print_error(f"{cmd}: {message}")
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
        _fail(cmd, _("unreadable grid: {reason}").format(reason=exc))
        return None
    from cotation.data.boundary import admit
    from cotation.engine.reads import reads_of
    needs, known = reads_of(grid.ir)
    try:
        # through the boundary with what the grid reads: a column it lacks stops the run
        res = admit(demandes, needs=needs, known_extras=known, reader=read_demandes).result
    except (OSError, ValueError) as exc:
        _fail(cmd, _("unreadable demandes: {reason}").format(reason=exc))
        return None
    if res.rejects:
        print(_rejects_line(demandes, res.n_read, res.n_accepted, res.rejects), file=sys.stderr)
    return grid, res.table, needs


def _rejects_line(path, n_read: int, n_accepted: int, rejects) -> str:
    r = rejects[0]
    return _("{path}: {read} rows read, {accepted} accepted, {rejected} rejected (first: line "
             "{line}, {column}: {reason})").format(path=path, read=n_read, accepted=n_accepted,
                                                   rejected=len(rejects), line=r.line,
                                                   column=r.column, reason=r.reason)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cotation.analysis.evaluate import DEFAULT_OBJECTIVES, EvaluationParams, evaluate
    from cotation.analysis.evaluation_report import write_evaluation
    from cotation.data.attributed import read_attributed

    if args.end < args.start:
        from cotation.cli.outputs import usage_error
        raise usage_error(_("--to comes before --from"))
    output_dir(args.output, inputs=(args.grid, args.demandes, args.attributions))
    t0 = time.perf_counter()
    loaded = _grid_and_demandes("evaluate", args.grid, args.demandes)
    if loaded is None:
        return 1
    grid, stock, needs = loaded
    try:
        ar = read_attributed(args.attributions, needs=needs)
    except (OSError, ValueError) as exc:
        return _fail("evaluate", _("unreadable attributions: {reason}").format(reason=exc))
    if ar.rejects:
        print(_rejects_line(args.attributions, ar.n_read, len(ar.attributions), ar.rejects),
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
    print(_("{ranked} attributions ranked out of {total}; {review} well-ranked demandes to "
            "review; written in {out}: {files} ({seconds:.1f} s)").format(
                ranked=s["attributions"]["classees"], total=s["attributions"]["sur_le_territoire"],
                review=s["attente"]["bien_classees_a_revoir"], out=args.output,
                files=", ".join(files), seconds=time.perf_counter() - t0))
    return 0


def cmd_location_voulue(args: argparse.Namespace) -> int:
    from cotation.analysis.location_voulue import read_offre
    from cotation.analysis.notices import write_location_voulue
    from cotation.api import Scorer

    t0 = time.perf_counter()
    output_dir(args.output, inputs=(args.grid, args.demandes, args.offre, args.candidats))
    from cotation.cli.outputs import describe_os_error
    try:
        offre = read_offre(args.offre)
    except OSError as exc:
        return _fail("location-voulue", describe_os_error(exc))
    except UnicodeDecodeError as exc:
        return _fail("location-voulue", _("{path}: not UTF-8 text ({reason})").format(
            path=args.offre, reason=exc.reason))
    except ValueError as exc:
        return _fail("location-voulue", str(exc))
    candidats = None
    if args.candidats:
        try:
            with open(args.candidats, encoding="utf-8-sig") as fh:
                candidats = [x.strip() for x in fh if x.strip() and x.strip() != "numero_unique"]
        except OSError as exc:
            return _fail("location-voulue", describe_os_error(exc))
        except UnicodeDecodeError as exc:
            return _fail("location-voulue", _("{path}: not UTF-8 text ({reason})").format(
                path=args.candidats, reason=exc.reason))
    loaded = _grid_and_demandes("location-voulue", args.grid, args.demandes)
    if loaded is None:
        return 1
    grid, table, _needs = loaded
    if offre.commune not in grid.ir.communes:
        return _fail("location-voulue", _("the commune {commune} is not in the territory of "
                                          "the grid {grid}").format(commune=offre.commune,
                                                                    grid=grid.ir.id))
    try:
        index = Scorer(grid).index(table, today=args.today)
        applicants = index.location_voulue(offre, candidats)
        files = write_location_voulue(offre, applicants, args.output, grille=grid.ir.title)
    except (OSError, ValueError) as exc:
        return _fail("location-voulue", str(exc))
    n_ok = sum(1 for a in applicants if a["recevable"])
    print(_("{n} applicants, {ok} admissible; written in {out}: {files} ({seconds:.1f} s)").format(
        n=len(applicants), ok=n_ok, out=args.output, files=", ".join(files),
        seconds=time.perf_counter() - t0))
    return 0

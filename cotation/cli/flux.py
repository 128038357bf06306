"""``cotation flux …``: assiette, targets, dispatch, verify, bilan, echeances, etat-des-lieux,
conversion, consolider, stock, generate.

Reference dates are arguments (``--year``, ``--today``), never the wall clock, and every
output is written in a fixed order so the same inputs give byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from cotation.cli.arguments import (YEAR_MAX, YEAR_MIN, count_arg as _count, date_arg as _date,
                                    id_numbers as _pairs, positive_int as _positive_int,
                                    year_between)
from cotation.cli.core import add_output
from cotation.cli.outputs import (EXIT_INPUT, EXIT_USAGE, CommandError, atomic_dir, atomic_file,
                                  input_file, output_dir, output_file)
from cotation.flux.errors import FluxInputError, Issue, Problem
from cotation.templating import TemplatesError
from cotation.i18n import _, print_error, warning_line

_EXIT_ISSUES = 1
_EXIT_INPUT = EXIT_INPUT
_SHOWN_REJECTS = 20    # rejected lines of a --scores file listed on stderr (all are counted)


def register(subparsers: Any) -> None:
    """Add the ``flux`` command group to the top-level ``cotation`` parser."""
    flux = subparsers.add_parser("flux", help=_("gestion en flux of reservations"),
                                 description=_("Gestion en flux: assiette, targets, dispatch of freed "
                                               "dwellings, décompte and bilans (docs/flux.md)."))
    sub = flux.add_subparsers(dest="flux_command", metavar=_("SUBCOMMAND"), title=_("subcommands"))
    sub.required = True

    p = sub.add_parser("assiette", help=_("assiette, rotation rate and annual flux"))
    _inputs(p)
    _output(p, _("output folder (assiette.json, .csv, _detail.csv); otherwise JSON on stdout"), False)
    p.set_defaults(func=cmd_assiette)

    p = sub.add_parser("targets", help=_("annual targets per réservataire and legal checks"))
    _inputs(p, today=True)
    _output(p, _("output folder (targets.json, targets.csv); otherwise JSON on stdout"), False)
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("dispatch", help=_("dispatch the dwellings freed during the year (audit log)"))
    _inputs(p, today=True)
    p.add_argument("--demandes", type=Path, help=_("demandes in the canonical format (CSV) for the candidate shortlists"))
    p.add_argument("--scores", type=Path,
                   help=_("output of `cotation score` (numero_unique, commune, score, score_valide, rank)"))
    p.add_argument("--grid", type=Path, action="append",
                   help=_("cotation grid: the demandes are scored at --today (instead of --scores); "
                          "repeatable: several grids (mutations and first demandes, one per EPCI) in one "
                          "shortlist, each on its scope, in the order given"))
    p.add_argument("--fusion", choices=("entrelacement", "priorite"),
                   help=_("how several grids are merged (default: settings.shortlist.fusion_grilles, else "
                          "entrelacement): entrelacement = first of each grid, then second…; priorite = the "
                          "whole first grid, then the next"))
    p.add_argument("-k", type=_positive_int, help=_("size of the candidate shortlists (default: the conventions', else 3)"))
    p.add_argument("--motifs", action="store_true",
                   help=_("for each shortlist, why each better-ranked demande was not retained (eligibility "
                          "filter failed, refusal of an earlier offer in the events, or already proposed in "
                          "an earlier shortlist)"))
    _output(p, _("output folder"))
    p.set_defaults(func=cmd_dispatch)

    p = sub.add_parser("verify", help=_("replay an audit log and check every decision"))
    p.add_argument("--audit", type=Path, required=True, help=_("audit.jsonl written by `cotation flux dispatch`"))
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bilan", help=_("annual or intermediate bilan per réservataire (CSV, JSON, HTML)"))
    _inputs(p, today=True)
    p.add_argument("--from", dest="start", type=_date, help=_("start of the period (default: 1 January of --year)"))
    p.add_argument("--to", dest="end", type=_date, help=_("end of the period, included (default: 31 December of --year)"))
    _output(p, _("output folder"))
    p.add_argument("--templates", type=Path, metavar=_("FOLDER"),
                   help=_("templates folder (logo, address, wording): its files replace the shipped "
                          "templates of the same name (docs/templates.md)"))
    p.set_defaults(func=cmd_bilan)

    p = sub.add_parser("echeances", help=_("deadlines of the dwellings' handover: deadlines due and "
                                           "overdue at a date"))
    p.add_argument("--logements", type=Path, required=True, metavar=_("FILE"),
                   help=_("dwellings (RPLS-like CSV)"))
    p.add_argument("--conventions", type=Path, required=True, metavar=_("FILE"),
                   help=_("conventions (YAML, with their deadlines)"))
    p.add_argument("--evenements", type=Path, required=True, metavar=_("FILE"),
                   help=_("vacancy events (CSV)"))
    p.add_argument("--today", type=_date, required=True, metavar=_("DATE"),
                   help=_("reference date YYYY-MM-DD"))
    p.add_argument("--departement", help=_("département (default: the bailleur's or the dwellings')"))
    p.add_argument("--statut", action="append", choices=("respecte", "hors_delai", "a_venir", "depasse",
                                                         "retour_bailleur"),
                   help=_("keep only these statuses (repeatable)"))
    _output(p, _("output CSV file; otherwise CSV on stdout"), required=False, file=True)
    p.set_defaults(func=cmd_echeances)

    p = sub.add_parser("etat-des-lieux", help=_("état des lieux of the reservations in stock (financement, "
                                                "typologie, QPV, commune, EPCI, collectif) and rotation "
                                                "per réservataire"))
    p.add_argument("--logements", type=Path, required=True, metavar=_("FILE"),
                   help=_("dwellings (RPLS-like CSV, optional columns reservataire_stock and collectif)"))
    p.add_argument("--evenements", type=Path, metavar=_("FILE"),
                   help=_("vacancy events, for the rotation of each réservataire's stock"))
    p.add_argument("--year", type=_year, metavar=_("YEAR"),
                   help=_("year of the rotation (departures of the year ÷ stock on 31 December)"))
    p.add_argument("--date", type=_date, metavar=_("DATE"),
                   help=_("dwellings in stock at this date (default: every row)"))
    _output(p, _("output folder (etat_des_lieux.json, .csv); otherwise JSON on stdout"), required=False)
    p.set_defaults(func=cmd_etat_des_lieux)

    p = sub.add_parser("conversion", help=_("from stock to flux: strict share, share weighted by the "
                                            "rotation, droits uniques (flux.md §6)"))
    p.add_argument("--methode", required=True, choices=("part_stricte", "rotation", "droits_uniques"),
                   help=_("conversion method"))
    p.add_argument("--stock", action="append", default=[], metavar="ID=N",
                   help=_("dwellings reserved by a réservataire (repeatable); BAILLEUR=N for the "
                          "unreserved ones"))
    p.add_argument("--logements", type=Path, metavar=_("FILE"),
                   help=_("or: the dwellings with their reservataire_stock column"))
    p.add_argument("--rotation", action="append", default=[], metavar=_("ID=RATE"),
                   help=_("rotation rate in %% of the contingent (rotation method; droits_uniques with "
                          "--stock)"))
    p.add_argument("--droits", type=_count, metavar="N", help=_("droits uniques granted by the convention"))
    p.add_argument("--annees", type=_positive_int, metavar="N",
                   help=_("length of the convention (droits uniques), in years"))
    p.add_argument("--attributions", type=_positive_int, metavar="N",
                   help=_("attributions of the year (droits uniques → percentage)"))
    p.add_argument("--flux", type=_count, metavar="N",
                   help=_("annual flux to share out according to the shares obtained"))
    p.set_defaults(func=cmd_conversion)

    p = sub.add_parser("consolider", help=_("consolidate the bilans of several bailleurs (EPCI, CIL)"))
    p.add_argument("--bilan", type=Path, action="append", required=True, metavar=_("FOLDER"),
                   help=_("folder (or bilan.json) written by `cotation flux bilan`, one per bailleur "
                          "(repeatable)"))
    p.add_argument("--epci", metavar="SIREN",
                   help=_("SIREN of the CIL's EPCI: keep only its communes in the territorial table"))
    _output(p, _("output folder"))
    p.set_defaults(func=cmd_consolider)

    p = sub.add_parser("stock", help=_("état des réservations en stock → flux percentages "
                                       "(totals checked)"))
    p.add_argument("--table", type=Path, required=True, help=_("CSV reservataire,financement,<typologies…>,TOTAL"))
    p.add_argument("--flux", type=_count, help=_("annual flux to share out with these percentages"))
    p.set_defaults(func=cmd_stock)

    p = sub.add_parser("generate", help=_("synthetic bailleur (dwellings, conventions, events)"))
    p.add_argument("--seed", type=_count, required=True, help=_("random seed (same seed, same files)"))
    p.add_argument("--dwellings", type=_positive_int, required=True, help=_("number of dwellings"))
    p.add_argument("--year", type=year_between(GENERATE_YEAR_MIN, YEAR_MAX), default=2025,
                   help=_("year of the generated vacancies (default 2025)"))
    p.add_argument("--departement", default="83", help=_("département (default 83)"))
    p.add_argument("--demandes", type=_count, default=0, help=_("also generate N demandes and their scores file"))
    _output(p, _("output folder"))
    p.set_defaults(func=cmd_generate)


def _output(p: argparse.ArgumentParser, help: str, required: bool = True, file: bool = False) -> None:
    """``-o/--output`` naming a folder (``file=True``: a CSV file), written atomically by _guard."""
    add_output(p, help, required=required, metavar=_("FILE") if file else _("FOLDER"))
    p.set_defaults(out=None, output_is_file=file)


# `flux generate` builds a patrimoine commissioned from 1960 to three years before --year.
GENERATE_YEAR_MIN = 1964
_year = year_between(YEAR_MIN, YEAR_MAX)


def _inputs(p: argparse.ArgumentParser, today: bool = False) -> None:
    p.add_argument("--logements", type=Path, required=True, help=_("dwellings (RPLS-like CSV)"))
    p.add_argument("--conventions", type=Path, required=True, help=_("conventions (YAML)"))
    p.add_argument("--evenements", type=Path, required=True, help=_("vacancy events (CSV)"))
    p.add_argument("--year", type=_year, required=True, help=_("year N of the flux"))
    p.add_argument("--departement", help=_("département of the flux (default: the bailleur's or the dwellings')"))
    p.add_argument("--epci", help=_("SIREN of an EPCI: keep only the dwellings of its communes (commune "
                                    "table), like the DDETS 06's assiette per EPCI"))
    if today:
        p.add_argument("--today", type=_date, help=_("reference date (default: 1 January of --year)"))


@dataclass
class _Loaded:
    logements: list
    by_id: dict
    cf: Any
    events: list
    departement: str | None


def _load(args: argparse.Namespace) -> _Loaded:
    from cotation.flux.conventions import load_conventions
    from cotation.flux.inputs import read_evenements, read_logements
    cf = load_conventions(args.conventions)
    logements = read_logements(args.logements)
    by_id = {lg.id: lg for lg in logements}
    known = {r.id for r in cf.reservataires} | {"BAILLEUR"}
    events = read_evenements(args.evenements, logements=by_id, reservataires=known)
    if getattr(args, "epci", None):
        from cotation.data.communes import epci_names, epci_of
        if args.epci not in epci_names():
            raise FluxInputError([Problem("--epci", 1, _("'{siren}' is not the SIREN of a known EPCI").format(siren=args.epci))])
        of = epci_of({lg.commune for lg in logements})
        logements = [lg for lg in logements if of[lg.commune] == args.epci]
        by_id = {lg.id: lg for lg in logements}
        events = [e for e in events if e.logement_id in by_id]
    dep = args.departement or cf.bailleur.departement
    if dep is None:
        deps = sorted({lg.departement for lg in logements})
        if len(deps) > 1:
            raise FluxInputError([Problem(str(args.logements), 1, _(
                "logements of several départements ({deps}): give --departement").format(
                    deps=", ".join(deps)))])
        dep = deps[0] if deps else None
    return _Loaded(logements, by_id, cf, events, dep)


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        args.out = Path(args.output) if getattr(args, "output", None) is not None else None
        for name in ("logements", "conventions", "evenements", "demandes", "scores", "grid",
                     "audit", "table"):
            value = getattr(args, name, None)
            if isinstance(value, Path):
                input_file(value, f"--{name}")
        inputs = [v for v in (getattr(args, n, None) for n in
                              ("logements", "conventions", "evenements", "demandes", "scores", "grid"))
                  if isinstance(v, Path)]
        file_output = getattr(args, "output_is_file", False)
        if args.out is not None:
            if file_output:
                output_file(args.out, (".csv",), inputs=inputs)
            else:
                output_dir(args.out, inputs=inputs)
        try:
            if args.out is None:
                return fn(args)
            final = args.out
            with (atomic_file if file_output else atomic_dir)(final) as tmp:
                args.out = tmp
                code = fn(args)
            return code
        except FluxInputError as exc:
            print(str(exc), file=sys.stderr)
            return _EXIT_INPUT
        except LookupError as exc:  # e.g. no income ceilings for --year
            print_error(str(exc.args[0] if exc.args else exc))
            return _EXIT_INPUT
        except TemplatesError as exc:  # --templates: a missing folder, a broken template
            print_error(_("--templates: {problem}").format(problem=exc))
            return _EXIT_INPUT
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def _write_csv(path: Path, rows: Sequence[dict], cols: Sequence[str] | None = None) -> None:
    cols = list(cols or (rows[0].keys() if rows else []))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _report(issues: Sequence[Issue]) -> int:
    for i in issues:
        print(str(i), file=sys.stderr)
    return _EXIT_ISSUES if any(i.is_error for i in issues) else 0


def _prepare(args: argparse.Namespace):
    from cotation.flux.assiette import compute_assiette
    from cotation.flux.targets import compute_targets
    from cotation.flux.conversion import resolve_quantities
    d = _load(args)
    on = getattr(args, "today", None) or dt.date(args.year, 1, 1)
    a = compute_assiette(d.logements, d.events, args.year, d.cf.settings, d.departement)
    d.cf = resolve_quantities(d.cf, a.flux_net)
    t = compute_targets(a, d.by_id, d.cf, on)
    return d, a, t, on


@_guard
def cmd_assiette(args: argparse.Namespace) -> int:
    """Assiette, rotation and flux of --year, traced to the input rows."""
    from cotation.flux.assiette import compute_assiette
    d = _load(args)
    a = compute_assiette(d.logements, d.events, args.year, d.cf.settings, d.departement)
    if args.out is None:
        sys.stdout.write(_dump(a.as_dict()))
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "assiette.json").write_text(_dump(a.as_dict()), encoding="utf-8")
        _write_csv(args.out / "assiette.csv", a.rows(), ("poste", "valeur", "affichage", "formule"))
        _write_csv(args.out / "assiette_detail.csv",
                   [{"poste": t.poste, "logement_id": t.logement_id, "vacance_id": t.vacance_id, "ligne": t.line}
                    for t in a.trace], ("poste", "logement_id", "vacance_id", "ligne"))
        print(_("assiette {year}: base {base}, net flux {flux} → {path}").format(
            year=args.year, base=a.base, flux=a.flux_net, path=args.output))
    return _report(a.issues)


@_guard
def cmd_targets(args: argparse.Namespace) -> int:
    """Targets with the legal checks; exit 1 when a check fails."""
    from cotation.flux.checks import validate
    d, a, t, on = _prepare(args)
    issues = list(a.issues) + list(t.issues) + validate(a, d.by_id, d.cf, on)
    doc = t.as_dict()
    doc["issues"] = [i.as_dict() for i in issues]
    doc["valide"] = not any(i.is_error for i in issues)
    if args.out is None:
        sys.stdout.write(_dump(doc))
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "targets.json").write_text(_dump(doc), encoding="utf-8")
        _write_csv(args.out / "targets.csv", t.rows())
        for r in t.rows():
            print(f"{r['reservataire']:<20} {r['cible']:>6}  "
                  + _("(exact {value})").format(value=r['cible_exacte_affichee']))
    return _report(issues)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@_guard
def cmd_dispatch(args: argparse.Namespace) -> int:
    """Replay the year's vacancies through §8; write decisions, audit log and shortlists."""
    from cotation.flux.dispatch import run_dispatch
    from cotation.flux.shortlist import ScoreFileSource
    d, a, t, on = _prepare(args)
    if not t.valid:
        _report(t.issues)
        print_error(_("invalid targets: no dispatch possible"))
        return _EXIT_ISSUES
    source = None
    if args.grid and args.scores:
        print_error(_("--grid and --scores exclude each other (the grid scores the demandes itself)"))
        return EXIT_USAGE
    if args.demandes:
        s = d.cf.settings
        from sne_adapters import read_demandes
        kw = dict(year=args.year, ref_date=on, communes=sorted({lg.commune for lg in d.logements}),
                  household_size=dict(s.household_size) or None, max_taux_effort=s.max_taux_effort,
                  reader=read_demandes, explain=args.motifs)
        if args.grid:
            from cotation.data.boundary import MissingColumnsError
            from cotation.grid.diagnostics import GridError
            try:
                source = ScoreFileSource.from_grid(args.demandes, args.grid, on,
                                                   merge=args.fusion or s.grid_merge, **kw)
            except GridError as exc:
                for diag in exc.diagnostics:
                    print(diag.format(), file=sys.stderr)
                return _EXIT_INPUT
            except MissingColumnsError as exc:     # a column a grid reads is not in the file
                print_error(str(exc))
                return _EXIT_INPUT
        else:
            source = ScoreFileSource.from_files(args.demandes, args.scores, **kw)
        rs = source.read_summary
        print(_("demandes: {read} read, {accepted} kept, {rejected} rejected").format(
            read=rs['read'], accepted=rs['accepted'], rejected=rs['rejected']), file=sys.stderr)
        ss = source.score_summary
        if ss:
            print(_("scores: {read} read, {accepted} kept, {rejected} rejected").format(
                read=ss['read'], accepted=ss['accepted'], rejected=ss['rejected']), file=sys.stderr)
            for problem in source.score_rejects[:_SHOWN_REJECTS]:
                print(warning_line(str(problem)), file=sys.stderr)
            if ss['rejected'] > _SHOWN_REJECTS:
                print(warning_line(_("… and {n} more").format(n=ss['rejected'] - _SHOWN_REJECTS)), file=sys.stderr)
    elif args.scores or args.grid:
        print_error(_("--scores and --grid also need --demandes"))
        return EXIT_USAGE
    grids = list(args.grid or ())
    from cotation.flux.droits import droits_usage
    from cotation.flux.inputs import by_vacancy
    jan1 = dt.date(args.year, 1, 1)
    usage = droits_usage(by_vacancy(d.events), d.cf, jan1, jan1 - dt.timedelta(days=1))
    res = run_dispatch(d.by_id, d.events, d.cf, t, a.excluded, args.year, source=source, k=args.k,
                       departement=d.departement, rights_left={r: max(u.left, 0) for r, u in usage.items()})
    header = dict(res.header)
    header["entrees"] = {name: {"fichier": p.name, "sha256": _sha256(p)}
                         for name, p in (("logements", args.logements), ("conventions", args.conventions),
                                         ("evenements", args.evenements), ("demandes", args.demandes),
                                         ("scores", args.scores), ("grille", grids[0] if len(grids) == 1 else None))
                         if p is not None}
    if len(grids) > 1:
        header["grilles"] = [{"ordre": i + 1, "id": gid, "fichier": p.name, "sha256": _sha256(p)}
                             for i, (gid, p) in enumerate(zip(source.grids, grids))]
        header["fusion_grilles"] = source.merge
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "audit.jsonl", "w", encoding="utf-8") as fh:
        for rec in [header, *res.records]:
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    rows = res.decision_rows()
    _write_csv(out / "decisions.csv", rows, list(rows[0]) if rows else ["seq"])
    if source is not None:
        with open(out / "shortlists.jsonl", "w", encoding="utf-8") as fh:
            for s in res.shortlists:
                fh.write(json.dumps(s, ensure_ascii=False, separators=(",", ":")) + "\n")
    counts = res.counts()
    summary = {"annee": args.year, "cibles": t.totals, "orientations": {p.id: counts.get(p.id, 0) for p in t.parties},
               "non_conformes": sum(1 for r in rows if r["conforme"] == "false"),
               "insuffisance_candidats": sum(1 for s in res.shortlists if s["insuffisance_candidats"])}
    (out / "dispatch.json").write_text(_dump(summary), encoding="utf-8")
    for p in t.parties:
        print(f"{p.id:<20} " + _("target {target:>6}  dispatched {n:>6}").format(
            target=t.totals[p.id], n=counts.get(p.id, 0)))
    return 0


@_guard
def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every decision of the audit log replays identically."""
    from cotation.flux.dispatch import verify_audit
    with open(args.audit, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    problems = verify_audit(records)
    for p in problems:
        print(p, file=sys.stderr)
    n = sum(1 for r in records if r.get("type") == "orientation")
    print(_("{n} dispatch decisions replayed, {problems} difference(s)").format(n=n, problems=len(problems)))
    return _EXIT_ISSUES if problems else 0


@_guard
def cmd_bilan(args: argparse.Namespace) -> int:
    """Annual (default) or intermediate bilan."""
    from cotation.flux.bilan import compute_bilan
    d, a, t, on = _prepare(args)
    start = args.start or dt.date(args.year, 1, 1)
    end = args.end or dt.date(args.year, 12, 31)
    if end < start:
        print_error(_("--to is before --from"))
        return EXIT_USAGE
    from cotation.flux.delays import delay_summary, derive_defaults, echeances
    from cotation.flux.inputs import by_vacancy
    as_of = args.today or end
    events, derived = derive_defaults(d.events, d.by_id, d.cf, min(as_of, end))
    b = compute_bilan(d.by_id, events, d.cf, start, end, targets=t, assiette=a, generated_on=as_of)
    from cotation.flux.droits import droits_issues, droits_usage
    usage = droits_usage(by_vacancy(events), d.cf, start, min(as_of, end))
    if usage:
        b.droits_uniques = {r: u.as_dict() for r, u in usage.items()}
        b.issues += droits_issues(usage)
    if any(c.delais for c in d.cf.conventions):
        items = [e for e in echeances(by_vacancy(d.events), d.by_id, d.cf, min(as_of, end)) if start <= e.due <= end]
        b.delais = {"par_reservataire": delay_summary(items),
                    "defauts_derives": {r: sum(1 for e in derived if e.reservataire == r and start <= e.due <= end)
                                        for r in sorted({e.reservataire for e in derived})}}
    paths = b.write(args.out, templates=args.templates)
    print(_("bilan {start} → {end}: {n} vacancies, written to {path}").format(
        start=start, end=end, n=b.vacances['vacances'], path=args.output))
    return _report(b.issues)


@_guard
def cmd_echeances(args: argparse.Namespace) -> int:
    """Every deadline of every mise à disposition, as of --today."""
    from cotation.flux.delays import echeances
    from cotation.flux.inputs import by_vacancy
    d = _load(args)
    items = [e for e in echeances(by_vacancy(d.events), d.by_id, d.cf, args.today)
             if args.statut is None or e.status in args.statut]
    rows = [e.row() for e in items]
    cols = ["vacance_id", "logement_id", "reservataire", "convention", "delai", "type", "duree", "depart",
            "echeance", "satisfait_le", "statut", "jours_restants", "ligne"]
    if args.out is None:
        w = csv.DictWriter(sys.stdout, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    else:
        _write_csv(args.out, rows, cols)
    counts = {s: sum(1 for e in items if e.status == s) for s in ("respecte", "hors_delai", "a_venir", "depasse",
                                                                   "retour_bailleur")}
    print(_("{n} deadline(s) on {today}: {respecte} met, {hors_delai} late, {a_venir} to come, "
            "{depasse} passed, {retour_bailleur} returned to the bailleur").format(
              n=len(items), today=args.today, **counts), file=sys.stderr)
    return 0


@_guard
def cmd_etat_des_lieux(args: argparse.Namespace) -> int:
    """Stock inventory tables of the seeds, with each réservataire's rotation."""
    from cotation.flux.etat import etat_des_lieux
    from cotation.flux.inputs import read_evenements, read_logements
    logements = read_logements(args.logements)
    if (args.evenements is None) != (args.year is None):
        print_error(_("--evenements and --year go together (rotation of each réservataire's stock)"))
        return _EXIT_INPUT
    events = read_evenements(args.evenements, logements={lg.id: lg for lg in logements}) if args.evenements else ()
    e = etat_des_lieux(logements, on=args.date, events=events, rotation_year=args.year)
    if args.out is None:
        sys.stdout.write(_dump(e.as_dict()))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "etat_des_lieux.json").write_text(_dump(e.as_dict()), encoding="utf-8")
    _write_csv(args.out / "etat_des_lieux.csv", e.rows(),
               ("reservataire", "dimension", "valeur", "logements", "part", "part_affichee", "part_2d"))
    print(_("{n} dwellings, {r} réservataire(s) → {path}").format(n=e.totals['TOUS'], r=len(e.reservataires), path=args.output))
    return 0


@_guard
def cmd_conversion(args: argparse.Namespace) -> int:
    """Stock → flux conversion, each method of flux.md §6 from the command line."""
    from fractions import Fraction
    from cotation.flux.conversion import droits_uniques, droits_uniques_rate, rotation_weighted, strict_share
    from cotation.flux.rounding import dec_display
    from cotation.flux.targets import simple_targets
    stock = _pairs(args.stock, "stock")
    if args.logements is not None:
        from cotation.flux.inputs import read_logements
        for lg in read_logements(args.logements):
            rid = lg.reservataire_stock or "BAILLEUR"
            stock[rid] = stock.get(rid, 0) + 1
    rotation = _pairs(args.rotation, "rotation")
    doc: dict[str, Any] = {"methode": args.methode}

    def shares(pcts: dict) -> dict:
        return {k: {"exact": str(v), "affiche": dec_display(v, 2) + " %"} for k, v in pcts.items()}

    if args.methode == "droits_uniques":
        if args.droits is not None:
            if not args.annees:
                print_error(_("--droits needs --annees"))
                return _EXIT_INPUT
            per_year = Fraction(args.droits, args.annees)
        elif stock and rotation and args.annees:
            # Product formula: stock × rotation × years left, per réservataire.
            missing = sorted(set(stock) - set(rotation))
            if missing:
                print_error(_("rotation rate missing for {ids}").format(ids=", ".join(missing)))
                return _EXIT_INPUT
            du = {k: droits_uniques(int(n), rotation[k] / 100, args.annees) for k, n in stock.items()}
            doc["droits_uniques"] = {k: str(v) for k, v in du.items()}
            doc["droits_par_an"] = {k: str(v / args.annees) for k, v in du.items()}
            sys.stdout.write(_dump(doc))
            return 0
        else:
            print_error(_("give --droits and --annees (or --stock, --rotation and --annees)"))
            return _EXIT_INPUT
        doc["droits_par_an"] = str(per_year)
        if args.attributions:
            rate = droits_uniques_rate(per_year, args.attributions)
            doc["pourcentage"] = {"exact": str(rate), "affiche": dec_display(rate, 2) + " %"}
        sys.stdout.write(_dump(doc))
        return 0
    if not stock or any(v < 0 for v in stock.values()) or sum(stock.values()) == 0:
        print_error(_("give --stock ID=N (or --logements) with at least one dwelling"))
        return _EXIT_INPUT
    if args.methode == "part_stricte":
        pcts = strict_share({k: int(v) for k, v in stock.items()})
    else:
        missing = sorted(set(stock) - set(rotation))
        if missing:
            print_error(_("rotation rate missing for {ids}").format(ids=", ".join(missing)))
            return _EXIT_INPUT
        pcts = rotation_weighted({k: int(v) for k, v in stock.items()}, rotation)
    doc["parts"] = shares(pcts)
    if args.flux is not None:
        doc["cibles"] = simple_targets(args.flux, pcts)
    sys.stdout.write(_dump(doc))
    return 0


@_guard
def cmd_consolider(args: argparse.Namespace) -> int:
    """EPCI / CIL tables and report from several bailleurs' bilans."""
    from cotation.flux.consolidate import SUMMED, consolidate, read_bilan, report_text
    from cotation.flux.model import BILAN_COUNTS
    for p in args.bilan:
        if not p.exists():
            raise CommandError(_("--bilan {path}: no such file or folder (give a folder written by "
                                 "`cotation flux bilan` or its bilan.json)").format(path=p))
    c = consolidate([read_bilan(p) for p in args.bilan], epci=args.epci)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "consolidation.json").write_text(_dump(c.as_dict()), encoding="utf-8")
    _write_csv(out / "consolidation_reservataires.csv", c.reservataires, ("bailleur", "reservataire", "nom", "type",
                                                                          *SUMMED))
    _write_csv(out / "consolidation_epci.csv", c.epci, ("epci", "epci_nom", "reservataire", *BILAN_COUNTS))
    (out / "rapport.md").write_text(report_text(c), encoding="utf-8")
    print(_("{n} bailleur(s) consolidated, {e} EPCI → {path}").format(
        n=len(c.bailleurs), e=len({r['epci'] for r in c.epci}), path=args.output))
    return 0


@_guard
def cmd_stock(args: argparse.Namespace) -> int:
    """Strict-share percentages of an état des réservations, with its totals checked."""
    from cotation.flux.conversion import check_totals, read_reservation_tables, strict_share
    from cotation.flux.rounding import dec_display
    from cotation.flux.targets import simple_targets
    tables = read_reservation_tables(args.table)
    issues = [i for tb in tables for i in check_totals(tb)]
    shares = strict_share({tb.reservataire: tb.total for tb in tables})
    doc: dict = {"parts": {k: {"exact": str(v), "affiche": dec_display(v, 2) + " %"} for k, v in shares.items()},
                 "issues": [i.as_dict() for i in issues]}
    if args.flux is not None:
        doc["cibles"] = simple_targets(args.flux, shares)
    sys.stdout.write(_dump(doc))
    return _report(issues)


@_guard
def cmd_generate(args: argparse.Namespace) -> int:
    """Write logements.csv, conventions.yaml, evenements.csv (and demandes/scores on request)."""
    from cotation.data.table import write_demandes_csv
    from cotation.flux.generate import generate, generate_demandes, synthetic_scores
    from cotation.flux.scores_file import write_scores_csv
    b = generate(args.seed, args.dwellings, args.year, departement=args.departement)
    paths = b.write(args.out)
    if args.demandes:
        table = generate_demandes(args.seed, args.demandes, b.communes, args.year, departement=args.departement)
        write_demandes_csv(table, args.out / "demandes.csv")
        write_scores_csv(synthetic_scores(table, args.year, args.seed), args.out / "scores.csv")
    print(_("{dwellings} dwellings, {events} events → {path}").format(
        dwellings=len(b.logements), events=len(b.events), path=args.output))
    return 0

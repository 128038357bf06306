"""``cotation flux …``: assiette, targets, dispatch, verify, bilan, stock, generate.

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

from cotation.cli.core import add_output
from cotation.cli.outputs import EXIT_INPUT, EXIT_USAGE, atomic_dir, input_file, output_dir
from cotation.flux.errors import FluxInputError, Issue, Problem
from cotation.i18n import _, print_error

_EXIT_ISSUES = 1
_EXIT_INPUT = EXIT_INPUT


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
    p.add_argument("--grid", type=Path,
                   help=_("cotation grid: the demandes are scored at --today (instead of --scores)"))
    p.add_argument("-k", type=int, help=_("size of the candidate shortlists (default: the conventions', else 3)"))
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
    p.set_defaults(func=cmd_bilan)

    p = sub.add_parser("stock", help=_("état des réservations en stock → flux percentages "
                                       "(totals checked)"))
    p.add_argument("--table", type=Path, required=True, help=_("CSV reservataire,financement,<typologies…>,TOTAL"))
    p.add_argument("--flux", type=int, help=_("annual flux to share out with these percentages"))
    p.set_defaults(func=cmd_stock)

    p = sub.add_parser("generate", help=_("synthetic bailleur (dwellings, conventions, events)"))
    p.add_argument("--seed", type=int, required=True, help=_("random seed (same seed, same files)"))
    p.add_argument("--dwellings", type=int, required=True, help=_("number of dwellings"))
    p.add_argument("--year", type=int, default=2025, help=_("year of the generated vacancies (default 2025)"))
    p.add_argument("--departement", default="83", help=_("département (default 83)"))
    p.add_argument("--demandes", type=int, default=0, help=_("also generate N demandes and their scores file"))
    _output(p, _("output folder"))
    p.set_defaults(func=cmd_generate)


def _output(p: argparse.ArgumentParser, help: str, required: bool = True) -> None:
    add_output(p, help, required=required, metavar=_("FOLDER"))
    p.set_defaults(out=None)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("'{text}' is not a date YYYY-MM-DD").format(text=text)) from None


def _inputs(p: argparse.ArgumentParser, today: bool = False) -> None:
    p.add_argument("--logements", type=Path, required=True, help=_("dwellings (RPLS-like CSV)"))
    p.add_argument("--conventions", type=Path, required=True, help=_("conventions (YAML)"))
    p.add_argument("--evenements", type=Path, required=True, help=_("vacancy events (CSV)"))
    p.add_argument("--year", type=int, required=True, help=_("year N of the flux"))
    p.add_argument("--departement", help=_("département of the flux (default: the bailleur's or the dwellings')"))
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
    dep = args.departement or cf.bailleur.departement
    if dep is None:
        deps = sorted({lg.departement for lg in logements})
        if len(deps) > 1:
            raise FluxInputError([Problem(str(args.logements), 1, f"logements de plusieurs départements "
                                          f"({', '.join(deps)}): précisez --departement")])
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
        if args.out is not None:
            output_dir(args.out, inputs=[v for v in (getattr(args, n, None) for n in
                                                     ("logements", "conventions", "evenements",
                                                      "demandes", "scores", "grid"))
                                         if isinstance(v, Path)])
        try:
            if args.out is None:
                return fn(args)
            final = args.out
            with atomic_dir(final) as tmp:
                args.out = tmp
                code = fn(args)
            return code
        except FluxInputError as exc:
            print(str(exc), file=sys.stderr)
            return _EXIT_INPUT
        except LookupError as exc:  # e.g. no income ceilings for --year
            print_error(str(exc.args[0] if exc.args else exc))
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
    d = _load(args)
    on = getattr(args, "today", None) or dt.date(args.year, 1, 1)
    a = compute_assiette(d.logements, d.events, args.year, d.cf.settings, d.departement)
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
                  reader=read_demandes)
        if args.grid:
            from cotation.grid.diagnostics import GridError
            try:
                source = ScoreFileSource.from_grid(args.demandes, args.grid, on, **kw)
            except GridError as exc:
                print(exc, file=sys.stderr)
                return _EXIT_INPUT
        else:
            source = ScoreFileSource.from_files(args.demandes, args.scores, **kw)
        rs = source.read_summary
        print(_("demandes: {read} read, {accepted} kept, {rejected} rejected").format(
            read=rs['read'], accepted=rs['accepted'], rejected=rs['rejected']), file=sys.stderr)
    elif args.scores or args.grid:
        print_error(_("--scores and --grid also need --demandes"))
        return EXIT_USAGE
    res = run_dispatch(d.by_id, d.events, d.cf, t, a.excluded, args.year, source=source, k=args.k,
                       departement=d.departement)
    header = dict(res.header)
    header["entrees"] = {name: {"fichier": p.name, "sha256": _sha256(p)}
                         for name, p in (("logements", args.logements), ("conventions", args.conventions),
                                         ("evenements", args.evenements), ("demandes", args.demandes),
                                         ("scores", args.scores), ("grille", args.grid)) if p is not None}
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
    b = compute_bilan(d.by_id, d.events, d.cf, start, end, targets=t, assiette=a,
                      generated_on=args.today or end)
    paths = b.write(args.out)
    print(_("bilan {start} → {end}: {n} vacancies, written to {path}").format(
        start=start, end=end, n=b.vacances['vacances'], path=args.output))
    return _report(b.issues)


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
    from cotation.flux.shortlist import write_scores_csv
    b = generate(args.seed, args.dwellings, args.year, departement=args.departement)
    paths = b.write(args.out)
    if args.demandes:
        table = generate_demandes(args.seed, args.demandes, b.communes, args.year, departement=args.departement)
        write_demandes_csv(table, args.out / "demandes.csv")
        write_scores_csv(synthetic_scores(table, args.year, args.seed), args.out / "scores.csv")
    print(_("{dwellings} dwellings, {events} events → {path}").format(
        dwellings=len(b.logements), events=len(b.events), path=args.output))
    return 0

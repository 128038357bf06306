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

from cotation.flux.errors import FluxInputError, Issue, Problem
from cotation.templating import TemplatesError

_EXIT_ISSUES = 1
_EXIT_INPUT = 2


def register(subparsers: Any) -> None:
    """Add the ``flux`` command group to the top-level ``cotation`` parser."""
    flux = subparsers.add_parser("flux", help="gestion en flux des réservations",
                                 description="Gestion en flux: assiette, objectifs, orientation des "
                                             "logements libérés, décompte et bilans (flux.md).")
    sub = flux.add_subparsers(dest="flux_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("assiette", help="assiette, taux de rotation et flux annuel")
    _inputs(p)
    p.add_argument("-o", "--out", type=Path,
                   help="dossier de sortie (assiette.json, .csv, _detail.csv); sinon JSON sur stdout")
    p.set_defaults(func=cmd_assiette)

    p = sub.add_parser("targets", help="objectifs annuels par réservataire et contrôles réglementaires")
    _inputs(p, today=True)
    p.add_argument("-o", "--out", type=Path,
                   help="dossier de sortie (targets.json, targets.csv); sinon JSON sur stdout")
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("dispatch", help="orienter les logements libérés de l'année (journal d'audit)")
    _inputs(p, today=True)
    p.add_argument("--demandes", type=Path, help="demandes au format canonique (CSV) pour les listes de candidats")
    p.add_argument("--scores", type=Path,
                   help="sortie de `cotation score` (numero_unique, commune, score, score_valide, rank)")
    p.add_argument("--grid", type=Path, action="append",
                   help="grille de cotation: les demandes sont cotées à --today (au lieu de --scores); "
                        "répétable: plusieurs grilles (mutations et premières demandes, une par EPCI) dans "
                        "une même liste, chacune sur sa portée, dans l'ordre donné")
    p.add_argument("--fusion", choices=("entrelacement", "priorite"),
                   help="règle de fusion de plusieurs grilles (défaut: settings.shortlist.fusion_grilles, sinon "
                        "entrelacement): entrelacement = 1er de chaque grille, puis 2e…; priorite = toute la "
                        "première grille, puis la suivante")
    p.add_argument("-k", type=int, help="taille des listes de candidats (défaut: convention, sinon 3)")
    p.add_argument("--motifs", action="store_true",
                   help="pour chaque liste, le motif de chaque demande mieux classée non retenue (filtre "
                        "d'éligibilité échoué, refus d'une proposition antérieure dans les événements, ou déjà "
                        "proposée dans une liste précédente)")
    p.add_argument("-o", "--out", type=Path, required=True, help="dossier de sortie")
    p.set_defaults(func=cmd_dispatch)

    p = sub.add_parser("verify", help="rejouer un journal d'audit et vérifier chaque décision")
    p.add_argument("--audit", type=Path, required=True, help="audit.jsonl écrit par `cotation flux dispatch`")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bilan", help="bilan annuel ou intermédiaire par réservataire (CSV, JSON, HTML)")
    _inputs(p, today=True)
    p.add_argument("--from", dest="start", type=_date, help="début de période (défaut: 1er janvier de --year)")
    p.add_argument("--to", dest="end", type=_date, help="fin de période incluse (défaut: 31 décembre de --year)")
    p.add_argument("-o", "--out", type=Path, required=True, help="dossier de sortie")
    p.add_argument("--templates", type=Path, metavar="DIR",
                   help="dossier de modèles (logo, adresse, libellés) : ses fichiers remplacent les "
                        "modèles livrés du même nom (docs/templates.md)")
    p.set_defaults(func=cmd_bilan)

    p = sub.add_parser("echeances", help="délais des mises à disposition: échéances dues et dépassées à une date")
    p.add_argument("--logements", type=Path, required=True, help="patrimoine (CSV type RPLS)")
    p.add_argument("--conventions", type=Path, required=True, help="conventions (YAML, avec leurs delais)")
    p.add_argument("--evenements", type=Path, required=True, help="événements de vacance (CSV)")
    p.add_argument("--today", type=_date, required=True, help="date de référence")
    p.add_argument("--departement", help="département (défaut: celui du bailleur ou des logements)")
    p.add_argument("--statut", action="append", choices=("respecte", "hors_delai", "a_venir", "depasse",
                                                         "retour_bailleur"),
                   help="ne garder que ces statuts (répétable)")
    p.add_argument("-o", "--out", type=Path, help="fichier CSV de sortie; sinon CSV sur stdout")
    p.set_defaults(func=cmd_echeances)

    p = sub.add_parser("etat-des-lieux", help="état des lieux des réservations en stock (financement, typologie, "
                                              "QPV, commune, EPCI, collectif) et rotation par réservataire")
    p.add_argument("--logements", type=Path, required=True,
                   help="patrimoine (CSV type RPLS, colonnes facultatives reservataire_stock et collectif)")
    p.add_argument("--evenements", type=Path, help="événements de vacance, pour la rotation du stock de chaque "
                                                   "réservataire")
    p.add_argument("--year", type=int, help="année de la rotation (départs de l'année ÷ stock au 31 décembre)")
    p.add_argument("--date", type=_date, help="logements en stock à cette date (défaut: toutes les lignes)")
    p.add_argument("-o", "--out", type=Path, help="dossier de sortie (etat_des_lieux.json, .csv); sinon JSON sur stdout")
    p.set_defaults(func=cmd_etat_des_lieux)

    p = sub.add_parser("conversion", help="passage du stock au flux: part stricte, part pondérée par la rotation, "
                                          "droits uniques (flux.md §6)")
    p.add_argument("--methode", required=True, choices=("part_stricte", "rotation", "droits_uniques"))
    p.add_argument("--stock", action="append", default=[], metavar="ID=N",
                   help="logements réservés d'un réservataire (répétable); BAILLEUR=N pour le non réservé")
    p.add_argument("--logements", type=Path, help="ou: le patrimoine avec sa colonne reservataire_stock")
    p.add_argument("--rotation", action="append", default=[], metavar="ID=TAUX",
                   help="taux de rotation en % du contingent (méthode rotation; droits_uniques avec --stock)")
    p.add_argument("--droits", type=int, help="droits uniques accordés sur la convention")
    p.add_argument("--annees", type=int, help="durée de la convention (droits uniques), en années")
    p.add_argument("--attributions", type=int, help="attributions de l'année (droits uniques → pourcentage)")
    p.add_argument("--flux", type=int, help="flux annuel à répartir selon les parts obtenues")
    p.set_defaults(func=cmd_conversion)

    p = sub.add_parser("consolider", help="consolider les bilans de plusieurs bailleurs (EPCI, CIL)")
    p.add_argument("--bilan", type=Path, action="append", required=True,
                   help="dossier (ou bilan.json) écrit par `cotation flux bilan`, un par bailleur (répétable)")
    p.add_argument("--epci", help="SIREN de l'EPCI de la CIL: ne garder que ses communes dans le tableau territorial")
    p.add_argument("-o", "--out", type=Path, required=True, help="dossier de sortie")
    p.set_defaults(func=cmd_consolider)

    p = sub.add_parser("stock", help="état des réservations en stock → pourcentages de flux "
                                     "(contrôle des totaux)")
    p.add_argument("--table", type=Path, required=True, help="CSV reservataire,financement,<typologies…>,TOTAL")
    p.add_argument("--flux", type=int, help="flux annuel à répartir selon ces parts")
    p.set_defaults(func=cmd_stock)

    p = sub.add_parser("generate", help="bailleur synthétique (patrimoine, conventions, événements)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--dwellings", type=int, required=True, help="nombre de logements")
    p.add_argument("--year", type=int, default=2025, help="année des vacances générées (défaut 2025)")
    p.add_argument("--departement", default="83")
    p.add_argument("--demandes", type=int, default=0, help="générer aussi N demandes et leur fichier de scores")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.set_defaults(func=cmd_generate)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' n'est pas une date AAAA-MM-JJ") from None


def _inputs(p: argparse.ArgumentParser, today: bool = False) -> None:
    p.add_argument("--logements", type=Path, required=True, help="patrimoine (CSV type RPLS)")
    p.add_argument("--conventions", type=Path, required=True, help="conventions (YAML)")
    p.add_argument("--evenements", type=Path, required=True, help="événements de vacance (CSV)")
    p.add_argument("--year", type=int, required=True, help="année N du flux")
    p.add_argument("--departement", help="département du flux (défaut: celui du bailleur ou des logements)")
    p.add_argument("--epci", help="SIREN d'un EPCI: ne garder que les logements de ses communes (table des "
                                  "communes), comme l'assiette par EPCI de la DDETS 06")
    if today:
        p.add_argument("--today", type=_date, help="date de référence (défaut: 1er janvier de --year)")


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
            raise FluxInputError([Problem("--epci", 1, f"'{args.epci}' n'est pas le SIREN d'un EPCI connu")])
        of = epci_of({lg.commune for lg in logements})
        logements = [lg for lg in logements if of[lg.commune] == args.epci]
        by_id = {lg.id: lg for lg in logements}
        events = [e for e in events if e.logement_id in by_id]
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
        try:
            return fn(args)
        except FluxInputError as exc:
            print(str(exc), file=sys.stderr)
            return _EXIT_INPUT
        except OSError as exc:
            print(f"erreur: {exc}", file=sys.stderr)
            return _EXIT_INPUT
        except LookupError as exc:  # e.g. no income ceilings for --year
            print(f"erreur: {exc.args[0] if exc.args else exc}", file=sys.stderr)
            return _EXIT_INPUT
        except TemplatesError as exc:  # --templates: a missing folder, a broken template
            print(f"erreur: --templates : {exc}", file=sys.stderr)
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
        print(f"assiette {args.year}: base {a.base}, flux net {a.flux_net} → {args.out}")
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
            print(f"{r['reservataire']:<20} {r['cible']:>6}  (exact {r['cible_exacte_affichee']})")
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
        print("erreur: objectifs invalides, orientation impossible", file=sys.stderr)
        return _EXIT_ISSUES
    source = None
    if args.grid and args.scores:
        print("erreur: --grid et --scores s'excluent (la grille cote les demandes elle-même)", file=sys.stderr)
        return _EXIT_INPUT
    if args.demandes:
        s = d.cf.settings
        from sne_adapters import read_demandes
        kw = dict(year=args.year, ref_date=on, communes=sorted({lg.commune for lg in d.logements}),
                  household_size=dict(s.household_size) or None, max_taux_effort=s.max_taux_effort,
                  reader=read_demandes, explain=args.motifs)
        if args.grid:
            from cotation.grid.diagnostics import GridError
            try:
                source = ScoreFileSource.from_grid(args.demandes, args.grid, on,
                                                   merge=args.fusion or s.grid_merge, **kw)
            except GridError as exc:
                print(exc, file=sys.stderr)
                return _EXIT_INPUT
        else:
            source = ScoreFileSource.from_files(args.demandes, args.scores, **kw)
        rs = source.read_summary
        print(f"demandes: {rs['read']} lues, {rs['accepted']} retenues, {rs['rejected']} rejetées", file=sys.stderr)
    elif args.scores or args.grid:
        print("erreur: --scores et --grid demandent aussi --demandes", file=sys.stderr)
        return _EXIT_INPUT
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
        print(f"{p.id:<20} cible {t.totals[p.id]:>6}  orientés {counts.get(p.id, 0):>6}")
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
    print(f"{n} orientations rejouées, {len(problems)} écart(s)")
    return _EXIT_ISSUES if problems else 0


@_guard
def cmd_bilan(args: argparse.Namespace) -> int:
    """Annual (default) or intermediate bilan."""
    from cotation.flux.bilan import compute_bilan
    d, a, t, on = _prepare(args)
    start = args.start or dt.date(args.year, 1, 1)
    end = args.end or dt.date(args.year, 12, 31)
    if end < start:
        print("erreur: --to avant --from", file=sys.stderr)
        return _EXIT_INPUT
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
    print(f"bilan {start} → {end}: {b.vacances['vacances']} vacances, écrit dans {paths['html'].parent}")
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
    print(f"{len(items)} échéance(s) au {args.today}: {counts['respecte']} respectée(s), {counts['hors_delai']} "
          f"hors délai, {counts['a_venir']} à venir, {counts['depasse']} dépassée(s), "
          f"{counts['retour_bailleur']} retour(s) au bailleur", file=sys.stderr)
    return 0


@_guard
def cmd_etat_des_lieux(args: argparse.Namespace) -> int:
    """Stock inventory tables of the seeds, with each réservataire's rotation."""
    from cotation.flux.etat import etat_des_lieux
    from cotation.flux.inputs import read_evenements, read_logements
    logements = read_logements(args.logements)
    if (args.evenements is None) != (args.year is None):
        print("erreur: --evenements et --year vont ensemble (rotation du stock de chaque réservataire)",
              file=sys.stderr)
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
    print(f"{e.totals['TOUS']} logements, {len(e.reservataires)} réservataire(s) → {args.out}")
    return 0


def _pairs(items: Sequence[str], what: str) -> dict[str, Any]:
    from fractions import Fraction
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            out[key.strip()] = Fraction(value.strip().rstrip("%").strip())
        except (ValueError, ZeroDivisionError):
            raise FluxInputError([Problem(f"--{what}", 1, f"'{item}': attendu ID=NOMBRE")]) from None
    return out


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
                print("erreur: --droits demande --annees", file=sys.stderr)
                return _EXIT_INPUT
            per_year = Fraction(args.droits, args.annees)
        elif stock and rotation and args.annees:
            # Product formula: stock × rotation × years left, per réservataire.
            missing = sorted(set(stock) - set(rotation))
            if missing:
                print(f"erreur: taux de rotation manquant pour {', '.join(missing)}", file=sys.stderr)
                return _EXIT_INPUT
            du = {k: droits_uniques(int(n), rotation[k] / 100, args.annees) for k, n in stock.items()}
            doc["droits_uniques"] = {k: str(v) for k, v in du.items()}
            doc["droits_par_an"] = {k: str(v / args.annees) for k, v in du.items()}
            sys.stdout.write(_dump(doc))
            return 0
        else:
            print("erreur: --droits et --annees (ou --stock, --rotation et --annees)", file=sys.stderr)
            return _EXIT_INPUT
        doc["droits_par_an"] = str(per_year)
        if args.attributions:
            rate = droits_uniques_rate(per_year, args.attributions)
            doc["pourcentage"] = {"exact": str(rate), "affiche": dec_display(rate, 2) + " %"}
        sys.stdout.write(_dump(doc))
        return 0
    if not stock or any(v < 0 for v in stock.values()) or sum(stock.values()) == 0:
        print("erreur: --stock ID=N (ou --logements) avec au moins un logement", file=sys.stderr)
        return _EXIT_INPUT
    if args.methode == "part_stricte":
        pcts = strict_share({k: int(v) for k, v in stock.items()})
    else:
        missing = sorted(set(stock) - set(rotation))
        if missing:
            print(f"erreur: taux de rotation manquant pour {', '.join(missing)}", file=sys.stderr)
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
    c = consolidate([read_bilan(p) for p in args.bilan], epci=args.epci)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "consolidation.json").write_text(_dump(c.as_dict()), encoding="utf-8")
    _write_csv(out / "consolidation_reservataires.csv", c.reservataires, ("bailleur", "reservataire", "nom", "type",
                                                                          *SUMMED))
    _write_csv(out / "consolidation_epci.csv", c.epci, ("epci", "epci_nom", "reservataire", *BILAN_COUNTS))
    (out / "rapport.md").write_text(report_text(c), encoding="utf-8")
    print(f"{len(c.bailleurs)} bailleur(s) consolidé(s), {len({r['epci'] for r in c.epci})} EPCI → {out}")
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
    from cotation.flux.shortlist import write_scores_csv
    b = generate(args.seed, args.dwellings, args.year, departement=args.departement)
    paths = b.write(args.out)
    if args.demandes:
        table = generate_demandes(args.seed, args.demandes, b.communes, args.year, departement=args.departement)
        write_demandes_csv(table, args.out / "demandes.csv")
        write_scores_csv(synthetic_scores(table, args.year, args.seed), args.out / "scores.csv")
    print(f"{len(b.logements)} logements, {len(b.events)} événements → {paths['logements'].parent}")
    return 0

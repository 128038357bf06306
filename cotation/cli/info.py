"""CLI of the information owed to the demandeur: ``cotation position`` and
``cotation statements`` (the statements themselves are built in :mod:`cotation.info.statements`)."""
from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import Any

from cotation.cli.core import _date
from cotation.info.positioning import Positioning, format_fraction, position
from cotation.info.statements import check_statement_templates, write_statements
from cotation.templating import TemplatesError


def register(sub: argparse._SubParsersAction) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("grid", metavar="GRID")
        p.add_argument("demandes", metavar="DEMANDES")
        p.add_argument("attributions", metavar="ATTRIBUTIONS", help="attributions.csv (leases signed)")
        p.add_argument("--today", type=_date, required=True, help="reference date YYYY-MM-DD")
        p.add_argument("--engine", choices=("auto", "compiled", "interpreter"), default=None,
                       help="scoring back end (default auto: compiled, the interpreter if it cannot run)")
        p.add_argument("--mapping", help="mapping file for a local CSV extraction")
        p.add_argument("--progress", action="store_true", default=None, help="show progress on stderr")

    p = sub.add_parser("position", help="position each demande among analogous demandes, with "
                       "reference waiting times (one row per demande, commune, typologie)",
                       description="One CSV row per (demande, commune, typologie): numero_unique, "
                       "commune, typologie, score, rank (1 = first, by the grid's ordering), "
                       "cell_size, share_above (share of the cell with a strictly higher score), "
                       "decile (1 = best tenth), cell_key (peer cell used after fallbacks), "
                       "waiting_mean/median_days/months over the grid's window before --today "
                       "(start included, --today excluded), n_attributions, "
                       "delai_anormalement_long (true/false, empty without a threshold), "
                       "waiting_cell_key (cell of leases used after fallbacks).")
    common(p)
    p.add_argument("-o", "--output", required=True, help="output CSV ('-' for stdout)")
    p.set_defaults(func=cmd_position)

    p = sub.add_parser("statements", help="write the information statement of each demande "
                       "(print-ready HTML and JSON, in French)")
    common(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--ids", nargs="+", metavar="ID", help="only these numero_unique")
    p.add_argument("--format", default="html,json", help="html, json or html,json (default)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--commune-names", metavar="CSV",
                   help="CSV with columns code,nom to print commune names next to INSEE codes")
    p.add_argument("--templates", metavar="DIR",
                   help="dossier de modèles de l'EPCI (logo, adresse de l'accueil, libellés) : ses "
                        "fichiers remplacent les modèles livrés du même nom (docs/templates.md)")
    p.set_defaults(func=cmd_statements)


def _prepare(args) -> tuple[Any, Positioning] | None:
    """Load, score (any engine, with explanations) and position: shared by both commands."""
    from cotation.cli.core import _load, _read, default_engine
    from cotation.engine import score
    from cotation.progress import Progress
    from cotation.data.table import read_attributions_csv

    grid = _load(args.grid)
    if grid is None:
        return None
    result = _read(args, grid)
    if result is None:
        return None
    try:
        attributions, rejects, n_read = read_attributions_csv(args.attributions)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if rejects:
        print(f"{args.attributions}: {n_read} rows read, {n_read - len(rejects)} accepted, "
              f"{len(rejects)} rejected (first: line {rejects[0].line}, {rejects[0].column}: "
              f"{rejects[0].reason})", file=sys.stderr)
    engine = args.engine or default_engine()
    st = score(grid.ir, result.table, args.today, engine=engine, explain=True,
               progress=Progress("cotation", args.progress))
    pos = position(grid.ir, st, result.table, attributions, args.today)
    w = pos.waiting_index
    print(f"{args.attributions}: {w.n_used} leases in the window [{w.start.isoformat()}, "
          f"{w.end.isoformat()}) and the territory"
          + (f", {w.n_negative} ignored (attribution before deposit)" if w.n_negative else ""),
          file=sys.stderr)
    return result, pos


def cmd_position(args) -> int:
    from cotation.cli.core import write_columns
    from cotation.engine.scoring import format_hundredths

    prepared = _prepare(args)
    if prepared is None:
        return 1
    _, pos = prepared
    st = pos.st
    n = len(pos)
    pair = pos.rows.pair.tolist()

    def frac(get) -> list[str]:
        out = []
        for w in pos.waiting:
            v = get(w)
            out.append("" if v is None else format_fraction(v, 1))
        return out

    columns = {
        "numero_unique": [st.numero_unique[p] for p in pair],
        "commune": [st.commune[p] for p in pair],
        "typologie": [t or "" for t in pos.rows.typologie],
        "score": [format_hundredths(st.score[p]) for p in pair],
        "rank": pos.rank.tolist(),
        "cell_size": pos.size.tolist(),
        "share_above": [format_fraction(pos.share_above(i), 4) for i in range(n)],
        "decile": [pos.decile(i) for i in range(n)],
        "cell_key": [pos.cell_key(i) for i in range(n)],
        "waiting_mean_days": frac(lambda w: w.mean_days),
        "waiting_median_days": frac(lambda w: w.median_days),
        "waiting_mean_months": frac(lambda w: w.mean_months),
        "waiting_median_months": frac(lambda w: w.median_months),
        "n_attributions": [w.n for w in pos.waiting],
        "delai_anormalement_long": ["" if pos.delai_depasse(i) is None else
                                    ("true" if pos.delai_depasse(i) else "false") for i in range(n)],
        "waiting_cell_key": [w.key for w in pos.waiting],
    }
    write_columns(columns, args.output)
    print(f"{args.output}: {n} rows ({len(st)} cotations of {len(set(st.row.tolist()))} demandes), "
          f"grid {pos.grid.id} v{pos.grid.version}, today {args.today.isoformat()}", file=sys.stderr)
    return 0


def read_commune_names(path: str) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return {r["code"].strip(): r["nom"].strip() for r in reader if r.get("code") and r.get("nom")}


def cmd_statements(args) -> int:
    from cotation.progress import Progress

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in ("html", "json")]
    if bad or not formats:
        print(f"error: --format takes html, json or html,json (got {args.format!r})", file=sys.stderr)
        return 2
    names = read_commune_names(args.commune_names) if args.commune_names else None
    if "html" in formats:
        try:        # a broken template stops the run before any reading or scoring
            check_statement_templates(args.templates)
        except TemplatesError as e:
            print(f"erreur : --templates : {e}", file=sys.stderr)
            return 1
    prepared = _prepare(args)
    if prepared is None:
        return 1
    result, pos = prepared
    table = result.table
    indices = None
    if args.ids:
        indices = []
        scored = set(pos.st.row.tolist())
        for nu in args.ids:
            try:
                d = table.index_of(nu)
            except KeyError:
                print(f"error: no demande '{nu}' in {args.demandes}", file=sys.stderr)
                return 1
            if d not in scored:
                print(f"warning: demande '{nu}' is not scored by grid {pos.grid.id} (out of its scope "
                      "or no commune of the territory): no statement", file=sys.stderr)
                continue
            indices.append(d)
    try:
        written = write_statements(pos, args.output, indices=indices, formats=formats,
                                   jobs=max(1, args.jobs), commune_names=names, templates=args.templates,
                                   progress=Progress("statements", args.progress))
    except TemplatesError as e:
        print(f"erreur : --templates : {e}", file=sys.stderr)
        return 1
    if indices is None:
        with open(os.path.join(args.output, "index.csv"), "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["numero_unique"] + [f"{f}_file" for f in formats])
            for nu, stem in written:
                w.writerow([nu] + [f"{stem}.{f}" for f in formats])
    n_table = len(table)
    print(f"{args.output}: {len(written)} statements ({', '.join(formats)}) of {n_table} demandes "
          f"read; grid {pos.grid.id} v{pos.grid.version}, today {args.today.isoformat()}",
          file=sys.stderr)
    return 0

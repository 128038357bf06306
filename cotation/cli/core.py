"""Core CLI commands: validate, score, explain, test."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from pathlib import Path

from cotation.grid.diagnostics import GridError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check grid files; print file:line:col: message per problem")
    p.add_argument("grids", nargs="+", metavar="GRID")
    p.add_argument("--no-warnings", action="store_true", help="print errors only")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("score", help="score demandes with a grid and rank them per commune")
    p.add_argument("grid", metavar="GRID")
    p.add_argument("demandes", metavar="DEMANDES")
    p.add_argument("--today", type=_date, required=True, help="reference date YYYY-MM-DD")
    p.add_argument("-o", "--output", required=True, help="output file (.csv or .parquet)")
    p.add_argument("--explain", action="store_true", help="add one pts_<criterion> column per criterion")
    p.add_argument("--audit", action="store_true",
                   help="add grid_id, grid_version, grid_hash and today columns to every row")
    p.add_argument("--engine", choices=("auto", "compiled", "interpreter"), default=None,
                   help="scoring back end (default auto: compiled, the interpreter if it cannot run)")
    p.add_argument("--mapping", help="mapping file for a local CSV extraction")
    p.add_argument("--rejects", help="write rows that could not be read to this CSV")
    p.add_argument("--strict", action="store_true",
                   help="fail on the first rejected row or on any warning about the source")
    p.add_argument("--progress", action="store_true", default=None, help="show progress")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("explain", help="explain one demande's cotation, criterion by criterion")
    p.add_argument("grid", metavar="GRID")
    p.add_argument("demandes", metavar="DEMANDES")
    p.add_argument("--id", required=True, help="numero_unique of the demande")
    p.add_argument("--today", type=_date, required=True)
    p.add_argument("--mapping")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("test", help="run a grid's YAML test cases")
    p.add_argument("grid", metavar="GRID", nargs="?", help="grid file (default: the cases file's)")
    p.add_argument("cases", metavar="CASES")
    p.add_argument("--engine", choices=("interpreter", "compiled"), default="interpreter")
    p.set_defaults(func=cmd_test)


def _load(path: str):
    from cotation.grid import load_grid
    try:
        return load_grid(path)
    except GridError as exc:
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
        return None


def cmd_validate(args) -> int:
    from cotation.grid import load_grid
    status = 0
    for path in args.grids:
        try:
            grid = load_grid(path)
        except GridError as exc:
            for d in exc.diagnostics:
                if d.severity == "error" or not args.no_warnings:
                    print(d.format(), file=sys.stderr)
            status = 1
            continue
        if not args.no_warnings:
            for d in grid.warnings:
                print(d.format(), file=sys.stderr)
        if args.strict and grid.warnings:
            status = 1
        n = len(grid.ir.criteria)
        print(f"{path}: ok — {grid.ir.id} v{grid.ir.version}, {n} criteria, "
              f"{len(grid.ir.communes)} communes, {len(grid.warnings)} warning(s)")
    return status


def _read(args, grid=None):
    """The demandes through the boundary (checked against ``grid``'s columns when given);
    None after printing why, when the run must stop (exit 1: invalid input)."""
    from functools import partial

    from cotation.data.boundary import MissingColumnsError, admit
    from cotation.data.table import StrictModeError, write_rejects_csv
    from sne_adapters import read_demandes
    strict = getattr(args, "strict", False)
    needs = known = None
    if grid is not None:
        from cotation.engine.reads import columns_read, local_field_names
        needs, known = columns_read(grid.ir), local_field_names(grid.ir)
    reader = partial(read_demandes, mapping=getattr(args, "mapping", None))
    try:
        admitted = admit(args.demandes, needs=needs, known_extras=known or (), strict=strict,
                         reader=reader)
    except (StrictModeError, MissingColumnsError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    result, report = admitted.result, admitted.report
    if getattr(args, "rejects", None):
        write_rejects_csv(result.rejects, args.rejects)
    if result.rejects:
        print(f"{args.demandes}: {result.n_read} rows read, {result.n_accepted} accepted, "
              f"{len(result.rejects)} rejected" + ("" if getattr(args, "rejects", None)
                                                   else " (write them with --rejects FILE)"),
              file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {args.demandes}: {warning}", file=sys.stderr)
    if result.n_accepted == 0:
        print(f"error: {args.demandes}: no row accepted ({result.n_read} read); nothing to score",
              file=sys.stderr)
        return None
    if strict and report.warnings:
        print("error: --strict: the source has warnings", file=sys.stderr)
        return None
    return result


def default_engine() -> str:
    """The compiled engine, falling back to the interpreter if it cannot run (``auto``)."""
    return "auto"


def cmd_score(args) -> int:
    from cotation.engine import score
    from cotation.progress import Progress
    from cotation.engine.scoring import format_hundredths, output_order

    grid = _load(args.grid)
    if grid is None:
        return 1
    result = _read(args, grid)
    if result is None:
        return 1
    if args.today < grid.ir.effective_from:
        print(f"warning: grid {grid.ir.id} v{grid.ir.version} takes effect on "
              f"{grid.ir.effective_from.isoformat()}, after the reference date {args.today.isoformat()}",
              file=sys.stderr)
    engine = args.engine or default_engine()
    st = score(grid.ir, result.table, args.today, engine=engine, explain=args.explain,
               progress=Progress("cotation", args.progress))
    if st.rejects:
        print(f"{len(st.rejects)} demande(s) not scored: unreadable local field values"
              + (f" (added to {args.rejects})" if args.rejects else ""), file=sys.stderr)
        if args.rejects:
            from cotation.data.table import write_rejects_csv
            write_rejects_csv(list(result.rejects) + st.rejects, args.rejects)
    order = output_order(st)
    # CSV gets exact two-decimal text; Parquet gets numbers (hundredths / 100) for other tools.
    parquet = args.output.lower().endswith(".parquet")
    fmt = (lambda h: int(h) / 100) if parquet else format_hundredths
    columns: dict[str, list] = {
        "numero_unique": [st.numero_unique[i] for i in order],
        "commune": [st.commune[i] for i in order],
        "score": [fmt(st.score[i]) for i in order],
        "score_valide": [fmt(st.score_valide[i]) for i in order],
        "rank": [int(st.rank[i]) for i in order],
    }
    if args.explain:
        if st.points is None:
            raise RuntimeError("engine returned no per-criterion points")
        for j, c in enumerate(grid.ir.criteria):
            columns[f"pts_{c.id}"] = [fmt(st.points[i, j]) for i in order]
    if args.audit or parquet:
        n = len(order)
        columns["grid_id"] = [grid.ir.id] * n
        columns["grid_version"] = [grid.ir.version] * n
        columns["grid_hash"] = [grid.source_hash] * n
        columns["today"] = [args.today.isoformat()] * n
    write_columns(columns, args.output)
    print(f"{args.output}: {len(order)} cotations of {len(result.table)} demandes "
          f"({len(set(st.row.tolist()))} in scope), grid {grid.ir.id} v{grid.ir.version}, "
          f"today {args.today.isoformat()}, engine {engine}", file=sys.stderr)
    return 0


def write_columns(columns: dict[str, list], path: str) -> None:
    """Write result columns as CSV (or Parquet through sne_adapters), deterministically."""
    if path.lower().endswith(".parquet"):
        from sne_adapters import write_results
        write_results(columns, path)
        return
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    if path != "-":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    out = sys.stdout if path == "-" else open(path, "w", newline="", encoding="utf-8")
    try:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([columns[k][i] for k in names])
    finally:
        if out is not sys.stdout:
            out.close()


def cmd_explain(args) -> int:
    import json

    from cotation.engine.explain import criterion_lines, render_text
    from cotation.engine.scoring import format_hundredths, local_field_values
    from cotation.engine import score

    grid = _load(args.grid)
    if grid is None:
        return 1
    result = _read(args, grid)
    if result is None:
        return 1
    table = result.table
    try:
        idx = table.index_of(args.id)
    except KeyError:
        print(f"error: no demande '{args.id}' in {args.demandes}", file=sys.stderr)
        return 1
    # Ranks need every demande of the file; the breakdown comes from the reference interpreter.
    st = score(grid.ir, table, args.today, engine=default_engine())
    ranks, sizes = {}, {}
    for p in range(len(st)):
        sizes[st.commune[p]] = sizes.get(st.commune[p], 0) + 1
    for p in range(len(st)):
        if st.row[p] == idx:
            ranks[st.commune[p]] = (int(st.rank[p]), sizes[st.commune[p]])
    from cotation.engine.interpreter import Interpreter
    local, _ = local_field_values(grid.ir, table)
    row = table.row(idx)
    for name, vals in local.items():
        row[name] = vals[idx]
    pairs = Interpreter(grid.ir).score_row(idx, row, args.today)
    if args.json:
        doc = {"numero_unique": args.id, "grid": {"id": grid.ir.id, "version": grid.ir.version,
                                                  "hash": grid.source_hash},
               "today": args.today.isoformat(),
               "communes": [{"commune": p.commune, "rang": p.rang,
                             "score": format_hundredths(p.score),
                             "score_valide": format_hundredths(p.score_valide),
                             "rank": ranks[p.commune][0], "of": ranks[p.commune][1],
                             "criteria": [c.as_dict() for c in criterion_lines(grid.ir, p)]}
                            for p in pairs]}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(render_text(grid.ir, pairs, ranks, args.today))
    return 0


def cmd_test(args) -> int:
    from cotation.testing.cases import run_cases
    results = run_cases(args.cases, args.grid, engine=args.engine)
    failed = [r for r in results if not r.ok]
    for r in results:
        print(("PASS " if r.ok else "FAIL ") + r.name)
        for f in r.failures:
            print("     " + f.replace("\n", "\n     "))
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0

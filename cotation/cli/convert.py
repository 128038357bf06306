"""``cotation convert``: any supported source to canonical CSV or Parquet, with a run summary."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from cotation.data.table import StrictModeError, write_rejects_csv

_SHOWN_REJECTS = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert", help="convert demandes (CSV, Parquet, SNE XML, mapped extraction) to the "
                        "canonical CSV or Parquet",
        description="Read SOURCE (format detected; a mapped extraction with --mapping), "
                    "validate every row and write the accepted ones to OUT. Rows that cannot "
                    "be read go to the rejects file; the summary goes to stderr.")
    p.add_argument("source", metavar="SOURCE", help="demandes file: .csv, .parquet or .xml")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file, .csv or .parquet")
    p.add_argument("--mapping", metavar="FILE", help="YAML mapping for a CSV extraction")
    p.add_argument("--rejects", metavar="FILE", help="write rejected rows here (CSV)")
    p.add_argument("--strict", action="store_true",
                   help="fail on the first rejected row or on any warning about the source")
    p.add_argument("--report", metavar="FILE", help="write the run summary here (JSON)")
    p.add_argument("--grid", metavar="GRID",
                   help="check that the source has every column this grid reads")
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    """Exit 0 when rows were written, 1 for invalid input or grid, 2 for a usage error."""
    from functools import partial

    from cotation.data.boundary import MissingColumnsError, admit
    from sne_adapters import read_demandes, write_demandes
    out = Path(args.output)
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        print(f"error: {out}: output must end in .csv or .parquet", file=sys.stderr)
        return 2
    needs = known = None
    if args.grid:
        from cotation.cli.core import _load
        from cotation.engine.reads import columns_read, local_field_names
        grid = _load(args.grid)
        if grid is None:
            return 1
        needs, known = columns_read(grid.ir), local_field_names(grid.ir)
    try:
        admitted = admit(args.source, needs=needs, known_extras=known or (),
                         strict=args.strict, reader=partial(read_demandes, mapping=args.mapping))
    except StrictModeError as exc:
        print(f"error (strict): {exc}", file=sys.stderr)
        return 1
    except (MissingColumnsError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result, report = admitted.result, admitted.report
    write_demandes(result.table, out)
    if args.rejects:
        write_rejects_csv(result.rejects, args.rejects)
    summary = result.summary()
    summary["source"] = str(args.source)
    summary["output"] = str(out)
    summary["reject_reasons"] = dict(Counter(_reason_kind(r.reason) for r in result.rejects)
                                     .most_common())
    summary["warnings"] = report.warnings
    if report.unknown_columns:
        summary["unknown_columns"] = report.unknown_columns
    if args.report:
        Path(args.report).write_text(json.dumps(summary, indent=2, ensure_ascii=False,
                                                default=str) + "\n", encoding="utf-8")
    _print_summary(summary, result, args)
    for warning in report.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    if result.n_accepted == 0:
        print(f"error: {args.source}: no row accepted ({result.n_read} read)", file=sys.stderr)
        return 1
    if args.strict and report.warnings:
        print("error (strict): the source has warnings", file=sys.stderr)
        return 1
    return 0


def _reason_kind(reason: str) -> str:
    """Group reasons without their values ("'x' is not a date..." -> "is not a date...")."""
    if reason.startswith("'") and "' " in reason[1:]:
        return reason[reason.index("' ", 1) + 2:]
    return reason


def _print_summary(summary: dict, result, args: argparse.Namespace) -> None:
    err = sys.stderr
    print(f"{summary['source']} ({summary.get('format', '?')}): read {summary['read']}, "
          f"accepted {summary['accepted']}, rejected {summary['rejected']} -> {summary['output']}",
          file=err)
    if "elements_ignored" in summary:
        ignored, unknown = summary["elements_ignored"], summary.get("elements_unknown") or {}
        print(f"  XML elements not mapped: {len(ignored)} known path(s) ignored by design "
              f"(identity, contact), {len(unknown)} unknown path(s)", file=err)
        for path, count in list(unknown.items())[:8]:
            print(f"    unknown: {path} x{count}", file=err)
    else:
        unmapped = summary.get("unmapped_columns") or []
        if unmapped:
            shown = ", ".join(unmapped[:8]) + (" ..." if len(unmapped) > 8 else "")
            print(f"  columns not mapped ({len(unmapped)}, kept as extra columns): {shown}",
                  file=err)
    if summary.get("source_error"):
        print(f"  warning: {summary['source_error']}", file=err)
    for r in result.rejects[:_SHOWN_REJECTS]:
        print(f"  line {r.line}: {r.column}: {r.reason}", file=err)
    if len(result.rejects) > _SHOWN_REJECTS:
        more = len(result.rejects) - _SHOWN_REJECTS
        where = args.rejects or "a rejects file (--rejects FILE)"
        print(f"  ... and {more} more rejects: see {where}", file=err)

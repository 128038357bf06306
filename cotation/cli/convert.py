"""``cotation convert``: any supported source to canonical CSV or Parquet, with a run summary."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from cotation.cli.core import add_output
from cotation.cli.outputs import EXIT_INPUT, atomic_file, input_file, output_file
from cotation.data.table import StrictModeError, write_rejects_csv
from cotation.i18n import _, print_error, warning_line

_SHOWN_REJECTS = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert", help=_("convert demandes (CSV, Parquet, SNE XML, mapped extraction) to the "
                          "canonical CSV or Parquet"),
        description=_("Read SOURCE (format detected; a mapped extraction with --mapping), "
                      "validate every row and write the accepted ones to OUTPUT. Rows that cannot "
                      "be read go to the rejects file; the summary goes to stderr."))
    p.add_argument("source", metavar="SOURCE", help=_("demandes file: .csv, .parquet or .xml"))
    add_output(p, _("output file, .csv or .parquet"))
    p.add_argument("--mapping", metavar=_("FILE"), help=_("YAML mapping for a CSV extraction"))
    p.add_argument("--rejects", metavar=_("FILE"), help=_("write rejected rows here (CSV)"))
    p.add_argument("--strict", action="store_true", help=_("fail on the first rejected row or on any warning about the source"))
    p.add_argument("--report", metavar=_("FILE"), help=_("write the run summary here (JSON)"))
    p.add_argument("--grid", metavar=_("GRID"),
                   help=_("check that the source has every column this grid reads"))
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    """Exit 0 when rows were written, 1 for invalid input or grid, 2 for a usage error."""
    from functools import partial

    from cotation.data.boundary import MissingColumnsError, admit
    from sne_adapters import read_demandes, write_demandes
    inputs = (args.source, args.mapping)
    out = output_file(args.output, (".csv", ".parquet", ".pq"), inputs=inputs)
    if args.rejects:
        output_file(args.rejects, (".csv",), inputs=inputs, option="--rejects")
    if args.report:
        output_file(args.report, (".json",), inputs=inputs, option="--report")
    input_file(args.source, _("demandes"))
    if args.mapping:
        input_file(args.mapping, "--mapping")
    needs = known = None
    if args.grid:
        from cotation.cli.core import _load
        from cotation.engine.reads import reads_of
        input_file(args.grid, "--grid")
        grid = _load(args.grid)
        if grid is None:
            return EXIT_INPUT
        needs, known = reads_of(grid.ir)
    try:
        admitted = admit(args.source, needs=needs, known_extras=known or (),
                         strict=args.strict, reader=partial(read_demandes, mapping=args.mapping))
    except StrictModeError as exc:
        print_error(_("(strict) {message}").format(message=exc))
        return EXIT_INPUT
    except OSError as exc:
        from cotation.cli.outputs import describe_os_error
        print_error(describe_os_error(exc))
        return EXIT_INPUT
    except (MissingColumnsError, ValueError) as exc:
        print_error(str(exc))
        return EXIT_INPUT
    result, report = admitted.result, admitted.report
    with atomic_file(out) as tmp:
        write_demandes(result.table, tmp)
    if args.rejects:
        with atomic_file(args.rejects) as tmp:
            write_rejects_csv(result.rejects, tmp)
    summary = result.summary()
    summary["source"] = str(args.source)
    summary["output"] = str(out)
    summary["reject_reasons"] = dict(Counter(_reason_kind(r.reason) for r in result.rejects)
                                     .most_common())
    summary["warnings"] = report.warnings
    if report.unknown_columns:
        summary["unknown_columns"] = report.unknown_columns
    if args.report:
        with atomic_file(args.report) as tmp:
            tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False,
                                      default=str) + "\n", encoding="utf-8")
    _print_summary(summary, result, args)
    for warning in report.warnings:
        print("  " + warning_line(warning), file=sys.stderr)
    if result.n_accepted == 0:
        print_error(_("{path}: no row accepted ({n} read)").format(path=args.source, n=result.n_read))
        return EXIT_INPUT
    if args.strict and report.warnings:
        print_error(_("(strict) {message}").format(message=_("the source has warnings")))
        return EXIT_INPUT
    return 0


def _reason_kind(reason: str) -> str:
    """Group reasons without their values ("'x' is not a date..." -> "is not a date...")."""
    if reason.startswith("'") and "' " in reason[1:]:
        return reason[reason.index("' ", 1) + 2:]
    return reason


def _print_summary(summary: dict, result, args: argparse.Namespace) -> None:
    err = sys.stderr
    print(_("{source} ({format}): read {read}, accepted {accepted}, rejected {rejected} -> {output}")
          .format(source=summary['source'], format=summary.get('format', '?'), read=summary['read'],
                  accepted=summary['accepted'], rejected=summary['rejected'], output=summary['output']),
          file=err)
    if "elements_ignored" in summary:
        ignored, unknown = summary["elements_ignored"], summary.get("elements_unknown") or {}
        print("  " + _("XML elements not mapped: {ignored} known path(s) ignored by design "
                       "(identity, contact), {unknown} unknown path(s)").format(
            ignored=len(ignored), unknown=len(unknown)), file=err)
        for path, count in list(unknown.items())[:8]:
            print("    " + _("unknown: {path} x{count}").format(path=path, count=count), file=err)
    else:
        unmapped = summary.get("unmapped_columns") or []
        if unmapped:
            shown = ", ".join(unmapped[:8]) + (" ..." if len(unmapped) > 8 else "")
            extras = result.table.extras
            kept = any(c in extras or f"source_{c}" in extras for c in unmapped)
            print("  " + (_("columns not mapped ({n}, kept as extra columns): {shown}") if kept
                          else _("columns not mapped ({n}, left out: keep_unmapped is false): "
                                 "{shown}")).format(n=len(unmapped), shown=shown), file=err)
    if summary.get("source_error"):
        print("  " + warning_line(summary['source_error']), file=err)
    for r in result.rejects[:_SHOWN_REJECTS]:
        print("  " + _("line {line}: {column}: {reason}").format(line=r.line, column=r.column,
                                                               reason=r.reason), file=err)
    if len(result.rejects) > _SHOWN_REJECTS:
        more = len(result.rejects) - _SHOWN_REJECTS
        where = args.rejects or _("a rejects file (--rejects FILE)")
        print("  " + _("... and {n} more rejects: see {where}").format(n=more, where=where), file=err)

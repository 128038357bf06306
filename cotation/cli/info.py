"""CLI of the information owed to the demandeur: ``cotation position`` and
``cotation statements`` (the statements themselves are built in :mod:`cotation.info.statements`)."""
from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import Any

import numpy as np

from cotation.cli.arguments import date_arg
from cotation.cli.core import _engine_option, add_inputs, add_output, resolve_inputs
from cotation.cli.outputs import atomic_dir, atomic_file, input_file, output_dir, output_file
from cotation.i18n import _, print_error, warning_line
from cotation.info.positioning import Positioning, cell_key, format_fraction, position
from cotation.info.statements import check_statement_templates, write_statements
from cotation.pdf import PdfError, html_to_pdf, pdf_engine
from cotation.templating import TemplatesError


def register(sub: argparse._SubParsersAction) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        add_inputs(p, "grid", "demandes", "attributions")
        p.add_argument("--today", type=date_arg, required=True, help=_("reference date YYYY-MM-DD"))
        _engine_option(p)
        p.add_argument("--mapping", help=_("mapping file for a local CSV extraction"))
        p.add_argument("--progress", action="store_true", default=None, help=_("show progress on stderr"))

    p = sub.add_parser("position", help=_("position each demande among analogous demandes, with "
                       "reference waiting times (one row per demande, commune, typologie)"),
                       description=_("One CSV row per (demande, commune, typologie): numero_unique, "
                       "commune, typologie, score, rank (1 = first, by the grid's ordering), "
                       "cell_size, share_above (share of the cell with a strictly higher score), "
                       "decile (1 = best tenth), cell_key (peer cell used after fallbacks), "
                       "waiting_mean/median_days/months over the grid's window before --today "
                       "(start included, --today excluded), n_attributions, "
                       "delai_anormalement_long (true/false, empty without a threshold), "
                       "waiting_cell_key (cell of leases used after fallbacks)."))
    common(p)
    add_output(p, _("output file (.csv or .parquet; '-' for CSV on stdout)"))
    p.set_defaults(func=cmd_position)

    p = sub.add_parser("statements", help=_("write the information statement of each demande "
                       "(print-ready HTML and JSON, in French)"),
                       description=_("Write the information statement of each demande "
                                     "(print-ready HTML and JSON, in French) into a folder."))
    common(p)
    add_output(p, _("output folder"), metavar=_("FOLDER"))
    p.add_argument("--ids", nargs="+", metavar="ID", help=_("only these numero_unique"))
    p.add_argument("--format", default="html,json",
                   help=_("html, json, pdf, or several separated by commas (default html,json)"))
    p.add_argument("--jobs", type=int, default=1, help=_("worker processes (default 1)"))
    _document_options(p)
    p.set_defaults(func=cmd_statements)

    p = sub.add_parser("publish", help=_("write the grid as the public reads it (print-ready HTML or "
                       "PDF, in French)"),
                       description=_("Write the published grid: every criterion in plain words, "
                                     "groups, caps, proofs, ordering of equal scores, refusal policy, "
                                     "analogous demandes and waiting times, territory with commune "
                                     "names. HTML or PDF (A4) according to the output's extension."))
    add_inputs(p, "grid")
    add_output(p, _("output file (.html or .pdf)"))
    p.add_argument("--today", type=date_arg, default=None,
                   help=_("date printed as the document's date (YYYY-MM-DD; none by default)"))
    _document_options(p)
    p.set_defaults(func=cmd_publish)


def _document_options(p) -> None:
    """Options shared by the commands that write documents for the public."""
    p.add_argument("--commune-names", metavar="CSV",
                   help=_("CSV with columns code,nom: commune names replacing the shipped ones "
                        "(Code officiel géographique, docs/documents.md)"))
    p.add_argument("--templates", metavar=_("FOLDER"),
                   help=_("the EPCI's templates folder (logo, reception desk address, wording): its "
                          "files replace the shipped templates of the same name (docs/templates.md)"))


def _document_error(e: Exception) -> str:
    """The one line for a template or PDF failure."""
    if isinstance(e, TemplatesError):
        return _("--templates: {problem}").format(problem=e)
    return str(e)


def _prepare(args, explain: bool = True) -> tuple[Any, Positioning] | None:
    """Load, score (any engine; per-criterion points when ``explain``, which statements show
    and positions do not need) and position: shared by both commands."""
    from cotation.cli.core import default_engine, load_and_read
    from cotation.engine import score
    from cotation.progress import Progress
    from cotation.data.sources import read_attributions

    input_file(args.demandes, _("demandes"))
    input_file(args.attributions, _("attributions"))
    loaded = load_and_read(args)
    if loaded is None:
        return None
    grid, result = loaded
    try:
        attributions, rejects, n_read = read_attributions(args.attributions)
    except ValueError as exc:
        print_error(str(exc))
        return None
    if rejects:
        print(_("{path}: {read} rows read, {accepted} accepted, {rejected} rejected (first: line "
                "{line}, {column}: {reason})").format(
            path=args.attributions, read=n_read, accepted=n_read - len(rejects), rejected=len(rejects),
            line=rejects[0].line, column=rejects[0].column, reason=rejects[0].reason), file=sys.stderr)
    engine = args.engine or default_engine()
    st = score(grid.ir, result.table, args.today, engine=engine, explain=explain, order_rank=True,
               progress=Progress("cotation", args.progress))
    pos = position(grid.ir, st, result.table, attributions, args.today)
    w = pos.waiting_index
    print(_("{path}: {n} leases in the window [{start}, {end}) and the territory").format(
        path=args.attributions, n=w.n_used, start=w.start.isoformat(), end=w.end.isoformat())
          + (_(", {n} ignored (attribution before deposit)").format(n=w.n_negative)
             if w.n_negative else ""),
          file=sys.stderr)
    return result, pos


def cmd_position(args) -> int:
    from cotation.cli.core import _count_distinct, write_columns

    resolve_inputs(args, "grid", "demandes", "attributions")
    if args.output != "-":
        output_file(args.output, (".csv", ".parquet"),
                    inputs=(args.grid, args.demandes, args.attributions))
    prepared = _prepare(args, explain=False)
    if prepared is None:
        return 1
    _result, pos = prepared
    st = pos.st
    n = len(pos)
    columns = position_columns(pos)
    if args.output.lower().endswith(".parquet"):
        columns = typed_position_columns(columns)
    write_columns(columns, args.output)
    print(_("{path}: {n} rows ({cotations} cotations of {demandes} demandes), grid {id} v{version}, "
            "today {today}").format(path=args.output, n=n, cotations=len(st),
                                     demandes=_count_distinct(st.row), id=pos.grid.id,
                                     version=pos.grid.version, today=args.today.isoformat()),
          file=sys.stderr)
    return 0


def position_columns(pos: Positioning) -> dict[str, Any]:
    """The columns of ``cotation position`` as Arrow arrays and numpy integers. Every text is
    formatted once per distinct value (a numero, a commune, a score, a cell, a waiting cell, a
    share) into a dictionary column whose indices are the rows'."""
    import pyarrow as pa

    from cotation.engine.scoring import hundredths_text
    from cotation.info.codes import compact

    st, rows = pos.st, pos.rows
    pair = rows.pair

    def coded(values, index: np.ndarray) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(np.asarray(index, dtype=np.int64)),
                                              pa.array(values, type=pa.string()))

    wait_text = [tuple("" if v is None else format_fraction(v, 1) for v in
                       (w.mean_days, w.median_days, w.mean_months, w.median_months))
                 for w in pos.waiting_stats]
    above, size = np.asarray(pos.n_above, dtype=np.int64), np.asarray(pos.size, dtype=np.int64)
    scaled = (2 * above * 10_000 + size) // (2 * size)     # floor(share * 10^4 + 1/2)
    # distinct values and each row's among them, by counting (no sort of the rows: 0.7 s of
    # np.unique's argsorts at 1M demandes)
    shares, share_id = compact(scaled, 10_001)
    score = np.asarray(st.score, dtype=np.int64)
    low = int(score.min()) if len(score) else 0
    scores, score_id = compact(score - low, int(score.max()) - low + 1 if len(score) else 1)
    scores = scores + low
    communes = pa.array(st.commune, type=pa.string()).dictionary_encode()
    thresholds = pos.grid.delai_anormalement_long or {}
    limit = [None if t is None else thresholds.get(t) for t in rows.typologie_vocab]
    known = np.asarray([v is not None for v in limit])[rows.typologie_code]
    delai = np.asarray([0 if v is None else v for v in limit], dtype=np.int64)[rows.typologie_code]
    depasse = np.where(known, 1 + (np.asarray(pos.anciennete_mois) >= delai), 0)
    wid = pos.waiting_id
    return {
        "numero_unique": coded(st.numero_unique.tolist(), pair),
        "commune": pa.DictionaryArray.from_arrays(communes.indices.take(pa.array(pair)),
                                                  communes.dictionary),
        "typologie": coded(["" if t is None else t for t in rows.typologie_vocab],
                           rows.typologie_code),
        "score": coded(hundredths_text(scores), score_id.reshape(-1)[pair]),
        "rank": pos.rank,
        "cell_size": pos.size,
        "share_above": coded([f"{v // 10_000}.{v % 10_000:04d}" for v in shares.tolist()],
                             share_id.reshape(-1)),
        "decile": pos.deciles(),
        "cell_key": coded([cell_key(pos.levels[li], v) for li, v in pos.cells], pos.cell_id),
        "waiting_mean_days": coded([t[0] for t in wait_text], wid),
        "waiting_median_days": coded([t[1] for t in wait_text], wid),
        "waiting_mean_months": coded([t[2] for t in wait_text], wid),
        "waiting_median_months": coded([t[3] for t in wait_text], wid),
        "n_attributions": np.asarray([w.n for w in pos.waiting_stats], dtype=np.int64)[wid],
        "delai_anormalement_long": coded(["", "false", "true"], depasse),
        "waiting_cell_key": coded([w.key for w in pos.waiting_stats], wid),
    }


# the columns of ``cotation position`` that are not text, by their Parquet type (CSV writes the
# text forms of ``position_columns``; Parquet keeps numbers as numbers, booleans as booleans)
_POSITION_TYPES = {"score": "float64", "share_above": "float64", "waiting_mean_days": "float64",
                   "waiting_median_days": "float64", "waiting_mean_months": "float64",
                   "waiting_median_months": "float64", "delai_anormalement_long": "bool"}


def typed_position_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """The columns of :func:`position_columns` as typed Arrow arrays for Parquet: the text
    columns decoded to plain strings, the numbers and the flag parsed from their text (each
    distinct text once: the dictionary is parsed, then taken by the rows' indices; an empty
    text is a null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, Any] = {}
    for name, col in columns.items():
        if isinstance(col, np.ndarray):
            out[name] = pa.array(col)
        elif not pa.types.is_dictionary(col.type):
            out[name] = col
        else:
            values = col.dictionary
            typ = _POSITION_TYPES.get(name)
            if typ is not None:
                values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()),
                                    values).cast(typ)
            out[name] = values.take(col.indices)
    return out


def read_commune_names(path: str) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return {r["code"].strip(): r["nom"].strip() for r in reader if r.get("code") and r.get("nom")}


def cmd_statements(args) -> int:
    from cotation.progress import Progress

    resolve_inputs(args, "grid", "demandes", "attributions")
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    bad = [f for f in formats if f not in ("html", "json", "pdf")]
    if bad or not formats:
        print_error(_("--format takes html, json, pdf or several separated by commas (got {value!r})")
                    .format(value=args.format))
        return 2
    if "pdf" in formats and pdf_engine_or_error() is None:
        return 1
    output_dir(args.output, inputs=(args.grid, args.demandes, args.attributions))
    if args.commune_names:
        input_file(args.commune_names, "--commune-names")
    names = read_commune_names(args.commune_names) if args.commune_names else None
    if "html" in formats or "pdf" in formats:
        try:        # a broken template stops the run before any reading or scoring
            check_statement_templates(args.templates)
        except TemplatesError as e:
            print_error(_("--templates: {problem}").format(problem=e))
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
                print_error(_("no demande '{id}' in {path}").format(id=nu, path=args.demandes))
                return 1
            if d not in scored:
                print(warning_line(_("demande '{id}' is not scored by grid {grid} (out of its scope "
                                     "or no commune of the territory): no statement")
                                   .format(id=nu, grid=pos.grid.id)), file=sys.stderr)
                continue
            indices.append(d)
    try:
        with atomic_dir(args.output) as tmp:
            rendered = tuple(dict.fromkeys("html" if f == "pdf" else f for f in formats))
            written = write_statements(pos, str(tmp), indices=indices, formats=rendered,
                                       jobs=max(1, args.jobs), commune_names=names,
                                       templates=args.templates,
                                       progress=Progress(_("statements"), args.progress))
            if "pdf" in formats:
                engine = html_to_pdf([(tmp / f"{stem}.html", tmp / f"{stem}.pdf") for _nu, stem in written],
                                     jobs=max(1, args.jobs), progress=Progress("PDF", args.progress))
                print(_("PDF written with {engine}").format(engine=engine), file=sys.stderr)
                if "html" not in formats:
                    for _nu, stem in written:
                        os.remove(tmp / f"{stem}.html")
            if indices is None:
                with open(os.path.join(tmp, "index.csv"), "w", newline="", encoding="utf-8") as fh:
                    w = csv.writer(fh, lineterminator="\n")
                    w.writerow(["numero_unique"] + [f"{f}_file" for f in formats])
                    for nu, stem in written:
                        w.writerow([nu] + [f"{stem}.{f}" for f in formats])
    except (TemplatesError, PdfError) as e:
        print_error(_document_error(e))
        return 1
    n_table = len(table)
    print(_("{path}: {n} statements ({formats}) of {demandes} demandes read; grid {id} v{version}, "
            "today {today}").format(path=args.output, n=len(written), formats=", ".join(formats),
                                     demandes=n_table, id=pos.grid.id, version=pos.grid.version,
                                     today=args.today.isoformat()),
          file=sys.stderr)
    return 0


def pdf_engine_or_error() -> str | None:
    """The PDF engine, or None after printing the one-line French reason (exit 1)."""
    try:
        return pdf_engine()
    except PdfError as e:
        print_error(str(e))
        return None


def cmd_publish(args) -> int:
    from pathlib import Path
    from cotation.info.publication import check_publication_templates, publication_html

    resolve_inputs(args, "grid")
    out = output_file(args.output, (".html", ".pdf"), inputs=(args.grid, args.commune_names))
    if args.commune_names:
        input_file(args.commune_names, "--commune-names")
    names = read_commune_names(args.commune_names) if args.commune_names else None
    pdf = out.suffix.lower() == ".pdf"
    if pdf and pdf_engine_or_error() is None:
        return 1
    try:
        check_publication_templates(args.templates)
    except TemplatesError as e:
        print_error(_("--templates: {problem}").format(problem=e))
        return 1
    grid = _load_grid(args.grid)
    if grid is None:
        return 1
    try:
        page = publication_html(grid, commune_names=names, templates=args.templates,
                                today=args.today)
        with atomic_file(out) as tmp:
            if pdf:
                html = Path(str(tmp) + ".html")
                try:
                    html.write_text(page, encoding="utf-8", newline="\n")
                    engine = html_to_pdf([(html, tmp)])
                finally:
                    html.unlink(missing_ok=True)
            else:
                tmp.write_text(page, encoding="utf-8", newline="\n")
    except (TemplatesError, PdfError) as e:
        print_error(_document_error(e))
        return 1
    print(_("{path}: published grid {id} v{version}").format(path=out, id=grid.ir.id,
                                                              version=grid.ir.version)
          + (_(" (PDF written with {engine})").format(engine=engine) if pdf else ""), file=sys.stderr)
    return 0


def _load_grid(path: str):
    from cotation.cli.core import _load
    return _load(path)

"""Core CLI commands: validate, score, explain, test."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import io
import os
import sys
from typing import Any

import numpy as np

from cotation.cli.arguments import date_arg, positive_int as _positive_int
from cotation.cli.outputs import (CommandError, input_file, output_file, usage_error)
from cotation.grid.diagnostics import GridError
from cotation.i18n import _, print_error, warning_line

OUTPUT_SUFFIXES = (".csv", ".parquet")
REJECTS_SUFFIXES = (".csv",)


def add_inputs(p: argparse.ArgumentParser, *names: str) -> None:
    """The core inputs, given the same way as in ``cotation flux``: as options
    (``--grid G --demandes D``) or, as before, as positionals in that order."""
    helps = {"grid": _("grid file (YAML)"),
             "demandes": _("demandes: canonical CSV or Parquet, SNE XML, or an extraction with --mapping"),
             "attributions": _("attributions (leases signed), canonical CSV or Parquet")}
    metavars = {name: _input_metavar(name) for name in names}
    for name in names:
        p.add_argument(name, nargs="?", metavar=metavars[name], help=helps[name])
    for name in names:
        p.add_argument(f"--{name}", dest=f"{name}_opt", metavar=metavars[name],
                       help=_("same as the positional {name}").format(name=metavars[name]))


def _input_metavar(name: str) -> str:
    return {"grid": _("GRID"), "demandes": _("DEMANDES"), "attributions": _("ATTRIBUTIONS")}[name]


def resolve_inputs(args: argparse.Namespace, *names: str) -> None:
    """Merge the option and positional forms of each input; exactly one is required."""
    for name in names:
        pos, opt = getattr(args, name), getattr(args, f"{name}_opt")
        if pos is not None and opt is not None:
            raise usage_error(_("{name} given twice (positional and --{opt})").format(
                name=_input_metavar(name), opt=name))
        if pos is None and opt is None:
            raise usage_error(_("{name} is required (positional or --{opt})").format(
                name=_input_metavar(name), opt=name))
        setattr(args, name, pos if pos is not None else opt)


def add_output(p: argparse.ArgumentParser, help: str, required: bool = True, metavar: str | None = None) -> None:
    """``-o/--output`` (aliases ``--out``, ``--sortie``): one name for one thing everywhere."""
    p.add_argument("-o", "--output", "--out", "--sortie", dest="output", required=required,
                   metavar=metavar or _("OUTPUT"), help=help)


# Below this many demandes, ``auto`` scores with the interpreter when the grid's kernels are
# not compiled yet: on bench30 (30 criteria) a cold compilation took 4.7-5.7 s while the
# interpreter scored 5,000 demandes in about 1 s more than a warm compiled run (both in
# fresh processes, same session; benchmarks/README.md).
INTERPRETER_BELOW = 5000


def _compiled(grid):
    """The grid lowered for the compiled engine, or None when there is no compiler for it
    (``score`` then falls back to the interpreter by itself)."""
    try:
        from cotation.engine.compiled import compile_grid
        return compile_grid(grid.ir)
    except Exception:  # noqa: BLE001 - no compiler: auto falls back by itself
        return None


# Input files from this size on (about 10,000 demandes of canonical CSV) have the cached
# kernels loaded while they are read (``score``): the compiled engine scores them unless
# ``auto`` finds almost no pair to score (``interpreter_is_quicker``), and then the load
# costs nothing but the other core's time.
LOAD_WHILE_READING_BYTES = 2 << 20


class KernelLoad:
    """The grid's lowering to kernels and the loading of the cached kernels (native machine
    code: ≈0.1 s; through Numba's start-up: ≈0.45 s, mostly holding the interpreter lock) on
    a thread while the demandes are read (mostly Arrow and numpy, which release it). Only for
    an input large enough that the compiled engine will run; it never compiles kernels
    (those not in the cache are left to the main thread, which says so), but kernels that
    Numba loads from its cache are stored as native code when they are not yet (once per
    grid structure and machine, ≈1–3 s). :meth:`join` before scoring, then :attr:`compiled`
    is what ``_compiled`` gives; a failure to load is left for ``score`` to meet again (and
    report or fall back)."""

    def __init__(self, grid) -> None:
        import threading

        self.grid = grid
        self.compiled = None
        self._thread = threading.Thread(target=self._load, name="cotation-kernels", daemon=True)

    @classmethod
    def start(cls, grid, engine: str, demandes: str) -> "KernelLoad | None":
        if engine not in ("compiled", "auto"):
            return None
        try:
            if os.stat(demandes).st_size < LOAD_WHILE_READING_BYTES:
                return None
        except (OSError, ValueError):
            return None
        load = cls(grid)
        load._thread.start()
        return load

    def _load(self) -> None:
        try:
            from cotation.cli.kernels import skip_numba_blas_probe
            cg = self.compiled = _compiled(self.grid)
            if cg is None or not cg.kernels_cached():
                return
            if not cg.try_native():      # native machine code: no Numba start at all
                skip_numba_blas_probe()
            cg.warm()
        except Exception:  # noqa: BLE001 - the main thread meets it again and reports it
            pass           # (one line) or falls back: never a traceback from this thread

    def join(self) -> None:
        self._thread.join()


def _announce_compile(grid, cg) -> None:
    """Compile the grid's kernels now (``cg``: not in the cache), saying so on stderr with the
    time taken (the first score of a new grid structure takes seconds). A grid the compiler
    cannot take is left to ``score``, which falls back or reports it."""
    import time

    print(_("compiling the kernels of grid {id} (first use of this grid structure on this "
            "machine)…").format(id=grid.ir.id), file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        cg.warm()
    except Exception:  # noqa: BLE001 - score() falls back to the interpreter with a warning
        return
    print(_("kernels compiled in {s:.1f} s (cached for the next runs)").format(
        s=time.perf_counter() - start), file=sys.stderr, flush=True)


def _engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("auto", "compiled", "interpreter"), default=None,
                   help=_("scoring back end (default auto: compiled, the interpreter if it cannot run)"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help=_("check grid files; print file:line:col: message per problem"),
                       description=_("Check grid files and print every problem as "
                                     "file:line:col: message. Exit 0 when every grid is valid."))
    p.add_argument("grids", nargs="+", metavar=_("GRID"), help=_("grid file (YAML)"))
    p.add_argument("--no-warnings", action="store_true", help=_("print errors only"))
    p.add_argument("--strict", action="store_true", help=_("fail on warnings too"))
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("score", help=_("score demandes with a grid and rank them per commune"),
                       description=_("Score the demandes with the grid and rank them per commune; "
                                     "one row per (demande, commune)."))
    add_inputs(p, "grid", "demandes")
    p.add_argument("--today", type=date_arg, required=True, help=_("reference date YYYY-MM-DD"))
    add_output(p, _("output file (.csv or .parquet)"))
    p.add_argument("--explain", action="store_true", help=_("add one pts_<criterion> column per criterion"))
    p.add_argument("--audit", action="store_true",
                   help=_("add grid_id, grid_version, grid_hash and today columns to every row"))
    _engine_option(p)
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help=_("threads of the compiled engine (default: COTATION_WORKERS, else the "
                          "CPUs available)"))
    p.add_argument("--mapping", help=_("mapping file for a local CSV extraction"))
    p.add_argument("--rejects", help=_("write rows that could not be read to this CSV"))
    p.add_argument("--strict", action="store_true", help=_("fail on the first rejected row or on any warning about the source"))
    p.add_argument("--progress", action="store_true", default=None, help=_("show progress"))
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("explain", help=_("explain one demande's cotation, criterion by criterion"),
                       description=_("Explain one demande's cotation, criterion by criterion."))
    add_inputs(p, "grid", "demandes")
    p.add_argument("--id", required=True, help=_("numero_unique of the demande"))
    p.add_argument("--today", type=date_arg, required=True, help=_("reference date YYYY-MM-DD"))
    p.add_argument("--mapping", help=_("mapping file for a local CSV extraction"))
    p.add_argument("--json", action="store_true", help=_("print JSON instead of text"))
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("test", help=_("run a grid's YAML test cases"),
                       description=_("Run a grid's test cases (a *.cases.yaml file)."))
    p.add_argument("grid", metavar=_("GRID"), nargs="?", help=_("grid file (default: the cases file's)"))
    p.add_argument("cases", metavar=_("CASES"), help=_("test cases file (*.cases.yaml)"))
    p.add_argument("--engine", choices=("interpreter", "compiled"), default="interpreter",
                   help=_("scoring back end (default interpreter)"))
    p.set_defaults(func=cmd_test)


def _load(path: str):
    from cotation.grid import load_grid
    input_file(path, _("grid"))
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
            input_file(path, _("grid"))
        except CommandError as exc:
            print_error(str(exc))
            status = 1
            continue
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
        print(_("{path}: ok — {id} v{version}, {n} criteria, {communes} communes, "
                "{warnings} warning(s)").format(path=path, id=grid.ir.id, version=grid.ir.version,
                                                n=len(grid.ir.criteria), communes=len(grid.ir.communes),
                                                warnings=len(grid.warnings)))
    return status


def load_and_read(args):
    """The grid ``args.grid`` and the demandes read against it; None after printing why."""
    grid = _load(args.grid)
    if grid is None:
        return None
    result = _read(args, grid)
    return None if result is None else (grid, result)


def _read(args, grid=None, *, summary: bool = True):
    """The demandes through the boundary (checked against ``grid``'s columns when given);
    None after printing why, when the run must stop (exit 1: invalid input). ``summary=False``
    leaves the rows read / accepted / rejected line to the caller (``cotation score`` prints
    it once scoring has refused the rows with unreadable local field values too)."""
    from functools import partial

    from cotation.data.boundary import MissingColumnsError, admit
    from cotation.data.table import StrictModeError, write_rejects_csv
    from sne_adapters import read_demandes
    strict = getattr(args, "strict", False)
    needs = known = None
    if grid is not None:
        from cotation.engine.reads import reads_of
        needs, known = reads_of(grid.ir)
    reader = partial(read_demandes, mapping=getattr(args, "mapping", None))
    try:
        admitted = admit(args.demandes, needs=needs, known_extras=known or (), strict=strict,
                         reader=reader)
    except OSError as exc:
        from cotation.cli.outputs import describe_os_error
        print_error(describe_os_error(exc))
        return None
    except (StrictModeError, MissingColumnsError, ValueError) as exc:
        print_error(str(exc))
        return None
    result, report = admitted.result, admitted.report
    if getattr(args, "rejects", None):
        from cotation.cli.outputs import atomic_file
        with atomic_file(args.rejects) as tmp:
            write_rejects_csv(result.rejects, tmp)
    if summary:
        _rejects_summary(args, result.n_read, result.n_accepted, len(result.rejects))
    for warning in report.warnings:
        print(warning_line(f"{args.demandes}: {warning}"), file=sys.stderr)
    if result.n_accepted == 0:
        print_error(_("{path}: no row accepted ({n} read); nothing to score").format(
            path=args.demandes, n=result.n_read))
        return None
    if strict and report.warnings:
        print_error(_("--strict: the source has warnings"))
        return None
    return result


def _rejects_summary(args, read: int, accepted: int, rejected: int) -> None:
    """The rows read / accepted / rejected line on stderr, when a row was rejected."""
    if rejected:
        print(_("{path}: {read} rows read, {accepted} accepted, {rejected} rejected").format(
            path=args.demandes, read=read, accepted=accepted, rejected=rejected)
              # the hint only where the command has the option (explain, position… do not)
              + (_(" (write them with --rejects FILE)")
                 if "rejects" in vars(args) and not args.rejects else ""),
              file=sys.stderr)


def default_engine() -> str:
    """The compiled engine, falling back to the interpreter if it cannot run (``auto``)."""
    return "auto"


def cmd_score(args) -> int:
    from cotation.progress import Progress

    resolve_inputs(args, "grid", "demandes")
    if args.output != "-":
        output_file(args.output, OUTPUT_SUFFIXES, inputs=(args.grid, args.demandes))
    if args.rejects:
        output_file(args.rejects, REJECTS_SUFFIXES, inputs=(args.grid, args.demandes),
                    option="--rejects")
    input_file(args.demandes, _("demandes"))
    show = Progress("cotation", args.progress)
    grid = _load(args.grid)
    if grid is None:
        return 1
    engine = args.engine or default_engine()
    numba_started = "numba" in sys.modules       # before the thread may start it
    loading = KernelLoad.start(grid, engine, args.demandes)
    try:
        return _score_read(args, grid, engine, loading, show, numba_started)
    finally:
        if loading is not None:
            loading.join()


def _deposited_after(table: Any, today: dt.date) -> int:
    """How many demandes of ``table`` were deposited after ``today`` (a date of the future
    for the run: scored with a negative ancienneté). One comparison over the checked column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = table.arrow_column("date_depot")
    if arr is None:
        values = table.columns["date_depot"]
        return sum(1 for d in values if d is not None and d > today)
    if not pa.types.is_date32(arr.type):
        arr = arr.cast(pa.date32())
    return int(pc.sum(pc.greater(arr, pa.scalar(today, pa.date32()))).as_py() or 0)


def _score_read(args, grid, engine: str, loading: "KernelLoad | None", show,
                numba_started: bool) -> int:
    from cotation.engine import score
    from cotation.engine.scoring import output_order

    result = _read(args, grid, summary=False)
    if result is None:
        return 1
    show.phase(_("read {n} demandes").format(n=len(result.table)))
    later = _deposited_after(result.table, args.today)
    if later:
        print(warning_line(_("{path}: {n} demande(s) deposited after the reference date {today} "
                             "(a negative ancienneté): are --today and the extraction of the "
                             "same day?").format(path=args.demandes, n=later,
                                                 today=args.today.isoformat())),
              file=sys.stderr)
    if args.today < grid.ir.effective_from:
        print(warning_line(_("grid {id} v{version} takes effect on {start}, after the reference "
                             "date {today}").format(id=grid.ir.id, version=grid.ir.version,
                                                   start=grid.ir.effective_from.isoformat(),
                                                   today=args.today.isoformat())),
              file=sys.stderr)
    from cotation.engine.run import interpreter_is_quicker
    lowered = functools.cache(lambda: _compiled(grid))      # lowered at most once

    def native() -> bool:       # asked only when the estimate is between the two starts
        # (with a kernel thread loading them: Numba's start, as before)
        return loading is None and lowered() is not None and lowered().native_cached()

    if engine == "auto" and interpreter_is_quicker(grid.ir, result.table,
                                                   numba_started=numba_started, native=native):
        engine = "interpreter"   # same scores, before the kernels would even be loaded
    if engine == "interpreter":
        cg = None                # (a kernel thread is joined when the command ends)
    elif loading is not None:
        loading.join()           # the kernels loaded while the demandes were read
        cg = loading.compiled
    else:
        cg = lowered()
    cached = cg is None or cg.kernels_cached()     # the cache directory is looked at once
    if engine == "auto" and len(result.table) < INTERPRETER_BELOW and not cached:
        engine = "interpreter"   # same scores; compiling would cost more than it saves
    if engine == "auto" and not cached:
        from cotation.engine.compiled.engine import compile_too_long
        why = compile_too_long(cg)          # a huge grid: no unbounded wait
        if why is not None:
            print(warning_line(why), file=sys.stderr)
            engine = "interpreter"
    if engine in ("compiled", "auto") and cg is not None and (not cached or not cg.try_native()):
        from cotation.cli.kernels import skip_numba_blas_probe
        skip_numba_blas_probe()      # 0.1-0.16 s of Numba's start-up (cotation/cli/kernels.py)
    if engine in ("compiled", "auto"):
        if not cached:
            _announce_compile(grid, cg)
        show.phase(_("kernels ready"))
    st = score(grid.ir, result.table, args.today, engine=engine, explain=args.explain,
               progress=show, workers=args.workers, compiled=cg)
    show.phase(_("scored and ranked"))
    # A row with an unreadable local field value is a reject too (counted once however many
    # of its values are): in the totals, in the rejects file, as the API's report counts it.
    from cotation.data.boundary import rejected_rows
    unscored = len(rejected_rows(st.rejects))
    _rejects_summary(args, result.n_read, result.n_accepted - unscored,
                     len(result.rejects) + unscored)
    if st.rejects:
        print(_("{n} demande(s) not scored: unreadable local field values").format(n=unscored)
              + (_(" (added to {path})").format(path=args.rejects) if args.rejects else ""),
              file=sys.stderr)
        if args.rejects:
            from cotation.cli.outputs import atomic_file
            from cotation.data.table import write_rejects_csv
            with atomic_file(args.rejects) as tmp:
                write_rejects_csv(sorted([*result.rejects, *st.rejects], key=lambda r: r.line),
                                  tmp)
    order = output_order(st)
    # CSV gets exact two-decimal text; Parquet gets numbers (hundredths / 100) for other tools.
    parquet = args.output.lower().endswith(".parquet")
    if parquet:
        def fmt(h: np.ndarray) -> np.ndarray:
            return np.asarray(h, dtype=np.int64) / 100.0     # exact below 2^53
    else:
        from cotation.engine.scoring import hundredths_text
        fmt = hundredths_text      # exact two-decimal text, built column-wise
    nu = result.table.arrow_column("numero_unique")      # per demande
    columns: dict[str, Any] = {
        # from the table's Arrow column: the ScoreTable's Python strings are never made
        "numero_unique": nu.take(st.row[order]) if nu is not None
        else np.asarray(st.numero_unique, dtype=object)[order],
        "commune": _text_column(None if st.terr is None else _strings(st.territory),
                                st.commune, order, st.terr),
        "score": fmt(np.asarray(st.score, dtype=np.int64)[order]),
        "score_valide": fmt(np.asarray(st.score_valide, dtype=np.int64)[order]),
        "rank": np.asarray(st.rank, dtype=np.int64)[order],
    }
    if args.explain:
        if st.points is None:
            raise RuntimeError("engine returned no per-criterion points")
        for j, c in enumerate(grid.ir.criteria):
            columns[f"pts_{c.id}"] = fmt(np.asarray(st.points[:, j], dtype=np.int64)[order])
    if args.audit or parquet:
        n = len(order)
        for name, value in (("grid_id", grid.ir.id), ("grid_version", grid.ir.version),
                            ("grid_hash", grid.source_hash), ("today", args.today.isoformat())):
            columns[name] = _strings([str(value)]).take(np.zeros(n, dtype=np.int64))
    write_columns(columns, args.output, workers=args.workers)
    show.phase(_("written"))
    print(_("{path}: {n} cotations of {demandes} demandes ({scope} in scope), grid {id} v{version}, "
            "today {today}, engine {engine}").format(
        path=args.output, n=len(order), demandes=len(result.table) - unscored,
        scope=_count_distinct(st.row),
        id=grid.ir.id, version=grid.ir.version, today=args.today.isoformat(), engine=engine),
          file=sys.stderr)
    return 0


def _count_distinct(rows: np.ndarray) -> int:
    """How many different demande indices ``rows`` holds (no sort: a count per index)."""
    rows = np.asarray(rows, dtype=np.int64)
    return int(np.count_nonzero(np.bincount(rows))) if len(rows) else 0


def _strings(values) -> Any:
    """Python strings as an Arrow string array."""
    import pyarrow as pa
    return pa.array(list(values), pa.string())


def _text_column(arrow: Any, objects: np.ndarray, rows: np.ndarray,
                 index: np.ndarray) -> Any:
    """A text result column in output order (``rows``: pairs): ``arrow[index[rows]]`` when
    there is an Arrow array of the values ``index`` points into, else the Python strings
    ``objects[rows]``."""
    if arrow is None:
        return np.asarray(objects, dtype=object)[rows]
    return arrow.take(index[rows])


def write_columns(columns: dict[str, list], path: str, *, workers: int | None = None) -> None:
    """Write result columns as CSV (or Parquet through sne_adapters), deterministically and
    atomically (``-`` writes CSV to stdout); ``workers``: threads of the CSV writer (default
    :func:`~cotation.data.parallel.default_workers`)."""
    from cotation.cli.outputs import atomic_file
    if path == "-":
        raw = getattr(sys.stdout, "buffer", None)
        if raw is None:          # a text-only stream (an embedding application's)
            buf = io.BytesIO()
            _write_csv_columns(columns, buf, workers=workers)
            sys.stdout.write(buf.getvalue().decode("utf-8"))
            return
        sys.stdout.flush()
        _write_csv_columns(columns, raw, workers=workers)
        raw.flush()
        return
    with atomic_file(path) as tmp:
        if path.lower().endswith(".parquet"):
            from sne_adapters import write_results
            write_results(columns, tmp)
            return
        with open(tmp, "wb") as out:
            _write_csv_columns(columns, out, workers=workers)


def _arrow_csv_body(columns: dict[str, Any]):
    """The columns as an Arrow table whose unquoted CSV is what ``csv.writer`` writes, or
    None when a cell would need quotes (the Python writer then writes the file)."""
    import pyarrow as pa

    arrays = []
    for v in columns.values():
        try:
            arr = v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(
                v.tolist() if isinstance(v, np.ndarray) and v.dtype == object else v)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError,
                ValueError, OverflowError):
            return None       # mixed types: the Python writer's str() of each cell
        text = arr.dictionary if pa.types.is_dictionary(arr.type) else arr
        if pa.types.is_dictionary(arr.type) and not pa.types.is_string(text.type):
            return None
        if pa.types.is_string(text.type) or pa.types.is_large_string(text.type):
            # a dictionary column's values are looked at once, not once per row
            if _needs_quotes(text):
                return None
        elif not (pa.types.is_integer(arr.type) or pa.types.is_null(arr.type)):
            return None
        arrays.append(arr)
    return pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))])


def _needs_quotes(text) -> bool:
    """Whether a cell of the string array (or chunked array) ``text`` holds a byte that CSV
    must quote (``,``, ``"``, CR, LF): its bytes are looked at end to end, those below
    ``-`` (the four are) first."""
    import pyarrow as pa
    from cotation.data.vector import cell_bytes

    for chunk in (text.chunks if isinstance(text, pa.ChunkedArray) else [text]):
        body = cell_bytes(chunk)[1]
        low = body[body < 45]
        if ((low == 44) | (low == 34) | (low == 13) | (low == 10)).any():
            return True
    return False


def _write_csv_columns(columns: dict[str, Any], out, *, workers: int | None = None) -> None:
    """The columns as UTF-8 CSV into the binary stream ``out``: the header by ``csv``, the
    body by pyarrow straight from the arrays when no cell needs quotes, else by ``csv``."""
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        w = csv.writer(text, lineterminator="\n")
        w.writerow(names)
        body = _arrow_csv_body(columns) if n and len(names) > 1 else None
        if body is not None:
            from cotation.cli.outputs import write_csv_body
            write_csv_body(body, out, workers=workers)
        else:
            cols = [c.to_pylist() if hasattr(c, "to_pylist") else
                    (c.tolist() if isinstance(c, np.ndarray) else c) for c in columns.values()]
            for i in range(n):
                w.writerow([c[i] for c in cols])
    finally:
        text.detach()   # leave ``out`` open for its owner, even after a failed write


def cmd_explain(args) -> int:
    import json

    from cotation.engine.explain import criterion_lines, render_text
    from cotation.engine.scoring import format_hundredths, local_field_values
    from cotation.engine import score

    resolve_inputs(args, "grid", "demandes")
    input_file(args.demandes, _("demandes"))
    loaded = load_and_read(args)
    if loaded is None:
        return 1
    grid, result = loaded
    table = result.table
    try:
        idx = table.index_of(args.id)
    except KeyError:
        print_error(_("no demande '{id}' in {path}").format(id=args.id, path=args.demandes))
        return 1
    # Ranks need every demande of the file; the breakdown comes from the reference interpreter.
    from cotation.engine.run import interpreter_is_quicker
    quick = interpreter_is_quicker(grid.ir, table)   # a small file: no Numba start-up
    st = score(grid.ir, table, args.today, engine="interpreter" if quick else default_engine())
    ranks, sizes = {}, {}
    for p in range(len(st)):
        sizes[st.commune[p]] = sizes.get(st.commune[p], 0) + 1
    for p in range(len(st)):
        if st.row[p] == idx:
            ranks[st.commune[p]] = (int(st.rank[p]), sizes[st.commune[p]])
    from cotation.engine.interpreter import Interpreter
    local, _unused = local_field_values(grid.ir, table)
    row = table.row(idx)
    for name, vals in local.items():
        row[name] = vals[idx]
    pairs = Interpreter(grid.ir).score_row(idx, row, args.today)
    if args.json:
        doc = {"numero_unique": args.id, "grid": {"id": grid.ir.id, "version": grid.ir.version,
                                                  "hash": grid.source_hash},
               "today": args.today.isoformat(),
               "communes": [{"commune": p.commune, "ordre_choix": p.rang,
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
    from cotation.testing.cases import CasesError, run_cases
    input_file(args.cases, _("test cases"))
    if args.grid is not None:
        input_file(args.grid, _("grid"))
    try:
        results = run_cases(args.cases, args.grid, engine=args.engine)
    except GridError as exc:
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
        return 1
    except CasesError as exc:
        print_error(str(exc))
        return 1
    failed = [r for r in results if not r.ok]
    for r in results:
        print((_("PASS ") if r.ok else _("FAIL ")) + r.name)
        for f in r.failures:
            print("     " + f.replace("\n", "\n     "))
    print(_("{passed} passed, {failed} failed").format(passed=len(results) - len(failed),
                                                       failed=len(failed)))
    return 1 if failed else 0

"""What every command does with the paths it is given: refuse mistakes in one line, write
outputs atomically.

Exit codes (documented in ``docs/exit-codes.md``): 0 done, 1 invalid input or grid (a file that
cannot be read, a grid that does not validate, failed checks), 2 usage (a wrong option, an
output the command cannot write: unknown extension, a folder where a file is expected…),
3 internal error (a bug: the message asks to report it), 130 interrupted (Ctrl-C).

Outputs are written to a temporary name in the destination folder and renamed when complete
(``os.replace``, atomic on one file system), so an interrupted or failed run never leaves a
half-written file under the expected name; a folder of outputs is built aside and its files
moved in one by one.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from cotation.i18n import _

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class CommandError(Exception):
    """A user mistake: a one-line message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_INPUT):
        super().__init__(message)
        self.code = code


def usage_error(message: str) -> CommandError:
    return CommandError(message, EXIT_USAGE)


def describe_os_error(exc: OSError) -> str:
    """One line, in the user's language, for a file that cannot be read or written."""
    path = exc.filename if exc.filename is not None else ""
    if isinstance(exc, FileNotFoundError):
        return _("{path}: no such file or folder").format(path=path)
    if isinstance(exc, IsADirectoryError):
        return _("{path} is a folder; a file is expected here").format(path=path)
    if isinstance(exc, NotADirectoryError):
        return _("{path}: a part of this path is a file, not a folder").format(path=path)
    if isinstance(exc, PermissionError):
        return _("{path}: permission denied").format(path=path)
    if isinstance(exc, FileExistsError):
        return _("{path} already exists").format(path=path)
    if exc.errno == errno.ENOSPC:
        return _("{path}: no space left on the disk").format(path=path)
    if exc.errno == errno.EROFS:
        return _("{path}: the file system is read-only").format(path=path)
    reason = exc.strerror or str(exc)
    return f"{path}: {reason}" if path else reason


def input_file(path: str | os.PathLike, what: str | None = None) -> Path:
    """An existing, readable, non-empty file (``what`` names it in the message)."""
    p = Path(path)
    label = f"{what} {p}" if what else str(p)
    if not p.exists():
        raise CommandError(_("{label}: no such file").format(label=label))
    if p.is_dir():
        raise CommandError(_("{label} is a folder; a file is expected here").format(label=label))
    if not os.access(p, os.R_OK):
        raise CommandError(_("{label}: permission denied").format(label=label))
    if p.stat().st_size == 0:
        raise CommandError(_("{label} is empty").format(label=label))
    return p


def output_file(path: str | os.PathLike, suffixes: Iterable[str],
                inputs: Iterable[str | os.PathLike | None] = (), option: str = "-o") -> Path:
    """Check an output file before any work: a known extension, not a folder, not an input."""
    p = Path(path)
    allowed = tuple(suffixes)
    if p.suffix.lower() not in allowed:
        raise usage_error(_("{option} {path}: unknown output extension; use {allowed}").format(
            option=option, path=p, allowed=_(" or ").join(allowed)))
    if p.is_dir():
        raise usage_error(_("{option} {path} is a folder; give a file name ending in {allowed}")
                          .format(option=option, path=p, allowed=_(" or ").join(allowed)))
    _not_an_input(p, inputs, option)
    _writable_parent(p, option)
    return p


def output_dir(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (),
               option: str = "-o") -> Path:
    """Check an output folder before any work: not an existing file, not an input."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise usage_error(_("{option} {path} is an existing file; this command writes a folder")
                          .format(option=option, path=p))
    _not_an_input(p, inputs, option)
    _writable_parent(p, option)
    return p


def _not_an_input(p: Path, inputs: Iterable[str | os.PathLike | None], option: str) -> None:
    for i in inputs:
        if i is not None and str(i) != "-" and Path(i).exists() and p.exists() \
                and os.path.samefile(p, i):
            raise usage_error(_("{option} {path} is also an input: it would be overwritten")
                              .format(option=option, path=p))


def _writable_parent(p: Path, option: str) -> None:
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise usage_error(_("{option} {path}: {parent} is a file, not a folder")
                          .format(option=option, path=p, parent=parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise usage_error(_("{option} {path}: cannot write in {parent} (permission denied)")
                          .format(option=option, path=p, parent=parent))


def _temp_name(p: Path) -> Path:
    return p.parent / f".{p.stem}.{os.getpid()}-{secrets.token_hex(4)}.part{p.suffix}"


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path (same folder, same extension) renamed to ``path`` on success and
    removed on any failure or interruption."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(p)
    try:
        yield tmp
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success each file written there is
    moved (atomically, one by one) into ``path``, created if needed. Files of ``path`` that the
    run did not write are kept."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.parent / f".{p.name}.{os.getpid()}-{secrets.token_hex(4)}.part"
    tmp.mkdir()
    try:
        yield tmp
        p.mkdir(exist_ok=True)
        for f in sorted(tmp.rglob("*")):
            if f.is_file():
                dest = p / f.relative_to(tmp)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(f, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Rows of the CSV body written by one task: slices written on the column threads, then to the
# file in order. 2.2M rows of `position` (16 columns, 325 MB) into a file, 2 cores, 4 rounds
# (2026-12-06, the same bytes): one piece 879-943 ms; slices of 32k rows 481-646 ms, of 64k
# 473-698 ms, of 128k 555-820 ms (larger slices, larger fresh buffers: more page faults).
# 458k rows of `score` (5 columns, 19 MB): 27 ms in one piece, 23-27 ms in slices of 64k.
CSV_SLICE_ROWS = 1 << 15


def write_csv_body(body, out, *, workers: int | None = None) -> None:
    """``body`` (an Arrow table) as unquoted CSV lines without a header into ``out``: slices
    of :data:`CSV_SLICE_ROWS` rows written by pyarrow on up to ``workers`` threads (default
    :func:`~cotation.data.parallel.default_workers`; pyarrow releases the interpreter lock),
    each written to ``out`` in turn, a few slices ahead at most. A CSV line does not depend
    on the others: the bytes are those of one write."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from cotation.data.parallel import default_workers

    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    n = body.num_rows
    workers = min(workers or default_workers(), -(-n // CSV_SLICE_ROWS))
    if workers <= 1 or n <= 2 * CSV_SLICE_ROWS:
        pcsv.write_csv(_without_empty_chunks(body), out, options)
        return

    def piece(lo: int):
        sink = pa.BufferOutputStream()
        pcsv.write_csv(_without_empty_chunks(body.slice(lo, CSV_SLICE_ROWS)), sink, options)
        return sink.getvalue()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cotation-csv") as pool:
        ahead: deque = deque()
        for lo in range(0, n, CSV_SLICE_ROWS):
            ahead.append(pool.submit(piece, lo))
            if len(ahead) > 2 * workers:
                _write_all(out, ahead.popleft().result())
        while ahead:
            _write_all(out, ahead.popleft().result())


def _without_empty_chunks(table):
    """``table`` with no empty chunk in its columns (no copy). pyarrow 26's CSV writer writes
    about 8 KB of NUL bytes before the rows of a table whose column starts with an empty
    chunk (tests/test_score_output.py)."""
    import pyarrow as pa

    if all(len(c) for col in table.columns for c in col.chunks):
        return table
    return pa.table([pa.chunked_array([c for c in col.chunks if len(c)], type=col.type)
                     for col in table.columns], names=table.column_names)


def _write_all(out, data) -> None:
    """All of ``data`` into ``out``: a raw stream (unbuffered standard output) may take part
    of it and say how much, or nothing yet (None, non-blocking: tried again)."""
    import time

    view = memoryview(data)
    while len(view):
        written = out.write(view)
        if not written:
            time.sleep(0.001)
            continue
        view = view[written:]

"""Writing statements in bulk: file names, chunks, worker processes.

Bulk mode scores and positions once in the main process, then builds and renders chunks of
demandes in worker processes; output files are named after the numero unique, so the bytes do
not depend on the number of workers. Nothing reads the wall clock.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from cotation.info.positioning import Positioning
from cotation.info.statements.build import build_statement, demande_contexts, statement_static
from cotation.info.statements.model import statement_json
from cotation.info.statements.render import check_statement_templates, render_html

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


# file names stay well under the 255 bytes most file systems allow (with .html, .json)
MAX_STEM = 80


def file_stem(numero_unique: str) -> str:
    """A file name for a numero unique; unsafe characters, or a name over ``MAX_STEM``
    characters (cut there), get a hash suffix to stay unique."""
    safe = _SAFE.sub("_", numero_unique)
    if safe != numero_unique or not safe or len(safe) > MAX_STEM:
        safe = safe[:MAX_STEM] + "-" + hashlib.sha256(numero_unique.encode()).hexdigest()[:10]
    return safe


# The run's shared part, set once per worker process by the pool initializer (and by the
# single-process path before its first chunk); never changed afterwards.
_STATIC: dict | None = None


def _init_worker(static: dict) -> None:
    global _STATIC
    _STATIC = static


def render_chunk(args: tuple[list[dict], str, tuple[str, ...], str | None]) -> list[tuple[str, str]]:
    """Build, render and write the statements of a chunk (runs in worker processes)."""
    contexts, out_dir, formats, templates = args
    static = _STATIC
    assert static is not None
    done = []
    for ctx in contexts:
        doc = build_statement(ctx, static)
        stem = file_stem(doc.numero_unique)
        if "json" in formats:
            _write(os.path.join(out_dir, stem + ".json"), statement_json(doc))
        if "html" in formats:
            _write(os.path.join(out_dir, stem + ".html"), render_html(doc, templates))
        done.append((doc.numero_unique, stem))
    return done


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _chunks(it: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk = []
    for x in it:
        chunk.append(x)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_statements(pos: Positioning, out_dir: str | Path, *, indices: Iterable[int] | None = None,
                     formats: Sequence[str] = ("html", "json"), jobs: int = 1, chunk_size: int = 250,
                     commune_names: dict[str, str] | None = None, templates: str | Path | None = None,
                     progress=None) -> list[tuple[str, str]]:
    """Write one statement per scored demande (or per ``indices``); return (numero, stem) pairs.

    ``templates``: a folder whose templates override the shipped ones of the same name
    (docs/templates.md); they are compiled before anything is written, so a syntax error stops
    the run with its file and line (:class:`cotation.templating.TemplatesError`).

    Contexts are produced lazily and at most ``2 × jobs`` chunks are in flight, so memory stays
    bounded in bulk runs.
    """
    formats = tuple(formats)
    templates = None if templates is None else str(templates)
    if "html" in formats:
        check_statement_templates(templates)
    out_dir = str(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    static = statement_static(pos, commune_names)
    contexts = demande_contexts(pos, indices)
    total = len(set(pos.st.row.tolist())) if indices is None else \
        len(set(indices) & set(pos.st.row.tolist()))
    written: list[tuple[str, str]] = []
    if jobs <= 1:
        _init_worker(static)
        for chunk in _chunks(contexts, chunk_size):
            written.extend(render_chunk((chunk, out_dir, formats, templates)))
            if progress is not None:
                progress(len(written), total)
        return written
    import gc
    import multiprocessing as mp
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    # Forked workers inherit the scored table; without freezing, their garbage collections
    # walk (and so copy) that whole heap again and again.
    gc.collect()
    gc.freeze()
    try:
        pool = ctx.Pool(jobs, initializer=_init_worker, initargs=(static,))
    finally:
        gc.unfreeze()
    with pool:
        pending: deque = deque()
        for chunk in _chunks(contexts, chunk_size):
            pending.append(pool.apply_async(render_chunk, ((chunk, out_dir, formats, templates),)))
            while len(pending) >= 2 * jobs:
                written.extend(pending.popleft().get())
                if progress is not None:
                    progress(len(written), total)
        while pending:
            written.extend(pending.popleft().get())
            if progress is not None:
                progress(len(written), total)
    return written

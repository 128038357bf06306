"""What one studio serves and the JSON of each pane.

The demandes are read once when the studio starts; every edit is re-checked with
:func:`cotation.grid.load_grid` (same diagnostics and codes as ``cotation validate``) and
rescored with ``engine="auto"``: the compiled engine, whose kernels do not depend on the
points (a change of points reuses the cached kernels), falling back to the reference
interpreter; on the bundled 4,000 demandes a preview takes 0.1-0.3 s compiled against 0.5-1.8 s
interpreted, depending on the machine's load (``benchmarks/bench_studio.py``, figures in
``benchmarks/README.md``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cotation.data.table import AttributionTable, DemandeTable
from cotation.grid import Grid, GridError, load_grid
from cotation.grid.diagnostics import Diagnostic, localized
from cotation.i18n import _

MAX_TEXT = 4 * 1024 * 1024


class StudioError(Exception):
    """A request the studio refuses; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {"line": d.span.line, "column": d.span.column, "code": d.code,
            "severity": d.severity, "criterion": d.criterion,
            "message": str(localized(d.message)),
            "suggestion": str(localized(d.hint)) if d.hint else None,
            "text": d.format()}


@dataclass
class Session:
    """The files given on the command line and what was read from them."""

    grid_path: Path
    today: dt.date
    table: DemandeTable
    demandes_path: Path
    attributions: AttributionTable | None = None
    attributions_path: Path | None = None
    engine: str = "auto"
    opened_text: str = ""
    opened: Grid | None = field(default=None, repr=False)
    reference_path: Path | None = None     # --compare FILE: compare with it, not the grid as opened
    _save_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _reference: list = field(default_factory=list, repr=False, compare=False)  # its ScoreTable, once
    _reference_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def open(cls, grid_path: Path, table: DemandeTable, demandes_path: Path, today: dt.date, *,
             attributions: AttributionTable | None = None,
             attributions_path: Path | None = None, reference_path: Path | None = None) -> "Session":
        """Read the grid (and the reference grid of ``--compare``); a reference grid that does
        not validate raises :class:`GridError`, the edited grid may be invalid."""
        text = grid_path.read_text(encoding="utf-8")
        s = cls(grid_path.resolve(), today, table, demandes_path.resolve(), attributions,
                attributions_path.resolve() if attributions_path else None, opened_text=text,
                reference_path=reference_path.resolve() if reference_path else None)
        if s.reference_path is not None:
            s.opened = load_grid(s.reference_path)
        else:
            try:
                s.opened = load_grid(s.grid_path, text)
            except GridError:
                s.opened = None
        return s

    # -- files -------------------------------------------------------------------------------
    def allowed_files(self) -> dict[str, Path]:
        files = {"grid": self.grid_path, "demandes": self.demandes_path}
        if self.attributions_path:
            files["attributions"] = self.attributions_path
        if self.reference_path:
            files["reference"] = self.reference_path
        return files

    def read_file(self, name: str) -> str:
        """The text of a file given on the command line, by role or by its exact path."""
        files = self.allowed_files()
        path = files.get(name)
        if path is None:
            try:
                candidate = Path(name).resolve()
            except (OSError, ValueError):
                candidate = None
            if candidate not in files.values():
                raise StudioError(_("this file was not given on the command line"), 403)
            path = candidate
        if path not in (self.grid_path, self.reference_path):
            raise StudioError(_("only the grid files are shown in the studio"), 403)
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise StudioError(_("{name} is not UTF-8 text").format(name=path.name)) from None

    def save(self, text: str) -> dict[str, Any]:
        """Write the grid file atomically; the previous version is kept as ``GRID.bak``.
        Saves are serialised: two at once (two tabs, a double Ctrl-S) cannot interleave."""
        _check_text(text)
        path = self.grid_path
        backup = path.with_name(path.name + ".bak")
        with self._save_lock:
            previous = path.read_bytes() if path.exists() else None
            mode = None
            if previous is not None:
                mode = stat.S_IMODE(path.stat().st_mode)
                # read-only for this user (or for everyone, as root): replacing it by a rename
                # would bypass that
                if not os.access(path, os.W_OK) or not mode & 0o222:
                    raise StudioError(_("{name} is read-only: it was not saved").format(
                        name=path.name), 403)
                _atomic_write(backup, previous, mode)
            _atomic_write(path, text.encode("utf-8"), mode)
        return {"saved": str(path), "backup": str(backup) if previous is not None else None}

    # -- panes -------------------------------------------------------------------------------
    def check(self, text: str) -> tuple[Grid | None, list[dict]]:
        _check_text(text)
        try:
            grid = load_grid(self.grid_path, text)
        except GridError as exc:
            return None, [diagnostic_json(d) for d in exc.diagnostics]
        return grid, [diagnostic_json(d) for d in grid.warnings]

    def validate(self, text: str) -> dict[str, Any]:
        grid, diags = self.check(text)
        return {"valid": grid is not None, "diagnostics": diags}

    def preview(self, text: str) -> dict[str, Any]:
        from cotation.studio.preview import preview_json
        grid, diags = self.check(text)
        out: dict[str, Any] = {"valid": grid is not None, "diagnostics": diags}
        if grid is not None:
            out.update(preview_json(grid, self.opened, self.table, self.today, self.engine,
                                    self.attributions, reference=self.reference_scores()))
        return out

    def reference_scores(self):
        """The reference grid's ScoreTable on the loaded demandes: the reference never changes
        during a session, so it is scored once, not at every preview."""
        if self.opened is None:
            return None
        with self._reference_lock:
            if not self._reference:
                from cotation.engine import score
                self._reference.append(score(self.opened.ir, self.table, self.today, engine=self.engine))
            return self._reference[0]

    def explain(self, text: str, numero_unique: str) -> dict[str, Any]:
        from cotation.studio.preview import explain_json
        grid, diags = self.check(text)
        if grid is None:
            return {"valid": False, "diagnostics": diags}
        try:
            idx = self.table.index_of(numero_unique)
        except KeyError:
            raise StudioError(_("no demande '{id}' in {path}").format(
                id=numero_unique, path=self.demandes_path.name), 404) from None
        return {"valid": True, **explain_json(grid, self.table, idx, self.today, self.engine)}

    def publication(self, text: str) -> dict[str, Any]:
        grid, diags = self.check(text)
        if grid is None:
            return {"valid": False, "diagnostics": diags, "html": None}
        try:
            from cotation.info.publication import publication_html
        except ImportError:
            return {"valid": True, "html": None,
                    "message": _("the published page is not available in this version of cotation")}
        return {"valid": True, "html": publication_html(grid)}


def _check_text(text: Any) -> None:
    if not isinstance(text, str):
        raise StudioError(_("the grid text is missing"))
    try:
        size = len(text.encode("utf-8"))
    except UnicodeError:
        raise StudioError(_("the grid text is not valid Unicode")) from None
    if size > MAX_TEXT:
        raise StudioError(_("the grid text is too large"), 413)


def _atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """``data`` written to a temporary file beside ``path``, then renamed over it; the file
    gets ``mode`` (the grid's own permissions: mkstemp creates files readable by their owner
    only), else those a new file gets from the process's umask (owner only when unknown)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mode = _new_file_mode() if mode is None else mode
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _new_file_mode() -> int | None:
    """``0o666`` less the process's umask, read without changing it (``os.umask`` sets it for
    every thread); None where the system does not say (Linux's /proc does)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return None

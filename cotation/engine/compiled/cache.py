"""On-disk kernel cache: generated modules named by the digest of their source.

``cache=True`` needs a real source file (numba#3501), so the generated source is written once
to ``<cache dir>/k_<digest>.py`` (temporary file + hard link or ``os.replace``: atomic, safe
with concurrent workers) and never rewritten, because Numba stamps sources by mtime and size.
Numba keeps its index and object files in that directory's ``__pycache__``.

The module is executed from the in-memory source (compiled with the file's path as its file
name, so Numba's cache locator finds the file); the file on disk is only Numba's cache anchor
and is checked to hold exactly the generated text.

The directory is per user (``$COTATION_CACHE_DIR``, else the platform's cache folder from
``platformdirs.user_cache_dir("cotation")``: ``~/.cache/cotation`` or ``$XDG_CACHE_HOME/cotation``
on Linux, ``~/Library/Caches/cotation`` on macOS, ``%LOCALAPPDATA%\\cotation\\Cache`` on
Windows), created with mode 0700, and versioned by the cotation, Numba and Python
versions and the generator format, since Numba only tracks the file it compiles.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import types
from pathlib import Path

from cotation.cachedir import cache_root
from cotation.engine.compiled.plan import GENERATOR_VERSION

_lock = threading.Lock()
_loaded: dict[str, types.ModuleType] = {}


def digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _numba_version() -> str:
    """Numba's version without importing Numba (0.1 s) when its metadata says it: looking at
    the cache must not cost a start-up that the interpreter may then not need. (Numba also
    checks its own version in each cache index.)"""
    from importlib import metadata

    try:
        return metadata.version("numba")
    except metadata.PackageNotFoundError:   # pragma: no cover - a source checkout of Numba
        import numba
        return numba.__version__


def cache_dir() -> Path:
    """The versioned kernel directory (created on first use)."""
    from cotation import __version__

    tag = (f"kernels-c{__version__}-nb{_numba_version()}-py{sys.version_info[0]}"
           f"{sys.version_info[1]}-g{GENERATOR_VERSION}")
    d = cache_root() / tag
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def _write_once(path: Path, source: str) -> None:
    data = source.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return  # never rewrite: Numba's index is stamped with the file's mtime and size
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".k_", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)            # atomic create-if-absent
        except FileExistsError:
            if path.read_bytes() != data:  # a damaged file: replace it atomically
                os.replace(tmp, path)
                tmp = ""
        except OSError:                    # no hard links on this file system
            os.replace(tmp, path)
            tmp = ""
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def machine_code_cached(key: str) -> bool:
    """Whether Numba's disk cache holds machine code for the kernel module of digest ``key``
    (the module is ``k_<key[:40]>.py``; Numba writes ``__pycache__/k_<key[:40]>.*.nbi``)."""
    return any((cache_dir() / "__pycache__").glob(f"k_{key[:40]}.*.nbi"))


def is_loaded(key: str) -> bool:
    """Whether this process has loaded the kernel module of digest ``key`` already (for any
    cache folder: a second load costs nothing and writes nothing)."""
    return key in _loaded


def load(source: str) -> types.ModuleType:
    """The kernel module for ``source`` (written to the cache on first use)."""
    key = digest(source)
    mod = _loaded.get(key)
    if mod is not None:
        return mod
    with _lock:
        mod = _loaded.get(key)
        if mod is not None:
            return mod
        path = cache_dir() / f"k_{key[:40]}.py"
        _write_once(path, source)
        name = f"cotation_kernel_{key[:40]}"
        mod = types.ModuleType(name)
        mod.__file__ = str(path)
        code = compile(source, str(path), "exec")
        sys.modules[name] = mod
        try:
            exec(code, mod.__dict__)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        _loaded[key] = mod
        return mod

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
from cotation.engine.compiled.audit import audit_source
from cotation.engine.compiled.plan import GENERATOR_VERSION

_lock = threading.Lock()
_build_lock = threading.Lock()     # making native code (seconds) does not hold up loading
# this process's loaded kernels by source digest: Numba modules, and native machine code
# (:mod:`cotation.engine.compiled.native`); both immutable once loaded. ``_no_native``: the
# digests whose native file was missing or unusable when looked for (until one is stored).
_loaded: dict[str, types.ModuleType] = {}
_native: dict[str, object] = {}
_no_native: set[str] = set()


def digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _numba_version() -> str:
    """Numba's version without importing Numba (0.1 s): looking at the cache must not cost a
    start-up that the interpreter may then not need. Read from the version file Numba's
    wheels carry (``numba/_version.py``, versioneer's JSON: 1 ms), else from its metadata
    (``importlib.metadata``: 10 ms to import). (Numba also checks its own version in each
    cache index.)"""
    import importlib.util
    import re

    spec = importlib.util.find_spec("numba")
    if spec is not None and spec.origin:
        try:
            text = (Path(spec.origin).parent / "_version.py").read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        found = re.search(r'^ "version": "([0-9][0-9A-Za-z.+_-]*)"$', text, re.MULTILINE)
        if found:
            return found.group(1)
    from importlib import metadata

    try:
        return metadata.version("numba")
    except metadata.PackageNotFoundError:   # pragma: no cover - a source checkout of Numba
        import numba
        return numba.__version__


def cache_dir(create: bool = True) -> Path:
    """The versioned kernel directory (created on first use unless ``create`` is False)."""
    from cotation import __version__

    tag = (f"kernels-c{__version__}-nb{_numba_version()}-py{sys.version_info[0]}"
           f"{sys.version_info[1]}-g{GENERATOR_VERSION}")
    d = cache_root() / tag
    if create:
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
    """Whether the cache holds machine code for the kernel module of digest ``key``: Numba's
    (the module is ``k_<key[:40]>.py``; Numba writes ``__pycache__/k_<key[:40]>.*.nbi``) or
    native (``k_<key[:40]>.<host>.native``)."""
    try:
        return any((cache_dir(create=False) / "__pycache__").glob(f"k_{key[:40]}.*.nbi")) \
            or native_cached(key)
    except OSError:
        return False


def native_cached(key: str) -> bool:
    """Whether the cache holds native machine code for digest ``key`` made for this machine
    (and it is not turned off). Creates nothing; imports llvmlite (0.03 s)."""
    from cotation.engine.compiled import native

    try:
        return native.stored(cache_dir(create=False), key)
    except (OSError, ImportError, RuntimeError):
        return False


def is_loaded(key: str) -> bool:
    """Whether this process has loaded the kernels of digest ``key`` already (for any
    cache folder: a second load costs nothing and writes nothing)."""
    return key in _loaded or key in _native


def load_native(source: str):
    """The native kernels for ``source`` when the cache holds them for this machine (loaded
    without Numba), else None."""
    from cotation.engine.compiled import native

    key = digest(source)
    kernels = _native.get(key)
    if kernels is not None:
        return kernels
    if key in _no_native:
        return None
    with _lock:
        kernels = _native.get(key)
        if kernels is None and key not in _no_native:
            try:
                kernels = native.load(cache_dir(create=False), key, lambda: load(source))
            except OSError:
                kernels = None
            if kernels is not None:
                _native[key] = kernels
            else:
                _no_native.add(key)
        return kernels


def store_native(mod: types.ModuleType, source: str) -> bool:
    """Make and store the native kernels of Numba module ``mod`` (kernels already run) when
    the cache has none for this machine. Whether they are stored (a failure only leaves the
    Numba path: never an error)."""
    from cotation.engine.compiled import native

    if not native.enabled():
        return False
    key = digest(source)
    try:
        with _build_lock:
            done = native.build(mod, key, cache_dir()) is not None
    except Exception:  # noqa: BLE001 - the Numba kernels stay in use, with the same results
        return False
    if done:
        _no_native.discard(key)
    return done


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
        audit_source(source)      # before it is written or executed (LoweringError if not)
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

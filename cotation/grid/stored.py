"""The validated-grid cache: a grid that validated once is not parsed and checked again.

A warm start spends most of its grid time importing and running the front end (PyYAML, JSON
Schema, pydantic, Lark, the checker and the linter: about 0.2 s). The checked result (the
typed IR, the warnings, the content hash) is stored as JSON in the user's cache folder
(:func:`cotation.cachedir.cache_root`, beside the kernels, folder ``grids-c<version>``) under a
key that hashes:

- the grid file's text and the path it was given as (the IR and the diagnostics name it),
- whether it was linted,
- the cotation version and the bytes of every front-end source file (``cotation/grid/*`` and
  ``cotation/data/schema.py``), so that a changed grid, a new release or an edited checker never
  reuses an entry.

Entries are untrusted input: JSON only (no pickle), read within a size bound, checked against a
SHA-256 of their payload and their own key, and decoded into the IR's own classes only (a
closed list); anything unexpected (a truncated, corrupt or foreign file) makes the lookup miss
and the grid is validated as if there were no cache. An entry is written only when decoding it
gives back exactly what the checker produced, and always atomically (temporary file, then
rename). A cache folder that cannot be written is not an error.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cotation.data.schema import Kind
from cotation.grid import ir
from cotation.grid.diagnostics import Diagnostic, Message, OrList, Span

FORMAT = 1
MAX_ENTRY_BYTES = 64 * 1024 * 1024

_CLASSES: dict[str, type] = {
    name: obj for name, obj in vars(ir).items()
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == ir.__name__}
_CLASSES.update(Span=Span, Diagnostic=Diagnostic)
_ENUMS: dict[str, type] = {"Kind": Kind}


class Unstorable(ValueError):
    """A value the codec does not know (the grid is then simply not cached)."""


# ------------------------------------------------------------------------------ codec

def encode(value: Any) -> Any:
    """``value`` as JSON-ready data, every type tagged so that :func:`decode` restores it."""
    t = type(value)
    if value is None or t in (bool, int, float, str):
        return value
    if t is Message:
        return {"$": "msg", "t": value.template, "p": {k: encode(v) for k, v in value.params.items()}}
    if t is OrList:
        return {"$": "or", "i": [encode(i) for i in value.items]}
    if t is tuple:
        return {"$": "tuple", "v": [encode(v) for v in value]}
    if t is list:
        return {"$": "list", "v": [encode(v) for v in value]}
    if t is frozenset:
        items = sorted(value, key=lambda v: (type(v).__name__, repr(v)))   # one order in every process
        return {"$": "frozenset", "v": [encode(v) for v in items]}
    if t is dict:
        return {"$": "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if t is dt.date:
        return {"$": "date", "v": value.isoformat()}
    if _ENUMS.get(t.__name__) is t:
        return {"$": "enum", "c": t.__name__, "v": value.value}
    if _CLASSES.get(t.__name__) is t:
        return {"$": "obj", "c": t.__name__,
                "f": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    raise Unstorable(t.__name__)


def decode(data: Any) -> Any:
    """The inverse of :func:`encode`; raises (ValueError, KeyError, TypeError) on anything that
    :func:`encode` does not write."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict:
        raise ValueError("untagged value")
    tag = data["$"]
    if tag == "msg":
        params = data["p"]
        if type(params) is not dict:
            raise ValueError("message parameters")
        return Message(_text(data["t"]), **{_text(k): decode(v) for k, v in params.items()})
    if tag == "or":
        return OrList(_text(decode(i)) for i in _list(data["i"]))
    if tag == "tuple":
        return tuple(decode(v) for v in _list(data["v"]))
    if tag == "list":
        return [decode(v) for v in _list(data["v"])]
    if tag == "frozenset":
        return frozenset(decode(v) for v in _list(data["v"]))
    if tag == "dict":
        return {decode(k): decode(v) for k, v in _list(data["v"])}
    if tag == "date":
        return dt.date.fromisoformat(_text(data["v"]))
    if tag == "enum":
        return _ENUMS[data["c"]](data["v"])
    if tag == "obj":
        cls = _CLASSES[data["c"]]
        fields = data["f"]
        if type(fields) is not dict or set(fields) != {f.name for f in dataclasses.fields(cls)}:
            raise ValueError(f"fields of {cls.__name__}")
        return cls(**{k: decode(v) for k, v in fields.items()})
    raise ValueError(f"unknown tag {tag!r}")


def _text(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("text expected")
    return value


def _list(value: Any) -> list:
    if type(value) is not list:
        raise ValueError("list expected")
    return value


# ------------------------------------------------------------------------------ entries

def _front_end_fingerprint() -> str:
    """SHA-256 of the cotation version and of the source files the checker's result depends on."""
    from cotation import __version__

    return hashlib.sha256(f"cotation {__version__} format {FORMAT}\0{_sources_digest()}"
                          .encode()).hexdigest()


@functools.cache
def _sources_digest() -> str:
    """SHA-256 of the front end's source files (read once per process: they are the code
    running)."""
    h = hashlib.sha256()
    grid_dir = Path(__file__).resolve().parent
    files = sorted(p for p in grid_dir.iterdir() if p.is_file() and p.suffix != ".pyc")
    files.append(grid_dir.parent / "data" / "schema.py")
    for p in files:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def entry_key(path: str, text: str, lint: bool) -> str | None:
    """The entry's key, or None when the front end's sources cannot be read (a zipped
    install, for example): the grid is then not cached."""
    try:
        fingerprint = _front_end_fingerprint()
    except OSError:
        return None
    h = hashlib.sha256(fingerprint.encode())
    for part in (path, "lint" if lint else "nolint", text):
        h.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _folder() -> Path:
    from cotation import __version__
    from cotation.cachedir import cache_root

    return cache_root() / f"grids-c{__version__}"


def entry_path(key: str) -> Path:
    return _folder() / f"g_{key}.json"


def lookup(key: str) -> tuple[ir.GridIR, tuple[Diagnostic, ...]] | None:
    """The stored grid for ``key`` (its IR, which holds the source hash, and warnings), or
    None when there is none or it cannot be trusted."""
    try:
        path = entry_path(key)
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        raw = path.read_bytes()
        check, _sep, body = raw.partition(b"\n")
        if hashlib.sha256(body).hexdigest().encode() != check:
            return None
        doc = json.loads(body)
        if type(doc) is not dict or doc.get("format") != FORMAT or doc.get("key") != key:
            return None
        gir = decode(doc["ir"])
        warnings = decode(doc["warnings"])
        if (type(gir) is not ir.GridIR or type(warnings) is not tuple
                or not all(type(w) is Diagnostic for w in warnings)
                or type(gir.source_hash) is not str):
            return None
        return gir, warnings
    except (OSError, ValueError, KeyError, TypeError, RecursionError, AttributeError):
        return None


def store(key: str, gir: ir.GridIR, warnings: tuple[Diagnostic, ...]) -> bool:
    """Write the entry for ``key`` (atomically); False when the grid holds a value the codec
    does not store exactly, or the folder cannot be written."""
    try:
        doc = {"format": FORMAT, "key": key, "ir": encode(gir), "warnings": encode(warnings)}
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        back = json.loads(body)
        gir_back = decode(back["ir"])
        if (gir_back != gir or decode(back["warnings"]) != warnings
                or encode(gir_back) != back["ir"]):
            return False     # not a faithful copy (spans included): do not cache
    except (Unstorable, ValueError, KeyError, TypeError, RecursionError):
        return False
    data = hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    try:
        folder = _folder()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".g_", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, entry_path(key))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return False
    return True


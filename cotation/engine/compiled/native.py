"""Cached kernels as host object code, loaded without Numba.

Loading a grid's kernels from Numba's cache costs Numba's start: its import (≈0.15 s) and its
CPU target (≈0.15–0.25 s), mostly holding the interpreter lock, in every new process. Once
Numba has compiled (or loaded) a grid's kernels, :func:`build` compiles one C-ABI entry point
per kernel (a function of data pointers and dimensions that calls the kernel on ``carray``
views), keeps the optimised LLVM module of each (the kernel is linked in), emits it as object
code for this machine with llvmlite, checks the result in a child process, and stores it
beside Numba's cache as ``k_<digest>.<host>.native``. A later process :func:`load`\\ s that file
with llvmlite's MCJIT (≈0.04 s, Numba never imported) and calls the entry points through
ctypes, which releases the interpreter lock as ``nogil`` kernels do.

The machine code is Numba's own compilation of the same kernels (same LLVM IR, optimised
without fast-math), so results are the same bits; the test suite checks it against the
reference interpreter like the Numba path (``tests/test_native_kernels.py``). Every scalar
crosses as a 64-bit integer (a flag is turned back into a boolean inside the entry point).

Safety: each entry point checks its arguments (count, kinds, dtypes, dimensions, C order)
before the call and hands a call it cannot take to the Numba kernel; a kernel reporting an
error raises. The file records the triple, CPU, CPU features, llvmlite version and entry-point
format it was made for (they also name it), the SHA-256 of each object and one over the whole
file; any difference, damage or truncation makes :func:`load` answer None (the Numba path is
used). A build whose object does not load and run in a child process (a fresh interpreter
given this file's path, nothing else of cotation) is not stored; when the failure is the
object's own (the child crashed or could not link it) a ``.unusable`` marker beside it, with
the reason, stops later attempts (delete it to retry); a failure of the circumstances (no
interpreter to run, a timeout, an interrupt) is retried by a later process.
``COTATION_NATIVE_KERNELS=0`` turns the whole mechanism off.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

FORMAT = 2          # the entry points' calling convention and the file's layout
MAGIC = b"cotation-native-kernels\n"
KERNELS = ("count_pairs", "score_pairs")
CHECK_TIMEOUT_S = 120
# arrays a kernel writes (codegen's parameter names): must be writeable, or Numba takes the call
_WRITTEN = {"count_pairs": lambda p: p == "counts", "score_pairs": lambda p: p.startswith("o_")}
# exit status of the check child when the object itself does not work
_CHECK_FAILED = 3

# the element types the kernels take (numba and numpy spell them alike)
_DTYPES = frozenset({"int8", "uint8", "int32", "int64", "uint64", "float64", "bool"})
# the numba type written in the generated entry point, by numpy dtype name
_NB_TYPES = {"int8": "int8", "uint8": "uint8", "int32": "int32", "int64": "int64",
             "uint64": "uint64", "float64": "float64", "bool": "boolean"}
# The one runtime function left referenced once the C wrapper is dropped: NRT_decref's call
# of a meminfo's destructor, unreachable because carray views have no meminfo. Defined as a
# trap, so that the object refers to nothing outside itself.
_RUNTIME_STUBS = ("NRT_MemInfo_call_dtor",)
_STUB_IR = """target triple = "{triple}"
define void @{name}({arg} %p) {{
  call void @llvm.trap()
  unreachable
}}
declare void @llvm.trap()
"""


class NativeError(Exception):
    """The native object cannot be made or used here (the Numba path is used instead)."""


class NotReady(Exception):
    """The Numba kernels have not run with C-ordered arrays yet: nothing to build from (no
    marker: a later run builds)."""


def enabled() -> bool:
    return os.environ.get("COTATION_NATIVE_KERNELS", "").strip() not in ("0", "no", "false")


# ------------------------------------------------------------------------------ the host

def _llvm():
    import llvmlite.binding as ll

    try:
        ll.initialize()          # needed before llvmlite 0.45, an error since
    except Exception:  # noqa: BLE001 - deprecated and raising in recent llvmlite
        pass
    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    return ll


def _host(ll) -> dict[str, str]:
    import llvmlite

    features = ll.get_host_cpu_features().flatten()
    return {"triple": ll.get_process_triple(), "cpu": ll.get_host_cpu_name(),
            "features": hashlib.sha256(features.encode()).hexdigest()[:16],
            "llvmlite": llvmlite.__version__, "format": str(FORMAT)}


def _target_machine(ll):
    """A target machine for this CPU with the options of Numba's JIT (static relocations on
    x86, the JIT code model), so the object links into an MCJIT engine."""
    import inspect

    arch = ll.Target.from_default_triple().name
    reloc = "static" if arch.startswith("x86") else "pic" if arch.startswith("ppc") else "default"
    options: dict[str, Any] = dict(cpu=ll.get_host_cpu_name(),
                                   features=ll.get_host_cpu_features().flatten(), opt=3,
                                   reloc=reloc, codemodel="jitdefault")
    if "jit" in inspect.signature(ll.Target.create_target_machine).parameters:
        options["jit"] = True
    return ll.Target.from_triple(ll.get_process_triple()).create_target_machine(**options)


def path_for(directory: Path, key: str, host: dict[str, str]) -> Path:
    tag = hashlib.sha256(json.dumps(host, sort_keys=True).encode()).hexdigest()[:12]
    return directory / f"k_{key[:40]}.{tag}.native"


def stored(directory: Path, key: str) -> bool:
    """Whether ``directory`` holds a native file for digest ``key`` made for this machine
    (not read: :func:`load` checks it). False when turned off."""
    return enabled() and path_for(directory, key, _host(_llvm())).is_file()


# ------------------------------------------------------------------------------ arguments

def _spec_of(nb_type, written: bool) -> str:
    """``i64``, ``bool`` or ``<dtype>:<ndim>`` (a C-ordered array; ``:w`` when the kernel
    writes it) for a kernel argument type; NativeError for anything else."""
    from numba.core import types

    if isinstance(nb_type, types.Array):
        dt = str(nb_type.dtype)
        if dt not in _DTYPES or nb_type.layout != "C" or nb_type.ndim not in (1, 2):
            raise NativeError(f"argument type {nb_type}")
        return f"{dt}:{nb_type.ndim}" + (":w" if written else "")
    if nb_type == types.int64:
        return "i64"
    if nb_type == types.boolean:
        return "bool"
    raise NativeError(f"argument type {nb_type}")


class _Arg(NamedTuple):
    """One kernel argument, read from its spec string: a scalar (``kind`` ``i64`` or
    ``bool``) or a C-ordered array (``kind`` ``array``: element type, dimensions, written)."""

    kind: str
    dtype: str = ""
    ndim: int = 0
    written: bool = False


def _arg(spec: str) -> _Arg:
    """:class:`_Arg` of a spec string (:func:`_spec_of`); NativeError if it is not one."""
    if spec in ("i64", "bool"):
        return _Arg(spec)
    parts = spec.split(":") if isinstance(spec, str) else []
    if 2 <= len(parts) <= 3 and parts[0] in _DTYPES and parts[1] in ("1", "2") \
            and parts[2:] in ([], ["w"]):
        return _Arg("array", parts[0], int(parts[1]), len(parts) == 3)
    raise NativeError(f"argument spec {spec!r}")


def _c_params(args: Sequence[_Arg]) -> list[str]:
    """The entry point's LLVM parameter kinds after Numba's two (return slot, exception)."""
    out: list[str] = []
    for a in args:
        if a.kind == "array":
            out.append("ptr")
            out.extend(["i64"] * a.ndim)
        else:
            out.append("i64")
    return out


def _entry_source(name: str, args: Sequence[_Arg]) -> str:
    """A ``cfunc`` over data pointers and dimensions calling kernel ``name`` on carray views.
    Only identifiers and type names built here (``p3``, ``n3_0``, ``types.int64``…)."""
    params, sig, call = [], [], []
    for j, a in enumerate(args):
        if a.kind != "array":
            params.append(f"a{j}")
            sig.append("types.int64")
            call.append(f"a{j}" if a.kind == "i64" else f"a{j} != 0")
        else:
            dims = [f"n{j}_{d}" for d in range(a.ndim)]
            params.append(f"p{j}")
            sig.append(f"types.CPointer(types.{_NB_TYPES[a.dtype]})")
            params.extend(dims)
            sig.extend(["types.int64"] * len(dims))
            call.append(f"carray(p{j}, ({', '.join(dims)},))")
    return (f"@cfunc(types.void({', '.join(sig)}), error_model='numpy', boundscheck=False)\n"
            f"def entry_{name}({', '.join(params)}):\n"
            f"    kernel_{name}({', '.join(call)})\n")


# ------------------------------------------------------------------------------ building

def build(mod, source_key: str, directory: Path) -> Path | None:
    """Compile and store the native object of kernel module ``mod`` (a Numba module whose
    kernels have run, so that their argument types are known). Returns the stored file, or
    None when there is none (a ``.unusable`` marker records a failure of the object itself).
    Needs Numba; costs one to three seconds (more for very large grids), once per grid
    structure and machine. A valid file already there is kept; a damaged one is replaced."""
    ll = _llvm()
    host = _host(ll)
    target = path_for(directory, source_key, host)
    failed = target.with_suffix(".unusable")
    if failed.exists():
        return None
    try:
        _check_header(_read(target)[0], host)
        return target
    except (OSError, ValueError, NativeError):
        pass                         # none yet, or damaged: made (again) below
    try:
        header, blob = _compile(mod, ll, host)
    except NotReady:
        return None
    except Exception as exc:  # noqa: BLE001 - Numba or LLVM refused: the object's own failure
        _mark(failed, f"compiling the entry points: {type(exc).__name__}: {exc}")
        return None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".n_", suffix=".tmp", dir=directory)
    except OSError:
        return None                  # a read-only cache: the Numba path, nothing recorded
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_pack(header, blob))
        works, detail = _check(Path(tmp))
        if works:
            os.replace(tmp, target)
            tmp = ""
            return target
        if works is False:
            _mark(failed, detail)
        return None
    finally:
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def _mark(marker: Path, reason: str) -> None:
    try:
        marker.write_text(reason[-4000:] + "\n", encoding="utf-8")
    except OSError:
        pass


def _pack(header: dict, blob: bytes) -> bytes:
    """The file: magic, the header (JSON, one line, with a SHA-256 over itself and the
    objects), the objects."""
    body = json.dumps(header, sort_keys=True).encode()
    whole = dict(header, check=hashlib.sha256(body + b"\n" + blob).hexdigest())
    return MAGIC + json.dumps(whole, sort_keys=True).encode() + b"\n" + blob


def _signature(dispatcher) -> tuple:
    """The first signature the kernel was compiled for whose arrays are all C-ordered."""
    from numba.core import types

    for sig in getattr(dispatcher, "signatures", ()):
        if all(not isinstance(t, types.Array) or t.layout == "C" for t in sig):
            return sig
    raise NotReady


def _compile(mod, ll, host: dict[str, str]) -> tuple[dict, bytes]:
    from numba import carray, cfunc, types

    tm = _target_machine(ll)
    kernels, blobs, offset = {}, [], 0
    for name in KERNELS:
        dispatcher = getattr(mod, name)
        sig = _signature(dispatcher)
        code = dispatcher.py_func.__code__
        params = code.co_varnames[:code.co_argcount]
        if len(params) != len(sig):
            raise NativeError(f"kernel {name}: {len(params)} parameters, {len(sig)} types")
        spec = [_spec_of(t, _WRITTEN[name](p)) for t, p in zip(sig, params)]
        ns: dict[str, Any] = {"cfunc": cfunc, "carray": carray, "types": types,
                              f"kernel_{name}": dispatcher}
        args = [_arg(a) for a in spec]
        exec(compile(_entry_source(name, args), f"<cotation native entry {name}>", "exec"), ns)
        entry = ns[f"entry_{name}"]
        wrapper = entry.native_name
        if not wrapper.startswith("cfunc."):
            raise NativeError(f"unexpected entry name {wrapper}")
        symbol = wrapper[len("cfunc."):]
        module = ll.parse_assembly(entry.inspect_llvm())
        # the C wrapper (Python error reporting through Numba's helpers) is not kept: the
        # entry point below it returns Numba's status, which the caller turns into an error
        module.get_function(wrapper).linkage = "available_externally"
        for stub in _RUNTIME_STUBS:
            declared = next((f for f in module.functions if f.name == stub), None)
            if declared is not None and declared.is_declaration:
                arg = [str(a.type) for a in declared.arguments]
                if len(arg) != 1 or _param_kind(arg[0]) != "ptr":
                    raise NativeError(f"runtime function {stub}: parameters {arg}")
                module.link_in(ll.parse_assembly(_STUB_IR.format(
                    triple=ll.get_process_triple(), name=stub, arg=arg[0])))
                module.get_function(stub).linkage = "internal"   # one per object, private
        outside = _outside_references(module, wrapper)
        if outside:
            raise NativeError(f"entry point {name} refers to {', '.join(sorted(outside))}, "
                              "defined nowhere in it")
        fn = module.get_function(symbol)
        kinds = [_param_kind(str(a.type)) for a in fn.arguments]
        if kinds != ["ptr", "ptr"] + _c_params(args):
            raise NativeError(f"entry point {name}: parameters {kinds}")
        module.verify()
        blob = tm.emit_object(module)
        kernels[name] = {"symbol": symbol, "args": spec, "offset": offset, "size": len(blob),
                         "sha256": hashlib.sha256(blob).hexdigest()}
        blobs.append(blob)
        offset += len(blob)
    return {"format": FORMAT, "host": host, "kernels": kernels}, b"".join(blobs)


def _outside_references(module, dropped: str) -> set[str]:
    """Functions and variables that the kept code calls or reads but the module only
    declares, LLVM's intrinsics apart: the machine code would jump to nothing (the JIT
    linker does not always refuse it). The C library's math and memory functions, which
    the JIT finds in the process, would be the acceptable ones; the kernels call none."""
    import re

    declared = {f.name for f in module.functions if f.is_declaration}
    declared |= {g.name for g in module.global_variables if g.is_declaration}
    used: set[str] = set()
    for f in module.functions:
        if not f.is_declaration and f.name != dropped:
            used |= set(re.findall(r'@"?([-\w.$]+)"?', str(f)))
    return {n for n in used & declared
            if not n.startswith("llvm.") and n not in _C_LIBRARY}


_C_LIBRARY = frozenset({"floor", "ceil", "trunc", "round", "fabs", "fmod", "sqrt", "pow", "exp",
                        "log", "memset", "memcpy", "memmove"})


def _param_kind(llvm_type: str) -> str:
    t = llvm_type.strip()
    if t == "ptr" or t.endswith("*"):
        return "ptr"
    return t


# the check child: a fresh interpreter (-P: not even the working folder on its path) that
# loads this file by its path, so that what runs is this code on the object, nothing else
_CHILD = ("import importlib.util, sys\n"
          "spec = importlib.util.spec_from_file_location('cotation_native_check', sys.argv[1])\n"
          "m = importlib.util.module_from_spec(spec)\n"
          "sys.modules[spec.name] = m\n"
          "spec.loader.exec_module(m)\n"
          "sys.exit(m._check_main(sys.argv[2]))\n")
_CRASHES = {"SIGABRT", "SIGSEGV", "SIGILL", "SIGBUS", "SIGFPE", "SIGTRAP"}


def _check(path: Path) -> tuple[bool | None, str]:
    """Whether ``path`` links and runs (zero rows) in a child process, where an object that
    the JIT linker cannot take aborts that process, never this one: True; False when the
    object failed (it crashed the child or could not be linked), with the reason; None when
    the check could not be made (no interpreter to run, a timeout, an interrupt)."""
    import signal

    if not sys.executable or getattr(sys, "frozen", False):
        return None, "no Python interpreter to run the check"
    try:
        proc = subprocess.run([sys.executable, "-P", "-c", _CHILD, str(Path(__file__).resolve()),
                               str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=CHECK_TIMEOUT_S,
                              env=dict(os.environ, COTATION_NATIVE_KERNELS="1"))
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    code = proc.returncode
    detail = f"check exited with {code}: " + proc.stderr.decode("utf-8", "replace")[-2000:]
    if code == 0:
        return True, ""
    crashed = code < 0 and any(getattr(signal, n, None) == -code for n in _CRASHES)
    if code == _CHECK_FAILED or crashed or code >= 0xC0000000:   # (Windows: an exception code)
        return False, detail
    return None, detail


# ------------------------------------------------------------------------------ loading

class _Entry:
    """One kernel: checks the arguments and calls the machine code (interpreter lock
    released), or hands the call to the Numba kernel when an argument is not what the code
    was made for."""

    __slots__ = ("name", "args", "_fn", "_spec", "_fallback", "_owner")

    def __init__(self, name: str, fn, args: Sequence[_Arg], fallback: Callable[[], Any],
                 owner: Any = None):
        self.name = name
        self.args = tuple(args)
        self._fn = fn
        self._spec = tuple((a.kind, a.kind == "array" and np.dtype(a.dtype), a.ndim, a.written)
                           for a in args)
        self._fallback = fallback
        self._owner = owner            # the engine holding the machine code: kept alive

    def __call__(self, *args):
        spec = self._spec
        if len(args) != len(spec):
            raise TypeError(f"{self.name}: {len(args)} arguments, expected {len(spec)}")
        c: list[Any] = []
        for a, (kind, dtype, ndim, written) in zip(args, spec):
            if kind == "i64":
                if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) \
                        or not -(1 << 63) <= int(a) < (1 << 63):
                    return self._fallback()(*args)
                c.append(int(a))
            elif kind == "bool":
                if not isinstance(a, (bool, np.bool_)):
                    return self._fallback()(*args)
                c.append(1 if a else 0)
            else:
                if not (isinstance(a, np.ndarray) and a.dtype == dtype
                        and a.dtype.isnative and a.ndim == ndim
                        and a.flags.c_contiguous and a.flags.aligned
                        and (not written or a.flags.writeable)):
                    return self._fallback()(*args)
                c.append(a.ctypes.data)
                c.extend(a.shape)
        ret, exc = ctypes.c_void_p(0), ctypes.c_void_p(0)
        status = self._fn(ctypes.byref(ret), ctypes.byref(exc), *c)
        if status != 0:
            raise RuntimeError(f"kernel {self.name} reported an error (status {status})")


class NativeKernels:
    """The kernels of one grid structure as machine code: attributes ``count_pairs`` and
    ``score_pairs`` called like the Numba kernels. Immutable; safe to share between threads
    (each call has its own slots; the engine is only read after loading)."""

    def __init__(self, entries: dict[str, _Entry], path: Path):
        self.path = path               # (each entry keeps the engine owning its code alive)
        for name, entry in entries.items():
            setattr(self, name, entry)


def _read(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise NativeError("not a native kernel file")
    head, sep, blob = data[len(MAGIC):].partition(b"\n")
    if not sep:
        raise NativeError("truncated")
    header = json.loads(head)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NativeError("format")
    rest = {k: v for k, v in header.items() if k != "check"}
    body = json.dumps(rest, sort_keys=True).encode()
    if header.get("check") != hashlib.sha256(body + b"\n" + blob).hexdigest():
        raise NativeError("damaged")
    kernels = header.get("kernels")
    if not isinstance(kernels, dict) or set(kernels) != set(KERNELS):
        raise NativeError("kernels")
    for name, k in kernels.items():
        if not (isinstance(k, dict) and isinstance(k.get("offset"), int)
                and isinstance(k.get("size"), int) and isinstance(k.get("symbol"), str)
                and isinstance(k.get("args"), list)):
            raise NativeError(f"entry {name}")
        for a in k["args"]:
            _arg(a)                                       # NativeError for a wrong spec
        part = blob[k["offset"]:k["offset"] + k["size"]]
        if len(part) != k["size"] or hashlib.sha256(part).hexdigest() != k.get("sha256"):
            raise NativeError(f"object of {name} damaged")
    return header, blob


def _check_header(header: dict, host: dict[str, str]) -> None:
    if header.get("host") != host:
        raise NativeError("made for another machine")


def load(directory: Path, key: str, fallback: Callable[[], Any]) -> NativeKernels | None:
    """The native kernels stored for source digest ``key``, or None (none for this machine,
    damaged, or turned off). ``fallback()`` gives the Numba module, for calls the machine
    code cannot take."""
    if not enabled():
        return None
    try:
        ll = _llvm()
        host = _host(ll)
        path = path_for(directory, key, host)
        if not path.is_file():
            return None
        header, blob = _read(path)
        _check_header(header, host)
        return _link(ll, header, blob, path, fallback)
    except (NativeError, OSError, ValueError, ImportError, RuntimeError):
        return None


def _link(ll, header: dict, blob: bytes, path: Path, fallback) -> NativeKernels:
    triple = ll.get_process_triple()
    engine = ll.create_mcjit_compiler(ll.parse_assembly(f'target triple = "{triple}"\n'),
                                      _target_machine(ll))
    kernels = header["kernels"]
    for name in KERNELS:
        k = kernels[name]
        engine.add_object_file(ll.ObjectFileRef.from_data(blob[k["offset"]:k["offset"] + k["size"]]))
    engine.finalize_object()
    entries = {}
    ctype = {"ptr": ctypes.c_void_p, "i64": ctypes.c_int64}
    for name in KERNELS:
        k = kernels[name]
        address = engine.get_function_address(k["symbol"])
        if not address:
            raise NativeError(f"symbol of {name} missing")
        args = [_arg(a) for a in k["args"]]
        proto = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                 *[ctype[p] for p in _c_params(args)])
        entries[name] = _Entry(name, proto(address), args,
                               lambda name=name: getattr(fallback(), name), engine)
    return NativeKernels(entries, path)


def _check_main(path: str) -> int:
    """Child process of :func:`_check`: link the file and call each entry on zero rows
    (``_CHECK_FAILED`` when the object does not work; a crash is seen by the parent)."""
    try:
        ll = _llvm()
        header, blob = _read(Path(path))
        _check_header(header, _host(ll))

        def refuse():
            raise NativeError("an argument the machine code does not take")

        kernels = _link(ll, header, blob, Path(path), refuse)
        for name in KERNELS:
            zeros = {"i64": 0, "bool": False}
            getattr(kernels, name)(*[zeros[a.kind] if a.kind in zeros
                                     else np.zeros((1,) * a.ndim, dtype=a.dtype)
                                     for a in getattr(kernels, name).args])
    except (NativeError, RuntimeError, ValueError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return _CHECK_FAILED
    return 0

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
reference interpreter like the Numba path (``tests/test_native_kernels.py``).

Safety: each entry point checks its arguments (count, kinds, dtypes, dimensions, C order)
before the call and hands a call it cannot take to the Numba kernel; a kernel reporting an
error raises. The file records the triple, CPU, CPU features and llvmlite version it was made
for and the SHA-256 of each object; any difference, damage or truncation makes :func:`load`
answer None (the Numba path is used). A build whose object does not load and run in a child
process is not stored (a ``.unusable`` marker beside it stops later attempts; delete it to
retry). ``COTATION_NATIVE_KERNELS=0`` turns the whole mechanism off.
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
from typing import Any, Callable, Sequence

import numpy as np

FORMAT = 1
MAGIC = b"cotation-native-kernels\n"
KERNELS = ("count_pairs", "score_pairs")
CHECK_TIMEOUT_S = 120

# numba dtype name -> numpy dtype name (the only element types the kernels take)
_DTYPES = {"int8": "int8", "uint8": "uint8", "int32": "int32", "int64": "int64",
           "uint64": "uint64", "float64": "float64", "bool": "bool"}
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


def enabled() -> bool:
    return os.environ.get("COTATION_NATIVE_KERNELS", "").strip() not in ("0", "no", "false")


# ------------------------------------------------------------------------------ the host

def _llvm():
    import llvmlite.binding as ll

    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    return ll


def _host(ll) -> dict[str, str]:
    import llvmlite

    features = ll.get_host_cpu_features().flatten()
    return {"triple": ll.get_process_triple(), "cpu": ll.get_host_cpu_name(),
            "features": hashlib.sha256(features.encode()).hexdigest()[:16],
            "llvmlite": llvmlite.__version__}


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


# ------------------------------------------------------------------------------ arguments

def _spec_of(nb_type) -> str:
    """``i64``, ``bool`` or ``<dtype>:<ndim>`` (a C-ordered array) for a kernel argument
    type; NativeError for anything else."""
    from numba.core import types

    if isinstance(nb_type, types.Array):
        dt = _DTYPES.get(str(nb_type.dtype))
        if dt is None or nb_type.layout != "C" or nb_type.ndim not in (1, 2):
            raise NativeError(f"argument type {nb_type}")
        return f"{dt}:{nb_type.ndim}"
    if nb_type == types.int64:
        return "i64"
    if nb_type == types.boolean:
        return "bool"
    raise NativeError(f"argument type {nb_type}")


def _c_params(spec: Sequence[str]) -> list[str]:
    """The entry point's LLVM parameter kinds after Numba's two (return slot, exception)."""
    out: list[str] = []
    for s in spec:
        if s == "i64":
            out.append("i64")
        elif s == "bool":
            out.append("i8")
        else:
            out.append("ptr")
            out.extend(["i64"] * int(s.split(":")[1]))
    return out


def _entry_source(name: str, spec: Sequence[str]) -> str:
    """A ``cfunc`` over data pointers and dimensions calling kernel ``name`` on carray views.
    Only identifiers and type names built here (``p3``, ``n3_0``, ``types.int64``…)."""
    params, sig, call = [], [], []
    for j, s in enumerate(spec):
        if s in ("i64", "bool"):
            params.append(f"a{j}")
            sig.append("types.int64" if s == "i64" else "types.boolean")
            call.append(f"a{j}")
        else:
            dt, ndim = s.split(":")
            dims = [f"n{j}_{d}" for d in range(int(ndim))]
            params.append(f"p{j}")
            sig.append(f"types.CPointer(types.{_NB_TYPES[dt]})")
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
    None when this machine or these kernels cannot have one (a marker then records it).
    Needs Numba; costs about a second (more for very large grids), once per grid structure."""
    ll = _llvm()
    host = _host(ll)
    target = path_for(directory, source_key, host)
    failed = target.with_suffix(".unusable")
    if failed.exists():
        return None
    try:
        if _read(target)[0].get("host") == host:
            return target
    except (OSError, ValueError, NativeError):
        pass                         # none yet, or damaged: made (again) below
    try:
        header, blob = _compile(mod, ll, host)
    except NativeError:
        failed.touch()
        return None
    fd, tmp = tempfile.mkstemp(prefix=".n_", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + blob)
        if not _checked(Path(tmp)):
            failed.touch()
            return None
        os.replace(tmp, target)
        tmp = ""
        return target
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _compile(mod, ll, host: dict[str, str]) -> tuple[dict, bytes]:
    from numba import carray, cfunc, types

    tm = _target_machine(ll)
    kernels, blobs, offset = {}, [], 0
    for name in KERNELS:
        dispatcher = getattr(mod, name, None)
        sigs = list(getattr(dispatcher, "signatures", ()))
        if not sigs:
            raise NativeError(f"kernel {name} has not been compiled")
        spec = [_spec_of(t) for t in sigs[0]]
        ns: dict[str, Any] = {"cfunc": cfunc, "carray": carray, "types": types,
                              f"kernel_{name}": dispatcher}
        exec(compile(_entry_source(name, spec), f"<cotation native entry {name}>", "exec"), ns)
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
        fn = module.get_function(symbol)
        kinds = [_param_kind(str(a.type)) for a in fn.arguments]
        if kinds != ["ptr", "ptr"] + _c_params(spec):
            raise NativeError(f"entry point {name}: parameters {kinds}")
        module.verify()
        blob = tm.emit_object(module)
        kernels[name] = {"symbol": symbol, "args": spec, "offset": offset, "size": len(blob),
                         "sha256": hashlib.sha256(blob).hexdigest()}
        blobs.append(blob)
        offset += len(blob)
    return {"format": FORMAT, "host": host, "kernels": kernels}, b"".join(blobs)


def _param_kind(llvm_type: str) -> str:
    t = llvm_type.strip()
    if t == "ptr" or t.endswith("*"):
        return "ptr"
    return t


def _checked(path: Path) -> bool:
    """Whether ``path`` loads and runs (zero rows) in a child process: an object that the
    JIT linker cannot take aborts the process that loads it, never this one."""
    import cotation

    here = str(Path(cotation.__file__).resolve().parents[1])     # this cotation, first
    search = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run([sys.executable, "-m", "cotation.engine.compiled.native", str(path)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=CHECK_TIMEOUT_S,
                              env=dict(os.environ, COTATION_NATIVE_KERNELS="1",
                                       PYTHONPATH=search))
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


# ------------------------------------------------------------------------------ loading

class _Entry:
    """One kernel: checks the arguments and calls the machine code (interpreter lock
    released), or hands the call to the Numba kernel when an argument is not what the code
    was made for."""

    __slots__ = ("name", "_fn", "_spec", "_fallback")

    def __init__(self, name: str, fn, spec: Sequence[str], fallback: Callable[[], Any]):
        self.name = name
        self._fn = fn
        self._spec = tuple(spec)
        self._fallback = fallback

    def __call__(self, *args):
        spec = self._spec
        if len(args) != len(spec):
            raise TypeError(f"{self.name}: {len(args)} arguments, expected {len(spec)}")
        c: list[Any] = []
        for a, s in zip(args, spec):
            if s == "i64":
                if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) \
                        or not -(1 << 63) <= int(a) < (1 << 63):
                    return self._fallback()(*args)
                c.append(int(a))
            elif s == "bool":
                if not isinstance(a, (bool, np.bool_)):
                    return self._fallback()(*args)
                c.append(1 if a else 0)
            else:
                dt, ndim = s.split(":")
                if not (isinstance(a, np.ndarray) and a.dtype == np.dtype(dt)
                        and a.dtype.isnative and a.ndim == int(ndim)
                        and a.flags.c_contiguous and a.flags.aligned):
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

    def __init__(self, engine, entries: dict[str, _Entry], path: Path):
        self._engine = engine          # owns the machine code: kept as long as the entries
        self.path = path
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
    kernels = header.get("kernels")
    if not isinstance(kernels, dict) or set(kernels) != set(KERNELS):
        raise NativeError("kernels")
    for name, k in kernels.items():
        if not (isinstance(k, dict) and isinstance(k.get("offset"), int)
                and isinstance(k.get("size"), int) and isinstance(k.get("symbol"), str)
                and isinstance(k.get("args"), list)
                and all(isinstance(s, str) and (s in ("i64", "bool") or (
                    s.count(":") == 1 and s.split(":")[0] in _DTYPES.values()
                    and s.split(":")[1] in ("1", "2"))) for s in k["args"])):
            raise NativeError(f"entry {name}")
        part = blob[k["offset"]:k["offset"] + k["size"]]
        if len(part) != k["size"] or hashlib.sha256(part).hexdigest() != k.get("sha256"):
            raise NativeError(f"object of {name} damaged")
    return header, blob


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
        if header.get("host") != host:
            return None
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
    ctype = {"ptr": ctypes.c_void_p, "i64": ctypes.c_int64, "i8": ctypes.c_int8}
    for name in KERNELS:
        k = kernels[name]
        address = engine.get_function_address(k["symbol"])
        if not address:
            raise NativeError(f"symbol of {name} missing")
        proto = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                 *[ctype[p] for p in _c_params(k["args"])])
        entries[name] = _Entry(name, proto(address), k["args"],
                               lambda name=name: getattr(fallback(), name))
    return NativeKernels(engine, entries, path)


def _check_main(path: str) -> int:
    """Child process of :func:`_checked`: link the file and call each entry on zero rows."""
    ll = _llvm()
    header, blob = _read(Path(path))
    if header.get("host") != _host(ll):
        return 2

    def refuse():
        raise NativeError("an argument the machine code does not take")

    kernels = _link(ll, header, blob, Path(path), refuse)
    for name in KERNELS:
        args: list[Any] = []
        for s in header["kernels"][name]["args"]:
            if s == "i64":
                args.append(0)
            elif s == "bool":
                args.append(False)
            else:
                dt, ndim = s.split(":")
                args.append(np.zeros((1,) * int(ndim), dtype=dt))
        getattr(kernels, name)(*args)
    return 0


if __name__ == "__main__":  # pragma: no cover - run by _checked in a child process
    sys.exit(_check_main(sys.argv[1]))

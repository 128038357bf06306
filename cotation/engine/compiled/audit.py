"""Audit of generated source: only identifiers made by the generator, small integers and a fixed
set of float literals may appear in a kernel module.
"""
from __future__ import annotations

import ast
import re

from cotation.engine.compiled.plan import LoweringError

# ------------------------------------------------------------------------------ audit

_NAME_RE = re.compile(r"(?:v|k|y|f|sg|sk|fa|fb|ta|tb|cm|ch|cf|cc|cw|cmv|chv|ca|tg|gb|sw|tt|col)"
                      r"[0-9]+\Z")
_FIXED_NAMES = frozenset({
    # modules, helpers and builtins the prelude and kernels use
    "np", "njit", "DMISS", "_B", "_OPTS", "_ymd", "_months", "_round_h", "_round_to",
    "_in_locs", "_has", "_sel", "_div", "dict", "range", "abs", "float", "max",
    # helper locals
    "n", "z", "era", "doe", "yoe", "doy", "mp", "d", "m", "y", "d1", "d2", "y1", "m1", "a1",
    "y2", "m2", "a2", "x", "h", "p", "v", "vals", "a", "b", "item", "r", "col", "i", "c",
    # kernel arguments and locals
    "lo", "hi", "skip", "loc_ptr", "loc_terr", "loc_val", "terr_ids", "pf", "pi", "plut",
    "counts", "starts", "do_points", "o_row", "o_terr", "o_rang", "o_score", "o_scorev",
    "o_met", "o_aside", "o_metv", "o_asidev", "o_points", "o_keys", "o_keysk", "o_dkeys",
    "o_dkeysk", "cnt", "a0",
    "q", "t", "dup", "rang", "lcid", "count_pairs", "score_pairs",
})
_ALLOWED_FLOATS = frozenset({0.0, 0.5, 1.0, 100.0, 4503599627370496.0})   # the last: 2^52
_ALLOWED_ATTRS = frozenset({"uint64", "int64", "left_shift", "arange", "floor", "ceil",
                            "isnan", "isfinite", "shape"})
_ALLOWED_KEYWORDS = frozenset({None, "nogil", "cache", "error_model", "boundscheck", "dtype"})


def audit_source(source: str) -> None:
    """Check generated source against a whitelist: identifiers are the generator's own
    (``v12``, ``col3``, fixed helper names), literals are integers, a few fixed floats and
    the one option string ``"numpy"``; imports are numpy and numba's njit. A grid string can
    therefore never reach the module. Raises LoweringError on any deviation."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str):
                if v != "numpy":
                    raise LoweringError("generated source holds a text literal")
            elif isinstance(v, bool) or v is None:
                continue
            elif isinstance(v, int):
                if abs(v) > 2 ** 62:
                    raise LoweringError("generated source holds an unexpected integer")
            elif isinstance(v, float):
                if v not in _ALLOWED_FLOATS:
                    raise LoweringError("generated source holds an unexpected number")
            else:
                raise LoweringError("generated source holds an unexpected literal")
        elif isinstance(node, ast.Name):
            if node.id not in _FIXED_NAMES and not _NAME_RE.match(node.id):
                raise LoweringError("generated source uses an unexpected name")
        elif isinstance(node, ast.arg):
            if node.arg not in _FIXED_NAMES and not _NAME_RE.match(node.arg):
                raise LoweringError("generated source uses an unexpected argument name")
        elif isinstance(node, ast.FunctionDef):
            if node.name not in _FIXED_NAMES:
                raise LoweringError("generated source defines an unexpected function")
        elif isinstance(node, ast.keyword):
            if node.arg not in _ALLOWED_KEYWORDS:
                raise LoweringError("generated source passes an unexpected keyword")
        elif isinstance(node, ast.Attribute):
            if node.attr not in _ALLOWED_ATTRS:
                raise LoweringError("generated source reads an unexpected attribute")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.name, a.asname) for a in node.names]
            mod = getattr(node, "module", None)
            if not (names == [("numpy", "np")] or (mod == "numba" and names == [("njit", None)])):
                raise LoweringError("generated source imports an unexpected module")
        elif isinstance(node, (ast.Lambda, ast.ClassDef, ast.Global, ast.Nonlocal,
                               ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom,
                               ast.JoinedStr, ast.Starred, ast.Subscript)) and \
                not isinstance(node, ast.Subscript):
            raise LoweringError("generated source holds an unexpected construct")

"""The compiled scoring engine: grid IR → Numba kernels, columnar encoding, ranking at scale.

``import cotation.engine.compiled`` does not import Numba (it is imported when a kernel is first
loaded); it fails with ImportError when Numba is not installed, so callers can fall back to
the reference interpreter.

>>> from cotation.engine.compiled import compile_grid            # doctest: +SKIP
>>> cg = compile_grid(grid.ir); batch = cg.encode(table)   # doctest: +SKIP
>>> raw = cg.run(batch, today); st = cg.score_table(raw, batch, today)  # doctest: +SKIP
"""
from __future__ import annotations

import importlib.util

if importlib.util.find_spec("numba") is None:  # pragma: no cover - numba is a dependency
    raise ImportError("the compiled engine needs numba (pip install numba)")

from cotation.engine.compiled.codegen import generate  # noqa: E402
from cotation.engine.compiled.plan import LoweringError  # noqa: E402
from cotation.engine.compiled.columns import DataError  # noqa: E402
from cotation.engine.compiled.encode import Batch  # noqa: E402
from cotation.engine.compiled.engine import CompiledGrid, RawScores, compile_grid, score_compiled

__all__ = ["Batch", "CompiledGrid", "DataError", "LoweringError", "RawScores", "compile_grid",
           "generate", "score_compiled"]

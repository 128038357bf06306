"""Numba's start-up in the command-line process: its BLAS probe is skipped.

On its first kernel load, Numba initialises its CPU target, which imports
``numba.np.arraymath``; that module probes for a BLAS at import time
(``_HAVE_BLAS = _check_blas()``, which imports ``scipy.linalg.cython_blas`` and, through it,
the whole of ``scipy.linalg`` and ``numpy.f2py``): 0.1-0.16 s of a 0.5 s start on the machine of
benchmarks/README.md ("issue 11: warm start"). Numba has no setting to skip it (0.68).

The kernels never call BLAS (no ``np.dot``, ``np.convolve``, ``np.correlate`` or ``np.linalg``
in generated code; ``tests/test_warm_start.py`` checks the generated source of every template
grid). So the command line, and only the command line (never ``import cotation``, never the
API: an embedding process may use Numba's linear algebra), imports ``numba.np.arraymath``
itself with ``scipy.linalg.cython_blas`` marked absent in ``sys.modules`` (the import system's
documented "None in sys.modules" entry: that one import fails with ImportError, which Numba's
probe catches). The entry is removed straight after, so a later ``import scipy.linalg`` works
as usual; the only effect is ``_HAVE_BLAS = False`` in this process, which makes
``np.convolve``/``np.correlate`` inside jitted code use Numba's plain loop, and
``np.linalg`` functions still import SciPy on first use (``ensure_blas`` runs again then).

``cotation score`` runs it on a thread while the demandes are read
(:class:`cotation.cli.core.KernelLoad`): for that moment the entry hides SciPy's BLAS from the
reading thread too, which never imports SciPy.
"""
from __future__ import annotations

import sys

_BLAS = "scipy.linalg.cython_blas"


def skip_numba_blas_probe() -> None:
    """Import Numba's array-math module without its BLAS probe (no-op when it is already
    imported, when SciPy's BLAS is, or when Numba is not installed)."""
    if "numba.np.arraymath" in sys.modules or _BLAS in sys.modules:
        return
    sys.modules[_BLAS] = None
    try:
        import numba.np.arraymath  # noqa: F401  (its import runs the probe)
    except ImportError:
        pass                       # no Numba: the caller falls back to the interpreter
    finally:
        if _BLAS in sys.modules and sys.modules[_BLAS] is None:
            del sys.modules[_BLAS]

"""The command-line process's start-up: pyarrow told once that pandas is not there.

pyarrow, when pandas is installed, imports it the first time it converts an array (``pa.array``
of a numpy array, ``Array.to_numpy``: its pandas shim checks for pandas on every such path):
0.15-0.2 s of a 0.5 s warm ``cotation score``, for a library the command line never hands
anything (it reads and writes files; ``Result.to_pandas`` is API only). pandas is not a
dependency of cotation.

So the command line, and only the command line (:func:`cotation.cli.run`; never ``import
cotation``, never :func:`cotation.cli.main`, which tests and other programs call), puts a
finder first on ``sys.meta_path`` that answers "no such module" for pandas: ``import pandas``
raises ModuleNotFoundError, which pyarrow's shim catches and remembers. (A ``None`` entry in
``sys.modules`` is not enough: pyarrow's compiled import then gets None and fails.) It stays
for the life of the process: nothing the commands run imports pandas
(tests/test_cli_startup.py runs commands through ``python -m cotation``). Figures:
benchmarks/README.md, "Warm start and bounded compilation (issue 11)".
"""
from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder


class _NoPandas(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def pyarrow_without_pandas() -> None:
    """Make pandas absent for this process (no-op when pandas is already imported)."""
    if "pandas" not in sys.modules and not any(isinstance(f, _NoPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())

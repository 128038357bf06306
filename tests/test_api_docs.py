"""What the API's documentation shows works: the Sphinx references of ``cotation/api.py``
name modules and objects that exist, and the Arrow stream of a Result reads as a polars
DataFrame the way the README and the docstring say."""
from __future__ import annotations

import datetime as dt
import importlib
import inspect
import re
from pathlib import Path

import pytest

import cotation.api as api

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.date(2025, 6, 30)
_REF = re.compile(r":(mod|func|class|meth|attr):`~?([A-Za-z_][\w.]*)`")


def _docstrings() -> list[str]:
    out = [api.__doc__ or ""]
    for _, obj in inspect.getmembers(api, inspect.isclass):
        if obj.__module__ == api.__name__:
            out.append(inspect.getdoc(obj) or "")
            for name, raw in vars(obj).items():
                if isinstance(raw, (property, classmethod, staticmethod)) or callable(raw):
                    out.append(inspect.getdoc(getattr(obj, name)) or "")
    return out


def _resolves(kind: str, name: str) -> bool:
    if kind == "mod":
        try:
            importlib.import_module(name)
            return True
        except ImportError:
            return False
    parts = name.split(".")
    if len(parts) == 1 or kind in ("meth", "attr") and len(parts) == 2:
        return True          # relative to the documented class: not a module path
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_api_references_resolve():
    """The module docstring pointed to ``cotation.ceilings`` (it is ``cotation.data.ceilings``)."""
    refs = {(k, n) for doc in _docstrings() for k, n in _REF.findall(doc)}
    assert ("mod", "cotation.data.ceilings") in refs
    assert [r for r in sorted(refs) if not _resolves(*r)] == []


def test_polars_reads_a_result_as_documented():
    """``pl.from_arrow(result)`` is one struct Series in polars 1.x and later: the README and
    ``__arrow_c_stream__`` show ``pl.DataFrame(result)``, which is the DataFrame."""
    pl = pytest.importorskip("polars")
    from cotation.api import Scorer
    from cotation.data.synth import generate_demandes
    from cotation.grid import load_grid

    scorer = Scorer(load_grid(REPO / "tests" / "grids" / "spec_example.yaml"),
                    engine="interpreter")
    table = generate_demandes(30, seed=4, today=TODAY, territories=[list(scorer.communes)])
    result = scorer.score(table, TODAY)
    frame = pl.DataFrame(result)
    assert isinstance(frame, pl.DataFrame)
    assert frame.equals(result.to_polars())
    assert frame["score"].to_list() == result.scores.tolist()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for text in (readme, inspect.getdoc(api.Result.__arrow_c_stream__)):
        assert "pl.DataFrame(result)" in text or "polars.DataFrame(result)" in text
    assert "pl.from_arrow(result)" not in readme

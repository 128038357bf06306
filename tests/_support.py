"""Shared test helpers. ``shared/`` (specs, real fixtures) sits beside the project in CI but not in a
user's clone: tests that need it skip cleanly."""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


MINIMAL = """\
format: cotation/1
grid:
  id: test-grid
  title: "Grille de test"
  territory:
    epci_siren: "200046977"
    name: "EPCI de test"
    communes: ["69123", "69266"]
  version: "1"
  effective_from: 2024-01-01
criteria:
  - id: dalo
    label: "DALO"
    legal_priority: true
    when: "dalo_statut == 'actif'"
    points: 100
"""


def grid_text(extra: str = "", base: str = MINIMAL) -> str:
    """MINIMAL followed by more criteria (a list continuing ``criteria:``) and sections."""
    extra = textwrap.dedent(extra)
    if extra.startswith("- "):
        extra = textwrap.indent(extra, "  ", lambda line: True)
    return base + extra


def write_grid(tmp_path: Path, text: str, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


TODAY = dt.date(2025, 6, 30)


def own_kernel_cache(tmp_path_factory):
    """A module's own empty kernel cache (``COTATION_CACHE_DIR``), restored afterwards: use as
    ``kernel_cache = pytest.fixture(scope="module", autouse=True)(own_kernel_cache)``."""
    import os

    old = os.environ.get("COTATION_CACHE_DIR")
    os.environ["COTATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if old is None:
        os.environ.pop("COTATION_CACHE_DIR", None)
    else:
        os.environ["COTATION_CACHE_DIR"] = old


def check_vouched(spec, texts, filler, same=lambda got, want: got == want):
    """Read the cells ``texts`` then ``filler`` (clean cells, enough of them for the vectorised
    paths) with ``vector_parse``: each cell of ``texts`` it vouches for must be one that
    ``spec.parse`` accepts, with the same value (``same``). Returns the vouching of ``texts``
    and of the filler."""
    import pyarrow as pa
    import pytest

    from cotation.data.values import ValueParseError
    from cotation.data.vector import vector_parse

    values, ok = vector_parse(spec, pa.array(list(texts) + list(filler), pa.string()))[:2]
    for text, good, value in zip(texts, ok.tolist(), values.to_pylist()):
        if not good:
            continue
        try:
            expected = spec.parse(text)
        except ValueParseError:
            pytest.fail(f"{text!r} vouched for, the parser rejects it")
        assert same(value, expected), (text, value, expected)
    return ok[:len(texts)], ok[len(texts):]

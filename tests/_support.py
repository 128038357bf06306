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

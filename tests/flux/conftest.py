"""Fixtures of the flux tests: a small generated bailleur, in memory and as files."""
from __future__ import annotations

import shutil

import pytest

from cotation.flux.generate import generate


@pytest.fixture(scope="session")
def small_bailleur():
    """A generated 1 500-dwelling bailleur (seed 11, year 2025)."""
    return generate(11, 1500, 2025)


@pytest.fixture(scope="session")
def small_files(small_bailleur, tmp_path_factory):
    d = tmp_path_factory.mktemp("bailleur")
    return small_bailleur.write(d)


@pytest.fixture
def flux_dir(tmp_path):
    """A copy of the shipped flux examples (logements, conventions, events, demandes, scores)."""
    from flux_helpers import EXAMPLES_FLUX
    for name in ("logements.csv", "conventions.yaml", "evenements.csv", "demandes.csv", "scores.csv"):
        shutil.copy(EXAMPLES_FLUX / name, tmp_path / name)
    return tmp_path

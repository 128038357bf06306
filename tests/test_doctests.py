"""The docstring examples of small exact functions run as tests."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["cotation.grid.evaluate", "cotation.engine.scoring", "cotation.engine.ranking", "cotation.data.ceilings",
           "cotation.analysis.report"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0

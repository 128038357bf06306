"""Fixtures shared by the core tests (helpers live in ``_support``, importable by name)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import SHARED  # noqa: E402

# The suite checks the English source messages; French is checked by tests that set it
# (test_i18n.py, test_cli_mistakes.py). Users get French by default.
os.environ["COTATION_LANG"] = "en"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (it is only beside the project in CI)")
    return SHARED

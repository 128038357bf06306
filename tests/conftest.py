"""Fixtures shared by the core tests (helpers live in ``_support``, importable by name)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import SHARED  # noqa: E402


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (it is only beside the project in CI)")
    return SHARED

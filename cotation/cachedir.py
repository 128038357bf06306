"""The user's cache folder, shared by the kernel cache (``cotation.engine.compiled.cache``)
and the validated-grid cache (``cotation.grid.stored``).

``$COTATION_CACHE_DIR``, else the platform's cache folder from
``platformdirs.user_cache_dir("cotation")``: ``~/.cache/cotation`` or
``$XDG_CACHE_HOME/cotation`` on Linux, ``~/Library/Caches/cotation`` on macOS,
``%LOCALAPPDATA%\\cotation\\Cache`` on Windows. Sub-folders are created with mode 0700.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    env = os.environ.get("COTATION_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs
    return Path(platformdirs.user_cache_dir("cotation", appauthor=False))

"""Default worker count: the CPUs available to the process, overridable."""
import os

import pytest

from cotation.engine.compiled.engine import available_cpus, default_workers


def test_default_is_the_affinity_mask(monkeypatch):
    monkeypatch.delenv("COTATION_WORKERS", raising=False)
    if hasattr(os, "sched_getaffinity"):
        assert available_cpus() == len(os.sched_getaffinity(0))
    assert default_workers() == available_cpus() >= 1


@pytest.mark.parametrize("env,expected", [("3", 3), (" 16 ", 16), ("0", None), ("x", None)])
def test_environment_overrides(monkeypatch, env, expected):
    monkeypatch.setenv("COTATION_WORKERS", env)
    assert default_workers() == (expected or available_cpus())


def test_cli_rejects_a_bad_worker_count(capsys):
    from cotation.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["score", "g.yaml", "d.csv", "--today", "2025-01-01", "-o", "o.csv",
              "--workers", "0"])
    assert exc.value.code == 2

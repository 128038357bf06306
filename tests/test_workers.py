"""Default worker count: the CPUs available to the process, overridable."""
import os

import pytest

from cotation.data.parallel import available_cpus, default_workers


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


def test_cold_start_is_announced_on_stderr(tmp_path, capsys, monkeypatch):
    """The first score of a grid structure says that kernels are compiled, and how long it
    took; a run with cached kernels says nothing. (The uncached state is simulated so that
    the test does not pay a real compilation.)"""
    from cotation.cli import main
    from cotation.engine.compiled.engine import CompiledGrid
    from test_cli import DEMANDES, SPEC_GRID
    demandes = tmp_path / "d.csv"
    demandes.write_text(DEMANDES, encoding="utf-8")
    args = ["score", str(SPEC_GRID), str(demandes), "--today", "2025-06-30", "-o",
            str(tmp_path / "o.csv"), "--engine", "compiled", "--workers", "1"]
    assert main(args) == 0                     # kernels now in the cache
    capsys.readouterr()
    assert main(args) == 0
    assert "noyaux" not in capsys.readouterr().err
    monkeypatch.setattr(CompiledGrid, "kernels_cached", lambda self: False)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "noyaux" in err or "kernels" in err
    assert err.count("\n") >= 2 and " s " in err


def test_columnar_csv_output_is_the_python_writers():
    """score's CSV body is written by Arrow from arrays: same text as csv.writer, and the
    Python writer takes over when a cell needs quotes."""
    import io

    import numpy as np
    from cotation.cli.core import _write_csv_columns
    from cotation.engine.scoring import hundredths_text
    from cotation.engine.scoring import format_hundredths
    h = np.array([0, 5, -5, 99, 100, -101, 54250, -10 ** 15, 10 ** 15 + 7], dtype=np.int64)
    assert hundredths_text(h).to_pylist() == [format_hundredths(x) for x in h.tolist()]
    for nus in (["A1", "é", " x"], ["a,b", 'q"', "l\nm"]):
        cols = {"numero_unique": np.array(nus, dtype=object), "score": hundredths_text(h[:3]),
                "rank": np.arange(1, 4), "grid_id": ["g"] * 3}
        fast, slow = io.BytesIO(), io.StringIO()
        _write_csv_columns(cols, fast)
        import csv
        w = csv.writer(slow, lineterminator="\n")
        w.writerow(list(cols))
        for i in range(3):
            w.writerow([nus[i], format_hundredths(int(h[i])), i + 1, "g"])
        assert fast.getvalue().decode("utf-8") == slow.getvalue()


def test_csv_writer_falls_back_on_mixed_and_float_columns():
    import io

    from cotation.cli.core import _write_csv_columns
    cols = {"a": [1, "x", None], "b": [0.5, 1.0, None], "c": [True, False, None]}
    out = io.BytesIO()
    _write_csv_columns(cols, out)
    assert out.getvalue() == b"a,b,c\n1,0.5,True\nx,1.0,False\n,,\n"
    out = io.BytesIO()
    _write_csv_columns({"a": ["x\ry", "z"], "b": [1, 2]}, out)   # a carriage return: no Arrow error,
    assert out.getvalue() == b'a,b\nx\ry,1\nz,2\n'               # the Python writer's bytes


def test_progress_covers_reading_scoring_and_writing(tmp_path, capsys):
    from cotation.cli import main
    from test_cli import DEMANDES, SPEC_GRID
    demandes = tmp_path / "d.csv"
    demandes.write_text(DEMANDES, encoding="utf-8")
    assert main(["score", str(SPEC_GRID), str(demandes), "--today", "2025-06-30", "-o",
                 str(tmp_path / "o.csv"), "--engine", "compiled", "--progress"]) == 0
    phases = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("cotation: ")
              and ln.endswith("s)") and "%" not in ln]
    assert len(phases) == 4, phases


def test_auto_uses_the_interpreter_for_small_inputs_without_kernels(tmp_path, capsys,
                                                                    monkeypatch):
    from cotation.cli import main
    from cotation.engine.compiled.engine import CompiledGrid
    from test_cli import DEMANDES, SPEC_GRID
    demandes = tmp_path / "d.csv"
    demandes.write_text(DEMANDES, encoding="utf-8")
    args = ["score", str(SPEC_GRID), str(demandes), "--today", "2025-06-30", "-o"]
    assert main(args + [str(tmp_path / "a.csv"), "--engine", "compiled"]) == 0
    assert main(args + [str(tmp_path / "b.csv")]) == 0          # kernels cached: compiled
    assert capsys.readouterr().err.rstrip().endswith("auto")
    monkeypatch.setattr(CompiledGrid, "kernels_cached", lambda self: False)
    assert main(args + [str(tmp_path / "c.csv")]) == 0
    assert capsys.readouterr().err.rstrip().endswith("interpreter")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()

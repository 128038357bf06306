"""Comparison helpers for adapter tests."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from cotation.data.schema import COLUMNS
from cotation.data.table import ReadResult

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
PRESET = ROOT / "sne_adapters" / "presets" / "extraction_sne_latin1.yaml"


def typed(values: list) -> list:
    return [(type(v).__name__, v) for v in values]


def assert_accounted(res: ReadResult) -> None:
    assert res.n_accepted + len(res.rejects) == res.n_read


def assert_same(a: ReadResult, b: ReadResult) -> None:
    """Same rows, values (with their types), extras, lines, rejects and counts."""
    assert a.n_read == b.n_read
    assert a.rejects == b.rejects
    assert a.table.source_lines == b.table.source_lines
    for c in COLUMNS:
        assert typed(a.table.columns[c.name]) == typed(b.table.columns[c.name]), c.name
    assert a.table.extras == b.table.extras
    assert_accounted(a)


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, delimiter: str = ",",
              encoding: str = "utf-8", blank_every: int = 0, odd_every: int = 0,
              lineterminator: str = "\n") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=lineterminator)
    w.writerow(header)
    for i, row in enumerate(rows):
        w.writerow(row)
        if blank_every and i % blank_every == 1:
            buf.write(lineterminator)
        if odd_every and i % odd_every == 2:
            buf.write(delimiter.join(["x", "y"]) + lineterminator)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path

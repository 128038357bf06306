"""Diagnostics for grid authors: stable code, location, criterion, message and hint."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, order=True)
class Span:
    """A 1-based position in a source file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: str = "error"          # error | warning
    criterion: str | None = None
    hint: str | None = None

    def format(self) -> str:
        where = f" [{self.criterion}]" if self.criterion else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{self.span}: {self.severity}[{self.code}]{where}: {self.message}{hint}"

    __str__ = format


class GridError(Exception):
    """A grid that does not validate. Carries every diagnostic found in one pass."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.span, d.code))
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Closest valid names, for "did you mean" hints."""
    cands = sorted(set(candidates))
    found = difflib.get_close_matches(name, cands, n=n, cutoff=0.6)
    if not found:
        low = name.lower()
        found = [c for c in cands if low and (low in c.lower() or c.lower() in low)][:n]
    return found


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    found = closest(name, candidates)
    if not found:
        return None
    return "did you mean " + " or ".join(f"'{f}'" for f in found) + "?"

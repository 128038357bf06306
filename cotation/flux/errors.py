"""Diagnostics of the flux side: located input errors and coded rule findings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cotation.i18n import _


@dataclass(frozen=True)
class Problem:
    """One unreadable input value, located ``file:line``."""

    source: str
    line: int
    message: str
    column: str = ""

    def __str__(self) -> str:
        col = _(" column {column}:").format(column=self.column) if self.column else ""
        return f"{self.source}:{self.line}:{col} {self.message}"


class FluxInputError(ValueError):
    """Raised with every problem of an input file found in one pass."""

    def __init__(self, problems: list[Problem], total: int | None = None):
        """``total``: how many problems there are when only the first ones were kept."""
        self.problems = problems
        self.total = max(total or 0, len(problems))
        head = "\n".join(str(p) for p in problems[:50])
        more = "\n" + _("… and {n} more").format(n=self.total - 50) if self.total > 50 else ""
        super().__init__(head + more)


@dataclass(frozen=True)
class Issue:
    """A finding of the rule checks: stable code, severity, French message, context."""

    code: str
    severity: str          # "error" or "warning"
    message: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "context": self.context}

    def __str__(self) -> str:
        severity = _("ERROR") if self.is_error else _("WARNING")
        return _("{severity} {code}: {message}").format(severity=severity, code=self.code,
                                                        message=self.message)

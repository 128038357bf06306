"""Diagnostics for grid authors: stable code, location, criterion, message and hint.

Messages and hints are built with :func:`msg`: their ``str`` value is the English text (what
tests and logs compare), and :meth:`Diagnostic.format` shows them in the user's language
(French by default, ``cotation.i18n``). Codes are never translated.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable

from cotation.i18n import _


class Message(str):
    """English text that keeps its template and values, to be shown translated."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> "Message":
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template = template
        self.params = params
        return self

    def localized(self) -> str:
        values = {k: localized(v) for k, v in self.params.items()}
        return _(self.template).format(**values) if values else _(self.template)


class OrList(Message):
    """Alternatives joined with "or" in the user's language ('a' or 'b')."""

    def __new__(cls, items: Iterable[str]) -> "OrList":
        items = list(items)
        self = str.__new__(cls, " or ".join(items))
        self.template, self.params, self.items = " or ", {}, items
        return self

    def localized(self) -> str:
        return _(" or ").join(_quoted(i) for i in self.items)


def _quoted(item: str) -> str:
    """``'name'`` with the user's quotes (« name » in French)."""
    if len(item) > 1 and item[0] == item[-1] == "'":
        return _("'{name}'").format(name=item[1:-1])
    return _(item)


def msg(template: str, **params: Any) -> Message:
    """A message for users: ``template`` (English, ``str.format`` fields) and its values."""
    return Message(template, **params)


def localized(text: Any) -> Any:
    """``text`` in the user's language when it is a :class:`Message`; other values unchanged."""
    return text.localized() if isinstance(text, Message) else text


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

    def format(self, localize: bool = True) -> str:
        """``file:line:col: error[code] [criterion]: message; hint`` in the user's language
        (``localize=False``: the English source text)."""
        tr = localized if localize else str
        where = f" [{self.criterion}]" if self.criterion else ""
        hint = ""
        if self.hint:
            hint = (_("; {hint}") if localize else "; {hint}").format(hint=tr(self.hint))
        severity = self.severity
        if localize:
            severity = _("error") if severity == "error" else _("warning")
        return f"{self.span}: {severity}[{self.code}]{where}: {tr(self.message)}{hint}"

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
    return msg("did you mean {names}?", names=OrList(f"'{f}'" for f in found))

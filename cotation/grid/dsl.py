"""Parsing expression strings with the Lark grammar ``cotation/grid/cotation.lark`` (package data)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

from lark import Lark, Tree, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = resources.files("cotation.grid") / "cotation.lark"

_TOKEN_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a quoted text", "DATE": "a date",
    "COMP_OP": "a comparison (==, <, …)", "ADD_OP": "+ or -", "MUL_OP": "* or /",
    "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "COMMA": "','", "DOT": "'.'",
    "MINUS": "'-'", "IF": "'if'", "THEN": "'then'", "ELSE": "'else'", "AND": "'and'", "OR": "'or'",
    "NOT": "'not'", "IN": "'in'", "BETWEEN": "'between'", "TRUE": "true", "FALSE": "false",
    "$END": "the end of the expression",
}


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr",
                propagate_positions=True, maybe_placeholders=True)


@dataclass(frozen=True)
class SyntaxProblem(Exception):
    offset: int       # 0-based offset in the expression
    message: str


def parse(text: str) -> Tree:
    """Parse one expression; raise SyntaxProblem with the offset and a readable message."""
    try:
        return parser().parse(text)
    except UnexpectedEOF as exc:
        expected = _expected(exc.expected)
        raise SyntaxProblem(len(text), f"the expression ends too early; expected {expected}") from None
    except UnexpectedCharacters as exc:
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        hint = " (use 'single quotes' for texts, == for equality)" if ch in "\"=!&|" else ""
        raise SyntaxProblem(exc.pos_in_stream, f"unexpected character '{ch}'{hint}") from None
    except UnexpectedToken as exc:
        tok = exc.token
        where = tok.start_pos if tok.start_pos is not None else len(text)
        if tok.type == "$END":
            raise SyntaxProblem(len(text), f"the expression ends too early; expected {_expected(exc.expected)}") from None
        raise SyntaxProblem(where, f"unexpected '{tok}'; expected {_expected(exc.expected)}") from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark failures
        raise SyntaxProblem(getattr(exc, "pos_in_stream", 0) or 0, str(exc).splitlines()[0]) from None


def _expected(names) -> str:
    readable = sorted({_TOKEN_NAMES.get(n, n.lower().strip("_")) for n in names})
    if len(readable) > 6:
        readable = readable[:6] + ["…"]
    return ", ".join(readable)


def start_of(node: Tree | Token) -> int:
    if isinstance(node, Token):
        return node.start_pos or 0
    meta = node.meta
    return getattr(meta, "start_pos", 0) if not meta.empty else 0

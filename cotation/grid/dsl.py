"""Parsing expression strings with the Lark grammar in ``grammar/cotation.lark``."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lark import Lark, Tree, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR_PATH = Path(__file__).resolve().parents[2] / "grammar" / "cotation.lark"

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
    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr",
                propagate_positions=True, maybe_placeholders=True)


# Bounds on one expression: the checker, the interpreter and the code generator walk
# expressions recursively, so a hostile grid could otherwise exhaust the stack.
MAX_EXPR_CHARS = 10_000
MAX_EXPR_DEPTH = 100


@dataclass(frozen=True)
class SyntaxProblem(Exception):
    offset: int       # 0-based offset in the expression
    message: str
    code: str = "expr-syntax"


def parse(text: str) -> Tree:
    """Parse one expression; raise SyntaxProblem with the offset and a readable message.

    Expressions longer than ``MAX_EXPR_CHARS`` characters or nested deeper than
    ``MAX_EXPR_DEPTH`` operations are refused (code ``too-large``)."""
    if len(text) > MAX_EXPR_CHARS:
        raise SyntaxProblem(0, f"the expression has {len(text)} characters, more than "
                            f"{MAX_EXPR_CHARS}", "too-large")
    tree = _parse(text)
    _check_depth(tree)
    return tree


def _check_depth(tree: Tree) -> None:
    """Refuse trees deeper than MAX_EXPR_DEPTH (iterative: no recursion on hostile input)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPR_DEPTH:
            raise SyntaxProblem(start_of(node), f"the expression is nested more than "
                                f"{MAX_EXPR_DEPTH} operations deep; write long lists of "
                                "alternatives as 'x in {…}'", "too-large")
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))


def _parse(text: str) -> Tree:
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

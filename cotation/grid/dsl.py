"""Parsing expression strings with the Lark grammar ``cotation/grid/cotation.lark`` (package data)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

from cotation.grid.diagnostics import Message, msg
from cotation.i18n import N_, _
from lark import Lark, Tree, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = resources.files("cotation.grid") / "cotation.lark"

_TOKEN_NAMES = {
    "NAME": N_("a name"), "NUMBER": N_("a number"), "STRING": N_("a quoted text"), "DATE": N_("a date"),
    "COMP_OP": N_("a comparison (==, <, …)"), "ADD_OP": N_("+ or -"), "MUL_OP": N_("* or /"),
    "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "COMMA": "','", "DOT": "'.'",
    "MINUS": "'-'", "IF": "'if'", "THEN": "'then'", "ELSE": "'else'", "AND": "'and'", "OR": "'or'",
    "NOT": "'not'", "IN": "'in'", "BETWEEN": "'between'", "TRUE": "true", "FALSE": "false",
    "$END": N_("the end of the expression"),
}


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr",
                propagate_positions=True, maybe_placeholders=True)


# Bounds on one expression: the checker, the interpreter and the code generator walk
# expressions recursively, so a hostile grid could otherwise exhaust the stack.
MAX_EXPR_CHARS = 10_000
MAX_EXPR_DEPTH = 100


@dataclass(frozen=True)
class SyntaxProblem(Exception):
    offset: int       # 0-based offset in the expression
    message: str
    hint: str | None = None
    code: str = "expr-syntax"


_QUOTES = "«»“”‘’„"


def _hint(text: str, pos: int, found: str) -> Message | None:
    """What to write instead, for the mistakes of authors used to French writing."""
    before = text[:pos].rstrip()
    after = text[pos + len(found):].lstrip()
    if found == "%":
        return msg("write a percentage as a decimal number: 0.35 for 35 %")
    if found == "," and before[-1:].isdigit() and after[:1].isdigit():
        return msg("write decimal numbers with a point: 2.5, not 2,5")
    if found.lower() == "et":
        return msg("write 'and' for et")
    if found.lower() == "ou":
        return msg("write 'or' for ou")
    if found.lower() == "non":
        return msg("write 'not' for non")
    if found == "=" and not after.startswith("="):
        return msg("compare with == (two equal signs), e.g. dalo_statut == 'actif'")
    if found and found[0] in _QUOTES:
        return msg("write texts between straight single quotes: 'texte', not « texte » or “texte”")
    if found == '"':
        return msg("write texts between single quotes: 'texte'")
    if found in ("!", "&", "|"):
        return msg("use the words and, or, not (and != for 'different from')")
    return None


def parse(text: str) -> Tree:
    """Parse one expression; raise SyntaxProblem with the offset, a readable message and, for
    common mistakes (35%, 2,5, et/ou, =, « »), what to write instead.

    Expressions longer than ``MAX_EXPR_CHARS`` characters or nested deeper than
    ``MAX_EXPR_DEPTH`` operations are refused (code ``too-large``)."""
    if len(text) > MAX_EXPR_CHARS:
        raise SyntaxProblem(0, msg("the expression has {n} characters, more than {limit}",
                                   n=len(text), limit=MAX_EXPR_CHARS), code="too-large")
    tree = _parse(text)
    _check_depth(tree)
    return tree


def _check_depth(tree: Tree) -> None:
    """Refuse trees deeper than MAX_EXPR_DEPTH (iterative: no recursion on hostile input)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPR_DEPTH:
            raise SyntaxProblem(start_of(node), msg("the expression is nested more than {limit} "
                                                    "operations deep", limit=MAX_EXPR_DEPTH),
                                msg("write long lists of alternatives as 'x in {…}'"), code="too-large")
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))


def _parse(text: str) -> Tree:
    try:
        return parser().parse(text)
    except UnexpectedEOF as exc:
        expected = _expected(exc.expected)
        raise SyntaxProblem(len(text), msg("the expression ends too early; expected {expected}",
                                           expected=expected)) from None
    except UnexpectedCharacters as exc:
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        raise SyntaxProblem(exc.pos_in_stream, msg("unexpected character '{ch}'", ch=ch),
                            _hint(text, exc.pos_in_stream, ch)) from None
    except UnexpectedToken as exc:
        tok = exc.token
        where = tok.start_pos if tok.start_pos is not None else len(text)
        if tok.type == "$END":
            raise SyntaxProblem(len(text), msg("the expression ends too early; expected {expected}",
                                               expected=_expected(exc.expected))) from None
        raise SyntaxProblem(where, msg("unexpected '{tok}'; expected {expected}", tok=str(tok),
                                       expected=_expected(exc.expected)),
                            _hint(text, where, str(tok))) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark failures
        raise SyntaxProblem(getattr(exc, "pos_in_stream", 0) or 0,
                            msg("the expression cannot be read")) from None


def _expected(names) -> Message:
    readable = sorted({_TOKEN_NAMES.get(n, n.lower().strip("_")) for n in names})
    if len(readable) > 6:
        readable = readable[:6] + ["…"]
    return _Listed(readable)


class _Listed(Message):
    """Token names, each shown in the user's language."""

    def __new__(cls, items: list[str]) -> "_Listed":
        self = str.__new__(cls, ", ".join(items))
        self.template, self.params, self.items = ", ", {}, items
        return self

    def localized(self) -> str:
        return ", ".join(_(i) for i in self.items)


def start_of(node: Tree | Token) -> int:
    if isinstance(node, Token):
        return node.start_pos or 0
    meta = node.meta
    return getattr(meta, "start_pos", 0) if not meta.empty else 0

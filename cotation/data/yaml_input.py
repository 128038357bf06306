"""YAML input files other than grids (offers, conventions, mappings, test cases): the shapes a
hostile file uses and none of these files needs are refused before anything is built.

Grid files have their own, located checks (:mod:`cotation.grid.loader`). The other YAML files
cotation reads are small documents written by hand or by a tool; they never need anchors or
aliases, whose repetition expands a few hundred bytes into gigabytes ("billion laughs"), nor
deep nesting. :func:`check_yaml_input` walks the parser's events (no recursion, nothing built)
and raises :class:`YamlInputError` at the first one, with its line and column; the caller
words it in its own error type. A syntax error is left to the caller's loader, which reports
it as it did.
"""
from __future__ import annotations

import yaml

from cotation.i18n import _

MAX_INPUT_CHARS = 16 * 2 ** 20     # 16 Mi characters: far beyond any hand-written file
MAX_INPUT_DEPTH = 50
MAX_PLAIN_DIGITS = 100             # a whole number written in more digits is refused


class YamlInputError(ValueError):
    """An anchor, an alias, too deep a nesting or too long a text; ``line`` and ``column``
    are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def check_yaml_input(text: str, *, max_depth: int = MAX_INPUT_DEPTH,
                     max_chars: int = MAX_INPUT_CHARS) -> None:
    """Raise :class:`YamlInputError` when ``text`` uses an anchor (``&name``) or an alias
    (``*name``), nests mappings and lists more than ``max_depth`` deep or is longer than
    ``max_chars`` characters, or writes a whole number in more than ``MAX_PLAIN_DIGITS``
    digits. YAML syntax errors are not raised here."""
    if len(text) > max_chars:
        raise YamlInputError(1, 1, _("the file is longer than {n} characters").format(n=max_chars))
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            mark = event.start_mark
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise YamlInputError(mark.line + 1, mark.column + 1, _(
                    "YAML anchors and aliases (&name, *name) are not accepted in this file: "
                    "write each value out in full"))
            if isinstance(event, yaml.ScalarEvent) and event.style is None \
                    and len(event.value) > MAX_PLAIN_DIGITS \
                    and event.value.lstrip("+-").replace("_", "").isdigit():
                # PyYAML's int() refuses over 4,300 digits; no input of these needs 100
                raise YamlInputError(mark.line + 1, mark.column + 1, _(
                    "a number of {n} digits: out of range").format(n=len(event.value)))
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise YamlInputError(mark.line + 1, mark.column + 1, _(
                        "mappings and lists are nested more than {limit} deep").format(
                            limit=max_depth))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return          # the caller's loader reports the syntax error where it is

"""YAML loading that keeps the line and column of every node.

PyYAML's composer gives nodes with marks; we construct plain Python values ourselves so that
each value's document path maps to its source position, and so duplicate keys are rejected
(PyYAML silently keeps the last one).
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cotation.grid.diagnostics import Diagnostic, GridError, Message, Span, msg
from cotation.grid.ir import MAX_EXACT, short_number
from cotation.grid.source import MAX_GRID_BYTES, check_size, max_grid_bytes  # noqa: F401 (re-exported)

PathKey = tuple  # a document path: keys (str) and list indices (int)

# Limits on hostile files: a grid is a few kilobytes; these bounds keep the loading of any file
# under a second and a few tens of megabytes (the size limit lives in ``source``).
MAX_YAML_DEPTH = 40                  # nesting of mappings and lists
MAX_YAML_NODES = 200_000             # values after alias expansion
MAX_YAML_ALIASES = 1_000             # uses of an anchor (*name)


@dataclass(frozen=True)
class NodePos:
    line: int          # 1-based
    column: int        # 1-based
    start: int         # character offset of the node in the file
    end: int
    style: str | None  # None (plain), "'", '"', '|', '>'


class SourceMap:
    """Maps document paths to source positions, and expression offsets to file positions."""

    def __init__(self, file: str, text: str, positions: dict[PathKey, NodePos],
                 key_positions: dict[PathKey, NodePos]):
        self.file = file
        self.text = text
        self._pos = positions
        self._keys = key_positions
        self._line_starts: list[int] | None = None        # made on first use
        self._aligned: dict[tuple[PathKey, str], list[int]] = {}

    def span(self, path: PathKey, *, key: bool = False) -> Span:
        """Position of the value at ``path`` (or of its key), falling back to the nearest parent."""
        table = self._keys if key else self._pos
        p = tuple(path)
        while p:
            if p in table:
                n = table[p]
                return Span(self.file, n.line, n.column)
            if not key and p in self._pos:
                n = self._pos[p]
                return Span(self.file, n.line, n.column)
            p = p[:-1]
        n = self._pos.get((), None)
        return Span(self.file, n.line if n else 1, n.column if n else 1)

    def expr_span(self, path: PathKey, value: str, offset: int) -> Span:
        """File position of character ``offset`` of the scalar string ``value`` at ``path``."""
        node = self._pos.get(tuple(path))
        if node is None:
            return self.span(path)
        # each expression is aligned with its source once, and lines are found by bisection:
        # a grid of thousands of long expressions otherwise took minutes (quadratic)
        key = (tuple(path), value)
        table = self._aligned.get(key)
        if table is None:
            table = self._aligned[key] = _alignment(self.text, node, value)
        src_index = table[max(0, min(offset, len(value)))]
        if self._line_starts is None:
            self._line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        line = bisect.bisect_right(self._line_starts, src_index)
        return Span(self.file, line, src_index - self._line_starts[line - 1] + 1)


def _value_bounds(text: str, node: NodePos) -> tuple[int, int]:
    """Where the scalar's value starts in the source (after an opening quote, or the line of a
    block's indicator) and where the node ends."""
    i = node.start
    if node.style in ("'", '"'):
        i += 1
    elif node.style in ("|", ">"):
        nl = text.find("\n", i)
        i = nl + 1 if nl >= 0 else i
    return i, max(node.end, i)


def _alignment(text: str, node: NodePos, value: str) -> list[int]:
    """Where each character of the scalar's value is written in the source (then where the
    value ends), walking source and value together once: index ``k`` for ``value[k]``, from 0
    to ``len(value)``.

    Folding, quotes and indentation differ between source and value, so characters are matched
    greedily, skipping source whitespace and quote characters the value does not contain; from
    the first character that cannot be matched on, every offset gets the node's end."""
    i, end = _value_bounds(text, node)
    out: list[int] = []
    for ch in value:
        while i < end and text[i] != ch:
            i += 1
        if i >= end:        # the walk failed: this offset and every later one get the same
            failed = min(end, len(text) - 1) if text else 0
            return out + [failed] * (len(value) + 1 - len(out))
        out.append(i)
        i += 1
    out.append(min(i, max(0, len(text) - 1)))
    return out


# Scalars read as text whatever they look like.
_TEXT_PATHS = {("grid", "version"), ("grid", "territory", "epci_siren")}


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.positions: dict[PathKey, NodePos] = {}
        self.keys: dict[PathKey, NodePos] = {}
        self.errors: list[Diagnostic] = []
        self._criterion: str | None = None  # id of the criterion or group being built
        self._scalar = yaml.constructor.SafeConstructor()
        self._seen: set[int] = set()        # nodes already built (a second visit is an alias)
        self._active: set[int] = set()      # collections being built (an alias to one recurses)
        self._nodes = 0
        self._aliases = 0

    def _limit(self, node: yaml.Node, message: str, code: str = "yaml-alias") -> None:
        raise GridError(self.errors + [Diagnostic(code, message, self._span(node))])

    def _count(self, node: yaml.Node, depth: int) -> None:
        """Bound what a hostile file can make the builder do: recursive aliases, alias counts,
        expansion (billion laughs) and nesting depth, each a located error."""
        key = id(node)
        if key in self._active:
            self._limit(node, msg("recursive alias: an anchor is used inside its own value; write the "
                                  "value out in full instead of '*name' inside the value marked "
                                  "'&name'"))
        if key in self._seen and isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                self._limit(node, msg("more than {limit} uses of YAML aliases (*name)", limit=MAX_YAML_ALIASES))
        self._seen.add(key)
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            self._limit(node, msg("the document expands to more than {limit} values "
                                  "(aliases repeated inside aliases?)", limit=MAX_YAML_NODES))
        if depth > MAX_YAML_DEPTH:
            self._limit(node, msg("mappings and lists are nested more than {limit} deep", limit=MAX_YAML_DEPTH),
                        "too-large")

    def pos(self, node: yaml.Node) -> NodePos:
        return NodePos(node.start_mark.line + 1, node.start_mark.column + 1,
                       node.start_mark.index, node.end_mark.index, getattr(node, "style", None))

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self._count(node, len(path))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self._active.add(id(node))
            try:
                return self._build_located(node, path)
            finally:
                self._active.discard(id(node))
        return self._build_located(node, path)

    def _build_located(self, node: yaml.Node, path: PathKey) -> Any:
        self.positions[path] = self.pos(node)
        if isinstance(node, yaml.MappingNode) and len(path) == 2 and path[0] in ("criteria", "groups"):
            outer = self._criterion
            self._criterion = next((str(v.value) for k, v in node.value
                                    if isinstance(k, yaml.ScalarNode) and k.value == "id"
                                    and isinstance(v, yaml.ScalarNode)), None)
            try:
                return self._build_node(node, path)
            finally:
                self._criterion = outer
        return self._build_node(node, path)

    def _build_node(self, node: yaml.Node, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.errors.append(Diagnostic(
                        "schema", msg('merge keys (<<) are not supported in grid files'),
                        self._span(key_node)))
                    continue
                key = self.build_scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    self.errors.append(Diagnostic("schema", msg('mapping keys must be plain names'),
                                                  self._span(key_node)))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    first = self.keys[path + (key,)]
                    self.errors.append(Diagnostic(
                        "duplicate-key", msg("duplicate key '{key}' (first defined at line {line}); YAML would silently keep the last one", key=key, line=first.line), self._span(key_node),
                        criterion=self._criterion))
                    continue
                self.keys[path + (key,)] = self.pos(key_node)
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if path in _TEXT_PATHS or (len(path) == 4 and path[:3] == ("grid", "territory", "communes")):
            # version 2024.10 is not the float 2024.1; an unquoted INSEE code is a code
            return node.value if isinstance(node, yaml.ScalarNode) else self.build_scalar(node)
        return self.build_scalar(node)

    def build_scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == "tag:yaml.org,2002:str" or node.style in ("'", '"', "|", ">"):
            return node.value
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > 30:
            # beyond every limit of a grid number (and int() refuses over 4,300 digits)
            self.errors.append(Diagnostic("number-out-of-range", msg(
                "the number {value} is beyond the limit of ±{limit}",
                value=short_number(node.value), limit=str(MAX_EXACT)), self._span(node),
                criterion=self._criterion))
            return 0
        try:
            return self._scalar.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.errors.append(Diagnostic("yaml-syntax", msg("this value cannot be read ({problem})",
                                                             problem=str(exc).splitlines()[0]),
                                          self._span(node)))
            return node.value
        except ValueError as exc:  # e.g. 2024-02-30 looks like a date but is none
            self.errors.append(Diagnostic("schema", msg("'{value}' is not a valid value: {exc}",
                                                        value=short_number(node.value), exc=exc),
                                          self._span(node), criterion=self._criterion))
            return node.value

    def _span(self, node: yaml.Node) -> Span:
        return Span(self.file, node.start_mark.line + 1, node.start_mark.column + 1)


def _check_nesting(file: str, text: str) -> None:
    """Refuse documents nested deeper than MAX_YAML_DEPTH before PyYAML's composer, which
    recurses once per level, sees them (the event parser is iterative)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                mark = event.start_mark
                raise GridError([Diagnostic(
                    "too-large", msg("mappings and lists are nested more than {limit} deep", limit=MAX_YAML_DEPTH),
                    Span(file, mark.line + 1, mark.column + 1))])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def explain_yaml_error(exc: yaml.MarkedYAMLError, text: str, line: int) -> tuple[Message, Message]:
    """PyYAML's problem (``expected <block end>, but found '<block mapping start>'``…) in plain
    words, and the line to fix as the hint."""
    problem = (exc.problem or "").strip()
    context = (exc.context or "").strip()
    lines = text.splitlines()
    shown = lines[line - 1].rstrip() if 0 < line <= len(lines) else ""
    fix = msg("line {line} reads: {text}", line=line, text=shown.replace("\t", "→") or "…")
    if "\t" in problem or "'\\t'" in problem or "tab" in problem:
        return msg("a tab character is used for indentation; YAML accepts only spaces: replace the "
                   "tab with spaces, aligned with the lines of the same level"), fix
    if problem.startswith("expected <block end>") or "did not find expected key" in problem \
            or "did not find expected '-'" in problem:
        return msg("the indentation of this line does not match the lines above: a key must start "
                   "in the same column as the other keys of its level (count the spaces), and a "
                   "list item '- ' in the same column as the other items"), fix
    if problem.startswith("mapping values are not allowed"):
        return msg("a ':' comes where YAML expects a value: either this line is indented more "
                   "than the keys of its level (align it with them), or a value contains ':' (put "
                   "the whole value between quotes, e.g. label: \"Hébergé : chez un tiers\")"), fix
    if "could not find expected ':'" in problem:
        return msg("a line has no ':' after its key, or a quote opened above is not closed"), fix
    if "end of stream" in problem or "quoted scalar" in context:
        return msg("a quote (' or \") is opened and never closed"), fix
    if problem.startswith("found undefined alias") or problem.startswith("found character"):
        return msg("a value starts with a character YAML reserves (*, &, @, `, %, !): put the "
                   "value between quotes"), fix
    return msg("the YAML structure is broken here ({problem})",
               problem=f"{problem} ({context})" if context else problem or str(exc)), fix


def load_yaml(path: str | Path, text: str | None = None, *,
              max_bytes: int | None = None) -> tuple[Any, SourceMap]:
    """Load a YAML document with positions. Raises GridError on syntax errors, duplicate keys
    and files beyond the limits above (size, nesting, aliases)."""
    file = str(path)
    limit = max_grid_bytes(max_bytes)
    if text is None:
        try:
            check_size(file, Path(path).stat().st_size, limit)
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise GridError([Diagnostic("yaml-syntax", msg('file is not UTF-8 text ({reason})', reason=exc.reason),
                                        Span(file, 1, 1))]) from None
    check_size(file, len(text.encode("utf-8", "surrogatepass")), limit)
    try:
        _check_nesting(file, text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message, hint = explain_yaml_error(exc, text, line)
        raise GridError([Diagnostic("yaml-syntax", message, Span(file, line, col), hint=hint)]) from None
    except yaml.YAMLError as exc:
        raise GridError([Diagnostic("yaml-syntax", msg("the YAML structure cannot be read ({problem})",
                                                       problem=str(exc).splitlines()[0]),
                                    Span(file, 1, 1))]) from None
    if node is None:
        raise GridError([Diagnostic("schema", msg('the file is empty'), Span(file, 1, 1))])
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.errors:
        raise GridError(builder.errors)
    return data, SourceMap(file, text, builder.positions, builder.keys)

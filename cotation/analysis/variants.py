"""Grid variants without editing files: ``criteria.<id>.points=300`` style overrides.

An override names a value of the grid file by a dotted path: mapping keys, list positions, or
the ``id`` of an item of ``criteria`` or ``groups`` (``criteria.dalo.points``,
``parameters.seuil_reste_a_vivre``, ``groups.lien_commune.cap``). It is applied to the YAML
text before validation: the value's own characters are replaced, so every other line keeps its
number and a variant that does not validate is reported at the place of the original file
where the overridden value sits. A key that does not exist yet is added to its mapping; the
file is then written out again and positions refer to that text (said in the file name).

Two files use overrides:

- a *variant file*, usable wherever a grid is expected by ``cotation compare``::

      base: ../lyon-metropole.yaml      # relative to the variant file
      set:
        criteria.dalo.points: 100

- a *variants file* (``--variants``), several named variants of grid B::

      variants:
        dalo-100: {criteria.dalo.points: 100}
        reste-a-vivre-500: {parameters.seuil_reste_a_vivre: 500}
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cotation.grid import Grid, load_grid
from cotation.grid.diagnostics import GridError, closest
from cotation.grid.loader import load_yaml
from cotation.i18n import _

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BY_ID = ("criteria", "groups")


class VariantError(ValueError):
    """An override or variant that cannot be applied: a one-line French message."""


@dataclass(frozen=True)
class Override:
    path: tuple[str, ...]
    value: Any
    origin: str  # how the user wrote it, for messages

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def parse_set(spec: str) -> tuple[str, Override]:
    """``[A:|B:]path=value`` → (``'A'`` or ``'B'``, override). The value is read as YAML
    (``300`` is a number, ``true`` a boolean, anything else text). Grid B by default."""
    target = "B"
    body = spec
    if len(spec) > 2 and spec[1] == ":" and spec[0] in "ABab":
        target, body = spec[0].upper(), spec[2:]
    key, sep, raw = body.partition("=")
    key = key.strip()
    if not sep or not key:
        raise VariantError(_("--set '{spec}': expected [A:|B:]path=value, for example "
                             "B:criteria.dalo.points=100").format(spec=spec))
    value = _set_value(spec, raw)
    parts = tuple(key.split("."))
    if any(not p for p in parts):
        raise VariantError(_("--set '{spec}': malformed path '{key}' (empty part)").format(spec=spec, key=key))
    return target, Override(parts, value, f"--set {spec}")


# a --set value is one small YAML value: no anchors or aliases, a bounded nesting and length
MAX_SET_VALUE_CHARS = 10_000
MAX_SET_VALUE_DEPTH = 20


def _set_value(spec: str, raw: str) -> Any:
    """The value of ``--set path=raw`` read as YAML (``300`` a number, ``true`` a boolean,
    ``[a, b]`` a list), else the text itself (also for what YAML cannot construct, such as
    ``2024-02-30``: the grid's own checks then say what is wrong with it). Anchors, aliases,
    deep nesting, very long values and numbers of too many digits are refused (VariantError),
    by the checks of every YAML input (:func:`cotation.data.yaml_input.check_yaml_input`)."""
    from cotation.data.yaml_input import YamlInputError, check_yaml_input
    if not raw.strip():
        return ""
    try:
        check_yaml_input(raw, max_depth=MAX_SET_VALUE_DEPTH, max_chars=MAX_SET_VALUE_CHARS)
    except YamlInputError as exc:
        raise VariantError(_("--set '{spec}': {problem}").format(
            spec=spec if len(spec) <= 80 else spec[:60] + "…", problem=exc.message)) from None
    try:
        return yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError, OverflowError):
        return raw


def _did_you_mean(hint: list[str]) -> str:
    return _(" (did you mean {names}?)").format(names=_(" or ").join(hint)) if hint else ""


def _flow(value: Any) -> str:
    """The value as one line of YAML (JSON is YAML's flow style)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def _resolve(data: Any, ov: Override) -> tuple[tuple, bool]:
    """Document path of the override (keys and list indices) and whether the last key exists."""
    doc: list = []
    node = data
    for k, part in enumerate(ov.path):
        last = k == len(ov.path) - 1
        if isinstance(node, list):
            if doc and doc[-1] in _BY_ID and len(doc) == 1:
                ids = [str(x.get("id")) for x in node if isinstance(x, dict)]
                if part not in ids:
                    hint = closest(part, ids)
                    raise VariantError(
                        _("{origin}: no element '{part}' in {where}").format(
                            origin=ov.origin, part=part, where=doc[-1]) + _did_you_mean(hint))
                idx = ids.index(part)
            elif part.isdigit() and int(part) < len(node):
                idx = int(part)
            else:
                raise VariantError(_("{origin}: '{part}' is not a position in the list {where} "
                                     "(0 to {last})").format(
                    origin=ov.origin, part=part, where=".".join(ov.path[:k]) or _("(root)"),
                    last=len(node) - 1))
            doc.append(idx)
            node = node[idx]
        elif isinstance(node, dict):
            if part not in node:
                if last:
                    doc.append(part)
                    return tuple(doc), False
                hint = closest(part, [str(x) for x in node])
                raise VariantError(
                    _("{origin}: unknown key '{part}' in {where}").format(
                        origin=ov.origin, part=part, where=".".join(ov.path[:k]) or _("the grid"))
                    + _did_you_mean(hint))
            doc.append(part)
            node = node[part]
        else:
            raise VariantError(_("{origin}: '{path}' is a value, not a set of keys").format(
                origin=ov.origin, path=".".join(ov.path[:k])))
    return tuple(doc), True


def apply_override(path: str, text: str, ov: Override) -> tuple[str, str]:
    """(new text, file label) with the override applied. Raises VariantError or GridError."""
    data, smap = load_yaml(path, text)
    doc, exists = _resolve(data, ov)
    if exists:
        node = smap._pos[doc]
        old = text[node.start:node.end]
        new = _flow(ov.value) + ("\n" if old.endswith("\n") else "")
        return text[:node.start] + new + text[node.end:], path
    parent = data
    for k in doc[:-1]:
        parent = parent[k]
    parent[doc[-1]] = ov.value
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100), \
        _("{path} (rewritten by {origin})").format(path=path, origin=ov.origin)


def _apply_all(path: str, text: str, overrides: list[Override]) -> tuple[str, str] | None:
    """All overrides from one parse, when each names an existing value and none is inside
    another (the usual case); None otherwise."""
    data, smap = load_yaml(path, text)
    spans = []
    for ov in overrides:
        doc, exists = _resolve(data, ov)
        if not exists:
            return None
        spans.append((smap._pos[doc], ov))
    spans.sort(key=lambda s: s[0].start)
    if any(a.end > b.start for (a, _), (b, _) in zip(spans, spans[1:])):
        return None
    for node, ov in reversed(spans):
        old = text[node.start:node.end]
        text = text[:node.start] + _flow(ov.value) + ("\n" if old.endswith("\n") else "") + text[node.end:]
    return text, path


def load_with_overrides(path: str | Path, overrides: list[Override], text: str | None = None) -> Grid:
    """Load a grid file with overrides applied, validated like any grid (GridError)."""
    path = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VariantError(_("{path}: cannot be read ({reason})").format(path=path, reason=exc)) from None
    label = path
    done = _apply_all(path, text, overrides) if overrides else (text, path)
    if done is not None:
        text, label = done
    else:
        for ov in overrides:
            text, new_label = apply_override(path, text, ov)
            if new_label != path:
                label = new_label
    return load_grid(label, text=text)


def _override_map(mapping: Any, where: str) -> list[Override]:
    if not isinstance(mapping, dict) or not mapping:
        raise VariantError(_("{where}: a non-empty table 'path: value' is expected").format(where=where))
    out = []
    for key, value in mapping.items():
        parts = tuple(str(key).split("."))
        if any(not p for p in parts):
            raise VariantError(_("{where}: malformed path '{key}' (empty part)").format(where=where, key=key))
        out.append(Override(parts, value, f"{where} {key}"))
    return out


def _read_yaml(path: str | Path) -> tuple[Any, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VariantError(_("{path}: cannot be read ({reason})").format(
            path=path, reason=getattr(exc, "strerror", None) or exc)) from None
    return load_yaml(str(path), text)


def _is_variant(data: Any) -> bool:
    """A YAML mapping with ``base`` and no ``format``: a variant of another grid file."""
    return isinstance(data, dict) and "base" in data and "format" not in data


def load_grid_or_variant(path: str | Path, extra: list[Override] = ()) -> Grid:
    """A grid file, or a variant file (its base with its overrides), then ``extra`` overrides."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VariantError(_("{path}: cannot be read ({reason})").format(
            path=path, reason=getattr(exc, "strerror", None) or exc)) from None
    # a variant file is small and says so near its top; a grid file goes straight to the loader
    if "base:" not in text or "\nformat:" in "\n" + text:
        return load_with_overrides(path, list(extra), text=text)
    data, smap = load_yaml(str(path), text)
    if not _is_variant(data):
        return load_with_overrides(path, list(extra), text=text)
    unknown = sorted(set(data) - {"base", "set", "description"})
    if unknown:
        sp = smap.span((unknown[0],), key=True)
        raise VariantError(_("{where}: unknown key '{key}' in a variant file (possible keys: base, "
                             "set, description)").format(where=sp, key=unknown[0]))
    base = Path(path).parent / str(data["base"])
    if not base.is_file():
        raise VariantError(_("{where}: the base grid {base} does not exist").format(
            where=smap.span(("base",)), base=base))
    overrides = _override_map(data.get("set"), f"{path} set:")
    return load_with_overrides(base, overrides + list(extra))


def read_variants(path: str | Path) -> list[tuple[str, list[Override]]]:
    """The named variants of a ``--variants`` file, in file order."""
    data, smap = _read_yaml(path)
    if not isinstance(data, dict) or set(data) != {"variants"} or not isinstance(data["variants"], dict) \
            or not data["variants"]:
        raise VariantError(_("{path}: a variants file holds 'variants:' followed by a table "
                             "name → {{path: value}}").format(path=path))
    out = []
    for name, mapping in data["variants"].items():
        if not _NAME.match(str(name)):
            raise VariantError(_("{where}: invalid variant name '{name}' (letters, digits, _ . -)")
                               .format(where=smap.span(("variants", name), key=True), name=name))
        out.append((str(name), _override_map(mapping, _("{path} variant {name}:").format(path=path, name=name))))
    return out

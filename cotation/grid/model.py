"""Grid file → validated model: shape check (JSON Schema), then typed pydantic models.

The JSON Schema ``cotation/grid/grid.schema.json`` (package data; ``grids/grid.schema.json`` is
the same file beside the example grids, for editors) is the published contract for editors and other
tools; its errors are translated to file:line:col diagnostics through the source map.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from cotation.grid.diagnostics import Diagnostic, GridError, OrList, Span, did_you_mean, msg
from cotation.grid.loader import SourceMap, load_yaml
from cotation.grid.source import read_grid_text
from cotation.i18n import N_

SCHEMA = resources.files("cotation.grid") / "grid.schema.json"

Number = Union[int, float]
Bound = Union[int, float, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Territory(_Model):
    epci_siren: str
    name: str
    communes: tuple[str, ...]


class GridMeta(_Model):
    id: str
    title: str
    territory: Territory
    applies_to: str | None = None
    version: str
    effective_from: dt.date
    refusal_policy: str | None = None
    description: str | None = None


class FieldSpec(_Model):
    type: Literal["bool", "int", "decimal", "date", "code", "set", "text", "commune"]
    values: tuple[str, ...] | None = None
    default: Any = None
    label: str | None = None


class BandStep(_Model):
    from_: Bound | None = Field(default=None, alias="from")
    to: Bound | None = None
    points: Number | str
    label: str | None = None


class Bands(_Model):
    of: str
    steps: tuple[BandStep, ...]


class Criterion(_Model):
    id: str
    label: str
    section: str | None = None
    description: str | None = None
    legal_priority: bool = False
    validation: Literal["automatique", "justificatif", "travailleur_social", "guichet",
                        "commission"] = "automatique"
    when: str | bool | None = None
    points: Number | str | None = None
    bands: Bands | None = None
    cap: Bound | None = None
    floor: Bound | None = None
    weight: Bound = 1
    refusal_effect: bool = False
    source: str | None = None


class Group(_Model):
    id: str
    label: str | None = None
    policy: Literal["sum", "max", "first"] = "sum"
    members: tuple[str, ...]
    cap: Bound | None = None
    floor: Bound | None = None


class Total(_Model):
    floor: Bound | None = None
    cap: Bound | None = None


class OrderKey(_Model):
    key: str
    direction: Literal["asc", "desc"] | None = None   # resolved by the checker
    label: str | None = None


class Peers(_Model):
    by: tuple[str, ...]
    min_size: int = 30
    fallback: tuple[tuple[str, ...], ...] = ()


class WaitingTime(_Model):
    statistic: Literal["mean", "median"] = "mean"
    window_months: int = 12
    delai_anormalement_long: dict[str, int] | None = None


DEFAULT_ORDERING = (OrderKey(key="score", direction="desc"),
                    OrderKey(key="date_depot", direction="asc"),
                    OrderKey(key="numero_unique", direction="asc"))


class GridFile(_Model):
    """A grid file whose shape is valid (expressions not yet checked)."""

    format: Literal["cotation/1"]
    grid: GridMeta
    parameters: dict[str, bool | int | float | dt.date | str] = {}
    fields: dict[str, FieldSpec] = {}
    criteria: tuple[Criterion, ...]
    groups: tuple[Group, ...] = ()
    total: Total = Total()
    ordering: tuple[OrderKey, ...] | None = None
    peers: Peers | None = None
    waiting_time: WaitingTime = WaitingTime()


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


_TYPE_NAMES = {"string": N_("a text"), "number": N_("a number"), "integer": N_("a whole number"),
               "boolean": N_("true or false"), "object": N_("a mapping (key: value)"),
               "array": N_("a list"), "null": N_("nothing")}


def _criterion_at(data: Any, path: tuple) -> str | None:
    if len(path) >= 2 and path[0] in ("criteria", "groups") and isinstance(path[1], int):
        try:
            item = data[path[0]][path[1]]
            return str(item.get("id")) if isinstance(item, dict) and item.get("id") else None
        except (IndexError, KeyError, TypeError):
            return None
    return None


def _schema_diagnostics(data: Any, smap: SourceMap) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for err in _validator().iter_errors(_jsonable(data)):
        diags.extend(_translate(err, data, smap))
    # jsonschema may report the same problem through several paths; keep one per place+message
    unique: dict[tuple, Diagnostic] = {}
    for d in diags:
        unique.setdefault((d.span, d.message), d)
    return list(unique.values())


_NOTE_KEYS = {"commentaire", "commentaires", "comment", "comments", "note", "notes", "remarque",
              "remarques"}


def _unknown_key_hint(key: str, allowed: list[str]):
    if key.lower() in _NOTE_KEYS:
        return msg("for a note to readers, write a line starting with '#' (a YAML comment){or_desc}; "
                   "the keys allowed here are: {names}",
                   or_desc=msg(" or use 'description'") if "description" in allowed else "",
                   names=", ".join(allowed))
    return msg("expected one of: {names}", names=", ".join(allowed))


def _translate(err: jsonschema.ValidationError, data: Any, smap: SourceMap) -> list[Diagnostic]:
    path = tuple(err.absolute_path)
    crit = _criterion_at(data, path)
    where = "/".join(str(p) for p in path) or msg("the file")
    v = err.validator
    if v == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        extras = [k for k in err.instance if k not in allowed]
        return [Diagnostic("schema", msg("unknown key '{k}' in {where}", k=k, where=where), smap.span(path + (k,), key=True),
                           criterion=crit, hint=did_you_mean(k, allowed) or _unknown_key_hint(k, allowed))
                for k in extras]
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return [Diagnostic("schema", msg("missing required key '{missing}' in {where}", missing=missing, where=where), smap.span(path),
                           criterion=crit)]
    if v == "oneOf" and path[:1] == ("criteria",):
        inst = err.instance if isinstance(err.instance, dict) else {}
        both = "points" in inst and "bands" in inst
        text = (msg("a criterion has either 'points' or 'bands', not both") if both
                else msg("a criterion needs 'points' (a number or an expression) or 'bands'"))
        return [Diagnostic("schema", text, smap.span(path), criterion=crit)]
    if v == "enum":
        allowed = [str(a) for a in err.validator_value]
        return [Diagnostic("schema", msg("'{value}' is not allowed in {where}; expected one of: {names}",
                                         value=err.instance, where=where, names=", ".join(allowed)),
                           smap.span(path), criterion=crit,
                           hint=did_you_mean(str(err.instance), allowed))]
    if v == "const":
        return [Diagnostic("schema", msg("{where} must be '{validator_value}'", where=where, validator_value=err.validator_value), smap.span(path))]
    if v == "type":
        expected = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        names = OrList(_TYPE_NAMES.get(t, t) for t in expected)
        return [Diagnostic("schema", msg('{where} must be {names}', where=where, names=names), smap.span(path), criterion=crit)]
    if v == "pattern":
        if path and path[-1] == "id" or "A-Za-z" in err.validator_value:
            text = msg("'{value}' is not a valid name in {where}: use letters, digits and _, "
                       "starting with a letter", value=err.instance, where=where)
        elif "epci_siren" in path:
            text = msg("'{value}' is not a SIREN (9 digits)", value=err.instance)
        else:
            text = msg("'{value}' is not an INSEE commune code (5 characters, e.g. 69123 or 2A004)",
                       value=err.instance)
        return [Diagnostic("schema", text, smap.span(path), criterion=crit)]
    if v == "format":
        return [Diagnostic("schema", msg("{where}: '{instance}' is not a date YYYY-MM-DD", where=where, instance=err.instance), smap.span(path))]
    if v == "uniqueItems":
        return [Diagnostic("schema", msg('{where} lists the same value twice', where=where), smap.span(path), criterion=crit)]
    if v in ("minItems", "minLength"):
        return [Diagnostic("schema", msg('{where} must not be empty', where=where), smap.span(path), criterion=crit)]
    return [Diagnostic("schema", msg('{where}: {message}', where=where, message=err.message), smap.span(path), criterion=crit)]


def parse_grid_file(path: str | Path, text: str | None = None, *,
                    max_bytes: int | None = None) -> tuple[GridFile, SourceMap, str, dict]:
    """Load and shape-check a grid file. Returns the model, source map, content hash, raw data.
    Files larger than ``max_bytes`` (default: :func:`~cotation.grid.source.max_grid_bytes`)
    are refused before they are read."""
    if text is None:
        text = read_grid_text(path, max_bytes)
    data, smap = load_yaml(path, text, max_bytes=max_bytes)
    if not isinstance(data, dict):
        raise GridError([Diagnostic("schema", msg('a grid file is a mapping with format, grid and criteria'),
                                    smap.span(()))])
    if "cases" in data and "format" not in data:
        raise GridError([Diagnostic("schema", msg("this is a file of test cases, not a grid: run it with 'cotation test'"), smap.span(("cases",), key=True))])
    diags = _schema_diagnostics(data, smap)
    if diags:
        raise GridError(diags)
    raw = data
    data = dict(data)
    if isinstance(data["grid"].get("version"), (int, float)):
        data["grid"] = {**data["grid"], "version": str(data["grid"]["version"])}
    model = GridFile.model_validate(data)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return model, smap, digest, raw

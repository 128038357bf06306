"""Mapping-driven reader for CSV extractions (SNE, Infocentre, Imhoweb and other local systems).

A YAML mapping file says how to read the file (encoding, separator, quoting, decimal and
thousands separators, date formats, multi-value separator, booleans) and which source columns
feed which canonical fields, with code tables. It is checked against ``mapping.schema.json``
before use. See ``presets/extraction_sne_latin1.yaml`` for a commented example of every key.

Field rules:
- ``column: NAME`` reads one source column; ``columns: [A, B, ...]`` reads several: sets and
  localisations take the values of all of them, numbers add them up (empty cells count as 0
  when another is filled, e.g. nb_personnes = adults + children), other fields take the first
  non-empty cell.
- ``codes`` translates source values before the canonical check: an inline table, a table under
  the top-level ``codes`` key, or a built-in SNE table ``sne.<name>`` (see :mod:`codes`). Key
  ``"*"`` matches any other non-empty value; a value of ``null`` means "no value". A value
  absent from the table rejects the row.
- Source columns no field uses are kept as extra columns (``keep_unmapped``, default true) and
  listed as unmapped in the run summary; a name that clashes with a canonical column gets the
  prefix ``source_``.
- A UTF-8 byte-order mark wins over the declared encoding (the file is then read as UTF-8).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping as TMapping

import jsonschema
import yaml

from cotation.data.schema import COLUMNS, COLUMNS_BY_NAME, Kind
from cotation.data.values import (
    ValueParseError, check_range, grouped_number_pattern, is_number_text, parse_cell,
)
from cotation.data.yaml_input import YamlInputError, check_yaml_input

from sne_adapters import codes as sne_codes
from cotation.data.build import JOIN, AdapterResult, FieldSpec, build_table
from cotation.data.vector import date_format_vectorised
from cotation.data.split import file_bytes, split_records, split_single_byte
from cotation.data.canonical import BOM, odd_rejecter
from cotation.i18n import _

_UTF8 = {"utf-8", "utf8", "utf-8-sig"}
# Dates of persons' births: a two-digit year is refused there (see ``make_parser``)
_BIRTH_DATES = frozenset({"date_naissance", "date_naissance_conjoint"})
_DEFAULT_SOURCE = {
    "encoding": "utf-8", "separator": ",", "quote": '"', "skip_lines": 0, "decimal": ".",
    "thousands": "", "date_formats": ["%Y-%m-%d"], "multi_separator": "|",
    "true_values": ["true", "1", "oui", "o", "yes", "vrai", "y"],
    "false_values": ["false", "0", "non", "n", "no", "faux"],
    "insee_zero_pad": False, "keep_unmapped": True,
}


@lru_cache(maxsize=1)
def mapping_schema() -> dict[str, Any]:
    text = resources.files("sne_adapters").joinpath("mapping.schema.json").read_text("utf-8")
    return json.loads(text)


class MappingError(ValueError):
    """A mapping file that is not valid, with where and why."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """Rejects duplicated keys, which PyYAML would silently overwrite."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise MappingError(_("line {line}: duplicated key '{key}'").format(
                line=key_node.start_mark.line + 1, key=key))
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class FieldMap:
    name: str
    columns: tuple[str, ...]
    codes: TMapping[str, Any] | None
    codes_name: str
    date_formats: tuple[str, ...]
    decimal: str
    thousands: str
    multi_separator: str
    optional: bool


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    name: str
    source: dict[str, Any]
    fields: tuple[FieldMap, ...]
    origin: str = "<mapping>"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def load_mapping(spec: "str | Path | TMapping[str, Any] | Mapping") -> Mapping:
    """Load and validate a mapping from a YAML path, a dict, or pass a Mapping through."""
    if isinstance(spec, Mapping):
        return spec
    origin = "<mapping>"
    if isinstance(spec, (str, Path)):
        origin = str(spec)
        try:
            text = Path(spec).read_text(encoding="utf-8")
            check_yaml_input(text)
            data = yaml.load(text, Loader=_UniqueKeyLoader)
        except YamlInputError as exc:
            raise MappingError(f"{origin}:{exc.line}:{exc.column}: {exc.message}") from None
        except MappingError as exc:
            raise MappingError(f"{origin}: {exc}") from None
        except yaml.YAMLError as exc:
            raise MappingError(_("{where}: not valid YAML ({problem})").format(
                where=origin, problem=exc)) from None
    else:
        data = dict(spec)
    errors = sorted(jsonschema.Draft202012Validator(mapping_schema()).iter_errors(data),
                    key=lambda e: list(e.absolute_path))
    if errors:
        lines = ["  " + _("at {path}: {problem}").format(
            path="/".join(map(str, e.absolute_path)) or _("(top)"), problem=e.message)
            for e in errors[:10]]
        raise MappingError(_("{origin}: mapping does not match mapping.schema.json:").format(
            origin=origin) + "\n" + "\n".join(lines))
    source = {**_DEFAULT_SOURCE, **data.get("source", {})}
    tables = data.get("codes", {})
    fields = []
    for name, spec_f in data["fields"].items():
        if isinstance(spec_f, str):
            spec_f = {"column": spec_f}
        cols = tuple(spec_f["columns"]) if "columns" in spec_f else (spec_f["column"],)
        table, table_name = _code_table(spec_f.get("codes"), tables, origin, name)
        fields.append(FieldMap(
            name, cols, table, table_name,
            tuple(spec_f.get("date_formats", source["date_formats"])),
            spec_f.get("decimal", source["decimal"]),
            spec_f.get("thousands", source["thousands"]),
            spec_f.get("multi_separator", source["multi_separator"]),
            bool(spec_f.get("optional", False))))
    for fm in fields:
        if fm.thousands and fm.thousands == fm.decimal \
                and COLUMNS_BY_NAME[fm.name].kind in (Kind.INT, Kind.DECIMAL):
            # '1.500' could be 1500 or 1.5: the mapping cannot say which
            raise MappingError(_("{origin}: field {name}: the thousands separator '{sep}' is "
                                 "also the decimal separator").format(origin=origin, name=fm.name,
                                                                      sep=fm.thousands))
    names = {f.name for f in fields}
    missing = [c.name for c in COLUMNS if c.required and c.name not in names]
    if missing:
        raise MappingError(_("{origin}: required canonical field(s) not mapped: {names}").format(
            origin=origin, names=", ".join(missing)))
    order = {c.name: i for i, c in enumerate(COLUMNS)}
    fields.sort(key=lambda f: order[f.name])
    return Mapping(str(data.get("name", origin)), source, tuple(fields), origin, data)


def _code_table(ref: Any, tables: dict, origin: str, field_name: str
                ) -> tuple[TMapping[str, Any] | None, str]:
    if ref is None:
        return None, ""
    if isinstance(ref, dict):
        return {str(k): v for k, v in ref.items()}, f"{field_name} (inline)"
    if ref.startswith("sne."):
        table = sne_codes.TABLES.get(ref[4:])
        if table is None:
            raise MappingError(_("{origin}: field {name}: unknown built-in code table '{ref}' "
                                 "(known: {known})").format(
                origin=origin, name=field_name, ref=ref,
                known=", ".join("sne." + k for k in sne_codes.TABLES)))
        return table, ref
    if ref not in tables:
        raise MappingError(_("{origin}: field {name}: code table '{ref}' is not defined "
                             "under 'codes'").format(origin=origin, name=field_name, ref=ref))
    return {str(k): v for k, v in tables[ref].items()}, ref


# ----------------------------------------------------------------------------- parsing

def _format_label(fmt: str) -> str:
    return (fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy")
               .replace("%y", "yy").replace("%H", "HH").replace("%M", "MM").replace("%S", "SS"))


def _canonical_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def make_parser(fm: FieldMap, source: dict[str, Any]) -> Callable[[str], Any]:
    """The scalar parser of one mapped field: source text -> canonical value."""
    col = COLUMNS_BY_NAME[fm.name]
    kind = col.kind
    table = fm.codes
    truthy = {v.lower() for v in source["true_values"]}
    falsy = {v.lower() for v in source["false_values"]}
    zero_pad = source["insee_zero_pad"]
    grouped = re.compile(grouped_number_pattern(fm.thousands, fm.decimal)) if fm.thousands else None

    def translate(text: str) -> str | None:
        if table is None:
            return text
        if text in table:
            value = table[text]
        elif text and "*" in table:
            value = table["*"]
        elif not text:
            return None
        else:
            raise ValueParseError(_("'{text}' is not in code table {table} ({name})").format(
                text=text, table=fm.codes_name, name=fm.name))
        return None if value is None else _canonical_text(value)

    def pad(code: str) -> str:
        return code.zfill(5) if zero_pad and code.isdigit() and len(code) == 4 else code

    def number(text: str, integer: bool) -> Any:
        raw = text
        if fm.thousands and fm.thousands in text:
            if not grouped.fullmatch(text):
                raise ValueParseError(_("'{text}' is not a number: the thousands separator "
                                        "'{sep}' must separate groups of three digits")
                                      .format(text=raw, sep=fm.thousands))
            text = text.replace(fm.thousands, "")
        if fm.decimal != ".":
            if "." in text:
                raise ValueParseError(_("'{text}' is not a number (decimal separator '{sep}')")
                                      .format(text=raw, sep=fm.decimal))
            text = text.replace(fm.decimal, ".")
        what = _("a whole number") if integer else _("a decimal number (decimal separator "
                                                      "'{sep}')").format(sep=fm.decimal)
        if not is_number_text(text.strip()):   # ASCII digits only, as in canonical files
            raise ValueParseError(_("'{text}' is not {what}").format(text=raw, what=what))
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise ValueParseError(_("'{text}' is not {what}").format(text=raw, what=what)) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueParseError(_("'{text}' is not a finite number").format(text=raw))
        check_range(col, value, raw)
        return value

    def single(text: str) -> Any:
        text = text.strip()
        if table is not None:
            translated = translate(text)
            if translated is None:
                return None
            text = translated
        if not text:
            return None
        if kind is Kind.DATE:
            for fmt in fm.date_formats:
                try:
                    day = dt.datetime.strptime(text, fmt).date()
                except ValueError:
                    continue
                if "%y" in fmt and fm.name in _BIRTH_DATES:
                    # strptime puts 00-68 in 2000-2068: a birth in 1955 written 55 would be
                    # one in 2055, and a birth year of two digits may be of two centuries.
                    # No century is guessed, and not from the clock: the same file reads the
                    # same whatever the day (event dates, all after 2000, keep the pivot)
                    raise ValueParseError(_("'{text}': a birth date needs a year of four digits "
                                            "(a year of two may be of two centuries)").format(
                                                text=text))
                return day
            expected = _(" or ").join(_format_label(f) for f in fm.date_formats)
            raise ValueParseError(_("'{text}' is not a date {expected}").format(text=text,
                                                                              expected=expected))
        if kind is Kind.INT or kind is Kind.DECIMAL:
            return number(text, kind is Kind.INT)
        if kind is Kind.BOOL and table is None:
            low = text.lower()
            if low in truthy:
                return True
            if low in falsy:
                return False
            raise ValueParseError(_("'{text}' is not a boolean ({values})").format(
                text=text, values=", ".join(sorted(truthy | falsy))))
        if kind is Kind.COMMUNE:
            text = pad(text)
        return parse_cell(col, text)

    def multi(text: str) -> Any:
        parts = []
        for cell in text.split(JOIN):
            pieces = cell.split(fm.multi_separator) if fm.multi_separator else [cell]
            for piece in pieces:
                piece = piece.strip()
                if not piece:
                    continue
                piece = translate(piece)
                if piece is None:
                    continue
                parts.append(pad(piece) if kind is Kind.COMMUNES else piece)
        return parse_cell(col, "|".join(parts))

    def combined(text: str) -> Any:
        cells = text.split(JOIN)
        if kind is Kind.INT or kind is Kind.DECIMAL:
            values = [single(c) for c in cells]
            present = [v for v in values if v is not None]
            return sum(present) if present else None
        for cell in cells:
            value = single(cell)
            if value is not None:
                return value
        return None

    if kind is Kind.CODESET or kind is Kind.COMMUNES:
        body = multi
    elif len(fm.columns) > 1:
        body = combined
    else:
        body = single

    def parse(text: str) -> Any:
        value = body(text)
        if col.required and (value is None or value == ""):
            raise ValueParseError(_("{name} is required").format(name=fm.name))
        return value
    return parse


def _decode(data: bytes, encoding: str) -> tuple[bytes | None, str | None, str]:
    """(utf-8 bytes, or text with surrogate escapes, and the encoding actually used)."""
    if data.startswith(BOM):
        data, encoding = data[len(BOM):], "utf-8"
    enc = "utf-8" if encoding.lower() in _UTF8 else encoding
    try:
        text = data.decode(enc)
    except UnicodeDecodeError:
        return None, data.decode(enc, "surrogateescape"), enc
    return (data if enc == "utf-8" else text.encode("utf-8")), None, enc


def read_mapped_csv(path: str | Path, mapping: "str | Path | TMapping[str, Any] | Mapping", *,
                    strict: bool = False, fast: bool = True) -> AdapterResult:
    """Read an extraction through a mapping into the canonical table."""
    m = load_mapping(mapping)
    src = m.source
    source = str(path)
    raw = file_bytes(path)
    encoding = src["encoding"]
    records = None
    if fast and encoding.lower() not in _UTF8 and raw[:len(BOM)] != BOM:
        # cp1252 and its kin: split as bytes, only the columns with accents decoded
        records = split_single_byte(raw, encoding, delimiter=src["separator"],
                                    quote=src["quote"], skip_lines=src["skip_lines"],
                                    source=source)
    if records is None:
        data, text, encoding = _decode(raw if isinstance(raw, bytes) else raw[:], encoding)
        records = split_records(data, text, delimiter=src["separator"], quote=src["quote"],
                                skip_lines=src["skip_lines"], fast=fast, source=source)
    header = records.header
    head_line = src["skip_lines"] + 1
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(name, i)
    specs: list[FieldSpec] = []
    used: set[int] = set()
    missing_optional: list[str] = []
    for fm in m.fields:
        absent = [c for c in fm.columns if c not in index]
        if absent:
            if fm.optional:
                missing_optional.extend(absent)
                continue
            hint = ""
            if any("Ã" in h or "â€" in h for h in header):
                hint = _("; the header looks like UTF-8 read as {encoding}: set encoding: "
                         "utf-8").format(encoding=encoding)
            raise ValueError(_("{source}:{line}: column(s) {columns} mapped to {name} not in the "
                               "header (mapping {mapping}); header: {header}").format(
                source=source, line=head_line, columns=", ".join(repr(c) for c in absent),
                name=fm.name, mapping=m.origin, header=", ".join(header)) + hint)
        dups = [c for c in fm.columns if header.count(c) > 1]
        if dups:
            raise ValueError(_("{source}:{line}: column {column!r} appears twice in the "
                               "header").format(source=source, line=head_line, column=dups[0]))
        idx = tuple(index[c] for c in fm.columns)
        used.update(idx)
        col = COLUMNS_BY_NAME[fm.name]
        number = None
        if fm.codes is None and len(idx) == 1:
            number = {Kind.INT: "int", Kind.DECIMAL: "decimal"}.get(col.kind)
        split = ((JOIN, fm.multi_separator) if col.kind is Kind.COMMUNES and fm.codes is None
                 else ())
        date_format = ""
        if col.kind is Kind.DATE and fm.codes is None and len(idx) == 1 \
                and date_format_vectorised(fm.date_formats[0]):
            date_format = fm.date_formats[0]
        specs.append(FieldSpec(fm.name, idx, "+".join(fm.columns), make_parser(fm, src),
                               col.kind, col.required, number, fm.decimal,
                               thousands=fm.thousands if number else "",
                               date_format=date_format,
                               communes_split=split, insee_zero_pad=src["insee_zero_pad"]))
    unmapped = [(h, i) for i, h in enumerate(header) if i not in used]
    extras = []
    if src["keep_unmapped"]:
        taken = set(COLUMNS_BY_NAME)
        for h, i in unmapped:
            name = f"source_{h}" if h in taken else h
            taken.add(name)
            extras.append((name, i))
    nu_idx = next(s.sources[0] for s in specs if s.name == "numero_unique")
    table, rejects = build_table(records, specs, extras, nu_source=nu_idx, source=source,
                                 strict=strict, vectorised=fast,
                                 odd_reject=odd_rejecter(header, nu_idx, encoding),
                                 display=lambda s: s.replace(JOIN, " + "))
    details = {"mapping": m.name, "encoding": encoding}
    if missing_optional:
        details["missing_optional_columns"] = missing_optional
    return AdapterResult(table, rejects, records.n_read, [h for h, _ in unmapped], "mapped-csv",
                         details, source_columns=[s.name for s in specs])

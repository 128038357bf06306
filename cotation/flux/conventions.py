"""Conventions YAML: shape check with ``conventions.schema.json``, then typed records.

Every error names ``file:line``: the YAML is composed keeping node marks, and schema error
paths are translated through that map. Duplicate keys are rejected (PyYAML keeps the last).
"""
from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from cotation.flux.errors import FluxInputError, Problem
from cotation.i18n import _
from cotation.flux.model import (
    BAILLEUR, DEFAULT_EXCLUSIONS, Convention, Delai, Derogation, DroitsUniques, Programme, Reservataire,
    Segment, Selector
)

SCHEMA = resources.files("cotation.flux") / "conventions.schema.json"


@dataclass(frozen=True)
class RotationSettings:
    method: str = "rate"                      # "rate" or "mean_leases" (Toulon)
    numerator: str = "departures"             # departures, entries or mean
    exclude_departures: frozenset[str] = frozenset({"MUTATION", "ANRU"})
    base_date: str = "end_of_prev_year"
    window_years: int = 1


@dataclass(frozen=True)
class Settings:
    """Settings of flux.md, with the spec's defaults."""

    # Seeds' wording ("Hors QPV, la part du contingent préfectoral ne peut être inférieure à 30 %
    # du flux annuel", USH slides) is reading B; reading A stays a setting.
    qpv_reading: str = "B"
    cap_collectivites_enabled: bool = True
    cap_collectivites_rate: Fraction = Fraction(20)
    exclusions: tuple[str, ...] = DEFAULT_EXCLUSIONS
    rotation: RotationSettings = field(default_factory=RotationSettings)
    # category → fixed volume (int) or mean over the last n years (("mean", n)).
    soustractions: tuple[tuple[str, int | tuple[str, int]], ...] = ()
    mes_in_flux: bool = True
    flux_rounding: str = "floor"
    report: bool = False
    segment_by: tuple[str, ...] = ()
    enforce_segment_quotas: bool = False
    segment_rounding: str = "largest_remainder"
    k: int = 3
    defaut_designation: bool = True
    refus_adapte: bool = False
    household_size: tuple[tuple[str, tuple[int, int]], ...] = ()
    max_taux_effort: float | None = None
    # Several grids in one shortlist: "entrelacement" or "priorite" (scores_file.GRID_MERGES).
    grid_merge: str = "entrelacement"
    # Step counted when a convention gives no ``decompte``, by management mode (seed Occitanie
    # 2023: mise à disposition in direct management; delegated contingents keep their count,
    # attributions for the préfet).
    step_by_management: tuple[tuple[str, str], ...] = (("direct", "mise_a_disposition"), ("delegue", "attribution"))
    # A deadline counted in calendar days or months that falls on a Saturday, Sunday or public
    # holiday: "aucun" (kept: the seeds say nothing) or "jour_ouvre_suivant" (moved to the next
    # working day, as art. 642 of the code de procédure civile does for procedural delays).
    deadline_roll: str = "aucun"


@dataclass(frozen=True)
class Bailleur:
    id: str
    nom: str
    departement: str | None = None
    decompte: str = "mise_a_disposition"


@dataclass(frozen=True)
class ConventionFile:
    """Everything the conventions YAML declares."""

    bailleur: Bailleur
    settings: Settings
    reservataires: tuple[Reservataire, ...]
    conventions: tuple[Convention, ...]
    programmes: tuple[Programme, ...] = ()
    config_version: str = ""
    source: str = "<conventions>"

    def reservataire(self, rid: str) -> Reservataire:
        if rid == BAILLEUR:
            return Reservataire(BAILLEUR, self.bailleur.nom, "BAILLEUR")
        for r in self.reservataires:
            if r.id == rid:
                return r
        raise KeyError(rid)

    def in_force(self, on: dt.date) -> tuple[Convention, ...]:
        return tuple(c for c in self.conventions if c.in_force(on))

    def delegated(self, on: dt.date) -> frozenset[str]:
        """Réservataires whose convention in force is in delegated management (the bailleur
        designates their candidates, flux.md §9)."""
        return frozenset(c.reservataire for c in self.in_force(on) if c.management == "delegue")

    def step_of(self, on: dt.date) -> dict[str, str]:
        """réservataire id → décompte step of its convention in force (bailleur included)."""
        out = {BAILLEUR: self.bailleur.decompte}
        for c in self.in_force(on):
            out.setdefault(c.reservataire, c.decompte)
        return out


# ----------------------------------------------------------------------------- YAML with lines

class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text (the schema checks them, we parse them)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_with_lines(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML into plain objects and a map from document path to 1-based line."""
    from cotation.data.yaml_input import YamlInputError, check_yaml_input
    try:
        check_yaml_input(text)
    except YamlInputError as exc:
        raise FluxInputError([Problem(source, exc.line, exc.message)]) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise FluxInputError([Problem(source, line, _("unreadable YAML: {problem}").format(problem=getattr(exc, "problem", exc)))]) from None
    lines: dict[tuple, int] = {}
    problems: list[Problem] = []

    def build(n: yaml.Node, path: tuple) -> Any:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for k_node, v_node in n.value:
                key = loader.construct_object(k_node)
                if key in out:
                    problems.append(Problem(source, k_node.start_mark.line + 1, _("key '{key}' given twice").format(key=key)))
                out[key] = build(v_node, path + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, path + (i,)) for i, v in enumerate(n.value)]
        value = loader.construct_object(n)
        if isinstance(value, float) and not math.isfinite(value):
            # YAML reads .nan, .inf and 1.0e400 as floats: the schema's bounds let NaN through
            # (every comparison with it is false), so a NaN max_taux_effort would drop the filter.
            where = ".".join(str(p) for p in path) or _("(root)")
            problems.append(Problem(source, lines[path], f"{where}: " + _("'{text}' is not a finite number").format(
                text=n.value)))
        return value

    try:
        data = build(node, ()) if node is not None else None
    finally:
        loader.dispose()
    if problems:
        raise FluxInputError(problems)
    return data, lines


def _line(lines: dict[tuple, int], path: tuple) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _unexpected_keys(err: jsonschema.ValidationError) -> list[str]:
    if err.validator != "additionalProperties" or not isinstance(err.instance, dict):
        return []
    allowed = set(err.schema.get("properties", {}))
    patterns = [re.compile(p) for p in err.schema.get("patternProperties", {})]
    return [k for k in err.instance if k not in allowed and not any(p.search(str(k)) for p in patterns)]


def _error_line(lines: dict[tuple, int], err: jsonschema.ValidationError) -> int:
    """Line of the offending node; for an unknown key, the line of that key."""
    path = tuple(err.absolute_path)
    extra = _unexpected_keys(err)
    return _line(lines, path + (extra[0],)) if extra else _line(lines, path)


def _schema_message(err: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in err.absolute_path) or _("(root)")
    if err.validator == "additionalProperties":
        keys = _unexpected_keys(err)
        return _("{where}: unknown key {keys}").format(
            where=where, keys=", ".join(repr(k) for k in keys) or err.message)
    if err.validator == "required":
        missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
        return _("{where}: missing required key {keys}").format(
            where=where, keys=", ".join(repr(k) for k in missing) or err.message)
    if err.validator in ("enum", "const"):
        return _("{where}: value {value!r} not allowed, expected {expected!r}").format(
            where=where, value=err.instance, expected=err.validator_value)
    if err.validator == "oneOf":
        return _("{where}: invalid value {value!r} (a number, 'p/q' or a boolean, depending on the "
                 "key)").format(where=where, value=err.instance)
    if err.validator == "type":
        expected = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        return _("{where}: {value!r} is not {expected}").format(
            where=where, value=err.instance,
            expected=_(" or ").join(_type_name(t) for t in expected))
    if err.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {"minimum": _("at least {bound}"), "exclusiveMinimum": _("more than {bound}"),
                 "maximum": _("at most {bound}"), "exclusiveMaximum": _("less than {bound}")}
        return _("{where}: {value!r} must be {bound}").format(
            where=where, value=err.instance,
            bound=words[err.validator].format(bound=err.validator_value))
    if err.validator == "pattern":
        return _("{where}: {value!r} is not written as expected ({pattern})").format(
            where=where, value=err.instance, pattern=err.validator_value)
    if err.validator in ("minItems", "minLength", "minProperties"):
        return _("{where} must not be empty").format(where=where)
    if err.validator == "uniqueItems":
        return _("{where} lists the same value twice").format(where=where)
    return f"{where}: {err.message}"


def _type_name(t: str) -> str:
    return {"string": _("text"), "integer": _("a whole number"), "number": _("a number"),
            "boolean": _("true or false"), "array": _("a list"), "object": _("a mapping"),
            "null": _("empty")}.get(t, t)


# ----------------------------------------------------------------------------- typed records

def parse_percentage(value: Any) -> Fraction:
    """Exact percentage: numbers via their decimal text, strings '12.5' or '15/84'."""
    if isinstance(value, bool):
        raise ValueError(_("a boolean instead of a percentage"))
    return Fraction(str(value))


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def _selector(d: dict | None) -> Selector:
    if not d:
        return Selector()
    return Selector(
        commune=frozenset(d["commune"]) if "commune" in d else None,
        qpv=d.get("qpv"),
        typologie=frozenset(d["typologie"]) if "typologie" in d else None,
        financement=frozenset(d["financement"]) if "financement" in d else None,
    )


def _settings(d: dict) -> Settings:
    rot = d.get("rotation", {})
    rotation = RotationSettings(
        method=rot.get("method", "rate"), numerator=rot.get("numerator", "departures"),
        exclude_departures=frozenset(rot.get("exclude_departures", ("MUTATION", "ANRU"))),
        base_date=rot.get("base_date", "end_of_prev_year"), window_years=rot.get("window_years", 1))
    cap = d.get("cap_collectivites_garantie", {})
    sous = tuple((k, v if isinstance(v, int) else ("mean", v["mean_years"]))
                 for k, v in d.get("soustractions", {}).items())
    disp = d.get("dispatch", {})
    dec = d.get("decompte", {})
    sl = d.get("shortlist", {})
    return Settings(
        qpv_reading=d.get("qpv_reading", "B"),
        cap_collectivites_enabled=cap.get("enabled", True),
        cap_collectivites_rate=parse_percentage(cap.get("rate", 20)),
        exclusions=tuple(d.get("exclusions", DEFAULT_EXCLUSIONS)),
        rotation=rotation, soustractions=sous,
        mes_in_flux=d.get("mes_in_flux", True), flux_rounding=d.get("flux_rounding", "floor"),
        report=d.get("report", False),
        segment_by=tuple(disp.get("segment_by", ())),
        enforce_segment_quotas=disp.get("enforce_segment_quotas", False), k=disp.get("k", 3),
        segment_rounding=disp.get("segment_rounding", "largest_remainder"),
        defaut_designation=dec.get("defaut_designation", True), refus_adapte=dec.get("refus_adapte", False),
        household_size=tuple((t, (a, b)) for t, (a, b) in sl.get("household_size", {}).items()),
        max_taux_effort=sl.get("max_taux_effort"), grid_merge=sl.get("fusion_grilles", "entrelacement"),
        step_by_management=tuple((dict(Settings.step_by_management) | dec.get("etape_par_gestion", {})).items()),
        deadline_roll=d.get("delais", {}).get("report_jour_non_ouvre", "aucun"),
    )


def parse_conventions(data: Any, lines: dict[tuple, int] | None = None,
                      source: str = "<conventions>") -> ConventionFile:
    """Validate a loaded document against the schema and build the typed records."""
    lines = lines or {}
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    problems = [Problem(source, _error_line(lines, e), _schema_message(e)) for e in errors]
    if problems:
        raise FluxInputError(problems)

    def loc(*path: Any) -> int:
        return _line(lines, tuple(path))

    settings = _settings(data.get("settings", {}))
    b = data["bailleur"]
    bailleur = Bailleur(b["id"], b["nom"], b.get("departement"), b.get("decompte", "mise_a_disposition"))
    reservataires: list[Reservataire] = []
    seen: dict[str, int] = {}
    for i, r in enumerate(data["reservataires"]):
        if r["id"] in seen or r["id"] == BAILLEUR:
            problems.append(Problem(source, loc("reservataires", i, "id"),
                                    _("réservataire '{id}' already declared or reserved for the "
                                      "bailleur").format(id=r["id"])))
        seen[r["id"]] = i
        reservataires.append(Reservataire(r["id"], r["nom"], r["type"], r.get("droits", True)))
    conventions: list[Convention] = []
    conv_ids: set[str] = set()
    for i, c in enumerate(data["conventions"]):
        at = ("conventions", i)
        if c["id"] in conv_ids:
            problems.append(Problem(source, loc(*at, "id"), _("convention '{id}' given twice").format(id=c["id"])))
        conv_ids.add(c["id"])
        if c["reservataire"] not in seen:
            problems.append(Problem(source, loc(*at, "reservataire"),
                                    _("unknown réservataire '{id}' (declare it under "
                                      "reservataires)").format(id=c["reservataire"])))
        forms = [k for k in ("percentage", "volume", "droits_uniques") if k in c]
        if not forms and "segments" not in c:
            problems.append(Problem(source, loc(*at), _("percentage, segments, volume or droits_uniques is required")))
        if len(forms) > 1:
            problems.append(Problem(source, loc(*at, forms[1]), _("{keys} exclude each other").format(keys=_(" and ").join(forms))))
        try:
            pct = parse_percentage(c.get("percentage", 0))
            segs = tuple(Segment(_selector(s["where"]), parse_percentage(s["percentage"]))
                         for s in c.get("segments", ()))
            garantie = c.get("garantie_emprunt")
            garantie_pct = (pct if garantie is True else None if garantie in (None, False)
                            else parse_percentage(garantie))
            requal = parse_percentage(c["requalification"]) if "requalification" in c else None
        except (ValueError, ZeroDivisionError) as exc:
            problems.append(Problem(source, loc(*at), _("unreadable percentage: {problem}").format(problem=exc)))
            continue
        checked = [(pct, ("percentage",))] + [(s.percentage, ("segments", j, "percentage"))
                                               for j, s in enumerate(segs)]
        for val, path in checked:
            if val > 100:
                problems.append(Problem(source, loc(*at, *path), _("percentage {value} > 100").format(value=val)))
        bad_date = False

        def date_at(value: str | None, *path: Any) -> dt.date | None:
            nonlocal bad_date
            try:
                return _date(value)
            except ValueError:
                problems.append(Problem(source, loc(*at, *path), _("invalid date: '{value}'").format(value=value)))
                bad_date = True
                return None
        dates = {k: date_at(c.get(k), k) for k in ("start", "end", "signed_on", "garantie_fin_pret")}
        derogs = tuple(Derogation(date_at(d["start"], "derogations", j, "start") or dt.date.min,
                                  date_at(d["end"], "derogations", j, "end") or dt.date.min,
                                  d.get("motif", ""), loc(*at, "derogations", j))
                       for j, d in enumerate(c.get("derogations", ())))
        if bad_date:
            continue
        if dates["start"] and dates["end"] and dates["end"] < dates["start"]:
            problems.append(Problem(source, loc(*at, "end"), _("end before the start of the convention")))
        for j, d in enumerate(derogs):
            if d.end < d.start:
                problems.append(Problem(source, loc(*at, "derogations", j), _("derogation: end before the start")))
        per = c.get("perimeter", {})
        kind = per.get("kind", "commune" if "communes" in per else "departement")
        conventions.append(Convention(
            id=c["id"], reservataire=c["reservataire"], percentage=pct,
            perimeter=Selector(commune=frozenset(per["communes"])) if "communes" in per else Selector(),
            perimeter_kind=kind, departement=per.get("departement"), segments=segs,
            decompte=c.get("decompte", dict(settings.step_by_management)[c.get("management", "direct")]),
            designation_delay_days=c.get("designation_delay_days", 30),
            management=c.get("management", "direct"), start=dates["start"], end=dates["end"],
            signed_on=dates["signed_on"], derogations=derogs,
            exclusions=_selector(c["exclusions"]) if "exclusions" in c else None,
            garantie_emprunt=garantie_pct, stipulations=frozenset(c.get("stipulations", ())),
            k=c.get("k", data.get("settings", {}).get("dispatch", {}).get("k", 3)), line=loc(*at),
            delais=tuple(Delai(d["nom"], d["type"], d["duree"], d["unite"], d.get("preavis_mois"),
                               d.get("origine"), loc(*at, "delais", j))
                         for j, d in enumerate(c.get("delais", ()))),
            volume=c.get("volume"),
            droits_uniques=(DroitsUniques(c["droits_uniques"]["total"], c["droits_uniques"]["annees"])
                            if "droits_uniques" in c else None),
            requalification=requal, garantie_fin_pret=dates["garantie_fin_pret"]))
    known = set(seen) | {BAILLEUR}
    programmes: list[Programme] = []
    for i, p in enumerate(data.get("programmes", ())):
        for rid in p["repartition"]:
            if rid not in known:
                problems.append(Problem(source, loc("programmes", i, "repartition", rid),
                                        _("unknown réservataire '{id}'").format(id=rid)))
        total = sum(p["repartition"].values())
        if total != len(p["logements"]):
            problems.append(Problem(source, loc("programmes", i, "repartition"),
                                    _("repartition of {total} logements for the {n} logements of "
                                      "the programme").format(total=total, n=len(p["logements"]))))
        programmes.append(Programme(p["id"], tuple(p["logements"]), tuple(p["repartition"].items()),
                                    loc("programmes", i)))
    if problems:
        raise FluxInputError(problems)
    return ConventionFile(bailleur, settings, tuple(reservataires),
                          tuple(conventions), tuple(programmes), data.get("config_version", ""), source)


def load_conventions(path: str | Path) -> ConventionFile:
    """Read and validate a conventions YAML file; raise FluxInputError with file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FluxInputError([Problem(str(path), 1, _("not UTF-8 text ({reason})").format(
            reason=exc.reason))]) from None
    data, lines = load_yaml_with_lines(text, str(path))
    return parse_conventions(data, lines, str(path))


def loads_conventions(text: str, source: str = "<conventions>") -> ConventionFile:
    data, lines = load_yaml_with_lines(text, source)
    return parse_conventions(data, lines, source)

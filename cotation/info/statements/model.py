"""The typed statement: exactly what the JSON form (``format: cotation-statement/1``) holds.

Each dataclass serialises to a JSON object whose keys are its fields, in the order declared
here; a field marked :data:`OMIT_NONE` is left out of the object when it is None (the JSON
form has no such key then). :func:`statement_json` writes a statement with the C JSON encoder;
:meth:`Statement.to_dict` gives the same content as plain dicts and lists.

English keys, French text: fields ending in ``text`` or ``note``, and ``title``, ``label``,
``rule``, ``caption``, ``question``, ``answer``, ``heading``, ``mark``, ``section``, ``notes``
hold the sentences the HTML shows. Scores and points are in points (floats), not hundredths.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import operator
from typing import Any, Callable

STATEMENT_FORMAT = "cotation-statement/1"

OMIT_NONE = {"omit_none": True}     # field metadata: no key in the JSON object when None


@functools.cache
def _converter(cls: type) -> Callable[[Any], dict[str, Any]]:
    """obj -> one level of it as a dict (values left as they are), keys in field order."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    omit = frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("omit_none"))
    values = operator.attrgetter(*names)
    if not omit:
        return lambda obj: dict(zip(names, values(obj)))
    return lambda obj: {k: v for k, v in zip(names, values(obj)) if not (v is None and k in omit)}


def _object(obj: Any) -> dict[str, Any]:
    return _converter(type(obj))(obj)


def _plain(x: Any) -> Any:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {k: _plain(v) for k, v in _object(x).items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _default(obj: Any) -> dict[str, Any]:
    if isinstance(obj, _Part):
        return _object(obj)
    raise TypeError(f"not part of a statement: {type(obj).__name__}")


class _Part:
    """Shared by every part of a statement: its JSON form as plain data."""
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclasses.dataclass(slots=True)
class Reference(_Part):
    date: str
    date_text: str
    grid_id: str
    grid_title: str
    grid_version: str
    grid_hash: str
    grid_effective_from: str
    territory: str | None
    epci_siren: str | None
    text: str
    footer_text: str


@dataclasses.dataclass(slots=True, frozen=True)
class CommuneChoice(_Part):
    code: str
    name: str | None
    rang: int


@dataclasses.dataclass(slots=True)
class DemandeInfo(_Part):
    date_depot: str
    anciennete_mois: int
    est_mutation: bool | None
    kind_text: str | None
    typologies: list[str]
    communes: list[CommuneChoice]
    text: str


@dataclasses.dataclass(slots=True, frozen=True)
class SummaryItem(_Part):
    question: str
    answer: str


@dataclasses.dataclass(slots=True)
class ScoreLine(_Part):
    """The points for one commune of the demande (provisional and validated)."""
    commune: str
    commune_name: str | None
    rang: int
    score: float
    score_valide: float
    text: str | None                   # None when one total line says it all
    bound_text: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass(slots=True)
class GroupAdjustment(_Part):
    group: str
    communes: list[str]
    points: float
    counted: float
    text: str
    delta_text: str


@dataclasses.dataclass(slots=True, frozen=True)
class Histogram(_Part):
    edges: list[float]
    counts: list[int]
    own_bin: int
    caption: str


@dataclasses.dataclass(slots=True, frozen=True)
class Waiting(_Part):
    """Waiting times observed in the cell of leases that matches a position."""
    cell_key: str
    cell_text: str
    fallback: bool
    n_attributions: int
    window_months: int
    window_start: str
    window_end_exclusive: str
    shown: bool
    mean_days: float | None
    median_days: float | None
    mean_months: float | None
    median_months: float | None
    text: str
    fallback_text: str | None


@dataclasses.dataclass(slots=True, frozen=True)
class DelaiLong(_Part):
    threshold_months: int
    anciennete_mois: int
    exceeded: bool
    text: str


@dataclasses.dataclass(slots=True)
class Position(_Part):
    """Rank of the demande among comparable demandes, for one commune × typologie."""
    commune: str
    commune_name: str | None
    typologie: str | None
    heading: str
    score: float
    score_valide: float
    score_text: str
    rank: int
    of: int
    n_above: int
    share_above: float
    decile: int
    cell_key: str
    cell_text: str
    fallback: bool
    fallback_text: str | None
    text: str
    histogram: Histogram | None
    histogram_note: str | None
    waiting: Waiting
    delai_anormalement_long: DelaiLong | None
    # What a refusal of an adapted offer would do today (None when the grid ignores refusals).
    refusal_score: float | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    refusal_n_above: int | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    refusal_text: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass(slots=True, frozen=True)
class Outcome(_Part):
    """The demandeur's status on one criterion (for one commune, or all when ``commune`` is None)."""
    commune: str | None
    status: str                        # met, not_met, awaiting_validation, set_aside
    status_text: str
    points: float
    counted: float
    counted_valide: float
    counted_text: str


@dataclasses.dataclass(slots=True, frozen=True)
class Criterion(_Part):
    """A criterion of the grid with its rule in words, and the demandeur's outcomes."""
    id: str
    label: str
    section: str
    rule: str
    validation: str
    validation_text: str
    group: str | None
    group_mark: str | None
    legal_priority: Any
    refusal_effect: Any
    outcomes: tuple[Outcome, ...] = ()
    values_text: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)   # values read
    missing_text: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)  # empty fields

    @property
    def not_met(self) -> bool:
        """Not met for any commune, and not for want of information (listed compactly)."""
        return self.missing_text is None and all(o.status == "not_met" for o in self.outcomes)


@dataclasses.dataclass(slots=True, frozen=True)
class Group(_Part):
    id: str
    mark: str
    label: str
    policy: str
    rule: str


@dataclasses.dataclass(slots=True, frozen=True)
class RefusalItem(_Part):
    id: str
    label: str
    commune: str | None
    points: float
    text: str


@dataclasses.dataclass(slots=True)
class Refusal(_Part):
    policy: str | None
    criteria: list[RefusalItem]
    text: str
    effect_text: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)   # for this demande


@dataclasses.dataclass(slots=True)
class Statement(_Part):
    """One demande's statement; :func:`statement_json` is its JSON form."""
    format: str
    title: str
    numero_unique: str
    reference: Reference
    demande: DemandeInfo
    summary: list[SummaryItem]
    scores: list[ScoreLine]
    group_adjustments: list[GroupAdjustment]
    total_text: str | None
    scores_text: str
    positions: list[Position]
    ordering_text: str
    decile_text: str
    waiting_note: str
    criteria: list[Criterion]
    groups: list[Group]
    status_text: str
    refusal: Refusal
    notes: list[str]
    privacy_text: str
    # The positions table's notes: whom the rank compares with, and the cells of leases whose
    # waiting times the table shows ([1], [2]…: ``waiting_refs`` gives each position's number).
    positions_note: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    waiting_cells_text: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    waiting_refs: list[int] = dataclasses.field(default_factory=list)
    histogram_hidden_text: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)


def statement_json(doc: Statement) -> str:
    """Compact UTF-8 JSON (the C encoder: an indented dump costs more than building the doc)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_default) + "\n"

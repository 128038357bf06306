"""Logements (RPLS-like) and vacancy events CSV files: strict readers and canonical writers.

A bad row is never skipped: the reader collects every problem, each ``file:line: colonne …``,
and raises :class:`FluxInputError` once the whole file has been read.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path
from typing import Callable, Iterable, Sequence

from cotation.data.values import MAX_MAGNITUDE, is_insee_text, is_number_text
from cotation.flux.errors import FluxInputError, Problem
from cotation.i18n import N_, _
from cotation.flux.model import (
    CATEGORIES, DECISIONS, DEPART_MOTIFS, EVENT_TYPES, EXCLUSION_CODES, FINANCEMENTS, ORIGINES,
    SOUSTRACTION_CODES, STATUTS, ZONES, Evenement, Logement, normalise_typologie
)

LOGEMENT_COLUMNS = ("id", "commune", "qpv", "typologie", "financement", "category", "status",
                    "mise_en_service", "sortie", "exclusion", "autorisation_date", "zone", "pmr",
                    "loyer")
LOGEMENT_REQUIRED = ("id", "commune", "qpv", "typologie", "financement")
# Optional stock-inventory columns: written only when some logement carries them, so files
# without them keep their exact shape.
LOGEMENT_OPTIONAL = ("reservataire_stock", "collectif")
EVENT_COLUMNS = ("vacance_id", "logement_id", "date", "evenement", "reservataire", "candidat",
                 "decision", "motif", "origine", "soustraction", "adapte")
EVENT_REQUIRED = ("vacance_id", "logement_id", "date", "evenement")
EVENT_OPTIONAL = ("preavis_mois",)
# Events that must name the réservataire concerned.
_NEEDS_RESERVATAIRE = frozenset({"MISE_A_DISPOSITION", "DEFAUT_DESIGNATION", "RETOUR_BAILLEUR"})

_TRUE = {"true", "1", "oui", "o", "yes", "vrai"}
_FALSE = {"false", "0", "non", "n", "no", "faux", ""}


class _Cell(ValueError):
    pass


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _Cell(_("'{text}' is not a boolean (true/false)").format(text=text))


def _date(text: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _Cell(_("'{text}' is not a date YYYY-MM-DD").format(text=text)) from None


def _code(text: str, allowed: Sequence[str], what: str, default: str | None = None) -> str | None:
    text = text.strip()
    if not text:
        return default
    if text not in allowed:
        raise _Cell(_("'{text}' is not a known {what} ({allowed})").format(
            text=text, what=_(what), allowed=", ".join(allowed)))
    return text


def _commune(text: str) -> str:
    t = text.strip()
    if not is_insee_text(t):     # the canonical readers' rule: ASCII digits, 2A/2B for Corsica
        raise _Cell(_("'{text}' is not an INSEE commune code").format(text=text))
    return t


def _amount(text: str) -> float | None:
    """A non-negative amount (a rent): a finite decimal with a dot, as in the canonical demandes
    (no 'nan', 'inf', '1_000' or '1,5'); ``None`` when the cell is empty."""
    t = text.strip()
    if not t:
        return None
    if not is_number_text(t):
        raise _Cell(_("'{text}' is not a decimal number (dot separator)").format(text=text))
    value = float(t)
    if not math.isfinite(value) or value > MAX_MAGNITUDE:
        raise _Cell(_("'{text}' is not a finite number in range").format(text=text))
    if value < 0:
        raise _Cell(_("'{text}' is negative: an amount of 0 or more is expected").format(text=text))
    return value + 0.0     # -0.0 reads as 0.0


def _header(reader: Iterable[list[str]], source: str, required: Sequence[str],
            known: Sequence[str]) -> list[str]:
    try:
        header = [h.strip() for h in next(iter(reader))]
    except StopIteration:
        raise FluxInputError([Problem(source, 1, _("empty file, expected a header row"))]) from None
    problems = []
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(Problem(source, 1, _("missing required column(s): {names}").format(names=", ".join(missing))))
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        problems.append(Problem(source, 1, _("duplicated column(s): {names}").format(names=", ".join(dup))))
    unknown = [h for h in header if h not in known]
    if unknown:
        problems.append(Problem(source, 1, _("unknown column(s): {names} (expected: {known})").format(
            names=", ".join(unknown), known=", ".join(known))))
    if problems:
        raise FluxInputError(problems)
    return header


def _rows(fh: io.TextIOBase, source: str, required: Sequence[str], known: Sequence[str]):
    reader = csv.reader(fh)
    header = _header(reader, source, required, known)
    for record in reader:
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        line = reader.line_num
        if len(record) != len(header):
            yield line, None, _("{n} cells, header has {m}").format(n=len(record), m=len(header))
            continue
        row = dict(zip(header, record))
        for c in known:
            row.setdefault(c, "")
        yield line, row, None


def _read(path: str | Path | io.TextIOBase, source: str | None,
          fn: Callable[[io.TextIOBase, str], list]) -> list:
    if isinstance(path, (str, Path)):
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                return fn(fh, source or str(path))
        except UnicodeDecodeError as exc:
            raise FluxInputError([Problem(source or str(path), 1, _(
                "not UTF-8 text ({reason})").format(reason=exc.reason))]) from None
    return fn(path, source or "<flux>")


# ----------------------------------------------------------------------------- logements

def read_logements(path: str | Path | io.TextIOBase, source: str | None = None) -> list[Logement]:
    """Read the logements CSV (columns :data:`LOGEMENT_COLUMNS`)."""
    return _read(path, source, _read_logements)


def _read_logements(fh: io.TextIOBase, source: str) -> list[Logement]:
    out: list[Logement] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, row, err in _rows(fh, source, LOGEMENT_REQUIRED, LOGEMENT_COLUMNS + LOGEMENT_OPTIONAL):
        if err:
            problems.append(Problem(source, line, err))
            continue
        col = ""
        try:
            col = "id"
            lid = row["id"].strip()
            if not lid:
                raise _Cell(_("empty id"))
            if lid in seen:
                raise _Cell(_("logement '{id}' given twice (first at line {line})").format(id=lid, line=seen[lid]))
            col = "commune"
            commune = _commune(row["commune"])
            col = "qpv"
            qpv = _bool(row["qpv"]) if row["qpv"].strip() else None
            if qpv is None:
                raise _Cell(_("qpv is required (true/false)"))
            col = "typologie"
            typ = normalise_typologie(row["typologie"])
            if typ is None:
                raise _Cell(_("'{text}' is not a typologie (chambre, T1…T5, T6P)").format(text=row["typologie"]))
            col = "financement"
            fin = _code(row["financement"], FINANCEMENTS, N_("financement"))
            if fin is None:
                raise _Cell(_("financement is required"))
            col = "category"
            cat = _code(row["category"], CATEGORIES, N_("category"), "familial")
            col = "status"
            status = _code(row["status"], STATUTS, N_("status"), "en_service")
            col = "mise_en_service"
            mes = _date(row["mise_en_service"])
            col = "sortie"
            sortie = _date(row["sortie"])
            col = "exclusion"
            excl = _code(row["exclusion"], EXCLUSION_CODES, N_("exclusion code"))
            col = "autorisation_date"
            auth = _date(row["autorisation_date"])
            col = "zone"
            zone = _code(row["zone"], ZONES, N_("ceilings zone"))
            col = "pmr"
            pmr = _bool(row["pmr"])
            col = "loyer"
            loyer = _amount(row["loyer"])
            col = "reservataire_stock"
            stock = row["reservataire_stock"].strip() or None
            col = "collectif"
            coll = _bool(row["collectif"]) if row["collectif"].strip() else None
        except _Cell as exc:
            problems.append(Problem(source, line, str(exc), col))
            continue
        seen[lid] = line
        out.append(Logement(lid, commune, qpv, typ, fin, cat, status, mes, sortie, excl, auth, zone,
                            pmr, loyer, line, stock, coll))
    if problems:
        raise FluxInputError(problems)
    return out


def write_logements(logements: Iterable[Logement], path: str | Path | io.TextIOBase) -> None:
    def cell(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)
    logements = list(logements)
    cols = LOGEMENT_COLUMNS + tuple(c for c in LOGEMENT_OPTIONAL
                                    if any(getattr(lg, c) is not None for lg in logements))
    rows = ([cell(getattr(lg, c)) for c in cols] for lg in logements)
    _write(path, cols, rows)


# ----------------------------------------------------------------------------- events

def read_evenements(path: str | Path | io.TextIOBase, source: str | None = None, *,
                    logements: dict[str, Logement] | None = None,
                    reservataires: set[str] | None = None) -> list[Evenement]:
    """Read the vacancy events CSV; check references to logements and réservataires if given."""
    return _read(path, source, lambda fh, src: _read_events(fh, src, logements, reservataires))


def _read_events(fh: io.TextIOBase, source: str, logements: dict[str, Logement] | None,
                 reservataires: set[str] | None) -> list[Evenement]:
    out: list[Evenement] = []
    problems: list[Problem] = []
    vac_logement: dict[str, tuple[str, int]] = {}
    liberation: dict[str, int] = {}
    for line, row, err in _rows(fh, source, EVENT_REQUIRED, EVENT_COLUMNS + EVENT_OPTIONAL):
        if err:
            problems.append(Problem(source, line, err))
            continue
        col = ""
        try:
            col = "vacance_id"
            vid = row["vacance_id"].strip()
            if not vid:
                raise _Cell(_("empty vacance_id"))
            col = "logement_id"
            lid = row["logement_id"].strip()
            if logements is not None and lid not in logements:
                raise _Cell(_("logement '{id}' is not in the logements file").format(id=lid))
            if vid in vac_logement and vac_logement[vid][0] != lid:
                raise _Cell(_("the vacance '{vid}' is about '{lid}' (line {line})").format(
                    vid=vid, lid=vac_logement[vid][0], line=vac_logement[vid][1]))
            col = "date"
            date = _date(row["date"])
            if date is None:
                raise _Cell(_("date is required"))
            col = "evenement"
            typ = _code(row["evenement"], EVENT_TYPES, N_("event type"))
            if typ is None:
                raise _Cell(_("event type is required"))
            col = "reservataire"
            rid = row["reservataire"].strip() or None
            if rid is None and typ in _NEEDS_RESERVATAIRE:
                raise _Cell(_("{event} must name the réservataire").format(event=typ))
            if rid is not None and reservataires is not None and rid not in reservataires:
                raise _Cell(_("réservataire '{id}' is not in the conventions").format(id=rid))
            col = "decision"
            decision = _code(row["decision"], DECISIONS, N_("CALEOL decision"))
            if typ == "PRESENTATION_CALEOL" and decision is None:
                raise _Cell(_("PRESENTATION_CALEOL must carry the CALEOL's decision"))
            col = "motif"
            motif = row["motif"].strip() or None
            if typ == "LIBERATION" and motif is not None:
                _code(motif, DEPART_MOTIFS, N_("reason for leaving"))
            col = "origine"
            origine = _code(row["origine"], ORIGINES, N_("origin"))
            if typ == "LIBERATION" and origine is None:
                origine = "ROTATION"
            col = "soustraction"
            sous = _code(row["soustraction"], SOUSTRACTION_CODES, N_("soustraction category"))
            col = "adapte"
            adapte = _bool(row["adapte"])
            col = "preavis_mois"
            preavis = _code(row["preavis_mois"], ("1", "2", "3"), N_("notice in months"))
            if typ == "LIBERATION":
                if vid in liberation:
                    raise _Cell(_("second LIBERATION of the vacance '{vid}' (first at line {line})").format(vid=vid, line=liberation[vid]))
                liberation[vid] = line
        except _Cell as exc:
            problems.append(Problem(source, line, str(exc), col))
            continue
        vac_logement.setdefault(vid, (lid, line))
        out.append(Evenement(vid, lid, date, typ, rid, row["candidat"].strip() or None, decision,
                             motif, origine, sous, adapte, line, None if preavis is None else int(preavis)))
    if problems:
        raise FluxInputError(problems)
    return out


def write_evenements(events: Iterable[Evenement], path: str | Path | io.TextIOBase) -> None:
    def cell(e: Evenement, c: str) -> str:
        v = e.date.isoformat() if c == "date" else getattr(e, "type" if c == "evenement" else c)
        if isinstance(v, bool):
            return "true" if v else ""
        return "" if v is None else str(v)
    events = list(events)
    cols = EVENT_COLUMNS + tuple(c for c in EVENT_OPTIONAL if any(getattr(e, c) is not None for e in events))
    _write(path, cols, ([cell(e, c) for c in cols] for e in events))


def _write(path: str | Path | io.TextIOBase, header: Sequence[str], rows: Iterable[list[str]]) -> None:
    def go(fh: io.TextIOBase) -> None:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    if isinstance(path, (str, Path)):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            go(fh)
    else:
        go(path)


def by_vacancy(events: Iterable[Evenement]) -> dict[str, list[Evenement]]:
    """Group events per vacancy, each list in (date, source line) order."""
    out: dict[str, list[Evenement]] = {}
    for e in events:
        out.setdefault(e.vacance_id, []).append(e)
    for lst in out.values():
        lst.sort(key=lambda e: (e.date, e.line))
    return out

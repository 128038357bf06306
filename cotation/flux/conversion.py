"""Stock → flux conversion (flux.md §6) and the état des réservations tables it starts from.

An imported table whose totals do not add up is reported cell by cell, never fixed: the
percentages use the totals as stated, so the report and the figures stay traceable.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Mapping

from cotation.flux.conventions import ConventionFile
from cotation.flux.errors import FluxInputError, Issue, Problem
from cotation.i18n import _


def strict_share(stock: Mapping[str, int]) -> dict[str, Fraction]:
    """Method 1: flux % = share of the reserved stock (25 of 100 → 25 %)."""
    total = sum(stock.values())
    return {k: Fraction(100 * v, total) for k, v in stock.items()}


def rotation_weighted(stock: Mapping[str, int], rotation: Mapping[str, Fraction]) -> dict[str, Fraction]:
    """Method 2: weight = stock × rotation of that contingent."""
    w = {k: stock[k] * Fraction(rotation[k]) for k in stock}
    total = sum(w.values(), Fraction(0))
    return {k: 100 * v / total for k, v in w.items()}


def droits_uniques(stock: int, rotation: Fraction, years_left: int) -> Fraction:
    """Method 3, product formula: stock × rotation × years left on the convention."""
    return stock * Fraction(rotation) * years_left


def droits_uniques_rate(droits_par_an: Fraction | int, attributions_par_an: int) -> Fraction:
    """Yearly droits uniques as a percentage of the year's attributions (10 / 100 → 10 %)."""
    return Fraction(100) * Fraction(droits_par_an) / attributions_par_an


def resolve_quantities(cf: ConventionFile, flux_net: int) -> ConventionFile:
    """The conventions file with volume-based and droits-uniques conventions turned into
    percentages of ``flux_net`` (volume ÷ flux; droits par an ÷ flux, flux.md §6 method 3).

    A zero flux leaves them at 0 %.
    """
    convs = []
    for c in cf.conventions:
        per_year = (Fraction(c.volume) if c.volume is not None
                    else c.droits_uniques.per_year if c.droits_uniques is not None else None)
        if per_year is not None:
            c = replace(c, percentage=droits_uniques_rate(per_year, flux_net) if flux_net else Fraction(0))
        convs.append(c)
    return replace(cf, conventions=tuple(convs))


@dataclass(frozen=True)
class ReservationTable:
    """One réservataire's reservations by financement × typologie, with its stated totals."""

    reservataire: str
    columns: tuple[str, ...]
    rows: dict[str, tuple[int, ...]]
    row_totals: dict[str, int]
    column_totals: tuple[int, ...]
    total: int
    lines: dict[str, int]


def check_totals(table: ReservationTable) -> list[Issue]:
    """TOTAL_INCOHERENT for every row, column and grand total that does not add up."""
    issues: list[Issue] = []

    def report(kind: str, label: str, computed: int, stated: int, line: int) -> None:
        where = {"ligne": _("the row {label}"), "colonne": _("the column {label}"),
                 "total": _("the grand total")}[kind].format(label=label)
        issues.append(Issue("TOTAL_INCOHERENT", "error",
                            _('Réservataire {reservataire}: {where} adds up to {computed}, the total given is {stated}. The table is not corrected: check it at the source.').format(reservataire=table.reservataire, where=where, computed=computed, stated=stated),
                            {"reservataire": table.reservataire, "kind": kind, "label": label,
                             "calcule": computed, "indique": stated, "ligne_source": line}))

    for fin, cells in table.rows.items():
        if sum(cells) != table.row_totals[fin]:
            report("ligne", fin, sum(cells), table.row_totals[fin], table.lines[fin])
    for j, col in enumerate(table.columns):
        s = sum(cells[j] for cells in table.rows.values())
        if s != table.column_totals[j]:
            report("colonne", col, s, table.column_totals[j], table.lines["TOTAL"])
    grand = sum(sum(cells) for cells in table.rows.values())
    if grand != table.total:
        report("total", "TOTAL", grand, table.total, table.lines["TOTAL"])
    return issues


def _count_text(cell: str) -> str:
    """A count as written in an état des réservations: thousands may be grouped by spaces."""
    return cell.strip().replace(" ", "").replace("\u202f", "").replace("\u00a0", "")


def _count_problem(cell: str) -> str:
    """Why a cell is not a count (ASCII digits, 0 or more), or ``""``."""
    text = _count_text(cell)
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        return _("'{text}' is negative: a count of 0 or more is expected").format(text=cell.strip())
    if not (text.isascii() and text.isdigit()):
        return _("'{text}' is not a whole number").format(text=cell.strip())
    if len(text.lstrip("0")) > 15:         # beyond any stock (and int() refuses 4,300 digits)
        return _("'{text}' is out of range").format(text=cell.strip()[:24])
    return ""


def read_reservation_tables(path: str | Path | io.TextIOBase, source: str | None = None) -> list[ReservationTable]:
    """Read ``reservataire,financement,<typologies…>,TOTAL`` rows; a ``TOTAL`` financement row
    carries the column totals of its réservataire."""
    if isinstance(path, (str, Path)):
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return read_reservation_tables(fh, source or str(path))
    source = source or "<etat>"
    reader = csv.reader(path)
    header = [h.strip() for h in next(reader, [])]
    if len(header) < 4 or header[:2] != ["reservataire", "financement"] or header[-1] != "TOTAL":
        raise FluxInputError([Problem(source, 1, _('expected header: reservataire,financement,<typologies…>,TOTAL'))])
    cols = tuple(header[2:-1])
    problems: list[Problem] = []
    raw: dict[str, dict] = {}
    for rec in reader:
        if not rec or not any(c.strip() for c in rec):
            continue
        line = reader.line_num
        if len(rec) != len(header):
            problems.append(Problem(source, line, _("{n} cells, header has {m}").format(n=len(rec), m=len(header))))
            continue
        bad = [Problem(source, line, msg, header[j]) for j in range(2, len(rec)) if (msg := _count_problem(rec[j]))]
        if bad:
            problems += bad
            continue
        nums = [int(_count_text(c)) for c in rec[2:]]
        t = raw.setdefault(rec[0].strip(), {"rows": {}, "tot": {}, "lines": {}, "total_row": None})
        fin = rec[1].strip()
        if fin in t["lines"]:
            problems.append(Problem(source, line, _("row {financement} given twice for {reservataire} (first at "
                                                    "line {line})").format(financement=fin,
                                                                           reservataire=rec[0].strip(),
                                                                           line=t["lines"][fin])))
            continue
        t["lines"][fin] = line
        if fin == "TOTAL":
            t["total_row"] = nums
        else:
            t["rows"][fin] = tuple(nums[:-1])
            t["tot"][fin] = nums[-1]
    for rid, t in raw.items():
        if t["total_row"] is None:
            problems.append(Problem(source, min(t["lines"].values()),
                                    _("no TOTAL row for {reservataire}").format(reservataire=rid)))
    if problems:
        raise FluxInputError(problems)
    return [ReservationTable(rid, cols, t["rows"], t["tot"], tuple(t["total_row"][:-1]), t["total_row"][-1],
                             t["lines"]) for rid, t in raw.items()]

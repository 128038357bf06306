"""Information statements owed to each demandeur (CCH R441-2-10, domain.md §2.3).

A statement is one document per demande, built in two steps so that its JSON and HTML forms
carry the same content by construction:

1. :func:`build_statement` turns the demande's own figures and the aggregates of its cells into
   a plain dict (the JSON form) holding every sentence shown to the demandeur, in French;
2. :func:`render_html` lays that dict out as a print-ready A4 page (inline CSS, inline SVG, no
   external asset, no script) and adds no fact of its own.

Privacy: a statement reads only its demande's row of the ScoreTable, its positioning rows, and
aggregates of cells (sizes, counts, histograms of cells of at least 5 demandes, waiting-time
statistics of at least 5 leases). It never receives another demande's identifier.

JSON layout (``format: cotation-statement/1``; English keys, French text): ``reference`` (grid
id, version, hash, reference date), ``demande`` (the demandeur's own deposit date, typologies,
communes), ``summary`` (four questions and answers), ``scores`` (per commune, provisional and
validated), ``positions`` (per commune × typologie: rank, size, share above, decile, cell key
and its description, histogram or the reason it is hidden, ``waiting`` block, délai
anormalement long), ``criteria`` (every criterion of the grid with its rule in words and the
demandeur's status and points, per commune when they differ), ``groups``,
``group_adjustments``, ``refusal`` and the explanatory notes. Keys ending in ``text``, ``note``,
``label``, ``rule``… hold the sentences the HTML shows.

Bulk mode scores and positions once in the main process, then renders chunks of demandes in
worker processes; output files are named after the numero unique, so the bytes do not depend on
the number of workers. Nothing reads the wall clock.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import json
import os
import re
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from cotation.grid import ir
from cotation.grid.evaluate import round_hundredths
from cotation.info.positioning import HISTOGRAM_MIN_CELL, Positioning, WaitingStats, format_fraction
from cotation.data.schema import COLUMNS_BY_NAME, DERIVED_BY_NAME

STATEMENT_FORMAT = "cotation-statement/1"
WAITING_MIN_LEASES = 5      # privacy: fewer leases would reveal individual waits

# ================================================================================ French text

_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre")
NBSP = "\u00a0"
MINUS = "\u2212"


def date_fr(d: dt.date | str) -> str:
    """A date as written in a French letter.

    >>> date_fr(dt.date(2025, 3, 1)), date_fr('2024-12-15')
    ('1er mars 2025', '15 décembre 2024')
    """
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {_MONTHS[d.month - 1]} {d.year}"


def points_fr(h: int, signed: bool = False) -> str:
    """Integer hundredths in French notation, decimals only when needed.

    >>> points_fr(14350), points_fr(12000), points_fr(-2000), points_fr(1225, signed=True)
    ('143,5', '120', '−20', '+12,25')
    """
    h = int(h)
    sign = MINUS if h < 0 else ("+" if signed and h > 0 else "")
    whole, frac = divmod(abs(h), 100)
    text = f"{whole:,}".replace(",", NBSP)
    if frac:
        text += "," + f"{frac:02d}".rstrip("0")
    return sign + text


def unit_points(h: int) -> str:
    """'point' is singular below 2 in French."""
    return "point" if abs(int(h)) < 200 else "points"


def number_fr(x: Any) -> str:
    """A grid constant in French notation.

    >>> number_fr(0.3), number_fr(240.0), number_fr(12)
    ('0,3', '240', '12')
    """
    if isinstance(x, bool):
        return "oui" if x else "non"
    if isinstance(x, (int, float)):
        sign = MINUS if x < 0 else ""
        x = abs(x)
        if float(x).is_integer():
            return sign + f"{int(x):,}".replace(",", NBSP)
        return sign + f"{float(x):.6f}".rstrip("0").replace(".", ",")
    if isinstance(x, dt.date):
        return date_fr(x)
    return str(x)


def decimal_fr(q: Fraction, digits: int = 1) -> str:
    return format_fraction(q, digits).replace(".", ",").replace("-", MINUS)


def ordinal_fr(n: int) -> str:
    """Feminine ordinal (« la demande »): 1re, 2e…"""
    return "1re" if n == 1 else f"{n}e"


def percent_fr(q: Fraction) -> str:
    """A share as a whole percentage (non-breaking space before %).

    >>> percent_fr(Fraction(1, 3)), percent_fr(Fraction(1, 1000)), percent_fr(Fraction(0))
    ('33\xa0%', 'moins de 1\xa0%', '0\xa0%')
    """
    if 0 < q < Fraction(1, 200):
        return f"moins de 1{NBSP}%"
    return f"{format_fraction(q * 100, 0)}{NBSP}%"


def _plural(n: int, one: str, many: str) -> str:
    return one if n <= 1 else many


# ================================================================================ grid in words

_LOC_FR = {"commune": "la commune demandée", "rang": "le rang de ce choix", "epci": "le territoire"}
_OP_FR = {"+": "+", "-": MINUS, "*": "×", "/": "÷"}
_CMP_FR = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def field_label(name: str, grid: ir.GridIR) -> str:
    if name in COLUMNS_BY_NAME and COLUMNS_BY_NAME[name].label:
        return COLUMNS_BY_NAME[name].label
    if name in DERIVED_BY_NAME:
        return DERIVED_BY_NAME[name].label
    for f in grid.local_fields:
        if f.name == name:
            return f.label or name.replace("_", " ")
    return name.replace("_", " ")


def expr_fr(e: ir.Expr, grid: ir.GridIR, top: bool = True) -> str:
    """A readable French rendering of a grid expression (for the points rule of a criterion)."""
    if isinstance(e, ir.Const):
        return number_fr(e.value)
    if isinstance(e, ir.Ref):
        return field_label(e.name, grid)
    if isinstance(e, ir.LocRef):
        return _LOC_FR.get(e.name, e.name)
    if isinstance(e, ir.Today):
        return "la date de référence"
    if isinstance(e, ir.Neg):
        return MINUS + expr_fr(e.operand, grid, False)
    if isinstance(e, ir.Arith):
        text = f"{expr_fr(e.left, grid, False)} {_OP_FR[e.op]} {expr_fr(e.right, grid, False)}"
        return text if top else f"({text})"
    if isinstance(e, ir.Compare):
        return f"{expr_fr(e.left, grid, False)} {_CMP_FR[e.op]} {expr_fr(e.right, grid, False)}"
    if isinstance(e, ir.If):
        return (f"si {expr_fr(e.cond, grid)} alors {expr_fr(e.then, grid)} "
                f"sinon {expr_fr(e.otherwise, grid)}")
    if isinstance(e, ir.Call):
        a = [expr_fr(x, grid) for x in e.args]
        if e.fn in ("months_between", "years_between", "days_between"):
            unit = {"months_between": "mois", "years_between": "années", "days_between": "jours"}[e.fn]
            if isinstance(e.args[1], ir.Today):
                return f"nombre de {unit} écoulés depuis : {a[0]}"
            return f"nombre de {unit} entre {a[0]} et {a[1]}"
        if e.fn == "min":
            return "le plus petit de : " + " ; ".join(a)
        if e.fn == "max":
            return "le plus grand de : " + " ; ".join(a)
        if e.fn == "coalesce":
            return f"{a[0]} (à défaut : {' ; '.join(a[1:])})"
        if e.fn == "clamp":
            return f"{a[0]}, entre {a[1]} et {a[2]}"
        if e.fn == "round":
            return f"{a[0]} arrondi"
        if e.fn == "floor":
            return f"partie entière de {a[0]}"
        if e.fn == "abs":
            return f"valeur absolue de {a[0]}"
        return f"{e.fn}({', '.join(a)})"
    if isinstance(e, (ir.And, ir.Or)):
        word = " et " if isinstance(e, ir.And) else " ou "
        return expr_fr(e.left, grid, False) + word + expr_fr(e.right, grid, False)
    if isinstance(e, ir.Not):
        return "non " + expr_fr(e.operand, grid, False)
    return "(formule de la grille)"


def _const_value(e: ir.Expr) -> Any:
    return e.value if isinstance(e, ir.Const) else None


def _points_phrase(e: ir.Expr, grid: ir.GridIR) -> str:
    v = _const_value(e)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        h = round(float(v) * 100)
        return f"{points_fr(h)} {unit_points(h)}"
    return f"points = {expr_fr(e, grid)}"


def _is_rate(e: ir.Expr | None) -> bool:
    return isinstance(e, ir.Ref) and e.name == "taux_effort"


def _bound_fr(x: float, rate: bool) -> str:
    if rate:
        return number_fr(round(x * 100, 6)) + NBSP + "%"
    return number_fr(x)


def rule_fr(c: ir.CriterionIR, grid: ir.GridIR) -> str:
    """The points rule of a criterion in words: '80 points', 'selon le taux d'effort : …'."""
    if c.band_of is not None:
        rate = _is_rate(c.band_of)
        parts = []
        for s in c.bands:
            if s.low is None and s.high is None:
                cond = "quelle que soit la valeur"
            elif s.low is None:
                cond = f"moins de {_bound_fr(s.high, rate)}"
            elif s.high is None:
                cond = f"{_bound_fr(s.low, rate)} ou plus"
            else:
                cond = f"de {_bound_fr(s.low, rate)} à moins de {_bound_fr(s.high, rate)}"
            parts.append(f"{cond} : {_points_phrase(s.points, grid)}")
        text = f"selon {expr_fr(c.band_of, grid)} — " + " ; ".join(parts)
    else:
        text = _points_phrase(c.points, grid)
    extra = []
    if c.floor is not None:
        extra.append(f"au moins {number_fr(c.floor)}")
    if c.cap is not None:
        extra.append(f"au plus {number_fr(c.cap)}")
    if extra:
        text += " (" + ", ".join(extra) + ")"
    if c.weight != 1:
        text += f", multiplié par {number_fr(c.weight)}"
    return text


VALIDATION_FR = {
    "automatique": "",
    "justificatif": "vérification : pièce justificative",
    "travailleur_social": "vérification : avis d'un travailleur social",
    "guichet": "vérification : au guichet",
    "commission": "vérification : décision d'une commission",
}

STATUS_FR = {
    "met": "Oui",
    "not_met": "Non",
    "awaiting_validation": "Oui, à vérifier",
    "set_aside": "Oui, non cumulé",
}


def group_rule_fr(g: ir.GroupIR) -> str:
    text = {"max": "un seul de ces critères compte : celui qui rapporte le plus",
            "first": "un seul de ces critères compte : le premier rempli dans l'ordre de la grille",
            "sum": "les points de ces critères s'additionnent"}[g.policy]
    if g.cap is not None:
        text += f", {number_fr(g.cap)} points au plus pour l'ensemble"
    if g.floor is not None:
        text += f", {number_fr(g.floor)} points au moins pour l'ensemble"
    return text


def ordering_fr(grid: ir.GridIR) -> str:
    parts = []
    for k in grid.ordering:
        if k.expr is None:
            parts.append("le nombre de points (le plus élevé d'abord)" if k.direction == "desc"
                         else "le nombre de points (le plus faible d'abord)")
        elif isinstance(k.expr, ir.Ref) and k.expr.name == "date_depot":
            parts.append("la date de dépôt (la plus ancienne d'abord)" if k.direction == "asc"
                         else "la date de dépôt (la plus récente d'abord)")
        elif isinstance(k.expr, ir.Ref) and k.expr.name == "numero_unique":
            parts.append("le numéro unique")
        else:
            word = "décroissant" if k.direction == "desc" else "croissant"
            parts.append(f"{expr_fr(k.expr, grid)} (ordre {word})")
    return "Les demandes sont classées selon " + ", puis ".join(parts) + "."


# ================================================================================ static part

def grid_part(grid: ir.GridIR, today: dt.date, commune_names: dict[str, str] | None = None) -> dict:
    """What every statement of a run shares: the grid in words and the reference."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    groups = []
    mark_of: dict[str, str] = {}
    for k, g in enumerate(grid.groups):
        mark = f"({letters[k % 26]}{'' if k < 26 else k // 26})"
        mark_of[g.id] = mark
        groups.append({"id": g.id, "mark": mark, "label": g.label or g.id, "policy": g.policy,
                       "rule": group_rule_fr(g)})
    criteria = []
    for c in grid.criteria:
        criteria.append({
            "id": c.id, "label": c.label, "section": c.section or "Autres critères",
            "rule": rule_fr(c, grid), "validation": c.validation,
            "validation_text": VALIDATION_FR.get(c.validation, ""),
            "group": c.group, "group_mark": mark_of.get(c.group) if c.group else None,
            "legal_priority": c.legal_priority, "refusal_effect": c.refusal_effect,
        })
    for c in criteria:      # what a statement repeats of each criterion, built once
        c["base"] = dict(c)
    return {
        "grid": {"id": grid.id, "title": grid.title, "version": grid.version,
                 "hash": grid.source_hash, "effective_from": grid.effective_from.isoformat(),
                 "territory": grid.territory_name, "epci_siren": grid.epci_siren,
                 "refusal_policy": " ".join((grid.refusal_policy or "").split()) or None,
                 "ordering_text": ordering_fr(grid),
                 "min_size": grid.peers_min_size, "levels_first": list(grid.peers_by),
                 "window_months": grid.waiting_window_months,
                 "statistic": grid.waiting_statistic,
                 "floor": grid.total_floor, "cap": grid.total_cap},
        "today": today.isoformat(),
        "criteria": criteria,
        "groups": groups,
        "group_members": {g.id: list(g.members) for g in grid.groups},
        "group_bounds_h": {g.id: (None if g.floor is None else round_hundredths(g.floor),
                                  None if g.cap is None else round_hundredths(g.cap)) for g in grid.groups},
        "ungrouped": list(grid.ungrouped),
        "names": dict(commune_names or {}),
    }


# ================================================================================ contexts

def _mask_int(words) -> int:
    v = 0
    for k, w in enumerate(words.tolist()):
        v |= int(w) << (64 * k)
    return v


def demande_contexts(pos: Positioning, indices: Iterable[int] | None = None) -> Iterator[dict]:
    """One compact context per scored demande (its own figures + its cells' aggregates).

    ``indices`` restricts to these demande-table rows; demandes without a cotation are skipped.
    """
    st = pos.st
    if st.points is None:
        raise ValueError("statements need per-criterion points: score with explain=True")
    table_cols = pos.table.columns
    pair_row = st.row.tolist()
    row_pair = pos.rows.pair.tolist()
    # Pairs and rows are stored grouped by demande; index the spans once.
    pair_span: dict[int, list[int]] = {}
    for p, d in enumerate(pair_row):
        pair_span.setdefault(d, []).append(p)
    rangs = st.rang.tolist()
    for ps in pair_span.values():
        ps.sort(key=rangs.__getitem__)    # preferred commune first, whatever the engine's order
    rows_of_pair: dict[int, list[int]] = {}
    for i, p in enumerate(row_pair):
        rows_of_pair.setdefault(p, []).append(i)
    wanted = sorted(pair_span) if indices is None else [d for d in indices if d in pair_span]
    hist_cache: dict[tuple, Any] = {}
    for d in wanted:
        pairs = pair_span[d]
        local = {p: k for k, p in enumerate(pairs)}
        ctx_pairs = []
        for p in pairs:
            ctx_pairs.append((st.commune[p], int(st.rang[p]), int(st.score[p]), int(st.score_valide[p]),
                              st.points[p].tolist(), _mask_int(st.met[p]), _mask_int(st.set_aside[p]),
                              _mask_int(st.met_valide[p]), _mask_int(st.set_aside_valide[p])))
        ctx_rows = []
        for p in pairs:
            for i in rows_of_pair[p]:
                ctx_rows.append((local[p], pos.rows.typologie[i], int(pos.level[i]), pos.cell_values[i],
                                 int(pos.rank[i]), int(pos.size[i]), int(pos.n_above[i]),
                                 _cached_histogram(pos, i, hist_cache), pos.waiting[i],
                                 pos.delai_threshold[i]))
        yield {
            "numero_unique": st.numero_unique[pairs[0]],
            "date_depot": table_cols["date_depot"][d].isoformat(),
            "est_mutation": table_cols["est_mutation"][d],
            "anciennete_mois": int(pos.anciennete_mois[rows_of_pair[pairs[0]][0]]),
            "typologies": [t for t in dict.fromkeys(pos.rows.typologie[i] for p in pairs
                                                      for i in rows_of_pair[p]) if t is not None],
            "pairs": ctx_pairs,
            "rows": ctx_rows,
        }


def _cached_histogram(pos: Positioning, i: int, cache: dict) -> Any:
    """Histogram of row i; the cell's bins are shared by its representative rows."""
    if int(pos.size[i]) < HISTOGRAM_MIN_CELL:
        return None
    if int(pos.rep_row[i]) != i:
        h = pos.histogram(i)
        return (h.edges, h.counts, h.own)
    key = (int(pos.level[i]), pos.cell_values[i])
    base = cache.get(key)
    if base is None:
        h = pos.histogram(i)
        base = cache[key] = (h.edges, h.counts)
    edges, counts = base
    own = (int(pos.st.score[pos.rows.pair[i]]) - edges[0]) // (edges[1] - edges[0])
    return (edges, counts, own)


# ================================================================================ the document

def _commune_label(code: str, names: dict[str, str]) -> str:
    """'Lyon (69123)' when a name is known, else 'commune 69123'."""
    name = names.get(code)
    return f"{name} ({code})" if name else f"commune {code}"


def _in_commune(code: str, names: dict[str, str]) -> str:
    return f"à {names[code]} ({code})" if names.get(code) else f"dans la commune {code}"


def _for_commune(code: str, names: dict[str, str]) -> str:
    return f"pour {names[code]} ({code})" if names.get(code) else f"pour la commune {code}"


def _typo_text(t: str | None) -> str:
    if t is None:
        return "un logement (taille non précisée)"
    if t == "chambre":
        return "une chambre"
    if t == "T6P":
        return "un T6 ou plus"
    return f"un {t}"


def _typo_short(t: str | None) -> str:
    return {"chambre": "Chambre", "T6P": "T6 et +", None: "Non précisée"}.get(t, t)


_TYPO_DEMANDES = {"chambre": " de chambre", "T6P": " de T6 et plus", None: " sans taille précisée"}
_TYPO_LOGEMENTS = {"chambre": " de type chambre", "T6P": " T6 et plus", None: " de taille non précisée"}
_HLM = {True: "déjà locataires HLM", False: "pas encore locataires HLM",
        None: "au statut HLM non renseigné"}


def _cell_text(level: Sequence[str], values: dict[str, Any], static: dict, kind: str) -> str:
    """Who is in a cell, in words: 'demandes de T2 pour Lyon (69123)' (kind 'demandes') or
    'logements T2 attribués à Lyon (69123)' (kind 'logements')."""
    names = static["names"]
    demandes = kind == "demandes"
    text = "demandes" if demandes else "logements"
    if "typologie" in level:
        t = values["typologie"]
        words = _TYPO_DEMANDES if demandes else _TYPO_LOGEMENTS
        text += words.get(t, (" de " if demandes else " ") + str(t))
    if not demandes:
        text += " attribués"
    if "est_mutation" in level:
        who = _HLM[values["est_mutation"]]
        text += f" de ménages {who}" if demandes else f" à des ménages {who}"
    if "loc.commune" in level:
        code = values["loc.commune"]
        text += " " + (_for_commune(code, names) if demandes else _in_commune(code, names))
    else:
        text += f" sur tout le territoire ({static['grid']['territory']})"
    return text


def _adjusted_total(static: dict, counted: list[int]) -> int:
    """Total rebuilt from the counted points (group bounds applied), before the grid's floor/cap."""
    total = 0
    for j in static["ungrouped"]:
        total += counted[j]
    for gid, members in static["group_members"].items():
        s = 0
        for j in members:
            s += counted[j]
        floor, cap = static["group_bounds_h"][gid]
        if floor is not None and s < floor:
            s = floor
        if cap is not None and s > cap:
            s = cap
        total += s
    return total


def _status(j: int, met: int, aside: int, met_v: int) -> str:
    bit = 1 << j
    if not met & bit:
        return "not_met"
    if aside & bit:
        return "set_aside"
    if not met_v & bit:
        return "awaiting_validation"
    return "met"


def build_statement(ctx: dict, static: dict) -> dict:
    """The statement of one demande as a JSON-ready dict; every sentence is in it."""
    g = static["grid"]
    names = static["names"]
    today = static["today"]
    n_crit = len(static["criteria"])
    pairs = ctx["pairs"]
    multi = len(pairs) > 1

    # --- the demande
    communes = [{"code": c, "name": names.get(c), "rang": r} for c, r, *_ in pairs]
    typos = ctx["typologies"]
    kind = {True: "demande de mutation (vous êtes déjà locataire HLM)",
            False: "première demande (vous n'êtes pas locataire HLM)", None: None}[ctx["est_mutation"]]
    typo_words = " ou ".join(_typo_text(t) for t in typos) if typos else "un logement (taille non précisée)"
    demande_text = (f"Demande n°{NBSP}{ctx['numero_unique']}, déposée le {date_fr(ctx['date_depot'])} "
                    f"({ctx['anciennete_mois']} mois d'ancienneté), pour {typo_words}. "
                    + _plural(len(communes), "Commune demandée", "Communes demandées")
                    + " sur ce territoire : "
                    + " ; ".join(f"{_commune_label(c['code'], names)}, {_choice_fr(c['rang'])}"
                                 for c in communes) + ".")

    # --- scores per commune, criteria per commune
    scores = []
    outcomes_by_pair = []
    counted_by_pair: list[list[int]] = []
    for (commune, rang, score, score_v, pts, met, aside, met_v, aside_v) in pairs:
        counted = []
        outs = []
        for j in range(n_crit):
            status = _status(j, met, aside, met_v)
            c_prov = pts[j] if (met >> j) & 1 and not (aside >> j) & 1 else 0
            c_val = pts[j] if (met_v >> j) & 1 and not (aside_v >> j) & 1 else 0
            counted.append(c_prov)
            outs.append((status, pts[j], c_prov, c_val))
        outcomes_by_pair.append(outs)
        counted_by_pair.append(counted)
        raw = _adjusted_total(static, counted)
        entry = {"commune": commune, "commune_name": names.get(commune), "rang": rang,
                 "score": score / 100, "score_valide": score_v / 100,
                 "text": (f"{_commune_label(commune, names)} : {points_fr(score)} {unit_points(score)}"
                          f", dont {points_fr(score_v)} {_plural_points_valides(score_v)}")}
        if raw != score:
            entry["bound_text"] = (f"Le total des critères ({points_fr(raw)}) est ramené à "
                                   f"{points_fr(score)} : la grille fixe un total "
                                   + ("minimal" if raw < score else "maximal") + ".")
        scores.append(entry)

    criteria = []
    for j, c in enumerate(static["criteria"]):
        same = all(o[j] == outcomes_by_pair[0][j] for o in outcomes_by_pair)
        targets = [(None, outcomes_by_pair[0][j])] if (same or not multi) else \
            [(pairs[k][0], outcomes_by_pair[k][j]) for k in range(len(pairs))]
        outs = []
        for commune, (status, pts, c_prov, c_val) in targets:
            shown = c_prov if status != "set_aside" else 0
            # A criterion met for 0 points (a 0-point band, no refusal on record) changes
            # nothing: "Oui" would read as if it applied to the demandeur.
            text = STATUS_FR[status] if pts or status == "not_met" else "Non concerné"
            if commune is not None:     # short: it sits in a narrow column
                text = f"{names.get(commune) or commune} : {text}"
            outs.append({"commune": commune, "status": status, "status_text": text,
                         "points": pts / 100 if status != "not_met" else 0.0,
                         "counted": c_prov / 100, "counted_valide": c_val / 100,
                         "counted_text": points_fr(shown, signed=True) if shown else "0"})
        criteria.append(dict(c["base"], outcomes=outs))

    adjustments = _group_adjustments(static, pairs, counted_by_pair)
    total_text = _total_text(scores)
    if total_text is not None:      # one total line says it all; no per-commune repeat
        for entry in scores:
            entry["text"] = None

    # --- positions and waiting times, one per (commune, typologie)
    positions = []
    for (k, typ, level_i, cell_vals, rank, size, n_above, hist, waiting, threshold) in ctx["rows"]:
        commune, rang, score, score_v = pairs[k][:4]
        values = {"loc.commune": commune, "loc.epci": g["epci_siren"], "typologie": typ,
                  "est_mutation": ctx["est_mutation"]}
        level = tuple(static["levels"][level_i])
        positions.append(_position_entry(static, values, level, level_i, rank, size, n_above, hist,
                                         waiting, threshold, score, score_v, ctx["anciennete_mois"]))

    # --- refusal effects
    refusal = _refusal(static, criteria)

    # --- summary: the four questions of a newcomer
    summary = _summary(static, scores, positions, refusal)

    doc = {
        "format": STATEMENT_FORMAT,
        "title": "Information sur votre demande de logement social",
        "numero_unique": ctx["numero_unique"],
        "reference": {
            "date": today, "date_text": date_fr(today),
            "grid_id": g["id"], "grid_title": g["title"], "grid_version": g["version"],
            "grid_hash": g["hash"], "grid_effective_from": g["effective_from"],
            "territory": g["territory"], "epci_siren": g["epci_siren"],
            "text": (f"Situation au {date_fr(today)}, calculée avec la grille « {g['title']} » "
                     f"(version {g['version']}, en vigueur depuis le {date_fr(g['effective_from'])})."),
            "footer_text": (f"Grille {g['id']}, version {g['version']} — date de référence {today} — "
                            f"demande {ctx['numero_unique']} — empreinte de la grille {g['hash']}"),
        },
        "demande": {
            "date_depot": ctx["date_depot"], "anciennete_mois": ctx["anciennete_mois"],
            "est_mutation": ctx["est_mutation"], "kind_text": kind, "typologies": typos,
            "communes": communes, "text": demande_text,
        },
        "summary": summary,
        "scores": scores,
        "group_adjustments": adjustments,
        "total_text": total_text,
        "scores_text": ("La cotation provisoire compte tous les critères que vous avez déclarés ; "
                        "la cotation validée ne compte que ceux dont la vérification est faite."),
        "positions": positions,
        "ordering_text": g["ordering_text"],
        "decile_text": ("Le classement est partagé en dix parts égales (dixièmes) : le 1er dixième "
                        "réunit les 10 % de demandes les mieux placées, le 10e les 10 % les moins "
                        "bien placées."),
        "waiting_note": ("Ces délais décrivent des attributions passées et sont indicatifs : ils ne "
                         "prédisent pas votre propre attente. Quelques attentes très longues tirent la "
                         "moyenne vers le haut ; la médiane (la moitié des ménages ont attendu moins) "
                         "est souvent plus proche de la situation la plus courante."),
        "criteria": criteria,
        "groups": [dict(x) for x in static["groups"]],
        "status_text": ("« Oui, à vérifier » : le critère compte dans la cotation provisoire et "
                        "comptera dans la cotation validée après vérification. « Oui, non cumulé » : "
                        "vous remplissez ce critère, mais un seul critère de son groupe compte. "
                        "« Non concerné » : le critère s'applique à votre demande sans lui donner "
                        "de point."),
        "refusal": refusal,
        "notes": [
            "La cotation est une aide à la décision : la commission d'attribution (CALEOL) examine "
            "plusieurs candidatures pour chaque logement et reste libre de son choix.",
            "Si une information de votre demande est inexacte ou a changé, mettez votre demande à "
            "jour : votre cotation sera recalculée.",
        ],
        "privacy_text": ("Ce document ne contient que les informations de votre demande et des "
                         "chiffres d'ensemble ; aucune autre demande n'y est identifiable. La "
                         f"répartition des points n'est montrée que pour au moins {HISTOGRAM_MIN_CELL} "
                         f"demandes, et un délai d'attente pour au moins {WAITING_MIN_LEASES} logements "
                         "attribués."),
    }
    return doc


def _group_adjustments(static: dict, pairs: list, counted_by_pair: list[list[int]]) -> list[dict]:
    """Where a group's cap or floor changes what its criteria add up to (per commune)."""
    names = static["names"]
    groups = {g["id"]: g for g in static["groups"]}
    found: dict[tuple, list[str]] = {}
    if not any(f is not None or c is not None for f, c in static["group_bounds_h"].values()):
        return []
    for (commune, *_), counted in zip(pairs, counted_by_pair):
        for gid, members in static["group_members"].items():
            raw = 0
            for j in members:
                raw += counted[j]
            floor, cap = static["group_bounds_h"][gid]
            bounded = raw
            if floor is not None:
                bounded = max(bounded, floor)
            if cap is not None:
                bounded = min(bounded, cap)
            if bounded != raw:
                found.setdefault((gid, raw, bounded), []).append(commune)
    out = []
    for (gid, raw, bounded), communes in found.items():
        g = groups[gid]
        where = "" if len(communes) == len(pairs) else \
            ", " + " ; ".join(_for_commune(c, names) for c in communes)
        bound = "plafond" if bounded < raw else "plancher"
        out.append({"group": gid, "communes": communes, "points": raw / 100, "counted": bounded / 100,
                    "text": (f"{g['label']} {g['mark']}{where} : {points_fr(raw)} {unit_points(raw)} "
                             f"ramenés à {points_fr(bounded)} ({bound} du groupe)"),
                    "delta_text": points_fr(bounded - raw, signed=True)})
    return out


def _total_text(scores: list[dict]) -> str | None:
    """One total line when every commune has the same points (no commune-specific criterion met)."""
    if len({(s["score"], s["score_valide"]) for s in scores}) != 1:
        return None
    h, hv = round(scores[0]["score"] * 100), round(scores[0]["score_valide"] * 100)
    where = " pour chacune des communes demandées" if len(scores) > 1 else ""
    return (f"Total{where} : {points_fr(h)} {unit_points(h)}, dont {points_fr(hv)} "
            f"{_plural_points_valides(hv)}")


def _choice_fr(rang: int) -> str:
    return "1er choix" if rang == 1 else f"{rang}e choix"


def _plural_points_valides(h: int) -> str:
    return "déjà vérifié" if abs(h) < 200 else "déjà vérifiés"


def _position_entry(static: dict, values: dict, level: tuple, level_i: int, rank: int, size: int,
                    n_above: int, hist, waiting: WaitingStats, threshold: int | None, score: int,
                    score_v: int, anciennete: int) -> dict:
    g = static["grid"]
    names = static["names"]
    first = tuple(static["levels"][0])
    cell_text = _cell_text(level, values, static, "demandes")
    where = _commune_label(values["loc.commune"], names)
    heading = f"{_typo_short(values['typologie'])} — {where}"
    decile = (10 * rank + size - 1) // size
    share = Fraction(n_above, size)
    if size == 1:
        rank_text = f"Votre demande est la seule parmi les {cell_text}."
    else:
        rank_text = (f"Votre demande est classée {ordinal_fr(rank)} sur {size} {cell_text}. "
                     + (f"{n_above} {_plural(n_above, 'demande a', 'demandes ont')} plus de points "
                        f"que la vôtre ({percent_fr(share)})." if n_above else
                        "Aucune demande comparable n'a plus de points que la vôtre.")
                     + (" Elle fait partie des 10 % de demandes les mieux placées." if decile == 1 else
                        f" Elle se situe dans le {decile}e dixième du classement."))
    fallback_text = None
    if level_i > 0:
        fallback_text = (f"Il y a moins de {g['min_size']} {_cell_text(first, values, static, 'demandes')}"
                         f" : la comparaison porte sur les {cell_text}.")
    entry: dict[str, Any] = {
        "commune": values["loc.commune"], "commune_name": names.get(values["loc.commune"]),
        "typologie": values["typologie"], "heading": heading,
        "score": score / 100, "score_valide": score_v / 100,
        "score_text": f"{points_fr(score)} {unit_points(score)} (validés : {points_fr(score_v)})",
        "rank": rank, "of": size, "n_above": n_above, "share_above": float(round(share, 6)),
        "decile": decile, "cell_key": _key(level, values), "cell_text": cell_text,
        "fallback": level_i > 0, "fallback_text": fallback_text, "text": rank_text,
    }
    if hist is None:
        entry["histogram"] = None
        entry["histogram_note"] = (f"Moins de {HISTOGRAM_MIN_CELL} demandes comparables : la répartition "
                                   "des points n'est pas montrée, pour protéger la vie privée des "
                                   "autres demandeurs.")
    else:
        edges, counts, own = hist
        entry["histogram"] = {"edges": [e / 100 for e in edges], "counts": list(counts), "own_bin": own,
                              "caption": (f"Répartition des points des {size} {cell_text}. La barre "
                                          f"foncée contient votre demande ({points_fr(score)} "
                                          f"{unit_points(score)}).")}
        entry["histogram_note"] = None
    entry["waiting"] = _waiting_entry(static, values, waiting)
    if threshold is not None:
        exceeded = anciennete >= threshold
        entry["delai_anormalement_long"] = {
            "threshold_months": threshold, "anciennete_mois": anciennete, "exceeded": exceeded,
            "text": (f"Votre demande a {anciennete} mois d'ancienneté : elle atteint le délai "
                     f"anormalement long fixé pour {_typo_text(values['typologie'])} ({threshold} mois)."
                     " Vous pouvez saisir la commission de médiation DALO de votre département."
                     if exceeded else
                     f"Le délai anormalement long fixé pour {_typo_text(values['typologie'])} est de "
                     f"{threshold} mois ; votre demande a {anciennete} mois d'ancienneté."),
        }
    else:
        entry["delai_anormalement_long"] = None
    return entry


def _key(level: Sequence[str], values: dict) -> str:
    from cotation.info.positioning import cell_key
    return cell_key(level, tuple(values[k] for k in level))


def _waiting_entry(static: dict, values: dict, w: WaitingStats) -> dict:
    """The waiting-time block of a position; cached, since a few cells serve every demande."""
    cache = static.setdefault("_waiting_cache", {})
    key = (w.level, w.values, w.n, w.total_days, w.median_twice, w.start, w.end,
           values["loc.commune"], values["typologie"], values["est_mutation"])
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = _waiting_entry_uncached(static, values, w)
    return dict(hit)


def _waiting_entry_uncached(static: dict, values: dict, w: WaitingStats) -> dict:
    g = static["grid"]
    first = tuple(static["levels"][0])
    start = dt.date.fromisoformat(w.start.isoformat())
    last_day = w.end - dt.timedelta(days=1)
    period = f"du {date_fr(start)} au {date_fr(last_day)}"
    leases = _cell_text(w.level, values, static, "logements")
    shown = w.n >= WAITING_MIN_LEASES
    entry: dict[str, Any] = {
        "cell_key": w.key, "cell_text": leases, "fallback": w.level != first,
        "n_attributions": w.n, "window_months": g["window_months"],
        "window_start": w.start.isoformat(), "window_end_exclusive": w.end.isoformat(),
        "shown": shown,
        "mean_days": None, "median_days": None, "mean_months": None, "median_months": None,
    }
    if shown:
        entry.update({"mean_days": float(format_fraction(w.mean_days, 1)),
                      "median_days": float(format_fraction(w.median_days, 1)),
                      "mean_months": float(format_fraction(w.mean_months, 1)),
                      "median_months": float(format_fraction(w.median_months, 1))})
        mean = (f"en moyenne {decimal_fr(w.mean_months)} mois ({decimal_fr(w.mean_days, 0)} jours)")
        median = (f"la moitié ont attendu moins de {decimal_fr(w.median_months)} mois "
                  f"(médiane, {decimal_fr(w.median_days, 0)} jours)")
        figures = f"{mean} ; {median}" if g["statistic"] == "mean" else f"{median} ; {mean}"
        entry["text"] = (f"Délai d'attente constaté : {figures}. Calculé sur les {w.n} {leases} "
                         f"{period}.")
    elif w.n == 0:
        entry["text"] = (f"Aucun logement n'a été attribué {period} parmi les {leases} : pas de "
                         "délai d'attente à publier.")
    else:
        entry["text"] = (f"Trop peu de logements attribués {period} ({w.n}, moins de "
                         f"{WAITING_MIN_LEASES}) : aucun délai n'est publié, pour ne pas révéler de "
                         "situation individuelle.")
    entry["fallback_text"] = None
    if w.level != first:
        entry["fallback_text"] = (f"Moins de {g['min_size']} {_cell_text(first, values, static, 'logements')}"
                                  f" {period} : le délai est calculé sur les {leases}.")
    return entry


def _refusal(static: dict, criteria: list[dict]) -> dict:
    """The grid's refusal policy and what each refusal criterion takes from the demande now."""
    policy = static["grid"]["refusal_policy"]
    names = static["names"]
    items = []
    for c in criteria:
        if not c["refusal_effect"]:
            continue
        for o in c["outcomes"]:
            h = round(o["counted"] * 100)
            where = f" {_for_commune(o['commune'], names)}" if o["commune"] is not None else ""
            text = (f"Aujourd'hui, ce critère vous retire {points_fr(-h)} {unit_points(h)}{where}."
                    if h < 0 else f"Aujourd'hui, ce critère ne vous retire aucun point{where}.")
            items.append({"id": c["id"], "label": c["label"], "commune": o["commune"],
                          "points": h / 100, "text": text})
    if policy is None and not items:
        text = "La grille de votre territoire ne prévoit pas d'effet d'un refus sur votre cotation."
    else:
        text = policy or ""
    return {"policy": policy, "criteria": items, "text": text}


def _summary(static: dict, scores: list[dict], positions: list[dict], refusal: dict) -> list[dict]:
    names = static["names"]
    out = []
    # 1. points
    if len({(s["score"], s["score_valide"]) for s in scores}) == 1:
        s = scores[0]
        h, hv = round(s["score"] * 100), round(s["score_valide"] * 100)
        where = "" if len(scores) == 1 else ", pour chacune des communes demandées"
        text = (f"Votre demande a {points_fr(h)} {unit_points(h)}{where}. "
                + ("Tous sont déjà vérifiés." if h == hv else
                   f"Parmi eux, {points_fr(hv)} {'est' if abs(hv) < 200 else 'sont'} "
                   f"{_plural_points_valides(hv)} (cotation validée) ; "
                   "les autres le seront après vérification de vos justificatifs."))
    else:
        parts = []
        for s in scores:
            h, hv = round(s["score"] * 100), round(s["score_valide"] * 100)
            parts.append(f"{points_fr(h)} {unit_points(h)} {_for_commune(s['commune'], names)}, dont "
                         f"{points_fr(hv)} {_plural_points_valides(hv)}")
        text = "Votre demande a " + " ; ".join(parts) + "."
    out.append({"question": "Combien de points avez-vous ?", "answer": text})
    # 2. position (first choice, first typologie)
    p = positions[0]
    more = " Détail par commune et par taille de logement plus bas." if len(positions) > 1 else ""
    text = (f"Pour {_typo_text(p['typologie'])} {_in_commune(p['commune'], names)} : "
            + (f"votre demande est classée {ordinal_fr(p['rank'])} sur {p['of']} demandes comparables."
               if p["of"] > 1 else "aucune autre demande n'est comparable à la vôtre.") + more)
    out.append({"question": "Où se situe votre demande ?", "answer": text})
    # 3. waiting
    w = p["waiting"]
    if w["shown"]:
        text = (f"Les ménages qui ont obtenu {_typo_text(p['typologie'])} "
                + (_in_commune(p['commune'], names) if "loc.commune=" in w["cell_key"]
                   else "sur le territoire")
                + f" ces {static['grid']['window_months']} derniers mois avaient attendu en moyenne "
                f"{decimal_fr(Fraction(str(w['mean_months'])))} mois (la moitié moins de "
                f"{decimal_fr(Fraction(str(w['median_months'])))} mois).")
    else:
        text = "Pas assez d'attributions récentes pour publier un délai d'attente fiable."
    out.append({"question": "Combien de temps attendent les demandeurs comme vous ?", "answer": text})
    # 4. refusal
    neg = [c for c in refusal["criteria"] if c["points"] < 0]
    if refusal["policy"] is None and not refusal["criteria"]:
        text = refusal["text"]
    else:
        text = ("Refuser un logement adapté à vos besoins peut vous faire perdre des points "
                "(voir « Si vous refusez un logement »). "
                + ("Aujourd'hui, des refus passés vous retirent des points." if neg else
                   "Aujourd'hui, aucun refus ne vous retire de points."))
    out.append({"question": "Que se passe-t-il si vous refusez un logement ?", "answer": text})
    return out


# ================================================================================ HTML

_CSS = """
@page { size: A4; margin: 13mm 14mm 14mm 14mm; }
* { box-sizing: border-box; }
html { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 9pt;
  line-height: 1.3; color: #111; background: #fff; }
body { margin: 0; }
@media screen { body { max-width: 182mm; margin: 8mm auto; } }
header { border-bottom: 2px solid #1d4f91; padding-bottom: 2mm; margin-bottom: 3mm; }
h1 { font-size: 15pt; margin: 0 0 1mm 0; color: #1d4f91; }
h2 { font-size: 11pt; margin: 4mm 0 1.5mm 0; color: #1d4f91; border-bottom: 1px solid #c5cfdb;
  padding-bottom: 0.5mm; break-after: avoid; }
h3 { font-size: 9.5pt; margin: 0 0 1mm 0; }
p { margin: 0 0 1.2mm 0; }
.sub { color: #333; }
.small { font-size: 7.5pt; color: #444; }
.essentiel { display: grid; grid-template-columns: 1fr 1fr; gap: 2mm; }
.qa { border: 1px solid #c5cfdb; border-left: 3px solid #1d4f91; padding: 1.5mm 2mm; break-inside: avoid; }
.qa h3 { color: #1d4f91; }
.card { display: flex; gap: 3mm; border: 1px solid #c5cfdb; padding: 1.5mm 2mm; margin-bottom: 1.5mm;
  break-inside: avoid; font-size: 8.5pt; }
.card .txt { flex: 1 1 auto; min-width: 0; }
.card p { margin-bottom: 0.8mm; }
.card figure { flex: 0 0 58mm; margin: 0; }
.card figcaption { font-size: 6.8pt; line-height: 1.2; color: #444; }
.card svg { display: block; width: 58mm; height: 23.2mm; }
.nochart { flex: 0 0 58mm; font-size: 7.5pt; color: #444; border: 1px dashed #c5cfdb; padding: 1.5mm; }
.alert { font-weight: bold; }
table { width: 100%; border-collapse: collapse; font-size: 7.6pt; line-height: 1.25; }
th, td { border-bottom: 1px solid #dde3ea; padding: 0.35mm 1mm; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
tr { break-inside: avoid; }
td.pts, th.pts { text-align: right; white-space: nowrap; width: 17mm; }
td.st, th.st { width: 34mm; }
tr.section td { background: #f6f8fb; font-weight: bold; color: #1d4f91; }
tr.total td { font-weight: bold; border-top: 1.5px solid #1d4f91; }
.rule { font-size: 7pt; color: #555; }
.st-met { color: #0b6b2e; font-weight: bold; }
.st-awaiting_validation { color: #8a5a00; font-weight: bold; }
.st-set_aside { color: #555; }
.st-not_met { color: #777; }
ul { margin: 0 0 1mm 0; padding-left: 5mm; }
footer { margin-top: 3mm; border-top: 1px solid #c5cfdb; padding-top: 1mm; font-size: 7pt;
  color: #444; }
.hash { word-break: break-all; }
"""

def E(text: Any) -> str:
    """Escape for HTML text content (every value is placed between tags, never in attributes)."""
    return html.escape(str(text), quote=False)


def svg_histogram(hist: dict, uid: str) -> str:
    """The cell's score distribution as an inline SVG; the demandeur's bin is dark."""
    counts, edges, own = hist["counts"], hist["edges"], hist["own_bin"]
    # A small viewBox, so that the 8-unit labels print at about 7 pt in a 58 mm wide chart.
    W, H, left, right, top, bottom = 190.0, 76.0, 16.0, 5.0, 12.0, 17.0
    nb = len(counts)
    bw = (W - left - right) / nb
    peak = max(counts) or 1
    ph = H - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W:.0f} {H:.0f}" role="img" '
             f'aria-labelledby="{uid}"><title id="{uid}">{E(hist["caption"])}</title>']
    for k, c in enumerate(counts):
        h = ph * c / peak
        x = left + k * bw
        fill = "#1d4f91" if k == own else "#b9c6d6"
        parts.append(f'<rect x="{x + 0.4:.2f}" y="{top + ph - h:.2f}" width="{max(bw - 0.8, 0.5):.2f}" '
                     f'height="{h:.2f}" fill="{fill}"/>')
    cx = left + (own + 0.5) * bw
    oh = ph * counts[own] / peak if 0 <= own < nb else 0
    ty = top + ph - oh - 2
    parts.append(f'<path d="M{cx - 3:.2f} {ty - 5:.2f} L{cx + 3:.2f} {ty - 5:.2f} L{cx:.2f} {ty:.2f} Z" '
                 f'fill="#c0392b"/>')
    anchor = "start" if cx < left + 20 else ("end" if cx > W - right - 20 else "middle")
    parts.append(f'<text x="{cx:.2f}" y="{max(ty - 6, 8):.2f}" font-size="9" text-anchor="{anchor}" '
                 'fill="#c0392b" font-weight="bold" stroke="#fff" stroke-width="2.5" '
                 'paint-order="stroke">vous</text>')
    base = top + ph
    parts.append(f'<line x1="{left:.2f}" y1="{base:.2f}" x2="{W - right:.2f}" y2="{base:.2f}" '
                 'stroke="#333" stroke-width="0.6"/>')
    parts.append(f'<text x="{left - 2:.2f}" y="{top + 3:.2f}" font-size="8" text-anchor="end" '
                 f'fill="#333">{peak}</text>')
    parts.append(f'<text x="{left - 2:.2f}" y="{base:.2f}" font-size="8" text-anchor="end" '
                 'fill="#333">0</text>')
    for x, label, anchor in ((left, edges[0], "start"), (W - right, edges[-1], "end")):
        parts.append(f'<text x="{x:.2f}" y="{base + 8:.2f}" font-size="8" text-anchor="{anchor}" '
                     f'fill="#333">{E(number_fr(label))}</text>')
    parts.append(f'<text x="{(left + W - right) / 2:.2f}" y="{base + 16:.2f}" font-size="8" '
                 'text-anchor="middle" fill="#333">points (hauteur : nombre de demandes)</text>')
    parts.append("</svg>")
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _criterion_cell(label: str, mark: str | None, rule: str, validation: str) -> str:
    """The grid's side of a criterion row: the same in every statement of a run."""
    mark_html = f' <sup>{E(mark)}</sup>' if mark else ""
    val = f' · <span class="rule">{E(validation)}</span>' if validation else ""
    return f'{E(label)}{mark_html} — <span class="rule">{E(rule)}</span>{val}'


def render_html(doc: dict) -> str:
    """The statement as a self-contained A4 HTML page, from its JSON form only."""
    ref, dem = doc["reference"], doc["demande"]
    out = ['<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n',
           f'<title>{E(doc["title"])} — n° {E(doc["numero_unique"])}</title>\n',
           f"<style>{_CSS}</style>\n</head>\n<body>\n<header>\n",
           f'<h1>{E(doc["title"])}</h1>\n',
           f'<p class="sub">{E(ref["grid_title"])}</p>\n',
           f'<p>{E(dem["text"])}</p>\n']
    if dem["kind_text"]:
        out.append(f'<p class="small">Type de demande : <span>{E(dem["kind_text"])}</span>.</p>\n')
    out.append(f'<p class="small">{E(ref["text"])}</p>\n</header>\n')

    out.append('<h2>L\'essentiel</h2>\n<div class="essentiel">\n')
    for qa in doc["summary"]:
        out.append(f'<div class="qa"><h3>{E(qa["question"])}</h3><p>{E(qa["answer"])}</p></div>\n')
    out.append("</div>\n")

    out.append("<h2>Vos points et votre classement</h2>\n")
    out.append(f'<p class="small"><span>{E(doc["scores_text"])}</span> <span>{E(doc["ordering_text"])}'
               f'</span> <span>{E(doc["decile_text"])}</span></p>\n')
    for s in doc["scores"]:
        if s.get("bound_text"):
            out.append(f'<p class="small">{E(s["bound_text"])}</p>\n')
    for k, p in enumerate(doc["positions"]):
        out.append('<section class="card"><div class="txt">')
        out.append(f'<h3><span>{E(p["heading"])}</span> : <span>{E(p["score_text"])}</span></h3>')
        out.append(f'<p>{E(p["text"])}</p>')
        if p["fallback_text"]:
            out.append(f'<p class="small">{E(p["fallback_text"])}</p>')
        w = p["waiting"]
        out.append(f'<p>{E(w["text"])}</p>')
        if w["fallback_text"]:
            out.append(f'<p class="small">{E(w["fallback_text"])}</p>')
        dal = p["delai_anormalement_long"]
        if dal:
            cls = ' class="alert"' if dal["exceeded"] else ""
            out.append(f"<p{cls}>{E(dal['text'])}</p>")
        out.append("</div>")
        if p["histogram"] is not None:
            out.append(f'<figure>{svg_histogram(p["histogram"], f"h{k}")}'
                       f'<figcaption>{E(p["histogram"]["caption"])}</figcaption></figure>')
        else:
            out.append(f'<div class="nochart">{E(p["histogram_note"])}</div>')
        out.append("</section>\n")
    out.append(f'<p class="small">{E(doc["waiting_note"])}</p>\n')

    out.append("<h2>Le détail de vos points, critère par critère</h2>\n")
    out.append('<table>\n<thead><tr><th>Critère de la grille et points prévus</th>'
               '<th class="st">Votre situation</th><th class="pts">Points comptés</th></tr></thead>\n'
               '<tbody>\n')
    section = None
    for c in doc["criteria"]:
        if c["section"] != section:
            section = c["section"]
            out.append(f'<tr class="section"><td colspan="3">{E(section)}</td></tr>\n')
        status = "<br>".join(f'<span class="st-{o["status"]}">{E(o["status_text"])}</span>'
                             for o in c["outcomes"])
        pts = "<br>".join(E(o["counted_text"]) for o in c["outcomes"])
        cell = _criterion_cell(c["label"], c["group_mark"], c["rule"], c["validation_text"])
        out.append(f'<tr><td>{cell}</td>'
                   f'<td class="st">{status}</td><td class="pts">{pts}</td></tr>\n')
    for adj in doc["group_adjustments"]:
        out.append(f'<tr class="adj"><td colspan="2">{E(adj["text"])}</td>'
                   f'<td class="pts">{E(adj["delta_text"])}</td></tr>\n')
    if doc["total_text"]:
        out.append(f'<tr class="total"><td colspan="3">{E(doc["total_text"])}</td></tr>\n')
    else:
        for s in doc["scores"]:
            out.append(f'<tr class="total"><td colspan="3">Total — <span>{E(s["text"])}</span></td></tr>\n')
    out.append("</tbody>\n</table>\n")
    if doc["groups"]:
        out.append('<ul class="small">')
        for gr in doc["groups"]:
            out.append(f'<li><sup>{E(gr["mark"])}</sup> <span>{E(gr["label"])}</span> : '
                       f'<span>{E(gr["rule"])}</span>.</li>')
        out.append("</ul>\n")
    out.append(f'<p class="small">{E(doc["status_text"])}</p>\n')

    rf = doc["refusal"]
    out.append("<h2>Si vous refusez un logement</h2>\n")
    if rf["text"]:
        out.append(f"<p>{E(rf['text'])}</p>\n")
    for item in rf["criteria"]:
        out.append(f'<p><span>{E(item["label"])}</span> : <span>{E(item["text"])}</span></p>\n')

    out.append("<h2>À savoir</h2>\n<ul>\n")
    for n in doc["notes"]:
        out.append(f"<li>{E(n)}</li>\n")
    out.append(f"<li>{E(doc['privacy_text'])}</li>\n</ul>\n")
    out.append(f'<footer class="hash">{E(ref["footer_text"])}</footer>\n')
    out.append("</body>\n</html>\n")
    return "".join(out)


# ================================================================================ writing

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def file_stem(numero_unique: str) -> str:
    """A file name for a numero unique; unsafe characters get a hash suffix to stay unique."""
    safe = _SAFE.sub("_", numero_unique)
    if safe != numero_unique or not safe:
        safe += "-" + hashlib.sha256(numero_unique.encode()).hexdigest()[:10]
    return safe


def statement_json(doc: dict) -> str:
    """Compact UTF-8 JSON (the C encoder: an indented dump costs more than building the doc)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


_STATIC: dict | None = None


def _init_worker(static: dict) -> None:
    global _STATIC
    _STATIC = static


def render_chunk(args: tuple[list[dict], str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """Build, render and write the statements of a chunk (runs in worker processes)."""
    contexts, out_dir, formats = args
    static = _STATIC
    assert static is not None
    done = []
    for ctx in contexts:
        doc = build_statement(ctx, static)
        stem = file_stem(doc["numero_unique"])
        if "json" in formats:
            _write(os.path.join(out_dir, stem + ".json"), statement_json(doc))
        if "html" in formats:
            _write(os.path.join(out_dir, stem + ".html"), render_html(doc))
        done.append((doc["numero_unique"], stem))
    return done


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _chunks(it: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk = []
    for x in it:
        chunk.append(x)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_statements(pos: Positioning, out_dir: str | Path, *, indices: Iterable[int] | None = None,
                     formats: Sequence[str] = ("html", "json"), jobs: int = 1, chunk_size: int = 250,
                     commune_names: dict[str, str] | None = None, progress=None) -> list[tuple[str, str]]:
    """Write one statement per scored demande (or per ``indices``); return (numero, stem) pairs.

    Contexts are produced lazily and at most ``2 × jobs`` chunks are in flight, so memory stays
    bounded in bulk runs.
    """
    out_dir = str(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    static = statement_static(pos, commune_names)
    contexts = demande_contexts(pos, indices)
    total = len(set(pos.st.row.tolist())) if indices is None else \
        len(set(indices) & set(pos.st.row.tolist()))
    formats = tuple(formats)
    written: list[tuple[str, str]] = []
    if jobs <= 1:
        _init_worker(static)
        for chunk in _chunks(contexts, chunk_size):
            written.extend(render_chunk((chunk, out_dir, formats)))
            if progress is not None:
                progress(len(written), total)
        return written
    import gc
    import multiprocessing as mp
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    # Forked workers inherit the scored table; without freezing, their garbage collections
    # walk (and so copy) that whole heap again and again.
    gc.collect()
    gc.freeze()
    try:
        pool = ctx.Pool(jobs, initializer=_init_worker, initargs=(static,))
    finally:
        gc.unfreeze()
    with pool:
        pending: deque = deque()
        for chunk in _chunks(contexts, chunk_size):
            pending.append(pool.apply_async(render_chunk, ((chunk, out_dir, formats),)))
            while len(pending) >= 2 * jobs:
                written.extend(pending.popleft().get())
                if progress is not None:
                    progress(len(written), total)
        while pending:
            written.extend(pending.popleft().get())
            if progress is not None:
                progress(len(written), total)
    return written


def statement_static(pos: Positioning, commune_names: dict[str, str] | None = None) -> dict:
    static = grid_part(pos.grid, pos.st.today, commune_names)
    static["levels"] = [list(level) for level in pos.levels]
    return static


def statement_for(pos: Positioning, demande_index: int,
                  commune_names: dict[str, str] | None = None) -> dict | None:
    """The JSON form of one demande's statement (None when the grid does not score it)."""
    static = statement_static(pos, commune_names)
    for ctx in demande_contexts(pos, [demande_index]):
        return build_statement(ctx, static)
    return None


# ================================================================================ CLI

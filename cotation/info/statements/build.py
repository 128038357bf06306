"""Building a statement: the demande's own figures and its cells' aggregates, assembled into the
typed :class:`~cotation.info.statements.model.Statement` with every sentence it shows.

Privacy: a statement reads only its demande's row of the ScoreTable, its positioning rows, and
aggregates of cells (sizes, counts, histograms of cells of at least 5 demandes, waiting-time
statistics of at least 5 leases). It never receives another demande's identifier.

The part every statement of a run shares (the grid in words, the reference) is built once by
:func:`statement_static`; :func:`demande_contexts` yields one compact context per demande (plain
tuples, cheap to send to worker processes); :func:`build_statement` turns a context into a
statement.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any, Iterable, Iterator, Sequence

from cotation.data.communes import communes as communes_table
from cotation.grid import ir
from cotation.grid.evaluate import round_hundredths
from cotation.info.positioning import (
    HISTOGRAM_MIN_CELL, Positioning, WaitingStats, cell_key, format_fraction,
)
from cotation.info.statements import sentences as S
from cotation.info.statements.facts import Facts, criterion_reads
from cotation.info.statements.model import (
    STATEMENT_FORMAT, CommuneChoice, Criterion, DelaiLong, DemandeInfo, Group, GroupAdjustment,
    Histogram, Outcome, Position, Reference, Refusal, RefusalItem, ScoreLine, Statement, SummaryItem,
    Waiting,
)
from cotation.info.statements.wording import (
    VALIDATION_FR, cell_text, date_fr, group_rule_fr, ordering_fr, rule_fr,
)

WAITING_MIN_LEASES = 5      # privacy: fewer leases would reveal individual waits

# ================================================================================ static part

def grid_part(grid: ir.GridIR, today: dt.date, commune_names: dict[str, str] | None = None) -> dict:
    """What every statement of a run shares: the grid in words and the reference."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    groups = []
    mark_of: dict[str, str] = {}
    for k, g in enumerate(grid.groups):
        mark = f"({letters[k % 26]}{'' if k < 26 else k // 26})"
        mark_of[g.id] = mark
        groups.append(Group(id=g.id, mark=mark, label=g.label or g.id, policy=g.policy,
                            rule=group_rule_fr(g)))
    criteria = [(c.id, c.label, c.section or "Autres critères", rule_fr(c, grid), c.validation,
                 VALIDATION_FR.get(c.validation, ""), c.group, mark_of.get(c.group) if c.group else None,
                 c.legal_priority, c.refusal_effect)
                for c in grid.criteria]     # Criterion's fields but its outcomes, built once
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
        "reads": criterion_reads(grid),
        "names": _names(grid, commune_names),
    }


def _names(grid: ir.GridIR, commune_names: dict[str, str] | None) -> dict[str, str]:
    """Commune names: the shipped Code officiel géographique for the grid's communes, overridden
    by ``commune_names`` (INSEE code → name)."""
    table = communes_table()
    names = {c: table[c].nom for c in grid.communes if c in table}
    names.update(commune_names or {})
    return names


def statement_static(pos: Positioning, commune_names: dict[str, str] | None = None) -> dict:
    """The shared part of a run's statements (plus a cache of waiting-time blocks, per run)."""
    static = grid_part(pos.grid, pos.st.today, commune_names)
    static["levels"] = [list(level) for level in pos.levels]
    static["waiting_cache"] = {}
    return static


def statement_for(pos: Positioning, demande_index: int,
                  commune_names: dict[str, str] | None = None) -> Statement | None:
    """One demande's statement (None when the grid does not score it)."""
    static = statement_static(pos, commune_names)
    for ctx in demande_contexts(pos, [demande_index]):
        return build_statement(ctx, static)
    return None


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
    facts = Facts(pos)
    for d in wanted:
        pairs = pair_span[d]
        local = {p: k for k, p in enumerate(pairs)}
        ctx_pairs = []
        for p in pairs:
            ctx_pairs.append((st.commune[p], int(st.rang[p]), int(st.score[p]), int(st.score_valide[p]),
                              st.points[p].tolist(), _mask_int(st.met[p]), _mask_int(st.set_aside[p]),
                              _mask_int(st.met_valide[p]), _mask_int(st.set_aside_valide[p])))
        row = facts.row(d)
        after = facts.after_refusal(row)
        ctx_rows = []
        for p in pairs:
            for i in rows_of_pair[p]:
                new = None if after is None else after.get(st.commune[p])
                refused = None if new is None else (new, facts.n_above_after(i, int(st.score[p]), new))
                ctx_rows.append((local[p], pos.rows.typologie[i], int(pos.level[i]), pos.cell_values[i],
                                 int(pos.rank[i]), int(pos.size[i]), int(pos.n_above[i]),
                                 _cached_histogram(pos, i, hist_cache), pos.waiting[i],
                                 pos.delai_threshold[i], refused))
        yield {
            "numero_unique": st.numero_unique[pairs[0]],
            "date_depot": table_cols["date_depot"][d].isoformat(),
            "est_mutation": table_cols["est_mutation"][d],
            "anciennete_mois": int(pos.anciennete_mois[rows_of_pair[pairs[0]][0]]),
            "typologies": [t for t in dict.fromkeys(pos.rows.typologie[i] for p in pairs
                                                      for i in rows_of_pair[p]) if t is not None],
            "pairs": ctx_pairs,
            "rows": ctx_rows,
            "values": facts.values(row),
            "missing": facts.missing(row, st.commune[pairs[0]], int(st.rang[pairs[0]])),
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


def build_statement(ctx: dict, static: dict) -> Statement:
    """The statement of one demande; every sentence is in it."""
    g = static["grid"]
    names = static["names"]
    today = static["today"]
    n_crit = len(static["criteria"])
    pairs = ctx["pairs"]
    multi = len(pairs) > 1
    numero = ctx["numero_unique"]

    # --- the demande
    communes = [CommuneChoice(code=c, name=names.get(c), rang=r) for c, r, *_ in pairs]
    typos = ctx["typologies"]
    demande = DemandeInfo(
        date_depot=ctx["date_depot"], anciennete_mois=ctx["anciennete_mois"],
        est_mutation=ctx["est_mutation"], kind_text=S.kind_text(ctx["est_mutation"]), typologies=typos,
        communes=communes,
        text=S.demande_text(numero, ctx["date_depot"], ctx["anciennete_mois"], typos,
                            [(c.code, c.rang) for c in communes], names))

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
        scores.append(ScoreLine(commune=commune, commune_name=names.get(commune), rang=rang,
                                score=score / 100, score_valide=score_v / 100,
                                text=S.score_text(commune, score, score_v, names),
                                bound_text=S.bound_text(raw, score) if raw != score else None))

    criteria = []
    for j, c in enumerate(static["criteria"]):
        same = all(o[j] == outcomes_by_pair[0][j] for o in outcomes_by_pair)
        targets = [(None, outcomes_by_pair[0][j])] if (same or not multi) else \
            [(pairs[k][0], outcomes_by_pair[k][j]) for k in range(len(pairs))]
        outs = []
        for commune, (status, pts, c_prov, c_val) in targets:
            shown = c_prov if status != "set_aside" else 0
            name = None if commune is None else (names.get(commune) or commune)
            outs.append(Outcome(commune=commune, status=status, status_text=S.status_text(status, pts, name),
                                points=pts / 100 if status != "not_met" else 0.0,
                                counted=c_prov / 100, counted_valide=c_val / 100,
                                counted_text=S.counted_text(shown)))
        direct, _base = static["reads"][j]
        criteria.append(Criterion(*c, outcomes=tuple(outs),
                                  values_text=S.values_text(direct, ctx["values"]),
                                  missing_text=S.missing_text(ctx["missing"][j])))

    adjustments = _group_adjustments(static, pairs, counted_by_pair)
    total_text = None
    if len({(s.score, s.score_valide) for s in scores}) == 1:
        # One total line says it all (no commune-specific criterion met): no per-commune repeat.
        total_text = S.total_text(round(scores[0].score * 100), round(scores[0].score_valide * 100),
                                  len(scores))
        for entry in scores:
            entry.text = None

    # --- positions and waiting times, one per (commune, typologie)
    positions = []
    for (k, typ, level_i, cell_vals, rank, size, n_above, hist, waiting, threshold, refused) in ctx["rows"]:
        commune, rang, score, score_v = pairs[k][:4]
        values = {"loc.commune": commune, "loc.epci": g["epci_siren"], "typologie": typ,
                  "est_mutation": ctx["est_mutation"]}
        level = tuple(static["levels"][level_i])
        positions.append(_position_entry(static, values, level, level_i, rank, size, n_above, hist,
                                         waiting, threshold, score, score_v, ctx["anciennete_mois"],
                                         refused))

    refusal = _refusal(static, criteria, positions)
    return Statement(
        format=STATEMENT_FORMAT,
        title=S.TITLE,
        numero_unique=numero,
        reference=Reference(
            date=today, date_text=date_fr(today),
            grid_id=g["id"], grid_title=g["title"], grid_version=g["version"],
            grid_hash=g["hash"], grid_effective_from=g["effective_from"],
            territory=g["territory"], epci_siren=g["epci_siren"],
            text=S.reference_text(today, g["title"], g["version"], g["effective_from"]),
            footer_text=S.footer_text(g["id"], g["version"], today, numero, g["hash"])),
        demande=demande,
        summary=_summary(static, scores, positions, refusal),
        scores=scores,
        group_adjustments=adjustments,
        total_text=total_text,
        scores_text=S.SCORES_TEXT,
        positions=positions,
        ordering_text=g["ordering_text"],
        decile_text=S.DECILE_TEXT,
        waiting_note=S.WAITING_NOTE,
        criteria=criteria,
        groups=list(static["groups"]),
        status_text=S.STATUS_TEXT,
        refusal=refusal,
        notes=list(S.NOTES),
        privacy_text=S.privacy_text(HISTOGRAM_MIN_CELL, WAITING_MIN_LEASES),
        **_table_notes(positions),
    )


def _table_notes(positions: list[Position]) -> dict:
    """The sentences under the positions table (every position's cell and waiting cell named)."""
    cells: list[Waiting] = []
    refs = []
    for p in positions:
        found = next((k for k, w in enumerate(cells) if w.cell_text == p.waiting.cell_text), None)
        if found is None:
            cells.append(p.waiting)
            found = len(cells) - 1
        refs.append(found + 1)
    fallback = next((p.fallback_text for p in positions if p.fallback_text), None)
    hidden = next((p.histogram_note for p in positions if p.histogram_note), None)
    return {"positions_note": S.positions_note(positions[0].cell_text if positions else "", len(positions),
                                                fallback),
            "waiting_cells_text": S.waiting_cells_text([(w.cell_text, w.n_attributions) for w in cells],
                                                      any(w.fallback for w in cells)),
            "waiting_refs": refs, "histogram_hidden_text": hidden}


def _group_adjustments(static: dict, pairs: list, counted_by_pair: list[list[int]]) -> list[GroupAdjustment]:
    """Where a group's cap or floor changes what its criteria add up to (per commune)."""
    groups = {g.id: g for g in static["groups"]}
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
        where = None if len(communes) == len(pairs) else communes
        out.append(GroupAdjustment(group=gid, communes=communes, points=raw / 100, counted=bounded / 100,
                                   text=S.adjustment_text(g.label, g.mark, where, raw, bounded,
                                                          static["names"]),
                                   delta_text=S.counted_text(bounded - raw)))
    return out


def _position_entry(static: dict, values: dict, level: tuple, level_i: int, rank: int, size: int,
                    n_above: int, hist, waiting: WaitingStats, threshold: int | None, score: int,
                    score_v: int, anciennete: int, refused: tuple[int, int] | None = None) -> Position:
    g = static["grid"]
    names = static["names"]
    commune, typologie = values["loc.commune"], values["typologie"]
    cell = cell_text(level, values, names, g["territory"], "demandes")
    decile = (10 * rank + size - 1) // size
    fallback_text = None
    if level_i > 0:
        first = cell_text(tuple(static["levels"][0]), values, names, g["territory"], "demandes")
        fallback_text = S.position_fallback_text(g["min_size"], first, cell)
    histogram = None
    if hist is not None:
        edges, counts, own = hist
        # Privacy: a bin of 1 to 4 demandes is not drawn (it could single out a household).
        histogram = Histogram(edges=[e / 100 for e in edges],
                              counts=[c if c >= HISTOGRAM_MIN_CELL else 0 for c in counts], own_bin=own,
                              caption=S.histogram_caption(size, cell, score))
    delai = None
    if threshold is not None:
        exceeded = anciennete >= threshold
        delai = DelaiLong(threshold_months=threshold, anciennete_mois=anciennete, exceeded=exceeded,
                          text=S.delai_text(anciennete, threshold, typologie, exceeded))
    return Position(
        commune=commune, commune_name=names.get(commune), typologie=typologie,
        heading=S.heading(typologie, commune, names),
        score=score / 100, score_valide=score_v / 100, score_text=S.position_score_text(score, score_v),
        rank=rank, of=size, n_above=n_above, share_above=float(round(Fraction(n_above, size), 6)),
        decile=decile, cell_key=cell_key(level, tuple(values[k] for k in level)), cell_text=cell,
        fallback=level_i > 0, fallback_text=fallback_text,
        text=S.rank_text(rank, size, n_above, decile, cell),
        histogram=histogram,
        histogram_note=None if hist is not None else S.histogram_note(HISTOGRAM_MIN_CELL),
        waiting=_waiting_entry(static, values, waiting),
        delai_anormalement_long=delai,
        refusal_score=None if refused is None else refused[0] / 100,
        refusal_n_above=None if refused is None else refused[1],
        refusal_text=None if refused is None else S.refusal_position_text(score, refused[0], refused[1]),
    )


def _waiting_entry(static: dict, values: dict, w: WaitingStats) -> Waiting:
    """The waiting-time block of a position; cached per run, since a few cells serve every demande."""
    cache = static["waiting_cache"]
    key = (w.level, w.values, w.n, w.total_days, w.median_twice, w.start, w.end,
           values["loc.commune"], values["typologie"], values["est_mutation"])
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = _waiting_entry_uncached(static, values, w)
    return hit


def _waiting_entry_uncached(static: dict, values: dict, w: WaitingStats) -> Waiting:
    g = static["grid"]
    names, territory = static["names"], g["territory"]
    first = tuple(static["levels"][0])
    period = S.waiting_period(dt.date.fromisoformat(w.start.isoformat()), w.end)
    leases = cell_text(w.level, values, names, territory, "logements")
    shown = w.n >= WAITING_MIN_LEASES
    figures: dict[str, Any] = dict.fromkeys(("mean_days", "median_days", "mean_months", "median_months"))
    if shown:
        figures = {k: float(format_fraction(getattr(w, k), 1)) for k in figures}
        text = S.waiting_shown_text(w.mean_months, w.mean_days, w.median_months, w.median_days,
                                    g["statistic"] == "mean", w.n, leases, period)
    elif w.n == 0:
        text = S.waiting_none_text(period, leases)
    else:
        text = S.waiting_few_text(period, w.n, WAITING_MIN_LEASES)
    fallback_text = None
    if w.level != first:
        fallback_text = S.waiting_fallback_text(
            g["min_size"], cell_text(first, values, names, territory, "logements"), period, leases)
    return Waiting(cell_key=w.key, cell_text=leases, fallback=w.level != first, n_attributions=w.n,
                   window_months=g["window_months"], window_start=w.start.isoformat(),
                   window_end_exclusive=w.end.isoformat(), shown=shown, **figures, text=text,
                   fallback_text=fallback_text)


def _refusal(static: dict, criteria: list[Criterion], positions: list[Position]) -> Refusal:
    """The grid's refusal policy and what each refusal criterion takes from the demande now."""
    policy = static["grid"]["refusal_policy"]
    items = []
    for c in criteria:
        if not c.refusal_effect:
            continue
        for o in c.outcomes:
            h = round(o.counted * 100)
            items.append(RefusalItem(id=c.id, label=c.label, commune=o.commune, points=h / 100,
                                     text=S.refusal_item_text(h, o.commune, static["names"])))
    text = S.NO_REFUSAL_EFFECT if policy is None and not items else (policy or "")
    return Refusal(policy=policy, criteria=items, text=text,
                   effect_text=S.refusal_effect_text(positions))


def _summary(static: dict, scores: list[ScoreLine], positions: list[Position],
             refusal: Refusal) -> list[SummaryItem]:
    """The four questions of a newcomer, answered from the statement's own figures."""
    names = static["names"]
    q = S.QUESTIONS
    points = S.points_answer([(s.commune, round(s.score * 100), round(s.score_valide * 100))
                              for s in scores], names)
    p = positions[0]        # first choice, first typologie
    where = S.position_answer(p.typologie, p.commune, p.rank, p.of, len(positions) > 1, names)
    waiting = S.waiting_answer(p.waiting, p.typologie, p.commune, static["grid"]["window_months"], names)
    if refusal.policy is None and not refusal.criteria:
        refused = refusal.text
    else:
        refused = S.refusal_answer(any(c.points < 0 for c in refusal.criteria))
        if refusal.effect_text:     # computed for this demande today
            refused += " " + refusal.effect_text.split(". Le détail")[0] + "."
    return [SummaryItem(q[0], points), SummaryItem(q[1], where), SummaryItem(q[2], waiting),
            SummaryItem(q[3], refused)]

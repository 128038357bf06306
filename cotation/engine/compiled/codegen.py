"""IR → Python source of two Numba kernels (``count_pairs`` and ``score_pairs``).

The generated source depends only on the grid's *structure*: every number, code, text,
date, commune and lookup table the grid contains lives in a *slot* of the parameter arrays
(``pf`` float64, ``pi`` int64, ``plut`` uint8) that the kernels receive as arguments. Editing a
number, a threshold or a set literal therefore produces the same source, the same digest and
a warm kernel cache.

Safety: the source is built only from identifiers made here (``v12``, ``col3``, ``m4``) and
from integers formatted here (slot and criterion indices). No grid string (id, label, field
name, literal, commune) is ever written into it; :func:`audit_source` double-checks that the
only literals in the generated module are small integers and a fixed set of float literals,
before the module is first executed (:func:`cotation.engine.compiled.cache.load`). Loading
the grid's kernels as native machine code never executes the source (it only names them by
its digest), so that warm path does not pay the audit (15-17 ms for bench30).

Value representation inside the kernels, per expression kind:

=========================  ====================================  ===========================
kind                       value                                 missing
=========================  ====================================  ===========================
int, decimal               float64 (IEEE, like the interpreter)  NaN in columns / known=False;
                                                                 any non-finite value or
                                                                 result is missing
bool                       bool (columns: int8 1/0/-1)           -1 / known=False
date                       int64 proleptic ordinal               ``DMISS`` sentinel
code                       int64 index in the enum's domain      -1
text, commune              int64 id in a sorted dictionary       -1
set of codes               uint64 bitset row (n, words)          never missing
localisations              CSR (pointer, commune id)             never missing
=========================  ====================================  ===========================

Every expression lowers to a pair of variables (value, known): three-valued logic without
exceptions, branch-free where it matters.
"""
from __future__ import annotations


from cotation.data.schema import Kind
from cotation.engine.compiled.lower import _Fn, _Shared, _emit_bounds
from cotation.engine.compiled.plan import (
    AND, BSEL, DMISS, GENERATOR_VERSION, KernelPlan, KeySpec, OR, _BOOL, _INT,
)
from cotation.engine.compiled.prelude import _PRELUDE
from cotation.grid import ir

# ------------------------------------------------------------------------------ kernels

def _indent(lines: list[str], depth: int) -> list[str]:
    pad = "    " * depth
    return [pad + ln for ln in lines]


def generate(grid: ir.GridIR) -> KernelPlan:
    """Lower a grid IR to kernel source plus the recipe for its parameter arrays."""
    sh = _Shared(grid)
    K = len(grid.criteria)
    W = max(1, (K + 63) // 64)

    # ---- count_pairs: scope (applies_to) and distinct territory localisations per demande
    cf = _Fn(sh, has_pairs=False)
    if grid.applies_to is not None:
        _, av, ak = cf.lower(grid.applies_to)
        in_scope = AND(ak, av)
    else:
        in_scope = "True"

    # ---- score_pairs
    sf = _Fn(sh, has_pairs=True)
    valid_needed = [c for c in grid.criteria if c.needs_validation]
    if valid_needed:
        cv_ref = ir.Ref(ir.Type(Kind.CODESET, tuple(c.id for c in grid.criteria),
                                "criteres_valides"), grid.criteria[0].span,
                        "criteres_valides", "column")
        sf.valid_col = sh.column(cv_ref)

    for c in grid.criteria:
        _criterion(sf, c)
    P = sf.p_lines
    met_v = {c.index: (f"cmv{c.index}" if c.needs_validation else f"cm{c.index}")
             for c in grid.criteria}
    h_v = {c.index: (f"chv{c.index}" if c.needs_validation else f"ch{c.index}")
           for c in grid.criteria}
    h_p = {c.index: f"ch{c.index}" for c in grid.criteria}
    met_p = {c.index: f"cm{c.index}" for c in grid.criteria}

    aside_p, tot, per_group = _combine(sf, grid, P, met_p, h_p)
    if valid_needed:
        aside_v, totv, _ = _combine(sf, grid, P, met_v, h_v, reuse=per_group)
    else:
        aside_v, totv = aside_p, tot

    # ---- ordering keys
    keys: list[KeySpec] = []
    out = dout = 0
    key_lines: list[str] = []
    for k in grid.ordering:
        if k.expr is None:
            keys.append(KeySpec(k.label, k.direction, None, None, -1))
            continue
        kind, v, kn = sf.lower(k.expr)
        if kind == _BOOL:
            val = f"_sel({v}, 1.0, 0.0)"
        elif kind == _INT:
            val = f"float({v})"
        else:
            val = v
        if ir.uses_loc(k.expr):
            key_lines.append(f"o_keys[p, {out}] = {val}")
            key_lines.append(f"o_keysk[p, {out}] = {kn}")
            keys.append(KeySpec(k.label, k.direction, k.expr.type.kind, k.expr.type.enum, out))
            out += 1
        else:
            sf.d_lines.append(f"o_dkeys[i, {dout}] = {val}")
            sf.d_lines.append(f"o_dkeysk[i, {dout}] = {kn}")
            keys.append(KeySpec(k.label, k.direction, k.expr.type.kind, k.expr.type.enum, dout,
                                True))
            dout += 1

    # ---- outputs
    outl: list[str] = ["o_row[p] = i", "o_terr[p] = t", "o_rang[p] = rang",
                       f"o_score[p] = {tot}", f"o_scorev[p] = {totv}"]
    for w in range(W):
        for name, flags in (("o_met", met_p), ("o_aside", aside_p), ("o_metv", met_v),
                            ("o_asidev", aside_v)):
            terms = [f"(np.uint64({flags[j]}) << np.uint64({j - w * 64}))"
                     for j in range(w * 64, min(K, (w + 1) * 64)) if j in flags]
            outl.append(f"{name}[p, {w}] = {' | '.join(terms) if terms else 'np.uint64(0)'}")
    outl.append("if do_points:")
    for j in range(K):
        outl.append(f"    o_points[p, {j}] = ch{j}")
    if K == 0:
        outl.append("    pass")
    outl.extend(key_lines)

    ncol = len(sh.columns)
    cols = "".join(f"col{c}, " for c in range(ncol))
    src: list[str] = [_PRELUDE.format(version=GENERATOR_VERSION, dmiss=DMISS)]
    src.append("@njit(**_OPTS)")
    src.append(f"def count_pairs(lo, hi, skip, loc_ptr, loc_terr, loc_val, terr_ids, pf, pi, "
               f"plut, {cols}counts):")
    body = ["cnt = 0", "if skip[i] == 0:"]
    inner = list(cf.d_lines)
    inner.append(f"if {in_scope}:")
    inner.extend(_indent(["a0 = loc_ptr[i]", "for q in range(a0, loc_ptr[i + 1]):",
                          "    t = loc_terr[q]",
                          "    if t >= 0:",
                          "        dup = False",
                          "        for r in range(a0, q):",
                          "            if loc_terr[r] == t:",
                          "                dup = True",
                          "        if not dup:",
                          "            cnt += 1"], 1))
    body.extend(_indent(inner, 1))
    body.append("counts[i] = cnt")
    src.append("    for i in range(lo, hi):")
    src.extend(_indent(body, 2))
    src.append("")
    src.append("")
    src.append("@njit(**_OPTS)")
    src.append(f"def score_pairs(lo, hi, counts, starts, loc_ptr, loc_terr, loc_val, terr_ids, "
               f"pf, pi, plut, do_points, {cols}o_row, o_terr, o_rang, o_score, o_scorev, "
               f"o_met, o_aside, o_metv, o_asidev, o_points, o_keys, o_keysk, o_dkeys, o_dkeysk):")
    body = ["if counts[i] == 0:", "    continue", "p = starts[i]"]
    body.extend(sf.d_lines)
    body.extend(["a0 = loc_ptr[i]", "for q in range(a0, loc_ptr[i + 1]):"])
    pair = ["t = loc_terr[q]", "if t < 0:", "    continue", "dup = False",
            "for r in range(a0, q):", "    if loc_terr[r] == t:", "        dup = True",
            "if dup:", "    continue", "rang = q - a0 + 1", "lcid = np.int64(terr_ids[t])"]
    pair.extend(sf.p_lines)
    pair.extend(outl)
    pair.append("p += 1")
    body.extend(_indent(pair, 1))
    src.append("    for i in range(lo, hi):")
    src.extend(_indent(body, 2))
    src.append("")
    source = "\n".join(src)
    return KernelPlan(
        source=source, columns=list(sh.columns), f_slots=list(sh.f_slots),
        i_slots=list(sh.i_slots), luts=list(sh.luts), text_consts=frozenset(sh.text_consts),
        commune_consts=frozenset(sh.commune_consts), keys=keys, n_key_outputs=out,
        n_demande_keys=dout, n_criteria=K, words=W)


def _criterion(fn: _Fn, c: ir.CriterionIR) -> None:
    sh = fn.sh
    j = c.index
    L = fn.p_lines if c.uses_loc else fn.d_lines
    cond = "True"
    if c.when is not None:
        _, wv, wk = fn.lower(c.when)
        cond = AND(wk, wv)
    if c.band_of is not None:
        _, bv, bk = fn.lower(c.band_of)
        steps = []
        for s in c.bands:
            tests = [bk]
            if s.low is not None:
                tests.append(f"pf[{sh.number(s.low)}] <= {bv}")
            if s.high is not None:
                tests.append(f"{bv} < pf[{sh.number(s.high)}]")
            test = fn.bind(L, AND(*tests), "f")
            _, pv, pk = fn.lower(s.points)
            steps.append((test, pv, pk))
        val, known = "0.0", "False"
        for test, pv, pk in reversed(steps):
            val = f"_sel({test}, {pv}, {val})"
            known = BSEL(test, pk, known)
    else:
        _, val, known = fn.lower(c.points)
    x = fn.bind(L, val)
    if c.floor is not None:
        s = sh.number(c.floor)
        L.append(f"cf{j} = _sel(pf[{s}] > {x}, pf[{s}], {x})")
        x = f"cf{j}"
    if c.cap is not None:
        s = sh.number(c.cap)
        L.append(f"cc{j} = _sel(pf[{s}] < {x}, pf[{s}], {x})")
        x = f"cc{j}"
    L.append(f"cw{j} = {x} * pf[{sh.number(c.weight)}]")
    # a weighted value beyond MAX_POINTS (or not finite) has no meaning: not met
    L.append(f"cm{j} = {AND(cond, known, f'abs(cw{j}) <= pf[{sh.max_points()}]')}")
    L.append(f"ch{j} = _round_h(_sel(cm{j}, cw{j}, 0.0))")
    if c.needs_validation:
        col = fn.valid_col
        L.append(f"cmv{j} = (cm{j}) & (_has(col{col}, i, np.int64({j})))")
        L.append(f"chv{j} = _sel(cmv{j}, ch{j}, np.int64(0))")


def _combine(fn: "_Fn", grid: ir.GridIR, L: list[str], met: dict[int, str],
             pts: dict[int, str], reuse: dict[str, tuple] | None = None
             ) -> tuple[dict[int, str], str, dict[str, tuple]]:
    """Group policies, group bounds, total bounds. Returns (criterion -> set-aside flag,
    total, per-group results). With ``reuse`` (the provisional results), a group whose
    members never await validation is not recomputed for the validated score. Every step
    assigns a fresh variable (no reassignment: cheaper for Numba's SSA passes)."""

    sh = fn.sh
    aside: dict[int, str] = {}
    totals: list[str] = []
    results: dict[str, tuple] = {}
    for g in grid.groups:
        if reuse is not None and not any(grid.criteria[j].needs_validation for j in g.members):
            tg, g_aside = reuse[g.id]
            aside.update(g_aside)
            totals.append(tg)
            results[g.id] = reuse[g.id]
            continue
        g_aside: dict[int, str] = {}
        if g.policy in ("max", "first") and g.members:
            b, tg = None, None
            for j in g.members:
                n = fn.tmp()
                if b is None:
                    take = met[j]
                    L.append(f"gb{n} = _sel({take}, np.int64({j}), np.int64(-1))")
                    L.append(f"tg{n} = _sel({take}, {pts[j]}, np.int64(0))")
                else:
                    if g.policy == "max":
                        take = fn.bind(L, AND(met[j], OR(f"{b} < 0", f"{pts[j]} > {tg}")), "sw")
                    else:
                        take = fn.bind(L, AND(met[j], f"{b} < 0"), "sw")
                    L.append(f"gb{n} = _sel({take}, np.int64({j}), {b})")
                    L.append(f"tg{n} = _sel({take}, {pts[j]}, {tg})")
                b, tg = f"gb{n}", f"tg{n}"
            for j in g.members:
                g_aside[j] = fn.bind(L, AND(met[j], f"{b} != {j}"), "ca")
        else:
            n = fn.tmp()
            terms = " + ".join(pts[j] for j in g.members) or "0"
            L.append(f"tg{n} = np.int64({terms})")
            tg = f"tg{n}"
        tg = _emit_bounds(L, fn, sh, tg, "tg", g.floor, g.cap)
        aside.update(g_aside)
        totals.append(tg)
        results[g.id] = (tg, g_aside)
    totals += [pts[j] for j in grid.ungrouped]
    n = fn.tmp()
    tot = f"tt{n}"
    L.append(f"{tot} = np.int64({' + '.join(totals) or '0'})")
    tot = _emit_bounds(L, fn, sh, tot, "tt", grid.total_floor, grid.total_cap)
    return aside, tot, results

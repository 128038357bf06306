"""Tests written as data: YAML cases beside a grid, run by ``cotation test`` and by pytest.

A cases file names its grid and a default ``today``; each case gives a demande (canonical
fields) and the expected score, validated score, criteria met, points and criteria set aside
per commune; or several demandes and the expected rank order; or a grid file and the
diagnostic it must produce.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cotation.grid.diagnostics import GridError
from cotation.grid import Grid, load_grid
from cotation.engine.scoring import format_hundredths
from cotation.data.table import DemandeTable
from cotation.data.values import ValueParseError


class CasesError(ValueError):
    """A file that is not a test cases file (one line for the user)."""


@dataclass
class CaseResult:
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return "|".join(str(_cell(v)) for v in value)
    return str(value)


def demandes_table(records: list[dict]) -> DemandeTable:
    """Build a table from case demandes written as YAML scalars (parsed like CSV cells)."""
    rows = []
    for k, rec in enumerate(records):
        row = {key: _cell(v) for key, v in rec.items()}
        row.setdefault("numero_unique", f"CAS{k + 1:015d}")
        rows.append(row)
    return DemandeTable.from_records(rows, parse=True)


def _hundredths(x: Any) -> int:
    return int(round(float(x) * 100))


def load_cases(path: Path) -> dict:
    """Read a cases file; raise CasesError when it is not one (a grid, a list, bad YAML)."""
    from cotation.i18n import _
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise CasesError(_("{where}: not valid YAML ({problem})").format(
            where=where, problem=getattr(exc, "problem", None) or exc)) from None
    if isinstance(doc, dict) and "format" in doc and isinstance(doc.get("grid"), dict):
        raise CasesError(_("{path} is a grid, not a test cases file: run 'cotation validate {path}', "
                           "or 'cotation test CASES.yaml' with its *.cases.yaml file").format(path=path))
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise CasesError(_("{path} is not a test cases file: expected a mapping with a list "
                           "'cases' (see grids/lyon-metropole.cases.yaml)").format(path=path))
    if doc.get("grid") is not None and not isinstance(doc["grid"], str):
        raise CasesError(_("{path}: 'grid' must be the path of the grid file").format(path=path))
    return doc


def run_cases(cases_path: str | Path, grid_path: str | Path | None = None, *,
              engine: str = "interpreter", only: int | None = None) -> list[CaseResult]:
    """Run the cases of a file (or only case number ``only``, 0-based)."""
    from cotation.engine import score

    cases_path = Path(cases_path)
    doc = load_cases(cases_path)
    base = cases_path.parent
    default_grid = Path(grid_path) if grid_path else (base / doc["grid"] if doc.get("grid") else None)
    default_today = doc.get("today")
    grids: dict[Path, Grid] = {}
    results = []
    for i, case in enumerate(doc.get("cases") or []):
        if only is not None and i != only:
            continue
        res = CaseResult(str(case.get("name") or f"case {i + 1}"))
        results.append(res)
        gpath = base / case["grid"] if case.get("grid") else default_grid
        if gpath is None:
            res.failures.append("no grid: give 'grid' in the file or the case")
            continue
        if "expect_error" in case or "expect_errors" in case:
            _check_errors(res, gpath, case)
            continue
        try:
            if gpath not in grids:
                grids[gpath] = load_grid(gpath)
            grid = grids[gpath]
        except GridError as exc:
            res.failures.append(f"the grid does not validate:\n{exc}")
            continue
        today = case.get("today", default_today)
        if isinstance(today, str):
            today = dt.date.fromisoformat(today)
        if not isinstance(today, dt.date):
            res.failures.append("no 'today' reference date for this case")
            continue
        records = case.get("demandes") or ([case["demande"]] if "demande" in case else [])
        try:
            table = demandes_table(records)
        except ValueParseError as exc:
            res.failures.append(f"bad demande field: {exc}")
            continue
        st = score(grid.ir, table, today, engine=engine, explain=True)
        if case.get("expect_not_scored"):
            if len(st):
                res.failures.append(f"expected no cotation, got communes {sorted(set(st.commune))}")
            continue
        expects = case.get("expect") or []
        if isinstance(expects, dict):
            expects = [expects]
        ids = [c.id for c in grid.ir.criteria]
        for exp in expects:
            commune = str(exp.get("commune")) if exp.get("commune") is not None else None
            nu = exp.get("numero_unique", table.columns["numero_unique"][0])
            sel = [p for p in range(len(st)) if st.numero_unique[p] == str(nu)
                   and (commune is None or st.commune[p] == commune)]
            if not sel:
                res.failures.append(f"commune {commune}: not scored (communes scored: "
                                    f"{sorted(set(st.commune))})")
                continue
            p = sel[0]
            where = f"commune {st.commune[p]}"
            if "score" in exp and _hundredths(exp["score"]) != st.score[p]:
                res.failures.append(f"{where}: score {format_hundredths(st.score[p])}, expected {exp['score']}")
            if "score_valide" in exp and _hundredths(exp["score_valide"]) != st.score_valide[p]:
                res.failures.append(f"{where}: score_valide {format_hundredths(st.score_valide[p])}, "
                                    f"expected {exp['score_valide']}")
            met = {ids[j] for j in range(len(ids)) if st.criterion_met(j)[p]}
            if "met" in exp and set(exp["met"] or []) != met:
                res.failures.append(f"{where}: criteria met {sorted(met)}, expected {sorted(exp['met'] or [])}")
            if "set_aside" in exp:
                aside = {ids[j] for j in range(len(ids))
                         if (int(st.set_aside[p, j // 64]) >> (j % 64)) & 1}
                if set(exp["set_aside"] or []) != aside:
                    res.failures.append(f"{where}: set aside {sorted(aside)}, expected {sorted(exp['set_aside'] or [])}")
            for cid, pts in (exp.get("points") or {}).items():
                if cid not in ids:
                    res.failures.append(f"{where}: unknown criterion '{cid}' in points")
                    continue
                got = st.points[p, ids.index(cid)]
                if _hundredths(pts) != got:
                    res.failures.append(f"{where}: {cid} gives {format_hundredths(got)}, expected {pts}")
            if "rank" in exp and int(exp["rank"]) != st.rank[p]:
                res.failures.append(f"{where}: rank {st.rank[p]}, expected {exp['rank']}")
        for commune, order in (case.get("expect_ranks") or {}).items():
            sel = sorted((st.rank[p], st.numero_unique[p]) for p in range(len(st)) if st.commune[p] == str(commune))
            got = [nu for _, nu in sel]
            if got != [str(x) for x in order]:
                res.failures.append(f"commune {commune}: rank order {got}, expected {order}")
    return results


def _check_errors(res: CaseResult, gpath: Path, case: dict) -> None:
    expected = case.get("expect_errors") or [case["expect_error"]]
    try:
        load_grid(gpath)
    except GridError as exc:
        diags = exc.diagnostics
    else:
        res.failures.append(f"{gpath.name} validates, expected {len(expected)} error(s)")
        return
    for exp in expected:
        if not any(_diag_matches(d, exp) for d in diags):
            res.failures.append(f"no diagnostic matches {exp}; got:\n" + "\n".join(map(str, diags)))


def _diag_matches(d, exp: dict) -> bool:
    if "code" in exp and d.code != exp["code"]:
        return False
    if "line" in exp and d.span.line != int(exp["line"]):
        return False
    if "column" in exp and d.span.column != int(exp["column"]):
        return False
    if "criterion" in exp and d.criterion != exp["criterion"]:
        return False
    if "contains" in exp:   # in the English source text or in the user's language
        want = str(exp["contains"]).lower()
        if want not in d.format(localize=False).lower() and want not in d.format().lower():
            return False
    return True

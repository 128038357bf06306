"""Tests written as data: YAML cases beside a grid, run by ``cotation test`` and by pytest.

A cases file names its grid and a default ``today``; each case gives a demande (canonical
fields) and the expected score, validated score, criteria met, points and criteria set aside
per commune; or several demandes and the expected rank order; or a grid file and the
diagnostic it must produce.

A file written wrong never passes: an unknown key (in the file, a case, an ``expect`` entry or
an expected error), a case without expectation, an entry that checks nothing, an entry that
does not say which demande (several demandes, no ``numero_unique``) or which commune (scored
for several, no ``commune``) it checks are refused with one line ``file:line: problem``
(:class:`CasesError`; exit code 1 for ``cotation test``, a collection error for pytest).
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
    """A file that is not a test cases file, or a case written wrong (one line for the user)."""


# The keys a cases file may use (anything else is a typo that would silently check nothing).
FILE_KEYS = ("grid", "today", "cases")
CASE_KEYS = ("name", "grid", "today", "demande", "demandes", "expect", "expect_ranks",
             "expect_not_scored", "expect_error", "expect_errors")
EXPECT_SELECT_KEYS = ("commune", "numero_unique")            # which cotation an entry is about
EXPECT_CHECK_KEYS = ("score", "score_valide", "met", "set_aside", "points", "rank")
ERROR_KEYS = ("code", "line", "column", "criterion", "contains")  # one expected diagnostic
_SCORING_KEYS = ("demande", "demandes", "today", "expect", "expect_ranks", "expect_not_scored")


@dataclass
class CaseResult:
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class _Mapping(dict):
    """A YAML mapping that remembers its line and the lines of its keys (1-based)."""
    line: int | None = None
    key_lines: dict[str, int] = {}


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text: ``today: 2025-02-30`` is then located by the
    checks ('today' must be a date…) instead of failing inside YAML's date constructor."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode):
    data = _Mapping()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))
    data.key_lines = {str(k.value): k.start_mark.line + 1 for k, _v in node.value
                      if isinstance(k, yaml.ScalarNode)}


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


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
        row.setdefault("numero_unique", _default_numero(k))
        rows.append(row)
    return DemandeTable.from_records(rows, parse=True)


def _default_numero(k: int) -> str:
    return f"CAS{k + 1:015d}"


def _hundredths(x: Any) -> int:
    return int(round(float(x) * 100))


def _names(items) -> str:
    """``[a, b]``: a list as the user writes it in YAML flow style."""
    return "[" + ", ".join(str(x) for x in items) + "]"


def load_cases(path: Path) -> dict:
    """Read a cases file; raise CasesError when it is not one (a grid, a list, bad YAML) or
    when a case is written wrong (unknown key, no expectation, ambiguous expect entry…)."""
    from cotation.i18n import _
    from cotation.data.yaml_input import YamlInputError, check_yaml_input
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CasesError(_("{path}: not UTF-8 text ({reason})").format(
            path=path, reason=exc.reason)) from None
    try:
        check_yaml_input(text)
        doc = yaml.load(text, Loader=_Loader)
    except YamlInputError as exc:
        raise CasesError(_("{where}: {problem}").format(where=f"{path}:{exc.line}",
                                                         problem=exc.message)) from None
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
    _check_file(path, doc)
    return doc


# --------------------------------------------------------------------------- checking the file

def _at(path: Path, node: Any, key: str | None = None) -> str:
    """``file:line`` of ``key`` in the mapping ``node`` (of the mapping itself without a key)."""
    line = getattr(node, "line", None)
    if key is not None:
        line = getattr(node, "key_lines", {}).get(str(key), line)
    return f"{path}:{line}" if line else str(path)


def _fail(path: Path, node: Any, key: str | None, message: str) -> CasesError:
    from cotation.i18n import _
    return CasesError(_("{where}: {problem}").format(where=_at(path, node, key), problem=message))


def _check_keys(path: Path, node: dict, allowed: tuple[str, ...], what: str) -> None:
    from cotation.i18n import _
    from cotation.grid.diagnostics import closest
    for key in node:
        if str(key) not in allowed:
            hint = closest(str(key), allowed)
            hint = _(" (did you mean {names}?)").format(
                names=_(" or ").join(_("'{name}'").format(name=h) for h in hint)) if hint else ""
            raise _fail(path, node, key, _("unknown key '{key}' in {what}{hint}; allowed keys: {keys}").format(
                key=key, what=what, hint=hint, keys=", ".join(allowed)))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (str, int)) and not isinstance(x, bool)


def _check_file(path: Path, doc: dict) -> None:
    from cotation.i18n import _
    _check_keys(path, doc, FILE_KEYS, _("the file"))
    _check_today(path, doc)
    if not doc["cases"]:
        raise _fail(path, doc, "cases", _("'cases' is empty: write at least one case"))
    for case in doc["cases"]:
        if not isinstance(case, dict):
            raise _fail(path, doc, "cases", _("every case must be a mapping (name, demande, expect…)"))
        _check_case(path, case)


def _check_today(path: Path, node: dict) -> None:
    from cotation.i18n import _
    today = node.get("today")
    if today is None or isinstance(today, dt.date):
        return
    from cotation.data.values import parse_date
    try:        # the canonical rule: YYYY-MM-DD only (not 20250630 nor 2025-W27-1)
        if not isinstance(today, str):
            raise ValueError(today)
        parse_date(today)
    except ValueError:
        raise _fail(path, node, "today", _("'today' must be a date written YYYY-MM-DD, not '{value}'").format(
            value=today)) from None


def _must_be(path: Path, node: dict, key: str, what: str) -> CasesError:
    from cotation.i18n import _
    return _fail(path, node, key, _("'{key}' must be {what}").format(key=key, what=what))


def _check_case(path: Path, case: dict) -> None:
    from cotation.i18n import _
    _check_keys(path, case, CASE_KEYS, _("a case"))
    _check_today(path, case)
    if case.get("grid") is not None and not isinstance(case["grid"], str):
        raise _must_be(path, case, "grid", _("the path of a grid file"))
    if "expect_error" in case or "expect_errors" in case:
        _check_error_case(path, case)
        return
    expects = case.get("expect")
    ranks = case.get("expect_ranks")
    not_scored = case.get("expect_not_scored")
    if expects is not None and not isinstance(expects, (list, dict)):
        raise _must_be(path, case, "expect", _("a list of expected cotations (commune, score, met…)"))
    if ranks is not None and not (isinstance(ranks, dict)
                                  and all(isinstance(v, list) and v for v in ranks.values())):
        raise _must_be(path, case, "expect_ranks", _("a mapping from a commune to the list of its "
                                                     "numero_unique in rank order"))
    if not_scored is not None and not_scored is not True:
        raise _fail(path, case, "expect_not_scored", _(
            "'expect_not_scored' can only be true; to expect cotations, write 'expect' instead"))
    if not expects and not ranks and not not_scored:
        raise _fail(path, case, None, _(
            "this case states no expectation: add 'expect' (score, met… per commune), "
            "'expect_ranks', 'expect_not_scored: true' or 'expect_error'"))
    if not_scored:
        for key in ("expect", "expect_ranks"):
            if key in case:
                raise _fail(path, case, key, _("'expect_not_scored' and '{key}' contradict each other: "
                                               "keep one").format(key=key))
    if "demande" in case and "demandes" in case:
        raise _fail(path, case, "demandes", _("give 'demande' or 'demandes', not both"))
    if "demande" in case:
        records = [case["demande"]]
        if not isinstance(case["demande"], dict):
            raise _must_be(path, case, "demande", _("a mapping of demande fields"))
    elif "demandes" in case:
        records = case["demandes"]
        if not (isinstance(records, list) and records and all(isinstance(r, dict) for r in records)):
            raise _must_be(path, case, "demandes", _("a list of demandes (mappings of demande fields)"))
    else:
        raise _fail(path, case, None, _("this case has no demande: add 'demande' (or 'demandes', "
                                        "several of them)"))
    numeros = [str(_cell(r["numero_unique"])) if "numero_unique" in r else _default_numero(k)
               for k, r in enumerate(records)]   # as demandes_table() numbers them
    for k, nu in enumerate(numeros):
        if nu in numeros[:k]:
            raise _fail(path, records[k], "numero_unique", _(
                "numero_unique '{numero}' is given to two demandes of this case").format(numero=nu))
    if isinstance(expects, dict):
        expects = [expects]
    for exp in expects or []:
        _check_expect(path, case, exp, numeros)


def _check_expect(path: Path, case: dict, exp: Any, numeros: list[str]) -> None:
    from cotation.i18n import _
    if not isinstance(exp, dict):
        raise _fail(path, case, "expect", _("every 'expect' entry must be a mapping (commune, score, met…)"))
    _check_keys(path, exp, EXPECT_SELECT_KEYS + EXPECT_CHECK_KEYS, _("an 'expect' entry"))
    for key in EXPECT_SELECT_KEYS:
        if key in exp and not _is_scalar(exp[key]):
            raise _must_be(path, exp, key, _("a code written as text, in quotes"))
    for key in ("score", "score_valide"):
        if key in exp and not _is_number(exp[key]):
            raise _must_be(path, exp, key, _("a number (a decimal point, not a comma)"))
    if "rank" in exp and not _is_whole(exp["rank"]):
        raise _must_be(path, exp, "rank", _("a whole number"))
    for key in ("met", "set_aside"):
        if key in exp and exp[key] is not None and not (
                isinstance(exp[key], list) and all(isinstance(c, str) for c in exp[key])):
            raise _must_be(path, exp, key, _("a list of criterion ids"))
    points = exp.get("points")
    if points is not None and not (isinstance(points, dict) and all(_is_number(v) for v in points.values())):
        raise _must_be(path, exp, "points", _("a mapping from a criterion id to its points"))
    if not any(k in exp for k in EXPECT_CHECK_KEYS if k != "points") and not points:
        raise _fail(path, exp, None, _("this 'expect' entry checks nothing: add at least one of {keys}").format(
            keys=", ".join(EXPECT_CHECK_KEYS)))
    if "numero_unique" in exp:
        if str(exp["numero_unique"]) not in numeros:
            raise _fail(path, exp, "numero_unique", _(
                "numero_unique '{numero}' is not a demande of this case ({numeros})").format(
                numero=exp["numero_unique"], numeros=", ".join(numeros)))
    elif len(numeros) > 1:
        raise _fail(path, exp, None, _(
            "this case has several demandes: add 'numero_unique' to this 'expect' entry "
            "to say which one it checks"))


def _check_error_case(path: Path, case: dict) -> None:
    from cotation.i18n import _
    if "expect_error" in case and "expect_errors" in case:
        raise _fail(path, case, "expect_errors", _("give 'expect_error' or 'expect_errors', not both"))
    for key in _SCORING_KEYS:
        if key in case:
            raise _fail(path, case, key, _(
                "'{key}' is not used by a case that expects grid errors: remove it, or write "
                "another case").format(key=key))
    if "expect_error" in case:
        expected = [case["expect_error"]]
        if not isinstance(case["expect_error"], dict):
            raise _must_be(path, case, "expect_error", _("a mapping (code, line, column, criterion, contains)"))
    else:
        expected = case["expect_errors"]
        if not (isinstance(expected, list) and expected and all(isinstance(e, dict) for e in expected)):
            raise _must_be(path, case, "expect_errors", _(
                "a list of expected errors (mappings of code, line, column, criterion, contains)"))
    for exp in expected:
        _check_keys(path, exp, ERROR_KEYS, _("an expected error"))
        if not exp:
            raise _fail(path, exp, None, _("this expected error checks nothing: add at least one of {keys}").format(
                keys=", ".join(ERROR_KEYS)))
        for key in ("line", "column"):
            if key in exp and not _is_whole(exp[key]):
                raise _must_be(path, exp, key, _("a whole number"))


# --------------------------------------------------------------------------- running the cases

def run_cases(cases_path: str | Path, grid_path: str | Path | None = None, *,
              engine: str = "interpreter", only: int | None = None) -> list[CaseResult]:
    """Run the cases of a file (or only case number ``only``, 0-based).

    Raise CasesError for a file written wrong (see ``load_cases``) and for an expect entry that
    does not say which cotation it checks when several are scored."""
    from cotation.engine import score
    from cotation.i18n import _

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
        res = CaseResult(str(case.get("name") or _("case {n}").format(n=i + 1)))
        results.append(res)
        gpath = base / case["grid"] if case.get("grid") else default_grid
        if gpath is None:
            res.failures.append(_("no grid: give 'grid' in the file or the case"))
            continue
        if "expect_error" in case or "expect_errors" in case:
            _check_errors(res, gpath, case)
            continue
        try:
            if gpath not in grids:
                grids[gpath] = load_grid(gpath)
            grid = grids[gpath]
        except GridError as exc:
            res.failures.append(_("the grid does not validate:\n{diagnostics}").format(diagnostics=exc))
            continue
        today = case.get("today", default_today)
        if isinstance(today, str):
            today = dt.date.fromisoformat(today)
        if not isinstance(today, dt.date):
            res.failures.append(_("no 'today' reference date for this case"))
            continue
        records = case["demandes"] if "demandes" in case else [case["demande"]]
        try:
            table = demandes_table(records)
        except ValueParseError as exc:
            res.failures.append(_("bad demande field: {error}").format(error=exc))
            continue
        st = score(grid.ir, table, today, engine=engine, explain=True)
        if case.get("expect_not_scored"):
            if len(st):
                res.failures.append(_("expected no cotation, got communes {communes}").format(
                    communes=_names(sorted(set(st.commune)))))
            continue
        expects = case.get("expect") or []
        if isinstance(expects, dict):
            expects = [expects]
        ids = [c.id for c in grid.ir.criteria]
        several = len(records) > 1
        for exp in expects:
            commune = str(exp["commune"]) if exp.get("commune") is not None else None
            nu = str(exp.get("numero_unique", table.columns["numero_unique"][0]))
            sel = [p for p in range(len(st)) if st.numero_unique[p] == nu
                   and (commune is None or st.commune[p] == commune)]
            if not sel:
                what = (_("demande {numero}, commune {commune}") if several and commune is not None
                        else _("demande {numero}") if commune is None else _("commune {commune}"))
                res.failures.append(_("{where}: not scored (communes scored: {communes})").format(
                    where=what.format(numero=nu, commune=commune),
                    communes=_names(sorted({st.commune[p] for p in range(len(st))
                                            if st.numero_unique[p] == nu}))))
                continue
            if len(sel) > 1:
                raise _fail(cases_path, exp, None, _(
                    "this demande is scored for several communes ({communes}): add 'commune' to "
                    "this 'expect' entry to say which one it checks").format(
                    communes=", ".join(st.commune[p] for p in sel)))
            p = sel[0]
            where = (_("demande {numero}, commune {commune}") if several
                     else _("commune {commune}")).format(numero=nu, commune=st.commune[p])
            if "score" in exp and _hundredths(exp["score"]) != st.score[p]:
                res.failures.append(_("{where}: score {got}, expected {expected}").format(
                    where=where, got=format_hundredths(st.score[p]), expected=exp["score"]))
            if "score_valide" in exp and _hundredths(exp["score_valide"]) != st.score_valide[p]:
                res.failures.append(_("{where}: score_valide {got}, expected {expected}").format(
                    where=where, got=format_hundredths(st.score_valide[p]), expected=exp["score_valide"]))
            met = {ids[j] for j in range(len(ids)) if st.criterion_met(j)[p]}
            if "met" in exp and set(exp["met"] or []) != met:
                res.failures.append(_("{where}: criteria met {got}, expected {expected}").format(
                    where=where, got=_names(sorted(met)), expected=_names(sorted(exp["met"] or []))))
            if "set_aside" in exp:
                aside = {ids[j] for j in range(len(ids))
                         if (int(st.set_aside[p, j // 64]) >> (j % 64)) & 1}
                if set(exp["set_aside"] or []) != aside:
                    res.failures.append(_("{where}: criteria set aside {got}, expected {expected}").format(
                        where=where, got=_names(sorted(aside)), expected=_names(sorted(exp["set_aside"] or []))))
            for cid, pts in (exp.get("points") or {}).items():
                if cid not in ids:
                    res.failures.append(_("{where}: unknown criterion '{criterion}' in points").format(
                        where=where, criterion=cid))
                    continue
                got = st.points[p, ids.index(cid)]
                if _hundredths(pts) != got:
                    res.failures.append(_("{where}: {criterion} gives {got}, expected {expected}").format(
                        where=where, criterion=cid, got=format_hundredths(got), expected=pts))
            if "rank" in exp and int(exp["rank"]) != st.rank[p]:
                res.failures.append(_("{where}: rank {got}, expected {expected}").format(
                    where=where, got=st.rank[p], expected=exp["rank"]))
        for commune, order in (case.get("expect_ranks") or {}).items():
            sel = sorted((st.rank[p], st.numero_unique[p]) for p in range(len(st)) if st.commune[p] == str(commune))
            got = [nu for _rank, nu in sel]
            if got != [str(x) for x in order]:
                res.failures.append(_("commune {commune}: rank order {got}, expected {expected}").format(
                    commune=commune, got=_names(got), expected=_names(order)))
    return results


def _check_errors(res: CaseResult, gpath: Path, case: dict) -> None:
    from cotation.i18n import _
    expected = case.get("expect_errors") or [case["expect_error"]]
    try:
        load_grid(gpath)
    except GridError as exc:
        diags = exc.diagnostics
    else:
        res.failures.append(_("{grid} validates, expected {n} error(s)").format(
            grid=gpath.name, n=len(expected)))
        return
    for exp in expected:
        if not any(_diag_matches(d, exp) for d in diags):
            res.failures.append(_("no diagnostic matches {expected}; got:\n{diagnostics}").format(
                expected=_flow(exp), diagnostics="\n".join(d.format() for d in diags)))


def _flow(exp: dict) -> str:
    """``{code: x, line: 3}``: an expected error as the user writes it."""
    return "{" + ", ".join(f"{k}: {v}" for k, v in exp.items()) + "}"


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

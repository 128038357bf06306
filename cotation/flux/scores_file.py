"""The score file of the flux (``--scores``: what ``cotation score`` writes,
``numero_unique, commune, score, score_valide, rank``) read and checked column by column, and
written back (:func:`write_scores_csv`, the synthetic examples)."""
from __future__ import annotations

import collections
import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from cotation.data.values import (MAX_MAGNITUDE, ValueParseError, is_insee_text, is_number_text,
                                  whole_number)
from cotation.flux.errors import FluxInputError, Problem
from cotation.i18n import _

if TYPE_CHECKING:
    import pyarrow as pa

SCORE_COLUMNS = ("numero_unique", "commune", "score", "score_valide", "rank")


# ----------------------------------------------------------------------------- score file

@dataclass(frozen=True)
class ScoreArrays:
    numero_unique: np.ndarray   # str
    commune: np.ndarray         # str
    score: np.ndarray           # float64, NaN when missing
    score_valide: np.ndarray    # float64
    rank: np.ndarray            # int64, -1 when missing
    grid: np.ndarray | None = None   # int64 index of the grid that scored each row (several grids)
    line: np.ndarray | None = None   # int64 line of each row in its file (read_scores_csv)
    source: str = ""                 # that file


GRID_MERGES = ("entrelacement", "priorite")
"""How the ranks of several grids merge into one shortlist (``settings.shortlist.fusion_grilles``):

* ``entrelacement``: the demandes ranked first by each grid (in the dwelling's commune, among
  those wanting its typologie), then those ranked second, and so on; at equal rank, the
  grids' declared order;
* ``priorite``: every demande of the first grid declared, then the second's, and so on.

Ranks are compared only within a grid; pairs no grid scored come last, by date_depot.
"""


def concat_scores(parts: Sequence[ScoreArrays]) -> ScoreArrays:
    """Several grids' scores as one :class:`ScoreArrays`, each row tagged with its grid index."""
    return ScoreArrays(np.concatenate([p.numero_unique for p in parts]), np.concatenate([p.commune for p in parts]),
                       np.concatenate([p.score for p in parts]), np.concatenate([p.score_valide for p in parts]),
                       np.concatenate([p.rank for p in parts]),
                       np.concatenate([np.full(len(p.rank), i, dtype=np.int64) for i, p in enumerate(parts)]))


SCORE_REQUIRED = ("numero_unique", "commune", "score")
_KEPT_PROBLEMS = 1000     # problems kept of a bad score file (the message lists 50, counts all)
# Cells the columnar path reads by itself (Arrow's cast reads them as float() and int() do);
# any other cell goes to the parsers below, the one definition of what a cell may be.
_EASY_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"   # values._NUMBER
_EASY_RANK = r"^[0-9]{1,12}$"
_EASY_COMMUNE = r"^(?:[0-9]{2}|2A|2B)[0-9]{3}$"                                # values._INSEE


class _Cell(ValueError):
    pass


def _score_value(text: str) -> float:
    """A score: a finite decimal written like the canonical numbers; NaN when the cell is empty."""
    t = text.strip()
    if not t:
        return np.nan
    if not is_number_text(t):
        raise _Cell(_("'{text}' is not a decimal number (dot separator)").format(text=text))
    value = float(t)
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise _Cell(_("'{text}' is not a finite number in range").format(text=text))
    return value


def _rank_value(text: str) -> int:
    """A rank in the commune: a whole number from 1 ("3.0" too); -1 when the cell is empty."""
    t = text.strip()
    if not t:
        return -1
    try:
        value = whole_number(t)
    except ValueParseError as exc:
        raise _Cell(str(exc)) from None
    if value < 1:
        raise _Cell(_("'{text}' is not a rank: ranks start at 1").format(text=text))
    if value > MAX_MAGNITUDE:
        raise _Cell(_("'{text}' is out of range").format(text=text))
    return value


def _commune_value(text: str) -> str:
    t = text.strip()
    if not is_insee_text(t):
        raise _Cell(_("'{text}' is not an INSEE commune code").format(text=text))
    return t


def _parse_column(arr: pa.Array, parse: Callable[[str], object], easy: str, target: pa.DataType,
                  fill: object, empty_ok: bool) -> tuple[np.ndarray, dict[int, str]]:
    """One column of text cells, columnar: the cells matching ``easy`` are cast by Arrow (empty
    ones are ``fill`` when ``empty_ok``), the others go through ``parse`` once per distinct text.
    Returns the values and ``{row: reason}`` for the cells that are not values."""
    import pyarrow as pa
    import pyarrow.compute as pc
    n = len(arr)
    is_easy = pc.match_substring_regex(arr, easy)
    if target == pa.string():
        values = np.array(arr.to_numpy(zero_copy_only=False), dtype=str) if n else np.zeros(0, dtype=str)
        easy_rows = np.asarray(is_easy.to_numpy(zero_copy_only=False), dtype=bool)
    else:
        dtype = np.float64 if target == pa.float64() else np.int64
        try:
            cast = np.array(pc.cast(pc.if_else(is_easy, arr, "0"), target).to_numpy(zero_copy_only=False),
                            dtype=dtype)     # a copy: the cells to parse are written into it
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):   # not expected: every cell to parse
            cast, is_easy = np.zeros(n, dtype=dtype), pa.array(np.zeros(n, dtype=bool))
        easy_rows = np.asarray(is_easy.to_numpy(zero_copy_only=False), dtype=bool)
        easy_rows &= (np.abs(cast) <= MAX_MAGNITUDE) if dtype is np.float64 else (cast >= 1)
        values = cast
    if empty_ok:
        empty = np.asarray(pc.equal(arr, "").to_numpy(zero_copy_only=False), dtype=bool)
        values[empty] = fill
        easy_rows |= empty
    bad: dict[int, str] = {}
    odd = np.flatnonzero(~easy_rows)
    if len(odd):
        texts = arr.take(pa.array(odd)).to_pylist()
        parsed: dict[str, object] = {}
        for text in dict.fromkeys(texts):
            try:
                parsed[text] = parse(text)
            except _Cell as exc:
                parsed[text] = exc
        for i, text in zip(odd.tolist(), texts):
            v = parsed[text]
            if isinstance(v, _Cell):
                bad[i] = str(v)
            else:
                values[i] = v
    return values, bad


def _arrow_columns(raw: bytes, names: dict[str, str]) -> tuple[dict[str, pa.Array], np.ndarray] | None:
    """The score columns of a CSV read by Arrow (text cells) and the line of each row, or
    ``None`` when Arrow cannot read it or its rows are not exactly the file's non-blank lines
    after the header (a value over several lines, a short or long line): then the line-by-line
    reader says where each line is."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    try:
        table = pcsv.read_csv(pa.BufferReader(raw), convert_options=pcsv.ConvertOptions(
            column_types={raw_name: pa.string() for raw_name in names.values()},
            include_columns=list(names.values())))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):
        return None
    # Arrow skips blank lines (as the line-by-line reader does): number the others.
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(buf == 10) + 1))
    length = np.diff(np.append(starts, len(buf) + 1)) - 1
    first = buf[np.minimum(starts, max(len(buf) - 1, 0))] if len(buf) else np.zeros(len(starts), np.uint8)
    blank = (length == 0) | ((length == 1) & (first == 13))
    lines = np.flatnonzero(~blank)[1:] + 1
    if table.num_rows != len(lines) or table.num_rows == 0:
        return None
    return {name: table.column(raw_name).combine_chunks() for name, raw_name in names.items()}, lines


def read_scores_csv(path: str | Path) -> ScoreArrays:
    """Read a ``cotation score`` output (columns :data:`SCORE_COLUMNS`, others ignored).

    Every cell is checked: numero_unique present, commune an INSEE code, score and score_valide
    finite decimals, rank a whole number from 1 (an empty score or rank is a missing value).
    Any bad line, a missing or duplicated column, or a file without a score line raises
    :class:`FluxInputError` with every problem as ``file:line: column X: reason``. Whether each
    line matches a demande is checked against the demandes by :class:`ScoreFileSource`.

    Columnar: Arrow reads the file when its rows are its lines, else a line-by-line reader
    collects the cells; both give each column to the same checks.
    """
    path = Path(path)
    try:
        return _read_scores_csv(path, str(path))
    except UnicodeDecodeError as exc:
        raise FluxInputError([Problem(str(path), 1, _("not UTF-8 text ({reason})").format(
            reason=exc.reason))]) from None


def _read_scores_csv(path: Path, source: str) -> ScoreArrays:
    import pyarrow as pa
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            raw_header = next(reader)
        except StopIteration:
            raise FluxInputError([Problem(source, 1, _("empty file, expected a header row"))]) from None
        header = [h.strip() for h in raw_header]
        problems: list[Problem] = []
        missing = [c for c in SCORE_REQUIRED if c not in header]
        if missing:
            problems.append(Problem(source, 1, _("missing required column(s): {names}").format(names=", ".join(missing))))
        dup = [c for c in SCORE_COLUMNS if header.count(c) > 1]
        if dup:
            problems.append(Problem(source, 1, _("duplicated column(s): {names}").format(names=", ".join(dup))))
        if problems:
            raise FluxInputError(problems)
        names = {c: raw_header[header.index(c)] for c in SCORE_COLUMNS if c in header}
        arrow = _arrow_columns(path.read_bytes(), names)
        n_problems = 0
        if arrow is not None:
            cols, lines = arrow
            n = len(lines)
        else:
            width = len(header)
            texts: dict[str, list[str]] = {c: [] for c in names}
            # One append per cell, unrolled: a column left out (score_valide, rank) goes to a sink.
            sink = collections.deque(maxlen=0).append
            (i_nu, a_nu), (i_c, a_c), (i_s, a_s), (i_v, a_v), (i_r, a_r) = (
                (header.index(c), texts[c].append) if c in texts else (header.index("score"), sink)
                for c in SCORE_COLUMNS)
            line_list: list[int] = []
            add_line = line_list.append
            for rec in reader:
                if len(rec) != width:
                    if not rec or (len(rec) == 1 and not rec[0].strip()):
                        continue
                    n_problems += 1
                    if len(problems) < _KEPT_PROBLEMS:
                        problems.append(Problem(source, reader.line_num, _("{n} cells, header has {m}").format(
                            n=len(rec), m=width)))
                    continue
                a_nu(rec[i_nu])
                a_c(rec[i_c])
                a_s(rec[i_s])
                a_v(rec[i_v])
                a_r(rec[i_r])
                add_line(reader.line_num)
            n = len(line_list)
            lines = np.array(line_list, dtype=np.int64)
            cols = {c: pa.array(v, type=pa.string()) for c, v in texts.items()}
            del texts
    if n == 0 and not problems:
        raise FluxInputError([Problem(source, 1, _("no score line after the header: the dispatch would run "
                                                   "without cotation (leave out --scores to order the "
                                                   "shortlists by date_depot)"))])
    # Cells, column by column; a problem is (row, column order, column, reason).
    cells: list[tuple[int, int, str, str]] = []
    nus = [t.strip() for t in cols.pop("numero_unique").to_pylist()]
    if not all(nus):
        cells += [(i, 0, "numero_unique", _("{name} is required").format(name="numero_unique"))
                  for i, t in enumerate(nus) if not t]
    parsed: dict[str, np.ndarray] = {}
    for order, (name, parse, easy, target, fill, empty_ok) in enumerate((
            ("commune", _commune_value, _EASY_COMMUNE, pa.string(), "", False),
            ("score", _score_value, _EASY_DECIMAL, pa.float64(), np.nan, True),
            ("score_valide", _score_value, _EASY_DECIMAL, pa.float64(), np.nan, True),
            ("rank", _rank_value, _EASY_RANK, pa.int64(), -1, True)), 1):
        arr = cols.pop(name, None)
        if arr is None:          # score_valide and rank may be left out
            parsed[name] = np.full(n, fill, dtype=np.float64 if target == pa.float64() else np.int64)
            continue
        parsed[name], bad = _parse_column(arr, parse, easy, target, fill, empty_ok)
        cells += [(i, order, name, reason) for i, reason in bad.items()]
    if cells or problems:
        cells.sort()
        n_problems += len(cells)
        problems += [Problem(source, int(lines[i]), reason, name) for i, _o, name, reason in cells[:_KEPT_PROBLEMS]]
        problems.sort(key=lambda p: p.line)
        raise FluxInputError(problems[:_KEPT_PROBLEMS], total=n_problems)
    return ScoreArrays(np.array(nus, dtype=str), parsed["commune"], parsed["score"], parsed["score_valide"],
                       parsed["rank"], line=lines, source=source)


def write_scores_csv(scores: ScoreArrays, path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(SCORE_COLUMNS)
        for nu, c, s, v, r in zip(scores.numero_unique.tolist(), scores.commune.tolist(), scores.score.tolist(),
                                  scores.score_valide.tolist(), scores.rank.tolist()):
            w.writerow([nu, c, "" if s != s else repr(s), "" if v != v else repr(v), "" if r < 0 else r])


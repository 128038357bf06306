"""The kernel plan: what generated kernels read (columns, ordering keys, parameter slots), the
value kinds inside kernels, and the small term builders the lowering writes with.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from cotation.data.schema import Kind
from cotation.grid import ir

GENERATOR_VERSION = 2          # 2: non-finite results are missing, _round_to bounded
DMISS = -(2 ** 62)          # missing date sentinel (int64)

_FLOAT = "f"
_INT = "i"
_BOOL = "b"
_SET = "s"
_LOCS = "l"


class LoweringError(ValueError):
    """The grid uses a construct the code generator cannot lower (never a silent fallback)."""


def AND(*terms: str) -> str:
    """Branch-free conjunction of boolean terms (``&`` on bools; no short-circuit blocks)."""
    terms = tuple(t for t in terms if t != "True")
    if not terms:
        return "True"
    if "False" in terms:
        return "False"
    return terms[0] if len(terms) == 1 and _simple(terms[0]) else " & ".join(f"({t})" for t in terms)


def OR(*terms: str) -> str:
    """Branch-free disjunction of boolean terms."""
    terms = tuple(t for t in terms if t != "False")
    if not terms:
        return "False"
    if "True" in terms:
        return "True"
    return terms[0] if len(terms) == 1 and _simple(terms[0]) else " | ".join(f"({t})" for t in terms)


def BSEL(c: str, a: str, b: str) -> str:
    """Branch-free boolean ``a if c else b``."""
    return OR(AND(c, a), AND(f"not ({c})" if not _simple(c) else f"not {c}", b))


def _simple(term: str) -> bool:
    return term.replace("_", "").isalnum()


def NOT(term: str) -> str:
    if term == "True":
        return "False"
    if term == "False":
        return "True"
    return f"not {term}" if _simple(term) else f"not ({term})"


_PARAM_RE = re.compile(r"\(?p[fi]\[[0-9]+\]( == 1\))?\Z")


def value_kind(t: ir.Type) -> str:
    k = t.kind
    if k in (Kind.INT, Kind.DECIMAL):
        return _FLOAT
    if k is Kind.BOOL:
        return _BOOL
    if k in (Kind.DATE, Kind.CODE, Kind.TEXT, Kind.COMMUNE):
        return _INT
    if k is Kind.CODESET:
        return _SET
    if k is Kind.COMMUNES:
        return _LOCS
    raise LoweringError(f"no kernel representation for values of kind {k.value}")


# ------------------------------------------------------------------------------ the plan

@dataclass(frozen=True)
class ColumnSpec:
    """A demande column a kernel reads (its name never enters the generated source)."""

    name: str
    source: str          # 'column' (canonical) or 'local' (a grid field)
    kind: Kind
    enum: tuple[str, ...] | None


@dataclass(frozen=True)
class KeySpec:
    """An ordering key: ``score`` or an expression (its values are kernel outputs)."""

    label: str
    direction: str
    kind: Kind | None            # None for the score
    enum: tuple[str, ...] | None
    output: int                  # column of ``o_keys`` or ``o_dkeys`` (-1 for the score)
    demande_only: bool = False   # reads neither loc. nor the score: one value per demande,
                                 # written to ``o_dkeys[i]`` (else ``o_keys[p]``)


class ParamContext:
    """What slot resolvers need from an encoded batch (implemented by the encoder)."""

    today: int

    def code_index(self, enum: tuple[str, ...], value: str) -> int: ...      # pragma: no cover
    def domain_size(self, enum: tuple[str, ...]) -> int: ...                  # pragma: no cover
    def text_id(self, value: str) -> int: ...                                  # pragma: no cover
    def commune_id(self, value: str) -> int: ...                               # pragma: no cover


Resolver = Callable[[ParamContext], Any]


@dataclass
class KernelPlan:
    """Everything produced from a grid IR: the source, and how to fill its parameter slots."""

    source: str
    columns: list[ColumnSpec]
    f_slots: list[Resolver]
    i_slots: list[Resolver]
    luts: list[tuple[int, Resolver]]          # (pi slot holding the offset, builder)
    text_consts: frozenset[str]
    commune_consts: frozenset[str]
    keys: list[KeySpec]
    n_key_outputs: int
    n_demande_keys: int
    n_criteria: int
    words: int

    def params(self, ctx: ParamContext):
        """The parameter arrays (pf, pi, plut) for one encoded batch."""
        import numpy as np

        pi_vals = [0] * len(self.i_slots)
        for s, r in enumerate(self.i_slots):
            if r is not None:
                pi_vals[s] = int(r(ctx))
        parts = []
        offset = 0
        for slot, build in self.luts:
            table = np.asarray(build(ctx), dtype=np.uint8)
            pi_vals[slot] = offset
            parts.append(table)
            offset += len(table)
        plut = np.concatenate(parts) if parts else np.zeros(1, dtype=np.uint8)
        pf = np.array([float(r(ctx)) for r in self.f_slots] or [0.0], dtype=np.float64)
        pi = np.array(pi_vals or [0], dtype=np.int64)
        return pf, pi, np.ascontiguousarray(plut)

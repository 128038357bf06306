"""Which source columns a grid reads, and what reads each: the boundary's column check.

A column is read when an expression refers to it directly (``applies_to``, a criterion's
``when``, ``points``, ``band_of`` or band points, an ordering key), through a derived field
(``taux_effort`` reads ``loyer_actuel``, ``aide_logement`` and ``ressources_mensuelles``), as
a local field without a default, or as a peer key (``typologie`` is the typology sought,
``typologies``). ``localisations`` is always read: it says which communes a demande is scored
in. A local field with a default may be absent: the spec gives every row its default.
"""
from __future__ import annotations

from cotation.data.schema import COLUMNS_BY_NAME, Column
from cotation.grid import ir

_PEER_COLUMNS = {"typologie": "typologies", "est_mutation": "est_mutation"}


def _refs(expr: ir.Expr | None) -> list[ir.Ref]:
    return [] if expr is None else [n for n in ir.walk(expr) if isinstance(n, ir.Ref)]


def columns_read(grid: ir.GridIR) -> dict[str, list[str]]:
    """Source column -> what reads it (criterion ids, ``applies_to``, ``ordering``,
    ``peers``, ``territory``), for every column a source must provide to be scored."""
    derived = dict(grid.derived)
    local_default = {f.name: f.default for f in grid.local_fields}
    out: dict[str, list[str]] = {"localisations": ["territory"]}

    def add(expr: ir.Expr | None, reader: str, seen: frozenset[str] = frozenset()) -> None:
        for ref in _refs(expr):
            if ref.source == "derived":
                if ref.name not in seen:
                    add(derived.get(ref.name), f"{reader} (via {ref.name})", seen | {ref.name})
                continue
            if ref.source == "local" and local_default.get(ref.name) is not None:
                continue
            readers = out.setdefault(ref.name, [])
            if reader not in readers:
                readers.append(reader)

    add(grid.applies_to, "applies_to")
    for c in grid.criteria:
        for expr in (c.when, c.points, c.band_of, *(b.points for b in c.bands)):
            add(expr, c.id)
    for key in grid.ordering:
        add(key.expr, "ordering")
    for key in dict.fromkeys((*grid.peers_by, *(k for level in grid.peers_fallback for k in level))):
        column = _PEER_COLUMNS.get(key)
        if column in COLUMNS_BY_NAME:
            readers = out.setdefault(column, [])
            if "peers" not in readers:
                readers.append("peers")
    return out


def local_field_columns(grid: ir.GridIR) -> dict[str, Column]:
    """The grid's local fields as columns of their declared kind, by name: what the boundary
    reads an in-memory source's column of one of them by (``known_extras`` of
    :func:`cotation.data.boundary.admit`)."""
    return {f.name: local_field_column(f) for f in grid.local_fields}


def local_field_column(f: ir.LocalFieldIR) -> Column:
    """A local field as a column of its declared kind: how the boundary and both engines read
    its values."""
    return Column(f.name, f.type.kind, False, f.type.enum)


def reads_of(*grids: ir.GridIR) -> tuple[dict[str, list[str]], dict[str, Column]]:
    """What the boundary checks a source against for ``grids`` (one, or the grids of a
    comparison): the columns they read, each with its readers (:func:`columns_read`, merged),
    and their local fields (:func:`local_field_columns`)."""
    needs: dict[str, list[str]] = {}
    known: dict[str, Column] = {}
    for g in grids:
        for column, readers in columns_read(g).items():
            have = needs.setdefault(column, [])
            have += [r for r in readers if r not in have]
        known.update(local_field_columns(g))
    return needs, known

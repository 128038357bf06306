"""Information statements owed to each demandeur (CCH R441-2-10, domain.md §2.3).

A statement is one document per demande, built in two steps so that its JSON and HTML forms
carry the same content by construction:

1. :func:`build_statement` turns the demande's own figures and the aggregates of its cells into
   a typed :class:`Statement` (``model``) holding every sentence shown to the demandeur, in
   French (``wording`` for numbers, dates and the grid in words; ``sentences`` for the
   sentences); :func:`statement_json` is its JSON form;
2. :func:`render_html` lays it out as a print-ready A4 page from template files (``render``;
   templates in ``cotation/info/templates``, an EPCI's folder may override them) and adds no
   fact of its own.

:func:`write_statements` (``bulk``) writes them for many demandes with worker processes.

JSON layout (``format: cotation-statement/1``; English keys, French text): ``reference`` (grid
id, version, hash, reference date), ``demande`` (the demandeur's own deposit date, typologies,
communes), ``summary`` (four questions and answers), ``scores`` (per commune, provisional and
validated), ``positions`` (per commune × typologie: rank, size, share above, decile, cell key
and its description, histogram or the reason it is hidden, ``waiting`` block, délai
anormalement long), ``criteria`` (every criterion of the grid with its rule in words and the
demandeur's status and points, per commune when they differ), ``groups``,
``group_adjustments``, ``refusal`` and the explanatory notes.

Public surface: :class:`Statement` (and its parts in ``model``), :func:`build_statement`,
:func:`demande_contexts`, :func:`statement_static`, :func:`statement_for`,
:func:`statement_json`, :func:`render_html`, :func:`write_statements`, :func:`file_stem`, and
the wording helpers (:func:`date_fr`, :func:`points_fr`, :func:`number_fr`, :func:`rule_fr`,
:func:`expr_fr`, …).
"""
from cotation.info.statements.build import (
    WAITING_MIN_LEASES, build_statement, demande_contexts, grid_part, statement_for, statement_static,
)
from cotation.info.statements.bulk import file_stem, render_chunk, write_statements
from cotation.info.statements.model import STATEMENT_FORMAT, Statement, statement_json
from cotation.info.statements.render import (
    check_statement_templates, render_html, statement_environment, svg_histogram,
)
from cotation.info.statements.wording import (
    MINUS, NBSP, STATUS_FR, VALIDATION_FR, date_fr, decimal_fr, expr_fr, field_label, group_rule_fr,
    number_fr, ordering_fr, ordinal_fr, percent_fr, points_fr, rule_fr, unit_points,
)

__all__ = [
    "MINUS", "NBSP", "STATEMENT_FORMAT", "STATUS_FR", "Statement", "VALIDATION_FR",
    "WAITING_MIN_LEASES", "build_statement", "check_statement_templates", "date_fr", "decimal_fr", "demande_contexts", "expr_fr",
    "field_label", "file_stem", "grid_part", "group_rule_fr", "number_fr", "ordering_fr", "ordinal_fr",
    "percent_fr", "points_fr", "render_chunk", "render_html", "rule_fr", "statement_environment",
    "statement_for", "statement_json", "svg_histogram", "unit_points", "write_statements",
]

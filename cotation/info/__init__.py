"""Information owed to demandeurs: position among analogous demandes, observed waiting times,
and the statements (typed content, French wording, HTML from template files, JSON).

Public surface: :func:`~cotation.info.positioning.position`,
:func:`~cotation.info.statements.write_statements`.
"""

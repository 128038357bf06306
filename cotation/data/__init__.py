"""The canonical tables and the boundary every source goes through.

``schema`` (the canonical columns, their kinds and allowed values) and ``values`` (parsing and
formatting one value) are the ground floor: the grid front end uses them too. ``table`` holds the
in-memory demande and attribution tables and the reference CSV reader; ``canonical`` the fast
pyarrow CSV and Parquet readers and writers (``build`` and ``split`` are their machinery);
``sources`` detects a file's format and reads it; ``boundary`` is the one entry every source
crosses (files, DataFrames, Arrow tables and streams, dicts, records; ``arrow`` converts the
in-memory ones) and returns the table, rejects and a report; ``output`` writes result columns;
``ceilings`` the income ceilings; ``synth`` the seeded synthetic generator.

Readers of other formats (SNE XML, mapped local extractions) live in ``sne_adapters``, which
imports this package; nothing here imports it.

Public surface: :func:`read_demandes`, :func:`read_attributions`, :func:`write_demandes`,
:class:`DemandeTable`, :class:`AttributionTable`, :class:`ReadResult`, :class:`Reject`.
"""
from cotation.data.sources import (
    read_attributions, read_demandes, write_attributions, write_demandes
)
from cotation.data.table import AttributionTable, DemandeTable, ReadResult, Reject, StrictModeError

__all__ = ["AttributionTable", "DemandeTable", "ReadResult", "Reject", "StrictModeError",
           "read_attributions", "read_demandes", "write_attributions", "write_demandes"]

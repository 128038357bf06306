"""Seeded synthetic generator of realistic canonical demandes and attributions.

Used by tests, benchmarks and the bundled examples. Every default is a product calibration
anchored on the public figures of ``domain.md`` §3 (generator defaults in §3.6) and the income
ceilings of §4; the anchors are cited next to each default in :class:`SynthParams`.

Reproducibility: one ``numpy.random.Generator(PCG64(seed))`` per call, draws in a fixed order,
no wall clock and no global state, so the same arguments give the same table and the same CSV
bytes. Amounts are rounded to cents and dates to days, so last-bit differences of platform math
libraries cannot realistically show; numpy does not promise identical streams across its own
versions, so a numpy upgrade may change the files (regenerate, never hand-edit).
Columns are drawn as whole numpy arrays and only turned into Python values at the end, which
keeps 1,000,000 demandes within a few seconds.

Modules: ``params`` (calibration), ``draws`` (seeded helpers), ``territories`` (communes and
numéros uniques), ``profiles`` (household tables), ``demandes``, ``attributions``. They share
private helpers with each other; the public surface is re-exported here.
"""
from cotation.data.synth.attributions import attributed_demandes, generate_attributions
from cotation.data.synth.demandes import generate_demandes
from cotation.data.synth.params import SynthParams

__all__ = ["SynthParams", "attributed_demandes", "generate_attributions", "generate_demandes"]

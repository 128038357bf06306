"""A lower bound for any Python command that reads the canonical CSV with pyarrow and writes
a result: read every column as text (no type, no check), write five of them, nothing else.

    python benchmarks/pyarrow_floor.py DEMANDES.csv OUT.csv

``bench_e2e.py --floor`` times it beside ``cotation score`` and the polars script: what
``cotation score`` takes above it is the boundary's checks, the scoring, the ranking and the
formatting, the part that the end-to-end target leaves room for.
"""
from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.csv as pcsv

WRITTEN = ("numero_unique", "localisations", "date_depot", "nb_personnes", "ressources_mensuelles")


def main(path: str, out: str) -> None:
    with open(path, "rb") as fh:
        names = fh.readline().decode("utf-8").rstrip("\r\n").split(",")
    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=False))
    pcsv.write_csv(table.select([n for n in WRITTEN if n in names]), out)


if __name__ == "__main__":
    main(*sys.argv[1:3])

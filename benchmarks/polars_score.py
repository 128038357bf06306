"""The bench30 grid as a polars script, file to file: read the canonical CSV, explode the
localisations, score, rank per commune, write the same columns as ``cotation score``.

    python benchmarks/polars_score.py GRID_JSON DEMANDES.csv TODAY OUT.csv

GRID_JSON holds what the expressions need from the grid (parameters, communes, criteria
needing validation), written by ``bench_e2e.py``, so that this script does not import
cotation. The expressions are those of ``bench_scoring.polars_pipeline``, whose results the
scoring benchmark checks equal to the engine's.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import polars_pipeline  # noqa: E402

LISTS = ("localisations", "motifs", "typologies", "criteres_valides")


def main(grid_json: str, path: str, today: str, out: str) -> None:
    meta = json.loads(Path(grid_json).read_text())
    grid = SimpleNamespace(parameters=meta["parameters"], communes=meta["communes"],
                           criteria=[SimpleNamespace(id=c, needs_validation=True)
                                     for c in meta["needs_validation"]])
    kinds = meta["kinds"]
    types = {"int": pl.Int64, "decimal": pl.Float64, "bool": pl.Boolean}
    df = pl.read_csv(path, infer_schema=False)
    df = df.with_columns(
        [pl.col(c).str.split("|").list.eval(pl.element().filter(pl.element() != ""))
         for c in LISTS if c in df.columns]
        + [pl.col(c).str.to_date("%Y-%m-%d", strict=False) for c, k in kinds.items()
           if k == "date" and c in df.columns]
        + [pl.col(c).cast(types[k], strict=False)
           for c, k in kinds.items() if k in types and c in df.columns and k != "bool"]
        + [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c).str.to_lowercase() == "true")
           .alias(c) for c, k in kinds.items() if k == "bool" and c in df.columns])
    res = polars_pipeline(df, grid, dt.date.fromisoformat(today), rank=True)
    nu = df.select(pl.col("numero_unique")).with_row_index("row")
    res = (res.join(nu, on="row", how="left")
              .sort(["commune", "rank"])
              .select("numero_unique", "commune",
                      (pl.col("score") / 100).alias("score"),
                      (pl.col("score_valide") / 100).alias("score_valide"), "rank"))
    res.write_csv(out, float_precision=2)


if __name__ == "__main__":
    main(*sys.argv[1:5])

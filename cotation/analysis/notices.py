"""Writing location voulue results: the applicant list (for the bailleur and the commission)
and one notice per applicant (HTML and JSON, their own data only)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from cotation.analysis.location_voulue import Offre
from cotation.analysis.output import render, write_json, write_table

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def write_location_voulue(offre: Offre, applicants: list[dict[str, Any]], directory: str | Path,
                          *, grille: str, commune_nom: str = "") -> list[str]:
    d = Path(directory)
    (d / "avis").mkdir(parents=True, exist_ok=True)
    cols = {k: [a[k] if k != "motifs" else "|".join(a[k]) for a in applicants]
            for k in ("numero_unique", "recevable", "rang", "candidats_recevables", "score",
                      "motifs", "avis")}
    files = write_table(cols, d, "candidatures", {
        "numero_unique": pa.string(), "recevable": pa.bool_(), "rang": pa.int64(),
        "candidats_recevables": pa.int64(), "score": pa.float64(), "motifs": pa.string(),
        "avis": pa.string()})
    write_json({"offre": dataclasses.asdict(offre), "grille": grille,
                "candidats": len(applicants),
                "recevables": sum(1 for a in applicants if a["recevable"]),
                "candidatures": applicants}, d / "candidatures.json")
    files.append("candidatures.json")
    for a in applicants:
        name = _SAFE.sub("_", a["numero_unique"])
        own = {k: a[k] for k in ("numero_unique", "recevable", "motifs", "rang",
                                 "candidats_recevables", "score", "avis")}
        write_json({"offre": dataclasses.asdict(offre), "candidature": own},
                   d / "avis" / f"{name}.json")
        (d / "avis" / f"{name}.html").write_text(
            render("avis.html.j2", offre=offre, a=own, grille=grille,
                   commune_nom=commune_nom or offre.commune), encoding="utf-8")
    return files + [f"avis/ ({len(applicants)} avis HTML et JSON)"]

"""Seeded random canonical rows (as CSV cells), clean or with defects, for adapter tests."""
from __future__ import annotations

import datetime as dt
import random

from cotation.data.schema import COLUMNS, ENUMS, Kind

COMMUNES = ["75056", "75113", "69123", "13055", "2A004", "2B033", "01053", "33063", "59350", "06088"]


def cell(rng: random.Random, kind: Kind, name: str) -> str:
    if rng.random() < 0.1 and name not in ("numero_unique", "date_depot", "nb_personnes"):
        return ""
    if kind is Kind.BOOL:
        return rng.choice(["true", "false"])
    if kind is Kind.INT:
        return str(rng.randint(0, 8) if name.startswith("nb_") else rng.randint(0, 90000))
    if kind is Kind.DECIMAL:
        return repr(round(rng.uniform(0, 3000), rng.choice([0, 1, 2])))
    if kind is Kind.DATE:
        return (dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 27000))).isoformat()
    if kind is Kind.CODE:
        return rng.choice(ENUMS[name])
    if kind is Kind.CODESET:
        pool = ENUMS.get(name, ("c1", "c2", "c3"))
        return "|".join(rng.sample(pool, rng.randint(0, 3)))
    if kind is Kind.COMMUNES:
        return "|".join(rng.sample(COMMUNES, rng.randint(0, 4)))
    if kind is Kind.COMMUNE:
        return rng.choice(COMMUNES)
    return rng.choice(["Agent, de sécurité", "Employé", "x", "aide \"soignante\""])


DEFECTS = {
    "date_depot": ["2023-02-30", "15/01/2023", " 2023-01-05 ", "20230105", ""],
    "nb_personnes": ["deux", "", " 3", "+2", "1_0", "2.0", "99999999999999999999"],
    "ressources_mensuelles": ["1 200,50", "nan", "inf", "1e3", " 12.5", ".5", "5."],
    "situation_logement": ["HLM", "locataire_HLM", " hotel "],
    "motifs": ["trop_cher|foo", "trop_cher||sante", " sante | trop_cher "],
    "localisations": ["75056|7505", "75056|75056", " 75056 "],
    "est_mutation": ["oui", "VRAI", "peut-être"],
    "numero_unique": ["", " 0123 "],
    "profession": [" padded ", "\u00a0nbsp"],
}


def rows(n: int, seed: int, defects: float = 0.0, dup: float = 0.0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        row = {c.name: cell(rng, c.kind, c.name) for c in COLUMNS}
        row["numero_unique"] = f"0{i:05d}{rng.randint(0, 99):02d}G{i % 997:04d}"
        row["extra_note"] = rng.choice(["", "a", "b,c"])
        if defects and rng.random() < defects:
            name = rng.choice(sorted(DEFECTS))
            row[name] = rng.choice(DEFECTS[name])
        if dup and out and rng.random() < dup:
            row["numero_unique"] = rng.choice(out)["numero_unique"]
        out.append(row)
    return out

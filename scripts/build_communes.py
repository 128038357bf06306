"""Build ``cotation/data/communes.csv.gz``: the French communes with their département and EPCI.

Source: the npm package ``@etalab/decoupage-administratif`` (data: Code officiel géographique
of INSEE and the DGCL list of EPCI à fiscalité propre; data under the Licence Ouverte 2.0 /
Etalab, code MIT). The table keeps, per current commune and per municipal arrondissement (Paris,
Lyon, Marseille, attached to their commune's EPCI): INSEE code, name, département, EPCI SIREN
and EPCI name. Communes outside any EPCI (a few islands) have empty EPCI columns.

Regenerate (needs npm and network, at build time only; nothing at run time does)::

    cd /tmp && npm pack @etalab/decoupage-administratif@6.0.0 && tar xzf etalab-decoupage-administratif-6.0.0.tgz
    python scripts/build_communes.py /tmp/package

The output is deterministic (sorted rows, gzip header without timestamp); the source version
and licence are written to ``cotation/data/communes.SOURCE.txt``.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "cotation" / "data"
COLUMNS = ("code", "nom", "departement", "epci", "epci_nom")


def build(package_dir: Path) -> tuple[bytes, str]:
    data = package_dir / "data"
    meta = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    communes = json.loads((data / "communes.json").read_text(encoding="utf-8"))
    epcis = json.loads((data / "epci.json").read_text(encoding="utf-8"))
    epci_of: dict[str, tuple[str, str]] = {}
    for e in epcis:
        for m in e["membres"]:
            epci_of[m["code"]] = (e["code"], e["nom"])
    rows = []
    for c in communes:
        if c["type"] == "commune-actuelle":
            parent = c["code"]
        elif c["type"] == "arrondissement-municipal":
            parent = c["commune"]
        else:
            continue
        siren, nom = epci_of.get(parent, ("", ""))
        rows.append((c["code"], c["nom"], c["departement"], siren, nom))
    rows.sort()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue().encode("utf-8"))
    source = (f"communes.csv.gz: {len(rows)} communes et arrondissements municipaux, "
              f"{len({r[3] for r in rows if r[3]})} EPCI.\n"
              f"Source: npm {meta['name']}@{meta['version']} ({meta['repository']}), "
              "fichiers data/communes.json et data/epci.json.\n"
              "Données: Code officiel géographique (INSEE) et liste des EPCI à fiscalité propre (DGCL), "
              "millésime 2026 selon le README du paquet; Licence Ouverte / Open Licence 2.0 (Etalab). "
              "Code du paquet: licence MIT.\n"
              "Régénérer: voir scripts/build_communes.py.\n")
    return raw.getvalue(), source


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/build_communes.py DOSSIER_DU_PAQUET_NPM", file=sys.stderr)
        return 2
    blob, source = build(Path(argv[0]))
    (OUT / "communes.csv.gz").write_bytes(blob)
    (OUT / "communes.SOURCE.txt").write_text(source, encoding="utf-8")
    print(f"{OUT / 'communes.csv.gz'}: {len(blob)} octets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

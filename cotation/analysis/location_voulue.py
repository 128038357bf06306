"""Location voulue: the applicants for one advertised dwelling, their eligibility (with the
reason when not eligible), their rank among the eligible applicants by the grid's ordering, and
what each one is told.

Eligibility follows :meth:`cotation.api.ShortlistIndex.shortlist` (commune among the
localisations, typologie among those asked, revenu fiscal de référence at or below the
financement's ceiling for the household category) and adds the household size the dwelling
suits: at most what its surface allows without sur-occupation (art. R822-25 CCH: 9 m² for one
person, 16 m² for two, 9 m² more per extra person, no limit from 70 m²), at least its rooms
minus one (sous-occupation, art. L621-2 CCH: more than one room above the number of persons;
``chambre`` and T1 count one room, T6P six). An offer may set ``personnes_min`` /
``personnes_max`` itself.

A notice only ever holds its own applicant's data: their eligibility, rank and the number of
eligible applicants, never another applicant's identity or score.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from cotation.data.schema import FINANCEMENTS, TYPOLOGIES
from cotation.i18n import _

ROOMS = {"chambre": 1, "T1": 1, "T2": 2, "T3": 3, "T4": 4, "T5": 5, "T6P": 6}
REASONS = {
    "typologie": "la typologie du logement ne fait pas partie de celles que vous demandez",
    "plafond": "vos ressources dépassent le plafond de ressources de ce logement",
    "ressources": "vos ressources ne sont pas connues (revenu fiscal de référence manquant)",
    "taille": "la taille de votre ménage ne correspond pas à ce logement",
    "commune": "vous n'avez pas demandé cette commune, ou votre demande n'entre pas dans le "
               "champ de la grille de cotation",
    "inconnue": "aucune demande active ne porte ce numéro unique",
}
_FIELDS = ("reference", "commune", "typologie", "financement", "loyer", "surface", "accessible",
           "personnes_min", "personnes_max", "annee", "zone")


@dataclass(frozen=True)
class Offre:
    commune: str
    typologie: str
    financement: str | None = None
    loyer: float | None = None
    surface: float | None = None
    accessible: bool | None = None
    reference: str = ""
    personnes_min: int | None = None
    personnes_max: int | None = None
    annee: int | None = None
    zone: str | None = None

    def dwelling(self) -> dict[str, Any]:
        """The mapping :class:`~cotation.api.ShortlistIndex` takes."""
        d: dict[str, Any] = {"commune": self.commune, "typologie": self.typologie,
                             "financement": self.financement}
        if self.annee:
            d["year"] = self.annee
        if self.zone:
            d["zone"] = self.zone
        return d

    def household_bounds(self) -> tuple[int, float]:
        lo = self.personnes_min if self.personnes_min is not None else \
            max(1, ROOMS[self.typologie] - 1)
        if self.personnes_max is not None:
            return lo, float(self.personnes_max)
        if self.surface is None or self.surface >= 70:
            return lo, float("inf")
        return lo, float(1 if self.surface < 16 else 2 + int((self.surface - 16) // 9))


# bounds of the whole numbers of an offer (a household of 100, a year between 1900 and 2200)
_INT_BOUNDS = {"personnes_min": (0, 100), "personnes_max": (0, 100), "annee": (1900, 2200)}


def offre_from_mapping(data: Any, source: str = "<offre>") -> Offre:
    """Validate an offer read from YAML or JSON; ValueError with one line in the user's
    language."""
    if not isinstance(data, Mapping):
        raise ValueError(_("{source}: the offer must be a mapping (key: value)").format(
            source=source))
    unknown = sorted(set(map(str, data)) - set(_FIELDS))
    if unknown:
        raise ValueError(_("{source}: unknown field(s): {names} (expected: {fields})").format(
            source=source, names=", ".join(unknown), fields=", ".join(_FIELDS)))
    for key in ("commune", "typologie"):
        if not data.get(key):
            raise ValueError(_("{source}: missing required field: {key}").format(
                source=source, key=key))
    typ = str(data["typologie"])
    if typ not in TYPOLOGIES:
        raise ValueError(_("{source}: unknown typologie {value!r} (expected: {values})").format(
            source=source, value=typ, values=", ".join(TYPOLOGIES)))
    fin = data.get("financement")
    if fin is not None and fin not in FINANCEMENTS[:3]:
        raise ValueError(_("{source}: unknown financement {value!r} (expected: PLAI, PLUS or "
                           "PLS)").format(source=source, value=fin))

    def number(key: str, kind: type) -> Any:
        v = data.get(key)
        if v is None:
            return None
        lo, hi = _INT_BOUNDS.get(key, (0, 1e9))
        # the bounds first: an int and a float compare exactly, while isfinite() would
        # overflow on an int of 400 digits
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi or \
                (isinstance(v, float) and not math.isfinite(v)) or (kind is int and v != int(v)):
            what = _("a whole number") if kind is int else _("a number")
            raise ValueError(_("{source}: {key} must be {what} from {lo} to {hi}, not "
                               "{value}").format(source=source, key=key, what=what, lo=lo,
                                                 hi=f"{hi:.0f}", value=_shown(v)))
        return kind(v)
    acc = data.get("accessible")
    if acc is not None and not isinstance(acc, bool):
        raise ValueError(_("{source}: accessible must be true or false, not {value}").format(
            source=source, value=_shown(acc)))
    return Offre(commune=str(data["commune"]), typologie=typ, financement=fin,
                 loyer=number("loyer", float), surface=number("surface", float), accessible=acc,
                 reference=str(data.get("reference") or "")[:200],
                 personnes_min=number("personnes_min", int),
                 personnes_max=number("personnes_max", int), annee=number("annee", int),
                 zone=str(data["zone"]) if data.get("zone") else None)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def read_offre(path: str | Path) -> Offre:
    """The offer of file ``path`` (YAML, or JSON by its extension); ValueError with one
    located line when it cannot be read or is not an offer (OSError when the file cannot be
    opened)."""
    from cotation.data.yaml_input import YamlInputError, check_yaml_input

    text = Path(path).read_text(encoding="utf-8")
    try:
        if str(path).lower().endswith(".json"):
            data = json.loads(text)
        else:
            import yaml
            check_yaml_input(text)
            data = yaml.safe_load(text)
    except YamlInputError as exc:
        raise ValueError(f"{path}:{exc.line}:{exc.column}: {exc.message}") from None
    except Exception as exc:  # noqa: BLE001 - any syntax error of the file, reported located
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else \
            f"{path}:{exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(path)
        problem = getattr(exc, "problem", None) or getattr(exc, "msg", None) or str(exc)
        raise ValueError(_("{where}: the file cannot be read as {kind} ({problem})").format(
            where=where, kind="JSON" if str(path).lower().endswith(".json") else "YAML",
            problem=str(problem).splitlines()[0][:200])) from None
    return offre_from_mapping(data, str(path))


def ordinal_fr(n: int) -> str:
    """>>> ordinal_fr(1), ordinal_fr(4)
    ('1er', '4e')"""
    return "1er" if n == 1 else f"{n}e"


def notice(rec: Mapping[str, Any]) -> str:
    """The sentence an applicant is told (their own data only)."""
    if rec["recevable"]:
        n = rec["candidats_recevables"]
        return (f"Vous êtes classé {ordinal_fr(rec['rang'])} sur {n} candidat"
                f"{'s' if n > 1 else ''} recevable{'s' if n > 1 else ''} pour ce logement.")
    reasons = " ; ".join(REASONS[r] for r in rec["motifs"])
    return f"Votre candidature n'est pas recevable pour ce logement : {reasons}."


def rank_applicants(offre: Offre, *, numeros: np.ndarray, scores: np.ndarray,
                    typo_ok: np.ndarray, income_ok: np.ndarray | None, income_known: np.ndarray,
                    personnes: np.ndarray, known: set[str],
                    candidats: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Applicants with eligibility, reasons, rank among the eligible ones and notice.

    The arrays cover the scored demandes that asked the dwelling's commune, in the grid's
    rank order (first = best). ``candidats`` None means all of them."""
    lo, hi = offre.household_bounds()
    size_ok = (personnes >= lo) & (personnes <= hi)
    pos = {str(nu): i for i, nu in enumerate(numeros.tolist())}
    if candidats is None:
        picked = list(range(len(numeros)))
        outside: list[tuple[str, str]] = []
    else:
        seen = list(dict.fromkeys(candidats))
        picked = sorted(pos[c] for c in seen if c in pos)
        outside = [(c, "commune" if c in known else "inconnue") for c in seen if c not in pos]
    out = []
    for i in picked:
        motifs = [m for m, ok in (("typologie", typo_ok[i]),
                                  ("ressources", income_ok is None or income_known[i]),
                                  ("plafond", income_ok is None or not income_known[i]
                                   or income_ok[i]),
                                  ("taille", size_ok[i])) if not ok]
        out.append({"numero_unique": str(numeros[i]), "recevable": not motifs, "motifs": motifs,
                    "score": int(scores[i]) / 100, "rang": None, "candidats_recevables": None})
    eligible = [r for r in out if r["recevable"]]
    for k, r in enumerate(eligible, start=1):
        r["rang"] = k
        r["candidats_recevables"] = len(eligible)
    for c, why in outside:
        out.append({"numero_unique": c, "recevable": False, "motifs": [why], "score": None,
                    "rang": None, "candidats_recevables": None})
    out.sort(key=lambda r: (not r["recevable"], r["rang"] or 0, r["numero_unique"]))
    for r in out:
        r["avis"] = notice(r)
    return out

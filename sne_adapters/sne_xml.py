"""Streaming reader for the SNE web-service XML ``interfaceNuu`` (versions 02.00 and 02.01).

One ``demandeLogement`` is one row. The file is fed line by line to an ElementTree pull parser
(the machinery behind ``iterparse``), each demande is mapped as soon as it closes and then
cleared, so memory stays flat and every reject carries the source line of the element at fault.

Every element is either mapped (``_MAPPED``), consumed by a mapped parent (``_CONSUMED``),
deliberately ignored (``_IGNORED``: identity and contact data the cotation does not use), or
unknown; ignored and unknown elements are counted per path in the run report, never dropped
silently. Element names outside the sample file (renewal date, motifs, typologies and
localisations sought, DALO, housing aid) could not be checked against the cahier des interfaces:
they are marked *uncertain*; a real file using other names shows them under ``elements_unknown``.

Derived values (documented rules):
- nb_adultes = demandeur + cotitulaires + personnes à charge whose lienParente is P or A;
  nb_enfants = personnes à charge with lienParente E + personnes à naître + personnes en garde
  (garde alternée G and droit de visite D both count for the size of the dwelling, per CERFA
  notice 51423; uncertain); nb_personnes = nb_adultes + nb_enfants.
- ressources_mensuelles = sum of ``listeRessourceRecue*`` amounts of the demandeur and the
  cotitulaires minus ``listeRessourceVersee*`` amounts (pension alimentaire versée; uncertain:
  the SNE may show the gross total). No amount at all gives a missing value.
- revenu_fiscal_reference = sum of ``montantMoins2`` (RFR N-2) of demandeur and cotitulaires.
- est_mutation = some ``modeleLogement`` is HLM; situation_logement = the first one listed.
- date_naissance_conjoint = the first cotitulaire whose lienDemandeur is M, P or C.
"""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from cotation.data.schema import COLUMNS, COLUMNS_BY_NAME
from cotation.data.table import DemandeTable, Reject, StrictModeError, empty_value
from cotation.data.values import (
    MAX_MAGNITUDE, ValueParseError, check_range, is_number_text, parse_cell, parse_date, whole_number,
)

from sne_adapters import codes
from cotation.data.build import AdapterResult
from cotation.i18n import _

VERSIONS = ("02.00", "02.01")
ROW = "demandeLogement"

_P = "personnePhysique/"
_D = _P + "demandeur/"
_C = _P + "listeCotitulaire/cotitulaire/"
_RESSOURCE_LISTS = ("listeRessourceRecue", "listeRessourceRecuePersACharge")
_VERSEE_LISTS = ("listeRessourceVersee", "listeRessourceVerseePersACharge")


def _mapped() -> dict[str, str]:
    m = {
        "numUnique": "numero_unique",
        "dateCreationDemande": "date_depot",
        "dateRenouvellement": "date_renouvellement",               # uncertain
        _D + "dateNaissance": "date_naissance",
        _D + "situationFamiliale": "situation_familiale",
        _D + "adressePostale/commune": "commune_residence",
        _D + "situationProfessionnelle/profession": "profession",
        _D + "situationProfessionnelle/typeContratTravail": "situation_pro",
        _D + "situationProfessionnelle/commune": "commune_travail",
        _P + "listeCotitulaire/cotitulaire": "cotitulaire",
        _P + "listePersonneACharge/personneACharge": "personne_a_charge",
        _P + "personneANaitre/nombre": "a_naitre",
        _P + "listePersonneEnGarde/personneEnGarde": "personne_en_garde",
        _P + "logementActuel/listeModeleLogement/modeleLogement": "modele_logement",
        _P + "logementActuel/montantMensuelLoyer": "loyer_actuel",
        _P + "logementActuel/montantAideLogement": "aide_logement",  # uncertain
        _P + "logementActuel/nombreHabitant": "nb_personnes_logement_actuel",
        _P + "logementActuel/typeLogementActuel": "typologie_actuelle",
        _P + "logementActuel/surface": "surface_actuelle",
        "logementRecherche/listeTypeLogement/typeLogement": "typologies",   # uncertain
        "logementRecherche/listeCommune/commune": "localisations",          # uncertain
        "listeMotif/motif": "motifs",                                       # uncertain
        "statutDalo": "dalo_statut",                                        # uncertain
    }
    for person in (_D, _C):
        m[person + "revenuFiscal/montantMoins2"] = "rfr"
        for lst in _RESSOURCE_LISTS:
            m[person + lst + "/detailRessource/montant"] = "ressource_recue"
        for lst in _VERSEE_LISTS:
            m[person + lst + "/detailRessource/montant"] = "ressource_versee"
    return m


_MAPPED = _mapped()
# Read by the handler of their mapped parent.
_CONSUMED = frozenset({
    _C + "dateNaissance", _C + "lienDemandeur",
    _P + "listePersonneACharge/personneACharge/lienParente",
    _P + "listePersonneEnGarde/personneEnGarde/coParentalite",
})


def _ignored() -> dict[str, str]:
    ident = "identity or contact data, not used by the cotation"
    out = {}
    for person in (_D, _C):
        for name in ("civilite", "nom", "nomPatronymique", "prenom", "nationalite",
                     "telPortable", "telFixe", "mel"):
            out[person + name] = ident
        for name in ("etranger", "numero", "voie", "codePostal", "complement"):
            out[person + "adressePostale/" + name] = ident
        out[person + "situationProfessionnelle/nomEmployeurPrincipal"] = ident
        out[person + "situationProfessionnelle/etranger"] = "implied by commune"
        out[person + "situationProfessionnelle/codePostal"] = "commune code is used"
        for name in ("anneeMoins1", "montantMoins1", "anneeMoins2"):
            out[person + "revenuFiscal/" + name] = "RFR N-2 (montantMoins2) is used"
        for lst in _RESSOURCE_LISTS + _VERSEE_LISTS:
            out[person + lst + "/detailRessource/ressource"] = "amounts are summed whatever the kind"
    for name in ("situationFamiliale", "situationProfessionnelle/profession",
                 "situationProfessionnelle/typeContratTravail", "situationProfessionnelle/commune"):
        out[_C + name] = "canonical fields describe the demandeur"
    for name in ("nom", "prenom", "dateNaissance", "sexe"):
        out[_P + "listePersonneACharge/personneACharge/" + name] = ident
    for name in ("dateNaissance", "sexe"):
        out[_P + "listePersonneEnGarde/personneEnGarde/" + name] = ident
    out[_P + "personneANaitre/dateNaissancePrevue"] = "the count is used"
    out[_P + "logementActuel/categorieLogement"] = "appartement/maison: no canonical field"
    out[_P + "logementActuel/proprietaire"] = "modeleLogement POCC is used"
    return out


_IGNORED = _ignored()
_KNOWN = set(_MAPPED) | _CONSUMED | set(_IGNORED)
_CONTAINERS = {"/".join(p.split("/")[:i]) for p in _KNOWN for i in range(1, p.count("/") + 1)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _value(el: ET.Element) -> str:
    code = el.get("code")
    return (code if code is not None else (el.text or "")).strip()


class _RowError(Exception):
    def __init__(self, path: str, value: str, reason: str, el: ET.Element | None = None):
        super().__init__(reason)
        self.path, self.value, self.reason, self.el = path, value, reason, el


def _walk(el: ET.Element, prefix: str) -> Iterator[tuple[str, ET.Element]]:
    for child in el:
        path = f"{prefix}/{_local(child.tag)}" if prefix else _local(child.tag)
        yield path, child
        if path in _CONTAINERS or path in _MAPPED:
            yield from _walk(child, path)


def _date(path: str, el: ET.Element) -> dt.date:
    text = _value(el)
    core = text[:10] if len(text) > 10 and text[10] in "+-Z" else text  # xs:date may carry a zone
    try:
        return parse_date(core)             # the canonical rule: YYYY-MM-DD, nothing else
    except ValueParseError:
        raise _RowError(path, text, _("'{text}' is not a date YYYY-MM-DD").format(text=text), el) from None


def _checked(path: str, el: ET.Element, value: float, column: str | None) -> None:
    """The canonical range rules: no magnitude beyond MAX_MAGNITUDE, no negative count."""
    text = _value(el)
    col = COLUMNS_BY_NAME.get(column or "")
    try:
        if col is not None:
            check_range(col, value, text)
        elif abs(value) > MAX_MAGNITUDE:
            raise ValueParseError(_("'{text}' is out of range").format(text=text))
    except ValueParseError as exc:
        raise _RowError(path, text, str(exc), el) from None


def _number(path: str, el: ET.Element, column: str | None = None) -> float:
    """A number written as in a canonical file (ASCII digits: ``float()`` alone would also
    take '1_000', '١٠٠' or 'nan'), within the canonical range of ``column``."""
    text = _value(el)
    value = float(text) if is_number_text(text) else float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise _RowError(path, text, _("'{text}' is not a number").format(text=text), el)
    _checked(path, el, value, column)
    return value


def _integer(path: str, el: ET.Element, column: str | None = None) -> int:
    try:
        value = whole_number(_value(el))
    except ValueParseError as exc:
        raise _RowError(path, _value(el), str(exc), el) from None
    _checked(path, el, value, column)
    return value


def _code(path: str, el: ET.Element, table, list_name: str) -> Any:
    code = _value(el)
    if code not in table:
        raise _RowError(path, code, _("unknown {list} code '{code}'").format(list=list_name, code=code), el)
    return table[code]


def _commune(path: str, el: ET.Element, name: str) -> str:
    code = _value(el)
    try:
        return parse_cell(COLUMNS_BY_NAME[name], code)
    except ValueParseError as exc:
        raise _RowError(path, code, str(exc), el) from None


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


# The canonical columns a demande of the XML can give (each may be missing in one demande:
# every element is optional). The others (nb_personnes_handicap, prioritaire, the refusals,
# criteres_valides) have no element here: a grid that reads one cannot be scored from this
# source without silently changing scores, as for a CSV without the column (the boundary
# says so). ``map_demande`` sets exactly these keys (tests/adapters/test_adapt_xml.py).
XML_COLUMNS = (
    "numero_unique", "date_depot", "date_renouvellement", "est_mutation", "situation_logement",
    "motifs", "nb_personnes", "nb_adultes", "nb_enfants", "nb_personnes_logement_actuel",
    "date_naissance", "date_naissance_conjoint", "situation_familiale", "situation_pro",
    "profession", "commune_residence", "commune_travail", "revenu_fiscal_reference",
    "ressources_mensuelles", "loyer_actuel", "aide_logement", "surface_actuelle",
    "typologie_actuelle", "typologies", "localisations", "dalo_statut",
)


def map_demande(el: ET.Element, ignored: Counter, unknown: Counter) -> dict[str, Any]:
    """Canonical values of one ``demandeLogement``; raises _RowError on the first bad element."""
    got: dict[str, list[tuple[str, ET.Element]]] = {}
    for path, child in _walk(el, ""):
        key = _MAPPED.get(path)
        if key is not None:
            got.setdefault(key, []).append((path, child))
        elif path in _IGNORED:
            ignored[f"{ROW}/{path}"] += 1
        elif path not in _CONSUMED and path not in _CONTAINERS:
            unknown[f"{ROW}/{path}"] += 1

    def one(key: str):
        items = got.get(key)
        return items[0] if items else None

    row: dict[str, Any] = {}
    hit = one("numero_unique")
    row["numero_unique"] = _value(hit[1]) if hit else ""
    if not row["numero_unique"]:
        raise _RowError("numUnique", "", _("{name} is required").format(name="numero_unique"), hit[1] if hit else None)
    for key in ("date_depot", "date_renouvellement", "date_naissance"):
        hit = one(key)
        row[key] = _date(*hit) if hit else None
    if row["date_depot"] is None:
        raise _RowError("dateCreationDemande", "", _("{name} is required").format(name="date_depot"))
    scalar_codes = (("situation_familiale", codes.SITUATION_FAMILIALE, "situationFamiliale"),
                    ("situation_pro", codes.TYPE_CONTRAT, "typeContratTravail"),
                    ("typologie_actuelle", codes.TYPOLOGIE, "typeLogement"),
                    ("dalo_statut", codes.STATUT_DALO, "statutDalo"))
    for key, table, list_name in scalar_codes:
        hit = one(key)
        row[key] = _code(hit[0], hit[1], table, list_name) if hit else None
    for key in ("commune_residence", "commune_travail"):
        hit = one(key)
        row[key] = _commune(hit[0], hit[1], key) if hit and _value(hit[1]) else None
    hit = one("profession")
    row["profession"] = (_value(hit[1]) or None) if hit else None
    for key in ("loyer_actuel", "aide_logement", "surface_actuelle"):
        hit = one(key)
        row[key] = _number(*hit, key) if hit else None
    hit = one("nb_personnes_logement_actuel")
    row["nb_personnes_logement_actuel"] = (_integer(*hit, "nb_personnes_logement_actuel")
                                           if hit else None)

    modeles = [(p, e, _code(p, e, codes.MODELE_LOGEMENT, "modeleLogement"))
               for p, e in got.get("modele_logement", [])]
    row["situation_logement"] = modeles[0][2] if modeles else None
    row["est_mutation"] = any(_value(e) == "HLM" for _, e, _ in modeles) if modeles else None

    row["motifs"] = frozenset(_code(p, e, codes.MOTIF, "motif") for p, e in got.get("motifs", []))
    row["typologies"] = frozenset(_code(p, e, codes.TYPOLOGIE, "typeLogement")
                                  for p, e in got.get("typologies", []))
    row["localisations"] = tuple(dict.fromkeys(_commune(p, e, "commune_residence")
                                               for p, e in got.get("localisations", [])))

    recues = [_number(p, e) for p, e in got.get("ressource_recue", [])]
    versees = [_number(p, e) for p, e in got.get("ressource_versee", [])]
    row["ressources_mensuelles"] = float(sum(recues) - sum(versees)) if recues or versees else None
    rfr = [_integer(p, e) for p, e in got.get("rfr", [])]
    row["revenu_fiscal_reference"] = sum(rfr) if rfr else None

    # Household composition, derived from the persons listed.
    cotitulaires = [e for _, e in got.get("cotitulaire", [])]
    adults = (1 if _child(el, "personnePhysique") is not None and
              _child(_child(el, "personnePhysique"), "demandeur") is not None else 0)
    if not adults:
        raise _RowError(_P + "demandeur", "", _("no demandeur: cannot count the persons to house"))
    adults += len(cotitulaires)
    children = 0
    for path, person in got.get("personne_a_charge", []):
        lien = _child(person, "lienParente")
        if lien is None:
            raise _RowError(path + "/lienParente", "", _("personne à charge without lienParente"),
                            person)
        if _code(path + "/lienParente", lien, codes.LIEN_PARENTE_ADULTE, "lienParente"):
            adults += 1
        else:
            children += 1
    for path, e in got.get("a_naitre", []):
        children += _integer(path, e, "nb_enfants")     # a count: never negative
    for path, person in got.get("personne_en_garde", []):
        co = _child(person, "coParentalite")
        if co is not None:
            _code(path + "/coParentalite", co, codes.CO_PARENTALITE, "coParentalite")
        children += 1
    row["nb_adultes"], row["nb_enfants"] = adults, children
    row["nb_personnes"] = adults + children

    row["date_naissance_conjoint"] = None
    for person in cotitulaires:
        lien, born = _child(person, "lienDemandeur"), _child(person, "dateNaissance")
        if lien is not None and _value(lien) in codes.LIEN_CONJOINT:
            row["date_naissance_conjoint"] = (
                _date(_C + "dateNaissance", born) if born is not None else None)
            break
    return row


def read_sne_xml(path: str | Path, *, strict: bool = False) -> AdapterResult:
    """Read an interfaceNuu file into the canonical table; see the module doc for the rules."""
    source = str(path)
    parser = ET.XMLPullParser(events=("start", "end"))
    stack: list[str] = []
    lines: dict[int, int] = {}        # id(element) -> line of its start tag, inside a demande
    ignored: Counter = Counter()
    unknown: Counter = Counter()
    details: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    row_lines: list[int] = []
    rejects: list[Reject] = []
    seen: dict[str, int] = {}
    n_read = 0
    root: ET.Element | None = None
    open_row: tuple[int, ET.Element] | None = None
    line = 0

    def reject(r: Reject) -> None:
        if strict:
            raise StrictModeError(r, source)
        rejects.append(r)

    def finish_row(el: ET.Element, start: int) -> None:
        try:
            row = map_demande(el, ignored, unknown)
        except _RowError as exc:
            nu = _child(el, "numUnique")
            at = lines.get(id(exc.el), start) if exc.el is not None else start
            reject(Reject(at, f"{ROW}/{exc.path}", exc.value, exc.reason,
                          _value(nu) if nu is not None else ""))
            return
        nu = row["numero_unique"]
        if nu in seen:
            reject(Reject(start, f"{ROW}/numUnique", nu,
                          _("duplicated numero_unique (first at line {line})").format(line=seen[nu]), nu))
            return
        seen[nu] = start
        rows.append(row)
        row_lines.append(start)

    def handle(event: str, el: ET.Element) -> None:
        nonlocal root, open_row, n_read
        name = _local(el.tag)
        if event == "start":
            stack.append(name)
            if root is None:
                root = el
                if name != "interfaceNuu":
                    raise ValueError(_("{source}:{line}: root element is <{name}>, expected "
                                       "<interfaceNuu> (SNE web-service XML)").format(
                        source=source, line=line, name=name))
                version = el.get("versionInterface", "")
                if version not in VERSIONS:
                    raise ValueError(_("{source}:{line}: interfaceNuu version '{version}' is not "
                                       "supported (supported: {supported})").format(
                        source=source, line=line, version=version, supported=", ".join(VERSIONS)))
                details["interface_version"] = version
            elif open_row is not None:
                lines[id(el)] = line
            elif name == ROW and stack[-2:-1] == ["demande"]:
                open_row = (line, el)
                n_read += 1
            return
        stack.pop()
        if open_row is not None and el is open_row[1]:
            finish_row(el, open_row[0])
            open_row = None
            lines.clear()
            el.clear()
        elif open_row is None and len(stack) == 1:
            # A direct child of the root closed: its content is read, then dropped.
            if name == "entete":
                for child in el:
                    if _local(child.tag) == "dateFichier":
                        details["date_fichier"] = _value(child)
                    else:
                        unknown[f"entete/{_local(child.tag)}"] += 1
            elif name == "demande":
                for child in el:
                    if _local(child.tag) != ROW:
                        unknown[f"demande/{_local(child.tag)}"] += 1
            else:
                unknown[name] += 1
            root.remove(el)

    try:
        with open(path, "rb") as fh:
            for line, raw in enumerate(fh, 1):
                parser.feed(raw)
                for event, el in parser.read_events():
                    handle(event, el)
            parser.close()
            for event, el in parser.read_events():
                handle(event, el)
    except ET.ParseError as exc:
        msg = _("XML malformed or truncated: {problem}").format(problem=exc)
        details["source_error"] = msg
        if root is None:
            raise ValueError(f"{source}: {msg}") from None
        if open_row is not None:
            nu = _child(open_row[1], "numUnique")
            reject(Reject(open_row[0], ROW, "", _("{problem}; this demande is incomplete").format(problem=msg),
                          _value(nu) if nu is not None else ""))
        elif strict:
            raise ValueError(f"{source}: {msg}") from None

    details["elements_ignored"] = dict(sorted(ignored.items()))
    details["elements_unknown"] = dict(sorted(unknown.items()))
    columns: dict[str, list] = {}
    for col in COLUMNS:
        columns[col.name] = [r.get(col.name, empty_value(col.kind)) for r in rows]
    table = DemandeTable(columns, {}, row_lines)
    unmapped = sorted(set(ignored) | set(unknown))
    return AdapterResult(table, rejects, n_read, unmapped, "sne-xml", details,
                         source_columns=list(XML_COLUMNS))

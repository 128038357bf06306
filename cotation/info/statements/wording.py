"""French wording of the information statements: numbers, dates, the grid in words, places and
housing types as written in a letter to a demandeur.

Every function here is pure: same arguments, same text. The sentences of a statement, built
from these pieces, are in :mod:`cotation.info.statements.sentences`.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any, Sequence

from cotation.data.schema import COLUMNS_BY_NAME, DERIVED_BY_NAME
from cotation.grid import ir
from cotation.info.positioning import format_fraction

_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre")
NBSP = "\u00a0"
MINUS = "\u2212"


def date_fr(d: dt.date | str) -> str:
    """A date as written in a French letter.

    >>> date_fr(dt.date(2025, 3, 1)), date_fr('2024-12-15')
    ('1er mars 2025', '15 décembre 2024')
    """
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {_MONTHS[d.month - 1]} {d.year}"


def points_fr(h: int, signed: bool = False) -> str:
    """Integer hundredths in French notation, decimals only when needed.

    >>> points_fr(14350), points_fr(12000), points_fr(-2000), points_fr(1225, signed=True)
    ('143,5', '120', '−20', '+12,25')
    """
    h = int(h)
    sign = MINUS if h < 0 else ("+" if signed and h > 0 else "")
    whole, frac = divmod(abs(h), 100)
    text = f"{whole:,}".replace(",", NBSP)
    if frac:
        text += "," + f"{frac:02d}".rstrip("0")
    return sign + text


def unit_points(h: int) -> str:
    """'point' is singular below 2 in French."""
    return "point" if abs(int(h)) < 200 else "points"


def number_fr(x: Any) -> str:
    """A grid constant in French notation.

    >>> number_fr(0.3), number_fr(240.0), number_fr(12)
    ('0,3', '240', '12')
    """
    if isinstance(x, bool):
        return "oui" if x else "non"
    if isinstance(x, (int, float)):
        sign = MINUS if x < 0 else ""
        x = abs(x)
        if float(x).is_integer():
            return sign + f"{int(x):,}".replace(",", NBSP)
        return sign + f"{float(x):.6f}".rstrip("0").replace(".", ",")
    if isinstance(x, dt.date):
        return date_fr(x)
    return str(x)


def decimal_fr(q: Fraction, digits: int = 1) -> str:
    return format_fraction(q, digits).replace(".", ",").replace("-", MINUS)


def ordinal_fr(n: int) -> str:
    """Feminine ordinal (« la demande »): 1re, 2e…"""
    return "1re" if n == 1 else f"{n}e"


def percent_fr(q: Fraction) -> str:
    """A share as a whole percentage (non-breaking space before %).

    >>> percent_fr(Fraction(1, 3)), percent_fr(Fraction(1, 1000)), percent_fr(Fraction(0))
    ('33\xa0%', 'moins de 1\xa0%', '0\xa0%')
    """
    if 0 < q < Fraction(1, 200):
        return f"moins de 1{NBSP}%"
    return f"{format_fraction(q * 100, 0)}{NBSP}%"


def plural(n: int, one: str, many: str) -> str:
    """``one`` for 0 or 1 (French singular), else ``many``."""
    return one if n <= 1 else many


# ================================================================================ grid in words

_LOC_FR = {"commune": "la commune demandée", "rang": "le rang de ce choix", "epci": "le territoire"}
_OP_FR = {"+": "+", "-": MINUS, "*": "×", "/": "÷"}
_CMP_FR = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def field_label(name: str, grid: ir.GridIR) -> str:
    if name in COLUMNS_BY_NAME and COLUMNS_BY_NAME[name].label:
        return COLUMNS_BY_NAME[name].label
    if name in DERIVED_BY_NAME:
        return DERIVED_BY_NAME[name].label
    for f in grid.local_fields:
        if f.name == name:
            return f.label or name.replace("_", " ")
    return name.replace("_", " ")


# The codes of the demande's enumerations, as the public reads them (no raw code on a document).
CODE_FR = {
    "locataire_hlm": "locataire HLM", "locataire_prive": "locataire du parc privé",
    "proprietaire": "propriétaire", "residence_sociale_foyer": "résidence sociale ou foyer",
    "rhvs": "résidence hôtelière à vocation sociale", "residence_etudiante": "résidence étudiante",
    "sous_locataire_temporaire": "sous-locataire ou hébergé temporairement",
    "structure_hebergement": "structure d'hébergement", "cdef_centre_maternel": "centre maternel",
    "heberge_parents_enfants": "hébergé chez ses parents ou ses enfants",
    "heberge_particulier": "hébergé chez un particulier", "loge_titre_gratuit": "logé à titre gratuit",
    "logement_fonction": "logement de fonction", "camping_caravaning": "camping ou caravane",
    "hotel": "hôtel", "sans_abri": "sans abri", "squat": "squat",
    "occupant_sans_titre": "occupant sans titre", "habitat_mobile": "habitat mobile",
    "logement_temporaire": "logement temporaire", "sans_logement": "sans logement",
    "demolition": "démolition", "non_decent": "logement non décent",
    "insalubre_dangereux": "logement insalubre ou dangereux", "reprise_vente": "reprise ou vente du logement",
    "expulsion": "procédure d'expulsion", "violences_familiales": "violences familiales",
    "handicap": "handicap", "sante": "raisons de santé", "trop_cher": "logement trop cher",
    "trop_grand": "logement trop grand", "divorce_separation": "divorce ou séparation",
    "decohabitation": "décohabitation", "trop_petit": "logement trop petit",
    "futur_couple": "futur couple", "regroupement_familial": "regroupement familial",
    "assistant_maternel_familial": "assistant maternel ou familial", "voisinage": "problèmes de voisinage",
    "mutation_professionnelle": "mutation professionnelle",
    "rapprochement_travail": "rapprochement du lieu de travail",
    "rapprochement_services": "rapprochement des services",
    "rapprochement_famille": "rapprochement familial", "accedant_difficulte": "accédant en difficulté",
    "renouvellement_urbain": "renouvellement urbain", "autre": "autre",
    "celibataire": "célibataire", "marie": "marié", "pacse": "pacsé", "concubin": "en concubinage",
    "divorce": "divorcé", "separe": "séparé", "veuf": "veuf", "cdi_fonctionnaire": "CDI ou fonctionnaire",
    "cdd_interim": "CDD ou intérim", "independant": "indépendant", "chomage": "au chômage",
    "apprenti": "apprenti", "etudiant": "étudiant", "retraite": "retraité", "non": "non",
    "actif": "reconnu", "caduc": "caduc", "actif_reloge": "reconnu et relogé", "T6P": "T6 et plus",
}


def code_fr(value: Any) -> str:
    """A constant of a grid expression in words: codes by their French label, numbers French."""
    if isinstance(value, str):
        return CODE_FR.get(value, value)
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, (frozenset, set, tuple)):
        return ", ".join(sorted(code_fr(v) for v in value))
    return number_fr(value)


def expr_fr(e: ir.Expr, grid: ir.GridIR, top: bool = True) -> str:
    """A readable French rendering of a grid expression (for the points rule of a criterion)."""
    if isinstance(e, ir.Const):
        return code_fr(e.value)
    if isinstance(e, ir.SetLiteral):
        return ", ".join(code_fr(c.value) for c in e.items)
    if isinstance(e, ir.Member):
        word = "n'est pas parmi" if e.negate else "parmi"
        item = expr_fr(e.item, grid, False)
        if isinstance(e.container, ir.Ref):      # a set-valued field (motifs): "motifs contient …"
            verb = "ne contient pas" if e.negate else "contient"
            return f"{expr_fr(e.container, grid, False)} {verb} « {item} »"
        return f"{item} {word} : {expr_fr(e.container, grid, False)}"
    if isinstance(e, ir.Between):
        return (f"{expr_fr(e.operand, grid, False)} entre {expr_fr(e.low, grid, False)} "
                f"et {expr_fr(e.high, grid, False)}")
    if isinstance(e, ir.Ref):
        return field_label(e.name, grid)
    if isinstance(e, ir.LocRef):
        return _LOC_FR.get(e.name, e.name)
    if isinstance(e, ir.Today):
        return "la date de référence"
    if isinstance(e, ir.Neg):
        return MINUS + expr_fr(e.operand, grid, False)
    if isinstance(e, ir.Arith):
        text = f"{expr_fr(e.left, grid, False)} {_OP_FR[e.op]} {expr_fr(e.right, grid, False)}"
        return text if top else f"({text})"
    if isinstance(e, ir.Compare):
        return f"{expr_fr(e.left, grid, False)} {_CMP_FR[e.op]} {expr_fr(e.right, grid, False)}"
    if isinstance(e, ir.If):
        return (f"si {expr_fr(e.cond, grid)} alors {expr_fr(e.then, grid)} "
                f"sinon {expr_fr(e.otherwise, grid)}")
    if isinstance(e, ir.Call):
        a = [expr_fr(x, grid) for x in e.args]
        if e.fn in ("months_between", "years_between", "days_between"):
            unit = {"months_between": "mois", "years_between": "années", "days_between": "jours"}[e.fn]
            if isinstance(e.args[1], ir.Today):
                return f"nombre de {unit} écoulés depuis : {a[0]}"
            return f"nombre de {unit} entre {a[0]} et {a[1]}"
        if e.fn == "min":
            return "le plus petit de : " + " ; ".join(a)
        if e.fn == "max":
            return "le plus grand de : " + " ; ".join(a)
        if e.fn == "coalesce":
            return f"{a[0]} (à défaut : {' ; '.join(a[1:])})"
        if e.fn == "clamp":
            return f"{a[0]}, entre {a[1]} et {a[2]}"
        if e.fn == "round":
            return f"{a[0]} arrondi"
        if e.fn == "floor":
            return f"partie entière de {a[0]}"
        if e.fn == "abs":
            return f"valeur absolue de {a[0]}"
        return f"{e.fn}({', '.join(a)})"
    if isinstance(e, (ir.And, ir.Or)):
        word = " et " if isinstance(e, ir.And) else " ou "
        return expr_fr(e.left, grid, False) + word + expr_fr(e.right, grid, False)
    if isinstance(e, ir.Not):
        return "non " + expr_fr(e.operand, grid, False)
    return "(formule de la grille)"


def _const_value(e: ir.Expr) -> Any:
    return e.value if isinstance(e, ir.Const) else None


def _points_phrase(e: ir.Expr, grid: ir.GridIR) -> str:
    v = _const_value(e)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        h = round(float(v) * 100)
        return f"{points_fr(h)} {unit_points(h)}"
    return f"points = {expr_fr(e, grid)}"


def _is_rate(e: ir.Expr | None) -> bool:
    return isinstance(e, ir.Ref) and e.name == "taux_effort"


def _bound_fr(x: float, rate: bool) -> str:
    if rate:
        return number_fr(round(x * 100, 6)) + NBSP + "%"
    return number_fr(x)


def rule_fr(c: ir.CriterionIR, grid: ir.GridIR) -> str:
    """The points rule of a criterion in words: '80 points', 'selon le taux d'effort : …'."""
    if c.band_of is not None:
        rate = _is_rate(c.band_of)
        parts = []
        for s in c.bands:
            if s.low is None and s.high is None:
                cond = "quelle que soit la valeur"
            elif s.low is None:
                cond = f"moins de {_bound_fr(s.high, rate)}"
            elif s.high is None:
                cond = f"{_bound_fr(s.low, rate)} ou plus"
            else:
                cond = f"de {_bound_fr(s.low, rate)} à moins de {_bound_fr(s.high, rate)}"
            parts.append(f"{cond} : {_points_phrase(s.points, grid)}")
        text = f"selon {expr_fr(c.band_of, grid)} — " + " ; ".join(parts)
    else:
        text = _points_phrase(c.points, grid)
    extra = []
    if c.floor is not None:
        extra.append(f"au moins {number_fr(c.floor)}")
    if c.cap is not None:
        extra.append(f"au plus {number_fr(c.cap)}")
    if extra:
        text += " (" + ", ".join(extra) + ")"
    if c.weight != 1:
        text += f", multiplié par {number_fr(c.weight)}"
    return text


VALIDATION_FR = {
    "automatique": "",
    "justificatif": "vérification : pièce justificative",
    "travailleur_social": "vérification : avis d'un travailleur social",
    "guichet": "vérification : au guichet",
    "commission": "vérification : décision d'une commission",
}

STATUS_FR = {
    "met": "Oui",
    "not_met": "Non",
    "awaiting_validation": "Oui, à vérifier",
    "set_aside": "Oui, non cumulé",
}


def group_rule_fr(g: ir.GroupIR) -> str:
    text = {"max": "un seul de ces critères compte : celui qui rapporte le plus",
            "first": "un seul de ces critères compte : le premier rempli dans l'ordre de la grille",
            "sum": "les points de ces critères s'additionnent"}[g.policy]
    if g.cap is not None:
        text += f", {number_fr(g.cap)} points au plus pour l'ensemble"
    if g.floor is not None:
        text += f", {number_fr(g.floor)} points au moins pour l'ensemble"
    return text


def ordering_fr(grid: ir.GridIR) -> str:
    parts = []
    for k in grid.ordering:
        if k.expr is None:
            parts.append("le nombre de points (le plus élevé d'abord)" if k.direction == "desc"
                         else "le nombre de points (le plus faible d'abord)")
        elif isinstance(k.expr, ir.Ref) and k.expr.name == "date_depot":
            parts.append("la date de dépôt (la plus ancienne d'abord)" if k.direction == "asc"
                         else "la date de dépôt (la plus récente d'abord)")
        elif isinstance(k.expr, ir.Ref) and k.expr.name == "numero_unique":
            parts.append("le numéro unique")
        else:
            word = "décroissant" if k.direction == "desc" else "croissant"
            parts.append(f"{expr_fr(k.expr, grid)} (ordre {word})")
    return "Les demandes sont classées selon " + ", puis ".join(parts) + "."



# ================================================================================ places and housing

def commune_label(code: str, names: dict[str, str]) -> str:
    """'Lyon (69123)' when a name is known, else 'commune 69123'."""
    name = names.get(code)
    return f"{name} ({code})" if name else f"commune {code}"


def in_commune(code: str, names: dict[str, str]) -> str:
    return f"à {names[code]} ({code})" if names.get(code) else f"dans la commune {code}"


def for_commune(code: str, names: dict[str, str]) -> str:
    return f"pour {names[code]} ({code})" if names.get(code) else f"pour la commune {code}"


def typo_text(t: str | None) -> str:
    if t is None:
        return "un logement (taille non précisée)"
    if t == "chambre":
        return "une chambre"
    if t == "T6P":
        return "un T6 ou plus"
    return f"un {t}"


def typo_short(t: str | None) -> str:
    return {"chambre": "Chambre", "T6P": "T6 et +", None: "Non précisée"}.get(t, t)


_TYPO_DEMANDES = {"chambre": " de chambre", "T6P": " de T6 et plus", None: " sans taille précisée"}
_TYPO_LOGEMENTS = {"chambre": " de type chambre", "T6P": " T6 et plus", None: " de taille non précisée"}
_HLM = {True: "déjà locataires HLM", False: "pas encore locataires HLM",
        None: "au statut HLM non renseigné"}


def cell_text(level: Sequence[str], values: dict[str, Any], names: dict[str, str], territory: str,
              kind: str) -> str:
    """Who is in a cell, in words: 'demandes de T2 pour Lyon (69123)' (kind 'demandes') or
    'logements T2 attribués à Lyon (69123)' (kind 'logements')."""
    demandes = kind == "demandes"
    text = "demandes" if demandes else "logements"
    if "typologie" in level:
        t = values["typologie"]
        words = _TYPO_DEMANDES if demandes else _TYPO_LOGEMENTS
        text += words.get(t, (" de " if demandes else " ") + str(t))
    if not demandes:
        text += " attribués"
    if "est_mutation" in level:
        who = _HLM[values["est_mutation"]]
        text += f" de ménages {who}" if demandes else f" à des ménages {who}"
    if "loc.commune" in level:
        code = values["loc.commune"]
        text += " " + (for_commune(code, names) if demandes else in_commune(code, names))
    else:
        text += f" sur tout le territoire ({territory})"
    return text


def choice_fr(rang: int) -> str:
    return "1er choix" if rang == 1 else f"{rang}e choix"


def points_valides_fr(h: int) -> str:
    return "déjà vérifié" if abs(h) < 200 else "déjà vérifiés"



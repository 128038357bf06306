"""The sentences of a statement, in French: what the demandeur reads, built from figures.

:mod:`~cotation.info.statements.build` gathers the figures and calls these functions; nothing
here reads a table. Each function returns one sentence (or a short label) and is pure.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any, Sequence

from cotation.info.statements.wording import (
    NBSP, STATUS_FR, choice_fr, commune_label, date_fr, decimal_fr, for_commune, in_commune,
    number_fr, ordinal_fr, percent_fr, plural, points_fr, points_valides_fr, typo_short, typo_text,
    unit_points,
)
from cotation.info.statements.facts import SHOWN, field_label

# ================================================================================ fixed texts

TITLE = "Information sur votre demande de logement social"
SCORES_TEXT = ("La cotation provisoire compte tous les critères que vous avez déclarés ; "
               "la cotation validée ne compte que ceux dont la vérification est faite.")
DECILE_TEXT = ("Le classement est partagé en dix parts égales (dixièmes) : le 1er dixième "
               "réunit les 10 % de demandes les mieux placées, le 10e les 10 % les moins "
               "bien placées.")
WAITING_NOTE = ("Ces délais décrivent des attributions passées et sont indicatifs : ils ne "
                "prédisent pas votre propre attente. Quelques attentes très longues tirent la "
                "moyenne vers le haut ; la médiane (la moitié des ménages ont attendu moins) "
                "est souvent plus proche de la situation la plus courante.")
STATUS_TEXT = ("« Oui, à vérifier » : le critère compte dans la cotation provisoire et "
               "comptera dans la cotation validée après vérification. « Oui, non cumulé » : "
               "vous remplissez ce critère, mais un seul critère de son groupe compte. "
               "« Non concerné » : le critère s'applique à votre demande sans lui donner "
               "de point.")
NOTES = (
    "La cotation est une aide à la décision : la commission d'attribution (CALEOL) examine "
    "plusieurs candidatures pour chaque logement et reste libre de son choix.",
    "Si une information de votre demande est inexacte ou a changé, mettez votre demande à "
    "jour : votre cotation sera recalculée.",
)
QUESTIONS = ("Combien de points avez-vous ?", "Où se situe votre demande ?",
             "Combien de temps attendent les demandeurs comme vous ?",
             "Que se passe-t-il si vous refusez un logement ?")
NO_REFUSAL_EFFECT = "La grille de votre territoire ne prévoit pas d'effet d'un refus sur votre cotation."


def privacy_text(min_cell: int, min_leases: int) -> str:
    return ("Ce document ne contient que les informations de votre demande et des "
            "chiffres d'ensemble ; aucune autre demande n'y est identifiable. La "
            f"répartition des points n'est montrée que pour au moins {min_cell} "
            f"demandes (une barre de moins de {min_cell} demandes n'est pas dessinée), et un délai d'attente pour au moins {min_leases} logements "
            "attribués.")


# ================================================================================ the demande

_KIND = {True: "demande de mutation (vous êtes déjà locataire HLM)",
         False: "première demande (vous n'êtes pas locataire HLM)", None: None}


def kind_text(est_mutation: bool | None) -> str | None:
    return _KIND[est_mutation]


def demande_text(numero_unique: str, date_depot: str, anciennete: int, typologies: Sequence[str],
                 communes: Sequence[tuple[str, int]], names: dict[str, str]) -> str:
    typo_words = (" ou ".join(typo_text(t) for t in typologies) if typologies
                  else "un logement (taille non précisée)")
    return (f"Demande n°{NBSP}{numero_unique}, déposée le {date_fr(date_depot)} "
            f"({anciennete} mois d'ancienneté), pour {typo_words}. "
            + plural(len(communes), "Commune demandée", "Communes demandées")
            + " sur ce territoire : "
            + " ; ".join(f"{commune_label(code, names)}, {choice_fr(rang)}" for code, rang in communes)
            + ".")


def reference_text(today: str, grid_title: str, version: str, effective_from: str) -> str:
    return (f"Situation au {date_fr(today)}, calculée avec la grille « {grid_title} » "
            f"(version {version}, en vigueur depuis le {date_fr(effective_from)}).")


def footer_text(grid_id: str, version: str, today: str, numero_unique: str, grid_hash: str) -> str:
    return (f"Grille {grid_id}, version {version} — date de référence {today} — "
            f"demande {numero_unique} — empreinte de la grille {grid_hash}")


# ================================================================================ points

def score_text(commune: str, h: int, hv: int, names: dict[str, str]) -> str:
    return (f"{commune_label(commune, names)} : {points_fr(h)} {unit_points(h)}"
            f", dont {points_fr(hv)} {points_valides_fr(hv)}")


def bound_text(raw: int, h: int) -> str:
    return (f"Le total des critères ({points_fr(raw)}) est ramené à {points_fr(h)} : la grille "
            "fixe un total " + ("minimal" if raw < h else "maximal") + ".")


def total_text(h: int, hv: int, n_communes: int) -> str:
    where = " pour chacune des communes demandées" if n_communes > 1 else ""
    return f"Total{where} : {points_fr(h)} {unit_points(h)}, dont {points_fr(hv)} {points_valides_fr(hv)}"


def status_text(status: str, points: int, commune_name: str | None) -> str:
    # A criterion met for 0 points (a 0-point band, no refusal on record) changes
    # nothing: "Oui" would read as if it applied to the demandeur.
    text = STATUS_FR[status] if points or status == "not_met" else "Non concerné"
    return text if commune_name is None else f"{commune_name} : {text}"    # short: a narrow column


def counted_text(h: int) -> str:
    return points_fr(h, signed=True) if h else "0"


def adjustment_text(label: str, mark: str, communes: Sequence[str] | None, raw: int, bounded: int,
                    names: dict[str, str]) -> str:
    """A group's cap or floor at work; ``communes`` None when it applies to every commune."""
    where = "" if communes is None else ", " + " ; ".join(for_commune(c, names) for c in communes)
    bound = "plafond" if bounded < raw else "plancher"
    return (f"{label} {mark}{where} : {points_fr(raw)} {unit_points(raw)} "
            f"ramenés à {points_fr(bounded)} ({bound} du groupe)")


# ================================================================================ positions

def heading(typologie: str | None, commune: str, names: dict[str, str]) -> str:
    return f"{typo_short(typologie)} — {commune_label(commune, names)}"


def position_score_text(h: int, hv: int) -> str:
    return f"{points_fr(h)} {unit_points(h)} (validés : {points_fr(hv)})"


def rank_text(rank: int, size: int, n_above: int, decile: int, cell: str) -> str:
    if size == 1:
        return f"Votre demande est la seule parmi les {cell}."
    return (f"Votre demande est classée {ordinal_fr(rank)} sur {size} {cell}. "
            + (f"{n_above} {plural(n_above, 'demande a', 'demandes ont')} plus de points "
               f"que la vôtre ({percent_fr(Fraction(n_above, size))})." if n_above else
               "Aucune demande comparable n'a plus de points que la vôtre.")
            + (" Elle fait partie des 10 % de demandes les mieux placées." if decile == 1 else
               f" Elle se situe dans le {decile}e dixième du classement."))


def position_fallback_text(min_size: int, first_cell: str, cell: str) -> str:
    return f"Il y a moins de {min_size} {first_cell} : la comparaison porte sur les {cell}."


def histogram_note(min_cell: int) -> str:
    return (f"Moins de {min_cell} demandes comparables : la répartition des points n'est pas "
            "montrée, pour protéger la vie privée des autres demandeurs.")


def histogram_caption(size: int, cell: str, h: int) -> str:
    return (f"Répartition des points des {size} {cell}. La barre foncée contient votre demande "
            f"({points_fr(h)} {unit_points(h)}).")


def delai_text(anciennete: int, threshold: int, typologie: str | None, exceeded: bool) -> str:
    if exceeded:
        return (f"Votre demande a {anciennete} mois d'ancienneté : elle atteint le délai "
                f"anormalement long fixé pour {typo_text(typologie)} ({threshold} mois)."
                " Vous pouvez saisir la commission de médiation DALO de votre département.")
    return (f"Le délai anormalement long fixé pour {typo_text(typologie)} est de "
            f"{threshold} mois ; votre demande a {anciennete} mois d'ancienneté.")


# ================================================================================ waiting times

def waiting_period(start: dt.date, end_exclusive: dt.date) -> str:
    return f"du {date_fr(start)} au {date_fr(end_exclusive - dt.timedelta(days=1))}"


def waiting_shown_text(mean_months: Fraction, mean_days: Fraction, median_months: Fraction,
                       median_days: Fraction, mean_first: bool, n: int, leases: str, period: str) -> str:
    mean = f"en moyenne {decimal_fr(mean_months)} mois ({decimal_fr(mean_days, 0)} jours)"
    median = (f"la moitié ont attendu moins de {decimal_fr(median_months)} mois "
              f"(médiane, {decimal_fr(median_days, 0)} jours)")
    figures = f"{mean} ; {median}" if mean_first else f"{median} ; {mean}"
    return f"Délai d'attente constaté : {figures}. Calculé sur les {n} {leases} {period}."


def waiting_none_text(period: str, leases: str) -> str:
    return (f"Aucun logement n'a été attribué {period} parmi les {leases} : pas de "
            "délai d'attente à publier.")


def waiting_few_text(period: str, n: int, min_leases: int) -> str:
    return (f"Trop peu de logements attribués {period} ({n}, moins de {min_leases}) : aucun délai "
            "n'est publié, pour ne pas révéler de situation individuelle.")


def waiting_fallback_text(min_size: int, first_cell: str, period: str, leases: str) -> str:
    return f"Moins de {min_size} {first_cell} {period} : le délai est calculé sur les {leases}."


# ================================================================================ refusal, summary

def refusal_item_text(h: int, commune: str | None, names: dict[str, str]) -> str:
    where = f" {for_commune(commune, names)}" if commune is not None else ""
    return (f"Aujourd'hui, ce critère vous retire {points_fr(-h)} {unit_points(h)}{where}."
            if h < 0 else f"Aujourd'hui, ce critère ne vous retire aucun point{where}.")


def points_answer(per_commune: Sequence[tuple[str, int, int]], names: dict[str, str]) -> str:
    """``per_commune``: (commune, points, validated points) in hundredths."""
    if len({(h, hv) for _, h, hv in per_commune}) == 1:
        _, h, hv = per_commune[0]
        where = "" if len(per_commune) == 1 else ", pour chacune des communes demandées"
        return (f"Votre demande a {points_fr(h)} {unit_points(h)}{where}. "
                + ("Tous sont déjà vérifiés." if h == hv else
                   f"Parmi eux, {points_fr(hv)} {'est' if abs(hv) < 200 else 'sont'} "
                   f"{points_valides_fr(hv)} (cotation validée) ; "
                   "les autres le seront après vérification de vos justificatifs."))
    return "Votre demande a " + " ; ".join(
        f"{points_fr(h)} {unit_points(h)} {for_commune(c, names)}, dont {points_fr(hv)} {points_valides_fr(hv)}"
        for c, h, hv in per_commune) + "."


def position_answer(typologie: str | None, commune: str, rank: int, size: int, more: bool,
                    names: dict[str, str]) -> str:
    return (f"Pour {typo_text(typologie)} {in_commune(commune, names)} : "
            + (f"votre demande est classée {ordinal_fr(rank)} sur {size} demandes comparables."
               if size > 1 else "aucune autre demande n'est comparable à la vôtre.")
            + (" Détail par commune et par taille de logement plus bas." if more else ""))


def waiting_answer(w: Any, typologie: str | None, commune: str, window_months: int,
                   names: dict[str, str]) -> str:
    """The waiting time of the cell actually used, named as such (it may be the whole territory,
    all sizes, when the demande's own cell had too few leases)."""
    if not w.shown:
        return "Pas assez d'attributions récentes pour publier un délai d'attente fiable."
    return (f"Pour les {w.cell_text} ces {window_months} derniers mois ({w.n_attributions} baux), "
            f"l'attente a été en moyenne de {decimal_fr(Fraction(str(w.mean_months)))} mois "
            f"(la moitié moins de {decimal_fr(Fraction(str(w.median_months)))} mois).")


def refusal_answer(any_negative: bool) -> str:
    return ("Refuser un logement adapté à vos besoins peut vous faire perdre des points "
            "(voir « Si vous refusez un logement »). "
            + ("Aujourd'hui, des refus passés vous retirent des points." if any_negative else
               "Aujourd'hui, aucun refus ne vous retire de points."))


# ================================================================================ values and gaps

_SHORT = {"taux_effort": "taux d'effort", "reste_a_vivre_uc": "reste à vivre",
          "anciennete_mois": "ancienneté de la demande", "surface_par_personne": "surface par personne",
          "age": "âge", "ressources_mensuelles": "ressources mensuelles", "loyer_actuel": "loyer actuel",
          "nb_refus_adaptes_12m": "refus d'offres adaptées en 12 mois"}


def _value_fr(name: str, v: Any) -> str | None:
    if v is None or isinstance(v, (list, bool, str)):
        return None
    if isinstance(v, float) and v.is_integer() and name in ("anciennete_mois", "age", "nb_refus_adaptes_12m"):
        v = int(v)
    if name == "taux_effort":
        return decimal_fr(Fraction(str(v)) * 100) + NBSP + "%"
    if name in ("reste_a_vivre_uc", "ressources_mensuelles", "loyer_actuel"):
        return number_fr(round(v)) + NBSP + "€" + (" par unité de consommation" if name == "reste_a_vivre_uc" else "")
    if name == "anciennete_mois":
        return f"{v} mois"
    if name == "age":
        return f"{v} ans"
    if name == "surface_par_personne":
        return decimal_fr(Fraction(str(v))) + NBSP + "m²"
    return number_fr(v)


def values_text(fields: Sequence[str], values: dict[str, Any]) -> str | None:
    """'Valeur retenue : taux d'effort 34,2 %' for the fields a criterion reads (those worth
    showing: rates, amounts, durations), None when there is none."""
    parts = []
    for name in fields:
        if name not in SHOWN:
            continue
        text = _value_fr(name, values.get(name))
        parts.append(f"{_SHORT.get(name, field_label(name))} : {text if text is not None else 'non calculable'}")
    if not parts:
        return None
    return ("Valeur retenue : " if len(parts) == 1 else "Valeurs retenues : ") + " ; ".join(parts)


def missing_text(fields: Sequence[str]) -> str | None:
    """'information manquante : ressources mensuelles — à ajouter à votre demande'."""
    if not fields:
        return None
    return ("information manquante : " + ", ".join(field_label(n) for n in fields)
            + " — à ajouter à votre demande pour que ce critère puisse être examiné")


def refusal_position_text(h: int, new_h: int, new_n_above: int) -> str:
    if new_h == h:
        return "un refus ne changerait ni vos points ni votre rang"
    return f"{points_fr(new_h)} points, {new_n_above} devant"


def refusal_effect_text(positions: Sequence[Any]) -> str | None:
    """What refusing an adapted offer today would do to this demande, from its positions."""
    known = [p for p in positions if p.refusal_score is not None]
    if not known:
        return None
    changed = [p for p in known if p.refusal_score != p.score]
    if not changed:
        return ("Calculé pour votre demande aujourd'hui : un refus d'un logement adapté ne changerait "
                "ni vos points ni votre rang.")
    p = changed[0]
    h, new_h = round(p.score * 100), round(p.refusal_score * 100)
    return (f"Calculé pour votre demande aujourd'hui : si vous refusiez un logement adapté, vos points "
            f"passeraient de {points_fr(h)} à {points_fr(new_h)}. Pour {typo_text(p.typologie)} "
            f"{_place(p)}, {p.refusal_n_above} {plural(p.refusal_n_above, 'demande aurait', 'demandes auraient')} "
            f"alors plus de points que vous, au lieu de {p.n_above}. Le détail par commune et par "
            f"taille de logement figure dans le tableau de vos classements.")


def _place(p: Any) -> str:
    return f"à {p.commune_name} ({p.commune})" if p.commune_name else f"dans la commune {p.commune}"


def positions_note(first_cell: str, n: int, fallback_text: str | None) -> str:
    text = f"Le rang compare votre demande aux {first_cell}"
    text += ", et de même pour chaque ligne du tableau." if n > 1 else "."
    if fallback_text:
        text += f" * {fallback_text}"
    return text


def waiting_cells_text(cells: Sequence[tuple[str, int]], fallback: bool) -> str:
    """'Délais d'attente : … pour : [1] les logements T1 attribués à Bron (69029) (57 baux) ; …'."""
    listed = " ; ".join(f"[{k}] les {cell} ({n} {plural(n, 'bail', 'baux')})"
                        for k, (cell, n) in enumerate(cells, 1))
    text = ("Attente : moyenne et médiane (la moitié des ménages a attendu moins) des délais entre le "
            f"dépôt de la demande et la signature du bail, pour : {listed}.")
    if fallback:
        text += (" Quand trop peu de logements ont été attribués pour votre commune et votre taille "
                 "de logement, le délai est calculé sur l'ensemble indiqué entre crochets.")
    return text

"""SNE code lists translated to canonical codes (explicit tables, one per SNE list).

Source of the SNE codes: the code lists of the SNE interface (cahier des charges des interfaces,
lists ``ListeModeleLogement``, ``ListeMotifDemande``, ``ListeSituationFamiliale``,
``ListeTypeContratTravail``, ``ListeTypeLogement``, ``ListeStatutDalo``...), as reproduced by
public tools reading interfaceNuu files. Translations marked *uncertain* are a judgement where
the SNE list and the canonical list do not line up one to one; a code absent from a table is
never guessed: the row is rejected and the code named in the reason.

Mapping files refer to these tables as ``sne.<name>`` (e.g. ``codes: sne.modele_logement``).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from cotation.data.schema import ENUMS

Table = Mapping[str, "str | bool | None"]

# ListeModeleLogement (logement actuel). A file may list several; see sne_xml for the choice.
# Canonical codes occupant_sans_titre, habitat_mobile and logement_temporaire come from later
# CERFA versions whose SNE codes are not in the interface lists we could verify: such codes
# are rejected as unknown until added here.
MODELE_LOGEMENT = MappingProxyType({
    "HLM": "locataire_hlm",
    "LP": "locataire_prive",
    "RS": "residence_sociale_foyer",
    "RHVS": "rhvs",
    "RE": "residence_etudiante",
    "SLHT": "sous_locataire_temporaire",
    "SH": "structure_hebergement",
    "CDEFCM": "cdef_centre_maternel",
    "CPE": "heberge_parents_enfants",
    "CP": "heberge_particulier",
    "LTG": "loge_titre_gratuit",
    "FONC": "logement_fonction",
    "POCC": "proprietaire",
    "CAMCAR": "camping_caravaning",
    "HOT": "hotel",
    "SD": "sans_abri",
    "SQUAT": "squat",
})

# ListeMotifDemande 01-23. Uncertain: 03 covers "non décent, insalubre ou dangereux, local
# impropre" in one SNE code; it maps to non_decent (insalubre_dangereux only comes from sources
# that separate the two). renouvellement_urbain has no code in this list.
MOTIF = MappingProxyType({
    "01": "sans_logement", "02": "demolition", "03": "non_decent", "04": "reprise_vente",
    "05": "expulsion", "06": "violences_familiales", "07": "handicap", "08": "sante",
    "09": "trop_cher", "10": "trop_grand", "11": "divorce_separation", "12": "decohabitation",
    "13": "trop_petit", "14": "futur_couple", "15": "regroupement_familial",
    "16": "assistant_maternel_familial", "17": "voisinage", "18": "mutation_professionnelle",
    "19": "rapprochement_travail", "20": "rapprochement_services", "21": "rapprochement_famille",
    "22": "accedant_difficulte", "23": "autre",
})

SITUATION_FAMILIALE = MappingProxyType({
    "C": "celibataire", "M": "marie", "D": "divorce", "S": "separe", "P": "pacse",
    "U": "concubin", "V": "veuf",
})

# ListeTypeContratTravail: CDI includes fonctionnaires; CDD includes stage and intérim;
# ART is artisan, commerçant, profession libérale.
TYPE_CONTRAT = MappingProxyType({
    "CDI": "cdi_fonctionnaire", "CDD": "cdd_interim", "ART": "independant", "CHO": "chomage",
    "APP": "apprenti", "ETU": "etudiant", "RET": "retraite", "AUT": "autre",
})

# ListeTypeLogement (logement actuel and recherché): "C" is a chambre.
TYPOLOGIE = MappingProxyType({
    "C": "chambre", "T1": "T1", "T2": "T2", "T3": "T3", "T4": "T4", "T5": "T5", "T6P": "T6P",
})

STATUT_DALO = MappingProxyType({
    "NON": "non", "ACTIF": "actif", "CADUC": "caduc", "ACTREL": "actif_reloge",
})

# ListeBooleen: NONDOC ("non renseigné") is a missing value, not a "no".
BOOLEEN = MappingProxyType({"OUI": True, "NON": False, "NONDOC": None})

# Persons: lienParente of a personne à charge, coParentalite of a child in shared custody.
LIEN_PARENTE_ADULTE = MappingProxyType({"P": True, "A": True, "E": False})  # True = adult
CO_PARENTALITE = MappingProxyType({"G": "garde_alternee", "D": "droit_de_visite"})
# lienDemandeur of a cotitulaire that makes them the conjoint (L = co-locataire is not).
LIEN_CONJOINT = frozenset({"M", "P", "C"})

TABLES: Mapping[str, Table] = MappingProxyType({
    "modele_logement": MODELE_LOGEMENT,
    "motif": MOTIF,
    "situation_familiale": SITUATION_FAMILIALE,
    "type_contrat": TYPE_CONTRAT,
    "typologie": TYPOLOGIE,
    "statut_dalo": STATUT_DALO,
    "booleen": BOOLEEN,
    # est_mutation from a logement-actuel column: only HLM makes a mutation.
    "mutation": MappingProxyType({"HLM": True, "*": False}),
})

# The canonical column each table targets, for the consistency test.
TARGETS = {
    "modele_logement": ENUMS["situation_logement"], "motif": ENUMS["motifs"],
    "situation_familiale": ENUMS["situation_familiale"], "type_contrat": ENUMS["situation_pro"],
    "typologie": ENUMS["typologies"], "statut_dalo": ENUMS["dalo_statut"],
}

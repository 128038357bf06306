"""A synthetic attribution history (leases signed) consistent with the demandes' territories.
"""
from __future__ import annotations

import datetime as dt
import math
import numpy as np
from typing import Sequence

from cotation.data.schema import FINANCEMENTS, TYPOLOGIES
from cotation.data.synth.draws import (
    _DAYS_PER_MONTH, _EPOCH_ORDINAL, _codes, _dates, _pick, _weights, _years_before
)
from cotation.data.synth.params import SynthParams
from cotation.data.synth.territories import _Territories, _numeros
from cotation.data.table import AttributionTable, DemandeTable

# ----------------------------------------------------------------------------- attributions


def generate_attributions(n: int, *, seed: int, today: dt.date,
                          territories: Sequence[Sequence[str]], years: int = 3,
                          params: SynthParams | None = None) -> AttributionTable:
    """``n`` leases signed over the ``years`` years up to ``today`` (included).

    Waits (date_attribution − date_depot) are lognormal with median
    ``params.attente_mediane_mois`` and mean ≈ ``attente_ratio_moyenne_mediane`` × median
    overall (§3.4), longer for T1 and T5+ and in the centre commune, shorter for mutations.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not isinstance(years, int) or years <= 0:
        raise ValueError("years must be a whole number of years > 0")
    if not isinstance(today, dt.date) or isinstance(today, dt.datetime):
        raise TypeError("today must be a datetime.date")
    p = params or SynthParams()
    terr_info = _Territories.build(territories, p)
    # Own stream (jumped), so demandes and attributions of one seed are not correlated.
    rng = np.random.Generator(np.random.PCG64(seed).jumped())
    today_d = today.toordinal() - _EPOCH_ORDINAL

    window = today_d - _years_before(today, years)  # signed in (today − years, today]
    signed = today_d - rng.integers(0, window, n)
    terr = np.searchsorted(terr_info.territory_cdf, rng.random(n), side="right")
    commune = terr_info.pick_commune(rng.random(n), terr)
    typo = _pick(rng.random(n), _weights(p.attribution_typologies, "attribution_typologies",
                                         TYPOLOGIES))
    mutation = rng.random(n) < p.attribution_part_mutation

    # Log multipliers of the median wait; centred in-sample so the overall median stays put,
    # and the within-cell spread shrinks by their variance so mean/median stays on target.
    log_commune = p.attente_sigma_commune * rng.standard_normal(len(terr_info.communes))
    for m in terr_info.members:
        log_commune[m[0]] += math.log(p.attente_facteur_centre)
    log_typo = np.log([p.attente_facteur_typologie.get(t, 1.0) for t in TYPOLOGIES])
    lm = log_typo[typo] + log_commune[commune] + math.log(p.attente_facteur_mutation) * mutation
    if n:
        lm = lm - lm.mean()
    var_total = 2.0 * math.log(p.attente_ratio_moyenne_mediane)  # lognormal: mean/median = e^(σ²/2)
    sigma = math.sqrt(max(var_total - (float(lm.var()) if n else 0.0), 0.01))
    wait_months = p.attente_mediane_mois * np.exp(lm + sigma * rng.standard_normal(n))
    wait_days = np.maximum(1, np.round(wait_months * _DAYS_PER_MONTH)).astype(np.int64)
    depot = signed - wait_days

    fin = _pick(rng.random(n), _weights(p.financements, "financements", FINANCEMENTS))
    qpv = rng.random(n) < p.part_qpv
    res = _pick(rng.random(n), _weights(p.reservataires, "reservataires", tuple(p.reservataires)))
    numeros = _numeros(rng, terr_info.dept_of[commune], terr_info.departements, depot, parity=2)
    cols = {
        "numero_unique": numeros,
        "date_depot": _dates(depot),
        "date_attribution": _dates(signed),
        "commune": _codes(commune, terr_info.communes),
        "typologie": _codes(typo, TYPOLOGIES),
        "est_mutation": mutation.tolist(),
        "financement": _codes(fin, FINANCEMENTS),
        "qpv": qpv.tolist(),
        "reservataire": _codes(res, tuple(p.reservataires)),
    }
    return AttributionTable(cols)


def attributed_demandes(attributions: AttributionTable, *, seed: int, today: dt.date,
                        territories: Sequence[Sequence[str]],
                        params: SynthParams | None = None) -> DemandeTable:
    """The demande behind each attribution, as it stood on its attribution date.

    Households, incomes and situations are drawn like pending demandes, on their own stream
    (seed + 1), then aligned with the lease: same numéro unique, dépôt and mutation flag, the
    attributed commune first among the localisations and the attributed typologie among those
    asked, renewals and refusals before the attribution. Ages are drawn at ``today``, a few
    months off for older leases (guess; ages only move the age criteria).
    """
    from cotation.data.synth.demandes import generate_demandes

    n = len(attributions)
    base = generate_demandes(n, seed=seed + 1, today=today, territories=territories,
                             params=params)
    a = attributions.columns
    cols = base.columns
    depot = np.array([d.toordinal() for d in a["date_depot"]], dtype=np.int64)
    signed = np.array([d.toordinal() for d in a["date_attribution"]], dtype=np.int64)
    years = (signed - depot) // 365
    renew = depot + 365 * years
    cols["numero_unique"] = list(a["numero_unique"])
    cols["date_depot"] = list(a["date_depot"])
    cols["date_renouvellement"] = [dt.date.fromordinal(int(r)) if y > 0 else None
                                   for r, y in zip(renew, years)]
    mutation = np.asarray(a["est_mutation"], dtype=bool)
    cols["est_mutation"] = mutation.tolist()
    sit = np.asarray(cols["situation_logement"], dtype=object)
    sit[mutation] = "locataire_hlm"
    sit[~mutation & (sit == "locataire_hlm")] = "locataire_prive"
    cols["situation_logement"] = sit.tolist()
    cols["localisations"] = [(c,) + tuple(x for x in locs if x != c)
                             for c, locs in zip(a["commune"], cols["localisations"])]
    cols["typologies"] = [s | {t} for t, s in zip(a["typologie"], cols["typologies"])]
    late = np.array([r is not None and r.toordinal() > s
                     for r, s in zip(cols["date_dernier_refus_adapte"], signed)], dtype=bool)
    cols["date_dernier_refus_adapte"] = [None if x else r for x, r in
                                         zip(late, cols["date_dernier_refus_adapte"])]
    cols["nb_refus_adaptes"] = [0 if x else r for x, r in zip(late, cols["nb_refus_adaptes"])]
    return DemandeTable(cols, base.extras)

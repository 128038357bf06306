"""Dispatch (flux.md §8): orient each vacancy to the réservataire most behind its objective.

``d_i = T_i × (n + 1) / F − D_i`` in exact fractions; the largest wins, ties broken by the
larger target, then ``priority_rank``, then id. Every step is written to an audit record
holding all the figures, so :func:`verify_audit` can replay the log without the inputs.
"""
from __future__ import annotations

import datetime as dt
import heapq
import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterable, Mapping, Sequence

from cotation.flux.conventions import ConventionFile
from cotation.flux.decompte import charge_vacancy
from cotation.flux.model import BAILLEUR, DIMENSIONS, Evenement, Logement
from cotation.flux.shortlist import CandidateSource
from cotation.flux.targets import Party, Targets, party_order

RULE_VERSION = "flux-dispatch/1"

InternalFirst = Callable[[Evenement, Logement], "str | None"]
"""Hook run before scoring: returns a soustraction category to take the vacancy out of the flux."""
OnDecision = Callable[[dict, Evenement, Logement], Iterable[Evenement]]
"""Called after each decision; may return later events of that vacancy (used by the generator)."""


def soustraction_from_event(event: Evenement, logement: Logement) -> str | None:
    """Default ``internal_first`` hook: the category declared on the LIBERATION row."""
    return event.soustraction


def _segment_json(segment_by: Sequence[str], seg: tuple | None) -> dict | None:
    return None if seg is None else dict(zip(segment_by, seg))


class Dispatcher:
    """The §8 rule, one vacancy at a time, keeping D_i for the whole perimeter and per segment."""

    def __init__(self, parties: Sequence[Party], totals: Mapping[str, int],
                 segment_targets: Mapping[tuple, Mapping[str, int]] | None = None, *,
                 segment_by: Sequence[str] = (), enforce_quotas: bool = False, config_version: str = "",
                 rights_left: Mapping[str, int] | None = None):
        # Droits uniques left at the start of the year (flux.md §6): a réservataire whose rights
        # are all used is excluded (DROITS_UNIQUES_EPUISES).
        self.rights_left = dict(rights_left or {})
        self.parties = tuple(sorted(parties, key=party_order))
        if not any(p.is_bailleur for p in self.parties):
            self.parties += (Party(BAILLEUR, "BAILLEUR", "bailleur"),)
        self.segment_by = tuple(segment_by)
        self.enforce_quotas = enforce_quotas
        self.config_version = config_version
        self._targets: dict[tuple | None, dict[str, int]] = {None: dict(totals)}
        for seg, t in (segment_targets or {}).items():
            self._targets[seg] = dict(t)
        self._counts: dict[tuple | None, dict[str, int]] = {}
        self._oriented: dict[str, tuple[str, tuple | None]] = {}
        self.records: list[dict] = []

    @classmethod
    def from_targets(cls, targets: Targets, *, segment_by: Sequence[str] = (), enforce_quotas: bool = False,
                     config_version: str = "", rights_left: Mapping[str, int] | None = None) -> "Dispatcher":
        if tuple(segment_by) != targets.segment_by:
            raise ValueError(f"targets computed per {targets.segment_by}, dispatch asks {tuple(segment_by)}")
        seg_t: dict[tuple, dict[str, int]] = {}
        for cell, t in targets.cells.items():
            acc = seg_t.setdefault(cell.segment, {p.id: 0 for p in targets.parties})
            for rid, n in t.items():
                acc[rid] += n
        return cls(targets.parties, targets.totals, seg_t if segment_by else None, segment_by=segment_by,
                   enforce_quotas=enforce_quotas, config_version=config_version, rights_left=rights_left)

    @classmethod
    def simple(cls, targets: Mapping[str, int], types: Mapping[str, str]) -> "Dispatcher":
        """A dispatcher over plain targets with no perimeter or segment (tests, simulations)."""
        parties = [Party(rid, types.get(rid, "BAILLEUR" if rid == BAILLEUR else "AUTRE"), rid) for rid in targets]
        return cls(parties, targets)

    # -------------------------------------------------------------------------------- state

    def counts(self, segment: tuple | None = None) -> dict[str, int]:
        """D_i so far (whole perimeter by default)."""
        return dict(self._counts.get(segment, {}))

    def _bump(self, rid: str, seg: tuple | None, by: int) -> None:
        for key in {None, seg}:
            c = self._counts.setdefault(key, {})
            c[rid] = c.get(rid, 0) + by

    def _segment(self, lg: Logement) -> tuple | None:
        return tuple(lg.attr(d) for d in self.segment_by) if self.segment_by else None

    def _base(self, kind: str, vacance_id: str, lg: Logement | None, date: dt.date) -> dict:
        rec = {"type": kind, "seq": len(self.records) + 1, "vacance_id": vacance_id,
               "logement_id": None if lg is None else lg.id, "date": date.isoformat(),
               "rule_version": RULE_VERSION, "config_version": self.config_version}
        self.records.append(rec)
        return rec

    # -------------------------------------------------------------------------------- steps

    def decide(self, vacance_id: str, lg: Logement, date: dt.date, cycle: int | None = None) -> dict:
        """Orient one vacancy entering the flux; returns (and keeps) its audit record."""
        values = {d: lg.attr(d) for d in DIMENSIONS}
        seg = self._segment(lg)
        scope: tuple | None = seg
        rule = "DEFICIT"
        T = self._targets.get(seg) if seg is not None else self._targets[None]
        if seg is not None and (T is None or sum(T.values()) == 0):
            # No flux was planned in this segment: fall back to the whole perimeter.
            scope, T, rule = None, self._targets[None], "DEFICIT_REPLI_PERIMETRE"
        F = sum(T.values())
        D = self._counts.get(scope, {})
        n = sum(D.values())
        eligible: list[Party] = []
        excluded: list[dict] = []
        for p in self.parties:
            reason = self._exclusion(p, lg, values, T, D)
            if reason:
                excluded.append({"id": p.id, "reason": reason, "T": T.get(p.id, 0), "D": D.get(p.id, 0)})
            else:
                eligible.append(p)
        rows: list[dict] = []
        tie: list[str] = []
        if not eligible or F == 0:
            choice, rule = BAILLEUR, "BAILLEUR_PAR_DEFAUT"
            dmap: dict[str, Fraction] = {}
        else:
            dmap = {p.id: Fraction(T.get(p.id, 0) * (n + 1), F) - D.get(p.id, 0) for p in eligible}
            best = min(eligible, key=lambda p: (-dmap[p.id], -T.get(p.id, 0), p.rank, p.id))
            choice = best.id
            tie = _tie_steps(eligible, dmap, T, best)
        for p in eligible:
            rows.append({"id": p.id, "rank": p.rank, "T": T.get(p.id, 0), "D": D.get(p.id, 0),
                         "d": str(dmap[p.id]) if p.id in dmap else None})
        rec = self._base("orientation", vacance_id, lg, date)
        rec.update({"cycle": cycle, "rule": rule, "segment": _segment_json(self.segment_by, seg),
                    "scope": "perimetre" if scope is None else "segment", "F": F, "n": n,
                    "parties": rows, "excluded": excluded, "tie_break": tie, "choice": choice})
        self._bump(choice, seg, 1)
        self._oriented[vacance_id] = (choice, seg)
        return rec

    def _exclusion(self, p: Party, lg: Logement, values: dict, T: Mapping[str, int],
                   D: Mapping[str, int]) -> str | None:
        if not p.covers(values):
            return "HORS_PERIMETRE"
        conv = p.convention_for(values)
        if conv is not None and conv.exclusions is not None:
            dim = conv.exclusions.excluding_dimension(lg)
            if dim is not None:
                return f"EXCLUSION_{dim.upper()}"
        if self.enforce_quotas and D.get(p.id, 0) >= T.get(p.id, 0):
            return "QUOTA_ATTEINT"
        if p.id in self.rights_left and self._counts.get(None, {}).get(p.id, 0) >= self.rights_left[p.id]:
            return "DROITS_UNIQUES_EPUISES"
        return None

    def assign(self, vacance_id: str, lg: Logement, date: dt.date, reservataire: str, *,
               rule: str = "PROGRAMME_NEUF", counts_in_flux: bool = True) -> dict:
        """A vacancy oriented outside §8 (first letting of a programme neuf, §11)."""
        seg = self._segment(lg)
        rec = self._base("programme_neuf", vacance_id, lg, date)
        rec.update({"rule": rule, "segment": _segment_json(self.segment_by, seg), "choice": reservataire,
                    "counts_in_flux": counts_in_flux})
        if counts_in_flux:
            self._bump(reservataire, seg, 1)
            self._oriented[vacance_id] = (reservataire, seg)
        return rec

    def note(self, kind: str, vacance_id: str, lg: Logement | None, date: dt.date, **extra: object) -> dict:
        """A vacancy outside the flux (``hors_flux``, ``soustraction``): logged, charged to nobody."""
        rec = self._base(kind, vacance_id, lg, date)
        rec.update(extra)
        return rec

    def hand_back(self, vacance_id: str, reservataire: str, date: dt.date, charged: bool) -> dict:
        """A return to the bailleur: without a prior charge it no longer counts in D_i."""
        rec = self._base("retour", vacance_id, None, date)
        o = self._oriented.get(vacance_id)
        if o is None or o[0] != reservataire:
            rec.update({"reservataire": reservataire, "segment": None, "sans_decompte": not charged,
                        "effet": "aucun", "motif": "vacance non orientée vers ce réservataire"})
            return rec
        rec.update({"reservataire": reservataire, "segment": _segment_json(self.segment_by, o[1]),
                    "sans_decompte": not charged, "effet": "aucun" if charged else "D-1"})
        if not charged:
            self._bump(reservataire, o[1], -1)
            del self._oriented[vacance_id]
        return rec


def _tie_steps(eligible: Sequence[Party], d: Mapping[str, Fraction], T: Mapping[str, int], best: Party) -> list[str]:
    """Which tie-break keys were needed to single out ``best`` (empty: largest d alone)."""
    steps: list[str] = []
    tied = [p for p in eligible if d[p.id] == d[best.id]]
    for name, key in (("T", lambda p: T.get(p.id, 0)), ("priority_rank", lambda p: p.rank), ("id", lambda p: p.id)):
        if len(tied) <= 1:
            break
        steps.append(name)
        tied = [p for p in tied if key(p) == key(best)]
    return steps


# ----------------------------------------------------------------------------- verification

def verify_audit(records: Iterable[dict]) -> list[str]:
    """Replay an audit log from its own figures; return every inconsistency found."""
    problems: list[str] = []
    counts: dict[str | None, dict[str, int]] = {}
    oriented: dict[str, tuple[str, str | None]] = {}

    def key(seg: dict | None) -> str | None:
        return None if seg is None else json.dumps(seg, sort_keys=True)

    def bump(rid: str, seg: str | None, by: int) -> None:
        for k in {None, seg}:
            c = counts.setdefault(k, {})
            c[rid] = c.get(rid, 0) + by

    for rec in records:
        t = rec.get("type")
        where = f"enregistrement {rec.get('seq')} ({rec.get('vacance_id')})"
        if t == "orientation":
            seg = key(rec["segment"])
            scope = None if rec["scope"] == "perimetre" else seg
            D = counts.get(scope, {})
            listed = rec["parties"] + rec["excluded"]
            for x in listed:
                if x["D"] != D.get(x["id"], 0):
                    problems.append(f"{where}: D[{x['id']}] = {x['D']}, le rejeu donne {D.get(x['id'], 0)}")
            if rec["n"] != sum(D.values()):
                problems.append(f"{where}: n = {rec['n']}, le rejeu donne {sum(D.values())}")
            F = sum(x["T"] for x in listed)
            if rec["F"] != F:
                problems.append(f"{where}: F = {rec['F']}, Σ T = {F}")
            elig = rec["parties"]
            if rec["rule"] == "BAILLEUR_PAR_DEFAUT":
                if rec["choice"] != BAILLEUR or (elig and F):
                    problems.append(f"{where}: attribution par défaut au bailleur injustifiée")
            else:
                dvals = {}
                for x in elig:
                    d = Fraction(x["T"] * (rec["n"] + 1), F) - x["D"]
                    dvals[x["id"]] = d
                    if Fraction(x["d"]) != d:
                        problems.append(f"{where}: d[{x['id']}] = {x['d']}, attendu {d}")
                best = min(elig, key=lambda x: (-dvals[x["id"]], -x["T"], x["rank"], x["id"]))
                if best["id"] != rec["choice"]:
                    problems.append(f"{where}: choix {rec['choice']}, le rejeu choisit {best['id']}")
            bump(rec["choice"], seg, 1)
            oriented[rec["vacance_id"]] = (rec["choice"], seg)
        elif t == "programme_neuf" and rec.get("counts_in_flux"):
            seg = key(rec["segment"])
            bump(rec["choice"], seg, 1)
            oriented[rec["vacance_id"]] = (rec["choice"], seg)
        elif t == "retour" and rec.get("effet") == "D-1":
            o = oriented.pop(rec["vacance_id"], None)
            if o is None or o[0] != rec["reservataire"]:
                problems.append(f"{where}: retour sans orientation correspondante")
            else:
                bump(o[0], o[1], -1)
    return problems


# ----------------------------------------------------------------------------- a year of events

@dataclass
class DispatchResult:
    year: int
    header: dict
    records: list[dict]
    shortlists: list[dict] = field(default_factory=list)
    observed: dict[str, str | None] = field(default_factory=dict)   # vacancy → first MAD in the events

    def orientations(self) -> dict[str, str]:
        """vacance_id → réservataire, for every vacancy oriented (§8 or programme neuf)."""
        return {r["vacance_id"]: r["choice"] for r in self.records if r["type"] in ("orientation", "programme_neuf")}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.records:
            if r["type"] in ("orientation", "programme_neuf"):
                out[r["choice"]] = out.get(r["choice"], 0) + 1
        return out

    def decision_rows(self) -> list[dict[str, str]]:
        sl = {s["vacance_id"]: s for s in self.shortlists}
        rows = []
        for r in self.records:
            if r["type"] not in ("orientation", "programme_neuf", "soustraction", "hors_flux"):
                continue
            choice = r.get("choice", "")
            d = next((x["d"] for x in r.get("parties", ()) if x["id"] == choice), "")
            seg = r.get("segment")
            obs = self.observed.get(r["vacance_id"])
            s = sl.get(r["vacance_id"])
            rows.append({
                "seq": str(r["seq"]), "vacance_id": r["vacance_id"], "logement_id": r["logement_id"] or "",
                "date": r["date"], "type": r["type"],
                "regle": r.get("rule") or r.get("code") or r.get("categorie") or "",
                "reservataire": choice, "segment": "" if not seg else ";".join(f"{k}={v}" for k, v in seg.items()),
                "F": str(r.get("F", "")), "n": str(r.get("n", "")), "deficit": d or "",
                "mad_observee": obs or "", "conforme": "" if obs is None or not choice else str(obs == choice).lower(),
                "candidats": "" if s is None else "|".join(c["numero_unique"] for c in s["candidats"]),
                "insuffisance_candidats": "" if s is None else str(s["insuffisance_candidats"]).lower(),
            })
        return rows


def run_dispatch(logements: Mapping[str, Logement], events: Sequence[Evenement], cf: ConventionFile,
                 targets: Targets, excluded: Mapping[str, str], year: int, *,
                 source: CandidateSource | None = None, k: int | None = None,
                 internal_first: InternalFirst = soustraction_from_event,
                 on_decision: OnDecision | None = None, departement: str | None = None,
                 rights_left: Mapping[str, int] | None = None) -> DispatchResult:
    """Replay the LIBERATION and RETOUR_BAILLEUR events of ``year`` in date order.

    Same-day order: returns first (known at the start of the day), then vacancies by id.
    """
    settings = cf.settings
    disp = Dispatcher.from_targets(targets, segment_by=settings.segment_by,
                                   enforce_quotas=settings.enforce_segment_quotas,
                                   config_version=cf.config_version, rights_left=rights_left)
    steps = {p.id: (p.conventions[0].decompte if p.conventions else cf.bailleur.decompte) for p in targets.parties}
    k_of = {p.id: (p.conventions[0].k if p.conventions else settings.k) for p in targets.parties}
    # Delegated management: the bailleur designates the candidates on the réservataire's behalf.
    delegated = frozenset(p.id for p in targets.parties if p.conventions and p.conventions[0].management == "delegue")
    programme = {lid: rid for p in cf.programmes for lid, rid in p.assignment().items()}
    by_id = {p.id: p for p in targets.parties}
    vac: dict[str, list[Evenement]] = {}
    for e in events:
        vac.setdefault(e.vacance_id, []).append(e)
    for lst in vac.values():
        lst.sort(key=lambda e: (e.date, e.line))
    # Cycle = rank of the vacancy among the dwelling's liberations in the events file.
    libs = sorted((e.logement_id, e.date, e.vacance_id) for e in events if e.type == "LIBERATION")
    cycle: dict[str, int] = {}
    for i, (lid, _, vid) in enumerate(libs):
        cycle[vid] = cycle[libs[i - 1][2]] + 1 if i and libs[i - 1][0] == lid else 1
    heap: list[tuple] = []
    tick = 0  # unique last key: the heap never compares two events
    for e in events:
        if e.date.year == year and e.type in ("LIBERATION", "RETOUR_BAILLEUR"):
            tick += 1
            heap.append((e.date, 0 if e.type == "RETOUR_BAILLEUR" else 1, e.vacance_id, e.line, tick, e))
    heapq.heapify(heap)
    shortlists: list[dict] = []
    proposed: set[str] = set()   # demandes already in a shortlist of the run (with explain)
    explain = getattr(source, "explain", False)
    # Refusals in the event history (REFUS naming its candidate), known from their date on.
    refusals = [(x.date, x.candidat) for x in events if x.type == "REFUS" and x.candidat]
    heapq.heapify(refusals)
    refused: set[str] = set()
    while heap:
        *_, e = heapq.heappop(heap)
        lg = logements[e.logement_id]
        if departement is not None and lg.departement != departement:
            continue
        if e.type == "RETOUR_BAILLEUR":
            before = [x for x in vac[e.vacance_id] if (x.date, x.line) < (e.date, e.line)]
            ch = charge_vacancy(before, steps, defaut_designation=settings.defaut_designation,
                                refus_adapte=settings.refus_adapte, delegated=delegated)
            disp.hand_back(e.vacance_id, e.reservataire, e.date, ch is not None and ch.reservataire == e.reservataire)
            continue
        if lg.id in excluded:
            rec = disp.note("hors_flux", e.vacance_id, lg, e.date, code=excluded[lg.id])
        elif (cat := internal_first(e, lg)) is not None:
            rec = disp.note("soustraction", e.vacance_id, lg, e.date, categorie=cat)
        elif e.origine == "MISE_EN_SERVICE" and (e.reservataire or programme.get(lg.id)):
            rec = disp.assign(e.vacance_id, lg, e.date, e.reservataire or programme[lg.id],
                              counts_in_flux=settings.mes_in_flux)
        else:
            rec = disp.decide(e.vacance_id, lg, e.date, cycle.get(e.vacance_id))
        if source is not None and rec["type"] in ("orientation", "programme_neuf"):
            party = by_id.get(rec["choice"]) or Party(rec["choice"], "AUTRE", rec["choice"])
            if explain:
                while refusals and refusals[0][0] < e.date:
                    refused.add(heapq.heappop(refusals)[1])
                sl = source.shortlist(lg, party, k or k_of.get(party.id, settings.k), already=proposed,
                                      refused=refused)
                proposed.update(c.numero_unique for c in sl)
            else:
                sl = source.shortlist(lg, party, k or k_of.get(party.id, settings.k))
            shortlists.append({"vacance_id": e.vacance_id, "logement_id": lg.id, "reservataire": party.id,
                               **({"gestion": "delegue", "designant": BAILLEUR} if party.id in delegated else {}),
                               **sl.as_dict()})
        if on_decision is not None:
            for new in on_decision(rec, e, lg):
                lst = vac.setdefault(new.vacance_id, [])
                lst.append(new)
                lst.sort(key=lambda x: (x.date, x.line))
                if new.type == "REFUS" and new.candidat:
                    heapq.heappush(refusals, (new.date, new.candidat))
                if new.type == "RETOUR_BAILLEUR" and new.date.year == year:
                    tick += 1
                    heapq.heappush(heap, (new.date, 0, new.vacance_id, new.line, tick, new))
    observed = {}
    for vid, lst in vac.items():
        observed[vid] = next((x.reservataire for x in lst if x.type == "MISE_A_DISPOSITION"), None)
    header = {"type": "header", "rule_version": RULE_VERSION, "config_version": cf.config_version,
              "annee": year, "segment_by": list(settings.segment_by),
              "enforce_segment_quotas": settings.enforce_segment_quotas,
              "cibles": dict(targets.totals), "flux_net": targets.flux_net,
              **({"droits_uniques_restants": dict(sorted(rights_left.items()))} if rights_left else {})}
    return DispatchResult(year, header, disp.records, shortlists, observed)

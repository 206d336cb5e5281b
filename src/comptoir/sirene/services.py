"""Reads of the local SIRENE copy (lookup, search) and account enrichment from it.

Enrichment is a proposal first (:func:`enrichment_for`: field, current value, SIRENE value)
and a write second (:func:`account_enrich`), which goes through ``crm.services.account_update``
so that permissions, validation, the ERP write guard and the audit trail all apply. Fields the
ERP masters are never proposed, and a closed company or establishment is always flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rapidfuzz import fuzz, process

from comptoir.access import policy
from comptoir.core.errors import Conflict, Forbidden, ValidationFailed
from comptoir.core.models import ObjectType
from comptoir.crm.models import Account, HeadcountBand
from comptoir.crm.services import account_update
from comptoir.quality import identifiers
from comptoir.quality.ownership import owned_fields

from .models import SireneEstablishment, SireneLoad, SireneUnit

# ``typeVoieEtablissement`` codes (INSEE nomenclature), spelled out in addresses.
STREET_TYPES = {
    "ALL": "ALLEE", "AV": "AVENUE", "BD": "BOULEVARD", "CAR": "CARREFOUR", "CHE": "CHEMIN",
    "CHS": "CHAUSSEE", "CITE": "CITE", "COR": "CORNICHE", "CRS": "COURS", "DOM": "DOMAINE",
    "DSC": "DESCENTE", "ECA": "ECART", "ESP": "ESPLANADE", "FG": "FAUBOURG",
    "GR": "GRANDE RUE", "HAM": "HAMEAU", "HLE": "HALLE", "IMP": "IMPASSE", "LD": "LIEU-DIT",
    "LOT": "LOTISSEMENT", "MAR": "MARCHE", "MTE": "MONTEE", "PAS": "PASSAGE", "PL": "PLACE",
    "PLN": "PLAINE", "PLT": "PLATEAU", "PRO": "PROMENADE", "PRV": "PARVIS", "QUA": "QUARTIER",
    "QUAI": "QUAI", "RES": "RESIDENCE", "RLE": "RUELLE", "ROC": "ROCADE", "RPT": "ROND-POINT",
    "RTE": "ROUTE", "RUE": "RUE", "SEN": "SENTIER", "SQ": "SQUARE", "TPL": "TERRE-PLEIN",
    "TRA": "TRAVERSE", "VLA": "VILLA", "VLGE": "VILLAGE", "ZA": "ZONE ARTISANALE",
    "ZAC": "ZONE D'AMENAGEMENT CONCERTE", "ZI": "ZONE INDUSTRIELLE",
}
# ``indiceRepetitionEtablissement``: B → BIS, T → TER…
REPETITIONS = {"B": "BIS", "T": "TER", "Q": "QUATER", "C": "QUINQUIES"}

FIELD_LABELS = {
    "legal_name": gettext_lazy("legal name"),
    "naf_code": gettext_lazy("NAF code"),
    "siren": gettext_lazy("SIREN"),
    "siret": gettext_lazy("head-office SIRET"),
    "billing_street": gettext_lazy("billing street"),
    "billing_postcode": gettext_lazy("billing postcode"),
    "billing_city": gettext_lazy("billing city"),
    "headcount_band": gettext_lazy("headcount band"),
}
ENRICHABLE = tuple(FIELD_LABELS)
_BANDS = frozenset(HeadcountBand.values) - {HeadcountBand.NN}


# --- Reads ----------------------------------------------------------------------------------

def street_of(etab: SireneEstablishment) -> str:
    """``12 BIS AVENUE DES CHAMPS, BAT A`` from the split INSEE address columns."""
    parts = [etab.street_number.lstrip("0") or etab.street_number,
             REPETITIONS.get(etab.repetition.upper(), etab.repetition),
             STREET_TYPES.get(etab.street_type.upper(), etab.street_type), etab.street_name]
    street = " ".join(p.strip() for p in parts if p and p.strip())
    complement = etab.address_complement.strip()
    if complement:
        street = f"{street}, {complement}" if street else complement
    return street


def head_office_of(unit: SireneUnit) -> SireneEstablishment | None:
    """The unit's head office: by its ``nicSiegeUniteLegale``, else the flagged one."""
    if unit.head_office_siret:
        found = SireneEstablishment.objects.filter(siret=unit.head_office_siret).first()
        if found:
            return found
    return (SireneEstablishment.objects.filter(siren=unit.siren, head_office=True)
            .order_by("state", "siret").first())


@dataclass
class Entry:
    """What the register says about one SIREN or SIRET (the establishment is the one asked
    for, else the head office)."""

    siren: str
    unit: SireneUnit | None
    establishment: SireneEstablishment | None

    @property
    def name(self) -> str:
        if self.unit:
            return self.unit.display_name
        if self.establishment:
            return self.establishment.usual_name or self.establishment.sign
        return ""

    @property
    def closed(self) -> bool:
        return bool((self.unit and self.unit.closed)
                    or (self.establishment and self.establishment.closed))

    def as_dict(self) -> dict[str, Any]:
        unit, etab = self.unit, self.establishment
        return {
            "siren": self.siren,
            "siret": etab.siret if etab else (unit.head_office_siret if unit else ""),
            "name": self.name,
            "sigle": unit.sigle if unit else "",
            "legal_category": unit.legal_category if unit else "",
            "naf_code": (unit.naf if unit else "") or (etab.naf if etab else ""),
            "headcount_band": unit.headcount_band if unit else "",
            "created_on": unit.created_on if unit else None,
            "unit_closed": bool(unit and unit.closed),
            "head_office": bool(etab and etab.head_office),
            "street": street_of(etab) if etab else "",
            "postcode": etab.postcode if etab else "",
            "city": etab.city if etab else "",
            "sign": (etab.sign or etab.usual_name) if etab else "",
            "establishment_closed": bool(etab and etab.closed),
            "closed": self.closed,
        }


def lookup(number: str) -> Entry | None:
    """The register's entry for a SIREN (9 digits) or SIRET (14), ``None`` when unknown.

    Raises ``ValueError`` (with a user message) when the number is not a valid one.
    """
    compact = "".join(number.split())
    if len(compact) == 14:
        siret = identifiers.check_siret(compact)
        etab = SireneEstablishment.objects.filter(siret=siret).first()
        unit = SireneUnit.objects.filter(siren=siret[:9]).first()
        if etab is None and unit is None:
            return None
        return Entry(siren=siret[:9], unit=unit, establishment=etab)
    siren = identifiers.check_siren(compact)
    unit = SireneUnit.objects.filter(siren=siren).first()
    if unit is None:
        return None
    return Entry(siren=siren, unit=unit, establishment=head_office_of(unit))


@dataclass
class Hit:
    score: float
    establishment: SireneEstablishment | None
    unit: SireneUnit | None

    def as_dict(self) -> dict[str, Any]:
        siren = self.unit.siren if self.unit else self.establishment.siren  # type: ignore[union-attr]
        return {"score": round(self.score, 1),
                **Entry(siren=siren, unit=self.unit, establishment=self.establishment).as_dict()}


# How many rows of one postcode are scored when the name's first letters find too few: a
# misspelt first word still matches in a small town, and the cost stays bounded in a big one.
POSTCODE_SCAN = 20_000
PREFIX_CANDIDATES = 5_000


def _prefix_q(tokens: Sequence[str]) -> Q:
    q = Q()
    for token in tokens[:3]:
        q |= Q(name_key__startswith=token[:3])
    return q


def search(name: str, postcode: str | None = None, limit: int = 20) -> list[Hit]:
    """Establishments (with a postcode) or legal units (without) whose name is like ``name``.

    Names are compared in their normalised form (legal forms, accents and punctuation
    dropped; ``quality.identifiers.company_name_key``) and ranked with rapidfuzz; an
    establishment's sign and usual name raise its score (candidates come from the unit's
    name). ``postcode``: five digits for that postcode, two or three for a department.
    Candidates come from the ``(postcode, name_key)`` index (first letters of the words),
    plus, for a postcode, a bounded scan of it (typos in the
    first letters). Active ones first at equal score.
    """
    key = identifiers.company_name_key(name or "")
    tokens = key.split()
    if not tokens:
        return []
    limit = max(1, min(limit, 100))
    code = "".join((postcode or "").split())
    if not code:
        return _search_units(key, tokens, limit)
    if not code.isdigit():
        return []
    place = Q(postcode=code) if len(code) == 5 else Q(postcode__startswith=code[:3])
    base = SireneEstablishment.objects.filter(place)
    candidates: dict[str, str] = dict(
        base.filter(_prefix_q(tokens)).values_list("siret", "name_key")[:PREFIX_CANDIDATES])
    if len(code) == 5 and len(candidates) < limit * 5:
        candidates.update(base.values_list("siret", "name_key")[:POSTCODE_SCAN])
    scored = process.extract(key, candidates, scorer=fuzz.WRatio, score_cutoff=60,
                             limit=limit * 3)
    ranked = {siret: score for _name, score, siret in scored}
    # Signs and usual names are not indexed: they only raise the score of a candidate.
    etabs = {e.siret: e for e in SireneEstablishment.objects.filter(siret__in=list(ranked))}
    for siret, etab in etabs.items():
        for other in (etab.sign, etab.usual_name):
            if other:
                ranked[siret] = max(ranked[siret], fuzz.WRatio(
                    key, identifiers.company_name_key(other)))
    units = {u.siren: u for u in SireneUnit.objects.filter(
        siren__in={e.siren for e in etabs.values()})}
    hits = [Hit(score=ranked[s], establishment=e, unit=units.get(e.siren))
            for s, e in etabs.items()]
    hits.sort(key=lambda h: (-h.score, h.establishment is not None and h.establishment.closed,
                             not (h.establishment and h.establishment.head_office),
                             h.establishment.siret if h.establishment else ""))
    return hits[:limit]


def _search_units(key: str, tokens: Sequence[str], limit: int) -> list[Hit]:
    candidates = dict(SireneUnit.objects.filter(_prefix_q(tokens))
                      .values_list("siren", "name_key")[:PREFIX_CANDIDATES])
    scored = process.extract(key, candidates, scorer=fuzz.WRatio, score_cutoff=60,
                             limit=limit)
    units = SireneUnit.objects.in_bulk([s for _n, _s, s in scored])
    hits = [Hit(score=score, unit=units[siren], establishment=head_office_of(units[siren]))
            for _n, score, siren in scored if siren in units]
    hits.sort(key=lambda h: (-h.score, h.unit is not None and h.unit.closed,
                             h.unit.siren if h.unit else ""))
    return hits


def stats() -> dict[str, Any]:
    """How much of the register is here and when each file was last loaded."""
    done = SireneLoad.objects.filter(status=SireneLoad.Status.SUCCEEDED)
    latest = {kind: done.filter(kind=kind).order_by("-finished_at", "-pk").first()
              for kind in SireneLoad.Kind.values}
    return {"units": SireneUnit.objects.count(),
            "establishments": SireneEstablishment.objects.count(),
            "last_units": latest[SireneLoad.Kind.UNITS],
            "last_establishments": latest[SireneLoad.Kind.ESTABLISHMENTS]}


def loaded() -> bool:
    """Whether any of the register is here: enrichment has nothing to offer before a load
    (one indexed query; call it once per request)."""
    return SireneUnit.objects.exists()


# --- Enrichment -----------------------------------------------------------------------------

@dataclass
class Change:
    field: str
    current: Any
    value: Any

    @property
    def label(self) -> str:
        return str(FIELD_LABELS.get(self.field, self.field))

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "label": self.label, "current": self.current,
                "value": self.value}


@dataclass
class Proposal:
    """What SIRENE would change on an account, and why some things are not proposed."""

    account_id: int
    found: bool
    siren: str = ""
    siret: str = ""
    name: str = ""
    changes: list[Change] = field(default_factory=list)
    kept: list[Change] = field(default_factory=list)  # owned by the ERP: never proposed
    closed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.changes]

    def as_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "found": self.found, "siren": self.siren,
                "siret": self.siret, "name": self.name, "closed": self.closed,
                "notes": self.notes, "changes": [c.as_dict() for c in self.changes],
                "kept": [{**c.as_dict(), "reason": str(_("owned by the ERP"))}
                         for c in self.kept]}


def _same(field_name: str, current: str, value: str) -> bool:
    """Equal once written the same way: SIRENE's capitals, "SARL", "AV" do not count."""
    if field_name == "legal_name":
        return identifiers.company_name_key(current) == identifiers.company_name_key(value)
    if field_name == "billing_street":
        return identifiers.street_key(current) == identifiers.street_key(value)
    if field_name == "billing_city":
        return identifiers.city_key(current) == identifiers.city_key(value)
    if field_name == "billing_postcode":
        return identifiers.postcode_key(current) == identifiers.postcode_key(value)
    return current == value


def _naf(value: str) -> str:
    try:
        return identifiers.check_naf(value) if value else ""
    except ValueError:  # NAF rev. 1 codes of old units: not a code the account can hold
        return ""


def _account_establishment(account: Account) -> SireneEstablishment | None:
    siret = "".join((account.siret or "").split())
    if len(siret) == 14:
        return SireneEstablishment.objects.filter(siret=siret).first()
    return None


def enrichment_for(account: Account) -> Proposal:
    """The changes SIRENE proposes for ``account`` (field, current value, SIRENE value).

    The unit is found by the account's SIREN (or its SIRET's first nine digits); the address
    is the account's own SIRET's establishment when it has one, else the head office's.
    Values equal once normalised are not proposed; ERP-owned fields go to ``kept``; a closed
    unit or establishment sets ``closed`` and says so in ``notes``.
    """
    proposal = Proposal(account_id=account.pk, found=False)
    siren = identifiers.siren_from(account.siren or "", account.siret or "", validate=False)
    etab = _account_establishment(account)
    own_siret_missing = etab is None and len("".join((account.siret or "").split())) == 14
    if etab is not None:
        siren = etab.siren
    unit = SireneUnit.objects.filter(siren=siren).first() if siren else None
    if unit is None and etab is None:
        if siren:
            proposal.notes.append(_("SIREN %(siren)s is not in the local SIRENE copy.")
                                  % {"siren": siren})
        else:
            proposal.notes.append(_("The account has no SIREN or SIRET: search SIRENE by "
                                    "name and postcode to find it."))
        return proposal
    if own_siret_missing:
        proposal.notes.append(_("SIRET %(siret)s is not in the local SIRENE copy: the address "
                                "is not proposed.") % {"siret": account.siret})
    elif etab is None and unit is not None:
        etab = head_office_of(unit)
    proposal.found = True
    proposal.siren = siren
    proposal.siret = etab.siret if etab else (
        account.siret if own_siret_missing else (unit.head_office_siret if unit else ""))
    proposal.name = unit.display_name if unit else ""
    if unit and unit.closed:
        proposal.closed = True
        proposal.notes.append(_("The company (SIREN %(siren)s) is closed in SIRENE.")
                              % {"siren": siren})
    if etab and etab.closed:
        proposal.closed = True
        proposal.notes.append(_("The establishment (SIRET %(siret)s) is closed in SIRENE.")
                              % {"siret": etab.siret})

    values: dict[str, str] = {}
    if unit:
        values["legal_name"] = unit.display_name
        values["naf_code"] = _naf(unit.naf)
        if unit.headcount_band in _BANDS:
            values["headcount_band"] = unit.headcount_band
    elif etab:
        values["naf_code"] = _naf(etab.naf)
    if not account.siren:
        values["siren"] = siren
    if not account.siret and proposal.siret:
        values["siret"] = proposal.siret
    if etab:
        values["billing_street"] = street_of(etab)
        values["billing_postcode"] = etab.postcode
        values["billing_city"] = etab.city

    owned = owned_fields(ObjectType.ACCOUNT, [account.pk]).get(account.pk, set())
    for name in ENRICHABLE:
        value = values.get(name, "")
        current = getattr(account, name) or ""
        if not value or _same(name, current, value):
            continue
        change = Change(field=name, current=current, value=value)
        (proposal.kept if name in owned else proposal.changes).append(change)
    return proposal


@transaction.atomic
def account_enrich(*, account: Account, user: Any, fields: Iterable[str] | None = None,
                   source: str = "sirene") -> list[Change]:
    """Apply the proposed changes (all, or those of ``fields``) through ``account_update``.

    A closed company is never enriched wholesale: with ``fields=None`` it is refused, so a
    person (or a script) has to name what they take from a register that says it has ceased.
    Returns the changes applied (empty when there was nothing to do). Refused to whoever may
    not change the account, even when SIRENE has nothing to add.
    """
    if not policy.can(user, "change", account):
        raise Forbidden(_("You may not change this account."))
    proposal = enrichment_for(account)
    by_field = {c.field: c for c in proposal.changes}
    if fields is None:
        if proposal.closed and proposal.changes:
            raise Conflict(" ".join([*proposal.notes,
                                     _("Name the fields to apply from a closed entry.")]))
        chosen = list(by_field.values())
    else:
        wanted = list(dict.fromkeys(fields))
        kept = {c.field for c in proposal.kept}
        errors = [(_("%(field)s is owned by the ERP.") if f in kept else
                   _("%(field)s has no SIRENE change to apply.")) % {"field": f}
                  for f in wanted if f not in by_field]
        if errors:
            raise ValidationFailed(_("Some fields cannot be enriched."), fields={"fields": errors})
        chosen = [by_field[f] for f in wanted]
    if not chosen:
        return []
    account_update(account=account, user=user, data={c.field: c.value for c in chosen},
                   source=source)
    return chosen

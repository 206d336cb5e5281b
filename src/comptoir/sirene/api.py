"""SIRENE over the API: search and look up the local copy, propose and apply enrichment.

The register is public data: any signed-in user may search it. Account endpoints answer 404
for an account the user may not see (``access.policy``), and applying goes through
``crm.services.account_update``, which refuses users who may not change it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from comptoir.access import policy
from comptoir.api.crud import ERRORS
from comptoir.core.errors import NotFound, ValidationFailed
from comptoir.crm.models import Account

from . import services

router = Router(tags=["sirene"])


class EntryOut(Schema):
    siren: str
    siret: str
    name: str
    sigle: str
    legal_category: str
    naf_code: str
    headcount_band: str
    created_on: date | None
    unit_closed: bool
    head_office: bool
    street: str
    postcode: str
    city: str
    sign: str
    establishment_closed: bool
    closed: bool


class HitOut(EntryOut):
    score: float


class SearchFilters(Schema):
    q: str = Field(..., min_length=1, max_length=200, description="Company name.")
    postcode: str | None = Field(
        None, max_length=5, description="Five digits, or two/three for a department.")
    limit: int = Field(20, ge=1, le=100)


class SearchOut(Schema):
    items: list[HitOut]


@router.get("/sirene/search", response={200: SearchOut, **ERRORS}, operation_id="sirene_search")
def sirene_search(request: HttpRequest, filters: Query[SearchFilters]) -> Any:
    """Companies and establishments whose name looks like ``q`` (typos, legal forms and
    accents tolerated), best first; with ``postcode``, establishments of that postcode or
    department, else legal units with their head office."""
    hits = services.search(filters.q, filters.postcode, limit=filters.limit)
    return {"items": [h.as_dict() for h in hits]}


@router.get("/sirene/{number}", response={200: EntryOut, **ERRORS}, operation_id="sirene_lookup")
def sirene_lookup(request: HttpRequest, number: str) -> Any:
    """The register's entry for a SIREN (9 digits: the unit and its head office) or a SIRET
    (14 digits: that establishment and its unit)."""
    try:
        entry = services.lookup(number)
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={"number": [str(exc)]}) from exc
    if entry is None:
        raise NotFound(_("Not in the local SIRENE copy."))
    return entry.as_dict()


class ChangeOut(Schema):
    field: str
    label: str
    current: Any
    value: Any


class KeptOut(ChangeOut):
    reason: str


class ProposalOut(Schema):
    account_id: int
    found: bool
    siren: str
    siret: str
    name: str
    closed: bool
    notes: list[str]
    changes: list[ChangeOut]
    kept: list[KeptOut]


def _account(request: HttpRequest, account_id: int) -> Account:
    account = policy.restrict(Account.objects.all(), request.user).filter(pk=account_id).first()
    if account is None:
        raise NotFound(_("No such account."))
    return account


@router.get("/accounts/{int:account_id}/enrichment", response={200: ProposalOut, **ERRORS},
            operation_id="account_enrichment")
def account_enrichment(request: HttpRequest, account_id: int) -> Any:
    """What SIRENE would change on the account: field, current value, SIRENE value. Fields the
    ERP owns are listed under ``kept``; ``closed`` says the company or establishment ceased."""
    return services.enrichment_for(_account(request, account_id)).as_dict()


class EnrichIn(Schema):
    fields: list[str] | None = Field(
        None, description="Fields to apply; all the proposed ones when omitted (refused for a "
                          "closed company: name them).")


class EnrichOut(Schema):
    applied: list[ChangeOut]
    proposal: ProposalOut


@router.post("/accounts/{int:account_id}/enrich", response={200: EnrichOut, **ERRORS},
             operation_id="account_enrich")
def account_enrich(request: HttpRequest, account_id: int, payload: EnrichIn | None = None
                   ) -> Any:
    """Apply the SIRENE proposal (or the named fields of it); audited like any edit."""
    account = _account(request, account_id)
    applied = services.account_enrich(account=account, user=request.user,
                                      fields=payload.fields if payload else None)
    account.refresh_from_db()
    return {"applied": [c.as_dict() for c in applied],
            "proposal": services.enrichment_for(account).as_dict()}

"""REST routes for accounts, contacts, leads, pipelines and opportunities."""

import datetime as dt
from typing import Any, Literal

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Field, Router, Schema

from comptoir.api.adapters import creator, deleter, updater
from comptoir.api.bulk import register_bulk
from comptoir.api.crud import ERRORS, Resource, register, register_nested
from comptoir.core.models import ObjectType

from . import services
from .bulk import ACCOUNT_BULK, CONTACT_BULK, LEAD_BULK, OPPORTUNITY_BULK
from .models import Account, Contact, Lead, Opportunity, Pipeline, Stage

router = Router()


def duplicates_of(object_type: str) -> Any:
    """The duplicate check run before an API create (the quality engine, visible records)."""

    def check(user: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
        from comptoir.quality.dedupe import candidates

        return [{"id": c.id, "score": c.score, "sure": c.sure, "keys": c.keys,
                 "reasons": [r.as_dict() for r in c.reasons]}
                for c in candidates(object_type, data, user=user, limit=5)]

    return check


class AddressOut(Schema):
    id: int
    kind: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    position: int


class IdentifierOut(Schema):
    id: int
    type: str = Field(..., description="fr_siren, eu_vat, ch_uid…, empty when untyped")
    value: str = Field(..., description="As the ERP has it")
    compact: str = Field(..., description="Letters and digits only, upper case")
    position: int


class ChannelOut(Schema):
    id: int
    kind: str
    value: str
    name: str
    position: int


# What an account's bulk record may carry: each list replaces the account's rows of that kind
# as a whole; a record without it leaves them. Values are stored as sent (lengths checked).
class AddressIn(Schema):
    kind: Literal["billing", "delivery", "other"] | None = None
    name: str | None = Field(None, max_length=200)
    street: str | None = Field(None, max_length=500)
    postcode: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=100)
    country: str | None = Field(None, max_length=2)
    position: int | None = Field(None, ge=0)


class IdentifierIn(Schema):
    type: str | None = Field(None, max_length=40)
    value: str = Field(..., min_length=1, max_length=100)
    position: int | None = Field(None, ge=0)


class ChannelIn(Schema):
    kind: Literal["email", "phone", "mobile", "fax", "website", "other"] | None = None
    value: str = Field(..., min_length=1, max_length=254)
    name: str | None = Field(None, max_length=200)
    position: int | None = Field(None, ge=0)


ACCOUNT_WRITE = [
    "legal_name", "trade_name", "status", "siren", "siret", "vat_number", "naf_code",
    "billing_street", "billing_postcode", "billing_city", "billing_country", "shipping_street",
    "shipping_postcode", "shipping_city", "shipping_country", "phone", "mobile", "fax", "email",
    "website", "headcount_band", "owner", "territory", "parent", "payment_terms",
    "credit_limit", "active", "custom",
]
accounts = Resource(
    model=Account, object_type=ObjectType.ACCOUNT, path="accounts", tag="accounts",
    duplicates_fn=duplicates_of("account"),
    out_fields=[*ACCOUNT_WRITE, "erp_deleted_at", "created_at", "updated_at"],
    write_fields=ACCOUNT_WRITE,
    out_extra={"addresses": (list[AddressOut], []), "identifiers": (list[IdentifierOut], []),
               "channels": (list[ChannelOut], [])},
    prefetch_related=["addresses", "identifiers", "channels"],
    filter_fields=["legal_name", "status", "siren", "siret", "vat_number", "naf_code",
                   "billing_postcode", "billing_city", "billing_country", "headcount_band",
                   "owner", "territory", "parent", "payment_terms", "email", "created_at",
                   "updated_at", "credit_limit", "active"],
    ordering=["legal_name", "created_at", "updated_at", "siren", "billing_postcode", "id"],
    default_ordering="legal_name", search_fields=["legal_name", "trade_name"],
    create_fn=creator(services.account_create),
    update_fn=updater(services.account_update, "account"),
    delete_fn=deleter(services.account_delete, "account"),
)

CONTACT_WRITE = [
    "account", "civility", "first_name", "last_name", "job_title", "email", "email_secondary",
    "phone", "mobile", "mailing_street", "mailing_postcode", "mailing_city", "mailing_country",
    "marketing_consent", "consent_date", "consent_source", "owner", "custom",
]
contacts = Resource(
    model=Contact, object_type=ObjectType.CONTACT, path="contacts", tag="contacts",
    duplicates_fn=duplicates_of("contact"),
    out_fields=[*CONTACT_WRITE, "created_at", "updated_at"], write_fields=CONTACT_WRITE,
    filter_fields=["account", "civility", "last_name", "first_name", "email", "job_title",
                   "marketing_consent", "owner", "created_at", "updated_at"],
    ordering=["last_name", "created_at", "updated_at", "id"], default_ordering="last_name",
    search_fields=["last_name", "first_name", "email"],
    create_fn=creator(services.contact_create),
    update_fn=updater(services.contact_update, "contact"),
    delete_fn=deleter(services.contact_delete, "contact"),
)

LEAD_WRITE = [
    "company_name", "siren", "civility", "first_name", "last_name", "job_title", "email",
    "phone", "website", "street", "postcode", "city", "country", "source", "status", "score",
    "description", "owner", "custom",
]
leads = Resource(
    model=Lead, object_type=ObjectType.LEAD, path="leads", tag="leads",
    duplicates_fn=duplicates_of("lead"),
    out_fields=[*LEAD_WRITE, "converted_at", "converted_account", "converted_contact",
                "converted_opportunity", "created_at", "updated_at"],
    write_fields=LEAD_WRITE,
    filter_fields=["company_name", "email", "source", "status", "score", "owner", "postcode",
                   "country", "created_at", "updated_at", "converted_account"],
    ordering=["created_at", "updated_at", "score", "company_name", "last_name", "id"],
    default_ordering="-created_at", search_fields=["company_name", "last_name", "email"],
    create_fn=creator(services.lead_create),
    update_fn=updater(services.lead_update, "lead"),
    delete_fn=deleter(services.lead_delete, "lead"),
)

OPPORTUNITY_WRITE = [
    "name", "account", "contact", "pipeline", "stage", "amount", "currency", "probability",
    "expected_close_date", "owner", "lost_reason", "description", "custom",
]
opportunities = Resource(
    model=Opportunity, object_type=ObjectType.OPPORTUNITY, path="opportunities",
    tag="opportunities",
    out_fields=[*OPPORTUNITY_WRITE, "status", "closed_at", "created_at", "updated_at"],
    write_fields=OPPORTUNITY_WRITE,
    # The service defaults them: the default pipeline and its first stage.
    write_extra={"pipeline_id": (int | None, None), "stage_id": (int | None, None)},
    filter_fields=["name", "account", "contact", "pipeline", "stage", "status", "owner",
                   "amount", "currency", "probability", "expected_close_date", "created_at",
                   "updated_at"],
    ordering=["expected_close_date", "amount", "probability", "created_at", "updated_at",
              "name", "id"],
    default_ordering="expected_close_date", search_fields=["name"],
    create_fn=creator(services.opportunity_create),
    update_fn=updater(services.opportunity_update, "opportunity"),
    delete_fn=deleter(services.opportunity_delete, "opportunity"),
)

for _res in (accounts, contacts, leads, opportunities):
    register(router, _res)


class StageOut(Schema):
    id: int
    name: str
    order: int
    probability: int
    is_won: bool
    is_lost: bool


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]


@router.get("/pipelines", response={200: list[PipelineOut], **ERRORS}, tags=["opportunities"])
def pipeline_list(request: HttpRequest) -> Any:
    """Pipelines and their ordered stages (configured by administrators)."""
    stages = Prefetch("stages", queryset=Stage.objects.order_by("order"))
    return list(Pipeline.objects.prefetch_related(stages))


class ConvertIn(Schema):
    account_id: int | None = None
    create_opportunity: bool = False
    opportunity_name: str | None = None
    amount: float | None = None
    expected_close_date: str | None = None


class ConvertOut(Schema):
    lead_id: int
    account_id: int
    contact_id: int
    opportunity_id: int | None
    account_created: bool
    matched_by: str


@router.post("/leads/{int:pk}/convert", response={200: ConvertOut, **ERRORS}, tags=["leads"])
def lead_convert(request: HttpRequest, pk: int, payload: ConvertIn) -> Any:
    """Convert a lead into contact + account (+ opportunity), reusing a matching account."""
    lead = leads.get(request.user, pk)
    opp: dict[str, Any] = {}
    if payload.opportunity_name:
        opp["name"] = payload.opportunity_name
    if payload.amount is not None:
        opp["amount"] = payload.amount
    if payload.expected_close_date:
        opp["expected_close_date"] = payload.expected_close_date
    result = services.lead_convert(lead=lead, user=request.user, account_id=payload.account_id,
                                   create_opportunity=payload.create_opportunity, opportunity=opp)
    return {"lead_id": result.lead.pk, "account_id": result.account.pk,
            "contact_id": result.contact.pk,
            "opportunity_id": result.opportunity.pk if result.opportunity else None,
            "account_created": result.account_created, "matched_by": result.matched_by}


register_nested(router, accounts, contacts, "account_id", "contacts")
register_nested(router, accounts, opportunities, "account_id", "opportunities")
register_nested(router, contacts, opportunities, "contact_id", "opportunities")

register_bulk(router, accounts, ACCOUNT_BULK, {
    "parent_external_id": (str | None, None),
    "erp_deleted_at": (dt.datetime | None, Field(None, description="Deleted in the ERP on")),
    "addresses": (list[AddressIn] | None,
                  Field(None, description="Replace the account's addresses as a whole")),
    "identifiers": (list[IdentifierIn] | None,
                    Field(None, description="Replace the account's identifiers as a whole")),
    "channels": (list[ChannelIn] | None,
                 Field(None, description="Replace the account's phones, e-mails… as a whole")),
})
register_bulk(router, contacts, CONTACT_BULK,
              {"account_external_id": (str | None, None)})

# Leads, deals, activities and cases: their bulk routes apply the single-record rules record by
# record (the right to change each one, the owners one may assign, the parents one sees), so a
# rep may load their own. Picklists (status, source…) take the value or its label.
OWNER_USERNAME = (str | None, Field(None, max_length=254,
                                    description="The owner by username or e-mail"))
register_bulk(router, leads, LEAD_BULK, {"owner_username": OWNER_USERNAME})
register_bulk(router, opportunities, OPPORTUNITY_BULK, {
    "account_external_id": (str | None, None),
    "contact_external_id": (str | None, None),
    "pipeline": (str | None, Field(None, max_length=100,
                                   description="The pipeline by name (else the default one)")),
    "stage": (str | None, Field(None, max_length=100,
                                description="The stage by name, within the deal's pipeline")),
    "owner_username": OWNER_USERNAME,
})


class TerritoryRunOut(Schema):
    moved: dict[str, int]


# ``POST /accounts/{id}/promote`` is in ``quality.promotion_api``: it applies the ERP profile.


@router.post("/accounts/assign-territories", response={200: TerritoryRunOut, **ERRORS},
             tags=["accounts"])
def assign_territories(request: HttpRequest, only_unassigned: bool = False) -> Any:
    """Re-apply the territory rules to every account (data managers and administrators)."""
    moved = services.accounts_assign_territories(user=request.user,
                                                 only_unassigned=only_unassigned)
    return {"moved": moved}

"""REST routes for support cases."""

from ninja import Field, Router

from comptoir.api.adapters import creator, deleter, updater
from comptoir.api.bulk import register_bulk
from comptoir.api.crud import Resource, register, register_nested
from comptoir.core.models import ObjectType
from comptoir.crm.api import OWNER_USERNAME, accounts

from . import services
from .bulk import CASE_BULK
from .models import Case

router = Router()

CASE_WRITE = ["account", "contact", "kind", "subject", "description", "status", "priority",
              "owner", "custom"]
cases = Resource(
    model=Case, object_type=ObjectType.CASE, path="cases", tag="cases",
    out_fields=["number", *CASE_WRITE, "closed_at", "created_at", "updated_at"],
    write_fields=CASE_WRITE,
    filter_fields=["number", "account", "contact", "kind", "status", "priority", "owner",
                   "created_at", "updated_at", "closed_at", "subject"],
    ordering=["created_at", "updated_at", "priority", "status", "id"],
    default_ordering="-created_at", search_fields=["subject", "number"],
    create_fn=creator(services.case_create),
    update_fn=updater(services.case_update, "case"),
    delete_fn=deleter(services.case_delete, "case"),
)
register(router, cases)
register_nested(router, accounts, cases, "account_id", "cases")
register_bulk(router, cases, CASE_BULK, {
    "number": (str | None, Field(None, max_length=20,
                                 description="The case's number in the other system (else "
                                             "its own, CAS-000123)")),
    "account_external_id": (str | None, None),
    "contact_external_id": (str | None, None),
    "owner_username": OWNER_USERNAME,
})

"""REST routes for activities (calls, meetings, e-mails, notes, tasks)."""

from ninja import Router

from comptoir.api.adapters import creator, deleter, updater
from comptoir.api.bulk import register_bulk
from comptoir.api.crud import Resource, register, register_nested
from comptoir.core.models import ObjectType
from comptoir.crm.api import OWNER_USERNAME, accounts, contacts, opportunities

from . import services
from .bulk import ACTIVITY_BULK
from .models import Activity

router = Router()

# ``remind_at``: when the owner is reminded in the app; left out on create, the default (15 min
# before, 9:00 on the day for a date without a time); null for none. Moving ``due_at`` or
# ``start_at`` moves it too.
ACTIVITY_WRITE = ["kind", "subject", "body", "due_at", "start_at", "end_at", "done", "account",
                  "contact", "opportunity", "case", "owner", "remind_at", "custom"]
activities = Resource(
    model=Activity, object_type=ObjectType.ACTIVITY, path="activities", tag="activities",
    out_fields=[*ACTIVITY_WRITE, "done_at", "reminded_at", "created_at", "updated_at"],
    write_fields=ACTIVITY_WRITE,
    filter_fields=["kind", "done", "account", "contact", "opportunity", "case", "owner",
                   "due_at", "start_at", "end_at", "created_at", "updated_at", "subject"],
    ordering=["due_at", "start_at", "created_at", "updated_at", "id"],
    default_ordering="-created_at", search_fields=["subject"],
    create_fn=creator(services.activity_create),
    update_fn=updater(services.activity_update, "activity"),
    delete_fn=deleter(services.activity_delete, "activity"),
)
register(router, activities)
register_nested(router, accounts, activities, "account_id", "activities")
register_nested(router, contacts, activities, "contact_id", "activities")
register_nested(router, opportunities, activities, "opportunity_id", "activities")
register_bulk(router, activities, ACTIVITY_BULK, {
    "account_external_id": (str | None, None),
    "contact_external_id": (str | None, None),
    "opportunity_external_id": (str | None, None),
    "case_external_id": (str | None, None),
    "owner_username": OWNER_USERNAME,
})

"""Which model holds each kind of user-facing record, by its object type.

Core sits below the domain apps, so models are named by label and resolved lazily.
"""

from __future__ import annotations

from django.apps import apps
from django.db.models import Model

from .models import ObjectType

# The records people work with (each carries custom fields, an audit trail, followers…).
RECORD_MODELS: dict[str, str] = {
    ObjectType.ACCOUNT: "crm.Account",
    ObjectType.CONTACT: "crm.Contact",
    ObjectType.LEAD: "crm.Lead",
    ObjectType.OPPORTUNITY: "crm.Opportunity",
    ObjectType.ACTIVITY: "activities.Activity",
    ObjectType.CASE: "service.Case",
    ObjectType.PRODUCT: "sales.Product",
    ObjectType.SALES_DOCUMENT: "sales.SalesDocument",
}


def record_model(object_type: str) -> type[Model]:
    """The model of ``object_type``; ``KeyError`` when it is not a record type."""
    return apps.get_model(RECORD_MODELS[object_type])

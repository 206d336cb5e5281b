"""Which model, page and object type go together, for links and generic views."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.urls import reverse

from comptoir.activities.models import Activity
from comptoir.core.models import ObjectType
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.sales.models import Product, SalesDocument
from comptoir.service.models import Case

# object type -> (model, url prefix of its pages)
OBJECTS: dict[str, tuple[type[Model], str]] = {
    ObjectType.ACCOUNT: (Account, "account"),
    ObjectType.CONTACT: (Contact, "contact"),
    ObjectType.LEAD: (Lead, "lead"),
    ObjectType.OPPORTUNITY: (Opportunity, "opportunity"),
    ObjectType.ACTIVITY: (Activity, "activity"),
    ObjectType.CASE: (Case, "case"),
    ObjectType.PRODUCT: (Product, "product"),
    ObjectType.SALES_DOCUMENT: (SalesDocument, "document"),
}
_BY_MODEL = {model: (otype, prefix) for otype, (model, prefix) in OBJECTS.items()}


def object_type_of(obj: Model | type[Model]) -> str:
    model = obj if isinstance(obj, type) else type(obj)
    return str(_BY_MODEL[model][0])


def detail_url(obj: Any) -> str:
    _otype, prefix = _BY_MODEL[type(obj)]
    return reverse(f"web:{prefix}_detail", args=[obj.pk])


def detail_url_for(object_type: str, pk: int) -> str:
    _model, prefix = OBJECTS[object_type]
    return reverse(f"web:{prefix}_detail", args=[pk])

"""Custom field definitions and the audit trail of one record."""

from datetime import datetime
from typing import Any, Literal

from django.apps import apps
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from comptoir.access import policy
from comptoir.api.crud import ERRORS
from comptoir.core.errors import Forbidden, NotFound
from comptoir.core.services import full_clean, save

from .models import AuditEntry, CustomField, ObjectType

router = Router()

OBJECT_MODELS = {
    "account": "crm.Account", "contact": "crm.Contact", "lead": "crm.Lead",
    "opportunity": "crm.Opportunity", "activity": "activities.Activity", "case": "service.Case",
    "product": "sales.Product", "pricelist": "sales.PriceList",
    "salesdocument": "sales.SalesDocument", "attachment": "documents.Attachment",
}
ObjectTypeLit = Literal[tuple(OBJECT_MODELS)]  # type: ignore[valid-type]


class CustomFieldIn(Schema):
    object_type: ObjectTypeLit  # type: ignore[valid-type]
    name: str = Field(..., pattern=r"^[a-z][a-z0-9_]{0,49}$")
    label: str = Field(..., min_length=1, max_length=100)
    type: Literal["text", "number", "date", "choice", "boolean"] = "text"
    choices: list[str] = []
    required: bool = False
    max_length: int = Field(255, ge=1, le=10000)
    active: bool = True


class CustomFieldOut(CustomFieldIn):
    id: int


@router.get("/custom-fields", response={200: list[CustomFieldOut], **ERRORS},
            tags=["settings"])
def custom_field_list(request: HttpRequest, object_type: str | None = None) -> Any:
    qs = CustomField.objects.all()
    return list(qs.filter(object_type=object_type) if object_type else qs)


@router.post("/custom-fields", response={201: CustomFieldOut, **ERRORS}, tags=["settings"])
@transaction.atomic
def custom_field_create(request: HttpRequest, payload: CustomFieldIn) -> Any:
    """Define a typed extra field on an object (administrators and data managers)."""
    if not policy.sees_all(request.user):
        raise Forbidden(_("Only administrators and data managers define custom fields."))
    cf = CustomField(**payload.dict())
    if cf.type == CustomField.Type.CHOICE and not cf.choices:
        from comptoir.core.errors import ValidationFailed

        raise ValidationFailed(_("A choice field needs its choices."),
                               fields={"choices": [_("Give at least one choice.")]})
    full_clean(cf)
    save(cf)
    return Status(201, cf)


class AuditOut(Schema):
    id: int
    action: str
    user_id: int | None
    source: str
    at: datetime
    changes: dict[str, Any]


@router.get("/audit/{object_type}/{int:object_id}", response={200: list[AuditOut], **ERRORS},
            tags=["audit"])
def audit_trail(request: HttpRequest, object_type: ObjectTypeLit,  # type: ignore[valid-type]
                object_id: int,
                limit: int = Query(100, ge=1, le=1000)) -> Any:
    """Who changed what and when on one record you can see, newest first."""
    model = apps.get_model(OBJECT_MODELS[object_type])
    if not policy.restrict(model.objects.filter(pk=object_id), request.user).exists():
        raise NotFound(_("Not found, or you cannot see it."))
    return list(AuditEntry.objects.filter(object_type=object_type, object_id=object_id)[:limit])


assert set(OBJECT_MODELS) <= set(ObjectType.values)

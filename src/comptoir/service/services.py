"""Writes to support cases: numbering, closing dates, visibility of the linked account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.errors import Forbidden, ValidationFailed
from comptoir.core.models import ObjectType
from comptoir.core.services import (
    apply_fields,
    create_record,
    delete_record,
    snapshot,
    update_record,
)
from comptoir.crm.models import Account, Contact

from .models import Case

_CLOSED = {Case.Status.RESOLVED, Case.Status.CLOSED}


def _check_links(user: Any, case: Case) -> None:
    account = Account.objects.filter(pk=case.account_id).first() if case.account_id else None
    if account is None or not policy.can(user, "view", account):
        raise ValidationFailed(_("Choose an account you can see."),
                               fields={"account": [_("Unknown or not accessible account.")]})
    if case.contact_id and not Contact.objects.filter(pk=case.contact_id,
                                                      account_id=case.account_id).exists():
        raise ValidationFailed(_("The contact does not belong to this account."),
                               fields={"contact": [_("Choose a contact of the account.")]})


def _stamp_closing(case: Case) -> None:
    if case.status in _CLOSED and case.closed_at is None:
        case.closed_at = timezone.now()
    elif case.status not in _CLOSED:
        case.closed_at = None


@transaction.atomic
def case_create(*, user: Any, data: Mapping[str, Any], custom: Mapping[str, Any] | None = None,
                source: str = "app") -> Case:
    case = Case()
    apply_fields(case, data)
    if case.owner_id is None and getattr(user, "is_authenticated", False):
        case.owner_id = user.pk
    policy.require_assignable(user, case.owner_id)
    _check_links(user, case)
    _stamp_closing(case)
    case = create_record(case, object_type=ObjectType.CASE, user=user, source=source,
                         custom=custom)
    if not case.number:
        Case.objects.filter(pk=case.pk).update(number=f"CAS-{case.pk:06d}")
        case.number = f"CAS-{case.pk:06d}"
    return case


@transaction.atomic
def case_update(*, case: Case, user: Any, data: Mapping[str, Any],
                custom: Mapping[str, Any] | None = None, source: str = "app") -> Case:
    if not policy.can(user, "change", case):
        raise Forbidden(_("You are not allowed to change this case."))
    before = snapshot(case)
    apply_fields(case, data)
    if "owner_id" in data:
        policy.require_assignable(user, case.owner_id, record=case)
    if {"account_id", "contact_id"} & set(data):
        _check_links(user, case)
    _stamp_closing(case)
    return update_record(case, {}, object_type=ObjectType.CASE, user=user, source=source,
                         custom=custom, before=before)


@transaction.atomic
def case_delete(*, case: Case, user: Any, source: str = "app") -> None:
    if not policy.can(user, "delete", case):
        raise Forbidden(_("You are not allowed to delete this case."))
    delete_record(case, object_type=ObjectType.CASE, user=user, source=source)

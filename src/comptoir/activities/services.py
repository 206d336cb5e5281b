"""Writes to activities: the account is derived from what the activity is about."""

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

from .models import Activity

_LINKS = {
    "contact_id": ("crm", "Contact"),
    "opportunity_id": ("crm", "Opportunity"),
    "case_id": ("service", "Case"),
    "account_id": ("crm", "Account"),
}


def _resolve_links(user: Any, activity: Activity, changed: set[str]) -> None:
    """Check every linked record is visible and derive the account from contact/deal/case."""
    from django.apps import apps

    errors: dict[str, list[str]] = {}
    derived: int | None = None
    for field, (app, model_name) in _LINKS.items():
        value = getattr(activity, field)
        if value is None:
            continue
        model = apps.get_model(app, model_name)
        obj = model.objects.filter(pk=value).first()
        if field in changed and (obj is None or not policy.can(user, "view", obj)):
            errors[field.removesuffix("_id")] = [_("Unknown or not accessible record.")]
            continue
        if obj is not None and field != "account_id" and derived is None:
            derived = obj.account_id
    if errors:
        raise ValidationFailed(_("Some links are not valid."), fields=errors)
    if derived is not None:
        if activity.account_id is not None and activity.account_id != derived:
            raise ValidationFailed(
                _("The account does not match the linked contact, deal or case."),
                fields={"account": [_("Leave it empty or choose the matching account.")]},
            )
        activity.account_id = derived


def _check_times(activity: Activity, *, planning: bool = True) -> None:
    """``planning``: whether to require a date on an activity still to do (on create, or when
    its done flag or dates change): an undated one never shows in Today or Overdue."""
    if activity.start_at and activity.end_at and activity.end_at < activity.start_at:
        raise ValidationFailed(_("The end is before the start."),
                               fields={"end_at": [_("Must be after the start.")]})
    if planning and not activity.done and activity.kind != Activity.Kind.NOTE \
            and activity.due_at is None and activity.start_at is None:
        raise ValidationFailed(_("A planned activity needs a date."),
                               fields={"due_at": [_("Give the date it is due.")]})
    if activity.done and activity.done_at is None:
        activity.done_at = timezone.now()
    if not activity.done:
        activity.done_at = None


@transaction.atomic
def activity_create(*, user: Any, data: Mapping[str, Any],
                    custom: Mapping[str, Any] | None = None, source: str = "app") -> Activity:
    activity = Activity()
    apply_fields(activity, data)
    if activity.owner_id is None and getattr(user, "is_authenticated", False):
        activity.owner_id = user.pk
    policy.require_assignable(user, activity.owner_id)
    _resolve_links(user, activity, set(_LINKS))
    _check_times(activity)
    return create_record(activity, object_type=ObjectType.ACTIVITY, user=user, source=source,
                         custom=custom)


@transaction.atomic
def activity_update(*, activity: Activity, user: Any, data: Mapping[str, Any],
                    custom: Mapping[str, Any] | None = None, source: str = "app") -> Activity:
    if not policy.can(user, "change", activity):
        raise Forbidden(_("You are not allowed to change this activity."))
    before = snapshot(activity)
    apply_fields(activity, data)
    if "owner_id" in data:
        policy.require_assignable(user, activity.owner_id, record=activity)
    _resolve_links(user, activity, set(data) & set(_LINKS))
    _check_times(activity, planning=bool({"done", "due_at", "start_at", "kind"} & set(data)))
    return update_record(activity, {}, object_type=ObjectType.ACTIVITY, user=user, source=source,
                         custom=custom, before=before)


@transaction.atomic
def activity_delete(*, activity: Activity, user: Any, source: str = "app") -> None:
    if not policy.can(user, "delete", activity):
        raise Forbidden(_("You are not allowed to delete this activity."))
    delete_record(activity, object_type=ObjectType.ACTIVITY, user=user, source=source)

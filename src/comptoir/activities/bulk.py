"""Bulk-load specification for activities: the rules of ``activity_create`` and
``activity_update``, applied to a whole batch (an old CRM's calls, meetings and tasks).

An activity names what it is about by external id (``account_external_id``,
``contact_external_id``, ``opportunity_external_id``, ``case_external_id``); its account is
derived from its contact, deal or case as in the forms, and its reminder follows its time.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.core.bulk import BulkSpec, Errors, choice_coercer
from comptoir.core.models import ObjectType
from comptoir.crm.bulk import (
    Items,
    add_error,
    allowed_ids,
    check_change_rights,
    resolve_owners,
)

from .models import Activity
from .services import (
    _LINKS,
    _moved_reminder,
    activity_time,
    default_remind_at,
)

ACTIVITY_FIELDS = ["kind", "subject", "body", "due_at", "start_at", "end_at", "done",
                   "account_id", "contact_id", "opportunity_id", "case_id", "owner_id",
                   "remind_at", "custom"]
_TIMES = ("kind", "due_at", "start_at", "end_at", "done", "done_at", "remind_at",
          "reminded_at")


def _links(user: Any, items: Items, errors: dict[int, Errors]) -> None:
    """Every record linked anew must be one the user sees; the account is derived from the
    contact, deal or case (the first given), and a different one given is refused."""
    rows: dict[str, dict[int, Any]] = {}
    for attname, (app, model_name) in _LINKS.items():
        model = apps.get_model(app, model_name)
        wanted = {r[attname] for r, _p, _b in items if r.get(attname) is not None}
        visible = allowed_ids(model, user, list(wanted), "view")
        accounts = (dict(model._default_manager.filter(pk__in=wanted)
                         .values_list("pk", "account_id"))
                    if attname != "account_id" else {pk: pk for pk in wanted})
        rows[attname] = accounts
        for n, (record, _pk, _before) in enumerate(items):
            value = record.get(attname)
            if value is not None and visible is not None and value not in visible:
                add_error(errors, n, attname.removesuffix("_id"),
                          _("Unknown or not accessible record."))
    # links kept from before: their accounts, for the derivation
    kept: dict[str, set[int]] = {}
    for attname in _LINKS:
        kept[attname] = {b[attname] for r, _p, b in items
                         if b is not None and attname not in r and b.get(attname) is not None
                         and b[attname] not in rows[attname]}
    for attname, ids in kept.items():
        if ids and attname != "account_id":
            model = apps.get_model(*_LINKS[attname])
            rows[attname].update(model._default_manager.filter(pk__in=ids)
                                 .values_list("pk", "account_id"))
    for n, (record, _pk, before) in enumerate(items):
        if not ({"account_id", "contact_id", "opportunity_id", "case_id"} & set(record)):
            continue
        stored = {**(before or {}), **record}
        derived = next((rows[a].get(stored[a]) for a in ("contact_id", "opportunity_id",
                                                         "case_id")
                        if stored.get(a) is not None), None)
        if derived is None:
            continue
        if stored.get("account_id") is not None and stored["account_id"] != derived:
            add_error(errors, n, "account",
                      _("Leave it empty or choose the matching account."))
        elif stored.get("account_id") != derived:
            record["account_id"] = derived


def _times(items: Items, errors: dict[int, Errors]) -> None:
    """The end after the start, a date on a planned activity, ``done_at`` with ``done``, and
    the reminder: the default on a new activity, moved with the time of a changed one."""
    now = timezone.now()
    for n, (record, _pk, before) in enumerate(items):
        stored = {**(before or {}), **record}
        activity = Activity(**{k: stored.get(k) for k in _TIMES if k != "reminded_at"})
        activity.kind = stored.get("kind") or Activity.Kind.TASK
        activity.done = bool(stored.get("done"))
        if activity.start_at and activity.end_at and activity.end_at < activity.start_at:
            add_error(errors, n, "end_at", _("Must be after the start."))
            continue
        planning = before is None or bool({"done", "due_at", "start_at", "kind"} & set(record))
        if planning and not activity.done and activity.kind != Activity.Kind.NOTE \
                and activity.due_at is None and activity.start_at is None:
            add_error(errors, n, "due_at", _("Give the date it is due."))
            continue
        done_at = (stored.get("done_at") or now) if activity.done else None
        if before is None or done_at != before.get("done_at"):
            record["done_at"] = done_at
        if before is None:
            if "remind_at" not in record:
                record["remind_at"] = default_remind_at(activity, now)
            continue
        old_when = before.get("start_at") or before.get("due_at")
        moved = activity_time(activity) != old_when
        if "remind_at" not in record and moved:
            record["remind_at"] = _moved_reminder(activity, old_when, before.get("remind_at"))
        if (moved or record.get("remind_at", before.get("remind_at")) != before.get("remind_at")) \
                and before.get("reminded_at") is not None:
            record["reminded_at"] = None  # a new time or reminder is reminded again


def _finish_activities(user: Any, items: Items) -> dict[int, Errors]:
    """``activity_create`` / ``activity_update`` for a batch."""
    errors: dict[int, Errors] = {}
    check_change_rights(Activity, user, items, errors,
                        _("You are not allowed to change this activity."))
    resolve_owners(Activity, user, items, errors)
    _links(user, items, errors)
    _times(items, errors)
    return errors


ACTIVITY_BULK = BulkSpec(
    model=Activity, object_type=ObjectType.ACTIVITY, fields=ACTIVITY_FIELDS,
    coerce=choice_coercer(Activity, ["kind"]),
    external_fks={"account_id": ObjectType.ACCOUNT, "contact_id": ObjectType.CONTACT,
                  "opportunity_id": ObjectType.OPPORTUNITY, "case_id": ObjectType.CASE},
    inputs=("owner_username",), finish=_finish_activities, per_record_rights=True,
    read_fields=["kind", "due_at", "start_at", "end_at", "done", "done_at", "account_id",
                 "contact_id", "opportunity_id", "case_id", "owner_id", "remind_at",
                 "reminded_at"],
)

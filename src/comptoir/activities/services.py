"""Writes to activities: the account is derived from what the activity is about, and the
owner's reminder follows the activity's time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.errors import Forbidden, ValidationFailed
from comptoir.core.models import ObjectType
from comptoir.core.services import (
    apply_fields,
    create_record,
    delete_record,
    record_change,
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


# --- Reminders ------------------------------------------------------------------------------
# The reminder is a moment (``remind_at``) so the worker finds due ones with one indexed query;
# what people choose is an offset ("15 min before"), given to the services as
# ``remind_before`` (minutes; None: no reminder). A time of 00:00 means "on that day, no time":
# such an activity is anchored at 9:00, so "at the time" reminds at 9:00 and not at midnight.

DEFAULT_REMIND_BEFORE = 15  # minutes, for an activity with a time
DAY_START = dt.time(9, 0)  # where a date without a time is anchored
REMIND_BEFORE_CHOICES = (0, 15, 60, 1440)  # what the form offers, in minutes
_UNSET: Any = object()


def activity_time(activity: Activity) -> dt.datetime | None:
    """When the activity happens: its start (call, meeting), else its due date (task)."""
    return activity.start_at or activity.due_at


def is_all_day(when: dt.datetime) -> bool:
    """A moment at 00:00 local time stands for a date without a time."""
    return timezone.localtime(when).time() == dt.time.min


def reminder_anchor(when: dt.datetime) -> dt.datetime:
    """The moment a reminder counts back from: the time, or 9:00 on a date without one."""
    if is_all_day(when):
        day = timezone.localtime(when).date()
        return timezone.make_aware(dt.datetime.combine(day, DAY_START))
    return when


def remind_at_for(activity: Activity, minutes_before: int | None) -> dt.datetime | None:
    """The reminder ``minutes_before`` the activity's time (None: no reminder)."""
    when = activity_time(activity)
    if minutes_before is None or when is None:
        return None
    return reminder_anchor(when) - dt.timedelta(minutes=minutes_before)


def default_remind_at(activity: Activity, now: dt.datetime | None = None
                      ) -> dt.datetime | None:
    """15 minutes before a timed activity, 9:00 on the day for a date without a time; none
    for a note, a done activity or one already past."""
    when = activity_time(activity)
    if when is None or activity.done or activity.kind == Activity.Kind.NOTE:
        return None
    if reminder_anchor(when) <= (now or timezone.now()):
        return None
    return remind_at_for(activity, 0 if is_all_day(when) else DEFAULT_REMIND_BEFORE)


def remind_before_of(activity: Activity) -> int | None:
    """The offset (minutes) the activity's reminder is set at; None without a reminder."""
    when = activity_time(activity)
    if activity.remind_at is None or when is None:
        return None
    return int((reminder_anchor(when) - activity.remind_at).total_seconds() // 60)


def _moved_reminder(activity: Activity, old_when: dt.datetime | None,
                    old_remind: dt.datetime | None) -> dt.datetime | None:
    """The reminder once the activity's time changed: the same offset from the new time (the
    default stays the default); none stays none; a newly dated activity gets the default."""
    new_when = activity_time(activity)
    if new_when is None or reminder_anchor(new_when) <= timezone.now():
        return None  # nothing to be reminded of in the past
    if old_when is None:
        return default_remind_at(activity)
    if old_remind is None:
        return None
    probe = Activity(kind=activity.kind, start_at=old_when)
    if old_remind == remind_at_for(probe, 0 if is_all_day(old_when) else DEFAULT_REMIND_BEFORE):
        return default_remind_at(activity)
    return reminder_anchor(new_when) - (reminder_anchor(old_when) - old_remind)


def activity_reminders_backfill(*, batch: int = 2000) -> int:
    """Give the default reminder to planned activities loaded without one (set-based loads
    such as ``comptoir demo`` bypass the services); returns how many were set."""
    now = timezone.now()
    todo = (Activity.objects.filter(done=False, remind_at__isnull=True)
            .exclude(kind=Activity.Kind.NOTE)
            .filter(Q(start_at__gt=now) | Q(start_at__isnull=True, due_at__gt=now))
            .only("id", "kind", "done", "start_at", "due_at").order_by("id"))
    pending: list[Activity] = []
    count = 0
    for activity in todo.iterator(chunk_size=batch):
        activity.remind_at = default_remind_at(activity, now)
        if activity.remind_at is None:
            continue
        pending.append(activity)
        if len(pending) >= batch:
            count += Activity.objects.bulk_update(pending, ["remind_at"])
            pending = []
    return count + (Activity.objects.bulk_update(pending, ["remind_at"]) if pending else 0)


def _clean_remind_before(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = -1
    if minutes < 0 or minutes > 60 * 24 * 366:
        raise ValidationFailed(_("Choose when to be reminded."),
                               fields={"remind_at": [_("Not a valid reminder.")]})
    return minutes


@transaction.atomic
def activity_create(*, user: Any, data: Mapping[str, Any],
                    custom: Mapping[str, Any] | None = None, source: str = "app") -> Activity:
    """``data`` may give ``remind_at`` (a moment) or ``remind_before`` (minutes before the
    activity's time, None for no reminder); without either the default reminder applies."""
    data = dict(data)
    remind_before = data.pop("remind_before", _UNSET)
    data.pop("reminded_at", None)  # the reminder job's column
    activity = Activity()
    apply_fields(activity, data)
    if activity.owner_id is None and getattr(user, "is_authenticated", False):
        activity.owner_id = user.pk
    policy.require_assignable(user, activity.owner_id)
    _resolve_links(user, activity, set(_LINKS))
    _check_times(activity)
    if remind_before is not _UNSET:
        activity.remind_at = remind_at_for(activity, _clean_remind_before(remind_before))
    elif "remind_at" not in data:
        activity.remind_at = default_remind_at(activity)
    activity.reminded_at = None
    return create_record(activity, object_type=ObjectType.ACTIVITY, user=user, source=source,
                         custom=custom)


@transaction.atomic
def activity_update(*, activity: Activity, user: Any, data: Mapping[str, Any],
                    custom: Mapping[str, Any] | None = None, source: str = "app") -> Activity:
    """Changing the activity's time moves its reminder (same offset) and sends it again;
    ``remind_at`` or ``remind_before`` (as for :func:`activity_create`) set it explicitly."""
    if not policy.can(user, "change", activity):
        raise Forbidden(_("You are not allowed to change this activity."))
    data = dict(data)
    remind_before = data.pop("remind_before", _UNSET)
    data.pop("reminded_at", None)  # the reminder job's column
    before = snapshot(activity)
    old_when, old_remind = activity_time(activity), activity.remind_at
    apply_fields(activity, data)
    if "owner_id" in data:
        policy.require_assignable(user, activity.owner_id, record=activity)
    _resolve_links(user, activity, set(data) & set(_LINKS))
    _check_times(activity, planning=bool({"done", "due_at", "start_at", "kind"} & set(data)))
    moved = activity_time(activity) != old_when
    if remind_before is not _UNSET:
        activity.remind_at = remind_at_for(activity, _clean_remind_before(remind_before))
    elif "remind_at" not in data and moved:
        activity.remind_at = _moved_reminder(activity, old_when, old_remind)
    reset = moved or activity.remind_at != old_remind
    saved = update_record(activity, {}, object_type=ObjectType.ACTIVITY, user=user,
                          source=source, custom=custom, before=before)
    if reset:
        # A new time or reminder is reminded again. Written apart from the audited change:
        # the claim column belongs to the reminder job, not to the record's history.
        Activity.objects.filter(pk=saved.pk).update(reminded_at=None)
        saved.reminded_at = None
    return saved


@transaction.atomic
def activity_delete(*, activity: Activity, user: Any, source: str = "app") -> None:
    if not policy.can(user, "delete", activity):
        raise Forbidden(_("You are not allowed to delete this activity."))
    delete_record(activity, object_type=ObjectType.ACTIVITY, user=user, source=source)


# --- Meeting attendees ----------------------------------------------------------------------
# Users and contacts invited to a meeting (or call). The editor must be allowed to change the
# activity and to see each contact; users are colleagues, any active one can be invited. The
# change is audited on the activity as ``attendees: [before, after]`` (e-mail addresses).

ATTENDEE_KINDS = (Activity.Kind.MEETING, Activity.Kind.CALL)


def attendees_from_emails(user: Any, emails: Any) -> tuple[list[int], list[int]]:
    """Resolve e-mail addresses to (user ids, contact ids) ``user`` may invite; an address
    matching nobody visible raises :class:`ValidationFailed` on ``attendees``."""
    from comptoir.access.models import User
    from comptoir.crm.models import Contact

    user_ids: list[int] = []
    contact_ids: list[int] = []
    unknown: list[str] = []
    for raw in emails:
        email = str(raw).strip().lower()
        if not email:
            continue
        colleague = User.objects.filter(email__iexact=email, is_active=True).first()
        if colleague is not None:
            user_ids.append(colleague.pk)
            continue
        contact = next((c for c in Contact.objects.filter(email__iexact=email).order_by("id")
                        if policy.can(user, "view", c)), None)
        if contact is None:
            unknown.append(email)
        else:
            contact_ids.append(contact.pk)
    if unknown:
        raise ValidationFailed(_("Some attendees are unknown."), fields={"attendees": [
            _("No user or contact you can see has the address %(email)s.") % {"email": e}
            for e in unknown]})
    return user_ids, contact_ids


@transaction.atomic
def attendees_set(*, activity: Activity, user: Any, users: Any = (), contacts: Any = (),
                  source: str = "app") -> list[Any]:
    """Make the meeting's attendees exactly ``users`` and ``contacts`` (ids); those already
    invited keep their answer. Returns the attendees."""
    from comptoir.access.models import User
    from comptoir.crm.models import Contact

    from .models import MeetingAttendee

    if not policy.can(user, "change", activity):
        raise Forbidden(_("You are not allowed to change this activity."))
    if activity.kind not in ATTENDEE_KINDS:
        raise ValidationFailed(_("Only meetings and calls have attendees."),
                               fields={"attendees": [_("Make it a meeting first.")]})
    errors: dict[str, list[str]] = {}
    try:
        user_ids = {int(u) for u in users}
        contact_ids = {int(c) for c in contacts}
    except (TypeError, ValueError):
        raise ValidationFailed(_("Some attendees are not valid."),
                               fields={"attendees": [_("Not a valid person.")]}) from None
    found_users = {u.pk: u for u in User.objects.filter(pk__in=user_ids, is_active=True)}
    if set(found_users) != user_ids:
        errors["users"] = [_("Unknown or inactive user.")]
    found_contacts = {c.pk: c for c in Contact.objects.filter(pk__in=contact_ids)
                      if policy.can(user, "view", c)}
    if set(found_contacts) != contact_ids:
        errors["contacts"] = [_("Unknown or not accessible record.")]
    if errors:
        raise ValidationFailed(_("Some attendees are not valid."), fields=errors)
    current = list(activity.attendees.all())
    before = sorted(a.email for a in current)
    keep = {("u", a.user_id) if a.user_id else ("c", a.contact_id): a for a in current}
    wanted: dict[tuple[str, int], Any] = {("u", pk): u for pk, u in found_users.items()}
    wanted.update({("c", pk): c for pk, c in found_contacts.items()})
    for key, attendee in keep.items():
        if key not in wanted:
            attendee.delete()
    for key, person in wanted.items():
        if key not in keep:
            MeetingAttendee.objects.create(
                activity=activity, email=(person.email or "").lower(),
                user=person if key[0] == "u" else None,
                contact=person if key[0] == "c" else None)
    result = list(activity.attendees.select_related("user", "contact").order_by("id"))
    after = sorted(a.email for a in result)
    if after != before:
        record_change(object_type=ObjectType.ACTIVITY, instance=activity, action="update",
                      user=user, changes={"attendees": [before, after]}, source=source)
    return result

"""Activity reminders: the worker's periodic job tells an activity's owner, in the app, that
the call, meeting or task they planned is coming (``Activity.remind_at``).

Each reminder goes out once, however many workers run the job at the same time: an activity
is claimed with a filtered ``UPDATE … WHERE reminded_at IS NULL`` and only the process whose
update changed the row writes the notification, in the same transaction (as healthchecks'
``sendalerts`` claims its checks). Changing the activity's time clears ``reminded_at`` (see
``activities.services``), so the new time is reminded again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.activities.models import Activity
from comptoir.activities.services import activity_time, is_all_day
from comptoir.core.models import ObjectType

from .models import Notification

# A reminder the worker could not send within this long (it was stopped) is dropped: a pile of
# stale "your call is in 15 minutes" after a week's outage helps nobody.
GRACE = dt.timedelta(hours=12)
BATCH = 200


def _due(now: dt.datetime, user: Any = None) -> list[Activity]:
    qs = Activity.objects.filter(reminded_at__isnull=True, done=False, remind_at__lte=now,
                                 remind_at__gte=now - GRACE)
    if user is not None:
        qs = qs.filter(owner=user)
    return list(qs.select_related("account", "owner").order_by("remind_at", "id")[:BATCH])


def reminder_details(activity: Activity) -> dict[str, Any]:
    """What the notification keeps of the activity: its kind, time and account."""
    when = activity_time(activity)
    return {"kind": activity.kind,
            "at": when.isoformat() if when else None,
            "all_day": bool(when and is_all_day(when)),
            "account": str(activity.account)[:300] if activity.account_id else ""}


def _notify(activity: Activity, now: dt.datetime) -> None:
    """The owner's reminder: the unread one of the same activity is refreshed, not doubled."""
    assert activity.owner_id is not None
    fields = {"title": activity.subject[:300], "action": "reminder", "fields": [],
              "count": 1, "actor": None, "source": "reminder", "created_at": now,
              "details": reminder_details(activity)}
    updated = Notification.objects.filter(
        user_id=activity.owner_id, kind=Notification.Kind.REMINDER,
        object_type=ObjectType.ACTIVITY, object_id=activity.pk, read_at__isnull=True,
    ).update(**fields)
    if not updated:
        Notification.objects.create(user_id=activity.owner_id, kind=Notification.Kind.REMINDER,
                                    object_type=ObjectType.ACTIVITY, object_id=activity.pk,
                                    **fields)


def reminders_send(*, now: dt.datetime | None = None, user: Any = None) -> int:
    """Send the reminders that fell due (only ``user``'s when given); returns how many this
    call sent. Safe to run in several processes at once."""
    now = now or timezone.now()
    sent = 0
    for activity in _due(now, user):
        with transaction.atomic():
            claimed = Activity.objects.filter(
                pk=activity.pk, reminded_at__isnull=True, done=False,
                remind_at=activity.remind_at,
            ).update(reminded_at=now)
            if claimed != 1:  # another worker sent it, or the activity changed meanwhile
                continue
            if activity.owner is None or not activity.owner.is_active:
                continue  # claimed all the same: nobody to tell
            _notify(activity, now)
            sent += 1
    return sent


def reminders_due() -> dict[str, int]:
    """The worker's periodic job (``COMPTOIR_PERIODIC_JOBS``, every ~20 s)."""
    sent = reminders_send()
    return {"reminders": sent} if sent else {}

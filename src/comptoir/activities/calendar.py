"""The calendar's reads (activities of some people in a time range, as the policy allows) and
the private feed links (issue 16, parts 3 and 4).

An activity's place on a calendar is its start (meetings, calls) or, without one, its due date
(tasks); a moment at 00:00 local time is a day without a time (see
``services.is_all_day``). Range queries filter on ``start_at`` or ``due_at`` directly, so each
branch of the OR uses its ``(owner, start_at)`` / ``(owner, due_at)`` index.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from comptoir.access import policy

from .models import Activity, CalendarFeedToken

# What a calendar shows: what is planned at a moment. Notes and e-mails are records of what
# was said, found on the timeline of their record.
CALENDAR_KINDS = (Activity.Kind.MEETING, Activity.Kind.CALL, Activity.Kind.TASK)
DEFAULT_LENGTH = dt.timedelta(minutes=30)  # a call or meeting without an end
TASK_LENGTH = dt.timedelta(minutes=15)  # how long a timed task is drawn
MAX_ITEMS = 2000  # a month of a large team is far below; a bound against pathological data

FEED_PREFIX = "cal_"
FEED_PAST = dt.timedelta(days=92)  # what a subscribed app receives: the last three months…
FEED_FUTURE = dt.timedelta(days=366)  # …and the year ahead


def in_range(lo: dt.datetime, hi: dt.datetime) -> Q:
    """Activities whose calendar time (start, else due date) is in ``[lo, hi)``."""
    return (Q(start_at__gte=lo, start_at__lt=hi)
            | Q(start_at__isnull=True, due_at__gte=lo, due_at__lt=hi))


def calendar_activities(user: Any, owner_ids: Iterable[int] | None, lo: dt.datetime,
                        hi: dt.datetime) -> QuerySet[Activity]:
    """The calendar items of ``owner_ids`` (``None``: any owner) between ``lo`` and ``hi``
    that ``user`` may see — never more than the policy allows, whoever is asked for."""
    qs = Activity.objects.filter(in_range(lo, hi), kind__in=CALENDAR_KINDS)
    if owner_ids is not None:
        qs = qs.filter(owner_id__in=list(owner_ids))
    return (policy.restrict(qs, user)
            .select_related("owner", "account", "contact", "opportunity", "case")
            .order_by(Coalesce("start_at", "due_at"), "id")[:MAX_ITEMS])


def starts(activity: Activity) -> dt.datetime | None:
    return activity.start_at or activity.due_at


def ends(activity: Activity) -> dt.datetime | None:
    """When it ends: its end, else a default length after its start (see the constants)."""
    start = starts(activity)
    if start is None:
        return None
    if activity.start_at and activity.end_at and activity.end_at >= activity.start_at:
        return activity.end_at
    return start + (TASK_LENGTH if activity.start_at is None else DEFAULT_LENGTH)


def moved_times(activity: Activity, day: dt.date, at: dt.time | None) -> dict[str, Any]:
    """The fields to give ``activity`` to put it on ``day`` at ``at`` (local time; ``None``
    keeps its time of day): the duration is kept, and a due date travels with the start."""
    when = starts(activity)
    if when is None:
        raise ValueError("an activity without a time cannot be moved")
    local = timezone.localtime(when)
    target = timezone.make_aware(dt.datetime.combine(day, at if at is not None
                                                     else local.time().replace(tzinfo=None)))
    delta = target - when
    data: dict[str, Any] = {}
    if activity.start_at is not None:
        data["start_at"] = target
        if activity.end_at is not None:
            data["end_at"] = activity.end_at + delta
        if activity.due_at is not None:
            data["due_at"] = activity.due_at + delta
    else:
        data["due_at"] = target
    return data


# --- Feed links -----------------------------------------------------------------------------

def issue_feed_token(user: Any) -> tuple[CalendarFeedToken, str]:
    """A new feed secret for ``user`` (the previous one stops working); the raw value is
    returned once and never stored."""
    raw = FEED_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        revoke_feed_tokens(user)
        token = CalendarFeedToken.objects.create(user=user, prefix=raw[:10],
                                                 token_hash=CalendarFeedToken.hash(raw))
    return token, raw


def revoke_feed_tokens(user: Any) -> int:
    return (CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True)
            .update(revoked_at=timezone.now()))


def active_feed_token(user: Any) -> CalendarFeedToken | None:
    return (CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True)
            .order_by("-created_at").first())


def feed_user(raw: str) -> Any | None:
    """The active user a feed secret belongs to; ``None`` for an unknown or revoked one."""
    if not raw.startswith(FEED_PREFIX) or len(raw) > 100:
        return None
    row = (CalendarFeedToken.objects.select_related("user")
           .filter(token_hash=CalendarFeedToken.hash(raw), revoked_at__isnull=True).first())
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=5):
        CalendarFeedToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


def feed_activities(user: Any, now: dt.datetime | None = None) -> QuerySet[Activity]:
    """What a user's feed holds: their own calendar items (as the policy lets them see them)
    from three months back to a year ahead."""
    now = now or timezone.now()
    return calendar_activities(user, [user.pk], now - FEED_PAST, now + FEED_FUTURE)

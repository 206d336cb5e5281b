"""Notifications by e-mail: each user chooses, per kind, off / immediately / hourly or daily
digest (``NotificationEmailPreference``; no row means :data:`DEFAULT_MODES`).

The worker's periodic job :func:`notification_emails_due` sends, for each user and each mode,
one e-mail listing the unread notifications (and, for data managers and administrators, the
failed synchronisations) that came since that mode's last e-mail, with absolute links
(``COMPTOIR_BASE_URL``), in the user's language, through the mail app's queue and retries
(``mail.services.send_system_email``).

A send is claimed by moving the user's cursor with a filtered ``UPDATE … WHERE sent_until =
<what was read>`` in the transaction that queues the e-mail: of several workers running the
job at once only one moves it, so nothing goes out twice. Notifications are stamped with the
time of their change, and the consumer writes them a little later: the job looks only at what
is at least :data:`LAG` old, so a late-written notification is never skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comptoir.core.errors import ValidationFailed

from .models import (
    EmailKind,
    EmailMode,
    Notification,
    NotificationEmailCursor,
    NotificationEmailPreference,
)
from .services import notification_text, visible_notifications

log = logging.getLogger(__name__)

DEFAULT_MODES: dict[str, str] = {
    EmailKind.ASSIGNED: EmailMode.IMMEDIATE,
    EmailKind.REMINDER: EmailMode.IMMEDIATE,
    EmailKind.FOLLOWED: EmailMode.DAILY,
    EmailKind.SYNC_FAILED: EmailMode.IMMEDIATE,  # offered to data managers and admins only
}
# The in-app notification kinds each e-mail kind covers.
NOTIFICATION_KINDS: dict[str, tuple[str, ...]] = {
    EmailKind.ASSIGNED: (Notification.Kind.ASSIGNED, Notification.Kind.CASE_ASSIGNED),
    EmailKind.REMINDER: (Notification.Kind.REMINDER,),
    EmailKind.FOLLOWED: (Notification.Kind.FOLLOWED_CHANGED,),
    EmailKind.SYNC_FAILED: (),
}
SYNC_ROLES = ("data_manager", "admin")
PERIODS: dict[str, dt.timedelta] = {
    EmailMode.IMMEDIATE: dt.timedelta(0),
    EmailMode.HOURLY: dt.timedelta(hours=1),
    EmailMode.DAILY: dt.timedelta(days=1),
}
LAG = dt.timedelta(seconds=60)
# How far back a user's first e-mail of a mode looks (a new install does not mail old news).
FIRST_LOOK_BACK = dt.timedelta(hours=1)
MAX_ITEMS = 100  # in one e-mail; the rest is on the notifications page


# --- Preferences ---------------------------------------------------------------------------

def kinds_for(user: Any) -> list[str]:
    """The kinds a user may hear about: sync failures only for those who can act on them."""
    kinds = [EmailKind.ASSIGNED, EmailKind.REMINDER, EmailKind.FOLLOWED]
    if getattr(user, "role", "") in SYNC_ROLES or getattr(user, "is_superuser", False):
        kinds.append(EmailKind.SYNC_FAILED)
    return [str(k) for k in kinds]


def preferences_for(user: Any) -> dict[str, str]:
    """``{kind: mode}`` for every kind the user may choose, defaults filled in."""
    stored = dict(NotificationEmailPreference.objects.filter(user=user)
                  .values_list("kind", "mode"))
    return {kind: stored.get(kind, str(DEFAULT_MODES[kind])) for kind in kinds_for(user)}


def preferences_set(user: Any, data: Mapping[str, Any]) -> dict[str, str]:
    """Save the modes given per kind (kinds left out keep theirs); an unknown kind or mode
    is refused on its field, and nothing is saved."""
    allowed = set(kinds_for(user))
    modes = {str(m) for m in EmailMode.values}
    errors: dict[str, list[str]] = {}
    wanted: dict[str, str] = {}
    for kind, mode in data.items():
        if kind not in allowed:
            errors[kind] = [_("Unknown kind of notification.")]
        elif str(mode) not in modes:
            errors[kind] = [_("Choose off, immediately, hourly or daily.")]
        else:
            wanted[kind] = str(mode)
    if errors:
        raise ValidationFailed(_("The preferences could not be saved: see the fields."),
                               fields=errors)
    with transaction.atomic():
        for kind, mode in wanted.items():
            NotificationEmailPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"mode": mode})
    return preferences_for(user)


# --- What goes into an e-mail --------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    """One line of an e-mail: what happened, on what, and where to see it."""

    kind: str
    title: str
    text: str
    url: str
    at: dt.datetime


def absolute(path: str) -> str:
    return settings.COMPTOIR_BASE_URL.rstrip("/") + path


def _notification_items(user: Any, kinds: list[str], since: dt.datetime, until: dt.datetime
                        ) -> list[Item]:
    wanted = [k for kind in kinds for k in NOTIFICATION_KINDS[kind]]
    if not wanted:
        return []
    qs = (Notification.objects.filter(user=user, kind__in=wanted, read_at__isnull=True,
                                      created_at__gt=since, created_at__lte=until)
          .select_related("actor").order_by("created_at", "id")[:MAX_ITEMS])
    rows = visible_notifications(user, qs)  # not a record the user may no longer see
    by_kind = {k: kind for kind in kinds for k in NOTIFICATION_KINDS[kind]}
    return [Item(kind=by_kind[n.kind], title=n.title or str(n.get_kind_display()),
                 text=notification_text(n),
                 url=absolute(reverse("web:notification_open", args=[n.pk])), at=n.created_at)
            for n in rows]


def _sync_items(since: dt.datetime, until: dt.datetime) -> list[Item]:
    run_model = apps.get_model("integration", "SyncRun")  # no import of the integration layer
    runs = (run_model.objects.filter(status="failed", finished_at__gt=since,
                                     finished_at__lte=until)
            .select_related("connection").order_by("finished_at", "id")[:MAX_ITEMS])
    return [Item(kind=EmailKind.SYNC_FAILED,
                 title=_("Sync of %(connection)s failed") % {"connection": run.connection},
                 text=(run.error_message or "").strip().splitlines()[0][:300]
                 if (run.error_message or "").strip() else _("No error message."),
                 url=absolute(reverse("web:sync_run", args=[run.pk])), at=run.finished_at)
            for run in runs]


def items_for(user: Any, kinds: list[str], since: dt.datetime, until: dt.datetime
              ) -> list[Item]:
    """What came for ``user`` of ``kinds`` in (since, until], oldest first."""
    items = _notification_items(user, kinds, since, until)
    if EmailKind.SYNC_FAILED in kinds:
        items += _sync_items(since, until)
    return sorted(items, key=lambda i: i.at)[:MAX_ITEMS]


def compose(user: Any, mode: str, items: list[Item]) -> tuple[str, str]:
    """Subject and plain-text body, in the user's language."""
    with translation.override(getattr(user, "language", "") or settings.LANGUAGE_CODE):
        if mode == EmailMode.IMMEDIATE and len(items) == 1:
            subject = _("[Comptoir] %(title)s") % {"title": items[0].title}
            intro = ""
        else:
            if mode == EmailMode.IMMEDIATE:
                subject = ngettext("[Comptoir] %(n)d new notification",
                                   "[Comptoir] %(n)d new notifications",
                                   len(items)) % {"n": len(items)}
            elif mode == EmailMode.HOURLY:
                subject = ngettext("[Comptoir] Hourly digest: %(n)d notification",
                                   "[Comptoir] Hourly digest: %(n)d notifications",
                                   len(items)) % {"n": len(items)}
            else:
                subject = ngettext("[Comptoir] Daily digest: %(n)d notification",
                                   "[Comptoir] Daily digest: %(n)d notifications",
                                   len(items)) % {"n": len(items)}
            intro = _("Here is what happened since the last e-mail.") + "\n\n"
        labels = {str(k): str(label) for k, label in EmailKind.choices}
        lines = [_("Hello %(name)s,") % {"name": user.first_name or user.username}, ""]
        if intro:
            lines += [intro.rstrip("\n"), ""]
        for kind in [str(k) for k in EmailKind.values]:
            group = [i for i in items if i.kind == kind]
            if not group:
                continue
            if mode != EmailMode.IMMEDIATE or len(items) > 1:
                lines += [labels[kind], "-" * len(labels[kind])]
            for i in group:
                lines += [f"* {i.title}", f"  {i.text}", f"  {i.url}", ""]
        lines += ["-- ", _("You receive this e-mail because of your notification settings: "
                           "%(url)s") % {"url": absolute(reverse("web:notification_prefs"))}]
    return subject, "\n".join(lines) + "\n"


# --- The job -------------------------------------------------------------------------------

def _cursor(user: Any, mode: str, now: dt.datetime) -> NotificationEmailCursor:
    start = now - LAG - max(PERIODS[mode], FIRST_LOOK_BACK)  # due at once
    try:
        with transaction.atomic():
            cursor, _created = NotificationEmailCursor.objects.get_or_create(
                user=user, mode=mode, defaults={"sent_until": start})
    except IntegrityError:  # another worker created it at the same moment
        cursor = NotificationEmailCursor.objects.get(user=user, mode=mode)
    return cursor


def send_for(user: Any, *, now: dt.datetime | None = None) -> int:
    """Send ``user``'s due e-mails (one per mode at most); returns how many were queued."""
    from comptoir.mail.services import send_system_email

    now = now or timezone.now()
    until = now - LAG
    if not (user.email or "").strip() or not user.is_active:
        return 0
    by_mode: dict[str, list[str]] = {}
    for kind, mode in preferences_for(user).items():
        if mode != EmailMode.OFF:
            by_mode.setdefault(mode, []).append(kind)
    sent = 0
    with translation.override(getattr(user, "language", "") or settings.LANGUAGE_CODE):
        for mode, kinds in by_mode.items():
            sent += _send_mode(user, mode, kinds, now, until, send_system_email)
    return sent


def _send_mode(user: Any, mode: str, kinds: list[str], now: dt.datetime, until: dt.datetime,
               send: Any) -> int:
    """One e-mail of one mode, when due and not claimed by another worker."""
    cursor = _cursor(user, mode, now)
    since = cursor.sent_until
    if until - since < PERIODS[mode] or until <= since:
        return 0  # a digest not yet due
    items = items_for(user, kinds, since, until)
    if not items and mode == EmailMode.IMMEDIATE:
        return 0  # nothing to say: no write every round
    with transaction.atomic():
        claimed = NotificationEmailCursor.objects.filter(
            pk=cursor.pk, sent_until=since).update(sent_until=until)
        if claimed != 1 or not items:
            return 0  # another worker sent it (or an empty digest period ends)
        subject, body = compose(user, mode, items)
        return 1 if send(user, subject, body) is not None else 0


def notification_emails_send(*, now: dt.datetime | None = None) -> int:
    """Send every due notification e-mail; safe to run in several processes at once."""
    now = now or timezone.now()
    horizon = now - PERIODS[EmailMode.DAILY] - FIRST_LOOK_BACK
    user_ids = set(Notification.objects.filter(read_at__isnull=True, created_at__gt=horizon)
                   .values_list("user_id", flat=True).distinct())
    run_model = apps.get_model("integration", "SyncRun")
    if run_model.objects.filter(status="failed", finished_at__gt=horizon).exists():
        user_ids |= set(get_user_model().objects.filter(
            Q(role__in=SYNC_ROLES) | Q(is_superuser=True)).values_list("pk", flat=True))
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True).exclude(email="")
    sent = 0
    for user in users.order_by("pk"):
        try:
            sent += send_for(user, now=now)
        except Exception:  # one user's failure must not stop the others'
            log.exception("notification e-mail for user %s", user.pk)
    return sent


def notification_emails_due() -> dict[str, int]:
    """The worker's periodic job (``COMPTOIR_PERIODIC_JOBS``)."""
    sent = notification_emails_send()
    return {"notification_emails": sent} if sent else {}

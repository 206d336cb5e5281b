"""Two-way CalDAV sync of a user's agenda with their CRM activities (issue 16, part 4).

One sync (:func:`sync_account`) of one user's :class:`CalendarAccount`:

1. **Pull** what changed in the agenda since the account's ``sync_token`` (RFC 6578
   sync-collection, ``disable_fallback=True``: without it the client silently downloads the
   whole calendar). The first sync (no token) reads the calendar once.

   * An event whose ETag is the one we wrote or saw last is our own write: skipped.
   * A new event with a CRM contact among its ATTENDEEs (by e-mail, a contact the user may
     see) becomes a CRM meeting owned by the user on that contact (and so its account), the
     other matched contacts and users its attendees. Other new events are ignored.
   * A linked event changed there updates the activity's subject and time.
   * **Deleted there: the CRM activity is kept** (it is the record of what was planned with a
     customer) and an audit entry "removed from the agenda" is written on it; the link is
     marked removed (``removed_at``) so the activity is not pushed back into the agenda.
   * **Conflict** (changed in both since the last sync): the last change wins — the event's
     LAST-MODIFIED (else DTSTAMP) against the activity's ``updated_at``. The losing version's
     values are kept in the activity's history: an audit entry ``source="caldav:conflict"``
     whose ``changes`` are ``{field: [lost value, kept value]}``.

2. **Push** the user's meetings, calls and timed tasks (owned by the user, from 30 days back to
   a year ahead) new or changed since the last sync (activity ``version`` ≠ the link's) as
   VEVENTs (UID ``ical.activity_uid``): ``If-None-Match: *`` for a new one, ``If-Match`` the
   last ETag for a known one — an event changed there meanwhile (412) waits for the next
   pull. An event whose activity was deleted in the CRM is deleted there. Pushed events carry
   no ATTENDEE lines, so no server sends invitations on the user's behalf.

3. The sync token is moved past our own writes: the changes since the pull's token are listed
   (without data) and, when every one of them is an ETag we wrote, the newer token is kept —
   so a second sync with nothing new pushes nothing and pulls nothing.

Every write to activities goes through :mod:`comptoir.activities.services` (validation,
audit, optimistic concurrency with the version read), ``source="caldav"``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar

from comptoir.access import policy
from comptoir.access.models import User
from comptoir.activities import ical
from comptoir.activities.calendar import starts
from comptoir.activities.models import Activity
from comptoir.activities.services import (
    activity_create,
    activity_update,
    attendees_set,
    is_all_day,
)
from comptoir.core.errors import DomainError, Forbidden, StaleRecord, ValidationFailed
from comptoir.core.models import AuditEntry, ObjectType
from comptoir.core.secrets import MissingSecret, resolve_secret
from comptoir.crm.models import Contact

from .models import ActivityCalendarLink, CalendarAccount

log = logging.getLogger(__name__)

SOURCE = "caldav"
CONFLICT_SOURCE = "caldav:conflict"
PAST = dt.timedelta(days=30)
FUTURE = dt.timedelta(days=366)
KINDS = (Activity.Kind.MEETING, Activity.Kind.CALL, Activity.Kind.TASK)
TIMEOUT = 30  # seconds per HTTP request
DEFAULT_INTERVAL_MINUTES = 10
SYNC_LEASE = dt.timedelta(minutes=30)


class CalendarProblem(DomainError):
    """What went wrong talking to the agenda, said so the user knows what to fix.

    ``problem``: ``unreachable``, ``credentials``, ``calendar`` (not found), ``config``,
    ``protocol``."""

    status = 400
    code = "calendar_problem"

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def secret(value: str) -> str:
    """``env:NAME`` reads the password from the environment, as connection secrets do."""
    try:
        return str(resolve_secret(value))
    except MissingSecret as exc:
        raise CalendarProblem("config", _("The environment variable %(name)s holding the "
                                          "password is not set.") % {"name": exc.name}) from None


# --- Connection -----------------------------------------------------------------------------

def _client(account: CalendarAccount) -> Any:
    from caldav.davclient import DAVClient

    return DAVClient(account.server_url, username=account.username,
                            password=secret(account.password), timeout=TIMEOUT)


def _translate(exc: BaseException, account: CalendarAccount) -> CalendarProblem:
    from caldav.lib import error

    where = urlsplit(account.server_url).netloc or account.server_url
    if isinstance(exc, CalendarProblem):
        return exc
    if isinstance(exc, error.AuthorizationError):
        return CalendarProblem("credentials", _("The server %(where)s refused the user name or "
                                                "password.") % {"where": where})
    if isinstance(exc, error.NotFoundError):
        return CalendarProblem("calendar", _("The calendar %(calendar)s was not found on "
                                             "%(where)s.")
                               % {"calendar": account.calendar, "where": where})
    if isinstance(exc, error.DAVError):
        return CalendarProblem("protocol", _("The server %(where)s answered unexpectedly: "
                                             "%(why)s") % {"where": where, "why": exc})
    return CalendarProblem("unreachable", _("The server %(where)s cannot be reached: %(why)s")
                           % {"where": where, "why": exc.__class__.__name__})


def connect(account: CalendarAccount) -> Any:
    """The account's calendar (a ``caldav.Calendar``), or :class:`CalendarProblem` saying
    exactly what failed: unreachable server, refused credentials, calendar not found."""
    client = _client(account)
    try:
        principal = client.principal()
        wanted = account.calendar.strip()
        if wanted.startswith(("http://", "https://", "/")):
            calendar = client.calendar(url=urljoin(account.server_url, wanted))
            calendar.get_properties()  # raises NotFoundError for a missing collection
            return calendar
        for calendar in principal.calendars():
            path = str(calendar.url).rstrip("/").rsplit("/", 1)[-1]
            if wanted in (path, calendar.get_display_name()):
                return calendar
    except Exception as exc:
        raise _translate(exc, account) from exc
    from caldav.lib import error

    raise _translate(error.NotFoundError(), account)


def check_connection(account: CalendarAccount) -> str:
    """Sign in and open the calendar; returns its address (or raises CalendarProblem)."""
    return str(connect(account).url)


# --- Events ↔ activities -------------------------------------------------------------------

def _aware(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(dt.datetime.combine(value, dt.time.min))  # a date: all day


def _vevent(data: str) -> Any:
    for component in Calendar.from_ical(data).walk("VEVENT"):
        return component
    return None


def _changed_at(event: Any) -> dt.datetime | None:
    for name in ("last-modified", "dtstamp"):
        if event.get(name) is not None:
            return _aware(event.decoded(name))
    return None


def _event_fields(event: Any, activity: Activity | None) -> dict[str, Any]:
    """The activity fields the event says (subject and time)."""
    start = _aware(event.decoded("dtstart"))
    end = _aware(event.decoded("dtend")) if event.get("dtend") is not None else None
    summary = str(event.get("summary") or "").strip()
    data: dict[str, Any] = {}
    if activity is None or summary != ical._summary(activity):
        data["subject"] = summary.removeprefix("✓ ")[:200] or _("(no subject)")
    if activity is not None and activity.kind == Activity.Kind.TASK \
            and activity.start_at is None:
        data["due_at"] = start
    else:
        data["start_at"] = start
        data["end_at"] = end
    return data


def _emails(event: Any) -> list[str]:
    found = event.get("attendee") or []
    if not isinstance(found, list):
        found = [found]
    out = []
    for value in found:
        text = str(value)
        if text.lower().startswith("mailto:"):
            text = text[7:]
        if "@" in text:
            out.append(text.strip().lower())
    return out


def _crm_values(activity: Activity, keys: Any) -> dict[str, Any]:
    return {k: _json(getattr(activity, k)) for k in keys}


# --- Sync -----------------------------------------------------------------------------------

@dataclass
class SyncResult:
    pushed: int = 0
    deleted_there: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    conflicts: int = 0
    pulled: int = 0  # events read from the server that were not our own writes
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _etag(value: Any) -> str:
    return str(value or "").strip()


def _pull(account: CalendarAccount, calendar: Any, result: SyncResult) -> str:
    user = account.user
    token = account.sync_token or None
    objects = calendar.get_objects_by_sync_token(sync_token=token, load_objects=True,
                                                 disable_fallback=True)
    links = {link.href: link for link in account.links.all()}
    for obj in objects:
        href = str(urlsplit(str(obj.url)).path)
        etag = _etag((getattr(obj, "props", None) or {}).get("{DAV:}getetag"))
        link = links.get(href)
        if obj.data is None:  # deleted there
            if link is not None and link.removed_at is None:
                result.pulled += 1
                _removed_there(link, user, result)
            continue
        if link is not None and etag and etag == link.etag:
            continue  # our own write, or already seen
        result.pulled += 1
        event = _vevent(obj.data)
        if event is None:
            continue
        try:
            if link is None:
                _new_there(account, href, etag, event, result)
            elif link.activity_id is not None and link.removed_at is None:
                _changed_there(link, etag, event, result)
            else:
                link.etag = etag
                link.save(update_fields=["etag"])
        except DomainError as exc:
            result.errors.append(f"{href}: {exc.message}")
    if result.errors:
        return account.sync_token  # what failed (a stale activity…) is pulled again next time
    return str(objects.sync_token)


def _removed_there(link: ActivityCalendarLink, user: Any, result: SyncResult) -> None:
    with transaction.atomic():
        if link.activity_id is not None:
            AuditEntry.objects.create(
                object_type=ObjectType.ACTIVITY, object_id=link.activity_id,
                action=AuditEntry.Action.UPDATE, user=user, source=SOURCE,
                changes={"agenda": [link.href, None]})
        link.removed_at = timezone.now()
        link.save(update_fields=["removed_at"])
    result.removed += 1


def _new_there(account: CalendarAccount, href: str, etag: str, event: Any,
               result: SyncResult) -> None:
    """An event created in the agenda: a CRM meeting when a visible contact attends."""
    user = account.user
    uid = str(event.get("uid") or href)
    emails = _emails(event)
    if not emails:
        return
    contacts = [c for c in Contact.objects.annotate(e=Lower("email")).filter(e__in=emails)
                .order_by("id") if policy.can(user, "view", c)]
    if not contacts:
        return
    colleagues = list(User.objects.annotate(e=Lower("email"))
                      .filter(e__in=emails, is_active=True).exclude(pk=user.pk)
                      .values_list("pk", flat=True))
    data = _event_fields(event, None)
    data.update(kind=Activity.Kind.MEETING, owner_id=user.pk, contact_id=contacts[0].pk,
                body=str(event.get("description") or ""))
    with transaction.atomic():
        activity = activity_create(user=user, data=data, source=SOURCE)
        attendees_set(activity=activity, user=user, users=colleagues,
                      contacts=[c.pk for c in contacts], source=SOURCE)
        activity.refresh_from_db()
        ActivityCalendarLink.objects.create(account=account, activity=activity, href=href,
                                            etag=etag, uid=uid, version=activity.version,
                                            synced_at=timezone.now())
    result.created += 1


def _changed_there(link: ActivityCalendarLink, etag: str, event: Any,
                   result: SyncResult) -> None:
    user = link.account.user
    assert link.activity_id is not None  # the caller checked
    activity = Activity.objects.get(pk=link.activity_id)
    data = _event_fields(event, activity)
    crm_changed = activity.version != link.version
    there_wins = True
    if crm_changed:
        result.conflicts += 1
        there_at = _changed_at(event)
        there_wins = there_at is not None and activity.updated_at is not None \
            and there_at > activity.updated_at
    lost_keys = [k for k in data if _crm_values(activity, [k])[k] != _json(data[k])]
    with transaction.atomic():
        if there_wins:
            before = _crm_values(activity, lost_keys)
            activity._expected_version = activity.version  # type: ignore[attr-defined]
            activity = activity_update(activity=activity, user=user, data=data, source=SOURCE)
            if crm_changed and lost_keys:
                _history(activity, user, {k: [before[k], _json(data[k])] for k in lost_keys})
            link.version = activity.version
            result.updated += 1
        elif lost_keys:
            kept = _crm_values(activity, lost_keys)
            _history(activity, user, {k: [_json(data[k]), kept[k]] for k in lost_keys})
            # link.version stays behind the activity's: the push below writes the CRM's
        link.etag = etag
        link.synced_at = timezone.now()
        link.save(update_fields=["etag", "version", "synced_at"])


def _json(value: Any) -> Any:
    from comptoir.core.services import json_value

    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC)  # one spelling of a moment, to compare and to keep
    return json_value(value)


def _history(activity: Activity, user: Any, changes: Mapping[str, list[Any]]) -> None:
    """The losing side of a conflict, in the activity's history: ``[lost, kept]``."""
    AuditEntry.objects.create(object_type=ObjectType.ACTIVITY, object_id=activity.pk,
                              action=AuditEntry.Action.UPDATE, user=user,
                              source=CONFLICT_SOURCE, changes=dict(changes))


def push_candidates(account: CalendarAccount, now: dt.datetime | None = None) -> list[Activity]:
    """The user's timed meetings, calls and tasks in the window, new or changed since their
    last sync (and not removed from the agenda there)."""
    now = now or timezone.now()
    lo, hi = now - PAST, now + FUTURE
    qs = (Activity.objects.filter(owner_id=account.user_id, kind__in=KINDS)
          .filter(Q(start_at__gte=lo, start_at__lt=hi)
                  | Q(start_at__isnull=True, due_at__gte=lo, due_at__lt=hi))
          .select_related("owner", "account", "contact", "opportunity", "case"))
    links = {link.activity_id: link for link in account.links.filter(activity__in=qs)}
    out = []
    for activity in qs.order_by("id"):
        when = starts(activity)
        if activity.kind == Activity.Kind.TASK and (when is None or is_all_day(when)):
            continue  # a task without a time stays a to-do, not an agenda event
        link = links.get(activity.pk)
        if link is not None and (link.removed_at is not None or link.version == activity.version):
            continue
        out.append(activity)
    return out


def _put(client: Any, url: str, body: bytes, etag: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "text/calendar; charset=utf-8"}
    if etag:
        headers["If-Match"] = etag
    else:
        headers["If-None-Match"] = "*"
    response = client.request(url, "PUT", body.decode(), headers)
    return int(response.status), _etag(response.headers.get("ETag"))


def _push(account: CalendarAccount, calendar: Any, result: SyncResult) -> None:
    client = calendar.client
    base = str(calendar.url)
    if not base.endswith("/"):
        base += "/"
    root = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
    for activity in push_candidates(account):
        link = account.links.filter(activity=activity).first()
        uid = ical.activity_uid(activity)
        href = link.href if link is not None \
            else urlsplit(base).path + f"{activity.pk}-comptoir.ics"
        body = ical.activity_ics(activity)
        status, etag = _put(client, root + href, body, link.etag if link else None)
        if status == 412:
            result.errors.append(_("%(href)s changed in the agenda meanwhile: left for the "
                                   "next sync.") % {"href": href})
            continue
        if status >= 300:
            raise CalendarProblem("protocol", _("The server refused an event (HTTP %(status)s)."
                                                ) % {"status": status})
        if not etag:
            etag = _etag(client.request(root + href, "HEAD").headers.get("ETag"))
        ActivityCalendarLink.objects.update_or_create(
            account=account, uid=uid, defaults={
                "activity": activity, "href": href, "etag": etag,
                "version": activity.version, "synced_at": timezone.now(), "removed_at": None})
        result.pushed += 1
    for link in account.links.filter(activity__isnull=True, removed_at__isnull=True):
        response = client.request(root + link.href, "DELETE", "", {"If-Match": link.etag}
                                  if link.etag else {})
        if int(response.status) < 300 or int(response.status) == 404:
            link.delete()
            result.deleted_there += 1


def _settle_token(account: CalendarAccount, calendar: Any, token: str) -> str:
    """The token after our own writes, when nothing else changed meanwhile (else ``token``,
    so the other changes are pulled next time)."""
    links = {link.href: link.etag for link in account.links.all()}
    later = calendar.get_objects_by_sync_token(sync_token=token, load_objects=False,
                                               disable_fallback=True)
    for obj in later:
        href = str(urlsplit(str(obj.url)).path)
        etag = _etag((getattr(obj, "props", None) or {}).get("{DAV:}getetag"))
        if href not in links or (etag and links[href] != etag):
            return token
    return str(later.sync_token)


def _claim(account: CalendarAccount) -> bool:
    now = timezone.now()
    return bool(CalendarAccount.objects.filter(pk=account.pk).filter(
        Q(syncing_since__isnull=True) | Q(syncing_since__lt=now - SYNC_LEASE))
        .update(syncing_since=now))


def sync_account(account: CalendarAccount) -> SyncResult:
    """Pull then push one user's agenda (see the module's notes). A problem is stored on
    the account (``last_error``) and raised as :class:`CalendarProblem`."""
    result = SyncResult()
    if not _claim(account):
        return result
    error = ""
    try:
        calendar = connect(account)
        token = _pull(account, calendar, result)
        _push(account, calendar, result)
        account.sync_token = _settle_token(account, calendar, token)
        account.calendar_url = str(calendar.url)
    except CalendarProblem as exc:
        error = exc.message
        raise
    except Exception as exc:
        problem = _translate(exc, account)
        error = problem.message
        log.warning("agenda sync of %s failed", account.pk, exc_info=True)
        raise problem from exc
    finally:
        account.last_error = error
        account.last_sync_at = timezone.now()
        CalendarAccount.objects.filter(pk=account.pk).update(
            last_error=error, last_sync_at=account.last_sync_at, syncing_since=None,
            sync_token=account.sync_token, calendar_url=account.calendar_url)
    return result


def accounts_due(now: dt.datetime | None = None) -> int:
    """Periodic job (``COMPTOIR_PERIODIC_JOBS``): queue a sync of every enabled agenda not
    synced for ``COMPTOIR_CALDAV_INTERVAL`` minutes (default 10). Returns how many."""
    from .tasks import sync_one

    now = now or timezone.now()
    minutes = int(getattr(settings, "COMPTOIR_CALDAV_INTERVAL", DEFAULT_INTERVAL_MINUTES))
    due = CalendarAccount.objects.filter(enabled=True, syncing_since__isnull=True).filter(
        Q(last_sync_at__isnull=True) | Q(last_sync_at__lt=now - dt.timedelta(minutes=minutes)))
    count = 0
    for pk in due.values_list("pk", flat=True):
        if CalendarAccount.objects.filter(pk=pk, syncing_since__isnull=True).update(
                last_sync_at=now):
            sync_one.enqueue(pk)
            count += 1
    return count


# --- Settings (the web form) ----------------------------------------------------------------

FIELDS = ("server_url", "username", "calendar", "enabled")


def account_of(user: Any) -> CalendarAccount | None:
    return CalendarAccount.objects.filter(user=user).first()


def account_save(*, user: Any, data: Mapping[str, Any], account: CalendarAccount | None = None
                 ) -> CalendarAccount:
    """Create or change ``user``'s agenda sync. The password is write-only: an empty value
    keeps the stored one. Another server or calendar restarts the sync (token and links)."""
    if account is not None and account.user_id != user.pk:
        raise Forbidden(_("This is not your agenda."))
    acc = account or CalendarAccount(user=user)
    before = (acc.server_url, acc.username, acc.calendar)
    for name in FIELDS:
        if name in data:
            setattr(acc, name, data[name])
    if data.get("password"):
        acc.password = str(data["password"])
    errors: dict[str, list[str]] = {}
    if not acc.password:
        errors["password"] = [_("Give the password.")]
    if not str(acc.calendar).strip():
        errors["calendar"] = [_("Give the calendar's address or name.")]
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)
    with transaction.atomic():
        if account is not None and before != (acc.server_url, acc.username, acc.calendar):
            acc.sync_token = ""
            acc.calendar_url = ""
            acc.links.all().delete()
        acc.save()
    return acc


__all__ = ["CalendarProblem", "StaleRecord", "SyncResult", "account_of", "account_save",
           "accounts_due", "check_connection", "connect", "sync_account"]

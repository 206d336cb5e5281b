"""Follows, the home feed and notifications (R11).

* **Follow** a record to hear about it: ``follow``/``unfollow``/``is_following``.
* **The feed** (``feed_for``) is read from the audit trail: the recent changes made by others
  to the records a user follows or owns, kept to what the user may still see.
* **Notifications** are written by a consumer of the outbox (``notifications_process``), which
  keeps its own cursor like every other consumer: followers hear about changes made by someone
  else, a new owner hears that a record was assigned to them. The worker runs it every few
  seconds (``notifications_due``); the home and notification pages also catch it up, bounded,
  so a change shows without waiting for the worker.

Records are not followed automatically when created: the feed already covers the records a user
owns, so following is for the records of others (a colleague's key account, a case of a
customer one sells to); an automatic follow would duplicate the owner's feed and, through
imports, create follows by the million.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from comptoir.access import policy
from comptoir.core.errors import NotFound
from comptoir.core.models import AuditEntry, ObjectType, OutboxEvent
from comptoir.core.records import RECORD_MODELS

from .models import FeedCursor, Follow, Notification

log = logging.getLogger(__name__)

# Object types one can follow, and the model holding them.
FOLLOWABLE = RECORD_MODELS  # every kind of record can be followed
# Owned records whose changes by others show in their owner's feed. Activities and sales
# documents are left out: one's own tasks are changed by oneself, and documents change with
# every ERP sync (amounts due), which would drown the rest.
OWNED_IN_FEED = (ObjectType.ACCOUNT, ObjectType.CONTACT, ObjectType.LEAD,
                 ObjectType.OPPORTUNITY, ObjectType.CASE)
FEED_WINDOW = dt.timedelta(days=30)
# Fields that change as a consequence of others and say nothing to a person.
NOISE_FIELDS = frozenset({"normalized_name", "updated_at", "created_at"})
CURSOR_NAME = "notifications"
BATCH = 500
# More assignments than this to one user, of one kind of record, in one batch make a digest.
DIGEST_OVER = 5
MAX_FIELDS = 30


def model_for(object_type: str) -> type[Model]:
    try:
        return apps.get_model(FOLLOWABLE[object_type])
    except KeyError as exc:
        raise NotFound(_("Records of this kind cannot be followed.")) from exc


def _visible_ids(user: Any, object_type: str, ids: Iterable[int]) -> set[int]:
    """The ids among ``ids`` that ``user`` may see, in one query."""
    ids = list(ids)
    if not ids:
        return set()
    model = model_for(object_type)
    return set(policy.restrict(model._default_manager.filter(pk__in=ids), user)
               .values_list("pk", flat=True))


# --- Follows -------------------------------------------------------------------------------

def _check_visible(user: Any, object_type: str, object_id: int) -> None:
    if object_id not in _visible_ids(user, object_type, [object_id]):
        raise NotFound(_("No such record."))


def follow(*, user: Any, object_type: str, object_id: int) -> Follow:
    """Follow a record the user may see (following twice is harmless)."""
    _check_visible(user, object_type, object_id)
    try:
        with transaction.atomic():
            obj, _created = Follow.objects.get_or_create(
                user=user, object_type=object_type, object_id=object_id)
    except IntegrityError:  # two clicks at once: the other one won
        obj = Follow.objects.get(user=user, object_type=object_type, object_id=object_id)
    return obj


def unfollow(*, user: Any, object_type: str, object_id: int) -> bool:
    """Stop following; says whether the user was following."""
    deleted, _rows = Follow.objects.filter(user=user, object_type=object_type,
                                           object_id=object_id).delete()
    return deleted > 0


def follow_toggle(*, user: Any, object_type: str, object_id: int) -> bool:
    """Follow or stop following; returns whether the user follows the record now."""
    if unfollow(user=user, object_type=object_type, object_id=object_id):
        return False
    follow(user=user, object_type=object_type, object_id=object_id)
    return True


def is_following(user: Any, object_type: str, object_id: int) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return Follow.objects.filter(user=user, object_type=object_type,
                                 object_id=object_id).exists()


def followed_ids(user: Any, object_type: str) -> QuerySet[Any]:
    """The ids of the records of one type the user follows (a subquery, not a list)."""
    return Follow.objects.filter(user=user, object_type=object_type).values_list(
        "object_id", flat=True)


# --- Describing changes --------------------------------------------------------------------

def field_labels(object_type: str, names: Iterable[str]) -> list[str]:
    """Changed fields as people call them (``owner_id`` → "owner")."""
    try:
        meta = model_for(object_type)._meta
    except NotFound:
        meta = None
    labels: dict[str, str] = {}
    if meta is not None:
        for f in meta.concrete_fields:
            labels[f.attname] = str(f.verbose_name)
            labels[f.name] = str(f.verbose_name)
    out = []
    for name in names:
        if name in NOISE_FIELDS:
            continue
        label = labels.get(name) or (_("custom fields") if name == "custom"
                                     else name.replace("_", " "))
        if label not in out:
            out.append(label)
    return out


def actor_name(actor: Any, source: str = "") -> str:
    if actor is not None:
        return str(actor)
    if source.startswith("sync:"):
        return _("The sync with %(system)s") % {"system": source[5:]}
    if source == "territory-rules":
        return _("The territory rules")
    return _("Someone")


def _list(labels: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (" …" if len(labels) > limit else "")


ACTION_LABELS: dict[str, Any] = {
    "created": gettext_lazy("created"),
    "updated": gettext_lazy("updated"),
    "deleted": gettext_lazy("deleted"),
    "promoted": gettext_lazy("sent to the ERP"),
    "deleted_externally": gettext_lazy("deleted in another system"),
    "tombstoned": gettext_lazy("deleted in another system"),
    "restored": gettext_lazy("restored from the recycle bin"),
}


def change_sentence(*, action: str, who: str, fields: Sequence[str]) -> str:
    """"Théo changed phone, city." — one change, in the reader's language."""
    if action == "created":
        return _("%(who)s created it.") % {"who": who}
    if action == "deleted":
        return _("%(who)s deleted it.") % {"who": who}
    if action == "promoted":
        return _("%(who)s asked for it to be created in the ERP.") % {"who": who}
    if action == "restored":
        return _("%(who)s restored it from the recycle bin.") % {"who": who}
    if action in ("deleted_externally", "tombstoned"):
        return _("It was deleted in another system.")
    if fields:
        return _("%(who)s changed %(fields)s.") % {"who": who, "fields": _list(fields)}
    return _("%(who)s changed it.") % {"who": who}


# --- The feed ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedEntry:
    """One change in someone's feed: who did what to which record, and when."""

    object_type: str
    object_id: int
    title: str
    action: str
    fields: list[str]
    actor: Any
    source: str
    at: dt.datetime
    followed: bool

    @property
    def who(self) -> str:
        return actor_name(self.actor, self.source)

    @property
    def kind(self) -> str:
        return str(dict(ObjectType.choices).get(self.object_type, self.object_type))

    @property
    def text(self) -> str:
        # audit actions are verbs ("update"), event topics past participles ("updated")
        return change_sentence(action=f"{self.action}d", who=self.who, fields=self.fields)


def _feed_filter(user: Any) -> tuple[Q | None, set[str]]:
    """Audit rows on what the user follows (and may still see) or owns, as one condition."""
    followed_types = set(Follow.objects.filter(user=user).values_list("object_type", flat=True)
                         .distinct())
    terms: list[Q] = []
    for object_type in FOLLOWABLE:
        model = model_for(object_type)
        ids: list[QuerySet[Any]] = []
        if object_type in followed_types:
            followed = model._default_manager.filter(pk__in=followed_ids(user, object_type))
            ids.append(policy.restrict(followed, user).values("pk"))
        if object_type in OWNED_IN_FEED:
            ids.append(model._default_manager.filter(owner=user).values("pk"))
        terms += [Q(object_type=object_type, object_id__in=sub) for sub in ids]
    if not terms:
        return None, followed_types
    condition = terms[0]
    for term in terms[1:]:
        condition |= term
    return condition, followed_types


def feed_for(user: Any, limit: int = 20, *, since: dt.datetime | None = None
             ) -> list[FeedEntry]:
    """Recent changes by others on the records ``user`` follows or owns, newest first.

    One query for the entries (the audit trail's (type, id, time) index serves each record),
    one per kind of record shown for their names. A record the user may no longer see drops
    out, whoever follows it.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    condition, followed_types = _feed_filter(user)
    if condition is None:
        return []
    since = since or timezone.now() - FEED_WINDOW
    rows = list(AuditEntry.objects.filter(condition, at__gte=since).exclude(user=user)
                .select_related("user").order_by("-at", "-id")[:limit])
    titles = _titles({(r.object_type, r.object_id) for r in rows})
    follows: set[tuple[str, int]] = set()
    if followed_types and rows:
        follows = set(Follow.objects.filter(
            user=user, object_id__in={r.object_id for r in rows}).values_list(
            "object_type", "object_id"))
    return [FeedEntry(
        object_type=r.object_type, object_id=r.object_id,
        title=titles.get((r.object_type, r.object_id)) or _fallback_title(r.object_type,
                                                                          r.object_id),
        action=r.action, fields=field_labels(r.object_type, r.changes)
        if r.action == AuditEntry.Action.UPDATE else [],
        actor=r.user, source=r.source, at=r.at,
        followed=(r.object_type, r.object_id) in follows,
    ) for r in rows]


def _titles(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    by_type: dict[str, set[int]] = defaultdict(set)
    for object_type, object_id in keys:
        if object_type in FOLLOWABLE:
            by_type[object_type].add(object_id)
    out = {}
    for object_type, ids in by_type.items():
        for pk, obj in model_for(object_type)._default_manager.in_bulk(list(ids)).items():
            out[(object_type, pk)] = str(obj)[:300]
    return out


TITLE_FIELDS = ("legal_name", "name", "subject", "number", "company_name", "last_name")


def _fallback_title(object_type: str, object_id: int | None,
                    changes: Mapping[str, Any] | None = None) -> str:
    """A name for a record that is gone: from the values it had, else its kind and id."""
    for key in TITLE_FIELDS:
        value = (changes or {}).get(key)
        if isinstance(value, list | tuple) and value and value[0]:
            return str(value[0])[:300]
    label = dict(ObjectType.choices).get(object_type, object_type)
    return f"{label} #{object_id}"


# --- Notifications: reading ----------------------------------------------------------------

def unread_count(user: Any, cap: int = 99) -> int:
    """Unread notifications for the bell on every page: one indexed, bounded count."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).order_by()[
        :cap + 1].count()


def notifications_for(user: Any, *, unread: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(user=user).select_related("actor")
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def visible_notifications(user: Any, notifications: Iterable[Notification]
                          ) -> list[Notification]:
    """Drop the notifications on records the user may no longer see (one query per kind).

    Digests and deletions stay: they name no record one could open.
    """
    items = list(notifications)
    by_type: dict[str, set[int]] = defaultdict(set)
    for n in items:
        if n.object_id is not None and n.action != "deleted" and n.object_type in FOLLOWABLE:
            by_type[n.object_type].add(n.object_id)
    visible = {(t, pk) for t, ids in by_type.items() for pk in _visible_ids(user, t, ids)}
    return [n for n in items if n.object_id is None or n.action == "deleted"
            or n.object_type not in FOLLOWABLE or (n.object_type, n.object_id) in visible]


def _reminder_when(at: dt.datetime, all_day: bool) -> str:
    """"today at 14:30", "tomorrow", "on 12/03/2027 at 9:00": in the reader's language."""
    from django.utils.formats import date_format, time_format

    local = timezone.localtime(at)
    days = (local.date() - timezone.localdate()).days
    time = time_format(local, "TIME_FORMAT")
    if all_day:
        if days == 0:
            return _("today")
        if days == 1:
            return _("tomorrow")
        return _("on %(date)s") % {"date": date_format(local, "SHORT_DATE_FORMAT")}
    if days == 0:
        return _("today at %(time)s") % {"time": time}
    if days == 1:
        return _("tomorrow at %(time)s") % {"time": time}
    return _("on %(date)s at %(time)s") % {"date": date_format(local, "SHORT_DATE_FORMAT"),
                                           "time": time}


def reminder_text(n: Notification) -> str:
    """"Reminder: call today at 14:30 — Acme SA", composed when shown."""
    from comptoir.activities.models import Activity

    details = n.details if isinstance(n.details, dict) else {}
    kind = str(dict(Activity.Kind.choices).get(str(details.get("kind")), _("activity"))).lower()
    try:
        at = dt.datetime.fromisoformat(str(details.get("at")))
    except ValueError:
        at = None
    if at is None:
        sentence = _("Reminder: %(kind)s") % {"kind": kind}
    elif details.get("kind") == Activity.Kind.TASK:
        sentence = _("Reminder: %(kind)s due %(when)s") % {
            "kind": kind, "when": _reminder_when(at, bool(details.get("all_day")))}
    else:
        sentence = _("Reminder: %(kind)s %(when)s") % {
            "kind": kind, "when": _reminder_when(at, bool(details.get("all_day")))}
    if details.get("account"):
        return _("%(reminder)s — %(account)s") % {"reminder": sentence,
                                                  "account": details["account"]}
    return sentence


def notification_text(n: Notification) -> str:
    if n.kind == Notification.Kind.REMINDER:
        return reminder_text(n)
    who = actor_name(n.actor, n.source)
    if n.kind in (Notification.Kind.ASSIGNED, Notification.Kind.CASE_ASSIGNED):
        if n.object_id is None:
            try:
                things = str(model_for(n.object_type)._meta.verbose_name_plural)
            except NotFound:
                things = n.object_type
            return _("%(count)d %(things)s were assigned to you by %(who)s.") % {
                "count": n.count, "things": things, "who": who}
        return _("%(who)s assigned it to you.") % {"who": who}
    labels = field_labels(n.object_type, n.fields)
    sentence = change_sentence(action=n.action, who=who, fields=labels)
    if n.count > 1:
        return _("%(count)d changes; the last: %(sentence)s") % {"count": n.count,
                                                                  "sentence": sentence}
    return sentence


def notifications_mark_read(*, user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all of them, or ``ids``); returns how many."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


# --- Notifications: the outbox consumer ----------------------------------------------------

@dataclass
class _Event:
    id: int
    object_type: str
    object_id: int
    action: str
    changes: dict[str, Any]
    actor_id: int | None
    source: str
    at: dt.datetime


@dataclass
class _Intent:
    user_id: int
    kind: str
    object_type: str
    object_id: int | None
    action: str
    fields: list[str]
    actor_id: int | None
    source: str
    at: dt.datetime
    changes: dict[str, Any]
    count: int = 1

    @property
    def key(self) -> tuple[int, str, str, int | None]:
        return (self.user_id, self.kind, self.object_type, self.object_id)


def _parse(rows: Sequence[tuple[Any, ...]]) -> list[_Event]:
    events = []
    for pk, topic, object_type, object_id, payload, created_at in rows:
        if object_type not in FOLLOWABLE:
            continue
        payload = payload if isinstance(payload, dict) else {}
        changes = payload.get("changes") if isinstance(payload.get("changes"), dict) else {}
        actor = payload.get("user_id")
        events.append(_Event(
            id=pk, object_type=object_type, object_id=int(object_id),
            action=topic.split(".", 1)[1] if "." in topic else topic,
            changes=changes or {}, actor_id=actor if isinstance(actor, int) else None,
            source=str(payload.get("source") or ""), at=created_at))
    return events


def _followers(events: Sequence[_Event]) -> dict[tuple[str, int], set[int]]:
    by_type: dict[str, set[int]] = defaultdict(set)
    for e in events:
        by_type[e.object_type].add(e.object_id)
    condition = Q()
    for object_type, ids in by_type.items():
        condition |= Q(object_type=object_type, object_id__in=sorted(ids))
    out: dict[tuple[str, int], set[int]] = defaultdict(set)
    for user_id, object_type, object_id in Follow.objects.filter(condition).values_list(
            "user_id", "object_type", "object_id"):
        out[(object_type, object_id)].add(user_id)
    return out


def _intents(events: Sequence[_Event]) -> list[_Intent]:
    followers = _followers(events)
    intents: list[_Intent] = []
    for e in events:
        fields = [k for k in e.changes if k not in NOISE_FIELDS] if e.action == "updated" else []
        new_owner = None
        owner_change = e.changes.get("owner_id")
        if (e.action in ("created", "updated") and isinstance(owner_change, list | tuple)
                and len(owner_change) == 2 and isinstance(owner_change[1], int)
                and owner_change[1] != owner_change[0] and owner_change[1] != e.actor_id):
            new_owner = owner_change[1]
            kind = (Notification.Kind.CASE_ASSIGNED if e.object_type == ObjectType.CASE
                    else Notification.Kind.ASSIGNED)
            intents.append(_Intent(new_owner, kind, e.object_type, e.object_id, e.action, [],
                                   e.actor_id, e.source, e.at, e.changes))
        for user_id in followers.get((e.object_type, e.object_id), ()):
            if user_id in (e.actor_id, new_owner):
                continue
            intents.append(_Intent(user_id, Notification.Kind.FOLLOWED_CHANGED, e.object_type,
                                   e.object_id, e.action, fields, e.actor_id, e.source, e.at,
                                   e.changes))
    return intents


def _keep_visible(intents: list[_Intent]) -> list[_Intent]:
    """A follower who lost access to a record hears no more of it (deletions excepted)."""
    from comptoir.access.models import User

    wanted: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for i in intents:
        if i.kind == Notification.Kind.FOLLOWED_CHANGED and i.action != "deleted":
            wanted[i.user_id][i.object_type].add(i.object_id)  # type: ignore[arg-type]
    if not wanted:
        return intents
    users = User.objects.in_bulk(list(wanted))
    visible: set[tuple[int, str, int]] = set()
    for user_id, by_type in wanted.items():
        user = users.get(user_id)
        if user is None or not user.is_active:
            continue
        for object_type, ids in by_type.items():
            visible |= {(user_id, object_type, pk)
                        for pk in _visible_ids(user, object_type, ids)}
    return [i for i in intents if i.kind != Notification.Kind.FOLLOWED_CHANGED
            or i.action == "deleted" or (i.user_id, i.object_type, i.object_id) in visible]


def _digest(intents: list[_Intent]) -> list[_Intent]:
    """Many assignments at once (an import, a territory change) make one notification."""
    assigned: dict[tuple[int, str, str], list[_Intent]] = defaultdict(list)
    others = []
    for i in intents:
        if i.kind == Notification.Kind.FOLLOWED_CHANGED:
            others.append(i)
        else:
            assigned[(i.user_id, i.kind, i.object_type)].append(i)
    for group in assigned.values():
        if len(group) <= DIGEST_OVER:
            others += group
            continue
        last = group[-1]
        others.append(_Intent(last.user_id, last.kind, last.object_type, None, last.action, [],
                              last.actor_id, last.source, last.at, {}, count=len(group)))
    return others


def _merge(intents: list[_Intent]) -> dict[tuple[int, str, str, int | None], _Intent]:
    merged: dict[tuple[int, str, str, int | None], _Intent] = {}
    for i in intents:
        seen = merged.get(i.key)
        if seen is None:
            merged[i.key] = i
            continue
        seen.count += i.count
        seen.fields = _union(seen.fields, i.fields)
        seen.action, seen.actor_id, seen.source, seen.at = i.action, i.actor_id, i.source, i.at
        seen.changes = i.changes or seen.changes
    return merged


def _union(a: Sequence[str], b: Sequence[str]) -> list[str]:
    out = list(a)
    out += [x for x in b if x not in out]
    return out[:MAX_FIELDS]


def _store(merged: dict[tuple[int, str, str, int | None], _Intent]) -> int:
    """Update the unread notification of the same key, or create one."""
    if not merged:
        return 0
    titles = _titles({(i.object_type, i.object_id) for i in merged.values()
                      if i.object_id is not None})
    users = {i.user_id for i in merged.values()}
    ids: dict[tuple[str, str], set[int]] = defaultdict(set)
    digests: set[tuple[str, str]] = set()
    for i in merged.values():
        if i.object_id is None:
            digests.add((i.kind, i.object_type))
        else:
            ids[(i.kind, i.object_type)].add(i.object_id)
    condition = Q(pk__in=[])  # one term per kind of notification and record, not per record
    for (kind, object_type), object_ids in ids.items():
        condition |= Q(kind=kind, object_type=object_type, object_id__in=sorted(object_ids))
    for kind, object_type in digests:
        condition |= Q(kind=kind, object_type=object_type, object_id__isnull=True)
    existing = {(n.user_id, n.kind, n.object_type, n.object_id): n
                for n in Notification.objects.filter(condition, user_id__in=users,
                                                     read_at__isnull=True)}
    to_update, to_create = [], []
    for key, i in merged.items():
        title = (titles.get((i.object_type, i.object_id)) if i.object_id is not None else "") \
            or (_fallback_title(i.object_type, i.object_id, i.changes)
                if i.object_id is not None else "")
        n = existing.get(key)
        if n is None:
            to_create.append(Notification(
                user_id=i.user_id, kind=i.kind, object_type=i.object_type,
                object_id=i.object_id, title=title, action=i.action, fields=i.fields,
                count=i.count, actor_id=i.actor_id, source=i.source[:40], created_at=i.at))
            continue
        n.count += i.count
        n.fields = _union(n.fields or [], i.fields)
        n.title = title or n.title
        n.action, n.actor_id, n.source, n.created_at = (i.action, i.actor_id, i.source[:40],
                                                        i.at)
        to_update.append(n)
    Notification.objects.bulk_create(to_create)
    Notification.objects.bulk_update(to_update, ["count", "fields", "title", "action",
                                                 "actor_id", "source", "created_at"])
    return len(to_create) + len(to_update)


def _notify(rows: Sequence[tuple[Any, ...]]) -> int:
    events = _parse(rows)
    if not events:
        return 0
    intents = _digest(_keep_visible(_intents(events)))
    written = _store(_merge(intents))
    gone: dict[str, set[int]] = defaultdict(set)
    for e in events:
        if e.action == "deleted":
            gone[e.object_type].add(e.object_id)
    for object_type, ids in gone.items():
        Follow.objects.filter(object_type=object_type, object_id__in=ids).delete()
    return written


def notifications_process(*, max_events: int = BATCH * 2, batch: int = BATCH
                          ) -> dict[str, int]:
    """Read the outbox after the cursor, at most ``max_events``, and write notifications.

    Each batch and the cursor move commit together; the cursor is claimed with a filtered
    ``update()``, so two processes never handle the same events twice.
    """
    done = {"events": 0, "notifications": 0}
    cursor, _created = FeedCursor.objects.get_or_create(name=CURSOR_NAME)
    attempts = 0
    while done["events"] < max_events and attempts < 100:
        attempts += 1
        start = cursor.last_event_id
        rows = list(OutboxEvent.objects.filter(id__gt=start).order_by("id").values_list(
            "id", "topic", "object_type", "object_id", "payload", "created_at")
            [:min(batch, max_events - done["events"])])
        if not rows:
            break
        last = rows[-1][0]
        with transaction.atomic():
            claimed = FeedCursor.objects.filter(pk=cursor.pk, last_event_id=start).update(
                last_event_id=last, updated_at=timezone.now())
            written = _notify(rows) if claimed == 1 else 0
        if claimed != 1:  # another process handled these events meanwhile
            cursor.refresh_from_db()
            continue
        cursor.last_event_id = last
        done["events"] += len(rows)
        done["notifications"] += written
    return done


def notifications_catch_up(*, limit: int = BATCH) -> dict[str, int]:
    """What a page asks before showing notifications: the last few events, if that is all.

    When the outbox is far ahead (an import in flight), the page does not pay for it: the
    worker's periodic job catches up, and the page shows what is already there.
    """
    cursor = FeedCursor.objects.filter(name=CURSOR_NAME).values_list(
        "last_event_id", flat=True).first() or 0
    # more than ``limit`` events waiting (counted, not guessed from ids: sequences have gaps)
    if OutboxEvent.objects.filter(id__gt=cursor).order_by("id")[limit:limit + 1].exists():
        return {"events": 0, "notifications": 0, "skipped": 1}
    return notifications_process(max_events=limit)


def notifications_due(*, budget_seconds: float = 10.0) -> dict[str, int]:
    """The worker's periodic job: catch up with the outbox, a few seconds at most per call."""
    started = time.monotonic()
    total = {"events": 0, "notifications": 0}
    while time.monotonic() - started < budget_seconds:
        done = notifications_process(max_events=BATCH * 10)
        total["events"] += done["events"]
        total["notifications"] += done["notifications"]
        if done["events"] < BATCH * 10:
            break
    return total if total["events"] else {}

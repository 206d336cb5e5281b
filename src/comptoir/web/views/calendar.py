"""The calendar (issue 16, part 3) and the private iCalendar feed (part 4, read-only).

Week (default), month and day views of the activities planned at a moment — meetings and
calls at their start, tasks at their due date — of one person ("me" or a colleague) or of
"my team", always through the visibility policy: choosing someone shows only what the viewer
may see of their agenda. One query per page, bounded to the visible range and served by the
``(owner, start_at)`` / ``(owner, due_at)`` indexes.

Rescheduling (drag and drop, or the "Move" form of each item, which is the keyboard way)
posts to :func:`calendar_move`, which goes through ``activity_update`` with the version the
page was drawn with: the same rules, audit and reminder move as the edit form, and a refusal
(not allowed, changed meanwhile, invalid) answers 4xx with the reason.

The feed's URL carries its own secret (calendar apps cannot sign in): see
``activities.calendar`` for the tokens and ``activities.ical`` for the format's choices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from comptoir.access import policy
from comptoir.access.models import User
from comptoir.activities import calendar as cal
from comptoir.activities.ical import activity_ics, feed_ics
from comptoir.activities.models import Activity
from comptoir.activities.services import activity_update, is_all_day
from comptoir.core.errors import DomainError, StaleRecord
from comptoir.web.objects import detail_url
from comptoir.web.views.board import initials, team_member_ids

VIEWS = ("week", "month", "day")
DAY_HOURS = (8, 19)  # the hours always drawn in week and day views (more if items need them)


@dataclass
class Filters:
    view: str
    day: dt.date
    owner_raw: str
    owner_ids: frozenset[int]

    def query(self, **changes: Any) -> str:
        values = {"view": self.view, "date": self.day.isoformat(), "owner": self.owner_raw}
        values.update(changes)
        if values["view"] == "week":
            values.pop("view")
        if values["owner"] == "me":
            values.pop("owner")
        return urlencode(values)

    def url(self, **changes: Any) -> str:
        query = self.query(**changes)
        return reverse("web:calendar") + (f"?{query}" if query else "")


@dataclass
class Item:
    activity: Activity
    start: dt.datetime  # local
    end: dt.datetime  # local
    all_day: bool
    url: str
    can_move: bool
    owner_initials: str = ""


@dataclass
class Day:
    date: dt.date
    today: bool
    in_month: bool = True
    items: list[Item] = field(default_factory=list)

    @property
    def all_day(self) -> list[Item]:
        return [i for i in self.items if i.all_day]

    def at_hour(self, hour: int) -> list[Item]:
        return [i for i in self.items if not i.all_day and i.start.hour == hour]


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def person_choices(user: Any) -> list[User]:
    """The colleagues whose calendar the viewer may open: everyone for those who see all,
    else their team and the people below them (the policy still filters each item)."""
    qs = User.objects.filter(is_active=True).exclude(pk=user.pk)
    if not policy.sees_all(user):
        qs = qs.filter(pk__in=team_member_ids(user))
    return list(qs.order_by("first_name", "last_name", "username"))


def parse_filters(params: QueryDict, user: Any) -> Filters:
    view = params.get("view", "week")
    view = view if view in VIEWS else "week"
    try:
        day = dt.date.fromisoformat(params.get("date", "")[:10])
    except ValueError:
        day = timezone.localdate()
    raw = params.get("owner", "me").strip() or "me"
    if raw == "team":
        ids = team_member_ids(user)
    elif raw != "me" and _int(raw) is not None:
        ids = frozenset({_int(raw) or 0})
    else:
        raw, ids = "me", frozenset({user.pk})
    return Filters(view=view, day=day, owner_raw=raw, owner_ids=ids)


def visible_range(filters: Filters) -> tuple[dt.date, dt.date]:
    """The first day shown and the day after the last."""
    day = filters.day
    if filters.view == "day":
        return day, day + dt.timedelta(days=1)
    if filters.view == "month":
        first = day.replace(day=1)
        start = first - dt.timedelta(days=first.weekday())
        following = (first + dt.timedelta(days=32)).replace(day=1)
        weeks = -(-((following - start).days) // 7)
        return start, start + dt.timedelta(days=7 * weeks)
    start = day - dt.timedelta(days=day.weekday())
    return start, start + dt.timedelta(days=7)


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def build(user: Any, filters: Filters) -> dict[str, Any]:
    """Everything the calendar part of the page draws."""
    first, after = visible_range(filters)
    today = timezone.localdate()
    days = [Day(date=first + dt.timedelta(days=n), today=first + dt.timedelta(days=n) == today)
            for n in range((after - first).days)]
    for d in days:
        d.in_month = filters.view != "month" or d.date.month == filters.day.month
    by_date = {d.date: d for d in days}
    rows = list(cal.calendar_activities(user, filters.owner_ids, _aware(first), _aware(after)))
    movable = set(policy.restrict(Activity.objects.filter(pk__in=[a.pk for a in rows]), user,
                                  "change").values_list("pk", flat=True)) if rows else set()
    team = filters.owner_raw != "me"
    hours = set(range(DAY_HOURS[0], DAY_HOURS[1] + 1))
    for activity in rows:
        start, end = cal.starts(activity), cal.ends(activity)
        if start is None or end is None:  # the range query asked for a time
            continue
        local = timezone.localtime(start)
        item = Item(activity=activity, start=local, end=timezone.localtime(end),
                    all_day=activity.start_at is None and is_all_day(start),
                    url=detail_url(activity), can_move=activity.pk in movable,
                    owner_initials=initials(activity.owner) if team else "")
        if not item.all_day:
            hours.add(local.hour)
        if local.date() in by_date:
            by_date[local.date()].items.append(item)
    grid_days = days if filters.view != "month" else []
    hour_rows = [{"hour": h, "label": f"{h:02d}:00", "time": f"{h:02d}:00",
                  "cells": [(d, d.at_hour(h)) for d in grid_days]} for h in sorted(hours)]
    weeks = [days[i:i + 7] for i in range(0, len(days), 7)] if filters.view == "month" else []
    step = {"day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}.get(filters.view)
    if step is None:  # a month: the same day of the previous/next month, clamped
        first_of = filters.day.replace(day=1)
        previous = (first_of - dt.timedelta(days=1)).replace(day=1)
        following = (first_of + dt.timedelta(days=32)).replace(day=1)
    else:
        previous, following = filters.day - step, filters.day + step
    return {
        "filters": filters, "days": days, "weeks": weeks, "hour_rows": hour_rows,
        "agenda": [d for d in days if d.items or (filters.view != "month" and d.in_month)],
        "count": len(rows), "first": first, "last": after - dt.timedelta(days=1),
        "prev_url": filters.url(date=previous.isoformat()),
        "next_url": filters.url(date=following.isoformat()),
        "today_url": filters.url(date=today.isoformat()),
        "view_urls": [(v, label, filters.url(view=v)) for v, label in
                      (("day", _("Day")), ("week", _("Week")), ("month", _("Month")))],
        "calendar_url": filters.url(),
        "truncated": len(rows) >= cal.MAX_ITEMS,
    }


def _context(request: HttpRequest, filters: Filters, **extra: Any) -> dict[str, Any]:
    user = request.user
    people = person_choices(user)
    chosen = next((p for p in people if str(p.pk) == filters.owner_raw), None)
    token = cal.active_feed_token(user)
    return {"title": _("Calendar"), "people": people, "chosen": chosen,
            "feed_token": token, **build(user, filters), **extra}


@login_required
@require_GET
def calendar_page(request: HttpRequest) -> HttpResponse:
    """The calendar; an htmx request aimed at ``#calendar`` gets that part alone."""
    filters = parse_filters(request.GET, request.user)
    context = _context(request, filters)
    partial = bool(request.htmx) and request.htmx.target == "calendar"  # type: ignore[attr-defined]
    return render(request, "web/calendar/_calendar.html" if partial
                  else "web/calendar/calendar.html", context)


def _error_text(exc: DomainError) -> str:
    details = [m for msgs in exc.fields.values() for m in msgs if m != exc.message]
    return " ".join([exc.message, *details])


def _moved(request: HttpRequest, filters: Filters, message: str, *, ok: bool,
           status: int = 200) -> HttpResponse:
    """htmx: the calendar redrawn and the message; else back to the calendar (success) or
    the page with the reason (refusal, with its 4xx status)."""
    if request.htmx:  # type: ignore[attr-defined]
        context = _context(request, filters, message=message, ok=ok)
        return render(request, "web/calendar/moved.html", context, status=status)
    if ok:
        messages.success(request, message)
        return HttpResponseRedirect(filters.url())
    messages.error(request, message)
    return render(request, "web/calendar/calendar.html", _context(request, filters),
                  status=status)


@login_required
@require_POST
def calendar_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Put an activity on another day (and time), keeping its duration; through the
    activities service, refused if the page's version of it is stale."""
    user = request.user
    filters = parse_filters(request.POST, user)
    activity = policy.restrict(Activity.objects.all(), user).filter(pk=pk).first()
    if activity is None or cal.starts(activity) is None:
        if not request.htmx:  # type: ignore[attr-defined]
            raise Http404
        return _moved(request, filters, _("This activity does not exist or you may not see "
                                          "it."), ok=False, status=404)
    name = activity.subject
    try:
        day = dt.date.fromisoformat(request.POST.get("move_date", "").strip())
    except ValueError:
        return _moved(request, filters, _("“%(name)s” was not moved: give a valid date.")
                      % {"name": name}, ok=False, status=422)
    raw_time = request.POST.get("move_time", "").strip()
    at: dt.time | None = None
    if raw_time:
        try:
            at = dt.time.fromisoformat(raw_time[:5])
        except ValueError:
            return _moved(request, filters, _("“%(name)s” was not moved: give a valid time.")
                          % {"name": name}, ok=False, status=422)
    version = _int(request.POST.get("version"))
    if version is not None:
        activity._expected_version = version  # type: ignore[attr-defined]
    try:
        activity_update(activity=activity, user=user, data=cal.moved_times(activity, day, at))
    except StaleRecord as exc:
        text = _("“%(name)s” was not moved: %(who)s changed it since this page was drawn. "
                 "The calendar now shows it as it is.") % {
            "name": name, "who": exc.changed_by or _("someone else")}
        return _moved(request, filters, text, ok=False, status=exc.status)
    except DomainError as exc:
        return _moved(request, filters, _("“%(name)s” was not moved: %(reason)s")
                      % {"name": name, "reason": _error_text(exc)}, ok=False,
                      status=exc.status)
    when = timezone.localtime(cal.starts(activity))  # type: ignore[arg-type]
    moved_to = (date_format(when, "DATE_FORMAT") if activity.start_at is None
                and is_all_day(when) else date_format(when, "DATETIME_FORMAT"))
    return _moved(request, filters, _("“%(name)s” moved to %(when)s.")
                  % {"name": name, "when": moved_to}, ok=True)


# --- iCalendar ------------------------------------------------------------------------------

def _ics_response(body: bytes, filename: str, *, attachment: bool) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_GET
def calendar_ics(request: HttpRequest, pk: int) -> HttpResponse:
    """"Add to my calendar": one activity as an .ics file."""
    activity = (policy.restrict(Activity.objects.select_related(
        "account", "contact", "opportunity", "case"), request.user).filter(pk=pk).first())
    if activity is None or cal.starts(activity) is None:
        raise Http404
    body = activity_ics(activity, url=request.build_absolute_uri(detail_url(activity)))
    return _ics_response(body, f"activity-{activity.pk}.ics", attachment=True)


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private feed: no sign-in, the URL's secret says whose; 404 once revoked."""
    user = cal.feed_user(token)
    if user is None:
        raise Http404

    def url_for(activity: Activity) -> str:
        return request.build_absolute_uri(detail_url(activity))

    # a calendar app sends no useful language: the feed speaks its owner's
    with translation.override(getattr(user, "language", "") or settings.LANGUAGE_CODE):
        name = _("Comptoir — %(name)s") % {"name": user}
        body = feed_ics(cal.feed_activities(user), name=name, url_for=url_for)
    return _ics_response(body, "comptoir.ics", attachment=False)


def _feed_url(request: HttpRequest, raw: str) -> str:
    return request.build_absolute_uri(reverse("web:calendar_feed", args=[raw]))


@login_required
@require_POST
def feed_create(request: HttpRequest) -> HttpResponse:
    """A new feed link, shown once on the page that answers (only its hash is kept)."""
    _token, raw = cal.issue_feed_token(request.user)
    filters = parse_filters(request.POST, request.user)
    return render(request, "web/calendar/calendar.html",
                  _context(request, filters, new_feed_url=_feed_url(request, raw)))


@login_required
@require_POST
def feed_revoke(request: HttpRequest) -> HttpResponse:
    filters = parse_filters(request.POST, request.user)
    if cal.revoke_feed_tokens(request.user):
        messages.success(request, _("The feed link was revoked: calendar apps using it no "
                                    "longer receive your activities."))
    return HttpResponseRedirect(filters.url() + "#calendar-feed")


urlpatterns = [
    path("calendar/", calendar_page, name="calendar"),
    path("calendar/activities/<int:pk>/move/", calendar_move, name="calendar_move"),
    path("calendar/activities/<int:pk>.ics", calendar_ics, name="calendar_ics"),
    path("calendar/feed/<str:token>.ics", calendar_feed, name="calendar_feed"),
    path("calendar/feed/new/", feed_create, name="calendar_feed_create"),
    path("calendar/feed/revoke/", feed_revoke, name="calendar_feed_revoke"),
]

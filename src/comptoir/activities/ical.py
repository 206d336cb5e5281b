"""iCalendar (RFC 5545) for activities: the private feed and the single-activity download.

Choices, for what Google Calendar, Apple Calendar and Outlook actually read:

* **Tasks are VEVENTs, not VTODOs.** None of the three shows a VTODO from a subscribed feed
  (Google and Outlook drop them; Apple only reads them over CalDAV, into Reminders), so a task
  would vanish. A task due on a day without a time is an all-day event (``DTSTART;VALUE=DATE``,
  ``DTEND`` the next day); a task with a time a short event at that time. Tasks are
  ``TRANSP:TRANSPARENT`` (they do not make the person busy), and a done one is marked with
  "✓" in its summary — a VEVENT has no "completed" status.
* **Times are in UTC** (``…Z``). Every client converts them to its own zone, and no
  ``VTIMEZONE`` block (which Outlook is picky about) is needed. All-day dates are the local
  date (``TIME_ZONE``, Europe/Paris), the day people see in the CRM.
* **UID** is stable per activity (``<id>.activity@<domain>``), ``SEQUENCE`` its version and
  ``LAST-MODIFIED``/``DTSTAMP`` its last change: a client updates the event in place after a
  reschedule instead of adding a copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress

from .calendar import ends, starts
from .models import Activity
from .services import is_all_day

PRODID = "-//Comptoir//CRM calendar//EN"


def uid_domain() -> str:
    """The install's name in UIDs: ``COMPTOIR_CALENDAR_UID_DOMAIN`` if set, else the first
    real host name it serves (so UIDs stay the same as long as the site's name does)."""
    configured = getattr(settings, "COMPTOIR_CALENDAR_UID_DOMAIN", "")
    if configured:
        return str(configured)
    for host in getattr(settings, "ALLOWED_HOSTS", []):
        name = str(host).lstrip(".")
        if name and name != "*" and name not in ("127.0.0.1", "localhost", "testserver"):
            return name
    return "comptoir.localhost"


def activity_uid(activity: Activity) -> str:
    return f"{activity.pk}.activity@{uid_domain()}"


def _summary(activity: Activity) -> str:
    text = activity.subject
    if activity.kind == Activity.Kind.CALL:
        text = _("Call: %(subject)s") % {"subject": text}
    if activity.done:
        text = "✓ " + text
    return text


def _description(activity: Activity) -> str:
    lines = []
    for label, obj in ((_("Account"), activity.account), (_("Contact"), activity.contact),
                       (_("Deal"), activity.opportunity), (_("Case"), activity.case)):
        if obj is not None:
            lines.append(f"{label}: {obj}")
    if activity.body:
        lines.extend(["", activity.body])
    return "\n".join(lines).strip()


def activity_event(activity: Activity, *, url: str = "") -> Event:
    """One activity as a VEVENT (see the module's notes for the choices)."""
    start, end = starts(activity), ends(activity)
    if start is None or end is None:
        raise ValueError("an activity without a time has no place in a calendar")
    event = Event()
    event.add("uid", activity_uid(activity))
    event.add("summary", _summary(activity))
    changed = (activity.updated_at or timezone.now()).astimezone(dt.UTC)
    event.add("dtstamp", changed)
    event.add("last-modified", changed)
    event.add("sequence", int(getattr(activity, "version", 0) or 0))
    task = activity.kind == Activity.Kind.TASK
    if task and activity.start_at is None and is_all_day(start):
        day = timezone.localtime(start).date()
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
    else:
        event.add("dtstart", start.astimezone(dt.UTC))
        event.add("dtend", end.astimezone(dt.UTC))
    if task:
        event.add("transp", "TRANSPARENT")
    event.add("status", "CONFIRMED")
    event.add("categories", [str(activity.get_kind_display())])
    description = _description(activity)
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    return event


def _calendar(name: str = "", method: str = "") -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    return cal


def feed_ics(activities: Iterable[Activity], *, name: str, url_for: Any = None) -> bytes:
    """A subscribed calendar: the activities, refreshed hourly by clients that honour it."""
    cal = _calendar(name, "PUBLISH")
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for activity in activities:
        if starts(activity) is None:
            continue
        cal.add_component(activity_event(activity, url=url_for(activity) if url_for else ""))
    return cal.to_ical()


PARTSTAT = {"needs-action": "NEEDS-ACTION", "accepted": "ACCEPTED", "declined": "DECLINED",
            "tentative": "TENTATIVE"}


def add_attendees(event: Event, activity: Activity) -> None:
    """ORGANIZER (the owner) and one ATTENDEE per invited user or contact with an address:
    what makes a client treat the file as an invitation it can answer."""
    owner = activity.owner
    if owner is not None and owner.email:
        event.add("organizer", vCalAddress(f"mailto:{owner.email}"),
                  parameters={"CN": owner.get_full_name() or owner.get_username()})
    for attendee in activity.attendees.select_related("user", "contact").order_by("id"):
        if not attendee.email:
            continue
        event.add("attendee", vCalAddress(f"mailto:{attendee.email}"), parameters={
            "CN": attendee.name, "ROLE": "REQ-PARTICIPANT", "RSVP": "TRUE",
            "PARTSTAT": PARTSTAT.get(attendee.status, "NEEDS-ACTION"),
            "CUTYPE": "INDIVIDUAL"})


def activity_ics(activity: Activity, *, url: str = "", method: str = "PUBLISH") -> bytes:
    """One activity as an .ics file: "Add to my calendar" (``PUBLISH``), or the invitation
    sent to its attendees (``method="REQUEST"``: with ORGANIZER and ATTENDEE lines)."""
    cal = _calendar(method=method)
    event = activity_event(activity, url=url)
    if method == "REQUEST":
        add_attendees(event, activity)
    cal.add_component(event)
    return cal.to_ical()

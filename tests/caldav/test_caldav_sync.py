"""Two-way agenda sync against a real Radicale (issue 16, part 4) and meeting attendees
(part 3): push, pull, events created there, incremental sync, conflicts, errors, access."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from icalendar import Calendar

from comptoir.activities.ical import activity_ics, activity_uid
from comptoir.activities.models import Activity
from comptoir.activities.services import activity_update, attendees_from_emails, attendees_set
from comptoir.caldav.models import ActivityCalendarLink
from comptoir.caldav.services import CalendarProblem, sync_account
from comptoir.core.errors import ValidationFailed
from comptoir.core.models import AuditEntry
from comptoir.core.services import json_value
from comptoir.testing import factories

pytestmark = pytest.mark.django_db(transaction=False)


def _at(days: int, hour: int) -> dt.datetime:
    day = (timezone.localtime() + dt.timedelta(days=days)).date()
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


@pytest.fixture
def acme(owner: Any) -> Any:
    return factories.account(by=owner, legal_name="Acme Lyon")


@pytest.fixture
def camille(owner: Any, acme: Any) -> Any:
    return factories.contact(by=owner, account=acme, first_name="Camille", last_name="Durand",
                             email="camille@acme.example")


def _meeting(owner: Any, contact: Any, **data: Any) -> Activity:
    data.setdefault("subject", "Demo at Acme")
    return factories.activity(by=owner, kind="meeting", contact_id=contact.pk,
                              start_at=_at(3, 10), end_at=_at(3, 11), **data)


def _events(radicale: Any) -> dict[str, Any]:
    cal = radicale.client("alice").calendar(url=radicale.calendar_url("alice"))
    out = {}
    for obj in cal.events():
        for ev in Calendar.from_ical(obj.data).walk("VEVENT"):
            out[str(ev["uid"])] = (obj, ev)
    return out


def _edit_there(obj: Any, **props: Any) -> None:
    """Change an event in the agenda as a calendar app would (a new LAST-MODIFIED)."""
    cal = Calendar.from_ical(obj.data)
    for ev in cal.walk("VEVENT"):
        for name, value in props.items():
            ev.pop(name, None)
            ev.add(name, value)
        ev.pop("last-modified", None)
        ev.add("last-modified", timezone.now().astimezone(dt.UTC) + dt.timedelta(seconds=5))
    obj.data = cal.to_ical().decode()
    obj.save()


def test_a_crm_meeting_appears_in_the_agenda_and_an_edit_there_comes_back(
        radicale: Any, agenda: Any, owner: Any, camille: Any) -> None:
    meeting = _meeting(owner, camille)
    result = sync_account(agenda)
    assert result.pushed == 1
    events = _events(radicale)
    uid = activity_uid(meeting)
    assert uid in events
    obj, ev = events[uid]
    assert str(ev["summary"]) == "Demo at Acme"
    assert ev.decoded("dtstart") == meeting.start_at

    _edit_there(obj, dtstart=_at(4, 14).astimezone(dt.UTC), dtend=_at(4, 15).astimezone(dt.UTC),
                summary="Demo at Acme (moved)")
    result = sync_account(agenda)
    assert result.updated == 1
    assert result.pushed == 0
    meeting.refresh_from_db()
    assert meeting.start_at == _at(4, 14)
    assert meeting.end_at == _at(4, 15)
    assert meeting.subject == "Demo at Acme (moved)"
    assert AuditEntry.objects.filter(object_id=meeting.pk, source="caldav",
                                     action="update").exists()


def test_an_event_created_there_with_a_contact_attending_becomes_a_crm_meeting(
        radicale: Any, agenda: Any, owner: Any, camille: Any) -> None:
    cal = radicale.client("alice").calendar(url=radicale.calendar_url("alice"))
    start = _at(5, 9).astimezone(dt.UTC)
    cal.add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:created-there-1\r\nDTSTAMP:20261201T100000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + dt.timedelta(hours=1):%Y%m%dT%H%M%SZ}"
        "\r\nSUMMARY:Lunch with Camille\r\n"
        "ATTENDEE;CN=Camille:mailto:Camille@acme.example\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n")
    cal.add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:private-1\r\nDTSTAMP:20261201T100000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nSUMMARY:Dentist\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n")
    result = sync_account(agenda)
    assert result.created == 1
    meeting = Activity.objects.get(subject="Lunch with Camille")
    assert meeting.kind == "meeting"
    assert meeting.owner_id == owner.pk
    assert meeting.contact_id == camille.pk
    assert meeting.account_id == camille.account_id
    assert meeting.start_at == _at(5, 9)
    assert [a.contact_id for a in meeting.attendees.all()] == [camille.pk]
    assert not Activity.objects.filter(subject="Dentist").exists()


def test_a_second_sync_without_change_pushes_and_pulls_nothing(
        radicale: Any, agenda: Any, owner: Any, camille: Any) -> None:
    meeting = _meeting(owner, camille)
    factories.activity(by=owner, kind="call", subject="Call Camille", contact_id=camille.pk,
                       start_at=_at(2, 15))
    first = sync_account(agenda)
    assert first.pushed == 2
    etags = dict(ActivityCalendarLink.objects.values_list("href", "etag"))
    token = agenda.sync_token
    second = sync_account(agenda)
    assert (second.pushed, second.pulled, second.updated, second.created) == (0, 0, 0, 0)
    assert dict(ActivityCalendarLink.objects.values_list("href", "etag")) == etags
    agenda.refresh_from_db()
    assert agenda.sync_token == token
    assert agenda.last_error == ""
    # one change in the CRM: exactly one PUT
    activity_update(activity=meeting, user=owner, data={"subject": "Demo, new room"})
    third = sync_account(agenda)
    assert (third.pushed, third.pulled) == (1, 0)


def test_a_conflict_is_won_by_the_last_change_and_the_loser_kept_in_history(
        radicale: Any, agenda: Any, owner: Any, camille: Any) -> None:
    meeting = _meeting(owner, camille)
    sync_account(agenda)
    obj, _ev = _events(radicale)[activity_uid(meeting)]
    # changed in the CRM first, then in the agenda (later): the agenda wins
    activity_update(activity=meeting, user=owner, data={"start_at": _at(3, 12),
                                                        "end_at": _at(3, 13)})
    _edit_there(obj, dtstart=_at(3, 16).astimezone(dt.UTC), dtend=_at(3, 17).astimezone(dt.UTC))
    result = sync_account(agenda)
    assert result.conflicts == 1
    meeting.refresh_from_db()
    assert meeting.start_at == _at(3, 16)
    lost = AuditEntry.objects.get(object_id=meeting.pk, source="caldav:conflict")
    assert lost.changes["start_at"] == [json_value(_at(3, 12).astimezone(dt.UTC)),
                                       json_value(_at(3, 16).astimezone(dt.UTC))]

    # changed in the agenda first, then in the CRM (later): the CRM wins and is pushed back
    obj, _ev = _events(radicale)[activity_uid(meeting)]
    cal = Calendar.from_ical(obj.data)
    for ev in cal.walk("VEVENT"):
        ev.pop("summary")
        ev.add("summary", "Agenda title")
        ev.pop("last-modified", None)
        ev.add("last-modified", timezone.now().astimezone(dt.UTC) - dt.timedelta(hours=1))
    obj.data = cal.to_ical().decode()
    obj.save()
    activity_update(activity=meeting, user=owner, data={"subject": "CRM title"})
    result = sync_account(agenda)
    assert result.conflicts == 1
    assert result.pushed == 1
    meeting.refresh_from_db()
    assert meeting.subject == "CRM title"
    assert str(_events(radicale)[activity_uid(meeting)][1]["summary"]) == "CRM title"
    losers = AuditEntry.objects.filter(object_id=meeting.pk, source="caldav:conflict")
    assert any(e.changes.get("subject") == ["Agenda title", "CRM title"] for e in losers)


def test_deleted_in_the_agenda_keeps_the_activity_and_stops_pushing_it(
        radicale: Any, agenda: Any, owner: Any, camille: Any) -> None:
    meeting = _meeting(owner, camille)
    sync_account(agenda)
    obj, _ev = _events(radicale)[activity_uid(meeting)]
    obj.delete()
    result = sync_account(agenda)
    assert result.removed == 1
    assert Activity.objects.filter(pk=meeting.pk).exists()
    assert AuditEntry.objects.filter(object_id=meeting.pk, source="caldav",
                                     changes__has_key="agenda").exists()
    activity_update(activity=meeting, user=owner, data={"subject": "Still planned"})
    assert sync_account(agenda).pushed == 0
    assert activity_uid(meeting) not in _events(radicale)


def test_a_bad_password_is_a_clear_error_on_the_account(radicale: Any, agenda: Any) -> None:
    agenda.password = "wrong"
    agenda.save()
    with pytest.raises(CalendarProblem) as caught:
        sync_account(agenda)
    assert caught.value.problem == "credentials"
    agenda.refresh_from_db()
    assert "refused the user name or password" in agenda.last_error


def test_a_missing_calendar_and_an_unreachable_server_are_said(
        radicale: Any, agenda: Any) -> None:
    from comptoir.caldav.services import check_connection
    from comptoir.testing.radicale import free_port

    agenda.calendar = "nope"
    with pytest.raises(CalendarProblem) as caught:
        check_connection(agenda)
    assert caught.value.problem == "calendar"
    agenda.calendar = "work"
    agenda.server_url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(CalendarProblem) as caught:
        check_connection(agenda)
    assert caught.value.problem == "unreachable"


def test_attendees_and_the_request_invitation(owner: Any, teammate: Any, camille: Any) -> None:
    meeting = _meeting(owner, camille)
    users, contacts = attendees_from_emails(owner, [teammate.email, "CAMILLE@acme.example"])
    attendees_set(activity=meeting, user=owner, users=users, contacts=contacts)
    assert {a.email for a in meeting.attendees.all()} == {teammate.email.lower(),
                                                          "camille@acme.example"}
    meeting.refresh_from_db()
    cal = Calendar.from_ical(activity_ics(meeting, method="REQUEST"))
    assert str(cal["method"]) == "REQUEST"
    event = next(iter(cal.walk("VEVENT")))
    assert str(event["organizer"]) == f"mailto:{owner.email}"
    attendees = event["attendee"] if isinstance(event["attendee"], list) else [event["attendee"]]
    assert {str(a) for a in attendees} == {f"mailto:{teammate.email.lower()}",
                                           "mailto:camille@acme.example"}
    assert all(a.params["PARTSTAT"] == "NEEDS-ACTION" for a in attendees)
    assert AuditEntry.objects.filter(object_id=meeting.pk, changes__has_key="attendees").exists()
    # the published file has no invitation lines
    assert b"ATTENDEE" not in activity_ics(meeting)
    # the same list again changes nothing; an answer is kept
    first = meeting.attendees.get(contact=camille)
    first.status = "accepted"
    first.save()
    attendees_set(activity=meeting, user=owner, users=users, contacts=contacts)
    assert meeting.attendees.get(contact=camille).status == "accepted"


def test_a_rep_cannot_invite_a_contact_they_cannot_see(
        owner: Any, outsider: Any, camille: Any) -> None:
    theirs = factories.activity(by=outsider, kind="meeting", subject="Theirs",
                                start_at=_at(2, 9))
    with pytest.raises(ValidationFailed) as caught:
        attendees_set(activity=theirs, user=outsider, contacts=[camille.pk])
    assert "contacts" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        attendees_from_emails(outsider, ["camille@acme.example"])
    assert "attendees" in caught.value.fields
    assert not theirs.attendees.exists()


def test_an_activity_deleted_in_the_crm_is_deleted_in_the_agenda(
        radicale: Any, agenda: Any, owner: Any, camille: Any) -> None:
    from comptoir.activities.services import activity_delete

    meeting = _meeting(owner, camille)
    uid = activity_uid(meeting)
    sync_account(agenda)
    assert uid in _events(radicale)
    activity_delete(activity=meeting, user=owner)
    result = sync_account(agenda)
    assert result.deleted_there == 1
    assert uid not in _events(radicale)
    assert not ActivityCalendarLink.objects.exists()

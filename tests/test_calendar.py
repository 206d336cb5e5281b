"""The calendar's reads, reschedule rules and the private iCalendar feed (issue 16, parts 3-4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from comptoir.activities import calendar as cal
from comptoir.activities.ical import activity_ics, activity_uid
from comptoir.activities.models import Activity, CalendarFeedToken
from comptoir.activities.services import activity_update
from comptoir.testing import factories

pytestmark = pytest.mark.django_db


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def monday() -> dt.date:
    """A Monday two weeks ahead: reminders are still to come, nothing is "past"."""
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=14)


def week(monday: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return local(monday, 0), local(monday + dt.timedelta(days=7), 0)


def meeting(by: Any, day: dt.date, hour: int, **extra: Any) -> Activity:
    return factories.activity(by=by, kind="meeting", subject=extra.pop("subject", "Meeting"),
                              start_at=local(day, hour), end_at=local(day, hour + 1), **extra)


# --- Range queries ----------------------------------------------------------------------------

def test_range_holds_meetings_by_start_and_tasks_by_due_date(world: Any, monday: dt.date
                                                              ) -> None:
    owner = world.personas.owner
    inside = meeting(owner, monday + dt.timedelta(days=2), 10, subject="Inside")
    task = factories.activity(by=owner, kind="task", subject="Task due",
                              due_at=local(monday + dt.timedelta(days=6), 0))
    meeting(owner, monday - dt.timedelta(days=1), 22, subject="Sunday before")
    meeting(owner, monday + dt.timedelta(days=7), 0, subject="Monday after")
    factories.activity(by=owner, kind="note", subject="A note", done=True,
                       start_at=local(monday, 9))
    factories.activity(by=owner, kind="email", subject="An e-mail", done=True,
                       start_at=local(monday, 9))
    lo, hi = week(monday)
    got = list(cal.calendar_activities(owner, [owner.pk], lo, hi))
    assert [a.subject for a in got] == ["Inside", "Task due"]
    assert {a.pk for a in got} == {inside.pk, task.pk}


def test_range_query_uses_the_owner_time_indexes(world: Any, monday: dt.date) -> None:
    from django.db import connection

    owner = world.personas.owner
    lo, hi = week(monday)
    sql, params = (cal.calendar_activities(owner, [owner.pk], lo, hi).query
                   .sql_with_params())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # a few test rows: forbid the plain scan
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    if connection.vendor == "postgresql":
        # on a few rows PostgreSQL picks whichever index on the owner it likes and filters;
        # what matters is that it never reads the whole table
        assert "on activities_activity" in plan
        assert "Seq Scan on activities_activity" not in plan
    else:  # SQLite's OR optimisation: both ranges, each from its index
        assert "activity_owner_start" in plan
        assert "activity_owner_due" in plan


# --- Visibility: only what the policy allows, whoever is asked for ----------------------------

@pytest.fixture
def agendas(world: Any, monday: dt.date) -> dict[str, Activity]:
    p = world.personas
    day = monday + dt.timedelta(days=1)
    return {
        # on the owner's private account (no territory): the owner and their managers only
        "owner_private": meeting(p.owner, day, 9, subject="Owner private",
                                 account=world.mine.private_account),
        # on the owner's account in Rhône: the North team sees it through the territory
        "owner_rhone": meeting(p.owner, day, 11, subject="Owner Rhône",
                               account=world.mine.account),
        "teammate_own": meeting(p.teammate, day, 14, subject="Teammate alone"),
        "outsider_private": meeting(p.outsider, day, 15, subject="Outsider private",
                                    account=world.theirs.private_account),
    }


def _seen(user: Any, owners: list[Any] | None, monday: dt.date) -> set[str]:
    lo, hi = week(monday)
    ids = None if owners is None else [u.pk for u in owners]
    return {a.subject for a in cal.calendar_activities(user, ids, lo, hi)}


def test_rep_sees_their_own_and_only_what_the_policy_shows_of_others(
        world: Any, agendas: dict[str, Activity], monday: dt.date) -> None:
    p = world.personas
    assert _seen(p.owner, [p.owner], monday) == {"Owner private", "Owner Rhône"}
    # a teammate's calendar: only the teammate's items the rep may see (none here)
    assert _seen(p.owner, [p.teammate], monday) == set()
    # the teammate sees the owner's meeting on a Rhône account, never the private one
    assert _seen(p.teammate, [p.owner], monday) == {"Owner Rhône"}
    assert _seen(p.outsider, [p.owner, p.teammate], monday) == set()
    assert _seen(p.outsider, None, monday) == {"Outsider private"}


def test_manager_sees_the_team_and_admin_everyone(world: Any, agendas: dict[str, Activity],
                                                  monday: dt.date) -> None:
    p = world.personas
    everyone = [p.owner, p.teammate, p.outsider]
    # the manager is two levels above the owner; the teammate reports to nobody
    assert _seen(p.manager, everyone, monday) == {"Owner private", "Owner Rhône"}
    assert _seen(p.lead_rep, [p.owner], monday) == {"Owner private", "Owner Rhône"}
    assert _seen(p.admin, everyone, monday) == {a.subject for a in agendas.values()}
    assert _seen(p.marketing, everyone, monday) == set()


# --- Reschedule -----------------------------------------------------------------------------

def test_moving_keeps_the_duration_and_moves_the_reminder(world: Any, monday: dt.date) -> None:
    owner = world.personas.owner
    m = factories.activity(by=owner, kind="meeting", subject="Demo", start_at=local(monday, 10),
                           end_at=local(monday, 11, 30))
    assert m.remind_at == local(monday, 9, 45)
    target = monday + dt.timedelta(days=3)
    data = cal.moved_times(m, target, dt.time(14, 0))
    moved = activity_update(activity=m, user=owner, data=data)
    assert moved.start_at == local(target, 14)
    assert moved.end_at == local(target, 15, 30)
    assert moved.remind_at == local(target, 13, 45)
    # without a time, the time of day is kept
    moved = activity_update(activity=moved, user=owner,
                            data=cal.moved_times(moved, monday, None))
    assert moved.start_at == local(monday, 14)


def test_moving_a_task_moves_its_due_date_and_keeps_all_day(world: Any, monday: dt.date
                                                             ) -> None:
    owner = world.personas.owner
    task = factories.activity(by=owner, kind="task", subject="Send offer",
                              due_at=local(monday, 0))
    assert task.remind_at == local(monday, 9)
    target = monday + dt.timedelta(days=2)
    moved = activity_update(activity=task, user=owner, data=cal.moved_times(task, target, None))
    assert moved.due_at == local(target, 0)
    assert moved.start_at is None
    assert moved.remind_at == local(target, 9)


# --- Feed -------------------------------------------------------------------------------------

def _feed(client: Client, raw: str) -> Any:
    return client.get(f"/calendar/feed/{raw}.ics")


def _events(body: bytes) -> dict[str, Any]:
    parsed = Calendar.from_ical(body)
    return {str(e.get("summary")): e for e in parsed.walk("VEVENT")}


def test_feed_is_a_parseable_calendar_of_the_users_own_activities(
        world: Any, agendas: dict[str, Activity], monday: dt.date) -> None:
    p = world.personas
    task = factories.activity(by=p.owner, kind="task", subject="Call back",
                              due_at=local(monday + dt.timedelta(days=2), 0))
    timed = factories.activity(by=p.owner, kind="task", subject="Timed task",
                               due_at=local(monday + dt.timedelta(days=2), 16, 30))
    factories.activity(by=p.owner, kind="call", subject="Old call", done=True,
                       start_at=local(monday - dt.timedelta(days=21), 10))
    factories.activity(by=p.owner, kind="note", subject="Note", done=True)
    p.owner.language = "en"  # the feed speaks its owner's language
    p.owner.save(update_fields=["language"])
    _token, raw = cal.issue_feed_token(p.owner)
    response = _feed(Client(), raw)  # no sign-in
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = _events(response.content)
    # the world's own call of the owner (due in 30 days) is there too
    assert set(events) == {"Owner private", "Owner Rhône", "Call back", "Timed task",
                           "✓ Call: Old call", "Call: Olivia call"}
    m = events["Owner Rhône"]
    rhone = agendas["owner_rhone"]
    assert m.decoded("dtstart") == rhone.start_at
    assert m.decoded("dtend") == rhone.end_at
    assert m.decoded("dtstart").utcoffset() == dt.timedelta(0)  # written in UTC
    assert str(m.get("uid")) == activity_uid(rhone)
    assert m.decoded("last-modified") == rhone.updated_at.replace(microsecond=0)
    assert "Olivia Industries" in str(m.get("description"))
    assert str(m.get("url")).endswith(f"/activities/{rhone.pk}/")
    all_day = events["Call back"]
    due_day = monday + dt.timedelta(days=2)
    assert task.due_at == local(due_day, 0)
    assert all_day.decoded("dtstart") == due_day  # the local date, VALUE=DATE
    assert all_day.decoded("dtend") == due_day + dt.timedelta(days=1)
    assert str(all_day.get("transp")) == "TRANSPARENT"
    assert events["Timed task"].decoded("dtstart") == timed.due_at


def test_feed_uid_is_stable_and_sequence_follows_a_move(world: Any, monday: dt.date) -> None:
    owner = world.personas.owner
    m = meeting(owner, monday, 10, subject="Review")
    _token, raw = cal.issue_feed_token(owner)
    client = Client()
    before = _events(_feed(client, raw).content)["Review"]
    m = activity_update(activity=m, user=owner,
                        data=cal.moved_times(m, monday + dt.timedelta(days=1), None))
    after = _events(_feed(client, raw).content)["Review"]
    assert str(before.get("uid")) == str(after.get("uid")) == activity_uid(m)
    assert int(after.get("sequence")) > int(before.get("sequence"))
    assert after.decoded("dtstart") == local(monday + dt.timedelta(days=1), 10)


def test_feed_token_is_hashed_unguessable_and_revocable(world: Any, monday: dt.date) -> None:
    owner = world.personas.owner
    meeting(owner, monday, 10)
    token, raw = cal.issue_feed_token(owner)
    client = Client()
    assert _feed(client, raw).status_code == 200
    assert len(raw) >= 40
    assert raw.startswith(cal.FEED_PREFIX)
    assert not CalendarFeedToken.objects.filter(token_hash=raw).exists()
    assert token.token_hash == CalendarFeedToken.hash(raw)
    # a near miss, another format, an empty one: nothing
    for wrong in (raw[:-1] + ("A" if raw[-1] != "A" else "B"), raw[len(cal.FEED_PREFIX):],
                  "cal_" + "x" * 43, token.token_hash):
        assert _feed(client, wrong).status_code == 404
    # a new link replaces the old one
    _token2, raw2 = cal.issue_feed_token(owner)
    assert _feed(client, raw).status_code == 404
    assert _feed(client, raw2).status_code == 200
    cal.revoke_feed_tokens(owner)
    assert _feed(client, raw2).status_code == 404


def test_feed_of_an_inactive_user_is_gone(world: Any) -> None:
    owner = world.personas.owner
    _token, raw = cal.issue_feed_token(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert _feed(Client(), raw).status_code == 404


def test_activity_ics_is_one_event(world: Any, monday: dt.date) -> None:
    m = meeting(world.personas.owner, monday, 10, subject="Kick-off",
                account=world.mine.account)
    parsed = Calendar.from_ical(activity_ics(m))
    events = parsed.walk("VEVENT")
    assert len(events) == 1
    assert str(parsed.get("method")) == "PUBLISH"
    assert events[0].decoded("dtstart") == m.start_at
    assert events[0].decoded("dtend") == m.end_at
    assert str(events[0].get("uid")) == activity_uid(m)

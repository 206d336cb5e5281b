"""Activity reminders: a default reminder time, moved with the activity, sent once in the app
(even by two workers at the same moment), naming the activity's time and account."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation
from django.utils.formats import time_format

from comptoir.activities.models import Activity
from comptoir.activities.services import activity_reminders_backfill, activity_update
from comptoir.feeds.models import Notification
from comptoir.feeds.reminders import reminders_due, reminders_send
from comptoir.feeds.services import notification_text
from comptoir.testing import factories

COMPTOIR = str(Path(sys.executable).with_name("comptoir"))


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


# --- When a reminder is due ----------------------------------------------------------------

def test_a_timed_activity_is_reminded_15_minutes_before(owner: Any) -> None:
    start = _local(_tomorrow(), 14, 30)
    call = factories.activity(by=owner, kind="call", start_at=start, owner_id=owner.pk)
    assert call.remind_at == start - dt.timedelta(minutes=15)
    assert call.reminded_at is None


def test_a_task_due_on_a_day_without_time_is_reminded_at_9(owner: Any) -> None:
    task = factories.activity(by=owner, kind="task", due_at=_local(_tomorrow(), 0),
                              owner_id=owner.pk)
    assert task.remind_at == _local(_tomorrow(), 9)


def test_done_activities_notes_and_past_ones_get_no_reminder(owner: Any) -> None:
    past = timezone.now() - dt.timedelta(hours=2)
    logged = factories.activity(by=owner, kind="call", done=True, start_at=past)
    note = factories.activity(by=owner, kind="note", subject="Note")
    late = factories.activity(by=owner, kind="task", due_at=past)
    assert (logged.remind_at, note.remind_at, late.remind_at) == (None, None, None)


def test_an_explicit_choice_counts_back_from_the_time(owner: Any) -> None:
    start = _local(_tomorrow(), 10)
    meeting = factories.activity(by=owner, kind="meeting", start_at=start, remind_before=1440)
    assert meeting.remind_at == start - dt.timedelta(days=1)
    none = factories.activity(by=owner, kind="meeting", start_at=start, remind_before=None)
    assert none.remind_at is None


def test_changing_the_due_date_moves_the_reminder_and_sends_it_again(owner: Any) -> None:
    due = timezone.now() + dt.timedelta(minutes=5)
    task = factories.activity(by=owner, kind="task", due_at=due, owner_id=owner.pk)
    assert task.remind_at == due - dt.timedelta(minutes=15)
    assert reminders_send() == 1
    task.refresh_from_db()
    assert task.reminded_at is not None
    later = _local(_tomorrow() + dt.timedelta(days=1), 11)
    activity_update(activity=Activity.objects.get(pk=task.pk), user=owner,
                    data={"due_at": later})
    task.refresh_from_db()
    assert task.remind_at == later - dt.timedelta(minutes=15)
    assert task.reminded_at is None  # reset: the new time is reminded again
    assert reminders_send(now=later - dt.timedelta(minutes=10)) == 1
    assert Notification.objects.filter(user=owner, kind=Notification.Kind.REMINDER,
                                       object_id=task.pk).count() == 1  # refreshed, unread


def test_a_chosen_offset_follows_the_new_time(owner: Any) -> None:
    start = _local(_tomorrow(), 10)
    meeting = factories.activity(by=owner, kind="meeting", start_at=start, remind_before=60)
    new_start = start + dt.timedelta(days=2, hours=3)
    activity_update(activity=meeting, user=owner, data={"start_at": new_start})
    assert Activity.objects.get(pk=meeting.pk).remind_at == new_start - dt.timedelta(hours=1)


def test_no_reminder_stays_none_when_the_time_changes(owner: Any) -> None:
    start = _local(_tomorrow(), 10)
    meeting = factories.activity(by=owner, kind="meeting", start_at=start, remind_before=None)
    activity_update(activity=meeting, user=owner, data={"start_at": start + dt.timedelta(days=1)})
    assert Activity.objects.get(pk=meeting.pk).remind_at is None


def test_a_reminder_changed_without_moving_the_time_is_sent_again(owner: Any) -> None:
    start = timezone.now() + dt.timedelta(minutes=10)
    call = factories.activity(by=owner, kind="call", start_at=start, owner_id=owner.pk)
    assert reminders_send() == 1
    activity_update(activity=Activity.objects.get(pk=call.pk), user=owner,
                    data={"remind_at": timezone.now() - dt.timedelta(minutes=1)})
    assert Activity.objects.get(pk=call.pk).reminded_at is None
    assert reminders_send() == 1


# --- Sending -------------------------------------------------------------------------------

def test_the_notification_names_the_time_and_account_and_links_the_activity(
        owner: Any, client_for: Any) -> None:
    account = factories.account(by=owner, legal_name="Boulangerie Martin", owner_id=owner.pk)
    start = timezone.localtime() + dt.timedelta(minutes=10)
    start = start.replace(second=0, microsecond=0)
    call = factories.activity(by=owner, kind="call", subject="Rappeler Mme Martin",
                              start_at=start, account_id=account.pk, owner_id=owner.pk)
    assert reminders_due() == {"reminders": 1}
    n = Notification.objects.get(user=owner, kind=Notification.Kind.REMINDER)
    assert (n.object_type, n.object_id, n.title) == ("activity", call.pk, "Rappeler Mme Martin")
    with translation.override("en"):
        text = notification_text(n)
    with translation.override("en"):
        shown = time_format(start, "TIME_FORMAT")
    day = "today" if start.date() == timezone.localdate() else "tomorrow"
    assert text == f"Reminder: call {day} at {shown} — Boulangerie Martin"
    hhmm = start.strftime("%H:%M")  # the French time format
    with translation.override("fr"):
        french = notification_text(n)
    assert french.startswith("Rappel")
    assert hhmm in french
    assert "Boulangerie Martin" in french
    client = client_for(owner, language="fr")
    page = client.get("/notifications/").content.decode()
    for shown in ("Rappeler Mme Martin", hhmm, "Boulangerie Martin"):
        assert shown in page
    opened = client.get(f"/notifications/{n.pk}/open/")
    assert opened.status_code == 302
    assert opened["Location"].endswith(f"/activities/{call.pk}/")
    assert "1 notification non lue" not in client.get("/").content.decode()


def test_the_bell_counts_a_reminder_shown_from_the_home_page(owner: Any,
                                                            client_for: Any) -> None:
    """Without waiting for the worker: the home page sends the user's due reminders."""
    factories.activity(by=owner, kind="call", owner_id=owner.pk,
                       start_at=timezone.now() + dt.timedelta(minutes=5))
    page = client_for(owner).get("/").content.decode()
    assert "1 unread notification" in page
    assert "Reminder: call" in page


def test_no_reminder_for_a_done_activity_or_someone_else(owner: Any, teammate: Any) -> None:
    soon = timezone.now() + dt.timedelta(minutes=5)
    done = factories.activity(by=owner, kind="call", owner_id=owner.pk, start_at=soon)
    activity_update(activity=done, user=owner, data={"done": True})
    factories.activity(by=teammate, kind="call", owner_id=teammate.pk, start_at=soon)
    assert reminders_send(user=owner) == 0
    assert not Notification.objects.filter(user=owner).exists()


def test_a_reminder_long_overdue_is_dropped(owner: Any) -> None:
    call = factories.activity(by=owner, kind="call", owner_id=owner.pk,
                              start_at=timezone.now() + dt.timedelta(hours=1))
    assert reminders_send(now=call.start_at + dt.timedelta(days=2)) == 0


def test_the_worker_runs_the_job() -> None:
    assert "comptoir.feeds.reminders.reminders_due" in settings.COMPTOIR_PERIODIC_JOBS


def test_api_sets_and_reads_the_reminder(owner: Any, api: Any) -> None:
    start = _local(_tomorrow(), 15)
    body = api(owner).post("/activities", {
        "kind": "meeting", "subject": "Démo", "start_at": start.isoformat()}).expect(201)
    assert dt.datetime.fromisoformat(body["remind_at"]) == start - dt.timedelta(minutes=15)
    assert body["reminded_at"] is None
    api(owner).patch(f"/activities/{body['id']}", {"remind_at": None}).expect(200)
    assert Activity.objects.get(pk=body["id"]).remind_at is None


# --- Once only, whatever the number of workers ---------------------------------------------

@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A migrated site of its own (a SQLite file, or a new PostgreSQL database when the
    suite runs on one), shared by real processes."""
    env = dict(os.environ)
    env["COMPTOIR_DATA_DIR"] = str(tmp_path / "site")
    url = os.environ.get("DATABASE_URL")
    name = f"comptoir_reminders_{os.getpid()}"
    if url:
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
    yield env
    if url:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SETUP = textwrap.dedent("""
    import datetime as dt, json, os, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    django.setup()
    from django.utils import timezone
    from comptoir.access.models import User
    from comptoir.activities.models import Activity
    from comptoir.activities.services import activity_create
    users = [User.objects.create_user(f"rep{i}", role="rep") for i in range(3)]
    soon = timezone.now() + dt.timedelta(minutes=2)
    ids = [activity_create(user=users[i % 3], data={
        "kind": "call", "subject": f"Call {i}", "start_at": soon}).pk for i in range(60)]
    print(json.dumps(ids))
""")

WORKER = textwrap.dedent("""
    import json, os, sys, time, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    django.setup()
    from comptoir.feeds.reminders import reminders_send
    start = float(sys.argv[1])
    while time.time() < start:  # every worker starts the same instant
        time.sleep(0.001)
    sent = sum(reminders_send() for _ in range(3))
    print(json.dumps(sent))
""")

CHECK = textwrap.dedent("""
    import json, os, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    django.setup()
    from comptoir.activities.models import Activity
    from comptoir.feeds.models import Notification
    rows = list(Notification.objects.filter(kind="activity_reminder")
                .values_list("user__username", "object_id"))
    claimed = Activity.objects.filter(reminded_at__isnull=False).count()
    print(json.dumps({"rows": rows, "claimed": claimed}))
""")


def test_two_workers_at_once_send_each_reminder_exactly_once(site: dict[str, str]) -> None:
    made = subprocess.run([sys.executable, "-c", SETUP], env=site, capture_output=True,
                          text=True, timeout=300, check=True)
    ids = json.loads(made.stdout.strip().splitlines()[-1])
    import time

    start = time.time() + 4  # after both interpreters have loaded Django
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(start)], env=site,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    sent = []
    for process in workers:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        sent.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(sent) == len(ids)  # between them, every reminder; neither sent one twice
    done = subprocess.run([sys.executable, "-c", CHECK], env=site, capture_output=True,
                          text=True, timeout=300, check=True)
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["claimed"] == len(ids)
    assert sorted(pk for _user, pk in state["rows"]) == sorted(ids)


def test_the_activity_form_offers_the_reminder_choice(owner: Any) -> None:
    client = Client()
    owner.language = "en"
    owner.save(update_fields=["language"])
    client.force_login(owner)
    page = client.get("/activities/new/?kind=meeting").content.decode()
    for label in ("No reminder", "At the time", "15 minutes before", "1 hour before",
                  "1 day before"):
        assert label in page
    start = _local(_tomorrow(), 16)
    posted = client.post("/activities/new/?kind=meeting", {
        "kind": "meeting", "subject": "Visite usine", "due_at": start.strftime("%Y-%m-%dT%H:%M"),
        "reminder": "60", "owner": owner.pk})
    assert posted.status_code == 302, posted.content.decode()[:3000]
    meeting = Activity.objects.get(subject="Visite usine")
    assert meeting.remind_at == start - dt.timedelta(hours=1)
    edit = client.get(f"/activities/{meeting.pk}/edit/").content.decode()
    assert 'value="60" selected' in edit


def test_activities_loaded_without_a_reminder_get_the_default(owner: Any) -> None:
    """``comptoir demo`` inserts rows directly: the backfill gives them their reminders."""
    start = _local(_tomorrow(), 11)
    planned = factories.activity(by=owner, kind="call", start_at=start, remind_before=None)
    past = factories.activity(by=owner, kind="call", done=True,
                              start_at=timezone.now() - dt.timedelta(days=1))
    assert activity_reminders_backfill() == 1
    assert Activity.objects.get(pk=planned.pk).remind_at == start - dt.timedelta(minutes=15)
    assert Activity.objects.get(pk=past.pk).remind_at is None

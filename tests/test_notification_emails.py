"""Notifications by e-mail, sent through the mail app's queue to a real SMTP server (aiosmtpd):
at once or grouped in digests, per-user and per-kind choices, the reader's language, never
twice when workers race."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from comptoir.access.models import User
from comptoir.core.errors import ValidationFailed
from comptoir.core.models import ObjectType
from comptoir.crm.services import account_update
from comptoir.feeds import emails
from comptoir.feeds import services as feeds
from comptoir.feeds.models import NotificationEmailPreference
from comptoir.mail import services as mail
from comptoir.mail.models import OutgoingEmail
from comptoir.testing import factories
from comptoir.testing.smtp import SmtpServer, configure

BASE = "https://crm.example.org"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    configure(settings, server)
    settings.COMPTOIR_BASE_URL = BASE
    yield server
    server.stop()


def later(minutes: float = 2) -> dt.datetime:
    """The job's clock: past the lag it leaves the notification consumer."""
    return timezone.now() + dt.timedelta(minutes=minutes)


def caught_up() -> None:
    feeds.notifications_process(max_events=100_000)


def deliver_all() -> list[str]:
    """What the worker does with the queued e-mails."""
    return [str(mail.send_email.call(pk)) for pk in
            OutgoingEmail.objects.filter(status="queued").values_list("pk", flat=True)]


def addressed(user: User, email: str, language: str = "en") -> User:
    user.email, user.language = email, language
    user.save(update_fields=["email", "language"])
    return User.objects.get(pk=user.pk)


def assign(world: Any, by: User, to: User) -> Any:
    caught_up()
    account = world.mine.account
    account_update(account=account, user=by, data={"owner_id": to.pk})
    caught_up()
    return account


def test_an_assignment_is_emailed_at_once(world: Any, data_manager: User, teammate: User,
                                          smtp_server: SmtpServer,
                                          django_capture_on_commit_callbacks: Any) -> None:
    teammate = addressed(teammate, "theo@team.example")
    account = assign(world, data_manager, teammate)
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later()) == 1
    assert deliver_all() == ["sent"]
    received = smtp_server.wait_for(1)[0]
    assert received.rcpt_tos == ["theo@team.example"]
    message = received.message
    assert str(message["Subject"]) == f"[Comptoir] {account.legal_name}"
    body = message.get_content()
    assert "assigned it to you" in body
    note = teammate.notifications.get()
    assert f"{BASE}/notifications/{note.pk}/open/" in body
    assert f"{BASE}/notifications/email/" in body
    # nothing new: the next rounds send nothing
    assert emails.notification_emails_send(now=later(3)) == 0
    assert OutgoingEmail.objects.count() == 1


def test_followed_changes_are_grouped_in_one_digest(
        world: Any, owner: User, teammate: User, smtp_server: SmtpServer,
        django_capture_on_commit_callbacks: Any) -> None:
    teammate = addressed(teammate, "theo@team.example")
    caught_up()
    accounts = [world.mine.account,
                *(factories.account(by=owner, owner=owner, legal_name=f"Followed {n}",
                                    billing_postcode=world.mine.account.billing_postcode)
                  for n in range(2))]
    caught_up()
    for account in accounts:
        feeds.follow(user=teammate, object_type=ObjectType.ACCOUNT, object_id=account.pk)
        account_update(account=account, user=owner, data={"phone": "0478000000"})
        account_update(account=account, user=owner, data={"phone": "0478000001"})
    caught_up()
    assert teammate.notifications.count() == 3
    assert emails.preferences_for(teammate)["followed"] == "daily"
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later()) == 1
        # the digest went out: not again within the day, even with news
        account_update(account=accounts[0], user=owner, data={"phone": "0478000002"})
        caught_up()
        # (the job's clock is ahead: date the change after the first digest)
        teammate.notifications.filter(object_id=accounts[0].pk).update(created_at=later(30))
        assert emails.notification_emails_send(now=later(60)) == 0
    assert deliver_all() == ["sent"]
    message = smtp_server.wait_for(1)[0].message
    assert str(message["Subject"]) == "[Comptoir] Daily digest: 3 notifications"
    body = message.get_content()
    for account in accounts:
        assert account.legal_name in body
    assert body.count(f"{BASE}/notifications/") == 4  # 3 links and the settings page
    assert "2 changes; the last" in body
    # a day later, the next digest holds only the later change
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later(60 * 24 + 5)) == 1
    assert OutgoingEmail.objects.order_by("-id").first().subject == (  # type: ignore[union-attr]
        "[Comptoir] Daily digest: 1 notification")


def test_hourly_digest_and_opt_out(world: Any, data_manager: User, teammate: User,
                                   smtp_server: SmtpServer,
                                   django_capture_on_commit_callbacks: Any) -> None:
    teammate = addressed(teammate, "theo@team.example")
    emails.preferences_set(teammate, {"assigned": "off"})
    assign(world, data_manager, teammate)
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later()) == 0
    assert not OutgoingEmail.objects.exists()
    # the same news, wanted hourly: in the next hourly digest
    emails.preferences_set(teammate, {"assigned": "hourly"})
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later()) == 1
    assert OutgoingEmail.objects.get().subject == "[Comptoir] Hourly digest: 1 notification"
    with pytest.raises(ValidationFailed) as exc:
        emails.preferences_set(teammate, {"assigned": "weekly", "sync_failed": "off"})
    assert set(exc.value.fields) == {"assigned", "sync_failed"}  # a rep has no sync e-mails
    assert NotificationEmailPreference.objects.get(user=teammate).mode == "hourly"


def test_each_user_reads_in_their_language(world: Any, data_manager: User, teammate: User,
                                           owner: User, smtp_server: SmtpServer,
                                           django_capture_on_commit_callbacks: Any) -> None:
    teammate = addressed(teammate, "theo@team.example", "fr")
    owner = addressed(owner, "olivia@team.example", "en")
    assign(world, data_manager, teammate)
    account_update(account=world.mine.private_account, user=data_manager,
                   data={"owner_id": teammate.pk})
    account_update(account=world.mine.private_account, user=data_manager,
                   data={"owner_id": owner.pk})
    caught_up()
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later()) == 2
    assert deliver_all() == ["sent", "sent"]
    smtp_server.wait_for(2)
    by_rcpt = {r.rcpt_tos[0]: r.message.get_content() for r in smtp_server.received}
    assert "vous a attribué cet enregistrement" in by_rcpt["theo@team.example"]
    assert "assigned it to you" in by_rcpt["olivia@team.example"]
    assert "vous a attribué" not in by_rcpt["olivia@team.example"]


def test_no_email_without_an_address(world: Any, data_manager: User, teammate: User,
                                     smtp_server: SmtpServer,
                                     django_capture_on_commit_callbacks: Any) -> None:
    teammate = addressed(teammate, "")
    assign(world, data_manager, teammate)
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later()) == 0
    assert mail.send_system_email(teammate, "Hi", "Body") is None
    assert not OutgoingEmail.objects.exists()


def test_concurrent_runs_send_one_e_mail(transactional_db: None, world: Any,
                                         data_manager: User, teammate: User,
                                         smtp_server: SmtpServer) -> None:
    teammate = addressed(teammate, "theo@team.example")
    assign(world, data_manager, teammate)
    now = later()
    barrier = threading.Barrier(3, timeout=60)
    errors: list[BaseException] = []
    counts: list[int] = []

    def run() -> None:
        from django.db import connection

        try:
            barrier.wait()
            counts.append(emails.notification_emails_send(now=now))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert OutgoingEmail.objects.filter(to__icontains="theo@").count() == 1, list(
        OutgoingEmail.objects.values_list("to", "subject"))
    assert deliver_all() == ["sent"]
    assert len(smtp_server.wait_for(1)) == 1


def test_sync_failures_go_to_data_managers(world: Any, data_manager: User, owner: User,
                                           smtp_server: SmtpServer,
                                           django_capture_on_commit_callbacks: Any) -> None:
    from django.apps import apps

    data_manager = addressed(data_manager, "dm@team.example")
    addressed(owner, "olivia@team.example")
    connection_model = apps.get_model("integration", "Connection")
    run_model = apps.get_model("integration", "SyncRun")
    connection = connection_model.objects.create(name="erp", connector="files",
                                                 mapping='system = "erp"\n')
    run_model.objects.create(connection=connection, status="failed", finished_at=timezone.now(),
                             error_message="ERP unreachable: connection refused")
    with django_capture_on_commit_callbacks(execute=True):
        emails.notification_emails_send(now=later())
    email = OutgoingEmail.objects.get(to__icontains="dm@team.example")
    assert not OutgoingEmail.objects.filter(to__icontains="olivia@").exists()  # a rep: no
    assert "ERP unreachable" in email.body
    assert f"{BASE}/sync/runs/" in email.body


def test_preferences_page(client: Any, teammate: User, data_manager: User) -> None:
    from django.utils import translation

    client.force_login(teammate)
    with translation.override("en"):
        page = client.get("/notifications/email/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "sync_failed" not in page.content.decode()
    bad = client.post("/notifications/email/", {"assigned": "weekly", "reminder": "daily",
                                                "followed": "off"})
    assert bad.status_code == 422
    assert not NotificationEmailPreference.objects.exists()
    ok = client.post("/notifications/email/", {"assigned": "off", "reminder": "hourly",
                                               "followed": "daily"})
    assert ok.status_code == 302
    assert emails.preferences_for(teammate) == {"assigned": "off", "reminder": "hourly",
                                                "followed": "daily"}
    client.force_login(data_manager)
    assert 'name="sync_failed"' in client.get("/notifications/email/").content.decode()


def test_a_system_email_is_private(client: Any, teammate: User, outsider: User, owner: User,
                                   smtp_server: SmtpServer) -> None:
    teammate = addressed(teammate, "theo@team.example")
    email = mail.send_system_email(teammate, "Your digest", "Private news")
    assert email is not None
    assert email.account_id is None
    for other in (outsider, owner):
        client.force_login(other)
        assert client.get(f"/mail/{email.pk}/").status_code == 404
    client.force_login(teammate)
    assert "/notifications/email/" in client.get("/").content.decode()  # the user menu


def test_a_reminder_is_emailed_at_once(world: Any, owner: User, smtp_server: SmtpServer,
                                       django_capture_on_commit_callbacks: Any) -> None:
    from comptoir.feeds.reminders import reminders_send

    owner = addressed(owner, "olivia@team.example")
    start = timezone.now() + dt.timedelta(minutes=10)
    call = factories.activity(by=owner, kind="call", subject="Call Camille", start_at=start,
                              owner_id=owner.pk)
    assert reminders_send(user=owner) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.notification_emails_send(now=later()) == 1
    assert deliver_all() == ["sent"]
    message = smtp_server.wait_for(1)[0].message
    assert str(message["Subject"]) == f"[Comptoir] {call.subject}"
    assert "Reminder: call " in message.get_content()  # "today at…" or, near midnight, "tomorrow"

"""Mailbox logging against a real Dovecot: messages delivered by IMAP APPEND, fetched by
``fetch_mailbox``, logged once on the right record, privately."""

from __future__ import annotations

import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from comptoir.activities.models import Activity
from comptoir.mailbox.models import LoggedMessage, Mailbox, MailboxFolder
from comptoir.mailbox.services import (
    MailboxProblem,
    check_connection,
    fetch_mailbox,
    mailboxes_due,
    message_set_private,
    readable_text,
)
from comptoir.testing import factories
from comptoir.testing.dovecot import Dovecot, free_port

from .messages import message

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(owner: Any) -> Any:
    return factories.account(by=owner, legal_name="Acme Lyon", billing_postcode="69002",
                             website="https://www.acme.example")


@pytest.fixture
def camille(owner: Any, acme: Any) -> Any:
    # Stored with capitals: matching is case-insensitive.
    return factories.contact(by=owner, account=acme, first_name="Camille", last_name="Durand",
                             email="Camille.Durand@acme.example", owner=owner)


def _from_camille(**kw: Any) -> EmailMessage:
    kw.setdefault("to", "Alice <alice@mail.example>")
    return message(sender="Camille Durand <camille.durand@ACME.example>", **kw)


def test_a_message_from_a_contact_is_logged_once_on_that_contact(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any,
        camille: Any) -> None:
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", _from_camille(subject="Our order", body="Please find our order."))
    result = fetch_mailbox(box)
    assert (result.seen, result.logged) == (1, 1)
    logged = LoggedMessage.objects.get()
    activity = logged.activity
    assert activity is not None
    assert (activity.kind, activity.done, activity.contact_id, activity.account_id,
            activity.owner_id) == (Activity.Kind.EMAIL, True, camille.pk, camille.account_id,
                                   owner.pk)
    assert activity.subject == "Our order"
    assert activity.body == ""  # private: the text stays on the message
    assert logged.body_text == "Please find our order."
    assert logged.from_address == "camille.durand@acme.example"
    assert logged.to == ["alice@mail.example"]
    assert list(logged.mailboxes.all()) == [box]
    assert logged.private
    assert logged.owner == owner
    box.refresh_from_db()
    assert box.last_error == ""
    assert box.last_fetch_at is not None


def test_the_same_message_in_two_mailboxes_is_logged_once(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any, teammate: Any,
        camille: Any) -> None:
    alice, bob = connect_mailbox(owner, "alice"), connect_mailbox(teammate, "bob")
    msg = _from_camille(to="alice@mail.example, bob@mail.example")
    dovecot.deliver("alice", msg)
    dovecot.deliver("bob", msg)
    assert fetch_mailbox(alice).logged == 1
    second = fetch_mailbox(bob)
    assert (second.logged, second.already) == (0, 1)
    logged = LoggedMessage.objects.get()
    assert set(logged.mailboxes.all()) == {alice, bob}
    assert Activity.objects.filter(kind=Activity.Kind.EMAIL).count() == 1
    assert logged.owner == owner  # the first to log it


def test_a_second_fetch_logs_only_new_messages(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any,
        camille: Any) -> None:
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", _from_camille(subject="One"))
    assert fetch_mailbox(box).logged == 1
    assert fetch_mailbox(box).seen == 0  # nothing new: not even looked at again
    _validity, uid = dovecot.deliver("alice", _from_camille(subject="Two"))
    result = fetch_mailbox(box)
    assert (result.seen, result.logged) == (1, 1)
    assert MailboxFolder.objects.get(mailbox=box, name="INBOX").last_uid == uid
    assert sorted(LoggedMessage.objects.values_list("subject", flat=True)) == ["One", "Two"]


def test_a_changed_uidvalidity_restarts_the_folder_without_duplicates(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any,
        camille: Any) -> None:
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", _from_camille(subject="Before"))
    fetch_mailbox(box)
    new_validity = dovecot.reset_folder("alice")
    dovecot.deliver("alice", _from_camille(subject="After"))
    result = fetch_mailbox(box)
    assert (result.seen, result.logged, result.already) == (2, 1, 1)
    cursor = MailboxFolder.objects.get(mailbox=box, name="INBOX")
    assert cursor.uidvalidity == new_validity
    assert LoggedMessage.objects.count() == 2
    assert Activity.objects.filter(kind=Activity.Kind.EMAIL).count() == 2


def test_unknown_and_internal_messages_are_not_logged(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any, teammate: Any,
        camille: Any) -> None:
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", message(sender="stranger@nowhere.example", to="alice@mail.example"))
    dovecot.deliver("alice", message(sender=teammate.email, to=owner.email,
                                     subject="Lunch?"))  # between users
    dovecot.deliver("alice", message(sender="someone@gmail.com", to="alice@mail.example"))
    result = fetch_mailbox(box)
    assert (result.seen, result.logged) == (3, 0)
    assert not LoggedMessage.objects.exists()


def test_sent_messages_are_logged_on_the_recipient(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any,
        camille: Any) -> None:
    box = connect_mailbox(owner, "alice", folders="INBOX, Sent")
    dovecot.deliver("alice", message(sender="Alice <alice@mail.example>",
                                     to="camille.durand@acme.example", subject="Quote"),
                    folder="Sent")
    assert fetch_mailbox(box).folders == {"INBOX": 0, "Sent": 1}
    assert LoggedMessage.objects.get().activity.contact_id == camille.pk


def test_an_unknown_person_of_a_known_company_is_logged_on_the_account(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any,
        acme: Any) -> None:
    factories.account(by=owner, legal_name="Free mail SA", email="contact@gmail.com",
                      billing_postcode="69003")
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", message(sender="new.person@acme.example", to="alice@mail.example",
                                     subject="Hello from Acme"))
    dovecot.deliver("alice", message(sender="other@gmail.com", to="alice@mail.example"))
    assert fetch_mailbox(box).logged == 1
    activity = LoggedMessage.objects.get().activity
    assert (activity.account_id, activity.contact_id) == (acme.pk, None)


def test_a_lead_is_recorded_on_the_message(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any) -> None:
    lead = factories.lead(by=owner, last_name="Martin", email="p.martin@prospect.example",
                          owner=owner)
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", message(sender="P.Martin@prospect.example",
                                     to="alice@mail.example"))
    assert fetch_mailbox(box).logged == 1
    logged = LoggedMessage.objects.get()
    assert (logged.lead_id, logged.activity) == (lead.pk, None)  # no lead link on activities


def test_messy_messages(dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any,
                        teammate: Any, camille: Any) -> None:
    alice, bob = connect_mailbox(owner, "alice"), connect_mailbox(teammate, "bob")
    latin = (b"From: =?iso-8859-1?q?Camille_Dur=E9?= <camille.durand@acme.example>\r\n"
             b"To: alice@mail.example\r\n"
             b"Subject: =?iso-8859-1?q?R=E9union_=E0_Lyon?=\r\n"
             b"Date: Tue, 1 Dec 2026 10:00:00 +0100\r\n"
             b"Message-ID: <Latin.1@Acme.Example>\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: text/plain; charset=iso-8859-1\r\n"
             b"Content-Transfer-Encoding: 8bit\r\n\r\n") + "Très bien, à demain.\r\n" \
        .encode("iso-8859-1")
    bogus_charset = ("From: camille.durand@acme.example\r\nTo: alice@mail.example\r\n"
                     "Subject: Odd charset\r\nMessage-ID: <odd@acme.example>\r\n"
                     "Content-Type: text/plain; charset=x-unknown-charset\r\n\r\n"
                     "caf\xe9\r\n").encode("latin-1")
    no_id = message(sender="camille.durand@acme.example", to="alice@mail.example, "
                    "bob@mail.example", subject="No id", message_id=None)
    html_only = EmailMessage()
    html_only["From"] = "camille.durand@acme.example"
    html_only["To"] = "alice@mail.example"
    html_only["Subject"] = "HTML only"
    html_only["Message-ID"] = "<html@acme.example>"
    html_only.set_content("<html><head><style>p{}</style></head><body><p>Hello <b>Alice</b>"
                          "</p><p>See&nbsp;you</p><script>x()</script></body></html>",
                          subtype="html")
    with_files = message(sender="camille.durand@acme.example", to="alice@mail.example",
                         subject="Files", message_id="<files@acme.example>", body="Attached.")
    with_files.add_attachment(b"%PDF-1.4 test", maintype="application", subtype="pdf",
                              filename="order.pdf")
    with_files.add_attachment(b"MZ...", maintype="application", subtype="octet-stream",
                              filename="setup.exe")
    for raw in (latin, bogus_charset, no_id, html_only, with_files):
        dovecot.deliver("alice", raw)
    dovecot.deliver("bob", no_id)

    assert fetch_mailbox(alice).logged == 5
    assert fetch_mailbox(bob).already == 1  # the hash of the missing id is the same for both
    by_subject = {m.subject: m for m in LoggedMessage.objects.all()}
    assert set(by_subject) == {"Réunion à Lyon", "Odd charset", "No id", "HTML only", "Files"}
    latin_msg = by_subject["Réunion à Lyon"]
    assert latin_msg.message_id == "latin.1@acme.example"
    assert latin_msg.body_text == "Très bien, à demain."
    assert latin_msg.from_name == "Camille Duré"
    assert "caf" in by_subject["Odd charset"].body_text
    assert by_subject["No id"].message_id.startswith("nomid:")
    assert by_subject["No id"].mailboxes.count() == 2
    assert by_subject["HTML only"].body_text == "Hello Alice\n\nSee you"
    files = {a.name: a for a in by_subject["Files"].attachments.all()}
    assert set(files) == {"order.pdf", "setup.exe"}
    assert files["order.pdf"].refused == ""
    assert files["order.pdf"].file.read() == \
        b"%PDF-1.4 test"
    assert files["setup.exe"].refused
    assert not files["setup.exe"].file


def test_a_reply_joins_its_thread(dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox],
                                  owner: Any, camille: Any) -> None:
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", _from_camille(subject="Start", message_id="<root@acme.example>"))
    dovecot.deliver("alice", _from_camille(subject="Re: Start", message_id="<r1@acme.example>",
                                           In_Reply_To="<root@acme.example>",
                                           References="<root@acme.example>"))
    fetch_mailbox(box)
    assert set(LoggedMessage.objects.values_list("thread_id", flat=True)) == \
        {"root@acme.example"}


@pytest.mark.parametrize("problem", ["credentials", "unreachable", "folder"])
def test_problems_are_stored_on_the_mailbox_in_clear_words(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any,
        problem: str) -> None:
    fields = {"credentials": {"password": "wrong"},
              "unreachable": {"port": free_port()},
              "folder": {"folders": "INBOX, Archives 2019"}}[problem]
    box = connect_mailbox(owner, "alice", **fields)
    with pytest.raises(MailboxProblem) as caught:
        fetch_mailbox(box)
    assert caught.value.problem == problem
    with pytest.raises(MailboxProblem):
        check_connection(box)
    box.refresh_from_db()
    assert box.last_error == caught.value.message
    expected = {"credentials": "refused the user name or password",
                "unreachable": "cannot be reached", "folder": "Archives 2019"}[problem]
    assert expected in box.last_error
    assert box.fetching_since is None  # released for the next try


def test_the_log_address_logs_with_the_sending_user_as_owner(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], owner: Any, admin: Any,
        teammate: Any, camille: Any, settings: Any) -> None:
    settings.COMPTOIR_LOG_ADDRESS = "Log@Mail.example"
    box = connect_mailbox(admin, "log", address="log@mail.example")
    dovecot.deliver("log", message(sender=f"Olivia <{owner.email.upper()}>",
                                   to="camille.durand@acme.example", subject="Bcc'd",
                                   Bcc="log@mail.example"))
    dovecot.deliver("log", message(sender="stranger@acme.example", to="log@mail.example",
                                   subject="Spam"))
    assert fetch_mailbox(box).logged == 1
    logged = LoggedMessage.objects.get()
    assert (logged.subject, logged.owner, logged.activity.owner) == ("Bcc'd", owner, owner)
    assert logged.activity.contact_id == camille.pk


def test_concurrent_fetches_log_one_activity(
        transactional_db: None, dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox],
        owner: Any, teammate: Any, camille: Any) -> None:
    boxes = [connect_mailbox(owner, "alice"), connect_mailbox(teammate, "bob")]
    for n in range(5):
        msg = _from_camille(to="alice@mail.example, bob@mail.example", subject=f"Both {n}")
        dovecot.deliver("alice", msg)
        dovecot.deliver("bob", msg)
    barrier = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def run(box: Mailbox) -> None:
        from django.db import connection

        try:
            barrier.wait()
            fetch_mailbox(Mailbox.objects.select_related("user").get(pk=box.pk))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(b,)) for b in boxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert LoggedMessage.objects.count() == 5
    assert Activity.objects.filter(kind=Activity.Kind.EMAIL).count() == 5
    for logged in LoggedMessage.objects.all():
        assert set(logged.mailboxes.all()) == set(boxes)


def test_the_text_is_private_to_the_owners_scope(
        dovecot: Dovecot, connect_mailbox: Callable[..., Mailbox], personas: Any,
        camille: Any) -> None:
    owner = personas.owner
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", _from_camille(body="Confidential pricing."))
    fetch_mailbox(box)
    logged = LoggedMessage.objects.get()
    activity = logged.activity
    from comptoir.access import policy

    # The teammate sees the account (same territory) and so the activity, not the text.
    assert policy.can(personas.teammate, "view", activity)
    assert readable_text(personas.teammate, logged) is None
    assert "Confidential" not in activity.body
    # Another team's rep sees neither.
    assert not policy.can(personas.outsider, "view", activity)
    assert readable_text(personas.outsider, logged) is None
    # The owner, their managers and the all-seeing roles read it.
    for name in ("owner", "lead_rep", "manager", "admin", "data_manager"):
        assert readable_text(personas[name], logged) == "Confidential pricing.", name
    with pytest.raises(Exception, match="owner"):
        message_set_private(message=logged, user=personas.teammate, private=False)
    message_set_private(message=logged, user=owner, private=False)
    assert readable_text(personas.teammate, logged) == "Confidential pricing."
    activity.refresh_from_db()
    assert activity.body == "Confidential pricing."


def test_the_periodic_job_queues_each_due_mailbox_once(
        connect_mailbox: Callable[..., Mailbox], owner: Any, teammate: Any) -> None:
    connect_mailbox(owner, "alice")
    connect_mailbox(teammate, "bob", enabled=False)
    assert mailboxes_due() == 1
    assert mailboxes_due() == 0  # not again before the interval

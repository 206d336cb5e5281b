"""Composing and sending e-mail from a record, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from comptoir.activities.models import Activity
from comptoir.core.errors import Forbidden, ValidationFailed
from comptoir.mail import checks, services
from comptoir.mail.models import EmailTemplate, OutgoingEmail
from comptoir.testing import factories
from comptoir.testing.smtp import SmtpServer, configure, free_port

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _english() -> Any:
    """The worker's own messages (retries, failures) are in the active language: English
    here, whatever the tests run before left active. A template keeps its own language."""
    with translation.override("en"):
        yield


@pytest.fixture
def quote(world: Any) -> Any:
    owner = world.personas.owner
    account = world.mine.account
    account.legal_name = "Société Générale"
    account.save(update_fields=["legal_name"])
    return factories.sales_document(by=owner, account=account, number="12",
                                    opportunity=world.mine.opportunity,
                                    contact=world.mine.contact)


@pytest.fixture
def template(world: Any) -> EmailTemplate:
    return services.template_save(world.personas.admin, {
        "name": "Quote", "language": "fr",
        "subject": "Devis n° {{ document.number }} — {{ account.name }}",
        "body": "Bonjour {{ contact.first_name }},\n\nVoici notre devis {{ document.number }} "
                "de {{ document.total_incl_tax }} pour {{ account.name }}.\n\n"
                "{{ sender.full_name }}"})


def _send(email: OutgoingEmail) -> str:
    return str(services.send_email.call(email.pk))


def test_send_a_quote_with_template_pdf_and_file(world: Any, quote: Any, template: Any,
                                                 smtp_server: SmtpServer,
                                                 django_capture_on_commit_callbacks: Any
                                                 ) -> None:
    owner = world.personas.owner
    services.signature_set(owner, "Olivia Owner\nComptoir SA")
    with django_capture_on_commit_callbacks(execute=True):
        email = services.compose(owner, quote, to=[world.mine.contact], template=template,
                                 attachments=[world.mine.attachment], attach_pdf=True)
    # the commit queued the worker's task
    assert DBTaskResult.objects.filter(args_kwargs__args=[email.pk]).exists()
    assert _send(email) == "sent"
    smtp_server.wait_for(1)
    received = smtp_server.received[0]
    assert received.rcpt_tos == ["camille@olivia.example"]
    msg = received.message
    assert msg["Subject"] == "Devis n° 12 — Société Générale"
    raw_subject = received.content.split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0]
    assert raw_subject.startswith(b"=?utf-8?")  # RFC 2047, not raw 8-bit
    assert msg["From"].addresses[0].display_name == "Olivia Owner"
    assert msg["From"].addresses[0].addr_spec == "crm@comptoir.example"
    assert msg["Reply-To"] == "owner@example.com"
    assert msg["To"].addresses[0].addr_spec == "camille@olivia.example"
    assert msg["Message-ID"] == email.message_id
    assert msg["Date"]
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert "Bonjour Camille," in text
    assert "Société Générale" in text
    assert "devis 12 de 240,00 €" in text  # 2 × 100 + 20 % VAT, written the French way
    assert text.rstrip().endswith("-- \nOlivia Owner\nComptoir SA")
    parts = {p.get_filename(): p for p in msg.iter_attachments()}
    assert set(parts) == {"olivia-notes.txt", "quote-12.pdf"}
    assert parts["quote-12.pdf"].get_content_type() == "application/pdf"
    assert parts["quote-12.pdf"].get_content().startswith(b"%PDF")
    assert parts["olivia-notes.txt"].get_content().rstrip() == "Meeting notes"
    email.refresh_from_db()
    assert email.status == "sent"
    assert email.sent_at is not None
    assert email.attempts == 1
    # logged as an e-mail activity on the quote's account, deal and contact
    activity = Activity.objects.get(pk=email.activity_id)
    assert activity.kind == "email"
    assert activity.done
    assert activity.subject == "Devis n° 12 — Société Générale"
    assert activity.account_id == world.mine.account.pk
    assert activity.opportunity_id == world.mine.opportunity.pk
    assert activity.contact_id == world.mine.contact.pk
    assert "Bonjour Camille" in activity.body


def test_non_ascii_attachment_name_and_address(world: Any, smtp_server: SmtpServer) -> None:
    owner = world.personas.owner
    account = world.mine.account
    file = factories.attachment(by=owner, on=account, name="Cahier des charges été.txt",
                                content="Été\n".encode())
    email = services.compose(owner, account, to=["Zoé Dupré <zoe@client.example>"],
                             subject="Réunion", body="À bientôt", attachments=[file.pk])
    assert _send(email) == "sent"
    msg = smtp_server.messages[0]
    assert msg["To"].addresses[0].display_name == "Zoé Dupré"
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == ["Cahier_des_charges_été.txt"]


def test_refused_recipient_is_a_bounce_with_the_reason(world: Any,
                                                       smtp_server: SmtpServer) -> None:
    smtp_server.refuse["nobody@client.example"] = "550 5.1.1 <nobody@client.example>: no such user"
    email = services.compose(world.personas.owner, world.mine.account,
                             to=["nobody@client.example"], subject="Hello", body="Hi")
    assert _send(email) == "bounced"
    email.refresh_from_db()
    assert email.status == "bounced"
    assert email.bounces == [{"address": "nobody@client.example", "code": 550,
                              "reason": "5.1.1 <nobody@client.example>: no such user"}]
    assert "no such user" in email.last_error
    assert smtp_server.received == []


def test_one_refused_among_several_is_sent_with_its_bounce(world: Any,
                                                           smtp_server: SmtpServer) -> None:
    smtp_server.refuse["gone@client.example"] = "550 5.1.1 mailbox unavailable"
    email = services.compose(world.personas.owner, world.mine.account,
                             to=["ok@client.example", "gone@client.example"],
                             subject="Hello", body="Hi")
    assert _send(email) == "sent"
    email.refresh_from_db()
    assert [b["address"] for b in email.bounces] == ["gone@client.example"]
    assert smtp_server.received[0].rcpt_tos == ["ok@client.example"]


def test_relay_down_then_up(world: Any, settings: Any) -> None:
    down = SmtpServer(port=free_port())
    configure(settings, down)
    email = services.compose(world.personas.owner, world.mine.account,
                             to=["buyer@client.example"], subject="Hello", body="Hi")
    assert _send(email) == "queued"
    email.refresh_from_db()
    assert email.status == "queued"
    assert email.attempts == 1
    assert "Connection" in email.last_error or "refused" in email.last_error.lower()
    assert email.next_attempt_at is not None
    retry = DBTaskResult.objects.filter(args_kwargs__args=[email.pk]).order_by("-id").first()
    assert retry is not None
    assert retry.run_after is not None
    with down:  # the relay comes back on the same port
        assert _send(email) == "sent"
        down.wait_for(1)
    email.refresh_from_db()
    assert email.status == "sent"
    assert email.attempts == 2
    assert email.last_error == ""
    assert _send(email) == "skipped"  # never twice


def test_gives_up_after_the_last_attempt(world: Any, settings: Any) -> None:
    configure(settings, SmtpServer(port=free_port()))
    settings.COMPTOIR_MAIL_MAX_ATTEMPTS = 2
    world.personas.owner.language = "en"  # the worker writes in the sender's language
    world.personas.owner.save(update_fields=["language"])
    email = services.compose(world.personas.owner, world.mine.account,
                             to=["buyer@client.example"], subject="Hello", body="Hi")
    assert _send(email) == "queued"
    assert _send(email) == "failed"
    email.refresh_from_db()
    assert email.last_error.startswith("Gave up after 2 attempts")


def test_a_rep_cannot_send_from_a_record_they_cannot_see(world: Any,
                                                         smtp_server: SmtpServer) -> None:
    with pytest.raises(Forbidden):
        services.compose(world.personas.owner, world.theirs.account,
                         to=["x@client.example"], subject="Hello", body="Hi")
    # nor to a contact they cannot see, nor attach another account's file
    with pytest.raises(ValidationFailed) as caught:
        services.compose(world.personas.owner, world.mine.account,
                         to=[world.theirs.contact], subject="Hello", body="Hi",
                         attachments=[world.theirs.attachment.pk])
    assert set(caught.value.fields) == {"to", "attachments"}
    assert not OutgoingEmail.objects.exists()


def test_field_errors(world: Any, smtp_server: SmtpServer) -> None:
    owner, account = world.personas.owner, world.mine.account
    owner.language = "en"  # merge fields speak the sender's language
    owner.save(update_fields=["language"])
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        services.compose(owner, account, to=["not an address", "a@b"], subject="",
                         body="Hello {{ contact.first_name|ljust:'999999999' }}",
                         attach_pdf=True)
    fields = caught.value.fields
    assert set(fields) == {"to", "subject", "body", "attach_pdf"}
    assert len(fields["to"]) == 2
    assert "ljust" in fields["body"][0]
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        services.compose(owner, account, to=[], subject="Hi {{ contact.shoe_size }}",
                         body="{% include '/etc/passwd' %}")
    fields = caught.value.fields
    assert fields["to"] == ["Give at least one recipient."]
    assert fields["subject"] == ["Unknown merge field: contact.shoe_size."]
    assert fields["body"][0].startswith("Merge field error:")
    assert not Activity.objects.filter(kind="email").exists()


def test_attachments_too_large(world: Any, settings: Any, smtp_server: SmtpServer) -> None:
    settings.COMPTOIR_MAIL_MAX_ATTACHMENT_BYTES = 10
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        services.compose(world.personas.owner, world.mine.account, to=["a@client.example"],
                         subject="Hi", body="Hi", attachments=[world.mine.attachment])
    assert "limit" in caught.value.fields["attachments"][0]


def test_template_with_a_merge_error_is_refused(world: Any) -> None:
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        services.template_save(world.personas.admin, {
            "name": "Broken", "language": "en", "subject": "{{ account.nam }}",
            "body": "{% for x in account.name %}{{ x }}{% endfor %}"})
    assert set(caught.value.fields) == {"subject", "body"}
    with pytest.raises(Forbidden):
        services.template_save(world.personas.owner, {"name": "Mine", "subject": "s",
                                                      "body": "b"})


def test_not_configured(world: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        services.compose(world.personas.owner, world.mine.account, to=["a@client.example"],
                         subject="Hi", body="Hi")
    assert "not configured" in caught.value.message
    [check] = checks.smtp_checks()
    assert check.level == "warning"
    assert check.key == "smtp"


def test_doctor_check_against_the_relay(settings: Any) -> None:
    checks._cache.clear()
    with SmtpServer(credentials=("crm", "s3cret")) as server, translation.override("en"):
        configure(settings, server)
        [check] = checks.smtp_checks()
        assert check.level == "ok", check.value
        assert "logged in" in check.value
        checks._cache.clear()
        settings.EMAIL_HOST_PASSWORD = "wrong"
        with translation.override("en"):
            [check] = checks.smtp_checks()
        assert check.level == "error"
        assert check.value.startswith("login as crm failed: 535")
    checks._cache.clear()
    with translation.override("en"):
        [check] = checks.smtp_checks()  # the server is gone
    assert check.level == "error"
    assert check.value.startswith("connecting to 127.0.0.1:")
    checks._cache.clear()


def test_mail_due_requeues_lost_and_ends_interrupted(world: Any,
                                                     smtp_server: SmtpServer) -> None:
    import datetime as dt

    from django.utils import timezone

    world.personas.owner.language = "en"  # the worker writes in the sender's language
    world.personas.owner.save(update_fields=["language"])
    email = services.compose(world.personas.owner, world.mine.account,
                             to=["a@client.example"], subject="Hi", body="Hi")
    old = timezone.now() - dt.timedelta(hours=1)
    OutgoingEmail.objects.filter(pk=email.pk).update(created_at=old)
    before = DBTaskResult.objects.count()
    assert services.mail_due()
    assert DBTaskResult.objects.count() == before + 1
    OutgoingEmail.objects.filter(pk=email.pk).update(status="sending", claimed_at=old)
    services.mail_due()
    email.refresh_from_db()
    assert email.status == "failed"
    assert "may or may not" in email.last_error

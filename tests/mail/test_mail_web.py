"""The compose page, an e-mail's status page and the mail settings, through Django's client."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from comptoir.mail import services
from comptoir.mail.models import EmailTemplate, OutgoingEmail
from comptoir.testing.smtp import SmtpServer

pytestmark = pytest.mark.django_db


def _url(target: str, pk: int) -> str:
    return reverse("web:mail_compose", args=[target, pk])


def test_record_pages_link_to_compose(world: Any, client_for: Any,
                                      smtp_server: SmtpServer) -> None:
    client = client_for(world.personas.owner)
    pages = {"account": ("web:account_detail", world.mine.account),
             "contact": ("web:contact_detail", world.mine.contact),
             "opportunity": ("web:opportunity_detail", world.mine.opportunity),
             "document": ("web:document_detail", world.mine.sales_document)}
    for target, (name, obj) in pages.items():
        page = client.get(reverse(name, args=[obj.pk]))
        assert page.status_code == 200
        assert _url(target, obj.pk) in page.content.decode(), target
        compose = client.get(_url(target, obj.pk))
        assert compose.status_code == 200
        assert "camille@olivia.example" in compose.content.decode(), target  # pre-filled


def test_compose_from_a_quote_with_a_template(world: Any, client_for: Any,
                                              smtp_server: SmtpServer,
                                              django_capture_on_commit_callbacks: Any) -> None:
    owner, quote = world.personas.owner, world.mine.sales_document
    template = EmailTemplate.objects.create(
        name="Quote", language="en", subject="Quote {{ document.number }}",
        body="Hello {{ contact.first_name }},\nplease find our quote attached.")
    client = client_for(owner)
    page = client.get(_url("document", quote.pk), {"template": template.pk, "apply": "1"})
    html = page.content.decode()
    assert f"Quote {quote.number}" in html
    assert "Hello Camille," in html
    assert 'name="attach_pdf"' in html
    assert "olivia-notes.txt" in html
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(_url("document", quote.pk), {
            "to": "Camille <camille@olivia.example>", "subject": f"Quote {quote.number}",
            "body": "Hello Camille,\nplease find our quote attached.",
            "template": str(template.pk), "attach_pdf": "on",
            "attachments": [str(world.mine.attachment.pk)]})
    assert done.status_code == 302
    assert done["Location"] == reverse("web:document_detail", args=[quote.pk])
    email = OutgoingEmail.objects.get()
    assert email.pdf_name.endswith(".pdf")
    assert list(email.attachments.all()) == [world.mine.attachment]
    assert services.send_email.call(email.pk) == "sent"
    assert smtp_server.wait_for(1)
    # the e-mail shows on the account's timeline, and its status on its own page
    account_page = client.get(reverse("web:account_detail", args=[world.mine.account.pk]))
    assert f"Quote {quote.number}" in account_page.content.decode()
    status = client.get(reverse("web:mail_detail", args=[email.pk])).content.decode()
    assert 'data-mail-status="sent"' in status


def test_compose_errors_are_422_with_field_messages(world: Any, client_for: Any,
                                                    smtp_server: SmtpServer) -> None:
    client = client_for(world.personas.owner)
    url = _url("account", world.mine.account.pk)
    empty = client.post(url, {"to": "", "subject": "", "body": ""})
    assert empty.status_code == 422
    html = empty.content.decode()
    assert "Give at least one recipient." in html
    assert "Give a subject." in html
    assert "Write the message." in html
    bad = client.post(url, {"to": "someone@", "subject": "Hi {{ contact.age }}",
                            "body": "{% load static %}"})
    assert bad.status_code == 422
    html = bad.content.decode()
    assert "“someone@” is not an e-mail address." in html
    assert "Unknown merge field: contact.age." in html
    assert "Merge field error" in html
    foreign = client.post(url, {"to": "a@client.example", "subject": "Hi", "body": "Hi",
                                "attachments": [str(world.theirs.attachment.pk)]})
    assert foreign.status_code == 422  # not one of this record's files
    assert not OutgoingEmail.objects.exists()


def test_a_rep_cannot_compose_from_another_teams_record(world: Any, client_for: Any,
                                                       smtp_server: SmtpServer) -> None:
    client = client_for(world.personas.owner)
    assert client.get(_url("account", world.theirs.account.pk)).status_code == 404
    answer = client.post(_url("account", world.theirs.account.pk),
                         {"to": "a@client.example", "subject": "Hi", "body": "Hi"})
    assert answer.status_code == 404
    assert client.get(_url("lead", world.mine.lead.pk)).status_code == 404
    email = services.compose(world.personas.outsider, world.theirs.account,
                             to=["a@client.example"], subject="Hi", body="Hi")
    assert client.get(reverse("web:mail_detail", args=[email.pk])).status_code == 404


def test_not_configured_says_so(world: Any, client_for: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    client = client_for(world.personas.owner)
    url = _url("contact", world.mine.contact.pk)
    assert 'id="mail-not-configured"' in client.get(url).content.decode()
    answer = client.post(url, {"to": "a@client.example", "subject": "Hi", "body": "Hi"})
    assert answer.status_code == 422
    assert "not configured" in answer.content.decode()


def test_signature_and_templates_settings(world: Any, client_for: Any) -> None:
    rep = client_for(world.personas.owner)
    assert rep.get(reverse("web:mail_settings")).status_code == 200
    saved = rep.post(reverse("web:mail_settings"), {"text": "Olivia\nComptoir"})
    assert saved.status_code == 302
    assert services.signature_of(world.personas.owner) == "Olivia\nComptoir"
    assert rep.get(reverse("web:mail_template_create")).status_code == 404
    admin = client_for(world.personas.admin)
    bad = admin.post(reverse("web:mail_template_create"),
                     {"name": "", "language": "en", "subject": "{{ x.y }}", "body": ""})
    assert bad.status_code == 422
    assert "Unknown merge field: x.y." in bad.content.decode()
    good = admin.post(reverse("web:mail_template_create"), {
        "name": "Follow-up", "language": "en", "subject": "Following up",
        "body": "Hello {{ contact.first_name }}", "active": "on"})
    assert good.status_code == 302
    template = EmailTemplate.objects.get(name="Follow-up")
    assert "Follow-up" in admin.get(reverse("web:mail_settings")).content.decode()
    edit = admin.post(reverse("web:mail_template_edit", args=[template.pk]), {
        "name": "Follow-up", "language": "en", "subject": "Following up again",
        "body": "Hello", "active": ""})
    assert edit.status_code == 302
    template.refresh_from_db()
    assert template.subject == "Following up again"
    assert not template.active


def test_failed_email_can_be_sent_again(world: Any, client_for: Any,
                                        smtp_server: SmtpServer) -> None:
    smtp_server.refuse["gone@client.example"] = "550 5.1.1 no such user"
    owner = world.personas.owner
    email = services.compose(owner, world.mine.account, to=["gone@client.example"],
                             subject="Hi", body="Hi")
    assert services.send_email.call(email.pk) == "bounced"
    client = client_for(owner)
    page = client.get(reverse("web:mail_detail", args=[email.pk])).content.decode()
    assert 'data-mail-status="bounced"' in page
    assert "no such user" in page
    smtp_server.refuse.clear()
    assert client.post(reverse("web:mail_resend", args=[email.pk])).status_code == 302
    assert services.send_email.call(email.pk) == "sent"

"""Sending an e-mail from a quote in a real browser, to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.mail import services
from comptoir.mail.models import EmailTemplate, OutgoingEmail
from comptoir.testing.smtp import SmtpServer, configure

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    configure(settings, server)
    yield server
    server.stop()


def test_send_a_quote_by_email_with_a_template(open_as: Any, world: Any, live_server: Any,
                                               smtp_server: SmtpServer) -> None:
    owner, quote = world.personas.owner, world.mine.sales_document
    EmailTemplate.objects.create(name="Quote", language="en",
                                 subject="Our quote {{ document.number }}",
                                 body="Hello {{ contact.first_name }},\nhere is our quote.")
    page = open_as(owner, f"/documents/{quote.pk}/")
    page.get_by_role("link", name="Send an e-mail").click()
    expect(page.get_by_role("heading", name="Send an e-mail")).to_be_visible()
    expect(page.get_by_label("To")).to_have_value(re.compile("camille@olivia.example"))
    page.get_by_label("Template").select_option(label="Quote (English)")
    page.get_by_role("button", name="Use this template").click()
    expect(page.get_by_label("Subject")).to_have_value(f"Our quote {quote.number}")
    expect(page.get_by_label("Message")).to_have_value(re.compile("Hello Camille,"))
    expect(page.get_by_label("Attach the PDF")).to_be_checked()
    page.get_by_label("olivia-notes.txt").check()
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/documents/{quote.pk}/$"))
    expect(page.get_by_text("E-mail queued")).to_be_visible()
    email = OutgoingEmail.objects.get()
    assert services.send_email.call(email.pk) == "sent"
    received = smtp_server.wait_for(1)[0].message
    assert received["Subject"] == f"Our quote {quote.number}"
    names = sorted(str(p.get_filename()) for p in received.iter_attachments())
    assert names == sorted(["olivia-notes.txt", email.pdf_name])

    page.get_by_role("link", name="See its status").click()
    expect(page.locator("[data-mail-status]")).to_have_text("Sent")
    page.goto(f"{live_server.url}/accounts/{world.mine.account.pk}/")
    expect(page.locator("#timeline").get_by_role(
        "link", name=f"Our quote {quote.number}")).to_be_visible()

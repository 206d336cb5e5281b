"""My mailbox page: connect, test the connection against a real Dovecot (what failed, in
words), secrets never rendered; a logged e-mail's page shows its text to the owner's scope only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from comptoir.mailbox.models import LoggedMessage, Mailbox
from comptoir.mailbox.services import fetch_mailbox
from comptoir.testing import factories
from comptoir.testing.dovecot import Dovecot, free_port

from .messages import message

pytestmark = pytest.mark.django_db
URL = "/mailbox/"


def _form(dovecot: Dovecot, **changes: Any) -> dict[str, Any]:
    data = {"address": "alice@mail.example", "host": dovecot.host, "port": dovecot.port,
            "security": "none", "username": "alice", "auth_kind": "password",
            "password": dovecot.users["alice"], "oauth_provider": "", "oauth_client_id": "",
            "oauth_client_secret": "", "oauth_refresh_token": "", "folders": "INBOX",
            "enabled": "on"}
    data.update(changes)
    return data


def test_the_url(db: None) -> None:
    assert reverse("web:mailbox_settings") == URL


def test_connect_a_mailbox_and_the_password_is_never_rendered(
        dovecot: Dovecot, owner: Any, client_for: Callable[..., Any]) -> None:
    client = client_for(owner)
    page = client.get(URL)
    assert page.status_code == 200
    assert b"Test connection" in page.content
    saved = client.post(URL, _form(dovecot, action="save"))
    assert saved.status_code == 302
    box = Mailbox.objects.get(user=owner)
    assert (box.host, box.port, box.username, box.password) == (
        dovecot.host, dovecot.port, "alice", "alice-secret")
    page = client.get(URL)
    assert b"alice-secret" not in page.content
    assert b"A password is stored." in page.content
    # Saving again with the password left empty keeps it.
    assert client.post(URL, _form(dovecot, password="", folders="INBOX, Sent",
                                  action="save")).status_code == 302
    box.refresh_from_db()
    assert (box.password, box.folder_names()) == ("alice-secret", ["INBOX", "Sent"])
    # An invalid form answers 422 with the field's message, and still no secret.
    bad = client.post(URL, _form(dovecot, port="99999", action="save"))
    assert bad.status_code == 422
    assert b"alice-secret" not in bad.content
    assert "port" in bad.context["form"].errors


@pytest.mark.parametrize(("changes", "problem", "words"), [
    ({}, "", "Connection works."),
    ({"password": "wrong"}, "credentials", "refused the user name or password"),
    ({"port": "PORT"}, "unreachable", "cannot be reached"),
    ({"folders": "INBOX, Old Stuff"}, "folder", "The folder Old Stuff does not exist"),
])
def test_test_connection_says_what_failed(
        dovecot: Dovecot, owner: Any, client_for: Callable[..., Any], changes: dict[str, Any],
        problem: str, words: str) -> None:
    if changes.get("port") == "PORT":
        changes = {"port": free_port()}
    page = client_for(owner).post(URL, _form(dovecot, action="test", **changes))
    assert page.status_code == 200
    assert page.context["test"]["ok"] is (problem == "")
    assert page.context["test"].get("problem", "") == problem
    assert words in page.content.decode()
    assert b"alice-secret" not in page.content
    assert not Mailbox.objects.exists()  # testing saves nothing


def test_test_connection_uses_the_stored_password_when_left_empty(
        dovecot: Dovecot, owner: Any, client_for: Callable[..., Any]) -> None:
    client = client_for(owner)
    client.post(URL, _form(dovecot, action="save"))
    page = client.post(URL, _form(dovecot, password="", action="test"))
    assert page.context["test"]["ok"] is True


def test_the_page_is_in_french_by_default(dovecot: Dovecot, owner: Any,
                                          client_for: Callable[..., Any]) -> None:
    page = client_for(owner, "fr").get(URL)
    assert page.status_code == 200


def test_a_logged_message_page_shows_the_text_to_the_owners_scope_only(
        dovecot: Dovecot, personas: Any, connect_mailbox: Callable[..., Mailbox],
        client_for: Callable[..., Any]) -> None:
    owner = personas.owner
    account = factories.account(by=owner, legal_name="Acme", billing_postcode="69002")
    factories.contact(by=owner, account=account, last_name="Durand",
                      email="camille@acme.example")
    box = connect_mailbox(owner, "alice")
    dovecot.deliver("alice", message(sender="camille@acme.example", to="alice@mail.example",
                                     subject="Prices", body="Our secret discount."))
    fetch_mailbox(box)
    url = reverse("web:mailbox_message", args=[LoggedMessage.objects.get().pk])
    mine = client_for(owner).get(url)
    assert b"Our secret discount." in mine.content
    boss = client_for(personas.lead_rep).get(url)
    assert b"Our secret discount." in boss.content
    mate = client_for(personas.teammate).get(url)  # sees the account, not the text
    assert mate.status_code == 200
    assert b"Prices" in mate.content
    assert b"Our secret discount." not in mate.content
    assert b"private to its owner" in mate.content
    assert client_for(personas.outsider).get(url).status_code == 404  # another team

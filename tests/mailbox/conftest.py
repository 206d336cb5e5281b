"""Mailbox fixtures: a real Dovecot (``comptoir.testing.dovecot``) per test, IMAP users
``alice`` and ``bob``, and a way to connect a CRM user's mailbox to one of them.

Without Dovecot the tests skip locally; CI (``COMPTOIR_REQUIRE_SERVICES=1``) fails them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from comptoir.testing.dovecot import Dovecot, require_dovecot, running_dovecot

IMAP_USERS = {"alice": "alice-secret", "bob": "bob-secret", "log": "log-secret"}


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    require_dovecot()
    with running_dovecot(IMAP_USERS) as server:
        yield server


@pytest.fixture
def connect_mailbox(dovecot: Dovecot) -> Callable[..., Any]:
    """``connect_mailbox(user, "alice", folders="INBOX", **fields)`` → a Mailbox on the test
    server for the CRM ``user``."""
    from comptoir.mailbox.models import Mailbox

    def make(user: Any, imap_user: str, **fields: Any) -> Mailbox:
        values: dict[str, Any] = {
            "host": dovecot.host, "port": dovecot.port, "security": Mailbox.Security.NONE,
            "username": imap_user, "password": dovecot.users[imap_user], "folders": "INBOX",
            "address": f"{imap_user}@mail.example",
        }
        values.update(fields)
        return Mailbox.objects.create(user=user, **values)

    return make



@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The messages stored on a mailbox are in the active language: English here, whatever
    earlier tests left active."""
    from django.utils import translation

    with translation.override("en"):
        yield

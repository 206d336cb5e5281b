"""Agenda sync fixtures: a real Radicale (``comptoir.testing.radicale``) per test with the
CalDAV user ``alice`` and her calendar ``work``, and the CRM user's account on it.

Without Radicale the tests skip locally; CI (``COMPTOIR_REQUIRE_SERVICES=1``) fails them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from comptoir.testing.radicale import Radicale, require_radicale, running_radicale

DAV_USERS = {"alice": "alice-secret"}


@pytest.fixture
def radicale() -> Iterator[Radicale]:
    require_radicale()
    with running_radicale(DAV_USERS) as server:
        server.make_calendar("alice", "work")
        yield server


@pytest.fixture
def agenda(radicale: Radicale, owner: Any) -> Any:
    """The ``owner`` persona's agenda sync on alice's calendar."""
    from comptoir.caldav.models import CalendarAccount

    return CalendarAccount.objects.create(user=owner, server_url=radicale.url,
                                          username="alice", password="alice-secret",
                                          calendar="work")


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The sync's messages (stored on the account) are in the active language: English
    here, whatever earlier tests left active."""
    from django.utils import translation

    with translation.override("en"):
        yield

"""Outgoing-mail fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1 that Django sends to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from comptoir.testing.smtp import SmtpServer, configure


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """A running SMTP server, and Django's mail settings pointing at it."""
    server = SmtpServer().start()
    configure(settings, server)
    yield server
    server.stop()

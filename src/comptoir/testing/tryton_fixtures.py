"""pytest fixtures for a real Tryton server (see ``comptoir.testing.tryton``).

Load them with ``pytest_plugins = ["comptoir.testing.tryton_fixtures"]`` in a conftest, or import
``tryton`` and ``tryton_template`` (``tryton_messy`` and ``tryton_messy_template`` for the
real-world-dirty data set of ``tryton_messy.py``) into a test module. Without Tryton's
environment they skip with "Tryton not installed: make tryton" (a failure under
``COMPTOIR_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from comptoir.testing.tryton import SKIP_REASON, TrytonServer, build_template, tryton_available


@pytest.fixture(scope="session")
def tryton_template() -> Path:
    """The seeded ``small`` database, built once per machine (cached) and shared read-only."""
    if not tryton_available():
        pytest.skip(SKIP_REASON)
    return build_template(profile="small")


@pytest.fixture
def tryton(tryton_template: Path, tmp_path: Path) -> Iterator[TrytonServer]:
    """A running Tryton server on a fresh copy of the template: each test has its own data.

    Its directory (database, ``trytond.conf``, ``trytond.log``) is under the test's
    ``tmp_path``; the server is stopped (SIGTERM, then SIGKILL) when the test ends.
    """
    server = TrytonServer(tryton_template, workdir=tmp_path / "tryton")
    with server:
        yield server


@pytest.fixture(scope="session")
def tryton_messy_template() -> Path:
    """The ``messy`` database (dirty names, e-mails, phones, identifiers; documents in every
    state: see ``tryton_messy.py``), built once per machine (cached) and shared read-only."""
    if not tryton_available():
        pytest.skip(SKIP_REASON)
    return build_template(profile="messy")


@pytest.fixture
def tryton_messy(tryton_messy_template: Path, tmp_path: Path) -> Iterator[TrytonServer]:
    """A running Tryton server on a fresh copy of the messy template, like ``tryton``;
    ``apply_messy_changes(server)`` applies the change set to it."""
    server = TrytonServer(tryton_messy_template, workdir=tmp_path / "tryton-messy")
    with server:
        yield server

"""Shared fixtures: isolated files, personas, their records, API clients.

The data directory (``COMPTOIR_DATA_DIR``) is set by ``comptoir.testing.pytest_plugin``, which
``addopts`` loads before pytest-django reads the settings; setting it here would be too late.
The strict-skip flag (``COMPTOIR_REQUIRE_SERVICES=1``) lives in the same plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from comptoir.testing.api import ApiClient


@pytest.fixture(autouse=True)
def _isolated_files(settings: Any, tmp_path: Path) -> Path:
    """Uploaded files go to this test's own directory, never into the repository."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)
    # Passwords are not what is tested; the default hasher costs ~100 ms per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return media


@pytest.fixture
def media_root(_isolated_files: Path) -> Path:
    return _isolated_files


@pytest.fixture
def personas(db: None) -> Any:
    from comptoir.testing.personas import make_personas

    return make_personas()


@pytest.fixture
def owner(personas: Any) -> Any:
    return personas.owner


@pytest.fixture
def teammate(personas: Any) -> Any:
    return personas.teammate


@pytest.fixture
def manager(personas: Any) -> Any:
    return personas.manager


@pytest.fixture
def outsider(personas: Any) -> Any:
    return personas.outsider


@pytest.fixture
def admin(personas: Any) -> Any:
    return personas.admin


@pytest.fixture
def data_manager(personas: Any) -> Any:
    return personas.data_manager


@pytest.fixture
def marketing(personas: Any) -> Any:
    return personas.marketing


@pytest.fixture
def service_user(personas: Any) -> Any:
    return personas.service


@pytest.fixture
def world(personas: Any) -> Any:
    """The owner's and the outsider's records of every kind, and a catalogue."""
    from comptoir.testing.personas import make_world

    return make_world(personas)


@pytest.fixture(scope="module")
def module_world(django_db_setup: None, django_db_blocker: Any) -> Any:
    """One world for a whole module, built inside a transaction rolled back at its end.

    Each test still runs in its own savepoint (pytest-django's ``db``), so what a test changes
    is undone; use it through ``shared_world``, which re-reads the instances for each test. A
    module using it must not create personas of its own (the usernames are taken). Its
    attachment files live under the session's media directory, not the test's.
    """
    from django.db import transaction

    from comptoir.testing.personas import make_world

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = make_world()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


@pytest.fixture
def shared_world(module_world: Any, db: None) -> Any:
    from comptoir.testing.personas import refreshed

    return refreshed(module_world)


@pytest.fixture
def pipeline(db: None) -> Any:
    from comptoir.testing import factories

    return factories.default_pipeline()


@pytest.fixture
def api(db: None) -> Callable[[Any], ApiClient]:
    """``api(user)``: an API client authenticated as ``user`` (one token per user and test);
    ``api(None)``: anonymous."""
    clients: dict[Any, ApiClient] = {}

    def make(user: Any) -> ApiClient:
        key = None if user is None else user.pk
        if key not in clients:
            clients[key] = ApiClient() if user is None else ApiClient.for_user(user)
        return clients[key]

    return make


@pytest.fixture
def client_for(db: None) -> Callable[..., Client]:
    """``client_for(user)``: a Django test client signed in as ``user``, in English."""

    def make(user: Any, language: str = "en") -> Client:
        if user.language != language:
            user.language = language
            user.save(update_fields=["language"])
        client = Client()
        client.force_login(user)
        return client

    return make

"""Web application fixtures: signed-in Django clients and a real browser on a live server.

Browser tests drive Debian's chromium (``apt-get install chromium``) through Playwright,
launched by path — never a browser downloaded by ``playwright install``. Without chromium the
browser tests are skipped locally; CI (``COMPTOIR_REQUIRE_SERVICES=1``) turns that into a
failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
# thread with a running loop unless told this is deliberate (tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

try:  # a condition waited for, with a bound generous enough for a loaded CI machine
    from playwright.sync_api import expect as _expect

    _expect.set_options(timeout=20_000)
except ImportError:  # without Playwright the browser tests are skipped (failed in CI)
    pass

CHROMIUM = os.environ.get("COMPTOIR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not found at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "en-GB", "timezone_id": "Europe/Paris"}


def with_password(user: Any, language: str = "en") -> Any:
    """Give a test user a password and a language (factories make neither)."""
    user.set_password(PASSWORD)
    user.language = language
    user.save(update_fields=["password", "language"])
    return user


@pytest.fixture
def open_as(live_server: Any, browser: Any, transactional_db: None
            ) -> Iterator[Callable[..., Any]]:
    """``open_as(user, path="/", phone=False)``: a browser page signed in as ``user``.

    The session comes from Django's own login (``force_login``) so each test spends its time
    on what it checks; ``test_browser_auth`` covers the sign-in form itself.
    """
    contexts: list[Any] = []

    def make(user: Any, path: str = "/", *, phone: bool = False, language: str = "en") -> Any:
        if user.language != language:
            user.language = language
            user.save(update_fields=["language"])
        client = Client()
        client.force_login(user)
        context = browser.new_context(locale="en-GB", timezone_id="Europe/Paris",
                                      **(PHONE if phone else {}))
        context.set_default_timeout(20_000)
        context.add_cookies([{
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": live_server.url,
        }])
        contexts.append(context)
        page = context.new_page()
        page.goto(live_server.url + path)
        return page

    yield make
    for context in contexts:
        context.close()

"""Sign-in throttling: a user name, or an address, locked for a while after too many failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from comptoir.access import throttle
from comptoir.access.models import LoginThrottle

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
LOCKED = "Too many failed sign-in attempts"
WRONG = "Please enter a correct username and password"


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.COMPTOIR_LOGIN_MAX_FAILURES = 5
    settings.COMPTOIR_LOGIN_IP_MAX_FAILURES = 20
    settings.COMPTOIR_LOGIN_WINDOW_MINUTES = 15
    settings.COMPTOIR_LOGIN_LOCKOUT_MINUTES = 15
    settings.COMPTOIR_BEHIND_PROXY = False
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def user(owner: Any) -> Any:
    owner.set_password(PASSWORD)
    owner.language = "en"
    owner.save()
    return owner


def sign_in(username: str, password: str, ip: str = "192.0.2.1", **extra: str) -> Any:
    client = Client(REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en", **extra)
    return client.post("/login/", {"username": username, "password": password})


def fail(username: str, times: int, ip: str = "192.0.2.1") -> Any:
    response = None
    for _ in range(times):
        response = sign_in(username, "wrong", ip)
    return response


def later(monkeypatch: Any, minutes: float) -> None:
    moment = timezone.now() + timedelta(minutes=minutes)
    monkeypatch.setattr(throttle, "_now", lambda: moment)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_five_failures_lock_the_user_name_even_with_the_right_password(user: Any) -> None:
    response = fail("owner", 4)
    assert response.status_code == 200
    assert WRONG in response.content.decode()
    response = fail("owner", 1)
    assert response.status_code == 429  # the fifth failure locks, and says so
    assert LOCKED in response.content.decode()
    assert int(response["Retry-After"]) > 14 * 60
    response = sign_in("owner", PASSWORD)
    assert response.status_code == 429
    text = response.content.decode()
    assert LOCKED in text
    assert "Try again at" in text
    assert "(in 15 min)" in text
    assert "_auth_user_id" not in response.client.session
    # another user from the same address is not concerned
    assert sign_in("teammate", "wrong").status_code == 200


def test_the_lock_ends_after_the_lockout(user: Any, monkeypatch: Any) -> None:
    fail("owner", 5)
    later(monkeypatch, 16)
    response = sign_in("owner", PASSWORD)
    assert response.status_code == 302
    assert response.client.session["_auth_user_id"] == str(user.pk)


def test_failures_outside_the_window_do_not_add_up(user: Any, monkeypatch: Any) -> None:
    fail("owner", 4)
    later(monkeypatch, 16)
    assert fail("owner", 4).status_code == 200
    assert sign_in("owner", PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_user_counter(user: Any) -> None:
    fail("owner", 4)
    assert sign_in("owner", PASSWORD).status_code == 302
    assert fail("owner", 4).status_code == 200
    assert sign_in("owner", PASSWORD).status_code == 302


def test_unknown_user_names_get_the_same_answers(user: Any) -> None:
    """Nothing tells whether a user name exists: same message, same lock, same status."""
    known = [fail("owner", 1).content.decode() for _ in range(5)]
    unknown = [fail("nobody-here", 1).content.decode() for _ in range(5)]

    def message(page: str) -> str:
        start = page.index('id="signin-error"')
        return page[start:page.index("</div>", start)]

    for k, u in zip(known, unknown, strict=True):
        assert message(k) == message(u).replace("nobody-here", "owner")
    assert sign_in("nobody-here", "x").status_code == sign_in("owner", PASSWORD).status_code


def test_user_names_are_matched_without_case_or_spaces_and_stored_hashed(user: Any) -> None:
    fail("Owner", 2)
    fail(" OWNER ", 3)
    assert sign_in("owner", PASSWORD).status_code == 429
    keys = set(LoginThrottle.objects.values_list("key", flat=True))
    assert not any("owner" in key.lower() for key in keys)


def test_twenty_failures_from_one_address_lock_it(user: Any) -> None:
    for i in range(19):
        assert sign_in(f"guess{i}", "wrong", "198.51.100.7").status_code == 200
    response = sign_in("guess-last", "wrong", "198.51.100.7")
    assert response.status_code == 429
    # locked for everybody from there, right password or not
    assert sign_in("owner", PASSWORD, "198.51.100.7").status_code == 429
    # another address signs in
    assert sign_in("owner", PASSWORD, "198.51.100.8").status_code == 302


def test_an_ipv6_address_counts_by_its_64(user: Any) -> None:
    for i in range(20):
        sign_in(f"guess{i}", "wrong", f"2001:db8:1:2::{i + 1:x}")
    assert sign_in("owner", PASSWORD, "2001:db8:1:2::ffff").status_code == 429
    assert sign_in("owner", PASSWORD, "2001:db8:1:3::1").status_code == 302


def test_behind_a_proxy_the_forwarded_address_counts(user: Any, settings: Any) -> None:
    settings.COMPTOIR_BEHIND_PROXY = True
    settings.COMPTOIR_LOGIN_IP_MAX_FAILURES = 3
    proxy = "10.0.0.1"
    for i in range(3):
        sign_in(f"guess{i}", "wrong", proxy, HTTP_X_FORWARDED_FOR="203.0.113.5")
    # the forged first entry is ignored: the last one is what the proxy saw
    assert sign_in("owner", PASSWORD, proxy,
                   HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5").status_code == 429
    assert sign_in("owner", PASSWORD, proxy,
                   HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302


def test_thresholds_come_from_the_settings(user: Any, settings: Any) -> None:
    settings.COMPTOIR_LOGIN_MAX_FAILURES = 2
    fail("owner", 1)
    assert fail("owner", 1).status_code == 429
    settings.COMPTOIR_LOGIN_MAX_FAILURES = 0  # off
    settings.COMPTOIR_LOGIN_IP_MAX_FAILURES = 0
    LoginThrottle.objects.all().delete()
    assert fail("owner", 30).status_code == 200
    assert not LoginThrottle.objects.exists()
    assert sign_in("owner", PASSWORD).status_code == 302


def test_stale_rows_are_pruned(user: Any, monkeypatch: Any) -> None:
    fail("owner", 2)
    fail("teammate", 5)
    assert LoginThrottle.objects.count() == 3  # two user names, one address
    later(monkeypatch, 31)
    fail("someone", 1, ip="192.0.2.99")
    assert LoginThrottle.objects.count() == 2  # only the new failure's two rows


def test_the_back_office_sign_in_is_throttled_too(user: Any) -> None:
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client(REMOTE_ADDR="192.0.2.1", HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(5):
        client.post("/admin/login/", {"username": "owner", "password": "wrong"})
    response = client.post("/admin/login/?next=/admin/",
                           {"username": "owner", "password": PASSWORD})
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session
    # and the lock is shared with the application's sign-in page
    assert sign_in("owner", PASSWORD).status_code == 429


def test_a_refused_non_staff_user_with_the_right_password_is_not_counted(user: Any) -> None:
    client = Client(REMOTE_ADDR="192.0.2.1", HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(6):
        client.post("/admin/login/", {"username": "owner", "password": PASSWORD})
    assert not LoginThrottle.objects.exists()
    assert sign_in("owner", PASSWORD).status_code == 302

"""Personal API tokens (stored hashed, revocable, expiring) and ``/me``."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from comptoir.access.models import ApiToken
from comptoir.api.auth import TOKEN_PREFIX, issue_token
from comptoir.testing.api import ApiClient


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def test_the_raw_token_is_never_stored(world: Any) -> None:
    token, raw = issue_token(world.personas.owner, "laptop")
    assert raw.startswith(TOKEN_PREFIX)
    assert len(raw) > 40
    row = ApiToken.objects.get(pk=token.pk)
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert row.prefix == raw[:12]
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert all(raw not in value for value in stored)
    # nowhere in the table, whatever the column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        for db_row in cursor.fetchall():
            assert all(raw not in str(value) for value in db_row)


def test_each_token_is_different(world: Any) -> None:
    raws = {issue_token(world.personas.owner, f"t{n}")[1] for n in range(20)}
    assert len(raws) == 20


def test_create_token_through_the_api_shows_it_once(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    created = client.post("me/tokens", {"name": "CI", "days": 30}).expect(201)
    raw = created["token"]
    assert raw.startswith(TOKEN_PREFIX)
    assert created["prefix"] == raw[:12]
    expires = dt.datetime.fromisoformat(created["expires_at"])
    assert abs(expires - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    me = ApiClient(raw).get("me").expect(200)
    assert me["username"] == "owner"
    listed = client.get("me/tokens").expect(200)
    assert created["id"] in [t["id"] for t in listed]
    assert all("token" not in t and raw not in str(t) for t in listed)


def test_token_list_shows_only_ones_own_tokens(world: Any, api: Any) -> None:
    issue_token(world.personas.outsider, "theirs")
    names = [t["name"] for t in api(world.personas.owner).get("me/tokens").expect(200)]
    assert "theirs" not in names


def test_revoke(world: Any, api: Any) -> None:
    token, raw = issue_token(world.personas.owner, "laptop")
    mine = ApiClient(raw)
    mine.get("me").expect(200)
    api(world.personas.owner).delete(f"me/tokens/{token.pk}").expect(204)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not token.is_valid
    mine.get("me").error(401)
    api(world.personas.owner).delete(f"me/tokens/{token.pk}").error(404)  # already revoked


def test_a_token_can_revoke_itself(world: Any) -> None:
    token, raw = issue_token(world.personas.owner, "laptop")
    ApiClient(raw).delete(f"me/tokens/{token.pk}").expect(204)
    ApiClient(raw).get("me").error(401)


def test_expiry(world: Any) -> None:
    token, raw = issue_token(world.personas.owner, "short", days=1)
    assert token.expires_at is not None
    assert token.expires_at > timezone.now() + dt.timedelta(hours=23)
    client = ApiClient(raw)
    client.get("me").expect(200)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now()
                                                - dt.timedelta(seconds=1))
    client.get("me").error(401)
    _never, forever = issue_token(world.personas.owner, "forever")
    assert _never.expires_at is None
    ApiClient(forever).get("me").expect(200)


def test_last_use_is_recorded_without_a_write_per_request(world: Any) -> None:
    token, raw = issue_token(world.personas.owner, "laptop")
    assert token.last_used_at is None
    client = ApiClient(raw)
    client.get("me").expect(200)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get("me").expect(200)
    token.refresh_from_db()
    assert token.last_used_at == first  # within five minutes: not rewritten
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=10))
    client.get("me").expect(200)
    token.refresh_from_db()
    assert token.last_used_at > first - dt.timedelta(minutes=10)


def test_a_forged_token_with_a_known_prefix_is_refused(world: Any) -> None:
    _token, raw = issue_token(world.personas.owner, "laptop")
    ApiClient(raw[:-1] + ("A" if raw[-1] != "A" else "B")).get("me").error(401)
    ApiClient(raw.upper()).get("me").error(401)


@pytest.mark.parametrize(("persona", "sees_all", "scope", "territories"), [
    ("owner", False, {"owner"}, {"rhone"}),
    ("teammate", False, {"teammate"}, {"rhone"}),
    ("lead_rep", False, {"lead_rep", "owner"}, {"rhone"}),
    ("manager", False, {"manager", "lead_rep", "owner"}, {"rhone"}),
    ("outsider", False, {"outsider"}, {"provence"}),
    ("marketing", False, {"marketing"}, set()),
    ("admin", True, {"admin"}, set()),
    ("data_manager", True, {"data_manager"}, set()),
])
def test_me_describes_the_user_and_their_scope(world: Any, api: Any, persona: str,
                                               sees_all: bool, scope: set[str],
                                               territories: set[str]) -> None:
    p = world.personas
    user = getattr(p, persona)
    me = api(user).get("me").expect(200)
    assert (me["id"], me["username"], me["role"]) == (user.pk, user.username, user.role)
    assert me["sees_all"] is sees_all
    assert me["scope_user_ids"] == sorted(getattr(p, n).pk for n in scope)
    assert me["territory_ids"] == sorted(getattr(p, n).pk for n in territories)
    assert me["manager_id"] == (user.manager_id)

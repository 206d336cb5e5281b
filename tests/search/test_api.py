"""``GET /api/v1/search``: the hits, the filters, the errors in the project's one shape."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def test_hits_for_the_caller(world: Any, api: Any) -> None:
    body = api(world.personas.owner).get("/search", params={"q": "olivia indus"}).expect(200)
    assert body["q"] == "olivia indus"
    first = body["items"][0]
    assert (first["object_type"], first["object_id"]) == ("account", world.mine.account.pk)
    assert first["title"] == "Olivia Industries"
    assert first["match"] == "prefix"
    assert first["matched"] == ["olivia", "industries"]
    assert first["score"] > 200
    assert set(first) == {"object_type", "object_id", "title", "subtitle", "score", "match",
                          "matched"}


def test_types_and_limit(world: Any, api: Any) -> None:
    client = api(world.personas.admin)
    body = client.get("/search", params={"q": "olivia", "types": "contact,case"}).expect(200)
    assert {i["object_type"] for i in body["items"]} == {"contact", "case"}
    body = client.get("/search", params={"q": "olivia", "limit": 2}).expect(200)
    assert len(body["items"]) == 2


def test_the_outsider_gets_none_of_the_owners_records(world: Any, api: Any) -> None:
    body = api(world.personas.outsider).get("/search", params={"q": "olivia"}).expect(200)
    assert body["items"] == []
    body = api(world.personas.outsider).get("/search", params={"q": "oscar"}).expect(200)
    assert body["items"]


@pytest.mark.parametrize("q", ["", "a", " a "])
def test_a_query_shorter_than_two_characters_is_refused(world: Any, api: Any, q: str) -> None:
    error = api(world.personas.owner).get("/search", params={"q": q}).error(400)
    assert error["code"] == "bad_request"
    assert list(error["fields"]) == ["q"]


def test_an_unknown_type_is_refused(world: Any, api: Any) -> None:
    error = api(world.personas.owner).get(
        "/search", params={"q": "olivia", "types": "account,spaceship"}).error(400)
    assert list(error["fields"]) == ["types"]
    assert "spaceship" in error["fields"]["types"][0]


def test_anonymous_callers_are_refused(world: Any, api: Any) -> None:
    api(None).get("/search", params={"q": "olivia"}).error(401)


def test_it_is_in_the_openapi_document(world: Any, api: Any) -> None:
    schema = api(world.personas.owner).get("/openapi.json").expect(200)
    assert "/api/v1/search" in schema["paths"]

"""The API's limits and formats are stated in its OpenAPI document and enforced; every path
under ``/api/`` answers in the one JSON error format, unknown ones included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from comptoir.api.listing import MAX_LIMIT
from comptoir.testing.api import ApiClient, assert_error_shape


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


@pytest.fixture
def schema(world: Any, api: Any) -> dict[str, Any]:
    return api(world.personas.owner).get("/openapi.json").expect(200)  # type: ignore[no-any-return]


def _param(schema: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    for param in schema["paths"][path][method]["parameters"]:
        if param["name"] == name:
            return param  # type: ignore[no-any-return]
    raise AssertionError(f"{name} not a parameter of {method.upper()} {path}")


def _type(param: dict[str, Any]) -> dict[str, Any]:
    """The parameter's schema, the ``null`` branch of an optional one left out."""
    found = param["schema"]
    for branch in found.get("anyOf", []):
        if branch.get("type") != "null":
            return {**found, **branch}
    return found  # type: ignore[no-any-return]


# --- Limits and formats in the OpenAPI document ---------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api/v1/opportunities",
                                  "/api/v1/accounts/{pk}/contacts",
                                  "/api/v1/duplicates/pairs", "/api/v1/integration/runs",
                                  "/api/v1/integration/quarantine", "/api/v1/promotions"])
def test_every_list_states_its_limit_and_cursor(schema: dict[str, Any], path: str) -> None:
    limit = _type(_param(schema, path, "limit"))
    assert (limit["minimum"], limit["maximum"]) == (1, MAX_LIMIT)
    assert str(MAX_LIMIT) in _param(schema, path, "limit")["description"]
    assert "next_cursor" in _param(schema, path, "cursor")["description"]


def test_date_filters_state_their_format(schema: dict[str, Any]) -> None:
    param = _param(schema, "/api/v1/accounts", "updated_at__lte")
    assert _type(param)["format"] == "date-time"
    assert "ISO 8601" in param["description"]
    assert "descending" in _param(schema, "/api/v1/accounts", "ordering")["description"]


def test_search_states_its_types_and_limit(schema: dict[str, Any]) -> None:
    types = _param(schema, "/api/v1/search", "types")
    assert "account" in types["description"]
    assert "product" in types["description"]
    limit = _type(_param(schema, "/api/v1/search", "limit"))
    assert (limit["minimum"], limit["maximum"]) == (1, 100)


# --- Invalid values refused with a field message --------------------------------------------

@pytest.mark.parametrize(("name", "value"), [
    ("updated_at__lte", "0.5"), ("updated_at__gte", "12"), ("created_at__lte", "-0"),
    ("updated_at__lte", "yesterday"), ("created_at__gte", "1e3"),
])
def test_a_date_filter_that_is_not_an_iso_date_is_422(world: Any, api: Any, name: str,
                                                      value: str) -> None:
    error = api(world.personas.owner).get("accounts", {name: value}).error(422)
    assert list(error["fields"]) == [name]


@pytest.mark.parametrize(("name", "value"), [("expected_close_date__lte", "0"),
                                             ("expected_close_date__gte", "-0")])
def test_a_day_filter_that_is_not_an_iso_date_is_422(world: Any, api: Any, name: str,
                                                     value: str) -> None:
    error = api(world.personas.owner).get("opportunities", {name: value}).error(422)
    assert list(error["fields"]) == [name]


@pytest.mark.parametrize("value", ["2025-01-31", "2025-01-31T12:00:00", "2025-01-31 12:00",
                                   "2025-01-31T12:00:00+01:00", "2025-01-31T11:00:00Z"])
def test_iso_dates_are_accepted(world: Any, api: Any, value: str) -> None:
    api(world.personas.owner).get("accounts", {"updated_at__lte": value}).expect(200)
    api(world.personas.owner).get("opportunities",
                                  {"expected_close_date__lte": value[:10]}).expect(200)


@pytest.mark.parametrize("path", ["accounts", "duplicates/pairs", "search?q=olivia"])
@pytest.mark.parametrize("limit", ["0", str(MAX_LIMIT + 1)])
def test_a_limit_out_of_range_is_422_naming_the_cap(world: Any, api: Any, path: str,
                                                    limit: str) -> None:
    cap = 100 if path.startswith("search") else MAX_LIMIT
    error = api(world.personas.admin).get(path, {"limit": limit}).error(422)
    message = " ".join(error["fields"]["limit"])
    assert str(cap if limit != "0" else 1) in message


def test_the_overview_limit_is_bounded(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    path = f"accounts/{world.mine.account.pk}/overview"
    client.get(path, {"limit": 50}).expect(200)
    assert "50" in " ".join(client.get(path, {"limit": 51}).error(422)["fields"]["limit"])


@pytest.mark.parametrize("path", ["accounts", "duplicates/pairs", "integration/runs",
                                  "promotions"])
def test_a_malformed_cursor_is_422(world: Any, api: Any, path: str) -> None:
    error = api(world.personas.admin).get(path, {"cursor": "not a cursor!"}).error(422)
    assert list(error["fields"]) == ["cursor"]


# --- JSON errors on every path under /api/ --------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/nope/", "/api/v1/accounts/abc",
                                  "/api/v1/accounts/999999999/nope", "/api/v2/accounts",
                                  "/api/", "/api/v1/accounts/1/contacts/x"])
@pytest.mark.parametrize("authenticated", [True, False])
def test_an_unknown_api_path_is_a_json_404(world: Any, path: str, authenticated: bool) -> None:
    client = ApiClient.for_user(world.personas.owner) if authenticated else ApiClient(None)
    response = client.get(path)
    assert response["Content-Type"].startswith("application/json")
    error = response.error(404)
    assert error["code"] == "not_found"


def test_an_unknown_record_is_a_json_404(world: Any, api: Any) -> None:
    assert api(world.personas.owner).get("accounts/999999999").error(404)["code"] == "not_found"


@pytest.mark.parametrize(("method", "path"), [("put", "accounts"), ("delete", "accounts"),
                                              ("post", "me"), ("put", "accounts/1")])
def test_a_wrong_method_is_a_json_405(world: Any, method: str, path: str) -> None:
    client = ApiClient.for_user(world.personas.owner)
    response = client.request(method.upper(), path, json_body={})
    assert response["Content-Type"].startswith("application/json")
    error = response.error(405)
    assert error["code"] == "method_not_allowed"
    assert response.has_header("Allow")


def test_pages_outside_the_api_keep_their_html_404(world: Any) -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code in (302, 404)
    assert not response["Content-Type"].startswith("application/json")


def test_an_html_error_under_the_api_becomes_json(world: Any) -> None:
    """Whatever answers an HTML error under ``/api/`` (Django's 500 page, a middleware's 400)
    is turned into the one format, status kept; other pages are left alone."""
    from django.http import HttpResponse, HttpResponseServerError
    from django.test import RequestFactory

    from comptoir.api.middleware import ApiErrorMiddleware

    page = ApiErrorMiddleware(lambda request: HttpResponseServerError(b"<h1>Server Error</h1>"))
    response = page(RequestFactory().get("/api/v1/accounts"))
    assert response.status_code == 500
    assert_error_shape(json.loads(response.content), 500)
    assert page(RequestFactory().get("/accounts/")).content == b"<h1>Server Error</h1>"
    ok = ApiErrorMiddleware(lambda request: HttpResponse(b"<html></html>"))
    assert ok(RequestFactory().get("/api/v1/docs")).content == b"<html></html>"

"""An API client for tests: ``django.test.Client`` with a bearer token and JSON helpers.

    api = ApiClient.for_user(owner)
    body = api.get("/accounts", params={"owner_id": owner.pk}).expect(200)
    api.patch(f"/accounts/{pk}", {"trade_name": "Acme"}).expect(200)
    ids = [item["id"] for item in api.walk("/accounts", ordering="-created_at")]

Paths are relative to ``/api/v1``. ``expect`` asserts the status and shows the body when it
differs, and checks that every error answer has the uniform error shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.test import Client

BASE = "/api/v1"

ERROR_KEYS = {"status", "code", "message", "fields"}


class Response:
    """A thin wrapper around the Django test response."""

    def __init__(self, raw: Any, method: str, path: str) -> None:
        self.raw = raw
        self.method = method
        self.path = path

    @property
    def status(self) -> int:
        return self.raw.status_code

    @property
    def content(self) -> bytes:
        if self.raw.streaming:  # FileResponse (downloads)
            return b"".join(self.raw.streaming_content)
        return bytes(self.raw.content)

    def __getitem__(self, header: str) -> str:
        return self.raw[header]

    def has_header(self, header: str) -> bool:
        return self.raw.has_header(header)

    def json(self) -> Any:
        return json.loads(self.content or b"null")

    def expect(self, status: int) -> Any:
        """Assert the status; return the decoded JSON body (``None`` when empty)."""
        body: Any
        try:
            body = self.json()
        except ValueError:
            body = self.content[:500]
        assert self.status == status, (
            f"{self.method} {self.path}: expected {status}, got {self.status}: {body!r}")
        if status >= 400:
            assert_error_shape(body, status)
        return body

    def error(self, status: int) -> dict[str, Any]:
        """Assert an error answer with this status; return its ``error`` object."""
        body = self.expect(status)
        return body["error"]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<Response {self.method} {self.path} {self.status}>"


def assert_error_shape(body: Any, status: int) -> None:
    """The one error format: ``{"error": {"status", "code", "message", "fields"}}`` (plus
    ``details`` for the errors that carry more, e.g. the candidates of a refused duplicate)."""
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) - {"details"} == ERROR_KEYS, error
    assert isinstance(error.get("details", {}), dict), error
    assert error["status"] == status, error
    assert isinstance(error["code"], str), error
    assert error["code"], error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert isinstance(error["fields"], dict), error
    for name, messages in error["fields"].items():
        assert isinstance(name, str), error
        assert isinstance(messages, list), error
        assert all(isinstance(m, str) for m in messages), error


class ApiClient:
    """Calls ``/api/v1`` as one user (bearer token), or anonymously (``token=None``)."""

    def __init__(self, token: str | None = None, *, client: Client | None = None) -> None:
        self.token = token
        self.client = client or Client()

    @classmethod
    def for_user(cls, user: Any, *, name: str = "tests", days: int | None = None
                 ) -> ApiClient:
        from comptoir.api.auth import issue_token

        _token, raw = issue_token(user, name, days=days)
        return cls(raw)

    def _headers(self, headers: Mapping[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.token is not None:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    @staticmethod
    def url(path: str) -> str:
        return path if path.startswith(BASE) else f"{BASE}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, raw_body: bytes | str | None = None,
                content_type: str = "application/json",
                headers: Mapping[str, str] | None = None) -> Response:
        url = self.url(path)
        call = getattr(self.client, method.lower())
        kwargs: dict[str, Any] = {"headers": self._headers(headers)}
        if method.upper() in {"GET", "HEAD"}:
            kwargs["data"] = {k: v for k, v in (params or {}).items() if v is not None}
        else:
            if params:
                from urllib.parse import urlencode

                url = f"{url}?{urlencode(params)}"
            if raw_body is not None:
                kwargs.update(data=raw_body, content_type=content_type)
            elif json_body is not None:
                kwargs.update(data=json.dumps(json_body, default=str),
                              content_type="application/json")
        return Response(call(url, **kwargs), method.upper(), url)

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Response:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, json_body=body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.request("PATCH", path, json_body=body if body is not None else {}, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)

    def upload(self, path: str, data: Mapping[str, Any], **kw: Any) -> Response:
        """A multipart POST; file values are ``SimpleUploadedFile`` or open files."""
        url = self.url(path)
        raw = self.client.post(url, data=dict(data), headers=self._headers(kw.get("headers")))
        return Response(raw, "POST", url)

    def walk(self, path: str, *, page_size: int = 50, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list, following ``next_cursor`` to the last page."""
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            query = {**params, "limit": page_size, "cursor": cursor}
            page = self.get(path, query).expect(200)
            yield from page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return
            assert cursor not in seen_cursors, f"cursor loop on {path}"
            seen_cursors.add(cursor)

    def ids(self, path: str, **params: Any) -> list[int]:
        """The ids of every item of a list (all pages)."""
        return [item["id"] for item in self.walk(path, page_size=500, **params)]

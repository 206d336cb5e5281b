"""The API docs work offline (local static files only) and the OpenAPI schema is built once."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import ninja.main
import pytest
from django.test import Client, override_settings

from comptoir.config.api import api

pytestmark = pytest.mark.django_db


def _assets(html: str) -> list[str]:
    return re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]+)"', html)


def test_docs_page_references_no_external_url(client_for: Any, owner: Any) -> None:
    response = client_for(owner).get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn." not in html
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html), html
    assets = _assets(html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert all(a.startswith("/static/") for a in assets), assets
    # Swagger UI's default validator badge would be fetched from validator.swagger.io
    assert '"validatorUrl": null' in html


def test_docs_static_files_are_served(client_for: Any, owner: Any) -> None:
    html = client_for(owner).get("/api/v1/docs").content.decode()
    with override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=False):
        static = Client()  # a fresh handler: WhiteNoise reads its settings when built
        for asset in _assets(html):
            response = static.get(asset)
            assert response.status_code == 200, asset
            body = b"".join(response.streaming_content) if response.streaming \
                else response.content
            assert len(body) > 100, asset


def test_openapi_schema_is_built_once_per_process(client_for: Any, owner: Any) -> None:
    api.forget_openapi_schema()
    client = client_for(owner)
    with mock.patch.object(ninja.main, "get_schema", wraps=ninja.main.get_schema) as build:
        first = client.get("/api/v1/openapi.json")
        second = client.get("/api/v1/openapi.json")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["paths"]
    assert build.call_count == 1

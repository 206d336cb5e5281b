"""A write that cannot get SQLite's write lock in time is a 503 "try again", never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from comptoir.crm import services as crm
from comptoir.testing import factories


@pytest.fixture
def locked(monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(crm, "update_record", busy)  # as SQLite says after its busy timeout


def test_api_answers_503_with_retry_after(owner: Any, api: Any, locked: None) -> None:
    account = factories.account(by=owner, legal_name="Busy SA", owner_id=owner.pk)
    response = api(owner).patch(f"accounts/{account.pk}", {"website": "https://b.example"})
    error = response.error(503)
    assert error["code"] == "busy"
    assert response["Retry-After"] == "5"


def test_web_answers_503_with_a_page(owner: Any, client_for: Any, locked: None) -> None:
    from django.urls import reverse

    account = factories.account(by=owner, legal_name="Busy SA", owner_id=owner.pk)
    url = reverse("web:account_edit", args=[account.pk])
    client = client_for(owner)
    form = client.get(url).context["form"]
    data = {n: ("" if form[n].value() is None else form[n].value()) for n in form.fields}
    data = {k: v for k, v in data.items() if not isinstance(v, bool)}
    data["parent"] = ""
    data["trade_name"] = "Busy"
    response = client.post(url, data)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "try again" in response.content.decode().lower() or \
        "réessayez" in response.content.decode().lower()

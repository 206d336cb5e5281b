"""A Tryton connection set up from the web against the real Tryton 8 server the tests start:
wrong password, then the right one, preview, run; and in a real browser, the whole path.

Skipped like ``tests/test_sync_tryton.py`` when Tryton is not installed (``make tryton``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from comptoir.crm.models import Account
from comptoir.integration import services
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.tasks import execute_run
from comptoir.testing.tryton_fixtures import tryton, tryton_template  # noqa: F401

HTMX = {"HTTP_HX_REQUEST": "true"}


def _form(server: Any, **extra: Any) -> dict[str, Any]:
    return {"connector": "tryton", "name": "tryton", "label": "Tryton", "direction": "inbound",
            "p_url": server.url, "p_database": server.database,
            "p_username": server.username, "s_password": "not-the-password",
            "mapping_name": "tryton", "batch_size": "500", "enabled": "on", **extra}


def test_admin_sets_up_tryton_from_the_web(client_for: Any, admin: Any, tryton: Any,  # noqa: F811
                                           django_capture_on_commit_callbacks: Any) -> None:
    client = client_for(admin)
    assert client.post("/sync/connections/new/", _form(tryton)).status_code == 302
    connection = Connection.objects.get(name="tryton")
    test_url = f"/sync/connections/{connection.pk}/test/"

    wrong = client.post(test_url, **HTMX).content.decode()
    assert 'data-ok="false"' in wrong
    assert 'data-problem="credentials"' in wrong
    assert "Tryton refused the user name or password of “admin”" in wrong
    assert "not-the-password" not in wrong

    form = _form(tryton, s_password=tryton.password)
    form.pop("name")
    assert client.post(f"/sync/connections/{connection.pk}/edit/", form).status_code == 302
    ok = client.post(test_url, **HTMX).content.decode()
    assert 'data-ok="true"' in ok, ok
    parties = re.search(r"Connected to Tryton 8\.\d+, database comptoir: ([\d,]+) parties\.",
                        ok)
    assert parties, ok
    assert "Stream sales:" in ok
    assert "sale.sale" in ok
    assert tryton.password not in ok

    preview = client.get(f"/sync/connections/{connection.pk}/preview/", **HTMX).content.decode()
    assert "parties (stream parties) → account" in preview
    assert len(re.findall(r'<article class="preview-record"', preview)) >= 5
    assert "Legal name" in preview  # CRM fields by their names
    assert not Account.objects.exists()  # nothing written by the preview

    with django_capture_on_commit_callbacks(execute=True):
        run_now = client.post(f"/sync/connections/{connection.pk}/run/")
    run = SyncRun.objects.get()
    assert run_now["Location"] == f"/sync/runs/{run.pk}/"
    execute_run.call(run.pk)  # what the worker does
    page = client.get(f"/sync/runs/{run.pk}/").content.decode()
    assert "Succeeded" in page
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.quarantined == 0
    assert Account.objects.count() > 0


def test_tryton_database_and_module_problems_are_said(admin: Any, tryton: Any,  # noqa: F811
                                                      monkeypatch: Any) -> None:
    connection = services.connection_create(user=admin, data={
        "name": "erp", "connector": "tryton", "mapping": _mapping(),
        "parameters": {"url": tryton.url, "database": "nope", "username": tryton.username},
        "secrets": {"password": tryton.password}})
    check = services.connection_test(connection)
    assert (check.ok, check.problem) == (False, "database")
    assert "has no database named “nope”" in check.message

    connection = services.connection_update(user=admin, connection=connection, data={
        "parameters": {**connection.parameters, "database": tryton.database}})
    # a stream whose module is not activated in this Tryton (the test database has no
    # subscriptions): said with the module to activate
    monkeypatch.setitem(services.TRYTON_STREAM_MODELS, "sales",
                        ("sale.subscription", "sale_subscription"))
    check = services.connection_test(connection)
    assert (check.ok, check.problem) == (False, "module")
    assert "activate the module “sale_subscription” in Tryton" in check.message


def _mapping() -> str:
    from comptoir.integration.mappings import builtin_mapping

    return builtin_mapping("tryton")


@pytest.mark.django_db(transaction=True)
def test_browser_admin_creates_a_tryton_connection(open_as: Any, admin: Any,
                                                   tryton: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = open_as(admin, "/sync/")
    page.get_by_role("link", name="Add a connection").click()
    page.locator('[data-connector="tryton"]').click()
    page.get_by_label("Name").fill("tryton")
    page.get_by_label("Server URL").fill(tryton.url)
    page.get_by_label("Database").fill(tryton.database)
    page.get_by_label("User").fill(tryton.username)
    page.get_by_label("Password").fill("wrong-password")
    expect(page.get_by_role("combobox", name="Mapping")).to_have_value("tryton")
    page.get_by_role("button", name="Create the connection").click()
    expect(page.get_by_role("heading", name="Tryton")).to_be_visible()

    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#connection-check")
    expect(result).to_contain_text("Tryton refused the user name or password")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_text("•••• set")).to_be_visible()
    page.get_by_text("Change the password").click()
    page.get_by_label("Password").fill(tryton.password)
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("Connected to Tryton 8.")
    expect(page.locator("body")).not_to_contain_text(tryton.password)

    page.get_by_role("link", name="Preview").click()
    expect(page.locator(".preview-record").first).to_be_visible()
    expect(page.locator("#connection-preview")).to_contain_text("Legal name")

    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"/sync/runs/\d+/$"))
    run = SyncRun.objects.get()
    execute_run.call(run.pk)  # what the worker does; the page polls until it ends
    expect(page.get_by_text("Succeeded").first).to_be_visible(timeout=30_000)

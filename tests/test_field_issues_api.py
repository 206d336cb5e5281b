"""``GET /api/v1/integration/field-issues``: the values syncs left out, for data managers and
administrators, filtered and cursor-paginated like the quarantine; ``dropped`` on runs."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.integration.models import Connection, FieldIssue, SyncRun
from comptoir.testing import factories as f

PATH = "/api/v1/integration/field-issues"


@pytest.fixture
def issues(personas: Any) -> dict[str, Any]:
    erp = Connection.objects.create(name="erp", connector="memory", mapping='system = "erp"\n')
    shop = Connection.objects.create(name="shop", connector="memory",
                                     mapping='system = "shop"\n')
    run = SyncRun.objects.create(connection=erp, status=SyncRun.Status.SUCCEEDED, dropped=3)
    account = f.account(by=personas.owner)
    contact = f.contact(by=personas.owner, account=account)

    def make(connection: Connection, obj: Any, object_type: str, field: str,
             status: str = "open") -> FieldIssue:
        return FieldIssue.objects.create(
            connection=connection, stream="s", external_id=f"{object_type}{obj.pk}",
            object_type=object_type, object_id=obj.pk, field=field, value="bad",
            reason="Enter a valid value.", status=status, first_run=run, last_run=run)

    return {
        "run": run, "account": account, "contact": contact,
        "email": make(erp, account, "account", "email"),
        "phone": make(erp, contact, "contact", "phone"),
        "shop": make(shop, account, "account", "siren"),
        "resolved": make(erp, account, "account", "website", status="resolved"),
    }


def _ids(body: dict[str, Any]) -> set[int]:
    return {item["id"] for item in body["items"]}


def test_lists_the_open_values_by_default(api: Any, personas: Any,
                                          issues: dict[str, Any]) -> None:
    body = api(personas.data_manager).get(PATH).expect(200)
    assert _ids(body) == {issues[k].pk for k in ("email", "phone", "shop")}
    assert body["next_cursor"] is None
    item = next(i for i in body["items"] if i["id"] == issues["email"].pk)
    assert item["connection"] == "erp"
    assert (item["object_type"], item["object_id"]) == ("account", issues["account"].pk)
    assert (item["field"], item["value"], item["status"]) == ("email", "bad", "open")
    assert item["reason"] == "Enter a valid value."
    assert item["first_run_id"] == item["last_run_id"] == issues["run"].pk
    assert item["resolved_at"] is None
    assert {"external_id", "stream", "created_at", "updated_at"} <= set(item)


def test_filters(api: Any, personas: Any, issues: dict[str, Any]) -> None:
    client = api(personas.admin)
    account = issues["account"].pk
    assert _ids(client.get(PATH, {"connection": "shop"}).expect(200)) == {issues["shop"].pk}
    assert _ids(client.get(PATH, {"status": "resolved"}).expect(200)) == {
        issues["resolved"].pk}
    assert _ids(client.get(PATH, {"object_type": "contact"}).expect(200)) == {
        issues["phone"].pk}
    assert _ids(client.get(PATH, {"object_type": "account", "object_id": account})
                .expect(200)) == {issues["email"].pk, issues["shop"].pk}
    assert _ids(client.get(PATH, {"connection": "nope"}).expect(200)) == set()


def test_cursor_pagination(api: Any, personas: Any, issues: dict[str, Any]) -> None:
    client = api(personas.data_manager)
    first = client.get(PATH, {"limit": 2}).expect(200)
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = client.get(PATH, {"limit": 2, "cursor": first["next_cursor"]}).expect(200)
    assert second["next_cursor"] is None
    assert _ids(first) | _ids(second) == {issues[k].pk for k in ("email", "phone", "shop")}
    assert not _ids(first) & _ids(second)


@pytest.mark.parametrize(("name", "value"), [
    ("status", "gone"), ("object_type", "campaign"), ("object_type", "x\x00y"),
    ("object_id", "abc"), ("object_id", "0"), ("object_id", str(2**70)),
    ("limit", "0"), ("cursor", "not a cursor!"), ("connection", "x" * 61),
])
def test_garbage_is_a_422(api: Any, personas: Any, issues: dict[str, Any], name: str,
                          value: str) -> None:
    error = api(personas.data_manager).get(PATH, {name: value}).error(422)
    assert list(error["fields"]) == [name], error


@pytest.mark.parametrize("who", ["owner", "manager", "outsider", "marketing", "service"])
def test_for_data_managers_and_admins_only(api: Any, personas: Any, issues: dict[str, Any],
                                           who: str) -> None:
    api(personas[who]).get(PATH).error(403)
    api(None).get(PATH).error(401)


def test_runs_tell_how_many_values_they_left_out(api: Any, personas: Any,
                                                 issues: dict[str, Any]) -> None:
    client = api(personas.data_manager)
    run = client.get(f"/api/v1/integration/runs/{issues['run'].pk}").expect(200)
    assert run["dropped"] == 3
    listed = client.get("/api/v1/integration/runs").expect(200)
    assert listed["items"][0]["dropped"] == 3

"""The push API: signed requests from a plugin inside the ERP, applied once per idempotency key."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from comptoir.crm.models import Account
from comptoir.integration.models import Connection, PushReceipt, QuarantinedRecord
from comptoir.integration.services import push_signature

MAPPING = """
system = "tryton"

[streams.parties]
target = "account"
[streams.parties.fields]
legal_name = "name"
siren = { source = "siren", transforms = ["digits"] }
billing_postcode = "zip"
"""

SECRET = "k3y-for-tests"


@pytest.fixture
def connection(db: None) -> Connection:
    return Connection.objects.create(name="tryton-push", connector="push", mapping=MAPPING,
                                     push_secret=SECRET)


def _push(body: dict[str, Any] | bytes, *, key: str = "k1", secret: str = SECRET,
          at: float | None = None, name: str = "tryton-push") -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(at if at is not None else time.time()))
    return Client().post(f"/api/v1/integration/push/{name}", raw, content_type="application/json",
                         headers={"X-Comptoir-Timestamp": stamp, "Idempotency-Key": key,
                                  "X-Comptoir-Signature": push_signature(secret, stamp, raw)})


def _body(*records: dict[str, Any]) -> dict[str, Any]:
    return {"stream": "parties", "records": list(records)}


def test_signed_push_is_applied_once(connection: Connection) -> None:
    body = _body({"key": "7", "data": {"name": "Dupont SA", "siren": "", "zip": "69002"}},
                 {"key": "8", "data": {"name": "Martin SARL", "siren": "", "zip": "75001"}})
    first = _push(body)
    assert first.status_code == 200, first.content
    answer = first.json()
    assert (answer["created"], answer["quarantined"]) == (2, 0)
    again = _push(body)  # the plugin retried after a timeout
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["run_id"] == answer["run_id"]
    assert Account.objects.count() == 2
    other = _push(_body({"key": "9", "data": {"name": "X"}}))  # same key, other body
    assert other.status_code == 409
    assert PushReceipt.objects.count() == 1


def test_changes_and_deletions(connection: Connection) -> None:
    _push(_body({"key": "7", "data": {"name": "Dupont SA", "zip": "69002"}}), key="a")
    updated = _push(_body({"key": "7", "data": {"name": "Dupont & Fils SA", "zip": "69002"}}),
                    key="b").json()
    assert updated["updated"] == 1
    assert Account.objects.get().legal_name == "Dupont & Fils SA"
    deleted = _push(_body({"key": "7", "deleted": True}), key="c").json()
    assert deleted["deleted"] == 1


def test_bad_records_are_quarantined_not_refused(connection: Connection) -> None:
    answer = _push(_body({"key": "1", "data": {"name": "Bon", "zip": "75001"}},
                         {"key": "2", "data": {"name": "", "siren": "123456789"}},
                         "not an object")).json()
    assert (answer["created"], answer["quarantined"]) == (1, 2)
    assert QuarantinedRecord.objects.count() == 2
    assert {q["position"] for q in answer["quarantine"]} == {"record 1", "record 2"}


@pytest.mark.parametrize("case", ["bad-signature", "stale", "no-key", "wrong-connection"])
def test_refused_requests_write_nothing(connection: Connection, case: str) -> None:
    body = _body({"key": "1", "data": {"name": "Bon"}})
    if case == "bad-signature":
        response = _push(body, secret="guess")
        expected = 403
    elif case == "stale":
        response = _push(body, at=time.time() - 3600)
        expected = 403
    elif case == "no-key":
        response = _push(body, key="")
        expected = 422
    else:
        Connection.objects.create(name="files", connector="files", mapping=MAPPING,
                                  parameters={"path": "/nonexistent"})
        response = _push(body, name="files")
        expected = 403
    assert response.status_code == expected, response.content
    assert response.json()["error"]["message"]
    assert Account.objects.count() == 0


def test_malformed_bodies_get_clear_errors(connection: Connection) -> None:
    assert _push(b"{not json", key="x1").status_code == 422
    assert _push(b"[]", key="x2").status_code == 422
    response = _push({"stream": "unknown", "records": [{"key": "1", "data": {}}]}, key="x3")
    assert response.status_code == 422
    too_many = _body(*[{"key": str(i), "data": {"name": f"N{i}"}} for i in range(1001)])
    assert _push(too_many, key="x4").status_code == 413
    assert Account.objects.count() == 0

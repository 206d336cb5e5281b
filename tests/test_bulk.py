"""Bulk upsert by external id: results per record, content hashes, atomicity, rights."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.core import bulk as bulk_module
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.crm.models import Account, Contact
from comptoir.testing import factories


def _accounts(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"external_id": f"C{i}", "legal_name": f"Société {i} SAS", "siren": factories.siren(),
             "billing_postcode": "69003", "phone": "04 72 00 00 0" + str(i % 10),
             "status": "customer"} for i in range(start, start + n)]


def _post(api: Any, user: Any, path: str, records: list[dict[str, Any]],
          system: str = "erp") -> Any:
    return api(user).post(f"{path}/bulk", {"system": system, "records": records})


def test_create_then_resend_then_change(world: Any, api: Any) -> None:
    dm = world.personas.data_manager
    records = _accounts(3)
    body = _post(api, dm, "accounts", records).expect(200)
    assert body["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "error": 0}
    ids = [r["id"] for r in body["results"]]
    assert Account.objects.filter(pk__in=ids).count() == 3
    assert ExternalRef.objects.filter(system="erp", object_type="account").count() == 3
    created = Account.objects.get(pk=ids[0])
    assert created.phone == "+33472000000"  # the single-record rules ran
    assert created.normalized_name == "societe 0"
    audits, events = AuditEntry.objects.count(), OutboxEvent.objects.count()

    again = _post(api, dm, "accounts", records).expect(200)
    assert again["counts"]["unchanged"] == 3
    assert [r["id"] for r in again["results"]] == ids
    assert (AuditEntry.objects.count(), OutboxEvent.objects.count()) == (audits, events)

    records[1]["legal_name"] = "Renommée SA"
    changed = _post(api, dm, "accounts", records).expect(200)
    assert changed["counts"] == {"created": 0, "updated": 1, "unchanged": 2, "error": 0}
    renamed = Account.objects.get(pk=ids[1])
    assert (renamed.legal_name, renamed.normalized_name) == ("Renommée SA", "renommee")
    entry = AuditEntry.objects.filter(object_type="account", object_id=ids[1],
                                      action="update").get()
    assert entry.changes["legal_name"] == ["Société 1 SAS", "Renommée SA"]
    assert entry.changes["normalized_name"] == ["societe 1", "renommee"]
    records[2]["phone"] = "04 72 99 99 99"  # the name stays: no normalized_name in the diff
    _post(api, dm, "accounts", records).expect(200)
    phoned = AuditEntry.objects.filter(object_type="account", object_id=ids[2],
                                       action="update").get()
    assert set(phoned.changes) == {"phone"}
    assert entry.source == "bulk:erp"
    assert entry.user_id == dm.pk
    assert OutboxEvent.objects.filter(topic="account.updated", object_id=ids[1]).exists()


def test_partial_records_leave_other_fields_alone(world: Any, api: Any) -> None:
    dm = world.personas.data_manager
    body = _post(api, dm, "accounts", _accounts(1)).expect(200)
    pk = body["results"][0]["id"]
    _post(api, dm, "accounts", [{"external_id": "C0", "status": "former"}]).expect(200)
    account = Account.objects.get(pk=pk)
    assert (account.status, account.legal_name) == ("former", "Société 0 SAS")


def test_each_bad_record_gets_its_reason_and_the_good_ones_land(world: Any, api: Any) -> None:
    dm = world.personas.data_manager
    good = _accounts(2)
    records = [
        good[0],
        {"external_id": "BAD-SIREN", "legal_name": "X", "siren": "123456789"},
        {"external_id": "BAD-ENUM", "legal_name": "X", "status": "bogus"},
        {"external_id": "NO-NAME", "siren": factories.siren()},
        {"external_id": "ORPHAN", "legal_name": "X", "parent_external_id": "NOPE"},
        {"legal_name": "No id"},
        dict(good[1], external_id="C0"),
        good[1],
    ]
    body = _post(api, dm, "accounts", records).expect(200)
    by_index = {r["index"]: r for r in body["results"]}
    assert body["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 6}
    assert list(by_index[1]["errors"]) == ["siren"]
    assert list(by_index[2]["errors"]) == ["status"]
    assert list(by_index[3]["errors"]) == ["legal_name"]
    assert list(by_index[4]["errors"]) == ["parent_external_id"]
    assert list(by_index[5]["errors"]) == ["external_id"]
    assert list(by_index[6]["errors"]) == ["external_id"]  # sent twice in one call
    assert {by_index[0]["status"], by_index[7]["status"]} == {"created"}
    assert Account.objects.filter(legal_name="X").count() == 0


def test_a_failure_mid_batch_writes_nothing(world: Any, api: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = (Account.objects.count(), ExternalRef.objects.count(), AuditEntry.objects.count())
    real = bulk_module.insert_many

    def crash(model: Any, columns: Any, rows: Any) -> None:
        if model is OutboxEvent:
            raise RuntimeError("disk full")
        real(model, columns, rows)

    monkeypatch.setattr(bulk_module, "insert_many", crash)
    response = _post(api, world.personas.data_manager, "accounts", _accounts(5))
    assert response.status == 500
    after = (Account.objects.count(), ExternalRef.objects.count(), AuditEntry.objects.count())
    assert after == before


def test_contacts_point_to_accounts_by_external_id(world: Any, api: Any) -> None:
    dm = world.personas.data_manager
    _post(api, dm, "accounts", _accounts(1)).expect(200)
    body = _post(api, dm, "contacts", [
        {"external_id": "P1", "account_external_id": "C0", "last_name": "Martin",
         "email": "j.martin@societe0.fr"},
        {"external_id": "P2", "account_external_id": "UNKNOWN", "last_name": "Durand"},
    ]).expect(200)
    assert [r["status"] for r in body["results"]] == ["created", "error"]
    contact = Contact.objects.get(pk=body["results"][0]["id"])
    assert contact.account.legal_name == "Société 0 SAS"
    assert list(body["results"][1]["errors"]) == ["account_external_id"]


def test_bulk_products_refuse_a_code_already_used(world: Any, api: Any) -> None:
    body = _post(api, world.personas.admin, "products", [
        {"external_id": "A1", "code": world.product.code, "name": "Clash"},
        {"external_id": "A2", "code": "NEW-1", "name": "Nouveau"},
        {"external_id": "A3", "code": "NEW-1", "name": "Twice"},
    ]).expect(200)
    assert [r["status"] for r in body["results"]] == ["error", "created", "error"]


def test_bulk_accounts_get_territory_and_its_default_owner(world: Any, api: Any) -> None:
    territory = world.personas.rhone
    body = _post(api, world.personas.data_manager, "accounts", _accounts(1)).expect(200)
    account = Account.objects.get(pk=body["results"][0]["id"])
    assert account.territory_id == territory.pk
    assert account.owner_id == territory.default_owner_id


def test_bulk_is_for_data_managers_and_admins(world: Any, api: Any) -> None:
    _post(api, world.personas.owner, "accounts", _accounts(1)).error(403)
    _post(api, world.personas.manager, "accounts", _accounts(1)).error(403)
    assert not Account.objects.filter(legal_name="Société 0 SAS").exists()


def test_too_many_or_no_records(world: Any, api: Any, settings: Any) -> None:
    settings.COMPTOIR_BULK_MAX_RECORDS = 3
    _post(api, world.personas.admin, "accounts", _accounts(4)).error(413)
    _post(api, world.personas.admin, "accounts", []).error(422)
    error = api(world.personas.admin).post("accounts/bulk", {"system": "Bad System!",
                                                             "records": _accounts(1)}).error(422)
    assert "system" in error["fields"]

"""Field-level quarantine: a record whose only problems are optional values lands without them,
the values kept aside for the data manager; quarantine rows are updated, never stored twice;
payloads are JSON-safe all the way down."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from comptoir.core.models import AuditEntry
from comptoir.crm.models import Account
from comptoir.integration.memory import memory_connector
from comptoir.integration.models import Connection, FieldIssue, QuarantinedRecord, SyncRun
from comptoir.integration.services import quarantine_replay, sync_run
from comptoir.sales.models import SalesDocument

SOURCE: dict[str, list[dict[str, Any]]] = {}
memory_connector("memory-field-issues", SOURCE, streams=("customers", "documents"))

MAPPING = """
system = "erp"

[streams.customers]
target = "account"
[streams.customers.fields]
legal_name = { source = "name", required = true }
email = "mail"
phone = "tel"
website = "web"
siren = { source = "siren", transforms = ["digits"] }
status = { source = "kind", map = { C = "customer", P = "prospect" } }
billing_city = "city"

[streams.documents]
target = "salesdocument"
[streams.documents.fields]
kind = { const = "invoice" }
number = "number"
account_external_id = { source = "party", lookup = "account", required = true }
issue_date = "date"
total_excl_tax = "untaxed"
[streams.documents.lines.fields]
description = "description"
quantity = "quantity"
unit_price = "unit_price"
"""


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    SOURCE.clear()
    yield
    SOURCE.clear()


def _connection(mapping: str = MAPPING) -> Connection:
    return Connection.objects.create(name="erp", connector="memory-field-issues",
                                     mapping=mapping, batch_size=50)


def _ok(run: SyncRun) -> SyncRun:
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    return run


def _customer(i: int, **values: Any) -> dict[str, Any]:
    return {"id": f"C{i}", "name": f"Client {i}", "mail": f"c{i}@exemple.fr", "tel": "",
            "web": "", "siren": "", "kind": "C", "city": "Lyon", **values}


BAD_EMAILS = ["jean@@exemple.fr", "jean@exemple.fr,", "a@exemple.fr;b@exemple.fr",
              "jean dupont@exemple.fr", "jean@exemple", "jean@exemple-.fr"]


@pytest.mark.django_db
def test_bad_contact_means_are_left_out_and_the_customer_lands() -> None:
    connection = _connection()
    SOURCE["customers"] = [_customer(i, mail=mail) for i, mail in enumerate(BAD_EMAILS)]
    SOURCE["customers"].append(_customer(99, siren="123 456 789", tel="n/a", web="http//x"))
    run = _ok(sync_run(connection))
    assert (run.created, run.quarantined) == (7, 0)
    assert run.dropped == len(BAD_EMAILS) + 2  # SIREN + e-mail-less phone/website: see below
    issues = {(i.external_id, i.field): i for i in FieldIssue.objects.all()}
    for n, mail in enumerate(BAD_EMAILS):
        issue = issues[(f"C{n}", "email")]
        assert issue.value == mail
        assert issue.status == "open"
        assert issue.reason
        account = Account.objects.get(pk=issue.object_id)
        assert (account.legal_name, account.email) == (f"Client {n}", "")
    assert issues[("C99", "siren")].value == "123 456 789"  # the raw value, not the digits
    assert Account.objects.get(legal_name="Client 99").siren == ""
    assert run.details["streams"]["customers"]["dropped"] == run.dropped


@pytest.mark.django_db
def test_a_rerun_writes_nothing_and_a_fix_resolves_the_issue() -> None:
    connection = _connection()
    SOURCE["customers"] = [_customer(1, mail="jean@@exemple.fr"), _customer(2)]
    _ok(sync_run(connection))
    audits = AuditEntry.objects.count()
    again = _ok(sync_run(connection))
    assert (again.created, again.updated, again.unchanged, again.dropped) == (0, 0, 2, 0)
    assert AuditEntry.objects.count() == audits
    assert FieldIssue.objects.count() == 1
    SOURCE["customers"][0]["mail"] = "jean@exemple.fr"
    fixed = _ok(sync_run(connection))
    assert fixed.updated == 1
    issue = FieldIssue.objects.get()
    assert issue.status == "resolved"
    assert issue.resolved_at is not None
    assert Account.objects.get(legal_name="Client 1").email == "jean@exemple.fr"
    # bad again: the same row reopens, the CRM keeps the last valid value
    SOURCE["customers"][0]["mail"] = "jean@exemple"
    _ok(sync_run(connection))
    issue = FieldIssue.objects.get()
    assert (issue.status, issue.value) == ("open", "jean@exemple")
    assert Account.objects.get(legal_name="Client 1").email == "jean@exemple.fr"


@pytest.mark.django_db
def test_the_mapping_decides_per_field() -> None:
    strict = MAPPING.replace('email = "mail"', 'email = { source = "mail", '
                                               'on_invalid = "quarantine" }')
    connection = _connection(strict)
    SOURCE["customers"] = [_customer(1, mail="jean@@exemple.fr", siren="12"), _customer(2)]
    run = _ok(sync_run(connection))
    assert (run.created, run.quarantined, run.dropped) == (1, 1, 0)
    row = QuarantinedRecord.objects.get()
    assert set(row.errors) == {"email", "siren"}  # every problem listed, nothing dropped
    stop = MAPPING.replace('email = "mail"', 'email = { source = "mail", on_invalid = "stop" }')
    Connection.objects.filter(pk=connection.pk).update(mapping=stop)
    connection.refresh_from_db()
    SOURCE["customers"] = [_customer(3), _customer(4, mail="x@@y.fr")]
    failed = sync_run(connection)
    assert failed.status == SyncRun.Status.FAILED
    assert "on_invalid" in failed.error_message
    assert "x@@y.fr" in failed.error_message
    assert not Account.objects.filter(legal_name="Client 3").exists()  # batch rolled back


@pytest.mark.django_db
def test_a_bad_status_still_quarantines_and_is_updated_not_stored_twice() -> None:
    connection = _connection()
    SOURCE["customers"] = [_customer(1, kind="Z")]
    for _ in range(3):
        run = _ok(sync_run(connection))
        assert run.quarantined == 1
    row = QuarantinedRecord.objects.get()
    assert row.run_id == run.pk
    assert row.field == "status"
    SOURCE["customers"][0]["kind"] = "P"
    _ok(sync_run(connection))
    row.refresh_from_db()
    assert row.status == QuarantinedRecord.Status.RESOLVED
    assert Account.objects.get().status == "prospect"


@pytest.mark.django_db
def test_replaying_a_quarantined_record_keeps_one_row() -> None:
    connection = _connection()
    SOURCE["customers"] = [_customer(1, kind="Z")]
    _ok(sync_run(connection))
    row = QuarantinedRecord.objects.get()
    again = quarantine_replay(row)
    assert again.status == QuarantinedRecord.Status.OPEN
    assert QuarantinedRecord.objects.count() == 1
    QuarantinedRecord.objects.filter(pk=row.pk).update(payload={**row.payload, "kind": "C"})
    row.refresh_from_db()
    assert quarantine_replay(row).status == QuarantinedRecord.Status.REPLAYED
    assert Account.objects.get().status == "customer"


@pytest.mark.django_db
def test_quarantined_documents_keep_their_decimal_lines() -> None:
    connection = _connection()
    SOURCE["customers"] = [_customer(1)]
    SOURCE["documents"] = [{
        "id": "F1", "number": "F-1", "party": "C404", "date": dt.date(2025, 3, 1),
        "untaxed": Decimal("108.83"),
        "lines": [{"description": "Conseil", "quantity": Decimal("2"),
                   "unit_price": Decimal("54.4140"), "when": dt.datetime(2025, 3, 1, 9)}]}]
    run = _ok(sync_run(connection))
    assert run.quarantined == 1  # unknown customer: the document cannot exist without it
    row = QuarantinedRecord.objects.get()
    json.dumps(row.payload)  # stored and readable back
    assert row.payload["lines"][0]["unit_price"] == "54.4140"
    assert row.payload["date"] == "2025-03-01"
    assert not SalesDocument.objects.exists()
    _ok(sync_run(connection))
    assert QuarantinedRecord.objects.count() == 1


def _reconcile(connection: Connection) -> tuple[dict[str, Any], str]:
    out = StringIO()
    call_command("sync", connection.name, "--reconcile", "--no-progress", stdout=out)
    run = SyncRun.objects.filter(trigger=SyncRun.Trigger.RECONCILE).latest("id")
    return run.details["reconcile"], out.getvalue()


@pytest.mark.django_db
def test_reconciliation_explains_every_difference() -> None:
    connection = _connection()
    SOURCE["customers"] = [_customer(1, mail="jean@@exemple.fr"), _customer(2),
                           _customer(3, kind="Z")]
    SOURCE["documents"] = [{
        "id": "F1", "number": "F-1", "party": "C2", "date": "2025-03-01",
        "untaxed": Decimal("108.83"),
        "lines": [{"description": "Conseil", "quantity": "2", "unit_price": "54.41"}]}]
    _ok(sync_run(connection))
    audits = AuditEntry.objects.count()
    report, text = _reconcile(connection)
    assert report["unexplained"] == 0, text
    assert text.splitlines()[-1].startswith("0 differences")
    customers = report["streams"][0]
    assert (customers["source"], customers["crm"], customers["same"]) == (3, 2, 2)
    assert customers["counts"]["dropped"] == 1
    assert customers["counts"]["quarantined"] == 1
    assert "jean@@exemple.fr" in text
    assert "C3" in text
    documents = report["streams"][1]
    assert documents["totals"]["total_excl_tax"] == {"source": "108.83", "held": "0.00",
                                                     "crm": "108.83"}
    assert AuditEntry.objects.count() == audits  # nothing written but the run
    assert Account.objects.count() == 2

    # A CRM edit of a synced value, a record the CRM lacks, one the source lost
    Account.objects.filter(legal_name="Client 2").update(billing_city="Paris")
    SOURCE["customers"].append(_customer(4))
    SOURCE["customers"] = [c for c in SOURCE["customers"] if c["id"] != "C1"]
    SOURCE["documents"][0]["lines"][0]["unit_price"] = "60.00"
    report, text = _reconcile(connection)
    kinds = {(d["kind"], d["external_id"]) for s in report["streams"]
             for d in s["differences"]}
    assert {("different", "C2"), ("missing", "C4"), ("extra", "C1"),
            ("different", "F1")} <= kinds, text
    assert report["unexplained"] == 4
    changed = next(d for d in report["streams"][0]["differences"]
                   if d["external_id"] == "C2")
    assert changed["fields"] == {"billing_city": {"crm": "Paris", "source": "Lyon"}}
    assert "billing_city: CRM \"Paris\" ≠ source \"Lyon\"" in text
    assert Account.objects.get(legal_name="Client 2").billing_city == "Paris"

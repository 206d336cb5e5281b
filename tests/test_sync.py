"""Sync runs through the loader: counts, cursors, quarantine, tombstones, failures, replay, API.

The source here is a small in-memory connector, so each test states exactly what the other
system holds; the real connectors (files, Tryton) have their own end-to-end tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.crm.models import Account, Contact
from comptoir.integration.engine.core import Connector, Parameter, Record, Stream, register
from comptoir.integration.engine.errors import TransientError
from comptoir.integration.models import (
    Connection,
    FieldIssue,
    QuarantinedRecord,
    StreamState,
    SyncRun,
)
from comptoir.integration.services import sync_run, sync_run_start

SOURCE: dict[str, list[dict[str, Any]]] = {}
STATE: dict[str, Any] = {"down": False, "fail_after": None}


class _ListStream(Stream):
    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, cursor: str | None) -> Iterator[Record]:
        if STATE["down"]:
            raise TransientError("The ERP is unreachable (connection refused).")
        start = int(cursor) if cursor else 0
        for i, row in enumerate(SOURCE.get(self.name, [])[start:], start=start + 1):
            if STATE["fail_after"] is not None and i > STATE["fail_after"]:
                raise TransientError("The ERP stopped answering.")
            yield Record(key=str(row.get("id", "")), data=row, cursor=str(i),
                         deleted=bool(row.get("_deleted")), position=f"row {i}")

    def existing_keys(self) -> list[str] | None:
        if not STATE.get("complete"):
            return None
        return [str(r["id"]) for r in SOURCE.get(self.name, []) if not r.get("_deleted")]


@register
class MemoryConnector(Connector):
    name = "memory-test"
    label = "In-memory test source"
    parameters: ClassVar[dict[str, Parameter]] = {
        "token": Parameter("Token", required=False, kind="secret")}
    sensitive_parameters = frozenset({"token"})

    def streams(self) -> dict[str, Stream]:
        return {name: _ListStream(name) for name in ("customers", "people")}


MAPPING = """
system = "erp"

[streams.customers]
target = "account"
key = "id"
[streams.customers.fields]
legal_name = "name"
siren = { source = "siren", transforms = ["digits"] }
status = { source = "kind", map = { C = "customer", P = "prospect" }, unknown = "error" }
billing_postcode = "zip"
credit_limit = { source = "limit", transforms = ["fr_number"] }

[streams.people]
target = "contact"
key = "id"
[streams.people.fields]
account_external_id = "company"
last_name = "last"
first_name = "first"
email = "mail"
"""


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    SOURCE.clear()
    STATE.update(down=False, fail_after=None, complete=False)
    yield
    SOURCE.clear()


@pytest.fixture
def connection(db: None) -> Connection:
    return Connection.objects.create(name="erp", connector="memory-test", mapping=MAPPING,
                                     batch_size=3)


def _customers(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": f"C{i}", "name": f"Client {i} SAS", "siren": "", "kind": "C",
             "zip": f"750{i % 20:02d}", "limit": "1 500,50"} for i in range(start, start + n)]


def test_first_run_creates_everything_and_second_run_writes_nothing(connection: Connection
                                                                   ) -> None:
    SOURCE["customers"] = _customers(7)
    SOURCE["people"] = [{"id": "P1", "company": "C1", "last": "Durand", "first": "Anne",
                         "mail": "anne.durand@client1.fr"}]
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert (run.read, run.created, run.updated, run.unchanged, run.quarantined) == (8, 8, 0, 0, 0)
    assert Account.objects.count() == 7
    contact = Contact.objects.get()
    assert contact.account_id == ExternalRef.objects.get(external_id="C1").object_id
    assert str(Account.objects.get(legal_name="Client 3 SAS").credit_limit) == "1500.50"
    assert StreamState.objects.get(connection=connection, stream="customers").cursor == "7"

    audit, events = AuditEntry.objects.count(), OutboxEvent.objects.count()
    again = sync_run(connection)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert again.read == 0  # the cursor: nothing new
    full = sync_run(connection, full=True)
    assert (full.read, full.unchanged, full.created, full.updated) == (8, 8, 0, 0)
    assert (AuditEntry.objects.count(), OutboxEvent.objects.count()) == (audit, events)
    assert full.lag_seconds is not None


def test_changes_since_the_cursor_are_applied(connection: Connection) -> None:
    SOURCE["customers"] = _customers(4)
    sync_run(connection)
    SOURCE["customers"][1]["name"] = "Client 1 renamed SAS"
    SOURCE["customers"].append(SOURCE["customers"][1])  # changed: comes again, later
    SOURCE["customers"] += _customers(2, start=10)
    run = sync_run(connection)
    assert (run.read, run.created, run.updated) == (3, 2, 1)
    assert Account.objects.filter(legal_name="Client 1 renamed SAS").exists()


def test_bad_records_are_quarantined_with_reason_and_the_rest_lands(connection: Connection
                                                                    ) -> None:
    rows = _customers(5)
    rows[1]["kind"] = "X"  # unknown picklist value
    rows[2]["limit"] = "beaucoup"  # not a number
    rows[3]["siren"] = "123 456 789"  # fails the SIREN check digit
    rows[4]["id"] = ""  # no key
    SOURCE["customers"] = rows
    SOURCE["people"] = [{"id": "P9", "company": "NOPE", "last": "Martin", "first": "",
                         "mail": "martin@"}]
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    # the bad SIREN is an identifier: the customer lands without it, the value kept aside
    assert (run.read, run.created, run.quarantined, run.dropped) == (6, 2, 4, 1)
    assert Account.objects.count() == 2
    reasons = {q.position: q for q in QuarantinedRecord.objects.all()}
    assert reasons["row 2"].field == "status"
    assert "X" in reasons["row 2"].reason
    assert reasons["row 3"].field == "credit_limit"
    assert "row 4" not in reasons
    issue = FieldIssue.objects.get()
    assert (issue.field, issue.value, issue.status) == ("siren", "123 456 789", "open")
    landed = Account.objects.get(pk=issue.object_id)
    assert (landed.legal_name, landed.siren) == (rows[3]["name"], "")
    assert reasons["row 5"].field == "external_id"
    assert "account_external_id" in reasons["row 1"].errors or "email" in reasons["row 1"].errors
    assert reasons["row 2"].payload["kind"] == "X"  # kept whole, to fix and replay


def test_failure_midway_keeps_committed_batches_and_resumes(connection: Connection) -> None:
    SOURCE["customers"] = _customers(10)
    STATE["fail_after"] = 7  # batches of 3: rows 1-6 commit, then the ERP stops answering
    run = sync_run(connection)
    assert run.status == SyncRun.Status.FAILED
    assert run.error_category == "transient"
    assert "stopped answering" in run.error_message
    assert Account.objects.count() == 6
    assert StreamState.objects.get(stream="customers").cursor == "6"
    STATE["fail_after"] = None
    resumed = sync_run(connection)
    assert resumed.status == SyncRun.Status.SUCCEEDED
    assert (resumed.read, resumed.created) == (4, 4)
    assert Account.objects.count() == 10
    assert ExternalRef.objects.filter(system="erp").count() == 10


def test_source_down_fails_with_category_and_next_run_works(connection: Connection) -> None:
    SOURCE["customers"] = _customers(2)
    STATE["down"] = True
    run = sync_run(connection)
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "transient")
    assert "unreachable" in run.error_message
    STATE["down"] = False
    assert sync_run(connection).created == 2


def test_bad_mapping_fails_as_config(connection: Connection) -> None:
    connection.mapping = MAPPING.replace('legal_name = "name"', 'legal_nom = "name"')
    connection.save()
    run = sync_run(connection)
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "config")
    assert "legal_nom" in run.error_message


def test_deleted_at_the_source_become_tombstones(connection: Connection) -> None:
    SOURCE["customers"] = _customers(3)
    sync_run(connection)
    SOURCE["customers"].append({"id": "C0", "_deleted": True})
    run = sync_run(connection)
    assert run.deleted == 1
    ref = ExternalRef.objects.get(external_id="C0")
    assert ref.deleted_at is not None
    gone = Account.objects.get(pk=ref.object_id)  # history kept, marked with the date
    assert gone.erp_deleted_at is not None
    assert not gone.active
    assert gone.status == "former"  # a customer deleted in the ERP is no longer one
    entry = AuditEntry.objects.get(object_id=gone.pk, action=AuditEntry.Action.TOMBSTONE)
    assert entry.changes["active"] == [True, False]
    assert OutboxEvent.objects.filter(topic="account.deleted_externally").count() == 1
    # A complete source: what is no longer listed is a tombstone too.
    STATE["complete"] = True
    SOURCE["customers"] = [r for r in SOURCE["customers"] if r["id"] == "C2"]
    assert sync_run(connection, full=True).deleted == 1
    assert ExternalRef.objects.filter(deleted_at__isnull=True, system="erp").count() == 1


def test_dry_run_writes_nothing_and_shows_the_changes(connection: Connection) -> None:
    SOURCE["customers"] = _customers(3)
    run = sync_run(connection, dry_run=True)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.read, run.created) == (3, 3)
    assert Account.objects.count() == 0
    assert not StreamState.objects.exists()
    assert not ExternalRef.objects.exists()
    assert {c["action"] for c in run.details["changes"]} == {"create"}
    assert len(run.details["changes"]) == 3


def test_one_run_at_a_time(connection: Connection) -> None:
    sync_run_start(connection)
    from comptoir.core.errors import Conflict

    with pytest.raises(Conflict):
        sync_run_start(connection)


def test_stale_running_run_is_closed_as_interrupted(connection: Connection) -> None:
    import datetime as dt

    from django.utils import timezone

    old = sync_run_start(connection)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    SyncRun.objects.filter(pk=old.pk).update(status="running", started_at=long_ago,
                                             heartbeat_at=long_ago)
    SOURCE["customers"] = _customers(1)
    assert sync_run(connection).status == SyncRun.Status.SUCCEEDED
    old.refresh_from_db()
    assert old.status == SyncRun.Status.FAILED
    assert old.error_message.startswith("Interr")  # Interrupted / Interrompue


def test_fix_and_replay_through_the_api(connection: Connection, api: Any, personas: Any) -> None:
    rows = _customers(2)
    rows[0]["kind"] = "?"
    SOURCE["customers"] = rows
    sync_run(connection)
    client = api(personas.admin)
    page = client.get("/api/v1/integration/quarantine?connection=erp").expect(200)
    assert len(page["items"]) == 1
    item = page["items"][0]
    failed = client.post(f"/api/v1/integration/quarantine/{item['id']}/replay").expect(200)
    assert failed["status"] == "open"
    fixed = client.patch(f"/api/v1/integration/quarantine/{item['id']}",
                         {"payload": {"kind": "P"}}).expect(200)
    assert fixed["payload"]["kind"] == "P"
    done = client.post(f"/api/v1/integration/quarantine/{item['id']}/replay").expect(200)
    assert done["status"] == "replayed"
    assert Account.objects.get(legal_name="Client 0 SAS").status == "prospect"
    assert QuarantinedRecord.objects.count() == 1


def test_connection_api_validates_and_hides_secrets(db: None, api: Any, personas: Any) -> None:
    client = api(personas.admin)
    bad = client.post("/api/v1/integration/connections", {
        "name": "erp2", "connector": "memory-test",
        "mapping": 'system = "erp"\n[streams.customers]\ntarget = "acount"\n'})
    errors = bad.error(422)
    assert "mapping" in str(errors)
    created = client.post("/api/v1/integration/connections", {
        "name": "erp2", "connector": "memory-test", "mapping": MAPPING,
        "secrets": {"token": "s3cr3t"}}).expect(201)
    assert created["secrets_set"] == ["token"]
    assert "s3cr3t" not in str(created)
    listed = client.get("/api/v1/integration/connections").expect(200)
    assert "s3cr3t" not in str(listed)
    assert Connection.objects.get(name="erp2").secrets == {"token": "s3cr3t"}
    unknown = client.post("/api/v1/integration/connections", {
        "name": "erp3", "connector": "nope", "mapping": MAPPING})
    assert "connector" in str(unknown.error(422))


def test_runs_api_queues_and_the_worker_executes(connection: Connection, api: Any,
                                                 personas: Any, settings: Any,
                                                 django_capture_on_commit_callbacks: Any
                                                 ) -> None:
    SOURCE["customers"] = _customers(2)
    client = api(personas.admin)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/api/v1/integration/connections/erp/runs", {}).expect(202)
    assert started["status"] == "pending"
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.count() == 1  # queued for the worker
    from comptoir.integration.tasks import execute_run

    execute_run.call(started["id"])  # what the worker does with it
    run = client.get(f"/api/v1/integration/runs/{started['id']}").expect(200)
    assert run["status"] == "succeeded"
    assert run["created"] == 2
    listed = client.get("/api/v1/integration/runs?connection=erp").expect(200)
    assert [r["id"] for r in listed["items"]] == [started["id"]]


@pytest.mark.parametrize("who", ["owner", "manager", "outsider"])
def test_integration_api_is_for_data_managers_and_admins(connection: Connection, api: Any,
                                                         personas: Any, who: str) -> None:
    client = api(getattr(personas, who))
    client.get("/api/v1/integration/connections").error(403)
    client.get("/api/v1/integration/quarantine").error(403)
    client.post("/api/v1/integration/connections/erp/runs", {}).error(403)


def test_scheduled_connections_are_queued_when_due(connection: Connection) -> None:
    import datetime as dt

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from comptoir.integration.services import schedule_due_runs
    from comptoir.integration.tasks import execute_run

    assert schedule_due_runs() == []  # no schedule: on demand only
    connection.schedule_minutes = 15
    connection.save()
    queued = schedule_due_runs()
    assert [r.trigger for r in queued] == ["schedule"]
    assert DBTaskResult.objects.count() == 1
    assert schedule_due_runs() == []  # pending run: not twice
    SOURCE["customers"] = _customers(1)
    execute_run.call(queued[0].pk)
    assert schedule_due_runs() == []  # ran a moment ago
    later = timezone.now() + dt.timedelta(minutes=16)
    assert len(schedule_due_runs(later)) == 1
    connection.enabled = False
    connection.save()
    assert schedule_due_runs(later + dt.timedelta(hours=1)) == []


def test_fields_the_erp_owns_are_read_only_in_the_api(connection: Connection, api: Any,
                                                      personas: Any) -> None:
    connection.owned_fields = {"account": ["legal_name", "siren"]}
    connection.save()
    SOURCE["customers"] = _customers(1)
    sync_run(connection)
    account = Account.objects.get()
    client = api(personas.admin)
    refused = client.patch(f"/api/v1/accounts/{account.pk}", {"legal_name": "Renamed"})
    body = refused.error(409)
    assert "legal_name" in body["fields"]
    assert "erp" in body["fields"]["legal_name"][0]
    # Fields the ERP does not own stay editable, and records it never sent are free.
    client.patch(f"/api/v1/accounts/{account.pk}", {"trade_name": "Enseigne"}).expect(200)
    other = client.post("/api/v1/accounts", {"legal_name": "Prospect local"}).expect(201)
    client.patch(f"/api/v1/accounts/{other['id']}", {"legal_name": "Renamed"}).expect(200)
    # The sync still overwrites them.
    SOURCE["customers"][0]["name"] = "Client 0 SAS (nouveau nom)"
    assert sync_run(connection, full=True).updated == 1
    account.refresh_from_db()
    assert account.legal_name == "Client 0 SAS (nouveau nom)"


def test_dry_run_over_several_batches_lists_each_change_once(connection: Connection) -> None:
    SOURCE["customers"] = _customers(2)
    sync_run(connection)  # earlier history must not show up in the next dry run's diff
    SOURCE["customers"] += _customers(7, start=2)
    run = sync_run(connection, dry_run=True)
    ids = [c["object_id"] for c in run.details["changes"]]
    assert run.created == 7
    assert len(ids) == 7
    assert len(set(ids)) == 7


def test_engine_tests_know_the_loaders_targets() -> None:
    """The engine's tests describe the CRM targets by hand: they stay a subset of the real."""
    from comptoir.integration.loader import target_fields
    from engine.conftest import TARGETS  # tests/ is on the path (rootdir conftest)

    real = target_fields()
    assert set(TARGETS) == set(real)
    for name, fields in TARGETS.items():
        assert fields <= real[name], (name, fields - real[name])


def test_connection_command_takes_a_ready_made_mapping_by_name(db: None) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from comptoir.integration.mappings import builtin_mapping

    call_command("connection", "tryton-push", "--connector", "push", "--mapping", "tryton",
                 "--push-secret", "k3y", stdout=StringIO())
    created = Connection.objects.get(name="tryton-push")
    assert (created.mapping, created.push_secret) == (builtin_mapping("tryton"), "k3y")
    with pytest.raises(CommandError, match="Cannot read the mapping"):
        call_command("connection", "other", "--connector", "push", "--mapping", "nope.toml",
                     stdout=StringIO())

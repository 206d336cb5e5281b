"""The example Tryton module (``contrib/tryton/comptoir_push``) pushing to a live Comptoir.

A real trytond with the module activated sends its party and invoice changes, signed, to the
push API of a Comptoir served by the test (pytest-django's live server): the changes arrive
without any pull, and changes made while Comptoir refuses them wait in Tryton and arrive with
the next delivery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from comptoir.core.models import ExternalRef
from comptoir.crm.models import Account
from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.services import sync_run
from comptoir.sales.models import SalesDocument
from comptoir.testing.tryton import TrytonServer, build_with_modules
from comptoir.testing.tryton_fixtures import tryton_template  # noqa: F401

SECRET = "push-key-for-the-tryton-module-test"


@pytest.fixture
def erp(tryton_template: Path, live_server: Any, tmp_path: Path  # noqa: F811
        ) -> Iterator[tuple[TrytonServer, TrytonClient]]:
    template = build_with_modules(tryton_template, ["comptoir_push"])
    server = TrytonServer(template, workdir=tmp_path / "tryton", config={"comptoir": {
        "url": live_server.url, "connection": "tryton-push", "secret": SECRET, "timeout": "20"}})
    with server:
        yield server, TrytonClient(server.url, server.database, server.username,
                                   server.password)


def _account(party_id: int) -> Account:
    ref = ExternalRef.objects.get(system="tryton", object_type="account",
                                  external_id=str(party_id))
    return Account.objects.get(pk=ref.object_id)


def test_party_and_invoice_changes_are_pushed_on_write(erp: Any) -> None:
    server, client = erp
    pull = Connection.objects.create(
        name="tryton", connector="tryton", mapping=builtin_mapping("tryton"),
        parameters={"url": server.url, "database": server.database,
                    "username": server.username},
        secrets={"password": server.password})
    push = Connection.objects.create(name="tryton-push", connector="push",
                                     mapping=builtin_mapping("tryton"), push_secret=SECRET)
    # the initial load by pull (catalogue included), then live changes by push
    assert sync_run(pull).status == SyncRun.Status.SUCCEEDED
    pushed_runs = SyncRun.objects.filter(connection=push)
    assert not pushed_runs.exists()

    party = client.search_read("party.party", [["addresses", "!=", None]], ["addresses"],
                               limit=1, order=[["id", "ASC"]])[0]
    client.write("party.party", [party["id"]], {"name": "Poussée Directe SAS"})
    # Tryton delivers right after its commit, before answering the write
    assert _account(party["id"]).legal_name == "Poussée Directe SAS"
    client.write("party.address", [party["addresses"][0]], {"city": "Annecy"})
    assert _account(party["id"]).billing_city == "Annecy"
    [new_id] = client.create("party.party", [{"name": "Nouvelle Poussée SARL"}])
    assert _account(new_id).legal_name == "Nouvelle Poussée SARL"
    assert pushed_runs.count() == 3
    assert all(r.trigger == SyncRun.Trigger.PUSH and r.quarantined == 0 for r in pushed_runs)

    # Posting the draft invoice today: a number, posted, something to pay. (The seed's
    # sequences restart at 1 each year; as in a real set-up, this year's carry a prefix, or
    # the number would be another invoice's and the record quarantined as such.)
    # Tryton's "today" is UTC's (no company time zone in the seed), ours Paris's: between
    # midnight in Paris and midnight UTC ours would be "in the future" to Tryton.
    today = min(dt.date.today(), dt.datetime.now(dt.UTC).date())
    [year] = client.search_read("account.fiscalyear", [["start_date", "<=", today],
                                                       ["end_date", ">=", today]],
                                ["invoice_sequences"])
    sequences = {row[name] for row in client.read(
        "account.fiscalyear.invoice_sequence", year["invoice_sequences"],
        ["out_invoice_sequence", "out_credit_note_sequence"])
        for name in ("out_invoice_sequence", "out_credit_note_sequence")}
    client.write("ir.sequence.strict", sorted(sequences), {"prefix": f"FA{today.year}-"})
    [draft] = client.search("account.invoice", [["type", "=", "out"], ["state", "=", "draft"]])
    client.write("account.invoice", [draft], {"invoice_date": today})
    client.model_call("account.invoice", "post", [draft])
    doc = SalesDocument.objects.get(pk=ExternalRef.objects.get(
        system="tryton", object_type="salesdocument",
        external_id=f"account.invoice,{draft}").object_id)
    [invoice] = client.read("account.invoice", [draft], ["number", "amount_to_pay"])
    assert (doc.status, doc.number, doc.amount_due) == ("posted", invoice["number"],
                                                        invoice["amount_to_pay"])
    assert doc.amount_due > 0

    # Comptoir refuses (connection disabled): the change waits in Tryton, nothing is lost
    push.enabled = False
    push.save()
    client.write("party.party", [new_id], {"name": "En Attente SARL"})
    assert _account(new_id).legal_name == "Nouvelle Poussée SARL"
    assert client.search_count("comptoir.push.event", []) == 1
    push.enabled = True
    push.save()
    # what the module's cron does every minute
    assert client.model_call("comptoir.push.event", "send_pending") == 1
    assert _account(new_id).legal_name == "En Attente SARL"
    assert client.search_count("comptoir.push.event", []) == 0

    # A party deleted in Tryton becomes a tombstone here; the account stays
    client.delete("party.party", [new_id])
    ref = ExternalRef.objects.get(system="tryton", object_type="account",
                                  external_id=str(new_id))
    assert ref.deleted_at is not None
    assert Account.objects.filter(pk=ref.object_id).exists()

"""``comptoir quality``: gaps, merge (preview, merge, undo) and promotion decisions from the
command line, through the same services as the API."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from comptoir.core.models import AuditEntry, OutboxEvent
from comptoir.crm.models import Account, Contact
from comptoir.quality.models import MergeRecord, PromotionRequest
from comptoir.testing import factories as f


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def run(*args: str) -> str:
    out = StringIO()
    call_command("quality", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def pair(personas: Any) -> tuple[Account, Account]:
    keep = f.account(by=personas.owner, legal_name="Dupont Conseil SARL", siren=f.siren(8101),
                     email="contact@dupont-conseil.fr", billing_postcode="69002")
    dup = f.account(by=personas.owner, legal_name="Dupont Conseil",
                    email="contact@dupont-conseil.fr", naf_code="70.22Z")
    f.contact(by=personas.owner, account=dup, last_name="Durand")
    return keep, dup


def test_gaps_per_profile(personas: Any) -> None:
    account = f.account(by=personas.owner, legal_name="Sans Contact SARL")
    text = run("gaps", "account", str(account.pk))
    assert "lead: ok" in text
    assert "crm: 1 gap(s)" in text
    assert "Add a contact person to this account. [contacts]" in text
    assert "The SIRET is missing. [siret]" in text


def test_merge_preview_merge_and_undo(personas: Any, pair: Any) -> None:
    keep, dup = pair
    dm = personas.data_manager.username
    preview = run("merge", "account", str(keep.pk), str(dup.pk), "--pick",
                  f"legal_name={dup.pk}", "--dry-run", "--as", dm)
    assert f"legal_name: 'Dupont Conseil' (from #{dup.pk}" in preview
    assert "moves 1 × " in preview
    assert "Dry run: nothing merged." in preview
    assert Account.objects.filter(pk=dup.pk).exists()

    text = run("merge", "account", str(keep.pk), str(dup.pk), "--pick",
               f"legal_name={dup.pk}", "--as", dm)
    record = MergeRecord.objects.get()
    assert f"Merge {record.pk}: [{dup.pk}] merged into #{keep.pk}" in text
    assert not Account.objects.filter(pk=dup.pk).exists()
    kept = Account.objects.get(pk=keep.pk)
    assert (kept.legal_name, kept.naf_code) == ("Dupont Conseil", "70.22Z")
    assert Contact.objects.get(last_name="Durand").account_id == keep.pk
    assert AuditEntry.objects.filter(object_id=keep.pk, action="merge", source="merge:cli").exists()

    text = run("undo", str(record.pk), "--as", dm)
    assert f"Merge {record.pk} undone: [{dup.pk}] restored" in text
    assert Contact.objects.get(last_name="Durand").account_id == dup.pk
    assert Account.objects.get(pk=keep.pk).legal_name == "Dupont Conseil SARL"


def test_merge_refused_to_whoever_may_not_change_the_records(personas: Any, pair: Any) -> None:
    keep, dup = pair
    with pytest.raises(CommandError):
        run("merge", "account", str(keep.pk), str(dup.pk), "--as", personas.outsider.username)
    assert Account.objects.filter(pk=dup.pk).exists()
    with pytest.raises(CommandError, match="No active user"):
        run("undo", "1", "--as", "nobody")
    with pytest.raises(CommandError, match="FIELD=ID"):
        run("merge", "account", str(keep.pk), str(dup.pk), "--pick", "legal_name",
            "--as", personas.data_manager.username)


def test_promotion_requests_listed_approved_and_rejected(personas: Any) -> None:
    from comptoir.integration.models import Connection

    # approval needs a connection sending new customers (promotion_approve)
    Connection.objects.create(name="erp-out", connector="files", mapping='system = "erp"\n',
                              direction=Connection.Direction.OUTBOUND)
    complete = f.account(by=personas.owner, legal_name="Complète SAS", siret="73282932000074",
                         naf_code="62.01Z", payment_terms="net_30", billing_street="1 rue A",
                         billing_postcode="75001", billing_city="Paris")
    f.contact(by=personas.owner, account=complete, last_name="Martin", email="m@complete.fr")
    incomplete = f.account(by=personas.owner, legal_name="Incomplète SARL")
    ready = PromotionRequest.objects.create(account=complete, trigger="manual")
    lacking = PromotionRequest.objects.create(account=incomplete, trigger="manual")
    listing = run("promotions", "--status", "pending")
    assert f"#{complete.pk} Complète SAS" in listing
    assert f"#{incomplete.pk} Incomplète SARL" in listing
    dm = personas.data_manager.username
    with pytest.raises(CommandError, match="siret"):
        run("approve", str(lacking.pk), "--as", dm)
    with pytest.raises(CommandError):
        run("approve", str(ready.pk), "--as", personas.owner.username)  # a rep may not
    text = run("approve", str(ready.pk), "--as", dm)
    assert f"Request {ready.pk} approved" in text
    assert Account.objects.get(pk=complete.pk).status == "customer"
    assert OutboxEvent.objects.filter(topic="account.promoted", object_id=complete.pk).exists()
    run("reject", str(lacking.pk), "--note", "Not a company", "--as", dm)
    lacking.refresh_from_db()
    assert (lacking.status, lacking.decision_note) == ("rejected", "Not a company")

"""Merging duplicates: survivorship, every related record moved, audit, undo."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.activities.models import Activity
from comptoir.core.errors import Conflict, NotFound, ValidationFailed
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.documents.models import Attachment
from comptoir.feeds.models import Follow
from comptoir.quality import merge
from comptoir.quality.models import DuplicatePair, MergeRecord
from comptoir.sales.models import SalesDocument
from comptoir.service.models import Case
from comptoir.testing import factories as f

RELATED = [(Contact, "account_id"), (Opportunity, "account_id"), (Activity, "account_id"),
           (Case, "account_id"), (SalesDocument, "account_id"), (Attachment, "account_id"),
           (Account, "parent_id"), (Lead, "converted_account_id")]


@pytest.fixture
def pair(personas: Any, pipeline: Any) -> tuple[Account, Account]:
    """The owner's account and its older duplicate, which carries a history of its own."""
    owner = personas.owner
    keep = f.account(by=owner, legal_name="Dupont Conseil SARL", siren=f.siren(8001),
                     billing_postcode="69002", billing_city="Lyon", phone="04 72 00 00 01")
    dup = f.account(by=owner, legal_name="Dupont Conseil", billing_postcode="69002",
                    billing_city="Lyon", email="contact@dupont-conseil.fr",
                    website="https://dupont-conseil.fr", naf_code="70.22Z",
                    custom={})
    # the duplicate was edited last: its values are the most recent
    Account.objects.filter(pk=keep.pk).update(updated_at=timezone.now() - dt.timedelta(days=3))
    keep.refresh_from_db()
    contact = f.contact(by=owner, account=dup, first_name="Anne", last_name="Durand",
                        email="anne@dupont-conseil.fr")
    deal = f.opportunity(by=owner, account=dup, contact=contact, name="Audit 2025")
    f.activity(by=owner, account=dup, contact=contact, subject="Call Anne")
    f.case(by=owner, account=dup, subject="Late invoice", contact=contact)
    f.sales_document(by=owner, account=dup, opportunity=deal)
    f.attachment(by=owner, on=dup, name="kbis.pdf")
    f.account(by=owner, legal_name="Dupont Conseil Agence Nord", parent=dup,
              billing_postcode="69004")
    lead = f.lead(by=owner, company_name="Dupont Conseil", email="anne@dupont-conseil.fr")
    Lead.objects.filter(pk=lead.pk).update(converted_account=dup, status="converted")
    ExternalRef.objects.create(system="oldcrm", object_type="account", external_id="A-17",
                               object_id=dup.pk)
    Follow.objects.create(user=personas.teammate, object_type="account", object_id=dup.pk)
    Follow.objects.create(user=owner, object_type="account", object_id=dup.pk)
    Follow.objects.create(user=owner, object_type="account", object_id=keep.pk)
    return keep, dup


def state(keep: Account, dup: Account) -> dict[str, Any]:
    """Everything a merge touches, as plain values."""
    out: dict[str, Any] = {}
    for model, attname in RELATED:
        out[f"{model.__name__}.{attname}"] = sorted(
            model.objects.filter(**{f"{attname}__in": [keep.pk, dup.pk]})
            .values_list("pk", attname))
    out["refs"] = sorted(ExternalRef.objects.filter(object_type="account")
                         .values_list("external_id", "object_id"))
    out["follows"] = sorted(Follow.objects.filter(object_type="account")
                            .values_list("user_id", "object_id"))
    out["accounts"] = {a["id"]: a for a in Account.objects.filter(pk__in=[keep.pk, dup.pk])
                       .values()}
    return out


def test_preview_shows_each_value_with_its_source_and_what_moves(pair, personas):
    keep, dup = pair
    plan = merge.merge_preview(object_type="account", survivor_id=keep.pk,
                               loser_ids=[dup.pk], user=personas.owner)
    fields = plan.fields
    assert (fields["legal_name"].value, fields["legal_name"].source_id) == \
        ("Dupont Conseil", dup.pk)  # the most recent non-empty value
    assert fields["legal_name"].rule == "recent"
    assert fields["legal_name"].differs
    assert (fields["siren"].value, fields["siren"].source_id) == (keep.siren, keep.pk)
    assert fields["email"].source_id == dup.pk
    assert fields["owner_id"].rule == "survivor"
    assert plan.changes["email"] == ["", "contact@dupont-conseil.fr"]
    assert "siren" not in plan.changes
    assert plan.related["crm.contact.account_id"] == 1
    assert plan.related["core.externalref.object_id"] == 1
    assert plan.related["feeds.follow.object_id"] == 2
    assert state(keep, dup)["accounts"][dup.pk]  # nothing written
    plan = merge.merge_preview(object_type="account", survivor_id=keep.pk,
                               loser_ids=[dup.pk], user=personas.owner,
                               choices={"legal_name": keep.pk})
    assert plan.fields["legal_name"].value == "Dupont Conseil SARL"
    assert plan.fields["legal_name"].rule == "chosen"


def test_merge_moves_every_related_record_and_deletes_the_duplicate(pair, personas):
    keep, dup = pair
    record = merge.merge_records(object_type="account", survivor_id=keep.pk,
                                 loser_ids=[dup.pk], user=personas.owner)
    assert not Account.objects.filter(pk=dup.pk).exists()
    for model, attname in RELATED:
        assert not model.objects.filter(**{attname: dup.pk}).exists(), model
        assert model.objects.filter(**{attname: keep.pk}).exists(), model
    assert ExternalRef.objects.get(external_id="A-17").object_id == keep.pk
    # the owner followed both: one follow remains; the teammate's moved
    assert sorted(Follow.objects.values_list("user_id", "object_id")) == sorted(
        [(personas.owner.pk, keep.pk), (personas.teammate.pk, keep.pk)])
    assert record.dropped
    assert record.dropped[0][0] == "feeds.follow"
    keep.refresh_from_db()
    assert keep.email == "contact@dupont-conseil.fr"
    assert keep.naf_code == "70.22Z"
    assert keep.siren
    assert keep.legal_name == "Dupont Conseil"
    assert keep.normalized_name == "dupont conseil"
    # the audit trail: the duplicate's deletion names the survivor, the survivor lists it
    gone = AuditEntry.objects.get(object_type="account", object_id=dup.pk, action="delete")
    assert gone.changes["merged_into"] == [None, keep.pk]
    assert gone.changes["legal_name"] == ["Dupont Conseil", None]
    assert AuditEntry.objects.filter(object_type="account", object_id=dup.pk,
                                     action="create").exists()  # its history stays
    merged = AuditEntry.objects.get(object_type="account", object_id=keep.pk, action="merge")
    assert merged.changes == {"merged": [None, [dup.pk]]}
    assert AuditEntry.objects.filter(object_type="contact", action="update",
                                     changes__account_id=[dup.pk, keep.pk]).count() == 1
    assert OutboxEvent.objects.filter(topic="account.deleted", object_id=dup.pk).exists()
    assert OutboxEvent.objects.filter(topic="account.merged", object_id=keep.pk).exists()


def test_undo_restores_everything_exactly(pair, personas):
    keep, dup = pair
    before = state(keep, dup)
    record = merge.merge_records(object_type="account", survivor_id=keep.pk,
                                 loser_ids=[dup.pk], user=personas.owner)
    assert state(keep, dup) != before
    outcome = merge.merge_undo(merge=record, user=personas.owner)
    assert outcome["restored"] == [dup.pk]
    assert outcome["kept_fields"] == []
    after = state(keep, dup)
    # the survivor was written twice: its ``updated_at`` says so (incremental readers need it)
    assert after["accounts"][keep.pk].pop("updated_at") > \
        before["accounts"][keep.pk].pop("updated_at")
    assert after["accounts"][keep.pk].pop("version") > before["accounts"][keep.pk].pop("version")
    for key in before:
        assert after[key] == before[key], key
    record.refresh_from_db()
    assert record.undone_at is not None
    assert record.undone_by == personas.owner
    with pytest.raises(Conflict):
        merge.merge_undo(merge=record, user=personas.owner)


def test_undo_keeps_values_changed_since_the_merge(pair, personas):
    from comptoir.crm.services import account_update

    keep, dup = pair
    record = merge.merge_records(object_type="account", survivor_id=keep.pk,
                                 loser_ids=[dup.pk], user=personas.owner)
    account_update(account=Account.objects.get(pk=keep.pk), user=personas.owner,
                   data={"email": "direction@dupont-conseil.fr"})
    outcome = merge.merge_undo(merge=record, user=personas.owner)
    assert outcome["kept_fields"] == ["email"]
    keep.refresh_from_db()
    assert keep.email == "direction@dupont-conseil.fr"
    assert keep.legal_name == "Dupont Conseil SARL"  # reverted: unchanged since


def test_only_the_last_merge_can_be_undone(pair, personas):
    keep, dup = pair
    third = f.account(by=personas.owner, legal_name="Dupont Conseil (ancien)",
                      billing_postcode="69002")
    first = merge.merge_records(object_type="account", survivor_id=keep.pk,
                                loser_ids=[dup.pk], user=personas.owner)
    second = merge.merge_records(object_type="account", survivor_id=keep.pk,
                                 loser_ids=[third.pk], user=personas.owner)
    with pytest.raises(Conflict):
        merge.merge_undo(merge=first, user=personas.owner)
    assert merge.last_merge("account", keep.pk) == second
    merge.merge_undo(merge=second, user=personas.owner)
    merge.merge_undo(merge=first, user=personas.owner)
    assert Account.objects.filter(pk__in=[dup.pk, third.pk]).count() == 2


def test_fields_the_erp_owns_come_from_the_erp_record(pair, personas):
    from comptoir.integration.models import Connection

    keep, dup = pair
    Connection.objects.create(name="erp", connector="files", mapping='system = "erp"\n',
                              owned_fields={"account": ["legal_name", "phone", "siren"]})
    ExternalRef.objects.create(system="erp", object_type="account", external_id="C042",
                               object_id=keep.pk)
    plan = merge.merge_preview(object_type="account", survivor_id=dup.pk,
                               loser_ids=[keep.pk], user=personas.data_manager)
    # the duplicate is more recent, but the ERP masters these fields of the other record
    assert plan.fields["legal_name"].value == "Dupont Conseil SARL"
    assert plan.fields["legal_name"].rule == "erp"
    assert plan.fields["phone"].source_id == keep.pk
    assert plan.fields["email"].source_id == dup.pk  # not owned: most recent
    with pytest.raises(ValidationFailed) as refused:
        merge.merge_preview(object_type="account", survivor_id=dup.pk, loser_ids=[keep.pk],
                            user=personas.data_manager, choices={"legal_name": dup.pk})
    assert "legal_name" in refused.value.fields
    merge.merge_records(object_type="account", survivor_id=dup.pk, loser_ids=[keep.pk],
                        user=personas.data_manager)
    dup.refresh_from_db()
    assert (dup.legal_name, dup.phone) == ("Dupont Conseil SARL", "+33472000001")
    assert ExternalRef.objects.get(external_id="C042").object_id == dup.pk


def test_merge_rules_are_configurable(pair, personas, settings):
    keep, dup = pair
    settings.COMPTOIR_MERGE_RULES = {"account": {"fields": {"legal_name": "survivor"}}}
    plan = merge.merge_preview(object_type="account", survivor_id=keep.pk,
                               loser_ids=[dup.pk], user=personas.owner)
    assert plan.fields["legal_name"].value == "Dupont Conseil SARL"
    settings.COMPTOIR_MERGE_RULES = {"account": {"default": "oldest"}}
    plan = merge.merge_preview(object_type="account", survivor_id=dup.pk,
                               loser_ids=[keep.pk], user=personas.owner)
    assert plan.fields["legal_name"].source_id == keep.pk  # created first


def test_a_rep_cannot_merge_what_they_may_not_see(pair, personas, world):
    keep, _dup = pair
    with pytest.raises(NotFound):
        merge.merge_records(object_type="account", survivor_id=keep.pk,
                            loser_ids=[world.theirs.account.pk], user=personas.owner)


def test_contacts_merge_within_their_account_only(world, personas):
    owner = personas.owner
    contact = world.mine.contact
    twin = f.contact(by=owner, account=world.mine.account, first_name="Camille",
                     last_name=contact.last_name, phone="06 12 34 56 78",
                     marketing_consent="opt_out")
    elsewhere = f.contact(by=owner, account=world.mine.private_account, first_name="Camille",
                          last_name=contact.last_name)
    with pytest.raises(ValidationFailed):
        merge.merge_records(object_type="contact", survivor_id=contact.pk,
                            loser_ids=[elsewhere.pk], user=owner)
    opted_out_at = twin.consent_date
    assert opted_out_at is not None
    merge.merge_records(object_type="contact", survivor_id=contact.pk, loser_ids=[twin.pk],
                        user=owner)
    contact.refresh_from_db()
    assert contact.phone == "+33612345678"
    assert contact.marketing_consent == "opt_out"  # an opt-out is never lost…
    assert contact.consent_date == opted_out_at  # …nor its proof
    assert contact.email == world.mine.contact.email
    assert Activity.objects.filter(contact=contact).exists()


def test_bulk_merge_is_set_based(personas, pipeline):
    owner = personas.owner
    groups = []
    for n in range(6):
        a = f.account(by=owner, legal_name=f"Société {n} SAS", billing_postcode="69002")
        b = f.account(by=owner, legal_name=f"Societe {n}", billing_postcode="69002")
        f.activity(by=owner, account=b, subject=f"Call {n}")
        f.opportunity(by=owner, account=b, name=f"Deal {n}")
        low, high = sorted((a.pk, b.pk))
        groups.append(DuplicatePair.objects.create(object_type="account", left_id=low,
                                                   right_id=high, score=80))
    with CaptureQueriesContext(connection) as queries:
        records = merge.merge_pairs(pair_ids=[p.pk for p in groups], user=owner)
    assert len(records) == 6
    moves = [q["sql"] for q in queries.captured_queries
             if q["sql"].startswith('UPDATE "activities_activity"')]
    assert len(moves) == 1, moves  # one statement for the six groups
    assert Account.objects.count() == 6
    assert Activity.objects.filter(account__isnull=False).count() == 6
    assert set(DuplicatePair.objects.values_list("status", flat=True)) == {"merged"}
    assert MergeRecord.objects.count() == 6


def test_leads_merge_too(personas):
    owner = personas.owner
    first = f.lead(by=owner, first_name="Anne", last_name="Durand", email="anne@acme.fr",
                   status="qualified")
    again = f.lead(by=owner, first_name="Anne", last_name="Durand", phone="06 11 22 33 44",
                   company_name="Acme", email="ANNE@acme.fr")
    record = merge.merge_records(object_type="lead", survivor_id=first.pk,
                                 loser_ids=[again.pk], user=owner)
    first.refresh_from_db()
    assert (first.status, first.phone, first.company_name) == ("qualified", "+33611223344",
                                                               "Acme")
    assert not Lead.objects.filter(pk=again.pk).exists()
    merge.merge_undo(merge=record, user=owner)
    assert Lead.objects.get(pk=again.pk).phone == "+33611223344"
    first.refresh_from_db()
    assert first.company_name == ""

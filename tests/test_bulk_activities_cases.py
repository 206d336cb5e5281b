"""Bulk upsert of activities and cases: the single-record rules, parents by external id,
picklists by label, rights, and per-record results (never a half batch)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone, translation

from comptoir.activities.bulk import ACTIVITY_BULK
from comptoir.activities.models import Activity
from comptoir.core.bulk import bulk_upsert
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.service.bulk import CASE_BULK
from comptoir.service.models import Case


def _post(api: Any, user: Any, path: str, records: list[dict[str, Any]],
          system: str = "old-crm") -> Any:
    return api(user).post(f"{path}/bulk?match=off", {"system": system, "records": records})


@pytest.fixture
def parents(world: Any, api: Any) -> dict[str, int]:
    """An account of the rep's with a contact and a deal, another account and its contact,
    all loaded by external id."""
    dm = world.personas.data_manager
    owner, outsider = world.personas.owner, world.personas.outsider
    accounts = _post(api, dm, "accounts", [
        {"external_id": "A1", "legal_name": "Boulangerie Martin", "owner_id": owner.pk},
        {"external_id": "A2", "legal_name": "Garage Dupuis", "owner_id": outsider.pk},
    ]).expect(200)
    contacts = _post(api, dm, "contacts", [
        {"external_id": "P1", "account_external_id": "A1", "last_name": "Martin"},
        {"external_id": "P2", "account_external_id": "A2", "last_name": "Dupuis"},
    ]).expect(200)
    deals = _post(api, dm, "opportunities", [
        {"external_id": "D1", "name": "Fours", "account_external_id": "A1",
         "owner_id": owner.pk},
    ]).expect(200)
    ids = [r["id"] for body in (accounts, contacts, deals) for r in body["results"]]
    return dict(zip(["A1", "A2", "P1", "P2", "D1"], ids, strict=True))


def _soon(days: int = 3) -> str:
    return (timezone.now() + dt.timedelta(days=days)).replace(microsecond=0).isoformat()


# --- Cases ------------------------------------------------------------------------------------

def test_cases_create_update_resend_with_labels_and_numbers(world: Any, api: Any,
                                                            parents: dict[str, int]) -> None:
    dm = world.personas.data_manager
    records = [
        {"external_id": "T1", "subject": "Four en panne", "account_external_id": "A1",
         "contact_external_id": "P1", "status": "En cours", "priority": "Urgente",
         "kind": "Réclamation"},
        {"external_id": "T2", "subject": "Question facture", "account_external_id": "A2",
         "number": "ZD-4521", "status": "Closed", "priority": "low", "kind": "question"},
    ]
    body = _post(api, dm, "cases", records).expect(200)
    assert body["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 0}, body
    t1, t2 = (Case.objects.get(pk=r["id"]) for r in body["results"])
    assert (t1.account_id, t1.contact_id) == (parents["A1"], parents["P1"])
    assert (t1.status, t1.priority, t1.kind) == ("open", "urgent", "complaint")
    assert t1.number == f"CAS-{t1.pk:06d}"
    assert t1.closed_at is None
    assert t1.owner_id == dm.pk  # as the service: the creator when none is given
    assert (t2.number, t2.status) == ("ZD-4521", "closed")
    assert t2.closed_at is not None
    created = AuditEntry.objects.get(object_type="case", object_id=t1.pk, action="create")
    assert created.changes["number"] == [None, t1.number]
    assert OutboxEvent.objects.filter(topic="case.created", object_id=t1.pk).exists()

    assert _post(api, dm, "cases", records).expect(200)["counts"]["unchanged"] == 2
    records[0]["status"] = "resolved"
    changed = _post(api, dm, "cases", records).expect(200)
    assert changed["counts"] == {"created": 0, "updated": 1, "unchanged": 1, "error": 0}
    t1.refresh_from_db()
    assert t1.status == "resolved"
    assert t1.closed_at is not None
    entry = AuditEntry.objects.get(object_type="case", object_id=t1.pk, action="update")
    assert entry.changes["status"] == ["open", "resolved"]


def test_bad_case_rows_are_refused_and_the_good_ones_land(world: Any, api: Any,
                                                          parents: dict[str, int]) -> None:
    dm = world.personas.data_manager
    with translation.override("en"):
        body = _post(api, dm, "cases", [
            {"external_id": "OK", "subject": "Bon", "account_external_id": "A1"},
            {"external_id": "NOACC", "subject": "X"},
            {"external_id": "NOSUBJ", "account_external_id": "A1"},
            {"external_id": "CONTACT", "subject": "X", "account_external_id": "A1",
             "contact_external_id": "P2"},
            {"external_id": "PRIO", "subject": "X", "account_external_id": "A1",
             "priority": "Critique"},
            {"external_id": "NUMBER", "subject": "X", "account_external_id": "A1",
             "number": "CAS-999999"},
            {"external_id": "NUMBER2", "subject": "X", "account_external_id": "A1",
             "number": "CAS-999999"},
        ]).expect(200)
    results = {r["external_id"]: r for r in body["results"]}
    assert [r["status"] for r in body["results"]].count("created") == 2
    assert results["OK"]["status"] == "created"
    assert "account" in results["NOACC"]["errors"]
    assert "subject" in results["NOSUBJ"]["errors"]
    assert "contact" in results["CONTACT"]["errors"]
    assert "Critique" in results["PRIO"]["errors"]["priority"][0]
    assert "urgent" in results["PRIO"]["errors"]["priority"][0]
    assert "number" in results["NUMBER2"]["errors"]  # sent twice in the call
    assert not Case.objects.filter(subject="X").exclude(number="CAS-999999").exists()


def test_a_rep_opens_cases_on_accounts_they_see_only(world: Any,
                                                    parents: dict[str, int]) -> None:
    rep = world.personas.owner
    results = bulk_upsert(CASE_BULK, system="old-crm", user=rep, records=[
        {"external_id": "MINE", "subject": "Four", "account_id": parents["A1"]},
        {"external_id": "THEIRS", "subject": "Pneus", "account_id": parents["A2"]},
    ])
    assert results[0].status == "created"
    assert Case.objects.get(pk=results[0].id).owner_id == rep.pk
    assert results[1].status == "error"
    assert "account" in results[1].errors
    their_case = world.theirs.case
    ExternalRef.objects.create(system="old-crm", object_type="case", external_id="OLD",
                               object_id=their_case.pk, content_hash="-")
    again = bulk_upsert(CASE_BULK, system="old-crm", user=rep, records=[
        {"external_id": "OLD", "status": "closed"}])
    assert again[0].status == "error"
    assert again[0].errors["__all__"]
    their_case.refresh_from_db()
    assert their_case.status != "closed"


# --- Activities -------------------------------------------------------------------------------

def test_activities_by_external_parents_with_their_account_derived(
        world: Any, api: Any, parents: dict[str, int]) -> None:
    dm = world.personas.data_manager
    when = _soon()
    records = [
        {"external_id": "E1", "kind": "Appel", "subject": "Relance devis",
         "contact_external_id": "P1", "start_at": when,
         "owner_username": world.personas.owner.username},
        {"external_id": "E2", "kind": "meeting", "subject": "Visite atelier",
         "opportunity_external_id": "D1", "due_at": when},
        {"external_id": "E3", "kind": "Note", "subject": "Compte rendu", "body": "RAS",
         "account_external_id": "A2", "done": True},
    ]
    body = _post(api, dm, "activities", records).expect(200)
    assert body["counts"]["created"] == 3, body
    e1, e2, e3 = (Activity.objects.get(pk=r["id"]) for r in body["results"])
    assert (e1.kind, e1.contact_id, e1.account_id) == ("call", parents["P1"], parents["A1"])
    assert e1.owner_id == world.personas.owner.pk
    assert e1.remind_at == e1.start_at - dt.timedelta(minutes=15)  # the default reminder
    assert (e2.opportunity_id, e2.account_id) == (parents["D1"], parents["A1"])
    assert e3.done
    assert e3.done_at is not None
    assert e3.remind_at is None
    assert _post(api, dm, "activities", records).expect(200)["counts"]["unchanged"] == 3

    later = _soon(5)
    records[0]["start_at"] = later
    moved = _post(api, dm, "activities", records).expect(200)
    assert moved["counts"]["updated"] == 1
    e1.refresh_from_db()
    assert e1.remind_at == e1.start_at - dt.timedelta(minutes=15)  # moved with the time
    assert AuditEntry.objects.filter(object_type="activity", object_id=e1.pk,
                                     action="update").exists()


def test_bad_activity_rows_are_refused_and_the_good_ones_land(
        world: Any, api: Any, parents: dict[str, int]) -> None:
    dm = world.personas.data_manager
    with translation.override("en"):
        body = _post(api, dm, "activities", [
            {"external_id": "OK", "kind": "task", "subject": "Bon", "due_at": _soon(),
             "account_external_id": "A1"},
            {"external_id": "NODATE", "kind": "task", "subject": "X"},
            {"external_id": "KIND", "kind": "Fax", "subject": "X", "due_at": _soon()},
            {"external_id": "MISMATCH", "kind": "call", "subject": "X", "due_at": _soon(),
             "account_external_id": "A2", "contact_external_id": "P1"},
            {"external_id": "ENDS", "kind": "meeting", "subject": "X", "start_at": _soon(3),
             "end_at": _soon(2)},
            {"external_id": "ORPHAN", "kind": "note", "subject": "X",
             "case_external_id": "NOPE"},
        ]).expect(200)
    results = {r["external_id"]: r for r in body["results"]}
    assert results["OK"]["status"] == "created"
    assert body["counts"]["error"] == 5
    assert "due_at" in results["NODATE"]["errors"]
    assert "Fax" in results["KIND"]["errors"]["kind"][0]
    assert "account" in results["MISMATCH"]["errors"]
    assert "end_at" in results["ENDS"]["errors"]
    assert "case_external_id" in results["ORPHAN"]["errors"]
    assert not Activity.objects.filter(subject="X").exists()


def test_a_rep_cannot_link_to_hidden_records_nor_change_others_activities(
        world: Any, parents: dict[str, int]) -> None:
    rep = world.personas.owner
    results = bulk_upsert(ACTIVITY_BULK, system="old-crm", user=rep, records=[
        {"external_id": "MINE", "kind": "note", "subject": "Vu", "contact_id": parents["P1"]},
        {"external_id": "HIDDEN", "kind": "note", "subject": "Vu",
         "contact_id": parents["P2"]},
    ])
    assert results[0].status == "created"
    assert results[1].status == "error"
    assert "contact" in results[1].errors
    theirs = world.theirs.activity
    ExternalRef.objects.create(system="old-crm", object_type="activity", external_id="OLD",
                               object_id=theirs.pk, content_hash="-")
    again = bulk_upsert(ACTIVITY_BULK, system="old-crm", user=rep, records=[
        {"external_id": "OLD", "subject": "Renommée"}])
    assert again[0].status == "error"
    assert again[0].errors["__all__"]
    theirs.refresh_from_db()
    assert theirs.subject != "Renommée"

"""Bulk upsert of leads and deals: the single-record rules, per-record results, parents by
external id, picklists by label, stages by name, rights, and a sync from CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from comptoir.core.bulk import bulk_upsert
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.crm.bulk import LEAD_BULK, OPPORTUNITY_BULK
from comptoir.crm.models import Lead, LostReason, Opportunity, Stage
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.integration.services import sync_run
from comptoir.testing import factories


def _post(api: Any, user: Any, path: str, records: list[dict[str, Any]],
          system: str = "old-crm", **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api(user).post(f"{path}/bulk" + (f"?{query}" if query else ""),
                          {"system": system, "records": records})


def _leads() -> list[dict[str, Any]]:
    return [
        {"external_id": "L1", "company_name": "Boulangerie Martin", "last_name": "Martin",
         "email": "paul@boulangerie-martin.fr", "phone": "04 72 00 00 01",
         "status": "Qualifiée", "source": "Trade show"},
        {"external_id": "L2", "company_name": "Garage Dupuis", "last_name": "Dupuis",
         "email": "contact@garage-dupuis.fr", "status": "working", "source": "referral"},
        {"external_id": "L3", "company_name": "Fleurs & Co", "phone": "0600000003",
         "status": "NOUVELLE"},
    ]


# --- Leads ------------------------------------------------------------------------------------

def test_leads_create_update_and_unchanged_resend(world: Any, api: Any) -> None:
    dm = world.personas.data_manager
    records = _leads()
    records[1]["source"] = "Salon professionnel"  # the French label of trade_show
    body = _post(api, dm, "leads", records, match="off").expect(200)
    assert body["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "error": 0}, body
    ids = [r["id"] for r in body["results"]]
    first = Lead.objects.get(pk=ids[0])
    assert (first.status, first.source) == ("qualified", "trade_show")
    assert first.phone == "+33472000001"  # the service's phone rule ran
    assert first.owner_id is None  # a data manager's import: nobody's until assigned
    assert Lead.objects.get(pk=ids[1]).source == "trade_show"
    assert Lead.objects.get(pk=ids[2]).status == "new"
    assert AuditEntry.objects.filter(object_type="lead", object_id=ids[0], action="create",
                                     source="bulk:old-crm").exists()
    assert OutboxEvent.objects.filter(topic="lead.created", object_id=ids[0]).exists()
    audits = AuditEntry.objects.count()

    again = _post(api, dm, "leads", records, match="off").expect(200)
    assert again["counts"]["unchanged"] == 3
    assert AuditEntry.objects.count() == audits

    records[0]["status"] = "Disqualified"
    records[0]["owner_username"] = world.personas.owner.username
    changed = _post(api, dm, "leads", records, match="off").expect(200)
    assert changed["counts"] == {"created": 0, "updated": 1, "unchanged": 2, "error": 0}
    first.refresh_from_db()
    assert (first.status, first.owner_id) == ("disqualified", world.personas.owner.pk)
    entry = AuditEntry.objects.get(object_type="lead", object_id=ids[0], action="update")
    assert entry.changes["status"] == ["qualified", "disqualified"]
    assert "owner_username" not in entry.changes


def test_bad_lead_rows_are_refused_with_their_reasons_and_the_good_ones_land(
        world: Any, api: Any) -> None:
    dm = world.personas.data_manager
    records = [
        _leads()[0],
        {"external_id": "NO-MEANS", "company_name": "Sans contact"},
        {"external_id": "BAD-STATUS", "email": "a@b.fr", "status": "Chaud"},
        {"external_id": "BAD-SIREN", "email": "c@d.fr", "siren": "123456789"},
        {"external_id": "CONVERTED", "email": "e@f.fr", "status": "converted"},
        {"external_id": "WHO", "email": "g@h.fr", "owner_username": "nobody@nowhere"},
        {"external_id": "BAD-MAIL", "email": "pas un e-mail"},
    ]
    with translation.override("en"):
        body = _post(api, dm, "leads", records, match="off").expect(200)
    results = {r["external_id"]: r for r in body["results"]}
    assert results["L1"]["status"] == "created"
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "error": 6}
    assert "email" in results["NO-MEANS"]["errors"]
    assert "Chaud" in results["BAD-STATUS"]["errors"]["status"][0]
    assert "qualified" in results["BAD-STATUS"]["errors"]["status"][0]
    assert "siren" in results["BAD-SIREN"]["errors"]
    assert "status" in results["CONVERTED"]["errors"]
    assert "nobody@nowhere" in results["WHO"]["errors"]["owner_username"][0]
    assert "email" in results["BAD-MAIL"]["errors"]
    assert Lead.objects.filter(email__in=["a@b.fr", "c@d.fr", "e@f.fr", "g@h.fr"]).count() == 0
    assert not ExternalRef.objects.filter(object_type="lead", external_id="NO-MEANS").exists()


def test_a_rep_loads_leads_they_own_but_changes_nobody_elses(world: Any) -> None:
    rep, other = world.personas.owner, world.personas.outsider
    mine = bulk_upsert(LEAD_BULK, system="old-crm", records=_leads(), user=rep)
    assert [r.status for r in mine] == ["created"] * 3
    assert set(Lead.objects.filter(pk__in=[r.id for r in mine])
               .values_list("owner_id", flat=True)) == {rep.pk}

    theirs = bulk_upsert(LEAD_BULK, system="other", user=other,
                         records=[{"external_id": "T1", "email": "t1@example.org"}])
    ExternalRef.objects.create(system="old-crm", object_type="lead", external_id="T1",
                               object_id=theirs[0].id, content_hash="-")
    results = bulk_upsert(LEAD_BULK, system="old-crm", user=rep, records=[
        {"external_id": "T1", "email": "t1@example.org", "status": "working"},  # not theirs
        {"external_id": "GIFT", "email": "gift@example.org", "owner_id": other.pk},
    ])
    assert results[0].status == "error"
    assert results[0].errors["__all__"]
    assert results[1].status == "error"
    assert "owner" in results[1].errors
    assert Lead.objects.get(pk=theirs[0].id).status == "new"
    assert not Lead.objects.filter(email="gift@example.org").exists()


# --- Deals ------------------------------------------------------------------------------------

@pytest.fixture
def parents(world: Any, api: Any) -> dict[str, int]:
    """Two accounts and a contact of the first, loaded by external id."""
    dm = world.personas.data_manager
    accounts = _post(api, dm, "accounts", [
        {"external_id": "A1", "legal_name": "Boulangerie Martin", "owner_id":
            world.personas.owner.pk},
        {"external_id": "A2", "legal_name": "Garage Dupuis", "owner_id":
            world.personas.outsider.pk},
    ], match="off").expect(200)
    contacts = _post(api, dm, "contacts", [
        {"external_id": "P1", "account_external_id": "A1", "last_name": "Martin"},
        {"external_id": "P2", "account_external_id": "A2", "last_name": "Dupuis"},
    ], match="off").expect(200)
    ids = [r["id"] for r in accounts["results"]] + [r["id"] for r in contacts["results"]]
    return dict(zip(["A1", "A2", "P1", "P2"], ids, strict=True))


def test_deals_by_external_parents_and_stage_name(world: Any, api: Any,
                                                  parents: dict[str, int]) -> None:
    dm = world.personas.data_manager
    pipeline = factories.default_pipeline()
    LostReason.objects.create(name="Price")
    records = [
        {"external_id": "D1", "name": "Fours", "account_external_id": "A1",
         "contact_external_id": "P1", "stage": "proposal", "amount": "12500.00",
         "owner_username": world.personas.owner.email},
        {"external_id": "D2", "name": "Pneus", "account_external_id": "A2"},
        {"external_id": "D3", "name": "Perdu", "account_external_id": "A2", "stage": "Lost",
         "lost_reason": "price"},
    ]
    body = _post(api, dm, "opportunities", records).expect(200)
    assert body["counts"]["created"] == 3, body
    d1, d2, d3 = (Opportunity.objects.get(pk=r["id"]) for r in body["results"])
    proposal = Stage.objects.get(pipeline=pipeline, name="Proposal")
    assert (d1.account_id, d1.contact_id, d1.stage_id) == (parents["A1"], parents["P1"],
                                                           proposal.pk)
    assert (d1.pipeline_id, d1.probability, d1.status) == (pipeline.pk, 50, "open")
    assert d1.owner_id == world.personas.owner.pk
    assert d2.stage.name == "Qualification"
    assert d2.probability == 10
    assert d2.owner_id == dm.pk  # as the service: the creator when none is given
    assert (d3.status, d3.lost_reason) == ("lost", "Price")
    assert d3.closed_at is not None

    # moved to Won by name: probability and status follow; re-sent unchanged is unchanged
    records[0]["stage"] = "Won"
    moved = _post(api, dm, "opportunities", records).expect(200)
    assert moved["counts"] == {"created": 0, "updated": 1, "unchanged": 2, "error": 0}
    d1.refresh_from_db()
    assert (d1.stage.name, d1.probability, d1.status) == ("Won", 100, "won")
    assert d1.closed_at is not None
    entry = AuditEntry.objects.get(object_type="opportunity", object_id=d1.pk, action="update")
    assert entry.changes["status"] == ["open", "won"]
    assert _post(api, dm, "opportunities", records).expect(200)["counts"]["unchanged"] == 3


def test_bad_deal_rows_are_refused_and_the_good_ones_land(world: Any, api: Any,
                                                          parents: dict[str, int]) -> None:
    dm = world.personas.data_manager
    factories.default_pipeline()
    with translation.override("en"):
        body = _post(api, dm, "opportunities", [
            {"external_id": "OK", "name": "Bon", "account_external_id": "A1"},
            {"external_id": "STAGE", "name": "X", "account_external_id": "A1",
             "stage": "Negotiation"},
            {"external_id": "PIPE", "name": "X", "account_external_id": "A1",
             "pipeline": "Renewals"},
            {"external_id": "ORPHAN", "name": "X", "account_external_id": "NOPE"},
            {"external_id": "NOACC", "name": "X"},
            {"external_id": "CONTACT", "name": "X", "account_external_id": "A1",
             "contact_external_id": "P2"},
            {"external_id": "LOST", "name": "X", "account_external_id": "A1", "stage": "Lost"},
            {"external_id": "NEG", "name": "X", "account_external_id": "A1", "amount": "-5"},
        ]).expect(200)
    results = {r["external_id"]: r for r in body["results"]}
    assert results["OK"]["status"] == "created"
    assert body["counts"]["error"] == 7
    stage_error = results["STAGE"]["errors"]["stage"][0]
    assert "Negotiation" in stage_error
    assert "Proposal" in stage_error
    assert "Renewals" in results["PIPE"]["errors"]["pipeline"][0]
    assert "account_external_id" in results["ORPHAN"]["errors"]
    assert "account" in results["NOACC"]["errors"]
    assert "contact" in results["CONTACT"]["errors"]
    assert "lost_reason" in results["LOST"]["errors"]
    assert "amount" in results["NEG"]["errors"]
    assert not Opportunity.objects.filter(name="X").exists()


def test_a_rep_cannot_place_deals_on_an_account_they_cannot_work_on(
        world: Any, parents: dict[str, int]) -> None:
    rep = world.personas.owner
    factories.default_pipeline()
    results = bulk_upsert(OPPORTUNITY_BULK, system="old-crm", user=rep, records=[
        {"external_id": "MINE", "name": "Fours", "account_id": parents["A1"]},
        {"external_id": "THEIRS", "name": "Pneus", "account_id": parents["A2"]},
    ])
    assert results[0].status == "created"
    assert results[1].status == "error"
    assert "account" in results[1].errors
    their_deal = world.theirs.opportunity
    ExternalRef.objects.create(system="old-crm", object_type="opportunity",
                               external_id="OLD", object_id=their_deal.pk, content_hash="-")
    again = bulk_upsert(OPPORTUNITY_BULK, system="old-crm", user=rep, records=[
        {"external_id": "OLD", "stage": "Won"}])
    assert again[0].status == "error"
    assert again[0].errors["__all__"]
    their_deal.refresh_from_db()
    assert their_deal.status == "open"


# --- Sync from CSV files ----------------------------------------------------------------------

LEAD_MAPPING = """
system = "old-crm"

[streams.leads]
stream = "rows"
target = "lead"
key = "Id"
match = "off"
[streams.leads.fields]
company_name = "Société"
last_name = "Nom"
email = "E-mail"
phone = "Téléphone"
status = "Statut"
source = "Origine"
"""

DEAL_MAPPING = """
system = "old-crm"

[streams.deals]
stream = "rows"
target = "opportunity"
key = "Id"
[streams.deals.fields]
name = "Affaire"
account_external_id = "Compte"
stage = "Étape"
amount = { source = "Montant", transforms = ["fr_number"] }
"""


def test_sync_loads_leads_and_deals_from_csv_files(world: Any, api: Any, tmp_path: Path,
                                                   parents: dict[str, int]) -> None:
    factories.default_pipeline()
    runs = []
    for name, mapping, text in (
        ("leads", LEAD_MAPPING,
         "Id;Société;Nom;E-mail;Téléphone;Statut;Origine\n"
         "L1;Boulangerie Martin;Martin;paul@boulangerie-martin.fr;;Qualifiée;"
         "Salon professionnel\n"
         "L2;Garage Dupuis;Dupuis;;0472000002;Working;Referral\n"
         "L3;Sans contact;Personne;;;Nouvelle;Web form\n"),
        ("deals", DEAL_MAPPING,
         "Id;Affaire;Compte;Étape;Montant\n"
         "D1;Fours;A1;Proposal;12 500,00\n"
         "D2;Pneus;A2;Négociation;3 000,00\n"),
    ):
        inbox = tmp_path / name
        inbox.mkdir()
        (inbox / f"{name}.csv").write_text(text, encoding="utf-8")
        connection = Connection.objects.create(
            name=f"old-crm-{name}", connector="files", mapping=mapping,
            parameters={"path": str(inbox), "key_field": "Id"}, batch_size=50)
        run = sync_run(connection)
        assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
        runs.append(run)
    assert [(r.created, r.quarantined) for r in runs] == [(2, 1), (1, 1)]
    lead = Lead.objects.get(email="paul@boulangerie-martin.fr")
    assert (lead.status, lead.source) == ("qualified", "trade_show")
    assert Lead.objects.get(last_name="Dupuis").phone == "+33472000002"
    deal = Opportunity.objects.get(name="Fours")
    assert (deal.account_id, deal.stage.name, str(deal.amount)) == (parents["A1"], "Proposal",
                                                                    "12500.00")
    reasons = {q.external_id: q.reason for q in QuarantinedRecord.objects.all()}
    assert "Négociation" in reasons["D2"]
    assert "L3" in reasons

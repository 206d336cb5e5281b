"""Promotion of a prospect to an ERP customer (I7): requests raised from sales documents
whatever their write path, the review (gaps, customers it may be), the decisions, the API, and
one run against a real Tryton server."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.core.errors import Conflict, Forbidden, ValidationFailed
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.crm.models import Account
from comptoir.quality.identifiers import siret_with_check_digit
from comptoir.quality.models import PromotionRequest
from comptoir.quality.promotion import (
    promotion_approve,
    promotion_merge,
    promotion_reject,
    promotion_request,
    promotion_review,
    promotions_process,
)
from comptoir.sales.models import SalesDocument
from comptoir.sales.services import salesdocument_update
from comptoir.testing import factories as f
from comptoir.testing.tryton_fixtures import tryton, tryton_template  # noqa: F401

PENDING = PromotionRequest.Status.PENDING


@pytest.fixture
def outbound_erp(db: Any) -> None:
    """An enabled connection sending new customers: approval needs one (promotion_approve)."""
    from comptoir.integration.models import Connection

    Connection.objects.create(name="erp-out", connector="files", mapping='system = "erp"\n',
                              direction=Connection.Direction.OUTBOUND)



def complete_account(by: Any, n: int, **extra: Any) -> Account:
    """A prospect with everything the ERP profile asks for, and a contact."""
    siren = extra.pop("siren", f.siren(n))
    data = {"legal_name": f"Menuiserie Test {n} SARL", "siren": siren,
            "siret": siret_with_check_digit(siren, "0001"), "naf_code": "16.23Z",
            "billing_street": "4 rue des Artisans", "billing_postcode": "69003",
            "billing_city": "Lyon", "payment_terms": "net_30", **extra}
    account = f.account(by=by, **data)
    f.contact(by=by, account=account, last_name=f"Martin{n}", email=f"m{n}@menuiserie.example")
    return account


def quote(by: Any, account: Account, status: str = "accepted", **extra: Any) -> SalesDocument:
    return f.sales_document(by=by, account=account, status=status, **extra)


def pending_of(account: Account) -> list[PromotionRequest]:
    return list(PromotionRequest.objects.filter(account=account, status=PENDING))


# --- Raising requests -----------------------------------------------------------------------

def test_an_accepted_quote_raises_one_request(owner: Any) -> None:
    prospect = f.account(by=owner, legal_name="Atelier Lumière", billing_postcode="69002")
    draft = quote(owner, prospect, status="draft")
    promotions_process()
    assert pending_of(prospect) == []  # a draft is no reason yet

    salesdocument_update(document=draft, user=owner, data={"status": "accepted"})
    assert promotions_process()["requests"] == 1
    [req] = pending_of(prospect)
    assert (req.trigger, req.document_id, req.requested_by_id) == ("quote_accepted", draft.pk,
                                                                   None)

    quote(owner, prospect)  # a second accepted quote: still one pending request
    f.sales_document(by=owner, account=prospect, kind="order", status="confirmed")
    assert promotions_process()["requests"] == 0
    assert promotions_process() == {"events": 0, "requests": 0}  # the cursor moved on
    assert PromotionRequest.objects.count() == 1


def test_customers_and_accounts_the_erp_knows_are_left_alone(owner: Any) -> None:
    customer = f.account(by=owner, legal_name="Client Fidèle", status="customer")
    linked = f.account(by=owner, legal_name="Connu de l'ERP")
    ExternalRef.objects.create(system="tryton", object_type="account", external_id="42",
                               object_id=linked.pk)
    quote(owner, customer)
    quote(owner, linked)
    promotions_process()
    assert not PromotionRequest.objects.exists()


def test_a_rejected_document_does_not_come_back_but_a_new_one_does(owner: Any,
                                                                   data_manager: Any) -> None:
    prospect = f.account(by=owner, legal_name="Atelier Lumière")
    first = quote(owner, prospect)
    promotions_process()
    [req] = pending_of(prospect)
    promotion_reject(request=req, user=data_manager, note="A one-off sale, paid upfront.")

    salesdocument_update(document=first, user=owner, data={"status": "sent"})
    salesdocument_update(document=first, user=owner, data={"status": "accepted"})
    promotions_process()
    assert pending_of(prospect) == []

    order = f.sales_document(by=owner, account=prospect, kind="order", status="confirmed")
    promotions_process()
    [again] = pending_of(prospect)
    assert (again.trigger, again.document_id) == ("order", order.pk)


def test_an_order_arriving_in_bulk_raises_a_request(owner: Any, data_manager: Any,
                                                    api: Any) -> None:
    prospect = f.account(by=owner, legal_name="Boutique en ligne")
    order = {"external_id": "W-1", "kind": "order", "number": "W-0001", "status": "confirmed",
             "account_id": prospect.pk, "issue_date": "2026-03-01",
             "lines": [{"description": "Lamp", "quantity": "2", "unit_price": "40",
                        "tax_rate": "20"}]}
    cancelled = {**order, "external_id": "W-2", "number": "W-0002", "status": "cancelled"}
    other = f.account(by=owner, legal_name="Autre prospect")
    body = api(data_manager).post("sales-documents/bulk", {
        "system": "webshop", "records": [order, {**cancelled, "account_id": other.pk}]}
    ).expect(200)
    assert body["counts"]["created"] == 2, body["results"]
    promotions_process()
    [req] = PromotionRequest.objects.all()
    assert (req.account_id, req.trigger) == (prospect.pk, "order")
    assert req.document_id == body["results"][0]["id"]


def test_asked_by_hand(owner: Any, outsider: Any) -> None:
    prospect = f.account(by=owner, legal_name="Atelier Lumière")
    req, created = promotion_request(account=prospect, user=owner)
    assert created
    assert (req.trigger, req.requested_by_id) == ("manual", owner.pk)
    assert promotion_request(account=prospect, user=owner) == (req, False)
    quote(owner, prospect)
    promotions_process()
    assert pending_of(prospect) == [req]
    customer = f.account(by=owner, legal_name="Client", status="customer")
    with pytest.raises(ValidationFailed):
        promotion_request(account=customer, user=owner)


# --- Review and decisions -------------------------------------------------------------------

def test_the_review_shows_the_gaps_and_the_customers_it_may_be(owner: Any,
                                                               data_manager: Any) -> None:
    common = {"email": "contact@dupont-conseil.fr", "phone": "04 72 00 00 01",
              "billing_street": "12 rue de la République", "billing_postcode": "69002",
              "billing_city": "Lyon"}
    customer = f.account(by=data_manager, legal_name="Dupont Conseil SARL", status="customer",
                         **common)
    f.account(by=owner, legal_name="Dupont Conseil Lyon", **common)  # a prospect: not shown
    prospect = f.account(by=owner, legal_name="Dupont Conseil", **common)
    req, _created = promotion_request(account=prospect, user=owner)

    review = promotion_review(req)
    assert not review.ready
    codes = {g.requirement for g in review.gaps}
    assert {"contact", "siret", "naf", "payment_terms", "no_duplicate"} <= codes
    assert [c.id for c in review.duplicates] == [customer.pk]
    assert {r.field for r in review.duplicates[0].reasons} >= {"email", "phone"}


def test_approval_waits_for_a_complete_profile(outbound_erp: None, owner: Any,
                                               data_manager: Any) -> None:
    prospect = f.account(by=owner, legal_name="Menuiserie Rivière SARL",
                         billing_postcode="69003", billing_city="Lyon")
    req, _created = promotion_request(account=prospect, user=owner)
    with pytest.raises(Forbidden):
        promotion_approve(request=req, user=owner)
    with pytest.raises(ValidationFailed) as refused:
        promotion_approve(request=req, user=data_manager)
    assert {"siret", "naf_code", "payment_terms", "contacts"} <= set(refused.value.fields)
    prospect.refresh_from_db()
    assert prospect.status == "prospect"

    Account.objects.filter(pk=prospect.pk).update(
        siren=f.siren(7101), siret=siret_with_check_digit(f.siren(7101), "0001"),
        naf_code="16.23Z", billing_street="4 rue des Artisans", payment_terms="net_30")
    f.contact(by=owner, account=prospect, last_name="Rivière", email="r@riviere.example")
    done = promotion_approve(request=req, user=data_manager)
    assert (done.status, done.decided_by_id) == ("approved", data_manager.pk)
    prospect.refresh_from_db()
    assert prospect.status == "customer"
    assert OutboxEvent.objects.filter(topic="account.promoted", object_id=prospect.pk).exists()
    assert AuditEntry.objects.filter(object_type="account", object_id=prospect.pk,
                                     action="promote", user=data_manager).exists()
    with pytest.raises(Conflict):
        promotion_approve(request=req, user=data_manager)


def test_a_rejection_needs_a_reason(owner: Any, data_manager: Any) -> None:
    req, _created = promotion_request(account=f.account(by=owner, legal_name="X"), user=owner)
    with pytest.raises(ValidationFailed) as refused:
        promotion_reject(request=req, user=data_manager, note="  ")
    assert "note" in refused.value.fields
    with pytest.raises(Forbidden):
        promotion_reject(request=req, user=owner, note="no")
    done = promotion_reject(request=req, user=data_manager, note="Duplicate of a supplier.")
    assert (done.status, done.decision_note) == ("rejected", "Duplicate of a supplier.")


def test_merge_into_the_existing_customer(owner: Any, data_manager: Any) -> None:
    customer = f.account(by=data_manager, legal_name="Dupont Conseil SARL", status="customer")
    ExternalRef.objects.create(system="tryton", object_type="account", external_id="7",
                               object_id=customer.pk)
    prospect = f.account(by=owner, legal_name="Dupont Conseil")
    doc = quote(owner, prospect)
    promotions_process()
    [req] = pending_of(prospect)
    other = f.account(by=owner, legal_name="Un autre prospect")
    with pytest.raises(ValidationFailed):  # only into a customer
        promotion_merge(request=req, user=data_manager, customer_id=other.pk)

    done = promotion_merge(request=req, user=data_manager, customer_id=customer.pk)
    assert (done.status, done.account_id) == ("merged", customer.pk)
    assert done.merge is not None
    assert done.merge.loser_ids == [prospect.pk]
    assert not Account.objects.filter(pk=prospect.pk).exists()
    doc.refresh_from_db()
    assert doc.account_id == customer.pk
    promotions_process()  # the moved quote belongs to a customer now
    assert not PromotionRequest.objects.filter(status=PENDING).exists()


# --- API ------------------------------------------------------------------------------------

def test_api_queue_review_and_decisions(outbound_erp: None, api: Any, owner: Any, outsider: Any,
                                        data_manager: Any) -> None:
    prospect = complete_account(owner, 7201)
    quote(owner, prospect)
    other = f.account(by=outsider, legal_name="Chez l'autre", billing_postcode="13001")
    quote(outsider, other)

    listed = api(data_manager).get("promotions").expect(200)  # catches up on the outbox
    assert {r["account_id"] for r in listed["items"]} == {prospect.pk, other.pk}
    mine = api(owner).get("promotions").expect(200)
    assert [r["account_id"] for r in mine["items"]] == [prospect.pk]
    pk = mine["items"][0]["id"]
    api(outsider).get(f"promotions/{pk}").error(404)

    body = api(data_manager).get(f"promotions/{pk}").expect(200)
    assert (body["ready"], body["gaps"], body["duplicates"]) == (True, [], [])
    assert body["trigger"] == "quote_accepted"
    assert body["document_number"]

    api(owner).post(f"promotions/{pk}/approve").error(403)
    assert api(data_manager).post(f"promotions/{pk}/approve").expect(200)["status"] == \
        "approved"
    api(data_manager).post(f"promotions/{pk}/approve").error(409)
    assert api(data_manager).get("promotions", {"status": "approved"}).expect(
        200)["items"][0]["id"] == pk

    other_pk = api(data_manager).get("promotions").expect(200)["items"][0]["id"]
    err = api(data_manager).post(f"promotions/{other_pk}/reject", {"note": ""}).error(422)
    assert "note" in err["fields"]
    api(data_manager).post(f"promotions/{other_pk}/reject", {"note": "Supplier"}).expect(200)


def test_api_gaps_block_approval_and_merge(outbound_erp: None, api: Any, owner: Any,
                                           data_manager: Any) -> None:
    customer = f.account(by=data_manager, legal_name="Client SARL", status="customer")
    prospect = f.account(by=owner, legal_name="Client")
    pk = api(owner).post(f"accounts/{prospect.pk}/promotion-request").expect(201)["id"]
    assert api(owner).post(f"accounts/{prospect.pk}/promotion-request").expect(200)["id"] == pk
    err = api(data_manager).post(f"promotions/{pk}/approve").error(422)
    assert "siret" in err["fields"]
    api(owner).post(f"promotions/{pk}/merge", {"customer_id": customer.pk}).error(403)
    body = api(data_manager).post(f"promotions/{pk}/merge",
                                  {"customer_id": customer.pk}).expect(200)
    assert (body["status"], body["account_id"]) == ("merged", customer.pk)


def test_api_ask_by_hand_needs_to_see_the_account(api: Any, owner: Any, outsider: Any) -> None:
    prospect = f.account(by=owner, legal_name="Atelier Lumière")
    api(outsider).post(f"accounts/{prospect.pk}/promotion-request").error(404)
    customer = f.account(by=owner, legal_name="Client", status="customer")
    api(owner).post(f"accounts/{customer.pk}/promotion-request").error(422)


# --- End to end with the real ERP -----------------------------------------------------------

def test_approved_promotion_creates_the_customer_in_tryton(tryton: Any,  # noqa: F811
                                                           api: Any, owner: Any,
                                                           data_manager: Any) -> None:
    from comptoir.integration.connectors.tryton_rpc import TrytonClient
    from comptoir.integration.mappings import builtin_mapping
    from comptoir.integration.models import Connection
    from comptoir.integration.outbound import outbound_process

    connection = Connection.objects.create(
        name="tryton", connector="tryton", mapping=builtin_mapping("tryton"),
        direction=Connection.Direction.BOTH,
        parameters={"url": tryton.url, "database": tryton.database,
                    "username": tryton.username},
        secrets={"password": tryton.password})
    client = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password,
                          extra_context={"active_test": False})
    prospect = complete_account(owner, 0, siren="732829320",
                                legal_name="Boulangerie Ducasse SARL")
    quote(owner, prospect)
    [item] = api(data_manager).get("promotions").expect(200)["items"]
    assert item["account_id"] == prospect.pk
    api(data_manager).post(f"promotions/{item['id']}/approve").expect(200)

    assert outbound_process(connection)["created"] == 1
    ref = ExternalRef.objects.get(system="tryton", object_type="account",
                                  object_id=prospect.pk, deleted_at__isnull=True)
    [party] = client.read("party.party", [int(ref.external_id)], ["name"])
    assert party["name"] == "Boulangerie Ducasse SARL"
    prospect.refresh_from_db()
    assert prospect.status == "customer"
    # linked now: a further order raises nothing
    f.sales_document(by=owner, account=prospect, kind="order", status="confirmed")
    promotions_process()
    assert not PromotionRequest.objects.filter(status=PENDING).exists()

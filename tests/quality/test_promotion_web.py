"""The promotion pages of the data-quality area, through Django's test client."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from comptoir.crm.models import Account
from comptoir.quality.identifiers import siret_with_check_digit
from comptoir.quality.models import PromotionRequest
from comptoir.testing import factories as f


@pytest.fixture
def outbound_erp(db: Any) -> None:
    """An enabled connection sending new customers: approval needs one (promotion_approve)."""
    from comptoir.integration.models import Connection

    Connection.objects.create(name="erp-out", connector="files", mapping='system = "erp"\n',
                              direction=Connection.Direction.OUTBOUND)



@pytest.fixture
def request_for(owner: Any) -> PromotionRequest:
    """A pending request raised by an accepted quote on an incomplete prospect."""
    prospect = f.account(by=owner, legal_name="Menuiserie Rivière SARL",
                         billing_postcode="69003", billing_city="Lyon")
    f.sales_document(by=owner, account=prospect, status="accepted")
    from comptoir.quality.promotion import promotions_process

    promotions_process()
    return PromotionRequest.objects.get(account=prospect)


def test_queue_and_detail_for_the_data_manager(client_for: Any, data_manager: Any,
                                               request_for: PromotionRequest) -> None:
    client = client_for(data_manager)
    page = client.get(reverse("web:quality_promotions")).content.decode()
    assert "Menuiserie Rivière SARL" in page
    assert reverse("web:quality_promotion_detail", args=[request_for.pk]) in page
    empty = client.get(reverse("web:quality_promotions") + "?status=rejected").content.decode()
    assert "No request with this status." in empty

    detail = client.get(reverse("web:quality_promotion_detail", args=[request_for.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert reverse("web:account_detail", args=[request_for.account_id]) in html
    assert reverse("web:account_edit", args=[request_for.account_id]) in html
    assert request_for.document is not None
    assert request_for.document.number in html
    assert "The NAF code is missing." in html
    assert 'aria-describedby="approve-why"' in html  # approve disabled while gaps remain

    # approving anyway: refused with the gaps in a message, nothing changes
    answer = client.post(reverse("web:quality_promotion_approve", args=[request_for.pk]),
                         follow=True)
    assert "Complete the account" in answer.content.decode()
    request_for.refresh_from_db()
    assert request_for.status == "pending"


def test_approve_reject_and_merge_from_the_page(outbound_erp: None, client_for: Any, owner: Any,
                                                data_manager: Any,
                                                request_for: PromotionRequest) -> None:
    client = client_for(data_manager)
    url = reverse("web:quality_promotion_reject", args=[request_for.pk])
    client.post(url, {"note": ""})
    request_for.refresh_from_db()
    assert request_for.status == "pending"
    answer = client.post(url, {"note": "A supplier, not a customer."}, follow=True)
    assert "Promotion rejected." in answer.content.decode()
    request_for.refresh_from_db()
    assert (request_for.status, request_for.decision_note) == ("rejected",
                                                              "A supplier, not a customer.")

    # a complete prospect: approved from the page
    siren = f.siren(7301)
    ready = f.account(by=owner, legal_name="Ébénisterie Vidal SARL", siren=siren,
                      siret=siret_with_check_digit(siren, "0001"), naf_code="16.23Z",
                      billing_street="2 quai Rambaud", billing_postcode="69002",
                      billing_city="Lyon", payment_terms="net_30")
    f.contact(by=owner, account=ready, last_name="Vidal", email="v@vidal.example")
    req = PromotionRequest.objects.create(account=ready, trigger="manual")
    page = client.get(reverse("web:quality_promotion_detail", args=[req.pk])).content.decode()
    assert "Nothing missing for the ERP." in page
    answer = client.post(reverse("web:quality_promotion_approve", args=[req.pk]), follow=True)
    assert "is now a customer" in answer.content.decode()
    ready.refresh_from_db()
    assert ready.status == "customer"

    # a prospect that is an existing customer: merged from the page
    customer = f.account(by=data_manager, legal_name="Dupont Conseil SARL", status="customer",
                         email="contact@dupont-conseil.fr", phone="04 72 00 00 01",
                         billing_postcode="69002", billing_city="Lyon")
    prospect = f.account(by=owner, legal_name="Dupont Conseil",
                         email="contact@dupont-conseil.fr", phone="04 72 00 00 01",
                         billing_postcode="69002", billing_city="Lyon")
    req = PromotionRequest.objects.create(account=prospect, trigger="manual")
    page = client.get(reverse("web:quality_promotion_detail", args=[req.pk])).content.decode()
    assert "Merge into this customer" in page
    assert f'value="{customer.pk}"' in page
    client.post(reverse("web:quality_promotion_merge", args=[req.pk]),
                {"customer_id": customer.pk})
    req.refresh_from_db()
    assert (req.status, req.account_id) == ("merged", customer.pk)
    assert not Account.objects.filter(pk=prospect.pk).exists()


def test_reps_ask_from_the_account_but_do_not_review(client_for: Any, owner: Any,
                                                     outsider: Any,
                                                     request_for: PromotionRequest) -> None:
    rep = client_for(owner)
    assert rep.get(reverse("web:quality_promotions")).status_code == 404
    assert rep.get(reverse("web:quality_promotion_detail",
                           args=[request_for.pk])).status_code == 404
    assert rep.post(reverse("web:quality_promotion_approve",
                            args=[request_for.pk])).status_code == 404

    prospect = f.account(by=owner, legal_name="Atelier Lumière")
    url = reverse("web:account_promotion_request", args=[prospect.pk])
    answer = rep.post(url)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:account_detail", args=[prospect.pk])
    assert PromotionRequest.objects.filter(account=prospect, requested_by=owner,
                                           status="pending").count() == 1
    assert rep.get(url).status_code == 405
    assert client_for(outsider).post(url).status_code == 404

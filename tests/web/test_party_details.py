"""The ERP party on the web pages: the account's addresses, channels and identifiers, its
lifecycle badge, the list filter, and no new quote or deal for an inactive account."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from comptoir.core.bulk import bulk_upsert
from comptoir.crm.bulk import ACCOUNT_BULK
from comptoir.crm.models import Account, Opportunity, Stage
from comptoir.testing import factories
from comptoir.testing.personas import OWNER_POSTCODE

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def _party(world: Any, **extra: Any) -> Account:
    """An ERP party of the owner's, with its rows, through the sync's write path."""
    p = world.personas
    record = {
        "external_id": "P1", "legal_name": "Helvetia Outils SA", "owner_id": p.owner.pk,
        "addresses": [
            {"kind": "billing", "street": "12 rue de la République\nBâtiment B",
             "postcode": OWNER_POSTCODE, "city": "Lyon", "country": "FR"},
            {"kind": "delivery", "name": "Entrepôt Zürich", "street": "Bahnhofstrasse 1",
             "postcode": "8001", "city": "Zürich", "country": "CH"}],
        "identifiers": [{"type": "ch_uid", "value": "CHE-123.456.789"},
                        {"type": "eu_vat", "value": "FR40303265045"},
                        {"type": "xx_custom", "value": "K-42"}, {"value": "ABC/77"}],
        "channels": [{"kind": "email", "value": "compta@helvetia.example"},
                     {"kind": "phone", "value": "+41 44 123 45 67", "name": "Standard"},
                     {"kind": "website", "value": "helvetia.example"}],
        **extra,
    }
    [result] = bulk_upsert(ACCOUNT_BULK, system="erp", records=[record], user=p.data_manager)
    assert result.status == "created", result.errors
    return Account.objects.get(pk=result.id)


def _section(html: str, section_id: str) -> str:
    found = re.search(rf'<section class="card" id="{section_id}".*?</section>', html, re.S)
    assert found, section_id
    return found.group(0)


def test_account_page_shows_addresses_channels_identifiers(world: Any, client_for: Any) -> None:
    account = _party(world)
    html = client_for(world.personas.owner).get(
        reverse("web:account_detail", args=[account.pk])).content.decode()
    addresses = _section(html, "addresses")
    assert "Billing" in addresses
    assert "Delivery" in addresses
    assert "Entrepôt Zürich" in addresses
    assert "12 rue de la République<br>Bâtiment B" in addresses  # lines kept
    channels = _section(html, "channels")
    assert 'href="mailto:compta@helvetia.example"' in channels
    assert 'href="tel:+41441234567"' in channels
    assert "Standard" in channels
    assert 'href="https://helvetia.example"' in channels
    assert 'rel="noopener noreferrer"' in channels
    identifiers = _section(html, "identifiers")
    for label, value in (("Swiss UID", "CHE-123.456.789"), ("EU VAT", "FR40303265045"),
                         ("xx_custom", "K-42"), ("Identifier", "ABC/77")):
        assert f"<dt>{label}</dt>" in identifiers, label
        assert value in identifiers
    assert "data-lifecycle" not in html  # active: no badge

    # an account without them says where they come from
    empty = client_for(world.personas.owner).get(
        reverse("web:account_detail", args=[world.mine.account.pk])).content.decode()
    assert "No other addresses" in _section(empty, "addresses")
    assert "No other identifiers" in _section(empty, "identifiers")
    assert "No other phones, e-mails or websites" in _section(empty, "channels")


def test_inactive_and_deleted_accounts_are_marked_not_offered(world: Any,
                                                               client_for: Any) -> None:
    owner = world.personas.owner
    account = world.mine.account
    client = client_for(owner)
    page = reverse("web:account_detail", args=[account.pk])
    html = client.get(page).content.decode()
    assert f"{reverse('web:quote_create')}?account={account.pk}" in html

    Account.objects.filter(pk=account.pk).update(active=False)
    html = client.get(page).content.decode()
    assert 'data-lifecycle="inactive"' in html
    assert ">Inactive<" in html
    assert 'id="lifecycle-notice"' in html
    assert f"{reverse('web:quote_create')}?account={account.pk}" not in html
    assert f"{reverse('web:opportunity_create')}?account={account.pk}" not in html
    # its existing quote stays listed and openable
    assert client.get(reverse("web:document_detail",
                              args=[world.mine.sales_document.pk])).status_code == 200

    deleted = dt.datetime(2026, 3, 14, 10, 0, tzinfo=dt.UTC)
    Account.objects.filter(pk=account.pk).update(active=True, erp_deleted_at=deleted)
    html = client.get(page).content.decode()
    assert 'data-lifecycle="deleted"' in html
    assert re.search(r"Deleted in the ERP on \S*14\S*2026<", html)  # the user's format

    # a new quote for it is refused with a message, and it is not offered to choose
    response = client.get(reverse("web:quote_create") + f"?account={account.pk}")
    assert response.status_code == 302
    assert response["Location"] == page
    response = client.get(page)
    assert "no longer active" in response.content.decode()
    choose = client.get(reverse("web:quote_create"), {"q": "Olivia"}).content.decode()
    assert "Olivia Industries" not in choose
    assert "Olivia Private Client" in choose


def test_new_deal_picker_offers_only_open_accounts(world: Any, client_for: Any) -> None:
    owner = world.personas.owner
    account = world.mine.account
    Account.objects.filter(pk=account.pk).update(active=False)
    client = client_for(owner)

    html = client.get(reverse("web:opportunity_create")).content.decode()
    assert "scope=open" in html
    open_only = client.get(reverse("web:suggest", args=["account"]),
                           {"field": "account", "account_label": "Olivia", "scope": "open"},
                           **HTMX).content.decode()
    assert "Olivia Industries" not in open_only
    assert "Olivia Private Client" in open_only
    everything = client.get(reverse("web:suggest", args=["account"]),
                            {"field": "account", "account_label": "Olivia"},
                            **HTMX).content.decode()
    assert "Olivia Industries" in everything
    assert "inactive" in everything
    prefilled = client.get(reverse("web:opportunity_create") + f"?account={account.pk}")
    assert prefilled.context["form"].initial.get("account") is None

    stage = Stage.objects.filter(pipeline__is_default=True).order_by("order")[0]
    response = client.post(reverse("web:opportunity_create"), {
        "name": "Nouveau", "account": account.pk, "stage": stage.pk})
    assert response.status_code == 200
    assert "Inactive or deleted in the ERP" in " ".join(response.context["form"].errors["account"])
    assert not Opportunity.objects.filter(name="Nouveau").exists()

    # an existing deal of the account stays editable, its account untouched
    deal = world.mine.opportunity
    url = reverse("web:opportunity_edit", args=[deal.pk])
    form = client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else getattr(v, "pk", v)) for k, v in data.items()}
    data["description"] = "Toujours suivi"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    deal.refresh_from_db()
    assert (deal.account_id, deal.description) == (account.pk, "Toujours suivi")


def test_account_list_filter_badges_and_identifier_search(world: Any,
                                                          client_for: Any) -> None:
    owner = world.personas.owner
    _party(world)
    inactive = factories.account(by=owner, legal_name="Olivia Archived SARL",
                                 billing_postcode=OWNER_POSTCODE)
    Account.objects.filter(pk=inactive.pk).update(active=False)
    gone = factories.account(by=owner, legal_name="Olivia Gone SARL",
                             billing_postcode=OWNER_POSTCODE)
    Account.objects.filter(pk=gone.pk).update(erp_deleted_at=timezone.now())
    client = client_for(owner)

    def names(**params: Any) -> str:
        return client.get(reverse("web:account_list"), params).content.decode()

    every = names()  # the default: all, the closed ones marked
    assert "Olivia Industries" in every
    assert "Olivia Archived SARL" in every
    row = re.search(r"Olivia Archived SARL</a>(.*?)</td>", every, re.S)
    assert row
    assert "data-row-badge" in row.group(1)
    assert "Inactive" in row.group(1)
    row = re.search(r"Olivia Gone SARL</a>(.*?)</td>", every, re.S)
    assert row
    assert "Deleted in the ERP on" in row.group(1)
    row = re.search(r"Olivia Industries</a>(.*?)</td>", every, re.S)
    assert row
    assert "data-row-badge" not in row.group(1)

    active = names(active="1")
    assert "Olivia Industries" in active
    assert "Olivia Archived SARL" not in active
    assert "Olivia Gone SARL" not in active
    closed = names(active="0")
    assert "Olivia Archived SARL" in closed
    assert "Olivia Gone SARL" in closed
    assert "Olivia Industries" not in closed
    assert "Active: No" in closed  # the chip

    # the list's search finds an account by any identifier, however typed
    for q in ("CHE123456789", "123.456.789", "che-123-456-789"):
        assert "Helvetia Outils SA" in names(q=q), q
    assert "Helvetia Outils SA" not in client_for(world.personas.outsider).get(
        reverse("web:account_list"), {"q": "CHE123456789"}).content.decode()


def test_contact_page_and_form_carry_the_mailing_address(world: Any, client_for: Any) -> None:
    contact = world.mine.contact
    client = client_for(world.personas.owner)
    form_html = client.get(reverse("web:contact_edit", args=[contact.pk])).content.decode()
    assert 'name="mailing_street"' in form_html
    assert 'name="mailing_country"' in form_html
    type(contact).objects.filter(pk=contact.pk).update(
        mailing_street="3 place Bellecour", mailing_postcode="69002", mailing_city="Lyon",
        mailing_country="BE")
    html = client.get(reverse("web:contact_detail", args=[contact.pk])).content.decode()
    assert "Mailing address" in html
    assert "3 place Bellecour<br>69002 Lyon<br>BE" in html

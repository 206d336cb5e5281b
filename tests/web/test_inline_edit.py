"""Inline edit of a record's key facts: the pencil opens one field in place, the save goes
through the domain service (access, validation, audit, "changed since you opened it")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from comptoir.core.models import AuditEntry, CustomField, ExternalRef
from comptoir.crm import services as crm
from comptoir.crm.models import Account
from comptoir.testing import factories

HTMX = {"HTTP_HX_REQUEST": "true"}


def field_url(kind: str, pk: int, key: str) -> str:
    return reverse("web:record_field", args=[kind, pk, key])


def _base(html: str) -> str:
    found = re.search(r'name="_base" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.mark.django_db
def test_a_field_opens_in_place_and_saves_through_the_service(world: Any,
                                                               client_for: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    client = client_for(owner)
    page = client.get(reverse("web:account_detail", args=[account.pk])).content.decode()
    url = field_url("account", account.pk, "phone")
    # a pencil with an accessible name, a link to the edit form without JavaScript
    assert f'href="{url}"' in page
    assert f'hx-get="{url}"' in page
    assert "Edit Phone</span>" in page

    opened = client.get(url, **HTMX).content.decode()
    assert re.search(r'<input[^>]*type="tel"[^>]*name="phone"', opened)
    assert "data-fact-editor" in opened
    assert ">Save<" in opened
    assert ">Cancel<" in opened

    response = client.post(url, {"phone": "04 78 00 11 22", "_base": _base(opened)}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "04 78 00 11 22" in html
    assert "data-fact-editor" not in html
    assert 'data-focus-fact="phone"' in html
    assert "Saved." in html
    account.refresh_from_db()
    assert account.phone == "+33478001122"
    entry = AuditEntry.objects.filter(object_type="account", object_id=account.pk,
                                      action="update").first()
    assert entry is not None
    assert entry.user == owner
    assert "phone" in entry.changes


@pytest.mark.django_db
def test_a_refused_value_shows_next_to_the_field_and_nothing_is_lost(world: Any,
                                                                     client_for: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    client = client_for(owner)
    before = account.siren
    url = field_url("account", account.pk, "siren")
    opened = client.get(url, **HTMX).content.decode()
    response = client.post(url, {"siren": "123 456 789", "_base": _base(opened)}, **HTMX)
    assert response.status_code == 200  # htmx swaps it: the editor again, with the error
    html = response.content.decode()
    assert "data-fact-editor" in html
    assert 'value="123456789"' in html or 'value="123 456 789"' in html  # what was typed
    assert re.search(r'class="field-error"[^>]*>[^<]+<', html)
    assert 'aria-invalid="true"' in html
    account.refresh_from_db()
    assert account.siren == before


@pytest.mark.django_db
def test_a_value_changed_since_the_field_was_opened_is_not_overwritten(
        world: Any, client_for: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    client = client_for(owner, "en")
    url = field_url("account", account.pk, "website")
    opened = client.get(url, **HTMX).content.decode()
    manager = world.personas.manager
    crm.account_update(account=Account.objects.get(pk=account.pk), user=manager,
                       data={"website": "https://theirs.example"})

    response = client.post(url, {"website": "https://mine.example", "_base": _base(opened)},
                           **HTMX)
    html = response.content.decode()
    assert "changed this record since you opened it" in html
    assert "Now “https://theirs.example”, changed meanwhile. Save again to keep yours." in html
    assert 'value="https://mine.example"' in html  # the user's value stays in the field
    assert Account.objects.get(pk=account.pk).website == "https://theirs.example"

    again = client.post(url, {"website": "https://mine.example", "_base": _base(html)},
                        **HTMX)
    assert "data-fact-editor" not in again.content.decode()
    assert Account.objects.get(pk=account.pk).website == "https://mine.example"


@pytest.mark.django_db
def test_another_field_changed_meanwhile_does_not_stop_this_one(world: Any,
                                                                client_for: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    client = client_for(owner)
    url = field_url("account", account.pk, "payment_terms")
    opened = client.get(url, **HTMX).content.decode()
    assert re.search(r'<select[^>]*name="payment_terms"', opened)
    crm.account_update(account=Account.objects.get(pk=account.pk), user=owner,
                       data={"website": "https://example.org"})
    client.post(url, {"payment_terms": "net_60", "_base": _base(opened)}, **HTMX)
    account.refresh_from_db()
    assert (account.payment_terms, account.website) == ("net_60", "https://example.org")


@pytest.mark.django_db
def test_selects_addresses_and_custom_fields_edit_in_place(world: Any,
                                                           client_for: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    CustomField.objects.create(object_type="account", name="segment", label="Segment",
                               type="choice", choices=["SMB", "Enterprise"])
    client = client_for(owner)
    page = client.get(reverse("web:account_detail", args=[account.pk])).content.decode()
    assert "Edit Segment</span>" in page  # empty, offered to be filled in

    url = field_url("account", account.pk, "cf_segment")
    opened = client.get(url, **HTMX).content.decode()
    assert re.search(r'<select[^>]*name="cf_segment"', opened)
    client.post(url, {"cf_segment": "Enterprise", "_base": _base(opened)}, **HTMX)
    account.refresh_from_db()
    assert account.custom["segment"] == "Enterprise"

    url = field_url("account", account.pk, "billing_address")
    opened = client.get(url, **HTMX).content.decode()
    for name in ("billing_street", "billing_postcode", "billing_city", "billing_country"):
        assert f'name="{name}"' in opened
    client.post(url, {"billing_street": "3 quai Saint-Vincent", "billing_postcode": "69001",
                      "billing_city": "Lyon", "billing_country": "FR",
                      "_base": _base(opened)}, **HTMX)
    account.refresh_from_db()
    assert (account.billing_street, account.billing_postcode) == ("3 quai Saint-Vincent",
                                                                  "69001")

    deal = world.mine.opportunity
    url = field_url("opportunity", deal.pk, "expected_close_date")
    opened = client.get(url, **HTMX).content.decode()
    assert re.search(r'<input[^>]*type="date"', opened)
    client.post(url, {"expected_close_date": "2031-03-15", "_base": _base(opened)}, **HTMX)
    deal.refresh_from_db()
    assert deal.expected_close_date.isoformat() == "2031-03-15"


@pytest.mark.django_db
def test_only_what_the_user_may_change_gets_a_pencil(world: Any, client_for: Any,
                                                     monkeypatch: Any) -> None:
    from comptoir.integration import ownership

    account = world.mine.account
    monkeypatch.setattr(ownership, "owners",
                        lambda object_type: [("Tryton prod", "tryton", {"siren"})]
                        if object_type == "account" else [])
    ExternalRef.objects.create(system="tryton", object_type="account", external_id="C1",
                               object_id=account.pk)
    owner_page = client_for(world.personas.owner).get(
        reverse("web:account_detail", args=[account.pk])).content.decode()
    assert field_url("account", account.pk, "phone") in owner_page
    assert field_url("account", account.pk, "siren") not in owner_page  # the ERP's
    assert field_url("account", account.pk, "owner") in owner_page

    owner = client_for(world.personas.owner)
    response = owner.get(field_url("account", account.pk, "siren"), **HTMX)
    assert response.status_code == 403

    # the teammate may change the account (its territory) but not give it away
    teammate = client_for(world.personas.teammate)
    page = teammate.get(reverse("web:account_detail", args=[account.pk])).content.decode()
    assert field_url("account", account.pk, "phone") in page
    assert field_url("account", account.pk, "owner") not in page
    assert teammate.get(field_url("account", account.pk, "owner"), **HTMX).status_code == 403

    outsider = client_for(world.personas.outsider)
    assert outsider.get(field_url("account", account.pk, "phone"), **HTMX).status_code == 404
    assert outsider.post(field_url("account", account.pk, "phone"),
                         {"phone": "0102030405"}, **HTMX).status_code == 404

    # without htmx the address is the full edit form
    plain = owner.get(field_url("account", account.pk, "phone"))
    assert plain.status_code == 302
    assert plain["Location"] == reverse("web:account_edit", args=[account.pk])


@pytest.mark.django_db
def test_cancel_gives_the_value_back_unchanged(world: Any, client_for: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.owner)
    html = client.get(field_url("account", account.pk, "phone") + "?cancel=1",
                      **HTMX).content.decode()
    assert "data-fact-editor" not in html
    assert 'data-focus-fact="phone"' in html


# --- In a browser ----------------------------------------------------------------------------

def _fact(page: Any, label: str) -> Any:
    return page.locator(".fact", has=page.locator("dt", has_text=label))


def test_browser_edit_a_phone_in_place(open_as: Any, transactional_db: None) -> None:
    from playwright.sync_api import expect

    owner = factories.user(username="ines")
    account = factories.account(by=owner, legal_name="Atelier Cerf", phone="0478001122",
                                billing_postcode="69002")
    page = open_as(owner, reverse("web:account_detail", args=[account.pk]))
    phone = _fact(page, "Phone")
    phone.get_by_role("link", name="Edit Phone").click()
    field = phone.locator("input[name='phone']")
    expect(field).to_be_focused()
    field.fill("04 72 00 00 01")
    field.press("Enter")
    expect(_fact(page, "Phone").locator("dd")).to_contain_text("04 72 00 00 01")
    expect(page.locator("[data-fact-editor]")).to_have_count(0)
    expect(_fact(page, "Phone").get_by_role("link", name="Edit Phone")).to_be_focused()
    account.refresh_from_db()
    assert account.phone == "+33472000001"

    # Esc puts the value back without saving
    _fact(page, "Website").get_by_role("link", name="Edit Website").click()
    site = _fact(page, "Website").locator("input[name='website']")
    expect(site).to_be_focused()
    site.fill("https://never.example")
    site.press("Escape")
    expect(page.locator("[data-fact-editor]")).to_have_count(0)
    expect(_fact(page, "Website").get_by_role("link", name="Edit Website")).to_be_focused()
    assert Account.objects.get(pk=account.pk).website == ""
    assert page.url.endswith(reverse("web:account_detail", args=[account.pk]))


def test_browser_conflict_is_explained_and_nothing_overwritten(open_as: Any,
                                                               transactional_db: None) -> None:
    from playwright.sync_api import expect

    owner = factories.user(username="hugo")
    account = factories.account(by=owner, legal_name="Fromagerie Cime",
                                billing_postcode="69002", website="https://cime.example")
    other = factories.user(username="lou", role="admin")
    page = open_as(owner, reverse("web:account_detail", args=[account.pk]))
    fact = _fact(page, "Website")
    fact.get_by_role("link", name="Edit Website").click()
    site = fact.locator("input[name='website']")
    expect(site).to_be_focused()
    crm.account_update(account=Account.objects.get(pk=account.pk), user=other,
                       data={"website": "https://theirs.example"})
    site.fill("https://mine.example")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-fact-editor] .form-error")).to_contain_text(
        "changed this record since you opened it")
    expect(page.locator("[data-fact-editor]")).to_contain_text("Now “https://theirs.example”")
    expect(page.locator("input[name='website']")).to_have_value("https://mine.example")
    assert Account.objects.get(pk=account.pk).website == "https://theirs.example"
    page.get_by_role("button", name="Save").click()  # seen: saving again keeps mine
    expect(page.locator("[data-fact-editor]")).to_have_count(0)
    assert Account.objects.get(pk=account.pk).website == "https://mine.example"

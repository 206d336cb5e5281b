"""Forms in a real browser: duplicate warning, pickers, inline validation, lead conversion,
phone width."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.crm.models import Account, Contact, Lead
from comptoir.testing import factories

from .conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def _no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], width


def test_rep_creates_an_account_past_the_duplicate_warning_then_a_contact(
        open_as: Any, world: Any, live_server: Any) -> None:
    owner = world.personas.owner
    page = open_as(owner, "/accounts/new/")
    expect(page.get_by_role("heading", name="New account")).to_be_visible()

    # inline validation: a wrong SIREN is reported when leaving the field, focus moves on
    siren = page.get_by_label("SIREN")
    siren.fill("123456789")
    siren.press("Tab")
    expect(page.get_by_text("Not a valid SIREN")).to_be_visible()
    expect(siren).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Billing postcode")).to_be_focused()
    page.get_by_label("SIREN").fill("")

    # typing the name of an existing account shows it, with a link to it
    page.get_by_label("Legal name").press_sequentially("Olivia Industries Lyon", delay=10)
    panel = page.get_by_role("region", name="Possible duplicates")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("link", name="Olivia Industries")).to_have_attribute(
        "href", f"/accounts/{world.mine.account.pk}/")
    expect(panel.get_by_role("link", name="Oscar Industries")).to_have_count(0)
    page.get_by_label("Billing postcode").fill("69003")
    panel.get_by_role("button", name="This is a new one, create anyway").click()

    account = Account.objects.get(legal_name="Olivia Industries Lyon")
    expect(page).to_have_url(re.compile(rf"/accounts/{account.pk}/$"))
    expect(page.get_by_text("“Olivia Industries Lyon” was created.")).to_be_visible()
    assert account.owner == owner

    # a contact on it, the account chosen in the picker by keyboard
    page.goto(live_server.url + "/contacts/new/")
    picker = page.get_by_role("textbox", name="Account", exact=True)
    picker.press_sequentially("olivia industries l", delay=10)
    option = page.get_by_role("button", name=re.compile("Olivia Industries Lyon"))
    expect(option).to_be_visible()
    picker.press("Escape")  # closes the suggestions, stays on the form
    expect(option).to_be_hidden()
    expect(page).to_have_url(re.compile("/contacts/new/$"))
    picker.press("Backspace")  # "olivia industries ": both Olivia Industries accounts
    expect(page.locator("[data-pick]")).to_have_count(2)
    picker.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(option).to_be_focused()
    page.keyboard.press("Enter")
    expect(picker).to_have_value("Olivia Industries Lyon")
    page.get_by_label("First name").fill("Léa")
    page.get_by_label("Last name").fill("Martin")
    page.get_by_label("E-mail", exact=True).fill("lea.martin@olivia-lyon.example")
    page.get_by_label("E-mail", exact=True).press("Enter")  # Enter submits

    contact = Contact.objects.get(last_name="Martin")
    expect(page).to_have_url(re.compile(rf"/contacts/{contact.pk}/$"))
    assert contact.account == account


def test_errors_keep_what_was_typed_and_focus_the_first(open_as: Any, world: Any) -> None:
    page = open_as(world.personas.owner, "/leads/new/")
    page.get_by_label("Last name").fill("Durand")
    page.get_by_label("Company").fill("Durand & Fils")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Give an e-mail or a phone number.")).to_be_visible()
    expect(page.get_by_label("Company")).to_have_value("Durand & Fils")
    expect(page.get_by_label("E-mail")).to_be_focused()
    assert not Lead.objects.filter(last_name="Durand").exists()


def test_rep_converts_a_lead_into_the_matching_account_with_a_deal(open_as: Any,
                                                                   world: Any) -> None:
    owner, mine = world.personas.owner, world.mine
    lead = factories.lead(by=owner, company_name="Olivia Industries", siren=mine.account.siren,
                          first_name="Nina", last_name="Newcomer", phone="0600000001")
    page = open_as(owner, f"/leads/{lead.pk}/convert/")
    expect(page.get_by_text("An existing account matches this lead")).to_be_visible()
    attach = page.get_by_label("Attach to Olivia Industries")
    expect(attach).to_be_checked()
    expect(page.get_by_label("Deal name")).to_be_hidden()
    page.get_by_label("Create a deal").check()
    page.get_by_label("Deal name").fill("Nina's first order")
    page.get_by_label("Amount").fill("4 500")
    page.get_by_role("button", name="Convert").click()

    expect(page).to_have_url(re.compile(rf"/accounts/{mine.account.pk}/$"))
    expect(page.get_by_text(re.compile("Lead converted"))).to_be_visible()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED
    assert lead.converted_account == mine.account
    assert lead.converted_contact.last_name == "Newcomer"
    assert lead.converted_opportunity.name == "Nina's first order"


def test_forms_fit_a_phone(open_as: Any, world: Any, live_server: Any) -> None:
    owner = world.personas.owner
    page = open_as(owner, "/accounts/new/", phone=True)
    expect(page.get_by_label("Legal name")).to_be_visible()
    _no_horizontal_scroll(page)
    page.get_by_text("More fields").click()
    expect(page.get_by_label("VAT number")).to_be_visible()
    page.get_by_label("Legal name").press_sequentially("Olivia Industries", delay=10)
    expect(page.get_by_role("region", name="Possible duplicates")).to_be_visible()
    _no_horizontal_scroll(page)
    box = page.get_by_role("button", name="Create", exact=True).bounding_box()
    assert box is not None
    assert box["height"] >= 44
    for path in ("/deals/new/", "/activities/new/", f"/leads/{world.mine.lead.pk}/convert/"):
        page.goto(live_server.url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        _no_horizontal_scroll(page)

"""Lists in a real browser: the page never scrolls sideways (the table scrolls in its own
frame) at 1440 px and on a phone, and the mass edit of selected rows works by keyboard."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.core.config_services import custom_field_create
from comptoir.core.models import AuditEntry
from comptoir.crm.models import Lead
from comptoir.testing import factories

pytestmark = pytest.mark.django_db(transaction=True)

LONG = {
    "first_name": "Marie-Amélie",
    "company_name": "Établissements Industriels Haute Vallée SAS",
    "job_title": "Responsable des achats et de la logistique",
    "phone": "+33134380162", "source": "partner_portal", "score": 55,
}
EVERY_LEAD_COLUMN = ("name,company_name,email,phone,source,status,score,owner,created_at,"
                     "updated_at")
LISTS = ("/accounts/", "/contacts/", "/leads/", "/deals/list/", "/activities/", "/cases/",
         "/catalogue/", "/documents/")


def _overflow(page: Any) -> int:
    """How far the page itself scrolls sideways (0: it does not)."""
    return int(page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def _long_leads(owner: Any, n: int = 6) -> list[Lead]:
    return [factories.lead(by=owner, last_name=f"De La Fontaine-Verneuil {i}",
                           email=f"marie-amelie.delafontaine{i}@etablissements-haute-vallee"
                                 ".example.org", **LONG)
            for i in range(n)]


def test_the_leads_list_fits_a_1440_px_window(open_as: Any, owner: Any, admin: Any) -> None:
    custom_field_create(user=admin, data={"object_type": "lead", "name": "campaign",
                                          "label": "Campaign of origin", "type": "text"})
    _long_leads(owner)
    page = open_as(owner, f"/leads/?cols={EVERY_LEAD_COLUMN},cf_campaign")
    page.set_viewport_size({"width": 1440, "height": 900})
    expect(page.locator("table.data tbody tr")).to_have_count(6)
    assert _overflow(page) <= 0
    # the table keeps its columns readable and scrolls inside its own frame if it must
    frame = page.locator(".table-wrap")
    assert frame.evaluate("e => e.getBoundingClientRect().right") <= 1440
    # a long value is cut with an ellipsis and given whole in its title
    email = page.locator('td[data-label="E-mail"]').first
    expect(email).to_have_attribute("title", re.compile(
        r"^marie-amelie\.delafontaine\d@etablissements-haute-vallee\.example\.org$"))
    name_height = page.locator("td.lead-cell").first.evaluate(
        "e => e.getBoundingClientRect().height")
    assert name_height < 80  # not one word per line
    page.screenshot(path="/tmp/lists_leads_1440.png", full_page=True)


def test_the_leads_default_columns_fit_without_scrolling(open_as: Any, owner: Any) -> None:
    _long_leads(owner)
    page = open_as(owner, "/leads/", language="fr")
    page.set_viewport_size({"width": 1440, "height": 900})
    expect(page.locator("table.data tbody tr")).to_have_count(6)
    frame = page.locator(".table-wrap")
    # every default column is seen whole, the owner's included: nothing hides to the right
    assert frame.evaluate("e => e.scrollWidth - e.clientWidth") <= 1


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_list_scrolls_sideways_at_1440_px_or_on_a_phone(open_as: Any, owner: Any,
                                                           language: str) -> None:
    _long_leads(owner, 2)
    account = factories.account(by=owner, legal_name="Établissements Industriels Haute "
                                "Vallée du Rhône et de la Saône SAS",
                                billing_city="Saint-Rémy-de-Provence", billing_postcode="13210")
    factories.contact(by=owner, account=account, first_name="Marie-Amélie",
                      last_name="De La Fontaine-Verneuil", email="marie-amelie.delafontaine"
                      "@etablissements-haute-vallee.example.org", job_title=LONG["job_title"])
    for phone in (False, True):
        page = open_as(owner, "/leads/", phone=phone, language=language)
        if not phone:
            page.set_viewport_size({"width": 1440, "height": 900})
        for path in LISTS:
            page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + path)
            expect(page.locator("h1")).to_be_visible()
            assert _overflow(page) <= 0, (path, phone, language)
            # no placeholder or typed value of the filters is cut off
            clipped = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.filters input:not([type=checkbox]):not([type=hidden]), .save-view input'))
                .filter(i => i.offsetParent !== null && i.placeholder
                        && i.scrollWidth > i.clientWidth + 1).map(i => i.id)""")
            assert clipped == [], (path, phone, language, clipped)


def test_mass_edit_in_the_browser(open_as: Any, owner: Any) -> None:
    leads = [factories.lead(by=owner, company_name=f"Prospect {n}") for n in range(3)]
    page = open_as(owner, "/leads/?sort=company_name")
    bar = page.get_by_role("form", name="Selected records")
    expect(bar).to_be_hidden()
    # keyboard: tick the first two rows
    page.get_by_role("checkbox", name="Select “Lead", exact=False).first.focus()
    page.keyboard.press("Space")
    expect(bar).to_be_visible()
    expect(bar.get_by_role("status")).to_have_text("1 selected")
    page.locator("[data-row-select]").nth(1).check()
    expect(bar.get_by_role("status")).to_have_text("2 selected")
    # "select all on this page" ticks the rest; unticking one leaves it half-ticked
    page.get_by_role("checkbox", name="Select all rows on this page").check()
    expect(bar.get_by_role("status")).to_have_text("3 selected")
    page.locator("[data-row-select]").nth(2).uncheck()
    expect(bar.get_by_role("status")).to_have_text("2 selected")
    assert page.get_by_role("checkbox", name="Select all rows on this page").evaluate(
        "e => e.indeterminate")
    bar.get_by_role("button", name="Edit field…").click()
    expect(page.get_by_role("heading", name="Edit 2 selected records")).to_be_visible()
    page.get_by_label("Field to change").select_option(label="Status")
    value = page.get_by_label("New value for “Status”")
    expect(value).to_be_visible()  # swapped in by htmx for the chosen field
    value.select_option(label="Working")
    page.get_by_role("button", name="Apply to 2 records").click()
    expect(page.get_by_role("status").filter(has_text="2 records updated")).to_be_visible()
    assert page.url.endswith("/leads/?sort=company_name")
    statuses = {lead.company_name: lead.status
                for lead in Lead.objects.filter(pk__in=[x.pk for x in leads])}
    assert sorted(statuses.values()) == ["new", "working", "working"]
    assert AuditEntry.objects.filter(object_type="lead", action="update",
                                     source="ui").count() == 2


def test_mass_edit_error_is_shown_at_the_field(open_as: Any, owner: Any) -> None:
    factories.lead(by=owner, company_name="Prospect")
    page = open_as(owner, "/leads/")
    page.get_by_role("checkbox", name="Select all rows on this page").check()
    page.get_by_role("button", name="Edit field…").click()
    page.get_by_label("Field to change").select_option(label="E-mail")
    value = page.get_by_label("New value for “E-mail”")
    value.fill("not an address")
    value.press("Enter")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_be_visible()
    assert Lead.objects.get().email.endswith(".example.org")
    expect(value).to_be_focused()
    page.keyboard.press("Escape")  # cancels back to the list
    expect(page).to_have_url(page.url.split("/bulk/")[0] + "/leads/")

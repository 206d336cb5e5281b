"""The Content-Security-Policy blocks nothing the application needs: a tour of the main pages in
a real browser, with a few htmx interactions, reports no violation and no script error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

# Chromium logs each violation to the console ("Refused to … because it violates the following
# Content Security Policy directive"); the event is reported too, in case the wording changes.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
});
"""


class Watch:
    """Collects CSP violations, script errors and htmx errors of every page of a context."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.url = ""

    def attach(self, page: Any) -> Any:
        page.context.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"{self.url}: error {exc}"))
        return page

    def _console(self, message: Any) -> None:
        text = message.text
        if ("Content Security Policy" in text or "CSP violation" in text or "htmx:" in text
                or (message.type == "error" and "Failed to load resource" not in text)):
            self.problems.append(f"{self.url}: {message.type}: {text}")

    def visit(self, page: Any, base: str, path: str) -> None:
        self.url = path
        response = page.goto(base + path)
        assert response is not None, path
        assert response.status == 200, (path, response.status)
        # the policy really is there, on every page
        assert "script-src 'self'" in (response.header_value("content-security-policy") or "")
        page.wait_for_load_state("load")


def test_a_tour_of_the_application_breaks_no_policy(open_as: Any, world: Any,
                                                     live_server: Any) -> None:
    base, mine = live_server.url, world.mine
    watch = Watch()
    page = watch.attach(open_as(world.personas.owner, "/"))
    pages = [
        "/", "/accounts/", f"/accounts/{mine.account.pk}/", "/contacts/",
        f"/contacts/{mine.contact.pk}/", "/leads/", f"/leads/{mine.lead.pk}/", "/deals/board/",
        f"/deals/{mine.opportunity.pk}/", "/activities/", f"/activities/{mine.activity.pk}/",
        "/cases/", f"/cases/{mine.case.pk}/", "/catalogue/", "/documents/",
        f"/documents/{mine.sales_document.pk}/", f"/documents/{mine.sales_document.pk}/edit/",
        "/accounts/new/", "/contacts/new/", "/activities/new/", "/notifications/",
        "/search/?q=Olivia",
    ]
    for path in pages:
        watch.visit(page, base, path)

    # htmx at work: search as you type, a list filtered, a dependent picker opened on focus
    watch.visit(page, base, "/accounts/")
    box = page.get_by_role("searchbox", name="Search", exact=True)
    box.press_sequentially("Olivia", delay=20)
    expect(page.locator(f'#search-popup a[href="/accounts/{mine.account.pk}/"]')).to_be_visible()

    watch.visit(page, base, "/cases/new/")
    account = page.get_by_role("textbox", name="Account", exact=True)
    account.press_sequentially("Olivia Indus", delay=10)
    page.get_by_role("button", name=re.compile("Olivia Industries")).first.click()
    expect(account).to_have_value("Olivia Industries")
    page.get_by_role("textbox", name="Contact", exact=True).focus()
    # focused empty, the contact picker offers the account's contacts (no eval needed)
    expect(page.get_by_role("button", name=re.compile("OliviaContact"))).to_be_visible()

    watch.visit(page, base, f"/accounts/{mine.account.pk}/")
    assert not watch.problems, "\n".join(watch.problems)


def test_admin_pages_and_api_docs_break_no_policy(open_as: Any, world: Any,
                                                   live_server: Any) -> None:
    admin = world.personas.admin
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    base = live_server.url
    watch = Watch()
    page = watch.attach(open_as(admin, "/"))
    for name in ("settings", "sync", "quality_duplicates", "quality_audit", "quality_sirene",
                 "quality_promotions"):
        watch.visit(page, base, reverse(f"web:{name}"))
    for path in ("/settings/users/", "/settings/pipelines/", "/settings/fields/",
                 "/settings/teams/", "/settings/territories/",
                 "/admin/", "/admin/access/user/", f"/admin/access/user/{admin.pk}/change/"):
        watch.visit(page, base, path)
    # the interactive API documentation, from the package's own static files
    watch.visit(page, base, "/api/v1/docs")
    expect(page.get_by_role("heading", name=re.compile("Comptoir API"))).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert not watch.problems, "\n".join(watch.problems)

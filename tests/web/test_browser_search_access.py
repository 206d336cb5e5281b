"""In the browser: a misspelled search finds the record; a manager sees the rep's records; another
rep sees none of them — not in lists, not through search, export or a direct URL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_rep_finds_an_account_with_a_misspelled_search(open_as: Any, world: Any) -> None:
    account = world.mine.account  # "Olivia Industries"
    page = open_as(world.personas.owner, "/")
    page.keyboard.press("/")  # the shortcut focuses the search box
    box = page.get_by_role("searchbox", name="Search", exact=True)
    expect(box).to_be_focused()
    # the answer to the whole query, not an earlier keystroke's (which a late swap would
    # replace under the arrow keys)
    with page.expect_response(lambda r: "/search" in r.url and "Indus" in r.url
                              and r.url.endswith(("Olivai+Indus", "Olivai%20Indus"))):
        box.press_sequentially("Olivai Indus", delay=30)
    hit = page.locator(f'#search-popup a[href="/accounts/{account.pk}/"]')
    expect(hit).to_be_visible()
    expect(hit).to_contain_text("Olivia Industries")
    # arrow keys go from the box through the results to the account
    for _step in range(8):
        page.keyboard.press("ArrowDown")
        if hit.evaluate("el => el === document.activeElement"):
            break
    expect(hit).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/accounts/{account.pk}/$"))
    expect(page.get_by_role("heading", name="Olivia Industries")).to_be_visible()


def test_manager_sees_the_reps_records(open_as: Any, world: Any) -> None:
    page = open_as(world.personas.manager, "/accounts/")
    expect(page.get_by_role("link", name="Olivia Industries")).to_be_visible()
    expect(page.get_by_role("link", name="Oscar Industries")).to_have_count(0)
    page.get_by_role("link", name="Olivia Industries").click()
    expect(page.get_by_role("heading", name="Olivia Industries")).to_be_visible()
    page.goto(page.url.split("/accounts/")[0] + "/deals/list/")
    expect(page.get_by_role("link", name="Olivia renewal")).to_be_visible()


def test_another_rep_sees_nothing_of_them(open_as: Any, world: Any, live_server: Any) -> None:
    mine = world.mine
    page = open_as(world.personas.outsider, "/accounts/")
    expect(page.get_by_role("link", name="Oscar Industries")).to_be_visible()
    expect(page.get_by_role("link", name="Olivia Industries")).to_have_count(0)
    # search, misspelled or exact: nothing of the owner's
    box = page.get_by_role("searchbox", name="Search", exact=True)
    for text in ("Olivia Industries", "Olivai"):
        box.fill("")
        box.press_sequentially(text, delay=20)
        expect(page.locator("#search-popup")).to_contain_text("Nothing found")
    # direct URLs: 404, never a page that confirms the record exists
    for path in (f"/accounts/{mine.account.pk}/", f"/contacts/{mine.contact.pk}/",
                 f"/deals/{mine.opportunity.pk}/", f"/cases/{mine.case.pk}/",
                 f"/documents/{mine.sales_document.pk}/pdf/",
                 f"/attachments/{mine.attachment.pk}/?inline=1"):
        response = page.goto(live_server.url + path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_text("Olivia Industries")).to_have_count(0)
    # export: the file holds the outsider's accounts only
    page.goto(live_server.url + "/accounts/")
    page.locator("summary", has_text="Export").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "Oscar Industries" in text
    assert "Olivia" not in text

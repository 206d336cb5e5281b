"""Leads and cases boards in a real browser: drag and drop, keyboard, refusals, phone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.crm.models import Lead
from comptoir.service.models import Case
from comptoir.testing import factories

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page: Any, name: str) -> None:
    """A screenshot for the closing note when ``COMPTOIR_SHOTS`` names a folder."""
    folder = os.environ.get("COMPTOIR_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_rep_moves_a_lead_by_drag_and_drop_and_by_keyboard(open_as: Any, world: Any) -> None:
    owner = world.personas.owner
    factories.lead(by=owner, last_name="Keyboard", company_name="Clavier SA",
                   status="disqualified")
    page = open_as(owner, "/leads/board/")
    new, working = page.locator("#col-new"), page.locator("#col-working")
    expect(new.locator("[data-count]")).to_have_text("1")
    shot(page, "leads-board-desktop")

    # drag and drop: the world's lead from New to Working
    card = page.get_by_role("article", name="OliviaLead")
    card.drag_to(working)
    expect(working.get_by_role("article", name="OliviaLead")).to_be_visible()
    expect(working.locator("[data-count]")).to_have_text("1")
    expect(new.locator("[data-count]")).to_have_text("0")
    expect(page.get_by_role("status")).to_contain_text("moved to Working")
    assert Lead.objects.get(pk=world.mine.lead.pk).status == "working"

    # keyboard: ArrowLeft takes it back to New, the focus stays on the card
    moved = working.get_by_role("article", name="OliviaLead")
    moved.focus()
    page.keyboard.press("ArrowLeft")
    back = new.get_by_role("article", name="OliviaLead")
    expect(back).to_be_focused()
    expect(new.locator("[data-count]")).to_have_text("1")
    expect(page.get_by_role("status")).to_contain_text("moved to New")
    assert Lead.objects.get(pk=world.mine.lead.pk).status == "new"

    # converted takes no move: the reason is given, the card stays where it is, focused
    other = page.get_by_role("article", name="Keyboard")
    other.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("status")).to_contain_text("conversion creates the account")
    expect(page.locator("#col-disqualified").get_by_role("article", name="Keyboard")
           ).to_be_focused()
    other.drag_to(page.locator("#col-converted"))
    expect(page.get_by_role("status")).to_contain_text("conversion creates the account")
    assert Lead.objects.get(last_name="Keyboard").status == "disqualified"


def test_a_case_moves_by_keyboard_and_closing_it_focuses_its_column(open_as: Any,
                                                                    world: Any) -> None:
    owner = world.personas.owner
    page = open_as(owner, "/cases/board/")
    card = page.get_by_role("article", name="Olivia broken widget")
    card.focus()
    page.keyboard.press("ArrowRight")  # New → In progress
    in_progress = page.locator("#col-open")
    moved = in_progress.get_by_role("article", name="Olivia broken widget")
    expect(moved).to_be_focused()
    expect(in_progress.locator("[data-count]")).to_have_text("1")
    assert Case.objects.get(pk=world.mine.case.pk).status == "open"
    # drag to Closed: the card leaves the board, counted in this month's closed cases
    moved.drag_to(page.locator("#col-closed"))
    expect(page.locator("#col-closed [data-count]")).to_have_text("1")
    expect(page.get_by_role("status")).to_contain_text("moved to Closed")
    expect(page.get_by_role("heading", name="Closed")).to_be_focused()
    case = Case.objects.get(pk=world.mine.case.pk)
    assert case.status == "closed"
    assert case.closed_at is not None
    shot(page, "cases-board-desktop")


def test_the_leads_board_works_on_a_phone(open_as: Any, world: Any) -> None:
    page = open_as(world.personas.owner, "/leads/board/", phone=True)
    board = page.locator(".board")
    expect(board).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "leads-board-phone")
    card = page.get_by_role("article", name="OliviaLead")
    card.get_by_text("Move to…").click()
    card.get_by_label("Status of “OliviaLead”").select_option(label="Qualified")
    card.get_by_role("button", name="Move").click()
    expect(page.locator("#col-qualified [data-count]")).to_have_text("1")
    assert Lead.objects.get(pk=world.mine.lead.pk).status == "qualified"

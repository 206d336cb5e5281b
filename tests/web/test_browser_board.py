"""The pipeline board in a real browser: drag and drop, keyboard, phone width."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.crm.models import Opportunity, Stage
from comptoir.testing import factories

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page: Any, name: str) -> None:
    """A screenshot for the closing note when ``COMPTOIR_SHOTS`` names a folder."""
    folder = os.environ.get("COMPTOIR_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def test_rep_moves_deals_by_drag_and_drop_and_by_keyboard(open_as: Any, world: Any) -> None:
    owner = world.personas.owner
    factories.opportunity(by=owner, account=world.mine.account, name="Second deal",
                          amount=Decimal("3000"))
    qualification, proposal, won = stage("Qualification"), stage("Proposal"), stage("Won")
    page = open_as(owner, "/deals/board/")
    qual_col = page.locator(f"#stage-{qualification.pk}")
    prop_col = page.locator(f"#stage-{proposal.pk}")
    expect(qual_col.locator("[data-count]")).to_have_text("2")
    expect(qual_col.locator("[data-total]")).to_have_text("€15,000.00")
    expect(prop_col.locator("[data-count]")).to_have_text("0")
    shot(page, "board-desktop")

    # drag and drop: Olivia renewal (12 000) from Qualification to Proposal
    card = page.locator("article.deal-card", has_text="Olivia renewal")
    card.drag_to(prop_col)
    expect(prop_col.get_by_role("article", name="Olivia renewal")).to_be_visible()
    expect(prop_col.locator("[data-count]")).to_have_text("1")
    expect(prop_col.locator("[data-total]")).to_have_text("€12,000.00")
    expect(prop_col.locator("[data-weighted]")).to_have_text("€6,000.00")
    expect(qual_col.locator("[data-count]")).to_have_text("1")
    expect(qual_col.locator("[data-total]")).to_have_text("€3,000.00")
    expect(page.get_by_role("status")).to_contain_text("moved to Proposal")
    deal = Opportunity.objects.get(name="Olivia renewal")
    assert deal.stage_id == proposal.pk
    assert deal.probability == 50

    # keyboard: focus the other card, ArrowRight twice (Proposal, then Won)
    second = page.get_by_role("article", name="Second deal")
    second.focus()
    page.keyboard.press("ArrowRight")
    moved = prop_col.get_by_role("article", name="Second deal")
    expect(moved).to_be_focused()
    expect(prop_col.locator("[data-count]")).to_have_text("2")
    expect(prop_col.locator("[data-total]")).to_have_text("€15,000.00")
    expect(qual_col.locator("[data-count]")).to_have_text("0")
    page.keyboard.press("ArrowRight")
    won_col = page.locator(f"#stage-{won.pk}")
    expect(won_col.locator("[data-count]")).to_have_text("1")
    expect(won_col.locator("[data-total]")).to_have_text("€3,000.00")
    expect(page.get_by_role("status")).to_contain_text("The deal is won")
    expect(page.get_by_role("heading", name="Won")).to_be_focused()
    second_deal = Opportunity.objects.get(name="Second deal")
    assert second_deal.stage_id == won.pk
    assert second_deal.status == "won"
    shot(page, "board-after-moves")


def test_board_scrolls_inside_itself_at_phone_width(open_as: Any, world: Any) -> None:
    proposal = stage("Proposal")
    page = open_as(world.personas.owner, "/deals/board/", phone=True)
    board = page.locator(".board")
    expect(board).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert board.evaluate("b => b.scrollWidth > b.clientWidth")
    shot(page, "board-phone")
    # the "Move to…" form works on a phone (no drag and drop needed)
    card = page.get_by_role("article", name="Olivia renewal")
    card.get_by_text("Move to…").click()
    card.get_by_label("Stage of “Olivia renewal”").select_option(label="Proposal")
    card.get_by_role("button", name="Move").click()
    expect(page.locator(f"#stage-{proposal.pk} [data-count]")).to_have_text("1")
    assert Opportunity.objects.get(name="Olivia renewal").stage_id == proposal.pk

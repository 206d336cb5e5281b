"""Moving a deal to Lost on the board asks why (issue 14, item 7), in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.core.models import AuditEntry, ObjectType
from comptoir.crm.models import LostReason, Opportunity, Stage

pytestmark = pytest.mark.django_db(transaction=True)


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def test_losing_a_deal_asks_for_a_reason_from_the_picklist(open_as: Any, world: Any) -> None:
    LostReason.objects.create(name="Price too high", order=1)
    LostReason.objects.create(name="Went with a competitor", order=2)
    LostReason.objects.create(name="Retired reason", order=3, active=False)
    deal = world.mine.opportunity  # Olivia renewal, in Qualification
    qualification, lost = stage("Qualification"), stage("Lost")
    page = open_as(world.personas.owner, "/deals/board/")
    qual_col = page.locator(f"#stage-{qualification.pk}")
    lost_col = page.locator(f"#stage-{lost.pk}")
    card = qual_col.get_by_role("article", name="Olivia renewal")
    dialog = page.get_by_role("dialog", name="Why was the deal lost?")
    reason = dialog.get_by_label("Lost reason")

    # dropping onto Lost opens the dialog, naming the deal; only active reasons are offered
    card.drag_to(lost_col)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Olivia renewal")
    expect(reason).to_be_focused()
    options = reason.locator("option").all_inner_texts()
    assert options == ["—", "Price too high", "Went with a competitor"]

    # the reason is required: "Mark as lost" without one keeps the dialog open
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(dialog).to_be_visible()
    assert reason.evaluate("el => el.validity.valueMissing")

    # cancelling leaves the deal where it was, and the focus on its card
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(card).to_be_focused()
    expect(qual_col.locator("[data-count]")).to_have_text("1")
    expect(lost_col.locator("[data-count]")).to_have_text("0")
    deal.refresh_from_db()
    assert deal.stage_id == qualification.pk
    assert deal.status == "open"

    # Esc cancels too
    card.drag_to(lost_col)
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    deal.refresh_from_db()
    assert deal.status == "open"

    # a reason chosen: the deal moves to Lost, with the reason recorded
    card.drag_to(lost_col)
    expect(dialog).to_be_visible()
    reason.select_option(label="Went with a competitor")
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(dialog).to_be_hidden()
    expect(lost_col.locator("[data-count]")).to_have_text("1")
    expect(lost_col.locator("[data-total]")).to_have_text("€12,000.00")
    expect(qual_col.locator("[data-count]")).to_have_text("0")
    expect(page.get_by_role("status")).to_contain_text("The deal is lost")
    expect(page.get_by_role("heading", name="Lost")).to_be_focused()
    deal = Opportunity.objects.get(pk=deal.pk)
    assert deal.stage_id == lost.pk
    assert deal.status == "lost"
    assert deal.lost_reason == "Went with a competitor"
    audit = AuditEntry.objects.filter(object_type=ObjectType.OPPORTUNITY, object_id=deal.pk,
                                      action="update").latest("id")
    assert audit.changes["lost_reason"] == ["", "Went with a competitor"]

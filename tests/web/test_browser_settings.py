"""Settings in a real browser: a stage added and reordered by keyboard; phone width."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.crm.models import Stage

from .conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_adds_a_stage_and_moves_it_with_the_keyboard(open_as: Any, admin: Any,
                                                            pipeline: Any) -> None:
    page = open_as(admin, f"/settings/pipelines/{pipeline.pk}/")
    names = page.locator("#stages tbody tr td:first-child a")
    expect(names).to_have_text(["Qualification", "Proposal", "Won", "Lost"])

    add = page.locator("form.stage-add")
    add.get_by_label("Name").fill("Negotiation")
    add.get_by_label("Probability (%)").fill("70")
    add.get_by_label("Probability (%)").press("Enter")
    # an open stage lands before the won and lost stages; the form is ready for the next one
    expect(names).to_have_text(["Qualification", "Proposal", "Negotiation", "Won", "Lost"])
    expect(page.locator("form.stage-add").get_by_label("Name")).to_be_focused()
    expect(page.locator("form.stage-add").get_by_label("Name")).to_have_value("")

    page.get_by_role("button", name="Move Negotiation up").focus()
    page.keyboard.press("Enter")
    expect(names).to_have_text(["Qualification", "Negotiation", "Proposal", "Won", "Lost"])
    # the focus stays on the control that moved, so Enter again keeps moving it
    expect(page.get_by_role("button", name="Move Negotiation up")).to_be_focused()
    page.keyboard.press("Enter")
    expect(names).to_have_text(["Negotiation", "Qualification", "Proposal", "Won", "Lost"])
    # at the top "up" is disabled: the focus goes to "down"
    expect(page.get_by_role("button", name="Move Negotiation up")).to_be_disabled()
    expect(page.get_by_role("button", name="Move Negotiation down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(names).to_have_text(["Qualification", "Negotiation", "Proposal", "Won", "Lost"])

    ordered = list(Stage.objects.filter(pipeline=pipeline).order_by("order")
                   .values_list("name", "probability"))
    assert ordered[1] == ("Negotiation", 70)

    # a wrong value is said next to the field, without leaving the page
    add = page.locator("form.stage-add")
    add.get_by_label("Name").fill("Proposal")
    add.get_by_label("Name").press("Enter")
    expect(page.locator("form.stage-add .field-error")).to_be_visible()
    expect(page.locator("form.stage-add").get_by_label("Name")).to_be_focused()


def test_settings_at_phone_width(open_as: Any, admin: Any, pipeline: Any) -> None:
    width = PHONE["viewport"]["width"]
    page = open_as(admin, "/settings/", phone=True)
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for path in ("/settings/users/", f"/settings/pipelines/{pipeline.pk}/",
                 "/settings/territories/", "/settings/users/new/", "/settings/fields/new/"):
        page.goto(page.url.split("/settings/")[0] + path)
        expect(page.locator("main h1")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    # the reorder buttons are reachable and big enough to tap
    page.goto(page.url.split("/settings/")[0] + f"/settings/pipelines/{pipeline.pk}/")
    button = page.get_by_role("button", name="Move Proposal up")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    button.click()
    expect(page.locator("#stages tbody tr td:first-child a").first).to_have_text("Proposal")

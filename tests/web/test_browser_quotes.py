"""The quote editor in a real browser: catalogue line, recomputed totals, save, PDF."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page: Any, name: str) -> None:
    """A screenshot for the closing note when ``COMPTOIR_SHOTS`` names a folder."""
    folder = os.environ.get("COMPTOIR_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_rep_edits_a_quote_saves_it_and_downloads_the_pdf(open_as: Any, world: Any) -> None:
    quote = world.mine.sales_document  # Consulting: 2 × €100.00 at 20 %
    page = open_as(world.personas.owner, f"/documents/{quote.pk}/edit/")
    expect(page.get_by_role("heading", name=f"Quote {quote.number}")).to_be_visible()
    totals = page.locator("#quote-totals")
    expect(totals.locator("[data-total=incl]")).to_have_text("€240.00")

    page.get_by_label("Price list").select_option(label="Public 2025")
    page.get_by_label("Add from the catalogue").fill("wid")
    suggestion = page.get_by_role("button", name="WIDGET Widget")
    expect(suggestion).to_contain_text("€9.90")
    suggestion.click()
    quantity = page.get_by_label("Quantity, line 2")
    expect(quantity).to_be_focused()  # ready to type the quantity of the new line
    expect(page.get_by_label("Unit price, line 2")).to_have_value("9.90")
    expect(totals.locator("[data-total=excl]")).to_have_text("€209.90")
    expect(page.get_by_label("Add from the catalogue")).to_have_value("")

    quantity.fill("3")
    quantity.press("Tab")
    expect(page.locator("#line-2-total")).to_have_text("€29.70")
    expect(totals.locator("[data-total=excl]")).to_have_text("€229.70")
    expect(totals.locator("[data-total=tax]")).to_have_text("€45.94")
    expect(totals.locator("[data-total=incl]")).to_have_text("€275.64")
    shot(page, "quote-editor")

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"{quote.number} saved")
    quote.refresh_from_db()
    assert quote.total_incl_tax == Decimal("275.64")
    assert quote.price_list_id == world.price_list.pk
    saved = [(ln.description, ln.quantity, ln.unit_price)
             for ln in quote.lines.order_by("position")]
    assert saved == [("Consulting", Decimal("2"), Decimal("100.00")),
                     ("Widget", Decimal("3"), Decimal("9.90"))]

    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename == f"quote-{quote.number}.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF")


def test_quote_editor_fits_a_phone(open_as: Any, world: Any) -> None:
    quote = world.mine.sales_document
    page = open_as(world.personas.owner, f"/documents/{quote.pk}/edit/", phone=True)
    expect(page.get_by_label("Quantity, line 1")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "quote-phone")

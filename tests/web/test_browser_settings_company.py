"""Settings › Company and › Lost reasons in a real browser: the logo preview shows under the
CSP, errors take the focus, the pages fit a phone; lost reasons reordered by keyboard."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from playwright.sync_api import expect

from comptoir.core import company
from comptoir.crm.models import LostReason
from comptoir.crm.services import lost_reason_choices

from .conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)

PROFILE = {"legal_name": "Martin Équipements", "legal_form": "SAS", "share_capital": "50000",
           "street": "12 rue de la République", "postcode": "69002", "city": "Lyon",
           "country": "FR", "siren": "123456782", "iban": "FR7630004012340001234567862"}


def shot(page: Any, name: str) -> None:
    """A screenshot for the closing note when ``COMPTOIR_SHOTS`` names a folder."""
    folder = os.environ.get("COMPTOIR_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 100), (30, 80, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_company_page_shows_the_logo_and_fits(open_as: Any, admin: Any, phone: bool) -> None:
    company.company_profile_update(user=admin, data=PROFILE,
                                   logo=SimpleUploadedFile("logo.png", png()))
    page = open_as(admin, "/settings/company/", phone=phone, language="fr")
    expect(page.get_by_role("heading", name="Coordonnées bancaires")).to_be_visible()
    preview = page.locator(".logo-preview img")
    expect(preview).to_be_visible()
    page.wait_for_function("document.querySelector('.logo-preview img').naturalWidth > 0")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") \
            <= PHONE["viewport"]["width"]
    shot(page, f"settings-company-{'390' if phone else '1440'}")


def test_a_wrong_identifier_is_said_next_to_it_and_focused(open_as: Any, admin: Any) -> None:
    page = open_as(admin, "/settings/company/")
    page.get_by_label("Legal name").fill("Martin Équipements")
    page.get_by_label("SIREN").fill("123 456 789")
    page.get_by_label("IBAN").fill("FR76 3000 4012 3400 0123 4567 862")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_siren_error")).to_contain_text("Not a valid SIREN")
    expect(page.get_by_label("SIREN")).to_be_focused()
    expect(page.get_by_label("IBAN")).to_have_value("FR76 3000 4012 3400 0123 4567 862")
    page.get_by_label("SIREN").fill("123 456 782")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Company profile saved")
    assert company.company_profile().siren == "123456782"


def test_lost_reasons_added_and_reordered_by_keyboard(open_as: Any, admin: Any) -> None:
    LostReason.objects.create(name="Price", order=10)
    page = open_as(admin, "/settings/lost-reasons/")
    field = page.get_by_label("New reason")
    field.fill("Competitor")
    field.press("Enter")
    expect(page.locator("#reasons .option-rename input[name='name']")).to_have_count(2)
    expect(page.get_by_label("New reason")).to_be_focused()
    page.get_by_role("button", name="Move Competitor up").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Move Competitor down")).to_be_focused()
    assert lost_reason_choices() == ["Competitor", "Price"]
    page.get_by_role("button", name="Deactivate Price").click()
    expect(page.get_by_role("button", name="Reactivate Price")).to_be_focused()
    assert lost_reason_choices() == ["Competitor"]
    shot(page, "settings-lost-reasons-1440")

"""The duplicates queue in a real browser: compare, pick a value, merge, undo; phone width."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.crm.models import Account
from comptoir.quality import dedupe
from comptoir.quality.models import DuplicatePair
from comptoir.testing import factories as f

from .conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)

DATA = {"email": "contact@dupont-conseil.fr", "phone": "04 72 00 00 01",
        "billing_street": "12 rue de la République", "billing_postcode": "69002",
        "billing_city": "Lyon"}


def _pair(personas: Any) -> DuplicatePair:
    a = f.account(by=personas.owner, legal_name="Dupont Conseil SARL", siren=f.siren(9001),
                  **DATA)
    b = f.account(by=personas.owner, legal_name="Dupont Conseil", **DATA)
    dedupe.dedupe_run("account")
    return DuplicatePair.objects.get(left_id=a.pk, right_id=b.pk)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_data_manager_merges_a_pair_and_undoes_it(open_as: Any, personas: Any,
                                                  phone: bool) -> None:
    pair = _pair(personas)
    page = open_as(personas.data_manager, "/quality/", phone=phone)
    row = page.locator(f"#pair-{pair.pk}")
    expect(row).to_contain_text("Same e-mail")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    row.get_by_role("link", name="Compare").click()
    expect(page.get_by_role("heading", name="Merge preview")).to_be_visible()
    page.get_by_label(f"{pair.left_id}", exact=False)  # the survivor choice is labelled
    page.locator(f'input[name="survivor"][value="{pair.left_id}"]').check()
    page.locator(f'input[name="pick_legal_name"][value="{pair.right_id}"]').check()
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.locator(".message-success")).to_contain_text("Merged into")
    assert Account.objects.get(pk=pair.left_id).legal_name == "Dupont Conseil"
    assert not Account.objects.filter(pk=pair.right_id).exists()
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    page.get_by_role("button", name="Undo").first.click()
    expect(page.locator(".message-success")).to_contain_text("Merge undone")
    assert Account.objects.filter(pk=pair.right_id).exists()
    assert Account.objects.get(pk=pair.left_id).legal_name == "Dupont Conseil SARL"

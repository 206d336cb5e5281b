"""The account form's duplicate warning cannot be skipped: a sure duplicate (same normalised
name and postcode, or same SIREN) is refused by the create view until "create anyway" is
sent, and the live check survives a fast Tab (the field re-check no longer drops it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from comptoir.crm.models import Account

CREATE_ANYWAY = "This is a new one, create anyway"


def _post(client: Any, data: dict[str, str]) -> Any:
    return client.post(reverse("web:account_create"), {"status": "prospect", **data},
                       follow=True)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["name_and_postcode", "siren"])
def test_sure_duplicate_needs_create_anyway(client_for: Any, world: Any, how: str) -> None:
    existing = world.mine.account
    client = client_for(world.personas.owner, language="en")
    if how == "siren":
        data = {"legal_name": "Quite Another Name", "siren": existing.siren}
        same = {"siren": existing.siren}
    else:  # the name as typed differs only by case, spaces and the legal form
        data = {"legal_name": f"  {existing.legal_name.upper()} sas ",
                "billing_postcode": existing.billing_postcode}
        same = {"normalized_name": existing.normalized_name,
                "billing_postcode": existing.billing_postcode}
    before = Account.objects.filter(**same).count()

    response = _post(client, data)
    assert response.redirect_chain == []
    html = response.content.decode()
    assert "This may already exist" in html
    assert reverse("web:account_detail", args=[existing.pk]) in html
    assert CREATE_ANYWAY in html
    assert Account.objects.filter(**same).count() == before

    response = _post(client, {**data, "create_anyway": "1"})
    assert response.redirect_chain
    assert Account.objects.filter(**same).count() == before + 1


@pytest.mark.django_db
def test_weak_match_creates_and_warns_after(client_for: Any, world: Any) -> None:
    existing = world.mine.account
    client = client_for(world.personas.owner, language="en")
    # same name, another town: worth a look, not sure enough to stop the create
    response = _post(client, {"legal_name": existing.legal_name, "billing_postcode": "75001"})
    created = Account.objects.exclude(pk=existing.pk).get(legal_name=existing.legal_name)
    assert response.redirect_chain[-1][0] == reverse("web:account_detail", args=[created.pk])
    html = response.content.decode()
    assert "was created" in html
    assert f"Possible duplicates of “{existing.legal_name}”: {existing.legal_name}" in html
    # no candidate at all: no warning
    response = _post(client, {"legal_name": "Zebra Unmatched", "billing_postcode": "75001"})
    assert response.redirect_chain
    assert "Possible duplicates" not in response.content.decode()


@pytest.mark.django_db
def test_live_check_belongs_to_the_panel_not_the_inputs(client_for: Any, world: Any) -> None:
    """The re-checked field is swapped on change: no duplicate request may hang on it."""
    html = client_for(world.personas.owner).get(reverse("web:account_create")).content.decode()
    panel = re.search(r'<div id="duplicate-panel"[^>]*>', html)
    assert panel is not None
    assert 'hx-trigger="dedupe-check"' in panel.group(0)
    assert 'hx-target="this"' in panel.group(0)
    name_input = re.search(r'<input[^>]*name="legal_name"[^>]*>', html)
    assert name_input is not None
    assert "data-dedupe" in name_input.group(0)
    assert "hx-get" not in name_input.group(0)


# --- In a real browser ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_fast_tab_then_submit_never_creates_the_duplicate(open_as: Any, world: Any) -> None:
    existing = world.mine.account
    before = Account.objects.count()
    page = open_as(world.personas.owner, "/accounts/new/")
    page.get_by_label("Billing postcode").fill(existing.billing_postcode)
    name = page.get_by_label("Legal name")
    name.press_sequentially(existing.legal_name, delay=0)  # well under the 0.4 s delay
    name.press("Tab")
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page.get_by_role("alert")).to_contain_text("This may already exist")
    panel = page.get_by_role("region", name="This may already exist")
    expect(panel.get_by_role("link", name=existing.legal_name)).to_be_visible()
    expect(page).to_have_url(re.compile("/accounts/new/$"))
    assert Account.objects.count() == before

    panel.get_by_role("button", name=CREATE_ANYWAY).click()
    expect(page.get_by_text("was created")).to_be_visible()
    assert Account.objects.count() == before + 1


@pytest.mark.django_db(transaction=True)
def test_fast_tab_still_shows_the_warning(open_as: Any, world: Any) -> None:
    existing = world.mine.account
    page = open_as(world.personas.owner, "/accounts/new/")
    name = page.get_by_label("Legal name")
    name.press_sequentially(existing.legal_name, delay=0)
    name.press("Tab")  # the re-check of the name replaces its input at once
    expect(page.get_by_label("SIREN")).to_be_focused()
    panel = page.get_by_role("region", name="Possible duplicates")
    expect(panel.get_by_role("link", name=existing.legal_name)).to_be_visible()
    # a sure match (the postcode too) turns the panel into the strong warning
    postcode = page.get_by_label("Billing postcode")
    postcode.fill(existing.billing_postcode)
    postcode.press("Tab")
    expect(page.get_by_role("region", name="This may already exist")).to_be_visible()

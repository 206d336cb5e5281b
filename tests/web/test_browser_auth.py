"""Signing in and out in a real browser, at desktop and phone width."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, PHONE, with_password

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_lands_on_home_and_sign_out(live_server: Any, page: Any, owner: Any) -> None:
    with_password(owner)
    page.goto(live_server.url + "/accounts/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/accounts/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("owner")  # nothing lost on error
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{live_server.url}/accounts/")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login/")


def test_language_switch_is_remembered(open_as: Any, owner: Any) -> None:
    page = open_as(owner, "/accounts/")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="FR").click()
    expect(page.get_by_role("heading", name="Comptes")).to_be_visible()
    owner.refresh_from_db()
    assert owner.language == "fr"


def test_phone_width_collapses_the_sidebar(browser: Any, live_server: Any, owner: Any,
                                            open_as: Any) -> None:
    page = open_as(owner, "/accounts/", phone=True)
    assert page.viewport_size == PHONE["viewport"]
    sidebar = page.get_by_role("navigation", name="Main")
    expect(sidebar).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(sidebar).to_be_visible()
    expect(sidebar.get_by_role("link", name="Accounts")).to_be_visible()
    # nothing wider than the screen
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"]

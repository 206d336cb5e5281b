"""Follow a record, see a colleague's change on the home page; home pages fit a phone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from comptoir.crm.services import account_update
from comptoir.testing import factories
from comptoir.testing.personas import OWNER_POSTCODE

from .conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def test_rep_follows_an_account_and_sees_a_colleagues_change(
        open_as: Any, live_server: Any, owner: Any, teammate: Any) -> None:
    # the teammate's account, which the owner sees through the team's territory
    account = factories.account(by=teammate, legal_name="Brasserie du Parc",
                                billing_postcode=OWNER_POSTCODE, billing_city="Lyon")
    page = open_as(owner, f"/follow/account/{account.pk}/")
    follow = page.get_by_role("button", name="Follow", exact=True)
    expect(follow).to_have_attribute("aria-pressed", "false")
    follow.click()
    following = page.get_by_role("button", name="Following")
    expect(following).to_have_attribute("aria-pressed", "true")  # swapped in place by htmx

    account_update(account=account, user=teammate, data={"billing_city": "Villeurbanne"})

    page.goto(live_server.url + "/")
    expect(page.get_by_role("link", name="1 unread notification")).to_be_visible()
    feed = page.get_by_role("region", name="Recent changes")
    # newest first: the change, then the creation
    expect(feed.get_by_role("listitem").first).to_contain_text("Théo changed billing city.")
    expect(feed.get_by_role("link", name="Brasserie du Parc").first).to_be_visible()
    notifications = page.get_by_role("region", name="Notifications")
    expect(notifications).to_contain_text("Brasserie du Parc")
    # reading them all clears the bell
    page.get_by_role("link", name="See all").last.click()
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("link", name="0 unread notifications")).to_be_visible()


def test_home_pages_fit_a_phone(open_as: Any, world: Any, owner: Any, manager: Any,
                                data_manager: Any) -> None:
    account = world.mine.account
    today = timezone.localdate()
    factories.activity(by=owner, kind="meeting", subject="Visit of the new workshop in Vénissieux",
                       start_at=timezone.now(), account=account)
    factories.activity(by=owner, kind="task", subject="Send the revised offer",
                       due_at=timezone.now() - dt.timedelta(days=2))
    factories.opportunity(by=owner, account=account, name="Extension of the maintenance contract",
                          amount=Decimal("123456.78"), expected_close_date=today)
    for user, heading in ((owner, "Deals closing this month"), (manager, "Team pipeline"),
                          (data_manager, "Data quality")):
        page = open_as(user, "/", phone=True)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["viewport"]["width"], (user.username, width)

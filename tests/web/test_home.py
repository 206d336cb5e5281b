"""The home page of each profile: its sections, their figures, and a bounded query count."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from comptoir.crm.models import Opportunity, Stage
from comptoir.crm.services import account_update
from comptoir.feeds import services as feeds
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.quality.models import DuplicatePair
from comptoir.service.models import Case
from comptoir.testing import factories


def figure(html: str, name: str) -> str:
    """The text of the ``data-figure="name"`` element, spaces normalised."""
    match = re.search(rf'data-figure="{re.escape(name)}"[^>]*>(.*?)</(?:dd|td)>', html, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).replace("\xa0", " ").strip()


def at_today(hour: int, days: int = 0) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def this_month(day: int = 28) -> dt.date:
    today = timezone.localdate()
    return today.replace(day=min(day, 28))


def next_month() -> dt.date:
    today = timezone.localdate()
    return (today.replace(day=1) + dt.timedelta(days=40)).replace(day=1)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def test_rep_home_shows_today_deals_feed_and_notifications(
        client_for: Any, world: Any, owner: Any, teammate: Any,
        django_assert_max_num_queries: Any) -> None:
    account = world.mine.account
    factories.activity(by=owner, kind="task", subject="Send the offer", due_at=at_today(17),
                       account=account)
    factories.activity(by=owner, kind="meeting", subject="Visit the plant",
                       start_at=at_today(10), end_at=at_today(11), account=account)
    factories.activity(by=owner, kind="task", subject="Call back Camille",
                       due_at=at_today(9, days=-3))
    factories.activity(by=owner, kind="task", subject="Old done task", due_at=at_today(9, -5),
                       done=True)
    factories.activity(by=teammate, kind="task", subject="Not mine", due_at=at_today(15))
    factories.opportunity(by=owner, account=account, name="Closing A",
                          amount=Decimal("1000"), probability=50,
                          expected_close_date=this_month(1))
    factories.opportunity(by=owner, account=account, name="Closing B",
                          amount=Decimal("3000"), probability=10,
                          expected_close_date=this_month(28))
    factories.opportunity(by=owner, account=account, name="Next month deal",
                          amount=Decimal("9999"), expected_close_date=next_month())
    factories.opportunity(by=teammate, account=account, name="Teammate's deal",
                          amount=Decimal("5000"), expected_close_date=this_month(2))
    account_update(account=account, user=teammate, data={"phone": "0478000000"})

    client = client_for(owner)
    with django_assert_max_num_queries(30):
        response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Good " in html
    assert "Olivia" in html
    # today: the task and the meeting of the day, the overdue task; not the done one
    assert "Send the offer" in html
    assert "Visit the plant" in html
    assert "Call back Camille" in html
    assert "1 overdue task" in html
    assert "2 items today" in html
    assert "Old done task" not in html
    assert "Not mine" not in html
    # deals closing this month: mine only, with the amounts
    assert figure(html, "count") == "2"
    assert figure(html, "amount") == "€4,000.00"
    assert figure(html, "weighted") == "€800.00"
    assert "Closing A" in html
    assert "Closing B" in html
    assert "Next month deal" not in html
    assert "Teammate&#x27;s deal" not in html
    # recent changes on my records by others
    assert "Théo changed phone." in html
    assert "No notifications" not in html


def test_rep_home_empty_states_say_what_to_do(client_for: Any, owner: Any) -> None:
    html = client_for(owner).get("/").content.decode()
    assert "Nothing planned today" in html
    assert "No deal expected to close this month" in html
    assert "Follow accounts, deals or cases" in html
    assert "no unread notification" in html


def test_manager_home_shows_team_pipeline_and_forecast(
        client_for: Any, world: Any, manager: Any, owner: Any, outsider: Any,
        django_assert_max_num_queries: Any) -> None:
    account = world.mine.account
    won = Stage.objects.get(name="Won")
    proposal = Stage.objects.get(name="Proposal")
    factories.opportunity(by=owner, account=account, name="Big proposal",
                          amount=Decimal("20000"), stage=proposal,
                          expected_close_date=timezone.localdate())
    factories.opportunity(by=owner, account=account, name="Won deal", amount=Decimal("7000"),
                          stage=won)
    factories.opportunity(by=outsider, account=world.theirs.account, name="Outsider deal",
                          amount=Decimal("99000"), stage=proposal,
                          expected_close_date=timezone.localdate())
    # what the manager sees: the owner's deals (the world's renewal + the proposal)
    visible_open = Opportunity.objects.filter(owner=owner, status="open")
    amount = sum(o.amount for o in visible_open)
    weighted = sum(o.amount * o.probability / 100 for o in visible_open)
    client = client_for(manager)
    with django_assert_max_num_queries(30):
        response = client.get("/")
    html = response.content.decode()
    assert "Team pipeline" in html
    assert figure(html, "open-count") == str(visible_open.count())
    assert figure(html, "open-amount") == f"€{amount:,.2f}"
    assert figure(html, "open-weighted") == f"€{weighted:,.2f}"
    assert 'data-stage="Proposal"' in html
    assert "<svg" in html
    # forecast this month: the won deal + the proposal at 50 %
    month = html.split('data-period="month"')[1].split('data-period="quarter"')[0]
    assert figure(month, "won") == "€7,000.00"
    assert figure(month, "weighted") == "€10,000.00"
    assert figure(month, "forecast") == "€17,000.00"
    assert "Big proposal" in html  # top deals
    assert "Outsider deal" not in html
    assert f'data-rep="{owner.pk}"' in html


def test_service_home_shows_open_cases_by_priority(
        client_for: Any, world: Any, service_user: Any, owner: Any,
        django_assert_max_num_queries: Any) -> None:
    account = world.mine.account
    factories.case(by=owner, account=account, subject="Line down", priority="urgent")
    factories.case(by=owner, account=account, subject="Slow delivery", priority="high",
                   owner=None)
    factories.case(by=service_user, account=account, subject="My question", priority="low",
                   owner=service_user)
    factories.case(by=owner, account=account, subject="Closed one", priority="urgent",
                   status="closed")
    open_cases = Case.objects.filter(status__in=("new", "open", "waiting"))
    client = client_for(service_user)
    with django_assert_max_num_queries(25):
        response = client.get("/")
    html = response.content.decode()
    assert figure(html, "open") == str(open_cases.count())
    assert figure(html, "urgent") == str(open_cases.filter(priority="urgent").count())
    assert figure(html, "high") == "1"
    assert figure(html, "mine") == "1"
    assert figure(html, "unassigned") == str(open_cases.filter(owner__isnull=True).count())
    oldest = html.split("Oldest urgent and high")[1].split("My cases")[0]
    assert "Line down" in oldest
    assert "Slow delivery" in oldest
    assert "Closed one" not in html
    assert "My question" in html.split("My cases")[1]


def test_data_manager_home_shows_quality_and_sync_health(
        client_for: Any, world: Any, data_manager: Any,
        django_assert_max_num_queries: Any) -> None:
    from comptoir.crm.models import Account, Contact

    connection = Connection.objects.create(name="erp", label="ERP", connector="files",
                                           mapping='system = "erp"\n', schedule_minutes=60)
    now = timezone.now()
    SyncRun.objects.create(connection=connection, status="succeeded", started_at=now,
                           finished_at=now, read=12, created=3, updated=2, unchanged=7)
    SyncRun.objects.create(connection=connection, status="failed", started_at=now,
                           finished_at=now, error_message="The ERP is unreachable.")
    QuarantinedRecord.objects.create(connection=connection, stream="customers",
                                     external_id="C9", reason="Bad SIREN")
    a, b = list(Account.objects.order_by("id")[:2])
    DuplicatePair.objects.create(object_type="account", left_id=a.pk, right_id=b.pk, score=70)
    client = client_for(data_manager)
    with django_assert_max_num_queries(27):
        response = client.get("/")
    html = response.content.decode()
    assert "Data quality" in html
    assert "Sync health" in html
    assert figure(html, "accounts") == str(Account.objects.count())
    assert figure(html, "quality-1") == str(Account.objects.filter(siren="").count())
    assert figure(html, "quality-3") == str(
        Account.objects.exclude(pk__in=Contact.objects.values("account_id")).count())
    assert figure(html, "quarantined") == "1"
    assert figure(html, "pairs") == str(DuplicatePair.objects.filter(status="open").count())
    assert figure(html, "promotions") == "0"
    assert "The ERP is unreachable." in html
    assert "1 connection needs attention." in html
    assert 'href="/sync/"' in html


def test_data_quality_figures_are_cached_until_refreshed(
        client_for: Any, world: Any, data_manager: Any) -> None:
    client = client_for(data_manager)
    before = figure(client.get("/").content.decode(), "accounts")
    factories.account(by=data_manager, legal_name="Brand new")
    assert figure(client.get("/").content.decode(), "accounts") == before
    assert figure(client.get("/?refresh=1").content.decode(), "accounts") == str(
        int(before) + 1)


def test_marketing_home_shows_new_leads_by_source_and_status(
        client_for: Any, world: Any, marketing: Any, owner: Any) -> None:
    factories.lead(by=marketing, source="trade_show", company_name="Show A")
    factories.lead(by=marketing, source="trade_show", company_name="Show B")
    factories.lead(by=owner, source="web_form", company_name="Form C", status="qualified")
    html = client_for(marketing).get("/").content.decode()
    from comptoir.crm.models import Lead

    assert figure(html, "week") == str(Lead.objects.count())
    assert 'data-source="trade_show"' in html
    qualified = html.split('data-status="qualified"')[1].split("</li>")[0]
    assert ">1<" in qualified.replace(" ", "")
    assert "Show A" in html


def test_admin_gets_the_data_home(client_for: Any, admin: Any) -> None:
    html = client_for(admin).get("/").content.decode()
    assert "Data quality" in html
    assert "No connection to another system yet" in html


def test_home_catches_up_notifications_without_the_worker(
        client_for: Any, world: Any, owner: Any, teammate: Any) -> None:
    feeds.notifications_process(max_events=10_000)
    feeds.follow(user=teammate, object_type="account", object_id=world.mine.account.pk)
    account_update(account=world.mine.account, user=owner, data={"billing_city": "Lyon"})
    html = client_for(teammate).get("/").content.decode()
    assert 'data-unread>1<' in html
    assert "Olivia Owner changed billing city." in html


def test_admin_home_reports_the_installation_health(client_for: Any, admin: Any,
                                                    data_manager: Any) -> None:
    html = client_for(admin).get("/").content.decode()
    assert "Installation health" in html
    assert 'data-check-level="error"' not in html
    assert "Free disk space" in html
    # the installation's details are for administrators only
    assert "Installation health" not in client_for(data_manager).get("/").content.decode()

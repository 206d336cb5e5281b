"""The deals board's day-one basics (issue 14): whose deals it opens on, each card's next
activity, and idle deals flagged and filtered."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.formats import date_format

from comptoir.activities.models import Activity
from comptoir.crm.models import Opportunity, Pipeline, Stage
from comptoir.testing import factories

BOARD = "/deals/board/"


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def card(html: str, name: str) -> str:
    found = re.search(rf'<article id="deal-\d+"[^>]*>\s*<a [^>]*>{re.escape(name)}</a>(.*?)'
                      r"</article>", html, re.S)
    assert found, f"no card for {name}"
    return found.group(1)


def selected_owner(html: str) -> str:
    select = re.search(r'<select id="board-owner".*?</select>', html, re.S)
    assert select
    chosen = re.findall(r'<option value="([^"]*)" selected>', select.group(0))
    assert len(chosen) == 1, chosen
    return chosen[0]


def ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def short(when: dt.datetime, language: str = "en") -> str:
    """Day and month in the language's words ("January 6", "6 janvier"), the year if not
    this one."""
    local = timezone.localtime(when)
    name = "MONTH_DAY_FORMAT" if local.year == timezone.localdate().year else "DATE_FORMAT"
    with translation.override(language):
        return date_format(local, name)


@pytest.fixture
def mates(world: Any) -> Opportunity:
    """A teammate's deal on the owner's account: the owner sees it through the territory."""
    return factories.opportunity(by=world.personas.teammate, account=world.mine.account,
                                 name="Teammate deal", amount=Decimal("500"))


def test_a_rep_opens_the_board_on_their_own_deals(client_for: Any, world: Any,
                                                  mates: Opportunity) -> None:
    client = client_for(world.personas.owner)
    html = client.get(BOARD).content.decode()
    assert "Olivia renewal" in html
    assert "Teammate deal" not in html
    assert selected_owner(html) == "me"
    # the switch: my team, everything I may see — kept in the URL (and the moves' way back)
    html = client.get(BOARD, {"owner": "team"}).content.decode()
    assert "Teammate deal" in html
    assert "Olivia renewal" in html
    assert selected_owner(html) == "team"
    assert 'name="next" value="/deals/board/?owner=team"' in html
    html = client.get(BOARD, {"owner": "all"}).content.decode()
    assert "Teammate deal" in html
    assert "Oscar renewal" not in html  # "all" is all the rep may see, never more
    assert selected_owner(html) == "all"
    # the default is not repeated in the URL
    html = client.get(BOARD, {"owner": "me"}).content.decode()
    assert 'name="next" value="/deals/board/"' in html


def test_a_manager_opens_the_board_on_every_deal_they_may_see(client_for: Any, world: Any,
                                                              mates: Opportunity) -> None:
    for name in ("manager", "admin"):
        html = client_for(world.personas[name]).get(BOARD).content.decode()
        assert "Olivia renewal" in html, name
        assert "Teammate deal" in html, name
        assert selected_owner(html) == "all", name
    html = client_for(world.personas.admin).get(BOARD).content.decode()
    assert "Oscar renewal" in html
    html = client_for(world.personas.manager).get(BOARD, {"owner": "me"}).content.decode()
    assert "Olivia renewal" not in html  # the manager owns no deal


def test_my_team_is_my_teams_members_and_the_people_below_me(client_for: Any, world: Any,
                                                            mates: Opportunity) -> None:
    # lead_rep leads team North (owner, teammate) and manages the owner
    html = client_for(world.personas.lead_rep).get(BOARD, {"owner": "team"}).content.decode()
    assert "Olivia renewal" in html
    assert "Teammate deal" in html
    assert "Oscar renewal" not in html
    html = client_for(world.personas.outsider).get(BOARD, {"owner": "team"}).content.decode()
    assert "Oscar renewal" in html
    assert "Olivia renewal" not in html


def test_each_card_shows_its_next_activity(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    deal = world.mine.opportunity  # has a planned call, due in 30 days (the world's)
    planned = Activity.objects.get(pk=world.mine.activity.pk)
    html = client_for(owner).get(BOARD).content.decode()
    facts = card(html, deal.name)
    assert "Call · <time datetime=" in facts
    assert short(planned.due_at) in facts
    assert "Overdue" not in facts
    # an earlier open task, already late, comes first and says it is late (in words)
    late = factories.activity(by=owner, opportunity=deal, account=world.mine.account,
                              kind="task", subject="Send the price list", due_at=ago(2))
    factories.activity(by=owner, opportunity=deal, account=world.mine.account, kind="call",
                       subject="Done long ago", done=True, due_at=ago(5))
    html = client_for(owner).get(BOARD).content.decode()
    facts = card(html, deal.name)
    assert "Task · <time" in facts
    assert short(late.due_at) in facts
    assert "Overdue" in facts
    assert 'class="deal-next is-overdue"' in facts
    assert 'title="Send the price list"' in facts
    french = card(client_for(owner, language="fr").get(BOARD).content.decode(), deal.name)
    assert short(late.due_at, "fr") in french  # "5 décembre", not "5 Dec"
    # a deal with nothing planned says so
    factories.opportunity(by=owner, account=world.mine.account, name="Quiet deal")
    html = client_for(owner).get(BOARD).content.decode()
    assert "No activity planned" in card(html, "Quiet deal")


def test_the_cards_cost_no_query_of_their_own(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    client = client_for(owner)
    client.get(BOARD)  # warm the session and caches

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(BOARD).status_code == 200
        return len(queries.captured_queries)

    before = count()
    for n in range(12):
        deal = factories.opportunity(by=owner, account=world.mine.account, name=f"Deal {n}",
                                     stage=stage("Proposal" if n % 2 else "Qualification"))
        factories.activity(by=owner, opportunity=deal, account=world.mine.account,
                           due_at=timezone.now() + dt.timedelta(days=n + 1))
        factories.activity(by=owner, opportunity=deal, account=world.mine.account, done=True)
    html = client.get(BOARD).content.decode()
    assert html.count('class="deal-next"') >= 12
    assert count() == before


def test_idle_deals_are_flagged_in_words_and_can_be_shown_alone(client_for: Any,
                                                                world: Any) -> None:
    owner = world.personas.owner
    sleepy = factories.opportunity(by=owner, account=world.mine.account, name="Sleepy deal")
    Opportunity.objects.filter(pk=sleepy.pk).update(created_at=ago(40))
    old = factories.activity(by=owner, opportunity=sleepy, account=world.mine.account,
                             done=True, subject="Last call")
    Activity.objects.filter(pk=old.pk).update(created_at=ago(30), done_at=ago(23))
    busy = factories.opportunity(by=owner, account=world.mine.account, name="Busy deal")
    Opportunity.objects.filter(pk=busy.pk).update(created_at=ago(40))
    recent = factories.activity(by=owner, opportunity=busy, account=world.mine.account,
                                done=True)
    Activity.objects.filter(pk=recent.pk).update(done_at=ago(3))
    new = factories.opportunity(by=owner, account=world.mine.account, name="Fresh deal")
    client = client_for(owner)
    html = client.get(BOARD).content.decode()
    assert "Idle for 23 days" in card(html, "Sleepy deal")
    assert "Idle for" not in card(html, "Busy deal")
    assert "Idle for" not in card(html, "Fresh deal")  # just created: not idle yet
    # "idle only", kept in the URL
    html = client.get(BOARD, {"idle": "1"}).content.decode()
    assert "Sleepy deal" in html
    assert "Busy deal" not in html
    assert "Fresh deal" not in html
    assert 'name="next" value="/deals/board/?idle=1"' in html
    assert re.search(r'<input type="checkbox" name="idle" value="1" id="board-idle" checked', html)
    # N is the pipeline's: longer, and the deal is not idle yet; 0 turns the flag off
    Pipeline.objects.filter(pk=sleepy.pipeline_id).update(idle_days=30)
    html = client.get(BOARD).content.decode()
    assert "Idle for" not in card(html, "Sleepy deal")
    Pipeline.objects.filter(pk=sleepy.pipeline_id).update(idle_days=0)
    assert "Idle for" not in client.get(BOARD).content.decode()
    assert "Sleepy deal" not in client.get(BOARD, {"idle": "1"}).content.decode()
    assert new.pk


def test_the_idle_threshold_defaults_to_two_weeks(db: None) -> None:
    assert factories.pipeline(name="Fresh").idle_days == 14

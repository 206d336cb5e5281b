"""The pipeline board and its moves, through the Django test client."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from comptoir.access import policy
from comptoir.core.models import AuditEntry, ObjectType
from comptoir.crm.models import Opportunity, Stage
from comptoir.testing import factories
from comptoir.web.templatetags.web import money
from comptoir.web.views.board import CARD_LIMIT

BOARD = "/deals/board/"
HX = {"HTTP_HX_REQUEST": "true"}


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def column(html: str, stage_id: int) -> str:
    found = re.search(rf'<section id="stage-{stage_id}"[^>]*>(.*?)</section>', html, re.S)
    assert found, f"no column for stage {stage_id}"
    return found.group(1)


def figure(col: str, name: str) -> str:
    found = re.search(rf"<dd data-{name}[^>]*>(.*?)</dd>", col, re.S)
    assert found, name
    return found.group(1).strip()


def expected(user: Any, stage_obj: Stage) -> tuple[int, str, str]:
    """Count, total and weighted total of a column, from the data and the policy."""
    deals = list(policy.restrict(Opportunity.objects.filter(stage=stage_obj, status="open"),
                                 user))
    total = sum((d.amount for d in deals), Decimal(0))
    weighted = sum((d.amount * d.probability for d in deals), Decimal(0)) / 100
    with translation.override("en"):
        return len(deals), money(total), money(weighted.quantize(Decimal("0.01")))


@pytest.fixture
def deals(world: Any) -> dict[str, Opportunity]:
    """A few more deals of the owner (one in Proposal with its own probability)."""
    owner = world.personas.owner
    acc = world.mine.account
    return {
        "big": factories.opportunity(by=owner, account=acc, name="Big roll-out",
                                     amount=Decimal("45000.50"), stage=stage("Proposal")),
        "odd": factories.opportunity(by=owner, account=acc, name="Odd probability",
                                     amount=Decimal("1234.56"), stage=stage("Proposal"),
                                     probability=33),
        "small": factories.opportunity(by=owner, account=world.mine.private_account,
                                       name="Small add-on", amount=Decimal("999.99")),
    }


def test_board_columns_show_count_total_and_weighted_total(client_for: Any, world: Any,
                                                           deals: Any) -> None:
    owner = world.personas.owner
    response = client_for(owner).get(BOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("Qualification", "Proposal"):
        st = stage(name)
        count, total, weighted = expected(owner, st)
        col = column(html, st.pk)
        assert figure(col, "count") == str(count)
        assert figure(col, "total") == total
        assert figure(col, "weighted") == weighted
    proposal = column(html, stage("Proposal").pk)
    assert "Big roll-out" in proposal
    assert "Odd probability" in proposal
    # 45000.50 × 50 % + 1234.56 × 33 % = 22500.25 + 407.40
    assert figure(proposal, "weighted") == "€22,907.65"
    assert "Olivia renewal" in column(html, stage("Qualification").pk)
    assert "Oscar renewal" not in html  # the outsider's deal
    assert f'id="stage-{stage("Won").pk}"' in html
    assert "Drop here to mark as won" in html


def test_outsider_sees_only_their_deals(client_for: Any, world: Any, deals: Any) -> None:
    html = client_for(world.personas.outsider).get(BOARD).content.decode()
    assert "Oscar renewal" in html
    assert "Olivia renewal" not in html
    assert "Big roll-out" not in html


def test_owner_and_team_filters(client_for: Any, world: Any, deals: Any) -> None:
    p = world.personas
    mate_deal = factories.opportunity(by=p.teammate, account=world.mine.account,
                                      name="Teammate deal", amount=Decimal("500"))
    client = client_for(p.admin)
    html = client.get(BOARD, {"owner": p.owner.pk}).content.decode()
    assert "Big roll-out" in html
    assert "Teammate deal" not in html
    assert "Oscar renewal" not in html
    col = column(html, stage("Qualification").pk)
    assert figure(col, "count") == "2"  # Olivia renewal + Small add-on
    html = client.get(BOARD, {"owner": p.teammate.pk}).content.decode()
    assert "Teammate deal" in html
    assert "Big roll-out" not in html
    html = client.get(BOARD, {"team": p.south.pk}).content.decode()
    assert "Oscar renewal" in html
    assert "Teammate deal" not in html
    # a rep's owner choices are the people they may see, not the whole company
    html = client_for(p.owner).get(BOARD).content.decode()
    owners = re.search(r'<select id="board-owner".*?</select>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "Olivia" in owners
    assert "Oscar" not in owners
    assert mate_deal.pk


def test_filter_change_returns_the_board_partial(client_for: Any, world: Any,
                                                 deals: Any) -> None:
    response = client_for(world.personas.owner).get(
        BOARD, {"owner": "me"}, **HX, HTTP_HX_TARGET="board")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="board"')
    assert "<html" not in html
    assert 'id="board-summary" hx-swap-oob' in html


def test_move_goes_through_the_service_and_returns_new_totals(client_for: Any, world: Any,
                                                               deals: Any) -> None:
    owner = world.personas.owner
    deal = world.mine.opportunity  # 12 000 in Qualification
    qualification, proposal = stage("Qualification"), stage("Proposal")
    response = client_for(owner).post(f"/deals/{deal.pk}/move/", {"stage": proposal.pk}, **HX)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage_id == proposal.pk
    assert deal.probability == 50
    audit = AuditEntry.objects.filter(object_type=ObjectType.OPPORTUNITY, object_id=deal.pk,
                                      action="update").latest("id")
    assert audit.changes["stage_id"] == [qualification.pk, proposal.pk]
    assert audit.user_id == owner.pk
    html = response.content.decode()
    for st in (qualification, proposal):
        count, total, weighted = expected(owner, st)
        col = column(html, st.pk)
        assert 'hx-swap-oob="true"' in html
        assert figure(col, "count") == str(count)
        assert figure(col, "total") == total
        assert figure(col, "weighted") == weighted
    assert "Olivia renewal" in column(html, proposal.pk)
    assert "Olivia renewal” moved to Proposal" in html
    assert f'id="stage-{stage("Won").pk}"' not in html  # only the two columns


def test_move_to_won_closes_the_deal(client_for: Any, world: Any) -> None:
    deal = world.mine.opportunity
    won = stage("Won")
    response = client_for(world.personas.owner).post(f"/deals/{deal.pk}/move/",
                                                     {"stage": won.pk}, **HX)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.status == "won"
    assert deal.probability == 100
    assert deal.closed_at is not None
    col = column(response.content.decode(), won.pk)
    assert figure(col, "count") == "1"
    assert figure(col, "total") == "€12,000.00"


def test_moves_the_user_may_not_make_are_refused(client_for: Any, world: Any) -> None:
    deal = world.mine.opportunity
    before = (deal.stage_id, deal.probability)
    proposal = stage("Proposal")
    outsider = client_for(world.personas.outsider)
    assert outsider.post(f"/deals/{deal.pk}/move/", {"stage": proposal.pk}).status_code == 404
    response = outsider.post(f"/deals/{deal.pk}/move/", {"stage": proposal.pk}, **HX)
    assert response.status_code == 404
    assert "does not exist or you may not see it" in response.content.decode()
    other = factories.pipeline(name="Partners", is_default=False)
    foreign = other.stages.first()
    response = client_for(world.personas.owner).post(f"/deals/{deal.pk}/move/",
                                                     {"stage": foreign.pk}, **HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "was not moved" in html
    assert "another pipeline" in html
    assert "Olivia renewal" in column(html, deal.stage_id)  # drawn back where it is
    deal.refresh_from_db()
    assert (deal.stage_id, deal.probability) == before


def test_move_without_javascript_redirects_back_with_a_message(client_for: Any,
                                                               world: Any) -> None:
    deal = world.mine.opportunity
    proposal = stage("Proposal")
    client = client_for(world.personas.owner)
    response = client.post(f"/deals/{deal.pk}/move/",
                           {"stage": proposal.pk, "next": "/deals/board/?owner=me"})
    assert response.status_code == 302
    assert response["Location"] == "/deals/board/?owner=me"
    page = client.get(response["Location"]).content.decode()
    assert "moved to Proposal" in page
    evil = client.post(f"/deals/{deal.pk}/move/", {"stage": proposal.pk,
                                                   "next": "https://evil.example/"})
    assert evil["Location"] == "/deals/board/"


def test_columns_are_bounded_and_link_to_the_filtered_list(
        client_for: Any, world: Any, django_assert_max_num_queries: Any) -> None:
    owner = world.personas.owner
    qualification = stage("Qualification")
    Opportunity.objects.bulk_create([
        Opportunity(name=f"Bulk {n}", account=world.mine.account, pipeline=qualification.pipeline,
                    stage=qualification, amount=Decimal(100), probability=10, owner=owner)
        for n in range(CARD_LIMIT + 15)])
    client = client_for(owner)
    client.get(BOARD)  # warm the session and caches
    with django_assert_max_num_queries(14):
        html = client.get(BOARD, {"owner": owner.pk}).content.decode()
    col = column(html, qualification.pk)
    assert col.count('class="deal-card"') == CARD_LIMIT
    assert figure(col, "count") == str(CARD_LIMIT + 16)
    assert "16 more deals" in col
    assert f"/deals/list/?stage={qualification.pk}&amp;status=open&amp;owner={owner.pk}" in col


def test_no_pipeline_shows_an_empty_state(client_for: Any, owner: Any) -> None:
    html = client_for(owner).get(BOARD).content.decode()
    assert "No pipeline is configured yet" in html


def test_pipeline_picker_when_there_are_several(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    partners = factories.pipeline(name="Partners", is_default=False,
                                  stages=[("Intro", 20, False, False),
                                          ("Signed", 100, True, False)])
    intro = partners.stages.get(name="Intro")
    factories.opportunity(by=owner, account=world.mine.account, name="Partner deal",
                          pipeline=partners, stage=intro, amount=Decimal("700"))
    client = client_for(owner)
    html = client.get(BOARD).content.decode()
    assert '<select id="board-pipeline" name="pipeline">' in html
    assert "Partner deal" not in html  # the default pipeline comes first
    html = client.get(BOARD, {"pipeline": partners.pk}).content.decode()
    assert "Partner deal" in html
    assert "Olivia renewal" not in html
    assert figure(column(html, intro.pk), "weighted") == "€140.00"

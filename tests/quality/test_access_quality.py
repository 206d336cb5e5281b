"""Data quality's read paths, persona by persona, through the real API.

The same world as ``tests/test_access_matrix.py`` (the owner's account in territory Rhône, a
private account outside any territory, the outsider in Provence); the tables restate by hand
what each persona may reach. A record one may not see answers 404 and is never listed, not even
as a duplicate candidate, a pair of the review queue or a promotion request.
"""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.quality import dedupe
from comptoir.quality.models import DuplicatePair, PromotionRequest
from comptoir.testing.personas import PERSONAS

Y, N = True, False


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


#                      owner teammate manager outsider admin data_mgr marketing service
GAPS: tuple[int, ...] = (200, 200, 200, 404, 200, 200, 200, 200)
ENRICHMENT: tuple[int, ...] = (200, 200, 200, 404, 200, 200, 200, 200)  # what SIRENE says
ENRICH: tuple[int, ...] = (200, 200, 200, 404, 200, 200, 403, 403)  # applying it: a change
# promotion requests follow the policy: with their account through the scope (as its quotes),
# not through the marketing and service read extensions; asking needs to change the account
ASK_PROMOTION: tuple[int, ...] = (201, 201, 201, 404, 201, 201, 403, 403)
SEES_REQUEST: tuple[bool, ...] = (Y, Y, Y, N, Y, Y, N, N)
SEES_CANDIDATE: tuple[bool, ...] = (Y, Y, Y, N, Y, Y, Y, Y)
# a pair of the owner's account and their private one: both must be visible
SEES_PAIR: tuple[bool, ...] = (Y, N, Y, N, Y, Y, Y, Y)


def rows(table: tuple[Any, ...]) -> list[Any]:
    return [pytest.param(p, table[i], id=f"{p}-{table[i]}") for i, p in enumerate(PERSONAS)]


def account(world: Any) -> Any:
    return world.mine.account


@pytest.mark.parametrize(("persona", "status"), rows(GAPS))
def test_profile_gaps(world: Any, api: Any, persona: str, status: int) -> None:
    api(world.personas[persona]).get(
        f"/quality/gaps/account/{account(world).pk}").expect(status)


@pytest.mark.parametrize(("persona", "status"), rows(ENRICHMENT))
def test_sirene_enrichment_proposal(world: Any, api: Any, persona: str, status: int) -> None:
    api(world.personas[persona]).get(f"/accounts/{account(world).pk}/enrichment").expect(status)


@pytest.mark.parametrize(("persona", "status"), rows(ENRICH))
def test_sirene_enrichment_applied(world: Any, api: Any, persona: str, status: int) -> None:
    api(world.personas[persona]).post(f"/accounts/{account(world).pk}/enrich",
                                      {}).expect(status)


@pytest.mark.parametrize(("persona", "status"), rows(ASK_PROMOTION))
def test_asking_for_a_promotion(world: Any, api: Any, persona: str, status: int) -> None:
    target = account(world)
    target.status = "prospect"
    target.save(update_fields=["status"])
    api(world.personas[persona]).post(f"/accounts/{target.pk}/promotion-request",
                                      {}).expect(status)
    assert PromotionRequest.objects.filter(account=target).exists() == (status == 201)


@pytest.mark.parametrize(("persona", "sees"), rows(SEES_REQUEST))
def test_promotion_requests_listed(world: Any, api: Any, persona: str, sees: bool) -> None:
    request = PromotionRequest.objects.create(account=account(world), trigger="manual")
    client = api(world.personas[persona])
    ids = [r["id"] for r in client.get("/promotions", params={"status": "pending"}).expect(
        200)["items"]]
    assert (request.pk in ids) == sees
    client.get(f"/promotions/{request.pk}").expect(200 if sees else 404)


@pytest.mark.parametrize(("persona", "sees"), rows(SEES_CANDIDATE))
def test_duplicate_candidates(world: Any, api: Any, persona: str, sees: bool) -> None:
    mine = account(world)
    data = {"legal_name": mine.legal_name, "siren": mine.siren, "email": mine.email,
            "phone": mine.phone, "billing_postcode": mine.billing_postcode}
    found = api(world.personas[persona]).post("/duplicates/check", {
        "object": "account", "data": data}).expect(200)["candidates"]
    assert (mine.pk in [c["id"] for c in found]) == sees


@pytest.mark.parametrize(("persona", "sees"), rows(SEES_PAIR))
def test_review_queue(world: Any, api: Any, persona: str, sees: bool) -> None:
    a, b = sorted([account(world).pk, world.mine.private_account.pk])
    pair = DuplicatePair.objects.create(object_type="account", left_id=a, right_id=b, score=90)
    client = api(world.personas[persona])
    listed = [p["id"] for p in client.get("/duplicates/pairs",
                                          params={"object": "account"}).expect(200)["items"]]
    assert (pair.pk in listed) == sees
    client.get(f"/duplicates/pairs/{pair.pk}").expect(200 if sees else 404)


def test_the_matrix_covers_every_persona() -> None:
    for table in (GAPS, ENRICHMENT, ENRICH, ASK_PROMOTION, SEES_REQUEST, SEES_CANDIDATE, SEES_PAIR):
        assert len(table) == len(PERSONAS)
    assert dedupe.match_config("account").review > 0

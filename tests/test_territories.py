"""Territory assignment: on account creation, and on demand (``accounts_assign_territories``).

The shared world already has Rhône (postcodes 69…, priority 10, team North) and Provence
(13…, priority 20, team South); the tests add their own territories next to them.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from comptoir.access.models import Territory
from comptoir.access.models import TerritoryRule as Rule
from comptoir.access.territories import match_territory
from comptoir.core.errors import Forbidden
from comptoir.core.models import AuditEntry, OutboxEvent
from comptoir.crm.models import Account
from comptoir.crm.services import account_create, accounts_assign_territories
from comptoir.testing import factories

POSTCODE, COUNTRY, NAF, BAND = (Rule.Kind.POSTCODE_PREFIX, Rule.Kind.COUNTRY, Rule.Kind.NAF_PREFIX,
                                Rule.Kind.HEADCOUNT_BAND)


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


@pytest.fixture
def territories(world: Any) -> dict[str, Territory]:
    t = factories.territory
    return {
        "Paris": t(name="Paris", priority=50, rules=[(POSTCODE, "75")]),
        "Belgium": t(name="Belgium", priority=50, rules=[(COUNTRY, "BE")]),
        "IT services": t(name="IT services", priority=60, rules=[(NAF, "62")]),
        "Mid-size": t(name="Mid-size", priority=70, rules=[(BAND, "21"), (BAND, "22")]),
        "Hauts-de-Seine consulting": t(name="Hauts-de-Seine consulting", priority=40,
                                       rules=[(POSTCODE, "92"), (NAF, "70")]),
        "Switzerland or Luxembourg": t(name="Switzerland or Luxembourg", priority=50,
                                       rules=[(COUNTRY, "CH"), (COUNTRY, "LU")]),
    }


@pytest.mark.usefixtures("territories")
@pytest.mark.parametrize(("data", "expected"), [
    ({"billing_postcode": "75011"}, "Paris"),
    ({"billing_postcode": "69003"}, "Rhône"),
    ({"billing_postcode": "13008"}, "Provence"),
    ({"billing_postcode": "33000"}, None),
    ({"billing_postcode": "1000", "billing_country": "be"}, "Belgium"),
    ({"billing_postcode": "1000", "billing_country": "LU"}, "Switzerland or Luxembourg"),
    ({"naf_code": "6202A"}, "IT services"),
    ({"naf_code": "62.01Z", "billing_postcode": "33000"}, "IT services"),
    ({"headcount_band": "22"}, "Mid-size"),
    ({"headcount_band": "11"}, None),
    # every kind of a territory must match: postcode 92 *and* NAF 70
    ({"billing_postcode": "92100", "naf_code": "70.22Z"}, "Hauts-de-Seine consulting"),
    ({"billing_postcode": "92100"}, None),
    ({"billing_postcode": "92100", "naf_code": "62.01Z"}, "IT services"),
    # priority: Paris (50) before IT services (60)
    ({"billing_postcode": "75002", "naf_code": "62.01Z"}, "Paris"),
    # the postcode prefix is a prefix, not a substring
    ({"billing_postcode": "17500"}, None),
], ids=lambda v: str(v) if isinstance(v, str) or v is None else "-".join(map(str, v.values())))
def test_territory_assigned_on_create(world: Any, data: dict[str, Any],
                                     expected: str | None) -> None:
    account = account_create(user=world.personas.owner, data={"legal_name": "T", **data})
    assert (account.territory.name if account.territory else None) == expected


def test_priority_decides_between_matching_territories(world: Any) -> None:
    early = factories.territory(name="Lyon centre", priority=5, rules=[(POSTCODE, "6900")])
    account = factories.account(by=world.personas.owner, billing_postcode="69001")
    assert account.territory == early
    other = factories.account(by=world.personas.owner, billing_postcode="69100")
    assert other.territory == world.personas.rhone
    # equal priorities: the territory created first wins
    first = factories.territory(name="Tie A", priority=3, rules=[(POSTCODE, "38")])
    factories.territory(name="Tie B", priority=3, rules=[(POSTCODE, "38")])
    assert factories.account(by=world.personas.owner, billing_postcode="38000").territory \
        == first


def test_inactive_and_empty_territories_never_match(world: Any) -> None:
    factories.territory(name="Dormant", priority=1, rules=[(POSTCODE, "69")], active=False)
    factories.territory(name="No rules", priority=0)
    account = factories.account(by=world.personas.owner, billing_postcode="69001")
    assert account.territory == world.personas.rhone


def test_explicit_territory_is_kept(world: Any) -> None:
    account = factories.account(by=world.personas.admin, billing_postcode="69001",
                                territory=world.personas.provence)
    assert account.territory == world.personas.provence


def test_territory_default_owner_for_accounts_created_by_data_managers(world: Any) -> None:
    p = world.personas
    factories.territory(name="Alps", priority=5, rules=[(POSTCODE, "74")],
                        default_owner=p.teammate)
    imported = factories.account(by=p.data_manager, billing_postcode="74000")
    assert imported.owner == p.teammate
    # a rep creating it keeps it
    assert factories.account(by=p.owner, billing_postcode="74000").owner == p.owner
    # an explicit owner wins
    assert factories.account(by=p.data_manager, billing_postcode="74000",
                             owner=p.outsider).owner == p.outsider


def test_the_territory_team_sees_accounts_created_in_it(world: Any, api: Any) -> None:
    p = world.personas
    account = factories.account(by=p.data_manager, legal_name="Imported", owner=p.manager,
                                billing_postcode="69500")
    assert account.territory == p.rhone
    assert account.pk in api(p.teammate).ids("accounts")
    assert account.pk not in api(p.outsider).ids("accounts")


# --- On demand ------------------------------------------------------------------------------

def moves(account_ids: list[int]) -> list[tuple[int, list[Any]]]:
    return sorted((e.object_id, e.changes["territory_id"]) for e in AuditEntry.objects.filter(
        object_type="account", action="update", source="territory-rules",
        object_id__in=account_ids))


def test_reassignment_moves_accounts_and_audits_each_move(world: Any) -> None:
    p = world.personas
    owner = p.owner
    paris = [factories.account(by=owner, legal_name=f"Paris {n}", billing_postcode=f"7501{n}")
             for n in range(3)]
    lyon = factories.account(by=owner, legal_name="Lyon", billing_postcode="69001")
    assert all(a.territory is None for a in paris)
    paris_territory = factories.territory(name="Paris", priority=50, rules=[(POSTCODE, "75")])
    lyon_centre = factories.territory(name="Lyon centre", priority=5,
                                      rules=[(POSTCODE, "69001")])
    events_before = OutboxEvent.objects.filter(topic="account.updated").count()

    moved = accounts_assign_territories(user=p.data_manager)

    assert moved["Paris"] == 3
    assert moved["Lyon centre"] == 1
    assert moved["Rhône"] == 0  # already there: not counted, not audited
    for account in paris:
        account.refresh_from_db()
        assert account.territory == paris_territory
    lyon.refresh_from_db()
    assert lyon.territory == lyon_centre
    ids = [a.pk for a in [*paris, lyon, world.mine.account]]
    assert moves(ids) == sorted([(a.pk, [None, paris_territory.pk]) for a in paris]
                                + [(lyon.pk, [p.rhone.pk, lyon_centre.pk])])
    assert AuditEntry.objects.filter(source="territory-rules", user=p.data_manager).count() == 4
    assert OutboxEvent.objects.filter(topic="account.updated").count() == events_before + 4
    # running it again moves nothing
    assert set(accounts_assign_territories(user=p.data_manager).values()) == {0}
    assert len(moves(ids)) == 4


def test_reassignment_unassigns_accounts_of_a_deactivated_territory(world: Any) -> None:
    p = world.personas
    Territory.objects.filter(pk=p.provence.pk).update(active=False)
    moved = accounts_assign_territories(user=p.admin)
    assert moved["(none)"] == 1
    world.theirs.account.refresh_from_db()
    assert world.theirs.account.territory is None


def test_reassignment_of_unassigned_accounts_only(world: Any) -> None:
    p = world.personas
    factories.territory(name="Everything 69 and 33", priority=1,
                        rules=[(POSTCODE, "69"), (POSTCODE, "33")])
    moved = accounts_assign_territories(user=p.data_manager, only_unassigned=True)
    assert moved["Everything 69 and 33"] == 2  # the two private accounts (33000)
    world.mine.account.refresh_from_db()
    assert world.mine.account.territory == p.rhone  # assigned already: untouched


@pytest.mark.parametrize("persona", ["owner", "manager", "marketing", "service"])
def test_only_data_managers_and_admins_reassign(world: Any, persona: str) -> None:
    with pytest.raises(Forbidden):
        accounts_assign_territories(user=world.personas[persona])


def test_reassignment_through_the_api_and_the_cli(world: Any, api: Any) -> None:
    p = world.personas
    factories.territory(name="Gironde", priority=50, rules=[(POSTCODE, "33")])
    api(p.owner).post("accounts/assign-territories").error(403)
    body = api(p.data_manager).post("accounts/assign-territories",
                                    params={"only_unassigned": "true"}).expect(200)
    assert body["moved"]["Gironde"] == 2
    out = StringIO()
    call_command("assignterritories", "--as", "admin", stdout=out)
    assert "Gironde: 0 account(s) moved" in out.getvalue()


def test_visibility_follows_the_reassignment(world: Any, api: Any) -> None:
    """Giving team South the 33 postcodes lets the outsider see accounts lying there."""
    p = world.personas
    gironde = factories.territory(name="Gironde", priority=50, rules=[(POSTCODE, "33")],
                                  teams=[p.south])
    private = world.mine.private_account
    outsider = api(p.outsider)
    outsider.get(f"accounts/{private.pk}").error(404)
    accounts_assign_territories(user=p.data_manager)
    private.refresh_from_db()
    assert private.territory == gironde
    assert outsider.get(f"accounts/{private.pk}").expect(200)["territory_id"] == gironde.pk
    outsider.delete(f"accounts/{private.pk}").error(403)  # seeing is not owning


def test_reassignment_agrees_with_assignment_on_create(world: Any) -> None:
    """The set-based rules (``rules_q``) and the per-account rules (``matches``) must give
    every account the same territory, whatever the case or spacing of the rule values."""
    t = factories.territory
    t(name="Belgium", priority=50, rules=[(COUNTRY, "be")])
    t(name="London", priority=50, rules=[(POSTCODE, "sw1")])
    t(name="Consulting", priority=60, rules=[(NAF, " 70 ")])
    t(name="Big", priority=70, rules=[(BAND, "nn")])
    t(name="Nowhere", priority=1, rules=[(POSTCODE, "")])
    owner = world.personas.owner
    samples = [
        {"billing_country": "BE", "billing_postcode": "1000"},
        {"billing_country": "GB", "billing_postcode": "SW1A 1AA"},
        {"billing_country": "GB", "billing_postcode": "sw1a 2aa"},
        {"naf_code": "70.22Z"},
        {"headcount_band": "NN"},
        {"billing_postcode": "69001"},
        {"billing_postcode": "44000"},
    ]
    created = [account_create(user=owner, data={"legal_name": f"S{n}", **data})
               for n, data in enumerate(samples)]
    on_create = {a.pk: a.territory_id for a in created}
    accounts_assign_territories(user=world.personas.data_manager)
    for account in Account.objects.filter(pk__in=on_create):
        expected = match_territory({f: getattr(account, f) for f in (
            "billing_postcode", "billing_country", "naf_code", "headcount_band")})
        assert account.territory_id == (expected.pk if expected else None), account.legal_name
        assert account.territory_id == on_create[account.pk], account.legal_name

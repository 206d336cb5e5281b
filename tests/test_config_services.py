"""Administration services: users, teams, territories, pipelines and stages, custom fields."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.access import policy
from comptoir.access.admin_services import (
    clean_rule_value,
    password_set_link_parts,
    team_create,
    team_delete,
    territory_create,
    territory_rule_add,
    user_create,
    user_set_active,
    user_update,
)
from comptoir.access.models import Role, TerritoryRule, User
from comptoir.core.config_services import (
    custom_field_create,
    custom_field_update,
    option_usage,
    picklist_option_add,
    picklist_option_move,
    picklist_option_remove,
    picklist_option_rename,
)
from comptoir.core.errors import Conflict, Forbidden, ValidationFailed
from comptoir.core.models import AuditEntry, CustomField, OutboxEvent
from comptoir.core.services import custom_field_definitions
from comptoir.crm.models import Account, Opportunity, Pipeline, Stage
from comptoir.crm.pipeline_services import (
    pipeline_create,
    pipeline_delete,
    pipeline_set_default,
    stage_create,
    stage_delete,
    stage_move,
    stage_update,
)
from comptoir.crm.services import account_create, accounts_assign_territories
from comptoir.testing import factories


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


# --- Who may -------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["owner", "manager", "data_manager", "marketing"])
def test_only_administrators_configure(world: Any, persona: str) -> None:
    user = world.personas[persona]
    with pytest.raises(Forbidden):
        user_create(user=user, data={"username": "x"})
    with pytest.raises(Forbidden):
        team_create(user=user, data={"name": "X"})
    with pytest.raises(Forbidden):
        pipeline_create(user=user, name="X")
    with pytest.raises(Forbidden):
        custom_field_create(user=user, data={"object_type": "account", "name": "x",
                                             "label": "X"})


def test_superuser_configures(world: Any) -> None:
    boss = factories.user(username="boss", role=Role.REP, is_superuser=True)
    assert pipeline_create(user=boss, name="Partners").pk


# --- Users ---------------------------------------------------------------------------------

def test_user_create_with_password_and_teams(world: Any) -> None:
    p = world.personas
    new = user_create(user=p.admin, data={
        "username": " newbie ", "first_name": "Nina", "last_name": "Neu",
        "email": "nina@EXAMPLE.com", "role": Role.REP, "manager_id": p.lead_rep.pk,
        "language": "en"}, password="a long enough passphrase", team_ids=[p.north.pk])
    assert new.username == "newbie"
    assert new.email == "nina@example.com"
    assert new.check_password("a long enough passphrase")
    assert list(new.teams.all()) == [p.north]


def test_user_create_refuses_weak_password_and_taken_username(world: Any) -> None:
    p = world.personas
    with pytest.raises(ValidationFailed) as exc:
        user_create(user=p.admin, data={"username": "newbie"}, password="123")
    assert "password" in exc.value.fields
    with pytest.raises(Conflict) as exc2:
        user_create(user=p.admin, data={"username": "OWNER"})
    assert "username" in exc2.value.fields


def test_user_without_password_gets_a_link(world: Any) -> None:
    p = world.personas
    new = user_create(user=p.admin, data={"username": "linked"})
    assert not new.has_usable_password()
    uid, token = password_set_link_parts(user=p.admin, target=new)
    assert uid
    assert token


def test_manager_loop_refused(world: Any) -> None:
    p = world.personas
    with pytest.raises(ValidationFailed) as exc:
        user_update(user=p.admin, target=p.manager, data={"manager_id": p.owner.pk})
    assert "manager_id" in exc.value.fields
    with pytest.raises(ValidationFailed):
        user_update(user=p.admin, target=p.owner, data={"manager_id": p.owner.pk})


def test_new_manager_sees_the_users_records(world: Any) -> None:
    p = world.personas
    account = world.theirs.account  # the outsider's
    assert not policy.restrict(Account.objects.filter(pk=account.pk), p.manager).exists()
    user_update(user=p.admin, target=p.outsider, data={"manager_id": p.manager.pk})
    manager = User.objects.get(pk=p.manager.pk)  # a new request loads a fresh user
    assert policy.restrict(Account.objects.filter(pk=account.pk), manager).exists()


def test_update_forgets_the_cached_scope(world: Any) -> None:
    p = world.personas
    policy.scope_of(p.outsider)
    user_update(user=p.admin, target=p.outsider, data={"first_name": "Oscar"})
    assert not hasattr(p.outsider, "_comptoir_scope")


def test_admin_cannot_lock_everyone_out(world: Any) -> None:
    p = world.personas
    with pytest.raises(ValidationFailed):
        user_set_active(user=p.admin, target=p.admin, active=False)
    with pytest.raises(ValidationFailed):
        user_update(user=p.admin, target=p.admin, data={"role": Role.REP})
    other = factories.user(username="admin2", role=Role.ADMIN)
    user_set_active(user=other, target=p.admin, active=False)
    assert not User.objects.get(pk=p.admin.pk).is_active


def test_deactivate_keeps_records(world: Any) -> None:
    p = world.personas
    user_set_active(user=p.admin, target=p.owner, active=False)
    assert Account.objects.filter(owner=p.owner).exists()
    assert not User.objects.get(pk=p.owner.pk).is_active
    user_set_active(user=p.admin, target=p.owner, active=True)
    assert User.objects.get(pk=p.owner.pk).is_active


# --- Teams and territories -----------------------------------------------------------------

def test_team_lifecycle_changes_visibility(world: Any) -> None:
    p = world.personas
    account = world.mine.account  # in Rhône, seen by team North
    team = team_create(user=p.admin, data={"name": " Lyon "}, member_ids=[p.outsider.pk])
    assert team.name == "Lyon"
    p.rhone.teams.add(team)
    assert policy.restrict(Account.objects.filter(pk=account.pk),
                           User.objects.get(pk=p.outsider.pk)).exists()
    team_delete(user=p.admin, team=team)
    assert not policy.restrict(Account.objects.filter(pk=account.pk),
                               User.objects.get(pk=p.outsider.pk)).exists()
    with pytest.raises(Conflict):
        team_create(user=p.admin, data={"name": "North"})


@pytest.mark.parametrize(("kind", "value", "expected"), [
    (TerritoryRule.Kind.POSTCODE_PREFIX, " 75 ", "75"),
    (TerritoryRule.Kind.COUNTRY, "be", "BE"),
    (TerritoryRule.Kind.NAF_PREFIX, "6201", "62.01"),
    (TerritoryRule.Kind.NAF_PREFIX, "62", "62"),
    (TerritoryRule.Kind.HEADCOUNT_BAND, "21", "21"),
])
def test_rule_values_are_normalised(kind: str, value: str, expected: str) -> None:
    assert clean_rule_value(kind, value) == expected


@pytest.mark.parametrize(("kind", "value"), [
    (TerritoryRule.Kind.COUNTRY, "France"),
    (TerritoryRule.Kind.POSTCODE_PREFIX, ""),
    (TerritoryRule.Kind.NAF_PREFIX, "xx"),
    (TerritoryRule.Kind.HEADCOUNT_BAND, "7"),
])
def test_bad_rule_values(world: Any, kind: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        territory_rule_add(user=world.personas.admin, territory=world.personas.rhone,
                           kind=kind, value=value)
    assert "value" in exc.value.fields


def test_new_territory_rule_and_reassignment(world: Any) -> None:
    p = world.personas
    account = account_create(user=p.owner, data={"legal_name": "Bordeaux Vins",
                                                 "billing_postcode": "33000"})
    assert account.territory_id is None
    gironde = territory_create(user=p.admin, data={"name": "Gironde", "priority": 5},
                               member_ids=[p.teammate.pk])
    territory_rule_add(user=p.admin, territory=gironde, kind="postcode_prefix", value="33")
    with pytest.raises(Conflict):
        territory_rule_add(user=p.admin, territory=gironde, kind="postcode_prefix", value="33")
    accounts_assign_territories(user=p.admin)
    account.refresh_from_db()
    assert account.territory_id == gironde.pk
    assert policy.restrict(Account.objects.filter(pk=account.pk),
                           User.objects.get(pk=p.teammate.pk)).exists()


# --- Pipelines and stages ------------------------------------------------------------------

def test_pipeline_default_is_unique(world: Any) -> None:
    p = world.personas
    sales = Pipeline.objects.get(is_default=True)
    partners = pipeline_create(user=p.admin, name="Partners")
    assert not partners.is_default
    pipeline_set_default(user=p.admin, pipeline=partners)
    assert list(Pipeline.objects.filter(is_default=True)) == [partners]
    pipeline_delete(user=p.admin, pipeline=partners)
    assert Pipeline.objects.get(pk=sales.pk).is_default
    with pytest.raises(Conflict):
        pipeline_delete(user=p.admin, pipeline=sales)  # holds deals
    with pytest.raises(Conflict):
        pipeline_create(user=p.admin, name="Sales")


def _names(pipeline: Pipeline) -> list[str]:
    return list(pipeline.stages.order_by("order").values_list("name", flat=True))


def test_stage_create_goes_before_closed_stages_and_moves(world: Any) -> None:
    p = world.personas
    sales = Pipeline.objects.get(is_default=True)
    stage = stage_create(user=p.admin, pipeline=sales,
                         data={"name": "Negotiation", "probability": 70})
    assert _names(sales) == ["Qualification", "Proposal", "Negotiation", "Won", "Lost"]
    stage_move(user=p.admin, stage=stage, offset=-1)
    assert _names(sales) == ["Qualification", "Negotiation", "Proposal", "Won", "Lost"]
    stage_move(user=p.admin, stage=stage, offset=-1)
    stage_move(user=p.admin, stage=stage, offset=-1)  # already first: stays
    assert _names(sales)[0] == "Negotiation"
    assert list(sales.stages.order_by("order").values_list("order", flat=True)) == \
        [10, 20, 30, 40, 50]


def test_stage_validation(world: Any) -> None:
    p = world.personas
    sales = Pipeline.objects.get(is_default=True)
    with pytest.raises(ValidationFailed) as exc:
        stage_create(user=p.admin, pipeline=sales,
                     data={"name": "Odd", "is_won": True, "is_lost": True})
    assert "is_lost" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        stage_create(user=p.admin, pipeline=sales, data={"name": "Odd", "probability": 120})
    assert "probability" in exc.value.fields
    with pytest.raises(Conflict):
        stage_create(user=p.admin, pipeline=sales, data={"name": "Proposal"})
    deal_stage = world.mine.opportunity.stage
    with pytest.raises(ValidationFailed) as exc:
        stage_update(user=p.admin, stage=deal_stage, data={"is_won": True})
    assert "is_won" in exc.value.fields
    stage_update(user=p.admin, stage=deal_stage, data={"name": "Discovery", "probability": 15})
    assert Stage.objects.get(pk=deal_stage.pk).name == "Discovery"


def test_stage_delete_moves_deals(world: Any) -> None:
    p = world.personas
    deal = world.mine.opportunity
    stage = deal.stage
    stage_pk = stage.pk
    won = Stage.objects.get(pipeline=stage.pipeline, is_won=True)
    with pytest.raises(ValidationFailed) as exc:
        stage_delete(user=p.admin, stage=stage)
    assert "move_to" in exc.value.fields
    assert stage_delete(user=p.admin, stage=stage, move_to=won) == 2  # mine and theirs
    deal = Opportunity.objects.get(pk=deal.pk)
    assert (deal.stage_id, deal.status, deal.probability) == (won.pk, "won", 100)
    assert deal.closed_at is not None
    entry = AuditEntry.objects.filter(object_type="opportunity", object_id=deal.pk).first()
    assert entry is not None
    assert entry.changes["stage_id"] == [stage_pk, won.pk]
    assert OutboxEvent.objects.filter(topic="opportunity.updated", object_id=deal.pk).exists()
    assert not Stage.objects.filter(pk=stage_pk).exists()


# --- Custom fields and picklists -----------------------------------------------------------

def test_custom_field_create_validates(world: Any) -> None:
    admin = world.personas.admin
    cases = [
        ({"object_type": "pricelist", "name": "x", "label": "X"}, "object_type"),
        ({"object_type": "account", "name": "Fleet Size", "label": "X"}, "name"),
        ({"object_type": "account", "name": "legal_name", "label": "X"}, "name"),
        ({"object_type": "account", "name": "fleet", "label": ""}, "label"),
        ({"object_type": "account", "name": "tier", "label": "Tier", "type": "choice"},
         "choices"),
        ({"object_type": "account", "name": "tier", "label": "Tier", "type": "choice",
          "choices": ["Gold", "gold"]}, "choices"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationFailed) as exc:
            custom_field_create(user=admin, data=data)
        assert field in exc.value.fields, data


def test_custom_field_lifecycle(world: Any) -> None:
    admin = world.personas.admin
    cf = custom_field_create(user=admin, data={"object_type": "account", "name": "fleet_size",
                                               "label": "Fleet size", "type": "number"})
    assert "fleet_size" in custom_field_definitions("account")
    with pytest.raises(Conflict):
        custom_field_create(user=admin, data={"object_type": "account", "name": "fleet_size",
                                              "label": "Again"})
    with pytest.raises(ValidationFailed) as exc:
        custom_field_update(user=admin, field=cf, data={"type": "text"})
    assert "type" in exc.value.fields
    custom_field_update(user=admin, field=cf, data={"label": "Vehicles", "active": False})
    assert "fleet_size" not in custom_field_definitions("account")


def test_picklist_options(world: Any) -> None:
    p = world.personas
    cf = custom_field_create(user=p.admin, data={
        "object_type": "account", "name": "tier", "label": "Tier", "type": "choice",
        "choices": ["Gold", "Silver", " Bronze "]})
    assert cf.choices == ["Gold", "Silver", "Bronze"]
    gold = account_create(user=p.owner, data={"legal_name": "Gold Co"}, custom={"tier": "Gold"})
    silver = account_create(user=p.owner, data={"legal_name": "Silver Co"},
                            custom={"tier": "Silver"})
    picklist_option_add(user=p.admin, field=cf, option="Platinum")
    with pytest.raises(Conflict):
        picklist_option_add(user=p.admin, field=cf, option="platinum")
    picklist_option_move(user=p.admin, field=cf, option="Platinum", offset=-1)
    assert cf.choices == ["Gold", "Silver", "Platinum", "Bronze"]
    assert option_usage(cf, "Gold") == 1
    assert picklist_option_rename(user=p.admin, field=cf, option="Gold", new="Or") == 1
    assert Account.objects.get(pk=gold.pk).custom == {"tier": "Or"}
    assert AuditEntry.objects.filter(object_type="account", object_id=gold.pk,
                                     source="settings").exists()
    with pytest.raises(ValidationFailed):
        picklist_option_remove(user=p.admin, field=cf, option="Silver", replacement="Nope")
    assert picklist_option_remove(user=p.admin, field=cf, option="Silver",
                                  replacement="Bronze") == 1
    assert Account.objects.get(pk=silver.pk).custom == {"tier": "Bronze"}
    assert picklist_option_remove(user=p.admin, field=cf, option="Bronze") == 1
    assert Account.objects.get(pk=silver.pk).custom == {}
    cf.refresh_from_db()
    assert cf.choices == ["Or", "Platinum"]
    picklist_option_remove(user=p.admin, field=cf, option="Or")
    with pytest.raises(ValidationFailed):
        picklist_option_remove(user=p.admin, field=cf, option="Platinum")
    assert CustomField.objects.get(pk=cf.pk).choices == ["Platinum"]


def test_a_key_named_like_a_lookup_is_safe(world: Any) -> None:
    """Values are found through a JSON key transform, not ``custom__<key>`` (``contains``,
    ``in``… would be read as lookups)."""
    p = world.personas
    cf = custom_field_create(user=p.admin, data={
        "object_type": "account", "name": "contains", "label": "Contains", "type": "choice",
        "choices": ["A", "B"]})
    account = account_create(user=p.owner, data={"legal_name": "A Co"}, custom={"contains": "A"})
    assert option_usage(cf, "A") == 1
    picklist_option_rename(user=p.admin, field=cf, option="A", new="Alpha")
    assert Account.objects.get(pk=account.pk).custom == {"contains": "Alpha"}

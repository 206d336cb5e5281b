"""Settings pages: administrators only, every form validated inline, effects checked."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from comptoir.access import policy
from comptoir.access.models import Role, Team, Territory, TerritoryRule, User
from comptoir.core.models import CustomField
from comptoir.core.services import custom_field_definitions
from comptoir.crm.models import Account, Opportunity, Pipeline, Stage
from comptoir.crm.services import account_create
from comptoir.testing import factories


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


@pytest.fixture
def admin_client(world: Any, client_for: Any) -> Any:
    return client_for(world.personas.admin)


def _pages(world: Any) -> list[str]:
    """One URL of every settings page (GET)."""
    p = world.personas
    pipeline = Pipeline.objects.get(is_default=True)
    stage = pipeline.stages.order_by("order").first()
    cf = CustomField.objects.create(object_type="account", name="tier", label="Tier",
                                    type="choice", choices=["Gold", "Silver"])
    return [
        reverse("web:settings"),
        reverse("web:settings_users"),
        reverse("web:settings_user_create"),
        reverse("web:settings_user_edit", args=[p.owner.pk]),
        reverse("web:settings_user_deactivate", args=[p.owner.pk]),
        reverse("web:settings_roles"),
        reverse("web:settings_teams"),
        reverse("web:settings_team_create"),
        reverse("web:settings_team_edit", args=[p.north.pk]),
        reverse("web:settings_team_delete", args=[p.north.pk]),
        reverse("web:settings_territories"),
        reverse("web:settings_territory_create"),
        reverse("web:settings_territory_edit", args=[p.rhone.pk]),
        reverse("web:settings_territories_reassign"),
        reverse("web:settings_pipelines"),
        reverse("web:settings_pipeline", args=[pipeline.pk]),
        reverse("web:settings_pipeline_delete", args=[pipeline.pk]),
        reverse("web:settings_stage_edit", args=[stage.pk]),
        reverse("web:settings_stage_delete", args=[stage.pk]),
        reverse("web:settings_fields"),
        reverse("web:settings_field_create"),
        reverse("web:settings_field_edit", args=[cf.pk]),
        reverse("web:settings_option_remove", args=[cf.pk]) + "?option=Gold",
        reverse("web:settings_picklists"),
    ]


# --- Who may -------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["owner", "manager", "data_manager", "marketing",
                                     "service"])
def test_every_settings_page_is_404_for_non_admins(world: Any, client_for: Any,
                                                   persona: str) -> None:
    client = client_for(world.personas[persona])
    for url in _pages(world):
        assert client.get(url).status_code == 404, url
    # and writes too
    pipeline = Pipeline.objects.get(is_default=True)
    assert client.post(reverse("web:settings_stage_create", args=[pipeline.pk]),
                       {"name": "Sneaky", "probability": 5}).status_code == 404
    assert not Stage.objects.filter(name="Sneaky").exists()
    assert client.post(reverse("web:settings_territories_reassign")).status_code == 404


def test_every_settings_page_renders_for_admin(world: Any, admin_client: Any) -> None:
    for url in _pages(world):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert b'class="settings-nav"' in response.content, url


def test_superuser_reaches_settings(world: Any, client_for: Any) -> None:
    boss = factories.user(username="boss", is_superuser=True)
    assert client_for(boss).get(reverse("web:settings")).status_code == 200


def test_anonymous_is_sent_to_sign_in(client: Any, world: Any) -> None:
    response = client.get(reverse("web:settings_users"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_index_shows_sections(world: Any, admin_client: Any) -> None:
    html = admin_client.get(reverse("web:settings")).content.decode()
    for label in ("Users", "Roles", "Teams", "Territories", "Pipelines and stages",
                  "Custom fields", "Picklists"):
        assert f">{label}</a></h2>" in html


# --- Users ---------------------------------------------------------------------------------

def test_user_list_filters(world: Any, admin_client: Any) -> None:
    url = reverse("web:settings_users")
    html = admin_client.get(url).content.decode()
    assert "Olivia Owner" in html
    assert "North" in html
    html = admin_client.get(url, {"role": Role.MANAGER}).content.decode()
    assert "Margaux" in html
    assert "Olivia Owner" not in html
    html = admin_client.get(url, {"q": "zzzz"}).content.decode()
    assert "No user matches these filters." in html


def test_create_user_invalid_then_valid(world: Any, admin_client: Any) -> None:
    url = reverse("web:settings_user_create")
    data = {"username": "owner", "first_name": "Nina", "email": "not-an-email",
            "role": Role.REP, "language": "en", "password_mode": "set", "password": ""}
    response = admin_client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "Enter a valid email address." in html
    assert "Enter the initial password, or choose the link." in html
    assert 'value="Nina"' in html  # nothing lost
    data |= {"email": "nina@example.com", "password": "a long enough passphrase"}
    response = admin_client.post(url, data)  # the username is taken: said next to it
    assert response.status_code == 200
    assert "This username is taken." in response.content.decode()
    data |= {"username": "nina", "manager": world.personas.lead_rep.pk,
             "teams": [world.personas.north.pk]}
    response = admin_client.post(url, data)
    nina = User.objects.get(username="nina")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:settings_user_edit", args=[nina.pk])
    assert nina.check_password("a long enough passphrase")
    assert nina.manager_id == world.personas.lead_rep.pk
    assert list(nina.teams.values_list("name", flat=True)) == ["North"]


def test_create_user_with_a_password_link(world: Any, admin_client: Any, client: Any) -> None:
    response = admin_client.post(reverse("web:settings_user_create"), {
        "username": "linda", "role": Role.REP, "language": "en", "password_mode": "link"})
    linda = User.objects.get(username="linda")
    assert not linda.has_usable_password()
    page = admin_client.get(response["Location"]).content.decode()
    assert "Link to choose a password" in page
    link = page.split('id="password-link" class="wide-input mono" value="')[1].split('"')[0]
    # shown once
    again = admin_client.get(response["Location"]).content.decode()
    assert "Link to choose a password" not in again
    # the new user follows it (Django moves the token into the session first)
    path = link.replace("http://testserver", "")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # an anonymous visitor, in English
    form_page = client.get(path, follow=True)
    assert b"Choose your password" in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "a long enough passphrase",
                                 "new_password2": "a long enough passphrase"})
    assert done.status_code == 302
    linda.refresh_from_db()
    assert linda.check_password("a long enough passphrase")
    assert b"expired" in client.get(path, follow=True).content  # used once


def test_edit_user_manager_makes_the_manager_see_the_records(world: Any,
                                                             admin_client: Any) -> None:
    p = world.personas
    account = world.theirs.account  # the outsider's
    manager = User.objects.get(pk=p.manager.pk)
    assert not policy.restrict(Account.objects.filter(pk=account.pk), manager).exists()
    url = reverse("web:settings_user_edit", args=[p.outsider.pk])
    data = {"username": "outsider", "first_name": "Oscar", "role": Role.REP, "language": "en",
            "manager": p.manager.pk, "teams": [p.south.pk]}
    assert admin_client.post(url, data).status_code == 302
    manager = User.objects.get(pk=p.manager.pk)  # the manager's next request
    assert policy.restrict(Account.objects.filter(pk=account.pk), manager).exists()


def test_edit_user_refuses_a_loop_inline(world: Any, admin_client: Any) -> None:
    p = world.personas
    url = reverse("web:settings_user_edit", args=[p.manager.pk])
    response = admin_client.post(url, {"username": "manager", "role": Role.MANAGER,
                                       "language": "en", "manager": p.owner.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Choose someone who is not this user nor one of their reports." in html
    assert User.objects.get(pk=p.manager.pk).manager_id is None


def test_deactivate_and_reactivate(world: Any, admin_client: Any, client_for: Any) -> None:
    p = world.personas
    owner_client = client_for(p.owner)
    url = reverse("web:settings_user_deactivate", args=[p.owner.pk])
    assert b"Their accounts, contacts, deals" in admin_client.get(url).content
    assert admin_client.post(url).status_code == 302
    assert not User.objects.get(pk=p.owner.pk).is_active
    assert Account.objects.filter(owner=p.owner).exists()  # records keep their owner
    assert owner_client.get(reverse("web:settings")).status_code == 302  # signed out
    admin_client.post(reverse("web:settings_user_reactivate", args=[p.owner.pk]))
    assert User.objects.get(pk=p.owner.pk).is_active


def test_admin_cannot_deactivate_themselves(world: Any, admin_client: Any) -> None:
    url = reverse("web:settings_user_deactivate", args=[world.personas.admin.pk])
    response = admin_client.post(url)
    assert response.status_code == 422
    assert b"You cannot deactivate yourself." in response.content
    assert User.objects.get(pk=world.personas.admin.pk).is_active


# --- Teams and territories -----------------------------------------------------------------

def test_team_create_edit_delete(world: Any, admin_client: Any) -> None:
    p = world.personas
    url = reverse("web:settings_team_create")
    response = admin_client.post(url, {"name": "North"})
    assert response.status_code == 200
    assert b"aria-invalid" in response.content
    response = admin_client.post(url, {"name": "West", "leader": p.lead_rep.pk,
                                       "members": [p.teammate.pk, p.outsider.pk]})
    assert response.status_code == 302
    west = Team.objects.get(name="West")
    assert set(west.members.values_list("username", flat=True)) == {"teammate", "outsider"}
    edit = reverse("web:settings_team_edit", args=[west.pk])
    admin_client.post(edit, {"name": "West", "members": [p.teammate.pk]})
    assert list(west.members.values_list("username", flat=True)) == ["teammate"]
    admin_client.post(reverse("web:settings_team_delete", args=[west.pk]))
    assert not Team.objects.filter(pk=west.pk).exists()


def test_territory_rule_and_reassign_change_an_accounts_territory(world: Any,
                                                                   admin_client: Any) -> None:
    p = world.personas
    account = account_create(user=p.owner, data={"legal_name": "Bordeaux Vins",
                                                 "billing_postcode": "33000"})
    assert account.territory_id is None
    response = admin_client.post(reverse("web:settings_territory_create"), {
        "name": "Gironde", "priority": 5, "active": "on", "members": [p.teammate.pk]})
    gironde = Territory.objects.get(name="Gironde")
    assert response["Location"].startswith(
        reverse("web:settings_territory_edit", args=[gironde.pk]))
    add = reverse("web:settings_territory_rule_add", args=[gironde.pk])
    # invalid: inline, in the htmx partial
    response = admin_client.post(add, {"kind": "country", "value": "France"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<section class="card side" id="rules"')
    assert "Enter a two-letter country code" in html
    # valid
    response = admin_client.post(add, {"kind": "postcode_prefix", "value": "33"},
                                 HTTP_HX_REQUEST="true")
    assert "Postcode starts with <strong>33</strong>" in response.content.decode()
    rule = TerritoryRule.objects.get(territory=gironde)
    # without htmx: a redirect back to the page
    response = admin_client.post(add, {"kind": "country", "value": "FR"})
    assert response.status_code == 302
    assert TerritoryRule.objects.filter(territory=gironde).count() == 2
    admin_client.post(reverse("web:settings_territory_rule_delete",
                              args=[gironde.pk, gironde.rules.get(kind="country").pk]))
    assert list(gironde.rules.all()) == [rule]
    # re-assign
    response = admin_client.post(reverse("web:settings_territories_reassign"),
                                 {"scope": "all"}, follow=True)
    assert "changed territory" in response.content.decode()
    account.refresh_from_db()
    assert account.territory_id == gironde.pk
    teammate = User.objects.get(pk=p.teammate.pk)
    assert policy.restrict(Account.objects.filter(pk=account.pk), teammate).exists()


def test_territory_form_errors_inline(world: Any, admin_client: Any) -> None:
    response = admin_client.post(reverse("web:settings_territory_create"),
                                 {"name": "Rhône", "priority": "-3"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ensure this value is greater than or equal to 0." in html
    response = admin_client.post(reverse("web:settings_territory_create"),
                                 {"name": "Rhône", "priority": "3"})
    assert response.status_code == 200
    assert b"aria-invalid" in response.content  # the name is taken


# --- Pipelines and stages ------------------------------------------------------------------

def _stage_names(pipeline: Pipeline) -> list[str]:
    return list(pipeline.stages.order_by("order").values_list("name", flat=True))


def test_pipeline_create_rename_default(world: Any, admin_client: Any) -> None:
    url = reverse("web:settings_pipelines")
    response = admin_client.post(url, {"name": "Sales"})  # taken
    assert response.status_code == 200
    assert b"aria-invalid" in response.content
    response = admin_client.post(url, {"name": "Partners"})
    partners = Pipeline.objects.get(name="Partners")
    assert response["Location"] == reverse("web:settings_pipeline", args=[partners.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "No stages yet" in page
    admin_client.post(reverse("web:settings_pipeline", args=[partners.pk]),
                      {"name": "Channel partners"})
    assert Pipeline.objects.get(pk=partners.pk).idle_days == 14  # left as it was
    response = admin_client.post(reverse("web:settings_pipeline", args=[partners.pk]),
                                 {"name": "Channel partners", "idle_days": "400"})
    assert b"aria-invalid" in response.content
    admin_client.post(reverse("web:settings_pipeline", args=[partners.pk]),
                      {"name": "Channel partners", "idle_days": "30"})
    assert Pipeline.objects.get(pk=partners.pk).idle_days == 30
    admin_client.post(reverse("web:settings_pipeline_default", args=[partners.pk]))
    assert list(Pipeline.objects.filter(is_default=True).values_list("name", flat=True)) == \
        ["Channel partners"]


def test_stage_add_move_edit_with_htmx(world: Any, admin_client: Any) -> None:
    sales = Pipeline.objects.get(is_default=True)
    add = reverse("web:settings_stage_create", args=[sales.pk])
    response = admin_client.post(add, {"stage-name": "", "stage-probability": "150"},
                                 HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<section class="card stages"')
    assert "This field is required." in html
    assert "Ensure this value is less than or equal to 100." in html
    response = admin_client.post(add, {"stage-name": "Negotiation", "stage-probability": "70"},
                                 HTTP_HX_REQUEST="true")
    assert _stage_names(sales) == ["Qualification", "Proposal", "Negotiation", "Won", "Lost"]
    negotiation = Stage.objects.get(pipeline=sales, name="Negotiation")
    move = reverse("web:settings_stage_move", args=[negotiation.pk])
    response = admin_client.post(move, {"direction": "up"}, HTTP_HX_REQUEST="true")
    assert _stage_names(sales)[:3] == ["Qualification", "Negotiation", "Proposal"]
    html = response.content.decode()
    # the moved stage's button keeps the focus
    button = html.split('aria-label="Move Negotiation up"')[0].rsplit("<button", 1)[1]
    assert "autofocus" in button
    # without htmx: a redirect that lands on the same control
    response = admin_client.post(move, {"direction": "down"})
    assert response.status_code == 302
    assert f"focus=down-{negotiation.pk}" in response["Location"]
    edit = reverse("web:settings_stage_edit", args=[negotiation.pk])
    response = admin_client.post(edit, {"name": "Negotiation", "probability": "60",
                                        "is_won": "on", "is_lost": "on"})
    assert response.status_code == 200
    assert b"Choose won or lost, not both." in response.content
    admin_client.post(edit, {"name": "Negotiating", "probability": "60"})
    assert Stage.objects.get(pk=negotiation.pk).probability == 60


def test_delete_a_stage_with_deals_asks_where_they_go(world: Any, admin_client: Any) -> None:
    deal = world.mine.opportunity
    stage = deal.stage
    url = reverse("web:settings_stage_delete", args=[stage.pk])
    assert b"This stage holds 2 deals." in admin_client.get(url).content
    response = admin_client.post(url, {"move_to": ""})
    assert response.status_code == 422
    assert b"Choose a stage." in response.content
    assert Stage.objects.filter(pk=stage.pk).exists()
    proposal = Stage.objects.get(pipeline=stage.pipeline, name="Proposal")
    response = admin_client.post(url, {"move_to": proposal.pk}, follow=True)
    assert "2 deals moved to Proposal." in response.content.decode()
    assert Opportunity.objects.get(pk=deal.pk).stage_id == proposal.pk
    assert not Stage.objects.filter(pk=stage.pk).exists()


def test_delete_an_empty_stage_and_a_pipeline_with_deals(world: Any, admin_client: Any) -> None:
    sales = Pipeline.objects.get(is_default=True)
    lost = Stage.objects.get(pipeline=sales, is_lost=True)
    admin_client.post(reverse("web:settings_stage_delete", args=[lost.pk]))
    assert not Stage.objects.filter(pk=lost.pk).exists()
    response = admin_client.post(reverse("web:settings_pipeline_delete", args=[sales.pk]))
    assert response.status_code == 409
    assert b"move them to another pipeline first" in response.content


# --- Custom fields and picklists -----------------------------------------------------------

def test_custom_field_create_invalid_then_valid(world: Any, admin_client: Any) -> None:
    url = reverse("web:settings_field_create")
    response = admin_client.post(url, {"object_type": "account", "label": "Fleet",
                                       "name": "Fleet Size", "type": "number"})
    assert response.status_code == 200
    assert "Lower-case letters, digits and _" in response.content.decode()
    response = admin_client.post(url, {"object_type": "account", "label": "Tier",
                                       "name": "tier", "type": "choice", "choices": ""})
    assert b"Give at least one option." in response.content
    response = admin_client.post(url, {"object_type": "account", "label": "Fleet size",
                                       "name": "fleet_size", "type": "number",
                                       "active": "on"})
    assert response.status_code == 302
    definitions = custom_field_definitions("account")
    assert definitions["fleet_size"].type == "number"
    # the behaviour: the account service now accepts and checks it
    account = account_create(user=world.personas.owner, data={"legal_name": "Fleet Co"},
                             custom={"fleet_size": "12"})
    assert account.custom == {"fleet_size": 12}


def test_custom_field_edit_and_deactivate(world: Any, admin_client: Any) -> None:
    cf = CustomField.objects.create(object_type="contact", name="hobby", label="Hobby")
    url = reverse("web:settings_field_edit", args=[cf.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="name"' in html
    assert "disabled" in html
    response = admin_client.post(url, {"label": "", "max_length": 50})
    assert response.status_code == 200
    assert b"aria-invalid" in response.content
    admin_client.post(url, {"label": "Hobbies", "max_length": 50, "name": "changed",
                            "active": "on"})
    cf.refresh_from_db()
    assert (cf.label, cf.max_length, cf.name) == ("Hobbies", 50, "hobby")
    admin_client.post(reverse("web:settings_field_toggle", args=[cf.pk]))
    assert "hobby" not in custom_field_definitions("contact")
    html = admin_client.get(reverse("web:settings_fields"), {"object": "contact"}).content
    assert b"Inactive" in html


def test_picklist_options_flow(world: Any, admin_client: Any) -> None:
    owner = world.personas.owner
    admin_client.post(reverse("web:settings_field_create"), {
        "object_type": "account", "label": "Tier", "name": "tier", "type": "choice",
        "choices": "Gold\nSilver\n\nBronze", "active": "on"})
    cf = CustomField.objects.get(name="tier")
    assert cf.choices == ["Gold", "Silver", "Bronze"]
    gold = account_create(user=owner, data={"legal_name": "Gold Co"}, custom={"tier": "Gold"})
    silver = account_create(user=owner, data={"legal_name": "Silver Co"},
                            custom={"tier": "Silver"})
    hx = {"HTTP_HX_REQUEST": "true"}
    add = reverse("web:settings_option_add", args=[cf.pk])
    response = admin_client.post(add, {"option": "gold"}, **hx)
    assert b"This option exists already." in response.content
    admin_client.post(add, {"option": "Platinum"}, **hx)
    move = reverse("web:settings_option_move", args=[cf.pk])
    admin_client.post(move, {"option": "Platinum", "direction": "up"}, **hx)
    rename = reverse("web:settings_option_rename", args=[cf.pk])
    response = admin_client.post(rename, {"option": "Gold", "new": "Silver"}, **hx)
    assert b"This option exists already." in response.content
    admin_client.post(rename, {"option": "Gold", "new": "Or"}, **hx)
    cf.refresh_from_db()
    assert cf.choices == ["Or", "Silver", "Platinum", "Bronze"]
    assert Account.objects.get(pk=gold.pk).custom == {"tier": "Or"}
    remove = reverse("web:settings_option_remove", args=[cf.pk])
    page = admin_client.get(remove, {"option": "Silver"}).content.decode()
    assert "1 record holds this value." in page
    response = admin_client.post(remove, {"option": "Silver", "replacement": "Bronze"})
    assert response.status_code == 302
    assert Account.objects.get(pk=silver.pk).custom == {"tier": "Bronze"}
    admin_client.post(remove, {"option": "Bronze", "replacement": ""})
    assert Account.objects.get(pk=silver.pk).custom == {}
    cf.refresh_from_db()
    assert cf.choices == ["Or", "Platinum"]
    assert custom_field_definitions("account")["tier"].choices == ["Or", "Platinum"]
    html = admin_client.get(reverse("web:settings_picklists")).content.decode()
    assert "Platinum" in html


def test_empty_states(world: Any, admin_client: Any) -> None:
    Team.objects.all().delete()
    assert b"No teams yet" in admin_client.get(reverse("web:settings_teams")).content
    assert b"No custom fields yet" in admin_client.get(reverse("web:settings_fields")).content
    assert b"No picklists yet" in admin_client.get(reverse("web:settings_picklists")).content
    Territory.objects.all().delete()
    assert b"No territories yet" in admin_client.get(
        reverse("web:settings_territories")).content

"""First-run set-up: the administrator's "Get started" card and the ``/setup/`` page.

A new instance without the demo data shows its administrator the steps still to do (company
profile, users and teams, pipeline stages, data), each ticked as soon as the work is done
anywhere; the card goes once everything is done or the administrator hides it, and nobody
else ever sees it or the page.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from comptoir.access.models import Role, User
from comptoir.core.company import company_profile_update
from comptoir.integration.models import Connection
from comptoir.testing import factories
from comptoir.testing.personas import PERSONAS

from .conftest import PHONE

CARD = 'aria-labelledby="home-setup"'


def steps(html: str) -> dict[str, bool]:
    """Each step's state as the page renders it (``data-step`` / ``data-done``)."""
    return {key: done == "true"
            for key, done in re.findall(r'data-step="(\w+)" data-done="(\w+)"', html)}


def summary(html: str) -> str:
    match = re.search(r'data-figure="setup-done">([^<]*)<', html)
    assert match
    return match.group(1).strip()


def home(client: Client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_fresh_instance_shows_the_card_to_the_admin_only(client_for: Any, personas: Any) -> None:
    html = home(client_for(personas.admin))
    assert CARD in html
    assert "Get started" in html
    # the personas are other active users: one step of four is done, the rest to do
    assert summary(html) == "1 of 4 done"
    assert steps(html) == {"company": False, "users": True, "pipeline": False, "data": False}
    card = html.split(CARD)[1].split("</section>")[0]
    assert card.count(">To do<") == 3
    assert card.count(">Done<") == 1
    for href in ("/settings/company/", "/settings/users/new/", "/settings/teams/",
                 "/settings/pipelines/", "/imports/", "/sync/connections/new/", "/setup/"):
        assert f'href="{href}"' in card, href
    for name in PERSONAS:
        if name != "admin":
            other = home(client_for(personas[name]))
            assert CARD not in other, name
            assert "Get started" not in other, name


def test_an_admin_alone_has_nothing_done(client_for: Any) -> None:
    admin = factories.user(username="root", role=Role.ADMIN)
    factories.user(username="gone", is_active=False)  # a deactivated user does not count
    html = home(client_for(admin))
    assert summary(html) == "0 of 4 done"
    assert not any(steps(html).values())
    factories.user(username="first.rep")
    assert steps(home(client_for(admin)))["users"] is True


def test_completing_the_steps_ticks_them_then_hides_the_card(client_for: Any,
                                                             personas: Any) -> None:
    client = client_for(personas.admin)
    company_profile_update(user=personas.admin, data={"legal_name": "Outils Durand SAS"})
    html = home(client)
    assert summary(html) == "2 of 4 done"
    assert steps(html)["company"] is True

    pipeline = factories.pipeline(name="Sales", stages=())
    assert steps(home(client))["pipeline"] is False  # a pipeline without stages is not ready
    pipeline.delete()
    factories.default_pipeline()
    html = home(client)
    assert summary(html) == "3 of 4 done"
    assert steps(html)["pipeline"] is True

    factories.account(by=personas.owner, legal_name="Brasserie du Parc")
    html = home(client)
    assert CARD not in html
    assert "Get started" not in html
    # the guide stays reachable and says everything is set up
    page = client.get("/setup/").content.decode()
    assert summary(page) == "4 of 4 done"
    assert all(steps(page).values())
    assert "Everything is set up" in page


def test_an_erp_connection_counts_as_data(client_for: Any, personas: Any) -> None:
    Connection.objects.create(name="erp", label="ERP", connector="files",
                              mapping='system = "erp"\n', schedule_minutes=60)
    assert steps(home(client_for(personas.admin)))["data"] is True


def test_the_admin_hides_the_card_and_shows_it_again(client_for: Any, personas: Any) -> None:
    client = client_for(personas.admin)
    assert client.get("/setup/hide/").status_code == 405  # a change is a POST
    response = client.post("/setup/hide/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert CARD not in home(client)
    page = client.get("/setup/").content.decode()
    assert "Show it on the home page again" in page
    assert summary(page) == "1 of 4 done"
    response = client.post("/setup/show/")
    assert response.status_code == 302
    assert response["Location"] == "/setup/"
    assert CARD in home(client)


@pytest.mark.parametrize("name", PERSONAS)
def test_setup_page_is_for_administrators_only(client_for: Any, personas: Any,
                                               name: str) -> None:
    client = client_for(personas[name])
    expected = 200 if name == "admin" else 404
    assert client.get("/setup/").status_code == expected
    assert client.post("/setup/hide/").status_code == (302 if name == "admin" else 404)
    assert client.post("/setup/show/").status_code == (302 if name == "admin" else 404)


def test_setup_page_for_a_superuser_and_not_for_visitors(client_for: Any, db: None) -> None:
    root = factories.user(username="root", is_superuser=True)
    assert client_for(root).get("/setup/").status_code == 200
    response = Client().get("/setup/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_setup_page_explains_each_step(client_for: Any, personas: Any) -> None:
    page = client_for(personas.admin).get("/setup/").content.decode()
    assert "<h1>Set up Comptoir</h1>" in page
    assert "printed on every quote and invoice" in page
    assert "connect your ERP" in page
    assert steps(page) == {"company": False, "users": True, "pipeline": False, "data": False}


def test_setup_page_and_card_in_french(client_for: Any, personas: Any) -> None:
    client = client_for(personas.admin, language="fr")
    page = client.get("/setup/").content.decode()
    assert "Mise en route de Comptoir" in page
    assert "1 étape terminée sur 4" in page
    assert "Profil de l’entreprise" in page
    assert "Importer un fichier" in page
    assert "Set up Comptoir" not in page
    assert "To do" not in page
    html = home(client)
    assert "Premiers pas" in html
    assert "Get started" not in html


@pytest.mark.django_db(transaction=True)
def test_demo_data_set_has_everything_done(client_for: Any) -> None:
    call_command("demo", "--accounts", "30", "--seed", "5", stdout=StringIO())
    admin = User.objects.get(username="admin")
    assert CARD not in home(client_for(admin))
    assert all(steps(client_for(admin).get("/setup/").content.decode()).values())


@pytest.mark.django_db(transaction=True)
def test_browser_card_on_a_phone_then_hidden(open_as: Any, personas: Any) -> None:
    page = open_as(personas.admin, "/", phone=True)
    card = page.get_by_role("region", name="Get started")
    expect(card).to_contain_text("1 of 4 done")
    expect(card.get_by_role("link", name="Fill in the company profile")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], width
    card.get_by_role("button", name="Hide").click()
    expect(page.get_by_role("heading", name="Installation health")).to_be_visible()
    expect(page.get_by_role("region", name="Get started")).to_have_count(0)

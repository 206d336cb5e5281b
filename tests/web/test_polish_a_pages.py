"""Favicon, the 404 page, and phone numbers shown as people dial them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django.urls import reverse

from comptoir.testing import factories

pytestmark = pytest.mark.django_db

SIREN = "528960354"
SIRET = "52896035400017"
VAT = "FR68528960354"


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


# --- Favicon ---------------------------------------------------------------------------------

def test_pages_link_a_favicon_and_favicon_ico_answers(client_for: Any, world: Any) -> None:
    html = client_for(world.personas.owner).get(reverse("web:home")).content.decode()
    link = re.search(r'<link rel="icon" href="([^"]+)"', html)
    assert link is not None
    assert link.group(1).endswith("web/favicon.svg")
    assert finders.find("web/favicon.svg")
    response = Client().get("/favicon.ico")  # browsers ask for it signed in or not
    assert response.status_code in (301, 302)
    assert response["Location"] == link.group(1)
    with override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=False):
        icon = Client().get(link.group(1))
        assert icon.status_code == 200
        assert b"<svg" in b"".join(icon.streaming_content)


# --- 404 -------------------------------------------------------------------------------------

@override_settings(DEBUG=False)
def test_404_has_the_navigation_and_a_way_home_when_signed_in(client_for: Any,
                                                              world: Any) -> None:
    client = client_for(world.personas.owner)
    for path in ("/no-such-page/", reverse("web:account_detail", args=[10**9])):
        response = client.get(path)
        assert response.status_code == 404
        html = response.content.decode()
        assert 'id="sidebar"' in html  # the base layout's navigation
        assert "Page not found" in html
        assert f'href="{reverse("web:home")}"' in html
        assert 'lang="fr"' in html  # and the same message in French


@override_settings(DEBUG=False)
def test_404_speaks_french_to_a_french_user(client_for: Any, world: Any) -> None:
    html = client_for(world.personas.owner, "fr").get("/no-such-page/").content.decode()
    assert '<html lang="fr">' in html
    assert "Retour à l'accueil" in html or "Retour à l&#x27;accueil" in html
    assert 'lang="en"' in html
    assert "Back to home" in html


@override_settings(DEBUG=False)
def test_404_for_a_visitor_has_no_navigation_but_a_way_home() -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'id="sidebar"' not in html
    assert f'href="{reverse("web:home")}"' in html


# --- Phones ----------------------------------------------------------------------------------

def test_phone_filter_national_for_french_numbers_international_otherwise() -> None:
    from comptoir.web.templatetags.web import phone

    assert phone("+33134380162") == "01 34 38 01 62"
    assert phone("+33612345678") == "06 12 34 56 78"
    assert phone("+3225551212") == "+32 2 555 12 12"
    assert phone("not a number") == "not a number"
    assert phone("") == phone(None) == ""


def _dd_of(html: str, text: str) -> str:
    found = re.search(r"<dd[^>]*>(?:(?!</dd>).)*" + re.escape(text), html, re.S)
    assert found is not None, text
    return found.group(0)


def test_record_pages_and_lists_show_phones_as_dialled(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    account = factories.account(by=owner, legal_name="Téléphones SA", owner=owner,
                                phone="+33134380162", siren=SIREN, siret=SIRET, vat_number=VAT)
    contact = factories.contact(by=owner, account=account, last_name="Appel",
                                phone="+3225551212", mobile="+33612345678", owner=owner)
    lead = factories.lead(by=owner, last_name="Prospect", phone="+33134380162", owner=owner)
    client = client_for(owner)

    page = client.get(reverse("web:account_detail", args=[account.pk])).content.decode()
    assert "+33134380162</a>" not in page
    fact = _dd_of(page, "01 34 38 01 62")
    assert 'class="nowrap"' in fact
    assert 'href="tel:+33134380162"' in fact
    for number in (SIRET, VAT):  # key facts never break them mid-number
        assert 'class="nowrap"' in _dd_of(page, number)
    assert "06 12 34 56 78" in page  # the contacts table: the mobile first
    assert 'href="tel:+33612345678"' in page

    page = client.get(reverse("web:contact_detail", args=[contact.pk])).content.decode()
    assert "+32 2 555 12 12" in page
    assert "06 12 34 56 78" in page
    assert "+3225551212<" not in page
    assert "+33612345678<" not in page

    page = client.get(reverse("web:lead_detail", args=[lead.pk])).content.decode()
    assert "01 34 38 01 62" in _dd_of(page, "01 34 38 01 62")

    listing = client.get(reverse("web:contact_list") + "?q=Appel").content.decode()
    assert "+32 2 555 12 12" in listing
    assert "+3225551212" not in listing

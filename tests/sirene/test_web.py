"""The SIRENE page of the data-quality area and the account enrichment page."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.urls import reverse

from comptoir.core.models import AuditEntry
from comptoir.testing import factories as f

from . import files as F

SIRENE = "/quality/sirene/"


def test_sirene_page_shows_what_is_loaded_and_how_to_load(client_for, register, personas):
    page = client_for(personas.data_manager).get(SIRENE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "comptoir sirene load" in html
    assert "StockEtablissement_utf8.zip" in html
    assert "StockUniteLegale_utf8.csv" in html
    assert page.context["stats"]["units"] == 5
    assert page.context["stats"]["establishments"] == 6


def test_sirene_page_before_any_load(client_for, personas):
    page = client_for(personas.admin).get(SIRENE)
    assert page.status_code == 200
    assert "Never loaded" in page.content.decode()


def test_sirene_page_searches_by_name_and_postcode(client_for, register, personas):
    page = client_for(personas.data_manager).get(SIRENE, {"q": "Dupond conseil",
                                                           "postcode": "69002"})
    html = page.content.decode()
    assert F.DUPONT_LYON in html
    assert "5 RUE DE LA REPUBLIQUE, BATIMENT A" in html
    closed = client_for(personas.data_manager).get(SIRENE, {"q": "menuiserie martinet"})
    assert "Closed" in closed.content.decode()
    nothing = client_for(personas.data_manager).get(SIRENE, {"q": "zzzz", "postcode": "75008"})
    assert "Nothing found" in nothing.content.decode()


def test_sirene_page_is_not_for_reps(client_for, register, personas):
    assert client_for(personas.owner).get(SIRENE).status_code == 404
    assert client_for(personas.owner).get(SIRENE, {"q": "dupont"}).status_code == 404


def test_enrich_page_shows_the_proposal_prechecked(client_for, register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    url = reverse("web:account_enrich", args=[account.pk])
    page = client_for(personas.owner).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="field" value="naf_code" checked' in html
    assert "70.22Z" in html
    assert "12 BIS AVENUE DES CHAMPS ELYSEES" in html
    assert "csrfmiddlewaretoken" in html
    assert "Closed in SIRENE" not in html


def test_enrich_page_applies_the_ticked_changes(client_for, register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    url = reverse("web:account_enrich", args=[account.pk])
    client = client_for(personas.owner)
    answer = client.post(url, {"field": ["naf_code", "billing_city"]})
    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:account_detail", args=[account.pk])
    assert [str(m) for m in get_messages(answer.wsgi_request)] == [
        "2 field(s) updated from SIRENE."]
    account.refresh_from_db()
    assert (account.naf_code, account.billing_city, account.siret) == ("70.22Z", "PARIS", "")
    assert AuditEntry.objects.get(object_id=account.pk, action="update").source == "sirene"
    # nothing ticked: nothing changes
    answer = client.post(url, {})
    assert answer.status_code == 302
    assert answer["Location"] == url


def test_enrich_page_refusal_is_shown_not_raised(client_for, erp_account):
    url = reverse("web:account_enrich", args=[erp_account.pk])
    client = client_for(erp_account.owner)
    html = client.get(url).content.decode()
    assert "Kept: owned by the ERP" in html
    assert 'value="naf_code"' not in html
    answer = client.post(url, {"field": ["naf_code"]})
    assert answer.status_code == 302
    assert answer["Location"] == url
    assert "owned by the ERP" in " ".join(str(m) for m in get_messages(answer.wsgi_request))


def test_enrich_page_warns_about_a_closed_company(client_for, register, personas):
    account = f.account(by=personas.owner, legal_name="Martinet", siren=F.CLOSED)
    html = client_for(personas.owner).get(
        reverse("web:account_enrich", args=[account.pk])).content.decode()
    assert "Closed in SIRENE." in html
    assert 'value="naf_code">' in html  # listed, not pre-checked


def test_enrich_page_is_404_for_who_may_not_change(client_for, register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    url = reverse("web:account_enrich", args=[account.pk])
    assert client_for(personas.outsider).get(url).status_code == 404
    assert client_for(personas.outsider).post(url, {"field": ["naf_code"]}).status_code == 404
    assert client_for(personas.marketing).get(url).status_code == 404
    account.refresh_from_db()
    assert account.naf_code == ""


def test_enrich_page_for_an_account_without_identifiers(client_for, register, personas):
    account = f.account(by=personas.owner, legal_name="Inconnue", billing_postcode="69002")
    html = client_for(personas.data_manager).get(
        reverse("web:account_enrich", args=[account.pk])).content.decode()
    assert "could not be found" in html
    assert "/quality/sirene/?q=Inconnue&amp;postcode=69002" in html

"""Validation profiles: the seed's matrix of mandatory fields per base (I8)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from comptoir.quality.identifiers import siret_with_check_digit
from comptoir.quality.profiles import gaps, profile_report
from comptoir.testing import factories as f


def codes(found: list[Any]) -> list[str]:
    return [g.requirement for g in found]


def test_a_lead_may_be_an_email_address_alone():
    assert gaps("lead", {"email": "anne@example.org"}, "lead") == []
    missing = gaps("lead", {"company_name": "Acme"}, "lead")
    assert codes(missing) == ["contact_means"]
    assert missing[0].fields == ["email", "phone"]


def test_a_crm_account_needs_its_legal_name_and_a_contact():
    assert codes(gaps("account", {}, "crm", contacts=0)) == ["legal_name", "contact"]
    assert gaps("account", {"legal_name": "Acme SAS"}, "crm", contacts=1) == []


def test_the_erp_tolerates_no_gap():
    data = {"legal_name": "Acme SAS", "siret": "73282932000075", "naf_code": "",
            "billing_postcode": "00100", "billing_street": "1 rue de la Paix",
            "billing_city": "Paris", "billing_country": "FR"}
    with translation.override("en"):
        found = {g.requirement: g for g in gaps("account", data, "erp", contacts=1,
                                                skip=frozenset({"no_duplicate"}))}
    assert set(found) == {"postal_address", "siret", "naf", "payment_terms"}
    assert found["siret"].message.startswith("Not a valid SIRET")  # present but invalid
    assert found["naf"].message == "The NAF code is missing."
    assert found["postal_address"].fields == ["billing_postcode"]


def test_a_saved_record_is_judged_for_every_profile(personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil SARL",
                        siret=siret_with_check_digit(f.siren(5001), "0001"), naf_code="70.22Z",
                        billing_street="12 rue de la République", billing_postcode="69002",
                        billing_city="Lyon", payment_terms="net_30")
    report = profile_report("account", account)
    assert codes(report["lead"]) == []
    assert codes(report["crm"]) == ["contact"]
    assert codes(report["erp"]) == ["contact"]
    f.contact(by=personas.owner, account=account, last_name="Durand", email="a@dupont.fr")
    assert profile_report("account", account) == {"lead": [], "crm": [], "erp": []}


def test_an_erp_customer_may_not_duplicate_another(personas):
    data = {"legal_name": "Dupont Conseil SARL", "email": "contact@dupont-conseil.fr",
            "phone": "04 72 00 00 01", "billing_street": "12 rue de la République",
            "billing_postcode": "69002", "billing_city": "Lyon", "billing_country": "FR",
            "siret": siret_with_check_digit(f.siren(5002), "0001"), "naf_code": "70.22Z",
            "payment_terms": "net_30"}
    first = f.account(by=personas.owner, **data)
    assert gaps("account", first, "erp", contacts=1) == []
    found = gaps("account", data, "erp", contacts=1)
    assert codes(found) == ["no_duplicate"]
    assert found[0].details["candidates"][0]["id"] == first.pk


def test_profiles_are_configurable(settings):
    settings.COMPTOIR_PROFILES = {"crm": {"account": ["legal_name", "field:billing_city"]}}
    found = gaps("account", {"legal_name": "Acme"}, "crm")
    assert [(g.requirement, g.fields) for g in found] == [("field:billing_city",
                                                          ["billing_city"])]
    settings.COMPTOIR_PROFILES = {"crm": {"account": ["nonsense"]}}
    with pytest.raises(ValueError, match="nonsense"):
        gaps("account", {}, "crm")


def test_gaps_over_the_api(api, personas, world):
    client = api(personas.owner)
    body = client.post("/quality/gaps", {"object": "lead", "data": {"company_name": "Acme"}}
                       ).expect(200)
    assert body["valid"] == {"lead": False, "crm": False, "erp": False}
    assert body["profiles"]["lead"][0]["requirement"] == "contact_means"
    mine = client.get(f"/quality/gaps/account/{world.mine.account.pk}").expect(200)
    assert mine["valid"]["crm"] is True
    assert mine["valid"]["erp"] is False
    client.get(f"/quality/gaps/account/{world.theirs.account.pk}").error(404)
    client.post("/quality/gaps", {"object": "account", "data": {}, "profile": "bank"}).error(422)

"""SIRENE over the API: search, lookup, enrichment proposal and apply, per persona."""

from __future__ import annotations

from comptoir.core.models import AuditEntry
from comptoir.testing import factories as f

from . import files as F


def test_search_by_name_and_postcode(api, register, personas):
    body = api(personas.owner).get("/sirene/search", params={
        "q": "dupond conseil sarl", "postcode": "75008"}).expect(200)
    first = body["items"][0]
    assert (first["siret"], first["name"], first["postcode"], first["closed"]) == (
        F.DUPONT_HQ, "DUPONT CONSEIL", "75008", False)
    assert first["score"] >= 80


def test_search_needs_a_name_and_a_session(api, register, personas):
    error = api(personas.owner).get("/sirene/search").error(422)
    assert "q" in str(error["fields"])
    api(None).get("/sirene/search", params={"q": "dupont"}).error(401)


def test_lookup_answers_422_404_and_the_entry(api, register, personas):
    client = api(personas.owner)
    error = client.get("/sirene/123456789").error(422)
    assert "SIREN" in error["fields"]["number"][0]
    assert "number" in client.get("/sirene/12345").error(422)["fields"]
    client.get(f"/sirene/{F.siren(77)}").error(404)
    body = client.get(f"/sirene/{F.DUPONT_LYON}").expect(200)
    assert body["street"] == "5 RUE DE LA REPUBLIQUE, BATIMENT A"
    assert client.get(f"/sirene/{F.CLOSED}").expect(200)["closed"] is True


def test_enrichment_proposal_and_visibility(api, register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    body = api(personas.owner).get(f"/accounts/{account.pk}/enrichment").expect(200)
    assert body["found"]
    assert not body["closed"]
    changes = {c["field"]: (c["current"], c["value"]) for c in body["changes"]}
    assert changes["naf_code"] == ("", "70.22Z")
    assert changes["billing_city"] == ("", "PARIS")
    assert body["kept"] == []
    api(personas.outsider).get(f"/accounts/{account.pk}/enrichment").error(404)
    api(personas.outsider).post(f"/accounts/{account.pk}/enrich", {}).error(404)
    api(personas.owner).get("/accounts/999999/enrichment").error(404)


def test_enrich_applies_chosen_fields_or_all(api, register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    client = api(personas.owner)
    body = client.post(f"/accounts/{account.pk}/enrich", {"fields": ["naf_code"]}).expect(200)
    assert [c["field"] for c in body["applied"]] == ["naf_code"]
    assert "naf_code" not in {c["field"] for c in body["proposal"]["changes"]}
    error = client.post(f"/accounts/{account.pk}/enrich", {"fields": ["phone"]}).error(422)
    assert "fields" in error["fields"]
    body = client.post(f"/accounts/{account.pk}/enrich", {}).expect(200)
    assert {c["field"] for c in body["applied"]} >= {"siret", "billing_city"}
    assert body["proposal"]["changes"] == []
    assert AuditEntry.objects.filter(object_id=account.pk, action="update",
                                     source="sirene").count() == 2


def test_enrich_a_closed_company_needs_named_fields(api, register, personas):
    account = f.account(by=personas.owner, legal_name="Martinet", siren=F.CLOSED)
    client = api(personas.owner)
    assert client.get(f"/accounts/{account.pk}/enrichment").expect(200)["closed"] is True
    client.post(f"/accounts/{account.pk}/enrich", {}).error(409)
    client.post(f"/accounts/{account.pk}/enrich", {"fields": ["naf_code"]}).expect(200)


def test_who_may_enrich(api, register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    # marketing sees every account (so the proposal) but changes none
    api(personas.marketing).get(f"/accounts/{account.pk}/enrichment").expect(200)
    api(personas.marketing).post(f"/accounts/{account.pk}/enrich", {}).error(403)
    # the owner's manager may: the audit names them
    api(personas.manager).post(f"/accounts/{account.pk}/enrich",
                               {"fields": ["naf_code"]}).expect(200)
    assert AuditEntry.objects.get(object_id=account.pk, action="update").user == \
        personas.manager

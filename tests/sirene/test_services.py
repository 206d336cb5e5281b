"""Lookup, search by name and postcode, enrichment proposals and applying them."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from comptoir.core.errors import Conflict, Forbidden, ValidationFailed
from comptoir.core.models import AuditEntry
from comptoir.sirene import services
from comptoir.sirene.models import SireneEstablishment
from comptoir.testing import factories as f

from . import files as F

# --- Lookup ---------------------------------------------------------------------------------


def test_lookup_by_siren_gives_the_unit_and_its_head_office(register):
    entry = services.lookup(F.DUPONT)
    assert entry is not None
    data = entry.as_dict()
    assert (data["name"], data["siret"], data["naf_code"], data["headcount_band"]) == (
        "DUPONT CONSEIL", F.DUPONT_HQ, "70.22Z", "11")
    assert data["street"] == "12 BIS AVENUE DES CHAMPS ELYSEES"
    assert (data["postcode"], data["city"], data["head_office"], data["closed"]) == (
        "75008", "PARIS", True, False)


def test_lookup_by_siret_gives_that_establishment(register):
    data = services.lookup(f"{F.DUPONT_LYON[:3]} {F.DUPONT_LYON[3:]}").as_dict()
    assert data["siret"] == F.DUPONT_LYON
    assert data["street"] == "5 RUE DE LA REPUBLIQUE, BATIMENT A"
    assert not data["head_office"]


def test_lookup_of_a_closed_company_says_so(register):
    data = services.lookup(F.CLOSED).as_dict()
    assert data["closed"]
    assert data["unit_closed"]
    assert data["establishment_closed"]


def test_lookup_refuses_invalid_numbers_and_misses_unknown_ones(register):
    with pytest.raises(ValueError, match="SIREN"):
        services.lookup("123456789")
    with pytest.raises(ValueError, match="SIRET"):
        services.lookup(F.DUPONT_HQ[:-1] + str((int(F.DUPONT_HQ[-1]) + 1) % 10))
    assert services.lookup(F.siren(77)) is None
    assert services.lookup(F.siret(F.siren(77))) is None


def test_street_types_and_repetitions_are_spelled_out():
    etab = SireneEstablishment(street_number="0007", repetition="T", street_type="CHE",
                               street_name="DES VIGNES", address_complement="LIEU DIT LE BAS")
    assert services.street_of(etab) == "7 TER CHEMIN DES VIGNES, LIEU DIT LE BAS"
    assert services.street_of(SireneEstablishment(street_type="ZI",
                                                  street_name="NORD")) == "ZONE INDUSTRIELLE NORD"


# --- Search ---------------------------------------------------------------------------------


def _sirets(hits: list[services.Hit]) -> list[str]:
    return [h.establishment.siret for h in hits if h.establishment]


@pytest.mark.parametrize("name", ["Dupont Conseil", "DUPONT CONSEIL S.A.R.L.",
                                  "Sté Dupont Conseil SAS", "Dupond Conseill", "dupont"])
def test_search_by_name_and_postcode_tolerates_legal_forms_and_typos(register, name):
    hits = services.search(name, "75008")
    assert _sirets(hits)[:1] == [F.DUPONT_HQ]
    assert hits[0].score >= 80


def test_search_by_department_and_ranking(register):
    hits = services.search("Dupont Conseil", "69")
    assert _sirets(hits)[0] == F.DUPONT_LYON
    assert F.BAKERY_HQ not in _sirets(hits)  # too far from the name
    assert services.search("Dupont Conseil", "38000") == []


def test_search_finds_sole_traders_and_establishment_signs(register):
    assert _sirets(services.search("Jeanne Martin", "69002"))[:1] == [F.MARTIN_HQ]
    assert _sirets(services.search("Martin Jeanne", "69002"))[:1] == [F.MARTIN_HQ]
    assert _sirets(services.search("Boulangerie du Parc", "69002"))[:1] == [F.BAKERY_HQ]


def test_search_without_postcode_searches_legal_units(register):
    hits = services.search("Durand Fils & Associés")
    assert [h.unit.siren for h in hits][:1] == [F.DURAND]
    assert hits[0].establishment.siret == F.DURAND_HQ
    data = hits[0].as_dict()
    assert data["city"] == "GRENOBLE"
    assert data["street"] == "1 CHEMIN DU MOULIN"


def test_search_lists_closed_ones_flagged(register):
    hits = services.search("Menuiserie Martinet", "69006")
    assert hits
    assert hits[0].as_dict()["closed"]


def test_search_with_nothing_to_search(register):
    assert services.search("  ", "69002") == []
    assert services.search("SARL", "abc") == []


# --- Enrichment proposal --------------------------------------------------------------------


def _changes(proposal: services.Proposal) -> dict[str, Any]:
    return {c.field: c.value for c in proposal.changes}


def test_proposal_from_the_siren_uses_the_head_office(register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil SARL", siren=F.DUPONT,
                        billing_city="Paris 8e")
    proposal = services.enrichment_for(account)
    assert proposal.found
    assert not proposal.closed
    assert _changes(proposal) == {
        "naf_code": "70.22Z", "siret": F.DUPONT_HQ,
        "billing_street": "12 BIS AVENUE DES CHAMPS ELYSEES", "billing_postcode": "75008",
        "headcount_band": "11",
    }  # the name and the city are the same once normalised: not proposed
    current = {c.field: c.current for c in proposal.changes}
    assert current["naf_code"] == ""
    assert current["siret"] == ""


def test_proposal_from_the_accounts_own_siret_uses_that_establishment(register, personas):
    account = f.account(by=personas.owner, legal_name="Agence de Lyon", siret=F.DUPONT_LYON,
                        billing_street="5 rue de la République, bâtiment A",
                        billing_postcode="69002", billing_city="Lyon", headcount_band="12")
    changes = _changes(services.enrichment_for(account))
    assert changes == {"legal_name": "DUPONT CONSEIL", "naf_code": "70.22Z",
                       "headcount_band": "11"}


def test_proposal_for_a_sole_trader_skips_an_unknown_headcount(register, personas):
    account = f.account(by=personas.owner, legal_name="Cabinet Martin", siren=F.MARTIN)
    changes = _changes(services.enrichment_for(account))
    assert changes["legal_name"] == "JEANNE MARTIN"
    assert "headcount_band" not in changes  # NN says nothing


def test_proposal_for_a_closed_company_is_flagged(register, personas):
    account = f.account(by=personas.owner, legal_name="Martinet", siren=F.CLOSED)
    proposal = services.enrichment_for(account)
    assert proposal.closed
    assert any("closed" in n for n in proposal.notes)
    assert proposal.changes  # shown, but never applied wholesale
    with pytest.raises(Conflict, match="closed"):
        services.account_enrich(account=account, user=personas.owner)
    applied = services.account_enrich(account=account, user=personas.owner, fields=["naf_code"])
    assert [c.field for c in applied] == ["naf_code"]
    account.refresh_from_db()
    assert account.naf_code == "16.23Z"
    assert account.billing_city == ""


def test_proposal_when_the_account_is_not_in_the_register(register, personas):
    no_ids = services.enrichment_for(f.account(by=personas.owner, legal_name="X"))
    assert not no_ids.found
    assert "search" in no_ids.notes[0]
    unknown = services.enrichment_for(f.account(by=personas.owner, siren=F.siren(88)))
    assert not unknown.found
    assert not unknown.changes
    own_siret_unknown = services.enrichment_for(
        f.account(by=personas.owner, legal_name="Dupont", siret=F.siret(F.DUPONT, 9)))
    assert own_siret_unknown.found
    assert not {"billing_street", "billing_city"} & set(_changes(own_siret_unknown))


def test_erp_owned_fields_are_kept_never_proposed(erp_account):
    proposal = services.enrichment_for(erp_account)
    assert {c.field for c in proposal.kept} == {"legal_name", "naf_code"}
    assert not {"legal_name", "naf_code"} & set(_changes(proposal))
    assert proposal.as_dict()["kept"][0]["reason"] == "owned by the ERP"
    with pytest.raises(ValidationFailed) as caught:
        services.account_enrich(account=erp_account, user=erp_account.owner,
                                fields=["naf_code"])
    assert "owned by the ERP" in caught.value.fields["fields"][0]
    applied = services.account_enrich(account=erp_account, user=erp_account.owner)
    assert {c.field for c in applied} == {"siret", "billing_street", "billing_postcode",
                                          "billing_city", "headcount_band"}


# --- Applying -------------------------------------------------------------------------------


def test_enrich_applies_through_the_account_service_with_audit(register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    applied = services.account_enrich(account=account, user=personas.owner)
    assert {c.field for c in applied} == {"naf_code", "siret", "billing_street",
                                          "billing_postcode", "billing_city", "headcount_band"}
    account.refresh_from_db()
    assert (account.siret, account.naf_code, account.billing_postcode, account.billing_city,
            account.headcount_band) == (F.DUPONT_HQ, "70.22Z", "75008", "PARIS", "11")
    entry = AuditEntry.objects.filter(object_type="account", object_id=account.pk,
                                      action="update").get()
    assert entry.source == "sirene"
    assert entry.user == personas.owner
    assert entry.changes["naf_code"] == ["", "70.22Z"]
    assert services.enrichment_for(account).changes == []
    assert services.account_enrich(account=account, user=personas.owner) == []  # nothing left


def test_enrich_only_the_chosen_fields(register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    services.account_enrich(account=account, user=personas.owner, fields=["naf_code"])
    account.refresh_from_db()
    assert account.naf_code == "70.22Z"
    assert account.siret == ""
    with pytest.raises(ValidationFailed):
        services.account_enrich(account=account, user=personas.owner, fields=["phone"])


def test_enrich_needs_the_right_to_change_the_account(register, personas):
    account = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    with pytest.raises(Forbidden):
        services.account_enrich(account=account, user=personas.outsider)
    account.refresh_from_db()
    assert account.naf_code == ""


# --- Command --------------------------------------------------------------------------------


def test_enrich_command_dry_run_then_apply(register, personas):
    missing = f.account(by=personas.owner, legal_name="Dupont Conseil", siren=F.DUPONT)
    closed = f.account(by=personas.owner, legal_name="Martinet", siren=F.CLOSED)
    f.account(by=personas.owner, legal_name="Sans SIREN")
    out = StringIO()
    call_command("sirene", "enrich", "--all-missing", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"#{missing.pk} Dupont Conseil: naf_code: '' → '70.22Z'" in text
    assert f"#{closed.pk} Martinet: The company (SIREN {F.CLOSED}) is closed" in text
    assert "2 account(s) read: 1 would change, 1 closed in SIRENE" in text
    missing.refresh_from_db()
    assert missing.naf_code == ""

    with pytest.raises(CommandError, match="--as"):
        call_command("sirene", "enrich", "--account", str(missing.pk), stdout=StringIO())
    out = StringIO()
    call_command("sirene", "enrich", "--account", str(missing.pk), "--as", "data_manager",
                 stdout=out)
    assert "1 changed" in out.getvalue()
    missing.refresh_from_db()
    closed.refresh_from_db()
    assert missing.naf_code == "70.22Z"
    assert closed.naf_code == ""
    assert AuditEntry.objects.get(object_id=missing.pk, action="update").user == \
        personas.data_manager

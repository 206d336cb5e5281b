"""Ready-made mappings (migration from Salesforce, Odoo, vCards) on realistic sample files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from comptoir.integration.engine.errors import ConfigError
from comptoir.integration.engine.files import file_headers, read_file
from comptoir.integration.engine.mapping import ConnectionMapping, load_mapping
from comptoir.integration.mappings import builtin_mapping, builtin_mappings

from .conftest import TARGETS


def mapping(name: str) -> ConnectionMapping:
    return load_mapping(builtin_mapping(name), targets=TARGETS, source=f"{name}.toml")


def run(name: str, path: Path, **options: Any) -> dict[str, list[tuple[str, dict[str, Any],
                                                                      dict[str, str]]]]:
    """What a loader would do: each record through every mapping of its stream that takes it,
    the file's columns checked first."""
    loaded = mapping(name)
    headers = file_headers(path)
    out: dict[str, list[tuple[str, dict[str, Any], dict[str, str]]]] = {}
    for stream in loaded.for_stream("rows"):
        assert stream.check_headers(headers) == []
        out[stream.name] = []
    for record in read_file(path, **options):
        assert record.error is None, record.error
        for stream in loaded.for_stream("rows"):
            if stream.matches(record):
                out[stream.name].append(stream.apply(record))
    return out


def test_every_builtin_mapping_is_valid() -> None:
    assert builtin_mappings() == [
        "hubspot_companies", "hubspot_contacts", "hubspot_deals", "hubspot_tickets", "odoo_leads",
        "odoo_opportunities", "odoo_partners", "odoo_tickets", "pipedrive_activities",
        "pipedrive_deals", "pipedrive_organizations", "pipedrive_persons", "salesforce_accounts",
        "salesforce_cases", "salesforce_contacts", "salesforce_leads", "salesforce_opportunities",
        "salesforce_tasks", "tryton", "vcard_contacts"]
    for name in builtin_mappings():
        assert mapping(name).streams
    with pytest.raises(ConfigError, match="No ready-made mapping 'sap'"):
        builtin_mapping("sap")


def test_salesforce_accounts(data_dir: Path) -> None:
    result = run("salesforce_accounts", data_dir / "salesforce_accounts.csv", key_field="ID")
    accounts = {key: (data, errors) for key, data, errors in result["rows"]}
    # The deleted account (ISDELETED = true) is left out.
    assert list(accounts) == ["0015g00000AbCdEAAV", "0015g00000AbCdFAAV", "0015g00000AbCdGAAV",
                              "0015g00000AbCdIAAV"]
    data, errors = accounts["0015g00000AbCdEAAV"]
    assert errors == {}
    assert data == {
        "legal_name": "Boulangeries Lefèvre & Fils", "status": "customer",
        "parent_external_id": None, "billing_street": "12 rue de la Paix Bâtiment B",
        "billing_postcode": "75002", "billing_city": "Paris", "billing_country": "FR",
        "shipping_street": "", "shipping_postcode": "", "shipping_city": "",
        "shipping_country": None, "phone": "+33 1 42 00 00 00",
        "website": "https://lefevre.example"}
    lyon, _ = accounts["0015g00000AbCdFAAV"]
    assert lyon["parent_external_id"] == "0015g00000AbCdEAAV"
    assert (lyon["shipping_city"], lyon["shipping_country"]) == ("Vénissieux", "FR")
    brussels, _ = accounts["0015g00000AbCdGAAV"]
    assert (brussels["status"], brussels["billing_country"]) == ("prospect", "BE")
    former, errors = accounts["0015g00000AbCdIAAV"]
    assert former["status"] == "former"
    assert errors == {"billing_country": '"BillingCountryCode" + "BillingCountry": "Atlantis" '
                                         "is not a known country (give its ISO code, e.g. FR)"}
    assert mapping("salesforce_accounts").streams["rows"].lookups == {
        "parent_external_id": "account"}


def test_salesforce_contacts(data_dir: Path) -> None:
    result = run("salesforce_contacts", data_dir / "salesforce_contacts.csv", key_field="ID")
    contacts = {key: (data, errors) for key, data, errors in result["rows"]}
    francois, errors = contacts["0035g00000XyZaAAAV"]
    assert errors == {}
    assert francois == {
        "account_external_id": "0015g00000AbCdEAAV", "civility": "M.", "first_name": "François",
        "last_name": "Lefèvre", "job_title": "Directeur général",
        "email": "f.lefevre@lefevre.example", "phone": "+33 1 42 00 00 01",
        "mobile": "+33 6 12 34 56 78", "marketing_consent": "unknown"}
    chloe, _ = contacts["0035g00000XyZbAAAV"]
    assert (chloe["civility"], chloe["marketing_consent"]) == ("Mme", "opt_out")
    orphan, errors = contacts["0035g00000XyZcAAAV"]
    assert orphan["civility"] == ""  # Dr. has no Comptoir civility
    assert errors == {"account_external_id": '"AccountId" is empty'}
    _zoe, errors = contacts["0035g00000XyZdAAAV"]
    assert errors == {"marketing_consent": '"HasOptedOutOfEmail": "maybe" is not a known value '
                                           "(expected one of: true, 1, false, 0)"}


def test_odoo_partners(data_dir: Path) -> None:
    result = run("odoo_partners", data_dir / "odoo_partners.csv", key_field="id")
    companies = {key: (data, errors) for key, data, errors in result["companies"]}
    persons = {key: (data, errors) for key, data, errors in result["persons"]}
    assert list(companies) == ["__export__.res_partner_7_a1b2c3d4", "base.main_partner"]
    # The invoice address is neither a company nor a person.
    assert list(persons) == ["__export__.res_partner_8_e5f6a7b8",
                             "__export__.res_partner_10_a3b4c5d6"]
    duboeuf, errors = companies["__export__.res_partner_7_a1b2c3d4"]
    assert errors == {}
    assert duboeuf == {
        "legal_name": "Menuiserie Dubœuf SARL", "parent_external_id": None,
        "vat_number": "FR12345678901", "siret": "12345678900012", "siren": "123456789",
        "billing_street": "14, avenue Jean Jaurès, ZA des Pins", "billing_postcode": "38000",
        "billing_city": "Grenoble", "billing_country": "FR", "phone": "04 76 00 00 00",
        "email": "contact@duboeuf.example", "website": "https://duboeuf.example",
        "credit_limit": None}
    demo, _ = companies["base.main_partner"]
    assert (demo["siret"], demo["siren"], demo["vat_number"]) == (None, None, "FR98765432109")
    jerome, errors = persons["__export__.res_partner_8_e5f6a7b8"]
    assert errors == {}
    assert jerome == {
        "account_external_id": "__export__.res_partner_7_a1b2c3d4", "civility": "M.",
        "first_name": None, "last_name": "Jérôme Dubœuf", "job_title": "Gérant",
        "email": "jerome@duboeuf.example", "phone": "04 76 00 00 01",
        "mobile": "06 11 22 33 44"}
    agnes, errors = persons["__export__.res_partner_10_a3b4c5d6"]
    assert agnes["civility"] == "Mme"
    assert errors == {"account_external_id": '"parent_id/id" is empty'}


def test_vcard_contacts(data_dir: Path) -> None:
    loaded = mapping("vcard_contacts")
    organisations, contacts = loaded.for_stream("rows")
    records = [r for r in read_file(data_dir / "contacts.vcf") if r.error is None]
    accounts = [organisations.apply(r) for r in records if organisations.matches(r)]
    assert [(key, data["legal_name"], errors) for key, data, errors in accounts] == [
        ("BOULANGERIES LEFÈVRE & FILS", "Boulangeries Lefèvre & Fils", {}),
        ("BOULANGERIES LEFÈVRE & FILS", "Boulangeries Lefèvre & Fils", {})]
    assert accounts[0][1]["billing_city"] == "Paris"
    people = [contacts.apply(r) for r in records if contacts.matches(r)]
    assert [(key, errors) for key, _data, errors in people] == [
        ("urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1", {}),
        ("chloe.garcon@lefevre.example", {}),
        ("zoe@solo.example", {"account_external_id": '"ORG" is empty'})]
    francois = people[0][1]
    assert francois == {
        "account_external_id": "BOULANGERIES LEFÈVRE & FILS", "civility": "M.",
        "first_name": "François", "last_name": "Lefèvre", "job_title": "Directeur général",
        "email": "francois@perso.example", "email_secondary": "f.lefevre@lefevre.example",
        "phone": "+33 1 42 00 00 01", "mobile": "+33 6 12 34 56 78"}
    assert people[1][1]["civility"] == "Mme"
    assert contacts.lookups == {"account_external_id": "account"}

"""Identifier checks and the comparable forms duplicate detection relies on."""

from __future__ import annotations

import pytest

from comptoir.quality import identifiers as ids


@pytest.mark.parametrize(("check", "good", "expected"), [
    (ids.check_siren, "732 829 320", "732829320"),
    (ids.check_siret, "732 829 320 00074", "73282932000074"),
    (ids.check_vat, "fr 40 303 265 045", "FR40303265045"),
    (ids.check_vat, "DE136695976", "DE136695976"),
    (ids.check_iban, "FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
    (ids.check_naf, "6201z", "62.01Z"),
    (ids.check_phone, "01 42 68 53 00", "+33142685300"),
    (ids.check_email, "Jean.Dupont@Example.FR", "Jean.Dupont@example.fr"),
])
def test_valid_identifiers_come_back_normalised(check, good, expected):
    assert check(good) == expected


@pytest.mark.parametrize(("check", "bad"), [
    (ids.check_siren, "732829321"),  # wrong check digit
    (ids.check_siren, "12345"),
    (ids.check_siret, "73282932000075"),
    (ids.check_vat, "FR00303265045"),
    (ids.check_iban, "FR7630006000011234567890188"),
    (ids.check_naf, "62-01"),
    (ids.check_phone, "12"),
    (ids.check_email, "jean@"),
])
def test_invalid_identifiers_are_refused_with_a_message(check, bad):
    with pytest.raises(ValueError, match=r".+"):
        check(bad)


def test_iban_is_shown_in_groups_of_four():
    assert ids.format_iban("FR7630006000011234567890189") == "FR76 3000 6000 0112 3456 7890 189"


def test_phones_become_e164_or_nothing():
    assert ids.normalize_phone("04 72 00 00 00") == "+33472000000"
    assert ids.normalize_phone("+33472000000") == "+33472000000"
    assert ids.normalize_phone("030 1234567", "DE") == "+49301234567"
    assert ids.normalize_phone("not a phone") == ""
    assert ids.normalize_phone("") == ""


def test_emails_compare_without_case_and_without_validation_cost():
    assert ids.normalize_email("  Jean.Dupont@Example.FR ") == "jean.dupont@example.fr"
    assert ids.normalize_email("mailto:a@b.fr") == "a@b.fr"
    assert ids.normalize_email("jean@localhost") == ""
    assert ids.normalize_email("two@at@signs.fr") == ""


@pytest.mark.parametrize(("raw", "key"), [
    ("Dupont & Fils S.A.R.L.", "dupont fils"),
    ("DUPONT ET FILS SARL", "dupont fils"),
    ("Établissements Martin SAS", "etablissements martin"),
    ("Ets Martin", "etablissements martin"),
    ("Société Dupont", "dupont"),
    ("Sté Dupont SA", "dupont"),
    ("L'Atelier d'Ascq SàRL", "atelier ascq"),
    ("Garage St Michel EURL", "garage saint michel"),
    ("Müller GmbH", "muller"),
    ("SAS", "sas"),  # nothing but a legal form: kept rather than emptied
])
def test_company_names_lose_case_accents_punctuation_and_legal_forms(raw, key):
    assert ids.company_name_key(raw) == key


def test_word_order_key_makes_swapped_words_equal():
    assert ids.word_order_key("Conseil Dupont SAS") == ids.word_order_key("dupont conseil")
    assert ids.word_order_key("Dupont Conseil") != ids.word_order_key("Dupont Transports")


def test_normalize_name_keeps_its_stored_behaviour():
    # ``Account.normalized_name`` holds this form: it must not change under existing rows
    assert ids.normalize_name("Dupont SARL") == "dupont"
    assert ids.normalize_name("Dupont et Fils") == "dupont et fils"
    assert ids.normalize_name("  Café-Théâtre  S.A.S. ") == "cafe theatre s a s"


@pytest.mark.parametrize(("name", "expected"), [
    ("東京商事株式会社", "東京商事株式会社"),  # never reduced to nothing
    ("Ελένη SA", "ελενη"),
    ("Société Œuvre & Fils", "societe oeuvre fils"),
    ("Straße GmbH", "strasse"),
    ("Ørsted A/S", "orsted a s"),
])
def test_normalize_name_keeps_every_script(name: str, expected: str) -> None:
    assert ids.normalize_name(name) == expected


def test_person_names_are_compared_whatever_the_order():
    assert ids.person_name_key("Jean-Pierre", "DE LA FONTAINE") == \
        ids.person_name_key("Fontaine", "Jean Pierre de la")


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("75008", "FR", "75008"),
    ("1000", "FR", "01000"),  # a spreadsheet dropped the leading zero
    ("F-69002", "FR", "69002"),
    ("97400", "RE", "97400"),
    ("1234ab", "NL", "1234 AB"),
    ("sw1a1aa", "GB", "SW1A 1AA"),
    ("L-1234", "LU", "1234"),
    ("1234567", "PT", "1234-567"),
    ("10115", "DE", "10115"),
    ("AB-12", "ZZ", "AB-12"),  # no known shape: anything reasonable
])
def test_postcodes_by_country(value, country, expected):
    assert ids.check_postcode(value, country) == expected


@pytest.mark.parametrize(("value", "country"), [
    ("00100", "FR"), ("0750", "BE"), ("123456", "FR"), ("ABCDE", "DE"), ("99999", "ES"),
])
def test_invalid_postcodes_are_refused(value, country):
    with pytest.raises(ValueError, match=r".+"):
        ids.check_postcode(value, country)


def test_countries_from_codes_and_common_names():
    assert ids.country_code("fr") == "FR"
    assert ids.country_code("Allemagne") == "DE"
    assert ids.country_code("united kingdom") == "GB"
    assert ids.country_code("DEU") == "DE"
    assert ids.country_code("Atlantis") == ""
    assert len(ids.ISO_COUNTRIES) == 249
    with pytest.raises(ValueError, match="ISO"):
        ids.check_country("Atlantis")


def test_siren_is_found_through_siret_or_french_vat():
    assert ids.siren_from("", "73282932000074") == "732829320"
    assert ids.siren_from("", "", "FR40303265045") == "303265045"
    assert ids.siren_from("732829321") == ""  # invalid check digit
    assert ids.siren_from("", "", "DE136695976") == ""


def test_company_domain_prefers_the_website_and_ignores_free_mail():
    assert ids.company_domain("a@dupont.fr", "https://www.dupont-conseil.fr/contact") == \
        "dupont-conseil.fr"
    assert ids.company_domain("Jean@Dupont.FR", "") == "dupont.fr"
    assert ids.company_domain("jean.dupont@gmail.com", "") == ""


def test_addresses_are_compared_on_their_normalised_form():
    assert ids.street_key("12 bis, av. du Gal de Gaulle") == ("12bis",
                                                             "avenue du general de gaulle")
    assert ids.street_key("12 avenue du Général de Gaulle") == ("12",
                                                                "avenue du general de gaulle")
    assert ids.city_key("ST-DENIS CEDEX 2") == "saint denis"
    assert ids.city_key("Paris 8e") == "paris"

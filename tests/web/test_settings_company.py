"""Settings › Company: the profile printed on the documents (administrators only)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from comptoir.core import company
from comptoir.core.models import CompanyProfile

FORM = {
    "legal_name": "Martin Équipements", "trade_name": "Martin Pro", "legal_form": "SAS",
    "share_capital": "50 000", "street": "12 rue de la République", "street2": "",
    "postcode": "69002", "city": "Lyon", "country": "FR", "phone": "04 72 10 20 30",
    "email": "compta@martin-pro.fr", "website": "www.martin-pro.fr", "siren": "123 456 782",
    "siret": "123 456 782 00010", "vat_number": "FR 11 123456782", "rcs": "RCS Lyon",
    "naf_code": "46.69B", "bank_name": "Banque de Lyon",
    "iban": "FR76 3000 4012 3400 0123 4567 862", "bic": "BNPAFRPPLYO",
    "payment_terms": "30 jours fin de mois", "late_penalty_rate": "12,5",
    "recovery_indemnity": "40", "early_payment_discount": "", "quote_validity_days": "30",
    "footer": "",
}
URL = "/settings/company/"


def png(fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (90, 30), (200, 40, 40)).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def admin_client(admin: Any, client_for: Any) -> Any:
    return client_for(admin)


def test_the_route_is_the_settings_one(db: None) -> None:
    assert reverse("web:settings_company") == URL


@pytest.mark.parametrize("persona", ["owner", "manager", "data_manager", "marketing",
                                     "service_user"])
def test_non_admins_get_a_404_and_change_nothing(request: pytest.FixtureRequest,
                                                 client_for: Any, persona: str) -> None:
    client = client_for(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 404
    assert client.post(URL, FORM).status_code == 404
    assert client.get(reverse("web:settings_company_logo")).status_code == 404
    assert not CompanyProfile.objects.exists()


def test_anonymous_is_sent_to_sign_in(client: Any, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_admin_fills_in_the_profile(admin_client: Any) -> None:
    html = admin_client.get(URL).content.decode()
    for section in ("Identity", "Address and contact", "Registration", "Bank details",
                    "Payment terms and legal mentions"):
        assert f">{section}</h2>" in html
    assert "No logo yet" in html
    assert "today “Comptoir”" in html
    response = admin_client.post(URL, {**FORM, "logo": SimpleUploadedFile("logo.png", png())})
    assert response.status_code == 302
    assert response["Location"] == URL
    profile = company.company_profile()
    assert (profile.siren, profile.siret, profile.vat_number, profile.iban) == (
        "123456782", "12345678200010", "FR11123456782", "FR7630004012340001234567862")
    assert str(profile.share_capital) == "50000.00"
    assert str(profile.late_penalty_rate) == "12.50"
    assert profile.logo.name.startswith("company/logo-")
    html = admin_client.get(URL).content.decode()
    assert "Company profile saved" in html
    assert 'value="Martin Équipements"' in html
    assert reverse("web:settings_company_logo") in html  # the preview
    assert 'name="remove_logo"' in html
    logo = admin_client.get(reverse("web:settings_company_logo"))
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert b"".join(logo.streaming_content) == png()
    assert logo["X-Content-Type-Options"] == "nosniff"


def test_errors_are_shown_next_to_their_fields_and_nothing_is_lost(admin_client: Any) -> None:
    bad = {**FORM, "siren": "123 456 789", "iban": "FR76 0000", "email": "compta@",
           "late_penalty_rate": "abc", "legal_name": ""}
    response = admin_client.post(URL, bad)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_siren_error"' in html
    assert "Not a valid SIREN" in html
    assert 'id="id_iban_error"' in html
    assert "Not a valid IBAN" in html
    assert 'id="id_legal_name_error"' in html
    assert 'id="id_late_penalty_rate_error"' in html
    assert 'value="123 456 789"' in html  # as typed
    assert 'value="Lyon"' in html
    assert "Nothing was saved" in html
    assert not CompanyProfile.objects.exists()
    response = admin_client.post(URL, {**FORM, "email": "compta@"})  # the service's check
    assert 'id="id_email_error"' in response.content.decode()


def test_a_bad_logo_is_refused_on_its_field(admin_client: Any) -> None:
    svg = SimpleUploadedFile("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                             "image/svg+xml")
    html = admin_client.post(URL, {**FORM, "logo": svg}).content.decode()
    assert 'id="id_logo_error"' in html
    assert "SVG" in html
    assert not CompanyProfile.objects.exists()


def test_a_good_logo_sent_with_a_bad_field_must_be_chosen_again(admin_client: Any) -> None:
    html = admin_client.post(URL, {**FORM, "siren": "1", "logo": SimpleUploadedFile(
        "logo.png", png())}).content.decode()
    assert "choose it again" in html


def test_the_logo_can_be_removed(admin_client: Any, media_root: Path) -> None:
    admin_client.post(URL, {**FORM, "logo": SimpleUploadedFile("logo.jpg", png("JPEG"))})
    name = company.company_profile().logo.name
    assert name.endswith(".jpg")
    assert (media_root / name).exists()
    response = admin_client.post(URL, {**FORM, "remove_logo": "on"})
    assert response.status_code == 302
    assert not company.company_profile().logo
    assert admin_client.get(reverse("web:settings_company_logo")).status_code == 404


def test_french_page(admin: Any, client_for: Any) -> None:
    client = client_for(admin, language="fr")
    html = client.get(URL).content.decode()
    assert "<h1>Entreprise</h1>" in html
    assert ">Coordonnées bancaires</h2>" in html
    assert ">Identité</h2>" in html
    html = client.post(URL, {**FORM, "siren": "123456789"}).content.decode()
    assert "SIREN non valide (9 chiffres avec une clé de contrôle valide)." in html
    assert "Rien n’a été enregistré" in html


def test_the_settings_index_shows_the_company_card(admin_client: Any, admin: Any) -> None:
    html = admin_client.get("/settings/").content.decode()
    assert f'href="{URL}"' in html
    assert "Not filled in yet" in html
    company.company_profile_update(user=admin, data={**FORM, "share_capital": "50000",
                                                     "late_penalty_rate": "12.5"})
    assert "Martin Équipements" in admin_client.get("/settings/").content.decode()

"""The company profile (``comptoir.core.company``) and the seller it puts on the PDFs."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import translation
from PIL import Image

from comptoir.core import company
from comptoir.core.errors import ValidationFailed
from comptoir.core.models import CompanyProfile
from comptoir.sales import pdf
from comptoir.sales.models import SalesDocument
from comptoir.testing import factories

VALID = {
    "legal_name": "Martin Équipements", "trade_name": "Martin Pro", "legal_form": "SAS",
    "share_capital": "50000", "street": "12 rue de la République", "postcode": "69002",
    "city": "Lyon", "country": "FR", "siren": "123 456 782", "siret": "123.456.782.00010",
    "vat_number": "fr 11 123 456 782", "rcs": "RCS Lyon", "naf_code": "4669b",
    "phone": "04 72 10 20 30", "email": "compta@martin-pro.fr", "website": "www.martin-pro.fr",
    "bank_name": "Banque de Lyon", "iban": "fr76 3000 4012 3400 0123 4567 862",
    "bic": "bnpa fr pp lyo", "payment_terms": "30 jours fin de mois",
    "late_penalty_rate": "12,5", "recovery_indemnity": "40", "early_payment_discount": "",
    "quote_validity_days": "45", "footer": "Membre d’une association agréée.",
}


def png(size: tuple[int, int] = (120, 40), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 90, 200)).save(out, fmt)
    return out.getvalue()


def page_text(data: bytes) -> str:
    return data.decode("latin-1")


def shown(data: bytes, text: str) -> bool:
    """Whether ``text`` is drawn (see ``tests/test_sales_pdf.py``: cp1252, octal escapes)."""
    out = []
    for byte in text.replace("\xa0", " ").encode("cp1252"):
        ch = chr(byte)
        out.append(f"\\{byte:03o}" if byte > 127 else "\\" + ch if ch in "\\()" else ch)
    return "".join(out) in page_text(data)


@pytest.fixture
def profile(admin: Any) -> CompanyProfile:
    return company.company_profile_update(user=admin, data=VALID)


# --- Reading -------------------------------------------------------------------------------

def test_without_a_profile_reading_writes_nothing_and_the_seller_falls_back(
        db: None, settings: Any) -> None:
    profile = company.company_profile()
    assert profile.pk == company.PROFILE_PK
    assert profile._state.adding
    assert profile.recovery_indemnity == 40
    assert profile.quote_validity_days == 30
    assert not CompanyProfile.objects.exists()
    assert company.seller_name() == "Comptoir"
    settings.COMPTOIR_COMPANY_NAME = "Établissements Martin"
    assert company.seller_name() == "Établissements Martin"


def test_one_profile_only(profile: CompanyProfile) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CompanyProfile.objects.create(pk=2, legal_name="Another")
    assert company.company_profile().legal_name == "Martin Équipements"


# --- Checking and normalising --------------------------------------------------------------

def test_identifiers_are_accepted_as_pasted_and_stored_compact(profile: CompanyProfile) -> None:
    profile.refresh_from_db()
    assert profile.siren == "123456782"
    assert profile.siret == "12345678200010"
    assert profile.vat_number == "FR11123456782"
    assert profile.iban == "FR7630004012340001234567862"
    assert profile.bic == "BNPAFRPPLYO"
    assert profile.naf_code == "46.69B"
    assert profile.phone == "+33472102030"
    assert profile.website == "https://www.martin-pro.fr"
    assert profile.share_capital == Decimal("50000")
    assert profile.late_penalty_rate == Decimal("12.5")
    assert profile.quote_validity_days == 45
    assert company.seller_name() == "Martin Pro"


def test_the_siren_comes_from_the_siret_when_left_blank(admin: Any) -> None:
    saved = company.company_profile_update(user=admin, data={**VALID, "siren": ""})
    assert saved.siren == "123456782"


def test_every_wrong_field_gets_its_own_message(admin: Any) -> None:
    bad = {**VALID, "legal_name": " ", "siren": "123 456 789", "siret": "1234",
           "vat_number": "FR00123456789", "iban": "FR76 3000 4012 3400 0123 4567 800",
           "bic": "BNP", "naf_code": "ABC", "phone": "12", "email": "compta@",
           "website": "not a site", "country": "France", "late_penalty_rate": "abc",
           "share_capital": "-5", "quote_validity_days": "0"}
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        company.company_profile_update(user=admin, data=bad)
    fields = caught.value.fields
    assert set(fields) == {"legal_name", "siren", "siret", "vat_number", "iban", "bic",
                           "naf_code", "phone", "email", "website", "country",
                           "late_penalty_rate", "share_capital", "quote_validity_days"}
    assert "SIREN" in fields["siren"][0]
    assert "IBAN" in fields["iban"][0]
    assert not CompanyProfile.objects.exists()  # nothing half-saved


def test_siret_and_vat_must_belong_to_the_siren(admin: Any) -> None:
    other = {**VALID, "siret": "89712345100014", "vat_number": "FR23897123451"}
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        company.company_profile_update(user=admin, data=other)
    assert "897 123 451" in caught.value.fields["siret"][0]
    assert "897 123 451" in caught.value.fields["vat_number"][0]


def test_other_eu_vat_numbers_are_accepted(admin: Any) -> None:
    data = {**VALID, "country": "BE", "postcode": "1000", "siren": "", "siret": "",
            "vat_number": "BE 0403.170.701", "phone": "+32 2 123 45 67"}
    saved = company.company_profile_update(user=admin, data=data)
    assert saved.vat_number == "BE0403170701"
    assert saved.phone == "+3221234567"


def test_french_messages(admin: Any) -> None:
    with translation.override("fr"), pytest.raises(ValidationFailed) as caught:
        company.company_profile_update(user=admin, data={**VALID, "siren": "123456789"})
    assert caught.value.fields["siren"] == [
        "SIREN non valide (9 chiffres avec une clé de contrôle valide)."]


# --- Logo ----------------------------------------------------------------------------------

def test_a_png_logo_is_stored_and_replaced(admin: Any, media_root: Path,
                                           django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        saved = company.company_profile_update(
            user=admin, data=VALID, logo=SimpleUploadedFile("logo.png", png()))
    first = saved.logo.name
    assert re.fullmatch(r"company/logo-[0-9a-f]{12}\.png", first)
    assert (media_root / first).read_bytes() == png()
    with django_capture_on_commit_callbacks(execute=True):
        saved = company.company_profile_update(
            user=admin, data=VALID,
            logo=SimpleUploadedFile("photo.jpeg", png(fmt="JPEG"), "image/jpeg"))
    assert saved.logo.name.endswith(".jpg")
    assert not (media_root / first).exists()  # the replaced file is gone
    with django_capture_on_commit_callbacks(execute=True):
        saved = company.company_profile_update(user=admin, data=VALID, remove_logo=True)
    assert not saved.logo
    assert not list((media_root / "company").iterdir())


@pytest.mark.parametrize(("name", "content", "message"), [
    ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
    ("logo.png", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG"),
    ("logo.png", b"\x89PNG\r\n\x1a\n" + b"not really an image" * 10, "not a PNG or JPEG"),
    ("logo.gif", b"GIF89a" + b"\x00" * 40, "not a PNG or JPEG"),
    ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (company.LOGO_MAX_BYTES + 1), "too large"),
])
def test_a_bad_logo_is_refused_on_its_field(admin: Any, name: str, content: bytes,
                                             message: str) -> None:
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        company.company_profile_update(user=admin, data=VALID,
                                       logo=SimpleUploadedFile(name, content))
    assert message in caught.value.fields["logo"][0]
    assert not CompanyProfile.objects.exists()


def test_a_truncated_png_is_refused(admin: Any) -> None:
    data = png((400, 300))
    with pytest.raises(ValidationFailed) as caught:
        company.company_profile_update(user=admin, data=VALID,
                                       logo=SimpleUploadedFile("logo.png", data[:200]))
    assert "logo" in caught.value.fields


# --- On the PDFs ---------------------------------------------------------------------------

@pytest.fixture
def documents(world: Any) -> dict[str, SalesDocument]:
    def make(kind: str) -> SalesDocument:
        return factories.sales_document(by=world.personas.owner, account=world.mine.account,
                                        kind=kind)
    return {"quote": make(SalesDocument.Kind.QUOTE), "invoice": make(SalesDocument.Kind.INVOICE),
            "credit_note": make(SalesDocument.Kind.CREDIT_NOTE)}


def test_french_invoice_carries_the_legal_mentions(profile: CompanyProfile,
                                                   documents: dict[str, SalesDocument]
                                                   ) -> None:
    with translation.override("fr"):
        data = pdf.render_salesdocument(documents["invoice"], compress=False)
    assert not shown(data, "Comptoir")
    for text in ("Martin Pro", "12 rue de la République", "69002 Lyon", "04 72 10 20 30",
                 # footer: identity and registrations
                 "Martin Équipements", "SAS au capital de 50\xa0000\xa0€",
                 "RCS Lyon 123 456 782", "SIRET 123 456 782 00010", "FR11123456782",
                 "46.69B",
                 # payment
                 "Conditions de paiement : 30 jours fin de mois",
                 "Pas d’escompte pour paiement anticipé.",
                 "12,5\xa0% par an",
                 "indemnité forfaitaire pour frais de recouvrement de 40\xa0€",
                 "L441-10",
                 "IBAN : FR76 3000 4012 3400 0123 4567 862", "BIC : BNPAFRPPLYO",
                 "Banque de Lyon", "Membre d’une association agréée."):
        assert shown(data, text), text


def test_french_quote_has_its_validity_and_terms_but_no_bank_details(
        profile: CompanyProfile, documents: dict[str, SalesDocument]) -> None:
    quote = documents["quote"]
    quote.valid_until = None
    quote.save(update_fields=["valid_until"])
    with translation.override("fr"):
        data = pdf.render_salesdocument(quote, compress=False)
    assert shown(data, "Conditions de paiement : 30 jours fin de mois")
    assert shown(data, "Ce devis est valable 45 jours à compter de sa date.")
    assert shown(data, "« Bon pour accord »")
    assert shown(data, "RCS Lyon 123 456 782")
    assert not shown(data, "IBAN")
    assert not shown(data, "recouvrement")


def test_the_account_payment_terms_win_and_the_discount_is_printed(
        profile: CompanyProfile, admin: Any, documents: dict[str, SalesDocument]) -> None:
    invoice = documents["invoice"]
    invoice.account.payment_terms = "net_60"
    invoice.account.save(update_fields=["payment_terms"])
    company.company_profile_update(user=admin, data={
        **VALID, "early_payment_discount": "2 % pour paiement sous 8 jours",
        "late_penalty_rate": ""})
    with translation.override("en"):
        data = pdf.render_salesdocument(invoice, compress=False)
    assert shown(data, "Payment terms: 60 days")
    assert shown(data, "Early payment discount: 2 % pour paiement sous 8 jours")
    assert shown(data, "refinancing rate plus 10 points")
    assert shown(data, "fixed indemnity for recovery costs of €40")


def test_credit_note_has_the_identity_but_no_payment_mentions(
        profile: CompanyProfile, documents: dict[str, SalesDocument]) -> None:
    with translation.override("en"):
        data = pdf.render_salesdocument(documents["credit_note"], compress=False)
    assert shown(data, "SAS with a share capital of €50,000")
    assert not shown(data, "Late payment")
    assert not shown(data, "IBAN")


def test_the_footer_is_on_every_page(profile: CompanyProfile, world: Any) -> None:
    lines = [{"description": f"Item number {n}", "quantity": Decimal(1), "unit_price":
              Decimal("1.00"), "tax_rate": Decimal("20")} for n in range(1, 121)]
    doc = factories.sales_document(by=world.personas.owner, account=world.mine.account,
                                   kind=SalesDocument.Kind.INVOICE, lines=lines)
    with translation.override("en"):
        data = pdf.render_salesdocument(doc, compress=False)
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert pages >= 3
    assert page_text(data).count("RCS Lyon 123 456 782") == pages


def test_the_logo_is_drawn_and_a_lost_file_does_not_stop_the_pdf(
        admin: Any, documents: dict[str, SalesDocument], media_root: Path) -> None:
    saved = company.company_profile_update(
        user=admin, data=VALID, logo=SimpleUploadedFile("logo.png", png()))
    data = pdf.render_salesdocument(documents["quote"], compress=False)
    assert b"/Subtype /Image" in data
    (media_root / saved.logo.name).unlink()
    data = pdf.render_salesdocument(documents["quote"], compress=False)
    assert data.startswith(b"%PDF")
    assert b"/Subtype /Image" not in data


def test_without_a_profile_the_pdf_keeps_the_plain_seller(
        documents: dict[str, SalesDocument], settings: Any) -> None:
    settings.COMPTOIR_COMPANY_NAME = "Établissements Martin"
    with translation.override("en"):
        data = pdf.render_salesdocument(documents["invoice"], compress=False)
    assert shown(data, "Établissements Martin")
    assert shown(data, "No discount for early payment.")
    assert not shown(data, "IBAN")


# --- Demo ----------------------------------------------------------------------------------

def test_the_demo_company_passes_the_checks_and_is_loaded_once(db: None) -> None:
    from comptoir.crm.models import LostReason
    from comptoir.demo import data as demo_data
    from comptoir.demo.company import DEMO_COMPANY, load_demo_company, load_demo_lost_reasons

    assert company.clean_profile(DEMO_COMPANY)["siren"] == "842317653"  # every check passes
    assert load_demo_company()
    assert company.seller_name() == "Delaunay Équipements"
    assert not load_demo_company()  # an existing profile is left alone
    assert load_demo_lost_reasons() == len(demo_data.LOST_REASONS)
    assert list(LostReason.objects.values_list("name", flat=True)) == list(
        demo_data.LOST_REASONS)
    assert load_demo_lost_reasons() == 0

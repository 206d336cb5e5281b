"""The company that issues the documents: its profile, read by PDFs and edited in Settings.

One row (``pk=1``, held by a check constraint). Reading never writes: without a stored row,
:func:`company_profile` gives an unsaved profile with the defaults, so a fresh install prints
its documents under ``COMPTOIR_COMPANY_NAME`` (or "Comptoir") until an administrator fills the
profile in. :func:`company_profile_update` creates the row on the first save.

Identifiers are accepted the way people paste them (``528 960 354``, ``528.960.354``, a VAT
number with spaces, an IBAN in groups of four) and stored compact, checked with python-stdnum
(the check digits, and that the SIRET and a French VAT number belong to the SIREN). The logo
must be a real PNG or JPEG (the bytes are read, not the name or the browser's type: reportlab
cannot draw an SVG) of at most :data:`LOGO_MAX_BYTES`.

Who may call the update is the caller's business (the Settings page is for administrators
only): ``core`` sits below ``access`` and does not import it. The profile has no object type of
its own in the audit trail, so its changes are logged to ``comptoir.admin`` with who made them,
as the other configuration writes are.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils.translation import gettext as _
from stdnum import bic, iban
from stdnum.eu import vat
from stdnum.fr import siren, siret

from .errors import ValidationFailed
from .models import CompanyProfile

log = logging.getLogger("comptoir.admin")

PROFILE_PK = 1
DEFAULT_SELLER = "Comptoir"
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_PIXELS = 25_000_000  # a small file may still unpack to a huge bitmap
LOGO_TYPES = {"PNG": "png", "JPEG": "jpg"}
EDITABLE = (
    "legal_name", "trade_name", "legal_form", "share_capital", "street", "street2", "postcode",
    "city", "country", "siren", "siret", "vat_number", "rcs", "naf_code", "phone", "email",
    "website", "bank_name", "iban", "bic", "payment_terms", "late_penalty_rate",
    "recovery_indemnity", "early_payment_discount", "quote_validity_days", "footer",
)
_SEPARATORS = re.compile(r"[\s\u00a0\u202f.\-/]")
_NAF = re.compile(r"^\d{2}\.?\d{2}[A-Z]$")
_FR_POSTCODE = re.compile(r"^\d{5}$")


# --- Reading -------------------------------------------------------------------------------

def company_profile() -> CompanyProfile:
    """The stored profile, or an unsaved one with the defaults (reading never writes)."""
    return CompanyProfile.objects.filter(pk=PROFILE_PK).first() or CompanyProfile(pk=PROFILE_PK)


def seller_name(profile: CompanyProfile | None = None) -> str:
    """The name printed as the seller: the profile's trade or legal name, else the
    ``COMPTOIR_COMPANY_NAME`` setting, else "Comptoir"."""
    profile = company_profile() if profile is None else profile
    return (profile.trade_name or profile.legal_name
            or str(getattr(settings, "COMPTOIR_COMPANY_NAME", "") or DEFAULT_SELLER))


def format_siren(value: str) -> str:
    return str(siren.format(value)) if value and siren.is_valid(value) else value


def format_siret(value: str) -> str:
    return str(siret.format(value)) if value and siret.is_valid(value) else value


def format_iban(value: str) -> str:
    return str(iban.format(value)) if value and iban.is_valid(value) else value


def format_phone(value: str, country: str = "FR") -> str:
    """A stored E.164 number in its country's national format (``01 42 68 53 00``) for a
    number of ``country``, else in the international format."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, country or "FR")
    except phonenumbers.NumberParseException:
        return value
    same = phonenumbers.region_code_for_number(number) == (country or "FR")
    kind = (phonenumbers.PhoneNumberFormat.NATIONAL if same
            else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return str(phonenumbers.format_number(number, kind))


# --- Checking ------------------------------------------------------------------------------

def _compact(value: Any) -> str:
    return _SEPARATORS.sub("", str(value or "")).upper()


def _text(value: Any) -> str:
    return str(value or "").strip()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(_("Enter a number.")) from exc
    if not number.is_finite():
        raise ValueError(_("Enter a number."))
    return number


def _identifiers(values: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """SIREN, SIRET, VAT, NAF, IBAN and BIC compacted and checked in place."""
    for name in ("siren", "siret", "vat_number", "iban", "bic"):
        values[name] = _compact(values.get(name))
    naf = _text(values.get("naf_code")).upper().replace(" ", "")
    if values["siren"] and not siren.is_valid(values["siren"]):
        errors["siren"] = [_("Not a valid SIREN (9 digits with a valid check digit).")]
    if values["siret"]:
        if not siret.is_valid(values["siret"]):
            errors["siret"] = [_("Not a valid SIRET (14 digits with a valid check digit).")]
        elif not values["siren"]:
            values["siren"] = values["siret"][:9]  # the SIRET starts with the SIREN
        elif "siren" not in errors and values["siret"][:9] != values["siren"]:
            errors["siret"] = [_("This SIRET belongs to SIREN %(siren)s, not to %(this)s: "
                                 "a SIRET starts with the company’s SIREN.")
                               % {"siren": format_siren(values["siret"][:9]),
                                  "this": format_siren(values["siren"])}]
    if values["vat_number"]:
        number = values["vat_number"]
        if not vat.is_valid(number):
            errors["vat_number"] = [_("Not a valid EU VAT number (e.g. FR32123456789: the "
                                      "country code, then the number).")]
        elif (number.startswith("FR") and values["siren"] and "siren" not in errors
              and number[-9:] != values["siren"]):
            errors["vat_number"] = [_("This French VAT number belongs to SIREN %(siren)s, not "
                                      "to %(this)s.") % {"siren": format_siren(number[-9:]),
                                                         "this": format_siren(values["siren"])}]
    if naf:
        if _NAF.match(naf):
            values["naf_code"] = naf if "." in naf else f"{naf[:2]}.{naf[2:]}"
        else:
            values["naf_code"] = naf
            errors["naf_code"] = [_("Not a valid NAF code (e.g. 62.01Z).")]
    else:
        values["naf_code"] = ""
    if values["iban"] and not iban.is_valid(values["iban"]):
        errors["iban"] = [_("Not a valid IBAN (check the digits: e.g. FR76 3000 6000 0112 "
                            "3456 7890 189).")]
    if values["bic"] and not bic.is_valid(values["bic"]):
        errors["bic"] = [_("Not a valid BIC (8 or 11 characters, e.g. BNPAFRPP).")]


def _contact(values: dict[str, Any], errors: dict[str, list[str]]) -> None:
    country = _text(values.get("country")).upper()
    values["country"] = country
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        errors["country"] = [_("Enter a two-letter country code (FR, BE, DE…).")]
    postcode = _text(values.get("postcode"))
    values["postcode"] = postcode
    if postcode and country == "FR" and not _FR_POSTCODE.match(postcode.replace(" ", "")):
        errors["postcode"] = [_("A French postcode has 5 digits.")]
    elif country == "FR":
        values["postcode"] = postcode.replace(" ", "")
    phone = _text(values.get("phone"))
    values["phone"] = phone
    if phone:
        try:
            number = phonenumbers.parse(phone, country if "country" not in errors and country
                                        else "FR")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            errors["phone"] = [_("Not a phone number.")]
        else:
            values["phone"] = phonenumbers.format_number(number,
                                                         phonenumbers.PhoneNumberFormat.E164)
    email = _text(values.get("email"))
    values["email"] = email
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Not a valid e-mail address (e.g. contact@example.fr).")]
    website = _text(values.get("website"))
    if website and "://" not in website:
        website = f"https://{website}"
    values["website"] = website
    if website:
        try:
            URLValidator(schemes=["http", "https"])(website)
        except ValidationError:
            errors["website"] = [_("Not a valid web address (e.g. www.example.fr).")]


def _amounts(values: dict[str, Any], errors: dict[str, list[str]]) -> None:
    bounds = {"share_capital": (Decimal(0), Decimal("9999999999999")),
              "late_penalty_rate": (Decimal(0), Decimal(100)),
              "recovery_indemnity": (Decimal(0), Decimal("999999"))}
    for name, (low, high) in bounds.items():
        try:
            number = _decimal(values.get(name))
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        if number is not None and not low <= number <= high:
            errors[name] = [_("Enter a number between %(low)s and %(high)s.")
                            % {"low": low, "high": high}]
        elif number is not None and number != number.quantize(Decimal("0.01")):
            errors[name] = [_("At most two decimals.")]
        values[name] = number
    if values.get("recovery_indemnity") is None and "recovery_indemnity" not in errors:
        values["recovery_indemnity"] = Decimal(40)  # the amount French law sets (D441-5)
    days = values.get("quote_validity_days")
    try:
        days = int(str(days).strip()) if days not in (None, "") else 30
    except ValueError:
        errors["quote_validity_days"] = [_("Enter a whole number of days.")]
        return
    if not 1 <= days <= 3650:
        errors["quote_validity_days"] = [_("Enter a number of days between 1 and 3650.")]
    values["quote_validity_days"] = days


def clean_profile(data: Mapping[str, Any]) -> dict[str, Any]:
    """The editable values of ``data`` normalised; ``ValidationFailed`` with a message per
    field when any is wrong (every field is checked, so all errors show at once)."""
    values: dict[str, Any] = {name: data.get(name) for name in EDITABLE}
    errors: dict[str, list[str]] = {}
    for name in ("legal_name", "trade_name", "legal_form", "street", "street2", "city", "rcs",
                 "bank_name", "payment_terms", "early_payment_discount"):
        values[name] = _text(values[name])
    values["footer"] = str(values["footer"] or "").strip()
    if not values["legal_name"]:
        errors["legal_name"] = [_("The legal name is printed on every quote and invoice: "
                                  "enter it.")]
    _identifiers(values, errors)
    _contact(values, errors)
    _amounts(values, errors)
    for field in CompanyProfile._meta.concrete_fields:
        value = values.get(field.name)
        limit = getattr(field, "max_length", None)
        if (limit and isinstance(value, str) and len(value) > limit
                and field.name not in errors):
            errors[field.name] = [_("At most %(n)d characters.") % {"n": limit}]
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)
    return values


def check_logo(upload: Any) -> tuple[bytes, str]:
    """The bytes of an uploaded logo and its extension (``png``, ``jpg``), or
    ``ValidationFailed`` on the ``logo`` field: too large, not an image, an SVG, a bitmap too
    big to draw."""
    size = getattr(upload, "size", None)
    if size is not None and size > LOGO_MAX_BYTES:
        raise _logo_error(_("The logo is too large (at most 1 MB): save it smaller."))
    data = upload.read(LOGO_MAX_BYTES + 1)
    if len(data) > LOGO_MAX_BYTES:
        raise _logo_error(_("The logo is too large (at most 1 MB): save it smaller."))
    head = data[:512].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        raise _logo_error(_("SVG logos cannot be printed on the PDFs: upload a PNG or a JPEG."))
    kind = _image_kind(data)
    if kind is None:
        raise _logo_error(_("This file is not a PNG or JPEG image."))
    return data, kind


def _logo_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"logo": [message]})


def _image_kind(data: bytes) -> str | None:
    """``png`` or ``jpg`` when the bytes are a readable image of that kind, else ``None``.
    Pillow (installed with reportlab) decodes the image; without it, the magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        magic = "png"
    elif data.startswith(b"\xff\xd8\xff"):
        magic = "jpg"
    else:
        return None
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with reportlab
        return magic
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in LOGO_TYPES or image.width * image.height > LOGO_MAX_PIXELS:
                return None
            image.load()  # decodes the whole image: a truncated file fails here
            return LOGO_TYPES[image.format]
    except Exception:  # any decoding error means "not an image we can draw"
        return None


# --- Writing -------------------------------------------------------------------------------

@transaction.atomic
def company_profile_update(*, user: Any, data: Mapping[str, Any], logo: Any = None,
                           remove_logo: bool = False) -> CompanyProfile:
    """Check and save the profile (creating it on the first save); ``logo`` (an uploaded
    file) replaces the logo, ``remove_logo`` drops it. The replaced file is deleted once the
    transaction commits, so a failed save never loses the logo in use."""
    values = clean_profile(data)
    new_image: tuple[bytes, str] | None = check_logo(logo) if logo else None
    profile, _created = CompanyProfile.objects.select_for_update().get_or_create(pk=PROFILE_PK)
    old_logo = profile.logo.name or ""
    changed = [name for name, value in values.items() if getattr(profile, name) != value]
    for name, value in values.items():
        setattr(profile, name, value)
    if new_image is not None:
        content, ext = new_image
        digest = hashlib.sha256(content).hexdigest()[:12]
        profile.logo.save(f"logo-{digest}.{ext}", ContentFile(content), save=False)
        changed.append("logo")
    elif remove_logo and old_logo:
        profile.logo = ""  # type: ignore[assignment]
        changed.append("logo")
    try:
        profile.save()
    except Exception:
        if new_image is not None and profile.logo.name:
            profile.logo.storage.delete(profile.logo.name)  # not kept without its row
        raise
    new_logo = profile.logo.name or ""
    if old_logo and old_logo != new_logo:
        storage = profile.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))
    if changed:
        log.info("%s changed the company profile: %s",
                 getattr(user, "username", "") or "?", ", ".join(sorted(changed)))
    return profile


def logo_bytes(profile: CompanyProfile) -> bytes | None:
    """The stored logo's bytes, or ``None`` when there is none or its file is gone (a
    document is still printed without it)."""
    if not profile.logo:
        return None
    try:
        with profile.logo.open("rb") as handle:
            return bytes(handle.read(LOGO_MAX_BYTES + 1))
    except (OSError, ValueError):
        log.warning("The company logo %s cannot be read", profile.logo.name)
        return None

"""Identifier checks and normalisation shared by every write path (API, UI, bulk, sync).

Built on python-stdnum, phonenumbers and email-validator rather than hand-written checksums.
Each ``check_*`` returns the normalised value or raises ``ValueError`` with a user message.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email
from stdnum import luhn
from stdnum.eu import vat
from stdnum.fr import siren, siret

_NAF = re.compile(r"^\d{2}\.?\d{2}[A-Z]$")
_LEGAL_FORMS = re.compile(
    r"\b(sarl|sas|sasu|sa|eurl|sci|snc|scop|sca|selarl|gie|eirl|ei|ltd|gmbh|inc)\b"
)


def check_siren(value: str) -> str:
    compact = siren.compact(value)
    if not siren.is_valid(compact):
        raise ValueError(_("Not a valid SIREN (9 digits with a valid check digit)."))
    return compact


def check_siret(value: str) -> str:
    compact = siret.compact(value)
    if not siret.is_valid(compact):
        raise ValueError(_("Not a valid SIRET (14 digits with a valid check digit)."))
    return compact


def check_vat(value: str) -> str:
    compact = vat.compact(value)
    if not vat.is_valid(compact):
        raise ValueError(_("Not a valid EU VAT number."))
    return compact


def check_naf(value: str) -> str:
    cleaned = value.strip().upper()
    if not _NAF.match(cleaned):
        raise ValueError(_("Not a valid NAF code (e.g. 62.01Z)."))
    return cleaned if "." in cleaned else f"{cleaned[:2]}.{cleaned[2:]}"


def check_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(_("Not a valid e-mail address: %(reason)s") % {"reason": exc}) from exc


def check_phone(value: str, region: str = "FR") -> str:
    """Return E.164 (``+33142685300``)."""
    try:
        number = phonenumbers.parse(value, region or "FR")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("Not a phone number.")) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError(_("Not a possible phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_name(name: str) -> str:
    """Lower case, no accents, no punctuation, no legal form: ``"Dupont SARL"`` → ``dupont``."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    text = _LEGAL_FORMS.sub(" ", text)
    return " ".join(text.split())


def siren_with_check_digit(first_eight: str) -> str:
    """Complete eight digits into a valid SIREN (demo data and tests)."""
    return first_eight + luhn.calc_check_digit(first_eight)


def siret_with_check_digit(siren_value: str, nic_first_four: str) -> str:
    base = siren_value + nic_first_four
    return base + luhn.calc_check_digit(base)

"""Identifier checks and normalisation shared by every write path (API, UI, bulk, sync).

Built on python-stdnum, phonenumbers and email-validator rather than hand-written checksums.
Each ``check_*`` returns the normalised value or raises ``ValueError`` with a user message.
The ``*_key`` and ``normalize_*`` helpers never raise: they give the comparable form of a value
(``""`` when there is none), which is what duplicate detection and audits compare.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import phonenumbers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email
from stdnum import iban, luhn
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


def check_iban(value: str) -> str:
    """The compact IBAN (``FR7630006000011234567890189``); checksum and country length checked."""
    compact = iban.compact(value)
    if not iban.is_valid(compact):
        raise ValueError(_("Not a valid IBAN."))
    return compact


def format_iban(value: str) -> str:
    """Groups of four for display (``FR76 3000 6000 …``)."""
    return str(iban.format(value))


# email-validator explains in English only: its common reasons, by the start of its message,
# get a translated one; any other reason is shown as is only to English readers.
_EMAIL_REASONS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("An email address must have an @-sign", lambda: _("the @ sign is missing.")),
    ("There must be something after the @-sign",
     lambda: _("the domain after the @ sign is missing.")),
    ("There must be something before the @-sign",
     lambda: _("the name before the @ sign is missing.")),
    ("The email address contains invalid characters before the @-sign",
     lambda: _("it contains characters not allowed before the @ sign.")),
    ("The part after the @-sign contains invalid characters",
     lambda: _("the domain contains characters that are not allowed.")),
    ("The part after the @-sign is not valid. It should have a period",
     lambda: _("the domain must contain a period (example.com).")),
    ("An email address cannot have two periods in a row",
     lambda: _("it cannot have two periods in a row.")),
    ("An email address cannot start with a period",
     lambda: _("it cannot start with a period.")),
    ("An email address cannot end with a period", lambda: _("it cannot end with a period.")),
    ("An email address cannot have a period immediately before the @-sign",
     lambda: _("it cannot have a period just before the @ sign.")),
)


def _email_reason(exc: EmailNotValidError) -> str:
    text = str(exc)
    for start, message in _EMAIL_REASONS:
        if text.startswith(start):
            return message()
    return text if (get_language() or "en").startswith("en") else ""


def check_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        reason = _email_reason(exc)
        if not reason:
            raise ValueError(_("Not a valid e-mail address.")) from exc
        raise ValueError(_("Not a valid e-mail address: %(reason)s") % {"reason": reason}) \
            from exc


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
    """Lower case, no accents, no punctuation, no legal form: ``"Dupont SARL"`` → ``dupont``.

    Letters of every script are kept (``"東京商事"``, ``"Ελένη"``, ``"Œuvre"`` → ``oeuvre``):
    a name is never reduced to nothing, which would match no account (or every other one).
    A name in Latin letters reads as it always did.
    """
    for letter, spelled in _SPELLED_OUT:
        name = name.replace(letter, spelled)
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[\W_]+", " ", text)
    text = _LEGAL_FORMS.sub(" ", text)
    return " ".join(text.split())


# Latin letters with no decomposition, spelled as in ``ascii_fold``.
_SPELLED_OUT = (("œ", "oe"), ("Œ", "oe"), ("æ", "ae"), ("Æ", "ae"), ("ø", "o"), ("Ø", "o"),
                ("ł", "l"), ("Ł", "l"), ("ß", "ss"), ("đ", "d"), ("Đ", "d"))


def siren_with_check_digit(first_eight: str) -> str:
    """Complete eight digits into a valid SIREN (demo data and tests)."""
    return first_eight + luhn.calc_check_digit(first_eight)


def siret_with_check_digit(siren_value: str, nic_first_four: str) -> str:
    base = siren_value + nic_first_four
    return base + luhn.calc_check_digit(base)


# --- Comparable forms (never raise) ---------------------------------------------------------

def ascii_fold(text: str) -> str:
    """Lower case without accents (``"Étoile"`` → ``etoile``); ``œ``/``æ`` spelled out."""
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    text = text.replace("ø", "o").replace("Ø", "o").replace("ł", "l").replace("Ł", "l")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


# Legal forms, French first (INSEE categories) then the usual foreign ones, as they read once
# dotted abbreviations are joined (``S.A.R.L.`` → ``sarl``, ``SàRL`` → ``sarl``).
LEGAL_FORMS = frozenset({
    "sarl", "sas", "sasu", "sa", "eurl", "sci", "snc", "scs", "sca", "scop", "scoop", "scic",
    "selarl", "selas", "selasu", "selafa", "selca", "sel", "spfpl", "scp", "scm", "sem", "seml",
    "spl", "gie", "gaec", "earl", "eirl", "ei", "sarlu",
    "ltd", "limited", "plc", "llc", "llp", "lp", "inc", "incorporated", "corp", "corporation",
    "gmbh", "ag", "kg", "ohg", "ug", "kgaa", "bv", "nv", "bvba", "sprl", "srl", "spa", "sl",
    "slu", "ab", "oy", "oyj", "aps", "asa", "sro", "kft", "zrt", "spzoo", "cie",
})
# Words that carry no identity in a company name.
NAME_STOPWORDS = frozenset({
    "et", "de", "du", "des", "la", "le", "les", "l", "d", "a", "au", "aux", "en", "sur",
    "the", "and", "of", "und",
})
_NAME_SYNONYMS = {
    "ets": "etablissements", "etabts": "etablissements", "etablissement": "etablissements",
    "etab": "etablissements", "cie": "cie", "st": "saint", "ste": "sainte",
    "intl": "international", "internat": "international", "grp": "groupe", "sce": "services",
    "svc": "services", "service": "services", "ind": "industrie", "industries": "industrie",
    "assoc": "association", "asso": "association", "bros": "freres",
}
# "Société Dupont", "Sté Dupont": the word only says it is a company.
_LEADING_NOISE = frozenset({"societe", "ste", "company", "compagnie", "entreprise"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _join_initials(words: list[str]) -> list[str]:
    """``s a r l`` (from ``S.A.R.L.``) → ``sarl``; runs of single letters become one word."""
    out: list[str] = []
    run: list[str] = []
    for word in words:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if run:
            out.append("".join(run) if len(run) > 1 else run[0])
            run = []
        out.append(word)
    if run:
        out.append("".join(run) if len(run) > 1 else run[0])
    return out


# One pass of ``str.translate``: common accented letters to ASCII, punctuation to spaces,
# ``&`` and ``+`` to "et". Anything it leaves outside ASCII goes through NFKD.
_FOLD = str.maketrans({
    **dict.fromkeys("!\"#$%'()*,-./:;<=>?@[\\]^_`{|}~’‘“”«»–—•·\t\n\r", " "),
    "&": " et ", "+": " et ", "œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l",
    **dict(zip("àâäáãåçéèêëíìîïñóòôöõúùûüýÿ", "aaaaaaceeeeiiiinooooouuuuyy", strict=True)),
})


def _fold_words(text: str) -> list[str]:
    folded = text.lower().translate(_FOLD)
    if not folded.isascii():
        folded = _NON_ALNUM.sub(" ", ascii_fold(folded))
    return folded.split()


@lru_cache(maxsize=200_000)
def company_name_tokens(name: str) -> tuple[str, ...]:
    """The identifying words of a company name, in order.

    Case, accents, punctuation, legal forms (SARL, SAS, SA, EURL, SASU, SCI, GmbH, Ltd…),
    filler words (``et``, ``de``, ``&``) and a leading "Société" are dropped; common
    abbreviations are spelled out (``Ets`` → ``etablissements``, ``St`` → ``saint``).
    Cached: a base holds the same names many times over.
    """
    words = _fold_words(name or "")
    if any(len(w) == 1 for w in words):
        words = _join_initials(words)
    while len(words) > 1 and words[0] in _LEADING_NOISE:
        words = words[1:]
    tokens = [_NAME_SYNONYMS.get(w, w) for w in words]
    kept = [t for t in tokens if t not in LEGAL_FORMS and t not in NAME_STOPWORDS]
    return tuple(kept) if kept else tuple(tokens)


def company_name_key(name: str) -> str:
    """Normalised company name, words in their order: ``"Dupont & Fils S.A.R.L."`` →
    ``dupont fils``."""
    return " ".join(company_name_tokens(name))


@lru_cache(maxsize=200_000)
def word_order_key(name: str) -> str:
    """The normalised name with its words sorted, so ``Conseil Dupont`` = ``Dupont Conseil``."""
    return " ".join(sorted(company_name_tokens(name)))


@lru_cache(maxsize=100_000)
def person_name_key(first_name: str, last_name: str) -> str:
    """``"Jean-Pierre", "DE LA FONTAINE"`` → ``de fontaine jean la pierre`` (sorted words)."""
    words = _NON_ALNUM.sub(" ", ascii_fold(f"{first_name or ''} {last_name or ''}")).split()
    return " ".join(sorted(words))


def normalize_email(value: str) -> str:
    """Lower case, trimmed; ``""`` when it is not shaped like an address. No DNS, no
    validation library: cheap enough to run over a whole base."""
    if not value:
        return ""
    text = value.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    if text.count("@") != 1 or " " in text:
        return ""
    local, domain = text.split("@")
    return f"{local}@{domain}" if local and "." in domain else ""


FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.fr", "yahoo.com", "ymail.com", "hotmail.com",
    "hotmail.fr", "outlook.com", "outlook.fr", "live.fr", "live.com", "msn.com", "orange.fr",
    "wanadoo.fr", "free.fr", "sfr.fr", "neuf.fr", "laposte.net", "bbox.fr", "numericable.fr",
    "icloud.com", "me.com", "aol.com", "aol.fr", "gmx.fr", "gmx.de", "gmx.com", "web.de",
    "protonmail.com", "proton.me", "mail.com", "club-internet.fr", "tiscali.fr", "yandex.ru",
})


def email_domain(value: str) -> str:
    email = normalize_email(value)
    return email.rsplit("@", 1)[1] if email else ""


def company_domain(email: str = "", website: str = "") -> str:
    """The company's own internet domain: from its website, else from a non-free e-mail
    address. ``www.`` dropped, lower case."""
    site = (website or "").strip().lower()
    if site:
        if "://" in site:
            site = site.split("://", 1)[1]
        site = site.split("/", 1)[0].split("?", 1)[0]
        site = site.rsplit("@", 1)[-1].split(":", 1)[0].removeprefix("www.")
        if "." in site and site not in FREE_MAIL_DOMAINS:
            return site
    if not email or "@" not in email:
        return ""
    domain = email.rpartition("@")[2].strip().lower()
    return domain if "." in domain and domain not in FREE_MAIL_DOMAINS else ""


@lru_cache(maxsize=4096)
def _region_ok(region: str) -> str:
    return region if region in phonenumbers.SUPPORTED_REGIONS else "FR"


def normalize_phone(value: str, region: str = "FR") -> str:
    """E.164 when the number is possible, else ``""``. Already-E.164 values skip parsing."""
    text = (value or "").strip()
    if not text:
        return ""
    if text.startswith("+") and text[1:].isdigit() and 8 <= len(text) <= 16:
        return text
    try:
        number = phonenumbers.parse(text, _region_ok((region or "FR").upper()))
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def siren_from(siren_value: str = "", siret_value: str = "", vat_number: str = "",
               *, validate: bool = True) -> str:
    """The SIREN a record carries, directly, through its SIRET or through its French VAT
    number (``FRkk`` + SIREN); ``""`` when none is valid. ``validate=False`` skips the
    checksum (values read back from the base were checked when written)."""
    for candidate in (siren_value, siret_value):
        if candidate:
            compact = candidate if candidate.isdigit() else re.sub(r"\D", "", candidate)
            compact = compact[:9]
            if len(compact) == 9 and (not validate or siren.is_valid(compact)):
                return compact
    if vat_number:
        vat_compact = compact_vat(vat_number)
        if vat_compact.startswith("FR") and len(vat_compact) == 13 and vat_compact[4:].isdigit() \
                and (not validate or siren.is_valid(vat_compact[4:])):
            return vat_compact[4:]
    return ""


def compact_vat(value: str) -> str:
    """Upper case without spaces or dots; ``""`` when empty. Not validated (comparison only)."""
    if not value:
        return ""
    return (value if value.isalnum() else _NOT_ALNUM.sub("", value)).upper()


_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


# --- Addresses ------------------------------------------------------------------------------

_STREET_WORDS = {
    "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard", "blvd": "boulevard",
    "boul": "boulevard", "r": "rue", "pl": "place", "rte": "route", "chem": "chemin",
    "che": "chemin", "imp": "impasse", "all": "allee", "sq": "square", "fg": "faubourg",
    "fbg": "faubourg", "crs": "cours", "pass": "passage", "qu": "quai", "res": "residence",
    "za": "zone artisanale", "zi": "zone industrielle", "zac": "zone amenagement concerte",
    "st": "saint", "ste": "sainte", "gal": "general", "gen": "general", "mal": "marechal",
    "pdt": "president", "prof": "professeur", "dr": "docteur",
}
_STREET_NUMBER = re.compile(r"^(\d+)\s*(bis|ter|quater|[a-d])?\b\s*,?\s*")


@lru_cache(maxsize=200_000)
def street_key(street: str) -> tuple[str, str]:
    """``"12 bis, av. du Gal de Gaulle"`` → (``12bis``, ``avenue du general de gaulle``).

    The house number apart, so that two companies in the same street are not one address.
    """
    text = _NON_ALNUM.sub(" ", ascii_fold(street or "")).strip()
    number = ""
    match = _STREET_NUMBER.match(text)
    if match:
        number = match.group(1) + (match.group(2) or "")
        text = text[match.end():]
    words = [_STREET_WORDS.get(w, w) for w in text.split()]
    return number, " ".join(words)


_CEDEX = re.compile(r"\b(cedex|cdx)\b.*$")
_ARRONDISSEMENT = re.compile(r"\s+\d{1,2}\s*(e|eme|er)?\s*(arrondissement|arr)?$")


@lru_cache(maxsize=50_000)
def city_key(city: str) -> str:
    """``"ST-DENIS CEDEX 2"`` → ``saint denis``; ``"Paris 8e"`` → ``paris``."""
    text = _CEDEX.sub("", ascii_fold(city or ""))
    text = _NON_ALNUM.sub(" ", text).strip()
    text = _ARRONDISSEMENT.sub("", text)
    return " ".join(_STREET_WORDS.get(w, w) if w in ("st", "ste") else w for w in text.split())


# ISO 3166-1 alpha-2, every officially assigned code.
_ISO_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ISO_COUNTRIES = frozenset(_ISO_CODES.split())
# Names people type (English and French) and alpha-3 codes, for the countries a French
# company deals with most.
_COUNTRY_NAMES = """
FR France|FRA|République française
DE Germany|Allemagne|Deutschland|DEU
BE Belgium|Belgique|België|BEL
CH Switzerland|Suisse|Schweiz|Svizzera|CHE
LU Luxembourg|LUX
MC Monaco|MCO
ES Spain|Espagne|España|ESP
IT Italy|Italie|Italia|ITA
PT Portugal|PRT
NL Netherlands|Pays-Bas|Nederland|Holland|Hollande|NLD
GB United Kingdom|Royaume-Uni|Grande-Bretagne|Great Britain|England|Angleterre|UK|GBR
IE Ireland|Irlande|IRL
AT Austria|Autriche|Österreich|AUT
DK Denmark|Danemark|DNK
SE Sweden|Suède|SWE
NO Norway|Norvège|NOR
FI Finland|Finlande|FIN
PL Poland|Pologne|Polska|POL
CZ Czechia|Czech Republic|République tchèque|Tchéquie|CZE
SK Slovakia|Slovaquie|SVK
HU Hungary|Hongrie|HUN
RO Romania|Roumanie|ROU
BG Bulgaria|Bulgarie|BGR
GR Greece|Grèce|GRC
HR Croatia|Croatie|HRV
SI Slovenia|Slovénie|SVN
EE Estonia|Estonie|EST
LV Latvia|Lettonie|LVA
LT Lithuania|Lituanie|LTU
CY Cyprus|Chypre|CYP
MT Malta|Malte|MLT
US United States|United States of America|États-Unis|Etats-Unis|USA
CA Canada|CAN
MA Morocco|Maroc|MAR
DZ Algeria|Algérie|DZA
TN Tunisia|Tunisie|TUN
SN Senegal|Sénégal|SEN
CI Ivory Coast|Côte d'Ivoire|CIV
CN China|Chine|CHN
JP Japan|Japon|JPN
IN India|Inde|IND
BR Brazil|Brésil|BRA
TR Turkey|Turquie|Türkiye|TUR
RE Réunion|La Réunion|REU
GP Guadeloupe|GLP
MQ Martinique|MTQ
GF French Guiana|Guyane|Guyane française|GUF
YT Mayotte|MYT
NC New Caledonia|Nouvelle-Calédonie|NCL
PF French Polynesia|Polynésie française|PYF
"""
_COUNTRY_BY_NAME: dict[str, str] = {}
for _line in _COUNTRY_NAMES.strip().splitlines():
    _code, _names = _line.split(" ", 1)
    for _name in _names.split("|"):
        _COUNTRY_BY_NAME[_NON_ALNUM.sub(" ", ascii_fold(_name)).strip()] = _code


def country_code(value: str) -> str:
    """ISO alpha-2 code from a code or a common English/French name; ``""`` if unknown."""
    text = (value or "").strip()
    if len(text) == 2 and text.upper() in ISO_COUNTRIES:
        return text.upper()
    return _COUNTRY_BY_NAME.get(_NON_ALNUM.sub(" ", ascii_fold(text)).strip(), "")


def check_country(value: str) -> str:
    code = country_code(value)
    if not code:
        raise ValueError(_("Not a known country: give its ISO code (e.g. FR, DE, BE)."))
    return code


# Postcode shapes by country: (pattern on the upper-case value without spaces, formatter).
_DIGITS4 = (r"\d{4}", None)
_DIGITS5 = (r"\d{5}", None)
_SPACE_AFTER_3 = (r"\d{5}", lambda v: f"{v[:3]} {v[3:]}")
_POSTCODES: dict[str, tuple[str, object]] = {
    "FR": (r"(0[1-9]|[1-8]\d|9[0-8])\d{3}", None),
    "MC": (r"980\d{2}", None),
    "GP": (r"971\d{2}", None), "MQ": (r"972\d{2}", None), "GF": (r"973\d{2}", None),
    "RE": (r"974\d{2}", None), "PM": (r"97500", None), "YT": (r"976\d{2}", None),
    "BL": (r"97133", None), "MF": (r"97150", None), "WF": (r"986\d{2}", None),
    "PF": (r"987\d{2}", None), "NC": (r"988\d{2}", None),
    "DE": _DIGITS5, "IT": _DIGITS5, "FI": _DIGITS5, "EE": _DIGITS5, "HR": _DIGITS5,
    "LT": _DIGITS5, "MA": _DIGITS5, "DZ": _DIGITS5, "TR": _DIGITS5, "MX": _DIGITS5,
    "ES": (r"(0[1-9]|[1-4]\d|5[0-2])\d{3}", None),
    "BE": (r"[1-9]\d{3}", None), "CH": (r"[1-9]\d{3}", None), "LI": (r"94[89]\d|949[0-7]", None),
    "LU": (r"\d{4}", None), "AT": _DIGITS4, "DK": _DIGITS4, "NO": _DIGITS4, "HU": _DIGITS4,
    "BG": _DIGITS4, "SI": _DIGITS4, "CY": _DIGITS4, "TN": _DIGITS4, "AU": _DIGITS4,
    "ZA": _DIGITS4,
    "NL": (r"[1-9]\d{3}[A-Z]{2}", lambda v: f"{v[:4]} {v[4:]}"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", lambda v: f"{v[:-3]} {v[-3:]}"),
    "IE": (r"[AC-FHKNPRTV-Y]\d[\dW][AC-FHKNPRTV-Y\d]{4}", lambda v: f"{v[:3]} {v[3:]}"),
    "PT": (r"\d{7}", lambda v: f"{v[:4]}-{v[4:]}"),
    "PL": (r"\d{5}", lambda v: f"{v[:2]}-{v[2:]}"),
    "CZ": _SPACE_AFTER_3, "SK": _SPACE_AFTER_3, "SE": _SPACE_AFTER_3, "GR": _SPACE_AFTER_3,
    "US": (r"\d{5}(\d{4})?", lambda v: v if len(v) == 5 else f"{v[:5]}-{v[5:]}"),
    "CA": (r"[A-Z]\d[A-Z]\d[A-Z]\d", lambda v: f"{v[:3]} {v[3:]}"),
    "JP": (r"\d{7}", lambda v: f"{v[:3]}-{v[3:]}"),
    "BR": (r"\d{8}", lambda v: f"{v[:5]}-{v[5:]}"),
}
_COUNTRY_PREFIX = re.compile(r"^(F|D|B|L|CH|A|I|E|P|NL|FR|DE|BE|LU)-(?=\d)")
_ANY_POSTCODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,11}$")


def check_postcode(value: str, country: str = "FR") -> str:
    """The postcode in its national form (French: five digits, a real department); other
    countries by their own shape (``1234 AB`` in the Netherlands, ``SW1A 1AA`` in the UK…),
    anything reasonable for countries without a known shape."""
    text = (value or "").strip().upper()
    text = _COUNTRY_PREFIX.sub("", text)
    country = (country or "FR").upper()
    rule = _POSTCODES.get(country)
    if rule is None:
        if _ANY_POSTCODE.match(text):
            return " ".join(text.split())
        raise ValueError(_("Not a valid postcode."))
    pattern, formatter = rule
    compact = re.sub(r"[\s.-]", "", text)
    if country == "FR" and len(compact) == 4 and compact.isdigit():
        compact = "0" + compact  # spreadsheets drop the leading zero of 01000–09999
    if not re.fullmatch(pattern, compact):
        if country == "FR":
            raise ValueError(_("Not a valid French postcode (five digits, e.g. 69002)."))
        raise ValueError(_("Not a valid postcode for %(country)s.") % {"country": country})
    return formatter(compact) if callable(formatter) else compact


@lru_cache(maxsize=100_000)
def postcode_key(value: str, country: str = "FR") -> str:
    """The postcode as compared: national form when valid, else upper case without spaces."""
    try:
        return check_postcode(value, country or "FR")
    except ValueError:
        return re.sub(r"[\s.-]", "", (value or "").upper())

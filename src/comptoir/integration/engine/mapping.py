"""Declarative mappings: one TOML file per connection says how source records become CRM data.

The engine knows no model: the Django side passes ``targets`` (object type → allowed field
names) to :func:`load_mapping`, which validates the whole file at once and precompiles every
field into callables, so :meth:`StreamMapping.apply` stays cheap on millions of rows.

Format (every key is optional unless said otherwise)::

    system = "erp"                    # required: the ExternalRef system, [a-z0-9_.:-]+

    [streams.customers]               # one table per mapped stream
    stream = "rows"                   # the connector stream it reads (default: the table name)
    target = "account"                # required: the CRM object type
    key = "Code client"               # source field of the external id (default: record key);
                                      # or { source = …, transforms = […] } / { coalesce = […] }
    on_error = "quarantine"           # quarantine (default) | skip | stop
    on_invalid = "drop_field"         # what a bad value does to its record, see below
    match = "sure"                    # account, contact, lead: sure (default) | off, see below
    profile = "crm"                   # account, contact, lead: lead | crm | erp (default: none)
    ignore_case = false               # match source field names whatever their case
    where = { Type = ["C", "P"], Actif = true }   # only the records matching every condition:
                                      # a text or a list of texts (case and spaces ignored),
                                      # true = present and not empty, false = missing or empty

    [streams.customers.fields]        # CRM field = field spec
    legal_name = "Raison sociale"                        # plain copy
    siren = { source = "SIREN", transforms = ["digits"], required = true }
    status = { const = "customer" }
    billing_country = { source = "Pays", transforms = ["country"], default = "FR" }
    status = { source = "Type", map = { C = "customer" }, unknown = "error" }  # |keep|default
    billing_street = { concat = ["Adresse 1", "Adresse 2"], sep = " " }
    phone = { coalesce = ["Portable", "Téléphone"] }     # the first non-empty one
    website = { source = "Site", optional = true }       # the column may be absent
    email = { source = "Mail", on_invalid = "quarantine" }  # drop_field | quarantine | stop
    parent_external_id = { source = "Maison mère", lookup = "account" }  # resolved by the loader

A field is computed in this order: read (source | const | concat | coalesce) → transforms, in
order → map (case and surrounding spaces ignored) → default (when the value is empty) →
required check. Transforms (:data:`TRANSFORMS`): strip, upper, lower, title, digits, compact,
single_line, none_if_empty, number / fr_number ("1 234,56", "1.234,56", "1234.56" → Decimal),
en_number, abs and neg (numbers, sign dropped or reversed), int, bool (oui/non/yes/no/1/0/
true/false/vrai/faux/x), not, date / fr_date (dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy, yyyy-mm-dd,
spreadsheet dates and serial numbers), datetime / fr_datetime, country (names in English or
French → ISO code), and with an argument: { date = "%d/%m/%Y" } (or a list of formats),
{ datetime = … }, { truncate = 80 }, { round = 2 } (half up), { default = "x" },
{ replace = { "old" = "new" } }. A value a transform refuses is an error on that field
('"Encours": "abc" is not a number'), never an exception.

A bad value (refused by a transform, a map, or the CRM field's own rules) does what the field's
``on_invalid`` says, else the stream's, else the built-in default: ``drop_field`` for contact
means and identifiers (e-mail, phones, website, SIREN, SIRET, VAT, NAF: the record lands
without the value, which is kept aside with its reason for the data manager), ``quarantine``
for anything else (the whole record waits in quarantine). ``stop`` fails the run. The key and
required fields always quarantine: a record cannot exist without them.

Rows a record carries as a list (a sales document's lines) are mapped in a sub-table named
after the CRM list, with its own fields::

    [streams.invoices.lines]
    source = "lignes"                 # the source field holding the list (default: "lines")
    [streams.invoices.lines.fields]
    description = "libelle"
    quantity = { source = "qte", transforms = ["number"] }
    product_external_id = { source = "article", lookup = "product" }

Their errors name the row: ``lines.2.quantity``. A record without the list leaves the rows it
had as they are.

Data quality (I8, I11), for account, contact and lead streams only:

* ``match = "sure"`` (the default): a record whose external id the CRM has never seen is first
  looked for among existing records. If exactly one scores at least the object's ``sure``
  duplicate threshold (or one is clearly ahead) and is not already linked to another external
  id of the same system, the external id is linked to it and the record applied as an update
  of it; the run counts it as ``matched`` (besides updated or unchanged), its audit entry and
  the run's details say with which score and shared keys. Sure candidates that tie are not
  guessed between: the record is quarantined ("Ambiguous match: #12, #15 …"). ``"off"``
  always creates.
* ``profile = "lead" | "crm" | "erp"``: records that would be stored with gaps under the
  validation profile (the one the API and the UI show) are quarantined, one reason per field;
  an update is judged merged with the record's current values. Not checked on load: "no
  duplicate" (matching handles it) and an account's "contact" (contacts arrive after it).
  Default: no profile, only the fields' own rules.

Several ``[streams.*]`` tables may read the same connector stream (``stream = "rows"``) with
different ``where``: the loader reads it once and gives each record to every mapping whose
:meth:`StreamMapping.matches` accepts it (:meth:`ConnectionMapping.for_stream`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import tomllib
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .core import Record
from .errors import MappingError

__all__ = [
    "MATCH",
    "MATCH_TARGETS",
    "ON_ERROR",
    "ON_INVALID",
    "PROFILES",
    "TRANSFORMS",
    "ConnectionMapping",
    "FieldSpec",
    "Mapping_",
    "StreamMapping",
    "auto_mapping",
    "load_mapping",
    "propose_mapping",
]

ON_ERROR = ("quarantine", "skip", "stop")
ON_INVALID = ("drop_field", "quarantine", "stop")
# Contact means and identifiers: an ERP holds invalid ones, and a customer must never be lost
# for one of them, so by default a bad value is left out (and reported) instead of the record.
DROP_BY_DEFAULT = frozenset({"email", "email_secondary", "phone", "mobile", "fax", "website",
                             "siren", "siret", "vat_number", "naf_code"})
MATCH = ("sure", "off")
PROFILES = ("lead", "crm", "erp")  # quality.profiles.PROFILE_NAMES (a test keeps them equal)
MATCH_TARGETS = frozenset({"account", "contact", "lead"})  # what duplicates are found for
_SYSTEM_RE = re.compile(r"[a-z0-9_.:-]+")

Step = Callable[[Any], Any]


class _Fail(Exception):
    """A transform refused a value; the message completes '"Field": "value" …'."""


class _Invalid(Exception):
    """A field could not be computed; the message is complete and shown to the user."""


# --------------------------------------------------------------------------------------------
# Value helpers


def _text(value: Any) -> str:
    """A value as text the way a person reads it (12.0 from a spreadsheet is "12")."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and not (value.hour or value.minute or value.second
                                               or value.microsecond):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _show(value: Any) -> str:
    """A raw value quoted for an error message, shortened."""
    if value is None:
        return "(empty)"
    text = _text(value)
    if len(text) > 60:
        text = text[:57] + "…"
    return json.dumps(text, ensure_ascii=False) if isinstance(value, str) else text


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _fold(text: str) -> str:
    """Key for forgiving comparisons: case, accents, spaces and punctuation ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


# --------------------------------------------------------------------------------------------
# Transforms: each is a Step (value → value) that lets None through and raises _Fail.


def _strip(v: Any) -> Any:
    return v.strip() if isinstance(v, str) else v


def _string_step(func: Callable[[str], str]) -> Step:
    def step(v: Any) -> Any:
        return None if v is None else func(_text(v))
    return step


_COMPACT = str.maketrans("", "", " \t\r\n\u00a0\u202f\u2009\u2007.-_/")
_SPACES_RE = re.compile(r"\s+")
_NOT_DIGIT_RE = re.compile(r"\D+")


def _none_if_empty(v: Any) -> Any:
    return None if _empty(v) else v


_NUMBER_JUNK = str.maketrans("", "", " \u00a0\u202f\u2009\u2007'’€$£")
_PLAIN_RE = re.compile(r"\d*[.,]?\d+")
_DOT_GROUPS_RE = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_COMMA_GROUPS_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _parse_number(v: Any, *, comma_decimal: bool = True) -> Decimal | None:
    """French and international spellings: "1 234,56", "1.234,56", "1,234.56", "1234.56"."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise _Fail("is not a number")
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _Fail("is not a number")
        return Decimal(repr(v))
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise _Fail("is not a number")
        return v
    text = str(v).strip()
    if not text:
        return None
    negative = False
    if text[0] == "(" and text[-1] == ")":  # accounting negatives
        negative, text = True, text[1:-1]
    text = text.translate(_NUMBER_JUNK)
    if text[:1] in ("-", "+", "−"):
        negative, text = negative != (text[0] != "+"), text[1:]
    elif text[-1:] == "-":  # "123-" from old ERPs
        negative, text = not negative, text[:-1]
    if _PLAIN_RE.fullmatch(text) and (comma_decimal or "," not in text):
        digits = text.replace(",", ".")
    elif _DOT_GROUPS_RE.fullmatch(text):
        digits = text.replace(".", "").replace(",", ".")
    elif _COMMA_GROUPS_RE.fullmatch(text):
        digits = text.replace(",", "")
    else:
        raise _Fail("is not a number")
    try:
        number = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the patterns above only let digits through
        raise _Fail("is not a number") from None
    return -number if negative else number


def _number(v: Any) -> Any:
    return _parse_number(v)


def _en_number(v: Any) -> Any:
    return _parse_number(v, comma_decimal=False)


def _abs(v: Any) -> Any:
    """The size of an amount whatever its sign (an ERP's credit notes carry negative ones)."""
    number = _parse_number(v)
    return None if number is None else abs(number)


def _neg(v: Any) -> Any:
    number = _parse_number(v)
    return None if number is None else -number


def _int(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    number = _parse_number(v)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise _Fail("is not a whole number")
    return int(number)


_TRUE = frozenset({"1", "true", "vrai", "yes", "oui", "y", "x", "on"})
_FALSE = frozenset({"0", "false", "faux", "no", "non", "n", "off"})


def _bool(v: Any) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int | float | Decimal):
        if v in (0, 1):
            return bool(v)
        raise _Fail("is not a yes/no value")
    text = str(v).strip().casefold()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Fail("is not a yes/no value")


def _not(v: Any) -> Any:
    value = _bool(v)
    return None if value is None else not value


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_FR_DATE_RE = re.compile(
    r"(?:(?P<d>\d{1,2})([/.-])(?P<m>\d{1,2})\2(?P<y>\d{4})|(?P<Y>\d{4})-(?P<M>\d{1,2})-(?P<D>\d{1,2}))"
    r"(?:[ T](?P<H>\d{1,2})[:h](?P<I>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,6})\d*)?)?)?"
    r"(?P<z>\s*(?:Z|[+-]\d{2}:?\d{2}))?")


def _excel_serial(v: int | float | Decimal) -> dt.datetime:
    """Spreadsheet serial day numbers (1900 date system), as XLSX cells hold undated dates."""
    if not 1 <= v < 2958466:
        raise _Fail("is not a date")
    return _EXCEL_EPOCH + dt.timedelta(days=float(v))


def _fr_datetime_value(v: Any) -> dt.datetime | None:
    """dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy, yyyy-mm-dd (optionally with a time), ISO 8601,
    datetime objects and spreadsheet serial numbers."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    if isinstance(v, bool):
        raise _Fail("is not a date")
    if isinstance(v, int | float | Decimal):
        return _excel_serial(v)
    text = str(v).strip()
    if not text:
        return None
    match = _FR_DATE_RE.fullmatch(text)
    if match is None:
        raise _Fail("is not a date (expected dd/mm/yyyy or yyyy-mm-dd)")
    g = match.group
    if g("z"):
        try:
            return dt.datetime.fromisoformat(text.replace(" ", "T", 1).replace("h", ":"))
        except ValueError:
            raise _Fail("is not a valid date") from None
    try:
        return dt.datetime(
            int(g("y") or g("Y")), int(g("m") or g("M")), int(g("d") or g("D")),
            int(g("H") or 0), int(g("I") or 0), int(g("S") or 0),
            int((g("f") or "0").ljust(6, "0")))
    except ValueError:
        raise _Fail("is not a valid date") from None


_DMY_RE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")


def _fr_date(v: Any) -> Any:
    if isinstance(v, str):  # fast path for the usual dd/mm/yyyy
        match = _DMY_RE.fullmatch(v.strip())
        if match is not None:
            d, _sep, m, y = match.groups()
            try:
                return dt.date(int(y), int(m), int(d))
            except ValueError:
                raise _Fail("is not a valid date") from None
    value = _fr_datetime_value(v)
    return None if value is None else value.date()


def _fr_datetime(v: Any) -> Any:
    return _fr_datetime_value(v)


def _formats_arg(arg: Any) -> list[str]:
    formats = [arg] if isinstance(arg, str) else arg
    if not (isinstance(formats, list) and formats and all(isinstance(f, str) and "%" in f
                                                          for f in formats)):
        raise ValueError("expects a strptime format or a list of them, e.g. \"%d/%m/%Y\"")
    return formats


def _date_factory(arg: Any, *, as_date: bool = True) -> Step:
    formats = _formats_arg(arg)
    expected = " or ".join(formats)

    def step(v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip()
            if not text:
                return None
            for fmt in formats:
                try:
                    parsed = dt.datetime.strptime(text, fmt)
                except ValueError:
                    continue
                return parsed.date() if as_date else parsed
            raise _Fail(f"is not a date in the format {expected}")
        value = _fr_datetime_value(v)
        return value.date() if as_date and value is not None else value
    return step


def _datetime_factory(arg: Any) -> Step:
    return _date_factory(arg, as_date=False)


def _truncate_factory(arg: Any) -> Step:
    if not isinstance(arg, int) or isinstance(arg, bool) or arg < 1:
        raise ValueError("expects a positive length, e.g. { truncate = 80 }")

    def step(v: Any) -> Any:
        return None if v is None else _text(v)[:arg]
    return step


def _round_factory(arg: Any) -> Step:
    if not isinstance(arg, int) or isinstance(arg, bool) or not 0 <= arg <= 10:
        raise ValueError("expects a number of decimals from 0 to 10, e.g. { round = 2 }")
    exponent = Decimal(1).scaleb(-arg)

    def step(v: Any) -> Any:
        if _empty(v):
            return None
        number = v if isinstance(v, Decimal) else _parse_number(v)
        if number is None:
            raise _Fail("is not a number")
        return number.quantize(exponent, rounding=ROUND_HALF_UP)
    return step


def _default_factory(arg: Any) -> Step:
    def step(v: Any) -> Any:
        return arg if _empty(v) else v
    return step


def _replace_factory(arg: Any) -> Step:
    if not (isinstance(arg, dict) and arg and all(isinstance(k, str) and isinstance(x, str)
                                                  for k, x in arg.items())):
        raise ValueError("expects a table of texts, e.g. { replace = { \"\\n\" = \", \" } }")
    pairs = list(arg.items())

    def step(v: Any) -> Any:
        if v is None:
            return None
        text = _text(v)
        for old, new in pairs:
            text = text.replace(old, new)
        return text
    return step


_COUNTRIES = """
AD Andorra|Andorre
AE United Arab Emirates|Emirats arabes unis|UAE
AR Argentina|Argentine
AT Austria|Autriche|Österreich
AU Australia|Australie
BE Belgium|Belgique|België|Belgien
BF Burkina Faso
BG Bulgaria|Bulgarie
BJ Benin|Bénin
BR Brazil|Brésil|Brasil
CA Canada
CD Democratic Republic of the Congo|République démocratique du Congo|RDC
CG Congo|Republic of the Congo|République du Congo
CH Switzerland|Suisse|Schweiz|Svizzera
CI Ivory Coast|Côte d'Ivoire|Cote d'Ivoire
CL Chile|Chili
CM Cameroon|Cameroun
CN China|Chine
CY Cyprus|Chypre
CZ Czech Republic|Czechia|République tchèque|Tchéquie
DE Germany|Allemagne|Deutschland
DK Denmark|Danemark
DZ Algeria|Algérie
EE Estonia|Estonie
EG Egypt|Egypte
ES Spain|Espagne|España
FI Finland|Finlande
FR France|République française
GA Gabon
GB United Kingdom|Royaume-Uni|Great Britain|Grande-Bretagne|England|Angleterre|Scotland|Ecosse|UK
GF French Guiana|Guyane|Guyane française
GP Guadeloupe
GR Greece|Grèce
HK Hong Kong
HR Croatia|Croatie
HT Haiti|Haïti
HU Hungary|Hongrie
IE Ireland|Irlande
IL Israel|Israël
IN India|Inde
IS Iceland|Islande
IT Italy|Italie|Italia
JP Japan|Japon
KR South Korea|Corée du Sud|Republic of Korea
LB Lebanon|Liban
LI Liechtenstein
LT Lithuania|Lituanie
LU Luxembourg
LV Latvia|Lettonie
MA Morocco|Maroc
MC Monaco
MG Madagascar
ML Mali
MQ Martinique
MT Malta|Malte
MU Mauritius|Maurice|Ile Maurice
MX Mexico|Mexique
NC New Caledonia|Nouvelle-Calédonie
NE Niger
NL Netherlands|Pays-Bas|Nederland|Holland|Hollande
NO Norway|Norvège
NZ New Zealand|Nouvelle-Zélande
PF French Polynesia|Polynésie française
PL Poland|Pologne|Polska
PM Saint Pierre and Miquelon|Saint-Pierre-et-Miquelon
PT Portugal
RE Réunion|La Réunion|Reunion
RO Romania|Roumanie
RS Serbia|Serbie
RU Russia|Russie|Russian Federation
SA Saudi Arabia|Arabie saoudite
SE Sweden|Suède|Sverige
SG Singapore|Singapour
SI Slovenia|Slovénie
SK Slovakia|Slovaquie
SM San Marino|Saint-Marin
SN Senegal|Sénégal
TG Togo
TN Tunisia|Tunisie
TR Turkey|Turquie|Türkiye
UA Ukraine
US United States|United States of America|Etats-Unis|Etats-Unis d'Amérique|USA|America
VA Vatican|Holy See|Saint-Siège
YT Mayotte
ZA South Africa|Afrique du Sud
"""
_COUNTRY_BY_NAME: dict[str, str] = {}
for _line in _COUNTRIES.strip().splitlines():
    _code, _names = _line.split(" ", 1)
    for _name in [_code, *_names.split("|")]:
        _COUNTRY_BY_NAME[_fold(_name)] = _COUNTRY_BY_NAME[_name] = _code


def _country(v: Any) -> Any:
    """ISO 3166 alpha-2 codes from codes or common English and French names."""
    if v is None:
        return None
    text = _text(v).strip()
    if not text:
        return ""
    code = _COUNTRY_BY_NAME.get(text) or _COUNTRY_BY_NAME.get(_fold(text))
    if code is None:
        if len(text) == 2 and text.isascii() and text.isalpha():
            return text.upper()
        raise _Fail("is not a known country (give its ISO code, e.g. FR)")
    return code


#: Transforms by name; those written as a one-key table take an argument.
TRANSFORMS: dict[str, Step] = {
    "strip": _strip,
    "upper": _string_step(str.upper),
    "lower": _string_step(str.lower),
    "title": _string_step(str.title),
    "digits": _string_step(lambda s: _NOT_DIGIT_RE.sub("", s)),
    "compact": _string_step(lambda s: s.translate(_COMPACT)),
    "single_line": _string_step(lambda s: _SPACES_RE.sub(" ", s).strip()),
    "none_if_empty": _none_if_empty,
    "number": _number,
    "fr_number": _number,
    "en_number": _en_number,
    "abs": _abs,
    "neg": _neg,
    "int": _int,
    "bool": _bool,
    "not": _not,
    "date": _fr_date,
    "fr_date": _fr_date,
    "datetime": _fr_datetime,
    "fr_datetime": _fr_datetime,
    "country": _country,
}
_TRANSFORM_FACTORIES: dict[str, Callable[[Any], Step]] = {
    "date": _date_factory,
    "datetime": _datetime_factory,
    "truncate": _truncate_factory,
    "round": _round_factory,
    "default": _default_factory,
    "replace": _replace_factory,
}


# --------------------------------------------------------------------------------------------
# The compiled mapping


@dataclass(frozen=True)
class FieldSpec:
    """How one CRM field is computed, as written in the file (for display and checks)."""

    name: str
    kind: str  # copy | source | const | concat | coalesce
    sources: tuple[str, ...] = ()
    transforms: tuple[str, ...] = ()
    const: Any = None
    map: Mapping[str, Any] | None = None
    default: Any = None
    unknown: str = "error"
    lookup: str | None = None
    required: bool = False
    optional: bool = False  # the column may be absent from a file (see check_headers)
    on_invalid: str | None = None  # drop_field | quarantine | stop; None: the stream's default


FieldFn = Callable[[Mapping[str, Any]], Any]


@dataclass(eq=False)
class ChildMapping:
    """Rows a record carries as a list (a document's lines), mapped field by field."""

    key: str  # CRM key of the list ("lines")
    source: str  # source field holding the list
    fields: dict[str, FieldSpec]
    _copies: tuple[tuple[str, str], ...] = ()
    _computed: tuple[tuple[str, FieldFn], ...] = ()

    def apply(self, items: Any, fold: bool, errors: dict[str, str]) -> list[dict[str, Any]]:
        if not isinstance(items, list | tuple):
            errors[self.key] = f"{_show(items)} is not a list"
            return []
        out = []
        for n, item in enumerate(items):
            if not isinstance(item, Mapping):
                errors[f"{self.key}.{n}"] = f"{_show(item)} is not a record"
                continue
            data = {str(k).casefold(): v for k, v in item.items()} if fold else item
            row = {name: data.get(source) for name, source in self._copies}
            for name, fn in self._computed:
                try:
                    row[name] = fn(data)
                except _Invalid as exc:
                    errors[f"{self.key}.{n}.{name}"] = str(exc)
            out.append(row)
        return out


@dataclass(eq=False)
class StreamMapping:
    """The mapping of one stream onto one CRM object type; :meth:`apply` runs per record."""

    name: str
    stream: str
    target: str
    key: str | None
    on_error: str
    fields: dict[str, FieldSpec]
    lookups: dict[str, str]
    source_fields: frozenset[str]
    ignore_case: bool = False
    where: dict[str, Any] = field(default_factory=dict)
    match: str = "off"  # "sure": new external ids are matched to existing records first
    profile: str | None = None  # validation profile records must meet to be loaded
    on_invalid: str | None = None  # the stream's default for its fields (None: built-in)
    _copies: tuple[tuple[str, str], ...] = ()
    _computed: tuple[tuple[str, FieldFn], ...] = ()
    _key_fn: FieldFn | None = None
    _key_steps: tuple[Step, ...] = ()
    _key_sources: tuple[str, ...] = ()
    _key_shown: str = ""
    _where: tuple[tuple[str, Any], ...] = ()
    children: tuple[ChildMapping, ...] = ()

    def _data(self, record: Record) -> Mapping[str, Any]:
        if self.ignore_case:
            return {k.casefold(): v for k, v in record.data.items()}
        return record.data

    def matches(self, record: Record) -> bool:
        """Whether the record belongs to this mapping (its ``where`` conditions), so one source
        stream can feed several targets (Odoo partners: companies and persons)."""
        if not self._where:
            return True
        return self._matches(self._data(record))

    def _matches(self, data: Mapping[str, Any]) -> bool:
        for source, wanted in self._where:
            value = data.get(source)
            if wanted is True or wanted is False:
                if _empty(value) == wanted:
                    return False
            elif _text(value).strip().casefold() not in wanted:
                return False
        return True

    def normalise_key(self, raw: Any) -> str:
        """An external id as this mapping writes it, from a raw key (the record's own key, or
        one returned by ``Stream.existing_keys()``), so tombstones match loaded records."""
        value = raw
        try:
            for step in self._key_steps:
                value = step(value)
        except _Fail as exc:
            raise ValueError(f"the record key {_show(raw)} {exc}") from None
        return _text(value).strip()

    def invalid_policy(self, error_key: str) -> str:
        """What a bad value under ``error_key`` (``email``, ``lines.2.quantity``) does:
        ``drop_field`` (the record lands without it), ``quarantine`` or ``stop``.

        The key and a required field are never dropped: the record cannot exist without
        them. A field's own ``on_invalid`` wins, then the stream's, then the built-in default
        (contact means and identifiers are dropped, anything else quarantines its record).
        """
        root = error_key.split(".", 1)[0]
        if root in ("external_id", "record"):
            return "quarantine"
        spec = self.fields.get(root) or self.fields.get(root + "_external_id")
        if spec is not None and spec.required:
            return "quarantine"
        if spec is not None and spec.on_invalid:
            return spec.on_invalid
        if self.on_invalid:
            return self.on_invalid
        return "drop_field" if root in DROP_BY_DEFAULT else "quarantine"

    def raw_value(self, name: str, record: Record) -> Any:
        """The source value behind a CRM field, as the other system has it (what a data
        manager needs to see when that value was left out)."""
        spec = self.fields.get(name)
        if spec is None or not spec.sources:
            return None
        data = self._data(record)
        values = [data.get(s) for s in spec.sources]
        present = [v for v in values if not _empty(v)]
        if spec.kind == "coalesce":
            return present[0] if present else None
        if len(values) == 1:
            return values[0]
        return " | ".join(_text(v) for v in present)

    def apply(self, record: Record) -> tuple[str, dict[str, Any], dict[str, str]]:
        """(external id, CRM data, errors by CRM field): a bad field never raises, so the loader
        can quarantine the record with every problem listed. An unreadable record (``error``
        set by the reader) gives its message under ``"record"``."""
        if record.error is not None:
            return record.key, {}, {"record": record.error}
        data = self._data(record)
        errors: dict[str, str] = {}
        if self._key_fn is None or (record.deleted and not data):
            try:
                key = self.normalise_key(record.key)
            except ValueError as exc:
                key, errors["external_id"] = "", str(exc)
        else:
            try:
                key = _text(self._key_fn(data)).strip()
            except _Invalid as exc:
                key, errors["external_id"] = "", str(exc)
        if not key and "external_id" not in errors:
            errors["external_id"] = (f"{self._key_shown} is empty" if self._key_shown
                                     else "the record has no key")
        if record.deleted:
            return key, {}, errors
        get = data.get
        out = {name: get(source) for name, source in self._copies}
        for name, fn in self._computed:
            try:
                out[name] = fn(data)
            except _Invalid as exc:
                errors[name] = str(exc)
        for child in self.children:
            items = get(child.source)
            if items is not None:  # absent: the rows are left as they are
                out[child.key] = child.apply(items, self.ignore_case, errors)
        return key, out, errors

    def check_headers(self, headers: Collection[str]) -> list[str]:
        """The columns this mapping needs that a file lacks, as messages: checked once per
        file so a renamed column fails loudly instead of emptying a field. Columns of
        ``where`` and of ``optional`` fields may be absent; of a coalesce, one is enough."""
        present = {h.casefold() for h in headers} if self.ignore_case else set(headers)
        problems: list[str] = []
        needed = [(self._key_sources, "the key")] if self._key_sources else []
        needed += [(spec.sources, f"field {spec.name}") for spec in self.fields.values()
                   if not spec.optional and spec.kind != "const"]
        for sources, what in needed:
            if len(sources) > 1 and not set(sources) & present:
                problems.append(f"streams.{self.name}: none of the columns "
                                f"{', '.join(map(repr, sources))} ({what}) is there")
            elif len(sources) == 1 and sources[0] not in present:
                problems.append(f"streams.{self.name}: column {sources[0]!r} ({what}) is "
                                "missing")
        return problems


@dataclass(eq=False)
class ConnectionMapping:
    """A whole mapping file: the ExternalRef system and the stream mappings, in file order
    (the order to load them in, parents first)."""

    system: str
    streams: dict[str, StreamMapping]
    source: str = "<mapping>"

    def for_stream(self, stream: str) -> list[StreamMapping]:
        """The mappings fed by one connector stream (several when ``where`` splits it)."""
        return [m for m in self.streams.values() if m.stream == stream]


Mapping_ = ConnectionMapping


# --------------------------------------------------------------------------------------------
# Loading and validation


_STREAM_KEYS = {"stream", "target", "key", "on_error", "on_invalid", "ignore_case", "where",
                "fields", "match", "profile"}
_FIELD_KEYS = {"source", "const", "concat", "coalesce", "sep", "transforms", "map", "default",
               "unknown", "lookup", "required", "optional", "on_invalid"}
_KINDS = ("source", "const", "concat", "coalesce")


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _compile_steps(specs: Any, where: str, problems: list[str]) -> tuple[list[Step], list[str]]:
    if not isinstance(specs, list):
        problems.append(f"{where}: transforms must be a list")
        return [], []
    steps: list[Step] = []
    names: list[str] = []
    for spec in specs:
        if isinstance(spec, str):
            if spec in TRANSFORMS:
                steps.append(TRANSFORMS[spec])
                names.append(spec)
            else:
                problems.append(f"{where}: unknown transform {spec!r}"
                                + _suggest(spec, [*TRANSFORMS, *_TRANSFORM_FACTORIES]))
        elif isinstance(spec, dict) and len(spec) == 1:
            ((name, arg),) = spec.items()
            factory = _TRANSFORM_FACTORIES.get(name)
            if factory is None:
                problems.append(f"{where}: unknown transform {name!r}"
                                + _suggest(name, _TRANSFORM_FACTORIES))
                continue
            try:
                steps.append(factory(arg))
                names.append(f"{name}={arg!r}")
            except ValueError as exc:
                problems.append(f"{where}: transform {name!r} {exc}")
        else:
            problems.append(f"{where}: a transform is a name or a one-key table, not {spec!r}")
    return steps, names


def _source_names(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    problems.append(f"{where}: expected a source field name or a list of them")
    return ()


def _make_field_fn(spec: FieldSpec, get: FieldFn, label: str, steps: Sequence[Step],
                   mapping: dict[str, Any] | None, shown_keys: str) -> FieldFn:
    """One closure per field: read, transforms, map, default, required."""
    steps = tuple(steps)
    default, unknown, required = spec.default, spec.unknown, spec.required

    if mapping is None and default is None and not required:  # the common case, kept short
        def transformed(data: Mapping[str, Any]) -> Any:
            raw = value = get(data)
            try:
                for step in steps:
                    value = step(value)
            except _Fail as exc:
                raise _Invalid(f"{label}: {_show(raw)} {exc}") from None
            return value
        return transformed

    def fn(data: Mapping[str, Any]) -> Any:
        raw = value = get(data)
        if steps:
            try:
                for step in steps:
                    value = step(value)
            except _Fail as exc:
                raise _Invalid(f"{label}: {_show(raw)} {exc}") from None
        if mapping is not None and not _empty(value):
            mapped = mapping.get(_text(value).strip().casefold(), _MISSING)
            if mapped is not _MISSING:
                value = mapped
            elif unknown == "error":
                raise _Invalid(f"{label}: {_show(raw)} is not a known value "
                               f"(expected one of: {shown_keys})")
            elif unknown == "default":
                value = None
        if default is not None and _empty(value):
            value = default
        if required and _empty(value):
            raise _Invalid(f"{label} is empty")
        return value
    return fn


_MISSING = object()


def _getter(kind: str, sources: tuple[str, ...], const: Any, sep: str) -> FieldFn:
    if kind == "const":
        return lambda data: const
    if kind == "concat":
        def concat(data: Mapping[str, Any]) -> Any:
            parts = [_text(data.get(s)).strip() for s in sources]
            return sep.join(p for p in parts if p)
        return concat
    if kind == "coalesce":
        def coalesce(data: Mapping[str, Any]) -> Any:
            for s in sources:
                value = data.get(s)
                if not _empty(value):
                    return value
            return None
        return coalesce
    (source,) = sources
    return lambda data: data.get(source)


def _compile_field(crm: str, raw: Any, where: str, *, targets: Mapping[str, Collection[str]],
                   ignore_case: bool, problems: list[str],
                   ) -> tuple[FieldSpec, str | None, FieldFn | None]:
    """(spec, source for a plain copy, computing function) of one field entry."""
    def fold(name: str) -> str:
        return name.casefold() if ignore_case else name

    if isinstance(raw, str):
        if not raw:
            problems.append(f"{where}: the source field name is empty")
        spec = FieldSpec(crm, "copy", (fold(raw),))
        return spec, fold(raw), None
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a source field name or a table, not {raw!r}")
        return FieldSpec(crm, "copy"), None, None
    before = len(problems)
    for extra in sorted(set(raw) - _FIELD_KEYS):
        problems.append(f"{where}: unknown option {extra!r}" + _suggest(extra, _FIELD_KEYS))
    kinds = [k for k in _KINDS if k in raw]
    if len(kinds) != 1:
        problems.append(f"{where}: give exactly one of source, const, concat, coalesce"
                        + (f" (found {' and '.join(kinds)})" if kinds else ""))
        return FieldSpec(crm, "source"), None, None
    kind = kinds[0]
    sources: tuple[str, ...] = ()
    if kind == "source":
        sources = _source_names(raw["source"], f"{where}.source", problems)[:1]
        if isinstance(raw["source"], list):
            problems.append(f"{where}.source: a single field name (use concat or coalesce)")
    elif kind in ("concat", "coalesce"):
        sources = _source_names(raw[kind], f"{where}.{kind}", problems)
    sep = raw.get("sep", " ")
    if "sep" in raw and (kind != "concat" or not isinstance(sep, str)):
        problems.append(f"{where}.sep: only a text, and only with concat")
    steps, step_names = _compile_steps(raw.get("transforms", []), f"{where}.transforms",
                                       problems)
    mapping: dict[str, Any] | None = None
    shown_keys = ""
    if "map" in raw:
        table = raw["map"]
        if isinstance(table, dict) and table:
            mapping = {k.strip().casefold(): v for k, v in table.items()}
            keys = list(table)
            shown_keys = ", ".join(keys[:10]) + (", …" if len(keys) > 10 else "")
        else:
            problems.append(f"{where}.map: expected a non-empty table of source → CRM values")
    unknown = raw.get("unknown", "error")
    if unknown not in ("error", "keep", "default"):
        problems.append(f"{where}.unknown: {unknown!r} is not one of error, keep, default")
    elif "unknown" in raw and "map" not in raw:
        problems.append(f"{where}.unknown: only meaningful with map")
    lookup = raw.get("lookup")
    if lookup is not None and lookup not in targets:
        problems.append(f"{where}.lookup: unknown target {lookup!r}" + _suggest(str(lookup),
                                                                                  targets))
    flags = {}
    for flag in ("required", "optional"):
        flags[flag] = raw.get(flag, False)
        if not isinstance(flags[flag], bool):
            problems.append(f"{where}.{flag}: expected true or false")
            flags[flag] = False
    required = flags["required"]
    on_invalid = raw.get("on_invalid")
    if on_invalid is not None and on_invalid not in ON_INVALID:
        problems.append(f"{where}.on_invalid: {on_invalid!r} is not one of "
                        f"{', '.join(ON_INVALID)}")
        on_invalid = None
    elif on_invalid == "drop_field" and required:
        problems.append(f"{where}.on_invalid: a required field cannot be dropped")
        on_invalid = None
    shown = sources  # as written, for messages
    sources = tuple(fold(s) for s in sources)
    spec = FieldSpec(crm, kind, sources, tuple(step_names), raw.get("const"),
                     raw.get("map"), raw.get("default"), unknown, lookup, required,
                     flags["optional"], on_invalid)
    if len(problems) > before:
        return spec, None, None
    label = ("the constant" if kind == "const" else
             " + ".join(json.dumps(s, ensure_ascii=False) for s in shown))
    fn = _make_field_fn(spec, _getter(kind, sources, spec.const, sep), label, steps, mapping,
                        shown_keys)
    if kind == "const":  # computed once: a bad constant is a mapping problem, not a row one
        try:
            value = fn({})
        except _Invalid as exc:
            problems.append(f"{where}: {exc}")
            return spec, None, None
        return spec, None, lambda data: value
    if kind == "source" and not steps and mapping is None and spec.default is None \
            and not required:
        return spec, sources[0], None
    return spec, None, fn


def _compile_where(raw: Any, where: str, fold: Callable[[str], str],
                   problems: list[str]) -> tuple[tuple[str, Any], ...]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table of source field = value(s)")
        return ()
    out: list[tuple[str, Any]] = []
    for source, wanted in raw.items():
        if isinstance(wanted, bool):
            out.append((fold(source), wanted))
        elif isinstance(wanted, str | int | float):
            out.append((fold(source), frozenset({_text(wanted).strip().casefold()})))
        elif isinstance(wanted, list) and all(isinstance(w, str | int | float) and
                                              not isinstance(w, bool) for w in wanted):
            out.append((fold(source), frozenset(_text(w).strip().casefold() for w in wanted)))
        else:
            problems.append(f"{where}.{source}: expected a text, a list of texts, true or false")
    return tuple(out)


def _compile_stream(name: str, raw: Any, *, targets: Mapping[str, Collection[str]],
                    problems: list[str]) -> StreamMapping | None:
    where = f"streams.{name}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table")
        return None
    named = raw.get("target")
    rows = [t.split(".", 1)[1] for t in targets
            if isinstance(named, str) and t.startswith(f"{named}.")]
    for extra in sorted(set(raw) - _STREAM_KEYS - set(rows)):
        problems.append(f"{where}: unknown option {extra!r}"
                        + _suggest(extra, [*_STREAM_KEYS, *rows]))
    ignore_case = raw.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        problems.append(f"{where}.ignore_case: expected true or false")
        ignore_case = False

    def fold(s: str) -> str:
        return s.casefold() if ignore_case else s

    stream = raw.get("stream", name)
    if not isinstance(stream, str) or not stream:
        problems.append(f"{where}.stream: expected a stream name")
    target = raw.get("target")
    allowed: Collection[str] = ()
    if target is None:
        problems.append(f"{where}.target: missing (one of: {', '.join(_roots(targets))})")
    elif target not in targets or "." in str(target):
        problems.append(f"{where}.target: unknown target {target!r}"
                        + _suggest(str(target), _roots(targets))
                        + f" (known: {', '.join(_roots(targets))})")
    else:
        allowed = targets[target]
    on_error = raw.get("on_error", "quarantine")
    if on_error not in ON_ERROR:
        problems.append(f"{where}.on_error: {on_error!r} is not one of {', '.join(ON_ERROR)}")
    on_invalid = raw.get("on_invalid")
    if on_invalid is not None and on_invalid not in ON_INVALID:
        problems.append(f"{where}.on_invalid: {on_invalid!r} is not one of "
                        f"{', '.join(ON_INVALID)}")
        on_invalid = None
    match, profile = _compile_quality(raw, where, target, problems)

    sources: set[str] = set()
    key_sources: tuple[str, ...] = ()
    key_fn: FieldFn | None = None
    key_steps: list[Step] = []
    key_label: str | None = None
    key_shown = ""
    key = raw.get("key")
    if key is not None:
        key_where = f"{where}.key"
        if isinstance(key, dict) and not set(key) - {"source", "coalesce", "transforms"} \
                and len({"source", "coalesce"} & set(key)) == 1:
            before = len(problems)
            kind = "source" if "source" in key else "coalesce"
            names = _source_names(key[kind], f"{key_where}.{kind}", problems)
            key_steps, _ = _compile_steps(key.get("transforms", []),
                                          f"{key_where}.transforms", problems)
            if len(problems) == before:
                names = names[:1] if kind == "source" else names
                key_shown = " + ".join(json.dumps(n, ensure_ascii=False) for n in names)
                names = tuple(fold(n) for n in names)
                key_label, key_sources = names[0], names
                sources.update(names)
                key_fn = _make_field_fn(FieldSpec("external_id", kind, names),
                                        _getter(kind, names, None, ""), key_shown, key_steps,
                                        None, "")
        elif isinstance(key, str) and key:
            key_shown = json.dumps(key, ensure_ascii=False)
            key_label = fold(key)
            key_sources = (key_label,)
            sources.add(key_label)
            key_fn = _getter("source", (key_label,), None, "")
        else:
            problems.append(f"{key_where}: expected a source field name or "
                            "{ source = …, transforms = […] } / { coalesce = […] }")

    conditions = _compile_where(raw.get("where", {}), f"{where}.where", fold, problems)
    sources.update(source for source, _ in conditions)

    specs, copies, computed = _compile_fields(raw.get("fields"), where, str(target), allowed,
                                              targets=targets, ignore_case=ignore_case,
                                              problems=problems)
    for spec in specs.values():
        sources.update(spec.sources)
    children: list[ChildMapping] = []
    for extra in sorted(set(raw) & set(rows)):
        child = _compile_child(extra, raw[extra], f"{where}.{extra}", f"{target}.{extra}",
                               targets=targets, ignore_case=ignore_case, problems=problems)
        if child is not None:
            children.append(child)
            sources.add(child.source)
    return StreamMapping(
        name=name, stream=stream if isinstance(stream, str) else name,
        target=str(target), key=key_label, on_error=str(on_error), fields=specs,
        match=match, profile=profile, on_invalid=on_invalid,
        lookups={s.name: s.lookup for s in specs.values() if s.lookup},
        source_fields=frozenset(sources), ignore_case=ignore_case,
        where=dict(raw.get("where", {})) if isinstance(raw.get("where"), dict) else {},
        _copies=tuple(copies), _computed=tuple(computed), _key_fn=key_fn,
        _key_steps=tuple(key_steps), _key_sources=key_sources, _key_shown=key_shown,
        _where=conditions, children=tuple(children))


def _compile_quality(raw: Mapping[str, Any], where: str, target: Any, problems: list[str]
                     ) -> tuple[str, str | None]:
    """(match, profile) of a stream: both only mean something where duplicates and profiles
    exist, so setting them on another target is a mistake worth saying."""
    matchable = target in MATCH_TARGETS
    match = raw.get("match", "sure" if matchable else "off")
    if match not in MATCH:
        problems.append(f"{where}.match: {match!r} is not one of {', '.join(MATCH)}")
        match = "off"
    elif match == "sure" and not matchable and "match" in raw:
        problems.append(f"{where}.match: duplicates are matched for "
                        f"{', '.join(sorted(MATCH_TARGETS))} only, not {target!r}")
    profile = raw.get("profile")
    if profile is not None:
        if profile not in PROFILES:
            problems.append(f"{where}.profile: {profile!r} is not one of {', '.join(PROFILES)}"
                            + (_suggest(profile, PROFILES) if isinstance(profile, str) else ""))
            profile = None
        elif not matchable:
            problems.append(f"{where}.profile: profiles apply to "
                            f"{', '.join(sorted(MATCH_TARGETS))} only, not {target!r}")
            profile = None
    return str(match), profile


def _roots(targets: Mapping[str, Collection[str]]) -> list[str]:
    """The targets a stream may load (``salesdocument.lines`` is part of a document)."""
    return sorted(t for t in targets if "." not in t)


def _compile_fields(raw: Any, where: str, target: str, allowed: Collection[str], *,
                    targets: Mapping[str, Collection[str]], ignore_case: bool,
                    problems: list[str]
                    ) -> tuple[dict[str, FieldSpec], list[tuple[str, str]],
                               list[tuple[str, FieldFn]]]:
    """(specs, plain copies, computed fields) of a ``fields`` table."""
    if not isinstance(raw, dict) or not raw:
        problems.append(f"{where}.fields: missing or empty (CRM field = source field)")
        raw = {}
    specs: dict[str, FieldSpec] = {}
    copies: list[tuple[str, str]] = []
    computed: list[tuple[str, FieldFn]] = []
    for crm, spec_raw in raw.items():
        field_where = f"{where}.fields.{crm}"
        if allowed and crm not in allowed:
            problems.append(f"{field_where}: unknown field {crm!r} for {target}"
                            + _suggest(crm, allowed))
        spec, copy_source, fn = _compile_field(crm, spec_raw, field_where, targets=targets,
                                               ignore_case=ignore_case, problems=problems)
        specs[crm] = spec
        if copy_source is not None:
            copies.append((crm, copy_source))
        elif fn is not None:
            computed.append((crm, fn))
    return specs, copies, computed


def _compile_child(name: str, raw: Any, where: str, target: str, *,
                   targets: Mapping[str, Collection[str]], ignore_case: bool,
                   problems: list[str]) -> ChildMapping | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table with source and fields")
        return None
    for extra in sorted(set(raw) - {"source", "fields"}):
        problems.append(f"{where}: unknown option {extra!r}"
                        + _suggest(extra, ["source", "fields"]))
    source = raw.get("source", name)
    if not isinstance(source, str) or not source:
        problems.append(f"{where}.source: expected the source field holding the list")
        source = name
    specs, copies, computed = _compile_fields(
        raw.get("fields"), where, target, targets[target], targets=targets,
        ignore_case=ignore_case, problems=problems)
    return ChildMapping(key=name, source=source.casefold() if ignore_case else source,
                        fields=specs, _copies=tuple(copies), _computed=tuple(computed))


def load_mapping(text: str, *, targets: Mapping[str, Collection[str]],
                 source: str = "<mapping>") -> ConnectionMapping:
    """Parse and validate a mapping file, listing every problem in one MappingError so the
    person fixing it does not go round the loop once per typo."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError([f"{source}: TOML syntax error: {exc}"]) from None
    problems: list[str] = []
    for extra in sorted(set(raw) - {"system", "streams"}):
        problems.append(f"{extra}: unknown option" + _suggest(extra, ["system", "streams"]))
    system = raw.get("system")
    if not isinstance(system, str) or not _SYSTEM_RE.fullmatch(system):
        problems.append(f"system: {system!r} is not a valid system name "
                        "(lower-case letters, digits and _ . : -)" if system is not None
                        else "system: missing (the name of the other system, e.g. \"erp\")")
    streams_raw = raw.get("streams")
    streams: dict[str, StreamMapping] = {}
    if not isinstance(streams_raw, dict) or not streams_raw:
        problems.append("streams: no stream mapped (add a [streams.NAME] table)")
    else:
        for name, stream_raw in streams_raw.items():
            compiled = _compile_stream(name, stream_raw, targets=targets, problems=problems)
            if compiled is not None:
                streams[name] = compiled
    if problems:
        raise MappingError(problems)
    return ConnectionMapping(system=str(system), streams=streams, source=source)


# --------------------------------------------------------------------------------------------
# Proposing a mapping from a file's headers

def auto_mapping(headers: Sequence[str], *, fields: Collection[str],
                 spellings: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """CRM field → header guessed from the fields' names, then from ``spellings`` (field →
    the headers that name it, e.g. ``comptoir.quality.headers.synonyms(target)``, given by the
    caller: the engine knows no CRM), to propose a mapping a person then reviews; never used
    unreviewed."""
    by_fold: dict[str, str] = {}
    for header in headers:
        by_fold.setdefault(_fold(header), header)
    spellings = spellings or {}
    used: set[str] = set()
    out: dict[str, str] = {}
    # Exact field names first (a file exported from Comptoir), then synonyms in table order.
    fields = sorted(fields)  # a set's order varies between processes
    for crm in fields:
        exact = by_fold.get(_fold(crm))
        if exact is not None and exact not in used:
            out[crm] = exact
            used.add(exact)
    for crm in fields:
        if crm in out:
            continue
        for name in spellings.get(crm, ()):
            found = by_fold.get(_fold(name))
            if found is not None and found not in used:
                out[crm] = found
                used.add(found)
                break
    return out


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _toml_key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else _toml_str(text)


def propose_mapping(headers: Sequence[str], *, system: str, stream: str, target: str,
                    fields: Collection[str], key: str | None = None,
                    spellings: Mapping[str, Sequence[str]] | None = None) -> str:
    """A mapping file's text from :func:`auto_mapping`, with the unmatched headers listed as
    comments, for a person to review and complete."""
    guessed = auto_mapping(headers, fields=fields, spellings=spellings)
    lines = [f"system = {_toml_str(system)}", "", f"[streams.{_toml_key(stream)}]",
             f"target = {_toml_str(target)}"]
    if key:
        lines.append(f"key = {_toml_str(key)}")
    lines += ["", f"[streams.{_toml_key(stream)}.fields]"]
    lines += [f"{_toml_key(crm)} = {_toml_str(header)}" for crm, header in guessed.items()]
    unused = [h for h in headers if h not in guessed.values() and h != key]
    if unused:
        lines += ["", "# Columns not mapped:"] + [f"# {h}" for h in unused]
    return "\n".join(lines) + "\n"

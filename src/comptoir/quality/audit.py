"""Pre-go-live audit of a file (I10): what importing it would bring, before anything is imported.

A CSV or XLSX export (the previous CRM's, a purchased list, the ERP's customers) is read as a
stream of rows numbered as a spreadsheet shows them (header = row 1, first data row = 2); its
columns are mapped to the model's fields (French and English header names recognised, the
caller's ``Column=field`` overrides first); then, without writing anything:

* **fill rate** of every mapped field;
* **invalid identifiers** (SIREN, SIRET, VAT, NAF, e-mail, phone, postcode, country), with the
  messages of :mod:`identifiers`, which every write path uses, so the audit says what an import
  would refuse;
* **profile violations** per profile (lead, crm, erp) from :func:`profiles.gaps`;
* **duplicates inside the file**: every pair scoring at least the review threshold, found by
  :func:`matching.find_pairs` (blocking keys, so the cost stays near-linear);
* **duplicates against the base**: for each row, the best existing records, scored as
  :func:`dedupe.candidates` scores them, for all rows at once (:func:`dedupe.batch_candidates`,
  the batch lookup imports and syncs use).

The report is a plain, JSON-serialisable dict (``AuditReport.as_dict()``). Its structure is
stable (``"version": 1``); fields may be added, none removed or renamed without a new version::

    {
      "format": "comptoir-audit", "version": 1,
      "file": "clients.csv", "object": "account", "sheet": null,
      "encoding": "cp1252", "delimiter": ";",          # null for XLSX
      "generated_at": "2025-…Z", "language": "fr", "user": "dm" | null,
      "header_row": 1, "rows": 1200, "empty_rows": 3,  # data rows audited / blank rows skipped
      "truncated": false, "row_limit": 200000,          # rows past COMPTOIR_AUDIT_MAX_ROWS:
      "warnings": ["…"],                               #   not audited, and said here
      "examples_limit": 10,
      "mapping": {
        "columns": [{"column": "Raison sociale", "field": "legal_name", "label": "…",
                     "how": "auto" | "map"}],
        "unmapped": ["Commentaire interne", …]
      },
      "fill": [{"field", "label", "column", "filled", "percent"}],          # per mapped field
      "invalid": [{"field", "label", "column", "checked", "count",
                   "examples": [{"row": 7, "value": "123", "message": "…"}]}],
      "profiles": [{"profile": "lead" | "crm" | "erp", "failing", "passing",
                    "percent_passing",
                    "requirements": [{"requirement", "fields", "message", "count"}],
                    "not_checked": [{"requirement", "reason"}],
                    "examples": [{"row", "gaps": [{"requirement", "fields", "message"}]}]}],
      "duplicates_in_file": {"threshold", "sure", "pairs", "rows", "groups",
                             "items": [{"rows": [2, 9], "score", "sure", "keys",
                                        "labels": ["…", "…"], "reasons": [{"field",  # every pair
                                        "verdict", "points", "similarity"?, "text"}]}]},
      "duplicates_in_base": {"threshold", "sure", "visibility": "all" | "user", "rows",
                             "sure_rows",
                             "items": [{"row", "label", "candidates": [{"id", "name",
                                        "score", "sure", "keys", "reasons", "record"}]}]},
      "timings": {"read", "checks", "in_file", "base", "total"}       # seconds
    }

``items`` of the in-file duplicates are every pair found, ordered by row numbers; the base
candidates are at most ``BASE_LIMIT`` per row, best first, and only records the auditing user
may see (no user: the whole base, as for ``candidates(user=None)``). A caller may keep only
the first items of both sections (``items_limit``); the counts still cover every row.

The file is read as a stream (bytes, a path or an open file) and the rows are checked
against the base ``BASE_CHUNK`` at a time: what is held for the whole file is each row's
matching features, number and label, for the in-file duplicates.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import time
import zipfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from functools import lru_cache
from typing import IO, Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from email_validator import SPECIAL_USE_DOMAIN_NAMES
from stdnum import luhn

from comptoir.access import policy
from comptoir.core.archives import ArchiveTooLarge, check_zip_archive
from comptoir.core.errors import ValidationFailed
from comptoir.crm.models import Account, Contact, Lead

from . import headers, profiles
from . import identifiers as ids
from .dedupe import SOURCES, batch_candidates, match_config
from .matching import (
    SPECS,
    Features,
    assign_frequencies,
    explain_pair,
    find_pairs,
    key_kind,
)
from .wording import reason_text

OBJECT_TYPES = ("account", "contact", "lead")
FORMAT_VERSION = 1
BASE_LIMIT = 3  # existing records shown per row
DEFAULT_EXAMPLES = 10


class AuditError(ValidationFailed):
    """The file cannot be audited (unreadable, no header, a bad mapping): the message says why
    in words a data manager can act on."""


# --- Fields and header names ---------------------------------------------------------------

# The fields a file may fill, per object type (model field names). ``contacts`` (accounts)
# and ``account`` (contacts) are not model fields: a column naming the account's contact
# person, or the contact's company, as flat exports carry them.
FIELDS: dict[str, tuple[str, ...]] = {
    "account": (
        "legal_name", "trade_name", "siren", "siret", "vat_number", "naf_code",
        "billing_street", "billing_postcode", "billing_city", "billing_country",
        "shipping_street", "shipping_postcode", "shipping_city", "shipping_country",
        "phone", "email", "website", "headcount_band", "payment_terms", "credit_limit",
        "status", "contacts",
    ),
    "contact": (
        "civility", "first_name", "last_name", "job_title", "email", "email_secondary",
        "phone", "mobile", "marketing_consent", "account",
    ),
    "lead": (
        "company_name", "siren", "civility", "first_name", "last_name", "job_title", "email",
        "phone", "website", "street", "postcode", "city", "country", "source", "status",
        "description",
    ),
}
MODELS = {"account": Account, "contact": Contact, "lead": Lead}

_HEADER_NOISE = re.compile(r"[^a-z0-9]+")


def normalize_header(text: str) -> str:
    """``"N° TVA_Intracom."`` → ``n tva intracom``: case, accents, spaces, dashes, underscores
    and dots do not matter when recognising a column."""
    return " ".join(_HEADER_NOISE.sub(" ", ids.ascii_fold(str(text))).split())


def field_label(object_type: str, name: str) -> str:
    """The field's name for people, in the active language."""
    if name == "contacts":
        return _("contact person")
    if name == "account":
        return _("account")
    return str(getattr(MODELS[object_type]._meta.get_field(name), "verbose_name", name))


@lru_cache(maxsize=8)
def _synonyms(object_type: str, language: str) -> dict[str, str]:
    """Normalised header → field: the spellings of :mod:`headers`, then each field's own name
    and its label in every language of the site (so ``billing_postcode`` and "code postal de
    facturation" are understood too). The spellings win: ``nom`` is a contact's last name, an
    account's legal name."""
    table: dict[str, str] = {}
    for name in FIELDS[object_type]:
        table.setdefault(normalize_header(name), name)
        for code, _label in settings.LANGUAGES:
            with translation.override(code):
                table.setdefault(normalize_header(field_label(object_type, name)), name)
    named: dict[str, str] = {}  # a target's own spellings come first: the first one wins
    for name, words in headers.synonyms(object_type).items():
        if name in FIELDS[object_type]:
            for word in words:
                named.setdefault(normalize_header(word), name)
    table.update(named)
    return table


@dataclass
class ColumnMapping:
    """Which column fills which field (by column position) and what was left out."""

    columns: list[str]
    fields: dict[int, str]  # column position → field
    how: dict[int, str]  # column position → "auto" | "map"
    unmapped: list[str]

    def as_dict(self, object_type: str) -> dict[str, Any]:
        return {
            "columns": [{"column": self.columns[i], "field": name,
                         "label": field_label(object_type, name), "how": self.how[i]}
                        for i, name in sorted(self.fields.items())],
            "unmapped": self.unmapped,
        }


def parse_mapping(text: str | Iterable[str] | None) -> dict[str, str]:
    """``"Col A=legal_name,Col B=siren"`` (or one ``Column=field`` per line, or several
    ``--map`` values) → ``{"Col A": "legal_name", …}``; ``"Col="`` un-maps a column."""
    if not text:
        return {}
    parts: list[str] = []
    for chunk in ([text] if isinstance(text, str) else list(text)):
        lines = [ln for ln in chunk.replace("\r", "\n").split("\n") if ln.strip()]
        for line in lines:
            # one pair per line; a single line may hold several, comma-separated
            parts.extend(line.split(",") if line.count("=") > 1 else [line])
    out: dict[str, str] = {}
    for part in parts:
        if not part.strip():
            continue
        if "=" not in part:
            raise AuditError(_("Mapping “%(part)s”: write it as Column=field.")
                             % {"part": part.strip()})
        column, _sep, target = part.partition("=")
        if not column.strip():
            raise AuditError(_("Mapping “%(part)s”: the column name is missing.")
                             % {"part": part.strip()})
        out[column.strip()] = target.strip()
    return out


def map_columns(object_type: str, columns: Sequence[str],
                overrides: Mapping[str, str] | None = None) -> ColumnMapping:
    """Map each column to a field: ``overrides`` first (by exact or normalised column name),
    then the synonym table. A field is filled by one column only (the first)."""
    valid = FIELDS[object_type]
    table = _synonyms(object_type, translation.get_language() or settings.LANGUAGE_CODE)
    by_norm: dict[str, int] = {}
    for i, column in enumerate(columns):
        by_norm.setdefault(normalize_header(column), i)
    forced: dict[int, str] = {}
    for column, target in (overrides or {}).items():
        position = columns.index(column) if column in columns else \
            by_norm.get(normalize_header(column))
        if position is None:
            raise AuditError(_("No column “%(column)s” in the file. Its columns: %(columns)s.")
                             % {"column": column, "columns": ", ".join(columns)})
        if target and target not in valid:
            raise AuditError(
                _("“%(field)s” is not a field of %(object)s. Valid fields: %(fields)s.")
                % {"field": target, "object": object_type, "fields": ", ".join(valid)})
        forced[position] = target
    fields: dict[int, str] = {}
    how: dict[int, str] = {}
    taken = {target for target in forced.values() if target}
    for i, column in enumerate(columns):
        if i in forced:
            if forced[i]:
                fields[i], how[i] = forced[i], "map"
            continue
        name = table.get(normalize_header(column))
        if name and name not in taken:
            fields[i], how[i] = name, "auto"
            taken.add(name)
    unmapped = [c for i, c in enumerate(columns) if i not in fields]
    return ColumnMapping(list(columns), fields, how, unmapped)


# --- Reading the file -----------------------------------------------------------------------

@dataclass
class Table:
    """A file as columns and a stream of ``(row number, cells)``; blank rows included (the
    caller counts them), numbers as the spreadsheet shows them."""

    columns: list[str]
    header_row: int
    rows: Iterator[tuple[int, list[str]]]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ").removesuffix(" 00:00:00")
    if isinstance(value, date | dtime):
        return value.isoformat()
    return str(value).strip()


_CHUNK = 1 << 20  # bytes read at a time: the file is never held decoded whole


def _valid_as(f: IO[bytes], encoding: str) -> bool:
    """Whether the whole stream decodes as ``encoding``, read a chunk at a time."""
    f.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := f.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _encoding(f: IO[bytes]) -> tuple[str, str]:
    """The text encoding of the stream and the error policy to read it with: a BOM says it;
    else UTF-8 if the whole file is, else Windows-1252, else Latin-1."""
    f.seek(0)
    head = f.read(4096)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", "replace"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        return "utf-16", "strict"
    if b"\x00" in head:
        raise AuditError(_("This is not a text file (CSV) nor an XLSX workbook."))
    for encoding in ("utf-8", "cp1252"):
        if _valid_as(f, encoding):
            return encoding, "strict"
    return "latin-1", "strict"


def _text(f: IO[bytes], encoding: str, errors: str) -> io.TextIOWrapper:
    f.seek(0)
    return io.TextIOWrapper(f, encoding=encoding, errors=errors, newline="")


def _delimiter(text: str) -> str:
    """The separator giving the most lines with as many cells as the header (``;`` from
    French Excel, ``,``, tab…); the sniffer is kept as a tie-breaker's fallback."""
    sample = text[:65536]
    lines = sample.splitlines()[:50]
    best, best_score = ",", (0, 0)
    for delimiter in (";", ",", "\t", "|"):
        parsed = list(csv.reader(lines, delimiter=delimiter))
        parsed = [p for p in parsed if any(c.strip() for c in p)]
        if not parsed or len(parsed[0]) < 2:
            continue
        width = len(parsed[0])
        score = (sum(1 for p in parsed if len(p) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    if best_score == (0, 0):
        try:
            return csv.Sniffer().sniff(sample, delimiters=";,\t|").delimiter
        except csv.Error:
            return ","
    return best


def _columns(cells: Sequence[str]) -> list[str]:
    """Header names as given; blank ones named after their column letter, repeated ones
    numbered, so every column can be named in a mapping."""
    out: list[str] = []
    seen: Counter[str] = Counter()
    for i, raw in enumerate(cells):
        name = raw.strip().lstrip("\ufeff") or _("Column %(letter)s") % {"letter": _letter(i)}
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _with_header(rows: Iterator[tuple[int, list[str]]], **info: Any) -> Table:
    for number, cells in rows:
        if any(c for c in cells):
            while cells and not cells[-1]:
                cells = cells[:-1]
            return Table(_columns(cells), number, rows, **info)
    raise AuditError(_("The file is empty: no header row and no data."))


def _csv_table(f: IO[bytes], close: Callable[[], None]) -> Table:
    """The CSV as a stream of rows, decoded as it is read (memory does not grow with the
    file); ``close`` is called once the rows are read, or left."""
    encoding, errors = _encoding(f)
    peek = _text(f, encoding, errors)
    try:
        sample = peek.read(65536)
        blank = not sample.strip()
        while blank and (more := peek.read(65536)):
            blank = not more.strip()
    except UnicodeDecodeError as exc:
        raise _undecodable(encoding) from exc
    finally:
        peek.detach()
    if blank:
        raise AuditError(_("The file is empty: no header row and no data."))
    delimiter = _delimiter(sample)
    text = _text(f, encoding, errors)
    reader = csv.reader(text, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, cells in enumerate(reader, start=1):
                yield number, [c.strip() for c in cells]
        except csv.Error as exc:
            raise AuditError(_("The CSV file is malformed near row %(row)s: %(error)s")
                             % {"row": reader.line_num, "error": exc}) from exc
        except UnicodeDecodeError as exc:
            raise _undecodable(encoding) from exc
        finally:
            with contextlib.suppress(ValueError):  # the caller's file closed already
                text.detach()
            close()

    return _with_header(rows(), encoding=encoding, delimiter=delimiter)


def _undecodable(encoding: str) -> AuditError:
    return AuditError(_("This file cannot be read as %(encoding)s text: save it again as "
                        "CSV UTF-8.") % {"encoding": encoding})


def _check_archive(f: IO[bytes]) -> None:
    """Refuse a workbook that would unpack too far (a zip bomb) before parsing anything."""
    try:
        f.seek(0)
        check_zip_archive(f,
                          max_bytes=settings.COMPTOIR_IMPORT_MAX_UNCOMPRESSED_BYTES,
                          max_ratio=settings.COMPTOIR_IMPORT_MAX_COMPRESSION_RATIO)
    except ArchiveTooLarge as exc:
        if exc.kind == "ratio":
            raise AuditError(_(
                "This workbook is compressed more than %(ratio)d times: it is refused as a "
                "possible zip bomb. Save it again from your spreadsheet, or export it as CSV.")
                % {"ratio": exc.limit}) from None
        raise AuditError(_(
            "This workbook unpacks to more than %(size)s MB, the limit: split it, or export "
            "it as CSV.") % {"size": f"{exc.limit / 1_000_000:.1f}"}) from None


def _xlsx_table(f: IO[bytes], sheet: str | None, close: Callable[[], None]) -> Table:
    import openpyxl

    _check_archive(f)
    f.seek(0)
    try:
        book = openpyxl.load_workbook(f, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML, missing parts: openpyxl raises many kinds
        raise AuditError(_("This workbook cannot be read (%(error)s). Save it again as .xlsx "
                           "or export it as CSV.") % {"error": type(exc).__name__}) from exc
    if sheet:
        if sheet not in book.sheetnames:
            raise AuditError(_("No sheet “%(sheet)s” in this workbook. Its sheets: %(sheets)s.")
                             % {"sheet": sheet, "sheets": ", ".join(book.sheetnames)})
        ws = book[sheet]
    else:
        ws = book.worksheets[0] if book.worksheets else None
        if ws is None:
            raise AuditError(_("This workbook has no sheet."))

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                yield number, [_cell(v) for v in values]
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise AuditError(_("This workbook cannot be read (%(error)s).")
                             % {"error": type(exc).__name__}) from exc
        finally:
            book.close()
            close()

    return _with_header(rows(), sheet=ws.title)


Source = bytes | str | os.PathLike[str] | IO[bytes]


def read_table(content: Source, filename: str = "", *, sheet: str | None = None) -> Table:
    """Open ``content`` (bytes, a path or a seekable binary file) as XLSX (by its zip
    signature) or CSV (anything textual), read as a stream: a file given by its path or as
    a file is never held whole in memory. A file this opens is closed once its rows are
    read (``Table.rows`` closed)."""
    if isinstance(content, bytes | bytearray):
        f: IO[bytes] = io.BytesIO(content)  # shares the bytes' buffer: no copy
        opened = False
    elif isinstance(content, str | os.PathLike):
        f, opened = open(content, "rb"), True  # noqa: SIM115 (closed with the rows)
    else:
        f, opened = content, False

    def close() -> None:
        if opened:
            f.close()

    try:
        f.seek(0)
        head = f.read(4096)
        if _blank(f, head):
            raise AuditError(_("The file is empty: no header row and no data."))
        if head.startswith(b"PK\x03\x04"):
            return _xlsx_table(f, sheet, close)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise AuditError(_("Old Excel files (.xls) are not read: save it as .xlsx or CSV."))
        if filename.lower().endswith((".xlsx", ".xlsm")):
            raise AuditError(_("This file is named .xlsx but is not an Excel workbook."))
        if head.startswith(b"%PDF"):
            raise AuditError(_("This is not a text file (CSV) nor an XLSX workbook."))
        return _csv_table(f, close)
    except BaseException:
        close()
        raise


def _blank(f: IO[bytes], head: bytes) -> bool:
    """Nothing but white space (as ``bytes.strip`` sees it) from the start to the end."""
    chunk = head
    while chunk:
        if chunk.strip():
            return False
        chunk = f.read(_CHUNK)
    return True


# --- Checks ---------------------------------------------------------------------------------

Check = Callable[[str, Mapping[str, str]], str]

# Fast paths for the everyday shapes (a French national number, a plain ASCII address, nine or
# fourteen digits): a 50,000-row file is audited in seconds instead of a minute. Each one
# only ever *accepts* a value the identifiers module accepts too, giving the same normalised
# form; anything else goes to the identifiers module, whose message is the one reported.
_FR_NATIONAL = re.compile(r"0[1-9]\d{8}")
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@"
                          r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}")
_SPECIAL_DOMAINS = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_PHONE_SEPARATORS = str.maketrans("", "", " .-")


def _region(data: Mapping[str, str], name: str) -> str:
    return ids.country_code(data.get(name, "")) or "FR"


def check_phone(value: str, region: str = "FR") -> str:
    """:func:`identifiers.check_phone`, without parsing ``01 23 45 67 89`` in France."""
    if region == "FR":
        compact = value.translate(_PHONE_SEPARATORS)
        if _FR_NATIONAL.fullmatch(compact):
            return "+33" + compact[1:]
    return ids.check_phone(value, region)


def check_email(value: str) -> str:
    """:func:`identifiers.check_email`, without the validation library for plain addresses."""
    text = value.strip()
    if len(text) <= 254 and "--" not in text and _PLAIN_EMAIL.fullmatch(text):
        local, _at, domain = text.rpartition("@")
        if len(local) <= 64 and domain.rsplit(".", 1)[1].lower() not in _SPECIAL_DOMAINS:
            return f"{local}@{domain.lower()}"
    return ids.check_email(value)


def check_siren(value: str) -> str:
    compact = value.replace(" ", "")
    if len(compact) == 9 and compact.isdigit() and compact.isascii() \
            and luhn.checksum(compact) == 0:
        return compact
    return ids.check_siren(value)


def _siret_number(value: str) -> str:
    compact = value.replace(" ", "")
    if len(compact) == 14 and compact.isdigit() and compact.isascii() \
            and not compact.startswith("356000000") and luhn.checksum(compact) == 0:
        return compact  # La Poste's establishments follow another rule: left to stdnum
    return ids.check_siret(value)


def _phone(country_field: str) -> Check:
    return lambda value, data: check_phone(value, _region(data, country_field))


def _postcode(country_field: str) -> Check:
    # the country as the profiles read it (the row's countries are ISO codes by now)
    return lambda value, data: ids.check_postcode(value, data.get(country_field) or "FR")


def _siret(value: str, data: Mapping[str, str]) -> str:
    compact = _siret_number(value)
    siren = re.sub(r"\D", "", data.get("siren", ""))
    if len(siren) == 9 and ids.siren_from(siren) and compact[:9] != siren:
        raise ValueError(_("This SIRET belongs to another company than the SIREN %(siren)s.")
                         % {"siren": siren})
    return compact


def _plain(check: Callable[[str], str]) -> Check:
    return lambda value, data: check(value)


CHECKS: dict[str, dict[str, Check]] = {
    "account": {
        "siren": _plain(check_siren), "siret": _siret, "vat_number": _plain(ids.check_vat),
        "naf_code": _plain(ids.check_naf), "email": _plain(check_email),
        "phone": _phone("billing_country"),
        "billing_postcode": _postcode("billing_country"),
        "shipping_postcode": _postcode("shipping_country"),
        "billing_country": _plain(ids.check_country),
        "shipping_country": _plain(ids.check_country),
    },
    "contact": {
        "email": _plain(check_email), "email_secondary": _plain(check_email),
        "phone": _phone(""), "mobile": _phone(""),
    },
    "lead": {
        "siren": _plain(check_siren), "email": _plain(check_email),
        "phone": _phone("country"), "postcode": _postcode("country"),
        "country": _plain(ids.check_country),
    },
}
# Checked values the matching reads in their normalised form (E.164 phones are not parsed
# twice).
_NORMALISED = frozenset({"phone", "mobile"})
_COUNTRY_FIELDS = ("billing_country", "shipping_country", "country")


def _row_label(object_type: str, data: Mapping[str, str]) -> str:
    if object_type == "account":
        return data.get("legal_name") or data.get("trade_name") or ""
    person = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
    company = data.get("company_name") or data.get("account") or ""
    return " — ".join(p for p in (person, company) if p)


# --- The audit ------------------------------------------------------------------------------

@dataclass
class _Invalid:
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Profile:
    failing: int = 0
    requirements: dict[str, dict[str, Any]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AuditReport:
    """The audit of one file; :meth:`as_dict` is the documented JSON (module docstring)."""

    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.data

    @property
    def rows(self) -> int:
        return int(self.data["rows"])


def audit_file(content: Source, *, filename: str, object_type: str, user: Any = None,
               mapping: Mapping[str, str] | str | None = None, sheet: str | None = None,
               limit_examples: int = DEFAULT_EXAMPLES, check_base: bool = True,
               items_limit: int | None = None) -> AuditReport:
    """Audit ``content`` (CSV or XLSX: bytes, a path or a seekable binary file, read as a
    stream) as records of ``object_type``; nothing is written.

    ``user`` is who asks: duplicates against the base name only records they may see (no
    user: the whole base, for a system or command-line run). ``items_limit`` keeps only the
    first pairs and rows of the two duplicate sections (their counts still cover every row):
    a caller showing a few needs not hold, nor explain, thousands. Raises
    :class:`AuditError` with a readable message when the file or the mapping cannot be used.
    """
    if object_type not in OBJECT_TYPES:
        raise AuditError(_("Choose account, contact or lead."))
    started = time.perf_counter()
    overrides = parse_mapping(mapping) if isinstance(mapping, str) else dict(mapping or {})
    table = read_table(content, filename, sheet=sheet)
    try:
        return _audit_table(table, filename=filename, object_type=object_type, user=user,
                            overrides=overrides, limit_examples=limit_examples,
                            check_base=check_base, items_limit=items_limit, started=started)
    finally:
        close = getattr(table.rows, "close", None)
        if close is not None:
            close()  # a file or workbook left before its end is closed now


def _audit_table(table: Table, *, filename: str, object_type: str, user: Any,
                 overrides: Mapping[str, str], limit_examples: int, check_base: bool,
                 items_limit: int | None, started: float) -> AuditReport:
    max_rows = int(settings.COMPTOIR_AUDIT_MAX_ROWS)
    truncated = False
    mapped = map_columns(object_type, table.columns, overrides)
    if not mapped.fields:
        raise AuditError(
            _("No column is recognised as a field of %(object)s: the first row must name the "
              "columns (e.g. raison_sociale, siren, code_postal), or give a mapping "
              "(Column=field). Columns found: %(columns)s.")
            % {"object": object_type, "columns": ", ".join(table.columns[:30])})
    limit = max(0, int(limit_examples))
    spec, config = SPECS[object_type], match_config(object_type)
    positions = sorted(mapped.fields.items())
    checks = CHECKS[object_type]
    checked = [(name, checks[name]) for _i, name in positions if name in checks]
    filled: Counter[str] = Counter()
    invalid = {name: _Invalid() for name, _c in checked}
    profile_names = profiles.PROFILE_NAMES
    has_contacts = "contacts" in mapped.fields.values()
    skip = frozenset({"no_duplicate"} | (
        {"contact"} if object_type == "account" and not has_contacts else set()))
    prof = {name: _Profile() for name in profile_names}
    # Kept for every row, as compact as the in-file search allows: its features, number,
    # label and counted name. The rows themselves are checked against the base a chunk at a
    # time (``BASE_CHUNK``) and let go.
    feats: list[Features] = []
    row_numbers = array("l")
    labels: list[str] = []
    freq_names: list[str] = []
    base_rows: list[Mapping[str, Any]] = []
    base = _BaseFound(object_type, user, items_limit)
    shared: dict[Any, Any] = {}
    empty_rows = 0
    t_checks = 0.0
    gaps_seen: dict[tuple[Any, ...], dict[str, list[profiles.Gap]]] = {}
    source = SOURCES[object_type]

    for number, cells in table.rows:
        width = len(cells)
        data = {name: (cells[i] if i < width else "") for i, name in positions}
        if not any(cells):
            empty_rows += 1
            continue
        if len(feats) >= max_rows:  # memory and time grow with every row audited
            truncated = True
            break
        t0 = time.perf_counter()
        for name, value in data.items():
            if value:
                filled[name] += 1
        for name in _COUNTRY_FIELDS:
            if data.get(name):
                data[name] = ids.country_code(data[name]) or data[name]
        verdicts: list[str] = []
        match = data
        for name, check in checked:
            value = data[name]
            if not value:
                verdicts.append("")
                continue
            try:
                normalised = check(value, data)
            except ValueError as exc:
                message = str(exc)
                verdicts.append(message)
                bad = invalid[name]
                bad.count += 1
                if len(bad.examples) < limit:
                    bad.examples.append({"row": number, "value": value, "message": message})
            else:
                verdicts.append("ok")
                if name in _NORMALISED:
                    if match is data:
                        match = dict(data)
                    match[name] = normalised
        contacts = (1 if data.get("contacts") else 0) if has_contacts else None
        # What the profiles read of a row: which fields are filled, whether the checked values
        # are valid (and why not), the countries, the contacts. Rows alike share one answer:
        # a file has few shapes of rows, and ``gaps`` costs as much as all the checks above.
        signature = (contacts, tuple(bool(v) for v in data.values()), tuple(verdicts),
                     tuple(data.get(c, "") for c in _COUNTRY_FIELDS))
        row_gaps = gaps_seen.get(signature)
        if row_gaps is None:
            row_gaps = gaps_seen[signature] = {
                name: profiles.gaps(object_type, data, name, contacts=contacts, skip=skip)
                for name in profile_names}
        for name, found in row_gaps.items():
            if not found:
                continue
            p = prof[name]
            p.failing += 1
            for gap in found:
                entry = p.requirements.setdefault(gap.requirement, {
                    "requirement": gap.requirement, "fields": list(gap.fields),
                    "message": gap.message, "count": 0})
                entry["count"] += 1
            if len(p.examples) < limit:
                p.examples.append({"row": number, "gaps": [
                    {"requirement": g.requirement, "fields": g.fields, "message": g.message}
                    for g in found]})
        t_checks += time.perf_counter() - t0
        matched = _match_data(object_type, match)
        feats.append(_shared(spec.features(matched), shared))
        row_numbers.append(number)
        labels.append(_row_label(object_type, data))
        if source.freq_field:
            freq_names.append(source.freq_value(data))
        if check_base:
            base_rows.append(matched)
            if len(base_rows) >= BASE_CHUNK:
                base.add(base_rows, row_numbers, labels)
                base_rows = []
    if base_rows:
        base.add(base_rows, row_numbers, labels)
        base_rows = []
    t_base = base.seconds
    t_read = time.perf_counter() - started - t_checks - t_base
    rows = len(feats)
    warnings = [_("The file has more than %(n)d rows; only the first %(n)d were audited.")
                % {"n": max_rows}] if truncated else []

    t1 = time.perf_counter()
    in_file = _file_pairs(object_type, feats, freq_names, row_numbers, labels,
                          items_limit=items_limit)
    del feats, freq_names, labels  # the report's own structures from here on
    t_in_file = time.perf_counter() - t1

    def pct(n: int) -> float:
        return round(100.0 * n / rows, 1) if rows else 0.0

    columns = {name: mapped.columns[i] for i, name in positions}
    not_checked = [{"requirement": "no_duplicate",
                    "reason": _("Duplicates are listed in their own sections below.")}]
    if "contact" in skip:
        not_checked.append({"requirement": "contact", "reason": _(
            "The file has no contact-person column: contacts are audited in their own file.")})
    report: dict[str, Any] = {
        "format": "comptoir-audit", "version": FORMAT_VERSION,
        "file": filename, "object": object_type, "sheet": table.sheet,
        "encoding": table.encoding, "delimiter": table.delimiter,
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "language": translation.get_language() or settings.LANGUAGE_CODE,
        "user": getattr(user, "username", None) if user is not None else None,
        "header_row": table.header_row, "rows": rows, "empty_rows": empty_rows,
        "truncated": truncated, "row_limit": max_rows, "warnings": warnings,
        "examples_limit": limit,
        "mapping": mapped.as_dict(object_type),
        "fill": [{"field": name, "label": field_label(object_type, name),
                  "column": columns[name], "filled": filled[name], "percent": pct(filled[name])}
                 for _i, name in positions],
        "invalid": [{"field": name, "label": field_label(object_type, name),
                     "column": columns[name], "checked": filled[name],
                     "count": invalid[name].count, "examples": invalid[name].examples}
                    for name, _c in checked],
        "profiles": [{
            "profile": name, "failing": prof[name].failing,
            "passing": rows - prof[name].failing, "percent_passing": pct(rows - prof[name].failing),
            "requirements": sorted(prof[name].requirements.values(), key=lambda r: -r["count"]),
            "not_checked": [n for n in not_checked if n["requirement"]
                            in profiles.profile_requirements(name, object_type)],
            "examples": prof[name].examples,
        } for name in profile_names],
        "duplicates_in_file": {"threshold": config.review, "sure": config.sure, **in_file},
        "duplicates_in_base": {
            "threshold": config.review, "sure": config.sure, "checked": check_base,
            "visibility": "user" if user is not None and not policy.sees_all(user) else "all",
            "rows": base.rows, "sure_rows": base.sure_rows, "items": base.items,
        },
        "timings": {"read": round(t_read, 2), "checks": round(t_checks, 2),
                    "in_file": round(t_in_file, 2), "base": round(t_base, 2),
                    "total": round(time.perf_counter() - started, 2)},
    }
    return AuditReport(report)


_SHARED = ("city", "postcode", "domain", "street", "street_no")
SHARED_LIMIT = 50_000  # distinct values held for sharing


def _shared(f: Features, shared: dict[Any, Any]) -> Features:
    """``f`` with its often repeated values (cities, postcodes, domains, streets) shared with
    the rows before: one string each instead of one per row, for the whole file's features
    are held until the in-file duplicates are searched."""
    room = len(shared) < SHARED_LIMIT
    for name in _SHARED:
        value = getattr(f, name)
        if value:
            found = shared.get(value)
            if found is not None:
                setattr(f, name, found)
            elif room:
                shared[value] = value
    return f


def _match_data(object_type: str, data: Mapping[str, str]) -> Mapping[str, Any]:
    """The row as the matching features read it. A contact's company, written out in the
    file, stands in for its account inside the file (the same name: the same account)."""
    if object_type == "contact" and data.get("account"):
        key = ids.company_name_key(data["account"])
        return {**data, "account_id": f"file:{key}" if key else ""}
    return data


def _file_pairs(object_type: str, feats: list[Features], freq_names: list[str],
                row_numbers: Sequence[int], labels: list[str], *,
                items_limit: int | None = None) -> dict[str, Any]:
    """Every pair of rows at or above the review threshold, with their reasons (the first
    ``items_limit`` pairs only, when given; the counts cover them all)."""
    spec, config = SPECS[object_type], match_config(object_type)
    if freq_names:
        assign_frequencies(feats, freq_names)
    pairs = find_pairs(spec, config, feats)
    items: list[dict[str, Any]] = []
    parent = list(range(len(feats)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in sorted(pairs):
        parent[root(i)] = root(j)
        if items_limit is not None and len(items) >= items_limit:
            continue
        score, reasons = explain_pair(spec, config, feats[i], feats[j])
        shared = set(spec.keys(feats[i])) & set(spec.keys(feats[j]))
        items.append({"rows": [row_numbers[i], row_numbers[j]], "score": score,
                      "sure": score >= config.sure,
                      "keys": sorted({key_kind(k) for k in shared}),
                      "labels": [labels[i], labels[j]],
                      "reasons": [{**r.as_dict(), "text": reason_text(r)} for r in reasons]})
    involved = {i for pair in pairs for i in pair}
    return {"pairs": len(pairs), "rows": len(involved),
            "groups": len({root(i) for i in involved}), "items": items}


BASE_CHUNK = 5000  # rows checked against the base at once: the lookup's memory stays flat


class _BaseFound:
    """The duplicates-against-the-base section, filled a chunk of rows at a time."""

    def __init__(self, object_type: str, user: Any, items_limit: int | None) -> None:
        self.object_type, self.user, self.items_limit = object_type, user, items_limit
        self.rows = self.sure_rows = 0
        self.items: list[dict[str, Any]] = []
        self.seconds = 0.0
        self._done = 0  # rows checked so far (their position in the file's audited rows)

    def add(self, chunk: list[Mapping[str, Any]], row_numbers: Sequence[int],
            labels: Sequence[str]) -> None:
        started = time.perf_counter()
        room = None if self.items_limit is None else self.items_limit - len(self.items)
        for position, candidates in sorted(_base_matches(
                self.object_type, chunk, user=self.user, room=room).items()):
            self.rows += 1
            self.sure_rows += bool(candidates[0]["sure"])
            if self.items_limit is None or len(self.items) < self.items_limit:
                i = self._done + position
                self.items.append({"row": row_numbers[i], "label": labels[i],
                                   "candidates": candidates})
        self._done += len(chunk)
        self.seconds += time.perf_counter() - started


def _base_matches(object_type: str, rows: list[Mapping[str, Any]], *,
                  user: Any, room: int | None = None) -> dict[int, list[dict[str, Any]]]:
    """Existing records that may duplicate each row: position → candidates, best first.

    :func:`dedupe.batch_candidates` does it for every row at once (a few hundred queries for
    50,000 rows, where ``candidates`` row by row would take minutes), with the same index and
    scores, and only records ``user`` may see.
    """
    if object_type == "contact":  # a company written in the file is no account of the base
        rows = [{**r, "account_id": ""} for r in rows]
    found = batch_candidates(object_type, rows, min_score=match_config(object_type).review,
                             limit=BASE_LIMIT, user=user)
    if room is not None:  # past the first ``room`` rows found, only whether the best is sure
        shown = [p for p, candidates in enumerate(found) if candidates][:max(room, 0)]
        out = {p: [{"sure": c[0].sure}] for p, c in enumerate(found) if c}
        out.update(_base_items(object_type, {p: found[p] for p in shown}))
        return out
    return _base_items(object_type, dict(enumerate(found)))


def _base_items(object_type: str, found: Mapping[int, Sequence[Any]]
                ) -> dict[int, list[dict[str, Any]]]:
    return {position: [{
        "id": c.id, "name": _record_name(object_type, c.record), "score": c.score,
        "sure": c.sure, "keys": c.keys,
        "reasons": [{**r.as_dict(), "text": reason_text(r)} for r in c.reasons],
        "record": {k: v for k, v in c.record.items() if k not in ("id", "owner_id")},
    } for c in candidates] for position, candidates in found.items() if candidates}


def _record_name(object_type: str, record: Mapping[str, Any]) -> str:
    if object_type == "account":
        legal, trade = record.get("legal_name") or "", record.get("trade_name") or ""
        return f"{legal} ({trade})" if trade and trade != legal else legal
    person = " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p)
    company = record.get("company_name") or ""
    return " — ".join(p for p in (person, company) if p) or f"#{record.get('id')}"


# --- Output ---------------------------------------------------------------------------------

HTML_PAIRS_CAP = 1000  # pairs listed in the HTML page (the JSON has them all)


def render_html(report: Mapping[str, Any]) -> str:
    """The standalone HTML page of a report (inline CSS, printable), in the active language."""
    pairs = report["duplicates_in_file"]["items"]
    base = report["duplicates_in_base"]["items"]
    return render_to_string("quality/audit_report.html", {
        "report": report, "pairs": pairs[:HTML_PAIRS_CAP],
        "invalid_total": sum(inv["count"] for inv in report["invalid"]),
        "pairs_hidden": max(0, len(pairs) - HTML_PAIRS_CAP),
        "base": base[:HTML_PAIRS_CAP], "base_hidden": max(0, len(base) - HTML_PAIRS_CAP),
        "profile_labels": profile_labels(),
    })


def profile_labels() -> dict[str, str]:
    """Profile names for people, in the active language."""
    return {"lead": _("Lead"), "crm": _("CRM"), "erp": _("ERP")}

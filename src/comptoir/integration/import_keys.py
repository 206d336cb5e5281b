"""Related records by natural keys, for the import wizard: a contact file names its account by
SIREN, by its id in the source or by name; a deal, activity or case file names its account
and its contact by e-mail.

A pre-processing step before the loader: the file is read once, each row's account (and
contact) is looked up among the records the importing person may see, and a copy of the file
is written with the found ids in hidden columns (``__account_id``, ``__contact_id``) — the
import's mapping reads them as ``account_id``/``contact_id``, so the loader and the bulk
upsert (rights, rules, audit) are the same as for any row. A row whose account cannot be told
(unknown, or two accounts of that name) gets its reason in ``__refused``: the mapping's
``where`` leaves it out of the load and the import refuses it with that reason (dry run row,
quarantine, refused rows file). The copy keeps every row on its line, so line numbers hold.

Accounts: exact SIREN, else the id in the source (an external reference, the wizard's own
system first), else a unique match of the normalised name (``normalize_name``: case, accents,
punctuation and legal form aside). Contacts: the e-mail, case aside, preferring one of the
row's account when several share it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.models import ExternalRef
from comptoir.quality.identifiers import normalize_name

from .engine.files import read_file
from .import_models import ImportJob
from .loader import SPECS

ACCOUNT_SIREN = "account_by_siren"
ACCOUNT_NAME = "account_by_name"
CONTACT_EMAIL = "contact_by_email"
ACCOUNT_EXT = "account_external_id"
CONTACT_EXT = "contact_external_id"
LOCATORS = (ACCOUNT_SIREN, ACCOUNT_NAME, CONTACT_EMAIL)
ACCOUNT_ID_COLUMN = "__account_id"
CONTACT_ID_COLUMN = "__contact_id"
REFUSED_COLUMN = "__refused"
HIDDEN = (ACCOUNT_ID_COLUMN, CONTACT_ID_COLUMN, REFUSED_COLUMN)
CHUNK = 1000
SYSTEMS = ("import",)  # the wizard's shared system, looked in first


def locator_fields(object_type: str) -> list[tuple[str, str]]:
    """(pseudo-field, label) offered in the mapping step for this kind of row."""
    spec = SPECS.get(object_type)
    if spec is None:
        return []
    out = []
    if "account_id" in spec.fields:
        out += [(ACCOUNT_SIREN, _("Account (by its SIREN)")),
                (ACCOUNT_NAME, _("Account (by its name)"))]
    if "contact_id" in spec.fields:
        out.append((CONTACT_EMAIL, _("Contact (by its e-mail)")))
    return out


def _columns(job: ImportJob) -> dict[str, str]:
    """field -> column, for the locators (and the external ids resolved with them)."""
    chosen = {field: column for column, field in job.mapping.items() if field}
    return {f: chosen[f] for f in (*LOCATORS, ACCOUNT_EXT, CONTACT_EXT) if f in chosen}


def uses_locators(job: ImportJob) -> bool:
    """Whether the rows name an account or a contact by natural key (SIREN, name, e-mail)
    (a ready-made mapping names them its own way)."""
    if (job.options or {}).get("preset"):
        return False
    return any(field in LOCATORS for field in job.mapping.values())


def resolved_fields(job: ImportJob) -> set[str]:
    """The mapped fields this step consumes (the mapping leaves them out)."""
    if not uses_locators(job):
        return set()
    found = set(_columns(job))
    if ACCOUNT_SIREN in found or ACCOUNT_NAME in found:
        found.add(ACCOUNT_EXT)
    if CONTACT_EMAIL in found:
        found.add(CONTACT_EXT)
    return found & set(_columns(job))


def copy_path(job: ImportJob) -> Path:
    original = Path(job.file.path)
    return original.with_name(f"{original.stem}.resolved{original.suffix.lower()}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _visible(qs: QuerySet[Any], user: Any) -> QuerySet[Any]:
    return policy.restrict(qs, user)


def _by_external_id(object_type: str, model: Any, user: Any, wanted: set[str]
                    ) -> dict[str, list[int]]:
    """id in the source -> visible local ids: the wizard's system when it has it, else every
    system (a record synced from the ERP, a file imported with a key column)."""
    found: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    items = sorted(wanted)
    for start in range(0, len(items), CHUNK):
        for system, ext, obj in ExternalRef.objects.filter(
                object_type=object_type, external_id__in=items[start:start + CHUNK],
                deleted_at__isnull=True).values_list("system", "external_id", "object_id"):
            found[ext][system].add(obj)
    ids = {i for systems in found.values() for objs in systems.values() for i in objs}
    seen: set[int] = set()
    listed = sorted(ids)
    for start in range(0, len(listed), CHUNK):
        seen |= set(_visible(model._default_manager.filter(
            pk__in=listed[start:start + CHUNK]), user).values_list("pk", flat=True))
    out: dict[str, list[int]] = {}
    for ext, systems in found.items():
        own = [i for s in SYSTEMS for i in systems.get(s, ()) if i in seen]
        every = sorted({i for objs in systems.values() for i in objs if i in seen})
        out[ext] = sorted(set(own)) or every
    return out


class _Resolver:
    """Looks up one chunk of rows at a time (a few queries per chunk)."""

    def __init__(self, job: ImportJob, user: Any) -> None:
        from comptoir.crm.models import Account, Contact

        self.user, self.columns = user, _columns(job)
        self.Account, self.Contact = Account, Contact
        fields = resolved_fields(job)
        self.account = bool(fields & {ACCOUNT_SIREN, ACCOUNT_NAME, ACCOUNT_EXT})
        self.contact = bool(fields & {CONTACT_EMAIL, CONTACT_EXT})

    def _value(self, data: dict[str, Any], field: str) -> str:
        column = self.columns.get(field)
        return _text(data.get(column)) if column else ""

    def chunk(self, rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        """(account id, contact id, refusal reason) per row."""
        accounts = self._accounts(rows) if self.account else [("", "")] * len(rows)
        contacts = (self._contacts(rows, accounts) if self.contact
                    else [("", "")] * len(rows))
        return [(a, c, ra or rc) for (a, ra), (c, rc) in zip(accounts, contacts, strict=True)]

    def _accounts(self, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
        Account = self.Account
        sirens = {"".join(ch for ch in self._value(r, ACCOUNT_SIREN) if ch.isdigit())
                  for r in rows} - {""}
        names = {normalize_name(self._value(r, ACCOUNT_NAME)) for r in rows} - {""}
        exts = {self._value(r, ACCOUNT_EXT) for r in rows} - {""}
        by_siren: dict[str, list[int]] = defaultdict(list)
        for pk, siren in _visible(Account.objects.filter(siren__in=sirens), self.user
                                  ).values_list("pk", "siren"):
            by_siren[siren].append(pk)
        by_name: dict[str, list[int]] = defaultdict(list)
        for pk, name in _visible(Account.objects.filter(normalized_name__in=names), self.user
                                 ).values_list("pk", "normalized_name"):
            by_name[name].append(pk)
        by_ext = _by_external_id("account", Account, self.user, exts) if exts else {}
        out = []
        for row in rows:
            raw_siren = self._value(row, ACCOUNT_SIREN)
            siren = "".join(ch for ch in raw_siren if ch.isdigit())
            ext = self._value(row, ACCOUNT_EXT)
            name = self._value(row, ACCOUNT_NAME)
            found = by_siren.get(siren, []) if siren else []
            if len(found) > 1:
                out.append(("", _("%(n)d accounts have the SIREN %(siren)s: give the account’s "
                                  "id in the source.") % {"n": len(found), "siren": siren}))
                continue
            if not found and ext:
                found = by_ext.get(ext, [])
                if len(found) > 1:
                    out.append(("", _("%(n)d accounts have the id “%(id)s”: give the SIREN.")
                                % {"n": len(found), "id": ext}))
                    continue
            if not found and name:
                found = by_name.get(normalize_name(name), [])
                if len(found) > 1:
                    out.append(("", _("%(n)d accounts are named “%(name)s”: give the SIREN.")
                                % {"n": len(found), "name": name}))
                    continue
            if found:
                out.append((str(found[0]), ""))
            elif raw_siren or ext or name:
                given = [*([_("SIREN %(v)s") % {"v": raw_siren}] if raw_siren else []),
                         *([_("id “%(v)s”") % {"v": ext}] if ext else []),
                         *([_("name “%(v)s”") % {"v": name}] if name else [])]
                out.append(("", _("No account you can see matches: %(what)s.")
                            % {"what": ", ".join(given)}))
            else:
                out.append(("", ""))
        return out

    def _contacts(self, rows: list[dict[str, Any]], accounts: list[tuple[str, str]]
                  ) -> list[tuple[str, str]]:
        Contact = self.Contact
        emails = {self._value(r, CONTACT_EMAIL).lower() for r in rows} - {""}
        exts = {self._value(r, CONTACT_EXT) for r in rows} - {""}
        by_email: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for pk, account_id, email in _visible(
                Contact.objects.annotate(lower_email=Lower("email")).filter(
                    lower_email__in=emails), self.user).values_list("pk", "account_id",
                                                                    "lower_email"):
            by_email[email].append((pk, account_id))
        by_ext = _by_external_id("contact", Contact, self.user, exts) if exts else {}
        out = []
        for row, (account, _reason) in zip(rows, accounts, strict=True):
            email = self._value(row, CONTACT_EMAIL)
            ext = self._value(row, CONTACT_EXT)
            found = by_ext.get(ext, []) if ext else []
            if not found and email:
                matches = by_email.get(email.lower(), [])
                mine = [pk for pk, acc in matches if account and str(acc) == account]
                found = mine or [pk for pk, _acc in matches]
                if len(found) > 1:
                    out.append(("", _("%(n)d contacts have the e-mail %(email)s: give the "
                                      "account.") % {"n": len(found), "email": email}))
                    continue
            if found:
                out.append((str(found[0]), ""))
            elif email or ext:
                out.append(("", _("No contact you can see has the e-mail %(email)s.")
                            % {"email": email} if email else
                            _("No contact you can see has the id “%(id)s”.") % {"id": ext}))
            else:
                out.append(("", ""))
        return out


def _chunks(job: ImportJob) -> Iterator[list[tuple[int, dict[str, Any], str | None]]]:
    """(row number, data, reader's error) of the stored file, by chunks."""
    chunk: list[tuple[int, dict[str, Any], str | None]] = []
    for record in read_file(Path(job.file.path)):
        chunk.append((int(record.cursor or 0), record.data, record.error))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_resolved_copy(job: ImportJob, user: Any) -> tuple[Path, int]:
    """Resolve every row and write the copy the import reads; returns (its path, how many
    rows it refuses)."""
    resolver = _Resolver(job, user)
    columns = [*job.columns, *HIDDEN]
    target = copy_path(job)
    refused = 0
    xlsx = target.suffix == ".xlsx"
    writer = _XlsxWriter(target, columns) if xlsx else _CsvWriter(
        target, columns, job.info.get("delimiter") or ";")
    try:
        for chunk in _chunks(job):
            found = resolver.chunk([data for _n, data, _e in chunk])
            for (number, data, error), (account, contact, reason) in zip(chunk, found,
                                                                         strict=True):
                reason = error or reason
                refused += bool(reason)
                writer.row(number, [*(data.get(c) for c in job.columns), account, contact,
                                    reason])
    finally:
        writer.close()
    return target, refused


class _CsvWriter:
    """A UTF-8 CSV copy keeping each row on the line it had (blank lines where the original
    had some)."""

    def __init__(self, path: Path, columns: list[str], delimiter: str) -> None:
        self.file = path.open("w", encoding="utf-8", newline="")
        self.delimiter = delimiter
        self.line = 1
        self._write(columns)

    def _write(self, cells: list[Any]) -> None:
        out = io.StringIO()
        csv.writer(out, delimiter=self.delimiter, lineterminator="\r\n").writerow(
            ["" if c is None else _cell(c) for c in cells])
        text = out.getvalue()
        self.file.write(text)
        self.line += text.count("\n")

    def row(self, number: int, cells: list[Any]) -> None:
        while self.line < number:
            self.file.write("\r\n")
            self.line += 1
        self._write(cells)

    def close(self) -> None:
        self.file.close()


class _XlsxWriter:
    """An XLSX copy keeping each row on its row number and its cells' types."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        import openpyxl

        self.path = path
        self.book = openpyxl.Workbook(write_only=True)
        self.sheet = self.book.create_sheet()
        self.sheet.append(columns)
        self.line = 1

    def row(self, number: int, cells: list[Any]) -> None:
        while self.line + 1 < number:
            self.sheet.append([])
            self.line += 1
        self.sheet.append(cells)
        self.line += 1

    def close(self) -> None:
        self.book.save(self.path)


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def refused_in_copy(job: ImportJob) -> Iterator[tuple[Any, str]]:
    """(record of the copy, reason) of each row the natural keys refused."""
    path = copy_path(job)
    if not path.exists():
        return
    for record in read_file(path, encoding="utf-8" if path.suffix != ".xlsx" else None,
                            delimiter=(job.info.get("delimiter") or ";")
                            if path.suffix != ".xlsx" else None,
                            key_field=job.options.get("key") or None):
        reason = _text(record.data.get(REFUSED_COLUMN))
        if reason:
            for hidden in HIDDEN:
                record.data.pop(hidden, None)
            yield record, reason

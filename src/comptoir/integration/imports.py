"""The import wizard's service: a file uploaded from the web, loaded through the sync.

An import is a one-off run of the ``files`` connector on the uploaded file, with a mapping
generated from the columns the person chose: it shares the sync's loader (one bulk write path:
matching to sure duplicates, audit, outbox), its worker, its progress counts and its
quarantine (refused rows with their reasons). Steps:

1. :func:`import_create` stores the file privately and reads its header, first rows and size;
2. :func:`auto_mapping_for` proposes a field per column from the one table of header
   spellings (``quality.headers``); :func:`import_set_mapping` saves the person's choice;
3. :func:`import_dry_run_start` audits the file (``quality.audit``, accounts, contacts and
   leads) and queues a dry run that records each row's outcome (created, updated, matched to
   an existing record, refused and why), written nothing;
4. :func:`import_run_start` queues the real run (the sync's own task);
5. :func:`refused_rows_csv` gives the refused rows back as a CSV with a ``reason`` column, to
   fix and upload again.

Who: data managers and administrators import every object; anyone else only leads, which they
then own (the owner is forced to them, matching is off so they never touch another's lead, and
a key column is not offered). The undo of a whole import is in ``import_undo``; the
accounts and contacts a file names by SIREN, id or name are found by ``import_keys``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django_tasks import task

from comptoir.access import policy
from comptoir.core.errors import Conflict, ValidationFailed

from . import import_keys, import_values
from .engine.core import batched
from .engine.errors import Category, SyncError
from .engine.files import detect_delimiter, detect_encoding, file_headers, read_file
from .engine.mapping import auto_mapping
from .import_models import ImportJob
from .loader import SPECS, Counts, Loader, apply_batch, json_safe, target_fields
from .models import Connection, QuarantinedRecord, SyncRun
from .services import (
    claim_run,
    connection_connector,
    connection_mapping,
    sync_run_execute,
    sync_run_start,
)

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx")
PREVIEW_ROWS = 5
ROWS_KEPT = 5000  # dry-run rows kept: this many refused ones + this many others (counts: all)
KEY = "external_id"  # the pseudo-field of the column holding each row's id in the source
# The objects offered, in this order, when their bulk spec exists (read at each call: new
# ones appear by themselves).
OFFERED = ("account", "contact", "lead", "opportunity", "activity", "case", "product",
           "pricelist", "pricelistitem")
# Set by the loader or the access rules, never from a file column.
# (the owner is chosen by its own pseudo-field, ``import_values.OWNER``).
NOT_MAPPED = frozenset({"owner_id", "owner_username", "territory_id", "erp_deleted_at",
                        "custom"})
# Other CRMs' owner columns: a person's name or e-mail, found among the users (or chosen).
OWNER_SPELLINGS = ("Owner", "Propriétaire", "Responsable", "Commercial", "Account Owner",
                   "Contact owner", "Lead Owner", "Opportunity Owner", "Deal owner",
                   "Deal - Owner", "Organization - Owner", "Person - Owner", "Salesperson",
                   "Vendeur", "user_id", "Owner Name", "Assigned to", "Assigné à")


class _DryRunRollback(Exception):
    """Undoes everything a dry run wrote."""


# --- Who may import what --------------------------------------------------------------------

def importable_objects(user: Any) -> list[str]:
    """The object types ``user`` may import: all for data managers and admins, leads they
    will own for everyone else (when leads can be bulk-loaded)."""
    if not getattr(user, "is_authenticated", False):
        return []
    if policy.sees_all(user):
        return [name for name in OFFERED if name in SPECS]
    return ["lead"] if "lead" in SPECS else []


def can_import(user: Any) -> bool:
    return bool(importable_objects(user))


def imports_visible(user: Any) -> QuerySet[ImportJob]:
    """Imports ``user`` may see: their own; every one for data managers and admins."""
    qs = ImportJob.objects.select_related("created_by", "dry_run", "run", "connection")
    if policy.sees_all(user):
        return qs
    if not can_import(user):
        return qs.none()
    return qs.filter(created_by=user)


def object_label(object_type: str) -> str:
    spec = SPECS.get(object_type)
    return str(spec.model._meta.verbose_name_plural).capitalize() if spec else object_type


# --- Fields ---------------------------------------------------------------------------------

def _model_field(model: type[models.Model], name: str) -> models.Field[Any, Any] | None:
    """The model field behind a bulk field name (``account_id`` → ``account``)."""
    try:
        found = model._meta.get_field(name.removesuffix("_id") if name.endswith("_id")
                                      else name)
    except Exception:  # a bulk field that is no model field
        return None
    return found if isinstance(found, models.Field) else None


def fields_for(object_type: str) -> list[tuple[str, str]]:
    """(CRM field, label) a column may fill, labels in the active language, sorted by label."""
    spec = SPECS[object_type]
    model = spec.model
    out = []
    for name in target_fields().get(object_type, set()) - NOT_MAPPED:
        f = _model_field(model, name.removesuffix("_external_id") + "_id"
                         if name.endswith("_external_id") else name)
        if f is None:
            out.append((name, name))
            continue
        if name.endswith("_external_id"):
            label = _("%(field)s (its id in the file's system)") % {
                "field": str(f.verbose_name)}
        elif name in spec.inputs:  # a deal's stage or pipeline by its name
            label = _("%(field)s (by its name)") % {"field": str(f.verbose_name)}
        else:
            label = str(f.verbose_name)
            if isinstance(f, models.ForeignKey):
                label = _("%(field)s (Comptoir id)") % {"field": label}
        out.append((name, label[:1].upper() + label[1:]))
    out += import_keys.locator_fields(object_type)
    if "owner_id" in spec.fields:
        out.append((import_values.OWNER, _("Owner (a user's name, e-mail or username)")))
    return sorted(out, key=lambda item: item[1].casefold())


def fields_offered(object_type: str, user: Any) -> list[tuple[str, str]]:
    """The fields ``user`` may fill: the owner by column only for those who may give
    records to others (anyone else owns what they import)."""
    return [(name, label) for name, label in fields_for(object_type)
            if name != import_values.OWNER or policy.sees_all(user)]


def _spellings(object_type: str) -> dict[str, tuple[str, ...]]:
    """Header spellings per field: the shared table, then each field's label in every
    language of the site (a file exported from Comptoir)."""
    from comptoir.quality.headers import synonyms

    table = {name: tuple(words) for name, words in synonyms(object_type).items()}
    # the related records named in the file: the account by its name (the table's "account"),
    # by its SIREN, the contact by its e-mail
    table["account_by_name"] = (*table.pop("account", ()), "Company Name", "Account Name")
    table["account_by_siren"] = ("SIREN", "SIREN société", "SIREN du compte", "Account SIREN")
    table["contact_by_email"] = ("E-mail du contact", "Email du contact", "Contact Email",
                                 "Contact E-mail", *table.pop("contact_email", ()))
    table[import_values.OWNER] = OWNER_SPELLINGS
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for name, label in fields_for(object_type):
                table[name] = (*table.get(name, ()), label)
    return table


def auto_mapping_for(object_type: str, columns: list[str], user: Any = None
                     ) -> dict[str, str]:
    """Column → CRM field proposed from the header spellings ("" for a column left out)."""
    allowed = [name for name, _label in fields_offered(object_type, user)]
    # Guessed only from a header that surely means them: "Account ID" in another CRM's
    # export is that CRM's id, not ours (``account_external_id`` when offered), and
    # "Pipeline" there names its own pipelines. Both can still be chosen by hand.
    names = set(allowed)
    guessable = [n for n in allowed if n != "pipeline"
                 and not (n.endswith("_id") and f"{n[:-3]}_external_id" in names)]
    guessed = auto_mapping(columns, fields=guessable, spellings=_spellings(object_type))
    by_column = {header: crm for crm, header in guessed.items()}
    return {column: by_column.get(column, "") for column in columns}


# --- Ready-made mappings -------------------------------------------------------------------

# The shipped mappings of other CRMs' exports the wizard offers (not the ERP's, not vCards).
PRESET_SYSTEMS = ("salesforce", "hubspot", "pipedrive", "odoo")


def _preset_mappings() -> dict[str, Any]:
    from .engine.mapping import load_mapping
    from .mappings import builtin_mapping, builtin_mappings

    out = {}
    for name in builtin_mappings():
        if name.split("_", 1)[0] in PRESET_SYSTEMS:
            out[name] = load_mapping(builtin_mapping(name), targets=target_fields(),
                                     source=name)
    return out


def preset_label(name: str) -> str:
    """"Pipedrive: deals" from ``pipedrive_deals``, in the active language."""
    system, _sep, what = name.partition("_")
    words = {"accounts": _("accounts"), "contacts": _("contacts"), "leads": _("leads"),
             "deals": _("deals"), "opportunities": _("opportunities"),
             "persons": _("people"), "partners": _("companies and people"),
             "tasks": _("tasks and events"), "cases": _("cases"), "companies": _("companies"),
             "tickets": _("tickets"), "organizations": _("organisations"),
             "activities": _("activities")}
    names = {"hubspot": "HubSpot", "salesforce": "Salesforce", "pipedrive": "Pipedrive",
             "odoo": "Odoo"}
    return f"{names.get(system, system.title())}: {words.get(what, what)}"


def presets_for(job: ImportJob) -> list[tuple[str, str]]:
    """(mapping, label) of the ready-made mappings this file fits: shaped like that CRM's
    export of this kind of record (every column they read is there), for those who may
    import every object (the mapping decides owners and parents itself)."""
    if not policy.sees_all(job.created_by):
        return []
    out = []
    for name, mapping in _preset_mappings().items():
        streams = mapping.for_stream("rows")
        if not streams or streams[-1].target != job.object_type:
            continue
        if any(m.check_headers(job.columns) for m in streams):
            continue
        out.append((name, preset_label(name)))
    return out


def preset_toml(job: ImportJob) -> str:
    from .mappings import builtin_mapping

    return builtin_mapping(job.options["preset"])


# --- Upload ---------------------------------------------------------------------------------

def _unreadable(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"file": [message]})


def import_create(*, user: Any, upload: UploadedFile, object_type: str) -> ImportJob:
    """Store ``upload`` privately and read its header, first rows and size; refuse a file
    that cannot be imported with a message saying why."""
    if object_type not in importable_objects(user):
        raise ValidationFailed(_("You may not import this kind of record."),
                               fields={"object_type": [_("Choose one of the proposed kinds.")]})
    name = Path(upload.name or "").name
    if not upload.size:
        raise _unreadable(_("The file is empty: no header row and no data."))
    if upload.size > MAX_UPLOAD_BYTES:
        raise _unreadable(_("This file is %(size)s MB; the limit is %(limit)s MB. Split it.")
                          % {"size": f"{upload.size / 1024 / 1024:.1f}",
                             "limit": MAX_UPLOAD_BYTES // 1024 // 1024})
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        raise _unreadable(_("Old Excel files (.xls) are not read: save it as .xlsx or CSV."))
    if suffix not in EXTENSIONS:
        raise _unreadable(_("Upload a CSV file (.csv, .txt, .tsv) or an Excel workbook "
                            "(.xlsx)."))
    head = upload.read(4096)
    upload.seek(0)
    if suffix == ".xlsx" and not head.startswith(b"PK\x03\x04"):
        raise _unreadable(_("This file is named .xlsx but is not an Excel workbook."))
    binary = b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff"))  # not UTF-16
    if suffix != ".xlsx" and (binary or head.startswith((b"PK\x03\x04", b"%PDF",
                                                         b"\xd0\xcf\x11\xe0"))):
        raise _unreadable(_("This is not a text file (CSV) nor an XLSX workbook."))
    job = ImportJob(created_by=user, filename=name[:255], object_type=object_type)
    job.file.save(get_valid_filename(name) or "import.csv", upload, save=False)
    try:
        _read_head(job)
    except BaseException:
        job.file.delete(save=False)
        raise
    job.mapping = auto_mapping_for(object_type, job.columns, user)
    job.options = {"key": "", "owner": "me" if not policy.sees_all(user) else ""}
    fitting = presets_for(job)
    if fitting:  # another CRM's export: its ready-made mapping, unless the person says not
        job.options["preset"] = fitting[0][0]
    job.save()
    return job


def _read_head(job: ImportJob) -> None:
    """Header, first rows, row count, encoding and separator of the stored file."""
    path = Path(job.file.path)
    fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    try:
        columns = file_headers(path)
        preview: list[list[str]] = []
        rows = 0
        values = import_values.DistinctValues(columns)  # the lists' values, counted once
        for record in read_file(path):
            rows += 1
            if record.error is None:
                values.add(record.data)
                if len(preview) < PREVIEW_ROWS:
                    preview.append([_cell(record.data.get(c)) for c in columns])
    except SyncError as exc:
        raise _unreadable(_("This file cannot be read: %(error)s") % {"error": exc.message}
                          ) from exc
    except Exception as exc:  # openpyxl and csv raise many kinds for a broken file
        raise _unreadable(_("This file cannot be read (%(error)s). Save it again as .xlsx "
                            "or CSV.") % {"error": type(exc).__name__}) from exc
    if not columns:
        raise _unreadable(_("The file is empty: no header row and no data."))
    if not rows:
        raise _unreadable(_("The file has a header row but no data."))
    info: dict[str, Any] = {"format": fmt, "distinct": values.as_json()}
    if fmt == "csv":
        with path.open("rb") as f:
            sample = f.read(64 * 1024)
        encoding = detect_encoding(sample) or "utf-8"
        info["encoding"] = encoding
        info["delimiter"] = detect_delimiter(sample.decode(encoding, "replace").lstrip("\ufeff"))
    job.columns, job.preview, job.rows, job.info = columns, preview, rows, info


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- Mapping --------------------------------------------------------------------------------

def import_set_mapping(job: ImportJob, *, user: Any, mapping: dict[str, str],
                       owner: str = "", values: dict[str, dict[str, str]] | None = None,
                       preset: str = "") -> ImportJob:
    """Save the person's column choices (column → field, ``external_id`` for the key column,
    "" to leave a column out) and what the picklists' unknown values become (column → {value:
    choice}, see ``import_values``); every problem is reported at once, by column."""
    _require_editable(job)
    if preset:
        return _set_preset(job, user=user, preset=preset)
    allowed = {name for name, _label in fields_offered(job.object_type, user)}
    if policy.sees_all(user):
        allowed.add(KEY)
    errors: dict[str, list[str]] = {}
    used: dict[str, str] = {}
    clean: dict[str, str] = {}
    for column in job.columns:
        field = (mapping.get(column) or "").strip()
        if field and field not in allowed:
            errors[column] = [_("Not a field you can import into.")]
        elif field and field in used:
            errors[column] = [_("“%(column)s” already fills this field.")
                              % {"column": used[field]}]
        elif field:
            used[field] = column
        clean[column] = field
    if not errors and not [f for f in clean.values() if f and f != KEY]:
        errors["__all__"] = [_("Choose a field for at least one column.")]
    decisions, value_errors = import_values.clean_decisions(job, clean, values or {})
    for column, problems in value_errors.items():
        errors.setdefault(column, []).extend(problems)
    if import_values.OWNER in clean.values() and owner == "me":
        errors["__all__"] = [_("The owner is read from a column: choose “By the owner "
                               "column” as the owner of the new records, or leave that "
                               "column out.")]
    if errors:
        raise ValidationFailed(_("The mapping is not valid."), fields=errors)
    key = next((c for c, f in clean.items() if f == KEY), "")
    owner = "me" if not policy.sees_all(user) or owner == "me" else ""
    job.mapping = clean
    job.options = {"key": key, "owner": owner, "values": decisions}  # no ready-made mapping
    job.dry_run = None
    job.save(update_fields=["mapping", "options", "dry_run"])
    return job


def _set_preset(job: ImportJob, *, user: Any, preset: str) -> ImportJob:
    """Read the file with a ready-made mapping (the columns chosen stay, unused)."""
    if preset not in dict(presets_for(job)) or not policy.sees_all(user):
        raise ValidationFailed(_("The mapping is not valid."), fields={
            "preset": [_("This ready-made mapping does not fit this file.")]})
    job.options = {**job.options, "preset": preset, "owner": ""}
    job.dry_run = None
    job.save(update_fields=["options", "dry_run"])
    return job


def _require_editable(job: ImportJob) -> None:
    if job.run_id is not None:
        raise Conflict(_("This import has already run; upload the file again to change it."))


def _toml(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _field_spec(job: ImportJob, model: type[models.Model], name: str, column: str) -> str:
    """One mapping line's value: the column, with the parsing its field needs (French
    numbers and dates, yes/no), and for a picklist its labels in every language and what
    the person chose for the values it does not know."""
    table = import_values.value_map(job, column, name)
    if name == import_values.OWNER:  # a user by name or e-mail; an unknown one is refused
        return (f"{{ source = {_toml(column)}, transforms = [\"strip\"], "
                f"map = {_toml_table(table)}, unknown = \"error\" }}")
    f = _model_field(model, name.removesuffix("_external_id") + "_id"
                     if name.endswith("_external_id") else name)
    if f is None or name in SPECS[_spec_name(model)].inputs:
        if table:  # a deal's stage, pipeline or lost reason, by name
            return (f"{{ source = {_toml(column)}, transforms = [\"strip\"], "
                    f"map = {_toml_table(table)}, unknown = \"keep\" }}")
        return _toml(column)
    steps: list[str] = []
    if isinstance(f, models.ForeignKey) and not name.endswith("_external_id"):
        steps = ["int"]
    elif isinstance(f, models.DecimalField | models.FloatField):
        steps = ["number"]
    elif isinstance(f, models.BooleanField):
        steps = ["bool"]
    elif isinstance(f, models.IntegerField):
        steps = ["int"]
    elif isinstance(f, models.DateTimeField):
        steps = ["fr_datetime"]
    elif isinstance(f, models.DateField):
        steps = ["fr_date"]
    elif isinstance(f, models.CharField | models.TextField):
        steps = ["strip"]
    parts = [f"source = {_toml(column)}"]
    if steps:
        parts.append("transforms = [" + ", ".join(_toml(s) for s in steps) + "]")
    if table:
        parts.append(f"map = {_toml_table(table)}")
        parts.append('unknown = "keep"')  # the field's own check names the bad value
    if name.endswith("_external_id"):
        fks = SPECS[_spec_name(model)].external_fks
        parts.append(f"lookup = {_toml(fks[name.removesuffix('_external_id') + '_id'])}")
    return "{ " + ", ".join(parts) + " }"


def _toml_table(table: dict[str, Any]) -> str:
    pairs = ", ".join(f"{_toml(k)} = {v if isinstance(v, int) else _toml(str(v))}"
                      for k, v in table.items())
    return f"{{ {pairs} }}"


def _spec_name(model: type[models.Model]) -> str:
    return next(name for name, spec in SPECS.items() if spec.model is model)


def mapping_toml(job: ImportJob) -> str:
    """The sync mapping of this import, generated from the chosen columns (or the
    ready-made one chosen)."""
    if job.options.get("preset"):
        return preset_toml(job)
    model = SPECS[job.object_type].model
    key = job.options.get("key") or ""
    # A key column loads rows by their id in a shared "import" system (importing the file
    # again updates them; contacts find the accounts imported with theirs); without one,
    # rows are keyed by line number in a system of their own.
    system = "import" if key else f"import-{job.pk}"
    lines = [f"system = {_toml(system)}", "", "[streams.rows]",
             f"target = {_toml(job.object_type)}", 'on_error = "quarantine"']
    if key:
        lines.append(f"key = {_toml(key)}")
    if job.object_type in ("account", "contact", "lead"):
        # a person's own import never links to (and updates) a record they may not see
        lines.append('match = "sure"' if job.options.get("owner") != "me"
                     or policy.sees_all(job.created_by) else 'match = "off"')
    resolved = import_keys.resolved_fields(job)
    if resolved:  # rows whose account or contact cannot be told are refused apart
        lines.append(f"where = {{ {_toml(import_keys.REFUSED_COLUMN)} = false }}")
    lines += ["", "[streams.rows.fields]"]
    for column, name in job.mapping.items():
        if name and name != KEY and name not in resolved:
            field = "owner_id" if name == import_values.OWNER else name
            lines.append(f"{field} = {_field_spec(job, model, name, column)}")
    if resolved & {import_keys.ACCOUNT_SIREN, import_keys.ACCOUNT_NAME,
                   import_keys.ACCOUNT_EXT}:
        lines.append(f"account_id = {{ source = {_toml(import_keys.ACCOUNT_ID_COLUMN)}, "
                     'transforms = ["int"] }')
    if resolved & {import_keys.CONTACT_EMAIL, import_keys.CONTACT_EXT}:
        lines.append(f"contact_id = {{ source = {_toml(import_keys.CONTACT_ID_COLUMN)}, "
                     'transforms = ["int"] }')
    if job.options.get("owner") == "me" and job.created_by_id and \
            "owner_id" in SPECS[job.object_type].fields:
        lines.append(f"owner_id = {{ const = {int(job.created_by_id)} }}")
    return "\n".join(lines) + "\n"


def _connection(job: ImportJob) -> Connection:
    """The import's one-off ``files`` connection, its mapping brought up to date."""
    params = {"path": job.file.path, "stream": "rows", "key_field": job.options.get("key") or ""}
    if import_keys.uses_locators(job):  # the copy with the accounts and contacts found
        copy = import_keys.copy_path(job)
        params["path"] = str(copy)
        if copy.suffix != ".xlsx":
            params.update(encoding="utf-8", delimiter=job.info.get("delimiter") or ";")
    label = (_("Import: %(file)s") % {"file": job.filename})[:120]
    connection = job.connection
    if connection is None:
        connection = Connection.objects.create(
            name=f"import-{job.pk}", label=label, connector="files", parameters=params,
            mapping=mapping_toml(job))
        job.connection = connection
        job.save(update_fields=["connection"])
    else:
        connection.parameters, connection.mapping = params, mapping_toml(job)
        connection.save(update_fields=["parameters", "mapping", "updated_at"])
    return connection


# --- Audit ----------------------------------------------------------------------------------

AUDITED = ("account", "contact", "lead")
AUDIT_ITEMS = 10


def import_audit(job: ImportJob, *, user: Any) -> dict[str, Any]:
    """The pre-import audit of the file as mapped (accounts, contacts and leads), kept short
    on the job; a file the audit cannot judge gets the reason instead."""
    from comptoir.quality.audit import FIELDS, AuditError, audit_file

    if job.object_type not in AUDITED:
        return {}
    audited = FIELDS[job.object_type]
    overrides = {column: (field if field in audited else "")
                 for column, field in job.mapping.items()}
    try:
        with job.file.open("rb") as f:  # read as a stream: the file is never held whole
            report = audit_file(f, filename=job.filename, object_type=job.object_type,
                                user=user, mapping=overrides,
                                items_limit=AUDIT_ITEMS).as_dict()
    except AuditError as exc:
        return {"error": exc.message}
    for part in ("duplicates_in_file", "duplicates_in_base"):
        report[part]["items"] = report[part]["items"][:AUDIT_ITEMS]
    for inv in report["invalid"]:
        inv["examples"] = inv["examples"][:3]
    for profile in report["profiles"]:
        profile["examples"] = []
    return report


# --- Dry run and run ------------------------------------------------------------------------

def import_dry_run_start(job: ImportJob, *, user: Any) -> SyncRun:
    """Audit the file and queue a dry run of the import (nothing written)."""
    _require_editable(job)
    job.audit = import_audit(job, user=user)
    job.save(update_fields=["audit"])
    connection = _connection(job)
    try:
        connection_mapping(connection)
    except SyncError as exc:
        raise ValidationFailed(_("The mapping is not valid: %(error)s")
                               % {"error": exc.message}) from exc
    run = sync_run_start(connection, trigger=SyncRun.Trigger.WEB, user=user, dry_run=True,
                         full=True)
    job.dry_run = run
    job.save(update_fields=["dry_run"])
    transaction.on_commit(lambda: execute_import_dry_run.enqueue(run.pk))
    return run


def import_run_start(job: ImportJob, *, user: Any) -> SyncRun:
    """Queue the import itself, after a dry run of the same mapping."""
    _require_editable(job)
    if job.dry_run is None or job.dry_run.status != SyncRun.Status.SUCCEEDED:
        raise ValidationFailed(_("Check the file with a dry run first."))
    connection = _connection(job)
    run = sync_run_start(connection, trigger=SyncRun.Trigger.WEB, user=user, full=True)
    job.run = run
    job.save(update_fields=["run"])
    if import_keys.uses_locators(job):  # the rows the dry run showed refused, with it
        _quarantine_refused_by_keys(job, run)
    transaction.on_commit(lambda: execute_import_run.enqueue(run.pk))
    return run


def import_dry_run_execute(run: SyncRun) -> SyncRun:
    """Apply the file in a transaction rolled back at the end, keeping each row's outcome
    (``details["rows"]``): what the real run would do, row by row.

    The counts cover every row; the outcomes kept are the first ``ROWS_KEPT`` refused rows
    and the first ``ROWS_KEPT`` others, by line (memory stays flat on a large file, and the
    refused rows of its end are still shown)."""
    run = claim_run(run)
    connection = run.connection
    total = Counts()
    kept = _KeptRows(ROWS_KEPT)
    rows: list[dict[str, Any]] = []
    status, category, message = SyncRun.Status.SUCCEEDED, "", ""
    job = ImportJob.objects.filter(connection=connection).first()
    try:
        if job is not None and import_keys.uses_locators(job):
            import_keys.write_resolved_copy(job, run.requested_by)
        mapping = connection_mapping(connection)
        connector = connection_connector(connection)
        try:
            connector.check()
            stream = connector.streams()["rows"]
            loaders = [Loader(run, connection, mapping.system, m, user=run.requested_by,
                              dry_run=True, compare=True) for m in mapping.for_stream("rows")]
            try:
                with _JournalsOnDisk(), transaction.atomic():
                    for batch in batched(stream.read(None), connection.batch_size, "rows"):
                        total.add(apply_batch(run, connection, "rows", loaders, batch))
                        for loader in loaders:
                            kept.extend(_row_outcomes(loader, batch.records))
                            loader.outcomes.clear()
                        del batch  # its records go before the next batch is read
                    raise _DryRunRollback
            except _DryRunRollback:
                pass
        finally:
            connector.close()
        if job is not None and import_keys.uses_locators(job):
            total.quarantined += kept.extend(
                _refused_by_keys(job, loaders[0] if loaders else None))
        rows = kept.rows()
    except SyncError as exc:
        status, category, message = SyncRun.Status.FAILED, exc.category, exc.message
    except Exception as exc:  # a bug or a broken file: the run says so, the log has more
        log.exception("import dry run %s crashed", run.pk)
        status, category = SyncRun.Status.FAILED, Category.PERMANENT
        message = _("Unexpected error: %(error)s") % {"error": exc}
    SyncRun.objects.filter(pk=run.pk).update(
        status=status, finished_at=timezone.now(), error_category=category,
        error_message=message, details={"rows": rows}, **total.as_dict())
    run.refresh_from_db()
    return run


class _KeptRows:
    """The dry run's row outcomes worth keeping: the ``limit`` refused and the ``limit``
    other rows of the lowest lines, in any order given (the file's rows come in order, the
    rows the natural keys refused after them)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused: list[dict[str, Any]] = []
        self.others: list[dict[str, Any]] = []

    def extend(self, rows: list[dict[str, Any]]) -> int:
        """Keep what ranks among ``rows``; returns how many rows were given."""
        n = 0
        for row in rows:
            n += 1
            kept = self.refused if row["status"] == "refused" else self.others
            kept.append(row)
            if len(kept) >= 2 * self.limit:  # cut back (a stable sort: ties keep their order)
                kept.sort(key=_by_line)
                del kept[self.limit:]
        return n

    def rows(self) -> list[dict[str, Any]]:
        for kept in (self.refused, self.others):
            kept.sort(key=_by_line)
            del kept[self.limit:]
        return sorted(self.refused + self.others, key=_by_line)


def _by_line(row: dict[str, Any]) -> int:
    return int(row["line"])


class _JournalsOnDisk:
    """SQLite keeps the journal of each batch's savepoint (nested in the dry run's one
    transaction) in memory with ``temp_store=MEMORY``: a few tens of MB per batch. The dry
    run puts it in a temporary file instead, then puts the setting back (SQLite changes it
    outside a transaction only: inside one, as in tests, it stays as it is)."""

    def __enter__(self) -> None:
        self.db = transaction.get_connection()
        self.before: int | None = None
        if self.db.vendor == "sqlite" and not self.db.in_atomic_block:
            with self.db.cursor() as cursor:
                cursor.execute("PRAGMA temp_store")
                self.before = int(cursor.fetchone()[0])
                cursor.execute("PRAGMA temp_store = FILE")

    def __exit__(self, *exc: object) -> None:
        if self.before is not None:
            with self.db.cursor() as cursor:
                cursor.execute(f"PRAGMA temp_store = {self.before}")


def _row_outcomes(loader: Loader, records: list[Any]) -> list[dict[str, Any]]:
    """Each outcome of the batch beside the file row it came from (by its key)."""
    where: dict[str, deque[Any]] = defaultdict(deque)
    for record in records:
        try:
            ext = loader.mapping.normalise_key(record.key)
        except ValueError:
            ext = record.key
        where[ext].append(record)
        if ext != record.key:
            where[record.key].append(record)
    out = []
    for outcome in loader.outcomes:
        ext = str(outcome.get("external_id") or "")
        record = where[ext].popleft() if where.get(ext) else None
        status = outcome["status"]
        matched = outcome.get("matched") or None
        if status == "quarantined":
            status = "refused"
        elif matched:
            status = "matched"
        out.append({
            "line": _line(record), "key": ext, "status": status,
            "reason": outcome.get("reason", ""), "field": outcome.get("field", ""),
            "record_id": (matched or {}).get("id") or outcome.get("object_id"),
            "label": _label(record, loader),
        })
    out.sort(key=lambda row: row["line"])
    return out


def _line(record: Any) -> int:
    """The row's number as a spreadsheet shows it ("clients.csv, line 7", "…, row 7")."""
    last = str(getattr(record, "position", "") or "").rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _label(record: Any, loader: Loader) -> str:
    """A few of the row's mapped values, to recognise it."""
    if record is None:
        return ""
    values = [_cell(record.data.get(source)) for spec in loader.mapping.fields.values()
              for source in spec.sources[:1]]
    return " · ".join(v for v in values if v)[:120]


def _refused_by_keys(job: ImportJob, loader: Loader | None) -> list[dict[str, Any]]:
    """The dry run's outcome of the rows whose account or contact could not be told."""
    out = []
    for record, reason in import_keys.refused_in_copy(job):
        out.append({"line": _line(record), "key": record.key, "status": "refused",
                    "reason": reason, "field": "", "record_id": None,
                    "label": _label(record, loader) if loader is not None else ""})
    return out


def _quarantine_refused_by_keys(job: ImportJob, run: SyncRun) -> int:
    """Set aside, in the run's quarantine, the rows the natural keys refused (the load
    leaves them out): they are in the refused rows file with their reason."""
    rows = [QuarantinedRecord(
        connection_id=run.connection_id, run=run, stream="rows",
        external_id=str(record.key)[:120], position=record.position[:120],
        payload=json_safe(record.data), field="account", reason=reason,
        errors={"account": [reason]}) for record, reason in import_keys.refused_in_copy(job)]
    for start in range(0, len(rows), 1000):
        QuarantinedRecord.objects.bulk_create(rows[start:start + 1000])
    return len(rows)


@task()
def execute_import_run(run_id: int) -> str:
    """Execute an import's run (the sync's own), counting the rows the natural keys refused
    before it among its refused rows."""
    run = SyncRun.objects.select_related("connection", "requested_by").get(pk=run_id)
    run = sync_run_execute(run, user=run.requested_by)
    refused = QuarantinedRecord.objects.filter(run=run, field="account",
                                               stream="rows").count()
    job = ImportJob.objects.filter(run=run).first()
    if job is not None and import_keys.uses_locators(job) and refused:
        SyncRun.objects.filter(pk=run.pk).update(quarantined=F("quarantined") + refused)
    return run.status


@task()
def execute_import_dry_run(run_id: int) -> str:
    """Execute a queued import dry run; its outcome is recorded on the run."""
    run = SyncRun.objects.select_related("connection", "requested_by").get(pk=run_id)
    return import_dry_run_execute(run).status


# --- Results --------------------------------------------------------------------------------

def refused_rows(job: ImportJob) -> QuerySet[QuarantinedRecord]:
    """The import's rows still refused: a row corrected and replayed leaves the list, one
    refused again stays (its replay run is another run of the import's connection)."""
    if job.run_id is None or job.connection_id is None:
        return QuarantinedRecord.objects.none()
    return QuarantinedRecord.objects.filter(connection_id=job.connection_id,
                                            status=QuarantinedRecord.Status.OPEN).order_by("id")


def refused_rows_csv(job: ImportJob) -> str:
    """The refused rows as the file had them, with a ``reason`` column (and ``line``), in the
    file's column order: fix them and upload the file again."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=job.info.get("delimiter") or ";")
    columns = list(job.columns)
    writer.writerow([*columns, "reason", "line"])
    for q in sorted(refused_rows(job), key=lambda q: (_line(q), q.pk)):
        data = q.payload if isinstance(q.payload, dict) else {}
        if "_raw" in data and not any(c in data for c in columns):
            cells = [str(data["_raw"])] + [""] * (len(columns) - 1)
        else:
            cells = [_cell(data.get(c)) for c in columns]
        writer.writerow([*(_safe(c) for c in cells), _safe(q.reason), _line(q) or ""])
    return out.getvalue()


def _safe(text: str) -> str:
    """A spreadsheet must not run a cell as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not \
        text[1:2].isdigit() else text


def import_state(job: ImportJob) -> str:
    """Where the import stands: mapping, checking, checked, running, done, failed, undoing,
    undone."""
    alive = (SyncRun.Status.PENDING, SyncRun.Status.RUNNING)
    if job.undo_status in ("pending", "running"):
        return "undoing"
    if job.undo_status == "done":
        return "undone"
    if job.run is not None:
        if job.run.status in alive:
            return "running"
        return "done" if job.run.status == SyncRun.Status.SUCCEEDED else "failed"
    if job.dry_run is not None:
        if job.dry_run.status in alive:
            return "checking"
        return "checked" if job.dry_run.status == SyncRun.Status.SUCCEEDED else "check_failed"
    return "mapping"


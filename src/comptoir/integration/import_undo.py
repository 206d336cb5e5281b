"""Undo of a whole import from the web, for :data:`UNDO_DAYS` days after it ran.

An import's writes are the audit entries of its one-off connection (source
``sync:import-<job>``, written by the bulk upsert in the run's batches; a dry run's are rolled
back, and replays of its refused rows share the source, so they are undone with it). From
them the undo knows, per record, whether the import created it or which fields it changed,
from what to what. Then, one transaction per batch of records:

* a record the import created is deleted through its domain's delete service, so it goes to
  the recycle bin (30 days) — unless it was used since (a deal, an activity, a contact…
  added to it that its deletion would take along or unlink) or edited since by someone else:
  then it is kept and listed with the reason;
* a record the import changed gets back, field by field, the value it had before — only the
  fields the import changed, and only those nobody changed since (checked on the audit trail
  and on the stored value); a field changed since keeps its newer value and is listed
  ("changed by X since"). A link the import made to an existing record (a sure duplicate) is
  undone too.

Every write goes through the domain services (rights, rules, audit with source
``undo:import-<job>``, outbox); a record a service refuses is kept and listed with its
message, never a crash. Who may undo: the import's author, data managers and administrators.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from comptoir.access import policy
from comptoir.core.errors import Conflict, DomainError, Forbidden
from comptoir.core.models import AuditEntry, ExternalRef
from comptoir.core.recycle import object_type_of
from comptoir.core.services import delete_record, json_value, update_record

from .import_models import ImportJob
from .loader import SPECS
from .models import SyncRun

log = logging.getLogger(__name__)

UNDO_DAYS = 7
BATCH = 200  # records per transaction
KEPT_LISTED = 1000  # kept records listed in the report (the counts cover them all)
SKIPPED = frozenset({"matched", "created_at", "updated_at", "version", "id"})

# object type -> (module, delete service, its keyword, update service, its keyword)
SERVICES: dict[str, tuple[str, str, str, str, str]] = {
    "account": ("comptoir.crm.services", "account_delete", "account", "account_update",
                "account"),
    "contact": ("comptoir.crm.services", "contact_delete", "contact", "contact_update",
                "contact"),
    "lead": ("comptoir.crm.services", "lead_delete", "lead", "lead_update", "lead"),
    "opportunity": ("comptoir.crm.services", "opportunity_delete", "opportunity",
                    "opportunity_update", "opportunity"),
    "activity": ("comptoir.activities.services", "activity_delete", "activity",
                 "activity_update", "activity"),
    "case": ("comptoir.service.services", "case_delete", "case", "case_update", "case"),
    "product": ("comptoir.sales.services", "product_delete", "product", "product_update",
                "product"),
    "pricelist": ("comptoir.sales.services", "pricelist_delete", "price_list",
                  "pricelist_update", "price_list"),
    "salesdocument": ("comptoir.sales.services", "salesdocument_delete", "document",
                      "salesdocument_update", "document"),
}


def _source(job: ImportJob) -> str:
    return f"sync:{job.connection.name}" if job.connection is not None else ""


def undo_source(job: ImportJob) -> str:
    return f"undo:import-{job.pk}"


# --- May it be undone? ---------------------------------------------------------------------

def undo_deadline(job: ImportJob) -> dt.datetime | None:
    """Until when the import can be undone (None: it has not finished running)."""
    run = job.run
    if run is None or run.finished_at is None:
        return None
    return run.finished_at + dt.timedelta(days=UNDO_DAYS)


def may_undo(job: ImportJob, user: Any) -> bool:
    """The import's author, data managers and administrators."""
    if not getattr(user, "is_authenticated", False):
        return False
    return policy.sees_all(user) or (job.created_by_id is not None
                                     and job.created_by_id == user.pk)


def undo_refusal(job: ImportJob, user: Any, now: dt.datetime | None = None) -> str:
    """Why ``user`` cannot undo the import now, in words ("" when they can)."""
    if not may_undo(job, user):
        return _("Only the person who ran this import, a data manager or an administrator "
                 "can undo it.")
    if job.undo_status in ("pending", "running"):
        return _("The undo is in progress.")
    if job.undo_status == "done":
        return _("This import has already been undone.")
    run = job.run
    if run is None or run.finished_at is None or run.status not in (
            SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
        return _("The import has not finished running.")
    deadline = undo_deadline(job)
    if deadline is not None and (now or timezone.now()) > deadline:
        return _("An import can be undone for %(days)d days after it ran; this one ran on "
                 "%(date)s. Its records can still be edited or deleted one by one (deleted "
                 "ones go to the recycle bin).") % {
                     "days": UNDO_DAYS,
                     "date": timezone.localtime(run.finished_at).strftime("%d/%m/%Y")}
    return ""


def import_undo_start(job: ImportJob, *, user: Any) -> ImportJob:
    """Queue the undo (the worker does it, batch by batch); refused with the reason."""
    reason = undo_refusal(job, user)
    if reason:
        raise (Forbidden(reason) if not may_undo(job, user) else Conflict(reason))
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job.pk, undo_status__in=("", "failed")).update(
        undo_status="pending", undo_requested_at=now, undone_by=user, undone_at=None,
        undo_report={})
    if not claimed:
        raise Conflict(_("The undo is in progress."))
    job.refresh_from_db()
    transaction.on_commit(lambda: execute_import_undo.enqueue(job.pk))
    return job


@task()
def execute_import_undo(job_id: int) -> str:
    """Execute a queued undo; its outcome is recorded on the import."""
    return import_undo_execute(ImportJob.objects.get(pk=job_id)).undo_status


# --- What the import did -------------------------------------------------------------------

@dataclass
class _Touched:
    """One record the import wrote: created, or the fields it changed (first before, last
    after) and the link it made to an existing record."""

    object_id: int
    created: bool = False
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)  # (system, external id)
    last_entry: int = 0


def _touched(job: ImportJob, object_type: str) -> dict[int, _Touched]:
    out: dict[int, _Touched] = {}
    entries = (AuditEntry.objects.filter(source=_source(job), object_type=object_type,
                                         action__in=("create", "update"))
               .order_by("id").values_list("id", "object_id", "action", "changes"))
    for entry_id, object_id, action, changes in entries.iterator(chunk_size=2000):
        t = out.setdefault(object_id, _Touched(object_id))
        t.last_entry = entry_id
        if action == "create":
            t.created = True
            continue
        for name, pair in (changes or {}).items():
            if name == "matched":
                link = (pair or [None, None])[1] or {}
                if link.get("system") and link.get("external_id"):
                    t.links.append((str(link["system"]), str(link["external_id"])))
                continue
            if not isinstance(pair, list) or len(pair) != 2:
                continue
            t.before.setdefault(name, pair[0])
            t.after[name] = pair[1]
    return out


@dataclass
class _Later:
    """What others did to a record after the import: per field, who last changed it."""

    any_by: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def _later(job: ImportJob, object_type: str, touched: dict[int, _Touched]
           ) -> dict[int, _Later]:
    """Changes by anyone else after the import's own last write on each record."""
    out: dict[int, _Later] = {}
    ids = sorted(touched)
    names: dict[int, str] = {}
    rows: list[tuple[int, int, int | None, str, dict[str, Any]]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        low = min(touched[i].last_entry for i in chunk)
        rows += list(AuditEntry.objects.filter(
            object_type=object_type, object_id__in=chunk, id__gt=low).exclude(
            source__in=(_source(job), undo_source(job))).order_by("id").values_list(
            "id", "object_id", "user_id", "source", "changes"))
    users = {uid for _i, _o, uid, _s, _c in rows if uid}
    for user in get_user_model().objects.filter(pk__in=users):
        names[user.pk] = user.get_full_name() or user.get_username()
    for entry_id, object_id, user_id, source, changes in rows:
        if entry_id <= touched[object_id].last_entry:
            continue
        who = names.get(user_id or 0) or source
        later = out.setdefault(object_id, _Later())
        later.any_by = who
        for name, pair in (changes or {}).items():
            if name == "custom" and isinstance(pair, list) and len(pair) == 2:
                old, new = pair[0] or {}, pair[1] or {}
                for key in set(old) | set(new):
                    if old.get(key) != new.get(key):
                        later.fields[f"custom.{key}"] = who
            later.fields[name] = who
    return out


# --- Doing it ------------------------------------------------------------------------------

def _service(object_type: str, which: int) -> tuple[Callable[..., Any], str] | None:
    names = SERVICES.get(object_type)
    if names is None:
        return None
    module = importlib.import_module(names[0])
    return getattr(module, names[which]), names[which + 1]


def _delete(object_type: str, obj: models.Model, user: Any, source: str) -> None:
    found = _service(object_type, 1)
    if found is None:
        delete_record(obj, object_type=object_type, user=user, source=source)
        return
    service, keyword = found
    service(**{keyword: obj}, user=user, source=source)


def _update(object_type: str, obj: models.Model, user: Any, source: str,
            data: dict[str, Any], custom: dict[str, Any] | None) -> None:
    found = _service(object_type, 3)
    if found is None:
        update_record(obj, data, object_type=object_type, user=user, source=source,
                      custom=custom)
        return
    service, keyword = found
    kwargs: dict[str, Any] = {keyword: obj, "user": user, "data": data, "source": source}
    if custom is not None and "custom" in inspect.signature(service).parameters:
        kwargs["custom"] = custom
    service(**kwargs)


def _used_by_others(obj: models.Model, created: set[int]) -> str:
    """What deleting ``obj`` would take along or unlink that the import did not create (a
    deal, an activity, a contact…): its label, or "" when nothing."""
    model = type(obj)
    collector = Collector(using=router.db_for_write(model, instance=obj), origin=obj)
    try:
        collector.collect([obj])
    except (models.ProtectedError, models.RestrictedError) as exc:
        protected = next(iter(getattr(exc, "protected_objects", None)
                              or getattr(exc, "restricted_objects", None) or []), None)
        return str(protected) if protected is not None else _("a linked record")
    for other, instances in collector.data.items():
        if object_type_of(other) is None:
            continue
        for item in instances:
            if other is model and item.pk in created:
                continue
            return f"{other._meta.verbose_name} “{item}”"
    for qs in collector.fast_deletes:
        if object_type_of(qs.model) is None:
            continue
        first = qs.exclude(pk__in=list(created) if qs.model is model else []).first()
        if first is not None:
            return f"{qs.model._meta.verbose_name} “{first}”"
    for (fk, _value), batches in collector.field_updates.items():
        if object_type_of(fk.model) is None:
            continue
        for batch in batches:
            batch_: Any = batch  # a queryset, or a list of instances
            items: Iterable[Any] = batch_ if isinstance(batch_, models.QuerySet | list | tuple
                                                        | set) else [batch_]
            for row in items:
                if not (fk.model is model and row.pk in created):
                    return f"{fk.model._meta.verbose_name} “{row}”"
    return ""


def _python(model: type[models.Model], name: str, value: Any) -> Any:
    """An audited (JSON) value back as the field's Python value."""
    try:
        f = model._meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name)
    except Exception:
        return value
    if value is None or not isinstance(f, models.Field):
        return value
    if isinstance(f, models.ForeignKey):
        return int(value) if value != "" else None
    try:
        return f.to_python(value)
    except Exception:
        return value


class _Report:
    def __init__(self, total: int) -> None:
        self.data: dict[str, Any] = {"total": total, "done": 0, "deleted": 0, "restored": 0,
                                     "kept_changed": 0, "kept_used": 0, "kept_refused": 0,
                                     "fields_restored": 0, "fields_kept": 0, "kept": []}

    def keep(self, kind: str, object_type: str, object_id: int, label: str, reason: str,
             fields: list[str] | None = None) -> None:
        self.data[f"kept_{kind}"] += 1
        if len(self.data["kept"]) < KEPT_LISTED:
            self.data["kept"].append({"kind": kind, "type": object_type, "id": object_id,
                                      "label": label[:120], "reason": reason,
                                      "fields": fields or []})


def _label_of(model: type[models.Model], name: str) -> str:
    try:
        found = model._meta.get_field(name.removesuffix("_id"))
    except Exception:
        return name
    return str(found.verbose_name) if isinstance(found, models.Field) else name


def _undo_created(job: ImportJob, object_type: str, obj: models.Model, later: _Later | None,
                  created: set[int], user: Any, report: _Report) -> None:
    if later is not None:
        report.keep("changed", object_type, obj.pk, str(obj),
                    _("kept: changed by %(who)s since") % {"who": later.any_by})
        return
    used = _used_by_others(obj, created)
    if used:
        report.keep("used", object_type, obj.pk, str(obj),
                    _("kept: used since (%(what)s)") % {"what": used})
        return
    _delete(object_type, obj, user, undo_source(job))
    report.data["deleted"] += 1


def _undo_changed(job: ImportJob, object_type: str, obj: models.Model, t: _Touched,
                  later: _Later | None, user: Any, report: _Report) -> None:
    model = type(obj)
    spec = SPECS[object_type]
    derived = set(spec.derived_fields) | {c.key for c in spec.children}
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    kept: dict[str, str] = {}
    for name, before in t.before.items():
        after = t.after.get(name)
        if name in SKIPPED or name in derived:
            continue
        if name == "custom":
            old, new = before or {}, after or {}
            stored = getattr(obj, "custom", None) or {}
            for key in set(old) | set(new):
                if old.get(key) == new.get(key) or stored.get(key) == old.get(key):
                    continue
                who = (later.fields.get(f"custom.{key}") if later else None)
                if who or stored.get(key) != new.get(key):
                    kept[f"custom.{key}"] = who or _("someone")
                else:
                    custom[key] = old.get(key)
            continue
        if not hasattr(obj, name) or json_value(getattr(obj, name)) == before:
            continue  # already as before the import (an undo resumed after a failure)
        who = later.fields.get(name) if later else None
        if who or json_value(getattr(obj, name)) != after:
            kept[name] = who or _("someone")
            continue
        data[name] = _python(model, name, before)
    if data or custom:
        _update(object_type, obj, user, undo_source(job), data, custom or None)
        report.data["fields_restored"] += len(data) + len(custom)
    for system, external_id in t.links:  # the link to a sure duplicate, made by the import
        ExternalRef.objects.filter(system=system, object_type=object_type,
                                   external_id=external_id, object_id=obj.pk).delete()
    if data or custom or t.links:
        report.data["restored"] += 1
    if kept:
        report.data["fields_kept"] += len(kept)
        by: dict[str, list[str]] = {}
        for name, who in kept.items():
            by.setdefault(who, []).append(
                name.split(".", 1)[1] if name.startswith("custom.") else _label_of(model, name))
        reason = "; ".join(_("kept: changed by %(who)s since") % {"who": who}
                           + f" ({', '.join(names)})" for who, names in by.items())
        report.keep("changed", object_type, obj.pk, str(obj), reason, sorted(kept))


def import_undo_execute(job: ImportJob) -> ImportJob:
    """Undo the import, one transaction per batch of :data:`BATCH` records; the report is
    saved after each batch (the page shows the progress) and at the end. A ready-made
    mapping that also wrote the rows' parents (a deal's organisation) is undone children
    first."""
    claimed = ImportJob.objects.filter(pk=job.pk, undo_status="pending").update(
        undo_status="running")
    job.refresh_from_db()
    if not claimed:
        return job
    report = _Report(0)
    try:
        work = [(object_type, _touched(job, object_type)) for object_type in _targets(job)]
        report = _Report(sum(len(touched) for _type, touched in work))
        for object_type, touched in work:
            _undo_type(job, object_type, touched, report)
    except Exception as exc:  # a bug: the import says so, the log has more
        log.exception("undo of import %s crashed", job.pk)
        report.data["error"] = _("Unexpected error: %(error)s") % {"error": exc}
        ImportJob.objects.filter(pk=job.pk).update(undo_status="failed",
                                                   undo_report=report.data)
    else:
        ImportJob.objects.filter(pk=job.pk).update(undo_status="done", undone_at=timezone.now(),
                                                   undo_report=report.data)
    job.refresh_from_db()
    return job


def _targets(job: ImportJob) -> list[str]:
    """The object types the import wrote, children first."""
    preset = (job.options or {}).get("preset")
    if not preset:
        return [job.object_type]
    from .engine.mapping import load_mapping
    from .loader import target_fields
    from .mappings import builtin_mapping

    mapping = load_mapping(builtin_mapping(preset), targets=target_fields())
    return list(reversed(dict.fromkeys(m.target for m in mapping.streams.values())))


def _undo_type(job: ImportJob, object_type: str, touched: dict[int, _Touched],
               report: _Report) -> None:
    user = job.undone_by
    model = SPECS[object_type].model
    later = _later(job, object_type, touched)
    created = {i for i, t in touched.items() if t.created}
    # children before parents (an account import naming its parent accounts)
    order = sorted(touched, key=lambda i: (not touched[i].created, -i))
    for start in range(0, len(order), BATCH):
        chunk = order[start:start + BATCH]
        with transaction.atomic():
            objects = model._default_manager.in_bulk(chunk)
            for object_id in chunk:
                t = touched[object_id]
                obj = objects.get(object_id)
                if obj is None:  # deleted since by someone: nothing to undo
                    report.data["done"] += 1
                    continue
                try:
                    with transaction.atomic():
                        if t.created:
                            _undo_created(job, object_type, obj, later.get(object_id),
                                          created, user, report)
                        else:
                            _undo_changed(job, object_type, obj, t,
                                          later.get(object_id), user, report)
                except DomainError as exc:
                    report.keep("refused", object_type, object_id, str(obj),
                                _("kept: %(reason)s") % {"reason": exc.message})
                report.data["done"] += 1
            # a re-import of the same rows must be compared again, not seen unchanged
            ExternalRef.objects.filter(object_type=object_type, object_id__in=chunk,
                                       system__in=_systems(job)).update(content_hash="")
            ImportJob.objects.filter(pk=job.pk).update(undo_report=report.data)


def _systems(job: ImportJob) -> list[str]:
    systems = ["import", f"import-{job.pk}"]
    connection = job.connection
    if (job.options or {}).get("preset") and connection is not None:
        from .services import connection_mapping

        systems.append(connection_mapping(connection).system)
    return systems

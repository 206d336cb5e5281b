"""The recycle bin: a deleted record can be brought back for 30 days.

Every delete of a domain service goes through :func:`comptoir.core.services.delete_record`,
which calls :func:`discard`: before the rows go, the record and everything its deletion takes
along (an account's contacts, deals, activities, cases, documents and their lines, files…, as
Django's ``Collector`` finds them) are serialised into one :class:`DeletedRecord`, with the
links other records lose (``SET_NULL``), the record's external references and a copy of its
files (the stored file is removed on commit with its row).

:func:`restore` puts the rows back with their ids, in one transaction, or refuses with a
message saying why (a unique value taken since, a parent gone) and leaves nothing behind. The
worker's periodic job :func:`purge_due` forgets entries older than :data:`RETENTION`.

Who may see or restore which entry is the access policy's business and is decided above this
module (``comptoir.web.views.recycle``); this one only keeps and puts back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.apps import apps
from django.core import serializers
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.serializers.base import DeserializationError, DeserializedObject
from django.db import IntegrityError, connection, models, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import Conflict, NotFound
from .models import AuditEntry, DeletedRecord, ExternalRef, ObjectType, OutboxEvent

RETENTION = dt.timedelta(days=30)
FILES_DIR = "recycle"  # copies of the deleted records' files, in their own storage
_CHUNK = 500
PAYLOAD_FORMAT = 1


class RestoreImpossible(Conflict):
    """The entry cannot be put back as it is; ``message`` says why, for the user."""

    code = "restore_impossible"


@dataclass(frozen=True)
class Restored:
    object_type: str
    object_id: int
    label: str
    rows: int
    missing_files: int = 0


# --- Keeping ---------------------------------------------------------------------------------

def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def object_type_of(model: type[models.Model]) -> str | None:
    """The ``ObjectType`` of a model, when it has one (model names are the object types)."""
    name = model._meta.model_name
    return name if name in ObjectType.values else None


def _collected(collector: Collector) -> list[tuple[type[models.Model], list[Any]]]:
    """(model, ids) of every row the deletion removes, parents before children: the order a
    restore inserts them in."""
    collector.sort()  # deletion order: children first
    found: dict[type[models.Model], set[Any]] = defaultdict(set)
    order: list[type[models.Model]] = []
    for model, instances in reversed(list(collector.data.items())):
        order.append(model)
        found[model].update(obj.pk for obj in instances)
    for qs in collector.fast_deletes:  # children without children of their own
        model = qs.model
        if model not in found:
            order.append(model)
        found[model].update(qs.values_list("pk", flat=True))
    return [(m, sorted(found[m])) for m in order
            if found[m] and not m._meta.auto_created]  # m2m rows travel with their object


def _read(model: type[models.Model], pks: Sequence[Any]) -> list[models.Model]:
    """The full rows (the collector may hold deferred instances)."""
    rows: list[models.Model] = []
    for start in range(0, len(pks), _CHUNK):
        rows += list(model._base_manager.filter(pk__in=pks[start:start + _CHUNK]).order_by("pk"))
    return rows


def _relinks(collector: Collector, removed: dict[str, set[Any]]) -> list[dict[str, Any]]:
    """The links a deletion empties on records it keeps (``SET_NULL``), to put back."""
    out: list[dict[str, Any]] = []
    for (field, value), batches in collector.field_updates.items():
        if value is not None:
            continue  # SET_DEFAULT or SET(...): not a link a restore can tell apart
        model = field.model
        ids: set[Any] = set()
        for batch in batches:
            batch_: Any = batch  # a queryset, or a list of instances
            if isinstance(batch_, models.QuerySet):
                ids.update(batch_.values_list("pk", flat=True))
            else:
                ids.update(obj.pk for obj in batch_)
        ids -= removed.get(_label(model), set())  # rows restored with their own values
        rows = []
        for start in range(0, len(ids), _CHUNK):
            chunk = sorted(ids)[start:start + _CHUNK]
            rows += [list(r) for r in model._base_manager.filter(pk__in=chunk)
                     .values_list("pk", field.attname)]
        if rows:
            out.append({"model": _label(model), "field": field.attname, "rows": rows})
    return out


def _keep_files(objects: Iterable[models.Model], token: str) -> list[dict[str, Any]]:
    """Copies of the stored files of the rows going away: the rows' own files are removed on
    commit (``documents.signals``)."""
    kept = []
    for obj in objects:
        for field in obj._meta.concrete_fields:
            if not isinstance(field, models.FileField):
                continue
            file = getattr(obj, field.attname)
            if not file or not file.name:
                continue
            storage = file.storage
            copy = ""
            try:
                with storage.open(file.name, "rb") as handle:
                    copy = storage.save(
                        f"{FILES_DIR}/{token}/{PurePosixPath(file.name).name}", handle)
            except (FileNotFoundError, OSError):
                pass  # already gone: the row comes back without its file
            kept.append({"model": _label(type(obj)), "pk": obj.pk, "field": field.name,
                         "name": file.name, "kept": copy})
    return kept


def _visibility(instance: models.Model, object_type: str) -> tuple[Any, Any, Any]:
    """The ids the visibility policy reads: the record's owner, its account's owner and
    territory (an account's own)."""
    owner = getattr(instance, "owner_id", None)
    if object_type == ObjectType.ACCOUNT:
        return owner, owner, getattr(instance, "territory_id", None)
    try:
        field = instance._meta.get_field("account")
    except FieldDoesNotExist:
        return owner, None, None
    account_id = getattr(instance, getattr(field, "attname", "account_id"), None)
    related = field.related_model
    if account_id is None or not isinstance(related, type) \
            or not issubclass(related, models.Model):
        return owner, None, None
    row = related._base_manager.filter(pk=account_id).values_list("owner_id",
                                                                  "territory_id").first()
    return (owner, *row) if row else (owner, None, None)


def discard(instance: models.Model, *, object_type: str, user: Any,
            source: str = "app") -> DeletedRecord:
    """Delete ``instance`` and everything its deletion cascades to, keeping them in the bin.

    Raises ``ProtectedError``/``RestrictedError`` as ``Model.delete`` does (nothing kept, nothing
    deleted). Call inside the service's transaction.
    """
    using = router.db_for_write(type(instance), instance=instance)
    collector = Collector(using=using, origin=instance)
    collector.collect([instance])
    collected = _collected(collector)
    objects: list[models.Model] = []
    for model, pks in collected:
        objects += _read(model, pks)
    removed = {_label(m): set(pks) for m, pks in collected}
    refs = list(ExternalRef.objects.filter(object_type=object_type, object_id=instance.pk))
    token = uuid.uuid4().hex
    owner, account_owner, territory = _visibility(instance, object_type)
    payload = {
        "format": PAYLOAD_FORMAT,
        "root": {"model": _label(type(instance)), "pk": instance.pk},
        "objects": json.loads(serializers.serialize("json", [*objects, *refs])),
        "relinks": _relinks(collector, removed),
        "files": _keep_files(objects, token),
    }
    counts = Counter(_label(type(o)) for o in objects)
    entry = DeletedRecord.objects.create(
        object_type=object_type, object_id=instance.pk, label=str(instance)[:255],
        deleted_by_id=user.pk if getattr(user, "is_authenticated", False) else None,
        deleted_at=timezone.now(), source=source, record_owner=owner,
        account_owner=account_owner, account_territory=territory,
        counts=dict(counts), payload=payload)
    collector.delete()
    return entry


# --- Restoring -------------------------------------------------------------------------------

def _deserialize(entry: DeletedRecord) -> list[DeserializedObject]:
    payload = entry.payload or {}
    try:
        return list(serializers.deserialize("python", payload.get("objects") or [],
                                            ignorenonexistent=True))
    except (DeserializationError, LookupError, ValidationError, ValueError, TypeError) as exc:
        raise RestoreImpossible(
            _("“%(record)s” cannot be restored: it was kept by an older version of Comptoir "
              "whose data no longer fits.") % {"record": entry.label}) from exc


def _key(obj: models.Model) -> tuple[str, Any]:
    return _label(type(obj)), obj.pk


def _parent_gone(entry: DeletedRecord, obj: models.Model, field: models.ForeignKey,
                 value: Any) -> RestoreImpossible:
    target = field.related_model
    assert isinstance(target, type)
    what = str(target._meta.verbose_name)
    binned = object_type_of(target)
    in_bin = binned is not None and DeletedRecord.objects.filter(
        object_type=binned, object_id=value).exclude(pk=entry.pk).exists()
    if in_bin:
        return RestoreImpossible(
            _("“%(record)s” cannot be restored: the record it belongs to (%(what)s) is in the "
              "recycle bin too. Restore that one first.") % {"record": entry.label,
                                                             "what": what})
    return RestoreImpossible(
        _("“%(record)s” cannot be restored: the record it belongs to (%(what)s) no longer "
          "exists.") % {"record": entry.label, "what": what})


def _check_links(entry: DeletedRecord, objects: list[DeserializedObject]) -> None:
    """Every link points to a row that exists or comes back with the entry. A link the
    database would have emptied (``SET_NULL``) is emptied; a parent gone (``CASCADE``) makes
    the restore impossible."""
    coming = {_key(d.object) for d in objects}
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    for d in objects:
        for field in d.object._meta.concrete_fields:
            if isinstance(field, models.ForeignKey):
                value = getattr(d.object, field.attname)
                target = field.related_model
                if value is not None and isinstance(target, type) \
                        and (_label(target), value) not in coming:
                    wanted[target].add(value)
    existing: dict[type[models.Model], set[Any]] = {}
    for target, ids in wanted.items():
        found: set[Any] = set()
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            found.update(target._base_manager.filter(pk__in=ordered[start:start + _CHUNK])
                         .values_list("pk", flat=True))
        existing[target] = found
    for d in objects:
        for field in d.object._meta.concrete_fields:
            if not isinstance(field, models.ForeignKey):
                continue
            value = getattr(d.object, field.attname)
            target = field.related_model
            if value is None or not isinstance(target, type) \
                    or (_label(target), value) in coming or value in existing[target]:
                continue
            if field.null and field.remote_field.on_delete is models.SET_NULL:
                setattr(d.object, field.attname, None)
            else:
                raise _parent_gone(entry, d.object, field, value)


def _check_free(entry: DeletedRecord, objects: list[DeserializedObject]) -> None:
    """No row is back already, and no unique value was taken since."""
    by_model: dict[type[models.Model], list[Any]] = defaultdict(list)
    for d in objects:
        by_model[type(d.object)].append(d.object.pk)
    for model, pks in by_model.items():
        for start in range(0, len(pks), _CHUNK):
            if model._base_manager.filter(pk__in=pks[start:start + _CHUNK]).exists():
                raise RestoreImpossible(
                    _("“%(record)s” cannot be restored: it, or a record deleted with it, "
                      "exists again.") % {"record": entry.label})
    for d in objects:
        obj = d.object
        meta = obj._meta
        if not (any(f.unique and not f.primary_key for f in meta.concrete_fields)
                or meta.unique_together or meta.total_unique_constraints):
            continue
        try:
            obj.validate_unique(exclude=[meta.pk.name])
            obj.validate_constraints()
        except ValidationError as exc:
            if isinstance(obj, ExternalRef):
                reason = _("its reference in %(system)s is now used by another record") % {
                    "system": obj.system}
            else:
                reason = " ".join(str(m) for m in exc.messages)
            raise RestoreImpossible(
                _("“%(record)s” cannot be restored: %(reason)s") % {
                    "record": entry.label, "reason": reason}) from exc


def _put_files_back(entry: DeletedRecord, objects: list[DeserializedObject]
                    ) -> tuple[list[tuple[Any, str]], int]:
    """Store the kept copies under their names again (or a free name next to it); returns the
    files written (to remove if the restore fails) and how many could not be found."""
    by_key = {_key(d.object): d.object for d in objects}
    written: list[tuple[Any, str]] = []
    missing = 0
    for item in (entry.payload or {}).get("files") or []:
        obj = by_key.get((item.get("model"), item.get("pk")))
        if obj is None:
            continue
        file = getattr(obj, str(item.get("field")), None)
        storage = getattr(file, "storage", None)
        kept = item.get("kept") or ""
        if storage is None or not kept or not storage.exists(kept):
            missing += 1
            continue
        with storage.open(kept, "rb") as handle:
            name = storage.save(str(item.get("name") or PurePosixPath(kept).name), handle)
        written.append((storage, name))
        setattr(obj, str(item.get("field")), name)
    return written, missing


def _relink(entry: DeletedRecord) -> None:
    """Put back the links the deletion emptied, where nobody has set them since."""
    for item in (entry.payload or {}).get("relinks") or []:
        try:
            model = apps.get_model(item["model"])
        except (LookupError, KeyError, ValueError):
            continue
        names = {f.attname for f in model._meta.concrete_fields}
        if item.get("field") not in names:
            continue
        by_value: dict[Any, list[Any]] = defaultdict(list)
        for pk, value in item.get("rows") or []:
            by_value[value].append(pk)
        for value, pks in by_value.items():
            model._base_manager.filter(pk__in=pks, **{f"{item['field']}__isnull": True}) \
                .update(**{item["field"]: value})


def _storage_of(item: dict[str, Any]) -> Any:
    """The storage of a kept file: its field's (the default one if the field is gone)."""
    from django.core.files.storage import default_storage

    try:
        field = apps.get_model(str(item.get("model")))._meta.get_field(str(item.get("field")))
    except (LookupError, ValueError, FieldDoesNotExist):
        return default_storage
    return getattr(field, "storage", default_storage)


def _discard_kept_files(entries: Iterable[DeletedRecord]) -> None:
    """Remove the copies kept for these entries, once the transaction commits."""
    kept = [(_storage_of(item), str(item["kept"])) for e in entries
            for item in (e.payload or {}).get("files") or [] if item.get("kept")]
    if not kept:
        return

    def remove() -> None:
        for storage, name in kept:
            with contextlib.suppress(OSError):
                storage.delete(name)

    transaction.on_commit(remove)


def _events(entry: DeletedRecord, objects: list[DeserializedObject], user: Any,
            source: str) -> None:
    """An audit entry and an event per restored record (the search index, the feeds and
    the other consumers of the outbox read the records again)."""
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    audits, events = [], []
    for d in objects:
        object_type = object_type_of(type(d.object))
        if object_type is None:
            continue
        root = object_type == entry.object_type and d.object.pk == entry.object_id
        changes: dict[str, Any] = {}
        payload: dict[str, Any] = {"changes": changes, "user_id": user_id, "source": source}
        if not root:
            payload["with"] = {"object_type": entry.object_type, "object_id": entry.object_id}
        audits.append(AuditEntry(object_type=object_type, object_id=d.object.pk,
                                 action=AuditEntry.Action.RESTORE, user_id=user_id,
                                 source=source, changes=changes))
        events.append(OutboxEvent(topic=f"{object_type}.restored", object_type=object_type,
                                  object_id=d.object.pk, payload=payload))
    AuditEntry.objects.bulk_create(audits, batch_size=_CHUNK)
    OutboxEvent.objects.bulk_create(events, batch_size=_CHUNK)


def _tables(objects: Iterable[DeserializedObject]) -> list[str]:
    return sorted({d.object._meta.db_table for d in objects})


@transaction.atomic
def restore(entry_id: int, *, user: Any, source: str = "app") -> Restored:
    """Put an entry's rows back as they were, in one transaction, or refuse with a message
    (:class:`RestoreImpossible`) and change nothing. The caller decides who may."""
    entry = DeletedRecord.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("This record is no longer in the recycle bin."))
    objects = _deserialize(entry)
    if not objects:
        raise RestoreImpossible(_("“%(record)s” cannot be restored: nothing was kept of it.")
                                % {"record": entry.label})
    _check_free(entry, objects)
    _check_links(entry, objects)
    written: list[tuple[Any, str]] = []
    try:
        with transaction.atomic():
            written, missing = _put_files_back(entry, objects)
            for d in objects:
                d.save(force_insert=True)
            _relink(entry)
            # deferred foreign keys are checked now, inside: a failure rolls this back whole
            connection.check_constraints(table_names=_tables(objects))
    except (IntegrityError, ValidationError, ValueError) as exc:
        for storage, name in written:
            with contextlib.suppress(OSError):
                storage.delete(name)
        raise RestoreImpossible(
            _("“%(record)s” cannot be restored: the records it was linked to have changed "
              "too much since.") % {"record": entry.label}) from exc
    _events(entry, objects, user, source)
    _discard_kept_files([entry])
    restored = Restored(object_type=entry.object_type, object_id=entry.object_id,
                        label=entry.label, rows=len(objects), missing_files=missing)
    entry.delete()
    return restored


# --- Forgetting ------------------------------------------------------------------------------

def purge_expired(now: dt.datetime | None = None) -> int:
    """Forget the entries older than :data:`RETENTION` (and their kept files); how many."""
    cutoff = (now or timezone.now()) - RETENTION
    purged = 0
    while True:
        with transaction.atomic():
            batch = list(DeletedRecord.objects.filter(deleted_at__lt=cutoff)
                         .order_by("deleted_at", "id").only("id", "payload")[:100])
            if not batch:
                return purged
            _discard_kept_files(batch)
            DeletedRecord.objects.filter(pk__in=[e.pk for e in batch]).delete()
            purged += len(batch)


def purge_due() -> str | None:
    """The worker's periodic job (``COMPTOIR_PERIODIC_JOBS``): one indexed query when there
    is nothing to forget."""
    purged = purge_expired()
    return f"recycle bin: {purged} purged" if purged else None

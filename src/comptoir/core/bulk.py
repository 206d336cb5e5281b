"""Bulk upsert by external id: the fast, honest write path for integrations (I1, I14).

One call takes up to 10,000 records of one object type from one ``system``. Each record is
matched to a local row through ``ExternalRef``; a content hash recognises records sent again
unchanged, which are neither re-validated nor rewritten. New and changed records go through the
domain's own field rules (``BulkSpec.clean``), then through set-based SQL in one transaction
with their audit entries, outbox events and references. Every record gets a result: created,
updated, unchanged or error (with field messages); an invalid record never blocks the others
and never half-writes.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import AuditEntry, ExternalRef, OutboxEvent
from .services import clean_custom_fields, custom_field_definitions, json_value
from .sql import insert_many, insert_returning, update_many

Errors = dict[str, list[str]]
Cleaner = Callable[[dict[str, Any]], tuple[dict[str, Any], Errors]]
Preparer = Callable[[list[dict[str, Any]], Any], None]


@dataclass
class BulkSpec:
    """How one object type is bulk-loaded.

    ``clean`` normalises and checks one record's fields (the same function the single-record
    service uses); ``prepare_new`` fills derived values on new rows (territory, owner…);
    ``derived`` recomputes fields from others on every write (normalised name…);
    ``external_fks`` lets a record point to a parent by its external id in the same system
    (``account_external_id``).
    """

    model: type[models.Model]
    object_type: str
    fields: list[str]  # writable attnames (owner_id…), "custom" included when supported
    clean: Cleaner = lambda data: (data, {})
    prepare_new: Preparer | None = None
    derived: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    external_fks: dict[str, str] = field(default_factory=dict)  # attname -> object type
    unique: list[str] = field(default_factory=list)  # fields unique in the table


@dataclass
class BulkResult:
    index: int
    external_id: str
    status: str  # created | updated | unchanged | error
    id: int | None = None
    errors: Errors = field(default_factory=dict)


def content_hash(record: Mapping[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _chunks(items: Sequence[Any], size: int = 5000) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _required_fields(model: type[models.Model], names: Sequence[str]) -> list[str]:
    out = []
    for f in model._meta.concrete_fields:
        if f.attname in names and not f.null and not f.blank and not f.has_default():
            out.append(f.attname)
    return out


def _fk_targets(model: type[models.Model], names: Sequence[str]) -> dict[str, type[models.Model]]:
    return {f.attname: f.related_model for f in model._meta.concrete_fields  # type: ignore[misc]
            if isinstance(f, models.ForeignKey) and f.attname in names}


def _load_refs(system: str, object_type: str, external_ids: Sequence[str]
               ) -> dict[str, tuple[int, int, str]]:
    """external id -> (ref id, local id, content hash)."""
    found: dict[str, tuple[int, int, str]] = {}
    for chunk in _chunks(external_ids):
        for ref_id, ext, obj_id, digest in ExternalRef.objects.filter(
            system=system, object_type=object_type, external_id__in=chunk
        ).values_list("id", "external_id", "object_id", "content_hash"):
            found[ext] = (ref_id, obj_id, digest)
    return found


def _check_fks(spec: BulkSpec, system: str, staged: list[tuple[int, dict[str, Any]]],
               results: list[BulkResult]) -> list[tuple[int, dict[str, Any]]]:
    """Resolve ``<fk>_external_id`` and check every foreign key exists, set-based."""
    for attname, object_type in spec.external_fks.items():
        key = attname.removesuffix("_id") + "_external_id"
        wanted = sorted({str(r[key]) for _i, r in staged if r.get(key)})
        refs = _load_refs(system, object_type, wanted) if wanted else {}
        for i, record in staged:
            ext = record.pop(key, None)
            if ext:
                if str(ext) in refs:
                    record[attname] = refs[str(ext)][1]
                else:
                    results[i].errors.setdefault(key, []).append(
                        _("No record with this external id in %(system)s.") % {"system": system})
    targets = _fk_targets(spec.model, spec.fields)
    for attname, target in targets.items():
        wanted_ids = {r[attname] for _i, r in staged if r.get(attname) is not None}
        existing: set[Any] = set()
        for chunk in _chunks(sorted(wanted_ids)):
            existing |= set(target._default_manager.filter(pk__in=chunk)
                            .values_list("pk", flat=True))
        for i, record in staged:
            value = record.get(attname)
            if value is not None and value not in existing:
                results[i].errors.setdefault(attname.removesuffix("_id"), []).append(
                    _("Unknown id %(id)s.") % {"id": value})
    return [(i, r) for i, r in staged if not results[i].errors]


def _check_unique(spec: BulkSpec, staged: list[tuple[int, dict[str, Any]]],
                  results: list[BulkResult]) -> list[tuple[int, dict[str, Any]]]:
    """A new record may not reuse a unique value held by another record or sent twice."""
    for name in spec.unique:
        values = [r.get(name) for _i, r in staged if r.get(name) not in (None, "")]
        taken: set[Any] = set()
        for chunk in _chunks(sorted(set(values))):
            taken |= set(spec.model._default_manager.filter(**{f"{name}__in": chunk})
                         .values_list(name, flat=True))
        seen: set[Any] = set()
        for i, r in staged:
            value = r.get(name)
            if value in (None, ""):
                continue
            if value in taken or value in seen:
                results[i].errors.setdefault(name, []).append(
                    _("Already used by another record: %(value)s.") % {"value": value})
            seen.add(value)
    return [(i, r) for i, r in staged if not results[i].errors]


@transaction.atomic
def bulk_upsert(spec: BulkSpec, *, system: str, records: Sequence[Mapping[str, Any]],
                user: Any, source: str = "bulk", parse: Cleaner | None = None
                ) -> list[BulkResult]:
    """Create, update or skip each record by its ``external_id``; see the module docstring.

    ``parse`` checks a record's shape and types (the API's schema) before the domain rules; it
    runs only on records that are new or changed, so a re-sent batch costs one hash each.
    """
    now = timezone.now()
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    results: list[BulkResult] = []
    seen: set[str] = set()
    incoming: list[tuple[int, str, dict[str, Any], str]] = []
    for i, raw in enumerate(records):
        record = dict(raw)
        ext = str(record.pop("external_id", "") or "").strip()
        results.append(BulkResult(i, ext, "error"))
        if not ext:
            results[i].errors["external_id"] = [_("This field is required.")]
            continue
        if ext in seen:
            results[i].errors["external_id"] = [_("Sent twice in this call.")]
            continue
        seen.add(ext)
        incoming.append((i, ext, record, content_hash(record)))

    hashes = {i: digest for i, _e, _r, digest in incoming}
    refs = _load_refs(system, spec.object_type, [ext for _i, ext, _r, _h in incoming])
    required = _required_fields(spec.model, spec.fields)
    custom_defs = custom_field_definitions(spec.object_type) if "custom" in spec.fields else {}
    new: list[tuple[int, dict[str, Any]]] = []
    changed: list[tuple[int, dict[str, Any]]] = []
    for i, ext, record, digest in incoming:
        ref = refs.get(ext)
        if ref is not None and ref[2] == digest:
            results[i].status, results[i].id = "unchanged", ref[1]
            continue
        if parse is not None:
            record, errors = parse(record)
            if errors:
                results[i].errors = errors
                continue
        cleaned, errors = spec.clean(record)
        if "custom" in cleaned:
            try:
                cleaned["custom"] = clean_custom_fields(
                    spec.object_type, cleaned["custom"], creating=ref is None,
                    definitions=custom_defs)
            except Exception as exc:  # ValidationFailed carries field messages
                errors.update(getattr(exc, "fields", {}) or {"custom": [str(exc)]})
        if errors:
            results[i].errors = errors
            continue
        (new if ref is None else changed).append((i, cleaned))
    new = _check_fks(spec, system, new, results)
    changed = _check_fks(spec, system, changed, results)
    for i, r in new:  # after the external references resolved into ids
        for name in required:
            if r.get(name) in (None, ""):
                results[i].errors.setdefault(name.removesuffix("_id"), []).append(
                    _("This field is required."))
    new = _check_unique(spec, [(i, r) for i, r in new if not results[i].errors], results)

    audit_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []

    def remember(obj_id: int, action: str, changes: dict[str, list[Any]]) -> None:
        audit_rows.append((spec.object_type, obj_id, action, user_id, source, now, changes))
        event_rows.append((f"{spec.object_type}.{action}d", spec.object_type, obj_id,
                           {"changes": changes, "user_id": user_id, "source": source}, now))

    # --- new rows ------------------------------------------------------------------------
    if new:
        if spec.prepare_new is not None:
            spec.prepare_new([r for _i, r in new], user)
        if spec.derived is not None:
            for _i, r in new:
                r.update(spec.derived(r))
        attnames, columns, defaults = _insert_columns(spec.model)
        rows = []
        for _i, r in new:
            values = {**defaults, **r, "created_at": now, "updated_at": now}
            rows.append([values.get(a) for a in attnames])
        ids = insert_returning(spec.model, columns, rows)
        ref_rows = []
        for (i, r), obj_id in zip(new, ids, strict=True):
            results[i].status, results[i].id = "created", obj_id
            remember(obj_id, "create", {k: [None, json_value(v)] for k, v in r.items()
                                        if v not in (None, "", {})})
            ref_rows.append((system, spec.object_type, results[i].external_id, obj_id,
                             hashes[i], now))
        insert_many(ExternalRef, ["system", "object_type", "external_id", "object_id",
                                  "content_hash", "synced_at"], ref_rows)

    # --- changed rows ----------------------------------------------------------------------
    if changed:
        ids_by_index = {i: refs[results[i].external_id][1] for i, _r in changed}
        current: dict[int, dict[str, Any]] = {}
        names = sorted({k for _i, r in changed for k in r})
        for chunk in _chunks(list(ids_by_index.values())):
            for row in spec.model._default_manager.filter(pk__in=chunk).values("pk", *names):
                current[row.pop("pk")] = row
        groups: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
        hash_updates = []
        for i, r in changed:
            obj_id = ids_by_index[i]
            before = current.get(obj_id)
            ref_id = refs[results[i].external_id][0]
            hash_updates.append([hashes[i], now, ref_id])
            results[i].id = obj_id
            if before is None:  # deleted locally since: recreate is the sync's call, not ours
                results[i].status = "error"
                results[i].errors = {"external_id": [_("The linked record no longer exists.")]}
                continue
            if "custom" in r:
                r["custom"] = {**(before.get("custom") or {}), **r["custom"]}
            merged = {**before, **r}
            if spec.derived is not None:
                r.update(spec.derived(merged))
            diff = {k: [json_value(before.get(k)), json_value(v)] for k, v in r.items()
                    if json_value(before.get(k)) != json_value(v)}
            if not diff:
                results[i].status = "unchanged"
                continue
            results[i].status = "updated"
            cols = tuple(sorted(k for k in r if k in diff))
            groups[cols].append([r[c] for c in cols] + [now, obj_id])
            remember(obj_id, "update", diff)
        for cols, rows in groups.items():
            update_many(spec.model, [_column(spec.model, c) for c in cols] + ["updated_at"],
                        rows)
        update_many(ExternalRef, ["content_hash", "synced_at"], hash_updates)

    insert_many(AuditEntry, ["object_type", "object_id", "action", "user_id", "source", "at",
                             "changes"], audit_rows)
    insert_many(OutboxEvent, ["topic", "object_type", "object_id", "payload", "created_at"],
                event_rows)
    return results


def _column(model: type[models.Model], attname: str) -> str:
    return next(f.column for f in model._meta.concrete_fields if f.attname == attname)


def _insert_columns(model: type[models.Model]
                    ) -> tuple[list[str], list[str], dict[str, Any]]:
    """(attnames, columns, defaults) of every concrete field but the pk."""
    attnames, columns, defaults = [], [], {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        attnames.append(f.attname)
        columns.append(f.column)
        defaults[f.attname] = f.get_default() if f.has_default() else (
            None if f.null else "" if isinstance(f, models.CharField | models.TextField)
            else None)
    return attnames, columns, defaults

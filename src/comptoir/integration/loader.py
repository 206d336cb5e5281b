"""The loader: applies mapped batches to the domain tables through the bulk upsert.

Each batch is one transaction holding the records' writes (with their audit entries, outbox
events and external references), the quarantined records, the tombstones, the run's counts and
the stream's new cursor: a run killed at any point leaves either the whole batch or none of it,
and the next run resumes after the last committed cursor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models, transaction
from django.db.models import F, Max
from django.utils import timezone

from comptoir.activities.bulk import ACTIVITY_BULK
from comptoir.core.bulk import BulkSpec, bulk_upsert, content_hash
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.core.services import json_value
from comptoir.crm.bulk import ACCOUNT_BULK, CONTACT_BULK, LEAD_BULK, OPPORTUNITY_BULK
from comptoir.quality.dedupe import OBJECT_TYPES, batch_candidates
from comptoir.quality.profiles import bulk_check
from comptoir.sales.bulk import (
    PRICE_LIST_BULK,
    PRICE_LIST_ITEM_BULK,
    PRODUCT_BULK,
    SALES_DOCUMENT_BULK,
)
from comptoir.service.bulk import CASE_BULK

from .engine.core import Batch, Record
from .engine.errors import PermanentError
from .engine.mapping import StreamMapping
from .models import Connection, FieldIssue, QuarantinedRecord, StreamState, SyncRun

SPECS: dict[str, BulkSpec] = {spec.object_type: spec for spec in (
    ACCOUNT_BULK, CONTACT_BULK, PRODUCT_BULK, PRICE_LIST_BULK, PRICE_LIST_ITEM_BULK,
    SALES_DOCUMENT_BULK, LEAD_BULK, OPPORTUNITY_BULK, ACTIVITY_BULK, CASE_BULK)}


def target_fields() -> dict[str, set[str]]:
    """What a mapping may write, per target: the bulk fields, parents by external id; rows a
    record owns (a document's lines, an account's addresses, identifiers and channels) under
    ``<target>.<key>``."""
    out: dict[str, set[str]] = {}
    for name, spec in SPECS.items():
        names = {f for f in spec.fields if f != "custom"}
        names |= {a.removesuffix("_id") + "_external_id" for a in spec.external_fks}
        names |= set(spec.inputs)  # a deal's stage by name, the owner by username
        out[name] = names
        for children in spec.children:
            rows = set(children.fields) - children.computed
            rows |= {a.removesuffix("_id") + "_external_id" for a in children.external_fks}
            out[f"{name}.{children.key}"] = rows
    return out


Parser = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, list[str]]]]


def _checker(f: models.Field) -> Callable[[Any], Any]:
    """A value check for one field, raising ValidationError like ``Field.clean``.

    Plain text fields (most of a record) take a fast path: a string and its length, with
    Django's own length message; everything else goes through ``Field.clean`` (choices,
    numbers, dates, validators).
    """
    text = isinstance(f, models.CharField | models.TextField)
    if isinstance(f, models.ForeignKey):
        target = f.target_field
        return lambda value: None if value in (None, "") else target.to_python(value)
    only_length = all(isinstance(v, MaxLengthValidator) for v in f.validators)
    if text and not f.choices and only_length and type(f) in (models.CharField,
                                                                models.TextField):
        limit = f.max_length
        length_check = MaxLengthValidator(limit) if limit else None

        def check_text(value: Any) -> Any:
            if value is None:
                return "" if not f.null else None
            value = value if isinstance(value, str) else str(value)
            if length_check is not None and len(value) > limit:  # type: ignore[operator]
                length_check(value)
            return value

        return check_text

    # A file's date-time without a zone is local time, as a form reads it (a naive one would
    # fail the reminder's computation and be stored with a warning).
    aware = isinstance(f, models.DateTimeField) and settings.USE_TZ

    def check(value: Any) -> Any:
        if value is None and not f.null:
            return "" if text else None
        if value in (None, ""):
            return value
        cleaned = f.clean(value, None)
        if aware and isinstance(cleaned, dt.datetime) and timezone.is_naive(cleaned):
            cleaned = timezone.make_aware(cleaned)
        return cleaned

    return check


def field_parser(model: type[models.Model], names: set[str]) -> Parser:
    """Type and check values with the model fields' own rules (choices, lengths, numbers).

    Foreign keys are only typed here; their existence is checked set-based by the upsert.
    """
    checks = {f.attname: _checker(f) for f in model._meta.concrete_fields if f.attname in names}

    def parse(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        out: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key, value in record.items():
            check = checks.get(key)
            if check is None:
                out[key] = value
                continue
            try:
                out[key] = check(value)
            except ValidationError as exc:
                errors[key] = list(exc.messages)
        return out, errors

    return parse


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    matched: int = 0  # of the updated and unchanged: new external ids linked to a duplicate
    dropped: int = 0  # invalid optional values left out of records that landed
    changes: list[dict[str, Any]] = field(default_factory=list)  # dry runs: what would change
    matches: list[dict[str, Any]] = field(default_factory=list)  # which record, why

    NAMES = ("read", "created", "updated", "unchanged", "deleted", "quarantined", "matched",
             "dropped")

    def add(self, other: Counts) -> None:
        for name in self.NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.changes.extend(other.changes)
        self.matches.extend(other.matches[:MATCH_LIMIT - len(self.matches)])

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.NAMES}


def _reason(errors: dict[str, Any]) -> str:
    # fields sharing a message (a profile's "an e-mail or a phone") are said once
    said: dict[str, list[str]] = {}
    for k, v in errors.items():
        said.setdefault(" ".join(v) if isinstance(v, list) else str(v), []).append(k)
    if len(errors) == 1:  # the field is shown beside the reason (``field``): not twice
        return next(iter(said))
    return "; ".join(f"{', '.join(names)}: {message}" for message, names in said.items())


def _quarantine(run: SyncRun, stream: str, record: Record, *, external_id: str,
                errors: dict[str, Any], reason: str = "", discard: bool = False
                ) -> QuarantinedRecord:
    first_field = next(iter(errors), "") if errors else ""
    return QuarantinedRecord(
        connection_id=run.connection_id, run=run, stream=stream, external_id=external_id[:120],
        position=record.position[:120], payload=json_safe(record.data), field=first_field[:120],
        reason=reason or _reason(errors),
        errors={k: v if isinstance(v, list) else [str(v)] for k, v in errors.items()},
        status=QuarantinedRecord.Status.DISCARDED if discard else QuarantinedRecord.Status.OPEN,
    )


def json_safe(value: Any) -> Any:
    """A JSON-safe copy, all the way down: a document's lines hold Decimals and dates, and a
    quarantined record must be stored whatever the other system sent."""
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    value = json_value(value)
    if value is None or isinstance(value, str | int | bool | float):
        return value
    return str(value)


def _store_quarantine(run: SyncRun, rows: list[QuarantinedRecord]) -> None:
    """Keep one open row per record: a record read again while still in quarantine updates
    its row (payload, reason, run) instead of being stored twice."""
    if not rows:
        return
    keyed = {(r.stream, r.external_id): r for r in rows
             if r.external_id and r.status == QuarantinedRecord.Status.OPEN}
    existing: dict[tuple[str, str], QuarantinedRecord] = {}
    for stream in {s for s, _e in keyed}:
        ids = [e for s, e in keyed if s == stream]
        for chunk in (ids[n:n + 500] for n in range(0, len(ids), 500)):
            for row in QuarantinedRecord.objects.filter(
                    connection_id=run.connection_id, stream=stream, external_id__in=chunk,
                    status=QuarantinedRecord.Status.OPEN).order_by("id"):
                existing.setdefault((row.stream, row.external_id), row)
    fresh: list[QuarantinedRecord] = []
    updated: list[QuarantinedRecord] = []
    for row in rows:
        old = existing.get((row.stream, row.external_id))
        if old is None or keyed.get((row.stream, row.external_id)) is not row:
            fresh.append(row)
            continue
        for name in ("run", "position", "payload", "field", "reason", "errors"):
            setattr(old, name, getattr(row, name))
        updated.append(old)
    QuarantinedRecord.objects.bulk_create(fresh)
    if updated:
        QuarantinedRecord.objects.bulk_update(
            updated, ["run", "position", "payload", "field", "reason", "errors"])


DIFF_LIMIT = 200  # changes a dry run shows
MATCH_LIMIT = 200  # matches a run's details list
COMPARE = "-"  # a content hash no record has: reconciliation compares every record
PASSES = 4  # bulk passes per batch: values are checked in stages (types, rules, links)


@dataclass
class _Pending:
    """A mapped record on its way to the bulk upsert, with the values left out of it."""

    record: Record
    data: dict[str, Any]
    dropped: dict[str, tuple[Any, str]] = field(default_factory=dict)  # field: (raw, reason)
    digest: str | None = None  # the content hash of the record as read, once values dropped


class Loader:
    """Applies one stream mapping's share of each batch (see ``apply_batch``)."""

    def __init__(self, run: SyncRun, connection: Connection, system: str,
                 mapping: StreamMapping, *, user: Any = None, dry_run: bool = False,
                 compare: bool = False) -> None:
        self.run, self.connection, self.system = run, connection, system
        # Reconciliation: every record is compared with the CRM (no content-hash shortcut)
        # and its outcome kept, inside a transaction the caller rolls back.
        self.compare = compare
        self.outcomes: list[dict[str, Any]] = []
        self.name, self.mapping, self.user, self.dry_run = mapping.name, mapping, user, dry_run
        try:
            self.spec = SPECS[mapping.target]
        except KeyError:
            raise PermanentError(f"No loader for target {mapping.target!r}.") from None
        self.parse = field_parser(self.spec.model, set(self.spec.fields))
        object_type = self.spec.object_type
        self.match = (partial(batch_candidates, object_type)
                      if mapping.match == "sure" and object_type in OBJECT_TYPES else None)
        self.check = bulk_check(object_type, mapping.profile) if mapping.profile else None
        # dry runs: the last audit entry already shown (none of those before the run)
        self._diff_after = (AuditEntry.objects.aggregate(last=Max("id"))["last"] or 0
                            if dry_run else 0)
        self._diff_count = 0

    def _triage(self, pending: _Pending, errors: dict[str, Any]) -> dict[str, Any]:
        """Leave out the bad values the mapping lets go (``on_invalid``); returns the errors
        that still quarantine the record (all of them as soon as one may not be dropped, so
        the quarantine lists every problem). ``stop`` fails the run."""
        policies = {key: self.mapping.invalid_policy(key) for key in errors}
        stops = [key for key, policy in policies.items() if policy == "stop"]
        if stops:
            key = stops[0]
            raw = self.mapping.raw_value(key, pending.record)
            message = errors[key]
            message = " ".join(message) if isinstance(message, list) else str(message)
            raise PermanentError(
                f"{self.name} {pending.record.position or pending.record.key}: {key} "
                f"{json_safe(raw)!r}: {message} (the mapping says on_invalid = \"stop\").")
        if any(p != "drop_field" for p in policies.values()) or \
                any(key.split(".", 1)[0] not in pending.data and key not in pending.data
                    for key in errors):
            return errors
        if pending.digest is None:
            pending.digest = content_hash({k: v for k, v in pending.data.items()
                                           if k != "external_id"})
        for key, messages in errors.items():
            raw = self.mapping.raw_value(key, pending.record)
            if raw is None:
                raw = pending.data.get(key)
            text = " ".join(messages) if isinstance(messages, list) else str(messages)
            pending.dropped[key] = (raw, text)
            pending.data.pop(key, None)
        return {}

    def apply(self, records: list[Record], quarantined: list[QuarantinedRecord]) -> Counts:
        """Map, check and write ``records`` (inside the caller's transaction)."""
        counts = Counts()
        queue: list[_Pending] = []
        tombstones: list[str] = []
        discard = self.mapping.on_error == "skip"
        queued: dict[str, dict[str, Any]] = {}  # external id → data, this batch

        def reject(pending: _Pending, errors: dict[str, Any], reason: str = "") -> None:
            quarantined.append(_quarantine(
                self.run, self.name, pending.record, external_id=pending.data.get(
                    "external_id", pending.record.key) or "", errors=errors, reason=reason,
                discard=discard))
            counts.quarantined += 1
            if self.compare:
                self.outcomes.append({"external_id": quarantined[-1].external_id,
                                      "status": "quarantined", "data": pending.data,
                                      "field": quarantined[-1].field,
                                      "reason": quarantined[-1].reason})

        for record in records:
            if record.deleted:
                with contextlib.suppress(ValueError):  # a key this mapping never loaded
                    tombstones.append(self.mapping.normalise_key(record.key))
                continue
            ext, data, errors = self.mapping.apply(record)
            pending = _Pending(record, data)
            pending.data["external_id"] = ext
            if record.error is not None:
                reject(pending, {}, record.error)
                continue
            if errors and self._triage(pending, errors):
                reject(pending, errors)
                continue
            # A parent named by several rows of a flat file (a company by its contacts or
            # deals) comes again with the same data: written once, the others unchanged.
            # Different data under one id stays an error ("Sent twice in this call").
            if queued.get(ext) == pending.data:
                counts.unchanged += 1
                continue
            queued.setdefault(ext, pending.data)
            queue.append(pending)
        stored = self._stored_hashes(queue)
        loaded: list[tuple[_Pending, int]] = []
        for attempt in range(PASSES):
            if not queue:
                break
            results = bulk_upsert(self.spec, system=self.system,
                                  records=[p.data for p in queue], user=self.user,
                                  source=f"sync:{self.connection.name}", parse=self.parse,
                                  match=self.match, check=self.check,
                                  content_hashes=[COMPARE if self.compare else p.digest
                                                  for p in queue])
            retry: list[_Pending] = []
            for pending, result in zip(queue, results, strict=True):
                if result.status == "error":
                    refused = (self._triage(pending, result.errors)
                               if attempt < PASSES - 1 else result.errors)
                    if refused:
                        reject(pending, refused)
                    else:
                        retry.append(pending)
                    continue
                setattr(counts, result.status, getattr(counts, result.status) + 1)
                if result.id is not None:
                    loaded.append((pending, result.id))
                if self.compare:
                    self.outcomes.append({
                        "external_id": result.external_id, "status": result.status,
                        "object_id": result.id, "data": pending.data,
                        "matched": result.matched, "dropped": dict(pending.dropped)})
                if result.matched is not None:
                    counts.matched += 1
                    if len(counts.matches) < MATCH_LIMIT:
                        counts.matches.append({"stream": self.name,
                                               "external_id": result.external_id,
                                               **result.matched})
            queue = retry
        if loaded:
            counts.dropped += self._record_issues(loaded, stored)
        if self.dry_run:
            counts.changes.extend(self._changes_written())
        if tombstones:
            counts.deleted += self.tombstone(tombstones)
        if counts.quarantined and self.mapping.on_error == "stop":
            raise PermanentError(
                f"{counts.quarantined} record(s) of {self.name} rejected and the mapping says "
                f"on_error = \"stop\"; first: {quarantined[-counts.quarantined].reason}")
        return counts

    def _stored_hashes(self, queue: list[_Pending]) -> dict[str, str]:
        """The content hash each record had at the last run: a record read again unchanged
        is not validated again, so its left-out values stay as they were recorded."""
        found: dict[str, str] = {}
        keys = [str(p.data["external_id"]) for p in queue]
        for n in range(0, len(keys), 1000):
            found.update(ExternalRef.objects.filter(
                system=self.system, object_type=self.spec.object_type,
                external_id__in=keys[n:n + 1000]).values_list("external_id", "content_hash"))
        return found

    def _record_issues(self, loaded: list[tuple[_Pending, int]], stored: dict[str, str]) -> int:
        """Open, update or resolve the left-out values of the records that landed, and close
        their quarantine (fixed at the source). Returns how many values were left out."""
        now = timezone.now()
        fresh = []
        for pending, obj_id in loaded:
            ext = str(pending.data["external_id"])
            digest = pending.digest or content_hash(
                {k: v for k, v in pending.data.items() if k != "external_id"})
            if stored.get(ext) != digest:
                fresh.append((ext, obj_id, pending))
        if not fresh:
            return 0
        keys = [ext for ext, _o, _p in fresh]
        closed = (QuarantinedRecord.Status.REPLAYED
                  if self.run.trigger == SyncRun.Trigger.REPLAY
                  else QuarantinedRecord.Status.RESOLVED)
        current: dict[tuple[str, str], FieldIssue] = {}
        for n in range(0, len(keys), 500):
            chunk = keys[n:n + 500]
            QuarantinedRecord.objects.filter(
                connection_id=self.connection.pk, stream=self.name, external_id__in=chunk,
                status=QuarantinedRecord.Status.OPEN).update(status=closed, resolved_at=now)
            for issue in FieldIssue.objects.filter(connection_id=self.connection.pk,
                                                   stream=self.name, external_id__in=chunk):
                current[(issue.external_id, issue.field)] = issue
        create: list[FieldIssue] = []
        update: list[FieldIssue] = []
        dropped = 0
        for ext, obj_id, pending in fresh:
            for name, (raw, reason) in pending.dropped.items():
                dropped += 1
                text = "" if raw is None else str(json_safe(raw))
                found = current.pop((ext, name), None)
                if found is None:
                    create.append(FieldIssue(
                        connection_id=self.connection.pk, stream=self.name, external_id=ext,
                        object_type=self.spec.object_type, object_id=obj_id, field=name[:120],
                        value=text, reason=reason, first_run=self.run, last_run=self.run))
                    continue
                found.object_id, found.value, found.reason = obj_id, text, reason
                found.status, found.resolved_at, found.last_run = "open", None, self.run
                found.updated_at = now
                update.append(found)
        for (ext, _name), issue in current.items():  # the value is valid again, or gone
            if issue.status == FieldIssue.Status.OPEN and ext in keys:
                issue.status, issue.resolved_at, issue.last_run = "resolved", now, self.run
                issue.updated_at = now
                update.append(issue)
        FieldIssue.objects.bulk_create(create)
        if update:
            FieldIssue.objects.bulk_update(update, ["object_id", "value", "reason", "status",
                                                    "resolved_at", "last_run", "updated_at"])
        return dropped

    def tombstone(self, keys: list[str]) -> int:
        """Mark the references of records deleted at the source, and the records themselves
        where they carry the mark (``erp_deleted_at``): the local records stay."""
        now = timezone.now()
        refs = ExternalRef.objects.filter(system=self.system, object_type=self.spec.object_type,
                                          external_id__in=keys, deleted_at__isnull=True)
        found = list(refs.values_list("id", "object_id"))
        if not found:
            return 0
        ExternalRef.objects.filter(id__in=[i for i, _o in found]).update(deleted_at=now)
        marked = _mark_deleted(self.spec.model, [obj for _i, obj in found], now)
        source = f"sync:{self.connection.name}"
        AuditEntry.objects.bulk_create([AuditEntry(
            object_type=self.spec.object_type, object_id=obj, action=AuditEntry.Action.TOMBSTONE,
            source=source, at=now, changes={"system": [self.system, None],
                                            **marked.get(obj, {})}) for _i, obj in found])
        OutboxEvent.objects.bulk_create([OutboxEvent(
            topic=f"{self.spec.object_type}.deleted_externally", object_type=self.spec.object_type,
            object_id=obj, payload={"system": self.system, "source": source}, created_at=now)
            for _i, obj in found])
        return len(found)

    def _changes_written(self) -> list[dict[str, Any]]:
        """The audit entries this loader wrote since it last looked: a dry run's diff (rolled
        back afterwards), the first ``DIFF_LIMIT`` of them."""
        room = DIFF_LIMIT - self._diff_count
        if room <= 0:
            return []
        rows = list(AuditEntry.objects.filter(
            source=f"sync:{self.connection.name}", object_type=self.spec.object_type,
            id__gt=self._diff_after).order_by("id").values(
            "id", "object_type", "object_id", "action", "changes")[:room])
        if rows:
            self._diff_after = rows[-1]["id"]
        self._diff_count += len(rows)
        return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def _mark_deleted(model: type[models.Model], ids: list[int], now: Any
                  ) -> dict[int, dict[str, list[Any]]]:
    """Flag records deleted at the source (``erp_deleted_at``, ``active`` off; a customer
    becomes a former customer), returning each one's changes for its audit entry."""
    names = {f.attname for f in model._meta.concrete_fields}
    if "erp_deleted_at" not in names:
        return {}
    wanted = ["pk", *(n for n in ("active", "status") if n in names)]
    changes: dict[int, dict[str, list[Any]]] = {}
    manager = model._default_manager
    for row in manager.filter(pk__in=ids, erp_deleted_at__isnull=True).values(*wanted):
        change: dict[str, list[Any]] = {"erp_deleted_at": [None, now.isoformat()]}
        if row.get("active"):
            change["active"] = [True, False]
        if row.get("status") == "customer":
            change["status"] = ["customer", "former"]
        changes[row["pk"]] = change
    if not changes:
        return {}
    marked = manager.filter(pk__in=list(changes))
    bump = {"version": F("version") + 1} if "version" in names else {}
    if "updated_at" in names:
        bump["updated_at"] = now
    marked.update(erp_deleted_at=now, **bump)
    if "active" in names:
        marked.update(active=False)
    if "status" in names:
        marked.filter(status="customer").update(status="former")
    return changes


def apply_batch(run: SyncRun, connection: Connection, stream: str, loaders: list[Loader],
                batch: Batch) -> Counts:
    """One transaction: each record to the mappings it matches (in mapping order, so parents
    load before children), the quarantine, the run's counts and the stream's new cursor."""
    counts = Counts(read=len(batch.records))
    quarantined: list[QuarantinedRecord] = []
    with transaction.atomic():
        for index, loader in enumerate(loaders):
            mine = [r for r in batch.records
                    if r.deleted or (r.error is not None and index == 0)
                    or (r.error is None and loader.mapping.matches(r))]
            if mine:
                part = loader.apply(mine, quarantined)
                part.read = 0
                counts.add(part)
        _store_quarantine(run, quarantined)
        cursor = batch.cursor
        if cursor is not None:
            StreamState.objects.update_or_create(connection=connection, stream=stream,
                                                 defaults={"cursor": cursor})
        SyncRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now(), read=F("read") + counts.read,
            created=F("created") + counts.created, updated=F("updated") + counts.updated,
            unchanged=F("unchanged") + counts.unchanged, deleted=F("deleted") + counts.deleted,
            quarantined=F("quarantined") + counts.quarantined,
            matched=F("matched") + counts.matched, dropped=F("dropped") + counts.dropped)
    return counts

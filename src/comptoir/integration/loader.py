"""The loader: applies mapped batches to the domain tables through the bulk upsert.

Each batch is one transaction holding the records' writes (with their audit entries, outbox
events and external references), the quarantined records, the tombstones, the run's counts and
the stream's new cursor: a run killed at any point leaves either the whole batch or none of it,
and the next run resumes after the last committed cursor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models, transaction
from django.db.models import F, Max
from django.utils import timezone

from comptoir.core.bulk import BulkSpec, bulk_upsert
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.core.services import json_value
from comptoir.crm.bulk import ACCOUNT_BULK, CONTACT_BULK
from comptoir.quality.dedupe import OBJECT_TYPES, batch_candidates
from comptoir.quality.profiles import bulk_check
from comptoir.sales.bulk import (
    PRICE_LIST_BULK,
    PRICE_LIST_ITEM_BULK,
    PRODUCT_BULK,
    SALES_DOCUMENT_BULK,
)

from .engine.core import Batch, Record
from .engine.errors import PermanentError
from .engine.mapping import StreamMapping
from .models import Connection, QuarantinedRecord, StreamState, SyncRun

SPECS: dict[str, BulkSpec] = {spec.object_type: spec for spec in (
    ACCOUNT_BULK, CONTACT_BULK, PRODUCT_BULK, PRICE_LIST_BULK, PRICE_LIST_ITEM_BULK,
    SALES_DOCUMENT_BULK)}


def target_fields() -> dict[str, set[str]]:
    """What a mapping may write, per target: the bulk fields, parents by external id; rows a
    record owns (a document's lines) under ``<target>.<key>``."""
    out: dict[str, set[str]] = {}
    for name, spec in SPECS.items():
        names = {f for f in spec.fields if f != "custom"}
        names |= {a.removesuffix("_id") + "_external_id" for a in spec.external_fks}
        out[name] = names
        children = spec.children
        if children is not None:
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

    def check(value: Any) -> Any:
        if value is None and not f.null:
            return "" if text else None
        if value in (None, ""):
            return value
        return f.clean(value, None)

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
    changes: list[dict[str, Any]] = field(default_factory=list)  # dry runs: what would change
    matches: list[dict[str, Any]] = field(default_factory=list)  # which record, why

    NAMES = ("read", "created", "updated", "unchanged", "deleted", "quarantined", "matched")

    def add(self, other: Counts) -> None:
        for name in self.NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.changes.extend(other.changes)
        self.matches.extend(other.matches[:MATCH_LIMIT - len(self.matches)])

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.NAMES}


def _quarantine(run: SyncRun, stream: str, record: Record, *, external_id: str,
                errors: dict[str, Any], reason: str = "", discard: bool = False
                ) -> QuarantinedRecord:
    first_field = next(iter(errors), "") if errors else ""
    if not reason:
        # fields sharing a message (a profile's "an e-mail or a phone") are said once
        said: dict[str, list[str]] = {}
        for k, v in errors.items():
            said.setdefault(" ".join(v) if isinstance(v, list) else str(v), []).append(k)
        reason = "; ".join(f"{', '.join(names)}: {message}" for message, names in said.items())
    return QuarantinedRecord(
        connection_id=run.connection_id, run=run, stream=stream, external_id=external_id[:120],
        position=record.position[:120], payload=_json_safe(record.data), field=first_field[:120],
        reason=reason, errors={k: v if isinstance(v, list) else [str(v)]
                               for k, v in errors.items()},
        status=QuarantinedRecord.Status.DISCARDED if discard else QuarantinedRecord.Status.OPEN,
    )


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    return {str(k): json_value(v) for k, v in data.items()}


DIFF_LIMIT = 200  # changes a dry run shows
MATCH_LIMIT = 200  # matches a run's details list


class Loader:
    """Applies one stream mapping's share of each batch (see ``apply_batch``)."""

    def __init__(self, run: SyncRun, connection: Connection, system: str,
                 mapping: StreamMapping, *, user: Any = None, dry_run: bool = False) -> None:
        self.run, self.connection, self.system = run, connection, system
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

    def apply(self, records: list[Record], quarantined: list[QuarantinedRecord]) -> Counts:
        """Map, check and write ``records`` (inside the caller's transaction)."""
        counts = Counts()
        to_load: list[tuple[Record, dict[str, Any]]] = []
        tombstones: list[str] = []
        discard = self.mapping.on_error == "skip"
        for record in records:
            if record.deleted:
                with contextlib.suppress(ValueError):  # a key this mapping never loaded
                    tombstones.append(self.mapping.normalise_key(record.key))
                continue
            ext, data, errors = self.mapping.apply(record)
            if errors:
                reason = record.error or ""
                quarantined.append(_quarantine(self.run, self.name, record, external_id=ext,
                                               errors={} if reason else errors, reason=reason,
                                               discard=discard))
                counts.quarantined += 1
                continue
            data["external_id"] = ext
            to_load.append((record, data))
        if to_load:
            results = bulk_upsert(self.spec, system=self.system,
                                  records=[d for _r, d in to_load], user=self.user,
                                  source=f"sync:{self.connection.name}", parse=self.parse,
                                  match=self.match, check=self.check)
            for (record, data), result in zip(to_load, results, strict=True):
                if result.status == "error":
                    quarantined.append(_quarantine(self.run, self.name, record,
                                                   external_id=data["external_id"],
                                                   errors=result.errors, discard=discard))
                    counts.quarantined += 1
                else:
                    setattr(counts, result.status, getattr(counts, result.status) + 1)
                if result.matched is not None:
                    counts.matched += 1
                    if len(counts.matches) < MATCH_LIMIT:
                        counts.matches.append({"stream": self.name,
                                               "external_id": result.external_id,
                                               **result.matched})
            if self.dry_run:
                counts.changes.extend(self._changes_written())
        if tombstones:
            counts.deleted += self.tombstone(tombstones)
        if counts.quarantined and self.mapping.on_error == "stop":
            raise PermanentError(
                f"{counts.quarantined} record(s) of {self.name} rejected and the mapping says "
                f"on_error = \"stop\"; first: {quarantined[-counts.quarantined].reason}")
        return counts

    def tombstone(self, keys: list[str]) -> int:
        """Mark the references of records deleted at the source; the local records stay."""
        now = timezone.now()
        refs = ExternalRef.objects.filter(system=self.system, object_type=self.spec.object_type,
                                          external_id__in=keys, deleted_at__isnull=True)
        found = list(refs.values_list("id", "object_id"))
        if not found:
            return 0
        ExternalRef.objects.filter(id__in=[i for i, _o in found]).update(deleted_at=now)
        source = f"sync:{self.connection.name}"
        AuditEntry.objects.bulk_create([AuditEntry(
            object_type=self.spec.object_type, object_id=obj, action=AuditEntry.Action.TOMBSTONE,
            source=source, at=now, changes={"system": [self.system, None]}) for _i, obj in found])
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
        QuarantinedRecord.objects.bulk_create(quarantined)
        cursor = batch.cursor
        if cursor is not None:
            StreamState.objects.update_or_create(connection=connection, stream=stream,
                                                 defaults={"cursor": cursor})
        SyncRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now(), read=F("read") + counts.read,
            created=F("created") + counts.created, updated=F("updated") + counts.updated,
            unchanged=F("unchanged") + counts.unchanged, deleted=F("deleted") + counts.deleted,
            quarantined=F("quarantined") + counts.quarantined,
            matched=F("matched") + counts.matched)
    return counts

"""Bulk upsert by external id: the fast, honest write path for integrations (I1, I14).

One call takes up to 10,000 records of one object type from one ``system``. Each record is
matched to a local row through ``ExternalRef``; a content hash recognises records sent again
unchanged, which are neither re-validated nor rewritten. New and changed records go through the
domain's own field rules (``BulkSpec.clean``), then through set-based SQL in one transaction
with their audit entries, outbox events and references. Every record gets a result: created,
updated, unchanged or error (with field messages); an invalid record never blocks the others
and never half-writes.

Two options serve data quality (I8, I11), both given by the caller so this module stays free of
the quality app:

* ``match`` finds existing records that a new record (an external id never seen) surely
  duplicates. With one candidate (or one clearly ahead) not yet linked to another external id
  of the same system, the external id is linked to it and the record applied as an update of
  it: result ``matched`` says to which record, with the score and the shared keys, and so does
  the audit entry. Candidates that tie are not guessed between: the record is an error naming
  them.
* ``check`` (a validation profile) judges each record as it would be stored (a new one with
  its defaults, a changed one merged with its current values); a record failing it is an error
  with field messages and is not written.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import connection, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import AuditEntry, ExternalRef, OutboxEvent
from .services import clean_custom_fields, custom_field_definitions, json_value
from .sql import insert_many, insert_returning, update_many

Errors = dict[str, list[str]]
Cleaner = Callable[[dict[str, Any]], tuple[dict[str, Any], Errors]]
Preparer = Callable[[list[dict[str, Any]], Any], None]


class MatchCandidate(Protocol):
    """An existing record a new one may duplicate (``quality.dedupe.Candidate``)."""

    id: int
    score: float
    keys: list[str]


# records (cleaned, foreign keys resolved) -> their sure candidates each, best first
Matcher = Callable[[list[dict[str, Any]]], Sequence[Sequence[MatchCandidate]]]
Checker = Callable[[dict[str, Any]], Errors]
# (user, [(record, its local id, its current row)]) -> errors by position; see BulkSpec.finish
Finisher = Callable[[Any, list[tuple[dict[str, Any], int | None, dict[str, Any] | None]]],
                    dict[int, Errors]]
MATCH_MARGIN = 10.0  # a candidate this many points ahead of the next one is clearly the one


@dataclass
class ChildRows:
    """Rows a record owns and that travel with it: a document's lines, an account's addresses.

    The record carries them as a list under ``key``; they are part of its content hash, checked
    with ``clean`` (errors keyed ``lines.3.quantity``), completed by ``complete`` once their
    parents' and products' ids are known, and replaced as a whole when they change, so the
    lines of a document are always the ones the other system last sent. A record sent without
    the list leaves its rows as they are.
    """

    key: str
    model: type[models.Model]
    parent: str  # attname of the foreign key to the owning record ("document_id")
    fields: list[str]  # attnames written, in the order compared and stored
    clean: Callable[[list[dict[str, Any]]], tuple[list[dict[str, Any]], Errors]]
    external_fks: dict[str, str] = field(default_factory=dict)  # attname -> object type
    # (parent record, its rows) pairs, completed in place; returns errors by record position
    complete: Callable[[list[tuple[dict[str, Any], list[dict[str, Any]]]]],
                       dict[int, Errors]] | None = None
    computed: frozenset[str] = frozenset()  # fields ``complete`` fills, never sent


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
    derived_fields: list[str] = field(default_factory=list)  # what ``derived`` may set
    external_fks: dict[str, str] = field(default_factory=dict)  # attname -> object type
    # fields unique in the table, alone ("code") or together (("kind", "number"))
    unique: list[str | tuple[str, ...]] = field(default_factory=list)
    # the lists of rows a record owns, each under its own key (each compared, replaced and
    # audited on its own)
    children: tuple[ChildRows, ...] = ()
    # Spellings turned into stored values before anything else reads a new or changed record
    # (a status by its French or English label); no database access.
    coerce: Cleaner | None = None
    # Keys a record may carry beside ``fields``, resolved and removed by ``finish`` (a deal's
    # stage by name, the owner by username).
    inputs: tuple[str, ...] = ()
    # The domain's cross-field rules and rights, the service's own, for the records about to
    # be written: new ones (local id and current row None) once their defaults are in, changed
    # ones beside their current row (``fields`` sent, ``read_fields`` and ``derived_fields``).
    # It completes the records in place (defaults, derived values) and returns the errors by
    # position; a record with errors is not written.
    finish: Finisher | None = None
    # ``finish`` checks each record against the single-record rights, so anyone may bulk-load
    # (a rep their own leads); without it, bulk loading is for data managers and admins.
    per_record_rights: bool = False
    read_fields: list[str] = field(default_factory=list)
    defaulted: frozenset[str] = frozenset()  # required columns ``finish`` fills when not sent
    # (record, new id) pairs once inserted, completed in place before their audit (a number
    # made of the id)
    after_create: Callable[[list[tuple[dict[str, Any], int]]], None] | None = None


@dataclass
class BulkResult:
    index: int
    external_id: str
    status: str  # created | updated | unchanged | error
    id: int | None = None
    errors: Errors = field(default_factory=dict)
    # linked to an existing record by duplicate detection: {"id", "score", "keys"}
    matched: dict[str, Any] | None = None


def folded(text: str) -> str:
    """Case, accents and surrounding spaces aside: "Qualifié " and "qualifie" are one."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def choice_coercer(model: type[models.Model], names: Sequence[str]) -> Cleaner:
    """A ``BulkSpec.coerce`` taking each choice field of ``names`` by its stored value or by
    its label in any of the site's languages ("Qualifié", "Qualified", "qualified"), so a file
    from another CRM names its picklist values as people read them. An unknown value is an
    error of its field listing the accepted values; an empty one is left to the field's rules.
    """
    fields = {f.attname: f for f in model._meta.concrete_fields
              if f.attname in names and f.choices}
    known: dict[str, dict[str, str]] = {}

    def table(name: str) -> dict[str, str]:
        if name not in known:
            spellings: dict[str, str] = {}
            for code, _label in fields[name].flatchoices:
                spellings[folded(str(code))] = str(code)
            for language, _name in settings.LANGUAGES:
                with translation.override(language):
                    for code, label in fields[name].flatchoices:
                        spellings.setdefault(folded(str(label)), str(code))
            known[name] = spellings
        return known[name]

    def coerce(record: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
        errors: Errors = {}
        for name in fields:
            value = record.get(name)
            if not isinstance(value, str) or not value.strip():
                continue
            code = table(name).get(folded(value))
            if code is None:
                errors[name.removesuffix("_id")] = [
                    _("Unknown value “%(value)s”: choose one of %(choices)s.")
                    % {"value": value, "choices": ", ".join(
                        str(c) for c, _l in fields[name].flatchoices)}]
            else:
                record[name] = code
        return record, errors

    return coerce


def content_hash(record: Mapping[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


@cache
def _max_lengths(model: type[models.Model]) -> dict[str, int]:
    """name -> max_length of every bounded text column of ``model``."""
    return {f.attname: f.max_length for f in model._meta.concrete_fields
            if isinstance(f, models.CharField) and f.max_length}


def _length_errors(model: type[models.Model], record: Mapping[str, Any], errors: Errors) -> None:
    """A text longer than its column is an error of that field (SQLite would store it; other
    databases fail the whole batch), in Django's own words."""
    for name, limit in _max_lengths(model).items():
        value = record.get(name)
        if isinstance(value, str) and len(value) > limit:
            try:
                MaxLengthValidator(limit)(value)
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)


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


def _check_child_fks(children: ChildRows, system: str,
                     staged: list[tuple[int, dict[str, Any]]],
                     kids: dict[int, list[dict[str, Any]]], results: list[BulkResult]) -> None:
    """Resolve the rows' ``<fk>_external_id`` and check every foreign key exists, set-based."""
    mine = [(i, n, row) for i, _r in staged for n, row in enumerate(kids.get(i) or [])]
    for attname, object_type in children.external_fks.items():
        key = attname.removesuffix("_id") + "_external_id"
        wanted = sorted({str(row[key]) for _i, _n, row in mine if row.get(key)})
        refs = _load_refs(system, object_type, wanted) if wanted else {}
        for i, n, row in mine:
            ext = row.pop(key, None)
            if not ext:
                continue
            if str(ext) in refs:
                row[attname] = refs[str(ext)][1]
            else:
                results[i].errors.setdefault(f"{children.key}.{n}.{key}", []).append(
                    _("No record with this external id in %(system)s.") % {"system": system})
    for attname, target in _fk_targets(children.model, children.fields).items():
        if attname == children.parent:
            continue
        wanted_ids = {row[attname] for _i, _n, row in mine if row.get(attname) is not None}
        existing: set[Any] = set()
        for chunk in _chunks(sorted(wanted_ids)):
            existing |= set(target._default_manager.filter(pk__in=chunk)
                            .values_list("pk", flat=True))
        for i, n, row in mine:
            value = row.get(attname)
            if value is not None and value not in existing:
                results[i].errors.setdefault(
                    f"{children.key}.{n}.{attname.removesuffix('_id')}", []).append(
                    _("Unknown id %(id)s.") % {"id": value})


def _check_unique(spec: BulkSpec, staged: list[tuple[int, dict[str, Any]]],
                  results: list[BulkResult], own: dict[int, int] | None = None
                  ) -> list[tuple[int, dict[str, Any]]]:
    """A record may not take a unique value (or combination) held by another record, nor one
    sent twice in the call. ``own`` maps the position of a changed record to its local id:
    its current row is not a conflict, and the parts of a combination it does not send are
    read from it."""
    own = own or {}
    model = spec.model
    for unique in spec.unique:
        names = (unique,) if isinstance(unique, str) else tuple(unique)
        touched = [(i, r) for i, r in staged if any(n in r for n in names)]
        if not touched:
            continue
        partial = [own[i] for i, r in touched if i in own and not all(n in r for n in names)]
        current: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(partial):
            for row in model._default_manager.filter(pk__in=chunk).values("pk", *names):
                current[row.pop("pk")] = row
        wanted: dict[int, tuple[Any, ...]] = {}
        for i, r in touched:
            base = current.get(own.get(i, -1), {})
            value = tuple(r.get(n, base.get(n)) for n in names)
            if all(v not in (None, "") for v in value):
                wanted[i] = value
        holders: dict[tuple[Any, ...], set[int]] = defaultdict(set)
        first = names[0]
        for chunk in _chunks(sorted({v[0] for v in wanted.values()}, key=str)):
            for row in model._default_manager.filter(**{f"{first}__in": chunk}).values(
                    "pk", *names):
                holders[tuple(row[n] for n in names)].add(row["pk"])
        seen: set[tuple[Any, ...]] = set()
        label = names[-1]
        for i, value in wanted.items():
            others = holders.get(value, set()) - {own.get(i)}
            if others or value in seen:
                shown = value[-1] if len(value) == 1 else " / ".join(map(str, value))
                results[i].errors.setdefault(label, []).append(
                    _("Already used by another record: %(value)s.") % {"value": shown})
            seen.add(value)
    return [(i, r) for i, r in staged if not results[i].errors]


def _rows_equal(children: ChildRows, before: list[dict[str, Any]],
                after: list[dict[str, Any]]) -> bool:
    if len(before) != len(after):
        return False
    return all(b.get(name) == a.get(name) for b, a in zip(before, after, strict=True)
               for name in children.fields if name != children.parent)


def _current_children(children: ChildRows, parent_ids: Sequence[int]
                      ) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    order = [f for f in ("position", "pk") if f == "pk" or f in children.fields]
    for chunk in _chunks(list(parent_ids)):
        for row in (children.model._default_manager.filter(**{f"{children.parent}__in": chunk})
                    .order_by(children.parent, *order).values(*children.fields,
                                                               children.parent)):
            found[row[children.parent]].append(row)
    return found


def _json_rows(children: ChildRows, rows: list[dict[str, Any]] | None) -> Any:
    if rows is None:
        return None
    return [{k: json_value(row.get(k)) for k in children.fields if k != children.parent}
            for row in rows]


def _write_children(children: ChildRows, by_parent: dict[int, list[dict[str, Any]]],
                    replace: bool) -> None:
    if not by_parent:
        return
    if replace:
        for chunk in _chunks(list(by_parent)):
            children.model._default_manager.filter(
                **{f"{children.parent}__in": chunk}).delete()
    attnames, columns, defaults = _insert_columns(children.model)
    rows = []
    for parent_id, kids in by_parent.items():
        for row in kids:
            values = {**defaults, **row, children.parent: parent_id}
            rows.append([values.get(a) for a in attnames])
    insert_many(children.model, columns, rows)


def _linked(system: str, object_type: str, object_ids: Sequence[int]) -> set[int]:
    """Those of ``object_ids`` already mirroring a (live) record of ``system``."""
    out: set[int] = set()
    for chunk in _chunks(sorted(set(object_ids))):
        out |= set(ExternalRef.objects.filter(
            system=system, object_type=object_type, object_id__in=chunk,
            deleted_at__isnull=True).values_list("object_id", flat=True))
    return out


def _match_existing(spec: BulkSpec, system: str, new: list[tuple[int, dict[str, Any]]],
                    results: list[BulkResult], match: Matcher
                    ) -> tuple[list[tuple[int, dict[str, Any]]], dict[int, int]]:
    """Split new records into those still new and those linked to an existing record
    (position -> local id). A candidate already linked to another external id of the same
    system mirrors another record there and is never taken; nor is one taken by an earlier
    record of the call. Sure candidates within ``MATCH_MARGIN`` of the best one: ambiguous."""
    found = match([r for _i, r in new])
    linked = _linked(system, spec.object_type, [c.id for cands in found for c in cands])
    still_new: list[tuple[int, dict[str, Any]]] = []
    own: dict[int, int] = {}
    claimed: set[int] = set()
    for (i, r), cands in zip(new, found, strict=True):
        free = sorted((c for c in cands if c.id not in linked and c.id not in claimed),
                      key=lambda c: (-c.score, c.id))
        if not free:
            still_new.append((i, r))
            continue
        best = free[0]
        tied = [c for c in free if best.score - c.score < MATCH_MARGIN]
        if len(tied) > 1:
            results[i].errors["external_id"] = [
                _("Ambiguous match: %(ids)s are all sure duplicates of this record; merge them "
                  "or link it by hand.") % {"ids": ", ".join(f"#{c.id}" for c in tied)}]
            continue
        claimed.add(best.id)
        own[i] = best.id
        results[i].matched = {"id": best.id, "score": best.score, "keys": list(best.keys)}
    return still_new, own


@transaction.atomic
def bulk_upsert(spec: BulkSpec, *, system: str, records: Sequence[Mapping[str, Any]],
                user: Any, source: str = "bulk", parse: Cleaner | None = None,
                match: Matcher | None = None, check: Checker | None = None,
                content_hashes: Sequence[str | None] | None = None) -> list[BulkResult]:
    """Create, update or skip each record by its ``external_id``; see the module docstring.

    ``parse`` checks a record's shape and types (the API's schema) before the domain rules; it
    runs only on records that are new or changed, so a re-sent batch costs one hash each.
    ``match`` links new records to the existing ones they surely duplicate; ``check`` (a
    validation profile) refuses records that would be stored with gaps. ``content_hashes``
    (one per record, None for the computed one) stands for a record's content when the caller
    sends less than it read (a sync leaving an invalid value out), so the same source record
    read again is recognised as unchanged.
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
        _length_errors(ExternalRef, {"external_id": ext}, results[i].errors)
        if results[i].errors:
            continue
        if ext in seen:
            results[i].errors["external_id"] = [_("Sent twice in this call.")]
            continue
        seen.add(ext)
        given = content_hashes[i] if content_hashes is not None else None
        incoming.append((i, ext, record, given or content_hash(record)))

    hashes = {i: digest for i, _e, _r, digest in incoming}
    refs = _load_refs(system, spec.object_type, [ext for _i, ext, _r, _h in incoming])
    required = [f for f in _required_fields(spec.model, spec.fields) if f not in spec.defaulted]
    custom_defs = custom_field_definitions(spec.object_type) if "custom" in spec.fields else {}
    new: list[tuple[int, dict[str, Any]]] = []
    changed: list[tuple[int, dict[str, Any]]] = []
    # child key -> record position -> its rows, when the record sent that list
    kids: dict[str, dict[int, list[dict[str, Any]]]] = {c.key: {} for c in spec.children}
    for i, ext, record, digest in incoming:
        ref = refs.get(ext)
        if ref is not None and ref[2] == digest:
            results[i].status, results[i].id = "unchanged", ref[1]
            continue
        if spec.coerce is not None:
            record, errors = spec.coerce(record)
            if errors:
                results[i].errors = errors
                continue
        if parse is not None:
            record, errors = parse(record)
            if errors:
                results[i].errors = errors
                continue
        sent = {c.key: record.pop(c.key, None) for c in spec.children}
        cleaned, errors = spec.clean(record)
        _length_errors(spec.model, cleaned, errors)
        for children in spec.children:
            listed = sent[children.key]
            if listed is None:
                continue
            if isinstance(listed, list) and all(isinstance(row, dict) for row in listed):
                kids[children.key][i], row_errors = children.clean(listed)
                errors.update(row_errors)
            else:
                errors[children.key] = [_("Expected a list of rows.")]
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
    for children in spec.children:
        mine = kids[children.key]
        if not mine:
            continue
        with_rows = [(i, r) for i, r in new + changed if i in mine and not results[i].errors]
        _check_child_fks(children, system, with_rows, mine, results)
        with_rows = [(i, r) for i, r in with_rows if not results[i].errors]
        if children.complete is not None and with_rows:
            problems = children.complete([(r, mine[i]) for i, r in with_rows])
            for position, errors in problems.items():
                results[with_rows[position][0]].errors.update(errors)
    new = [(i, r) for i, r in new if not results[i].errors]
    matched: dict[int, int] = {}  # position -> the existing record a new one was linked to
    if match is not None and new:
        pending = dict(new)
        new, matched = _match_existing(spec, system, new, results, match)
        changed += [(i, pending[i]) for i in matched]
    new = _check_unique(spec, new, results)
    # the local record of each changed one: by its reference, or the one it was matched to
    own = {i: matched[i] if i in matched else refs[results[i].external_id][1]
           for i, _r in changed}
    changed = _check_unique(spec, [(i, r) for i, r in changed if not results[i].errors],
                            results, own)

    audit_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []

    def remember(obj_id: int, action: str, changes: dict[str, list[Any]]) -> None:
        audit_rows.append((spec.object_type, obj_id, action, user_id, source, now, changes))
        event_rows.append((f"{spec.object_type}.{action}d", spec.object_type, obj_id,
                           {"changes": changes, "user_id": user_id, "source": source}, now))

    # --- new rows ------------------------------------------------------------------------
    if new:  # defaults first: a profile judges the record as it will be stored
        if spec.prepare_new is not None:
            spec.prepare_new([r for _i, r in new], user)
        if spec.derived is not None:
            for _i, r in new:
                r.update(spec.derived(r))
        attnames, columns, defaults = _insert_columns(spec.model)
        if spec.finish is not None:
            problems = spec.finish(user, [(r, None, None) for _i, r in new])
            for position, errors in problems.items():
                if errors:
                    i = new[position][0]
                    results[i].status, results[i].errors = "error", errors
            new = [(i, r) for i, r in new if not results[i].errors]
        if check is not None:
            new = [(i, r) for i, r in new if not _refused(check, {**defaults, **r}, results[i])]
        rows = []
        for _i, r in new:
            values = {**defaults, **r, "created_at": now, "updated_at": now}
            rows.append([values.get(a) for a in attnames])
        ids = insert_returning(spec.model, columns, rows)
        if spec.after_create is not None:
            spec.after_create([(r, obj_id) for (_i, r), obj_id in zip(new, ids, strict=True)])
        ref_rows = []
        new_kids: dict[str, dict[int, list[dict[str, Any]]]] = {c.key: {}
                                                                for c in spec.children}
        for (i, r), obj_id in zip(new, ids, strict=True):
            results[i].status, results[i].id = "created", obj_id
            changes = {k: [None, json_value(v)] for k, v in r.items() if v not in (None, "", {})}
            for children in spec.children:
                child_rows = kids[children.key].get(i)
                if child_rows:
                    new_kids[children.key][obj_id] = child_rows
                    changes[children.key] = [None, _json_rows(children, child_rows)]
            remember(obj_id, "create", changes)
            ref_rows.append((system, spec.object_type, results[i].external_id, obj_id,
                             hashes[i], now))
        for children in spec.children:
            _write_children(children, new_kids[children.key], replace=False)
        insert_many(ExternalRef, ["system", "object_type", "external_id", "object_id",
                                  "content_hash", "synced_at"], ref_rows)

    # --- changed rows ----------------------------------------------------------------------
    if changed:
        current: dict[int, dict[str, Any]] = {}
        names = sorted(({k for _i, r in changed for k in r} - set(spec.inputs))
                       | set(spec.derived_fields) | set(spec.read_fields)
                       | (set(spec.fields) if check is not None else set()))
        # Locked until the batch commits (PostgreSQL; SQLite's write lock is already held), in
        # id order so two batches never deadlock: a concurrent edit is merged, not overwritten.
        for chunk in _chunks(sorted(set(own.values()))):
            locked = spec.model._default_manager.filter(pk__in=chunk)
            if connection.in_atomic_block:
                locked = locked.select_for_update()
            for row in locked.order_by("pk").values("pk", *names):
                current[row.pop("pk")] = row
        groups: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
        hash_updates = []
        ref_rows = []
        stamped = any(f.attname == "updated_at" for f in spec.model._meta.concrete_fields)
        rows_before: dict[str, dict[int, list[dict[str, Any]]]] = {}
        for children in spec.children:
            sent_rows = [own[i] for i, _r in changed if i in kids[children.key]]
            rows_before[children.key] = (_current_children(children, sent_rows)
                                         if sent_rows else {})
        replaced: dict[str, dict[int, list[dict[str, Any]]]] = {c.key: {}
                                                               for c in spec.children}
        refused: dict[int, Errors] = {}
        if spec.finish is not None:
            present = [(i, r) for i, r in changed if own[i] in current]
            problems = spec.finish(user, [(r, own[i], dict(current[own[i]]))
                                          for i, r in present])
            refused = {present[p][0]: e for p, e in problems.items() if e}
        for i, r in changed:
            obj_id = own[i]
            before = current.get(obj_id)
            results[i].id = obj_id
            if i not in matched and i not in refused:  # refused: checked again when re-sent
                hash_updates.append([hashes[i], now, refs[results[i].external_id][0]])
            if before is None:  # deleted locally since: recreate is the sync's call, not ours
                results[i].status = "error"
                results[i].errors = {"external_id": [_("The linked record no longer exists.")]}
                results[i].matched = None
                continue
            if i in refused:
                results[i].status, results[i].errors = "error", refused[i]
                results[i].matched = None
                continue
            if "custom" in r:
                r["custom"] = {**(before.get("custom") or {}), **r["custom"]}
            merged = {**before, **r}
            if spec.derived is not None:
                r.update(spec.derived(merged))
            if check is not None and _refused(check, {**merged, **r}, results[i]):
                if i not in matched:  # refused: sent again unchanged, it is checked again
                    hash_updates.pop()
                continue
            diff = {k: [json_value(before.get(k)), json_value(v)] for k, v in r.items()
                    if json_value(before.get(k)) != json_value(v)}
            for children in spec.children:
                child_rows = kids[children.key].get(i)
                if child_rows is None:
                    continue
                old_rows = rows_before[children.key].get(obj_id, [])
                if not _rows_equal(children, old_rows, child_rows):
                    replaced[children.key][obj_id] = child_rows
                    diff[children.key] = [_json_rows(children, old_rows),
                                          _json_rows(children, child_rows)]
            link = results[i].matched
            if link is not None:  # the link is a change of its own, said with its reasons
                ref_rows.append((system, spec.object_type, results[i].external_id, obj_id,
                                 hashes[i], now))
                remember(obj_id, "update", {**diff, "matched": [None, {
                    "system": system, "external_id": results[i].external_id, **link}]})
            if not diff:
                results[i].status = "unchanged"
                continue
            results[i].status = "updated"
            cols = tuple(sorted(k for k in r if k in diff))
            groups[cols].append([r[c] for c in cols] + ([now] if stamped else []) + [obj_id])
            if link is None:
                remember(obj_id, "update", diff)
        for cols, rows in groups.items():
            if cols or stamped:
                update_many(spec.model, [_column(spec.model, c) for c in cols]
                            + (["updated_at"] if stamped else []), rows)
        for children in spec.children:
            _write_children(children, replaced[children.key], replace=True)
        update_many(ExternalRef, ["content_hash", "synced_at"], hash_updates)
        insert_many(ExternalRef, ["system", "object_type", "external_id", "object_id",
                                  "content_hash", "synced_at"], ref_rows)

    insert_many(AuditEntry, ["object_type", "object_id", "action", "user_id", "source", "at",
                             "changes"], audit_rows)
    insert_many(OutboxEvent, ["topic", "object_type", "object_id", "payload", "created_at"],
                event_rows)
    return results


def _refused(check: Checker, record: dict[str, Any], result: BulkResult) -> bool:
    """Run a profile check on a record as it would be stored; its gaps become its errors."""
    errors = check(record)
    if errors:
        result.status, result.errors, result.matched = "error", errors, None
    return bool(errors)


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

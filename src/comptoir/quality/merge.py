"""Merging duplicates (I7, I8): survivorship, preview, set-based moves, undo of the last merge.

A merge keeps one record (the *survivor*) and folds the others (the *losers*) into it:

1. **Survivorship** picks each field's value among all the records. Fields another system (the
   ERP) masters come from the record that system owns, whatever else says; the rest follow a
   rule per field — ``recent`` (most recently updated non-empty value, the default),
   ``survivor``, ``oldest``, a precedence list of values (an opt-out beats an opt-in), or
   ``follow:<field>`` (from the record the other field came from). Rules are configurable in
   the ``COMPTOIR_MERGE_RULES`` setting; a user may also pick a field's source record, except
   for fields the ERP masters. :func:`merge_preview` shows the result field by field with its
   source, and what will move, before anything is written.
2. **Every related record moves** to the survivor with one ``UPDATE`` per relation (for a bulk
   merge, one per relation for all the groups): every foreign key pointing at the model
   (contacts, opportunities, activities, cases, sales documents, attachments, child accounts,
   converted leads…) and the references kept by (object type, id) — external references and
   follows. A row the survivor already has an equivalent of (a follow by the same user) is
   dropped instead, and kept in the merge log.
3. The losers are deleted, each with an audit entry and a ``deleted`` event naming the
   survivor; their own audit trail stays. The survivor gets an ``update`` entry for the fields
   that changed and a ``merge`` entry listing the records it absorbed.
4. :class:`MergeRecord` keeps the survivor's previous values, the losers as they were and the
   ids of every row moved, so :func:`merge_undo` restores the records exactly (a field changed
   again since the merge keeps its new value).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from comptoir.core.models import AuditEntry, OutboxEvent
from comptoir.core.services import json_value, record_change, tracked_fields, update_record
from comptoir.crm.models import Account, Contact, Lead

from . import identifiers
from .models import DuplicatePair, MergeRecord
from .ownership import erp_linked, owned_fields

MERGEABLE: dict[str, type[models.Model]] = {"account": Account, "contact": Contact,
                                            "lead": Lead}
# Fields computed from others: recomputed, never chosen.
DERIVED = {"account": frozenset({"normalized_name"})}
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "account": {"default": "recent", "fields": {
        "owner_id": "survivor", "territory_id": "survivor", "parent_id": "survivor",
        "status": ["customer", "former", "prospect"],
    }},
    "contact": {"default": "recent", "fields": {
        "account_id": "survivor", "owner_id": "survivor",
        "marketing_consent": ["opt_out", "opt_in", "unknown"],  # an opt-out is never lost
        "consent_date": "follow:marketing_consent",
        "consent_source": "follow:marketing_consent",
    }},
    "lead": {"default": "recent", "fields": {
        "owner_id": "survivor",
        "status": ["converted", "qualified", "working", "new", "disqualified"],
    }},
}
# (app label, model) of rows that name a record by (object_type, object_id).
GENERIC_REFERENCES: list[tuple[str, str]] = [("core", "ExternalRef"), ("feeds", "Follow")]
# Domain rows whose move is audited (they are records users see in their history).
_AUDITED = {
    "crm.account": "account", "crm.contact": "contact", "crm.lead": "lead",
    "crm.opportunity": "opportunity", "activities.activity": "activity",
    "service.case": "case", "sales.salesdocument": "salesdocument",
    "documents.attachment": "attachment",
}
MAX_GROUP = 50  # records merged into one at a time


def register_generic_reference(app_label: str, model_name: str) -> None:
    """Another app's rows that name records by ``object_type``/``object_id`` and must follow
    a merge (feeds, search, plugins)."""
    if (app_label, model_name) not in GENERIC_REFERENCES:
        GENERIC_REFERENCES.append((app_label, model_name))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def merge_rules(object_type: str) -> dict[str, Any]:
    """Default rule and per-field rules: the defaults, then ``COMPTOIR_MERGE_RULES``."""
    base = DEFAULT_RULES.get(object_type, {"default": "recent", "fields": {}})
    override = (getattr(settings, "COMPTOIR_MERGE_RULES", None) or {}).get(object_type) or {}
    return {"default": override.get("default", base["default"]),
            "fields": {**base["fields"], **(override.get("fields") or {})}}


# --- Relations ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Relation:
    """Rows pointing at a merged record: a foreign key, or a generic (type, id) reference."""

    model: type[models.Model]
    attname: str
    generic: bool = False

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.attname}"

    @property
    def title(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    def rows(self, object_type: str, ids: Iterable[int]) -> models.QuerySet[Any]:
        qs = self.model._default_manager.filter(**{f"{self.attname}__in": list(ids)})
        return qs.filter(object_type=object_type) if self.generic else qs

    def unique_others(self) -> list[tuple[str, ...]]:
        """For each uniqueness rule including the pointer: the other columns (attnames)."""
        meta = self.model._meta
        sets: list[tuple[str, ...]] = [tuple(c.fields) for c in meta.total_unique_constraints]
        sets += [tuple(u) for u in meta.unique_together]
        pointer: Any = meta.get_field(self.attname)
        if getattr(pointer, "unique", False) and not pointer.primary_key:
            sets.append((pointer.name,))
        out = []
        for names in sets:
            attnames = [getattr(meta.get_field(n), "attname", n) for n in names]
            if self.attname in attnames:
                out.append(tuple(a for a in attnames
                                 if a != self.attname and not (self.generic
                                                               and a == "object_type")))
        return out


def relations(model: type[models.Model]) -> list[Relation]:
    """Every relation whose rows must follow a merged record of ``model``."""
    out: list[Relation] = []
    for f in model._meta.get_fields(include_hidden=True):
        if f.is_relation and f.auto_created and not f.concrete and (f.one_to_many
                                                                    or f.one_to_one):
            remote = f.field  # type: ignore[union-attr]
            if remote.model._meta.app_label == "quality":
                continue
            out.append(Relation(remote.model, remote.attname))
    for app_label, model_name in GENERIC_REFERENCES:
        try:
            ref_model = apps.get_model(app_label, model_name)
        except LookupError:
            continue
        names = {f.name for f in ref_model._meta.concrete_fields}
        if {"object_type", "object_id"} <= names:
            out.append(Relation(ref_model, "object_id", generic=True))
    return out


# --- Survivorship ---------------------------------------------------------------------------

@dataclass
class FieldPlan:
    """One field of the survivor-to-be: its value, which record it comes from, and why."""

    field: str
    value: Any
    source_id: int
    rule: str
    options: list[tuple[int, Any]] = dc_field(default_factory=list)  # distinct non-empty values

    @property
    def differs(self) -> bool:
        return len({repr(v) for _i, v in self.options}) > 1


@dataclass
class MergePlan:
    object_type: str
    survivor: models.Model
    losers: list[models.Model]
    fields: dict[str, FieldPlan]
    changes: dict[str, list[Any]]  # survivor's {field: [before, after]}
    related: dict[str, int] = dc_field(default_factory=dict)  # relation label -> rows to move
    warnings: list[str] = dc_field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [int(self.survivor.pk), *(int(r.pk) for r in self.losers)]


def _stamp(record: models.Model, name: str) -> dt.datetime:
    value = getattr(record, name, None)
    return value or dt.datetime.min.replace(tzinfo=dt.UTC)


def _owned(name: str, owned: set[str]) -> bool:
    return name in owned or name.removesuffix("_id") in owned


def _choose(rule: Any, name: str, records: list[models.Model], survivor: models.Model,
            sources: Mapping[str, int]) -> tuple[models.Model, str]:
    """The record a field's value comes from, under ``rule``."""
    by_id = {r.pk: r for r in records}
    filled = [r for r in records if not _empty(getattr(r, name))]
    if isinstance(rule, list | tuple):
        rank = {v: i for i, v in enumerate(rule)}
        best = min(records, key=lambda r: (rank.get(getattr(r, name), len(rank)),
                                           r is not survivor))
        return best, "precedence"
    if isinstance(rule, str) and rule.startswith("follow:"):
        other = rule.split(":", 1)[1]
        if other in sources:
            return by_id[sources[other]], rule
        rule = "recent"
    if not filled:
        return survivor, "empty"
    if rule == "survivor":
        if not _empty(getattr(survivor, name)):
            return survivor, "survivor"
        rule = "recent"
    if rule == "oldest":
        return min(filled, key=lambda r: (_stamp(r, "created_at"), r is not survivor)), "oldest"
    return max(filled, key=lambda r: (_stamp(r, "updated_at"), r is survivor)), "recent"


def _plan_fields(object_type: str, survivor: models.Model, losers: list[models.Model],
                 owned: Mapping[int, set[str]], choices: Mapping[str, int]
                 ) -> dict[str, FieldPlan]:
    model = type(survivor)
    records = [survivor, *losers]
    by_id = {int(r.pk): r for r in records}
    rules = merge_rules(object_type)
    names = [n for n in tracked_fields(model) if n not in DERIVED.get(object_type, ())
             and n != "custom"]
    # follow: rules need their leader's source first
    names.sort(key=lambda n: str(rules["fields"].get(n, "")).startswith("follow:"))
    plans: dict[str, FieldPlan] = {}
    sources: dict[str, int] = {}
    bad_choices: dict[str, list[str]] = {}
    for name in names:
        options = [(int(r.pk), json_value(getattr(r, name))) for r in records
                   if not _empty(getattr(r, name))]
        erp = [r for r in records if _owned(name, owned.get(int(r.pk), set()))]
        if erp:
            # the ERP's value, even empty: its next sync would overwrite anything else
            source = survivor if survivor in erp else max(erp, key=lambda r: _stamp(
                r, "updated_at"))
            how = "erp"
            if name in choices and int(choices[name]) != int(source.pk):
                bad_choices[name] = [_("This field is managed in the ERP: its value is kept.")]
        elif name in choices:
            chosen = by_id.get(int(choices[name]))
            if chosen is None:
                bad_choices[name] = [_("Choose one of the records being merged.")]
                continue
            source, how = chosen, "chosen"
        else:
            source, how = _choose(rules["fields"].get(name, rules["default"]), name, records,
                                  survivor, sources)
        sources[name] = int(source.pk)
        plans[name] = FieldPlan(name, getattr(source, name), int(source.pk),
                                how, options)
    if bad_choices:
        raise ValidationFailed(_("Some choices cannot be applied."), fields=bad_choices)
    merged_ids = set(by_id)
    for name in ("parent_id",):
        plan = plans.get(name)
        if plan is not None and plan.value in merged_ids:
            others = [r for r in records if getattr(r, name) not in merged_ids | {None}]
            plan.value = getattr(others[0], name) if others else None
            plan.source_id = int(others[0].pk) if others else int(survivor.pk)
            plan.rule = "outside the merge"
    return plans


def _merged_custom(survivor: models.Model, losers: list[models.Model]) -> dict[str, Any]:
    """Custom field values: each from the most recently updated record that has it."""
    out: dict[str, Any] = {}
    for record in sorted([survivor, *losers], key=lambda r: (_stamp(r, "updated_at"),
                                                             r is survivor)):
        for key, value in (getattr(record, "custom", None) or {}).items():
            if not _empty(value):
                out[key] = value
    return out


def _load(object_type: str, survivor_id: int, loser_ids: Sequence[int], user: Any,
          ) -> tuple[models.Model, list[models.Model]]:
    model = MERGEABLE.get(object_type)
    if model is None:
        raise ValidationFailed(_("Only accounts, contacts and leads can be merged."),
                               fields={"object": [_("Choose account, contact or lead.")]})
    losers_ = [int(i) for i in dict.fromkeys(loser_ids) if int(i) != int(survivor_id)]
    if not losers_:
        raise ValidationFailed(_("Choose at least one record to merge into the survivor."),
                               fields={"loser_ids": [_("Give other records than the survivor.")]})
    if len(losers_) >= MAX_GROUP:
        raise ValidationFailed(_("At most %(n)d records can be merged into one at a time.")
                               % {"n": MAX_GROUP - 1}, fields={"loser_ids": [_("Too many.")]})
    found = {r.pk: r for r in policy.restrict(
        model._default_manager.filter(pk__in=[survivor_id, *losers_]), user)}
    missing = [i for i in [survivor_id, *losers_] if i not in found]
    if missing:
        raise NotFound(_("Not found, or you cannot see it: %(ids)s")
                       % {"ids": ", ".join(map(str, missing))})
    if not policy.can(user, "change", found[survivor_id]):
        raise Forbidden(_("You may not change the record that would absorb the others."))
    deletable = policy.restrict(model._default_manager.filter(pk__in=losers_), user,
                                "delete").count()
    if deletable < len(losers_):
        raise Forbidden(_("Merging deletes the merged records: only their owners, their "
                          "managers and data managers may merge them."))
    survivor, losers = found[survivor_id], [found[i] for i in losers_]
    if object_type == "contact" and any(r.account_id != survivor.account_id
                                        for r in losers):
        raise ValidationFailed(
            _("Contacts of different accounts cannot be merged: merge their accounts first, "
              "or move the contact."), fields={"loser_ids": [_("Another account's contact.")]})
    return survivor, losers


def _plan(object_type: str, survivor: models.Model, losers: list[models.Model],
          choices: Mapping[str, int] | None, owned: Mapping[int, set[str]],
          linked: set[int]) -> MergePlan:
    plans = _plan_fields(object_type, survivor, losers, owned, choices or {})
    changes: dict[str, list[Any]] = {}
    for name, plan in plans.items():
        before, after = json_value(getattr(survivor, name)), json_value(plan.value)
        if before != after:
            changes[name] = [before, after]
    if object_type == "account" and "legal_name" in changes:
        key = identifiers.normalize_name(str(plans["legal_name"].value or ""))
        if key != survivor.normalized_name:  # type: ignore[attr-defined]
            changes["normalized_name"] = [survivor.normalized_name, key]  # type: ignore[attr-defined]
    custom = _merged_custom(survivor, losers)
    if custom != (getattr(survivor, "custom", None) or {}):
        changes["custom"] = [getattr(survivor, "custom", None) or {}, custom]
    result = MergePlan(object_type, survivor, losers, plans, changes)
    ids = [int(r.pk) for r in losers]
    if len(linked & set(result.ids)) > 1:
        result.warnings.append(_("Several of these records come from another system (the "
                                 "ERP): merge them there too, or its next sync may split "
                                 "them again."))
    for relation in relations(type(survivor)):
        count = relation.rows(object_type, ids).count()
        if count:
            result.related[relation.label] = count
    return result


def merge_preview(*, object_type: str, survivor_id: int, loser_ids: Sequence[int], user: Any,
                  choices: Mapping[str, int] | None = None) -> MergePlan:
    """What the survivor will look like, field by field with its source, and what moves."""
    survivor, losers = _load(object_type, survivor_id, loser_ids, user)
    ids = [int(survivor.pk), *(int(r.pk) for r in losers)]
    return _plan(object_type, survivor, losers, choices, owned_fields(object_type, ids),
                 erp_linked(object_type, ids))


def suggest_survivor(object_type: str, ids: Sequence[int]) -> int:
    """The record to keep when nobody chose: the one the ERP knows, then a customer, then
    the oldest."""
    model = MERGEABLE[object_type]
    linked = erp_linked(object_type, ids)
    rows = list(model._default_manager.filter(pk__in=ids))
    if not rows:
        raise NotFound(_("Not found, or you cannot see it."))
    best = min(rows, key=lambda r: (r.pk not in linked,
                                    getattr(r, "status", "") != "customer",
                                    _stamp(r, "created_at"), r.pk))
    return int(best.pk)


# --- Writing a merge ------------------------------------------------------------------------

@dataclass
class _Group:
    plan: MergePlan
    moved: list[list[Any]] = dc_field(default_factory=list)
    dropped: list[list[Any]] = dc_field(default_factory=list)


def _row_values(model: type[models.Model], obj_values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: json_value(v) for k, v in obj_values.items()}


def _move_related(object_type: str, groups: list[_Group], user: Any, source: str) -> None:
    """One UPDATE per relation (and chunk) for every group: loser → its survivor."""
    if not groups:
        return
    model = type(groups[0].plan.survivor)
    survivor_of: dict[int, int] = {}
    merged: set[int] = set()
    group_of: dict[int, _Group] = {}
    for group in groups:
        ids = group.plan.ids
        merged.update(ids)
        for loser in ids[1:]:
            survivor_of[loser] = ids[0]
            group_of[loser] = group
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    for relation in relations(model):
        qs = relation.rows(object_type, survivor_of)
        if relation.model is model:  # child records: never re-point a merged record itself
            qs = qs.exclude(pk__in=merged)
        others = relation.unique_others()
        columns = ["pk", relation.attname, *{c for cols in others for c in cols}]
        rows = list(qs.values(*columns).order_by("pk"))
        if not rows:
            continue
        drop: list[int] = []
        if others:
            taken: dict[tuple[Any, ...], set[tuple[Any, ...]]] = defaultdict(set)
            survivors = set(survivor_of.values())
            existing = relation.rows(object_type, survivors).values(relation.attname,
                                                                      *{c for cols in others
                                                                        for c in cols})
            for row in existing:
                for cols in others:
                    taken[cols].add((row[relation.attname], *(row[c] for c in cols)))
            for row in rows:
                target = survivor_of[row[relation.attname]]
                keys = [(cols, (target, *(row[c] for c in cols))) for cols in others]
                if any(key in taken[cols] for cols, key in keys):
                    drop.append(row["pk"])
                    continue
                for cols, key in keys:
                    taken[cols].add(key)
        if drop:
            full = relation.model._default_manager.filter(pk__in=drop).values()
            for values in full:
                group_of[values[relation.attname]].dropped.append(
                    [relation.model._meta.label_lower, _row_values(relation.model, values)])
            relation.model._default_manager.filter(pk__in=drop).delete()
        dropped = set(drop)
        moving: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            if row["pk"] not in dropped:
                moving[row[relation.attname]].append(row["pk"])
        if not moving:
            continue
        for loser, pks in moving.items():
            group_of[loser].moved.append([relation.model._meta.label_lower, relation.attname,
                                          loser, pks])
        losers = list(moving)
        for start in range(0, len(losers), 500):
            chunk = losers[start:start + 500]
            new_value = Case(*[When(**{relation.attname: loser},
                                    then=Value(survivor_of[loser])) for loser in chunk],
                             output_field=models.BigIntegerField())
            pks = [pk for loser in chunk for pk in moving[loser]]
            for at in range(0, len(pks), 5000):
                relation.model._default_manager.filter(pk__in=pks[at:at + 5000]).update(
                    **{relation.attname: new_value})
        audited = _AUDITED.get(relation.model._meta.label_lower)
        if audited and not relation.generic:
            _audit_moves(audited, relation.attname, moving, survivor_of, user_id, source)


def _audit_moves(object_type: str, attname: str, moving: Mapping[int, list[int]],
                 target: Mapping[int, int], user_id: int | None, source: str) -> None:
    entries, events = [], []
    for loser, pks in moving.items():
        change = {attname: [loser, target[loser]]}
        for pk in pks:
            entries.append(AuditEntry(object_type=object_type, object_id=pk, action="update",
                                      user_id=user_id, source=source, changes=change))
            events.append(OutboxEvent(topic=f"{object_type}.updated", object_type=object_type,
                                      object_id=pk, payload={"changes": change,
                                                             "user_id": user_id,
                                                             "source": source}))
    AuditEntry.objects.bulk_create(entries, batch_size=2000)
    OutboxEvent.objects.bulk_create(events, batch_size=2000)


def _snapshot_all(record: models.Model) -> dict[str, Any]:
    return {f.attname: json_value(getattr(record, f.attname))
            for f in record._meta.concrete_fields}


@transaction.atomic
def merge_many(*, object_type: str, groups: Sequence[tuple[int, Sequence[int]]], user: Any,
               choices: Mapping[int, Mapping[str, int]] | None = None,
               source: str = "app") -> list[MergeRecord]:
    """Merge several groups ``(survivor id, [loser ids])`` at once.

    Each survivor is updated through the domain's write path (validation, ERP-owned fields
    guard, audit, event); the related rows of all groups move with one ``UPDATE`` per
    relation, and all the losers are deleted in one statement.
    """
    seen: set[int] = set()
    loaded: list[tuple[models.Model, list[models.Model]]] = []
    for survivor_id, loser_ids in groups:
        survivor, losers = _load(object_type, int(survivor_id), loser_ids, user)
        ids = {int(survivor.pk), *(int(r.pk) for r in losers)}
        if ids & seen:
            raise ValidationFailed(_("A record appears in two merges at once."),
                                   fields={"groups": [_("Each record in one group only.")]})
        seen |= ids
        loaded.append((survivor, losers))
    all_ids = sorted(seen)
    owned = owned_fields(object_type, all_ids)
    linked = erp_linked(object_type, all_ids)
    plans = [_plan(object_type, s, ls, (choices or {}).get(int(s.pk)), owned, linked)
             for s, ls in loaded]
    work = [_Group(plan) for plan in plans]
    loser_snapshots = {int(r.pk): _snapshot_all(r) for p in plans for r in p.losers}
    # 1. the survivors take their merged values (before references move: the ERP guard
    #    judges a survivor by the references it had)
    for plan in plans:
        data = {k: v[1] for k, v in plan.changes.items()}
        if data:
            values = {k: plan.fields[k].value if k in plan.fields else v
                      for k, v in data.items()}
            update_record(plan.survivor, values, object_type=object_type, user=user,
                          source=f"merge:{source}"[:40])
    # 2. every related row follows
    _move_related(object_type, work, user, f"merge:{source}"[:40])
    # 3. the losers go, each with its audit entry and event
    model = MERGEABLE[object_type]
    loser_ids = [i for p in plans for i in p.ids[1:]]
    try:
        with transaction.atomic():
            model._default_manager.filter(pk__in=loser_ids).delete()
    except (models.ProtectedError, IntegrityError) as exc:
        raise Conflict(_("A merged record is still used by something that cannot move: "
                         "%(e)s") % {"e": exc}) from exc
    records: list[MergeRecord] = []
    now = timezone.now()
    for group in work:
        plan = group.plan
        survivor_id = plan.ids[0]
        for loser in plan.losers:
            snap = loser_snapshots[int(loser.pk)]
            changes = {k: [v, None] for k, v in snap.items() if not _empty(v) and k != "id"}
            changes["merged_into"] = [None, survivor_id]
            record_change(object_type=object_type, instance=loser, action="delete", user=user,
                          changes=changes, source=f"merge:{source}"[:40])
        record_change(object_type=object_type, instance=plan.survivor, action="merge",
                      user=user, changes={"merged": [None, plan.ids[1:]]},
                      source=f"merge:{source}"[:40])
        pairs = list(DuplicatePair.objects.filter(
            object_type=object_type, left_id__in=plan.ids, right_id__in=plan.ids)
            .values_list("id", "status"))
        DuplicatePair.objects.filter(pk__in=[p for p, _s in pairs]).update(
            status=DuplicatePair.Status.MERGED, decided_at=now,
            decided_by=user if getattr(user, "is_authenticated", False) else None)
        records.append(MergeRecord(
            object_type=object_type, survivor_id=survivor_id, loser_ids=plan.ids[1:],
            user=user if getattr(user, "is_authenticated", False) else None, source=source,
            survivor_changes=plan.changes,
            losers={str(int(r.pk)): loser_snapshots[int(r.pk)] for r in plan.losers},
            moved=group.moved, dropped=group.dropped, pair_ids=[list(p) for p in pairs]))
    return MergeRecord.objects.bulk_create(records)


def merge_records(*, object_type: str, survivor_id: int, loser_ids: Sequence[int], user: Any,
                  choices: Mapping[str, int] | None = None, source: str = "app"
                  ) -> MergeRecord:
    """Merge ``loser_ids`` into ``survivor_id`` (see the module's documentation)."""
    return merge_many(object_type=object_type, groups=[(survivor_id, loser_ids)], user=user,
                      choices={int(survivor_id): choices} if choices else None,
                      source=source)[0]


def merge_pairs(*, pair_ids: Sequence[int], user: Any, source: str = "app"
                ) -> list[MergeRecord]:
    """Merge the records of open review-queue pairs, set-based: pairs sharing a record form
    one group, whose survivor is :func:`suggest_survivor`'s choice."""
    pairs = list(DuplicatePair.objects.filter(pk__in=pair_ids,
                                              status=DuplicatePair.Status.OPEN))
    if len(pairs) != len(set(pair_ids)):
        raise ValidationFailed(_("Some pairs are unknown or already decided."),
                               fields={"pair_ids": [_("Give open pairs of the queue.")]})
    kinds = {p.object_type for p in pairs}
    if len(kinds) > 1:
        raise ValidationFailed(_("Merge pairs of one object type at a time."),
                               fields={"pair_ids": [_("Mixed object types.")]})
    if not pairs:
        return []
    object_type = kinds.pop()
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[find(p.left_id)] = find(p.right_id)
    members: dict[int, list[int]] = defaultdict(list)
    for x in list(parent):
        members[find(x)].append(x)
    groups = []
    for ids in members.values():
        survivor = suggest_survivor(object_type, ids)
        groups.append((survivor, [i for i in ids if i != survivor]))
    return merge_many(object_type=object_type, groups=groups, user=user, source=source)


# --- Undo -----------------------------------------------------------------------------------

def _python_values(model: type[models.Model], values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for f in model._meta.concrete_fields:
        if f.attname in values:
            value = values[f.attname]
            out[f.attname] = f.to_python(value) if value is not None and not isinstance(
                f, models.JSONField) else value
    return out


@transaction.atomic
def merge_undo(*, merge: MergeRecord, user: Any, source: str = "app") -> dict[str, Any]:
    """Undo one merge: the merged records come back with their ids, everything moved goes
    back to them, the survivor gets its previous values back (except fields changed since).

    Only the last merge touching these records can be undone: a later merge of the survivor
    (or into it) must be undone first.
    """
    if merge.undone_at is not None:
        raise Conflict(_("This merge was already undone."))
    model = MERGEABLE[merge.object_type]
    involved = {merge.survivor_id, *map(int, merge.loser_ids)}
    for later in MergeRecord.objects.filter(object_type=merge.object_type, id__gt=merge.id,
                                            undone_at__isnull=True):
        if later.survivor_id in involved or involved & set(map(int, later.loser_ids)):
            raise Conflict(_("A later merge involves these records: undo it first."))
    survivor = model._default_manager.filter(pk=merge.survivor_id).first()
    if survivor is None:
        raise Conflict(_("The record the others were merged into no longer exists."))
    if not policy.can(user, "change", survivor):
        raise Forbidden(_("You may not change the record the others were merged into."))
    tag = f"unmerge:{source}"[:40]
    # 1. the merged records come back, with their ids and their timestamps
    restored = []
    for values in merge.losers.values():
        restored.append(model(**_python_values(model, values)))
    try:
        model._default_manager.bulk_create(restored)
    except IntegrityError as exc:
        raise Conflict(_("The merged records cannot be restored: %(e)s") % {"e": exc}) from exc
    for obj, values in zip(restored, merge.losers.values(), strict=True):
        stamps = {k: _python_values(model, values)[k] for k in ("created_at", "updated_at")
                  if k in values}
        model._default_manager.filter(pk=obj.pk).update(**stamps)
        record_change(object_type=merge.object_type, instance=obj, action="create", user=user,
                      changes={k: [None, v] for k, v in values.items() if not _empty(v)},
                      source=tag)
    # 2. the rows dropped as equivalents come back, the moved rows go back
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    for label, values in merge.dropped:
        row_model = apps.get_model(label)
        row_model._default_manager.bulk_create([row_model(**_python_values(row_model,
                                                                           values))])
    moved_back = 0
    for label, attname, loser, pks in merge.moved:
        row_model = apps.get_model(label)
        qs = row_model._default_manager.filter(pk__in=pks, **{attname: merge.survivor_id})
        back = list(qs.values_list("pk", flat=True))
        moved_back += row_model._default_manager.filter(pk__in=back).update(
            **{attname: loser})
        audited = _AUDITED.get(label)
        if audited and attname != "object_id":
            _audit_moves(audited, attname, {loser: back}, {loser: merge.survivor_id},
                         user_id, tag)
    # 3. the survivor's own values, unless changed since the merge
    current = {f.attname: json_value(getattr(survivor, f.attname))
               for f in model._meta.concrete_fields}
    revert, kept = {}, []
    for name, (before, after) in merge.survivor_changes.items():
        if current.get(name) == after:
            revert[name] = before
        else:
            kept.append(name)
    if revert:
        update_record(survivor, _python_values(model, revert), object_type=merge.object_type,
                      user=user, source=tag)
    record_change(object_type=merge.object_type, instance=survivor, action="unmerge",
                  user=user, changes={"merged": [merge.loser_ids, None]}, source=tag)
    statuses = dict(merge.pair_ids)
    for pair in DuplicatePair.objects.filter(pk__in=list(statuses)):
        pair.status = statuses[pair.pk]
        if pair.status == DuplicatePair.Status.OPEN:
            pair.decided_by, pair.decided_at = None, None
        pair.save(update_fields=["status", "decided_by", "decided_at"])
    merge.undone_at = timezone.now()
    merge.undone_by = user if getattr(user, "is_authenticated", False) else None
    merge.save(update_fields=["undone_at", "undone_by"])
    return {"restored": [int(o.pk) for o in restored], "moved_back": moved_back,
            "kept_fields": kept}


def last_merge(object_type: str, record_id: int) -> MergeRecord:
    """The most recent merge (not undone) into ``record_id``."""
    found = MergeRecord.objects.filter(object_type=object_type, survivor_id=record_id,
                                       undone_at__isnull=True).order_by("-id").first()
    if found is None:
        raise NotFound(_("No merge into this record to undo."))
    return found

"""Duplicates over the API: check a record before creating it, the review queue, merges.

Thin: each endpoint calls one function of ``dedupe`` or ``merge``, which apply the visibility
policy (a candidate, a pair or a merge is only shown when its records are visible).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from comptoir.access import policy
from comptoir.api.crud import ERRORS
from comptoir.api.listing import cursor_field, limit_field, paginate
from comptoir.core.errors import Forbidden, NotFound

from . import dedupe, merge, profiles
from .models import MergeRecord

router = Router(tags=["duplicates"])

ObjectLit = Literal["account", "contact", "lead"]


class CheckIn(Schema):
    object: ObjectLit
    data: dict[str, Any]
    limit: int = Field(5, ge=1, le=20)


class ReasonOut(Schema):
    field: str
    verdict: str
    points: float
    similarity: float | None = None


class CandidateOut(Schema):
    id: int
    score: float
    sure: bool
    keys: list[str]
    reasons: list[ReasonOut]
    record: dict[str, Any]


class CheckOut(Schema):
    object: str
    review_threshold: float
    sure_threshold: float
    candidates: list[CandidateOut]


@router.post("/duplicates/check", response={200: CheckOut, **ERRORS},
             operation_id="duplicates_check")
def duplicates_check(request: HttpRequest, payload: CheckIn) -> Any:
    """Existing records the given one may duplicate, best first, with their score (0–100) and
    its reasons field by field. Send the record as it would be created (``data`` uses the
    object's field names); include ``id`` to check an existing record against the others.
    Only records you may see are considered."""
    found = dedupe.candidates(payload.object, payload.data, user=request.user,
                              limit=payload.limit)
    config = dedupe.match_config(payload.object)
    return {"object": payload.object, "review_threshold": config.review,
            "sure_threshold": config.sure,
            "candidates": [{"id": c.id, "score": c.score, "sure": c.sure, "keys": c.keys,
                            "reasons": [r.as_dict() for r in c.reasons], "record": c.record}
                           for c in found]}


# --- Review queue ---------------------------------------------------------------------------

class PairOut(Schema):
    id: int
    object_type: str
    left_id: int
    right_id: int
    score: float
    status: str
    reasons: list[dict[str, Any]]
    keys: list[str]
    found_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None


class PairPage(Schema):
    items: list[PairOut]
    next_cursor: str | None


class PairFilters(Schema):
    object: ObjectLit = "account"
    status: Literal["open", "merged", "dismissed"] | None = "open"
    min_score: float | None = None
    cursor: str | None = cursor_field()
    limit: int = limit_field()


@router.get("/duplicates/pairs", response={200: PairPage, **ERRORS},
            operation_id="duplicate_pairs")
def duplicate_pairs(request: HttpRequest, filters: Query[PairFilters]) -> Any:
    """The review queue: pairs of records that look alike, best score first; only pairs whose
    two records you may see."""
    qs = dedupe.pairs_visible(request.user, filters.object, status=filters.status)
    if filters.min_score is not None:
        qs = qs.filter(score__gte=filters.min_score)
    rows, cursor = paginate(qs, ordering="-score", allowed=["score"], cursor=filters.cursor,
                            limit=filters.limit)
    return {"items": rows, "next_cursor": cursor}


@router.get("/duplicates/pairs/{int:pk}", response={200: PairOut, **ERRORS},
            operation_id="duplicate_pair")
def duplicate_pair(request: HttpRequest, pk: int) -> Any:
    return dedupe.pair_get(request.user, pk)


@router.post("/duplicates/pairs/{int:pk}/dismiss", response={200: PairOut, **ERRORS},
             operation_id="duplicate_pair_dismiss")
def duplicate_pair_dismiss(request: HttpRequest, pk: int) -> Any:
    """Not duplicates: the pair leaves the queue and is never proposed again."""
    return dedupe.pair_dismiss(pair=dedupe.pair_get(request.user, pk), user=request.user)


@router.post("/duplicates/pairs/{int:pk}/reopen", response={200: PairOut, **ERRORS},
             operation_id="duplicate_pair_reopen")
def duplicate_pair_reopen(request: HttpRequest, pk: int) -> Any:
    """Put a dismissed pair back in the queue."""
    return dedupe.pair_reopen(pair=dedupe.pair_get(request.user, pk), user=request.user)


class RunIn(Schema):
    object: ObjectLit = "account"


class RunOut(Schema):
    object: str
    task_id: str


@router.post("/duplicates/runs", response={202: RunOut, **ERRORS},
             operation_id="duplicates_run")
def duplicates_run(request: HttpRequest, payload: RunIn) -> Any:
    """Queue the batch detection over the whole base (data managers and administrators);
    ``comptoir worker`` runs it and the queue fills as it ends."""
    if not policy.sees_all(request.user):
        raise Forbidden(_("Only data managers and administrators run the detection over the "
                          "whole base."))
    from .tasks import run_dedupe

    result = run_dedupe.enqueue(payload.object)
    return Status(202, {"object": payload.object, "task_id": str(result.id)})


# --- Merges ---------------------------------------------------------------------------------

class MergeIn(Schema):
    object: ObjectLit
    survivor_id: int
    loser_ids: list[int] = Field(..., min_length=1, max_length=merge.MAX_GROUP - 1)
    choices: dict[str, int] = Field(
        default_factory=dict,
        description="Field name → id of the record its value should come from.")


class OptionOut(Schema):
    id: int
    value: Any


class FieldPlanOut(Schema):
    field: str
    value: Any
    source_id: int
    rule: str
    differs: bool
    options: list[OptionOut]


class PreviewOut(Schema):
    object: str
    survivor_id: int
    loser_ids: list[int]
    fields: list[FieldPlanOut]
    changes: dict[str, list[Any]]
    related: dict[str, int]
    warnings: list[str]


def _preview_out(plan: merge.MergePlan) -> dict[str, Any]:
    from comptoir.core.services import json_value

    return {
        "object": plan.object_type, "survivor_id": plan.ids[0], "loser_ids": plan.ids[1:],
        "fields": [{"field": p.field, "value": json_value(p.value), "source_id": p.source_id,
                    "rule": p.rule, "differs": p.differs,
                    "options": [{"id": i, "value": v} for i, v in p.options]}
                   for p in plan.fields.values()],
        "changes": plan.changes, "related": plan.related, "warnings": plan.warnings,
    }


@router.post("/duplicates/merge/preview", response={200: PreviewOut, **ERRORS},
             operation_id="duplicates_merge_preview")
def duplicates_merge_preview(request: HttpRequest, payload: MergeIn) -> Any:
    """What the merge would give, field by field with the record each value comes from and
    the rule that chose it, and how many related records would move. Nothing is written."""
    plan = merge.merge_preview(object_type=payload.object, survivor_id=payload.survivor_id,
                               loser_ids=payload.loser_ids, user=request.user,
                               choices=payload.choices)
    return _preview_out(plan)


class MergeOut(Schema):
    id: int
    object_type: str
    survivor_id: int
    loser_ids: list[int]
    at: datetime
    user_id: int | None
    survivor_changes: dict[str, list[Any]]
    moved: dict[str, int]
    undone_at: datetime | None


def _merge_out(record: MergeRecord) -> dict[str, Any]:
    moved: dict[str, int] = {}
    for label, attname, _loser, pks in record.moved:
        key = f"{label}.{attname}"
        moved[key] = moved.get(key, 0) + len(pks)
    return {"id": record.pk, "object_type": record.object_type,
            "survivor_id": record.survivor_id, "loser_ids": record.loser_ids, "at": record.at,
            "user_id": record.user_id, "survivor_changes": record.survivor_changes,
            "moved": moved, "undone_at": record.undone_at}


@router.post("/duplicates/merge", response={201: MergeOut, **ERRORS},
             operation_id="duplicates_merge")
def duplicates_merge(request: HttpRequest, payload: MergeIn) -> Any:
    """Merge ``loser_ids`` into ``survivor_id``: survivorship per field (ERP-owned fields
    win), every related record moved, the merged records deleted; undoable."""
    record = merge.merge_records(object_type=payload.object, survivor_id=payload.survivor_id,
                                 loser_ids=payload.loser_ids, user=request.user,
                                 choices=payload.choices, source="api")
    return Status(201, _merge_out(record))


class PairsMergeIn(Schema):
    pair_ids: list[int] = Field(..., min_length=1, max_length=1000)


@router.post("/duplicates/pairs/merge", response={201: list[MergeOut], **ERRORS},
             operation_id="duplicate_pairs_merge")
def duplicate_pairs_merge(request: HttpRequest, payload: PairsMergeIn) -> Any:
    """Merge the records of many open pairs at once (pairs sharing a record become one
    group; the survivor is the record the ERP knows, else a customer, else the oldest)."""
    for pk in payload.pair_ids:
        dedupe.pair_get(request.user, pk)
    records = merge.merge_pairs(pair_ids=payload.pair_ids, user=request.user, source="api")
    return Status(201, [_merge_out(r) for r in records])


class MergeFilters(Schema):
    object: ObjectLit = "account"
    survivor_id: int | None = None
    limit: int = Field(50, ge=1, le=200)


@router.get("/duplicates/merges", response={200: list[MergeOut], **ERRORS},
            operation_id="duplicate_merges")
def duplicate_merges(request: HttpRequest, filters: Query[MergeFilters]) -> Any:
    """Merges into records you may see, latest first."""
    model = merge.MERGEABLE[filters.object]
    qs = MergeRecord.objects.filter(object_type=filters.object)
    if filters.survivor_id is not None:
        qs = qs.filter(survivor_id=filters.survivor_id)
    if not policy.sees_all(request.user):
        qs = qs.filter(survivor_id__in=policy.restrict(model._default_manager.all(),
                                                       request.user).values("id"))
    return [_merge_out(r) for r in qs.order_by("-id")[:filters.limit]]


class UndoOut(Schema):
    merge: MergeOut
    restored: list[int]
    moved_back: int
    kept_fields: list[str]


@router.post("/duplicates/merges/{int:pk}/undo", response={200: UndoOut, **ERRORS},
             operation_id="duplicate_merge_undo")
def duplicate_merge_undo(request: HttpRequest, pk: int) -> Any:
    """Undo a merge (the last one touching its records): the merged records come back with
    their ids and related records; fields changed since the merge keep their new value."""
    record = MergeRecord.objects.filter(pk=pk).first()
    model = merge.MERGEABLE.get(record.object_type) if record else None
    if record is None or model is None or not policy.restrict(
            model._default_manager.filter(pk=record.survivor_id), request.user).exists():
        raise NotFound(_("Not found, or you cannot see it."))
    with transaction.atomic():
        outcome = merge.merge_undo(merge=record, user=request.user, source="api")
    record.refresh_from_db()
    return {"merge": _merge_out(record), **outcome}


# --- Validation profiles --------------------------------------------------------------------

class GapOut(Schema):
    requirement: str
    fields: list[str]
    message: str
    details: dict[str, Any]


class GapsIn(Schema):
    object: ObjectLit
    data: dict[str, Any]
    profile: Literal["lead", "crm", "erp"] | None = None
    contacts: int | None = Field(None, ge=0, description="An unsaved account's contacts.")


class GapsOut(Schema):
    object: str
    profiles: dict[str, list[GapOut]]
    valid: dict[str, bool]


def _gaps_out(object_type: str, report: dict[str, list[Any]]) -> dict[str, Any]:
    return {"object": object_type,
            "profiles": {name: [g.as_dict() for g in found] for name, found in report.items()},
            "valid": {name: not found for name, found in report.items()}}


@router.post("/quality/gaps", response={200: GapsOut, **ERRORS}, tags=["data quality"],
             operation_id="quality_gaps_check")
def quality_gaps_check(request: HttpRequest, payload: GapsIn) -> Any:
    """What a record (as it would be sent) lacks for each profile: ``lead`` (one means of
    contact), ``crm`` (legal name and a contact), ``erp`` (address, SIRET, NAF, payment terms,
    no duplicate…)."""
    names = [payload.profile] if payload.profile else list(profiles.PROFILE_NAMES)
    report = {name: profiles.gaps(payload.object, payload.data, name,
                                  contacts=payload.contacts) for name in names}
    return _gaps_out(payload.object, report)


@router.get("/quality/gaps/{object_type}/{int:pk}", response={200: GapsOut, **ERRORS},
            tags=["data quality"], operation_id="quality_gaps")
def quality_gaps(request: HttpRequest, object_type: ObjectLit, pk: int) -> Any:
    """The gaps of a saved record you may see, for every profile."""
    model = merge.MERGEABLE[object_type]
    record = policy.restrict(model._default_manager.filter(pk=pk), request.user).first()
    if record is None:
        raise NotFound(_("Not found, or you cannot see it."))
    return _gaps_out(object_type, profiles.profile_report(object_type, record))

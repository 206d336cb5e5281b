"""Pipelines and their stages (R14), for administrators.

Pipelines and stages have no object type of their own in the audit trail, so their definitions
are plain saves in one transaction, logged to ``comptoir.admin``. Deals moved out of a deleted
stage are audited like any deal change (an entry and an ``opportunity.updated`` event each).

Stage order is kept as 10, 20, 30… and renumbered on every move, so a stage can be inserted
between two others without touching the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access.admin_services import require_administrator
from comptoir.core.errors import Conflict, ValidationFailed
from comptoir.core.models import AuditEntry, ObjectType, OutboxEvent
from comptoir.core.services import full_clean, save

from .models import Opportunity, Pipeline, Stage

log = logging.getLogger("comptoir.admin")

STAGE_FIELDS = ("name", "probability", "is_won", "is_lost")
STEP = 10
MOVE_BATCH = 2000


def _who(user: Any) -> str:
    return str(getattr(user, "username", "") or "?")


# --- Pipelines -----------------------------------------------------------------------------

def _clear_other_defaults(pipeline: Pipeline) -> None:
    Pipeline.objects.filter(is_default=True).exclude(pk=pipeline.pk).update(is_default=False)


@transaction.atomic
def pipeline_create(*, user: Any, name: str, is_default: bool = False) -> Pipeline:
    """A new, empty pipeline (deals need at least one stage: add them next). The first
    pipeline is the default whatever ``is_default`` says."""
    require_administrator(user)
    pipeline = Pipeline(name=(name or "").strip(),
                        is_default=is_default or not Pipeline.objects.exists())
    full_clean(pipeline)
    save(pipeline)
    if pipeline.is_default:
        _clear_other_defaults(pipeline)
    log.info("%s created pipeline %s", _who(user), pipeline.name)
    return pipeline


@transaction.atomic
def pipeline_rename(*, user: Any, pipeline: Pipeline, name: str,
                    idle_days: int | None = None) -> Pipeline:
    """Rename a pipeline and, when given, set after how many quiet days its deals are idle."""
    require_administrator(user)
    pipeline.name = (name or "").strip()
    if idle_days is not None:
        pipeline.idle_days = idle_days
    full_clean(pipeline)
    save(pipeline)
    return pipeline


@transaction.atomic
def pipeline_set_default(*, user: Any, pipeline: Pipeline) -> Pipeline:
    """New deals without a pipeline go to this one; there is exactly one default."""
    require_administrator(user)
    _clear_other_defaults(pipeline)
    if not pipeline.is_default:
        pipeline.is_default = True
        Pipeline.objects.filter(pk=pipeline.pk).update(is_default=True)
    log.info("%s made pipeline %s the default", _who(user), pipeline.name)
    return pipeline


@transaction.atomic
def pipeline_delete(*, user: Any, pipeline: Pipeline) -> None:
    """Delete a pipeline that holds no deal; if it was the default, another one takes over."""
    require_administrator(user)
    deals = Opportunity.objects.filter(pipeline=pipeline).count()
    if deals:
        raise Conflict(_("This pipeline holds %(n)d deal(s): move them to another pipeline "
                         "first.") % {"n": deals})
    was_default = pipeline.is_default
    name = pipeline.name
    pipeline.delete()
    if was_default and (heir := Pipeline.objects.order_by("name").first()) is not None:
        Pipeline.objects.filter(pk=heir.pk).update(is_default=True)
    log.info("%s deleted pipeline %s", _who(user), name)


# --- Stages --------------------------------------------------------------------------------

def _stage_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: data[k] for k in STAGE_FIELDS if k in data}
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()
    return values


def _check_stage(stage: Stage) -> None:
    if stage.is_won and stage.is_lost:
        raise ValidationFailed(_("A stage cannot mean both won and lost."),
                               fields={"is_lost": [_("Choose won or lost, not both.")]})
    if stage.name and Stage.objects.filter(pipeline_id=stage.pipeline_id,
                                           name__iexact=stage.name).exclude(pk=stage.pk).exists():
        raise Conflict(_("This pipeline already has a stage with this name."),
                       fields={"name": [_("This pipeline already has a stage with this name.")]})
    full_clean(stage)


def _renumber(ordered_ids: list[int]) -> None:
    for position, pk in enumerate(ordered_ids, start=1):
        Stage.objects.filter(pk=pk).exclude(order=position * STEP).update(order=position * STEP)


def _ordered_ids(pipeline_id: int) -> list[int]:
    return list(Stage.objects.filter(pipeline_id=pipeline_id).order_by("order", "id")
                .values_list("pk", flat=True))


@transaction.atomic
def stage_create(*, user: Any, pipeline: Pipeline, data: Mapping[str, Any]) -> Stage:
    """Add a stage. An open stage goes before the first won or lost stage (where new steps of a
    sale belong); a won or lost stage goes last."""
    require_administrator(user)
    stage = Stage(pipeline=pipeline, **_stage_values(data))
    stage.order = 0
    _check_stage(stage)
    ids = _ordered_ids(pipeline.pk)
    position = len(ids)
    if not (stage.is_won or stage.is_lost):
        closed = set(Stage.objects.filter(Q(is_won=True) | Q(is_lost=True), pipeline=pipeline)
                     .values_list("pk", flat=True))
        position = next((i for i, pk in enumerate(ids) if pk in closed), position)
    save(stage)
    ids.insert(position, stage.pk)
    _renumber(ids)
    stage.refresh_from_db(fields=["order"])
    log.info("%s added stage %s to pipeline %s", _who(user), stage.name, pipeline.name)
    return stage


@transaction.atomic
def stage_update(*, user: Any, stage: Stage, data: Mapping[str, Any]) -> Stage:
    """Rename a stage or change its probability. Whether it means won or lost can change only
    while it holds no deal: the deals' status follows their stage, and silently closing (or
    reopening) them would rewrite the forecast."""
    require_administrator(user)
    values = _stage_values(data)
    flags = {k: v for k, v in values.items() if k in ("is_won", "is_lost")
             and bool(v) != getattr(stage, k)}
    if flags and (deals := Opportunity.objects.filter(stage=stage).count()):
        raise ValidationFailed(
            _("This stage holds %(n)d deal(s): move them to another stage before changing "
              "whether it means won or lost.") % {"n": deals},
            fields={k: [_("Not while the stage holds deals.")] for k in flags})
    for key, value in values.items():
        setattr(stage, key, value)
    _check_stage(stage)
    save(stage)
    return stage


@transaction.atomic
def stage_move(*, user: Any, stage: Stage, offset: int) -> Stage:
    """Move a stage up (``offset=-1``) or down (``+1``) in its pipeline."""
    require_administrator(user)
    ids = _ordered_ids(stage.pipeline_id)
    i = ids.index(stage.pk)
    j = max(0, min(len(ids) - 1, i + offset))
    if i != j:
        ids.insert(j, ids.pop(i))
        _renumber(ids)
        stage.refresh_from_db(fields=["order"])
    return stage


def stage_deal_counts(pipeline: Pipeline) -> dict[int, int]:
    """Deals per stage of ``pipeline`` (one grouped query)."""
    rows = (Opportunity.objects.filter(pipeline=pipeline).values("stage_id")
            .annotate(n=Count("id")).values_list("stage_id", "n"))
    return dict(rows)


def _move_deals(stage: Stage, target: Stage, user: Any) -> int:
    """Set-based move of every deal of ``stage`` to ``target``, each audited like a board move
    (probability and status follow the new stage)."""
    status = (Opportunity.Status.WON if target.is_won else
              Opportunity.Status.LOST if target.is_lost else Opportunity.Status.OPEN)
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    now = timezone.now()
    rows = list(Opportunity.objects.filter(stage=stage)
                .values_list("pk", "probability", "status", "closed_at"))
    for start in range(0, len(rows), MOVE_BATCH):
        chunk = rows[start:start + MOVE_BATCH]
        ids = [r[0] for r in chunk]
        Opportunity.objects.filter(pk__in=ids).update(
            stage=target, probability=target.probability, updated_at=now)
        changing = [r for r in chunk if r[2] != status]
        closed_at = None if status == Opportunity.Status.OPEN else now
        Opportunity.objects.filter(pk__in=[r[0] for r in changing]).update(
            status=status, closed_at=closed_at)
        entries, events = [], []
        for pk, probability, old_status, old_closed in chunk:
            changes: dict[str, list[Any]] = {"stage_id": [stage.pk, target.pk]}
            if probability != target.probability:
                changes["probability"] = [probability, target.probability]
            if old_status != status:
                changes["status"] = [old_status, str(status)]
                changes["closed_at"] = [old_closed.isoformat() if old_closed else None,
                                        closed_at.isoformat() if closed_at else None]
            entries.append(AuditEntry(object_type=ObjectType.OPPORTUNITY, object_id=pk,
                                      action=AuditEntry.Action.UPDATE, user_id=user_id,
                                      source="settings", changes=changes))
            events.append(OutboxEvent(topic="opportunity.updated",
                                      object_type=ObjectType.OPPORTUNITY, object_id=pk,
                                      payload={"changes": changes, "user_id": user_id,
                                               "source": "settings"}))
        AuditEntry.objects.bulk_create(entries)
        OutboxEvent.objects.bulk_create(events)
    return len(rows)


@transaction.atomic
def stage_delete(*, user: Any, stage: Stage, move_to: Stage | None = None) -> int:
    """Delete a stage. Its deals, if any, go to ``move_to`` (another stage of the same
    pipeline); without one, a stage holding deals is refused. Returns how many deals moved."""
    require_administrator(user)
    deals = Opportunity.objects.filter(stage=stage).count()
    if Stage.objects.filter(pipeline_id=stage.pipeline_id).count() == 1 and \
            Opportunity.objects.filter(pipeline_id=stage.pipeline_id).exists():
        raise Conflict(_("The last stage of a pipeline that holds deals cannot be deleted."))
    moved = 0
    if deals:
        if move_to is None:
            raise ValidationFailed(
                _("This stage holds %(n)d deal(s): choose the stage they move to.")
                % {"n": deals}, fields={"move_to": [_("Choose a stage.")]})
        if move_to.pk == stage.pk or move_to.pipeline_id != stage.pipeline_id:
            raise ValidationFailed(_("Choose another stage of the same pipeline."),
                                   fields={"move_to": [_("Choose another stage.")]})
        moved = _move_deals(stage, move_to, user)
    pipeline_id, name = stage.pipeline_id, stage.name
    stage.delete()
    _renumber(_ordered_ids(pipeline_id))
    log.info("%s deleted stage %s (%d deals moved)", _who(user), name, moved)
    return moved

"""``/api/v1/integration/``: connections, runs, quarantine and replay, values left out
(data managers, admins).

Secrets are write-only: they are accepted on create and update and never returned, only the
names of the secrets that are set.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from comptoir.access import policy
from comptoir.api.crud import ERRORS
from comptoir.api.listing import cursor_field, limit_field, paginate
from comptoir.core.errors import Forbidden, NotFound, ValidationFailed

from .loader import SPECS
from .models import Connection, FieldIssue, QuarantinedRecord, SyncRun
from .services import (
    connection_validate,
    push_receive,
    push_verify,
    quarantine_replay,
    sync_run_start,
)

router = Router(tags=["integration"])


def _check(request: HttpRequest) -> None:
    if not policy.sees_all(request.user):
        raise Forbidden(_("Integration is reserved to data managers and administrators."))


class ConnectionIn(Schema):
    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)
    label: str = ""
    connector: str
    direction: Connection.Direction = Connection.Direction.INBOUND
    parameters: dict[str, Any] = {}
    secrets: dict[str, str] = Field({}, description="Write-only; 'env:NAME' reads it from the "
                                                    "environment of the worker.")
    mapping: str = Field(..., description="The TOML mapping.")
    owned_fields: dict[str, list[str]] = {}
    schedule_minutes: int | None = Field(None, ge=1)
    batch_size: int = Field(5000, ge=1, le=10_000)
    enabled: bool = True
    push_secret: str = Field("", max_length=128, description="Push connections: the HMAC "
                                                           "key (write-only).")


class ConnectionPatch(Schema):
    label: str | None = None
    parameters: dict[str, Any] | None = None
    secrets: dict[str, str] | None = None
    mapping: str | None = None
    owned_fields: dict[str, list[str]] | None = None
    schedule_minutes: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1, le=10_000)
    enabled: bool | None = None
    push_secret: str | None = Field(None, max_length=128)


class ConnectionOut(Schema):
    id: int
    name: str
    label: str
    connector: str
    direction: str
    parameters: dict[str, Any]
    secrets_set: list[str]
    push_secret_set: bool
    mapping: str
    owned_fields: dict[str, list[str]]
    schedule_minutes: int | None
    batch_size: int
    enabled: bool
    last_run_id: int | None
    last_run_status: str | None


def _connection_out(c: Connection) -> dict[str, Any]:
    last = c.runs.order_by("-id").first()
    return {"id": c.pk, "name": c.name, "label": c.label, "connector": c.connector,
            "direction": c.direction, "parameters": c.parameters,
            "secrets_set": sorted(k for k, v in c.secrets.items() if v),
            "push_secret_set": bool(c.push_secret), "mapping": c.mapping,
            "owned_fields": c.owned_fields, "schedule_minutes": c.schedule_minutes,
            "batch_size": c.batch_size, "enabled": c.enabled,
            "last_run_id": last.pk if last else None,
            "last_run_status": last.status if last else None}


def _get(name: str) -> Connection:
    c = Connection.objects.filter(name=name).first()
    if c is None:
        raise NotFound(_("No connection named %(name)s.") % {"name": name})
    return c


@router.get("/integration/connections", response={200: list[ConnectionOut], **ERRORS})
def connections_list(request: HttpRequest) -> Any:
    _check(request)
    return [_connection_out(c) for c in Connection.objects.order_by("name")]


@router.post("/integration/connections", response={201: ConnectionOut, **ERRORS})
def connection_create(request: HttpRequest, payload: ConnectionIn) -> Any:
    _check(request)
    if Connection.objects.filter(name=payload.name).exists():
        raise ValidationFailed(_("This name is taken."), fields={"name": [_("Already used.")]})
    c = Connection(**payload.dict())
    connection_validate(c)
    c.save()
    return Status(201, _connection_out(c))


@router.get("/integration/connections/{name}", response={200: ConnectionOut, **ERRORS})
def connection_detail(request: HttpRequest, name: str) -> Any:
    _check(request)
    return _connection_out(_get(name))


@router.patch("/integration/connections/{name}", response={200: ConnectionOut, **ERRORS})
def connection_update(request: HttpRequest, name: str, payload: ConnectionPatch) -> Any:
    _check(request)
    c = _get(name)
    for key, value in payload.dict(exclude_unset=True).items():
        if key == "secrets" and value is not None:
            value = {**c.secrets, **value}  # a secret is replaced, never read back
        setattr(c, key, value)
    connection_validate(c)
    c.save()
    return _connection_out(c)


@router.delete("/integration/connections/{name}", response={204: None, **ERRORS})
def connection_delete(request: HttpRequest, name: str) -> Any:
    _check(request)
    _get(name).delete()
    return Status(204, None)


class RunIn(Schema):
    full: bool = False
    dry_run: bool = False


class RunOut(Schema):
    id: int
    connection: str
    status: str
    trigger: str
    dry_run: bool
    full: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    lag_seconds: float | None
    read: int
    created: int
    updated: int
    unchanged: int
    deleted: int
    quarantined: int
    matched: int = 0
    dropped: int = Field(0, description="Invalid optional values the records landed without "
                                        "(see /integration/field-issues).")
    error_category: str
    error_message: str
    details: dict[str, Any]


def _run_out(r: SyncRun) -> dict[str, Any]:
    return {**{f: getattr(r, f) for f in RunOut.model_fields if f != "connection"},
            "connection": r.connection.name}


class RunPage(Schema):
    items: list[RunOut]
    next_cursor: str | None


@router.post("/integration/connections/{name}/runs", response={202: RunOut, **ERRORS})
def run_start(request: HttpRequest, name: str, payload: RunIn) -> Any:
    """Queue a run; the worker executes it. Poll the run to see it progress and end."""
    _check(request)
    from .tasks import execute_run

    run = sync_run_start(_get(name), trigger=SyncRun.Trigger.API, user=request.user,
                         full=payload.full, dry_run=payload.dry_run)
    transaction.on_commit(lambda: execute_run.enqueue(run.pk))
    return Status(202, _run_out(run))


class RunFilters(Schema):
    connection: str | None = None
    status: SyncRun.Status | None = None
    cursor: str | None = cursor_field()
    limit: int = limit_field()


def _page(qs: Any, filters: Any, names: tuple[str, ...], out: Any) -> dict[str, Any]:
    """Newest first, filtered on ``names`` (and the connection's name), cursor-paginated."""
    for name in names:
        value = getattr(filters, name)
        if value not in (None, ""):
            qs = qs.filter(**{name: value})
    if filters.connection:
        qs = qs.filter(connection__name=filters.connection)
    rows, nxt = paginate(qs, ordering="-id", allowed=["id"], cursor=filters.cursor,
                         limit=filters.limit)
    return {"items": [out(row) for row in rows], "next_cursor": nxt}


@router.get("/integration/runs", response={200: RunPage, **ERRORS})
def runs_list(request: HttpRequest, filters: Query[RunFilters]) -> Any:
    _check(request)
    return _page(SyncRun.objects.select_related("connection"), filters, ("status",), _run_out)


@router.get("/integration/runs/{run_id}", response={200: RunOut, **ERRORS})
def run_detail(request: HttpRequest, run_id: int) -> Any:
    _check(request)
    run = SyncRun.objects.select_related("connection").filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("No such run."))
    return _run_out(run)


class QuarantineOut(Schema):
    id: int
    connection: str
    run_id: int | None
    stream: str
    external_id: str
    position: str
    payload: dict[str, Any]
    field: str
    reason: str
    errors: dict[str, Any]
    status: str
    created_at: datetime
    resolved_at: datetime | None


class QuarantinePage(Schema):
    items: list[QuarantineOut]
    next_cursor: str | None


def _q_out(q: QuarantinedRecord) -> dict[str, Any]:
    return {**{f: getattr(q, f) for f in QuarantineOut.model_fields if f != "connection"},
            "connection": q.connection.name}


class QuarantineFilters(Schema):
    connection: str | None = None
    stream: str | None = None
    status: QuarantinedRecord.Status | None = QuarantinedRecord.Status.OPEN
    run_id: int | None = None
    cursor: str | None = cursor_field()
    limit: int = limit_field()


@router.get("/integration/quarantine", response={200: QuarantinePage, **ERRORS})
def quarantine_list(request: HttpRequest, filters: Query[QuarantineFilters]) -> Any:
    _check(request)
    return _page(QuarantinedRecord.objects.select_related("connection"), filters,
                 ("stream", "status", "run_id"), _q_out)


def _get_q(record_id: int) -> QuarantinedRecord:
    q = QuarantinedRecord.objects.select_related("connection").filter(pk=record_id).first()
    if q is None:
        raise NotFound(_("No such quarantined record."))
    return q


class QuarantinePatch(Schema):
    payload: dict[str, Any]


@router.patch("/integration/quarantine/{record_id}", response={200: QuarantineOut, **ERRORS})
def quarantine_fix(request: HttpRequest, record_id: int, payload: QuarantinePatch) -> Any:
    """Correct the record as received (the source's fields), before replaying it."""
    _check(request)
    q = _get_q(record_id)
    if q.status != QuarantinedRecord.Status.OPEN:
        raise ValidationFailed(_("Only a record still to fix can be edited."),
                               fields={"status": [q.status]})
    q.payload = {**q.payload, **payload.payload}
    q.save(update_fields=["payload"])
    return _q_out(q)


@router.post("/integration/quarantine/{record_id}/replay",
             response={200: QuarantineOut, **ERRORS})
def quarantine_replay_view(request: HttpRequest, record_id: int) -> Any:
    """Apply the (corrected) record again through the same mapping and rules."""
    _check(request)
    return _q_out(quarantine_replay(_get_q(record_id), user=request.user))


@router.post("/integration/quarantine/{record_id}/discard",
             response={200: QuarantineOut, **ERRORS})
def quarantine_discard(request: HttpRequest, record_id: int) -> Any:
    _check(request)
    q = _get_q(record_id)
    QuarantinedRecord.objects.filter(pk=q.pk).update(
        status=QuarantinedRecord.Status.DISCARDED, resolved_at=timezone.now())
    q.refresh_from_db()
    return _q_out(q)


class FieldIssueOut(Schema):
    id: int
    connection: str
    stream: str
    external_id: str
    object_type: str
    object_id: int
    field: str
    value: str = Field(..., description="The other system's raw value, left out of the record.")
    reason: str
    status: str
    first_run_id: int | None
    last_run_id: int | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


class FieldIssuePage(Schema):
    items: list[FieldIssueOut]
    next_cursor: str | None


def _issue_out(i: FieldIssue) -> dict[str, Any]:
    return {**{f: getattr(i, f) for f in FieldIssueOut.model_fields if f != "connection"},
            "connection": i.connection.name}


# What a sync loads (the loader's targets): anything else could never match.
IssueObjectType = Literal[tuple(SPECS)]  # type: ignore[valid-type]


class FieldIssueFilters(Schema):
    # Bounded like a connection's name and a row id, so nonsense is a 422, never a 500.
    connection: str | None = Field(None, max_length=60)
    status: FieldIssue.Status | None = FieldIssue.Status.OPEN
    object_type: IssueObjectType | None = None  # type: ignore[valid-type]
    object_id: int | None = Field(None, ge=1, le=2**63 - 1)
    cursor: str | None = cursor_field()
    limit: int = limit_field()


@router.get("/integration/field-issues", response={200: FieldIssuePage, **ERRORS})
def field_issues_list(request: HttpRequest, filters: Query[FieldIssueFilters]) -> Any:
    """Values the syncs left out of records that did land: the source's raw value and why it
    was refused. Open ones by default; they resolve themselves when the source sends a valid
    value."""
    _check(request)
    return _page(FieldIssue.objects.select_related("connection"), filters,
                 ("status", "object_type", "object_id"), _issue_out)


class PushAnswer(Schema):
    run_id: int
    read: int
    created: int
    updated: int
    unchanged: int
    deleted: int
    quarantined: int
    matched: int = 0
    dropped: int = 0
    quarantine: list[dict[str, Any]]
    replayed: bool = False


@router.post("/integration/push/{name}", auth=None, response={200: PushAnswer, **ERRORS})
def push(request: HttpRequest, name: str) -> Any:
    """Receive changes from a plugin inside the other system (the *push* mode).

    Signed, not logged in: ``X-Comptoir-Timestamp`` (Unix time) and ``X-Comptoir-Signature:
    sha256=<hex HMAC-SHA256 of "timestamp.body" with the connection's push key>``, plus an
    ``Idempotency-Key`` header: a retried request is answered again, never applied twice.
    Body: ``{"stream": "parties", "records": [{"key": "12", "data": {...}, "deleted": false}]}``
    — at most 1,000 records, mapped and checked like any sync, bad ones quarantined.
    """
    connection = Connection.objects.filter(name=name).first()
    if connection is None:
        raise NotFound(_("No connection named %(name)s.") % {"name": name})
    body = request.body
    push_verify(connection, signature=request.headers.get("X-Comptoir-Signature", ""),
                timestamp=request.headers.get("X-Comptoir-Timestamp", ""), body=body)
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 200:
        raise ValidationFailed(_("An Idempotency-Key header (up to 200 characters) is required."),
                               fields={"Idempotency-Key": [_("This field is required.")]})
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(_("The request body is not valid JSON.")) from None
    if not isinstance(payload, dict):
        raise ValidationFailed(_("The request body must be a JSON object."))
    _status, answer = push_receive(connection, key=key, body=body, payload=payload)
    return answer

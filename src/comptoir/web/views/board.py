"""The pipeline board: one column per stage, deals as cards, moved by drag and drop, keyboard
or a plain form (issue 4, item 4).

Column figures come from one aggregate query grouped by stage and the cards from one ranked
query (at most ``CARD_LIMIT`` per column), so a manager's board over many deals costs two
queries, not one per deal. Moves go through ``crm.services.opportunity_update``: the server
decides (stage probability, won/lost status, access) and answers with the re-drawn columns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.access import policy
from comptoir.access.models import Team, User
from comptoir.core.errors import DomainError
from comptoir.crm.models import Opportunity, Pipeline, Stage
from comptoir.crm.services import lost_reason_choices, opportunity_update

CARD_LIMIT = 20  # cards drawn per column; the rest are one click away in the list
CENT = Decimal("0.01")


@dataclass
class BoardFilters:
    """What the board shows: one pipeline, optionally one owner or one team's members."""

    pipeline: Pipeline | None
    owner_id: int | None = None
    team_id: int | None = None
    owner_raw: str = ""
    team_raw: str = ""

    def query(self) -> dict[str, str]:
        out = {}
        if self.pipeline is not None and not self.pipeline.is_default:
            out["pipeline"] = str(self.pipeline.pk)
        if self.owner_raw:
            out["owner"] = self.owner_raw
        if self.team_raw:
            out["team"] = self.team_raw
        return out


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")
    cards: list[Opportunity] = field(default_factory=list)
    more_url: str = ""
    prev_stage: Stage | None = None
    next_stage: Stage | None = None

    @property
    def closed(self) -> bool:
        return bool(self.stage.is_won or self.stage.is_lost)

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.cards)) if not self.closed else 0


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _pipelines() -> list[Pipeline]:
    """Default pipeline first, then by name (there are a handful)."""
    return sorted(Pipeline.objects.all(), key=lambda p: (not p.is_default, p.name))


def parse_filters(params: QueryDict, user: Any, pipelines: list[Pipeline] | None = None
                  ) -> BoardFilters:
    pipelines = _pipelines() if pipelines is None else pipelines
    wanted = _int(params.get("pipeline"))
    pipeline = next((p for p in pipelines if p.pk == wanted), pipelines[0] if pipelines else None)
    owner_raw = params.get("owner", "").strip()
    owner_id = user.pk if owner_raw == "me" else _int(owner_raw)
    if owner_id is None:
        owner_raw = ""
    team_id = _int(params.get("team"))
    return BoardFilters(pipeline=pipeline, owner_id=owner_id, team_id=team_id,
                        owner_raw=owner_raw, team_raw=str(team_id) if team_id else "")


def deals_for(user: Any, filters: BoardFilters) -> QuerySet[Opportunity]:
    """The deals of the board's pipeline this user may see, with the owner/team filter."""
    qs = policy.restrict(Opportunity.objects.filter(pipeline=filters.pipeline), user)
    if filters.owner_id is not None:
        qs = qs.filter(owner_id=filters.owner_id)
    if filters.team_id is not None:
        qs = qs.filter(owner_id__in=Team.members.through.objects
                       .filter(team_id=filters.team_id).values("user_id"))
    return qs


def _month_start() -> dt.datetime:
    today = timezone.localdate()
    return timezone.make_aware(dt.datetime(today.year, today.month, 1))


def build_columns(user: Any, filters: BoardFilters, stages: list[Stage],
                  only: set[int] | None = None) -> list[Column]:
    """The columns (all, or ``only`` those stages): open stages show their open deals; won and
    lost stages show what was closed this month, without cards."""
    columns = [Column(stage=s) for s in stages]
    for i, col in enumerate(columns):
        col.prev_stage = stages[i - 1] if i > 0 else None
        col.next_stage = stages[i + 1] if i + 1 < len(stages) else None
    if only is not None:
        columns = [c for c in columns if c.stage.pk in only]
    if not columns:
        return []
    open_ids = [c.stage.pk for c in columns if not c.closed]
    closed_ids = [c.stage.pk for c in columns if c.closed]
    deals = deals_for(user, filters)
    weighted = ExpressionWrapper(F("amount") * F("probability"),
                                 output_field=DecimalField(max_digits=20, decimal_places=2))
    figures = (deals.filter(Q(stage_id__in=open_ids, status=Opportunity.Status.OPEN)
                            | Q(stage_id__in=closed_ids, closed_at__gte=_month_start()))
               .order_by().values("stage_id")
               .annotate(n=Count("id"), total=Sum("amount"), weighted=Sum(weighted)))
    by_stage = {row["stage_id"]: row for row in figures}
    for col in columns:
        row = by_stage.get(col.stage.pk)
        if row:
            col.count = row["n"]
            col.total = Decimal(row["total"] or 0).quantize(CENT)
            col.weighted = (Decimal(row["weighted"] or 0) / 100).quantize(CENT)
    if open_ids and any(by_stage.get(i) for i in open_ids):
        ranked = (deals.filter(stage_id__in=open_ids, status=Opportunity.Status.OPEN)
                  .annotate(rank=Window(RowNumber(), partition_by=[F("stage_id")],
                                        order_by=[F("expected_close_date").asc(nulls_last=True),
                                                  F("id").asc()]))
                  .filter(rank__lte=CARD_LIMIT)
                  .select_related("account", "owner")
                  .only("id", "name", "amount", "currency", "probability", "stage_id",
                        "expected_close_date", "account__legal_name", "owner__username",
                        "owner__first_name", "owner__last_name")
                  .order_by("stage_id", "rank"))
        cards: dict[int, list[Opportunity]] = {}
        for deal in ranked:
            cards.setdefault(deal.stage_id, []).append(deal)
        for col in columns:
            col.cards = cards.get(col.stage.pk, [])
    list_url = reverse("web:opportunity_list")
    for col in columns:
        params: dict[str, Any] = {"stage": col.stage.pk}
        if not col.closed:
            params["status"] = Opportunity.Status.OPEN
        if filters.owner_id is not None:
            params["owner"] = filters.owner_id
        col.more_url = f"{list_url}?{urlencode(params)}"
    return columns


def summary(user: Any, filters: BoardFilters, stages: list[Stage]) -> dict[str, Any]:
    """Open deals of the whole board: count, total and weighted total (one query)."""
    weighted = ExpressionWrapper(F("amount") * F("probability"),
                                 output_field=DecimalField(max_digits=20, decimal_places=2))
    open_ids = [s.pk for s in stages if not (s.is_won or s.is_lost)]
    row = (deals_for(user, filters)
           .filter(stage_id__in=open_ids, status=Opportunity.Status.OPEN)
           .aggregate(n=Count("id"), total=Sum("amount"), weighted=Sum(weighted)))
    return {"open_count": row["n"] or 0,
            "open_total": Decimal(row["total"] or 0).quantize(CENT),
            "open_weighted": (Decimal(row["weighted"] or 0) / 100).quantize(CENT)}


def owner_choices(user: Any) -> QuerySet[User]:
    qs = User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    ids = policy.assignable_owner_ids(user)
    return qs if ids is None else qs.filter(pk__in=ids)


def team_choices(user: Any) -> QuerySet[Team]:
    if policy.sees_all(user):
        return Team.objects.order_by("name")
    return (Team.objects.filter(members__in=list(policy.users_in_scope(user)))
            .distinct().order_by("name"))


def initials(user: Any) -> str:
    if user is None:
        return ""
    first, last = (user.first_name or "").strip(), (user.last_name or "").strip()
    return ((first[:1] + last[:1]) or user.username[:2]).upper()


def _board_url(filters: BoardFilters) -> str:
    query = urlencode(filters.query())
    return reverse("web:board") + (f"?{query}" if query else "")


def _stages(pipeline: Pipeline | None) -> list[Stage]:
    return list(pipeline.stages.order_by("order", "id")) if pipeline is not None else []


@login_required
def board(request: HttpRequest) -> HttpResponse:
    """The board; an htmx request aimed at ``#board`` gets the columns alone."""
    user = request.user
    pipelines = _pipelines()
    filters = parse_filters(request.GET, user, pipelines)
    stages = _stages(filters.pipeline)
    columns = build_columns(user, filters, stages)
    for col in columns:
        for deal in col.cards:
            deal.owner_initials = initials(deal.owner)  # type: ignore[attr-defined]
    context = {
        "title": _("Pipeline"), "pipelines": pipelines, "filters": filters, "stages": stages,
        "columns": columns, "owners": owner_choices(user), "teams": team_choices(user),
        "board_url": _board_url(filters), "card_limit": CARD_LIMIT,
        "lost_reasons": lost_reason_choices(),
        "open_count": sum(c.count for c in columns if not c.closed),
        "open_total": sum((c.total for c in columns if not c.closed), Decimal("0")),
        "open_weighted": sum((c.weighted for c in columns if not c.closed), Decimal("0")),
    }
    partial = bool(request.htmx) and request.htmx.target == "board"  # type: ignore[attr-defined]
    return render(request, "web/board/_board.html" if partial else "web/board/board.html",
                  context)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


def _error_text(exc: DomainError) -> str:
    details = [m for msgs in exc.fields.values() for m in msgs if m != exc.message]
    return " ".join([exc.message, *details])


def _answer(request: HttpRequest, filters: BoardFilters, stage_ids: set[int], message: str,
            *, ok: bool, status: int = 200, focus: int | None = None) -> HttpResponse:
    """htmx: the changed columns (out-of-band) and the announcement; else back to the board."""
    if not request.htmx:  # type: ignore[attr-defined]
        (messages.success if ok else messages.error)(request, message)
        return HttpResponseRedirect(_safe_next(request, _board_url(filters)))
    stages = _stages(filters.pipeline)
    columns = build_columns(request.user, filters, stages, only=stage_ids)
    for col in columns:
        for deal in col.cards:
            deal.owner_initials = initials(deal.owner)  # type: ignore[attr-defined]
    context = {"columns": columns, "stages": stages, "filters": filters, "message": message,
               "ok": ok, "board_url": _safe_next(request, _board_url(filters)),
               "focus": focus, "lost_reasons": lost_reason_choices(),
               **summary(request.user, filters, stages)}
    return render(request, "web/board/moved.html", context, status=status)


@login_required
@require_POST
def board_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal to another stage of its pipeline, through the opportunity service."""
    user = request.user
    deal = (policy.restrict(Opportunity.objects.select_related("pipeline", "stage"), user)
            .filter(pk=pk).first())
    if deal is None:
        if not request.htmx:  # type: ignore[attr-defined]
            raise Http404
        filters = parse_filters(request.POST, user)
        return _answer(request, filters, set(),
                       _("This deal does not exist or you may not see it."), ok=False,
                       status=404)
    filters = parse_filters(request.POST, user, [deal.pipeline])  # the deal's pipeline, always
    old_stage_id = deal.stage_id
    stage = Stage.objects.filter(pk=_int(request.POST.get("stage")) or 0).first()
    if stage is None:
        return _answer(request, filters, {old_stage_id}, _("Choose a stage to move the deal to."),
                       ok=False, status=422)
    if stage.pk == old_stage_id:
        return _answer(request, filters, {old_stage_id},
                       _("“%(deal)s” is already in %(stage)s.") % {"deal": deal.name,
                                                                   "stage": stage.name},
                       ok=True, focus=deal.pk)
    name = deal.name
    data: dict[str, Any] = {"stage_id": stage.pk}
    if stage.is_lost:  # the drop onto Lost asks for it (board.js), the "Move to…" form too
        data["lost_reason"] = request.POST.get("lost_reason", "").strip()
    try:
        opportunity_update(opportunity=deal, user=user, data=data)
    except DomainError as exc:
        return _answer(request, filters, {old_stage_id, stage.pk},
                       _("“%(deal)s” was not moved: %(reason)s")
                       % {"deal": name, "reason": _error_text(exc)},
                       ok=False, status=exc.status, focus=pk)
    message = _("“%(deal)s” moved to %(stage)s.") % {"deal": name, "stage": stage.name}
    if stage.is_won or stage.is_lost:
        message += " " + (_("The deal is won.") if stage.is_won else _("The deal is lost."))
    return _answer(request, filters, {old_stage_id, stage.pk}, message, ok=True, focus=pk)


urlpatterns = [
    path("deals/board/", board, name="board"),
    path("deals/<int:pk>/move/", board_move, name="board_move"),
]

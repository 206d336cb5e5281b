"""The pipeline board: one column per stage, deals as cards, moved by drag and drop, keyboard
or a plain form (issue 4, item 4).

Column figures come from one aggregate query grouped by stage and the cards from one ranked
query (at most ``CARD_LIMIT`` per column), so a manager's board over many deals costs two
queries, not one per deal. Each card's next activity and last activity are subqueries of that
same ranked query (issue 14): the cards cost no query of their own. Moves go through
``crm.services.opportunity_update``: the server decides (stage probability, won/lost status,
access) and answers with the re-drawn columns.

Whose deals: ``owner`` is ``me``, ``team``, ``all`` or one person's id. A rep opens the board
on their own deals, everyone else on all they may see; the choice stays in the URL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.access import policy
from comptoir.access.models import Role, Team, User
from comptoir.activities.models import Activity
from comptoir.core.errors import DomainError
from comptoir.crm.models import Opportunity, Pipeline, Stage
from comptoir.crm.services import lost_reason_choices, opportunity_update

CARD_LIMIT = 20  # cards drawn per column; the rest are one click away in the list
CENT = Decimal("0.01")


OWNER_SCOPES = ("me", "team", "all")


@dataclass
class BoardFilters:
    """What the board shows: one pipeline; whose deals (``owner_raw``: me, team, all or a
    person's id, resolved to ``owner_ids``; ``None`` is everything the user may see);
    optionally one team's members; optionally idle deals only."""

    pipeline: Pipeline | None
    team_id: int | None = None
    owner_raw: str = ""
    team_raw: str = ""
    owner_ids: frozenset[int] | None = None
    owner_default: str = ""
    idle: bool = False

    def query(self) -> dict[str, str]:
        out = {}
        if self.pipeline is not None and not self.pipeline.is_default:
            out["pipeline"] = str(self.pipeline.pk)
        if self.owner_raw and self.owner_raw != self.owner_default:
            out["owner"] = self.owner_raw
        if self.team_raw:
            out["team"] = self.team_raw
        if self.idle:
            out["idle"] = "1"
        return out

    @property
    def idle_days(self) -> int:
        return int(getattr(self.pipeline, "idle_days", 0) or 0)


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


def default_owner(user: Any) -> str:
    """A rep works their own deals (Pipedrive's "my deals" home); managers, data managers,
    admins and the other roles oversee, so they start on everything they may see."""
    if getattr(user, "role", None) == Role.REP and not policy.sees_all(user):
        return "me"
    return "all"


def team_member_ids(user: Any) -> frozenset[int]:
    """"My team": the members of the teams the user belongs to or leads, and everyone below
    them in the hierarchy (a manager's team is also the people reporting to them)."""
    teams = Team.objects.filter(Q(members=user.pk) | Q(leader=user.pk)).values("pk")
    ids = set(Team.members.through.objects.filter(team_id__in=teams)
              .values_list("user_id", flat=True))
    ids |= (policy.subordinate_ids(user.pk) if policy.sees_all(user)
            else set(policy.users_in_scope(user)))
    return frozenset(ids | {user.pk})


def parse_owner(params: QueryDict, user: Any) -> tuple[str, str, frozenset[int] | None]:
    """``(owner_raw, default, owner_ids)`` from the ``owner`` parameter: ``me``, ``team``,
    ``all`` or a person's id; missing or unknown, the user's default."""
    default = default_owner(user)
    raw = params.get("owner", "").strip()
    if raw not in OWNER_SCOPES and _int(raw) is None:
        raw = default
    if raw == "all":
        return raw, default, None
    if raw == "me":
        return raw, default, frozenset({user.pk})
    if raw == "team":
        return raw, default, team_member_ids(user)
    return raw, default, frozenset({_int(raw) or 0})


def parse_filters(params: QueryDict, user: Any, pipelines: list[Pipeline] | None = None
                  ) -> BoardFilters:
    pipelines = _pipelines() if pipelines is None else pipelines
    wanted = _int(params.get("pipeline"))
    pipeline = next((p for p in pipelines if p.pk == wanted), pipelines[0] if pipelines else None)
    owner_raw, owner_default, owner_ids = parse_owner(params, user)
    team_id = _int(params.get("team"))
    return BoardFilters(pipeline=pipeline, team_id=team_id,
                        owner_raw=owner_raw, team_raw=str(team_id) if team_id else "",
                        owner_ids=owner_ids, owner_default=owner_default,
                        idle=params.get("idle", "") in ("1", "on", "true"))


def _last_touch() -> Coalesce:
    """When the deal last saw activity: its latest activity's date (done, else held or
    planned to start, else logged), or the deal's creation when it has none yet."""
    latest = (Activity.objects.filter(opportunity=OuterRef("pk"))
              .annotate(at=Coalesce("done_at", "start_at", "created_at"))
              .order_by("-at").values("at")[:1])
    return Coalesce(Subquery(latest), F("created_at"))


def idle_cutoff(filters: BoardFilters) -> dt.datetime | None:
    """Deals last touched at or before this are idle (``None``: the flag is off)."""
    days = filters.idle_days
    return timezone.now() - dt.timedelta(days=days) if days > 0 else None


def deals_for(user: Any, filters: BoardFilters) -> QuerySet[Opportunity]:
    """The deals of the board's pipeline this user may see, with the owner/team/idle filters."""
    qs = policy.restrict(Opportunity.objects.filter(pipeline=filters.pipeline), user)
    if filters.owner_ids is not None:
        qs = qs.filter(owner_id__in=filters.owner_ids)
    if filters.team_id is not None:
        qs = qs.filter(owner_id__in=Team.members.through.objects
                       .filter(team_id=filters.team_id).values("user_id"))
    if filters.idle:
        cutoff = idle_cutoff(filters)
        if cutoff is None:
            return qs.none()
        qs = (qs.alias(last_touch=_last_touch())
              .filter(status=Opportunity.Status.OPEN, last_touch__lte=cutoff))
    return qs


def _with_activity(qs: QuerySet[Opportunity], user: Any) -> QuerySet[Opportunity]:
    """Each deal's next activity (the earliest open one with a date, among those the user may
    see) and last touch, as subqueries of the cards' own query."""
    upcoming = (policy.restrict(Activity.objects.filter(opportunity=OuterRef("pk"), done=False),
                                user)
                .annotate(at=Coalesce("due_at", "start_at")).filter(at__isnull=False)
                .order_by("at", "id"))
    return qs.annotate(next_at=Subquery(upcoming.values("at")[:1]),
                       next_kind=Subquery(upcoming.values("kind")[:1]),
                       next_subject=Subquery(upcoming.values("subject")[:1]),
                       touched_at=_last_touch())


def decorate(deals: list[Opportunity], filters: BoardFilters) -> None:
    """What a card shows beyond the deal's fields: owner initials, next activity, idle days."""
    now = timezone.now()
    today = timezone.localdate()
    idle_days = filters.idle_days
    kinds = dict(Activity.Kind.choices)
    for deal in deals:
        deal.owner_initials = initials(deal.owner)  # type: ignore[attr-defined]
        next_at = getattr(deal, "next_at", None)
        if next_at is not None:
            deal.next_label = kinds.get(deal.next_kind, deal.next_kind)  # type: ignore[attr-defined]
            deal.next_overdue = next_at < now  # type: ignore[attr-defined]
            # the language's own day-and-month ("6 janvier", "January 6"), the year if not this one
            deal.next_format = ("MONTH_DAY_FORMAT"  # type: ignore[attr-defined]
                                if timezone.localtime(next_at).year == today.year
                                else "DATE_FORMAT")
        touched = getattr(deal, "touched_at", None)
        deal.idle_for = None  # type: ignore[attr-defined]
        if idle_days > 0 and touched is not None:
            days = (now - touched).days
            if days >= idle_days:
                deal.idle_for = days  # type: ignore[attr-defined]


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
        for deal in _with_activity(ranked, user):
            cards.setdefault(deal.stage_id, []).append(deal)
        for col in columns:
            col.cards = cards.get(col.stage.pk, [])
    list_url = reverse("web:opportunity_list")
    for col in columns:
        params: dict[str, Any] = {"stage": col.stage.pk}
        if not col.closed:
            params["status"] = Opportunity.Status.OPEN
        if filters.owner_ids is not None:
            params["owner"] = sorted(filters.owner_ids)
        col.more_url = f"{list_url}?{urlencode(params, doseq=True)}"
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
        decorate(col.cards, filters)
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
        decorate(col.cards, filters)
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

"""Leads and cases as boards (issue 14): one column per status, cards moved by drag and drop,
arrow keys or a plain "Move to…" form, as the deals board does (``board``).

Like the deals board, a board costs a fixed number of queries whatever the number of records:
the column counts in one grouped query, the cards in one ranked query (at most ``CARD_LIMIT``
per column), which of them the user may change in one more. Moves go through the domain
services (``crm.services.lead_update``, ``service.services.case_update``), which check the right
to change, write the audit and refuse a move when someone else changed the status since the
board was drawn (the card's status is sent as the form's base value, as record forms do).

Statuses that need more than a status: a lead becomes "converted" only through the conversion
(it creates the account, the contact and maybe the deal), so its column takes no drop and says
why; the case model asks nothing more to close a case, so "Closed" takes drops. Terminal columns
(converted leads, closed cases) show this month's count without cards, as won and lost deals do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case as CaseWhen
from django.db.models import Count, F, IntegerField, Model, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from comptoir.access import policy
from comptoir.core.errors import DomainError
from comptoir.core.services import snapshot
from comptoir.crm.models import Lead
from comptoir.service.models import Case

from .board import (
    CARD_LIMIT,
    _error_text,
    _month_start,
    _safe_next,
    initials,
    owner_choices,
    parse_owner,
)


def _update_lead(obj: Any, user: Any, data: dict[str, Any]) -> Any:
    from comptoir.crm.services import lead_update

    return lead_update(lead=obj, user=user, data=data)


def _update_case(obj: Any, user: Any, data: dict[str, Any]) -> Any:
    from comptoir.service.services import case_update

    return case_update(case=obj, user=user, data=data)


_CASE_PRIORITY = CaseWhen(
    When(priority=Case.Priority.URGENT, then=Value(0)),
    When(priority=Case.Priority.HIGH, then=Value(1)),
    When(priority=Case.Priority.NORMAL, then=Value(2)),
    default=Value(3), output_field=IntegerField(),
)


@dataclass(frozen=True)
class Spec:
    """One kind of record shown as a board."""

    key: str  # "lead", "case": url names, templates, ids
    model: type[Model]
    title: Promise
    board_title: Promise
    choices: list[tuple[str, Any]]  # the status choices, in the order of the columns
    terminal: dict[str, str]  # status -> date field: counted this month, drawn without cards
    refused: dict[str, Promise]  # status -> why a card cannot be dropped there
    order: list[Any]  # the cards' order in a column
    only: tuple[str, ...]
    related: tuple[str, ...]
    list_query: str  # the list view's filter matching the board
    update: Callable[[Any, Any, dict[str, Any]], Any]
    help_text: Promise
    not_found: Promise


SPECS: dict[str, Spec] = {
    "lead": Spec(
        key="lead", model=Lead, title=_l("Leads"), board_title=_l("Leads board"),
        choices=list(Lead.Status.choices),
        terminal={Lead.Status.CONVERTED: "converted_at"},
        refused={Lead.Status.CONVERTED: _l(
            "A lead is converted with “Convert…” on its card or its page: the conversion creates "
            "the account, the contact and the deal, which a move cannot do.")},
        order=[F("score").desc(), F("created_at").desc(), F("id").desc()],
        only=("id", "status", "first_name", "last_name", "company_name", "email", "phone",
              "source", "score", "created_at", "owner__username", "owner__first_name",
              "owner__last_name"),
        related=("owner",),
        list_query="status=new&status=working&status=qualified",
        update=_update_lead,
        help_text=_l("Lead card. Press the left or right arrow key to move the lead to the "
                     "previous or next status, up or down to go to another lead, Enter to "
                     "open it."),
        not_found=_l("This lead does not exist or you may not see it."),
    ),
    "case": Spec(
        key="case", model=Case, title=_l("Cases"), board_title=_l("Cases board"),
        choices=list(Case.Status.choices),
        terminal={Case.Status.CLOSED: "closed_at"},
        refused={},
        order=[_CASE_PRIORITY.asc(), F("created_at").asc(), F("id").asc()],
        only=("id", "status", "number", "subject", "priority", "created_at",
              "account__legal_name", "owner__username", "owner__first_name", "owner__last_name"),
        related=("account", "owner"),
        list_query="status=new&status=open&status=waiting",
        update=_update_case,
        help_text=_l("Case card. Press the left or right arrow key to move the case to the "
                     "previous or next status, up or down to go to another case, Enter to "
                     "open it."),
        not_found=_l("This case does not exist or you may not see it."),
    ),
}


@dataclass
class KanbanFilters:
    """Whose records: ``owner_raw`` is me, team, all or a person's id (``parse_owner``)."""

    owner_raw: str
    owner_default: str
    owner_ids: frozenset[int] | None

    def query(self) -> dict[str, str]:
        return {"owner": self.owner_raw} if self.owner_raw != self.owner_default else {}


@dataclass
class Column:
    status: str
    label: str
    terminal: bool = False
    refused: str = ""
    count: int = 0
    cards: list[Any] = field(default_factory=list)
    more_url: str = ""

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.cards)) if not self.terminal else 0


def parse_filters(params: QueryDict, user: Any) -> KanbanFilters:
    owner_raw, owner_default, owner_ids = parse_owner(params, user)
    return KanbanFilters(owner_raw=owner_raw, owner_default=owner_default, owner_ids=owner_ids)


def records_for(spec: Spec, user: Any, filters: KanbanFilters) -> QuerySet[Any]:
    """The records of this kind the user may see, of the chosen owners."""
    qs = policy.restrict(spec.model._default_manager.all(), user)
    if filters.owner_ids is not None:
        qs = qs.filter(owner_id__in=filters.owner_ids)
    return qs


def build_columns(spec: Spec, user: Any, filters: KanbanFilters,
                  only: set[str] | None = None) -> list[Column]:
    """The columns (all, or ``only`` those statuses), with counts and at most ``CARD_LIMIT``
    cards each; terminal statuses count this month's records and draw no card."""
    columns = [Column(status=str(value), label=str(label), terminal=value in spec.terminal,
                      refused=str(spec.refused.get(value, ""))) for value, label in spec.choices]
    if only is not None:
        columns = [c for c in columns if c.status in only]
    if not columns:
        return []
    records = records_for(spec, user, filters)
    open_ids = [c.status for c in columns if not c.terminal]
    wanted = Q(status__in=open_ids)
    for col in columns:
        if col.terminal:
            wanted |= Q(status=col.status, **{f"{spec.terminal[col.status]}__gte": _month_start()})
    counts = {row["status"]: row["n"] for row in
              records.filter(wanted).order_by().values("status").annotate(n=Count("id"))}
    for col in columns:
        col.count = counts.get(col.status, 0)
    if any(counts.get(s) for s in open_ids):
        ranked = (records.filter(status__in=open_ids)
                  .annotate(rank=Window(RowNumber(), partition_by=[F("status")],
                                        order_by=spec.order))
                  .filter(rank__lte=CARD_LIMIT)
                  .select_related(*spec.related).only(*spec.only)
                  .order_by("status", "rank"))
        cards: dict[str, list[Any]] = {}
        for obj in ranked:
            obj.owner_initials = initials(obj.owner)
            cards.setdefault(obj.status, []).append(obj)
        shown = [obj.pk for objs in cards.values() for obj in objs]
        editable = _editable(spec, user, shown)
        for col in columns:
            col.cards = cards.get(col.status, [])
            for obj in col.cards:
                obj.editable = editable is None or obj.pk in editable
    list_url = reverse(f"web:{spec.key}_list")
    for col in columns:
        params: dict[str, Any] = {"status": col.status}
        if filters.owner_ids is not None:
            params["owner"] = sorted(filters.owner_ids)
        col.more_url = f"{list_url}?{urlencode(params, doseq=True)}"
    return columns


def _editable(spec: Spec, user: Any, ids: list[int]) -> set[int] | None:
    """Which of ``ids`` the user may change (``None``: all of them, known without a query)."""
    if policy.visibility_q(spec.model, user, "change") is None:
        return None
    return set(policy.restrict(spec.model._default_manager.filter(pk__in=ids), user, "change")
               .values_list("pk", flat=True))


def _board_url(spec: Spec, filters: KanbanFilters) -> str:
    query = urlencode(filters.query())
    return reverse(f"web:{spec.key}_board") + (f"?{query}" if query else "")


def _context(spec: Spec, request: HttpRequest, filters: KanbanFilters) -> dict[str, Any]:
    return {"spec": spec, "filters": filters, "statuses": spec.choices,
            "movable": [(v, label) for v, label in spec.choices if v not in spec.refused],
            "board_url": _safe_next(request, _board_url(spec, filters))
            if request.method == "POST" else _board_url(spec, filters),
            "move_url": f"web:{spec.key}_move", "detail_url": f"web:{spec.key}_detail",
            "card_template": f"web/kanban/_card_{spec.key}.html"}


def kanban(request: HttpRequest, key: str) -> HttpResponse:
    """The board; an htmx request aimed at ``#kanban`` gets the columns alone."""
    spec = SPECS[key]
    filters = parse_filters(request.GET, request.user)
    context = {
        **_context(spec, request, filters),
        "title": str(spec.board_title),
        "columns": build_columns(spec, request.user, filters),
        "owners": owner_choices(request.user),
        "list_url": reverse(f"web:{spec.key}_list") + "?" + spec.list_query,
    }
    partial = bool(request.htmx) and request.htmx.target == "kanban"  # type: ignore[attr-defined]
    return render(request, "web/kanban/_board.html" if partial else "web/kanban/board.html",
                  context)


def _answer(request: HttpRequest, spec: Spec, filters: KanbanFilters, statuses: set[str],
            message: str, *, ok: bool, status: int = 200, focus: int | None = None
            ) -> HttpResponse:
    """htmx: the changed columns (out-of-band) and the announcement; else back to the board."""
    if not request.htmx:  # type: ignore[attr-defined]
        (messages.success if ok else messages.error)(request, message)
        return HttpResponseRedirect(_safe_next(request, _board_url(spec, filters)))
    context = {**_context(spec, request, filters), "message": message, "ok": ok,
               "focus": focus, "columns": build_columns(spec, request.user, filters,
                                                        only=statuses)}
    return render(request, "web/kanban/moved.html", context, status=status)


def kanban_move(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """Give a record another status, through its service (access, audit, freshness)."""
    spec = SPECS[key]
    user = request.user
    filters = parse_filters(request.POST, user)
    obj = policy.restrict(spec.model._default_manager.all(), user).filter(pk=pk).first()
    if obj is None:
        if not request.htmx:  # type: ignore[attr-defined]
            raise Http404
        return _answer(request, spec, filters, set(), str(spec.not_found), ok=False, status=404)
    labels = dict(spec.choices)
    old, target = str(obj.status), request.POST.get("status", "")
    name = str(obj)
    if target not in labels:
        return _answer(request, spec, filters, {old}, _("Choose a status to move it to."),
                       ok=False, status=422, focus=pk)
    if target == old:
        return _answer(request, spec, filters, {old},
                       _("“%(name)s” is already in %(status)s.")
                       % {"name": name, "status": labels[target]}, ok=True, focus=pk)
    if target in spec.refused:
        return _answer(request, spec, filters, {old},
                       _("“%(name)s” was not moved: %(reason)s")
                       % {"name": name, "reason": spec.refused[target]},
                       ok=False, status=422, focus=pk)
    shown = request.POST.get("from", "")
    if shown in labels:  # refuse if someone else changed the status since the board was drawn
        obj._base_values = {**snapshot(obj), "status": shown}
    try:
        spec.update(obj, user, {"status": target})
    except DomainError as exc:
        return _answer(request, spec, filters, {old, shown, target} & set(labels),
                       _("“%(name)s” was not moved: %(reason)s")
                       % {"name": name, "reason": _error_text(exc)},
                       ok=False, status=exc.status, focus=pk)
    return _answer(request, spec, filters, {old, target},
                   _("“%(name)s” moved to %(status)s.") % {"name": name, "status": labels[target]},
                   ok=True, focus=pk)


board_view = login_required(kanban)
move_view = login_required(require_POST(kanban_move))

urlpatterns = [
    path("leads/board/", board_view, {"key": "lead"}, name="lead_board"),
    path("leads/<int:pk>/move/", move_view, {"key": "lead"}, name="lead_move"),
    path("cases/board/", board_view, {"key": "case"}, name="case_board"),
    path("cases/<int:pk>/move/", move_view, {"key": "case"}, name="case_move"),
]

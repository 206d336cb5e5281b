"""The home page, one per profile (R10).

A rep starts the day with today's tasks and meetings, the deals closing this month and what
others changed on their records; a manager sees the team's pipeline and forecast; service the
open cases by priority; the data manager data quality and sync health; marketing the new
leads; an administrator of a new instance the set-up steps still to do (``views/setup``).
Every section is a bounded query or an aggregate (no loop over records), read through
the visibility policy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Case as DjCase
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Length
from django.db.models.lookups import Exact
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from comptoir.access import policy
from comptoir.access.models import Role
from comptoir.activities.models import Activity
from comptoir.activities.services import is_all_day
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.feeds import services as feeds
from comptoir.feeds.reminders import reminders_send
from comptoir.integration.models import QuarantinedRecord
from comptoir.quality.models import DuplicatePair, PromotionRequest
from comptoir.service.models import Case
from comptoir.web.listing import period_range
from comptoir.web.views.feeds import catch_up, connection_health, notification_rows
from comptoir.web.views.setup import setup_card

ZERO = Decimal("0")
MONEY: DecimalField[Decimal, Decimal] = DecimalField(max_digits=20, decimal_places=2)
WEIGHTED = ExpressionWrapper(F("amount") * F("probability") / Value(Decimal("100")),
                             output_field=MONEY)
OPEN_CASE = (Case.Status.NEW, Case.Status.OPEN, Case.Status.WAITING)
PRIORITIES = (Case.Priority.URGENT, Case.Priority.HIGH, Case.Priority.NORMAL,
              Case.Priority.LOW)
QUALITY_CACHE_KEY = "web:home:data-quality"
QUALITY_CACHE_SECONDS = 300
FEED_SIZE = 10


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _period(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) of a closed named period (week, month, quarter), as the lists use them."""
    start, end = period_range(name, today)
    if start is None or end is None:
        raise ValueError(name)
    return start, end


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _sum(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _list_url(name: str, query: str = "") -> str:
    return reverse(f"web:{name}") + (f"?{query}" if query else "")


# --- Sections ------------------------------------------------------------------------------

def today_section(user: Any, today: dt.date) -> dict[str, Any]:
    """Meetings and tasks of the day, then the open tasks already overdue (latest first)."""
    start, end = _day_bounds(today)
    today_q = Q(start_at__gte=start, start_at__lt=end) | Q(due_at__gte=start, due_at__lt=end)
    overdue_q = Q(done=False, due_at__lt=start)
    mine = policy.restrict(Activity.objects.filter(owner=user), user)
    counts = mine.filter(today_q | overdue_q).aggregate(
        today=Count("id", filter=today_q), overdue=Count("id", filter=overdue_q))
    items = list(mine.filter(today_q).annotate(when=Coalesce("start_at", "due_at"))
                 .select_related("account").order_by("when", "id")[:10])
    overdue = list(mine.filter(overdue_q).select_related("account")
                   .order_by("-due_at", "-id")[:5]) if counts["overdue"] else []
    for item in overdue:
        item.overdue = True
    for item in items:  # a task due on the day without a time (00:00) says so
        item.all_day = item.start_at is None and item.due_at is not None \
            and is_all_day(item.due_at)
    return {"items": items + overdue, "today": counts["today"], "overdue": counts["overdue"],
            "more": counts["today"] > len(items) or counts["overdue"] > len(overdue),
            "today_url": _list_url("activity_list", "owner=me&due=today"),
            "overdue_url": _list_url("activity_list", "owner=me&done=0&due=overdue"),
            "new_url": reverse("web:activity_create")}


def deals_month_section(user: Any, today: dt.date) -> dict[str, Any]:
    """The user's open deals expected to close this month, with their amounts."""
    start, end = _period("month", today)
    qs = policy.restrict(Opportunity.objects.filter(
        owner=user, status=Opportunity.Status.OPEN, expected_close_date__gte=start,
        expected_close_date__lt=end), user)
    totals = qs.aggregate(n=Count("id"), total=Sum("amount"), weighted=Sum(WEIGHTED))
    deals = list(qs.select_related("account", "stage").order_by("expected_close_date", "-amount",
                                                                "id")[:8])
    return {"deals": deals, "count": totals["n"], "amount": _sum(totals["total"]),
            "weighted": _sum(totals["weighted"]),
            "see_all": _list_url("opportunity_list", "owner=me&status=open&close=month"),
            "board_url": reverse("web:board")}


def _bars(rows: list[dict[str, Any]], key: str = "amount") -> list[dict[str, Any]]:
    """Bar lengths (percent of the largest) for the server-drawn SVG charts."""
    top = max((Decimal(r[key] or 0) for r in rows), default=ZERO)
    for r in rows:
        r["pct"] = float(Decimal(r[key] or 0) / top * 100) if top else 0.0
        if "weighted" in r:
            r["wpct"] = float(Decimal(r["weighted"] or 0) / top * 100) if top else 0.0
    return rows


def pipeline_section(user: Any, today: dt.date) -> dict[str, Any]:
    """The team's open pipeline by stage, the forecast, top deals and totals per rep."""
    visible = policy.restrict(Opportunity.objects.all(), user)
    open_deals = visible.filter(status=Opportunity.Status.OPEN)
    stages = list(open_deals.values("stage_id", "stage__name", "stage__order",
                                    "stage__pipeline__name")
                  .annotate(n=Count("id"), total=Sum("amount"), weighted=Sum(WEIGHTED))
                  .order_by("stage__pipeline__name", "stage__order", "stage_id"))
    for row in stages:
        row["amount"], row["weighted"] = _sum(row.pop("total")), _sum(row["weighted"])
    pipelines = {row["stage__pipeline__name"] for row in stages}
    total = {"n": sum(r["n"] for r in stages), "amount": sum((r["amount"] for r in stages), ZERO),
             "weighted": sum((r["weighted"] for r in stages), ZERO)}
    forecast = forecast_figures(visible, today)
    q_start, q_end = _period("quarter", today)
    won_q = Q(status=Opportunity.Status.WON, closed_at__gte=_aware(q_start),
              closed_at__lt=_aware(q_end))
    reps = list(visible.filter(Q(status=Opportunity.Status.OPEN) | won_q)
                .values("owner_id", "owner__first_name", "owner__last_name", "owner__username")
                .annotate(n=Count("id", filter=Q(status=Opportunity.Status.OPEN)),
                          total=Sum("amount", filter=Q(status=Opportunity.Status.OPEN)),
                          weighted=Sum(WEIGHTED, filter=Q(status=Opportunity.Status.OPEN)),
                          won=Sum("amount", filter=won_q))
                .order_by(F("total").desc(nulls_last=True), "owner_id")[:15])
    for r in reps:
        name = f"{r['owner__first_name'] or ''} {r['owner__last_name'] or ''}".strip()
        r["name"] = name or r["owner__username"] or _("Nobody")
        r["amount"], r["weighted"], r["won"] = (_sum(r.pop("total")), _sum(r["weighted"]),
                                                _sum(r["won"]))
    top = list(open_deals.select_related("account", "owner", "stage")
               .order_by("-amount", "id")[:5])
    return {"stages": _bars(stages), "several_pipelines": len(pipelines) > 1, "total": total,
            "forecast": forecast, "reps": reps, "top": top,
            "board_url": reverse("web:board"),
            "list_url": _list_url("opportunity_list", "status=open")}


def forecast_figures(visible: QuerySet[Opportunity], today: dt.date) -> list[dict[str, Any]]:
    """This month and this quarter: won so far + open deals weighted by their probability."""
    periods = {"month": _period("month", today), "quarter": _period("quarter", today)}
    q_start, q_end = periods["quarter"]
    scoped = visible.filter(
        Q(status=Opportunity.Status.OPEN, expected_close_date__gte=q_start,
          expected_close_date__lt=q_end)
        | Q(status=Opportunity.Status.WON, closed_at__gte=_aware(q_start),
            closed_at__lt=_aware(q_end)))
    aggregates: dict[str, Any] = {}
    for key, (start, end) in periods.items():
        is_open = Q(status=Opportunity.Status.OPEN, expected_close_date__gte=start,
                    expected_close_date__lt=end)
        is_won = Q(status=Opportunity.Status.WON, closed_at__gte=_aware(start),
                   closed_at__lt=_aware(end))
        aggregates[f"{key}_open"] = Sum("amount", filter=is_open)
        aggregates[f"{key}_weighted"] = Sum(WEIGHTED, filter=is_open)
        aggregates[f"{key}_won"] = Sum("amount", filter=is_won)
        aggregates[f"{key}_n"] = Count("id", filter=is_open)
    values = scoped.aggregate(**aggregates)
    labels = {"month": _("This month"), "quarter": _("This quarter")}
    queries = {"month": "status=open&close=month", "quarter": "status=open&close=quarter"}
    out = []
    for key in periods:
        won, weighted = _sum(values[f"{key}_won"]), _sum(values[f"{key}_weighted"])
        out.append({"key": key, "label": labels[key], "won": won, "weighted": weighted,
                    "open": _sum(values[f"{key}_open"]), "n": values[f"{key}_n"],
                    "forecast": won + weighted,
                    "url": _list_url("opportunity_list", queries[key])})
    return out


def cases_section(user: Any) -> dict[str, Any]:
    """Open cases by priority (one aggregate), the oldest urgent ones, and the user's own."""
    visible = policy.restrict(Case.objects.filter(status__in=OPEN_CASE), user)
    aggregates: dict[str, Any] = {p: Count("id", filter=Q(priority=p)) for p in PRIORITIES}
    figures = visible.aggregate(total=Count("id"), mine=Count("id", filter=Q(owner=user)),
                                unassigned=Count("id", filter=Q(owner__isnull=True)),
                                **aggregates)
    labels = dict(Case.Priority.choices)
    by_priority = _bars([{"priority": p, "label": labels[p], "n": figures[p],
                          "amount": figures[p],
                          "url": _list_url("case_list", f"priority={p}&status=new&status=open"
                                                        "&status=waiting")}
                         for p in PRIORITIES])
    oldest = list(visible.filter(priority__in=(Case.Priority.URGENT, Case.Priority.HIGH))
                  .select_related("account", "owner").order_by("created_at", "id")[:8])
    rank = DjCase(*[When(priority=p, then=Value(i)) for i, p in enumerate(PRIORITIES)],
                  default=Value(len(PRIORITIES)), output_field=IntegerField())
    mine = list(visible.filter(owner=user).select_related("account")
                .order_by(rank, "created_at", "id")[:8])
    return {"figures": figures, "by_priority": by_priority, "oldest": oldest, "mine": mine,
            "open_url": _list_url("case_list", "status=new&status=open&status=waiting"),
            "mine_url": _list_url("case_list", "owner=me&status=new&status=open&status=waiting")}


def data_quality(refresh: bool = False) -> dict[str, Any]:
    """Gaps in the account base: full scans, so kept for five minutes (per process)."""
    if not refresh:
        cached = cache.get(QUALITY_CACHE_KEY)
        if cached is not None:
            return dict(cached)
    missing_address = Q(billing_street="") | Q(billing_postcode="") | Q(billing_city="")
    figures = Account.objects.aggregate(
        total=Count("id"), missing_siren=Count("id", filter=Q(siren="")),
        missing_address=Count("id", filter=missing_address),
        malformed_siren=Count("id", filter=~Q(siren="") & ~Q(Exact(Length("siren"), 9))),
    )
    figures["no_contact"] = Account.objects.filter(
        ~Exists(Contact.objects.filter(account_id=OuterRef("pk")))).count()
    figures["unreachable_contacts"] = Contact.objects.filter(email="", phone="",
                                                             mobile="").count()
    figures["computed_at"] = timezone.now()
    cache.set(QUALITY_CACHE_KEY, figures, QUALITY_CACHE_SECONDS)
    return figures


def data_section(refresh: bool = False) -> dict[str, Any]:
    quality = data_quality(refresh)
    total = quality["total"] or 0
    rows = [
        {"label": _l("Accounts without SIREN"), "n": quality["missing_siren"]},
        {"label": _l("Accounts with an incomplete billing address"),
         "n": quality["missing_address"]},
        {"label": _l("Accounts without any contact"), "n": quality["no_contact"]},
        {"label": _l("Malformed SIREN (not 9 characters)"), "n": quality["malformed_siren"]},
        {"label": _l("Contacts without e-mail or phone"), "n": quality["unreachable_contacts"]},
    ]
    for r in rows:
        r["pct"] = None  # the share of accounts, for the checks on accounts only
    for r in rows[:4]:
        r["pct"] = float(r["n"] * 100 / total) if total else 0.0
    health = connection_health()
    return {"quality": quality, "rows": rows, "health": health,
            "quarantined": QuarantinedRecord.objects.filter(
                status=QuarantinedRecord.Status.OPEN).count(),
            "failing": sum(1 for h in health if h["failed"] or h["late"]),
            "open_pairs": DuplicatePair.objects.filter(
                status=DuplicatePair.Status.OPEN).count(),
            "pending_promotions": PromotionRequest.objects.filter(
                status=PromotionRequest.Status.PENDING).count(),
            "sync_url": reverse("web:sync")}


def leads_section(user: Any, today: dt.date) -> dict[str, Any]:
    """New leads this week by source, every lead by status, the latest ones."""
    visible = policy.restrict(Lead.objects.all(), user)
    week_start, _end = _period("week", today)
    sources = dict(Lead.Source.choices)
    by_source = _bars([{"source": r["source"], "label": sources.get(r["source"], r["source"]),
                        "n": r["n"], "amount": r["n"]}
                       for r in visible.filter(created_at__gte=_aware(week_start))
                       .values("source").annotate(n=Count("id")).order_by("-n", "source")])
    statuses = dict(Lead.Status.choices)
    counts = dict(visible.values("status").annotate(n=Count("id")).values_list("status", "n"))
    by_status = [{"status": s, "label": label, "n": counts.get(s, 0),
                  "url": _list_url("lead_list", f"status={s}")}
                 for s, label in statuses.items()]
    latest = list(visible.select_related("owner").order_by("-created_at", "-id")[:6])
    return {"by_source": by_source, "week_total": sum(r["n"] for r in by_source),
            "by_status": by_status, "latest": latest,
            "week_url": _list_url("lead_list", "created=week"),
            "new_url": reverse("web:lead_create")}


def feed_section(user: Any) -> dict[str, Any]:
    return {"entries": feeds.feed_for(user, FEED_SIZE)}


def notifications_section(user: Any) -> dict[str, Any]:
    recent = feeds.notifications_for(user, unread=True)[:5]
    return {"rows": notification_rows(user, recent)}


# --- The page ------------------------------------------------------------------------------

PROFILE_SECTIONS: dict[str, tuple[str, ...]] = {
    Role.REP: ("today", "deals_month", "feed", "notifications"),
    Role.MANAGER: ("pipeline", "today", "feed", "notifications"),
    Role.SERVICE: ("cases", "today", "feed", "notifications"),
    Role.DATA_MANAGER: ("data", "notifications", "feed"),
    Role.ADMIN: ("health", "data", "notifications", "feed"),
    Role.MARKETING: ("leads", "today", "feed", "notifications"),
}


def health_section() -> dict[str, Any]:
    """The installation's health for administrators (what ``comptoir doctor`` says)."""
    from comptoir.core.health import run_checks

    checks = run_checks(integrity=False)  # the worker's last check: a page reads no base
    return {"checks": checks, "problems": [c for c in checks if c.level != "ok"]}


def profile_of(user: Any) -> str:
    role = getattr(user, "role", Role.REP)
    return role if role in PROFILE_SECTIONS else Role.REP


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    catch_up()
    with contextlib.suppress(DatabaseError):  # the worker sends them too; a page never fails
        reminders_send(user=user)  # this user's reminders now, not at the worker's next round
    today = timezone.localdate()
    profile = profile_of(user)
    wanted = PROFILE_SECTIONS[profile]
    builders = {
        "today": lambda: today_section(user, today),
        "deals_month": lambda: deals_month_section(user, today),
        "pipeline": lambda: pipeline_section(user, today),
        "cases": lambda: cases_section(user),
        "data": lambda: data_section(refresh=request.GET.get("refresh") == "1"),
        "leads": lambda: leads_section(user, today),
        "feed": lambda: feed_section(user),
        "notifications": lambda: notifications_section(user),
        "health": health_section,
    }
    sections = {name: builders[name]() for name in wanted}
    card = setup_card(request)  # an administrator's "Get started" on a new instance
    if card is not None:
        sections["setup"] = card
        wanted = ("setup", *wanted)
    return render(request, "web/home/home.html", {
        "title": _("Home"), "profile": profile, "order": wanted, "s": sections,
        "today": today, "hour": timezone.localtime().hour,
    })


urlpatterns = [
    path("", home, name="home"),
]

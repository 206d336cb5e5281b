"""Notifications, the Follow toggle, and the data manager's sync page (R11, I-series).

The sync page reads the integration's own rows (connections, runs, quarantine) and acts only
through its services: ``sync_run_start`` + the worker task for "Run now", and
``quarantine_replay``. A run's page polls itself every two seconds while the run is alive, so
one can leave it and come back.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from comptoir.access import policy
from comptoir.core.errors import DomainError
from comptoir.feeds import services as feeds
from comptoir.feeds.models import Notification
from comptoir.integration.models import Connection, FieldIssue, QuarantinedRecord, SyncRun
from comptoir.web.objects import OBJECTS, detail_url_for
from comptoir.web.templatetags.feeds import follow_context
from comptoir.web.views.quality_issues import field_label, issue_rows

# Events handled when a page asks for the notifications: enough for people's own changes;
# a page never waits for a big import's events (the worker handles those).
CATCH_UP_EVENTS = 500
NOTIFICATIONS_PER_PAGE = 30
RUN_ISSUES_PER_PAGE = 25


def catch_up() -> None:
    """Bring the notifications up to date before showing them (bounded; never fails a page)."""
    with contextlib.suppress(DomainError):
        feeds.notifications_catch_up(limit=CATCH_UP_EVENTS)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


# --- Notifications -------------------------------------------------------------------------

def notification_url(n: Notification) -> str:
    """Where a notification leads: the record, or the user's list for a digest."""
    if n.object_type not in OBJECTS:
        return ""
    if n.object_id is None:
        return reverse(f"web:{OBJECTS[n.object_type][1]}_list") + "?owner=me"
    if n.action == "deleted":
        return ""
    return detail_url_for(n.object_type, n.object_id)


def notification_rows(user: Any, notifications: Any) -> list[dict[str, Any]]:
    return [{"n": n, "text": feeds.notification_text(n), "url": notification_url(n),
             "open_url": reverse("web:notification_open", args=[n.pk])}
            for n in feeds.visible_notifications(user, notifications)]


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    catch_up()
    unread_only = request.GET.get("show") == "unread"
    qs = feeds.notifications_for(request.user, unread=unread_only)
    page = Paginator(qs, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/feeds/notifications.html", {
        "title": _("Notifications"),
        "rows": notification_rows(request.user, page.object_list),
        "page_obj": page, "unread_only": unread_only,
        "unread": feeds.unread_count(request.user),
    })


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    done = feeds.notifications_mark_read(user=request.user)
    if done:
        messages.success(request, _("All notifications are marked as read."))
    return HttpResponseRedirect(_safe_next(request, reverse("web:notifications")))


@login_required
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go to what it is about."""
    n = get_object_or_404(Notification, pk=pk, user=request.user)
    feeds.notifications_mark_read(user=request.user, ids=[n.pk])
    target = notification_url(n) if feeds.visible_notifications(request.user, [n]) else ""
    if not target:
        messages.info(request, _("This record is no longer available."))
        return HttpResponseRedirect(reverse("web:notifications"))
    return HttpResponseRedirect(target)


# --- Follow --------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def follow(request: HttpRequest, object_type: str, pk: int) -> HttpResponse:
    """POST toggles following; GET shows the record's Follow button on a page of its own."""
    if object_type not in feeds.FOLLOWABLE or object_type not in OBJECTS:
        raise Http404
    model = feeds.model_for(object_type)
    obj = get_object_or_404(policy.restrict(model._default_manager.all(), request.user), pk=pk)
    record_url = detail_url_for(object_type, obj.pk)
    if request.method == "POST":
        following = feeds.follow_toggle(user=request.user, object_type=object_type,
                                        object_id=obj.pk)
        if not request.htmx:  # type: ignore[attr-defined]
            messages.success(request, (_("You follow “%(name)s”: its changes will show on "
                                         "your home page.") if following else
                                       _("You no longer follow “%(name)s”.")) % {"name": obj})
            return HttpResponseRedirect(_safe_next(request, record_url))
    else:
        following = feeds.is_following(request.user, object_type, obj.pk)
    context = follow_context(request=request, object_type=object_type, pk=obj.pk,
                             following=following, csrf_token=get_token(request),
                             title=str(obj))
    if request.htmx:  # type: ignore[attr-defined]
        context["next"] = _safe_next(request, record_url)
        return render(request, "web/feeds/follow_button.html", context)
    context["next"] = request.get_full_path()
    return render(request, "web/feeds/follow.html", {
        **context, "obj": obj, "record_url": record_url, "title": str(obj),
        "kind": model._meta.verbose_name})


# --- Sync ----------------------------------------------------------------------------------

def _require_data_manager(request: HttpRequest) -> None:
    """The sync pages exist only for data managers and administrators (404 for others)."""
    if not policy.sees_all(request.user):
        raise Http404


def connection_health(limit: int = 50) -> list[dict[str, Any]]:
    """Each connection with its last run, last success, open quarantine and open left-out
    values: four queries."""
    last_run = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-id").values("id")[:1]
    last_ok = (SyncRun.objects.filter(connection=OuterRef("pk"), dry_run=False,
                                      status=SyncRun.Status.SUCCEEDED)
               .order_by("-id").values("finished_at")[:1])
    connections = list(Connection.objects.annotate(last_run_id=Subquery(last_run),
                                                   last_ok_at=Subquery(last_ok))
                       .order_by("name")[:limit])
    runs = SyncRun.objects.in_bulk([c.last_run_id for c in connections if c.last_run_id])
    open_q = dict(QuarantinedRecord.objects.filter(status=QuarantinedRecord.Status.OPEN)
                  .values("connection_id").annotate(n=Count("id"))
                  .values_list("connection_id", "n"))
    open_issues = dict(FieldIssue.objects.filter(status=FieldIssue.Status.OPEN)
                       .values("connection_id").annotate(n=Count("id")).order_by()
                       .values_list("connection_id", "n"))
    now = timezone.now()
    out = []
    for c in connections:
        run = runs.get(c.last_run_id) if c.last_run_id else None
        age = (now - c.last_ok_at).total_seconds() if c.last_ok_at else None
        late = bool(c.schedule_minutes and (age is None or age > c.schedule_minutes * 60 * 2))
        out.append({
            "connection": c, "run": run, "last_ok_at": c.last_ok_at, "age_seconds": age,
            "late": late, "quarantined": open_q.get(c.pk, 0),
            "dropped": open_issues.get(c.pk, 0),
            "alive": run is not None and run.status in (SyncRun.Status.PENDING,
                                                        SyncRun.Status.RUNNING),
            "failed": run is not None and run.status == SyncRun.Status.FAILED,
        })
    return out


def _live(request: HttpRequest) -> dict[str, Any]:
    """Connections and recent runs: the part of the sync page that polls while a run lives."""
    qs = SyncRun.objects.select_related("connection").order_by("-id")
    name = request.GET.get("connection", "")
    if name:
        qs = qs.filter(connection__name=name)
    runs = list(qs[:15])
    health = connection_health()
    alive = (SyncRun.Status.PENDING, SyncRun.Status.RUNNING)
    return {"runs": runs, "health": health, "connection_filter": name,
            "dropped_open": sum(h["dropped"] for h in health),
            "any_alive": any(r.status in alive for r in runs) or any(h["alive"] for h in health)}


def label_quarantine_fields(records: Any) -> None:
    """Set ``field_label`` on each quarantined row: the field's name on the stream's target
    model, as the left-out values show it. Each connection's mapping is parsed once (no
    query); a mapping that no longer parses or lacks the stream keeps the recorded name."""
    from comptoir.integration.services import connection_mapping

    targets: dict[int, dict[str, str]] = {}
    for record in records:
        record.field_label = record.field
        if not record.field:
            continue
        if record.connection_id not in targets:
            try:
                streams = connection_mapping(record.connection).streams
                targets[record.connection_id] = {k: m.target for k, m in streams.items()}
            except Exception:  # a broken mapping shows on the connection; names stay
                targets[record.connection_id] = {}
        target = targets[record.connection_id].get(record.stream)
        if target:
            record.field_label = field_label(target, record.field)


@login_required
def sync(request: HttpRequest) -> HttpResponse:
    _require_data_manager(request)
    name = request.GET.get("connection", "")
    quarantine = (QuarantinedRecord.objects.filter(status=QuarantinedRecord.Status.OPEN)
                  .select_related("connection").order_by("-id"))
    if name:
        quarantine = quarantine.filter(connection__name=name)
    page = Paginator(quarantine, 20).get_page(request.GET.get("page"))
    label_quarantine_fields(page.object_list)
    return render(request, "web/feeds/sync.html", {
        "title": _("Sync"), **_live(request),
        "page_obj": page, "quarantine": page.object_list,
    })


@login_required
def sync_runs(request: HttpRequest) -> HttpResponse:
    """Connections and recent runs (polled by the sync page while a run is alive)."""
    _require_data_manager(request)
    template = ("web/feeds/sync_live.html" if request.htmx  # type: ignore[attr-defined]
                else "web/feeds/sync_runs_page.html")
    return render(request, template, {"title": _("Sync runs"), **_live(request)})


@login_required
@require_POST
def sync_run_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a run for the worker, as the API does, and follow its progress on its page.

    The message says "started", not "queued": with an immediate task backend the run has
    already finished when the page shows it, and the run page tells its actual status."""
    return _queue_run(request, pk, _("Run %(id)s of %(name)s started."),
                      trigger=SyncRun.Trigger.WEB)


@login_required
@require_POST
def sync_reconcile(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a reconciliation (a run that compares and writes nothing) and show its report
    on the run's page."""
    return _queue_run(request, pk, _("Reconciliation %(id)s of %(name)s is queued."),
                      trigger=SyncRun.Trigger.RECONCILE, full=True, dry_run=True)


def _queue_run(request: HttpRequest, pk: int, said: str, **options: Any) -> HttpResponse:
    """Start a run of a connection for the worker and go to its page (a refusal, such as a
    run already alive, is a message on the sync page)."""
    _require_data_manager(request)
    from comptoir.integration.services import sync_run_start
    from comptoir.integration.tasks import execute_run

    connection = get_object_or_404(Connection, pk=pk)
    try:
        run = sync_run_start(connection, user=request.user, **options)
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("web:sync"))
    transaction.on_commit(lambda: execute_run.enqueue(run.pk))
    messages.success(request, said % {"id": run.pk, "name": connection})
    return HttpResponseRedirect(reverse("web:sync_run", args=[run.pk]))


def _totals_match(values: dict[str, Any]) -> bool:
    """The CRM's total is the source's less what waits in quarantine."""
    try:
        return (Decimal(values["source"]) - Decimal(values.get("held") or 0)
                == Decimal(values["crm"]))
    except (KeyError, ArithmeticError, TypeError, ValueError):
        return False


def reconcile_context(details: Any) -> dict[str, Any] | None:
    """A reconciliation's report as the run page shows it (None for other runs)."""
    report = details.get("reconcile") if isinstance(details, dict) else None
    if not isinstance(report, dict):
        return None
    streams = []
    for stream in report.get("streams") or []:
        totals = [{"name": name, **values, "same": _totals_match(values)}
                  for name, values in (stream.get("totals") or {}).items()]
        streams.append({**stream, "totals": totals})
    return {**report, "streams": streams}


@login_required
def sync_run(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: status, counts per stream, the source's figures; live while it runs. The
    full page also lists the values the run left out (not the polled part: a list being
    paged through must not reset every two seconds)."""
    _require_data_manager(request)
    run = get_object_or_404(SyncRun.objects.select_related("connection", "requested_by"),
                            pk=pk)
    details = run.details if isinstance(run.details, dict) else {}
    context = {
        "title": _("Run %(id)s") % {"id": run.pk}, "run": run,
        "alive": run.status in (SyncRun.Status.PENDING, SyncRun.Status.RUNNING),
        "streams": sorted((details.get("streams") or {}).items()),
        "source": sorted((details.get("source") or {}).items()),
        "reconcile": reconcile_context(details),
        "quarantined_open": run.quarantined_records.filter(
            status=QuarantinedRecord.Status.OPEN).count(),
        "elapsed": ((run.finished_at or timezone.now()) - run.started_at).total_seconds()
        if run.started_at else None,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/feeds/sync_run_status.html", context)
    # Open ones first: what this run left out and is still missing, then what it brought
    # back valid (an issue's last run is the one that last changed it).
    issues = (FieldIssue.objects.filter(last_run=run).select_related("connection")
              .order_by("status", "id"))  # "open" sorts before "resolved"
    page = Paginator(issues, RUN_ISSUES_PER_PAGE).get_page(request.GET.get("page"))
    context.update(issues=issue_rows(page.object_list), page_obj=page)
    return render(request, "web/feeds/sync_run.html", context)


@login_required
@require_POST
def sync_replay(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply a quarantined record again; the row tells how it went."""
    _require_data_manager(request)
    from comptoir.integration.quarantine import quarantine_retry

    record = get_object_or_404(QuarantinedRecord.objects.select_related("connection"), pk=pk)
    error = ""
    try:  # the same checks as the correction page (an import's row refused by its keys)
        record = quarantine_retry(record, user=request.user)
    except DomainError as exc:
        error = exc.message
    except Exception as exc:  # a broken mapping or connector: say so, never a 500
        error = _("The record could not be replayed: %(error)s") % {"error": exc}
    ok = not error and record.status == QuarantinedRecord.Status.REPLAYED
    if ok:
        outcome = _("Replayed: the record is now in the CRM.")
    else:
        outcome = error or _("Still refused: %(reason)s") % {"reason": record.reason}
    if request.htmx:  # type: ignore[attr-defined]
        label_quarantine_fields([record])
        return render(request, "web/feeds/quarantine_row.html",
                      {"q": record, "outcome": outcome, "ok": ok})
    if ok:
        messages.success(request, outcome)
    else:
        messages.error(request, outcome)
    return HttpResponseRedirect(reverse("web:sync") + "#quarantine")


urlpatterns = [
    path("notifications/", notifications, name="notifications"),
    path("notifications/read/", notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/open/", notification_open, name="notification_open"),
    path("follow/<str:object_type>/<int:pk>/", follow, name="follow"),
    path("sync/", sync, name="sync"),
    path("sync/runs/", sync_runs, name="sync_runs"),
    path("sync/runs/<int:pk>/", sync_run, name="sync_run"),
    path("sync/connections/<int:pk>/run/", sync_run_now, name="sync_run_now"),
    path("sync/quarantine/<int:pk>/replay/", sync_replay, name="sync_replay"),
    path("sync/connections/<int:pk>/reconcile/", sync_reconcile, name="sync_reconcile"),
]

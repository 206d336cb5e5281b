"""Data-quality area: promotions of prospects to ERP customers (I7).

The queue and a request's page are for data managers and administrators (the frame of
``views/quality.py`` refuses the others). The decisions post to small views that call one
service each and come back to the request's page with a message. A rep asks for a promotion
from an account's page (``account_promotion_request``), which sends them back there.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.access import policy
from comptoir.core.errors import DomainError
from comptoir.crm.models import Account
from comptoir.quality import promotion
from comptoir.quality.models import PromotionRequest
from comptoir.quality.wording import reason_rows
from comptoir.web.objects import detail_url

from .quality import render_quality, require_data_manager

PER_PAGE = 20
TONES = {"pending": "warning", "approved": "success", "rejected": "danger", "merged": "info"}


def _status_filter(raw: str | None) -> str:
    """``pending`` by default; ``all`` or one status."""
    if raw == "all" or raw in PromotionRequest.Status.values:
        return str(raw)
    return PromotionRequest.Status.PENDING


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The queue: pending requests first, filtered by status, paginated."""
    require_data_manager(request)
    promotion.promotions_catch_up()
    status = _status_filter(request.GET.get("status"))
    qs = promotion.promotions_visible(request.user,
                                      status=None if status == "all" else status)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    statuses = [("pending", _("To review")), ("approved", _("Approved")),
                ("rejected", _("Rejected")), ("merged", _("Merged")), ("all", _("All"))]
    return render_quality(request, "web/quality/promotion.html", {
        "page_obj": page, "requests": [(r, TONES.get(r.status, "neutral"))
                                       for r in page.object_list],
        "status": status, "statuses": statuses,
    }, tab="promotions")


def _duplicate_rows(review: promotion.Review) -> list[dict[str, Any]]:
    return [{"candidate": c, "url": reverse("web:account_detail", args=[c.id]),
             "reasons": reason_rows(c.reasons)} for c in review.duplicates]


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request: the account, what triggered it, the ERP gaps, the customers it may be,
    and the decisions."""
    require_data_manager(request)
    try:
        req = promotion.promotion_get(request.user, pk)
    except DomainError as exc:
        raise Http404 from exc
    review = promotion.promotion_review(req, user=request.user)
    account = req.account
    return render_quality(request, "web/quality/promotion_detail.html", {
        "req": req, "review": review, "account": account,
        "account_url": detail_url(account),
        "account_edit_url": reverse("web:account_edit", args=[account.pk]),
        "document_url": detail_url(req.document) if req.document else "",
        "duplicates": _duplicate_rows(review),
        "tone": TONES.get(req.status, "neutral"),
        "pending": req.status == PromotionRequest.Status.PENDING,
    }, tab="promotions")


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one decision, say how it went, and come back to the request's page."""
    require_data_manager(request)
    back = HttpResponseRedirect(reverse("web:quality_promotion_detail", args=[pk]))
    try:
        req = promotion.promotion_get(request.user, pk)
        if action == "approve":
            promotion.promotion_approve(request=req, user=request.user, source="ui")
            messages.success(request, _("Approved: %(account)s is now a customer and will be "
                                        "created in the ERP by the next outbound run.")
                             % {"account": req.account})
        elif action == "reject":
            promotion.promotion_reject(request=req, user=request.user,
                                       note=request.POST.get("note", ""))
            messages.success(request, _("Promotion rejected."))
        else:
            raw = request.POST.get("customer_id", "")
            customer_id = int(raw) if raw.isdigit() else 0
            done = promotion.promotion_merge(request=req, user=request.user,
                                             customer_id=customer_id, source="ui")
            messages.success(request, _("Merged into %(customer)s.")
                             % {"customer": done.account})
    except DomainError as exc:
        details = [m for ms in exc.fields.values() for m in ms]
        messages.error(request, " ".join([exc.message, *details]))
    return back


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "approve")


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "reject")


@login_required
@require_POST
def merge_into(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "merge")


@login_required
@require_POST
def account_request(request: HttpRequest, pk: int) -> HttpResponse:
    """A rep asks for the promotion of a prospect they see; back to the account's page."""
    account = get_object_or_404(policy.restrict(Account.objects.all(), request.user), pk=pk)
    try:
        _req, created = promotion.promotion_request(account=account, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Promotion to the ERP requested: a data manager will "
                                    "review it.") if created else
                         _("A promotion request is already waiting for a data manager."))
    return HttpResponseRedirect(detail_url(account))


urlpatterns = [
    path("quality/promotions/", index, name="quality_promotions"),
    path("quality/promotions/<int:pk>/", detail, name="quality_promotion_detail"),
    path("quality/promotions/<int:pk>/approve/", approve, name="quality_promotion_approve"),
    path("quality/promotions/<int:pk>/reject/", reject, name="quality_promotion_reject"),
    path("quality/promotions/<int:pk>/merge/", merge_into, name="quality_promotion_merge"),
    path("accounts/<int:pk>/promotion-request/", account_request,
         name="account_promotion_request"),
]

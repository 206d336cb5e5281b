"""Promotions to the ERP over the API (I7): the queue, a request's review, the decisions.

Who sees what (the access policy): data managers and administrators see every request and
decide; anyone else sees the requests of the accounts seen through their scope (a rep follows
what became of their ask; marketing and service, who read every account, see none of them),
the triggering document only when they may see it, the duplicates limited to records they may
see, and gets 403 on a decision. Thin: each endpoint calls one function of ``promotion``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from comptoir.access import policy
from comptoir.api.crud import ERRORS
from comptoir.api.listing import cursor_field, limit_field, paginate
from comptoir.core.errors import NotFound
from comptoir.crm.models import Account

from . import promotion
from .models import PromotionRequest

router = Router(tags=["promotions"])

StatusLit = Literal["pending", "approved", "rejected", "merged"]


class PromotionOut(Schema):
    id: int
    account_id: int
    account_name: str
    document_id: int | None
    document_number: str | None
    trigger: str
    status: str
    requested_at: datetime
    requested_by_id: int | None
    decided_by_id: int | None
    decided_at: datetime | None
    decision_note: str
    merge_id: int | None


class PromotionPage(Schema):
    items: list[PromotionOut]
    next_cursor: str | None


class GapOut(Schema):
    requirement: str
    fields: list[str]
    message: str
    details: dict[str, Any]


class ReasonOut(Schema):
    field: str
    verdict: str
    points: float
    similarity: float | None = None


class DuplicateOut(Schema):
    id: int
    score: float
    sure: bool
    reasons: list[ReasonOut]
    record: dict[str, Any]


class ReviewOut(PromotionOut):
    ready: bool
    gaps: list[GapOut]
    duplicates: list[DuplicateOut]


def _out(req: PromotionRequest) -> dict[str, Any]:
    """``req`` as read by ``promotion.promotions_visible`` (``document_visible``)."""
    shown = bool(getattr(req, "document_visible", False)) and req.document is not None
    return {"id": req.pk, "account_id": req.account_id, "account_name": req.account.legal_name,
            "document_id": req.document_id if shown else None,
            "document_number": req.document.number if shown and req.document else None,
            "trigger": req.trigger, "status": req.status, "requested_at": req.requested_at,
            "requested_by_id": req.requested_by_id, "decided_by_id": req.decided_by_id,
            "decided_at": req.decided_at, "decision_note": req.decision_note,
            "merge_id": req.merge_id}


def _review_out(req: PromotionRequest, user: Any) -> dict[str, Any]:
    review = promotion.promotion_review(req, user=user)
    return {**_out(req), "ready": review.ready,
            "gaps": [g.as_dict() for g in review.gaps],
            "duplicates": [{"id": c.id, "score": c.score, "sure": c.sure,
                            "reasons": [r.as_dict() for r in c.reasons], "record": c.record}
                           for c in review.duplicates]}


class PromotionFilters(Schema):
    status: StatusLit | None = "pending"
    account_id: int | None = None
    cursor: str | None = cursor_field()
    limit: int = limit_field()


@router.get("/promotions", response={200: PromotionPage, **ERRORS},
            operation_id="promotions_list")
def promotions_list(request: HttpRequest, filters: Query[PromotionFilters]) -> Any:
    """Requests to create a prospect as a customer in the ERP, latest first (``pending`` by
    default; ``status=`` another status). Data managers and administrators see them all,
    others those of the accounts they see."""
    promotion.promotions_catch_up()
    qs = promotion.promotions_visible(request.user, status=filters.status)
    if filters.account_id is not None:
        qs = qs.filter(account_id=filters.account_id)
    rows, cursor = paginate(qs, ordering="-requested_at", allowed=["requested_at"],
                            cursor=filters.cursor, limit=filters.limit)
    return {"items": [_out(r) for r in rows], "next_cursor": cursor}


@router.get("/promotions/{int:pk}", response={200: ReviewOut, **ERRORS},
            operation_id="promotion_detail")
def promotion_detail(request: HttpRequest, pk: int) -> Any:
    """One request with its review: what the ERP profile still lacks (``gaps``; approval waits
    for none) and the existing customers the prospect may be (``duplicates``, best first)."""
    return _review_out(promotion.promotion_get(request.user, pk), request.user)


@router.post("/promotions/{int:pk}/approve", response={200: ReviewOut, **ERRORS},
             operation_id="promotion_approve")
def promotion_approve(request: HttpRequest, pk: int) -> Any:
    """Approve (data managers, administrators): the account becomes a customer and the
    outbound connector creates it in the ERP. 422 with the gaps as field errors while the
    ERP profile is incomplete."""
    promotion.promotion_approve(request=promotion.promotion_get(request.user, pk),
                                user=request.user, source="api")
    return _review_out(promotion.promotion_get(request.user, pk), request.user)


class RejectIn(Schema):
    note: str = Field(..., description="Why the prospect is not promoted (required).")


@router.post("/promotions/{int:pk}/reject", response={200: PromotionOut, **ERRORS},
             operation_id="promotion_reject")
def promotion_reject(request: HttpRequest, pk: int, payload: RejectIn) -> Any:
    """Reject with a reason; the same document never raises a request again."""
    promotion.promotion_reject(request=promotion.promotion_get(request.user, pk),
                               user=request.user, note=payload.note)
    return _out(promotion.promotion_get(request.user, pk))


class MergeIn(Schema):
    customer_id: int


@router.post("/promotions/{int:pk}/merge", response={200: PromotionOut, **ERRORS},
             operation_id="promotion_merge")
def promotion_merge(request: HttpRequest, pk: int, payload: MergeIn) -> Any:
    """The prospect is an existing customer: merge it into ``customer_id`` (which survives)
    and close the request as merged. Undo through the merge (``merge_id``)."""
    promotion.promotion_merge(request=promotion.promotion_get(request.user, pk),
                              user=request.user, customer_id=payload.customer_id,
                              source="api")
    return _out(promotion.promotion_get(request.user, pk))


class PromotedOut(Schema):
    id: int
    status: str
    promoted: bool


@router.post("/accounts/{int:pk}/promote", response={200: PromotedOut, **ERRORS},
             tags=["accounts"], operation_id="account_promote")
def account_promote(request: HttpRequest, pk: int) -> Any:
    """Have the account created as a customer in the ERP (data managers, administrators),
    without a promotion request. Applies the whole ERP profile, like a request's approval:
    422 with every gap as a field error (``__all__`` for a probable duplicate) until it is
    met. The ERP connection picks the promotion up from the event stream; the account's
    external references show when the ERP has it."""
    account = Account.objects.filter(pk=pk).first()
    if account is None or not policy.can(request.user, "view", account):
        raise NotFound(_("No such account."))
    account = promotion.account_promote_checked(account=account, user=request.user,
                                                source="api")
    return {"id": account.pk, "status": account.status, "promoted": True}


@router.post("/accounts/{int:pk}/promotion-request",
             response={200: PromotionOut, 201: PromotionOut, **ERRORS},
             operation_id="account_promotion_request")
def account_promotion_request(request: HttpRequest, pk: int) -> Any:
    """Ask for a prospect you may change to be created as a customer in the ERP (201); when
    a request is already pending, that one is returned (200). 403 for those who only read
    the account (marketing, service)."""
    account = Account.objects.filter(pk=pk).first()
    if account is None:
        raise NotFound(_("Not found, or you cannot see it."))
    req, created = promotion.promotion_request(account=account, user=request.user)
    return Status(201 if created else 200, _out(promotion.promotion_get(request.user, req.pk)))

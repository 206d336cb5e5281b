"""``GET /accounts/{id}/overview``: the 360° view of one account in one call (R6).

The account and the first page of each related list, each list through the same policy as its
own endpoint, so a client (or the web page) needs one round trip instead of seven.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import create_model

from comptoir.access import policy
from comptoir.activities.api import activities
from comptoir.api.crud import ERRORS
from comptoir.documents.api import attachments
from comptoir.sales.api import salesdocuments
from comptoir.service.api import cases

from .api import accounts, contacts, opportunities

router = Router()

SECTIONS = {
    "contacts": (contacts, "last_name"),
    "opportunities": (opportunities, "expected_close_date"),
    "activities": (activities, "-created_at"),
    "cases": (cases, "-created_at"),
    "sales_documents": (salesdocuments, "-issue_date"),
    "attachments": (attachments, "-created_at"),
}


_fields: dict[str, Any] = {
    name: (list[res.out], []) for name, (res, _o) in SECTIONS.items()  # type: ignore[name-defined]
}
OverviewOut = create_model(  # type: ignore[call-overload]
    "AccountOverview", __base__=Schema, account=(accounts.out, ...), more=(dict[str, bool], {}),
    **_fields,
)


@router.get("/accounts/{int:pk}/overview", response={200: OverviewOut, **ERRORS},
            tags=["accounts"], operation_id="account_overview")
def account_overview(request: HttpRequest, pk: int,
                     limit: int = Query(10, ge=1, le=50,
                                        description="Items of each related list, 1 to 50.")
                     ) -> Any:
    """The account with the first ``limit`` items of each related list (most relevant first)."""
    account = accounts.get(request.user, pk)
    out: dict[str, Any] = {"account": account, "more": {}}
    for name, (res, ordering) in SECTIONS.items():
        qs = policy.restrict_under(res.queryset().filter(account_id=account.pk), request.user,
                                   account)
        field = ordering.lstrip("-")
        qs = qs.order_by(ordering, "-id" if ordering.startswith("-") else "id") \
            if not getattr(res.model._meta.get_field(field), "null", False) \
            else qs.order_by(ordering, "id")
        rows = list(qs[: limit + 1])
        out[name] = rows[:limit]
        out["more"][name] = len(rows) > limit
    return out
